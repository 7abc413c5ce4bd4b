/*
 * sl_ssl_vars.c -- the values of the $ssl_* variables, in nginx's formats.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"

#include <openssl/pem.h>

/* the value of a variable that has none: "" */
static sl_int_t
sl_ssl_empty(sl_str_t *s)
{
    s->len = 0;
    s->data = (u_char *) "";
    return SL_OK;
}

static sl_int_t
sl_ssl_copy(sl_pool_t *pool, const u_char *data, size_t len, sl_str_t *s)
{
    if (len == 0) {
        return sl_ssl_empty(s);
    }

    s->data = sl_pnalloc(pool, len);
    if (s->data == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(s->data, data, len);
    s->len = len;
    return SL_OK;
}

static sl_int_t
sl_ssl_copy_cstr(sl_pool_t *pool, const char *text, sl_str_t *s)
{
    return sl_ssl_copy(pool, (const u_char *) text, text ? strlen(text) : 0,
                       s);
}

static sl_uint_t
sl_ssl_none(sl_connection_t *c, sl_str_t *s)
{
    if (c->ssl != NULL && c->ssl->connection != NULL) {
        return 0;
    }

    (void) sl_ssl_empty(s);
    return 1;
}

/* the peer's certificate to X509_free(), or NULL with s set to "" */
static X509 *
sl_ssl_peer_certificate(sl_connection_t *c, sl_str_t *s)
{
    X509  *cert;

    if (sl_ssl_none(c, s)) {
        return NULL;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        (void) sl_ssl_empty(s);
    }

    return cert;
}

/* len bytes as lowercase hex in pool; "" for none */
static sl_int_t
sl_ssl_hex(sl_pool_t *pool, const u_char *data, size_t len, sl_str_t *s)
{
    if (len == 0) {
        return sl_ssl_empty(s);
    }

    s->data = sl_pnalloc(pool, 2 * len);
    if (s->data == NULL) {
        return SL_ERROR;
    }

    s->len = (size_t) (sl_hex_dump(s->data, (u_char *) data, len) - s->data);
    return SL_OK;
}

sl_int_t
sl_ssl_get_protocol(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    return sl_ssl_copy_cstr(pool, SSL_get_version(c->ssl->connection), s);
}

sl_int_t
sl_ssl_get_cipher_name(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    return sl_ssl_copy_cstr(pool, SSL_get_cipher_name(c->ssl->connection), s);
}

sl_int_t
sl_ssl_get_session_id(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    const u_char  *id;
    SSL_SESSION   *sess;
    unsigned int   len;

    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    sess = SSL_get0_session(c->ssl->connection);
    if (sess == NULL) {
        return sl_ssl_empty(s);
    }

    id = SSL_SESSION_get_id(sess, &len);
    return sl_ssl_hex(pool, id, len, s);
}

sl_int_t
sl_ssl_get_session_reused(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    (void) pool;

    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    if (SSL_session_reused(c->ssl->connection)) {
        sl_str_set(s, "r");
    } else {
        sl_str_set(s, ".");
    }

    return SL_OK;
}

sl_int_t
sl_ssl_get_server_name(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    return sl_ssl_copy_cstr(pool, SSL_get_servername(c->ssl->connection,
                                                     TLSEXT_NAMETYPE_host_name),
                            s);
}

sl_int_t
sl_ssl_get_alpn_protocol(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    const unsigned char  *data;
    unsigned int          len;

    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    SSL_get0_alpn_selected(c->ssl->connection, &data, &len);
    return sl_ssl_copy(pool, data, data ? len : 0, s);
}

sl_int_t
sl_ssl_get_client_verify(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    const char  *reason;
    X509        *cert;
    size_t       len;
    long         rc;

    if (sl_ssl_none(c, s)) {
        return SL_OK;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        sl_str_set(s, "NONE");
        return SL_OK;
    }

    X509_free(cert);

    rc = SSL_get_verify_result(c->ssl->connection);
    if (rc == X509_V_OK) {
        sl_str_set(s, "SUCCESS");
        return SL_OK;
    }

    reason = X509_verify_cert_error_string(rc);
    len = strlen(reason);

    s->data = sl_pnalloc(pool, sizeof("FAILED:") - 1 + len);
    if (s->data == NULL) {
        return SL_ERROR;
    }

    s->len = (size_t) (sl_cpymem(sl_cpymem(s->data, "FAILED:", 7), reason,
                                 len) - s->data);
    return SL_OK;
}

/* a name in RFC 2253 form, as nginx prints it since 1.11.6 */
static sl_int_t
sl_ssl_get_dn(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s, int issuer)
{
    X509_NAME  *name;
    X509       *cert;
    BUF_MEM    *mem;
    BIO        *bio;
    sl_int_t    rc = SL_ERROR;

    cert = sl_ssl_peer_certificate(c, s);
    if (cert == NULL) {
        return SL_OK;
    }

    name = issuer ? X509_get_issuer_name(cert) : X509_get_subject_name(cert);

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        X509_free(cert);
        return SL_ERROR;
    }

    if (name != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
    {
        BIO_get_mem_ptr(bio, &mem);
        rc = sl_ssl_copy(pool, (u_char *) mem->data, mem->length, s);
    }

    BIO_free(bio);
    X509_free(cert);
    return rc;
}

sl_int_t
sl_ssl_get_subject_dn(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    return sl_ssl_get_dn(c, pool, s, 0);
}

sl_int_t
sl_ssl_get_issuer_dn(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    return sl_ssl_get_dn(c, pool, s, 1);
}

/* PEM without its last newline, every line after the first tab-indented */
sl_int_t
sl_ssl_get_certificate(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    BUF_MEM  *mem;
    X509     *cert;
    BIO      *bio;
    size_t    len, i;
    u_char   *p;

    cert = sl_ssl_peer_certificate(c, s);
    if (cert == NULL) {
        return SL_OK;
    }

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
        BIO_free(bio);
        X509_free(cert);
        return SL_ERROR;
    }

    X509_free(cert);
    BIO_get_mem_ptr(bio, &mem);

    len = mem->length;
    if (len > 0 && mem->data[len - 1] == '\n') {
        len--;
    }

    s->len = len;
    for (i = 0; i < len; i++) {
        if (mem->data[i] == '\n') {
            s->len++;
        }
    }

    s->data = sl_pnalloc(pool, s->len ? s->len : 1);
    if (s->data == NULL) {
        BIO_free(bio);
        return SL_ERROR;
    }

    p = s->data;
    for (i = 0; i < len; i++) {
        *p++ = (u_char) mem->data[i];
        if (mem->data[i] == '\n') {
            *p++ = '\t';
        }
    }

    BIO_free(bio);
    return SL_OK;
}

sl_int_t
sl_ssl_get_fingerprint(sl_connection_t *c, sl_pool_t *pool, sl_str_t *s)
{
    unsigned int   len;
    u_char         buf[EVP_MAX_MD_SIZE];
    X509          *cert;

    cert = sl_ssl_peer_certificate(c, s);
    if (cert == NULL) {
        return SL_OK;
    }

    if (X509_digest(cert, EVP_sha1(), buf, &len) != 1) {
        X509_free(cert);
        return SL_ERROR;
    }

    X509_free(cert);
    return sl_ssl_hex(pool, buf, len, s);
}
