/*
 * test_ssl_io.c -- TLS connections through each back end: sluice's side
 * runs in the loop under test (src/ssl), the other side is an OpenSSL
 * peer of t/lib/sl_t_tls.h in the same process, stepped without blocking
 * between the loop's iterations, over socketpairs and loopback TCP.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_stream.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sl_os.h"
#include "sl_t_event.h"
#include "sl_t_tls.h"
#include "sl_test.h"

SL_TE_BACKENDS;

/* --- sluice's side ------------------------------------------------------- */

typedef struct {
    sl_connection_t  *c;

    /* reading: everything is hashed; the last bytes are kept */
    EVP_MD_CTX       *md;
    u_char            tail[65536];
    size_t            got;
    size_t            chunk;        /* bytes per recv; 0: 64 KiB */
    unsigned          once:1;       /* one recv per handler call */
    sl_uint_t         reads;        /* read handler calls */
    sl_uint_t         read_timeouts;

    /* writing */
    const u_char     *out;
    size_t            out_len;
    size_t            sent;
    size_t            wchunk;       /* bytes per send; 0: what is left */
    size_t            again_size;   /* the size refused by SL_AGAIN */
    unsigned          random_writes:1;
    sl_uint_t         writes;       /* write handler calls */
    sl_uint_t         write_timeouts;
    sl_uint_t         write_agains;

    unsigned          eof:1;
    unsigned          error:1;
    unsigned          hs_done:1;
    unsigned          shut_done:1;
} side_t;

static side_t          S;
static sl_ssl_t        server_ssl;
static sl_conf_t       cf;
static sl_conf_file_t  cf_file;

static void
conf_init(void)
{
    sl_memzero(&cf, sizeof(cf));
    sl_memzero(&cf_file, sizeof(cf_file));
    sl_str_set(&cf_file.name, "/etc/sluice/t.conf");
    cf_file.start_line = 7;
    cf_file.line = 7;
    cf.conf_file = &cf_file;
    cf.pool = sl_te.pool;
    cf.temp_pool = sl_te.pool;
    cf.log = &sl_te.log;
}

static sl_str_t
str(const char *s)
{
    sl_str_t  r;

    r.len = strlen(s);
    r.data = (u_char *) s;
    return r;
}

static sl_array_t *
strs(const char *a, const char *b)
{
    sl_array_t  *arr;
    sl_str_t    *s;

    arr = sl_array_create(sl_te.pool, 2, sizeof(sl_str_t));
    ck_assert_ptr_nonnull(arr);

    if (a != NULL) {
        s = sl_array_push(arr);
        *s = str(a);
    }

    if (b != NULL) {
        s = sl_array_push(arr);
        *s = str(b);
    }

    return arr;
}

/* ssl_conf_command's array: sl_keyval_t */
static sl_array_t *
pairs(const char *name, const char *value)
{
    sl_array_t   *arr;
    sl_keyval_t  *kv;

    arr = sl_array_create(sl_te.pool, 1, sizeof(sl_keyval_t));
    ck_assert_ptr_nonnull(arr);
    kv = sl_array_push(arr);
    kv->key = str(name);
    kv->value = str(value);
    return arr;
}

/* a server context with the RSA pair (and the ECDSA one when both) */
static void
server_ctx(sl_ssl_t *ssl, sl_uint_t protocols, int both)
{
    sl_memzero(ssl, sizeof(sl_ssl_t));
    conf_init();

    ck_assert_int_eq(sl_ssl_create(&cf, ssl, protocols, 0, NULL), SL_OK);
    ck_assert_int_eq(sl_ssl_certificates(&cf, ssl,
                         both ? strs(sl_tt_file("rsa.crt"),
                                     sl_tt_file("ecdsa.crt"))
                              : strs(sl_tt_file("rsa.crt"), NULL),
                         both ? strs(sl_tt_file("rsa.key"),
                                     sl_tt_file("ecdsa.key"))
                              : strs(sl_tt_file("rsa.key"), NULL),
                         NULL),
                     SL_OK);
}

static void
on_read(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    side_t           *s = c->data;
    u_char            buf[65536];
    size_t            size;
    ssize_t           n;

    if (rev->timedout) {
        /* a timer of ours, as a protocol's: taken, and the stream goes on */
        rev->timedout = 0;
        s->read_timeouts++;
        return;
    }

    s->reads++;

    for ( ;; ) {
        size = s->chunk ? s->chunk : sizeof(buf);
        n = c->recv(c, buf, size);

        if (n == 0) {
            s->eof = 1;
            (void) sl_handle_read_event(rev, SL_CLOSE_EVENT);
            return;
        }

        if (n == SL_ERROR) {
            s->error = 1;
            (void) sl_handle_read_event(rev, SL_CLOSE_EVENT);
            return;
        }

        if (n == SL_AGAIN) {
            break;
        }

        ck_assert_int_eq(EVP_DigestUpdate(s->md, buf, (size_t) n), 1);

        if ((size_t) n >= sizeof(s->tail)) {
            sl_memcpy(s->tail, buf + n - sizeof(s->tail), sizeof(s->tail));
        } else {
            sl_memmove(s->tail, s->tail + n, sizeof(s->tail) - (size_t) n);
            sl_memcpy(s->tail + sizeof(s->tail) - n, buf, (size_t) n);
        }

        s->got += (size_t) n;

        if (s->once) {
            /* no repost of our own: sl_ssl_recv() must see to it */
            return;
        }
    }

    ck_assert_int_eq(sl_handle_read_event(rev, 0), SL_OK);
}

static size_t
write_size(side_t *s)
{
    size_t  left = s->out_len - s->sent, r;

    if (s->again_size != 0) {
        /* the same bytes again after SL_AGAIN, as a protocol does */
        return s->again_size;
    }

    if (s->random_writes) {
        /* sl_min() evaluates its arguments twice */
        r = (size_t) (random() % 40000) + 1;
        return sl_min(left, r);
    }

    return s->wchunk ? sl_min(left, s->wchunk) : left;
}

static void
on_write(sl_event_t *wev)
{
    sl_connection_t  *c = wev->data;
    side_t           *s = c->data;
    size_t            size;
    ssize_t           n;

    if (wev->timedout) {
        wev->timedout = 0;
        s->write_timeouts++;
        return;
    }

    s->writes++;

    while (s->sent < s->out_len) {
        size = write_size(s);
        n = c->send(c, (u_char *) s->out + s->sent, size);

        if (n == SL_AGAIN) {
            s->again_size = size;
            s->write_agains++;
            break;
        }

        if (n == SL_ERROR) {
            s->error = 1;
            return;
        }

        s->again_size = 0;
        s->sent += (size_t) n;
    }

    ck_assert_int_eq(sl_handle_write_event(wev, 0), SL_OK);
}

static void
on_handshake(sl_connection_t *c)
{
    side_t  *s = c->data;

    s->hs_done = 1;

    if (!c->ssl->handshaked) {
        return;
    }

    c->read->handler = on_read;
    c->write->handler = on_write;
}

static void
on_shutdown(sl_connection_t *c)
{
    side_t  *s = c->data;

    s->shut_done = 1;
}

/* sluice's side over fd: a TLS server connection of ssl */
static sl_connection_t *
open_side(int fd, sl_ssl_t *ssl, sl_uint_t flags)
{
    sl_connection_t  *c;

    EVP_MD_CTX_free(S.md);
    sl_memzero(&S, sizeof(S));
    S.md = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(S.md);
    ck_assert_int_eq(EVP_DigestInit_ex(S.md, EVP_sha256(), NULL), 1);

    c = sl_te_conn(fd, NULL, NULL, &S);
    c->write->ready = 1;
    S.c = c;

    ck_assert_int_eq(sl_ssl_create_connection(ssl, c, sl_te.pool, flags),
                     SL_OK);
    c->ssl->handler = on_handshake;
    sl_te_watch(c);

    return c;
}

/* --- the peer ------------------------------------------------------------ */

typedef struct {
    sl_tt_peer_t   p;
    EVP_MD_CTX    *md;
    size_t         got;
    /* writing: SSL_write after WANT_* is repeated with the same length */
    size_t         sent;
    size_t         pending;
    unsigned       eof:1;
    unsigned       error:1;
    unsigned       random_writes:1;
} peer_t;

static peer_t  P;

static void
peer_open(int fd, int server, const sl_tt_opts_t *o)
{
    EVP_MD_CTX_free(P.md);
    sl_memzero(&P, sizeof(P));
    P.md = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(P.md);
    ck_assert_int_eq(EVP_DigestInit_ex(P.md, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(sl_tt_peer_init(&P.p, fd, server, o), 0);
}

static void
peer_close(void)
{
    sl_tt_peer_free(&P.p);
    EVP_MD_CTX_free(P.md);
    P.md = NULL;
}

/* non-blocking: reads what there is; 0 would block, -1 failed/eof */
static int
peer_read(void)
{
    u_char  buf[65536];
    size_t  n;
    int     rc, err;

    for ( ;; ) {
        ERR_clear_error();
        rc = SSL_read_ex(P.p.ssl, buf, sizeof(buf), &n);

        if (rc == 1) {
            ck_assert_int_eq(EVP_DigestUpdate(P.md, buf, n), 1);
            P.got += n;
            continue;
        }

        err = SSL_get_error(P.p.ssl, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            return 0;
        }

        if (err == SSL_ERROR_ZERO_RETURN) {
            P.eof = 1;
        } else {
            P.error = 1;
            P.p.err = ERR_peek_error();
        }

        return -1;
    }
}

/* non-blocking: writes what fits of data[sent..len) */
static int
peer_write(const u_char *data, size_t len)
{
    size_t  size, n;
    int     rc, err;

    while (P.sent < len) {
        if (P.pending) {
            size = P.pending;
        } else if (P.random_writes) {
            size = (size_t) (random() % 40000) + 1;
            size = sl_min(len - P.sent, size);
        } else {
            size = len - P.sent;
        }

        ERR_clear_error();
        rc = SSL_write_ex(P.p.ssl, data + P.sent, size, &n);

        if (rc == 1) {
            P.sent += n;
            P.pending = 0;
            continue;
        }

        err = SSL_get_error(P.p.ssl, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            P.pending = size;
            return 0;
        }

        P.error = 1;
        return -1;
    }

    return 1;
}

/* both handshakes, the peer's stepped between the loop's iterations */
static int
handshake(sl_connection_t *c)
{
    sl_msec_t  deadline;
    int        peer_done = 0, want, rc;

    rc = (int) sl_ssl_handshake(c);
    if (rc == SL_OK) {
        on_handshake(c);
    } else if (rc == SL_ERROR) {
        S.hs_done = 1;
    }

    deadline = sl_te_now() + (sl_msec_t) sl_t_timeout(5000);

    while (!peer_done || !S.hs_done) {
        ck_assert_msg(sl_te_now() < deadline, "%s: handshake timed out",
                      sl_te.be->name);

        if (!peer_done) {
            rc = sl_tt_peer_step(&P.p, &want);
            if (rc < 0) {
                break;
            }
            peer_done = rc;
        }

        if (!S.hs_done) {
            sl_te_run_once(5);
        }
    }

    return peer_done && S.c->ssl != NULL && S.c->ssl->handshaked;
}

/* until cond, stepping the peer's reads (and writes of wdata) */
#define pump_until(cond, wdata, wlen)                                         \
    do {                                                                      \
        sl_msec_t  deadline_;                                                 \
        deadline_ = sl_te_now() + (sl_msec_t) sl_t_timeout(20000);            \
        while (!(cond)) {                                                     \
            ck_assert_msg(sl_te_now() < deadline_, "%s: timed out waiting "   \
                          "for %s", sl_te.be->name, #cond);                   \
            if ((wdata) != NULL) {                                            \
                (void) peer_write(wdata, wlen);                               \
            }                                                                 \
            if (!P.eof && !P.error) {                                         \
                (void) peer_read();                                           \
            }                                                                 \
            sl_te_run_once(2);                                                \
        }                                                                     \
    } while (0)

static void
fill_random(u_char *p, size_t len, unsigned seed)
{
    size_t  i;

    srandom(seed);
    for (i = 0; i < len; i++) {
        p[i] = (u_char) (random() >> 7);
    }
}

static void
sha256(const u_char *p, size_t len, u_char out[32])
{
    unsigned int  n;

    ck_assert_int_eq(EVP_Digest(p, len, out, &n, EVP_sha256(), NULL), 1);
}

static void
digest_of(EVP_MD_CTX *md, u_char out[32])
{
    unsigned int  n;

    ck_assert_int_eq(EVP_DigestFinal_ex(md, out, &n), 1);
}

static void
close_side(sl_connection_t *c)
{
    if (c->ssl != NULL) {
        c->ssl->no_send_shutdown = 1;
        c->ssl->no_wait_shutdown = 1;
        (void) sl_ssl_shutdown(c);
    }

    sl_close_connection(c);
}

/* the SHA-256 of what md took is that of p */
static void
digest_check(EVP_MD_CTX *md, const u_char *p, size_t len)
{
    u_char  h1[32], h2[32];

    digest_of(md, h1);
    sha256(p, len, h2);
    ck_assert_mem_eq(h1, h2, 32);
}

/* the peer, its socket and our side of a pair, at the end of a test */
static void
close_pair(sl_connection_t *c, int peer_fd)
{
    peer_close();
    close(peer_fd);
    close_side(c);
}

static void
teardown(void)
{
    if (P.p.ctx != NULL) {
        peer_close();
    }

    EVP_MD_CTX_free(P.md);
    P.md = NULL;
    EVP_MD_CTX_free(S.md);
    S.md = NULL;

    sl_te_teardown();
}

#define PAIR_UNIX  0
#define PAIR_TCP   1

static void
make_pair(int kind, int fds[2])
{
    if (kind == PAIR_TCP) {
        sl_te_tcp_pair(fds);
    } else {
        sl_te_socketpair(fds);
    }
}

/* --- handshake and data -------------------------------------------------- */

START_TEST(test_handshake_and_data)
{
    static const char   hello[] = "hello over TLS";
    sl_connection_t    *c;
    sl_tt_opts_t        o;
    char                buf[64];
    int                 kind, fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        c = open_side(fds[0], &server_ssl, 0);

        sl_memzero(&o, sizeof(o));
        o.ca = sl_tt_file("ca.crt");
        o.server_name = "localhost";
        peer_open(fds[1], 0, &o);

        ck_assert_msg(handshake(c), "%s: handshake failed: %s",
                      sl_te.be->name, sl_te_log());
        ck_assert_ptr_eq((void *) c->recv, (void *) sl_ssl_recv);
        ck_assert_ptr_eq((void *) c->send, (void *) sl_ssl_write);
        ck_assert_ptr_eq((void *) c->recv_chain, (void *) sl_ssl_recv_chain);
        ck_assert_ptr_eq((void *) c->send_chain, (void *) sl_ssl_send_chain);

        ck_assert(sl_tt_write(&P.p, hello, sizeof(hello), 5000));
        sl_te_run_until(S.got == sizeof(hello), 5000);
        ck_assert_mem_eq(S.tail + sizeof(S.tail) - sizeof(hello), hello,
                         sizeof(hello));

        S.out = (const u_char *) "and back";
        S.out_len = 8;
        c->write->handler(c->write);
        ck_assert_int_eq(S.sent, 8);
        ck_assert(sl_tt_read_full(&P.p, buf, 8, 5000));
        ck_assert_mem_eq(buf, "and back", 8);

        close_pair(c, fds[1]);
    }

    sl_te_close();
}
END_TEST

/*
 * Leaves the socket's send buffer full with nothing pending inside
 * OpenSSL. A unix socket takes a write whole while the memory it holds
 * (SIOCOUTQ) is under its send buffer size, and refuses the next one once
 * it is not: small records are written while there is room, and then the
 * socket is full without any write having stalled.
 */
static void
fill_exactly(sl_connection_t *c, u_char *data, size_t len)
{
    socklen_t  l;
    int        outq, sndbuf;

    l = sizeof(sndbuf);
    ck_assert_int_eq(getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &l),
                     0);

    S.out = data;
    S.out_len = 0;

    for ( ;; ) {
        ck_assert_int_eq(ioctl(c->fd, SIOCOUTQ, &outq), 0);
        if (outq >= sndbuf) {
            break;
        }

        ck_assert_uint_lt(S.out_len + 100, len);
        S.out_len += 100;
        c->write->handler(c->write);
        ck_assert_uint_eq(S.sent, S.out_len);
    }

    ck_assert_uint_eq(S.write_agains, 0);
    ck_assert_uint_eq(c->ssl->pending_write, 0);
}

static int
small_sndbuf(int fd)
{
    int  size = 4096;

    return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/*
 * A TLS 1.3 KeyUpdate that asks for one back, while our socket's send
 * buffer is full. OpenSSL 3.0 does not answer inside SSL_read: it
 * schedules the answer (SSL_get_key_update_type() says so) and sends it
 * before the data of the next SSL_write. So SSL_read delivers the data
 * behind the KeyUpdate, no handler is swapped, and the answer goes out
 * when the protocol writes again, through a write that stalls first.
 */
START_TEST(test_keyupdate_while_full)
{
    static u_char      out[1 << 20], in[4096];
    sl_connection_t   *c;
    int                fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_TLSv1_3, 0);
    fill_random(out, sizeof(out), 1);
    fill_random(in, sizeof(in), 2);

    sl_te_socketpair(fds);
    ck_assert_int_eq(small_sndbuf(fds[0]), 0);
    c = open_side(fds[0], &server_ssl, 0);

    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));
    ck_assert_str_eq(SSL_get_version(c->ssl->connection), "TLSv1.3");

    /* the session tickets out of the way */
    ck_assert_int_eq(peer_read(), 0);

    fill_exactly(c, out, sizeof(out));

    ck_assert_int_eq(SSL_key_update(P.p.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    ck_assert_int_eq(peer_write(in, sizeof(in)), 1);

    sl_te_run_until(S.got == sizeof(in), 5000);

    ck_assert_ptr_null((void *) c->ssl->saved_write_handler);
    ck_assert_ptr_eq((void *) c->write->handler, (void *) on_write);
    ck_assert_int_eq(SSL_get_key_update_type(c->ssl->connection),
                     SSL_KEY_UPDATE_NOT_REQUESTED);

    /* the next write carries the answer, then everything flows */
    S.out_len = sizeof(out);
    c->write->handler(c->write);
    pump_until(P.got == sizeof(out), NULL, 0);

    ck_assert_int_eq(SSL_get_key_update_type(c->ssl->connection),
                     SSL_KEY_UPDATE_NONE);

    digest_check(P.md, out, sizeof(out));
    digest_check(S.md, in, sizeof(in));
    ck_assert(!S.error && !P.error);

    close_pair(c, fds[1]);
    sl_te_close();
}
END_TEST

/*
 * A timer of the protocol's on ev, whose handler is swapped: when it
 * fires, the protocol's handler of ev sees the timeout (issue 13), once,
 * and the swap stays, with no timedout left on either event.
 */
static void
swapped_timeout(sl_connection_t *c, sl_event_t *ev, sl_uint_t *timeouts)
{
    sl_event_handler_pt  swapped = ev->handler;

    sl_add_timer(ev, 50);
    sl_te_run_until(*timeouts > 0 || !ev->timer_set, 5000);

    ck_assert_msg(*timeouts == 1, "%s: the timeout did not reach the "
                  "handler of its event", sl_te.be->name);
    ck_assert_ptr_eq((void *) ev->handler, (void *) swapped);
    ck_assert(!c->read->timedout && !c->write->timedout);
}

/*
 * SSL_read returns SSL_ERROR_WANT_WRITE: with ssl_renegotiation on, the
 * client's renegotiation ClientHello arrives while our socket's send
 * buffer is full; SSL_read must answer with the server's flight, which
 * does not fit. The protocol's write handler is saved and ours installed;
 * when the socket drains it runs the read again, the flight goes, and the
 * protocol's handler is back, its event posted: it writes the rest. With
 * timer, the protocol's timer on the write event fires in between.
 */
static void
read_wants_write(int _i, sl_uint_t timer)
{
    static u_char      out[1 << 20], in[4096];
    sl_connection_t   *c;
    u_char             buf[100];
    size_t             n;
    int                fds[2], one = 1;

    sl_te_open(_i, 16);
    sl_memzero(&server_ssl, sizeof(sl_ssl_t));
    conf_init();
    ck_assert_int_eq(sl_ssl_create(&cf, &server_ssl, SL_SSL_TLSv1_2, 0, NULL),
                     SL_OK);
    /* a big certificate: a flight larger than the socket takes at once */
    ck_assert_int_eq(sl_ssl_certificates(&cf, &server_ssl,
                                         strs(sl_tt_file("big.crt"), NULL),
                                         strs(sl_tt_file("big.key"), NULL),
                                         NULL), SL_OK);
    server_ssl.renegotiation = 1;
    fill_random(out, sizeof(out), 3);
    fill_random(in, sizeof(in), 4);

    sl_te_socketpair(fds);
    /* the smallest buffer there is: 4608 bytes, 2240 at most a write */
    ck_assert_int_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &one,
                                sizeof(one)), 0);
    c = open_side(fds[0], &server_ssl, 0);

    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));
    ck_assert_str_eq(SSL_get_version(c->ssl->connection), "TLSv1.2");
    ck_assert_int_eq(peer_read(), 0);

    fill_exactly(c, out, sizeof(out));

    /* the ClientHello goes; the peer then reads as data comes */
    /*
     * The ClientHello goes from the peer's SSL_read, which also takes
     * one record of ours (SSL_do_handshake would fail on it): the room
     * that frees is less than our flight.
     */
    ck_assert_int_eq(SSL_renegotiate(P.p.ssl), 1);
    ck_assert_int_eq(SSL_read_ex(P.p.ssl, buf, 100, &n), 1);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(EVP_DigestUpdate(P.md, buf, n), 1);
    P.got += n;

    sl_te_run_until(S.reads > 0, 5000);

    ck_assert_msg(c->ssl->saved_write_handler == on_write,
                  "%s: the write handler was not saved (state %s); log: %s",
                  sl_te.be->name, SSL_state_string_long(c->ssl->connection),
                  sl_te_log());
    ck_assert_ptr_ne((void *) c->write->handler, (void *) on_write);
    ck_assert_ptr_eq((void *) c->read->handler, (void *) on_read);
    ck_assert(!c->read->ready && !c->write->ready);

    if (timer) {
        swapped_timeout(c, c->write, &S.write_timeouts);
        ck_assert(c->ssl->saved_write_handler == on_write);
    }

    /* the peer drains; the flight goes; the handshake completes */
    S.out_len = sizeof(out);
    pump_until(c->ssl->saved_write_handler == NULL, NULL, 0);
    ck_assert_ptr_eq((void *) c->write->handler, (void *) on_write);

    pump_until(P.got == sizeof(out) && S.got == sizeof(in), in, sizeof(in));
    ck_assert_int_eq(P.p.handshakes, 2);
    ck_assert(SSL_is_init_finished(c->ssl->connection));

    digest_check(P.md, out, sizeof(out));
    digest_check(S.md, in, sizeof(in));
    ck_assert(!S.error && !P.error);

    /* no timeout seen late, by the handlers of a live stream */
    ck_assert_uint_eq(S.write_timeouts, timer);
    ck_assert_uint_eq(S.read_timeouts, 0);

    close_pair(c, fds[1]);
    sl_te_close();
}

START_TEST(test_read_wants_write)
{
    read_wants_write(_i, 0);
}
END_TEST

START_TEST(test_read_wants_write_timer)
{
    read_wants_write(_i, 1);
}
END_TEST

/*
 * SSL_write returns SSL_ERROR_WANT_READ: a large write is under way when
 * the client starts a TLS 1.2 renegotiation; our SSL_read answered its
 * ClientHello, and the next SSL_write must first read the client's
 * flight. The protocol's read handler is saved, ours retries the write
 * when the flight comes; then the read handler is back and posted. Every
 * byte arrives once, in order. With timer, the protocol's timer on the
 * read event fires in between.
 */
static void
write_wants_read(int _i, sl_uint_t timer)
{
    static u_char      out[8 << 20], in[100000];
    sl_connection_t   *c;
    int                kind, fds[2], room = 256 * 1024;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_TLSv1_2, 0);
    server_ssl.renegotiation = 1;
    fill_random(out, sizeof(out), 5);
    fill_random(in, sizeof(in), 6);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        /*
         * Room for the first 64 KiB below, fixed: TCP's autotuning may
         * start smaller and grow late when the machine is short of memory.
         */
        ck_assert_int_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &room,
                                    sizeof(room)), 0);
        ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &room,
                                    sizeof(room)), 0);
        c = open_side(fds[0], &server_ssl, 0);

        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));
        ck_assert_int_eq(peer_read(), 0);

        /* the first 64 KiB of the write fit in the socket */
        S.out = out;
        S.out_len = 65536;
        S.wchunk = 16384;
        c->write->handler(c->write);
        ck_assert_uint_eq(S.sent, 65536);
        ck_assert_uint_eq(S.write_agains, 0);

        /* the ClientHello, answered by our read */
        ck_assert_int_eq(SSL_renegotiate(P.p.ssl), 1);
        ck_assert_int_eq(peer_read(), 0);
        ck_assert_uint_eq(P.got, 65536);
        sl_te_run_until(S.reads > 0 && !SSL_is_init_finished(c->ssl->connection)
                        && !c->read->ready, 5000);
        ck_assert_uint_eq(S.got, 0);

        /* the write goes on: it must read the client's flight first */
        S.out_len = sizeof(out);
        c->write->handler(c->write);

        ck_assert_msg(c->ssl->saved_read_handler == on_read,
                      "%s/%d: the read handler was not saved; log: %s",
                      sl_te.be->name, kind, sl_te_log());
        ck_assert_ptr_ne((void *) c->read->handler, (void *) on_read);
        ck_assert_ptr_eq((void *) c->write->handler, (void *) on_write);
        ck_assert_uint_eq(S.sent, 65536);

        if (timer) {
            swapped_timeout(c, c->read, &S.read_timeouts);
            ck_assert(c->ssl->saved_read_handler == on_read);
        }

        pump_until(c->ssl->saved_read_handler == NULL, NULL, 0);
        ck_assert_ptr_eq((void *) c->read->handler, (void *) on_read);

        pump_until(P.got == sizeof(out) && S.got == sizeof(in), in,
                   sizeof(in));
        ck_assert_int_eq(P.p.handshakes, 2);

        digest_check(P.md, out, sizeof(out));
        digest_check(S.md, in, sizeof(in));
        ck_assert(!S.error && !P.error);

        /* no timeout seen late, by the handlers of a live stream */
        ck_assert_uint_eq(S.read_timeouts, timer);
        ck_assert_uint_eq(S.write_timeouts, 0);

        close_pair(c, fds[1]);
    }

    sl_te_close();
}

START_TEST(test_write_wants_read)
{
    write_wants_read(_i, 0);
}
END_TEST

START_TEST(test_write_wants_read_timer)
{
    write_wants_read(_i, 1);
}
END_TEST

/* the log line holding text is at level ("info", "notice", ...) */
static int
logged_at(const char *level, const char *text)
{
    const char  *log, *p, *bol, *eol;
    char         tag[32];

    log = sl_te_log();
    p = strstr(log, text);
    if (p == NULL) {
        return 0;
    }

    for (bol = p; bol > log && bol[-1] != '\n'; bol--) { /* void */ }
    eol = strchr(p, '\n');
    if (eol == NULL) {
        eol = p + strlen(p);
    }

    snprintf(tag, sizeof(tag), "[%s]", level);
    p = strstr(bol, tag);
    return p != NULL && p < eol;
}

/* --- renegotiation control ----------------------------------------------- */

/* a renegotiation from the peer, driven by its reads: 1 done, 0 failed */
static int
peer_renegotiate(sl_connection_t *c)
{
    ck_assert_int_eq(SSL_renegotiate(P.p.ssl), 1);

    pump_until(S.error || P.error || !SSL_renegotiate_pending(P.p.ssl),
               NULL, 0);

    return !S.error && !P.error && c->ssl != NULL;
}

START_TEST(test_renegotiation_refused)
{
    sl_connection_t  *c;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_TLSv1_2, 0);

    sl_te_socketpair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));

    ck_assert(!peer_renegotiate(c));
    pump_until(S.error && P.error, NULL, 0);

    ck_assert_msg(logged_at("notice", "SSL renegotiation disabled"),
                  "%s: %s", sl_te.be->name, sl_te_log());
    ck_assert_int_eq(P.p.handshakes, 2);        /* it tried */
    ck_assert_int_eq(ERR_GET_REASON(P.p.err), SSL_R_NO_RENEGOTIATION);
    ck_assert(c->ssl->no_send_shutdown && c->ssl->no_wait_shutdown);

    /* the error sticks */
    ck_assert_int_eq(c->recv(c, (u_char *) "x", 1), SL_ERROR);

    close_pair(c, fds[1]);
    sl_te_close();
}
END_TEST

START_TEST(test_renegotiation_allowed_and_flood)
{
    static const char  msg[] = "after a renegotiation";
    sl_connection_t   *c;
    int                fds[2], i;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_TLSv1_2, 0);
    server_ssl.renegotiation = 1;

    sl_te_socketpair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));

    /* a few are fine, and data flows after each */
    for (i = 0; i < SL_SSL_RENEGOTIATIONS; i++) {
        ck_assert_msg(peer_renegotiate(c), "%s: renegotiation %d failed: %s",
                      sl_te.be->name, i, sl_te_log());

        P.sent = 0;
        S.got = 0;
        pump_until(S.got == sizeof(msg), (const u_char *) msg, sizeof(msg));
        ck_assert_mem_eq(S.tail + sizeof(S.tail) - sizeof(msg), msg,
                         sizeof(msg));
    }

    ck_assert_int_eq(P.p.handshakes, 1 + SL_SSL_RENEGOTIATIONS);
    ck_assert(!sl_te_logged("renegotiation"));

    /* one more within the window is a flood: the connection ends */
    ck_assert(!peer_renegotiate(c));
    ck_assert(S.error);
    ck_assert_msg(logged_at("notice", "SSL renegotiation flood"), "%s: %s",
                  sl_te.be->name, sl_te_log());

    close_pair(c, fds[1]);
    sl_te_close();
}
END_TEST

/* --- the end of a stream ------------------------------------------------- */

START_TEST(test_close_notify_and_truncation)
{
    static const char  msg[] = "the last words";
    sl_connection_t   *c;
    int                kind, fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        /* close_notify: an orderly eof, nothing logged */
        make_pair(kind, fds);
        c = open_side(fds[0], &server_ssl, 0);
        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));

        ck_assert(sl_tt_write(&P.p, msg, sizeof(msg), 5000));
        ck_assert(sl_tt_shutdown(&P.p, 0, 5000));
        sl_te_run_until(S.eof || S.error, 5000);

        ck_assert(S.eof && !S.error);
        ck_assert_uint_eq(S.got, sizeof(msg));
        ck_assert(!c->ssl->truncated);
        ck_assert(c->read->eof);
        ck_assert_int_eq(c->recv(c, (u_char *) "x", 1), 0);
        ck_assert(kind != PAIR_UNIX || !sl_te_logged("close_notify"));

        close_pair(c, fds[1]);

        /* the socket closed without it: a truncation, logged at info */
        make_pair(kind, fds);
        c = open_side(fds[0], &server_ssl, 0);
        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));

        ck_assert(sl_tt_write(&P.p, msg, sizeof(msg), 5000));
        /*
         * The session tickets read first: a unix socket closed with
         * unread data resets its peer, and that is another test.
         */
        ck_assert_int_eq(peer_read(), 0);
        peer_close();
        close(fds[1]);
        sl_te_run_until(S.eof || S.error, 5000);

        ck_assert(S.eof && !S.error);
        ck_assert_uint_eq(S.got, sizeof(msg));
        ck_assert(c->ssl->truncated);
        ck_assert_msg(logged_at("info", "without sending close_notify"),
                      "%s: %s", sl_te.be->name, sl_te_log());
        ck_assert(!sl_te_logged("[crit]"));

        close_side(c);
    }

    sl_te_close();
}
END_TEST

/* --- handshakes that do not end well ------------------------------------- */

static void
start_handshake(sl_connection_t *c, sl_msec_t timeout)
{
    ck_assert_int_eq(sl_ssl_handshake(c), SL_AGAIN);
    ck_assert_ptr_ne((void *) c->read->handler, (void *) on_read);
    sl_add_timer(c->read, timeout);
}

START_TEST(test_handshake_timeout)
{
    sl_connection_t  *c;
    int               fds[2], want;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);

    /* a client that says nothing */
    sl_te_socketpair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    start_handshake(c, 200);
    sl_te_run_until(S.hs_done, 5000);

    ck_assert(c->read->timedout);
    ck_assert(!c->ssl->handshaked);
    ck_assert_ptr_eq((void *) c->recv, (void *) sl_os_io.recv);
    close(fds[1]);
    close_side(c);

    /* a client that stalls after its ClientHello */
    sl_te_socketpair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    start_handshake(c, 300);
    ck_assert_int_eq(sl_tt_peer_step(&P.p, &want), 0);
    sl_te_run_until(S.hs_done, 5000);

    ck_assert(c->read->timedout);
    ck_assert(!c->ssl->handshaked);
    ck_assert(SSL_in_init(c->ssl->connection));
    ck_assert_uint_gt(SSL_get_state(c->ssl->connection), TLS_ST_BEFORE);

    /* a shutdown in the middle of the handshake just frees it */
    ck_assert_int_eq(sl_ssl_shutdown(c), SL_OK);
    ck_assert_ptr_null(c->ssl);

    peer_close();
    close(fds[1]);
    sl_close_connection(c);
    sl_te_close();
}
END_TEST

START_TEST(test_handshake_garbage)
{
    static const struct {
        const char  *bytes;
        size_t       len;
        const char  *reason;
    } cases[] = {
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, "http request" },
        { "\x16\x03\x01\x00\x05garbage-garbage", 20, NULL },
        { "\x80\x01\x02\x03\xff\xfe\xfd\xfc\x00\x00\x00", 11, NULL },
        { "", 0, "peer closed connection in SSL handshake" }
    };
    sl_connection_t  *c;
    sl_uint_t         i;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);

    for (i = 0; i < sl_nelems(cases); i++) {
        sl_te_tcp_pair(fds);
        c = open_side(fds[0], &server_ssl, 0);
        start_handshake(c, 5000);

        sl_te_peer_write(fds[1], cases[i].bytes, cases[i].len);
        shutdown(fds[1], SHUT_WR);
        sl_te_run_until(S.hs_done, 5000);

        ck_assert(!c->read->timedout);
        ck_assert(!c->ssl->handshaked);
        ck_assert_msg(!sl_te_logged("[crit]") && !sl_te_logged("[alert]")
                      && !sl_te_logged("[error]"),
                      "%s: case %lu: %s", sl_te.be->name, (unsigned long) i,
                      sl_te_log());
        ck_assert_msg(cases[i].reason == NULL
                      || logged_at("info", cases[i].reason),
                      "%s: case %lu: %s", sl_te.be->name, (unsigned long) i,
                      sl_te_log());

        close(fds[1]);
        close_side(c);
    }

    ck_assert(logged_at("info", "SSL_do_handshake() failed (SSL: error:"));
    sl_te_close();
}
END_TEST

/* --- much data ----------------------------------------------------------- */

/* a quick generator: 64 MiB are made in milliseconds */
static void
fill_fast(u_char *p, size_t len, uint64_t x)
{
    size_t  i;

    for (i = 0; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sl_memcpy(p + i, &x, 8);
    }

    for ( ; i < len; i++) {
        p[i] = (u_char) i;
    }
}

/* the 64 MiB; under valgrind (SL_VALGRIND=1) a sixteenth */
static size_t
big_size(void)
{
    const char  *vg = getenv("SL_VALGRIND");

    return vg != NULL && strcmp(vg, "1") == 0 ? 4 << 20 : 64 << 20;
}

#define BIG  big

START_TEST(test_large_transfer)
{
    sl_connection_t   *c;
    u_char            *out, *in;
    size_t             big = big_size();
    int                fds[2];

    out = malloc(BIG);
    in = malloc(BIG);
    ck_assert(out != NULL && in != NULL);
    fill_fast(out, BIG, 0x9e3779b97f4a7c15ULL);
    fill_fast(in, BIG, 0x123456789abcdefULL);

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);

    sl_te_tcp_pair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));

    /* both ways at once, writes of random sizes on both sides */
    srandom(7);
    S.out = out;
    S.out_len = BIG;
    S.random_writes = 1;
    P.random_writes = 1;
    c->write->handler(c->write);

    pump_until(S.got == BIG && P.got == BIG, in, BIG);

    ck_assert(!S.error && !P.error);
    ck_assert_uint_eq(S.sent, BIG);
    ck_assert_uint_eq((size_t) c->sent, BIG);

    digest_check(P.md, out, BIG);
    digest_check(S.md, in, BIG);

    close_pair(c, fds[1]);
    sl_te_close();
    free(out);
    free(in);
}
END_TEST

/*
 * 16000 bytes read 1000 at a time by a handler that reads once per call
 * and never posts itself. Whether they come as one record or as sixteen,
 * they are all inside OpenSSL after the first call (read-ahead) and the
 * socket is empty: only the posted read event brings the handler back.
 * With sixteen records the caller's buffer fills at a record's end, where
 * SSL_pending() is 0 and SSL_has_pending() is not.
 */
static void
read_in_chunks(int backend, size_t record)
{
    static u_char      msg[16000];
    sl_connection_t   *c;
    u_char             byte;
    size_t             off;
    int                fds[2];

    sl_te_open(backend, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    fill_random(msg, sizeof(msg), 9);

    sl_te_socketpair(fds);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));

    S.chunk = 1000;
    S.once = 1;
    S.reads = 0;

    for (off = 0; off < sizeof(msg); off += record) {
        ck_assert(sl_tt_write(&P.p, msg + off, record, 5000));
    }
    sl_te_run_until(S.reads == 1, 5000);

    ck_assert_uint_eq(S.got, 1000);
    ck_assert(c->ssl->read_pending);
    ck_assert(c->read->posted);
    ck_assert(c->read->ready);
    ck_assert_int_eq(recv(fds[0], &byte, 1, MSG_PEEK | MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);

    if (record == 1000) {
        ck_assert_int_eq(SSL_pending(c->ssl->connection), 0);
    }

    sl_te_run_until(S.got == sizeof(msg), 5000);
    ck_assert_uint_eq(S.reads, 16);
    ck_assert(!c->ssl->read_pending);

    digest_check(S.md, msg, sizeof(msg));

    close_pair(c, fds[1]);
    sl_te_close();
}

START_TEST(test_record_larger_than_buffer)
{
    read_in_chunks(_i, 16000);
}
END_TEST

START_TEST(test_records_read_ahead)
{
    read_in_chunks(_i, 1000);
}
END_TEST

/* --- send_chain ---------------------------------------------------------- */

/* the records the peer receives: count and largest */
static sl_uint_t  rec_n;
static size_t     rec_max;

static void
peer_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
    const u_char  *h = buf;

    (void) version;
    (void) ssl;
    (void) arg;

    if (write_p || content_type != SSL3_RT_HEADER || len < 5
        || h[0] != SSL3_RT_APPLICATION_DATA)
    {
        return;
    }

    rec_n++;
    rec_max = sl_max(rec_max, (size_t) ((h[3] << 8) | h[4]));
}

#define NBUFS  1000

static sl_chain_t *
small_bufs(u_char *data)
{
    sl_chain_t  *head = NULL, **last = &head, *cl;
    sl_buf_t    *b;
    int          i;

    for (i = 0; i < NBUFS; i++) {
        b = sl_calloc_buf(sl_te.pool);
        cl = sl_alloc_chain_link(sl_te.pool);
        ck_assert(b != NULL && cl != NULL);

        b->pos = data + i * 100;
        b->last = b->pos + 100;
        b->start = b->pos;
        b->end = b->last;
        b->memory = 1;

        cl->buf = b;
        cl->next = NULL;
        *last = cl;
        last = &cl->next;
    }

    return head;
}

START_TEST(test_send_chain_coalesces)
{
    static u_char      data[NBUFS * 100];
    sl_connection_t   *c;
    sl_chain_t        *in;
    int                fds[2], buffered;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_TLSv1_2, 0);
    fill_random(data, sizeof(data), 11);

    for (buffered = 0; buffered <= 1; buffered++) {
        sl_te_socketpair(fds);
        c = open_side(fds[0], &server_ssl, buffered ? SL_SSL_BUFFER : 0);
        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));
        ck_assert_int_eq(peer_read(), 0);

        rec_n = 0;
        rec_max = 0;
        SSL_set_msg_callback(P.p.ssl, peer_msg_cb);

        in = small_bufs(data);

        while (in != NULL) {
            in = c->send_chain(c, in, 0);
            ck_assert_ptr_ne(in, SL_CHAIN_ERROR);
            if (in != NULL) {
                ck_assert_int_eq(sl_handle_write_event(c->write, 0), SL_OK);
                pump_until(c->write->ready, NULL, 0);
            }
        }

        pump_until(P.got == sizeof(data), NULL, 0);

        if (buffered) {
            /* 100000 bytes in records of 16 KiB: 7 */
            ck_assert_uint_eq(rec_n, (sizeof(data) + SL_SSL_BUFSIZE - 1)
                                     / SL_SSL_BUFSIZE);
            ck_assert_uint_le(rec_max, SL_SSL_BUFSIZE + 256);
        } else {
            ck_assert_uint_eq(rec_n, NBUFS);
        }

        digest_check(P.md, data, sizeof(data));

        close_pair(c, fds[1]);
    }

    sl_te_close();
}
END_TEST

/*
 * send_chain into a socket that fills: after SL_AGAIN the bytes SSL_write
 * holds are the chain's first ones, not consumed, and the next call
 * offers the same bytes again; nothing is lost or doubled.
 */
START_TEST(test_send_chain_again)
{
    static u_char      data[NBUFS * 100];
    sl_connection_t   *c;
    sl_chain_t        *in;
    sl_uint_t          agains = 0;
    int                fds[2], buffered;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    fill_random(data, sizeof(data), 12);

    for (buffered = 0; buffered <= 1; buffered++) {
        sl_te_socketpair(fds);
        ck_assert_int_eq(small_sndbuf(fds[0]), 0);
        c = open_side(fds[0], &server_ssl, buffered ? SL_SSL_BUFFER : 0);
        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));
        ck_assert_int_eq(peer_read(), 0);

        in = small_bufs(data);
        c->sent = 0;

        for ( ;; ) {
            in = c->send_chain(c, in, 0);
            ck_assert_ptr_ne(in, SL_CHAIN_ERROR);

            if (in == NULL) {
                break;
            }

            /* what is left is exactly what SSL_write has not taken */
            ck_assert_int_eq(sl_chain_size(in) + c->sent, sizeof(data));
            ck_assert(!c->write->ready);
            ck_assert(buffered ? c->ssl->buf->pos != c->ssl->buf->last
                               : c->ssl->pending_write != 0);
            agains++;

            ck_assert_int_eq(sl_handle_write_event(c->write, 0), SL_OK);
            pump_until(c->write->ready || P.error, NULL, 0);
        }

        pump_until(P.got == sizeof(data), NULL, 0);
        ck_assert(!P.error);

        digest_check(P.md, data, sizeof(data));

        close_pair(c, fds[1]);
    }

    ck_assert_uint_gt(agains, 2);
    sl_te_close();
}
END_TEST

/* --- shutdown ------------------------------------------------------------ */

START_TEST(test_shutdown_would_block)
{
    static u_char      out[1 << 20];
    sl_connection_t   *c;
    int                fds[2], timed;
    sl_int_t           rc;

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    fill_random(out, sizeof(out), 13);

    for (timed = 0; timed <= 1; timed++) {
        sl_te_socketpair(fds);
        ck_assert_int_eq(small_sndbuf(fds[0]), 0);
        c = open_side(fds[0], &server_ssl, 0);
        peer_open(fds[1], 0, NULL);
        ck_assert(handshake(c));
        ck_assert_int_eq(peer_read(), 0);

        fill_exactly(c, out, sizeof(out));

        c->ssl->handler = on_shutdown;
        c->ssl->no_wait_shutdown = 1;
        rc = sl_ssl_shutdown(c);
        ck_assert_msg(rc == SL_AGAIN, "%s/%d: %d; log: %s", sl_te.be->name,
                      timed, (int) rc, sl_te_log());
        ck_assert(c->read->timer_set);
        ck_assert(!S.shut_done);

        if (timed) {
            /* the peer never reads: the timer gives up on close_notify */
            sl_te_run_until(S.shut_done, 3 * SL_SSL_SHUTDOWN_TIMEOUT);
            ck_assert_ptr_null(c->ssl);
            ck_assert(!P.eof);

        } else {
            /* the peer reads: the loop finishes the shutdown */
            pump_until(S.shut_done && P.eof, NULL, 0);
            ck_assert_ptr_null(c->ssl);
            ck_assert_uint_eq(P.got, S.sent);
            ck_assert(!c->read->timer_set);
        }

        ck_assert_ptr_eq((void *) c->recv, (void *) sl_os_io.recv);
        ck_assert(!sl_te_logged("[crit]"));

        peer_close();
        close(fds[1]);
        sl_close_connection(c);
    }

    sl_te_close();
}
END_TEST

/* --- reclaiming idle connections (issue 13) ------------------------------ */

/* an idle connection: it closes when its slot is wanted */
static void
on_idle_read(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;

    if (c->close) {
        sl_close_connection(c);
    }
}

/* as an idle stream session ends when its slot is wanted */
static void
on_idle_session_read(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;

    if (c->close) {
        sl_stream_close_connection(c);
    }
}

/*
 * worker_connections run out while the oldest idle connections cannot
 * close at once: one whose owner ignores the request, and a TLS session
 * whose close_notify waits for a peer that never reads. The drain goes
 * past them to the plain idle ones behind, and "not enough" is an alert
 * only once nothing is left to reclaim.
 */
START_TEST(test_drain_past_tls_close)
{
    static u_char      out[1 << 20];
    sl_connection_t   *c, *stuck, *fresh[4], *none;
    sl_pool_t         *pool;
    int                fds[2], sfds[2], ifds[3][2], nfds[4][2], xfds[2];
    int                i;

    sl_te_open(_i, 6);
    server_ctx(&server_ssl, SL_SSL_TLSv1_3, 0);
    fill_random(out, sizeof(out), 17);

    /* the oldest: idle, but its owner does not close it when asked */
    sl_te_socketpair(sfds);
    stuck = sl_te_conn(sfds[0], NULL, NULL, NULL);
    sl_reusable_connection(stuck, 1);

    /* then a TLS session whose socket is full: close_notify will wait */
    sl_te_socketpair(fds);
    ck_assert_int_eq(small_sndbuf(fds[0]), 0);
    c = open_side(fds[0], &server_ssl, 0);
    peer_open(fds[1], 0, NULL);
    ck_assert(handshake(c));
    ck_assert_int_eq(peer_read(), 0);
    fill_exactly(c, out, sizeof(out));

    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, &sl_te.log);
    ck_assert_ptr_nonnull(pool);
    c->pool = pool;
    c->read->handler = on_idle_session_read;
    sl_reusable_connection(c, 1);

    /* three plain idle ones behind them */
    for (i = 0; i < 3; i++) {
        sl_te_socketpair(ifds[i]);
        sl_reusable_connection(sl_te_conn(ifds[i][0], on_idle_read, NULL,
                                          NULL), 1);
    }

    /* the last free slot, then three that take the idle ones' */
    for (i = 0; i < 4; i++) {
        sl_te_socketpair(nfds[i]);
        fresh[i] = sl_get_connection(sl_te.loop, nfds[i][0], &sl_te.log);
        ck_assert_msg(fresh[i] != NULL, "%s: connection %d refused: %s",
                      sl_te.be->name, i, sl_te_log());
    }

    ck_assert_msg(!sl_te_logged("[alert]"), "%s: %s", sl_te.be->name,
                  sl_te_log());
    ck_assert(logged_at("warn", "6 worker_connections are not enough, "
                        "reusing connections"));

    /* the two that could not close are open, set aside */
    ck_assert_int_eq(stuck->fd, sfds[0]);
    ck_assert(!stuck->reusable);
    ck_assert_int_eq(c->fd, fds[0]);
    ck_assert_ptr_nonnull(c->ssl);
    ck_assert(!c->reusable);
    ck_assert_uint_eq(sl_te.loop->reusable_connection_n, 0);

    /* nothing is left to reclaim: now it is an alert */
    sl_te_socketpair(xfds);
    none = sl_get_connection(sl_te.loop, xfds[0], &sl_te.log);
    ck_assert_ptr_null(none);
    ck_assert(logged_at("alert", "6 worker_connections are not enough\n"));
    close(xfds[0]);
    close(xfds[1]);

    for (i = 0; i < 4; i++) {
        sl_close_connection(fresh[i]);
        close(nfds[i][1]);
    }

    for (i = 0; i < 3; i++) {
        close(ifds[i][1]);      /* ifds[i][0] went with its connection */
    }

    sl_close_connection(stuck);
    close(sfds[1]);
    close_pair(c, fds[1]);
    sl_destroy_pool(pool);
    sl_te_close();
}
END_TEST

/* --- contexts: what a connection negotiates ------------------------------ */

/* a full connection to ssl over a socketpair: handshake, then a byte */
static sl_connection_t *
connect_peer(sl_ssl_t *ssl, const sl_tt_opts_t *o, int fds[2], int ok)
{
    sl_connection_t  *c;

    sl_te_socketpair(fds);
    c = open_side(fds[0], ssl, 0);
    peer_open(fds[1], 0, o);

    ck_assert_msg(handshake(c) == ok, "handshake %s: %s",
                  ok ? "failed" : "succeeded", sl_te_log());

    if (ok) {
        /* the peer takes in what came after the handshake (tickets) */
        ck_assert(sl_tt_write(&P.p, "x", 1, 5000));
        sl_te_run_until(S.got == 1, 5000);
        ck_assert_int_eq(peer_read(), 0);
    }

    return c;
}

static void
disconnect(sl_connection_t *c, int fds[2])
{
    /*
     * A client's session stays resumable only after a clean close:
     * OpenSSL marks it not resumable when freed without SSL_shutdown.
     */
    if (SSL_is_init_finished(P.p.ssl)) {
        ck_assert(sl_tt_shutdown(&P.p, 0, 5000));
    }

    close_pair(c, fds[1]);
}

static const char *
var(sl_ssl_variable_pt get, sl_connection_t *c)
{
    static char  buf[8192];
    sl_str_t     v;

    ck_assert_int_eq(get(c, sl_te.pool, &v), SL_OK);
    ck_assert_uint_lt(v.len, sizeof(buf));
    sl_memcpy(buf, v.data, v.len);
    buf[v.len] = '\0';
    return buf;
}

START_TEST(test_variables)
{
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                          SL_SSL_DFLT_BUILTIN_SCACHE, NULL, 300),
                     SL_OK);

    sl_memzero(&o, sizeof(o));
    o.server_name = "www.example.test";
    o.max_version = TLS1_2_VERSION;
    o.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
    o.no_tickets = 1;
    c = connect_peer(&server_ssl, &o, fds, 1);

    ck_assert_str_eq(var(sl_ssl_get_protocol, c), "TLSv1.2");
    ck_assert_str_eq(var(sl_ssl_get_cipher_name, c),
                     "ECDHE-RSA-AES128-GCM-SHA256");
    ck_assert_str_eq(var(sl_ssl_get_server_name, c), "www.example.test");
    ck_assert_str_eq(var(sl_ssl_get_session_reused, c), ".");
    ck_assert_uint_eq(strlen(var(sl_ssl_get_session_id, c)), 64);
    ck_assert_uint_eq(strspn(var(sl_ssl_get_session_id, c),
                             "0123456789abcdef"), 64);
    ck_assert_str_eq(var(sl_ssl_get_alpn_protocol, c), "");
    ck_assert_str_eq(var(sl_ssl_get_client_verify, c), "NONE");
    ck_assert_str_eq(var(sl_ssl_get_subject_dn, c), "");
    ck_assert_str_eq(var(sl_ssl_get_certificate, c), "");
    ck_assert_str_eq(var(sl_ssl_get_fingerprint, c), "");
    disconnect(c, fds);

    sl_memzero(&o, sizeof(o));
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_protocol, c), "TLSv1.3");
    ck_assert_str_eq(var(sl_ssl_get_server_name, c), "");
    disconnect(c, fds);

    sl_te_close();
}
END_TEST

/* a session is resumed: the client sees it (SSL_session_reused) */
static void
resume(sl_ssl_t *first, sl_ssl_t *second, int version, int expect)
{
    sl_connection_t  *c;
    SSL_SESSION      *sess;
    sl_tt_opts_t      o;
    int               fds[2];

    sl_memzero(&o, sizeof(o));
    o.min_version = version;
    o.max_version = version;
    c = connect_peer(first, &o, fds, 1);
    ck_assert(!SSL_session_reused(P.p.ssl));
    ck_assert_ptr_nonnull(P.p.session);
    sess = P.p.session;
    SSL_SESSION_up_ref(sess);
    disconnect(c, fds);

    o.session = sess;
    c = connect_peer(second, &o, fds, 1);
    ck_assert_msg(SSL_session_reused(P.p.ssl) == expect, "version %x: "
                  "reused %d, not %d; log: %s", version,
                  SSL_session_reused(P.p.ssl), expect, sl_te_log());
    ck_assert_str_eq(var(sl_ssl_get_session_reused, c), expect ? "r" : ".");
    disconnect(c, fds);
    SSL_SESSION_free(sess);
}

START_TEST(test_session_resumption)
{
    static sl_ssl_t  other;
    static u_char    key[80];
    char             path[PATH_MAX];
    sl_array_t      *keys;
    int              v, fd;

    sl_te_open(_i, 16);

    for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        /* the builtin cache, tickets off */
        server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
        ck_assert_int_eq(sl_ssl_session_tickets(&cf, &server_ssl, 0, NULL),
                         SL_OK);
        ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                              SL_SSL_DFLT_BUILTIN_SCACHE, NULL,
                                              300), SL_OK);
        resume(&server_ssl, &server_ssl, v, 1);
        ck_assert_int_ge(SSL_CTX_sess_hits(server_ssl.ctx), 1);

        /* no cache, no tickets: no resumption */
        server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
        ck_assert_int_eq(sl_ssl_session_tickets(&cf, &server_ssl, 0, NULL),
                         SL_OK);
        ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                              SL_SSL_NONE_SCACHE, NULL, 300),
                         SL_OK);
        resume(&server_ssl, &server_ssl, v, 0);

        /* tickets and no cache */
        server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
        ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                              SL_SSL_NONE_SCACHE, NULL, 300),
                         SL_OK);
        ck_assert_int_eq(sl_ssl_session_tickets(&cf, &server_ssl, 1, NULL),
                         SL_OK);
        resume(&server_ssl, &server_ssl, v, 1);
        ck_assert_int_eq(SSL_CTX_sess_number(server_ssl.ctx), 0);
    }

    /* ssl_session_ticket_key: a ticket of one context opens in another */
    snprintf(path, sizeof(path), "%s/ticket.key", sl_tt_pki());
    fill_random(key, sizeof(key), 21);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, key, 80), 80);
    close(fd);
    keys = strs(path, NULL);

    for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
        ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                              SL_SSL_NONE_SCACHE, NULL, 300),
                         SL_OK);
        ck_assert_int_eq(sl_ssl_session_tickets(&cf, &server_ssl, 1, keys),
                         SL_OK);
        server_ctx(&other, SL_SSL_DEFAULT_PROTOCOLS, 0);
        ck_assert_int_eq(sl_ssl_session_cache(&cf, &other,
                                              SL_SSL_NONE_SCACHE, NULL, 300),
                         SL_OK);
        ck_assert_int_eq(sl_ssl_session_tickets(&cf, &other, 1, keys),
                         SL_OK);
        resume(&server_ssl, &other, v, 1);
    }

    /* a key file of another size is refused */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, key, 50), 50);
    close(fd);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    ck_assert_int_eq(sl_ssl_session_tickets(&cf, &server_ssl, 1, keys),
                     SL_ERROR);
    ck_assert(logged_at("emerg", "must be 48 or 80 bytes in "
                        "/etc/sluice/t.conf:7"));
    unlink(path);

    sl_te_close();
}
END_TEST

START_TEST(test_certificate_selection)
{
    static const struct {
        const char  *sigalgs;
        int          version;
        int          type;
    } cases[] = {
        { "ECDSA+SHA256", TLS1_3_VERSION, EVP_PKEY_EC },
        { "RSA-PSS+SHA256:RSA+SHA256", TLS1_3_VERSION, EVP_PKEY_RSA },
        { "ECDSA+SHA256", TLS1_2_VERSION, EVP_PKEY_EC },
        { "RSA+SHA256", TLS1_2_VERSION, EVP_PKEY_RSA },
    };
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    sl_uint_t         i;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 1);
    ck_assert_uint_eq(server_ssl.certificates->nelts, 2);

    for (i = 0; i < sl_nelems(cases); i++) {
        sl_memzero(&o, sizeof(o));
        o.ca = sl_tt_file("ca.crt");
        o.sigalgs = cases[i].sigalgs;
        o.min_version = cases[i].version;
        o.max_version = cases[i].version;
        c = connect_peer(&server_ssl, &o, fds, 1);
        ck_assert_int_eq(sl_tt_peer_key_type(&P.p), cases[i].type);
        ck_assert_str_eq(sl_tt_peer_cn(&P.p), "localhost");
        disconnect(c, fds);
    }

    sl_te_close();
}
END_TEST

START_TEST(test_alpn)
{
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    ck_assert_int_eq(sl_ssl_alpn(&cf, &server_ssl, strs("h2", "http/1.1")),
                     SL_OK);

    /* the server's order wins */
    sl_memzero(&o, sizeof(o));
    o.alpn = "http/1.1,h2";
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(sl_tt_alpn(&P.p), "h2");
    ck_assert_str_eq(var(sl_ssl_get_alpn_protocol, c), "h2");
    disconnect(c, fds);

    o.alpn = "foo,http/1.1";
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_alpn_protocol, c), "http/1.1");
    disconnect(c, fds);

    /* a client that offers none gets none */
    o.alpn = NULL;
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_alpn_protocol, c), "");
    disconnect(c, fds);

    /* nothing in common: the handshake fails, a client's doing: info */
    o.alpn = "foo,bar";
    c = connect_peer(&server_ssl, &o, fds, 0);
    ck_assert(logged_at("info", "no application protocol"));
    ck_assert(!sl_te_logged("[crit]"));
    disconnect(c, fds);

    /* a bad protocol name is a config error */
    ck_assert_int_eq(sl_ssl_alpn(&cf, &server_ssl, strs("", NULL)), SL_ERROR);
    ck_assert(logged_at("emerg", "invalid ALPN protocol"));

    sl_te_close();
}
END_TEST

START_TEST(test_client_verify)
{
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    u_char            md[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned int      mdlen;
    const char       *pem;
    X509             *x;
    FILE             *f;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    ck_assert_int_eq(sl_ssl_client_certificate(&cf, &server_ssl,
                                               &(sl_str_t) sl_string(""), 1),
                     SL_OK);
    {
        sl_str_t  ca = str(sl_tt_file("ca.crt"));

        ck_assert_int_eq(sl_ssl_client_certificate(&cf, &server_ssl, &ca, 1),
                         SL_OK);
    }
    ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                          SL_SSL_NONE_SCACHE, NULL, 300), SL_OK);

    /* a certificate of our CA */
    sl_memzero(&o, sizeof(o));
    o.cert = sl_tt_file("client.crt");
    o.key = sl_tt_file("client.key");
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_ON), SL_OK);
    ck_assert_str_eq(var(sl_ssl_get_client_verify, c), "SUCCESS");
    ck_assert_str_eq(var(sl_ssl_get_subject_dn, c),
                     "CN=client,O=sluice tests");
    ck_assert_str_eq(var(sl_ssl_get_issuer_dn, c), "CN=sluice test CA");

    f = fopen(sl_tt_file("client.crt"), "r");
    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_digest(x, EVP_sha1(), md, &mdlen), 1);
    X509_free(x);
    *sl_hex_dump(hex, md, mdlen) = '\0';
    ck_assert_str_eq(var(sl_ssl_get_fingerprint, c), (char *) hex);

    pem = var(sl_ssl_get_certificate, c);
    ck_assert_msg(strncmp(pem, "-----BEGIN CERTIFICATE-----\n\t", 29) == 0,
                  "%s", pem);
    ck_assert(strstr(pem, "\n\t-----END CERTIFICATE-----") != NULL);
    ck_assert(pem[strlen(pem) - 1] == '-');
    disconnect(c, fds);

    /* no certificate: fine unless it is required */
    sl_memzero(&o, sizeof(o));
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_client_verify, c), "NONE");
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_OPTIONAL), SL_OK);
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_ON), SL_ERROR);
    ck_assert(logged_at("info", "client sent no required SSL certificate"));
    disconnect(c, fds);

    /* a certificate of another CA */
    sl_memzero(&o, sizeof(o));
    o.cert = sl_tt_file("other-client.crt");
    o.key = sl_tt_file("other-client.key");
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_client_verify, c),
                     "FAILED:unable to verify the first certificate");
    ck_assert_str_eq(var(sl_ssl_get_subject_dn, c),
                     "CN=stranger,O=sluice tests");
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_OPTIONAL_NO_CA),
                     SL_OK);
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_OPTIONAL),
                     SL_ERROR);
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_ON), SL_ERROR);
    ck_assert(logged_at("info", "client SSL certificate verify error: "
                        "(21:unable to verify the first certificate)"));
    ck_assert_int_eq(sl_ssl_verify_result(c, SL_SSL_VERIFY_OFF), SL_OK);
    disconnect(c, fds);

    ck_assert(!sl_te_logged("[crit]"));
    sl_te_close();
}
END_TEST

/* --- the client side (the proxy's upstream) ------------------------------ */

START_TEST(test_client_side)
{
    static sl_ssl_t   client_ssl;
    sl_connection_t  *c;
    SSL_SESSION      *sess;
    sl_tt_opts_t      o;
    sl_str_t          name;
    char              buf[16];
    u_char            keys[80];
    int               fds[2], round;

    sl_te_open(_i, 16);
    conf_init();
    ck_assert_int_eq(sl_ssl_create(&cf, &client_ssl, SL_SSL_DEFAULT_PROTOCOLS,
                                   SL_SSL_CLIENT, NULL), SL_OK);
    name = str(sl_tt_file("ca.crt"));
    ck_assert_int_eq(sl_ssl_trusted_certificate(&cf, &client_ssl, &name, 2),
                     SL_OK);
    ck_assert_int_eq(sl_ssl_alpn(&cf, &client_ssl, strs("b", "a")), SL_OK);

    sess = NULL;

    for (round = 0; round < 2; round++) {
        sl_te_socketpair(fds);
        c = open_side(fds[0], &client_ssl, SL_SSL_CLIENT);
        ck_assert(c->ssl->client);
        ck_assert_int_eq(sl_ssl_set_session(c, sess), SL_OK);

        sl_memzero(&o, sizeof(o));
        o.cert = sl_tt_file("rsa.crt");
        o.key = sl_tt_file("rsa.key");
        o.alpn = "a,b";
        peer_open(fds[1], 1, &o);
        /* the same ticket keys in each round's new server context */
        sl_memset(keys, 'k', sizeof(keys));
        ck_assert_int_eq(SSL_CTX_set_tlsext_ticket_keys(P.p.ctx, keys,
                                                        sizeof(keys)), 1);

        ck_assert_msg(handshake(c), "%s", sl_te_log());
        ck_assert_int_eq(SSL_get_verify_result(c->ssl->connection),
                         X509_V_OK);
        ck_assert_int_eq(SSL_session_reused(c->ssl->connection), round);
        ck_assert_str_eq(var(sl_ssl_get_alpn_protocol, c), "a");

        name = str("localhost");
        ck_assert_int_eq(sl_ssl_check_host(c, &name), SL_OK);
        name = str("127.0.0.1");
        ck_assert_int_eq(sl_ssl_check_host(c, &name), SL_OK);
        name = str("www.sluice.test");
        ck_assert_int_eq(sl_ssl_check_host(c, &name), SL_OK);
        name = str("nope.example");
        ck_assert_int_eq(sl_ssl_check_host(c, &name), SL_ERROR);
        name = str("127.0.0.2");
        ck_assert_int_eq(sl_ssl_check_host(c, &name), SL_ERROR);

        /* data both ways; the server's tickets come before its data */
        S.out = (const u_char *) "request";
        S.out_len = 7;
        c->write->handler(c->write);
        ck_assert(sl_tt_read_full(&P.p, buf, 7, 5000));
        ck_assert_mem_eq(buf, "request", 7);
        ck_assert(sl_tt_write(&P.p, "response", 8, 5000));
        sl_te_run_until(S.got == 8, 5000);

        if (sess != NULL) {
            SSL_SESSION_free(sess);
        }
        sess = sl_ssl_get_session(c);
        ck_assert_ptr_nonnull(sess);

        ck_assert(sl_tt_shutdown(&P.p, 0, 5000));
        sl_te_run_until(S.eof, 5000);
        close_pair(c, fds[1]);
    }

    SSL_SESSION_free(sess);

    /* a server the trusted CAs do not know */
    sl_te_socketpair(fds);
    c = open_side(fds[0], &client_ssl, SL_SSL_CLIENT);
    sl_memzero(&o, sizeof(o));
    o.cert = sl_tt_file("other-client.crt");
    o.key = sl_tt_file("other-client.key");
    peer_open(fds[1], 1, &o);
    ck_assert(handshake(c));
    ck_assert_int_ne(SSL_get_verify_result(c->ssl->connection), X509_V_OK);
    close_pair(c, fds[1]);

    sl_te_close();
}
END_TEST

/* ssl_dhparam: RFC 7919's ffdhe2048, made in no time, for a DHE suite */
START_TEST(test_dhparam)
{
    EVP_PKEY_CTX     *pctx;
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    EVP_PKEY         *dh = NULL;
    sl_str_t          file;
    char              path[PATH_MAX];
    BIO              *bio;
    int               fds[2];

    sl_te_open(_i, 16);

    pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    ck_assert_ptr_nonnull(pctx);
    ck_assert_int_eq(EVP_PKEY_paramgen_init(pctx), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_group_name(pctx, "ffdhe2048"), 1);
    ck_assert_int_eq(EVP_PKEY_paramgen(pctx, &dh), 1);
    EVP_PKEY_CTX_free(pctx);

    snprintf(path, sizeof(path), "%s/dhparam.pem", sl_tt_pki());
    bio = BIO_new_file(path, "w");
    ck_assert_ptr_nonnull(bio);
    ck_assert_int_eq(PEM_write_bio_Parameters(bio, dh), 1);
    BIO_free(bio);
    EVP_PKEY_free(dh);

    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    file = str(path);
    ck_assert_int_eq(sl_ssl_dhparam(&cf, &server_ssl, &file), SL_OK);
    unlink(path);
    ck_assert_int_eq(sl_ssl_session_cache(&cf, &server_ssl,
                                          SL_SSL_NONE_SCACHE, NULL, 600), SL_OK);
    ck_assert_int_eq(SSL_CTX_get_timeout(server_ssl.ctx), 600);

    sl_memzero(&o, sizeof(o));
    o.max_version = TLS1_2_VERSION;
    o.ciphers = "DHE-RSA-AES128-GCM-SHA256";
    c = connect_peer(&server_ssl, &o, fds, 1);
    ck_assert_str_eq(var(sl_ssl_get_cipher_name, c),
                     "DHE-RSA-AES128-GCM-SHA256");
    disconnect(c, fds);

    sl_te_close();
}
END_TEST

/* what ssl_reject_handshake does from its servername callback */
static int
reject_cb(SSL *ssl, int *ad, void *arg)
{
    sl_connection_t  *c;

    (void) arg;

    c = SSL_get_ex_data(ssl, sl_ssl_indexes()->connection_index);
    c->ssl->handshake_rejected = 1;
    *ad = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

START_TEST(test_handshake_rejected)
{
    sl_connection_t  *c;
    sl_tt_opts_t      o;
    int               fds[2];

    sl_te_open(_i, 16);
    server_ctx(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, 0);
    SSL_CTX_set_tlsext_servername_callback(server_ssl.ctx, reject_cb);

    sl_memzero(&o, sizeof(o));
    o.server_name = "unknown.test";
    c = connect_peer(&server_ssl, &o, fds, 0);
    ck_assert(logged_at("info", "handshake rejected"));
    ck_assert(!sl_te_logged("[crit]"));
    ck_assert(!sl_te_logged("SSL_do_handshake() failed"));
    disconnect(c, fds);

    sl_te_close();
}
END_TEST

/* --- configuration errors ------------------------------------------------ */

/* the last line logged holds every piece */
static void
check_conf_error(const char *what, const char *reason)
{
    const char  *log = sl_te_log();

    ck_assert_msg(strstr(log, "[emerg]") && strstr(log, what)
                  && strstr(log, reason)
                  && strstr(log, "in /etc/sluice/t.conf:7"),
                  "expected \"%s\" ... \"%s\" in: %s", what, reason, log);
}

START_TEST(test_config_errors)
{
    sl_ssl_t     ssl;
    sl_array_t  *pw;
    sl_str_t     s;
    char         bad[PATH_MAX];
    int          fd;

    sl_te_open(_i, 16);
    conf_init();

    snprintf(bad, sizeof(bad), "%s/garbage.pem", sl_tt_pki());
    fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a PEM file\n", 15), 15);
    close(fd);

    /* a certificate that is not one */
    sl_memzero(&ssl, sizeof(ssl));
    ck_assert_int_eq(sl_ssl_create(&cf, &ssl, SL_SSL_DEFAULT_PROTOCOLS, 0,
                                   NULL), SL_OK);
    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl, strs(bad, NULL),
                                         strs(sl_tt_file("rsa.key"), NULL),
                                         NULL), SL_ERROR);
    check_conf_error("cannot load certificate \"", "(SSL: error:");

    /* a missing certificate */
    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs("/nonexistent.crt", NULL),
                                         strs(sl_tt_file("rsa.key"), NULL),
                                         NULL), SL_ERROR);
    check_conf_error("cannot load certificate \"/nonexistent.crt\"",
                     "No such file or directory");

    /* a key that is not one */
    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs(sl_tt_file("rsa.crt"), NULL),
                                         strs(bad, NULL), NULL), SL_ERROR);
    check_conf_error("cannot load certificate key", "no start line");

    /* a key of another certificate */
    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs(sl_tt_file("rsa.crt"), NULL),
                                         strs(sl_tt_file("big.key"), NULL),
                                         NULL), SL_ERROR);
    check_conf_error("SSL_CTX_use_PrivateKey(", "key values mismatch");

    /* an encrypted key: no password, the wrong one, then the right one */
    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs(sl_tt_file("rsa-enc.crt"),
                                              NULL),
                                         strs(sl_tt_file("rsa-enc.key"),
                                              NULL),
                                         NULL), SL_ERROR);
    check_conf_error("cannot load certificate key", "(SSL: error:");

    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs(sl_tt_file("rsa-enc.crt"),
                                              NULL),
                                         strs(sl_tt_file("rsa-enc.key"),
                                              NULL),
                                         strs("wrong", NULL)), SL_ERROR);
    check_conf_error("cannot load certificate key", "bad decrypt");

    ck_assert_int_eq(sl_ssl_certificates(&cf, &ssl,
                                         strs(sl_tt_file("rsa-enc.crt"),
                                              NULL),
                                         strs(sl_tt_file("rsa-enc.key"),
                                              NULL),
                                         strs("wrong", SL_TT_PASSWORD)),
                     SL_OK);

    /* ciphers, curves, commands, DH parameters, CA files, CRLs */
    s = str("NO-SUCH-CIPHER");
    ck_assert_int_eq(sl_ssl_ciphers(&cf, &ssl, &s, 0), SL_ERROR);
    check_conf_error("SSL_CTX_set_cipher_list(\"NO-SUCH-CIPHER\") failed",
                     "no cipher match");
    s = str("HIGH:!aNULL:!MD5");
    ck_assert_int_eq(sl_ssl_ciphers(&cf, &ssl, &s, 1), SL_OK);
    ck_assert(SSL_CTX_get_options(ssl.ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);

    s = str("no-such-curve");
    ck_assert_int_eq(sl_ssl_ecdh_curve(&cf, &ssl, &s), SL_ERROR);
    check_conf_error("SSL_CTX_set1_curves_list(\"no-such-curve\") failed",
                     "(SSL: error:");
    s = str("X25519:prime256v1");
    ck_assert_int_eq(sl_ssl_ecdh_curve(&cf, &ssl, &s), SL_OK);
    s = str("auto");
    ck_assert_int_eq(sl_ssl_ecdh_curve(&cf, &ssl, &s), SL_OK);

    ck_assert_int_eq(sl_ssl_conf_commands(&cf, &ssl,
                                          pairs("NoSuchCommand", "x")),
                     SL_ERROR);
    check_conf_error("SSL_CONF_cmd(\"NoSuchCommand\", \"x\") failed",
                     "(SSL: error:");
    ck_assert_int_eq(sl_ssl_conf_commands(&cf, &ssl,
                                          pairs("Options", "-SessionTicket")),
                     SL_OK);
    ck_assert(SSL_CTX_get_options(ssl.ctx) & SSL_OP_NO_TICKET);

    s = str(bad);
    ck_assert_int_eq(sl_ssl_dhparam(&cf, &ssl, &s), SL_ERROR);
    check_conf_error("PEM_read_bio_Parameters(", "(SSL: error:");
    ck_assert_int_eq(sl_ssl_client_certificate(&cf, &ssl, &s, 1), SL_ERROR);
    check_conf_error("failed", "(SSL: error:");
    ck_assert_int_eq(sl_ssl_crl(&cf, &ssl, &s), SL_ERROR);
    check_conf_error("X509_LOOKUP_load_file(", "(SSL: error:");

    /* a password file, read through a FIFO */
    snprintf(bad, sizeof(bad), "%s/pw.fifo", sl_tt_pki());
    ck_assert_int_eq(mkfifo(bad, 0600), 0);

    {
        pid_t  pid;
        int    status;

        pid = fork();
        ck_assert_int_ge(pid, 0);

        if (pid == 0) {
            fd = open(bad, O_WRONLY);
            if (fd >= 0 && write(fd, "first\r\n\nsecond\nthird", 20) == 20) {
                _exit(0);
            }
            _exit(1);
        }

        s = str(bad);
        pw = sl_ssl_read_password_file(&cf, &s);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    unlink(bad);
    ck_assert_ptr_nonnull(pw);
    ck_assert_uint_eq(pw->nelts, 3);
    ck_assert(sl_str_eq_lit(&((sl_str_t *) pw->elts)[0], "first"));
    ck_assert(sl_str_eq_lit(&((sl_str_t *) pw->elts)[1], "second"));
    ck_assert(sl_str_eq_lit(&((sl_str_t *) pw->elts)[2], "third"));

    s = str("/nonexistent/pw");
    ck_assert_ptr_null(sl_ssl_read_password_file(&cf, &s));
    check_conf_error("open() \"/nonexistent/pw\" failed", "No such file");

    snprintf(bad, sizeof(bad), "%s/garbage.pem", sl_tt_pki());
    unlink(bad);
    sl_te_close();
}
END_TEST

static Suite *
ssl_io_suite(void)
{
    Suite  *s = suite_create("ssl_io");
    TCase  *tc;

    /* made once, before the tests fork: they share it */
    if (sl_tt_pki() == NULL) {
        fprintf(stderr, "no test PKI\n");
        exit(1);
    }

    tc = tcase_create("io");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_handshake_and_data, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_keyupdate_while_full, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_read_wants_write, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_write_wants_read, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_read_wants_write_timer, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_write_wants_read_timer, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_renegotiation_refused, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_renegotiation_allowed_and_flood, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_close_notify_and_truncation, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_handshake_timeout, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_handshake_garbage, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_large_transfer, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_record_larger_than_buffer, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_records_read_ahead, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_send_chain_coalesces, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_send_chain_again, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_shutdown_would_block, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_drain_past_tls_close, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    /* what a context makes of a connection: one back end is enough */
    tc = tcase_create("ctx");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_variables);
    tcase_add_test(tc, test_session_resumption);
    tcase_add_test(tc, test_certificate_selection);
    tcase_add_test(tc, test_alpn);
    tcase_add_test(tc, test_client_verify);
    tcase_add_test(tc, test_client_side);
    tcase_add_test(tc, test_dhparam);
    tcase_add_test(tc, test_handshake_rejected);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(ssl_io_suite)
