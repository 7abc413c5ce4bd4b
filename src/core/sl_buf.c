/*
 * sl_buf.c -- memory buffers and chains of them.
 */
#include "sl_config.h"
#include "sl_core.h"


sl_buf_t *
sl_create_temp_buf(sl_pool_t *pool, size_t size)
{
    sl_buf_t  *b;

    b = sl_calloc_buf(pool);
    if (b == NULL) {
        return NULL;
    }

    b->start = sl_palloc(pool, size);
    if (b->start == NULL) {
        return NULL;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + size;
    b->temporary = 1;

    return b;
}


sl_chain_t *
sl_create_chain_of_bufs(sl_pool_t *pool, sl_bufs_t *bufs)
{
    u_char      *p;
    sl_int_t     i;
    sl_buf_t    *b;
    sl_chain_t  *chain, *cl, **ll;

    if (bufs->num <= 0
        || bufs->size > SL_MAX_SIZE_T_VALUE / (size_t) bufs->num)
    {
        return NULL;
    }

    /* one piece of memory for all of them: fewer allocations, locality */
    p = sl_palloc(pool, (size_t) bufs->num * bufs->size);
    if (p == NULL) {
        return NULL;
    }

    chain = NULL;
    ll = &chain;

    for (i = 0; i < bufs->num; i++) {
        b = sl_calloc_buf(pool);
        if (b == NULL) {
            return NULL;
        }

        b->start = p;
        b->pos = p;
        b->last = p;
        p += bufs->size;
        b->end = p;
        b->temporary = 1;

        cl = sl_alloc_chain_link(pool);
        if (cl == NULL) {
            return NULL;
        }

        cl->buf = b;
        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;

    return chain;
}


sl_chain_t *
sl_alloc_chain_link(sl_pool_t *pool)
{
    sl_chain_t  *cl;

    cl = pool->chain;
    if (cl != NULL) {
        pool->chain = cl->next;
        return cl;
    }

    return sl_palloc(pool, sizeof(sl_chain_t));
}


sl_int_t
sl_chain_add_copy(sl_pool_t *pool, sl_chain_t **chain, sl_chain_t *in)
{
    sl_chain_t  *cl, **ll;

    ll = chain;
    while (*ll != NULL) {
        ll = &(*ll)->next;
    }

    for ( /* void */ ; in != NULL; in = in->next) {
        cl = sl_alloc_chain_link(pool);
        if (cl == NULL) {
            *ll = NULL;
            return SL_ERROR;
        }

        cl->buf = in->buf;
        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;

    return SL_OK;
}


sl_chain_t *
sl_chain_get_free_buf(sl_pool_t *p, sl_chain_t **free)
{
    sl_chain_t  *cl;

    if (*free != NULL) {
        cl = *free;
        *free = cl->next;
        cl->next = NULL;
        return cl;
    }

    cl = sl_alloc_chain_link(p);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = sl_calloc_buf(p);
    if (cl->buf == NULL) {
        return NULL;
    }

    cl->next = NULL;

    return cl;
}


void
sl_chain_update_chains(sl_pool_t *p, sl_chain_t **free, sl_chain_t **busy,
    sl_chain_t **out, sl_buf_tag_t tag)
{
    sl_buf_t     *b;
    sl_chain_t   *cl, **ll;

    if (*out != NULL) {
        ll = busy;
        while (*ll != NULL) {
            ll = &(*ll)->next;
        }

        *ll = *out;
        *out = NULL;
    }

    /* buffers are sent in order: stop at the first one with data left */
    while (*busy != NULL) {
        cl = *busy;
        b = cl->buf;

        if (sl_buf_size(b) != 0) {
            return;
        }

        *busy = cl->next;

        /* somebody else's buffer: only the link is ours to recycle */
        if (b->tag != tag) {
            sl_free_chain(p, cl);
            continue;
        }

        b->pos = b->start;
        b->last = b->start;
        b->flush = 0;
        b->last_buf = 0;
        b->last_in_chain = 0;

        cl->next = *free;
        *free = cl;
    }
}


off_t
sl_chain_size(sl_chain_t *in)
{
    off_t  size;

    size = 0;

    for ( /* void */ ; in != NULL; in = in->next) {
        size += sl_buf_size(in->buf);
    }

    return size;
}


sl_chain_t *
sl_chain_update_sent(sl_chain_t *in, off_t sent)
{
    off_t  size;

    for ( /* void */ ; in != NULL; in = in->next) {
        size = sl_buf_size(in->buf);

        /* an empty buffer (a flush or last_buf marker too) is done */
        if (size == 0) {
            continue;
        }

        if (sent == 0) {
            return in;
        }

        if (sent < size) {
            in->buf->pos += (size_t) sent;
            return in;
        }

        sent -= size;
        in->buf->pos = in->buf->last;
    }

    return NULL;
}
