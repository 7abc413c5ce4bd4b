/*
 * sl_stream_split_clients_module.c -- "split_clients KEY $var { ... }":
 * a variable whose value is chosen by the MurmurHash2 of a key (a complex
 * value), so that each key always lands in the same part, as nginx's
 * stream split_clients does. Percentages are kept in hundredths (parts
 * of 10000) and mapped onto the 32-bit hash range in the order written;
 * "*" takes the rest.
 *
 * It owns the directive and its variable's handler; it must never keep
 * state between sessions or hash with anything but sl_murmur_hash2(),
 * or clients would move between parts.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* one line of the block */
typedef struct {
    uint32_t                      bound;    /* hash < bound; 0: any */
    sl_stream_variable_value_t    value;
} sl_stream_split_clients_part_t;

typedef struct {
    sl_stream_complex_value_t     key;
    sl_array_t                    parts;
} sl_stream_split_clients_ctx_t;

static char *sl_stream_split_clients_block(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_split_clients_commands[] = {

    { sl_string("split_clients"),
      SL_STREAM_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE2,
      sl_stream_split_clients_block,
      SL_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_split_clients_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL
};

sl_module_t  sl_stream_split_clients_module = {
    .name = "sl_stream_split_clients_module",
    .ctx = &sl_stream_split_clients_module_ctx,
    .commands = sl_stream_split_clients_commands,
    .type = SL_STREAM_MODULE,
};

/* --- per session --------------------------------------------------------- */

static sl_int_t
sl_stream_split_clients_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_split_clients_ctx_t   *ctx = (void *) data;
    sl_stream_split_clients_part_t  *part = ctx->parts.elts;
    sl_str_t                         key;
    uint32_t                         hash;
    sl_uint_t                        i;

    /* no part taken (the percentages leave a gap): an empty value */
    sl_memzero(v, sizeof(sl_stream_variable_value_t));
    v->data = (u_char *) "";        /* never NULL: it may be copied from */
    v->valid = 1;

    if (sl_stream_complex_value(s, &ctx->key, &key) != SL_OK) {
        return SL_OK;
    }

    hash = sl_murmur_hash2(key.data, key.len);

    for (i = 0; i < ctx->parts.nelts; i++) {
        if (part[i].bound == 0 || hash < part[i].bound) {
            *v = part[i].value;
            break;
        }
    }

    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

/*
 * "12.34" as hundredths (1234); SL_ERROR for anything else, a third
 * decimal or an overflow included, as nginx's fixed-point parser.
 */
static sl_int_t
sl_stream_split_clients_hundredths(const u_char *p, size_t len)
{
    sl_int_t   value = 0;
    sl_uint_t  decimals = 2, dot = 0;

    if (len == 0) {
        return SL_ERROR;
    }

    for ( /* void */ ; len > 0; len--, p++) {
        if (decimals == 0) {
            return SL_ERROR;
        }

        if (*p == '.') {
            if (dot) {
                return SL_ERROR;
            }
            dot = 1;
            continue;
        }

        if (*p < '0' || *p > '9' || value > 100000000) {
            return SL_ERROR;
        }

        value = value * 10 + (*p - '0');
        decimals -= dot;
    }

    while (decimals--) {
        value *= 10;
    }

    return value;
}

/* one "PERCENT% VALUE;" or "* VALUE;" line of the block */
static char *
sl_stream_split_clients_part(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    sl_stream_split_clients_ctx_t   *ctx = cf->ctx;
    sl_stream_split_clients_part_t  *part;
    sl_str_t                        *value = cf->args->elts;
    sl_int_t                         n = 0;

    sl_unused(dummy);
    sl_unused(conf);

    /* words after the value are ignored, as nginx ignores them */
    if (cf->args->nelts < 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of arguments "
                          "in split_clients");
        return SL_CONF_ERROR;
    }

    if (!sl_str_eq_lit(&value[0], "*")) {
        if (value[0].len > 0 && value[0].data[value[0].len - 1] == '%') {
            n = sl_stream_split_clients_hundredths(value[0].data,
                                                   value[0].len - 1);
        }

        if (n == SL_ERROR || n == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid percent value "
                              "\"%V\"", &value[0]);
            return SL_CONF_ERROR;
        }
    }

    part = sl_array_push(&ctx->parts);
    if (part == NULL) {
        return SL_CONF_ERROR;
    }

    sl_memzero(part, sizeof(sl_stream_split_clients_part_t));
    part->bound = (uint32_t) n;     /* hundredths until the block ends */
    part->value.data = value[1].data;
    part->value.len = (unsigned) value[1].len;
    part->value.valid = 1;
    return SL_CONF_OK;
}

/*
 * Hundredths into bounds on the hash: each part ends where its share of
 * 0xffffffff, added to those before it, ends. A part that brings the
 * total to exactly 100%, and "*", take whatever is left.
 */
static char *
sl_stream_split_clients_bounds(sl_conf_t *cf,
    sl_stream_split_clients_ctx_t *ctx)
{
    sl_stream_split_clients_part_t  *part = ctx->parts.elts;
    uint32_t                         sum = 0, last = 0;
    sl_uint_t                        i;

    for (i = 0; i < ctx->parts.nelts; i++) {
        sum = part[i].bound ? sum + part[i].bound : 10000;

        if (sum > 10000) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "percent total is greater "
                              "than 100%%");
            return SL_CONF_ERROR;
        }

        if (sum == 10000) {
            part[i].bound = 0;
            continue;
        }

        last += (uint32_t) (part[i].bound * (uint64_t) 0xffffffff / 10000);
        part[i].bound = last;
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_split_clients_var(sl_conf_t *cf, sl_str_t *arg,
    sl_stream_split_clients_ctx_t *ctx)
{
    sl_stream_variable_t  *var;
    sl_str_t               name;

    /* "$" alone too: "invalid variable name "$"", as nginx says */
    if (arg->len < 2 || arg->data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%V\"",
                          arg);
        return SL_ERROR;
    }

    name.data = arg->data + 1;
    name.len = arg->len - 1;

    var = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_CHANGEABLE);
    if (var == NULL) {
        return SL_ERROR;
    }

    var->get_handler = sl_stream_split_clients_variable;
    var->data = (uintptr_t) ctx;
    return SL_OK;
}

static char *
sl_stream_split_clients_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_split_clients_ctx_t  *ctx;
    sl_str_t                       *value = cf->args->elts;
    sl_conf_t                       save;
    char                           *rv;

    sl_unused(cmd);

    ctx = sl_pcalloc(cf->pool, sizeof(sl_stream_split_clients_ctx_t));
    if (ctx == NULL
        || sl_array_init(&ctx->parts, cf->pool, 2,
                         sizeof(sl_stream_split_clients_part_t)) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    if (sl_stream_compile_complex_value(cf, &value[1], &ctx->key) != SL_OK
        || sl_stream_split_clients_var(cf, &value[2], ctx) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    save = *cf;
    cf->ctx = ctx;
    cf->handler = sl_stream_split_clients_part;
    cf->handler_conf = conf;

    rv = sl_conf_parse(cf, NULL);

    *cf = save;

    if (rv != SL_CONF_OK) {
        return rv;
    }

    /* a total over 100% is reported at the closing "}", as nginx does */
    cf->conf_file->start_line = cf->conf_file->line;

    return sl_stream_split_clients_bounds(cf, ctx);
}
