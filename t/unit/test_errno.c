/*
 * test_errno.c -- errno text (sl_errno.h).
 */
#include "sl_config.h"
#include "sl_core.h"

#include <pthread.h>

#include "sl_test.h"


#define GUARD  0xa5


/* the text sl_strerror() writes, as a C string */
static const char *
text_of(sl_err_t err, char *out, size_t size)
{
    u_char  *p;

    p = sl_strerror(err, (u_char *) out, size - 1);
    *p = '\0';

    return out;
}


START_TEST(test_known_errors)
{
    char  buf[256];

    ck_assert_str_eq(text_of(SL_ECONNRESET, buf, sizeof(buf)),
                     "Connection reset by peer");
    ck_assert_str_eq(text_of(SL_ENOENT, buf, sizeof(buf)),
                     "No such file or directory");
    ck_assert_str_eq(text_of(SL_EPIPE, buf, sizeof(buf)), "Broken pipe");
    ck_assert_str_eq(text_of(SL_EAGAIN, buf, sizeof(buf)),
                     "Resource temporarily unavailable");
    ck_assert_str_eq(text_of(0, buf, sizeof(buf)), "Success");
}
END_TEST


START_TEST(test_unknown_errors)
{
    char  buf[256];

    ck_assert_str_eq(text_of(12345, buf, sizeof(buf)), "Unknown error 12345");
    ck_assert_str_eq(text_of(-1, buf, sizeof(buf)), "Unknown error -1");
    ck_assert_str_eq(text_of(INT_MAX, buf, sizeof(buf)),
                     "Unknown error 2147483647");
    ck_assert_str_eq(text_of(INT_MIN, buf, sizeof(buf)),
                     "Unknown error -2147483648");
}
END_TEST


/* every number the C library knows reads the same as strerror() */
START_TEST(test_matches_libc)
{
    char  buf[256];
    int   err;

    for (err = 0; err < 140; err++) {
        ck_assert_str_eq(text_of(err, buf, sizeof(buf)), strerror(err));
    }
}
END_TEST


START_TEST(test_truncation)
{
    u_char  buf[64], *p;
    size_t  size, len;

    len = strlen("Connection reset by peer");

    for (size = 0; size <= len + 2; size++) {
        memset(buf, GUARD, sizeof(buf));

        p = sl_strerror(SL_ECONNRESET, buf, size);

        ck_assert_uint_eq((size_t) (p - buf), sl_min(size, len));
        ck_assert(memcmp(buf, "Connection reset by peer", p - buf) == 0);
        ck_assert_uint_eq(buf[p - buf], GUARD);     /* no NUL, nothing */
    }

    memset(buf, GUARD, sizeof(buf));
    p = sl_strerror(99999, buf, 9);
    ck_assert_uint_eq(p - buf, 9);
    ck_assert(memcmp(buf, "Unknown e", 9) == 0);
    ck_assert_uint_eq(buf[9], GUARD);
}
END_TEST


static void *
hammer(void *arg)
{
    char       buf[256];
    sl_err_t   err;
    int        i;
    uintptr_t  bad = 0;

    err = (sl_err_t) (intptr_t) arg;

    for (i = 0; i < 20000; i++) {
        text_of(err, buf, sizeof(buf));

        if (err == SL_ECONNRESET) {
            bad += strcmp(buf, "Connection reset by peer") != 0;
        } else {
            bad += strcmp(buf, "Unknown error 4242") != 0;
        }
    }

    return (void *) bad;
}


/* threads asking for different texts at once must not see each other's */
START_TEST(test_threads)
{
    pthread_t  t[4];
    void      *bad;
    int        i;

    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer,
                         (void *) (intptr_t) (i & 1 ? SL_ECONNRESET : 4242)),
                         0);
    }

    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(t[i], &bad), 0);
        ck_assert_ptr_null(bad);
    }
}
END_TEST


static Suite *
errno_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("errno");

    tc = tcase_create("strerror");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_known_errors);
    tcase_add_test(tc, test_unknown_errors);
    tcase_add_test(tc, test_matches_libc);
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(errno_suite)
