/*
 * sl_rbtree.c -- intrusive red-black tree.
 *
 * Every leaf is the tree's sentinel, a black node shared by all leaves, so
 * the balancing code never tests for NULL children. The root's parent is
 * NULL. Deletion may write the sentinel's parent pointer; nothing else in
 * the sentinel changes.
 */
#include "sl_config.h"
#include "sl_core.h"


static void sl_rbtree_insert_fixup(sl_rbtree_node_t **root,
    sl_rbtree_node_t *sentinel, sl_rbtree_node_t *node);
static void sl_rbtree_delete_fixup(sl_rbtree_node_t **root,
    sl_rbtree_node_t *sentinel, sl_rbtree_node_t *x);
static void sl_rbtree_replace(sl_rbtree_node_t **root,
    sl_rbtree_node_t *old, sl_rbtree_node_t *node);
static void sl_rbtree_left_rotate(sl_rbtree_node_t **root,
    sl_rbtree_node_t *sentinel, sl_rbtree_node_t *node);
static void sl_rbtree_right_rotate(sl_rbtree_node_t **root,
    sl_rbtree_node_t *sentinel, sl_rbtree_node_t *node);


void
sl_rbtree_insert(sl_rbtree_t *tree, sl_rbtree_node_t *node)
{
    sl_rbtree_node_t  *sentinel;

    sentinel = tree->sentinel;

    if (tree->root == sentinel) {
        node->parent = NULL;
        node->left = sentinel;
        node->right = sentinel;
        sl_rbt_black(node);
        tree->root = node;
        return;
    }

    /* the insert function links node in as a red leaf */
    tree->insert(tree->root, node, sentinel);

    sl_rbtree_insert_fixup(&tree->root, sentinel, node);
}


void
sl_rbtree_insert_value(sl_rbtree_node_t *root, sl_rbtree_node_t *node,
    sl_rbtree_node_t *sentinel)
{
    sl_rbtree_node_t  *temp, **p;

    temp = root;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

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


void
sl_rbtree_insert_timer_value(sl_rbtree_node_t *root, sl_rbtree_node_t *node,
    sl_rbtree_node_t *sentinel)
{
    sl_rbtree_node_t  *temp, **p;

    temp = root;

    for ( ;; ) {
        /*
         * Deadlines are compared by their signed distance, so a key that
         * wrapped past UINTPTR_MAX still sorts after the ones before it,
         * as long as all live timers are within half the key range.
         */
        p = ((sl_rbtree_key_int_t) (node->key - temp->key) < 0)
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


void
sl_rbtree_delete(sl_rbtree_t *tree, sl_rbtree_node_t *node)
{
    u_char             removed_red;
    sl_rbtree_node_t  *sentinel, *y, *x, **root;

    root = &tree->root;
    sentinel = tree->sentinel;

    /*
     * y is the node that leaves its place: node itself when it has at
     * most one child, else its successor, which has no left child.
     * x is y's only (possibly sentinel) child and takes y's place.
     */
    if (node->left == sentinel) {
        y = node;
        x = node->right;

    } else if (node->right == sentinel) {
        y = node;
        x = node->left;

    } else {
        y = sl_rbtree_min(node->right, sentinel);
        x = y->right;
    }

    removed_red = sl_rbt_is_red(y);

    /* x->parent is set even for the sentinel: the fixup walks up from it */
    x->parent = (y->parent == node) ? y : y->parent;
    sl_rbtree_replace(root, y, x);

    if (y != node) {
        /* the successor takes node's place, links and color */
        y->left = node->left;
        y->right = node->right;
        y->parent = node->parent;
        sl_rbt_copy_color(y, node);

        sl_rbtree_replace(root, node, y);

        if (y->left != sentinel) {
            y->left->parent = y;
        }

        if (y->right != sentinel) {
            y->right->parent = y;
        }
    }

    /* a stale node is easier to spot when it points nowhere */
    node->left = NULL;
    node->right = NULL;
    node->parent = NULL;

    if (!removed_red) {
        sl_rbtree_delete_fixup(root, sentinel, x);
    }
}


sl_rbtree_node_t *
sl_rbtree_next(sl_rbtree_t *tree, sl_rbtree_node_t *node)
{
    sl_rbtree_node_t  *sentinel, *parent;

    sentinel = tree->sentinel;

    if (node->right != sentinel) {
        return sl_rbtree_min(node->right, sentinel);
    }

    /* up until we arrive from a left child; from the root there is none */
    for (parent = node->parent; parent != NULL; parent = parent->parent) {
        if (node == parent->left) {
            return parent;
        }

        node = parent;
    }

    return NULL;
}


/* node is a red leaf; restores "no red node has a red parent" */
static void
sl_rbtree_insert_fixup(sl_rbtree_node_t **root, sl_rbtree_node_t *sentinel,
    sl_rbtree_node_t *node)
{
    sl_rbtree_node_t  *parent, *grand, *uncle;

    while (node != *root && sl_rbt_is_red(node->parent)) {
        parent = node->parent;
        grand = parent->parent;   /* exists: a red parent is not the root */

        if (parent == grand->left) {
            uncle = grand->right;

            if (sl_rbt_is_red(uncle)) {
                sl_rbt_black(parent);
                sl_rbt_black(uncle);
                sl_rbt_red(grand);
                node = grand;
                continue;
            }

            if (node == parent->right) {
                node = parent;
                sl_rbtree_left_rotate(root, sentinel, node);
                parent = node->parent;
            }

            sl_rbt_black(parent);
            sl_rbt_red(grand);
            sl_rbtree_right_rotate(root, sentinel, grand);

        } else {
            uncle = grand->left;

            if (sl_rbt_is_red(uncle)) {
                sl_rbt_black(parent);
                sl_rbt_black(uncle);
                sl_rbt_red(grand);
                node = grand;
                continue;
            }

            if (node == parent->left) {
                node = parent;
                sl_rbtree_right_rotate(root, sentinel, node);
                parent = node->parent;
            }

            sl_rbt_black(parent);
            sl_rbt_red(grand);
            sl_rbtree_left_rotate(root, sentinel, grand);
        }
    }

    sl_rbt_black(*root);
}


/*
 * A black node was removed above x, so paths through x are one black
 * short. Push the deficit up, or fix it with rotations and recoloring.
 */
static void
sl_rbtree_delete_fixup(sl_rbtree_node_t **root, sl_rbtree_node_t *sentinel,
    sl_rbtree_node_t *x)
{
    sl_rbtree_node_t  *w;

    while (x != *root && sl_rbt_is_black(x)) {

        if (x == x->parent->left) {
            w = x->parent->right;

            if (sl_rbt_is_red(w)) {
                sl_rbt_black(w);
                sl_rbt_red(x->parent);
                sl_rbtree_left_rotate(root, sentinel, x->parent);
                w = x->parent->right;
            }

            if (sl_rbt_is_black(w->left) && sl_rbt_is_black(w->right)) {
                sl_rbt_red(w);
                x = x->parent;
                continue;
            }

            if (sl_rbt_is_black(w->right)) {
                sl_rbt_black(w->left);
                sl_rbt_red(w);
                sl_rbtree_right_rotate(root, sentinel, w);
                w = x->parent->right;
            }

            sl_rbt_copy_color(w, x->parent);
            sl_rbt_black(x->parent);
            sl_rbt_black(w->right);
            sl_rbtree_left_rotate(root, sentinel, x->parent);
            x = *root;

        } else {
            w = x->parent->left;

            if (sl_rbt_is_red(w)) {
                sl_rbt_black(w);
                sl_rbt_red(x->parent);
                sl_rbtree_right_rotate(root, sentinel, x->parent);
                w = x->parent->left;
            }

            if (sl_rbt_is_black(w->left) && sl_rbt_is_black(w->right)) {
                sl_rbt_red(w);
                x = x->parent;
                continue;
            }

            if (sl_rbt_is_black(w->left)) {
                sl_rbt_black(w->right);
                sl_rbt_red(w);
                sl_rbtree_left_rotate(root, sentinel, w);
                w = x->parent->left;
            }

            sl_rbt_copy_color(w, x->parent);
            sl_rbt_black(x->parent);
            sl_rbt_black(w->left);
            sl_rbtree_right_rotate(root, sentinel, x->parent);
            x = *root;
        }
    }

    sl_rbt_black(x);
}


/* puts node where old hangs: under old's parent, or at the root */
static void
sl_rbtree_replace(sl_rbtree_node_t **root, sl_rbtree_node_t *old,
    sl_rbtree_node_t *node)
{
    if (old->parent == NULL) {
        *root = node;
        node->parent = NULL;

    } else if (old == old->parent->left) {
        old->parent->left = node;

    } else {
        old->parent->right = node;
    }
}


static void
sl_rbtree_left_rotate(sl_rbtree_node_t **root, sl_rbtree_node_t *sentinel,
    sl_rbtree_node_t *node)
{
    sl_rbtree_node_t  *temp;

    temp = node->right;
    node->right = temp->left;

    if (temp->left != sentinel) {
        temp->left->parent = node;
    }

    temp->parent = node->parent;
    sl_rbtree_replace(root, node, temp);

    temp->left = node;
    node->parent = temp;
}


static void
sl_rbtree_right_rotate(sl_rbtree_node_t **root, sl_rbtree_node_t *sentinel,
    sl_rbtree_node_t *node)
{
    sl_rbtree_node_t  *temp;

    temp = node->left;
    node->left = temp->right;

    if (temp->right != sentinel) {
        temp->right->parent = node;
    }

    temp->parent = node->parent;
    sl_rbtree_replace(root, node, temp);

    temp->right = node;
    node->parent = temp;
}
