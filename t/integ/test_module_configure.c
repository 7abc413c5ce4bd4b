/*
 * test_module_configure.c -- configure's options for modules from outside
 * the tree: --add-module=DIR, --add-dynamic-module=DIR, --modules-path,
 * --without-module-sdk, and what DIR/config may say.
 *
 * A config file is read in a subshell and only assigns variables; each
 * mistake in it is an error naming the file, the line and the fix, and a
 * directory without one points at docs/modules.md. What a good one gives
 * is read back from the build directory configure wrote: the module in
 * the static list (before module_order's module), its objects' rules and
 * their flags, the shared object of a dynamic one, the modules path.
 * Building and loading them is test_module_examples' and
 * test_module_loader's.
 */
#include "sl_test.h"
#include "sl_proc.h"

#include <string.h>

#define T_CONFIGURE  120000     /* ms for ./configure */

#define configure(out, ...)                                                   \
    sl_t_run_in(sl_t_src(), ((char *[]) { "sh", "configure", __VA_ARGS__,     \
                                          NULL }), out, T_CONFIGURE)

/* a module directory with a config file and empty sources */
static char *
module_dir(const char *config, const char *const *files)
{
    char  *dir = sl_t_mkdir();

    if (config != NULL) {
        sl_t_write(dir, "config", config);
    }

    for ( ; files != NULL && *files != NULL; files++) {
        sl_t_write(dir, *files, "/* empty */\n");
    }

    return dir;
}

static const char *const  src_c[] = { "m.c", NULL };

#define GOOD_CONFIG(name)                                                     \
    "module_name=" name "\n"                                                  \
    "module_type=STREAM\n"                                                    \
    "module_modules=sl_stream_" name "_module\n"                              \
    "module_srcs=m.c\n"

/* configure with options, into a scratch build directory: its stderr */
static char *
configure_error(const char *opt1, const char *opt2)
{
    sl_t_out_t  o;
    char       *objs = sl_t_path(sl_t_mkdir(), "objs");
    int         rc;

    rc = opt2 == NULL
         ? configure(&o, sl_t_printf("--builddir=%s", objs), (char *) opt1)
         : configure(&o, sl_t_printf("--builddir=%s", objs), (char *) opt1,
                     (char *) opt2);
    ck_assert_msg(rc == 1, "configure %s %s exited %d, not 1:\n%s%s", opt1,
                  opt2 ? opt2 : "", rc, o.out, o.err);
    return o.err;
}

static char *
add(const char *dir)
{
    return sl_t_printf("--add-module=%s", dir);
}

START_TEST(test_no_config)
{
    char  *dir = module_dir(NULL, src_c);

    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s has no config file: a "
                                 "module's directory holds one, a POSIX sh "
                                 "file that sets module_name, module_type, "
                                 "module_srcs and more; see "
                                 "docs/modules.md\n", dir));

    ck_assert_str_eq(configure_error("--add-dynamic-module=/nonexistent",
                                     NULL),
                     "configure: error: module directory \"/nonexistent\" "
                     "not found\n");
}
END_TEST

START_TEST(test_unknown_variable)
{
    char  *dir = module_dir(GOOD_CONFIG("m") "# the sources\n"
                            "module_src=m.c\n", src_c);

    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:6: unknown "
                                 "variable \"module_src\": a config file sets "
                                 "only module_name, module_type, "
                                 "module_modules, module_srcs, module_deps, "
                                 "module_incs, module_libs, module_requires, "
                                 "module_order; see docs/modules.md\n", dir));
}
END_TEST

START_TEST(test_missing_file)
{
    static const char *const  files[] = { "a.c", NULL };
    char                     *dir;

    dir = module_dir("module_name=m\nmodule_type=HANDLER\n"
                     "module_srcs=\"a.c b.c\"\n", files);
    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:3: module_srcs "
                                 "names \"b.c\", which is not in %s\n", dir,
                                 dir));

    dir = module_dir("module_name=m\nmodule_type=HANDLER\nmodule_srcs=a.c\n"
                     "module_incs=include\n", files);
    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:4: module_incs "
                                 "names \"include\", which is not in %s\n",
                                 dir, dir));
}
END_TEST

START_TEST(test_required_module)
{
    char  *dir = module_dir(GOOD_CONFIG("m") "module_requires=stream_ssl\n",
                            src_c);

    ck_assert_str_eq(configure_error("--without-stream_ssl_module", add(dir)),
                     sl_t_printf("configure: error: %s/config:5: module "
                                 "\"m\" requires the stream_ssl module, which "
                                 "this build leaves out: remove "
                                 "--without-stream_ssl_module from the "
                                 "options\n", dir));

    dir = module_dir(GOOD_CONFIG("m") "module_requires=stream_nosuch\n",
                     src_c);
    ck_assert_msg(strstr(configure_error(add(dir), NULL),
                         sl_t_printf("%s/config:5: module \"m\" requires "
                                     "\"stream_nosuch\", which is no module "
                                     "of sluice", dir)) != NULL,
                  "no error for an unknown required module");
}
END_TEST

START_TEST(test_bad_values)
{
    char  *dir;

    dir = module_dir("module_name=m\nmodule_type=HTTP\nmodule_srcs=m.c\n",
                     src_c);
    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:2: module_type "
                                 "\"HTTP\" is none of CORE, EVENT, STREAM, "
                                 "HANDLER\n", dir));

    dir = module_dir("module_name=My-Mod\nmodule_type=HANDLER\n"
                     "module_srcs=m.c\n", src_c);
    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:1: module_name "
                                 "\"My-Mod\" is not made of a-z, 0-9 and _\n",
                                 dir));

    dir = module_dir("module_name=m\nmodule_type=STREAM\nmodule_srcs=m.c\n",
                     src_c);
    ck_assert_str_eq(configure_error(add(dir), NULL),
                     sl_t_printf("configure: error: %s/config:1: "
                                 "module_modules is not set: name the "
                                 "module's sl_module_t structures\n", dir));

    ck_assert_str_eq(configure_error("--add-module=", NULL),
                     "configure: error: invalid option \"--add-module=\": "
                     "the directory must be named, without blanks\n");
}
END_TEST

START_TEST(test_same_name_twice)
{
    char  *a = module_dir(GOOD_CONFIG("m"), src_c);
    char  *b = module_dir(GOOD_CONFIG("m"), src_c);

    ck_assert_str_eq(configure_error(add(a),
                                     sl_t_printf("--add-dynamic-module=%s",
                                                 b)),
                     sl_t_printf("configure: error: %s/config:1: module \"m\" "
                                 "is added twice (module_name of another "
                                 "--add-module or --add-dynamic-module)\n",
                                 b));
}
END_TEST

/* what configure wrote for one static and one dynamic module */
START_TEST(test_build_directory)
{
    sl_t_out_t   o;
    char        *objs = sl_t_path(sl_t_mkdir(), "objs"), *mk, *list;
    char        *a, *b;

    a = module_dir(GOOD_CONFIG("aa") "module_order=sl_stream_echo_module\n",
                   src_c);
    b = module_dir("module_name=bb\nmodule_type=HANDLER\nmodule_srcs=m.c\n"
                   "module_libs=-lm\n", src_c);

    ck_assert_msg(configure(&o, sl_t_printf("--builddir=%s", objs), add(a),
                            sl_t_printf("--add-dynamic-module=%s", b),
                            "--modules-path=/opt/mods") == 0,
                  "configure failed:\n%s%s", o.out, o.err);
    ck_assert_ptr_nonnull(strstr(o.out, sl_t_printf("static module: aa "
                                                    "(STREAM) from %s\n", a)));
    ck_assert_ptr_nonnull(strstr(o.out, sl_t_printf("dynamic module: bb "
                                                    "(HANDLER) from %s\n", b)));

    list = sl_t_read(sl_t_path(objs, "sl_modules.c"));
    ck_assert_ptr_nonnull(strstr(list, "    &sl_stream_aa_module,\n"
                                       "    &sl_stream_echo_module,\n"));
    ck_assert_ptr_nonnull(strstr(list, "sl_dynamic_module_names[] = {\n"
                                       "    \"bb\",\n    NULL\n"));

    mk = sl_t_read(sl_t_path(objs, "Makefile"));
    ck_assert_ptr_nonnull(strstr(mk, sl_t_printf("$(B)/addon/static/aa/m.o: "
                                                 "%s/m.c\n", a)));
    ck_assert_ptr_nonnull(strstr(mk, "-DSL_STATIC_MODULE -DSL_MODULE_ORDER="
                                     "'\"sl_stream_echo_module\"'"));
    ck_assert_ptr_nonnull(strstr(mk, "ADDON_SO  =  $(B)/bb.so\n"));
    ck_assert_ptr_nonnull(strstr(mk, "$(B)/bb.so: $(B)/addon/dynamic/bb/m.o\n"
                                     "\t$(CC) -shared $(LDFLAGS) -o $@ "
                                     "$(B)/addon/dynamic/bb/m.o -lm\n"));
    ck_assert_ptr_nonnull(strstr(mk, "MODULES_PATH = /opt/mods\n"));
    ck_assert_ptr_nonnull(strstr(mk, "MODULE_SDK = yes\n"));

    ck_assert_ptr_nonnull(strstr(sl_t_read(sl_t_path(objs,
                                                     "sl_auto_config.h")),
                                 "#define SL_MODULES_PATH     "
                                 "\"/opt/mods\"\n"));
}
END_TEST

START_TEST(test_without_sdk)
{
    sl_t_out_t   o;
    char        *objs = sl_t_path(sl_t_mkdir(), "objs");

    ck_assert_int_eq(configure(&o, sl_t_printf("--builddir=%s", objs),
                               "--without-module-sdk"), 0);
    ck_assert_ptr_nonnull(strstr(sl_t_read(sl_t_path(objs, "Makefile")),
                                 "MODULE_SDK = no\n"));
}
END_TEST

static Suite *
module_configure_suite(void)
{
    Suite  *s = suite_create("module_configure");
    TCase  *tc = tcase_create("configure");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_no_config);
    tcase_add_test(tc, test_unknown_variable);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_required_module);
    tcase_add_test(tc, test_bad_values);
    tcase_add_test(tc, test_same_name_twice);
    tcase_add_test(tc, test_build_directory);
    tcase_add_test(tc, test_without_sdk);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(module_configure_suite)
