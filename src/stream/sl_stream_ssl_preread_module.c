/*
 * sl_stream_ssl_preread_module.c -- "ssl_preread on": a preread phase
 * handler that reads the client's TLS ClientHello without terminating
 * TLS, chooses the server of the address by its SNI name (server_name,
 * as a handshake would), and gives $ssl_preread_server_name,
 * $ssl_preread_alpn_protocols and $ssl_preread_protocol, as nginx's
 * ngx_stream_ssl_preread_module does.
 *
 * It only looks: the bytes stay in s->preread for the content handler
 * (proxy_pass sends them untouched, pass hands them on). It must never
 * consume, change or parse them itself: the wire format is the parser's
 * (sl_stream_ssl_preread_parser.c). The reads, preread_buffer_size and
 * preread_timeout are the core's preread phase.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_ssl_preread_parser.h"

typedef struct {
    sl_flag_t                        enabled;
} sl_stream_ssl_preread_srv_conf_t;

/* a session's: the parser, and how much of s->preread it was given */
typedef struct {
    sl_stream_ssl_preread_parser_t   parser;
    size_t                           fed;
} sl_stream_ssl_preread_ctx_t;

static sl_int_t sl_stream_ssl_preread_add_variables(sl_conf_t *cf);
static sl_int_t sl_stream_ssl_preread_add_handler(sl_conf_t *cf);
static void *sl_stream_ssl_preread_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_ssl_preread_merge_srv_conf(sl_conf_t *cf,
    void *parent, void *child);

static sl_command_t  sl_stream_ssl_preread_commands[] = {

    { sl_string("ssl_preread"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_ssl_preread_srv_conf_t, enabled),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_ssl_preread_module_ctx = {
    sl_stream_ssl_preread_add_variables,
    sl_stream_ssl_preread_add_handler,
    NULL,
    NULL,
    sl_stream_ssl_preread_create_srv_conf,
    sl_stream_ssl_preread_merge_srv_conf
};

sl_module_t  sl_stream_ssl_preread_module = {
    .name = "sl_stream_ssl_preread_module",
    .ctx = &sl_stream_ssl_preread_module_ctx,
    .commands = sl_stream_ssl_preread_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the preread phase --------------------------------------------------- */

/*
 * The hello is read: the server its name selects, if any. A name that is
 * no host name, or that no server of the address has, leaves the
 * session on the default server (nginx 1.25.5 and later).
 */
static sl_int_t
sl_stream_ssl_preread_server(sl_stream_session_t *s, sl_str_t *host)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_int_t                    rc;

    if (host->len == 0) {
        return SL_OK;
    }

    rc = sl_stream_find_virtual_server(s, host->data, host->len, &cscf);

    if (rc == SL_ERROR) {
        return SL_ERROR;
    }

    if (rc == SL_OK) {
        sl_stream_set_virtual_server(s, cscf);
    }

    return SL_OK;
}

static sl_stream_ssl_preread_ctx_t *
sl_stream_ssl_preread_ctx(sl_stream_session_t *s)
{
    sl_stream_ssl_preread_ctx_t  *ctx;
    sl_connection_t              *c = s->connection;

    ctx = sl_stream_get_module_ctx(s, sl_stream_ssl_preread_module);
    if (ctx != NULL) {
        return ctx;
    }

    ctx = sl_palloc(c->pool, sizeof(sl_stream_ssl_preread_ctx_t));
    if (ctx == NULL
        || sl_stream_set_ctx(s, ctx, sl_stream_ssl_preread_module) != SL_OK)
    {
        return NULL;
    }

    sl_stream_ssl_preread_init(&ctx->parser, c->pool);
    ctx->fed = 0;
    return ctx;
}

static sl_int_t
sl_stream_ssl_preread_handler(sl_stream_session_t *s)
{
    sl_stream_ssl_preread_srv_conf_t  *sscf;
    sl_stream_ssl_preread_ctx_t       *ctx;
    sl_connection_t                   *c = s->connection;
    sl_buf_t                          *b = s->preread;
    sl_int_t                           rc;
    size_t                             n;

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_preread_module);

    if (!sscf->enabled || c->type != SOCK_STREAM) {
        return SL_DECLINED;
    }

    if (b == NULL) {
        return SL_AGAIN;        /* the core reads, then calls again */
    }

    ctx = sl_stream_ssl_preread_ctx(s);
    if (ctx == NULL) {
        return SL_ERROR;
    }

    /* only what the parser has not seen: it keeps its place */
    n = (size_t) (b->last - b->pos) - ctx->fed;
    rc = sl_stream_ssl_preread_parse(&ctx->parser, b->pos + ctx->fed, n);
    ctx->fed += n;

    switch (rc) {

    case SL_AGAIN:
        return SL_AGAIN;

    case SL_OK:
        return sl_stream_ssl_preread_server(s, &ctx->parser.host);

    case SL_DECLINED:
        sl_log_debug(c->log, 0, "ssl preread: %s", ctx->parser.reason);
        /* nothing was learnt: the variables are not found */
        (void) sl_stream_set_ctx(s, NULL, sl_stream_ssl_preread_module);
        return SL_DECLINED;

    default:
        return SL_ERROR;
    }
}

/* --- the variables ------------------------------------------------------- */

#define SL_SSL_PREREAD_VAR_SERVER_NAME  0
#define SL_SSL_PREREAD_VAR_ALPN         1
#define SL_SSL_PREREAD_VAR_PROTOCOL     2

static sl_int_t
sl_stream_ssl_preread_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_ssl_preread_ctx_t  *ctx;
    sl_str_t                      value;

    ctx = sl_stream_get_module_ctx(s, sl_stream_ssl_preread_module);
    if (ctx == NULL) {
        return SL_ERROR;                    /* not found */
    }

    switch (data) {

    case SL_SSL_PREREAD_VAR_SERVER_NAME:
        value = ctx->parser.host;
        break;

    case SL_SSL_PREREAD_VAR_ALPN:
        value = ctx->parser.alpn;
        break;

    default:
        sl_stream_ssl_preread_protocol(&ctx->parser, &value);
        break;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    /* nothing found (no SNI, no ALPN) is an empty value, never NULL */
    v->len = (unsigned) value.len;
    v->data = value.len > 0 ? value.data : (u_char *) "";
    return SL_OK;
}

static sl_int_t
sl_stream_ssl_preread_add_variables(sl_conf_t *cf)
{
    static sl_str_t  names[] = {
        sl_string("ssl_preread_server_name"),
        sl_string("ssl_preread_alpn_protocols"),
        sl_string("ssl_preread_protocol")
    };

    sl_stream_variable_t  *v;
    sl_uint_t              i;

    for (i = 0; i < sl_nelems(names); i++) {
        v = sl_stream_add_variable(cf, &names[i], 0);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = sl_stream_ssl_preread_variable;
        v->data = i;
    }

    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_ssl_preread_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_ssl_preread_srv_conf_t  *conf;

    conf = sl_pcalloc(cf->pool, sizeof(sl_stream_ssl_preread_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enabled = SL_CONF_UNSET;
    return conf;
}

static char *
sl_stream_ssl_preread_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child)
{
    sl_stream_ssl_preread_srv_conf_t  *prev = parent;
    sl_stream_ssl_preread_srv_conf_t  *conf = child;

    sl_unused(cf);

    sl_conf_merge_value(conf->enabled, prev->enabled, 0);
    return SL_CONF_OK;
}

static sl_int_t
sl_stream_ssl_preread_add_handler(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_PREREAD_PHASE,
                                       sl_stream_ssl_preread_handler);
}
