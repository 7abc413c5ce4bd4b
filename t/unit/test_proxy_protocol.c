/*
 * test_proxy_protocol.c -- the PROXY protocol parser and writers on plain
 * bytes: a table of valid headers (what each says, how long it is), a
 * table of malformed ones (each rejected with a reason, none read past
 * its input: run it under ASan), every prefix of a valid header asking
 * for more, the writers' headers read back by the parser, and the TLVs
 * found by the names of $proxy_protocol_tlv_*.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_proxy_protocol.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define SIG  "\r\n\r\n\0\r\nQUIT\n"

typedef struct {
    const char  *name;
    const char  *bytes;
    size_t       len;           /* of bytes */
    ssize_t      header;        /* the expected header length */
    int          family;
    const char  *src;
    const char  *dst;
    int          sport;
    int          dport;
    int          version;
} valid_t;

#define V(name, lit, header, family, src, dst, sport, dport, version)        \
    { name, lit, sizeof(lit) - 1, header, family, src, dst, sport, dport,    \
      version }

/* each with bytes after the header: they are not its business */
static const valid_t  valid[] = {
    V("v1 tcp4", "PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET",
      43, AF_INET, "192.168.0.1", "10.0.0.2", 56324, 443, 1),
    V("v1 tcp4 ports 0 and 65535", "PROXY TCP4 0.0.0.0 255.255.255.255 0 "
      "65535\r\n", 44, AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535, 1),
    V("v1 tcp6", "PROXY TCP6 2001:DB8::1 ::1 1 2\r\nx", 32, AF_INET6,
      "2001:db8::1", "::1", 1, 2, 1),
    V("v1 tcp6 v4-mapped", "PROXY TCP6 ::ffff:1.2.3.4 ::1 80 81\r\n", 37,
      AF_INET6, "::ffff:1.2.3.4", "::1", 80, 81, 1),
    V("v1 unknown", "PROXY UNKNOWN\r\nabc", 15, AF_UNSPEC, "", "", 0, 0, 1),
    V("v1 unknown with fields", "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n",
      39, AF_UNSPEC, "", "", 0, 0, 1),
    V("v1 longest", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 104,
      AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535, 1),
    V("v1 unknown, 107 bytes",
      "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", 107,
      AF_UNSPEC, "", "", 0, 0, 1),
    V("v2 inet stream", SIG "\x21\x11\x00\x0c" "\x7f\x00\x00\x01"
      "\x0a\x01\x02\x03" "\x30\x39" "\x01\xbb" "data", 28, AF_INET,
      "127.0.0.1", "10.1.2.3", 12345, 443, 2),
    V("v2 inet dgram", SIG "\x21\x12\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02", 28, AF_INET, "1.2.3.4",
      "5.6.7.8", 1, 2, 2),
    V("v2 inet with TLVs", SIG "\x21\x11\x00\x18" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02" "\x02\x00\x03" "abc"
      "\x04\x00\x00" "\xee\x00\x00", 40, AF_INET, "1.2.3.4", "5.6.7.8", 1,
      2, 2),
    V("v2 inet6", SIG "\x21\x21\x00\x24"
      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
      "\xff\xff" "\x00\x50", 52, AF_INET6, "2001:db8::1", "::1", 65535, 80,
      2),
    V("v2 local", SIG "\x20\x00\x00\x00" "x", 16, AF_UNSPEC, "", "", 0, 0,
      2),
    V("v2 local ignores the rest", SIG "\x20\x77\x00\x03" "abc", 19,
      AF_UNSPEC, "", "", 0, 0, 2),
    V("v2 unspec", SIG "\x21\x00\x00\x00", 16, AF_UNSPEC, "", "", 0, 0, 2),
};

typedef struct {
    const char  *name;
    const char  *bytes;
    size_t       len;
} bad_t;

#define B(name, lit)  { name, lit, sizeof(lit) - 1 }

static const bad_t  bad[] = {
    B("http", "GET / HTTP/1.1\r\n"),
    B("lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    B("no space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    B("just PROXY", "PROXY\r\n"),
    B("PROXY space", "PROXY \r\n"),
    B("LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
    B("CR inside", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"),
    B("NUL inside", "PROXY TCP4 1.2.3.4\0005.6.7.8 1 2\r\n"),
    B("two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"),
    B("trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"),
    B("tab", "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"),
    B("unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    B("tcp4 with ipv6", "PROXY TCP4 ::1 ::1 1 2\r\n"),
    B("tcp6 with ipv4", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"),
    B("short ipv4", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"),
    B("ipv4 octet", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"),
    B("hostname", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n"),
    B("too few fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
    B("too many fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"),
    B("no fields", "PROXY TCP4\r\n"),
    B("port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
    B("port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"),
    B("port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"),
    B("port negative", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"),
    B("port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n"),
    B("port long", "PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n"),
    B("port empty", "PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n"),
    B("address too long", "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:"
      "0000:0000 ::1 1 2\r\n"),
    B("107 bytes, no LF",
      "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    B("LF at byte 108",
      "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"),
    B("v2 signature broken", "\r\n\r\n\0\r\nQUIx\n\x21\x11\x00\x00"),
    B("v2 version 1", SIG "\x11\x11\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 version 3", SIG "\x31\x11\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 command 2", SIG "\x22\x11\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 command 15", SIG "\x2f\x11\x00\x00"),
    B("v2 family 4", SIG "\x21\x41\x00\x00"),
    B("v2 transport 3", SIG "\x21\x13\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 inet, unspec transport", SIG "\x21\x10\x00\x0c"
      "\x01\x02\x03\x04" "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 unspec family, stream", SIG "\x21\x01\x00\x00"),
    B("v2 inet short", SIG "\x21\x11\x00\x0b" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00"),
    B("v2 inet6 short", SIG "\x21\x21\x00\x0c" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"),
    B("v2 unix short", SIG "\x21\x31\x00\x24"
      "0123456789012345678901234567890123456789"),
    B("v2 too large", SIG "\x21\x11\x0f\xf1"),
    B("v2 largest length", SIG "\x21\x11\xff\xff"),
    B("v2 TLV cut in its header", SIG "\x21\x11\x00\x0e" "\x01\x02\x03\x04"
      "\x05\x06\x07\x08" "\x00\x01" "\x00\x02" "\x01\x00"),
    B("v2 TLV longer than the rest", SIG "\x21\x11\x00\x10"
      "\x01\x02\x03\x04" "\x05\x06\x07\x08" "\x00\x01" "\x00\x02"
      "\x01\x00\x02" "a"),
    B("CRLF CRLF CR", "\r\n\r\n\r"),
    B("NUL", "\0"),
};

START_TEST(test_pp_valid)
{
    const valid_t        *v = &valid[_i];
    sl_proxy_protocol_t   pp;
    const char           *err;
    u_char               *copy;
    ssize_t               n;

    /* an exact-size copy: ASan sees a read past the end */
    copy = malloc(v->len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, v->bytes, v->len);

    n = sl_proxy_protocol_parse(copy, v->len, &pp, &err);

    ck_assert_msg(n == v->header, "%s: %zd (%s), expected %zd", v->name, n,
                  err ? err : "-", v->header);
    ck_assert_int_eq(pp.version, v->version);
    ck_assert_int_eq(pp.family, v->family);

    if (v->family == AF_INET || v->family == AF_INET6) {
        ck_assert_str_eq((char *) pp.src_addr, v->src);
        ck_assert_str_eq((char *) pp.dst_addr, v->dst);
        ck_assert_uint_eq(pp.src_addr_len, strlen(v->src));
        ck_assert_uint_eq(pp.dst_addr_len, strlen(v->dst));
        ck_assert_int_eq(pp.src_port, v->sport);
        ck_assert_int_eq(pp.dst_port, v->dport);
    }

    free(copy);
}
END_TEST

/* every proper prefix of a valid header asks for more, reading no further */
START_TEST(test_pp_prefixes)
{
    const valid_t        *v = &valid[_i];
    sl_proxy_protocol_t   pp;
    const char           *err;
    u_char               *copy;
    size_t                len;
    ssize_t               n;

    for (len = 0; len < (size_t) v->header; len++) {
        copy = malloc(len + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, v->bytes, len);

        n = sl_proxy_protocol_parse(copy, len, &pp, &err);
        ck_assert_msg(n == SL_AGAIN, "%s: %zu of %zd bytes: %zd (%s)",
                      v->name, len, v->header, n, err ? err : "-");
        free(copy);
    }
}
END_TEST

START_TEST(test_pp_malformed)
{
    const bad_t          *b = &bad[_i];
    sl_proxy_protocol_t   pp;
    const char           *err;
    u_char               *copy;
    size_t                len;
    ssize_t               n;

    copy = malloc(b->len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, b->bytes, b->len);

    n = sl_proxy_protocol_parse(copy, b->len, &pp, &err);
    ck_assert_msg(n == SL_ERROR && err != NULL, "%s: %zd, not rejected",
                  b->name, n);
    free(copy);

    /* no prefix of it is a header either: more is wanted, or it is wrong */
    for (len = 0; len < b->len; len++) {
        copy = malloc(len + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, b->bytes, len);

        n = sl_proxy_protocol_parse(copy, len, &pp, &err);
        ck_assert_msg(n == SL_AGAIN || n == SL_ERROR, "%s: %zu bytes: %zd",
                      b->name, len, n);
        free(copy);
    }
}
END_TEST

/* random bytes behind each valid signature start: never a crash */
START_TEST(test_pp_noise)
{
    sl_proxy_protocol_t   pp;
    const char           *err;
    u_char                buf[600];
    unsigned              seed = 12345;
    size_t                len, i;
    ssize_t               n;
    int                   round;

    for (round = 0; round < 20000; round++) {
        len = (size_t) (rand_r(&seed) % sizeof(buf));

        for (i = 0; i < len; i++) {
            buf[i] = (u_char) rand_r(&seed);
        }

        if (len >= 16 && round % 2) {
            memcpy(buf, SIG, 12);
            buf[12] = (u_char) (0x20 | (rand_r(&seed) % 2));
            buf[14] = 0;
            buf[15] = (u_char) (rand_r(&seed) % (len - 15));
        } else if (len >= 6) {
            memcpy(buf, "PROXY ", 6);
        }

        n = sl_proxy_protocol_parse(buf, len, &pp, &err);
        ck_assert(n == SL_AGAIN || n == SL_ERROR
                  || (n > 0 && (size_t) n <= len));
    }
}
END_TEST

static void
sin_of(struct sockaddr_in *sin, const char *addr, int port)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
}

static void
sin6_of(struct sockaddr_in6 *sin6, const char *addr, int port)
{
    memset(sin6, 0, sizeof(*sin6));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t) port);
    ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
}

/* write, parse back: the same addresses, the whole header */
static void
round_trip(struct sockaddr *src, struct sockaddr *dst, sl_uint_t version,
    int family, const char *saddr, const char *daddr, int sport, int dport,
    const char *v1_text)
{
    sl_proxy_protocol_t   pp;
    const char           *err;
    u_char                buf[SL_PROXY_PROTOCOL_MAX_WRITE], *end;
    ssize_t               n;

    end = sl_proxy_protocol_write_addrs(buf, buf + sizeof(buf), src, dst,
                                        version);
    ck_assert_ptr_nonnull(end);

    if (v1_text != NULL) {
        ck_assert_int_eq(end - buf, (ssize_t) strlen(v1_text));
        ck_assert(memcmp(buf, v1_text, strlen(v1_text)) == 0);
    }

    n = sl_proxy_protocol_parse(buf, (size_t) (end - buf), &pp, &err);
    ck_assert_msg(n == end - buf, "v%lu: parsed %zd of %td (%s)",
                  (unsigned long) version, n, end - buf, err ? err : "-");
    ck_assert_uint_eq(pp.version, version);
    ck_assert_int_eq(pp.family, family);

    if (saddr != NULL) {
        ck_assert_str_eq((char *) pp.src_addr, saddr);
        ck_assert_str_eq((char *) pp.dst_addr, daddr);
        ck_assert_int_eq(pp.src_port, sport);
        ck_assert_int_eq(pp.dst_port, dport);
    }

    /* one byte short: it does not fit */
    ck_assert_ptr_null(sl_proxy_protocol_write_addrs(buf,
        buf + (end - buf) - 1, src, dst, version));
}

START_TEST(test_pp_round_trip)
{
    struct sockaddr_in    a4, b4;
    struct sockaddr_in6   a6, b6;
    struct sockaddr_un    u1, u2;

    sin_of(&a4, "192.0.2.1", 40000);
    sin_of(&b4, "198.51.100.7", 443);
    sin6_of(&a6, "2001:db8::5", 1);
    sin6_of(&b6, "::1", 65535);

    memset(&u1, 0, sizeof(u1));
    u1.sun_family = AF_UNIX;
    strcpy(u1.sun_path, "/run/a.sock");
    u2 = u1;
    strcpy(u2.sun_path, "/run/b.sock");

    round_trip((struct sockaddr *) &a4, (struct sockaddr *) &b4, 1, AF_INET,
               "192.0.2.1", "198.51.100.7", 40000, 443,
               "PROXY TCP4 192.0.2.1 198.51.100.7 40000 443\r\n");
    round_trip((struct sockaddr *) &a4, (struct sockaddr *) &b4, 2, AF_INET,
               "192.0.2.1", "198.51.100.7", 40000, 443, NULL);
    round_trip((struct sockaddr *) &a6, (struct sockaddr *) &b6, 1,
               AF_INET6, "2001:db8::5", "::1", 1, 65535,
               "PROXY TCP6 2001:db8::5 ::1 1 65535\r\n");
    round_trip((struct sockaddr *) &a6, (struct sockaddr *) &b6, 2,
               AF_INET6, "2001:db8::5", "::1", 1, 65535, NULL);

    /* mixed families, and unix: UNKNOWN in v1 */
    round_trip((struct sockaddr *) &a4, (struct sockaddr *) &b6, 1,
               AF_UNSPEC, NULL, NULL, 0, 0, "PROXY UNKNOWN\r\n");
    round_trip((struct sockaddr *) &a4, (struct sockaddr *) &b6, 2,
               AF_UNSPEC, NULL, NULL, 0, 0, NULL);
    round_trip((struct sockaddr *) &u1, (struct sockaddr *) &u2, 1,
               AF_UNSPEC, NULL, NULL, 0, 0, "PROXY UNKNOWN\r\n");
    round_trip((struct sockaddr *) &u1, (struct sockaddr *) &u2, 2,
               AF_UNIX, NULL, NULL, 0, 0, NULL);
}
END_TEST

/* v2 as bytes: exactly what the specification lays out */
START_TEST(test_pp_write_v2_bytes)
{
    struct sockaddr_in   a4, b4;
    u_char               buf[64], *end;
    static const u_char  want[] = SIG "\x21\x11\x00\x0c" "\x7f\x00\x00\x01"
                                  "\x0a\x00\x00\x02" "\x30\x39" "\x01\xbb";

    sin_of(&a4, "127.0.0.1", 12345);
    sin_of(&b4, "10.0.0.2", 443);

    end = sl_proxy_protocol_write_addrs(buf, buf + sizeof(buf),
                                        (struct sockaddr *) &a4,
                                        (struct sockaddr *) &b4, 2);
    ck_assert_ptr_nonnull(end);
    ck_assert_int_eq(end - buf, (ssize_t) sizeof(want) - 1);
    ck_assert(memcmp(buf, want, sizeof(want) - 1) == 0);
}
END_TEST

/* an IPv4 v2 header whose TLVs are tlvs (n bytes), parsed into pp */
static void
parse_with_tlvs(sl_proxy_protocol_t *pp, u_char *buf, const char *tlvs,
    size_t n)
{
    static const char  head[] = SIG "\x21\x11" "\x00\x00" "\x0a\x00\x00\x01"
                                "\x0a\x00\x00\x02" "\x30\x39" "\x01\xbb";
    const char        *err;
    size_t             hlen = sizeof(head) - 1;

    memcpy(buf, head, hlen);
    memcpy(buf + hlen, tlvs, n);
    buf[14] = (u_char) ((12 + n) >> 8);
    buf[15] = (u_char) ((12 + n) & 0xff);

    ck_assert_int_eq(sl_proxy_protocol_parse(buf, hlen + n, pp, &err),
                     (ssize_t) (hlen + n));
    ck_assert_uint_eq(pp->tlvs_len, n);
}

/* rc, and when SL_OK the value, for the variable's name */
static void
assert_tlv(sl_proxy_protocol_t *pp, const char *name, sl_int_t rc,
    const char *value, const char *why)
{
    sl_str_t     n, v;
    u_char       verify[SL_PROXY_PROTOCOL_VERIFY_LEN];
    const char  *err;

    n.data = (u_char *) name;
    n.len = strlen(name);

    ck_assert_msg(sl_proxy_protocol_get_tlv(pp, &n, &v, verify, &err) == rc,
                  "%s: wrong result", name);

    if (rc == SL_OK) {
        ck_assert_msg(v.len == strlen(value)
                      && memcmp(v.data, value, v.len) == 0,
                      "%s: \"%.*s\", not \"%s\"", name, (int) v.len, v.data,
                      value);
    } else if (rc == SL_ERROR) {
        ck_assert_str_eq(err, why);
    }
}

/* the names nginx gives, hexadecimal types, and the SSL TLV's inside */
START_TEST(test_pp_tlv_names)
{
    sl_proxy_protocol_t  pp;
    u_char               buf[256];
    static const char    tlvs[] =
        "\x02\x00\x0b" "example.com"            /* authority */
        "\x05\x00\x03" "id7"                    /* unique_id */
        "\x20\x00\x18" "\x07" "\x00\x01\x00\x02" /* ssl: client, verify */
            "\x21\x00\x07" "TLSv1.3"            /* version */
            "\x22\x00\x03" "bob"                /* cn */
            "\xe1\x00\x00"                      /* an empty one of ours */
        "\xe0\x00\x02" "hi";                    /* a custom type */

    parse_with_tlvs(&pp, buf, tlvs, sizeof(tlvs) - 1);

    assert_tlv(&pp, "authority", SL_OK, "example.com", NULL);
    assert_tlv(&pp, "0x02", SL_OK, "example.com", NULL);
    assert_tlv(&pp, "unique_id", SL_OK, "id7", NULL);
    assert_tlv(&pp, "0xe0", SL_OK, "hi", NULL);
    assert_tlv(&pp, "0xE0", SL_OK, "hi", NULL);
    assert_tlv(&pp, "ssl_version", SL_OK, "TLSv1.3", NULL);
    assert_tlv(&pp, "ssl_cn", SL_OK, "bob", NULL);
    assert_tlv(&pp, "ssl_0x21", SL_OK, "TLSv1.3", NULL);
    assert_tlv(&pp, "ssl_0xe1", SL_OK, "", NULL);
    assert_tlv(&pp, "ssl_verify", SL_OK, "65538", NULL);
    assert_tlv(&pp, "alpn", SL_DECLINED, NULL, NULL);
    assert_tlv(&pp, "ssl_cipher", SL_DECLINED, NULL, NULL);
    assert_tlv(&pp, "0x01", SL_DECLINED, NULL, NULL);
    assert_tlv(&pp, "nosuch", SL_ERROR, NULL, "unknown PROXY protocol TLV");
    assert_tlv(&pp, "ssl_authority", SL_ERROR, NULL,
               "unknown PROXY protocol TLV");
    assert_tlv(&pp, "0xzz", SL_ERROR, NULL, "invalid PROXY protocol TLV");
    assert_tlv(&pp, "0x100", SL_ERROR, NULL, "invalid PROXY protocol TLV");
}
END_TEST

/* an SSL TLV too short for its fixed part, or with broken insides */
START_TEST(test_pp_tlv_broken_ssl)
{
    sl_proxy_protocol_t  pp;
    u_char               buf[256];

    parse_with_tlvs(&pp, buf, "\x20\x00\x02" "\x01\x02", 5);
    assert_tlv(&pp, "ssl_verify", SL_ERROR, NULL,
               "broken PROXY protocol TLV");
    assert_tlv(&pp, "ssl", SL_OK, "\x01\x02", NULL);

    /* a sub-TLV claiming more than the SSL TLV holds */
    parse_with_tlvs(&pp, buf, "\x20\x00\x08" "\x01\x00\x00\x00\x00"
                    "\x22\x00\x09", 11);
    assert_tlv(&pp, "ssl_cn", SL_ERROR, NULL, "broken PROXY protocol TLV");
    assert_tlv(&pp, "ssl_verify", SL_OK, "0", NULL);

    /* no TLVs at all: nothing is found, nothing is an error */
    parse_with_tlvs(&pp, buf, "", 0);
    assert_tlv(&pp, "authority", SL_DECLINED, NULL, NULL);
    assert_tlv(&pp, "ssl_cn", SL_DECLINED, NULL, NULL);
}
END_TEST

static Suite *
proxy_protocol_suite(void)
{
    Suite  *s = suite_create("proxy_protocol");
    TCase  *tc = tcase_create("parse");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_pp_valid, 0, (int) sl_nelems(valid));
    tcase_add_loop_test(tc, test_pp_prefixes, 0, (int) sl_nelems(valid));
    tcase_add_loop_test(tc, test_pp_malformed, 0, (int) sl_nelems(bad));
    tcase_add_test(tc, test_pp_noise);
    tcase_add_test(tc, test_pp_round_trip);
    tcase_add_test(tc, test_pp_write_v2_bytes);
    tcase_add_test(tc, test_pp_tlv_names);
    tcase_add_test(tc, test_pp_tlv_broken_ssl);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(proxy_protocol_suite)
