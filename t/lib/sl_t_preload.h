/*
 * sl_t_preload.h -- starting sluice with a test library preloaded (the
 * failing splice() of t/lib/splicefail, the failing fork() of
 * t/lib/forkfail): LD_PRELOAD and the library's control variable are set
 * for the processes started between begin and end, and only for them.
 *
 * Under ASan a preloaded library comes before the shared ASan runtime;
 * ASAN_OPTIONS gains verify_asan_link_order=0 meanwhile, so that ASan
 * allows it. The test's own environment is put back by
 * sl_t_preload_end(), which is also a checked teardown: a start that
 * fails half-way leaves nothing behind.
 */
#ifndef SL_T_PRELOAD_H
#define SL_T_PRELOAD_H

void sl_t_preload_begin(const char *lib, const char *var, const char *value);
void sl_t_preload_end(void);

#endif /* SL_T_PRELOAD_H */
