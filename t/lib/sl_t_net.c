/*
 * sl_t_net.c -- a running sluice and its clients; see sl_t_net.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"    /* SL_HAVE_<back end>_MODULE */
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SL_T_START_TRIES  10
#define SL_T_START_MS     10000
#define SL_T_STOP_MS      10000

#define sl_t_net_fail(file, line, ...)                                        \
    ck_abort_msg("%s:%d: %s", file, line, sl_t_printf(__VA_ARGS__))

long long
sl_t_msec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
sl_t_replace(const char *text, const char *from, const char *to)
{
    const char  *p;
    char        *out = sl_t_printf("%s", "");

    while ((p = strstr(text, from)) != NULL) {
        out = sl_t_printf("%s%.*s%s", out, (int) (p - text), text, to);
        text = p + strlen(from);
    }

    return sl_t_printf("%s%s", out, text);
}

/* a loopback port nobody had a moment ago: the kernel's choice */
int
sl_t_loopback_port(void)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 s, port;

    s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ck_assert_int_eq(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *) &sin, &len), 0);
    port = ntohs(sin.sin_port);
    (void) close(s);
    return port;
}

int
sl_t_have_ipv6(void)
{
    struct sockaddr_in6  sin6;
    int                  s, ok;

    s = socket(AF_INET6, SOCK_STREAM, 0);
    if (s == -1) {
        return 0;
    }

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    ok = bind(s, (struct sockaddr *) &sin6, sizeof(sin6)) == 0;
    (void) close(s);
    return ok;
}

typedef struct {
    sl_t_sluice_t  *srv;
} sl_t_start_cond_t;

static int
sl_t_started(void *data)
{
    sl_t_sluice_t  *srv = data;
    char           *log;

    if (!sl_t_running(srv->proc)) {
        return 1;
    }

    log = sl_t_read(srv->log);
    return log != NULL && strstr(log, " started") != NULL;
}

static const char  *sl_t_built_backends[] = {
#if (SL_HAVE_epoll_MODULE)
    "epoll",
#endif
#if (SL_HAVE_kqueue_MODULE)
    "kqueue",
#endif
#if (SL_HAVE_poll_MODULE)
    "poll",
#endif
#if (SL_HAVE_select_MODULE)
    "select",
#endif
};

#define SL_T_NBUILT                                                           \
    ((int) (sizeof(sl_t_built_backends) / sizeof(sl_t_built_backends[0])))

int
sl_t_nbackends(void)
{
#if (SL_HAVE_kqueue_MODULE)
    return SL_T_NBUILT;
#else
    return SL_T_NBUILT + (getenv("SLUICE_BIN_KQUEUE") != NULL);
#endif
}

const char *
sl_t_backend(int i)
{
    return i < SL_T_NBUILT ? sl_t_built_backends[i] : "kqueue";
}

/* the stand-in's binary for a config on kqueue, else SLUICE_BIN */
static sl_t_proc_t *
sl_t_sluice_spawn(sl_t_sluice_t *srv, const char *conf_file,
    const char *text)
{
    const char   *kq = getenv("SLUICE_BIN_KQUEUE");
    char         *saved = NULL;
    sl_t_proc_t  *p;

    if (kq != NULL && strstr(text, "use kqueue;") != NULL) {
        saved = sl_t_printf("%s", getenv("SLUICE_BIN"));
        setenv("SLUICE_BIN", kq, 1);
    }

    p = sl_t_spawn(((char *[]) { "sluice", "-p", srv->dir, "-c",
                                 (char *) conf_file, NULL }));

    if (saved != NULL) {
        setenv("SLUICE_BIN", saved, 1);
    }

    return p;
}

/* 1: up; 0: the port was taken, try another; fails on anything else */
static int
sl_t_sluice_try(const char *file, int line, sl_t_sluice_t *srv,
    const char *conf_file, const char *conf)
{
    char  *text, *log;

    text = sl_t_replace(conf, "@PORT@", sl_t_printf("%d", srv->port));
    text = sl_t_replace(text, "@DIR@", srv->dir);

    if (conf_file == NULL) {
        conf_file = "conf/t.conf";
        text = sl_t_printf("daemon off;\nmaster_process off;\n"
                           "error_log logs/error.log info;\n%s", text);
    }

    sl_t_writef(srv->dir, conf_file, "%s", text);
    (void) unlink(srv->log);

    srv->proc = sl_t_sluice_spawn(srv, conf_file, text);

    if (sl_t_wait_for(sl_t_started, srv, srv->log, SL_T_START_MS) != 0) {
        sl_t_net_fail(file, line, "sluice did not start: %s",
                      sl_t_stderr(srv->proc));
    }

    if (sl_t_running(srv->proc)) {
        return 1;
    }

    log = sl_t_read(srv->log);
    if (strstr(sl_t_stderr(srv->proc), "Address already in use") != NULL
        || (log != NULL && strstr(log, "Address already in use") != NULL))
    {
        return 0;
    }

    sl_t_net_fail(file, line, "sluice exited at start: %s%s",
                  sl_t_stderr(srv->proc), log ? log : "");
    return 0;
}

void
sl_t_sluice_start_at(const char *file, int line, sl_t_sluice_t *srv,
    const char *conf_file, const char *conf)
{
    int  i;

    memset(srv, 0, sizeof(*srv));
    srv->dir = sl_t_mkdir();
    srv->log = sl_t_path(srv->dir, "logs/error.log");

    for (i = 0; i < SL_T_START_TRIES; i++) {
        srv->port = sl_t_loopback_port();
        if (sl_t_sluice_try(file, line, srv, conf_file, conf)) {
            return;
        }
    }

    sl_t_net_fail(file, line, "no free port in %d tries", SL_T_START_TRIES);
}

void
sl_t_sluice_stop_at(const char *file, int line, sl_t_sluice_t *srv)
{
    int  status;

    sl_t_signal(srv->proc, SIGTERM);
    status = sl_t_wait_exit(srv->proc, SL_T_STOP_MS);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        sl_t_net_fail(file, line, "sluice ended with status 0x%x: %s",
                      status, sl_t_stderr(srv->proc));
    }
}

int
sl_t_sluice_test_at(const char *file, int line, const char *conf,
    sl_t_out_t *out)
{
    char  *dir = sl_t_mkdir_at(file, line);

    sl_t_writef_at(file, line, dir, "conf/t.conf", "%s",
                   sl_t_replace(conf, "@DIR@", dir));

    return sl_t_run_at(file, line, NULL,
                       ((char *const []) { "sluice", "-t", "-p", dir, "-c",
                                           "conf/t.conf", NULL }),
                       out, SL_T_STOP_MS);
}

void
sl_t_conf_error_at(const char *file, int line, const char *conf,
    const char *msg)
{
    sl_t_out_t  out;
    int         rc;

    rc = sl_t_sluice_test_at(file, line, conf, &out);

    if (rc != 1 || strstr(out.err, msg) == NULL) {
        sl_t_net_fail(file, line, "sluice -t: exit %d, stderr: %s "
                      "(expected: %s); the configuration:\n%s", rc, out.err,
                      msg, conf);
    }
}

void
sl_t_conf_error_line_at(const char *file, int line, const char *conf,
    const char *msg, int conf_line)
{
    sl_t_out_t   out;
    const char  *p, *at;

    if (sl_t_sluice_test_at(file, line, conf, &out) != 1) {
        sl_t_net_fail(file, line, "sluice -t accepted:\n%s", conf);
    }

    p = strstr(out.err, msg);
    if (p == NULL) {
        sl_t_net_fail(file, line, "no \"%s\" in: %s", msg, out.err);
    }

    at = strstr(p, "conf/t.conf:");

    if (conf_line == 0 ? at != NULL : at == NULL || atoi(at + 12) != conf_line)
    {
        sl_t_net_fail(file, line, "\"%s\" not at line %d: %s", msg,
                      conf_line, out.err);
    }
}

int
sl_t_connect_at(const char *file, int line, const char *host, int port)
{
    return sl_t_connect_buf_at(file, line, host, port, 0);
}

int
sl_t_connect_buf_at(const char *file, int line, const char *host, int port,
    int size)
{
    struct sockaddr_in6  sin6;
    struct sockaddr_in   sin;
    struct sockaddr     *sa;
    socklen_t            len;
    int                  s, family;

    family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;

    if (family == AF_INET6) {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((in_port_t) port);
        ck_assert_int_eq(inet_pton(AF_INET6, host, &sin6.sin6_addr), 1);
        sa = (struct sockaddr *) &sin6;
        len = sizeof(sin6);
    } else {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((in_port_t) port);
        ck_assert_int_eq(inet_pton(AF_INET, host, &sin.sin_addr), 1);
        sa = (struct sockaddr *) &sin;
        len = sizeof(sin);
    }

    s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);

    /* before connect(): shrinking them later stalls TCP for seconds */
    if (size > 0) {
        ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size,
                                    sizeof(size)), 0);
        ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size,
                                    sizeof(size)), 0);
    }

    if (connect(s, sa, len) == -1) {
        sl_t_net_fail(file, line, "connect to %s port %d: %s", host, port,
                      strerror(errno));
    }

    return s;
}

int
sl_t_connect_from_at(const char *file, int line, const char *src,
    const char *host, int port)
{
    struct sockaddr_in  sin;
    int                 s;

    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, src, &sin.sin_addr), 1);

    if (bind(s, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        sl_t_net_fail(file, line, "bind to %s: %s", src, strerror(errno));
    }

    sin.sin_port = htons((in_port_t) port);
    ck_assert_int_eq(inet_pton(AF_INET, host, &sin.sin_addr), 1);

    if (connect(s, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        sl_t_net_fail(file, line, "connect to %s port %d from %s: %s", host,
                      port, src, strerror(errno));
    }

    return s;
}

int
sl_t_connect_unix_at(const char *file, int line, const char *path)
{
    struct sockaddr_un  saun;
    int                 s;

    memset(&saun, 0, sizeof(saun));
    saun.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(saun.sun_path));
    strcpy(saun.sun_path, path);

    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s == -1 || connect(s, (struct sockaddr *) &saun, sizeof(saun)) == -1)
    {
        sl_t_net_fail(file, line, "connect to %s: %s", path, strerror(errno));
    }

    return s;
}

/* waits for events on fd; fails when ms pass first */
static void
sl_t_poll_fd(const char *file, int line, int fd, short events,
    long long deadline)
{
    struct pollfd  pfd;
    long long      left;

    for ( ;; ) {
        left = deadline - sl_t_msec();
        if (left <= 0) {
            sl_t_net_fail(file, line, "socket %d: timed out", fd);
        }

        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;

        if (poll(&pfd, 1, (int) left) > 0) {
            return;
        }
    }
}

void
sl_t_send_all_at(const char *file, int line, int fd, const void *buf,
    size_t len, int ms)
{
    const char  *p = buf;
    long long    deadline = sl_t_msec() + sl_t_timeout(ms);
    ssize_t      n;

    while (len > 0) {
        sl_t_poll_fd(file, line, fd, POLLOUT, deadline);

        n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }

        if (n <= 0) {
            sl_t_net_fail(file, line, "send(): %s", strerror(errno));
        }

        p += n;
        len -= (size_t) n;
    }
}

size_t
sl_t_recv_all_at(const char *file, int line, int fd, void *buf, size_t size,
    int *reset, int ms)
{
    char       *p = buf, scratch[1];
    long long   deadline = sl_t_msec() + sl_t_timeout(ms);
    size_t      got = 0;
    ssize_t     n;

    if (reset != NULL) {
        *reset = 0;
    }

    for ( ;; ) {
        sl_t_poll_fd(file, line, fd, POLLIN, deadline);

        /* past size: read a byte so that an excess shows */
        n = recv(fd, got < size ? p + got : scratch,
                 got < size ? size - got : 1, MSG_DONTWAIT);

        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }

        if (n == -1 && errno == ECONNRESET && reset != NULL) {
            *reset = 1;
            return got;
        }

        if (n == -1) {
            sl_t_net_fail(file, line, "recv(): %s", strerror(errno));
        }

        if (n == 0) {
            return got;
        }

        if (got >= size) {
            sl_t_net_fail(file, line, "more than %zu bytes", size);
        }

        got += (size_t) n;
    }
}

long
sl_t_rss_kb(pid_t pid)
{
    char  *status, *p;

    status = sl_t_read(sl_t_printf("/proc/%d/status", (int) pid));
    if (status == NULL) {
        return -1;
    }

    p = strstr(status, "VmRSS:");
    return p != NULL ? strtol(p + 6, NULL, 10) : -1;
}

long
sl_t_cpu_ms(pid_t pid)
{
    char           *stat, *p;
    unsigned long   utime, stime;

    stat = sl_t_read(sl_t_printf("/proc/%d/stat", (int) pid));
    ck_assert_ptr_nonnull(stat);

    /* the command may hold spaces and parentheses: fields count from the
     * last ')'; utime and stime are fields 14 and 15 */
    p = strrchr(stat, ')');
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                            "%*u %lu %lu", &utime, &stime), 2);

    return (long) ((utime + stime) * 1000
                   / (unsigned long) sysconf(_SC_CLK_TCK));
}

char *
sl_t_recv_text_at(const char *file, int line, int fd, int *reset, int ms)
{
    char    buf[4096];
    size_t  n;

    n = sl_t_recv_all_at(file, line, fd, buf, sizeof(buf) - 1, reset, ms);
    close(fd);
    buf[n] = '\0';
    return sl_t_printf("%s", buf);
}
