/*
 * sl_radix_tree.h -- a binary radix tree of network prefixes: keys are
 * addresses as bytes in network order (4 for IPv4, 16 for IPv6), each
 * inserted with a prefix mask; a lookup gives the value of the longest
 * prefix that holds the address, as nginx's radix trees do for geo.
 *
 * Nodes come from the tree's pool; deleted ones are kept for reuse, never
 * freed one by one. Not for the hot path's writers: built while the
 * configuration is read, only looked up afterwards.
 */
#ifndef SL_RADIX_TREE_H
#define SL_RADIX_TREE_H

#include "sl_config.h"
#include "sl_palloc.h"

/* no value: what a lookup returns when no prefix holds the address */
#define SL_RADIX_NO_VALUE  ((uintptr_t) -1)

typedef struct sl_radix_node_s  sl_radix_node_t;

struct sl_radix_node_s {
    sl_radix_node_t   *right;       /* the next bit is 1 */
    sl_radix_node_t   *left;        /* the next bit is 0 */
    sl_radix_node_t   *parent;
    uintptr_t          value;
};

typedef struct {
    sl_radix_node_t   *root;        /* the empty prefix */
    sl_radix_node_t   *free;        /* deleted nodes, by their right */
    sl_pool_t         *pool;
} sl_radix_tree_t;

sl_radix_tree_t *sl_radix_tree_create(sl_pool_t *pool);

/*
 * Inserts the prefix of key that mask covers (mask: leading one bits;
 * both len bytes) with value. SL_OK; SL_BUSY when that prefix already has
 * a value (it is kept); SL_ERROR when no memory.
 */
sl_int_t sl_radix_tree_insert(sl_radix_tree_t *tree, const u_char *key,
    const u_char *mask, size_t len, uintptr_t value);
/* removes the prefix's value: SL_OK, or SL_ERROR when it has none */
sl_int_t sl_radix_tree_delete(sl_radix_tree_t *tree, const u_char *key,
    const u_char *mask, size_t len);
/* the value of the longest prefix holding key, or SL_RADIX_NO_VALUE */
uintptr_t sl_radix_tree_find(sl_radix_tree_t *tree, const u_char *key,
    size_t len);

#endif /* SL_RADIX_TREE_H */
