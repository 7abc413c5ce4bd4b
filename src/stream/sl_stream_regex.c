/*
 * sl_stream_regex.c -- regular expressions of the stream layer: compiled
 * with their named groups registered as variables, matched into the
 * stream{}'s one match block, the groups then kept by the session.
 *
 * It owns the session's captures (s->captures) and the variables of
 * named groups. It must never compile at run time, nor allocate per
 * match: the captures are made once per session, at its first match of
 * a regex with groups, and the match block once per configuration.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

/* a named group's variable before any match has set it */
static sl_int_t
sl_stream_regex_not_found(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(s);
    sl_unused(v);
    sl_unused(data);

    return SL_ERROR;
}

/*
 * The stream{}'s match block must have room for the most groups of any
 * of its regexes: made again, larger, while the configuration grows.
 */
static sl_int_t
sl_stream_regex_match_block(sl_conf_t *cf, sl_uint_t groups)
{
    sl_stream_core_main_conf_t  *cmcf;

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    if (cmcf->regex_match != NULL && groups <= cmcf->ncaptures) {
        return SL_OK;
    }

    cmcf->ncaptures = sl_max(cmcf->ncaptures, groups);
    cmcf->regex_match = sl_regex_match_create(cf->pool, cmcf->ncaptures);

    return cmcf->regex_match != NULL ? SL_OK : SL_ERROR;
}

static sl_int_t
sl_stream_regex_names(sl_conf_t *cf, sl_stream_regex_t *re)
{
    sl_regex_name_t       *names;
    sl_stream_variable_t  *v;
    sl_int_t               index;
    sl_uint_t              i;

    re->nvars = sl_regex_names(re->regex, &names);
    if (re->nvars == 0) {
        return SL_OK;
    }

    re->vars = sl_palloc(cf->pool, re->nvars * sizeof(sl_stream_regex_var_t));
    if (re->vars == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < re->nvars; i++) {
        v = sl_stream_add_variable(cf, &names[i].name,
                                   SL_STREAM_VAR_CHANGEABLE);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = sl_stream_regex_not_found;

        index = sl_stream_get_variable_index(cf, &names[i].name);
        if (index == SL_ERROR) {
            return SL_ERROR;
        }

        re->vars[i].index = (sl_uint_t) index;
        re->vars[i].group = names[i].group;
    }

    return SL_OK;
}

sl_stream_regex_t *
sl_stream_regex_compile(sl_conf_t *cf, sl_str_t *pattern, sl_uint_t flags)
{
    sl_stream_regex_t  *re;
    u_char              buf[SL_REGEX_ERR_LEN];
    sl_str_t            err = { sizeof(buf), buf };

    re = sl_pcalloc(cf->pool, sizeof(sl_stream_regex_t));
    if (re == NULL) {
        return NULL;
    }

    re->regex = sl_regex_compile_conf(cf, pattern, flags, &err);
    if (re->regex == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%V", &err);
        return NULL;
    }

    re->groups = sl_regex_groups(re->regex);

    if (sl_stream_regex_match_block(cf, re->groups) != SL_OK
        || sl_stream_regex_names(cf, re) != SL_OK)
    {
        return NULL;
    }

    return re;
}

/* the session's room for the groups, made at its first match with any */
static sl_stream_captures_t *
sl_stream_regex_captures(sl_stream_session_t *s,
    sl_stream_core_main_conf_t *cmcf)
{
    if (s->captures == NULL) {
        s->captures = sl_palloc(s->connection->pool,
                                sizeof(sl_stream_captures_t)
                                + 2 * (cmcf->ncaptures + 1) * sizeof(size_t));
    }

    return s->captures;
}

static void
sl_stream_regex_set_vars(sl_stream_session_t *s, sl_stream_regex_t *re)
{
    sl_stream_variable_value_t  *v;
    sl_str_t                     text;
    sl_uint_t                    i;

    for (i = 0; i < re->nvars; i++) {
        sl_stream_regex_capture(s, re->vars[i].group, &text);

        v = &s->variables[re->vars[i].index];
        v->data = text.data;
        v->len = (unsigned) text.len;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
    }
}

sl_int_t
sl_stream_regex_exec(sl_stream_session_t *s, sl_stream_regex_t *re,
    sl_str_t *str)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_captures_t        *cap;
    const size_t                *ov;
    sl_int_t                     n;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);

    n = sl_regex_exec(re->regex, str->data, str->len, cmcf->regex_match);

    if (n == 0) {
        return SL_DECLINED;
    }

    if (n < 0) {
        sl_log_error(SL_LOG_ALERT, s->connection->log, 0,
                     "pcre2_match() failed: %i on \"%V\" using \"%V\"",
                     n, str, sl_regex_pattern(re->regex));
        return SL_ERROR;
    }

    /* a match without groups leaves "$1".. empty, as nginx does */
    cap = re->groups ? sl_stream_regex_captures(s, cmcf) : s->captures;

    if (cap == NULL) {
        return re->groups ? SL_ERROR : SL_OK;
    }

    ov = sl_regex_offsets(cmcf->regex_match);
    sl_memcpy(cap->offsets, ov, 2 * (size_t) n * sizeof(size_t));
    cap->npairs = (sl_uint_t) n;
    cap->subject = str->data;

    sl_stream_regex_set_vars(s, re);

    return SL_OK;
}

void
sl_stream_regex_capture(sl_stream_session_t *s, sl_uint_t n, sl_str_t *text)
{
    sl_stream_captures_t  *cap = s->captures;
    size_t                 start, end;

    text->len = 0;
    text->data = (u_char *) "";

    if (cap == NULL || n >= cap->npairs) {
        return;
    }

    start = cap->offsets[2 * n];
    end = cap->offsets[2 * n + 1];

    if (start == SL_REGEX_UNSET || end < start) {
        return;
    }

    text->data = cap->subject + start;
    text->len = end - start;
}
