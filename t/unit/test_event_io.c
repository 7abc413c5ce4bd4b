/*
 * test_event_io.c -- the I/O return values of DESIGN.md ("I/O return
 * values"), through each back end: connections over socketpairs and
 * loopback TCP, driven by sl_process_events_and_timers().
 *
 * The read contract these tests pin down, the same on every back end:
 *
 *   - A handler that reads until `ready` clears (recv() returned SL_AGAIN,
 *     or a short read) and then calls sl_handle_read_event() is called
 *     again when more data arrives: no lost wake-ups, edge-triggered or
 *     not.
 *   - A handler that returns with `ready` still set (it read less than was
 *     there) is not called again for the data left: edge-triggered back
 *     ends report no new edge, and on level-triggered ones
 *     sl_handle_read_event() takes a ready event off the back end. To go
 *     on later it posts itself to posted_next_events: it then runs on the
 *     next iteration, with `ready` set.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <poll.h>
#include <netinet/tcp.h>

#include "sl_os.h"
#include "sl_t_event.h"
#include "sl_test.h"

SL_TE_BACKENDS;

/* what a test's connection saw; c->data points to it */
typedef struct {
    u_char      buf[65536];
    size_t      got;
    size_t      chunk;      /* bytes per call, one recv; 0: read greedily */
    sl_uint_t   reads;      /* read handler calls */
    sl_uint_t   writes;     /* write handler calls */
    sl_uint_t   agains;     /* recv() returned SL_AGAIN */
    ssize_t     last;       /* the last recv() result */
    unsigned    eof:1;
    unsigned    error:1;
    unsigned    repost:1;   /* ready left: post to posted_next_events */
} side_t;

static side_t  A;

#define PAIR_UNIX  0
#define PAIR_TCP   1

static const char *
pair_name(int kind)
{
    return kind == PAIR_TCP ? "tcp" : "unix";
}

static void
make_pair(int kind, int fds[2])
{
    if (kind == PAIR_TCP) {
        sl_te_tcp_pair(fds);
    } else {
        sl_te_socketpair(fds);
    }
}

static u_char
pattern(size_t i)
{
    return (u_char) ((i * 7 + i / 251 + 3) & 0xff);
}

static void
fill_pattern(u_char *p, size_t from, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        p[i] = pattern(from + i);
    }
}

static void
check_pattern(const u_char *p, size_t from, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        ck_assert_msg(p[i] == pattern(from + i), "%s: byte %zu is %u, not %u",
                      sl_te.be->name, from + i, p[i], pattern(from + i));
    }
}

/* --- handlers ------------------------------------------------------------ */

/* the peer is gone: stop watching (level-triggered back ends) */
static void
stop_reading(sl_event_t *rev)
{
    ck_assert_int_eq(sl_handle_read_event(rev, SL_CLOSE_EVENT), SL_OK);
}

static void
on_read(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    side_t           *s = c->data;
    size_t            size;
    ssize_t           n;

    s->reads++;

    for ( ;; ) {
        size = sizeof(s->buf) - s->got;
        if (s->chunk != 0) {
            size = sl_min(size, s->chunk);
        }

        ck_assert_msg(size > 0, "%s: the test's buffer is full",
                      sl_te.be->name);

        n = c->recv(c, s->buf + s->got, size);
        s->last = n;

        if (n == 0) {
            s->eof = 1;
            stop_reading(rev);
            return;
        }

        if (n == SL_ERROR) {
            s->error = 1;
            stop_reading(rev);
            return;
        }

        if (n == SL_AGAIN) {
            s->agains++;
            break;
        }

        s->got += (size_t) n;

        if (s->chunk != 0 || !rev->ready) {
            break;
        }
    }

    if (rev->ready && s->repost) {
        sl_post_event(rev, &rev->loop->posted_next_events);
        return;
    }

    ck_assert_int_eq(sl_handle_read_event(rev, 0), SL_OK);
}

static void
on_write(sl_event_t *wev)
{
    sl_connection_t  *c = wev->data;
    side_t           *s = c->data;

    s->writes++;

    /* level-triggered: a ready write event is taken off the back end */
    ck_assert_int_eq(sl_handle_write_event(wev, 0), SL_OK);
}

static sl_connection_t *
open_side(int fd, side_t *s)
{
    sl_connection_t  *c;

    sl_memzero(s, sizeof(side_t));
    c = sl_te_conn(fd, on_read, on_write, s);
    sl_te_watch(c);
    return c;
}

/* --- data both ways ------------------------------------------------------ */

START_TEST(test_data_both_ways)
{
    static const char   in[] = "hello from the peer";
    static const char   out[] = "hello from the loop";
    sl_connection_t    *c;
    char                buf[64];
    int                 kind, fds[2];

    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        c = open_side(fds[0], &A);

        sl_te_peer_write(fds[1], in, sizeof(in));
        sl_te_run_until(A.got == sizeof(in), 5000);
        ck_assert_mem_eq(A.buf, in, sizeof(in));
        ck_assert(!c->read->ready);

        ck_assert_int_eq(c->send(c, (u_char *) out, sizeof(out)),
                         sizeof(out));
        ck_assert_uint_eq(sl_te_peer_read(fds[1], buf, sizeof(out), 5000),
                          sizeof(out));
        ck_assert_mem_eq(buf, out, sizeof(out));
        ck_assert_int_eq(c->sent, sizeof(out));

        /* asking for the write event: it comes, ready */
        ck_assert_int_eq(sl_handle_write_event(c->write, 0), SL_OK);
        sl_te_run_until(A.writes > 0, 5000);
        ck_assert(c->write->ready);

        /* and a second message in, to the same registration */
        sl_te_peer_write(fds[1], out, sizeof(out));
        sl_te_run_until(A.got == sizeof(in) + sizeof(out), 5000);
        ck_assert_mem_eq(A.buf + sizeof(in), out, sizeof(out));

        ck_assert_msg(!A.eof && !A.error, "%s/%s", sl_te.be->name,
                      pair_name(kind));

        sl_close_connection(c);
        close(fds[1]);
    }

    sl_te_close();
}
END_TEST

/* --- partial reads ------------------------------------------------------- */

START_TEST(test_partial_read)
{
    static u_char     data[18000];
    sl_connection_t  *c;
    sl_uint_t         reads;
    int               kind, fds[2];

    fill_pattern(data, 0, sizeof(data));
    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);

        /* 10000 bytes wait; the handler takes 1000 a call and re-posts */
        sl_te_peer_write(fds[1], data, 10000);
        c = open_side(fds[0], &A);
        A.chunk = 1000;
        A.repost = 1;

        sl_te_run_until(A.got == 10000 && !c->read->ready, 5000);
        check_pattern(A.buf, 0, A.got);
        /* 10 reads, and one more that finds SL_AGAIN unless kqueue's byte
         * count told that nothing was left */
        ck_assert_msg(A.reads == 10 || A.reads == 11, "%s/%s: %lu reads",
                      sl_te.be->name, pair_name(kind),
                      (unsigned long) A.reads);
        ck_assert_uint_le(A.agains, 1);

        /* drained: new data wakes it (no lost wake-up) */
        sl_te_peer_write(fds[1], data + 10000, 3000);
        sl_te_run_until(A.got == 13000 && !c->read->ready, 5000);
        check_pattern(A.buf, 0, A.got);

        /* returning with ready set, not re-posted: not called again */
        A.repost = 0;
        reads = A.reads;
        sl_te_peer_write(fds[1], data + 13000, 5000);
        sl_te_run_until(A.got == 14000, 5000);
        ck_assert(c->read->ready);
        reads = A.reads;
        (void) sl_te_run_for(100);
        ck_assert_msg(A.reads == reads && A.got == 14000,
                      "%s/%s: called again for the data left",
                      sl_te.be->name, pair_name(kind));

        /* re-posting goes on where it stopped, ready set */
        A.repost = 1;
        c->read->ready = 0;
        sl_post_event(c->read, &sl_te.loop->posted_next_events);
        sl_te_run_until(A.got == 18000, 5000);
        check_pattern(A.buf, 0, A.got);

        sl_close_connection(c);
        close(fds[1]);
    }

    sl_te_close();
}
END_TEST

/* --- the peer's shutdown, reset and half-close ---------------------------- */

START_TEST(test_eof)
{
    sl_connection_t  *c;
    int               kind, fds[2];

    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        c = open_side(fds[0], &A);

        sl_te_peer_write(fds[1], "bye", 3);
        close(fds[1]);

        sl_te_run_until(A.eof || A.error, 5000);
        ck_assert_msg(A.eof && !A.error, "%s/%s", sl_te.be->name,
                      pair_name(kind));
        ck_assert_uint_eq(A.got, 3);
        ck_assert_mem_eq(A.buf, "bye", 3);
        ck_assert_int_eq(A.last, 0);
        ck_assert(c->read->eof);
        ck_assert(!c->read->error);
        ck_assert(!c->read->ready);

        if (sl_te.loop->flags & (SL_USE_RDHUP_EVENT | SL_USE_KQUEUE_EVENT)) {
            ck_assert_msg(c->read->pending_eof, "%s/%s: no pending_eof",
                          sl_te.be->name, pair_name(kind));
        }

        /* nothing more: the event is not reported again */
        (void) sl_te_run_for(50);
        ck_assert_uint_eq(A.got, 3);

        sl_close_connection(c);
    }

    sl_te_close();
}
END_TEST

START_TEST(test_reset)
{
    struct linger     lg = { 1, 0 };
    sl_connection_t  *c;
    int               fds[2];

    sl_te_open(_i, 16);

    sl_te_tcp_pair(fds);
    c = open_side(fds[0], &A);

    /* SO_LINGER 0: close() sends an RST, not a FIN */
    ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &lg,
                                sizeof(lg)), 0);
    close(fds[1]);

    sl_te_run_until(A.eof || A.error, 5000);
    ck_assert_msg(A.error && !A.eof, "%s: the reset read as %s",
                  sl_te.be->name, A.eof ? "an orderly shutdown" : "?");
    ck_assert_int_eq(A.last, SL_ERROR);
    ck_assert(c->read->error);
    ck_assert(!c->read->ready);
    ck_assert_msg(sl_te_logged("[info]")
                  && sl_te_logged("(104: Connection reset by peer)"),
                  "%s: %s", sl_te.be->name, sl_te_log());

    sl_close_connection(c);
    sl_te_close();
}
END_TEST

START_TEST(test_half_close)
{
    static const char   reply[] = "still here";
    sl_connection_t    *c;
    char                buf[32];
    int                 kind, fds[2];

    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        c = open_side(fds[0], &A);

        sl_te_peer_write(fds[1], "req", 3);
        ck_assert_int_eq(shutdown(fds[1], SHUT_WR), 0);

        sl_te_run_until(A.eof || A.error, 5000);
        ck_assert_msg(A.eof && !A.error, "%s/%s", sl_te.be->name,
                      pair_name(kind));
        ck_assert_uint_eq(A.got, 3);

        /* we read eof, and can still write */
        ck_assert_int_eq(c->send(c, (u_char *) reply, sizeof(reply)),
                         sizeof(reply));
        ck_assert(!c->write->error);
        ck_assert_uint_eq(sl_te_peer_read(fds[1], buf, sizeof(reply), 5000),
                          sizeof(reply));
        ck_assert_mem_eq(buf, reply, sizeof(reply));

        sl_close_connection(c);
        close(fds[1]);
    }

    sl_te_close();
}
END_TEST

/* --- writing to a peer that closed: SL_ERROR, and no SIGPIPE -------------- */

static void
assert_sigpipe_would_kill(void)
{
    struct sigaction  sa;
    sigset_t          blocked;

    ck_assert_int_eq(sigaction(SIGPIPE, NULL, &sa), 0);
    ck_assert_msg(sa.sa_handler == SIG_DFL, "SIGPIPE is not SIG_DFL: this "
                  "test would prove nothing");
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &blocked), 0);
    ck_assert(!sigismember(&blocked, SIGPIPE));
}

/* waits until the socket has seen the peer's reset */
static void
wait_for_reset(int fd)
{
    struct pollfd  pfd;

    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;

    while (!(pfd.revents & (POLLERR | POLLHUP))) {
        ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(5000)), 1);
    }
}

START_TEST(test_epipe)
{
    sl_connection_t  *c;
    ssize_t           n1, n2;
    int               kind, fds[2];

    assert_sigpipe_would_kill();
    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        c = open_side(fds[0], &A);

        close(fds[1]);

        /* the first write may still be taken (TCP: the peer answers
         * with an RST); the second one meets the closed pipe */
        n1 = c->send(c, (u_char *) "x", 1);

        if (kind == PAIR_TCP) {
            ck_assert_int_eq(n1, 1);
            wait_for_reset(fds[0]);
        } else {
            ck_assert_int_eq(n1, SL_ERROR);
            c->write->error = 0;
        }

        n2 = c->send(c, (u_char *) "y", 1);
        ck_assert_msg(n2 == SL_ERROR, "%s/%s: %zd", sl_te.be->name,
                      pair_name(kind), n2);
        ck_assert(c->write->error);
        ck_assert(!c->write->ready);

        ck_assert_msg(sl_te_logged("send() failed")
                      && (sl_te_logged("Broken pipe")
                          || sl_te_logged("Connection reset by peer")),
                      "%s", sl_te_log());

        sl_close_connection(c);
    }

    sl_te_close();
}
END_TEST

/* --- a full send buffer -------------------------------------------------- */

START_TEST(test_full_send_buffer)
{
    static u_char     chunk[65536];
    static u_char     sink[4 * 1024 * 1024];
    sl_connection_t  *c;
    size_t            sent;
    ssize_t           n;
    int               kind, fds[2], size = 8192;

    sl_te_open(_i, 16);

    for (kind = PAIR_UNIX; kind <= PAIR_TCP; kind++) {
        make_pair(kind, fds);
        (void) setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(int));
        (void) setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(int));
        c = open_side(fds[0], &A);

        /* fill both buffers: EAGAIN clears ready */
        for (sent = 0; ; sent += (size_t) n) {
            n = c->send(c, chunk, sizeof(chunk));
            if (n == SL_AGAIN) {
                break;
            }
            ck_assert_int_gt(n, 0);
            ck_assert_uint_lt(sent, sizeof(sink));
        }

        ck_assert(!c->write->ready);
        ck_assert(!c->write->error);

        /* wanting to write while full: no write event */
        ck_assert_int_eq(sl_handle_write_event(c->write, 0), SL_OK);
        (void) sl_te_run_for(100);
        ck_assert_msg(A.writes == 0, "%s/%s: write event on a full buffer",
                      sl_te.be->name, pair_name(kind));

        /* the peer drains it: the write event comes, ready again */
        ck_assert_uint_eq(sl_te_peer_read(fds[1], sink, sent, 5000), sent);
        sl_te_run_until(A.writes > 0, 5000);
        ck_assert(c->write->ready);
        ck_assert_int_eq(c->send(c, (u_char *) "more", 4), 4);

        sl_close_connection(c);
        close(fds[1]);
    }

    sl_te_close();
}
END_TEST

/* --- chains: more buffers than IOV_MAX ----------------------------------- */

#define NBUFS    3000
#define STRIDE   16

/* NBUFS buffers of 1..13 bytes, never adjacent (no iovec merging) */
static sl_chain_t *
make_chain(u_char *mem, size_t *total, int full)
{
    sl_chain_t  *cl, *head = NULL, **last = &head;
    sl_buf_t    *b;
    size_t       i, len, off = 0;

    for (i = 0; i < NBUFS; i++) {
        len = i % 13 + 1;

        b = sl_calloc_buf(sl_te.pool);
        cl = sl_alloc_chain_link(sl_te.pool);
        ck_assert(b != NULL && cl != NULL);

        b->start = mem + i * STRIDE;
        b->end = b->start + len;
        b->pos = b->start;
        b->last = full ? b->end : b->start;
        b->temporary = 1;

        if (full) {
            fill_pattern(b->start, off, len);
        }

        off += len;
        cl->buf = b;
        cl->next = NULL;
        *last = cl;
        last = &cl->next;
    }

    *total = off;
    return head;
}

/* bytes of the chain up to `in` plus what of `in` was sent */
static off_t
chain_sent(sl_chain_t *head, sl_chain_t *in)
{
    off_t  sent = 0;

    for ( ; head != in; head = head->next) {
        ck_assert(head->buf->pos == head->buf->last);
        sent += head->buf->end - head->buf->start;
    }

    return sent + (in->buf->pos - in->buf->start);
}

START_TEST(test_writev_chain)
{
    static u_char     rbuf[NBUFS * 13];
    sl_chain_t       *head, *in;
    sl_connection_t  *c;
    size_t            total, got = 0;
    u_char           *mem;
    int               fds[2], size = 4096, partial = 0;

    ck_assert_int_gt(NBUFS, IOV_MAX);
    sl_te_open(_i, 16);

    mem = sl_palloc(sl_te.pool, NBUFS * STRIDE);
    ck_assert_ptr_nonnull(mem);
    head = make_chain(mem, &total, 1);

    sl_te_socketpair(fds);
    (void) setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(int));
    c = open_side(fds[0], &A);
    c->write->ready = 1;

    for (in = head; ; ) {
        in = c->send_chain(c, in, 0);
        ck_assert(in != SL_CHAIN_ERROR);

        if (in == NULL) {
            break;
        }

        /* a partial write: the chain says exactly how far it got */
        partial++;
        ck_assert(!c->write->ready);
        ck_assert_int_eq(chain_sent(head, in), c->sent);

        ck_assert_int_eq(sl_handle_write_event(c->write, 0), SL_OK);
        got += sl_te_peer_read(fds[1], rbuf + got, (size_t) c->sent - got,
                               5000);
        sl_te_run_until(c->write->ready, 5000);
    }

    ck_assert_int_eq(c->sent, (off_t) total);
    ck_assert_int_gt(partial, 0);

    got += sl_te_peer_read(fds[1], rbuf + got, total - got, 5000);
    ck_assert_uint_eq(got, total);
    check_pattern(rbuf, 0, total);

    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* n bytes were read into the chain from `in` on: move the buffers' last */
static sl_chain_t *
chain_filled(sl_chain_t *in, size_t n)
{
    size_t  k;

    while (in != NULL && n > 0) {
        k = sl_min(n, (size_t) (in->buf->end - in->buf->last));
        in->buf->last += k;
        n -= k;

        if (in->buf->last == in->buf->end) {
            in = in->next;
        }
    }

    ck_assert_uint_eq(n, 0);
    return in;
}

typedef struct {
    sl_chain_t  *in;        /* the first buffer with room */
    size_t       got;
    sl_uint_t    calls;
} chain_reader_t;

static void
on_read_chain(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    chain_reader_t   *r = c->data;
    ssize_t           n;

    while (r->in != NULL) {
        n = c->recv_chain(c, r->in, 0);
        ck_assert_msg(n > 0 || n == SL_AGAIN, "%s: readv: %zd",
                      sl_te.be->name, n);

        if (n == SL_AGAIN) {
            break;
        }

        r->calls++;
        r->got += (size_t) n;
        r->in = chain_filled(r->in, (size_t) n);

        if (!rev->ready) {
            break;
        }
    }

    ck_assert_int_eq(sl_handle_read_event(rev, 0), SL_OK);
}

START_TEST(test_readv_chain)
{
    static u_char     data[NBUFS * 13];
    chain_reader_t    r;
    sl_connection_t  *c;
    sl_chain_t       *head, *cl;
    size_t            total, off = 0, len;
    u_char           *mem;
    int               fds[2], size = 256 * 1024;

    sl_te_open(_i, 16);

    mem = sl_palloc(sl_te.pool, NBUFS * STRIDE);
    ck_assert_ptr_nonnull(mem);
    head = make_chain(mem, &total, 0);
    fill_pattern(data, 0, total);

    sl_te_socketpair(fds);
    (void) setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(int));
    (void) setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(int));

    sl_memzero(&r, sizeof(r));
    r.in = head;
    c = sl_te_conn(fds[0], on_read_chain, NULL, &r);
    sl_te_watch(c);

    sl_te_peer_write(fds[1], data, total);
    sl_te_run_until(r.got == total, 5000);

    /* more iovecs than one readv() takes: several calls, no byte lost */
    ck_assert_uint_ge(r.calls, (NBUFS + SL_IOVS - 1) / SL_IOVS);

    for (cl = head; cl != NULL; cl = cl->next) {
        len = (size_t) (cl->buf->last - cl->buf->start);
        ck_assert_uint_eq(len, (size_t) (cl->buf->end - cl->buf->start));
        check_pattern(cl->buf->start, off, len);
        off += len;
    }

    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* --- non-blocking connect ------------------------------------------------ */

typedef struct {
    sl_peer_connection_t  *pc;
    sl_int_t               rc;
    sl_uint_t              done;
} connect_state_t;

static void
on_connected(sl_event_t *wev)
{
    sl_connection_t  *c = wev->data;
    connect_state_t  *st = c->data;

    if (st->done) {
        return;
    }

    st->done = 1;
    st->rc = sl_event_connect_result(st->pc);
    ck_assert_int_eq(sl_handle_write_event(wev, SL_CLOSE_EVENT), SL_OK);
}

/* connects; a timeout (ms) other than 0 arms the write event's timer */
static sl_int_t
connect_to(struct sockaddr_in *sin, sl_str_t *name, connect_state_t *st,
    sl_connection_t **cp, sl_msec_t timeout)
{
    sl_peer_connection_t  pc;
    sl_int_t              rc;

    sl_memzero(&pc, sizeof(pc));
    pc.sockaddr = (struct sockaddr *) sin;
    pc.socklen = sizeof(*sin);
    pc.name = name;
    pc.log = &sl_te.log;

    sl_memzero(st, sizeof(*st));
    st->pc = &pc;
    rc = sl_event_connect_peer(sl_te.loop, &pc);
    *cp = pc.connection;

    if (rc != SL_AGAIN) {
        return rc;
    }

    ck_assert_ptr_nonnull(pc.connection);
    pc.connection->data = st;
    pc.connection->write->handler = on_connected;
    pc.connection->read->handler = on_connected;

    if (timeout) {
        sl_add_timer(pc.connection->write, timeout);
    }

    sl_te_run_until(st->done, 5000);
    return st->rc;
}

START_TEST(test_connect_refused)
{
    sl_str_t            name = sl_string("127.0.0.1:closed");
    struct sockaddr_in  sin;
    connect_state_t     st;
    sl_connection_t    *c;
    sl_int_t            rc;
    int                 s;

    sl_te_open(_i, 16);

    /* a port nobody listens on: bound, then closed */
    s = sl_te_listener(&sin);
    close(s);

    rc = connect_to(&sin, &name, &st, &c, 0);

    if (st.done) {
        ck_assert_msg(rc == SL_ERROR, "%s: connect() to a closed port: %ld",
                      sl_te.be->name, (long) rc);
        ck_assert(c->write->error);
        ck_assert_msg(sl_te_logged("connect() to 127.0.0.1:closed failed "
                                   "(111: Connection refused)"), "%s",
                      sl_te_log());
        sl_close_connection(c);

    } else {
        /* refused at once */
        ck_assert_int_eq(rc, SL_DECLINED);
        ck_assert_ptr_null(c);
        ck_assert_msg(sl_te_logged("(111: Connection refused)"), "%s",
                      sl_te_log());
    }

    sl_te_close();
}
END_TEST

/*
 * A listener whose accept queue is full drops the SYN, so the connect
 * stays in progress until the caller's timer ends it.
 */
START_TEST(test_connect_timeout)
{
    sl_str_t            name = sl_string("127.0.0.1:full");
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    connect_state_t     st;
    sl_connection_t    *c;
    sl_int_t            rc;
    int                 s, fill[4], i;

    sl_te_open(_i, 16);

    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sl_memzero(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *) &sin, &len), 0);
    ck_assert_int_eq(listen(s, 0), 0);

    /* nobody accepts: the queue fills */
    for (i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         0);
        (void) connect(fill[i], (struct sockaddr *) &sin, sizeof(sin));
    }

    rc = connect_to(&sin, &name, &st, &c, 200);

    ck_assert_msg(st.done, "%s: connect() finished at once: %ld",
                  sl_te.be->name, (long) rc);
    ck_assert_int_eq(rc, SL_ERROR);
    ck_assert(c->timedout);
    ck_assert_msg(sl_te_logged("connect() to 127.0.0.1:full timed out "
                               "(110: Connection timed out)"), "%s",
                  sl_te_log());
    sl_close_connection(c);

    for (i = 0; i < 4; i++) {
        close(fill[i]);
    }
    close(s);
    sl_te_close();
}
END_TEST

START_TEST(test_connect_ok)
{
    sl_str_t            name = sl_string("127.0.0.1:listening");
    struct sockaddr_in  sin;
    connect_state_t     st;
    sl_connection_t    *c;
    char                buf[8];
    int                 ls, s;

    sl_te_open(_i, 16);

    ls = sl_te_listener(&sin);
    ck_assert_int_eq(connect_to(&sin, &name, &st, &c, 0), SL_OK);
    ck_assert_ptr_nonnull(c);

    s = accept(ls, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(fcntl(s, F_SETFL, O_NONBLOCK), 0);

    ck_assert_int_eq(c->send(c, (u_char *) "ping", 4), 4);
    ck_assert_uint_eq(sl_te_peer_read(s, buf, 4, 5000), 4);
    ck_assert_mem_eq(buf, "ping", 4);

    sl_close_connection(c);
    close(s);
    close(ls);
    sl_te_close();
}
END_TEST

static Suite *
event_io_suite(void)
{
    Suite  *s = suite_create("event_io");
    TCase  *tc;

    tc = tcase_create("data");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_data_both_ways, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_partial_read, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_writev_chain, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_readv_chain, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_full_send_buffer, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_eof, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_reset, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_half_close, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_epipe, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("connect");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_connect_refused, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_connect_ok, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_connect_timeout, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(event_io_suite)
