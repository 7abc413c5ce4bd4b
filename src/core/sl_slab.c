/*
 * sl_slab.c -- the zone allocator: pages, runs of pages, and chunks of
 * one size class per page (see sl_slab.h for the layout).
 *
 * Each page has a descriptor. A free run is marked at its first page
 * (SL_SLAB_FREE, with its length) and, when longer than one page, at its
 * last (SL_SLAB_TAIL, pointing back to the first): freeing a run looks at
 * the page before it and the page after it and merges what is free. Every
 * other page of a run is SL_SLAB_INNER, so that a pointer into the middle
 * of anything is refused rather than freed.
 *
 * A chunk page keeps its free chunks as a list threaded through the
 * chunks themselves (a 16-bit index in each), and hands out never-used
 * chunks in order after that (fresh), so that a new page costs no
 * initialisation. A page whose last chunk comes back is a free page again.
 *
 * This file must never log or call into another process's memory: it
 * runs under the zone's lock, in whichever process holds it.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_slab.h"

enum {
    SL_SLAB_INNER = 0,      /* inside a run; never a valid pointer */
    SL_SLAB_FREE,           /* the first page of a free run */
    SL_SLAB_TAIL,           /* the last page of a free run of 2 or more */
    SL_SLAB_BUSY,           /* the first page of an allocated run */
    SL_SLAB_CHUNKS          /* a page of chunks of one class */
};

#define SL_SLAB_NONE  0xffff      /* the end of a page's free chunk list */

#define sl_slab_page_addr(pool, page)                                        \
    ((pool)->start + ((size_t) ((page) - (pool)->pages) << SL_SLAB_PAGE_SHIFT))

static void
sl_slab_list_init(sl_slab_page_t *head)
{
    head->next = head;
    head->prev = head;
}

static void
sl_slab_list_insert(sl_slab_page_t *head, sl_slab_page_t *page)
{
    page->next = head->next;
    page->prev = head;
    head->next->prev = page;
    head->next = page;
}

static void
sl_slab_list_remove(sl_slab_page_t *page)
{
    page->prev->next = page->next;
    page->next->prev = page->prev;
    page->next = NULL;
    page->prev = NULL;
}

/* marks [page, page + n) as one free run and lists it */
static void
sl_slab_mark_free(sl_slab_pool_t *pool, sl_slab_page_t *page, sl_uint_t n)
{
    page->kind = SL_SLAB_FREE;
    page->pages = (uint32_t) n;

    if (n > 1) {
        page[n - 1].kind = SL_SLAB_TAIL;
        page[n - 1].next = page;
    }

    sl_slab_list_insert(&pool->free, page);
}

sl_int_t
sl_slab_init(void *addr, size_t size, const sl_str_t *zone)
{
    sl_slab_pool_t  *pool = addr;
    u_char          *base, *end;
    sl_uint_t        n, i;
    size_t           head;

    if (size < sizeof(sl_slab_pool_t) + 2 * SL_SLAB_PAGE_SIZE) {
        return SL_ERROR;
    }

    sl_memzero(pool, sizeof(sl_slab_pool_t));
    base = (u_char *) addr;
    end = base + size;
    head = sl_align(sizeof(sl_slab_pool_t), sizeof(void *));

    /* as many pages as fit beside their descriptors, pages aligned */
    n = (size - head) / (SL_SLAB_PAGE_SIZE + sizeof(sl_slab_page_t));
    while (n > 0
           && (u_char *) sl_align_ptr(base + head
                                      + n * sizeof(sl_slab_page_t),
                                      SL_SLAB_PAGE_SIZE)
              + (n << SL_SLAB_PAGE_SHIFT) > end)
    {
        n--;
    }

    if (n == 0) {
        return SL_ERROR;
    }

    pool->pages = (sl_slab_page_t *) (base + head);
    pool->last = pool->pages + n;
    pool->start = sl_align_ptr((u_char *) pool->last, SL_SLAB_PAGE_SIZE);
    pool->end = end;
    pool->addr = addr;
    pool->pages_total = n;
    pool->pages_free = n;

    sl_memzero(pool->pages, n * sizeof(sl_slab_page_t));
    sl_slab_list_init(&pool->free);
    for (i = 0; i < SL_SLAB_CLASSES; i++) {
        sl_slab_list_init(&pool->partial[i]);
    }
    sl_slab_mark_free(pool, pool->pages, n);

    (void) sl_snprintf((u_char *) pool->log_ctx, SL_SLAB_LOG_CTX_LEN - 1,
                       " in zone \"%V\"%Z", zone);
    pool->log_ctx[SL_SLAB_LOG_CTX_LEN - 1] = '\0';

    return SL_OK;
}

/* n whole pages, first fit; NULL when no free run is long enough */
static sl_slab_page_t *
sl_slab_alloc_pages(sl_slab_pool_t *pool, sl_uint_t n)
{
    sl_slab_page_t  *page;
    sl_uint_t        have, i;

    for (page = pool->free.next; page != &pool->free; page = page->next) {
        have = page->pages;
        if (have < n) {
            continue;
        }

        sl_slab_list_remove(page);
        if (have > n) {
            sl_slab_mark_free(pool, page + n, have - n);
        }

        for (i = 1; i < n; i++) {
            page[i].kind = SL_SLAB_INNER;
        }
        page->kind = SL_SLAB_BUSY;
        page->pages = (uint32_t) n;
        pool->pages_free -= n;
        return page;
    }

    return NULL;
}

/* gives back the run [page, page + n), merged with its free neighbours */
static void
sl_slab_free_pages(sl_slab_pool_t *pool, sl_slab_page_t *page, sl_uint_t n)
{
    sl_slab_page_t  *next, *prev;
    sl_uint_t        i;

    pool->pages_free += n;
    for (i = 0; i < n; i++) {
        page[i].kind = SL_SLAB_INNER;
    }

    next = page + n;
    if (next < pool->last && next->kind == SL_SLAB_FREE) {
        sl_slab_list_remove(next);
        n += next->pages;
        next->kind = SL_SLAB_INNER;
    }

    if (page > pool->pages) {
        prev = page - 1;
        if (prev->kind == SL_SLAB_TAIL) {
            prev = prev->next;
        }

        if (prev->kind == SL_SLAB_FREE) {
            sl_slab_list_remove(prev);
            n += prev->pages;
            page[-1].kind = SL_SLAB_INNER;
            page = prev;
        }
    }

    sl_slab_mark_free(pool, page, n);
}

static sl_uint_t
sl_slab_shift(size_t size)
{
    sl_uint_t  shift = SL_SLAB_MIN_SHIFT;

    while (((size_t) 1 << shift) < size) {
        shift++;
    }

    return shift;
}

/* a chunk of 1 << shift bytes from a part-used page, or a new page */
static void *
sl_slab_alloc_chunk(sl_slab_pool_t *pool, sl_uint_t shift)
{
    sl_slab_page_t  *head, *page;
    sl_slab_stat_t  *stat;
    sl_uint_t        cap, idx;
    u_char          *p;

    head = &pool->partial[shift - SL_SLAB_MIN_SHIFT];
    stat = &pool->stats[shift - SL_SLAB_MIN_SHIFT];
    cap = SL_SLAB_PAGE_SIZE >> shift;

    page = head->next;
    if (page == head) {
        page = sl_slab_alloc_pages(pool, 1);
        if (page == NULL) {
            return NULL;
        }
        page->kind = SL_SLAB_CHUNKS;
        page->shift = (uint16_t) shift;
        page->used = 0;
        page->fresh = 0;
        page->free = SL_SLAB_NONE;
        sl_slab_list_insert(head, page);
        stat->total += cap;
    }

    if (page->free != SL_SLAB_NONE) {
        idx = page->free;
        p = sl_slab_page_addr(pool, page) + (idx << shift);
        page->free = *(uint16_t *) p;
    } else {
        idx = page->fresh++;
        p = sl_slab_page_addr(pool, page) + (idx << shift);
    }

    if (++page->used == cap) {
        sl_slab_list_remove(page);      /* full: no longer a candidate */
    }
    stat->used++;

    return p;
}

void *
sl_slab_alloc_locked(sl_slab_pool_t *pool, size_t size)
{
    sl_slab_page_t  *page;
    sl_uint_t        shift;
    void            *p;

    if (size <= ((size_t) 1 << SL_SLAB_MAX_SHIFT)) {
        shift = sl_slab_shift(size);
        p = sl_slab_alloc_chunk(pool, shift);
        pool->stats[shift - SL_SLAB_MIN_SHIFT].reqs++;
        if (p == NULL) {
            pool->stats[shift - SL_SLAB_MIN_SHIFT].fails++;
        }
        return p;
    }

    if (size > (size_t) (pool->end - pool->start)) {
        return NULL;
    }

    page = sl_slab_alloc_pages(pool, (size + SL_SLAB_PAGE_SIZE - 1)
                                     >> SL_SLAB_PAGE_SHIFT);
    return page != NULL ? sl_slab_page_addr(pool, page) : NULL;
}

void *
sl_slab_alloc(sl_slab_pool_t *pool, size_t size)
{
    void  *p;

    sl_shmtx_lock(&pool->mutex);
    p = sl_slab_alloc_locked(pool, size);
    sl_shmtx_unlock(&pool->mutex);

    return p;
}

void *
sl_slab_calloc_locked(sl_slab_pool_t *pool, size_t size)
{
    void  *p;

    p = sl_slab_alloc_locked(pool, size);
    if (p != NULL) {
        sl_memzero(p, size);
    }

    return p;
}

void *
sl_slab_calloc(sl_slab_pool_t *pool, size_t size)
{
    void  *p;

    sl_shmtx_lock(&pool->mutex);
    p = sl_slab_calloc_locked(pool, size);
    sl_shmtx_unlock(&pool->mutex);

    return p;
}

/* p in a chunk page: back on the page's list, the page freed when empty */
static sl_int_t
sl_slab_free_chunk(sl_slab_pool_t *pool, sl_slab_page_t *page, u_char *p)
{
    sl_uint_t  shift = page->shift, cap, idx;
    size_t     off;

    off = (size_t) (p - sl_slab_page_addr(pool, page));
    idx = off >> shift;
    if ((off & (((size_t) 1 << shift) - 1)) != 0 || idx >= page->fresh
        || page->used == 0)
    {
        return SL_ERROR;                /* not a chunk handed out */
    }

    cap = SL_SLAB_PAGE_SIZE >> shift;
    if (page->used == cap) {
        sl_slab_list_insert(&pool->partial[shift - SL_SLAB_MIN_SHIFT], page);
    }

    *(uint16_t *) p = page->free;
    page->free = (uint16_t) idx;
    page->used--;
    pool->stats[shift - SL_SLAB_MIN_SHIFT].used--;

    if (page->used == 0) {
        sl_slab_list_remove(page);
        pool->stats[shift - SL_SLAB_MIN_SHIFT].total -= cap;
        sl_slab_free_pages(pool, page, 1);
    }

    return SL_OK;
}

sl_int_t
sl_slab_free_locked(sl_slab_pool_t *pool, void *p)
{
    sl_slab_page_t  *page;
    u_char          *u = p;

    if (p == NULL) {
        return SL_OK;
    }

    if (u < pool->start || u >= pool->start + (pool->pages_total
                                               << SL_SLAB_PAGE_SHIFT))
    {
        return SL_ERROR;
    }

    page = &pool->pages[(size_t) (u - pool->start) >> SL_SLAB_PAGE_SHIFT];

    switch (page->kind) {

    case SL_SLAB_CHUNKS:
        return sl_slab_free_chunk(pool, page, u);

    case SL_SLAB_BUSY:
        if (u != sl_slab_page_addr(pool, page)) {
            return SL_ERROR;
        }
        sl_slab_free_pages(pool, page, page->pages);
        return SL_OK;

    default:
        return SL_ERROR;                /* free already, or mid-run */
    }
}

sl_int_t
sl_slab_free(sl_slab_pool_t *pool, void *p)
{
    sl_int_t  rc;

    sl_shmtx_lock(&pool->mutex);
    rc = sl_slab_free_locked(pool, p);
    sl_shmtx_unlock(&pool->mutex);

    return rc;
}
