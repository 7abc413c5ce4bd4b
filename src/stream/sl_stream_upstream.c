/*
 * sl_stream_upstream.c -- "upstream NAME { server ADDR [params]; }", the
 * registry of groups, and their initialisation at the end of stream{}.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

static void *sl_stream_upstream_create_main_conf(sl_conf_t *cf);
static char *sl_stream_upstream_init_main_conf(sl_conf_t *cf, void *conf);
static char *sl_stream_upstream(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_upstream_server(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_upstream_commands[] = {

    { sl_string("upstream"),
      SL_STREAM_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE1,
      sl_stream_upstream,
      0,
      0,
      NULL },

    { sl_string("server"),
      SL_STREAM_UPS_CONF | SL_CONF_1MORE,
      sl_stream_upstream_server,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_upstream_module_ctx = {
    NULL,
    NULL,
    sl_stream_upstream_create_main_conf,
    sl_stream_upstream_init_main_conf,
    NULL,
    NULL
};

sl_module_t  sl_stream_upstream_module = {
    .name = "sl_stream_upstream_module",
    .ctx = &sl_stream_upstream_module_ctx,
    .commands = sl_stream_upstream_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the registry -------------------------------------------------------- */

sl_stream_upstream_srv_conf_t *
sl_stream_upstream_find(sl_stream_upstream_main_conf_t *umcf, sl_str_t *name)
{
    sl_stream_upstream_srv_conf_t  **uscfp = umcf->upstreams.elts;
    sl_uint_t                        i;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if ((uscfp[i]->flags & SL_STREAM_UPSTREAM_CREATE)
            && sl_str_caseeq(&uscfp[i]->host, name))
        {
            return uscfp[i];
        }
    }

    return NULL;
}

sl_stream_upstream_srv_conf_t *
sl_stream_upstream_add(sl_conf_t *cf, sl_url_t *u, sl_uint_t flags)
{
    sl_stream_upstream_main_conf_t   *umcf;
    sl_stream_upstream_srv_conf_t    *uscf, **uscfp;
    sl_stream_upstream_server_t      *us;
    sl_uint_t                         i;

    umcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (!sl_str_caseeq(&uscfp[i]->host, &u->host)) {
            continue;
        }

        if ((flags & SL_STREAM_UPSTREAM_CREATE)
            && (uscfp[i]->flags & SL_STREAM_UPSTREAM_CREATE))
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate upstream "
                              "\"%V\"", &u->host);
            return NULL;
        }

        if ((uscfp[i]->flags & SL_STREAM_UPSTREAM_CREATE) && !u->no_port) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "upstream \"%V\" may not "
                              "have port %d", &u->host, (int) u->port);
            return NULL;
        }

        if ((flags & SL_STREAM_UPSTREAM_CREATE) && !uscfp[i]->no_port) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "upstream \"%V\" may not "
                              "have port %d in %V:%ui", &u->host,
                              (int) uscfp[i]->port, &uscfp[i]->file_name,
                              uscfp[i]->line);
            return NULL;
        }

        if (uscfp[i]->port != u->port) {
            continue;
        }

        if (flags & SL_STREAM_UPSTREAM_CREATE) {
            /* proxy_pass named it first: this block defines it */
            uscfp[i]->flags = flags;
        }

        return uscfp[i];
    }

    uscf = sl_pcalloc(cf->pool, sizeof(sl_stream_upstream_srv_conf_t));
    uscfp = sl_array_push(&umcf->upstreams);
    if (uscf == NULL || uscfp == NULL) {
        return NULL;
    }

    uscf->flags = flags;
    uscf->host = u->host;
    uscf->file_name = cf->conf_file->name;
    uscf->line = cf->conf_file->start_line;
    uscf->port = u->port;
    uscf->no_port = u->no_port;

    if (u->naddrs > 0 && !(flags & SL_STREAM_UPSTREAM_CREATE)) {
        /* proxy_pass ADDRESS: a group of what the address resolved to */
        uscf->servers = sl_array_create(cf->pool, 1,
                                        sizeof(sl_stream_upstream_server_t));
        if (uscf->servers == NULL) {
            return NULL;
        }

        us = sl_array_push(uscf->servers);
        sl_memzero(us, sizeof(sl_stream_upstream_server_t));
        us->name = u->url;
        us->addrs = u->addrs;
        us->naddrs = u->naddrs;
        us->weight = 1;
        us->max_fails = 1;
        us->fail_timeout = 10;
    }

    *uscfp = uscf;
    return uscf;
}

sl_stream_upstream_srv_conf_t *
sl_stream_upstream_set_balancer(sl_conf_t *cf, sl_stream_upstream_init_pt init,
    sl_uint_t flags)
{
    sl_stream_upstream_srv_conf_t  *uscf;

    uscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_upstream_module);

    if (uscf->peer.init_upstream) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "load balancing method "
                          "redefined");
    }

    uscf->peer.init_upstream = init;
    uscf->flags = flags;
    return uscf;
}

/* --- upstream{} ---------------------------------------------------------- */

static char *
sl_stream_upstream_block_ctx(sl_conf_t *cf, sl_stream_upstream_srv_conf_t *uscf,
    sl_stream_conf_ctx_t **ctxp)
{
    sl_stream_conf_ctx_t  *ctx, *stream_ctx = cf->ctx;
    sl_stream_module_t    *module;
    sl_uint_t              i, mi;

    ctx = sl_pcalloc(cf->pool, sizeof(sl_stream_conf_ctx_t));
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }

    ctx->main_conf = stream_ctx->main_conf;
    ctx->srv_conf = sl_pcalloc(cf->pool, sl_count_modules(cf->cycle, SL_STREAM_MODULE)
                                         * sizeof(void *));
    if (ctx->srv_conf == NULL) {
        return SL_CONF_ERROR;
    }

    ctx->srv_conf[sl_stream_upstream_module.ctx_index] = uscf;
    uscf->srv_conf = ctx->srv_conf;

    for (i = 0; i < cf->cycle->modules_n; i++) {
        if (cf->cycle->modules[i]->type != SL_STREAM_MODULE) {
            continue;
        }

        module = cf->cycle->modules[i]->ctx;
        mi = cf->cycle->modules[i]->ctx_index;

        if (module->create_srv_conf != NULL && ctx->srv_conf[mi] == NULL) {
            ctx->srv_conf[mi] = module->create_srv_conf(cf);
            if (ctx->srv_conf[mi] == NULL) {
                return SL_CONF_ERROR;
            }
        }
    }

    *ctxp = ctx;
    return SL_CONF_OK;
}

static char *
sl_stream_upstream(sl_conf_t *cf, sl_command_t *cmd, void *dummy)
{
    sl_stream_upstream_srv_conf_t  *uscf;
    sl_stream_conf_ctx_t           *ctx;
    sl_str_t                       *value = cf->args->elts;
    sl_url_t                        u;
    sl_conf_t                       pcf;
    char                           *rv;

    sl_unused(cmd);
    sl_unused(dummy);

    sl_memzero(&u, sizeof(sl_url_t));
    u.host = value[1];
    u.no_resolve = 1;
    u.no_port = 1;

    uscf = sl_stream_upstream_add(cf, &u, SL_STREAM_UPSTREAM_CREATE
                                          | SL_STREAM_UPSTREAM_WEIGHT
                                          | SL_STREAM_UPSTREAM_MAX_CONNS
                                          | SL_STREAM_UPSTREAM_MAX_FAILS
                                          | SL_STREAM_UPSTREAM_FAIL_TIMEOUT
                                          | SL_STREAM_UPSTREAM_DOWN
                                          | SL_STREAM_UPSTREAM_BACKUP);
    if (uscf == NULL) {
        return SL_CONF_ERROR;
    }

    if (sl_stream_upstream_block_ctx(cf, uscf, &ctx) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }

    uscf->servers = sl_array_create(cf->pool, 4,
                                    sizeof(sl_stream_upstream_server_t));
    if (uscf->servers == NULL) {
        return SL_CONF_ERROR;
    }

    pcf = *cf;
    cf->ctx = ctx;
    cf->cmd_type = SL_STREAM_UPS_CONF;

    rv = sl_conf_parse(cf, NULL);

    *cf = pcf;

    if (rv != SL_CONF_OK) {
        return rv;
    }

    if (uscf->servers->nelts == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no servers are inside "
                          "upstream");
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* --- server -------------------------------------------------------------- */

/* "NAME=N": the number, or SL_ERROR */
static sl_int_t
sl_stream_upstream_param_num(sl_str_t *v, size_t skip)
{
    return sl_atoi(v->data + skip, v->len - skip);
}

static char *
sl_stream_upstream_server_param(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *uscf, sl_stream_upstream_server_t *us,
    sl_str_t *v)
{
    sl_str_t  s;
    sl_int_t  n;

    if (v->len > 7 && sl_strncmp(v->data, "weight=", 7) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_WEIGHT))
    {
        n = sl_stream_upstream_param_num(v, 7);
        if (n == SL_ERROR || n == 0) {
            return "invalid";
        }
        us->weight = (sl_uint_t) n;
        return SL_CONF_OK;
    }

    if (v->len > 10 && sl_strncmp(v->data, "max_conns=", 10) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_MAX_CONNS))
    {
        n = sl_stream_upstream_param_num(v, 10);
        if (n == SL_ERROR) {
            return "invalid";
        }
        us->max_conns = (sl_uint_t) n;
        return SL_CONF_OK;
    }

    if (v->len > 10 && sl_strncmp(v->data, "max_fails=", 10) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_MAX_FAILS))
    {
        n = sl_stream_upstream_param_num(v, 10);
        if (n == SL_ERROR) {
            return "invalid";
        }
        us->max_fails = (sl_uint_t) n;
        return SL_CONF_OK;
    }

    if (v->len > 13 && sl_strncmp(v->data, "fail_timeout=", 13) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_FAIL_TIMEOUT))
    {
        s.data = v->data + 13;
        s.len = v->len - 13;
        n = sl_parse_time(&s, 1);
        if (n == SL_ERROR) {
            return "invalid";
        }
        us->fail_timeout = (time_t) n;
        return SL_CONF_OK;
    }

    if (v->len == 6 && sl_strncmp(v->data, "backup", 6) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_BACKUP))
    {
        us->backup = 1;
        return SL_CONF_OK;
    }

    if (v->len == 4 && sl_strncmp(v->data, "down", 4) == 0
        && (uscf->flags & SL_STREAM_UPSTREAM_DOWN))
    {
        us->down = 1;
        return SL_CONF_OK;
    }

    sl_unused(cf);
    return "invalid";
}

static char *
sl_stream_upstream_server(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_upstream_srv_conf_t  *uscf = conf;
    sl_stream_upstream_server_t    *us;
    sl_str_t                       *value = cf->args->elts;
    sl_uint_t                       i;
    sl_url_t                        u;

    sl_unused(cmd);

    us = sl_array_push(uscf->servers);
    if (us == NULL) {
        return SL_CONF_ERROR;
    }

    sl_memzero(us, sizeof(sl_stream_upstream_server_t));
    us->weight = 1;
    us->max_fails = 1;
    us->fail_timeout = 10;

    for (i = 2; i < cf->args->nelts; i++) {
        if (sl_stream_upstream_server_param(cf, uscf, us, &value[i])
            != SL_CONF_OK)
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter "
                              "\"%V\"", &value[i]);
            return SL_CONF_ERROR;
        }
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = value[1];

    if (sl_parse_url(cf->pool, &u) != SL_OK) {
        if (u.err != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in upstream \"%V\"",
                              u.err, &u.url);
        }
        return SL_CONF_ERROR;
    }

    if (u.no_port) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no port in upstream \"%V\"",
                          &u.url);
        return SL_CONF_ERROR;
    }

    us->name = u.url;
    us->addrs = u.addrs;
    us->naddrs = u.naddrs;
    return SL_CONF_OK;
}

/* --- the end of stream{} ------------------------------------------------- */

static void *
sl_stream_upstream_create_main_conf(sl_conf_t *cf)
{
    sl_stream_upstream_main_conf_t  *umcf;

    umcf = sl_pcalloc(cf->pool, sizeof(sl_stream_upstream_main_conf_t));
    if (umcf == NULL) {
        return NULL;
    }

    if (sl_array_init(&umcf->upstreams, cf->pool, 4,
                      sizeof(sl_stream_upstream_srv_conf_t *)) != SL_OK)
    {
        return NULL;
    }

    return umcf;
}

static char *
sl_stream_upstream_init_main_conf(sl_conf_t *cf, void *conf)
{
    sl_stream_upstream_main_conf_t   *umcf = conf;
    sl_stream_upstream_srv_conf_t   **uscfp = umcf->upstreams.elts;
    sl_stream_upstream_init_pt        init;
    sl_uint_t                         i;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        init = uscfp[i]->peer.init_upstream
               ? uscfp[i]->peer.init_upstream
               : sl_stream_upstream_init_round_robin;

        if (init(cf, uscfp[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    return SL_CONF_OK;
}
