/*
 * sl_palloc.h -- memory pools: many small allocations freed at once, plus
 * cleanup handlers run when the pool is destroyed.
 */
#ifndef SL_PALLOC_H
#define SL_PALLOC_H

#include "sl_config.h"

typedef struct sl_pool_s sl_pool_t;
typedef struct sl_log_s  sl_log_t;
typedef struct sl_chain_s sl_chain_t;

#define SL_MAX_ALLOC_FROM_POOL  4095       /* larger requests go to malloc */
#define SL_DEFAULT_POOL_SIZE    (16 * 1024)
#define SL_POOL_ALIGNMENT       16
#define SL_MIN_POOL_SIZE                                                      \
    sl_align((sizeof(sl_pool_t) + 2 * sizeof(sl_pool_large_t)),               \
             SL_POOL_ALIGNMENT)

typedef void (*sl_pool_cleanup_pt)(void *data);

typedef struct sl_pool_cleanup_s  sl_pool_cleanup_t;

struct sl_pool_cleanup_s {
    sl_pool_cleanup_pt   handler;
    void                *data;
    sl_pool_cleanup_t   *next;
};

typedef struct sl_pool_large_s  sl_pool_large_t;

struct sl_pool_large_s {
    sl_pool_large_t     *next;
    void                *alloc;
};

typedef struct {
    u_char              *last;
    u_char              *end;
    sl_pool_t           *next;
    sl_uint_t            failed;
} sl_pool_data_t;

struct sl_pool_s {
    sl_pool_data_t       d;
    size_t               max;
    sl_pool_t           *current;
    sl_chain_t          *chain;     /* free chain links, see sl_buf.h */
    sl_pool_large_t     *large;
    sl_pool_cleanup_t   *cleanup;
    sl_log_t            *log;
};

sl_pool_t *sl_create_pool(size_t size, sl_log_t *log);
/* runs the cleanup handlers (last added first), then frees everything */
void sl_destroy_pool(sl_pool_t *pool);
/*
 * runs the cleanup handlers (last added first) and forgets them, frees the
 * large allocations and rewinds the blocks, which are kept for reuse
 */
void sl_reset_pool(sl_pool_t *pool);

void *sl_palloc(sl_pool_t *pool, size_t size);     /* SL_ALIGNMENT aligned */
void *sl_pnalloc(sl_pool_t *pool, size_t size);    /* unaligned */
void *sl_pcalloc(sl_pool_t *pool, size_t size);    /* zeroed */
void *sl_pmemalign(sl_pool_t *pool, size_t size, size_t alignment);
/* frees a large allocation at once; SL_DECLINED for a small one */
sl_int_t sl_pfree(sl_pool_t *pool, void *p);

/* adds a cleanup; when size > 0, c->data is a fresh block of that size */
sl_pool_cleanup_t *sl_pool_cleanup_add(sl_pool_t *p, size_t size);

#endif /* SL_PALLOC_H */
