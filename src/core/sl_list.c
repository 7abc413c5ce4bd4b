/*
 * sl_list.c -- a list of fixed-size parts; elements never move once pushed.
 */
#include "sl_config.h"
#include "sl_core.h"


sl_list_t *
sl_list_create(sl_pool_t *pool, sl_uint_t n, size_t size)
{
    sl_list_t  *list;

    list = sl_palloc(pool, sizeof(sl_list_t));
    if (list == NULL) {
        return NULL;
    }

    if (sl_list_init(list, pool, n, size) != SL_OK) {
        return NULL;
    }

    return list;
}


sl_int_t
sl_list_init(sl_list_t *list, sl_pool_t *pool, sl_uint_t n, size_t size)
{
    /* a part must hold something, or a push could never succeed */
    if (n == 0 || (size != 0 && n > SL_MAX_SIZE_T_VALUE / size)) {
        return SL_ERROR;
    }

    list->part.elts = sl_palloc(pool, n * size);
    if (list->part.elts == NULL) {
        return SL_ERROR;
    }

    list->part.nelts = 0;
    list->part.next = NULL;
    list->last = &list->part;
    list->size = size;
    list->nalloc = n;
    list->pool = pool;

    return SL_OK;
}


void *
sl_list_push(sl_list_t *list)
{
    void            *elt;
    sl_list_part_t  *last;

    last = list->last;

    /* a full part stays where it is; a new one is chained after it */
    if (last->nelts == list->nalloc) {
        last = sl_palloc(list->pool, sizeof(sl_list_part_t));
        if (last == NULL) {
            return NULL;
        }

        last->elts = sl_palloc(list->pool, list->nalloc * list->size);
        if (last->elts == NULL) {
            return NULL;
        }

        last->nelts = 0;
        last->next = NULL;

        list->last->next = last;
        list->last = last;
    }

    elt = (u_char *) last->elts + list->size * last->nelts;
    last->nelts++;

    return elt;
}
