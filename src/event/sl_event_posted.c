/*
 * sl_event_posted.c -- running posted events.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

void
sl_event_process_posted(sl_event_loop_t *loop, sl_queue_t *posted)
{
    sl_queue_t  *q;
    sl_event_t  *ev;

    sl_unused(loop);

    while (!sl_queue_empty(posted)) {
        q = sl_queue_head(posted);
        ev = sl_queue_data(q, sl_event_t, queue);

        sl_delete_posted_event(ev);
        ev->handler(ev);
    }
}

void
sl_event_move_posted_next(sl_event_loop_t *loop)
{
    sl_queue_t  *q;
    sl_event_t  *ev;

    for (q = sl_queue_head(&loop->posted_next_events);
         q != sl_queue_sentinel(&loop->posted_next_events);
         q = sl_queue_next(q))
    {
        ev = sl_queue_data(q, sl_event_t, queue);

        /* it yielded while data remained: it is still ready */
        ev->ready = 1;
        ev->available = -1;
    }

    sl_queue_add(&loop->posted_events, &loop->posted_next_events);
    sl_queue_init(&loop->posted_next_events);
}
