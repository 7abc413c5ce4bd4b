/*
 * sl_ssl_sni.c -- choosing a server's context on the ClientHello: the
 * server_name a client hello callback sees (OpenSSL has not parsed it
 * yet), and moving a handshake to another SSL_CTX with everything that
 * the context decides and SSL_set_SSL_CTX() alone would leave behind.
 *
 * Why on the ClientHello: OpenSSL fixes the protocol version before it
 * parses the extensions (and so before the servername callback runs); a
 * client hello callback runs first, so the context it moves to decides the
 * version, the cipher, the certificate and the rest.
 *
 * This file knows nothing of servers or names (the stream module maps a
 * name to a context); it must never look at configuration beyond the
 * SSL_CTX and the sl_ssl_t attached to it.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"

sl_int_t
sl_ssl_client_hello_server_name(SSL *ssl, sl_str_t *name, int *ad)
{
    const unsigned char  *p;
    size_t                len, n;

    sl_str_null(name);

    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len)
        == 0)
    {
        return SL_OK;
    }

    /*
     * A list (2 bytes of length) of exactly one host_name: its type and
     * 2 bytes of length. OpenSSL's own parser refuses anything else later,
     * with the same alert.
     */
    if (len < 5
        || (((size_t) p[0] << 8) | p[1]) + 2 != len
        || p[2] != TLSEXT_NAMETYPE_host_name)
    {
        *ad = SSL_AD_DECODE_ERROR;
        return SL_ERROR;
    }

    n = ((size_t) p[3] << 8) | p[4];

    if (n + 5 != len) {
        *ad = SSL_AD_DECODE_ERROR;
        return SL_ERROR;
    }

    /* what OpenSSL would refuse as a name (RFC 6066 allows no NUL) */
    if (n > TLSEXT_MAXLEN_host_name || memchr(p + 5, '\0', n) != NULL) {
        *ad = SSL_AD_UNRECOGNIZED_NAME;
        return SL_ERROR;
    }

    name->data = (u_char *) p + 5;
    name->len = n;
    return SL_OK;
}

sl_int_t
sl_ssl_switch_ctx(sl_connection_t *c, SSL_CTX *ctx)
{
    SSL       *ssl = c->ssl->connection;
    sl_ssl_t  *conf;

    if (ctx == SSL_get_SSL_CTX(ssl)) {
        return SL_OK;
    }

    /* the certificates, the session id context and the security level */
    if (SSL_set_SSL_CTX(ssl, ctx) == NULL) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_SSL_CTX() failed");
        return SL_ERROR;
    }

    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
                   SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));

    /*
     * The options as the context has them: ssl_protocols (SSL_OP_NO_*),
     * ssl_prefer_server_ciphers, ssl_session_tickets. The cipher lists
     * need nothing: an SSL without lists of its own reads its context's.
     */
    SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));

    conf = SSL_CTX_get_ex_data(ctx, sl_ssl_indexes()->ssl_index);
    sl_ssl_allow_renegotiation(ssl, conf != NULL && conf->renegotiation);

    return SL_OK;
}
