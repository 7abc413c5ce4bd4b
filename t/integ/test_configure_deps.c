/*
 * test_configure_deps.c -- configure stops with the Debian package to
 * install when a library it needs cannot be found: PCRE2 (libpcre2-dev)
 * hidden from pkg-config while everything else stays, and it finds PCRE2
 * and says so when it is there.
 */
#include "sl_test.h"
#include "sl_proc.h"

#include <string.h>

#define T_CONFIGURE  120000     /* ms for ./configure */

/*
 * A pkg-config directory with every .pc file of the system but PCRE2's,
 * made by the shell from pkg-config's own search path.
 */
static char *
pc_dir_without_pcre(void)
{
    char        *dir = sl_t_path(sl_t_mkdir(), "pc");
    sl_t_out_t   o;
    int          rc;

    rc = sl_t_run(((char *[]) { "sh", "-c",
        "mkdir -p \"$0\" && "
        "for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do "
        "  for f in \"$d\"/*.pc; do "
        "    [ -f \"$f\" ] || continue; "
        "    case \"${f##*/}\" in libpcre2*) continue ;; esac; "
        "    ln -sf \"$f\" \"$0/\"; "
        "  done; "
        "done", dir, NULL }), &o, 10000);
    ck_assert_msg(rc == 0, "could not make %s: %s", dir, o.err);

    return dir;
}

START_TEST(test_configure_no_pcre2)
{
    sl_t_out_t   o;
    char        *objs = sl_t_path(sl_t_mkdir(), "objs");
    char        *pc = pc_dir_without_pcre();
    int          rc;

    rc = sl_t_run_in(sl_t_src(), ((char *[]) {
                         "env", sl_t_printf("PKG_CONFIG_LIBDIR=%s", pc),
                         "PKG_CONFIG_PATH=", "sh", "configure",
                         sl_t_printf("--builddir=%s", objs), NULL }),
                     &o, T_CONFIGURE);

    ck_assert_msg(rc == 1, "configure: exit %d without PCRE2: %s", rc,
                  o.err);
    ck_assert_msg(strstr(o.err, "configure: error: PCRE2 headers not found; "
                                "install them: apt-get install "
                                "libpcre2-dev") != NULL,
                  "no PCRE2 message in: %s", o.err);
    ck_assert_int_eq(sl_t_exists(sl_t_path(objs, "Makefile")), 0);
}
END_TEST

START_TEST(test_configure_pcre2_found)
{
    sl_t_out_t   o;
    char        *objs = sl_t_path(sl_t_mkdir(), "objs");
    int          rc;

    rc = sl_t_run_in(sl_t_src(), ((char *[]) {
                         "sh", "configure",
                         sl_t_printf("--builddir=%s", objs), NULL }),
                     &o, T_CONFIGURE);

    ck_assert_msg(rc == 0, "configure: exit %d: %s", rc, o.err);
    ck_assert_msg(strstr(o.out, "checking for PCRE2: ") != NULL, "%s",
                  o.out);
    ck_assert_msg(strstr(sl_t_read(sl_t_path(objs, "Makefile")),
                         "-lpcre2-8") != NULL, "no -lpcre2-8 in LIBS");
}
END_TEST

static Suite *
configure_deps_suite(void)
{
    Suite  *s = suite_create("configure_deps");
    TCase  *tc = tcase_create("configure");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_configure_no_pcre2);
    tcase_add_test(tc, test_configure_pcre2_found);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(configure_deps_suite)
