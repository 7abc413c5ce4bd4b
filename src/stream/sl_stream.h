/*
 * sl_stream.h -- the stream layer: the stream{} block, its modules, and
 * the session a TCP connection becomes.
 *
 * stream{} holds server{} blocks; each server has listen addresses and
 * one content handler (echo, return, later proxy). Every SL_STREAM_MODULE
 * may keep a main conf (one per stream{}) and a srv conf (one per server,
 * plus the stream{} level that servers inherit from), indexed by its
 * ctx_index, exactly as nginx's stream modules do.
 *
 * A session runs through phases: post_accept, preaccess, access, ssl,
 * preread, content, and log (run by sl_stream_finalize_session()). Modules
 * add phase handlers from their postconfiguration hook.
 */
#ifndef SL_STREAM_H
#define SL_STREAM_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

typedef struct sl_stream_session_s        sl_stream_session_t;
typedef struct sl_stream_phase_handler_s  sl_stream_phase_handler_t;

#include "sl_stream_variables.h"
#include "sl_stream_script.h"
#include "sl_stream_regex.h"

#define SL_STREAM_MODULE      0x4d525453   /* "STRM" */

/* the contexts: free bits of the SL_*_CONF space (sl_conf_file.h) */
#define SL_STREAM_MAIN_CONF   0x04000000
#define SL_STREAM_SRV_CONF    0x08000000
#define SL_STREAM_UPS_CONF    0x10000000   /* upstream{} (balancers) */

/* $status, as nginx's stream module gives it */
#define SL_STREAM_OK                     200
#define SL_STREAM_BAD_REQUEST            400
#define SL_STREAM_FORBIDDEN              403
#define SL_STREAM_INTERNAL_SERVER_ERROR  500
#define SL_STREAM_BAD_GATEWAY            502
#define SL_STREAM_SERVICE_UNAVAILABLE    503

/*
 * A relay's turn (echo, proxy): a handler moves at most this many of its
 * buffers' worth of input before it lets the other sessions of the loop
 * have theirs, and goes on at the next iteration from a posted event. A
 * few buffers keep the cost of the extra iterations small for bulk data.
 */
#define SL_STREAM_TURN_BUFFERS  4

/* a session's pool when its size cannot be told (sl_stream_pool_size()) */
#define SL_STREAM_POOL_SIZE     512

typedef struct {
    void                 **main_conf;
    void                 **srv_conf;
} sl_stream_conf_ctx_t;

/* sl_command_t.conf of a stream directive: which array it writes into */
#define SL_STREAM_MAIN_CONF_OFFSET  offsetof(sl_stream_conf_ctx_t, main_conf)
#define SL_STREAM_SRV_CONF_OFFSET   offsetof(sl_stream_conf_ctx_t, srv_conf)

typedef struct {
    sl_int_t   (*preconfiguration)(sl_conf_t *cf);
    sl_int_t   (*postconfiguration)(sl_conf_t *cf);

    void      *(*create_main_conf)(sl_conf_t *cf);
    char      *(*init_main_conf)(sl_conf_t *cf, void *conf);

    void      *(*create_srv_conf)(sl_conf_t *cf);
    char      *(*merge_srv_conf)(sl_conf_t *cf, void *prev, void *conf);
} sl_stream_module_t;

/* --- phases -------------------------------------------------------------- */

typedef enum {
    SL_STREAM_POST_ACCEPT_PHASE = 0,
    SL_STREAM_PREACCESS_PHASE,
    SL_STREAM_ACCESS_PHASE,
    SL_STREAM_SSL_PHASE,
    SL_STREAM_PREREAD_PHASE,
    SL_STREAM_CONTENT_PHASE,
    SL_STREAM_LOG_PHASE
} sl_stream_phases_e;

/*
 * A phase handler returns SL_OK (on to the next phase), SL_DECLINED (on to
 * the next handler), SL_AGAIN or SL_DONE (it will resume the session
 * itself), SL_ERROR (status 500) or a status code to finalize with.
 * A preread handler looks at s->preread and returns SL_AGAIN for more.
 */
typedef sl_int_t (*sl_stream_handler_pt)(sl_stream_session_t *s);
/* a server's content handler: it owns the session until it finalizes it */
typedef void (*sl_stream_content_handler_pt)(sl_stream_session_t *s);
typedef sl_int_t (*sl_stream_phase_checker_pt)(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph);

struct sl_stream_phase_handler_s {
    sl_stream_phase_checker_pt   checker;
    sl_stream_handler_pt         handler;
    sl_uint_t                    next;     /* the first of the next phase */
};

typedef struct {
    sl_array_t                   handlers;  /* sl_stream_handler_pt */
} sl_stream_phase_t;

/* --- listening ----------------------------------------------------------- */

typedef struct sl_stream_core_srv_conf_s  sl_stream_core_srv_conf_t;

/* one "listen": its address and options, as the directive gave them */
typedef struct {
    struct sockaddr             *sockaddr;
    socklen_t                    socklen;
    sl_str_t                     addr_text;     /* "127.0.0.1:8000" */
    sl_stream_core_srv_conf_t   *server;    /* the default server */
    /*
     * Every server listening on the address (sl_stream_core_srv_conf_t *),
     * the default one among them: SNI chooses by server_name.
     */
    sl_array_t                   servers;

    int                          backlog;
    int                          rcvbuf;
    int                          sndbuf;
    int                          keepidle;
    int                          keepintvl;
    int                          keepcnt;

    unsigned                     set:1;      /* options were given */
    unsigned                     default_server:1;
    unsigned                     bind:1;     /* a socket of its own */
    unsigned                     wildcard:1;
    unsigned                     ssl:1;
    unsigned                     proxy_protocol:1;
    unsigned                     reuseport:1;
    unsigned                     deferred_accept:1;
    unsigned                     ipv6only:1;
    unsigned                     so_keepalive:2;   /* 0 unset, 1 on, 2 off */
} sl_stream_listen_t;

/*
 * One name of a server_name directive: a host name or wildcard (lower
 * case), or a regular expression: then name is its pattern, which follows
 * the "~" of the directive's argument in memory ($server_name shows it).
 */
typedef struct {
    sl_str_t                     name;
    sl_stream_regex_t           *regex;     /* NULL: not "~..." */
    sl_stream_core_srv_conf_t   *server;
} sl_stream_server_name_t;

/*
 * The server_name table of an address that several servers share: exact
 * names and wildcards in a hash, then the regular expressions, in the
 * order of the configuration.
 */
typedef struct {
    sl_hash_combined_t           names;   /* of sl_stream_core_srv_conf_t */
    sl_stream_server_name_t     *regex;
    sl_uint_t                    nregex;
} sl_stream_virtual_names_t;

/* what a session learns from the address it was accepted on */
typedef struct {
    sl_stream_conf_ctx_t        *ctx;          /* the default server's */
    sl_stream_core_srv_conf_t   *default_server;
    sl_stream_virtual_names_t   *virtual_names;     /* NULL: none */
    sl_str_t                     addr_text;
    unsigned                     ssl:1;
    unsigned                     proxy_protocol:1;
} sl_stream_addr_conf_t;

typedef struct {
    struct sockaddr             *sockaddr;
    socklen_t                    socklen;
    sl_stream_addr_conf_t        conf;
} sl_stream_addr_t;

/*
 * sl_listening_t.servers: the addresses served by one socket. A wildcard
 * socket also serves the addresses of its port listened on without
 * "bind"; the session then finds its server by its local address.
 */
typedef struct {
    sl_stream_addr_t            *addrs;
    sl_uint_t                    naddrs;
} sl_stream_port_t;

/* --- the core module's confs --------------------------------------------- */

typedef struct {
    sl_array_t                   servers;   /* sl_stream_core_srv_conf_t * */
    sl_array_t                   listen;    /* sl_stream_listen_t */

    sl_stream_phase_handler_t   *phase_engine;
    sl_stream_phase_t            phases[SL_STREAM_LOG_PHASE + 1];

    sl_array_t                   variables;       /* sl_stream_variable_t */
    sl_array_t                   variables_keys;  /* sl_stream_variable_t * */
    sl_hash_t                    variables_hash;

    /* regular expressions: the most groups any has, and the match block
     * they all use (sl_stream_regex.c) */
    sl_uint_t                    ncaptures;
    sl_regex_match_t            *regex_match;

    sl_cycle_t                  *cycle;     /* its hostname and clock */
    sl_uint_t                    nmodules;  /* stream modules */

    /* nginx's, checked as nginx checks them (sl_hash_check_sizes()) */
    sl_uint_t                    server_names_hash_max_size;
    sl_uint_t                    server_names_hash_bucket_size;
    sl_uint_t                    variables_hash_max_size;
    sl_uint_t                    variables_hash_bucket_size;
} sl_stream_core_main_conf_t;

struct sl_stream_core_srv_conf_s {
    sl_stream_content_handler_pt  handler;
    sl_stream_conf_ctx_t         *ctx;      /* the server{}'s own */

    sl_str_t                      file_name;    /* where server{} began */
    sl_uint_t                     line;

    sl_array_t                    server_names;  /* sl_stream_server_name_t */

    sl_log_t                     *error_log;
    sl_flag_t                     tcp_nodelay;
    size_t                        preread_buffer_size;
    sl_msec_t                     preread_timeout;
    /* a graceful shutdown closes the sessions idle in both directions */
    sl_flag_t                     shutdown_idle;
    /*
     * The length of a new session's s->ctx: one past the highest
     * ctx_index a session of this server has set a context for, learnt
     * as they come (sl_stream_grow_ctx()), rather than a slot for every
     * stream module: most keep none, and idle sessions are many.
     */
    sl_uint_t                     nctx;
    /*
     * What the content handler takes from a session's pool as it starts
     * (its context, cleanups) and the ctx array it needs, declared with
     * sl_stream_session_size() by the directive that sets `handler`; 0:
     * not declared. A plain listen whose servers all declared it gets a
     * session pool that an idle session fills exactly, rather than the
     * default 512 bytes (bench/README.md, "Scale").
     */
    size_t                        session_size;
    sl_uint_t                     session_nctx;

    unsigned                      listen:1;
};

/* --- the session --------------------------------------------------------- */

/* one in every session's pool: ordered so that nothing pads */
struct sl_stream_session_s {
    sl_connection_t             *connection;

    off_t                        received;      /* $bytes_received */
    time_t                       start_sec;     /* for $session_time */
    sl_time_cache_t             *time;          /* the loop's clock */

    void                       **ctx;           /* nctx, by ctx_index */
    void                       **main_conf;
    void                       **srv_conf;
    sl_stream_addr_conf_t       *addr_conf;

    sl_stream_variable_value_t  *variables;     /* the indexed ones */

    sl_buf_t                    *preread;       /* what preread read */
    sl_stream_captures_t        *captures;      /* $1..$9: NULL until a
                                                 * regex with groups matched */
    sl_log_handler_pt            log_handler;   /* more log context */

    sl_uint_t                    status;        /* $status */
    unsigned                     nctx;
    unsigned                     start_msec:10; /* 0-999, with start_sec */
    unsigned                     phase_handler:22;
};

/*
 * A session's context of a module: NULL until the module sets one. Set
 * returns SL_OK, or SL_ERROR when s->ctx had to grow and the pool could
 * not (the context is then not set). Modules use these two, never s->ctx.
 */
#define sl_stream_get_module_ctx(s, module)                                   \
    ((module).ctx_index < (s)->nctx ? (s)->ctx[(module).ctx_index] : NULL)
#define sl_stream_set_ctx(s, c, module)                                       \
    sl_stream_set_ctx_index(s, c, (module).ctx_index)

/* sl_stream_handler.c: s->ctx made long enough for index, and data set */
sl_int_t sl_stream_grow_ctx(sl_stream_session_t *s, void *data,
    sl_uint_t index);

static inline sl_int_t
sl_stream_set_ctx_index(sl_stream_session_t *s, void *data, sl_uint_t index)
{
    if (index < s->nctx) {
        s->ctx[index] = data;
        return SL_OK;
    }

    return sl_stream_grow_ctx(s, data, index);
}
#define sl_stream_get_module_main_conf(s, module)                             \
    (s)->main_conf[(module).ctx_index]
#define sl_stream_get_module_srv_conf(s, module)                              \
    (s)->srv_conf[(module).ctx_index]

#define sl_stream_conf_get_module_main_conf(cf, module)                       \
    ((sl_stream_conf_ctx_t *) (cf)->ctx)->main_conf[(module).ctx_index]
#define sl_stream_conf_get_module_srv_conf(cf, module)                        \
    ((sl_stream_conf_ctx_t *) (cf)->ctx)->srv_conf[(module).ctx_index]

/* the main conf of a module in a cycle, NULL when there is no stream{} */
#define sl_stream_cycle_get_module_main_conf(cycle, module)                   \
    ((cycle)->conf_ctx[sl_stream_module.index]                                \
     ? ((sl_stream_conf_ctx_t *) (cycle)->conf_ctx[sl_stream_module.index])   \
           ->main_conf[(module).ctx_index]                                    \
     : NULL)

extern sl_module_t  sl_stream_module;
extern sl_module_t  sl_stream_core_module;

/* sl_stream.c: the block and its sockets */
void sl_stream_session_size(sl_conf_t *cf, sl_module_t *module, size_t size);
sl_int_t sl_stream_add_listen(sl_conf_t *cf, sl_stream_core_srv_conf_t *cscf,
    sl_stream_listen_t *lsopt);

/* sl_stream_core_module.c: the phase engine */
/*
 * Adds handler to phase (an sl_stream_phases_e but the content phase),
 * after the handlers added before it. Only from a stream module's
 * postconfiguration hook. SL_OK, or SL_ERROR (no memory, no such phase).
 */
sl_int_t sl_stream_add_phase_handler(sl_conf_t *cf, sl_uint_t phase,
    sl_stream_handler_pt handler);
void sl_stream_core_run_phases(sl_stream_session_t *s);
sl_int_t sl_stream_core_generic_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph);
sl_int_t sl_stream_core_preread_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph);
sl_int_t sl_stream_core_content_phase(sl_stream_session_t *s,
    sl_stream_phase_handler_t *ph);

/*
 * sl_stream_proxy_module.c: proxies the session to the upstream{} named
 * name, with its server's proxy_* settings; s->preread goes first. SL_OK
 * (the proxy owns the session), SL_DECLINED when there is no such group.
 */
sl_int_t sl_stream_proxy_to_upstream(sl_stream_session_t *s, sl_str_t *name);

/* sl_stream_handler.c: sessions */
/*
 * The address configuration c->listening has for c's local address
 * (getsockname() when a wildcard socket serves several); NULL on error.
 */
sl_stream_addr_conf_t *sl_stream_find_addr_conf(sl_connection_t *c);
void sl_stream_init_connection(sl_connection_t *c);
/* the read handler that (re)runs the phases */
void sl_stream_session_handler(sl_event_t *ev);
/* runs the log phase with s->status = rc, then closes the connection */
void sl_stream_finalize_session(sl_stream_session_t *s, sl_uint_t rc);
/*
 * The server of the session's address that a client's name selects (an
 * SNI name as sent, by TLS or by ssl_preread): lower-cased, a trailing
 * dot dropped, against the address's server_name table, then its regular
 * expressions in order (a match's groups become the session's). SL_OK
 * with *cscf; SL_DECLINED when it is not a host name or no server has it
 * (the session stays where it is); SL_ERROR.
 */
sl_int_t sl_stream_find_virtual_server(sl_stream_session_t *s,
    const u_char *name, size_t len, sl_stream_core_srv_conf_t **cscf);
/* the session moves to cscf: its confs and its error_log */
void sl_stream_set_virtual_server(sl_stream_session_t *s,
    sl_stream_core_srv_conf_t *cscf);
/*
 * A connection handed to another listening socket of its cycle (pass):
 * a new session as one accepted on ls, which finds the bytes already read
 * off the connection (preread, may be NULL) before any it reads itself.
 */
void sl_stream_init_passed_connection(sl_connection_t *c, sl_buf_t *preread);
/* closes the connection and frees its pool */
void sl_stream_close_connection(sl_connection_t *c);
/*
 * A content handler's verdict on its session, each time it has moved
 * what it could: idle (nothing in flight either way) or not. An idle
 * session of a server with shutdown_idle is marked for a graceful
 * shutdown to close (c->idle). Returns 1 when the shutdown is under way
 * and the session should end now: idle, and no input waits in its socket
 * or in that of peer (NULL: none), which a last SL_AGAIN may hide.
 */
sl_uint_t sl_stream_set_idle(sl_stream_session_t *s, sl_uint_t idle,
    sl_connection_t *peer);
/* 1 when no byte of c waits inside TLS, either way (or c is plain) */
sl_uint_t sl_stream_io_quiet(sl_connection_t *c);
/* a handler for events nobody waits for */
void sl_stream_empty_handler(sl_event_t *ev);
/* ", client: ..., server: ..." after a session's messages */
u_char *sl_stream_log_error(sl_log_t *log, u_char *buf, size_t len);

#endif /* SL_STREAM_H */
