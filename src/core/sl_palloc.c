/*
 * sl_palloc.c -- memory pools.
 *
 * A pool is a list of equally sized blocks. The first block starts with the
 * whole sl_pool_t, the others only with its sl_pool_data_t part. Requests up
 * to pool->max are carved from the blocks; bigger ones are malloc'd and
 * remembered in pool->large so that they are freed with the pool.
 */
#include "sl_config.h"
#include "sl_core.h"


/* a block that could not serve this many requests is no longer searched */
#define SL_POOL_MAX_FAILED   4

/* how many large slots to look at for a free one before adding a new one */
#define SL_POOL_LARGE_SCAN   4


static void *sl_palloc_small(sl_pool_t *pool, size_t size, int align);
static void *sl_palloc_block(sl_pool_t *pool, size_t size);
static void *sl_palloc_large(sl_pool_t *pool, size_t size);
static sl_int_t sl_pool_track_large(sl_pool_t *pool, void *p);
static void sl_pool_run_cleanups(sl_pool_t *pool);
static void sl_pool_free_large(sl_pool_t *pool);


sl_pool_t *
sl_create_pool(size_t size, sl_log_t *log)
{
    sl_pool_t  *p;

    /*
     * Room for the header and a few large slots at least; the size is
     * rounded down so that every block ends on an aligned address, which
     * keeps an aligned allocation from ever starting past d.end.
     */
    size = sl_max(size, SL_MIN_POOL_SIZE);
    size &= ~((size_t) SL_POOL_ALIGNMENT - 1);

    p = sl_memalign(SL_POOL_ALIGNMENT, size, log);
    if (p == NULL) {
        return NULL;
    }

    p->d.last = (u_char *) p + sizeof(sl_pool_t);
    p->d.end = (u_char *) p + size;
    p->d.next = NULL;
    p->d.failed = 0;

    p->max = sl_min(size - sizeof(sl_pool_t), SL_MAX_ALLOC_FROM_POOL);
    p->current = p;
    p->chain = NULL;
    p->large = NULL;
    p->cleanup = NULL;
    p->log = log;

    return p;
}


void
sl_destroy_pool(sl_pool_t *pool)
{
    sl_pool_t  *p, *next;

    if (pool == NULL) {
        return;
    }

    /* handlers may still look at pool memory, so they run first */
    sl_pool_run_cleanups(pool);
    sl_pool_free_large(pool);

    for (p = pool; p != NULL; p = next) {
        next = p->d.next;
        sl_free(p);
    }
}


void
sl_reset_pool(sl_pool_t *pool)
{
    sl_pool_t  *p;

    /*
     * The cleanup records live in the blocks about to be rewound, and what
     * they refer to is usually pool memory too: run them now rather than
     * keep records that the next allocations would overwrite.
     */
    sl_pool_run_cleanups(pool);
    sl_pool_free_large(pool);

    pool->d.last = (u_char *) pool + sizeof(sl_pool_t);
    pool->d.failed = 0;

    for (p = pool->d.next; p != NULL; p = p->d.next) {
        p->d.last = (u_char *) p + sizeof(sl_pool_data_t);
        p->d.failed = 0;
    }

    pool->current = pool;
    pool->chain = NULL;
}


void *
sl_palloc(sl_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return sl_palloc_small(pool, size, 1);
    }

    return sl_palloc_large(pool, size);
}


void *
sl_pnalloc(sl_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return sl_palloc_small(pool, size, 0);
    }

    return sl_palloc_large(pool, size);
}


void *
sl_pcalloc(sl_pool_t *pool, size_t size)
{
    void  *p;

    p = sl_palloc(pool, size);
    if (p != NULL) {
        sl_memzero(p, size);
    }

    return p;
}


void *
sl_pmemalign(sl_pool_t *pool, size_t size, size_t alignment)
{
    void  *p;

    /* the blocks only promise SL_ALIGNMENT, so this always goes large */
    p = sl_memalign(alignment, size, pool->log);
    if (p == NULL) {
        return NULL;
    }

    if (sl_pool_track_large(pool, p) != SL_OK) {
        sl_free(p);
        return NULL;
    }

    return p;
}


sl_int_t
sl_pfree(sl_pool_t *pool, void *p)
{
    sl_pool_large_t  *l;

    if (p == NULL) {
        return SL_DECLINED;
    }

    for (l = pool->large; l != NULL; l = l->next) {
        if (l->alloc == p) {
            sl_free(l->alloc);
            l->alloc = NULL;
            return SL_OK;
        }
    }

    return SL_DECLINED;
}


sl_pool_cleanup_t *
sl_pool_cleanup_add(sl_pool_t *p, size_t size)
{
    sl_pool_cleanup_t  *c;

    c = sl_palloc(p, sizeof(sl_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size > 0) {
        c->data = sl_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    /* pushed at the head, so the list runs from the newest to the oldest */
    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


static void *
sl_palloc_small(sl_pool_t *pool, size_t size, int align)
{
    u_char     *m;
    sl_pool_t  *p;

    for (p = pool->current; p != NULL; p = p->d.next) {
        m = p->d.last;

        if (align) {
            m = sl_align_ptr(m, SL_ALIGNMENT);
        }

        if ((size_t) (p->d.end - m) >= size) {
            p->d.last = m + size;
            return m;
        }
    }

    return sl_palloc_block(pool, size);
}


/* adds a block of the pool's size and serves the request from it */
static void *
sl_palloc_block(sl_pool_t *pool, size_t size)
{
    u_char     *m;
    size_t      psize;
    sl_pool_t  *p, *block, *tail;

    psize = (size_t) (pool->d.end - (u_char *) pool);

    m = sl_memalign(SL_POOL_ALIGNMENT, psize, pool->log);
    if (m == NULL) {
        return NULL;
    }

    block = (sl_pool_t *) m;
    block->d.end = m + psize;
    block->d.next = NULL;
    block->d.failed = 0;

    m = sl_align_ptr(m + sizeof(sl_pool_data_t), SL_ALIGNMENT);
    block->d.last = m + size;

    tail = pool->current;
    while (tail->d.next != NULL) {
        tail = tail->d.next;
    }

    tail->d.next = block;

    /*
     * Every block searched failed this request. Older blocks have failed
     * at least as often as newer ones, so skipping the worn-out ones is
     * just moving `current` forward.
     */
    for (p = pool->current; p != block; p = p->d.next) {
        if (++p->d.failed >= SL_POOL_MAX_FAILED) {
            pool->current = p->d.next;
        }
    }

    return m;
}


static void *
sl_palloc_large(sl_pool_t *pool, size_t size)
{
    void  *p;

    p = sl_alloc(size, pool->log);
    if (p == NULL) {
        return NULL;
    }

    if (sl_pool_track_large(pool, p) != SL_OK) {
        sl_free(p);
        return NULL;
    }

    return p;
}


/* remembers p in a slot freed by sl_pfree() or in a new one */
static sl_int_t
sl_pool_track_large(sl_pool_t *pool, void *p)
{
    sl_uint_t         n;
    sl_pool_large_t  *l;

    n = 0;

    for (l = pool->large; l != NULL && n < SL_POOL_LARGE_SCAN; l = l->next) {
        if (l->alloc == NULL) {
            l->alloc = p;
            return SL_OK;
        }

        n++;
    }

    l = sl_palloc_small(pool, sizeof(sl_pool_large_t), 1);
    if (l == NULL) {
        return SL_ERROR;
    }

    l->alloc = p;
    l->next = pool->large;
    pool->large = l;

    return SL_OK;
}


/* runs the handlers newest first, each once, and forgets them */
static void
sl_pool_run_cleanups(sl_pool_t *pool)
{
    sl_pool_cleanup_t  *c;

    for (c = pool->cleanup; c != NULL; c = c->next) {
        if (c->handler != NULL) {
            c->handler(c->data);
        }
    }

    pool->cleanup = NULL;
}


static void
sl_pool_free_large(sl_pool_t *pool)
{
    sl_pool_large_t  *l;

    for (l = pool->large; l != NULL; l = l->next) {
        if (l->alloc != NULL) {
            sl_free(l->alloc);
        }
    }

    pool->large = NULL;
}
