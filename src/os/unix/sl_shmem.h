/*
 * sl_shmem.h -- memory shared between the master and its workers: an
 * anonymous MAP_SHARED mapping made before the workers are forked, and the
 * lock that lives in such memory.
 *
 * The lock word holds the pid of its holder, so that the master, which
 * reaps a worker that died holding one, can free it
 * (sl_shmtx_force_unlock): no other process could ever take it again.
 * A lock is never held across a wait for I/O: its holders are short
 * critical sections (a slab allocation, a counter, a tree update).
 */
#ifndef SL_SHMEM_H
#define SL_SHMEM_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    u_char      *addr;
    size_t       size;
} sl_shm_t;

/* a lock word: 0 when free, else the pid of the holder */
typedef struct sl_shmtx_s {
    volatile sl_uint_t  lock;
} sl_shmtx_t;

sl_int_t sl_shm_alloc(sl_shm_t *shm, sl_log_t *log);
void sl_shm_free(sl_shm_t *shm, sl_log_t *log);

/* takes the lock for pid if it is free: 1, else 0 */
sl_uint_t sl_shmtx_trylock(sl_shmtx_t *mtx, sl_uint_t pid);
/*
 * Takes the lock for this process, waiting as long as it takes: it spins
 * a while (the holder is running on another CPU), then yields the CPU
 * between tries (the holder may be waiting for this one).
 */
void sl_shmtx_lock(sl_shmtx_t *mtx);
void sl_shmtx_unlock(sl_shmtx_t *mtx);
/* frees the lock if pid (a process that died) holds it: 1 if it did */
sl_uint_t sl_shmtx_force_unlock(sl_shmtx_t *mtx, sl_uint_t pid);

/* this process's id, as the lock words hold it (kept across calls, and
 * right again in a forked child) */
sl_uint_t sl_shmtx_pid(void);

#endif /* SL_SHMEM_H */
