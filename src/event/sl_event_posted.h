/*
 * sl_event_posted.h -- posted events: handlers to run after the back end's
 * batch, rather than from inside it. Accept events run first, so that a
 * freshly accepted connection's events are not run before it exists;
 * "next" events wait for the next iteration (a read that yielded so that
 * other connections get their turn).
 */
#ifndef SL_EVENT_POSTED_H
#define SL_EVENT_POSTED_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

static inline void
sl_post_event(sl_event_t *ev, sl_queue_t *q)
{
    if (!ev->posted) {
        ev->posted = 1;
        sl_queue_insert_tail(q, &ev->queue);
    }
}

static inline void
sl_delete_posted_event(sl_event_t *ev)
{
    ev->posted = 0;
    sl_queue_remove(&ev->queue);
}

/*
 * What a back end does with an event it found ready: run its handler now,
 * or post it when flags ask for SL_POST_EVENTS. An event already posted
 * (a "next" event, say) runs once, from its queue.
 */
static inline void
sl_event_dispatch(sl_event_loop_t *loop, sl_event_t *ev, sl_uint_t flags)
{
    if (ev->posted) {
        return;
    }

    if (flags & SL_POST_EVENTS) {
        sl_post_event(ev, ev->accept ? &loop->posted_accept_events
                                     : &loop->posted_events);
        return;
    }

    ev->handler(ev);
}

/* runs and empties the queue; handlers may post more, which run too */
void sl_event_process_posted(sl_event_loop_t *loop, sl_queue_t *posted);
/* moves the "next" events onto the posted queue, ready flags set */
void sl_event_move_posted_next(sl_event_loop_t *loop);

#endif /* SL_EVENT_POSTED_H */
