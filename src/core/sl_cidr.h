/*
 * sl_cidr.h -- networks written as "ADDR", "ADDR/BITS" (IPv4 or IPv6) or
 * "unix:", and whether a socket address is in one of a list of them, as
 * nginx's ngx_ptocidr() and ngx_cidr_match() decide: an IPv4 client seen
 * on an IPv6 socket as ::ffff:a.b.c.d is matched as a.b.c.d.
 */
#ifndef SL_CIDR_H
#define SL_CIDR_H

#include "sl_config.h"
#include "sl_string.h"
#include "sl_array.h"

typedef struct {
    int              family;        /* AF_INET, AF_INET6 or AF_UNIX */
    u_char           addr[16];      /* network order, masked */
    u_char           mask[16];      /* 4 bytes used for AF_INET */
} sl_cidr_t;

/*
 * Parses "ADDR" or "ADDR/BITS" into cidr. SL_OK; SL_DONE when the address
 * had bits set outside the mask (they are cleared: nginx warns "low
 * address bits of ... are meaningless"); SL_ERROR when it is not one.
 */
sl_int_t sl_ptocidr(const sl_str_t *text, sl_cidr_t *cidr);

/* SL_OK when sa is in one of cidrs (of sl_cidr_t), else SL_DECLINED */
sl_int_t sl_cidr_match(struct sockaddr *sa, const sl_array_t *cidrs);

#endif /* SL_CIDR_H */
