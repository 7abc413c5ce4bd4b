/*
 * sl_log.h -- the error log.
 *
 * A line is "YYYY/MM/DD HH:MM:SS [level] pid#tid: *connid message", where
 * "*connid " appears only for a connection's log and the log's handler may
 * append context (", client: ..."). Several logs chain through `next`,
 * most verbose first; a message goes to every log whose level admits it.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "sl_config.h"
#include "sl_string.h"
#include "sl_times.h"

typedef struct sl_log_s        sl_log_t;
typedef struct sl_open_file_s  sl_open_file_t;
typedef struct sl_conf_s       sl_conf_t;

#define SL_LOG_STDERR   0
#define SL_LOG_EMERG    1
#define SL_LOG_ALERT    2
#define SL_LOG_CRIT     3
#define SL_LOG_ERR      4
#define SL_LOG_WARN     5
#define SL_LOG_NOTICE   6
#define SL_LOG_INFO     7
#define SL_LOG_DEBUG    8

#define SL_MAX_ERROR_STR  2048

typedef u_char *(*sl_log_handler_pt)(sl_log_t *log, u_char *buf, size_t len);

struct sl_open_file_s {
    sl_fd_t          fd;
    sl_str_t         name;      /* "stderr" for the standard error */
    /* writes out what a user buffers for the file, before a reopen */
    void           (*flush)(sl_open_file_t *file, sl_log_t *log);
    void            *data;      /* for flush */
    /*
     * Set: messages go to this function instead of fd (an embedding
     * host's log): msg is the message after "[level] pid#tid: ".
     */
    void           (*sink)(sl_open_file_t *file, sl_uint_t level,
                           u_char *msg, size_t len);
    void            *sink_data;
    /*
     * Set: the whole line, without its line feed, goes to this function
     * instead of fd (a syslog server: src/core/sl_syslog.c).
     */
    void           (*writer)(sl_open_file_t *file, sl_uint_t level,
                             u_char *buf, size_t len);
    void            *wdata;
};

/* every accepted connection has one in its pool: nothing in it pads */
struct sl_log_s {
    sl_open_file_t    *file;
    sl_uint_t          connection;   /* printed as "*N " when not zero */
    sl_time_cache_t   *time;         /* the cycle's clock; NULL reads it */
    sl_log_handler_pt  handler;      /* appends context to the message */
    void              *data;         /* for the handler */
    const char        *action;       /* "while <action>" in the context */
    sl_log_t          *next;
    /*
     * While starting up (and for -t), messages at warn and above are also
     * shown on stderr as "sluice: [level] message", unless a log in the
     * chain already writes to stderr.
     */
    unsigned           echo_stderr:1;
    unsigned           log_level:4;  /* SL_LOG_STDERR .. SL_LOG_DEBUG */
};

extern const sl_str_t  sl_log_levels[];   /* "stderr", "emerg", ... "debug" */

void sl_log_error_core(sl_uint_t level, sl_log_t *log, sl_err_t err,
    const char *fmt, ...);

#define sl_log_error(level, log, ...)                                         \
    do {                                                                      \
        if ((log) == NULL || (log)->log_level >= (level)) {                   \
            sl_log_error_core(level, log, __VA_ARGS__);                       \
        }                                                                     \
    } while (0)

#if (SL_DEBUG)
#define sl_log_debug(log, ...)    sl_log_error(SL_LOG_DEBUG, log, __VA_ARGS__)
#else
#define sl_log_debug(log, ...)
#endif

/* "sluice: message[ (err: text)]" on stderr, for the command line */
void sl_log_stderr(sl_err_t err, const char *fmt, ...);
/* appends " (err: text)" within [buf, last) */
u_char *sl_log_errno(u_char *buf, u_char *last, sl_err_t err);
/* the level's number for a name, or SL_ERROR */
sl_int_t sl_log_level_from_name(sl_str_t *name);
/* inserts log into the chain at head so the most verbose comes first */
void sl_log_insert(sl_log_t *head, sl_log_t *log);
/* an "error_log" directive's arguments into the chain at *head */
char *sl_log_set_log(sl_conf_t *cf, sl_log_t **head);
/* a log writing to stderr at notice, echoing nothing: startup and tests */
void sl_log_init_stderr(sl_log_t *log, sl_open_file_t *file);

#endif /* SL_LOG_H */
