/*
 * sl_poll_module.c -- the poll back end: level-triggered, portable.
 *
 * One pollfd per registered descriptor, and beside it the connection that
 * owns it; both of the connection's events keep the slot in `index` while
 * they are active. A descriptor is registered only while one of its
 * events is wanted (sl_handle_read_event() and sl_handle_write_event()
 * see to it), or an idle socket that stays writable would spin the loop.
 * Deleting a slot moves the last one into the hole.
 *
 * The ready events are always posted, never called from inside the scan:
 * a handler that closes or registers descriptors then cannot disturb the
 * array being scanned, and a connection closed by an earlier handler has
 * its posted events removed by sl_close_connection().
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <poll.h>

typedef struct {
    struct pollfd     *fds;
    sl_connection_t  **conns;    /* the owner of fds[i] */
    sl_uint_t          n;
    sl_uint_t          size;
} sl_poll_t;

static sl_int_t sl_poll_init(sl_event_loop_t *loop, sl_uint_t nevents);
static void sl_poll_done(sl_event_loop_t *loop);
static sl_int_t sl_poll_add_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_poll_del_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_poll_del_connection(sl_connection_t *c, sl_uint_t flags);
static sl_int_t sl_poll_process_events(sl_event_loop_t *loop,
    sl_msec_t timer, sl_uint_t flags);

/*
 * No add_conn: registering a connection for writing before it has
 * anything to write would report it ready on every iteration.
 */
const sl_event_actions_t  sl_poll_actions = {
    sl_string("poll"),
    SL_USE_LEVEL_EVENT | SL_USE_FD_EVENT,
    sl_poll_init,
    sl_poll_done,
    sl_poll_add_event,
    sl_poll_del_event,
    NULL,
    sl_poll_del_connection,
    sl_poll_process_events
};

static sl_event_module_t  sl_poll_module_ctx = {
    sl_string("poll"),
    NULL,
    NULL,
    &sl_poll_actions
};

sl_module_t  sl_poll_module = {
    .name = "sl_poll_module",
    .ctx = &sl_poll_module_ctx,
    .type = SL_EVENT_MODULE,
};

/* room for nevents descriptors, and at least one per connection */
static sl_int_t
sl_poll_init(sl_event_loop_t *loop, sl_uint_t nevents)
{
    sl_poll_t  *p;

    p = sl_calloc(sizeof(sl_poll_t), loop->log);
    if (p == NULL) {
        return SL_ERROR;
    }

    p->size = sl_max(sl_max(nevents, loop->connection_n), 1);
    p->fds = sl_alloc(p->size * sizeof(struct pollfd), loop->log);
    p->conns = sl_alloc(p->size * sizeof(sl_connection_t *), loop->log);

    if (p->fds == NULL || p->conns == NULL) {
        sl_free(p->fds);
        sl_free(p->conns);
        sl_free(p);
        return SL_ERROR;
    }

    loop->backend = p;
    return SL_OK;
}

static void
sl_poll_done(sl_event_loop_t *loop)
{
    sl_poll_t  *p = loop->backend;

    if (p == NULL) {
        return;
    }

    sl_free(p->fds);
    sl_free(p->conns);
    sl_free(p);
    loop->backend = NULL;
}

static sl_int_t
sl_poll_add_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_poll_t        *p = ev->loop->backend;
    sl_event_t       *other;
    sl_uint_t         slot;

    sl_unused(flags);

    if (ev->active) {
        sl_log_error(SL_LOG_ALERT, ev->log, 0, "poll event fd:%d ev:%i is "
                     "already set", c->fd, (sl_int_t) event);
        return SL_OK;
    }

    other = (event == SL_READ_EVENT) ? c->write : c->read;

    if (other->active) {
        slot = other->index;
    } else {
        if (p->n == p->size) {
            sl_log_error(SL_LOG_ALERT, ev->log, 0, "poll: no room for fd:%d, "
                         "%ui descriptors are registered", c->fd, p->n);
            return SL_ERROR;
        }

        slot = p->n++;
        p->fds[slot].fd = c->fd;
        p->fds[slot].events = 0;
        p->fds[slot].revents = 0;
        p->conns[slot] = c;
    }

    p->fds[slot].events |= (event == SL_READ_EVENT) ? POLLIN : POLLOUT;
    ev->index = slot;
    ev->active = 1;
    return SL_OK;
}

/* the last slot fills the hole at slot; its events learn their new index */
static void
sl_poll_remove_slot(sl_poll_t *p, sl_uint_t slot)
{
    sl_connection_t  *moved;

    p->n--;

    if (slot == p->n) {
        return;
    }

    p->fds[slot] = p->fds[p->n];
    p->conns[slot] = p->conns[p->n];

    moved = p->conns[slot];
    moved->read->index = slot;
    moved->write->index = slot;
}

/* a descriptor being closed is deleted all the same: poll's list is ours */
static sl_int_t
sl_poll_del_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_poll_t        *p = ev->loop->backend;
    sl_event_t       *other;

    sl_unused(flags);

    if (!ev->active) {
        return SL_OK;
    }

    ev->active = 0;
    other = (event == SL_READ_EVENT) ? c->write : c->read;

    if (other->active) {
        p->fds[ev->index].events &= (event == SL_READ_EVENT) ? ~POLLIN
                                                             : ~POLLOUT;
        return SL_OK;
    }

    sl_poll_remove_slot(p, ev->index);
    return SL_OK;
}

static sl_int_t
sl_poll_del_connection(sl_connection_t *c, sl_uint_t flags)
{
    (void) sl_poll_del_event(c->read, SL_READ_EVENT, flags);
    (void) sl_poll_del_event(c->write, SL_WRITE_EVENT, flags);
    return SL_OK;
}

static void
sl_poll_post(sl_event_loop_t *loop, sl_event_t *ev)
{
    ev->ready = 1;
    ev->available = -1;
    sl_post_event(ev, ev->accept ? &loop->posted_accept_events
                                 : &loop->posted_events);
}

static void
sl_poll_process_one(sl_event_loop_t *loop, struct pollfd *pfd,
    sl_connection_t *c)
{
    short  revents = pfd->revents;

    if (revents & POLLNVAL) {
        sl_log_error(SL_LOG_ALERT, loop->log, 0, "poll() reported an invalid "
                     "descriptor %d: it was closed without deleting its "
                     "events", pfd->fd);
    }

    /*
     * An error or a hangup: the registered events are ready, so that the
     * handler's recv() or send() returns what happened.
     */
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
        revents |= pfd->events & (POLLIN | POLLOUT);
    }

    if ((revents & POLLIN) && c->read->active) {
        sl_poll_post(loop, c->read);
    }

    if ((revents & POLLOUT) && c->write->active) {
        sl_poll_post(loop, c->write);
    }
}

static int
sl_poll_wait(sl_event_loop_t *loop, sl_poll_t *p, sl_msec_t timer)
{
    struct timespec  ts;

    if (loop->sigmask == NULL) {
        return poll(p->fds, (nfds_t) p->n, timer == SL_TIMER_INFINITE
                    ? -1 : (int) sl_min(timer, (sl_msec_t) INT_MAX));
    }

    ts.tv_sec = (time_t) (timer / 1000);
    ts.tv_nsec = (long) (timer % 1000) * 1000000;

    return ppoll(p->fds, (nfds_t) p->n,
                 timer == SL_TIMER_INFINITE ? NULL : &ts, loop->sigmask);
}

static sl_int_t
sl_poll_process_events(sl_event_loop_t *loop, sl_msec_t timer,
    sl_uint_t flags)
{
    sl_poll_t  *p = loop->backend;
    sl_uint_t   i;
    sl_err_t    err;
    sl_int_t    rc;
    int         ready;

    ready = sl_poll_wait(loop, p, timer);
    err = (ready == -1) ? errno : 0;

    rc = sl_event_wait_result(loop, ready, err, timer, flags, "poll()");
    if (rc != SL_OK) {
        return rc == SL_DONE ? SL_OK : rc;
    }

    for (i = 0; i < p->n && ready > 0; i++) {
        if (p->fds[i].revents == 0) {
            continue;
        }

        ready--;
        sl_poll_process_one(loop, &p->fds[i], p->conns[i]);
    }

    return SL_OK;
}
