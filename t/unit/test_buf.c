/*
 * test_buf.c -- buffers and chains: creation, link reuse, sizes, partial
 * sends, and recycling consumed buffers.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"


/* a memory buffer over a copy of the string s */
static sl_buf_t *
test_buf(sl_pool_t *pool, const char *s, sl_buf_tag_t tag)
{
    size_t     len;
    sl_buf_t  *b;

    len = strlen(s);
    b = sl_create_temp_buf(pool, len);
    ck_assert_ptr_nonnull(b);
    b->last = sl_cpymem(b->last, s, len);
    b->tag = tag;

    return b;
}


/* a chain of links over the given bufs */
static sl_chain_t *
test_chain(sl_pool_t *pool, sl_buf_t **bufs, int n)
{
    int          i;
    sl_chain_t  *head, **ll, *cl;

    head = NULL;
    ll = &head;

    for (i = 0; i < n; i++) {
        cl = sl_alloc_chain_link(pool);
        ck_assert_ptr_nonnull(cl);
        cl->buf = bufs[i];
        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;

    return head;
}


static int
test_chain_len(sl_chain_t *cl)
{
    int  n;

    for (n = 0; cl != NULL; cl = cl->next) {
        n++;
    }

    return n;
}


/* the unsent bytes of the chain, concatenated into out */
static size_t
test_chain_text(sl_chain_t *cl, u_char *out)
{
    u_char  *p;

    p = out;

    for ( /* void */ ; cl != NULL; cl = cl->next) {
        if (sl_buf_size(cl->buf) > 0) {
            p = sl_cpymem(p, cl->buf->pos, (size_t) sl_buf_size(cl->buf));
        }
    }

    return (size_t) (p - out);
}


START_TEST(test_create_temp_buf)
{
    sl_buf_t   *b;
    sl_pool_t  *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    b = sl_create_temp_buf(pool, 128);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_eq(b->pos, b->start);
    ck_assert_ptr_eq(b->last, b->start);
    ck_assert_int_eq(b->end - b->start, 128);
    ck_assert(b->temporary);
    ck_assert(!b->memory && !b->flush && !b->last_buf);
    ck_assert_ptr_null(b->tag);
    ck_assert(sl_buf_is_empty(b));
    ck_assert_uint_eq(sl_buf_free_space(b), 128);
    ck_assert_int_eq(sl_buf_size(b), 0);

    /* the memory is really ours to write */
    memset(b->start, 'x', 128);
    b->last += 100;
    b->pos += 10;
    ck_assert_int_eq(sl_buf_size(b), 90);
    ck_assert_uint_eq(sl_buf_free_space(b), 28);

    /* a buffer bigger than the pool's max still works */
    b = sl_create_temp_buf(pool, 64 * 1024);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->end - b->start, 64 * 1024);
    memset(b->start, 'y', 64 * 1024);

    ck_assert(sl_buf_special(&(sl_buf_t) { .last_buf = 1 }));
    ck_assert(!sl_buf_special(&(sl_buf_t) { .last_buf = 0 }));

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_create_chain_of_bufs)
{
    int          i;
    sl_bufs_t    bufs;
    sl_chain_t  *chain, *cl;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    bufs.num = 4;
    bufs.size = 100;

    chain = sl_create_chain_of_bufs(pool, &bufs);
    ck_assert_ptr_nonnull(chain);
    ck_assert_int_eq(test_chain_len(chain), 4);

    for (i = 0, cl = chain; cl != NULL; cl = cl->next, i++) {
        ck_assert(cl->buf->temporary);
        ck_assert_ptr_eq(cl->buf->pos, cl->buf->start);
        ck_assert_ptr_eq(cl->buf->last, cl->buf->start);
        ck_assert_int_eq(cl->buf->end - cl->buf->start, 100);

        /* side by side, never overlapping */
        if (cl->next != NULL) {
            ck_assert_ptr_eq(cl->next->buf->start, cl->buf->end);
        }

        memset(cl->buf->start, 'a' + i, 100);
    }

    for (i = 0, cl = chain; cl != NULL; cl = cl->next, i++) {
        ck_assert_uint_eq(cl->buf->start[0], (unsigned) ('a' + i));
        ck_assert_uint_eq(cl->buf->end[-1], (unsigned) ('a' + i));
    }

    bufs.num = 0;
    ck_assert_ptr_null(sl_create_chain_of_bufs(pool, &bufs));

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_alloc_chain_link)
{
    sl_chain_t  *a, *b, *c;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a = sl_alloc_chain_link(pool);
    b = sl_alloc_chain_link(pool);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);

    sl_free_chain(pool, a);
    sl_free_chain(pool, b);
    ck_assert_ptr_eq(pool->chain, b);

    /* last freed comes back first, then the list is empty */
    ck_assert_ptr_eq(sl_alloc_chain_link(pool), b);
    ck_assert_ptr_eq(sl_alloc_chain_link(pool), a);
    ck_assert_ptr_null(pool->chain);

    c = sl_alloc_chain_link(pool);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c, a);
    ck_assert_ptr_ne(c, b);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_add_copy)
{
    sl_buf_t    *bufs[4];
    sl_chain_t  *out, *in, *cl, *first;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    bufs[0] = test_buf(pool, "zero", NULL);
    bufs[1] = test_buf(pool, "one", NULL);
    bufs[2] = test_buf(pool, "two", NULL);
    bufs[3] = test_buf(pool, "three", NULL);

    /* onto an empty chain */
    out = NULL;
    in = test_chain(pool, &bufs[0], 1);
    ck_assert_int_eq(sl_chain_add_copy(pool, &out, in), SL_OK);
    ck_assert_int_eq(test_chain_len(out), 1);
    ck_assert_ptr_ne(out, in);
    ck_assert_ptr_eq(out->buf, bufs[0]);
    first = out;

    /* appended after what is there; links are new, buffers are shared */
    in = test_chain(pool, &bufs[1], 3);
    ck_assert_int_eq(sl_chain_add_copy(pool, &out, in), SL_OK);
    ck_assert_int_eq(test_chain_len(out), 4);
    ck_assert_ptr_eq(out, first);
    ck_assert_ptr_eq(out->next->buf, bufs[1]);
    ck_assert_ptr_eq(out->next->next->buf, bufs[2]);
    ck_assert_ptr_eq(out->next->next->next->buf, bufs[3]);

    for (cl = out; cl != NULL; cl = cl->next) {
        ck_assert_ptr_ne(cl, in);
        ck_assert_ptr_ne(cl, in->next);
        ck_assert_ptr_ne(cl, in->next->next);
    }

    /* the source chain is untouched */
    ck_assert_int_eq(test_chain_len(in), 3);
    ck_assert_ptr_eq(in->buf, bufs[1]);

    /* freed links are reused by the copy */
    cl = in->next->next;
    sl_free_chain(pool, in);
    ck_assert_int_eq(sl_chain_add_copy(pool, &out, cl), SL_OK);
    ck_assert_ptr_eq(out->next->next->next->next, in);
    ck_assert_ptr_eq(in->buf, bufs[3]);
    ck_assert_int_eq(test_chain_len(out), 5);
    ck_assert_ptr_null(pool->chain);

    /* copying nothing changes nothing */
    ck_assert_int_eq(sl_chain_add_copy(pool, &out, NULL), SL_OK);
    ck_assert_int_eq(test_chain_len(out), 5);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_size)
{
    sl_buf_t    *bufs[3];
    sl_chain_t  *chain;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    ck_assert_int_eq(sl_chain_size(NULL), 0);

    bufs[0] = test_buf(pool, "hello", NULL);
    bufs[1] = test_buf(pool, "", NULL);
    bufs[2] = test_buf(pool, "world!!", NULL);
    chain = test_chain(pool, bufs, 3);

    ck_assert_int_eq(sl_chain_size(chain), 12);

    bufs[0]->pos += 2;
    ck_assert_int_eq(sl_chain_size(chain), 10);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_update_sent)
{
    u_char       text[64];
    sl_buf_t    *bufs[4];
    sl_chain_t  *chain, *cl;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    bufs[0] = test_buf(pool, "hello", NULL);
    bufs[1] = test_buf(pool, "world!", NULL);
    bufs[2] = test_buf(pool, "abc", NULL);
    bufs[3] = sl_calloc_buf(pool);
    bufs[3]->last_buf = 1;
    chain = test_chain(pool, bufs, 4);

    /* nothing sent: the head is still first */
    ck_assert_ptr_eq(sl_chain_update_sent(chain, 0), chain);

    /* into the middle of the second buffer */
    cl = sl_chain_update_sent(chain, 7);
    ck_assert_ptr_eq(cl, chain->next);
    ck_assert(sl_buf_is_empty(bufs[0]));
    ck_assert_ptr_eq(bufs[1]->pos, bufs[1]->start + 2);
    ck_assert_uint_eq(test_chain_text(cl, text), 7);
    ck_assert_int_eq(memcmp(text, "rld!abc", 7), 0);

    /* resumes exactly there, across the end of the second */
    cl = sl_chain_update_sent(cl, 5);
    ck_assert_ptr_eq(cl, chain->next->next);
    ck_assert(sl_buf_is_empty(bufs[1]));
    ck_assert_uint_eq(test_chain_text(cl, text), 2);
    ck_assert_int_eq(memcmp(text, "bc", 2), 0);

    /* an exact end; the trailing last_buf marker is nothing to wait for */
    cl = sl_chain_update_sent(cl, 2);
    ck_assert_ptr_null(cl);
    ck_assert_int_eq(sl_chain_size(chain), 0);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_update_sent_random)
{
    int          i, round;
    off_t        left, sent;
    size_t       total, n, len;
    u_char       src[4096], text[4096];
    unsigned     seed;
    sl_buf_t    *bufs[40];
    sl_chain_t  *chain, *cl;
    sl_pool_t   *pool;

    pool = sl_create_pool(4096, NULL);
    ck_assert_ptr_nonnull(pool);

    seed = 12345;

    for (round = 0; round < 50; round++) {
        total = 0;

        for (i = 0; i < 40; i++) {
            seed = seed * 1103515245 + 12345;
            len = (seed >> 16) % 60;        /* some buffers are empty */
            bufs[i] = sl_create_temp_buf(pool, len);
            ck_assert_ptr_nonnull(bufs[i]);

            for (n = 0; n < len; n++) {
                src[total] = (u_char) ('A' + (total % 58));
                *bufs[i]->last++ = src[total++];
            }
        }

        chain = test_chain(pool, bufs, 40);
        cl = chain;
        left = (off_t) total;

        /* each step the unsent bytes are exactly the original's tail */
        while (left > 0) {
            seed = seed * 1103515245 + 12345;
            sent = (off_t) ((seed >> 16) % 97);
            sent = sl_min(sent, left);

            cl = sl_chain_update_sent(cl, sent);
            left -= sent;

            ck_assert_int_eq(sl_chain_size(chain), left);
            ck_assert_uint_eq(test_chain_text(cl, text), (size_t) left);
            ck_assert_int_eq(memcmp(text, src + total - left, left), 0);

            if (left > 0) {
                ck_assert_ptr_nonnull(cl);
                ck_assert_int_gt(sl_buf_size(cl->buf), 0);
            }
        }

        sl_reset_pool(pool);
    }

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_update_chains)
{
    int           tag_a, tag_b;
    sl_buf_t     *a1, *a2, *b1, *a3;
    sl_chain_t   *free, *busy, *out, *la1, *la2, *lb1, *la3, *cl;
    sl_pool_t    *pool;
    sl_buf_t     *all[4];

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    a1 = test_buf(pool, "aaaa", &tag_a);
    b1 = test_buf(pool, "bbbb", &tag_b);
    a2 = test_buf(pool, "cccc", &tag_a);
    a3 = test_buf(pool, "dddd", &tag_a);

    all[0] = a1;
    all[1] = b1;
    all[2] = a2;
    all[3] = a3;
    out = test_chain(pool, all, 3);
    la1 = out;
    lb1 = out->next;
    la2 = out->next->next;

    free = NULL;
    busy = NULL;

    /* nothing sent yet: everything moves to busy and stays there */
    sl_chain_update_chains(pool, &free, &busy, &out, &tag_a);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(free);
    ck_assert_ptr_eq(busy, la1);
    ck_assert_int_eq(test_chain_len(busy), 3);

    /* a1 and b1 fully sent, a2 half */
    a1->pos = a1->last;
    a1->flush = 1;
    b1->pos = b1->last;
    a2->pos += 2;

    /* a new out is appended behind the busy ones */
    out = test_chain(pool, &all[3], 1);
    la3 = out;

    sl_chain_update_chains(pool, &free, &busy, &out, &tag_a);

    ck_assert_ptr_null(out);
    ck_assert_ptr_eq(busy, la2);
    ck_assert_ptr_eq(busy->next, la3);
    ck_assert_ptr_null(la3->next);

    /* ours is rewound onto free */
    ck_assert_ptr_eq(free, la1);
    ck_assert_ptr_null(free->next);
    ck_assert_ptr_eq(a1->pos, a1->start);
    ck_assert_ptr_eq(a1->last, a1->start);
    ck_assert(!a1->flush);

    /* somebody else's: the link goes back to the pool, the buf is left */
    ck_assert_ptr_eq(pool->chain, lb1);
    ck_assert_ptr_eq(b1->pos, b1->last);
    ck_assert_ptr_ne(b1->pos, b1->start);

    /* the rest drains: a2 then a3 are pushed onto free */
    a2->pos = a2->last;
    a3->pos = a3->last;
    sl_chain_update_chains(pool, &free, &busy, &out, &tag_a);

    ck_assert_ptr_null(busy);
    ck_assert_int_eq(test_chain_len(free), 3);
    ck_assert_ptr_eq(free, la3);
    ck_assert_ptr_eq(free->next, la2);
    ck_assert_ptr_eq(free->next->next, la1);

    for (cl = free; cl != NULL; cl = cl->next) {
        ck_assert(sl_buf_is_empty(cl->buf));
        ck_assert_ptr_eq(cl->buf->pos, cl->buf->start);
        ck_assert_uint_eq(sl_buf_free_space(cl->buf), 4);
    }

    /* and sl_chain_get_free_buf hands them out again */
    cl = sl_chain_get_free_buf(pool, &free);
    ck_assert_ptr_eq(cl, la3);
    ck_assert_ptr_null(cl->next);
    ck_assert_ptr_eq(free, la2);

    sl_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_get_free_buf)
{
    sl_chain_t  *free, *cl;
    sl_pool_t   *pool;

    pool = sl_create_pool(1024, NULL);
    ck_assert_ptr_nonnull(pool);

    free = NULL;

    /* none free: a new link with a zeroed buffer */
    cl = sl_chain_get_free_buf(pool, &free);
    ck_assert_ptr_nonnull(cl);
    ck_assert_ptr_nonnull(cl->buf);
    ck_assert_ptr_null(cl->next);
    ck_assert_ptr_null(cl->buf->start);
    ck_assert_ptr_null(cl->buf->pos);
    ck_assert(!cl->buf->temporary && !cl->buf->last_buf);

    cl->next = free;
    free = cl;

    ck_assert_ptr_eq(sl_chain_get_free_buf(pool, &free), cl);
    ck_assert_ptr_null(free);

    sl_destroy_pool(pool);
}
END_TEST


static Suite *
buf_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("buf");

    tc = tcase_create("buf");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_create_temp_buf);
    tcase_add_test(tc, test_create_chain_of_bufs);
    suite_add_tcase(s, tc);

    tc = tcase_create("chain");
    tcase_set_timeout(tc, 5);
    tcase_add_test(tc, test_alloc_chain_link);
    tcase_add_test(tc, test_chain_add_copy);
    tcase_add_test(tc, test_chain_size);
    tcase_add_test(tc, test_chain_update_sent);
    tcase_add_test(tc, test_chain_update_sent_random);
    tcase_add_test(tc, test_chain_update_chains);
    tcase_add_test(tc, test_chain_get_free_buf);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(buf_suite)
