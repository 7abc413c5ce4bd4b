/*
 * test_split_clients.c -- "split_clients" through the real binary: for a
 * fixed set of keys, the part each key lands in (seen over a connection
 * with "return $var") is the one this file computes with its own
 * MurmurHash2 and nginx's mapping of percentages onto the hash range --
 * sluice's hash is not called for the expectation. The key is a complex
 * value made of the PROXY protocol source address the test sends. Then
 * the configuration errors with nginx's words, at their file:line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "sluice -t" fails with msg at conf/t.conf:line (0: at no line) */
#define conf_error  sl_t_conf_error_line

#define T_IO  10000

#ifndef SL_HAVE_stream_split_clients_MODULE
#define SL_HAVE_stream_split_clients_MODULE  0
#endif

/* MurmurHash2, 32 bits, seed 0: written from the algorithm's definition */
static uint32_t
murmur2(const unsigned char *p, size_t len)
{
    const uint32_t  m = 0x5bd1e995;
    uint32_t        h = (uint32_t) len, k;

    while (len >= 4) {
        k = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
            | (uint32_t) p[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h = h * m ^ k;
        p += 4;
        len -= 4;
    }

    switch (len) {
    case 3: h ^= (uint32_t) p[2] << 16; /* fall through */
    case 2: h ^= (uint32_t) p[1] << 8;  /* fall through */
    case 1: h ^= p[0]; h *= m;
    }

    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/* a part: hundredths of a percent (0 for "*") and its value */
typedef struct {
    unsigned     hundredths;
    const char  *value;
} part_t;

/* the part a key lands in, nginx's way; "" when none */
static const char *
expected(const part_t *parts, size_t n, const char *key)
{
    uint32_t  hash = murmur2((const unsigned char *) key, strlen(key));
    uint64_t  bound = 0;
    unsigned  sum = 0;
    size_t    i;

    for (i = 0; i < n; i++) {
        sum = parts[i].hundredths ? sum + parts[i].hundredths : 10000;

        if (sum == 10000) {
            return parts[i].value;            /* everything left */
        }

        bound += (uint64_t) parts[i].hundredths * 0xffffffffu / 10000;
        if (hash < (uint32_t) bound) {
            return parts[i].value;
        }
    }

    return "";
}

/* the value for a connection whose PROXY header says the source is addr */
static char *
ask(sl_t_sluice_t *srv, const char *addr)
{
    int    fd = sl_t_connect("127.0.0.1", srv->port);
    char  *hdr = sl_t_printf("PROXY TCP4 %s 127.0.0.1 1234 80\r\n", addr);

    sl_t_send_all(fd, hdr, strlen(hdr), T_IO);
    return sl_t_recv_text(fd, NULL, T_IO);
}

static void
check_table(const char *block, const part_t *parts, size_t n)
{
    sl_t_sluice_t  srv;
    char           addr[32], *key, *got;
    int            i, seen[8] = { 0 };
    size_t         j;

    sl_t_sluice_start(&srv, sl_t_printf(
        "stream {\n"
        "    split_clients \"key-${proxy_protocol_addr}\" $bucket {\n"
        "        %s\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return \"[$bucket]\";\n"
        "    }\n"
        "}\n", block));

    for (i = 0; i < 120; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", i % 7, i * 13 % 256,
                 i);
        key = sl_t_printf("key-%s", addr);
        got = ask(&srv, addr);

        ck_assert_msg(strcmp(got, sl_t_printf("[%s]",
                                              expected(parts, n, key))) == 0,
                      "key \"%s\": got %s, want [%s]", key, got,
                      expected(parts, n, key));

        for (j = 0; j < n && j < 8; j++) {
            seen[j] += strcmp(got + 1, sl_t_printf("%s]", parts[j].value))
                       == 0;
        }
    }

    sl_t_sluice_stop(&srv);

    /* every part of a big enough share was hit: the table means something */
    for (j = 0; j < n && j < 8; j++) {
        ck_assert_msg(parts[j].hundredths < 1000 || seen[j] > 0,
                      "no key in part \"%s\"", parts[j].value);
    }
}

START_TEST(test_split_clients_distribution)
{
    static const part_t  parts[] = {
        { 1000, "a" }, { 550, "b" }, { 3333, "c" }, { 0, "d" }
    };

    check_table("10% a; 5.5% b; 33.33% c; * d;", parts, 4);
}
END_TEST

START_TEST(test_split_clients_exact_100)
{
    /* the part that reaches 100% takes the rest; a gap is empty */
    static const part_t  full[] = { { 5000, "x" }, { 5000, "y" } };
    static const part_t  gap[] = { { 2500, "p" }, { 2500, "q" } };

    check_table("50% x; 50% y;", full, 2);
    check_table("25% p; 25.00% q;", gap, 2);
}
END_TEST

START_TEST(test_split_clients_same_key)
{
    sl_t_sluice_t  srv;
    char          *first;
    int            i;

    /* the key does not change: neither does the part */
    sl_t_sluice_start(&srv,
        "stream {\n"
        "    split_clients \"$proxy_protocol_addr\" $b { 50% one; * two; }\n"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@ proxy_protocol;\n"
        "        return $b;\n"
        "    }\n"
        "}\n");

    first = ask(&srv, "192.0.2.7");
    ck_assert_str_eq(first, murmur2((const unsigned char *) "192.0.2.7", 9)
                            < (uint32_t) (5000ull * 0xffffffffu / 10000)
                            ? "one" : "two");

    for (i = 0; i < 10; i++) {
        ck_assert_str_eq(ask(&srv, "192.0.2.7"), first);
    }

    sl_t_sluice_stop(&srv);
}
END_TEST

#define BLOCK(parts)                                                          \
    "stream {\n"                                                              \
    "    split_clients $remote_addr $v {\n"                                   \
    "        " parts "\n"                                                     \
    "    }\n"                                                                 \
    "}\n"

START_TEST(test_split_clients_conf_errors)
{
    conf_error(BLOCK("10.555% a;"), "invalid percent value \"10.555%\"", 3);
    conf_error(BLOCK("0% a;"), "invalid percent value \"0%\"", 3);
    conf_error(BLOCK("10 a;"), "invalid percent value \"10\"", 3);
    conf_error(BLOCK("x% a;"), "invalid percent value \"x%\"", 3);
    conf_error(BLOCK("1.2.3% a;"), "invalid percent value \"1.2.3%\"", 3);
    conf_error(BLOCK("%  a;"), "invalid percent value \"%\"", 3);
    conf_error(BLOCK("60% a; 50% b;"), "percent total is greater than 100%",
               4);
    conf_error(BLOCK("* a; 1% b;"), "percent total is greater than 100%", 4);
    conf_error(BLOCK("10%;"), "invalid number of arguments in split_clients",
               3);
    conf_error(BLOCK("10% a { }"), "unexpected \"{\"", 3);

    conf_error("stream {\n split_clients $remote_addr v { * a; }\n}\n",
               "invalid variable name \"v\"", 2);
    conf_error("stream {\n split_clients $remote_addr $remote_port "
               "{ * a; }\n}\n", "the duplicate \"remote_port\" variable", 2);
    conf_error("stream {\n split_clients \"${x\" $v { * a; }\n}\n",
               "the closing bracket in \"x\" variable is missing", 2);
    conf_error("stream {\n split_clients $remote_addr $v;\n}\n",
               "directive \"split_clients\" has no opening \"{\"", 2);
    conf_error("stream {\n server {\n  split_clients $remote_addr $v "
               "{ * a; }\n }\n}\n",
               "\"split_clients\" directive is not allowed here", 3);
    conf_error("stream {\n split_clients $nope $v { * a; }\n}\n",
               "unknown \"nope\" variable", 0);
}
END_TEST

START_TEST(test_split_clients_extra_words)
{
    /* nginx reads the first two words of a line and ignores the rest */
    ck_assert_int_eq(sl_t_sluice_test(BLOCK("50% a b; * c;"), NULL), 0);
}
END_TEST

static Suite *
split_clients_suite(void)
{
    Suite  *s = suite_create("split_clients");
    TCase  *tc = tcase_create("split_clients");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!SL_HAVE_stream_split_clients_MODULE) {
        return s;
    }

    tcase_add_test(tc, test_split_clients_distribution);
    tcase_add_test(tc, test_split_clients_exact_100);
    tcase_add_test(tc, test_split_clients_same_key);
    tcase_add_test(tc, test_split_clients_conf_errors);
    tcase_add_test(tc, test_split_clients_extra_words);
    return s;
}

SL_TEST_MAIN(split_clients_suite)
