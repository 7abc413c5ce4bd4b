/*
 * sl_t_hostile.h -- what the hostile-condition suites (t/hostile) share:
 * their size, the figures they print, and the limits they raise.
 *
 * Every suite in t/hostile runs at two sizes. `make test` runs the small
 * one (a few hundred connections, seconds), so that each hostile path is
 * exercised on every change; `make test-hostile` sets SL_HOSTILE=full and
 * runs the sizes the issue names (thousands of connections, a minute of
 * reloads). The pass criteria are the same at both sizes; only the counts
 * and durations change. Under valgrind (SLUICE_WRAPPER set) a suite may
 * choose a smaller size still, never a weaker criterion.
 *
 * Figures are printed, one line each, as
 *     hostile: CHECK: what was measured
 * so that `make test-hostile | grep '^hostile:'` is the table that
 * bench/README.md quotes. Figures are never asserted against a clock.
 */
#ifndef SL_T_HOSTILE_H
#define SL_T_HOSTILE_H

#include <sys/types.h>

/* non-zero under `make test-hostile` (SL_HOSTILE=full) */
int sl_t_hostile_full(void);
/* small under make test, full under make test-hostile */
int sl_t_hostile_n(int small, int full);
/* non-zero when sluice runs under valgrind */
int sl_t_hostile_valgrind(void);
/*
 * Non-zero when sluice's resident memory says something about sluice:
 * zero in a build with AddressSanitizer, whose quarantine keeps freed
 * memory (256 MB by default) and whose redzones and shadow grow every
 * allocation, so that an RSS bound would measure ASan. There a suite
 * still prints its figures but asserts no RSS bound; `make test` and
 * `make test-valgrind` (with its own allowance) keep asserting them.
 */
int sl_t_hostile_rss_checked(void);

/* prints "hostile: CHECK: ..." to stdout, flushed */
void sl_t_hostile_figure(const char *check, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* the number of open descriptors of a process, or -1 (sl_t_master.c) */
int sl_t_fd_count(pid_t pid);

/*
 * Raises this process's RLIMIT_NOFILE soft limit to at least n (up to
 * the hard limit) and returns what it is now. A suite that needs more
 * than it got scales itself down and says so in a figure.
 */
long sl_t_raise_nofile(long n);

#endif /* SL_T_HOSTILE_H */
