/*
 * echo.c -- the smallest host: an echo server embedded in a program.
 *
 * It shows the three calls every host makes (sl_instance_create() from a
 * configuration string, sl_instance_run(), sl_instance_destroy()) and a
 * graceful stop from a signal handler, which sl_instance_stop() allows.
 *
 *     cc -std=c11 echo.c $(pkg-config --cflags --libs sluice) -o echo
 *     ./echo 127.0.0.1:7000          (then: socat - TCP:127.0.0.1:7000)
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
    const char          *addr = argc > 1 ? argv[1] : "127.0.0.1:7000";
    char                 config[256], err[256];
    sl_instance_conf_t   conf = { .size = sizeof(conf) };
    struct sigaction     sa = { .sa_handler = on_signal };
    sl_instance_t       *in;
    int                  rc;

    /* notices too: without error_log, only errors reach stderr */
    snprintf(config, sizeof(config), "error_log stderr notice;\n"
             "stream { server { listen %s; echo; } }\n", addr);
    conf.conf_string = config;

    if (sl_instance_create(&conf, &in, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "echo: %s\n", err);
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
