/*
 * sl_shmem.c -- shared memory and the lock in it.
 *
 * The lock spins on its word with compare-and-swap, then yields: no
 * semaphore or futex, so that a lock can be taken from any process that
 * maps the memory and freed by the master for one that died.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

/*
 * Tries before the first yield: a holder on another CPU is done by then.
 * With one CPU the holder cannot run while this process spins: none.
 */
#define SL_SHMTX_SPINS  1024

static sl_uint_t          sl_shmtx_self;
static sl_uint_t          sl_shmtx_spins;
static pthread_once_t     sl_shmtx_once = PTHREAD_ONCE_INIT;

sl_int_t
sl_shm_alloc(sl_shm_t *shm, sl_log_t *log)
{
    void  *p;

    p = mmap(NULL, shm->size, PROT_READ | PROT_WRITE,
             MAP_ANONYMOUS | MAP_SHARED, -1, 0);
    if (p == MAP_FAILED) {
        sl_log_error(SL_LOG_ALERT, log, errno,
                     "mmap(MAP_ANONYMOUS|MAP_SHARED, %uz) failed", shm->size);
        return SL_ERROR;
    }

    shm->addr = p;
    return SL_OK;
}

void
sl_shm_free(sl_shm_t *shm, sl_log_t *log)
{
    if (shm->addr == NULL) {
        return;
    }

    if (munmap(shm->addr, shm->size) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "munmap(%p, %uz) failed",
                     shm->addr, shm->size);
    }

    shm->addr = NULL;
}

sl_uint_t
sl_shmtx_trylock(sl_shmtx_t *mtx, sl_uint_t pid)
{
    sl_uint_t  expected = 0;

    if (__atomic_load_n(&mtx->lock, __ATOMIC_RELAXED) != 0) {
        return 0;
    }

    return __atomic_compare_exchange_n(&mtx->lock, &expected, pid, 0,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void
sl_shmtx_forget_pid(void)
{
    sl_shmtx_self = 0;
}

static void
sl_shmtx_watch_fork(void)
{
    sl_shmtx_spins = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? SL_SHMTX_SPINS : 1;
    (void) pthread_atfork(NULL, NULL, sl_shmtx_forget_pid);
}

sl_uint_t
sl_shmtx_pid(void)
{
    (void) pthread_once(&sl_shmtx_once, sl_shmtx_watch_fork);

    if (sl_shmtx_self == 0) {
        sl_shmtx_self = (sl_uint_t) getpid();
    }

    return sl_shmtx_self;
}

void
sl_shmtx_lock(sl_shmtx_t *mtx)
{
    sl_uint_t  pid = sl_shmtx_pid(), i;

    for ( ;; ) {
        for (i = 0; i < sl_shmtx_spins; i++) {
            if (sl_shmtx_trylock(mtx, pid)) {
                return;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }

        (void) sched_yield();
    }
}

void
sl_shmtx_unlock(sl_shmtx_t *mtx)
{
    __atomic_store_n(&mtx->lock, 0, __ATOMIC_RELEASE);
}

sl_uint_t
sl_shmtx_force_unlock(sl_shmtx_t *mtx, sl_uint_t pid)
{
    sl_uint_t  expected = pid;

    return __atomic_compare_exchange_n(&mtx->lock, &expected, 0, 0,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}
