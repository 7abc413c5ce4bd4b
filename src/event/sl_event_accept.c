/*
 * sl_event_accept.c -- accepting connections on a listening socket.
 *
 * Listening sockets are registered level-triggered on every back end, so
 * returning with connections still queued is safe: the loop comes back.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_shmem.h"

/* after EMFILE/ENFILE, accepting resumes by itself after this long */
#define SL_ACCEPT_RETRY_DELAY  500

static sl_int_t sl_accept_failed(sl_event_t *ev, sl_err_t err);
static void sl_accept_pause(sl_event_t *ev);
static sl_int_t sl_accept_init_connection(sl_connection_t *c,
    sl_listening_t *ls, sl_sockaddr_t *sa, socklen_t socklen);

void
sl_event_accept(sl_event_t *ev)
{
    sl_event_loop_t  *loop = ev->loop;
    sl_connection_t  *lc = ev->data, *c;
    sl_listening_t   *ls = lc->listening;
    sl_sockaddr_t     sa;
    sl_pool_t        *pool;
    socklen_t         socklen;
    sl_fd_t           s;

    if (ev->timedout) {
        /* the pause after running out of descriptors is over */
        ev->timedout = 0;

        if (loop->accept_mutex != NULL) {
            /* only the mutex's holder watches: the next turn tries for it */
            loop->accept_paused = 0;
            return;
        }

        if (sl_enable_accept_events(loop) != SL_OK) {
            return;
        }
    }

    ev->ready = 0;

    do {
        socklen = sizeof(sl_sockaddr_t);

#if (SL_HAVE_ACCEPT4)
        s = accept4(lc->fd, &sa.sockaddr, &socklen,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        s = accept(lc->fd, &sa.sockaddr, &socklen);
        if (s != -1 && (fcntl(s, F_SETFL, O_NONBLOCK) == -1
                        || fcntl(s, F_SETFD, FD_CLOEXEC) == -1))
        {
            sl_log_error(SL_LOG_ALERT, ev->log, errno, "fcntl() failed");
            close(s);
            continue;
        }
#endif

        if (s == -1) {
            if (sl_accept_failed(ev, errno) == SL_AGAIN) {
                continue;
            }
            return;
        }

        c = sl_get_connection(loop, s, ev->log);
        if (c == NULL) {
            /* logged: worker_connections are not enough */
            if (close(s) == -1) {
                sl_log_error(SL_LOG_ALERT, ev->log, errno,
                             "close() socket failed");
            }
            return;
        }

        if (sl_accept_init_connection(c, ls, &sa, socklen) != SL_OK) {
            /* the log may live in the pool: the pool goes last */
            pool = c->pool;
            sl_close_connection(c);
            if (pool != NULL) {
                sl_destroy_pool(pool);
            }
            return;
        }

        ls->handler(c);

    } while (loop->multi_accept);
}

/*
 * What accept() failed with decides what happens next: SL_AGAIN to try
 * again at once, anything else to return to the loop.
 */
static sl_int_t
sl_accept_failed(sl_event_t *ev, sl_err_t err)
{
    switch (err) {

    case EAGAIN:
        return SL_DONE;

    /*
     * A connection that died in the queue, a signal, and the network
     * errors Linux passes up through accept(): the next one may be fine.
     */
    case ECONNABORTED:
    case EINTR:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
#ifdef ENONET
    case ENONET:
#endif
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case ENETDOWN:
        sl_log_error(SL_LOG_INFO, ev->log, err, "accept() failed");
        return SL_AGAIN;

    case EMFILE:
    case ENFILE:
        /* no descriptor to take it with: pause rather than spin */
        sl_log_error(SL_LOG_CRIT, ev->log, err, "accept() failed");
        sl_accept_pause(ev);
        return SL_DONE;

    default:
        sl_log_error(SL_LOG_CRIT, ev->log, err, "accept() failed");
        return SL_DONE;
    }
}

/*
 * Stops watching the listening sockets for SL_ACCEPT_RETRY_DELAY. With the
 * accept mutex the mutex goes too, so that another worker, which may have
 * descriptors, accepts meanwhile; the retry timer then only lets this one
 * try for the mutex again (sl_event_trylock_accept_mutex() registers the
 * sockets when it wins), never registers them by itself.
 */
static void
sl_accept_pause(sl_event_t *ev)
{
    sl_event_loop_t  *loop = ev->loop;

    if (sl_disable_accept_events(loop) != SL_OK) {
        return;
    }

    if (loop->accept_mutex != NULL) {
        if (loop->accept_mutex_held) {
            sl_event_unlock_accept_mutex(loop);
            loop->accept_mutex_held = 0;
        }
        loop->accept_paused = 1;
    }

    sl_add_timer(ev, SL_ACCEPT_RETRY_DELAY);
}

static sl_int_t
sl_accept_init_connection(sl_connection_t *c, sl_listening_t *ls,
    sl_sockaddr_t *sa, socklen_t socklen)
{
    sl_event_loop_t  *loop = c->loop;
    sl_log_t         *log;
    u_char            text[SL_SOCKADDR_STRLEN];

    c->pool = sl_create_pool(ls->pool_size, c->log);
    if (c->pool == NULL) {
        return SL_ERROR;
    }

    c->sockaddr = sl_palloc(c->pool, socklen);
    log = sl_palloc(c->pool, sizeof(sl_log_t));
    if (c->sockaddr == NULL || log == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(c->sockaddr, sa, socklen);
    c->socklen = socklen;

    /*
     * Decided by the socket, once: a module may later give the connection
     * another client address (realip), but the socket stays a unix one.
     */
    if (sa->sockaddr.sa_family == AF_UNIX) {
        c->tcp_nodelay = SL_TCP_NODELAY_DISABLED;
    }

    *log = ls->log;
    c->log = log;
    c->number = ++loop->connection_counter;
    log->connection = c->number;
    c->read->log = log;
    c->write->log = log;

    c->type = ls->type;
    c->listening = ls;
    if (ls->cycle != NULL) {
        ls->cycle->connections++;       /* sl_close_connection() undoes it */
    }
    c->recv = sl_os_io.recv;
    c->send = sl_os_io.send;
    c->recv_chain = sl_os_io.recv_chain;
    c->send_chain = sl_os_io.send_chain;

    if (!ls->wildcard) {
        c->local_sockaddr = ls->sockaddr;
        c->local_socklen = ls->socklen;
    }

    c->addr_text.len = sl_sock_ntop(c->sockaddr, c->socklen, text,
                                    sizeof(text), 0);
    c->addr_text.data = sl_pnalloc(c->pool, c->addr_text.len);
    if (c->addr_text.data == NULL) {
        return SL_ERROR;
    }
    sl_memcpy(c->addr_text.data, text, c->addr_text.len);

    /* a new socket can be written to at once */
    c->write->ready = 1;

    if (ls->deferred_accept) {
        c->read->ready = 1;      /* TCP_DEFER_ACCEPT: data is waiting */
    }

    if (loop->actions->add_conn != NULL
        && loop->actions->add_conn(c) != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_set_accept_events(sl_event_loop_t *loop, sl_uint_t enable)
{
    sl_connection_t  *c;
    sl_uint_t         i;

    if (loop->cycle == NULL) {
        return SL_OK;
    }

    for (i = 0; i < loop->cycle->listening.nelts; i++) {
        c = ((sl_listening_t *) loop->cycle->listening.elts)[i].connection;

        if (c == NULL || c->read->active == enable) {
            continue;
        }

        if (enable) {
            if (sl_add_event(c->read, SL_READ_EVENT,
                             SL_LEVEL_EVENT | loop->accept_flags)
                != SL_OK)
            {
                return SL_ERROR;
            }
        } else if (sl_del_event(c->read, SL_READ_EVENT, 0) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

sl_int_t
sl_enable_accept_events(sl_event_loop_t *loop)
{
    return sl_set_accept_events(loop, 1);
}

sl_int_t
sl_disable_accept_events(sl_event_loop_t *loop)
{
    return sl_set_accept_events(loop, 0);
}

sl_uint_t
sl_event_stop_accepting(sl_event_loop_t *loop)
{
    sl_listening_t   *ls;
    sl_connection_t  *c;
    sl_uint_t         i;

    if (loop->cycle == NULL) {
        return sl_event_connections_in_use(loop);
    }

    ls = loop->cycle->listening.elts;

    for (i = 0; i < loop->cycle->listening.nelts; i++) {
        c = ls[i].connection;
        if (c == NULL) {
            continue;
        }

        if (c->read->active) {
            (void) sl_del_event(c->read, SL_READ_EVENT, 0);
        }

        ls[i].connection = NULL;
        c->shared = 1;
        sl_close_connection(c);
    }

    if (loop->accept_mutex != NULL) {
        (void) sl_shmtx_force_unlock(loop->accept_mutex,
                                     loop->accept_mutex_pid);
        loop->accept_mutex_held = 0;
        loop->accept_mutex = NULL;
    }

    return sl_event_connections_in_use(loop);
}

sl_int_t
sl_event_trylock_accept_mutex(sl_event_loop_t *loop)
{
    if (sl_shmtx_trylock(loop->accept_mutex, loop->accept_mutex_pid)) {
        if (loop->accept_mutex_held) {
            return SL_OK;
        }

        if (sl_enable_accept_events(loop) != SL_OK) {
            sl_shmtx_unlock(loop->accept_mutex);
            return SL_ERROR;
        }

        loop->accept_mutex_held = 1;
        return SL_OK;
    }

    if (loop->accept_mutex_held) {
        if (sl_disable_accept_events(loop) != SL_OK) {
            return SL_ERROR;
        }
        loop->accept_mutex_held = 0;
    }

    return SL_OK;
}

void
sl_event_unlock_accept_mutex(sl_event_loop_t *loop)
{
    (void) sl_shmtx_force_unlock(loop->accept_mutex, loop->accept_mutex_pid);
}
