/*
 * sl_instance_reload.c -- a new configuration applied in-process.
 *
 * The costly part (reading the files, building TLS contexts) runs in the
 * caller's thread while the loop serves on. The new cycle replaces the
 * one in force as the daemon's does, so that its zones are kept or
 * carried over (sl_shm_zone.h); since the build reads the cycle in force,
 * destroy is refused while a reload is under way. The swap runs on the
 * loop thread, where the listening sockets live: the old ones leave the
 * loop, those of unchanged addresses pass to the new cycle (so that no
 * connection in the backlog is refused), new ones are bound, and the old
 * cycle is retired. A retired cycle stays until the sessions accepted
 * under it have ended (its `connections` count), then it is freed; until
 * then its clock is set each time the loop's is (sl_embed_time_updated).
 * If binding fails, every socket goes back to the old cycle and it serves
 * on as before.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_embed.h"

typedef struct {
    sl_instance_t  *in;
    sl_cycle_t     *cycle;
    sl_int_t        rc;
    sl_uint_t       done;
} sl_embed_swap_t;

static sl_int_t sl_embed_reload(sl_instance_t *in,
    const sl_instance_conf_t *conf, char *err, size_t errlen);

/* r: allocated in old's pool before the swap, so that this cannot fail */
static void
sl_embed_retire(sl_instance_t *in, sl_cycle_t *old, sl_embed_retired_t *r)
{
    if (old->connections == 0) {
        sl_modules_exit_process(old);
        sl_destroy_cycle(old);
        return;
    }

    r->cycle = old;
    r->next = in->retired;
    in->retired = r;
}

/* the new cycle's listening sockets join the loop, all or none */
static sl_int_t
sl_embed_listen(sl_instance_t *in, sl_cycle_t *cycle, sl_cycle_t *old)
{
    sl_event_loop_t  *loop = in->loop;

    loop->cycle = cycle;

    if (sl_event_loop_listen(loop, cycle) == SL_OK) {
        return SL_OK;
    }

    sl_log_error(SL_LOG_EMERG, cycle->log, 0, "the new configuration's "
                 "listening sockets do not fit in worker_connections");
    (void) sl_event_stop_accepting(loop);
    loop->cycle = old;
    return SL_ERROR;
}

/* the loop, its log and its clock follow the cycle in force */
static void
sl_embed_loop_follow(sl_instance_t *in, sl_cycle_t *cycle)
{
    sl_event_loop_t  *loop = in->loop;

    cycle->time = *loop->time;
    cycle->log = &cycle->new_log;
    cycle->pool->log = cycle->log;      /* not the bootstrap's: see err */
    cycle->old_cycle = NULL;
    cycle->loop = loop;

    loop->cycle = cycle;
    loop->log = cycle->log;
    loop->time = &cycle->time;

    in->wake_log = cycle->new_log;
    in->wake_log.next = NULL;
}

/* the loop's clock was read: the retired cycles' sessions see it too */
void
sl_embed_time_updated(sl_event_loop_t *loop)
{
    sl_instance_t       *in = loop->time_data;
    sl_embed_retired_t  *r;

    for (r = in->retired; r != NULL; r = r->next) {
        r->cycle->time = *loop->time;
    }
}

sl_int_t
sl_embed_swap(sl_instance_t *in, sl_cycle_t *cycle)
{
    sl_event_loop_t     *loop = in->loop;
    sl_cycle_t          *old = in->cycle;
    sl_embed_retired_t  *r;

    r = sl_palloc(old->pool, sizeof(sl_embed_retired_t));
    if (r == NULL) {
        return SL_ERROR;
    }

    (void) sl_event_stop_accepting(loop);
    sl_listening_takeover(cycle, old);

    if (sl_open_listening_sockets(cycle) != SL_OK
        || sl_embed_listen(in, cycle, old) != SL_OK)
    {
        sl_listening_rollback(cycle);
        if (sl_event_loop_listen(loop, old) != SL_OK) {
            sl_log_error(SL_LOG_ALERT, old->log, 0, "the old configuration "
                         "could not listen again");
        }
        return SL_ERROR;
    }

    sl_embed_loop_follow(in, cycle);
    old->loop = NULL;
    in->cycle = cycle;

    if (sl_modules_init_process(cycle) != SL_OK) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "the new configuration's "
                     "modules could not start in full");
    }

    sl_close_listening_sockets(old);
    sl_embed_retire(in, old, r);

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "reconfigured");
    return SL_OK;
}

void
sl_embed_reap_retired(sl_instance_t *in)
{
    sl_embed_retired_t  **rp, *r;

    for (rp = &in->retired; *rp != NULL; /* void */) {
        r = *rp;

        if (r->cycle->connections > 0) {
            rp = &r->next;
            continue;
        }

        *rp = r->next;
        sl_modules_exit_process(r->cycle);
        sl_destroy_cycle(r->cycle);        /* r goes with its pool */
    }
}

void
sl_embed_free_retired(sl_instance_t *in)
{
    sl_embed_retired_t  *r;

    while (in->retired != NULL) {
        r = in->retired;
        in->retired = r->next;
        sl_modules_exit_process(r->cycle);
        sl_destroy_cycle(r->cycle);        /* r goes with its pool */
    }
}

/* --- the caller's side --------------------------------------------------- */

/* stopping or stopped: a new configuration would serve nothing */
static sl_uint_t
sl_embed_finished(sl_instance_t *in)
{
    sl_uint_t  done;

    (void) pthread_mutex_lock(&in->lock);
    done = in->state == SL_EMBED_DONE;
    (void) pthread_mutex_unlock(&in->lock);

    return done || atomic_load(&in->stop) != 0;
}

/* posted: the swap on the loop thread, its result back to the caller */
static void
sl_embed_swap_posted(sl_instance_t *in, void *arg)
{
    sl_embed_swap_t  *sw = arg;
    sl_int_t          rc;

    if (atomic_load(&in->stop) != 0) {
        rc = SL_DONE;
    } else {
        rc = sl_embed_swap(in, sw->cycle);
    }

    (void) pthread_mutex_lock(&in->lock);
    sw->rc = rc;
    sw->done = 1;
    (void) pthread_cond_broadcast(&in->cond);
    (void) pthread_mutex_unlock(&in->lock);
}

/* the thread that runs the loop: in a callback, or between run_once calls */
static sl_uint_t
sl_embed_is_loop_thread(sl_instance_t *in)
{
    sl_uint_t  yes;

    (void) pthread_mutex_lock(&in->lock);
    yes = in->owned && pthread_equal(in->owner, pthread_self());
    (void) pthread_mutex_unlock(&in->lock);
    return yes;
}

/* an idle instance: the swap runs here, with the loop held meanwhile */
static sl_int_t
sl_embed_apply_idle(sl_instance_t *in, sl_cycle_t *cycle)
{
    sl_int_t  rc;

    in->reloading = 1;
    (void) pthread_mutex_unlock(&in->lock);

    rc = sl_embed_swap(in, cycle);

    (void) pthread_mutex_lock(&in->lock);
    in->reloading = 0;
    (void) pthread_cond_broadcast(&in->cond);
    (void) pthread_mutex_unlock(&in->lock);
    return rc;
}

/* another thread runs the loop: the swap is posted there and waited for */
static sl_int_t
sl_embed_apply_posted(sl_instance_t *in, sl_cycle_t *cycle)
{
    sl_embed_swap_t  sw = { in, cycle, SL_ERROR, 0 };
    sl_int_t         rc;

    (void) pthread_mutex_unlock(&in->lock);

    rc = sl_instance_post(in, sl_embed_swap_posted, &sw);

    (void) pthread_mutex_lock(&in->lock);
    while (rc == SL_OK && !sw.done) {
        (void) pthread_cond_wait(&in->cond, &in->lock);
    }
    (void) pthread_mutex_unlock(&in->lock);

    return rc == SL_OK ? sw.rc : rc;
}

/*
 * Where the swap runs: here on the loop thread, or when no thread runs
 * the instance; otherwise on the loop thread, posted and waited for.
 * Checked under the lock, so that a reload cannot slip in after the end.
 */
static sl_int_t
sl_embed_apply(sl_instance_t *in, sl_cycle_t *cycle)
{
    (void) pthread_mutex_lock(&in->lock);

    if (in->state == SL_EMBED_DONE || atomic_load(&in->stop) != 0) {
        (void) pthread_mutex_unlock(&in->lock);
        return SL_DONE;
    }

    if (in->owned && pthread_equal(in->owner, pthread_self())) {
        (void) pthread_mutex_unlock(&in->lock);
        return sl_embed_swap(in, cycle);
    }

    if (!in->inside && !in->owned && !in->started) {
        return sl_embed_apply_idle(in, cycle);
    }

    return sl_embed_apply_posted(in, cycle);
}

/*
 * Reloads are serialised; the loop thread cannot wait for one, since the
 * one under way may be waiting for the loop: it is told SL_BUSY instead.
 */
static sl_int_t
sl_embed_reload_lock(sl_instance_t *in)
{
    if (!sl_embed_is_loop_thread(in)) {
        (void) pthread_mutex_lock(&in->reload_lock);
        return SL_OK;
    }

    return pthread_mutex_trylock(&in->reload_lock) == 0 ? SL_OK : SL_BUSY;
}

/* a reload is under way: destroy says SL_BUSY until it has returned */
static void
sl_embed_reload_count(sl_instance_t *in, sl_uint_t begin)
{
    (void) pthread_mutex_lock(&in->lock);

    if (begin) {
        in->reloads++;
    } else {
        in->reloads--;
    }

    (void) pthread_mutex_unlock(&in->lock);
}

int
sl_instance_reload(sl_instance_t *in, const sl_instance_conf_t *conf,
    char *err, size_t errlen)
{
    sl_int_t  rc;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if (!sl_embed_valid(in)) {
        return SL_ERROR;
    }

    sl_embed_reload_count(in, 1);
    rc = sl_embed_reload(in, conf, err, errlen);
    sl_embed_reload_count(in, 0);

    return (int) rc;
}

static sl_int_t
sl_embed_reload(sl_instance_t *in, const sl_instance_conf_t *conf,
    char *err, size_t errlen)
{
    sl_cycle_t  *cycle;
    sl_int_t     rc;

    if (sl_embed_reload_lock(in) != SL_OK) {
        sl_embed_capture_begin(in, err, errlen);
        sl_log_error(SL_LOG_ERR, &in->boot_log, 0, "another reload is "
                     "under way");
        sl_embed_capture_end(in);
        return SL_BUSY;
    }

    sl_embed_capture_begin(in, err, errlen);

    if (sl_embed_finished(in)) {
        sl_log_error(SL_LOG_ERR, &in->boot_log, 0, "the instance is "
                     "stopping: no reload");
        rc = SL_DONE;
        goto done;
    }

    cycle = NULL;
    rc = SL_ERROR;

    if (sl_embed_check_conf(conf, 0, err, errlen) == SL_OK) {
        cycle = sl_embed_build_cycle(in, conf);
    }

    if (cycle != NULL) {
        rc = sl_embed_apply(in, cycle);
        if (rc != SL_OK) {
            sl_destroy_cycle(cycle);
        }
    }

done:

    sl_embed_capture_end(in);
    (void) pthread_mutex_unlock(&in->reload_lock);
    return rc;
}
