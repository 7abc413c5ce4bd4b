/*
 * sl_stream_return_module.c -- "return VALUE;": send the value (variables
 * allowed) to the client, then close, as nginx's stream return does.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* how long a client that does not read may hold the answer up */
#define SL_STREAM_RETURN_SEND_TIMEOUT  5000

/*
 * After the text, what the client sent is read and dropped until it
 * closes (at most this long, and this much): closing with unread input
 * would send a reset, and a reset discards the end of the text still on
 * its way.
 */
#define SL_STREAM_RETURN_LINGER_TIMEOUT  5000
#define SL_STREAM_RETURN_LINGER_BYTES    65536

static void sl_stream_return_linger(sl_stream_session_t *s);

typedef struct {
    sl_stream_complex_value_t  *text;
} sl_stream_return_srv_conf_t;

typedef struct {
    u_char                     *pos;
    u_char                     *last;
    size_t                      dropped;    /* while lingering */
} sl_stream_return_ctx_t;

static void *sl_stream_return_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_return(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t  sl_stream_return_commands[] = {

    { sl_string("return"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_return,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_return_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_return_create_srv_conf,
    NULL
};

sl_module_t  sl_stream_return_module = {
    .name = "sl_stream_return_module",
    .ctx = &sl_stream_return_module_ctx,
    .commands = sl_stream_return_commands,
    .type = SL_STREAM_MODULE,
};

static void
sl_stream_return_write_handler(sl_event_t *ev)
{
    sl_connection_t         *c = ev->data;
    sl_stream_session_t     *s = c->data;
    sl_stream_return_ctx_t  *ctx;
    ssize_t                  n;

    if (ev->timedout) {
        c->timedout = 1;
        sl_connection_error(c, SL_ETIMEDOUT, "connection timed out");
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    ctx = sl_stream_get_module_ctx(s, sl_stream_return_module);

    while (ctx->pos < ctx->last && ev->ready) {
        n = c->send(c, ctx->pos, (size_t) (ctx->last - ctx->pos));

        if (n == SL_ERROR) {
            sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
            return;
        }

        if (n > 0) {
            ctx->pos += n;
        }
    }

    if (ctx->pos == ctx->last) {
        sl_stream_return_linger(s);
        return;
    }

    if (sl_handle_write_event(ev, 0) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    sl_add_timer(ev, SL_STREAM_RETURN_SEND_TIMEOUT);
}

/* drops what the client sends until it closes, or enough was dropped */
static void
sl_stream_return_linger_handler(sl_event_t *rev)
{
    sl_connection_t         *c = rev->data;
    sl_stream_session_t     *s = c->data;
    sl_stream_return_ctx_t  *ctx;
    u_char                   buf[4096];
    ssize_t                  n;

    ctx = sl_stream_get_module_ctx(s, sl_stream_return_module);

    while (!rev->timedout) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == SL_AGAIN) {
            if (sl_handle_read_event(rev, 0) != SL_OK) {
                break;
            }
            return;
        }

        if (n <= 0) {
            break;              /* the client closed, or failed */
        }

        ctx->dropped += (size_t) n;
        if (ctx->dropped > SL_STREAM_RETURN_LINGER_BYTES) {
            break;
        }
    }

    sl_stream_finalize_session(s, SL_STREAM_OK);
}

static void
sl_stream_return_linger(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;

    if (c->read->eof || c->read->error) {
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    if (c->write->timer_set) {
        sl_del_timer(c->write);
    }

    /*
     * Over TLS the end of the text is close_notify, which closing sends:
     * a FIN of our own before it would cut the TLS stream short.
     */
    if (c->ssl != NULL) {
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    /* the FIN follows the text; the client closes when it has read it */
    if (shutdown(c->fd, SHUT_WR) == -1) {
        sl_connection_error(c, errno, "shutdown() failed");
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    c->log->action = "closing";
    c->write->handler = sl_stream_empty_handler;
    c->read->handler = sl_stream_return_linger_handler;
    sl_add_timer(c->read, SL_STREAM_RETURN_LINGER_TIMEOUT);

    sl_stream_return_linger_handler(c->read);
}

static void
sl_stream_return_handler(sl_stream_session_t *s)
{
    sl_stream_return_srv_conf_t  *rscf;
    sl_stream_return_ctx_t       *ctx;
    sl_connection_t              *c = s->connection;
    sl_str_t                      text;

    c->log->action = "returning text";
    rscf = sl_stream_get_module_srv_conf(s, sl_stream_return_module);

    ctx = sl_palloc(c->pool, sizeof(sl_stream_return_ctx_t));
    if (ctx == NULL
        || sl_stream_complex_value(s, rscf->text, &text) != SL_OK)
    {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->pos = text.data;
    ctx->last = text.data + text.len;
    ctx->dropped = 0;
    if (sl_stream_set_ctx(s, ctx, sl_stream_return_module) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->write->handler = sl_stream_return_write_handler;
    sl_stream_return_write_handler(c->write);
}

static void *
sl_stream_return_create_srv_conf(sl_conf_t *cf)
{
    /* text = NULL: no return */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_return_srv_conf_t));
}

static char *
sl_stream_return(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_return_srv_conf_t  *rscf = conf;
    sl_stream_core_srv_conf_t    *cscf;
    sl_str_t                     *value = cf->args->elts;

    sl_unused(cmd);

    if (rscf->text != NULL) {
        return "is duplicate";
    }

    rscf->text = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
    if (rscf->text == NULL
        || sl_stream_compile_complex_value(cf, &value[1], rscf->text)
           != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_return_handler;
    return SL_CONF_OK;
}
