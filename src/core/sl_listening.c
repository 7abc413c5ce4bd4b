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

static void sl_listening_move(sl_cycle_t *cycle, sl_listening_t *ls,
    sl_listening_t *old);

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
    ls->cycle = cycle;

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
sl_listening_setsockopt(sl_listening_t *ls, sl_fd_t fd, sl_log_t *log,
    int level, int name, const char *text, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof(int)) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "setsockopt(%s, %d) %V "
                     "failed, ignored", text, value, &ls->addr_text);
        return SL_ERROR;
    }

    return SL_OK;
}

/* the options applied once the socket exists; failures are not fatal */
static void
sl_configure_listening(sl_listening_t *ls, sl_fd_t fd, sl_log_t *log)
{
    if (ls->rcvbuf != -1) {
        (void) sl_listening_setsockopt(ls, fd, log, SOL_SOCKET, SO_RCVBUF,
                                       "SO_RCVBUF", ls->rcvbuf);
    }

    if (ls->sndbuf != -1) {
        (void) sl_listening_setsockopt(ls, fd, log, SOL_SOCKET, SO_SNDBUF,
                                       "SO_SNDBUF", ls->sndbuf);
    }

    if (ls->keepalive) {
        (void) sl_listening_setsockopt(ls, fd, log, SOL_SOCKET, SO_KEEPALIVE,
                                       "SO_KEEPALIVE", ls->keepalive == 1);
    }

    if (ls->keepidle) {
        (void) sl_listening_setsockopt(ls, fd, log, IPPROTO_TCP,
                                       TCP_KEEPIDLE, "TCP_KEEPIDLE",
                                       ls->keepidle);
    }

    if (ls->keepintvl) {
        (void) sl_listening_setsockopt(ls, fd, log, IPPROTO_TCP,
                                       TCP_KEEPINTVL, "TCP_KEEPINTVL",
                                       ls->keepintvl);
    }

    if (ls->keepcnt) {
        (void) sl_listening_setsockopt(ls, fd, log, IPPROTO_TCP, TCP_KEEPCNT,
                                       "TCP_KEEPCNT", ls->keepcnt);
    }

#if (SL_HAVE_TCP_DEFER_ACCEPT)
    if (ls->deferred_accept) {
        (void) sl_listening_setsockopt(ls, fd, log, IPPROTO_TCP,
                                       TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT",
                                       1);
    }
#endif
}

/* a new socket bound and listening for ls, or SL_INVALID_FILE */
static sl_fd_t
sl_open_socket(sl_listening_t *ls, sl_log_t *log)
{
    int  family = ls->sockaddr->sa_family;
    int  s;

    s = socket(family, ls->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "socket() %V failed",
                     &ls->addr_text);
        return SL_INVALID_FILE;
    }

    if (family != AF_UNIX
        && sl_listening_setsockopt(ls, s, log, SOL_SOCKET, SO_REUSEADDR,
                                   "SO_REUSEADDR", 1) != SL_OK)
    {
        goto failed;
    }

#if (SL_HAVE_REUSEPORT)
    if (ls->reuseport
        && sl_listening_setsockopt(ls, s, log, SOL_SOCKET, SO_REUSEPORT,
                                   "SO_REUSEPORT", 1) != SL_OK)
    {
        goto failed;
    }
#endif

    if (family == AF_INET6
        && sl_listening_setsockopt(ls, s, log, IPPROTO_IPV6, IPV6_V6ONLY,
                                   "IPV6_V6ONLY", ls->ipv6only) != SL_OK)
    {
        goto failed;
    }

    if (family == AF_UNIX && ls->fd == SL_INVALID_FILE) {
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

    sl_configure_listening(ls, s, log);
    return s;

failed:

    close(s);
    return SL_INVALID_FILE;
}

/* the number of workers of the cycle that accept on their own sockets */
static sl_uint_t
sl_listening_workers(sl_cycle_t *cycle, sl_listening_t *ls)
{
    sl_core_conf_t  *ccf;

    if (!ls->reuseport || cycle->conf_ctx == NULL) {
        return 1;
    }

    ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
    if (ccf == NULL || ccf->master != 1 || ccf->worker_processes < 2) {
        return 1;
    }

    return (sl_uint_t) ccf->worker_processes;
}

static sl_int_t
sl_open_listening(sl_cycle_t *cycle, sl_listening_t *ls)
{
    sl_uint_t  n, i;
    sl_fd_t   *fds;

    if (ls->fd == SL_INVALID_FILE) {
        ls->fd = sl_open_socket(ls, cycle->log);
        if (ls->fd == SL_INVALID_FILE) {
            return SL_ERROR;
        }
    }

    ls->listen = 1;
    ls->open = 1;

    n = sl_listening_workers(cycle, ls) - 1;
    if (n <= ls->nreuse) {
        return SL_OK;
    }

    fds = sl_palloc(cycle->pool, n * sizeof(sl_fd_t));
    if (fds == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < n; i++) {
        fds[i] = i < ls->nreuse ? ls->reuse_fds[i] : SL_INVALID_FILE;
    }

    ls->reuse_fds = fds;

    for (i = ls->nreuse; i < n; i++) {
        fds[i] = sl_open_socket(ls, cycle->log);
        if (fds[i] == SL_INVALID_FILE) {
            return SL_ERROR;
        }
        ls->nreuse = i + 1;
    }

    return SL_OK;
}

sl_int_t
sl_open_listening_sockets(sl_cycle_t *cycle)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (sl_open_listening(cycle, &ls[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static void
sl_close_socket(sl_cycle_t *cycle, sl_listening_t *ls, sl_fd_t fd)
{
    if (close(fd) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "close() socket "
                     "%V failed", &ls->addr_text);
    }
}

void
sl_close_listening_sockets(sl_cycle_t *cycle)
{
    sl_listening_t      *ls = cycle->listening.elts;
    struct sockaddr_un  *sun;
    sl_uint_t            i, j;

    for (i = 0; i < cycle->listening.nelts; i++) {
        for (j = 0; j < ls[i].nreuse; j++) {
            if (ls[i].reuse_fds[j] != SL_INVALID_FILE) {
                sl_close_socket(cycle, &ls[i], ls[i].reuse_fds[j]);
                ls[i].reuse_fds[j] = SL_INVALID_FILE;
            }
        }
        ls[i].nreuse = 0;

        if (ls[i].fd == SL_INVALID_FILE) {
            continue;
        }

        sl_close_socket(cycle, &ls[i], ls[i].fd);

        if (ls[i].sockaddr->sa_family == AF_UNIX && !ls[i].inherited
            && !ls[i].keep_file)
        {
            sun = (struct sockaddr_un *) ls[i].sockaddr;
            if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                             "unlink() \"%s\" failed", sun->sun_path);
            }
        }

        ls[i].fd = SL_INVALID_FILE;
    }
}

/* --- reloads and binary upgrades ----------------------------------------- */

static sl_uint_t
sl_listening_same(sl_listening_t *a, sl_listening_t *b)
{
    if (a->type != b->type || a->reuseport != b->reuseport
        || sl_cmp_sockaddr(a->sockaddr, a->socklen, b->sockaddr, b->socklen,
                           1) != SL_OK)
    {
        return 0;
    }

    return a->sockaddr->sa_family != AF_INET6 || a->ipv6only == b->ipv6only;
}

void
sl_listening_takeover(sl_cycle_t *cycle, sl_cycle_t *old)
{
    sl_listening_t  *ls = cycle->listening.elts, *ols = old->listening.elts;
    sl_uint_t        i, j;

    for (i = 0; i < cycle->listening.nelts; i++) {
        for (j = 0; j < old->listening.nelts; j++) {
            if (ols[j].remain || ols[j].fd == SL_INVALID_FILE
                || !sl_listening_same(&ls[i], &ols[j]))
            {
                continue;
            }

            sl_listening_move(cycle, &ls[i], &ols[j]);
            break;
        }
    }
}

/*
 * The fds of old move to ls: the old cycle, when it is closed, closes only
 * what was not taken (the sockets of workers there are no more of).
 */
static void
sl_listening_move(sl_cycle_t *cycle, sl_listening_t *ls, sl_listening_t *old)
{
    sl_uint_t  n, j;

    n = sl_min(old->nreuse, sl_listening_workers(cycle, ls) - 1);

    if (n > 0) {
        ls->reuse_fds = sl_palloc(cycle->pool, n * sizeof(sl_fd_t));
        if (ls->reuse_fds == NULL) {
            n = 0;          /* opened anew; the old ones close with old */
        }
    }

    for (j = 0; j < n; j++) {
        ls->reuse_fds[j] = old->reuse_fds[j];
        old->reuse_fds[j] = SL_INVALID_FILE;
    }

    ls->nreuse = n;
    ls->fd = old->fd;
    ls->previous = old;
    ls->inherited = old->inherited;
    ls->keep_file = old->keep_file;
    old->remain = 1;
    old->fd = SL_INVALID_FILE;

    /* the options of the new configuration apply at once */
    if (listen(ls->fd, ls->backlog) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "listen() to %V, "
                     "backlog %d failed, ignored", &ls->addr_text,
                     ls->backlog);
    }

    sl_configure_listening(ls, ls->fd, cycle->log);

    for (j = 0; j < n; j++) {
        (void) listen(ls->reuse_fds[j], ls->backlog);
        sl_configure_listening(ls, ls->reuse_fds[j], cycle->log);
    }
}

void
sl_listening_rollback(sl_cycle_t *cycle)
{
    sl_listening_t  *ls = cycle->listening.elts, *prev;
    sl_uint_t        i, j;

    for (i = 0; i < cycle->listening.nelts; i++) {
        prev = ls[i].previous;
        if (prev == NULL) {
            continue;
        }

        for (j = 0; j < ls[i].nreuse; j++) {
            if (j < prev->nreuse && prev->reuse_fds[j] == SL_INVALID_FILE) {
                prev->reuse_fds[j] = ls[i].reuse_fds[j];
                ls[i].reuse_fds[j] = SL_INVALID_FILE;
            }
        }

        prev->fd = ls[i].fd;
        prev->remain = 0;
        ls[i].fd = SL_INVALID_FILE;
        ls[i].previous = NULL;
    }

    /* what was opened for the new configuration only */
    sl_close_listening_sockets(cycle);
}

/* an inherited socket: another worker's socket of an address known */
static sl_int_t
sl_listening_add_reuse(sl_cycle_t *cycle, sl_listening_t *ls, sl_fd_t fd)
{
    sl_fd_t  *fds;

    fds = sl_palloc(cycle->pool, (ls->nreuse + 1) * sizeof(sl_fd_t));
    if (fds == NULL) {
        return SL_ERROR;
    }

    if (ls->nreuse > 0) {
        sl_memcpy(fds, ls->reuse_fds, ls->nreuse * sizeof(sl_fd_t));
    }

    fds[ls->nreuse++] = fd;
    ls->reuse_fds = fds;
    return SL_OK;
}

static sl_int_t
sl_listening_inherit_fd(sl_cycle_t *cycle, sl_fd_t fd)
{
    sl_listening_t  *ls, *all;
    sl_sockaddr_t    sa;
    socklen_t        len;
    sl_uint_t        i;
    int              value;

    len = sizeof(sl_sockaddr_t);
    if (getsockname(fd, &sa.sockaddr, &len) == -1) {
        sl_log_error(SL_LOG_CRIT, cycle->log, errno, "getsockname() of the "
                     "inherited socket #%d failed", fd);
        return SL_DECLINED;
    }

    ls = sl_create_listening(cycle, &sa.sockaddr, len);
    if (ls == NULL) {
        return SL_ERROR;
    }

    ls->fd = fd;
    ls->inherited = 1;
    ls->bound = 1;
    ls->listen = 1;
    ls->open = 1;

    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) != -1) {
        ls->type = value;
    }

#if (SL_HAVE_REUSEPORT)
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &value, &len) != -1) {
        ls->reuseport = value != 0;
    }
#endif

    len = sizeof(int);
    if (sa.sockaddr.sa_family == AF_INET6
        && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &len) != -1)
    {
        ls->ipv6only = value != 0;
    }

    (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

    if (!ls->reuseport) {
        return SL_OK;
    }

    /* the sockets of the other workers follow the first of an address */
    all = cycle->listening.elts;
    for (i = 0; i + 1 < cycle->listening.nelts; i++) {
        if (sl_listening_same(&all[i], ls)) {
            cycle->listening.nelts--;
            return sl_listening_add_reuse(cycle, &all[i], fd);
        }
    }

    return SL_OK;
}

sl_int_t
sl_listening_inherit(sl_cycle_t *cycle, const char *fds)
{
    const char  *p, *q;
    sl_int_t     fd, rc;

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "using inherited sockets "
                 "from \"%s\"", fds);

    for (p = fds; *p != '\0'; p = q + 1) {
        q = strchr(p, ';');
        if (q == NULL) {
            q = p + strlen(p);
        }

        fd = sl_atoi((u_char *) p, (size_t) (q - p));
        if (fd == SL_ERROR || fd > INT_MAX) {
            sl_log_error(SL_LOG_EMERG, cycle->log, 0, "invalid socket "
                         "number \"%*s\" in SLUICE environment variable, "
                         "ignoring the rest of the variable",
                         (size_t) (q - p), p);
            return SL_OK;
        }

        rc = sl_listening_inherit_fd(cycle, (sl_fd_t) fd);
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }

        if (*q == '\0') {
            break;
        }
    }

    return SL_OK;
}

char *
sl_listening_env(sl_cycle_t *cycle, const char *name)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i, j, n;
    u_char          *var, *p;

    n = 0;
    for (i = 0; i < cycle->listening.nelts; i++) {
        n += 1 + ls[i].nreuse;
    }

    var = sl_pnalloc(cycle->pool,
                     strlen(name) + 2 + n * (SL_INT_T_LEN + 1) + 1);
    if (var == NULL) {
        return NULL;
    }

    p = sl_cpymem(var, name, strlen(name));
    *p++ = '=';

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == SL_INVALID_FILE) {
            continue;
        }

        p = sl_snprintf(p, SL_INT_T_LEN + 2, "%d;", ls[i].fd);

        for (j = 0; j < ls[i].nreuse; j++) {
            if (ls[i].reuse_fds[j] != SL_INVALID_FILE) {
                p = sl_snprintf(p, SL_INT_T_LEN + 2, "%d;",
                                ls[i].reuse_fds[j]);
            }
        }
    }

    *p = '\0';
    return (char *) var;
}

void
sl_listening_for_worker(sl_cycle_t *cycle, sl_uint_t n)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i, j;
    sl_fd_t          mine;

    for (i = 0; i < cycle->listening.nelts; i++) {
        /* a worker never removes a unix socket's file: the master does */
        ls[i].keep_file = 1;

        if (ls[i].nreuse == 0) {
            continue;
        }

        mine = (n == 0 || n > ls[i].nreuse) ? ls[i].fd
                                             : ls[i].reuse_fds[n - 1];

        if (mine != ls[i].fd) {
            (void) close(ls[i].fd);
        }

        for (j = 0; j < ls[i].nreuse; j++) {
            if (ls[i].reuse_fds[j] != mine) {
                (void) close(ls[i].reuse_fds[j]);
            }
        }

        ls[i].fd = mine;
        ls[i].nreuse = 0;
    }
}

sl_int_t
sl_listening_keep_on_exec(sl_cycle_t *cycle)
{
    sl_listening_t  *ls = cycle->listening.elts;
    sl_uint_t        i, j;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != SL_INVALID_FILE && fcntl(ls[i].fd, F_SETFD, 0) == -1) {
            return SL_ERROR;
        }

        for (j = 0; j < ls[i].nreuse; j++) {
            if (ls[i].reuse_fds[j] != SL_INVALID_FILE
                && fcntl(ls[i].reuse_fds[j], F_SETFD, 0) == -1)
            {
                return SL_ERROR;
            }
        }
    }

    return SL_OK;
}
