/*
 * proxy.c -- a TCP proxy embedded in a program: one listener in front of
 * an upstream{} group of two servers, shared by round robin (the
 * default balancing), all of it from a configuration string.
 *
 * It shows that a host gets sluice's proxy (upstreams, balancing,
 * timeouts, failover) with nothing but a configuration: no callback.
 *
 *     cc -std=c11 proxy.c $(pkg-config --cflags --libs sluice) -o proxy
 *     ./proxy 127.0.0.1:7100 127.0.0.1:7101 127.0.0.1:7102
 *
 * It prints "ready" once it listens, and exits 0 after SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L

#include <sluice.h>

#include <signal.h>
#include <stdio.h>

static sl_instance_t *volatile  instance;

static void
on_signal(int signo)
{
    (void) signo;
    sl_instance_stop(instance, SL_STOP_GRACEFUL);
}

int
main(int argc, char **argv)
{
    char                 config[1024], err[256];
    sl_instance_conf_t   conf = { .size = sizeof(conf) };
    struct sigaction     sa = { .sa_handler = on_signal };
    sl_instance_t       *in;
    int                  rc;

    if (argc != 4) {
        fprintf(stderr, "usage: proxy LISTEN BACKEND1 BACKEND2\n");
        return 2;
    }

    snprintf(config, sizeof(config),
             "error_log stderr notice;\n"
             "stream {\n"
             "    upstream backends {\n"
             "        server %s max_fails=1 fail_timeout=10s;\n"
             "        server %s max_fails=1 fail_timeout=10s;\n"
             "    }\n"
             "    server {\n"
             "        listen %s;\n"
             "        proxy_pass backends;\n"
             "        proxy_connect_timeout 5s;\n"
             "        proxy_timeout 1m;\n"
             "    }\n"
             "}\n", argv[2], argv[3], argv[1]);
    conf.conf_string = config;

    if (sl_instance_create(&conf, &in, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "proxy: %s\n", err);
        return 1;
    }

    instance = in;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("ready\n");
    fflush(stdout);

    rc = sl_instance_run(in);       /* until a signal stops it */
    sl_instance_destroy(in);
    return rc == SL_DONE ? 0 : 1;
}
