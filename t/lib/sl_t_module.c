/*
 * sl_t_module.c -- building module objects out of tree for the suites;
 * see sl_t_module.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ck_assert_msg() at the caller's file and line */
#define sl_t_module_assert(file, line, expr, ...)                             \
    ((expr) ? _mark_point(file, line)                                         \
            : _ck_assert_failed(file, line, "Assertion '" #expr "' failed",   \
                                __VA_ARGS__))


void
sl_t_module_srcs_at(const char *file, int line, const char *dir,
    sl_t_args_t *srcs)
{
    sl_t_args_t  names = { .n = 0 };
    sl_t_out_t   out;
    int          i, rc;

    rc = sl_t_run_at(file, line, NULL, ((char *[]) { "sh", "-c",
                     sl_t_printf(". '%s/config' && echo \"$module_srcs\"",
                                 dir), NULL }), &out, SL_T_HOST_BUILD_MS);
    sl_t_module_assert(file, line, rc == 0, "reading %s/config: %s", dir,
                       out.err);

    sl_t_args_split_at(file, line, &names, out.out);
    sl_t_module_assert(file, line, names.n > 0, "%s/config names no "
                       "module_srcs", dir);

    for (i = 0; i < names.n; i++) {
        sl_t_args_add_at(file, line, srcs, sl_t_path(dir, names.v[i]));
    }
}

sl_t_proc_t *
sl_t_module_cc_at(const char *file, int line, const sl_t_args_t *words,
    const sl_t_args_t *srcs, const char *define, const char *object)
{
    sl_t_args_t  cc = { .n = 0 };

    sl_t_args_split_at(file, line, &cc, "cc -shared -fPIC");
    sl_t_host_flags(&cc);
    sl_t_args_split_at(file, line, &cc, SL_T_HOST_CFLAGS);
    if (define != NULL) {
        sl_t_args_add_at(file, line, &cc, define);
    }
    sl_t_args_add_at(file, line, &cc, "-o");
    sl_t_args_add_at(file, line, &cc, object);
    sl_t_args_append_at(file, line, &cc, srcs);
    sl_t_args_append_at(file, line, &cc, words);

    return sl_t_spawn_at(file, line, NULL, cc.v);
}

const char *
sl_t_module_build_at(const char *file, int line, const char *dir)
{
    sl_t_args_t   words = { .n = 0 }, srcs = { .n = 0 };
    sl_t_proc_t  *cc;
    const char   *tmp = getenv("SLUICE_TMP");
    char         *name, *so, *part, *p;
    int           status;

    sl_t_module_assert(file, line, tmp != NULL && tmp[0] != '\0',
                       "SLUICE_TMP is not set (t/run.sh sets it)");

    /* "t/modules/zonehold": SLUICE_TMP/modules/t_modules_zonehold.so */
    name = sl_t_printf("%s", dir);
    for (p = name; *p != '\0'; p++) {
        *p = *p == '/' ? '_' : *p;
    }
    so = sl_t_path(tmp, sl_t_printf("modules/%s.so", name));
    if (sl_t_exists(so)) {
        return so;
    }

    sl_t_writef_at(file, line, tmp, "modules/.keep", "%s", "");
    part = sl_t_printf("%s.%d", so, (int) getpid());

    sl_t_host_pkg_config_at(file, line, &words, 0, 0);
    sl_t_module_srcs_at(file, line, sl_t_path(sl_t_src_at(file, line), dir),
                        &srcs);

    cc = sl_t_module_cc_at(file, line, &words, &srcs, NULL, part);
    status = sl_t_wait_exit_at(file, line, cc, SL_T_HOST_BUILD_MS);
    sl_t_module_assert(file, line, status == 0, "building %s: %s:\n%s", so,
                       sl_t_status_text(status), sl_t_stderr(cc));

    sl_t_module_assert(file, line, rename(part, so) == 0, "rename(%s, %s): "
                       "%s", part, so, strerror(errno));
    return so;
}
