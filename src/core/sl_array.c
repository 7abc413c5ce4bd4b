/*
 * sl_array.c -- a growable array of fixed-size elements in a pool.
 *
 * When the elements are the last thing carved from a pool block and the
 * block has room, the array grows in place; otherwise the elements are
 * copied to a new piece of the pool twice the size.
 */
#include "sl_config.h"
#include "sl_core.h"


static sl_pool_t *sl_array_tail_block(sl_pool_t *pool, u_char *end);
static sl_int_t sl_array_grow(sl_array_t *a, sl_uint_t n);


sl_array_t *
sl_array_create(sl_pool_t *p, sl_uint_t n, size_t size)
{
    sl_array_t  *a;

    a = sl_palloc(p, sizeof(sl_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (sl_array_init(a, p, n, size) != SL_OK) {
        return NULL;
    }

    return a;
}


sl_int_t
sl_array_init(sl_array_t *array, sl_pool_t *pool, sl_uint_t n, size_t size)
{
    array->nelts = 0;
    array->size = size;
    array->nalloc = n;
    array->pool = pool;

    if (size != 0 && n > SL_MAX_SIZE_T_VALUE / size) {
        array->elts = NULL;
        return SL_ERROR;
    }

    array->elts = sl_palloc(pool, n * size);
    if (array->elts == NULL) {
        return SL_ERROR;
    }

    return SL_OK;
}


void
sl_array_destroy(sl_array_t *a)
{
    u_char     *elts_end;
    sl_pool_t  *block;

    elts_end = (u_char *) a->elts + a->size * a->nalloc;

    block = sl_array_tail_block(a->pool, elts_end);
    if (block == NULL) {
        return;
    }

    block->d.last = a->elts;

    /* the header too, when it was allocated right before the elements */
    if ((u_char *) a + sizeof(sl_array_t) == block->d.last) {
        block->d.last = (u_char *) a;
    }
}


void *
sl_array_push(sl_array_t *a)
{
    return sl_array_push_n(a, 1);
}


void *
sl_array_push_n(sl_array_t *a, sl_uint_t n)
{
    void  *elt;

    if (n > a->nalloc - a->nelts && sl_array_grow(a, n) != SL_OK) {
        return NULL;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts += n;

    return elt;
}


/*
 * The block, from the current one on, whose free space begins exactly at
 * `end`. Blocks before pool->current are full, so they are not searched.
 */
static sl_pool_t *
sl_array_tail_block(sl_pool_t *pool, u_char *end)
{
    sl_pool_t  *p;

    for (p = pool->current; p != NULL; p = p->d.next) {
        if (p->d.last == end) {
            return p;
        }
    }

    return NULL;
}


/* makes room for n more elements than are in use */
static sl_int_t
sl_array_grow(sl_array_t *a, sl_uint_t n)
{
    void       *elts;
    size_t      old, need, limit;
    sl_uint_t   nalloc;
    sl_pool_t  *block;

    /* keeps 2 * size * max(n, nalloc) below overflow */
    limit = SL_MAX_SIZE_T_VALUE / 2 / (a->size ? a->size : 1);
    if (n > limit || a->nalloc > limit) {
        return SL_ERROR;
    }

    old = a->size * a->nalloc;

    need = a->size * (a->nelts + n - a->nalloc);

    block = sl_array_tail_block(a->pool, (u_char *) a->elts + old);

    if (block != NULL && need <= (size_t) (block->d.end - block->d.last)) {
        block->d.last += need;
        a->nalloc = a->nelts + n;
        return SL_OK;
    }

    /* at least doubles; nalloc + n >= nelts + n is enough room */
    nalloc = 2 * sl_max(n, a->nalloc);

    elts = sl_palloc(a->pool, a->size * nalloc);
    if (elts == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(elts, a->elts, a->size * a->nelts);

    /* a big old array was malloc'd on its own: don't keep it until the end */
    if (old > a->pool->max) {
        (void) sl_pfree(a->pool, a->elts);
    }

    a->elts = elts;
    a->nalloc = nalloc;

    return SL_OK;
}
