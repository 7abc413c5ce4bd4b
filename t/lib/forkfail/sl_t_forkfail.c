/*
 * sl_t_forkfail.c -- a fork() that fails on demand, for tests only: built
 * as $(B)/t/libsl_t_forkfail.so (t/run.sh exports its path as
 * SLUICE_FORKFAIL_LIB) and preloaded into a master (LD_PRELOAD) by
 * t/integ/test_process_spawnfail.c, to see what a master does when it
 * cannot spawn its workers. It lives in a directory of its own: every .c
 * file of t/lib itself is linked into every suite.
 *
 * SL_T_FORK_FAIL=PATH, read once when the library is loaded (a worker's
 * environment is trimmed): while the file PATH exists, every fork() fails
 * with EAGAIN, as it does when a user is out of processes. A test makes
 * the file and removes it; without the variable nothing fails.
 *
 * The real fork() is the next one in the lookup order (dlsym RTLD_NEXT):
 * a sanitizer's interceptor, or the C library's with its atfork handlers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

typedef pid_t (*sl_ff_fork_pt)(void);

static char  sl_ff_path[PATH_MAX];

__attribute__((constructor))
static void
sl_ff_init(void)
{
    const char  *v = getenv("SL_T_FORK_FAIL");

    if (v != NULL && (size_t) snprintf(sl_ff_path, sizeof(sl_ff_path), "%s",
                                       v) >= sizeof(sl_ff_path))
    {
        sl_ff_path[0] = '\0';
    }
}

pid_t
fork(void)
{
    static sl_ff_fork_pt  real;

    if (sl_ff_path[0] != '\0' && access(sl_ff_path, F_OK) == 0) {
        errno = EAGAIN;
        return -1;
    }

    if (real == NULL) {
        /* POSIX leaves this cast to the implementation; glibc allows it */
        *(void **) &real = dlsym(RTLD_NEXT, "fork");
        if (real == NULL) {
            errno = ENOSYS;
            return -1;
        }
    }

    return real();
}
