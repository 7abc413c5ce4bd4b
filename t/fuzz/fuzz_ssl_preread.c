/*
 * fuzz_ssl_preread.c -- libFuzzer target: the input is what a client
 * sends first on a server with "ssl_preread on", given to the ClientHello
 * parser (src/stream/sl_stream_ssl_preread_parser.c).
 *
 * Besides the sanitizers' checks, it aborts when the parser breaks its
 * contract: the input given at once, one byte at a time, and cut in two
 * at a place the input chooses must give the same answer and the same
 * results (the parser is incremental); a refusal has a reason; an answer
 * other than "more" is final; the name and the protocols are no longer
 * than the input. Linked with
 * core alone (no loop, no session, no OpenSSL). See t/fuzz/README.md.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_stream_ssl_preread_parser.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_log_t  fz_log;

typedef struct {
    sl_stream_ssl_preread_parser_t  p;
    sl_int_t                        rc;
} fz_run_t;

/* data given in pieces of step bytes (0: at once, or cut at `cut`) */
static void
fz_parse(fz_run_t *r, sl_pool_t *pool, const uint8_t *data, size_t size,
    size_t step, size_t cut)
{
    size_t  off = 0, n;

    sl_stream_ssl_preread_init(&r->p, pool);
    r->rc = SL_AGAIN;

    if (step == 0) {
        r->rc = sl_stream_ssl_preread_parse(&r->p, data, cut);
        off = cut;
        step = size;
    }

    while (r->rc == SL_AGAIN && off < size) {
        n = sl_min(step, size - off);
        r->rc = sl_stream_ssl_preread_parse(&r->p, data + off, n);
        off += n;
    }
}

static int
fz_same_str(const sl_str_t *a, const sl_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
fz_compare(const fz_run_t *a, const fz_run_t *b)
{
    if (a->rc != b->rc) {
        abort();
    }

    if (a->rc == SL_DECLINED) {
        if (a->p.reason == NULL || a->p.reason != b->p.reason) {
            abort();
        }
        return;
    }

    if (!fz_same_str(&a->p.host, &b->p.host)
        || !fz_same_str(&a->p.alpn, &b->p.alpn)
        || (a->rc == SL_OK
            && memcmp(a->p.version, b->p.version, 2) != 0))
    {
        abort();
    }
}

/* what is found is no longer than what came; the version has a name */
static void
fz_check_results(const fz_run_t *r, size_t size)
{
    sl_str_t  proto;

    if (r->p.host.len > size || r->p.alpn.len >= size + (size == 0)) {
        abort();
    }

    /* a protocol name may hold a comma: only an empty list is checked */
    if (r->p.alpn.len > 0 && r->p.alpn.data == NULL) {
        abort();
    }

    sl_stream_ssl_preread_protocol(&r->p, &proto);
    if (proto.len > sizeof("TLSv1.3") - 1 || proto.data == NULL) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_t    whole, bytes, cut;
    sl_pool_t  *pool;
    size_t      at;

    pool = sl_create_pool(256, &fz_log);
    if (pool == NULL) {
        return 0;
    }

    fz_parse(&whole, pool, data, size, 0, size);
    fz_parse(&bytes, pool, data, size, 1, 0);
    at = size > 0 ? data[0] % (size + 1) : 0;
    fz_parse(&cut, pool, data, size, 0, at);

    fz_compare(&whole, &bytes);
    fz_compare(&whole, &cut);
    fz_check_results(&whole, size);

    /* a final answer stays, and reads nothing more */
    if (whole.rc != SL_AGAIN
        && sl_stream_ssl_preread_parse(&whole.p, data, size) != whole.rc)
    {
        abort();
    }

    sl_destroy_pool(pool);
    return 0;
}
