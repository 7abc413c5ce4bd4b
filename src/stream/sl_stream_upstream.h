/*
 * sl_stream_upstream.h -- upstream{} groups and the balancers' interface.
 *
 * An upstream is a named group of servers ("upstream NAME { server ...; }")
 * or an implicit one-address group that "proxy_pass HOST:PORT" makes.
 * Every group is initialised once the stream{} block is read, by its
 * balancer's init_upstream (smooth weighted round-robin unless a balancing
 * directive, "hash", "least_conn" or "random", chose another).
 *
 * A session that proxies makes one sl_peer_connection_t (sl_event_connect.h)
 * and asks the group's balancer to fill it for this session:
 *
 *     us->peer.init(s, us, pc)      sets pc->get, pc->free, pc->data
 *                                   (the balancer's per-session state) and
 *                                   pc->tries (how many attempts the
 *                                   group allows: its servers not down)
 *     pc->get(pc, pc->data)         SL_OK: pc->sockaddr, socklen and name
 *                                   are the chosen server, whose count of
 *                                   connections was raised; SL_BUSY: no
 *                                   live server (pc->name is the group's)
 *     pc->free(pc, pc->data, st)    the attempt is over: st is 0 (the
 *                                   session went through this server) or
 *                                   SL_PEER_FAILED (refused, timed out);
 *                                   the count of connections goes down,
 *                                   failures are counted for max_fails,
 *                                   and pc->tries goes down by one
 *
 *     pc->set_session(pc, pc->data) (TLS) offers the new connection the
 *                                   chosen server's last session
 *     pc->save_session(pc, pc->data) (TLS) keeps the connection's session
 *                                   for the next one to that server
 *
 * Every balancer builds on the round-robin peers, and its per-session
 * state begins with the round-robin one, so the two session hooks are
 * round-robin's for all of them: each peer keeps the last session it gave
 * to each proxy_ssl context (a server{} block's), in the worker's memory,
 * until the configuration is let go. A group made for one session
 * (proxy_pass with variables naming an address) keeps none: its hooks
 * are NULL, as nginx keeps none for such a group either.
 *
 * sl_event_connect_peer() calls pc->get itself. Between get and free the
 * chosen server is "tried" for this session and is not chosen again by
 * it. The balancers make nginx's choices, step for step, so that a group
 * spreads sessions exactly as nginx would: see each module's comments.
 *
 * What changes as sessions come and go (weights, failures, connections,
 * down) is a peer's record, sl_stream_upstream_rr_record_t. Without
 * "zone" each peer keeps its own, one copy per worker process; with
 * "zone NAME" the records are in that shared memory zone, every worker
 * sees and changes the same ones, under the zone's lock
 * (sl_stream_upstream_rr_lock), and a balancer's choice holds the lock
 * from its first look at the peers to the count of the chosen one.
 * sl_stream_upstream_zone_module.c lays the zone out, so that whatever
 * else needs the servers' state (health checks, metrics) finds it there.
 */
#ifndef SL_STREAM_UPSTREAM_H
#define SL_STREAM_UPSTREAM_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_event_connect.h"
#include "sl_stream.h"

typedef struct sl_stream_upstream_srv_conf_s  sl_stream_upstream_srv_conf_t;

/* which "server" parameters a balancer allows: uscf->flags */
#define SL_STREAM_UPSTREAM_CREATE        0x0001  /* an upstream{} block */
#define SL_STREAM_UPSTREAM_WEIGHT        0x0002
#define SL_STREAM_UPSTREAM_MAX_FAILS     0x0004
#define SL_STREAM_UPSTREAM_FAIL_TIMEOUT  0x0008
#define SL_STREAM_UPSTREAM_DOWN          0x0010
#define SL_STREAM_UPSTREAM_BACKUP        0x0020
#define SL_STREAM_UPSTREAM_MAX_CONNS     0x0100

/* builds the group's peers: at the end of stream{} */
typedef sl_int_t (*sl_stream_upstream_init_pt)(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us);
/* readies pc for a session: get, free, data, tries */
typedef sl_int_t (*sl_stream_upstream_init_peer_pt)(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc);

typedef struct {
    sl_stream_upstream_init_pt       init_upstream;
    sl_stream_upstream_init_peer_pt  init;
    void                            *data;    /* the peers */
} sl_stream_upstream_peer_t;

/* a stage of the attempt, for pc->notify (sl_event_connect.h) */
#define SL_STREAM_UPSTREAM_NOTIFY_CONNECT  0x1

/* one "server" line */
typedef struct {
    sl_str_t                         name;      /* as written */
    sl_addr_t                       *addrs;     /* what it resolved to */
    sl_uint_t                        naddrs;
    sl_uint_t                        weight;
    sl_uint_t                        max_conns;
    sl_uint_t                        max_fails;
    time_t                           fail_timeout;   /* seconds */
    unsigned                         down:1;
    unsigned                         backup:1;
} sl_stream_upstream_server_t;

struct sl_stream_upstream_srv_conf_s {
    sl_stream_upstream_peer_t        peer;
    void                           **srv_conf;  /* the balancers' confs */

    sl_array_t                      *servers;   /* of ..._server_t */
    sl_uint_t                        flags;
    sl_str_t                         host;      /* the name, or host */
    in_port_t                        port;      /* implicit: its port */
    sl_uint_t                        no_port;   /* implicit: none given */

    sl_str_t                         file_name;
    sl_uint_t                        line;

    sl_shm_zone_t                   *shm_zone;  /* "zone", or NULL */
};

typedef struct {
    sl_array_t                       upstreams;  /* of ..._srv_conf_t * */
} sl_stream_upstream_main_conf_t;

/* --- the round-robin peers, which every balancer builds on --------------- */

typedef struct sl_stream_upstream_rr_peer_s   sl_stream_upstream_rr_peer_t;
typedef struct sl_stream_upstream_rr_peers_s  sl_stream_upstream_rr_peers_t;
typedef struct sl_stream_upstream_rr_record_s  sl_stream_upstream_rr_record_t;
typedef struct sl_stream_upstream_rr_session_s  sl_stream_upstream_rr_session_t;
typedef struct sl_stream_upstream_zone_session_s
    sl_stream_upstream_zone_session_t;

/*
 * A peer's record: what changes as sessions come and go. In a zone it
 * also says whose it is (name, server, backup), for a reader that walks
 * the zone rather than a configuration, and holds the TLS sessions every
 * worker may resume (serialized). Read and written under the group's
 * lock. A reload carries fails, accessed, checked and the weights of a
 * record over to the record of the same group, server and address; conns
 * is not carried: the old generation's sessions count in its own records.
 */
struct sl_stream_upstream_rr_record_s {
    sl_int_t                         current_weight;
    sl_int_t                         effective_weight;
    sl_uint_t                        conns;
    sl_uint_t                        fails;
    time_t                           accessed;  /* last failure */
    time_t                           checked;   /* last choice or failure */
    sl_uint_t                        down;      /* as configured */

    /* in a zone only */
    sl_str_t                         name;
    sl_str_t                         server;
    sl_uint_t                        backup;
    sl_stream_upstream_zone_session_t  *ssl_sessions;
    sl_stream_upstream_rr_record_t  *next;      /* the group's, in order */
};

struct sl_stream_upstream_rr_peer_s {
    struct sockaddr                 *sockaddr;
    socklen_t                        socklen;
    sl_str_t                         name;      /* "127.0.0.1:8000" */
    sl_str_t                         server;    /* the "server" argument */

    sl_int_t                         weight;
    sl_uint_t                        max_conns;
    sl_uint_t                        max_fails;
    time_t                           fail_timeout;

    sl_stream_upstream_rr_record_t  *rec;       /* &own, or in the zone */
    sl_stream_upstream_rr_record_t   own;

    /* proxy_ssl_session_reuse without a zone: one per context */
    sl_stream_upstream_rr_session_t *ssl_sessions;

    sl_stream_upstream_rr_peer_t    *next;
};

struct sl_stream_upstream_rr_peers_s {
    sl_uint_t                        number;
    sl_uint_t                        total_weight;
    sl_uint_t                        tries;     /* peers not down */

    unsigned                         single:1;
    unsigned                         weighted:1;
    unsigned                         keep_sessions:1;  /* of a config */

    sl_str_t                        *name;      /* the group's */
    sl_slab_pool_t                  *shpool;    /* the zone's, or NULL */

    sl_stream_upstream_rr_peers_t   *next;      /* the backup servers */
    sl_stream_upstream_rr_peer_t    *peer;      /* a list, in order */
};

/* the group's lock: the zone's when it has one, else none is needed */
static inline void
sl_stream_upstream_rr_lock(sl_stream_upstream_rr_peers_t *peers)
{
    if (peers->shpool != NULL) {
        sl_shmtx_lock(&peers->shpool->mutex);
    }
}

static inline void
sl_stream_upstream_rr_unlock(sl_stream_upstream_rr_peers_t *peers)
{
    if (peers->shpool != NULL) {
        sl_shmtx_unlock(&peers->shpool->mutex);
    }
}

/* a session's round-robin state: pc->data of every balancer's first field */
typedef struct {
    sl_stream_upstream_rr_peers_t   *peers;     /* primary, then backup */
    sl_stream_upstream_rr_peer_t    *current;   /* the last one chosen */
    uintptr_t                       *tried;     /* a bit per peer */
    uintptr_t                        data;
    sl_time_cache_t                 *time;      /* "now", in seconds */
    sl_log_t                        *log;
} sl_stream_upstream_rr_peer_data_t;

#define sl_stream_upstream_tries(p)                                           \
    ((p)->tries + ((p)->next ? (p)->next->tries : 0))

/* the bit of peer i in rrp->tried */
#define sl_stream_upstream_rr_tried(rrp, i)                                   \
    ((rrp)->tried[(i) / (8 * sizeof(uintptr_t))]                              \
     & ((uintptr_t) 1 << ((i) % (8 * sizeof(uintptr_t)))))
#define sl_stream_upstream_rr_set_tried(rrp, i)                               \
    (rrp)->tried[(i) / (8 * sizeof(uintptr_t))]                               \
        |= ((uintptr_t) 1 << ((i) % (8 * sizeof(uintptr_t))))

/* is this peer out: down, failed within fail_timeout, or at max_conns
 * (the group's lock held) */
sl_uint_t sl_stream_upstream_rr_peer_out(sl_stream_upstream_rr_peer_t *peer,
    time_t now);

sl_int_t sl_stream_upstream_init_round_robin(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us);
sl_int_t sl_stream_upstream_init_round_robin_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc);
/* the round-robin state alone, for a balancer that embeds it */
sl_int_t sl_stream_upstream_rr_peer_data_init(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp);
sl_int_t sl_stream_upstream_get_round_robin_peer(sl_peer_connection_t *pc,
    void *data);
void sl_stream_upstream_free_round_robin_peer(sl_peer_connection_t *pc,
    void *data, sl_uint_t state);
/* the connection to the chosen peer is up: a trial after fail_timeout has
 * shown the peer live again, for every session from now on, as in nginx */
void sl_stream_upstream_notify_round_robin_peer(sl_peer_connection_t *pc,
    void *data, sl_uint_t type);
/* a group of one session for an address proxy_pass computed (in s's pool) */
sl_stream_upstream_srv_conf_t *sl_stream_upstream_create_round_robin(
    sl_stream_session_t *s, sl_url_t *u);
/*
 * Smooth weighted round-robin among the live peers of rrp->peers not yet
 * tried (only those of server, unless NULL): the one chosen, its index in
 * *pi; NULL when none is live.
 */
sl_stream_upstream_rr_peer_t *sl_stream_upstream_rr_best(
    sl_stream_upstream_rr_peer_data_t *rrp, sl_str_t *server, sl_uint_t *pi);
/*
 * When no primary peer can be had: get() again on the backup list, if
 * there is one and it can; else SL_BUSY, pc->name the group's.
 */
sl_int_t sl_stream_upstream_rr_try_backup(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp, sl_event_get_peer_pt get);
/* fills pc from peer, counts the connection and marks it tried */
void sl_stream_upstream_rr_use_peer(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp,
    sl_stream_upstream_rr_peer_t *peer, sl_uint_t i);

/* --- peers in a zone: sl_stream_upstream_zone_module.c ------------------ */

/* the TLS session of peer's record for pc's context, set on pc (locks) */
sl_int_t sl_stream_upstream_zone_set_session(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peers_t *peers, sl_stream_upstream_rr_peer_t *peer);
/* pc's TLS session kept in peer's record for its context (locks) */
void sl_stream_upstream_zone_save_session(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peers_t *peers, sl_stream_upstream_rr_peer_t *peer);

/* --- the registry ------------------------------------------------------- */

/*
 * The group named by u->url: with flags SL_STREAM_UPSTREAM_CREATE an
 * upstream{} block (a second one of that name is "duplicate upstream"),
 * else a reference made by proxy_pass: an address with a port is an
 * implicit group of its own, a name without one is the upstream{} of
 * that name (defined before or after).
 */
sl_stream_upstream_srv_conf_t *sl_stream_upstream_add(sl_conf_t *cf,
    sl_url_t *u, sl_uint_t flags);
/*
 * For a balancer's directive: the upstream{} block's group, now with its
 * init_upstream and the server parameters it allows (flags); a second
 * balancer in one block is warned about, and the last one wins.
 */
sl_stream_upstream_srv_conf_t *sl_stream_upstream_set_balancer(
    sl_conf_t *cf, sl_stream_upstream_init_pt init, sl_uint_t flags);
/* an upstream{} block by name at run time (proxy_pass with variables) */
sl_stream_upstream_srv_conf_t *sl_stream_upstream_find(
    sl_stream_upstream_main_conf_t *umcf, sl_str_t *name);

#define sl_stream_conf_upstream_srv_conf(uscf, module)                        \
    (uscf)->srv_conf[(module).ctx_index]

extern sl_module_t  sl_stream_upstream_module;

#endif /* SL_STREAM_UPSTREAM_H */
