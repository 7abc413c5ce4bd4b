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

#if (SL_HAVE_SPLICE)
/*
 * splice(2) of len bytes from a pipe into a socket, non-blocking. As
 * splice(), but an EPIPE leaves no SIGPIPE pending in the calling thread
 * (which must keep SIGPIPE ignored or blocked).
 */
ssize_t sl_splice_to_socket(sl_fd_t pipe_fd, sl_fd_t sock, size_t len);
#endif

#endif /* SL_OS_H */
