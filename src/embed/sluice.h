/*
 * sluice.h -- embedding sluice: a C program runs an echo, a proxy or a
 * protocol of its own inside its own process, configured in the nginx
 * stream language the sluice daemon reads.
 *
 * This is the whole public interface of libsluice. It includes standard
 * headers only and defines no feature macros; every type is opaque or
 * carries its own size, so that a host built against this header keeps
 * working with a later library.
 *
 * Threads. An instance is a single-threaded event loop. The functions
 * below say which thread may call them:
 *   - "any thread": at any time, from any thread (sl_instance_stop() also
 *     from a signal handler);
 *   - "the loop thread": the thread that runs the instance: the one in
 *     sl_instance_run(), the one started by sl_instance_start(), or the
 *     one that called sl_instance_run_once() first (from then until it
 *     returned SL_DONE, between its calls too); handler callbacks and
 *     functions given to sl_instance_post() run there;
 *   - "not running": no thread is inside run/run_once and no thread
 *     started by sl_instance_start() is alive.
 * Instances share nothing mutable: several may run in several threads.
 *
 * A destroyed instance is refused by every function (SL_ERROR, -1 or
 * NULL): the library keeps a list of the live ones. It cannot tell an old
 * handle from a new instance that happens to get the same address.
 *
 * Return codes are the same as the library's own: SL_OK, SL_ERROR,
 * SL_AGAIN, SL_BUSY, SL_DONE. See docs/embedding.md for the guide.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_VERSION_MAJOR  0
#define SLUICE_VERSION_MINOR  1
#define SLUICE_VERSION_PATCH  0

/* return codes */
#define SL_OK          0
#define SL_ERROR      -1
#define SL_AGAIN      -2
#define SL_BUSY       -3
#define SL_DONE       -4

/* log levels, as the error_log directive names them */
#define SL_LOG_EMERG    1
#define SL_LOG_ALERT    2
#define SL_LOG_CRIT     3
#define SL_LOG_ERR      4
#define SL_LOG_WARN     5
#define SL_LOG_NOTICE   6
#define SL_LOG_INFO     7
#define SL_LOG_DEBUG    8

/* sl_instance_stop() */
#define SL_STOP_GRACEFUL  1   /* no new connections; sessions run out */
#define SL_STOP_FAST      2   /* every connection is closed now */

typedef struct sl_instance_s  sl_instance_t;
typedef struct sl_session_s   sl_session_t;

/*
 * A protocol served by the host: registered by name in
 * sl_instance_conf_t.handlers and chosen with "handler NAME;" in a
 * server{}. TLS, the PROXY protocol, allow/deny, the access log and the
 * timeouts of that server apply as to any other.
 *
 * Every callback runs on the loop thread; every one but data may be NULL.
 * Inside any callback the handler may call every sl_session_*() function,
 * sl_session_close() included.
 */
typedef struct {
    size_t    size;     /* sizeof(sl_stream_handler_t) */

    /*
     * The session is ready for data (its TLS handshake and PROXY protocol
     * header, if any, are done). SL_OK, or SL_ERROR to close it ($status
     * 500).
     */
    int     (*open)(sl_session_t *s);

    /*
     * p, n: all the input the handler has not consumed yet, n > 0. It
     * returns how many bytes it consumed (0 to n): 0 waits for more input,
     * and sluice calls it again while input remains and it makes progress.
     * SL_ERROR closes the session ($status 400). Anything else (below
     * SL_ERROR, above n) is logged as an error and closes it ($status
     * 500). p stays valid until data returns. After a 0, the same input
     * is offered again only once more has arrived (or the client's FIN,
     * through eof).
     */
    long    (*data)(sl_session_t *s, const char *p, size_t n);

    /*
     * After sl_session_write() returned SL_AGAIN: the output queue has
     * drained below the high-water mark; produce again.
     */
    void    (*writable)(sl_session_t *s);

    /*
     * The client closed its side and data has seen (and left) all input.
     * What is queued is still sent, then the session ends ($status 200).
     */
    void    (*eof)(sl_session_t *s);

    /*
     * The session ends, for whatever reason, with $status status: called
     * exactly once for each session that open (or the first data) saw.
     * status is 0 for a session cut short by a fast stop, the end of
     * worker_shutdown_timeout or sl_instance_destroy() (no access-log
     * line is written for it then, as nginx writes none for connections
     * a fast shutdown closes). The handle is invalid once close returns.
     */
    void    (*close)(sl_session_t *s, int status);
} sl_stream_handler_t;

typedef struct {
    const char                 *name;      /* as "handler NAME;" names it */
    const sl_stream_handler_t  *handler;
    void                       *data;      /* sl_session_handler_data() */
} sl_handler_reg_t;

/*
 * A log sink: one call per message at log_level or more severe. msg is
 * the message as the error log would show it after "[level] pid#tid: "
 * (with "*N " for a connection), len bytes, not NUL-terminated, no line
 * feed. It is called on the loop thread, and on the thread calling
 * sl_instance_create() or sl_instance_reload() for what happens while a
 * configuration is read and bound (errors, and notices such as the event
 * method chosen).
 */
typedef void (*sl_log_pt)(void *log_data, int level, const char *msg,
    size_t len);

typedef struct {
    size_t                   size;          /* sizeof(sl_instance_conf_t) */
    const char              *prefix;        /* like -p; NULL: the cwd */
    const char              *conf_file;     /* like -c (against prefix) */
    const char              *conf_string;   /* or a whole config as text */
    const char              *directives;    /* like -g; may be NULL */
    const sl_handler_reg_t  *handlers;      /* NULL-name terminated; NULL */
    sl_log_pt                log;           /* NULL: error_log as set */
    void                    *log_data;
    int                      log_level;     /* 0: SL_LOG_NOTICE */
    void                    *data;          /* sl_instance_data() */
} sl_instance_conf_t;

/*
 * Builds an instance from conf: parses the configuration (exactly one of
 * conf_file and conf_string), opens the files it names, binds the
 * listening sockets and builds the TLS contexts, all before returning.
 * The instance serves nothing until it runs. Its loop takes one of
 * worker_connections for its wake-up descriptor. Without a log sink and
 * without error_log, errors go to the standard error.
 *
 * Returns SL_OK and *out. On failure SL_ERROR, *out NULL, nothing left
 * open, and err (if not NULL) holds the message the daemon would print,
 * NUL-terminated and cut to errlen: 'unknown directive "x" in STRING:3',
 * 'bind() to 127.0.0.1:7000 failed (98: Address already in use)'.
 * A configuration given as conf_string is named STRING in messages.
 * Directives that act on the whole process (user, pid, worker_processes,
 * worker_rlimit_nofile, worker_priority, worker_cpu_affinity,
 * working_directory, env; daemon and master_process other than off) are
 * errors. Any thread.
 */
int sl_instance_create(const sl_instance_conf_t *conf, sl_instance_t **out,
    char *err, size_t errlen);

/*
 * Runs the loop in the calling thread until the instance is stopped and
 * its sessions are done. Returns SL_DONE; SL_BUSY if the instance is
 * running already (or was started with sl_instance_start()); SL_ERROR for
 * a NULL or destroyed instance. SIGPIPE is blocked in the calling thread
 * while it runs; its mask is as it was on return.
 */
int sl_instance_run(sl_instance_t *in);

/*
 * One iteration of the loop: waits at most timeout_ms (-1: until
 * something happens; 0: not at all) and handles what is due. Returns
 * SL_OK while the instance serves, SL_DONE once it is stopped and drained
 * (then every later call returns SL_DONE), SL_BUSY if another thread runs
 * it, SL_ERROR for a NULL or destroyed instance. The thread that first
 * calls it is the loop thread until it returns SL_DONE.
 */
int sl_instance_run_once(sl_instance_t *in, int timeout_ms);

/*
 * A descriptor that becomes readable when the instance has work to do,
 * for a host's own poll/epoll loop: wait for it (and for at most
 * sl_instance_timeout() ms), then call sl_instance_run_once(in, 0).
 * Watch it level-triggered (poll, or epoll without EPOLLET): it stays
 * readable while work is pending. -1 when the event method has none
 * (poll, select: use epoll or kqueue there) or in is NULL. Any thread.
 */
int sl_instance_fd(sl_instance_t *in);

/*
 * How long the host may wait before it must call sl_instance_run_once():
 * ms until the nearest timer, 0 when work is pending already, -1 when
 * only the descriptor can bring work. The loop thread.
 */
int sl_instance_timeout(sl_instance_t *in);

/*
 * Runs the instance in a thread of its own, with every signal blocked in
 * it. SL_OK; SL_BUSY if it runs already; SL_ERROR if the thread could
 * not be created. Any thread.
 */
int sl_instance_start(sl_instance_t *in);

/*
 * Waits for the thread of sl_instance_start() to end (after a stop) and
 * returns what its run returned (SL_DONE); SL_ERROR when none was
 * started, when called from that thread itself, or when another join
 * already waits for it. Any other thread.
 */
int sl_instance_join(sl_instance_t *in);

/*
 * Stops the instance: SL_STOP_GRACEFUL closes the listening sockets and
 * lets the sessions in progress end (at most worker_shutdown_timeout, if
 * set); SL_STOP_FAST closes them all at once. A stop is sticky: one that
 * comes before run is kept, and a fast stop overrides a graceful one.
 * Any thread, and a signal handler (it takes no lock: it reads the list
 * of live instances, stores a flag and writes to a descriptor). A NULL or
 * destroyed in, or an unknown how, is ignored.
 */
void sl_instance_stop(sl_instance_t *in, int how);

/*
 * Runs fn(in, arg) on the loop thread, exactly once for each call that
 * returned SL_OK, in the order of the calls. SL_OK; SL_DONE once the
 * instance has finished running (fn will not run); SL_ERROR for a NULL
 * fn or instance, or no memory. Any thread.
 */
int sl_instance_post(sl_instance_t *in,
    void (*fn)(sl_instance_t *in, void *arg), void *arg);

/*
 * Applies a new configuration in-process: it is read and checked in the
 * calling thread, while the loop goes on; then, on the loop thread,
 * listening sockets whose address did not change are carried over, new
 * ones are bound, and the sessions in progress finish under the old
 * configuration. Shared memory zones are kept or carried over as a
 * daemon's reload keeps them (limit_conn counts, upstream zone
 * failures). On any error the old configuration keeps serving,
 * unchanged, and err says why, as sl_instance_create() does. conf: as
 * for sl_instance_create(); its log fields, handlers and data are
 * ignored (the instance keeps those it was created with), and so is a
 * change of events{} (worker_connections, use, multi_accept: the loop
 * is the one the instance was created with). SL_OK; SL_ERROR; SL_DONE
 * when the instance is stopping or finished; SL_BUSY on the loop thread
 * while another thread's reload is under way (that one waits for the
 * loop). Any thread; on the loop thread the swap is done at once; from
 * another, the call returns once the loop thread has done it. Calls are
 * serialised.
 */
int sl_instance_reload(sl_instance_t *in, const sl_instance_conf_t *conf,
    char *err, size_t errlen);

/*
 * Frees the instance: its sockets, sessions, files and memory. Sessions
 * still open (an instance left before SL_DONE) are closed, and functions
 * posted and not yet run are run, in the calling thread: their close
 * callbacks and posted functions run there, not on a loop thread. SL_OK;
 * SL_BUSY while it is running or a reload is under way in another thread
 * (it is then left untouched); SL_ERROR for NULL. Not running; any
 * thread.
 */
int sl_instance_destroy(sl_instance_t *in);

/* conf.data as given to sl_instance_create(). Any thread. */
void *sl_instance_data(sl_instance_t *in);

/*
 * --- sessions of a host handler -------------------------------------------
 *
 * The loop thread only. Called from another thread, write, shutdown,
 * close, var and proxy return SL_ERROR and do nothing (they log nothing
 * either: the session is not that thread's to touch). The four accessors
 * below them only read or store a pointer.
 */

/*
 * Queues n bytes for the client (they are copied, or sent at once when the
 * socket takes them). SL_OK; SL_AGAIN when the queue is at or above its
 * high-water mark (handler_buffer_size): the bytes were taken, but the
 * handler should produce nothing more until its writable callback;
 * SL_ERROR when the session is closed or closing (logged), or when the
 * queue would exceed 16 times the mark (nothing is taken).
 */
int sl_session_write(sl_session_t *s, const void *p, size_t n);

/*
 * Sends the client a FIN once the queue has been sent; the session ends
 * when the client closes too (on TLS: once the queue has been sent, with
 * a close_notify). Input still reaches data meanwhile; writes return
 * SL_ERROR. SL_OK, SL_ERROR when closed.
 */
int sl_session_shutdown(sl_session_t *s);

/*
 * Ends the session with $status status (200, 400, 403, 500, 502, 503):
 * at once, or when the callback that called it returns. What is queued
 * and not yet sent is dropped. SL_OK; SL_ERROR when closed already.
 */
int sl_session_close(sl_session_t *s, int status);

/*
 * The value of the stream variable name (without "$": "remote_addr",
 * "ssl_protocol", "server_port"...). SL_OK with *value, *len (valid until
 * the session ends, not NUL-terminated); SL_ERROR when there is no such
 * variable or it is not found in this session. A variable whose value is
 * empty (the $ssl_* ones on a plain connection) gives SL_OK and *len 0.
 */
int sl_session_var(sl_session_t *s, const char *name, const char **value,
    size_t *len);

/* the host's own pointer for this session (NULL until set) */
void *sl_session_get_data(sl_session_t *s);
void sl_session_set_data(sl_session_t *s, void *data);

/* sl_handler_reg_t.data of the session's handler */
void *sl_session_handler_data(sl_session_t *s);

/* the instance the session belongs to */
sl_instance_t *sl_session_instance(sl_session_t *s);

/*
 * Hands the session to the built-in proxy, towards the upstream{} group
 * named upstream, with the server's proxy_* settings: the input the
 * handler has not consumed is sent to the upstream first (sniff, then
 * proxy). From then on no callback but close is called. SL_OK;
 * SL_ERROR (logged) when there is no such upstream or no proxy in this
 * build, or the session is closing.
 */
int sl_session_proxy(sl_session_t *s, const char *upstream);

/* --- handler modules ------------------------------------------------------ */

/*
 * A handler module is a shared object that serves one protocol through an
 * sl_stream_handler_t, loaded by the daemon or an instance with
 * "load_module NAME.so;" and chosen with "handler NAME;". It declares
 * itself once, after its handler:
 *
 *     SL_HANDLER_MODULE(upper, &upper_handler);
 *
 * which exports the record load_module checks: a module built against
 * handler API major M loads into any sluice of major M. See
 * docs/modules.md. The record's layout (shared with the full modules'
 * SDK, sl_module_abi.h) follows.
 */
#ifndef SL_MODULE_ABI_T_DEFINED
#define SL_MODULE_ABI_T_DEFINED

#define SL_MODULE_ABI_MAGIC     0x534c4d31u     /* "SLM1" */
#define SL_MODULE_KIND_FULL     1               /* sl_module_t: the SDK */
#define SL_MODULE_KIND_HANDLER  2               /* sl_stream_handler_t */

/* the handler tier's API: a handler module needs the same major */
#define SL_HANDLER_API_MAJOR    1
#define SL_HANDLER_API_MINOR    0

typedef struct {
    unsigned int          magic;          /* SL_MODULE_ABI_MAGIC */
    unsigned short        abi_major;      /* of the module's tier */
    unsigned short        abi_minor;
    unsigned short        kind;           /* SL_MODULE_KIND_* */
    unsigned char         ptr_size;       /* sizeof(void *) */
    unsigned char         off_size;       /* sizeof(off_t), 0: unused */
    unsigned char         time_size;      /* sizeof(time_t), 0: unused */
    unsigned char         openssl_major;  /* 0: does not use OpenSSL */
    const char           *version;        /* the sluice it was built for */
    const char           *name;           /* the module's name */
    const void           *body;           /* by kind: see below */
    const char           *order;          /* goes before this module; NULL */
} sl_module_abi_t;

/*
 * body: for SL_MODULE_KIND_FULL a NULL-terminated array of sl_module_t *;
 * for SL_MODULE_KIND_HANDLER a const sl_stream_handler_t *.
 *
 * A shared object exports its record as sl_module_abi, a pointer to it;
 * a static build (--add-module) compiles the module with
 * SL_STATIC_MODULE defined, and the record keeps its own name only.
 */
#ifdef SL_STATIC_MODULE
#define SL_MODULE_ABI_EXPORT(name)
#else
#define SL_MODULE_ABI_EXPORT(name)                                            \
    extern const sl_module_abi_t *const sl_module_abi;                        \
    const sl_module_abi_t *const sl_module_abi = &sl_module_abi_##name;
#endif

#ifndef SL_MODULE_ORDER
#define SL_MODULE_ORDER  0              /* configure: module_order */
#endif

#endif /* SL_MODULE_ABI_T_DEFINED */

#define SLUICE_VERSION_STR_(a, b, c)  #a "." #b "." #c
#define SLUICE_VERSION_STR(a, b, c)   SLUICE_VERSION_STR_(a, b, c)
/* "0.1.0": the version this header belongs to */
#define SLUICE_VERSION                                                        \
    SLUICE_VERSION_STR(SLUICE_VERSION_MAJOR, SLUICE_VERSION_MINOR,            \
                       SLUICE_VERSION_PATCH)

#define SL_HANDLER_MODULE(name, handler)                                      \
    extern const sl_module_abi_t  sl_module_abi_##name;                       \
    const sl_module_abi_t  sl_module_abi_##name = {                           \
        SL_MODULE_ABI_MAGIC, SL_HANDLER_API_MAJOR, SL_HANDLER_API_MINOR,      \
        SL_MODULE_KIND_HANDLER, sizeof(void *), 0, 0, 0, SLUICE_VERSION,      \
        #name, (handler), SL_MODULE_ORDER                                     \
    };                                                                        \
    SL_MODULE_ABI_EXPORT(name)

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
