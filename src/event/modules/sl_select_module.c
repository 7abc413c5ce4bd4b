/*
 * sl_select_module.c -- the select back end: level-triggered, the last
 * resort.
 *
 * The master fd_sets hold what is registered and are copied for each
 * wait; `events` lists the registered events (ev->index is the place of
 * each), so that the scan after a wait is over the events, not over every
 * number below the highest descriptor. An fd_set holds descriptors below
 * FD_SETSIZE only: a larger one is refused when it is added, since
 * FD_SET() on it would write past the set.
 *
 * As with poll, ready events are always posted, never called from inside
 * the scan.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <sys/select.h>

typedef struct {
    fd_set         master_read;
    fd_set         master_write;
    fd_set         work_read;
    fd_set         work_write;
    sl_event_t   **events;
    sl_uint_t      n;
    sl_uint_t      size;
    int            max_fd;       /* -1: to be found again */
} sl_select_t;

static sl_int_t sl_select_init(sl_event_loop_t *loop, sl_uint_t nevents);
static void sl_select_done(sl_event_loop_t *loop);
static sl_int_t sl_select_add_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_select_del_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_select_del_connection(sl_connection_t *c,
    sl_uint_t flags);
static sl_int_t sl_select_process_events(sl_event_loop_t *loop,
    sl_msec_t timer, sl_uint_t flags);

/* no add_conn, as for poll: writability is asked for only when wanted */
const sl_event_actions_t  sl_select_actions = {
    sl_string("select"),
    SL_USE_LEVEL_EVENT,
    sl_select_init,
    sl_select_done,
    sl_select_add_event,
    sl_select_del_event,
    NULL,
    sl_select_del_connection,
    sl_select_process_events
};

static sl_event_module_t  sl_select_module_ctx = {
    sl_string("select"),
    NULL,
    NULL,
    &sl_select_actions
};

sl_module_t  sl_select_module = {
    .name = "sl_select_module",
    .ctx = &sl_select_module_ctx,
    .type = SL_EVENT_MODULE,
};

/* two events per connection at most */
static sl_int_t
sl_select_init(sl_event_loop_t *loop, sl_uint_t nevents)
{
    sl_select_t  *s;

    s = sl_calloc(sizeof(sl_select_t), loop->log);
    if (s == NULL) {
        return SL_ERROR;
    }

    s->size = 2 * sl_max(sl_max(nevents, loop->connection_n), 1);
    s->events = sl_alloc(s->size * sizeof(sl_event_t *), loop->log);
    if (s->events == NULL) {
        sl_free(s);
        return SL_ERROR;
    }

    FD_ZERO(&s->master_read);
    FD_ZERO(&s->master_write);
    s->max_fd = -1;

    loop->backend = s;
    return SL_OK;
}

static void
sl_select_done(sl_event_loop_t *loop)
{
    sl_select_t  *s = loop->backend;

    if (s == NULL) {
        return;
    }

    sl_free(s->events);
    sl_free(s);
    loop->backend = NULL;
}

static sl_int_t
sl_select_add_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_select_t      *s = ev->loop->backend;

    sl_unused(flags);

    if (ev->active) {
        sl_log_error(SL_LOG_ALERT, ev->log, 0, "select event fd:%d ev:%i is "
                     "already set", c->fd, (sl_int_t) event);
        return SL_OK;
    }

    if (c->fd < 0 || c->fd >= FD_SETSIZE) {
        sl_log_error(SL_LOG_ERR, ev->log, 0, "the descriptor %d is not less "
                     "than FD_SETSIZE (%d): use epoll or poll", c->fd,
                     (int) FD_SETSIZE);
        return SL_ERROR;
    }

    if (s->n == s->size) {
        sl_log_error(SL_LOG_ALERT, ev->log, 0, "select: no room for fd:%d, "
                     "%ui events are registered", c->fd, s->n);
        return SL_ERROR;
    }

    FD_SET(c->fd, (event == SL_READ_EVENT) ? &s->master_read
                                           : &s->master_write);

    if (s->max_fd != -1 && c->fd > s->max_fd) {
        s->max_fd = c->fd;
    }

    ev->index = s->n;
    s->events[s->n++] = ev;
    ev->active = 1;
    return SL_OK;
}

static sl_int_t
sl_select_del_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_select_t      *s = ev->loop->backend;
    sl_event_t       *moved;

    sl_unused(flags);

    if (!ev->active) {
        return SL_OK;
    }

    ev->active = 0;

    FD_CLR(c->fd, (event == SL_READ_EVENT) ? &s->master_read
                                           : &s->master_write);

    if (c->fd == s->max_fd) {
        s->max_fd = -1;
    }

    s->n--;

    if (ev->index < s->n) {
        moved = s->events[s->n];
        s->events[ev->index] = moved;
        moved->index = ev->index;
    }

    return SL_OK;
}

static sl_int_t
sl_select_del_connection(sl_connection_t *c, sl_uint_t flags)
{
    (void) sl_select_del_event(c->read, SL_READ_EVENT, flags);
    (void) sl_select_del_event(c->write, SL_WRITE_EVENT, flags);
    return SL_OK;
}

static int
sl_select_max_fd(sl_select_t *s)
{
    sl_connection_t  *c;
    sl_uint_t         i;

    if (s->max_fd != -1) {
        return s->max_fd;
    }

    for (i = 0; i < s->n; i++) {
        c = s->events[i]->data;
        s->max_fd = sl_max(s->max_fd, c->fd);
    }

    return s->max_fd;
}

static void
sl_select_post(sl_event_loop_t *loop, sl_event_t *ev)
{
    ev->ready = 1;
    ev->available = -1;
    sl_post_event(ev, ev->accept ? &loop->posted_accept_events
                                 : &loop->posted_events);
}

/*
 * EBADF: a descriptor was closed without deleting its events. Each one is
 * found, logged, dropped from the sets (or the loop would fail again at
 * once) and its events posted, so that their handlers see the error.
 */
static sl_int_t
sl_select_repair(sl_event_loop_t *loop, sl_select_t *s)
{
    sl_connection_t  *c;
    sl_event_t       *ev;
    sl_uint_t         i, found = 0;

    for (i = 0; i < s->n; /* void */) {
        ev = s->events[i];
        c = ev->data;

        if (fcntl(c->fd, F_GETFD) != -1 || errno != EBADF) {
            i++;
            continue;
        }

        sl_log_error(SL_LOG_ALERT, loop->log, 0, "select() reported an "
                     "invalid descriptor %d: it was closed without deleting "
                     "its events", c->fd);

        /* the last event moves into place i: look at i again */
        (void) sl_select_del_event(ev, ev->write ? SL_WRITE_EVENT
                                                 : SL_READ_EVENT, 0);
        sl_select_post(loop, ev);
        found++;
    }

    if (found == 0) {
        sl_log_error(SL_LOG_ALERT, loop->log, EBADF, "select() failed, "
                     "but no registered descriptor is invalid");
        return SL_ERROR;
    }

    return SL_OK;
}

static int
sl_select_wait(sl_event_loop_t *loop, sl_select_t *s, sl_msec_t timer)
{
    struct timespec  ts, *tsp = NULL;
    struct timeval   tv, *tvp = NULL;
    int              nfds = sl_select_max_fd(s) + 1;

    s->work_read = s->master_read;
    s->work_write = s->master_write;

    if (loop->sigmask != NULL) {
        if (timer != SL_TIMER_INFINITE) {
            ts.tv_sec = (time_t) (timer / 1000);
            ts.tv_nsec = (long) (timer % 1000) * 1000000;
            tsp = &ts;
        }

        return pselect(nfds, &s->work_read, &s->work_write, NULL, tsp,
                       loop->sigmask);
    }

    if (timer != SL_TIMER_INFINITE) {
        tv.tv_sec = (time_t) (timer / 1000);
        tv.tv_usec = (suseconds_t) (timer % 1000) * 1000;
        tvp = &tv;
    }

    return select(nfds, &s->work_read, &s->work_write, NULL, tvp);
}

static sl_int_t
sl_select_process_events(sl_event_loop_t *loop, sl_msec_t timer,
    sl_uint_t flags)
{
    sl_select_t      *s = loop->backend;
    sl_connection_t  *c;
    sl_event_t       *ev;
    sl_uint_t         i;
    sl_err_t          err;
    sl_int_t          rc;
    int               ready;

    ready = sl_select_wait(loop, s, timer);
    err = (ready == -1) ? errno : 0;

    if (ready == -1 && err == EBADF) {
        /* an fd closed behind our back: find it rather than spin */
        if (flags & SL_UPDATE_TIME) {
            sl_time_update(loop->time);
        }
        return sl_select_repair(loop, s);
    }

    rc = sl_event_wait_result(loop, ready, err, timer, flags, "select()");
    if (rc != SL_OK) {
        return rc == SL_DONE ? SL_OK : rc;
    }

    for (i = 0; i < s->n && ready > 0; i++) {
        ev = s->events[i];
        c = ev->data;

        if (FD_ISSET(c->fd, ev->write ? &s->work_write : &s->work_read)) {
            ready--;
            sl_select_post(loop, ev);
        }
    }

    return SL_OK;
}
