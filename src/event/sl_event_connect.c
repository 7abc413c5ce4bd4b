/*
 * sl_event_connect.c -- non-blocking connect to a peer.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

static sl_int_t
sl_connect_socket_options(sl_peer_connection_t *pc, sl_fd_t s)
{
    int  on = 1;

    if (pc->rcvbuf > 0
        && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &pc->rcvbuf, sizeof(int))
           == -1)
    {
        sl_log_error(SL_LOG_ALERT, pc->log, errno,
                     "setsockopt(SO_RCVBUF) failed");
        return SL_ERROR;
    }

    if (pc->so_keepalive
        && setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(int)) == -1)
    {
        sl_log_error(SL_LOG_ALERT, pc->log, errno,
                     "setsockopt(SO_KEEPALIVE) failed");
        return SL_ERROR;
    }

    if (pc->local == NULL) {
        return SL_OK;
    }

#if defined(IP_TRANSPARENT)
    if (pc->transparent
        && setsockopt(s, SOL_IP, IP_TRANSPARENT, &on, sizeof(int)) == -1)
    {
        sl_log_error(SL_LOG_ALERT, pc->log, errno,
                     "setsockopt(IP_TRANSPARENT) failed");
        return SL_ERROR;
    }
#endif

    if (bind(s, pc->local, pc->local_socklen) == -1) {
        sl_log_error(SL_LOG_CRIT, pc->log, errno, "bind() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

/* the errors that say "this peer, not us": try another one */
static sl_uint_t
sl_connect_peer_error(sl_err_t err)
{
    switch (err) {
    case ECONNREFUSED:
    case EAGAIN:           /* a unix socket's backlog is full */
    case ECONNRESET:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ETIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

static sl_str_t *
sl_connect_peer_name(sl_peer_connection_t *pc)
{
    static const sl_str_t  unknown = sl_string("peer");

    return pc->name != NULL ? pc->name : (sl_str_t *) &unknown;
}

sl_int_t
sl_event_connect_peer(sl_event_loop_t *loop, sl_peer_connection_t *pc)
{
    sl_connection_t  *c;
    sl_int_t          rc;
    sl_err_t          err;
    sl_fd_t           s;
    int               type = pc->type ? pc->type : SOCK_STREAM;

    if (pc->get != NULL) {
        rc = pc->get(pc, pc->data);
        if (rc != SL_OK) {
            return rc;
        }
    }

    s = socket(pc->sockaddr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
               0);
    if (s == -1) {
        sl_log_error(SL_LOG_ALERT, pc->log, errno, "socket() failed");
        return SL_ERROR;
    }

    c = sl_get_connection(loop, s, pc->log);
    if (c == NULL) {
        close(s);
        return SL_ERROR;
    }

    c->type = type;
    c->log_error = pc->log_error;   /* how its peer's errors are logged */
    c->recv = sl_os_io.recv;
    c->send = sl_os_io.send;
    c->recv_chain = sl_os_io.recv_chain;
    c->send_chain = sl_os_io.send_chain;
    pc->connection = c;

    if (sl_connect_socket_options(pc, s) != SL_OK) {
        sl_close_connection(c);
        pc->connection = NULL;
        return SL_ERROR;
    }

    if (loop->actions->add_conn != NULL && loop->actions->add_conn(c)
                                           != SL_OK)
    {
        sl_close_connection(c);
        pc->connection = NULL;
        return SL_ERROR;
    }

    if (connect(s, pc->sockaddr, pc->socklen) == 0) {
        c->write->ready = 1;     /* connected at once: loopback, unix */
        return SL_OK;
    }

    err = errno;

    if (err == EINPROGRESS) {
        /* edge-triggered back ends registered both events above */
        if (!(loop->flags & SL_USE_CLEAR_EVENT)
            && sl_add_event(c->write, SL_WRITE_EVENT, SL_LEVEL_EVENT)
               != SL_OK)
        {
            sl_close_connection(c);
            pc->connection = NULL;
            return SL_ERROR;
        }
        return SL_AGAIN;
    }

    sl_log_error(sl_connect_peer_error(err) ? SL_LOG_ERR : SL_LOG_CRIT,
                 pc->log, err, "connect() to %V failed",
                 sl_connect_peer_name(pc));

    sl_close_connection(c);
    pc->connection = NULL;

    return sl_connect_peer_error(err) ? SL_DECLINED : SL_ERROR;
}

sl_int_t
sl_event_connect_result(sl_peer_connection_t *pc)
{
    sl_connection_t  *c = pc->connection;
    int               err = 0;
    socklen_t         len = sizeof(int);

    if (c->write->timedout) {
        c->timedout = 1;
        sl_log_error(SL_LOG_ERR, pc->log, ETIMEDOUT, "connect() to %V timed "
                     "out", sl_connect_peer_name(pc));
        return SL_ERROR;
    }

    if (c->write->timer_set) {
        sl_del_timer(c->write);
    }

    /* kqueue's EV_EOF carries the error: no system call */
    if (c->loop->flags & SL_USE_KQUEUE_EVENT) {
        err = c->write->pending_eof ? c->write->kq_errno
              : c->read->pending_eof ? c->read->kq_errno : 0;
    }

    if (err == 0
        && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
    {
        err = errno;
    }

    if (err == 0) {
        return SL_OK;
    }

    c->write->error = 1;
    sl_log_error(sl_connect_peer_error(err) ? SL_LOG_ERR : SL_LOG_CRIT,
                 pc->log, err, "connect() to %V failed",
                 sl_connect_peer_name(pc));
    return SL_ERROR;
}
