/*
 * sl_splice.c -- splice(2) from a pipe into a socket, without SIGPIPE.
 *
 * send() takes MSG_NOSIGNAL; splice() has no such flag, so a peer that
 * reset the connection makes the kernel raise SIGPIPE in the writing
 * thread. The daemon ignores SIGPIPE; an embedded instance may not change
 * its host's dispositions, so it keeps SIGPIPE blocked in its loop thread
 * instead (src/embed), and the signal an EPIPE left pending is taken back
 * here, before the host could see it. This file must never change a
 * disposition or a mask: it only consumes what its own call raised.
 */
#include "sl_config.h"
#include "sl_core.h"

#if (SL_HAVE_SPLICE)

#include <fcntl.h>
#include <signal.h>

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

ssize_t
sl_splice_to_socket(sl_fd_t pipe_fd, sl_fd_t sock, size_t len)
{
    ssize_t   n;
    sl_err_t  err;

    n = splice(pipe_fd, NULL, sock, NULL, len,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

    if (n == -1 && errno == EPIPE) {
        err = errno;
        sl_splice_consume_sigpipe();
        errno = err;
    }

    return n;
}

#endif
