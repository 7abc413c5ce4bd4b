/*
 * sl_t_embed.c -- instances in the test process, counts of what the
 * process holds, and clients for any thread; see sl_t_embed.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_embed.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#define SL_TE_CREATE_TRIES  10

#define sl_te_fail(file, line, ...)                                           \
    ck_abort_msg("%s:%d: %s", file, line, sl_t_printf(__VA_ARGS__))

static void
sl_te_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sl_te_why(char *why, size_t len, const char *fmt, ...)
{
    va_list  args;

    if (why == NULL || len == 0) {
        return;
    }

    va_start(args, fmt);
    (void) vsnprintf(why, len, fmt, args);
    va_end(args);
}

/* --- the log sink -------------------------------------------------------- */

void
sl_te_log_init(sl_te_log_t *log)
{
    memset(log, 0, sizeof(*log));
    (void) pthread_mutex_init(&log->lock, NULL);
    (void) pthread_cond_init(&log->cond, NULL);
}

void
sl_te_log_free(sl_te_log_t *log)
{
    free(log->text);
    (void) pthread_cond_destroy(&log->cond);
    (void) pthread_mutex_destroy(&log->lock);
    memset(log, 0, sizeof(*log));
}

static const char *
sl_te_level_name(int level)
{
    static const char  *names[] = { "?", "emerg", "alert", "crit", "error",
                                    "warn", "notice", "info", "debug" };

    return level >= 1 && level <= 8 ? names[level] : "?";
}

void
sl_te_log_sink(void *log_data, int level, const char *msg, size_t len)
{
    sl_te_log_t  *log = log_data;
    const char   *name = sl_te_level_name(level);
    size_t        need = strlen(name) + len + 5;
    char         *p;

    (void) pthread_mutex_lock(&log->lock);

    if (log->len + need > log->size) {
        p = realloc(log->text, (log->len + need) * 2);
        if (p == NULL) {
            (void) pthread_mutex_unlock(&log->lock);
            return;
        }
        log->text = p;
        log->size = (log->len + need) * 2;
    }

    log->len += (size_t) sprintf(log->text + log->len, "[%s] ", name);
    memcpy(log->text + log->len, msg, len);
    log->len += len;
    log->text[log->len++] = '\n';
    log->text[log->len] = '\0';
    log->lines++;

    (void) pthread_cond_broadcast(&log->cond);
    (void) pthread_mutex_unlock(&log->lock);
}

static int
sl_te_log_count_locked(sl_te_log_t *log, const char *needle)
{
    const char  *p, *eol;
    int          n = 0;

    for (p = log->text; p != NULL && *p != '\0'; p = eol + 1) {
        eol = strchr(p, '\n');
        if (memmem(p, (size_t) (eol - p), needle, strlen(needle)) != NULL) {
            n++;
        }
    }

    return n;
}

int
sl_te_log_count(sl_te_log_t *log, const char *needle)
{
    int  n;

    (void) pthread_mutex_lock(&log->lock);
    n = sl_te_log_count_locked(log, needle);
    (void) pthread_mutex_unlock(&log->lock);
    return n;
}

static struct timespec
sl_te_abstime(long long deadline)
{
    struct timespec  now, ts;
    long long        left = deadline - sl_t_msec();

    if (left < 0) {
        left = 0;
    }

    (void) clock_gettime(CLOCK_REALTIME, &now);
    ts.tv_sec = now.tv_sec + left / 1000;
    ts.tv_nsec = now.tv_nsec + (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

int
sl_te_log_wait(sl_te_log_t *log, const char *needle, int ms)
{
    long long        deadline = sl_te_deadline(ms);
    struct timespec  ts;
    int              found;

    (void) pthread_mutex_lock(&log->lock);

    while (!(found = sl_te_log_count_locked(log, needle) > 0)
           && sl_t_msec() < deadline)
    {
        ts = sl_te_abstime(deadline);
        (void) pthread_cond_timedwait(&log->cond, &log->lock, &ts);
    }

    (void) pthread_mutex_unlock(&log->lock);
    return found;
}

char *
sl_te_log_text(sl_te_log_t *log)
{
    char  *s;

    (void) pthread_mutex_lock(&log->lock);
    s = sl_t_printf("%s", log->text != NULL ? log->text : "");
    (void) pthread_mutex_unlock(&log->lock);
    return s;
}

/* --- a certificate ------------------------------------------------------- */

static char   sl_te_cert_dir[PATH_MAX];
static pid_t  sl_te_cert_owner;

static void
sl_te_certs_remove(void)
{
    if (sl_te_cert_dir[0] == '\0' || getpid() != sl_te_cert_owner) {
        return;
    }

    (void) unlink(sl_tt_path(sl_te_cert_dir, "ecdsa.crt"));
    (void) unlink(sl_tt_path(sl_te_cert_dir, "ecdsa.key"));
    (void) rmdir(sl_te_cert_dir);
}

const char *
sl_te_certs(void)
{
    const char  *tmp = getenv("SLUICE_TMP");

    if (sl_te_cert_dir[0] != '\0') {
        return sl_te_cert_dir;
    }

    snprintf(sl_te_cert_dir, sizeof(sl_te_cert_dir), "%s/sl-te-XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(sl_te_cert_dir) == NULL) {
        sl_te_cert_dir[0] = '\0';
        return NULL;
    }

    sl_te_cert_owner = getpid();
    (void) atexit(sl_te_certs_remove);

    if (sl_tt_cert(sl_te_cert_dir, "ecdsa", SL_TT_ECDSA, "localhost",
                   "DNS:localhost,IP:127.0.0.1", NULL, NULL) != 0)
    {
        sl_te_certs_remove();
        sl_te_cert_dir[0] = '\0';
        return NULL;
    }

    return sl_te_cert_dir;
}

/* --- instances ----------------------------------------------------------- */

char *
sl_te_text(sl_te_t *t, const char *conf)
{
    char  *text;

    text = sl_t_replace(conf, "@PORT@", sl_t_printf("%d", t->port[0]));
    text = sl_t_replace(text, "@PORT2@", sl_t_printf("%d", t->port[1]));
    if (strstr(text, "@CERTS@") != NULL) {
        ck_assert_ptr_nonnull(sl_te_certs());
        text = sl_t_replace(text, "@CERTS@", sl_te_certs());
    }
    if (strstr(text, "@DIR@") != NULL) {
        if (t->dir == NULL) {
            t->dir = sl_t_mkdir();
        }
        text = sl_t_replace(text, "@DIR@", t->dir);
    }
    return text;
}

static void
sl_te_pick_ports(sl_te_t *t)
{
    t->port[0] = sl_t_loopback_port();
    do {
        t->port[1] = sl_t_loopback_port();
    } while (t->port[1] == t->port[0]);
}

void
sl_te_create_at(const char *file, int line, sl_te_t *t, const char *conf,
    const sl_handler_reg_t *handlers, void *data)
{
    sl_instance_conf_t  c;
    int                 i, rc;

    memset(t, 0, sizeof(*t));
    sl_te_log_init(&t->log);

    for (i = 0; i < SL_TE_CREATE_TRIES; i++) {
        sl_te_pick_ports(t);

        memset(&c, 0, sizeof(c));
        c.size = sizeof(c);
        c.conf_string = sl_te_text(t, conf);
        c.handlers = handlers;
        c.data = data;
        c.log = sl_te_log_sink;
        c.log_data = &t->log;
        c.log_level = SL_LOG_INFO;

        rc = sl_instance_create(&c, &t->in, t->err, sizeof(t->err));
        if (rc == SL_OK) {
            ck_assert_ptr_nonnull(t->in);
            return;
        }

        if (strstr(t->err, "Address already in use") == NULL) {
            sl_te_fail(file, line, "sl_instance_create(): %d, \"%s\"; the "
                       "configuration:\n%s", rc, t->err, c.conf_string);
        }
    }

    sl_te_fail(file, line, "no free ports in %d tries", SL_TE_CREATE_TRIES);
}

void
sl_te_destroy_at(const char *file, int line, sl_te_t *t)
{
    int  rc = sl_instance_destroy(t->in);

    if (rc != SL_OK) {
        sl_te_fail(file, line, "sl_instance_destroy(): %d", rc);
    }

    t->in = NULL;
    sl_te_log_free(&t->log);
}

void
sl_te_start_at(const char *file, int line, sl_te_t *t)
{
    int  rc = sl_instance_start(t->in);

    if (rc != SL_OK) {
        sl_te_fail(file, line, "sl_instance_start(): %d", rc);
    }
}

void
sl_te_stop_join_at(const char *file, int line, sl_te_t *t, int how)
{
    int  rc;

    sl_instance_stop(t->in, how);
    rc = sl_instance_join(t->in);
    if (rc != SL_DONE) {
        sl_te_fail(file, line, "sl_instance_join(): %d, not SL_DONE", rc);
    }
}

/* --- what the suites assert --------------------------------------------- */

TCase *
sl_te_tcase(Suite *s, const char *name, int timeout)
{
    TCase  *tc = tcase_create(name);

    sl_t_fixture(tc);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

void
sl_te_echo_ok_at(const char *file, int line, int port, uint32_t seed,
    size_t len)
{
    char  why[1024];

    why[0] = '\0';
    if (sl_te_echo(port, seed, len, SL_TE_T_IO, why, sizeof(why)) != 0) {
        sl_te_fail(file, line, "echo on port %d: %s", port, why);
    }
}

void
sl_te_refused_at(const char *file, int line, int port)
{
    int  fd = sl_te_connect(port, 0);

    if (fd >= 0) {
        (void) close(fd);
    }
    if (fd != -ECONNREFUSED) {
        sl_te_fail(file, line, "connect to %d: %s", port,
                   fd >= 0 ? "accepted" : strerror(-fd));
    }
}

/* --- the process --------------------------------------------------------- */

int
sl_te_slow(void)
{
    const char  *w = getenv("SLUICE_WRAPPER");

    return w != NULL && *w != '\0';
}

int
sl_te_load(int n, int slow)
{
    return sl_te_slow() ? slow : n;
}

static int
sl_te_count_dir(const char *path)
{
    DIR            *d;
    struct dirent  *e;
    int             n = 0;

    d = opendir(path);
    if (d == NULL) {
        return -1;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }

    (void) closedir(d);
    return n;
}

int
sl_te_nfds(void)
{
    /* the directory's own descriptor is among what it lists */
    return sl_te_count_dir("/proc/self/fd") - 1;
}

int
sl_te_nthreads(void)
{
    return sl_te_count_dir("/proc/self/task");
}

static void *
sl_te_noop_thread(void *arg)
{
    *(pid_t *) arg = gettid();
    return NULL;
}

int
sl_te_thread_baseline(void)
{
    static const struct timespec  tick = { 0, 1000000 };
    long long                     deadline = sl_te_deadline(5000);
    pthread_t                     th;
    pid_t                         tid = 0;
    char                          path[64];

    ck_assert_int_eq(pthread_create(&th, NULL, sl_te_noop_thread, &tid), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);

    snprintf(path, sizeof(path), "/proc/self/task/%d", (int) tid);
    while (access(path, F_OK) == 0 && sl_t_msec() < deadline) {
        (void) nanosleep(&tick, NULL);
    }

    return sl_te_nthreads();
}

int
sl_te_threads_settle(int want, int ms)
{
    static const struct timespec  tick = { 0, 1000000 };
    long long                     deadline = sl_te_deadline(ms);
    int                           n;

    while ((n = sl_te_nthreads()) != want && sl_t_msec() < deadline) {
        (void) nanosleep(&tick, NULL);
    }

    return n;
}

size_t
sl_te_heap(void)
{
    struct mallinfo2  mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

long long
sl_te_deadline(int ms)
{
    return sl_t_msec() + sl_t_timeout(ms);
}

struct timespec
sl_te_after(int ms)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long) (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* --- bytes --------------------------------------------------------------- */

unsigned char
sl_te_byte(uint32_t seed, size_t off)
{
    uint32_t  x = seed * 2654435761u + (uint32_t) off * 40503u;

    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return (unsigned char) x;
}

void
sl_te_fill(unsigned char *buf, uint32_t seed, size_t off, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = sl_te_byte(seed, off + i);
    }
}

size_t
sl_te_check(const unsigned char *buf, uint32_t seed, size_t off, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (buf[i] != sl_te_byte(seed, off + i)) {
            return i;
        }
    }

    return len;
}

/* --- sockets ------------------------------------------------------------- */

/* 1: the events came; 0: the deadline passed */
static int
sl_te_poll(int fd, short events, long long deadline)
{
    struct pollfd  pfd;
    long long      left;

    for ( ;; ) {
        left = deadline - sl_t_msec();
        if (left <= 0) {
            return 0;
        }

        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int) left) > 0) {
            return 1;
        }
    }
}

int
sl_te_connect(int port, int bufsize)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(int);
    int                 s, err = 0;

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == -1) {
        return -errno;
    }

    if (bufsize > 0) {
        (void) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(int));
        (void) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(int));
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(s, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        err = errno;
        if (err == EINPROGRESS) {
            err = sl_te_poll(s, POLLOUT, sl_te_deadline(20000)) ? 0
                                                                 : ETIMEDOUT;
            if (err == 0) {
                (void) getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
    }

    if (err != 0) {
        (void) close(s);
        return -err;
    }

    return s;
}

int
sl_te_send(int fd, const void *buf, size_t len, long long deadline)
{
    const char  *p = buf;
    ssize_t      n;

    while (len > 0) {
        n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }

        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            return -errno;
        }

        if (!sl_te_poll(fd, POLLOUT, deadline)) {
            return -ETIMEDOUT;
        }
    }

    return 0;
}

size_t
sl_te_recv(int fd, void *buf, size_t len, long long deadline, int *err)
{
    char     *p = buf;
    size_t    got = 0;
    ssize_t   n;

    *err = 0;

    while (got < len) {
        n = recv(fd, p + got, len - got, MSG_DONTWAIT);

        if (n > 0) {
            got += (size_t) n;
            continue;
        }

        if (n == 0) {
            return got;
        }

        if (errno != EAGAIN && errno != EINTR) {
            *err = errno;
            return got;
        }

        if (!sl_te_poll(fd, POLLIN, deadline)) {
            *err = ETIMEDOUT;
            return got;
        }
    }

    return got;
}

int
sl_te_recv_end(int fd, long long deadline)
{
    char  c;
    int   err;

    if (sl_te_recv(fd, &c, 1, deadline, &err) == 1) {
        return -1;
    }

    return err;
}

void
sl_te_reset(int fd)
{
    struct linger  l = { 1, 0 };

    (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    (void) close(fd);
}

/* --- echo sessions ------------------------------------------------------- */

typedef struct {
    uint32_t        seed;
    size_t          len;
    size_t          sent;
    size_t          got;
    unsigned char   buf[16384];
} sl_te_stream_t;

/* what came is the stream: 0, or -1 with why */
static int
sl_te_take(sl_te_stream_t *st, const unsigned char *p, size_t n, char *why,
    size_t whylen)
{
    size_t  at = sl_te_check(p, st->seed, st->got, n);

    if (at < n || st->got + n > st->len) {
        sl_te_why(why, whylen, "seed %u: byte %zu of %zu is wrong", st->seed,
                  st->got + at, st->len);
        return -1;
    }

    st->got += n;
    return 0;
}

/* sends what the socket takes now: 0, or -errno */
static int
sl_te_push(int fd, sl_te_stream_t *st)
{
    size_t   n = st->len - st->sent;
    ssize_t  k;

    n = n < sizeof(st->buf) ? n : sizeof(st->buf);
    sl_te_fill(st->buf, st->seed, st->sent, n);

    k = send(fd, st->buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) {
        st->sent += (size_t) k;
    } else if (k == -1 && errno != EAGAIN && errno != EINTR) {
        return -errno;
    }

    return 0;
}

/* reads what is there: SL_TE_OK, SL_TE_CUT (an end), SL_TE_BAD */
static int
sl_te_pull(int fd, sl_te_stream_t *st, char *why, size_t whylen)
{
    unsigned char  in[16384];
    ssize_t        k;

    k = recv(fd, in, sizeof(in), MSG_DONTWAIT);

    if (k > 0) {
        return sl_te_take(st, in, (size_t) k, why, whylen) == 0 ? SL_TE_OK
                                                                : SL_TE_BAD;
    }

    if (k == -1 && (errno == EAGAIN || errno == EINTR)) {
        return SL_TE_OK;
    }

    sl_te_why(why, whylen, "seed %u: %s after %zu of %zu bytes", st->seed,
              k == 0 ? "FIN" : strerror(errno), st->got, st->len);
    return (k == 0 || errno == ECONNRESET || errno == EPIPE) ? SL_TE_CUT
                                                             : SL_TE_BAD;
}

static int
sl_te_echo_fd(int fd, sl_te_stream_t *st, long long deadline, char *why,
    size_t whylen)
{
    struct pollfd  pfd;
    int            rc;

    while (st->got < st->len) {
        pfd.fd = fd;
        pfd.events = POLLIN | (st->sent < st->len ? POLLOUT : 0);
        pfd.revents = 0;

        if (sl_t_msec() >= deadline) {
            sl_te_why(why, whylen, "seed %u: timed out with %zu of %zu "
                      "bytes sent, %zu back", st->seed, st->sent, st->len,
                      st->got);
            return SL_TE_BAD;
        }

        if (poll(&pfd, 1, (int) (deadline - sl_t_msec())) <= 0) {
            continue;
        }

        if ((pfd.revents & POLLOUT) && (rc = sl_te_push(fd, st)) != 0) {
            sl_te_why(why, whylen, "seed %u: send(): %s after %zu of %zu "
                      "bytes", st->seed, strerror(-rc), st->sent, st->len);
            return (rc == -EPIPE || rc == -ECONNRESET) ? SL_TE_CUT
                                                       : SL_TE_BAD;
        }

        if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
            rc = sl_te_pull(fd, st, why, whylen);
            if (rc != SL_TE_OK) {
                return rc;
            }
        }
    }

    return SL_TE_OK;
}

int
sl_te_echo_outcome(int port, uint32_t seed, size_t len, int ms, size_t *got,
    char *why, size_t whylen)
{
    sl_te_stream_t  *st;
    int              fd, rc;

    *got = 0;

    fd = sl_te_connect(port, 0);
    if (fd < 0) {
        sl_te_why(why, whylen, "connect to port %d: %s", port,
                  strerror(-fd));
        /* a reset: it was in the listen queue when that closed */
        return fd == -ECONNREFUSED ? SL_TE_REFUSED
               : fd == -ECONNRESET ? SL_TE_CUT : SL_TE_BAD;
    }

    st = calloc(1, sizeof(sl_te_stream_t));
    if (st == NULL) {
        (void) close(fd);
        sl_te_why(why, whylen, "out of memory");
        return SL_TE_BAD;
    }

    st->seed = seed;
    st->len = len;
    rc = sl_te_echo_fd(fd, st, sl_te_deadline(ms), why, whylen);
    *got = st->got;

    free(st);
    (void) close(fd);
    return rc;
}

int
sl_te_echo(int port, uint32_t seed, size_t len, int ms, char *why,
    size_t whylen)
{
    size_t  got;

    return sl_te_echo_outcome(port, seed, len, ms, &got, why, whylen)
           == SL_TE_OK ? 0 : -1;
}

/* --- TLS ----------------------------------------------------------------- */

SSL_CTX *
sl_te_tls_ctx(void)
{
    SSL_CTX  *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx != NULL) {
        (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }

    return ctx;
}

/* waits for what rc asked for: 1 go on, 0 failed (why set) */
static int
sl_te_tls_wait(SSL *ssl, int fd, int rc, long long deadline, char *why,
    size_t whylen, const char *what)
{
    int  e = SSL_get_error(ssl, rc);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (sl_te_poll(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                       deadline))
        {
            return 1;
        }
        sl_te_why(why, whylen, "%s: timed out", what);
        return 0;
    }

    sl_te_why(why, whylen, "%s: SSL error %d, errno %d, %lx", what, e, errno,
              ERR_peek_error());
    ERR_clear_error();
    return 0;
}

static int
sl_te_tls_session(SSL *ssl, int fd, sl_te_stream_t *st, long long deadline,
    char *why, size_t whylen)
{
    unsigned char  in[16384];
    size_t         n;
    int            rc;

    while ((rc = SSL_connect(ssl)) != 1) {
        if (!sl_te_tls_wait(ssl, fd, rc, deadline, why, whylen, "handshake")) {
            return -1;
        }
    }

    /* a chunk out, then all that came back, so that nothing stalls */
    while (st->got < st->len) {
        if (st->sent < st->len) {
            n = st->len - st->sent < 4096 ? st->len - st->sent : 4096;
            sl_te_fill(st->buf, st->seed, st->sent, n);
            while ((rc = SSL_write(ssl, st->buf, (int) n)) <= 0) {
                if (!sl_te_tls_wait(ssl, fd, rc, deadline, why, whylen,
                                    "SSL_write()"))
                {
                    return -1;
                }
            }
            st->sent += n;
        }

        rc = SSL_read(ssl, in, sizeof(in));
        if (rc > 0) {
            if (sl_te_take(st, in, (size_t) rc, why, whylen) != 0) {
                return -1;
            }
            continue;
        }

        if (st->sent < st->len
            && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ)
        {
            continue;
        }

        if (!sl_te_tls_wait(ssl, fd, rc, deadline, why, whylen,
                            "SSL_read()"))
        {
            return -1;
        }
    }

    (void) SSL_shutdown(ssl);
    return 0;
}

int
sl_te_tls_echo(SSL_CTX *ctx, int port, uint32_t seed, size_t len, int ms,
    char *why, size_t whylen)
{
    sl_te_stream_t  *st;
    SSL             *ssl;
    int              fd, rc = -1;

    fd = sl_te_connect(port, 0);
    if (fd < 0) {
        sl_te_why(why, whylen, "connect to port %d: %s", port,
                  strerror(-fd));
        return -1;
    }

    st = calloc(1, sizeof(sl_te_stream_t));
    ssl = SSL_new(ctx);

    if (st == NULL || ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        sl_te_why(why, whylen, "out of memory");
    } else {
        st->seed = seed;
        st->len = len;
        rc = sl_te_tls_session(ssl, fd, st, sl_te_deadline(ms), why, whylen);
    }

    SSL_free(ssl);
    free(st);
    (void) close(fd);
    return rc;
}

/* --- the pool ------------------------------------------------------------ */

typedef struct {
    sl_te_pool_t  *pool;
    int            worker;
} sl_te_worker_t;

static int
sl_te_pool_stopped(sl_te_pool_t *p)
{
    int  stop;

    (void) pthread_mutex_lock(&p->lock);
    stop = p->stop;
    (void) pthread_mutex_unlock(&p->lock);
    return stop;
}

static void
sl_te_pool_count(sl_te_pool_t *p, int rc, const char *why)
{
    (void) pthread_mutex_lock(&p->lock);
    if (rc == 0) {
        p->done++;
    } else if (p->failed++ == 0) {
        snprintf(p->why, sizeof(p->why), "%s", why);
    }
    (void) pthread_cond_broadcast(&p->cond);
    (void) pthread_mutex_unlock(&p->lock);
}

static void *
sl_te_worker(void *arg)
{
    sl_te_worker_t  *w = arg;
    sl_te_pool_t    *p = w->pool;
    char             why[512];
    int              i, rc;

    for (i = 0; p->per_thread < 0 || i < p->per_thread; i++) {
        if (p->per_thread < 0 && sl_te_pool_stopped(p)) {
            break;
        }

        why[0] = '\0';
        rc = p->job(p->data, w->worker, i, why, sizeof(why));
        sl_te_pool_count(p, rc, why);

        if (rc != 0) {
            break;          /* one failure says it; no cascade of them */
        }
    }

    free(w);
    return NULL;
}

void
sl_te_pool_start(sl_te_pool_t *p, int threads, int per_thread,
    sl_te_job_pt job, void *data)
{
    sl_te_worker_t  *w;
    int              i;

    memset(p, 0, sizeof(*p));
    (void) pthread_mutex_init(&p->lock, NULL);
    (void) pthread_cond_init(&p->cond, NULL);
    p->nthreads = threads;
    p->per_thread = per_thread;
    p->job = job;
    p->data = data;
    p->threads = calloc((size_t) threads, sizeof(pthread_t));
    ck_assert_ptr_nonnull(p->threads);

    for (i = 0; i < threads; i++) {
        w = malloc(sizeof(sl_te_worker_t));
        ck_assert_ptr_nonnull(w);
        w->pool = p;
        w->worker = i;
        ck_assert_int_eq(pthread_create(&p->threads[i], NULL, sl_te_worker,
                                        w), 0);
    }
}

long
sl_te_pool_done(sl_te_pool_t *p)
{
    long  n;

    (void) pthread_mutex_lock(&p->lock);
    n = p->done;
    (void) pthread_mutex_unlock(&p->lock);
    return n;
}

int
sl_te_pool_wait(sl_te_pool_t *p, long n, int ms)
{
    long long        deadline = sl_te_deadline(ms);
    struct timespec  ts;
    int              ok;

    (void) pthread_mutex_lock(&p->lock);

    while (!(ok = p->done >= n) && p->failed == 0
           && sl_t_msec() < deadline)
    {
        ts = sl_te_abstime(deadline);
        (void) pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }

    (void) pthread_mutex_unlock(&p->lock);
    return ok;
}

void
sl_te_pool_stop(sl_te_pool_t *p)
{
    (void) pthread_mutex_lock(&p->lock);
    p->stop = 1;
    (void) pthread_mutex_unlock(&p->lock);
}

long
sl_te_pool_join(sl_te_pool_t *p)
{
    int  i;

    for (i = 0; i < p->nthreads; i++) {
        (void) pthread_join(p->threads[i], NULL);
    }

    free(p->threads);
    p->threads = NULL;
    (void) pthread_cond_destroy(&p->cond);
    (void) pthread_mutex_destroy(&p->lock);
    return p->failed;
}
