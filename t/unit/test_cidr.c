/*
 * test_cidr.c -- networks (sl_cidr.h): what parses, what is masked (and
 * said so), what is refused, and matching -- IPv4, IPv6, an IPv4 client
 * seen as ::ffff:a.b.c.d, unix, and families kept apart.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"

#include <arpa/inet.h>


static sl_int_t
parse(const char *text, sl_cidr_t *cidr)
{
    sl_str_t  s;

    s.data = (u_char *) text;
    s.len = strlen(text);
    return sl_ptocidr(&s, cidr);
}


START_TEST(test_parse)
{
    sl_cidr_t  c;

    ck_assert_int_eq(parse("10.0.0.0/8", &c), SL_OK);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(c.mask[0], 0xff);
    ck_assert_uint_eq(c.mask[1], 0);

    ck_assert_int_eq(parse("192.0.2.1", &c), SL_OK);
    ck_assert_uint_eq(c.mask[3], 0xff);

    ck_assert_int_eq(parse("10.1.2.3/12", &c), SL_DONE);   /* masked */
    ck_assert_uint_eq(c.addr[1], 0);
    ck_assert_uint_eq(c.mask[1], 0xf0);

    ck_assert_int_eq(parse("0.0.0.0/0", &c), SL_OK);
    ck_assert_int_eq(parse("2001:db8::/32", &c), SL_OK);
    ck_assert_int_eq(c.family, AF_INET6);
    ck_assert_uint_eq(c.mask[3], 0xff);
    ck_assert_uint_eq(c.mask[4], 0);
    ck_assert_int_eq(parse("::1", &c), SL_OK);
    ck_assert_uint_eq(c.mask[15], 0xff);

    ck_assert_int_eq(parse("10.0.0.0/33", &c), SL_ERROR);
    ck_assert_int_eq(parse("::/129", &c), SL_ERROR);
    ck_assert_int_eq(parse("10.0.0.0/", &c), SL_ERROR);
    ck_assert_int_eq(parse("10.0.0.0/x", &c), SL_ERROR);
    ck_assert_int_eq(parse("/8", &c), SL_ERROR);
    ck_assert_int_eq(parse("300.0.0.1", &c), SL_ERROR);
    ck_assert_int_eq(parse("localhost", &c), SL_ERROR);
    ck_assert_int_eq(parse("", &c), SL_ERROR);
}
END_TEST


START_TEST(test_match)
{
    sl_pool_t            *pool = sl_create_pool(1024, NULL);
    sl_array_t           *a = sl_array_create(pool, 4, sizeof(sl_cidr_t));
    struct sockaddr_in    sin;
    struct sockaddr_in6   sin6;
    struct sockaddr_un    sun;

    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(parse("10.0.0.0/8", sl_array_push(a)), SL_OK);
    ck_assert_int_eq(parse("2001:db8::/32", sl_array_push(a)), SL_OK);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "10.200.1.1", &sin.sin_addr);
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sin, a), SL_OK);
    inet_pton(AF_INET, "11.0.0.1", &sin.sin_addr);
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sin, a),
                     SL_DECLINED);

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:ffff::1", &sin6.sin6_addr);
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sin6, a), SL_OK);
    inet_pton(AF_INET6, "::ffff:10.1.1.1", &sin6.sin6_addr);
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sin6, a), SL_OK);
    inet_pton(AF_INET6, "::a01:101", &sin6.sin6_addr);   /* not mapped */
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sin6, a),
                     SL_DECLINED);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sun, a),
                     SL_DECLINED);

    ((sl_cidr_t *) sl_array_push(a))->family = AF_UNIX;
    ck_assert_int_eq(sl_cidr_match((struct sockaddr *) &sun, a), SL_OK);

    sl_destroy_pool(pool);
}
END_TEST


static Suite *
cidr_suite(void)
{
    Suite  *s = suite_create("cidr");
    TCase  *tc = tcase_create("core");

    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_match);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(cidr_suite)
