/*
 * test_upstream.c -- upstream{} groups and their balancers, driven
 * without sockets: a configuration is loaded, and sessions made by hand
 * ask the group's balancer for a server (init, get, free) as the proxy
 * does. The expected choices were worked out from the algorithms, not by
 * running this code: the smooth weighted round-robin sequences by hand
 * (see each test), the hash choices with an independent script using
 * Python's zlib.crc32 (the values are in the tests). The TLS session
 * hooks every balancer gets from round-robin are driven with real
 * SSL objects and sessions made here, their frees counted by OpenSSL.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"

#include "sl_test.h"
#include "sl_t_conf.h"

#include <stdio.h>

/* a session made by hand: what a balancer looks at */
typedef struct {
    sl_stream_session_t   s;
    sl_connection_t       c;
    sl_peer_connection_t  pc;
} fake_t;

static sl_time_cache_t  T;
static sl_pool_t       *pool;

static void load_err(const char *body, const char *text);

static sl_cycle_t *
load(const char *body)
{
    sl_tc_write_str("conf/sluice.conf", body);
    return sl_tc_load(NULL);
}

/* loads "stream { BODY server { listen ...; proxy_pass x; } }" */
static void
load_ok(const char *body)
{
    char  buf[16384];

    snprintf(buf, sizeof(buf),
             "daemon off;\nevents { }\nstream {\n%s\n"
             "    server { listen 127.0.0.1:65001; proxy_pass 127.0.0.1:1; }\n"
             "}\n", body);

    if (load(buf) == NULL) {
        ck_abort_msg("load failed: %s", sl_tc.errors);
    }
}

static sl_stream_upstream_srv_conf_t *
group(const char *name)
{
    sl_stream_upstream_main_conf_t  *umcf;
    sl_stream_upstream_srv_conf_t   *us;
    sl_str_t                         n;

    umcf = sl_stream_cycle_get_module_main_conf(sl_tc.cycle,
                                                sl_stream_upstream_module);
    ck_assert_ptr_nonnull(umcf);

    n.data = (u_char *) name;
    n.len = strlen(name);
    us = sl_stream_upstream_find(umcf, &n);
    ck_assert_msg(us != NULL, "no upstream %s", name);
    return us;
}

static void
setup(void)
{
    sl_tc_setup();
    sl_memzero(&T, sizeof(T));
    T.sec = 1000000;
    pool = sl_create_pool(4096, &sl_tc.log);
    ck_assert_ptr_nonnull(pool);
}

static void
teardown(void)
{
    sl_destroy_pool(pool);
    sl_tc_teardown();
}

/* a fresh session on the group */
static fake_t *
session(sl_stream_upstream_srv_conf_t *us)
{
    fake_t  *f;

    f = sl_pcalloc(pool, sizeof(fake_t));
    ck_assert_ptr_nonnull(f);

    f->c.pool = pool;
    f->c.log = &sl_tc.log;
    f->s.connection = &f->c;
    f->s.time = &T;
    f->pc.log = &sl_tc.log;

    ck_assert_int_eq(us->peer.init(&f->s, us, &f->pc), SL_OK);
    return f;
}

/* the chosen server as the last digit of its port, '-' for SL_BUSY */
static char
get(fake_t *f)
{
    sl_int_t  rc;
    u_char   *name;

    rc = f->pc.get(&f->pc, f->pc.data);
    if (rc == SL_BUSY) {
        return '-';
    }

    ck_assert_int_eq(rc, SL_OK);
    name = f->pc.name->data;
    return (char) name[f->pc.name->len - 1];
}

static void
done(fake_t *f, sl_uint_t state)
{
    f->pc.free(&f->pc, f->pc.data, state);
}

/* n sessions, each choosing once and ending well: the choices */
static void
sequence(sl_stream_upstream_srv_conf_t *us, int n, char *out)
{
    fake_t  *f;
    int      i;

    for (i = 0; i < n; i++) {
        f = session(us);
        out[i] = get(f);
        if (out[i] != '-') {
            done(f, 0);
        }
    }

    out[n] = '\0';
}

/* --- round-robin --------------------------------------------------------- */

START_TEST(test_rr_smooth_sequence)
{
    char  seq[32];

    /*
     * Weights 5, 1, 1 (by hand): current weights start at 0; each choice
     * adds 5, 1, 1, takes the largest (the first of equals) and takes 7
     * from it: a a b a c a a, then all are back at 0 and it repeats.
     */
    load_ok("upstream w {\n"
            "    server 127.0.0.1:7001 weight=5;\n"
            "    server 127.0.0.1:7002;\n"
            "    server 127.0.0.1:7003;\n"
            "}\n");

    sequence(group("w"), 14, seq);
    ck_assert_str_eq(seq, "11213111121311");
}
END_TEST

START_TEST(test_rr_equal_and_two)
{
    char  seq[32];

    load_ok("upstream e { server 127.0.0.1:7001; server 127.0.0.1:7002;\n"
            "             server 127.0.0.1:7003; }\n"
            "upstream t { server 127.0.0.1:7001 weight=2;\n"
            "             server 127.0.0.1:7002 weight=3; }\n");

    sequence(group("e"), 6, seq);
    ck_assert_str_eq(seq, "123123");

    /*
     * 2, 3 (by hand): (2,3)->b(2,-2) (4,1)->a(-1,1) (1,4)->b(1,-1)
     * (3,2)->a(-2,2) (0,5)->b(0,0): b a b a b.
     */
    sequence(group("t"), 5, seq);
    ck_assert_str_eq(seq, "21212");
}
END_TEST

START_TEST(test_rr_down_and_backup)
{
    char     seq[32];
    fake_t  *f;

    load_ok("upstream d { server 127.0.0.1:7001 down;\n"
            "             server 127.0.0.1:7002;\n"
            "             server 127.0.0.1:7003; }\n"
            "upstream b { server 127.0.0.1:7001 max_fails=1;\n"
            "             server 127.0.0.1:7002 down;\n"
            "             server 127.0.0.1:7008 backup;\n"
            "             server 127.0.0.1:7009 backup; }\n"
            "upstream alldown { server 127.0.0.1:7001 down;\n"
            "                   server 127.0.0.1:7002 down; }\n");

    sequence(group("d"), 4, seq);
    ck_assert_str_eq(seq, "2323");

    /* tries: the servers not down, primary and backup */
    f = session(group("d"));
    ck_assert_uint_eq(f->pc.tries, 2);
    f = session(group("b"));
    ck_assert_uint_eq(f->pc.tries, 3);

    /* the backups only when no primary is live */
    sequence(group("b"), 3, seq);
    ck_assert_str_eq(seq, "111");

    f = session(group("b"));
    ck_assert_int_eq(get(f), '1');
    done(f, SL_PEER_FAILED);            /* 7001 is out for fail_timeout */
    ck_assert_int_eq(get(f), '8');      /* the same session goes on */
    done(f, SL_PEER_FAILED);
    ck_assert_int_eq(get(f), '9');
    done(f, SL_PEER_FAILED);
    ck_assert_int_eq(get(f), '-');
    ck_assert_uint_eq(f->pc.name->len, 1);
    ck_assert_int_eq(f->pc.name->data[0], 'b');

    sequence(group("alldown"), 1, seq);
    ck_assert_str_eq(seq, "-");
}
END_TEST

START_TEST(test_rr_max_fails_recovery)
{
    char     seq[32];
    fake_t  *f;

    load_ok("upstream f { server 127.0.0.1:7001 max_fails=2 fail_timeout=5s;\n"
            "             server 127.0.0.1:7002; }\n");

    /* one failure of two allowed: still chosen */
    f = session(group("f"));
    ck_assert_int_eq(get(f), '1');
    done(f, SL_PEER_FAILED);

    sequence(group("f"), 2, seq);
    ck_assert_uint_eq(strchr(seq, '1') != NULL, 1);

    f = session(group("f"));
    while (get(f) != '1') {
        done(f, 0);
        f = session(group("f"));
    }
    done(f, SL_PEER_FAILED);            /* the second: out for 5 s */

    sequence(group("f"), 6, seq);
    ck_assert_str_eq(seq, "222222");

    T.sec += 5;                         /* not yet: "<= fail_timeout" */
    sequence(group("f"), 2, seq);
    ck_assert_str_eq(seq, "22");

    T.sec += 1;                         /* a trial, which succeeds */
    f = session(group("f"));
    while (get(f) != '1') {
        done(f, 0);
        f = session(group("f"));
    }
    done(f, 0);

    /* live again: fails were cleared, it is chosen with the other */
    T.sec += 1;
    sequence(group("f"), 4, seq);
    ck_assert_ptr_nonnull(strchr(seq, '1'));
    ck_assert_ptr_nonnull(strchr(seq, '2'));
}
END_TEST

/* the proxy's word that the connection to the chosen server is up */
static void
connected(fake_t *f)
{
    ck_assert_ptr_nonnull(f->pc.notify);
    f->pc.notify(&f->pc, f->pc.data, SL_STREAM_UPSTREAM_NOTIFY_CONNECT);
}

START_TEST(test_rr_recovery_on_connect)
{
    fake_t  *f, *trial, *other[4];
    int      i;

    /*
     * nginx 1.22.1 run with this group: a primary out for fail_timeout is
     * chosen again for one trial session; while that one is connecting,
     * a parallel session goes to the backup; once its connection is up
     * (nginx's notify, "connect"), every session takes the primary again,
     * all while the trial session is still open -- its free() has not
     * run, so the free-time reset alone would have sent them to the
     * backup until it ended.
     */
    load_ok("upstream r { server 127.0.0.1:7001 max_fails=1 fail_timeout=2s;"
            "\n             server 127.0.0.1:7009 backup; }\n");

    f = session(group("r"));
    ck_assert_int_eq(get(f), '1');
    done(f, SL_PEER_FAILED);
    ck_assert_int_eq(get(f), '9');      /* stays open */

    f = session(group("r"));
    ck_assert_int_eq(get(f), '9');      /* within fail_timeout */

    T.sec += 3;
    trial = session(group("r"));
    ck_assert_int_eq(get(trial), '1');

    f = session(group("r"));
    ck_assert_int_eq(get(f), '9');      /* the trial has not connected */

    connected(trial);

    for (i = 0; i < 4; i++) {
        other[i] = session(group("r"));
        ck_assert_int_eq(get(other[i]), '1');
    }

    /* a failure after the trial connected counts from zero again */
    done(other[0], SL_PEER_FAILED);
    f = session(group("r"));
    ck_assert_int_eq(get(f), '9');

    /* a connect outside a trial does not clear a failure */
    T.sec += 3;
    trial = session(group("r"));
    ck_assert_int_eq(get(trial), '1');
    done(trial, SL_PEER_FAILED);
    connected(other[1]);
    f = session(group("r"));
    ck_assert_int_eq(get(f), '9');
}
END_TEST

START_TEST(test_rr_max_conns)
{
    fake_t  *a, *b, *c, *d;

    load_ok("upstream m { server 127.0.0.1:7001 max_conns=1;\n"
            "             server 127.0.0.1:7002 max_conns=2; }\n"
            "upstream one { server 127.0.0.1:7001 max_conns=1; }\n");

    a = session(group("m"));
    b = session(group("m"));
    c = session(group("m"));
    d = session(group("m"));
    ck_assert_int_eq(get(a), '1');
    ck_assert_int_eq(get(b), '2');
    ck_assert_int_eq(get(c), '2');
    ck_assert_int_eq(get(d), '-');      /* all at their max */
    done(a, 0);
    d = session(group("m"));
    ck_assert_int_eq(get(d), '1');
    done(b, 0);
    done(c, 0);
    done(d, 0);

    a = session(group("one"));
    b = session(group("one"));
    ck_assert_int_eq(get(a), '1');
    ck_assert_int_eq(get(b), '-');
    done(a, 0);
}
END_TEST

START_TEST(test_rr_weight_after_failure)
{
    char     seq[32];
    fake_t  *f;

    /*
     * nginx's rules by hand: weights 2 and 1, max_fails=2 on the first.
     * (2,1)->a, cw (-1,1); a fails: its effective weight 2 - 2/2 = 1.
     * The session goes on to b: b alone, (-1,2)->b (-1,1). Then: a gets
     * back one effective weight each time it is seen live:
     * (0,2)->b (0,0), eff a 2; (2,1)->a (-1,1); (1,2)->b (1,-1);
     * (3,0)->a (0,0); (2,1)->a (-1,1); (1,2)->b.
     */
    load_ok("upstream w { server 127.0.0.1:7001 weight=2 max_fails=2;\n"
            "             server 127.0.0.1:7002; }\n");

    f = session(group("w"));
    ck_assert_int_eq(get(f), '1');
    done(f, SL_PEER_FAILED);
    ck_assert_int_eq(get(f), '2');
    done(f, 0);

    sequence(group("w"), 6, seq);
    ck_assert_str_eq(seq, "212112");
}
END_TEST

START_TEST(test_rr_max_conns_backup)
{
    fake_t  *a, *b, *c;

    /* a primary at max_conns is out: the backup takes the next ones */
    load_ok("upstream m { server 127.0.0.1:7001 max_conns=1;\n"
            "             server 127.0.0.1:7009 backup max_conns=1; }\n");

    a = session(group("m"));
    b = session(group("m"));
    c = session(group("m"));
    ck_assert_uint_eq(a->pc.tries, 2);
    ck_assert_int_eq(get(a), '1');
    ck_assert_int_eq(get(b), '9');
    ck_assert_int_eq(get(c), '-');
    done(a, 0);
    c = session(group("m"));
    ck_assert_int_eq(get(c), '1');
    done(b, 0);
    done(c, 0);
}
END_TEST

/* --- least_conn ---------------------------------------------------------- */

START_TEST(test_least_conn)
{
    fake_t  *f[8];
    char     seq[32];

    load_ok("upstream l { least_conn;\n"
            "             server 127.0.0.1:7001;\n"
            "             server 127.0.0.1:7002 weight=2; }\n"
            "upstream lb { least_conn;\n"
            "             server 127.0.0.1:7001 down;\n"
            "             server 127.0.0.1:7009 backup; }\n");

    /*
     * Held open: 0/1 vs 0/2 equal, round-robin: b (weight 2); then 0/1 <
     * 1/2: a; then 1/1 == 2/2... 1*2 vs 1*1: b has 1 conn weight 2: 1/2 <
     * 1/1: b; then 1/1 vs 2/2 equal: round-robin among both.
     */
    f[0] = session(group("l"));
    f[1] = session(group("l"));
    f[2] = session(group("l"));
    ck_assert_int_eq(get(f[0]), '2');
    ck_assert_int_eq(get(f[1]), '1');
    ck_assert_int_eq(get(f[2]), '2');

    /* one ended on 2: 1/1 vs 1/2 -> 2 */
    done(f[2], 0);
    f[3] = session(group("l"));
    ck_assert_int_eq(get(f[3]), '2');

    done(f[0], 0);
    done(f[1], 0);
    done(f[3], 0);

    sequence(group("lb"), 2, seq);
    ck_assert_str_eq(seq, "99");
}
END_TEST

/* --- hash ---------------------------------------------------------------- */

static const char  *keys[] = {
    "alpha", "beta", "gamma", "delta", "epsilon",
    "k0", "k1", "k2", "k3", "k4"
};

/* upstream h_KEY per key, hash KEY [consistent], with servers */
static void
load_hash(const char *how, const char *servers)
{
    char    buf[8192], *p = buf;
    size_t  i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        p += snprintf(p, sizeof(buf) - (size_t) (p - buf),
                      "upstream h_%s { hash %s %s; %s }\n",
                      keys[i], keys[i], how, servers);
    }

    load_ok(buf);
}

static void
hash_choices(char *out)
{
    char     name[32];
    fake_t  *f;
    size_t   i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(name, sizeof(name), "h_%s", keys[i]);
        f = session(group(name));
        out[i] = get(f);
        done(f, 0);
    }

    out[i] = '\0';
}

START_TEST(test_hash)
{
    char  seq[32];

    /*
     * (crc32(KEY) >> 16) & 0x7fff modulo the total weight 4, by weight
     * 1, 2, 1: alpha->1 beta->2 gamma->3 delta->3 epsilon->2 k0->2 k1->2
     * k2->3 k3->1 k4->1.
     */
    load_hash("", "server 127.0.0.1:7001; server 127.0.0.1:7002 weight=2;"
                  " server 127.0.0.1:7003;");
    hash_choices(seq);
    ck_assert_str_eq(seq, "1233222311");

    /* the same again: the choice depends on the key only */
    hash_choices(seq);
    ck_assert_str_eq(seq, "1233222311");

    /* 7002 down: its keys rehash with "1" KEY, "2" KEY, ... */
    load_hash("", "server 127.0.0.1:7001; server 127.0.0.1:7002 weight=2 "
                  "down; server 127.0.0.1:7003;");
    hash_choices(seq);
    ck_assert_str_eq(seq, "1333333311");
}
END_TEST

START_TEST(test_hash_consistent)
{
    char  seq[32];

    /*
     * 160 points per server, crc32("127.0.0.1" \0 "700N" PREV); the key's
     * crc32 finds the first point at or after it.
     */
    load_hash("consistent", "server 127.0.0.1:7001; server 127.0.0.1:7002;"
                            " server 127.0.0.1:7003;");
    hash_choices(seq);
    ck_assert_str_eq(seq, "1322232132");

    /* 7002 removed: only its keys move */
    load_hash("consistent", "server 127.0.0.1:7001; server 127.0.0.1:7003;");
    hash_choices(seq);
    ck_assert_str_eq(seq, "1333133131");

    /* down: passed on to the next point, the same places */
    load_hash("consistent", "server 127.0.0.1:7001; server 127.0.0.1:7002 "
                            "down; server 127.0.0.1:7003;");
    hash_choices(seq);
    ck_assert_str_eq(seq, "1333133131");
}
END_TEST

START_TEST(test_hash_empty_key)
{
    char     seq[32];
    fake_t  *f;
    int      i;

    /*
     * An empty key is round-robin's (nginx 1.13.8 on, both methods): the
     * smooth weighted sequence of weights 2, 1, 1 (by hand: (2,1,1)->a
     * (-2,1,1) (0,2,2)->b (0,-2,2) (2,-1,3)->c (2,-1,-1) (4,0,0)->a),
     * not one server.
     */
    load_ok("upstream p { hash \"\"; server 127.0.0.1:7001 weight=2;\n"
            "             server 127.0.0.1:7002; server 127.0.0.1:7003; }\n"
            "upstream c { hash \"\" consistent;\n"
            "             server 127.0.0.1:7001 weight=2;\n"
            "             server 127.0.0.1:7002; server 127.0.0.1:7003; }\n");

    sequence(group("p"), 8, seq);
    ck_assert_str_eq(seq, "12311231");
    sequence(group("c"), 8, seq);
    ck_assert_str_eq(seq, "12311231");

    /* and round-robin's failures: 7001 failed is passed over */
    f = session(group("c"));
    for (i = 0; get(f) != '1'; i++) {
        ck_assert_int_lt(i, 4);
        done(f, 0);
        f = session(group("c"));
    }
    done(f, SL_PEER_FAILED);
    sequence(group("c"), 4, seq);
    ck_assert_ptr_null(strchr(seq, '1'));
}
END_TEST

/* --- zone ---------------------------------------------------------------- */

/* is p inside the zone's memory */
static int
in_zone(sl_stream_upstream_srv_conf_t *us, void *p)
{
    u_char  *start = (u_char *) us->shm_zone->pool;

    return (u_char *) p >= start && (u_char *) p < start + us->shm_zone->size;
}

START_TEST(test_zone_records)
{
    sl_stream_upstream_rr_peers_t  *peers;
    sl_stream_upstream_rr_peer_t   *peer;
    char                            seq[32];
    fake_t                         *a, *b;

    load_ok("upstream w { zone z 64k;\n"
            "    server 127.0.0.1:7001 weight=5;\n"
            "    server 127.0.0.1:7002;\n"
            "    server 127.0.0.1:7003;\n"
            "    server 127.0.0.1:7008 backup;\n"
            "}\n"
            "upstream l { zone z; least_conn;\n"
            "    server 127.0.0.1:7001; server 127.0.0.1:7002 down; }\n");

    /* every record in the zone, the group's lock the zone's */
    peers = group("w")->peer.data;
    ck_assert_ptr_eq(peers->shpool, group("w")->shm_zone->pool);
    ck_assert_ptr_eq(peers->next->shpool, peers->shpool);
    ck_assert_ptr_eq(group("l")->shm_zone, group("w")->shm_zone);

    for (peer = peers->peer; peer; peer = peer->next) {
        ck_assert(in_zone(group("w"), peer->rec));
        ck_assert(peer->rec != &peer->own);
        ck_assert(sl_str_eq(&peer->rec->name, &peer->name));
        ck_assert_uint_eq(peer->rec->backup, 0);
    }

    ck_assert(in_zone(group("w"), peers->next->peer->rec));
    ck_assert_uint_eq(peers->next->peer->rec->backup, 1);
    peer = ((sl_stream_upstream_rr_peers_t *) group("l")->peer.data)->peer;
    ck_assert_uint_eq(peer->next->rec->down, 1);

    /* the same choices as without a zone */
    sequence(group("w"), 14, seq);
    ck_assert_str_eq(seq, "11213111121311");

    a = session(group("l"));
    b = session(group("l"));
    ck_assert_int_eq(get(a), '1');
    ck_assert_uint_eq(peer->rec->conns, 1);
    ck_assert_int_eq(get(b), '1');
    ck_assert_uint_eq(peer->rec->conns, 2);
    done(a, 0);
    done(b, 0);
    ck_assert_uint_eq(peer->rec->conns, 0);
}
END_TEST

START_TEST(test_zone_balancers)
{
    sl_stream_upstream_rr_peers_t  *peers;
    char                            seq[256];
    fake_t                         *f[4];
    int                             i;

    /* every balancer works on the zone's records */
    load_ok("upstream r { zone z 64k; random two;\n"
            "             server 127.0.0.1:7001; server 127.0.0.1:7002; }\n"
            "upstream h { zone z; hash k consistent;\n"
            "             server 127.0.0.1:7001; server 127.0.0.1:7002;\n"
            "             server 127.0.0.1:7003; }\n");

    peers = group("r")->peer.data;
    ck_assert_ptr_nonnull(peers->shpool);

    /* random two with all four held: 2 and 2, by their counts */
    for (i = 0; i < 4; i++) {
        f[i] = session(group("r"));
        seq[i] = get(f[i]);
    }
    seq[4] = '\0';
    ck_assert_uint_eq(peers->peer->rec->conns, 2);
    ck_assert_uint_eq(peers->peer->next->rec->conns, 2);
    for (i = 0; i < 4; i++) {
        done(f[i], 0);
    }
    ck_assert_uint_eq(peers->peer->rec->conns, 0);

    /* the same key, the same server, every time */
    sequence(group("h"), 4, seq);
    ck_assert(seq[0] == seq[1] && seq[1] == seq[2] && seq[2] == seq[3]);
}
END_TEST

START_TEST(test_zone_conf_errors)
{
    load_err("upstream u { zone z 1k; server 127.0.0.1:1; }",
             "zone \"z\" is too small");
    load_err("upstream u { zone z 12q; server 127.0.0.1:1; }",
             "invalid zone size \"12q\"");
    load_err("upstream u { zone \"\" 64k; server 127.0.0.1:1; }",
             "invalid zone name \"\"");
    load_err("upstream u { zone z; server 127.0.0.1:1; }",
             "zero size shared memory zone \"z\"");
    load_err("upstream u { zone z 64k; server 127.0.0.1:1; }\n"
             "upstream v { zone z 128k; server 127.0.0.1:1; }",
             "the size 131072 of shared memory zone \"z\" conflicts with "
             "already declared size 65536");
    load_err("upstream u { zone z 64k 1; server 127.0.0.1:1; }",
             "invalid number of arguments in \"zone\" directive");
}
END_TEST

START_TEST(test_zone_too_small)
{
    char    buf[32768], *p = buf;
    size_t  i;

    /* 250 servers do not fit in 32k: the configuration fails, saying so */
    p += sprintf(p, "upstream big { zone z 32k;\n");
    for (i = 0; i < 250; i++) {
        p += sprintf(p, "server 127.0.0.1:%zu;\n", 10000 + i);
    }
    sprintf(p, "}\n");

    load_err(buf, "could not allocate peers of upstream \"big\" in "
             "upstream zone \"z\"");
}
END_TEST

/*
 * Review: sl_stream_upstream_init_zone() formats pool->log_ctx with
 * SL_SLAB_LOG_CTX_LEN (not LEN - 1, no forced '\0' as sl_slab_init does):
 * a zone name of 44+ bytes leaves log_ctx unterminated and every "%s" of
 * it reads on into the page descriptors that follow it.
 */
START_TEST(test_zone_long_name_log_ctx)
{
    char    buf[32768], name[61], *p = buf, *at;
    size_t  i;

    memset(name, 'n', 60);
    name[60] = '\0';

    p += sprintf(p, "upstream big { zone %s 32k;\n", name);
    for (i = 0; i < 250; i++) {
        p += sprintf(p, "server 127.0.0.1:%zu;\n", 10000 + i);
    }
    sprintf(p, "}\n");

    load_err(buf, "could not allocate peers of upstream \"big\"");

    at = strstr(sl_tc.errors, "in upstream zone \"");
    ck_assert_ptr_nonnull(at);
    at += strlen("in upstream zone \"");
    while (*at == 'n') {
        at++;
    }
    /* the message ends with the (truncated) name: nothing else follows */
    ck_assert_msg(*at == '"' || *at == '\n' || *at == '\0' || *at == ' ',
                  "log_ctx runs on past its name: byte 0x%02x in: %s",
                  (unsigned char) *at, sl_tc.errors);
}
END_TEST

/* --- random -------------------------------------------------------------- */

START_TEST(test_random)
{
    char  seq[256];
    int   i, n1 = 0, n2 = 0;

    load_ok("upstream r { random;\n"
            "             server 127.0.0.1:7001 down;\n"
            "             server 127.0.0.1:7002;\n"
            "             server 127.0.0.1:7003 weight=3; }\n"
            "upstream r2 { random two least_conn;\n"
            "             server 127.0.0.1:7001; server 127.0.0.1:7002; }\n");

    sequence(group("r"), 200, seq);
    for (i = 0; i < 200; i++) {
        ck_assert_int_ne(seq[i], '1');      /* never the one down */
        n1 += seq[i] == '2';
        n2 += seq[i] == '3';
    }
    ck_assert_int_gt(n1, 0);
    ck_assert_int_gt(n2, n1);   /* weight 3 against 1: 1 in ~10^-9 fails */

    sequence(group("r2"), 20, seq);
    for (i = 0; i < 20; i++) {
        ck_assert(seq[i] == '1' || seq[i] == '2');
    }
}
END_TEST

START_TEST(test_random_two_least_conn)
{
    fake_t  *a, *b;

    load_ok("upstream r2 { random two;\n"
            "             server 127.0.0.1:7001; server 127.0.0.1:7002; }\n");

    /* two servers, both drawn: the one with fewer connections wins */
    a = session(group("r2"));
    ck_assert_int_ne(get(a), '-');
    b = session(group("r2"));
    ck_assert_int_ne(get(b), '-');
    ck_assert_int_ne(b->pc.name->data[b->pc.name->len - 1],
                     a->pc.name->data[a->pc.name->len - 1]);
    done(a, 0);
    done(b, 0);
}
END_TEST

/* --- configuration errors ------------------------------------------------ */

static void
load_err(const char *body, const char *text)
{
    char  buf[16384];

    snprintf(buf, sizeof(buf), "daemon off;\nevents { }\nstream {\n%s\n}\n",
             body);
    ck_assert_ptr_null(load(buf));
    ck_assert_msg(strstr(sl_tc.errors, text) != NULL, "want \"%s\" in: %s",
                  text, sl_tc.errors);
}

START_TEST(test_conf_errors)
{
    load_err("upstream u { }", "no servers are inside upstream");
    load_err("upstream u { server 127.0.0.1:1; }\n"
             "upstream u { server 127.0.0.1:2; }", "duplicate upstream \"u\"");
    load_err("upstream u { server 127.0.0.1:1 weight=0; }",
             "invalid parameter \"weight=0\"");
    load_err("upstream u { server 127.0.0.1:1 bogus; }",
             "invalid parameter \"bogus\"");
    load_err("upstream u { server 127.0.0.1; }",
             "no port in upstream \"127.0.0.1\"");
    load_err("upstream u { hash $remote_addr; server 127.0.0.1:1 backup; }",
             "invalid parameter \"backup\"");
    load_err("upstream u { random three; server 127.0.0.1:1; }",
             "invalid parameter \"three\"");
    load_err("upstream u { hash k wrong; server 127.0.0.1:1; }",
             "invalid parameter \"wrong\"");
    load_err("server { listen 127.0.0.1:65001; proxy_pass nowhere; }",
             "no port in upstream \"nowhere\"");
    load_err("server { listen 127.0.0.1:65001; proxy_pass 127.0.0.1:1;"
             " proxy_pass 127.0.0.1:2; }", "is duplicate");
    load_err("upstream u { server 127.0.0.1:1 backup; }",
             "no servers in upstream \"u\"");
}
END_TEST

START_TEST(test_conf_ok)
{
    /* an upstream named after its use, and a balancer redefined */
    load_ok("upstream later { least_conn; random; server 127.0.0.1:7001; }\n"
            "server { listen 127.0.0.1:65001; proxy_pass later;\n"
            "         proxy_bind 127.0.0.1; proxy_timeout 5s;\n"
            "         proxy_connect_timeout 1s; proxy_buffer_size 4k;\n"
            "         proxy_next_upstream off; proxy_next_upstream_tries 2;\n"
            "         proxy_next_upstream_timeout 3s;\n"
            "         proxy_upload_rate 10k; proxy_download_rate 10k;\n"
            "         proxy_half_close on; proxy_socket_keepalive on; }\n");
    ck_assert_ptr_nonnull(strstr(sl_tc.errors,
                                 "load balancing method redefined"));
    ck_assert_ptr_nonnull(group("later"));
}
END_TEST

/* --- TLS sessions -------------------------------------------------------- */

static int   sess_index = -1;
static int   sess_made, sess_freed;
static char  sess_mark;

/* OpenSSL calls it for every session freed: ours carry the mark */
static void
sess_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
    (void) parent;
    (void) ad;
    (void) idx;
    (void) argl;
    (void) argp;

    if (ptr == &sess_mark) {
        sess_freed++;
    }
}

/* a session of our own, marked; the caller holds its one reference */
static SSL_SESSION *
sess_new(void)
{
    SSL_SESSION  *sess;

    if (sess_index == -1) {
        sess_index = SSL_SESSION_get_ex_new_index(0, NULL, NULL, NULL,
                                                  sess_free_cb);
        ck_assert_int_ge(sess_index, 0);
    }

    sess = SSL_SESSION_new();
    ck_assert_ptr_nonnull(sess);
    ck_assert_int_eq(SSL_SESSION_set_ex_data(sess, sess_index, &sess_mark),
                     1);
    sess_made++;
    return sess;
}

/* f's upstream connection: a TLS one of ctx, as the proxy makes it */
static SSL *
sess_connection(fake_t *f, SSL_CTX *ctx)
{
    sl_connection_t      *c;
    sl_ssl_connection_t  *sc;

    c = sl_pcalloc(pool, sizeof(sl_connection_t));
    sc = sl_pcalloc(pool, sizeof(sl_ssl_connection_t));
    ck_assert(c != NULL && sc != NULL);

    sc->connection = SSL_new(ctx);
    ck_assert_ptr_nonnull(sc->connection);
    c->ssl = sc;
    c->log = &sl_tc.log;
    c->pool = pool;
    f->pc.connection = c;
    return sc->connection;
}

/*
 * One attempt through group us with a connection of ctx: the session the
 * hook offered must be the one expected of the peer chosen and ctx; then
 * the server "gives" a new one, which the peer keeps. Returns the peer.
 */
static char
sess_attempt(sl_stream_upstream_srv_conf_t *us, SSL_CTX *ctx, int k,
    SSL_SESSION *expect[10][2])
{
    SSL_SESSION  *sess;
    fake_t       *f = session(us);
    SSL          *ssl;
    char          d;

    ck_assert_ptr_nonnull(f->pc.set_session);
    ck_assert_ptr_nonnull(f->pc.save_session);

    d = get(f);
    ck_assert(d >= '0' && d <= '9');
    ssl = sess_connection(f, ctx);

    ck_assert_int_eq(f->pc.set_session(&f->pc, f->pc.data), SL_OK);
    ck_assert_msg(SSL_get0_session(ssl) == expect[d - '0'][k],
                  "peer %c, context %d: offered %p, want %p", d, k,
                  (void *) SSL_get0_session(ssl),
                  (void *) expect[d - '0'][k]);

    /* what a handshake leaves: the connection's session, a new one */
    sess = sess_new();
    ck_assert_int_eq(SSL_set_session(ssl, sess), 1);
    SSL_SESSION_free(sess);
    f->pc.save_session(&f->pc, f->pc.data);
    expect[d - '0'][k] = sess;

    done(f, 0);

    /* after free() the attempt has no peer: nothing is kept */
    ck_assert_int_eq(SSL_set_session(ssl, sess_new()), 1);
    SSL_SESSION_free(SSL_get0_session(ssl));
    f->pc.save_session(&f->pc, f->pc.data);

    SSL_free(ssl);
    return d;
}

/*
 * Each balancer's peers keep a session per peer and per client context
 * (a server{} block's): offered to the next connection to that peer of
 * that context only, replaced by the next one it gives, and every one
 * freed (by the replacement or with the configuration), none twice.
 */
START_TEST(test_ssl_sessions)
{
    static const char  *groups[] = { "rr", "lc", "hh", "hc", "ra", "r2", "bk" };
    SSL_SESSION        *expect[10][2];
    SSL_CTX            *ctx[2];
    char                seen[10][2];
    size_t              g;
    int                 i, k, kept;

    sess_made = 0;
    sess_freed = 0;

    load_ok("upstream rr { server 127.0.0.1:7001; server 127.0.0.1:7002; }\n"
            "upstream lc { least_conn; server 127.0.0.1:7001;"
            " server 127.0.0.1:7002; }\n"
            "upstream hh { hash k1; server 127.0.0.1:7001;"
            " server 127.0.0.1:7002; }\n"
            "upstream hc { hash k1 consistent; server 127.0.0.1:7001;"
            " server 127.0.0.1:7002; }\n"
            "upstream ra { random; server 127.0.0.1:7001;"
            " server 127.0.0.1:7002; }\n"
            "upstream r2 { random two; server 127.0.0.1:7001;"
            " server 127.0.0.1:7002; }\n"
            "upstream bk { server 127.0.0.1:7001 down;"
            " server 127.0.0.1:7009 backup; }\n");

    ctx[0] = SSL_CTX_new(TLS_client_method());
    ctx[1] = SSL_CTX_new(TLS_client_method());
    ck_assert(ctx[0] != NULL && ctx[1] != NULL);

    kept = 0;

    for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        memset(expect, 0, sizeof(expect));
        memset(seen, 0, sizeof(seen));

        /* every third attempt from the other context */
        for (i = 0; i < 12; i++) {
            k = (i % 3 == 2);
            seen[sess_attempt(group(groups[g]), ctx[k], k, expect) - '0'][k]
                = 1;
        }

        for (i = 0; i < 10; i++) {
            kept += seen[i][0] + seen[i][1];
        }
    }

    /* all but the kept ones are gone; the rest go with the configuration */
    ck_assert_int_eq(sess_freed, sess_made - kept);
    sl_tc_unload();
    ck_assert_int_eq(sess_freed, sess_made);

    SSL_CTX_free(ctx[0]);
    SSL_CTX_free(ctx[1]);
}
END_TEST

/* a group made for one session (proxy_pass $var, an address) keeps none */
START_TEST(test_ssl_sessions_one_session_group)
{
    sl_stream_upstream_srv_conf_t  *us;
    sl_url_t                        u;
    fake_t                          f0, *f;

    load_ok("");

    memset(&f0, 0, sizeof(f0));
    f0.c.pool = pool;
    f0.c.log = &sl_tc.log;
    f0.s.connection = &f0.c;
    f0.s.time = &T;

    memset(&u, 0, sizeof(u));
    u.url.data = (u_char *) "127.0.0.1:7001";
    u.url.len = strlen("127.0.0.1:7001");
    u.no_resolve = 1;
    ck_assert_int_eq(sl_parse_url(pool, &u), SL_OK);

    us = sl_stream_upstream_create_round_robin(&f0.s, &u);
    ck_assert_ptr_nonnull(us);

    f = session(us);
    ck_assert_ptr_null(f->pc.set_session);
    ck_assert_ptr_null(f->pc.save_session);
    ck_assert_int_eq(get(f), '1');
    done(f, 0);
}
END_TEST

static Suite *
upstream_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("upstream");

    tc = tcase_create("balancers");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rr_smooth_sequence);
    tcase_add_test(tc, test_rr_equal_and_two);
    tcase_add_test(tc, test_rr_down_and_backup);
    tcase_add_test(tc, test_rr_max_fails_recovery);
    tcase_add_test(tc, test_rr_recovery_on_connect);
    tcase_add_test(tc, test_rr_weight_after_failure);
    tcase_add_test(tc, test_rr_max_conns_backup);
    tcase_add_test(tc, test_rr_max_conns);
    tcase_add_test(tc, test_least_conn);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_hash_consistent);
    tcase_add_test(tc, test_hash_empty_key);
    tcase_add_test(tc, test_zone_records);
    tcase_add_test(tc, test_zone_balancers);
    tcase_add_test(tc, test_zone_conf_errors);
    tcase_add_test(tc, test_zone_too_small);
    tcase_add_test(tc, test_zone_long_name_log_ctx);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_random_two_least_conn);
    tcase_add_test(tc, test_conf_errors);
    tcase_add_test(tc, test_conf_ok);
    tcase_add_test(tc, test_ssl_sessions);
    tcase_add_test(tc, test_ssl_sessions_one_session_group);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(upstream_suite)
