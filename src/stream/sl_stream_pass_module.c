/*
 * sl_stream_pass_module.c -- "pass address": the content handler that
 * hands the client's connection to another listening socket of the same
 * configuration, as nginx's ngx_stream_pass_module does: the connection
 * becomes a new session of the address (as if accepted there), with the
 * bytes already read by the preread phase (ssl_preread's ClientHello)
 * read again first, so that a server of that address can, say, terminate
 * the TLS that ssl_preread only looked at.
 *
 * The first session ends without its log phase (the new one is the
 * session that is logged, as in nginx); its pool is the connection's and
 * lives on. A connection is passed at most SL_STREAM_PASS_MAX times, so
 * that servers passing to each other cannot loop. This module must never
 * read or write the connection itself: the new session does.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* passes per connection, nginx's limit */
#define SL_STREAM_PASS_MAX  10

typedef struct {
    sl_addr_t                   *addr;          /* a fixed address */
    sl_stream_complex_value_t   *addr_value;    /* or one with variables */
} sl_stream_pass_srv_conf_t;

static void *sl_stream_pass_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_pass(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t  sl_stream_pass_commands[] = {

    { sl_string("pass"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_pass,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_pass_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_pass_create_srv_conf,
    NULL
};

sl_module_t  sl_stream_pass_module = {
    .name = "sl_stream_pass_module",
    .ctx = &sl_stream_pass_module_ctx,
    .commands = sl_stream_pass_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the handler --------------------------------------------------------- */

/* the cleanup that marks a connection's pass count: it frees nothing */
static void
sl_stream_pass_count_mark(void *data)
{
    sl_unused(data);
}

/* one pass more for the connection: SL_ERROR past the limit */
static sl_int_t
sl_stream_pass_count(sl_connection_t *c)
{
    sl_pool_cleanup_t  *cln;
    sl_uint_t          *n;

    for (cln = c->pool->cleanup; cln != NULL; cln = cln->next) {
        if (cln->handler == sl_stream_pass_count_mark) {
            n = cln->data;

            if (++*n > SL_STREAM_PASS_MAX) {
                sl_log_error(SL_LOG_ERR, c->log, 0, "stream pass cycle");
                return SL_ERROR;
            }

            return SL_OK;
        }
    }

    cln = sl_pool_cleanup_add(c->pool, sizeof(sl_uint_t));
    if (cln == NULL) {
        return SL_ERROR;
    }

    cln->handler = sl_stream_pass_count_mark;
    *(sl_uint_t *) cln->data = 1;
    return SL_OK;
}

/*
 * What nginx says of an address sl_parse_url() refused: nginx does not
 * resolve a name here (no_resolve), and finds no address in it where
 * sl_parse_url() sees an invalid host; without a port, nginx's parse
 * succeeds and "pass" finds the port missing. NULL: u->err says it.
 */
static const char *
sl_stream_pass_url_error(sl_url_t *u)
{
    sl_str_t  *host;
    size_t     i;

    /* a unix path is never a name; nor is a host the parse did not reach */
    if (u->url.len >= 5 && sl_strncmp(u->url.data, "unix:", 5) == 0) {
        return NULL;
    }

    if (u->host.len > 0) {
        host = &u->host;

    } else if (u->no_port) {
        host = &u->url;         /* no colon: all of it is the host */

    } else {
        return NULL;
    }

    for (i = 0; i < host->len && host->data[0] != '['; i++) {
        if ((host->data[i] >= 'a' && host->data[i] <= 'z')
            || (host->data[i] >= 'A' && host->data[i] <= 'Z'))
        {
            return "no addresses";
        }
    }

    return u->no_port ? "no port" : NULL;
}

/* the session's address: the fixed one, or its variables' value */
static sl_addr_t *
sl_stream_pass_addr(sl_stream_session_t *s, sl_stream_pass_srv_conf_t *pscf)
{
    sl_connection_t  *c = s->connection;
    const char       *err;
    sl_str_t          url;
    sl_url_t          u;

    if (pscf->addr != NULL) {
        return pscf->addr;
    }

    if (sl_stream_complex_value(s, pscf->addr_value, &url) != SL_OK) {
        return NULL;
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = url;
    u.no_resolve = 1;

    if (sl_parse_url(c->pool, &u) != SL_OK) {
        err = sl_stream_pass_url_error(&u);

        if (err != NULL) {
            sl_log_error(SL_LOG_ERR, c->log, 0, "%s in pass \"%V\"", err,
                         &u.url);

        } else if (u.err != NULL) {
            sl_log_error(SL_LOG_ERR, c->log, 0, "%s in pass \"%V\"", u.err,
                         &u.url);
        }
        return NULL;
    }

    if (u.naddrs == 0) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "no addresses in pass \"%V\"",
                     &u.url);
        return NULL;
    }

    if (u.no_port) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "no port in pass \"%V\"",
                     &u.url);
        return NULL;
    }

    return &u.addrs[0];
}

/* a stream socket for addr: the address itself, or a wildcard of its port */
static sl_uint_t
sl_stream_pass_match(sl_listening_t *ls, sl_addr_t *addr)
{
    if (ls->handler != sl_stream_init_connection || ls->type != SOCK_STREAM) {
        return 0;
    }

    if (!ls->wildcard) {
        return sl_cmp_sockaddr(ls->sockaddr, ls->socklen, addr->sockaddr,
                               addr->socklen, 1) == SL_OK;
    }

    return ls->sockaddr->sa_family == addr->sockaddr->sa_family
           && sl_inet_get_port(ls->sockaddr)
              == sl_inet_get_port(addr->sockaddr);
}

static sl_listening_t *
sl_stream_pass_find(sl_stream_session_t *s, sl_addr_t *addr)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_listening_t              *ls;
    sl_uint_t                    i;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    ls = cmcf->cycle->listening.elts;

    for (i = 0; i < cmcf->cycle->listening.nelts; i++) {
        if (sl_stream_pass_match(&ls[i], addr)) {
            return &ls[i];
        }
    }

    return NULL;
}

/*
 * A PROXY protocol listen reads its header from the socket: bytes already
 * preread cannot go there. Refused here, while the session is still the
 * passing server's (its log, its status). SL_OK: may pass.
 */
static sl_int_t
sl_stream_pass_refused(sl_stream_session_t *s, sl_listening_t *ls,
    sl_addr_t *addr)
{
    sl_stream_addr_conf_t  *conf;
    sl_connection_t        *c = s->connection;
    sl_listening_t         *own = c->listening;
    struct sockaddr        *sa = c->local_sockaddr;
    socklen_t               len = c->local_socklen;

    if (s->preread == NULL || s->preread->pos == s->preread->last) {
        return SL_OK;
    }

    c->listening = ls;
    c->local_sockaddr = addr->sockaddr;
    c->local_socklen = addr->socklen;

    conf = sl_stream_find_addr_conf(c);

    c->listening = own;
    c->local_sockaddr = sa;
    c->local_socklen = len;

    if (conf == NULL) {
        return SL_ERROR;
    }

    if (conf->proxy_protocol) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "cannot pass connection with "
                     "preread data");
        return SL_ERROR;
    }

    return SL_OK;
}

static void
sl_stream_pass_handler(sl_stream_session_t *s)
{
    sl_stream_pass_srv_conf_t  *pscf;
    sl_connection_t            *c = s->connection;
    sl_listening_t             *ls;
    sl_addr_t                  *addr;
    sl_buf_t                   *preread;

    c->log->action = "passing connection to port";

    pscf = sl_stream_get_module_srv_conf(s, sl_stream_pass_module);

    addr = sl_stream_pass_addr(s, pscf);
    if (addr == NULL || sl_stream_pass_count(c) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ls = sl_stream_pass_find(s, addr);
    if (ls == NULL) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "port not found for \"%V\"",
                     &addr->name);
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    if (sl_stream_pass_refused(s, ls, addr) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    preread = s->preread;
    s->preread = NULL;

    /* the connection as the socket of addr would have accepted it */
    c->listening = ls;
    c->data = NULL;
    c->local_sockaddr = addr->sockaddr;
    c->local_socklen = addr->socklen;

    *c->log = ls->log;
    c->log->connection = c->number;
    c->log->handler = NULL;
    c->log->data = NULL;
    c->log->action = NULL;

    sl_stream_init_passed_connection(c, preread);
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_pass_create_srv_conf(sl_conf_t *cf)
{
    /* addr and addr_value: NULL until set */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_pass_srv_conf_t));
}

static char *
sl_stream_pass(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_pass_srv_conf_t  *pscf = conf;
    sl_stream_core_srv_conf_t  *cscf;
    sl_stream_complex_value_t   cv;
    sl_str_t                   *value = cf->args->elts;
    const char                 *err;
    sl_url_t                    u;

    sl_unused(cmd);

    if (pscf->addr != NULL || pscf->addr_value != NULL) {
        return "is duplicate";
    }

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_pass_handler;

    if (sl_stream_compile_complex_value(cf, &value[1], &cv) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (cv.parts != NULL) {
        pscf->addr_value = sl_palloc(cf->pool,
                                     sizeof(sl_stream_complex_value_t));
        if (pscf->addr_value == NULL) {
            return SL_CONF_ERROR;
        }

        *pscf->addr_value = cv;
        return SL_CONF_OK;
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = value[1];
    u.no_resolve = 1;

    if (sl_parse_url(cf->pool, &u) != SL_OK) {
        err = sl_stream_pass_url_error(&u);

        if (err != NULL) {
            return err[3] == 'a' ? "has no addresses" : "has no port";
        }

        if (u.err != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in \"%V\" of the "
                              "\"pass\" directive", u.err, &u.url);
        }
        return SL_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        return "has no addresses";
    }

    if (u.no_port) {
        return "has no port";
    }

    pscf->addr = &u.addrs[0];
    return SL_CONF_OK;
}
