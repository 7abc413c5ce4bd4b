/*
 * sl_epoll_module.c -- the epoll back end (Linux).
 *
 * Connections are registered once, edge-triggered, for both directions
 * (add_conn); a handler then reads or writes until EAGAIN, which clears
 * `ready`, and the next edge reports it again. Listening sockets are added
 * level-triggered, so an accept loop that stops early is called again.
 *
 * The kernel hands back data.ptr: the connection, with the read event's
 * `instance` bit in its lowest bit (a connection is at least 2-aligned).
 * A handler early in a batch may close a connection and sl_get_connection()
 * may give its slot to a new descriptor, flipping `instance`: an event
 * for the old descriptor later in the same batch then no longer matches
 * and is dropped.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <sys/epoll.h>

#if (SL_HAVE_EPOLLRDHUP)
#define SL_EPOLL_RDHUP  EPOLLRDHUP
#else
#define SL_EPOLL_RDHUP  0
#endif

#define SL_EPOLL_READ   (EPOLLIN | SL_EPOLL_RDHUP)
#define SL_EPOLL_WRITE  EPOLLOUT

typedef struct {
    int                  ep;
    struct epoll_event  *list;
    int                  nevents;
} sl_epoll_t;

static sl_int_t sl_epoll_init(sl_event_loop_t *loop, sl_uint_t nevents);
static void sl_epoll_done(sl_event_loop_t *loop);
static sl_int_t sl_epoll_add_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_epoll_del_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_epoll_add_connection(sl_connection_t *c);
static sl_int_t sl_epoll_del_connection(sl_connection_t *c, sl_uint_t flags);
static sl_int_t sl_epoll_process_events(sl_event_loop_t *loop,
    sl_msec_t timer, sl_uint_t flags);

const sl_event_actions_t  sl_epoll_actions = {
    sl_string("epoll"),
    SL_USE_CLEAR_EVENT | SL_USE_GREEDY_EVENT | SL_USE_EPOLL_EVENT
#if (SL_HAVE_EPOLLRDHUP)
    | SL_USE_RDHUP_EVENT
#endif
    ,
    sl_epoll_init,
    sl_epoll_done,
    sl_epoll_add_event,
    sl_epoll_del_event,
    sl_epoll_add_connection,
    sl_epoll_del_connection,
    sl_epoll_process_events
};

static sl_event_module_t  sl_epoll_module_ctx = {
    sl_string("epoll"),
    NULL,
    NULL,
    &sl_epoll_actions
};

sl_module_t  sl_epoll_module = {
    .name = "sl_epoll_module",
    .ctx = &sl_epoll_module_ctx,
    .type = SL_EVENT_MODULE,
};

static sl_int_t
sl_epoll_init(sl_event_loop_t *loop, sl_uint_t nevents)
{
    sl_epoll_t  *ep;

    ep = sl_calloc(sizeof(sl_epoll_t), loop->log);
    if (ep == NULL) {
        return SL_ERROR;
    }

    /* a batch larger than INT_MAX events is pointless: cap it */
    ep->nevents = (int) sl_min(sl_max(nevents, 1), (sl_uint_t) INT_MAX / 2);

    ep->list = sl_alloc(sizeof(struct epoll_event) * (size_t) ep->nevents,
                        loop->log);
    if (ep->list == NULL) {
        sl_free(ep);
        return SL_ERROR;
    }

    ep->ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep->ep == -1) {
        sl_log_error(SL_LOG_EMERG, loop->log, errno,
                     "epoll_create1() failed");
        sl_free(ep->list);
        sl_free(ep);
        return SL_ERROR;
    }

    loop->backend = ep;
    loop->backend_fd = ep->ep;
    return SL_OK;
}

static void
sl_epoll_done(sl_event_loop_t *loop)
{
    sl_epoll_t  *ep = loop->backend;

    if (ep == NULL) {
        return;
    }

    if (close(ep->ep) == -1) {
        sl_log_error(SL_LOG_ALERT, loop->log, errno, "epoll close() failed");
    }

    sl_free(ep->list);
    sl_free(ep);
    loop->backend = NULL;
}

/* the kernel's cookie for c: the pointer with the instance bit */
static void *
sl_epoll_cookie(sl_connection_t *c)
{
    return (void *) ((uintptr_t) c | c->read->instance);
}

static sl_int_t
sl_epoll_ctl(sl_connection_t *c, int op, uint32_t events)
{
    sl_epoll_t          *ep = c->loop->backend;
    struct epoll_event   ee;

    ee.events = events;
    ee.data.ptr = sl_epoll_cookie(c);

    if (epoll_ctl(ep->ep, op, c->fd, &ee) == -1) {
        sl_log_error(SL_LOG_ALERT, c->log, errno,
                     "epoll_ctl(%d, %d) failed", op, c->fd);
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * A descriptor has one registration for both directions: adding one
 * direction while the other is registered is a MOD keeping the other's
 * bits. The trigger mode is the fd's: the one asked for now.
 */
static sl_int_t
sl_epoll_add_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_event_t       *other;
    uint32_t          events;
    int               op;

    if (event == SL_READ_EVENT) {
        other = c->write;
        events = SL_EPOLL_READ;
    } else {
        other = c->read;
        events = SL_EPOLL_WRITE;
    }

    op = EPOLL_CTL_ADD;

    if (other->active) {
        op = EPOLL_CTL_MOD;
        events |= (event == SL_READ_EVENT) ? SL_EPOLL_WRITE : SL_EPOLL_READ;
    } else if (ev->active) {
        op = EPOLL_CTL_MOD;      /* re-adding: perhaps another mode */
    }

    if (flags & SL_CLEAR_EVENT) {
        events |= EPOLLET;
    }

#if (SL_HAVE_EPOLLEXCLUSIVE)
    /* a listening socket: the kernel takes no other bits with it */
    if ((flags & SL_EXCLUSIVE_EVENT) && op == EPOLL_CTL_ADD) {
        events = EPOLLIN | EPOLLEXCLUSIVE;
    }
#endif

    if (sl_epoll_ctl(c, op, events) != SL_OK) {
        return SL_ERROR;
    }

    ev->active = 1;
    return SL_OK;
}

/*
 * The other direction, when registered, stays so with the trigger mode in
 * flags (callers pass the mode they registered it with). A descriptor
 * about to be closed needs no call: closing it leaves the epoll set.
 */
static sl_int_t
sl_epoll_del_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_event_t       *other;
    uint32_t          events;

    if (flags & SL_CLOSE_EVENT) {
        ev->active = 0;
        return SL_OK;
    }

    if (!ev->active) {
        return SL_OK;
    }

    other = (event == SL_READ_EVENT) ? c->write : c->read;

    if (!other->active) {
        if (sl_epoll_ctl(c, EPOLL_CTL_DEL, 0) != SL_OK) {
            return SL_ERROR;
        }

        ev->active = 0;
        return SL_OK;
    }

    events = (event == SL_READ_EVENT) ? SL_EPOLL_WRITE : SL_EPOLL_READ;

    if (flags & SL_CLEAR_EVENT) {
        events |= EPOLLET;
    }

    if (sl_epoll_ctl(c, EPOLL_CTL_MOD, events) != SL_OK) {
        return SL_ERROR;
    }

    ev->active = 0;
    return SL_OK;
}

/* both directions, edge-triggered, for the connection's whole life */
static sl_int_t
sl_epoll_add_connection(sl_connection_t *c)
{
    if (sl_epoll_ctl(c, EPOLL_CTL_ADD,
                     SL_EPOLL_READ | SL_EPOLL_WRITE | EPOLLET)
        != SL_OK)
    {
        return SL_ERROR;
    }

    c->read->active = 1;
    c->write->active = 1;
    return SL_OK;
}

static sl_int_t
sl_epoll_del_connection(sl_connection_t *c, sl_uint_t flags)
{
    if (!(flags & SL_CLOSE_EVENT)
        && (c->read->active || c->write->active)
        && sl_epoll_ctl(c, EPOLL_CTL_DEL, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    c->read->active = 0;
    c->write->active = 0;
    return SL_OK;
}

/*
 * An event already posted (a "next" event moved back, say) runs from its
 * queue, ready now set: calling it here as well would run it twice.
 */
static void
sl_epoll_dispatch(sl_event_loop_t *loop, sl_event_t *ev, sl_uint_t flags)
{
    ev->ready = 1;
    ev->available = -1;

    sl_event_dispatch(loop, ev, flags);
}

/* one entry of the batch; a stale one (closed, slot reused) is dropped */
static void
sl_epoll_process_one(sl_event_loop_t *loop, struct epoll_event *ee,
    sl_uint_t flags)
{
    sl_connection_t  *c;
    sl_event_t       *rev, *wev;
    uintptr_t         instance;
    uint32_t          revents;

    instance = (uintptr_t) ee->data.ptr & 1;
    c = (sl_connection_t *) ((uintptr_t) ee->data.ptr & ~(uintptr_t) 1);

    rev = c->read;

    if (c->fd == SL_INVALID_FILE || rev->instance != instance) {
        sl_log_debug(loop->log, "epoll: stale event %p", c);
        return;
    }

    revents = ee->events;

    /*
     * An error or a hangup: report both directions, and the handler's
     * recv() or send() returns the error.
     */
    if (revents & (EPOLLERR | EPOLLHUP)) {
        revents |= EPOLLIN | EPOLLOUT;
    }

    if ((revents & (EPOLLIN | SL_EPOLL_RDHUP)) && rev->active) {
        if (revents & SL_EPOLL_RDHUP) {
            rev->pending_eof = 1;
        }

        sl_epoll_dispatch(loop, rev, flags);
    }

    wev = c->write;

    if ((revents & EPOLLOUT) && wev->active) {
        /* the read handler may have closed c, and c been reused */
        if (c->fd == SL_INVALID_FILE || wev->instance != instance) {
            sl_log_debug(loop->log, "epoll: stale write event %p", c);
            return;
        }

        sl_epoll_dispatch(loop, wev, flags);
    }
}

static int
sl_epoll_timeout(sl_msec_t timer)
{
    if (timer == SL_TIMER_INFINITE) {
        return -1;
    }

    return (int) sl_min(timer, (sl_msec_t) INT_MAX);
}

static sl_int_t
sl_epoll_process_events(sl_event_loop_t *loop, sl_msec_t timer,
    sl_uint_t flags)
{
    sl_epoll_t  *ep = loop->backend;
    sl_err_t     err;
    sl_int_t     rc;
    int          i, n;

    if (loop->sigmask != NULL) {
        n = epoll_pwait(ep->ep, ep->list, ep->nevents, sl_epoll_timeout(timer),
                        loop->sigmask);
    } else {
        n = epoll_wait(ep->ep, ep->list, ep->nevents, sl_epoll_timeout(timer));
    }

    err = (n == -1) ? errno : 0;

    rc = sl_event_wait_result(loop, n, err, timer, flags, "epoll_wait()");
    if (rc != SL_OK) {
        return rc == SL_DONE ? SL_OK : rc;
    }

    for (i = 0; i < n; i++) {
        sl_epoll_process_one(loop, &ep->list[i], flags);
    }

    return SL_OK;
}
