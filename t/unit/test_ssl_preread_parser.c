/*
 * test_ssl_preread_parser.c -- the ClientHello parser of ssl_preread
 * (src/stream/sl_stream_ssl_preread_parser.c) on hellos built here: what
 * it finds, with nginx's rules (the first server_name and ALPN count,
 * supported_versions means TLSv1.3, SSLv2's hello ends the parse), what
 * it refuses and why, and that every cut of the input -- a byte at a
 * time, every split in two -- gives the same answer.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_stream_ssl_preread_parser.h"

#include <string.h>

#define MAX  4096

/* a hello's extensions, written as they go: "ext" adds one */
typedef struct {
    u_char  b[MAX];
    size_t  n;
} bytes_t;

static void
put(bytes_t *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void
put16(bytes_t *x, size_t v)
{
    u_char  b[2] = { (u_char) (v >> 8), (u_char) v };

    put(x, b, 2);
}

static void
ext(bytes_t *x, unsigned type, const void *body, size_t n)
{
    put16(x, type);
    put16(x, n);
    put(x, body, n);
}

/* an SNI extension body for one host_name */
static size_t
sni_body(u_char *b, const char *name)
{
    size_t  n = strlen(name);

    b[0] = (u_char) ((n + 3) >> 8);
    b[1] = (u_char) (n + 3);
    b[2] = 0;
    b[3] = (u_char) (n >> 8);
    b[4] = (u_char) n;
    memcpy(b + 5, name, n);
    return n + 5;
}

/* the whole input: records of at most rec bytes around the message */
static size_t
hello(u_char *out, const bytes_t *exts, int with_exts, size_t rec)
{
    bytes_t  m;
    size_t   off, n, o = 0, i;

    m.n = 4;
    put16(&m, 0x0303);
    for (i = 0; i < 32; i++) {
        m.b[m.n++] = (u_char) i;
    }
    m.b[m.n++] = 0;                 /* no session id */
    put16(&m, 2);
    put16(&m, 0x1301);
    m.b[m.n++] = 1;
    m.b[m.n++] = 0;
    if (with_exts) {
        put16(&m, exts->n);
        put(&m, exts->b, exts->n);
    }

    m.b[0] = 1;
    m.b[1] = (u_char) ((m.n - 4) >> 16);
    m.b[2] = (u_char) ((m.n - 4) >> 8);
    m.b[3] = (u_char) (m.n - 4);

    for (off = 0; off < m.n; off += n) {
        n = m.n - off < rec ? m.n - off : rec;
        out[o++] = 0x16;
        out[o++] = 3;
        out[o++] = 1;
        out[o++] = (u_char) (n >> 8);
        out[o++] = (u_char) n;
        memcpy(out + o, m.b + off, n);
        o += n;
    }

    return o;
}

typedef struct {
    sl_int_t     rc;
    char         host[256];
    char         alpn[256];
    char         proto[16];
    const char  *reason;
} result_t;

/* parses data in pieces: all at once (step 0), step bytes, or split at */
static void
run(const u_char *data, size_t len, size_t step, size_t at, result_t *r)
{
    sl_stream_ssl_preread_parser_t  p;
    sl_pool_t                      *pool;
    sl_str_t                        proto;
    size_t                          off = 0, n;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);
    sl_stream_ssl_preread_init(&p, pool);
    r->rc = SL_AGAIN;

    if (step == 0) {
        r->rc = sl_stream_ssl_preread_parse(&p, data, at);
        off = at;
        step = len;
    }

    while (r->rc == SL_AGAIN && off < len) {
        n = len - off < step ? len - off : step;
        r->rc = sl_stream_ssl_preread_parse(&p, data + off, n);
        off += n;
    }

    snprintf(r->host, sizeof(r->host), "%.*s", (int) p.host.len,
             p.host.len ? (char *) p.host.data : "");
    snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int) p.alpn.len,
             p.alpn.len ? (char *) p.alpn.data : "");
    sl_stream_ssl_preread_protocol(&p, &proto);
    snprintf(r->proto, sizeof(r->proto), "%.*s", (int) proto.len,
             (char *) proto.data);
    r->reason = p.reason;
    sl_destroy_pool(pool);
}

/* the answer at once, and the same for a byte at a time and every split */
static result_t
parse(const u_char *data, size_t len)
{
    result_t  whole, other;
    size_t    at;

    run(data, len, 0, len, &whole);

    run(data, len, 1, 0, &other);
    ck_assert_int_eq(other.rc, whole.rc);
    ck_assert_str_eq(other.host, whole.host);
    ck_assert_str_eq(other.alpn, whole.alpn);

    for (at = 0; at <= len; at++) {
        run(data, len, 0, at, &other);
        ck_assert_int_eq(other.rc, whole.rc);
        ck_assert_str_eq(other.host, whole.host);
        ck_assert_str_eq(other.alpn, whole.alpn);
        ck_assert_str_eq(other.proto, whole.proto);
    }

    return whole;
}

static const u_char  alpn2[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p',
                                 '/', '1', '.', '1' };

START_TEST(test_sni_alpn_versions)
{
    u_char    in[MAX], b[300];
    bytes_t   e = { .n = 0 };
    result_t  r;
    size_t    len;
    static const u_char  sv[] = { 2, 3, 4 };

    ext(&e, 0, b, sni_body(b, "Www.Example.com"));
    ext(&e, 10, "\0\2\0\x1d", 4);                   /* another: skipped */
    ext(&e, 16, alpn2, sizeof(alpn2));

    len = hello(in, &e, 1, 16384);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.host, "Www.Example.com");
    ck_assert_str_eq(r.alpn, "h2,http/1.1");
    ck_assert_str_eq(r.proto, "TLSv1.2");

    /* in records of 7 bytes: the same */
    len = hello(in, &e, 1, 7);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.host, "Www.Example.com");
    ck_assert_str_eq(r.alpn, "h2,http/1.1");

    /* supported_versions: TLSv1.3, whatever it lists */
    ext(&e, 43, sv, sizeof(sv));
    len = hello(in, &e, 1, 16384);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.proto, "TLSv1.3");
}
END_TEST

/* the first server_name and ALPN extensions count, as in nginx */
START_TEST(test_first_wins)
{
    u_char    in[MAX], b[300];
    bytes_t   e = { .n = 0 };
    result_t  r;
    size_t    len;
    static const u_char  alpn1[] = { 0, 3, 2, 'x', 'y' };

    ext(&e, 0, b, sni_body(b, "one.test"));
    ext(&e, 16, alpn1, sizeof(alpn1));
    ext(&e, 0, b, sni_body(b, "two.test"));
    ext(&e, 16, alpn2, sizeof(alpn2));

    len = hello(in, &e, 1, 16384);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.host, "one.test");
    ck_assert_str_eq(r.alpn, "xy");
}
END_TEST

/* no extensions at all, an empty extension list, an empty SNI name */
START_TEST(test_empty)
{
    u_char    in[MAX], b[8];
    bytes_t   e = { .n = 0 };
    result_t  r;
    size_t    len;

    len = hello(in, &e, 0, 16384);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.host, "");
    ck_assert_str_eq(r.proto, "TLSv1.2");

    len = hello(in, &e, 1, 16384);
    ck_assert_int_eq(parse(in, len).rc, SL_OK);

    ext(&e, 0, b, sni_body(b, ""));
    len = hello(in, &e, 1, 16384);
    r = parse(in, len);
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.host, "");
}
END_TEST

/* SSLv2-compatible hellos: their version, at once */
START_TEST(test_sslv2)
{
    static const u_char  tls1[] = { 0x80, 0x2e, 0x01, 0x03, 0x01 };
    static const u_char  ssl2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
    static const u_char  ssl3[] = { 0x80, 0x2e, 0x01, 0x03, 0x00 };
    result_t             r;

    r = parse(tls1, sizeof(tls1));
    ck_assert_int_eq(r.rc, SL_OK);
    ck_assert_str_eq(r.proto, "TLSv1");
    ck_assert_str_eq(parse(ssl2, sizeof(ssl2)).proto, "SSLv2");
    ck_assert_str_eq(parse(ssl3, sizeof(ssl3)).proto, "SSLv3");
}
END_TEST

/*
 * An SSLv2 hello is a first record only: a later record header that looks
 * like one (here between the two ALPN names) is not a handshake record,
 * and the half-read ALPN list is not shown ("h2," it was).
 */
START_TEST(test_sslv2_not_later)
{
    u_char    one[MAX], in[MAX], b[300];
    bytes_t   e = { .n = 0 };
    result_t  r;
    size_t    len, k, body;
    u_char   *h2;

    ext(&e, 0, b, sni_body(b, "a.test"));
    ext(&e, 16, alpn2, sizeof(alpn2));
    len = hello(one, &e, 1, 16384);

    /* the first record ends right after "h2" */
    h2 = memmem(one, len, "h2", 2);
    ck_assert_ptr_nonnull(h2);
    k = (size_t) (h2 + 2 - one);
    body = k - 5;

    memcpy(in, one, k);
    in[3] = (u_char) (body >> 8);
    in[4] = (u_char) body;
    memcpy(in + k, "\x80\x2e\x01\x03\x01", 5);
    memcpy(in + k + 5, one + k, len - k);

    r = parse(in, len + 5);
    ck_assert_int_eq(r.rc, SL_DECLINED);
    ck_assert_str_eq(r.alpn, "");
}
END_TEST

/* refusals, each with nginx's reason where nginx has one */
START_TEST(test_refusals)
{
    u_char    in[MAX], b[300];
    bytes_t   e;
    result_t  r;
    size_t    len;
    static const u_char  alert[] = { 0x15, 3, 3, 0, 2, 2, 40 };
    static const u_char  v4[] = { 0x16, 4, 0, 0, 1, 1 };
    static const u_char  empty_proto[] = { 0, 3, 0, 'x', 'y' };
    static const u_char  empty_list[] = { 0, 0 };
    static const u_char  not_dns[] = { 0, 6, 1, 0, 3, 'a', 'b', 'c' };
    static const u_char  long_name[] = { 0, 6, 0, 0, 9, 'a', 'b', 'c' };

    r = parse(alert, sizeof(alert));
    ck_assert_int_eq(r.rc, SL_DECLINED);
    ck_assert_str_eq(r.reason, "not a handshake");
    ck_assert_str_eq(parse(v4, sizeof(v4)).reason, "unsupported SSL version");

    e.n = 0;
    len = hello(in, &e, 1, 16384);
    in[5] = 2;                                      /* a ServerHello */
    ck_assert_str_eq(parse(in, len).reason, "not a client hello");

    e.n = 0;
    ext(&e, 16, empty_proto, sizeof(empty_proto));
    len = hello(in, &e, 1, 16384);
    ck_assert_str_eq(parse(in, len).reason, "ALPN empty protocol");

    e.n = 0;
    ext(&e, 16, empty_list, sizeof(empty_list));
    len = hello(in, &e, 1, 16384);
    ck_assert_int_eq(parse(in, len).rc, SL_DECLINED);

    e.n = 0;
    ext(&e, 0, not_dns, sizeof(not_dns));
    len = hello(in, &e, 1, 16384);
    ck_assert_str_eq(parse(in, len).reason, "SNI hostname type is not DNS");

    e.n = 0;
    ext(&e, 0, long_name, sizeof(long_name));
    len = hello(in, &e, 1, 16384);
    ck_assert_str_eq(parse(in, len).reason, "SNI format error");

    /* an extension longer than the message */
    e.n = 0;
    ext(&e, 0, b, sni_body(b, "a.test"));
    len = hello(in, &e, 1, 16384);
    in[len - sni_body(b, "a.test") - 1] += 1;
    ck_assert_int_eq(parse(in, len).rc, SL_DECLINED);

    /* an SNI list shorter than its extension */
    e.n = 0;
    len = sni_body(b, "a.test");
    b[1] -= 1;
    ext(&e, 0, b, len);
    len = hello(in, &e, 1, 16384);
    ck_assert_str_eq(parse(in, len).reason, "extension format error");
}
END_TEST

/* a hello cut short is "more", never an answer */
START_TEST(test_prefixes)
{
    u_char    in[MAX], b[300];
    bytes_t   e = { .n = 0 };
    size_t    len, i;
    result_t  r;

    ext(&e, 0, b, sni_body(b, "a.test"));
    ext(&e, 16, alpn2, sizeof(alpn2));
    len = hello(in, &e, 1, 50);

    for (i = 0; i < len; i++) {
        run(in, i, 0, i, &r);
        ck_assert_int_eq(r.rc, SL_AGAIN);
    }
}
END_TEST

static Suite *
ssl_preread_parser_suite(void)
{
    Suite  *s = suite_create("ssl_preread_parser");
    TCase  *tc = tcase_create("parse");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_sni_alpn_versions);
    tcase_add_test(tc, test_first_wins);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_sslv2);
    tcase_add_test(tc, test_sslv2_not_later);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_prefixes);
    return s;
}

SL_TEST_MAIN(ssl_preread_parser_suite)
