/*
 * test_proxy_ssl.c -- TLS to the servers (proxy_ssl*), run as the real
 * binary against TLS echo backends the test starts (sl_t_backend.h): a
 * session through, proxy_ssl_verify with the right CA, another CA and a
 * name that does not match, SNI sent or not, the ALPN list offered
 * (proxy_ssl_alpn, seen by an in-test server), a client certificate asked
 * by the server (mTLS), sessions resumed with proxy_ssl_session_reuse and
 * not without (per server of a group whatever its balancer, per server{}
 * block, not with proxy_pass naming an address through variables, anew
 * after a reload); proxy_timeout on a TLS client whose renegotiation stalls
 * our read on a write. The bulk of each TLS mode (1 GiB each way, sha256
 * checked) is test_proxy_gib's.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif

#ifndef SL_HAVE_stream_log_MODULE
#define SL_HAVE_stream_log_MODULE  0
#endif

#define T_IO        20000       /* ms for one exchange */

static const char *
pki(const char *name)
{
    return sl_t_printf("%s", sl_tt_file(name));
}

/* a TLS echo backend with the test PKI's RSA certificate */
static void
tls_backend(sl_t_backend_t *b, const char *id, const char *ca)
{
    sl_t_tls_backend_start(b, id, pki("rsa.crt"), pki("rsa.key"),
                           ca ? pki(ca) : NULL);
}

/* sluice with one server: listen (plain or "ssl"), then more */
static void
start(sl_t_sluice_t *srv, int ssl, const char *more)
{
    sl_t_sluice_start(srv, sl_t_printf(
        "stream {\n"
        "    server { listen 127.0.0.1:@PORT@%s; %s %s }\n"
        "}\n", ssl ? " ssl" : "",
        ssl ? sl_t_printf("ssl_certificate %s; ssl_certificate_key %s;",
                          pki("ecdsa.crt"), pki("ecdsa.key")) : "",
        more));
}

static char *
to(sl_t_backend_t *b)
{
    return sl_t_printf("proxy_pass 127.0.0.1:%d; proxy_ssl on;", b->port);
}

/* a plain session through fd: greeting, "ping" echoed; the id or "" */
static char *
ping_fd(int fd)
{
    char  *id = sl_t_printf("%32s", ""), buf[64];

    sl_t_read_id(fd, id, 32, T_IO);

    if (id[0] != '\0') {
        sl_t_send_all(fd, "ping\n", 5, T_IO);
        sl_t_read_id(fd, buf, sizeof(buf), T_IO);
        ck_assert_str_eq(buf, "ping");
    }

    close(fd);
    return id;
}

static char *
ping(sl_t_sluice_t *srv)
{
    return ping_fd(sl_t_connect("127.0.0.1", srv->port));
}

/* the same from the loopback address src: $remote_addr is src */
static char *
ping_from(int port, const char *src)
{
    return ping_fd(sl_t_connect_from(src, "127.0.0.1", port));
}

/* the n-th record line of b (1-based), waiting for it */
static char *
record(sl_t_backend_t *b, int n)
{
    char  *text, *line;
    int    i;

    text = sl_t_backend_wait_record(b, n, T_IO);
    line = text;

    for (i = 1; i < n; i++) {
        line = strchr(line, '\n');
        ck_assert_ptr_nonnull(line);
        line++;
    }

    return sl_t_printf("%.*s", (int) strcspn(line, "\n"), line);
}

START_TEST(test_through)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t, p;

    tls_backend(&t, "T", NULL);
    start(&srv, 0, to(&t));

    ck_assert_str_eq(ping(&srv), "T");
    /* the 5 bytes came over TLS, and our close_notify at the end */
    ck_assert_str_eq(record(&t, 1), "T 5 close_notify resumed=0 sni=- cn=-");

    sl_t_sluice_stop(&srv);

    /* a failed handshake (a plain server) is a failed try: the next one */
    sl_t_backend_start(&p, "P", SL_TB_ECHO, 0);
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    upstream u { server 127.0.0.1:%d; server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass u;"
        " proxy_ssl on; }\n"
        "}\n", p.port, t.port));
    ck_assert_str_eq(ping(&srv), "T");
    sl_t_wait_file(srv.log, "SSL_do_handshake() failed", T_IO);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* a server that takes the connection but never answers the ClientHello */
START_TEST(test_handshake_timeout)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  q;

    /* listening, never accepting: the kernel completes the connect */
    sl_t_backend_start(&q, "Q", SL_TB_NOACCEPT, 0);
    start(&srv, 0, sl_t_printf("proxy_pass 127.0.0.1:%d; proxy_ssl on;"
                               " proxy_connect_timeout 300ms;", q.port));

    ck_assert_str_eq(ping(&srv), "");
    sl_t_wait_file(srv.log, "upstream timed out", T_IO);
    sl_t_wait_file(srv.log, "while SSL handshaking to upstream", T_IO);

    sl_t_sluice_stop(&srv);
    sl_t_backend_close(&q);
}
END_TEST

START_TEST(test_verify)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t;

    tls_backend(&t, "T", NULL);

    /* the right CA, the name from proxy_pass (127.0.0.1, in the SAN) */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_verify on;"
                               " proxy_ssl_trusted_certificate %s;",
                               to(&t), pki("ca.crt")));
    ck_assert_str_eq(ping(&srv), "T");
    sl_t_sluice_stop(&srv);

    /* a CA that did not issue it: no session, the reason logged */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_verify on;"
                               " proxy_ssl_trusted_certificate %s;",
                               to(&t), pki("other-ca.crt")));
    ck_assert_str_eq(ping(&srv), "");
    sl_t_wait_file(srv.log, "upstream SSL certificate verify error: ",
                   T_IO);
    sl_t_sluice_stop(&srv);

    /* the right CA, a name the certificate does not have */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_verify on;"
                               " proxy_ssl_trusted_certificate %s;"
                               " proxy_ssl_name other.example;",
                               to(&t), pki("ca.crt")));
    ck_assert_str_eq(ping(&srv), "");
    sl_t_wait_file(srv.log, "upstream SSL certificate does not match "
                   "\"other.example\"", T_IO);
    sl_t_sluice_stop(&srv);

    /* the same with a name it has */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_verify on;"
                               " proxy_ssl_trusted_certificate %s;"
                               " proxy_ssl_name b.sluice.test;",
                               to(&t), pki("ca.crt")));
    ck_assert_str_eq(ping(&srv), "T");
    sl_t_sluice_stop(&srv);

    /* verify off (the default): another CA does not matter */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_trusted_certificate %s;",
                               to(&t), pki("other-ca.crt")));
    ck_assert_str_eq(ping(&srv), "T");
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_verify_needs_ca)
{
    sl_t_out_t   out;
    char        *dir = sl_t_mkdir();

    /* nginx's check: verifying needs something to verify against */
    sl_t_writef(dir, "conf/t.conf", "stream { server { listen 127.0.0.1:1;"
                " proxy_pass 127.0.0.1:2; proxy_ssl on;"
                " proxy_ssl_verify on; } }\n");
    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                            "conf/t.conf", "-t", NULL }),
                              &out, T_IO), 1);
    ck_assert_msg(strstr(out.err, "no proxy_ssl_trusted_certificate for "
                         "proxy_ssl_verify") != NULL, "%s", out.err);

    /* a certificate without its key */
    sl_t_writef(dir, "conf/t.conf", "stream { server { listen 127.0.0.1:1;"
                " proxy_pass 127.0.0.1:2; proxy_ssl on;"
                " proxy_ssl_certificate %s; } }\n", pki("client.crt"));
    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-p", dir, "-c",
                                            "conf/t.conf", "-t", NULL }),
                              &out, T_IO), 1);
    ck_assert_msg(strstr(out.err, "no \"proxy_ssl_certificate_key\" is "
                         "defined") != NULL, "%s", out.err);
}
END_TEST

START_TEST(test_server_name)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t;

    tls_backend(&t, "T", NULL);

    /* off (the default): no SNI even with a name */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_name a.sluice.test;", to(&t)));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 1), " sni=- "));
    sl_t_sluice_stop(&srv);

    /* on: proxy_ssl_name is sent */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_name a.sluice.test;"
                               " proxy_ssl_server_name on;", to(&t)));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 2), " sni=a.sluice.test "));
    sl_t_sluice_stop(&srv);

    /* on, the name from proxy_pass: an address, which SNI may not carry */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_server_name on;", to(&t)));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 3), " sni=- "));
    sl_t_sluice_stop(&srv);

    /* an upstream group: its name, with variables in proxy_ssl_name too */
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    upstream b.sluice.test { server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass b.sluice.test;"
        " proxy_ssl on; proxy_ssl_server_name on; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass b.sluice.test;"
        " proxy_ssl on; proxy_ssl_server_name on;"
        " proxy_ssl_name x$server_port.sluice.test; }\n"
        "}\n", t.port));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 4), " sni=b.sluice.test "));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* --- proxy_ssl_alpn ------------------------------------------------------ */

/* what the in-test server's last ClientHello offered: "a,b", or "-" */
static char  offered_alpn[1024];

static int
record_alpn(SSL *ssl, int *ad, void *arg)
{
    const unsigned char  *p;
    size_t                len, i, n, at = 0;

    (void) ad;
    (void) arg;

    strcpy(offered_alpn, "-");

    if (!SSL_client_hello_get0_ext(ssl,
                             TLSEXT_TYPE_application_layer_protocol_negotiation,
                             &p, &len))
    {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    /* 2 bytes of list length, then length-prefixed names */
    for (i = 2; i < len; i += 1 + n) {
        n = p[i];
        ck_assert_uint_le(i + 1 + n, len);
        ck_assert_uint_lt(at + n + 2, sizeof(offered_alpn));

        if (at > 0) {
            offered_alpn[at++] = ',';
        }

        memcpy(offered_alpn + at, p + i + 1, n);
        at += n;
    }

    offered_alpn[at] = '\0';
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* a listening socket on 127.0.0.1, a port the kernel chose */
static int
tls_listener(int *port)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);

    *port = ntohs(sin.sin_port);
    return fd;
}

/*
 * A plain session through sluice on fd to the in-test TLS server lfd:
 * the ALPN list sluice offered in its ClientHello.
 */
static const char  *alpn_log;   /* sluice's error log, for failures */

static const char *
alpn_offered(int fd, int lfd)
{
    struct pollfd  pfd = { lfd, POLLIN, 0 };
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    int            bfd;

    ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(T_IO)), 1);
    bfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(bfd, 0);

    memset(&o, 0, sizeof(o));
    o.cert = pki("rsa.crt");
    o.key = pki("rsa.key");
    ck_assert_int_eq(sl_tt_peer_init(&p, bfd, 1, &o), 0);
    SSL_CTX_set_client_hello_cb(p.ctx, record_alpn, NULL);

    strcpy(offered_alpn, "(no ClientHello)");
    ck_assert_msg(sl_tt_handshake(&p, T_IO), "handshake failed (%lu, %s), "
                  "the log:\n%s", p.err, offered_alpn,
                  alpn_log ? sl_t_read(alpn_log) : "");

    sl_tt_peer_free(&p);
    close(bfd);
    close(fd);
    return sl_t_printf("%s", offered_alpn);
}

START_TEST(test_ssl_alpn)
{
    sl_t_sluice_t   srv;
    int             lfd, bport;
    char           *to_b, *dir;

    lfd = tls_listener(&bport);
    to_b = sl_t_printf("proxy_pass 127.0.0.1:%d; proxy_ssl on;", bport);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "  proxy_ssl_alpn inherited;\n"
        "  server { listen 127.0.0.1:@PORT@; %s\n"
        "           proxy_ssl_alpn h2 http/1.1; }\n"
        "  server { listen unix:@DIR@/inherit.sock; %s }\n"
        "  server { listen unix:@DIR@/vars.sock; %s\n"
        "           proxy_ssl_alpn \"\" p$server_port x-$protocol \"\"; }\n"
        "  server { listen unix:@DIR@/empty.sock; %s\n"
        "           proxy_ssl_alpn \"\"; }\n"
        "  server { listen unix:@DIR@/empty-var.sock; %s\n"
        "           proxy_ssl_alpn $ssl_server_name; }\n"
        "}\n", to_b, to_b, to_b, to_b, to_b));
    dir = srv.dir;
    alpn_log = srv.log;

    /* constants, in the order given */
    ck_assert_str_eq(alpn_offered(sl_t_connect("127.0.0.1", srv.port), lfd),
                     "h2,http/1.1");
    ck_assert_str_eq(alpn_offered(sl_t_connect_unix(sl_t_path(dir,
                                  "inherit.sock")), lfd), "inherited");

    /* variables, per session; what comes out empty is left out */
    ck_assert_str_eq(alpn_offered(sl_t_connect_unix(sl_t_path(dir,
                                  "vars.sock")), lfd), "p,x-TCP");
    ck_assert_str_eq(alpn_offered(sl_t_connect_unix(sl_t_path(dir,
                                  "empty.sock")), lfd), "-");
    ck_assert_str_eq(alpn_offered(sl_t_connect_unix(sl_t_path(dir,
                                  "empty-var.sock")), lfd), "-");
    sl_t_sluice_stop(&srv);

    /* without the directive: no ALPN at all */
    start(&srv, 0, to_b);
    alpn_log = srv.log;
    ck_assert_str_eq(alpn_offered(sl_t_connect("127.0.0.1", srv.port), lfd),
                     "-");
    sl_t_sluice_stop(&srv);

    close(lfd);
}
END_TEST

START_TEST(test_ssl_alpn_errors)
{
    char  *name = sl_t_printf("%0300d", 0);

    sl_t_conf_error(sl_t_printf(
        "stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2;\n"
        "  proxy_ssl_alpn a %s; } }\n", name),
        "\"proxy_ssl_alpn\" directive protocol too long in ");
    sl_t_conf_error(
        "stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2;\n"
        "  proxy_ssl_alpn a; proxy_ssl_alpn b; } }\n",
        "\"proxy_ssl_alpn\" directive is duplicate in ");
    sl_t_conf_error(
        "stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2;\n"
        "  proxy_ssl_alpn; } }\n",
        "invalid number of arguments in \"proxy_ssl_alpn\" directive in ");
    sl_t_conf_error(
        "stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2;\n"
        "  proxy_ssl_alpn $nope; } }\n",
        "unknown \"nope\" variable");
}
END_TEST

START_TEST(test_mtls)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t;

    /* the server asks for a certificate issued by the test CA */
    tls_backend(&t, "M", "ca.crt");

    start(&srv, 0, to(&t));
    ck_assert_str_eq(ping(&srv), "");
    ck_assert_str_eq(record(&t, 1), "M 0 handshake-failed");
    sl_t_sluice_stop(&srv);

    start(&srv, 0, sl_t_printf("%s proxy_ssl_certificate %s;"
                               " proxy_ssl_certificate_key %s;", to(&t),
                               pki("client.crt"), pki("client.key")));
    ck_assert_str_eq(ping(&srv), "M");
    ck_assert_ptr_nonnull(strstr(record(&t, 2), " cn=client"));
    sl_t_sluice_stop(&srv);

    /* an encrypted key, its password from proxy_ssl_password_file */
    ck_assert_int_eq(sl_tt_cert(sl_tt_pki(), "client-enc", SL_TT_ECDSA
                                | SL_TT_CLIENT, "client-enc", NULL, "ca",
                                SL_TT_PASSWORD), 0);
    sl_t_write(sl_tt_pki(), "pw", "wrong\n" SL_TT_PASSWORD "\n");
    start(&srv, 0, sl_t_printf("%s proxy_ssl_certificate %s;"
                               " proxy_ssl_certificate_key %s;"
                               " proxy_ssl_password_file %s;", to(&t),
                               pki("client-enc.crt"), pki("client-enc.key"),
                               pki("pw")));
    ck_assert_str_eq(ping(&srv), "M");
    ck_assert_ptr_nonnull(strstr(record(&t, 3), " cn=client-enc"));
    sl_t_sluice_stop(&srv);
}
END_TEST

/* 0: off; 1: on; 2: on with TLS 1.2 (the session comes in the handshake) */
START_TEST(test_session_reuse)
{
    static const char  *more[] = {
        "proxy_ssl_session_reuse off;", "", "proxy_ssl_protocols TLSv1.2;"
    };
    sl_t_sluice_t       srv;
    sl_t_backend_t      t;
    int                 on = (_i != 0);

    tls_backend(&t, "T", NULL);

    start(&srv, 0, sl_t_printf("%s %s", to(&t), more[_i]));

    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 1), " resumed=0 "));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 2), on ? " resumed=1 "
                                                   : " resumed=0 "));
    ck_assert_str_eq(ping(&srv), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 3), on ? " resumed=1 "
                                                   : " resumed=0 "));
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * Two servers of one upstream, taken in turn: each resumes the session it
 * gave itself, never the other's (their ticket keys differ, so a session
 * kept for the group rather than for the server would not resume).
 */
START_TEST(test_session_reuse_per_peer)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  a, b;
    int             i;

    tls_backend(&a, "A", NULL);
    tls_backend(&b, "B", NULL);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    upstream two { server 127.0.0.1:%d; server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass two;"
        " proxy_ssl on; }\n"
        "}\n", a.port, b.port));

    for (i = 1; i <= 3; i++) {
        ck_assert_str_eq(ping(&srv), "A");
        ck_assert_ptr_nonnull(strstr(record(&a, i), i == 1 ? " resumed=0 "
                                                           : " resumed=1 "));
        ck_assert_str_eq(ping(&srv), "B");
        ck_assert_ptr_nonnull(strstr(record(&b, i), i == 1 ? " resumed=0 "
                                                           : " resumed=1 "));
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * The same with the other balancers, which choose among round-robin's
 * peers and so keep their sessions there: least_conn (sessions one after
 * the other: all at 0 connections, taken in turn), and hash $remote_addr
 * from two loopback addresses (127.0.0.2 hashes to the first server,
 * 127.0.0.1 to the second, as test_upstream's formula gives).
 */
START_TEST(test_session_reuse_balancers)
{
    static const char  *how[] = { "least_conn;", "hash $remote_addr;" };
    sl_t_sluice_t       srv;
    sl_t_backend_t      a, b;
    int                 i;

    tls_backend(&a, "A", NULL);
    tls_backend(&b, "B", NULL);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    upstream two { %s server 127.0.0.1:%d;"
        " server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@; proxy_pass two;"
        " proxy_ssl on; }\n"
        "}\n", how[_i], a.port, b.port));

    for (i = 1; i <= 3; i++) {
        ck_assert_str_eq(ping_from(srv.port, "127.0.0.2"), "A");
        ck_assert_ptr_nonnull(strstr(record(&a, i), i == 1 ? " resumed=0 "
                                                           : " resumed=1 "));
        ck_assert_str_eq(ping_from(srv.port, "127.0.0.1"), "B");
        ck_assert_ptr_nonnull(strstr(record(&b, i), i == 1 ? " resumed=0 "
                                                           : " resumed=1 "));
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * proxy_pass with variables: a value naming an address makes a group for
 * that session alone, which keeps no session (as nginx); one naming an
 * upstream{} block uses that group's peers, which do. Two server{}
 * blocks (each its own client context) on one server, taking turns: each
 * resumes its own session, never the other's (which may have been made
 * with other proxy_ssl_* settings), and neither evicts the other's.
 */
START_TEST(test_session_reuse_variables)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t;
    char           *v, *w;
    int             i, n = 0;

    tls_backend(&t, "T", NULL);

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    upstream utcp { server 127.0.0.1:%d; }\n"
        "    server { listen 127.0.0.1:@PORT@;"
        " proxy_pass $remote_addr:%d; proxy_ssl on; }\n"
        "    server { listen unix:@DIR@/v.sock;"
        " proxy_pass u$protocol; proxy_ssl on; }\n"
        "    server { listen unix:@DIR@/w.sock;"
        " proxy_pass utcp; proxy_ssl on; }\n"
        "}\n", t.port, t.port));
    v = sl_t_path(srv.dir, "v.sock");
    w = sl_t_path(srv.dir, "w.sock");

    for (i = 0; i < 3; i++) {
        ck_assert_str_eq(ping(&srv), "T");
        ck_assert_ptr_nonnull(strstr(record(&t, ++n), " resumed=0 "));
        ck_assert_str_eq(ping_fd(sl_t_connect_unix(v)), "T");
        ck_assert_ptr_nonnull(strstr(record(&t, ++n),
                                     i == 0 ? " resumed=0 " : " resumed=1 "));
        ck_assert_str_eq(ping_fd(sl_t_connect_unix(w)), "T");
        ck_assert_ptr_nonnull(strstr(record(&t, ++n),
                                     i == 0 ? " resumed=0 " : " resumed=1 "));
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A reload: the new worker's peers start with no session (its first
 * handshake is a full one), then keep theirs; the old worker freed its
 * sessions with its configuration and exited cleanly (a sanitizer's
 * leak report would make its exit unclean).
 */
START_TEST(test_session_reuse_reload)
{
    sl_t_backend_t  t;
    sl_t_master_t   m;
    sl_t_pids_t     w;
    const char     *conf;
    int             n = 0;

    tls_backend(&t, "T", NULL);
    conf = sl_t_printf("stream { server { listen 127.0.0.1:@PORT@;"
                       " proxy_pass 127.0.0.1:%d; proxy_ssl on; } }\n",
                       t.port);
    sl_t_master_start(&m, 1, 0, conf);

    ck_assert_str_eq(ping_fd(sl_t_connect("127.0.0.1", m.port)), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, ++n), " resumed=0 "));
    ck_assert_str_eq(ping_fd(sl_t_connect("127.0.0.1", m.port)), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, ++n), " resumed=1 "));

    sl_t_master_reload(&m, &w, T_IO);
    ck_assert_int_eq(sl_t_bad_exits(m.log), 0);

    ck_assert_str_eq(ping_fd(sl_t_connect("127.0.0.1", m.port)), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, ++n), " resumed=0 "));
    ck_assert_str_eq(ping_fd(sl_t_connect("127.0.0.1", m.port)), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, ++n), " resumed=1 "));

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w, T_IO);
}
END_TEST

START_TEST(test_protocols_ciphers_conf_command)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  t;

    tls_backend(&t, "T", NULL);

    /* TLS 1.2 only, one cipher suite, a conf command: all accepted */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_protocols TLSv1.2;"
                               " proxy_ssl_ciphers"
                               " ECDHE-RSA-AES128-GCM-SHA256;"
                               " proxy_ssl_conf_command Options"
                               " -SessionTicket;", to(&t)));
    ck_assert_str_eq(ping(&srv), "T");
    sl_t_sluice_stop(&srv);

    /* a cipher the server's RSA key cannot use: no session */
    start(&srv, 0, sl_t_printf("%s proxy_ssl_protocols TLSv1.2;"
                               " proxy_ssl_ciphers"
                               " ECDHE-ECDSA-AES128-GCM-SHA256;", to(&t)));
    ck_assert_str_eq(ping(&srv), "");
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * As nginx, the commands are taken as OpenSSL knows them for a server or
 * a client, whichever side: a server-side one (NumTickets) in
 * proxy_ssl_conf_command loads, as a client-side one in ssl_conf_command
 * does (it only sets the context).
 */
START_TEST(test_conf_command_either_side)
{
    sl_t_out_t  out;

    ck_assert_msg(sl_t_sluice_test(
        "stream { server { listen 127.0.0.1:1; proxy_pass 127.0.0.1:2;\n"
        "  proxy_ssl on; proxy_ssl_conf_command NumTickets 2; } }\n",
        &out) == 0, "%s", out.err);
}
END_TEST

/*
 * proxy_protocol with proxy_ssl: the header goes in the clear before the
 * handshake. The server is another sluice with "listen ... ssl
 * proxy_protocol" that answers with what the header told it.
 */
START_TEST(test_proxy_protocol_then_tls)
{
    sl_t_sluice_t        back, srv;
    struct sockaddr_in   sin;
    socklen_t            len = sizeof(sin);
    char                 buf[128];
    size_t               n;
    int                  fd;

    sl_t_sluice_start(&back, sl_t_printf(
        "stream { server { listen 127.0.0.1:@PORT@ ssl proxy_protocol;"
        " ssl_certificate %s; ssl_certificate_key %s;"
        " return \"$proxy_protocol_addr $proxy_protocol_port"
        " $proxy_protocol_server_port $ssl_protocol\"; } }\n",
        pki("rsa.crt"), pki("rsa.key")));

    start(&srv, 0, sl_t_printf("proxy_pass 127.0.0.1:%d; proxy_ssl on;"
                               " proxy_protocol on;", back.port));

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    n = sl_t_recv_all(fd, buf, sizeof(buf) - 1, NULL, T_IO);
    buf[n] = '\0';
    close(fd);

    ck_assert_str_eq(buf, sl_t_printf("127.0.0.1 %d %d TLSv1.3",
                                      (int) ntohs(sin.sin_port), srv.port));

    sl_t_sluice_stop(&srv);
    sl_t_sluice_stop(&back);
}
END_TEST

/* --- 64 MiB each way ----------------------------------------------------- */


/* --- conf/tls-proxy.conf ------------------------------------------------ */

/* a TLS client's session on fd: greeting, "ping" echoed; the id */
static char *
tls_ping(int fd, const char *server_name)
{
    sl_tt_opts_t   o;
    sl_tt_peer_t   p;
    char           buf[16];
    char          *id;

    memset(&o, 0, sizeof(o));
    o.server_name = server_name;
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert_int_eq(sl_tt_handshake(&p, T_IO), 1);
    ck_assert_int_eq(sl_tt_read_full(&p, buf, 2, T_IO), 1);
    id = sl_t_printf("%.1s", buf);
    ck_assert_int_eq(sl_tt_write(&p, "ping\n", 5, T_IO), 1);
    ck_assert_int_eq(sl_tt_read_full(&p, buf, 5, T_IO), 1);
    ck_assert_int_eq(memcmp(buf, "ping\n", 5), 0);
    (void) sl_tt_shutdown(&p, 0, T_IO);
    close(p.fd);
    sl_tt_peer_free(&p);
    return id;
}

START_TEST(test_tls_proxy_conf)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  e, t;
    char           *conf, *certs, *crt, *key, *sock;

    /* the certificate `make certs` makes, in a directory of the test's */
    certs = sl_t_mkdir();
    ck_assert_int_eq(sl_t_run(((char *[]) { "sh",
                         sl_t_path(sl_t_src(), "t/mkcert.sh"), certs,
                         "tls-proxy", NULL }), NULL, T_IO), 0);
    crt = sl_t_path(certs, "tls-proxy.crt");
    key = sl_t_path(certs, "tls-proxy.key");

    sl_t_backend_start(&e, "E", SL_TB_ECHO, 0);
    sl_t_tls_backend_start(&t, "T", crt, key, NULL);

    conf = sl_t_read(sl_t_path(sl_t_src(), "conf/tls-proxy.conf"));
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "listen      127.0.0.1:7444 ssl;"));
    ck_assert_ptr_nonnull(strstr(conf, "127.0.0.1:7445 ssl;"));

    /* the second server on a unix socket: one free port is all we get */
    conf = sl_t_replace(conf, "127.0.0.1:7444", "127.0.0.1:@PORT@");
    conf = sl_t_replace(conf, "127.0.0.1:7445", "unix:@DIR@/tls.sock");
    conf = sl_t_replace(conf, "127.0.0.1:7101",
                        sl_t_printf("127.0.0.1:%d", e.port));
    conf = sl_t_replace(conf, "127.0.0.1:7446",
                        sl_t_printf("127.0.0.1:%d", t.port));
    conf = sl_t_replace(conf, "tls-proxy.crt;", sl_t_printf("%s;", crt));
    conf = sl_t_replace(conf, "tls-proxy.key;", sl_t_printf("%s;", key));
    conf = sl_t_replace(conf, "notice;", "info;");
    sl_t_sluice_start_file(&srv, "conf/tls-proxy.conf", conf);

    /* terminated: the plain server answers */
    ck_assert_str_eq(tls_ping(sl_t_connect("127.0.0.1", srv.port),
                              "localhost"), "E");
    sock = sl_t_path(srv.dir, "tls.sock");

    /* re-encrypted, verified, SNI "localhost"; the next one resumed */
    ck_assert_str_eq(tls_ping(sl_t_connect_unix(sock), "localhost"), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 1),
                                 " resumed=0 sni=localhost cn=-"));
    ck_assert_str_eq(tls_ping(sl_t_connect_unix(sock), "localhost"), "T");
    ck_assert_ptr_nonnull(strstr(record(&t, 2),
                                 " resumed=1 sni=localhost cn=-"));

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
 * A server certificate with 2000 more names (about 45 KiB): a TLS 1.2
 * flight far larger than the small socket buffers of the test below.
 */
static void
huge_cert(void)
{
    char  *san;
    int    i;

    san = sl_t_printf("DNS:localhost,IP:127.0.0.1");
    for (i = 0; i < 2000; i++) {
        san = sl_t_printf("%s,DNS:name-%04d.sluice.test", san, i);
    }

    ck_assert_int_eq(sl_tt_cert(sl_tt_pki(), "huge", SL_TT_RSA, "localhost",
                                san, "ca", NULL), 0);
}

/*
 * Issue 13: the client starts a renegotiation and reads no more. Our
 * SSL_read must send the server's flight, which does not fit in the
 * socket: the client connection's write handler is swapped for the
 * retry of the read, while proxy_timeout's timer is on that write event.
 * The timeout must end the session (upstream closed, logged with 200),
 * not be taken for a retry of the read that re-arms the timer for ever.
 */
START_TEST(test_timeout_while_read_wants_write)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  u;
    sl_tt_peer_t    p;
    sl_tt_opts_t    o;
    char            buf[16];
    int             fd, want;

    if (!SL_HAVE_stream_log_MODULE) {
        return;
    }

    huge_cert();
    sl_t_backend_start(&u, "U", SL_TB_ECHO, 0);
    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    log_format f '$status $bytes_sent';\n"
        "    server { listen 127.0.0.1:@PORT@ ssl sndbuf=4k;"
        " ssl_certificate %s; ssl_certificate_key %s;"
        " ssl_protocols TLSv1.2; ssl_renegotiation on;"
        " access_log logs/a.log f;"
        " proxy_pass 127.0.0.1:%d; proxy_timeout 500ms; }\n"
        "}\n", pki("huge.crt"), pki("huge.key"), u.port));

    fd = sl_t_connect_buf("127.0.0.1", srv.port, 4096);
    memset(&o, 0, sizeof(o));
    o.max_version = TLS1_2_VERSION;
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, &o), 0);
    ck_assert(sl_tt_handshake(&p, T_IO));
    ck_assert_int_eq(sl_tt_read(&p, buf, sizeof(buf), T_IO), 2);
    ck_assert_int_eq(memcmp(buf, "U\n", 2), 0);

    /* the ClientHello goes; the server's answer is not read */
    deaf(&p);
    ck_assert_int_eq(SSL_renegotiate(p.ssl), 1);
    ck_assert_int_eq(sl_tt_peer_step(&p, &want), 0);
    ck_assert_int_eq(want, SSL_ERROR_WANT_READ);
    ck_assert_int_eq(p.handshakes, 2);

    /* proxy_timeout ends it: the upstream connection is let go */
    ck_assert_str_eq(record(&u, 1), "U 0 fin");
    sl_t_wait_file(sl_t_path(srv.dir, "logs/a.log"), "\n", T_IO);
    ck_assert_int_eq(strncmp(sl_t_read(sl_t_path(srv.dir, "logs/a.log")),
                             "200 ", 4), 0);
    sl_t_wait_file(srv.log, "connection timed out", T_IO);

    sl_tt_peer_free(&p);
    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

/* until the session ended on the upstream's reset (logged before closing) */
static void
wait_upstream_disconnected(sl_t_sluice_t *srv)
{
    sl_t_wait_file(srv->log, "upstream disconnected", T_IO);
}

/*
 * proxy_half_close on a TLS side: the upstream's FIN reaches the TLS
 * client as a close_notify (then our FIN), not as a bare FIN a TLS peer
 * must take for a truncation; and the client may still talk after it.
 */
START_TEST(test_half_close_close_notify)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  f;
    sl_tt_peer_t    p;
    char            buf[64];
    size_t          got = 0;
    ssize_t         n;
    int             fd;

    sl_t_backend_start(&f, "F", SL_TB_FIN, 0);
    start(&srv, 1, sl_t_printf("proxy_pass 127.0.0.1:%d;"
                               " proxy_half_close on;", f.port));

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, NULL), 0);
    ck_assert(sl_tt_handshake(&p, T_IO));

    /* the greeting, then the upstream's end: a close_notify (0) */
    while ((n = sl_tt_read(&p, buf + got, sizeof(buf) - got - 1, T_IO))
           > 0)
    {
        got += (size_t) n;
    }

    buf[got] = '\0';
    ck_assert_str_eq(buf, "F\n");
    ck_assert_msg(n == 0, "the upstream's FIN came as a truncation");

    /* the other direction goes on */
    ck_assert(sl_tt_write(&p, "data", 4, T_IO));
    ck_assert(sl_tt_shutdown(&p, 0, T_IO));
    ck_assert_ptr_nonnull(strstr(sl_t_backend_wait_record(&f, 1, T_IO),
                                 "F 4 fin"));

    sl_tt_peer_free(&p);
    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

/*
 * A reset passed on to a TLS client is a reset at once: no close_notify
 * goes (nor is waited for) before it, as one would say "all is well".
 */
START_TEST(test_reset_without_close_notify)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  r;
    sl_tt_peer_t    p;
    char            buf[64];
    size_t          got = 0;
    ssize_t         n;
    int             fd;

    sl_t_backend_start(&r, "R", SL_TB_RESET, 0);
    start(&srv, 1, sl_t_printf("proxy_pass 127.0.0.1:%d;", r.port));

    fd = sl_t_connect("127.0.0.1", srv.port);
    ck_assert_int_eq(sl_tt_peer_init(&p, fd, 0, NULL), 0);
    ck_assert(sl_tt_handshake(&p, T_IO));
    ck_assert(sl_tt_read_full(&p, buf, 2, T_IO));

    /* the upstream resets at this byte: so must we, with no goodbye */
    ck_assert(sl_tt_write(&p, "x", 1, T_IO));
    wait_upstream_disconnected(&srv);

    while ((n = sl_tt_read(&p, buf + got, sizeof(buf) - got, T_IO)) > 0) {
        got += (size_t) n;
    }

    ck_assert_msg(n == -1, "a close_notify came before the reset");
    ck_assert_uint_eq(got, 0);

    sl_tt_peer_free(&p);
    close(fd);
    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_not_built)
{
    ck_assert_int_eq(SL_HAVE_stream_proxy_MODULE, 0);
}
END_TEST

static Suite *
proxy_ssl_suite(void)
{
    Suite  *s = suite_create("proxy_ssl");
    TCase  *tc = tcase_create("proxy_ssl");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);

    if (!SL_HAVE_stream_proxy_MODULE || !SL_HAVE_stream_ssl_MODULE) {
        tcase_add_test(tc, test_not_built);
        suite_add_tcase(s, tc);
        return s;
    }

    /* the certificates, made once here rather than by each forked test */
    if (sl_tt_pki() == NULL) {
        fprintf(stderr, "test_proxy_ssl: cannot make the test PKI\n");
        exit(1);
    }

    tcase_add_test(tc, test_through);
    tcase_add_test(tc, test_handshake_timeout);
    tcase_add_test(tc, test_verify);
    tcase_add_test(tc, test_verify_needs_ca);
    tcase_add_test(tc, test_server_name);
    tcase_add_test(tc, test_mtls);
    tcase_add_test(tc, test_ssl_alpn);
    tcase_add_test(tc, test_ssl_alpn_errors);
    tcase_add_loop_test(tc, test_session_reuse, 0, 3);
    tcase_add_test(tc, test_session_reuse_per_peer);
    tcase_add_loop_test(tc, test_session_reuse_balancers, 0, 2);
    tcase_add_test(tc, test_session_reuse_variables);
    tcase_add_test(tc, test_protocols_ciphers_conf_command);
    tcase_add_test(tc, test_conf_command_either_side);
    tcase_add_test(tc, test_proxy_protocol_then_tls);
    tcase_add_test(tc, test_tls_proxy_conf);
    tcase_add_test(tc, test_timeout_while_read_wants_write);
    tcase_add_test(tc, test_half_close_close_notify);
    tcase_add_test(tc, test_reset_without_close_notify);
    suite_add_tcase(s, tc);

    tc = sl_t_master_tcase(s, "reload", 120);
    tcase_add_test(tc, test_session_reuse_reload);

    return s;
}

SL_TEST_MAIN(proxy_ssl_suite)
