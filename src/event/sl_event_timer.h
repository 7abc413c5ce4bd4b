/*
 * sl_event_timer.h -- timers: events in a red-black tree keyed by their
 * absolute deadline on the loop's millisecond clock.
 */
#ifndef SL_EVENT_TIMER_H
#define SL_EVENT_TIMER_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

/*
 * A timer re-armed to within this many ms of its current deadline is left
 * alone, so it may fire up to that much early or late: idle timeouts are
 * re-armed on every read, and moving a node in the tree each time costs
 * more than an idle timeout 300 ms off.
 */
#define SL_TIMER_LAZY_DELAY  300

void sl_event_timer_init(sl_event_loop_t *loop);
/* ms until the nearest deadline (0 if one passed), or SL_TIMER_INFINITE */
sl_msec_t sl_event_find_timer(sl_event_loop_t *loop);
/* runs the handlers of the expired timers, timedout set, oldest first */
void sl_event_expire_timers(sl_event_loop_t *loop);
/* true when only cancelable timers are left (for a graceful exit) */
sl_uint_t sl_event_no_timers_left(sl_event_loop_t *loop);

static inline void
sl_del_timer(sl_event_t *ev)
{
    sl_rbtree_delete(&ev->loop->timers, &ev->timer);
    ev->timer_set = 0;
}

static inline void
sl_add_timer(sl_event_t *ev, sl_msec_t timer)
{
    sl_msec_t      key;
    sl_msec_int_t  diff;

    key = sl_current_msec(ev->loop) + timer;

    if (ev->timer_set) {
        diff = (sl_msec_int_t) (key - ev->timer.key);

        if (diff > -SL_TIMER_LAZY_DELAY && diff < SL_TIMER_LAZY_DELAY) {
            return;
        }

        sl_del_timer(ev);
    }

    ev->timer.key = key;
    sl_rbtree_insert(&ev->loop->timers, &ev->timer);
    ev->timer_set = 1;
}

#endif /* SL_EVENT_TIMER_H */
