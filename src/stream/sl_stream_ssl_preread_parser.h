/*
 * sl_stream_ssl_preread_parser.h -- a TLS ClientHello read as it arrives:
 * the SNI name, the ALPN protocols and the version, for ssl_preread.
 *
 * The parser is pure: it is given bytes (any number at a time, cut
 * anywhere: inside a record header, a record, a field) and remembers where
 * it is. It does no I/O, logs nothing and knows no session; what it
 * allocates (the name and the protocol list, sized by their length
 * fields) comes from the pool it is given. It never reads past what it
 * was given, and malformed input is a refusal, never more.
 */
#ifndef SL_STREAM_SSL_PREREAD_PARSER_H
#define SL_STREAM_SSL_PREREAD_PARSER_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    /* the results; each is set only once whole */
    sl_str_t     host;        /* SNI host_name, as sent; len 0: none */
    sl_str_t     alpn;        /* the protocols, "h2,http/1.1" */
    u_char       version[2];  /* client_version, or 3.4 with
                                 supported_versions, or SSLv2's */
    /* why the input was refused: for the debug log */
    const char  *reason;

    /* where the parser is: private */
    sl_pool_t   *pool;
    u_char       rec[5];      /* a record header */
    u_char       field[4];    /* a short field's bytes */
    u_char      *dst;         /* where the current field goes; NULL: skip */
    size_t       rec_have;    /* bytes of the record header so far */
    size_t       rec_left;    /* of the current record's body */
    size_t       want;        /* bytes of the current field still to come */
    size_t       msg_left;    /* of the ClientHello, after its header */
    size_t       ext_left;    /* of the current extension's data */
    size_t       list_left;   /* of the SNI or ALPN list in it */
    sl_uint_t    state;
    unsigned     in_body:1;   /* in a record's body, not its header */
    unsigned     in_msg:1;    /* msg_left counts */
    unsigned     in_ext:1;    /* ext_left counts */
    unsigned     in_list:1;   /* list_left counts */
    unsigned     host_seen:1;
    unsigned     alpn_seen:1;
    unsigned     record_seen:1;   /* SSLv2's hello is a first record only */
    u_char      *alpn_end;    /* the ALPN text so far (alpn.len: once whole) */
} sl_stream_ssl_preread_parser_t;

/* a parser at the start of a session's input */
void sl_stream_ssl_preread_init(sl_stream_ssl_preread_parser_t *p,
    sl_pool_t *pool);

/*
 * The next len bytes of the client's input. SL_AGAIN: more is needed;
 * SL_OK: the ClientHello is read (or an SSLv2 hello was seen), the
 * results are final; SL_DECLINED: not a TLS ClientHello, or a malformed
 * one (p->reason says why); SL_ERROR: the pool failed. Once it has
 * answered anything but SL_AGAIN, it answers the same again and reads
 * nothing.
 */
sl_int_t sl_stream_ssl_preread_parse(sl_stream_ssl_preread_parser_t *p,
    const u_char *data, size_t len);

/*
 * The version as OpenSSL's SSL_get_version() names it ("TLSv1.2",
 * "SSLv2"...), nginx's $ssl_preread_protocol; empty when unknown.
 */
void sl_stream_ssl_preread_protocol(const sl_stream_ssl_preread_parser_t *p,
    sl_str_t *name);

#endif /* SL_STREAM_SSL_PREREAD_PARSER_H */
