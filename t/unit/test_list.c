/*
 * test_list.c -- pool lists: parts, iteration order, element stability.
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


typedef struct {
    sl_uint_t   value;
    u_char      pad[20];
} test_elt_t;


START_TEST(test_create)
{
    sl_list_t   *list, local;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    list = sl_list_create(pool, 4, sizeof(test_elt_t));
    ck_assert_ptr_nonnull(list);
    ck_assert_ptr_eq(list->last, &list->part);
    ck_assert_ptr_nonnull(list->part.elts);
    ck_assert_uint_eq(list->part.nelts, 0);
    ck_assert_ptr_null(list->part.next);
    ck_assert_uint_eq(list->nalloc, 4);
    ck_assert_uint_eq(list->size, sizeof(test_elt_t));
    ck_assert_ptr_eq(list->pool, pool);

    ck_assert_int_eq(sl_list_init(&local, pool, 2, 8), SL_OK);
    ck_assert_ptr_eq(local.last, &local.part);

    /* an empty part could never take a push */
    ck_assert_int_eq(sl_list_init(&local, pool, 0, 8), SL_ERROR);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_parts)
{
    sl_uint_t        i, nparts, total;
    test_elt_t      *e;
    sl_list_t       *list;
    sl_list_part_t  *part;
    sl_pool_t       *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    list = sl_list_create(pool, 4, sizeof(test_elt_t));
    ck_assert_ptr_nonnull(list);

    for (i = 0; i < 10; i++) {
        e = sl_list_push(list);
        ck_assert_ptr_nonnull(e);
        e->value = i;
    }

    /* 4 + 4 + 2 */
    ck_assert_uint_eq(list->part.nelts, 4);
    ck_assert_ptr_nonnull(list->part.next);
    ck_assert_uint_eq(list->part.next->nelts, 4);
    ck_assert_ptr_eq(list->part.next->next, list->last);
    ck_assert_uint_eq(list->last->nelts, 2);
    ck_assert_ptr_null(list->last->next);

    /* walking the parts gives the elements in push order */
    nparts = 0;
    total = 0;

    for (part = &list->part; part != NULL; part = part->next) {
        nparts++;
        e = part->elts;

        for (i = 0; i < part->nelts; i++) {
            ck_assert_uint_eq(e[i].value, total);
            total++;
        }
    }

    ck_assert_uint_eq(nparts, 3);
    ck_assert_uint_eq(total, 10);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_stability)
{
    sl_uint_t    i, j;
    test_elt_t  *e, *ptrs[5000];
    sl_list_t   *list;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    list = sl_list_create(pool, 7, sizeof(test_elt_t));
    ck_assert_ptr_nonnull(list);

    for (i = 0; i < 5000; i++) {
        e = sl_list_push(list);
        ck_assert_ptr_nonnull(e);
        e->value = i;
        memset(e->pad, (int) (i & 0xff), sizeof(e->pad));
        ptrs[i] = e;

        /* pool traffic in between must not move or clobber anything */
        ck_assert_ptr_nonnull(sl_palloc(pool, 16));
    }

    /* pointers taken at push time still see their own element */
    for (i = 0; i < 5000; i++) {
        ck_assert_uint_eq(ptrs[i]->value, i);
        for (j = 0; j < sizeof(ptrs[i]->pad); j++) {
            test_require(ptrs[i]->pad[j] == (i & 0xff));
        }
    }

    sl_destroy_pool(pool);
}
END_TEST


static Suite *
list_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("list");

    tc = tcase_create("list");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_parts);
    tcase_add_test(tc, test_stability);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(list_suite)
