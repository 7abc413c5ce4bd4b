/*
 * sl_array.h -- a growable array of fixed-size elements in a pool.
 */
#ifndef SL_ARRAY_H
#define SL_ARRAY_H

#include "sl_config.h"
#include "sl_palloc.h"

typedef struct {
    void        *elts;
    sl_uint_t    nelts;
    size_t       size;
    sl_uint_t    nalloc;
    sl_pool_t   *pool;
} sl_array_t;

sl_array_t *sl_array_create(sl_pool_t *p, sl_uint_t n, size_t size);
sl_int_t sl_array_init(sl_array_t *array, sl_pool_t *pool, sl_uint_t n,
    size_t size);
/* gives the memory back to the pool when it is the pool's last block */
void sl_array_destroy(sl_array_t *a);
void *sl_array_push(sl_array_t *a);
void *sl_array_push_n(sl_array_t *a, sl_uint_t n);

#endif /* SL_ARRAY_H */
