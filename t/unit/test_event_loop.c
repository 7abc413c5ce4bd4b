/*
 * test_event_loop.c -- the loop around the back ends, on each of them:
 * timers, posted events and their order, registering and deleting single
 * events, level-triggered listening sockets, the instance bit, what
 * happens to a descriptor closed behind the loop's back, select's
 * FD_SETSIZE, and signals that must end a wait (loop->sigmask).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_shmem.h"

#include <poll.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "sl_t_event.h"
#include "sl_test.h"

/*
 * Under valgrind an accept() past the emulated RLIMIT_NOFILE takes the
 * connection in the kernel, and valgrind then closes it and reports
 * EMFILE: the client sees an end of file. The header is valgrind's own
 * (header-only); without it valgrind is not installed, so not running.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SL_T_ON_VALGRIND  (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef SL_T_ON_VALGRIND
#define SL_T_ON_VALGRIND  0
#endif

SL_TE_BACKENDS;

static int
is_backend(const char *name)
{
    return strcmp(sl_te.be->name, name) == 0;
}

/* an event that is not a connection's: a timer, or a posted job */
static void
init_event(sl_event_t *ev, sl_event_handler_pt handler, void *data)
{
    sl_memzero(ev, sizeof(sl_event_t));
    ev->handler = handler;
    ev->data = data;
    ev->loop = sl_te.loop;
    ev->log = &sl_te.log;
    ev->available = -1;
}

/* --- timers -------------------------------------------------------------- */

#define NTIMERS  8

typedef struct {
    sl_event_t   ev[NTIMERS];
    sl_msec_t    deadline[NTIMERS];
    sl_msec_t    fired_at[NTIMERS];
    sl_uint_t    fired[NTIMERS];
    int          order[4 * NTIMERS];
    int          n;
    int          rearm;        /* ev[rearm] re-arms itself once */
    int          cancel;       /* ev[0]'s handler cancels ev[cancel] */
} timers_t;

static timers_t  T;

static void
on_timer(sl_event_t *ev)
{
    int  i = (int) (ev - T.ev);

    ck_assert(ev->timedout);
    ck_assert(!ev->timer_set);

    T.fired[i]++;
    T.fired_at[i] = sl_current_msec(ev->loop);
    T.order[T.n++] = i;
    ev->timedout = 0;

    if (i == T.rearm && T.fired[i] == 1) {
        sl_add_timer(ev, 10);
        T.deadline[i] = ev->timer.key;
    }

    if (T.cancel != 0 && i == 0 && T.ev[T.cancel].timer_set) {
        sl_del_timer(&T.ev[T.cancel]);
    }
}

static void
arm(int i, sl_msec_t ms)
{
    sl_add_timer(&T.ev[i], ms);
    T.deadline[i] = T.ev[i].timer.key;
}

static void
timers_init(void)
{
    int  i;

    sl_memzero(&T, sizeof(T));
    T.rearm = -1;

    for (i = 0; i < NTIMERS; i++) {
        init_event(&T.ev[i], on_timer, NULL);
    }

    sl_time_update(&sl_te.time);
}

START_TEST(test_timer_order)
{
    static const sl_msec_t  delay[] = { 50, 10, 40, 20, 30, 25, 25 };
    static const int        expect[] = { 1, 3, 5, 6, 4, 2, 0 };
    int                     i;

    sl_te_open(_i, 16);
    timers_init();

    /* 5 and 6 share a deadline: they fire in the order they were set */
    for (i = 0; i < 7; i++) {
        arm(i, delay[i]);
    }

    sl_te_run_until(T.n == 7, 5000);

    for (i = 0; i < 7; i++) {
        ck_assert_int_eq(T.order[i], expect[i]);
        ck_assert_uint_eq(T.fired[i], 1);
        /* never early */
        ck_assert_int_ge((sl_msec_int_t) (T.fired_at[i] - T.deadline[i]), 0);
    }

    ck_assert(sl_event_no_timers_left(sl_te.loop));
    sl_te_close();
}
END_TEST

START_TEST(test_timer_cancel_rearm)
{
    sl_msec_t  key;

    sl_te_open(_i, 16);
    timers_init();

    /* 1 is cancelled before it expires */
    arm(1, 20);
    sl_del_timer(&T.ev[1]);
    ck_assert(!T.ev[1].timer_set);

    /* 0 and 2 expire together; 0's handler cancels 2, which never runs */
    T.cancel = 2;
    arm(0, 30);
    arm(2, 30);

    /* 3 re-arms itself once from its handler */
    T.rearm = 3;
    arm(3, 15);

    /* 4: re-arming within SL_TIMER_LAZY_DELAY of the deadline is a no-op */
    arm(4, 1000);
    key = T.ev[4].timer.key;
    sl_add_timer(&T.ev[4], 1000 + SL_TIMER_LAZY_DELAY - 1);
    ck_assert_uint_eq(T.ev[4].timer.key, key);
    sl_add_timer(&T.ev[4], 1000 - SL_TIMER_LAZY_DELAY + 1);
    ck_assert_uint_eq(T.ev[4].timer.key, key);

    /* ... and beyond it moves the timer, later or earlier */
    sl_add_timer(&T.ev[4], 1000 + SL_TIMER_LAZY_DELAY + 100);
    ck_assert_uint_eq(T.ev[4].timer.key,
                      key + SL_TIMER_LAZY_DELAY + 100);
    arm(4, 40);

    sl_te_run_until(T.fired[3] == 2 && T.fired[4] == 1 && T.fired[0] == 1,
                    5000);
    (void) sl_te_run_for(50);

    ck_assert_uint_eq(T.fired[1], 0);
    ck_assert_uint_eq(T.fired[2], 0);
    ck_assert_uint_eq(T.fired[3], 2);
    ck_assert_uint_eq(T.fired[4], 1);
    ck_assert(!T.ev[2].timer_set);
    ck_assert(sl_event_no_timers_left(sl_te.loop));

    /* a cancelable timer does not hold a graceful exit */
    arm(5, 10000);
    ck_assert(!sl_event_no_timers_left(sl_te.loop));
    T.ev[5].cancelable = 1;
    ck_assert(sl_event_no_timers_left(sl_te.loop));
    sl_del_timer(&T.ev[5]);

    sl_te_close();
}
END_TEST

/* the back end's wait ends at the nearest timer, and no sooner */
START_TEST(test_timer_wait)
{
    sl_msec_t  start, before, elapsed;
    sl_uint_t  iterations = 0;

    sl_te_open(_i, 16);
    timers_init();

    /* the clock the deadline was taken from */
    start = sl_current_msec(sl_te.loop);
    arm(0, 80);

    while (T.fired[0] == 0) {
        sl_process_events_and_timers(sl_te.loop);
        iterations++;
        ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(5000));
    }

    elapsed = sl_te_now() - start;
    ck_assert_uint_ge(elapsed, 80);
    ck_assert_uint_lt(elapsed, (sl_msec_t) sl_t_timeout(1000));
    /* one wait, or two when the first one ended a tick early */
    ck_assert_uint_le(iterations, 3);

    /* timer 0: nothing ready, back at once; the clock not read */
    before = sl_current_msec(sl_te.loop);
    start = sl_te_now();
    ck_assert_int_eq(sl_te.loop->actions->process_events(sl_te.loop, 0, 0),
                     SL_OK);
    ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(50));

    ck_assert_int_eq(sl_te.loop->actions->process_events(sl_te.loop, 30, 0),
                     SL_OK);
    ck_assert_uint_eq(sl_current_msec(sl_te.loop), before);

    /* SL_UPDATE_TIME: the clock is read after the wait */
    ck_assert_int_eq(sl_te.loop->actions->process_events(sl_te.loop, 30,
                                                         SL_UPDATE_TIME),
                     SL_OK);
    ck_assert_uint_ge(sl_current_msec(sl_te.loop) - before, 29);

    sl_te_close();
}
END_TEST

/* --- posted events ------------------------------------------------------- */

static char       seq[64];
static sl_uint_t  iteration;

typedef struct {
    char         tag;
    sl_uint_t    calls;
    sl_uint_t    at[4];        /* the iteration of each call */
    unsigned     ready[4];
} job_t;

static void
on_job(sl_event_t *ev)
{
    job_t  *j = ev->data;

    if (j->calls < 4) {
        j->at[j->calls] = iteration;
        j->ready[j->calls] = ev->ready;
    }

    j->calls++;
    seq[strlen(seq)] = j->tag;
    ev->timedout = 0;
}

/* a job that yields once: it posts itself to the "next" queue */
static void
on_yield(sl_event_t *ev)
{
    job_t  *j = ev->data;

    on_job(ev);

    if (j->calls == 1) {
        ev->ready = 0;
        sl_post_event(ev, &ev->loop->posted_next_events);
    }
}

START_TEST(test_posted_order)
{
    sl_event_t  acc, post, tm, next;
    job_t       ja = { 'A', 0, {0}, {0} }, jp = { 'P', 0, {0}, {0} };
    job_t       jt = { 'T', 0, {0}, {0} }, jn = { 'N', 0, {0}, {0} };
    sl_msec_t   start;

    sl_te_open(_i, 16);
    sl_memzero(seq, sizeof(seq));
    iteration = 1;

    init_event(&acc, on_job, &ja);
    init_event(&post, on_job, &jp);
    init_event(&tm, on_job, &jt);
    init_event(&next, on_yield, &jn);
    acc.accept = 1;

    /* posted in the "wrong" order; a timer due now */
    sl_post_event(&next, &sl_te.loop->posted_events);
    sl_post_event(&post, &sl_te.loop->posted_events);
    sl_post_event(&acc, &sl_te.loop->posted_accept_events);
    sl_time_update(&sl_te.time);
    sl_add_timer(&tm, 0);

    /* accept events, then timers, then the rest in the order posted */
    start = sl_te_now();
    sl_te_run_once(5000);
    ck_assert_str_eq(seq, "ATNP");
    ck_assert(!acc.posted && !post.posted);

    /* the yielding job waits for the next iteration, which does not block
     * (no timer is set) and hands it back ready */
    ck_assert_uint_eq(jn.calls, 1);
    ck_assert(next.posted);

    iteration = 2;
    sl_process_events_and_timers(sl_te.loop);
    ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(1000));

    ck_assert_str_eq(seq, "ATNPN");
    ck_assert_uint_eq(jn.calls, 2);
    ck_assert_uint_eq(jn.at[0], 1);
    ck_assert_uint_eq(jn.at[1], 2);
    ck_assert_uint_eq(jn.ready[1], 1);
    ck_assert(sl_queue_empty(&sl_te.loop->posted_next_events));

    sl_te_close();
}
END_TEST

/* --- what a back end reports, posted (SL_POST_EVENTS) --------------------- */

static sl_uint_t  handler_calls;

static void
on_count(sl_event_t *ev)
{
    sl_unused(ev);
    handler_calls++;
}

static int
queued(sl_queue_t *q, sl_event_t *ev)
{
    sl_queue_t  *x;

    for (x = sl_queue_head(q); x != sl_queue_sentinel(q); x = sl_queue_next(x))
    {
        if (x == &ev->queue) {
            return 1;
        }
    }

    return 0;
}

START_TEST(test_post_events_flag)
{
    struct sockaddr_in   sin;
    sl_connection_t     *lc, *c;
    sl_event_loop_t     *loop;
    int                  ls, cl, fds[2], i;

    sl_te_open(_i, 16);
    loop = sl_te.loop;
    handler_calls = 0;

    ls = sl_te_listener(&sin);
    lc = sl_te_conn(ls, on_count, NULL, NULL);
    lc->read->accept = 1;
    ck_assert_int_eq(sl_add_event(lc->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);

    sl_te_socketpair(fds);
    c = sl_te_conn(fds[0], on_count, on_count, NULL);
    sl_te_watch(c);

    cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(cl, (struct sockaddr *) &sin, sizeof(sin)), 0);
    sl_te_peer_write(fds[1], "x", 1);

    for (i = 0; i < 10 && !(lc->read->posted && c->read->posted); i++) {
        ck_assert_int_eq(loop->actions->process_events(loop, 1000,
                                                       SL_POST_EVENTS),
                         SL_OK);
    }

    /* nothing ran; the accept event waits in its own queue */
    ck_assert_uint_eq(handler_calls, 0);
    ck_assert(lc->read->ready && c->read->ready);
    ck_assert(queued(&loop->posted_accept_events, lc->read));
    ck_assert(queued(&loop->posted_events, c->read));
    ck_assert(!queued(&loop->posted_events, lc->read));

    sl_event_process_posted(loop, &loop->posted_accept_events);
    ck_assert_uint_eq(handler_calls, 1);
    sl_event_process_posted(loop, &loop->posted_events);
    ck_assert_uint_ge(handler_calls, 2);

    sl_close_connection(c);
    sl_close_connection(lc);
    close(fds[1]);
    close(cl);
    sl_te_close();
}
END_TEST

/* --- single events: add and del ------------------------------------------ */

typedef struct {
    sl_uint_t  reads;
    sl_uint_t  writes;
    size_t     got;
} counts_t;

static counts_t  K;

static void
on_count_read(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    u_char            buf[256];
    ssize_t           n;

    K.reads++;

    while ((n = c->recv(c, buf, sizeof(buf))) > 0) {
        K.got += (size_t) n;
    }
}

static void
on_count_write(sl_event_t *wev)
{
    sl_unused(wev);
    K.writes++;
}

START_TEST(test_add_del)
{
    sl_connection_t  *c;
    sl_uint_t         n;
    int               fds[2];

    sl_te_open(_i, 16);
    sl_memzero(&K, sizeof(K));

    sl_te_socketpair(fds);
    c = sl_te_conn(fds[0], on_count_read, on_count_write, NULL);

    /* both directions, level-triggered: a writable socket is reported
     * again and again */
    ck_assert_int_eq(sl_add_event(c->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    ck_assert_int_eq(sl_add_event(c->write, SL_WRITE_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    ck_assert(c->read->active && c->write->active);
    sl_te_run_until(K.writes >= 3, 5000);

    /* deleting the write event keeps the read event */
    ck_assert_int_eq(sl_del_event(c->write, SL_WRITE_EVENT, 0), SL_OK);
    ck_assert(!c->write->active && c->read->active);
    n = K.writes;
    (void) sl_te_run_for(50);
    ck_assert_uint_eq(K.writes, n);

    sl_te_peer_write(fds[1], "abc", 3);
    sl_te_run_until(K.got == 3, 5000);
    ck_assert_uint_eq(K.writes, n);

    /* deleting the read event too: data goes unnoticed */
    ck_assert_int_eq(sl_del_event(c->read, SL_READ_EVENT, 0), SL_OK);
    ck_assert(!c->read->active);
    n = K.reads;
    sl_te_peer_write(fds[1], "def", 3);
    (void) sl_te_run_for(50);
    ck_assert_uint_eq(K.reads, n);

    /* and adding it back finds it */
    ck_assert_int_eq(sl_add_event(c->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    sl_te_run_until(K.got == 6, 5000);

    /* the write event alone, then the read event back beside it */
    ck_assert_int_eq(sl_del_event(c->read, SL_READ_EVENT, 0), SL_OK);
    n = K.writes;
    ck_assert_int_eq(sl_add_event(c->write, SL_WRITE_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    sl_te_run_until(K.writes >= n + 2, 5000);
    ck_assert_int_eq(sl_add_event(c->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    ck_assert_int_eq(sl_del_event(c->write, SL_WRITE_EVENT, 0), SL_OK);
    sl_te_peer_write(fds[1], "ghi", 3);
    sl_te_run_until(K.got == 9, 5000);

    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
}
END_TEST

/* --- sl_event_accept() and multi_accept ---------------------------------- */

static sl_uint_t  accepted;
static in_port_t  accepted_port[16];   /* the peers' ports, in order */

/* the protocol's handler: count the connection, then close it */
static void
on_new_connection(sl_connection_t *c)
{
    sl_pool_t  *pool = c->pool;

    if (accepted < sizeof(accepted_port) / sizeof(accepted_port[0])) {
        ck_assert_int_eq(c->sockaddr->sa_family, AF_INET);
        accepted_port[accepted] =
            ((struct sockaddr_in *) c->sockaddr)->sin_port;
    }
    accepted++;
    ck_assert_ptr_nonnull(pool);
    ck_assert(c->write->ready);
    ck_assert_uint_gt(c->addr_text.len, 0);
    sl_close_connection(c);
    sl_destroy_pool(pool);
}

static void
connect_clients(struct sockaddr_in *sin, int *fds, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fds[i], (struct sockaddr *) sin,
                                 sizeof(*sin)), 0);
    }
}

/*
 * With multi_accept one readiness report accepts every queued connection;
 * without it, one. Through the real accept handler, on every back end.
 */
START_TEST(test_multi_accept)
{
    struct sockaddr_in   sin;
    sl_listening_t       ls;
    sl_connection_t     *lc;
    int                  s, fds[8], i;

    sl_te_open(_i, 32);
    s = sl_te_listener(&sin);

    sl_memzero(&ls, sizeof(ls));
    ls.fd = s;
    ls.sockaddr = (struct sockaddr *) &sin;
    ls.socklen = sizeof(sin);
    ls.type = SOCK_STREAM;
    ls.pool_size = 512;
    ls.log = sl_te.log;
    ls.handler = on_new_connection;

    lc = sl_te_conn(s, sl_event_accept, NULL, NULL);
    lc->listening = &ls;
    lc->read->accept = 1;
    ck_assert_int_eq(sl_add_event(lc->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);

    accepted = 0;
    sl_te.loop->multi_accept = 1;
    connect_clients(&sin, fds, 5);
    sl_process_events_and_timers(sl_te.loop);
    ck_assert_msg(accepted == 5, "%s: multi_accept on: %lu accepted by one "
                  "report", sl_te.be->name, (unsigned long) accepted);

    sl_te.loop->multi_accept = 0;
    connect_clients(&sin, fds + 5, 3);
    sl_process_events_and_timers(sl_te.loop);
    ck_assert_msg(accepted == 6, "%s: multi_accept off: %lu accepted",
                  sl_te.be->name, (unsigned long) accepted - 5);

    /* the rest follow, one a report */
    sl_te_run_until(accepted == 8, 5000);

    for (i = 0; i < 8; i++) {
        close(fds[i]);
    }
    sl_close_connection(lc);    /* closes s */
    sl_te_close();
}
END_TEST

/* --- a listening socket is level-triggered -------------------------------- */

typedef struct {
    int        fds[8];
    int        n;
    int        available[8];
} acceptor_t;

static acceptor_t  Q;

/* accepts one connection a call, leaving the rest queued */
static void
on_accept_one(sl_event_t *ev)
{
    sl_connection_t  *lc = ev->data;
    int               s;

    s = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s == -1) {
        ck_assert_int_eq(errno, EAGAIN);
        return;
    }

    ck_assert_int_lt(Q.n, 8);
    Q.available[Q.n] = ev->available;
    Q.fds[Q.n++] = s;
}

static int
client(struct sockaddr_in *sin)
{
    int  s;

    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(connect(s, (struct sockaddr *) sin, sizeof(*sin)), 0);
    return s;
}

/* whether on_new_connection() had the client on fd as its peer */
static int
was_accepted(int fd)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    sl_uint_t           i;

    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);

    for (i = 0; i < accepted && i < sizeof(accepted_port)
                                    / sizeof(accepted_port[0]); i++)
    {
        if (accepted_port[i] == sin.sin_port) {
            return 1;
        }
    }

    return 0;
}

/* whether the client on fd has seen its peer close (nothing is sent) */
static int
at_eof(int fd)
{
    char  ch;

    return recv(fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
}

START_TEST(test_listen_level)
{
    struct sockaddr_in   sin;
    sl_connection_t     *lc;
    int                  ls, cl[3], i;

    sl_te_open(_i, 16);
    sl_memzero(&Q, sizeof(Q));

    ls = sl_te_listener(&sin);
    lc = sl_te_conn(ls, on_accept_one, NULL, NULL);
    lc->read->accept = 1;
    ck_assert_int_eq(sl_add_event(lc->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);

    cl[0] = client(&sin);
    cl[1] = client(&sin);

    /* one accept a call: the second connection is reported again */
    sl_te_run_until(Q.n == 2, 5000);

    if (sl_te.loop->flags & SL_USE_KQUEUE_EVENT) {
        /* kev.data of a listening socket: its backlog */
        ck_assert_int_eq(Q.available[0], 2);
    }

    /* off: a third connection waits; on again: it is accepted */
    ck_assert_int_eq(sl_del_event(lc->read, SL_READ_EVENT, 0), SL_OK);
    cl[2] = client(&sin);
    (void) sl_te_run_for(50);
    ck_assert_int_eq(Q.n, 2);

    ck_assert_int_eq(sl_add_event(lc->read, SL_READ_EVENT, SL_LEVEL_EVENT),
                     SL_OK);
    sl_te_run_until(Q.n == 3, 5000);

    for (i = 0; i < 3; i++) {
        close(cl[i]);
        close(Q.fds[i]);
    }

    sl_close_connection(lc);
    sl_te_close();
}
END_TEST

/* --- EMFILE and the accept mutex ---------------------------------------- */

/* a cycle with one listening socket on s, as sl_event_loop_listen() takes */
static sl_listening_t *
mutex_cycle(sl_cycle_t *cycle, int s, struct sockaddr_in *sin)
{
    sl_listening_t  *ls;

    sl_memzero(cycle, sizeof(*cycle));
    ck_assert_int_eq(sl_array_init(&cycle->listening, sl_te.pool, 1,
                                   sizeof(sl_listening_t)), SL_OK);
    ls = sl_array_push(&cycle->listening);
    ck_assert_ptr_nonnull(ls);
    sl_memzero(ls, sizeof(*ls));

    ls->fd = s;
    ls->sockaddr = (struct sockaddr *) sin;
    ls->socklen = sizeof(*sin);
    ls->type = SOCK_STREAM;
    ls->pool_size = 512;
    ls->log = sl_te.log;
    ls->handler = on_new_connection;

    return ls;
}

/*
 * With the accept mutex only its holder watches the listening sockets.
 * A worker that ran out of descriptors pauses accepting; when the pause
 * ends while another worker holds the mutex, it must not watch them (nor
 * accept) until it takes the mutex itself: nginx's rule, issue 13 item 7.
 */
START_TEST(test_emfile_retry_accept_mutex)
{
    static sl_cycle_t    cycle;
    static sl_shmtx_t    mtx;
    struct sockaddr_in   sin;
    struct rlimit        rl, low;
    sl_listening_t      *ls;
    sl_connection_t     *lc;
    sl_event_loop_t     *loop;
    int                  s, cl[3], lowest;

    sl_te_open(_i, 16);
    loop = sl_te.loop;
    s = sl_te_listener(&sin);
    ls = mutex_cycle(&cycle, s, &sin);

    mtx.lock = 0;
    loop->cycle = &cycle;
    loop->accept_mutex = &mtx;
    loop->accept_mutex_pid = (sl_uint_t) getpid();
    loop->accept_mutex_delay = 20;
    ck_assert_int_eq(sl_event_loop_listen(loop, &cycle), SL_OK);
    lc = ls->connection;

    /* this worker takes the mutex and accepts */
    accepted = 0;
    cl[0] = client(&sin);
    sl_te_run_until(accepted == 1, 5000);

    /* out of descriptors: accept() fails with EMFILE and accepting pauses */
    cl[1] = client(&sin);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    lowest = dup(s);
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    low = rl;
    low.rlim_cur = (rlim_t) lowest;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    sl_te_run_until(sl_te_logged("accept() failed (24: "), 5000);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert(!lc->read->active);

    /* another worker holds the mutex when the pause ends */
    mtx.lock = (sl_uint_t) getpid() + 1;
    sl_te_run_until(!lc->read->timer_set, 5000);
    (void) sl_te_run_for(100);

    ck_assert_msg(!lc->read->active, "%s: the listening socket is watched "
                  "after the EMFILE pause while another worker holds the "
                  "accept mutex", sl_te.be->name);
    ck_assert_msg(accepted == 1, "%s: accepted without the accept mutex",
                  sl_te.be->name);

    /*
     * The mutex is free again: this worker takes it and accepts the rest,
     * cl[1] (queued first: the kernel keeps a connection accept() had no
     * descriptor for) and then cl[2]. Under valgrind cl[1] is gone: its
     * accept() took it and valgrind closed it (see SL_T_ON_VALGRIND).
     */
    mtx.lock = 0;
    cl[2] = client(&sin);
    sl_te_run_until(was_accepted(cl[2]), 5000);
    ck_assert(lc->read->active);

    if (!was_accepted(cl[1])) {
        ck_assert_msg(SL_T_ON_VALGRIND, "%s: the connection queued during "
                      "the EMFILE pause was not accepted", sl_te.be->name);
        ck_assert_msg(at_eof(cl[1]), "%s: under valgrind, the connection "
                      "queued during the EMFILE pause was neither accepted "
                      "nor closed by accept()", sl_te.be->name);
    }
    ck_assert_uint_eq(accepted, 2 + was_accepted(cl[1]));

    close(cl[0]);
    close(cl[1]);
    close(cl[2]);
    loop->accept_mutex = NULL;
    sl_te_close();
    close(s);
}
END_TEST

/* --- the instance bit: a slot closed and reused within one batch ---------- */

typedef struct {
    sl_connection_t  *c[2];
    int               peer[2];
    sl_connection_t  *reused;
    int               reused_peer;
    sl_uint_t         first_calls;
    sl_uint_t         reused_calls;
    sl_uint_t         stale;       /* called with nothing to read */
    size_t            reused_got;
} stale_t;

static stale_t  S;

static void
on_reused(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    u_char            buf[64];
    ssize_t           n;

    S.reused_calls++;

    n = c->recv(c, buf, sizeof(buf));
    if (n == SL_AGAIN) {
        S.stale++;
    } else {
        ck_assert_int_gt(n, 0);
        S.reused_got += (size_t) n;
    }

    ck_assert_int_eq(sl_handle_read_event(rev, 0), SL_OK);
}

/* the first of two ready connections closes the other and reuses its slot */
static void
on_first(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data, *other;
    u_char            buf[64];
    int               fds[2];

    S.first_calls++;
    (void) c->recv(c, buf, sizeof(buf));

    if (S.reused != NULL) {
        return;
    }

    other = (c == S.c[0]) ? S.c[1] : S.c[0];
    sl_close_connection(other);

    /* a new descriptor, most likely the number just closed */
    sl_te_socketpair(fds);
    S.reused = sl_te_conn(fds[0], on_reused, NULL, NULL);
    S.reused_peer = fds[1];
    ck_assert_ptr_eq(S.reused, other);
    sl_te_watch(S.reused);

    ck_assert_int_eq(sl_handle_read_event(rev, 0), SL_OK);
}

START_TEST(test_instance_stale)
{
    int  i, fds[2];

    sl_te_open(_i, 16);
    sl_memzero(&S, sizeof(S));

    for (i = 0; i < 2; i++) {
        sl_te_socketpair(fds);
        S.c[i] = sl_te_conn(fds[0], on_first, NULL, NULL);
        S.peer[i] = fds[1];
        sl_te_watch(S.c[i]);
        /* both readable before the wait: one batch reports both */
        sl_te_peer_write(fds[1], "x", 1);
    }

    sl_te_run_once(5000);

    /* the closed one's event in the batch went nowhere */
    ck_assert_uint_eq(S.first_calls, 1);
    ck_assert_ptr_nonnull(S.reused);
    ck_assert_msg(S.reused_calls == 0, "%s: the stale event ran the new "
                  "owner's handler", sl_te.be->name);

    /* the new owner's own events do come */
    sl_te_peer_write(S.reused_peer, "new", 3);
    sl_te_run_until(S.reused_got == 3, 5000);
    ck_assert_uint_eq(S.stale, 0);
    ck_assert_uint_eq(S.first_calls, 1);

    for (i = 0; i < 2; i++) {
        close(S.peer[i]);
    }
    close(S.reused_peer);

    sl_te_close();
}
END_TEST

/* --- closing before the changes reach the kernel -------------------------- */

START_TEST(test_close_before_wait)
{
    sl_connection_t  *c;
    int               fds[2], again[2];

    sl_te_open(_i, 16);
    sl_memzero(&K, sizeof(K));

    /* registered (kqueue: only in its change list) and closed at once */
    sl_te_socketpair(fds);
    c = sl_te_conn(fds[0], on_count_read, on_count_write, NULL);
    sl_te_watch(c);
    ck_assert_int_eq(sl_add_event(c->write, SL_WRITE_EVENT, SL_LEVEL_EVENT
                                  | (sl_te_edge() ? SL_CLEAR_EVENT : 0)),
                     SL_OK);
    sl_close_connection(c);
    close(fds[1]);

    (void) sl_te_run_for(30);
    ck_assert_msg(!sl_te_logged("[alert]") && !sl_te_logged("[crit]"),
                  "%s: %s", sl_te.be->name, sl_te_log());
    ck_assert_uint_eq(K.reads + K.writes, 0);

    /* the numbers come back for new sockets, which work */
    sl_te_socketpair(again);
    c = sl_te_conn(again[0], on_count_read, NULL, NULL);
    sl_te_watch(c);
    sl_te_peer_write(again[1], "ok", 2);
    sl_te_run_until(K.got == 2, 5000);
    ck_assert_msg(!sl_te_logged("[alert]"), "%s", sl_te_log());

    sl_close_connection(c);
    close(again[1]);
    sl_te_close();
}
END_TEST

/* --- a descriptor closed without deleting its events ---------------------- */

static sl_uint_t  bad_calls;

static void
forget_connection(sl_connection_t *c)
{
    (void) c->loop->actions->del_conn(c, SL_CLOSE_EVENT);
    c->fd = SL_INVALID_FILE;
    c->read->closed = 1;
    c->write->closed = 1;
    sl_free_connection(c);
}

static void
on_bad(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;
    u_char            buf[8];

    bad_calls++;

    /* the handler sees the error through recv() */
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), SL_ERROR);
    ck_assert(rev->error);
    forget_connection(c);
}

START_TEST(test_closed_without_delete)
{
    sl_connection_t  *c;
    sl_uint_t         n;
    char              text[128];
    int               fds[2], fd;

    sl_te_open(_i, 16);
    bad_calls = 0;

    sl_te_socketpair(fds);
    c = sl_te_conn(fds[0], on_bad, NULL, NULL);
    sl_te_watch(c);
    sl_te_run_once(0);

    /* the bug this guards against: close() behind the loop's back */
    fd = c->fd;
    close(fd);

    n = sl_te_run_for(200);
    ck_assert_msg(n < 50, "%s: %lu iterations in 200 ms: spinning",
                  sl_te.be->name, (unsigned long) n);

    if (is_backend("poll") || is_backend("select")) {
        snprintf(text, sizeof(text), "%s() reported an invalid descriptor "
                 "%d", sl_te.be->name, fd);
        ck_assert_msg(sl_te_logged(text), "%s", sl_te_log());
        ck_assert_msg(sl_te_logged("[alert]"), "%s", sl_te_log());
        ck_assert_uint_eq(bad_calls, 1);

    } else {
        /* the kernel forgot the registration with the descriptor */
        ck_assert_uint_eq(bad_calls, 0);
        forget_connection(c);
    }

    close(fds[1]);
    sl_te_close();
}
END_TEST

/* --- select and FD_SETSIZE ------------------------------------------------ */

START_TEST(test_fd_setsize)
{
    struct rlimit     old, rl;
    sl_connection_t  *c;
    sl_uint_t         got = 0;
    char              text[128];
    int               fds[2], high = FD_SETSIZE + 5;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;

    if (rl.rlim_cur <= (rlim_t) high) {
        rl.rlim_cur = (rlim_t) high + 1;
        if (rl.rlim_max < rl.rlim_cur) {
            rl.rlim_max = rl.rlim_cur;
        }

        if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
            fprintf(stderr, "test_fd_setsize: skipped: RLIMIT_NOFILE is %lu "
                    "and cannot be raised above %d: %s\n",
                    (unsigned long) old.rlim_cur, high, strerror(errno));
            return;
        }
    }

    sl_te_socketpair(fds);

    if (dup2(fds[0], high) == -1) {
        fprintf(stderr, "test_fd_setsize: skipped: dup2(%d) failed: %s\n",
                high, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        (void) setrlimit(RLIMIT_NOFILE, &old);
        return;
    }

    close(fds[0]);
    sl_te_open(_i, 16);

    c = sl_te_conn(high, on_count_read, NULL, NULL);
    sl_memzero(&K, sizeof(K));

    if (is_backend("select")) {
        /* refused, with the reason; nothing written past the fd_set */
        ck_assert_int_eq(sl_handle_read_event(c->read, 0), SL_ERROR);
        ck_assert(!c->read->active);
        snprintf(text, sizeof(text), "the descriptor %d is not less than "
                 "FD_SETSIZE (%d): use epoll or poll", high, FD_SETSIZE);
        ck_assert_msg(sl_te_logged(text), "%s", sl_te_log());

    } else {
        /* the others take it */
        sl_te_watch(c);
        sl_te_peer_write(fds[1], "high", 4);
        sl_te_run_until(K.got == 4, 5000);
        got = K.got;
        ck_assert_uint_eq(got, 4);
    }

    sl_close_connection(c);
    close(fds[1]);
    sl_te_close();
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
END_TEST

/* --- signals -------------------------------------------------------------- */

static volatile sig_atomic_t  got_usr1;

static void
on_usr1(int signo)
{
    sl_unused(signo);
    got_usr1 = 1;
}

START_TEST(test_signal_mask)
{
    struct sigaction  sa, old_sa;
    sigset_t          block, old_mask, wait_mask;
    sl_msec_t         start;
    pid_t             pid;
    int               status;

    sl_memzero(&sa, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);

    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &wait_mask), 0);
    sigdelset(&wait_mask, SIGUSR1);

    sl_te_open(_i, 16);

    /* without the mask, a signal that came after the flags were looked at
     * stays blocked through the whole wait */
    got_usr1 = 0;
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    start = sl_te_now();
    sl_te_run_once(200);
    ck_assert_uint_ge(sl_te_now() - start, 150);
    ck_assert(!got_usr1);

    /* with it, the same pending signal ends the wait at once */
    sl_te.loop->sigmask = &wait_mask;
    start = sl_te_now();
    sl_te_run_once(5000);
    ck_assert_msg(got_usr1, "%s: the handler did not run", sl_te.be->name);
    ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(1000));

    /* one sent while waiting ends it too */
    got_usr1 = 0;
    pid = fork();
    ck_assert_int_ge(pid, 0);

    if (pid == 0) {
        usleep(100 * 1000);
        (void) kill(getppid(), SIGUSR1);
        _exit(0);
    }

    start = sl_te_now();
    sl_te_run_once(5000);
    ck_assert_msg(got_usr1, "%s: the handler did not run", sl_te.be->name);
    ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(2000));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);

    /* and one pending before a later wait, once more */
    got_usr1 = 0;
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    start = sl_te_now();
    sl_te_run_once(5000);
    ck_assert(got_usr1);
    ck_assert_uint_lt(sl_te_now() - start, (sl_msec_t) sl_t_timeout(1000));

    sl_te_close();

    ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &old_sa, NULL), 0);
}
END_TEST

/* after a failure without fork: SIGUSR1 as it was for the next test */
static void
signals_teardown(void)
{
    sigset_t  usr1;

    sl_te_teardown();

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    (void) sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    (void) signal(SIGUSR1, SIG_DFL);
}

static Suite *
event_loop_suite(void)
{
    Suite  *s = suite_create("event_loop");
    TCase  *tc;

    tc = tcase_create("timers");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_timer_order, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_timer_cancel_rearm, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_timer_wait, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("posted");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_posted_order, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_post_events_flag, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("registration");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, sl_te_teardown);
    tcase_add_loop_test(tc, test_add_del, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_listen_level, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_multi_accept, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_emfile_retry_accept_mutex, 0,
                        SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_instance_stale, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_close_before_wait, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_closed_without_delete, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_fd_setsize, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("signals");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, signals_teardown);
    tcase_add_loop_test(tc, test_signal_mask, 0, SL_TE_NBACKENDS);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(event_loop_suite)
