/*
 * test_times.c -- the cached clock and its strings (sl_times.h), checked
 * against strftime() in several time zones.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"


/* POSIX TZ strings need no zoneinfo files on the test machine */
static const char  *zones[] = {
    "UTC0",
    "UTC-6",                          /* +06:00 (POSIX signs are inverted) */
    "EST5",                           /* -05:00 */
    "IST-5:30",                       /* +05:30 */
    "NST3:30",                        /* -03:30 */
    "CET-1CEST,M3.5.0,M10.5.0/3",     /* +01:00 in winter, +02:00 in summer */
};

static const time_t  moments[] = {
    0,
    -1,                         /* 1969-12-31 23:59:59 UTC */
    23349600,                   /* 1970-09-28 06:00:00 UTC */
    951782400,                  /* 2000-02-29 00:00:00 UTC */
    1000000000,
    1234567890,
    1719792000,                 /* 2024-07-01: summer time in CET */
    1704067199,                 /* 2023-12-31 23:59:59 UTC */
    2147483647,
    4102444800,                 /* 2100-01-01 */
};


static void
set_zone(const char *tz)
{
    ck_assert_int_eq(setenv("TZ", tz, 1), 0);
    tzset();
}


/* what the cache must show for t, made with strftime() */
static void
expected_strings(time_t t, char *err, char *log, char *iso, long *gmtoff)
{
    struct tm  tm;
    char       z[16];

    ck_assert_ptr_nonnull(localtime_r(&t, &tm));

    strftime(err, 64, "%Y/%m/%d %H:%M:%S", &tm);
    strftime(log, 64, "%d/%b/%Y:%H:%M:%S %z", &tm);
    strftime(iso, 64, "%Y-%m-%dT%H:%M:%S", &tm);

    /* "+0530" becomes "+05:30" */
    strftime(z, sizeof(z), "%z", &tm);
    snprintf(iso + strlen(iso), 16, "%.3s:%.2s", z, z + 3);

    *gmtoff = tm.tm_gmtoff / 60;
}


static void
check_cache(sl_time_cache_t *tc, time_t t)
{
    char  err[64], log[64], iso[64];
    long  gmtoff;

    expected_strings(t, err, log, iso, &gmtoff);

    ck_assert_str_eq((char *) tc->err_log_time, err);
    ck_assert_str_eq((char *) tc->log_time, log);
    ck_assert_str_eq((char *) tc->iso8601, iso);
    ck_assert_int_eq(tc->gmtoff, gmtoff);
    ck_assert_int_eq(tc->formatted_sec, t);
}


START_TEST(test_time_set_zones)
{
    size_t           z, m;
    sl_time_cache_t  tc;

    for (z = 0; z < sl_nelems(zones); z++) {
        set_zone(zones[z]);

        for (m = 0; m < sl_nelems(moments); m++) {
            memset(&tc, 0, sizeof(tc));

            sl_time_set(&tc, moments[m], 123);

            ck_assert_int_eq(tc.sec, moments[m]);
            ck_assert_uint_eq(tc.msec, 123);
            check_cache(&tc, moments[m]);
        }
    }
}
END_TEST


START_TEST(test_time_header_example)
{
    sl_time_cache_t  tc;

    memset(&tc, 0, sizeof(tc));

    set_zone("UTC-6");
    sl_time_set(&tc, 23349600, 0);

    ck_assert_str_eq((char *) tc.err_log_time, "1970/09/28 12:00:00");
    ck_assert_str_eq((char *) tc.log_time, "28/Sep/1970:12:00:00 +0600");
    ck_assert_str_eq((char *) tc.iso8601, "1970-09-28T12:00:00+06:00");
    ck_assert_str_eq((char *) tc.syslog_time, "Sep 28 12:00:00");
    ck_assert_int_eq(tc.gmtoff, 360);

    ck_assert_uint_eq(strlen((char *) tc.err_log_time), SL_ERR_LOG_TIME_LEN);
    ck_assert_uint_eq(strlen((char *) tc.log_time), SL_LOG_TIME_LEN);
    ck_assert_uint_eq(strlen((char *) tc.iso8601), SL_ISO8601_TIME_LEN);
    ck_assert_uint_eq(strlen((char *) tc.syslog_time), SL_SYSLOG_TIME_LEN);

    set_zone("NST3:30");
    sl_time_set(&tc, 23349601, 0);

    ck_assert_str_eq((char *) tc.err_log_time, "1970/09/28 02:30:01");
    ck_assert_str_eq((char *) tc.log_time, "28/Sep/1970:02:30:01 -0330");
    ck_assert_str_eq((char *) tc.iso8601, "1970-09-28T02:30:01-03:30");
    ck_assert_int_eq(tc.gmtoff, -210);

    set_zone("UTC0");
    sl_time_set(&tc, 0, 0);

    ck_assert_str_eq((char *) tc.err_log_time, "1970/01/01 00:00:00");
    ck_assert_str_eq((char *) tc.log_time, "01/Jan/1970:00:00:00 +0000");
    ck_assert_str_eq((char *) tc.iso8601, "1970-01-01T00:00:00+00:00");
    /* RFC 3164: a one-digit day is padded with a space */
    ck_assert_str_eq((char *) tc.syslog_time, "Jan  1 00:00:00");
    ck_assert_int_eq(tc.gmtoff, 0);
}
END_TEST


START_TEST(test_time_dst)
{
    sl_time_cache_t  tc;

    memset(&tc, 0, sizeof(tc));
    set_zone("CET-1CEST,M3.5.0,M10.5.0/3");

    sl_time_set(&tc, 1704067199, 0);                 /* winter */
    ck_assert_int_eq(tc.gmtoff, 60);
    ck_assert_str_eq((char *) tc.iso8601, "2024-01-01T00:59:59+01:00");

    sl_time_set(&tc, 1719792000, 0);                 /* summer */
    ck_assert_int_eq(tc.gmtoff, 120);
    ck_assert_str_eq((char *) tc.log_time, "01/Jul/2024:02:00:00 +0200");
}
END_TEST


START_TEST(test_time_reformat_only_on_new_second)
{
    sl_time_cache_t  tc;

    memset(&tc, 0, sizeof(tc));
    set_zone("UTC0");

    /* a zeroed cache is formatted even for second 0 */
    sl_time_set(&tc, 0, 0);
    ck_assert_str_eq((char *) tc.err_log_time, "1970/01/01 00:00:00");

    sl_time_set(&tc, 1000000000, 0);
    check_cache(&tc, 1000000000);

    /* scribble on the strings: the same second must leave them alone */
    tc.err_log_time[0] = 'X';
    tc.log_time[0] = 'X';
    tc.iso8601[0] = 'X';

    sl_time_set(&tc, 1000000000, 999);
    ck_assert_uint_eq(tc.msec, 999);
    ck_assert_int_eq(tc.err_log_time[0], 'X');
    ck_assert_int_eq(tc.log_time[0], 'X');
    ck_assert_int_eq(tc.iso8601[0], 'X');

    /* the next second rewrites all three */
    sl_time_set(&tc, 1000000001, 0);
    check_cache(&tc, 1000000001);

    /* so does going back in time */
    sl_time_set(&tc, 1000000000, 0);
    check_cache(&tc, 1000000000);
}
END_TEST


START_TEST(test_time_update)
{
    sl_time_cache_t  tc;
    time_t           before, after;
    sl_msec_t        m0, m1;
    int              i;

    memset(&tc, 0, sizeof(tc));
    set_zone("UTC-6");

    for (i = 0; i < 3; i++) {
        before = time(NULL);
        m0 = sl_monotonic_msec();

        sl_time_update(&tc);

        m1 = sl_monotonic_msec();
        after = time(NULL);

        ck_assert_int_ge(tc.sec, before);
        ck_assert_int_le(tc.sec, after);
        ck_assert_uint_lt(tc.msec, 1000);
        ck_assert_uint_ge(tc.current_msec, m0);
        ck_assert_uint_le(tc.current_msec, m1);
        ck_assert_int_eq(tc.gmtoff, 360);
        check_cache(&tc, tc.sec);
    }
}
END_TEST


START_TEST(test_monotonic)
{
    sl_msec_t        a, b;
    struct timespec  ts = { 0, 30 * 1000 * 1000 };

    a = sl_monotonic_msec();
    ck_assert_int_eq(nanosleep(&ts, NULL), 0);
    b = sl_monotonic_msec();

    ck_assert_uint_ge(b - a, 29);
    ck_assert_uint_lt(b - a, 10000);
}
END_TEST


START_TEST(test_localtime_gmtime)
{
    size_t     m;
    struct tm  ours, libc;

    set_zone("IST-5:30");

    for (m = 0; m < sl_nelems(moments); m++) {
        sl_localtime(moments[m], &ours);
        ck_assert_ptr_nonnull(localtime_r(&moments[m], &libc));
        ck_assert_int_eq(mktime(&ours), moments[m]);
        ck_assert_int_eq(ours.tm_hour, libc.tm_hour);
        ck_assert_int_eq(ours.tm_min, libc.tm_min);
        ck_assert_int_eq(ours.tm_gmtoff, 19800);

        sl_gmtime(moments[m], &ours);
        ck_assert_ptr_nonnull(gmtime_r(&moments[m], &libc));
        ck_assert_int_eq(ours.tm_year, libc.tm_year);
        ck_assert_int_eq(ours.tm_yday, libc.tm_yday);
        ck_assert_int_eq(ours.tm_hour, libc.tm_hour);
        ck_assert_int_eq(ours.tm_min, libc.tm_min);
        ck_assert_int_eq(ours.tm_sec, libc.tm_sec);
        ck_assert_int_eq(ours.tm_gmtoff, 0);
    }
}
END_TEST


static Suite *
times_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("times");

    tc = tcase_create("format");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_time_set_zones);
    tcase_add_test(tc, test_time_header_example);
    tcase_add_test(tc, test_time_dst);
    tcase_add_test(tc, test_time_reformat_only_on_new_second);
    suite_add_tcase(s, tc);

    tc = tcase_create("clock");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_time_update);
    tcase_add_test(tc, test_monotonic);
    tcase_add_test(tc, test_localtime_gmtime);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(times_suite)
