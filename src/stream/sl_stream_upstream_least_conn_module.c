/*
 * sl_stream_upstream_least_conn_module.c -- "least_conn;": the live server
 * with the fewest connections per unit of weight; among equals, smooth
 * weighted round-robin from the first of them on, as nginx chooses.
 * Backup servers are used when no primary one is live.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

static char *sl_stream_upstream_least_conn(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_upstream_least_conn_commands[] = {

    { sl_string("least_conn"),
      SL_STREAM_UPS_CONF | SL_CONF_NOARGS,
      sl_stream_upstream_least_conn,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_upstream_least_conn_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL
};

sl_module_t  sl_stream_upstream_least_conn_module = {
    .name = "sl_stream_upstream_least_conn_module",
    .ctx = &sl_stream_upstream_least_conn_module_ctx,
    .commands = sl_stream_upstream_least_conn_commands,
    .type = SL_STREAM_MODULE,
};

static sl_int_t sl_stream_upstream_get_least_conn_peer(
    sl_peer_connection_t *pc, void *data);

static sl_int_t
sl_stream_upstream_init_least_conn_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc)
{
    if (sl_stream_upstream_init_round_robin_peer(s, us, pc) != SL_OK) {
        return SL_ERROR;
    }

    pc->get = sl_stream_upstream_get_least_conn_peer;
    return SL_OK;
}

static sl_int_t
sl_stream_upstream_init_least_conn(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us)
{
    if (sl_stream_upstream_init_round_robin(cf, us) != SL_OK) {
        return SL_ERROR;
    }

    us->peer.init = sl_stream_upstream_init_least_conn_peer;
    return SL_OK;
}

/* a's load against b's: conns / weight compared without division */
#define sl_lc_less(a, b)  ((a)->rec->conns * (sl_uint_t) (b)->weight         \
                           < (b)->rec->conns * (sl_uint_t) (a)->weight)
#define sl_lc_equal(a, b) ((a)->rec->conns * (sl_uint_t) (b)->weight         \
                           == (b)->rec->conns * (sl_uint_t) (a)->weight)

static sl_uint_t
sl_lc_skip(sl_stream_upstream_rr_peer_data_t *rrp,
    sl_stream_upstream_rr_peer_t *peer, sl_uint_t i, time_t now)
{
    return sl_stream_upstream_rr_tried(rrp, i)
           || sl_stream_upstream_rr_peer_out(peer, now);
}

static sl_int_t
sl_stream_upstream_get_least_conn_peer(sl_peer_connection_t *pc, void *data)
{
    sl_stream_upstream_rr_peer_data_t  *rrp = data;
    sl_stream_upstream_rr_peers_t      *peers = rrp->peers;
    sl_stream_upstream_rr_peer_t       *peer, *best = NULL;
    sl_stream_upstream_rr_record_t     *rec;
    sl_uint_t                           i, p = 0, many = 0;
    sl_int_t                            total = 0;
    time_t                              now = rrp->time->sec;

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        if (sl_lc_skip(rrp, peer, i, now)) {
            continue;
        }

        if (best == NULL || sl_lc_less(peer, best)) {
            best = peer;
            many = 0;
            p = i;

        } else if (sl_lc_equal(peer, best)) {
            many = 1;
        }
    }

    if (best == NULL) {
        goto failed;
    }

    if (many) {
        /* smooth weighted round-robin among the least loaded */
        for (peer = best, i = p; peer; peer = peer->next, i++) {
            if (sl_lc_skip(rrp, peer, i, now) || !sl_lc_equal(peer, best)) {
                continue;
            }

            rec = peer->rec;
            rec->current_weight += rec->effective_weight;
            total += rec->effective_weight;

            if (rec->effective_weight < peer->weight) {
                rec->effective_weight++;
            }

            if (rec->current_weight > best->rec->current_weight) {
                best = peer;
                p = i;
            }
        }

        best->rec->current_weight -= total;
    }

    sl_stream_upstream_rr_use_peer(pc, rrp, best, p);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;

failed:

    sl_stream_upstream_rr_unlock(peers);
    return sl_stream_upstream_rr_try_backup(pc, rrp,
                                      sl_stream_upstream_get_least_conn_peer);
}

static char *
sl_stream_upstream_least_conn(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_unused(cmd);
    sl_unused(conf);

    (void) sl_stream_upstream_set_balancer(cf,
                                    sl_stream_upstream_init_least_conn,
                                    SL_STREAM_UPSTREAM_CREATE
                                    | SL_STREAM_UPSTREAM_WEIGHT
                                    | SL_STREAM_UPSTREAM_MAX_CONNS
                                    | SL_STREAM_UPSTREAM_MAX_FAILS
                                    | SL_STREAM_UPSTREAM_FAIL_TIMEOUT
                                    | SL_STREAM_UPSTREAM_DOWN
                                    | SL_STREAM_UPSTREAM_BACKUP);
    return SL_CONF_OK;
}
