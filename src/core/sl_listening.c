/*
 * sl_listening.c -- listening sockets: created from the configuration,
 * opened (bound and listening) before anything else starts, closed at
 * exit (a unix socket's file removed with it).
 */
#include "sl_config.h"
#include "sl_core.h"

#include <netinet/tcp.h>

#define SL_LISTEN_BACKLOG        511
#define SL_LISTEN_POOL_SIZE      512

sl_listening_t *
sl_create_listening(sl_cycle_t *cycle, struct sockaddr *sockaddr,
    socklen_t socklen)
{
    sl_listening_t  *ls;
    u_char           text[SL_SOCKADDR_STRLEN];
    size_t           len;

    ls = sl_array_push(&cycle->listening);
    if (ls == NULL) {
        return NULL;
    }

    sl_memzero(ls, sizeof(sl_listening_t));

    ls->sockaddr = sl_palloc(cycle->pool, socklen);
    if (ls->sockaddr == NULL) {
        return NULL;
    }
    sl_memcpy(ls->sockaddr, sockaddr, socklen);
    ls->socklen = socklen;

    len = sl_sock_ntop(sockaddr, socklen, text, sizeof(text), 1);
    ls->addr_text.data = sl_pnalloc(cycle->pool, len);
    if (ls->addr_text.data == NULL) {
        return NULL;
    }
    sl_memcpy(ls->addr_text.data, text, len);
    ls->addr_text.len = len;

    ls->fd = SL_INVALID_FILE;
    ls->type = SOCK_STREAM;
    ls->backlog = SL_LISTEN_BACKLOG;
    ls->rcvbuf = -1;
    ls->sndbuf = -1;
    ls->pool_size = SL_LISTEN_POOL_SIZE;
    ls->log = cycle->new_log;
    ls->logp = &cycle->new_log;
    ls->wildcard = sl_inet_wildcard(sockaddr);
    ls->ipv6only = 1;              /* nginx's default: ipv6only=on */

    return ls;
}

/*
 * A unix socket file left by a process that is gone refuses connections:
 * remove it. One that accepts has an owner, and binding fails as it should.
 */
static void
sl_remove_stale_unix_socket(sl_listening_t *ls, sl_log_t *log)
{
    struct sockaddr_un  *sun = (struct sockaddr_un *) ls->sockaddr;
    int                  s, rc;

    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s == -1) {
        return;
    }

    rc = connect(s, ls->sockaddr, ls->socklen);
    close(s);

    if (rc == -1 && errno == ECONNREFUSED) {
        if (unlink(sun->sun_path) == -1) {
            sl_log_error(SL_LOG_EMERG, log, errno, "unlink() \"%s\" failed",
                         sun->sun_path);
        }
    }
}

static sl_int_t
sl_listening_setsockopt(sl_listening_t *ls, sl_log_t *log, int level,
    int name, const char *text, int value)
{
    if (setsockopt(ls->fd, level, name, &value, sizeof(int)) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "setsockopt(%s, %d) %V "
                     "failed, ignored", text, value, &ls->addr_text);
        return SL_ERROR;
    }

    return SL_OK;
}

/* the options applied once the socket exists; failures are not fatal */
static void
sl_configure_listening(sl_listening_t *ls, sl_log_t *log)
{
    if (ls->rcvbuf != -1) {
        (void) sl_listening_setsockopt(ls, log, SOL_SOCKET, SO_RCVBUF,
                                       "SO_RCVBUF", ls->rcvbuf);
    }

    if (ls->sndbuf != -1) {
        (void) sl_listening_setsockopt(ls, log, SOL_SOCKET, SO_SNDBUF,
                                       "SO_SNDBUF", ls->sndbuf);
    }

    if (ls->keepalive) {
        (void) sl_listening_setsockopt(ls, log, SOL_SOCKET, SO_KEEPALIVE,
                                       "SO_KEEPALIVE", ls->keepalive == 1);
    }

    if (ls->keepidle) {
        (void) sl_listening_setsockopt(ls, log, IPPROTO_TCP, TCP_KEEPIDLE,
                                       "TCP_KEEPIDLE", ls->keepidle);
    }

    if (ls->keepintvl) {
        (void) sl_listening_setsockopt(ls, log, IPPROTO_TCP, TCP_KEEPINTVL,
                                       "TCP_KEEPINTVL", ls->keepintvl);
    }

    if (ls->keepcnt) {
        (void) sl_listening_setsockopt(ls, log, IPPROTO_TCP, TCP_KEEPCNT,
                                       "TCP_KEEPCNT", ls->keepcnt);
    }

#if (SL_HAVE_TCP_DEFER_ACCEPT)
    if (ls->deferred_accept) {
        (void) sl_listening_setsockopt(ls, log, IPPROTO_TCP, TCP_DEFER_ACCEPT,
                                       "TCP_DEFER_ACCEPT", 1);
    }
#endif
}

static sl_int_t
sl_open_listening(sl_listening_t *ls, sl_log_t *log)
{
    int  family = ls->sockaddr->sa_family;
    int  s;

    s = socket(family, ls->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "socket() %V failed",
                     &ls->addr_text);
        return SL_ERROR;
    }

    ls->fd = s;

    if (family != AF_UNIX
        && sl_listening_setsockopt(ls, log, SOL_SOCKET, SO_REUSEADDR,
                                   "SO_REUSEADDR", 1) != SL_OK)
    {
        goto failed;
    }

#if (SL_HAVE_REUSEPORT)
    if (ls->reuseport
        && sl_listening_setsockopt(ls, log, SOL_SOCKET, SO_REUSEPORT,
                                   "SO_REUSEPORT", 1) != SL_OK)
    {
        goto failed;
    }
#endif

    if (family == AF_INET6
        && sl_listening_setsockopt(ls, log, IPPROTO_IPV6, IPV6_V6ONLY,
                                   "IPV6_V6ONLY", ls->ipv6only) != SL_OK)
    {
        goto failed;
    }

    if (family == AF_UNIX) {
        sl_remove_stale_unix_socket(ls, log);
    }

    if (bind(s, ls->sockaddr, ls->socklen) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "bind() to %V failed",
                     &ls->addr_text);
        goto failed;
    }

    if (listen(s, ls->backlog) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "listen() to %V, backlog %d "
                     "failed", &ls->addr_text, ls->backlog);
        goto failed;
    }

    ls->listen = 1;
    ls->open = 1;
    sl_configure_listening(ls, log);
    return SL_OK;

failed:

    close(s);
    ls->fd = SL_INVALID_FILE;
    return SL_ERROR;
}

sl_int_t
sl_open_listening_sockets(sl_cycle_t *cycle)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != SL_INVALID_FILE) {
            continue;
        }

        if (sl_open_listening(&ls[i], cycle->log) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

void
sl_close_listening_sockets(sl_cycle_t *cycle)
{
    sl_listening_t      *ls = cycle->listening.elts;
    struct sockaddr_un  *sun;
    sl_uint_t            i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == SL_INVALID_FILE) {
            continue;
        }

        if (close(ls[i].fd) == -1) {
            sl_log_error(SL_LOG_EMERG, cycle->log, errno, "close() socket "
                         "%V failed", &ls[i].addr_text);
        }

        if (ls[i].sockaddr->sa_family == AF_UNIX && !ls[i].inherited) {
            sun = (struct sockaddr_un *) ls[i].sockaddr;
            if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                             "unlink() \"%s\" failed", sun->sun_path);
            }
        }

        ls[i].fd = SL_INVALID_FILE;
    }
}
