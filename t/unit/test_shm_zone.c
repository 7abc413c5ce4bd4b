/*
 * test_shm_zone.c -- shared memory zones across cycles (sl_shm_zone.c):
 * declarations that agree or conflict (nginx's texts, at file:line), the
 * memory kept by a reload that keeps name, size and owner, mapped anew
 * when the size changes, and given back when the last cycle using it goes,
 * or the last hold on it (the master's, for an old generation).
 */
#include "sl_config.h"
#include "sl_core.h"

#include "sl_test.h"

#include <stdint.h>
#include <stdio.h>

static char            log_path[] = "/tmp/sl_shm_zone.XXXXXX";
static sl_open_file_t  log_file;
static sl_log_t        log_;
static sl_cycle_t      boot;            /* the empty cycle before the first */
static sl_conf_file_t  conf_file;
static int             tag_a, tag_b;    /* two modules' tags */
static sl_uint_t       inits;
static void           *init_got;

static void
setup(void)
{
    int  fd = mkstemp(log_path);

    ck_assert_int_ge(fd, 0);
    sl_memzero(&log_file, sizeof(log_file));
    log_file.fd = fd;
    sl_memzero(&log_, sizeof(log_));
    log_.file = &log_file;
    log_.log_level = SL_LOG_DEBUG;
    sl_memzero(&boot, sizeof(boot));
    boot.log = &log_;
    sl_str_set(&conf_file.name, "test.conf");
    conf_file.start_line = 7;
    inits = 0;
    init_got = NULL;
}

static void
teardown(void)
{
    close(log_file.fd);
    unlink(log_path);
    strcpy(log_path, "/tmp/sl_shm_zone.XXXXXX");
}

static char *
logged(void)
{
    static char  buf[4096];
    ssize_t      n;

    n = pread(log_file.fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return buf;
}

/* the log has a line at level ("emerg") that holds msg */
static int
logged_at(const char *level, const char *msg)
{
    char  *line, *end, tag[16];

    snprintf(tag, sizeof(tag), "[%s] ", level);
    for (line = logged(); *line != '\0'; line = end + 1) {
        end = strchr(line, '\n');
        if (end == NULL) {
            return 0;
        }
        *end = '\0';
        if (strstr(line, tag) != NULL && strstr(line, msg) != NULL) {
            return 1;
        }
    }

    return 0;
}

static sl_cycle_t *
new_cycle(sl_cycle_t *old)
{
    sl_pool_t   *pool;
    sl_cycle_t  *c;

    pool = sl_create_pool(1024, &log_);
    ck_assert_ptr_nonnull(pool);
    c = sl_pcalloc(pool, sizeof(sl_cycle_t));
    ck_assert_ptr_nonnull(c);
    c->pool = pool;
    c->log = &log_;
    c->old_cycle = old;
    return c;
}

static sl_shm_zone_t *
declare(sl_cycle_t *c, const char *name, size_t size, void *tag)
{
    sl_conf_t  cf;
    sl_str_t   n;

    sl_memzero(&cf, sizeof(cf));
    cf.cycle = c;
    cf.pool = c->pool;
    cf.log = &log_;
    cf.conf_file = &conf_file;
    n.len = strlen(name);
    n.data = (u_char *) name;
    return sl_shared_memory_add(&cf, &n, size, tag);
}

/* the module's init: a counter in the zone, kept when the zone is */
static sl_int_t
init_counter(sl_shm_zone_t *zone, void *data)
{
    sl_uint_t  *counter;

    inits++;
    init_got = data;

    if (data != NULL) {
        zone->data = data;          /* the counter, in the kept memory */
        return SL_OK;
    }

    counter = sl_slab_calloc(zone->pool, sizeof(sl_uint_t));
    if (counter == NULL) {
        return SL_ERROR;
    }
    zone->pool->data = counter;
    zone->data = counter;
    return SL_OK;
}

START_TEST(test_declarations)
{
    sl_cycle_t     *c = new_cycle(&boot);
    sl_shm_zone_t  *z, *again;

    /* named by a use first, declared with a size later: one zone */
    z = declare(c, "one", 0, &tag_a);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(z->size, 0);
    again = declare(c, "one", 65536, &tag_a);
    ck_assert_ptr_eq(again, z);
    ck_assert_uint_eq(z->size, 65536);
    ck_assert_ptr_eq(declare(c, "one", 65536, &tag_a), z);
    ck_assert_ptr_eq(declare(c, "one", 0, &tag_a), z);

    ck_assert_ptr_null(declare(c, "one", 131072, &tag_a));
    ck_assert(logged_at("emerg", "the size 131072 of "
        "shared memory zone \"one\" conflicts with already declared size "
        "65536 in test.conf:7"));

    ck_assert_ptr_null(declare(c, "one", 65536, &tag_b));
    ck_assert(logged_at("emerg", "the shared memory zone "
        "\"one\" is already declared for a different use in test.conf:7"));

    /* another name is another zone */
    ck_assert_ptr_nonnull(declare(c, "two", 65536, &tag_b));
    ck_assert_ptr_ne(declare(c, "two", 0, &tag_b), z);

    sl_destroy_pool(c->pool);
}
END_TEST

START_TEST(test_zero_and_small)
{
    sl_cycle_t  *c = new_cycle(&boot);

    ck_assert_ptr_nonnull(declare(c, "named", 0, &tag_a));
    ck_assert_int_eq(sl_shm_zones_init(c), SL_ERROR);
    ck_assert(logged_at("emerg", "zero size shared "
                                 "memory zone \"named\""));
    sl_destroy_pool(c->pool);

    c = new_cycle(&boot);
    ck_assert_ptr_nonnull(declare(c, "tiny", 100, &tag_a));
    ck_assert_int_eq(sl_shm_zones_init(c), SL_ERROR);
    ck_assert(logged_at("emerg", "shared memory zone "
                                 "\"tiny\" of 100 bytes is too small"));
    sl_destroy_pool(c->pool);
}
END_TEST

/* the same name, size and owner: the memory and its contents are kept */
START_TEST(test_kept_across_cycles)
{
    sl_cycle_t     *c1, *c2, *c3;
    sl_shm_zone_t  *z1, *z2, *z3;
    sl_uint_t      *counter;

    c1 = new_cycle(&boot);
    z1 = declare(c1, "counts", 65536, &tag_a);
    z1->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c1), SL_OK);
    ck_assert_uint_eq(inits, 1);
    ck_assert_ptr_null(init_got);
    counter = z1->data;
    *counter = 41;

    /* a reload that keeps the zone */
    c2 = new_cycle(c1);
    z2 = declare(c2, "counts", 65536, &tag_a);
    z2->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c2), SL_OK);
    ck_assert_ptr_eq(init_got, counter);
    ck_assert_ptr_eq(z2->pool, z1->pool);
    ck_assert_ptr_eq(z2->data, counter);
    (*(sl_uint_t *) z2->data)++;

    /* the old cycle goes: the memory stays for the new one */
    sl_destroy_pool(c1->pool);
    ck_assert_uint_eq(*(sl_uint_t *) z2->data, 42);

    /* a resize: new memory, empty */
    c3 = new_cycle(c2);
    z3 = declare(c3, "counts", 131072, &tag_a);
    z3->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c3), SL_OK);
    ck_assert_ptr_null(init_got);
    ck_assert_ptr_ne(z3->pool, z2->pool);
    ck_assert_uint_eq(*(sl_uint_t *) z3->data, 0);

    sl_destroy_pool(c2->pool);
    *(sl_uint_t *) z3->data = 7;        /* still mapped */
    sl_destroy_pool(c3->pool);
    ck_assert_uint_eq(inits, 3);
}
END_TEST

/* another owner, or noreuse, never gets the old memory */
START_TEST(test_not_kept)
{
    sl_cycle_t     *c1, *c2, *c3;
    sl_shm_zone_t  *z1, *z2, *z3;

    c1 = new_cycle(&boot);
    z1 = declare(c1, "z", 65536, &tag_a);
    z1->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c1), SL_OK);

    c2 = new_cycle(c1);
    z2 = declare(c2, "z", 65536, &tag_b);
    z2->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c2), SL_OK);
    ck_assert_ptr_null(init_got);
    ck_assert_ptr_ne(z2->pool, z1->pool);

    c3 = new_cycle(c2);
    z3 = declare(c3, "z", 65536, &tag_b);
    z3->init = init_counter;
    z3->noreuse = 1;
    ck_assert_int_eq(sl_shm_zones_init(c3), SL_OK);
    ck_assert_ptr_null(init_got);
    ck_assert_ptr_ne(z3->pool, z2->pool);

    sl_destroy_pool(c1->pool);
    sl_destroy_pool(c2->pool);
    sl_destroy_pool(c3->pool);
}
END_TEST

/* a new cycle that fails leaves the old one's memory whole */
START_TEST(test_failed_cycle_keeps_old)
{
    sl_cycle_t     *c1, *c2;
    sl_shm_zone_t  *z1, *z2;

    c1 = new_cycle(&boot);
    z1 = declare(c1, "keep", 65536, &tag_a);
    z1->init = init_counter;
    ck_assert_int_eq(sl_shm_zones_init(c1), SL_OK);
    *(sl_uint_t *) z1->data = 5;

    c2 = new_cycle(c1);
    z2 = declare(c2, "keep", 65536, &tag_a);
    z2->init = init_counter;
    ck_assert_ptr_nonnull(declare(c2, "broken", 0, &tag_a));
    ck_assert_int_eq(sl_shm_zones_init(c2), SL_ERROR);
    sl_destroy_pool(c2->pool);

    ck_assert_uint_eq(*(sl_uint_t *) z1->data, 5);
    sl_destroy_pool(c1->pool);
}
END_TEST

/* the master frees a zone lock that a dead worker held, and says so */
START_TEST(test_force_unlock)
{
    sl_cycle_t     *c = new_cycle(&boot);
    sl_shm_zone_t  *z;

    z = declare(c, "locked", 65536, &tag_a);
    ck_assert_int_eq(sl_shm_zones_init(c), SL_OK);
    ck_assert_uint_eq(sl_shmtx_trylock(&z->pool->mutex, 4242), 1);

    sl_shm_zones_force_unlock(c, 4343);
    ck_assert_uint_eq(z->pool->mutex.lock, 4242);
    ck_assert_ptr_null(strstr(logged(), "was locked"));

    sl_shm_zones_force_unlock(c, 4242);
    ck_assert_uint_eq(z->pool->mutex.lock, 0);
    ck_assert(logged_at("alert", "shared memory zone "
                                 "\"locked\" was locked by 4242"));
    sl_destroy_pool(c->pool);
}
END_TEST

/* is addr still mapped in this process? (/proc: no probing of the hole) */
static int
mapped(void *addr)
{
    unsigned long  start, end, a = (unsigned long) (uintptr_t) addr;
    char           line[512];
    FILE          *f;
    int            found = 0;

    f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);

    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = sscanf(line, "%lx-%lx", &start, &end) == 2
                && a >= start && a < end;
    }

    fclose(f);
    return found;
}

/*
 * A hold keeps a destroyed cycle's memory mapped, names and all: a lock
 * there is freed for a dead process, once; the hold's end unmaps what no
 * cycle uses, and leaves what the next cycle kept.
 */
START_TEST(test_hold)
{
    sl_cycle_t     *c1, *c2;
    sl_shm_zone_t  *kept1, *gone1, *kept2, *gone2;
    sl_slab_pool_t *gone;
    sl_shm_hold_t  *hold;

    c1 = new_cycle(&boot);
    kept1 = declare(c1, "kept", 65536, &tag_a);
    gone1 = declare(c1, "dropped", 65536, &tag_a);
    gone1->noreuse = 1;
    ck_assert_int_eq(sl_shm_zones_init(c1), SL_OK);

    c2 = new_cycle(c1);
    kept2 = declare(c2, "kept", 65536, &tag_a);
    gone2 = declare(c2, "dropped", 65536, &tag_a);
    gone2->noreuse = 1;
    ck_assert_int_eq(sl_shm_zones_init(c2), SL_OK);
    ck_assert_ptr_eq(kept2->pool, kept1->pool);
    ck_assert_ptr_ne(gone2->pool, gone1->pool);

    gone = gone1->pool;
    hold = sl_shm_zones_hold(c1);
    ck_assert_ptr_nonnull(hold);
    c2->old_cycle = NULL;
    sl_destroy_pool(c1->pool);
    ck_assert(mapped(gone));

    ck_assert_uint_eq(sl_shmtx_trylock(&gone->mutex, 4242), 1);
    sl_shm_hold_force_unlock(hold, 4343, &log_);
    ck_assert_uint_eq(gone->mutex.lock, 4242);
    sl_shm_hold_force_unlock(hold, 4242, &log_);
    ck_assert_uint_eq(gone->mutex.lock, 0);
    ck_assert(logged_at("alert", "shared memory zone \"dropped\" was "
                                 "locked by 4242"));

    sl_shm_hold_release(hold, &log_);
    ck_assert(!mapped(gone));
    ck_assert(mapped(kept2->pool));

    /* a cycle without zones has nothing to hold */
    c1 = new_cycle(&boot);
    ck_assert_ptr_null(sl_shm_zones_hold(c1));
    sl_destroy_pool(c1->pool);

    sl_destroy_pool(c2->pool);
}
END_TEST

static Suite *
shm_zone_suite(void)
{
    Suite  *s = suite_create("shm_zone");
    TCase  *tc = tcase_create("zones");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_declarations);
    tcase_add_test(tc, test_zero_and_small);
    tcase_add_test(tc, test_kept_across_cycles);
    tcase_add_test(tc, test_not_kept);
    tcase_add_test(tc, test_failed_cycle_keeps_old);
    tcase_add_test(tc, test_force_unlock);
    tcase_add_test(tc, test_hold);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(shm_zone_suite)
