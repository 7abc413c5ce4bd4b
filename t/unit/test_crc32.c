/*
 * test_crc32.c -- CRC-32 (sl_crc32.h) against known values and a
 * bit-by-bit reference.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"


/* the definition, one bit at a time, to check the table against */
static uint32_t
crc32_bitwise(const u_char *p, size_t len)
{
    uint32_t  c;
    int       k;

    c = 0xffffffff;

    while (len--) {
        c ^= *p++;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
        }
    }

    return c ^ 0xffffffff;
}


static const struct {
    const char  *in;
    uint32_t     crc;
} known[] = {
    { "", 0x00000000 },
    { "a", 0xe8b7be43 },
    { "abc", 0x352441c2 },
    { "123456789", 0xcbf43926 },
    { "The quick brown fox jumps over the lazy dog", 0x414fa339 },
};


START_TEST(test_known_values)
{
    size_t  i;

    for (i = 0; i < sl_nelems(known); i++) {
        ck_assert_msg(sl_crc32((u_char *) known[i].in, strlen(known[i].in))
                      == known[i].crc, "crc32(\"%s\")", known[i].in);
    }
}
END_TEST


START_TEST(test_every_byte)
{
    u_char  b[256];
    size_t  i;

    /* each single byte exercises one table entry */
    for (i = 0; i < 256; i++) {
        b[i] = (u_char) i;
        ck_assert_uint_eq(sl_crc32(&b[i], 1), crc32_bitwise(&b[i], 1));
    }

    ck_assert_uint_eq(sl_crc32(b, sizeof(b)), crc32_bitwise(b, sizeof(b)));
}
END_TEST


START_TEST(test_incremental)
{
    u_char    buf[4096];
    uint32_t  whole, crc;
    size_t    i, off, n, len;
    int       round;

    srand(12345);

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (u_char) rand();
    }

    for (round = 0; round < 200; round++) {
        len = (size_t) rand() % (sizeof(buf) + 1);
        whole = sl_crc32(buf, len);

        ck_assert_uint_eq(whole, crc32_bitwise(buf, len));

        /* the same bytes in random pieces, empty ones included */
        sl_crc32_init(crc);

        for (off = 0; off < len; off += n) {
            n = (size_t) rand() % 64;
            n = sl_min(n, len - off);
            sl_crc32_update(&crc, buf + off, n);
        }

        sl_crc32_final(crc);

        ck_assert_uint_eq(crc, whole);
    }

    /* byte by byte */
    sl_crc32_init(crc);

    for (i = 0; i < 9; i++) {
        sl_crc32_update(&crc, (u_char *) "123456789" + i, 1);
    }

    sl_crc32_final(crc);
    ck_assert_uint_eq(crc, 0xcbf43926);
}
END_TEST


static Suite *
crc32_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("crc32");

    tc = tcase_create("crc32");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_known_values);
    tcase_add_test(tc, test_every_byte);
    tcase_add_test(tc, test_incremental);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(crc32_suite)
