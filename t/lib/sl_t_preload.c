/*
 * sl_t_preload.c -- see sl_t_preload.h. It owns the copy of the test's
 * ASAN_OPTIONS and the name of the control variable while they are
 * changed; it never changes anything else of the environment.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_preload.h"
#include "sl_proc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char  *saved_asan;
static char   control[64];
static int    changed;

void
sl_t_preload_begin(const char *lib, const char *var, const char *value)
{
    const char  *asan = getenv("ASAN_OPTIONS");

    sl_t_preload_end();

    /* malloc'd, not the arena's: the teardown may run after sl_t_cleanup */
    saved_asan = asan != NULL ? strdup(asan) : NULL;
    snprintf(control, sizeof(control), "%s", var);
    changed = 1;

    ck_assert_int_eq(setenv("ASAN_OPTIONS", sl_t_printf("%s%s"
                            "verify_asan_link_order=0",
                            asan ? saved_asan : "", asan ? ":" : ""), 1), 0);
    ck_assert_int_eq(setenv("LD_PRELOAD", lib, 1), 0);
    ck_assert_int_eq(setenv(var, value, 1), 0);
}

void
sl_t_preload_end(void)
{
    if (!changed) {
        return;
    }

    (void) unsetenv("LD_PRELOAD");
    (void) unsetenv(control);

    if (saved_asan != NULL) {
        (void) setenv("ASAN_OPTIONS", saved_asan, 1);
    } else {
        (void) unsetenv("ASAN_OPTIONS");
    }

    free(saved_asan);
    saved_asan = NULL;
    changed = 0;
}
