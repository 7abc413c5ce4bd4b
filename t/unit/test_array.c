/*
 * test_array.c -- pool arrays: growth in place and by copying, push_n,
 * destroy giving memory back.
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


START_TEST(test_create)
{
    sl_array_t  *a, local;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 4, sizeof(int));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(a->elts);
    ck_assert_uint_eq(a->nelts, 0);
    ck_assert_uint_eq(a->nalloc, 4);
    ck_assert_uint_eq(a->size, sizeof(int));
    ck_assert_ptr_eq(a->pool, pool);

    ck_assert_int_eq(sl_array_init(&local, pool, 3, 24), SL_OK);
    ck_assert_uint_eq(local.nalloc, 3);
    ck_assert_uint_eq(local.size, 24);
    ck_assert_uint_eq(local.nelts, 0);

    /* n * size would overflow */
    ck_assert_int_eq(sl_array_init(&local, pool, SIZE_MAX / 8, 16), SL_ERROR);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_grow_in_place)
{
    int          i, *e;
    void        *elts;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 4, sizeof(int));
    ck_assert_ptr_nonnull(a);
    elts = a->elts;

    for (i = 0; i < 10; i++) {
        e = sl_array_push(a);
        ck_assert_ptr_nonnull(e);
        *e = i * 3;
    }

    /* the elements were the pool's last allocation: they stayed put */
    ck_assert_ptr_eq(a->elts, elts);
    ck_assert_uint_eq(a->nelts, 10);
    ck_assert_uint_ge(a->nalloc, 10);
    ck_assert_ptr_eq(pool->d.last,
                     (u_char *) a->elts + a->nalloc * a->size);

    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(((int *) a->elts)[i], i * 3);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_grow_by_copy)
{
    int          i, *e, *old;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 4, sizeof(int));
    ck_assert_ptr_nonnull(a);

    for (i = 0; i < 4; i++) {
        e = sl_array_push(a);
        *e = 100 + i;
    }

    /* something else now follows the elements in the pool */
    ck_assert_ptr_nonnull(sl_palloc(pool, 8));
    old = a->elts;

    e = sl_array_push(a);
    ck_assert_ptr_nonnull(e);
    *e = 104;

    ck_assert_ptr_ne(a->elts, old);
    ck_assert_uint_eq(a->nalloc, 8);
    ck_assert_uint_eq(a->nelts, 5);
    ck_assert_ptr_eq(e, (int *) a->elts + 4);

    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(((int *) a->elts)[i], 100 + i);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_push_n)
{
    int          i, *e;
    void        *elts;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 2, sizeof(int));
    ck_assert_ptr_nonnull(a);
    elts = a->elts;

    /* within the allocation */
    e = sl_array_push_n(a, 2);
    ck_assert_ptr_eq(e, elts);
    e[0] = 0;
    e[1] = 1;

    /* beyond it, in place */
    e = sl_array_push_n(a, 5);
    ck_assert_ptr_eq(a->elts, elts);
    ck_assert_ptr_eq(e, (int *) elts + 2);
    ck_assert_uint_eq(a->nelts, 7);
    ck_assert_uint_ge(a->nalloc, 7);
    for (i = 0; i < 5; i++) {
        e[i] = 2 + i;
    }

    /* beyond it, by copying: twice the larger of n and the capacity */
    ck_assert_ptr_nonnull(sl_palloc(pool, 1));
    e = sl_array_push_n(a, 20);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_ne(a->elts, elts);
    ck_assert_uint_eq(a->nelts, 27);
    ck_assert_uint_eq(a->nalloc, 40);
    ck_assert_ptr_eq(e, (int *) a->elts + 7);
    for (i = 0; i < 20; i++) {
        e[i] = 7 + i;
    }

    for (i = 0; i < 27; i++) {
        ck_assert_int_eq(((int *) a->elts)[i], i);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_many)
{
    sl_uint_t    i, *e;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 1, sizeof(sl_uint_t));
    ck_assert_ptr_nonnull(a);

    /* grows well past the pool's max, into malloc'd memory */
    for (i = 0; i < 100000; i++) {
        e = sl_array_push(a);
        test_require(e != NULL);
        *e = i * 7;

        /* interleave other allocations so growth must copy sometimes */
        if (i % 100 == 0) {
            test_require(sl_palloc(pool, 24) != NULL);
        }
    }

    ck_assert_uint_eq(a->nelts, 100000);

    for (i = 0; i < 100000; i++) {
        test_require(((sl_uint_t *) a->elts)[i] == i * 7);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_zero_capacity)
{
    int          i, *e;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_array_create(pool, 0, sizeof(int));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(sl_palloc(pool, 8));

    for (i = 0; i < 50; i++) {
        e = sl_array_push(a);
        ck_assert_ptr_nonnull(e);
        *e = i;
    }

    for (i = 0; i < 50; i++) {
        ck_assert_int_eq(((int *) a->elts)[i], i);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_destroy)
{
    u_char      *before;
    sl_array_t  *a;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    ck_assert_ptr_nonnull(sl_palloc(pool, 8));
    before = pool->d.last;

    /* the last allocation: header and elements go back to the pool */
    a = sl_array_create(pool, 10, sizeof(int));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(pool->d.last, before);
    sl_array_destroy(a);
    ck_assert_ptr_eq(pool->d.last, before);

    /* not the last: nothing is given back */
    a = sl_array_create(pool, 10, sizeof(int));
    ck_assert_ptr_nonnull(sl_palloc(pool, 8));
    before = pool->d.last;
    sl_array_destroy(a);
    ck_assert_ptr_eq(pool->d.last, before);

    sl_destroy_pool(pool);
}
END_TEST


static Suite *
array_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("array");

    tc = tcase_create("array");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_grow_in_place);
    tcase_add_test(tc, test_grow_by_copy);
    tcase_add_test(tc, test_push_n);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_zero_capacity);
    tcase_add_test(tc, test_destroy);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(array_suite)
