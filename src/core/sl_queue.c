/*
 * sl_queue.c -- the parts of the queue too long to be macros.
 */
#include "sl_config.h"
#include "sl_core.h"


sl_queue_t *
sl_queue_middle(sl_queue_t *queue)
{
    sl_queue_t  *slow, *fast;

    /* fast moves two steps for each of slow's; slow ends at index n / 2 */
    slow = sl_queue_head(queue);
    fast = sl_queue_head(queue);

    while (fast != queue && sl_queue_next(fast) != queue) {
        slow = sl_queue_next(slow);
        fast = sl_queue_next(sl_queue_next(fast));
    }

    return slow;
}


void
sl_queue_sort(sl_queue_t *queue,
    sl_int_t (*cmp)(const sl_queue_t *, const sl_queue_t *))
{
    sl_queue_t  *q, *prev, *next;

    /*
     * Insertion sort: everything before q is sorted. q moves back only past
     * elements strictly greater than it, which keeps equal ones in order.
     */
    for (q = sl_queue_next(sl_queue_head(queue)); q != queue; q = next) {
        next = sl_queue_next(q);
        prev = sl_queue_prev(q);

        while (prev != queue && cmp(prev, q) > 0) {
            prev = sl_queue_prev(prev);
        }

        if (prev == sl_queue_prev(q)) {
            continue;
        }

        sl_queue_remove(q);
        sl_queue_insert_after(prev, q);
    }
}
