/*
 * sl_shmem.c -- shared memory and the lock in it.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"

#include <sys/mman.h>

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
