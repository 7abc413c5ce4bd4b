/*
 * sl_proxy_protocol.h -- the PROXY protocol (HAProxy's, versions 1 and 2):
 * a strict parser of the header a client sends first, and writers of the
 * header sent to an upstream.
 *
 * No pool and no connection: the parser looks at the caller's bytes (what
 * has arrived so far) and fills the caller's structure, saying how long
 * the header is, that more is needed, or why it is malformed; the writers
 * write into the caller's buffer. The fuzz target and the unit tests call
 * them on plain bytes.
 */
#ifndef SL_PROXY_PROTOCOL_H
#define SL_PROXY_PROTOCOL_H

#include "sl_config.h"
#include "sl_core.h"

/* a v1 line, "PROXY ... \r\n", is at most this long */
#define SL_PROXY_PROTOCOL_V1_MAX_HEADER  107
/* the longest header accepted (a v2 one with its TLVs), as nginx's */
#define SL_PROXY_PROTOCOL_MAX_HEADER     4096
/* the longest header the writers make: v2 with two unix paths */
#define SL_PROXY_PROTOCOL_MAX_WRITE      (16 + 216)

#define SL_PROXY_PROTOCOL_V2_SIG      "\r\n\r\n\0\r\nQUIT\n"
#define SL_PROXY_PROTOCOL_V2_SIG_LEN  12
/* $proxy_protocol_tlv_ssl_verify: a 32-bit number in decimal */
#define SL_PROXY_PROTOCOL_VERIFY_LEN  (sizeof("4294967295") - 1)

/* what a header said */
struct sl_proxy_protocol_s {
    sl_uint_t        version;           /* 1 or 2 */
    /*
     * AF_INET or AF_INET6: the addresses below are set. AF_UNSPEC: none
     * (v1 UNKNOWN, v2 LOCAL or UNSPEC); AF_UNIX: v2 unix addresses, not
     * kept.
     */
    int              family;
    unsigned         local:1;           /* v2 LOCAL: a health check */

    u_char           src_addr[SL_INET6_ADDRSTRLEN + 1];
    size_t           src_addr_len;
    u_char           dst_addr[SL_INET6_ADDRSTRLEN + 1];
    size_t           dst_addr_len;
    in_port_t        src_port;
    in_port_t        dst_port;
    /*
     * v2: the TLVs after the address block, as they came (the parser
     * points into the caller's bytes; a holder of the header copies them).
     */
    const u_char    *tlvs;
    size_t           tlvs_len;
};

typedef struct sl_proxy_protocol_s  sl_proxy_protocol_t;

/*
 * Parses the header at the start of buf[0..len). Returns its length (> 0)
 * with *pp filled in; SL_AGAIN when what came so far is a valid beginning
 * but not a whole header; SL_ERROR when it is malformed, with *err saying
 * why. Bytes after the header are not looked at.
 */
ssize_t sl_proxy_protocol_parse(const u_char *buf, size_t len,
    sl_proxy_protocol_t *pp, const char **err);

/*
 * The value of the TLV a variable names ($proxy_protocol_tlv_NAME): a
 * hexadecimal type ("0x05"), a name ("alpn", "authority", "unique_id",
 * "ssl", "netns"), or "ssl_" and a sub-TLV of the SSL TLV ("ssl_version",
 * "ssl_cn", "ssl_cipher", "ssl_sig_alg", "ssl_key_alg", "ssl_0x21") or
 * "ssl_verify" (the SSL TLV's verify field in decimal, written into
 * verify_buf, SL_PROXY_PROTOCOL_VERIFY_LEN bytes). SL_OK with *value pointing
 * into pp->tlvs (or verify_buf); SL_DECLINED when the header has no such
 * TLV; SL_ERROR with *err set ("unknown PROXY protocol TLV", "invalid
 * PROXY protocol TLV", "broken PROXY protocol TLV") when the name or the
 * TLVs are bad.
 */
sl_int_t sl_proxy_protocol_get_tlv(const sl_proxy_protocol_t *pp,
    const sl_str_t *name, sl_str_t *value, u_char *verify_buf,
    const char **err);

/*
 * Writes a header for a connection from src to dst into [buf, last):
 * version 1 ("PROXY TCP4 ...", or "PROXY UNKNOWN" for other families or
 * mixed ones) or 2 (INET, INET6, UNIX, else UNSPEC). Returns the end of
 * what it wrote, or NULL when it does not fit.
 */
u_char *sl_proxy_protocol_write_addrs(u_char *buf, u_char *last,
    struct sockaddr *src, struct sockaddr *dst, sl_uint_t version);

#endif /* SL_PROXY_PROTOCOL_H */
