/*
 * sl_connection.c -- the connection free list, closing, error levels.
 * The event layer's: a connection carries the loop's events (listening
 * sockets, which do not, are core's: sl_listening.c).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <netinet/tcp.h>

#define SL_DRAIN_CONNECTIONS  32

static void sl_drain_connections(sl_event_loop_t *loop);

sl_connection_t *
sl_get_connection(sl_event_loop_t *loop, sl_fd_t fd, sl_log_t *log)
{
    sl_connection_t  *c;
    sl_event_t       *rev, *wev;
    sl_uint_t         instance;

    if (loop->free_connections == NULL) {
        sl_drain_connections(loop);
    }

    c = loop->free_connections;
    if (c == NULL) {
        sl_log_error(SL_LOG_ALERT, log, 0, "%ui worker_connections are not "
                     "enough", loop->connection_n);
        return NULL;
    }

    loop->free_connections = c->data;
    loop->free_connection_n--;

    rev = c->read;
    wev = c->write;
    instance = rev->instance;

    sl_memzero(c, sizeof(sl_connection_t));
    sl_memzero(rev, sizeof(sl_event_t));
    sl_memzero(wev, sizeof(sl_event_t));

    c->read = rev;
    c->write = wev;
    c->loop = loop;
    c->fd = fd;
    c->log = log;

    /* an event still queued in the kernel for the old owner is stale */
    rev->instance = !instance;
    wev->instance = !instance;

    rev->data = c;
    wev->data = c;
    rev->loop = loop;
    wev->loop = loop;
    rev->log = log;
    wev->log = log;
    rev->available = -1;
    wev->available = -1;
    wev->write = 1;

    return c;
}

void
sl_free_connection(sl_connection_t *c)
{
    sl_event_loop_t  *loop = c->loop;

    c->data = loop->free_connections;
    loop->free_connections = c;
    loop->free_connection_n++;
}

void
sl_close_connection(sl_connection_t *c)
{
    sl_event_loop_t  *loop = c->loop;
    sl_uint_t         shared = c->shared;
    sl_err_t          err;
    sl_fd_t           fd;

    if (c->fd == SL_INVALID_FILE) {
        sl_log_error(SL_LOG_ALERT, c->log, 0, "connection already closed");
        return;
    }

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    if (c->write->timer_set) {
        sl_del_timer(c->write);
    }

    /* a registration is always deleted before its descriptor is closed */
    if (!shared) {
        if (loop->actions->del_conn != NULL) {
            (void) loop->actions->del_conn(c, SL_CLOSE_EVENT);
        } else {
            if (c->read->active) {
                (void) sl_del_event(c->read, SL_READ_EVENT, SL_CLOSE_EVENT);
            }
            if (c->write->active) {
                (void) sl_del_event(c->write, SL_WRITE_EVENT, SL_CLOSE_EVENT);
            }
        }
    }

    if (c->read->posted) {
        sl_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        sl_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    /* an accepted connection: its configuration may wait for it to end */
    if (c->listening != NULL && !c->read->accept
        && c->listening->cycle != NULL)
    {
        c->listening->cycle->connections--;
    }

    sl_reusable_connection(c, 0);

    if (c->timedout && !shared) {
        sl_connection_reset(c);
    }

    fd = c->fd;
    c->fd = SL_INVALID_FILE;
    sl_free_connection(c);

    if (shared) {
        return;
    }

    if (close(fd) == -1) {
        err = errno;
        if (err != ECONNRESET && err != ENOTCONN) {
            sl_log_error(SL_LOG_ALERT, c->log, err, "close() socket %d failed",
                         fd);
        }
    }
}

/*
 * A peer that stopped talking gets a reset rather than a FIN: the socket
 * is gone at once instead of lingering in FIN_WAIT with unsent data.
 */
void
sl_connection_reset(sl_connection_t *c)
{
    struct linger  linger = { 1, 0 };

    if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger))
        == -1)
    {
        sl_log_error(SL_LOG_ALERT, c->log, errno,
                     "setsockopt(SO_LINGER) failed");
    }
}

void
sl_reusable_connection(sl_connection_t *c, sl_uint_t reusable)
{
    sl_event_loop_t  *loop = c->loop;

    if (c->reusable) {
        sl_queue_remove(&c->queue);
        loop->reusable_connection_n--;
    }

    c->reusable = reusable ? 1 : 0;

    if (reusable) {
        /* the newest at the head: the oldest idle ones are closed first */
        sl_queue_insert_head(&loop->reusable_connections, &c->queue);
        loop->reusable_connection_n++;
    }
}

/*
 * Asks the oldest idle connections to close, to free their slots. A
 * connection whose handler cannot close it now (a TLS close_notify that
 * waits for the peer's window) would stay at the tail and be picked again
 * and again: it is taken off the queue instead, and the next one tried.
 * Each pick leaves the queue, so the loop ends.
 */
static void
sl_drain_connections(sl_event_loop_t *loop)
{
    sl_connection_t  *c;
    sl_queue_t       *q;
    sl_uint_t         freed, free_n;

    if (loop->reusable_connection_n > 0) {
        sl_log_error(SL_LOG_WARN, loop->log, 0, "%ui worker_connections are "
                     "not enough, reusing connections", loop->connection_n);
    }

    freed = 0;

    while (freed < SL_DRAIN_CONNECTIONS
           && !sl_queue_empty(&loop->reusable_connections))
    {
        q = sl_queue_last(&loop->reusable_connections);
        c = sl_queue_data(q, sl_connection_t, queue);

        free_n = loop->free_connection_n;

        c->close = 1;
        c->read->handler(c->read);

        if (c->reusable) {
            /* still open: out of the way, its own end frees it later */
            sl_reusable_connection(c, 0);
        }

        if (loop->free_connection_n > free_n) {
            freed++;
        }
    }
}

/* asks every idle session to end: a graceful shutdown */
void
sl_close_idle_connections(sl_event_loop_t *loop)
{
    sl_connection_t  *c;
    sl_uint_t         i;

    for (i = 0; i < loop->connection_n; i++) {
        c = &loop->connections[i];

        if (c->fd == SL_INVALID_FILE || !c->idle || c->read->accept) {
            continue;
        }

        c->close = 1;
        c->read->handler(c->read);
    }
}

sl_uint_t
sl_connection_peer_errno(sl_err_t err)
{
    switch (err) {
    case 0:
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
        return 1;

    default:
        return 0;
    }
}

sl_int_t
sl_connection_error(sl_connection_t *c, sl_err_t err, const char *text)
{
    sl_uint_t  level;

    if (err == ECONNRESET && c->log_error == SL_ERROR_IGNORE_ECONNRESET) {
        return SL_ERROR;
    }

    if (sl_connection_peer_errno(err)) {
        /* not our fault */
        level = c->log_error == SL_ERROR_ERR ? SL_LOG_ERR : SL_LOG_INFO;

    } else {
        level = SL_LOG_CRIT;
    }

    sl_log_error(level, c->log, err, "%s", text);
    return SL_ERROR;
}

sl_int_t
sl_connection_local_sockaddr(sl_connection_t *c, sl_str_t *s, sl_uint_t port)
{
    sl_sockaddr_t   sa;
    socklen_t       len;

    if (c->local_socklen == 0) {
        len = sizeof(sa);
        if (getsockname(c->fd, &sa.sockaddr, &len) == -1) {
            return sl_connection_error(c, errno, "getsockname() failed");
        }

        c->local_sockaddr = sl_palloc(c->pool, len);
        if (c->local_sockaddr == NULL) {
            return SL_ERROR;
        }

        sl_memcpy(c->local_sockaddr, &sa, len);
        c->local_socklen = len;
    }

    if (s == NULL) {
        return SL_OK;
    }

    s->len = sl_sock_ntop(c->local_sockaddr, c->local_socklen, s->data,
                          s->len, port);
    return SL_OK;
}

sl_int_t
sl_tcp_nodelay(sl_connection_t *c)
{
    int  on = 1;

    if (c->tcp_nodelay != SL_TCP_NODELAY_UNSET) {
        return SL_OK;
    }

    /* an accepted unix socket is marked when accepted; this is for others */
    if (c->sockaddr != NULL && c->sockaddr->sa_family == AF_UNIX) {
        c->tcp_nodelay = SL_TCP_NODELAY_DISABLED;
        return SL_OK;
    }

    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1) {
        return sl_connection_error(c, errno,
                                   "setsockopt(TCP_NODELAY) failed");
    }

    c->tcp_nodelay = SL_TCP_NODELAY_SET;
    return SL_OK;
}
