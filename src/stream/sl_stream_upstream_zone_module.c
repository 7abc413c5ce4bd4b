/*
 * sl_stream_upstream_zone_module.c -- "zone NAME [SIZE];" in upstream{}:
 * the group's records in shared memory, so that every worker counts the
 * same failures and connections and makes its choices on them.
 *
 * It owns the zone's layout. The slab pool's root (pool->data) is a
 * sl_stream_upstream_zone_t: a list of the groups that use the zone, in
 * configuration order, each with its records (sl_stream_upstream.h) in
 * the order of its peers, primaries before backups. A record knows its
 * group, server, address and whether it is a backup, so a reader that has
 * only the zone (health checks, metrics) can tell whose state it reads;
 * it takes the zone's lock to read or change it.
 *
 * The zone is made anew on every reload (noreuse), like nginx's: the
 * workers of the old generation go on with the old memory while their
 * sessions last, and the new one starts clean -- except that the new
 * records take over the failures, their times and the weights of the old
 * records of the same group, server and address, so a server that was
 * marked failed stays failed until its fail_timeout. The connection counts
 * are not taken over: the old workers' sessions end in the old records.
 *
 * It also keeps the peers' TLS sessions for proxy_ssl_session_reuse when
 * the group has a zone: one per peer and client context, serialized into
 * the zone, so that a session one worker made is resumed by another.
 *
 * It must never store a pointer to a worker's memory in the zone (an
 * SSL_CTX is compared as a number, never followed), nor log with the
 * zone's lock held.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

/* nginx's limit: a longer session is not kept */
#define SL_STREAM_UPSTREAM_ZONE_MAX_SESSION  4096

typedef struct sl_stream_upstream_zone_group_s
    sl_stream_upstream_zone_group_t;

struct sl_stream_upstream_zone_group_s {
    sl_str_t                             name;      /* the upstream's */
    sl_stream_upstream_rr_record_t      *records;
    sl_uint_t                            number;
    sl_stream_upstream_zone_group_t     *next;
};

/* the zone's root */
typedef struct {
    sl_stream_upstream_zone_group_t     *groups;
} sl_stream_upstream_zone_t;

/* the last session of one peer for one client context (a server{}) */
struct sl_stream_upstream_zone_session_s {
    sl_stream_upstream_zone_session_t   *next;
    uintptr_t                            ctx;       /* compared only */
    size_t                               len;
    size_t                               size;      /* of data */
    u_char                              *data;
};

static char *sl_stream_upstream_zone(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static sl_int_t sl_stream_upstream_init_zone(sl_shm_zone_t *zone,
    void *data);

static sl_command_t  sl_stream_upstream_zone_commands[] = {

    { sl_string("zone"),
      SL_STREAM_UPS_CONF | SL_CONF_TAKE12,
      sl_stream_upstream_zone,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_upstream_zone_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL
};

sl_module_t  sl_stream_upstream_zone_module = {
    .name = "sl_stream_upstream_zone_module",
    .ctx = &sl_stream_upstream_zone_module_ctx,
    .commands = sl_stream_upstream_zone_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the directive -------------------------------------------------------- */

static char *
sl_stream_upstream_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_upstream_main_conf_t  *umcf;
    sl_stream_upstream_srv_conf_t   *uscf;
    sl_str_t                        *value = cf->args->elts;
    ssize_t                          size = 0;

    sl_unused(cmd);
    sl_unused(conf);

    uscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_upstream_module);
    umcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_upstream_module);

    if (value[1].len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone name \"%V\"",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        size = sl_parse_size(&value[2]);

        if (size == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                              &value[2]);
            return SL_CONF_ERROR;
        }

        if (size < (ssize_t) (8 * SL_SLAB_PAGE_SIZE)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "zone \"%V\" is too small",
                              &value[1]);
            return SL_CONF_ERROR;
        }
    }

    uscf->shm_zone = sl_shared_memory_add(cf, &value[1], (size_t) size,
                                          &sl_stream_upstream_module);
    if (uscf->shm_zone == NULL) {
        return SL_CONF_ERROR;
    }

    uscf->shm_zone->init = sl_stream_upstream_init_zone;
    uscf->shm_zone->data = umcf;
    uscf->shm_zone->noreuse = 1;

    return SL_CONF_OK;
}

/* --- laying the zone out --------------------------------------------------- */

static sl_int_t
sl_stream_upstream_zone_str(sl_slab_pool_t *pool, sl_str_t *dst,
    sl_str_t *src)
{
    dst->data = sl_slab_alloc(pool, src->len ? src->len : 1);
    if (dst->data == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;
    return SL_OK;
}

static sl_stream_upstream_zone_group_t *
sl_stream_upstream_zone_group(sl_slab_pool_t *pool, sl_str_t *name)
{
    sl_stream_upstream_zone_t        *root;
    sl_stream_upstream_zone_group_t  *group;

    if (pool == NULL || (root = pool->data) == NULL) {
        return NULL;
    }

    for (group = root->groups; group; group = group->next) {
        if (sl_str_eq(&group->name, name)) {
            return group;
        }
    }

    return NULL;
}

/*
 * What the old generation knew of this server: its failures and weights.
 * Read without the old zone's lock: each field is one aligned word, and
 * an old worker's change racing with the copy only moves a failure by one
 * attempt -- not worth making the master wait on a worker's lock.
 */
static void
sl_stream_upstream_zone_carry(sl_stream_upstream_zone_group_t *old,
    sl_stream_upstream_rr_peer_t *peer, sl_stream_upstream_rr_record_t *rec)
{
    sl_stream_upstream_rr_record_t  *o;

    for (o = old != NULL ? old->records : NULL; o; o = o->next) {
        if (o->backup == rec->backup && sl_str_eq(&o->server, &rec->server)
            && sl_str_eq(&o->name, &rec->name))
        {
            rec->fails = o->fails;
            rec->accessed = o->accessed;
            rec->checked = o->checked;
            rec->current_weight = o->current_weight;
            rec->effective_weight = sl_min(o->effective_weight, peer->weight);
            return;
        }
    }
}

static sl_int_t
sl_stream_upstream_zone_records(sl_slab_pool_t *pool,
    sl_stream_upstream_zone_group_t *group,
    sl_stream_upstream_zone_group_t *old, sl_stream_upstream_rr_peers_t *peers,
    sl_stream_upstream_rr_record_t ***tail)
{
    sl_stream_upstream_rr_peer_t    *peer;
    sl_stream_upstream_rr_record_t  *rec;

    for ( /* void */ ; peers; peers = peers->next) {
        peers->shpool = pool;

        for (peer = peers->peer; peer; peer = peer->next) {
            rec = sl_slab_calloc(pool, sizeof(sl_stream_upstream_rr_record_t));
            if (rec == NULL
                || sl_stream_upstream_zone_str(pool, &rec->name, &peer->name)
                   != SL_OK
                || sl_stream_upstream_zone_str(pool, &rec->server,
                                               &peer->server) != SL_OK)
            {
                return SL_ERROR;
            }

            rec->effective_weight = peer->own.effective_weight;
            rec->down = peer->own.down;
            rec->backup = peer->own.backup;
            sl_stream_upstream_zone_carry(old, peer, rec);

            peer->rec = rec;
            **tail = rec;
            *tail = &rec->next;
            group->number++;
        }
    }

    return SL_OK;
}

static sl_int_t
sl_stream_upstream_zone_add_group(sl_shm_zone_t *zone,
    sl_stream_upstream_srv_conf_t *us, sl_stream_upstream_zone_group_t ***tail)
{
    sl_slab_pool_t                   *pool = zone->pool;
    sl_stream_upstream_zone_group_t  *group;
    sl_stream_upstream_rr_record_t  **records;

    group = sl_slab_calloc(pool, sizeof(sl_stream_upstream_zone_group_t));
    if (group == NULL
        || sl_stream_upstream_zone_str(pool, &group->name, &us->host) != SL_OK)
    {
        goto failed;
    }

    records = &group->records;

    if (sl_stream_upstream_zone_records(pool, group,
            sl_stream_upstream_zone_group(zone->prev, &us->host),
            us->peer.data, &records) != SL_OK)
    {
        goto failed;
    }

    **tail = group;
    *tail = &group->next;
    return SL_OK;

failed:

    sl_log_error(SL_LOG_EMERG, zone->log, 0, "could not allocate peers of "
                 "upstream \"%V\"%s", &us->host, pool->log_ctx);
    return SL_ERROR;
}

static sl_int_t
sl_stream_upstream_init_zone(sl_shm_zone_t *zone, void *data)
{
    sl_stream_upstream_main_conf_t    *umcf = zone->data;
    sl_stream_upstream_srv_conf_t    **uscfp = umcf->upstreams.elts;
    sl_stream_upstream_zone_group_t  **tail;
    sl_stream_upstream_zone_t         *root;
    sl_uint_t                          i;

    sl_unused(data);    /* never kept: noreuse */

    /* a long name is cut short, and the text still ends in a NUL */
    (void) sl_snprintf((u_char *) zone->pool->log_ctx,
                       SL_SLAB_LOG_CTX_LEN - 1, " in upstream zone \"%V\"%Z",
                       &zone->name);
    zone->pool->log_ctx[SL_SLAB_LOG_CTX_LEN - 1] = '\0';

    root = sl_slab_calloc(zone->pool, sizeof(sl_stream_upstream_zone_t));
    if (root == NULL) {
        sl_log_error(SL_LOG_EMERG, zone->log, 0, "could not allocate "
                     "root%s", zone->pool->log_ctx);
        return SL_ERROR;
    }

    zone->pool->data = root;
    tail = &root->groups;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->shm_zone == zone && uscfp[i]->peer.data != NULL
            && sl_stream_upstream_zone_add_group(zone, uscfp[i], &tail)
               != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* --- TLS sessions in the zone ----------------------------------------------- */

static sl_stream_upstream_zone_session_t *
sl_stream_upstream_zone_session(sl_stream_upstream_rr_record_t *rec,
    uintptr_t ctx)
{
    sl_stream_upstream_zone_session_t  *zs;

    for (zs = rec->ssl_sessions; zs; zs = zs->next) {
        if (zs->ctx == ctx) {
            return zs;
        }
    }

    return NULL;
}

sl_int_t
sl_stream_upstream_zone_set_session(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peers_t *peers, sl_stream_upstream_rr_peer_t *peer)
{
    sl_stream_upstream_zone_session_t  *zs;
    SSL_SESSION                        *session;
    const u_char                       *p;
    u_char                              buf[SL_STREAM_UPSTREAM_ZONE_MAX_SESSION];
    size_t                              len = 0;
    sl_int_t                            rc;

    sl_stream_upstream_rr_lock(peers);

    zs = sl_stream_upstream_zone_session(peer->rec,
             (uintptr_t) SSL_get_SSL_CTX(pc->connection->ssl->connection));
    if (zs != NULL && zs->len > 0 && zs->len <= sizeof(buf)) {
        len = zs->len;
        sl_memcpy(buf, zs->data, len);
    }

    sl_stream_upstream_rr_unlock(peers);

    if (len == 0) {
        return SL_OK;
    }

    p = buf;
    session = d2i_SSL_SESSION(NULL, &p, (long) len);
    if (session == NULL) {
        /* one that does not decode is not offered: a full handshake */
        ERR_clear_error();
        return SL_OK;
    }

    rc = sl_ssl_set_session(pc->connection, session);
    SSL_SESSION_free(session);
    return rc;
}

/* the record's session for ctx, made or grown to len (lock held) */
static sl_stream_upstream_zone_session_t *
sl_stream_upstream_zone_session_slot(sl_slab_pool_t *pool,
    sl_stream_upstream_rr_record_t *rec, uintptr_t ctx, size_t len)
{
    sl_stream_upstream_zone_session_t  *zs;
    u_char                             *data;

    zs = sl_stream_upstream_zone_session(rec, ctx);

    if (zs == NULL) {
        zs = sl_slab_calloc_locked(pool,
                                   sizeof(sl_stream_upstream_zone_session_t));
        if (zs == NULL) {
            return NULL;
        }

        zs->ctx = ctx;
        zs->next = rec->ssl_sessions;
        rec->ssl_sessions = zs;
    }

    if (zs->size < len) {
        data = sl_slab_alloc_locked(pool, len);
        if (data == NULL) {
            return NULL;
        }

        if (zs->data != NULL) {
            (void) sl_slab_free_locked(pool, zs->data);
        }

        zs->data = data;
        zs->size = len;
    }

    return zs;
}

void
sl_stream_upstream_zone_save_session(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peers_t *peers, sl_stream_upstream_rr_peer_t *peer)
{
    sl_stream_upstream_zone_session_t  *zs;
    SSL_SESSION                        *session;
    uintptr_t                           ctx;
    u_char                              buf[SL_STREAM_UPSTREAM_ZONE_MAX_SESSION];
    u_char                             *p = buf;
    int                                 len;

    session = sl_ssl_get_session(pc->connection);
    if (session == NULL) {
        return;
    }

    len = i2d_SSL_SESSION(session, NULL);
    if (len > 0 && len <= (int) sizeof(buf)) {
        len = i2d_SSL_SESSION(session, &p);
    }

    SSL_SESSION_free(session);

    if (len <= 0 || len > (int) sizeof(buf)) {
        return;     /* as nginx: too big a session is not kept */
    }

    ctx = (uintptr_t) SSL_get_SSL_CTX(pc->connection->ssl->connection);

    sl_stream_upstream_rr_lock(peers);

    zs = sl_stream_upstream_zone_session_slot(peers->shpool, peer->rec, ctx,
                                              (size_t) len);
    if (zs != NULL) {
        sl_memcpy(zs->data, buf, (size_t) len);
        zs->len = (size_t) len;
    }

    sl_stream_upstream_rr_unlock(peers);

    if (zs == NULL) {
        sl_log_error(SL_LOG_CRIT, pc->log, 0, "could not allocate "
                     "session%s", peers->shpool->log_ctx);
    }
}
