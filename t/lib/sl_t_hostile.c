/*
 * sl_t_hostile.c -- the size, figures and limits of the hostile suites
 * (see sl_t_hostile.h). It starts nothing and waits for nothing.
 */
#include "sl_test.h"
#include "sl_t_hostile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int
sl_t_hostile_full(void)
{
    const char  *v = getenv("SL_HOSTILE");

    return v != NULL && strcmp(v, "full") == 0;
}

int
sl_t_hostile_n(int small, int full)
{
    return sl_t_hostile_full() ? full : small;
}

int
sl_t_hostile_valgrind(void)
{
    const char  *w = getenv("SLUICE_WRAPPER");

    return w != NULL && *w != '\0';
}


int
sl_t_hostile_rss_checked(void)
{
    return !SL_T_ASAN;
}

void
sl_t_hostile_figure(const char *check, const char *fmt, ...)
{
    va_list  ap;

    printf("hostile: %s: ", check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

long
sl_t_raise_nofile(long n)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }

    if ((long) rl.rlim_cur < n) {
        /* root may raise the hard limit too; others get what it allows */
        if (rl.rlim_max != RLIM_INFINITY && (long) rl.rlim_max < n) {
            struct rlimit  want = { (rlim_t) n, (rlim_t) n };

            if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
                return n;
            }
        }

        rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || (long) rl.rlim_max > n)
                      ? (rlim_t) n : rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }

    return (long) rl.rlim_cur;
}
