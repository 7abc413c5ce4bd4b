/*
 * test_radix_tree.c -- the prefix tree of geo (sl_radix_tree.h): longest
 * prefix wins, a prefix inserted twice is busy, delete removes only an
 * exact prefix with a value, IPv6-length keys, and a random table checked
 * against a linear scan of the same prefixes.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"

#include <arpa/inet.h>


/* "a.b.c.d/bits" into key and mask */
static void
v4(const char *text, int bits, u_char key[4], u_char mask[4])
{
    int  i;

    ck_assert_int_eq(inet_pton(AF_INET, text, key), 1);

    for (i = 0; i < 4; i++, bits -= 8) {
        mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (u_char) (0xff00 >> bits);
    }
}

static uintptr_t
find4(sl_radix_tree_t *t, const char *text)
{
    u_char  key[4];

    ck_assert_int_eq(inet_pton(AF_INET, text, key), 1);
    return sl_radix_tree_find(t, key, 4);
}

static sl_int_t
insert4(sl_radix_tree_t *t, const char *text, int bits, uintptr_t value)
{
    u_char  key[4], mask[4];

    v4(text, bits, key, mask);
    return sl_radix_tree_insert(t, key, mask, 4, value);
}

static sl_int_t
delete4(sl_radix_tree_t *t, const char *text, int bits)
{
    u_char  key[4], mask[4];

    v4(text, bits, key, mask);
    return sl_radix_tree_delete(t, key, mask, 4);
}


START_TEST(test_longest_prefix)
{
    sl_pool_t        *pool = sl_create_pool(1024, NULL);
    sl_radix_tree_t  *t = sl_radix_tree_create(pool);

    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(find4(t, "10.1.2.3"), SL_RADIX_NO_VALUE);

    ck_assert_int_eq(insert4(t, "0.0.0.0", 0, 1), SL_OK);
    ck_assert_int_eq(insert4(t, "10.0.0.0", 8, 2), SL_OK);
    ck_assert_int_eq(insert4(t, "10.1.0.0", 16, 3), SL_OK);
    ck_assert_int_eq(insert4(t, "10.1.2.3", 32, 4), SL_OK);

    ck_assert_uint_eq(find4(t, "192.0.2.1"), 1);
    ck_assert_uint_eq(find4(t, "10.200.0.1"), 2);
    ck_assert_uint_eq(find4(t, "10.1.9.9"), 3);
    ck_assert_uint_eq(find4(t, "10.1.2.3"), 4);
    ck_assert_uint_eq(find4(t, "10.1.2.4"), 3);
    ck_assert_uint_eq(find4(t, "255.255.255.255"), 1);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_busy_and_delete)
{
    sl_pool_t        *pool = sl_create_pool(1024, NULL);
    sl_radix_tree_t  *t = sl_radix_tree_create(pool);

    ck_assert_int_eq(insert4(t, "10.0.0.0", 8, 2), SL_OK);
    ck_assert_int_eq(insert4(t, "10.0.0.0", 8, 5), SL_BUSY);
    ck_assert_uint_eq(find4(t, "10.9.9.9"), 2);      /* the first kept */

    /* a prefix on the way to another has no value of its own */
    ck_assert_int_eq(insert4(t, "10.1.0.0", 16, 3), SL_OK);
    ck_assert_int_eq(delete4(t, "10.0.0.0", 12), SL_ERROR);
    ck_assert_int_eq(delete4(t, "11.0.0.0", 8), SL_ERROR);

    /* an inner prefix: its value goes, the longer one stays */
    ck_assert_int_eq(delete4(t, "10.0.0.0", 8), SL_OK);
    ck_assert_int_eq(delete4(t, "10.0.0.0", 8), SL_ERROR);
    ck_assert_uint_eq(find4(t, "10.9.9.9"), SL_RADIX_NO_VALUE);
    ck_assert_uint_eq(find4(t, "10.1.9.9"), 3);

    /* a leaf: its path goes; inserting again reuses the nodes */
    ck_assert_int_eq(delete4(t, "10.1.0.0", 16), SL_OK);
    ck_assert_uint_eq(find4(t, "10.1.9.9"), SL_RADIX_NO_VALUE);
    ck_assert_ptr_nonnull(t->free);
    ck_assert_int_eq(insert4(t, "10.1.0.0", 16, 7), SL_OK);
    ck_assert_uint_eq(find4(t, "10.1.9.9"), 7);

    /* the root: the empty prefix */
    ck_assert_int_eq(insert4(t, "0.0.0.0", 0, 1), SL_OK);
    ck_assert_uint_eq(find4(t, "1.1.1.1"), 1);
    ck_assert_int_eq(delete4(t, "0.0.0.0", 0), SL_OK);
    ck_assert_uint_eq(find4(t, "1.1.1.1"), SL_RADIX_NO_VALUE);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_ipv6)
{
    sl_pool_t        *pool = sl_create_pool(1024, NULL);
    sl_radix_tree_t  *t = sl_radix_tree_create(pool);
    u_char            key[16], mask[16], probe[16];

    memset(mask, 0, sizeof(mask));
    memset(mask, 0xff, 4);                              /* /32 */
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::", key), 1);
    ck_assert_int_eq(sl_radix_tree_insert(t, key, mask, 16, 1), SL_OK);

    memset(mask, 0xff, 16);                             /* /128 */
    ck_assert_int_eq(inet_pton(AF_INET6, "::1", key), 1);
    ck_assert_int_eq(sl_radix_tree_insert(t, key, mask, 16, 2), SL_OK);

    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:1::5", probe), 1);
    ck_assert_uint_eq(sl_radix_tree_find(t, probe, 16), 1);
    ck_assert_int_eq(inet_pton(AF_INET6, "::1", probe), 1);
    ck_assert_uint_eq(sl_radix_tree_find(t, probe, 16), 2);
    ck_assert_int_eq(inet_pton(AF_INET6, "::2", probe), 1);
    ck_assert_uint_eq(sl_radix_tree_find(t, probe, 16), SL_RADIX_NO_VALUE);

    sl_destroy_pool(pool);
}
END_TEST


/* random prefixes against a linear scan: the longest match wins */
START_TEST(test_random_table)
{
    sl_pool_t        *pool = sl_create_pool(4096, NULL);
    sl_radix_tree_t  *t = sl_radix_tree_create(pool);
    uint32_t          net[200];
    uintptr_t         want;
    int               bits[200], best, i, j, n = 0;
    u_char            key[4], mask[4];

    srand(4242);

    for (i = 0; i < 200; i++) {
        uint32_t  m, a = (uint32_t) rand() << 1 ^ (uint32_t) rand();
        int       b = rand() % 33;

        m = b == 0 ? 0 : 0xffffffffu << (32 - b);
        a &= m;

        key[0] = (u_char) (a >> 24); key[1] = (u_char) (a >> 16);
        key[2] = (u_char) (a >> 8); key[3] = (u_char) a;
        mask[0] = (u_char) (m >> 24); mask[1] = (u_char) (m >> 16);
        mask[2] = (u_char) (m >> 8); mask[3] = (u_char) m;

        if (sl_radix_tree_insert(t, key, mask, 4, (uintptr_t) n) == SL_OK) {
            net[n] = a;
            bits[n] = b;
            n++;
        }
    }

    for (i = 0; i < 20000; i++) {
        uint32_t  a;

        /* near the prefixes, or anywhere */
        a = (i & 1) ? net[rand() % n] ^ (uint32_t) (rand() & 0xff)
                    : (uint32_t) rand() << 1 ^ (uint32_t) rand();

        best = -1;
        want = SL_RADIX_NO_VALUE;

        for (j = 0; j < n; j++) {
            uint32_t  m = bits[j] == 0 ? 0 : 0xffffffffu << (32 - bits[j]);

            if ((a & m) == net[j] && bits[j] > best) {
                best = bits[j];
                want = (uintptr_t) j;
            }
        }

        key[0] = (u_char) (a >> 24); key[1] = (u_char) (a >> 16);
        key[2] = (u_char) (a >> 8); key[3] = (u_char) a;

        ck_assert_uint_eq(sl_radix_tree_find(t, key, 4),
                          best < 0 ? SL_RADIX_NO_VALUE : (uintptr_t) want);
    }

    sl_destroy_pool(pool);
}
END_TEST


static Suite *
radix_tree_suite(void)
{
    Suite  *s = suite_create("radix_tree");
    TCase  *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_longest_prefix);
    tcase_add_test(tc, test_busy_and_delete);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_random_table);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(radix_tree_suite)
