/*
 * sl_ssl_cache.c -- certificates and keys named per handshake, and the
 * cache that keeps them loaded.
 *
 * It owns reading a chain or a key from a file or from "data:" text,
 * setting them on one connection, and the cache: objects keyed by kind
 * and full name in a tree, most recently used first in a queue. A hit
 * younger than `valid` touches no disk; an older one is checked against
 * its file (inode and mtime) and read again only when the file changed;
 * a miss evicts inactive entries from the tail, and the tail itself at
 * `max`. Cached objects are shared by reference count, so an evicted one
 * lives on in the connections that use it.
 *
 * It must never keep an encrypted key (its passwords would be needed
 * again; nginx keeps none either) and never allocate per handshake but
 * from the connection's pool (names) and for a cache miss.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_ssl_cache.h"

#include <openssl/pem.h>
#include <sys/stat.h>

enum {
    SL_SSL_CACHE_CERT = 0,          /* STACK_OF(X509): the leaf first */
    SL_SSL_CACHE_KEY                /* EVP_PKEY */
};

typedef struct {
    sl_rbtree_node_t    node;       /* key: the name's hash */
    sl_queue_t          queue;      /* most recently used first */
    sl_uint_t           kind;
    void               *value;
    time_t              created;    /* or last checked against the file */
    time_t              accessed;
    ino_t               ino;
    time_t              mtime;
    size_t              len;
    u_char              name[];     /* the full name, or "data:..." */
} sl_ssl_cache_node_t;

struct sl_ssl_cache_s {
    sl_rbtree_t         tree;
    sl_rbtree_node_t    sentinel;
    sl_queue_t          lru;
    sl_uint_t           n;
    sl_uint_t           max;
    time_t              valid;
    time_t              inactive;
};

/* what a lookup or a load works on */
typedef struct {
    sl_uint_t           kind;
    sl_str_t            name;       /* full name, NUL-terminated; data: */
    unsigned            data:1;
    unsigned            encrypted:1;    /* a password was asked for */
    sl_array_t         *passwords;
    sl_uint_t           password;       /* the one being tried */
    const char         *err;        /* what failed, for the log */
} sl_ssl_cache_req_t;

static void
sl_ssl_cache_free_value(sl_uint_t kind, void *value)
{
    if (kind == SL_SSL_CACHE_CERT) {
        sk_X509_pop_free(value, X509_free);
    } else {
        EVP_PKEY_free(value);
    }
}

/* --- loading ------------------------------------------------------------- */

static BIO *
sl_ssl_cache_bio(sl_ssl_cache_req_t *rq)
{
    BIO  *bio;

    if (rq->data) {
        bio = BIO_new_mem_buf(rq->name.data + 5, (int) (rq->name.len - 5));
        rq->err = bio ? NULL : "BIO_new_mem_buf() failed";
    } else {
        bio = BIO_new_file((char *) rq->name.data, "r");
        rq->err = bio ? NULL : "BIO_new_file() failed";
    }

    return bio;
}

/* the leaf, then every certificate after it, to the end of the PEM */
static STACK_OF(X509) *
sl_ssl_cache_load_chain(sl_ssl_cache_req_t *rq)
{
    STACK_OF(X509)  *chain;
    X509            *x509;
    BIO             *bio;
    unsigned long    n;

    bio = sl_ssl_cache_bio(rq);
    if (bio == NULL) {
        return NULL;
    }

    chain = sk_X509_new_null();
    x509 = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);

    if (chain == NULL || x509 == NULL || !sk_X509_push(chain, x509)) {
        rq->err = chain ? "PEM_read_bio_X509_AUX() failed"
                        : "sk_X509_new_null() failed";
        X509_free(x509);
        goto failed;
    }

    while ((x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(chain, x509)) {
            X509_free(x509);
            rq->err = "sk_X509_push() failed";
            goto failed;
        }
    }

    /* the end of the text, or a broken certificate in it */
    n = ERR_peek_last_error();

    if (ERR_GET_LIB(n) != ERR_LIB_PEM
        || ERR_GET_REASON(n) != PEM_R_NO_START_LINE)
    {
        rq->err = "PEM_read_bio_X509() failed";
        goto failed;
    }

    ERR_clear_error();
    BIO_free(bio);
    return chain;

failed:

    sk_X509_pop_free(chain, X509_free);
    BIO_free(bio);
    return NULL;
}

static int
sl_ssl_cache_password(char *buf, int size, int rwflag, void *userdata)
{
    sl_ssl_cache_req_t  *rq = userdata;
    sl_str_t            *pwd;
    size_t               len;

    (void) rwflag;

    rq->encrypted = 1;

    if (rq->passwords == NULL || rq->passwords->nelts == 0) {
        return 0;
    }

    pwd = (sl_str_t *) rq->passwords->elts + rq->password;
    len = sl_min(pwd->len, (size_t) size);
    sl_memcpy(buf, pwd->data, len);
    return (int) len;
}

/* the key, tried with each password in order until one decrypts it */
static EVP_PKEY *
sl_ssl_cache_load_key(sl_ssl_cache_req_t *rq)
{
    sl_uint_t    tries;
    EVP_PKEY    *pkey = NULL;
    BIO         *bio;

    tries = rq->passwords != NULL && rq->passwords->nelts > 0
            ? rq->passwords->nelts : 1;

    for (rq->password = 0; rq->password < tries && pkey == NULL;
         rq->password++)
    {
        bio = sl_ssl_cache_bio(rq);
        if (bio == NULL) {
            return NULL;
        }

        ERR_clear_error();
        pkey = PEM_read_bio_PrivateKey(bio, NULL, sl_ssl_cache_password, rq);
        BIO_free(bio);
    }

    rq->err = pkey ? NULL : "PEM_read_bio_PrivateKey() failed";
    return pkey;
}

static void *
sl_ssl_cache_load(sl_ssl_cache_req_t *rq)
{
    return rq->kind == SL_SSL_CACHE_CERT ? (void *) sl_ssl_cache_load_chain(rq)
                                         : (void *) sl_ssl_cache_load_key(rq);
}

/* --- the cache ----------------------------------------------------------- */

static sl_int_t
sl_ssl_cache_cmp(sl_ssl_cache_node_t *a, sl_uint_t hash, sl_uint_t kind,
    sl_str_t *name)
{
    if (a->node.key != hash) {
        return a->node.key < hash ? -1 : 1;
    }

    if (a->kind != kind) {
        return a->kind < kind ? -1 : 1;
    }

    return sl_memn2cmp(a->name, a->len, name->data, name->len);
}

static void
sl_ssl_cache_insert(sl_rbtree_node_t *temp, sl_rbtree_node_t *node,
    sl_rbtree_node_t *sentinel)
{
    sl_ssl_cache_node_t   *n = (sl_ssl_cache_node_t *) node;
    sl_rbtree_node_t     **p;
    sl_str_t               name = { n->len, n->name };

    for ( ;; ) {
        p = sl_ssl_cache_cmp((sl_ssl_cache_node_t *) temp, node->key,
                             n->kind, &name) > 0
            ? &temp->left : &temp->right;

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

static sl_ssl_cache_node_t *
sl_ssl_cache_lookup(sl_ssl_cache_t *cache, sl_uint_t hash,
    sl_ssl_cache_req_t *rq)
{
    sl_rbtree_node_t  *node = cache->tree.root;
    sl_int_t           rc;

    while (node != cache->tree.sentinel) {
        rc = sl_ssl_cache_cmp((sl_ssl_cache_node_t *) node, hash, rq->kind,
                              &rq->name);
        if (rc == 0) {
            return (sl_ssl_cache_node_t *) node;
        }

        node = rc > 0 ? node->left : node->right;
    }

    return NULL;
}

static void
sl_ssl_cache_drop(sl_ssl_cache_t *cache, sl_ssl_cache_node_t *cn)
{
    sl_rbtree_delete(&cache->tree, &cn->node);
    sl_queue_remove(&cn->queue);
    sl_ssl_cache_free_value(cn->kind, cn->value);
    sl_free(cn);
    cache->n--;
}

/* the tail when forced, and then up to two more unused for inactive */
static void
sl_ssl_cache_expire(sl_ssl_cache_t *cache, time_t now, sl_uint_t force)
{
    sl_ssl_cache_node_t  *cn;
    sl_uint_t             i;

    for (i = 0; i < 3 && !sl_queue_empty(&cache->lru); i++) {
        cn = sl_queue_data(sl_queue_last(&cache->lru), sl_ssl_cache_node_t,
                           queue);

        if (!(force && i == 0) && now - cn->accessed <= cache->inactive) {
            return;
        }

        sl_ssl_cache_drop(cache, cn);
    }
}

static void
sl_ssl_cache_stat(sl_ssl_cache_req_t *rq, ino_t *ino, time_t *mtime)
{
    struct stat  st;

    if (rq->data || stat((char *) rq->name.data, &st) == -1) {
        *ino = 0;
        *mtime = 0;
        return;
    }

    *ino = st.st_ino;
    *mtime = st.st_mtime;
}

static void
sl_ssl_cache_cleanup(void *data)
{
    sl_ssl_cache_t  *cache = data;

    while (!sl_queue_empty(&cache->lru)) {
        sl_ssl_cache_drop(cache, sl_queue_data(sl_queue_head(&cache->lru),
                                               sl_ssl_cache_node_t, queue));
    }
}

sl_ssl_cache_t *
sl_ssl_cache_create(sl_conf_t *cf, sl_uint_t max, time_t valid,
    time_t inactive)
{
    sl_ssl_cache_t     *cache;
    sl_pool_cleanup_t  *cln;

    cache = sl_pcalloc(cf->pool, sizeof(sl_ssl_cache_t));
    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (cache == NULL || cln == NULL) {
        return NULL;
    }

    sl_rbtree_init(&cache->tree, &cache->sentinel, sl_ssl_cache_insert);
    sl_queue_init(&cache->lru);
    cache->max = max;
    cache->valid = valid;
    cache->inactive = inactive;

    cln->handler = sl_ssl_cache_cleanup;
    cln->data = cache;
    return cache;
}

/* one "max=", "inactive=" or "valid=" argument; SL_DECLINED: not one */
static sl_int_t
sl_ssl_cache_param(sl_str_t *v, sl_int_t *max, time_t *valid,
    time_t *inactive)
{
    sl_str_t   t;
    sl_int_t   n;

    if (v->len > 4 && sl_strncmp(v->data, "max=", 4) == 0) {
        *max = sl_atoi(v->data + 4, v->len - 4);
        return *max > 0 ? SL_OK : SL_ERROR;
    }

    if (v->len >= 9 && sl_strncmp(v->data, "inactive=", 9) == 0) {
        t.data = v->data + 9;
        t.len = v->len - 9;
    } else if (v->len >= 6 && sl_strncmp(v->data, "valid=", 6) == 0) {
        t.data = v->data + 6;
        t.len = v->len - 6;
    } else {
        return SL_DECLINED;
    }

    n = sl_parse_time(&t, 1);
    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    *(v->data[0] == 'i' ? inactive : valid) = (time_t) n;
    return SL_OK;
}

char *
sl_ssl_cache_conf(sl_conf_t *cf, sl_ssl_cache_t **cache)
{
    sl_str_t   *value = cf->args->elts;
    sl_int_t    max = 0;
    time_t      valid = 60, inactive = 10;
    sl_uint_t   i, off = 0;

    if (*cache != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 3 && sl_strncmp(value[i].data, "off", 3) == 0) {
            off = 1;
            continue;
        }

        if (sl_ssl_cache_param(&value[i], &max, &valid, &inactive) != SL_OK) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter "
                              "\"%V\"", &value[i]);
            return SL_CONF_ERROR;
        }
    }

    if (off) {
        *cache = NULL;
        return SL_CONF_OK;
    }

    if (max == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" must have the "
                          "\"max\" parameter", &value[0]);
        return SL_CONF_ERROR;
    }

    *cache = sl_ssl_cache_create(cf, (sl_uint_t) max, valid, inactive);
    return *cache != NULL ? SL_CONF_OK : SL_CONF_ERROR;
}

/*
 * A found entry, brought up to date with its file when it is old. When
 * the file cannot be read again, or now holds an encrypted key, the
 * entry goes (SL_DECLINED) and *value is what was read (NULL: nothing).
 */
static sl_int_t
sl_ssl_cache_refresh(sl_ssl_cache_t *cache, sl_ssl_cache_node_t *cn,
    sl_ssl_cache_req_t *rq, time_t now, sl_uint_t invalidate, void **value)
{
    ino_t    ino;
    time_t   mtime;

    *value = NULL;

    if (rq->data || (!invalidate && now - cn->created <= cache->valid)) {
        return SL_OK;
    }

    sl_ssl_cache_stat(rq, &ino, &mtime);

    if (!invalidate && ino == cn->ino && mtime == cn->mtime) {
        cn->created = now;
        return SL_OK;
    }

    *value = sl_ssl_cache_load(rq);

    if (*value == NULL || rq->encrypted) {
        sl_ssl_cache_drop(cache, cn);
        return SL_DECLINED;
    }

    sl_ssl_cache_free_value(cn->kind, cn->value);
    cn->value = *value;
    cn->ino = ino;
    cn->mtime = mtime;
    cn->created = now;
    return SL_OK;
}

static sl_ssl_cache_node_t *
sl_ssl_cache_add(sl_ssl_cache_t *cache, sl_ssl_cache_req_t *rq,
    sl_uint_t hash, void *value, time_t now)
{
    sl_ssl_cache_node_t  *cn;

    cn = sl_alloc(sizeof(sl_ssl_cache_node_t) + rq->name.len, NULL);
    if (cn == NULL) {
        return NULL;
    }

    cn->node.key = hash;
    cn->kind = rq->kind;
    cn->value = value;
    cn->created = now;
    cn->len = rq->name.len;
    sl_memcpy(cn->name, rq->name.data, rq->name.len);
    sl_ssl_cache_stat(rq, &cn->ino, &cn->mtime);

    sl_ssl_cache_expire(cache, now, 0);

    if (cache->n >= cache->max) {
        sl_ssl_cache_expire(cache, now, 1);
    }

    sl_rbtree_insert(&cache->tree, &cn->node);
    sl_queue_insert_head(&cache->lru, &cn->queue);
    cache->n++;
    return cn;
}

/*
 * The object rq names, the caller's to free (a cached one with a
 * reference of its own). NULL with rq->err set when it cannot be loaded.
 */
static void *
sl_ssl_cache_fetch(sl_ssl_cache_t *cache, sl_ssl_cache_req_t *rq,
    time_t now, sl_uint_t invalidate)
{
    sl_ssl_cache_node_t  *cn;
    sl_uint_t             hash;
    void                 *value;

    if (cache == NULL) {
        return sl_ssl_cache_load(rq);
    }

    hash = sl_murmur_hash2(rq->name.data, rq->name.len);
    cn = sl_ssl_cache_lookup(cache, hash, rq);

    if (cn != NULL) {
        if (sl_ssl_cache_refresh(cache, cn, rq, now, invalidate, &value)
            != SL_OK)
        {
            return value;
        }

    } else {
        value = sl_ssl_cache_load(rq);

        if (value == NULL || rq->encrypted) {
            return value;
        }

        cn = sl_ssl_cache_add(cache, rq, hash, value, now);
        if (cn == NULL) {
            return value;
        }
    }

    cn->accessed = now;
    sl_queue_remove(&cn->queue);
    sl_queue_insert_head(&cache->lru, &cn->queue);

    if (cn->kind == SL_SSL_CACHE_CERT) {
        return X509_chain_up_ref(cn->value);
    }

    EVP_PKEY_up_ref(cn->value);
    return cn->value;
}

/* --- a connection -------------------------------------------------------- */

/* name made absolute against prefix (unless data:), NUL-terminated */
static sl_int_t
sl_ssl_cache_name(sl_pool_t *pool, sl_str_t *prefix, sl_str_t *name,
    sl_ssl_cache_req_t *rq)
{
    size_t   plen;
    u_char  *p;

    rq->data = name->len >= 5 && sl_strncmp(name->data, "data:", 5) == 0;
    plen = rq->data || (name->len > 0 && name->data[0] == '/')
           ? 0 : prefix->len;

    p = sl_pnalloc(pool, plen + name->len + 1);
    if (p == NULL) {
        return SL_ERROR;
    }

    rq->name.data = p;
    rq->name.len = plen + name->len;
    p = sl_cpymem(p, prefix->data, plen);
    p = sl_cpymem(p, name->data, name->len);
    *p = '\0';
    return SL_OK;
}

static sl_int_t
sl_ssl_use_chain(sl_connection_t *c, STACK_OF(X509) *chain, sl_str_t *cert)
{
    STACK_OF(X509)  *rest;
    int              ok;

    rest = sk_X509_dup(chain);
    if (rest == NULL) {
        sk_X509_pop_free(chain, X509_free);
        return SL_ERROR;
    }

    (void) sk_X509_shift(rest);

    ok = SSL_use_certificate(c->ssl->connection, sk_X509_value(chain, 0)) == 1
         && SSL_set1_chain(c->ssl->connection, rest) == 1;

    sk_X509_free(rest);
    sk_X509_pop_free(chain, X509_free);

    if (!ok) {
        sl_ssl_error(SL_LOG_ERR, c->log, 0, "SSL_use_certificate(\"%V\") "
                     "failed", cert);
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_ssl_connection_certificate(sl_connection_t *c, sl_pool_t *pool,
    sl_ssl_cache_t *cache, sl_str_t *prefix, time_t now, sl_str_t *cert,
    sl_str_t *key, sl_array_t *passwords)
{
    sl_ssl_cache_req_t   crq, krq;
    STACK_OF(X509)      *chain;
    EVP_PKEY            *pkey;
    sl_uint_t            invalidate = 0;
    unsigned long        n;

    sl_memzero(&crq, sizeof(crq));
    sl_memzero(&krq, sizeof(krq));
    crq.kind = SL_SSL_CACHE_CERT;
    krq.kind = SL_SSL_CACHE_KEY;
    krq.passwords = passwords;

    if (sl_ssl_cache_name(pool, prefix, cert, &crq) != SL_OK
        || sl_ssl_cache_name(pool, prefix, key, &krq) != SL_OK)
    {
        return SL_ERROR;
    }

again:

    chain = sl_ssl_cache_fetch(cache, &crq, now, invalidate);
    if (chain == NULL) {
        sl_ssl_error(SL_LOG_ERR, c->log, 0, "cannot load certificate "
                     "\"%V\": %s", cert, crq.err ? crq.err : "failed");
        return SL_ERROR;
    }

    if (sl_ssl_use_chain(c, chain, cert) != SL_OK) {
        return SL_ERROR;
    }

    krq.encrypted = 0;
    pkey = sl_ssl_cache_fetch(cache, &krq, now, invalidate);
    if (pkey == NULL) {
        sl_ssl_error(SL_LOG_ERR, c->log, 0, "cannot load certificate key "
                     "\"%V\": %s", key, krq.err ? krq.err : "failed");
        return SL_ERROR;
    }

    if (SSL_use_PrivateKey(c->ssl->connection, pkey) == 1) {
        EVP_PKEY_free(pkey);
        return SL_OK;
    }

    EVP_PKEY_free(pkey);

    /* a pair caught between the updates of its two files: once more */
    n = ERR_peek_last_error();

    if (cache != NULL && !invalidate && ERR_GET_LIB(n) == ERR_LIB_X509
        && ERR_GET_REASON(n) == X509_R_KEY_VALUES_MISMATCH)
    {
        ERR_clear_error();
        invalidate = 1;
        goto again;
    }

    sl_ssl_error(SL_LOG_ERR, c->log, 0, "SSL_use_PrivateKey(\"%V\") failed",
                 key);
    return SL_ERROR;
}
