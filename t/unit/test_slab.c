/*
 * test_slab.c -- the zone allocator (sl_slab.c) and the lock it lives
 * under (sl_shmem.c): chunks of every class, runs of pages merged again
 * when freed, refusals of pointers that were never handed out, memory
 * and locks shared with a forked process, and a lock whose holder was
 * killed freed by force.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <signal.h>
#include <sys/wait.h>

#include "sl_test.h"

#define ZONE_SIZE  (256 * 1024)

static sl_shm_t         shm;
static sl_slab_pool_t  *pool;

static void
setup(void)
{
    sl_str_t  name = sl_string("test");

    shm.size = ZONE_SIZE;
    ck_assert_int_eq(sl_shm_alloc(&shm, NULL), SL_OK);
    ck_assert_int_eq(sl_slab_init(shm.addr, shm.size, &name), SL_OK);
    pool = (sl_slab_pool_t *) shm.addr;
}

static void
teardown(void)
{
    sl_shm_free(&shm, NULL);
}

/* p[0 .. len) all hold byte: one check per block, not one per byte */
static int
holds(const u_char *p, size_t len, u_char byte)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] != byte) {
            return 0;
        }
    }

    return 1;
}

/* every chunk class empty and every page free again */
static void
assert_empty(void)
{
    sl_uint_t  i;

    ck_assert_uint_eq(pool->pages_free, pool->pages_total);
    for (i = 0; i < SL_SLAB_CLASSES; i++) {
        ck_assert_uint_eq(pool->stats[i].used, 0);
        ck_assert_uint_eq(pool->stats[i].total, 0);
    }
}

START_TEST(test_layout)
{
    sl_str_t  name = sl_string("small");

    ck_assert_str_eq(pool->log_ctx, " in zone \"test\"");
    ck_assert_uint_gt(pool->pages_total, 50);
    ck_assert(pool->end >= pool->start
              + (pool->pages_total << SL_SLAB_PAGE_SHIFT));
    ck_assert_uint_eq((uintptr_t) pool->start % SL_SLAB_PAGE_SIZE, 0);
    assert_empty();

    /* a block that cannot hold a page is refused */
    ck_assert_int_eq(sl_slab_init(shm.addr, sizeof(sl_slab_pool_t) + 100,
                                  &name), SL_ERROR);
}
END_TEST

/* chunks: aligned to their class, distinct, and kept intact */
START_TEST(test_chunks)
{
    static const size_t  sizes[] = { 1, 7, 8, 9, 16, 24, 100, 512, 513,
                                     1024, 2047, 2048 };
    u_char              *p[12][20];
    size_t               size, cls;
    sl_uint_t            i, j;

    for (i = 0; i < 12; i++) {
        size = sizes[i];
        for (cls = 8; cls < size; cls <<= 1) { /* void */ }

        for (j = 0; j < 20; j++) {
            p[i][j] = sl_slab_alloc(pool, size);
            ck_assert_ptr_nonnull(p[i][j]);
            ck_assert_uint_eq((uintptr_t) p[i][j] % cls, 0);
            ck_assert(p[i][j] >= pool->start);
            memset(p[i][j], (int) (i * 20 + j), size);
        }
    }

    for (i = 0; i < 12; i++) {
        for (j = 0; j < 20; j++) {
            ck_assert(holds(p[i][j], sizes[i], (u_char) (i * 20 + j)));
            ck_assert_int_eq(sl_slab_free(pool, p[i][j]), SL_OK);
        }
    }

    assert_empty();
}
END_TEST

/* every page taken one by one, freed in a scattered order, then one run */
START_TEST(test_runs_merge)
{
    sl_uint_t   n = pool->pages_total, i, got;
    u_char    **p;

    p = calloc(n + 1, sizeof(u_char *));
    ck_assert_ptr_nonnull(p);

    for (got = 0; got <= n; got++) {
        p[got] = sl_slab_alloc(pool, SL_SLAB_PAGE_SIZE);
        if (p[got] == NULL) {
            break;
        }
        ck_assert_uint_eq((uintptr_t) p[got] % SL_SLAB_PAGE_SIZE, 0);
    }
    ck_assert_uint_eq(got, n);
    ck_assert_uint_eq(pool->pages_free, 0);

    /* nothing is left for a chunk either: a failure, counted */
    ck_assert_ptr_null(sl_slab_alloc(pool, 8));
    ck_assert_uint_eq(pool->stats[0].fails, 1);

    /* odd pages first, then even ones from the end: every merge case */
    for (i = 1; i < n; i += 2) {
        ck_assert_int_eq(sl_slab_free(pool, p[i]), SL_OK);
    }
    for (i = (n - 1) & ~(sl_uint_t) 1; ; i -= 2) {
        ck_assert_int_eq(sl_slab_free(pool, p[i]), SL_OK);
        if (i < 2) {
            break;
        }
    }
    assert_empty();

    /* merged into one run: the whole block in one allocation */
    p[0] = sl_slab_alloc(pool, n * SL_SLAB_PAGE_SIZE);
    ck_assert_ptr_eq(p[0], pool->start);
    ck_assert_ptr_null(sl_slab_alloc(pool, 1));
    ck_assert_int_eq(sl_slab_free(pool, p[0]), SL_OK);
    assert_empty();

    ck_assert_ptr_null(sl_slab_alloc(pool, (n + 1) * SL_SLAB_PAGE_SIZE));
    free(p);
}
END_TEST

/* pointers never handed out, or handed back already, are refused */
START_TEST(test_bad_free)
{
    u_char  *chunk, *run, outside[16];

    chunk = sl_slab_alloc(pool, 64);
    run = sl_slab_alloc(pool, 3 * SL_SLAB_PAGE_SIZE);
    ck_assert_ptr_nonnull(chunk);
    ck_assert_ptr_nonnull(run);

    ck_assert_int_eq(sl_slab_free(pool, NULL), SL_OK);
    ck_assert_int_eq(sl_slab_free(pool, outside), SL_ERROR);
    ck_assert_int_eq(sl_slab_free(pool, chunk + 1), SL_ERROR);
    ck_assert_int_eq(sl_slab_free(pool, chunk + 64), SL_ERROR); /* unused */
    ck_assert_int_eq(sl_slab_free(pool, run + 8), SL_ERROR);
    ck_assert_int_eq(sl_slab_free(pool, run + SL_SLAB_PAGE_SIZE), SL_ERROR);

    ck_assert_int_eq(sl_slab_free(pool, run), SL_OK);
    ck_assert_int_eq(sl_slab_free(pool, run), SL_ERROR);
    ck_assert_int_eq(sl_slab_free(pool, chunk), SL_OK);
    ck_assert_int_eq(sl_slab_free(pool, chunk), SL_ERROR); /* page gone */
    assert_empty();
}
END_TEST

/* random sizes and frees against a shadow of what each block holds */
START_TEST(test_random)
{
    enum { SLOTS = 256, ROUNDS = 20000 };
    u_char     *p[SLOTS] = { NULL };
    size_t      len[SLOTS] = { 0 };
    sl_uint_t   r, i, seed = 12345;

    for (r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245 + 12345;
        i = (seed >> 8) % SLOTS;

        if (p[i] != NULL) {
            ck_assert(holds(p[i], len[i], (u_char) i));
            ck_assert(sl_slab_free(pool, p[i]) == SL_OK);
            p[i] = NULL;
            continue;
        }

        /* mostly chunks, a run now and then */
        len[i] = (seed >> 16) % 8 == 0 ? 1 + (seed >> 4) % 12000
                                       : 1 + (seed >> 4) % 2048;
        p[i] = sl_slab_calloc(pool, len[i]);
        if (p[i] == NULL) {
            continue;                   /* full for now: a later free helps */
        }
        ck_assert(holds(p[i], len[i], 0));
        memset(p[i], (int) i, len[i]);
    }

    for (i = 0; i < SLOTS; i++) {
        ck_assert_int_eq(sl_slab_free(pool, p[i]), SL_OK);
    }
    assert_empty();
}
END_TEST

/* a chunk allocated by a child is there for the parent */
START_TEST(test_shared_with_child)
{
    pid_t  pid;
    int    status;
    char  *s;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        s = sl_slab_alloc(pool, 32);
        if (s == NULL) {
            _exit(1);
        }
        strcpy(s, "from the child");
        pool->data = s;
        _exit(0);
    }

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_ptr_nonnull(pool->data);
    ck_assert_str_eq(pool->data, "from the child");
    ck_assert_int_eq(sl_slab_free(pool, pool->data), SL_OK);
    assert_empty();
}
END_TEST

/* two processes count under the lock: no increment is lost */
START_TEST(test_lock_counts)
{
    /* under valgrind (make test-valgrind) each step is slow: fewer */
    sl_uint_t   n = getenv("SLUICE_WRAPPER") != NULL ? 2000 : 100000;
    sl_uint_t  *count, i, wrong = 0;
    pid_t       pid;
    int         status;

    count = sl_slab_calloc(pool, sizeof(sl_uint_t));
    ck_assert_ptr_nonnull(count);

    /* no ck_assert in the loop: the child must not talk to Check */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    for (i = 0; i < n; i++) {
        sl_shmtx_lock(&pool->mutex);
        if (pool->mutex.lock != sl_shmtx_pid()) {
            wrong++;
        }
        (*count)++;
        sl_shmtx_unlock(&pool->mutex);
    }
    if (pid == 0) {
        _exit(wrong == 0 ? 0 : 1);
    }
    ck_assert_uint_eq(wrong, 0);

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(*count, 2 * n);
}
END_TEST

/* a holder killed: the lock stays taken until it is freed for its pid */
START_TEST(test_lock_holder_killed)
{
    int    fds[2], status;
    pid_t  pid;
    char   c;

    ck_assert_int_eq(pipe(fds), 0);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sl_shmtx_lock(&pool->mutex);
        (void) write(fds[1], "L", 1);
        for ( ;; ) {
            pause();
        }
    }

    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    ck_assert_uint_eq(pool->mutex.lock, (sl_uint_t) pid);
    ck_assert_uint_eq(sl_shmtx_trylock(&pool->mutex, sl_shmtx_pid()), 0);

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);

    /* only the dead holder's pid frees it */
    ck_assert_uint_eq(sl_shmtx_force_unlock(&pool->mutex, pid + 1), 0);
    ck_assert_uint_eq(sl_shmtx_force_unlock(&pool->mutex, pid), 1);
    ck_assert_uint_eq(sl_shmtx_force_unlock(&pool->mutex, pid), 0);

    /* and the allocator works again */
    ck_assert_ptr_nonnull(sl_slab_alloc(pool, 10));
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* a forked child's pid is its own, not the parent's cached one */
START_TEST(test_pid_after_fork)
{
    int    status;
    pid_t  pid;

    ck_assert_uint_eq(sl_shmtx_pid(), (sl_uint_t) getpid());

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(sl_shmtx_pid() == (sl_uint_t) getpid() ? 0 : 1);
    }

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static Suite *
slab_suite(void)
{
    Suite  *s = suite_create("slab");
    TCase  *tc = tcase_create("slab");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_chunks);
    tcase_add_test(tc, test_runs_merge);
    tcase_add_test(tc, test_bad_free);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_shared_with_child);
    tcase_add_test(tc, test_lock_counts);
    tcase_add_test(tc, test_lock_holder_killed);
    tcase_add_test(tc, test_pid_after_fork);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(slab_suite)
