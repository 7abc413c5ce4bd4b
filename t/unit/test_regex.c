/*
 * test_regex.c -- sl_regex.h over PCRE2: compiling (nginx's error
 * texts), groups and named groups, caseless patterns, matching into one
 * match block reused by regexes of different sizes, unset groups, that
 * what PCRE2 allocated goes with the pool; JIT code matching as the
 * interpreter does, and "pcre_jit" JIT-compiling what a configuration
 * compiled, once it is all read.
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"
#include "sl_t_conf.h"

#define PCRE2_CODE_UNIT_WIDTH  8
#include <pcre2.h>


static sl_pool_t  *pool;


static void
setup(void)
{
    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);
}


static void
teardown(void)
{
    sl_destroy_pool(pool);
    pool = NULL;
}


static sl_regex_t *
compile(const char *pattern, sl_uint_t flags, char *err)
{
    static u_char  buf[SL_REGEX_ERR_LEN];
    sl_str_t       p, e;
    sl_regex_t    *re;

    p.data = (u_char *) pattern;
    p.len = strlen(pattern);
    e.data = buf;
    e.len = sizeof(buf);

    re = sl_regex_compile(pool, &p, flags, &e);

    if (err != NULL) {
        snprintf(err, 512, "%.*s", re == NULL ? (int) e.len : 0, buf);
    }

    return re;
}


/* the text of group n of the last match of subject, or "<unset>" */
static const char *
group(sl_regex_match_t *m, const char *subject, sl_uint_t n)
{
    static char    out[256];
    const size_t  *ov = sl_regex_offsets(m);

    if (ov[2 * n] == SL_REGEX_UNSET) {
        return "<unset>";
    }

    snprintf(out, sizeof(out), "%.*s", (int) (ov[2 * n + 1] - ov[2 * n]),
             subject + ov[2 * n]);
    return out;
}


static sl_int_t
exec(sl_regex_t *re, const char *subject, sl_regex_match_t *m)
{
    return sl_regex_exec(re, (const u_char *) subject, strlen(subject), m);
}


START_TEST(test_regex_compile_errors)
{
    char  err[512];

    ck_assert_ptr_null(compile("(abc", 0, err));
    ck_assert_str_eq(err, "pcre2_compile() failed: missing closing "
                          "parenthesis in \"(abc\"");

    /* an error before the end names where: the rest of the pattern */
    ck_assert_ptr_null(compile("a)bc", 0, err));
    ck_assert_str_eq(err, "pcre2_compile() failed: unmatched closing "
                          "parenthesis in \"a)bc\" at \")bc\"");

    ck_assert_ptr_null(compile("x(?<n", 0, err));
    ck_assert_msg(strncmp(err, "pcre2_compile() failed: syntax error in "
                               "subpattern name", 39) == 0, "%s", err);

    ck_assert_ptr_nonnull(compile("", 0, err));
}
END_TEST


START_TEST(test_regex_groups_and_names)
{
    sl_regex_name_t  *names;
    sl_regex_t       *re;

    re = compile("^(?<host>[a-z]+)\\.(\\w+)\\.(?<tld>[a-z]+)$", 0, NULL);
    ck_assert_ptr_nonnull(re);
    ck_assert_uint_eq(sl_regex_groups(re), 3);
    ck_assert_uint_eq(sl_regex_names(re, &names), 2);

    /* PCRE2 orders the names alphabetically */
    ck_assert_str_eq((char *) names[0].name.data, "host");
    ck_assert_uint_eq(names[0].name.len, 4);
    ck_assert_uint_eq(names[0].group, 1);
    ck_assert_str_eq((char *) names[1].name.data, "tld");
    ck_assert_uint_eq(names[1].group, 3);

    re = compile("abc", 0, NULL);
    ck_assert_uint_eq(sl_regex_groups(re), 0);
    ck_assert_uint_eq(sl_regex_names(re, &names), 0);
    ck_assert_ptr_null(names);
    ck_assert_str_eq((char *) sl_regex_pattern(re)->data, "abc");
}
END_TEST


START_TEST(test_regex_match)
{
    sl_regex_match_t  *m;
    sl_regex_t        *re;
    const char        *s = "www.example.com";

    re = compile("^(\\w+)\\.(\\w+)\\.com$", 0, NULL);
    m = sl_regex_match_create(pool, sl_regex_groups(re));
    ck_assert_ptr_nonnull(m);

    ck_assert_int_eq(exec(re, s, m), 3);
    ck_assert_str_eq(group(m, s, 0), "www.example.com");
    ck_assert_str_eq(group(m, s, 1), "www");
    ck_assert_str_eq(group(m, s, 2), "example");

    ck_assert_int_eq(exec(re, "www.example.org", m), 0);
    ck_assert_int_eq(exec(re, "", m), 0);

    /* the subject's length, not a NUL, ends it */
    ck_assert_int_eq(sl_regex_exec(re, (u_char *) "a.b.comX", 7, m), 3);
}
END_TEST


START_TEST(test_regex_caseless)
{
    sl_regex_match_t  *m;
    sl_regex_t        *re, *ci;

    re = compile("^abc$", 0, NULL);
    ci = compile("^abc$", SL_REGEX_CASELESS, NULL);
    m = sl_regex_match_create(pool, 0);

    ck_assert_int_eq(exec(re, "ABC", m), 0);
    ck_assert_int_eq(exec(ci, "ABC", m), 1);
    ck_assert_int_eq(exec(ci, "aBc", m), 1);
    ck_assert_int_eq(exec(re, "abc", m), 1);
}
END_TEST


/* the count stops at the last group that took part; one in the middle
 * that did not is unset */
START_TEST(test_regex_unset_groups)
{
    sl_regex_match_t  *m;
    sl_regex_t        *re;

    re = compile("^(a)(x)?(b)(y)?$", 0, NULL);
    m = sl_regex_match_create(pool, 4);

    ck_assert_int_eq(exec(re, "ab", m), 4);
    ck_assert_str_eq(group(m, "ab", 1), "a");
    ck_assert_str_eq(group(m, "ab", 2), "<unset>");
    ck_assert_str_eq(group(m, "ab", 3), "b");
}
END_TEST


/* one block made for the most groups serves every regex; a smaller one
 * gives what it has room for */
START_TEST(test_regex_shared_block)
{
    sl_regex_match_t  *big, *small;
    sl_regex_t        *one, *three;

    one = compile("(o)", 0, NULL);
    three = compile("(a)(b)(c)", 0, NULL);
    big = sl_regex_match_create(pool, 3);
    small = sl_regex_match_create(pool, 1);

    ck_assert_int_eq(exec(three, "abc", big), 4);
    ck_assert_int_eq(exec(one, "foo", big), 2);
    ck_assert_str_eq(group(big, "foo", 1), "o");
    ck_assert_int_eq(exec(three, "abc", big), 4);
    ck_assert_str_eq(group(big, "abc", 3), "c");

    ck_assert_int_eq(exec(three, "abc", small), 2);
    ck_assert_str_eq(group(small, "abc", 1), "a");
}
END_TEST


/* many compiles and matches into pools that go: nothing stays behind
 * (ASan and valgrind see what a missing cleanup leaks) */
START_TEST(test_regex_freed_with_pool)
{
    sl_regex_match_t  *m;
    sl_regex_t        *re;
    sl_pool_t         *p;
    u_char             buf[SL_REGEX_ERR_LEN];
    sl_str_t           pat = sl_string("^(?<a>x+)(y*)$"), err;
    int                i;

    for (i = 0; i < 200; i++) {
        p = sl_create_pool(SL_DEFAULT_POOL_SIZE, NULL);
        ck_assert_ptr_nonnull(p);

        err.data = buf;
        err.len = sizeof(buf);
        re = sl_regex_compile(p, &pat, 0, &err);
        ck_assert_ptr_nonnull(re);
        m = sl_regex_match_create(p, sl_regex_groups(re));
        ck_assert_int_eq(sl_regex_exec(re, (u_char *) "xxy", 3, m), 3);

        sl_destroy_pool(p);
    }
}
END_TEST


START_TEST(test_regex_strerror)
{
    u_char  buf[128], *last;

    last = sl_regex_strerror(-2, buf, sizeof(buf));
    ck_assert_ptr_ne(last, buf);
    ck_assert(memmem(buf, (size_t) (last - buf), "partial", 7) != NULL);
}
END_TEST


static int
pcre2_has_jit(void)
{
    uint32_t  jit = 0;

    return pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit;
}


/* the JIT code gives what the interpreter gives */
START_TEST(test_regex_jit_same)
{
    static const char  *subjects[] = {
        "www.example.com", "WWW.EXAMPLE.COM", "a.b", "", "x.example.org",
        "mail.Example.com", "..", "www.example.com.",
    };

    sl_regex_match_t  *m1, *m2;
    sl_regex_t        *re1, *re2;
    const size_t      *o1, *o2;
    sl_int_t           n1, n2;
    size_t             i;
    sl_int_t           k;
    const char        *p = "^(?<host>[a-z]+)\\.(?:(\\w+)\\.)?(com|org)$";

    if (!pcre2_has_jit()) {
        return;                 /* a PCRE2 built without JIT */
    }

    re1 = compile(p, SL_REGEX_CASELESS, NULL);
    re2 = compile(p, SL_REGEX_CASELESS, NULL);
    ck_assert_int_eq(sl_regex_jit(re2), SL_OK);
    ck_assert_uint_eq(sl_regex_jitted(re2), 1);
    ck_assert_uint_eq(sl_regex_jitted(re1), 0);

    m1 = sl_regex_match_create(pool, 3);
    m2 = sl_regex_match_create(pool, 3);

    for (i = 0; i < sl_nelems(subjects); i++) {
        n1 = exec(re1, subjects[i], m1);
        n2 = exec(re2, subjects[i], m2);
        ck_assert_int_eq(n1, n2);

        o1 = sl_regex_offsets(m1);
        o2 = sl_regex_offsets(m2);

        for (k = 0; k < 2 * n1; k++) {
            ck_assert_uint_eq(o1[k], o2[k]);
        }
    }
}
END_TEST


/* a regex compiled for a configuration, as the stream layer does */
static sl_regex_t *
conf_regex(sl_cycle_t *cycle)
{
    sl_conf_t    cf;
    sl_str_t     pat = sl_string("^a(b+)c$");
    u_char       buf[SL_REGEX_ERR_LEN];
    sl_str_t     err = { sizeof(buf), buf };
    sl_regex_t  *re;

    sl_memzero(&cf, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = cycle->pool;
    cf.log = cycle->log;

    re = sl_regex_compile_conf(&cf, &pat, 0, &err);
    ck_assert_ptr_nonnull(re);
    return re;
}


/* "pcre_jit on" (anywhere in the main context) JIT-compiles the cycle's
 * regexes when its modules are initialised; off, the default, does not */
START_TEST(test_regex_pcre_jit)
{
    sl_cycle_t  *cycle;
    sl_regex_t  *re;

    if (!pcre2_has_jit()) {
        return;
    }

    sl_tc_write_str("conf/sluice.conf", "events { }\npcre_jit on;\n");
    cycle = sl_tc_load(NULL);
    ck_assert_msg(cycle != NULL, "%s", sl_tc.errors);

    re = conf_regex(cycle);
    ck_assert_uint_eq(sl_regex_jitted(re), 0);
    ck_assert_int_eq(sl_regex_module.init_module(cycle), SL_OK);
    ck_assert_uint_eq(sl_regex_jitted(re), 1);

    sl_tc_write_str("conf/sluice.conf", "events { }\n");
    cycle = sl_tc_load(NULL);
    ck_assert_ptr_nonnull(cycle);

    re = conf_regex(cycle);
    ck_assert_int_eq(sl_regex_module.init_module(cycle), SL_OK);
    ck_assert_uint_eq(sl_regex_jitted(re), 0);
}
END_TEST


static Suite *
regex_suite(void)
{
    Suite  *s = suite_create("regex");
    TCase  *tc;

    tc = tcase_create("pcre2");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_regex_compile_errors);
    tcase_add_test(tc, test_regex_groups_and_names);
    tcase_add_test(tc, test_regex_match);
    tcase_add_test(tc, test_regex_caseless);
    tcase_add_test(tc, test_regex_unset_groups);
    tcase_add_test(tc, test_regex_shared_block);
    tcase_add_test(tc, test_regex_freed_with_pool);
    tcase_add_test(tc, test_regex_strerror);
    tcase_add_test(tc, test_regex_jit_same);
    suite_add_tcase(s, tc);

    tc = tcase_create("pcre_jit");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, sl_tc_setup, sl_tc_teardown);
    tcase_add_test(tc, test_regex_pcre_jit);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(regex_suite)
