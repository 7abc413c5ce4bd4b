/*
 * sl_stream_echo_module.c -- "echo;": everything the client sends comes
 * back to it.
 *
 * One buffer of echo_buffer_size per connection, taken when data arrives
 * and given back when it has all been sent, so an idle connection holds
 * none. While the buffer is full the client is not reading, and neither
 * do we (backpressure); reading resumes once the socket takes data again.
 * After the client's FIN the rest is sent and the connection closed.
 * echo_timeout closes a connection on which nothing moved, with a reset.
 * A turn moves at most SL_STREAM_TURN_BUFFERS buffers of input: a bulk
 * client does not hold the worker while others wait. The rest goes on
 * from a posted event at the next iteration (no edge would come for it).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

typedef struct {
    sl_flag_t       enable;
    size_t          buffer_size;
    sl_msec_t       timeout;
} sl_stream_echo_srv_conf_t;

typedef struct {
    sl_buf_t        buf;        /* start == NULL: no memory held */
    sl_bufcache_t  *cache;      /* where buf comes from and goes back to */
    unsigned        eof:1;      /* the client sent its FIN */
    unsigned        preread:1;  /* buf is the preread buffer, in the pool */
} sl_stream_echo_ctx_t;

static void *sl_stream_echo_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_echo_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_echo(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_conf_num_bounds_t  sl_stream_echo_buffer_bounds = {
    sl_conf_check_num_bounds, 1, -1
};

static sl_command_t  sl_stream_echo_commands[] = {

    { sl_string("echo"),
      SL_STREAM_SRV_CONF | SL_CONF_NOARGS,
      sl_stream_echo,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("echo_buffer_size"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_echo_srv_conf_t, buffer_size),
      &sl_stream_echo_buffer_bounds },

    { sl_string("echo_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_echo_srv_conf_t, timeout),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_echo_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_echo_create_srv_conf,
    sl_stream_echo_merge_srv_conf
};

sl_module_t  sl_stream_echo_module = {
    .name = "sl_stream_echo_module",
    .ctx = &sl_stream_echo_module_ctx,
    .commands = sl_stream_echo_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the buffer ---------------------------------------------------------- */

/*
 * The buffer comes from the loop's cache and goes back to it as soon as it
 * drains: an idle connection holds none, and a busy one costs no malloc().
 */
static sl_int_t
sl_stream_echo_take_buffer(sl_stream_session_t *s, sl_stream_echo_ctx_t *ctx)
{
    sl_buf_t  *b = &ctx->buf;

    b->start = sl_bufcache_get(ctx->cache, s->connection->log);
    if (b->start == NULL) {
        return SL_ERROR;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + ctx->cache->size;
    return SL_OK;
}

static void
sl_stream_echo_release_buffer(sl_stream_echo_ctx_t *ctx)
{
    if (!ctx->preread) {
        sl_bufcache_put(ctx->cache, ctx->buf.start);
    }

    ctx->preread = 0;
    sl_memzero(&ctx->buf, sizeof(sl_buf_t));
}

/* the session ends while data is in flight: the buffer goes back too */
static void
sl_stream_echo_cleanup(void *data)
{
    sl_stream_echo_ctx_t  *ctx = data;

    if (ctx->buf.start != NULL) {
        sl_stream_echo_release_buffer(ctx);
    }
}

/* --- moving the bytes ---------------------------------------------------- */

/* sends what is buffered: 1 when bytes went, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_echo_send(sl_connection_t *c, sl_buf_t *b)
{
    ssize_t  n;

    if (b->pos == b->last || !c->write->ready) {
        return 0;
    }

    n = c->send(c, b->pos, (size_t) (b->last - b->pos));

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n <= 0) {
        return 0;               /* SL_AGAIN: write->ready is cleared */
    }

    b->pos += n;

    if (b->pos == b->last) {
        b->pos = b->start;      /* all sent: the whole buffer is free */
        b->last = b->start;
    }

    return 1;
}

/* reads into the free room: 1 when bytes came, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_echo_recv(sl_stream_session_t *s, sl_stream_echo_ctx_t *ctx)
{
    sl_connection_t  *c = s->connection;
    sl_buf_t         *b = &ctx->buf;
    ssize_t           n;

    if (ctx->eof || !c->read->ready) {
        return 0;
    }

    if (b->start == NULL && sl_stream_echo_take_buffer(s, ctx) != SL_OK) {
        return SL_ERROR;
    }

    if (b->last == b->end) {
        return 0;               /* full: the client must read first */
    }

    n = c->recv(c, b->last, (size_t) (b->end - b->last));

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n == 0) {
        ctx->eof = 1;
        return 0;
    }

    if (n == SL_AGAIN) {
        return 0;
    }

    b->last += n;
    s->received += n;
    return 1;
}

/*
 * Moves bytes until neither direction can, or the turn's budget of input
 * is spent (*more set: the rest is for the next iteration). SL_OK, or
 * SL_ERROR.
 */
static sl_int_t
sl_stream_echo_move(sl_stream_session_t *s, sl_stream_echo_ctx_t *ctx,
    sl_uint_t *moved, sl_uint_t *more)
{
    sl_int_t  sent, got;
    off_t     budget;

    budget = s->received
             + (off_t) (SL_STREAM_TURN_BUFFERS * ctx->cache->size);

    do {
        sent = sl_stream_echo_send(s->connection, &ctx->buf);
        got = sent == SL_ERROR ? 0 : sl_stream_echo_recv(s, ctx);

        if (sent == SL_ERROR || got == SL_ERROR) {
            return SL_ERROR;
        }

        *moved |= (sl_uint_t) (sent | got);

        if ((sent || got) && s->received >= budget) {
            *more = 1;
            return SL_OK;
        }

    } while (sent || got);

    return SL_OK;
}

/*
 * The session ends. A turn it still had posted (its read event) is taken
 * off the queue by sl_close_connection().
 */
static void
sl_stream_echo_finalize(sl_stream_session_t *s, sl_stream_echo_ctx_t *ctx,
    sl_uint_t rc)
{
    sl_unused(ctx);
    sl_stream_finalize_session(s, rc);
}

/* tells the back end what we wait for, and for how long */
static sl_int_t
sl_stream_echo_wait(sl_stream_session_t *s, sl_stream_echo_ctx_t *ctx,
    sl_uint_t moved)
{
    sl_stream_echo_srv_conf_t  *escf;
    sl_connection_t            *c = s->connection;

    /* after the FIN a level-triggered back end would report it forever */
    if (sl_handle_read_event(c->read, ctx->eof ? SL_CLOSE_EVENT : 0)
        != SL_OK
        || sl_handle_write_event(c->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    if (moved || !c->read->timer_set) {
        escf = sl_stream_get_module_srv_conf(s, sl_stream_echo_module);
        sl_add_timer(c->read, escf->timeout);
    }

    return SL_OK;
}

static void
sl_stream_echo_process(sl_stream_session_t *s)
{
    sl_stream_echo_ctx_t  *ctx;
    sl_uint_t              moved = 0, more = 0, idle;

    ctx = sl_stream_get_module_ctx(s, sl_stream_echo_module);

    if (sl_stream_echo_move(s, ctx, &moved, &more) != SL_OK) {
        /* a reset or a broken pipe: logged at info by the I/O layer */
        sl_stream_echo_finalize(s, ctx, SL_STREAM_OK);
        return;
    }

    if (more) {
        /*
         * The budget is spent: on at the next iteration, after the others.
         * The read event itself is posted (no event of its own in the
         * session: an idle one would carry it for nothing); the back end
         * does not run it again meanwhile, and it comes back ready.
         */
        sl_post_event(s->connection->read,
                      &s->connection->loop->posted_next_events);
    }

    if (ctx->buf.pos == ctx->buf.last) {
        if (ctx->eof) {
            sl_stream_echo_finalize(s, ctx, SL_STREAM_OK);
            return;
        }

        if (ctx->buf.start != NULL) {
            sl_stream_echo_release_buffer(ctx);
        }
    }

    idle = ctx->buf.start == NULL && !more;

    /* nothing in flight: it may be closed if connections run short */
    if (idle != s->connection->reusable) {
        sl_reusable_connection(s->connection, idle);
    }

    /* ...or by a graceful shutdown (shutdown_idle) */
    if (sl_stream_set_idle(s, idle, NULL)) {
        sl_stream_echo_finalize(s, ctx, SL_STREAM_OK);
        return;
    }

    if (sl_stream_echo_wait(s, ctx, moved) != SL_OK) {
        sl_stream_echo_finalize(s, ctx, SL_STREAM_INTERNAL_SERVER_ERROR);
    }
}

/*
 * Both events come here, the read event also when it was posted for the
 * next turn; the read event has the timer.
 */
static void
sl_stream_echo_handler_event(sl_event_t *ev)
{
    sl_connection_t       *c = ev->data;
    sl_stream_session_t   *s = c->data;
    sl_stream_echo_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_echo_module);

    if (ev->timedout) {
        c->timedout = 1;        /* closed with a reset */
        sl_connection_error(c, SL_ETIMEDOUT, "connection timed out");
        sl_stream_echo_finalize(s, ctx, SL_STREAM_OK);
        return;
    }

    if (c->close) {
        if (!c->idle || !c->loop->exiting) {
            /* an idle connection whose slot is wanted for a new one */
            sl_stream_echo_finalize(s, ctx, SL_STREAM_OK);
            return;
        }

        /* a graceful shutdown: closed below unless input came meanwhile */
        c->close = 0;
    }

    sl_stream_echo_process(s);
}

static void
sl_stream_echo_handler(sl_stream_session_t *s)
{
    sl_stream_echo_srv_conf_t  *escf;
    sl_stream_echo_ctx_t       *ctx;
    sl_pool_cleanup_t          *cln;
    sl_connection_t            *c = s->connection;

    c->log->action = "echoing";

    escf = sl_stream_get_module_srv_conf(s, sl_stream_echo_module);
    ctx = sl_pcalloc(c->pool, sizeof(sl_stream_echo_ctx_t));
    cln = sl_pool_cleanup_add(c->pool, 0);
    if (ctx == NULL || cln == NULL) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->cache = sl_event_loop_bufcache(c->loop, escf->buffer_size);
    if (ctx->cache == NULL) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = sl_stream_echo_cleanup;
    cln->data = ctx;

    /* what a preread phase read is echoed first */
    if (s->preread != NULL && s->preread->pos < s->preread->last) {
        ctx->buf = *s->preread;
        ctx->preread = 1;
        s->preread = NULL;
    }

    if (sl_stream_set_ctx(s, ctx, sl_stream_echo_module) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->read->handler = sl_stream_echo_handler_event;
    c->write->handler = sl_stream_echo_handler_event;

    sl_stream_echo_process(s);
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_echo_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_echo_srv_conf_t  *escf;

    escf = sl_pcalloc(cf->pool, sizeof(sl_stream_echo_srv_conf_t));
    if (escf == NULL) {
        return NULL;
    }

    escf->enable = SL_CONF_UNSET;
    escf->buffer_size = SL_CONF_UNSET_SIZE;
    escf->timeout = SL_CONF_UNSET_MSEC;
    return escf;
}

static char *
sl_stream_echo_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_echo_srv_conf_t  *prev = parent;
    sl_stream_echo_srv_conf_t  *conf = child;

    sl_unused(cf);

    sl_conf_merge_size_value(conf->buffer_size, prev->buffer_size, 16384);
    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 600000);
    return SL_CONF_OK;
}

static char *
sl_stream_echo(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_echo_srv_conf_t  *escf = conf;
    sl_stream_core_srv_conf_t  *cscf;

    sl_unused(cmd);

    if (escf->enable != SL_CONF_UNSET) {
        return "is duplicate";
    }

    escf->enable = 1;

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_echo_handler;

    /* the context and its cleanup: an idle session takes no more */
    sl_stream_session_size(cf, &sl_stream_echo_module,
                           sl_align(sizeof(sl_stream_echo_ctx_t), SL_ALIGNMENT)
                           + sizeof(sl_pool_cleanup_t));
    return SL_CONF_OK;
}
