/*
 * sl_t_storm.c -- the hostile suites' steady clients, raw connections,
 * misbehaving upstream and /proc polls (see sl_t_storm.h). The children
 * it forks call nothing of sl_proc: they report through shared memory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_storm.h"
#include "sl_t_hostile.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SL_TS_PROCS   16
#define SL_TS_IO      10000     /* ms one steady connection may take */
#define SL_TU_MAX     4096      /* connections an upstream holds */

typedef struct {
    volatile int   stop;
    volatile long  ok;
    volatile long  failed;
    volatile long  ms_sum;
    volatile long  ms_max;
    volatile long  hs_sum;
    volatile long  hs_max;
    volatile int   have_error;
    char           error[256];
} sl_t_steady_shm_t;

struct sl_t_steady_s {
    sl_t_steady_shm_t  *shm;
    sl_t_proc_t        *proc[SL_TS_PROCS];
    int                 procs;
    int                 port;
    int                 mode;
    long                per_us;     /* each child's interval */
    long long           started;
};

static sl_t_steady_t  *sl_ts_cur;   /* the child's, set before fork */


/* --- raw connections ----------------------------------------------------- */

int
sl_t_nb_connect(int port)
{
    return sl_t_nb_connect_to("127.0.0.1", port);
}

int
sl_t_nb_connect_to(const char *ip, int port)
{
    struct sockaddr_in  sin;
    int                 fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
        close(fd);
        errno = EINVAL;
        return -1;
    }

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1
        && errno != EINPROGRESS)
    {
        int  err = errno;

        close(fd);
        errno = err;
        return -1;
    }

    return fd;
}

int
sl_t_nb_connected(int fd, int ms)
{
    struct pollfd  pfd = { fd, POLLOUT, 0 };
    socklen_t      len = sizeof(int);
    int            err = 0;

    if (poll(&pfd, 1, ms) != 1) {
        errno = ETIMEDOUT;
        return -1;
    }

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
        errno = err ? err : errno;
        return -1;
    }

    return 0;
}

void
sl_t_rst_close(int fd)
{
    struct linger  l = { 1, 0 };

    (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

size_t
sl_t_client_hello(unsigned char *buf, size_t size)
{
    sl_tt_peer_t  p;
    ssize_t       n;
    int           sv[2], want;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_ne(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
    ck_assert_int_eq(sl_tt_peer_init(&p, sv[0], 0, NULL), 0);
    ck_assert_int_eq(sl_tt_peer_step(&p, &want), 0);

    n = recv(sv[1], buf, size, 0);
    ck_assert_int_gt(n, 40);
    ck_assert_int_eq(buf[0], 0x16);     /* a handshake record */

    sl_tt_peer_free(&p);
    close(sv[0]);
    close(sv[1]);
    return (size_t) n;
}


/* --- steady clients: the child ------------------------------------------- */

static void
sl_ts_fail(sl_t_steady_shm_t *shm, const char *what, int err)
{
    __atomic_add_fetch(&shm->failed, 1, __ATOMIC_RELAXED);

    if (__atomic_exchange_n(&shm->have_error, 1, __ATOMIC_ACQ_REL) == 0) {
        snprintf(shm->error, sizeof(shm->error), "%s (%s)", what,
                 err ? strerror(err) : "no error");
    }
}

static void
sl_ts_max(volatile long *max, long v)
{
    long  cur = __atomic_load_n(max, __ATOMIC_RELAXED);

    while (v > cur
           && !__atomic_compare_exchange_n(max, &cur, v, 0, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
    {
        /* cur was reloaded */
    }
}

/* recv of exactly len within SL_TS_IO: 0, or -1 */
static int
sl_ts_recv(int fd, char *buf, size_t len)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    size_t         got = 0;
    ssize_t        n;

    while (got < len) {
        if (poll(&pfd, 1, SL_TS_IO) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }

        n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) {
            errno = n == 0 ? EPIPE : errno;
            return -1;
        }

        got += (size_t) n;
    }

    return 0;
}

static int
sl_ts_send(int fd, const char *buf, size_t len)
{
    struct pollfd  pfd = { fd, POLLOUT, 0 };
    size_t         sent = 0;
    ssize_t        n;

    while (sent < len) {
        if (poll(&pfd, 1, SL_TS_IO) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }

        n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            return -1;
        }

        sent += (size_t) n;
    }

    return 0;
}

/* one TLS exchange on a connected fd; 0 or -1 */
static int
sl_ts_tls(sl_t_steady_shm_t *shm, int fd, const char *msg, size_t len)
{
    sl_tt_peer_t  p;
    char          buf[64];
    long long     t0 = sl_t_msec();
    long          ms;
    int           rc = -1;

    if (sl_tt_peer_init(&p, fd, 0, NULL) != 0) {
        sl_ts_fail(shm, "SSL_new", 0);
        return -1;
    }

    if (!sl_tt_handshake(&p, SL_TS_IO)) {
        sl_ts_fail(shm, "TLS handshake", errno);
        goto done;
    }

    ms = (long) (sl_t_msec() - t0);
    __atomic_add_fetch(&shm->hs_sum, ms, __ATOMIC_RELAXED);
    sl_ts_max(&shm->hs_max, ms);

    if (!sl_tt_write(&p, msg, len, SL_TS_IO)
        || !sl_tt_read_full(&p, buf, len, SL_TS_IO))
    {
        sl_ts_fail(shm, "TLS echo", errno);
        goto done;
    }

    if (memcmp(buf, msg, len) != 0) {
        sl_ts_fail(shm, "TLS echo differs", 0);
        goto done;
    }

    rc = 0;

done:
    sl_tt_peer_free(&p);
    return rc;
}

/* one connection of a steady client */
static void
sl_ts_one(sl_t_steady_t *st, long seq)
{
    sl_t_steady_shm_t  *shm = st->shm;
    char                msg[64], hdr[64], buf[64];
    long long           t0 = sl_t_msec();
    size_t              len;
    long                ms;
    int                 fd, hl;

    len = (size_t) snprintf(msg, sizeof(msg), "ping %d %ld\n",
                            (int) getpid(), seq);

    fd = sl_t_nb_connect(st->port);
    if (fd == -1 || sl_t_nb_connected(fd, SL_TS_IO) != 0) {
        sl_ts_fail(shm, "connect", errno);
        if (fd != -1) {
            close(fd);
        }
        return;
    }

    if (st->mode == SL_TS_PROXY) {
        hl = snprintf(hdr, sizeof(hdr),
                      "PROXY TCP4 192.0.2.1 127.0.0.1 %ld %d\r\n",
                      1024 + seq % 60000, st->port);
        if (sl_ts_send(fd, hdr, (size_t) hl) != 0) {
            sl_ts_fail(shm, "send PROXY header", errno);
            close(fd);
            return;
        }
    }

    if (st->mode == SL_TS_TLS) {
        if (sl_ts_tls(shm, fd, msg, len) != 0) {
            close(fd);
            return;
        }

    } else if (sl_ts_send(fd, msg, len) != 0) {
        sl_ts_fail(shm, "send", errno);
        close(fd);
        return;

    } else if (sl_ts_recv(fd, buf, len) != 0 || memcmp(buf, msg, len) != 0) {
        sl_ts_fail(shm, "echo", errno);
        close(fd);
        return;
    }

    close(fd);

    ms = (long) (sl_t_msec() - t0);
    __atomic_add_fetch(&shm->ms_sum, ms, __ATOMIC_RELAXED);
    sl_ts_max(&shm->ms_max, ms);
    __atomic_add_fetch(&shm->ok, 1, __ATOMIC_RELEASE);
}

static void
sl_ts_child(void *data)
{
    sl_t_steady_t    *st = sl_ts_cur;
    struct timespec   ts;
    long long         start = sl_t_msec() * 1000, next, now;
    long              seq;

    (void) data;
    (void) signal(SIGPIPE, SIG_IGN);

    for (seq = 0; !st->shm->stop; seq++) {
        sl_ts_one(st, seq);

        /* pacing, not synchronisation: the next connection's moment */
        next = start + (seq + 1) * st->per_us;
        now = sl_t_msec() * 1000;
        if (next > now) {
            ts.tv_sec = (time_t) ((next - now) / 1000000);
            ts.tv_nsec = (long) ((next - now) % 1000000) * 1000;
            (void) nanosleep(&ts, NULL);
        }
    }
}


/* --- steady clients: the test's side ------------------------------------- */

sl_t_steady_t *
sl_t_steady_start(int port, sl_t_steady_mode_e mode, int rate, int procs)
{
    sl_t_steady_t  *st;
    int             i;

    if (procs > SL_TS_PROCS) {
        procs = SL_TS_PROCS;
    }

    st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(st, MAP_FAILED);
    st->shm = mmap(NULL, sizeof(sl_t_steady_shm_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(st->shm, MAP_FAILED);
    memset(st->shm, 0, sizeof(sl_t_steady_shm_t));

    st->port = port;
    st->mode = mode;
    st->procs = procs;
    st->per_us = 1000000L * procs / (rate > 0 ? rate : 1);
    st->started = sl_t_msec();
    sl_ts_cur = st;

    for (i = 0; i < procs; i++) {
        st->proc[i] = sl_t_fork(sl_ts_child, NULL);
    }

    return st;
}

typedef struct {
    sl_t_steady_t  *st;
    long            want;
} sl_ts_wait_t;

static int
sl_ts_enough(void *data)
{
    sl_ts_wait_t  *w = data;

    return __atomic_load_n(&w->st->shm->ok, __ATOMIC_ACQUIRE) >= w->want;
}

int
sl_t_steady_wait(sl_t_steady_t *st, long n, int ms)
{
    sl_ts_wait_t  w = { st, st->shm->ok + n };

    return sl_t_wait_for(sl_ts_enough, &w, NULL, sl_t_timeout(ms));
}

void
sl_t_steady_stop(sl_t_steady_t *st, sl_t_steady_counts_t *out)
{
    sl_t_steady_shm_t  *shm = st->shm;
    int                 i, status;

    shm->stop = 1;

    for (i = 0; i < st->procs; i++) {
        status = sl_t_wait_exit(st->proc[i], 3 * SL_TS_IO);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "a steady client %s", sl_t_status_text(status));
    }

    memset(out, 0, sizeof(*out));
    out->ok = shm->ok;
    out->failed = shm->failed;
    out->ms_max = shm->ms_max;
    out->ms_avg = shm->ok ? (double) shm->ms_sum / (double) shm->ok : 0;
    out->hs_max = shm->hs_max;
    out->hs_avg = shm->ok ? (double) shm->hs_sum / (double) shm->ok : 0;
    out->seconds = (double) (sl_t_msec() - st->started) / 1000.0;
    snprintf(out->error, sizeof(out->error), "%s",
             shm->have_error ? shm->error : "none");
}


/* --- an upstream that misbehaves ----------------------------------------- */

typedef struct {
    sl_t_upstream_t       *u;
    sl_t_upstream_mode_e   mode;
    int                    lfd;
} sl_tu_arg_t;

static sl_tu_arg_t  sl_tu_cur;

static void
sl_tu_child(void *data)
{
    static struct pollfd  pfd[SL_TU_MAX + 1];
    sl_tu_arg_t          *a = &sl_tu_cur;
    char                  buf[4096];
    int                   n = 1, i, fd;

    (void) data;
    (void) signal(SIGPIPE, SIG_IGN);
    pfd[0].fd = a->lfd;
    pfd[0].events = POLLIN;

    for ( ;; ) {
        if (poll(pfd, (nfds_t) n, -1) <= 0) {
            continue;
        }

        for (i = n - 1; i >= 1; i--) {
            if (pfd[i].revents == 0) {
                continue;
            }
            /* SL_TU_RESET_READ: a byte (or the end) came */
            (void) recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
            sl_t_rst_close(pfd[i].fd);
            pfd[i] = pfd[--n];
        }

        if (!(pfd[0].revents & POLLIN)) {
            continue;
        }

        while ((fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
            __atomic_add_fetch(a->u->accepts, 1, __ATOMIC_RELEASE);

            if (a->mode == SL_TU_RESET || n > SL_TU_MAX) {
                sl_t_rst_close(fd);
            } else {
                pfd[n].fd = fd;
                pfd[n].events = a->mode == SL_TU_HOLD ? 0 : POLLIN;
                pfd[n++].revents = 0;
            }
        }
    }
}

void
sl_t_upstream_start(sl_t_upstream_t *u, sl_t_upstream_mode_e mode)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 4096), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);

    u->port = ntohs(sin.sin_port);
    u->accepts = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne((void *) u->accepts, MAP_FAILED);
    *u->accepts = 0;

    sl_tu_cur.u = u;
    sl_tu_cur.mode = mode;
    sl_tu_cur.lfd = fd;
    u->proc = sl_t_fork(sl_tu_child, NULL);
    close(fd);
}


/* --- /proc --------------------------------------------------------------- */

typedef struct {
    pid_t  pid;
    long   limit;
    long   last;
    int    rss;
} sl_tp_wait_t;

static int
sl_tp_below(void *data)
{
    sl_tp_wait_t  *w = data;

    w->last = w->rss ? sl_t_rss_kb(w->pid) : sl_t_fd_count(w->pid);
    return w->last >= 0 && w->last <= w->limit;
}

static long
sl_tp_await(pid_t pid, long limit, int rss, int ms, long *last)
{
    sl_tp_wait_t  w = { pid, limit, -1, rss };
    long long     t0 = sl_t_msec();
    int           rc;

    /* no path: sl_t_wait_for polls every few milliseconds */
    rc = sl_t_wait_for(sl_tp_below, &w, NULL, sl_t_timeout(ms));
    *last = w.last;
    return rc == 0 ? (long) (sl_t_msec() - t0) : -1;
}

long
sl_t_await_fds(pid_t pid, int fds, int ms, int *last)
{
    long  l, rc;

    rc = sl_tp_await(pid, fds, 0, ms, &l);
    *last = (int) l;
    return rc;
}

long
sl_t_await_rss(pid_t pid, long kb, int ms, long *last)
{
    return sl_tp_await(pid, kb, 1, ms, last);
}

static int
sl_tp_has_loop(void *data)
{
    char            path[320], link[64];
    struct dirent  *de;
    DIR            *dir;
    ssize_t         n;
    int             yes = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int) *(pid_t *) data);
    dir = opendir(path);
    while (dir != NULL && !yes && (de = readdir(dir)) != NULL) {
        snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int) *(pid_t *) data,
                 de->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        yes = n > 0 && (link[n] = '\0', strstr(link, "eventpoll") != NULL);
    }

    if (dir != NULL) {
        closedir(dir);
    }

    return yes;
}

int
sl_t_await_loop(pid_t pid, int ms)
{
    return sl_t_wait_for(sl_tp_has_loop, &pid, NULL, sl_t_timeout(ms));
}

int
sl_t_storm_n(int small, int full, int valgrind_div)
{
    int  n = sl_t_hostile_n(small, full);

    if (sl_t_hostile_valgrind() && valgrind_div > 1) {
        n /= valgrind_div;
    }

    return n > 0 ? n : 1;
}
