/*
 * sl_stream_handler.c -- sessions: what an accepted connection becomes,
 * its log context, and its end.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_ssl.h"
#include "sl_stream_proxy_protocol.h"

/*
 * The server for the connection's local address. Only a wildcard socket
 * that also serves other addresses of its port needs getsockname(); its
 * own entry, the fallback, is the last.
 */
sl_stream_addr_conf_t *
sl_stream_find_addr_conf(sl_connection_t *c)
{
    sl_stream_port_t  *port = c->listening->servers;
    sl_stream_addr_t  *addr = port->addrs;
    sl_uint_t          i;

    if (port->naddrs == 1) {
        return &addr[0].conf;
    }

    if (sl_connection_local_sockaddr(c, NULL, 0) != SL_OK) {
        return NULL;
    }

    for (i = 0; i < port->naddrs - 1; i++) {
        if (sl_cmp_sockaddr(addr[i].sockaddr, addr[i].socklen,
                            c->local_sockaddr, c->local_socklen, 0)
            == SL_OK)
        {
            break;
        }
    }

    return &addr[i].conf;
}

/* the server's error_log for the connection, keeping its own context */
static void
sl_stream_set_connection_log(sl_connection_t *c, sl_log_t *log)
{
    c->log->file = log->file;
    c->log->next = log->next;
    c->log->log_level = log->log_level;
    c->log->time = log->time;
}

static sl_stream_session_t *
sl_stream_create_session(sl_connection_t *c, sl_stream_addr_conf_t *conf)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_core_srv_conf_t   *cscf;
    sl_stream_session_t         *s;

    s = sl_pcalloc(c->pool, sizeof(sl_stream_session_t));
    if (s == NULL) {
        return NULL;
    }

    s->connection = c;
    s->addr_conf = conf;
    s->main_conf = conf->ctx->main_conf;
    s->srv_conf = conf->ctx->srv_conf;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);

    if (cscf->nctx > 0) {
        s->ctx = sl_pcalloc(c->pool, cscf->nctx * sizeof(void *));
        if (s->ctx == NULL) {
            return NULL;
        }
        s->nctx = (unsigned) cscf->nctx;
    }

    s->variables = sl_pcalloc(c->pool, cmcf->variables.nelts
                                       * sizeof(sl_stream_variable_value_t));
    if (s->variables == NULL) {
        return NULL;
    }

    s->time = c->loop != NULL ? c->loop->time : &cmcf->cycle->time;
    s->start_sec = s->time->sec;
    s->start_msec = (unsigned) s->time->msec;
    return s;
}

/*
 * Out of line, and rare: only a session whose configuration has not yet
 * seen a context at index gets here; later sessions start long enough.
 */
sl_int_t
sl_stream_grow_ctx(sl_stream_session_t *s, void *data, sl_uint_t index)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_uint_t                   n;
    void                      **ctx;

    if (data == NULL) {
        return SL_OK;           /* what an absent slot reads anyway */
    }

    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
    n = sl_max(index + 1, cscf->nctx);

    ctx = sl_pcalloc(s->connection->pool, n * sizeof(void *));
    if (ctx == NULL) {
        return SL_ERROR;
    }

    if (s->nctx > 0) {
        sl_memcpy(ctx, s->ctx, s->nctx * sizeof(void *));
    }

    ctx[index] = data;
    s->ctx = ctx;
    s->nctx = (unsigned) n;
    cscf->nctx = n;

    return SL_OK;
}

/* --- virtual servers: a server of the address chosen by a name --------- */

/*
 * A client's name (SNI, from the TLS library or from ssl_preread) as a
 * server name: lower case, without a trailing dot, nothing a name cannot
 * hold. SL_DECLINED: not a name.
 */
static sl_int_t
sl_stream_server_host(sl_pool_t *pool, const u_char *name, size_t len,
    sl_str_t *host)
{
    u_char  *p;
    size_t   i, full = len;

    if (len > 0 && name[len - 1] == '.') {
        len--;
    }

    if (len == 0 || len > 255 || name[0] == '.') {
        return SL_DECLINED;
    }

    p = sl_pnalloc(pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (name[i] == '/' || name[i] == '\\' || name[i] <= ' '
            || (name[i] == '.' && i + 1 < full && name[i + 1] == '.'))
        {
            return SL_DECLINED;
        }

        p[i] = (u_char) sl_tolower(name[i]);
    }

    host->data = p;
    host->len = len;
    return SL_OK;
}

sl_int_t
sl_stream_find_virtual_server(sl_stream_session_t *s, const u_char *name,
    size_t len, sl_stream_core_srv_conf_t **cscf)
{
    sl_stream_virtual_names_t  *vn = s->addr_conf->virtual_names;
    sl_str_t                    host;
    sl_int_t                    rc;
    sl_uint_t                   i;

    if (vn == NULL) {
        return SL_DECLINED;
    }

    rc = sl_stream_server_host(s->connection->pool, name, len, &host);
    if (rc != SL_OK) {
        return rc;
    }

    *cscf = sl_hash_find_combined(&vn->names,
                                  sl_hash_key(host.data, host.len),
                                  host.data, host.len);

    if (*cscf != NULL) {
        return SL_OK;
    }

    /* host is in the connection's pool: the groups may point into it */
    for (i = 0; i < vn->nregex; i++) {
        rc = sl_stream_regex_exec(s, vn->regex[i].regex, &host);

        if (rc == SL_OK) {
            *cscf = vn->regex[i].server;
            return SL_OK;
        }

        if (rc != SL_DECLINED) {
            return SL_ERROR;
        }
    }

    return SL_DECLINED;
}

void
sl_stream_set_virtual_server(sl_stream_session_t *s,
    sl_stream_core_srv_conf_t *cscf)
{
    s->srv_conf = cscf->ctx->srv_conf;
    sl_stream_set_connection_log(s->connection, cscf->error_log);
}

/* "*N client ADDR:PORT connected to ADDR", as nginx logs it at info */
static void
sl_stream_log_connected(sl_connection_t *c, sl_stream_addr_conf_t *conf)
{
    u_char  text[SL_SOCKADDR_STRLEN];
    size_t  len;

    if (c->log->log_level < SL_LOG_INFO) {
        return;
    }

    len = sl_sock_ntop(c->sockaddr, c->socklen, text, sizeof(text), 1);

    c->log->connection = 0;     /* the number is in the message itself */
    sl_log_error(SL_LOG_INFO, c->log, 0, "*%ui client %*s connected to %V",
                 c->number, len, text, &conf->addr_text);
    c->log->connection = c->number;
}

/*
 * A session for c, accepted on c->listening (or handed to it by pass,
 * with the bytes already read off the connection: preread).
 */
static void
sl_stream_init_session(sl_connection_t *c, sl_buf_t *preread)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_stream_addr_conf_t      *conf;
    sl_stream_session_t        *s;

    conf = sl_stream_find_addr_conf(c);
    s = conf != NULL ? sl_stream_create_session(c, conf) : NULL;

    if (s == NULL) {
        sl_stream_close_connection(c);
        return;
    }

    c->data = s;
    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
    sl_stream_set_connection_log(c, cscf->error_log);

    c->log->handler = NULL;
    sl_stream_log_connected(c, conf);

    c->log->connection = c->number;
    c->log->handler = sl_stream_log_error;
    c->log->data = s;
    c->log->action = "initializing session";
    c->log_error = SL_ERROR_INFO;

    c->read->handler = sl_stream_session_handler;
    c->write->handler = sl_stream_empty_handler;

    if (preread != NULL && preread->pos < preread->last) {
        s->preread = preread;
        s->received = preread->last - preread->pos;
    }

    /* pass never brings preread bytes here: the header is the socket's */
    if (conf->proxy_protocol) {
        sl_stream_proxy_protocol_start(s);     /* then the phases */
        return;
    }

    sl_stream_session_handler(c->read);
}

void
sl_stream_init_connection(sl_connection_t *c)
{
    sl_stream_init_session(c, NULL);
}

void
sl_stream_init_passed_connection(sl_connection_t *c, sl_buf_t *preread)
{
    sl_stream_init_session(c, preread);
}

void
sl_stream_session_handler(sl_event_t *ev)
{
    sl_connection_t  *c = ev->data;

    sl_stream_core_run_phases(c->data);
}

void
sl_stream_finalize_session(sl_stream_session_t *s, sl_uint_t rc)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_handler_pt        *h;
    sl_connection_t             *c = s->connection;
    sl_uint_t                    i;

    s->status = rc;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    h = cmcf->phases[SL_STREAM_LOG_PHASE].handlers.elts;

    for (i = 0; i < cmcf->phases[SL_STREAM_LOG_PHASE].handlers.nelts; i++) {
        (void) h[i](s);
    }

    sl_stream_close_connection(c);
}

void
sl_stream_close_connection(sl_connection_t *c)
{
    sl_pool_t  *pool = c->pool;

    /*
     * TLS: our close_notify first, without waiting for the client's (as
     * nginx closes an http connection); when it would block, this runs
     * again once it went or its timer ended.
     */
    if (c->ssl != NULL) {
        c->ssl->no_wait_shutdown = 1;

        if (sl_ssl_shutdown(c) == SL_AGAIN) {
            c->ssl->handler = sl_stream_close_connection;
            /* closing, no longer idle: nothing to reclaim or close */
            sl_reusable_connection(c, 0);
            c->idle = 0;
            return;
        }
    }

    /* the log lives in the pool: the pool goes last */
    sl_close_connection(c);
    sl_destroy_pool(pool);
}

sl_uint_t
sl_stream_io_quiet(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;

    /* a record half written, or read and not yet taken, is in flight */
    return sc == NULL
           || (sc->pending_write == 0 && !sc->read_pending
               && (sc->buf == NULL || sc->buf->pos == sc->buf->last));
}

/*
 * Bytes from the peer in the socket: a handler that saw SL_AGAIN last has
 * not read what came since (its event is on the way). An end of stream
 * or an error loses nothing by a close.
 */
static sl_uint_t
sl_stream_input_waits(sl_connection_t *c)
{
    u_char  byte;

    return recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

sl_uint_t
sl_stream_set_idle(sl_stream_session_t *s, sl_uint_t idle,
    sl_connection_t *peer)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_connection_t            *c = s->connection;

    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
    c->idle = idle && cscf->shutdown_idle && sl_stream_io_quiet(c);

    if (!c->idle || !c->loop->exiting) {
        return 0;
    }

    /* only when it is to end: a syscall per side, not one per event */
    return !sl_stream_input_waits(c)
           && (peer == NULL || !sl_stream_input_waits(peer));
}

void
sl_stream_empty_handler(sl_event_t *ev)
{
    sl_unused(ev);
}

u_char *
sl_stream_log_error(sl_log_t *log, u_char *buf, size_t len)
{
    sl_stream_session_t  *s = log->data;
    u_char               *p = buf, *last = buf + len;

    if (log->action != NULL) {
        p = sl_slprintf(p, last, " while %s", log->action);
    }

    p = sl_slprintf(p, last, ", client: %V, server: %V",
                    &s->connection->addr_text,
                    &s->connection->listening->addr_text);

    if (s->log_handler != NULL && p < last) {
        p = s->log_handler(log, p, (size_t) (last - p));
    }

    return p;
}
