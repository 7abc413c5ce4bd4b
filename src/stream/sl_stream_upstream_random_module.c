/*
 * sl_stream_upstream_random_module.c -- "random [two [least_conn]];".
 *
 * A server drawn at random with a probability proportional to its weight;
 * "two" draws two different live ones and takes the one with fewer
 * connections per unit of weight ("least_conn", the only method and the
 * default). After 20 draws that find nothing live, round-robin takes over,
 * as in nginx -- with "two" every draw counts, the first of a pair too,
 * as nginx counts them. No backup servers.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

typedef struct {
    sl_stream_upstream_rr_peer_t   *peer;
    sl_uint_t                       range;   /* weights up to this one */
} sl_stream_upstream_random_range_t;

typedef struct {
    sl_stream_upstream_random_range_t  *ranges;
    sl_uint_t                           two;
} sl_stream_upstream_random_srv_conf_t;

typedef struct {
    /* first: the round-robin functions take a pointer to it */
    sl_stream_upstream_rr_peer_data_t      rrp;
    sl_stream_upstream_random_srv_conf_t  *conf;
    u_char                                 tries;
} sl_stream_upstream_random_peer_data_t;

static void *sl_stream_upstream_random_create_conf(sl_conf_t *cf);
static char *sl_stream_upstream_random(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_upstream_random_commands[] = {

    { sl_string("random"),
      SL_STREAM_UPS_CONF | SL_CONF_NOARGS | SL_CONF_TAKE12,
      sl_stream_upstream_random,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_upstream_random_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_upstream_random_create_conf,
    NULL
};

sl_module_t  sl_stream_upstream_random_module = {
    .name = "sl_stream_upstream_random_module",
    .ctx = &sl_stream_upstream_random_module_ctx,
    .commands = sl_stream_upstream_random_commands,
    .type = SL_STREAM_MODULE,
};

static sl_int_t sl_stream_upstream_get_random_peer(sl_peer_connection_t *pc,
    void *data);
static sl_int_t sl_stream_upstream_get_random2_peer(sl_peer_connection_t *pc,
    void *data);

static sl_int_t
sl_stream_upstream_init_random_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc)
{
    sl_stream_upstream_random_peer_data_t  *rp;

    rp = sl_pcalloc(s->connection->pool,
                    sizeof(sl_stream_upstream_random_peer_data_t));
    if (rp == NULL
        || sl_stream_upstream_rr_peer_data_init(s, us, pc, &rp->rrp) != SL_OK)
    {
        return SL_ERROR;
    }

    rp->conf = sl_stream_conf_upstream_srv_conf(us,
                                            sl_stream_upstream_random_module);
    pc->get = rp->conf->two ? sl_stream_upstream_get_random2_peer
                            : sl_stream_upstream_get_random_peer;
    pc->data = rp;
    return SL_OK;
}

static sl_int_t
sl_stream_upstream_init_random(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us)
{
    sl_stream_upstream_random_srv_conf_t  *rcf;
    sl_stream_upstream_rr_peers_t         *peers;
    sl_stream_upstream_rr_peer_t          *peer;
    sl_uint_t                              i, total = 0;

    if (sl_stream_upstream_init_round_robin(cf, us) != SL_OK) {
        return SL_ERROR;
    }

    us->peer.init = sl_stream_upstream_init_random_peer;

    peers = us->peer.data;
    rcf = sl_stream_conf_upstream_srv_conf(us,
                                           sl_stream_upstream_random_module);
    rcf->ranges = sl_palloc(cf->pool, peers->number
                            * sizeof(sl_stream_upstream_random_range_t));
    if (rcf->ranges == NULL) {
        return SL_ERROR;
    }

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        total += (sl_uint_t) peer->weight;
        rcf->ranges[i].peer = peer;
        rcf->ranges[i].range = total;
    }

    return SL_OK;
}

/* the index of a peer drawn by weight */
static sl_uint_t
sl_stream_upstream_peek_random_peer(sl_stream_upstream_rr_peers_t *peers,
    sl_stream_upstream_random_srv_conf_t *rcf)
{
    sl_uint_t  x, i = 0, j = peers->number, k;

    x = (sl_uint_t) random() % peers->total_weight;

    while (j - i > 1) {
        k = (i + j) / 2;

        if (x < rcf->ranges[k - 1].range) {
            j = k;

        } else {
            i = k;
        }
    }

    return i;
}

static sl_uint_t
sl_random_usable(sl_stream_upstream_random_peer_data_t *rp, sl_uint_t i,
    time_t now)
{
    return !sl_stream_upstream_rr_tried(&rp->rrp, i)
           && !sl_stream_upstream_rr_peer_out(rp->conf->ranges[i].peer, now);
}

static sl_int_t
sl_stream_upstream_get_random_peer(sl_peer_connection_t *pc, void *data)
{
    sl_stream_upstream_random_peer_data_t  *rp = data;
    sl_stream_upstream_rr_peers_t          *peers = rp->rrp.peers;
    sl_uint_t                               i;
    time_t                                  now = rp->rrp.time->sec;

    if (rp->tries > 20 || peers->single) {
        return sl_stream_upstream_get_round_robin_peer(pc, &rp->rrp);
    }

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    for ( ;; ) {
        i = sl_stream_upstream_peek_random_peer(peers, rp->conf);

        if (sl_random_usable(rp, i, now)) {
            break;
        }

        if (++rp->tries > 20) {
            sl_stream_upstream_rr_unlock(peers);
            return sl_stream_upstream_get_round_robin_peer(pc, &rp->rrp);
        }
    }

    sl_stream_upstream_rr_use_peer(pc, &rp->rrp, rp->conf->ranges[i].peer, i);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;
}

static sl_int_t
sl_stream_upstream_get_random2_peer(sl_peer_connection_t *pc, void *data)
{
    sl_stream_upstream_random_peer_data_t  *rp = data;
    sl_stream_upstream_rr_peers_t          *peers = rp->rrp.peers;
    sl_stream_upstream_rr_peer_t           *peer, *prev = NULL;
    sl_uint_t                               i, prev_i = 0;
    time_t                                  now = rp->rrp.time->sec;

    if (rp->tries > 20 || peers->number < 2) {
        return sl_stream_upstream_get_round_robin_peer(pc, &rp->rrp);
    }

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    for ( ;; ) {
        i = sl_stream_upstream_peek_random_peer(peers, rp->conf);
        peer = rp->conf->ranges[i].peer;

        if (peer != prev && sl_random_usable(rp, i, now)) {
            if (prev != NULL) {
                break;
            }

            /* and, as in nginx, this first one counts as a try too */
            prev = peer;
            prev_i = i;
        }

        if (++rp->tries > 20) {
            sl_stream_upstream_rr_unlock(peers);
            return sl_stream_upstream_get_round_robin_peer(pc, &rp->rrp);
        }
    }

    /* the one with fewer connections per unit of weight */
    if (peer->rec->conns * (sl_uint_t) prev->weight
        > prev->rec->conns * (sl_uint_t) peer->weight)
    {
        peer = prev;
        i = prev_i;
    }

    sl_stream_upstream_rr_use_peer(pc, &rp->rrp, peer, i);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;
}

static void *
sl_stream_upstream_random_create_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_stream_upstream_random_srv_conf_t));
}

static char *
sl_stream_upstream_random(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_upstream_random_srv_conf_t  *rcf = conf;
    sl_str_t                              *value = cf->args->elts;
    sl_uint_t                              i;

    sl_unused(cmd);

    (void) sl_stream_upstream_set_balancer(cf, sl_stream_upstream_init_random,
                                    SL_STREAM_UPSTREAM_CREATE
                                    | SL_STREAM_UPSTREAM_WEIGHT
                                    | SL_STREAM_UPSTREAM_MAX_CONNS
                                    | SL_STREAM_UPSTREAM_MAX_FAILS
                                    | SL_STREAM_UPSTREAM_FAIL_TIMEOUT
                                    | SL_STREAM_UPSTREAM_DOWN);

    for (i = 1; i < cf->args->nelts; i++) {
        if (i == 1 && value[i].len == 3
            && sl_strncmp(value[i].data, "two", 3) == 0)
        {
            rcf->two = 1;
            continue;
        }

        if (i == 2 && rcf->two && value[i].len == 10
            && sl_strncmp(value[i].data, "least_conn", 10) == 0)
        {
            continue;
        }

        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          &value[i]);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
