/*
 * test_ssl_preread.c -- "ssl_preread on" and "pass" through the real
 * binary: SNI routing on one port to three back ends by upstream{} blocks
 * named after the names (proxy_pass $ssl_preread_server_name), with
 * ClientHellos built here (TLS 1.2 and 1.3 shapes, a byte at a time, in
 * many records, bigger than a record), real TLS clients (the test's
 * OpenSSL, `openssl s_client`, curl), the variables' values, garbage, the
 * preread timeout and a full preread buffer; the back end gets the bytes
 * the client sent, compared byte for byte. pass: a ClientHello read by
 * ssl_preread and handed to a TLS-terminating listen of the same
 * configuration (whose SNI then picks its server), to a plain one (the
 * bytes kept), to a listen that does not exist, and in a loop. And the
 * configuration errors, and conf/sni-routing.conf.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_backend.h"
#include "sl_t_tls.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SL_HAVE_stream_ssl_preread_MODULE
#define SL_HAVE_stream_ssl_preread_MODULE  0
#endif
#ifndef SL_HAVE_stream_map_MODULE
#define SL_HAVE_stream_map_MODULE  0
#endif
#ifndef SL_HAVE_stream_pass_MODULE
#define SL_HAVE_stream_pass_MODULE  0
#endif
#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif
#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif
#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif
#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif

#define T_IO      20000     /* ms for one exchange */
#define HELLO_MAX 70000

#define VARS  "$ssl_preread_server_name|$ssl_preread_alpn_protocols|" \
              "$ssl_preread_protocol"

/* --- ClientHellos built here --------------------------------------------- */

typedef struct {
    const char  *sni;       /* NULL: no server_name extension */
    const char  *alpn;      /* "h2,http/1.1"; NULL: none */
    int          tls13;     /* a supported_versions extension */
    size_t       pad;       /* a padding extension of this many bytes */
    size_t       record;    /* at most this much per record; 0: 16384 */
} hello_t;

static u_char *
put16(u_char *p, size_t v)
{
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;
    return p;
}

/* one extension: type, length, then body's len bytes */
static u_char *
put_ext(u_char *p, unsigned type, const u_char *body, size_t len)
{
    p = put16(p, type);
    p = put16(p, len);
    memcpy(p, body, len);
    return p + len;
}

static size_t
hello_extensions(const hello_t *h, u_char *p0)
{
    u_char       body[HELLO_MAX], *p = p0, *b;
    const char  *s, *comma;
    size_t       n;

    if (h->sni != NULL) {
        n = strlen(h->sni);
        b = put16(body, n + 3);
        *b++ = 0;                                   /* host_name */
        b = put16(b, n);
        memcpy(b, h->sni, n);
        p = put_ext(p, 0, body, (size_t) (b + n - body));
    }

    if (h->alpn != NULL) {
        b = body + 2;
        for (s = h->alpn; *s != '\0'; s = *comma ? comma + 1 : comma) {
            comma = strchr(s, ',');
            comma = comma ? comma : s + strlen(s);
            *b++ = (u_char) (comma - s);
            memcpy(b, s, (size_t) (comma - s));
            b += comma - s;
        }
        put16(body, (size_t) (b - body - 2));
        p = put_ext(p, 16, body, (size_t) (b - body));
    }

    if (h->tls13) {
        static const u_char  sv[] = { 4, 0x03, 0x04, 0x03, 0x03 };

        p = put_ext(p, 43, sv, sizeof(sv));
    }

    if (h->pad > 0) {
        memset(body, 0, h->pad);
        p = put_ext(p, 21, body, h->pad);
    }

    return (size_t) (p - p0);
}

/* the ClientHello in records of at most h->record bytes; its length */
static size_t
hello_build(const hello_t *h, u_char *out)
{
    static u_char  msg[HELLO_MAX];
    u_char        *p = msg + 4, *o = out;
    size_t         ext, len, off, n, rec = h->record ? h->record : 16384;
    int            i;

    p = put16(p, 0x0303);
    for (i = 0; i < 32; i++) {
        *p++ = (u_char) (i * 7);                    /* random */
    }
    *p++ = 32;                                      /* session id */
    for (i = 0; i < 32; i++) {
        *p++ = (u_char) i;
    }
    p = put16(p, 4);                                /* cipher suites */
    p = put16(p, 0x1301);
    p = put16(p, 0xc02f);
    *p++ = 1;                                       /* compression */
    *p++ = 0;

    ext = hello_extensions(h, p + 2);
    p = put16(p, ext) + ext;

    len = (size_t) (p - msg);
    msg[0] = 1;
    msg[1] = (u_char) ((len - 4) >> 16);
    msg[2] = (u_char) ((len - 4) >> 8);
    msg[3] = (u_char) (len - 4);

    for (off = 0; off < len; off += n) {
        n = len - off < rec ? len - off : rec;
        *o++ = 0x16;
        *o++ = 3;
        *o++ = 1;
        o = put16(o, n);
        memcpy(o, msg + off, n);
        o += n;
    }

    return (size_t) (o - out);
}

/* --- the configurations -------------------------------------------------- */

typedef struct {
    sl_t_backend_t  b[3];
    sl_t_sluice_t   srv;
} routing_t;

/* sluice's error log, for the messages of a failure */
static const char  *t_errlog;

static const char  *names[3] = { "a.test", "b.test", "c.test" };
static const char  *ids[3] = { "A", "B", "C" };

static char *
upstreams(routing_t *r)
{
    return sl_t_printf(
        "    upstream a.test { server 127.0.0.1:%d; }\n"
        "    upstream b.test { server 127.0.0.1:%d; }\n"
        "    upstream c.test { server 127.0.0.1:%d; }\n",
        r->b[0].port, r->b[1].port, r->b[2].port);
}

/* three plain echo back ends, one port routing to them by SNI */
static void
start_routing(routing_t *r, const char *use, const char *more)
{
    int  i;

    for (i = 0; i < 3; i++) {
        sl_t_backend_start(&r->b[i], ids[i], SL_TB_ECHO, 0);
    }

    sl_t_sluice_start(&r->srv, sl_t_printf(
        "events { %s%s%s }\n"
        "stream {\n"
        "%s"
        "    log_format sni '$status " VARS "|$bytes_received';\n"
        "    access_log logs/sni.log sni;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        proxy_pass $ssl_preread_server_name;\n"
        "        proxy_half_close on;\n"
        "        %s\n"
        "    }\n"
        "}\n", use ? "use " : "", use ? use : "", use ? ";" : "",
        upstreams(r), more ? more : ""));
    t_errlog = r->srv.log;
}

/* the access log once it holds n lines */
static char *
log_lines(sl_t_sluice_t *srv, const char *name, int n)
{
    return sl_t_wait_lines(sl_t_path(srv->dir, name), n, T_IO);
}

/*
 * Sends the hello (one byte per segment when bytewise), then checks that
 * the back end of id greets and echoes exactly those bytes.
 */
static void
send_and_check(int port, const u_char *hello, size_t len, int bytewise,
    const char *id)
{
    static u_char  back[HELLO_MAX];
    char           got[16];
    size_t         i, n;
    int            fd, one = 1;

    fd = sl_t_connect("127.0.0.1", port);

    if (bytewise) {
        ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                    sizeof(one)), 0);
        for (i = 0; i < len; i++) {
            sl_t_send_all(fd, hello + i, 1, T_IO);
        }
    } else {
        sl_t_send_all(fd, hello, len, T_IO);
    }

    sl_t_read_id(fd, got, sizeof(got), T_IO);
    ck_assert_str_eq(got, id);

    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    n = sl_t_recv_all(fd, back, sizeof(back), NULL, T_IO);
    ck_assert_msg(n == len, "%zu bytes came back of %zu: %s", n, len,
                  t_errlog ? sl_t_read(t_errlog) : "");
    ck_assert_msg(memcmp(back, hello, len) == 0,
                  "the back end got other bytes than the client sent");
    close(fd);
}

/* --- routing ------------------------------------------------------------- */

/* each name to its back end, which gets the hello as it was sent */
START_TEST(test_routing_by_sni)
{
    static u_char  hello[HELLO_MAX];
    routing_t      r;
    hello_t        h = { NULL, "h2,http/1.1", 0, 0, 0 };
    char          *log;
    size_t         len;
    int            i;

    start_routing(&r, sl_t_backend(_i), NULL);

    for (i = 0; i < 3; i++) {
        h.sni = names[i];
        h.tls13 = i != 1;
        len = hello_build(&h, hello);
        send_and_check(r.srv.port, hello, len, 0, ids[i]);
    }

    log = log_lines(&r.srv, "logs/sni.log", 3);
    ck_assert_ptr_nonnull(strstr(log, "200 a.test|h2,http/1.1|TLSv1.3|"));
    ck_assert_ptr_nonnull(strstr(log, "200 b.test|h2,http/1.1|TLSv1.2|"));
    ck_assert_ptr_nonnull(strstr(log, "200 c.test|h2,http/1.1|TLSv1.3|"));

    sl_t_sluice_stop(&r.srv);
}
END_TEST

/* a hello a byte at a time, each in a segment of its own */
START_TEST(test_routing_bytewise)
{
    static u_char  hello[HELLO_MAX];
    routing_t      r;
    hello_t        h = { "b.test", "x", 1, 0, 0 };
    size_t         len;

    start_routing(&r, sl_t_backend(_i), NULL);

    len = hello_build(&h, hello);
    send_and_check(r.srv.port, hello, len, 1, "B");

    ck_assert_ptr_nonnull(strstr(log_lines(&r.srv, "logs/sni.log", 1),
                                 sl_t_printf("200 b.test|x|TLSv1.3|%zu\n",
                                             len)));
    sl_t_sluice_stop(&r.srv);
}
END_TEST

/*
 * A hello in records of 100 bytes (fields cut across records), and one
 * of 20000 bytes of padding, more than a record holds, in two records.
 */
START_TEST(test_routing_records)
{
    static u_char  hello[HELLO_MAX];
    routing_t      r;
    hello_t        small = { "c.test", "h2,spdy/3,http/1.1", 0, 600, 100 };
    hello_t        big = { "a.test", "h2", 1, 20000, 0 };
    char          *log;
    size_t         len;

    start_routing(&r, NULL, "preread_buffer_size 64k;");

    len = hello_build(&small, hello);
    ck_assert_uint_gt(len, 5 * 105);
    send_and_check(r.srv.port, hello, len, 0, "C");

    len = hello_build(&big, hello);
    ck_assert_uint_gt(len, 16384 + 5);
    send_and_check(r.srv.port, hello, len, 0, "A");

    log = log_lines(&r.srv, "logs/sni.log", 2);
    ck_assert_ptr_nonnull(strstr(log, "200 c.test|h2,spdy/3,http/1.1|"
                                      "TLSv1.2|"));
    ck_assert_ptr_nonnull(strstr(log, "200 a.test|h2|TLSv1.3|"));
    sl_t_sluice_stop(&r.srv);
}
END_TEST

/*
 * A hello larger than preread_buffer_size: 400, "preread buffer full";
 * what was whole when the buffer filled is in the variables.
 */
START_TEST(test_buffer_full)
{
    static u_char  hello[HELLO_MAX];
    routing_t      r;
    hello_t        h = { "a.test", NULL, 0, 3000, 0 };
    size_t         len;
    int            fd, reset;

    start_routing(&r, NULL, "preread_buffer_size 1k;");

    len = hello_build(&h, hello);
    fd = sl_t_connect("127.0.0.1", r.srv.port);
    sl_t_send_all(fd, hello, len, T_IO);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");

    ck_assert_ptr_nonnull(strstr(log_lines(&r.srv, "logs/sni.log", 1),
                                 "400 a.test||TLSv1.2|1024\n"));
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(r.srv.log), "error",
                                       "preread buffer full"));
    sl_t_sluice_stop(&r.srv);
}
END_TEST

/* --- the variables through return ---------------------------------------- */

static void
start_return(sl_t_sluice_t *srv, const char *use, const char *more)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "events { %s%s%s }\n"
        "stream {\n"
        "    log_format v '$status [" VARS "]';\n"
        "    access_log logs/v.log v;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        return \"[" VARS "]\\n\";\n"
        "        %s\n"
        "    }\n"
        "}\n", use ? "use " : "", use ? use : "", use ? ";" : "",
        more ? more : ""));
}

static char *
exchange(sl_t_sluice_t *srv, const void *bytes, size_t len)
{
    int  fd, reset;

    fd = sl_t_connect("127.0.0.1", srv->port);
    sl_t_send_all(fd, bytes, len, T_IO);
    return sl_t_recv_text(fd, &reset, T_IO);
}

/*
 * What the variables say: a hello's values; a hello without SNI or ALPN
 * (empty, found); an SSLv2-compatible hello (its version); garbage and
 * other TLS records (not found: empty in return, "-" in the log).
 */
START_TEST(test_variables)
{
    static u_char        hello[HELLO_MAX];
    static const u_char  v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0x15 };
    static const u_char  v2only[] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0, 0 };
    static const u_char  alert[] = { 0x15, 3, 3, 0, 2, 2, 40 };
    static const u_char  v4[] = { 0x16, 4, 1, 0, 2, 1, 0 };
    sl_t_sluice_t        srv;
    hello_t              h = { "Www.Example.COM", "http/1.1", 0, 0, 0 };
    hello_t              bare = { NULL, NULL, 0, 0, 0 };
    char                *log;
    size_t               len;

    start_return(&srv, sl_t_backend(_i), NULL);

    len = hello_build(&h, hello);
    ck_assert_str_eq(exchange(&srv, hello, len),
                     "[Www.Example.COM|http/1.1|TLSv1.2]\n");
    len = hello_build(&bare, hello);
    ck_assert_str_eq(exchange(&srv, hello, len), "[||TLSv1.2]\n");
    ck_assert_str_eq(exchange(&srv, v2, sizeof(v2)), "[||TLSv1]\n");
    ck_assert_str_eq(exchange(&srv, v2only, sizeof(v2only)), "[||SSLv2]\n");
    ck_assert_str_eq(exchange(&srv, "GET / HTTP/1.0\r\n\r\n", 18),
                     "[||]\n");
    ck_assert_str_eq(exchange(&srv, alert, sizeof(alert)), "[||]\n");
    ck_assert_str_eq(exchange(&srv, v4, sizeof(v4)), "[||]\n");

    log = log_lines(&srv, "logs/v.log", 7);
    ck_assert_ptr_nonnull(strstr(log, "200 [||SSLv2]\n"));
    ck_assert_ptr_nonnull(strstr(log, "200 [-|-|-]\n"));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* malformed hellos are refused, not read on: the values are not found */
START_TEST(test_malformed)
{
    static u_char  hello[HELLO_MAX];
    sl_t_sluice_t  srv;
    hello_t        h = { "a.test", "h2", 0, 0, 0 };
    size_t         len, sni;

    start_return(&srv, NULL, NULL);

    len = hello_build(&h, hello);

    hello[5] = 2;                               /* not a ClientHello */
    ck_assert_str_eq(exchange(&srv, hello, len), "[||]\n");

    len = hello_build(&h, hello);
    /* the SNI name's type: the extensions start 5 + 4 + 2 + 32 + 33 + 6 + 2 */
    sni = 5 + 4 + 2 + 32 + 33 + 6 + 2 + 4 + 2;
    ck_assert_int_eq(hello[sni], 0);
    hello[sni] = 1;
    ck_assert_str_eq(exchange(&srv, hello, len), "[||]\n");

    len = hello_build(&h, hello);
    hello[sni - 1] += 1;                        /* the SNI list's length */
    ck_assert_str_eq(exchange(&srv, hello, len), "[||]\n");

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * preread_timeout: a client that sends part of a hello, or nothing, is
 * closed (status 200); what was whole is in the variables (not the ALPN
 * list, whose last name is cut).
 */
START_TEST(test_timeout)
{
    static u_char  hello[HELLO_MAX];
    sl_t_sluice_t  srv;
    hello_t        h = { "a.test", "h2", 0, 0, 0 };
    size_t         len;
    int            fd, reset;
    char          *log;

    start_return(&srv, sl_t_backend(_i), "preread_timeout 300ms;");

    len = hello_build(&h, hello);
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, hello, len - 3, T_IO);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");

    log = log_lines(&srv, "logs/v.log", 2);
    ck_assert_ptr_nonnull(strstr(log, "200 [a.test||TLSv1.2]\n"));
    ck_assert_ptr_nonnull(strstr(log, "200 [-|-|-]\n"));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- real TLS clients ---------------------------------------------------- */

typedef struct {
    sl_t_backend_t  b[3];
    sl_t_sluice_t   srv;
} tls_routing_t;

/* three TLS echo back ends, reached by SNI through ssl_preread */
static void
start_tls_routing(tls_routing_t *r)
{
    int  i;

    for (i = 0; i < 3; i++) {
        sl_t_tls_backend_start(&r->b[i], ids[i], sl_tt_file("rsa.crt"),
                               sl_tt_file("rsa.key"), NULL);
    }

    sl_t_sluice_start(&r->srv, sl_t_printf(
        "stream {\n"
        "%s"
        "    log_format sni '$status " VARS "';\n"
        "    access_log logs/sni.log sni;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        proxy_pass $ssl_preread_server_name;\n"
        "    }\n"
        "}\n", upstreams((routing_t *) r)));
}

/* a TLS session through sluice to the back end of name: its greeting */
static void
tls_through(int port, const char *name, int version, const char *id)
{
    sl_tt_opts_t  o;
    sl_tt_peer_t  p;
    char          buf[64];
    int           fd;

    memset(&o, 0, sizeof(o));
    o.server_name = name;
    o.alpn = "h2,http/1.1";
    o.min_version = version;
    o.max_version = version;

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_int_eq(sl_tt_handshake(&p, T_IO), 1);
    ck_assert_int_eq(sl_tt_read_full(&p, buf, strlen(id) + 1, T_IO), 1);
    ck_assert_int_eq(memcmp(buf, id, strlen(id)), 0);
    ck_assert_int_eq(sl_tt_write(&p, "ping", 4, T_IO), 1);
    ck_assert_int_eq(sl_tt_read_full(&p, buf, 4, T_IO), 1);
    ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
    sl_tt_shutdown(&p, 0, T_IO);
    sl_tt_peer_free(&p);
    close(fd);
}

START_TEST(test_tls_clients)
{
    tls_routing_t  r;
    char          *log;
    int            i;

    start_tls_routing(&r);

    for (i = 0; i < 3; i++) {
        tls_through(r.srv.port, names[i], TLS1_2_VERSION, ids[i]);
        tls_through(r.srv.port, names[i], TLS1_3_VERSION, ids[i]);
        ck_assert_ptr_nonnull(strstr(sl_t_backend_wait_record(&r.b[i], 2,
                                                              T_IO),
                                     sl_t_printf("sni=%s", names[i])));
    }

    log = log_lines(&r.srv, "logs/sni.log", 6);
    ck_assert_ptr_nonnull(strstr(log, "200 b.test|h2,http/1.1|TLSv1.2\n"));
    ck_assert_ptr_nonnull(strstr(log, "200 b.test|h2,http/1.1|TLSv1.3\n"));
    sl_t_sluice_stop(&r.srv);
}
END_TEST

/* `openssl s_client` (TLS 1.2 and 1.3) and curl, when installed */
START_TEST(test_sclient_curl)
{
    tls_routing_t  r;
    sl_t_out_t     out;
    char          *port, *log;
    int            rc;

    start_tls_routing(&r);
    port = sl_t_printf("127.0.0.1:%d", r.srv.port);

    rc = sl_t_run(((char *[]) { "openssl", "s_client", "-connect", port,
                                "-servername", "a.test", "-tls1_2",
                                "-alpn", "h2", NULL }), &out, T_IO);
    ck_assert_msg(rc == 0, "s_client: %d %s", rc, out.err);
    ck_assert_ptr_nonnull(strstr(out.out, "TLSv1.2"));

    rc = sl_t_run(((char *[]) { "openssl", "s_client", "-connect", port,
                                "-servername", "b.test", "-tls1_3", NULL }),
                  &out, T_IO);
    ck_assert_msg(rc == 0, "s_client: %d %s", rc, out.err);
    ck_assert_ptr_nonnull(strstr(out.out, "TLSv1.3"));

    ck_assert_ptr_nonnull(strstr(sl_t_backend_wait_record(&r.b[0], 1, T_IO),
                                 "sni=a.test"));
    ck_assert_ptr_nonnull(strstr(sl_t_backend_wait_record(&r.b[1], 1, T_IO),
                                 "sni=b.test"));

    if (access("/usr/bin/curl", X_OK) == 0) {
        /* the back end echoes, which is no HTTP: curl's error is expected */
        (void) sl_t_run(((char *[]) { "curl", "-sk", "--max-time", "10",
                            "--http1.1", "--resolve",
                            sl_t_printf("c.test:%d:127.0.0.1", r.srv.port),
                            sl_t_printf("https://c.test:%d/", r.srv.port),
                            NULL }), &out, T_IO);
        ck_assert_ptr_nonnull(strstr(sl_t_backend_wait_record(&r.b[2], 1,
                                                              T_IO),
                                     "sni=c.test"));
    }

    log = log_lines(&r.srv, "logs/sni.log", 2);
    ck_assert_ptr_nonnull(strstr(log, "200 a.test|h2|TLSv1.2\n"));
    ck_assert_ptr_nonnull(strstr(log, "200 b.test||TLSv1.3\n"));
    sl_t_sluice_stop(&r.srv);
}
END_TEST

/*
 * The server chosen by the preread name (nginx 1.25.5): two servers on
 * the port, the second named b.test answers for it, others stay on the
 * default server.
 */
START_TEST(test_server_selection)
{
    static u_char  hello[HELLO_MAX];
    sl_t_sluice_t  srv;
    hello_t        h = { "B.Test.", NULL, 0, 0, 0 };
    size_t         len;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    ssl_preread on;\n"
        "    server { listen 127.0.0.1:@PORT@; return \"default\\n\"; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name b.test;\n"
        "        return \"b $ssl_preread_server_name\\n\";\n"
        "    }\n"
        "}\n");

    len = hello_build(&h, hello);
    ck_assert_str_eq(exchange(&srv, hello, len), "b B.Test.\n");
    h.sni = "c.test";
    len = hello_build(&h, hello);
    ck_assert_str_eq(exchange(&srv, hello, len), "default\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * Regular expressions in server_name (nginx 1.25.5): tried after the
 * exact names and the wildcards, in the order of the configuration; their
 * groups are the session's $1.. and named variables. A pattern with a
 * capital letter matches without regard to case (names are lower-cased).
 * $hostname is the machine's name. $server_name is the chosen server's
 * first name as written (a leading "." dropped, "" for none).
 */
START_TEST(test_server_selection_regex)
{
    static u_char  hello[HELLO_MAX];
    sl_t_sluice_t  srv;
    hello_t        h = { NULL, NULL, 0, 0, 0 };
    size_t         len;
    char           host[256];
    unsigned       i;
    static const struct { const char *sni, *answer; }  cases[] = {
        { "web.re.test", "named web web ~^(?<sub>[a-z]+)\\.re\\.test$\n" },
        { "Db.Re.Test.", "named db db ~^(?<sub>[a-z]+)\\.re\\.test$\n" },
        { "exact.re.test", "exact  exact.re.test\n" },
        { "x.wild.test", "wild  *.wild.test\n" },
        /* the caseless ~^([a-z])\.UPPER comes before wild's regex */
        { "b.upper.test", "digits b ~^([0-9a-z]+)\\.re\\.test$\n" },
        { "1.re.test", "digits 1 ~^([0-9a-z]+)\\.re\\.test$\n" },
        { "dot.test", "dot dot.test\n" },
        { "other.test", "default []\n" },
    };

    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    host[sizeof(host) - 1] = '\0';

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    ssl_preread on;\n"
        "    server { listen 127.0.0.1:@PORT@;\n"
        "             return \"default [$server_name]\\n\"; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name .dot.test;\n"
        "        return \"dot $server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name ~^(?<sub>[a-z]+)\\.re\\.test$;\n"
        "        return \"named $sub $1 $server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name ~^([0-9a-z]+)\\.re\\.test$ ~^([a-z])\\.UPPER;\n"
        "        return \"digits $1 $server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name exact.re.test;\n"
        "        return \"exact $1 $server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name *.wild.test ~^([a-z])\\.upper\\.test$;\n"
        "        return \"wild $1 $server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        server_name $hostname;\n"
        "        return \"host\\n\";\n"
        "    }\n"
        "}\n");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h.sni = cases[i].sni;
        len = hello_build(&h, hello);
        ck_assert_str_eq(exchange(&srv, hello, len), cases[i].answer);
    }

    h.sni = host;
    len = hello_build(&h, hello);
    ck_assert_str_eq(exchange(&srv, hello, len), "host\n");
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- pass ---------------------------------------------------------------- */

/*
 * A PROXY protocol listen reads its header from the socket, so bytes
 * already preread cannot go to it: pass refuses, with nginx's words, and
 * the 500 is the passing server's session (its access_log, its address),
 * not the target's.
 */
START_TEST(test_pass_preread_to_proxy_protocol)
{
    static u_char  hello[HELLO_MAX];
    sl_t_sluice_t  srv;
    hello_t        h = { "a.test", NULL, 0, 0, 0 };
    size_t         len;
    char          *a;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format f '$status $server_port';\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        access_log logs/a.log f;\n"
        "        pass unix:@DIR@/pp.sock;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/pp.sock proxy_protocol;\n"
        "        access_log logs/b.log f;\n"
        "        return x;\n"
        "    }\n"
        "}\n");

    len = hello_build(&h, hello);
    ck_assert_str_eq(exchange(&srv, hello, len), "");

    a = sl_t_wait_lines(sl_t_path(srv.dir, "logs/a.log"), 1, T_IO);
    ck_assert_str_eq(a, sl_t_printf("500 %d\n", srv.port));
    ck_assert_int_eq(sl_t_log_count(sl_t_read(srv.log), "error",
                                    "cannot pass connection with preread "
                                    "data"), 1);
    sl_t_sluice_stop(&srv);
    ck_assert_int_eq(access(sl_t_path(srv.dir, "logs/b.log"), F_OK) == 0
                     ? (int) strlen(sl_t_read(sl_t_path(srv.dir,
                                                        "logs/b.log")))
                     : 0, 0);
}
END_TEST

/*
 * ssl_preread reads the hello, pass hands it to a TLS listen of the same
 * configuration (a unix socket), whose handshake takes it as sent and
 * whose SNI picks the server.
 */
START_TEST(test_pass_to_tls)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char           buf[64];
    char          *log;
    ssize_t        n;
    int            fd, i;

    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "    log_format v '$status $server_addr [" VARS "]';\n"
        "    access_log logs/v.log v;\n"
        "    ssl_certificate %s;\n"
        "    ssl_certificate_key %s;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        pass unix:@DIR@/tls.sock;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/tls.sock ssl;\n"
        "        return \"default $ssl_server_name\\n\";\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/tls.sock ssl;\n"
        "        server_name b.test;\n"
        "        return \"b $ssl_server_name $bytes_received\\n\";\n"
        "    }\n"
        "}\n", sl_t_backend(_i), sl_tt_file("rsa.crt"),
        sl_tt_file("rsa.key")));

    for (i = 0; i < 2; i++) {
        memset(&o, 0, sizeof(o));
        o.server_name = i == 0 ? "b.test" : "z.test";
        o.min_version = i == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;

        fd = sl_t_connect("127.0.0.1", srv.port);
        ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
        ck_assert_int_eq(sl_tt_handshake(&p, T_IO), 1);
        n = sl_tt_read(&p, buf, sizeof(buf) - 1, T_IO);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        if (i == 0) {
            /* the hello went to the handshake: not counted as data */
            ck_assert_str_eq(buf, "b b.test 0\n");
        } else {
            ck_assert_str_eq(buf, "default z.test\n");
        }
        sl_tt_peer_free(&p);
        close(fd);
    }

    /*
     * One line per connection: the session it was passed to, which did
     * not preread (the first session is not logged, as in nginx).
     */
    log = log_lines(&srv, "logs/v.log", 2);
    ck_assert_int_eq(sl_t_count(log, sl_t_printf(
                         "200 unix:%s/tls.sock [-|-|-]", srv.dir)), 2);
    ck_assert_ptr_null(strstr(log, "127.0.0.1"));
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A plain listen after pass (its address from the preread name): the
 * proxy there sends the hello, in many records, untouched.
 */
START_TEST(test_pass_keeps_bytes)
{
    static u_char   hello[HELLO_MAX];
    sl_t_backend_t  b;
    sl_t_sluice_t   srv;
    hello_t         h = { "plain", "h2", 1, 2000, 300 };
    size_t          len;

    sl_t_backend_start(&b, "E", SL_TB_ECHO, 0);
    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream {\n"
        "    log_format v '$status [" VARS "] $bytes_received';\n"
        "    access_log logs/v.log v;\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        ssl_preread on;\n"
        "        pass unix:@DIR@/$ssl_preread_server_name.sock;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/plain.sock;\n"
        "        proxy_pass 127.0.0.1:%d;\n"
        "        proxy_half_close on;\n"
        "    }\n"
        "}\n", sl_t_backend(_i), b.port));

    len = hello_build(&h, hello);
    send_and_check(srv.port, hello, len, 0, "E");

    /* the passed session has not run ssl_preread: its values are not found */
    ck_assert_ptr_nonnull(strstr(log_lines(&srv, "logs/v.log", 1),
                                 sl_t_printf("200 [-|-|-] %zu\n", len)));
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * nginx's own use: TLS terminated on one listen, the connection passed to
 * a plain one, whose session reads (and writes) through that TLS.
 */
START_TEST(test_pass_after_tls)
{
    sl_t_sluice_t  srv;
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char           buf[64];
    ssize_t        n;
    int            fd;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ ssl;\n"
        "        ssl_certificate %s;\n"
        "        ssl_certificate_key %s;\n"
        "        pass unix:@DIR@/plain.sock;\n"
        "    }\n"
        "    server {\n"
        "        listen unix:@DIR@/plain.sock;\n"
        "        return \"plain $ssl_protocol $ssl_server_name\\n\";\n"
        "    }\n"
        "}\n", sl_tt_file("rsa.crt"), sl_tt_file("rsa.key")));

    memset(&o, 0, sizeof(o));
    o.server_name = "x.test";
    o.min_version = TLS1_3_VERSION;

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_int_eq(sl_tt_handshake(&p, T_IO), 1);
    n = sl_tt_read(&p, buf, sizeof(buf) - 1, T_IO);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "plain TLSv1.3 x.test\n");
    sl_tt_peer_free(&p);
    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_pass_errors)
{
    sl_t_sluice_t  srv;
    int            fd, reset;
    char          *log;

    sl_t_sluice_start(&srv,
        "stream {\n"
        "    log_format v '$status $server_addr';\n"
        "    access_log logs/v.log v;\n"
        "    server { listen 127.0.0.1:@PORT@; pass 127.0.0.1:1; }\n"
        "    server { listen unix:@DIR@/a.sock; pass unix:@DIR@/b.sock; }\n"
        "    server { listen unix:@DIR@/b.sock; pass unix:@DIR@/a.sock; }\n"
        "    server {\n"
        "        listen unix:@DIR@/v.sock;\n"
        "        ssl_preread on;\n"
        "        pass $ssl_preread_server_name;\n"
        "    }\n"
        "}\n");

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");
    log = log_lines(&srv, "logs/v.log", 1);
    ck_assert_ptr_nonnull(strstr(log, "200 127.0.0.1\n"));
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(srv.log), "error",
        "port not found for \"127.0.0.1:1\" while passing connection to "
        "port"));

    fd = sl_t_connect_unix(sl_t_path(srv.dir, "a.sock"));
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");
    log = log_lines(&srv, "logs/v.log", 2);
    ck_assert_ptr_nonnull(strstr(log, "500 unix:"));
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(srv.log), "error",
                                       "stream pass cycle"));
    /* one session was logged for the eleven it became */
    ck_assert_int_eq(sl_t_count(sl_t_read(sl_t_path(srv.dir,
                                                    "logs/v.log")),
                                "unix:"), 1);

    /* no hello, no name: an empty address is no address (500) */
    fd = sl_t_connect_unix(sl_t_path(srv.dir, "v.sock"));
    sl_t_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18, T_IO);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");
    log = log_lines(&srv, "logs/v.log", 3);
    ck_assert_int_eq(sl_t_count(log, "500 unix:"), 2);
    ck_assert_ptr_nonnull(sl_t_log_has(sl_t_read(srv.log), "error",
                                       " in pass \"\""));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- configuration ------------------------------------------------------- */

START_TEST(test_conf_errors)
{
    static const struct {
        const char  *conf;
        const char  *msg;
        const char  *where;     /* the FILE:LINE part; NULL: none */
    } bad[] = {
        { "stream { server { listen 127.0.0.1:1;\n ssl_preread maybe; "
          "return x; } }\n",
          "invalid value \"maybe\" in \"ssl_preread\" directive, it must be "
          "\"on\" or \"off\" in ", "t.conf:2" },
        { "stream { server { listen 127.0.0.1:1;\n pass 127.0.0.1:2;\n"
          " pass 127.0.0.1:3; } }\n",
          "\"pass\" directive is duplicate in ", "t.conf:3" },
        { "stream { server { listen 127.0.0.1:1;\n pass localhost:2; } }\n",
          "\"pass\" directive has no addresses in ", "t.conf:2" },
        { "stream { server { listen 127.0.0.1:1;\n pass 127.0.0.1; } }\n",
          "\"pass\" directive has no port in ", "t.conf:2" },
        { "stream { server { listen 127.0.0.1:1;\n pass 127.0.0.1:x; } }\n",
          "invalid port in \"127.0.0.1:x\" of the \"pass\" directive in ",
          "t.conf:2" },
        { "stream { server { listen 127.0.0.1:1;\n pass unix:/"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "; } }\n",
          "too long path in the unix domain socket in \"unix:/aaaa",
          "t.conf:2" },
        { "stream {\n pass 127.0.0.1:2; server { listen 127.0.0.1:1; "
          "return x; } }\n",
          "\"pass\" directive is not allowed here in ", "t.conf:2" },
        { "stream { server { listen 127.0.0.1:1;\n pass $nosuch; } }\n",
          "unknown \"nosuch\" variable", NULL },
        { "stream { server { listen 127.0.0.1:1;\n return x; } }\n"
          "ssl_preread on;\n",
          "\"ssl_preread\" directive is not allowed here in ", "t.conf:3" },
    };
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_t_conf_error(bad[i].conf, bad[i].msg);
        if (bad[i].where != NULL) {
            sl_t_conf_error(bad[i].conf, bad[i].where);
        }
    }

    ck_assert_int_eq(sl_t_sluice_test(
        "stream { ssl_preread off; server { listen 127.0.0.1:1;\n"
        "ssl_preread on; pass $ssl_preread_server_name; } }\n", NULL), 0);
}
END_TEST

/* conf/sni-routing.conf, as shipped, loads */
START_TEST(test_shipped_example)
{
    sl_t_out_t   out;
    char        *conf;

    conf = sl_t_read(sl_t_path(sl_t_src(), "conf/sni-routing.conf"));
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_preread          on;"));
    ck_assert_ptr_nonnull(strstr(conf, "map $ssl_preread_server_name "
                                       "$sni_upstream {"));
    ck_assert_ptr_nonnull(strstr(conf, "proxy_pass             "
                                       "$sni_upstream;"));
    ck_assert_int_eq(sl_t_sluice_test(conf, &out), 0);
}
END_TEST

static Suite *
ssl_preread_suite(void)
{
    Suite  *s = suite_create("ssl_preread");
    TCase  *tc = tcase_create("ssl_preread");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_ssl_preread_MODULE || !SL_HAVE_stream_pass_MODULE
        || !SL_HAVE_stream_proxy_MODULE || !SL_HAVE_stream_return_MODULE
        || !SL_HAVE_stream_log_MODULE || !SL_HAVE_stream_ssl_MODULE)
    {
        return s;
    }

    tcase_add_test(tc, test_conf_errors);
    if (SL_HAVE_stream_map_MODULE) {
        tcase_add_test(tc, test_shipped_example);
    }
    tcase_add_loop_test(tc, test_routing_by_sni, 0, sl_t_nbackends());
    tcase_add_loop_test(tc, test_routing_bytewise, 0, sl_t_nbackends());
    tcase_add_test(tc, test_routing_records);
    tcase_add_test(tc, test_buffer_full);
    tcase_add_loop_test(tc, test_variables, 0, sl_t_nbackends());
    tcase_add_test(tc, test_malformed);
    tcase_add_loop_test(tc, test_timeout, 0, sl_t_nbackends());
    tcase_add_test(tc, test_tls_clients);
    tcase_add_test(tc, test_sclient_curl);
    tcase_add_test(tc, test_server_selection);
    tcase_add_test(tc, test_server_selection_regex);
    tcase_add_test(tc, test_pass_preread_to_proxy_protocol);
    tcase_add_loop_test(tc, test_pass_to_tls, 0, sl_t_nbackends());
    tcase_add_loop_test(tc, test_pass_keeps_bytes, 0, sl_t_nbackends());
    tcase_add_test(tc, test_pass_after_tls);
    tcase_add_test(tc, test_pass_errors);
    return s;
}

SL_TEST_MAIN(ssl_preread_suite)
