/*
 * sl_hash.c -- immutable open-addressing hash tables and the combined
 * server-name table.
 *
 * A leading wildcard "*.example.com" is kept as "example.com" in a table
 * keyed by FNV-1a run from the last byte to the first: walking a name
 * backwards then yields the key of every suffix in one pass. A trailing
 * wildcard "www.example.*" is kept as "www.example"; FNV-1a run forwards
 * yields the key of every prefix the same way. So a lookup hashes each
 * byte at most once per table and never allocates.
 */
#include "sl_config.h"
#include "sl_core.h"


#if (UINTPTR_MAX > 0xffffffffu)
#define SL_FNV_BASIS     ((sl_uint_t) 0xcbf29ce484222325u)
#define SL_FNV_PRIME     ((sl_uint_t) 0x00000100000001b3u)
#define SL_HASH_GOLDEN   ((sl_uint_t) 0x9e3779b97f4a7c15u)
#else
#define SL_FNV_BASIS     ((sl_uint_t) 0x811c9dc5u)
#define SL_FNV_PRIME     ((sl_uint_t) 0x01000193u)
#define SL_HASH_GOLDEN   ((sl_uint_t) 0x9e3779b9u)
#endif

#define SL_HASH_WORD_BITS   (sizeof(sl_uint_t) * 8)
#define SL_HASH_MIN_BITS    3
#define SL_HASH_PROBE_GOAL  8     /* grow the table to get under it ... */
#define SL_HASH_MAX_GROW    3     /* ... but at most this many times */
#define SL_HASH_SEEN_BITS   12    /* buckets of the duplicate detector */

#define sl_fnv(h, c)        (((h) ^ (sl_uint_t) (c)) * SL_FNV_PRIME)

/* Fibonacci hashing spreads FNV's weak high bits over the slot index */
#define sl_hash_slot(key, shift)  (((key) * SL_HASH_GOLDEN) >> (shift))

enum {
    SL_HASH_EXACT = 0,
    SL_HASH_HEAD,           /* "*.example.com" */
    SL_HASH_DOT,            /* ".example.com": exact and head at once */
    SL_HASH_TAIL            /* "www.example.*" */
};

struct sl_hash_seen_s {
    sl_hash_seen_t  *next;
    sl_uint_t        key_hash;
    sl_uint_t        kind;
    sl_str_t         name;
};


sl_uint_t
sl_hash_key(u_char *data, size_t len)
{
    sl_uint_t  h;

    for (h = SL_FNV_BASIS; len; len--) {
        h = sl_fnv(h, *data++);
    }

    return h;
}


sl_uint_t
sl_hash_key_lc(u_char *data, size_t len)
{
    sl_uint_t  h;

    for (h = SL_FNV_BASIS; len; len--, data++) {
        h = sl_fnv(h, sl_tolower(*data));
    }

    return h;
}


sl_uint_t
sl_hash_strlow(u_char *dst, u_char *src, size_t n)
{
    sl_uint_t  h;

    for (h = SL_FNV_BASIS; n; n--, src++) {
        *dst = sl_tolower(*src);
        h = sl_fnv(h, *dst++);
    }

    return h;
}


/* the key of the lower-case name read from its last byte to its first */
static sl_uint_t
sl_hash_key_rev(u_char *data, size_t len)
{
    sl_uint_t  h;

    for (h = SL_FNV_BASIS; len; len--) {
        h = sl_fnv(h, data[len - 1]);
    }

    return h;
}


/*
 * Places every name into table (1 << bits zeroed slots holding a name's
 * index + 1) and returns the longest probe. A repeated name is skipped.
 */
static sl_uint_t
sl_hash_place(uint32_t *table, sl_uint_t bits, sl_hash_key_t *names,
    sl_uint_t nelts, sl_uint_t *placed)
{
    sl_uint_t       k, i, probe, longest, mask;
    sl_hash_key_t  *other;

    mask = ((sl_uint_t) 1 << bits) - 1;
    longest = 0;
    *placed = 0;

    for (k = 0; k < nelts; k++) {
        i = sl_hash_slot(names[k].key_hash, SL_HASH_WORD_BITS - bits);

        for (probe = 0; table[i]; probe++, i = (i + 1) & mask) {
            other = &names[table[i] - 1];

            if (other->key_hash == names[k].key_hash
                && sl_str_caseeq(&other->key, &names[k].key))
            {
                break;
            }
        }

        if (table[i]) {
            continue;           /* the first of equal names wins */
        }

        table[i] = (uint32_t) k + 1;
        longest = sl_max(longest, probe);
        (*placed)++;
    }

    return longest;
}


/* copies the placed names into the pool as the final slots */
static sl_int_t
sl_hash_fill(sl_hash_t *hash, uint32_t *table, sl_hash_key_t *names,
    sl_uint_t size, sl_pool_t *pool)
{
    sl_uint_t       i;
    size_t          total;
    u_char         *p;
    sl_hash_key_t  *name;
    sl_hash_elt_t  *elt;

    total = 0;

    for (i = 0; i < size; i++) {
        total += table[i] ? names[table[i] - 1].key.len + 1 : 0;
    }

    hash->slots = sl_pcalloc(pool, size * sizeof(sl_hash_elt_t));
    p = sl_pnalloc(pool, total);

    if (hash->slots == NULL || p == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < size; i++) {
        if (table[i] == 0) {
            continue;
        }

        name = &names[table[i] - 1];
        elt = &hash->slots[i];

        elt->key_hash = name->key_hash;
        elt->value = name->value;
        elt->name = p;
        elt->len = name->key.len;

        sl_strlow(p, name->key.data, name->key.len);
        p += name->key.len;
        *p++ = '\0';
    }

    return SL_OK;
}


sl_int_t
sl_hash_init(sl_hash_t *hash, sl_hash_key_t *names, sl_uint_t nelts,
    sl_pool_t *pool)
{
    sl_uint_t   bits, grow, longest, placed;
    sl_int_t    rc;
    uint32_t   *table;

    sl_memzero(hash, sizeof(sl_hash_t));

    if (nelts == 0) {
        return SL_OK;
    }

    for (bits = SL_HASH_MIN_BITS;
         ((sl_uint_t) 1 << bits) < 2 * nelts;
         bits++)
    {
        /* void: at most half full */
    }

    /* try sparser tables until the longest probe is short enough */
    for (grow = 0; ; grow++, bits++) {
        table = sl_calloc(((size_t) 1 << bits) * sizeof(uint32_t), pool->log);
        if (table == NULL) {
            return SL_ERROR;
        }

        longest = sl_hash_place(table, bits, names, nelts, &placed);

        if (longest <= SL_HASH_PROBE_GOAL || grow == SL_HASH_MAX_GROW) {
            break;
        }

        sl_free(table);
    }

    rc = sl_hash_fill(hash, table, names, (sl_uint_t) 1 << bits, pool);
    sl_free(table);

    if (rc != SL_OK) {
        return SL_ERROR;
    }

    hash->shift = SL_HASH_WORD_BITS - bits;
    hash->mask = ((sl_uint_t) 1 << bits) - 1;
    hash->max_probe = longest;
    hash->nelts = placed;

    return SL_OK;
}


void *
sl_hash_find(sl_hash_t *hash, sl_uint_t key, u_char *name, size_t len)
{
    sl_uint_t       i, n;
    sl_hash_elt_t  *elt;

    if (hash->nelts == 0) {
        return NULL;
    }

    i = sl_hash_slot(key, hash->shift);

    for (n = 0; n <= hash->max_probe; n++) {
        elt = &hash->slots[i];

        if (elt->name == NULL) {
            return NULL;
        }

        if (elt->key_hash == key
            && elt->len == len
            && (len == 0 || sl_memcmp(elt->name, name, len) == 0))
        {
            return elt->value;
        }

        i = (i + 1) & hash->mask;
    }

    return NULL;
}


sl_int_t
sl_hash_keys_init(sl_hash_keys_t *ha, sl_pool_t *pool, sl_pool_t *temp_pool)
{
    size_t  size;

    ha->pool = pool;
    ha->temp_pool = temp_pool;

    if (sl_array_init(&ha->keys, pool, 16, sizeof(sl_hash_key_t)) != SL_OK
        || sl_array_init(&ha->wc_head, pool, 4, sizeof(sl_hash_key_t))
           != SL_OK
        || sl_array_init(&ha->wc_tail, pool, 4, sizeof(sl_hash_key_t))
           != SL_OK)
    {
        return SL_ERROR;
    }

    size = (size_t) 1 << SL_HASH_SEEN_BITS;

    ha->seen = sl_pcalloc(temp_pool, size * sizeof(sl_hash_seen_t *));
    if (ha->seen == NULL) {
        return SL_ERROR;
    }

    ha->seen_mask = size - 1;

    return SL_OK;
}


/*
 * Splits a key into its kind and the plain name it stands for. What
 * remains after the wildcard must hold no '*' and, for a wildcard, must
 * neither start nor end with a dot. SL_DECLINED when malformed.
 */
static sl_int_t
sl_hash_classify(sl_str_t *key, sl_str_t *name)
{
    u_char    *p;
    size_t     len;
    sl_int_t   kind;

    p = key->data;
    len = key->len;

    *name = *key;
    kind = SL_HASH_EXACT;

    if (len >= 2 && p[0] == '*' && p[1] == '.') {
        kind = SL_HASH_HEAD;
        name->data = p + 2;
        name->len = len - 2;

    } else if (len >= 1 && p[0] == '.') {
        kind = SL_HASH_DOT;
        name->data = p + 1;
        name->len = len - 1;

    } else if (len >= 2 && p[len - 1] == '*' && p[len - 2] == '.') {
        kind = SL_HASH_TAIL;
        name->len = len - 2;
    }

    if (name->len && memchr(name->data, '*', name->len) != NULL) {
        return SL_DECLINED;
    }

    if (kind == SL_HASH_EXACT) {
        return kind;
    }

    if (name->len == 0
        || name->data[0] == '.'
        || name->data[name->len - 1] == '.')
    {
        return SL_DECLINED;
    }

    return kind;
}


static sl_hash_seen_t *
sl_hash_seen_find(sl_hash_keys_t *ha, sl_uint_t kind, sl_uint_t key,
    sl_str_t *name)
{
    sl_hash_seen_t  *s;

    for (s = ha->seen[key & ha->seen_mask]; s; s = s->next) {
        if (s->key_hash == key && s->kind == kind && sl_str_eq(&s->name, name))
        {
            return s;
        }
    }

    return NULL;
}


static sl_int_t
sl_hash_seen_add(sl_hash_keys_t *ha, sl_uint_t kind, sl_uint_t key,
    sl_str_t *name)
{
    sl_hash_seen_t  *s, **bucket;

    s = sl_palloc(ha->temp_pool, sizeof(sl_hash_seen_t));
    if (s == NULL) {
        return SL_ERROR;
    }

    bucket = &ha->seen[key & ha->seen_mask];

    s->key_hash = key;
    s->kind = kind;
    s->name = *name;
    s->next = *bucket;
    *bucket = s;

    return SL_OK;
}


/* records name in the table of its kind */
static sl_int_t
sl_hash_push(sl_hash_keys_t *ha, sl_uint_t kind, sl_uint_t key,
    sl_str_t *name, void *value)
{
    sl_array_t     *a;
    sl_hash_key_t  *k;

    a = kind == SL_HASH_EXACT ? &ha->keys
      : kind == SL_HASH_HEAD ? &ha->wc_head : &ha->wc_tail;

    k = sl_array_push(a);
    if (k == NULL) {
        return SL_ERROR;
    }

    k->key = *name;
    k->value = value;
    k->key_hash = kind == SL_HASH_HEAD ? sl_hash_key_rev(name->data, name->len)
                                       : key;

    return sl_hash_seen_add(ha, kind, key, name);
}


sl_int_t
sl_hash_add_key(sl_hash_keys_t *ha, sl_str_t *key, void *value,
    sl_uint_t flags)
{
    sl_int_t    kind;
    sl_uint_t   h;
    sl_str_t    name, lc;

    if (flags & SL_HASH_LITERAL_KEY) {
        kind = SL_HASH_EXACT;
        name = *key;

    } else {
        kind = sl_hash_classify(key, &name);
    }

    if (kind == SL_DECLINED) {
        return SL_DECLINED;
    }

    if (kind != SL_HASH_EXACT && !(flags & SL_HASH_WILDCARD_KEY)) {
        return SL_DECLINED;
    }

    lc.len = name.len;
    lc.data = sl_pnalloc(ha->pool, name.len + 1);
    if (lc.data == NULL) {
        return SL_ERROR;
    }

    h = sl_hash_strlow(lc.data, name.data, name.len);
    lc.data[lc.len] = '\0';

    if (kind != SL_HASH_DOT) {
        if (sl_hash_seen_find(ha, kind, h, &lc)) {
            return SL_BUSY;
        }

        return sl_hash_push(ha, kind, h, &lc, value);
    }

    /* ".example.com" is "example.com" and "*.example.com" together */
    if (sl_hash_seen_find(ha, SL_HASH_EXACT, h, &lc)
        || sl_hash_seen_find(ha, SL_HASH_HEAD, h, &lc))
    {
        return SL_BUSY;
    }

    if (sl_hash_push(ha, SL_HASH_EXACT, h, &lc, value) != SL_OK) {
        return SL_ERROR;
    }

    return sl_hash_push(ha, SL_HASH_HEAD, h, &lc, value);
}


sl_int_t
sl_hash_check_sizes(sl_hash_keys_t *ha, sl_log_t *log, const char *name,
    sl_uint_t max_size, sl_uint_t bucket_size)
{
    if (ha->keys.nelts + ha->wc_head.nelts + ha->wc_tail.nelts == 0) {
        return SL_OK;
    }

    return sl_hash_check_key_sizes(ha->keys.elts, ha->keys.nelts, log, name,
                                   max_size, bucket_size);
}

sl_int_t
sl_hash_check_key_sizes(sl_hash_key_t *keys, sl_uint_t n, sl_log_t *log,
    const char *name, sl_uint_t max_size, sl_uint_t bucket_size)
{
    sl_uint_t  i;
    size_t     elt;

    if (max_size == 0) {
        sl_log_error(SL_LOG_EMERG, log, 0, "could not build %s, you should "
                     "increase %s_max_size: %ui", name, name, max_size);
        return SL_ERROR;
    }

    if (bucket_size > 65536 - SL_HASH_CACHELINE) {
        sl_log_error(SL_LOG_EMERG, log, 0, "could not build %s, too large "
                     "%s_bucket_size: %ui", name, name, bucket_size);
        return SL_ERROR;
    }

    for (i = 0; i < n; i++) {
        elt = sizeof(void *) + sl_align(keys[i].key.len + 2, sizeof(void *));

        if (bucket_size < elt + sizeof(void *)) {
            sl_log_error(SL_LOG_EMERG, log, 0, "could not build %s, you "
                         "should increase %s_bucket_size: %ui", name, name,
                         bucket_size);
            return SL_ERROR;
        }
    }

    return SL_OK;
}

sl_int_t
sl_hash_combined_init(sl_hash_combined_t *h, sl_hash_keys_t *ha,
    sl_pool_t *pool)
{
    if (sl_hash_init(&h->exact, ha->keys.elts, ha->keys.nelts, pool)
        != SL_OK)
    {
        return SL_ERROR;
    }

    if (sl_hash_init(&h->wc_head, ha->wc_head.elts, ha->wc_head.nelts, pool)
        != SL_OK)
    {
        return SL_ERROR;
    }

    return sl_hash_init(&h->wc_tail, ha->wc_tail.elts, ha->wc_tail.nelts,
                        pool);
}


/* the longest suffix after a dot (with a label before it) that is known */
static void *
sl_hash_find_head(sl_hash_t *head, u_char *name, size_t len)
{
    size_t      i;
    sl_uint_t   key;
    void       *found, *value;

    found = NULL;
    key = SL_FNV_BASIS;

    /* walking backwards makes each suffix longer than the one before */
    for (i = len; i-- > 1; ) {
        if (name[i] == '.' && i + 1 < len) {
            value = sl_hash_find(head, key, name + i + 1, len - i - 1);
            found = value ? value : found;
        }

        key = sl_fnv(key, name[i]);
    }

    return found;
}


/* the longest prefix before a dot (with a label after it) that is known */
static void *
sl_hash_find_tail(sl_hash_t *tail, u_char *name, size_t len)
{
    size_t      i;
    sl_uint_t   key;
    void       *found, *value;

    found = NULL;
    key = SL_FNV_BASIS;

    for (i = 0; i + 1 < len; i++) {
        if (name[i] == '.' && i > 0) {
            value = sl_hash_find(tail, key, name, i);
            found = value ? value : found;
        }

        key = sl_fnv(key, name[i]);
    }

    return found;
}


void *
sl_hash_find_combined(sl_hash_combined_t *h, sl_uint_t key, u_char *name,
    size_t len)
{
    void  *value;

    value = sl_hash_find(&h->exact, key, name, len);
    if (value != NULL) {
        return value;
    }

    if (h->wc_head.nelts) {
        value = sl_hash_find_head(&h->wc_head, name, len);
        if (value != NULL) {
            return value;
        }
    }

    if (h->wc_tail.nelts) {
        return sl_hash_find_tail(&h->wc_tail, name, len);
    }

    return NULL;
}
