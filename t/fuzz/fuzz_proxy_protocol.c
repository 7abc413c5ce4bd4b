/*
 * fuzz_proxy_protocol.c -- libFuzzer target: the input is what a client
 * sends first on a "listen ... proxy_protocol" address, given to the
 * PROXY protocol parser (sl_proxy_protocol_parse) as it is.
 *
 * Besides the sanitizers' checks, it aborts when the parser breaks its
 * contract: a header longer than the input or than the limits, an error
 * without a reason, addresses that are not NUL-terminated text, or a
 * header that is not "more wanted" when one byte of it is missing. A
 * header it accepts is written again with the writers and read back.
 * No file, socket or cycle is involved. See t/fuzz/README.md.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_proxy_protocol.h"

#include <arpa/inet.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check_addr(const u_char *text, size_t len)
{
    if (len == 0 || len > SL_INET6_ADDRSTRLEN || text[len] != '\0'
        || strlen((const char *) text) != len)
    {
        abort();
    }
}

/* the accepted addresses, written as a v1 and a v2 header, read back */
static void
fz_round_trip(const sl_proxy_protocol_t *pp)
{
    sl_proxy_protocol_t   back;
    sl_sockaddr_t         src, dst;
    const char           *err;
    u_char                buf[SL_PROXY_PROTOCOL_MAX_WRITE], *end;
    sl_uint_t             v;
    void                 *sa, *da;

    memset(&src, 0, sizeof(src));
    memset(&dst, 0, sizeof(dst));
    src.sockaddr.sa_family = (sa_family_t) pp->family;
    dst.sockaddr.sa_family = (sa_family_t) pp->family;

    if (pp->family == AF_INET) {
        sa = &src.sockaddr_in.sin_addr;
        da = &dst.sockaddr_in.sin_addr;
        src.sockaddr_in.sin_port = htons(pp->src_port);
        dst.sockaddr_in.sin_port = htons(pp->dst_port);
    } else {
        sa = &src.sockaddr_in6.sin6_addr;
        da = &dst.sockaddr_in6.sin6_addr;
        src.sockaddr_in6.sin6_port = htons(pp->src_port);
        dst.sockaddr_in6.sin6_port = htons(pp->dst_port);
    }

    if (inet_pton(pp->family, (const char *) pp->src_addr, sa) != 1
        || inet_pton(pp->family, (const char *) pp->dst_addr, da) != 1)
    {
        abort();
    }

    for (v = 1; v <= 2; v++) {
        end = sl_proxy_protocol_write_addrs(buf, buf + sizeof(buf),
                                            &src.sockaddr, &dst.sockaddr, v);
        if (end == NULL
            || sl_proxy_protocol_parse(buf, (size_t) (end - buf), &back,
                                       &err) != end - buf
            || back.family != pp->family
            || back.src_port != pp->src_port
            || back.dst_port != pp->dst_port
            || strcmp((char *) back.src_addr, (char *) pp->src_addr) != 0
            || strcmp((char *) back.dst_addr, (char *) pp->dst_addr) != 0)
        {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_proxy_protocol_t   pp;
    const char           *err;
    ssize_t               n;

    n = sl_proxy_protocol_parse(data, size, &pp, &err);

    if (n == SL_ERROR) {
        if (err == NULL) {
            abort();
        }
        return 0;
    }

    if (n == SL_AGAIN) {
        return 0;
    }

    if (n <= 0 || (size_t) n > size || n > SL_PROXY_PROTOCOL_MAX_HEADER
        || (pp.version == 1 && n > SL_PROXY_PROTOCOL_V1_MAX_HEADER))
    {
        abort();
    }

    /* one byte short of a header is a beginning, not a header */
    if (sl_proxy_protocol_parse(data, (size_t) n - 1, &pp, &err)
        != SL_AGAIN)
    {
        abort();
    }

    (void) sl_proxy_protocol_parse(data, size, &pp, &err);

    if (pp.family == AF_INET || pp.family == AF_INET6) {
        fz_check_addr(pp.src_addr, pp.src_addr_len);
        fz_check_addr(pp.dst_addr, pp.dst_addr_len);
        fz_round_trip(&pp);
    }

    return 0;
}
