/*
 * sl_t_splicefail.c -- a splice() that fails on demand, for tests only:
 * built as $(B)/t/libsl_t_splicefail.so and preloaded into sluice
 * (LD_PRELOAD) by t/integ/test_proxy_gib.c, to see proxy_splice fall back
 * to the buffered path. It lives in a directory of its own: every .c file
 * of t/lib itself is linked into every suite.
 *
 * SL_T_SPLICE_FAIL="KIND ERRNO BYTES PORT", read once when the library
 * is loaded (sluice may trim its environment later):
 *
 *   KIND   the calls that fail, named as the proxy names its two
 *          directions and the two halves of each: "up-in" (the client's
 *          socket into a pipe), "up-out" (a pipe to the upstream's
 *          socket), "down-in" (the upstream's socket into a pipe),
 *          "down-out" (a pipe to the client's socket)
 *   ERRNO  the errno they fail with, a number
 *   BYTES  what calls of that kind move before the first failure; from
 *          then on every one of them fails, as a kernel that refuses
 *          splice() for a descriptor keeps refusing it
 *   PORT   the upstream's socket is the one whose peer has this port
 *
 * Every other call is the kernel's, made with syscall(2): no dlsym(), and
 * nothing a sanitizer or valgrind would have to know about. Without the
 * variable (or with one it does not understand) nothing fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
    int     on;
    int     in;         /* the kind: into a pipe, or out of one */
    int     upstream;   /* the kind: on the upstream's socket */
    int     err;
    size_t  bytes;      /* to move before failing */
    int     port;
    size_t  moved;      /* by calls of the kind so far */
} sl_sf;

__attribute__((constructor))
static void
sl_sf_init(void)
{
    const char  *v = getenv("SL_T_SPLICE_FAIL");
    char         kind[16];
    unsigned long  bytes;
    int          err, port;

    if (v == NULL
        || sscanf(v, "%15s %d %lu %d", kind, &err, &bytes, &port) != 4)
    {
        return;
    }

    if (strcmp(kind, "up-in") == 0) {
        sl_sf.in = 1;

    } else if (strcmp(kind, "up-out") == 0) {
        sl_sf.upstream = 1;

    } else if (strcmp(kind, "down-in") == 0) {
        sl_sf.in = 1;
        sl_sf.upstream = 1;

    } else if (strcmp(kind, "down-out") != 0) {
        return;
    }

    sl_sf.err = err;
    sl_sf.bytes = (size_t) bytes;
    sl_sf.port = port;
    sl_sf.on = 1;
}

static int
sl_sf_is_pipe(int fd)
{
    struct stat  st;

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int
sl_sf_peer_port(int fd)
{
    struct sockaddr_storage  ss;
    socklen_t                len = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *) &ss, &len) != 0) {
        return -1;
    }

    switch (ss.ss_family) {
    case AF_INET:
        return ntohs(((struct sockaddr_in *) &ss)->sin_port);
    case AF_INET6:
        return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    default:
        return -1;
    }
}

/* is this call of the kind that is to fail? */
static int
sl_sf_matches(int fd_in, int fd_out)
{
    int  in, sock;

    in = sl_sf_is_pipe(fd_out) && !sl_sf_is_pipe(fd_in);
    if (!in && !sl_sf_is_pipe(fd_in)) {
        return 0;
    }

    sock = in ? fd_in : fd_out;

    return in == sl_sf.in
           && (sl_sf_peer_port(sock) == sl_sf.port) == sl_sf.upstream;
}

ssize_t
splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
    unsigned int flags)
{
    long  n;
    int   match;

    match = sl_sf.on && sl_sf_matches(fd_in, fd_out);

    if (match && sl_sf.moved >= sl_sf.bytes) {
        errno = sl_sf.err;
        return -1;
    }

    n = syscall(SYS_splice, fd_in, off_in, fd_out, off_out, len, flags);

    if (match && n > 0) {
        sl_sf.moved += (size_t) n;
    }

    return (ssize_t) n;
}
