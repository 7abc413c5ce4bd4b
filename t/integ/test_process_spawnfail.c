/*
 * test_process_spawnfail.c -- a master that cannot start a worker: fork()
 * fails during a reload, or when a worker that died is to be replaced;
 * the table of workers is full during a reload. The master keeps the
 * workers it has (a reload keeps the old generation until one of the new
 * runs), says so in its log, and tries again until it has as many as it
 * wants.
 *
 * fork() fails through t/lib/forkfail, preloaded into sluice while a
 * control file exists (SLUICE_FORKFAIL_LIB); the full table is that of
 * a sluice built with room for two workers (SLUICE_BIN_TABLE2). Either
 * missing, the tests that need it say so and pass.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_preload.h"
#include "sl_t_net.h"
#include "sl_t_master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define T_WAIT      10000       /* ms for sluice to react */

#define V1                                                                    \
    "events { worker_connections 256; }\n"                                    \
    "stream {\n"                                                              \
    "    server { listen 127.0.0.1:@PORT@; echo; }\n"                         \
    "}\n"

/* V1 and a second listener, to tell the new configuration's workers */
#define V2                                                                    \
    "events { worker_connections 256; }\n"                                    \
    "stream {\n"                                                              \
    "    server { listen 127.0.0.1:@PORT@; echo; }\n"                         \
    "    server { listen 127.0.0.1:@PORT2@; return \"v2\\n\"; }\n"            \
    "}\n"

#define FORK_FAILED                                                           \
    "fork() failed while spawning \"worker process\" "                        \
    "(11: Resource temporarily unavailable)"
#define KEPT        "the old worker processes are kept"
#define TABLE_FULL  "no more than 2 processes can be spawned"


/* a session in progress: connected, one round trip done */
static int
open_session(int port)
{
    int  fd = sl_t_try_connect(port);

    ck_assert_msg(fd != -1, "connect: %s", strerror(errno));
    sl_t_echo_round(fd, 1500, T_WAIT);
    return fd;
}


/* a new session is served from start to end */
static void
expect_serving(int port)
{
    int  fd = open_session(port);

    sl_t_echo_round(fd, 3000, T_WAIT);
    (void) close(fd);
}


static void
expect_alive(const sl_t_master_t *m, const sl_t_pids_t *set)
{
    int  i;

    ck_assert_msg(sl_t_alive(m->master), "the master is gone");

    for (i = 0; i < set->n; i++) {
        ck_assert_msg(sl_t_alive(set->pid[i]), "worker %d is gone; log:\n%s",
                      (int) set->pid[i], sl_t_read(m->log));
    }
}


/* set a, then those of b that a does not have */
static void
pids_join(sl_t_pids_t *out, const sl_t_pids_t *a, const sl_t_pids_t *b)
{
    int  i;

    *out = *a;
    for (i = 0; i < b->n && out->n < SL_T_MAX_PIDS; i++) {
        if (!sl_t_pids_has(out, b->pid[i])) {
            out->pid[out->n++] = b->pid[i];
        }
    }
}


/* --- fork() fails -------------------------------------------------------- */

/* the shim's path, or NULL (after saying why) when it is not built */
static const char *
shim(const char *name)
{
    const char  *lib = getenv("SLUICE_FORKFAIL_LIB");

    if (lib == NULL || !sl_t_exists(lib)) {
        printf("test_process_spawnfail: %s: skipped (t/lib/forkfail is "
               "not built)\n", name);
        return NULL;
    }

    return lib;
}




/*
 * A master with the shim preloaded: its fork() fails while ctl exists.
 * Only sluice gets the variables.
 */
static void
start_faulty(sl_t_master_t *m, int workers, const char *lib, const char *ctl)
{
    sl_t_preload_begin(lib, "SL_T_FORK_FAIL", ctl);

    sl_t_master_start(m, workers, 0, V1);

    sl_t_preload_end();
}


START_TEST(test_reload_fork_fails)
{
    sl_t_master_t   m;
    sl_t_pids_t     old, now, all;
    const char     *lib, *dir, *ctl;
    int             s1;

    lib = shim("reload_fork_fails");
    if (lib == NULL) {
        return;
    }

    dir = sl_t_mkdir();
    ctl = sl_t_path(dir, "fail-fork");
    start_faulty(&m, 2, lib, ctl);
    sl_t_workers(&m, &old);
    s1 = open_session(m.port);

    /* no fork() succeeds: the reload finds no new worker running */
    sl_t_write(dir, "fail-fork", "");
    sl_t_master_conf(&m, V2);
    sl_t_signal(m.proc, SIGHUP);

    sl_t_wait_log(m.log, "alert", FORK_FAILED, 1, T_WAIT);
    sl_t_wait_log(m.log, "alert", KEPT, 1, T_WAIT);

    /* and it tries again (and fails again): the old ones keep serving */
    sl_t_wait_log(m.log, "alert", FORK_FAILED, 2, T_WAIT);

    expect_alive(&m, &old);
    sl_t_workers(&m, &now);
    ck_assert_int_eq(now.n, old.n);
    ck_assert_ptr_null(sl_t_log_has(sl_t_read(m.log), "notice",
                                    "gracefully shutting down"));
    sl_t_echo_round(s1, 3000, T_WAIT);
    expect_serving(m.port);

    /* fork() works again: the new generation comes, the old one goes */
    ck_assert_int_eq(unlink(ctl), 0);
    sl_t_wait_workers(&m, &old, &now, T_WAIT);
    ck_assert_str_eq(sl_t_ask(m.port2, T_WAIT), "v2\n");
    expect_serving(m.port);

    /* the session of the old generation ends as it would have */
    sl_t_echo_round(s1, 200, T_WAIT);
    (void) close(s1);
    sl_t_wait_dead(&old, T_WAIT);

    pids_join(&all, &old, &now);
    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &all, T_WAIT);
}
END_TEST


START_TEST(test_respawn_fork_fails)
{
    sl_t_master_t   m;
    sl_t_pids_t     old, rest, now;
    const char     *lib, *dir, *ctl;
    int             i;

    lib = shim("respawn_fork_fails");
    if (lib == NULL) {
        return;
    }

    dir = sl_t_mkdir();
    ctl = sl_t_path(dir, "fail-fork");
    start_faulty(&m, 2, lib, ctl);
    sl_t_workers(&m, &old);

    /* a worker dies when no fork() succeeds: the other one serves */
    sl_t_write(dir, "fail-fork", "");
    ck_assert_int_eq(kill(old.pid[0], SIGKILL), 0);
    m.killed = 1;

    sl_t_wait_log(m.log, "alert", FORK_FAILED, 2, T_WAIT);

    rest.n = 0;
    for (i = 1; i < old.n; i++) {
        rest.pid[rest.n++] = old.pid[i];
    }
    expect_alive(&m, &rest);
    expect_serving(m.port);

    /* fork() works again: the master has its two workers */
    ck_assert_int_eq(unlink(ctl), 0);
    sl_t_wait_workers(&m, NULL, &now, T_WAIT);
    expect_alive(&m, &rest);
    expect_serving(m.port);

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &now, T_WAIT);
}
END_TEST


/* --- the table of workers is full ---------------------------------------- */

/*
 * One worker a generation, in a table of two: a session keeps the first
 * generation's worker, the second reload finds no slot for the third.
 */
START_TEST(test_reload_table_full)
{
    sl_t_master_t   m;
    sl_t_pids_t     w1, w2, w3, old;
    const char     *bin = getenv("SLUICE_BIN_TABLE2"), *saved;
    int             s1;

    if (bin == NULL || !sl_t_exists(bin)) {
        printf("test_process_spawnfail: reload_table_full: skipped "
               "(sluice-table2 is not built)\n");
        return;
    }

    saved = sl_t_printf("%s", sl_t_bin());
    ck_assert_int_eq(setenv("SLUICE_BIN", bin, 1), 0);
    sl_t_master_start(&m, 1, 0, V1);
    ck_assert_int_eq(setenv("SLUICE_BIN", saved, 1), 0);

    sl_t_workers(&m, &w1);
    s1 = open_session(m.port);

    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_workers(&m, &w1, &w2, T_WAIT);
    sl_t_wait_log(m.log, "notice", "gracefully shutting down", 1, T_WAIT);
    expect_alive(&m, &w1);              /* its session goes on */

    /* no slot for a third generation: the second stays */
    sl_t_master_conf(&m, V2);
    sl_t_signal(m.proc, SIGHUP);
    sl_t_wait_log(m.log, "alert", TABLE_FULL, 1, T_WAIT);
    sl_t_wait_log(m.log, "alert", KEPT, 1, T_WAIT);

    expect_alive(&m, &w2);
    ck_assert_int_eq(sl_t_log_count(sl_t_read(m.log), "notice",
                                     "gracefully shutting down"), 1);
    expect_serving(m.port);
    sl_t_echo_round(s1, 100, T_WAIT);

    /* the first generation's worker ends: its slot is the third's */
    (void) close(s1);
    sl_t_wait_dead(&w1, T_WAIT);

    pids_join(&old, &w1, &w2);
    sl_t_wait_workers(&m, &old, &w3, T_WAIT);
    ck_assert_str_eq(sl_t_ask(m.port2, T_WAIT), "v2\n");
    sl_t_wait_dead(&w2, T_WAIT);
    expect_serving(m.port);

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &w3, T_WAIT);
}
END_TEST


/* --- the suite ----------------------------------------------------------- */

static Suite *
process_spawnfail_suite(void)
{
    Suite  *s = suite_create("process_spawnfail");
    TCase  *tc;

    tc = sl_t_master_tcase(s, "fork", 60);
    tcase_add_checked_fixture(tc, NULL, sl_t_preload_end);
    tcase_add_test(tc, test_reload_fork_fails);
    tcase_add_test(tc, test_respawn_fork_fails);

    tc = sl_t_master_tcase(s, "table", 60);
    tcase_add_test(tc, test_reload_table_full);

    return s;
}


SL_TEST_MAIN(process_spawnfail_suite)
