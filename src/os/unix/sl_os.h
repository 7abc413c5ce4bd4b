/*
 * sl_os.h -- the plain socket I/O functions behind sl_os_io.
 */
#ifndef SL_OS_H
#define SL_OS_H

#include "sl_config.h"
#include "sl_core.h"

/* iovecs per readv/sendmsg call: the system's limit, at most 1024 */
#if defined(IOV_MAX) && IOV_MAX < 1024
#define SL_IOVS  IOV_MAX
#else
#define SL_IOVS  1024
#endif

ssize_t sl_unix_recv(sl_connection_t *c, u_char *buf, size_t size);
ssize_t sl_readv_chain(sl_connection_t *c, sl_chain_t *in, off_t limit);
ssize_t sl_unix_send(sl_connection_t *c, u_char *buf, size_t size);
/* sends until done, limit bytes, or EAGAIN; returns the first unsent link */
sl_chain_t *sl_writev_chain(sl_connection_t *c, sl_chain_t *in, off_t limit);

/*
 * Shared by the socket reads of sl_recv.c and sl_splice.c. kqueue_eof:
 * kqueue said EV_EOF and its count is spent: *n is the read's result (0,
 * or SL_ERROR with the socket's error logged), made without a system
 * call; 0 when a read must be made. kqueue_count: n bytes of the count
 * kqueue gave were read (ready clears once it is spent); 0 when the back
 * end keeps no count (not kqueue, or a posted event's unknown one).
 */
sl_uint_t sl_recv_kqueue_eof(sl_connection_t *c, ssize_t *n);
sl_uint_t sl_recv_kqueue_count(sl_event_t *rev, size_t n);

/*
 * A pipe for splice(2) between two sockets, and what it holds: the bytes
 * taken from one socket and not yet given to the other (sl_splice.c).
 * Opened only where splice(2) is (SL_HAVE_SPLICE).
 */
typedef struct {
    sl_fd_t   fd[2];        /* [0] the read end, [1] the write end; -1 */
    size_t    len;          /* the bytes it holds */
    size_t    size;         /* what it holds at most */
} sl_splice_pipe_t;

/* a pipe that is not open: sl_splice_pipe_close() on it does nothing */
void sl_splice_pipe_init(sl_splice_pipe_t *p);
void sl_splice_pipe_close(sl_splice_pipe_t *p);

#if (SL_HAVE_SPLICE)
/*
 * Opens a non-blocking, close-on-exec pipe holding about size bytes (the
 * kernel rounds up to a page; without F_SETPIPE_SZ, its default). SL_OK;
 * SL_ERROR with errno set, nothing logged: the caller decides what a
 * system out of pipes is worth.
 */
sl_int_t sl_splice_pipe_open(sl_splice_pipe_t *p, size_t size);
/*
 * read(2) of what the pipe holds into buf, at most size bytes: for a
 * caller that gave up splicing with bytes in the pipe. n > 0; SL_ERROR
 * with errno set (0 for an empty pipe), nothing logged.
 */
ssize_t sl_splice_pipe_read(sl_splice_pipe_t *p, u_char *buf, size_t size);

/*
 * c's socket into the pipe, at most size bytes (and what the pipe has
 * room for), and the pipe into c's socket, at most size bytes (and what
 * it holds): recv() and send() of c through a pipe. They return what
 * c->recv and c->send return, and update c's events as those do, with
 * one more answer: SL_DECLINED when the kernel refuses to splice these
 * descriptors (errno says why; nothing logged, no flag changed, nothing
 * moved): the caller goes on with recv() and send(). sl_splice_send()
 * never leaves a SIGPIPE behind. Details in sl_splice.c.
 */
ssize_t sl_splice_recv(sl_connection_t *c, sl_splice_pipe_t *p, size_t size);
ssize_t sl_splice_send(sl_connection_t *c, sl_splice_pipe_t *p, size_t size);
#endif

#endif /* SL_OS_H */
