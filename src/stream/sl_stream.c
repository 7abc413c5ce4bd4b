/*
 * sl_stream.c -- the stream{} block: the stream modules' configurations,
 * merging every server with the stream{} level, the phase engine, and the
 * listening sockets built from the servers' "listen" addresses.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

static char *sl_stream_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *sl_stream_init_conf(sl_cycle_t *cycle, void *conf);

static sl_command_t  sl_stream_commands[] = {

    { sl_string("stream"),
      SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS,
      sl_stream_block,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_core_module_t  sl_stream_module_ctx = {
    sl_string("stream"),
    NULL,
    sl_stream_init_conf
};

sl_module_t  sl_stream_module = {
    .name = "sl_stream_module",
    .ctx = &sl_stream_module_ctx,
    .commands = sl_stream_commands,
    .type = SL_CORE_MODULE,
};

#define sl_stream_each_module(i)                                              \
    for (i = 0; i < cf->cycle->modules_n; i++)                                \
        if (cf->cycle->modules[i]->type == SL_STREAM_MODULE)

/* the main conf and the stream{}-level srv conf of every stream module */
static sl_int_t
sl_stream_create_confs(sl_conf_t *cf, sl_stream_conf_ctx_t *ctx)
{
    sl_stream_module_t  *module;
    sl_uint_t            i, mi, n;

    n = sl_count_modules(cf->cycle, SL_STREAM_MODULE);

    ctx->main_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    ctx->srv_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    if (ctx->main_conf == NULL || ctx->srv_conf == NULL) {
        return SL_ERROR;
    }

    sl_stream_each_module(i) {
        module = cf->cycle->modules[i]->ctx;
        mi = cf->cycle->modules[i]->ctx_index;

        if (module->create_main_conf != NULL) {
            ctx->main_conf[mi] = module->create_main_conf(cf);
            if (ctx->main_conf[mi] == NULL) {
                return SL_ERROR;
            }
        }

        if (module->create_srv_conf != NULL) {
            ctx->srv_conf[mi] = module->create_srv_conf(cf);
            if (ctx->srv_conf[mi] == NULL) {
                return SL_ERROR;
            }
        }
    }

    return SL_OK;
}

static sl_int_t
sl_stream_preconfiguration(sl_conf_t *cf)
{
    sl_stream_module_t  *module;
    sl_uint_t            i;

    sl_stream_each_module(i) {
        module = cf->cycle->modules[i]->ctx;
        if (module->preconfiguration != NULL
            && module->preconfiguration(cf) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static sl_int_t
sl_stream_postconfiguration(sl_conf_t *cf)
{
    sl_stream_module_t  *module;
    sl_uint_t            i;

    sl_stream_each_module(i) {
        module = cf->cycle->modules[i]->ctx;
        if (module->postconfiguration != NULL
            && module->postconfiguration(cf) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* init main confs, then merge each server's srv confs with stream{}'s */
static char *
sl_stream_merge_servers(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_stream_core_srv_conf_t  **cscfp = cmcf->servers.elts;
    sl_stream_conf_ctx_t        *ctx = cf->ctx;
    sl_stream_module_t          *module;
    sl_uint_t                    i, mi, s;
    char                        *rv;

    sl_stream_each_module(i) {
        module = cf->cycle->modules[i]->ctx;
        mi = cf->cycle->modules[i]->ctx_index;

        if (module->init_main_conf != NULL) {
            rv = module->init_main_conf(cf, ctx->main_conf[mi]);
            if (rv != SL_CONF_OK) {
                return rv;
            }
        }

        if (module->merge_srv_conf == NULL) {
            continue;
        }

        for (s = 0; s < cmcf->servers.nelts; s++) {
            cf->ctx = cscfp[s]->ctx;
            rv = module->merge_srv_conf(cf, ctx->srv_conf[mi],
                                        cscfp[s]->ctx->srv_conf[mi]);
            cf->ctx = ctx;
            if (rv != SL_CONF_OK) {
                return rv;
            }
        }
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_init_phases(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_uint_t  i;

    for (i = 0; i <= SL_STREAM_LOG_PHASE; i++) {
        if (sl_array_init(&cmcf->phases[i].handlers, cf->pool, 1,
                          sizeof(sl_stream_handler_pt))
            != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static sl_stream_phase_checker_pt
sl_stream_phase_checker(sl_uint_t phase)
{
    return phase == SL_STREAM_PREREAD_PHASE ? sl_stream_core_preread_phase
                                            : sl_stream_core_generic_phase;
}

/*
 * The phases as one flat array, run in order: each handler knows where
 * the next phase starts; the content phase is one checker; a NULL checker
 * ends it. The log phase is not in it: finalizing runs it.
 */
static sl_int_t
sl_stream_init_phase_handlers(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_stream_phase_handler_t  *ph;
    sl_stream_handler_pt       *h;
    sl_uint_t                   i, j, n = 1;

    for (i = 0; i < SL_STREAM_CONTENT_PHASE; i++) {
        n += cmcf->phases[i].handlers.nelts;
    }

    ph = sl_pcalloc(cf->pool, (n + 1) * sizeof(sl_stream_phase_handler_t));
    if (ph == NULL) {
        return SL_ERROR;
    }

    cmcf->phase_engine = ph;
    n = 0;

    for (i = 0; i < SL_STREAM_CONTENT_PHASE; i++) {
        h = cmcf->phases[i].handlers.elts;
        n += cmcf->phases[i].handlers.nelts;

        for (j = 0; j < cmcf->phases[i].handlers.nelts; j++) {
            ph->checker = sl_stream_phase_checker(i);
            ph->handler = h[j];
            ph->next = n;
            ph++;
        }
    }

    ph->checker = sl_stream_core_content_phase;
    return SL_OK;
}

/* everything after the block's directives were read */
static char *
sl_stream_finish_block(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    char  *rv;

    rv = sl_stream_merge_servers(cf, cmcf);
    if (rv != SL_CONF_OK) {
        return rv;
    }

    if (sl_stream_init_phases(cf, cmcf) != SL_OK
        || sl_stream_postconfiguration(cf) != SL_OK
        || sl_stream_variables_init_vars(cf) != SL_OK
        || sl_stream_init_phase_handlers(cf, cmcf) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static sl_int_t sl_stream_optimize_servers(sl_conf_t *cf,
    sl_stream_core_main_conf_t *cmcf);

static char *
sl_stream_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_conf_ctx_t        *ctx, **slot = conf;
    sl_stream_core_main_conf_t  *cmcf;
    sl_conf_t                    pcf;
    char                        *rv;

    sl_unused(cmd);

    if (*slot != NULL) {
        return "is duplicate";
    }

    sl_conf_modules_used(cf, "stream");

    ctx = sl_pcalloc(cf->pool, sizeof(sl_stream_conf_ctx_t));
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }

    *slot = ctx;
    pcf = *cf;
    cf->ctx = ctx;

    if (sl_stream_create_confs(cf, ctx) != SL_OK
        || sl_stream_preconfiguration(cf) != SL_OK)
    {
        *cf = pcf;
        return SL_CONF_ERROR;
    }

    cf->module_type = SL_STREAM_MODULE;
    cf->cmd_type = SL_STREAM_MAIN_CONF;

    rv = sl_conf_parse(cf, NULL);

    cmcf = ctx->main_conf[sl_stream_core_module.ctx_index];

    if (rv == SL_CONF_OK) {
        rv = sl_stream_finish_block(cf, cmcf);
    }

    if (rv == SL_CONF_OK && sl_stream_optimize_servers(cf, cmcf) != SL_OK) {
        rv = SL_CONF_ERROR;
    }

    *cf = pcf;
    return rv;
}

/* --- listen addresses ---------------------------------------------------- */

/*
 * Another server on an address already listened on: it joins the
 * address's servers. The socket options are given once, by any of them;
 * one default server at most; "ssl" on one makes the address TLS.
 */
static sl_int_t
sl_stream_add_server(sl_conf_t *cf, sl_stream_core_srv_conf_t *cscf,
    sl_stream_listen_t *ls, sl_stream_listen_t *lsopt)
{
    sl_stream_core_srv_conf_t  **server, **s = ls->servers.elts;
    sl_stream_listen_t           saved;
    sl_uint_t                    i;

    for (i = 0; i < ls->servers.nelts; i++) {
        if (s[i] == cscf) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "a duplicate listen %V",
                              &lsopt->addr_text);
            return SL_ERROR;
        }
    }

    if (lsopt->set) {
        if (ls->set) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate listen options "
                              "for %V", &lsopt->addr_text);
            return SL_ERROR;
        }

        saved = *ls;
        *ls = *lsopt;
        ls->servers = saved.servers;
        ls->server = saved.server;
        ls->default_server = saved.default_server;
        ls->ssl = saved.ssl;
        ls->proxy_protocol = saved.proxy_protocol;
    }

    if (lsopt->default_server) {
        if (ls->default_server) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "a duplicate default "
                              "server for %V", &lsopt->addr_text);
            return SL_ERROR;
        }

        ls->default_server = 1;
        ls->server = cscf;
    }

    ls->ssl |= lsopt->ssl;
    ls->proxy_protocol |= lsopt->proxy_protocol;

    server = sl_array_push(&ls->servers);
    if (server == NULL) {
        return SL_ERROR;
    }

    *server = cscf;
    return SL_OK;
}

sl_int_t
sl_stream_add_listen(sl_conf_t *cf, sl_stream_core_srv_conf_t *cscf,
    sl_stream_listen_t *lsopt)
{
    sl_stream_core_main_conf_t   *cmcf;
    sl_stream_core_srv_conf_t   **server;
    sl_stream_listen_t           *ls;
    sl_uint_t                     i;

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    ls = cmcf->listen.elts;
    for (i = 0; i < cmcf->listen.nelts; i++) {
        if (sl_cmp_sockaddr(ls[i].sockaddr, ls[i].socklen, lsopt->sockaddr,
                            lsopt->socklen, 1)
            == SL_OK)
        {
            return sl_stream_add_server(cf, cscf, &ls[i], lsopt);
        }
    }

    ls = sl_array_push(&cmcf->listen);
    if (ls == NULL) {
        return SL_ERROR;
    }

    *ls = *lsopt;
    ls->server = cscf;

    if (sl_array_init(&ls->servers, cf->pool, 2,
                      sizeof(sl_stream_core_srv_conf_t *))
        != SL_OK)
    {
        return SL_ERROR;
    }

    server = sl_array_push(&ls->servers);
    if (server == NULL) {
        return SL_ERROR;
    }

    *server = cscf;
    return SL_OK;
}

/* the same port of the same family: one wildcard socket can serve both */
static sl_uint_t
sl_stream_same_port(sl_stream_listen_t *a, sl_stream_listen_t *b)
{
    return a->sockaddr->sa_family == b->sockaddr->sa_family
           && a->sockaddr->sa_family != AF_UNIX
           && sl_inet_get_port(a->sockaddr) == sl_inet_get_port(b->sockaddr);
}

/* an address left to the wildcard socket of its port */
static sl_uint_t
sl_stream_served_by_wildcard(sl_stream_core_main_conf_t *cmcf,
    sl_stream_listen_t *l)
{
    sl_stream_listen_t  *ls = cmcf->listen.elts;
    sl_uint_t            i;

    if (l->wildcard || l->bind) {
        return 0;
    }

    for (i = 0; i < cmcf->listen.nelts; i++) {
        if (ls[i].wildcard && sl_stream_same_port(&ls[i], l)) {
            return 1;
        }
    }

    return 0;
}

static sl_int_t
sl_stream_add_server_names(sl_conf_t *cf, sl_hash_keys_t *ha,
    sl_stream_listen_t *l, sl_stream_core_srv_conf_t *cscf)
{
    sl_stream_server_name_t  *sn = cscf->server_names.elts;
    sl_uint_t                 i;
    sl_int_t                  rc;

    for (i = 0; i < cscf->server_names.nelts; i++) {
        if (sn[i].regex != NULL || sn[i].name.len == 0) {
            continue;       /* "": no SNI name is empty */
        }

        rc = sl_hash_add_key(ha, &sn[i].name, cscf, SL_HASH_WILDCARD_KEY);

        if (rc == SL_ERROR) {
            return SL_ERROR;
        }

        if (rc == SL_DECLINED) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "invalid server name or "
                         "wildcard \"%V\" on %V", &sn[i].name, &l->addr_text);
            return SL_ERROR;
        }

        if (rc == SL_BUSY) {
            sl_log_error(SL_LOG_WARN, cf->log, 0, "conflicting server name "
                         "\"%V\" on %V, ignored", &sn[i].name, &l->addr_text);
        }
    }

    return SL_OK;
}

/*
 * The regular expressions of the address's servers, in the order of the
 * configuration: a lookup tries them in turn after the hash.
 */
static sl_int_t
sl_stream_server_regexes(sl_conf_t *cf, sl_stream_listen_t *l,
    sl_stream_virtual_names_t *vn)
{
    sl_stream_core_srv_conf_t  **s = l->servers.elts;
    sl_stream_server_name_t     *sn;
    sl_uint_t                    i, j, n = 0;

    for (i = 0; i < l->servers.nelts; i++) {
        sn = s[i]->server_names.elts;
        for (j = 0; j < s[i]->server_names.nelts; j++) {
            n += sn[j].regex != NULL;
        }
    }

    if (n == 0) {
        return SL_OK;
    }

    vn->regex = sl_palloc(cf->pool, n * sizeof(sl_stream_server_name_t));
    if (vn->regex == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < l->servers.nelts; i++) {
        sn = s[i]->server_names.elts;
        for (j = 0; j < s[i]->server_names.nelts; j++) {
            if (sn[j].regex != NULL) {
                vn->regex[vn->nregex++] = sn[j];
            }
        }
    }

    return SL_OK;
}

/* does any server of the address have a name other than "" */
static sl_uint_t
sl_stream_named_servers(sl_stream_listen_t *l)
{
    sl_stream_core_srv_conf_t  **s = l->servers.elts;
    sl_stream_server_name_t     *sn;
    sl_uint_t                    i, j;

    for (i = 0; i < l->servers.nelts; i++) {
        sn = s[i]->server_names.elts;
        for (j = 0; j < s[i]->server_names.nelts; j++) {
            if (sn[j].name.len > 0 || sn[j].regex != NULL) {
                return 1;
            }
        }
    }

    return 0;
}

/* the server_name table of an address, NULL when no server has names */
static sl_int_t
sl_stream_virtual_names(sl_conf_t *cf, sl_stream_listen_t *l,
    sl_stream_virtual_names_t **vnp)
{
    sl_stream_core_srv_conf_t  **s = l->servers.elts;
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_virtual_names_t   *vn;
    sl_hash_keys_t               ha;
    sl_uint_t                    i;

    *vnp = NULL;

    if (!sl_stream_named_servers(l)) {
        return SL_OK;
    }

    vn = sl_pcalloc(cf->pool, sizeof(sl_stream_virtual_names_t));
    if (vn == NULL || sl_hash_keys_init(&ha, cf->pool, cf->temp_pool) != SL_OK)
    {
        return SL_ERROR;
    }

    for (i = 0; i < l->servers.nelts; i++) {
        if (sl_stream_add_server_names(cf, &ha, l, s[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    if (sl_hash_check_sizes(&ha, cf->log, "server_names_hash",
                            cmcf->server_names_hash_max_size,
                            cmcf->server_names_hash_bucket_size) != SL_OK
        || sl_hash_combined_init(&vn->names, &ha, cf->pool) != SL_OK
        || sl_stream_server_regexes(cf, l, vn) != SL_OK)
    {
        return SL_ERROR;
    }

    *vnp = vn;
    return SL_OK;
}

static sl_int_t
sl_stream_set_addr(sl_conf_t *cf, sl_stream_addr_t *addr,
    sl_stream_listen_t *l)
{
    addr->sockaddr = l->sockaddr;
    addr->socklen = l->socklen;
    addr->conf.ctx = l->server->ctx;
    addr->conf.default_server = l->server;
    addr->conf.addr_text = l->addr_text;
    addr->conf.ssl = l->ssl;
    addr->conf.proxy_protocol = l->proxy_protocol;

    return sl_stream_virtual_names(cf, l, &addr->conf.virtual_names);
}

/*
 * The addresses one socket serves: itself alone, or, for a wildcard, the
 * addresses of its port that it serves first and itself last (the
 * fallback of sl_stream_init_connection()).
 */
static sl_stream_port_t *
sl_stream_port(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf,
    sl_stream_listen_t *l)
{
    sl_stream_listen_t  *ls = cmcf->listen.elts;
    sl_stream_port_t    *port;
    sl_uint_t            i, n = 1;

    for (i = 0; l->wildcard && i < cmcf->listen.nelts; i++) {
        n += (&ls[i] != l && sl_stream_served_by_wildcard(cmcf, &ls[i])
              && sl_stream_same_port(&ls[i], l));
    }

    port = sl_pcalloc(cf->pool, sizeof(sl_stream_port_t));
    if (port == NULL) {
        return NULL;
    }

    port->addrs = sl_pcalloc(cf->pool, n * sizeof(sl_stream_addr_t));
    if (port->addrs == NULL) {
        return NULL;
    }

    for (i = 0; l->wildcard && i < cmcf->listen.nelts; i++) {
        if (&ls[i] != l && sl_stream_served_by_wildcard(cmcf, &ls[i])
            && sl_stream_same_port(&ls[i], l)
            && sl_stream_set_addr(cf, &port->addrs[port->naddrs++], &ls[i])
               != SL_OK)
        {
            return NULL;
        }
    }

    if (sl_stream_set_addr(cf, &port->addrs[port->naddrs++], l) != SL_OK) {
        return NULL;
    }

    return port;
}

void
sl_stream_session_size(sl_conf_t *cf, sl_module_t *module, size_t size)
{
    sl_stream_core_srv_conf_t  *cscf;

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->session_size = size;
    cscf->session_nctx = module->ctx_index + 1;
}

/*
 * The pool of a session accepted on l: what accepting and starting it take
 * (sl_accept_init_connection(), sl_stream_create_session()), each piece
 * aligned as the pool aligns it, plus what its content handler declared.
 * TLS, the PROXY protocol, a wildcard serving other addresses or a handler
 * that declared nothing take more or unknown: the default size, and a
 * session that outgrows its pool gets a second block as ever.
 */
static size_t
sl_stream_pool_size(sl_stream_core_main_conf_t *cmcf, sl_stream_listen_t *l,
    sl_stream_port_t *port)
{
    sl_stream_core_srv_conf_t  **s = l->servers.elts;
    size_t                       fixed, text, size = 0;
    sl_uint_t                    i;

    if (l->ssl || l->proxy_protocol || port->naddrs > 1) {
        return SL_STREAM_POOL_SIZE;
    }

    text = l->sockaddr->sa_family == AF_INET
           ? sizeof("255.255.255.255") - 1
           : l->sockaddr->sa_family == AF_INET6 ? SL_INET6_ADDRSTRLEN
                                                : SL_SOCKADDR_STRLEN;

    fixed = sizeof(sl_pool_t)
            + sl_align((size_t) l->socklen, SL_ALIGNMENT)   /* the peer's */
            + sl_align(sizeof(sl_log_t), SL_ALIGNMENT)
            + sl_align(text, SL_ALIGNMENT)
            + sl_align(sizeof(sl_stream_session_t), SL_ALIGNMENT)
            + cmcf->variables.nelts * sizeof(sl_stream_variable_value_t);

    for (i = 0; i < l->servers.nelts; i++) {
        if (s[i]->session_size == 0) {
            return SL_STREAM_POOL_SIZE;
        }

        size = sl_max(size, fixed + s[i]->session_nctx * sizeof(void *)
                            + sl_align(s[i]->session_size, SL_ALIGNMENT));
    }

    /* sl_create_pool() rounds down to its alignment */
    return sl_align(size, SL_POOL_ALIGNMENT);
}

static sl_int_t
sl_stream_add_listening(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf,
    sl_stream_listen_t *l)
{
    sl_listening_t  *ls;

    ls = sl_create_listening(cf->cycle, l->sockaddr, l->socklen);
    if (ls == NULL) {
        return SL_ERROR;
    }

    ls->servers = sl_stream_port(cf, cmcf, l);
    if (ls->servers == NULL) {
        return SL_ERROR;
    }

    ls->pool_size = sl_stream_pool_size(cmcf, l, ls->servers);
    ls->handler = sl_stream_init_connection;
    ls->logp = l->server->error_log;    /* copied when the config is done */
    ls->type = SOCK_STREAM;
    ls->backlog = l->backlog;
    ls->rcvbuf = l->rcvbuf;
    ls->sndbuf = l->sndbuf;
    ls->keepalive = l->so_keepalive;
    ls->keepidle = l->keepidle;
    ls->keepintvl = l->keepintvl;
    ls->keepcnt = l->keepcnt;
    ls->reuseport = l->reuseport;
    ls->deferred_accept = l->deferred_accept;
    ls->ipv6only = l->ipv6only;
    ls->wildcard = l->wildcard;
    return SL_OK;
}

/* one listening socket per bound address, in the order of the config */
static sl_int_t
sl_stream_optimize_servers(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_stream_listen_t  *ls = cmcf->listen.elts;
    sl_uint_t            i;

    for (i = 0; i < cmcf->listen.nelts; i++) {
        if (sl_stream_served_by_wildcard(cmcf, &ls[i])) {
            continue;
        }

        if (sl_stream_add_listening(cf, cmcf, &ls[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* --- when the whole configuration is read -------------------------------- */

/* " while accepting new connection on ADDR" after an accept error */
static u_char *
sl_stream_accept_log_error(sl_log_t *log, u_char *buf, size_t len)
{
    return sl_snprintf(buf, len, " while accepting new connection on %V",
                       (sl_str_t *) log->data);
}

/*
 * The listening sockets' logs are copied only now: an error_log that
 * follows the stream{} block, or the default one, is known only now.
 */
static char *
sl_stream_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i;

    if (conf == NULL) {
        return SL_CONF_OK;
    }

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].handler != sl_stream_init_connection) {
            continue;
        }

        ls[i].log = *ls[i].logp;
        ls[i].log.handler = sl_stream_accept_log_error;
        ls[i].log.data = &ls[i].addr_text;
    }

    return SL_CONF_OK;
}
