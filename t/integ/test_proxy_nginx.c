/*
 * test_proxy_nginx.c -- a real peer: Debian's nginx serving HTTP behind
 * the real sluice, and curl (and wrk) in front of it.
 *
 * Each test starts nginx in a directory of its own (its configuration,
 * pid, logs, temporary directories and the files it serves: a small text
 * file and 1 MiB of random bytes) on 127.0.0.1 and a free port, then
 * sluice proxying to it, then runs curl as a child process. Through
 * sluice by address (spliced, on Linux), by an upstream group (buffered)
 * and through a TLS-terminating sluice, curl gets both files (their sha256
 * compared with the files'), a 404, three URLs over one connection, two
 * with "Connection: close" over two, and a byte range; sluice's access
 * log must count what curl counted. wrk, when installed, runs for two
 * seconds through sluice without an error.
 *
 * The peers are test-time dependencies (t/deps.sh installs them for
 * "test" as root, and only names them otherwise): without nginx or curl
 * the suite is one test that says so and passes; without wrk only the wrk
 * test does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif
#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif
#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif

#define T_START     10000       /* ms for nginx to listen */
#define T_CURL      30000       /* ms for one curl run */
#define T_LOG       10000       /* ms for an access log line */
#define CURL_MAX    20          /* curl --max-time, seconds (scaled) */
#define NGINX_TRIES 10
#define BIG         (1024 * 1024)
#define MAX_ARGS    48

#define SMALL_TEXT                                                            \
    "sluice test file\n"                                                      \
    "served by nginx, relayed by sluice, fetched by curl\n"

/* the programs, found when the suite is made (in the runner) */
static char  nginx_bin[PATH_MAX];
static char  curl_bin[PATH_MAX];
static char  wrk_bin[PATH_MAX];

typedef struct {
    sl_t_proc_t  *proc;
    char         *dir;          /* the prefix, with a trailing slash */
    char         *html;         /* the document root */
    char         *log;          /* its error log */
    char         *small_sha;    /* the sha256 of what it serves */
    char         *big_sha;
    int           port;
} nginx_t;

/* how sluice stands in front of nginx */
enum {
    FORM_ADDRESS = 0,           /* proxy_pass ADDR; spliced */
    FORM_UPSTREAM,              /* proxy_pass GROUP; buffered */
    FORM_TLS,                   /* listen ... ssl; proxy_pass ADDR */
    FORMS
};


/* --- finding the peers --------------------------------------------------- */

/*
 * name in PATH or in the sbin directories, which a user's PATH often
 * lacks (Debian's nginx is /usr/sbin/nginx); into buf, 0 when found
 */
static int
find_prog(const char *name, char *buf, size_t size)
{
    const char  *path = getenv("PATH");
    char         dirs[4096], *dir, *save;
    int          n;

    n = snprintf(dirs, sizeof(dirs), "%s:/usr/local/sbin:/usr/sbin:/sbin",
                 path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
    if (n < 0 || (size_t) n >= sizeof(dirs)) {
        return -1;
    }

    for (dir = strtok_r(dirs, ":", &save); dir != NULL;
         dir = strtok_r(NULL, ":", &save))
    {
        n = snprintf(buf, size, "%s/%s", dir, name);
        if (n > 0 && (size_t) n < size && access(buf, X_OK) == 0) {
            return 0;
        }
    }

    buf[0] = '\0';
    return -1;
}


/* --- files and digests --------------------------------------------------- */

/* the sha256 of len bytes (at most) of path from off, in hex; *got: read */
static char *
sha256_file(const char *path, long off, size_t len, size_t *got)
{
    unsigned char   buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned int    mdlen, i;
    EVP_MD_CTX     *ctx;
    size_t          n, total = 0;
    FILE           *f;
    char           *hex;

    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "fopen(\"%s\"): %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);

    ctx = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);

    while (total < len) {
        n = fread(buf, 1, len - total < sizeof(buf) ? len - total
                                                    : sizeof(buf), f);
        if (n == 0) {
            break;
        }
        (void) EVP_DigestUpdate(ctx, buf, n);
        total += n;
    }

    (void) fclose(f);
    (void) EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);

    hex = sl_t_printf("%*s", (int) (2 * mdlen), "");
    for (i = 0; i < mdlen; i++) {
        (void) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }

    if (got != NULL) {
        *got = total;
    }

    return hex;
}

#define sha256_all(path)  sha256_file(path, 0, (size_t) -1, NULL)

/* n random bytes into dir/name */
static void
write_random(const char *dir, const char *name, size_t n)
{
    unsigned char  *buf;
    char           *path;
    ssize_t         w;
    size_t          off;
    int             fd;

    buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(RAND_bytes(buf, (int) n), 1);

    path = sl_t_path(dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd != -1, "open(\"%s\"): %s", path, strerror(errno));

    for (off = 0; off < n; off += (size_t) w) {
        w = write(fd, buf + off, n - off);
        ck_assert_msg(w > 0, "write(\"%s\"): %s", path, strerror(errno));
    }

    free(buf);
    ck_assert_int_eq(close(fd), 0);
}


/* --- nginx --------------------------------------------------------------- */

/* it listens (a connection is accepted), or it has exited */
static int
nginx_up(void *data)
{
    nginx_t  *ngx = data;
    int       fd;

    if (!sl_t_running(ngx->proc)) {
        return 1;
    }

    fd = sl_t_try_connect(ngx->port);
    if (fd == -1) {
        return 0;
    }

    (void) close(fd);
    return 1;
}

/*
 * Every path inside its directory: nginx opens nothing of the system's
 * (the startup error log is given with -e), and no temporary directory
 * of /var/lib/nginx is needed.
 */
static void
nginx_conf(nginx_t *ngx)
{
    sl_t_writef(ngx->dir, "nginx.conf",
        "daemon off;\n"
        "master_process off;\n"
        "worker_processes 1;\n"
        "pid %snginx.pid;\n"
        "error_log %serror.log info;\n"
        "events { worker_connections 128; }\n"
        "http {\n"
        "    access_log %saccess.log;\n"
        "    client_body_temp_path %sclient_body_temp;\n"
        "    proxy_temp_path %sproxy_temp;\n"
        "    fastcgi_temp_path %sfastcgi_temp;\n"
        "    uwsgi_temp_path %suwsgi_temp;\n"
        "    scgi_temp_path %sscgi_temp;\n"
        "    default_type application/octet-stream;\n"
        "    server {\n"
        "        listen 127.0.0.1:%d;\n"
        "        root %s;\n"
        "    }\n"
        "}\n",
        ngx->dir, ngx->dir, ngx->dir, ngx->dir, ngx->dir, ngx->dir,
        ngx->dir, ngx->dir, ngx->port, ngx->html);
}

static void
nginx_start(nginx_t *ngx)
{
    char  *log;
    int    i;

    memset(ngx, 0, sizeof(*ngx));
    ngx->dir = sl_t_printf("%s/", sl_t_mkdir());
    ngx->html = sl_t_printf("%shtml", ngx->dir);
    ngx->log = sl_t_printf("%serror.log", ngx->dir);

    sl_t_write(ngx->dir, "html/small.txt", SMALL_TEXT);
    write_random(ngx->html, "big.bin", BIG);
    ngx->small_sha = sha256_all(sl_t_path(ngx->html, "small.txt"));
    ngx->big_sha = sha256_all(sl_t_path(ngx->html, "big.bin"));

    for (i = 0; i < NGINX_TRIES; i++) {
        ngx->port = sl_t_loopback_port();
        nginx_conf(ngx);
        (void) unlink(ngx->log);

        ngx->proc = sl_t_spawn(((char *[]) {
            nginx_bin, "-p", ngx->dir, "-c",
            sl_t_printf("%snginx.conf", ngx->dir), "-e", ngx->log, NULL }));

        ck_assert_msg(sl_t_wait_for(nginx_up, ngx, NULL, T_START) == 0,
                      "nginx does not listen on port %d: %s", ngx->port,
                      sl_t_stderr(ngx->proc));

        if (sl_t_running(ngx->proc)) {
            return;
        }

        /* the port was taken between our look and its bind: another */
        log = sl_t_read(ngx->log);
        if (log != NULL && strstr(log, "Address already in use") != NULL) {
            continue;
        }

        ck_abort_msg("nginx exited (%s): %s%s",
                     sl_t_status_text(sl_t_wait_exit(ngx->proc, T_START)),
                     sl_t_stderr(ngx->proc), log != NULL ? log : "");
    }

    ck_abort_msg("nginx: no free port in %d tries", NGINX_TRIES);
}


/* --- sluice -------------------------------------------------------------- */

#define ACCESS_FORMAT                                                         \
    "'$bytes_sent $bytes_received $upstream_bytes_received $status "        \
    "$upstream_addr'"

/*
 * A certificate for 127.0.0.1 as `make certs` makes it (t/mkcert.sh, the
 * openssl command: quick even when the test runs under valgrind), in a
 * directory of the test: its path without ".crt" or ".key".
 */
static char *
make_cert(void)
{
    char  *dir = sl_t_mkdir();

    ck_assert_int_eq(sl_t_run(((char *[]) { "sh",
                         sl_t_path(sl_t_src(), "t/mkcert.sh"), dir, "peer",
                         NULL }), NULL, T_CURL), 0);

    return sl_t_path(dir, "peer");
}

/* cert: for FORM_TLS, what make_cert() returned */
static void
sluice_start(sl_t_sluice_t *srv, nginx_t *ngx, int form, const char *cert)
{
    const char  *listen = "", *pass, *more = "", *group = "";

    pass = sl_t_printf("127.0.0.1:%d", ngx->port);

    switch (form) {

    case FORM_UPSTREAM:
        group = sl_t_printf("    upstream nginx { server 127.0.0.1:%d; }\n",
                            ngx->port);
        pass = "nginx";
        more = " proxy_splice off;";
        break;

    case FORM_TLS:
        listen = " ssl";
        more = sl_t_printf(" ssl_certificate %s.crt;"
                           " ssl_certificate_key %s.key;", cert, cert);
        break;
    }

    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        "    log_format t " ACCESS_FORMAT ";\n"
        "%s"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@%s;\n"
        "        proxy_pass %s;%s\n"
        "        access_log logs/access.log t;\n"
        "    }\n"
        "}\n", group, listen, pass, more));
}


/* --- curl ---------------------------------------------------------------- */

typedef struct {
    const char  *base;          /* "http://127.0.0.1:PORT" */
    const char  *ca;            /* --cacert, or NULL */
    char        *tmp;           /* where the downloads go */
} client_t;

/*
 * curl with a time limit, no configuration file, no proxy from the
 * environment, then the NULL-terminated args; what -w printed. It must
 * exit with 0.
 */
static char *
curl(client_t *cl, ...)
{
    sl_t_out_t   out;
    va_list      ap;
    char        *argv[MAX_ARGS], *arg;
    int          n = 0, rc;

    argv[n++] = curl_bin;
    argv[n++] = "-q";                   /* first: no .curlrc */
    argv[n++] = "-sS";
    argv[n++] = "--noproxy";
    argv[n++] = "*";
    argv[n++] = "--max-time";
    argv[n++] = sl_t_printf("%d", sl_t_timeout(CURL_MAX * 1000) / 1000);

    if (cl->ca != NULL) {
        argv[n++] = "--cacert";
        argv[n++] = (char *) cl->ca;
    }

    va_start(ap, cl);
    while ((arg = va_arg(ap, char *)) != NULL) {
        ck_assert_int_lt(n, MAX_ARGS - 1);
        argv[n++] = arg;
    }
    va_end(ap);
    argv[n] = NULL;

    rc = sl_t_run(argv, &out, T_CURL);
    ck_assert_msg(rc == 0, "curl exited with %d: %s", rc, out.err);

    return out.out;
}

static char *
url(client_t *cl, const char *path)
{
    return sl_t_printf("%s/%s", cl->base, path);
}

static char *
tmp(client_t *cl, const char *name)
{
    return sl_t_path(cl->tmp, name);
}

/* got holds what nginx serves as name (small.txt or big.bin) */
static void
same_file(const char *got, nginx_t *ngx, const char *name)
{
    const char  *want;

    want = strcmp(name, "big.bin") == 0 ? ngx->big_sha : ngx->small_sha;
    ck_assert_msg(strcmp(sha256_all(got), want) == 0,
                  "%s differs from %s/%s", got, ngx->html, name);
}

/* one GET of path: the status and size, the body the file's */
static void
check_get(client_t *cl, nginx_t *ngx, const char *path, size_t size)
{
    char  *w, *file;

    file = tmp(cl, path);
    w = curl(cl, "-D", tmp(cl, "headers"), "-o", file,
             "-w", "%{http_code} %{size_download}", url(cl, path), NULL);

    ck_assert_str_eq(w, sl_t_printf("200 %zu", size));
    same_file(file, ngx, path);

    /* nginx's own answer, not something on the way */
    ck_assert_ptr_nonnull(strstr(sl_t_read(tmp(cl, "headers")),
                                 "Server: nginx"));
}

/*
 * The first request of a fresh sluice: the line its access log writes
 * when the session ends must count what curl counted.
 */
static void
check_access_log(sl_t_sluice_t *srv, client_t *cl, nginx_t *ngx)
{
    unsigned long long   sent, received, up_received;
    unsigned long long   header, download, request;
    char                 addr[128], *w, *line;
    int                  status;

    w = curl(cl, "-o", tmp(cl, "log.bin"),
             "-w", "%{http_code} %{size_header} %{size_download}"
             " %{size_request}", url(cl, "big.bin"), NULL);
    ck_assert_int_eq(sscanf(w, "200 %llu %llu %llu", &header, &download,
                            &request), 3);
    ck_assert_uint_eq(download, BIG);
    same_file(tmp(cl, "log.bin"), ngx, "big.bin");

    line = sl_t_wait_lines(sl_t_path(srv->dir, "logs/access.log"), 1, T_LOG);
    ck_assert_msg(sscanf(line, "%llu %llu %llu %d %127s", &sent, &received,
                         &up_received, &status, addr) == 5,
                  "access log: %s", line);

    ck_assert_msg(sent == header + download, "$bytes_sent %llu, curl got "
                  "%llu + %llu: %s", sent, header, download, line);
    ck_assert_msg(received == request, "$bytes_received %llu, curl sent "
                  "%llu: %s", received, request, line);
    /* the bytes of nginx are the bytes to the client */
    ck_assert_msg(up_received == sent, "%s", line);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(addr, sl_t_printf("127.0.0.1:%d", ngx->port));
}

START_TEST(test_curl)
{
    sl_t_sluice_t   srv;
    nginx_t         ngx;
    client_t        cl;
    size_t          got;
    char           *w, *head, *part, *cert = NULL;

    if (_i == FORM_TLS) {
        cert = make_cert();
    }

    nginx_start(&ngx);
    sluice_start(&srv, &ngx, _i, cert);

    cl.tmp = sl_t_mkdir();
    cl.ca = NULL;
    cl.base = sl_t_printf("http://127.0.0.1:%d", srv.port);

    if (_i == FORM_TLS) {
        /* self-signed: the certificate is its own authority */
        cl.ca = sl_t_printf("%s.crt", cert);
        cl.base = sl_t_printf("https://127.0.0.1:%d", srv.port);
    }

    check_access_log(&srv, &cl, &ngx);

    /* the small file and the 1 MiB one */
    check_get(&cl, &ngx, "small.txt", sizeof(SMALL_TEXT) - 1);
    check_get(&cl, &ngx, "big.bin", BIG);

    /* not found: nginx's 404 page passes through */
    w = curl(&cl, "-o", tmp(&cl, "404.html"), "-w", "%{http_code}",
             url(&cl, "missing.txt"), NULL);
    ck_assert_str_eq(w, "404");
    ck_assert_ptr_nonnull(strstr(sl_t_read(tmp(&cl, "404.html")),
                                 "<title>404 Not Found</title>"));

    /* keep-alive: three requests, one connection through sluice */
    w = curl(&cl, "-o", tmp(&cl, "k1"), "-o", tmp(&cl, "k2"),
             "-o", tmp(&cl, "k3"),
             "-w", "%{http_code} %{num_connects}\n",
             url(&cl, "small.txt"), url(&cl, "big.bin"),
             url(&cl, "small.txt"), NULL);
    ck_assert_str_eq(w, "200 1\n200 0\n200 0\n");
    same_file(tmp(&cl, "k1"), &ngx, "small.txt");
    same_file(tmp(&cl, "k2"), &ngx, "big.bin");
    same_file(tmp(&cl, "k3"), &ngx, "small.txt");

    /* "Connection: close": nginx closes, so the second one connects anew */
    w = curl(&cl, "-H", "Connection: close", "-D", tmp(&cl, "c.headers"),
             "-o", tmp(&cl, "c1"), "-o", tmp(&cl, "c2"),
             "-w", "%{http_code} %{num_connects}\n",
             url(&cl, "big.bin"), url(&cl, "small.txt"), NULL);
    ck_assert_str_eq(w, "200 1\n200 1\n");
    head = sl_t_read(tmp(&cl, "c.headers"));
    ck_assert_msg(strstr(head, "Connection: close") != NULL, "%s", head);
    same_file(tmp(&cl, "c1"), &ngx, "big.bin");
    same_file(tmp(&cl, "c2"), &ngx, "small.txt");

    /* a range of the big file */
    w = curl(&cl, "-r", "1000-1999", "-D", tmp(&cl, "r.headers"),
             "-o", tmp(&cl, "range"),
             "-w", "%{http_code} %{size_download}",
             url(&cl, "big.bin"), NULL);
    ck_assert_str_eq(w, "206 1000");
    head = sl_t_read(tmp(&cl, "r.headers"));
    ck_assert_msg(strstr(head, sl_t_printf("Content-Range: bytes "
                                           "1000-1999/%d", BIG)) != NULL,
                  "%s", head);
    part = sha256_file(sl_t_path(ngx.html, "big.bin"), 1000, 1000, &got);
    ck_assert_uint_eq(got, 1000);
    ck_assert_str_eq(sha256_all(tmp(&cl, "range")), part);

    sl_t_sluice_stop(&srv);
}
END_TEST


/* --- wrk ----------------------------------------------------------------- */

START_TEST(test_wrk)
{
    sl_t_sluice_t   srv;
    sl_t_out_t      out;
    nginx_t         ngx;
    const char     *p;
    long            requests;
    int             rc, c, r, w, t;

    if (wrk_bin[0] == '\0') {
        printf("test_proxy_nginx: wrk part skipped: wrk not installed "
               "(apt-get install wrk)\n");
        fflush(stdout);
        return;
    }

    nginx_start(&ngx);
    sluice_start(&srv, &ngx, FORM_ADDRESS, NULL);

    /* a generous request timeout: sluice may run under valgrind */
    rc = sl_t_run(((char *[]) {
        wrk_bin, "-t1", "-c8", "-d2s", "--timeout", "10s",
        sl_t_printf("http://127.0.0.1:%d/small.txt", srv.port), NULL }),
        &out, T_CURL);
    ck_assert_msg(rc == 0, "wrk exited with %d: %s%s", rc, out.out, out.err);

    p = strstr(out.out, " requests in ");
    ck_assert_msg(p != NULL, "%s", out.out);
    while (p > out.out && p[-1] >= '0' && p[-1] <= '9') {
        p--;
    }
    requests = strtol(p, NULL, 10);
    ck_assert_msg(requests > 0, "%s", out.out);

    /* "Socket errors: connect 0, read 0, write 0, timeout 0" or none */
    p = strstr(out.out, "Socket errors:");
    if (p != NULL) {
        ck_assert_msg(sscanf(p, "Socket errors: connect %d, read %d, "
                             "write %d, timeout %d", &c, &r, &w, &t) == 4,
                      "%s", out.out);
        ck_assert_msg(c + r + w + t == 0, "%s", out.out);
    }

    ck_assert_msg(strstr(out.out, "Non-2xx") == NULL, "%s", out.out);

    sl_t_sluice_stop(&srv);
}
END_TEST


/* --- without the peers --------------------------------------------------- */

START_TEST(test_skipped)
{
    if (nginx_bin[0] == '\0') {
        printf("test_proxy_nginx: skipped: nginx not installed "
               "(apt-get install nginx-light)\n");
    }

    if (curl_bin[0] == '\0') {
        printf("test_proxy_nginx: skipped: curl not installed "
               "(apt-get install curl)\n");
    }

    fflush(stdout);
}
END_TEST

START_TEST(test_not_built)
{
    ck_assert_int_eq(SL_HAVE_stream_proxy_MODULE
                     && SL_HAVE_stream_log_MODULE, 0);
}
END_TEST

static Suite *
proxy_nginx_suite(void)
{
    Suite  *s = suite_create("proxy_nginx");
    TCase  *tc = tcase_create("proxy_nginx");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_proxy_MODULE || !SL_HAVE_stream_log_MODULE) {
        tcase_add_test(tc, test_not_built);
        return s;
    }

    (void) find_prog("nginx", nginx_bin, sizeof(nginx_bin));
    (void) find_prog("curl", curl_bin, sizeof(curl_bin));
    (void) find_prog("wrk", wrk_bin, sizeof(wrk_bin));

    if (nginx_bin[0] == '\0' || curl_bin[0] == '\0') {
        tcase_add_test(tc, test_skipped);
        return s;
    }

    /* the TLS form needs the ssl module */
    tcase_add_loop_test(tc, test_curl, 0,
                        SL_HAVE_stream_ssl_MODULE ? FORMS : FORM_TLS);
    tcase_add_test(tc, test_wrk);

    return s;
}

SL_TEST_MAIN(proxy_nginx_suite)
