/*
 * test_string.c -- the bounded printer, the string helpers and the
 * decimal/hexadecimal converters of sl_string.h.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <inttypes.h>

#include "sl_test.h"


#define GUARD     0xa5
#define BUF_LEN   256
#define BUF_ROOM  (BUF_LEN + 16)   /* guard bytes after the largest last */


/*
 * Prints into a buffer filled with guard bytes, using `max` as its size,
 * and checks the output and that nothing at or after it was touched.
 */
static void
check_vfmt(const char *want, size_t max, const char *fmt, va_list args)
{
    u_char  buf[BUF_ROOM], *p;
    size_t  i, n;

    memset(buf, GUARD, sizeof(buf));

    p = sl_vslprintf(buf, buf + max, fmt, args);

    n = (size_t) (p - buf);

    ck_assert_msg(p >= buf && n <= max, "\"%s\": ran past last", fmt);
    ck_assert_msg(n == strlen(want) && memcmp(buf, want, n) == 0,
                  "\"%s\": got \"%.*s\", want \"%s\"",
                  fmt, (int) n, buf, want);

    /* one assertion for all of them: each one costs a message to Check */
    for (i = n; i < sizeof(buf) && buf[i] == GUARD; i++) { /* void */ }

    ck_assert_msg(i == sizeof(buf), "\"%s\": byte %zu touched", fmt, i);
}


static void
expect_fmt(const char *want, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    check_vfmt(want, BUF_LEN, fmt, args);
    va_end(args);
}


/* the output with room for only `max` bytes: a prefix of the full one */
static void
expect_trunc(const char *full, size_t max, const char *fmt, ...)
{
    char     want[BUF_LEN];
    size_t   n;
    va_list  args;

    n = sl_min(strlen(full), max);
    memcpy(want, full, n);
    want[n] = '\0';

    va_start(args, fmt);
    check_vfmt(want, max, fmt, args);
    va_end(args);
}


/* the same conversion through our printer and the C library's */
#define CHECK_C(slfmt, cfmt, type, v)                                         \
    do {                                                                      \
        char  want_[128];                                                     \
        snprintf(want_, sizeof(want_), cfmt, (type) (v));                     \
        expect_fmt(want_, slfmt, (type) (v));                                 \
    } while (0)

/* decimal, unsigned, both hex cases, zero-padded and space-padded */
#define CHECK_INT_FAMILY(conv, stype, utype, sfmt, ufmt, xfmt, Xfmt, v)       \
    do {                                                                      \
        CHECK_C("%" conv, "%" sfmt, stype, v);                                \
        CHECK_C("%u" conv, "%" ufmt, utype, v);                               \
        CHECK_C("%x" conv, "%" xfmt, utype, v);                               \
        CHECK_C("%X" conv, "%" Xfmt, utype, v);                               \
        CHECK_C("%024" conv, "%024" sfmt, stype, v);                          \
        CHECK_C("%24" conv, "%24" sfmt, stype, v);                            \
        CHECK_C("%3" conv, "%3" sfmt, stype, v);                              \
        CHECK_C("%024u" conv, "%024" ufmt, utype, v);                         \
        CHECK_C("%018x" conv, "%018" xfmt, utype, v);                         \
        CHECK_C("%18X" conv, "%18" Xfmt, utype, v);                           \
    } while (0)


static const int64_t  values[] = {
    INT64_MIN, INT64_MIN + 1, -4294967297LL, -4294967296LL, -2147483649LL,
    INT32_MIN, INT32_MIN + 1, -65536, -100, -10, -9, -1, 0, 1, 7, 9, 10, 15,
    16, 99, 100, 255, 256, 65535, 1000000, INT32_MAX, 2147483648LL,
    4294967295LL, 4294967296LL, 999999999999LL, 1000000000000000000LL,
    INT64_MAX - 1, INT64_MAX
};


START_TEST(test_fmt_int)
{
    size_t   i;
    int64_t  v;

    for (i = 0; i < sl_nelems(values); i++) {
        v = values[i];

        if (v >= INT_MIN && v <= INT_MAX) {
            CHECK_INT_FAMILY("d", int, unsigned int, "d", "u", "x", "X", v);
            CHECK_INT_FAMILY("D", int32_t, uint32_t, PRId32, PRIu32,
                             PRIx32, PRIX32, v);
        }

        CHECK_INT_FAMILY("l", long, unsigned long, "ld", "lu", "lx", "lX", v);
        CHECK_INT_FAMILY("i", sl_int_t, sl_uint_t, PRIdPTR, PRIuPTR,
                         PRIxPTR, PRIXPTR, v);
        CHECK_INT_FAMILY("L", int64_t, uint64_t, PRId64, PRIu64,
                         PRIx64, PRIX64, v);
        CHECK_INT_FAMILY("z", ssize_t, size_t, "zd", "zu", "zx", "zX", v);

        CHECK_C("%O", "%jd", intmax_t, (off_t) v);
        CHECK_C("%020O", "%020jd", intmax_t, (off_t) v);
        CHECK_C("%xO", "%jx", uintmax_t, (off_t) v);
        CHECK_C("%XO", "%jX", uintmax_t, (off_t) v);
        CHECK_C("%T", "%jd", intmax_t, (time_t) v);
        CHECK_C("%08T", "%08jd", intmax_t, (time_t) v);
        CHECK_C("%M", "%ju", uintmax_t, (sl_msec_t) v);
        CHECK_C("%012M", "%012ju", uintmax_t, (sl_msec_t) v);
    }
}
END_TEST


START_TEST(test_fmt_int_boundaries)
{
    expect_fmt("-9223372036854775808", "%L", INT64_MIN);
    expect_fmt("9223372036854775807", "%L", INT64_MAX);
    expect_fmt("18446744073709551615", "%uL", UINT64_MAX);
    expect_fmt("ffffffffffffffff", "%xL", UINT64_MAX);
    expect_fmt("FFFFFFFFFFFFFFFF", "%XL", UINT64_MAX);
    expect_fmt("8000000000000000", "%xL", INT64_MIN);
    expect_fmt("-9223372036854775808", "%O", (off_t) INT64_MIN);
    expect_fmt("-9223372036854775808", "%T", (time_t) INT64_MIN);
    expect_fmt("18446744073709551615", "%M", (sl_msec_t) -1);
    expect_fmt("-2147483648", "%d", INT_MIN);
    expect_fmt("4294967295", "%ud", UINT_MAX);
    expect_fmt("ffffffff", "%xd", -1);         /* the bits of an int */
    expect_fmt("ffffffff", "%xD", (int32_t) -1);
    expect_fmt("-0042", "%05d", -42);           /* sign before the zeros */
    expect_fmt("  -42", "%5d", -42);
    expect_fmt("0", "%d", 0);
    expect_fmt("0", "%xd", 0);
    expect_fmt("00000", "%05d", 0);
    expect_fmt("123456", "%2d", 123456);        /* width is a minimum */
    expect_fmt("00ff", "%04xd", 255);
    expect_fmt("00FF", "%04Xd", 255);
    expect_fmt("  ff", "%4xd", 255);
    expect_fmt("1 2 3", "%d %l %L", 1, 2L, (int64_t) 3);
}
END_TEST


static const double  doubles[] = {
    0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 3.5, 0.125, 0.375, 3.14159265358979,
    -2.718281828459045, 123456.789, 1e-7, 0.999999, 0.9999995, 9.9999999,
    99.99, 0.1, 0.2, 0.3, 1e15 + 0.3, 4294967296.75, 1234567890123.0,
    1e19, 18446744073709549568.0, -0.001, -0.0049, 65535.99999
};

static const char  *dfmts[][2] = {
    { "%f", "%f" },
    { "%.0f", "%.0f" },
    { "%.1f", "%.1f" },
    { "%.2f", "%.2f" },
    { "%.3f", "%.3f" },
    { "%.9f", "%.9f" },
    { "%12.3f", "%12.3f" },
    { "%012.3f", "%012.3f" },
    { "%030.2f", "%030.2f" },
    { "%3.1f", "%3.1f" },
};


START_TEST(test_fmt_double)
{
    size_t  i, j;
    char    want[128];

    for (i = 0; i < sl_nelems(doubles); i++) {
        for (j = 0; j < sl_nelems(dfmts); j++) {
            snprintf(want, sizeof(want), dfmts[j][1], doubles[i]);
            expect_fmt(want, dfmts[j][0], doubles[i]);
        }
    }

    expect_fmt("0.00097656250000000000", "%.20f", 1.0 / 1024);
    expect_fmt("0.37500000000000000000", "%.20f", 0.375);
    expect_fmt("1.00000000000000000000", "%.25f", 1.0);   /* at most 20 */
    expect_fmt("1.000000", "%f", 1.0);                     /* default 6 */
    expect_fmt("100000000000000000000", "%.0f", 1e20);
    expect_fmt("-100000000000000000000.00", "%.2f", -1e20);
    expect_fmt("   100000000000000000000", "%24.0f", 1e20);
    expect_fmt("0100000000000000000000", "%022.0f", 1e20);
    expect_fmt("inf", "%f", 1.0 / 0.0);
    expect_fmt("-inf", "%f", -1.0 / 0.0);
    expect_fmt("  nan", "%05f", 0.0 / 0.0);
    expect_fmt("x1.50y", "x%.2fy", 1.5);
}
END_TEST


START_TEST(test_fmt_huge_double)
{
    u_char  buf[512], *p;

    /* beyond 2^64 the digits are approximate, the magnitude is not */
    p = sl_snprintf(buf, sizeof(buf), "%.0f", 1e300);
    ck_assert_uint_eq(p - buf, 301);
    ck_assert_int_eq(buf[0], '1');

    p = sl_snprintf(buf, sizeof(buf), "%.3f", -1.7976931348623157e308);
    ck_assert_uint_eq(p - buf, 1 + 309 + 4);
    ck_assert(memcmp(buf, "-17976931348623", 15) == 0);
    ck_assert(memcmp(p - 4, ".000", 4) == 0);
}
END_TEST


START_TEST(test_fmt_pointer)
{
    char   want[64];
    int    x;
    void  *ptr;

    ptr = &x;
    snprintf(want, sizeof(want), "%p", ptr);
    expect_fmt(want, "%p", ptr);

    expect_fmt("0x0", "%p", NULL);
    expect_fmt("0xdeadbeef", "%p", (void *) (uintptr_t) 0xdeadbeef);
    expect_fmt("0x00000000000000ff", "%016p", (void *) (uintptr_t) 0xff);
}
END_TEST


START_TEST(test_fmt_strings)
{
    sl_str_t  s = sl_string("counted");
    sl_str_t  empty = sl_null_string;
    u_char    bin[] = { 'a', '\0', 'b' };
    u_char    buf[16], *p;

    expect_fmt("[counted]", "[%V]", &s);
    expect_fmt("[]", "[%V]", &empty);
    expect_fmt("[plain]", "[%s]", "plain");
    expect_fmt("[bytes]", "[%s]", (u_char *) "bytes");
    expect_fmt("[]", "[%s]", "");
    expect_fmt("[(null)]", "[%s]", (char *) NULL);
    expect_fmt("[sta]", "[%*s]", (size_t) 3, "stars");
    expect_fmt("[]", "[%*s]", (size_t) 0, "stars");
    expect_fmt("[x]", "[%c]", 'x');
    expect_fmt("[\n]", "[%N]");
    expect_fmt("[100%]", "[%d%%]", 100);
    expect_fmt("%", "%%");

    /* %Z writes a NUL; so can %*s */
    p = sl_snprintf(buf, sizeof(buf), "ab%Zcd");
    ck_assert_uint_eq(p - buf, 5);
    ck_assert(memcmp(buf, "ab\0cd", 5) == 0);

    p = sl_snprintf(buf, sizeof(buf), "%*s", sizeof(bin), bin);
    ck_assert_uint_eq(p - buf, 3);
    ck_assert(memcmp(buf, bin, 3) == 0);

    p = sl_snprintf(buf, sizeof(buf), "%c", 0x1ff);     /* one byte */
    ck_assert_uint_eq(p - buf, 1);
    ck_assert_uint_eq(buf[0], 0xff);
}
END_TEST


START_TEST(test_fmt_unknown)
{
    expect_fmt("%q", "%q");
    expect_fmt("a%qb", "a%qb");
    expect_fmt("%05q 7", "%05q %d", 7);      /* no argument is consumed */
    expect_fmt("%uy", "%uy");
    expect_fmt("%.3w", "%.3w");
    expect_fmt("end %", "end %");            /* a lone % at the end */
    expect_fmt("end %08", "end %08");
    expect_fmt("%-5d", "%-5d", 1);           /* '-' is no flag of ours */
    expect_fmt("", "");
}
END_TEST


START_TEST(test_fmt_truncation)
{
    size_t  max;

    /* every room from nothing to more than enough, through every writer */
    for (max = 0; max <= 40; max++) {
        expect_trunc("-9223372036854775808", max, "%L", INT64_MIN);
        expect_trunc("18446744073709551615", max, "%uL", UINT64_MAX);
        expect_trunc("-000000000000042", max, "%016L", (int64_t) -42);
        expect_trunc("              -42", max, "%17d", -42);
        expect_trunc("0000ABCDEF", max, "%010Xd", 0xabcdef);
        expect_trunc("-3.14159", max, "%.5f", -3.14159);
        expect_trunc("  -3.14", max, "%7.2f", -3.14159);
        expect_trunc("100000000000000000000.00", max, "%.2f", 1e20);
        expect_trunc("0x1234abcd", max, "%p", (void *) (uintptr_t) 0x1234abcd);
        expect_trunc("key: value here", max, "%s: %V", "key",
                     &(sl_str_t) sl_string("value here"));
        expect_trunc("abc\n%", max, "%*s%N%%", (size_t) 3, "abcdef");
        expect_trunc("x%qy", max, "x%qy");
        expect_trunc("c", max, "%c", 'c');
    }

    /* %Z: "ab\0" cut at every room; the NUL is output like any byte */
    for (max = 0; max <= 4; max++) {
        u_char  buf[8], *p;

        memset(buf, GUARD, sizeof(buf));
        p = sl_snprintf(buf, max, "ab%Z");

        ck_assert_uint_eq((size_t) (p - buf), sl_min(max, 3));
        ck_assert(memcmp(buf, "ab", sl_min(max, 2)) == 0);
        ck_assert_uint_eq(buf[sl_min(max, 3)], GUARD);
    }
}
END_TEST


START_TEST(test_fmt_slprintf)
{
    u_char   buf[32], *p;

    memset(buf, GUARD, sizeof(buf));

    p = sl_slprintf(buf, buf + 4, "%d-%d", 12, 34);
    ck_assert_ptr_eq(p, buf + 4);
    ck_assert(memcmp(buf, "12-3", 4) == 0);
    ck_assert_uint_eq(buf[4], GUARD);

    /* last == buf: nothing at all */
    p = sl_slprintf(buf, buf, "%s", "anything");
    ck_assert_ptr_eq(p, buf);
    ck_assert_uint_eq(buf[0], '1');

    p = sl_snprintf(buf, 0, "%d", 5);
    ck_assert_ptr_eq(p, buf);

    /* the printer keeps going after a long run of literal text */
    p = sl_snprintf(buf, sizeof(buf), "0123456789%d", 10);
    ck_assert_uint_eq(p - buf, 12);
    ck_assert(memcmp(buf, "012345678910", 12) == 0);
}
END_TEST


START_TEST(test_strlow_cpystrn)
{
    u_char  dst[16], *p;

    sl_strlow(dst, (u_char *) "MiXeD-09_Z@[", 12);
    ck_assert(memcmp(dst, "mixed-09_z@[", 12) == 0);

    memset(dst, GUARD, sizeof(dst));
    p = sl_cpystrn(dst, (u_char *) "hello", 16);
    ck_assert_str_eq((char *) dst, "hello");
    ck_assert_ptr_eq(p, dst + 5);
    ck_assert_uint_eq(dst[6], GUARD);

    memset(dst, GUARD, sizeof(dst));
    p = sl_cpystrn(dst, (u_char *) "hello", 4);
    ck_assert_str_eq((char *) dst, "hel");
    ck_assert_ptr_eq(p, dst + 3);
    ck_assert_uint_eq(dst[4], GUARD);

    memset(dst, GUARD, sizeof(dst));
    p = sl_cpystrn(dst, (u_char *) "hello", 1);
    ck_assert_ptr_eq(p, dst);
    ck_assert_uint_eq(dst[0], '\0');

    memset(dst, GUARD, sizeof(dst));
    p = sl_cpystrn(dst, (u_char *) "hello", 0);
    ck_assert_ptr_eq(p, dst);
    ck_assert_uint_eq(dst[0], GUARD);

    p = sl_cpystrn(dst, (u_char *) "hello", 6);     /* exactly fits */
    ck_assert_str_eq((char *) dst, "hello");
    ck_assert_ptr_eq(p, dst + 5);
}
END_TEST


START_TEST(test_pstrdup)
{
    sl_pool_t  *pool;
    sl_str_t    s = sl_string("duplicate me");
    sl_str_t    empty = { 0, (u_char *) "" };
    u_char     *p;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    p = sl_pstrdup(pool, &s);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_ne(p, s.data);
    ck_assert_str_eq((char *) p, "duplicate me");

    p = sl_pstrdup(pool, &empty);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p[0], '\0');

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_compare)
{
    sl_str_t  a = sl_string("Host"), b = sl_string("hOST"),
              c = sl_string("host"), d = sl_string("hosts"),
              e = sl_null_string, f = sl_null_string;
    u_char    nul1[] = { 'a', '\0', 'b' }, nul2[] = { 'A', '\0', 'c' };
    sl_str_t  n1 = { 3, nul1 }, n2 = { 3, nul2 };

    ck_assert_int_eq(sl_strcasecmp((u_char *) "Hello", (u_char *) "hELLO"), 0);
    ck_assert_int_lt(sl_strcasecmp((u_char *) "abc", (u_char *) "ABD"), 0);
    ck_assert_int_gt(sl_strcasecmp((u_char *) "abcd", (u_char *) "ABC"), 0);
    ck_assert_int_lt(sl_strcasecmp((u_char *) "", (u_char *) "a"), 0);
    ck_assert_int_eq(sl_strncasecmp((u_char *) "abcX", (u_char *) "ABCy", 3),
                     0);
    ck_assert_int_ne(sl_strncasecmp((u_char *) "abcX", (u_char *) "ABCy", 4),
                     0);
    ck_assert_int_eq(sl_strncasecmp((u_char *) "ab", (u_char *) "AB", 10), 0);
    ck_assert_int_eq(sl_strncasecmp((u_char *) "x", (u_char *) "y", 0), 0);

    ck_assert(sl_str_eq(&c, &c));
    ck_assert(!sl_str_eq(&a, &c));
    ck_assert(!sl_str_eq(&c, &d));
    ck_assert(sl_str_eq(&e, &f));
    ck_assert(sl_str_caseeq(&a, &b));
    ck_assert(sl_str_caseeq(&a, &c));
    ck_assert(!sl_str_caseeq(&c, &d));
    ck_assert(!sl_str_caseeq(&n1, &n2));     /* looks past the NUL */
    n2.data[2] = 'B';
    ck_assert(sl_str_caseeq(&n1, &n2));

    ck_assert(sl_str_eq_lit(&c, "host"));
    ck_assert(!sl_str_eq_lit(&c, "hos"));
}
END_TEST


/* byte strings in a tree's order: the bytes first, then the shorter */
START_TEST(test_memn2cmp)
{
    ck_assert_int_eq(sl_memn2cmp((u_char *) "abc", 3, (u_char *) "abc", 3), 0);
    ck_assert_int_lt(sl_memn2cmp((u_char *) "abc", 3, (u_char *) "abd", 3), 0);
    ck_assert_int_gt(sl_memn2cmp((u_char *) "abd", 3, (u_char *) "abc", 3), 0);
    /* a prefix sorts first, whichever side it is on */
    ck_assert_int_lt(sl_memn2cmp((u_char *) "ab", 2, (u_char *) "abc", 3), 0);
    ck_assert_int_gt(sl_memn2cmp((u_char *) "abc", 3, (u_char *) "ab", 2), 0);
    /* the bytes decide before the lengths; NULs are bytes */
    ck_assert_int_gt(sl_memn2cmp((u_char *) "b", 1, (u_char *) "abc", 3), 0);
    ck_assert_int_lt(sl_memn2cmp((u_char *) "a\0", 2, (u_char *) "a\1", 2), 0);
    ck_assert_int_eq(sl_memn2cmp((u_char *) "", 0, (u_char *) "", 0), 0);
    ck_assert_int_lt(sl_memn2cmp((u_char *) "", 0, (u_char *) "a", 1), 0);
}
END_TEST

START_TEST(test_strnstr)
{
    u_char  hay[] = "GET /index.html HTTP/1.1\r\nHost";
    size_t  len = sizeof(hay) - 1;

    ck_assert_ptr_eq(sl_strnstr(hay, len, "GET", 3), hay);
    ck_assert_ptr_eq(sl_strnstr(hay, len, "HTTP", 4), hay + 16);
    ck_assert_ptr_eq(sl_strnstr(hay, len, "\r\n", 2), hay + 24);
    ck_assert_ptr_eq(sl_strnstr(hay, len, "Host", 4), hay + 26);
    ck_assert_ptr_null(sl_strnstr(hay, len, "Hosts", 5));
    ck_assert_ptr_null(sl_strnstr(hay, len, "POST", 4));
    ck_assert_ptr_null(sl_strnstr(hay, 3, "GET ", 4));     /* beyond len */
    ck_assert_ptr_null(sl_strnstr(hay, 0, "G", 1));
    ck_assert_ptr_eq(sl_strnstr(hay, len, "", 0), hay);
}
END_TEST


START_TEST(test_strnstr_overlap)
{
    u_char  s[] = "aaab";
    u_char  t[] = "ababac";

    ck_assert_ptr_eq(sl_strnstr(s, 4, "aab", 3), s + 1);
    ck_assert_ptr_eq(sl_strnstr(t, 6, "abac", 4), t + 2);
    ck_assert_ptr_eq(sl_strnstr(t, 6, "c", 1), t + 5);
    ck_assert_ptr_null(sl_strnstr(t, 5, "c", 1));
}
END_TEST


START_TEST(test_hex_dump)
{
    u_char  src[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
    u_char  dst[16], *p;

    p = sl_hex_dump(dst, src, sizeof(src));
    ck_assert_uint_eq(p - dst, 10);
    ck_assert(memcmp(dst, "000fa5ff10", 10) == 0);

    ck_assert_ptr_eq(sl_hex_dump(dst, src, 0), dst);
}
END_TEST


typedef struct {
    const char  *in;
    int64_t      out;       /* SL_ERROR when invalid */
} conv_case_t;

static const conv_case_t  dec_cases[] = {
    { "0", 0 },
    { "7", 7 },
    { "00042", 42 },
    { "1234567890", 1234567890 },
    { "9223372036854775807", INT64_MAX },
    { "9223372036854775808", SL_ERROR },
    { "18446744073709551616", SL_ERROR },
    { "99999999999999999999", SL_ERROR },
    { "", SL_ERROR },
    { "-1", SL_ERROR },
    { "+1", SL_ERROR },
    { " 1", SL_ERROR },
    { "1 ", SL_ERROR },
    { "12a", SL_ERROR },
    { "0x10", SL_ERROR },
    { "1.5", SL_ERROR },
};

static const conv_case_t  hex_cases[] = {
    { "0", 0 },
    { "f", 15 },
    { "F", 15 },
    { "ff", 255 },
    { "DeadBeef", 0xdeadbeef },
    { "7fffffffffffffff", INT64_MAX },
    { "8000000000000000", SL_ERROR },
    { "10000000000000000", SL_ERROR },
    { "", SL_ERROR },
    { "g", SL_ERROR },
    { "0x1", SL_ERROR },
    { "-1", SL_ERROR },
    { "1 ", SL_ERROR },
};


START_TEST(test_atoi_family)
{
    size_t        i, n;
    const char   *s;
    int64_t       want;

    for (i = 0; i < sl_nelems(dec_cases); i++) {
        s = dec_cases[i].in;
        n = strlen(s);
        want = dec_cases[i].out;

        ck_assert_msg(sl_atoi((u_char *) s, n) == want, "atoi \"%s\"", s);
        ck_assert_msg(sl_atosz((u_char *) s, n) == want, "atosz \"%s\"", s);
        ck_assert_msg(sl_atoof((u_char *) s, n) == want, "atoof \"%s\"", s);
        ck_assert_msg(sl_atotm((u_char *) s, n) == want, "atotm \"%s\"", s);
    }

    for (i = 0; i < sl_nelems(hex_cases); i++) {
        s = hex_cases[i].in;
        ck_assert_msg(sl_hextoi((u_char *) s, strlen(s)) == hex_cases[i].out,
                      "hextoi \"%s\"", s);
    }

    /* exactly n bytes: what follows is not looked at */
    ck_assert_int_eq(sl_atoi((u_char *) "123abc", 3), 123);
    ck_assert_int_eq(sl_atoi((u_char *) "123abc", 4), SL_ERROR);
    ck_assert_int_eq(sl_hextoi((u_char *) "abz", 2), 0xab);
    ck_assert_int_eq(sl_atoi((u_char *) "5", 0), SL_ERROR);
}
END_TEST


static Suite *
string_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("string");

    tc = tcase_create("printer");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_fmt_int);
    tcase_add_test(tc, test_fmt_int_boundaries);
    tcase_add_test(tc, test_fmt_double);
    tcase_add_test(tc, test_fmt_huge_double);
    tcase_add_test(tc, test_fmt_pointer);
    tcase_add_test(tc, test_fmt_strings);
    tcase_add_test(tc, test_fmt_unknown);
    tcase_add_test(tc, test_fmt_truncation);
    tcase_add_test(tc, test_fmt_slprintf);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_strlow_cpystrn);
    tcase_add_test(tc, test_pstrdup);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_memn2cmp);
    tcase_add_test(tc, test_strnstr);
    tcase_add_test(tc, test_strnstr_overlap);
    tcase_add_test(tc, test_hex_dump);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_atoi_family);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(string_suite)
