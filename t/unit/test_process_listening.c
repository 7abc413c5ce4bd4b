/*
 * test_process_listening.c -- what a reload and a binary upgrade do with
 * listening sockets, on real sockets of 127.0.0.1: taking over those of
 * the old cycle, giving them back when the reload fails, closing those
 * that went away, passing them on in SLUICE="fd;..." and adopting them;
 * the sockets of reuseport workers; and the accept mutex and the CPU
 * masks of the workers.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"

#include "sl_test.h"

#include <sys/wait.h>

static sl_log_t        tlog;
static sl_open_file_t  tfile;
static sl_pool_t      *pools[8];
static sl_uint_t       npools;

static void
setup(void)
{
    sl_log_init_stderr(&tlog, &tfile);
    tlog.log_level = SL_LOG_STDERR;      /* quiet: errors are expected */
    npools = 0;
}

static void
teardown(void)
{
    while (npools > 0) {
        sl_destroy_pool(pools[--npools]);
    }
}

/* a cycle that has a pool, a log and listening sockets only */
static sl_cycle_t *
cycle_new(void)
{
    sl_pool_t   *pool;
    sl_cycle_t  *cycle;

    ck_assert_uint_lt(npools, sl_nelems(pools));
    pool = sl_create_pool(4096, &tlog);
    ck_assert_ptr_nonnull(pool);
    pools[npools++] = pool;

    cycle = sl_pcalloc(pool, sizeof(sl_cycle_t));
    ck_assert_ptr_nonnull(cycle);
    cycle->pool = pool;
    cycle->log = &tlog;
    cycle->new_log = tlog;
    ck_assert_int_eq(sl_array_init(&cycle->listening, pool, 4,
                                   sizeof(sl_listening_t)), SL_OK);
    return cycle;
}

/* a listening socket on 127.0.0.1:port (0: any) */
static sl_listening_t *
add_listen(sl_cycle_t *cycle, in_port_t port, sl_uint_t reuseport)
{
    struct sockaddr_in  sin;
    sl_listening_t     *ls;

    sl_memzero(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ls = sl_create_listening(cycle, (struct sockaddr *) &sin, sizeof(sin));
    ck_assert_ptr_nonnull(ls);
    ls->reuseport = reuseport;
    return ls;
}

static in_port_t
port_of(sl_fd_t fd)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* does a connect to 127.0.0.1:port succeed? */
static int
can_connect(in_port_t port)
{
    struct sockaddr_in  sin;
    int                 s, rc;

    sl_memzero(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ne(s, -1);
    rc = connect(s, (struct sockaddr *) &sin, sizeof(sin));
    close(s);
    return rc == 0;
}

static int
fd_open(sl_fd_t fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* a cycle with one socket open on a free port; the port */
static sl_cycle_t *
cycle_listening(in_port_t *port)
{
    sl_cycle_t      *cycle = cycle_new();
    sl_listening_t  *ls = add_listen(cycle, 0, 0);

    ck_assert_int_eq(sl_open_listening_sockets(cycle), SL_OK);
    *port = port_of(ls->fd);

    /* the address as it is bound now, as a configuration would name it */
    ((struct sockaddr_in *) ls->sockaddr)->sin_port = htons(*port);
    return cycle;
}

START_TEST(test_takeover)
{
    sl_cycle_t      *old, *cycle;
    sl_listening_t  *ls, *ols;
    in_port_t        port, port2;
    sl_fd_t          fd;

    old = cycle_listening(&port);
    ols = old->listening.elts;
    fd = ols[0].fd;

    cycle = cycle_new();
    (void) add_listen(cycle, port, 0);
    (void) add_listen(cycle, 0, 0);       /* a new address */

    sl_listening_takeover(cycle, old);
    ls = cycle->listening.elts;

    /* the same socket: the fd moved, the old one knows it remains */
    ck_assert_int_eq(ls[0].fd, fd);
    ck_assert_ptr_eq(ls[0].previous, &ols[0]);
    ck_assert(ols[0].remain);
    ck_assert_int_eq(ols[0].fd, SL_INVALID_FILE);
    ck_assert_int_eq(ls[1].fd, SL_INVALID_FILE);

    ck_assert_int_eq(sl_open_listening_sockets(cycle), SL_OK);
    ck_assert_int_ne(ls[1].fd, SL_INVALID_FILE);
    port2 = port_of(ls[1].fd);

    /* closing the old cycle leaves what the new one took */
    sl_close_listening_sockets(old);
    ck_assert(fd_open(fd));
    ck_assert(can_connect(port));
    ck_assert(can_connect(port2));

    sl_close_listening_sockets(cycle);
    ck_assert(!fd_open(fd));
    ck_assert(!can_connect(port));
}
END_TEST

START_TEST(test_takeover_gone)
{
    sl_cycle_t      *old, *cycle;
    sl_listening_t  *ols;
    in_port_t        port, port2;
    sl_fd_t          fd2;

    old = cycle_listening(&port);
    (void) add_listen(old, 0, 0);
    ck_assert_int_eq(sl_open_listening_sockets(old), SL_OK);
    ols = old->listening.elts;
    fd2 = ols[1].fd;
    port2 = port_of(fd2);

    cycle = cycle_new();
    (void) add_listen(cycle, port, 0);

    sl_listening_takeover(cycle, old);
    ck_assert(!ols[1].remain);
    ck_assert_int_eq(ols[1].fd, fd2);

    /* the address that went away closes with the old cycle */
    sl_close_listening_sockets(old);
    ck_assert(!fd_open(fd2));
    ck_assert(!can_connect(port2));
    ck_assert(can_connect(port));

    sl_close_listening_sockets(cycle);
}
END_TEST

/* a socket is taken over only by one that matches in every option */
START_TEST(test_takeover_mismatch)
{
    sl_cycle_t      *old, *cycle;
    sl_listening_t  *ls, *ols;
    in_port_t        port;

    old = cycle_listening(&port);
    ols = old->listening.elts;

    cycle = cycle_new();
    (void) add_listen(cycle, port, 1);       /* reuseport now */
    sl_listening_takeover(cycle, old);

    ls = cycle->listening.elts;
    ck_assert_int_eq(ls[0].fd, SL_INVALID_FILE);
    ck_assert_ptr_null(ls[0].previous);
    ck_assert(!ols[0].remain);

    sl_close_listening_sockets(old);
}
END_TEST

/* a reload that fails gives the sockets back and closes its own */
START_TEST(test_rollback)
{
    sl_cycle_t      *old, *cycle;
    sl_listening_t  *ls, *ols;
    in_port_t        port, port2;
    sl_fd_t          fd;

    old = cycle_listening(&port);
    ols = old->listening.elts;
    fd = ols[0].fd;

    cycle = cycle_new();
    (void) add_listen(cycle, port, 0);
    (void) add_listen(cycle, 0, 0);
    sl_listening_takeover(cycle, old);
    ck_assert_int_eq(sl_open_listening_sockets(cycle), SL_OK);
    ls = cycle->listening.elts;
    port2 = port_of(ls[1].fd);

    sl_listening_rollback(cycle);

    ck_assert_int_eq(ols[0].fd, fd);
    ck_assert(!ols[0].remain);
    ck_assert(fd_open(fd));
    ck_assert(can_connect(port));
    ck_assert(!can_connect(port2));
    ck_assert_int_eq(ls[0].fd, SL_INVALID_FILE);
    ck_assert_int_eq(ls[1].fd, SL_INVALID_FILE);

    sl_close_listening_sockets(old);
    ck_assert(!fd_open(fd));
}
END_TEST

/* SLUICE="fd;fd;" and back: the new binary's view of the sockets */
START_TEST(test_inherit)
{
    sl_cycle_t      *old, *init, *cycle;
    sl_listening_t  *ls, *ils;
    in_port_t        port, port2;
    const char      *var;
    char             expect[64];
    sl_fd_t          fd, fd2;

    old = cycle_listening(&port);
    (void) add_listen(old, 0, 0);
    ck_assert_int_eq(sl_open_listening_sockets(old), SL_OK);
    ls = old->listening.elts;
    fd = ls[0].fd;
    fd2 = ls[1].fd;
    port2 = port_of(fd2);

    var = sl_listening_env(old, "SLUICE");
    ck_assert_ptr_nonnull(var);
    snprintf(expect, sizeof(expect), "SLUICE=%d;%d;", fd, fd2);
    ck_assert_str_eq(var, expect);

    init = cycle_new();
    ck_assert_int_eq(sl_listening_inherit(init, var + 7), SL_OK);
    ck_assert_uint_eq(init->listening.nelts, 2);
    ils = init->listening.elts;
    ck_assert_int_eq(ils[0].fd, fd);
    ck_assert(ils[0].inherited);
    ck_assert_int_eq(ils[0].type, SOCK_STREAM);
    ck_assert_int_eq(sl_inet_get_port(ils[1].sockaddr), port2);

    /* the configuration keeps the first address only */
    cycle = cycle_new();
    (void) add_listen(cycle, port, 0);
    sl_listening_takeover(cycle, init);
    ls = cycle->listening.elts;
    ck_assert_int_eq(ls[0].fd, fd);
    ck_assert(ls[0].inherited);

    sl_close_listening_sockets(init);
    ck_assert(!fd_open(fd2));
    ck_assert(fd_open(fd));

    sl_close_listening_sockets(cycle);
    ck_assert(!fd_open(fd));
    sl_memzero(old->listening.elts,
               old->listening.nelts * sizeof(sl_listening_t));
    old->listening.nelts = 0;
}
END_TEST

/* a number that is no descriptor is logged and the rest ignored */
START_TEST(test_inherit_bad)
{
    sl_cycle_t  *init = cycle_new();

    ck_assert_int_eq(sl_listening_inherit(init, "x;"), SL_OK);
    ck_assert_uint_eq(init->listening.nelts, 0);

    /* an fd that is not a socket */
    ck_assert_int_eq(sl_listening_inherit(init, "0;"), SL_OK);
    ck_assert_uint_eq(init->listening.nelts, 0);
}
END_TEST

/* worker n keeps its own reuseport socket and closes the others' */
START_TEST(test_worker_sockets)
{
    sl_cycle_t      *cycle = cycle_new();
    sl_listening_t  *ls;
    sl_fd_t          fds[3];
    pid_t            pid;
    int              status;

    ls = add_listen(cycle, 0, 1);
    ck_assert_int_eq(sl_open_listening_sockets(cycle), SL_OK);

    /* what the master opens for three workers (conf_ctx is not here) */
    ls->reuse_fds = sl_palloc(cycle->pool, 2 * sizeof(sl_fd_t));
    ck_assert_ptr_nonnull(ls->reuse_fds);
    ls->reuse_fds[0] = dup(ls->fd);
    ls->reuse_fds[1] = dup(ls->fd);
    ls->nreuse = 2;
    fds[0] = ls->fd;
    fds[1] = ls->reuse_fds[0];
    fds[2] = ls->reuse_fds[1];

    pid = fork();
    ck_assert_int_ne(pid, -1);

    if (pid == 0) {
        sl_listening_for_worker(cycle, 2);
        _exit(ls->fd == fds[2] && ls->nreuse == 0 && ls->keep_file
              && !fd_open(fds[0]) && !fd_open(fds[1]) && fd_open(fds[2])
              ? 0 : 1);
    }

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    sl_close_listening_sockets(cycle);
    ck_assert(!fd_open(fds[0]) && !fd_open(fds[1]) && !fd_open(fds[2]));
}
END_TEST

START_TEST(test_shmtx)
{
    sl_shm_t     shm;
    sl_shmtx_t  *mtx;
    pid_t        pid;
    int          status;

    shm.size = 4096;
    shm.addr = NULL;
    ck_assert_int_eq(sl_shm_alloc(&shm, &tlog), SL_OK);
    mtx = (sl_shmtx_t *) shm.addr;

    ck_assert_uint_eq(sl_shmtx_trylock(mtx, 10), 1);
    ck_assert_uint_eq(sl_shmtx_trylock(mtx, 11), 0);
    ck_assert_uint_eq(sl_shmtx_force_unlock(mtx, 11), 0);
    ck_assert_uint_eq(sl_shmtx_force_unlock(mtx, 10), 1);

    /* another process sees the lock taken here, and takes it once free */
    ck_assert_uint_eq(sl_shmtx_trylock(mtx, 1), 1);

    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        if (sl_shmtx_trylock(mtx, 2)) {
            _exit(1);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    sl_shmtx_unlock(mtx);

    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        _exit(sl_shmtx_trylock(mtx, 2) ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(mtx->lock, 2);

    sl_shm_free(&shm, &tlog);
    ck_assert_ptr_null(shm.addr);
}
END_TEST

START_TEST(test_cpu_affinity)
{
    sl_core_conf_t  ccf;
    uint64_t        masks[2] = { 0x5, 0xa }, any = UINT64_MAX, two = 0x6;
    long            ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    sl_memzero(&ccf, sizeof(ccf));
    ck_assert(sl_get_cpu_affinity(&ccf, 0) == 0);

    /* masks: one a worker, the last for those beyond */
    ccf.cpu_affinity = masks;
    ccf.cpu_affinity_n = 2;
    ck_assert(sl_get_cpu_affinity(&ccf, 0) == 0x5);
    ck_assert(sl_get_cpu_affinity(&ccf, 1) == 0xa);
    ck_assert(sl_get_cpu_affinity(&ccf, 5) == 0xa);

    /* auto with a mask: its CPUs in turn */
    ccf.cpu_affinity_auto = 1;
    ccf.cpu_affinity = &two;
    ccf.cpu_affinity_n = 1;
    ck_assert(sl_get_cpu_affinity(&ccf, 0) == 0x2);
    ck_assert(sl_get_cpu_affinity(&ccf, 1) == 0x4);
    ck_assert(sl_get_cpu_affinity(&ccf, 2) == 0x2);

    /* auto alone: the online CPUs in turn */
    ccf.cpu_affinity = &any;
    ck_assert(sl_get_cpu_affinity(&ccf, 0) == 0x1);
    if (ncpu > 1 && ncpu < 64) {
        ck_assert(sl_get_cpu_affinity(&ccf, 1) == 0x2);
        ck_assert(sl_get_cpu_affinity(&ccf, (sl_uint_t) ncpu) == 0x1);
    }
}
END_TEST

static Suite *
process_listening_suite(void)
{
    Suite  *s = suite_create("process_listening");
    TCase  *tc = tcase_create("listening");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_takeover);
    tcase_add_test(tc, test_takeover_gone);
    tcase_add_test(tc, test_takeover_mismatch);
    tcase_add_test(tc, test_rollback);
    tcase_add_test(tc, test_inherit);
    tcase_add_test(tc, test_inherit_bad);
    tcase_add_test(tc, test_worker_sockets);
    suite_add_tcase(s, tc);

    tc = tcase_create("workers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_shmtx);
    tcase_add_test(tc, test_cpu_affinity);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(process_listening_suite)
