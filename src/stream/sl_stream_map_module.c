/*
 * sl_stream_map_module.c -- "map $source $variable { ... }": a variable
 * whose value is chosen by the value of another, as nginx's stream map.
 *
 * A lookup tries the exact keys, then the longest "*.name" wildcard,
 * then the longest "name.*" one (wildcards only after "hostnames"), then
 * the "~" and "~*" regexes in the order written, then "default" (empty
 * when there is none). Values may hold variables and "$1".."$9" of the
 * regex that matched. A value is computed the first time a session asks
 * for it and kept for the session, or computed at every use after
 * "volatile".
 *
 * It owns the map{} block's syntax and the map_hash_* directives. It
 * must never compile anything per session, nor keep state outside the
 * configuration: a lookup allocates only what a value with variables
 * needs, a source of more than one variable, and a lower-case copy of a
 * key over 256 bytes.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* keys up to this length are lower-cased on the stack */
#define SL_STREAM_MAP_KEY_STACK   256

/* nginx's default map_hash_max_size; the bucket's is a cache line */
#define SL_STREAM_MAP_MAX_SIZE    2048

typedef struct {
    sl_uint_t                    hash_max_size;
    sl_uint_t                    hash_bucket_size;
} sl_stream_map_conf_t;

typedef struct {
    sl_stream_regex_t           *regex;
    sl_stream_complex_value_t   *value;
} sl_stream_map_regex_t;

typedef struct {
    sl_stream_complex_value_t    source;
    sl_hash_combined_t           hash;      /* of sl_stream_complex_value_t */
    sl_stream_map_regex_t       *regexes;
    sl_uint_t                    nregexes;
    sl_stream_complex_value_t   *default_value;     /* NULL: empty */
    unsigned                     hostnames:1;
} sl_stream_map_t;

/*
 * What the block's lines build, while it is read (cf->handler_conf; cf
 * keeps the stream{} level's context and pool, which values and regexes
 * are compiled with).
 */
typedef struct {
    sl_stream_map_t             *map;
    sl_stream_map_conf_t        *mcf;
    sl_hash_keys_t               keys;
    sl_array_t                   regexes;   /* sl_stream_map_regex_t */
    unsigned                     hostnames:1;
    unsigned                     no_cacheable:1;
} sl_stream_map_ctx_t;

static void *sl_stream_map_create_conf(sl_conf_t *cf);
static char *sl_stream_map_block(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_map_commands[] = {

    { sl_string("map"),
      SL_STREAM_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE2,
      sl_stream_map_block,
      SL_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { sl_string("map_hash_max_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_map_conf_t, hash_max_size),
      NULL },

    { sl_string("map_hash_bucket_size"),
      SL_STREAM_MAIN_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_MAIN_CONF_OFFSET,
      offsetof(sl_stream_map_conf_t, hash_bucket_size),
      NULL },

    sl_null_command
};

static sl_stream_module_t  sl_stream_map_module_ctx = {
    NULL,                               /* preconfiguration */
    NULL,                               /* postconfiguration */
    sl_stream_map_create_conf,          /* create main conf */
    NULL,                               /* init main conf */
    NULL,                               /* create srv conf */
    NULL                                /* merge srv conf */
};

sl_module_t  sl_stream_map_module = {
    .name = "sl_stream_map_module",
    .ctx = &sl_stream_map_module_ctx,
    .commands = sl_stream_map_commands,
    .type = SL_STREAM_MODULE,
};

/* --- sessions ------------------------------------------------------------ */

static sl_stream_complex_value_t *
sl_stream_map_regex_find(sl_stream_session_t *s, sl_stream_map_t *map,
    sl_str_t *key)
{
    sl_uint_t  i;
    sl_int_t   rc;

    for (i = 0; i < map->nregexes; i++) {
        rc = sl_stream_regex_exec(s, map->regexes[i].regex, key);

        if (rc == SL_OK) {
            return map->regexes[i].value;
        }

        if (rc == SL_ERROR) {
            return NULL;
        }
    }

    return NULL;
}

/* the value for key: exact, wildcards, then regexes; NULL for none */
static sl_stream_complex_value_t *
sl_stream_map_find(sl_stream_session_t *s, sl_stream_map_t *map,
    sl_str_t *key)
{
    sl_stream_complex_value_t  *value;
    u_char                      stack[SL_STREAM_MAP_KEY_STACK], *low;
    sl_uint_t                   hash;

    low = stack;

    if (key->len > sizeof(stack)) {
        low = sl_pnalloc(s->connection->pool, key->len);
        if (low == NULL) {
            return NULL;
        }
    }

    hash = sl_hash_strlow(low, key->data, key->len);

    value = sl_hash_find_combined(&map->hash, hash, low, key->len);
    if (value != NULL) {
        return value;
    }

    /* the regexes see the key as it is, not lower-cased */
    if (key->len == 0 || map->nregexes == 0) {
        return NULL;
    }

    return sl_stream_map_regex_find(s, map, key);
}

/*
 * The source value. The usual source, one variable ("$ssl_server_name"),
 * is read in place rather than copied into a new buffer: its value lives
 * as long as the session, as the groups of a regex need.
 */
static sl_int_t
sl_stream_map_source(sl_stream_session_t *s, sl_stream_map_t *map,
    sl_str_t *key)
{
    sl_stream_script_part_t     *part = map->source.parts;
    sl_stream_variable_value_t  *v;

    if (map->source.nparts != 1 || part->index < 0) {
        return sl_stream_complex_value(s, &map->source, key);
    }

    v = sl_stream_get_flushed_variable(s, (sl_uint_t) part->index);

    key->data = v != NULL ? v->data : (u_char *) "";
    key->len = v != NULL ? v->len : 0;

    return SL_OK;
}

static sl_int_t
sl_stream_map_variable(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    uintptr_t data)
{
    sl_stream_map_t            *map = (sl_stream_map_t *) data;
    sl_stream_complex_value_t  *value;
    sl_str_t                    key, text;

    if (sl_stream_map_source(s, map, &key) != SL_OK) {
        return SL_ERROR;
    }

    /* "example.com." is "example.com" */
    if (map->hostnames && key.len > 0 && key.data[key.len - 1] == '.') {
        key.len--;
    }

    value = sl_stream_map_find(s, map, &key);
    if (value == NULL) {
        value = map->default_value;
    }

    text.len = 0;
    text.data = (u_char *) "";

    if (value != NULL && sl_stream_complex_value(s, value, &text) != SL_OK) {
        return SL_ERROR;
    }

    v->data = text.data;
    v->len = (unsigned) text.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return SL_OK;
}

/* --- the block ----------------------------------------------------------- */

static void *
sl_stream_map_create_conf(sl_conf_t *cf)
{
    sl_stream_map_conf_t  *mcf;

    mcf = sl_palloc(cf->pool, sizeof(sl_stream_map_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    mcf->hash_max_size = SL_CONF_UNSET_UINT;
    mcf->hash_bucket_size = SL_CONF_UNSET_UINT;

    return mcf;
}

/* the sizes in effect for a map{}: those set before it, or nginx's */
static void
sl_stream_map_sizes(sl_stream_map_conf_t *mcf)
{
    if (mcf->hash_max_size == SL_CONF_UNSET_UINT) {
        mcf->hash_max_size = SL_STREAM_MAP_MAX_SIZE;
    }

    if (mcf->hash_bucket_size == SL_CONF_UNSET_UINT) {
        mcf->hash_bucket_size = SL_HASH_CACHELINE;
    } else {
        mcf->hash_bucket_size = sl_align(mcf->hash_bucket_size,
                                         SL_HASH_CACHELINE);
    }
}

static sl_stream_complex_value_t *
sl_stream_map_value(sl_conf_t *cf, sl_str_t *text)
{
    sl_stream_complex_value_t  *cv;

    cv = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
    if (cv == NULL || sl_stream_compile_complex_value(cf, text, cv) != SL_OK)
    {
        return NULL;
    }

    return cv;
}

static char *
sl_stream_map_regex(sl_conf_t *cf, sl_stream_map_ctx_t *ctx, sl_str_t *key,
    sl_stream_complex_value_t *value)
{
    sl_stream_map_regex_t  *re;
    sl_str_t                pattern;
    sl_uint_t               flags = 0;

    pattern.data = key->data + 1;
    pattern.len = key->len - 1;

    if (pattern.len > 0 && pattern.data[0] == '*') {
        pattern.data++;
        pattern.len--;
        flags = SL_REGEX_CASELESS;
    }

    re = sl_array_push(&ctx->regexes);
    if (re == NULL) {
        return SL_CONF_ERROR;
    }

    re->value = value;
    re->regex = sl_stream_regex_compile(cf, &pattern, flags);

    return re->regex != NULL ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *
sl_stream_map_key(sl_conf_t *cf, sl_stream_map_ctx_t *ctx, sl_str_t *key,
    sl_stream_complex_value_t *value)
{
    sl_str_t   name = *key;
    sl_int_t   rc;
    sl_uint_t  flags;

    /* "\default", "\~x", "\hostnames": the key as written after '\' */
    if (name.len > 0 && name.data[0] == '\\') {
        name.data++;
        name.len--;
    }

    /* "." is too short to be a wildcard: nginx takes it as a name */
    flags = ctx->hostnames && name.len > 1 ? SL_HASH_WILDCARD_KEY
                                           : SL_HASH_LITERAL_KEY;

    rc = SL_DECLINED;
    if (!ctx->hostnames || sl_strnstr(name.data, name.len, "..", 2) == NULL) {
        rc = sl_hash_add_key(&ctx->keys, &name, value, flags);
    }

    switch (rc) {

    case SL_OK:
        return SL_CONF_OK;

    case SL_DECLINED:
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid hostname or wildcard \"%V\"", &name);
        return SL_CONF_ERROR;

    case SL_BUSY:
        /* nginx names the key as it stored it: lower-cased */
        sl_strlow(name.data, name.data, name.len);
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "conflicting parameter \"%V\"", &name);
        return SL_CONF_ERROR;

    default:
        return SL_CONF_ERROR;
    }
}

static sl_uint_t
sl_stream_map_word(sl_str_t *word, const char *text)
{
    return word->len == sl_strlen(text)
           && sl_strncmp(word->data, text, word->len) == 0;
}

/* one line of the block: cf->handler while map{} is read */
static char *
sl_stream_map_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    sl_stream_map_ctx_t        *ctx = cf->handler_conf;
    sl_str_t                   *word = cf->args->elts;
    sl_stream_complex_value_t  *value;

    sl_unused(conf);

    if (cf->args->nelts == 1 && sl_stream_map_word(&word[0], "hostnames")) {
        ctx->hostnames = 1;
        return SL_CONF_OK;
    }

    if (cf->args->nelts == 1 && sl_stream_map_word(&word[0], "volatile")) {
        ctx->no_cacheable = 1;
        return SL_CONF_OK;
    }

    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid number of the map parameters");
        return SL_CONF_ERROR;
    }

    if (sl_stream_map_word(&word[0], "include")) {
        return sl_conf_include(cf, dummy, ctx);
    }

    value = sl_stream_map_value(cf, &word[1]);
    if (value == NULL) {
        return SL_CONF_ERROR;
    }

    if (sl_stream_map_word(&word[0], "default")) {
        if (ctx->map->default_value != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "duplicate default map parameter");
            return SL_CONF_ERROR;
        }

        ctx->map->default_value = value;
        return SL_CONF_OK;
    }

    if (word[0].len > 0 && word[0].data[0] == '~') {
        return sl_stream_map_regex(cf, ctx, &word[0], value);
    }

    return sl_stream_map_key(cf, ctx, &word[0], value);
}

/* "$name": the variable the map defines, its lookup bound to map */
static sl_stream_variable_t *
sl_stream_map_define(sl_conf_t *cf, sl_str_t *arg, sl_stream_map_t *map)
{
    sl_stream_variable_t  *v;
    sl_str_t               name;

    if (arg->len == 0 || arg->data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid variable name \"%V\"", arg);
        return NULL;
    }

    name.data = arg->data + 1;
    name.len = arg->len - 1;

    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return NULL;
    }

    v = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_CHANGEABLE);
    if (v == NULL) {
        return NULL;
    }

    v->get_handler = sl_stream_map_variable;
    v->data = (uintptr_t) map;

    return v;
}

/* reads the block's lines with sl_stream_map_line */
static char *
sl_stream_map_parse(sl_conf_t *cf, sl_stream_map_ctx_t *ctx)
{
    sl_conf_t   save = *cf;
    char       *rv;

    cf->handler = sl_stream_map_line;
    cf->handler_conf = ctx;

    rv = sl_conf_parse(cf, NULL);

    *cf = save;
    return rv;
}

static char *
sl_stream_map_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_map_ctx_t    ctx;
    sl_stream_map_t       *map;
    sl_stream_variable_t  *v;
    sl_str_t              *value = cf->args->elts;
    char                  *rv;

    sl_unused(cmd);

    sl_memzero(&ctx, sizeof(ctx));
    ctx.mcf = conf;
    sl_stream_map_sizes(ctx.mcf);

    map = sl_pcalloc(cf->pool, sizeof(sl_stream_map_t));
    if (map == NULL
        || sl_stream_compile_complex_value(cf, &value[1], &map->source)
           != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    v = sl_stream_map_define(cf, &value[2], map);
    if (v == NULL) {
        return SL_CONF_ERROR;
    }

    ctx.map = map;

    if (sl_hash_keys_init(&ctx.keys, cf->pool, cf->temp_pool) != SL_OK
        || sl_array_init(&ctx.regexes, cf->pool, 2,
                         sizeof(sl_stream_map_regex_t)) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    rv = sl_stream_map_parse(cf, &ctx);
    if (rv != SL_CONF_OK) {
        return rv;
    }

    if (ctx.no_cacheable) {
        v->flags |= SL_STREAM_VAR_NOCACHEABLE;
    }

    if (sl_hash_check_sizes(&ctx.keys, cf->log, "map_hash",
                            ctx.mcf->hash_max_size, ctx.mcf->hash_bucket_size)
        != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    map->hostnames = ctx.hostnames;
    map->regexes = ctx.regexes.elts;
    map->nregexes = ctx.regexes.nelts;

    if (sl_hash_combined_init(&map->hash, &ctx.keys, cf->pool) != SL_OK) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
