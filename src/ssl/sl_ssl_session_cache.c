/*
 * sl_ssl_session_cache.c -- the shared TLS session cache (see the header):
 * OpenSSL's new/get/remove session callbacks over a tree and an expiry
 * queue in a zone of shared memory.
 *
 * A cached session is one slab chunk: its tree node (keyed by the crc32 of
 * the session id, the id itself deciding between equal keys), its place
 * in the queue (the newest at the head), its expiry time and the session
 * in DER. The zone's root (the tree, its sentinel, the queue) is
 * pool->data, and the zone's data, which a reload that keeps the zone
 * hands to the next cycle.
 *
 * This file must never hold the zone's lock across OpenSSL's encoding or
 * decoding of a session, nor across a log write; and it never removes a
 * session on its own account but when it is found expired (or makes room
 * for a new one): every other removal is OpenSSL's, through remove_cb.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_ssl_session_cache.h"

#include <pthread.h>

/* the zone's root, in the zone */
typedef struct {
    sl_rbtree_t         rbtree;
    sl_rbtree_node_t    sentinel;
    sl_queue_t          expire_queue;   /* the newest at the head */
    time_t              fail_time;      /* of the last "could not allocate" */
} sl_ssl_session_cache_t;

/* one session, in the zone: a single chunk */
typedef struct {
    sl_rbtree_node_t    node;   /* key: crc32 of id; data: the id's length */
    sl_queue_t          queue;
    time_t              expire;
    size_t              len;    /* of der */
    u_char              id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    u_char              der[];
} sl_ssl_cached_session_t;

const u_char  sl_ssl_session_cache_tag = 0;

/* the SSL_CTX ex_data index of the zone: made once, read-only afterwards */
static int             sl_ssl_session_cache_index = -1;
static pthread_once_t  sl_ssl_session_cache_once = PTHREAD_ONCE_INIT;

/* --- the tree ------------------------------------------------------------ */

static void
sl_ssl_session_cache_insert_value(sl_rbtree_node_t *temp,
    sl_rbtree_node_t *node, sl_rbtree_node_t *sentinel)
{
    sl_ssl_cached_session_t  *n, *t;
    sl_rbtree_node_t        **p;

    n = (sl_ssl_cached_session_t *) node;

    for ( ;; ) {
        t = (sl_ssl_cached_session_t *) temp;

        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;

        } else {
            p = sl_memn2cmp(n->id, node->data, t->id, temp->data)
                < 0 ? &temp->left : &temp->right;
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

/* the session of id, or NULL; under the lock */
static sl_ssl_cached_session_t *
sl_ssl_session_cache_lookup(sl_ssl_session_cache_t *cache, const u_char *id,
    size_t len, uint32_t hash)
{
    sl_ssl_cached_session_t  *cs;
    sl_rbtree_node_t         *node, *sentinel;
    int                       rc;

    node = cache->rbtree.root;
    sentinel = cache->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = hash < node->key ? node->left : node->right;
            continue;
        }

        cs = (sl_ssl_cached_session_t *) node;
        rc = sl_memn2cmp(id, len, cs->id, node->data);

        if (rc == 0) {
            return cs;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}

/* under the lock */
static void
sl_ssl_session_cache_delete(sl_ssl_session_cache_t *cache,
    sl_slab_pool_t *pool, sl_ssl_cached_session_t *cs)
{
    sl_queue_remove(&cs->queue);
    sl_rbtree_delete(&cache->rbtree, &cs->node);
    /* a session holds its master secret: none is left in freed memory */
    OPENSSL_cleanse(cs->der, cs->len);
    (void) sl_slab_free_locked(pool, cs);
}

/*
 * Under the lock: drops at most two expired sessions from the old end of
 * the queue, after the oldest one whatever its age when oldest is set (to
 * make room when the zone is full). A little each time keeps the zone
 * clean without a timer, and bounds the time spent under the lock.
 */
static void
sl_ssl_session_cache_expire(sl_ssl_session_cache_t *cache,
    sl_slab_pool_t *pool, time_t now, sl_uint_t oldest)
{
    sl_ssl_cached_session_t  *cs;
    sl_uint_t                 i;

    for (i = 0; i < 3; i++) {

        if (sl_queue_empty(&cache->expire_queue)) {
            return;
        }

        cs = sl_queue_data(sl_queue_last(&cache->expire_queue),
                           sl_ssl_cached_session_t, queue);

        if (i == 0 && !oldest) {
            continue;
        }

        if (i > 0 && cs->expire > now) {
            return;
        }

        sl_ssl_session_cache_delete(cache, pool, cs);
    }
}

/* --- the callbacks ------------------------------------------------------- */

static sl_connection_t *
sl_ssl_session_cache_connection(const SSL *ssl)
{
    sl_connection_t  *c;

    c = SSL_get_ex_data(ssl, sl_ssl_indexes()->connection_index);

    return (c != NULL && c->ssl != NULL) ? c : NULL;
}

/* the zone of the context the connection caches its sessions in */
static sl_shm_zone_t *
sl_ssl_session_cache_zone(sl_connection_t *c)
{
    return SSL_CTX_get_ex_data(c->ssl->session_ctx,
                               sl_ssl_session_cache_index);
}

static time_t
sl_ssl_session_cache_now(sl_connection_t *c)
{
    if (c->loop != NULL && c->loop->time != NULL) {
        return c->loop->time->sec;
    }

    return time(NULL);
}

/*
 * A new session: kept in the zone, for any worker. Returns 0: OpenSSL
 * keeps no reference for us, the zone holds a copy.
 */
static int
sl_ssl_session_cache_new(SSL *ssl, SSL_SESSION *sess)
{
    sl_ssl_session_cache_t   *cache;
    sl_ssl_cached_session_t  *cs;
    sl_connection_t          *c;
    sl_shm_zone_t            *zone;
    sl_slab_pool_t           *pool;
    const u_char             *id;
    u_char                   *p;
    unsigned int              idlen;
    time_t                    now;
    int                       len, log;
    u_char                    der[SL_SSL_MAX_SESSION_SIZE];

    /*
     * TLS 1.3 with tickets on: the ticket carries the session itself,
     * OpenSSL only tells us about it.
     */
    if (SSL_version(ssl) == TLS1_3_VERSION
        && (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0)
    {
        return 0;
    }

    c = sl_ssl_session_cache_connection(ssl);
    if (c == NULL) {
        return 0;
    }

    zone = sl_ssl_session_cache_zone(c);
    if (zone == NULL || zone->data == NULL) {
        return 0;
    }

    id = SSL_SESSION_get_id(sess, &idlen);
    len = i2d_SSL_SESSION(sess, NULL);

    if (idlen == 0 || idlen > SSL_MAX_SSL_SESSION_ID_LENGTH
        || len <= 0 || len > SL_SSL_MAX_SESSION_SIZE)
    {
        return 0;
    }

    /* encoded before the lock is taken */
    p = der;
    if (i2d_SSL_SESSION(sess, &p) != len) {
        sl_ssl_clear_error(c->log);
        return 0;
    }

    cache = zone->data;
    pool = zone->pool;
    now = sl_ssl_session_cache_now(c);

    sl_shmtx_lock(&pool->mutex);

    sl_ssl_session_cache_expire(cache, pool, now, 0);

    cs = sl_slab_alloc_locked(pool, sizeof(sl_ssl_cached_session_t)
                                    + (size_t) len);
    if (cs == NULL) {
        /* the zone is full: the oldest session makes room, once */
        sl_ssl_session_cache_expire(cache, pool, now, 1);

        cs = sl_slab_alloc_locked(pool, sizeof(sl_ssl_cached_session_t)
                                        + (size_t) len);
        if (cs == NULL) {
            /*
             * As nginx: a warning once a second at most, so that a client
             * that keeps sending big sessions cannot flood the log.
             */
            log = cache->fail_time != now;
            cache->fail_time = now;
            sl_shmtx_unlock(&pool->mutex);
            OPENSSL_cleanse(der, (size_t) len);

            if (log) {
                sl_log_error(SL_LOG_WARN, c->log, 0,
                             "could not allocate new session%s",
                             pool->log_ctx);
            }

            return 0;
        }
    }

    sl_memcpy(cs->id, id, idlen);
    sl_memcpy(cs->der, der, (size_t) len);
    OPENSSL_cleanse(der, (size_t) len);
    cs->len = (size_t) len;
    cs->expire = now + SSL_CTX_get_timeout(c->ssl->session_ctx);
    cs->node.key = sl_crc32((u_char *) cs->id, idlen);
    cs->node.data = (u_char) idlen;

    sl_queue_insert_head(&cache->expire_queue, &cs->queue);
    sl_rbtree_insert(&cache->rbtree, &cs->node);

    sl_shmtx_unlock(&pool->mutex);

    return 0;
}

/*
 * A client asks to resume the session of id: a fresh SSL_SESSION decoded
 * from the zone, which OpenSSL owns (*copy = 0: no reference for us).
 */
static SSL_SESSION *
sl_ssl_session_cache_get(SSL *ssl, const unsigned char *id, int len,
    int *copy)
{
    sl_ssl_session_cache_t   *cache;
    sl_ssl_cached_session_t  *cs;
    sl_connection_t          *c;
    sl_shm_zone_t            *zone;
    sl_slab_pool_t           *pool;
    const u_char             *p;
    SSL_SESSION              *sess;
    size_t                    dlen;
    uint32_t                  hash;
    u_char                    der[SL_SSL_MAX_SESSION_SIZE];

    *copy = 0;

    if (len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return NULL;
    }

    c = sl_ssl_session_cache_connection(ssl);
    if (c == NULL) {
        return NULL;
    }

    zone = sl_ssl_session_cache_zone(c);
    if (zone == NULL || zone->data == NULL) {
        return NULL;
    }

    cache = zone->data;
    pool = zone->pool;
    hash = sl_crc32((u_char *) id, (size_t) len);
    dlen = 0;

    sl_shmtx_lock(&pool->mutex);

    cs = sl_ssl_session_cache_lookup(cache, id, (size_t) len, hash);

    if (cs != NULL) {
        if (cs->expire > sl_ssl_session_cache_now(c)) {
            /* copied out: decoded once the lock is given back */
            dlen = cs->len;
            sl_memcpy(der, cs->der, dlen);

        } else {
            sl_ssl_session_cache_delete(cache, pool, cs);
        }
    }

    sl_shmtx_unlock(&pool->mutex);

    if (dlen == 0) {
        return NULL;
    }

    p = der;
    sess = d2i_SSL_SESSION(NULL, &p, (long) dlen);
    OPENSSL_cleanse(der, dlen);

    if (sess == NULL) {
        sl_ssl_clear_error(c->log);
    }

    return sess;
}

/* OpenSSL drops a session (a fatal alert, a refused client...): so do we */
static void
sl_ssl_session_cache_remove(SSL_CTX *ctx, SSL_SESSION *sess)
{
    sl_ssl_session_cache_t   *cache;
    sl_ssl_cached_session_t  *cs;
    sl_shm_zone_t            *zone;
    sl_slab_pool_t           *pool;
    const u_char             *id;
    unsigned int              len;
    uint32_t                  hash;

    zone = SSL_CTX_get_ex_data(ctx, sl_ssl_session_cache_index);
    if (zone == NULL || zone->data == NULL) {
        return;
    }

    id = SSL_SESSION_get_id(sess, &len);
    if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return;
    }

    cache = zone->data;
    pool = zone->pool;
    hash = sl_crc32((u_char *) id, len);

    sl_shmtx_lock(&pool->mutex);

    cs = sl_ssl_session_cache_lookup(cache, id, len, hash);
    if (cs != NULL) {
        sl_ssl_session_cache_delete(cache, pool, cs);
    }

    sl_shmtx_unlock(&pool->mutex);
}

/* --- setting up ---------------------------------------------------------- */

sl_int_t
sl_ssl_session_cache_init_zone(sl_shm_zone_t *zone, void *data)
{
    sl_ssl_session_cache_t  *cache;
    sl_slab_pool_t          *pool = zone->pool;

    if (data != NULL) {
        /* kept across the reload: its sessions resume on the new workers */
        zone->data = data;
        return SL_OK;
    }

    (void) sl_snprintf((u_char *) pool->log_ctx, SL_SLAB_LOG_CTX_LEN - 1,
                       " in SSL session shared cache \"%V\"%Z", &zone->name);
    pool->log_ctx[SL_SLAB_LOG_CTX_LEN - 1] = '\0';

    cache = sl_slab_calloc(pool, sizeof(sl_ssl_session_cache_t));
    if (cache == NULL) {
        sl_log_error(SL_LOG_EMERG, zone->log, 0, "could not allocate the "
                     "session cache%s", pool->log_ctx);
        return SL_ERROR;
    }

    sl_rbtree_init(&cache->rbtree, &cache->sentinel,
                   sl_ssl_session_cache_insert_value);
    sl_queue_init(&cache->expire_queue);

    pool->data = cache;
    zone->data = cache;

    return SL_OK;
}

static void
sl_ssl_session_cache_index_once(void)
{
    sl_ssl_session_cache_index = SSL_CTX_get_ex_new_index(0, NULL, NULL,
                                                          NULL, NULL);
}

sl_int_t
sl_ssl_session_cache_attach(SSL_CTX *ctx, sl_shm_zone_t *zone)
{
    (void) pthread_once(&sl_ssl_session_cache_once,
                        sl_ssl_session_cache_index_once);

    if (sl_ssl_session_cache_index < 0
        || SSL_CTX_set_ex_data(ctx, sl_ssl_session_cache_index, zone) == 0)
    {
        return SL_ERROR;
    }

    SSL_CTX_sess_set_new_cb(ctx, sl_ssl_session_cache_new);
    SSL_CTX_sess_set_get_cb(ctx, sl_ssl_session_cache_get);
    SSL_CTX_sess_set_remove_cb(ctx, sl_ssl_session_cache_remove);

    return SL_OK;
}
