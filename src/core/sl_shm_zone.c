/*
 * sl_shm_zone.c -- declaring, mapping and keeping shared memory zones
 * (see sl_shm_zone.h).
 *
 * A mapping is counted: each cycle's zone that uses it holds a reference,
 * given back by the cycle's pool cleanup, and the last one unmaps it. So a
 * reload that fails keeps the old cycle's memory whole, and a worker of an
 * old generation, which inherited its mappings at fork, is never touched:
 * unmapping in the master changes only the master's address space. A hold
 * (sl_shm_zones_hold) is one more reference to each of a cycle's mappings,
 * for a master that must still reach an old generation's locks once that
 * generation's cycle is gone.
 * In an embedded instance the count is changed from two threads: the one
 * building a new cycle takes references while the loop thread gives back
 * those of a retired cycle; so it is changed atomically.
 *
 * This file must never look inside a zone beyond its slab pool's header:
 * what a zone holds is its module's.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_shm_zone.h"

struct sl_shm_map_s {
    sl_shm_t     shm;
    sl_uint_t    refs;      /* the cycles' zones using it: atomic */
};

typedef struct {
    sl_shm_map_t      *map;
    sl_str_t           name;    /* a copy: the cycle that named it goes */
} sl_shm_held_t;

struct sl_shm_hold_s {
    sl_uint_t          n;
    sl_shm_held_t      zone[];  /* then the names */
};

/* visits every zone of a cycle's list; the list may be empty or unset */
#define sl_shm_zones_each(list, part, zones, i)                               \
    for ((part) = &(list)->part, (zones) = (part)->elts, (i) = 0;            \
         (part) != NULL;                                                     \
         (part) = (part)->next, (zones) = (part) ? (part)->elts : NULL,      \
         (i) = 0)                                                            \
        for ( ; (i) < (part)->nelts; (i)++)

static sl_shm_zone_t *
sl_shm_zone_find(sl_list_t *list, sl_str_t *name)
{
    sl_list_part_t  *part;
    sl_shm_zone_t   *zone;
    sl_uint_t        i;

    sl_shm_zones_each(list, part, zone, i) {
        if (zone[i].name.len == name->len
            && sl_strncmp(zone[i].name.data, name->data, name->len) == 0)
        {
            return &zone[i];
        }
    }

    return NULL;
}

sl_shm_zone_t *
sl_shared_memory_add(sl_conf_t *cf, sl_str_t *name, size_t size, void *tag)
{
    sl_list_t      *list = &cf->cycle->shared_memory;
    sl_shm_zone_t  *zone;

    if (list->nalloc == 0
        && sl_list_init(list, cf->cycle->pool, 4, sizeof(sl_shm_zone_t))
           != SL_OK)
    {
        return NULL;
    }

    zone = sl_shm_zone_find(list, name);

    if (zone != NULL) {
        if (zone->tag != tag) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the shared memory zone "
                              "\"%V\" is already declared for a different "
                              "use", name);
            return NULL;
        }

        if (zone->size == 0) {
            zone->size = size;
        }

        if (size != 0 && size != zone->size) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the size %uz of shared "
                              "memory zone \"%V\" conflicts with already "
                              "declared size %uz", size, name, zone->size);
            return NULL;
        }

        return zone;
    }

    zone = sl_list_push(list);
    if (zone == NULL) {
        return NULL;
    }

    sl_memzero(zone, sizeof(sl_shm_zone_t));
    zone->name = *name;
    zone->size = size;
    zone->tag = tag;

    return zone;
}

static void
sl_shm_map_release(sl_shm_map_t *map, sl_log_t *log)
{
    if (__atomic_sub_fetch(&map->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        return;
    }

    sl_shm_free(&map->shm, log);
    sl_free(map);
}

/* the cycle's pool goes: so do its references to the mappings */
static void
sl_shm_zones_cleanup(void *data)
{
    sl_cycle_t      *cycle = data;
    sl_list_part_t  *part;
    sl_shm_zone_t   *zone;
    sl_uint_t        i;

    sl_shm_zones_each(&cycle->shared_memory, part, zone, i) {
        if (zone[i].map != NULL) {
            sl_shm_map_release(zone[i].map, cycle->log);
            zone[i].map = NULL;
        }
    }
}

/* the old cycle's zone of the same name, if its memory can be kept */
static sl_shm_zone_t *
sl_shm_zone_kept(sl_cycle_t *cycle, sl_shm_zone_t *zone)
{
    sl_shm_zone_t  *old;

    if (cycle->old_cycle == NULL || zone->noreuse) {
        return NULL;
    }

    old = sl_shm_zone_find(&cycle->old_cycle->shared_memory, &zone->name);
    if (old == NULL || old->map == NULL || old->noreuse
        || old->tag != zone->tag || old->size != zone->size)
    {
        return NULL;
    }

    return old;
}

static sl_int_t
sl_shm_zone_map(sl_cycle_t *cycle, sl_shm_zone_t *zone)
{
    sl_shm_map_t  *map;

    map = sl_alloc(sizeof(sl_shm_map_t), cycle->log);
    if (map == NULL) {
        return SL_ERROR;
    }

    map->shm.size = zone->size;
    map->shm.addr = NULL;
    map->refs = 1;

    if (sl_shm_alloc(&map->shm, cycle->log) != SL_OK) {
        sl_free(map);
        return SL_ERROR;
    }

    zone->map = map;
    zone->pool = (sl_slab_pool_t *) map->shm.addr;

    if (sl_slab_init(map->shm.addr, zone->size, &zone->name) != SL_OK) {
        sl_log_error(SL_LOG_EMERG, cycle->log, 0, "shared memory zone \"%V\""
                     " of %uz bytes is too small", &zone->name, zone->size);
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * The zone's init, with prev and log valid only while it runs. In an
 * embedded instance the loop thread of this same process goes on using
 * the previous memory meanwhile: init reads it holding its lock. A
 * daemon's master never waits on its workers' lock: one that died
 * holding it is freed only when the master reaps it, which a master
 * waiting here could not do.
 */
static sl_int_t
sl_shm_zone_call_init(sl_cycle_t *cycle, sl_shm_zone_t *zone, void *data)
{
    sl_slab_pool_t  *prev = cycle->embedded ? zone->prev : NULL;
    sl_int_t         rc;

    if (prev != NULL) {
        sl_shmtx_lock(&prev->mutex);
    }

    rc = zone->init != NULL ? zone->init(zone, data) : SL_OK;

    if (prev != NULL) {
        sl_shmtx_unlock(&prev->mutex);
    }

    zone->prev = NULL;
    zone->log = NULL;
    return rc;
}

static sl_int_t
sl_shm_zone_init(sl_cycle_t *cycle, sl_shm_zone_t *zone)
{
    sl_shm_zone_t  *old;

    if (zone->size == 0) {
        sl_log_error(SL_LOG_EMERG, cycle->log, 0, "zero size shared memory "
                     "zone \"%V\"", &zone->name);
        return SL_ERROR;
    }

    zone->log = cycle->log;
    zone->prev = NULL;

    old = sl_shm_zone_kept(cycle, zone);
    if (old != NULL) {
        zone->map = old->map;
        (void) __atomic_add_fetch(&zone->map->refs, 1, __ATOMIC_RELAXED);
        zone->pool = old->pool;
        return sl_shm_zone_call_init(cycle, zone, old->data);
    }

    if (sl_shm_zone_map(cycle, zone) != SL_OK) {
        return SL_ERROR;
    }

    old = cycle->old_cycle != NULL
          ? sl_shm_zone_find(&cycle->old_cycle->shared_memory, &zone->name)
          : NULL;
    if (old != NULL && old->tag == zone->tag) {
        zone->prev = old->pool;
    }

    return sl_shm_zone_call_init(cycle, zone, NULL);
}

sl_int_t
sl_shm_zones_init(sl_cycle_t *cycle)
{
    sl_pool_cleanup_t  *cln;
    sl_list_part_t     *part;
    sl_shm_zone_t      *zone;
    sl_uint_t           i;

    if (cycle->shared_memory.nalloc == 0) {
        return SL_OK;
    }

    cln = sl_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return SL_ERROR;
    }
    cln->handler = sl_shm_zones_cleanup;
    cln->data = cycle;

    sl_shm_zones_each(&cycle->shared_memory, part, zone, i) {
        if (sl_shm_zone_init(cycle, &zone[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* the lock of the zone name, if the dead process pid held it */
static void
sl_shm_zone_force_unlock(sl_str_t *name, sl_slab_pool_t *pool,
    sl_uint_t pid, sl_log_t *log)
{
    if (pool != NULL && sl_shmtx_force_unlock(&pool->mutex, pid)) {
        sl_log_error(SL_LOG_ALERT, log, 0, "shared memory zone \"%V\" was "
                     "locked by %i", name, (sl_int_t) pid);
    }
}

void
sl_shm_zones_force_unlock(sl_cycle_t *cycle, sl_uint_t pid)
{
    sl_list_part_t  *part;
    sl_shm_zone_t   *zone;
    sl_uint_t        i;

    sl_shm_zones_each(&cycle->shared_memory, part, zone, i) {
        sl_shm_zone_force_unlock(&zone[i].name, zone[i].pool, pid,
                                 cycle->log);
    }
}

sl_shm_hold_t *
sl_shm_zones_hold(sl_cycle_t *cycle)
{
    sl_list_part_t  *part;
    sl_shm_zone_t   *zone;
    sl_shm_hold_t   *hold;
    sl_shm_held_t   *held;
    sl_uint_t        i, n = 0;
    size_t           names = 0;
    u_char          *p;

    sl_shm_zones_each(&cycle->shared_memory, part, zone, i) {
        if (zone[i].map != NULL) {
            n++;
            names += zone[i].name.len;
        }
    }

    if (n == 0) {
        return NULL;
    }

    hold = sl_alloc(sizeof(sl_shm_hold_t) + n * sizeof(sl_shm_held_t)
                    + names, cycle->log);
    if (hold == NULL) {
        return NULL;
    }

    hold->n = n;
    held = hold->zone;
    p = (u_char *) (hold->zone + n);

    sl_shm_zones_each(&cycle->shared_memory, part, zone, i) {
        if (zone[i].map == NULL) {
            continue;
        }

        held->map = zone[i].map;
        (void) __atomic_add_fetch(&held->map->refs, 1, __ATOMIC_RELAXED);
        held->name.len = zone[i].name.len;
        held->name.data = p;
        p = sl_cpymem(p, zone[i].name.data, zone[i].name.len);
        held++;
    }

    return hold;
}

void
sl_shm_hold_force_unlock(sl_shm_hold_t *hold, sl_uint_t pid, sl_log_t *log)
{
    sl_uint_t  i;

    for (i = 0; i < hold->n; i++) {
        sl_shm_zone_force_unlock(&hold->zone[i].name,
                                 (sl_slab_pool_t *) hold->zone[i].map->shm.addr,
                                 pid, log);
    }
}

void
sl_shm_hold_release(sl_shm_hold_t *hold, sl_log_t *log)
{
    sl_uint_t  i;

    for (i = 0; i < hold->n; i++) {
        sl_shm_map_release(hold->zone[i].map, log);
    }

    sl_free(hold);
}
