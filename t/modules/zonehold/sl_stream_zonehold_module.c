/*
 * sl_stream_zonehold_module.c -- a module of the test suites, never of
 * sluice: a worker that dies holding a shared memory zone's lock, on
 * demand (test_zone_lock).
 *
 *   zonehold_zone NAME SIZE;   (stream{}) declares the zone NAME, whose
 *                              root record is a counter
 *   zonehold hold NAME;        (server{}) the session's worker takes the
 *                              zone's lock, says "held PID\n" and never
 *                              lets it go; the session stays open until
 *                              the client closes it
 *   zonehold touch NAME;       (server{}) says "waiting PID\n", takes the
 *                              lock (waiting for it as long as it takes),
 *                              adds one to the counter, lets the lock go,
 *                              says "touched COUNT PID\n" and closes; a
 *                              worker that holds the lock itself says
 *                              "busy PID\n" and closes instead of waiting
 *                              for itself for ever
 *   zonehold later NAME;       (server{}) says "ready PID\n"; at the
 *                              client's first byte, takes the lock of the
 *                              zone NAME whichever module declared it (an
 *                              upstream's zone, say), says "held PID\n"
 *                              and holds it as "hold" does: a worker can
 *                              be made to hold a lock after a reload,
 *                              in a session it accepted before
 *
 * It must never be built into sluice: holding a lock across I/O is
 * exactly what a real module must not do.
 */
#include <sl_config.h>
#include <sl_core.h>
#include <sl_event.h>
#include <sl_stream.h>

typedef struct {
    sl_uint_t            count;
} sl_stream_zonehold_root_t;

#define SL_ZONEHOLD_TOUCH   0
#define SL_ZONEHOLD_HOLD    1
#define SL_ZONEHOLD_LATER   2

typedef struct {
    sl_uint_t            mode;      /* SL_ZONEHOLD_* */
    sl_shm_zone_t       *zone;      /* hold, touch: the zonehold zone */
    sl_str_t             name;      /* later: the zone, found by name */
} sl_stream_zonehold_srv_conf_t;

static void *sl_stream_zonehold_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_zonehold_zone(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_zonehold(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_zonehold_commands[] = {

    { sl_string("zonehold_zone"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE2,
      sl_stream_zonehold_zone,
      0,
      0,
      NULL },

    { sl_string("zonehold"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE2,
      sl_stream_zonehold,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_zonehold_module_ctx = {
    .create_srv_conf = sl_stream_zonehold_create_srv_conf,
};

sl_module_t  sl_stream_zonehold_module = {
    .name = "sl_stream_zonehold_module",
    .ctx = &sl_stream_zonehold_module_ctx,
    .commands = sl_stream_zonehold_commands,
    .type = SL_STREAM_MODULE,
};

SL_MODULE(zonehold, &sl_stream_zonehold_module);


/* "WORD PID\n" or "WORD COUNT PID\n", whole or not at all: a few bytes */
static sl_int_t
sl_stream_zonehold_say(sl_connection_t *c, const char *word, sl_uint_t count)
{
    u_char   line[64], *last;

    if (count == 0) {
        last = sl_snprintf(line, sizeof(line), "%s %ui\n", word,
                           sl_shmtx_pid());
    } else {
        last = sl_snprintf(line, sizeof(line), "%s %ui %ui\n", word, count,
                           sl_shmtx_pid());
    }

    return c->send(c, line, (size_t) (last - line)) == last - line
           ? SL_OK : SL_ERROR;
}

/* the held session: what the client sends is dropped until it closes */
static void
sl_stream_zonehold_linger(sl_event_t *rev)
{
    sl_connection_t      *c = rev->data;
    sl_stream_session_t  *s = c->data;
    u_char                buf[512];
    ssize_t               n;

    do {
        n = c->recv(c, buf, sizeof(buf));
    } while (n > 0);

    if (n == SL_AGAIN && sl_handle_read_event(rev, 0) == SL_OK) {
        return;
    }

    sl_stream_finalize_session(s, SL_STREAM_OK);
}

static void
sl_stream_zonehold_hold(sl_stream_session_t *s, sl_slab_pool_t *pool)
{
    sl_connection_t  *c = s->connection;

    if (pool->mutex.lock != sl_shmtx_pid()) {
        sl_shmtx_lock(&pool->mutex);    /* the second hold: it is held */
    }

    if (sl_stream_zonehold_say(c, "held", 0) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->write->handler = sl_stream_empty_handler;
    c->read->handler = sl_stream_zonehold_linger;
    sl_stream_zonehold_linger(c->read);
}

/* the zone called name in the session's cycle, whoever declared it */
static sl_slab_pool_t *
sl_stream_zonehold_find(sl_stream_session_t *s, sl_str_t *name)
{
    sl_list_part_t  *part;
    sl_shm_zone_t   *zone;
    sl_uint_t        i;

    part = &s->connection->loop->cycle->shared_memory.part;

    for ( /* void */ ; part != NULL; part = part->next) {
        zone = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if (sl_str_eq(&zone[i].name, name)) {
                return zone[i].pool;
            }
        }
    }

    return NULL;
}

/* "later": the client's first byte asks for the lock */
static void
sl_stream_zonehold_later_read(sl_event_t *rev)
{
    sl_connection_t                *c = rev->data;
    sl_stream_session_t            *s = c->data;
    sl_stream_zonehold_srv_conf_t  *zscf;
    sl_slab_pool_t                 *pool;
    u_char                          byte;
    ssize_t                         n;

    n = c->recv(c, &byte, 1);

    if (n == SL_AGAIN) {
        if (sl_handle_read_event(rev, 0) != SL_OK) {
            sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        }
        return;
    }

    if (n != 1) {
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    zscf = sl_stream_get_module_srv_conf(s, sl_stream_zonehold_module);
    pool = sl_stream_zonehold_find(s, &zscf->name);
    if (pool == NULL) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    sl_stream_zonehold_hold(s, pool);
}

static void
sl_stream_zonehold_later(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;

    if (sl_stream_zonehold_say(c, "ready", 0) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->write->handler = sl_stream_empty_handler;
    c->read->handler = sl_stream_zonehold_later_read;
    sl_stream_zonehold_later_read(c->read);
}

static void
sl_stream_zonehold_touch(sl_stream_session_t *s, sl_slab_pool_t *pool)
{
    sl_stream_zonehold_root_t  *root = pool->data;
    sl_connection_t            *c = s->connection;
    sl_uint_t                   count;

    if (pool->mutex.lock == sl_shmtx_pid()) {
        (void) sl_stream_zonehold_say(c, "busy", 0);
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    if (sl_stream_zonehold_say(c, "waiting", 0) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    sl_shmtx_lock(&pool->mutex);
    count = ++root->count;
    sl_shmtx_unlock(&pool->mutex);

    (void) sl_stream_zonehold_say(c, "touched", count);
    sl_stream_finalize_session(s, SL_STREAM_OK);
}

static void
sl_stream_zonehold_handler(sl_stream_session_t *s)
{
    sl_stream_zonehold_srv_conf_t  *zscf;

    zscf = sl_stream_get_module_srv_conf(s, sl_stream_zonehold_module);

    switch (zscf->mode) {
    case SL_ZONEHOLD_HOLD:
        sl_stream_zonehold_hold(s, zscf->zone->pool);
        break;
    case SL_ZONEHOLD_LATER:
        sl_stream_zonehold_later(s);
        break;
    default:
        sl_stream_zonehold_touch(s, zscf->zone->pool);
    }
}

/* the counter (zone->data and pool->data): new, or the one a reload kept */
static sl_int_t
sl_stream_zonehold_init_zone(sl_shm_zone_t *zone, void *data)
{
    sl_slab_pool_t  *pool = zone->pool;

    if (data == NULL) {
        data = sl_slab_calloc(pool, sizeof(sl_stream_zonehold_root_t));
        if (data == NULL) {
            return SL_ERROR;
        }
        pool->data = data;
    }

    zone->data = data;
    return SL_OK;
}

static void *
sl_stream_zonehold_create_srv_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_stream_zonehold_srv_conf_t));
}

static char *
sl_stream_zonehold_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t       *value = cf->args->elts;
    sl_shm_zone_t  *zone;
    ssize_t         size;

    sl_unused(cmd);
    sl_unused(conf);

    size = sl_parse_size(&value[2]);
    if (size == SL_ERROR) {
        return "has an invalid size";
    }

    zone = sl_shared_memory_add(cf, &value[1], (size_t) size,
                                &sl_stream_zonehold_module);
    if (zone == NULL) {
        return SL_CONF_ERROR;
    }

    zone->init = sl_stream_zonehold_init_zone;
    return SL_CONF_OK;
}

static char *
sl_stream_zonehold(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_zonehold_srv_conf_t  *zscf = conf;
    sl_stream_core_srv_conf_t      *cscf;
    sl_str_t                       *value = cf->args->elts;

    sl_unused(cmd);

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_zonehold_handler;

    if (sl_strcmp(value[1].data, "later") == 0) {
        /* any module's zone: looked up by name in the worker's cycle */
        zscf->mode = SL_ZONEHOLD_LATER;
        zscf->name = value[2];
        return SL_CONF_OK;
    }

    if (sl_strcmp(value[1].data, "hold") == 0) {
        zscf->mode = SL_ZONEHOLD_HOLD;
    } else if (sl_strcmp(value[1].data, "touch") != 0) {
        return "takes \"hold\", \"touch\" or \"later\"";
    }

    /* size 0: declared by zonehold_zone, before or after this */
    zscf->zone = sl_shared_memory_add(cf, &value[2], 0,
                                      &sl_stream_zonehold_module);
    if (zscf->zone == NULL) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
