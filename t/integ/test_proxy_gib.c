/*
 * test_proxy_gib.c -- 1 GiB through the proxy in each of its modes, and
 * proxy_splice falling back to the buffered path when splice() fails.
 *
 * "gib": 1 GiB to an echo backend and back, its sha256 checked by the
 * client, in each mode: plain with splice(2), plain through the buffers
 * (proxy_splice off), TLS terminated in front of a plain backend, TLS to a
 * TLS backend from a plain listener, and TLS on both sides. The error log
 * says whether splice ran, the backend's record how much it got, and the
 * access log the four counters, which must be exact -- and so the same
 * for both plain paths. It runs on the default event back end; with
 * SL_SLOW=1 on every back end. Under valgrind (SLUICE_WRAPPER) 1 GiB is
 * out of reach: each mode moves VG_LEN instead, and says so.
 *
 * "fallback": splice() is made to fail (t/lib/splicefail, preloaded into
 * sluice) in each of the four places the proxy calls it, after some bytes
 * went: an error that is not the peer's turns splice off and the session
 * goes on, every byte and counter intact; a reset or a broken pipe ends
 * it as the same error of recv() or send() would.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_preload.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_backend.h"
#include "sl_t_tls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif
#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif
#ifndef SL_HAVE_SPLICE
#define SL_HAVE_SPLICE  0
#endif

#define T_IO        20000                   /* ms for one exchange */
#define GIB         ((size_t) 1024 * 1024 * 1024)
#define VG_LEN      ((size_t) 16 * 1024 * 1024)
#define FAULT_LEN   ((size_t) 64 * 1024 * 1024)
#define FAULT_AT    (1024 * 1024)           /* bytes before splice fails */

#define LOG_FORMAT                                                            \
    "log_format n '$bytes_sent $bytes_received $upstream_bytes_sent "         \
    "$upstream_bytes_received';\n"                                            \
    "access_log logs/access.log n;\n"

enum {
    M_SPLICE = 0,
    M_BUFFERED,
    M_TLS_CLIENT,       /* terminated: "listen ... ssl", a plain backend */
    M_TLS_UPSTREAM,     /* proxy_ssl to a TLS backend */
    M_TLS_BOTH,
    M_N
};

static const char  *mode_name[M_N] = {
    "plain, splice", "plain, buffered", "TLS terminated", "TLS to upstream",
    "TLS both sides"
};

static int
slow(void)
{
    const char  *v = getenv("SL_SLOW");

    return v != NULL && strcmp(v, "1") == 0;
}

static int
valgrind(void)
{
    return getenv("SLUICE_WRAPPER") != NULL;
}

static const char *
pki(const char *name)
{
    return sl_t_printf("%s", sl_tt_file(name));
}

/* the first line of text at level with needle in it, or NULL */
static char *
log_line(const char *text, const char *level, const char *needle)
{
    const char  *p, *end;
    char        *line;

    for (p = text; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
        end = p + strcspn(p, "\n");
        line = sl_t_printf("%.*s", (int) (end - p), p);

        if (strstr(line, sl_t_printf("[%s] ", level)) != NULL
            && strstr(line, needle) != NULL)
        {
            return line;
        }
    }

    return NULL;
}

/* the one line of the access log: the four counters, exact */
static void
check_counters(sl_t_sluice_t *srv, size_t len)
{
    char  *text;

    text = sl_t_wait_lines(sl_t_path(srv->dir, "logs/access.log"), 1, T_IO);
    /* the greeting, 2 bytes, comes from the backend too */
    ck_assert_str_eq(text, sl_t_printf("%zu %zu %zu %zu\n", len + 2, len,
                                       len, len + 2));
}

/* the backend's record of the session: it got len */
static void
check_record(sl_t_backend_t *b, size_t len)
{
    char  *text, *want;

    text = sl_t_backend_wait_record(b, 1, T_IO);
    want = sl_t_printf("%s %zu ", b->id, len);
    ck_assert_msg(strncmp(text, want, strlen(want)) == 0,
                  "the backend's record: %s", text);
}

/* --- 1 GiB in each mode -------------------------------------------------- */

START_TEST(test_gib)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  b;
    const char     *use, *listen_ssl, *to_ssl, *backend;
    char           *log;
    size_t          len;
    long long       t0;
    int             mode = _i % M_N, tls_in, tls_out;

    tls_in = mode == M_TLS_CLIENT || mode == M_TLS_BOTH;
    tls_out = mode == M_TLS_UPSTREAM || mode == M_TLS_BOTH;

    if (tls_in && !SL_HAVE_stream_ssl_MODULE) {
        printf("test_proxy_gib: %s: skipped (no stream_ssl module)\n",
               mode_name[mode]);
        return;
    }

    len = valgrind() ? VG_LEN : GIB;
    if (valgrind()) {
        printf("test_proxy_gib: %s: under valgrind, %zu MiB instead of "
               "1 GiB\n", mode_name[mode], len >> 20);
    }

    /* SL_SLOW: every back end; else the default one */
    backend = slow() ? sl_t_backend(_i / M_N) : NULL;
    use = backend ? sl_t_printf("events { use %s; }\n", backend) : "";

    listen_ssl = tls_in ? sl_t_printf(" ssl; ssl_certificate %s;"
                                      " ssl_certificate_key %s",
                                      pki("ecdsa.crt"), pki("ecdsa.key"))
                        : "";

    if (tls_out) {
        sl_t_tls_backend_start(&b, "T", pki("rsa.crt"), pki("rsa.key"),
                               NULL);
        to_ssl = " proxy_ssl on;";
    } else {
        sl_t_backend_start(&b, "E", SL_TB_ECHO, 0);
        to_ssl = "";
    }

    sl_t_sluice_start(&srv, sl_t_printf(
        "%s"
        "stream {\n"
        LOG_FORMAT
        "    server {\n"
        "        listen 127.0.0.1:@PORT@%s;\n"
        "        proxy_pass 127.0.0.1:%d;%s%s\n"
        "    }\n"
        "}\n", use, listen_ssl, b.port, to_ssl,
        mode == M_BUFFERED ? " proxy_splice off;" : ""));

    t0 = sl_t_msec();

    if (tls_in) {
        sl_t_tls_echo_transfer(srv.port, len);
    } else {
        sl_t_echo_transfer(srv.port, len);
    }

    printf("test_proxy_gib: %s%s%s: %zu MiB each way in %lld ms\n",
           mode_name[mode], backend ? ", " : "", backend ? backend : "",
           len >> 20, sl_t_msec() - t0);

    check_record(&b, len);
    check_counters(&srv, len);

    /* the access log is written after the session's lines of the error log */
    log = sl_t_read(srv.log);

    if (mode == M_SPLICE && SL_HAVE_SPLICE) {
        ck_assert_msg(sl_t_count(log, "proxying with splice()") == 1, "%s", log);
        ck_assert_ptr_nonnull(log_line(log, "info", "proxying with splice()"));

    } else {
        /* buffered or TLS: never spliced */
        ck_assert_msg(sl_t_count(log, "splice()") == 0, "%s", log);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- splice() failing ---------------------------------------------------- */

typedef struct {
    const char  *kind;
    int          err;
    const char  *text;      /* strerror's, as the log has it */
} fault_t;

/* what the peer did not cause: the session goes on without splice */
static const fault_t  fallbacks[] = {
    { "up-in", EINVAL, "Invalid argument" },
    { "up-out", ENOSYS, "Function not implemented" },
    { "down-in", ENOMEM, "Cannot allocate memory" },
    { "down-out", EINVAL, "Invalid argument" },
};

/* what says the peer is gone: the session ends */
static const fault_t  peer_gone[] = {
    { "up-in", ECONNRESET, "Connection reset by peer" },
    { "down-out", EPIPE, "Broken pipe" },
};

/* the shim, or NULL (after saying why) when it cannot be used here */
static const char *
shim(const char *name)
{
    const char  *lib;

    if (!SL_HAVE_SPLICE) {
        printf("test_proxy_gib: %s: skipped (no splice(2) here)\n", name);
        return NULL;
    }

    lib = sl_t_printf("%s", sl_t_bin());
    lib = sl_t_printf("%.*s/t/libsl_t_splicefail.so",
                      (int) (strrchr(lib, '/') - lib), lib);

    if (!sl_t_exists(lib)) {
        printf("test_proxy_gib: %s: skipped (%s is not built)\n", name,
               lib);
        return NULL;
    }

    return lib;
}


/*
 * sluice with the shim preloaded, splice() failing as f says after
 * FAULT_AT bytes, to the backend b. Only sluice gets the variables: the
 * test's environment is put back once it started.
 */
static void
start_faulty(sl_t_sluice_t *srv, const char *lib, const fault_t *f,
    sl_t_backend_t *b)
{
    sl_t_preload_begin(lib, "SL_T_SPLICE_FAIL", sl_t_printf("%s %d %d %d",
                       f->kind, f->err, FAULT_AT, b->port));

    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        LOG_FORMAT
        "    server { listen 127.0.0.1:@PORT@; proxy_pass 127.0.0.1:%d; }\n"
        "}\n", b->port));

    sl_t_preload_end();
}

START_TEST(test_fallback)
{
    const fault_t   *f = &fallbacks[_i];
    sl_t_sluice_t    srv;
    sl_t_backend_t   e;
    const char      *lib;
    char            *log, *name, *line;
    size_t           len;

    name = sl_t_printf("fallback %s %d", f->kind, f->err);
    lib = shim(name);
    if (lib == NULL) {
        return;
    }

    len = valgrind() ? VG_LEN : FAULT_LEN;

    sl_t_backend_start(&e, "E", SL_TB_ECHO, 0);
    start_faulty(&srv, lib, f, &e);

    sl_t_echo_transfer(srv.port, len);

    check_record(&e, len);
    check_counters(&srv, len);

    log = sl_t_read(srv.log);

    /* it spliced, then it did not: one warning says so */
    ck_assert_msg(sl_t_count(log, "proxying with splice()") == 1, "%s", log);
    ck_assert_msg(sl_t_count(log, "proxying without splice()") == 1, "%s", log);
    line = log_line(log, "warn", sl_t_printf("splice() failed, proxying "
                                             "without splice() (%d: %s)",
                                             f->err, f->text));
    ck_assert_msg(line != NULL, "%s: no warning in:\n%s", name, log);
    /* with the session's context */
    ck_assert_msg(strstr(line, "client: 127.0.0.1") != NULL, "%s", line);

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * Sends pattern bytes while reading what comes back, until the proxy
 * ends the session or len went: what came back.
 */
static size_t
transfer_until_closed(int port, size_t len)
{
    static unsigned char  buf[65536];
    struct pollfd         pfd;
    size_t                off = 0, got = 0, n, i;
    ssize_t               r;
    int                   fd;

    fd = sl_t_connect_buf("127.0.0.1", port, 262144);
    ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);

    for ( ;; ) {
        pfd.fd = fd;
        pfd.events = POLLIN | (off < len ? POLLOUT : 0);
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(T_IO)) > 0,
                      "stuck at %zu sent, %zu back", off, got);

        if ((pfd.revents & POLLOUT) && off < len) {
            n = len - off < sizeof(buf) ? len - off : sizeof(buf);
            for (i = 0; i < n; i++) {
                buf[i] = sl_t_pattern(off + i);
            }
            r = send(fd, buf, n, MSG_NOSIGNAL);
            if (r == -1 && errno != EAGAIN) {
                break;
            }
            off += r > 0 ? (size_t) r : 0;
        }

        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = recv(fd, buf, sizeof(buf), 0);
            if (r == 0 || (r == -1 && errno != EAGAIN)) {
                break;
            }
            got += r > 0 ? (size_t) r : 0;
        }
    }

    close(fd);
    return got;
}

/* the pipes (FIFOs) among a process's descriptors */
static int
pipes_of(pid_t pid)
{
    struct stat     st;
    struct dirent  *de;
    DIR            *dir;
    int             n = 0;

    dir = opendir(sl_t_printf("/proc/%d/fd", (int) pid));
    ck_assert_ptr_nonnull(dir);

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] != '.'
            && stat(sl_t_printf("/proc/%d/fd/%s", (int) pid, de->d_name),
                    &st) == 0
            && S_ISFIFO(st.st_mode))
        {
            n++;
        }
    }

    (void) closedir(dir);
    return n;
}

/* 16k of the pattern at off, and its echo back */
static void
round_trip(int fd, size_t off)
{
    static char  out[16384], in[16384];
    size_t       i;

    for (i = 0; i < sizeof(out); i++) {
        out[i] = (char) sl_t_pattern(off + i);
    }

    sl_t_send_all(fd, out, sizeof(out), T_IO);
    ck_assert_int_eq(recv(fd, in, sizeof(in), MSG_WAITALL),
                     (ssize_t) sizeof(in));
    ck_assert(memcmp(in, out, sizeof(out)) == 0);
}

/*
 * Once splice is off for a session and its pipes are drained, they are
 * closed: a session that goes on through the buffers holds no pipe.
 */
START_TEST(test_fallback_closes_pipes)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  e;
    const char     *lib;
    char            id[8];
    size_t          off;
    int             fd, before;

    lib = shim("fallback closes pipes");
    if (lib == NULL) {
        return;
    }

    sl_t_backend_start(&e, "E", SL_TB_ECHO, 0);
    start_faulty(&srv, lib, &fallbacks[1], &e);

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_read_id(fd, id, sizeof(id), T_IO);
    before = pipes_of(sl_t_pid(srv.proc));     /* stdout, stderr ... */

    /* spliced both ways, then up-out fails past FAULT_AT */
    for (off = 0; off < 2 * FAULT_AT; off += 16384) {
        round_trip(fd, off);
    }

    sl_t_wait_file(srv.log, "proxying without splice()", T_IO);
    round_trip(fd, off);

    /* the session is open, everything echoed: it holds no pipe */
    ck_assert_int_eq(pipes_of(sl_t_pid(srv.proc)), before);

    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_peer_gone)
{
    const fault_t   *f = &peer_gone[_i];
    sl_t_sluice_t    srv;
    sl_t_backend_t   e;
    const char      *lib;
    char            *log, *name, *line;
    size_t           got;

    name = sl_t_printf("peer gone %s %d", f->kind, f->err);
    lib = shim(name);
    if (lib == NULL) {
        return;
    }

    sl_t_backend_start(&e, "E", SL_TB_ECHO, 0);
    start_faulty(&srv, lib, f, &e);

    got = transfer_until_closed(srv.port, FAULT_LEN);
    ck_assert_msg(got < FAULT_LEN, "the session went on: %zu back", got);

    /* the access log line comes once the session ended */
    (void) sl_t_wait_lines(sl_t_path(srv.dir, "logs/access.log"), 1, T_IO);
    log = sl_t_read(srv.log);

    /* logged as the I/O layer logs a peer's error, and no fallback */
    line = log_line(log, "info", sl_t_printf("splice() failed (%d: %s)",
                                             f->err, f->text));
    ck_assert_msg(line != NULL, "%s: not logged in:\n%s", name, log);
    ck_assert_msg(sl_t_count(log, "proxying without splice()") == 0, "%s", log);
    ck_assert_msg(sl_t_count(log, "disconnected") == 1, "%s", log);

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_not_built)
{
    ck_assert_int_eq(SL_HAVE_stream_proxy_MODULE, 0);
}
END_TEST

static Suite *
proxy_gib_suite(void)
{
    Suite  *s = suite_create("proxy_gib");
    TCase  *tc;

    tc = tcase_create("gib");
    sl_t_fixture(tc);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_proxy_MODULE) {
        tcase_add_test(tc, test_not_built);
        return s;
    }

    /*
     * The certificates, made once by the runner rather than by each test
     * (which is a child): RSA keys take long under valgrind.
     */
    if (sl_tt_pki() == NULL) {
        fprintf(stderr, "test_proxy_gib: cannot make the test PKI\n");
        exit(1);
    }

    /* 1 GiB takes seconds here: a margin for a loaded machine, valgrind */
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_gib, 0,
                        M_N * (slow() ? sl_t_nbackends() : 1));

    tc = tcase_create("fallback");
    sl_t_fixture(tc);
    tcase_add_checked_fixture(tc, NULL, sl_t_preload_end);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_fallback, 0,
                        (int) (sizeof(fallbacks) / sizeof(fallbacks[0])));
    tcase_add_loop_test(tc, test_peer_gone, 0,
                        (int) (sizeof(peer_gone) / sizeof(peer_gone[0])));
    tcase_add_test(tc, test_fallback_closes_pipes);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(proxy_gib_suite)
