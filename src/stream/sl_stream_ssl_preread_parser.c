/*
 * sl_stream_ssl_preread_parser.c -- the ClientHello parser of ssl_preread
 * (see the header): TLS records, the handshake message inside them, and
 * of its extensions server_name (0), ALPN (16) and supported_versions (43).
 *
 * It owns the wire format only: it must never do I/O, log, or look at a
 * session, and never read a byte it was not given. Every length field is
 * checked against each length that encloses it (the record stream, the
 * message, the extension, the list) before anything is read under it.
 *
 * What it accepts and refuses follows nginx's ssl_preread: an SSLv2
 * hello (as the first record only) ends the parse with its version; a record that is not a
 * handshake, a major version other than 3, a first message that is not a
 * ClientHello, an SNI name that is not a host_name, an empty ALPN
 * protocol are refusals; the first server_name and ALPN extensions count,
 * and supported_versions means TLSv1.3. It is stricter where nginx reads
 * on through inconsistent lengths (an extension's length against its
 * list's, the extensions' total against the message): those refuse.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_stream_ssl_preread_parser.h"

#define SL_TLS_HANDSHAKE       0x16
#define SL_TLS_CLIENT_HELLO    1
#define SL_TLS_EXT_SNI         0
#define SL_TLS_EXT_ALPN        16
#define SL_TLS_EXT_VERSIONS    43

/* the field being read; the last three are the final answers */
enum {
    SL_PR_HEADER = 0,       /* msg_type, length */
    SL_PR_VERSION,          /* client_version */
    SL_PR_RANDOM,
    SL_PR_SID_LEN,
    SL_PR_SID,
    SL_PR_CS_LEN,
    SL_PR_CS,
    SL_PR_CM_LEN,
    SL_PR_CM,
    SL_PR_EXTS_LEN,         /* the extensions' total */
    SL_PR_EXT_HDR,          /* extension_type, extension_data length */
    SL_PR_EXT_SKIP,         /* the rest of an extension */
    SL_PR_SNI_LIST_LEN,
    SL_PR_SNI_NAME_HDR,     /* name_type, length */
    SL_PR_SNI_NAME,
    SL_PR_ALPN_LIST_LEN,
    SL_PR_ALPN_PROTO_LEN,
    SL_PR_ALPN_PROTO,
    SL_PR_VERSIONS_LEN,
    SL_PR_DONE,
    SL_PR_DECLINED,
    SL_PR_FAILED
};

void
sl_stream_ssl_preread_init(sl_stream_ssl_preread_parser_t *p,
    sl_pool_t *pool)
{
    sl_memzero(p, sizeof(sl_stream_ssl_preread_parser_t));
    p->pool = pool;
    p->state = SL_PR_HEADER;
    p->want = 4;
    p->dst = p->field;
}

static sl_int_t
sl_ssl_preread_refuse(sl_stream_ssl_preread_parser_t *p, const char *reason)
{
    p->reason = reason;
    p->state = SL_PR_DECLINED;
    return SL_DECLINED;
}

/*
 * The next field: n bytes into dst (NULL: skipped). It must fit in every
 * length that encloses it.
 */
static sl_int_t
sl_ssl_preread_expect(sl_stream_ssl_preread_parser_t *p, sl_uint_t state,
    size_t n, u_char *dst)
{
    if ((p->in_msg && n > p->msg_left)
        || (p->in_ext && n > p->ext_left)
        || (p->in_list && n > p->list_left))
    {
        return sl_ssl_preread_refuse(p, "failed to parse handshake");
    }

    p->state = state;
    p->want = n;
    p->dst = dst;
    return SL_AGAIN;
}

static size_t
sl_ssl_preread_u16(const u_char *b)
{
    return ((size_t) b[0] << 8) | b[1];
}

static sl_int_t sl_ssl_preread_next_ext(sl_stream_ssl_preread_parser_t *p);

/* --- the fields before the extensions ------------------------------------ */

static sl_int_t
sl_ssl_preread_hello(sl_stream_ssl_preread_parser_t *p)
{
    u_char  *f = p->field;

    switch (p->state) {

    case SL_PR_HEADER:
        if (f[0] != SL_TLS_CLIENT_HELLO) {
            return sl_ssl_preread_refuse(p, "not a client hello");
        }

        p->msg_left = ((size_t) f[1] << 16) | ((size_t) f[2] << 8) | f[3];
        p->in_msg = 1;
        return sl_ssl_preread_expect(p, SL_PR_VERSION, 2, f);

    case SL_PR_VERSION:
        p->version[0] = f[0];
        p->version[1] = f[1];
        return sl_ssl_preread_expect(p, SL_PR_RANDOM, 32, NULL);

    case SL_PR_RANDOM:
        return sl_ssl_preread_expect(p, SL_PR_SID_LEN, 1, f);

    case SL_PR_SID_LEN:
        return sl_ssl_preread_expect(p, SL_PR_SID, f[0], NULL);

    case SL_PR_SID:
        return sl_ssl_preread_expect(p, SL_PR_CS_LEN, 2, f);

    case SL_PR_CS_LEN:
        return sl_ssl_preread_expect(p, SL_PR_CS, sl_ssl_preread_u16(f),
                                     NULL);

    case SL_PR_CS:
        return sl_ssl_preread_expect(p, SL_PR_CM_LEN, 1, f);

    case SL_PR_CM_LEN:
        return sl_ssl_preread_expect(p, SL_PR_CM, f[0], NULL);

    case SL_PR_CM:
        if (p->msg_left == 0) {
            p->state = SL_PR_DONE;          /* no extensions */
            return SL_OK;
        }

        return sl_ssl_preread_expect(p, SL_PR_EXTS_LEN, 2, f);

    default: /* SL_PR_EXTS_LEN */
        if (sl_ssl_preread_u16(f) != p->msg_left) {
            return sl_ssl_preread_refuse(p, "extensions length mismatch");
        }

        return sl_ssl_preread_next_ext(p);     /* there may be none */
    }
}

/* --- the extensions ------------------------------------------------------ */

/* the end of an extension: the next one, or the end of the message */
static sl_int_t
sl_ssl_preread_next_ext(sl_stream_ssl_preread_parser_t *p)
{
    p->in_ext = 0;
    p->in_list = 0;

    if (p->msg_left == 0) {
        p->state = SL_PR_DONE;
        return SL_OK;
    }

    return sl_ssl_preread_expect(p, SL_PR_EXT_HDR, 4, p->field);
}

static sl_int_t
sl_ssl_preread_ext_header(sl_stream_ssl_preread_parser_t *p)
{
    u_char  *f = p->field;
    size_t   type = sl_ssl_preread_u16(f);

    p->ext_left = sl_ssl_preread_u16(f + 2);

    if (p->ext_left > p->msg_left) {
        return sl_ssl_preread_refuse(p, "extension too long");
    }

    p->in_ext = 1;

    if (type == SL_TLS_EXT_SNI && !p->host_seen) {
        return sl_ssl_preread_expect(p, SL_PR_SNI_LIST_LEN, 2, f);
    }

    if (type == SL_TLS_EXT_ALPN && !p->alpn_seen) {
        return sl_ssl_preread_expect(p, SL_PR_ALPN_LIST_LEN, 2, f);
    }

    if (type == SL_TLS_EXT_VERSIONS) {
        return sl_ssl_preread_expect(p, SL_PR_VERSIONS_LEN, 1, f);
    }

    return sl_ssl_preread_expect(p, SL_PR_EXT_SKIP, p->ext_left, NULL);
}

/* a list filling the rest of its extension, as both SNI's and ALPN's do */
static sl_int_t
sl_ssl_preread_list(sl_stream_ssl_preread_parser_t *p)
{
    p->list_left = sl_ssl_preread_u16(p->field);

    if (p->list_left != p->ext_left) {
        return sl_ssl_preread_refuse(p, "extension format error");
    }

    p->in_list = 1;
    return SL_AGAIN;
}

static sl_int_t
sl_ssl_preread_sni(sl_stream_ssl_preread_parser_t *p)
{
    u_char  *f = p->field;
    size_t   n;

    switch (p->state) {

    case SL_PR_SNI_LIST_LEN:
        if (sl_ssl_preread_list(p) != SL_AGAIN) {
            return SL_DECLINED;
        }

        return sl_ssl_preread_expect(p, SL_PR_SNI_NAME_HDR, 3, f);

    case SL_PR_SNI_NAME_HDR:
        if (f[0] != 0) {
            return sl_ssl_preread_refuse(p, "SNI hostname type is not DNS");
        }

        n = sl_ssl_preread_u16(f + 1);
        if (n > p->list_left) {
            return sl_ssl_preread_refuse(p, "SNI format error");
        }

        /* one byte more, so that an empty name is not NULL */
        p->host.data = sl_pnalloc(p->pool, n + 1);
        if (p->host.data == NULL) {
            p->state = SL_PR_FAILED;
            return SL_ERROR;
        }

        p->host_seen = 1;
        return sl_ssl_preread_expect(p, SL_PR_SNI_NAME, n, p->host.data);

    default: /* SL_PR_SNI_NAME: the other names of the list are skipped */
        p->host.len = (size_t) (p->dst - p->host.data);
        p->in_list = 0;
        return sl_ssl_preread_expect(p, SL_PR_EXT_SKIP, p->ext_left, NULL);
    }
}

static sl_int_t
sl_ssl_preread_alpn(sl_stream_ssl_preread_parser_t *p)
{
    u_char  *f = p->field;

    switch (p->state) {

    case SL_PR_ALPN_LIST_LEN:
        if (sl_ssl_preread_list(p) != SL_AGAIN) {
            return SL_DECLINED;
        }

        if (p->list_left == 0) {
            return sl_ssl_preread_refuse(p, "ALPN format error");
        }

        /* the names and a comma between two: less than the list */
        p->alpn.data = sl_pnalloc(p->pool, p->list_left);
        if (p->alpn.data == NULL) {
            p->state = SL_PR_FAILED;
            return SL_ERROR;
        }

        p->alpn_seen = 1;
        p->alpn_end = p->alpn.data;
        return sl_ssl_preread_expect(p, SL_PR_ALPN_PROTO_LEN, 1, f);

    case SL_PR_ALPN_PROTO_LEN:
        if (f[0] == 0) {
            return sl_ssl_preread_refuse(p, "ALPN empty protocol");
        }

        return sl_ssl_preread_expect(p, SL_PR_ALPN_PROTO, f[0],
                                     p->alpn_end);

    default: /* SL_PR_ALPN_PROTO */
        p->alpn_end = p->dst;

        if (p->list_left == 0) {
            /* the list is whole: only now is it a result */
            p->alpn.len = (size_t) (p->alpn_end - p->alpn.data);
            return sl_ssl_preread_next_ext(p);
        }

        *p->alpn_end++ = ',';
        return sl_ssl_preread_expect(p, SL_PR_ALPN_PROTO_LEN, 1, f);
    }
}

/* p->state's field is whole: what it says, and the next field */
static sl_int_t
sl_ssl_preread_field(sl_stream_ssl_preread_parser_t *p)
{
    switch (p->state) {

    case SL_PR_EXT_HDR:
        return sl_ssl_preread_ext_header(p);

    case SL_PR_EXT_SKIP:
        return sl_ssl_preread_next_ext(p);

    case SL_PR_VERSIONS_LEN:
        if ((size_t) p->field[0] != p->ext_left) {
            return sl_ssl_preread_refuse(p, "extension format error");
        }

        p->version[0] = 3;              /* TLSv1.3, as nginx reports it */
        p->version[1] = 4;
        return sl_ssl_preread_expect(p, SL_PR_EXT_SKIP, p->ext_left, NULL);

    case SL_PR_SNI_LIST_LEN:
    case SL_PR_SNI_NAME_HDR:
    case SL_PR_SNI_NAME:
        return sl_ssl_preread_sni(p);

    case SL_PR_ALPN_LIST_LEN:
    case SL_PR_ALPN_PROTO_LEN:
    case SL_PR_ALPN_PROTO:
        return sl_ssl_preread_alpn(p);

    default:
        return sl_ssl_preread_hello(p);
    }
}

/* --- the records --------------------------------------------------------- */

/*
 * Bytes of a record's body into the fields; returns how many it took
 * (fewer than len once the parse has ended: p->state says how).
 */
static size_t
sl_ssl_preread_body(sl_stream_ssl_preread_parser_t *p, const u_char *data,
    size_t len)
{
    size_t  n, used = 0;

    for ( ;; ) {
        while (p->want == 0) {
            if (sl_ssl_preread_field(p) != SL_AGAIN) {
                return used;
            }
        }

        if (used == len) {
            return used;
        }

        n = sl_min(len - used, p->want);

        if (p->dst != NULL) {
            p->dst = sl_cpymem(p->dst, data + used, n);
        }

        used += n;
        p->want -= n;
        p->msg_left -= p->in_msg ? n : 0;
        p->ext_left -= p->in_ext ? n : 0;
        p->list_left -= p->in_list ? n : 0;
    }
}

/* a record header is whole: SSLv2's hello ends it all, else a handshake */
static sl_int_t
sl_ssl_preread_record(sl_stream_ssl_preread_parser_t *p)
{
    u_char  *r = p->rec;

    if (!p->record_seen && (r[0] & 0x80) && r[2] == 1
        && (r[3] == 0 || r[3] == 3))
    {
        p->version[0] = r[3];
        p->version[1] = r[4];
        p->state = SL_PR_DONE;
        return SL_OK;
    }

    p->record_seen = 1;

    if (r[0] != SL_TLS_HANDSHAKE) {
        return sl_ssl_preread_refuse(p, "not a handshake");
    }

    if (r[1] != 3) {
        return sl_ssl_preread_refuse(p, "unsupported SSL version");
    }

    p->rec_left = sl_ssl_preread_u16(r + 3);
    p->in_body = 1;
    return SL_AGAIN;
}

sl_int_t
sl_stream_ssl_preread_parse(sl_stream_ssl_preread_parser_t *p,
    const u_char *data, size_t len)
{
    const u_char  *end = data + len;
    size_t         n;

    while (p->state < SL_PR_DONE && data < end) {

        if (!p->in_body) {
            n = sl_min((size_t) (end - data), 5 - p->rec_have);
            sl_memcpy(p->rec + p->rec_have, data, n);
            p->rec_have += n;
            data += n;

            if (p->rec_have < 5) {
                break;
            }

            p->rec_have = 0;
            (void) sl_ssl_preread_record(p);   /* p->state says */
            continue;
        }

        n = sl_ssl_preread_body(p, data, sl_min((size_t) (end - data),
                                                p->rec_left));
        data += n;
        p->rec_left -= n;

        if (p->rec_left == 0) {
            p->in_body = 0;
        }
    }

    switch (p->state) {
    case SL_PR_DONE:
        return SL_OK;
    case SL_PR_DECLINED:
        return SL_DECLINED;
    case SL_PR_FAILED:
        return SL_ERROR;
    default:
        return SL_AGAIN;
    }
}

void
sl_stream_ssl_preread_protocol(const sl_stream_ssl_preread_parser_t *p,
    sl_str_t *name)
{
    static const char  *tls[] = {
        "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
    };

    const char  *text = "";

    if (p->version[0] == 0 && p->version[1] == 2) {
        text = "SSLv2";

    } else if (p->version[0] == 3 && p->version[1] < sl_nelems(tls)) {
        text = tls[p->version[1]];
    }

    name->data = (u_char *) text;
    name->len = sl_strlen(text);
}
