/*
 * sl_splice.c -- recv() and send() of a connection through a pipe, with
 * splice(2): the bytes go socket to pipe to socket without a copy through
 * user space. The pipe (sl_splice_pipe_t) is opened, read and closed here
 * too. This file owns what splice() returns and what it means for the
 * connection's events; when to splice, and what to do when the kernel
 * will not, is the caller's policy (the stream proxy's proxy_splice).
 *
 * sl_splice_recv() and sl_splice_send() answer as c->recv and c->send
 * (sl_recv.c, sl_send.c): n > 0, 0 for the peer's end, SL_AGAIN (ready
 * cleared), SL_ERROR (error set, logged as recv() and send() log it: a
 * reset at info, the unexpected at crit), EINTR retried. One more answer:
 * SL_DECLINED when splice() failed otherwise than for the peer (EINVAL,
 * ENOSYS, ENOMEM...: this kernel will not splice these descriptors now).
 * It moved nothing and changed no flag, and errno says why; recv() and
 * send() on the same connection will work, or report the socket's error
 * as theirs. Logging it is the caller's: how often a refusal is worth a
 * line is policy. Three ways in which a pipe differs from a buffer:
 *
 *  - A short splice() into the pipe does not clear ready: the pipe counts
 *    buffers (a page each, at most), not bytes, so it may have had no
 *    room left while the socket holds more. kqueue's byte count is kept
 *    as recv() keeps it; elsewhere the next call tells.
 *  - "Would block" while the pipe holds bytes may be the pipe's, not the
 *    socket's: ready stays, and a call once the pipe was emptied tells.
 *    (Into an empty pipe, "would block" is the socket's.)
 *  - splice() stops at TCP's urgent mark and never passes it: there it
 *    says "would block", or 0 once the sender closed, while the urgent
 *    byte and everything after it wait. recv() steps over the mark, so a
 *    primitive that answers as recv() must too: at the mark
 *    (SIOCATMARK, asked only when splice() moved nothing out of an empty
 *    pipe or saw an end) the byte there is peeked, written into the pipe
 *    and then taken, and the next splice() goes on after it. Kept here,
 *    not in the caller, because the defect is splice()'s: without it
 *    SL_AGAIN and 0 would not mean what they mean for recv(). Whether
 *    the urgent byte is data at all is the socket's SO_OOBINLINE, the
 *    caller's choice (without it, the byte is skipped as recv() skips it).
 *    What stays the caller's: an edge-triggered back end's readiness
 *    after a read that stopped at the mark, which is recv()'s case too.
 *
 * splice() has no MSG_NOSIGNAL: a peer that reset the connection makes
 * the kernel raise SIGPIPE in the writing thread. The daemon ignores
 * SIGPIPE; an embedded instance may not change its host's dispositions,
 * so it keeps SIGPIPE blocked in its loop thread instead (src/embed), and
 * the signal an EPIPE left pending is taken back here, before the host
 * could see it. This file must never change a disposition or a mask: it
 * only consumes what its own call raised.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>

/* a pipe is opened only where splice(2) is; closing one is harmless */
void
sl_splice_pipe_init(sl_splice_pipe_t *p)
{
    p->fd[0] = -1;
    p->fd[1] = -1;
    p->len = 0;
    p->size = 0;
}

void
sl_splice_pipe_close(sl_splice_pipe_t *p)
{
    if (p->fd[0] != -1) {
        (void) close(p->fd[0]);
        (void) close(p->fd[1]);
    }

    sl_splice_pipe_init(p);
}

#if (SL_HAVE_SPLICE)

#define SL_SPLICE_FLAGS  (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

/* the SIGPIPE an EPIPE left pending in this thread, if it is blocked */
static void
sl_splice_consume_sigpipe(void)
{
    static const struct timespec  now = { 0, 0 };
    sigset_t                      pending, pipe;

    if (sigpending(&pending) != 0 || !sigismember(&pending, SIGPIPE)) {
        return;
    }

    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    (void) sigtimedwait(&pipe, NULL, &now);
}

sl_int_t
sl_splice_pipe_open(sl_splice_pipe_t *p, size_t size)
{
    int  fd[2], n;

    if (pipe2(fd, O_NONBLOCK | O_CLOEXEC) == -1) {
        return SL_ERROR;
    }

    /*
     * At most size (the kernel rounds it up to a page): a caller's memory
     * stays within what it promised. Refused (above pipe-max-size for an
     * unprivileged user): the pipe keeps its default.
     */
    n = fcntl(fd[1], F_SETPIPE_SZ, (int) size);
    if (n == -1) {
        n = fcntl(fd[1], F_GETPIPE_SZ);
    }

    p->fd[0] = fd[0];
    p->fd[1] = fd[1];
    p->len = 0;
    p->size = n > 0 ? (size_t) n : 4096;
    return SL_OK;
}

ssize_t
sl_splice_pipe_read(sl_splice_pipe_t *p, u_char *buf, size_t size)
{
    ssize_t  n;

    if (size > p->len) {
        size = p->len;
    }

    if (size == 0) {
        errno = 0;
        return SL_ERROR;
    }

    do {
        n = read(p->fd[0], buf, size);
    } while (n == -1 && errno == EINTR);

    if (n <= 0) {
        if (n == 0) {
            errno = 0;          /* no writer: not a pipe of ours */
        }
        return SL_ERROR;
    }

    p->len -= (size_t) n;
    return n;
}

/* a splice() error: the peer's (SL_ERROR, as recv/send), or a refusal */
static ssize_t
sl_splice_error(sl_connection_t *c, sl_event_t *ev, sl_err_t err)
{
    if (sl_connection_peer_errno(err)) {
        ev->ready = 0;
        ev->error = 1;
        return sl_connection_error(c, err, "splice() failed");
    }

    errno = err;
    return SL_DECLINED;
}

/* is c's next byte an urgent one, which splice() will not pass? */
static sl_uint_t
sl_splice_at_mark(sl_connection_t *c)
{
    int  mark = 0;  /* valgrind: the kernel writes it, memcheck cannot tell */

    return ioctl(c->fd, SIOCATMARK, &mark) == 0 && mark;
}

/*
 * c is at the urgent mark: the byte there goes into the pipe by hand.
 * Peeked first, so that a full pipe leaves it in the socket (SL_AGAIN,
 * ready kept); taken once written. Then c is readable with an unknown
 * count: kqueue's, like FIONREAD's, stopped at the mark.
 */
static ssize_t
sl_splice_pass_mark(sl_connection_t *c, sl_splice_pipe_t *p)
{
    sl_event_t  *rev = c->read;
    u_char       byte;
    ssize_t      n;

    do {
        n = recv(c->fd, &byte, 1, MSG_PEEK);
    } while (n == -1 && errno == EINTR);

    if (n != 1) {
        /* what recv() itself would have said (a skipped byte, the end) */
        rev->ready = 0;
        if (n == 0) {
            rev->eof = 1;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return SL_AGAIN;
        }
        rev->error = 1;
        return sl_connection_error(c, errno, "recv() failed");
    }

    if (write(p->fd[1], &byte, 1) != 1) {
        /* EAGAIN: the pipe is full, and the byte waits in c */
        return errno == EAGAIN ? SL_AGAIN : sl_splice_error(c, rev, errno);
    }

    p->len++;

    /* the byte just peeked: nothing else reads c meanwhile */
    if (recv(c->fd, &byte, 1, 0) != 1) {
        sl_log_error(SL_LOG_ALERT, c->log, errno,
                     "recv() of a peeked urgent byte failed");
        rev->ready = 0;
        rev->error = 1;
        return SL_ERROR;
    }

    rev->ready = 1;
    rev->available = -1;
    return 1;
}

/* splice() into the pipe moved nothing: n is 0 (an end) or -1 (EAGAIN) */
static ssize_t
sl_splice_recv_none(sl_connection_t *c, sl_splice_pipe_t *p, ssize_t n)
{
    sl_event_t  *rev = c->read;

    if (n == -1 && p->len > 0) {
        return SL_AGAIN;        /* the pipe may be full: ready stays */
    }

    if (sl_splice_at_mark(c)) {
        return sl_splice_pass_mark(c, p);
    }

    rev->ready = 0;

    if (n == 0) {
        rev->eof = 1;
        return 0;
    }

    return SL_AGAIN;
}

ssize_t
sl_splice_recv(sl_connection_t *c, sl_splice_pipe_t *p, size_t size)
{
    ssize_t  n;

    if (p->len >= p->size) {
        return SL_AGAIN;        /* the pipe is full: ready stays */
    }

    if (size > p->size - p->len) {
        size = p->size - p->len;
    }

    if (size == 0) {
        return SL_AGAIN;        /* nothing asked: nothing changes */
    }

    if (sl_recv_kqueue_eof(c, &n)) {
        return n;
    }

    do {
        n = splice(c->fd, NULL, p->fd[1], NULL, size, SL_SPLICE_FLAGS);
    } while (n == -1 && errno == EINTR);

    if (n > 0) {
        p->len += (size_t) n;
        (void) sl_recv_kqueue_count(c->read, (size_t) n);
        return n;
    }

    if (n == 0 || errno == EAGAIN) {
        return sl_splice_recv_none(c, p, n);
    }

    return sl_splice_error(c, c->read, errno);
}

ssize_t
sl_splice_send(sl_connection_t *c, sl_splice_pipe_t *p, size_t size)
{
    sl_event_t  *wev = c->write;
    ssize_t      n;
    sl_err_t     err;

    if (size > p->len) {
        size = p->len;
    }

    if (size == 0) {
        return 0;
    }

    do {
        n = splice(p->fd[0], NULL, c->fd, NULL, size, SL_SPLICE_FLAGS);
    } while (n == -1 && errno == EINTR);

    if (n > 0) {
        if ((size_t) n < size) {
            wev->ready = 0;     /* the socket buffer is full */
        }
        p->len -= (size_t) n;
        c->sent += n;
        return n;
    }

    if (n == 0) {
        /* a pipe of ours has a writer: it said EAGAIN if empty */
        sl_log_error(SL_LOG_ALERT, c->log, 0,
                     "splice() failed: zero bytes written");
        wev->ready = 0;
        return 0;
    }

    err = errno;

    if (err == EPIPE) {
        sl_splice_consume_sigpipe();
    }

    if (err == EAGAIN) {
        wev->ready = 0;
        return SL_AGAIN;
    }

    return sl_splice_error(c, wev, err);
}

#endif
