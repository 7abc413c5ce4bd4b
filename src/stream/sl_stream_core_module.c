/*
 * sl_stream_core_module.c -- server{}, listen, error_log, tcp_nodelay,
 * preread_buffer_size, preread_timeout, shutdown_idle; and the phase
 * checkers that run a session through its phases.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

#define SL_STREAM_LISTEN_BACKLOG  511

static sl_int_t sl_stream_core_preconfiguration(sl_conf_t *cf);
static void *sl_stream_core_create_main_conf(sl_conf_t *cf);
static char *sl_stream_core_init_main_conf(sl_conf_t *cf, void *conf);
static void *sl_stream_core_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_core_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_core_server(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_core_listen(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_core_error_log(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_core_server_name(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_core_commands[] = {

    { sl_string("server"),
      SL_STREAM_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS,
      sl_stream_core_server,
      0,
      0,
      NULL },

    { sl_string("server_names_hash_max_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_core_main_conf_t, server_names_hash_max_size),
      NULL },

    { sl_string("server_names_hash_bucket_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_core_main_conf_t, server_names_hash_bucket_size),
      NULL },

    { sl_string("variables_hash_max_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_core_main_conf_t, variables_hash_max_size),
      NULL },

    { sl_string("variables_hash_bucket_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_core_main_conf_t, variables_hash_bucket_size),
      NULL },

    { sl_string("listen"),
      SL_STREAM_SRV_CONF | SL_CONF_1MORE,
      sl_stream_core_listen,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("server_name"),
      SL_STREAM_SRV_CONF | SL_CONF_1MORE,
      sl_stream_core_server_name,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("error_log"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_1MORE,
      sl_stream_core_error_log,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("tcp_nodelay"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_core_srv_conf_t, tcp_nodelay),
      NULL },

    { sl_string("preread_buffer_size"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_core_srv_conf_t, preread_buffer_size),
      NULL },

    { sl_string("preread_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_core_srv_conf_t, preread_timeout),
      NULL },

    { sl_string("shutdown_idle"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_core_srv_conf_t, shutdown_idle),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_core_module_ctx = {
    sl_stream_core_preconfiguration,
    NULL,
    sl_stream_core_create_main_conf,
    sl_stream_core_init_main_conf,
    sl_stream_core_create_srv_conf,
    sl_stream_core_merge_srv_conf
};

sl_module_t  sl_stream_core_module = {
    .name = "sl_stream_core_module",
    .ctx = &sl_stream_core_module_ctx,
    .commands = sl_stream_core_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the phase engine ---------------------------------------------------- */

/*
 * The one way a module joins a phase, from its postconfiguration hook
 * (the engine is built after every module's hook has run). The content
 * phase is not a list: a server's content handler is cscf->handler.
 */
sl_int_t
sl_stream_add_phase_handler(sl_conf_t *cf, sl_uint_t phase,
    sl_stream_handler_pt handler)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_handler_pt        *h;

    if (phase > SL_STREAM_LOG_PHASE || phase == SL_STREAM_CONTENT_PHASE) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "no phase %ui to add a stream handler to", phase);
        return SL_ERROR;
    }

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    h = sl_array_push(&cmcf->phases[phase].handlers);
    if (h == NULL) {
        return SL_ERROR;
    }

    *h = handler;
    return SL_OK;
}

void
sl_stream_core_run_phases(sl_stream_session_t *s)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_phase_handler_t   *ph;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    ph = cmcf->phase_engine;

    /* a checker returns SL_OK when the session is no longer ours to run */
    while (ph[s->phase_handler].checker != NULL) {
        if (ph[s->phase_handler].checker(s, &ph[s->phase_handler]) == SL_OK) {
            return;
        }
    }
}

/* what every checker does with a handler's verdict */
static sl_int_t
sl_stream_core_phase_result(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph, sl_int_t rc)
{
    if (rc == SL_OK) {
        s->phase_handler = (unsigned) ph->next;
        return SL_AGAIN;
    }

    if (rc == SL_DECLINED) {
        s->phase_handler++;
        return SL_AGAIN;
    }

    if (rc == SL_AGAIN || rc == SL_DONE) {
        return SL_OK;
    }

    if (rc == SL_ERROR) {
        rc = SL_STREAM_INTERNAL_SERVER_ERROR;
    }

    sl_stream_finalize_session(s, (sl_uint_t) rc);
    return SL_OK;
}

sl_int_t
sl_stream_core_generic_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph)
{
    return sl_stream_core_phase_result(s, ph, ph->handler(s));
}

/*
 * Reads into s->preread until the handler has seen enough. The peer's
 * close or an error ends the session quietly (status 200), a full buffer
 * is a bad request, as in nginx.
 */
static sl_int_t
sl_stream_preread(sl_stream_session_t *s, sl_stream_phase_handler_t *ph)
{
    sl_connection_t  *c = s->connection;
    sl_buf_t         *b = s->preread;
    sl_int_t          rc;
    ssize_t           n;

    while (c->read->ready) {
        n = c->recv(c, b->last, (size_t) (b->end - b->last));

        if (n == SL_AGAIN) {
            return SL_AGAIN;
        }

        if (n == SL_ERROR || n == 0) {
            return SL_STREAM_OK;
        }

        b->last += n;
        s->received += n;

        rc = ph->handler(s);
        if (rc != SL_AGAIN) {
            return rc;
        }

        if (b->last == b->end) {
            sl_log_error(SL_LOG_ERR, c->log, 0, "preread buffer full");
            return SL_STREAM_BAD_REQUEST;
        }
    }

    return SL_AGAIN;
}

static sl_int_t
sl_stream_preread_step(sl_stream_session_t *s, sl_stream_phase_handler_t *ph)
{
    sl_connection_t            *c = s->connection;
    sl_stream_core_srv_conf_t  *cscf;
    sl_int_t                    rc;

    if (c->read->timedout) {
        return SL_STREAM_OK;
    }

    if (!c->read->timer_set) {
        rc = ph->handler(s);
        if (rc != SL_AGAIN) {
            return rc;
        }
    }

    if (s->preread == NULL) {
        cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
        s->preread = sl_create_temp_buf(c->pool, cscf->preread_buffer_size);
        if (s->preread == NULL) {
            return SL_ERROR;
        }
    }

    return sl_stream_preread(s, ph);
}

sl_int_t
sl_stream_core_preread_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph)
{
    sl_connection_t            *c = s->connection;
    sl_stream_core_srv_conf_t  *cscf;
    sl_int_t                    rc;

    c->log->action = "prereading client data";

    rc = sl_stream_preread_step(s, ph);

    if (rc == SL_AGAIN) {
        if (sl_handle_read_event(c->read, 0) != SL_OK) {
            sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
            return SL_OK;
        }

        if (!c->read->timer_set) {
            cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
            sl_add_timer(c->read, cscf->preread_timeout);
        }

        c->read->handler = sl_stream_session_handler;
        return SL_OK;
    }

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    return sl_stream_core_phase_result(s, ph, rc);
}

sl_int_t
sl_stream_core_content_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph)
{
    sl_connection_t            *c = s->connection;
    sl_stream_core_srv_conf_t  *cscf;

    sl_unused(ph);

    c->log->action = NULL;
    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);

    if (c->type == SOCK_STREAM && cscf->tcp_nodelay
        && sl_tcp_nodelay(c) != SL_OK)
    {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }

    /*
     * The content handler owns the connection from here: until it says
     * otherwise, input is not its business and must not run the phases
     * again. A level-triggered back end stops watching for it, or unread
     * input would wake the loop for ever.
     */
    c->read->handler = sl_stream_empty_handler;
    if (sl_handle_read_event(c->read, SL_CLOSE_EVENT) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }

    cscf->handler(s);
    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

static sl_int_t
sl_stream_core_preconfiguration(sl_conf_t *cf)
{
    return sl_stream_variables_add_core_vars(cf);
}

static void *
sl_stream_core_create_main_conf(sl_conf_t *cf)
{
    sl_stream_core_main_conf_t  *cmcf;

    cmcf = sl_pcalloc(cf->pool, sizeof(sl_stream_core_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    if (sl_array_init(&cmcf->servers, cf->pool, 4,
                      sizeof(sl_stream_core_srv_conf_t *)) != SL_OK
        || sl_array_init(&cmcf->listen, cf->pool, 4,
                         sizeof(sl_stream_listen_t)) != SL_OK
        || sl_array_init(&cmcf->variables, cf->pool, 8,
                         sizeof(sl_stream_variable_t)) != SL_OK
        || sl_array_init(&cmcf->variables_keys, cf->pool, 32,
                         sizeof(sl_stream_variable_t *)) != SL_OK)
    {
        return NULL;
    }

    cmcf->cycle = cf->cycle;
    cmcf->nmodules = sl_count_modules(cf->cycle, SL_STREAM_MODULE);
    cmcf->server_names_hash_max_size = SL_CONF_UNSET_UINT;
    cmcf->server_names_hash_bucket_size = SL_CONF_UNSET_UINT;
    cmcf->variables_hash_max_size = SL_CONF_UNSET_UINT;
    cmcf->variables_hash_bucket_size = SL_CONF_UNSET_UINT;
    return cmcf;
}

/* nginx's defaults; a bucket size is rounded up to a cache line */
static char *
sl_stream_core_init_main_conf(sl_conf_t *cf, void *conf)
{
    sl_stream_core_main_conf_t  *cmcf = conf;

    sl_unused(cf);

    sl_conf_init_uint_value(cmcf->server_names_hash_max_size, 512);
    sl_conf_init_uint_value(cmcf->server_names_hash_bucket_size,
                            SL_HASH_CACHELINE);
    cmcf->server_names_hash_bucket_size =
        sl_align(cmcf->server_names_hash_bucket_size, SL_HASH_CACHELINE);

    sl_conf_init_uint_value(cmcf->variables_hash_max_size, 1024);
    sl_conf_init_uint_value(cmcf->variables_hash_bucket_size, 64);
    cmcf->variables_hash_bucket_size =
        sl_align(cmcf->variables_hash_bucket_size, SL_HASH_CACHELINE);

    return SL_CONF_OK;
}

static void *
sl_stream_core_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_core_srv_conf_t  *cscf;

    cscf = sl_pcalloc(cf->pool, sizeof(sl_stream_core_srv_conf_t));
    if (cscf == NULL) {
        return NULL;
    }

    if (sl_array_init(&cscf->server_names, cf->pool, 2,
                      sizeof(sl_stream_server_name_t))
        != SL_OK)
    {
        return NULL;
    }

    /* handler, ctx and error_log: NULL until set */
    if (cf->conf_file != NULL) {
        cscf->file_name = cf->conf_file->name;
        cscf->line = cf->conf_file->start_line;
    }

    cscf->tcp_nodelay = SL_CONF_UNSET;
    cscf->preread_buffer_size = SL_CONF_UNSET_SIZE;
    cscf->preread_timeout = SL_CONF_UNSET_MSEC;
    cscf->shutdown_idle = SL_CONF_UNSET;
    return cscf;
}

static char *
sl_stream_core_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_core_srv_conf_t  *prev = parent;
    sl_stream_core_srv_conf_t  *conf = child;

    if (conf->handler == NULL) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no handler for server in "
                     "%V:%ui", &conf->file_name, conf->line);
        return SL_CONF_ERROR;
    }

    if (conf->error_log == NULL) {
        conf->error_log = prev->error_log != NULL ? prev->error_log
                                                  : &cf->cycle->new_log;
    }

    sl_conf_merge_value(conf->tcp_nodelay, prev->tcp_nodelay, 1);
    sl_conf_merge_size_value(conf->preread_buffer_size,
                             prev->preread_buffer_size, 16384);
    sl_conf_merge_msec_value(conf->preread_timeout, prev->preread_timeout,
                             30000);
    sl_conf_merge_value(conf->shutdown_idle, prev->shutdown_idle, 0);
    return SL_CONF_OK;
}

static char *
sl_stream_core_error_log(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_core_srv_conf_t  *cscf = conf;

    sl_unused(cmd);
    return sl_log_set_log(cf, &cscf->error_log);
}

/*
 * A regular expression of server_name, "~" dropped. As in nginx, a
 * pattern with a capital letter is caseless: the names it meets are
 * lower-cased, so it could never match otherwise.
 */
static sl_int_t
sl_stream_core_server_regex(sl_conf_t *cf, sl_stream_server_name_t *sn,
    sl_str_t *value)
{
    sl_uint_t  flags = 0;
    size_t     i;

    if (value->len == 1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "empty regex in server name "
                          "\"%V\"", value);
        return SL_ERROR;
    }

    sn->name.len = value->len - 1;
    sn->name.data = value->data + 1;

    for (i = 0; i < sn->name.len; i++) {
        if (sn->name.data[i] >= 'A' && sn->name.data[i] <= 'Z') {
            flags = SL_REGEX_CASELESS;
            break;
        }
    }

    sn->regex = sl_stream_regex_compile(cf, &sn->name, flags);

    return sn->regex != NULL ? SL_OK : SL_ERROR;
}

/* a host name or wildcard of server_name, lower-cased; "" is a name too */
static sl_int_t
sl_stream_core_server_host(sl_conf_t *cf, sl_stream_server_name_t *sn,
    sl_str_t *value)
{
    if (value->len == sizeof("$hostname") - 1
        && sl_strncasecmp(value->data, (u_char *) "$hostname",
                          value->len) == 0)
    {
        sn->name = cf->cycle->hostname;     /* lower-cased already */
        return SL_OK;
    }

    sn->name.len = value->len;
    sn->name.data = sl_pnalloc(cf->pool, value->len + 1);
    if (sn->name.data == NULL) {
        return SL_ERROR;
    }

    sl_strlow(sn->name.data, value->data, value->len);
    sn->name.data[sn->name.len] = '\0';
    return SL_OK;
}

/*
 * server_name: exact names, wildcards ("*.example.com", ".example.com",
 * "www.example.*"), "$hostname" and regular expressions ("~..."),
 * matched against a client's SNI name.
 */
static char *
sl_stream_core_server_name(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_core_srv_conf_t  *cscf = conf;
    sl_stream_server_name_t    *sn;
    sl_str_t                   *value = cf->args->elts;
    sl_uint_t                   i;
    sl_int_t                    rc;
    u_char                      ch;

    sl_unused(cmd);

    for (i = 1; i < cf->args->nelts; i++) {
        ch = value[i].len > 0 ? value[i].data[0] : '\0';

        if ((ch == '*' && (value[i].len < 3 || value[i].data[1] != '.'))
            || (ch == '.' && value[i].len < 2))
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "server name \"%V\" is "
                              "invalid", &value[i]);
            return SL_CONF_ERROR;
        }

        if (memchr(value[i].data, '/', value[i].len) != NULL) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "server name \"%V\" has "
                              "suspicious symbols", &value[i]);
        }

        sn = sl_array_push(&cscf->server_names);
        if (sn == NULL) {
            return SL_CONF_ERROR;
        }

        sn->regex = NULL;
        sn->server = cscf;

        if (value[i].len > 0 && value[i].data[0] == '~') {
            rc = sl_stream_core_server_regex(cf, sn, &value[i]);
        } else {
            rc = sl_stream_core_server_host(cf, sn, &value[i]);
        }

        if (rc != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    return SL_CONF_OK;
}

/* a fresh context for server{}: the shared main confs, its own srv confs */
static sl_stream_conf_ctx_t *
sl_stream_core_server_ctx(sl_conf_t *cf)
{
    sl_stream_conf_ctx_t  *ctx, *stream_ctx = cf->ctx;
    sl_stream_module_t    *module;
    sl_uint_t              i, mi;

    ctx = sl_pcalloc(cf->pool, sizeof(sl_stream_conf_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->main_conf = stream_ctx->main_conf;
    ctx->srv_conf = sl_pcalloc(cf->pool, sl_count_modules(cf->cycle, SL_STREAM_MODULE)
                                         * sizeof(void *));
    if (ctx->srv_conf == NULL) {
        return NULL;
    }

    for (i = 0; i < cf->cycle->modules_n; i++) {
        if (cf->cycle->modules[i]->type != SL_STREAM_MODULE) {
            continue;
        }

        module = cf->cycle->modules[i]->ctx;
        mi = cf->cycle->modules[i]->ctx_index;

        if (module->create_srv_conf != NULL) {
            ctx->srv_conf[mi] = module->create_srv_conf(cf);
            if (ctx->srv_conf[mi] == NULL) {
                return NULL;
            }
        }
    }

    return ctx;
}

static char *
sl_stream_core_server(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_core_main_conf_t   *cmcf;
    sl_stream_core_srv_conf_t    *cscf, **cscfp;
    sl_stream_conf_ctx_t         *ctx;
    sl_conf_t                     pcf;
    char                         *rv;

    sl_unused(cmd);
    sl_unused(conf);

    ctx = sl_stream_core_server_ctx(cf);
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }

    cscf = ctx->srv_conf[sl_stream_core_module.ctx_index];
    cscf->ctx = ctx;

    cmcf = ctx->main_conf[sl_stream_core_module.ctx_index];
    cscfp = sl_array_push(&cmcf->servers);
    if (cscfp == NULL) {
        return SL_CONF_ERROR;
    }
    *cscfp = cscf;

    pcf = *cf;
    cf->ctx = ctx;
    cf->cmd_type = SL_STREAM_SRV_CONF;

    rv = sl_conf_parse(cf, NULL);

    *cf = pcf;

    if (rv == SL_CONF_OK && !cscf->listen) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no \"listen\" is defined for "
                     "server in %V:%ui", &cscf->file_name, cscf->line);
        return SL_CONF_ERROR;
    }

    return rv;
}

/* --- listen -------------------------------------------------------------- */

/* "on" is 1, "off" is 2, as sl_listening_t.keepalive wants them */
static char *
sl_stream_listen_keepalive(sl_conf_t *cf, sl_stream_listen_t *lsopt,
    sl_str_t *value)
{
    u_char    *p = value->data + 13, *end = value->data + value->len;
    u_char    *field, *colon;
    sl_str_t   s;
    sl_int_t   v[3] = { 0, 0, 0 };
    sl_uint_t  i;

    if (sl_strcmp(p, "on") == 0 || sl_strcmp(p, "off") == 0) {
        lsopt->so_keepalive = p[1] == 'n' ? 1 : 2;
        return SL_CONF_OK;
    }

    /* [keepidle][:[keepintvl][:[keepcnt]]], each part optional */
    for (i = 0, field = p; i < 3 && field <= end; i++, field = colon + 1) {
        colon = memchr(field, ':', (size_t) (end - field));
        if (colon == NULL) {
            colon = end;
        }

        if (colon == field) {
            continue;
        }

        s.data = field;
        s.len = (size_t) (colon - field);
        v[i] = i < 2 ? sl_parse_time(&s, 1) : sl_atoi(s.data, s.len);

        if (v[i] == SL_ERROR || v[i] > INT_MAX) {
            goto invalid;
        }
    }

    if (field <= end || (v[0] == 0 && v[1] == 0 && v[2] == 0)) {
        goto invalid;
    }

    lsopt->so_keepalive = 1;
    lsopt->keepidle = (int) v[0];
    lsopt->keepintvl = (int) v[1];
    lsopt->keepcnt = (int) v[2];
    return SL_CONF_OK;

invalid:

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid so_keepalive value: "
                      "\"%s\"", p);
    return SL_CONF_ERROR;
}

/* "name=SIZE" into *to: rcvbuf and sndbuf */
static char *
sl_stream_listen_size(sl_conf_t *cf, sl_str_t *value, size_t skip,
    const char *name, int *to)
{
    sl_str_t  s;
    ssize_t   n;

    s.data = value->data + skip;
    s.len = value->len - skip;
    n = sl_parse_size(&s);

    if (n == SL_ERROR || n > INT_MAX) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid %s \"%V\"", name,
                          value);
        return SL_CONF_ERROR;
    }

    *to = (int) n;
    return SL_CONF_OK;
}

static char *
sl_stream_listen_backlog(sl_conf_t *cf, sl_stream_listen_t *lsopt,
    sl_str_t *value)
{
    sl_int_t  n = sl_atoi(value->data + 8, value->len - 8);

    if (n == SL_ERROR || n == 0 || n > INT_MAX) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid backlog \"%V\"",
                          value);
        return SL_CONF_ERROR;
    }

    lsopt->backlog = (int) n;
    return SL_CONF_OK;
}

static char *
sl_stream_listen_ipv6only(sl_conf_t *cf, sl_stream_listen_t *lsopt,
    sl_str_t *value)
{
    u_char  *p = value->data + 9;

    if (sl_strcmp(p, "on") == 0) {
        lsopt->ipv6only = 1;
    } else if (sl_strcmp(p, "off") == 0) {
        lsopt->ipv6only = 0;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid ipv6only flags "
                          "\"%s\"", p);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static char *
sl_stream_listen_unsupported(sl_conf_t *cf, sl_str_t *value)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the \"%V\" parameter of "
                      "\"listen\" is not supported yet", value);
    return SL_CONF_ERROR;
}

#define sl_prefix_is(value, lit)                                              \
    ((value)->len >= sizeof(lit) - 1                                          \
     && sl_strncmp((value)->data, lit, sizeof(lit) - 1) == 0)

/* a parameter that needs a socket of its own ("bind" and the options) */
static char *
sl_stream_listen_option(sl_conf_t *cf, sl_stream_listen_t *lsopt,
    sl_str_t *value)
{
    if (sl_str_eq_lit(value, "bind")) {
        return SL_CONF_OK;
    }

    if (sl_prefix_is(value, "backlog=")) {
        return sl_stream_listen_backlog(cf, lsopt, value);
    }

    if (sl_prefix_is(value, "rcvbuf=")) {
        return sl_stream_listen_size(cf, value, 7, "rcvbuf", &lsopt->rcvbuf);
    }

    if (sl_prefix_is(value, "sndbuf=")) {
        return sl_stream_listen_size(cf, value, 7, "sndbuf", &lsopt->sndbuf);
    }

    if (sl_prefix_is(value, "so_keepalive=")) {
        return sl_stream_listen_keepalive(cf, lsopt, value);
    }

    if (sl_prefix_is(value, "ipv6only=")) {
        return sl_stream_listen_ipv6only(cf, lsopt, value);
    }

    if (sl_str_eq_lit(value, "reuseport")) {
#if (SL_HAVE_REUSEPORT)
        lsopt->reuseport = 1;
#else
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "reuseport is not supported "
                          "on this platform, ignored");
#endif
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(value, "deferred")) {
#if (SL_HAVE_TCP_DEFER_ACCEPT)
        lsopt->deferred_accept = 1;
#else
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "the deferred accept is not "
                          "supported on this platform, ignored");
#endif
        return SL_CONF_OK;
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"", value);
    return SL_CONF_ERROR;
}

/*
 * "ssl" and "default_server" describe the address, not its socket; the
 * other parameters are socket options ("set"), given once per address.
 */
static char *
sl_stream_listen_param(sl_conf_t *cf, sl_stream_listen_t *lsopt,
    sl_str_t *value)
{
    if (sl_str_eq_lit(value, "udp")) {
        return sl_stream_listen_unsupported(cf, value);
    }

    if (sl_str_eq_lit(value, "proxy_protocol")) {
        lsopt->proxy_protocol = 1;
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(value, "ssl")) {
        lsopt->ssl = 1;
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(value, "default_server")) {
        lsopt->default_server = 1;
        return SL_CONF_OK;
    }

    lsopt->set = 1;
    lsopt->bind = 1;
    return sl_stream_listen_option(cf, lsopt, value);
}

static void
sl_stream_listen_defaults(sl_stream_listen_t *lsopt)
{
    sl_memzero(lsopt, sizeof(sl_stream_listen_t));
    lsopt->backlog = SL_STREAM_LISTEN_BACKLOG;
    lsopt->rcvbuf = -1;
    lsopt->sndbuf = -1;
    lsopt->ipv6only = 1;
}

/* one address of the directive; the same address twice in it counts once */
static sl_int_t
sl_stream_listen_addr(sl_conf_t *cf, sl_stream_core_srv_conf_t *cscf,
    sl_url_t *u, sl_uint_t n, sl_stream_listen_t *lsopt)
{
    sl_uint_t  i;

    for (i = 0; i < n; i++) {
        if (sl_cmp_sockaddr(u->addrs[n].sockaddr, u->addrs[n].socklen,
                            u->addrs[i].sockaddr, u->addrs[i].socklen, 1)
            == SL_OK)
        {
            return SL_OK;
        }
    }

    lsopt->sockaddr = u->addrs[n].sockaddr;
    lsopt->socklen = u->addrs[n].socklen;
    lsopt->addr_text = u->addrs[n].name;
    lsopt->wildcard = sl_inet_wildcard(lsopt->sockaddr);

    return sl_stream_add_listen(cf, cscf, lsopt);
}

static char *
sl_stream_core_listen(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_core_srv_conf_t  *cscf = conf;
    sl_stream_listen_t          lsopt;
    sl_str_t                   *value = cf->args->elts;
    sl_url_t                    u;
    sl_uint_t                   i;

    sl_unused(cmd);

    cscf->listen = 1;

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = value[1];
    u.listen = 1;

    if (sl_parse_url(cf->pool, &u) != SL_OK) {
        if (u.err != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in \"%V\" of the "
                              "\"listen\" directive", u.err, &u.url);
        }
        return SL_CONF_ERROR;
    }

    sl_stream_listen_defaults(&lsopt);

    for (i = 2; i < cf->args->nelts; i++) {
        if (sl_stream_listen_param(cf, &lsopt, &value[i]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }

    for (i = 0; i < u.naddrs; i++) {
        if (sl_stream_listen_addr(cf, cscf, &u, i, &lsopt) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    return SL_CONF_OK;
}
