/*
 * sl_radix_tree.c -- longest-prefix lookup of addresses (sl_radix_tree.h):
 * one node per bit of a prefix, walked from the most significant bit of
 * the first byte.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_radix_tree.h"

/* bit i of a byte string, counted from the top of its first byte */
static sl_uint_t
sl_radix_bit(const u_char *p, size_t i)
{
    return (p[i >> 3] >> (7 - (i & 7))) & 1;
}

static sl_radix_node_t *
sl_radix_alloc(sl_radix_tree_t *tree)
{
    sl_radix_node_t  *node = tree->free;

    if (node != NULL) {
        tree->free = node->right;
    } else {
        node = sl_palloc(tree->pool, sizeof(sl_radix_node_t));
        if (node == NULL) {
            return NULL;
        }
    }

    node->right = NULL;
    node->left = NULL;
    node->parent = NULL;
    node->value = SL_RADIX_NO_VALUE;
    return node;
}

sl_radix_tree_t *
sl_radix_tree_create(sl_pool_t *pool)
{
    sl_radix_tree_t  *tree;

    tree = sl_palloc(pool, sizeof(sl_radix_tree_t));
    if (tree == NULL) {
        return NULL;
    }

    tree->pool = pool;
    tree->free = NULL;
    tree->root = sl_radix_alloc(tree);

    return tree->root != NULL ? tree : NULL;
}

/*
 * The deepest node on the path of the prefix (key, mask) that exists;
 * *depth says how many of the prefix's bits it stands for.
 */
static sl_radix_node_t *
sl_radix_walk(sl_radix_tree_t *tree, const u_char *key, const u_char *mask,
    size_t len, size_t *depth)
{
    sl_radix_node_t  *node = tree->root, *next;
    size_t            i;

    for (i = 0; i < len * 8 && sl_radix_bit(mask, i); i++) {
        next = sl_radix_bit(key, i) ? node->right : node->left;
        if (next == NULL) {
            break;
        }
        node = next;
    }

    *depth = i;
    return node;
}

sl_int_t
sl_radix_tree_insert(sl_radix_tree_t *tree, const u_char *key,
    const u_char *mask, size_t len, uintptr_t value)
{
    sl_radix_node_t  *node, *next;
    size_t            i;

    node = sl_radix_walk(tree, key, mask, len, &i);

    /* the nodes the prefix still lacks */
    for ( /* void */ ; i < len * 8 && sl_radix_bit(mask, i); i++) {
        next = sl_radix_alloc(tree);
        if (next == NULL) {
            return SL_ERROR;
        }

        next->parent = node;

        if (sl_radix_bit(key, i)) {
            node->right = next;
        } else {
            node->left = next;
        }

        node = next;
    }

    if (node->value != SL_RADIX_NO_VALUE) {
        return SL_BUSY;
    }

    node->value = value;
    return SL_OK;
}

sl_int_t
sl_radix_tree_delete(sl_radix_tree_t *tree, const u_char *key,
    const u_char *mask, size_t len)
{
    sl_radix_node_t  *node, *parent;
    size_t            i;

    node = sl_radix_walk(tree, key, mask, len, &i);

    if ((i < len * 8 && sl_radix_bit(mask, i))
        || node->value == SL_RADIX_NO_VALUE)
    {
        return SL_ERROR;            /* no such prefix, or no value there */
    }

    node->value = SL_RADIX_NO_VALUE;

    /* a leaf with no value is of no use: up to the first that is */
    while (node != tree->root && node->left == NULL && node->right == NULL
           && node->value == SL_RADIX_NO_VALUE)
    {
        parent = node->parent;

        if (parent->right == node) {
            parent->right = NULL;
        } else {
            parent->left = NULL;
        }

        node->right = tree->free;
        tree->free = node;
        node = parent;
    }

    return SL_OK;
}

uintptr_t
sl_radix_tree_find(sl_radix_tree_t *tree, const u_char *key, size_t len)
{
    sl_radix_node_t  *node = tree->root;
    uintptr_t         value = SL_RADIX_NO_VALUE;
    size_t            i;

    for (i = 0; node != NULL; i++) {
        if (node->value != SL_RADIX_NO_VALUE) {
            value = node->value;
        }

        if (i == len * 8) {
            break;
        }

        node = sl_radix_bit(key, i) ? node->right : node->left;
    }

    return value;
}
