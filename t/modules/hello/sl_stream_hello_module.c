/*
 * sl_stream_hello_module.c -- a module of the test suites, not of sluice:
 * "hello TEXT;" in a server{} sets $hello (HELLO_TEXT when absent), so
 * that "return $hello;" shows which build of the module serves. A suite
 * builds it with -DHELLO_TEXT=... to tell two builds apart.
 */
#include <sl_config.h>
#include <sl_core.h>
#include <sl_stream.h>

#ifndef HELLO_TEXT
#define HELLO_TEXT  "hello"
#endif

typedef struct {
    sl_str_t  text;
} sl_stream_hello_srv_conf_t;

static void *sl_stream_hello_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_hello_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static sl_int_t sl_stream_hello_preconfiguration(sl_conf_t *cf);

static sl_command_t  sl_stream_hello_commands[] = {

    { sl_string("hello"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_str_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_hello_srv_conf_t, text),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_hello_module_ctx = {
    sl_stream_hello_preconfiguration,
    NULL,
    NULL,
    NULL,
    sl_stream_hello_create_srv_conf,
    sl_stream_hello_merge_srv_conf
};

sl_module_t  sl_stream_hello_module = {
    .name = "sl_stream_hello_module",
    .ctx = &sl_stream_hello_module_ctx,
    .commands = sl_stream_hello_commands,
    .type = SL_STREAM_MODULE,
};

SL_MODULE(hello, &sl_stream_hello_module);

static void *
sl_stream_hello_create_srv_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_stream_hello_srv_conf_t));
}

static char *
sl_stream_hello_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_hello_srv_conf_t  *prev = parent, *conf = child;

    sl_unused(cf);

    if (conf->text.data == NULL) {
        conf->text = prev->text;
    }

    if (conf->text.data == NULL) {
        sl_str_set(&conf->text, HELLO_TEXT);
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_hello_variable(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    uintptr_t data)
{
    sl_stream_hello_srv_conf_t  *hscf;

    sl_unused(data);

    hscf = sl_stream_get_module_srv_conf(s, sl_stream_hello_module);
    v->len = hscf->text.len;
    v->data = hscf->text.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t
sl_stream_hello_preconfiguration(sl_conf_t *cf)
{
    sl_stream_variable_t  *var;
    sl_str_t               name = sl_string("hello");

    var = sl_stream_add_variable(cf, &name, 0);
    if (var == NULL) {
        return SL_ERROR;
    }

    var->get_handler = sl_stream_hello_variable;
    return SL_OK;
}
