/*
 * sl_event.c -- the events{} block: worker_connections, use, multi_accept,
 * accept_mutex, accept_mutex_delay.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

static char *sl_events_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *sl_events_init_conf(sl_cycle_t *cycle, void *conf);
static void *sl_event_core_create_conf(sl_cycle_t *cycle);
static char *sl_event_core_init_conf(sl_cycle_t *cycle, void *conf);
static char *sl_event_use(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t  sl_events_commands[] = {

    { sl_string("events"),
      SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS,
      sl_events_block,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_core_module_t  sl_events_module_ctx = {
    sl_string("events"),
    NULL,
    sl_events_init_conf
};

sl_module_t  sl_events_module = {
    .name = "sl_events_module",
    .ctx = &sl_events_module_ctx,
    .commands = sl_events_commands,
    .type = SL_CORE_MODULE,
};

/* 2^24 connections are 7 GiB of preallocated slots: more is a typo */
static sl_conf_num_bounds_t  sl_event_connections_bounds = {
    sl_conf_check_num_bounds, 1, 16777216
};

static sl_command_t  sl_event_core_commands[] = {

    { sl_string("worker_connections"),
      SL_EVENT_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      0,
      offsetof(sl_event_conf_t, connections),
      &sl_event_connections_bounds },

    { sl_string("use"),
      SL_EVENT_CONF | SL_CONF_TAKE1,
      sl_event_use,
      0,
      0,
      NULL },

    { sl_string("multi_accept"),
      SL_EVENT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_event_conf_t, multi_accept),
      NULL },

    { sl_string("accept_mutex"),
      SL_EVENT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_event_conf_t, accept_mutex),
      NULL },

    { sl_string("accept_mutex_delay"),
      SL_EVENT_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      0,
      offsetof(sl_event_conf_t, accept_mutex_delay),
      NULL },

      sl_null_command
};

static sl_event_module_t  sl_event_core_module_ctx = {
    sl_string("event_core"),
    sl_event_core_create_conf,
    sl_event_core_init_conf,
    NULL                        /* not a back end */
};

sl_module_t  sl_event_core_module = {
    .name = "sl_event_core_module",
    .ctx = &sl_event_core_module_ctx,
    .commands = sl_event_core_commands,
    .type = SL_EVENT_MODULE,
};

/* the events{} context: one conf per event module */
static void ***
sl_events_create_ctx(sl_cycle_t *cycle)
{
    sl_event_module_t  *m;
    void             ***ctx;
    sl_uint_t           i;

    ctx = sl_pcalloc(cycle->pool, sizeof(void **));
    if (ctx == NULL) {
        return NULL;
    }

    *ctx = sl_pcalloc(cycle->pool,
                      sl_count_modules(cycle, SL_EVENT_MODULE) * sizeof(void *));
    if (*ctx == NULL) {
        return NULL;
    }

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_EVENT_MODULE) {
            continue;
        }

        m = cycle->modules[i]->ctx;
        if (m->create_conf != NULL) {
            (*ctx)[cycle->modules[i]->ctx_index] = m->create_conf(cycle);
            if ((*ctx)[cycle->modules[i]->ctx_index] == NULL) {
                return NULL;
            }
        }
    }

    return ctx;
}

static char *
sl_events_init_ctx(sl_cycle_t *cycle, void ***ctx)
{
    sl_event_module_t  *m;
    sl_uint_t           i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_EVENT_MODULE) {
            continue;
        }

        m = cycle->modules[i]->ctx;
        if (m->init_conf != NULL
            && m->init_conf(cycle, (*ctx)[cycle->modules[i]->ctx_index])
               == SL_CONF_ERROR)
        {
            return SL_CONF_ERROR;
        }
    }

    return SL_CONF_OK;
}

static char *
sl_events_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    void    ****slot = conf;
    sl_conf_t    pcf;
    char        *rv;

    sl_unused(cmd);

    if (*slot != NULL) {
        return "is duplicate";
    }

    sl_conf_modules_used(cf, "events");

    *slot = sl_events_create_ctx(cf->cycle);
    if (*slot == NULL) {
        return SL_CONF_ERROR;
    }

    pcf = *cf;
    cf->ctx = *slot;
    cf->module_type = SL_EVENT_MODULE;
    cf->cmd_type = SL_EVENT_CONF;

    rv = sl_conf_parse(cf, NULL);

    *cf = pcf;
    return rv;
}

/* an absent events{} block means every default */
static char *
sl_events_init_conf(sl_cycle_t *cycle, void *conf)
{
    void  ***ctx = conf;

    sl_unused(conf);

    if (ctx == NULL) {
        ctx = sl_events_create_ctx(cycle);
        if (ctx == NULL) {
            return SL_CONF_ERROR;
        }
        cycle->conf_ctx[sl_events_module.index] = ctx;
    }

    return sl_events_init_ctx(cycle, ctx);
}

static void *
sl_event_core_create_conf(sl_cycle_t *cycle)
{
    sl_event_conf_t  *ecf;

    ecf = sl_pcalloc(cycle->pool, sizeof(sl_event_conf_t));
    if (ecf == NULL) {
        return NULL;
    }

    ecf->connections = SL_CONF_UNSET_UINT;
    ecf->multi_accept = SL_CONF_UNSET;
    ecf->accept_mutex = SL_CONF_UNSET;
    ecf->accept_mutex_delay = SL_CONF_UNSET_MSEC;
    return ecf;
}

/*
 * The back ends built: event modules with actions, in the order of
 * sl_modules[] (configure puts the best first). Returns the i-th one's
 * name, or NULL past the last.
 */
static const sl_str_t *
sl_event_backend_name(sl_cycle_t *cycle, sl_uint_t n)
{
    sl_event_module_t  *m;
    sl_uint_t           i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_EVENT_MODULE) {
            continue;
        }

        m = cycle->modules[i]->ctx;
        if (m->actions != NULL && n-- == 0) {
            return &m->name;
        }
    }

    return NULL;
}

static char *
sl_event_core_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_event_conf_t   *ecf = conf;
    const sl_str_t    *best;

    sl_conf_init_uint_value(ecf->connections, SL_DEFAULT_CONNECTIONS);
    sl_conf_init_value(ecf->multi_accept, 0);
    sl_conf_init_msec_value(ecf->accept_mutex_delay, 500);
    /* accept_mutex stays unset: the process model decides (see there) */

    if (ecf->use.len != 0) {
        return SL_CONF_OK;
    }

    best = sl_event_backend_name(cycle, 0);
    if (best == NULL) {
        sl_log_error(SL_LOG_EMERG, cycle->log, 0,
                     "no event module is built in: configure found none of "
                     "epoll, kqueue, poll and select");
        return SL_CONF_ERROR;
    }

    ecf->use = *best;
    return SL_CONF_OK;
}

static char *
sl_event_use(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_event_conf_t  *ecf = conf;
    sl_str_t         *value = cf->args->elts;
    const sl_str_t   *name;
    sl_uint_t         i;

    sl_unused(cmd);

    if (ecf->use.len != 0) {
        return "is duplicate";
    }

    for (i = 0; (name = sl_event_backend_name(cf->cycle, i)) != NULL; i++) {
        if (sl_str_eq(&value[1], (sl_str_t *) name)) {
            ecf->use = *name;
            return SL_CONF_OK;
        }
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid event type \"%V\"",
                      &value[1]);
    return SL_CONF_ERROR;
}
