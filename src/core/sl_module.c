/*
 * sl_module.c -- numbering the static module list.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <pthread.h>

static pthread_once_t  sl_modules_once = PTHREAD_ONCE_INIT;

static void
sl_number_modules(void)
{
    sl_uint_t  i, j;

    for (i = 0; sl_modules[i] != NULL; i++) {
        sl_modules[i]->index = i;
        sl_modules[i]->ctx_index = 0;

        /* the position among the earlier modules of the same type */
        for (j = 0; j < i; j++) {
            if (sl_modules[j]->type == sl_modules[i]->type) {
                sl_modules[i]->ctx_index++;
            }
        }
    }
}

void
sl_preinit_modules(void)
{
    (void) pthread_once(&sl_modules_once, sl_number_modules);
}

sl_uint_t
sl_count_modules(sl_uint_t type)
{
    sl_uint_t  i, n = 0;

    for (i = 0; sl_modules[i] != NULL; i++) {
        if (sl_modules[i]->type == type) {
            n++;
        }
    }

    return n;
}

sl_uint_t
sl_modules_total(void)
{
    sl_uint_t  n = 0;

    while (sl_modules[n] != NULL) {
        n++;
    }

    return n;
}

sl_int_t
sl_modules_init_process(sl_cycle_t *cycle)
{
    sl_uint_t  i;

    for (i = 0; sl_modules[i] != NULL; i++) {
        if (sl_modules[i]->init_process != NULL
            && sl_modules[i]->init_process(cycle) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

void
sl_modules_exit_process(sl_cycle_t *cycle)
{
    sl_uint_t  i;

    for (i = 0; sl_modules[i] != NULL; i++) {
        if (sl_modules[i]->exit_process != NULL) {
            sl_modules[i]->exit_process(cycle);
        }
    }
}
