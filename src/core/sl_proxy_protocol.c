/*
 * sl_proxy_protocol.c -- the PROXY protocol's wire format, versions 1 and
 * 2: the parser of the header a client sends first, and the writers of
 * the header sent to an upstream.
 *
 * It works on the caller's bytes and structures only: it never allocates,
 * never touches a connection or a socket, and logs nothing (the reader,
 * src/stream/sl_stream_proxy_protocol_module.c, does). The fuzz target
 * links it with core alone.
 *
 * The parser is strict: v1 is "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n"
 * with single spaces, addresses of the named family, decimal ports
 * without leading zeros, or "PROXY UNKNOWN[ anything]\r\n", 107 bytes at
 * most; v2 has the 12-byte signature, version 2, the command LOCAL or
 * PROXY, one of the family/transport pairs the specification lists, an
 * address block as long as its family needs, and TLVs that fill the rest
 * exactly (kept as they came, for $proxy_protocol_tlv_*).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_proxy_protocol.h"

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

    pp->tlvs = p + need;
    pp->tlvs_len = len - need;

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

/* --- TLVs by name ------------------------------------------------------- */

typedef struct {
    const char  *name;
    u_char       type;
} sl_pp_tlv_name_t;

static const sl_pp_tlv_name_t  sl_pp_tlv_names[] = {
    { "alpn", 0x01 }, { "authority", 0x02 }, { "unique_id", 0x05 },
    { "ssl", 0x20 }, { "netns", 0x30 }, { NULL, 0 }
};

/* within the SSL TLV, after its client byte and verify field */
static const sl_pp_tlv_name_t  sl_pp_tlv_ssl_names[] = {
    { "version", 0x21 }, { "cn", 0x22 }, { "cipher", 0x23 },
    { "sig_alg", 0x24 }, { "key_alg", 0x25 }, { NULL, 0 }
};

#define SL_PP_TLV_SSL        0x20
#define SL_PP_TLV_SSL_FIXED  5          /* client (1), verify (4) */

/* the first TLV of type in [p, p + len) */
static sl_int_t
sl_pp_find_tlv(const u_char *p, size_t len, sl_uint_t type, sl_str_t *value,
    const char **err)
{
    size_t  n;

    while (len > 0) {
        if (len < 3) {
            *err = "broken PROXY protocol TLV";
            return SL_ERROR;
        }

        n = ((size_t) p[1] << 8) | p[2];
        if (len - 3 < n) {
            *err = "broken PROXY protocol TLV";
            return SL_ERROR;
        }

        if (p[0] == type) {
            value->data = (u_char *) p + 3;
            value->len = n;
            return SL_OK;
        }

        p += 3 + n;
        len -= 3 + n;
    }

    return SL_DECLINED;
}

/* a type by "0xNN" or by name from names */
static sl_int_t
sl_pp_tlv_type(const u_char *p, size_t n, const sl_pp_tlv_name_t *names,
    const char **err)
{
    sl_int_t  type;

    if (n >= 2 && p[0] == '0' && p[1] == 'x') {
        type = sl_hextoi((u_char *) p + 2, n - 2);
        if (type == SL_ERROR || type > 0xff) {
            *err = "invalid PROXY protocol TLV";
            return SL_ERROR;
        }
        return type;
    }

    for ( /* void */ ; names->name != NULL; names++) {
        if (sl_strlen(names->name) == n
            && sl_strncmp(p, names->name, n) == 0)
        {
            return names->type;
        }
    }

    *err = "unknown PROXY protocol TLV";
    return SL_ERROR;
}

sl_int_t
sl_proxy_protocol_get_tlv(const sl_proxy_protocol_t *pp,
    const sl_str_t *name, sl_str_t *value, u_char *verify_buf,
    const char **err)
{
    const sl_pp_tlv_name_t  *names = sl_pp_tlv_names;
    const u_char            *p = name->data, *tlvs = pp->tlvs;
    size_t                   n = name->len, len = pp->tlvs_len;
    sl_str_t                 ssl;
    sl_int_t                 rc, type;
    uint32_t                 verify;

    *err = NULL;

    if (n >= 4 && sl_strncmp(p, "ssl_", 4) == 0) {
        rc = sl_pp_find_tlv(tlvs, len, SL_PP_TLV_SSL, &ssl, err);
        if (rc != SL_OK) {
            return rc;
        }

        if (ssl.len < SL_PP_TLV_SSL_FIXED) {
            *err = "broken PROXY protocol TLV";
            return SL_ERROR;
        }

        p += 4;
        n -= 4;

        if (n == 6 && sl_strncmp(p, "verify", 6) == 0) {
            verify = ((uint32_t) ssl.data[1] << 24) | (ssl.data[2] << 16)
                     | (ssl.data[3] << 8) | ssl.data[4];
            value->data = verify_buf;
            value->len = (size_t) (sl_snprintf(verify_buf,
                                               SL_PROXY_PROTOCOL_VERIFY_LEN,
                                               "%ui", (sl_uint_t) verify)
                                   - verify_buf);
            return SL_OK;
        }

        tlvs = ssl.data + SL_PP_TLV_SSL_FIXED;
        len = ssl.len - SL_PP_TLV_SSL_FIXED;
        names = sl_pp_tlv_ssl_names;
    }

    type = sl_pp_tlv_type(p, n, names, err);
    if (type == SL_ERROR) {
        return SL_ERROR;
    }

    return sl_pp_find_tlv(tlvs, len, (sl_uint_t) type, value, err);
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
