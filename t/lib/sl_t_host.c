/*
 * sl_t_host.c -- argument vectors, and pkg-config against the installed
 * tree, for the suites that build host programs as a user would; see
 * sl_t_host.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_host.h"
#include "sl_proc.h"

#include <stdlib.h>
#include <string.h>

/* ck_assert_msg() at the caller's file and line */
#define sl_t_host_assert(file, line, expr, ...)                               \
    ((expr) ? _mark_point(file, line)                                         \
            : _ck_assert_failed(file, line, "Assertion '" #expr "' failed",   \
                                __VA_ARGS__))


/* --- argument vectors ---------------------------------------------------- */

void
sl_t_args_add_at(const char *file, int line, sl_t_args_t *a, const char *word)
{
    sl_t_host_assert(file, line, a->n < SL_T_ARGS_MAX,
                     "more than %d arguments", SL_T_ARGS_MAX);
    a->v[a->n++] = (char *) word;
    a->v[a->n] = NULL;
}

void
sl_t_args_split_at(const char *file, int line, sl_t_args_t *a,
    const char *text)
{
    char  *copy = sl_t_printf("%s", text), *save, *w;

    for (w = strtok_r(copy, " \t\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\n", &save))
    {
        sl_t_args_add_at(file, line, a, w);
    }
}

void
sl_t_args_append_at(const char *file, int line, sl_t_args_t *a,
    const sl_t_args_t *b)
{
    int  i;

    for (i = 0; i < b->n; i++) {
        sl_t_args_add_at(file, line, a, b->v[i]);
    }
}

char *
sl_t_args_text(const sl_t_args_t *a)
{
    char  *s = sl_t_printf("%s", a->n > 0 ? a->v[0] : "");
    int    i;

    for (i = 1; i < a->n; i++) {
        s = sl_t_printf("%s %s", s, a->v[i]);
    }

    return s;
}


/* --- the installed tree, through pkg-config ------------------------------ */

const char *
sl_t_host_env_at(const char *file, int line, const char *name)
{
    const char  *v = getenv(name);

    sl_t_host_assert(file, line, v != NULL && v[0] != '\0',
                     "%s is not set: build with `make -f BUILDDIR/Makefile "
                     "tests` (it installs into BUILDDIR/t/destdir) and run "
                     "with `sh t/run.sh BUILDDIR`", name);
    return v;
}

void
sl_t_host_pkg_config_at(const char *file, int line, sl_t_args_t *words,
    int libs, int static_libs)
{
    const char   *destdir = sl_t_host_env_at(file, line, "SLUICE_DESTDIR");
    const char   *pcdir = sl_t_host_env_at(file, line,
                                           "SLUICE_PKG_CONFIG_PATH");
    sl_t_out_t    out;
    sl_t_args_t   cmd = { .n = 0 };
    int           rc;

    sl_t_host_assert(file, line, sl_t_exists(sl_t_path(pcdir, "sluice.pc")),
                     "no sluice.pc in SLUICE_PKG_CONFIG_PATH=%s", pcdir);

    sl_t_args_add_at(file, line, &cmd, "env");
    sl_t_args_add_at(file, line, &cmd,
                     sl_t_printf("PKG_CONFIG_PATH=%s", pcdir));
    sl_t_args_add_at(file, line, &cmd,
                     sl_t_printf("PKG_CONFIG_SYSROOT_DIR=%s", destdir));
    sl_t_args_add_at(file, line, &cmd, "pkg-config");
    sl_t_args_add_at(file, line, &cmd, "--cflags");
    if (libs) {
        sl_t_args_add_at(file, line, &cmd, "--libs");
    }
    if (static_libs) {
        sl_t_args_add_at(file, line, &cmd, "--static");
    }
    sl_t_args_add_at(file, line, &cmd, "sluice");

    rc = sl_t_run_at(file, line, NULL, cmd.v, &out, SL_T_HOST_BUILD_MS);
    sl_t_host_assert(file, line, rc == 0, "`%s` failed (%s): %s%s",
                     sl_t_args_text(&cmd),
                     rc == 127 ? "is pkg-config installed?" : "exit status",
                     out.out, out.err);

    sl_t_host_assert(file, line,
                     strstr(out.out, sl_t_printf("-I%s/", destdir)) != NULL,
                     "pkg-config's flags do not point into %s: %s", destdir,
                     out.out);
    sl_t_host_assert(file, line,
                     !libs || strstr(out.out, sl_t_printf("-L%s/", destdir))
                              != NULL,
                     "pkg-config's libraries are not in %s: %s", destdir,
                     out.out);

    sl_t_args_split_at(file, line, words, out.out);
}

void
sl_t_host_use_archive_at(const char *file, int line, sl_t_args_t *words)
{
    int  i, found = 0;

    for (i = 0; i < words->n; i++) {
        if (strcmp(words->v[i], "-lsluice") == 0) {
            words->v[i] = "-l:libsluice.a";
            found = 1;
        }
    }

    sl_t_host_assert(file, line, found,
                     "no -lsluice in pkg-config --static's words");
}

int
sl_t_host_sanitized(void)
{
    const char  *flags = getenv("SLUICE_HOST_FLAGS");

    return flags != NULL && strstr(flags, "-fsanitize") != NULL;
}

void
sl_t_host_flags(sl_t_args_t *cc)
{
    const char  *flags = getenv("SLUICE_HOST_FLAGS");

    if (flags != NULL) {
        sl_t_args_split(cc, flags);
    }
}
