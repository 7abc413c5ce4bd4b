/*
 * sl_stream_limit_conn_module.c -- "limit_conn_zone", "limit_conn",
 * "limit_conn_log_level", "limit_conn_dry_run" and $limit_conn_status:
 * how many sessions with the same key may be open at once, counted in a
 * shared memory zone so that every worker (and every generation a reload
 * keeps the zone for) sees one count, as nginx's stream limit_conn does.
 *
 * A zone holds a red-black tree (its sentinel in the zone too) of one
 * node per key with open sessions: crc32 of the key orders the tree, the
 * key's bytes settle a collision, and the node holds the count. A session
 * that is counted adds a cleanup to its pool for each zone, so that the
 * count comes down exactly once however the session ends (its pool goes
 * once); the node whose count reaches 0 is taken out and freed. Counting
 * runs in the preaccess phase; a session over a limit ends with 503.
 *
 * This file must never hold a zone's lock across anything but the tree
 * and the slab, and must never keep a pointer to a process's memory in a
 * zone.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* the longest key a node can hold (its length is one byte) */
#define SL_STREAM_LIMIT_CONN_KEY_MAX  255
/* the fewest pages a zone may have, as nginx asks */
#define SL_STREAM_LIMIT_CONN_PAGES    8

/* $limit_conn_status, by what the session's ctx points at */
enum {
    SL_STREAM_LIMIT_CONN_PASSED = 0,
    SL_STREAM_LIMIT_CONN_REJECTED,
    SL_STREAM_LIMIT_CONN_REJECTED_DRY_RUN
};

/* in the zone: one key with sessions open */
typedef struct {
    sl_rbtree_node_t                 node;      /* key: crc32 of data */
    uint16_t                         conn;
    u_char                           len;
    u_char                           data[];
} sl_stream_limit_conn_node_t;

/* in the zone: its root, found again through pool->data */
typedef struct {
    sl_rbtree_t                      rbtree;
    sl_rbtree_node_t                 sentinel;
} sl_stream_limit_conn_shctx_t;

/* the zone's data (configuration memory): its key and where it is */
typedef struct {
    sl_stream_limit_conn_shctx_t    *sh;
    sl_slab_pool_t                  *shpool;
    sl_stream_complex_value_t        key;
    sl_log_t                        *log;       /* the cycle's, for init */
} sl_stream_limit_conn_ctx_t;

/* what a counted session's pool cleanup gives back */
typedef struct {
    sl_shm_zone_t                   *shm_zone;
    sl_stream_limit_conn_node_t     *node;
} sl_stream_limit_conn_cleanup_t;

/* one "limit_conn" */
typedef struct {
    sl_shm_zone_t                   *shm_zone;
    sl_uint_t                        conn;
} sl_stream_limit_conn_limit_t;

typedef struct {
    sl_array_t                      *limits;    /* NULL: inherited */
    sl_uint_t                        log_level;
    sl_flag_t                        dry_run;
} sl_stream_limit_conn_conf_t;

static sl_int_t sl_stream_limit_conn_handler(sl_stream_session_t *s);
static void sl_stream_limit_conn_cleanup(void *data);
static sl_int_t sl_stream_limit_conn_status_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static char *sl_stream_limit_conn_zone(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_limit_conn(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static void *sl_stream_limit_conn_create_conf(sl_conf_t *cf);
static char *sl_stream_limit_conn_merge_conf(sl_conf_t *cf, void *parent,
    void *child);
static sl_int_t sl_stream_limit_conn_add_variables(sl_conf_t *cf);
static sl_int_t sl_stream_limit_conn_init(sl_conf_t *cf);

static sl_conf_enum_t  sl_stream_limit_conn_log_levels[] = {
    { sl_string("info"), SL_LOG_INFO },
    { sl_string("notice"), SL_LOG_NOTICE },
    { sl_string("warn"), SL_LOG_WARN },
    { sl_string("error"), SL_LOG_ERR },
    { sl_null_string, 0 }
};

static sl_command_t  sl_stream_limit_conn_commands[] = {

    { sl_string("limit_conn_zone"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE2,
      sl_stream_limit_conn_zone,
      0,
      0,
      NULL },

    { sl_string("limit_conn"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE2,
      sl_stream_limit_conn,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("limit_conn_log_level"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_enum_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_limit_conn_conf_t, log_level),
      &sl_stream_limit_conn_log_levels },

    { sl_string("limit_conn_dry_run"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_limit_conn_conf_t, dry_run),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_limit_conn_module_ctx = {
    sl_stream_limit_conn_add_variables,
    sl_stream_limit_conn_init,
    NULL,
    NULL,
    sl_stream_limit_conn_create_conf,
    sl_stream_limit_conn_merge_conf
};

sl_module_t  sl_stream_limit_conn_module = {
    .name = "sl_stream_limit_conn_module",
    .ctx = &sl_stream_limit_conn_module_ctx,
    .commands = sl_stream_limit_conn_commands,
    .type = SL_STREAM_MODULE,
};

/* a session's verdict: its ctx points at one of these (never written) */
static sl_str_t  sl_stream_limit_conn_status[] = {
    sl_string("PASSED"),
    sl_string("REJECTED"),
    sl_string("REJECTED_DRY_RUN")
};

/* --- the tree ------------------------------------------------------------ */

static void
sl_stream_limit_conn_insert_value(sl_rbtree_node_t *temp,
    sl_rbtree_node_t *node, sl_rbtree_node_t *sentinel)
{
    sl_stream_limit_conn_node_t  *n, *t;
    sl_rbtree_node_t            **p;

    n = (sl_stream_limit_conn_node_t *) node;

    for ( ;; ) {
        t = (sl_stream_limit_conn_node_t *) temp;

        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;

        } else {
            p = sl_memn2cmp(n->data, n->len, t->data, t->len) < 0
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    sl_rbt_red(node);
}

static sl_stream_limit_conn_node_t *
sl_stream_limit_conn_lookup(sl_rbtree_t *rbtree, sl_str_t *key,
    uint32_t hash)
{
    sl_stream_limit_conn_node_t  *lc;
    sl_rbtree_node_t             *node, *sentinel;
    sl_int_t                      rc;

    node = rbtree->root;
    sentinel = rbtree->sentinel;

    while (node != sentinel) {
        if (hash != node->key) {
            node = hash < node->key ? node->left : node->right;
            continue;
        }

        lc = (sl_stream_limit_conn_node_t *) node;
        rc = sl_memn2cmp(key->data, key->len, lc->data, lc->len);

        if (rc == 0) {
            return lc;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}

/*
 * Counts one more session of key against limit, under the zone's lock:
 * the node, NULL with *full unset when the count is at the limit, NULL
 * with *full set when the zone has no room for a new key.
 */
static sl_stream_limit_conn_node_t *
sl_stream_limit_conn_count(sl_stream_limit_conn_ctx_t *ctx, sl_str_t *key,
    sl_uint_t limit, sl_uint_t *full)
{
    sl_stream_limit_conn_node_t  *lc;
    uint32_t                      hash;

    hash = sl_crc32(key->data, key->len);
    *full = 0;

    sl_shmtx_lock(&ctx->shpool->mutex);

    lc = sl_stream_limit_conn_lookup(&ctx->sh->rbtree, key, hash);

    if (lc == NULL) {
        lc = sl_slab_alloc_locked(ctx->shpool,
                                  sizeof(sl_stream_limit_conn_node_t)
                                  + key->len);
        if (lc == NULL) {
            *full = 1;
            goto done;
        }

        lc->node.key = hash;
        lc->conn = 1;
        lc->len = (u_char) key->len;
        sl_memcpy(lc->data, key->data, key->len);
        sl_rbtree_insert(&ctx->sh->rbtree, &lc->node);

    } else if (lc->conn >= limit) {
        lc = NULL;

    } else {
        lc->conn++;
    }

done:

    sl_shmtx_unlock(&ctx->shpool->mutex);
    return lc;
}

/* one session of the node's key less; the last one takes the node out */
static void
sl_stream_limit_conn_cleanup(void *data)
{
    sl_stream_limit_conn_cleanup_t  *lccln = data;
    sl_stream_limit_conn_ctx_t      *ctx = lccln->shm_zone->data;
    sl_stream_limit_conn_node_t     *lc = lccln->node;

    sl_shmtx_lock(&ctx->shpool->mutex);

    if (--lc->conn == 0) {
        sl_rbtree_delete(&ctx->sh->rbtree, &lc->node);
        (void) sl_slab_free_locked(ctx->shpool, lc);
    }

    sl_shmtx_unlock(&ctx->shpool->mutex);
}

/*
 * A session refused by a limit gives back what the limits before it
 * counted: their cleanups are the newest of its pool, so they are run and
 * taken off the pool's list (nginx's cleanup_all).
 */
static void
sl_stream_limit_conn_cleanup_all(sl_pool_t *pool)
{
    sl_pool_cleanup_t  *cln;

    for (cln = pool->cleanup;
         cln != NULL && cln->handler == sl_stream_limit_conn_cleanup;
         cln = cln->next)
    {
        sl_stream_limit_conn_cleanup(cln->data);
    }

    pool->cleanup = cln;
}

/* --- the preaccess phase ------------------------------------------------- */

static sl_int_t
sl_stream_limit_conn_set_status(sl_stream_session_t *s, sl_uint_t status)
{
    return sl_stream_set_ctx(s, &sl_stream_limit_conn_status[status],
                             sl_stream_limit_conn_module);
}

/* over a limit, or no room in its zone: the session is refused */
static sl_int_t
sl_stream_limit_conn_reject(sl_stream_session_t *s,
    sl_stream_limit_conn_conf_t *lccf)
{
    sl_stream_limit_conn_cleanup_all(s->connection->pool);

    if (lccf->dry_run) {
        return sl_stream_limit_conn_set_status(s,
                   SL_STREAM_LIMIT_CONN_REJECTED_DRY_RUN) == SL_OK
               ? SL_DECLINED : SL_ERROR;
    }

    (void) sl_stream_limit_conn_set_status(s, SL_STREAM_LIMIT_CONN_REJECTED);
    return SL_STREAM_SERVICE_UNAVAILABLE;
}

/* the key of a limit for this session; SL_DECLINED: not counted */
static sl_int_t
sl_stream_limit_conn_key(sl_stream_session_t *s,
    sl_stream_limit_conn_ctx_t *ctx, sl_str_t *key)
{
    if (sl_stream_complex_value(s, &ctx->key, key) != SL_OK) {
        return SL_ERROR;
    }

    if (key->len == 0) {
        return SL_DECLINED;
    }

    if (key->len > SL_STREAM_LIMIT_CONN_KEY_MAX) {
        sl_log_error(SL_LOG_ERR, s->connection->log, 0, "the value of the "
                     "\"%V\" key is more than 255 bytes: \"%V\"",
                     &ctx->key.value, key);
        return SL_DECLINED;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_limit_conn_add_cleanup(sl_stream_session_t *s, sl_shm_zone_t *zone,
    sl_stream_limit_conn_node_t *lc)
{
    sl_stream_limit_conn_cleanup_t  *lccln;
    sl_pool_cleanup_t               *cln;

    cln = sl_pool_cleanup_add(s->connection->pool,
                              sizeof(sl_stream_limit_conn_cleanup_t));
    if (cln == NULL) {
        sl_stream_limit_conn_cleanup(&(sl_stream_limit_conn_cleanup_t)
                                     { zone, lc });
        return SL_ERROR;
    }

    lccln = cln->data;
    lccln->shm_zone = zone;
    lccln->node = lc;
    cln->handler = sl_stream_limit_conn_cleanup;

    return SL_OK;
}

static sl_int_t
sl_stream_limit_conn_handler(sl_stream_session_t *s)
{
    sl_stream_limit_conn_conf_t   *lccf;
    sl_stream_limit_conn_limit_t  *limits;
    sl_stream_limit_conn_ctx_t    *ctx;
    sl_stream_limit_conn_node_t   *lc;
    sl_uint_t                      i, full;
    sl_str_t                       key;
    sl_int_t                       rc;

    lccf = sl_stream_get_module_srv_conf(s, sl_stream_limit_conn_module);
    if (lccf->limits == NULL) {
        return SL_DECLINED;
    }

    limits = lccf->limits->elts;

    for (i = 0; i < lccf->limits->nelts; i++) {
        ctx = limits[i].shm_zone->data;

        rc = sl_stream_limit_conn_key(s, ctx, &key);
        if (rc == SL_DECLINED) {
            continue;
        }

        if (rc != SL_OK
            || sl_stream_limit_conn_set_status(s, SL_STREAM_LIMIT_CONN_PASSED)
               != SL_OK)
        {
            return SL_ERROR;
        }

        lc = sl_stream_limit_conn_count(ctx, &key, limits[i].conn, &full);

        if (lc == NULL) {
            if (full) {
                sl_log_error(SL_LOG_CRIT, s->connection->log, 0,
                             "could not allocate node%s",
                             ctx->shpool->log_ctx);
            } else {
                sl_log_error(lccf->log_level, s->connection->log, 0,
                             "limiting connections%s by zone \"%V\"",
                             lccf->dry_run ? ", dry run," : "",
                             &limits[i].shm_zone->name);
            }

            return sl_stream_limit_conn_reject(s, lccf);
        }

        if (sl_stream_limit_conn_add_cleanup(s, limits[i].shm_zone, lc)
            != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_DECLINED;
}

static sl_int_t
sl_stream_limit_conn_status_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_str_t  *status;

    sl_unused(data);

    status = sl_stream_get_module_ctx(s, sl_stream_limit_conn_module);
    if (status == NULL) {
        return SL_ERROR;        /* no limit looked at the session */
    }

    v->len = (unsigned) status->len;
    v->data = status->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return SL_OK;
}

/* --- the zone ------------------------------------------------------------ */

/* a reload that kept the zone: the tree and its counts go on */
static sl_int_t
sl_stream_limit_conn_init_kept(sl_shm_zone_t *zone,
    sl_stream_limit_conn_ctx_t *ctx, sl_stream_limit_conn_ctx_t *octx)
{
    if (ctx->key.value.len != octx->key.value.len
        || sl_strncmp(ctx->key.value.data, octx->key.value.data,
                      ctx->key.value.len) != 0)
    {
        sl_log_error(SL_LOG_EMERG, ctx->log, 0, "limit_conn_zone \"%V\" uses "
                     "the \"%V\" key while previously it used the \"%V\" "
                     "key", &zone->name, &ctx->key.value, &octx->key.value);
        return SL_ERROR;
    }

    ctx->sh = octx->sh;
    ctx->shpool = octx->shpool;

    return SL_OK;
}

static sl_int_t
sl_stream_limit_conn_init_zone(sl_shm_zone_t *zone, void *data)
{
    sl_stream_limit_conn_ctx_t  *octx = data;
    sl_stream_limit_conn_ctx_t  *ctx = zone->data;

    if (octx != NULL) {
        return sl_stream_limit_conn_init_kept(zone, ctx, octx);
    }

    ctx->shpool = zone->pool;
    ctx->sh = sl_slab_calloc(ctx->shpool,
                             sizeof(sl_stream_limit_conn_shctx_t));
    if (ctx->sh == NULL) {
        sl_log_error(SL_LOG_EMERG, ctx->log, 0, "could not allocate the "
                     "tree%s", ctx->shpool->log_ctx);
        return SL_ERROR;
    }

    ctx->shpool->data = ctx->sh;
    sl_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                   sl_stream_limit_conn_insert_value);

    (void) sl_snprintf((u_char *) ctx->shpool->log_ctx,
                       SL_SLAB_LOG_CTX_LEN - 1,
                       " in limit_conn_zone \"%V\"%Z", &zone->name);
    ctx->shpool->log_ctx[SL_SLAB_LOG_CTX_LEN - 1] = '\0';

    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

/* "zone=NAME:SIZE" into name and size; an error is logged */
static char *
sl_stream_limit_conn_zone_param(sl_conf_t *cf, sl_str_t *value,
    sl_str_t *name, ssize_t *size)
{
    sl_str_t   s;
    u_char    *colon;

    if (value->len < 5 || sl_strncmp(value->data, "zone=", 5) != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          value);
        return SL_CONF_ERROR;
    }

    name->data = value->data + 5;
    colon = memchr(name->data, ':', value->len - 5);

    if (colon == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                          value);
        return SL_CONF_ERROR;
    }

    name->len = (size_t) (colon - name->data);
    s.data = colon + 1;
    s.len = (size_t) (value->data + value->len - s.data);

    *size = sl_parse_size(&s);

    if (*size == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                          value);
        return SL_CONF_ERROR;
    }

    if (*size < (ssize_t) (SL_STREAM_LIMIT_CONN_PAGES * SL_SLAB_PAGE_SIZE)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "zone \"%V\" is too small",
                          value);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static char *
sl_stream_limit_conn_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_limit_conn_ctx_t  *ctx;
    sl_shm_zone_t               *zone;
    sl_str_t                    *value = cf->args->elts;
    sl_str_t                     name = sl_null_string;
    ssize_t                      size = 0;

    sl_unused(conf);

    ctx = sl_pcalloc(cf->pool, sizeof(sl_stream_limit_conn_ctx_t));
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }

    ctx->log = cf->cycle->log;

    if (sl_stream_compile_complex_value(cf, &value[1], &ctx->key) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (sl_stream_limit_conn_zone_param(cf, &value[2], &name, &size)
        != SL_CONF_OK)
    {
        return SL_CONF_ERROR;
    }

    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" must have \"zone\" "
                          "parameter", &cmd->name);
        return SL_CONF_ERROR;
    }

    zone = sl_shared_memory_add(cf, &name, (size_t) size,
                                &sl_stream_limit_conn_module);
    if (zone == NULL) {
        return SL_CONF_ERROR;
    }

    if (zone->data != NULL) {
        ctx = zone->data;
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%V \"%V\" is already bound "
                          "to key \"%V\"", &cmd->name, &name,
                          &ctx->key.value);
        return SL_CONF_ERROR;
    }

    zone->init = sl_stream_limit_conn_init_zone;
    zone->data = ctx;

    return SL_CONF_OK;
}

/* "limit_conn ZONE NUMBER": the zone may be declared further down */
static char *
sl_stream_limit_conn(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_limit_conn_conf_t   *lccf = conf;
    sl_stream_limit_conn_limit_t  *limit;
    sl_shm_zone_t                 *zone;
    sl_str_t                      *value = cf->args->elts;
    sl_uint_t                      i;
    sl_int_t                       n;

    sl_unused(cmd);

    zone = sl_shared_memory_add(cf, &value[1], 0,
                                &sl_stream_limit_conn_module);
    if (zone == NULL) {
        return SL_CONF_ERROR;
    }

    if (lccf->limits == NULL) {
        lccf->limits = sl_array_create(cf->pool, 1,
                                       sizeof(sl_stream_limit_conn_limit_t));
        if (lccf->limits == NULL) {
            return SL_CONF_ERROR;
        }
    }

    limit = lccf->limits->elts;
    for (i = 0; i < lccf->limits->nelts; i++) {
        if (limit[i].shm_zone == zone) {
            return "is duplicate";
        }
    }

    n = sl_atoi(value[2].data, value[2].len);
    if (n <= 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of "
                          "connections \"%V\"", &value[2]);
        return SL_CONF_ERROR;
    }

    if (n > 65535) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "connection limit must be "
                          "less 65536");
        return SL_CONF_ERROR;
    }

    limit = sl_array_push(lccf->limits);
    if (limit == NULL) {
        return SL_CONF_ERROR;
    }

    limit->shm_zone = zone;
    limit->conn = (sl_uint_t) n;

    return SL_CONF_OK;
}

static void *
sl_stream_limit_conn_create_conf(sl_conf_t *cf)
{
    sl_stream_limit_conn_conf_t  *conf;

    conf = sl_pcalloc(cf->pool, sizeof(sl_stream_limit_conn_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /* limits = NULL: inherited */
    conf->log_level = SL_CONF_UNSET_UINT;
    conf->dry_run = SL_CONF_UNSET;

    return conf;
}

/* a server with no limit_conn of its own takes all of the outer level's */
static char *
sl_stream_limit_conn_merge_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_limit_conn_conf_t  *prev = parent;
    sl_stream_limit_conn_conf_t  *conf = child;

    sl_unused(cf);

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }

    sl_conf_merge_uint_value(conf->log_level, prev->log_level, SL_LOG_ERR);
    sl_conf_merge_value(conf->dry_run, prev->dry_run, 0);

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_limit_conn_add_variables(sl_conf_t *cf)
{
    static sl_str_t        name = sl_string("limit_conn_status");
    sl_stream_variable_t  *v;

    v = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_NOCACHEABLE);
    if (v == NULL) {
        return SL_ERROR;
    }

    v->get_handler = sl_stream_limit_conn_status_variable;
    return SL_OK;
}

static sl_int_t
sl_stream_limit_conn_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_PREACCESS_PHASE, sl_stream_limit_conn_handler);
}
