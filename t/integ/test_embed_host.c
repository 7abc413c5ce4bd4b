/*
 * test_embed_host.c -- libsluice inside a host that is not sluice: the
 * process state it must leave alone (signal dispositions and mask, umask,
 * cwd, rlimits, environment, process title) while instances of every kind
 * run in a thread and in the calling thread, a host that keeps SIGPIPE at
 * its default through clients that reset a plain, a TLS and a spliced
 * session while sluice writes to them; host handlers held to what
 * sl_stream_handler_t promises (input offered, waited for, refused;
 * statuses, lengths, writes after close, backpressure, eof, shutdown,
 * close once, variables, data pointers, a hand-over to the proxy, TLS,
 * writes from a posted function, calls from a thread that is not the
 * loop's, sessions cut by a fast stop or by destroy); and in-process
 * reload under traffic, with errors, after a stop, from the loop thread
 * and before the first run.
 *
 * The instance API itself (lifecycle, stops, posts, bad input) is
 * test_embed_api.c's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"
#include "sl_t_embed.h"

#include "sluice.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define T_IO        20000       /* ms for one exchange */
#define T_WAIT      20000       /* ms for the loop to act on something */
#define FULL_MS     100         /* a socket that takes nothing this long is
                                   taken to be full (no assertion hangs on
                                   it: only how far a client gets) */

static char  why[1024];

/* the session ends with a FIN or a reset, and nothing came before it */
static void
ends_without_data(int fd)
{
    int  end = sl_te_recv_end(fd, sl_te_deadline(T_WAIT));

    ck_assert_msg(end == 0 || end == ECONNRESET, "the session did not end: "
                  "%s", end == -1 ? "data came" : strerror(end));
    (void) close(fd);
}

static int
connect_ok(int port, int bufsize)
{
    int  fd = sl_te_connect(port, bufsize);

    ck_assert_msg(fd >= 0, "connect to %d: %s", port, strerror(-fd));
    return fd;
}

static void
send_ok(int fd, const void *p, size_t len)
{
    ck_assert_int_eq(sl_te_send(fd, p, len, sl_te_deadline(T_IO)), 0);
}

static void
recv_text(int fd, const char *expect)
{
    char    buf[512];
    size_t  len = strlen(expect), n;
    int     err;

    ck_assert_uint_lt(len, sizeof(buf));
    n = sl_te_recv(fd, buf, len, sl_te_deadline(T_IO), &err);
    buf[n] = '\0';
    ck_assert_msg(n == len, "got \"%s\" (%s), not \"%s\"", buf,
                  strerror(err), expect);
    ck_assert_str_eq(buf, expect);
}

/* --- the process state --------------------------------------------------- */

typedef struct {
    int               sig_rc[NSIG];
    struct sigaction  act[NSIG];
    sigset_t          mask;
    mode_t            umask;
    char              cwd[PATH_MAX];
    struct rlimit     rl[RLIM_NLIMITS];
    char            **env;             /* environ itself */
    char             *env_text;        /* every entry, '\n'-joined */
    char             *comm;
    char             *cmdline;
    size_t            cmdline_len;
} pstate_t;

static char *
read_proc(const char *path, size_t *len)
{
    char     *buf = calloc(1, 65536);
    ssize_t   n;
    int       fd;

    ck_assert_ptr_nonnull(buf);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    n = read(fd, buf, 65535);
    (void) close(fd);
    ck_assert_int_ge(n, 0);
    *len = (size_t) n;
    return buf;
}

static char *
env_join(void)
{
    size_t   len = 1, i;
    char    *s;

    for (i = 0; environ[i] != NULL; i++) {
        len += strlen(environ[i]) + 1;
    }

    s = calloc(1, len);
    ck_assert_ptr_nonnull(s);
    for (i = 0; environ[i] != NULL; i++) {
        strcat(s, environ[i]);
        strcat(s, "\n");
    }

    return s;
}

static void
pstate_record(pstate_t *s)
{
    size_t  len;
    int     i;

    memset(s, 0, sizeof(*s));

    for (i = 1; i < NSIG; i++) {
        s->sig_rc[i] = sigaction(i, NULL, &s->act[i]);
    }

    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &s->mask), 0);
    s->umask = umask(0);
    (void) umask(s->umask);
    ck_assert_ptr_nonnull(getcwd(s->cwd, sizeof(s->cwd)));

    for (i = 0; i < RLIM_NLIMITS; i++) {
        ck_assert_int_eq(getrlimit((__rlimit_resource_t) i, &s->rl[i]), 0);
    }

    s->env = environ;
    s->env_text = env_join();
    s->comm = read_proc("/proc/self/comm", &len);
    s->cmdline = read_proc("/proc/self/cmdline", &s->cmdline_len);
}

static void
pstate_free(pstate_t *s)
{
    free(s->env_text);
    free(s->comm);
    free(s->cmdline);
}

static void
sigsets_equal(const sigset_t *a, const sigset_t *b, const char *what)
{
    int  i;

    for (i = 1; i < NSIG; i++) {
        ck_assert_msg(sigismember(a, i) == sigismember(b, i),
                      "%s: signal %d (%s) %s", what, i, strsignal(i),
                      sigismember(a, i) ? "no longer in it" : "added");
    }
}

static void
pstate_compare(const pstate_t *a, const pstate_t *b)
{
    int  i;

    for (i = 1; i < NSIG; i++) {
        ck_assert_int_eq(a->sig_rc[i], b->sig_rc[i]);
        if (a->sig_rc[i] != 0) {
            continue;
        }
        ck_assert_msg(a->act[i].sa_handler == b->act[i].sa_handler
                      && a->act[i].sa_flags == b->act[i].sa_flags,
                      "the disposition of signal %d (%s) changed", i,
                      strsignal(i));
        sigsets_equal(&a->act[i].sa_mask, &b->act[i].sa_mask,
                      strsignal(i));
    }

    sigsets_equal(&a->mask, &b->mask, "the signal mask");
    ck_assert_uint_eq(a->umask, b->umask);
    ck_assert_str_eq(a->cwd, b->cwd);

    for (i = 0; i < RLIM_NLIMITS; i++) {
        ck_assert_msg(a->rl[i].rlim_cur == b->rl[i].rlim_cur
                      && a->rl[i].rlim_max == b->rl[i].rlim_max,
                      "rlimit %d changed", i);
    }

    ck_assert_ptr_eq(a->env, b->env);
    ck_assert_str_eq(a->env_text, b->env_text);
    ck_assert_str_eq(a->comm, b->comm);
    ck_assert_uint_eq(a->cmdline_len, b->cmdline_len);
    ck_assert(memcmp(a->cmdline, b->cmdline, a->cmdline_len) == 0);
}

/* --- a host with habits of its own --------------------------------------- */

typedef struct {
    struct sigaction  pipe, usr2;
    sigset_t          mask;
    mode_t            umask;
} hostile_t;

static void
on_usr2(int signo)
{
    (void) signo;
}

/*
 * SIGPIPE at its default and not blocked, a handler of its own with a
 * mask, a blocked signal, a strict umask, a variable of its own.
 */
static void
hostile_begin(hostile_t *h)
{
    struct sigaction  sa;
    sigset_t          set;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGPIPE, &sa, &h->pipe), 0);

    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigaddset(&sa.sa_mask, SIGINT);
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, &h->usr2), 0);

    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, &h->mask), 0);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);

    h->umask = umask(027);
    ck_assert_int_eq(setenv("SL_TEST_HOST", "hostile", 1), 0);
}

static void
hostile_end(hostile_t *h)
{
    (void) sigaction(SIGPIPE, &h->pipe, NULL);
    (void) sigaction(SIGUSR2, &h->usr2, NULL);
    (void) pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
    (void) umask(h->umask);
    (void) unsetenv("SL_TEST_HOST");
}

/* --- clients that reset -------------------------------------------------- */

/* the TCP state of our side (TCP_FIN_WAIT2: our FIN was acknowledged) */
static int
tcp_state(int fd)
{
    struct tcp_info  ti;
    socklen_t        len = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
        return -1;
    }
    return ti.tcpi_state;
}

/* our FIN reached the other kernel (it is in CLOSE_WAIT): 0, or -1 */
static int
wait_fin_acked(int fd, int ms)
{
    static const struct timespec  tick = { 0, 1000000 };
    long long                     deadline = sl_te_deadline(ms);

    while (tcp_state(fd) != TCP_FIN_WAIT2) {
        if (sl_t_msec() >= deadline) {
            return -1;
        }
        (void) nanosleep(&tick, NULL);
    }

    return 0;
}

/* sends until the socket takes no more for a while, at most len */
static int
send_until_full(int fd, size_t len)
{
    unsigned char  buf[16384];
    size_t         sent = 0, k;
    ssize_t        n;
    struct pollfd  pfd = { fd, POLLOUT, 0 };

    while (sent < len && poll(&pfd, 1, sl_t_timeout(FULL_MS)) == 1) {
        k = len - sent < sizeof(buf) ? len - sent : sizeof(buf);
        sl_te_fill(buf, 11, sent, k);
        n = send(fd, buf, k, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1 && errno != EAGAIN) {
            return -errno;
        }
        sent += n > 0 ? (size_t) n : 0;
    }

    return sent > 0 ? 0 : -ETIMEDOUT;
}

/*
 * sluice writes to us while we reset: we send and do not read, so its
 * output to us backs up. Without fin we send until it takes no more;
 * with fin, len (which its buffers hold) and our FIN, so that its socket
 * is in CLOSE_WAIT, where its next write after our reset fails with EPIPE
 * rather than ECONNRESET.
 */
static int
reset_while_written(int port, size_t len, int fin, char *whybuf,
    size_t whylen)
{
    unsigned char  *buf;
    int             fd, rc;

    fd = sl_te_connect(port, 16384);
    if (fd < 0) {
        snprintf(whybuf, whylen, "reset: connect: %s", strerror(-fd));
        return -1;
    }

    if (!fin) {
        rc = send_until_full(fd, len);

    } else {
        buf = malloc(len);
        rc = buf != NULL ? 0 : -ENOMEM;
        if (rc == 0) {
            sl_te_fill(buf, 11, 0, len);
            rc = sl_te_send(fd, buf, len, sl_te_deadline(T_IO));
            free(buf);
        }

        if (rc == 0) {
            (void) shutdown(fd, SHUT_WR);
            rc = wait_fin_acked(fd, T_IO) == 0 ? 0 : -ETIMEDOUT;
        }
    }

    sl_te_reset(fd);

    if (rc != 0) {
        snprintf(whybuf, whylen, "reset: the bytes did not go: %s",
                 strerror(-rc));
        return -1;
    }

    return 0;
}

/*
 * Towards a spliced proxy: total bytes to go, sent while their echo is
 * read and checked, and a reset once half went: the relay is moving
 * bytes both ways, towards us too, when it comes.
 */
static int
reset_upload(int port, size_t total, char *whybuf, size_t whylen)
{
    static unsigned char  buf[65536];
    size_t                sent = 0, got = 0, k;
    struct pollfd         pfd;
    ssize_t               n;
    int                   fd;

    fd = sl_te_connect(port, 16384);
    if (fd < 0) {
        snprintf(whybuf, whylen, "upload: connect: %s", strerror(-fd));
        return -1;
    }

    pfd.fd = fd;

    while (sent < total / 2) {
        pfd.events = POLLOUT | POLLIN;
        if (poll(&pfd, 1, sl_t_timeout(T_IO)) == 0) {
            snprintf(whybuf, whylen, "upload: stalled at %zu", sent);
            (void) close(fd);
            return -1;
        }

        if (pfd.revents & POLLIN) {
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                if (sl_te_check(buf, 12, got, (size_t) n) != (size_t) n) {
                    snprintf(whybuf, whylen, "upload: wrong byte");
                    (void) close(fd);
                    return -1;
                }
                got += (size_t) n;
            }
        }

        if (pfd.revents & POLLOUT) {
            k = sizeof(buf);
            sl_te_fill(buf, 12, sent, k);
            n = send(fd, buf, k, MSG_NOSIGNAL | MSG_DONTWAIT);
            sent += n > 0 ? (size_t) n : 0;
        }
    }

    sl_te_reset(fd);

    if (got == 0) {
        snprintf(whybuf, whylen, "upload: no echo came");
        return -1;
    }

    return 0;
}

/* --- a TLS client that resets -------------------------------------------- */

/* waits for what SSL asked: 1, or 0 (an error, or nothing for ms) */
static int
tls_wait(SSL *ssl, int fd, int rc, int ms)
{
    struct pollfd  pfd;
    int            e = SSL_get_error(ssl, rc);

    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        return 0;
    }

    pfd.fd = fd;
    pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return poll(&pfd, 1, sl_t_timeout(ms)) == 1;
}

/* a handshake, then data written and not read, then a reset */
static int
tls_reset_while_written(SSL_CTX *ctx, int port, char *whybuf, size_t whylen)
{
    static unsigned char   buf[16384];
    SSL                   *ssl;
    size_t                 sent = 0;
    int                    fd, rc, n;

    fd = sl_te_connect(port, 16384);
    if (fd < 0) {
        snprintf(whybuf, whylen, "tls reset: connect: %s", strerror(-fd));
        return -1;
    }

    ssl = SSL_new(ctx);
    (void) SSL_set_fd(ssl, fd);

    while ((rc = SSL_connect(ssl)) != 1) {
        if (!tls_wait(ssl, fd, rc, T_IO)) {
            break;
        }
    }

    /* until it stops taking bytes: its echo to us is backed up */
    while (rc == 1 && sent < 4 * 1024 * 1024) {
        n = SSL_write(ssl, buf, sizeof(buf));
        if (n > 0) {
            sent += (size_t) n;
        } else if (!tls_wait(ssl, fd, n, FULL_MS)) {
            break;
        }
    }

    SSL_free(ssl);
    sl_te_reset(fd);

    if (sent == 0) {
        snprintf(whybuf, whylen, "tls reset: nothing went");
        return -1;
    }

    return 0;
}

/* --- the hostile host: instances of every kind come and go --------------- */

/* a thread of the test that drives clients while the main thread runs */
typedef struct {
    sl_instance_t  *stop;           /* stopped when the drive is done */
    int           (*drive)(void *arg, char *whybuf, size_t whylen);
    void           *arg;
    int             rc;
    int             pipe_dfl;       /* SIGPIPE stayed at SIG_DFL meanwhile */
    char            why[1024];
} driver_t;

static void *
driver(void *arg)
{
    driver_t          *d = arg;
    struct sigaction   sa;
    sigset_t           set;

    /* our own clients must not die of SIGPIPE (the host's mask is not ours)*/
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

    d->rc = d->drive(d->arg, d->why, sizeof(d->why));

    (void) sigaction(SIGPIPE, NULL, &sa);
    d->pipe_dfl = sa.sa_handler == SIG_DFL;

    sl_instance_stop(d->stop, SL_STOP_GRACEFUL);
    return NULL;
}

/* runs in in the calling thread while drive runs in another */
static void
run_here_driven(sl_instance_t *in, int (*drive)(void *, char *, size_t),
    void *arg)
{
    sigset_t   before, after;
    pthread_t  th;
    driver_t   d;

    memset(&d, 0, sizeof(d));
    d.stop = in;
    d.drive = drive;
    d.arg = arg;

    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &before), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, driver, &d), 0);
    ck_assert_int_eq(sl_instance_run(in), SL_DONE);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &after), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);

    sigsets_equal(&before, &after, "the mask after sl_instance_run()");
    ck_assert_msg(d.rc == 0, "%s", d.why);
    ck_assert_msg(d.pipe_dfl, "SIGPIPE was not at SIG_DFL during the run");
}

#define RESETS  sl_te_load(3, 2)

/* plain echo in a thread of its own: resets, with and without a FIN */
static void
host_echo_thread(void)
{
    sl_te_t  t;
    int      i;

    sl_te_create(&t, "stream { server { listen 127.0.0.1:@PORT@ sndbuf=16k; "
                 "echo; } }", NULL, NULL);
    sl_te_start(&t);

    sl_te_echo_ok(t.port[0], 1, 100000);
    for (i = 0; i < RESETS; i++) {
        ck_assert_msg(reset_while_written(t.port[0], 256 * 1024, 0, why,
                                          sizeof(why)) == 0, "%s", why);
        ck_assert_msg(reset_while_written(t.port[0], 64 * 1024, 1, why,
                                          sizeof(why)) == 0, "%s", why);
    }
    sl_te_echo_ok(t.port[0], 2, 100000);

    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    ck_assert_msg(sl_te_log_wait(&t.log, "(32: Broken pipe)", 0),
                  "no EPIPE came: %s", sl_te_log_text(&t.log));
    sl_te_destroy(&t);
}

typedef struct {
    int        port;
    SSL_CTX   *ctx;
} tls_drive_t;

static int
tls_drive(void *arg, char *whybuf, size_t whylen)
{
    tls_drive_t  *d = arg;
    int           i;

    if (sl_te_tls_echo(d->ctx, d->port, 3, 50000, T_IO, whybuf, whylen)) {
        return -1;
    }

    for (i = 0; i < RESETS; i++) {
        if (tls_reset_while_written(d->ctx, d->port, whybuf, whylen) != 0) {
            return -1;
        }
    }

    return sl_te_tls_echo(d->ctx, d->port, 4, 50000, T_IO, whybuf, whylen);
}

/* TLS echo run by the calling thread */
static void
host_tls_here(void)
{
    tls_drive_t  d;
    sl_te_t      t;

    sl_te_create(&t, "stream { server { listen 127.0.0.1:@PORT@ ssl "
                 "sndbuf=16k; " SL_TE_TLS_CERT " echo; } }", NULL, NULL);
    d.port = t.port[0];
    d.ctx = sl_te_tls_ctx();
    ck_assert_ptr_nonnull(d.ctx);

    run_here_driven(t.in, tls_drive, &d);

    SSL_CTX_free(d.ctx);
    sl_te_destroy(&t);
}

static int
splice_drive(void *arg, char *whybuf, size_t whylen)
{
    int  port = *(int *) arg, i;

    if (sl_te_echo(port, 5, 1024 * 1024, T_IO, whybuf, whylen) != 0) {
        return -1;
    }

    for (i = 0; i < RESETS; i++) {
        if (reset_upload(port, 8 * 1024 * 1024, whybuf, whylen) != 0
            || reset_while_written(port, 64 * 1024, 1, whybuf, whylen) != 0)
        {
            return -1;
        }
    }

    return sl_te_echo(port, 6, 1024 * 1024, T_IO, whybuf, whylen);
}

/*
 * A spliced proxy (half-close on, so that a client's FIN leaves the relay
 * towards it running) run by the calling thread, to an echo instance in a
 * thread of its own.
 */
static void
host_splice_here(void)
{
    sl_te_t  be, px;

    sl_te_create(&be, SL_TE_ECHO_CONF, NULL, NULL);
    sl_te_start(&be);

    sl_te_create(&px, sl_t_printf(
        "stream { upstream be { server 127.0.0.1:%d; }\n"
        "  server { listen 127.0.0.1:@PORT@ sndbuf=16k; proxy_pass be;\n"
        "           proxy_splice on; proxy_half_close on;\n"
        "           proxy_buffer_size 16k; } }\n", be.port[0]), NULL, NULL);

    run_here_driven(px.in, splice_drive, &px.port[0]);

    ck_assert_int_gt(sl_te_log_count(&px.log, "proxying with splice()"), 0);
    ck_assert_msg(sl_te_log_count(&px.log, "(32: Broken pipe)") > 0,
                  "no EPIPE came: %s", sl_te_log_text(&px.log));
    sl_te_destroy(&px);

    sl_te_stop_join(&be, SL_STOP_GRACEFUL);
    sl_te_destroy(&be);
}

START_TEST(test_hostile_host)
{
    pstate_t   before, after;
    hostile_t  h;
    int        fds, threads;

    (void) sl_t_mkdir();            /* sl_proc's own state, made first */
    hostile_begin(&h);
    fds = sl_te_nfds();
    threads = sl_te_thread_baseline();
    pstate_record(&before);

    host_echo_thread();
    host_tls_here();
    host_splice_here();

    pstate_record(&after);
    pstate_compare(&before, &after);
    ck_assert_int_eq(sl_te_nfds(), fds);
    ck_assert_int_eq(sl_te_threads_settle(threads, 5000), threads);

    pstate_free(&before);
    pstate_free(&after);
    hostile_end(&h);
}
END_TEST

/* --- host handlers: what the callbacks saw ------------------------------- */

#define NRECS       64
#define SEED        77

/* one session as its callbacks saw it */
typedef struct {
    int              opens, closes, eofs, writables, datas, agains;
    int              status;            /* what close said */
    int              bad;               /* a check in a callback failed */
    char             note[256];
    size_t           consumed;          /* what data said it took */
    size_t           eof_consumed;      /* consumed when eof came */
    size_t           offers[16];        /* n of each data call */
    int              noffers;
    size_t           sent;              /* flood: bytes written */
    int              oversize_rc;       /* flood: a write past the limit */
    int              rcs[8];            /* what session calls returned */
    int              datas_at_proxy;
    void            *hdata;             /* sl_session_handler_data() */
    sl_instance_t   *inst;              /* sl_session_instance() */
    int              data_kept;         /* get_data() gave back the rec */
} rec_t;

static struct {
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    rec_t             recs[NRECS];
    int               n;
    int               closes;
    sl_session_t     *last;             /* the latest session opened */
} R = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { { 0 } }, 0,
        0, NULL };

static int  hmarker;                    /* every handler's data */

static void
rec_reset(void)
{
    (void) pthread_mutex_lock(&R.lock);
    memset(R.recs, 0, sizeof(R.recs));
    R.n = 0;
    R.closes = 0;
    R.last = NULL;
    (void) pthread_mutex_unlock(&R.lock);
}

/* the session's rec: made by its first callback; R.lock is held after */
static rec_t *
rec_lock(sl_session_t *s)
{
    rec_t  *r;

    (void) pthread_mutex_lock(&R.lock);
    r = sl_session_get_data(s);

    if (r == NULL && R.n < NRECS) {
        r = &R.recs[R.n++];
        r->hdata = sl_session_handler_data(s);
        r->inst = sl_session_instance(s);
        sl_session_set_data(s, r);
        R.last = s;
    }

    return r;
}

static void
rec_unlock(void)
{
    (void) pthread_cond_broadcast(&R.cond);
    (void) pthread_mutex_unlock(&R.lock);
}

static void
rec_bad(rec_t *r, const char *what)
{
    if (r->bad++ == 0) {
        snprintf(r->note, sizeof(r->note), "%s", what);
    }
}

/* waits until cond(arg) holds, under R.lock: 1, or 0 at the deadline */
static int
rec_wait(int (*cond)(void *), void *arg, int ms)
{
    long long        deadline = sl_te_deadline(ms);
    struct timespec  ts;
    int              ok;

    (void) pthread_mutex_lock(&R.lock);

    while (!(ok = cond(arg)) && sl_t_msec() < deadline) {
        ts = sl_te_after(20);
        (void) pthread_cond_timedwait(&R.cond, &R.lock, &ts);
    }

    (void) pthread_mutex_unlock(&R.lock);
    return ok;
}

static int
closes_reached(void *arg)
{
    return R.closes >= *(int *) arg;
}

/* n sessions closed; then none may be half-told */
static void
wait_closes(int n)
{
    int  i;

    ck_assert_msg(rec_wait(closes_reached, &n, T_WAIT), "%d of %d sessions "
                  "closed", R.closes, n);

    (void) pthread_mutex_lock(&R.lock);
    for (i = 0; i < R.n; i++) {
        ck_assert_msg(R.recs[i].closes == 1, "session %d: close called %d "
                      "times", i, R.recs[i].closes);
        ck_assert_msg(R.recs[i].bad == 0, "session %d: %s", i,
                      R.recs[i].note);
        ck_assert_ptr_eq(R.recs[i].hdata, &hmarker);
    }
    (void) pthread_mutex_unlock(&R.lock);
}

/* the rec of session i, read once every callback is done */
static rec_t *
rec_at(int i)
{
    ck_assert_int_gt(R.n, i);
    return &R.recs[i];
}

static int
h_open(sl_session_t *s)
{
    rec_t  *r = rec_lock(s);

    r->opens++;
    rec_unlock();
    return SL_OK;
}

static void
h_close(sl_session_t *s, int status)
{
    rec_t  *r = rec_lock(s);

    r->closes++;
    r->status = status;
    r->data_kept = sl_session_get_data(s) == r;
    R.closes++;
    rec_unlock();
}

static void
h_eof(sl_session_t *s)
{
    rec_t  *r = rec_lock(s);

    r->eofs++;
    r->eof_consumed = r->consumed;
    rec_unlock();
}

/* --- the handlers -------------------------------------------------------- */

/* "one": takes one byte a call and echoes it; checks what is offered */
static long
one_data(sl_session_t *s, const char *p, size_t n)
{
    const unsigned char  *u = (const unsigned char *) p;
    rec_t                *r = rec_lock(s);

    r->datas++;
    if (u[0] != sl_te_byte(SEED, r->consumed)
        || u[n - 1] != sl_te_byte(SEED, r->consumed + n - 1))
    {
        rec_bad(r, "the input offered is not the rest of the stream");
    }
    r->consumed++;
    rec_unlock();

    if (sl_session_write(s, p, 1) == SL_ERROR) {
        return SL_ERROR;
    }

    return 1;
}

/* "line": waits for a whole line; records every offer */
static long
line_data(sl_session_t *s, const char *p, size_t n)
{
    const char  *nl = memchr(p, '\n', n);
    rec_t       *r = rec_lock(s);

    r->datas++;
    if (r->noffers < 16) {
        r->offers[r->noffers++] = n;
    }
    rec_unlock();

    if (nl == NULL) {
        return 0;
    }

    (void) sl_session_write(s, "got ", 4);
    (void) sl_session_write(s, p, (size_t) (nl - p) + 1);
    return nl - p + 1;
}

/* "err": SL_ERROR for "bad", else an echo */
static long
err_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);

    r->datas++;
    rec_unlock();

    if (n >= 3 && memcmp(p, "bad", 3) == 0) {
        return SL_ERROR;
    }

    return sl_session_write(s, p, n) == SL_ERROR ? SL_ERROR : (long) n;
}

/* "badlen": a length it may not return */
static long
badlen_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);

    r->datas++;
    rec_unlock();

    if (memcmp(p, "plus", 4) == 0) {
        return (long) n + 1;
    }

    return memcmp(p, "minus", 5) == 0 ? -7 : SL_AGAIN;
}

/* "closer": closes with 403, then tries everything else */
static long
closer_data(sl_session_t *s, const char *p, size_t n)
{
    int     rc[5];
    rec_t  *r;

    (void) p;

    rc[0] = sl_session_close(s, 403);
    rc[1] = sl_session_write(s, "late", 4);
    rc[2] = sl_session_close(s, 200);
    rc[3] = sl_session_shutdown(s);
    rc[4] = sl_session_proxy(s, "be");

    r = rec_lock(s);
    r->datas++;
    memcpy(r->rcs, rc, sizeof(rc));
    rec_unlock();

    return (long) n;
}

#define FLOOD_MARK   16384
#define FLOOD_CHUNK  4096

static size_t  flood_total;

/* writes its stream until told to wait, then again when writable */
static void
flood_produce(sl_session_t *s)
{
    static char     big[16 * FLOOD_MARK];
    unsigned char   buf[FLOOD_CHUNK];
    rec_t          *r = rec_lock(s);
    size_t          n;
    int             rc;

    while (r->sent < flood_total) {
        n = flood_total - r->sent < FLOOD_CHUNK ? flood_total - r->sent
                                                : FLOOD_CHUNK;
        sl_te_fill(buf, SEED, r->sent, n);
        rc = sl_session_write(s, buf, n);

        if (rc == SL_ERROR) {
            rec_bad(r, "sl_session_write() failed");
            break;
        }

        r->sent += n;

        if (rc == SL_AGAIN) {
            if (r->agains++ == 0) {
                /* past 16 marks: refused, nothing taken */
                r->oversize_rc = sl_session_write(s, big, sizeof(big));
            }
            rec_unlock();
            return;
        }
    }

    rec_unlock();

    if (r->sent == flood_total) {
        (void) sl_session_shutdown(s);
    }
}

static int
flood_open(sl_session_t *s)
{
    (void) h_open(s);
    flood_produce(s);
    return SL_OK;
}

static void
flood_writable(sl_session_t *s)
{
    rec_t  *r = rec_lock(s);

    r->writables++;
    rec_unlock();
    flood_produce(s);
}

static long
flood_data(sl_session_t *s, const char *p, size_t n)
{
    (void) s;
    (void) p;
    return (long) n;
}

/* "stuck": never takes anything */
static long
stuck_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);

    (void) p;
    (void) n;
    r->datas++;
    rec_unlock();
    return 0;
}

/* "openerr": open refuses */
static int
openerr_open(sl_session_t *s)
{
    (void) h_open(s);
    return SL_ERROR;
}

/* "eofer": an echo; at eof, a trailer bigger than the mark */
#define EOF_TRAILER  (256 * 1024)

static long
echo_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);

    r->datas++;
    r->consumed += n;
    rec_unlock();

    return sl_session_write(s, p, n) == SL_ERROR ? SL_ERROR : (long) n;
}

static void
eofer_eof(sl_session_t *s)
{
    static unsigned char  trailer[EOF_TRAILER];
    rec_t                *r;
    int                   rc;

    h_eof(s);
    sl_te_fill(trailer, SEED + 1, 0, sizeof(trailer));
    rc = sl_session_write(s, trailer, sizeof(trailer));

    r = rec_lock(s);
    r->rcs[0] = rc;
    rec_unlock();
}

/* "vars": tells the client what it knows of the session */
static const char *
var_text(sl_session_t *s, const char *name, char *buf, size_t size)
{
    const char  *v;
    size_t       len;

    if (sl_session_var(s, name, &v, &len) != SL_OK) {
        return "-";
    }

    snprintf(buf, size, "%.*s", (int) len, v);
    return buf;
}

static int
vars_open(sl_session_t *s)
{
    char  line[512], b[5][64];

    (void) h_open(s);

    snprintf(line, sizeof(line), "addr=%s port=%s nosuch=%s pp=%s ssl=%s\n",
             var_text(s, "remote_addr", b[0], 64),
             var_text(s, "server_port", b[1], 64),
             var_text(s, "no_such_variable", b[2], 64),
             var_text(s, "proxy_protocol_addr", b[3], 64),
             var_text(s, "ssl_protocol", b[4], 64));

    return sl_session_write(s, line, strlen(line)) == SL_ERROR ? SL_ERROR
                                                               : SL_OK;
}

static long
vars_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);

    (void) p;
    r->datas++;
    if (sl_session_get_data(s) != r) {
        rec_bad(r, "sl_session_get_data() lost the pointer");
    }
    rec_unlock();
    return (long) n;
}

/* "sniff": a first line decides, then the proxy takes it all */
static long
sniff_data(sl_session_t *s, const char *p, size_t n)
{
    rec_t  *r = rec_lock(s);
    int     rc;

    r->datas++;
    rec_unlock();

    if (memchr(p, '\n', n) == NULL) {
        return 0;
    }

    (void) sl_session_write(s, "SNIFFED\n", 8);
    rc = sl_session_proxy(s, memcmp(p, "NOPE", 4) == 0 ? "nope" : "be");

    r = rec_lock(s);
    r->rcs[0] = rc;
    r->datas_at_proxy = r->datas;
    rec_unlock();

    if (rc != SL_OK) {
        (void) sl_session_write(s, "NO UPSTREAM\n", 12);
        (void) sl_session_shutdown(s);
        return (long) n;
    }

    return 0;           /* the line goes to the upstream first */
}

/*
 * "shut": "QUIT" gets "BYE" and a shutdown; what comes after still reaches
 * data, whose writes are refused then.
 */
static long
shut_data(sl_session_t *s, const char *p, size_t n)
{
    int     rc[2] = { 99, 99 };
    rec_t  *r;

    if (n >= 4 && memcmp(p, "QUIT", 4) == 0) {
        rc[0] = sl_session_write(s, "BYE\n", 4);
        rc[1] = sl_session_shutdown(s);
    } else {
        rc[0] = sl_session_write(s, p, n);
    }

    r = rec_lock(s);
    if (r->datas < 3) {
        r->rcs[2 * r->datas] = rc[0];
        r->rcs[2 * r->datas + 1] = rc[1];
    } else {
        rec_bad(r, "more data calls than sends");
    }
    r->datas++;
    r->consumed += n;
    rec_unlock();

    return (long) n;
}

static const sl_stream_handler_t  handlers_shut = {
    sizeof(sl_stream_handler_t), h_open, shut_data, NULL, h_eof, h_close
};

static const sl_stream_handler_t  handlers_one = {
    sizeof(sl_stream_handler_t), h_open, one_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_line = {
    sizeof(sl_stream_handler_t), h_open, line_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_err = {
    sizeof(sl_stream_handler_t), h_open, err_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_badlen = {
    sizeof(sl_stream_handler_t), h_open, badlen_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_closer = {
    sizeof(sl_stream_handler_t), h_open, closer_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_flood = {
    sizeof(sl_stream_handler_t), flood_open, flood_data, flood_writable,
    h_eof, h_close
};
static const sl_stream_handler_t  handlers_stuck = {
    sizeof(sl_stream_handler_t), h_open, stuck_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_openerr = {
    sizeof(sl_stream_handler_t), openerr_open, stuck_data, NULL, h_eof,
    h_close
};
static const sl_stream_handler_t  handlers_eofer = {
    sizeof(sl_stream_handler_t), h_open, echo_data, NULL, eofer_eof, h_close
};
static const sl_stream_handler_t  handlers_vars = {
    sizeof(sl_stream_handler_t), vars_open, vars_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_sniff = {
    sizeof(sl_stream_handler_t), h_open, sniff_data, NULL, h_eof, h_close
};
static const sl_stream_handler_t  handlers_echo = {
    sizeof(sl_stream_handler_t), h_open, echo_data, NULL, h_eof, h_close
};

static const sl_handler_reg_t  hregs[] = {
    { "one", &handlers_one, &hmarker },
    { "line", &handlers_line, &hmarker },
    { "err", &handlers_err, &hmarker },
    { "badlen", &handlers_badlen, &hmarker },
    { "closer", &handlers_closer, &hmarker },
    { "flood", &handlers_flood, &hmarker },
    { "stuck", &handlers_stuck, &hmarker },
    { "openerr", &handlers_openerr, &hmarker },
    { "eofer", &handlers_eofer, &hmarker },
    { "vars", &handlers_vars, &hmarker },
    { "sniff", &handlers_sniff, &hmarker },
    { "echo", &handlers_echo, &hmarker },
    { "shut", &handlers_shut, &hmarker },
    { NULL, NULL, NULL }
};

/*
 * An instance serving handler name on @PORT@ (with more in its server{}),
 * an access log of $status in @DIR@/access.log, an echo on @PORT2@ and an
 * upstream "be" to it; hstart() starts it in a thread of its own.
 */
static void
hcreate(sl_te_t *t, const char *name, const char *listen, const char *more)
{
    rec_reset();
    sl_te_create(t, sl_t_printf(
        "stream {\n"
        "  log_format st '$status';\n"
        "  upstream be { server 127.0.0.1:@PORT2@; }\n"
        "  server { listen 127.0.0.1:@PORT@ %s; handler %s;\n"
        "           access_log @DIR@/access.log st; %s }\n"
        "  server { listen 127.0.0.1:@PORT2@; echo; }\n"
        "}\n", listen, name, more), hregs, NULL);
}

static void
hstart(sl_te_t *t, const char *name, const char *listen, const char *more)
{
    hcreate(t, name, listen, more);
    sl_te_start(t);
}

/* stopped, joined, destroyed; nothing at crit or worse was logged */
static void
hstop(sl_te_t *t)
{
    sl_te_stop_join(t, SL_STOP_GRACEFUL);
    ck_assert_msg(sl_te_log_count(&t->log, "[alert]") == 0
                  && sl_te_log_count(&t->log, "[crit]") == 0
                  && sl_te_log_count(&t->log, "[emerg]") == 0, "%s",
                  sl_te_log_text(&t->log));
    sl_te_destroy(t);
}

static const char *
access_log(sl_te_t *t)
{
    char  *s = sl_t_read(sl_t_path(t->dir, "access.log"));

    return s != NULL ? s : "";
}

/* --- host handler tests -------------------------------------------------- */

START_TEST(test_handler_one_byte)
{
    size_t   len = (size_t) sl_te_load(64 * 1024, 8 * 1024);
    rec_t   *r;
    sl_te_t  t;

    hstart(&t, "one", "", "handler_buffer_size 4k;");

    sl_te_echo_ok(t.port[0], SEED, len);    /* then the client closes */
    wait_closes(1);

    r = rec_at(0);
    ck_assert_int_eq(r->opens, 1);
    ck_assert_uint_eq(r->consumed, len);
    ck_assert_int_eq(r->datas, (int) len);  /* one call for each byte */
    ck_assert_int_eq(r->eofs, 1);
    ck_assert_uint_eq(r->eof_consumed, len);
    ck_assert_int_eq(r->status, 200);
    ck_assert(r->data_kept);
    ck_assert_ptr_eq(r->inst, t.in);

    hstop(&t);
}
END_TEST

static int
datas_reached(void *arg)
{
    return R.n > 0 && R.recs[0].datas >= *(int *) arg;
}

/* data was last offered n bytes */
static int
offered(void *arg)
{
    rec_t  *r = &R.recs[0];

    return R.n > 0 && r->noffers > 0
           && r->offers[r->noffers - 1] == *(size_t *) arg;
}

static void
wait_offered(size_t n)
{
    ck_assert_msg(rec_wait(offered, &n, T_WAIT), "%zu bytes were not "
                  "offered", n);
}

/*
 * A line in three segments, each sent once the handler has seen the one
 * before: every call offers all that is not consumed, and after a 0 the
 * next call comes with more input (0 waits for more), never the same.
 */
START_TEST(test_handler_split)
{
    sl_te_t  t;
    rec_t   *r;
    int      fd, i;

    hstart(&t, "line", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "hel", 3);
    wait_offered(3);
    send_ok(fd, "lo w", 4);
    wait_offered(7);
    send_ok(fd, "orld\n", 5);
    recv_text(fd, "got hello world\n");
    (void) close(fd);
    wait_closes(1);
    hstop(&t);

    r = rec_at(0);
    ck_assert_uint_eq(r->offers[0], 3);
    ck_assert_uint_eq(r->offers[r->noffers - 1], 12);
    for (i = 1; i < r->noffers; i++) {
        ck_assert_msg(r->offers[i] > r->offers[i - 1], "call %d offered %zu "
                      "bytes after a 0 for %zu: no new input", i + 1,
                      r->offers[i], r->offers[i - 1]);
    }
    ck_assert_int_eq(r->noffers, 3);
    ck_assert_int_eq(r->status, 200);
}
END_TEST

START_TEST(test_handler_error_400)
{
    sl_te_t  t;
    int      fd;

    hstart(&t, "err", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "fine", 4);
    recv_text(fd, "fine");
    send_ok(fd, "bad", 3);
    ends_without_data(fd);
    wait_closes(1);

    ck_assert_int_eq(rec_at(0)->status, 400);
    ck_assert_str_eq(access_log(&t), "400\n");
    hstop(&t);
}
END_TEST

START_TEST(test_handler_bad_length)
{
    static const char  *ins[] = { "plus!", "minus", "again" };
    static const char  *msg[] = { "length 6 for 5 bytes",
                                  "length -7 for 5 bytes",
                                  "length -2 for 5 bytes" };
    sl_te_t             t;
    int                 i, fd;

    hstart(&t, "badlen", "", "");

    for (i = 0; i < 3; i++) {
        fd = connect_ok(t.port[0], 0);
        send_ok(fd, ins[i], 5);
        ends_without_data(fd);
        wait_closes(i + 1);
        ck_assert_int_eq(rec_at(i)->status, 500);
        ck_assert_msg(sl_te_log_count(&t.log, sl_t_printf(
                          "handler \"badlen\" returned an invalid %s",
                          msg[i])) == 1, "%s", sl_te_log_text(&t.log));
    }

    ck_assert_int_eq(sl_te_log_count(&t.log, "[error] *"), 3);
    ck_assert_str_eq(access_log(&t), "500\n500\n500\n");
    hstop(&t);
}
END_TEST

START_TEST(test_handler_write_after_close)
{
    sl_te_t  t;
    rec_t   *r;
    int      fd;

    hstart(&t, "closer", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "x", 1);
    ends_without_data(fd);
    wait_closes(1);

    r = rec_at(0);
    ck_assert_int_eq(r->rcs[0], SL_OK);
    ck_assert_int_eq(r->rcs[1], SL_ERROR);      /* write */
    ck_assert_int_eq(r->rcs[2], SL_ERROR);      /* close again */
    ck_assert_int_eq(r->rcs[3], SL_ERROR);      /* shutdown */
    ck_assert_int_eq(r->rcs[4], SL_ERROR);      /* proxy */
    ck_assert_int_eq(r->status, 403);
    ck_assert_int_eq(sl_te_log_count(&t.log, "called sl_session_write() on "
                                     "a session that is closed"), 1);
    ck_assert_str_eq(access_log(&t), "403\n");
    hstop(&t);
}
END_TEST

static int
agains_reached(void *arg)
{
    (void) arg;
    return R.n > 0 && R.recs[0].agains > 0;
}

START_TEST(test_handler_backpressure)
{
    unsigned char  *buf;
    sl_te_t         t;
    size_t          got;
    rec_t          *r;
    int             fd, err, writables;

    flood_total = (size_t) sl_te_load(4 * 1024 * 1024, 512 * 1024);
    buf = malloc(flood_total);
    ck_assert_ptr_nonnull(buf);

    hstart(&t, "flood", "sndbuf=16k", sl_t_printf("handler_buffer_size %d;",
                                                   FLOOD_MARK));

    fd = connect_ok(t.port[0], 16384);      /* and it does not read yet */
    ck_assert(rec_wait(agains_reached, NULL, T_WAIT));
    (void) pthread_mutex_lock(&R.lock);
    writables = R.recs[0].writables;
    ck_assert_uint_lt(R.recs[0].sent, flood_total);
    (void) pthread_mutex_unlock(&R.lock);

    got = sl_te_recv(fd, buf, flood_total, sl_te_deadline(T_IO), &err);
    ck_assert_uint_eq(got, flood_total);
    ck_assert_uint_eq(sl_te_check(buf, SEED, 0, got), got);
    ck_assert_int_eq(sl_te_recv_end(fd, sl_te_deadline(T_IO)), 0);  /* FIN */
    (void) close(fd);
    wait_closes(1);

    r = rec_at(0);
    ck_assert_int_gt(r->writables, writables);   /* once the client read */
    ck_assert_int_eq(r->oversize_rc, SL_ERROR);
    ck_assert_int_eq(sl_te_log_count(&t.log, sl_t_printf("wrote past %d "
                                     "bytes of queued output",
                                     16 * FLOOD_MARK)), 1);
    ck_assert_int_eq(r->status, 200);

    hstop(&t);
    free(buf);
}
END_TEST

START_TEST(test_handler_stuck)
{
    char     buf[4096];
    sl_te_t  t;
    int      fd;

    hstart(&t, "stuck", "", "handler_buffer_size 1k;");

    memset(buf, 'x', sizeof(buf));
    fd = connect_ok(t.port[0], 0);
    (void) sl_te_send(fd, buf, sizeof(buf), sl_te_deadline(T_IO));
    ends_without_data(fd);
    wait_closes(1);

    ck_assert_int_eq(sl_te_log_count(&t.log, "handler \"stuck\" consumed "
                                     "nothing of a full buffer of 1024 "
                                     "bytes"), 1);
    ck_assert_int_ne(rec_at(0)->status, 200);
    hstop(&t);
}
END_TEST

START_TEST(test_handler_open_error)
{
    sl_te_t  t;
    int      fd;

    hstart(&t, "openerr", "", "");

    fd = connect_ok(t.port[0], 0);
    (void) sl_te_send(fd, "x", 1, sl_te_deadline(T_IO));
    ends_without_data(fd);
    wait_closes(1);

    ck_assert_int_eq(rec_at(0)->opens, 1);
    ck_assert_int_eq(rec_at(0)->datas, 0);
    ck_assert_int_eq(rec_at(0)->status, 500);
    ck_assert_str_eq(access_log(&t), "500\n");
    hstop(&t);
}
END_TEST

START_TEST(test_handler_eof)
{
    static unsigned char  buf[10000 + EOF_TRAILER], data[10000];
    size_t                in = sizeof(data), total = sizeof(buf), got;
    sl_te_t               t;
    rec_t                *r;
    int                   fd, err, end;

    hstart(&t, "eofer", "", "handler_buffer_size 64k;");

    fd = connect_ok(t.port[0], 0);
    sl_te_fill(data, SEED, 0, in);
    send_ok(fd, data, in);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);

    got = sl_te_recv(fd, buf, total, sl_te_deadline(T_IO), &err);
    end = err == 0 ? sl_te_recv_end(fd, sl_te_deadline(T_IO)) : err;
    (void) close(fd);
    wait_closes(1);
    hstop(&t);

    r = rec_at(0);
    ck_assert_int_eq(r->eofs, 1);
    ck_assert_uint_eq(r->eof_consumed, in);     /* after all the input */
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(r->rcs[0] == SL_OK || r->rcs[0] == SL_AGAIN,
                  "sl_session_write() in eof returned %d", r->rcs[0]);

    ck_assert_uint_eq(got, total);              /* the echo, the trailer */
    ck_assert_uint_eq(sl_te_check(buf, SEED, 0, in), in);
    ck_assert_uint_eq(sl_te_check(buf + in, SEED + 1, 0, EOF_TRAILER),
                      EOF_TRAILER);
    ck_assert_int_eq(end, 0);                   /* then a FIN */
}
END_TEST

START_TEST(test_handler_vars)
{
    sl_te_t  t;
    rec_t   *r;
    int      fd;

    hstart(&t, "vars", "", "");

    fd = connect_ok(t.port[0], 0);
    /*
     * No such variable; one that has no value here (no PROXY header); the
     * TLS ones are empty without TLS (docs/directives.md).
     */
    recv_text(fd, sl_t_printf("addr=127.0.0.1 port=%d nosuch=- pp=- ssl=\n",
                              t.port[0]));
    send_ok(fd, "some", 4);
    (void) close(fd);
    wait_closes(1);

    r = rec_at(0);
    ck_assert_ptr_eq(r->hdata, &hmarker);
    ck_assert_ptr_eq(r->inst, t.in);
    ck_assert(r->data_kept);
    ck_assert_int_eq(r->status, 200);
    hstop(&t);
}
END_TEST

START_TEST(test_handler_proxy)
{
    const char  *first = "HELLO backend\n", *rest = "and the rest";
    sl_te_t      t;
    rec_t       *r;
    int          fd, i;

    hstart(&t, "sniff", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "HELLO ", 6);
    i = 1;
    ck_assert(rec_wait(datas_reached, &i, T_WAIT));    /* 0: it waits */
    send_ok(fd, first + 6, strlen(first) - 6);
    recv_text(fd, sl_t_printf("SNIFFED\n%s", first));   /* the backend's */
    send_ok(fd, rest, strlen(rest));
    recv_text(fd, rest);
    (void) close(fd);
    wait_closes(1);

    r = rec_at(0);
    ck_assert_int_eq(r->rcs[0], SL_OK);
    ck_assert_int_eq(r->datas, r->datas_at_proxy);  /* no data since */
    ck_assert_int_eq(r->eofs, 0);
    ck_assert_int_eq(r->status, 200);
    hstop(&t);
}
END_TEST

/* no such upstream: SL_ERROR (logged), and the handler goes on */
START_TEST(test_handler_proxy_unknown)
{
    sl_te_t  t;
    char     buf[64], *log;
    size_t   n;
    int      fd, err;

    hstart(&t, "sniff", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "NOPE\n", 5);
    n = sl_te_recv(fd, buf, sizeof(buf) - 1, sl_te_deadline(T_IO), &err);
    buf[n] = '\0';
    (void) close(fd);
    wait_closes(1);
    log = sl_te_log_text(&t.log);
    hstop(&t);

    ck_assert_msg(rec_at(0)->rcs[0] == SL_ERROR, "sl_session_proxy() to no "
                  "upstream returned %d, the session ended with %d; the "
                  "client got \"%s\"; the log:\n%s", rec_at(0)->rcs[0],
                  rec_at(0)->status, buf, log);
    ck_assert_ptr_nonnull(strstr(log, "no upstream \"nope\""));
    ck_assert_str_eq(buf, "SNIFFED\nNO UPSTREAM\n");  /* it went on */
    ck_assert_int_eq(rec_at(0)->status, 200);
}
END_TEST

START_TEST(test_handler_tls)
{
    SSL_CTX  *ctx = sl_te_tls_ctx();
    sl_te_t   t;
    int       i;

    ck_assert_ptr_nonnull(ctx);
    hstart(&t, "echo", "ssl", SL_TE_TLS_CERT);

    for (i = 0; i < 4; i++) {
        ck_assert_msg(sl_te_tls_echo(ctx, t.port[0], SEED + (uint32_t) i,
                                     100000, T_IO, why, sizeof(why)) == 0,
                      "%s", why);
    }
    wait_closes(4);
    for (i = 0; i < 4; i++) {
        ck_assert_uint_eq(rec_at(i)->consumed, 100000);
    }

    hstop(&t);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_handler_tls_vars)
{
    sl_tt_peer_t  peer;
    char          line[256];
    sl_te_t       t;
    ssize_t       n;
    int           fd;

    hstart(&t, "vars", "ssl", SL_TE_TLS_CERT);

    fd = connect_ok(t.port[0], 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, 0), 0);
    ck_assert_int_eq(sl_tt_peer_init(&peer, fd, 0, NULL), 0);
    ck_assert(sl_tt_handshake(&peer, T_IO));
    n = sl_tt_read(&peer, line, sizeof(line) - 1, T_IO);
    ck_assert_int_gt(n, 0);
    line[n] = '\0';
    ck_assert_str_eq(line, sl_t_printf("addr=127.0.0.1 port=%d nosuch=- "
                                       "pp=- ssl=%s\n", t.port[0],
                                       SSL_get_version(peer.ssl)));
    sl_tt_peer_free(&peer);
    (void) close(fd);
    wait_closes(1);

    hstop(&t);
}
END_TEST

/* a posted function writes to a session, then closes it */
static void
push_write(sl_instance_t *in, void *arg)
{
    int  rc = sl_session_write(R.last, "PUSH\n", 5);

    (void) in;
    (void) pthread_mutex_lock(&R.lock);
    *(int *) arg = rc;
    rec_unlock();
}

static void
push_close(sl_instance_t *in, void *arg)
{
    int  rc = sl_session_close(R.last, 200);

    (void) in;
    (void) pthread_mutex_lock(&R.lock);
    *(int *) arg = rc;
    rec_unlock();
}

static int
pushed(void *arg)
{
    return ((int *) arg)[1] != 99;
}

static int
opened(void *arg)
{
    (void) arg;
    return R.last != NULL;
}

START_TEST(test_handler_posted_write)
{
    sl_te_t  t;
    int      fd, rc[2] = { 99, 99 };

    hstart(&t, "echo", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "hi", 2);
    recv_text(fd, "hi");
    ck_assert(rec_wait(opened, NULL, T_WAIT));

    ck_assert_int_eq(sl_instance_post(t.in, push_write, &rc[0]), SL_OK);
    recv_text(fd, "PUSH\n");
    ck_assert_int_eq(sl_instance_post(t.in, push_close, &rc[1]), SL_OK);
    ends_without_data(fd);
    wait_closes(1);
    ck_assert(rec_wait(pushed, rc, T_WAIT));

    ck_assert_int_eq(rc[0], SL_OK);
    ck_assert_int_eq(rc[1], SL_OK);
    ck_assert_int_eq(rec_at(0)->status, 200);
    hstop(&t);
}
END_TEST

/*
 * After a shutdown the client gets what was queued, then a FIN; what it
 * sends then still reaches data (whose writes are refused, without a
 * word in the log), and the session ends when the client closes too.
 */
START_TEST(test_handler_shutdown)
{
    sl_te_t  t;
    rec_t   *r;
    int      fd, i;

    hstart(&t, "shut", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "hi", 2);
    recv_text(fd, "hi");
    send_ok(fd, "QUIT", 4);
    recv_text(fd, "BYE\n");
    ck_assert_int_eq(sl_te_recv_end(fd, sl_te_deadline(T_IO)), 0);  /* FIN */

    send_ok(fd, "more", 4);                 /* the session still reads */
    i = 3;
    ck_assert(rec_wait(datas_reached, &i, T_WAIT));
    (void) close(fd);
    wait_closes(1);
    hstop(&t);

    r = rec_at(0);
    ck_assert_int_eq(r->rcs[2], SL_OK);         /* "BYE" */
    ck_assert_int_eq(r->rcs[3], SL_OK);         /* shutdown */
    ck_assert_int_eq(r->rcs[4], SL_ERROR);      /* a write after it */
    ck_assert_uint_eq(r->consumed, 10);
    ck_assert_int_eq(r->eofs, 1);
    ck_assert_int_eq(r->status, 200);
}
END_TEST

/*
 * Session calls from a thread that is not the loop thread: SL_ERROR, and
 * nothing done or logged; the accessors only read or store a pointer.
 */
START_TEST(test_handler_other_thread)
{
    sl_session_t  *s;
    const char    *v;
    size_t         len;
    sl_te_t        t;
    int            fd;

    hstart(&t, "echo", "", "");

    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "hi", 2);
    recv_text(fd, "hi");
    ck_assert(rec_wait(opened, NULL, T_WAIT));
    (void) pthread_mutex_lock(&R.lock);
    s = R.last;
    (void) pthread_mutex_unlock(&R.lock);

    ck_assert_int_eq(sl_session_write(s, "x", 1), SL_ERROR);
    ck_assert_int_eq(sl_session_shutdown(s), SL_ERROR);
    ck_assert_int_eq(sl_session_close(s, 500), SL_ERROR);
    ck_assert_int_eq(sl_session_var(s, "remote_addr", &v, &len), SL_ERROR);
    ck_assert_int_eq(sl_session_proxy(s, "be"), SL_ERROR);
    ck_assert_ptr_eq(sl_session_handler_data(s), &hmarker);
    ck_assert_ptr_eq(sl_session_instance(s), t.in);

    send_ok(fd, "still", 5);                /* untouched */
    recv_text(fd, "still");
    ck_assert_int_eq(sl_te_log_count(&t.log, "sl_session_"), 0);
    (void) close(fd);
    wait_closes(1);
    ck_assert_int_eq(rec_at(0)->status, 200);
    hstop(&t);
}
END_TEST

#define CUT  3

static int
recs_reached(void *arg)
{
    return R.n >= *(int *) arg;
}

/* CUT sessions open, each having echoed "hi" */
static void
open_cut_sessions(sl_te_t *t, int *fd, int drive)
{
    long long  deadline = sl_te_deadline(T_WAIT);
    int        i, n = CUT;

    for (i = 0; i < CUT; i++) {
        fd[i] = connect_ok(t->port[0], 0);
        send_ok(fd[i], "hi", 2);
    }

    while (drive && !rec_wait(recs_reached, &n, 0)) {
        ck_assert_int_lt(sl_t_msec(), deadline);
        ck_assert_int_eq(sl_instance_run_once(t->in, 10), SL_OK);
    }

    ck_assert(rec_wait(recs_reached, &n, T_WAIT));
}

/* the echo of "hi" (or some of it, or none), then a FIN or a reset */
static void
cut_after_echo(int fd)
{
    char    buf[3];
    size_t  n;
    int     err;

    n = sl_te_recv(fd, buf, sizeof(buf), sl_te_deadline(T_WAIT), &err);
    ck_assert_uint_le(n, 2);
    ck_assert(memcmp(buf, "hi", n) == 0);
    ck_assert_msg(err == 0 || err == ECONNRESET, "%s", strerror(err));
    (void) close(fd);
}

/* a fast stop: close once for each session it cut */
START_TEST(test_handler_stop_fast)
{
    sl_te_t  t;
    int      fd[CUT], i;

    hstart(&t, "echo", "", "");
    open_cut_sessions(&t, fd, 0);

    sl_te_stop_join(&t, SL_STOP_FAST);
    for (i = 0; i < CUT; i++) {
        cut_after_echo(fd[i]);
    }
    wait_closes(CUT);
    sl_te_destroy(&t);
}
END_TEST

/*
 * A host loop that stops calling run_once and destroys the instance with
 * sessions open: each is closed, close called once, nothing left.
 */
START_TEST(test_handler_destroy_unstopped)
{
    int      fds = sl_te_nfds();
    sl_te_t  t;
    int      fd[CUT], i, n = CUT;

    hcreate(&t, "echo", "", "");
    open_cut_sessions(&t, fd, 1);

    sl_te_destroy(&t);
    ck_assert(rec_wait(closes_reached, &n, 0));  /* by destroy, at once */
    wait_closes(CUT);

    for (i = 0; i < CUT; i++) {
        cut_after_echo(fd[i]);
    }
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST

/* --- reload -------------------------------------------------------------- */

#define CONF_A                                                                \
    "stream { server { listen 127.0.0.1:%d; echo; } }\n"
#define CONF_B                                                                \
    "stream { server { listen 127.0.0.1:%d; echo; }\n"                        \
    "         server { listen 127.0.0.1:%d; echo; } }\n"

typedef struct {
    sl_instance_conf_t   a, b;
} confs_t;

static void
confs_init(confs_t *c, sl_te_t *t)
{
    memset(c, 0, sizeof(*c));
    c->a.size = sizeof(sl_instance_conf_t);
    c->a.conf_string = sl_t_printf(CONF_A, t->port[0]);
    c->b.size = sizeof(sl_instance_conf_t);
    c->b.conf_string = sl_t_printf(CONF_B, t->port[0], t->port[1]);
}

static void
reload_ok(sl_instance_t *in, const sl_instance_conf_t *conf)
{
    char  err[512];

    ck_assert_msg(sl_instance_reload(in, conf, err, sizeof(err)) == SL_OK,
                  "reload: %s", err);
    ck_assert_str_eq(err, "");
}

/* a session that lives through the reloads, exchanging all the while */
typedef struct {
    int        port;
    uint32_t   seed;
    int        stop;            /* under lock */
    long       rounds;
    int        rc;
    char       why[512];
    pthread_mutex_t  lock;
} longlived_t;

static int
longlived_stopped(longlived_t *l)
{
    int  stop;

    (void) pthread_mutex_lock(&l->lock);
    stop = l->stop;
    (void) pthread_mutex_unlock(&l->lock);
    return stop;
}

static void *
longlived(void *arg)
{
    longlived_t    *l = arg;
    unsigned char   out[4096], in[4096];
    size_t          off = 0, n;
    int             fd, err;

    fd = sl_te_connect(l->port, 0);
    if (fd < 0) {
        snprintf(l->why, sizeof(l->why), "connect: %s", strerror(-fd));
        l->rc = -1;
        return NULL;
    }

    while (!longlived_stopped(l)) {
        sl_te_fill(out, l->seed, off, sizeof(out));
        if (sl_te_send(fd, out, sizeof(out), sl_te_deadline(T_IO)) != 0) {
            snprintf(l->why, sizeof(l->why), "send after %zu", off);
            l->rc = -1;
            break;
        }
        n = sl_te_recv(fd, in, sizeof(in), sl_te_deadline(T_IO), &err);
        if (n != sizeof(in) || sl_te_check(in, l->seed, off, n) != n) {
            snprintf(l->why, sizeof(l->why), "%zu of 4096 at %zu: %s", n,
                     off, err ? strerror(err) : "wrong bytes");
            l->rc = -1;
            break;
        }
        off += n;
        l->rounds++;
    }

    (void) close(fd);
    return NULL;
}

typedef struct {
    int  port;
} traffic_t;

static int
traffic_job(void *data, int worker, int i, char *whybuf, size_t whylen)
{
    traffic_t  *tr = data;
    uint32_t    seed = (uint32_t) (worker * 1000003 + i);

    return sl_te_echo(tr->port, seed, 1 + seed % 20000, T_IO, whybuf,
                      whylen);
}

#define LONGLIVED  2

START_TEST(test_reload_under_traffic)
{
    int           fds = sl_te_nfds(), threads = sl_te_thread_baseline();
    longlived_t   ll[LONGLIVED];
    pthread_t     th[LONGLIVED];
    sl_te_pool_t  pool;
    traffic_t     tr;
    confs_t       c;
    sl_te_t       t;
    int           i, reloads = sl_te_load(50, 10);

    sl_te_create(&t, SL_TE_ECHO_CONF, NULL, NULL);
    confs_init(&c, &t);
    sl_te_start(&t);

    tr.port = t.port[0];
    sl_te_pool_start(&pool, 6, -1, traffic_job, &tr);
    for (i = 0; i < LONGLIVED; i++) {
        memset(&ll[i], 0, sizeof(ll[i]));
        (void) pthread_mutex_init(&ll[i].lock, NULL);
        ll[i].port = t.port[0];
        ll[i].seed = 500 + (uint32_t) i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, longlived, &ll[i]), 0);
    }
    ck_assert(sl_te_pool_wait(&pool, 20, T_WAIT));

    for (i = 0; i < reloads; i++) {
        reload_ok(t.in, i % 2 == 0 ? &c.b : &c.a);
        if (i % 2 == 0) {
            sl_te_echo_ok(t.port[1], (uint32_t) i, 1000);
        } else {
            sl_te_refused(t.port[1]);
        }
        sl_te_echo_ok(t.port[0], (uint32_t) i, 1000);
    }

    ck_assert_int_eq(sl_te_log_count(&t.log, "reconfigured"), reloads);
    ck_assert(sl_te_pool_wait(&pool, sl_te_pool_done(&pool) + 20, T_WAIT));
    sl_te_pool_stop(&pool);
    ck_assert_msg(sl_te_pool_join(&pool) == 0, "%s", pool.why);

    for (i = 0; i < LONGLIVED; i++) {
        (void) pthread_mutex_lock(&ll[i].lock);
        ll[i].stop = 1;
        (void) pthread_mutex_unlock(&ll[i].lock);
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(ll[i].rc == 0, "long-lived session %d: %s", i,
                      ll[i].why);
        ck_assert_int_gt(ll[i].rounds, 0);
        (void) pthread_mutex_destroy(&ll[i].lock);
    }

    hstop(&t);
    ck_assert_int_eq(sl_te_nfds(), fds);
    ck_assert_int_eq(sl_te_threads_settle(threads, 5000), threads);
}
END_TEST

/* the old configuration serves on, sessions and all */
START_TEST(test_reload_errors)
{
    sl_instance_conf_t  bad;
    confs_t             c;
    sl_te_t             t;
    char                err[512], buf[8];
    int                 fd, s, e;

    sl_te_create(&t, SL_TE_ECHO_CONF, NULL, NULL);
    confs_init(&c, &t);
    sl_te_start(&t);
    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "a", 1);

    bad = c.a;
    bad.conf_string = "stream {\n    bogus;\n}\n";
    ck_assert_int_eq(sl_instance_reload(t.in, &bad, err, sizeof(err)),
                     SL_ERROR);
    ck_assert_str_eq(err, "unknown directive \"bogus\" in STRING:2");
    sl_te_echo_ok(t.port[0], 1, 1000);

    /* the new port is taken: the carried-over socket goes back */
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    {
        struct sockaddr_in  sin;

        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((in_port_t) t.port[1]);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ck_assert_int_eq(listen(s, 1), 0);
    }
    ck_assert_int_eq(sl_instance_reload(t.in, &c.b, err, sizeof(err)),
                     SL_ERROR);
    ck_assert_str_eq(err, sl_t_printf("bind() to 127.0.0.1:%d failed (98: "
                                      "Address already in use)", t.port[1]));
    (void) close(s);
    sl_te_echo_ok(t.port[0], 2, 1000);

    bad.conf_string = NULL;
    ck_assert_int_eq(sl_instance_reload(t.in, &bad, err, sizeof(err)),
                     SL_ERROR);
    ck_assert_str_ne(err, "");
    ck_assert_int_eq(sl_instance_reload(t.in, NULL, err, sizeof(err)),
                     SL_ERROR);

    /* the session of before saw none of it */
    ck_assert_uint_eq(sl_te_recv(fd, buf, 1, sl_te_deadline(T_IO), &e), 1);
    ck_assert_int_eq(buf[0], 'a');
    send_ok(fd, "b", 1);
    ck_assert_uint_eq(sl_te_recv(fd, buf, 1, sl_te_deadline(T_IO), &e), 1);
    ck_assert_int_eq(buf[0], 'b');
    (void) close(fd);

    /* the two errors went to the log too; nothing worse happened */
    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    ck_assert_int_eq(sl_te_log_count(&t.log, "[emerg]"), 2);
    ck_assert_int_eq(sl_te_log_count(&t.log, "[alert]"), 0);
    sl_te_destroy(&t);
}
END_TEST

START_TEST(test_reload_after_stop)
{
    confs_t  c;
    sl_te_t  t;
    char     err[512];
    int      fd;

    /* stopping: a session holds the graceful stop open */
    sl_te_create(&t, SL_TE_ECHO_CONF, NULL, NULL);
    confs_init(&c, &t);
    sl_te_start(&t);
    fd = connect_ok(t.port[0], 0);
    send_ok(fd, "a", 1);
    recv_text(fd, "a");
    sl_instance_stop(t.in, SL_STOP_GRACEFUL);
    ck_assert_int_eq(sl_instance_reload(t.in, &c.b, err, sizeof(err)),
                     SL_DONE);
    sl_te_refused(t.port[1]);
    (void) close(fd);
    ck_assert_int_eq(sl_instance_join(t.in), SL_DONE);

    /* finished */
    ck_assert_int_eq(sl_instance_reload(t.in, &c.b, err, sizeof(err)),
                     SL_DONE);
    sl_te_refused(t.port[1]);
    sl_te_destroy(&t);
}
END_TEST

typedef struct {
    const sl_instance_conf_t  *conf;
    int                        rc;
    char                       err[512];
    int                        done;
    pthread_mutex_t            lock;
    pthread_cond_t             cond;
} posted_reload_t;

static void
reload_posted(sl_instance_t *in, void *arg)
{
    posted_reload_t  *p = arg;

    p->rc = sl_instance_reload(in, p->conf, p->err, sizeof(p->err));

    (void) pthread_mutex_lock(&p->lock);
    p->done = 1;
    (void) pthread_cond_broadcast(&p->cond);
    (void) pthread_mutex_unlock(&p->lock);
}

START_TEST(test_reload_from_loop)
{
    posted_reload_t  p;
    confs_t          c;
    sl_te_t          t;

    sl_te_create(&t, SL_TE_ECHO_CONF, NULL, NULL);
    confs_init(&c, &t);
    sl_te_start(&t);

    memset(&p, 0, sizeof(p));
    p.conf = &c.b;
    (void) pthread_mutex_init(&p.lock, NULL);
    (void) pthread_cond_init(&p.cond, NULL);
    ck_assert_int_eq(sl_instance_post(t.in, reload_posted, &p), SL_OK);

    (void) pthread_mutex_lock(&p.lock);
    while (!p.done) {
        (void) pthread_cond_wait(&p.cond, &p.lock);   /* Check's timeout */
    }
    (void) pthread_mutex_unlock(&p.lock);

    ck_assert_msg(p.rc == SL_OK, "%s", p.err);
    sl_te_echo_ok(t.port[1], 1, 1000);
    sl_te_echo_ok(t.port[0], 2, 1000);

    hstop(&t);
    (void) pthread_cond_destroy(&p.cond);
    (void) pthread_mutex_destroy(&p.lock);
}
END_TEST

START_TEST(test_reload_before_run)
{
    int      fds = sl_te_nfds();
    confs_t  c;
    sl_te_t  t;

    sl_te_create(&t, SL_TE_ECHO_CONF, NULL, NULL);
    confs_init(&c, &t);

    reload_ok(t.in, &c.b);
    reload_ok(t.in, &c.a);
    reload_ok(t.in, &c.b);
    sl_te_start(&t);
    sl_te_echo_ok(t.port[1], 1, 1000);
    sl_te_echo_ok(t.port[0], 2, 1000);

    hstop(&t);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST

/* --- the suite ----------------------------------------------------------- */

static Suite *
embed_host_suite(void)
{
    Suite  *s = suite_create("embed_host");
    TCase  *tc;

    if (sl_te_certs() == NULL) {
        fprintf(stderr, "test_embed_host: no certificate\n");
        exit(1);
    }

    tc = sl_te_tcase(s, "hostile", 120);
    tcase_add_test(tc, test_hostile_host);

    tc = sl_te_tcase(s, "handler", 60);
    tcase_add_test(tc, test_handler_one_byte);
    tcase_add_test(tc, test_handler_split);
    tcase_add_test(tc, test_handler_error_400);
    tcase_add_test(tc, test_handler_bad_length);
    tcase_add_test(tc, test_handler_write_after_close);
    tcase_add_test(tc, test_handler_backpressure);
    tcase_add_test(tc, test_handler_stuck);
    tcase_add_test(tc, test_handler_open_error);
    tcase_add_test(tc, test_handler_eof);
    tcase_add_test(tc, test_handler_vars);
    tcase_add_test(tc, test_handler_proxy);
    tcase_add_test(tc, test_handler_proxy_unknown);
    tcase_add_test(tc, test_handler_tls);
    tcase_add_test(tc, test_handler_tls_vars);
    tcase_add_test(tc, test_handler_posted_write);
    tcase_add_test(tc, test_handler_shutdown);
    tcase_add_test(tc, test_handler_other_thread);
    tcase_add_test(tc, test_handler_stop_fast);
    tcase_add_test(tc, test_handler_destroy_unstopped);

    tc = sl_te_tcase(s, "reload", 180);
    tcase_add_test(tc, test_reload_under_traffic);
    tcase_add_test(tc, test_reload_errors);
    tcase_add_test(tc, test_reload_after_stop);
    tcase_add_test(tc, test_reload_from_loop);
    tcase_add_test(tc, test_reload_before_run);

    return s;
}

SL_TEST_MAIN(embed_host_suite)
