/*
 * test_tls.c -- "listen ... ssl" end to end: the real binary with real
 * certificates (t/lib/sl_t_tls.h) against an OpenSSL client in the test.
 *
 * On every back end: echo over TLS, close_notify against a truncated
 * stream, the handshake timeout (silent and stalled clients), garbage and
 * plain text on a TLS port, 64 MiB each way with random write sizes and
 * TLS 1.3 KeyUpdates on the way, checked by hash; TLS 1.2 renegotiation
 * (allowed, with data in flight, and refused), and echo_timeout while a
 * write waits for a renegotiation left half-way. On the default back end:
 * SNI server selection and ssl_reject_handshake (the chosen server's
 * protocols, ciphers, TLS 1.3 suites and renegotiation; malformed names
 * and their alerts), ALPN, client certificates (on, optional,
 * optional_no_ca), session resumption through the cache and through
 * tickets, RSA against ECDSA certificates, the $ssl_* variables,
 * ssl_password_file (a FIFO too), ssl_conf_command files relative to the
 * configuration, and configuration errors with their FILE:LINE and
 * OpenSSL's reason.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_t_storm.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_tls.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif

#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif

#define T_IO        20000       /* ms for one exchange */
#define T_BULK      60000       /* ms for a bulk transfer */
#define BULK        (64 * 1024 * 1024)

#define NBACKENDS  sl_t_nbackends()

static const char *
pki(const char *name)
{
    return sl_t_printf("%s", sl_tt_file(name));
}

/* ssl_certificate and its key, from the test PKI */
static const char *
cert(const char *name)
{
    return sl_t_printf("ssl_certificate %s; ssl_certificate_key %s;",
                       pki(sl_t_printf("%s.crt", name)),
                       pki(sl_t_printf("%s.key", name)));
}

static void
start_tls(sl_t_sluice_t *srv, int backend, const char *body)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n%s\n}\n", sl_t_backend(backend), body));
}

/* a TLS client over a fresh connection; 1 when the handshake succeeded */
static int
client_fd(sl_tt_peer_t *p, int fd, const sl_tt_opts_t *o)
{
    ck_assert_int_eq(sl_tt_peer_init(p, fd, 0, o), 0);
    return sl_tt_handshake(p, T_IO);
}

static int
client(sl_tt_peer_t *p, int port, const sl_tt_opts_t *o)
{
    return client_fd(p, sl_t_connect("127.0.0.1", port), o);
}

static void
client_close(sl_tt_peer_t *p)
{
    int  fd = p->fd;

    sl_tt_peer_free(p);
    close(fd);
}

/*
 * What the server sends until it ends the stream, into buf (NUL-ended):
 * returns 0 when it ended with close_notify, -1 when it did not (reset,
 * truncation, error).
 */
static int
read_to_end(sl_tt_peer_t *p, char *buf, size_t size)
{
    size_t   got = 0;
    ssize_t  n;

    for ( ;; ) {
        n = sl_tt_read(p, buf + got, size - 1 - got, T_IO);
        if (n <= 0) {
            buf[got] = '\0';
            return n == 0 ? 0 : -1;
        }

        got += (size_t) n;
        ck_assert_uint_lt(got, size - 1);
    }
}

/* one connection: the text a "return" server answers; NULL on failure */
static const char *
answer_fd(int fd, const sl_tt_opts_t *o, sl_tt_peer_t *keep)
{
    sl_tt_peer_t   p;
    char           buf[8192];

    if (!client_fd(&p, fd, o)) {
        client_close(&p);
        return NULL;
    }

    buf[0] = '\0';
    (void) read_to_end(&p, buf, sizeof(buf));

    if (keep != NULL) {
        *keep = p;
        return sl_t_printf("%s", buf);
    }

    client_close(&p);
    return sl_t_printf("%s", buf);
}

static const char *
answer(int port, const sl_tt_opts_t *o, sl_tt_peer_t *keep)
{
    return answer_fd(sl_t_connect("127.0.0.1", port), o, keep);
}

/* the same over the unix socket DIR/name */
static const char *
answer_unix(sl_t_sluice_t *srv, const char *name, const sl_tt_opts_t *o)
{
    return answer_fd(sl_t_connect_unix(sl_t_path(srv->dir, name)), o, NULL);
}

/* waits for the server to end a plain connection: 0 FIN, 1 reset */
static int
wait_closed(int fd)
{
    char            buf[4096];
    struct pollfd   pfd;
    long long       end = sl_t_msec() + sl_t_timeout(T_IO);
    ssize_t         n;

    for ( ;; ) {
        pfd.fd = fd;
        pfd.events = POLLIN;
        ck_assert_msg(poll(&pfd, 1, (int) (end - sl_t_msec())) > 0,
                      "the server did not close the connection");

        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0) {
            return 0;
        }

        if (n < 0) {
            ck_assert_int_eq(errno, ECONNRESET);
            return 1;
        }
    }
}

/* a line of the log at level ("info") that contains needle, or NULL */
static const char *
log_line(const char *text, const char *level, const char *needle)
{
    const char  *p, *bol, *eol;
    char        *tag = sl_t_printf("[%s] ", level);

    for (p = text; p != NULL && (p = strstr(p, needle)) != NULL; p = eol) {
        bol = p;
        while (bol > text && bol[-1] != '\n') {
            bol--;
        }

        eol = strchr(p, '\n');
        if (eol == NULL) {
            eol = p + strlen(p);
        }

        if (memmem(bol, (size_t) (eol - bol), tag, strlen(tag)) != NULL) {
            return sl_t_printf("%.*s", (int) (eol - bol), bol);
        }

        if (*eol == '\0') {
            break;
        }
    }

    return NULL;
}

typedef struct {
    const char  *log;
    const char  *level;
    const char  *needle;
} log_wait_t;

static int
log_line_cond(void *data)
{
    log_wait_t  *lw = data;
    char        *text = sl_t_read(lw->log);

    return text != NULL && log_line(text, lw->level, lw->needle) != NULL;
}

/* until the log has a line at level with needle in it */
static void
wait_log(sl_t_sluice_t *srv, const char *level, const char *needle)
{
    log_wait_t  lw = { srv->log, level, needle };

    ck_assert_msg(sl_t_wait_for(log_line_cond, &lw, srv->log,
                                sl_t_timeout(T_IO)) == 0,
                  "no [%s] \"%s\" in:\n%s", level, needle,
                  sl_t_read(srv->log));
}

static void
assert_log_clean(sl_t_sluice_t *srv)
{
    char  *log = sl_t_read(srv->log);

    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "[alert]") == NULL
                  && strstr(log, "[crit]") == NULL
                  && strstr(log, "[emerg]") == NULL, "%s", log);
}

/* --- echo, close_notify, truncation -------------------------------------- */

START_TEST(test_echo)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;
    char           buf[64];

    start_tls(&srv, _i, sl_t_printf(
        "server { listen 127.0.0.1:@PORT@ ssl; %s echo; }", cert("rsa")));

    ck_assert(client(&p, srv.port, NULL));
    ck_assert(sl_tt_write(&p, "hello, tls\n", 11, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 11, T_IO));
    ck_assert(memcmp(buf, "hello, tls\n", 11) == 0);
    ck_assert_str_eq(sl_tt_peer_cn(&p), "localhost");

    ck_assert(sl_tt_write(&p, "again", 5, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 5, T_IO));
    ck_assert(memcmp(buf, "again", 5) == 0);

    /* the client's close_notify ends the session */
    ck_assert(sl_tt_shutdown(&p, 0, T_IO));
    ck_assert_int_le(sl_tt_read(&p, buf, sizeof(buf), T_IO), 0);
    client_close(&p);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * The server ends a stream with close_notify, which tells the client the
 * end is the real one; a client that only drops TCP (a truncation) ends
 * its session as an end of input, and the server goes on serving.
 */
START_TEST(test_close_notify_vs_truncation)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;
    char           buf[256];

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s return \"bye\\n\"; }\n"
        "  server { listen unix:@DIR@/echo.sock ssl; %s echo; }\n"
        "}\n", sl_t_backend(_i), cert("rsa"), cert("rsa")));

    /* the server's end: the text, then close_notify (not a truncation) */
    ck_assert(client(&p, srv.port, NULL));
    ck_assert_int_eq(read_to_end(&p, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "bye\n");
    client_close(&p);

    /* the client's truncation: FIN without close_notify */
    ck_assert(client_fd(&p, sl_t_connect_unix(sl_t_path(srv.dir,
                                                         "echo.sock")), NULL));
    ck_assert(sl_tt_write(&p, "abc", 3, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 3, T_IO));
    ck_assert(memcmp(buf, "abc", 3) == 0);
    ck_assert_int_eq(shutdown(p.fd, SHUT_WR), 0);
    ck_assert_int_le(sl_tt_read(&p, buf, sizeof(buf), T_IO), 0);
    client_close(&p);

    /* and it goes on */
    ck_assert(client_fd(&p, sl_t_connect_unix(sl_t_path(srv.dir,
                                                         "echo.sock")), NULL));
    ck_assert(sl_tt_write(&p, "xyz", 3, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 3, T_IO));
    ck_assert(memcmp(buf, "xyz", 3) == 0);
    client_close(&p);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- the handshake: timeout, stalls, garbage ----------------------------- */

typedef struct {
    const char  *log;
    const char  *needle;
    int          n;
} log_count_t;

static int
log_has(void *data)
{
    log_count_t  *lc = data;
    char         *text = sl_t_read(lc->log);

    return text != NULL && sl_t_count(text, lc->needle) >= lc->n;
}

START_TEST(test_handshake_timeout)
{
    sl_t_sluice_t   srv;
    unsigned char   hello[2048];
    size_t          len;
    log_count_t     lc;
    int             fd1, fd2;

    start_tls(&srv, _i, sl_t_printf(
        "ssl_handshake_timeout 300ms;\n"
        "server { listen 127.0.0.1:@PORT@ ssl; %s echo; }", cert("rsa")));

    len = sl_t_client_hello(hello, sizeof(hello));

    /* one says nothing, one stalls half way through its ClientHello */
    fd1 = sl_t_connect("127.0.0.1", srv.port);
    fd2 = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd2, hello, len / 2, T_IO);

    (void) wait_closed(fd1);
    (void) wait_closed(fd2);
    close(fd1);
    close(fd2);

    lc.log = srv.log;
    lc.needle = sl_t_printf("client timed out (110: Connection timed out) "
                            "while SSL handshaking, client: 127.0.0.1, "
                            "server: 127.0.0.1:%d\n", srv.port);
    lc.n = 2;
    ck_assert_msg(sl_t_wait_for(log_has, &lc, srv.log, sl_t_timeout(T_IO))
                  == 0, "%s", sl_t_read(srv.log));

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_garbage_and_plain_text)
{
    sl_t_sluice_t   srv;
    sl_tt_peer_t    p;
    unsigned char   junk[512];
    const char     *req = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    char            buf[16];
    size_t          i;
    int             fd;

    start_tls(&srv, _i, sl_t_printf(
        "server { listen 127.0.0.1:@PORT@ ssl; %s echo; }", cert("rsa")));

    /* a plain-text request on the TLS port */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, req, strlen(req), T_IO);
    (void) wait_closed(fd);
    close(fd);

    /* bytes that are no TLS at all, and a record header with junk */
    for (i = 0; i < sizeof(junk); i++) {
        junk[i] = (unsigned char) (i * 131 + 7);
    }

    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, junk, sizeof(junk), T_IO);
    (void) wait_closed(fd);
    close(fd);

    junk[0] = 0x16;
    junk[1] = 0x03;
    junk[2] = 0x01;
    junk[3] = 0x01;
    junk[4] = 0x00;
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, junk, sizeof(junk), T_IO);
    (void) wait_closed(fd);
    close(fd);

    /* none of it hurt: a real client still gets its echo */
    ck_assert(client(&p, srv.port, NULL));
    ck_assert(sl_tt_write(&p, "ok", 2, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 2, T_IO));
    ck_assert(memcmp(buf, "ok", 2) == 0);
    client_close(&p);

    /* what a client did wrong is logged at info, with OpenSSL's reason */
    wait_log(&srv, "info", "http request");
    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- bulk: 64 MiB each way ----------------------------------------------- */

typedef struct {
    uint64_t  state;
} prng_t;

static uint64_t
prng_next(prng_t *r)
{
    uint64_t  x = r->state += 0x9e3779b97f4a7c15ull;

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }

    return h;
}

#define FNV_INIT  0xcbf29ce484222325ull

typedef struct {
    int       version;      /* TLS1_3_VERSION or TLS1_2_VERSION */
    size_t    total;
    size_t    every;        /* a KeyUpdate / renegotiation this often */
} bulk_t;

/*
 * Sends total bytes in writes of random sizes while reading the echo, on
 * a non-blocking socket; every so often the client asks for new keys
 * (TLS 1.3 KeyUpdate, update_requested: the server must answer with its
 * own while it is busy writing).
 */
static void
bulk(int port, const bulk_t *b, int *rekeys, const char *log)
{
    static unsigned char  wbuf[65536], rbuf[65536];
    sl_tt_opts_t          o;
    sl_tt_peer_t          p;
    struct pollfd         pfd;
    prng_t                r = { 12345 };
    uint64_t              hout = FNV_INIT, hin = FNV_INIT;
    size_t                sent = 0, got = 0, wlen = 0, n, i, next = b->every;
    long long             end = sl_t_msec() + sl_t_timeout(T_BULK);
    int                   fd, err, wwant = 0, progress;

    /* a write to a connection the server closed fails, it does not kill */
    signal(SIGPIPE, SIG_IGN);

    memset(&o, 0, sizeof(o));
    o.min_version = b->version;
    o.max_version = b->version;

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_ne(fcntl(fd, F_SETFL, O_NONBLOCK), -1);
    ck_assert(client_fd(&p, fd, &o));
    *rekeys = 0;

    while (got < b->total) {
        progress = 0;

        if (sent < b->total) {
            if (wlen == 0) {
                wlen = 1 + (size_t) (prng_next(&r) % sizeof(wbuf));
                wlen = wlen < b->total - sent ? wlen : b->total - sent;
                for (i = 0; i < wlen; i++) {
                    wbuf[i] = (unsigned char) prng_next(&r);
                }
                hout = fnv(hout, wbuf, wlen);
            }

            ERR_clear_error();
            if (SSL_write_ex(p.ssl, wbuf, wlen, &n)) {
                sent += wlen;
                wlen = 0;
                wwant = 0;
                progress = 1;

                if (sent >= next && sent < b->total) {
                    next += b->every;
                    (*rekeys)++;
                    ck_assert(SSL_key_update(p.ssl,
                                             SSL_KEY_UPDATE_REQUESTED));
                }

            } else {
                err = SSL_get_error(p.ssl, 0);
                ck_assert_msg(err == SSL_ERROR_WANT_READ
                              || err == SSL_ERROR_WANT_WRITE,
                              "SSL_write: %d (errno %d, %s) after %zu "
                              "bytes\n%s", err, errno,
                              ERR_error_string(ERR_peek_error(), NULL),
                              sent, sl_t_read(log));
                wwant = err;
            }
        }

        ERR_clear_error();
        if (SSL_read_ex(p.ssl, rbuf, sizeof(rbuf), &n)) {
            hin = fnv(hin, rbuf, n);
            got += n;
            progress = 1;
            ck_assert_uint_le(got, sent);

        } else {
            err = SSL_get_error(p.ssl, 0);
            ck_assert_msg(err == SSL_ERROR_WANT_READ
                          || err == SSL_ERROR_WANT_WRITE,
                          "SSL_read: %d after %zu of %zu bytes\n%s", err,
                          got, sent, sl_t_read(log));
        }

        if (progress) {
            continue;
        }

        pfd.fd = fd;
        pfd.events = POLLIN | (wwant == SSL_ERROR_WANT_WRITE ? POLLOUT : 0);
        ck_assert_msg(poll(&pfd, 1, (int) (end - sl_t_msec())) > 0,
                      "stalled: sent %zu, got %zu", sent, got);
    }

    ck_assert_uint_eq(got, b->total);
    ck_assert_msg(hin == hout, "the echo differs from what was sent");

    client_close(&p);
}

START_TEST(test_bulk_64m_keyupdate)
{
    sl_t_sluice_t  srv;
    bulk_t         b = { TLS1_3_VERSION, BULK, 8 * 1024 * 1024 };
    int            rekeys;

    start_tls(&srv, _i, sl_t_printf(
        "server { listen 127.0.0.1:@PORT@ ssl; %s echo; }", cert("ecdsa")));

    bulk(srv.port, &b, &rekeys, srv.log);
    ck_assert_int_eq(rekeys, 7);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * TLS 1.2 renegotiations with ssl_renegotiation on: one on a quiet
 * connection, and one started while 256 KiB of echo wait in both
 * directions (the server's writes blocked, so its reads stopped): the
 * server meets the ClientHello inside its reading. The echo goes on
 * after each. With the default, off, the attempt fails the connection.
 */
START_TEST(test_renegotiation)
{
    static unsigned char  out[256 * 1024], in[256 * 1024];
    sl_t_sluice_t         srv;
    sl_tt_opts_t          o;
    sl_tt_peer_t          p;
    size_t                i;
    char                  buf[8];
    int                   round;

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "  %s\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; ssl_renegotiation on; "
        "           echo; }\n"
        "  server { listen unix:@DIR@/off.sock ssl; echo; }\n"
        "}\n", sl_t_backend(_i), cert("rsa")));

    memset(&o, 0, sizeof(o));
    o.max_version = TLS1_2_VERSION;

    for (i = 0; i < sizeof(out); i++) {
        out[i] = (unsigned char) (i * 7 + i / 251);
    }

    ck_assert(client(&p, srv.port, &o));

    /* the server allows 3 in 10 s: 2 here, 1 below */
    for (round = 0; round < 2; round++) {
        ck_assert(sl_tt_write(&p, "a", 1, T_IO));
        ck_assert(sl_tt_read_full(&p, buf, 1, T_IO));
        ck_assert_int_eq(buf[0], 'a');

        ck_assert(SSL_renegotiate(p.ssl));
        ck_assert_msg(sl_tt_handshake(&p, T_IO), "%s", sl_t_read(srv.log));
        ck_assert_int_eq(p.handshakes, 2 + round);
    }

    /* with data in flight both ways: SSL_read drives the handshake */
    ck_assert(sl_tt_write(&p, out, sizeof(out), T_IO));
    ck_assert(SSL_renegotiate(p.ssl));
    ck_assert_msg(sl_tt_read_full(&p, in, sizeof(in), T_IO), "%s",
                  sl_t_read(srv.log));
    ck_assert(memcmp(in, out, sizeof(in)) == 0);
    ck_assert_msg(sl_tt_write(&p, "z", 1, T_IO)
                  && sl_tt_read_full(&p, buf, 1, T_IO), "%s",
                  sl_t_read(srv.log));
    ck_assert_int_eq(buf[0], 'z');
    ck_assert_int_eq(p.handshakes, 4);
    client_close(&p);

    /* ssl_renegotiation off (the default): the client's attempt fails */
    ck_assert(client_fd(&p, sl_t_connect_unix(sl_t_path(srv.dir,
                                                         "off.sock")), &o));
    ck_assert(sl_tt_write(&p, "a", 1, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 1, T_IO));
    ck_assert(SSL_renegotiate(p.ssl));
    ck_assert(!(sl_tt_handshake(&p, T_IO)
                && sl_tt_write(&p, "b", 1, T_IO)
                && sl_tt_read_full(&p, buf, 1, T_IO)));
    client_close(&p);

    wait_log(&srv, "notice", "SSL renegotiation disabled");
    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * From now on the client reads nothing: what it sends still goes to the
 * socket, a read finds no data. A handshake it starts then stops after
 * its first flight, however fast the server answers.
 */
static void
deaf(sl_tt_peer_t *p)
{
    BIO  *b = BIO_new(BIO_s_mem());

    ck_assert_ptr_nonnull(b);
    BIO_set_mem_eof_return(b, -1);
    SSL_set0_rbio(p->ssl, b);
}

/*
 * Issue 13, the mirror of test_proxy_ssl's: echo's SSL_write must first
 * read the client's flight of a renegotiation the client started and then
 * left. The data and the ClientHello come in one segment (TCP_CORK), so
 * that one read takes both: the data first, then the ClientHello, whose
 * answer goes. The echo's write then wants to read, the read handler is
 * swapped for the retry of the write, and echo_timeout's timer is on the
 * read event: it must end the session (a reset, logged with 200) rather
 * than run a retry of the write that re-arms the timer for ever.
 */
START_TEST(test_timeout_while_write_wants_read)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char           buf[16384], *alog;
    int            fd, on = 1, off = 0, reset = 0, want;

    if (!SL_HAVE_stream_log_MODULE) {
        return;
    }

    start_tls(&srv, _i, sl_t_printf(
        "log_format f '$status $bytes_received';\n"
        "server { listen 127.0.0.1:@PORT@ ssl; %s ssl_renegotiation on;"
        " access_log logs/a.log f; echo; echo_timeout 500ms; }",
        cert("rsa")));

    memset(&o, 0, sizeof(o));
    o.max_version = TLS1_2_VERSION;
    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert(client_fd(&p, fd, &o));

    ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)),
                     0);
    ck_assert(sl_tt_write(&p, "data", 4, T_IO));
    deaf(&p);
    ck_assert(SSL_renegotiate(p.ssl));
    ck_assert_int_eq(sl_tt_peer_step(&p, &want), 0);
    ck_assert_int_eq(want, SSL_ERROR_WANT_READ);
    ck_assert_int_eq(p.handshakes, 2);
    ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off,
                                sizeof(off)), 0);

    /* the server's flight, then its reset at echo_timeout */
    (void) sl_t_recv_all(fd, buf, sizeof(buf), &reset, T_IO);
    ck_assert(reset);

    sl_t_wait_file(sl_t_path(srv.dir, "logs/a.log"), "\n", T_IO);
    alog = sl_t_read(sl_t_path(srv.dir, "logs/a.log"));
    ck_assert_msg(strncmp(alog, "200 ", 4) == 0, "%s", alog);
    wait_log(&srv, "info", "connection timed out");

    client_close(&p);
    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- SNI ----------------------------------------------------------------- */

/* client options, zeroed, from a ring that outlives a test's few uses */
static sl_tt_opts_t *
opts(void)
{
    static sl_tt_opts_t  ring[16];
    static unsigned      next;
    sl_tt_opts_t        *o = &ring[next++ % 16];

    memset(o, 0, sizeof(sl_tt_opts_t));
    return o;
}

static sl_tt_opts_t *
sni(const char *name)
{
    sl_tt_opts_t  *o = opts();

    o->server_name = name;
    return o;
}

START_TEST(test_sni)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;
    const char    *a;
    int            fd;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           return \"default:$ssl_server_name\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name b.test; %s\n"
        "           return \"b:$ssl_server_name:$ssl_protocol\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name *.wild.test; %s\n"
        "           return \"wild:$ssl_server_name\"; }\n"
        "  server { listen 127.0.0.1:@PORT@;\n"
        "           server_name ~^(?<who>[a-z]+)\\.(re)\\.test$; %s\n"
        "           return \"re:$who:$2\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name reject.test;\n"
        "           ssl_reject_handshake on; return never; }\n"
        "  server { listen unix:@DIR@/r.sock ssl; ssl_reject_handshake on;\n"
        "           return never; }\n"
        "  server { listen unix:@DIR@/r.sock; server_name ok.test; %s\n"
        "           return \"ok:$ssl_server_name\"; }\n"
        "}\n", cert("rsa"), cert("sni-b"), cert("sni-wild"),
        cert("sni-wild"), cert("sni-b")));

    /* the name picks the server and so its certificate */
    ck_assert_str_eq(answer(srv.port, sni("b.test"), &p),
                     "b:b.test:TLSv1.3");
    ck_assert_str_eq(sl_tt_peer_cn(&p), "b.test");
    client_close(&p);

    ck_assert_str_eq(answer(srv.port, sni("x.wild.test"), &p),
                     "wild:x.wild.test");
    ck_assert_str_eq(sl_tt_peer_cn(&p), "wild.test");
    client_close(&p);

    /* a regular expression: its server's certificate, its groups */
    ck_assert_str_eq(answer(srv.port, sni("Who.re.test"), &p),
                     "re:who:re");
    ck_assert_str_eq(sl_tt_peer_cn(&p), "wild.test");
    client_close(&p);

    a = answer(srv.port, sni("B.Test"), NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(strncmp(a, "b:", 2) == 0, "%s", a);

    /* an unknown name, and none: the default server */
    ck_assert_str_eq(answer(srv.port, sni("other.test"), &p),
                     "default:other.test");
    ck_assert_str_eq(sl_tt_peer_cn(&p), "localhost");
    client_close(&p);
    ck_assert_str_eq(answer(srv.port, NULL, NULL), "default:");

    /* ssl_reject_handshake on a named server */
    ck_assert_ptr_null(answer(srv.port, sni("reject.test"), NULL));

    /* on the default server: only a known name gets through */
    fd = sl_t_connect_unix(sl_t_path(srv.dir, "r.sock"));
    ck_assert(!client_fd(&p, fd, NULL));
    ck_assert_int_eq(ERR_GET_REASON(p.err),
                     SSL_R_TLSV1_UNRECOGNIZED_NAME);
    client_close(&p);

    fd = sl_t_connect_unix(sl_t_path(srv.dir, "r.sock"));
    ck_assert(!client_fd(&p, fd, sni("nope.test")));
    client_close(&p);

    fd = sl_t_connect_unix(sl_t_path(srv.dir, "r.sock"));
    ck_assert(client_fd(&p, fd, sni("ok.test")));
    {
        char  buf[256];

        ck_assert_int_eq(read_to_end(&p, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "ok:ok.test");
    }
    client_close(&p);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* a client limited to one protocol version (and TLS 1.2 ciphers) */
static sl_tt_opts_t *
tls_version(const char *name, int version, const char *ciphers)
{
    sl_tt_opts_t  *o = sni(name);

    o->min_version = version;
    o->max_version = version;
    o->ciphers = ciphers;
    return o;
}

#define AES128  "ECDHE-RSA-AES128-GCM-SHA256"
#define AES256  "ECDHE-RSA-AES256-GCM-SHA384"

/*
 * The server a name selects brings its own ssl_protocols and ssl_ciphers
 * to the handshake: the choice is made on the ClientHello, before the
 * version and the cipher are, whichever server's context it began on.
 */
START_TEST(test_sni_protocols_ciphers)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           ssl_protocols TLSv1.3;\n"
        "           return \"default:$ssl_protocol\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name v12.test; %s\n"
        "           ssl_protocols TLSv1.2 TLSv1.3;\n"
        "           return \"v12:$ssl_protocol:$ssl_cipher\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name aes128.test; %s\n"
        "           ssl_protocols TLSv1.2; ssl_ciphers " AES128 ";\n"
        "           return \"aes128:$ssl_cipher\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name aes256.test; %s\n"
        "           ssl_protocols TLSv1.2; ssl_ciphers " AES256 ";\n"
        "           return \"aes256:$ssl_cipher\"; }\n"
        "  server { listen unix:@DIR@/u.sock ssl; %s\n"
        "           return \"u-default:$ssl_protocol\"; }\n"
        "  server { listen unix:@DIR@/u.sock; server_name v13.test; %s\n"
        "           ssl_protocols TLSv1.3; return \"v13:$ssl_protocol\"; }\n"
        "}\n", cert("rsa"), cert("rsa"), cert("rsa"), cert("rsa"),
        cert("rsa"), cert("rsa")));

    /* the default server allows TLS 1.3 only; a named one TLS 1.2 too */
    ck_assert_ptr_null(answer(srv.port, tls_version(NULL, TLS1_2_VERSION,
                                                    NULL), NULL));
    ck_assert_ptr_null(answer(srv.port, tls_version("none.test",
                                                    TLS1_2_VERSION, NULL),
                              NULL));
    ck_assert_str_eq(answer(srv.port, tls_version("v12.test", TLS1_2_VERSION,
                                                  AES128), NULL),
                     "v12:TLSv1.2:" AES128);
    ck_assert_str_eq(answer(srv.port, tls_version("v12.test", TLS1_3_VERSION,
                                                  NULL), NULL),
                     "v12:TLSv1.3:TLS_AES_256_GCM_SHA384");
    ck_assert_str_eq(answer(srv.port, tls_version(NULL, TLS1_3_VERSION,
                                                  NULL), NULL),
                     "default:TLSv1.3");

    /* and the other way: a named server stricter than the default */
    ck_assert_str_eq(answer_unix(&srv, "u.sock", tls_version("x.test",
                                 TLS1_2_VERSION, NULL)), "u-default:TLSv1.2");
    ck_assert_ptr_null(answer_unix(&srv, "u.sock", tls_version("v13.test",
                                   TLS1_2_VERSION, NULL)));
    ck_assert_str_eq(answer_unix(&srv, "u.sock", tls_version("v13.test",
                                 TLS1_3_VERSION, NULL)), "v13:TLSv1.3");

    /* each name's TLS 1.2 cipher list */
    ck_assert_str_eq(answer(srv.port, tls_version("aes128.test",
                                                  TLS1_2_VERSION,
                                                  AES128 ":" AES256), NULL),
                     "aes128:" AES128);
    ck_assert_str_eq(answer(srv.port, tls_version("aes256.test",
                                                  TLS1_2_VERSION,
                                                  AES128 ":" AES256), NULL),
                     "aes256:" AES256);
    ck_assert_ptr_null(answer(srv.port, tls_version("aes256.test",
                                                    TLS1_2_VERSION, AES128),
                              NULL));
    ck_assert_ptr_null(answer(srv.port, tls_version("aes128.test",
                                                    TLS1_2_VERSION, AES256),
                              NULL));

    sl_t_sluice_stop(&srv);
}
END_TEST

/* one renegotiation by a TLS 1.2 client after an echo: 1 when it works */
static int
renegotiates(sl_t_sluice_t *srv, const char *sock, const char *name)
{
    sl_tt_opts_t  *o = tls_version(name, TLS1_2_VERSION, NULL);
    sl_tt_peer_t   p;
    char           buf[1];
    int            ok;

    ck_assert(client_fd(&p, sl_t_connect_unix(sl_t_path(srv->dir, sock)),
                        o));
    ck_assert(sl_tt_write(&p, "a", 1, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 1, T_IO));
    ck_assert(SSL_renegotiate(p.ssl));
    ok = sl_tt_handshake(&p, T_IO) && sl_tt_write(&p, "b", 1, T_IO)
         && sl_tt_read_full(&p, buf, 1, T_IO) && buf[0] == 'b'
         && p.handshakes == 2;
    client_close(&p);
    return ok;
}

/* ssl_renegotiation, and TLS 1.3 suites, are the named server's too */
START_TEST(test_sni_renegotiation_suites)
{
    sl_t_sluice_t  srv;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen unix:@DIR@/off.sock ssl; %s echo; }\n"
        "  server { listen unix:@DIR@/off.sock; server_name on.test; %s\n"
        "           ssl_renegotiation on; echo; }\n"
        "  server { listen unix:@DIR@/on.sock ssl; %s\n"
        "           ssl_renegotiation on; echo; }\n"
        "  server { listen unix:@DIR@/on.sock; server_name off.test; %s\n"
        "           echo; }\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           return \"default:$ssl_cipher\"; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name chacha.test; %s\n"
        "           ssl_conf_command Ciphersuites "
        "TLS_CHACHA20_POLY1305_SHA256;\n"
        "           return \"chacha:$ssl_cipher\"; }\n"
        "}\n", cert("rsa"), cert("rsa"), cert("rsa"), cert("rsa"),
        cert("rsa"), cert("rsa")));

    ck_assert(!renegotiates(&srv, "off.sock", NULL));
    ck_assert(renegotiates(&srv, "off.sock", "on.test"));
    ck_assert(renegotiates(&srv, "on.sock", NULL));
    ck_assert(!renegotiates(&srv, "on.sock", "off.test"));

    ck_assert_str_eq(answer(srv.port, tls_version("chacha.test",
                                                  TLS1_3_VERSION, NULL),
                            NULL), "chacha:TLS_CHACHA20_POLY1305_SHA256");
    ck_assert_str_eq(answer(srv.port, tls_version("x.test", TLS1_3_VERSION,
                                                  NULL), NULL),
                     "default:TLS_AES_256_GCM_SHA384");

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A ClientHello as OpenSSL writes it for the name "nul.test.x", into buf;
 * *at is where the name's bytes begin.
 */
static size_t
raw_client_hello(unsigned char *buf, size_t size, size_t *at)
{
    SSL_CTX  *ctx = SSL_CTX_new(TLS_client_method());
    SSL      *ssl;
    BIO      *rb, *wb;
    size_t    i;
    int       n;

    ck_assert_ptr_nonnull(ctx);
    ssl = SSL_new(ctx);
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());
    ck_assert(ssl != NULL && rb != NULL && wb != NULL);

    SSL_set_bio(ssl, rb, wb);
    ck_assert(SSL_set_tlsext_host_name(ssl, "nul.test.x"));
    ck_assert_int_eq(SSL_connect(ssl), -1);     /* it wants the answer */

    n = BIO_read(wb, buf, (int) size);
    ck_assert_int_gt(n, 5);
    ck_assert_int_lt(n, (int) size);
    SSL_free(ssl);
    SSL_CTX_free(ctx);

    for (i = 0; i + 10 <= (size_t) n; i++) {
        if (memcmp(buf + i, "nul.test.x", 10) == 0) {
            *at = i;
            return (size_t) n;
        }
    }

    ck_abort_msg("no server name in the ClientHello");
    return 0;
}

/* the alert a server answers a ClientHello with: its description */
static int
alert_for(int port, const unsigned char *hello, size_t len)
{
    unsigned char  buf[64];
    size_t         n;
    int            fd;

    fd = sl_t_connect("127.0.0.1", port);
    sl_t_send_all(fd, hello, len, T_IO);
    n = sl_t_recv_all(fd, buf, sizeof(buf), NULL, T_IO);
    close(fd);

    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(buf[0], 0x15);     /* an alert record */
    ck_assert_int_eq(buf[5], 2);        /* fatal */
    return buf[6];
}

START_TEST(test_sni_malformed)
{
    sl_t_sluice_t  srv;
    unsigned char  hello[2048], bad[2048];
    size_t         len, at;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s return default; }\n"
        "}\n", cert("rsa")));

    len = raw_client_hello(hello, sizeof(hello), &at);

    /* a NUL in the name */
    memcpy(bad, hello, len);
    bad[at + 3] = '\0';
    ck_assert_int_eq(alert_for(srv.port, bad, len),
                     SSL_AD_UNRECOGNIZED_NAME);

    /* the name's length disagrees with the list's */
    memcpy(bad, hello, len);
    bad[at - 1]--;
    ck_assert_int_eq(alert_for(srv.port, bad, len), SSL_AD_DECODE_ERROR);

    /* a type that is not host_name */
    memcpy(bad, hello, len);
    bad[at - 3] = 1;
    ck_assert_int_eq(alert_for(srv.port, bad, len), SSL_AD_DECODE_ERROR);

    /* the client's fault: at info, nothing worse */
    wait_log(&srv, "info", "SSL_do_handshake() failed");
    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- ALPN ---------------------------------------------------------------- */

static sl_tt_opts_t *
alpn(const char *list)
{
    sl_tt_opts_t  *o = opts();

    o->alpn = list;
    return o;
}

START_TEST(test_alpn)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s ssl_alpn foo bar;\n"
        "           return \"alpn:$ssl_alpn_protocol\"; }\n"
        "}\n", cert("rsa")));

    ck_assert_str_eq(answer(srv.port, alpn("bar"), &p), "alpn:bar");
    ck_assert_str_eq(sl_tt_alpn(&p), "bar");
    client_close(&p);

    /* the server's order wins */
    ck_assert_str_eq(answer(srv.port, alpn("bar,foo"), &p), "alpn:foo");
    ck_assert_str_eq(sl_tt_alpn(&p), "foo");
    client_close(&p);

    /* no protocol in common: the handshake fails */
    ck_assert_ptr_null(answer(srv.port, alpn("baz"), &p));

    /* a client that offers none gets the server anyway */
    ck_assert_str_eq(answer(srv.port, NULL, &p), "alpn:");
    ck_assert_str_eq(sl_tt_alpn(&p), "");
    client_close(&p);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- client certificates ------------------------------------------------- */

static sl_tt_opts_t *
mtls(const char *name, const char *who)
{
    sl_tt_opts_t  *o = opts();

    o->server_name = name;
    if (who != NULL) {
        o->cert = pki(sl_t_printf("%s.crt", who));
        o->key = pki(sl_t_printf("%s.key", who));
    }
    return o;
}

/* the SHA1 of a PEM certificate file, lowercase hex */
static const char *
fingerprint(const char *file)
{
    unsigned char   md[EVP_MAX_MD_SIZE];
    unsigned int    len, i;
    char           *hex;
    X509           *x;
    FILE           *f = fopen(file, "r");

    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    ck_assert(X509_digest(x, EVP_sha1(), md, &len));
    X509_free(x);

    hex = sl_t_printf("%*s", (int) (2 * len), "");
    for (i = 0; i < len; i++) {
        sprintf(hex + 2 * i, "%02x", md[i]);
    }

    return hex;
}

START_TEST(test_client_certificates)
{
    sl_t_sluice_t  srv;
    const char    *a, *vars;

    vars = "\"$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|"
           "$ssl_client_fingerprint|$ssl_client_cert\"";

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  %s\n"
        "  ssl_client_certificate %s;\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; ssl_verify_client on;\n"
        "           return %s; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name optional.test;\n"
        "           ssl_verify_client optional; return %s; }\n"
        "  server { listen 127.0.0.1:@PORT@; server_name noca.test;\n"
        "           ssl_verify_client optional_no_ca; return %s; }\n"
        "}\n", cert("rsa"), pki("ca.crt"), vars, vars, vars));

    /* on: a good certificate passes, with its details */
    a = answer(srv.port, mtls(NULL, "client"), NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(strncmp(a, "SUCCESS|", 8) == 0, "%s", a);
    ck_assert_msg(strstr(a, "CN=client") != NULL, "%s", a);
    ck_assert_msg(strstr(a, "|CN=sluice test CA|") != NULL, "%s", a);
    ck_assert_msg(strstr(a, sl_t_printf("|%s|", fingerprint(
                             pki("client.crt")))) != NULL, "%s", a);
    ck_assert_msg(strstr(a, "|-----BEGIN CERTIFICATE-----") != NULL, "%s",
                  a);

    /* on: none, or one from an unknown CA, and the session ends */
    a = answer(srv.port, mtls(NULL, NULL), NULL);
    ck_assert(a == NULL || *a == '\0');
    wait_log(&srv, "info", "client sent no required SSL certificate");

    a = answer(srv.port, mtls(NULL, "other-client"), NULL);
    ck_assert(a == NULL || *a == '\0');
    wait_log(&srv, "info", "client SSL certificate verify error");

    /* optional: none is fine, a good one is checked */
    ck_assert_str_eq(answer(srv.port, mtls("optional.test", NULL), NULL),
                     "NONE||||");
    a = answer(srv.port, mtls("optional.test", "client"), NULL);
    ck_assert_msg(a != NULL && strncmp(a, "SUCCESS|", 8) == 0, "%s", a);

    /* optional_no_ca: an unknown CA gets through, marked as failed */
    a = answer(srv.port, mtls("noca.test", "other-client"), NULL);
    ck_assert_msg(a != NULL && strncmp(a, "FAILED:", 7) == 0, "%s", a);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- session resumption ------------------------------------------------- */

static const char  *resumption_conf[] = {
    "ssl_session_cache builtin:1000; ssl_session_tickets off;",
    "ssl_session_cache none; ssl_session_tickets on;",
};

START_TEST(test_resumption)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    SSL_SESSION   *sess;
    int            v;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s %s\n"
        "           return \"reused:$ssl_session_reused\"; }\n"
        "}\n", cert("rsa"), resumption_conf[_i]));

    for (v = 0; v < 2; v++) {
        memset(&o, 0, sizeof(o));
        o.max_version = v == 1 ? TLS1_3_VERSION : TLS1_2_VERSION;
        o.min_version = o.max_version;

        ck_assert_str_eq(answer(srv.port, &o, &p), "reused:.");
        ck_assert(!SSL_session_reused(p.ssl));
        ck_assert_ptr_nonnull(p.session);
        sess = p.session;
        ck_assert(SSL_SESSION_up_ref(sess));

        /* freed without its close_notify, OpenSSL would drop the session */
        SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        client_close(&p);

        o.session = sess;
        ck_assert_msg(SSL_SESSION_is_resumable(sess), "v %d", v);
        ck_assert_str_eq(answer(srv.port, &o, &p), "reused:r");
        ck_assert(SSL_session_reused(p.ssl));
        client_close(&p);
        SSL_SESSION_free(sess);
    }

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- RSA and ECDSA ------------------------------------------------------- */

/*
 * ssl_conf_command values that name files are relative to the
 * configuration's directory, as nginx resolves them: here
 * DIR/conf/../../PKI/ecdsa.crt, the PKI being a sibling of DIR.
 */
START_TEST(test_conf_command_files)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char          *pki_dir, *probe, *rel;

    pki_dir = sl_t_printf("%s", sl_tt_pki());
    probe = sl_t_mkdir();
    ck_assert_str_eq(dirname(sl_t_printf("%s", probe)),
                     dirname(sl_t_printf("%s", pki_dir)));
    rel = sl_t_printf("../../%s", basename(pki_dir));

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           ssl_conf_command Certificate %s/ecdsa.crt;\n"
        "           ssl_conf_command PrivateKey %s/ecdsa.key;\n"
        "           return ok; }\n"
        "}\n", cert("rsa"), rel, rel));

    memset(&o, 0, sizeof(o));
    o.sigalgs = "ecdsa_secp256r1_sha256";
    ck_assert_str_eq(answer(srv.port, &o, &p), "ok");
    ck_assert_int_eq(sl_tt_peer_key_type(&p), EVP_PKEY_EC);
    client_close(&p);

    o.sigalgs = "rsa_pss_rsae_sha256:rsa_pkcs1_sha256";
    ck_assert_str_eq(answer(srv.port, &o, &p), "ok");
    ck_assert_int_eq(sl_tt_peer_key_type(&p), EVP_PKEY_RSA);
    client_close(&p);

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);

    /* the error names the file as resolved; other values stay as given */
    sl_t_conf_error(sl_t_printf(
        "stream { server { listen 127.0.0.1:1 ssl; %s\n"
        "  ssl_conf_command Certificate no-such.crt; return x; } }\n",
        cert("rsa")), "/conf/no-such.crt\") failed");
    sl_t_conf_error(sl_t_printf(
        "stream { server { listen 127.0.0.1:1 ssl; %s\n"
        "  ssl_conf_command Ciphersuites no-such-suite; return x; } }\n",
        cert("rsa")), "SSL_CONF_cmd(\"Ciphersuites\", \"no-such-suite\") "
        "failed");
}
END_TEST

START_TEST(test_rsa_ecdsa)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    int            v;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s %s\n"
        "           return \"$ssl_protocol $ssl_cipher\"; }\n"
        "}\n", cert("rsa"), cert("ecdsa")));

    for (v = 0; v < 2; v++) {
        memset(&o, 0, sizeof(o));
        o.max_version = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        o.min_version = o.max_version;

        o.sigalgs = "ecdsa_secp256r1_sha256";
        ck_assert_ptr_nonnull(answer(srv.port, &o, &p));
        ck_assert_int_eq(sl_tt_peer_key_type(&p), EVP_PKEY_EC);
        client_close(&p);

        o.sigalgs = "rsa_pss_rsae_sha256:rsa_pkcs1_sha256";
        ck_assert_ptr_nonnull(answer(srv.port, &o, &p));
        ck_assert_int_eq(sl_tt_peer_key_type(&p), EVP_PKEY_RSA);
        client_close(&p);
    }

    memset(&o, 0, sizeof(o));
    o.max_version = TLS1_2_VERSION;
    o.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
    ck_assert_str_eq(answer(srv.port, &o, NULL),
                     "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256");

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- the other directives, end to end ----------------------------------- */

static sl_tt_opts_t *
tls12(const char *ciphers)
{
    sl_tt_opts_t  *o = opts();

    o->max_version = TLS1_2_VERSION;
    o->ciphers = ciphers;
    return o;
}

static sl_tt_opts_t *
tls13(void)
{
    sl_tt_opts_t  *o = opts();

    o->min_version = TLS1_3_VERSION;
    return o;
}

/*
 * ssl_protocols, ssl_ciphers with ssl_prefer_server_ciphers,
 * ssl_conf_command and ssl_trusted_certificate, each seen from the
 * client. They are a context's own: each server has an address of its
 * own here, since a server chosen by SNI keeps the protocols, ciphers and
 * groups of the address's default server (OpenSSL's SSL_set_SSL_CTX()
 * moves certificates, not those; nginx has the same limit).
 */
START_TEST(test_directives)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t  *o;
    const char    *both;

    both = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  %s\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; ssl_protocols TLSv1.2;\n"
        "           return \"$ssl_protocol $ssl_cipher\"; }\n"
        "  server { listen unix:@DIR@/prefer.sock ssl;\n"
        "           ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES128-GCM-SHA256;\n"
        "           ssl_prefer_server_ciphers on;\n"
        "           return \"$ssl_cipher\"; }\n"
        "  server { listen unix:@DIR@/client.sock ssl;\n"
        "           ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES128-GCM-SHA256;\n"
        "           return \"$ssl_cipher\"; }\n"
        "  server { listen unix:@DIR@/cmd.sock ssl;\n"
        "           ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;"
        "\n"
        "           return \"$ssl_protocol $ssl_cipher\"; }\n"
        "  server { listen unix:@DIR@/trusted.sock ssl;\n"
        "           ssl_verify_client on; ssl_trusted_certificate %s;\n"
        "           return \"$ssl_client_verify\"; }\n"
        "}\n", cert("rsa"), pki("ca.crt")));

    /* ssl_protocols TLSv1.2: a TLS 1.3-only client is refused */
    ck_assert_str_eq(answer(srv.port, NULL, NULL),
                     "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384");
    ck_assert_ptr_null(answer(srv.port, tls13(), NULL));

    /* whose order of ciphers wins */
    ck_assert_str_eq(answer_unix(&srv, "prefer.sock", tls12(both)),
                     "ECDHE-RSA-AES256-GCM-SHA384");
    ck_assert_str_eq(answer_unix(&srv, "client.sock", tls12(both)),
                     "ECDHE-RSA-AES128-GCM-SHA256");

    /* ssl_conf_command: the only TLS 1.3 suite left */
    ck_assert_str_eq(answer_unix(&srv, "cmd.sock", tls13()),
                     "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256");

    /* ssl_trusted_certificate alone verifies a client */
    o = opts();
    o->cert = pki("client.crt");
    o->key = pki("client.key");
    ck_assert_str_eq(answer_unix(&srv, "trusted.sock", o), "SUCCESS");

    assert_log_clean(&srv);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* the client's groups: only P-256, against ssl_ecdh_curve X25519 */
START_TEST(test_ecdh_curve)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;
    int            fd;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s ssl_ecdh_curve X25519;\n"
        "           return ok; }\n"
        "}\n", cert("rsa")));

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, NULL), 0);
    ck_assert(SSL_set1_groups_list(p.ssl, "P-256"));
    ck_assert(!sl_tt_handshake(&p, T_IO));
    client_close(&p);

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, NULL), 0);
    ck_assert(SSL_set1_groups_list(p.ssl, "X25519"));
    ck_assert(sl_tt_handshake(&p, T_IO));
    client_close(&p);

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * ssl_session_ticket_key: a ticket from one run of the server resumes a
 * session on the next, which has the same key (and not on one without).
 */
START_TEST(test_ticket_key)
{
    sl_t_sluice_t   srv;
    sl_tt_opts_t   *o;
    sl_tt_peer_t    p;
    SSL_SESSION    *sess;
    unsigned char   key[80];
    const char     *dir = sl_t_mkdir(), *conf;
    size_t          i;
    FILE           *f;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char) (i * 37 + 11);
    }

    f = fopen(sl_t_path(dir, "ticket.key"), "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(key, 1, sizeof(key), f), sizeof(key));
    fclose(f);

    conf = sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           ssl_session_ticket_key %s;\n"
        "           return \"reused:$ssl_session_reused\"; }\n"
        "}\n", cert("rsa"), sl_t_path(dir, "ticket.key"));

    sl_t_sluice_start(&srv, conf);
    o = tls12(NULL);
    ck_assert_str_eq(answer(srv.port, o, &p), "reused:.");
    sess = p.session;
    ck_assert_ptr_nonnull(sess);
    ck_assert(SSL_SESSION_up_ref(sess));
    SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    client_close(&p);
    sl_t_sluice_stop(&srv);

    /* another process, the same key */
    sl_t_sluice_start(&srv, conf);
    o = tls12(NULL);
    o->session = sess;
    ck_assert_str_eq(answer(srv.port, o, NULL), "reused:r");
    sl_t_sluice_stop(&srv);

    /* another process without it */
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; %s\n"
        "           return \"reused:$ssl_session_reused\"; }\n"
        "}\n", cert("rsa")));
    o = tls12(NULL);
    o->session = sess;
    ck_assert_str_eq(answer(srv.port, o, NULL), "reused:.");
    sl_t_sluice_stop(&srv);

    SSL_SESSION_free(sess);
}
END_TEST

/* --- configuration errors ------------------------------------------------ */

typedef struct {
    const char  *conf;      /* a stream{} body; %s: the PKI directory */
    int          line;      /* of conf/t.conf */
    const char  *message;   /* in the emerg line, before " in FILE:LINE" */
    const char  *reason;    /* elsewhere in the same line: OpenSSL's text */
} conf_error_t;

static const conf_error_t  conf_errors[] = {
    { "server { listen 127.0.0.1:1 ssl;\n return x; }",
      0, "no \"ssl_certificate\" is defined for the \"listen ... ssl\" "
      "directive", NULL },
    { "server { listen 127.0.0.1:1 ssl;\n"
      "ssl_certificate %1$s/nonexistent.crt;\n"
      "ssl_certificate_key %1$s/rsa.key; return x; }",
      3, "", "nonexistent.crt" },
    { "server { listen 127.0.0.1:1 ssl;\n"
      "ssl_certificate %1$s/rsa.key;\n"
      "ssl_certificate_key %1$s/rsa.key; return x; }",
      3, "", "(SSL:" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/ecdsa.key;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      2, "", "(SSL:" },
    { "ssl_certificate %1$s/rsa-enc.crt;\n"
      "ssl_certificate_key %1$s/rsa-enc.key;\n"
      "ssl_password_file %1$s/wrong.pass;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      2, "", "(SSL:" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_ciphers NO-SUCH-CIPHER;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      4, "", "(SSL:" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_protocols TLSv1.2 TLSv9;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      4, "invalid value \"TLSv9\" in \"ssl_protocols\" directive", NULL },
    { "server { listen 127.0.0.1:1 ssl;\n"
      "ssl_certificate %1$s/rsa.crt; return x; }",
      0, "no \"ssl_certificate_key\" is defined for certificate", NULL },
    { "server { listen 127.0.0.1:1 ssl; ssl_verify_client on;\n"
      "ssl_certificate %1$s/rsa.crt; ssl_certificate_key %1$s/rsa.key;\n"
      "return x; }",
      0, "no ssl_client_certificate or ssl_trusted_certificate for "
      "ssl_verify_client", NULL },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_ecdh_curve no-such-curve;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      4, "", "(SSL:" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_conf_command NoSuchCommand x;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      4, "", "NoSuchCommand" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_verify_client on; ssl_client_certificate %1$s/ca.crt;\n"
      "ssl_crl %1$s/no-such.crl;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      5, "", "no-such.crl" },
    { "ssl_certificate %1$s/rsa.crt;\n"
      "ssl_certificate_key %1$s/rsa.key;\n"
      "ssl_dhparam %1$s/rsa.crt;\n"
      "server { listen 127.0.0.1:1 ssl; return x; }",
      4, "", "(SSL:" },
    { "ssl_session_cache shared:SSL:10k;\n",
      2, "session cache \"shared:SSL:10k\" is too small", NULL },
};

/* the emerg line of text, or NULL */
static const char *
emerg_line(const char *text)
{
    const char  *p = strstr(text, "[emerg]");
    const char  *nl;

    if (p == NULL) {
        return NULL;
    }

    nl = strchr(p, '\n');
    return nl ? sl_t_printf("%.*s", (int) (nl - p), p) : p;
}

START_TEST(test_conf_errors)
{
    const conf_error_t  *ce = &conf_errors[_i];
    sl_t_out_t           out;
    const char          *line;
    char                *dir = sl_t_mkdir();

    sl_t_write(sl_tt_pki(), "wrong.pass", "wrong\nnot-it-either\n");
    sl_t_writef(dir, "conf/t.conf", "stream {\n%s\n}\n",
                sl_t_printf(ce->conf, sl_tt_pki()));

    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                            "conf/t.conf", "-t", NULL }),
                              &out, T_IO), 1);

    line = emerg_line(out.err);
    ck_assert_msg(line != NULL, "%s", out.err);
    ck_assert_msg(strstr(line, ce->message) != NULL, "want \"%s\" in %s",
                  ce->message, line);

    if (ce->line) {
        ck_assert_msg(strstr(line, sl_t_printf(" in %s/conf/t.conf:%d",
                                               dir, ce->line)) != NULL,
                      "want line %d in %s", ce->line, line);
    } else {
        ck_assert_msg(strstr(line, sl_t_printf(" in %s/conf/t.conf:",
                                               dir)) != NULL, "%s", line);
    }

    if (ce->reason != NULL) {
        ck_assert_msg(strstr(line, ce->reason) != NULL, "want \"%s\" in %s",
                      ce->reason, line);
    }
}
END_TEST

/* several passwords tried in order; the file may be a FIFO */
static void
feed_fifo(void *data)
{
    const char  *path = data;
    int          fd = open(path, O_WRONLY);

    if (fd == -1 || write(fd, "wrong\nsluice-test\n", 18) != 18) {
        _exit(1);
    }

    close(fd);
}

START_TEST(test_password_file)
{
    sl_t_sluice_t  srv;
    sl_tt_peer_t   p;
    char          *fifo;
    const char    *dir = sl_t_mkdir();

    sl_t_write(dir, "good.pass", "first-wrong\n" SL_TT_PASSWORD "\n");

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  ssl_certificate %s; ssl_certificate_key %s;\n"
        "  ssl_password_file %s;\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; return ok; }\n"
        "}\n", pki("rsa-enc.crt"), pki("rsa-enc.key"),
        sl_t_path(dir, "good.pass")));
    ck_assert_str_eq(answer(srv.port, NULL, &p), "ok");
    ck_assert_int_eq(sl_tt_peer_key_type(&p), EVP_PKEY_RSA);
    client_close(&p);
    sl_t_sluice_stop(&srv);

    fifo = sl_t_path(dir, "pass.fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    (void) sl_t_fork(feed_fifo, fifo);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  ssl_certificate %s; ssl_certificate_key %s;\n"
        "  ssl_password_file %s;\n"
        "  server { listen 127.0.0.1:@PORT@ ssl; return ok; }\n"
        "}\n", pki("rsa-enc.crt"), pki("rsa-enc.key"), fifo));
    ck_assert_str_eq(answer(srv.port, NULL, NULL), "ok");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_not_built)
{
    sl_t_conf_error("stream { server { listen 127.0.0.1:1; "
                    "ssl_protocols TLSv1.2; return x; } }\n",
                    "unknown directive \"ssl_protocols\"");
}
END_TEST

/* the certificates of the SNI servers, made once by the runner */
static void
make_certs(void)
{
    const char  *d = sl_tt_pki();

    if (d == NULL
        || sl_tt_cert(d, "sni-b", SL_TT_ECDSA, "b.test", "DNS:b.test", "ca",
                      NULL) != 0
        || sl_tt_cert(d, "sni-wild", SL_TT_ECDSA, "wild.test",
                      "DNS:*.wild.test", "ca", NULL) != 0)
    {
        fprintf(stderr, "test_tls: cannot make the test certificates\n");
        exit(1);
    }
}

static Suite *
tls_suite(void)
{
    Suite  *s = suite_create("tls");

    /* a write to a connection the server closed fails, it does not kill */
    signal(SIGPIPE, SIG_IGN);
    TCase  *tc = tcase_create("tls");
    TCase  *tc1 = tcase_create("tls_features");

    sl_t_fixture(tc);
    sl_t_fixture(tc1);
    tcase_set_timeout(tc, 300);
    tcase_set_timeout(tc1, 60);

    if (!SL_HAVE_stream_ssl_MODULE) {
        tcase_add_test(tc, test_not_built);
        suite_add_tcase(s, tc);
        return s;
    }

    make_certs();

    tcase_add_loop_test(tc, test_echo, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_close_notify_vs_truncation, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_handshake_timeout, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_garbage_and_plain_text, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_bulk_64m_keyupdate, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_renegotiation, 0, NBACKENDS);
    tcase_add_loop_test(tc, test_timeout_while_write_wants_read, 0,
                        NBACKENDS);
    suite_add_tcase(s, tc);

    tcase_add_test(tc1, test_sni);
    tcase_add_test(tc1, test_sni_protocols_ciphers);
    tcase_add_test(tc1, test_sni_renegotiation_suites);
    tcase_add_test(tc1, test_sni_malformed);
    tcase_add_test(tc1, test_alpn);
    tcase_add_test(tc1, test_client_certificates);
    tcase_add_loop_test(tc1, test_resumption, 0, 2);
    tcase_add_test(tc1, test_rsa_ecdsa);
    tcase_add_test(tc1, test_conf_command_files);
    tcase_add_test(tc1, test_directives);
    tcase_add_test(tc1, test_ecdh_curve);
    tcase_add_test(tc1, test_ticket_key);
    tcase_add_loop_test(tc1, test_conf_errors, 0,
                        (int) (sizeof(conf_errors) / sizeof(conf_errors[0])));
    tcase_add_test(tc1, test_password_file);
    suite_add_tcase(s, tc1);
    return s;
}

SL_TEST_MAIN(tls_suite)
