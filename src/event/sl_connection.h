/*
 * sl_connection.h -- connections: the event layer's, as they live in a
 * loop and carry its two events. Listening sockets are the core's
 * (sl_listening.h).
 *
 * Connections, with their two events, are preallocated per loop
 * (worker_connections) and handed out from a free list. A connection's
 * I/O goes through the four functions of its I/O vector (recv, send,
 * recv_chain, send_chain): plain socket calls, or TLS once a handshake
 * swapped them.
 */
#ifndef SL_CONNECTION_H
#define SL_CONNECTION_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct sl_event_loop_s  sl_event_loop_t;
typedef struct sl_ssl_connection_s  sl_ssl_connection_t;

/*
 * recv: bytes > 0; 0 at the peer's orderly shutdown (sets read->eof);
 * SL_AGAIN when it would block (clears read->ready); SL_ERROR (sets
 * read->error). send: bytes >= 0, SL_AGAIN, SL_ERROR (write->error).
 * send_chain returns the first link not sent, NULL when all went, or
 * SL_CHAIN_ERROR.
 */
typedef ssize_t (*sl_recv_pt)(sl_connection_t *c, u_char *buf, size_t size);
typedef ssize_t (*sl_recv_chain_pt)(sl_connection_t *c, sl_chain_t *in,
    off_t limit);
typedef ssize_t (*sl_send_pt)(sl_connection_t *c, u_char *buf, size_t size);
typedef sl_chain_t *(*sl_send_chain_pt)(sl_connection_t *c, sl_chain_t *in,
    off_t limit);

#define SL_CHAIN_ERROR  ((sl_chain_t *) SL_ERROR)

typedef struct {
    sl_recv_pt        recv;
    sl_recv_chain_pt  recv_chain;
    sl_send_pt        send;
    sl_send_chain_pt  send_chain;
} sl_os_io_t;

/* the plain socket I/O vector */
extern const sl_os_io_t  sl_os_io;

typedef enum {
    SL_ERROR_ALERT = 0,
    SL_ERROR_ERR,
    SL_ERROR_INFO,
    SL_ERROR_IGNORE_ECONNRESET,
    SL_ERROR_IGNORE_EINVAL,
    SL_ERROR_IGNORE_EMSGSIZE
} sl_connection_log_error_e;

typedef enum {
    SL_TCP_NODELAY_UNSET = 0,
    SL_TCP_NODELAY_SET,
    SL_TCP_NODELAY_DISABLED
} sl_connection_tcp_nodelay_e;

/*
 * One of these is preallocated per worker_connections slot: the fields
 * are ordered so that nothing pads (184 bytes on LP64), with what every
 * I/O call touches in the first cache line.
 */
struct sl_connection_s {
    void                 *data;      /* the protocol's session; free list */
    sl_event_t           *read;
    sl_event_t           *write;

    sl_fd_t               fd;

    unsigned              type:4;         /* SOCK_STREAM */
    unsigned              log_error:3;    /* sl_connection_log_error_e */
    unsigned              timedout:1;
    unsigned              error:1;
    unsigned              destroyed:1;
    unsigned              idle:1;         /* a shutdown may close it */
    unsigned              reusable:1;
    unsigned              close:1;
    unsigned              shared:1;
    unsigned              tcp_nodelay:2;  /* sl_connection_tcp_nodelay_e */
    unsigned              need_last_buf:1;

    sl_recv_pt            recv;
    sl_send_pt            send;
    sl_recv_chain_pt      recv_chain;
    sl_send_chain_pt      send_chain;

    sl_listening_t       *listening;
    sl_event_loop_t      *loop;

    off_t                 sent;

    sl_log_t             *log;
    /*
     * The connection's own pool, destroyed with its session (an accepted
     * connection), or NULL (a connection that lives in another's pool, as
     * an upstream one does). A loop torn down with sessions still open
     * destroys the pools of those it closes.
     */
    sl_pool_t            *pool;

    sl_ssl_connection_t  *ssl;
    /* what a PROXY protocol header said (addresses): NULL when none */
    struct sl_proxy_protocol_s  *proxy_protocol;

    struct sockaddr      *sockaddr;   /* the peer */
    sl_str_t              addr_text;
    struct sockaddr      *local_sockaddr;
    socklen_t             socklen;
    socklen_t             local_socklen;

    sl_queue_t            queue;      /* on the reusable list */
    sl_uint_t             number;     /* the "*N" of the log */
};


/* --- connections --------------------------------------------------------- */

/*
 * A free connection for fd, its events reset (the `instance` bit flipped).
 * When none is free, reusable (idle) connections are closed first; failing
 * that, "N worker_connections are not enough" is logged and NULL returned.
 */
sl_connection_t *sl_get_connection(sl_event_loop_t *loop, sl_fd_t fd,
    sl_log_t *log);
void sl_free_connection(sl_connection_t *c);
/*
 * Deletes its events, timers and posted events, closes fd, frees it. A
 * connection closed because it timed out (c->timedout) is reset.
 */
void sl_close_connection(sl_connection_t *c);
/* sets SO_LINGER 0, so that close() sends a reset */
void sl_connection_reset(sl_connection_t *c);
/* marks an idle connection as closable when connections run short */
void sl_reusable_connection(sl_connection_t *c, sl_uint_t reusable);
/*
 * A graceful shutdown: every connection whose session said it is idle
 * (c->idle) has its read handler called with c->close set; the session
 * ends unless input came since it last looked.
 */
void sl_close_idle_connections(sl_event_loop_t *loop);
/*
 * Logs an I/O error of c at the level its errno deserves: a peer's reset
 * or broken pipe at info, the unexpected at crit. Returns SL_ERROR.
 */
sl_int_t sl_connection_error(sl_connection_t *c, sl_err_t err,
    const char *text);
/* is err what a peer or the network does to us (a reset...), not a fault */
sl_uint_t sl_connection_peer_errno(sl_err_t err);
sl_int_t sl_connection_local_sockaddr(sl_connection_t *c, sl_str_t *s,
    sl_uint_t port);
/*
 * Sets TCP_NODELAY once per connection; SL_OK too where it does not apply
 * (a unix socket: SL_TCP_NODELAY_DISABLED). SL_ERROR when setsockopt fails.
 */
sl_int_t sl_tcp_nodelay(sl_connection_t *c);

#endif /* SL_CONNECTION_H */
