/*
 * sl_bufcache.c -- a cache of equal-sized buffers.
 */
#include "sl_config.h"
#include "sl_core.h"

void *
sl_bufcache_get(sl_bufcache_t *bc, sl_log_t *log)
{
    void  *p = bc->free;

    if (p == NULL) {
        /* a free buffer holds the list's link: never less than a pointer */
        return sl_memalign(SL_ALIGNMENT, sl_max(bc->size, sizeof(void *)),
                           log);
    }

    bc->free = *(void **) p;
    bc->nfree--;
    return p;
}

void
sl_bufcache_put(sl_bufcache_t *bc, void *p)
{
    if (bc->nfree >= bc->max) {
        sl_free(p);
        return;
    }

    *(void **) p = bc->free;
    bc->free = p;
    bc->nfree++;
}

void
sl_bufcache_drain(sl_bufcache_t *bc)
{
    void  *p;

    while (bc->free != NULL) {
        p = bc->free;
        bc->free = *(void **) p;
        sl_free(p);
    }

    bc->nfree = 0;
}
