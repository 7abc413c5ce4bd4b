/*
 * test_fuzz_smoke.c -- every fuzz target of t/fuzz runs in `make test`:
 * built with t/fuzz/fuzz_smoke.c's main() instead of libFuzzer's (so with
 * gcc, the sanitizers and valgrind alike), on its seed corpus -- which
 * also keeps every input that ever crashed a target -- and on mutations
 * of it from a fixed seed. `make fuzz` is the real search; this is the
 * guard that each target still builds, runs, and passes its old crashes.
 */
#include "sl_test.h"
#include "sl_proc.h"

#include <dirent.h>
#include <libgen.h>
#include <string.h>

/* the directory of the smoke binaries: BUILDDIR/t/fuzz */
static const char *
fzt_bindir(void)
{
    char  *bin = sl_t_printf("%s", sl_t_bin());

    return sl_t_printf("%s/t/fuzz", dirname(bin));
}

static void
fzt_run(const char *target, const char *mutations)
{
    sl_t_out_t   out;
    const char  *bin = sl_t_printf("%s/smoke_%s", fzt_bindir(), target);
    const char  *dir = sl_t_printf("%s/t/fuzz/corpus/%s", sl_t_src(), target);
    int          rc;

    rc = sl_t_run(((char *[]) { (char *) bin, "-m", (char *) mutations,
                                (char *) dir, NULL }), &out, 120000);
    ck_assert_msg(rc == 0, "%s exited with %d:\n%s%s", bin, rc, out.out,
                  out.err);
    ck_assert_msg(strstr(out.out, "fuzz_smoke: 0 inputs") == NULL
                  && strstr(out.out, "fuzz_smoke: ") != NULL,
                  "%s ran no input: %s", bin, out.out);
}

START_TEST(test_smoke_conf)
{
    fzt_run("conf", "48");
}
END_TEST

START_TEST(test_smoke_param)
{
    fzt_run("param", "256");
}
END_TEST

START_TEST(test_smoke_proxy_protocol)
{
    fzt_run("proxy_protocol", "2048");
}
END_TEST

START_TEST(test_smoke_ssl_preread)
{
    fzt_run("ssl_preread", "2048");
}
END_TEST

/* a new target cannot be forgotten: each has its smoke and its corpus */
START_TEST(test_every_target_has_a_smoke)
{
    DIR            *d;
    struct dirent  *e;
    char           *name, *dot;
    int             n = 0;

    d = opendir(sl_t_printf("%s/t/fuzz", sl_t_src()));
    ck_assert_ptr_nonnull(d);

    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "fuzz_", 5) != 0
            || strcmp(e->d_name, "fuzz_smoke.c") == 0
            || (dot = strrchr(e->d_name, '.')) == NULL
            || strcmp(dot, ".c") != 0)
        {
            continue;
        }

        name = sl_t_printf("%.*s", (int) (dot - e->d_name - 5),
                           e->d_name + 5);
        ck_assert_msg(sl_t_exists(sl_t_printf("%s/smoke_%s", fzt_bindir(),
                                              name)),
                      "t/fuzz/%s has no smoke binary: add it to "
                      "FUZZ_SMOKE_BINS in configure", e->d_name);
        ck_assert_msg(sl_t_exists(sl_t_printf("%s/t/fuzz/corpus/%s",
                                              sl_t_src(), name)),
                      "t/fuzz/%s has no corpus directory", e->d_name);
        n++;
    }

    closedir(d);
    ck_assert_int_ge(n, 4);
}
END_TEST

static Suite *
fuzz_smoke_suite(void)
{
    Suite  *s = suite_create("fuzz_smoke");
    TCase  *tc = tcase_create("smoke");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 150);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_every_target_has_a_smoke);
    tcase_add_test(tc, test_smoke_conf);
    tcase_add_test(tc, test_smoke_param);
    tcase_add_test(tc, test_smoke_proxy_protocol);
    tcase_add_test(tc, test_smoke_ssl_preread);
    return s;
}


SL_TEST_MAIN(fuzz_smoke_suite)
