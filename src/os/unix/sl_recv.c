/*
 * sl_recv.c -- reading from a socket: recv() and readv() with every return
 * value turned into the event flags the loop relies on.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

sl_uint_t
sl_recv_kqueue_count(sl_event_t *rev, size_t n)
{
    /* available -1: a posted "next" event, the count is unknown */
    if (!(rev->loop->flags & SL_USE_KQUEUE_EVENT) || rev->available < 0) {
        return 0;
    }

    rev->available -= (int) n;
    if (rev->available <= 0) {
        rev->available = 0;
        if (!rev->pending_eof) {
            rev->ready = 0;
        }
    }

    return 1;
}

/*
 * After n > 0 bytes of a request for size: may the socket hold more?
 * Level-triggered back ends report it again anyway; epoll with RDHUP and
 * kqueue say when the peer's FIN is queued, and then we read on to see it.
 */
static void
sl_recv_update_ready(sl_event_t *rev, size_t n, size_t size)
{
    if (sl_recv_kqueue_count(rev, n)) {
        return;
    }

    if (n < size && !rev->pending_eof) {
        /* a short read drained the socket: wait for the next edge */
        rev->ready = 0;
    }
}

/* the common tail of recv and readv: n is the syscall's result */
static ssize_t
sl_recv_result(sl_connection_t *c, ssize_t n, size_t size, const char *call)
{
    sl_event_t  *rev = c->read;
    sl_err_t     err;

    if (n > 0) {
        sl_recv_update_ready(rev, (size_t) n, size);
        return n;
    }

    if (n == 0) {
        /* the peer's orderly shutdown */
        rev->ready = 0;
        rev->eof = 1;
        return 0;
    }

    err = errno;

    if (err == EAGAIN || err == EWOULDBLOCK) {
        rev->ready = 0;
        return SL_AGAIN;
    }

    rev->ready = 0;
    rev->error = 1;
    return sl_connection_error(c, err, call);
}

/*
 * kqueue said EV_EOF and nothing is left to read: the read ends here, with
 * the socket's error (kq_errno) if it had one, and no system call.
 */
sl_uint_t
sl_recv_kqueue_eof(sl_connection_t *c, ssize_t *n)
{
    sl_event_t  *rev = c->read;

    if (!(rev->loop->flags & SL_USE_KQUEUE_EVENT) || !rev->pending_eof
        || rev->available != 0)
    {
        return 0;
    }

    rev->ready = 0;
    rev->eof = 1;

    if (rev->kq_errno == 0) {
        *n = 0;
        return 1;
    }

    rev->error = 1;
    *n = sl_connection_error(c, rev->kq_errno, "kevent() reported that the "
                             "connection was closed");
    return 1;
}

ssize_t
sl_unix_recv(sl_connection_t *c, u_char *buf, size_t size)
{
    ssize_t  n;

    if (sl_recv_kqueue_eof(c, &n)) {
        return n;
    }

    do {
        n = recv(c->fd, buf, size, 0);
    } while (n == -1 && errno == EINTR);

    return sl_recv_result(c, n, size, "recv() failed");
}

ssize_t
sl_readv_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    struct iovec  iov[SL_IOVS];
    size_t        size = 0, len;
    int           niov = 0;
    ssize_t       n;

    /* the free space of each buffer, contiguous neighbours merged */
    for ( ; in != NULL && niov < SL_IOVS; in = in->next) {
        len = (size_t) (in->buf->end - in->buf->last);

        if (limit > 0 && size + len > (size_t) limit) {
            len = (size_t) limit - size;
        }

        if (len == 0) {
            if (limit > 0 && size >= (size_t) limit) {
                break;
            }
            continue;
        }

        if (niov > 0 && (u_char *) iov[niov - 1].iov_base
                        + iov[niov - 1].iov_len == in->buf->last)
        {
            iov[niov - 1].iov_len += len;
        } else {
            iov[niov].iov_base = in->buf->last;
            iov[niov].iov_len = len;
            niov++;
        }

        size += len;
    }

    if (size == 0) {
        /* 0 would read as the peer's shutdown: a full chain is a bug */
        sl_log_error(SL_LOG_ALERT, c->log, 0, "readv() into a full chain");
        return SL_ERROR;
    }

    if (sl_recv_kqueue_eof(c, &n)) {
        return n;
    }

    do {
        n = readv(c->fd, iov, niov);
    } while (n == -1 && errno == EINTR);

    return sl_recv_result(c, n, size, "readv() failed");
}
