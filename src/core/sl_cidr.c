/*
 * sl_cidr.c -- parsing networks and matching addresses against them
 * (sl_cidr.h). No allocation: the caller owns every structure.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_cidr.h"

#include <arpa/inet.h>

/* the address part of "ADDR[/BITS]" into cidr; its length in bytes */
static size_t
sl_cidr_addr(const u_char *p, size_t len, sl_cidr_t *cidr)
{
    char  text[SL_INET6_ADDRSTRLEN + 1];

    if (len == 0 || len > SL_INET6_ADDRSTRLEN) {
        return 0;
    }

    sl_memcpy(text, p, len);
    text[len] = '\0';

    if (inet_pton(AF_INET, text, cidr->addr) == 1) {
        cidr->family = AF_INET;
        return 4;
    }

    if (inet_pton(AF_INET6, text, cidr->addr) == 1) {
        cidr->family = AF_INET6;
        return 16;
    }

    return 0;
}

sl_int_t
sl_ptocidr(const sl_str_t *text, sl_cidr_t *cidr)
{
    u_char     *slash;
    size_t      len, n;
    sl_int_t    bits;
    sl_uint_t   i, meaningless = 0;

    sl_memzero(cidr, sizeof(sl_cidr_t));

    slash = memchr(text->data, '/', text->len);
    len = slash != NULL ? (size_t) (slash - text->data) : text->len;

    n = sl_cidr_addr(text->data, len, cidr);
    if (n == 0) {
        return SL_ERROR;
    }

    bits = (sl_int_t) (n * 8);

    if (slash != NULL) {
        bits = sl_atoi(slash + 1, text->len - len - 1);
        if (bits == SL_ERROR || bits > (sl_int_t) (n * 8)) {
            return SL_ERROR;
        }
    }

    for (i = 0; i < n; i++, bits -= 8) {
        cidr->mask[i] = bits >= 8 ? 0xff
                        : bits <= 0 ? 0 : (u_char) (0xff00 >> bits);

        if (cidr->addr[i] & ~cidr->mask[i]) {
            meaningless = 1;
            cidr->addr[i] &= cidr->mask[i];
        }
    }

    return meaningless ? SL_DONE : SL_OK;
}

static sl_uint_t
sl_cidr_match_bytes(const sl_cidr_t *cidr, const u_char *a, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if ((a[i] & cidr->mask[i]) != cidr->addr[i]) {
            return 0;
        }
    }

    return 1;
}

sl_int_t
sl_cidr_match(struct sockaddr *sa, const sl_array_t *cidrs)
{
    const sl_cidr_t  *cidr = cidrs->elts;
    const u_char     *a = NULL;
    int               family = sa->sa_family;
    sl_uint_t         i;

    if (family == AF_INET) {
        a = (const u_char *) &((struct sockaddr_in *) sa)->sin_addr;

    } else if (family == AF_INET6) {
        a = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *) sa)->sin6_addr)) {
            family = AF_INET;
            a += 12;
        }
    }

    for (i = 0; i < cidrs->nelts; i++) {
        if (cidr[i].family != family) {
            continue;
        }

        if (family == AF_UNIX
            || sl_cidr_match_bytes(&cidr[i], a, family == AF_INET ? 4 : 16))
        {
            return SL_OK;
        }
    }

    return SL_DECLINED;
}
