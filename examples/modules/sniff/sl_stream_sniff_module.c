/*
 * sl_stream_sniff_module.c -- "sniff on;": a preread handler that looks
 * at the first bytes a client sends and names its protocol in
 * $sniffed_protocol: tls, http, ssh, proxy (the PROXY protocol, v1 or v2)
 * or unknown. "proxy_pass $sniffed_protocol;" with upstream{} blocks of
 * those names then serves several protocols on one port.
 *
 * Each protocol is known by signatures, none a prefix of another. The
 * answer is decided as soon as the bytes seen can match one answer only:
 * a whole signature (that protocol), or none at all (unknown); while a
 * signature is still matched in part, more bytes are awaited, so input
 * that arrives a byte at a time works. preread_timeout and
 * preread_buffer_size bound the wait as for any preread handler; a
 * session that ends there logs whatever was decided, unknown if nothing.
 *
 * This module must never consume s->preread: the bytes it looked at are
 * the next handler's (the proxy sends them first).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

typedef enum {
    SL_SNIFF_UNDECIDED = 0,
    SL_SNIFF_TLS,
    SL_SNIFF_HTTP,
    SL_SNIFF_SSH,
    SL_SNIFF_PROXY,
    SL_SNIFF_UNKNOWN
} sl_stream_sniff_answer_e;

typedef struct {
    sl_str_t                    bytes;
    sl_stream_sniff_answer_e    answer;
} sl_stream_sniff_signature_t;

typedef struct {
    sl_flag_t                   enable;
} sl_stream_sniff_srv_conf_t;

typedef struct {
    sl_stream_sniff_answer_e    answer;
} sl_stream_sniff_ctx_t;

/* indexed by sl_stream_sniff_answer_e; undecided reads as unknown */
static sl_str_t  sl_stream_sniff_names[] = {
    sl_string("unknown"),
    sl_string("tls"),
    sl_string("http"),
    sl_string("ssh"),
    sl_string("proxy"),
    sl_string("unknown")
};

#define sl_sniff_sig(text, answer)  { sl_string(text), answer }

static sl_stream_sniff_signature_t  sl_stream_sniff_signatures[] = {
    /* a TLS record of type handshake, version 3.x */
    { { 2, (u_char *) "\x16\x03" }, SL_SNIFF_TLS },

    /* an HTTP/1 request line: the method and its space */
    sl_sniff_sig("GET ", SL_SNIFF_HTTP),
    sl_sniff_sig("POST ", SL_SNIFF_HTTP),
    sl_sniff_sig("HEAD ", SL_SNIFF_HTTP),
    sl_sniff_sig("PUT ", SL_SNIFF_HTTP),
    sl_sniff_sig("DELETE ", SL_SNIFF_HTTP),
    sl_sniff_sig("OPTIONS ", SL_SNIFF_HTTP),
    sl_sniff_sig("CONNECT ", SL_SNIFF_HTTP),
    sl_sniff_sig("PATCH ", SL_SNIFF_HTTP),
    sl_sniff_sig("TRACE ", SL_SNIFF_HTTP),

    /* the identification string, RFC 4253 4.2 */
    sl_sniff_sig("SSH-", SL_SNIFF_SSH),

    /* PROXY protocol v1, and v2's 12-byte signature (it holds a NUL) */
    sl_sniff_sig("PROXY ", SL_SNIFF_PROXY),
    { { 12, (u_char *) "\r\n\r\n\0\r\nQUIT\n" }, SL_SNIFF_PROXY },

    { sl_null_string, SL_SNIFF_UNDECIDED }
};

static sl_int_t sl_stream_sniff_add_variables(sl_conf_t *cf);
static sl_int_t sl_stream_sniff_init(sl_conf_t *cf);
static void *sl_stream_sniff_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_sniff_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);

static sl_command_t  sl_stream_sniff_commands[] = {

    { sl_string("sniff"),
      SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_sniff_srv_conf_t, enable),
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_sniff_module_ctx = {
    sl_stream_sniff_add_variables,
    sl_stream_sniff_init,
    NULL,
    NULL,
    sl_stream_sniff_create_srv_conf,
    sl_stream_sniff_merge_srv_conf
};

sl_module_t  sl_stream_sniff_module = {
    .name = "sl_stream_sniff_module",
    .ctx = &sl_stream_sniff_module_ctx,
    .commands = sl_stream_sniff_commands,
    .type = SL_STREAM_MODULE,
};

/* --- deciding ------------------------------------------------------------ */

/* the answer the first n bytes of p allow, or undecided while ambiguous */
static sl_stream_sniff_answer_e
sl_stream_sniff_decide(u_char *p, size_t n)
{
    sl_stream_sniff_signature_t  *sig;
    sl_uint_t                     partial = 0;

    for (sig = sl_stream_sniff_signatures; sig->bytes.len; sig++) {
        if (sl_memcmp(p, sig->bytes.data, sl_min(n, sig->bytes.len)) != 0) {
            continue;
        }

        if (n >= sig->bytes.len) {
            return sig->answer;     /* none is a prefix of another */
        }

        partial = 1;
    }

    return partial ? SL_SNIFF_UNDECIDED : SL_SNIFF_UNKNOWN;
}

static sl_int_t
sl_stream_sniff_handler(sl_stream_session_t *s)
{
    sl_stream_sniff_srv_conf_t  *sscf;
    sl_stream_sniff_ctx_t       *ctx;
    sl_buf_t                    *b = s->preread;

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_sniff_module);
    if (!sscf->enable) {
        return SL_DECLINED;
    }

    ctx = sl_stream_get_module_ctx(s, sl_stream_sniff_module);
    if (ctx == NULL) {
        ctx = sl_pcalloc(s->connection->pool, sizeof(sl_stream_sniff_ctx_t));
        if (ctx == NULL) {
            return SL_ERROR;
        }

        sl_stream_set_ctx(s, ctx, sl_stream_sniff_module);
    }

    /* called first with nothing read yet: no buffer until input comes */
    if (b == NULL || b->pos == b->last) {
        return SL_AGAIN;
    }

    ctx->answer = sl_stream_sniff_decide(b->pos, (size_t) (b->last - b->pos));
    if (ctx->answer == SL_SNIFF_UNDECIDED) {
        return SL_AGAIN;
    }

    sl_log_debug(s->connection->log, 0, "sniffed protocol: %V",
                 &sl_stream_sniff_names[ctx->answer]);

    /* decided: the next preread handler, if any, looks at the same bytes */
    return SL_DECLINED;
}

/* --- $sniffed_protocol --------------------------------------------------- */

static sl_int_t
sl_stream_sniff_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_sniff_srv_conf_t  *sscf;
    sl_stream_sniff_ctx_t       *ctx;
    sl_str_t                    *name;

    sl_unused(data);

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_sniff_module);
    if (!sscf->enable) {
        v->not_found = 1;       /* this server does not sniff */
        return SL_OK;
    }

    ctx = sl_stream_get_module_ctx(s, sl_stream_sniff_module);
    name = &sl_stream_sniff_names[ctx != NULL ? ctx->answer
                                              : SL_SNIFF_UNDECIDED];

    v->len = (unsigned) name->len;
    v->data = name->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t
sl_stream_sniff_add_variables(sl_conf_t *cf)
{
    sl_stream_variable_t  *var;
    sl_str_t               name = sl_string("sniffed_protocol");

    /* undecided now may be decided later in the same session */
    var = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_NOCACHEABLE);
    if (var == NULL) {
        return SL_ERROR;
    }

    var->get_handler = sl_stream_sniff_variable;
    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

static sl_int_t
sl_stream_sniff_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_PREREAD_PHASE,
                                       sl_stream_sniff_handler);
}

static void *
sl_stream_sniff_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_sniff_srv_conf_t  *sscf;

    sscf = sl_pcalloc(cf->pool, sizeof(sl_stream_sniff_srv_conf_t));
    if (sscf == NULL) {
        return NULL;
    }

    sscf->enable = SL_CONF_UNSET;
    return sscf;
}

static char *
sl_stream_sniff_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_sniff_srv_conf_t  *conf = child;

    sl_unused(cf);
    sl_unused(parent);

    /* "sniff" is a server's own: stream{} has no say */
    if (conf->enable == SL_CONF_UNSET) {
        conf->enable = 0;
    }

    return SL_CONF_OK;
}

SL_MODULE(sniff, &sl_stream_sniff_module);
