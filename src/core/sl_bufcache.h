/*
 * sl_bufcache.h -- a cache of equal-sized buffers.
 *
 * A protocol that holds a buffer only while data is in flight (echo, the
 * proxy) would otherwise pay a malloc() and a free() per message. The cache
 * keeps up to `max` released buffers for the next taker, and frees the
 * rest, so an idle connection still holds nothing and the memory kept is
 * bounded by max * size.
 */
#ifndef SL_BUFCACHE_H
#define SL_BUFCACHE_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct sl_bufcache_s  sl_bufcache_t;

struct sl_bufcache_s {
    size_t          size;
    void           *free;       /* a list through each buffer's first word */
    sl_uint_t       nfree;
    sl_uint_t       max;
    sl_bufcache_t  *next;       /* the owner's caches of other sizes */
};

/* a buffer of bc->size bytes, SL_ALIGNMENT aligned; NULL when out of memory */
void *sl_bufcache_get(sl_bufcache_t *bc, sl_log_t *log);
void sl_bufcache_put(sl_bufcache_t *bc, void *p);
/* frees every cached buffer */
void sl_bufcache_drain(sl_bufcache_t *bc);

#endif /* SL_BUFCACHE_H */
