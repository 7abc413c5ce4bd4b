/*
 * test_queue.c -- the intrusive queue: insert/remove, split/add, middle,
 * stable sort.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"


typedef struct {
    int          key;
    int          seq;       /* insertion order, to check stability */
    sl_queue_t   link;
} test_rec_t;


#define test_rec(q)  sl_queue_data(q, test_rec_t, link)


/*
 * Checks both directions of the links and writes the keys into keys[].
 * Returns the number of elements.
 */
static int
test_walk(sl_queue_t *h, int *keys, int max)
{
    int          n, back;
    sl_queue_t  *q;

    n = 0;

    for (q = sl_queue_head(h); q != sl_queue_sentinel(h); q = q->next) {
        ck_assert_ptr_eq(q->next->prev, q);
        ck_assert_ptr_eq(q->prev->next, q);
        ck_assert_int_lt(n, max);
        keys[n++] = test_rec(q)->key;
    }

    back = 0;
    for (q = sl_queue_last(h); q != sl_queue_sentinel(h); q = q->prev) {
        back++;
    }
    ck_assert_int_eq(back, n);

    return n;
}


static void
test_fill(sl_queue_t *h, test_rec_t *recs, int n)
{
    int  i;

    sl_queue_init(h);

    for (i = 0; i < n; i++) {
        recs[i].key = i;
        recs[i].seq = i;
        sl_queue_insert_tail(h, &recs[i].link);
    }
}


static sl_int_t
test_cmp(const sl_queue_t *a, const sl_queue_t *b)
{
    const test_rec_t  *ra, *rb;

    ra = (const test_rec_t *) ((const u_char *) a
                               - offsetof(test_rec_t, link));
    rb = (const test_rec_t *) ((const u_char *) b
                               - offsetof(test_rec_t, link));

    return ra->key - rb->key;
}


START_TEST(test_insert_remove)
{
    int          keys[8], n;
    sl_queue_t   h;
    test_rec_t   r[4];

    sl_queue_init(&h);
    ck_assert(sl_queue_empty(&h));
    ck_assert_int_eq(test_walk(&h, keys, 8), 0);

    r[0].key = 0;
    r[1].key = 1;
    r[2].key = 2;
    r[3].key = 3;

    sl_queue_insert_head(&h, &r[1].link);
    sl_queue_insert_tail(&h, &r[2].link);
    sl_queue_insert_head(&h, &r[0].link);
    sl_queue_insert_after(&r[2].link, &r[3].link);
    ck_assert(!sl_queue_empty(&h));

    n = test_walk(&h, keys, 8);
    ck_assert_int_eq(n, 4);
    ck_assert(keys[0] == 0 && keys[1] == 1 && keys[2] == 2 && keys[3] == 3);
    ck_assert_ptr_eq(sl_queue_head(&h), &r[0].link);
    ck_assert_ptr_eq(sl_queue_last(&h), &r[3].link);
    ck_assert_ptr_eq(test_rec(sl_queue_next(&r[1].link)), &r[2]);
    ck_assert_ptr_eq(test_rec(sl_queue_prev(&r[1].link)), &r[0]);

    sl_queue_remove(&r[1].link);
    ck_assert_ptr_null(r[1].link.next);
    n = test_walk(&h, keys, 8);
    ck_assert_int_eq(n, 3);
    ck_assert(keys[0] == 0 && keys[1] == 2 && keys[2] == 3);

    sl_queue_remove(&r[0].link);
    sl_queue_remove(&r[3].link);
    sl_queue_remove(&r[2].link);
    ck_assert(sl_queue_empty(&h));
}
END_TEST


START_TEST(test_split_add)
{
    int          keys[16], n, i;
    sl_queue_t   h, tail, *q;
    test_rec_t   r[10];

    test_fill(&h, r, 10);

    /* r[6] and everything after it move to tail */
    sl_queue_split(&h, &r[6].link, &tail);

    n = test_walk(&h, keys, 16);
    ck_assert_int_eq(n, 6);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(keys[i], i);
    }

    n = test_walk(&tail, keys, 16);
    ck_assert_int_eq(n, 4);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(keys[i], 6 + i);
    }

    /* and back */
    sl_queue_add(&h, &tail);
    n = test_walk(&h, keys, 16);
    ck_assert_int_eq(n, 10);
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(keys[i], i);
    }

    /* splitting at the head moves everything */
    q = sl_queue_head(&h);
    sl_queue_split(&h, q, &tail);
    ck_assert(sl_queue_empty(&h));
    ck_assert_int_eq(test_walk(&tail, keys, 16), 10);

    /* adding onto an empty queue */
    sl_queue_add(&h, &tail);
    ck_assert_int_eq(test_walk(&h, keys, 16), 10);
    ck_assert_int_eq(keys[0], 0);
    ck_assert_int_eq(keys[9], 9);
}
END_TEST


START_TEST(test_middle)
{
    int          n;
    sl_queue_t   h, *m;
    test_rec_t   r[21];

    /* the first of the second half: index n / 2, for odd and even n */
    for (n = 1; n <= 21; n++) {
        test_fill(&h, r, n);
        m = sl_queue_middle(&h);
        ck_assert_int_eq(test_rec(m)->key, n / 2);
    }

    test_fill(&h, r, 2);
    ck_assert_ptr_eq(sl_queue_middle(&h), &r[1].link);
    test_fill(&h, r, 3);
    ck_assert_ptr_eq(sl_queue_middle(&h), &r[1].link);
    test_fill(&h, r, 4);
    ck_assert_ptr_eq(sl_queue_middle(&h), &r[2].link);
}
END_TEST


START_TEST(test_sort_stable)
{
    int          i, n, prev_key, prev_seq, keys[1000];
    unsigned     seed;
    sl_queue_t   h, *q;
    test_rec_t   r[1000];

    sl_queue_init(&h);
    seed = 42;

    /* few distinct keys, so there are long runs of equal ones */
    for (i = 0; i < 1000; i++) {
        seed = seed * 1103515245 + 12345;
        r[i].key = (int) ((seed >> 16) % 10);
        r[i].seq = i;
        sl_queue_insert_tail(&h, &r[i].link);
    }

    sl_queue_sort(&h, test_cmp);

    ck_assert_int_eq(test_walk(&h, keys, 1000), 1000);

    prev_key = -1;
    prev_seq = -1;
    n = 0;

    for (q = sl_queue_head(&h); q != &h; q = sl_queue_next(q)) {
        ck_assert_int_ge(test_rec(q)->key, prev_key);

        /* equal keys keep their original order */
        if (test_rec(q)->key == prev_key) {
            ck_assert_int_gt(test_rec(q)->seq, prev_seq);
        }

        prev_key = test_rec(q)->key;
        prev_seq = test_rec(q)->seq;
        n++;
    }

    ck_assert_int_eq(n, 1000);
}
END_TEST


START_TEST(test_sort_edges)
{
    int          keys[8];
    sl_queue_t   h, *q;
    test_rec_t   r[8];

    /* empty and single-element queues */
    sl_queue_init(&h);
    sl_queue_sort(&h, test_cmp);
    ck_assert(sl_queue_empty(&h));

    test_fill(&h, r, 1);
    sl_queue_sort(&h, test_cmp);
    ck_assert_int_eq(test_walk(&h, keys, 8), 1);

    /* reversed input */
    sl_queue_init(&h);
    for (int i = 0; i < 8; i++) {
        r[i].key = 7 - i;
        r[i].seq = i;
        sl_queue_insert_tail(&h, &r[i].link);
    }

    sl_queue_sort(&h, test_cmp);
    ck_assert_int_eq(test_walk(&h, keys, 8), 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(keys[i], i);
    }

    /* all equal: nothing moves */
    sl_queue_init(&h);
    for (int i = 0; i < 8; i++) {
        r[i].key = 5;
        r[i].seq = i;
        sl_queue_insert_tail(&h, &r[i].link);
    }

    sl_queue_sort(&h, test_cmp);
    for (int i = 0; i < 8; i++) {
        q = sl_queue_head(&h);
        ck_assert_ptr_eq(q, &r[i].link);
        sl_queue_remove(q);
    }
    ck_assert(sl_queue_empty(&h));
}
END_TEST


static Suite *
queue_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("queue");

    tc = tcase_create("queue");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_insert_remove);
    tcase_add_test(tc, test_split_add);
    tcase_add_test(tc, test_middle);
    tcase_add_test(tc, test_sort_stable);
    tcase_add_test(tc, test_sort_edges);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(queue_suite)
