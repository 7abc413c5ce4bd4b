/*
 * sl_stream_inetd_module.c -- "inetd SERVICE [width=N];": the classic
 * inetd services as a server's content handler.
 *
 *   chargen  (RFC 864) rotating lines of the 95 printable ASCII characters
 *            until the client goes; what it sends is read and dropped
 *   discard  (RFC 863) everything is read and dropped until the FIN
 *   daytime  (RFC 867) one line with the date (UTC), then the FIN
 *
 * chargen's text repeats every 95 lines: each server builds it once, at
 * configuration, and a session holds only its offset into it. Bytes go
 * out only while the socket takes them; then the write event is awaited,
 * so a client that stops reading costs nothing more. This module must
 * never buffer output per session nor loop on one connection for ever (a
 * turn has a budget, then the event waits for the next iteration).
 * inetd_timeout closes a connection on which nothing moved, with a reset.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_event_posted.h"
#include "sl_stream.h"

#define SL_INETD_CHARGEN     1
#define SL_INETD_DISCARD     2
#define SL_INETD_DAYTIME     3

#define SL_INETD_PRINTABLE   95         /* ' ' to '~' */
#define SL_INETD_WIDTH       72
#define SL_INETD_WIDTH_MAX   1024

/* bytes one connection may move in one turn before the others' turn */
#define SL_INETD_TURN        (256 * 1024)

/*
 * After daytime's line and FIN, what the client sends is dropped until
 * it closes, for at most this long: closing with unread input would send
 * a reset, and a reset may discard the line on its way.
 */
#define SL_INETD_LINGER      5000

typedef struct {
    sl_uint_t       service;            /* SL_CONF_UNSET_UINT: none */
    size_t          width;
    sl_msec_t       timeout;
    sl_str_t        text;               /* chargen's 95 lines */
} sl_stream_inetd_srv_conf_t;

typedef struct {
    size_t          off;                /* chargen: into text */
    u_char         *pos;                /* daytime: what is left to send */
    u_char         *last;
    u_char          line[64];
    unsigned        lingering:1;        /* daytime: all sent, FIN sent */
} sl_stream_inetd_ctx_t;

static void *sl_stream_inetd_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_inetd_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_inetd(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t  sl_stream_inetd_commands[] = {

    { sl_string("inetd"),
      SL_STREAM_SRV_CONF | SL_CONF_1MORE,
      sl_stream_inetd,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("inetd_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_inetd_srv_conf_t, timeout),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_inetd_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_inetd_create_srv_conf,
    sl_stream_inetd_merge_srv_conf
};

sl_module_t  sl_stream_inetd_module = {
    .name = "sl_stream_inetd_module",
    .ctx = &sl_stream_inetd_module_ctx,
    .commands = sl_stream_inetd_commands,
    .type = SL_STREAM_MODULE,
};

/* --- moving the bytes ---------------------------------------------------- */

/* the event runs again in the next iteration, after the others' */
static void
sl_stream_inetd_yield(sl_event_t *ev)
{
    if (!ev->posted) {
        sl_post_event(ev, &ev->loop->posted_next_events);
    }
}

/* reads and drops what the client sends: SL_OK, or SL_DONE at its end */
static sl_int_t
sl_stream_inetd_drop(sl_stream_session_t *s, sl_uint_t *moved)
{
    sl_connection_t  *c = s->connection;
    u_char            buf[4096];
    size_t            turn = 0;
    ssize_t           n;

    while (c->read->ready) {
        if (turn >= SL_INETD_TURN) {
            sl_stream_inetd_yield(c->read);
            break;
        }

        n = c->recv(c, buf, sizeof(buf));

        if (n == SL_AGAIN) {
            break;
        }

        if (n == SL_ERROR || n == 0) {
            return SL_DONE;         /* a FIN; a reset is logged at info */
        }

        s->received += n;
        turn += (size_t) n;
        *moved = 1;
    }

    return SL_OK;
}

/* sends chargen's text from where the session is, while the socket takes */
static sl_int_t
sl_stream_inetd_chargen(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx,
    sl_uint_t *moved)
{
    sl_stream_inetd_srv_conf_t  *iscf;
    sl_connection_t             *c = s->connection;
    size_t                       turn = 0;
    ssize_t                      n;

    iscf = sl_stream_get_module_srv_conf(s, sl_stream_inetd_module);

    while (c->write->ready) {
        if (turn >= SL_INETD_TURN) {
            sl_stream_inetd_yield(c->write);
            break;
        }

        n = c->send(c, iscf->text.data + ctx->off, iscf->text.len - ctx->off);

        if (n == SL_ERROR) {
            return SL_ERROR;
        }

        if (n <= 0) {
            break;                  /* SL_AGAIN: write->ready is cleared */
        }

        ctx->off = (ctx->off + (size_t) n) % iscf->text.len;
        turn += (size_t) n;
        *moved = 1;
    }

    return SL_OK;
}

/* sends what is left of the line: SL_OK once all went, SL_AGAIN, SL_ERROR */
static sl_int_t
sl_stream_inetd_daytime(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx,
    sl_uint_t *moved)
{
    sl_connection_t  *c = s->connection;
    ssize_t           n;

    while (ctx->pos < ctx->last && c->write->ready) {
        n = c->send(c, ctx->pos, (size_t) (ctx->last - ctx->pos));

        if (n == SL_ERROR) {
            return SL_ERROR;
        }

        if (n <= 0) {
            break;
        }

        ctx->pos += n;
        *moved = 1;
    }

    return ctx->pos == ctx->last ? SL_OK : SL_AGAIN;
}

/*
 * The line is out: the FIN follows it, and the client closes when it has
 * read it. Over TLS the end is close_notify, which closing sends: SL_DONE.
 */
static sl_int_t
sl_stream_inetd_linger(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx)
{
    sl_connection_t  *c = s->connection;

    if (c->ssl != NULL) {
        return SL_DONE;
    }

    if (shutdown(c->fd, SHUT_WR) == -1) {
        sl_connection_error(c, errno, "shutdown() failed");
        return SL_DONE;
    }

    c->log->action = "closing";
    ctx->lingering = 1;

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    sl_add_timer(c->read, SL_INETD_LINGER);
    return SL_OK;
}

/* the service's output: SL_OK, SL_DONE (the session is over), SL_ERROR */
static sl_int_t
sl_stream_inetd_output(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx,
    sl_uint_t *moved)
{
    sl_stream_inetd_srv_conf_t  *iscf;
    sl_int_t                     rc;

    iscf = sl_stream_get_module_srv_conf(s, sl_stream_inetd_module);

    if (iscf->service == SL_INETD_CHARGEN) {
        return sl_stream_inetd_chargen(s, ctx, moved);
    }

    if (iscf->service != SL_INETD_DAYTIME || ctx->lingering) {
        return SL_OK;
    }

    rc = sl_stream_inetd_daytime(s, ctx, moved);

    return rc == SL_OK ? sl_stream_inetd_linger(s, ctx)
                       : rc == SL_AGAIN ? SL_OK : SL_ERROR;
}

/* tells the back end what we wait for, and for how long */
static sl_int_t
sl_stream_inetd_wait(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx,
    sl_uint_t moved)
{
    sl_stream_inetd_srv_conf_t  *iscf;
    sl_connection_t             *c = s->connection;

    if (sl_handle_read_event(c->read, 0) != SL_OK
        || sl_handle_write_event(c->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    /* the linger has a fixed end; otherwise moving bytes is being alive */
    if (!ctx->lingering && (moved || !c->read->timer_set)) {
        iscf = sl_stream_get_module_srv_conf(s, sl_stream_inetd_module);
        sl_add_timer(c->read, iscf->timeout);
    }

    return SL_OK;
}

static void
sl_stream_inetd_process(sl_stream_session_t *s)
{
    sl_stream_inetd_ctx_t  *ctx;
    sl_uint_t               moved = 0;
    sl_int_t                rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_inetd_module);

    /* the client's FIN or reset ends every service */
    if (sl_stream_inetd_drop(s, &moved) == SL_DONE) {
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    rc = sl_stream_inetd_output(s, ctx, &moved);

    if (rc != SL_OK) {
        /* a reset or a broken pipe: logged at info by the I/O layer */
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    if (sl_stream_inetd_wait(s, ctx, moved) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
    }
}

/* both events come here; only the read event carries the timer */
static void
sl_stream_inetd_handler_event(sl_event_t *ev)
{
    sl_connection_t        *c = ev->data;
    sl_stream_session_t    *s = c->data;
    sl_stream_inetd_ctx_t  *ctx;

    if (ev->timedout) {
        ctx = sl_stream_get_module_ctx(s, sl_stream_inetd_module);

        /* a linger that ran out closes quietly: the line went before */
        if (!ctx->lingering) {
            c->timedout = 1;        /* closed with a reset */
            sl_connection_error(c, SL_ETIMEDOUT, "connection timed out");
        }

        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    sl_stream_inetd_process(s);
}

static const char  *sl_stream_inetd_days[] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday"
};

static const char  *sl_stream_inetd_months[] = {
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"
};

/* "Saturday, December  5, 2026 07:30:00-UTC\r\n": names, not the locale */
static void
sl_stream_inetd_format_day(sl_stream_session_t *s, sl_stream_inetd_ctx_t *ctx)
{
    struct tm  tm;

    sl_gmtime(s->time->sec, &tm);

    ctx->pos = ctx->line;
    ctx->last = sl_snprintf(ctx->line, sizeof(ctx->line),
                            "%s, %s %2d, %d %02d:%02d:%02d-UTC\r\n",
                            sl_stream_inetd_days[tm.tm_wday % 7],
                            sl_stream_inetd_months[tm.tm_mon % 12],
                            tm.tm_mday, tm.tm_year + 1900, tm.tm_hour,
                            tm.tm_min, tm.tm_sec);
}

static void
sl_stream_inetd_handler(sl_stream_session_t *s)
{
    sl_stream_inetd_srv_conf_t  *iscf;
    sl_stream_inetd_ctx_t       *ctx;
    sl_connection_t             *c = s->connection;

    iscf = sl_stream_get_module_srv_conf(s, sl_stream_inetd_module);
    c->log->action = iscf->service == SL_INETD_DISCARD ? "discarding"
                                                       : "serving inetd";

    ctx = sl_pcalloc(c->pool, sizeof(sl_stream_inetd_ctx_t));
    if (ctx == NULL) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (iscf->service == SL_INETD_DAYTIME) {
        sl_stream_inetd_format_day(s, ctx);
    }

    /* what a preread phase read is input like any other: dropped */
    sl_stream_set_ctx(s, ctx, sl_stream_inetd_module);

    c->read->handler = sl_stream_inetd_handler_event;
    c->write->handler = sl_stream_inetd_handler_event;

    sl_stream_inetd_process(s);
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_inetd_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_inetd_srv_conf_t  *iscf;

    /* text: empty until merged */
    iscf = sl_pcalloc(cf->pool, sizeof(sl_stream_inetd_srv_conf_t));
    if (iscf == NULL) {
        return NULL;
    }

    iscf->service = SL_CONF_UNSET_UINT;
    iscf->width = SL_CONF_UNSET_SIZE;
    iscf->timeout = SL_CONF_UNSET_MSEC;
    return iscf;
}

/* line i is the printable characters from the i-th on, then CR LF */
static sl_int_t
sl_stream_inetd_build_text(sl_conf_t *cf, sl_stream_inetd_srv_conf_t *iscf)
{
    size_t   i, j;
    u_char  *p;

    iscf->text.len = SL_INETD_PRINTABLE * (iscf->width + 2);
    iscf->text.data = sl_pnalloc(cf->pool, iscf->text.len);
    if (iscf->text.data == NULL) {
        return SL_ERROR;
    }

    p = iscf->text.data;

    for (i = 0; i < SL_INETD_PRINTABLE; i++) {
        for (j = 0; j < iscf->width; j++) {
            *p++ = (u_char) (' ' + (i + j) % SL_INETD_PRINTABLE);
        }

        *p++ = '\r';
        *p++ = '\n';
    }

    return SL_OK;
}

static char *
sl_stream_inetd_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_inetd_srv_conf_t  *prev = parent;
    sl_stream_inetd_srv_conf_t  *conf = child;

    /* "inetd" is a server's own: only the timeout is inherited */
    if (conf->width == SL_CONF_UNSET_SIZE) {
        conf->width = SL_INETD_WIDTH;
    }

    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 600000);

    if (conf->service == SL_INETD_CHARGEN
        && sl_stream_inetd_build_text(cf, conf) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* "width=N" of chargen, 1 to SL_INETD_WIDTH_MAX */
static char *
sl_stream_inetd_width(sl_conf_t *cf, sl_stream_inetd_srv_conf_t *iscf,
    sl_str_t *value)
{
    sl_int_t  n;

    if (iscf->service != SL_INETD_CHARGEN) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\": only chargen has a "
                          "width", value);
        return SL_CONF_ERROR;
    }

    if (iscf->width != SL_CONF_UNSET_SIZE) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate width \"%V\"",
                          value);
        return SL_CONF_ERROR;
    }

    n = sl_atoi(value->data + 6, value->len - 6);

    if (n == SL_ERROR || n < 1 || n > SL_INETD_WIDTH_MAX) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid width \"%V\", it "
                          "must be from 1 to %d", value, SL_INETD_WIDTH_MAX);
        return SL_CONF_ERROR;
    }

    iscf->width = (size_t) n;
    return SL_CONF_OK;
}

static char *
sl_stream_inetd(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_inetd_srv_conf_t  *iscf = conf;
    sl_stream_core_srv_conf_t   *cscf;
    sl_str_t                    *value = cf->args->elts;
    sl_uint_t                    i;

    sl_unused(cmd);

    if (iscf->service != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (sl_str_eq_lit(&value[1], "chargen")) {
        iscf->service = SL_INETD_CHARGEN;
    } else if (sl_str_eq_lit(&value[1], "discard")) {
        iscf->service = SL_INETD_DISCARD;
    } else if (sl_str_eq_lit(&value[1], "daytime")) {
        iscf->service = SL_INETD_DAYTIME;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown inetd service "
                          "\"%V\"", &value[1]);
        return SL_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (value[i].len < 6
            || sl_strncmp(value[i].data, "width=", 6) != 0)
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter "
                              "\"%V\"", &value[i]);
            return SL_CONF_ERROR;
        }

        if (sl_stream_inetd_width(cf, iscf, &value[i]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_inetd_handler;
    return SL_CONF_OK;
}

SL_MODULE(inetd, &sl_stream_inetd_module);
