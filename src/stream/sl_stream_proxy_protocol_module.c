/*
 * sl_stream_proxy_protocol_module.c -- the stream module that reads a
 * client's PROXY protocol header before the phases ("listen ...
 * proxy_protocol", proxy_protocol_timeout) and gives the
 * $proxy_protocol_* variables; and the header of a connection's
 * addresses, for the proxy's "proxy_protocol on".
 *
 * The wire format (parse and write) is core's, src/core/sl_proxy_protocol.c:
 * this file only moves bytes between the socket and it, and must never
 * parse or build a header itself.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_proxy_protocol.h"

/* --- a connection's header ----------------------------------------------- */

u_char *
sl_proxy_protocol_write(sl_connection_t *c, u_char *buf, u_char *last,
    sl_uint_t version)
{
    if (sl_connection_local_sockaddr(c, NULL, 0) != SL_OK) {
        return NULL;
    }

    return sl_proxy_protocol_write_addrs(buf, last, c->sockaddr,
                                         c->local_sockaddr, version);
}

/* --- the module: reading a client's header ------------------------------- */

typedef struct {
    sl_msec_t                timeout;
} sl_stream_proxy_protocol_srv_conf_t;

static sl_int_t sl_stream_proxy_protocol_add_variables(sl_conf_t *cf);
static void *sl_stream_proxy_protocol_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_proxy_protocol_merge_srv_conf(sl_conf_t *cf,
    void *parent, void *child);

static sl_command_t  sl_stream_proxy_protocol_commands[] = {

    { sl_string("proxy_protocol_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_protocol_srv_conf_t, timeout),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_proxy_protocol_module_ctx = {
    sl_stream_proxy_protocol_add_variables,
    NULL,
    NULL,
    NULL,
    sl_stream_proxy_protocol_create_srv_conf,
    sl_stream_proxy_protocol_merge_srv_conf
};

sl_module_t  sl_stream_proxy_protocol_module = {
    .name = "sl_stream_proxy_protocol_module",
    .ctx = &sl_stream_proxy_protocol_module_ctx,
    .commands = sl_stream_proxy_protocol_commands,
    .type = SL_STREAM_MODULE,
};

/* the start of a header, printable, for the log */
static void
sl_stream_proxy_protocol_log_broken(sl_connection_t *c, const u_char *buf,
    size_t len, const char *err)
{
    u_char  text[SL_PROXY_PROTOCOL_V1_MAX_HEADER];
    size_t  i;

    len = sl_min(len, sizeof(text));
    for (i = 0; i < len; i++) {
        text[i] = (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '"')
                  ? buf[i] : '?';
    }

    sl_log_error(SL_LOG_ERR, c->log, 0, "broken header: \"%*s\" (%s)",
                 len, text, err);
}

/* a header that came in pieces: what was taken off the socket so far */
typedef struct {
    size_t                   have;
    u_char                   buf[SL_PROXY_PROTOCOL_MAX_HEADER];
} sl_stream_proxy_protocol_ctx_t;

/* exactly n bytes off the socket: they were seen with MSG_PEEK */
static sl_int_t
sl_stream_proxy_protocol_take(sl_connection_t *c, u_char *buf, size_t n)
{
    if (n > 0 && recv(c->fd, buf, n, 0) != (ssize_t) n) {
        sl_connection_error(c, errno, "recv() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_proxy_protocol_keep(sl_stream_session_t *s, u_char *buf,
    size_t have)
{
    sl_stream_proxy_protocol_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);

    if (ctx == NULL) {
        ctx = sl_palloc(s->connection->pool,
                        sizeof(sl_stream_proxy_protocol_ctx_t));
        if (ctx == NULL) {
            return SL_ERROR;
        }
        if (sl_stream_set_ctx(s, ctx, sl_stream_proxy_protocol_module)
            != SL_OK)
        {
            return SL_ERROR;
        }
    }

    if (buf != ctx->buf) {
        sl_memcpy(ctx->buf, buf, have);
    }

    ctx->have = have;
    return SL_OK;
}

static sl_int_t
sl_stream_proxy_protocol_set(sl_connection_t *c, sl_proxy_protocol_t *pp)
{
    if (pp->family != AF_INET && pp->family != AF_INET6) {
        return SL_OK;
    }

    c->proxy_protocol = sl_palloc(c->pool, sizeof(sl_proxy_protocol_t));
    if (c->proxy_protocol == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(c->proxy_protocol, pp, sizeof(sl_proxy_protocol_t));

    /* the TLVs point into the reading buffer, which goes: keep a copy */
    if (pp->tlvs_len > 0) {
        c->proxy_protocol->tlvs = sl_pnalloc(c->pool, pp->tlvs_len);
        if (c->proxy_protocol->tlvs == NULL) {
            return SL_ERROR;
        }
        sl_memcpy((u_char *) c->proxy_protocol->tlvs, pp->tlvs, pp->tlvs_len);
    }

    return SL_OK;
}

/*
 * SL_OK: read; SL_AGAIN: more to come; else the status to end with.
 *
 * What arrived is looked at with MSG_PEEK and only the header's bytes
 * are taken: the rest is the client's. A header that is not whole yet is
 * taken as far as it came (before a v1 line's LF, or within a v2
 * header's length, every byte is the header's), so that a
 * level-triggered back end does not report the same bytes for ever and
 * the client's FIN is seen.
 */
static sl_int_t
sl_stream_proxy_protocol_read(sl_stream_session_t *s)
{
    sl_stream_proxy_protocol_ctx_t  *ctx;
    sl_connection_t                 *c = s->connection;
    sl_proxy_protocol_t              pp;
    const char                      *err;
    u_char                           stack[SL_PROXY_PROTOCOL_MAX_HEADER];
    u_char                          *buf = stack;
    size_t                           have = 0;
    ssize_t                          n, rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);
    if (ctx != NULL) {
        buf = ctx->buf;
        have = ctx->have;
    }

    /*
     * Until the socket has nothing more: the client's FIN may have come
     * with the last piece, and an edge-triggered back end reports it once.
     */
    for ( ;; ) {
        n = recv(c->fd, buf + have, SL_PROXY_PROTOCOL_MAX_HEADER - have,
                 MSG_PEEK);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                c->read->ready = 0;
                return SL_AGAIN;
            }

            sl_connection_error(c, errno, "recv() failed");
            return SL_STREAM_OK;
        }

        rc = sl_proxy_protocol_parse(buf, have + (size_t) n, &pp, &err);

        if (rc != SL_AGAIN || n == 0) {
            break;
        }

        if (sl_stream_proxy_protocol_take(c, buf + have, (size_t) n)
            != SL_OK
            || sl_stream_proxy_protocol_keep(s, buf, have + (size_t) n)
               != SL_OK)
        {
            return SL_STREAM_INTERNAL_SERVER_ERROR;
        }

        ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);
        buf = ctx->buf;
        have += (size_t) n;
    }

    if (rc == SL_AGAIN || rc == SL_ERROR) {
        sl_stream_proxy_protocol_log_broken(c, buf, have + (size_t) n,
            err != NULL ? err : "the client closed the connection");

        /* taken, so that closing sends a FIN rather than a reset */
        (void) sl_stream_proxy_protocol_take(c, buf + have, (size_t) n);
        return SL_STREAM_BAD_REQUEST;
    }

    /* the header is taken off the socket: it is not the client's data */
    if (sl_stream_proxy_protocol_take(c, buf + have, (size_t) rc - have)
        != SL_OK
        || sl_stream_proxy_protocol_set(c, &pp) != SL_OK)
    {
        return SL_STREAM_INTERNAL_SERVER_ERROR;
    }

    return SL_OK;
}

static void
sl_stream_proxy_protocol_handler(sl_event_t *rev)
{
    sl_connection_t                      *c = rev->data;
    sl_stream_session_t                  *s = c->data;
    sl_stream_proxy_protocol_srv_conf_t  *ppcf;
    sl_int_t                              rc;

    if (rev->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, SL_ETIMEDOUT, "client timed out");
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    rc = sl_stream_proxy_protocol_read(s);

    if (rc == SL_AGAIN) {
        if (!rev->timer_set) {
            ppcf = sl_stream_get_module_srv_conf(s,
                                            sl_stream_proxy_protocol_module);
            sl_add_timer(rev, ppcf->timeout);
        }

        if (sl_handle_read_event(rev, 0) != SL_OK) {
            sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        }
        return;
    }

    if (rev->timer_set) {
        sl_del_timer(rev);
    }

    if (rc != SL_OK) {
        sl_stream_finalize_session(s, (sl_uint_t) rc);
        return;
    }

    c->log->action = "initializing session";
    rev->handler = sl_stream_session_handler;
    sl_stream_session_handler(rev);
}

void
sl_stream_proxy_protocol_start(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;

    c->log->action = "reading PROXY protocol";
    c->read->handler = sl_stream_proxy_protocol_handler;

    /* nothing known yet: the first recv() says whether it would block */
    sl_stream_proxy_protocol_handler(c->read);
}

static void *
sl_stream_proxy_protocol_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_proxy_protocol_srv_conf_t  *conf;

    conf = sl_palloc(cf->pool, sizeof(sl_stream_proxy_protocol_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->timeout = SL_CONF_UNSET_MSEC;
    return conf;
}

static char *
sl_stream_proxy_protocol_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child)
{
    sl_stream_proxy_protocol_srv_conf_t  *prev = parent;
    sl_stream_proxy_protocol_srv_conf_t  *conf = child;

    sl_unused(cf);

    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    return SL_CONF_OK;
}

/* --- the variables ------------------------------------------------------- */

#define SL_PP_VAR_ADDR         0
#define SL_PP_VAR_PORT         1
#define SL_PP_VAR_SERVER_ADDR  2
#define SL_PP_VAR_SERVER_PORT  3

static sl_int_t
sl_stream_proxy_protocol_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_proxy_protocol_t  *pp = s->connection->proxy_protocol;
    in_port_t             port;
    u_char               *p;

    if (pp == NULL) {
        return SL_ERROR;                    /* not found */
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    switch (data) {

    case SL_PP_VAR_ADDR:
        v->data = pp->src_addr;
        v->len = (unsigned) pp->src_addr_len;
        return SL_OK;

    case SL_PP_VAR_SERVER_ADDR:
        v->data = pp->dst_addr;
        v->len = (unsigned) pp->dst_addr_len;
        return SL_OK;

    default:
        port = data == SL_PP_VAR_PORT ? pp->src_port : pp->dst_port;

        p = sl_pnalloc(s->connection->pool, sizeof("65535") - 1);
        if (p == NULL) {
            return SL_ERROR;
        }

        v->data = p;
        v->len = (unsigned) (sl_snprintf(p, sizeof("65535") - 1, "%d",
                                         (int) port) - p);
        return SL_OK;
    }
}

/* $proxy_protocol_tlv_NAME: data is the variable's full name */
static sl_int_t
sl_stream_proxy_protocol_tlv_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_proxy_protocol_t  *pp = s->connection->proxy_protocol;
    sl_str_t             *name = (sl_str_t *) data, tlv, value;
    u_char                verify[SL_PROXY_PROTOCOL_VERIFY_LEN];
    const char           *err;
    sl_int_t              rc;

    if (pp == NULL) {
        return SL_ERROR;                    /* not found */
    }

    tlv.data = name->data + sizeof("proxy_protocol_tlv_") - 1;
    tlv.len = name->len - (sizeof("proxy_protocol_tlv_") - 1);

    rc = sl_proxy_protocol_get_tlv(pp, &tlv, &value, verify, &err);
    if (rc != SL_OK) {
        if (err != NULL) {
            sl_log_error(SL_LOG_ERR, s->connection->log, 0, "%s \"%V\"",
                         err, &tlv);
        }
        return SL_ERROR;
    }

    if (value.data == verify) {
        value.data = sl_pnalloc(s->connection->pool, value.len);
        if (value.data == NULL) {
            return SL_ERROR;
        }
        sl_memcpy(value.data, verify, value.len);
    }

    v->data = value.data;
    v->len = (unsigned) value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t
sl_stream_proxy_protocol_add_variables(sl_conf_t *cf)
{
    static const char  *names[] = {
        "proxy_protocol_addr",
        "proxy_protocol_port",
        "proxy_protocol_server_addr",
        "proxy_protocol_server_port"
    };

    sl_stream_variable_t  *v;
    sl_str_t               name;
    sl_uint_t              i;

    for (i = 0; i < sl_nelems(names); i++) {
        name.data = (u_char *) names[i];
        name.len = sl_strlen(names[i]);

        v = sl_stream_add_variable(cf, &name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = sl_stream_proxy_protocol_variable;
        v->data = i;
    }

    sl_str_set(&name, "proxy_protocol_tlv_");
    v = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_PREFIX
                                          | SL_STREAM_VAR_NOHASH);
    if (v == NULL) {
        return SL_ERROR;
    }

    v->get_handler = sl_stream_proxy_protocol_tlv_variable;
    return SL_OK;
}
