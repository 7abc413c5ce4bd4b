/*
 * sl_inet.c -- socket addresses: parsing the config's forms, printing them
 * for logs and variables, comparing them.
 *
 * The error texts are nginx's, so that a config that fails in one fails
 * with the same words in the other.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <netdb.h>

/* the longest IPv4 or IPv6 literal, with its NUL */
#define SL_INET_LITERAL_LEN  (SL_INET6_ADDRSTRLEN + 1)

static sl_int_t sl_parse_unix_url(sl_pool_t *pool, sl_url_t *u);
static sl_int_t sl_parse_inet6_url(sl_pool_t *pool, sl_url_t *u);
static sl_int_t sl_parse_inet_url(sl_pool_t *pool, sl_url_t *u);

/* --- printing ------------------------------------------------------------ */

static size_t
sl_sock_ntop_unix(struct sockaddr_un *saun, socklen_t socklen, u_char *text,
    size_t len)
{
    size_t   n = 0;
    u_char  *p;

    if (socklen > (socklen_t) offsetof(struct sockaddr_un, sun_path)) {
        n = socklen - offsetof(struct sockaddr_un, sun_path);
        n = strnlen(saun->sun_path, sl_min(n, sizeof(saun->sun_path)));
    }

    p = sl_snprintf(text, len, "unix:%*s", n, saun->sun_path);
    return (size_t) (p - text);
}

static size_t
sl_sock_ntop_inet(int family, void *addr, in_port_t port, u_char *text,
    size_t len, sl_uint_t with_port)
{
    char     buf[SL_INET_LITERAL_LEN];
    u_char  *p;

    if (inet_ntop(family, addr, buf, sizeof(buf)) == NULL) {
        return 0;
    }

    if (!with_port) {
        p = sl_snprintf(text, len, "%s", buf);
    } else if (family == AF_INET6) {
        p = sl_snprintf(text, len, "[%s]:%d", buf, (int) port);
    } else {
        p = sl_snprintf(text, len, "%s:%d", buf, (int) port);
    }

    return (size_t) (p - text);
}

size_t
sl_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text,
    size_t len, sl_uint_t port)
{
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;
    size_t                n;

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        n = sl_sock_ntop_inet(AF_INET, &sin->sin_addr, ntohs(sin->sin_port),
                              text, len, port);
        break;

    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        n = sl_sock_ntop_inet(AF_INET6, &sin6->sin6_addr,
                              ntohs(sin6->sin6_port), text, len, port);
        break;

    case AF_UNIX:
        n = sl_sock_ntop_unix((struct sockaddr_un *) sa, socklen, text, len);
        break;

    default:
        return 0;
    }

    /* a NUL when there is room: handy for the C library, never counted */
    if (n < len) {
        text[n] = '\0';
    }

    return n;
}

/* --- ports, comparison, wildcards ---------------------------------------- */

in_port_t
sl_inet_get_port(struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET:
        return ntohs(((struct sockaddr_in *) sa)->sin_port);
    case AF_INET6:
        return ntohs(((struct sockaddr_in6 *) sa)->sin6_port);
    default:
        return 0;
    }
}

void
sl_inet_set_port(struct sockaddr *sa, in_port_t port)
{
    switch (sa->sa_family) {
    case AF_INET:
        ((struct sockaddr_in *) sa)->sin_port = htons(port);
        break;
    case AF_INET6:
        ((struct sockaddr_in6 *) sa)->sin6_port = htons(port);
        break;
    default:
        break;
    }
}

static sl_int_t
sl_cmp_sockaddr_unix(struct sockaddr_un *a, socklen_t alen,
    struct sockaddr_un *b, socklen_t blen)
{
    size_t  off = offsetof(struct sockaddr_un, sun_path), n1 = 0, n2 = 0;

    if (alen > (socklen_t) off) {
        n1 = strnlen(a->sun_path, sl_min(alen - off, sizeof(a->sun_path)));
    }

    if (blen > (socklen_t) off) {
        n2 = strnlen(b->sun_path, sl_min(blen - off, sizeof(b->sun_path)));
    }

    if (n1 != n2 || sl_memcmp(a->sun_path, b->sun_path, n1) != 0) {
        return SL_DECLINED;
    }

    return SL_OK;
}

sl_int_t
sl_cmp_sockaddr(struct sockaddr *sa1, socklen_t slen1,
    struct sockaddr *sa2, socklen_t slen2, sl_uint_t cmp_port)
{
    struct sockaddr_in   *sin1, *sin2;
    struct sockaddr_in6  *sin61, *sin62;

    if (sa1->sa_family != sa2->sa_family) {
        return SL_DECLINED;
    }

    switch (sa1->sa_family) {

    case AF_INET:
        sin1 = (struct sockaddr_in *) sa1;
        sin2 = (struct sockaddr_in *) sa2;

        if ((cmp_port && sin1->sin_port != sin2->sin_port)
            || sin1->sin_addr.s_addr != sin2->sin_addr.s_addr)
        {
            return SL_DECLINED;
        }

        return SL_OK;

    case AF_INET6:
        sin61 = (struct sockaddr_in6 *) sa1;
        sin62 = (struct sockaddr_in6 *) sa2;

        if ((cmp_port && sin61->sin6_port != sin62->sin6_port)
            || sl_memcmp(&sin61->sin6_addr, &sin62->sin6_addr, 16) != 0)
        {
            return SL_DECLINED;
        }

        return SL_OK;

    case AF_UNIX:
        return sl_cmp_sockaddr_unix((struct sockaddr_un *) sa1, slen1,
                                    (struct sockaddr_un *) sa2, slen2);

    default:
        return SL_DECLINED;
    }
}

sl_uint_t
sl_inet_wildcard(struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET:
        return ((struct sockaddr_in *) sa)->sin_addr.s_addr == INADDR_ANY;
    case AF_INET6:
        return IN6_IS_ADDR_UNSPECIFIED(
                   &((struct sockaddr_in6 *) sa)->sin6_addr);
    default:
        return 0;
    }
}

/* --- parsing ------------------------------------------------------------- */

sl_int_t
sl_parse_url(sl_pool_t *pool, sl_url_t *u)
{
    u_char  *p = u->url.data;
    size_t   len = u->url.len;

    u->err = NULL;
    u->addrs = NULL;
    u->naddrs = 0;
    u->wildcard = 0;
    u->no_port = 0;
    u->port = 0;
    sl_str_null(&u->host);
    sl_memzero(&u->sockaddr, sizeof(sl_sockaddr_t));

    if (len >= 5 && sl_strncasecmp(p, (u_char *) "unix:", 5) == 0) {
        return sl_parse_unix_url(pool, u);
    }

    if (len > 0 && p[0] == '[') {
        return sl_parse_inet6_url(pool, u);
    }

    return sl_parse_inet_url(pool, u);
}

/* appends a copy of sa, named with its port, to u->addrs */
static sl_int_t
sl_url_add_addr(sl_pool_t *pool, sl_url_t *u, struct sockaddr *sa,
    socklen_t socklen, sl_uint_t total)
{
    sl_addr_t  *addr;
    u_char     *text;

    if (u->addrs == NULL) {
        u->addrs = sl_palloc(pool, total * sizeof(sl_addr_t));
        if (u->addrs == NULL) {
            return SL_ERROR;
        }
    }

    addr = &u->addrs[u->naddrs];

    addr->sockaddr = sl_pcalloc(pool, sizeof(sl_sockaddr_t));
    text = sl_pnalloc(pool, SL_SOCKADDR_STRLEN);
    if (addr->sockaddr == NULL || text == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(addr->sockaddr, sa, socklen);
    sl_inet_set_port(addr->sockaddr, u->port);
    addr->socklen = socklen;
    addr->name.data = text;
    addr->name.len = sl_sock_ntop(addr->sockaddr, socklen, text,
                                  SL_SOCKADDR_STRLEN, 1);
    u->naddrs++;
    return SL_OK;
}

/* the first address of u->addrs becomes u->sockaddr */
static sl_int_t
sl_url_add_first(sl_pool_t *pool, sl_url_t *u)
{
    if (sl_url_add_addr(pool, u, &u->sockaddr.sockaddr, u->socklen, 1)
        != SL_OK)
    {
        return SL_ERROR;
    }

    sl_inet_set_port(&u->sockaddr.sockaddr, u->port);
    return SL_OK;
}

static sl_int_t
sl_parse_unix_url(sl_pool_t *pool, sl_url_t *u)
{
    struct sockaddr_un  *saun = &u->sockaddr.sockaddr_un;
    size_t               len = u->url.len - 5;
    u_char              *path = u->url.data + 5;

    if (len == 0) {
        u->err = "no path in the unix domain socket";
        return SL_ERROR;
    }

    /* the path and its NUL must fit */
    if (len + 1 > sizeof(saun->sun_path)) {
        u->err = "too long path in the unix domain socket";
        return SL_ERROR;
    }

    u->host.len = len;
    u->host.data = path;

    saun->sun_family = AF_UNIX;
    sl_memcpy(saun->sun_path, path, len);
    u->socklen = (socklen_t) sizeof(struct sockaddr_un);

    return sl_url_add_first(pool, u);
}

/* "1".."65535" or SL_ERROR */
static sl_int_t
sl_parse_port(u_char *p, size_t len)
{
    sl_int_t  n = sl_atoi(p, len);

    if (n < 1 || n > 65535) {
        return SL_ERROR;
    }

    return n;
}

/* applies the port text after "host:" (or none): u->port, u->no_port */
static sl_int_t
sl_url_set_port(sl_url_t *u, u_char *port, size_t len, sl_uint_t given)
{
    sl_int_t  n;

    if (given) {
        n = sl_parse_port(port, len);
        if (n == SL_ERROR) {
            u->err = "invalid port";
            return SL_ERROR;
        }

        u->port = (in_port_t) n;
        return SL_OK;
    }

    u->no_port = 1;

    if (u->default_port == 0) {
        u->err = "no port";
        return SL_ERROR;
    }

    u->port = u->default_port;
    return SL_OK;
}

static sl_int_t
sl_parse_inet6_url(sl_pool_t *pool, sl_url_t *u)
{
    struct sockaddr_in6  *sin6 = &u->sockaddr.sockaddr_in6;
    u_char               *host, *close, *last, *port;
    char                  literal[SL_INET_LITERAL_LEN];
    size_t                len;
    sl_uint_t             given;

    host = u->url.data + 1;
    last = u->url.data + u->url.len;

    close = memchr(host, ']', (size_t) (last - host));
    if (close == NULL) {
        u->err = "invalid host";
        return SL_ERROR;
    }

    port = close + 1;
    if (port < last && *port != ':') {
        u->err = "invalid host";
        return SL_ERROR;
    }

    len = (size_t) (close - host);
    if (len == 0) {
        u->err = "no host";
        return SL_ERROR;
    }

    u->host.len = len + 2;          /* with the brackets, as nginx has it */
    u->host.data = host - 1;

    if (len >= sizeof(literal)) {
        u->err = "invalid IPv6 address";
        return SL_ERROR;
    }

    sl_memcpy(literal, host, len);
    literal[len] = '\0';

    if (inet_pton(AF_INET6, literal, &sin6->sin6_addr) != 1) {
        u->err = "invalid IPv6 address";
        return SL_ERROR;
    }

    given = (port < last);
    if (given) {
        port++;                     /* past the ':' */
    }

    if (sl_url_set_port(u, port, (size_t) (last - port), given) != SL_OK) {
        return SL_ERROR;
    }

    sin6->sin6_family = AF_INET6;
    u->socklen = (socklen_t) sizeof(struct sockaddr_in6);
    u->wildcard = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);

    return sl_url_add_first(pool, u);
}

/* "8000" alone, with u->listen: every IPv4 address on that port */
static sl_int_t
sl_parse_port_only(sl_pool_t *pool, sl_url_t *u, sl_int_t n)
{
    if (n < 1 || n > 65535) {
        u->err = "invalid port";
        return SL_ERROR;
    }

    u->port = (in_port_t) n;
    u->sockaddr.sockaddr_in.sin_family = AF_INET;
    u->sockaddr.sockaddr_in.sin_addr.s_addr = htonl(INADDR_ANY);
    u->socklen = (socklen_t) sizeof(struct sockaddr_in);
    u->wildcard = 1;

    return sl_url_add_first(pool, u);
}

/* an IPv4 literal, or "*" when listening; 0 when it is neither */
static sl_uint_t
sl_inet_literal(sl_url_t *u, u_char *host, size_t len, struct in_addr *in)
{
    char  literal[SL_INET_LITERAL_LEN];

    if (u->listen && len == 1 && host[0] == '*') {
        in->s_addr = htonl(INADDR_ANY);
        return 1;
    }

    if (len >= sizeof(literal)) {
        return 0;
    }

    sl_memcpy(literal, host, len);
    literal[len] = '\0';
    return inet_pton(AF_INET, literal, in) == 1;
}

static sl_int_t sl_inet_resolve_host(sl_pool_t *pool, sl_url_t *u);

static sl_int_t
sl_parse_inet_url(sl_pool_t *pool, sl_url_t *u)
{
    struct sockaddr_in  *sin = &u->sockaddr.sockaddr_in;
    u_char              *host = u->url.data, *last, *colon;
    sl_int_t             n;

    last = host + u->url.len;
    colon = memchr(host, ':', u->url.len);

    if (colon == NULL && u->listen) {
        n = sl_atoi(host, u->url.len);
        if (n != SL_ERROR) {
            return sl_parse_port_only(pool, u, n);
        }
    }

    if (sl_url_set_port(u, colon ? colon + 1 : NULL,
                        colon ? (size_t) (last - colon - 1) : 0,
                        colon != NULL)
        != SL_OK)
    {
        return SL_ERROR;
    }

    u->host.data = host;
    u->host.len = (size_t) ((colon ? colon : last) - host);

    if (u->host.len == 0) {
        u->err = "no host";
        return SL_ERROR;
    }

    if (!sl_inet_literal(u, u->host.data, u->host.len, &sin->sin_addr)) {
        return sl_inet_resolve_host(pool, u);
    }

    sin->sin_family = AF_INET;
    u->socklen = (socklen_t) sizeof(struct sockaddr_in);
    u->wildcard = (sin->sin_addr.s_addr == htonl(INADDR_ANY));

    return sl_url_add_first(pool, u);
}

static sl_uint_t
sl_inet_family_ok(struct addrinfo *rp)
{
    return rp->ai_family == AF_INET || rp->ai_family == AF_INET6;
}

static sl_int_t
sl_inet_add_resolved(sl_pool_t *pool, sl_url_t *u, struct addrinfo *res)
{
    struct addrinfo  *rp;
    sl_uint_t         n = 0;

    for (rp = res; rp != NULL; rp = rp->ai_next) {
        n += sl_inet_family_ok(rp);
    }

    if (n == 0) {
        u->err = "host not found";
        return SL_ERROR;
    }

    for (rp = res; rp != NULL; rp = rp->ai_next) {
        if (sl_inet_family_ok(rp)
            && sl_url_add_addr(pool, u, rp->ai_addr, rp->ai_addrlen, n)
               != SL_OK)
        {
            return SL_ERROR;
        }
    }

    u->socklen = u->addrs[0].socklen;
    sl_memcpy(&u->sockaddr, u->addrs[0].sockaddr, u->socklen);
    u->wildcard = sl_inet_wildcard(&u->sockaddr.sockaddr);
    return SL_OK;
}

/* a name: every address getaddrinfo() knows for it, now */
static sl_int_t
sl_inet_resolve_host(sl_pool_t *pool, sl_url_t *u)
{
    struct addrinfo   hints, *res;
    sl_int_t          rc;
    u_char           *name;

    if (u->no_resolve) {
        u->err = "invalid host";
        return SL_ERROR;
    }

    name = sl_pstrdup(pool, &u->host);
    if (name == NULL) {
        return SL_ERROR;
    }

    sl_memzero(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;

    if (getaddrinfo((char *) name, NULL, &hints, &res) != 0) {
        u->err = "host not found";
        return SL_ERROR;
    }

    rc = sl_inet_add_resolved(pool, u, res);
    freeaddrinfo(res);
    return rc;
}
