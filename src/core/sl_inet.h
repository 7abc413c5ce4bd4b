/*
 * sl_inet.h -- socket addresses: parsing them from the config, printing
 * them for logs and variables, comparing them.
 */
#ifndef SL_INET_H
#define SL_INET_H

#include "sl_config.h"
#include "sl_string.h"
#include "sl_palloc.h"

#include <sys/un.h>

/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" */
#define SL_INET6_ADDRSTRLEN  (sizeof("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") - 1)
#define SL_SOCKADDR_STRLEN   (sizeof("unix:") - 1 + sizeof(((struct sockaddr_un *) 0)->sun_path))

typedef union {
    struct sockaddr          sockaddr;
    struct sockaddr_in       sockaddr_in;
    struct sockaddr_in6      sockaddr_in6;
    struct sockaddr_un       sockaddr_un;
} sl_sockaddr_t;

typedef struct {
    struct sockaddr         *sockaddr;
    socklen_t                socklen;
    sl_str_t                 name;      /* as printed, with the port */
} sl_addr_t;

typedef struct {
    sl_str_t                 url;       /* the input */
    sl_str_t                 host;
    in_port_t                port;
    in_port_t                default_port;

    unsigned                 listen:1;      /* "80" and "*:80" are valid */
    unsigned                 no_resolve:1;  /* a name is an error */
    unsigned                 wildcard:1;    /* out: INADDR_ANY / in6addr_any */
    unsigned                 no_port:1;     /* out: no port was given */

    sl_sockaddr_t            sockaddr;      /* out: the first address */
    socklen_t                socklen;

    sl_addr_t               *addrs;         /* out: every address */
    sl_uint_t                naddrs;

    const char              *err;           /* out: why it failed */
} sl_url_t;

/*
 * Parses "unix:/path", "[::1]:8000", "127.0.0.1:8000", "*:8000" and "8000"
 * (with u->listen), "host:port" and "host" (default_port). A name is
 * resolved now, with getaddrinfo(), to every address it has. On failure
 * returns SL_ERROR with u->err set, in nginx's words: "invalid port", "no
 * port" (none given and no default_port), "no host", "invalid host" (also
 * a name with no_resolve), "host not found", "invalid IPv6 address", "no
 * path in the unix domain socket", "too long path in the unix domain
 * socket".
 */
sl_int_t sl_parse_url(sl_pool_t *pool, sl_url_t *u);

/*
 * Prints sa as "127.0.0.1", "::1", "unix:/path" -- with port: "127.0.0.1:80",
 * "[::1]:80". Returns the length written (at most len).
 */
size_t sl_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text,
    size_t len, sl_uint_t port);
in_port_t sl_inet_get_port(struct sockaddr *sa);
void sl_inet_set_port(struct sockaddr *sa, in_port_t port);
/* SL_OK when equal (the ports too when cmp_port), else SL_DECLINED */
sl_int_t sl_cmp_sockaddr(struct sockaddr *sa1, socklen_t slen1,
    struct sockaddr *sa2, socklen_t slen2, sl_uint_t cmp_port);
/* true for 0.0.0.0 and :: */
sl_uint_t sl_inet_wildcard(struct sockaddr *sa);

#endif /* SL_INET_H */
