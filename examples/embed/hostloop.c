/*
 * hostloop.c -- the host keeps its own event loop and sluice lives
 * inside it: an echo server driven by an epoll loop that also serves the
 * host's own descriptors (Linux: epoll, signalfd, timerfd).
 *
 * It shows sl_instance_fd() (one descriptor that stands for all of the
 * instance's work), sl_instance_timeout() (how long the host may sleep)
 * and sl_instance_run_once(in, 0) (do what is due, never block), and a
 * stop decided by the host: SIGINT or SIGTERM arrive through a signalfd,
 * the host calls sl_instance_stop() and goes on turning the loop until
 * run_once says SL_DONE. The first signal stops gracefully (the sessions
 * in progress may end as they will), a second one closes them at once.
 *
 *     cc -std=c11 hostloop.c $(pkg-config --cflags --libs sluice) -o hostloop
 *     ./hostloop 127.0.0.1:7300
 *
 * It prints "ready" once it listens, "stopping" when told to stop, and
 * exits 0 once the instance is done and destroyed.
 */
#define _POSIX_C_SOURCE 200809L

#include <sluice.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

/* the host's own descriptors: SIGINT and SIGTERM, and a 1 s tick */
static int
host_fds(int *sig, int *tick)
{
    struct itimerspec  every_second = { { 1, 0 }, { 1, 0 } };
    sigset_t           set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }

    *sig = signalfd(-1, &set, SFD_CLOEXEC);
    *tick = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (*sig == -1 || *tick == -1) {
        return -1;
    }

    return timerfd_settime(*tick, 0, &every_second, NULL);
}

static int
watch(int ep, int fd)
{
    struct epoll_event  ev = { .events = EPOLLIN, .data.fd = fd };

    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * The loop: sleep until one of the descriptors is readable or the
 * instance's next timer is due, then act. Returns when the instance is
 * done; ticks counts the host's own timer.
 */
static int
host_loop(sl_instance_t *in, int ep, int sig, int tick, unsigned long *ticks)
{
    struct epoll_event        ev[4];
    struct signalfd_siginfo   si;
    uint64_t                  expirations;
    int                       i, n, rc, due, stops = 0;

    for ( ;; ) {
        n = epoll_wait(ep, ev, 4, sl_instance_timeout(in));
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }

        due = (n == 0);             /* the timeout passed */

        for (i = 0; i < n; i++) {
            if (ev[i].data.fd == sig && read(sig, &si, sizeof(si)) > 0) {
                /* the first signal lets sessions end, a second ends them */
                printf("stopping on signal %u\n", si.ssi_signo);
                fflush(stdout);
                sl_instance_stop(in, stops++ ? SL_STOP_FAST
                                             : SL_STOP_GRACEFUL);
                due = 1;

            } else if (ev[i].data.fd == tick
                       && read(tick, &expirations, sizeof(expirations)) > 0)
            {
                *ticks += expirations;

            } else if (ev[i].data.fd == sl_instance_fd(in)) {
                due = 1;
            }
        }

        if (due) {
            rc = sl_instance_run_once(in, 0);   /* never blocks */
            if (rc != SL_OK) {
                return rc == SL_DONE ? 0 : -1;
            }
        }
    }
}

int
main(int argc, char **argv)
{
    const char          *addr = argc > 1 ? argv[1] : "127.0.0.1:7300";
    char                 config[256], err[256];
    sl_instance_conf_t   conf = { .size = sizeof(conf) };
    sl_instance_t       *in;
    unsigned long        ticks = 0;
    int                  ep, sig, tick, rc;

    snprintf(config, sizeof(config), "error_log stderr notice;\n"
             "stream { server { listen %s; echo; } }\n", addr);
    conf.conf_string = config;

    if (sl_instance_create(&conf, &in, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "hostloop: %s\n", err);
        return 1;
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1 || host_fds(&sig, &tick) != 0
        || watch(ep, sl_instance_fd(in)) != 0 || watch(ep, sig) != 0
        || watch(ep, tick) != 0)
    {
        perror("hostloop");
        sl_instance_destroy(in);
        return 1;
    }

    printf("ready\n");
    fflush(stdout);

    rc = host_loop(in, ep, sig, tick, &ticks);

    printf("done after %lu ticks\n", ticks);
    close(ep);
    close(sig);
    close(tick);
    sl_instance_destroy(in);
    return rc == 0 ? 0 : 1;
}
