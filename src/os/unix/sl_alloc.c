/*
 * sl_alloc.c -- the heap, with failures logged where they happen.
 */
#include "sl_config.h"
#include "sl_core.h"


void *
sl_alloc(size_t size, sl_log_t *log)
{
    void  *p;

    p = malloc(size);
    if (p == NULL) {
        sl_log_error(SL_LOG_EMERG, log, sl_errno, "malloc(%uz) failed", size);
    }

    return p;
}


void *
sl_calloc(size_t size, sl_log_t *log)
{
    void  *p;

    p = sl_alloc(size, log);
    if (p != NULL) {
        sl_memzero(p, size);
    }

    return p;
}


void *
sl_memalign(size_t alignment, size_t size, sl_log_t *log)
{
    void      *p;
    sl_err_t   err;

    /* posix_memalign() reports its error by return value, not errno */
    err = posix_memalign(&p, alignment, size);
    if (err != 0) {
        sl_log_error(SL_LOG_EMERG, log, err,
                     "posix_memalign(%uz, %uz) failed", alignment, size);
        return NULL;
    }

    return p;
}
