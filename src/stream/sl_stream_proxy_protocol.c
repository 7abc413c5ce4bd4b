/*
 * sl_stream_proxy_protocol.c -- the PROXY protocol, versions 1 and 2:
 * the parser, the writers, and the stream module that reads a client's
 * header before the phases and gives the $proxy_protocol_* variables.
 *
 * The parser is strict: v1 is "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n"
 * with single spaces, addresses of the named family, decimal ports
 * without leading zeros, or "PROXY UNKNOWN[ anything]\r\n", 107 bytes at
 * most; v2 has the 12-byte signature, version 2, the command LOCAL or
 * PROXY, one of the family/transport pairs the specification lists, an
 * address block as long as its family needs, and TLVs (skipped) that
 * fill the rest exactly.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_proxy_protocol.h"

#include <arpa/inet.h>

#define SL_PP_V2_HEADER      16            /* signature, ver/cmd, fam, len */
#define SL_PP_V2_INET_LEN    12
#define SL_PP_V2_INET6_LEN   36
#define SL_PP_V2_UNIX_LEN    216

/* --- version 1 ----------------------------------------------------------- */

/* the next space-separated field of [*p, end): never empty */
static sl_int_t
sl_pp_v1_field(const u_char **p, const u_char *end, sl_str_t *field)
{
    const u_char  *s = *p;

    while (*p < end && **p != ' ') {
        (*p)++;
    }

    field->data = (u_char *) s;
    field->len = (size_t) (*p - s);

    if (field->len == 0) {
        return SL_ERROR;
    }

    if (*p < end) {
        (*p)++;                             /* the one space */
        if (*p == end) {
            return SL_ERROR;                /* a trailing space */
        }
    }

    return SL_OK;
}

/* an address of family into text (normalised), or SL_ERROR */
static sl_int_t
sl_pp_v1_addr(sl_str_t *field, int family, u_char *text, size_t *len)
{
    u_char  copy[SL_INET6_ADDRSTRLEN + 1], bin[16];

    if (field->len > SL_INET6_ADDRSTRLEN) {
        return SL_ERROR;
    }

    sl_memcpy(copy, field->data, field->len);
    copy[field->len] = '\0';

    if (inet_pton(family, (char *) copy, bin) != 1
        || inet_ntop(family, bin, (char *) text, SL_INET6_ADDRSTRLEN + 1)
           == NULL)
    {
        return SL_ERROR;
    }

    *len = sl_strlen(text);
    return SL_OK;
}

/* "0".."65535", no sign, no leading zero */
static sl_int_t
sl_pp_v1_port(sl_str_t *field, in_port_t *port)
{
    sl_uint_t  n = 0, i;

    if (field->len > 5 || (field->len > 1 && field->data[0] == '0')) {
        return SL_ERROR;
    }

    for (i = 0; i < field->len; i++) {
        if (field->data[i] < '0' || field->data[i] > '9') {
            return SL_ERROR;
        }
        n = n * 10 + (sl_uint_t) (field->data[i] - '0');
    }

    if (n > 65535) {
        return SL_ERROR;
    }

    *port = (in_port_t) n;
    return SL_OK;
}

/* the line without "PROXY " and "\r\n" */
static sl_int_t
sl_pp_v1_line(const u_char *p, const u_char *end, sl_proxy_protocol_t *pp,
    const char **err)
{
    sl_str_t  proto, src, dst, sport, dport;
    int       family;

    if (sl_pp_v1_field(&p, end, &proto) != SL_OK) {
        *err = "no protocol";
        return SL_ERROR;
    }

    if (sl_str_eq_lit(&proto, "UNKNOWN")) {
        pp->family = AF_UNSPEC;         /* the rest is to be ignored */
        return SL_OK;
    }

    if (sl_str_eq_lit(&proto, "TCP4")) {
        family = AF_INET;
    } else if (sl_str_eq_lit(&proto, "TCP6")) {
        family = AF_INET6;
    } else {
        *err = "unknown protocol";
        return SL_ERROR;
    }

    if (sl_pp_v1_field(&p, end, &src) != SL_OK
        || sl_pp_v1_field(&p, end, &dst) != SL_OK
        || sl_pp_v1_field(&p, end, &sport) != SL_OK
        || sl_pp_v1_field(&p, end, &dport) != SL_OK
        || p != end)
    {
        *err = "wrong number of fields";
        return SL_ERROR;
    }

    if (sl_pp_v1_addr(&src, family, pp->src_addr, &pp->src_addr_len)
        != SL_OK
        || sl_pp_v1_addr(&dst, family, pp->dst_addr, &pp->dst_addr_len)
           != SL_OK)
    {
        *err = "invalid address";
        return SL_ERROR;
    }

    if (sl_pp_v1_port(&sport, &pp->src_port) != SL_OK
        || sl_pp_v1_port(&dport, &pp->dst_port) != SL_OK)
    {
        *err = "invalid port";
        return SL_ERROR;
    }

    pp->family = family;
    return SL_OK;
}

static ssize_t
sl_pp_v1(const u_char *buf, size_t len, sl_proxy_protocol_t *pp,
    const char **err)
{
    const u_char  *nl;
    size_t         n;

    n = sl_min(len, (size_t) SL_PROXY_PROTOCOL_V1_MAX_HEADER);

    if (memcmp(buf, "PROXY ", sl_min(n, (size_t) 6)) != 0) {
        *err = "no \"PROXY \"";
        return SL_ERROR;
    }

    nl = memchr(buf, '\n', n);
    if (nl == NULL) {
        if (n == SL_PROXY_PROTOCOL_V1_MAX_HEADER) {
            *err = "too long";
            return SL_ERROR;
        }
        return SL_AGAIN;
    }

    if (nl - buf < 7 || nl[-1] != '\r') {
        *err = "no CRLF";
        return SL_ERROR;
    }

    /* no other CR, nor a NUL, inside the line */
    if (memchr(buf, '\r', (size_t) (nl - 1 - buf)) != NULL
        || memchr(buf, '\0', (size_t) (nl - buf)) != NULL)
    {
        *err = "invalid character";
        return SL_ERROR;
    }

    pp->version = 1;

    if (sl_pp_v1_line(buf + 6, nl - 1, pp, err) != SL_OK) {
        return SL_ERROR;
    }

    return nl + 1 - buf;
}

/* --- version 2 ----------------------------------------------------------- */

/* type, length (2 bytes, network order), value; exactly filling [p, end) */
static sl_int_t
sl_pp_v2_tlvs(const u_char *p, const u_char *end)
{
    size_t  n;

    while (p < end) {
        if (end - p < 3) {
            return SL_ERROR;
        }

        n = ((size_t) p[1] << 8) | p[2];
        p += 3;

        if ((size_t) (end - p) < n) {
            return SL_ERROR;
        }

        p += n;
    }

    return SL_OK;
}

static void
sl_pp_v2_inet(const u_char *p, sl_proxy_protocol_t *pp, int family,
    size_t alen)
{
    inet_ntop(family, p, (char *) pp->src_addr, sizeof(pp->src_addr));
    inet_ntop(family, p + alen, (char *) pp->dst_addr, sizeof(pp->dst_addr));
    pp->src_addr_len = sl_strlen(pp->src_addr);
    pp->dst_addr_len = sl_strlen(pp->dst_addr);

    p += 2 * alen;
    pp->src_port = (in_port_t) ((p[0] << 8) | p[1]);
    pp->dst_port = (in_port_t) ((p[2] << 8) | p[3]);
    pp->family = family;
}

/* the address block and the TLVs of a PROXY command */
static sl_int_t
sl_pp_v2_proxy(const u_char *p, size_t len, u_char fam,
    sl_proxy_protocol_t *pp, const char **err)
{
    size_t  need;

    switch (fam) {

    case 0x00:                              /* UNSPEC: nothing to read */
        pp->family = AF_UNSPEC;
        return SL_OK;

    case 0x11: case 0x12:
        need = SL_PP_V2_INET_LEN;
        break;

    case 0x21: case 0x22:
        need = SL_PP_V2_INET6_LEN;
        break;

    case 0x31: case 0x32:
        need = SL_PP_V2_UNIX_LEN;
        break;

    default:
        *err = "unknown address family or transport";
        return SL_ERROR;
    }

    if (len < need) {
        *err = "address block too short";
        return SL_ERROR;
    }

    if (sl_pp_v2_tlvs(p + need, p + len) != SL_OK) {
        *err = "broken TLV";
        return SL_ERROR;
    }

    switch (fam >> 4) {
    case 1:
        sl_pp_v2_inet(p, pp, AF_INET, 4);
        break;
    case 2:
        sl_pp_v2_inet(p, pp, AF_INET6, 16);
        break;
    default:
        pp->family = AF_UNIX;
        break;
    }

    return SL_OK;
}

static ssize_t
sl_pp_v2(const u_char *buf, size_t len, sl_proxy_protocol_t *pp,
    const char **err)
{
    size_t  n;

    if (len < SL_PP_V2_HEADER) {
        return SL_AGAIN;
    }

    if ((buf[12] >> 4) != 2) {
        *err = "unknown version";
        return SL_ERROR;
    }

    if ((buf[12] & 0x0f) > 1) {
        *err = "unknown command";
        return SL_ERROR;
    }

    n = ((size_t) buf[14] << 8) | buf[15];
    if (SL_PP_V2_HEADER + n > SL_PROXY_PROTOCOL_MAX_HEADER) {
        *err = "header is too large";
        return SL_ERROR;
    }

    if (len < SL_PP_V2_HEADER + n) {
        return SL_AGAIN;
    }

    pp->version = 2;

    if ((buf[12] & 0x0f) == 0) {
        /* LOCAL: the real connection's addresses; the rest is ignored */
        pp->local = 1;
        pp->family = AF_UNSPEC;

    } else if (sl_pp_v2_proxy(buf + SL_PP_V2_HEADER, n, buf[13], pp, err)
               != SL_OK)
    {
        return SL_ERROR;
    }

    return (ssize_t) (SL_PP_V2_HEADER + n);
}

ssize_t
sl_proxy_protocol_parse(const u_char *buf, size_t len,
    sl_proxy_protocol_t *pp, const char **err)
{
    size_t  n;

    sl_memzero(pp, sizeof(sl_proxy_protocol_t));
    *err = NULL;

    if (len == 0) {
        return SL_AGAIN;
    }

    if (buf[0] == 'P') {
        return sl_pp_v1(buf, len, pp, err);
    }

    n = sl_min(len, (size_t) SL_PROXY_PROTOCOL_V2_SIG_LEN);
    if (memcmp(buf, SL_PROXY_PROTOCOL_V2_SIG, n) != 0) {
        *err = "no PROXY protocol signature";
        return SL_ERROR;
    }

    return sl_pp_v2(buf, len, pp, err);
}

/* --- the writers --------------------------------------------------------- */

static socklen_t
sl_pp_socklen(struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET:
        return sizeof(struct sockaddr_in);
    case AF_INET6:
        return sizeof(struct sockaddr_in6);
    default:
        return sizeof(struct sockaddr_un);
    }
}

static u_char *
sl_pp_write_v1(u_char *buf, u_char *last, struct sockaddr *src,
    struct sockaddr *dst)
{
    u_char  tmp[SL_PROXY_PROTOCOL_V1_MAX_HEADER], *p;
    size_t  n;

    if (src->sa_family != dst->sa_family
        || (src->sa_family != AF_INET && src->sa_family != AF_INET6))
    {
        p = sl_cpymem(tmp, "PROXY UNKNOWN\r\n", 15);

    } else {
        p = sl_cpymem(tmp, src->sa_family == AF_INET ? "PROXY TCP4 "
                                                     : "PROXY TCP6 ", 11);
        p += sl_sock_ntop(src, sl_pp_socklen(src), p, SL_INET6_ADDRSTRLEN,
                          0);
        *p++ = ' ';
        p += sl_sock_ntop(dst, sl_pp_socklen(dst), p, SL_INET6_ADDRSTRLEN,
                          0);
        p = sl_slprintf(p, tmp + sizeof(tmp), " %d %d\r\n",
                        (int) sl_inet_get_port(src),
                        (int) sl_inet_get_port(dst));
    }

    n = (size_t) (p - tmp);
    if (n > (size_t) (last - buf)) {
        return NULL;
    }

    return sl_cpymem(buf, tmp, n);
}

static u_char *
sl_pp_put16(u_char *p, sl_uint_t n)
{
    *p++ = (u_char) (n >> 8);
    *p++ = (u_char) n;
    return p;
}

static u_char *
sl_pp_write_v2(u_char *buf, u_char *last, struct sockaddr *src,
    struct sockaddr *dst)
{
    u_char                *p;
    u_char                 fam = 0x00;
    size_t                 len = 0;
    struct sockaddr_in    *s4, *d4;
    struct sockaddr_in6   *s6, *d6;

    if (src->sa_family == dst->sa_family) {
        switch (src->sa_family) {
        case AF_INET:  fam = 0x11; len = SL_PP_V2_INET_LEN; break;
        case AF_INET6: fam = 0x21; len = SL_PP_V2_INET6_LEN; break;
        case AF_UNIX:  fam = 0x31; len = SL_PP_V2_UNIX_LEN; break;
        }
    }

    if ((size_t) (last - buf) < SL_PP_V2_HEADER + len) {
        return NULL;
    }

    p = sl_cpymem(buf, SL_PROXY_PROTOCOL_V2_SIG, SL_PROXY_PROTOCOL_V2_SIG_LEN);
    *p++ = 0x21;                            /* version 2, PROXY */
    *p++ = fam;
    p = sl_pp_put16(p, len);

    switch (fam) {

    case 0x11:
        s4 = (struct sockaddr_in *) src;
        d4 = (struct sockaddr_in *) dst;
        p = sl_cpymem(p, &s4->sin_addr, 4);
        p = sl_cpymem(p, &d4->sin_addr, 4);
        p = sl_cpymem(p, &s4->sin_port, 2);
        return sl_cpymem(p, &d4->sin_port, 2);

    case 0x21:
        s6 = (struct sockaddr_in6 *) src;
        d6 = (struct sockaddr_in6 *) dst;
        p = sl_cpymem(p, &s6->sin6_addr, 16);
        p = sl_cpymem(p, &d6->sin6_addr, 16);
        p = sl_cpymem(p, &s6->sin6_port, 2);
        return sl_cpymem(p, &d6->sin6_port, 2);

    case 0x31:
        sl_memzero(p, SL_PP_V2_UNIX_LEN);
        sl_memcpy(p, ((struct sockaddr_un *) src)->sun_path,
                  sl_min(sizeof(((struct sockaddr_un *) src)->sun_path),
                         (size_t) 108));
        sl_memcpy(p + 108, ((struct sockaddr_un *) dst)->sun_path,
                  sl_min(sizeof(((struct sockaddr_un *) dst)->sun_path),
                         (size_t) 108));
        return p + SL_PP_V2_UNIX_LEN;

    default:
        return p;
    }
}

u_char *
sl_proxy_protocol_write_addrs(u_char *buf, u_char *last,
    struct sockaddr *src, struct sockaddr *dst, sl_uint_t version)
{
    if (version == 2) {
        return sl_pp_write_v2(buf, last, src, dst);
    }

    return sl_pp_write_v1(buf, last, src, dst);
}

u_char *
sl_proxy_protocol_write(sl_connection_t *c, u_char *buf, u_char *last,
    sl_uint_t version)
{
    if (sl_connection_local_sockaddr(c, NULL, 0) != SL_OK) {
        return NULL;
    }

    return sl_proxy_protocol_write_addrs(buf, last, c->sockaddr,
                                         c->local_sockaddr, version);
}

/* --- the module: reading a client's header ------------------------------- */

typedef struct {
    sl_msec_t                timeout;
} sl_stream_proxy_protocol_srv_conf_t;

static sl_int_t sl_stream_proxy_protocol_add_variables(sl_conf_t *cf);
static void *sl_stream_proxy_protocol_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_proxy_protocol_merge_srv_conf(sl_conf_t *cf,
    void *parent, void *child);

static sl_command_t  sl_stream_proxy_protocol_commands[] = {

    { sl_string("proxy_protocol_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_protocol_srv_conf_t, timeout),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_proxy_protocol_module_ctx = {
    sl_stream_proxy_protocol_add_variables,
    NULL,
    NULL,
    NULL,
    sl_stream_proxy_protocol_create_srv_conf,
    sl_stream_proxy_protocol_merge_srv_conf
};

sl_module_t  sl_stream_proxy_protocol_module = {
    .name = "sl_stream_proxy_protocol_module",
    .ctx = &sl_stream_proxy_protocol_module_ctx,
    .commands = sl_stream_proxy_protocol_commands,
    .type = SL_STREAM_MODULE,
};

/* the start of a header, printable, for the log */
static void
sl_stream_proxy_protocol_log_broken(sl_connection_t *c, const u_char *buf,
    size_t len, const char *err)
{
    u_char  text[SL_PROXY_PROTOCOL_V1_MAX_HEADER];
    size_t  i;

    len = sl_min(len, sizeof(text));
    for (i = 0; i < len; i++) {
        text[i] = (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '"')
                  ? buf[i] : '?';
    }

    sl_log_error(SL_LOG_ERR, c->log, 0, "broken header: \"%*s\" (%s)",
                 len, text, err);
}

/* a header that came in pieces: what was taken off the socket so far */
typedef struct {
    size_t                   have;
    u_char                   buf[SL_PROXY_PROTOCOL_MAX_HEADER];
} sl_stream_proxy_protocol_ctx_t;

/* exactly n bytes off the socket: they were seen with MSG_PEEK */
static sl_int_t
sl_stream_proxy_protocol_take(sl_connection_t *c, u_char *buf, size_t n)
{
    if (n > 0 && recv(c->fd, buf, n, 0) != (ssize_t) n) {
        sl_connection_error(c, errno, "recv() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_proxy_protocol_keep(sl_stream_session_t *s, u_char *buf,
    size_t have)
{
    sl_stream_proxy_protocol_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);

    if (ctx == NULL) {
        ctx = sl_palloc(s->connection->pool,
                        sizeof(sl_stream_proxy_protocol_ctx_t));
        if (ctx == NULL) {
            return SL_ERROR;
        }
        sl_stream_set_ctx(s, ctx, sl_stream_proxy_protocol_module);
    }

    if (buf != ctx->buf) {
        sl_memcpy(ctx->buf, buf, have);
    }

    ctx->have = have;
    return SL_OK;
}

static sl_int_t
sl_stream_proxy_protocol_set(sl_connection_t *c, sl_proxy_protocol_t *pp)
{
    if (pp->family != AF_INET && pp->family != AF_INET6) {
        return SL_OK;
    }

    c->proxy_protocol = sl_palloc(c->pool, sizeof(sl_proxy_protocol_t));
    if (c->proxy_protocol == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(c->proxy_protocol, pp, sizeof(sl_proxy_protocol_t));
    return SL_OK;
}

/*
 * SL_OK: read; SL_AGAIN: more to come; else the status to end with.
 *
 * What arrived is looked at with MSG_PEEK and only the header's bytes
 * are taken: the rest is the client's. A header that is not whole yet is
 * taken as far as it came (before a v1 line's LF, or within a v2
 * header's length, every byte is the header's), so that a
 * level-triggered back end does not report the same bytes for ever and
 * the client's FIN is seen.
 */
static sl_int_t
sl_stream_proxy_protocol_read(sl_stream_session_t *s)
{
    sl_stream_proxy_protocol_ctx_t  *ctx;
    sl_connection_t                 *c = s->connection;
    sl_proxy_protocol_t              pp;
    const char                      *err;
    u_char                           stack[SL_PROXY_PROTOCOL_MAX_HEADER];
    u_char                          *buf = stack;
    size_t                           have = 0;
    ssize_t                          n, rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);
    if (ctx != NULL) {
        buf = ctx->buf;
        have = ctx->have;
    }

    /*
     * Until the socket has nothing more: the client's FIN may have come
     * with the last piece, and an edge-triggered back end reports it once.
     */
    for ( ;; ) {
        n = recv(c->fd, buf + have, SL_PROXY_PROTOCOL_MAX_HEADER - have,
                 MSG_PEEK);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                c->read->ready = 0;
                return SL_AGAIN;
            }

            sl_connection_error(c, errno, "recv() failed");
            return SL_STREAM_OK;
        }

        rc = sl_proxy_protocol_parse(buf, have + (size_t) n, &pp, &err);

        if (rc != SL_AGAIN || n == 0) {
            break;
        }

        if (sl_stream_proxy_protocol_take(c, buf + have, (size_t) n)
            != SL_OK
            || sl_stream_proxy_protocol_keep(s, buf, have + (size_t) n)
               != SL_OK)
        {
            return SL_STREAM_INTERNAL_SERVER_ERROR;
        }

        ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_protocol_module);
        buf = ctx->buf;
        have += (size_t) n;
    }

    if (rc == SL_AGAIN || rc == SL_ERROR) {
        sl_stream_proxy_protocol_log_broken(c, buf, have + (size_t) n,
            err != NULL ? err : "the client closed the connection");

        /* taken, so that closing sends a FIN rather than a reset */
        (void) sl_stream_proxy_protocol_take(c, buf + have, (size_t) n);
        return SL_STREAM_BAD_REQUEST;
    }

    /* the header is taken off the socket: it is not the client's data */
    if (sl_stream_proxy_protocol_take(c, buf + have, (size_t) rc - have)
        != SL_OK
        || sl_stream_proxy_protocol_set(c, &pp) != SL_OK)
    {
        return SL_STREAM_INTERNAL_SERVER_ERROR;
    }

    return SL_OK;
}

static void
sl_stream_proxy_protocol_handler(sl_event_t *rev)
{
    sl_connection_t                      *c = rev->data;
    sl_stream_session_t                  *s = c->data;
    sl_stream_proxy_protocol_srv_conf_t  *ppcf;
    sl_int_t                              rc;

    if (rev->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, SL_ETIMEDOUT, "client timed out");
        sl_stream_finalize_session(s, SL_STREAM_OK);
        return;
    }

    rc = sl_stream_proxy_protocol_read(s);

    if (rc == SL_AGAIN) {
        if (!rev->timer_set) {
            ppcf = sl_stream_get_module_srv_conf(s,
                                            sl_stream_proxy_protocol_module);
            sl_add_timer(rev, ppcf->timeout);
        }

        if (sl_handle_read_event(rev, 0) != SL_OK) {
            sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        }
        return;
    }

    if (rev->timer_set) {
        sl_del_timer(rev);
    }

    if (rc != SL_OK) {
        sl_stream_finalize_session(s, (sl_uint_t) rc);
        return;
    }

    c->log->action = "initializing session";
    rev->handler = sl_stream_session_handler;
    sl_stream_session_handler(rev);
}

void
sl_stream_proxy_protocol_start(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;

    c->log->action = "reading PROXY protocol";
    c->read->handler = sl_stream_proxy_protocol_handler;

    /* nothing known yet: the first recv() says whether it would block */
    sl_stream_proxy_protocol_handler(c->read);
}

static void *
sl_stream_proxy_protocol_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_proxy_protocol_srv_conf_t  *conf;

    conf = sl_palloc(cf->pool, sizeof(sl_stream_proxy_protocol_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->timeout = SL_CONF_UNSET_MSEC;
    return conf;
}

static char *
sl_stream_proxy_protocol_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child)
{
    sl_stream_proxy_protocol_srv_conf_t  *prev = parent;
    sl_stream_proxy_protocol_srv_conf_t  *conf = child;

    sl_unused(cf);

    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    return SL_CONF_OK;
}

/* --- the variables ------------------------------------------------------- */

#define SL_PP_VAR_ADDR         0
#define SL_PP_VAR_PORT         1
#define SL_PP_VAR_SERVER_ADDR  2
#define SL_PP_VAR_SERVER_PORT  3

static sl_int_t
sl_stream_proxy_protocol_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_proxy_protocol_t  *pp = s->connection->proxy_protocol;
    in_port_t             port;
    u_char               *p;

    if (pp == NULL) {
        return SL_ERROR;                    /* not found */
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    switch (data) {

    case SL_PP_VAR_ADDR:
        v->data = pp->src_addr;
        v->len = (unsigned) pp->src_addr_len;
        return SL_OK;

    case SL_PP_VAR_SERVER_ADDR:
        v->data = pp->dst_addr;
        v->len = (unsigned) pp->dst_addr_len;
        return SL_OK;

    default:
        port = data == SL_PP_VAR_PORT ? pp->src_port : pp->dst_port;

        p = sl_pnalloc(s->connection->pool, sizeof("65535") - 1);
        if (p == NULL) {
            return SL_ERROR;
        }

        v->data = p;
        v->len = (unsigned) (sl_snprintf(p, sizeof("65535") - 1, "%d",
                                         (int) port) - p);
        return SL_OK;
    }
}

static sl_int_t
sl_stream_proxy_protocol_add_variables(sl_conf_t *cf)
{
    static const char  *names[] = {
        "proxy_protocol_addr",
        "proxy_protocol_port",
        "proxy_protocol_server_addr",
        "proxy_protocol_server_port"
    };

    sl_stream_variable_t  *v;
    sl_str_t               name;
    sl_uint_t              i;

    for (i = 0; i < sl_nelems(names); i++) {
        name.data = (u_char *) names[i];
        name.len = sl_strlen(names[i]);

        v = sl_stream_add_variable(cf, &name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = sl_stream_proxy_protocol_variable;
        v->data = i;
    }

    return SL_OK;
}
