/*
 * sl_stream_upstream_hash_module.c -- "hash KEY [consistent];".
 *
 * Plain: the key's CRC-32, (crc >> 16) & 0x7fff, summed over the tries,
 * modulo the total weight picks a server by weight; a server that is out
 * is followed by a rehash of "N" KEY (N the try number), up to 20 tries,
 * then round-robin takes over -- the Cache::Memcached scheme nginx uses.
 *
 * consistent: every server gets 160 points per unit of weight on a circle
 * of CRC-32 values, CRC-32(HOST \0 PORT PREV) with PREV the previous point
 * as four little-endian bytes (zero for the first); the key's CRC-32 picks
 * the first point at or after it, and a server that is out passes on to
 * the next point, up to 20 points, then round-robin takes over. Removing
 * a server moves only the keys of its points.
 *
 * Both give an empty key to round-robin (nginx 1.13.8 and later do), and
 * make nginx's choices for the same key and servers.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

typedef struct {
    uint32_t                              hash;
    sl_str_t                             *server;
} sl_stream_upstream_chash_point_t;

typedef struct {
    sl_uint_t                             number;
    sl_stream_upstream_chash_point_t     *point;
} sl_stream_upstream_chash_points_t;

typedef struct {
    sl_stream_complex_value_t             key;
    sl_stream_upstream_chash_points_t    *points;
} sl_stream_upstream_hash_srv_conf_t;

typedef struct {
    /* first: the round-robin functions take a pointer to it */
    sl_stream_upstream_rr_peer_data_t     rrp;
    sl_stream_upstream_hash_srv_conf_t   *conf;
    sl_str_t                              key;
    sl_uint_t                             tries;
    sl_uint_t                             rehash;
    uint32_t                              hash;
} sl_stream_upstream_hash_peer_data_t;

static void *sl_stream_upstream_hash_create_conf(sl_conf_t *cf);
static char *sl_stream_upstream_hash(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_upstream_hash_commands[] = {

    { sl_string("hash"),
      SL_STREAM_UPS_CONF | SL_CONF_TAKE12,
      sl_stream_upstream_hash,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_upstream_hash_module_ctx = {
    NULL,
    NULL,
    NULL,
    NULL,
    sl_stream_upstream_hash_create_conf,
    NULL
};

sl_module_t  sl_stream_upstream_hash_module = {
    .name = "sl_stream_upstream_hash_module",
    .ctx = &sl_stream_upstream_hash_module_ctx,
    .commands = sl_stream_upstream_hash_commands,
    .type = SL_STREAM_MODULE,
};

/* --- plain hash ---------------------------------------------------------- */

static sl_int_t
sl_stream_upstream_init_hash_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc);
static sl_int_t sl_stream_upstream_get_hash_peer(sl_peer_connection_t *pc,
    void *data);

static sl_int_t
sl_stream_upstream_init_hash(sl_conf_t *cf, sl_stream_upstream_srv_conf_t *us)
{
    if (sl_stream_upstream_init_round_robin(cf, us) != SL_OK) {
        return SL_ERROR;
    }

    us->peer.init = sl_stream_upstream_init_hash_peer;
    return SL_OK;
}

static sl_int_t
sl_stream_upstream_init_hash_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc)
{
    sl_stream_upstream_hash_srv_conf_t   *hcf;
    sl_stream_upstream_hash_peer_data_t  *hp;

    hp = sl_pcalloc(s->connection->pool,
                    sizeof(sl_stream_upstream_hash_peer_data_t));
    if (hp == NULL
        || sl_stream_upstream_rr_peer_data_init(s, us, pc, &hp->rrp) != SL_OK)
    {
        return SL_ERROR;
    }

    hcf = sl_stream_conf_upstream_srv_conf(us, sl_stream_upstream_hash_module);

    if (sl_stream_complex_value(s, &hcf->key, &hp->key) != SL_OK) {
        return SL_ERROR;
    }

    hp->conf = hcf;
    pc->get = sl_stream_upstream_get_hash_peer;
    pc->data = hp;
    return SL_OK;
}

/* the try's hash: crc32 of [rehash] key, its bits 16..30 */
static uint32_t
sl_stream_upstream_hash_step(sl_stream_upstream_hash_peer_data_t *hp)
{
    u_char    buf[32];
    uint32_t  hash;

    sl_crc32_init(hash);

    if (hp->rehash > 0) {
        sl_crc32_update(&hash, buf, (size_t) (sl_snprintf(buf, sizeof(buf),
                                              "%ui", hp->rehash) - buf));
    }

    sl_crc32_update(&hash, hp->key.data, hp->key.len);
    sl_crc32_final(hash);

    return (hash >> 16) & 0x7fff;
}

static sl_int_t
sl_stream_upstream_get_hash_peer(sl_peer_connection_t *pc, void *data)
{
    sl_stream_upstream_hash_peer_data_t  *hp = data;
    sl_stream_upstream_rr_peer_t         *peer;
    sl_stream_upstream_rr_peers_t        *peers = hp->rrp.peers;
    sl_uint_t                             p;
    sl_int_t                              w;
    time_t                                now = hp->rrp.time->sec;

    if (hp->tries > 20 || peers->number < 2 || hp->key.len == 0) {
        return sl_stream_upstream_get_round_robin_peer(pc, &hp->rrp);
    }

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    for ( ;; ) {
        hp->hash += sl_stream_upstream_hash_step(hp);
        hp->rehash++;

        w = (sl_int_t) (hp->hash % peers->total_weight);
        peer = peers->peer;
        p = 0;

        while (w >= peer->weight) {
            w -= peer->weight;
            peer = peer->next;
            p++;
        }

        if (!sl_stream_upstream_rr_tried(&hp->rrp, p)
            && !sl_stream_upstream_rr_peer_out(peer, now))
        {
            break;
        }

        if (++hp->tries > 20) {
            sl_stream_upstream_rr_unlock(peers);
            return sl_stream_upstream_get_round_robin_peer(pc, &hp->rrp);
        }
    }

    sl_stream_upstream_rr_use_peer(pc, &hp->rrp, peer, p);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;
}

/* --- consistent hash ----------------------------------------------------- */

static sl_int_t sl_stream_upstream_init_chash_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc);
static sl_int_t sl_stream_upstream_get_chash_peer(sl_peer_connection_t *pc,
    void *data);

/* crc32(HOST \0 PORT) of a "server" argument, the seed of its points */
static uint32_t
sl_stream_upstream_chash_base(sl_str_t *server)
{
    u_char    *host = server->data, *port = NULL, c;
    size_t     host_len = server->len, port_len = 0, j;
    uint32_t   hash;

    if (server->len >= 5 && sl_strncasecmp(server->data, (u_char *) "unix:", 5)
                            == 0)
    {
        host = server->data + 5;
        host_len = server->len - 5;

    } else {
        for (j = 0; j < server->len; j++) {
            c = server->data[server->len - j - 1];

            if (c == ':') {
                host_len = server->len - j - 1;
                port = server->data + server->len - j;
                port_len = j;
                break;
            }

            if (c < '0' || c > '9') {
                break;
            }
        }
    }

    sl_crc32_init(hash);
    sl_crc32_update(&hash, host, host_len);
    sl_crc32_update(&hash, (u_char *) "", 1);
    if (port_len) {
        sl_crc32_update(&hash, port, port_len);
    }
    return hash;
}

static int
sl_stream_upstream_chash_cmp(const void *one, const void *two)
{
    const sl_stream_upstream_chash_point_t  *a = one, *b = two;

    return a->hash < b->hash ? -1 : a->hash > b->hash ? 1 : 0;
}

static sl_int_t
sl_stream_upstream_init_chash(sl_conf_t *cf,
    sl_stream_upstream_srv_conf_t *us)
{
    sl_stream_upstream_hash_srv_conf_t   *hcf;
    sl_stream_upstream_chash_points_t    *points;
    sl_stream_upstream_rr_peers_t        *peers;
    sl_stream_upstream_rr_peer_t         *peer;
    sl_uint_t                             npoints, i, j;
    uint32_t                              base, hash, prev;
    u_char                                le[4];

    if (sl_stream_upstream_init_round_robin(cf, us) != SL_OK) {
        return SL_ERROR;
    }

    us->peer.init = sl_stream_upstream_init_chash_peer;

    peers = us->peer.data;
    points = sl_palloc(cf->pool, sizeof(sl_stream_upstream_chash_points_t));
    if (points == NULL) {
        return SL_ERROR;
    }

    points->point = sl_palloc(cf->pool, peers->total_weight * 160
                                  * sizeof(sl_stream_upstream_chash_point_t));
    if (points->point == NULL) {
        return SL_ERROR;
    }

    points->number = 0;

    for (peer = peers->peer; peer; peer = peer->next) {
        base = sl_stream_upstream_chash_base(&peer->server);
        prev = 0;
        npoints = (sl_uint_t) peer->weight * 160;

        for (j = 0; j < npoints; j++) {
            /* the previous point as little-endian bytes, on any host */
            le[0] = (u_char) (prev & 0xff);
            le[1] = (u_char) ((prev >> 8) & 0xff);
            le[2] = (u_char) ((prev >> 16) & 0xff);
            le[3] = (u_char) ((prev >> 24) & 0xff);

            hash = base;
            sl_crc32_update(&hash, le, 4);
            sl_crc32_final(hash);

            points->point[points->number].hash = hash;
            points->point[points->number].server = &peer->server;
            points->number++;
            prev = hash;
        }
    }

    qsort(points->point, points->number,
          sizeof(sl_stream_upstream_chash_point_t),
          sl_stream_upstream_chash_cmp);

    /* equal points: the first of them stays */
    for (i = 0, j = 1; j < points->number; j++) {
        if (points->point[i].hash != points->point[j].hash) {
            points->point[++i] = points->point[j];
        }
    }

    points->number = i + 1;

    hcf = sl_stream_conf_upstream_srv_conf(us, sl_stream_upstream_hash_module);
    hcf->points = points;
    return SL_OK;
}

/* the first point >= hash; points->number when there is none */
static sl_uint_t
sl_stream_upstream_find_chash_point(sl_stream_upstream_chash_points_t *points,
    uint32_t hash)
{
    sl_uint_t  i = 0, j = points->number, k;

    while (i < j) {
        k = (i + j) / 2;

        if (hash > points->point[k].hash) {
            i = k + 1;

        } else if (hash < points->point[k].hash) {
            j = k;

        } else {
            return k;
        }
    }

    return i;
}

static sl_int_t
sl_stream_upstream_init_chash_peer(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *us, sl_peer_connection_t *pc)
{
    sl_stream_upstream_hash_peer_data_t  *hp;

    if (sl_stream_upstream_init_hash_peer(s, us, pc) != SL_OK) {
        return SL_ERROR;
    }

    hp = pc->data;
    pc->get = sl_stream_upstream_get_chash_peer;

    hp->hash = (uint32_t) sl_stream_upstream_find_chash_point(
                   hp->conf->points, sl_crc32(hp->key.data, hp->key.len));
    return SL_OK;
}

static sl_int_t
sl_stream_upstream_get_chash_peer(sl_peer_connection_t *pc, void *data)
{
    sl_stream_upstream_hash_peer_data_t  *hp = data;
    sl_stream_upstream_chash_points_t    *points = hp->conf->points;
    sl_stream_upstream_rr_peers_t        *peers = hp->rrp.peers;
    sl_stream_upstream_rr_peer_t         *best;
    sl_uint_t                             best_i = 0;
    sl_str_t                             *server;

    /* as the plain method: an empty key, or 20 points in vain, is
     * round-robin's to choose; so is a group of one */
    if (hp->tries > 20 || peers->single || hp->key.len == 0) {
        return sl_stream_upstream_get_round_robin_peer(pc, &hp->rrp);
    }

    pc->connection = NULL;

    sl_stream_upstream_rr_lock(peers);

    for ( ;; ) {
        server = points->point[hp->hash % points->number].server;

        /* among the live peers of the point's server */
        best = sl_stream_upstream_rr_best(&hp->rrp, server, &best_i);
        if (best != NULL) {
            break;
        }

        hp->hash++;

        if (++hp->tries > 20) {
            sl_stream_upstream_rr_unlock(peers);
            return sl_stream_upstream_get_round_robin_peer(pc, &hp->rrp);
        }
    }

    sl_stream_upstream_rr_use_peer(pc, &hp->rrp, best, best_i);
    sl_stream_upstream_rr_unlock(peers);
    return SL_OK;
}

/* --- the directive ------------------------------------------------------- */

static void *
sl_stream_upstream_hash_create_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_stream_upstream_hash_srv_conf_t));
}

static char *
sl_stream_upstream_hash(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_upstream_hash_srv_conf_t  *hcf = conf;
    sl_stream_upstream_srv_conf_t       *uscf;
    sl_str_t                            *value = cf->args->elts;

    sl_unused(cmd);

    if (sl_stream_compile_complex_value(cf, &value[1], &hcf->key) != SL_OK) {
        return SL_CONF_ERROR;
    }

    uscf = sl_stream_upstream_set_balancer(cf, sl_stream_upstream_init_hash,
                                    SL_STREAM_UPSTREAM_CREATE
                                    | SL_STREAM_UPSTREAM_WEIGHT
                                    | SL_STREAM_UPSTREAM_MAX_CONNS
                                    | SL_STREAM_UPSTREAM_MAX_FAILS
                                    | SL_STREAM_UPSTREAM_FAIL_TIMEOUT
                                    | SL_STREAM_UPSTREAM_DOWN);

    if (cf->args->nelts == 2) {
        return SL_CONF_OK;
    }

    if (value[2].len == 10 && sl_strncmp(value[2].data, "consistent", 10) == 0)
    {
        uscf->peer.init_upstream = sl_stream_upstream_init_chash;

    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          &value[2]);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
