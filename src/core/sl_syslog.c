/*
 * sl_syslog.c -- syslog targets for the error log and the access log.
 *
 * Owns the "syslog:" argument's parsing, the RFC 3164 header and the
 * datagram socket. It must never block the process nor let a dead syslog
 * server cost more than a send a message: the socket is non-blocking, a
 * failed socket is retried at most once a second, and its failures are
 * told at most once a second (to the cycle's error log, never to the
 * peer that failed -- `busy` stops that loop).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_syslog.h"

#define SL_SYSLOG_TAG_MAX  32

static const char  *sl_syslog_facilities[] = {
    "kern", "user", "mail", "daemon", "auth", "intern", "lpr", "news",
    "uucp", "clock", "authpriv", "ftp", "ntp", "audit", "alert", "cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7", NULL
};

/* as the levels of error_log are spelled: "error", "warn" */
static const char  *sl_syslog_severities[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    NULL
};

/* --- the argument -------------------------------------------------------- */

static sl_int_t
sl_syslog_pick(const char **names, sl_str_t *s)
{
    sl_uint_t  i;

    for (i = 0; names[i] != NULL; i++) {
        if (s->len == sl_strlen(names[i])
            && sl_strncmp(s->data, names[i], s->len) == 0)
        {
            return (sl_int_t) i;
        }
    }

    return SL_ERROR;
}

static char *
sl_syslog_server(sl_conf_t *cf, sl_syslog_peer_t *peer, sl_str_t *s)
{
    sl_url_t  u;

    if (peer->server.sockaddr != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate syslog \"server\"");
        return SL_CONF_ERROR;
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = *s;
    u.default_port = 514;

    if (sl_parse_url(cf->pool, &u) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in syslog server \"%V\"",
                          u.err, &u.url);
        return SL_CONF_ERROR;
    }

    peer->server = u.addrs[0];
    return SL_CONF_OK;
}

static char *
sl_syslog_tag(sl_conf_t *cf, sl_syslog_peer_t *peer, sl_str_t *s)
{
    sl_uint_t  i;
    u_char     c;

    if (peer->tag.data != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate syslog \"tag\"");
        return SL_CONF_ERROR;
    }

    /* RFC 3164: at most 32 alphanumeric characters */
    if (s->len > SL_SYSLOG_TAG_MAX) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "syslog tag length exceeds 32");
        return SL_CONF_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        c = sl_tolower(s->data[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_')) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "syslog \"tag\" only "
                              "allows alphanumeric characters and "
                              "underscore");
            return SL_CONF_ERROR;
        }
    }

    peer->tag = *s;
    return SL_CONF_OK;
}

/* "facility=" or "severity=": a name from names, given once */
static char *
sl_syslog_named(sl_conf_t *cf, sl_uint_t *field, const char **names,
    const char *what, sl_str_t *s)
{
    sl_int_t  i;

    if (*field != SL_CONF_UNSET_UINT) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate syslog \"%s\"",
                          what);
        return SL_CONF_ERROR;
    }

    i = sl_syslog_pick(names, s);
    if (i == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown syslog %s \"%V\"",
                          what, s);
        return SL_CONF_ERROR;
    }

    *field = (sl_uint_t) i;
    return SL_CONF_OK;
}

/* one "name=value" (or "nohostname") of the comma-separated list */
static char *
sl_syslog_param(sl_conf_t *cf, sl_syslog_peer_t *peer, sl_str_t *p)
{
    sl_str_t  v;

    if (p->len >= 7 && sl_strncmp(p->data, "server=", 7) == 0) {
        v.data = p->data + 7;
        v.len = p->len - 7;
        return sl_syslog_server(cf, peer, &v);
    }

    if (p->len >= 9 && sl_strncmp(p->data, "facility=", 9) == 0) {
        v.data = p->data + 9;
        v.len = p->len - 9;
        return sl_syslog_named(cf, &peer->facility, sl_syslog_facilities,
                               "facility", &v);
    }

    if (p->len >= 9 && sl_strncmp(p->data, "severity=", 9) == 0) {
        v.data = p->data + 9;
        v.len = p->len - 9;
        return sl_syslog_named(cf, &peer->severity, sl_syslog_severities,
                               "severity", &v);
    }

    if (p->len >= 4 && sl_strncmp(p->data, "tag=", 4) == 0) {
        v.data = p->data + 4;
        v.len = p->len - 4;
        return sl_syslog_tag(cf, peer, &v);
    }

    if (sl_str_eq_lit(p, "nohostname")) {
        peer->nohostname = 1;
        return SL_CONF_OK;
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown syslog parameter \"%V\"",
                      p);
    return SL_CONF_ERROR;
}

static void
sl_syslog_cleanup(void *data)
{
    sl_syslog_peer_t  *peer = data;

    peer->busy = 1;     /* a log message from here on must not reopen it */

    if (peer->fd != SL_INVALID_FILE) {
        (void) close(peer->fd);
        peer->fd = SL_INVALID_FILE;
    }
}

char *
sl_syslog_process_conf(sl_conf_t *cf, sl_syslog_peer_t *peer,
    sl_str_t *value)
{
    sl_pool_cleanup_t  *cln;
    sl_str_t            p;
    u_char             *pos, *end, *comma;

    peer->facility = SL_CONF_UNSET_UINT;
    peer->severity = SL_CONF_UNSET_UINT;
    peer->fd = SL_INVALID_FILE;

    pos = value->data + sizeof("syslog:") - 1;
    end = value->data + value->len;

    while (pos <= end) {
        comma = memchr(pos, ',', (size_t) (end - pos));
        p.data = pos;
        p.len = (size_t) ((comma != NULL ? comma : end) - pos);

        if (sl_syslog_param(cf, peer, &p) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }

        if (comma == NULL) {
            break;
        }
        pos = comma + 1;
    }

    if (peer->server.sockaddr == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no syslog server specified");
        return SL_CONF_ERROR;
    }

    if (peer->facility == SL_CONF_UNSET_UINT) {
        peer->facility = 23;                    /* local7 */
    }
    if (peer->severity == SL_CONF_UNSET_UINT) {
        peer->severity = 6;                     /* info */
    }
    if (peer->tag.data == NULL) {
        sl_str_set(&peer->tag, "sluice");
    }

    peer->hostname = &cf->cycle->hostname;
    peer->time = &cf->cycle->time;
    peer->log = &cf->cycle->new_log;

    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return SL_CONF_ERROR;
    }

    cln->handler = sl_syslog_cleanup;
    cln->data = peer;
    return SL_CONF_OK;
}

/* --- the header ---------------------------------------------------------- */

size_t
sl_syslog_header_len(sl_syslog_peer_t *peer)
{
    size_t  len;

    len = sizeof("<191>Jan 01 00:00:00 ") - 1 + peer->tag.len + 2;

    if (!peer->nohostname) {
        len += peer->hostname->len + 1;
    }

    return len;
}

u_char *
sl_syslog_add_header(sl_syslog_peer_t *peer, u_char *buf, sl_uint_t severity)
{
    sl_uint_t  pri = peer->facility * 8 + severity;
    u_char    *last = buf + SL_SYSLOG_MAX_HEADER;

    if (peer->nohostname) {
        return sl_slprintf(buf, last, "<%ui>%s %V: ", pri,
                           peer->time->syslog_time, &peer->tag);
    }

    return sl_slprintf(buf, last, "<%ui>%s %V %V: ", pri,
                       peer->time->syslog_time, peer->hostname, &peer->tag);
}

/* --- sending ------------------------------------------------------------- */

/* " while logging to syslog, server: ADDR" after the error's text */
static u_char *
sl_syslog_log_context(sl_log_t *log, u_char *buf, size_t len)
{
    sl_syslog_peer_t  *peer = log->data;

    return sl_slprintf(buf, buf + len, " while %s, server: %V", log->action,
                       &peer->server.name);
}

/* tells what failed, once a second at most, never to this peer itself */
static void
sl_syslog_failed(sl_syslog_peer_t *peer, sl_err_t err, const char *what)
{
    if (peer->logged == peer->time->sec) {
        return;
    }

    peer->elog = *peer->log;
    peer->elog.connection = 0;
    peer->elog.handler = sl_syslog_log_context;
    peer->elog.data = peer;
    peer->elog.action = "logging to syslog";

    peer->logged = peer->time->sec;
    peer->busy = 1;
    sl_log_error(SL_LOG_ALERT, &peer->elog, err, "%s", what);
    peer->busy = 0;
}

static sl_int_t
sl_syslog_connect(sl_syslog_peer_t *peer)
{
    sl_fd_t  fd;

    if (peer->time->sec < peer->retry) {
        return SL_ERROR;
    }

    peer->retry = peer->time->sec + 1;

    fd = socket(peer->server.sockaddr->sa_family,
                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == SL_INVALID_FILE) {
        sl_syslog_failed(peer, errno, "socket() failed");
        return SL_ERROR;
    }

    if (connect(fd, peer->server.sockaddr, peer->server.socklen) == -1) {
        sl_syslog_failed(peer, errno, "connect() failed");
        (void) close(fd);
        return SL_ERROR;
    }

    peer->fd = fd;
    return SL_OK;
}

ssize_t
sl_syslog_send(sl_syslog_peer_t *peer, u_char *buf, size_t len)
{
    ssize_t   n;
    int       refused = 0;
    sl_err_t  err;

    if (peer->fd == SL_INVALID_FILE && sl_syslog_connect(peer) != SL_OK) {
        return SL_ERROR;
    }

    for ( ;; ) {
        n = send(peer->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            return n;
        }

        if (errno == EINTR) {
            continue;
        }

        /*
         * On UDP a refusal reports an earlier datagram (an ICMP error):
         * this one was not sent, so it gets one more try.
         */
        if (errno == ECONNREFUSED && !refused) {
            refused = 1;
            continue;
        }

        break;
    }

    err = errno;
    sl_syslog_failed(peer, err, "send() failed");

    /*
     * A full queue, or this one line too long for a datagram: the line
     * is lost, the socket is fine. Anything else: a unix socket's server
     * may come back at the same path, so connect again (at most once a
     * second).
     */
    if (err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS
        && err != EMSGSIZE)
    {
        (void) close(peer->fd);
        peer->fd = SL_INVALID_FILE;
    }

    return SL_ERROR;
}

/* --- the error log's writer ---------------------------------------------- */

/* the whole line, without its line feed, at the message's own severity */
static void
sl_syslog_writer(sl_open_file_t *file, sl_uint_t level, u_char *buf,
    size_t len)
{
    sl_syslog_peer_t  *peer = file->wdata;
    u_char             msg[SL_SYSLOG_MAX_HEADER + SL_MAX_ERROR_STR], *p;

    if (peer->busy) {
        return;
    }

    peer->busy = 1;

    p = sl_syslog_add_header(peer, msg, level > SL_LOG_STDERR ? level - 1 : 0);

    if (len > SL_MAX_ERROR_STR) {
        len = SL_MAX_ERROR_STR;
    }

    p = sl_cpymem(p, buf, len);

    peer->busy = 0;
    (void) sl_syslog_send(peer, msg, (size_t) (p - msg));
}

sl_open_file_t *
sl_syslog_open_file(sl_conf_t *cf, sl_str_t *value)
{
    sl_open_file_t    *file;
    sl_syslog_peer_t  *peer;

    file = sl_pcalloc(cf->pool, sizeof(sl_open_file_t));
    peer = sl_pcalloc(cf->pool, sizeof(sl_syslog_peer_t));
    if (file == NULL || peer == NULL) {
        return NULL;
    }

    if (sl_syslog_process_conf(cf, peer, value) != SL_CONF_OK) {
        return NULL;
    }

    file->fd = SL_INVALID_FILE;
    file->name = *value;
    file->writer = sl_syslog_writer;
    file->wdata = peer;
    return file;
}
