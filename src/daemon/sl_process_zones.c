/*
 * sl_process_zones.c -- the master's hold on its old generations' shared
 * memory, and the zone locks of a worker that died.
 *
 * A reload replaces the master's cycle at once, but the old workers go on
 * with the old cycle's zones while their sessions last, and a zone the
 * new cycle did not keep (an upstream's, made anew on every reload; one
 * resized or dropped) is then theirs alone. Were the master to unmap it
 * with the old cycle, it could not free that zone's lock for an old
 * worker killed holding it, and the other old workers would wait on it
 * for ever. So the master holds an old cycle's zones (sl_shm_hold_t)
 * until the last worker of the generations that served it is gone: then
 * it goes, whatever older or newer generations still run, and the
 * master's memory does not grow with reloads.
 *
 * It never looks inside a zone (sl_shm_zone.c frees the locks), and never
 * decides when a worker is reaped or a cycle replaced: the process
 * model's other files call it when they do.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_process_master.h"

struct sl_master_hold_s {
    sl_shm_hold_t     *zones;
    sl_uint_t          from;        /* the generations that use them */
    sl_uint_t          to;
    sl_master_hold_t  *next;
};

/* is a worker of the generations from ... to still running? */
static sl_uint_t
sl_master_generations_alive(sl_master_t *m, sl_uint_t from, sl_uint_t to)
{
    sl_worker_t  *w;

    for (w = m->workers; w < m->workers + m->nworkers; w++) {
        if (!w->exited && w->generation >= from && w->generation <= to) {
            return 1;
        }
    }

    return 0;
}

void
sl_master_hold_zones(sl_master_t *m, sl_cycle_t *old, sl_uint_t from,
    sl_uint_t to)
{
    sl_master_hold_t  *h;
    sl_shm_hold_t     *zones;

    if (!sl_master_generations_alive(m, from, to)) {
        return;
    }

    zones = sl_shm_zones_hold(old);
    if (zones == NULL) {
        return;
    }

    h = sl_alloc(sizeof(sl_master_hold_t), m->cycle->log);
    if (h == NULL) {
        sl_shm_hold_release(zones, m->cycle->log);
        return;
    }

    h->zones = zones;
    h->from = from;
    h->to = to;
    h->next = m->holds;
    m->holds = h;
}

void
sl_master_zones_unlock(sl_master_t *m, pid_t pid)
{
    sl_master_hold_t  **hp, *h;

    sl_shm_zones_force_unlock(m->cycle, (sl_uint_t) pid);

    for (h = m->holds; h != NULL; h = h->next) {
        sl_shm_hold_force_unlock(h->zones, (sl_uint_t) pid, m->cycle->log);
    }

    /* what the last worker of a generation leaves goes */
    for (hp = &m->holds; *hp != NULL; /* void */ ) {
        h = *hp;

        if (sl_master_generations_alive(m, h->from, h->to)) {
            hp = &h->next;
            continue;
        }

        *hp = h->next;
        sl_shm_hold_release(h->zones, m->cycle->log);
        sl_free(h);
    }
}

void
sl_master_release_zones(sl_master_t *m)
{
    sl_master_hold_t  *h;

    while (m->holds != NULL) {
        h = m->holds;
        m->holds = h->next;
        sl_shm_hold_release(h->zones, m->cycle->log);
        sl_free(h);
    }
}
