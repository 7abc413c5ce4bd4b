/*
 * sl_errno.h -- errno access and thread-safe errno text.
 */
#ifndef SL_ERRNO_H
#define SL_ERRNO_H

#include "sl_config.h"

#define sl_errno              errno
#define sl_socket_errno       errno
#define sl_set_errno(err)     errno = err
#define sl_set_socket_errno(err) errno = err

#define SL_EPERM         EPERM
#define SL_ENOENT        ENOENT
#define SL_EINTR         EINTR
#define SL_EAGAIN        EAGAIN
#define SL_EACCES        EACCES
#define SL_EEXIST        EEXIST
#define SL_EMFILE        EMFILE
#define SL_ENFILE        ENFILE
#define SL_EPIPE         EPIPE
#define SL_EINPROGRESS   EINPROGRESS
#define SL_EADDRINUSE    EADDRINUSE
#define SL_ECONNABORTED  ECONNABORTED
#define SL_ECONNRESET    ECONNRESET
#define SL_ENOTCONN      ENOTCONN
#define SL_ETIMEDOUT     ETIMEDOUT
#define SL_ECONNREFUSED  ECONNREFUSED
#define SL_EHOSTUNREACH  EHOSTUNREACH
#define SL_ENETUNREACH   ENETUNREACH

/*
 * Writes the text of err (at most size bytes, not NUL-terminated) and
 * returns the address after it. Safe from any thread; "Unknown error N"
 * for a number the system has no text for.
 */
u_char *sl_strerror(sl_err_t err, u_char *errstr, size_t size);

#endif /* SL_ERRNO_H */
