/*
 * sl_stream_log_module.c -- "log_format" and "access_log": one line per
 * session, written in the log phase, as nginx's stream log module writes
 * it.
 *
 * A format is a list of ops: literal text, or a variable escaped in the
 * format's way (default: '"', '\', control bytes and bytes >= 0x7f as
 * "\xXX", a missing value as "-"; json: JSON string escapes, a missing
 * value as nothing; none: as it is). The stream module has no predefined
 * format: access_log names one that log_format defined.
 *
 * Files come from the cycle's open files, so USR1 reopens them. A
 * buffered log keeps its lines in memory until the next does not fit,
 * its flush timer fires, the file is reopened, or the process exits.
 * "syslog:..." sends each line as one datagram (src/core/sl_syslog.c),
 * never buffered; "if=" skips the line when its value is empty or "0".
 * Paths with variables and gzip are not supported.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

#define SL_STREAM_LOG_ESCAPE_DEFAULT  0
#define SL_STREAM_LOG_ESCAPE_JSON     1
#define SL_STREAM_LOG_ESCAPE_NONE     2

/* one piece of a format: text (index -1) or a variable */
typedef struct {
    sl_str_t                  text;
    sl_int_t                  index;
} sl_stream_log_op_t;

typedef struct {
    sl_str_t                  name;
    sl_uint_t                 escape;
    sl_array_t               *ops;          /* sl_stream_log_op_t */
} sl_stream_log_fmt_t;

/* the buffer of a file, shared by every access_log of that file */
typedef struct {
    sl_open_file_t           *file;
    u_char                   *start;
    u_char                   *pos;
    u_char                   *last;
    sl_msec_t                 flush;        /* 0: no flush timer */
    sl_event_t                event;
} sl_stream_log_buf_t;

typedef struct {
    sl_open_file_t           *file;         /* NULL with syslog */
    sl_syslog_peer_t         *syslog;
    sl_stream_log_fmt_t      *format;
    sl_stream_log_buf_t      *buffer;       /* NULL: written at once */
    sl_stream_complex_value_t *filter;      /* if=; NULL: every session */
} sl_stream_log_t;

/* what access_log takes after the format */
typedef struct {
    ssize_t                   size;         /* buffer=; 0: none */
    sl_msec_t                 flush;
    sl_str_t                  filter;       /* if=; empty: none */
} sl_stream_log_params_t;

typedef struct {
    sl_array_t                formats;      /* sl_stream_log_fmt_t */
    sl_array_t                buffers;      /* sl_stream_log_buf_t * */
} sl_stream_log_main_conf_t;

typedef struct {
    sl_array_t               *logs;         /* sl_stream_log_t; NULL */
    sl_uint_t                 off;
} sl_stream_log_srv_conf_t;

static void *sl_stream_log_create_main_conf(sl_conf_t *cf);
static void *sl_stream_log_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_log_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_log_set_format(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_log_set_log(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static sl_int_t sl_stream_log_init(sl_conf_t *cf);
static void sl_stream_log_exit_process(sl_cycle_t *cycle);

static sl_command_t  sl_stream_log_commands[] = {

    { sl_string("log_format"),
      SL_STREAM_MAIN_CONF | SL_CONF_2MORE,
      sl_stream_log_set_format,
      SL_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { sl_string("access_log"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_1MORE,
      sl_stream_log_set_log,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_log_module_ctx = {
    NULL,
    sl_stream_log_init,
    sl_stream_log_create_main_conf,
    NULL,
    sl_stream_log_create_srv_conf,
    sl_stream_log_merge_srv_conf
};

sl_module_t  sl_stream_log_module = {
    .name = "sl_stream_log_module",
    .ctx = &sl_stream_log_module_ctx,
    .commands = sl_stream_log_commands,
    .type = SL_STREAM_MODULE,
    .exit_process = sl_stream_log_exit_process,
};

/* --- escaping ------------------------------------------------------------ */

static sl_uint_t
sl_stream_log_must_escape(u_char ch)
{
    return ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\';
}

/* the default escaping: "\xXX", upper-case hex */
static size_t
sl_stream_log_escape_len(u_char *src, size_t size)
{
    size_t  i, n = size;

    for (i = 0; i < size; i++) {
        if (sl_stream_log_must_escape(src[i])) {
            n += 3;
        }
    }

    return n;
}

static u_char *
sl_stream_log_escape(u_char *dst, u_char *src, size_t size)
{
    static const u_char  hex[] = "0123456789ABCDEF";
    size_t               i;

    for (i = 0; i < size; i++) {
        if (!sl_stream_log_must_escape(src[i])) {
            *dst++ = src[i];
            continue;
        }

        *dst++ = '\\';
        *dst++ = 'x';
        *dst++ = hex[src[i] >> 4];
        *dst++ = hex[src[i] & 0xf];
    }

    return dst;
}

/* JSON's short escape of ch, or 0 */
static u_char
sl_stream_log_json_short(u_char ch)
{
    switch (ch) {
    case '"':  return '"';
    case '\\': return '\\';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    case '\b': return 'b';
    case '\f': return 'f';
    default:   return 0;
    }
}

static size_t
sl_stream_log_json_len(u_char *src, size_t size)
{
    size_t  i, n = size;

    for (i = 0; i < size; i++) {
        if (sl_stream_log_json_short(src[i])) {
            n += 1;
        } else if (src[i] < 0x20) {
            n += 5;
        }
    }

    return n;
}

static u_char *
sl_stream_log_json(u_char *dst, u_char *src, size_t size)
{
    static const u_char  hex[] = "0123456789abcdef";
    size_t               i;
    u_char               e;

    for (i = 0; i < size; i++) {
        e = sl_stream_log_json_short(src[i]);

        if (e) {
            *dst++ = '\\';
            *dst++ = e;

        } else if (src[i] < 0x20) {
            dst = sl_cpymem(dst, "\\u00", 4);
            *dst++ = hex[src[i] >> 4];
            *dst++ = hex[src[i] & 0xf];

        } else {
            *dst++ = src[i];
        }
    }

    return dst;
}

/* --- the log phase ------------------------------------------------------- */

static size_t
sl_stream_log_op_len(sl_stream_session_t *s, sl_stream_log_fmt_t *fmt,
    sl_stream_log_op_t *op)
{
    sl_stream_variable_value_t  *v;

    if (op->index < 0) {
        return op->text.len;
    }

    v = sl_stream_get_indexed_variable(s, (sl_uint_t) op->index);

    if (v == NULL || v->not_found) {
        return fmt->escape == SL_STREAM_LOG_ESCAPE_DEFAULT ? 1 : 0;
    }

    switch (fmt->escape) {
    case SL_STREAM_LOG_ESCAPE_JSON:
        return sl_stream_log_json_len(v->data, v->len);
    case SL_STREAM_LOG_ESCAPE_NONE:
        return v->len;
    default:
        return sl_stream_log_escape_len(v->data, v->len);
    }
}

static u_char *
sl_stream_log_op_write(sl_stream_session_t *s, sl_stream_log_fmt_t *fmt,
    sl_stream_log_op_t *op, u_char *p)
{
    sl_stream_variable_value_t  *v;

    if (op->index < 0) {
        return sl_cpymem(p, op->text.data, op->text.len);
    }

    v = sl_stream_get_indexed_variable(s, (sl_uint_t) op->index);

    if (v == NULL || v->not_found) {
        if (fmt->escape == SL_STREAM_LOG_ESCAPE_DEFAULT) {
            *p++ = '-';
        }
        return p;
    }

    switch (fmt->escape) {
    case SL_STREAM_LOG_ESCAPE_JSON:
        return sl_stream_log_json(p, v->data, v->len);
    case SL_STREAM_LOG_ESCAPE_NONE:
        return sl_cpymem(p, v->data, v->len);
    default:
        return sl_stream_log_escape(p, v->data, v->len);
    }
}

/*
 * The values that change during a session ($bytes_sent, $msec...) are
 * computed afresh, once per line: both passes over the ops must see the
 * same values.
 */
static void
sl_stream_log_flush_values(sl_stream_session_t *s, sl_stream_log_fmt_t *fmt)
{
    sl_stream_log_op_t          *op = fmt->ops->elts;
    sl_stream_variable_value_t  *v;
    sl_uint_t                    i;

    for (i = 0; i < fmt->ops->nelts; i++) {
        if (op[i].index < 0) {
            continue;
        }

        v = &s->variables[op[i].index];
        if (v->no_cacheable) {
            v->valid = 0;
            v->not_found = 0;
        }
    }
}

static void
sl_stream_log_write_fd(sl_open_file_t *file, sl_log_t *log, u_char *buf,
    size_t len)
{
    ssize_t  n;

    n = sl_write_fd(file->fd, buf, len);

    if (n == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "write() to \"%V\" failed",
                     &file->name);

    } else if ((size_t) n != len) {
        sl_log_error(SL_LOG_ALERT, log, 0, "write() to \"%V\" was "
                     "incomplete: %z of %uz", &file->name, n, len);
    }
}

static void
sl_stream_log_flush(sl_stream_log_buf_t *buffer, sl_log_t *log)
{
    if (buffer->pos > buffer->start) {
        sl_stream_log_write_fd(buffer->file, log, buffer->start,
                               (size_t) (buffer->pos - buffer->start));
        buffer->pos = buffer->start;
    }

    if (buffer->event.timer_set) {
        sl_del_timer(&buffer->event);
    }
}

static void
sl_stream_log_flush_handler(sl_event_t *ev)
{
    sl_stream_log_flush(ev->data, ev->log);
}

/* USR1: the lines buffered so far go to the file before it is reopened */
static void
sl_stream_log_file_flush(sl_open_file_t *file, sl_log_t *log)
{
    sl_stream_log_flush(file->data, log);
}

static void
sl_stream_log_buffered(sl_stream_session_t *s, sl_stream_log_buf_t *buffer,
    u_char *line, size_t len)
{
    sl_connection_t  *c = s->connection;

    if (len > (size_t) (buffer->last - buffer->pos)) {
        sl_stream_log_flush(buffer, c->log);
    }

    if (len > (size_t) (buffer->last - buffer->pos)) {
        /* longer than the whole buffer: it goes out as it is */
        sl_stream_log_write_fd(buffer->file, c->log, line, len);
        return;
    }

    buffer->pos = sl_cpymem(buffer->pos, line, len);

    if (buffer->flush && !buffer->event.timer_set && c->loop != NULL) {
        buffer->event.loop = c->loop;
        sl_add_timer(&buffer->event, buffer->flush);
    }
}

/* if=: a line only when the condition is neither empty nor "0" */
static sl_int_t
sl_stream_log_wanted(sl_stream_session_t *s, sl_stream_log_t *log)
{
    sl_str_t  val;

    if (log->filter == NULL) {
        return 1;
    }

    if (sl_stream_complex_value(s, log->filter, &val) != SL_OK) {
        return SL_ERROR;
    }

    return !(val.len == 0 || (val.len == 1 && val.data[0] == '0'));
}

/* the line, in the connection's pool; NULL when out of memory */
static u_char *
sl_stream_log_line(sl_stream_session_t *s, sl_stream_log_t *log,
    size_t *size)
{
    sl_stream_log_op_t  *op = log->format->ops->elts;
    sl_uint_t            i, n = log->format->ops->nelts;
    u_char              *line, *p;
    size_t               len;

    sl_stream_log_flush_values(s, log->format);

    /*
     * Every value is computed before any is measured: a map evaluated
     * for a later part may set a regex group an earlier part reads, and
     * the parts must measure what they will write.
     */
    for (i = 0; i < n; i++) {
        if (op[i].index >= 0) {
            (void) sl_stream_get_indexed_variable(s, (sl_uint_t) op[i].index);
        }
    }

    /* the line feed, or the syslog header instead */
    len = log->syslog ? sl_syslog_header_len(log->syslog) : 1;
    for (i = 0; i < n; i++) {
        len += sl_stream_log_op_len(s, log->format, &op[i]);
    }

    line = sl_pnalloc(s->connection->pool, len);
    if (line == NULL) {
        return NULL;
    }

    p = line;
    if (log->syslog) {
        p = sl_syslog_add_header(log->syslog, p, log->syslog->severity);
    }

    for (i = 0; i < n; i++) {
        p = sl_stream_log_op_write(s, log->format, &op[i], p);
    }

    if (log->syslog == NULL) {
        *p++ = '\n';
    }

    *size = (size_t) (p - line);
    return line;
}

static sl_int_t
sl_stream_log_handler(sl_stream_session_t *s)
{
    sl_stream_log_srv_conf_t  *lscf;
    sl_stream_log_t           *log;
    sl_uint_t                  l;
    sl_int_t                   rc;
    u_char                    *line;
    size_t                     len;

    lscf = sl_stream_get_module_srv_conf(s, sl_stream_log_module);
    if (lscf->off || lscf->logs == NULL) {
        return SL_OK;
    }

    log = lscf->logs->elts;

    for (l = 0; l < lscf->logs->nelts; l++) {
        rc = sl_stream_log_wanted(s, &log[l]);
        if (rc != 1) {
            if (rc == SL_ERROR) {
                return SL_ERROR;
            }
            continue;
        }

        line = sl_stream_log_line(s, &log[l], &len);
        if (line == NULL) {
            return SL_ERROR;
        }

        if (log[l].syslog != NULL) {
            /* a failure is the peer's to tell, once a second */
            (void) sl_syslog_send(log[l].syslog, line, len);
        } else if (log[l].buffer != NULL) {
            sl_stream_log_buffered(s, log[l].buffer, line, len);
        } else {
            sl_stream_log_write_fd(log[l].file, s->connection->log, line,
                                   len);
        }
    }

    return SL_OK;
}

/* a process ends: what the buffers hold goes to the files */
static void
sl_stream_log_exit_process(sl_cycle_t *cycle)
{
    sl_stream_log_main_conf_t  *lmcf;
    sl_stream_log_buf_t       **buffer;
    sl_uint_t                   i;

    lmcf = sl_stream_cycle_get_module_main_conf(cycle, sl_stream_log_module);
    if (lmcf == NULL) {
        return;
    }

    buffer = lmcf->buffers.elts;
    for (i = 0; i < lmcf->buffers.nelts; i++) {
        sl_stream_log_flush(buffer[i], cycle->log);
    }
}

/*
 * The cycle goes away without exit_process (a reload in a process that
 * served nothing, a failed start): nothing may be left in the loop's
 * timers, nor in the buffer. The file may be closed already.
 */
static void
sl_stream_log_buf_cleanup(void *data)
{
    sl_stream_log_buf_t  *buffer = data;
    sl_fd_t               fd;

    if (buffer->event.timer_set) {
        sl_del_timer(&buffer->event);
    }

    if (buffer->pos == buffer->start) {
        return;
    }

    fd = buffer->file->fd;
    if (fd == SL_INVALID_FILE) {
        fd = sl_open_append(buffer->file->name.data);
        if (fd == SL_INVALID_FILE) {
            return;
        }
    }

    (void) sl_write_fd(fd, buffer->start,
                       (size_t) (buffer->pos - buffer->start));

    if (fd != buffer->file->fd) {
        close(fd);
    }

    buffer->pos = buffer->start;
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_log_create_main_conf(sl_conf_t *cf)
{
    sl_stream_log_main_conf_t  *lmcf;

    lmcf = sl_pcalloc(cf->pool, sizeof(sl_stream_log_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (sl_array_init(&lmcf->formats, cf->pool, 4,
                      sizeof(sl_stream_log_fmt_t)) != SL_OK
        || sl_array_init(&lmcf->buffers, cf->pool, 2,
                         sizeof(sl_stream_log_buf_t *)) != SL_OK)
    {
        return NULL;
    }

    return lmcf;
}

static void *
sl_stream_log_create_srv_conf(sl_conf_t *cf)
{
    /* logs = NULL, off = 0: inherited */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_log_srv_conf_t));
}

static char *
sl_stream_log_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_log_srv_conf_t  *prev = parent;
    sl_stream_log_srv_conf_t  *conf = child;

    sl_unused(cf);

    if (conf->logs == NULL && !conf->off) {
        conf->logs = prev->logs;
        conf->off = prev->off;
    }

    return SL_CONF_OK;
}

static sl_uint_t
sl_stream_log_name_char(u_char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '_';
}

static sl_int_t
sl_stream_log_push_op(sl_conf_t *cf, sl_array_t *ops, u_char *data,
    size_t len, sl_uint_t variable)
{
    sl_stream_log_op_t  *op;
    sl_str_t             name;

    op = sl_array_push(ops);
    if (op == NULL) {
        return SL_ERROR;
    }

    op->text.data = data;
    op->text.len = len;
    op->index = -1;

    if (variable) {
        name = op->text;
        op->index = sl_stream_get_variable_index(cf, &name);
        if (op->index == SL_ERROR) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* "$name" or "${name}" at *pos (after the '$'); moves *pos past it */
static sl_int_t
sl_stream_log_compile_var(sl_conf_t *cf, sl_array_t *ops, sl_str_t *value,
    size_t *pos)
{
    size_t     i = *pos, start;
    sl_uint_t  bracket = 0;

    if (i < value->len && value->data[i] == '{') {
        bracket = 1;
        i++;
    }

    for (start = i; i < value->len && sl_stream_log_name_char(value->data[i]);
         i++)
    {
        /* void */
    }

    if (bracket) {
        if (i == value->len || value->data[i] != '}') {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the closing bracket in "
                              "\"%*s\" variable is missing", i - start,
                              value->data + start);
            return SL_ERROR;
        }
    }

    if (i == start) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          value);
        return SL_ERROR;
    }

    if (sl_stream_log_push_op(cf, ops, value->data + start, i - start, 1)
        != SL_OK)
    {
        return SL_ERROR;
    }

    *pos = i + bracket;
    return SL_OK;
}

/* the arguments, joined: literal text and variables */
static sl_int_t
sl_stream_log_compile(sl_conf_t *cf, sl_stream_log_fmt_t *fmt,
    sl_str_t *value, sl_uint_t n)
{
    size_t     i, start;
    sl_uint_t  a;

    for (a = 0; a < n; a++) {
        i = 0;

        while (i < value[a].len) {
            if (value[a].data[i] == '$') {
                i++;
                if (sl_stream_log_compile_var(cf, fmt->ops, &value[a], &i)
                    != SL_OK)
                {
                    return SL_ERROR;
                }
                continue;
            }

            start = i;
            while (i < value[a].len && value[a].data[i] != '$') {
                i++;
            }

            if (sl_stream_log_push_op(cf, fmt->ops, value[a].data + start,
                                      i - start, 0) != SL_OK)
            {
                return SL_ERROR;
            }
        }
    }

    return SL_OK;
}

static char *
sl_stream_log_set_format(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_log_main_conf_t  *lmcf = conf;
    sl_stream_log_fmt_t        *fmt;
    sl_str_t                   *value = cf->args->elts;
    sl_uint_t                   i, first = 2;
    u_char                     *e;

    sl_unused(cmd);

    fmt = lmcf->formats.elts;
    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (sl_str_eq(&fmt[i].name, &value[1])) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate \"log_format\" "
                              "name \"%V\"", &value[1]);
            return SL_CONF_ERROR;
        }
    }

    fmt = sl_array_push(&lmcf->formats);
    if (fmt == NULL) {
        return SL_CONF_ERROR;
    }

    fmt->name = value[1];
    fmt->escape = SL_STREAM_LOG_ESCAPE_DEFAULT;
    fmt->ops = sl_array_create(cf->pool, 16, sizeof(sl_stream_log_op_t));
    if (fmt->ops == NULL) {
        return SL_CONF_ERROR;
    }

    if (value[2].len >= 7 && sl_strncmp(value[2].data, "escape=", 7) == 0) {
        e = value[2].data + 7;

        if (sl_strcmp(e, "json") == 0) {
            fmt->escape = SL_STREAM_LOG_ESCAPE_JSON;
        } else if (sl_strcmp(e, "none") == 0) {
            fmt->escape = SL_STREAM_LOG_ESCAPE_NONE;
        } else if (sl_strcmp(e, "default") != 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown log format "
                              "escaping \"%s\"", e);
            return SL_CONF_ERROR;
        }

        first = 3;
    }

    if (sl_stream_log_compile(cf, fmt, &value[first],
                              cf->args->nelts - first) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static sl_stream_log_fmt_t *
sl_stream_log_find_format(sl_conf_t *cf, sl_str_t *name)
{
    sl_stream_log_main_conf_t  *lmcf;
    sl_stream_log_fmt_t        *fmt;
    sl_uint_t                   i;

    lmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_log_module);
    fmt = lmcf->formats.elts;

    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (sl_str_caseeq(&fmt[i].name, name)) {
            return &fmt[i];
        }
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown log format \"%V\"", name);
    return NULL;
}

/* one "name=VALUE" parameter: its value, or NULL when the name differs */
static sl_str_t *
sl_stream_log_param(sl_str_t *arg, const char *name, sl_str_t *out)
{
    size_t  n = sl_strlen(name);

    if (arg->len < n || sl_strncmp(arg->data, name, n) != 0) {
        return NULL;
    }

    out->data = arg->data + n;
    out->len = arg->len - n;
    return out;
}

/* buffer=SIZE, flush=TIME and if=CONDITION */
static sl_int_t
sl_stream_log_params(sl_conf_t *cf, sl_str_t *value, sl_uint_t n,
    sl_stream_log_params_t *lp)
{
    sl_str_t   s;
    sl_uint_t  i;

    for (i = 0; i < n; i++) {
        if (sl_stream_log_param(&value[i], "buffer=", &s)) {
            lp->size = sl_parse_size(&s);

            if (lp->size == SL_ERROR || lp->size == 0) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid buffer size "
                                  "\"%V\"", &s);
                return SL_ERROR;
            }
            continue;
        }

        if (sl_stream_log_param(&value[i], "flush=", &s)) {
            lp->flush = (sl_msec_t) sl_parse_time(&s, 0);

            if (lp->flush == (sl_msec_t) SL_ERROR || lp->flush == 0) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid flush time "
                                  "\"%V\"", &s);
                return SL_ERROR;
            }
            continue;
        }

        if (sl_stream_log_param(&value[i], "if=", &lp->filter)) {
            continue;
        }

        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          &value[i]);
        return SL_ERROR;
    }

    return SL_OK;
}

/* the buffer of the file: made once, the same parameters every time */
static sl_stream_log_buf_t *
sl_stream_log_buffer(sl_conf_t *cf, sl_stream_log_t *log, sl_str_t *path,
    size_t size, sl_msec_t flush)
{
    sl_stream_log_main_conf_t   *lmcf;
    sl_stream_log_buf_t        **bp, *buffer;
    sl_pool_cleanup_t           *cln;
    sl_uint_t                    i;

    lmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_log_module);
    bp = lmcf->buffers.elts;

    for (i = 0; i < lmcf->buffers.nelts; i++) {
        if (bp[i]->file != log->file) {
            continue;
        }

        if ((size_t) (bp[i]->last - bp[i]->start) != size
            || bp[i]->flush != flush)
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "access_log \"%V\" "
                              "already defined with conflicting "
                              "parameters", path);
            return NULL;
        }

        return bp[i];
    }

    buffer = sl_pcalloc(cf->pool, sizeof(sl_stream_log_buf_t));
    bp = sl_array_push(&lmcf->buffers);
    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (buffer == NULL || bp == NULL || cln == NULL) {
        return NULL;
    }

    buffer->start = sl_pnalloc(cf->pool, size);
    if (buffer->start == NULL) {
        return NULL;
    }

    buffer->file = log->file;
    log->file->flush = sl_stream_log_file_flush;
    log->file->data = buffer;
    buffer->pos = buffer->start;
    buffer->last = buffer->start + size;
    buffer->flush = flush;
    buffer->event.data = buffer;
    buffer->event.handler = sl_stream_log_flush_handler;
    buffer->event.log = &cf->cycle->new_log;
    buffer->event.cancelable = 1;

    cln->handler = sl_stream_log_buf_cleanup;
    cln->data = buffer;

    *bp = buffer;
    return buffer;
}

/* where the lines go: a file of the cycle's, or a syslog server */
static sl_int_t
sl_stream_log_target(sl_conf_t *cf, sl_stream_log_t *log, sl_str_t *path)
{
    if (path->len >= 7 && sl_strncmp(path->data, "syslog:", 7) == 0) {
        log->syslog = sl_pcalloc(cf->pool, sizeof(sl_syslog_peer_t));
        if (log->syslog == NULL
            || sl_syslog_process_conf(cf, log->syslog, path) != SL_CONF_OK)
        {
            return SL_ERROR;
        }
        return SL_OK;
    }

    if (memchr(path->data, '$', path->len) != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "variables in the path of "
                          "\"access_log\" are not supported");
        return SL_ERROR;
    }

    log->file = sl_conf_open_file(cf->cycle, path);
    return log->file != NULL ? SL_OK : SL_ERROR;
}

/* buffer=, flush= and if= applied to log */
static sl_int_t
sl_stream_log_apply(sl_conf_t *cf, sl_stream_log_t *log, sl_str_t *path,
    sl_stream_log_params_t *lp)
{
    if (lp->flush && lp->size == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no buffer is defined for "
                          "access_log \"%V\"", path);
        return SL_ERROR;
    }

    if (lp->size > 0 && log->syslog != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "logs to syslog cannot be "
                          "buffered");
        return SL_ERROR;
    }

    if (lp->size > 0) {
        log->buffer = sl_stream_log_buffer(cf, log, path, (size_t) lp->size,
                                           lp->flush);
        if (log->buffer == NULL) {
            return SL_ERROR;
        }
    }

    if (lp->filter.data != NULL) {
        log->filter = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
        if (log->filter == NULL
            || sl_stream_compile_complex_value(cf, &lp->filter, log->filter)
               != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static char *
sl_stream_log_set_log(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_log_srv_conf_t  *lscf = conf;
    sl_stream_log_params_t     lp;
    sl_stream_log_t           *log;
    sl_str_t                  *value = cf->args->elts;

    sl_unused(cmd);

    if (sl_str_eq_lit(&value[1], "off")) {
        lscf->off = 1;
        if (cf->args->nelts == 2) {
            return SL_CONF_OK;
        }

        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          &value[2]);
        return SL_CONF_ERROR;
    }

    if (lscf->logs == NULL) {
        lscf->logs = sl_array_create(cf->pool, 2, sizeof(sl_stream_log_t));
        if (lscf->logs == NULL) {
            return SL_CONF_ERROR;
        }
    }

    log = sl_array_push(lscf->logs);
    if (log == NULL) {
        return SL_CONF_ERROR;
    }

    sl_memzero(log, sizeof(sl_stream_log_t));
    sl_memzero(&lp, sizeof(lp));

    if (sl_stream_log_target(cf, log, &value[1]) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (cf->args->nelts < 3) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "log format is not specified");
        return SL_CONF_ERROR;
    }

    log->format = sl_stream_log_find_format(cf, &value[2]);
    if (log->format == NULL
        || sl_stream_log_params(cf, &value[3], cf->args->nelts - 3, &lp)
           != SL_OK
        || sl_stream_log_apply(cf, log, &value[1], &lp) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_log_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_LOG_PHASE, sl_stream_log_handler);
}
