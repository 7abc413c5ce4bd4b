/*
 * test_embed_symbols.c -- the ABI of libsluice, three ways in agreement:
 * the names src/embed/libsluice.sym lists, the dynamic symbols the built
 * (and the installed) libsluice.so.1 defines, and the functions
 * src/embed/sluice.h declares. And the header itself: it compiles on its
 * own as C11 (pedantic) and as C++, includes standard C headers only and
 * defines no feature macro.
 *
 * The tools are the toolchain's: nm and readelf (binutils), cc, c++.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_proc.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_TOOL     30000        /* ms for one tool run */
#define MAX_NAMES  256

/* a set of names, sorted */
typedef struct {
    const char  *v[MAX_NAMES];
    int          n;
} names_t;

static const char *const  feature_macros[] = {
    "_GNU_SOURCE", "_POSIX_C_SOURCE", "_XOPEN_SOURCE", "_DEFAULT_SOURCE",
    "_BSD_SOURCE", "_SVID_SOURCE", "_XOPEN_SOURCE_EXTENDED",
    "_LARGEFILE64_SOURCE", "_FILE_OFFSET_BITS", "_TIME_BITS", NULL
};

/* C11's headers (7.1.2) */
static const char *const  standard_headers[] = {
    "assert.h", "complex.h", "ctype.h", "errno.h", "fenv.h", "float.h",
    "inttypes.h", "iso646.h", "limits.h", "locale.h", "math.h", "setjmp.h",
    "signal.h", "stdalign.h", "stdarg.h", "stdatomic.h", "stdbool.h",
    "stddef.h", "stdint.h", "stdio.h", "stdlib.h", "stdnoreturn.h",
    "string.h", "tgmath.h", "threads.h", "time.h", "uchar.h", "wchar.h",
    "wctype.h", NULL
};


/* --- sets of names ------------------------------------------------------- */

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void
names_add(names_t *set, const char *name, size_t len)
{
    ck_assert_msg(set->n < MAX_NAMES, "more than %d names", MAX_NAMES);
    set->v[set->n++] = sl_t_printf("%.*s", (int) len, name);
}

static void
names_sort(names_t *set, const char *what)
{
    int  i;

    qsort(set->v, (size_t) set->n, sizeof(set->v[0]), cmp_names);

    for (i = 1; i < set->n; i++) {
        ck_assert_msg(strcmp(set->v[i - 1], set->v[i]) != 0,
                      "%s has %s twice", what, set->v[i]);
    }
}

static int
names_has(const names_t *set, const char *name)
{
    return bsearch(&name, set->v, (size_t) set->n, sizeof(set->v[0]),
                   cmp_names) != NULL;
}

/* the names of a that b lacks, as text ("" when none) */
static char *
names_missing(const names_t *a, const names_t *b)
{
    char  *s = "";
    int    i;

    for (i = 0; i < a->n; i++) {
        if (!names_has(b, a->v[i])) {
            s = sl_t_printf("%s %s", s, a->v[i]);
        }
    }

    return s;
}

/* a and b hold the same names, or the test fails saying which differ */
static void
names_equal(const names_t *a, const char *a_what, const names_t *b,
    const char *b_what)
{
    char  *only_a = names_missing(a, b), *only_b = names_missing(b, a);

    ck_assert_msg(only_a[0] == '\0' && only_b[0] == '\0', "only in %s:%s; "
                  "only in %s:%s", a_what, only_a, b_what, only_b);
    ck_assert_int_gt(a->n, 0);
}


/* --- where things are ---------------------------------------------------- */

static const char *
sym_file(void)
{
    return sl_t_path(sl_t_src(), "src/embed/libsluice.sym");
}

static const char *
header(void)
{
    return sl_t_path(sl_t_src(), "src/embed/sluice.h");
}

/* the build directory's libsluice.so.1: next to SLUICE_BIN */
static char *
built_library(void)
{
    char  *bin = sl_t_printf("%s", sl_t_bin());
    char  *lib = sl_t_path(dirname(bin), "libsluice.so.1");

    ck_assert_msg(sl_t_exists(lib), "no %s: build with `make -f "
                  "BUILDDIR/Makefile tests`", lib);
    return lib;
}

/* the installed one: SLUICE_PKG_CONFIG_PATH is its libdir's pkgconfig/ */
static char *
installed_library(void)
{
    const char  *pc = getenv("SLUICE_PKG_CONFIG_PATH");
    char        *lib;

    ck_assert_msg(pc != NULL && getenv("SLUICE_DESTDIR") != NULL,
                  "SLUICE_DESTDIR and SLUICE_PKG_CONFIG_PATH are not set: "
                  "build with `make -f BUILDDIR/Makefile tests` (it installs "
                  "into BUILDDIR/t/destdir) and run with `sh t/run.sh "
                  "BUILDDIR`");
    lib = sl_t_path(sl_t_printf("%s/..", pc), "libsluice.so.1");
    ck_assert_msg(sl_t_exists(lib), "no installed %s", lib);
    return lib;
}

/* runs a tool that must succeed; its stdout */
static char *
tool(char *const argv[])
{
    sl_t_out_t  out;
    int         rc;

    rc = sl_t_run(argv, &out, T_TOOL);
    ck_assert_msg(rc == 0, "%s failed with %d%s:\n%s%s", argv[0], rc,
                  rc == 127 ? " (not installed?)" : "", out.err, out.out);
    return out.out;
}


/* --- (a) the library's dynamic symbols ----------------------------------- */

/* the names of libsluice.sym: every line that is not a comment */
static void
listed_names(names_t *set)
{
    char  *text = sl_t_read(sym_file()), *line, *save, *end;

    ck_assert_msg(text != NULL, "cannot read %s", sym_file());

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        while (isspace((unsigned char) *line)) {
            line++;
        }
        for (end = line + strlen(line);
             end > line && isspace((unsigned char) end[-1]); end--)
        {
            /* void */
        }
        if (end > line && line[0] != '#') {
            names_add(set, line, (size_t) (end - line));
        }
    }

    names_sort(set, "libsluice.sym");
}

/*
 * `nm -D --defined-only`: "ADDR TYPE NAME[@@VERSION]". The version nodes
 * (absolute symbols, "A SLUICE_0") are not names. Every name of version
 * SLUICE_0 (sluice.h's) must be a function; every other one must be an
 * sl_ name of the SDK's node, SLUICE_SDK_<module ABI major>, for the full
 * modules an instance loads (docs/modules.md), and is not collected.
 */
static void
library_names(names_t *set, const char *lib)
{
    char  *text, *line, *save, *name, *at, sdk[32];
    char   type;
    int    pos;

    snprintf(sdk, sizeof(sdk), "@@SLUICE_SDK_%d", (int) SL_MODULE_ABI_MAJOR);

    text = tool((char *[]) { "nm", "-D", "--defined-only", (char *) lib,
                             NULL });

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        ck_assert_msg(sscanf(line, "%*s %c %n", &type, &pos) == 1,
                      "nm said \"%s\"", line);
        name = line + pos;
        if (type == 'A') {
            continue;
        }

        at = strchr(name, '@');
        ck_assert_msg(at != NULL, "%s exports \"%s\" without a version",
                      lib, name);

        if (strcmp(at, sdk) == 0) {
            ck_assert_msg(strncmp(name, "sl_", 3) == 0, "%s exports \"%s\" "
                          "in the SDK's version: not an sl_ name", lib, name);
            continue;
        }

        ck_assert_msg(type == 'T' && strcmp(at, "@@SLUICE_0") == 0,
                      "%s exports \"%s\" (%c): not a function of version "
                      "SLUICE_0 nor a name of %s", lib, name, type, sdk + 2);
        names_add(set, name, (size_t) (at - name));
    }

    names_sort(set, lib);
}

START_TEST(test_library_exports_the_list)
{
    names_t  listed = { .n = 0 }, built = { .n = 0 }, installed = { .n = 0 };
    char    *lib = built_library();

    listed_names(&listed);
    library_names(&built, lib);
    names_equal(&built, lib, &listed, "libsluice.sym");

    library_names(&installed, installed_library());
    names_equal(&installed, installed_library(), &listed, "libsluice.sym");

    ck_assert_msg(strstr(tool((char *[]) { "readelf", "-d", lib, NULL }),
                         "Library soname: [libsluice.so.1]") != NULL,
                  "%s has no SONAME libsluice.so.1", lib);
}
END_TEST


/* --- (b) the header's functions ------------------------------------------ */

/* the text of sluice.h itself, as the preprocessor leaves it for C */
static char *
preprocessed_header(void)
{
    char  *text, *line, *save, *own = "";
    int    ours = 0;

    text = tool((char *[]) { "cc", "-std=c11", "-E", "-x", "c",
                             (char *) header(), NULL });

    /* line markers say whose text follows: # 12 "path" flags */
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        if (line[0] == '#') {
            ours = strstr(line, sl_t_printf("\"%s\"", header())) != NULL;
        } else if (ours) {
            own = sl_t_printf("%s %s", own, line);
        }
    }

    return own;
}

/*
 * A declaration at file scope (no typedef) is a function when the first
 * '(' outside any braces follows an identifier directly: "int f(" or
 * "void *f(", not "(*f)(".
 */
static void
declaration_name(names_t *set, const char *decl, size_t len)
{
    const char  *paren, *end, *start;

    while (len > 0 && isspace((unsigned char) *decl)) {
        decl++;
        len--;
    }
    if (len == 0 || strncmp(decl, "typedef", 7) == 0) {
        return;
    }

    paren = memchr(decl, '(', len);
    if (paren == NULL) {
        return;
    }

    for (end = paren; end > decl && isspace((unsigned char) end[-1]); end--) {
        /* void */
    }
    for (start = end;
         start > decl && (isalnum((unsigned char) start[-1])
                          || start[-1] == '_');
         start--)
    {
        /* void */
    }

    if (start < end) {
        names_add(set, start, (size_t) (end - start));
    }
}

static void
declared_functions(names_t *set)
{
    const char  *p, *decl;
    int          depth = 0;

    decl = preprocessed_header();

    for (p = decl; *p != '\0'; p++) {
        if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            depth--;
        } else if (*p == ';' && depth == 0) {
            declaration_name(set, decl, (size_t) (p - decl));
            decl = p + 1;
        }
    }

    ck_assert_int_eq(depth, 0);
    names_sort(set, "sluice.h");
}

START_TEST(test_header_declares_the_list)
{
    names_t  listed = { .n = 0 }, declared = { .n = 0 };

    listed_names(&listed);
    declared_functions(&declared);
    names_equal(&declared, "sluice.h", &listed, "libsluice.sym");
}
END_TEST


/* --- (c) the header on its own ------------------------------------------- */

static void
syntax_check(const char *compiler, const char *lang, const char *std)
{
    sl_t_out_t  out;
    int         rc;

    rc = sl_t_run(((char *[]) { (char *) compiler, (char *) std, "-pedantic",
                                "-Wall", "-Wextra", "-Werror",
                                "-fsyntax-only", "-x", (char *) lang,
                                (char *) header(), NULL }), &out, T_TOOL);
    ck_assert_msg(rc == 0, "%s %s -fsyntax-only sluice.h: %d\n%s%s",
                  compiler, std, rc, out.err, out.out);
}

START_TEST(test_header_compiles_alone)
{
    sl_t_out_t  out;
    char       *dir = sl_t_mkdir();

    syntax_check("cc", "c", "-std=c11");

    /* included twice: the guard */
    sl_t_writef(dir, "twice.c", "#include \"%s\"\n#include \"%s\"\n"
                "int main(void) { return SL_OK; }\n", header(), header());
    tool((char *[]) { "cc", "-std=c11", "-pedantic", "-Wall", "-Wextra",
                      "-Werror", "-fsyntax-only",
                      sl_t_path(dir, "twice.c"), NULL });

    if (sl_t_run(((char *[]) { "c++", "--version", NULL }), &out, T_TOOL)
        == 127)
    {
        fprintf(stderr, "test_embed_symbols: no c++: sluice.h was not "
                "compiled as C++\n");
        return;
    }

    syntax_check("c++", "c++", "-std=c++11");
}
END_TEST

/* "#  include <x.h>": x.h, or NULL when the line is no #include */
static char *
included(const char *line, char *quote)
{
    const char  *p = line, *end;

    while (isspace((unsigned char) *p)) {
        p++;
    }
    if (*p++ != '#') {
        return NULL;
    }
    while (isspace((unsigned char) *p)) {
        p++;
    }
    if (strncmp(p, "include", 7) != 0) {
        return NULL;
    }
    for (p += 7; isspace((unsigned char) *p); p++) {
        /* void */
    }

    *quote = *p;
    end = strchr(p + 1, *p == '<' ? '>' : '"');
    ck_assert_msg(end != NULL, "sluice.h: a strange #include: %s", line);
    return sl_t_printf("%.*s", (int) (end - p - 1), p + 1);
}

static int
standard_header(const char *name)
{
    int  i;

    for (i = 0; standard_headers[i] != NULL; i++) {
        if (strcmp(standard_headers[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}

START_TEST(test_header_includes_standard_headers_only)
{
    char  *text, *line, *save, *name, quote;
    int    n = 0;

    text = sl_t_read(header());
    ck_assert_ptr_nonnull(text);

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        name = included(line, &quote);
        if (name == NULL) {
            continue;
        }
        ck_assert_msg(quote == '<' && standard_header(name), "sluice.h "
                      "includes %c%s%c, not a standard C header", quote, name,
                      quote == '<' ? '>' : quote);
        n++;
    }

    ck_assert_int_gt(n, 0);
}
END_TEST

/* a "#define NAME", as -dM prints it, in text */
static int
defines(const char *text, const char *name)
{
    return strstr(text, sl_t_printf("#define %s ", name)) != NULL
           || strstr(text, sl_t_printf("#define %s\n", name)) != NULL;
}

/*
 * No feature macro: none is #defined or #undefined in the file, and the
 * preprocessor knows none after reading it that it did not know before.
 */
START_TEST(test_header_defines_no_feature_macro)
{
    char  *text, *after, *before, *dir = sl_t_mkdir();
    int    i;

    text = sl_t_read(header());
    ck_assert_ptr_nonnull(text);

    sl_t_write(dir, "empty.c", "");
    after = tool((char *[]) { "cc", "-std=c11", "-dM", "-E", "-x", "c",
                              (char *) header(), NULL });
    before = tool((char *[]) { "cc", "-std=c11", "-dM", "-E",
                               sl_t_path(dir, "empty.c"), NULL });

    for (i = 0; feature_macros[i] != NULL; i++) {
        ck_assert_msg(strstr(text, feature_macros[i]) == NULL, "sluice.h "
                      "names %s", feature_macros[i]);
        ck_assert_msg(defines(after, feature_macros[i])
                      == defines(before, feature_macros[i]),
                      "sluice.h defines %s", feature_macros[i]);
    }
}
END_TEST


static Suite *
embed_symbols_suite(void)
{
    Suite  *s = suite_create("embed_symbols");
    TCase  *tc = tcase_create("abi");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_library_exports_the_list);
    tcase_add_test(tc, test_header_declares_the_list);
    tcase_add_test(tc, test_header_compiles_alone);
    tcase_add_test(tc, test_header_includes_standard_headers_only);
    tcase_add_test(tc, test_header_defines_no_feature_macro);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(embed_symbols_suite)
