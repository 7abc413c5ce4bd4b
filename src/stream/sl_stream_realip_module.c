/*
 * sl_stream_realip_module.c -- "set_real_ip_from": when the peer of a
 * connection that came with a PROXY protocol header is trusted, the
 * client's address becomes the header's source, in the post_accept phase
 * as in nginx, so that $remote_addr, $remote_port, allow/deny, limit_conn
 * and the logs see the real client. $realip_remote_addr and
 * $realip_remote_port give the peer the connection really came from.
 *
 * It owns the directive, that phase handler and the two variables; it
 * must never read the socket or parse a header (the PROXY protocol
 * module did), and never change anything but the connection's client
 * address, which it keeps to answer $realip_remote_*.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_proxy_protocol.h"

#include <arpa/inet.h>
#include <netdb.h>

typedef struct {
    sl_array_t                  *from;      /* sl_cidr_t; NULL: none */
} sl_stream_realip_srv_conf_t;

/* the peer the connection came from, once it was replaced */
typedef struct {
    struct sockaddr             *sockaddr;
    socklen_t                    socklen;
    sl_str_t                     addr_text;
} sl_stream_realip_ctx_t;

static char *sl_stream_realip_from(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static void *sl_stream_realip_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_realip_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static sl_int_t sl_stream_realip_add_variables(sl_conf_t *cf);
static sl_int_t sl_stream_realip_init(sl_conf_t *cf);

static sl_command_t  sl_stream_realip_commands[] = {

    { sl_string("set_real_ip_from"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_realip_from,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_realip_module_ctx = {
    sl_stream_realip_add_variables,
    sl_stream_realip_init,
    NULL,
    NULL,
    sl_stream_realip_create_srv_conf,
    sl_stream_realip_merge_srv_conf
};

sl_module_t  sl_stream_realip_module = {
    .name = "sl_stream_realip_module",
    .ctx = &sl_stream_realip_module_ctx,
    .commands = sl_stream_realip_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the post_accept phase ----------------------------------------------- */

/* the header's source address and port as a socket address */
static sl_int_t
sl_stream_realip_header_addr(sl_connection_t *c, sl_sockaddr_t *sa,
    socklen_t *socklen)
{
    sl_proxy_protocol_t  *pp = c->proxy_protocol;

    sl_memzero(sa, sizeof(sl_sockaddr_t));

    if (inet_pton(AF_INET, (char *) pp->src_addr, &sa->sockaddr_in.sin_addr)
        == 1)
    {
        sa->sockaddr_in.sin_family = AF_INET;
        *socklen = sizeof(struct sockaddr_in);

    } else if (inet_pton(AF_INET6, (char *) pp->src_addr,
                         &sa->sockaddr_in6.sin6_addr) == 1)
    {
        sa->sockaddr_in6.sin6_family = AF_INET6;
        *socklen = sizeof(struct sockaddr_in6);

    } else {
        return SL_DECLINED;
    }

    sl_inet_set_port(&sa->sockaddr, pp->src_port);
    return SL_OK;
}

/* the connection's client becomes sa; the old one is kept in a ctx */
static sl_int_t
sl_stream_realip_set_addr(sl_stream_session_t *s, sl_sockaddr_t *sa,
    socklen_t socklen)
{
    sl_connection_t         *c = s->connection;
    sl_stream_realip_ctx_t  *ctx;
    struct sockaddr         *copy;
    u_char                   text[SL_SOCKADDR_STRLEN], *p;
    size_t                   len;

    len = sl_sock_ntop(&sa->sockaddr, socklen, text, sizeof(text), 0);

    ctx = sl_palloc(c->pool, sizeof(sl_stream_realip_ctx_t));
    copy = sl_palloc(c->pool, socklen);
    p = sl_pnalloc(c->pool, len);

    if (len == 0 || ctx == NULL || copy == NULL || p == NULL
        || sl_stream_set_ctx(s, ctx, sl_stream_realip_module) != SL_OK)
    {
        return SL_ERROR;
    }

    ctx->sockaddr = c->sockaddr;
    ctx->socklen = c->socklen;
    ctx->addr_text = c->addr_text;

    sl_memcpy(copy, sa, socklen);
    sl_memcpy(p, text, len);

    c->sockaddr = copy;
    c->socklen = socklen;
    c->addr_text.data = p;
    c->addr_text.len = len;

    return SL_DECLINED;
}

static sl_int_t
sl_stream_realip_handler(sl_stream_session_t *s)
{
    sl_stream_realip_srv_conf_t  *rscf;
    sl_connection_t              *c = s->connection;
    sl_sockaddr_t                 sa;
    socklen_t                     socklen;

    rscf = sl_stream_get_module_srv_conf(s, sl_stream_realip_module);

    if (rscf->from == NULL || c->proxy_protocol == NULL
        || sl_cidr_match(c->sockaddr, rscf->from) != SL_OK
        || sl_stream_realip_header_addr(c, &sa, &socklen) != SL_OK)
    {
        return SL_DECLINED;
    }

    return sl_stream_realip_set_addr(s, &sa, socklen);
}

/* --- the variables ------------------------------------------------------- */

static sl_int_t
sl_stream_realip_remote_addr_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_realip_ctx_t  *ctx;
    sl_str_t                *text;

    sl_unused(data);

    ctx = sl_stream_get_module_ctx(s, sl_stream_realip_module);
    text = ctx != NULL ? &ctx->addr_text : &s->connection->addr_text;

    sl_memzero(v, sizeof(sl_stream_variable_value_t));
    v->data = text->data;
    v->len = (unsigned) text->len;
    v->valid = 1;
    return SL_OK;
}

static sl_int_t
sl_stream_realip_remote_port_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_realip_ctx_t  *ctx;
    struct sockaddr         *sa;
    in_port_t                port;

    sl_unused(data);

    ctx = sl_stream_get_module_ctx(s, sl_stream_realip_module);
    sa = ctx != NULL ? ctx->sockaddr : s->connection->sockaddr;

    sl_memzero(v, sizeof(sl_stream_variable_value_t));
    v->valid = 1;

    v->data = sl_pnalloc(s->connection->pool, sizeof("65535") - 1);
    if (v->data == NULL) {
        return SL_ERROR;
    }

    /* empty for a unix peer, as $remote_port */
    port = sl_inet_get_port(sa);
    if (port > 0) {
        v->len = (unsigned) (sl_snprintf(v->data, sizeof("65535") - 1, "%d",
                                         (int) port) - v->data);
    }

    return SL_OK;
}

static sl_int_t
sl_stream_realip_add_variables(sl_conf_t *cf)
{
    static const struct {
        const char                 *name;
        sl_stream_get_variable_pt   get;
    } vars[] = {
        { "realip_remote_addr", sl_stream_realip_remote_addr_variable },
        { "realip_remote_port", sl_stream_realip_remote_port_variable },
    };

    sl_stream_variable_t  *v;
    sl_str_t               name;
    sl_uint_t              i;

    for (i = 0; i < sl_nelems(vars); i++) {
        name.data = (u_char *) vars[i].name;
        name.len = sl_strlen(vars[i].name);

        v = sl_stream_add_variable(cf, &name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = vars[i].get;
    }

    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

/* every address of a host name, each as a network of one address */
static char *
sl_stream_realip_resolve(sl_conf_t *cf, sl_str_t *host, sl_array_t *from)
{
    struct addrinfo   hints, *res, *ai;
    sl_cidr_t        *cidr;
    char             *name;
    size_t            n;
    int               rc;

    name = sl_pnalloc(cf->temp_pool, host->len + 1);
    if (name == NULL) {
        return SL_CONF_ERROR;
    }

    sl_memcpy(name, host->data, host->len);
    name[host->len] = '\0';

    sl_memzero(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "host not found in "
                          "set_real_ip_from \"%V\"", host);
        return SL_CONF_ERROR;
    }

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }

        cidr = sl_array_push(from);
        if (cidr == NULL) {
            freeaddrinfo(res);
            return SL_CONF_ERROR;
        }

        n = ai->ai_family == AF_INET ? 4 : 16;
        sl_memzero(cidr, sizeof(sl_cidr_t));
        cidr->family = ai->ai_family;
        sl_memcpy(cidr->addr, ai->ai_family == AF_INET
            ? (u_char *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr
            : ((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr.s6_addr, n);
        sl_memset(cidr->mask, 0xff, n);
    }

    freeaddrinfo(res);
    return SL_CONF_OK;
}

static char *
sl_stream_realip_from(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_realip_srv_conf_t  *rscf = conf;
    sl_str_t                     *value = cf->args->elts;
    sl_cidr_t                     c, *cidr;
    sl_int_t                      rc;

    sl_unused(cmd);

    if (rscf->from == NULL) {
        rscf->from = sl_array_create(cf->pool, 2, sizeof(sl_cidr_t));
        if (rscf->from == NULL) {
            return SL_CONF_ERROR;
        }
    }

    if (sl_str_eq_lit(&value[1], "unix:")) {
        sl_memzero(&c, sizeof(sl_cidr_t));
        c.family = AF_UNIX;
        rc = SL_OK;
    } else {
        rc = sl_ptocidr(&value[1], &c);
    }

    if (rc == SL_ERROR) {
        return sl_stream_realip_resolve(cf, &value[1], rscf->from);
    }

    if (rc == SL_DONE) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %V are "
                          "meaningless", &value[1]);
    }

    cidr = sl_array_push(rscf->from);
    if (cidr == NULL) {
        return SL_CONF_ERROR;
    }

    *cidr = c;
    return SL_CONF_OK;
}

static void *
sl_stream_realip_create_srv_conf(sl_conf_t *cf)
{
    /* from = NULL: inherited */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_realip_srv_conf_t));
}

static char *
sl_stream_realip_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_realip_srv_conf_t  *prev = parent;
    sl_stream_realip_srv_conf_t  *conf = child;

    sl_unused(cf);

    if (conf->from == NULL) {
        conf->from = prev->from;
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_realip_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_POST_ACCEPT_PHASE, sl_stream_realip_handler);
}
