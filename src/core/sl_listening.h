/*
 * sl_listening.h -- listening sockets: what a cycle binds, hands on to
 * the next cycle at a reload, and passes to a new binary. They belong to
 * the cycle, not to a loop: this header names no event and no loop, and
 * must never need one (the accept events are the event layer's).
 */
#ifndef SL_LISTENING_H
#define SL_LISTENING_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct sl_listening_s   sl_listening_t;

/* what a listening socket does with each connection it accepts */
typedef void (*sl_connection_handler_pt)(sl_connection_t *c);

struct sl_listening_s {
    sl_fd_t               fd;

    struct sockaddr      *sockaddr;
    socklen_t             socklen;
    sl_str_t              addr_text;    /* "127.0.0.1:8000", "unix:/x" */

    int                   type;
    int                   backlog;
    int                   rcvbuf;       /* -1: leave the system's */
    int                   sndbuf;
    int                   keepidle;     /* so_keepalive=idle:intvl:cnt */
    int                   keepintvl;
    int                   keepcnt;

    sl_connection_handler_pt  handler;  /* gets each accepted connection */
    void                 *servers;      /* the protocol's per-address data */

    sl_log_t              log;
    sl_log_t             *logp;
    size_t                pool_size;

    sl_listening_t       *previous;     /* the same socket in the old cycle */
    sl_cycle_t           *cycle;        /* its owner: counts its sessions */
    sl_connection_t      *connection;   /* its connection in the loop */

    /*
     * reuseport with several workers: the sockets of workers 1..nreuse,
     * bound by the master next to fd (worker 0's), so that a reload or a
     * binary upgrade hands each worker's queue on.
     */
    sl_fd_t              *reuse_fds;
    sl_uint_t             nreuse;

    unsigned              open:1;
    unsigned              remain:1;
    unsigned              ignore:1;
    unsigned              bound:1;       /* already bound (inherited) */
    unsigned              inherited:1;
    unsigned              listen:1;
    unsigned              reuseport:1;
    unsigned              keepalive:2;   /* 0 unset, 1 on, 2 off */
    unsigned              deferred_accept:1;
    unsigned              ipv6only:1;
    unsigned              wildcard:1;
    unsigned              keep_file:1;   /* a unix socket file not ours */
};

/* --- listening sockets --------------------------------------------------- */

sl_listening_t *sl_create_listening(sl_cycle_t *cycle,
    struct sockaddr *sockaddr, socklen_t socklen);
/*
 * Binds and listens every socket of the cycle not yet open; with
 * master_process on, N workers and reuseport, the N - 1 sockets of the
 * other workers too.
 */
sl_int_t sl_open_listening_sockets(sl_cycle_t *cycle);
void sl_close_listening_sockets(sl_cycle_t *cycle);
/*
 * A reload (or a new binary) takes over the sockets of old whose address
 * and type match a socket of cycle (and reuseport, ipv6only): the fds move
 * to cycle (`previous` set, the old one's `remain` set). Run before
 * sl_open_listening_sockets(); sl_listening_rollback() gives them back.
 */
void sl_listening_takeover(sl_cycle_t *cycle, sl_cycle_t *old);
/* after a failed reload: fds back to the old cycle, the new ones closed */
void sl_listening_rollback(sl_cycle_t *cycle);
/*
 * The sockets a binary upgrade passed on, "fd;fd;..." (SLUICE=): each
 * one becomes a listening socket of cycle (bound, inherited), to be
 * taken over by the first real cycle.
 */
sl_int_t sl_listening_inherit(sl_cycle_t *cycle, const char *fds);
/* "fd;fd;...;" of every socket of the cycle, in the pool; NULL on error */
char *sl_listening_env(sl_cycle_t *cycle, const char *name);
/* in worker n: its own socket of each reuseport address, the rest closed */
void sl_listening_for_worker(sl_cycle_t *cycle, sl_uint_t n);
/* clears close-on-exec on every socket (for a new binary) */
sl_int_t sl_listening_keep_on_exec(sl_cycle_t *cycle);

#endif /* SL_LISTENING_H */
