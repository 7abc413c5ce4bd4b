/*
 * sl_embed_handler_module.c -- "handler NAME;": a server's sessions are
 * served by a protocol the embedding host registered (sluice.h), through
 * callbacks instead of a module.
 *
 * The session keeps one input buffer (handler_buffer_size, from the
 * loop's buffer cache, held only while unconsumed input is in it) and
 * offers the handler everything it has not consumed, again while input
 * remains and the handler makes progress. Output is sent at once when the
 * socket takes it; the rest is copied into a queue of buffers of the same
 * size. At the high-water mark (one buffer) writes return SL_AGAIN and
 * input is no longer offered or read (backpressure) until the queue
 * drains and `writable` is called; the queue never grows past 16 marks.
 *
 * A callback may end its own session: close and proxy requests made while
 * a callback runs are carried out when it returns, so the handle stays
 * valid for the whole callback. This file must never call a host callback
 * on a session that is closed, nor free the handle while a callback runs.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"
#include "sl_embed.h"

#define SL_EMBED_OUT_LIMIT  16          /* the queue, in high-water marks */

typedef struct {
    const sl_handler_reg_t     *reg;
    size_t                      buffer_size;
    sl_msec_t                   timeout;
} sl_embed_handler_srv_conf_t;

typedef struct sl_embed_out_s  sl_embed_out_t;

struct sl_embed_out_s {
    sl_embed_out_t             *next;
    sl_buf_t                    buf;
};

struct sl_session_s {
    sl_stream_session_t        *s;
    const sl_handler_reg_t     *reg;
    const sl_stream_handler_t  *h;
    sl_instance_t              *in;
    void                       *data;
    size_t                      mark;       /* the high-water mark */
    sl_bufcache_t              *cache;

    sl_buf_t                    input;      /* start NULL: none held */
    sl_embed_out_t             *out;        /* the queue, oldest first */
    sl_embed_out_t             *out_last;
    sl_embed_out_t             *spare;      /* nodes to reuse */
    size_t                      out_bytes;
    /* the input the handler last took nothing of: offered again only
     * once more has come */
    size_t                      waiting;

    sl_uint_t                   depth;      /* callbacks running */
    sl_uint_t                   status;     /* for a pending close */
    sl_str_t                    upstream;   /* for a pending proxy */

    unsigned                    opened:1;
    unsigned                    closing:1;  /* close asked for */
    unsigned                    closed:1;   /* over: only close may run */
    unsigned                    proxying:1; /* proxy asked for */
    unsigned                    proxied:1;  /* the proxy owns it now */
    unsigned                    blocked:1;  /* write said SL_AGAIN */
    unsigned                    eof:1;      /* the client sent its FIN */
    unsigned                    eof_told:1;
    unsigned                    shutdown:1; /* a FIN after the queue */
    unsigned                    shut:1;     /* the FIN went */
};

static void *sl_embed_handler_create_srv_conf(sl_conf_t *cf);
static char *sl_embed_handler_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_embed_handler(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static void sl_embed_handler_process(sl_session_t *ss);
static void sl_embed_start_proxy(sl_session_t *ss);
static void sl_embed_restart_timer(sl_session_t *ss);

static sl_conf_num_bounds_t  sl_embed_handler_buffer_bounds = {
    sl_conf_check_num_bounds, 1, -1
};

static sl_command_t  sl_embed_handler_commands[] = {

    { sl_string("handler"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_embed_handler,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("handler_buffer_size"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_embed_handler_srv_conf_t, buffer_size),
      &sl_embed_handler_buffer_bounds },

    { sl_string("handler_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_embed_handler_srv_conf_t, timeout),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_embed_handler_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_embed_handler_create_srv_conf,
    sl_embed_handler_merge_srv_conf
};

sl_module_t  sl_embed_handler_module = {
    .name = "sl_embed_handler_module",
    .ctx = &sl_embed_handler_module_ctx,
    .commands = sl_embed_handler_commands,
    .type = SL_STREAM_MODULE,
};

/* --- ending -------------------------------------------------------------- */

/* the pool goes: the host hears of it once, if it heard of the session */
static void
sl_embed_session_cleanup(void *data)
{
    sl_session_t    *ss = data;
    sl_embed_out_t  *o;

    ss->closed = 1;

    if (ss->input.start != NULL) {
        sl_bufcache_put(ss->cache, ss->input.start);
        ss->input.start = NULL;
    }

    for (o = ss->out; o != NULL; o = o->next) {
        sl_bufcache_put(ss->cache, o->buf.start);
    }
    ss->out = NULL;

    if (ss->opened && ss->h->close != NULL) {
        ss->depth++;
        ss->h->close(ss, (int) ss->s->status);
        ss->depth--;
    }
}

static void
sl_embed_finalize(sl_session_t *ss, sl_uint_t status)
{
    ss->closed = 1;
    sl_stream_finalize_session(ss->s, status);
}

/*
 * After a callback: a close or a proxy asked for inside it is carried out
 * now. 1 when the session is no longer ours to touch.
 */
static sl_uint_t
sl_embed_settle(sl_session_t *ss)
{
    if (ss->depth > 0 || ss->closed || ss->proxied) {
        return ss->closed || ss->proxied;
    }

    if (ss->closing) {
        sl_embed_finalize(ss, ss->status);
        return 1;
    }

    if (ss->proxying && ss->out == NULL) {
        sl_embed_start_proxy(ss);
        return 1;
    }

    return 0;
}

/* --- output -------------------------------------------------------------- */

static sl_embed_out_t *
sl_embed_out_node(sl_session_t *ss)
{
    sl_embed_out_t  *o = ss->spare;

    if (o != NULL) {
        ss->spare = o->next;
    } else {
        o = sl_palloc(ss->s->connection->pool, sizeof(sl_embed_out_t));
        if (o == NULL) {
            return NULL;
        }
    }

    o->buf.start = sl_bufcache_get(ss->cache, ss->s->connection->log);
    if (o->buf.start == NULL) {
        o->next = ss->spare;
        ss->spare = o;
        return NULL;
    }

    o->buf.pos = o->buf.start;
    o->buf.last = o->buf.start;
    o->buf.end = o->buf.start + ss->mark;
    o->next = NULL;

    if (ss->out_last != NULL) {
        ss->out_last->next = o;
    } else {
        ss->out = o;
    }
    ss->out_last = o;
    return o;
}

static sl_int_t
sl_embed_queue(sl_session_t *ss, const u_char *p, size_t n)
{
    sl_embed_out_t  *o = ss->out_last;
    size_t           room;

    while (n > 0) {
        if (o == NULL || o->buf.last == o->buf.end) {
            o = sl_embed_out_node(ss);
            if (o == NULL) {
                return SL_ERROR;
            }
        }

        room = sl_min(n, (size_t) (o->buf.end - o->buf.last));
        o->buf.last = sl_cpymem(o->buf.last, p, room);
        ss->out_bytes += room;
        p += room;
        n -= room;
    }

    return SL_OK;
}

/* sends the queue while the socket takes it: SL_OK, or SL_ERROR */
static sl_int_t
sl_embed_flush(sl_session_t *ss)
{
    sl_connection_t  *c = ss->s->connection;
    sl_embed_out_t   *o;
    ssize_t           n;

    while ((o = ss->out) != NULL && c->write->ready) {
        n = c->send(c, o->buf.pos, (size_t) (o->buf.last - o->buf.pos));

        if (n == SL_ERROR) {
            return SL_ERROR;
        }

        if (n <= 0) {
            break;
        }

        o->buf.pos += n;
        ss->out_bytes -= (size_t) n;

        if (o->buf.pos < o->buf.last) {
            continue;
        }

        ss->out = o->next;
        if (ss->out == NULL) {
            ss->out_last = NULL;
        }
        sl_bufcache_put(ss->cache, o->buf.start);
        o->next = ss->spare;
        ss->spare = o;
    }

    return SL_OK;
}

/*
 * The FIN, once everything queued went out (TLS: the close ends it).
 * SL_DONE when the session is over: both sides have closed.
 */
static sl_int_t
sl_embed_send_fin(sl_session_t *ss)
{
    sl_connection_t  *c = ss->s->connection;

    if (ss->shut) {
        return ss->eof ? SL_DONE : SL_OK;
    }

    if (!ss->shutdown || ss->out != NULL) {
        return SL_OK;
    }

    ss->shut = 1;

    if (c->ssl != NULL) {
        return SL_DONE;
    }

    if (shutdown(c->fd, SHUT_WR) == -1) {
        return sl_connection_error(c, errno, "shutdown() failed");
    }

    return ss->eof ? SL_DONE : SL_OK;
}

/* --- input --------------------------------------------------------------- */

static sl_int_t
sl_embed_take_input(sl_session_t *ss)
{
    sl_buf_t  *b = &ss->input;

    b->start = sl_bufcache_get(ss->cache, ss->s->connection->log);
    if (b->start == NULL) {
        return SL_ERROR;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + ss->mark;
    return SL_OK;
}

/* reads into the free room: 1 when bytes came, 0 when none, SL_ERROR */
static sl_int_t
sl_embed_recv(sl_session_t *ss)
{
    sl_connection_t  *c = ss->s->connection;
    sl_buf_t         *b = &ss->input;
    ssize_t           n;

    if (ss->eof || ss->blocked || !c->read->ready) {
        return 0;
    }

    if (b->start == NULL && sl_embed_take_input(ss) != SL_OK) {
        return SL_ERROR;
    }

    if (b->pos > b->start) {
        /* what was consumed makes room at the end */
        n = b->last - b->pos;
        memmove(b->start, b->pos, (size_t) n);
        b->pos = b->start;
        b->last = b->start + n;
    }

    if (b->last == b->end) {
        return 0;
    }

    n = c->recv(c, b->last, (size_t) (b->end - b->last));

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n == 0) {
        ss->eof = 1;
        return 0;
    }

    if (n == SL_AGAIN) {
        return 0;
    }

    b->last += n;
    ss->s->received += n;
    return 1;
}

/* what the handler said it consumed: SL_OK, or the status to end with */
static sl_uint_t
sl_embed_check_consumed(sl_session_t *ss, long rc, size_t n)
{
    if (rc == SL_ERROR) {
        return SL_STREAM_BAD_REQUEST;
    }

    if (rc < 0 || (unsigned long) rc > n) {
        sl_log_error(SL_LOG_ERR, ss->s->connection->log, 0, "handler \"%s\" "
                     "returned an invalid length %l for %uz bytes",
                     ss->reg->name, rc, n);
        return SL_STREAM_INTERNAL_SERVER_ERROR;
    }

    return SL_OK;
}

/*
 * Offers the unconsumed input while the handler takes some of it. 1 when
 * it consumed anything, 0 when not, SL_DONE when the session is gone.
 */
static sl_int_t
sl_embed_offer(sl_session_t *ss)
{
    sl_buf_t   *b = &ss->input;
    sl_uint_t   status, progress = 0;
    size_t      n;
    long        rc;

    while (b->start != NULL && (size_t) (b->last - b->pos) > ss->waiting
           && !ss->blocked && !ss->closing && !ss->proxying)
    {
        n = (size_t) (b->last - b->pos);

        ss->depth++;
        rc = ss->h->data(ss, (const char *) b->pos, n);
        ss->depth--;

        status = ss->closing ? SL_OK : sl_embed_check_consumed(ss, rc, n);
        if (status != SL_OK) {
            sl_embed_finalize(ss, status);
            return SL_DONE;
        }

        /* consumed before anything else: a proxy takes only the rest */
        if (rc > 0 && !ss->closing) {
            b->pos += rc;
            ss->waiting = 0;
            progress = 1;
        } else {
            ss->waiting = n;        /* 0: wait for more than this */
        }

        if (sl_embed_settle(ss)) {
            return SL_DONE;
        }

        if (rc <= 0) {
            break;
        }
    }

    if (b->start != NULL && b->pos == b->last) {
        sl_bufcache_put(ss->cache, b->start);
        sl_memzero(b, sizeof(sl_buf_t));
        ss->waiting = 0;
    }

    return progress;
}

/* --- the event handlers -------------------------------------------------- */

/* a full buffer the handler will not consume can never make progress */
static sl_uint_t
sl_embed_stuck(sl_session_t *ss)
{
    sl_buf_t  *b = &ss->input;

    if (b->start == NULL || b->pos != b->start || b->last != b->end) {
        return 0;
    }

    sl_log_error(SL_LOG_ERR, ss->s->connection->log, 0, "handler \"%s\" "
                 "consumed nothing of a full buffer of %uz bytes",
                 ss->reg->name, ss->mark);
    return 1;
}

static sl_int_t
sl_embed_tell(sl_session_t *ss, void (*cb)(sl_session_t *ss))
{
    if (cb != NULL) {
        ss->depth++;
        cb(ss);
        ss->depth--;
    }

    return sl_embed_settle(ss) ? SL_DONE : SL_OK;
}

/* the queue drained below the mark: the handler may produce again */
static sl_int_t
sl_embed_unblock(sl_session_t *ss)
{
    if (!ss->blocked || ss->out_bytes >= ss->mark) {
        return SL_OK;
    }

    ss->blocked = 0;
    return sl_embed_tell(ss, ss->h->writable);
}

/* moves what can move: SL_OK, SL_DONE (gone), or a status to end with */
static sl_int_t
sl_embed_move(sl_session_t *ss, sl_uint_t *moved)
{
    sl_int_t  got, offered;
    size_t    queued;

    do {
        queued = ss->out_bytes;

        if (sl_embed_flush(ss) != SL_OK) {
            return SL_STREAM_OK;
        }

        /* bytes going out are progress too, for handler_timeout */
        *moved |= ss->out_bytes < queued;

        if (sl_embed_unblock(ss) == SL_DONE) {
            return SL_DONE;
        }

        got = sl_embed_recv(ss);
        if (got == SL_ERROR) {
            return SL_STREAM_OK;
        }

        offered = sl_embed_offer(ss);
        if (offered == SL_DONE) {
            return SL_DONE;
        }

        *moved |= (sl_uint_t) (got | offered);

    } while (got || (offered && ss->out == NULL));

    return SL_OK;
}

/*
 * The client's FIN, once all input was offered: what the handler left of
 * it is dropped, and the session ends when the queue has gone.
 */
static sl_int_t
sl_embed_end_of_input(sl_session_t *ss)
{
    if (!ss->eof || ss->eof_told || ss->blocked) {
        return SL_OK;
    }

    ss->eof_told = 1;
    return sl_embed_tell(ss, ss->h->eof);
}

/*
 * After eof the FIN follows what the handler wrote; while it is blocked
 * it may still write from writable, so the FIN waits for that too.
 */
static sl_int_t
sl_embed_finish_output(sl_session_t *ss)
{
    sl_int_t  rc;

    if (ss->eof_told && !ss->blocked) {
        ss->shutdown = 1;
    }

    if (sl_embed_flush(ss) != SL_OK) {
        return SL_STREAM_OK;
    }

    rc = sl_embed_send_fin(ss);
    return rc == SL_DONE ? SL_STREAM_OK : rc;
}

/* handler_timeout counts from now (lazily: see sl_add_timer) */
static void
sl_embed_restart_timer(sl_session_t *ss)
{
    sl_embed_handler_srv_conf_t  *hscf;

    hscf = sl_stream_get_module_srv_conf(ss->s, sl_embed_handler_module);
    sl_add_timer(ss->s->connection->read, hscf->timeout);
}

static sl_int_t
sl_embed_wait(sl_session_t *ss, sl_uint_t moved)
{
    sl_connection_t  *c = ss->s->connection;

    if (sl_handle_read_event(c->read, ss->eof ? SL_CLOSE_EVENT : 0) != SL_OK
        || sl_handle_write_event(c->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    if (moved || !c->read->timer_set) {
        sl_embed_restart_timer(ss);
    }

    return SL_OK;
}

/* a proxy asked for while output was queued: it starts once that went */
static void
sl_embed_handler_proxy_wait(sl_session_t *ss)
{
    if (sl_embed_flush(ss) != SL_OK) {
        sl_embed_finalize(ss, SL_STREAM_OK);
        return;
    }

    if (ss->out == NULL) {
        sl_embed_start_proxy(ss);
        return;
    }

    if (sl_embed_wait(ss, 0) != SL_OK) {
        sl_embed_finalize(ss, SL_STREAM_INTERNAL_SERVER_ERROR);
    }
}

static void
sl_embed_handler_process(sl_session_t *ss)
{
    sl_uint_t  moved = 0;
    sl_int_t   rc;

    if (ss->proxying) {
        sl_embed_handler_proxy_wait(ss);
        return;
    }

    rc = sl_embed_move(ss, &moved);
    if (rc == SL_DONE) {
        return;
    }

    /* asked for inside a callback, with output still queued */
    if (rc == SL_OK && ss->proxying) {
        sl_embed_handler_proxy_wait(ss);
        return;
    }

    if (rc == SL_OK && !ss->blocked && sl_embed_stuck(ss)) {
        rc = SL_STREAM_BAD_REQUEST;
    }

    if (rc == SL_OK && sl_embed_end_of_input(ss) == SL_DONE) {
        return;
    }

    if (rc == SL_OK) {
        rc = sl_embed_finish_output(ss);
    }

    if (rc == SL_OK && sl_embed_wait(ss, moved) != SL_OK) {
        rc = SL_STREAM_INTERNAL_SERVER_ERROR;
    }

    if (rc != SL_OK) {
        sl_embed_finalize(ss, (sl_uint_t) rc);
    }
}

static void
sl_embed_handler_event(sl_event_t *ev)
{
    sl_connection_t      *c = ev->data;
    sl_stream_session_t  *s = c->data;
    sl_session_t         *ss;

    ss = sl_stream_get_module_ctx(s, sl_embed_handler_module);

    if (ev->timedout) {
        c->timedout = 1;
        sl_connection_error(c, SL_ETIMEDOUT, "connection timed out");
        sl_embed_finalize(ss, SL_STREAM_OK);
        return;
    }

    sl_embed_handler_process(ss);
}

/* --- the content handler ------------------------------------------------- */

static sl_session_t *
sl_embed_session_create(sl_stream_session_t *s)
{
    sl_embed_handler_srv_conf_t  *hscf;
    sl_stream_core_main_conf_t   *cmcf;
    sl_connection_t              *c = s->connection;
    sl_pool_cleanup_t            *cln;
    sl_session_t                 *ss;

    hscf = sl_stream_get_module_srv_conf(s, sl_embed_handler_module);

    ss = sl_pcalloc(c->pool, sizeof(sl_session_t));
    cln = sl_pool_cleanup_add(c->pool, 0);
    if (ss == NULL || cln == NULL) {
        return NULL;
    }

    ss->s = s;
    ss->reg = hscf->reg;
    ss->h = hscf->reg->handler;
    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    ss->in = cmcf->cycle->embed;
    ss->mark = hscf->buffer_size;
    ss->cache = sl_event_loop_bufcache(c->loop, hscf->buffer_size);
    if (ss->cache == NULL) {
        return NULL;
    }

    cln->handler = sl_embed_session_cleanup;
    cln->data = ss;
    if (sl_stream_set_ctx(s, ss, sl_embed_handler_module) != SL_OK) {
        return NULL;
    }

    return ss;
}

/* what a preread phase read is the first input */
static sl_int_t
sl_embed_take_preread(sl_session_t *ss)
{
    sl_buf_t  *pre = ss->s->preread;
    size_t     n;

    if (pre == NULL || pre->pos == pre->last) {
        return SL_OK;
    }

    n = (size_t) (pre->last - pre->pos);
    if (n > ss->mark || sl_embed_take_input(ss) != SL_OK) {
        return SL_ERROR;
    }

    ss->input.last = sl_cpymem(ss->input.last, pre->pos, n);
    ss->s->preread = NULL;
    return SL_OK;
}

static void
sl_embed_handler_content(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;
    sl_session_t     *ss;
    int               rc = SL_OK;

    ss = sl_embed_session_create(s);
    if (ss == NULL || sl_embed_take_preread(ss) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->log->action = "serving with a host handler";
    c->read->handler = sl_embed_handler_event;
    c->write->handler = sl_embed_handler_event;

    ss->opened = 1;

    if (ss->h->open != NULL) {
        ss->depth++;
        rc = ss->h->open(ss);
        ss->depth--;
    }

    if (rc != SL_OK && !ss->closing) {
        sl_embed_finalize(ss, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (sl_embed_settle(ss)) {
        return;
    }

    sl_embed_handler_process(ss);
}

/* --- the proxy ----------------------------------------------------------- */

static void
sl_embed_start_proxy(sl_session_t *ss)
{
    sl_stream_session_t  *s = ss->s;
    sl_connection_t      *c = s->connection;
    sl_buf_t             *pre, *b = &ss->input;
    size_t                n;

    ss->proxied = 1;
    pre = NULL;

    if (b->start != NULL && b->pos < b->last) {
        n = (size_t) (b->last - b->pos);
        pre = sl_create_temp_buf(c->pool, n);
        if (pre == NULL) {
            sl_embed_finalize(ss, SL_STREAM_INTERNAL_SERVER_ERROR);
            return;
        }
        pre->last = sl_cpymem(pre->pos, b->pos, n);
    }

    if (b->start != NULL) {
        sl_bufcache_put(ss->cache, b->start);
        sl_memzero(b, sizeof(sl_buf_t));
    }

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    s->preread = pre;

#if (SL_HAVE_stream_proxy_MODULE)
    if (sl_stream_proxy_to_upstream(s, &ss->upstream) == SL_OK) {
        return;
    }
#endif

    sl_log_error(SL_LOG_ERR, c->log, 0, "no upstream \"%V\" to proxy to",
                 &ss->upstream);
    sl_embed_finalize(ss, SL_STREAM_BAD_GATEWAY);
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_embed_handler_create_srv_conf(sl_conf_t *cf)
{
    sl_embed_handler_srv_conf_t  *hscf;

    hscf = sl_pcalloc(cf->pool, sizeof(sl_embed_handler_srv_conf_t));
    if (hscf == NULL) {
        return NULL;
    }

    hscf->buffer_size = SL_CONF_UNSET_SIZE;
    hscf->timeout = SL_CONF_UNSET_MSEC;
    return hscf;
}

static char *
sl_embed_handler_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_embed_handler_srv_conf_t  *prev = parent;
    sl_embed_handler_srv_conf_t  *conf = child;

    sl_unused(cf);

    sl_conf_merge_size_value(conf->buffer_size, prev->buffer_size, 16384);
    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 600000);
    return SL_CONF_OK;
}

/*
 * The handler of a handler module the configuration loaded, registered as
 * a host's would be (without data): *out stays NULL when there is none of
 * that name.
 */
static sl_int_t
sl_embed_module_handler(sl_conf_t *cf, sl_str_t *name,
    const sl_handler_reg_t **out)
{
    const sl_stream_handler_t  *h;
    sl_handler_reg_t           *reg;
    char                       *copy;

    h = sl_cycle_find_handler_module(cf->cycle, name);
    if (h == NULL) {
        return SL_OK;
    }

    if (h->data == NULL
        || sl_embed_check_size(h->size, sizeof(sl_stream_handler_t), h)
           != SL_OK)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "handler module \"%V\" has "
                          "no data callback or a wrong size", name);
        return SL_ERROR;
    }

    reg = sl_pcalloc(cf->pool, sizeof(sl_handler_reg_t));
    copy = sl_pnalloc(cf->pool, name->len + 1);
    if (reg == NULL || copy == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(copy, name->data, name->len);
    copy[name->len] = '\0';
    reg->name = copy;
    reg->handler = h;
    *out = reg;
    return SL_OK;
}

/* and when a load_module further down was meant to bring it, says so */
static void
sl_embed_no_handler(sl_conf_t *cf, sl_str_t *name)
{
    sl_uint_t  late = sl_conf_late_load_module(cf);

    if (late == 0 || cf->cycle->modules_used_block == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no handler \"%V\" is "
                          "registered", name);
        return;
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no handler \"%V\" is "
                      "registered: the \"load_module\" at %V:%ui comes too "
                      "late, it must come before the \"%s\" block at %V:%ui",
                      name, &cf->conf_file->name, late,
                      cf->cycle->modules_used_block,
                      &cf->cycle->modules_used_file,
                      cf->cycle->modules_used_line);
}

static char *
sl_embed_handler(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_embed_handler_srv_conf_t  *hscf = conf;
    sl_stream_core_srv_conf_t    *cscf;
    sl_str_t                     *value = cf->args->elts;

    sl_unused(cmd);

    if (hscf->reg != NULL) {
        return "is duplicate";
    }

    if (cf->cycle->embed != NULL) {
        hscf->reg = sl_embed_find_handler(cf->cycle->embed, &value[1]);
    }

    if (hscf->reg != NULL
        && sl_cycle_find_handler_module(cf->cycle, &value[1]) != NULL)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "handler \"%V\" is both "
                          "registered by the program and a handler module",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    if (hscf->reg == NULL
        && sl_embed_module_handler(cf, &value[1], &hscf->reg) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    if (hscf->reg == NULL) {
        sl_embed_no_handler(cf, &value[1]);
        return SL_CONF_ERROR;
    }

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_embed_handler_content;
    return SL_CONF_OK;
}

/* --- the public session functions ---------------------------------------- */

/*
 * Is the calling thread the session's: its instance's loop thread, or the
 * daemon's one thread. One that runs no instance in a host does not even
 * look at the handle.
 */
static sl_uint_t
sl_embed_may_touch(sl_session_t *ss)
{
    if (ss == NULL) {
        return 0;
    }

    if (sl_embed_runs_any()) {
        return ss->in != NULL && sl_embed_on_loop(ss->in);
    }

    return sl_embed_in_daemon();
}

/* usable by the handler: not over, not handed to the proxy */
static sl_uint_t
sl_embed_usable(sl_session_t *ss, const char *what)
{
    /*
     * Another thread: nothing of the session may be touched, not its log;
     * one that runs no instance does not even look at the handle.
     */
    if (!sl_embed_may_touch(ss)) {
        return 0;
    }

    if (ss->closed || ss->closing || ss->proxied || ss->proxying) {
        sl_log_error(SL_LOG_ERR, ss->s->connection->log, 0, "handler \"%s\" "
                     "called %s on a session that is closed", ss->reg->name,
                     what);
        return 0;
    }

    return 1;
}

int
sl_session_write(sl_session_t *ss, const void *p, size_t n)
{
    sl_connection_t  *c;
    ssize_t           sent = 0;

    if (!sl_embed_usable(ss, "sl_session_write()") || ss->shutdown
        || (p == NULL && n > 0))
    {
        return SL_ERROR;
    }

    c = ss->s->connection;

    if (ss->out_bytes + n > SL_EMBED_OUT_LIMIT * ss->mark) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "handler \"%s\" wrote past "
                     "%uz bytes of queued output", ss->reg->name,
                     SL_EMBED_OUT_LIMIT * ss->mark);
        return SL_ERROR;
    }

    if (ss->out == NULL && c->write->ready && n > 0) {
        sent = c->send(c, (u_char *) p, n);
        if (sent == SL_ERROR) {
            sl_session_close(ss, SL_STREAM_OK);
            return SL_ERROR;
        }
        sent = sent > 0 ? sent : 0;

        /* a push from a posted function is progress too */
        if (sent > 0 && ss->depth == 0) {
            sl_embed_restart_timer(ss);
        }
    }

    if ((size_t) sent < n
        && sl_embed_queue(ss, (const u_char *) p + sent, n - (size_t) sent)
           != SL_OK)
    {
        sl_session_close(ss, SL_STREAM_INTERNAL_SERVER_ERROR);
        return SL_ERROR;
    }

    if (ss->out != NULL && ss->depth == 0) {
        /* from a posted function: the loop must learn of the queue */
        (void) sl_handle_write_event(c->write, 0);
    }

    if (ss->out_bytes >= ss->mark) {
        ss->blocked = 1;
        return SL_AGAIN;
    }

    return SL_OK;
}

int
sl_session_shutdown(sl_session_t *ss)
{
    if (!sl_embed_usable(ss, "sl_session_shutdown()")) {
        return SL_ERROR;
    }

    ss->shutdown = 1;

    if (ss->depth == 0) {
        sl_embed_handler_process(ss);
    }

    return SL_OK;
}

int
sl_session_close(sl_session_t *ss, int status)
{
    if (!sl_embed_usable(ss, "sl_session_close()")) {
        return SL_ERROR;
    }

    ss->closing = 1;
    ss->status = status > 0 ? (sl_uint_t) status : SL_STREAM_OK;
    (void) sl_embed_settle(ss);
    return SL_OK;
}

/* the upstream{} to hand the session to exists, and so does the proxy */
static sl_int_t
sl_embed_check_upstream(sl_session_t *ss, sl_str_t *name)
{
    sl_stream_upstream_main_conf_t  *umcf;
    sl_connection_t                 *c = ss->s->connection;

#if !(SL_HAVE_stream_proxy_MODULE)
    sl_log_error(SL_LOG_ERR, c->log, 0, "no proxy in this build to proxy "
                 "to \"%V\"", name);
    return SL_ERROR;
#endif

    umcf = sl_stream_get_module_main_conf(ss->s, sl_stream_upstream_module);
    if (umcf == NULL || sl_stream_upstream_find(umcf, name) == NULL) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "no upstream \"%V\" to proxy to",
                     name);
        return SL_ERROR;
    }

    return SL_OK;
}

int
sl_session_proxy(sl_session_t *ss, const char *upstream)
{
    sl_connection_t  *c;
    sl_str_t          name;
    size_t            len;

    if (upstream == NULL || !sl_embed_usable(ss, "sl_session_proxy()")) {
        return SL_ERROR;
    }

    name.data = (u_char *) upstream;
    name.len = strlen(upstream);
    if (sl_embed_check_upstream(ss, &name) != SL_OK) {
        return SL_ERROR;
    }

    c = ss->s->connection;
    len = name.len;

    ss->upstream.data = sl_pnalloc(c->pool, len);
    if (ss->upstream.data == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(ss->upstream.data, upstream, len);
    ss->upstream.len = len;
    ss->proxying = 1;

    if (ss->depth == 0) {
        if (ss->out == NULL) {
            sl_embed_start_proxy(ss);
        } else {
            (void) sl_handle_write_event(c->write, 0);
        }
    }

    return SL_OK;
}

int
sl_session_var(sl_session_t *ss, const char *name, const char **value,
    size_t *len)
{
    sl_stream_variable_value_t  *v;
    sl_str_t                     n;
    u_char                       low[64];

    if (!sl_embed_may_touch(ss)
        || ss->closed
        || name == NULL || value == NULL || len == NULL)
    {
        return SL_ERROR;
    }

    n.len = strlen(name);
    if (n.len == 0 || n.len > sizeof(low)) {
        return SL_ERROR;
    }

    n.data = low;
    v = sl_stream_get_variable(ss->s, &n,
                               sl_hash_strlow(low, (u_char *) name, n.len));
    if (v == NULL || v->not_found) {
        return SL_ERROR;
    }

    *value = (const char *) v->data;
    *len = v->len;
    return SL_OK;
}

void *
sl_session_get_data(sl_session_t *ss)
{
    return ss != NULL ? ss->data : NULL;
}

void
sl_session_set_data(sl_session_t *ss, void *data)
{
    if (ss != NULL) {
        ss->data = data;
    }
}

void *
sl_session_handler_data(sl_session_t *ss)
{
    return ss != NULL ? ss->reg->data : NULL;
}

sl_instance_t *
sl_session_instance(sl_session_t *ss)
{
    return ss != NULL ? ss->in : NULL;
}
