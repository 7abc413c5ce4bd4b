/*
 * sl_slab.h -- an allocator inside one block of memory that several
 * processes share (a zone, sl_shm_zone.h).
 *
 * The block is cut into 4 KiB pages after a header and one descriptor per
 * page. A request of up to half a page is served from a page of its size
 * class (8, 16, ... 2048 bytes, each page holding chunks of one class);
 * a larger one takes a run of whole pages. Free pages are kept in runs,
 * merged with their free neighbours, so that the block does not crumble
 * under a mix of sizes.
 *
 * Everything the allocator keeps lives in the block itself, as absolute
 * pointers: every process maps the block at the same address (it is
 * mapped before the workers are forked). The block never holds a pointer
 * to a process's memory, and a process's memory never holds state the
 * allocator needs.
 *
 * Thread rules: sl_slab_alloc(), sl_slab_calloc() and sl_slab_free() take
 * the pool's lock; the _locked variants are for a caller that holds it
 * (sl_shmtx_lock(&pool->mutex)) around several steps. Nothing here
 * logs: a caller that runs out says so in its own words, with
 * pool->log_ctx (" in zone \"NAME\"") at the end, as nginx's modules do.
 */
#ifndef SL_SLAB_H
#define SL_SLAB_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"

#define SL_SLAB_PAGE_SHIFT   12
#define SL_SLAB_PAGE_SIZE    ((size_t) 1 << SL_SLAB_PAGE_SHIFT)
#define SL_SLAB_MIN_SHIFT    3                           /* 8 bytes */
#define SL_SLAB_MAX_SHIFT    (SL_SLAB_PAGE_SHIFT - 1)    /* 2048 bytes */
#define SL_SLAB_CLASSES      (SL_SLAB_MAX_SHIFT - SL_SLAB_MIN_SHIFT + 1)
#define SL_SLAB_LOG_CTX_LEN  64

typedef struct sl_slab_page_s  sl_slab_page_t;

struct sl_slab_page_s {
    /* a list: the free runs, or the part-used pages of one class */
    sl_slab_page_t     *next;
    sl_slab_page_t     *prev;
    uint32_t            pages;      /* the run's length, at its first page */
    uint16_t            kind;       /* SL_SLAB_FREE ... (sl_slab.c) */
    uint16_t            shift;      /* a chunk page: log2 of its chunks */
    uint16_t            used;       /* a chunk page: chunks handed out */
    uint16_t            fresh;      /* a chunk page: never handed out from */
    uint16_t            free;       /* a chunk page: the first freed chunk */
    uint16_t            pad;
};

/* what a metrics endpoint reads (issue 16): per size class */
typedef struct {
    sl_uint_t           total;      /* chunks in pages of the class */
    sl_uint_t           used;
    sl_uint_t           reqs;
    sl_uint_t           fails;
} sl_slab_stat_t;

typedef struct {
    sl_shmtx_t          mutex;

    sl_slab_page_t     *pages;      /* the descriptors, one a page */
    sl_slab_page_t     *last;       /* past the last descriptor */
    u_char             *start;      /* the first page */
    u_char             *end;        /* past the block */

    sl_slab_page_t      free;       /* the free runs: a list head */
    sl_slab_page_t      partial[SL_SLAB_CLASSES];   /* list heads */
    sl_slab_stat_t      stats[SL_SLAB_CLASSES];
    sl_uint_t           pages_free;
    sl_uint_t           pages_total;

    void               *data;       /* the zone's user: its root record */
    void               *addr;       /* the block (this header) */
    char                log_ctx[SL_SLAB_LOG_CTX_LEN];
} sl_slab_pool_t;

/*
 * Lays the pool out over size bytes at addr (page-aligned, at least a few
 * pages). SL_ERROR if the block is too small to hold one page.
 */
sl_int_t sl_slab_init(void *addr, size_t size, const sl_str_t *zone);

void *sl_slab_alloc(sl_slab_pool_t *pool, size_t size);
void *sl_slab_alloc_locked(sl_slab_pool_t *pool, size_t size);
void *sl_slab_calloc(sl_slab_pool_t *pool, size_t size);
void *sl_slab_calloc_locked(sl_slab_pool_t *pool, size_t size);
/* p from this pool, or NULL; SL_ERROR if p is not a live chunk (a bug) */
sl_int_t sl_slab_free(sl_slab_pool_t *pool, void *p);
sl_int_t sl_slab_free_locked(sl_slab_pool_t *pool, void *p);

#endif /* SL_SLAB_H */
