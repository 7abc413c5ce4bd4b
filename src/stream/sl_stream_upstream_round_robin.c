/*
 * sl_stream_upstream_round_robin.c -- smooth weighted round-robin, the
 * default balancer, and the peer lists every balancer builds on.
 *
 * Each choice adds every live peer's effective weight to its current
 * weight, takes the peer with the largest current weight (the first of
 * equals), and takes the total back from the chosen one: weights 5, 1, 1
 * give a a b a c a a, spread rather than bunched. A failure lowers a
 * peer's effective weight by weight / max_fails; every later choice that
 * sees it live gives one back. Backup servers are a second list, used
 * only when no primary server is live. These are nginx's rules, so a group
 * makes the same choices under sluice as under nginx.
 *
 * What a choice reads and changes is the peer's record (peer->rec): the
 * peer's own, or the one in the group's zone, under the zone's lock, which
 * every get, free and notify here takes and gives back before it returns
 * -- and before it passes on to the backup list, whose get takes it again.
 *
 * It also keeps the peers' TLS sessions for proxy_ssl_session_reuse (the
 * set_session and save_session hooks of every balancer): without a zone a
 * peer holds one SSL_SESSION reference per client context that got one
 * from it, its worker's own; with a zone the records hold them serialized
 * (sl_stream_upstream_zone_module.c), for every worker. Keyed by context
 * because a session carries what its handshake checked (the CA, the
 * client certificate): one server{} block's must not be resumed by
 * another's. A group's sessions are freed with its configuration; the
 * peers of a group made for one session keep none. It never touches the
 * connection beyond setting and getting its session.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

/* the last session a peer gave to connections of one client context */
struct sl_stream_upstream_rr_session_s {
    sl_stream_upstream_rr_session_t  *next;
    const SSL_CTX                    *ctx;      /* compared, never used */
    SSL_SESSION                      *session;  /* our reference */
};

static void sl_stream_upstream_rr_free_sessions(void *data);
static sl_int_t sl_stream_upstream_set_round_robin_peer_session(
    sl_peer_connection_t *pc, void *data);
static void sl_stream_upstream_save_round_robin_peer_session(
    sl_peer_connection_t *pc, void *data);

/* --- building the lists -------------------------------------------------- */

static sl_stream_upstream_rr_peers_t *
sl_stream_upstream_rr_list(sl_conf_t *cf, sl_stream_upstream_srv_conf_t *us,
    sl_uint_t backup)
{
    sl_stream_upstream_server_t    *server = us->servers->elts;
    sl_stream_upstream_rr_peers_t  *peers;
    sl_stream_upstream_rr_peer_t   *peer, **tail;
    sl_uint_t                       i, j, n = 0, w = 0, t = 0;

    for (i = 0; i < us->servers->nelts; i++) {
        if (server[i].backup != backup) {
            continue;
        }
        n += server[i].naddrs;
        w += server[i].naddrs * server[i].weight;
        t += server[i].down ? 0 : server[i].naddrs;
    }

    if (n == 0) {
        return NULL;
    }

    peers = sl_pcalloc(cf->pool, sizeof(sl_stream_upstream_rr_peers_t));
    peer = sl_pcalloc(cf->pool, n * sizeof(sl_stream_upstream_rr_peer_t));
    if (peers == NULL || peer == NULL) {
        return SL_CONF_ERROR;
    }

    peers->single = (n == 1);
    peers->number = n;
    peers->weighted = (w != n);
    peers->total_weight = w;
    peers->tries = t;
    peers->name = &us->host;

    tail = &peers->peer;

    for (i = 0; i < us->servers->nelts; i++) {
        if (server[i].backup != backup) {
            continue;
        }

        for (j = 0; j < server[i].naddrs; j++) {
            peer->sockaddr = server[i].addrs[j].sockaddr;
            peer->socklen = server[i].addrs[j].socklen;
            peer->name = server[i].addrs[j].name;
            peer->server = server[i].name;
            peer->weight = (sl_int_t) server[i].weight;
            peer->max_conns = server[i].max_conns;
            peer->max_fails = server[i].max_fails;
            peer->fail_timeout = server[i].fail_timeout;
            peer->rec = &peer->own;
            peer->own.effective_weight = peer->weight;
            peer->own.down = server[i].down;
            peer->own.backup = backup;

            *tail = peer;
            tail = &peer->next;
            peer++;
        }
    }

    return peers;
}

sl_int_t
sl_stream_upstream_init_round_robin(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us)
{
    sl_stream_upstream_rr_peers_t  *peers, *backup;
    sl_pool_cleanup_t              *cln;

    us->peer.init = sl_stream_upstream_init_round_robin_peer;

    if (us->servers == NULL) {
        /* "proxy_pass NAME" with no upstream{} of that name */
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no port in upstream \"%V\" "
                     "in %V:%ui", &us->host, &us->file_name, us->line);
        return SL_ERROR;
    }

    peers = sl_stream_upstream_rr_list(cf, us, 0);
    if (peers == SL_CONF_ERROR) {
        return SL_ERROR;
    }

    if (peers == NULL) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no servers in upstream "
                     "\"%V\" in %V:%ui", &us->host, &us->file_name, us->line);
        return SL_ERROR;
    }

    backup = sl_stream_upstream_rr_list(cf, us, 1);
    if (backup == SL_CONF_ERROR) {
        return SL_ERROR;
    }

    if (backup != NULL) {
        backup->single = 0;
        backup->keep_sessions = 1;
        peers->single = 0;
        peers->next = backup;
    }

    /* the peers live as long as the configuration: so may their sessions */
    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return SL_ERROR;
    }

    cln->handler = sl_stream_upstream_rr_free_sessions;
    cln->data = peers;
    peers->keep_sessions = 1;

    us->peer.data = peers;
    return SL_OK;
}

/* --- a session's state --------------------------------------------------- */

sl_int_t
sl_stream_upstream_rr_peer_data_init(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp)
{
    sl_stream_upstream_rr_peers_t  *peers = us->peer.data;
    sl_uint_t                       n;

    rrp->peers = peers;
    rrp->current = NULL;
    rrp->time = s->time;
    rrp->log = s->connection->log;

    n = peers->number;
    if (peers->next != NULL && peers->next->number > n) {
        n = peers->next->number;
    }

    if (n <= 8 * sizeof(uintptr_t)) {
        rrp->tried = &rrp->data;
        rrp->data = 0;

    } else {
        n = (n + (8 * sizeof(uintptr_t) - 1)) / (8 * sizeof(uintptr_t));
        rrp->tried = sl_pcalloc(s->connection->pool, n * sizeof(uintptr_t));
        if (rrp->tried == NULL) {
            return SL_ERROR;
        }
    }

    pc->get = sl_stream_upstream_get_round_robin_peer;
    pc->free = sl_stream_upstream_free_round_robin_peer;
    pc->notify = sl_stream_upstream_notify_round_robin_peer;
    pc->data = rrp;
    pc->tries = sl_stream_upstream_tries(peers);

    if (peers->keep_sessions) {
        pc->set_session = sl_stream_upstream_set_round_robin_peer_session;
        pc->save_session = sl_stream_upstream_save_round_robin_peer_session;

    } else {
        /* a group of one session: what it kept would die with it */
        pc->set_session = NULL;
        pc->save_session = NULL;
    }

    return SL_OK;
}

sl_int_t
sl_stream_upstream_init_round_robin_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc)
{
    sl_stream_upstream_rr_peer_data_t  *rrp;

    rrp = sl_pcalloc(s->connection->pool,
                     sizeof(sl_stream_upstream_rr_peer_data_t));
    if (rrp == NULL) {
        return SL_ERROR;
    }

    return sl_stream_upstream_rr_peer_data_init(s, us, pc, rrp);
}

/* --- choosing ------------------------------------------------------------ */

sl_uint_t
sl_stream_upstream_rr_peer_out(sl_stream_upstream_rr_peer_t *peer, time_t now)
{
    sl_stream_upstream_rr_record_t  *rec = peer->rec;

    if (rec->down) {
        return 1;
    }

    if (peer->max_fails && rec->fails >= peer->max_fails
        && now - rec->checked <= peer->fail_timeout)
    {
        return 1;
    }

    return peer->max_conns && rec->conns >= peer->max_conns;
}

void
sl_stream_upstream_rr_use_peer(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp,
    sl_stream_upstream_rr_peer_t *peer, sl_uint_t i)
{
    sl_stream_upstream_rr_record_t  *rec = peer->rec;
    time_t                           now = rrp->time->sec;

    /* a choice after fail_timeout is the trial that may clear the fails */
    if (now - rec->checked > peer->fail_timeout) {
        rec->checked = now;
    }

    rrp->current = peer;
    sl_stream_upstream_rr_set_tried(rrp, i);

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;
    rec->conns++;
}

sl_stream_upstream_rr_peer_t *
sl_stream_upstream_rr_best(sl_stream_upstream_rr_peer_data_t *rrp,
    sl_str_t *server, sl_uint_t *pi)
{
    sl_stream_upstream_rr_peer_t    *peer, *best = NULL;
    sl_stream_upstream_rr_record_t  *rec;
    sl_uint_t                        i;
    sl_int_t                         total = 0;
    time_t                           now = rrp->time->sec;

    for (peer = rrp->peers->peer, i = 0; peer; peer = peer->next, i++) {
        if (sl_stream_upstream_rr_tried(rrp, i)
            || (server != NULL && !sl_str_eq(&peer->server, server))
            || sl_stream_upstream_rr_peer_out(peer, now))
        {
            continue;
        }

        rec = peer->rec;
        rec->current_weight += rec->effective_weight;
        total += rec->effective_weight;

        if (rec->effective_weight < peer->weight) {
            rec->effective_weight++;
        }

        if (best == NULL
            || rec->current_weight > best->rec->current_weight)
        {
            best = peer;
            *pi = i;
        }
    }

    if (best != NULL) {
        best->rec->current_weight -= total;
    }

    return best;
}

/* from the primary list to the backup one: nothing of it was tried */
static sl_uint_t
sl_stream_upstream_rr_to_backup(sl_stream_upstream_rr_peer_data_t *rrp)
{
    sl_uint_t  i, n;

    if (rrp->peers->next == NULL) {
        return 0;
    }

    rrp->peers = rrp->peers->next;
    n = (rrp->peers->number + (8 * sizeof(uintptr_t) - 1))
        / (8 * sizeof(uintptr_t));

    for (i = 0; i < n; i++) {
        rrp->tried[i] = 0;
    }

    return 1;
}

sl_int_t
sl_stream_upstream_get_round_robin_peer(sl_peer_connection_t *pc,
    void *data)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_peers_t      *peers = rrp->peers;
    sl_stream_upstream_rr_peer_t       *peer;
    sl_stream_upstream_rr_record_t     *rec;
    sl_uint_t                           i = 0;

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    if (peers->single) {
        /* one server: neither weights nor failures matter */
        peer = peers->peer;
        rec = peer->rec;
        if (rec->down || (peer->max_conns && rec->conns >= peer->max_conns)) {
            goto failed;
        }

        rrp->current = peer;
        pc->sockaddr = peer->sockaddr;
        pc->socklen = peer->socklen;
        pc->name = &peer->name;
        rec->conns++;
        sl_stream_upstream_rr_unlock(peers);
        return SL_OK;
    }

    peer = sl_stream_upstream_rr_best(rrp, NULL, &i);
    if (peer == NULL) {
        goto failed;
    }

    sl_stream_upstream_rr_use_peer(pc, rrp, peer, i);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;

failed:

    sl_stream_upstream_rr_unlock(peers);
    return sl_stream_upstream_rr_try_backup(pc, rrp,
                                     sl_stream_upstream_get_round_robin_peer);
}

sl_int_t
sl_stream_upstream_rr_try_backup(sl_peer_connection_t *pc,
    sl_stream_upstream_rr_peer_data_t *rrp, sl_event_get_peer_pt get)
{
    sl_stream_upstream_rr_peers_t  *peers = rrp->peers;
    sl_int_t                        rc;

    if (sl_stream_upstream_rr_to_backup(rrp)) {
        rc = get(pc, rrp);
        if (rc != SL_BUSY) {
            return rc;
        }
    }

    pc->name = peers->name;
    return SL_BUSY;
}

/* a failed attempt counted (lock held): 1 when it reached max_fails */
static sl_uint_t
sl_stream_upstream_rr_failed(sl_stream_upstream_rr_peer_t *peer, time_t now)
{
    sl_stream_upstream_rr_record_t  *rec = peer->rec;
    sl_uint_t                        disabled = 0;

    rec->fails++;
    rec->accessed = now;
    rec->checked = now;

    if (peer->max_fails) {
        rec->effective_weight -= peer->weight / (sl_int_t) peer->max_fails;
        disabled = (rec->fails >= peer->max_fails);
    }

    if (rec->effective_weight < 0) {
        rec->effective_weight = 0;
    }

    return disabled;
}

void
sl_stream_upstream_free_round_robin_peer(sl_peer_connection_t *pc,
    void *data, sl_uint_t state)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_peer_t       *peer = rrp->current;
    sl_stream_upstream_rr_record_t     *rec;
    sl_uint_t                           disabled = 0;

    if (peer == NULL) {
        return;
    }

    rrp->current = NULL;
    rec = peer->rec;

    sl_stream_upstream_rr_lock(rrp->peers);

    if (rrp->peers->single) {
        rec->conns--;
        sl_stream_upstream_rr_unlock(rrp->peers);
        pc->tries = 0;
        return;
    }

    if (state & SL_PEER_FAILED) {
        disabled = sl_stream_upstream_rr_failed(peer, rrp->time->sec);

    } else if (rec->accessed < rec->checked) {
        /* a success after the trial: the server is live again */
        rec->fails = 0;
    }

    rec->conns--;

    sl_stream_upstream_rr_unlock(rrp->peers);

    if (disabled) {
        sl_log_error(SL_LOG_WARN, pc->log, 0, "upstream server "
                     "temporarily disabled");
    }

    if (pc->tries) {
        pc->tries--;
    }
}

void
sl_stream_upstream_notify_round_robin_peer(sl_peer_connection_t *pc,
    void *data, sl_uint_t type)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_record_t     *rec;

    sl_unused(pc);

    if (type != SL_STREAM_UPSTREAM_NOTIFY_CONNECT || rrp->current == NULL) {
        return;
    }

    rec = rrp->current->rec;

    sl_stream_upstream_rr_lock(rrp->peers);

    if (rec->accessed < rec->checked) {
        rec->fails = 0;
    }

    sl_stream_upstream_rr_unlock(rrp->peers);
}

/* --- TLS sessions --------------------------------------------------------- */

static sl_stream_upstream_rr_session_t *
sl_stream_upstream_rr_session(sl_stream_upstream_rr_peer_t *peer,
    const SSL_CTX *ctx)
{
    sl_stream_upstream_rr_session_t  *rs;

    for (rs = peer->ssl_sessions; rs; rs = rs->next) {
        if (rs->ctx == ctx) {
            return rs;
        }
    }

    return NULL;
}

static sl_int_t
sl_stream_upstream_set_round_robin_peer_session(sl_peer_connection_t *pc,
    void *data)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_session_t    *rs;
    SSL                                *ssl;

    if (rrp->current == NULL || pc->connection == NULL
        || pc->connection->ssl == NULL)
    {
        return SL_OK;
    }

    if (rrp->peers->shpool != NULL) {
        return sl_stream_upstream_zone_set_session(pc, rrp->peers,
                                                   rrp->current);
    }

    ssl = pc->connection->ssl->connection;
    rs = sl_stream_upstream_rr_session(rrp->current, SSL_get_SSL_CTX(ssl));

    if (rs == NULL) {
        return SL_OK;
    }

    /* SSL_set_session() takes a reference of its own */
    return sl_ssl_set_session(pc->connection, rs->session);
}

static void
sl_stream_upstream_save_round_robin_peer_session(sl_peer_connection_t *pc,
    void *data)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_session_t    *rs;
    sl_stream_upstream_rr_peer_t       *peer = rrp->current;
    SSL_SESSION                        *session;
    const SSL_CTX                      *ctx;

    /* after free() the attempt is over: no peer to keep it for */
    if (peer == NULL || pc->connection == NULL
        || pc->connection->ssl == NULL)
    {
        return;
    }

    if (rrp->peers->shpool != NULL) {
        sl_stream_upstream_zone_save_session(pc, rrp->peers, peer);
        return;
    }

    ctx = SSL_get_SSL_CTX(pc->connection->ssl->connection);
    rs = sl_stream_upstream_rr_session(peer, ctx);

    if (rs == NULL) {
        /* one per context: as many as server{} blocks use this group */
        rs = sl_calloc(sizeof(sl_stream_upstream_rr_session_t), pc->log);
        if (rs == NULL) {
            return;
        }

        rs->ctx = ctx;
        rs->next = peer->ssl_sessions;
        peer->ssl_sessions = rs;
    }

    session = sl_ssl_get_session(pc->connection);
    if (session == NULL) {
        return;
    }

    if (rs->session != NULL) {
        SSL_SESSION_free(rs->session);
    }

    rs->session = session;
}

/* the pool cleanup of a configuration's group: its peers' sessions go */
static void
sl_stream_upstream_rr_free_sessions(void *data)
{
    sl_stream_upstream_rr_peers_t    *peers;
    sl_stream_upstream_rr_session_t  *rs, *next;
    sl_stream_upstream_rr_peer_t     *peer;

    for (peers = data; peers; peers = peers->next) {
        for (peer = peers->peer; peer; peer = peer->next) {
            for (rs = peer->ssl_sessions; rs; rs = next) {
                next = rs->next;
                if (rs->session != NULL) {
                    SSL_SESSION_free(rs->session);
                }
                sl_free(rs);
            }

            peer->ssl_sessions = NULL;
        }
    }
}

/* --- a group of one session ---------------------------------------------- */

sl_stream_upstream_srv_conf_t *
sl_stream_upstream_create_round_robin(sl_stream_session_t *s, sl_url_t *u)
{
    sl_stream_upstream_srv_conf_t  *us;
    sl_stream_upstream_rr_peers_t  *peers;
    sl_stream_upstream_rr_peer_t   *peer;
    sl_pool_t                      *pool = s->connection->pool;
    sl_uint_t                       i;

    us = sl_pcalloc(pool, sizeof(sl_stream_upstream_srv_conf_t));
    peers = sl_pcalloc(pool, sizeof(sl_stream_upstream_rr_peers_t));
    peer = sl_pcalloc(pool, u->naddrs * sizeof(sl_stream_upstream_rr_peer_t));
    if (us == NULL || peers == NULL || peer == NULL) {
        return NULL;
    }

    us->host = u->url;
    peers->single = (u->naddrs == 1);
    peers->number = u->naddrs;
    peers->total_weight = u->naddrs;
    peers->tries = u->naddrs;
    peers->name = &us->host;
    peers->peer = peer;

    for (i = 0; i < u->naddrs; i++) {
        peer[i].sockaddr = u->addrs[i].sockaddr;
        peer[i].socklen = u->addrs[i].socklen;
        peer[i].name = u->addrs[i].name;
        peer[i].server = u->url;
        peer[i].weight = 1;
        peer[i].rec = &peer[i].own;
        peer[i].own.effective_weight = 1;
        peer[i].max_fails = 1;
        peer[i].fail_timeout = 10;
        peer[i].next = i + 1 < u->naddrs ? &peer[i + 1] : NULL;
    }

    us->peer.init = sl_stream_upstream_init_round_robin_peer;
    us->peer.data = peers;
    return us;
}
