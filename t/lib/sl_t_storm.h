/*
 * sl_t_storm.h -- the clients and servers of the hostile suites
 * (t/hostile): well-behaved clients that keep opening connections at a
 * steady rate in child processes and count what failed; raw non-blocking
 * connects and resets (SO_LINGER 0); the bytes of a real ClientHello; an
 * upstream that resets or holds what it accepts and counts its accepts;
 * and bounded polls of /proc for a process's descriptors and memory.
 *
 * It builds on sl_proc.h (install sl_t_fixture() in the TCase): the child
 * processes are sl_t_fork()'s, killed by the test's cleanup if a test
 * fails before it stops them. It never sleeps to synchronise: the steady
 * clients pace themselves (that is their job), and every wait is a
 * bounded poll of an event (a descriptor, a /proc figure).
 */
#ifndef SL_T_STORM_H
#define SL_T_STORM_H

#include <stddef.h>
#include <sys/types.h>

#include "sl_proc.h"


/* --- steady clients ------------------------------------------------------ */

typedef enum {
    SL_TS_PLAIN = 0,    /* connect, "ping", read the echo, close */
    SL_TS_TLS,          /* the same over TLS (no certificate check) */
    SL_TS_PROXY         /* a PROXY v1 header first, then as PLAIN */
} sl_t_steady_mode_e;

typedef struct {
    long       ok;          /* connections that did their exchange */
    long       failed;      /* anything else */
    long       ms_max;      /* the longest connection, ms */
    double     ms_avg;
    long       hs_max;      /* SL_TS_TLS: the longest handshake, ms */
    double     hs_avg;
    double     seconds;     /* how long they ran */
    char       error[256];  /* the first failure, described */
} sl_t_steady_counts_t;

typedef struct sl_t_steady_s  sl_t_steady_t;

/*
 * procs child processes that together open rate connections a second to
 * 127.0.0.1:port, each an echo exchange of its own, until stopped.
 */
sl_t_steady_t *sl_t_steady_start(int port, sl_t_steady_mode_e mode,
    int rate, int procs);
/* until n more connections succeeded than now, at most ms: 0 or -1 */
int sl_t_steady_wait(sl_t_steady_t *st, long n, int ms);
/* stops them (each ends its current connection) and sums up */
void sl_t_steady_stop(sl_t_steady_t *st, sl_t_steady_counts_t *out);


/* --- raw connections ----------------------------------------------------- */

/* a non-blocking socket connecting to 127.0.0.1:port, or -1 (errno) */
int sl_t_nb_connect(int port);
/* the same to ip (a loopback address: 127.0.0.2 is another one) */
int sl_t_nb_connect_to(const char *ip, int port);
/* waits until a non-blocking connect is through: 0, or -1 */
int sl_t_nb_connected(int fd, int ms);
/* closes fd with a reset (SO_LINGER 0) */
void sl_t_rst_close(int fd);
/* the bytes a TLS client sends first (a whole ClientHello) */
size_t sl_t_client_hello(unsigned char *buf, size_t size);


/* --- an upstream that misbehaves ----------------------------------------- */

typedef enum {
    SL_TU_RESET = 0,    /* accepts and resets at once */
    SL_TU_RESET_READ,   /* accepts, resets once a byte came */
    SL_TU_HOLD          /* accepts, never reads, never closes */
} sl_t_upstream_mode_e;

typedef struct {
    int            port;
    volatile long *accepts;     /* connections accepted so far (shared) */
    sl_t_proc_t   *proc;
} sl_t_upstream_t;

void sl_t_upstream_start(sl_t_upstream_t *u, sl_t_upstream_mode_e mode);


/* --- /proc --------------------------------------------------------------- */

/*
 * Polls /proc until pid has at most fds descriptors, at most ms: the ms
 * it took, or -1 at the timeout (the count is then in *last).
 */
long sl_t_await_fds(pid_t pid, int fds, int ms, int *last);
/* the same for its resident memory, at most kb */
long sl_t_await_rss(pid_t pid, long kb, int ms, long *last);

/*
 * Until pid has its event loop (an epoll descriptor): sluice logs
 * "started" before it makes one, so a count of its descriptors taken
 * at that line may come one short of its idle count. 0, or -1.
 */
int sl_t_await_loop(pid_t pid, int ms);

/* n, scaled down under valgrind (sl_t_hostile_valgrind()) by div */
int sl_t_storm_n(int small, int full, int valgrind_div);

#endif /* SL_T_STORM_H */
