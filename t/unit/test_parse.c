/*
 * test_parse.c -- sizes, offsets and time intervals (sl_parse.h).
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"


typedef struct {
    const char  *in;
    int64_t      out;       /* SL_ERROR when invalid */
} parse_case_t;


#define K  INT64_C(1024)
#define M  (K * K)
#define G  (K * M)

/* valid for both sl_parse_size() and sl_parse_offset() on 64-bit hosts */
static const parse_case_t  size_cases[] = {
    { "0", 0 },
    { "0k", 0 },
    { "1", 1 },
    { "512", 512 },
    { "16k", 16 * K },
    { "16K", 16 * K },
    { "1m", M },
    { "1M", M },
    { "10m", 10 * M },
    { "1g", G },
    { "1G", G },
    { "4G", 4 * G },
    { "9223372036854775807", INT64_MAX },
    { "9007199254740991k", INT64_C(9007199254740991) * K },
    { "8796093022207m", INT64_C(8796093022207) * M },
    { "8589934591g", INT64_C(8589934591) * G },

    /* overflow */
    { "9223372036854775808", SL_ERROR },
    { "99999999999999999999", SL_ERROR },
    { "9223372036854775807k", SL_ERROR },
    { "9007199254740992k", SL_ERROR },
    { "8796093022208m", SL_ERROR },
    { "8589934592g", SL_ERROR },
    { "8589934592G", SL_ERROR },

    /* junk */
    { "", SL_ERROR },
    { "k", SL_ERROR },
    { "K", SL_ERROR },
    { "-1", SL_ERROR },
    { "-1k", SL_ERROR },
    { "+1", SL_ERROR },
    { "1kb", SL_ERROR },
    { "1kk", SL_ERROR },
    { "1 k", SL_ERROR },
    { " 1k", SL_ERROR },
    { "1k ", SL_ERROR },
    { "1t", SL_ERROR },
    { "1T", SL_ERROR },
    { "1.5k", SL_ERROR },
    { "0x10", SL_ERROR },
    { "1s", SL_ERROR },
    { "k1", SL_ERROR },
};


START_TEST(test_parse_size)
{
    size_t    i;
    sl_str_t  line;

    for (i = 0; i < sl_nelems(size_cases); i++) {
        line.data = (u_char *) size_cases[i].in;
        line.len = strlen(size_cases[i].in);

        ck_assert_msg(sl_parse_size(&line) == (ssize_t) size_cases[i].out,
                      "size \"%s\": got %zd", size_cases[i].in,
                      sl_parse_size(&line));
    }
}
END_TEST


START_TEST(test_parse_offset)
{
    size_t    i;
    sl_str_t  line;

    for (i = 0; i < sl_nelems(size_cases); i++) {
        line.data = (u_char *) size_cases[i].in;
        line.len = strlen(size_cases[i].in);

        ck_assert_msg(sl_parse_offset(&line) == (off_t) size_cases[i].out,
                      "offset \"%s\": got %jd", size_cases[i].in,
                      (intmax_t) sl_parse_offset(&line));
    }
}
END_TEST


START_TEST(test_parse_counted)
{
    sl_str_t  line;

    /* only len bytes count: the rest of the memory is not looked at */
    line.data = (u_char *) "16k and more";
    line.len = 3;
    ck_assert_int_eq(sl_parse_size(&line), 16 * 1024);
    ck_assert_int_eq(sl_parse_offset(&line), 16 * 1024);

    line.data = (u_char *) "1h30m trailing";
    line.len = 5;
    ck_assert_int_eq(sl_parse_time(&line, 1), 5400);

    line.data = NULL;
    line.len = 0;
    ck_assert_int_eq(sl_parse_size(&line), SL_ERROR);
    ck_assert_int_eq(sl_parse_offset(&line), SL_ERROR);
    ck_assert_int_eq(sl_parse_time(&line, 0), SL_ERROR);
}
END_TEST


#define SEC    INT64_C(1000)
#define MIN    (60 * SEC)
#define HOUR   (60 * MIN)
#define DAY    (24 * HOUR)
#define WEEK   (7 * DAY)
#define MONTH  (30 * DAY)
#define YEAR   (365 * DAY)

/* in milliseconds (is_sec == 0) */
static const parse_case_t  msec_cases[] = {
    { "0", 0 },
    { "0ms", 0 },
    { "1ms", 1 },
    { "500ms", 500 },
    { "30s", 30 * SEC },
    { "30", 30 * SEC },                 /* a bare number is seconds */
    { "10m", 10 * MIN },
    { "1h", HOUR },
    { "1d", DAY },
    { "1w", WEEK },
    { "1M", MONTH },
    { "1y", YEAR },
    { "1h30m", HOUR + 30 * MIN },
    { "1h 30m", HOUR + 30 * MIN },
    { "1h\t30m", HOUR + 30 * MIN },
    { "1h  30m", HOUR + 30 * MIN },
    { "1d 12h", DAY + 12 * HOUR },
    { "1h30", HOUR + 30 * SEC },        /* a trailing bare number too */
    { "1m500ms", MIN + 500 },
    { "1s 1ms", SEC + 1 },
    { "1y1M1w1d1h1m1s1ms",
      YEAR + MONTH + WEEK + DAY + HOUR + MIN + SEC + 1 },
    { "2y 3M 4w 5d 6h 7m 8s 9ms",
      2 * YEAR + 3 * MONTH + 4 * WEEK + 5 * DAY + 6 * HOUR + 7 * MIN
      + 8 * SEC + 9 },
    { "0y0s", 0 },
    { "9223372036854775807ms", INT64_MAX },
    { "9223372036854775s 807ms", INT64_MAX },
    { "292471208y", 292471208 * YEAR },
    { "292471208y 247d", 292471208 * YEAR + 247 * DAY },

    /* overflow */
    { "9223372036854775808ms", SL_ERROR },
    { "9223372036854775s 808ms", SL_ERROR },
    { "9223372036854775807", SL_ERROR },   /* seconds, in milliseconds */
    { "9223372036854776s", SL_ERROR },
    { "292471209y", SL_ERROR },
    { "99999999999999999999", SL_ERROR },
    { "292471208y 248d", SL_ERROR },     /* the sum overflows */

    /* order and repetition */
    { "1h1h", SL_ERROR },
    { "30m1h", SL_ERROR },
    { "1s1m", SL_ERROR },
    { "1ms1s", SL_ERROR },
    { "1ms1ms", SL_ERROR },
    { "1s30", SL_ERROR },               /* bare seconds after seconds */
    { "500ms5", SL_ERROR },
    { "1d1y", SL_ERROR },
    { "1m1M", SL_ERROR },

    /* junk */
    { "", SL_ERROR },
    { "h", SL_ERROR },
    { "ms", SL_ERROR },
    { "s", SL_ERROR },
    { "-1", SL_ERROR },
    { "-1s", SL_ERROR },
    { "+1s", SL_ERROR },
    { "1x", SL_ERROR },
    { "1H", SL_ERROR },
    { "1S", SL_ERROR },
    { "1.5h", SL_ERROR },
    { " 1h", SL_ERROR },
    { "1h ", SL_ERROR },
    { "1 h", SL_ERROR },
    { "30 1h", SL_ERROR },
    { "1h30m ", SL_ERROR },
    { "1hh", SL_ERROR },
    { "1mss", SL_ERROR },
    { "1h,30m", SL_ERROR },
};

/* in seconds (is_sec == 1) */
static const parse_case_t  sec_cases[] = {
    { "0", 0 },
    { "1", 1 },
    { "30", 30 },
    { "30s", 30 },
    { "10m", 600 },
    { "1h30m", 5400 },
    { "1h 30m", 5400 },
    { "1h30", 3630 },
    { "1d 12h", 129600 },
    { "1w", 604800 },
    { "1M", 2592000 },
    { "1y", 31536000 },
    { "9223372036854775807", INT64_MAX },
    { "9223372036854775807s", INT64_MAX },
    { "9223372036854775808", SL_ERROR },
    { "99999999999999999999", SL_ERROR },
    { "292471208677y", INT64_C(292471208677) * 31536000 },
    { "292471208678y", SL_ERROR },
    { "1ms", SL_ERROR },
    { "0ms", SL_ERROR },
    { "1s1ms", SL_ERROR },
    { "1h1h", SL_ERROR },
    { "30m1h", SL_ERROR },
    { "", SL_ERROR },
    { "k", SL_ERROR },
    { "-1", SL_ERROR },
};


static void
check_time_cases(const parse_case_t *cases, size_t n, sl_uint_t is_sec)
{
    size_t    i;
    sl_str_t  line;
    sl_int_t  got;

    for (i = 0; i < n; i++) {
        line.data = (u_char *) cases[i].in;
        line.len = strlen(cases[i].in);

        got = sl_parse_time(&line, is_sec);

        ck_assert_msg(got == (sl_int_t) cases[i].out,
                      "time \"%s\" is_sec=%d: got %jd, want %jd",
                      cases[i].in, (int) is_sec, (intmax_t) got,
                      (intmax_t) cases[i].out);
    }
}


START_TEST(test_parse_time_msec)
{
    check_time_cases(msec_cases, sl_nelems(msec_cases), 0);
}
END_TEST


START_TEST(test_parse_time_sec)
{
    check_time_cases(sec_cases, sl_nelems(sec_cases), 1);
}
END_TEST


static Suite *
parse_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("parse");

    tc = tcase_create("size");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_parse_size);
    tcase_add_test(tc, test_parse_offset);
    tcase_add_test(tc, test_parse_counted);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_parse_time_msec);
    tcase_add_test(tc, test_parse_time_sec);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(parse_suite)
