/*
 * sl_hash.h -- immutable hash tables built once (at configuration time)
 * and then only read, plus a combined table for server names with
 * wildcards.
 *
 * Keys are compared as lower-case bytes. The key hash is FNV-1a over the
 * lower-case name: sl_hash_key_lc(name) == sl_hash_key(lower-case name).
 */
#ifndef SL_HASH_H
#define SL_HASH_H

#include "sl_config.h"
#include "sl_string.h"
#include "sl_palloc.h"
#include "sl_array.h"

#define SL_HASH_WILDCARD_KEY  1     /* sl_hash_add_key(): may be a wildcard */
#define SL_HASH_LITERAL_KEY   2     /* an exact name, even "*.x" or "x.*" */

sl_uint_t sl_hash_key(u_char *data, size_t len);
sl_uint_t sl_hash_key_lc(u_char *data, size_t len);
/* copies n bytes lower-cased into dst; returns their key */
sl_uint_t sl_hash_strlow(u_char *dst, u_char *src, size_t n);


typedef struct {
    sl_str_t     key;
    sl_uint_t    key_hash;          /* sl_hash_key_lc(key.data, key.len) */
    void        *value;
} sl_hash_key_t;

typedef struct {
    sl_uint_t    key_hash;
    void        *value;
    u_char      *name;              /* lower-case; NULL for a free slot */
    size_t       len;
} sl_hash_elt_t;

/*
 * Open addressing with linear probing, at most half full. The build
 * records the longest probe any key needs, so a lookup of an absent key
 * also stops after at most max_probe + 1 slots.
 */
typedef struct {
    sl_hash_elt_t  *slots;
    sl_uint_t       shift;          /* slot = (key * golden) >> shift */
    sl_uint_t       mask;
    sl_uint_t       max_probe;
    sl_uint_t       nelts;
} sl_hash_t;

/*
 * Builds the table from nelts keys (their key_hash filled in), copying
 * the names lower-cased into the pool. When a name repeats, the first
 * one wins. SL_OK or SL_ERROR (no memory).
 */
sl_int_t sl_hash_init(sl_hash_t *hash, sl_hash_key_t *names, sl_uint_t nelts,
    sl_pool_t *pool);
/* name is lower-case and key its sl_hash_key(); NULL when absent */
void *sl_hash_find(sl_hash_t *hash, sl_uint_t key, u_char *name, size_t len);


/*
 * Server names: "example.com" (exact), "*.example.com" (at least one
 * more label in front), ".example.com" (the name itself and every
 * subdomain) and "www.example.*" (at least one more label behind).
 * A lookup tries the exact names, then the longest matching leading
 * wildcard, then the longest matching trailing one.
 */

typedef struct sl_hash_seen_s  sl_hash_seen_t;

/* the builder; everything in it lives in the pools given to init */
typedef struct {
    sl_pool_t        *pool;         /* the names and the final tables */
    sl_pool_t        *temp_pool;    /* duplicate detection */

    sl_array_t        keys;         /* exact names */
    sl_array_t        wc_head;      /* "*.example.com" as "example.com" */
    sl_array_t        wc_tail;      /* "www.example.*" as "www.example" */

    sl_hash_seen_t  **seen;         /* every name added, for SL_BUSY */
    sl_uint_t         seen_mask;
} sl_hash_keys_t;

typedef struct {
    sl_hash_t         exact;
    sl_hash_t         wc_head;      /* keyed by a hash of the reversed name */
    sl_hash_t         wc_tail;
} sl_hash_combined_t;

sl_int_t sl_hash_keys_init(sl_hash_keys_t *ha, sl_pool_t *pool,
    sl_pool_t *temp_pool);
/*
 * Adds a name, case-insensitively. SL_OK; SL_BUSY when the same name or
 * wildcard is already there (".example.com" counts as both
 * "example.com" and "*.example.com"); SL_DECLINED for a malformed
 * wildcard or any wildcard without SL_HASH_WILDCARD_KEY; SL_ERROR when
 * out of memory. With SL_HASH_LITERAL_KEY every name is exact, as
 * written (map{} without "hostnames").
 */
sl_int_t sl_hash_add_key(sl_hash_keys_t *ha, sl_str_t *key, void *value,
    sl_uint_t flags);
/* nginx's cache line: what its NAME_bucket_size values are rounded up to */
#define SL_HASH_CACHELINE  64

/*
 * nginx's NAME_max_size and NAME_bucket_size, checked as nginx's hash
 * builder checks them and in its words, though the tables here size
 * themselves: a max_size of 0, a bucket over 64k less a cache line, and
 * an exact key that, with its length and a pointer, does not fit in one
 * bucket are errors (logged at emerg, without a file and line, as nginx
 * builds its tables after the configuration is read). Nothing is checked
 * when ha has no key. SL_OK or SL_ERROR. nginx's warning "could not build
 * optimal NAME" depends on its own hash function: not given.
 */
sl_int_t sl_hash_check_sizes(sl_hash_keys_t *ha, sl_log_t *log,
    const char *name, sl_uint_t max_size, sl_uint_t bucket_size);
/* the same for the n exact keys of a plain table (sl_hash_init()) */
sl_int_t sl_hash_check_key_sizes(sl_hash_key_t *keys, sl_uint_t n,
    sl_log_t *log, const char *name, sl_uint_t max_size,
    sl_uint_t bucket_size);
/* the tables go to pool; the builder may be dropped afterwards */
sl_int_t sl_hash_combined_init(sl_hash_combined_t *h, sl_hash_keys_t *ha,
    sl_pool_t *pool);
/* name is lower-case and key its sl_hash_key(); never allocates */
void *sl_hash_find_combined(sl_hash_combined_t *h, sl_uint_t key,
    u_char *name, size_t len);

#endif /* SL_HASH_H */
