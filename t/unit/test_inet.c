/*
 * test_inet.c -- socket addresses: every form sl_parse_url() accepts and
 * every error it gives, printing (and printing back what was parsed),
 * ports, comparison and wildcards.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"

static sl_pool_t  *pool;

static void
setup(void)
{
    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);
}

static void
teardown(void)
{
    sl_destroy_pool(pool);
}

/* parses text; returns the rc, u filled */
static sl_int_t
parse(sl_url_t *u, const char *text, sl_uint_t listen, in_port_t dflt)
{
    sl_memzero(u, sizeof(sl_url_t));
    u->url.data = (u_char *) text;
    u->url.len = strlen(text);
    u->listen = listen;
    u->default_port = dflt;
    return sl_parse_url(pool, u);
}

static void
assert_error(const char *text, sl_uint_t listen, const char *err)
{
    sl_url_t  u;

    ck_assert_msg(parse(&u, text, listen, 0) == SL_ERROR, "%s parsed", text);
    ck_assert_ptr_nonnull(u.err);
    ck_assert_str_eq(u.err, err);
}

static char *
str(sl_str_t *s)
{
    static char  buf[256];

    ck_assert_uint_lt(s->len, sizeof(buf));
    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';
    return buf;
}

/* the address printed with and without its port */
static void
assert_ntop(struct sockaddr *sa, socklen_t len, const char *with,
    const char *without)
{
    u_char  text[SL_SOCKADDR_STRLEN];
    size_t  n;

    n = sl_sock_ntop(sa, len, text, sizeof(text), 1);
    ck_assert_uint_eq(n, strlen(with));
    ck_assert_int_eq(memcmp(text, with, n), 0);

    n = sl_sock_ntop(sa, len, text, sizeof(text), 0);
    ck_assert_uint_eq(n, strlen(without));
    ck_assert_int_eq(memcmp(text, without, n), 0);
}

/* --- accepted forms ------------------------------------------------------ */

START_TEST(test_ipv4_port)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "127.0.0.1:8000", 1, 0), SL_OK);
    ck_assert_int_eq(u.sockaddr.sockaddr.sa_family, AF_INET);
    ck_assert_uint_eq(u.socklen, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(u.port, 8000);
    ck_assert_uint_eq(ntohs(u.sockaddr.sockaddr_in.sin_port), 8000);
    ck_assert_str_eq(str(&u.host), "127.0.0.1");
    ck_assert_uint_eq(u.naddrs, 1);
    ck_assert_str_eq(str(&u.addrs[0].name), "127.0.0.1:8000");
    ck_assert(!u.wildcard);
    ck_assert(!u.no_port);
    assert_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, "127.0.0.1:8000",
                "127.0.0.1");

    /* not only for listening */
    ck_assert_int_eq(parse(&u, "10.1.2.3:1", 0, 0), SL_OK);
    ck_assert_str_eq(str(&u.addrs[0].name), "10.1.2.3:1");
    ck_assert_int_eq(parse(&u, "10.1.2.3:65535", 0, 0), SL_OK);
    ck_assert_uint_eq(u.port, 65535);
}
END_TEST

START_TEST(test_wildcards)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "*:8000", 1, 0), SL_OK);
    ck_assert(u.wildcard);
    ck_assert_str_eq(str(&u.addrs[0].name), "0.0.0.0:8000");

    ck_assert_int_eq(parse(&u, "8000", 1, 0), SL_OK);
    ck_assert(u.wildcard);
    ck_assert_uint_eq(u.port, 8000);
    ck_assert_int_eq(u.sockaddr.sockaddr.sa_family, AF_INET);
    ck_assert_str_eq(str(&u.addrs[0].name), "0.0.0.0:8000");

    ck_assert_int_eq(parse(&u, "0.0.0.0:80", 1, 0), SL_OK);
    ck_assert(u.wildcard);

    ck_assert_int_eq(parse(&u, "[::]:8000", 1, 0), SL_OK);
    ck_assert(u.wildcard);
    ck_assert_str_eq(str(&u.addrs[0].name), "[::]:8000");

    /* "*" and a bare port mean something only to listen */
    assert_error("*:8000", 0, "host not found");
    assert_error("8000", 0, "no port");
}
END_TEST

START_TEST(test_ipv6)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "[::1]:8000", 1, 0), SL_OK);
    ck_assert_int_eq(u.sockaddr.sockaddr.sa_family, AF_INET6);
    ck_assert_uint_eq(u.socklen, sizeof(struct sockaddr_in6));
    ck_assert_uint_eq(u.port, 8000);
    ck_assert_str_eq(str(&u.host), "[::1]");
    ck_assert_str_eq(str(&u.addrs[0].name), "[::1]:8000");
    ck_assert(!u.wildcard);
    assert_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, "[::1]:8000",
                "::1");

    /* printed in the canonical short form */
    ck_assert_int_eq(parse(&u, "[2001:DB8:0:0:0:0:0:1]:443", 0, 0), SL_OK);
    ck_assert_str_eq(str(&u.addrs[0].name), "[2001:db8::1]:443");

    ck_assert_int_eq(parse(&u, "[::ffff:1.2.3.4]:80", 0, 0), SL_OK);
    assert_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                "[::ffff:1.2.3.4]:80", "::ffff:1.2.3.4");
}
END_TEST

START_TEST(test_default_port)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "127.0.0.1", 0, 80), SL_OK);
    ck_assert(u.no_port);
    ck_assert_uint_eq(u.port, 80);
    ck_assert_str_eq(str(&u.addrs[0].name), "127.0.0.1:80");

    ck_assert_int_eq(parse(&u, "[::1]", 0, 443), SL_OK);
    ck_assert(u.no_port);
    ck_assert_str_eq(str(&u.addrs[0].name), "[::1]:443");

    ck_assert_int_eq(parse(&u, "127.0.0.1:81", 0, 80), SL_OK);
    ck_assert(!u.no_port);
    ck_assert_uint_eq(u.port, 81);
}
END_TEST

START_TEST(test_unix)
{
    char      path[200];
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "unix:/tmp/sluice.sock", 1, 0), SL_OK);
    ck_assert_int_eq(u.sockaddr.sockaddr.sa_family, AF_UNIX);
    ck_assert_str_eq(u.sockaddr.sockaddr_un.sun_path, "/tmp/sluice.sock");
    ck_assert_str_eq(str(&u.host), "/tmp/sluice.sock");
    ck_assert_uint_eq(u.naddrs, 1);
    ck_assert_str_eq(str(&u.addrs[0].name), "unix:/tmp/sluice.sock");
    ck_assert_uint_eq(u.port, 0);
    assert_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                "unix:/tmp/sluice.sock", "unix:/tmp/sluice.sock");

    /* the longest path that fits with its NUL, and one byte more */
    memset(path, 'a', sizeof(path));
    memcpy(path, "unix:/", 6);
    path[5 + sizeof(u.sockaddr.sockaddr_un.sun_path) - 1] = '\0';
    ck_assert_int_eq(parse(&u, path, 1, 0), SL_OK);
    ck_assert_uint_eq(u.addrs[0].name.len, strlen(path));

    memset(path, 'a', sizeof(path));
    memcpy(path, "unix:/", 6);
    path[5 + sizeof(u.sockaddr.sockaddr_un.sun_path)] = '\0';
    assert_error(path, 1, "too long path in the unix domain socket");

    assert_error("unix:", 1, "no path in the unix domain socket");
}
END_TEST

START_TEST(test_resolve)
{
    struct sockaddr_in  *sin;
    sl_uint_t            i, loopback = 0;
    sl_url_t             u;

    ck_assert_int_eq(parse(&u, "localhost:8000", 1, 0), SL_OK);
    ck_assert_uint_ge(u.naddrs, 1);
    ck_assert_str_eq(str(&u.host), "localhost");

    for (i = 0; i < u.naddrs; i++) {
        ck_assert_uint_eq(sl_inet_get_port(u.addrs[i].sockaddr), 8000);
        sin = (struct sockaddr_in *) u.addrs[i].sockaddr;
        if (sin->sin_family == AF_INET
            && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
        {
            loopback = 1;
            ck_assert_str_eq(str(&u.addrs[i].name), "127.0.0.1:8000");
        }
        if (sin->sin_family == AF_INET6) {
            loopback = 1;
            ck_assert_str_eq(str(&u.addrs[i].name), "[::1]:8000");
        }
    }

    ck_assert(loopback);
    /* the first one is also the url's own */
    ck_assert_int_eq(sl_cmp_sockaddr(&u.sockaddr.sockaddr, u.socklen,
                                     u.addrs[0].sockaddr, u.addrs[0].socklen,
                                     1), SL_OK);

    assert_error("no-such-host.invalid:80", 0, "host not found");
}
END_TEST

/* --- errors -------------------------------------------------------------- */

START_TEST(test_invalid_ports)
{
    assert_error("127.0.0.1:0", 1, "invalid port");
    assert_error("127.0.0.1:65536", 1, "invalid port");
    assert_error("127.0.0.1:abc", 1, "invalid port");
    assert_error("127.0.0.1:-1", 1, "invalid port");
    assert_error("127.0.0.1:", 1, "invalid port");
    assert_error("127.0.0.1:99999999999999999999", 1, "invalid port");
    assert_error("0", 1, "invalid port");
    assert_error("65536", 1, "invalid port");
    assert_error("[::1]:0", 1, "invalid port");
    assert_error("[::1]:65536", 1, "invalid port");
    assert_error("[::1]:abc", 1, "invalid port");
    assert_error("[::1]:", 1, "invalid port");
    assert_error("localhost:http", 0, "invalid port");
}
END_TEST

START_TEST(test_invalid_hosts)
{
    sl_url_t  u;

    assert_error("127.0.0.1", 1, "no port");
    assert_error("[::1]", 1, "no port");
    assert_error("localhost", 1, "no port");
    assert_error(":80", 1, "no host");
    assert_error("[]:80", 1, "no host");
    assert_error("[::1:80", 1, "invalid host");
    assert_error("[::1]80", 1, "invalid host");
    assert_error("[zz::1]:80", 1, "invalid IPv6 address");
    assert_error("[127.0.0.1]:80", 1, "invalid IPv6 address");
    assert_error("[::1::2]:80", 1, "invalid IPv6 address");
    assert_error("::1", 1, "invalid port");

    /* with no_resolve a name is refused, a literal is not */
    sl_memzero(&u, sizeof(u));
    u.url.data = (u_char *) "localhost:80";
    u.url.len = 12;
    u.no_resolve = 1;
    ck_assert_int_eq(sl_parse_url(pool, &u), SL_ERROR);
    ck_assert_str_eq(u.err, "invalid host");

    sl_memzero(&u, sizeof(u));
    u.url.data = (u_char *) "127.0.0.1:80";
    u.url.len = 12;
    u.no_resolve = 1;
    ck_assert_int_eq(sl_parse_url(pool, &u), SL_OK);
}
END_TEST

/* --- printing, ports, comparison ----------------------------------------- */

START_TEST(test_ntop_bounds)
{
    struct sockaddr_in   sin;
    struct sockaddr_un   saun;
    struct sockaddr      other;
    u_char               text[32];

    sl_memzero(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    sin.sin_addr.s_addr = htonl(0x7f000001);

    /* never past len */
    memset(text, 'x', sizeof(text));
    ck_assert_uint_eq(sl_sock_ntop((struct sockaddr *) &sin, sizeof(sin),
                                   text, 5, 1), 5);
    ck_assert_int_eq(memcmp(text, "127.0x", 6), 0);

    /* a unix peer has no path */
    sl_memzero(&saun, sizeof(saun));
    saun.sun_family = AF_UNIX;
    ck_assert_uint_eq(sl_sock_ntop((struct sockaddr *) &saun,
                                   offsetof(struct sockaddr_un, sun_path),
                                   text, sizeof(text), 1), 5);
    ck_assert_int_eq(memcmp(text, "unix:", 5), 0);

    sl_memzero(&other, sizeof(other));
    other.sa_family = AF_UNSPEC;
    ck_assert_uint_eq(sl_sock_ntop(&other, sizeof(other), text,
                                   sizeof(text), 1), 0);
}
END_TEST

START_TEST(test_ports)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, "127.0.0.1:1234", 1, 0), SL_OK);
    sl_inet_set_port(&u.sockaddr.sockaddr, 4321);
    ck_assert_uint_eq(sl_inet_get_port(&u.sockaddr.sockaddr), 4321);

    ck_assert_int_eq(parse(&u, "[::1]:1234", 1, 0), SL_OK);
    sl_inet_set_port(&u.sockaddr.sockaddr, 65535);
    ck_assert_uint_eq(sl_inet_get_port(&u.sockaddr.sockaddr), 65535);

    ck_assert_int_eq(parse(&u, "unix:/x", 1, 0), SL_OK);
    sl_inet_set_port(&u.sockaddr.sockaddr, 80);
    ck_assert_uint_eq(sl_inet_get_port(&u.sockaddr.sockaddr), 0);
    ck_assert_str_eq(u.sockaddr.sockaddr_un.sun_path, "/x");
}
END_TEST

static struct sockaddr *
addr_of(const char *text, socklen_t *len)
{
    sl_url_t  u;

    ck_assert_int_eq(parse(&u, text, 1, 0), SL_OK);
    *len = u.addrs[0].socklen;
    return u.addrs[0].sockaddr;
}

START_TEST(test_cmp_sockaddr)
{
    struct sockaddr  *a, *b;
    socklen_t         la, lb;

    a = addr_of("127.0.0.1:80", &la);
    b = addr_of("127.0.0.1:81", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 1), SL_DECLINED);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 0), SL_OK);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, a, la, 1), SL_OK);

    b = addr_of("127.0.0.2:80", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 0), SL_DECLINED);

    b = addr_of("[::1]:80", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 0), SL_DECLINED);

    a = addr_of("[::1]:81", &la);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 1), SL_DECLINED);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 0), SL_OK);
    a = addr_of("[::2]:80", &la);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 0), SL_DECLINED);

    a = addr_of("unix:/a", &la);
    b = addr_of("unix:/a", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 1), SL_OK);
    b = addr_of("unix:/b", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 1), SL_DECLINED);
    b = addr_of("unix:/ab", &lb);
    ck_assert_int_eq(sl_cmp_sockaddr(a, la, b, lb, 1), SL_DECLINED);
}
END_TEST

START_TEST(test_wildcard)
{
    socklen_t  len;

    ck_assert(sl_inet_wildcard(addr_of("*:80", &len)));
    ck_assert(sl_inet_wildcard(addr_of("0.0.0.0:80", &len)));
    ck_assert(sl_inet_wildcard(addr_of("[::]:80", &len)));
    ck_assert(!sl_inet_wildcard(addr_of("127.0.0.1:80", &len)));
    ck_assert(!sl_inet_wildcard(addr_of("[::1]:80", &len)));
    ck_assert(!sl_inet_wildcard(addr_of("unix:/x", &len)));
}
END_TEST

static Suite *
inet_suite(void)
{
    Suite  *s = suite_create("inet");
    TCase  *tc = tcase_create("inet");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ipv4_port);
    tcase_add_test(tc, test_wildcards);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_default_port);
    tcase_add_test(tc, test_unix);
    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_invalid_ports);
    tcase_add_test(tc, test_invalid_hosts);
    tcase_add_test(tc, test_ntop_bounds);
    tcase_add_test(tc, test_ports);
    tcase_add_test(tc, test_cmp_sockaddr);
    tcase_add_test(tc, test_wildcard);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(inet_suite)
