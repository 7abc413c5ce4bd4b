/*
 * test_stream_conf.c -- the stream{} configuration: listen forms and
 * options, the listening sockets they make, every error with its text and
 * line, defaults and merging; variables and complex values evaluated for
 * a session made by hand.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"


#include "sl_test.h"
#include "sl_t_conf.h"

#ifndef SL_HAVE_stream_echo_MODULE
#define SL_HAVE_stream_echo_MODULE  0
#endif
#ifndef SL_HAVE_stream_return_MODULE
#define SL_HAVE_stream_return_MODULE  0
#endif
#ifndef SL_HAVE_stream_ssl_MODULE
#define SL_HAVE_stream_ssl_MODULE  0
#endif

/* loads a conf/sluice.conf made of body; the log text is sl_tc.errors */
static sl_cycle_t *
load(const char *body)
{
    sl_tc_write_str("conf/sluice.conf", body);
    return sl_tc_load(NULL);
}

static sl_stream_conf_ctx_t *
tc_stream(void)
{
    return sl_tc.cycle->conf_ctx[sl_stream_module.index];
}

static sl_stream_core_main_conf_t *
tc_cmcf(void)
{
    return tc_stream()->main_conf[sl_stream_core_module.ctx_index];
}

static sl_stream_core_srv_conf_t *
tc_server(sl_uint_t n)
{
    sl_stream_core_srv_conf_t  **cscfp = tc_cmcf()->servers.elts;

    ck_assert_uint_lt(n, tc_cmcf()->servers.nelts);
    return cscfp[n];
}

static sl_listening_t *
tc_listening(sl_uint_t n)
{
    ck_assert_uint_lt(n, sl_tc.cycle->listening.nelts);
    return &((sl_listening_t *) sl_tc.cycle->listening.elts)[n];
}

static const char *
tc_text(sl_str_t *s)
{
    static char  buf[256];

    snprintf(buf, sizeof(buf), "%.*s", (int) s->len, (char *) s->data);
    return buf;
}

/* --- listen forms and the sockets they make ----------------------------- */

START_TEST(test_listen_forms)
{
    char             conf[PATH_MAX];
    sl_listening_t  *ls;
    sl_uint_t        i;

    snprintf(conf, sizeof(conf),
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:8000;\n"
        "        listen [::1]:8001;\n"
        "        listen unix:%s/s.sock;\n"
        "        echo;\n"
        "    }\n"
        "    server {\n"
        "        listen 8002;\n"
        "        listen [::]:8003;\n"
        "        return ok;\n"
        "    }\n"
        "}\n", sl_tc.dir);
    ck_assert_ptr_nonnull(load(conf));

    ck_assert_uint_eq(sl_tc.cycle->listening.nelts, 5);
    ck_assert_str_eq(tc_text(&tc_listening(0)->addr_text), "127.0.0.1:8000");
    ck_assert_str_eq(tc_text(&tc_listening(1)->addr_text), "[::1]:8001");
    ck_assert_int_eq(tc_listening(2)->sockaddr->sa_family, AF_UNIX);
    ck_assert_str_eq(tc_text(&tc_listening(3)->addr_text), "0.0.0.0:8002");
    ck_assert_str_eq(tc_text(&tc_listening(4)->addr_text), "[::]:8003");

    for (i = 0; i < 5; i++) {
        ls = tc_listening(i);
        ck_assert_ptr_eq(ls->handler, sl_stream_init_connection);
        ck_assert_int_eq(ls->fd, SL_INVALID_FILE);      /* not bound yet */
        ck_assert_int_eq(ls->type, SOCK_STREAM);
        ck_assert_int_eq(ls->backlog, 511);
        ck_assert_int_eq(ls->rcvbuf, -1);
        ck_assert_int_eq(ls->sndbuf, -1);
        ck_assert_uint_eq(ls->ipv6only, 1);
        ck_assert_uint_eq(ls->wildcard, i >= 3);
        ck_assert_uint_eq(((sl_stream_port_t *) ls->servers)->naddrs, 1);
    }

    ck_assert_ptr_eq(((sl_stream_port_t *) tc_listening(0)->servers)
                     ->addrs[0].conf.ctx, tc_server(0)->ctx);
    ck_assert_ptr_eq(((sl_stream_port_t *) tc_listening(4)->servers)
                     ->addrs[0].conf.ctx, tc_server(1)->ctx);
}
END_TEST

START_TEST(test_listen_resolved_name)
{
    sl_uint_t  i;

    ck_assert_ptr_nonnull(load(
        "stream { server { listen localhost:8000; echo; } }\n"));

    ck_assert_uint_ge(sl_tc.cycle->listening.nelts, 1);
    for (i = 0; i < sl_tc.cycle->listening.nelts; i++) {
        ck_assert_uint_eq(sl_inet_get_port(tc_listening(i)->sockaddr), 8000);
    }
}
END_TEST

START_TEST(test_listen_options)
{
    sl_listening_t  *ls;

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    server {\n"
        "        listen 127.0.0.1:8000 backlog=100 rcvbuf=64k sndbuf=32k\n"
        "               reuseport so_keepalive=on deferred;\n"
        "        listen 127.0.0.1:8001 so_keepalive=off;\n"
        "        listen 127.0.0.1:8002 so_keepalive=30m::10;\n"
        "        listen 127.0.0.1:8003 so_keepalive=:5s;\n"
        "        listen [::]:8004 ipv6only=off bind;\n"
        "        echo;\n"
        "    }\n"
        "}\n"));

    ls = tc_listening(0);
    ck_assert_int_eq(ls->backlog, 100);
    ck_assert_int_eq(ls->rcvbuf, 65536);
    ck_assert_int_eq(ls->sndbuf, 32768);
    ck_assert_uint_eq(ls->reuseport, SL_HAVE_REUSEPORT ? 1 : 0);
    ck_assert_uint_eq(ls->deferred_accept, SL_HAVE_TCP_DEFER_ACCEPT ? 1 : 0);
    ck_assert_uint_eq(ls->keepalive, 1);

    ck_assert_uint_eq(tc_listening(1)->keepalive, 2);

    ls = tc_listening(2);
    ck_assert_uint_eq(ls->keepalive, 1);
    ck_assert_int_eq(ls->keepidle, 1800);
    ck_assert_int_eq(ls->keepintvl, 0);
    ck_assert_int_eq(ls->keepcnt, 10);

    ls = tc_listening(3);
    ck_assert_int_eq(ls->keepidle, 0);
    ck_assert_int_eq(ls->keepintvl, 5);
    ck_assert_int_eq(ls->keepcnt, 0);

    ls = tc_listening(4);
    ck_assert_uint_eq(ls->ipv6only, 0);
    ck_assert_uint_eq(ls->wildcard, 1);
}
END_TEST

/*
 * An address of a port that a wildcard also listens on is served by the
 * wildcard's socket (the session finds its server by its local address),
 * unless it asks for a socket of its own with "bind" or an option.
 */
START_TEST(test_wildcard_shares_socket)
{
    sl_stream_port_t  *port;

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    server { listen 127.0.0.1:8000; echo; }\n"
        "    server { listen 8000; return b; }\n"
        "    server { listen 127.0.0.2:8000 bind; return c; }\n"
        "    server { listen 127.0.0.3:8000 backlog=10; return d; }\n"
        "    server { listen [::1]:8000; return e; }\n"
        "}\n"));

    ck_assert_uint_eq(sl_tc.cycle->listening.nelts, 4);
    ck_assert_str_eq(tc_text(&tc_listening(0)->addr_text), "0.0.0.0:8000");
    ck_assert_str_eq(tc_text(&tc_listening(1)->addr_text), "127.0.0.2:8000");
    ck_assert_str_eq(tc_text(&tc_listening(2)->addr_text), "127.0.0.3:8000");
    ck_assert_str_eq(tc_text(&tc_listening(3)->addr_text), "[::1]:8000");

    port = tc_listening(0)->servers;
    ck_assert_uint_eq(port->naddrs, 2);
    ck_assert_ptr_eq(port->addrs[0].conf.ctx, tc_server(0)->ctx);
    ck_assert_str_eq(tc_text(&port->addrs[0].conf.addr_text),
                     "127.0.0.1:8000");
    ck_assert_ptr_eq(port->addrs[1].conf.ctx, tc_server(1)->ctx);
}
END_TEST

/*
 * Several servers on one address: one socket, the first server the
 * default unless one says default_server, and a name table for SNI.
 */
static sl_stream_core_srv_conf_t *
tc_find_name(sl_stream_addr_conf_t *ac, const char *name)
{
    size_t  len = strlen(name);

    return sl_hash_find_combined(&ac->virtual_names->names,
                                 sl_hash_key((u_char *) name, len),
                                 (u_char *) name, len);
}

START_TEST(test_virtual_servers)
{
    sl_stream_addr_conf_t  *ac;
    sl_stream_port_t       *port;

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    server { listen 127.0.0.1:8000; server_name a.example; echo; }\n"
        "    server { listen 127.0.0.1:8000 default_server backlog=7;\n"
        "             server_name B.Example *.wild.example www.tail.*;\n"
        "             echo; }\n"
        "    server { listen 127.0.0.1:8000; listen 127.0.0.1:8001;\n"
        "             echo; }\n"
        "    server { listen 127.0.0.1:8001; server_name \"\"; echo; }\n"
        "}\n"));

    ck_assert_uint_eq(sl_tc.cycle->listening.nelts, 2);
    ck_assert_int_eq(tc_listening(0)->backlog, 7);

    port = tc_listening(0)->servers;
    ck_assert_uint_eq(port->naddrs, 1);
    ac = &port->addrs[0].conf;
    ck_assert_ptr_eq(ac->default_server, tc_server(1));
    ck_assert_ptr_eq(ac->ctx, tc_server(1)->ctx);
    ck_assert(!ac->ssl);
    ck_assert_ptr_nonnull(ac->virtual_names);
    ck_assert_ptr_eq(tc_find_name(ac, "a.example"), tc_server(0));
    ck_assert_ptr_eq(tc_find_name(ac, "b.example"), tc_server(1));
    ck_assert_ptr_eq(tc_find_name(ac, "x.wild.example"), tc_server(1));
    ck_assert_ptr_eq(tc_find_name(ac, "www.tail.org"), tc_server(1));
    ck_assert_ptr_null(tc_find_name(ac, "wild.example"));
    ck_assert_ptr_null(tc_find_name(ac, "c.example"));

    /* the first server is the default; no names but "": no table */
    ac = &((sl_stream_port_t *) tc_listening(1)->servers)->addrs[0].conf;
    ck_assert_ptr_eq(ac->default_server, tc_server(2));
    ck_assert_ptr_null(ac->virtual_names);
}
END_TEST

START_TEST(test_no_stream_block)
{
    ck_assert_ptr_nonnull(load("events { }\n"));
    ck_assert_ptr_null(sl_tc.cycle->conf_ctx[sl_stream_module.index]);
    ck_assert_uint_eq(sl_tc.cycle->listening.nelts, 0);

    ck_assert_ptr_nonnull(load("stream { }\n"));
    ck_assert_uint_eq(sl_tc.cycle->listening.nelts, 0);
    ck_assert_uint_eq(tc_cmcf()->servers.nelts, 0);
}
END_TEST


/* --- defaults, merging and logs ----------------------------------------- */

/* nginx's hash sizes: its defaults, and a bucket rounded up to 64 */
START_TEST(test_hash_sizes)
{
    ck_assert_ptr_nonnull(load(
        "stream { server { listen 127.0.0.1:8000; echo; } }\n"));
    ck_assert_uint_eq(tc_cmcf()->server_names_hash_max_size, 512);
    ck_assert_uint_eq(tc_cmcf()->server_names_hash_bucket_size, 64);
    ck_assert_uint_eq(tc_cmcf()->variables_hash_max_size, 1024);
    ck_assert_uint_eq(tc_cmcf()->variables_hash_bucket_size, 64);

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    server_names_hash_max_size 4096;\n"
        "    server_names_hash_bucket_size 65;\n"
        "    variables_hash_max_size 2048;\n"
        "    variables_hash_bucket_size 128;\n"
        "    server { listen 127.0.0.1:8000; server_name a.test; echo; }\n"
        "}\n"));
    ck_assert_uint_eq(tc_cmcf()->server_names_hash_max_size, 4096);
    ck_assert_uint_eq(tc_cmcf()->server_names_hash_bucket_size, 128);
    ck_assert_uint_eq(tc_cmcf()->variables_hash_max_size, 2048);
    ck_assert_uint_eq(tc_cmcf()->variables_hash_bucket_size, 128);
}
END_TEST

START_TEST(test_defaults)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_uint_t                   n;

    ck_assert_ptr_nonnull(load(
        "stream { server { listen 127.0.0.1:8000; echo; } }\n"));

    cscf = tc_server(0);
    ck_assert_int_eq(cscf->tcp_nodelay, 1);
    ck_assert_uint_eq(cscf->preread_buffer_size, 16384);
    ck_assert_uint_eq(cscf->preread_timeout, 30000);
    ck_assert_ptr_eq(cscf->error_log, &sl_tc.cycle->new_log);
    ck_assert_ptr_nonnull(cscf->handler);
    ck_assert_uint_eq(cscf->line, 1);

    /* the phase engine: the modules' handlers, the content phase last */
    for (n = 0; tc_cmcf()->phase_engine[n + 1].checker != NULL; n++) {
        ck_assert_ptr_ne(tc_cmcf()->phase_engine[n].checker,
                         sl_stream_core_content_phase);
    }
    ck_assert_ptr_eq(tc_cmcf()->phase_engine[n].checker,
                     sl_stream_core_content_phase);
    ck_assert_uint_ge(n, SL_HAVE_stream_ssl_MODULE);
}
END_TEST

START_TEST(test_merge)
{
    sl_stream_core_srv_conf_t  *cscf;

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    tcp_nodelay off;\n"
        "    preread_timeout 5s;\n"
        "    echo_buffer_size 1k;\n"
        "    echo_timeout 1s;\n"
        "    server { listen 127.0.0.1:8000; echo; }\n"
        "    server {\n"
        "        listen 127.0.0.1:8001;\n"
        "        tcp_nodelay on;\n"
        "        preread_buffer_size 4k;\n"
        "        preread_timeout 250ms;\n"
        "        echo_buffer_size 64k;\n"
        "        echo_timeout 1h;\n"
        "        echo;\n"
        "    }\n"
        "}\n"));

    cscf = tc_server(0);
    ck_assert_int_eq(cscf->tcp_nodelay, 0);
    ck_assert_uint_eq(cscf->preread_buffer_size, 16384);
    ck_assert_uint_eq(cscf->preread_timeout, 5000);

    cscf = tc_server(1);
    ck_assert_int_eq(cscf->tcp_nodelay, 1);
    ck_assert_uint_eq(cscf->preread_buffer_size, 4096);
    ck_assert_uint_eq(cscf->preread_timeout, 250);
    ck_assert_uint_eq(cscf->line, 7);
}
END_TEST

START_TEST(test_error_log)
{
    sl_listening_t  *ls;

    ck_assert_ptr_nonnull(load(
        "stream {\n"
        "    error_log logs/stream.log warn;\n"
        "    server { listen 127.0.0.1:8000; echo; }\n"
        "    server {\n"
        "        listen 127.0.0.1:8001;\n"
        "        error_log logs/one.log info;\n"
        "        error_log logs/two.log debug;\n"
        "        echo;\n"
        "    }\n"
        "}\n"
        "error_log logs/main.log crit;\n"));

    ck_assert_uint_eq(tc_server(0)->error_log->log_level, SL_LOG_WARN);
    ck_assert_ptr_nonnull(strstr((char *) tc_server(0)->error_log->file
                                 ->name.data, "/logs/stream.log"));
    ck_assert_ptr_null(tc_server(0)->error_log->next);

    /* most verbose first */
    ck_assert_uint_eq(tc_server(1)->error_log->log_level, SL_LOG_DEBUG);
    ck_assert_uint_eq(tc_server(1)->error_log->next->log_level, SL_LOG_INFO);

    /* the sockets log to their server's log, known only at the end */
    ls = tc_listening(0);
    ck_assert_ptr_eq(ls->logp, tc_server(0)->error_log);
    ck_assert_ptr_eq(ls->log.file, tc_server(0)->error_log->file);
    ck_assert_uint_eq(ls->log.log_level, SL_LOG_WARN);
    ck_assert_ptr_nonnull(ls->log.handler);
    ck_assert_uint_eq(tc_listening(1)->log.log_level, SL_LOG_DEBUG);
}
END_TEST

START_TEST(test_error_log_after_block)
{
    ck_assert_ptr_nonnull(load(
        "stream { server { listen 127.0.0.1:8000; echo; } }\n"
        "error_log logs/main.log info;\n"));

    /* the main error_log, read after the block, is the one in force */
    ck_assert_ptr_eq(tc_listening(0)->log.file, sl_tc.cycle->new_log.file);
    ck_assert_uint_eq(tc_listening(0)->log.log_level, SL_LOG_INFO);
}
END_TEST

/* --- errors -------------------------------------------------------------- */

typedef struct {
    const char  *conf;
    const char  *message;
    int          line;         /* 0: no " in file:line" suffix */
} bad_case_t;

#define S(body)  "stream {\n" body "}\n"
#define SRV(body)  S("    server {\n" body "    }\n")

static const bad_case_t  bad_cases[] = {
    { SRV("listen 127.0.0.1:0; echo;\n"),
      "invalid port in \"127.0.0.1:0\" of the \"listen\" directive", 3 },
    { SRV("listen 127.0.0.1:65536; echo;\n"),
      "invalid port in \"127.0.0.1:65536\" of the \"listen\" directive", 3 },
    { SRV("listen 127.0.0.1:abc; echo;\n"),
      "invalid port in \"127.0.0.1:abc\" of the \"listen\" directive", 3 },
    { SRV("listen 127.0.0.1; echo;\n"),
      "no port in \"127.0.0.1\" of the \"listen\" directive", 3 },
    { SRV("listen [::1; echo;\n"),
      "invalid host in \"[::1\" of the \"listen\" directive", 3 },
    { SRV("listen [::g]:80; echo;\n"),
      "invalid IPv6 address in \"[::g]:80\" of the \"listen\" directive", 3 },
    { SRV("listen unix:; echo;\n"),
      "no path in the unix domain socket in \"unix:\" of the \"listen\" "
      "directive", 3 },
    { SRV("listen no-such-host.invalid:80; echo;\n"),
      "host not found in \"no-such-host.invalid:80\" of the \"listen\" "
      "directive", 3 },
    { SRV("listen 127.0.0.1:80 udp; echo;\n"),
      "the \"udp\" parameter of \"listen\" is not supported yet", 3 },
    { SRV("listen 127.0.0.1:80 backlog=0; echo;\n"),
      "invalid backlog \"backlog=0\"", 3 },
    { SRV("listen 127.0.0.1:80 backlog=x; echo;\n"),
      "invalid backlog \"backlog=x\"", 3 },
    { SRV("listen 127.0.0.1:80 rcvbuf=1q; echo;\n"),
      "invalid rcvbuf \"rcvbuf=1q\"", 3 },
    { SRV("listen 127.0.0.1:80 sndbuf=; echo;\n"),
      "invalid sndbuf \"sndbuf=\"", 3 },
    { SRV("listen 127.0.0.1:80 so_keepalive=maybe; echo;\n"),
      "invalid so_keepalive value: \"maybe\"", 3 },
    { SRV("listen 127.0.0.1:80 so_keepalive=::; echo;\n"),
      "invalid so_keepalive value: \"::\"", 3 },
    { SRV("listen 127.0.0.1:80 so_keepalive=1:2:3:4; echo;\n"),
      "invalid so_keepalive value: \"1:2:3:4\"", 3 },
    { SRV("listen 127.0.0.1:80 so_keepalive=1x; echo;\n"),
      "invalid so_keepalive value: \"1x\"", 3 },
    { SRV("listen [::]:80 ipv6only=maybe; echo;\n"),
      "invalid ipv6only flags \"maybe\"", 3 },
    { SRV("listen 127.0.0.1:80 fast; echo;\n"),
      "invalid parameter \"fast\"", 3 },
    { SRV("listen 127.0.0.1:8000;\nlisten 127.0.0.1:8000;\necho;\n"),
      "a duplicate listen 127.0.0.1:8000", 4 },
    { S("server { listen 127.0.0.1:8000 backlog=10; echo; }\n"
        "server {\n listen 127.0.0.1:8000 backlog=20; echo; }\n"),
      "duplicate listen options for 127.0.0.1:8000", 4 },
    { S("server { listen 8000 default_server; echo; }\n"
        "server { listen *:8000 default_server; echo; }\n"),
      "a duplicate default server for 0.0.0.0:8000", 3 },
    { SRV("listen [::1]:8000;\nlisten [0::1]:8000;\necho;\n"),
      "a duplicate listen [::1]:8000", 4 },
    { S("server { listen unix:/tmp/x; echo; }\n"
        "server { listen unix:/tmp/x ssl; listen unix:/tmp/x; echo; }\n"),
      "a duplicate listen unix:/tmp/x", 3 },
    { SRV("listen 127.0.0.1:1; server_name a ~; echo;\n"),
      "empty regex in server name \"~\"", 3 },
    { SRV("listen 127.0.0.1:1; server_name ~^(b; echo;\n"),
      "pcre2_compile() failed: missing closing parenthesis in \"^(b\"", 3 },
    { S("server_names_hash_max_size 0;\n"
        "server { listen 127.0.0.1:1; server_name a.test; echo; }\n"),
      "could not build server_names_hash, you should increase "
      "server_names_hash_max_size: 0", 0 },
    { S("server_names_hash_bucket_size 65500;\n"
        "server { listen 127.0.0.1:1; server_name a.test; echo; }\n"),
      "could not build server_names_hash, too large "
      "server_names_hash_bucket_size: 65536", 0 },
    /* rounded up to 64, which holds a name of 46 bytes, not 47 */
    { S("server_names_hash_bucket_size 33;\n"
        "server { listen 127.0.0.1:1; echo;\n"
        "  server_name a234567890123456789012345678901234567890123456; }\n"
        "server { listen 127.0.0.1:1; echo;\n"
        "  server_name b2345678901234567890123456789012345678901234567; }\n"),
      "could not build server_names_hash, you should increase "
      "server_names_hash_bucket_size: 64", 0 },
    { S("server_names_hash_max_size 10;\nserver_names_hash_max_size 10;\n"),
      "\"server_names_hash_max_size\" directive is duplicate", 3 },
    { SRV("server_names_hash_bucket_size 64; echo;\n"),
      "\"server_names_hash_bucket_size\" directive is not allowed here", 3 },
    { S("variables_hash_max_size 0;\n"
        "server { listen 127.0.0.1:1; echo; }\n"),
      "could not build variables_hash, you should increase "
      "variables_hash_max_size: 0", 0 },
    { S("variables_hash_bucket_size 70000;\n"
        "server { listen 127.0.0.1:1; echo; }\n"),
      "could not build variables_hash, too large "
      "variables_hash_bucket_size: 70016", 0 },
    { SRV("variables_hash_max_size 64; echo;\n"),
      "\"variables_hash_max_size\" directive is not allowed here", 3 },
    { SRV("listen 127.0.0.1:1; server_name *; echo;\n"),
      "server name \"*\" is invalid", 3 },
    { SRV("listen 127.0.0.1:1; server_name *.; echo;\n"),
      "server name \"*.\" is invalid", 3 },
    { SRV("listen 127.0.0.1:1; server_name .; echo;\n"),
      "server name \".\" is invalid", 3 },
    { SRV("listen 127.0.0.1:1; server_name *x.example; echo;\n"),
      "server name \"*x.example\" is invalid", 3 },
    { S("server { listen 127.0.0.1:8000; server_name a.example; echo; }\n"
        "server { listen 127.0.0.1:8000; server_name www.*.example;\n"
        "         echo; }\n"),
      "invalid server name or wildcard \"www.*.example\" on 127.0.0.1:8000",
      0 },
    { S("\n    server {\n echo;\n }\n"),
      "no \"listen\" is defined for server in %s/conf/sluice.conf:3", 0 },
    { S("server {\n listen 127.0.0.1:8000;\n }\n"),
      "no handler for server in %s/conf/sluice.conf:2", 0 },
    { "stream { }\nstream { }\n", "\"stream\" directive is duplicate", 2 },
    { "stream { server { listen 127.0.0.1:1; echo; echo; } }\n",
      "\"echo\" directive is duplicate", 1 },
    { "stream { server { listen 127.0.0.1:1; return a; return b; } }\n",
      "\"return\" directive is duplicate", 1 },
    { "stream { server { listen 127.0.0.1:1; echo on; } }\n",
      "invalid number of arguments in \"echo\" directive", 1 },
    { "stream { server { listen 127.0.0.1:1; return; } }\n",
      "invalid number of arguments in \"return\" directive", 1 },
    { "stream { server { listen; echo; } }\n",
      "invalid number of arguments in \"listen\" directive", 1 },
    { "stream { listen 127.0.0.1:1; }\n",
      "\"listen\" directive is not allowed here", 1 },
    { "stream { echo; }\n", "\"echo\" directive is not allowed here", 1 },
    { "stream { server { listen 127.0.0.1:1; echo; server { } } }\n",
      "\"server\" directive is not allowed here", 1 },
    { "listen 127.0.0.1:1;\n", "\"listen\" directive is not allowed here",
      1 },
    { "events { stream { } }\n", "\"stream\" directive is not allowed here",
      1 },
    { "stream { unknown_thing; }\n", "unknown directive \"unknown_thing\"",
      1 },
    { "stream { tcp_nodelay maybe; }\n",
      "invalid value \"maybe\" in \"tcp_nodelay\" directive, it must be "
      "\"on\" or \"off\"", 1 },
    { "stream { preread_timeout abc; }\n",
      "invalid value \"abc\" in \"preread_timeout\" directive", 1 },
    { "stream { preread_buffer_size 1x; }\n",
      "invalid value \"1x\" in \"preread_buffer_size\" directive", 1 },
    { "stream { echo_timeout 1x; }\n",
      "invalid value \"1x\" in \"echo_timeout\" directive", 1 },
    { "stream { echo_buffer_size 0; }\n",
      "\"echo_buffer_size\" directive value must be equal to or more than 1",
      1 },
    { "stream { error_log logs/x.log loud; }\n",
      "invalid log level \"loud\"", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"a$\"; } }\n",
      "invalid variable name", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"$$\"; } }\n",
      "invalid variable name", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"${}\"; } }\n",
      "invalid variable name", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"${\"; } }\n",
      "invalid variable name", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"${status\"; } }\n",
      "the closing bracket in \"status\" variable is missing", 1 },
    { "stream { server { listen 127.0.0.1:1; return \"${st-x}\"; } }\n",
      "the closing bracket in \"st\" variable is missing", 1 },
    { "stream {\n server { listen 127.0.0.1:1; return $nosuch; } }\n",
      "unknown \"nosuch\" variable", 0 },
};

START_TEST(test_bad_config)
{
    const bad_case_t  *bc = &bad_cases[_i];
    char               want[PATH_MAX * 2], message[PATH_MAX];

    ck_assert_ptr_null(load(bc->conf));

    snprintf(message, sizeof(message), bc->message, sl_tc.dir);
    if (bc->line) {
        snprintf(want, sizeof(want), "[emerg] %d#", (int) getpid());
        ck_assert_msg(strstr(sl_tc.errors, want) != NULL, "%s", sl_tc.errors);
        snprintf(want, sizeof(want), ": %s in %s/conf/sluice.conf:%d\n",
                 message, sl_tc.dir, bc->line);
    } else {
        snprintf(want, sizeof(want), ": %s\n", message);
    }

    ck_assert_msg(strstr(sl_tc.errors, want) != NULL,
                  "case %d: want \"%s\" in:\n%s", _i, want, sl_tc.errors);
}
END_TEST

/* --- variables and complex values, for a session made by hand ----------- */

typedef struct {
    sl_conf_t             cf;
    sl_connection_t       c;
    sl_stream_session_t   s;
    sl_time_cache_t       time;
    sl_sockaddr_t         peer;
    sl_sockaddr_t         local;
    char                  value[512];
} fake_t;

static fake_t  fk;

static const char  *fk_conf_text =
    "stream { server { listen 127.0.0.1:7000; echo; } }\n";

/* what the stream{} block's directives see while it is read */
static sl_conf_t *
fk_conf(void)
{
    sl_memzero(&fk.cf, sizeof(sl_conf_t));
    fk.cf.ctx = tc_stream();
    fk.cf.cycle = sl_tc.cycle;
    fk.cf.pool = sl_tc.cycle->pool;
    fk.cf.temp_pool = sl_tc.cycle->pool;
    fk.cf.log = &sl_tc.log;
    return &fk.cf;
}

static sl_stream_complex_value_t *
fk_compile(const char *text)
{
    sl_stream_complex_value_t  *cv;
    sl_str_t                    value;

    cv = sl_palloc(sl_tc.cycle->pool, sizeof(sl_stream_complex_value_t));
    ck_assert_ptr_nonnull(cv);

    value.data = (u_char *) text;
    value.len = strlen(text);
    ck_assert_int_eq(sl_stream_compile_complex_value(fk_conf(), &value, cv),
                     SL_OK);
    return cv;
}

static socklen_t
fk_addr(const char *text, sl_sockaddr_t *to)
{
    sl_url_t  u;

    sl_memzero(&u, sizeof(u));
    u.url.data = (u_char *) text;
    u.url.len = strlen(text);
    u.listen = 1;
    ck_assert_int_eq(sl_parse_url(sl_tc.cycle->pool, &u), SL_OK);
    memcpy(to, u.addrs[0].sockaddr, u.addrs[0].socklen);
    return u.addrs[0].socklen;
}

/*
 * A session as the accept of peer on local would make it, at the fixed
 * moment 1700000000.123, 1.005 s after it began.
 */
static sl_stream_session_t *
fk_session(const char *peer, const char *local)
{
    sl_stream_core_main_conf_t  *cmcf = tc_cmcf();
    sl_connection_t             *c = &fk.c;
    sl_stream_session_t         *s = &fk.s;
    u_char                       text[SL_SOCKADDR_STRLEN];

    ck_assert_int_eq(sl_stream_variables_init_vars(fk_conf()), SL_OK);

    sl_memzero(c, sizeof(sl_connection_t));
    c->fd = -1;
    c->pool = sl_tc.cycle->pool;
    c->log = &sl_tc.log;
    c->type = SOCK_STREAM;
    c->number = 42;
    c->sent = 1234;

    if (strcmp(peer, "unix:") == 0) {
        sl_memzero(&fk.peer, sizeof(fk.peer));
        fk.peer.sockaddr.sa_family = AF_UNIX;
        c->socklen = offsetof(struct sockaddr_un, sun_path);
    } else {
        c->socklen = fk_addr(peer, &fk.peer);
    }

    c->sockaddr = &fk.peer.sockaddr;
    c->addr_text.len = sl_sock_ntop(c->sockaddr, c->socklen, text,
                                    sizeof(text), 0);
    c->addr_text.data = sl_pnalloc(c->pool, c->addr_text.len);
    memcpy(c->addr_text.data, text, c->addr_text.len);

    c->local_socklen = fk_addr(local, &fk.local);
    c->local_sockaddr = &fk.local.sockaddr;

    sl_memzero(s, sizeof(sl_stream_session_t));
    s->connection = c;
    c->data = s;
    s->main_conf = tc_stream()->main_conf;
    s->srv_conf = tc_server(0)->ctx->srv_conf;
    s->variables = sl_pcalloc(c->pool, cmcf->variables.nelts
                                       * sizeof(sl_stream_variable_value_t));
    ck_assert_ptr_nonnull(s->variables);

    sl_memzero(&fk.time, sizeof(fk.time));
    sl_time_set(&fk.time, 1700000000, 123);
    s->time = &fk.time;
    s->start_sec = 1699999999;
    s->start_msec = 118;
    s->received = 20;
    s->status = 200;
    return s;
}

static const char *
fk_eval(sl_stream_complex_value_t *cv)
{
    sl_str_t  value;

    ck_assert_int_eq(sl_stream_complex_value(&fk.s, cv, &value), SL_OK);
    ck_assert_uint_lt(value.len, sizeof(fk.value));
    memcpy(fk.value, value.data, value.len);
    fk.value[value.len] = '\0';
    return fk.value;
}

START_TEST(test_variables_ipv4)
{
    sl_stream_complex_value_t  *addr, *port, *srv, *bin, *nums, *ver, *t;
    sl_stream_complex_value_t  *host, *pid, *proto;
    char                        want[64];

    setenv("TZ", "UTC", 1);
    tzset();

    ck_assert_ptr_nonnull(load(fk_conf_text));

    addr = fk_compile("$remote_addr");
    port = fk_compile("$remote_port");
    srv = fk_compile("$server_addr:$server_port");
    bin = fk_compile("$binary_remote_addr");
    nums = fk_compile("$connection $bytes_sent $bytes_received $status");
    ver = fk_compile("$sluice_version");
    t = fk_compile("$msec|$session_time|$time_local|$time_iso8601");
    host = fk_compile("$hostname");
    pid = fk_compile("$pid");
    proto = fk_compile("$protocol");

    fk_session("192.0.2.1:5555", "198.51.100.2:7000");

    ck_assert_str_eq(fk_eval(addr), "192.0.2.1");
    ck_assert_str_eq(fk_eval(port), "5555");
    ck_assert_str_eq(fk_eval(srv), "198.51.100.2:7000");
    ck_assert_int_eq(memcmp(fk_eval(bin), "\xc0\x00\x02\x01", 4), 0);
    ck_assert_str_eq(fk_eval(nums), "42 1234 20 200");
    ck_assert_str_eq(fk_eval(ver), SL_VERSION);
    ck_assert_str_eq(fk_eval(t), "1700000000.123|1.005|"
                     "14/Nov/2023:22:13:20 +0000|2023-11-14T22:13:20+00:00");
    ck_assert_str_eq(fk_eval(host), tc_text(&sl_tc.cycle->hostname));
    snprintf(want, sizeof(want), "%d", (int) getpid());
    ck_assert_str_eq(fk_eval(pid), want);
    ck_assert_str_eq(fk_eval(proto), "TCP");
}
END_TEST

START_TEST(test_variables_time_zone)
{
    sl_stream_complex_value_t  *t;

    setenv("TZ", "UTC-6", 1);
    tzset();

    ck_assert_ptr_nonnull(load(fk_conf_text));
    t = fk_compile("$time_local $time_iso8601");
    fk_session("192.0.2.1:5555", "198.51.100.2:7000");

    ck_assert_str_eq(fk_eval(t),
                     "15/Nov/2023:04:13:20 +0600 2023-11-15T04:13:20+06:00");

    setenv("TZ", "UTC", 1);
    tzset();
}
END_TEST

START_TEST(test_variables_ipv6_and_unix)
{
    sl_stream_complex_value_t  *bin, *addr, *port, *srv;

    ck_assert_ptr_nonnull(load(fk_conf_text));

    bin = fk_compile("$binary_remote_addr");
    addr = fk_compile("[$remote_addr]");
    port = fk_compile("[$remote_port]");
    srv = fk_compile("$server_addr $server_port");

    fk_session("[2001:db8::7]:40000", "[::1]:7000");
    ck_assert_int_eq(memcmp(fk_eval(bin), "\x20\x01\x0d\xb8\0\0\0\0"
                            "\0\0\0\0\0\0\0\x07", 16), 0);
    ck_assert_str_eq(fk_eval(addr), "[2001:db8::7]");
    ck_assert_str_eq(fk_eval(port), "[40000]");
    ck_assert_str_eq(fk_eval(srv), "::1 7000");

    /* a unix peer: its text, and no port */
    fk_session("unix:", "unix:/tmp/x.sock");
    ck_assert_str_eq(fk_eval(bin), "unix:");
    ck_assert_str_eq(fk_eval(addr), "[unix:]");
    ck_assert_str_eq(fk_eval(port), "[]");
    ck_assert_str_eq(fk_eval(srv), "unix:/tmp/x.sock ");
}
END_TEST

START_TEST(test_variables_cache)
{
    sl_stream_complex_value_t   *status, *addr, *stime;
    sl_stream_variable_value_t  *v;
    sl_str_t                     name;

    ck_assert_ptr_nonnull(load(fk_conf_text));
    status = fk_compile("$status");
    addr = fk_compile("$remote_addr");
    stime = fk_compile("$session_time");
    fk_session("192.0.2.1:5555", "198.51.100.2:7000");

    /* a NOCACHEABLE value follows the session, a cacheable one does not */
    ck_assert_str_eq(fk_eval(status), "200");
    fk.s.status = 502;
    ck_assert_str_eq(fk_eval(status), "502");

    ck_assert_str_eq(fk_eval(addr), "192.0.2.1");
    fk.c.addr_text.len = 3;
    ck_assert_str_eq(fk_eval(addr), "192.0.2.1");

    /* a clock that stepped back gives 0, never a negative time */
    fk.s.start_sec = 1700000005;
    ck_assert_str_eq(fk_eval(stime), "0.000");

    /* by name at run time: indexed or not */
    sl_str_set(&name, "status");
    v = sl_stream_get_variable(&fk.s, &name, sl_hash_key(name.data, name.len));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(memcmp(v->data, "502", v->len), 0);

    sl_str_set(&name, "protocol");
    v = sl_stream_get_variable(&fk.s, &name, sl_hash_key(name.data, name.len));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(memcmp(v->data, "TCP", v->len), 0);

    sl_str_set(&name, "no_such");
    ck_assert_ptr_null(sl_stream_get_variable(&fk.s, &name,
                           sl_hash_key(name.data, name.len)));
}
END_TEST

START_TEST(test_complex_values)
{
    sl_stream_complex_value_t  *cv;
    sl_str_t                    value;

    ck_assert_ptr_nonnull(load(fk_conf_text));

    /* a constant is not copied */
    cv = fk_compile("just text, 100% of it");
    fk_session("192.0.2.1:5555", "198.51.100.2:7000");
    ck_assert_ptr_null(cv->parts);
    ck_assert_int_eq(sl_stream_complex_value(&fk.s, cv, &value), SL_OK);
    ck_assert_ptr_eq(value.data, cv->value.data);
    ck_assert_uint_eq(value.len, 21);

    ck_assert_ptr_nonnull(load(fk_conf_text));
    cv = fk_compile("a${remote_port}b $REMOTE_ADDR$remote_port.x ${status}");
    fk_session("192.0.2.1:5555", "198.51.100.2:7000");
    ck_assert_str_eq(fk_eval(cv), "a5555b 192.0.2.15555.x 200");
    ck_assert_uint_eq(cv->nparts, 7);

    ck_assert_ptr_nonnull(load(fk_conf_text));
    cv = fk_compile("");
    fk_session("192.0.2.1:5555", "198.51.100.2:7000");
    ck_assert_str_eq(fk_eval(cv), "");
}
END_TEST

START_TEST(test_unknown_variable)
{
    ck_assert_ptr_nonnull(load(fk_conf_text));
    fk_compile("x $remote_addrx");
    ck_assert_int_eq(sl_stream_variables_init_vars(fk_conf()), SL_ERROR);
}
END_TEST

START_TEST(test_add_variable)
{
    sl_stream_variable_t  *v, *w;
    sl_str_t               name;

    ck_assert_ptr_nonnull(load(fk_conf_text));

    /* the core ones are taken */
    sl_str_set(&name, "Remote_Addr");
    ck_assert_ptr_null(sl_stream_add_variable(fk_conf(), &name, 0));

    /* a changeable one may be registered again: it is the same one */
    sl_str_set(&name, "my_var");
    v = sl_stream_add_variable(fk_conf(), &name, SL_STREAM_VAR_CHANGEABLE);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(tc_text(&v->name), "my_var");
    sl_str_set(&name, "MY_VAR");
    w = sl_stream_add_variable(fk_conf(), &name, 0);
    ck_assert_ptr_eq(v, w);
    ck_assert_ptr_null(sl_stream_add_variable(fk_conf(), &name, 0));

    /* indexes are per name, case-insensitively */
    sl_str_set(&name, "remote_port");
    ck_assert_int_eq(sl_stream_get_variable_index(fk_conf(), &name),
                     sl_stream_get_variable_index(fk_conf(), &(sl_str_t)
                         sl_string("REMOTE_PORT")));
}
END_TEST

static Suite *
stream_conf_suite(void)
{
    Suite  *s = suite_create("stream_conf");
    TCase  *tc_listen, *tc_conf, *tc_bad, *tc_vars;

    /* the configurations use echo and return: a build without skips */
    if (!SL_HAVE_stream_echo_MODULE || !SL_HAVE_stream_return_MODULE) {
        return s;
    }

    tc_listen = tcase_create("listen");
    tc_conf = tcase_create("conf");
    tc_bad = tcase_create("bad");
    tc_vars = tcase_create("variables");

    tcase_add_checked_fixture(tc_listen, sl_tc_setup, sl_tc_teardown);
    tcase_add_test(tc_listen, test_listen_forms);
    tcase_add_test(tc_listen, test_listen_resolved_name);
    tcase_add_test(tc_listen, test_listen_options);
    tcase_add_test(tc_listen, test_wildcard_shares_socket);
    tcase_add_test(tc_listen, test_virtual_servers);
    tcase_add_test(tc_listen, test_no_stream_block);
    suite_add_tcase(s, tc_listen);

    tcase_add_checked_fixture(tc_conf, sl_tc_setup, sl_tc_teardown);
    tcase_add_test(tc_conf, test_defaults);
    tcase_add_test(tc_conf, test_hash_sizes);
    tcase_add_test(tc_conf, test_merge);
    tcase_add_test(tc_conf, test_error_log);
    tcase_add_test(tc_conf, test_error_log_after_block);
    suite_add_tcase(s, tc_conf);

    tcase_add_checked_fixture(tc_bad, sl_tc_setup, sl_tc_teardown);
    tcase_add_loop_test(tc_bad, test_bad_config, 0, sl_nelems(bad_cases));
    suite_add_tcase(s, tc_bad);

    tcase_add_checked_fixture(tc_vars, sl_tc_setup, sl_tc_teardown);
    tcase_add_test(tc_vars, test_variables_ipv4);
    tcase_add_test(tc_vars, test_variables_time_zone);
    tcase_add_test(tc_vars, test_variables_ipv6_and_unix);
    tcase_add_test(tc_vars, test_variables_cache);
    tcase_add_test(tc_vars, test_complex_values);
    tcase_add_test(tc_vars, test_unknown_variable);
    tcase_add_test(tc_vars, test_add_variable);
    suite_add_tcase(s, tc_vars);

    return s;
}

SL_TEST_MAIN(stream_conf_suite)
