/*
 * sl_buf.h -- memory buffers and chains of them.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include "sl_config.h"
#include "sl_palloc.h"

typedef void *sl_buf_tag_t;
typedef struct sl_buf_s sl_buf_t;

struct sl_buf_s {
    u_char          *pos;       /* first unconsumed byte */
    u_char          *last;      /* end of the data */
    u_char          *start;     /* start of the memory */
    u_char          *end;       /* end of the memory */
    sl_buf_tag_t     tag;       /* the owner, for sl_chain_update_chains() */

    unsigned         temporary:1;   /* memory we may write to */
    unsigned         memory:1;      /* read-only memory */
    unsigned         flush:1;
    unsigned         last_buf:1;    /* the last buffer of the stream */
    unsigned         last_in_chain:1;
};

struct sl_chain_s {
    sl_buf_t        *buf;
    sl_chain_t      *next;
};

typedef struct {
    sl_int_t         num;
    size_t           size;
} sl_bufs_t;

#define sl_buf_size(b)        ((off_t) ((b)->last - (b)->pos))
#define sl_buf_free_space(b)  ((size_t) ((b)->end - (b)->last))
#define sl_buf_is_empty(b)    ((b)->pos == (b)->last)
#define sl_buf_special(b)                                                     \
    (sl_buf_size(b) == 0 && ((b)->flush || (b)->last_buf))

#define sl_alloc_buf(pool)    sl_palloc(pool, sizeof(sl_buf_t))
#define sl_calloc_buf(pool)   sl_pcalloc(pool, sizeof(sl_buf_t))

sl_buf_t *sl_create_temp_buf(sl_pool_t *pool, size_t size);
sl_chain_t *sl_create_chain_of_bufs(sl_pool_t *pool, sl_bufs_t *bufs);

/* a link from the pool's free list, or a new one */
sl_chain_t *sl_alloc_chain_link(sl_pool_t *pool);
#define sl_free_chain(pool, cl)                                               \
    do { (cl)->next = (pool)->chain; (pool)->chain = (cl); } while (0)

/* appends links pointing at in's buffers to *chain */
sl_int_t sl_chain_add_copy(sl_pool_t *pool, sl_chain_t **chain, sl_chain_t *in);
/* a link with an empty buffer: from *free when it has one, else new */
sl_chain_t *sl_chain_get_free_buf(sl_pool_t *p, sl_chain_t **free);
/*
 * Moves *out onto *busy, then moves the fully consumed buffers at the head
 * of *busy to *free (those tagged `tag`, rewound) or back to the pool's
 * link list (the others).
 */
void sl_chain_update_chains(sl_pool_t *p, sl_chain_t **free,
    sl_chain_t **busy, sl_chain_t **out, sl_buf_tag_t tag);
/* total bytes in the chain */
off_t sl_chain_size(sl_chain_t *in);
/*
 * consumes `sent` bytes from the head; returns the first link with bytes
 * left, NULL when all are sent (empty buffers count as sent)
 */
sl_chain_t *sl_chain_update_sent(sl_chain_t *in, off_t sent);

#endif /* SL_BUF_H */
