/*
 * test_rbtree.c -- the red-black tree under long random insert/delete runs
 * with every invariant checked along the way, and timer keys that wrap.
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


#define TEST_NODES        4096
#define TEST_OPS          200000
#define TEST_CHECK_EVERY  100


typedef struct {
    sl_rbtree_node_t   node;        /* first, so a node is its record */
    int                live;
    sl_uint_t          serial;      /* when it was inserted */
    sl_uint_t          seen;        /* walk generation that visited it */
} test_rec_t;

/* how the tree under test orders keys: <0, 0, >0 */
typedef sl_int_t (*test_cmp_pt)(sl_rbtree_key_t a, sl_rbtree_key_t b);

typedef struct {
    sl_rbtree_t       *tree;
    test_cmp_pt        cmp;
    sl_uint_t          count;
} test_check_t;


static uint64_t
test_rand(uint64_t *state)
{
    uint64_t  x;

    /* xorshift64*: good enough, and the same on every run */
    x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;

    return x * 0x2545F4914F6CDD1DULL;
}


static sl_int_t
test_cmp_plain(sl_rbtree_key_t a, sl_rbtree_key_t b)
{
    return (a > b) - (a < b);
}


static sl_int_t
test_cmp_timer(sl_rbtree_key_t a, sl_rbtree_key_t b)
{
    sl_rbtree_key_int_t  d;

    d = (sl_rbtree_key_int_t) (a - b);

    return (d > 0) - (d < 0);
}


/*
 * Checks the subtree at n and returns its black height. lo and hi are the
 * nearest ancestors it must sort after and before (NULL for none).
 */
static int
test_check_subtree(test_check_t *ctx, sl_rbtree_node_t *n,
    sl_rbtree_node_t *parent, sl_rbtree_node_t *lo, sl_rbtree_node_t *hi)
{
    int                lh, rh;
    sl_rbtree_node_t  *sentinel;

    sentinel = ctx->tree->sentinel;

    if (n == sentinel) {
        return 1;
    }

    test_require(n->parent == parent);
    test_require(n->left != NULL);
    test_require(n->right != NULL);

    if (lo != NULL) {
        test_require(ctx->cmp(lo->key, n->key) <= 0);
    }

    if (hi != NULL) {
        test_require(ctx->cmp(n->key, hi->key) <= 0);
    }

    if (sl_rbt_is_red(n)) {
        test_require(sl_rbt_is_black(n->left));
        test_require(sl_rbt_is_black(n->right));
    }

    lh = test_check_subtree(ctx, n->left, n, lo, n);
    rh = test_check_subtree(ctx, n->right, n, n, hi);
    test_require(lh == rh);

    ctx->count++;

    return lh + sl_rbt_is_black(n);
}


/*
 * All invariants, then the in-order walk: it must visit exactly the live
 * records, each once, in order, equal keys in the order of insertion.
 */
static void
test_check_tree(sl_rbtree_t *tree, test_cmp_pt cmp, test_rec_t *recs,
    sl_uint_t nrecs, sl_uint_t *gen)
{
    sl_uint_t          i, live, walked;
    test_rec_t        *r, *prev;
    test_check_t       ctx;
    sl_rbtree_node_t  *n;

    live = 0;
    for (i = 0; i < nrecs; i++) {
        live += recs[i].live;
    }

    test_require(sl_rbt_is_black(tree->sentinel));
    test_require(sl_rbt_is_black(tree->root));

    if (live == 0) {
        test_require(tree->root == tree->sentinel);
        return;
    }

    test_require(tree->root != tree->sentinel);
    test_require(tree->root->parent == NULL);

    ctx.tree = tree;
    ctx.cmp = cmp;
    ctx.count = 0;
    test_check_subtree(&ctx, tree->root, NULL, NULL, NULL);
    test_require(ctx.count == live);

    (*gen)++;
    walked = 0;
    prev = NULL;

    for (n = sl_rbtree_min(tree->root, tree->sentinel);
         n != NULL;
         n = sl_rbtree_next(tree, n))
    {
        r = (test_rec_t *) n;
        test_require(r >= recs && r < recs + nrecs);
        test_require(r->live);
        test_require(r->seen != *gen);
        r->seen = *gen;

        if (prev != NULL) {
            test_require(cmp(prev->node.key, n->key) <= 0);

            if (prev->node.key == n->key) {
                test_require(prev->serial < r->serial);
            }
        }

        prev = r;
        walked++;
    }

    test_require(walked == live);
}


/*
 * Random inserts and deletes; phases alternate between growing and
 * shrinking so the tree is seen small, large and in between.
 */
static void
test_random_run(uint64_t seed, sl_rbtree_key_t key_range)
{
    int                grow;
    uint64_t           rng;
    sl_uint_t          op, i, serial, gen, live, max_live;
    test_rec_t        *recs, *r;
    sl_rbtree_t        tree;
    sl_rbtree_node_t   sentinel;

    recs = calloc(TEST_NODES, sizeof(test_rec_t));
    test_require(recs != NULL);

    sl_rbtree_init(&tree, &sentinel, sl_rbtree_insert_value);

    rng = seed;
    serial = 0;
    gen = 0;
    live = 0;
    max_live = 0;

    for (op = 0; op < TEST_OPS; op++) {
        grow = (op / 10000) % 2 == 0;
        r = &recs[test_rand(&rng) % TEST_NODES];

        if (!r->live && (grow || test_rand(&rng) % 4 == 0)) {
            r->node.key = (sl_rbtree_key_t) (test_rand(&rng) % key_range);
            r->serial = ++serial;
            r->live = 1;
            sl_rbtree_insert(&tree, &r->node);
            live++;
            max_live = sl_max(max_live, live);

        } else if (r->live && (!grow || test_rand(&rng) % 4 == 0)) {
            sl_rbtree_delete(&tree, &r->node);
            r->live = 0;
            live--;
            test_require(r->node.parent == NULL);
        }

        if (op % TEST_CHECK_EVERY == 0 || op < 200) {
            test_check_tree(&tree, test_cmp_plain, recs, TEST_NODES, &gen);
        }
    }

    test_check_tree(&tree, test_cmp_plain, recs, TEST_NODES, &gen);

    /* the growing phases did fill most of the nodes */
    ck_assert_uint_gt(max_live, TEST_NODES * 3 / 4);

    /* take everything out again */
    for (i = 0; i < TEST_NODES; i++) {
        if (recs[i].live) {
            sl_rbtree_delete(&tree, &recs[i].node);
            recs[i].live = 0;

            if (i % 64 == 0) {
                test_check_tree(&tree, test_cmp_plain, recs, TEST_NODES,
                                &gen);
            }
        }
    }

    test_check_tree(&tree, test_cmp_plain, recs, TEST_NODES, &gen);
    test_require(tree.root == &sentinel);

    free(recs);
}


START_TEST(test_random_duplicates)
{
    /* 512 keys over up to 4096 nodes: plenty of equal keys */
    test_random_run(0x9e3779b97f4a7c15ULL, 512);
}
END_TEST


START_TEST(test_random_wide)
{
    test_random_run(0x0123456789abcdefULL, SL_MAX_UINT_T_VALUE);
}
END_TEST


START_TEST(test_small_cases)
{
    sl_uint_t          gen, i;
    test_rec_t         recs[3];
    sl_rbtree_t        tree;
    sl_rbtree_node_t   sentinel;

    memset(recs, 0, sizeof(recs));
    gen = 0;

    sl_rbtree_init(&tree, &sentinel, sl_rbtree_insert_value);
    ck_assert_ptr_eq(tree.root, &sentinel);
    ck_assert_ptr_eq(tree.sentinel, &sentinel);

    /* ascending keys force rotations on the third insert */
    for (i = 0; i < 3; i++) {
        recs[i].node.key = i + 1;
        recs[i].serial = i + 1;
        recs[i].live = 1;
        sl_rbtree_insert(&tree, &recs[i].node);
        test_check_tree(&tree, test_cmp_plain, recs, 3, &gen);
    }

    ck_assert_ptr_eq(tree.root, &recs[1].node);
    ck_assert_ptr_eq(sl_rbtree_min(tree.root, &sentinel), &recs[0].node);
    ck_assert_ptr_eq(sl_rbtree_next(&tree, &recs[0].node), &recs[1].node);
    ck_assert_ptr_eq(sl_rbtree_next(&tree, &recs[1].node), &recs[2].node);
    ck_assert_ptr_null(sl_rbtree_next(&tree, &recs[2].node));

    /* the root, with two children */
    sl_rbtree_delete(&tree, &recs[1].node);
    recs[1].live = 0;
    test_check_tree(&tree, test_cmp_plain, recs, 3, &gen);

    sl_rbtree_delete(&tree, &recs[0].node);
    recs[0].live = 0;
    test_check_tree(&tree, test_cmp_plain, recs, 3, &gen);
    ck_assert_ptr_eq(tree.root, &recs[2].node);

    sl_rbtree_delete(&tree, &recs[2].node);
    recs[2].live = 0;
    test_check_tree(&tree, test_cmp_plain, recs, 3, &gen);
    ck_assert_ptr_eq(tree.root, &sentinel);
}
END_TEST


START_TEST(test_timer_wrap)
{
    int                i, j, t, order[1000];
    uint64_t           rng;
    sl_uint_t          gen, off;
    sl_rbtree_key_t    base;
    test_rec_t         recs[1000];
    sl_rbtree_t        tree;
    sl_rbtree_node_t   sentinel, *n;

    memset(recs, 0, sizeof(recs));
    gen = 0;
    rng = 7;

    /* deadlines from 500 ms before the wrap to ~500 ms after it */
    base = SL_MAX_UINT_T_VALUE - 500;

    for (i = 0; i < 1000; i++) {
        recs[i].node.key = base + (sl_rbtree_key_t) i;
    }

    /* insert them in shuffled order */
    sl_rbtree_init(&tree, &sentinel, sl_rbtree_insert_timer_value);

    for (i = 0; i < 1000; i++) {
        order[i] = i;
    }
    for (i = 999; i > 0; i--) {
        j = (int) (test_rand(&rng) % (uint64_t) (i + 1));
        t = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    for (i = 0; i < 1000; i++) {
        recs[order[i]].live = 1;
        recs[order[i]].serial = (sl_uint_t) i;
        sl_rbtree_insert(&tree, &recs[order[i]].node);
    }

    test_check_tree(&tree, test_cmp_timer, recs, 1000, &gen);

    /* deadline order: the keys before the wrap come first */
    off = 0;
    for (n = sl_rbtree_min(tree.root, &sentinel);
         n != NULL;
         n = sl_rbtree_next(&tree, n))
    {
        ck_assert_uint_eq(n->key - base, off);
        off++;
    }
    ck_assert_uint_eq(off, 1000);

    /* expiring from the minimum yields them in deadline order */
    for (i = 0; i < 1000; i++) {
        n = sl_rbtree_min(tree.root, &sentinel);
        ck_assert_ptr_eq(n, &recs[i].node);
        sl_rbtree_delete(&tree, n);
        recs[i].live = 0;

        if (i % 50 == 0) {
            test_check_tree(&tree, test_cmp_timer, recs, 1000, &gen);
        }
    }

    ck_assert_ptr_eq(tree.root, &sentinel);

    /* the plain order would have put the wrapped keys first */
    sl_rbtree_init(&tree, &sentinel, sl_rbtree_insert_value);
    for (i = 0; i < 1000; i++) {
        sl_rbtree_insert(&tree, &recs[order[i]].node);
    }
    n = sl_rbtree_min(tree.root, &sentinel);
    ck_assert_uint_eq(n->key, 0);
    ck_assert_uint_ne(n->key, base);
}
END_TEST


/*
 * A clock running across the wrap: timers are armed at now + delay and
 * expired from the minimum; they must fire in deadline order and none
 * before its deadline.
 */
START_TEST(test_timer_clock)
{
    uint64_t           rng;
    sl_uint_t          gen, i, step, fired;
    sl_msec_t          now, last;
    test_rec_t        *recs, *r;
    sl_rbtree_t        tree;
    sl_rbtree_node_t   sentinel, *n;

    recs = calloc(TEST_NODES, sizeof(test_rec_t));
    ck_assert_ptr_nonnull(recs);

    sl_rbtree_init(&tree, &sentinel, sl_rbtree_insert_timer_value);

    rng = 99;
    gen = 0;
    fired = 0;
    now = SL_MAX_UINT_T_VALUE - 300000;

    for (step = 0; step < 20000; step++) {
        /* arm a few */
        for (i = 0; i < 3; i++) {
            r = &recs[test_rand(&rng) % TEST_NODES];
            if (r->live) {
                sl_rbtree_delete(&tree, &r->node);
            }
            r->node.key = now + (sl_msec_t) (test_rand(&rng) % 60000);
            r->serial = step * 3 + i + 1;
            r->live = 1;
            sl_rbtree_insert(&tree, &r->node);
        }

        now += (sl_msec_t) (test_rand(&rng) % 50);

        /* expire what is due, in order */
        last = now - 70000;

        while (tree.root != &sentinel) {
            n = sl_rbtree_min(tree.root, &sentinel);

            if ((sl_msec_int_t) (n->key - now) > 0) {
                break;
            }

            test_require((sl_msec_int_t) (n->key - last) >= 0);
            last = n->key;

            sl_rbtree_delete(&tree, n);
            ((test_rec_t *) n)->live = 0;
            fired++;
        }

        if (step % 200 == 0) {
            test_check_tree(&tree, test_cmp_timer, recs, TEST_NODES, &gen);
        }
    }

    /* the clock did cross the wrap, and timers fired on both sides */
    ck_assert_uint_lt(now, 1000000);
    ck_assert_uint_gt(fired, 10000);

    test_check_tree(&tree, test_cmp_timer, recs, TEST_NODES, &gen);

    free(recs);
}
END_TEST


static Suite *
rbtree_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("rbtree");

    tc = tcase_create("basic");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_small_cases);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_random_duplicates);
    tcase_add_test(tc, test_random_wide);
    suite_add_tcase(s, tc);

    tc = tcase_create("timer");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_timer_wrap);
    tcase_add_test(tc, test_timer_clock);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(rbtree_suite)
