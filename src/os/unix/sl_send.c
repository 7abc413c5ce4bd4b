/*
 * sl_send.c -- writing to a socket: send() and sendmsg() with an iovec
 * chain. MSG_NOSIGNAL keeps a closed peer from raising SIGPIPE, so that
 * an embedding program need not ignore the signal for us.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#if (SL_HAVE_MSG_NOSIGNAL)
#define SL_SEND_FLAGS  MSG_NOSIGNAL
#else
#define SL_SEND_FLAGS  0          /* SIGPIPE is ignored by the process */
#endif

const sl_os_io_t  sl_os_io = {
    sl_unix_recv,
    sl_readv_chain,
    sl_unix_send,
    sl_writev_chain
};

/* the common tail of send and sendmsg; n is the syscall's result */
static ssize_t
sl_send_result(sl_connection_t *c, ssize_t n, size_t size, const char *call)
{
    sl_event_t  *wev = c->write;
    sl_err_t     err;

    if (n > 0) {
        if ((size_t) n < size) {
            wev->ready = 0;      /* the socket buffer is full */
        }
        c->sent += n;
        return n;
    }

    if (n == 0) {
        /* not done by a stream socket for size > 0: do not spin on it */
        sl_log_error(SL_LOG_ALERT, c->log, 0, "%s: zero bytes written", call);
        wev->ready = 0;
        return 0;
    }

    err = errno;

    if (err == EAGAIN || err == EWOULDBLOCK) {
        wev->ready = 0;
        return SL_AGAIN;
    }

    wev->ready = 0;
    wev->error = 1;
    return sl_connection_error(c, err, call);
}

ssize_t
sl_unix_send(sl_connection_t *c, u_char *buf, size_t size)
{
    ssize_t  n;

    if (size == 0) {
        return 0;
    }

    do {
        n = send(c->fd, buf, size, SL_SEND_FLAGS);
    } while (n == -1 && errno == EINTR);

    return sl_send_result(c, n, size, "send() failed");
}

/* fills iov from the chain's data; returns the bytes it covers */
static size_t
sl_fill_iovec(sl_chain_t *in, struct iovec *iov, int *niov, size_t limit)
{
    size_t  size = 0, len;
    int     n = 0;

    for ( ; in != NULL && n < SL_IOVS && size < limit; in = in->next) {
        len = (size_t) (in->buf->last - in->buf->pos);
        if (len == 0) {
            continue;
        }

        if (len > limit - size) {
            len = limit - size;
        }

        if (n > 0 && (u_char *) iov[n - 1].iov_base + iov[n - 1].iov_len
                     == in->buf->pos)
        {
            iov[n - 1].iov_len += len;
        } else {
            iov[n].iov_base = in->buf->pos;
            iov[n].iov_len = len;
            n++;
        }

        size += len;
    }

    *niov = n;
    return size;
}

sl_chain_t *
sl_writev_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    struct iovec   iov[SL_IOVS];
    struct msghdr  msg;
    size_t         size, left;
    ssize_t        n;
    int            niov;

    left = limit > 0 ? (size_t) limit : SIZE_MAX;

    while (c->write->ready && in != NULL && left > 0) {
        size = sl_fill_iovec(in, iov, &niov, left);

        if (size == 0) {
            /* only empty buffers (flush, last_buf marks) are left */
            return sl_chain_update_sent(in, 0);
        }

        sl_memzero(&msg, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t) niov;

        do {
            n = sendmsg(c->fd, &msg, SL_SEND_FLAGS);
        } while (n == -1 && errno == EINTR);

        n = sl_send_result(c, n, size, "sendmsg() failed");

        if (n == SL_ERROR) {
            return SL_CHAIN_ERROR;
        }

        if (n == SL_AGAIN) {
            return in;
        }

        in = sl_chain_update_sent(in, n);
        left -= (size_t) n;
    }

    return in;
}
