/*
 * test_murmurhash.c -- MurmurHash2 (sl_murmurhash.h) against values
 * computed by an independent model of the algorithm (a Python transcript
 * of Appleby's reference, seed 0), every tail length, bytes with the high
 * bit set (no sign extension), and independence of alignment.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"


static const struct {
    const char  *in;
    size_t       len;
    uint32_t     hash;
} known[] = {
    { "", 0, 0x00000000 },
    { "a", 1, 0x92685f5e },
    { "ab", 2, 0x1aa14063 },
    { "abc", 3, 0x13577c9b },
    { "abcd", 4, 0x26873021 },
    { "hello world", 11, 0x44a81419 },
    { "127.0.0.1", 9, 0xb6131d91 },
    { "\xff\xfe\x80\x00\x01", 5, 0x88611b97 },
};


START_TEST(test_known_values)
{
    size_t  i;

    for (i = 0; i < sl_nelems(known); i++) {
        ck_assert_msg(sl_murmur_hash2((const u_char *) known[i].in,
                                      known[i].len) == known[i].hash,
                      "murmur2(\"%s\") = %08x", known[i].in,
                      sl_murmur_hash2((const u_char *) known[i].in,
                                      known[i].len));
    }
}
END_TEST


START_TEST(test_alignment)
{
    u_char    buf[64 + 8];
    uint32_t  h;
    size_t    i, off;

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (u_char) (i * 37 + 11);
    }

    /* the same bytes at every offset: the same hash */
    for (i = 0; i < 64; i++) {
        h = sl_murmur_hash2(buf, i);

        for (off = 1; off < 8; off++) {
            u_char  copy[64 + 8];

            memcpy(copy + off, buf, i);
            ck_assert_uint_eq(sl_murmur_hash2(copy + off, i), h);
        }
    }
}
END_TEST


START_TEST(test_length_matters)
{
    u_char  zeros[8] = { 0 };
    size_t  i;

    /* the seed is xored with the length: runs of zeros all differ */
    for (i = 1; i < sizeof(zeros); i++) {
        ck_assert_uint_ne(sl_murmur_hash2(zeros, i),
                          sl_murmur_hash2(zeros, i - 1));
    }
}
END_TEST


static Suite *
murmurhash_suite(void)
{
    Suite  *s = suite_create("murmurhash");
    TCase  *tc = tcase_create("core");

    tcase_add_test(tc, test_known_values);
    tcase_add_test(tc, test_alignment);
    tcase_add_test(tc, test_length_matters);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(murmurhash_suite)
