/*
 * sl_errlog_module.c -- "error_log FILE|stderr|syslog:... [level]", repeatable.
 */
#include "sl_config.h"
#include "sl_core.h"

static char *sl_errlog_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *sl_errlog_init_conf(sl_cycle_t *cycle, void *conf);

static sl_command_t  sl_errlog_commands[] = {

    { sl_string("error_log"),
      SL_MAIN_CONF | SL_CONF_1MORE,
      sl_errlog_set,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_core_module_t  sl_errlog_module_ctx = {
    sl_string("errlog"),
    NULL,
    sl_errlog_init_conf
};

sl_module_t  sl_errlog_module = {
    .name = "sl_errlog_module",
    .ctx = &sl_errlog_module_ctx,
    .commands = sl_errlog_commands,
    .type = SL_CORE_MODULE,
};

char *
sl_log_set_log(sl_conf_t *cf, sl_log_t **head)
{
    sl_str_t   *value = cf->args->elts, name;
    sl_log_t   *log;
    sl_int_t    level = SL_LOG_ERR;

    if (cf->args->nelts > 3) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid number of arguments in \"error_log\" "
                          "directive");
        return SL_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        level = sl_log_level_from_name(&value[2]);
        if (level == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "invalid log level \"%V\"", &value[2]);
            return SL_CONF_ERROR;
        }
    }

#if !(SL_DEBUG)
    if (level == SL_LOG_DEBUG) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "debugging messages are not "
                          "compiled in: configure --with-debug");
    }
#endif

    if (*head != NULL && (*head)->file == NULL) {
        log = *head;            /* the first error_log fills the head */
    } else {
        log = sl_pcalloc(cf->pool, sizeof(sl_log_t));
        if (log == NULL) {
            return SL_CONF_ERROR;
        }
    }

    name = value[1];
    if (name.len >= 7 && sl_strncmp(name.data, "syslog:", 7) == 0) {
        log->file = sl_syslog_open_file(cf, &name);
    } else {
        log->file = sl_conf_open_file(cf->cycle, &name);
    }
    if (log->file == NULL) {
        return SL_CONF_ERROR;
    }

    log->log_level = (sl_uint_t) level;
    log->time = &cf->cycle->time;

    if (*head == NULL) {
        *head = log;
    } else if (log != *head) {
        sl_log_insert(*head, log);
    }

    return SL_CONF_OK;
}

static char *
sl_errlog_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_log_t  *head = &cf->cycle->new_log;

    sl_unused(cmd);
    sl_unused(conf);

    return sl_log_set_log(cf, &head);
}

/*
 * No error_log at all: the compiled-in path, at level error; in an
 * embedded instance, the standard error (a host's directory need not have
 * logs/). An embedding host's log takes the place of the main error_log,
 * set or not.
 */
static char *
sl_errlog_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_str_t  name = sl_string(SL_ERROR_LOG_PATH);

    sl_unused(conf);

    if (cycle->log_sink != NULL) {
        cycle->new_log.file = cycle->log_sink;
        cycle->new_log.log_level = cycle->log_sink_level;
        cycle->new_log.next = NULL;
        cycle->new_log.time = &cycle->time;
        return SL_CONF_OK;
    }

    if (cycle->new_log.file != NULL) {
        return SL_CONF_OK;
    }

    if (cycle->embedded) {
        sl_str_set(&name, "stderr");
    }

    cycle->new_log.file = sl_conf_open_file(cycle, &name);
    if (cycle->new_log.file == NULL) {
        return SL_CONF_ERROR;
    }

    cycle->new_log.log_level = SL_LOG_ERR;
    cycle->new_log.time = &cycle->time;
    return SL_CONF_OK;
}
