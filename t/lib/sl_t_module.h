/*
 * sl_t_module.h -- modules the suites build as a user builds one out of
 * tree: cc -shared -fPIC with pkg-config's flags against the installed
 * tree (sl_t_host.h), from a module directory whose config names its
 * sources in module_srcs (t/modules/NAME, examples/modules/NAME), into an
 * object that "load_module" loads.
 *
 * What it owns: reading a config's sources, the compiler's command line
 * for a module object, and building a directory's module once per run.
 * Which objects a suite needs, and where it keeps them, stay its own.
 *
 * Memory is sl_proc's (sl_proc.h): it lives until sl_t_cleanup(). A
 * failure fails the test at the caller's line.
 */
#ifndef SL_T_MODULE_H
#define SL_T_MODULE_H

#include "sl_proc.h"
#include "sl_t_host.h"

/* the sources dir/config names (module_srcs), as paths under dir */
#define sl_t_module_srcs(dir, srcs)                                           \
    sl_t_module_srcs_at(__FILE__, __LINE__, dir, srcs)

/*
 * Starts "cc -shared -fPIC <SLUICE_HOST_FLAGS> SL_T_HOST_CFLAGS [define]
 * -o object srcs words", words being pkg-config's (sl_t_host_pkg_config);
 * define may be NULL. Wait for it with sl_t_wait_exit().
 */
#define sl_t_module_cc(words, srcs, define, object)                           \
    sl_t_module_cc_at(__FILE__, __LINE__, words, srcs, define, object)

/*
 * The object of the module in dir (a path under the source tree,
 * "t/modules/zonehold"), built once per run: a file of SLUICE_TMP that
 * every test of the run shares, made whole (renamed into place) by the
 * first test that asks. Returns its path.
 */
#define sl_t_module_build(dir)                                                \
    sl_t_module_build_at(__FILE__, __LINE__, dir)


void sl_t_module_srcs_at(const char *file, int line, const char *dir,
    sl_t_args_t *srcs);
sl_t_proc_t *sl_t_module_cc_at(const char *file, int line,
    const sl_t_args_t *words, const sl_t_args_t *srcs, const char *define,
    const char *object);
const char *sl_t_module_build_at(const char *file, int line,
    const char *dir);

#endif /* SL_T_MODULE_H */
