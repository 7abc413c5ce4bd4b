/*
 * test_palloc.c -- memory pools: small and large allocations, alignment,
 * blocks, sl_pfree, reset, cleanups.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"

/* ck_assert() records a checkpoint on every call; this costs nothing */
#define test_require(cond)                                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            ck_abort_msg("%s:%d: %s failed", __FILE__, __LINE__, #cond);      \
        }                                                                     \
    } while (0)


#define TEST_POOL_SIZE  1024


/* records the order in which cleanup handlers ran */
typedef struct {
    int     order[8];
    int     calls[8];
    int     n;
} test_trace_t;

typedef struct {
    test_trace_t  *trace;
    int            id;
} test_cleanup_t;


static sl_uint_t
test_nblocks(sl_pool_t *pool)
{
    sl_uint_t   n;
    sl_pool_t  *p;

    n = 0;
    for (p = pool; p != NULL; p = p->d.next) {
        n++;
    }

    return n;
}


static sl_uint_t
test_nlarge(sl_pool_t *pool)
{
    sl_uint_t         n;
    sl_pool_large_t  *l;

    n = 0;
    for (l = pool->large; l != NULL; l = l->next) {
        n++;
    }

    return n;
}


/* true when [m, m + size) lies inside one of the pool's blocks */
static int
test_in_blocks(sl_pool_t *pool, void *m, size_t size)
{
    u_char     *u;
    sl_pool_t  *p;

    u = m;

    for (p = pool; p != NULL; p = p->d.next) {
        if (u >= (u_char *) p + sizeof(sl_pool_data_t)
            && u + size <= p->d.end)
        {
            return 1;
        }
    }

    return 0;
}


static void
test_cleanup_handler(void *data)
{
    test_cleanup_t  *c;

    c = data;
    c->trace->calls[c->id]++;
    c->trace->order[c->trace->n++] = c->id;
}


START_TEST(test_create)
{
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);
    ck_assert_uint_eq(pool->max, TEST_POOL_SIZE - sizeof(sl_pool_t));
    ck_assert_ptr_eq(pool->current, pool);
    ck_assert_ptr_null(pool->large);
    ck_assert_ptr_null(pool->cleanup);
    ck_assert_ptr_null(pool->chain);
    ck_assert_ptr_null(pool->d.next);
    sl_destroy_pool(pool);

    /* a big pool still serves at most SL_MAX_ALLOC_FROM_POOL from blocks */
    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);
    ck_assert_uint_eq(pool->max, SL_MAX_ALLOC_FROM_POOL);
    sl_destroy_pool(pool);

    /* a tiny size is raised to the minimum */
    pool = sl_create_pool(1, NULL);
    ck_assert_ptr_nonnull(pool);
    ck_assert_ptr_nonnull(sl_palloc(pool, 8));
    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_small_and_large)
{
    void       *small, *edge, *large;
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    small = sl_palloc(pool, 100);
    ck_assert_ptr_nonnull(small);
    ck_assert(test_in_blocks(pool, small, 100));
    ck_assert_ptr_null(pool->large);
    memset(small, 0x5a, 100);

    large = sl_palloc(pool, pool->max + 1);
    ck_assert_ptr_nonnull(large);
    ck_assert(!test_in_blocks(pool, large, 1));
    ck_assert_ptr_nonnull(pool->large);
    ck_assert_ptr_eq(pool->large->alloc, large);
    memset(large, 0xa5, pool->max + 1);

    /* exactly max is still small, even if it needs a new block */
    edge = sl_palloc(pool, pool->max);
    ck_assert_ptr_nonnull(edge);
    ck_assert(test_in_blocks(pool, edge, pool->max));
    ck_assert_uint_eq(test_nlarge(pool), 1);
    ck_assert_uint_eq(test_nblocks(pool), 2);

    ck_assert_ptr_nonnull(sl_pnalloc(pool, pool->max + 10));
    ck_assert_uint_eq(test_nlarge(pool), 2);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_alignment)
{
    int         i;
    u_char     *p;
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    for (i = 0; i < 500; i++) {
        /* an odd unaligned allocation first leaves d.last misaligned */
        p = sl_pnalloc(pool, (size_t) (i % 7) + 1);
        ck_assert_ptr_nonnull(p);

        p = sl_palloc(pool, (size_t) (i % 13) + 1);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t) p % SL_ALIGNMENT, 0);
    }

    p = sl_palloc(pool, pool->max + 1);
    ck_assert_uint_eq((uintptr_t) p % SL_ALIGNMENT, 0);

    p = sl_pmemalign(pool, 100, 256);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t) p % 256, 0);
    ck_assert_ptr_eq(pool->large->alloc, p);
    ck_assert_int_eq(sl_pfree(pool, p), SL_OK);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_pnalloc_packs)
{
    u_char     *a, *b;
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_pnalloc(pool, 3);
    b = sl_pnalloc(pool, 5);
    ck_assert_ptr_eq(b, a + 3);

    b = sl_palloc(pool, 5);
    ck_assert_ptr_eq(b, sl_align_ptr(a + 8, SL_ALIGNMENT));

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_many_allocations)
{
    int         i, j;
    u_char     *m[2000];
    size_t      sz[2000];
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    for (i = 0; i < 2000; i++) {
        sz[i] = (size_t) (i * 37) % 200 + 1;
        m[i] = sl_palloc(pool, sz[i]);
        ck_assert_ptr_nonnull(m[i]);
        ck_assert_uint_eq((uintptr_t) m[i] % SL_ALIGNMENT, 0);
        ck_assert(test_in_blocks(pool, m[i], sz[i]));
        memset(m[i], i & 0xff, sz[i]);
    }

    /* ~200 KB in 1 KB blocks */
    ck_assert_uint_gt(test_nblocks(pool), 100);
    ck_assert_ptr_null(pool->large);

    /* worn-out blocks are skipped: the search starts well past the first */
    ck_assert_ptr_ne(pool->current, pool);
    ck_assert_uint_ge(pool->d.failed, 4);

    /* nothing overlapped: every allocation still holds its own pattern */
    for (i = 0; i < 2000; i++) {
        for (j = 0; j < (int) sz[i]; j++) {
            test_require(m[i][j] == (i & 0xff));
        }
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_pfree)
{
    void       *small, *a, *b, *c;
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    small = sl_palloc(pool, 16);
    ck_assert_int_eq(sl_pfree(pool, small), SL_DECLINED);

    a = sl_palloc(pool, 5000);
    b = sl_palloc(pool, 6000);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(test_nlarge(pool), 2);

    ck_assert_int_eq(sl_pfree(pool, a), SL_OK);
    /* a second free of the same pointer is not ours any more */
    ck_assert_int_eq(sl_pfree(pool, a), SL_DECLINED);
    ck_assert_int_eq(sl_pfree(pool, NULL), SL_DECLINED);

    /* the freed slot is reused, no new slot is carved */
    c = sl_palloc(pool, 7000);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(test_nlarge(pool), 2);
    ck_assert_ptr_eq(pool->large->next->alloc, c);
    ck_assert_ptr_eq(pool->large->alloc, b);

    /* valgrind/ASan would see a double free or a leak at destroy */
    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_reset)
{
    int         i;
    u_char      *first, *again;
    sl_uint_t    nblocks;
    sl_pool_t   *pool;
    sl_chain_t  *cl;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    first = sl_palloc(pool, 64);

    for (i = 0; i < 100; i++) {
        ck_assert_ptr_nonnull(sl_palloc(pool, 100));
    }

    ck_assert_ptr_nonnull(sl_palloc(pool, 10000));
    ck_assert_ptr_nonnull(sl_palloc(pool, 20000));
    cl = sl_palloc(pool, sizeof(sl_chain_t));
    sl_free_chain(pool, cl);
    ck_assert_ptr_eq(pool->chain, cl);

    nblocks = test_nblocks(pool);
    ck_assert_uint_gt(nblocks, 1);

    sl_reset_pool(pool);

    ck_assert_ptr_null(pool->large);
    ck_assert_ptr_null(pool->chain);
    ck_assert_ptr_eq(pool->current, pool);
    ck_assert_uint_eq(pool->d.failed, 0);
    ck_assert_ptr_eq(pool->d.last, (u_char *) pool + sizeof(sl_pool_t));
    /* blocks are kept for reuse, not freed */
    ck_assert_uint_eq(test_nblocks(pool), nblocks);

    again = sl_palloc(pool, 64);
    ck_assert_ptr_eq(again, first);

    /* the same load fits in the same blocks again */
    for (i = 0; i < 100; i++) {
        ck_assert_ptr_nonnull(sl_palloc(pool, 100));
    }
    ck_assert_uint_eq(test_nblocks(pool), nblocks);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_pcalloc)
{
    int         i;
    u_char     *p;
    sl_pool_t  *pool;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    /* dirty the memory, rewind, and get the same memory back zeroed */
    p = sl_palloc(pool, 500);
    memset(p, 0xff, 500);
    sl_reset_pool(pool);

    p = sl_pcalloc(pool, 500);
    ck_assert_ptr_nonnull(p);
    for (i = 0; i < 500; i++) {
        ck_assert_uint_eq(p[i], 0);
    }

    p = sl_pcalloc(pool, 9000);
    ck_assert_ptr_nonnull(p);
    for (i = 0; i < 9000; i++) {
        ck_assert_uint_eq(p[i], 0);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_cleanup_order)
{
    int                 i;
    sl_pool_t          *pool;
    test_trace_t        trace;
    test_cleanup_t      ids[4];
    sl_pool_cleanup_t  *cln;

    memset(&trace, 0, sizeof(trace));

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    for (i = 0; i < 4; i++) {
        ids[i].trace = &trace;
        ids[i].id = i;

        cln = sl_pool_cleanup_add(pool, 0);
        ck_assert_ptr_nonnull(cln);
        ck_assert_ptr_null(cln->data);
        ck_assert_ptr_null(cln->handler);

        cln->handler = test_cleanup_handler;
        cln->data = &ids[i];

        /* keep the pool busy so cleanups land in different blocks */
        ck_assert_ptr_nonnull(sl_palloc(pool, 700));
        ck_assert_ptr_nonnull(sl_palloc(pool, 8000));
    }

    /* a cleanup without a handler is skipped */
    ck_assert_ptr_nonnull(sl_pool_cleanup_add(pool, 0));

    ck_assert_int_eq(trace.n, 0);

    sl_destroy_pool(pool);

    ck_assert_int_eq(trace.n, 4);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(trace.order[i], 3 - i);
        ck_assert_int_eq(trace.calls[i], 1);
    }
}
END_TEST


typedef struct {
    int     *seen;
    u_char   bytes[300];
} test_blob_t;


static void
test_blob_handler(void *data)
{
    int           i;
    test_blob_t  *blob;

    blob = data;

    /* the data must still be intact when the handler runs */
    for (i = 0; i < 300; i++) {
        if (blob->bytes[i] != (u_char) i) {
            return;
        }
    }

    (*blob->seen)++;
}


START_TEST(test_cleanup_data)
{
    int                 seen;
    sl_pool_t          *pool;
    test_blob_t        *blob;
    sl_pool_cleanup_t  *small, *large;

    seen = 0;

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    small = sl_pool_cleanup_add(pool, sizeof(test_blob_t));
    ck_assert_ptr_nonnull(small);
    ck_assert_ptr_nonnull(small->data);
    ck_assert_uint_eq((uintptr_t) small->data % SL_ALIGNMENT, 0);

    blob = small->data;
    blob->seen = &seen;
    for (int i = 0; i < 300; i++) {
        blob->bytes[i] = (u_char) i;
    }
    small->handler = test_blob_handler;

    /* a data block bigger than the pool's max is malloc'd but still works */
    large = sl_pool_cleanup_add(pool, 3 * TEST_POOL_SIZE);
    ck_assert_ptr_nonnull(large);
    ck_assert_ptr_nonnull(large->data);
    ck_assert_ptr_eq(pool->large->alloc, large->data);
    memset(large->data, 0x33, 3 * TEST_POOL_SIZE);

    ck_assert_ptr_ne(small->data, large->data);
    ck_assert_ptr_ne(small->data, (void *) small);

    sl_destroy_pool(pool);
    ck_assert_int_eq(seen, 1);
}
END_TEST


START_TEST(test_cleanup_reset)
{
    sl_pool_t          *pool;
    test_trace_t        trace;
    test_cleanup_t      ids[2];
    sl_pool_cleanup_t  *cln;

    memset(&trace, 0, sizeof(trace));

    pool = sl_create_pool(TEST_POOL_SIZE, NULL);
    ck_assert_ptr_nonnull(pool);

    for (int i = 0; i < 2; i++) {
        ids[i].trace = &trace;
        ids[i].id = i;
        cln = sl_pool_cleanup_add(pool, 0);
        ck_assert_ptr_nonnull(cln);
        cln->handler = test_cleanup_handler;
        cln->data = &ids[i];
    }

    /* reset runs them (their records are about to be overwritten) ... */
    sl_reset_pool(pool);
    ck_assert_int_eq(trace.n, 2);
    ck_assert_int_eq(trace.order[0], 1);
    ck_assert_int_eq(trace.order[1], 0);
    ck_assert_ptr_null(pool->cleanup);

    /* ... so destroy does not run them a second time */
    sl_destroy_pool(pool);
    ck_assert_int_eq(trace.n, 2);
    ck_assert_int_eq(trace.calls[0], 1);
    ck_assert_int_eq(trace.calls[1], 1);
}
END_TEST


static Suite *
palloc_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("palloc");

    tc = tcase_create("alloc");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_small_and_large);
    tcase_add_test(tc, test_alignment);
    tcase_add_test(tc, test_pnalloc_packs);
    tcase_add_test(tc, test_many_allocations);
    tcase_add_test(tc, test_pfree);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_pcalloc);
    suite_add_tcase(s, tc);

    tc = tcase_create("cleanup");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_cleanup_order);
    tcase_add_test(tc, test_cleanup_data);
    tcase_add_test(tc, test_cleanup_reset);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(palloc_suite)
