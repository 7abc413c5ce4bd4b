/*
 * embed_host.c -- the benchmark's embedding host: one instance, run in
 * the main thread, from a configuration file, stopped fast by SIGTERM or
 * SIGINT. It is what bench/run-embed.sh measures against the daemon on
 * the same file, so it does nothing but what any host would do.
 *
 *   bench/embed_host PREFIX CONF_FILE
 *
 * Built against the source tree's build (objs/): `make -C bench
 * embed_host`; see bench/README.md.
 */
#define _POSIX_C_SOURCE  200809L

#include <sluice.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static sl_instance_t  *instance;

static void
on_signal(int signo)
{
    (void) signo;
    sl_instance_stop(instance, SL_STOP_FAST);
}

int
main(int argc, char **argv)
{
    sl_instance_conf_t  conf;
    struct sigaction    sa;
    char                err[512];

    if (argc != 3) {
        fprintf(stderr, "usage: embed_host PREFIX CONF_FILE\n");
        return 2;
    }

    memset(&conf, 0, sizeof(conf));
    conf.size = sizeof(conf);
    conf.prefix = argv[1];
    conf.conf_file = argv[2];

    if (sl_instance_create(&conf, &instance, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "embed_host: %s\n", err);
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    sl_instance_run(instance);
    return sl_instance_destroy(instance) == SL_OK ? 0 : 1;
}
