/*
 * sl_event_connect.h -- non-blocking connect to a peer, and the hooks by
 * which the balancer that chose the peer serves the connection.
 *
 * The event layer knows nothing of TLS: set_session and save_session are
 * the balancer's to fill (or leave NULL) and the protocol's to call; what
 * a "session" is, is between those two layers above. This file must never
 * include an ssl or stream header.
 */
#ifndef SL_EVENT_CONNECT_H
#define SL_EVENT_CONNECT_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

typedef struct sl_peer_connection_s  sl_peer_connection_t;

/* a balancer's choice of peer, and its report on how the attempt went */
typedef sl_int_t (*sl_event_get_peer_pt)(sl_peer_connection_t *pc,
    void *data);
typedef void (*sl_event_free_peer_pt)(sl_peer_connection_t *pc, void *data,
    sl_uint_t state);
/*
 * TLS session resumption, kept by the balancer with the chosen peer:
 * set_session offers pc->connection the peer's last session before the
 * handshake (SL_OK also when there is none), save_session keeps the
 * session pc->connection has now. Either may be NULL: then sessions are
 * not kept across connections (a group made for one session).
 */
typedef sl_int_t (*sl_event_set_peer_session_pt)(sl_peer_connection_t *pc,
    void *data);
typedef void (*sl_event_save_peer_session_pt)(sl_peer_connection_t *pc,
    void *data);
/*
 * The attempt reached a stage the balancer may care about (type is the
 * protocol's: SL_STREAM_UPSTREAM_NOTIFY_CONNECT once the connection to
 * the chosen peer is established). May be NULL.
 */
typedef void (*sl_event_notify_peer_pt)(sl_peer_connection_t *pc,
    void *data, sl_uint_t type);

#define SL_PEER_FAILED   0x02
#define SL_PEER_NEXT     0x04

struct sl_peer_connection_s {
    sl_connection_t        *connection;

    struct sockaddr        *sockaddr;
    socklen_t               socklen;
    sl_str_t               *name;       /* the peer's text, for the log */

    sl_uint_t               tries;
    sl_msec_t               start_time;

    sl_event_get_peer_pt    get;
    sl_event_free_peer_pt   free;
    void                   *data;

    sl_event_set_peer_session_pt   set_session;
    sl_event_save_peer_session_pt  save_session;
    sl_event_notify_peer_pt        notify;

    struct sockaddr        *local;      /* bind before connect, or NULL */
    socklen_t               local_socklen;

    int                     type;
    int                     rcvbuf;

    sl_log_t               *log;

    unsigned                transparent:1;
    unsigned                so_keepalive:1;
    unsigned                down:1;
    unsigned                log_error:3;    /* sl_connection_log_error_e */
};

/*
 * Starts connecting pc to pc->sockaddr. SL_OK: connected at once;
 * SL_AGAIN: in progress, the write event fires when it is done;
 * SL_DECLINED: this peer failed (refused, unreachable; logged with its
 * address), another may be tried; SL_ERROR: a local failure; SL_BUSY: no
 * live peer (from pc->get).
 */
sl_int_t sl_event_connect_peer(sl_event_loop_t *loop,
    sl_peer_connection_t *pc);
/*
 * The end of a connect that returned SL_AGAIN: call it from the write
 * event's handler, whether the event fired or its timer (the caller's
 * connect timeout) did. SL_OK when connected; else SL_ERROR, with
 * "connect() to PEER failed (111: Connection refused)" or "connect() to
 * PEER timed out (110: Connection timed out)" logged. A timed-out
 * connection is marked so that closing it sends a reset.
 */
sl_int_t sl_event_connect_result(sl_peer_connection_t *pc);

#endif /* SL_EVENT_CONNECT_H */
