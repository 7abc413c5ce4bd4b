/*
 * sl_event_timer.c -- the timer tree.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

void
sl_event_timer_init(sl_event_loop_t *loop)
{
    sl_rbtree_init(&loop->timers, &loop->timer_sentinel,
                   sl_rbtree_insert_timer_value);
}

sl_msec_t
sl_event_find_timer(sl_event_loop_t *loop)
{
    sl_rbtree_node_t  *node;
    sl_msec_int_t      left;

    if (loop->timers.root == &loop->timer_sentinel) {
        return SL_TIMER_INFINITE;
    }

    node = sl_rbtree_min(loop->timers.root, &loop->timer_sentinel);
    left = (sl_msec_int_t) (node->key - sl_current_msec(loop));

    return left > 0 ? (sl_msec_t) left : 0;
}

void
sl_event_expire_timers(sl_event_loop_t *loop)
{
    sl_rbtree_node_t  *node, *sentinel = &loop->timer_sentinel;
    sl_event_t        *ev;

    for ( ;; ) {
        if (loop->timers.root == sentinel) {
            return;
        }

        node = sl_rbtree_min(loop->timers.root, sentinel);

        if ((sl_msec_int_t) (node->key - sl_current_msec(loop)) > 0) {
            return;
        }

        ev = sl_queue_data(node, sl_event_t, timer);

        sl_rbtree_delete(&loop->timers, &ev->timer);
        ev->timer_set = 0;
        ev->timedout = 1;
        ev->handler(ev);
    }
}

sl_uint_t
sl_event_no_timers_left(sl_event_loop_t *loop)
{
    sl_rbtree_node_t  *node, *sentinel = &loop->timer_sentinel;
    sl_event_t        *ev;

    if (loop->timers.root == sentinel) {
        return 1;
    }

    for (node = sl_rbtree_min(loop->timers.root, sentinel);
         node != NULL;
         node = sl_rbtree_next(&loop->timers, node))
    {
        ev = sl_queue_data(node, sl_event_t, timer);
        if (!ev->cancelable) {
            return 0;
        }
    }

    return 1;
}
