/*
 * sl_log.c -- the error log.
 */
#include "sl_config.h"
#include "sl_core.h"

#if (SL_HAVE_GETTID)
#define sl_log_tid()  ((sl_int_t) gettid())
#else
#define sl_log_tid()  ((sl_int_t) 0)
#endif

const sl_str_t  sl_log_levels[] = {
    sl_string("stderr"),
    sl_string("emerg"),
    sl_string("alert"),
    sl_string("crit"),
    sl_string("error"),
    sl_string("warn"),
    sl_string("notice"),
    sl_string("info"),
    sl_string("debug"),
};

static u_char *
sl_log_time(sl_log_t *log, u_char *p, u_char *last)
{
    sl_time_cache_t  now;

    if (log != NULL && log->time != NULL) {
        return sl_slprintf(p, last, "%s ", log->time->err_log_time);
    }

    /* no clock of a cycle to read: format the time here */
    sl_memzero(&now, sizeof(now));
    sl_time_update(&now);
    return sl_slprintf(p, last, "%s ", now.err_log_time);
}

u_char *
sl_log_errno(u_char *buf, u_char *last, sl_err_t err)
{
    if (buf > last - 50) {
        /* keep room for the error text: mark the message as cut */
        buf = last - 50;
        *buf++ = '.';
        *buf++ = '.';
        *buf++ = '.';
    }

    buf = sl_slprintf(buf, last, " (%d: ", err);
    buf = sl_strerror(err, buf, (size_t) (last - buf));

    if (buf < last) {
        *buf++ = ')';
    }

    return buf;
}

/* the message itself: shared by the log line and the stderr echo */
static u_char *
sl_log_message(sl_log_t *log, u_char *p, u_char *last, sl_err_t err,
    const char *fmt, va_list args)
{
    p = sl_vslprintf(p, last, fmt, args);

    if (err) {
        p = sl_log_errno(p, last, err);
    }

    if (log != NULL && log->handler != NULL && p < last) {
        p = log->handler(log, p, (size_t) (last - p));
    }

    return p;
}

void
sl_log_error_core(sl_uint_t level, sl_log_t *log, sl_err_t err,
    const char *fmt, ...)
{
    u_char      errstr[SL_MAX_ERROR_STR], *p, *msg, *start, *last;
    sl_uint_t   wrote_stderr = 0;
    sl_log_t   *l;
    va_list     args;

    last = errstr + SL_MAX_ERROR_STR - 1;   /* room for the line feed */

    p = sl_log_time(log, errstr, last);
    p = sl_slprintf(p, last, "[%V] %i#%i: ", &sl_log_levels[level],
                    (sl_int_t) getpid(), sl_log_tid());

    start = p;

    if (log != NULL && log->connection) {
        p = sl_slprintf(p, last, "*%ui ", log->connection);
    }

    msg = p;

    va_start(args, fmt);
    p = sl_log_message(log, p, last, err, fmt, args);
    va_end(args);

    *p++ = LF;

    if (log == NULL) {
        (void) sl_write_fd(STDERR_FILENO, errstr, (size_t) (p - errstr));
        return;
    }

    for (l = log; l != NULL; l = l->next) {
        if (l->log_level < level || l->file == NULL) {
            continue;
        }

        if (l->file->writer != NULL) {
            l->file->writer(l->file, level, errstr, (size_t) (p - 1 - errstr));
            continue;
        }

        if (l->file->sink != NULL) {
            l->file->sink(l->file, level, start, (size_t) (p - 1 - start));
            continue;
        }

        if (l->file->fd == SL_INVALID_FILE) {
            continue;
        }

        (void) sl_write_fd(l->file->fd, errstr, (size_t) (p - errstr));

        if (l->file->fd == STDERR_FILENO) {
            wrote_stderr = 1;
        }
    }

    if (!log->echo_stderr || level > SL_LOG_WARN || wrote_stderr) {
        return;
    }

    /* "sluice: [level] message" for the person at the terminal */
    {
        u_char  echo[SL_MAX_ERROR_STR], *e;

        e = sl_slprintf(echo, echo + SL_MAX_ERROR_STR - 1, "sluice: [%V] %*s",
                        &sl_log_levels[level], (size_t) (p - 1 - msg), msg);
        *e++ = LF;
        (void) sl_write_fd(STDERR_FILENO, echo, (size_t) (e - echo));
    }
}

void
sl_log_stderr(sl_err_t err, const char *fmt, ...)
{
    u_char   errstr[SL_MAX_ERROR_STR], *p, *last;
    va_list  args;

    last = errstr + SL_MAX_ERROR_STR - 1;
    p = sl_cpymem(errstr, "sluice: ", 8);

    va_start(args, fmt);
    p = sl_vslprintf(p, last, fmt, args);
    va_end(args);

    if (err) {
        p = sl_log_errno(p, last, err);
    }

    *p++ = LF;
    (void) sl_write_fd(STDERR_FILENO, errstr, (size_t) (p - errstr));
}

sl_int_t
sl_log_level_from_name(sl_str_t *name)
{
    sl_uint_t  i;

    for (i = SL_LOG_EMERG; i <= SL_LOG_DEBUG; i++) {
        if (sl_str_eq(name, (sl_str_t *) &sl_log_levels[i])) {
            return (sl_int_t) i;
        }
    }

    return SL_ERROR;
}

void
sl_log_insert(sl_log_t *head, sl_log_t *log)
{
    sl_log_t  tmp;

    if (log->log_level > head->log_level) {
        /* the new one is more verbose: it takes the head's place */
        tmp = *head;
        *head = *log;
        *log = tmp;
        head->next = log;
        head->echo_stderr = log->echo_stderr;
        return;
    }

    while (head->next != NULL && head->next->log_level >= log->log_level) {
        head = head->next;
    }

    log->next = head->next;
    head->next = log;
}

void
sl_log_init_stderr(sl_log_t *log, sl_open_file_t *file)
{
    file->fd = STDERR_FILENO;
    sl_str_set(&file->name, "stderr");
    file->flush = NULL;
    file->sink = NULL;
    file->sink_data = NULL;
    file->writer = NULL;
    file->wdata = NULL;
    file->data = NULL;

    sl_memzero(log, sizeof(sl_log_t));
    log->log_level = SL_LOG_NOTICE;
    log->file = file;
}
