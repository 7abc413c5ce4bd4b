/*
 * sl_stream_script.c -- complex values: compiled into text and variable
 * parts once, joined per session into one buffer.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

static sl_uint_t
sl_stream_script_name_char(u_char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || ch == '_';
}

/* at most a text part before and after each '$' */
static sl_uint_t
sl_stream_script_max_parts(sl_str_t *value)
{
    sl_uint_t  i, n = 1;

    for (i = 0; i < value->len; i++) {
        n += (value->data[i] == '$') * 2;
    }

    return n;
}

/* "$1".."$9": the group of the last regex match; advances *pos past it */
static sl_uint_t
sl_stream_script_capture(u_char **pos, u_char *end,
    sl_stream_script_part_t *part)
{
    u_char  *p = *pos + 1;

    if (p == end || *p < '1' || *p > '9') {
        return 0;
    }

    part->index = SL_STREAM_SCRIPT_CAPTURE;
    part->capture = (sl_uint_t) (*p - '0');
    *pos = p + 1;
    return 1;
}

/*
 * The variable after a '$' at *pos: "$name" or "${name}". Advances *pos
 * past it and returns its index, or SL_ERROR (logged).
 */
static sl_int_t
sl_stream_script_variable(sl_conf_t *cf, u_char **pos, u_char *end)
{
    u_char     *p = *pos + 1;
    sl_uint_t   bracket;
    sl_str_t    name;

    if (p == end) {
        goto invalid;
    }

    bracket = (*p == '{');
    if (bracket && ++p == end) {
        goto invalid;
    }

    for (name.data = p; p < end && sl_stream_script_name_char(*p); p++) {
        /* void */
    }

    name.len = (size_t) (p - name.data);

    if (bracket) {
        if (p == end || *p != '}') {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the closing bracket in "
                              "\"%V\" variable is missing", &name);
            return SL_ERROR;
        }
        p++;
    }

    if (name.len == 0) {
        goto invalid;
    }

    *pos = p;
    return sl_stream_get_variable_index(cf, &name);

invalid:

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name");
    return SL_ERROR;
}

sl_int_t
sl_stream_compile_complex_value(sl_conf_t *cf, sl_str_t *value,
    sl_stream_complex_value_t *cv)
{
    sl_stream_script_part_t  *part;
    u_char                   *p, *end, *start;

    cv->value = *value;
    cv->parts = NULL;
    cv->nparts = 0;

    if (memchr(value->data, '$', value->len) == NULL) {
        return SL_OK;               /* a constant: nothing to join */
    }

    cv->parts = sl_palloc(cf->pool, sl_stream_script_max_parts(value)
                                    * sizeof(sl_stream_script_part_t));
    if (cv->parts == NULL) {
        return SL_ERROR;
    }

    p = value->data;
    end = p + value->len;

    while (p < end) {
        part = &cv->parts[cv->nparts++];
        start = p;

        if (*p != '$') {
            while (p < end && *p != '$') {
                p++;
            }
            part->text.data = start;
            part->text.len = (size_t) (p - start);
            part->index = -1;
            part->capture = 0;
            continue;
        }

        part->capture = 0;

        if (!sl_stream_script_capture(&p, end, part)) {
            part->index = sl_stream_script_variable(cf, &p, end);
            if (part->index == SL_ERROR) {
                return SL_ERROR;
            }
        }

        part->text.data = start;
        part->text.len = (size_t) (p - start);
    }

    return SL_OK;
}

/* a part's bytes for this session: its text, a group, a variable's value */
static void
sl_stream_script_part_text(sl_stream_session_t *s,
    sl_stream_script_part_t *part, sl_str_t *text)
{
    sl_stream_variable_value_t  *v;

    if (part->index == SL_STREAM_SCRIPT_CAPTURE) {
        sl_stream_regex_capture(s, part->capture, text);
        return;
    }

    if (part->index < 0) {
        *text = part->text;
        return;
    }

    v = sl_stream_get_indexed_variable(s, (sl_uint_t) part->index);

    /* an empty value may have no data at all: memcpy() must not see it */
    if (v == NULL || v->len == 0) {
        text->data = (u_char *) "";
        text->len = 0;
        return;
    }

    text->data = v->data;
    text->len = v->len;
}

sl_int_t
sl_stream_complex_value(sl_stream_session_t *s,
    sl_stream_complex_value_t *cv, sl_str_t *value)
{
    sl_stream_variable_value_t  *v;
    sl_uint_t                    i;
    size_t                       len = 0;
    u_char                      *p, *last;
    sl_str_t                     text;

    if (cv->parts == NULL) {
        *value = cv->value;
        return SL_OK;
    }

    /* a value that changes is computed once for this evaluation */
    for (i = 0; i < cv->nparts; i++) {
        if (cv->parts[i].index >= 0) {
            v = &s->variables[cv->parts[i].index];
            if (v->no_cacheable) {
                v->valid = 0;
                v->not_found = 0;
            }
        }
    }

    for (i = 0; i < cv->nparts; i++) {
        sl_stream_script_part_text(s, &cv->parts[i], &text);
        len += text.len;
    }

    p = sl_pnalloc(s->connection->pool, len + 1);
    if (p == NULL) {
        return SL_ERROR;
    }

    value->data = p;
    last = p + len;

    /*
     * A variable computed while measuring may have run a regex since:
     * "$1" or a named group measured before it can be longer now. As
     * nginx, such a value fails rather than overrun what was measured.
     */
    for (i = 0; i < cv->nparts; i++) {
        sl_stream_script_part_text(s, &cv->parts[i], &text);

        if (text.len > (size_t) (last - p)) {
            sl_log_error(SL_LOG_ALERT, s->connection->log, 0,
                         "no buffer space in script copy");
            return SL_ERROR;
        }

        p = sl_cpymem(p, text.data, text.len);
    }

    value->len = (size_t) (p - value->data);
    return SL_OK;
}

char *
sl_stream_set_complex_value_slot(sl_conf_t *cf, sl_command_t *cmd,
    void *conf)
{
    sl_stream_complex_value_t  **cvp;
    sl_str_t                    *value = cf->args->elts;

    cvp = (sl_stream_complex_value_t **) ((char *) conf + cmd->offset);

    if (*cvp != NULL && *cvp != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *cvp = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
    if (*cvp == NULL) {
        return SL_CONF_ERROR;
    }

    if (sl_stream_compile_complex_value(cf, &value[1], *cvp) != SL_OK) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
