/*
 * sl_stream_set_module.c -- "set $var value;" in a server: in the
 * preaccess phase (before limit_conn and access, as in nginx) each set of
 * the session's server evaluates its value (a complex value) and stores
 * it in the session's slot of the variable. A variable only ever set
 * elsewhere is empty in a server that does not set it.
 *
 * It owns the directive and that phase handler; it must never store a
 * value anywhere but in the session (s->variables or the variable's own
 * set handler), so that nothing leaks between sessions or servers.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

typedef struct {
    sl_uint_t                    index;
    sl_stream_set_variable_pt    set_handler;   /* NULL: the slot */
    uintptr_t                    data;
    sl_stream_complex_value_t    value;
} sl_stream_set_cmd_t;

typedef struct {
    sl_array_t                  *commands;  /* sl_stream_set_cmd_t; NULL */
} sl_stream_set_srv_conf_t;

static char *sl_stream_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static void *sl_stream_set_create_srv_conf(sl_conf_t *cf);
static sl_int_t sl_stream_set_init(sl_conf_t *cf);

static sl_command_t  sl_stream_set_commands[] = {

    { sl_string("set"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE2,
      sl_stream_set,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_set_module_ctx = {
    NULL,
    sl_stream_set_init,
    NULL,
    NULL,
    sl_stream_set_create_srv_conf,
    NULL                            /* not inherited: server context only */
};

sl_module_t  sl_stream_set_module = {
    .name = "sl_stream_set_module",
    .ctx = &sl_stream_set_module_ctx,
    .commands = sl_stream_set_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the preaccess phase ------------------------------------------------- */

static void
sl_stream_set_store(sl_stream_session_t *s, sl_stream_set_cmd_t *cmd,
    sl_str_t *str)
{
    sl_stream_variable_value_t  *v, vv;

    if (cmd->set_handler != NULL) {
        sl_memzero(&vv, sizeof(vv));
        vv.data = str->data;
        vv.len = (unsigned) str->len;
        vv.valid = 1;
        cmd->set_handler(s, &vv, cmd->data);
        return;
    }

    v = &s->variables[cmd->index];
    v->data = str->data;
    v->len = (unsigned) str->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}

static sl_int_t
sl_stream_set_handler(sl_stream_session_t *s)
{
    sl_stream_set_srv_conf_t  *scf;
    sl_stream_set_cmd_t       *cmd;
    sl_str_t                   str;
    sl_uint_t                  i;

    scf = sl_stream_get_module_srv_conf(s, sl_stream_set_module);
    if (scf->commands == NULL) {
        return SL_DECLINED;
    }

    cmd = scf->commands->elts;

    /* in the order written: a later value may use an earlier one */
    for (i = 0; i < scf->commands->nelts; i++) {
        if (sl_stream_complex_value(s, &cmd[i].value, &str) != SL_OK) {
            return SL_ERROR;
        }

        sl_stream_set_store(s, &cmd[i], &str);
    }

    return SL_DECLINED;
}

/* a set variable in a session its server does not set it for: empty */
static sl_int_t
sl_stream_set_empty(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    uintptr_t data)
{
    sl_unused(s);
    sl_unused(data);

    sl_memzero(v, sizeof(sl_stream_variable_value_t));
    v->data = (u_char *) "";
    v->valid = 1;
    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

static char *
sl_stream_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_set_srv_conf_t  *scf = conf;
    sl_stream_set_cmd_t       *set;
    sl_stream_variable_t      *v;
    sl_str_t                  *value = cf->args->elts, name;
    sl_int_t                   index;

    sl_unused(cmd);

    /* "$" alone too: "invalid variable name "$"", as nginx says */
    if (value[1].len < 2 || value[1].data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%V\"",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    v = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_CHANGEABLE);
    if (v == NULL) {
        return SL_CONF_ERROR;
    }

    index = sl_stream_get_variable_index(cf, &name);
    if (index == SL_ERROR) {
        return SL_CONF_ERROR;
    }

    /* split_clients, geo... may give it a value too: theirs stays */
    if (v->get_handler == NULL) {
        v->get_handler = sl_stream_set_empty;
    }

    if (scf->commands == NULL) {
        scf->commands = sl_array_create(cf->pool, 2,
                                        sizeof(sl_stream_set_cmd_t));
        if (scf->commands == NULL) {
            return SL_CONF_ERROR;
        }
    }

    set = sl_array_push(scf->commands);
    if (set == NULL) {
        return SL_CONF_ERROR;
    }

    set->index = (sl_uint_t) index;
    set->set_handler = v->set_handler;
    set->data = v->data;

    if (sl_stream_compile_complex_value(cf, &value[2], &set->value) != SL_OK) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static void *
sl_stream_set_create_srv_conf(sl_conf_t *cf)
{
    /* commands = NULL: none */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_set_srv_conf_t));
}

static sl_int_t
sl_stream_set_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_PREACCESS_PHASE, sl_stream_set_handler);
}
