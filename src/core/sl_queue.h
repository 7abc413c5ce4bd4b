/*
 * sl_queue.h -- intrusive doubly-linked circular queue with a sentinel.
 */
#ifndef SL_QUEUE_H
#define SL_QUEUE_H

#include "sl_config.h"

typedef struct sl_queue_s  sl_queue_t;

struct sl_queue_s {
    sl_queue_t  *prev;
    sl_queue_t  *next;
};

/*
 * Functions, not macros: each argument is evaluated once, so calls like
 * sl_queue_remove(sl_queue_head(&h)) are safe.
 */
static inline void
sl_queue_init(sl_queue_t *q)
{
    q->prev = q;
    q->next = q;
}

static inline int
sl_queue_empty(const sl_queue_t *h)
{
    return h == h->prev;
}

static inline void
sl_queue_insert_head(sl_queue_t *h, sl_queue_t *x)
{
    x->next = h->next;
    x->next->prev = x;
    x->prev = h;
    h->next = x;
}

#define sl_queue_insert_after  sl_queue_insert_head

static inline void
sl_queue_insert_tail(sl_queue_t *h, sl_queue_t *x)
{
    x->prev = h->prev;
    x->prev->next = x;
    x->next = h;
    h->prev = x;
}

#define sl_queue_head(h)      (h)->next
#define sl_queue_last(h)      (h)->prev
#define sl_queue_sentinel(h)  (h)
#define sl_queue_next(q)      (q)->next
#define sl_queue_prev(q)      (q)->prev

static inline void
sl_queue_remove(sl_queue_t *x)
{
    x->next->prev = x->prev;
    x->prev->next = x->next;
    x->prev = NULL;
    x->next = NULL;
}

/* moves q and everything after it in h to the empty queue n */
static inline void
sl_queue_split(sl_queue_t *h, sl_queue_t *q, sl_queue_t *n)
{
    n->prev = h->prev;
    n->prev->next = n;
    n->next = q;
    h->prev = q->prev;
    h->prev->next = h;
    q->prev = n;
}

/* appends the elements of queue n to h */
static inline void
sl_queue_add(sl_queue_t *h, sl_queue_t *n)
{
    h->prev->next = n->next;
    n->next->prev = h->prev;
    h->prev = n->prev;
    h->prev->next = h;
}

#define sl_queue_data(q, type, link)                                          \
    ((type *) ((u_char *) (q) - offsetof(type, link)))

/* the middle element (the first of the second half); queue not empty */
sl_queue_t *sl_queue_middle(sl_queue_t *queue);
/* stable insertion sort */
void sl_queue_sort(sl_queue_t *queue,
    sl_int_t (*cmp)(const sl_queue_t *, const sl_queue_t *));

#endif /* SL_QUEUE_H */
