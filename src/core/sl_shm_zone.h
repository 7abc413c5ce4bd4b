/*
 * sl_shm_zone.h -- named zones of memory shared by the master, its workers
 * and every generation of them that a reload keeps.
 *
 * A module declares a zone while its configuration is read
 * (sl_shared_memory_add: a name, a size, and the module as the tag); the
 * cycle maps every zone once the whole configuration is read, lays a slab
 * pool (sl_slab.h) over it and calls the zone's init. On a reload a zone
 * whose name, size and tag are unchanged keeps its memory: init is given
 * the previous cycle's zone data, so that the contents survive; a zone
 * whose size changed is mapped anew and starts empty. Memory a cycle no
 * longer uses is unmapped when the last cycle holding it is destroyed, or
 * the last hold on it (sl_shm_zones_hold) ends.
 *
 * An embedded instance gets its zones the same way: they are shared by
 * nobody but its own cycles, and its reload keeps them as the daemon's
 * does (the cycle in force is the one replaced).
 *
 * Thread rules: declaring and mapping zones happen while a cycle is built,
 * in the thread that builds it -- in an instance, while its loop thread
 * goes on using the previous cycle's zones; there init runs holding prev's
 * lock (a daemon's master reads prev without it, as a worker may die
 * holding it). The memory itself is used under the slab pool's lock from
 * any process (or thread) that maps it.
 */
#ifndef SL_SHM_ZONE_H
#define SL_SHM_ZONE_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_shmem.h"
#include "sl_slab.h"

typedef struct sl_shm_zone_s  sl_shm_zone_t;
typedef struct sl_shm_map_s   sl_shm_map_t;
typedef struct sl_shm_hold_s  sl_shm_hold_t;

/*
 * Called once the zone is mapped: data is the previous cycle's zone data
 * when the memory was kept (its contents are there), NULL when it is new.
 * SL_OK, or SL_ERROR after logging: the cycle is not built.
 */
typedef sl_int_t (*sl_shm_zone_init_pt)(sl_shm_zone_t *zone, void *data);

struct sl_shm_zone_s {
    sl_str_t               name;
    size_t                 size;    /* 0: named by a use, never declared */
    void                  *tag;     /* the module that declared it */
    sl_shm_zone_init_pt    init;    /* set by the declaring module */
    void                  *data;    /* the module's, passed to the next init */
    sl_slab_pool_t        *pool;    /* the memory, once mapped */
    sl_shm_map_t          *map;
    unsigned               noreuse:1;   /* never kept across a reload */
    /*
     * While init runs: the cycle's log, and the previous cycle's memory
     * of this name and tag when it was not kept (noreuse, a new size),
     * for a module that carries some of it over (read only: in an
     * embedded instance init runs holding its lock); else NULL.
     */
    sl_log_t              *log;
    sl_slab_pool_t        *prev;
};

/*
 * The zone called name, declared by tag (a module), of size bytes, or size
 * 0 to name one declared elsewhere in the configuration. A second
 * declaration of a name returns the same zone, or is an error (logged at
 * the directive's file:line, NULL returned) when its tag or its size
 * differs.
 */
sl_shm_zone_t *sl_shared_memory_add(sl_conf_t *cf, sl_str_t *name,
    size_t size, void *tag);

/* maps every zone of cycle, keeping what its old cycle had: SL_OK */
sl_int_t sl_shm_zones_init(sl_cycle_t *cycle);

/* a process that died: the zone locks it held are freed, and logged */
void sl_shm_zones_force_unlock(sl_cycle_t *cycle, sl_uint_t pid);

/*
 * The memory of cycle's zones, kept mapped past cycle's end for as long
 * as the hold lasts: a master's old workers still use it, and a lock one
 * of them dies holding must still be reached, also in a zone the next
 * cycle did not keep (noreuse, a new size, dropped). Memory the next
 * cycle kept costs nothing more. NULL when cycle has no zones, or memory
 * ran out (logged).
 */
sl_shm_hold_t *sl_shm_zones_hold(sl_cycle_t *cycle);
/* as sl_shm_zones_force_unlock(), over the held zones */
void sl_shm_hold_force_unlock(sl_shm_hold_t *hold, sl_uint_t pid,
    sl_log_t *log);
/* the hold ends: memory nothing else holds is unmapped */
void sl_shm_hold_release(sl_shm_hold_t *hold, sl_log_t *log);

#endif /* SL_SHM_ZONE_H */
