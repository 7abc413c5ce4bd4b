/*
 * sl_regex.c -- regular expressions over PCRE2 (8-bit code units).
 *
 * Owns compiling (with nginx's error texts), the named-group table, the
 * match blocks, matching, and "pcre_jit" (sl_regex_module). Everything
 * PCRE2 allocates, JIT code included, is freed by a cleanup of the pool
 * it was made for. It must never compile at run time, nor keep a match
 * block or a list of regexes of its own: callers own their blocks, and
 * each cycle its list, so that instances in different threads share
 * nothing here.
 *
 * JIT, as nginx: off by default; with "pcre_jit on" every regex compiled
 * while the configuration was read is JIT-compiled once it is all read
 * (wherever the directive stands), and one PCRE2 cannot JIT-compile is
 * logged at info and matched by the interpreter.
 */
#define PCRE2_CODE_UNIT_WIDTH  8

#include "sl_config.h"
#include "sl_core.h"

#include <pcre2.h>

struct sl_regex_s {
    pcre2_code        *code;
    sl_str_t           pattern;
    sl_uint_t          groups;
    sl_regex_name_t   *names;
    sl_uint_t          nnames;
};

struct sl_regex_match_s {
    pcre2_match_data  *data;
    sl_uint_t          pairs;       /* what the offsets vector holds */
};

/* a cycle's: pcre_jit, and the regexes its configuration compiled */
typedef struct {
    sl_flag_t          jit;
    sl_array_t        *regexes;     /* sl_regex_t * */
} sl_regex_conf_t;

static void *sl_regex_create_conf(sl_cycle_t *cycle);
static char *sl_regex_init_conf(sl_cycle_t *cycle, void *conf);
static sl_int_t sl_regex_init_module(sl_cycle_t *cycle);

static sl_command_t  sl_regex_commands[] = {

    { sl_string("pcre_jit"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_regex_conf_t, jit),
      NULL },

    sl_null_command
};

static sl_core_module_t  sl_regex_module_ctx = {
    sl_string("regex"),
    sl_regex_create_conf,
    sl_regex_init_conf
};

sl_module_t  sl_regex_module = {
    .name = "sl_regex_module",
    .ctx = &sl_regex_module_ctx,
    .commands = sl_regex_commands,
    .type = SL_CORE_MODULE,
    .init_module = sl_regex_init_module,
};


static void
sl_regex_code_cleanup(void *data)
{
    pcre2_code_free(data);
}


static void
sl_regex_match_cleanup(void *data)
{
    pcre2_match_data_free(data);
}


/* "pcre2_compile() failed: MESSAGE in "PATTERN"[ at "REST"]" */
static void
sl_regex_compile_error(sl_str_t *pattern, int code, size_t off,
    sl_str_t *err)
{
    u_char  msg[256], *last;

    if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0) {
        (void) sl_snprintf(msg, sizeof(msg), "error %d%Z", code);
    }

    if (off >= pattern->len) {
        last = sl_snprintf(err->data, err->len,
                           "pcre2_compile() failed: %s in \"%V\"",
                           msg, pattern);
    } else {
        last = sl_snprintf(err->data, err->len,
                           "pcre2_compile() failed: %s in \"%V\" at \"%*s\"",
                           msg, pattern, pattern->len - off,
                           pattern->data + off);
    }

    err->len = (size_t) (last - err->data);
}


static void
sl_regex_fail(sl_str_t *err, const char *what, sl_str_t *pattern)
{
    err->len = (size_t) (sl_snprintf(err->data, err->len,
                                     "regex \"%V\" compilation failed: %s",
                                     pattern, what)
                         - err->data);
}


static uint32_t
sl_regex_info(sl_regex_t *re, uint32_t what)
{
    uint32_t  n = 0;

    if (pcre2_pattern_info(re->code, what, &n) < 0) {
        return 0;
    }

    return n;
}


/* PCRE2's name table: entries of size bytes, a big-endian group number
 * in the first two, then the name and its NUL */
static sl_int_t
sl_regex_read_names(sl_regex_t *re, sl_pool_t *pool)
{
    PCRE2_SPTR  table;
    uint32_t    size;
    sl_uint_t   i;
    u_char     *e;

    re->nnames = sl_regex_info(re, PCRE2_INFO_NAMECOUNT);
    if (re->nnames == 0) {
        return SL_OK;
    }

    size = sl_regex_info(re, PCRE2_INFO_NAMEENTRYSIZE);

    if (pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table) < 0) {
        return SL_ERROR;
    }

    re->names = sl_palloc(pool, re->nnames * sizeof(sl_regex_name_t));
    if (re->names == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < re->nnames; i++) {
        e = (u_char *) table + i * size;
        re->names[i].group = ((sl_uint_t) e[0] << 8) | e[1];
        re->names[i].name.data = e + 2;
        re->names[i].name.len = sl_strlen(e + 2);
    }

    return SL_OK;
}


sl_regex_t *
sl_regex_compile(sl_pool_t *pool, sl_str_t *pattern, sl_uint_t flags,
    sl_str_t *err)
{
    sl_regex_t         *re;
    sl_pool_cleanup_t  *cln;
    PCRE2_SIZE          off;
    uint32_t            options;
    int                 code;

    options = (flags & SL_REGEX_CASELESS) ? PCRE2_CASELESS : 0;

    re = sl_pcalloc(pool, sizeof(sl_regex_t));
    cln = sl_pool_cleanup_add(pool, 0);
    if (re == NULL || cln == NULL) {
        sl_regex_fail(err, "no memory", pattern);
        return NULL;
    }

    re->code = pcre2_compile(pattern->data, pattern->len, options, &code,
                             &off, NULL);
    if (re->code == NULL) {
        sl_regex_compile_error(pattern, code, off, err);
        return NULL;
    }

    cln->handler = sl_regex_code_cleanup;
    cln->data = re->code;

    re->pattern = *pattern;
    re->groups = sl_regex_info(re, PCRE2_INFO_CAPTURECOUNT);

    if (sl_regex_read_names(re, pool) != SL_OK) {
        sl_regex_fail(err, "no memory", pattern);
        return NULL;
    }

    return re;
}


sl_regex_t *
sl_regex_compile_conf(sl_conf_t *cf, sl_str_t *pattern, sl_uint_t flags,
    sl_str_t *err)
{
    sl_regex_conf_t   *rcf;
    sl_regex_t        *re, **elt;

    re = sl_regex_compile(cf->pool, pattern, flags, err);
    if (re == NULL) {
        return NULL;
    }

    rcf = (sl_regex_conf_t *) sl_get_conf(cf->cycle->conf_ctx,
                                          sl_regex_module);

    elt = sl_array_push(rcf->regexes);
    if (elt == NULL) {
        sl_regex_fail(err, "no memory", pattern);
        return NULL;
    }

    *elt = re;
    return re;
}


sl_int_t
sl_regex_jit(sl_regex_t *re)
{
    return pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
}


sl_uint_t
sl_regex_jitted(sl_regex_t *re)
{
    size_t  size = 0;

    return pcre2_pattern_info(re->code, PCRE2_INFO_JITSIZE, &size) == 0
           && size > 0;
}


sl_str_t *
sl_regex_pattern(sl_regex_t *re)
{
    return &re->pattern;
}


sl_uint_t
sl_regex_groups(sl_regex_t *re)
{
    return re->groups;
}


sl_uint_t
sl_regex_names(sl_regex_t *re, sl_regex_name_t **names)
{
    *names = re->names;
    return re->nnames;
}


sl_regex_match_t *
sl_regex_match_create(sl_pool_t *pool, sl_uint_t groups)
{
    sl_regex_match_t   *m;
    sl_pool_cleanup_t  *cln;

    m = sl_palloc(pool, sizeof(sl_regex_match_t));
    cln = sl_pool_cleanup_add(pool, 0);
    if (m == NULL || cln == NULL) {
        return NULL;
    }

    m->pairs = groups + 1;
    m->data = pcre2_match_data_create((uint32_t) m->pairs, NULL);
    if (m->data == NULL) {
        return NULL;
    }

    cln->handler = sl_regex_match_cleanup;
    cln->data = m->data;

    return m;
}


sl_int_t
sl_regex_exec(sl_regex_t *re, const u_char *data, size_t len,
    sl_regex_match_t *m)
{
    int  rc;

    rc = pcre2_match(re->code, data, len, 0, 0, m->data, NULL);

    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }

    if (rc < 0) {
        return rc;
    }

    /* 0: more groups matched than the block has room for; it is full */
    return rc == 0 ? (sl_int_t) m->pairs : rc;
}


const size_t *
sl_regex_offsets(sl_regex_match_t *m)
{
    return pcre2_get_ovector_pointer(m->data);
}


u_char *
sl_regex_strerror(sl_int_t code, u_char *buf, size_t len)
{
    int  n;

    n = pcre2_get_error_message((int) code, buf, len);

    return n < 0 ? buf : buf + n;
}


/* --- pcre_jit ------------------------------------------------------------ */

static void *
sl_regex_create_conf(sl_cycle_t *cycle)
{
    sl_regex_conf_t  *rcf;

    rcf = sl_palloc(cycle->pool, sizeof(sl_regex_conf_t));
    if (rcf == NULL) {
        return NULL;
    }

    rcf->jit = SL_CONF_UNSET;
    rcf->regexes = sl_array_create(cycle->pool, 4, sizeof(sl_regex_t *));

    return rcf->regexes != NULL ? rcf : NULL;
}


static char *
sl_regex_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_regex_conf_t  *rcf = conf;

    sl_unused(cycle);

    sl_conf_init_value(rcf->jit, 0);
    return SL_CONF_OK;
}


/* the whole configuration is read: "pcre_jit on" may have come last */
static sl_int_t
sl_regex_init_module(sl_cycle_t *cycle)
{
    sl_regex_conf_t   *rcf;
    sl_regex_t       **re;
    sl_uint_t          i;
    sl_int_t           rc;

    rcf = (sl_regex_conf_t *) sl_get_conf(cycle->conf_ctx, sl_regex_module);
    if (rcf == NULL || !rcf->jit) {
        return SL_OK;
    }

    re = rcf->regexes->elts;

    for (i = 0; i < rcf->regexes->nelts; i++) {
        rc = sl_regex_jit(re[i]);

        if (rc != SL_OK) {
            sl_log_error(SL_LOG_INFO, cycle->log, 0, "pcre2_jit_compile() "
                         "failed: %i in \"%V\", ignored", rc,
                         &re[i]->pattern);
        }
    }

    return SL_OK;
}
