/*
 * sl_ssl.c -- OpenSSL once per process, its errors in our log, and the
 * SSL_CTX of a server (or of the proxy's client side) built from the
 * configuration.
 *
 * A context is made while the configuration is read: every failure is a
 * config error that names the file and line being read and carries
 * OpenSSL's reason text.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"
#include "sl_ssl_session_cache.h"

#include <pthread.h>

#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>

/* the ex_data indexes: made once, read-only afterwards */
static sl_ssl_indexes_t  sl_ssl_idx = { -1, -1, -1 };
static pthread_once_t    sl_ssl_once = PTHREAD_ONCE_INIT;
static int               sl_ssl_init_ok;

/* a session ticket key of ssl_session_ticket_key */
typedef struct {
    u_char      name[16];
    u_char      hmac_key[32];
    u_char      aes_key[32];
    size_t      size;           /* 16 (48-byte file) or 32 (80-byte file) */
} sl_ssl_ticket_key_t;

typedef struct {
    sl_uint_t            n;
    sl_ssl_ticket_key_t  keys[];
} sl_ssl_ticket_keys_t;

static int  sl_ssl_ticket_keys_index = -1;

static void
sl_ssl_init_once(void)
{
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1) {
        return;
    }

    sl_ssl_idx.connection_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
                                                       NULL);
    sl_ssl_idx.ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                    NULL);
    sl_ssl_idx.ssl_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                    NULL);
    sl_ssl_ticket_keys_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                        NULL);

    sl_ssl_init_ok = sl_ssl_idx.connection_index >= 0
                     && sl_ssl_idx.ctx_index >= 0
                     && sl_ssl_idx.ssl_index >= 0
                     && sl_ssl_ticket_keys_index >= 0;
}

sl_int_t
sl_ssl_init(sl_log_t *log)
{
    (void) pthread_once(&sl_ssl_once, sl_ssl_init_once);

    if (!sl_ssl_init_ok) {
        sl_ssl_error(SL_LOG_ALERT, log, 0, "OPENSSL_init_ssl() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

const sl_ssl_indexes_t *
sl_ssl_indexes(void)
{
    return &sl_ssl_idx;
}

/* --- errors -------------------------------------------------------------- */

/*
 * Appends " (SSL: error:...:reason[:data] ...)" for every queued error
 * within [p, last) and empties the queue; the queue's first error is
 * returned in *first when first is not NULL.
 */
u_char *
sl_ssl_error_text(u_char *p, u_char *last, unsigned long *first)
{
    const char     *data;
    unsigned long   n;
    int             flags, count = 0;
    char            text[256];

    if (first != NULL) {
        *first = ERR_peek_error();
    }

    for ( ;; ) {
        n = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
        if (n == 0) {
            break;
        }

        if (p >= last - 8) {
            continue;           /* drain what there is no room for */
        }

        ERR_error_string_n(n, text, sizeof(text));
        p = sl_slprintf(p, last, count++ ? " %s" : " (SSL: %s", text);

        if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0') {
            p = sl_slprintf(p, last, ":%s", data);
        }
    }

    if (count > 0) {
        p = sl_slprintf(p, last, ")");
    }

    return p;
}

void
sl_ssl_error(sl_uint_t level, sl_log_t *log, sl_err_t err,
    const char *fmt, ...)
{
    u_char    msg[SL_MAX_ERROR_STR], *p, *last;
    va_list   args;

    last = msg + sizeof(msg);

    va_start(args, fmt);
    p = sl_vslprintf(msg, last, fmt, args);
    va_end(args);

    if (err) {
        p = sl_log_errno(p, last, err);
    }

    p = sl_ssl_error_text(p, last, NULL);

    sl_log_error(level, log, 0, "%*s", (size_t) (p - msg), msg);
}

void
sl_ssl_clear_error(sl_log_t *log)
{
    (void) log;

    if (ERR_peek_error() == 0) {
        return;
    }

#if (SL_DEBUG)
    sl_ssl_error(SL_LOG_DEBUG, log, 0, "ignoring stale global SSL error");
#endif

    ERR_clear_error();
}

/* a config error with OpenSSL's reasons, at the directive's file:line */
static void
sl_ssl_conf_error(sl_conf_t *cf, const char *fmt, ...)
{
    u_char    msg[SL_MAX_ERROR_STR], *p, *last;
    va_list   args;

    last = msg + sizeof(msg) - 64;

    va_start(args, fmt);
    p = sl_vslprintf(msg, last, fmt, args);
    va_end(args);

    p = sl_ssl_error_text(p, last, NULL);

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%*s", (size_t) (p - msg), msg);
}

/* name, made absolute against the configuration's prefix, NUL-terminated */
static sl_int_t
sl_ssl_full_name(sl_conf_t *cf, sl_str_t *name, sl_str_t *full)
{
    *full = *name;

    if (cf->cycle != NULL
        && sl_conf_full_name(cf->cycle, full, 1) != SL_OK)
    {
        return SL_ERROR;
    }

    full->data = sl_pstrdup(cf->pool, full);
    return full->data != NULL ? SL_OK : SL_ERROR;
}

/* file opened for reading, its full name in *full; -1 on error (logged) */
static int
sl_ssl_open_file(sl_conf_t *cf, sl_str_t *file, sl_str_t *full)
{
    int  fd;

    if (sl_ssl_full_name(cf, file, full) != SL_OK) {
        return -1;
    }

    fd = open((char *) full->data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "open() \"%s\" failed",
                          full->data);
    }

    return fd;
}

/* --- contexts ------------------------------------------------------------ */

/* the context itself, not the sl_ssl_t, which may be made again */
static void
sl_ssl_cleanup_ctx(void *data)
{
    /*
     * Freeing a context empties its builtin cache through remove_cb:
     * that is no verdict on the sessions, which the shared cache keeps
     * for the other workers and the next cycle (and its zone may be
     * gone already).
     */
    SSL_CTX_sess_set_remove_cb(data, NULL);
    SSL_CTX_free(data);
}

static sl_int_t
sl_ssl_set_protocols(sl_conf_t *cf, sl_ssl_t *ssl, sl_uint_t protocols)
{
    uint64_t  options = 0;

    /* the oldest version allowed, gaps closed with SSL_OP_NO_* */
    SSL_CTX_set_min_proto_version(ssl->ctx, 0);
    SSL_CTX_set_max_proto_version(ssl->ctx, 0);

    if (!(protocols & SL_SSL_SSLv3)) {
        options |= SSL_OP_NO_SSLv3;
    }
    if (!(protocols & SL_SSL_TLSv1)) {
        options |= SSL_OP_NO_TLSv1;
    }
    if (!(protocols & SL_SSL_TLSv1_1)) {
        options |= SSL_OP_NO_TLSv1_1;
    }
    if (!(protocols & SL_SSL_TLSv1_2)) {
        options |= SSL_OP_NO_TLSv1_2;
    }
    if (!(protocols & SL_SSL_TLSv1_3)) {
        options |= SSL_OP_NO_TLSv1_3;
    }

    SSL_CTX_set_options(ssl->ctx, options);

    if ((protocols & (SL_SSL_TLSv1 | SL_SSL_TLSv1_1)) == protocols
        && protocols != 0)
    {
        /* the default security level refuses them (SHA-1 signatures) */
        SSL_CTX_set_security_level(ssl->ctx, 0);
    }

    if (!(protocols & (SL_SSL_SSLv3 | SL_SSL_TLSv1 | SL_SSL_TLSv1_1
                       | SL_SSL_TLSv1_2 | SL_SSL_TLSv1_3)))
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no SSL protocols enabled");
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_ssl_create(sl_conf_t *cf, sl_ssl_t *ssl, sl_uint_t protocols,
    sl_uint_t flags, void *data)
{
    sl_pool_cleanup_t  *cln;
    uint64_t            options;

    if (sl_ssl_init(cf->log) != SL_OK) {
        return SL_ERROR;
    }

    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return SL_ERROR;
    }

    ssl->client = (flags & SL_SSL_CLIENT) ? 1 : 0;
    ssl->log = cf->log;
    ssl->buffer_size = SL_SSL_BUFSIZE;

    ERR_clear_error();

    ssl->ctx = SSL_CTX_new(ssl->client ? TLS_client_method()
                                       : TLS_server_method());
    if (ssl->ctx == NULL) {
        sl_ssl_conf_error(cf, "SSL_CTX_new() failed");
        return SL_ERROR;
    }

    cln->handler = sl_ssl_cleanup_ctx;
    cln->data = ssl->ctx;

    ssl->certificates = sl_array_create(cf->pool, 2, sizeof(sl_str_t));
    if (ssl->certificates == NULL) {
        return SL_ERROR;
    }

    if (SSL_CTX_set_ex_data(ssl->ctx, sl_ssl_idx.ssl_index, ssl) == 0
        || SSL_CTX_set_ex_data(ssl->ctx, sl_ssl_idx.ctx_index, data) == 0)
    {
        sl_ssl_conf_error(cf, "SSL_CTX_set_ex_data() failed");
        return SL_ERROR;
    }

    if (sl_ssl_set_protocols(cf, ssl, protocols) != SL_OK) {
        return SL_ERROR;
    }

    options = SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_DH_USE
              | SSL_OP_SINGLE_ECDH_USE;

    if (!ssl->client) {
        /*
         * Client-initiated renegotiation is refused (CVE-2009-3555, and
         * the CPU a flood of them costs); ssl->renegotiation (set after
         * this) lifts it for each connection: sl_ssl_create_connection().
         */
        options |= SSL_OP_NO_RENEGOTIATION;
    }

    SSL_CTX_set_options(ssl->ctx, options);

    /*
     * Buffers are given back to OpenSSL between reads and writes, and a
     * write repeated after WANT_* may come from a buffer that moved
     * (its bytes are the same: see sl_ssl_send_chain()).
     */
    SSL_CTX_set_mode(ssl->ctx, SSL_MODE_RELEASE_BUFFERS
                     | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                     | SSL_MODE_NO_AUTO_CHAIN);

    /*
     * Records are read as many as the socket holds, not a 5-byte header
     * and then the body: half the recv() calls. Bytes that OpenSSL keeps
     * read ahead are found by SSL_has_pending() when a caller's buffer
     * fills (sl_ssl_post_pending()), and after the handshake the read
     * event is left ready.
     */
    SSL_CTX_set_read_ahead(ssl->ctx, 1);
    SSL_CTX_set_info_callback(ssl->ctx, sl_ssl_info_callback);

    if (!ssl->client) {
        /* a session cache only when ssl_session_cache asks for one */
        SSL_CTX_set_session_cache_mode(ssl->ctx, SSL_SESS_CACHE_OFF);
    }

    return SL_OK;
}

/* --- certificates and keys ----------------------------------------------- */

typedef struct {
    sl_str_t   *password;
} sl_ssl_pw_t;

static int
sl_ssl_password_callback(char *buf, int size, int rwflag, void *userdata)
{
    sl_ssl_pw_t  *pw = userdata;
    size_t        len;

    (void) rwflag;

    if (pw == NULL || pw->password == NULL) {
        return 0;
    }

    len = pw->password->len;
    if (len > (size_t) size) {
        len = (size_t) size;
    }

    sl_memcpy(buf, pw->password->data, len);
    return (int) len;
}

static sl_int_t
sl_ssl_load_certificate(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *file)
{
    ERR_clear_error();

    if (SSL_CTX_use_certificate_chain_file(ssl->ctx, (char *) file->data)
        != 1)
    {
        sl_ssl_conf_error(cf, "cannot load certificate \"%s\"", file->data);
        return SL_ERROR;
    }

    return SL_OK;
}

/* the key, tried with each password in order until one decrypts it */
static sl_int_t
sl_ssl_load_key(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *file,
    sl_array_t *passwords)
{
    sl_ssl_pw_t   pw;
    sl_str_t     *pwd;
    sl_uint_t     tries, i;
    EVP_PKEY     *key;
    BIO          *bio;

    pwd = passwords ? passwords->elts : NULL;
    tries = passwords && passwords->nelts ? passwords->nelts : 1;

    for (i = 0; i < tries; i++) {
        ERR_clear_error();

        bio = BIO_new_file((char *) file->data, "r");
        if (bio == NULL) {
            sl_ssl_conf_error(cf, "cannot load certificate key \"%s\": "
                              "BIO_new_file() failed", file->data);
            return SL_ERROR;
        }

        pw.password = pwd ? &pwd[i] : NULL;
        key = PEM_read_bio_PrivateKey(bio, NULL, sl_ssl_password_callback,
                                      &pw);
        BIO_free(bio);

        if (key != NULL) {
            break;
        }
    }

    if (key == NULL) {
        sl_ssl_conf_error(cf, "cannot load certificate key \"%s\": "
                          "PEM_read_bio_PrivateKey() failed", file->data);
        return SL_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_use_PrivateKey(ssl->ctx, key) != 1) {
        EVP_PKEY_free(key);
        sl_ssl_conf_error(cf, "SSL_CTX_use_PrivateKey(\"%s\") failed",
                          file->data);
        return SL_ERROR;
    }

    EVP_PKEY_free(key);

    if (SSL_CTX_check_private_key(ssl->ctx) != 1) {
        sl_ssl_conf_error(cf, "certificate key \"%s\" does not match the "
                          "certificate", file->data);
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_ssl_certificates(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *certs,
    sl_array_t *keys, sl_array_t *passwords)
{
    sl_str_t   *cert, *key, *saved, full;
    sl_uint_t   i;

    cert = certs->elts;
    key = keys->elts;

    if (certs->nelts > keys->nelts) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no \"ssl_certificate_key\" "
                          "is defined for certificate \"%V\"",
                          &cert[certs->nelts - 1]);
        return SL_ERROR;
    }

    if (certs->nelts < keys->nelts) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no \"ssl_certificate\" is "
                          "defined for key \"%V\"", &key[keys->nelts - 1]);
        return SL_ERROR;
    }

    for (i = 0; i < certs->nelts; i++) {
        if (sl_ssl_full_name(cf, &cert[i], &full) != SL_OK
            || sl_ssl_load_certificate(cf, ssl, &full) != SL_OK)
        {
            return SL_ERROR;
        }

        saved = sl_array_push(ssl->certificates);
        if (saved == NULL) {
            return SL_ERROR;
        }
        *saved = full;

        if (sl_ssl_full_name(cf, &key[i], &full) != SL_OK
            || sl_ssl_load_key(cf, ssl, &full, passwords) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/*
 * One password a line, CR LF or LF, the last line's end optional. The
 * file is read to its end with read(), so a FIFO works.
 */
sl_array_t *
sl_ssl_read_password_file(sl_conf_t *cf, sl_str_t *file)
{
    sl_array_t  *passwords;
    sl_str_t     full, *pwd;
    u_char      *data, *p, *end, *eol;
    size_t       size = 0, cap = 4096;
    ssize_t      n;
    int          fd;

    fd = sl_ssl_open_file(cf, file, &full);
    if (fd == -1) {
        return NULL;
    }

    data = sl_alloc(cap, cf->log);

    while (data != NULL) {
        if (size == cap) {
            if (cap >= 1024 * 1024) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "password file "
                                  "\"%s\" is too large", full.data);
                goto failed;
            }
            p = sl_alloc(cap * 2, cf->log);
            if (p == NULL) {
                goto failed;
            }
            sl_memcpy(p, data, size);
            OPENSSL_cleanse(data, cap);
            sl_free(data);
            data = p;
            cap *= 2;
        }

        n = read(fd, data + size, cap - size);
        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            sl_conf_log_error(SL_LOG_EMERG, cf, errno, "read() \"%s\" failed",
                              full.data);
            goto failed;
        }

        if (n == 0) {
            break;
        }

        size += (size_t) n;
    }

    if (data == NULL) {
        close(fd);
        return NULL;
    }

    close(fd);
    fd = -1;

    passwords = sl_array_create(cf->temp_pool ? cf->temp_pool : cf->pool, 4,
                                sizeof(sl_str_t));
    if (passwords == NULL) {
        goto failed;
    }

    for (p = data, end = data + size; p < end; p = eol + 1) {
        eol = memchr(p, LF, (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }

        n = eol - p;
        if (n > 0 && p[n - 1] == CR) {
            n--;
        }

        if (n == 0) {
            continue;
        }

        pwd = sl_array_push(passwords);
        if (pwd == NULL) {
            goto failed;
        }

        pwd->len = (size_t) n;
        pwd->data = sl_pnalloc(passwords->pool, (size_t) n);
        if (pwd->data == NULL) {
            goto failed;
        }
        sl_memcpy(pwd->data, p, (size_t) n);
    }

    OPENSSL_cleanse(data, cap);
    sl_free(data);

    if (passwords->nelts == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "password file \"%s\" is "
                          "empty", full.data);
        return NULL;
    }

    return passwords;

failed:

    if (fd != -1) {
        close(fd);
    }

    if (data != NULL) {
        OPENSSL_cleanse(data, cap);
        sl_free(data);
    }

    return NULL;
}

static void
sl_ssl_cleanse_passwords(void *data)
{
    sl_array_t  *passwords = data;
    sl_str_t    *pwd = passwords->elts;
    sl_uint_t    i;

    for (i = 0; i < passwords->nelts; i++) {
        OPENSSL_cleanse(pwd[i].data, pwd[i].len);
    }
}

/*
 * The passwords of ssl_password_file live in the temporary pool, wiped
 * once the configuration is read; keys loaded per handshake need them for
 * as long as the configuration: a copy in cf->pool, wiped when it goes.
 */
sl_array_t *
sl_ssl_preserve_passwords(sl_conf_t *cf, sl_array_t *passwords)
{
    sl_array_t         *copy;
    sl_pool_cleanup_t  *cln;
    sl_str_t           *from, *to;
    sl_uint_t           i;

    if (passwords == NULL) {
        return NULL;
    }

    copy = sl_array_create(cf->pool, passwords->nelts, sizeof(sl_str_t));
    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (copy == NULL || cln == NULL) {
        return NULL;
    }

    from = passwords->elts;

    for (i = 0; i < passwords->nelts; i++) {
        to = sl_array_push(copy);
        to->len = from[i].len;
        to->data = sl_pnalloc(cf->pool, from[i].len);
        if (to->data == NULL) {
            return NULL;
        }
        sl_memcpy(to->data, from[i].data, from[i].len);
    }

    cln->handler = sl_ssl_cleanse_passwords;
    cln->data = copy;
    return copy;
}

/* --- ciphers, curves, DH, configuration commands ------------------------ */

sl_int_t
sl_ssl_ciphers(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *ciphers,
    sl_uint_t prefer_server_ciphers)
{
    u_char  *list;

    list = sl_pstrdup(cf->pool, ciphers);
    if (list == NULL) {
        return SL_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_set_cipher_list(ssl->ctx, (char *) list) != 1) {
        sl_ssl_conf_error(cf, "SSL_CTX_set_cipher_list(\"%V\") failed",
                          ciphers);
        return SL_ERROR;
    }

    if (prefer_server_ciphers) {
        SSL_CTX_set_options(ssl->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }

    return SL_OK;
}

sl_conf_bitmask_t  sl_ssl_protocol_names[] = {
    { sl_string("SSLv2"), SL_SSL_SSLv2 },
    { sl_string("SSLv3"), SL_SSL_SSLv3 },
    { sl_string("TLSv1"), SL_SSL_TLSv1 },
    { sl_string("TLSv1.1"), SL_SSL_TLSv1_1 },
    { sl_string("TLSv1.2"), SL_SSL_TLSv1_2 },
    { sl_string("TLSv1.3"), SL_SSL_TLSv1_3 },
    { sl_null_string, 0 }
};

sl_int_t
sl_ssl_conf_command_add(sl_conf_t *cf, sl_array_t **commands)
{
    sl_str_t  *value = cf->args->elts, *pair;

    if (*commands == SL_CONF_UNSET_PTR) {
        *commands = sl_array_create(cf->pool, 4, 2 * sizeof(sl_str_t));
        if (*commands == NULL) {
            return SL_ERROR;
        }
    }

    pair = sl_array_push(*commands);
    if (pair == NULL) {
        return SL_ERROR;
    }

    pair[0] = value[1];
    pair[1] = value[2];
    return SL_OK;
}

/*
 * A command's value as OpenSSL gets it: one that names a file or a
 * directory (Certificate, ChainCAFile, VerifyCAPath...) relative to the
 * configuration's directory, as nginx resolves it; NUL-terminated.
 */
static sl_int_t
sl_ssl_conf_command_value(sl_conf_t *cf, SSL_CONF_CTX *cctx, u_char *name,
    sl_str_t *value, u_char **out)
{
    sl_str_t  full;
    int       type;

    type = SSL_CONF_cmd_value_type(cctx, (char *) name);

    if (type == SSL_CONF_TYPE_FILE || type == SSL_CONF_TYPE_DIR) {
        if (sl_ssl_full_name(cf, value, &full) != SL_OK) {
            return SL_ERROR;
        }

        *out = full.data;
        return SL_OK;
    }

    *out = sl_pstrdup(cf->pool, value);
    return *out != NULL ? SL_OK : SL_ERROR;
}

sl_int_t
sl_ssl_conf_commands(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *commands)
{
    SSL_CONF_CTX  *cctx;
    sl_str_t      *cmd;
    u_char        *name, *value;
    sl_uint_t      i, n;

    if (commands == NULL || commands->nelts == 0) {
        return SL_OK;
    }

    /* pairs (sl_keyval_t, sl_str_t[2]), or sl_str_t taken two by two */
    n = commands->size == sizeof(sl_str_t) ? commands->nelts / 2
                                           : commands->nelts;

    cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        sl_ssl_conf_error(cf, "SSL_CONF_CTX_new() failed");
        return SL_ERROR;
    }

    /*
     * Both sides, as nginx: a command OpenSSL knows for either side is
     * taken (it only sets the context), so an nginx configuration loads.
     */
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_CERTIFICATE
                           | SSL_CONF_FLAG_SHOW_ERRORS
                           | SSL_CONF_FLAG_CLIENT | SSL_CONF_FLAG_SERVER);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ssl->ctx);

    cmd = commands->elts;

    for (i = 0; i < n; i++) {
        name = sl_pstrdup(cf->pool, &cmd[2 * i]);
        if (name == NULL
            || sl_ssl_conf_command_value(cf, cctx, name, &cmd[2 * i + 1],
                                         &value) != SL_OK)
        {
            SSL_CONF_CTX_free(cctx);
            return SL_ERROR;
        }

        ERR_clear_error();

        if (SSL_CONF_cmd(cctx, (char *) name, (char *) value) <= 0) {
            sl_ssl_conf_error(cf, "SSL_CONF_cmd(\"%s\", \"%s\") failed",
                              name, value);
            SSL_CONF_CTX_free(cctx);
            return SL_ERROR;
        }
    }

    if (SSL_CONF_CTX_finish(cctx) != 1) {
        sl_ssl_conf_error(cf, "SSL_CONF_finish() failed");
        SSL_CONF_CTX_free(cctx);
        return SL_ERROR;
    }

    SSL_CONF_CTX_free(cctx);
    return SL_OK;
}

sl_int_t
sl_ssl_ecdh_curve(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *name)
{
    u_char  *list;

    if (sl_str_eq_lit(name, "auto")) {
        /* OpenSSL's own list, in its order */
        return SL_OK;
    }

    list = sl_pstrdup(cf->pool, name);
    if (list == NULL) {
        return SL_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_set1_curves_list(ssl->ctx, (char *) list) != 1) {
        sl_ssl_conf_error(cf, "SSL_CTX_set1_curves_list(\"%V\") failed",
                          name);
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_ssl_dhparam(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *file)
{
    EVP_PKEY  *dh;
    sl_str_t   full;
    BIO       *bio;

    if (file->len == 0) {
        return SL_OK;
    }

    if (sl_ssl_full_name(cf, file, &full) != SL_OK) {
        return SL_ERROR;
    }

    ERR_clear_error();

    bio = BIO_new_file((char *) full.data, "r");
    if (bio == NULL) {
        sl_ssl_conf_error(cf, "BIO_new_file(\"%s\") failed", full.data);
        return SL_ERROR;
    }

    dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);

    if (dh == NULL) {
        sl_ssl_conf_error(cf, "PEM_read_bio_Parameters(\"%s\") failed",
                          full.data);
        return SL_ERROR;
    }

    if (SSL_CTX_set0_tmp_dh_pkey(ssl->ctx, dh) != 1) {
        EVP_PKEY_free(dh);
        sl_ssl_conf_error(cf, "SSL_CTX_set0_tmp_dh_pkey(\"%s\") failed",
                          full.data);
        return SL_ERROR;
    }

    return SL_OK;
}

/* --- verification -------------------------------------------------------- */

/*
 * Every chain is accepted here: the verdict is kept (SSL_get_verify_result)
 * and sl_ssl_verify_result() judges it after the handshake, so that
 * "optional" and "optional_no_ca" can let a client through.
 */
static int
sl_ssl_verify_callback(int ok, X509_STORE_CTX *x509_store)
{
    (void) ok;
    (void) x509_store;
    return 1;
}

static sl_int_t
sl_ssl_verify_locations(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *cert,
    sl_int_t depth, sl_str_t *full)
{
    SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_PEER, sl_ssl_verify_callback);
    SSL_CTX_set_verify_depth(ssl->ctx, (int) depth);

    if (cert->len == 0) {
        return SL_OK;
    }

    if (sl_ssl_full_name(cf, cert, full) != SL_OK) {
        return SL_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_load_verify_locations(ssl->ctx, (char *) full->data, NULL)
        != 1)
    {
        sl_ssl_conf_error(cf, "SSL_CTX_load_verify_locations(\"%s\") failed",
                          full->data);
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_ssl_client_certificate(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *cert,
    sl_int_t depth)
{
    STACK_OF(X509_NAME)  *list;
    sl_str_t              full;

    if (sl_ssl_verify_locations(cf, ssl, cert, depth, &full) != SL_OK) {
        return SL_ERROR;
    }

    if (cert->len == 0) {
        return SL_OK;
    }

    /* the names of the CAs go into the CertificateRequest */
    ERR_clear_error();

    list = SSL_load_client_CA_file((char *) full.data);
    if (list == NULL) {
        sl_ssl_conf_error(cf, "SSL_load_client_CA_file(\"%s\") failed",
                          full.data);
        return SL_ERROR;
    }

    SSL_CTX_set_client_CA_list(ssl->ctx, list);
    return SL_OK;
}

sl_int_t
sl_ssl_trusted_certificate(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *cert,
    sl_int_t depth)
{
    sl_str_t  full;
    int       mode;

    /* trusting does not ask for a certificate: keep the mode we had */
    mode = SSL_CTX_get_verify_mode(ssl->ctx);

    if (sl_ssl_verify_locations(cf, ssl, cert, depth, &full) != SL_OK) {
        return SL_ERROR;
    }

    SSL_CTX_set_verify(ssl->ctx, ssl->client ? SSL_VERIFY_PEER : mode,
                       sl_ssl_verify_callback);
    return SL_OK;
}

sl_int_t
sl_ssl_crl(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *crl)
{
    X509_STORE   *store;
    X509_LOOKUP  *lookup;
    sl_str_t      full;

    if (crl->len == 0) {
        return SL_OK;
    }

    if (sl_ssl_full_name(cf, crl, &full) != SL_OK) {
        return SL_ERROR;
    }

    ERR_clear_error();

    store = SSL_CTX_get_cert_store(ssl->ctx);
    lookup = store ? X509_STORE_add_lookup(store, X509_LOOKUP_file()) : NULL;

    if (lookup == NULL) {
        sl_ssl_conf_error(cf, "X509_STORE_add_lookup() failed");
        return SL_ERROR;
    }

    if (X509_LOOKUP_load_file(lookup, (char *) full.data, X509_FILETYPE_PEM)
        == 0)
    {
        sl_ssl_conf_error(cf, "X509_LOOKUP_load_file(\"%s\") failed",
                          full.data);
        return SL_ERROR;
    }

    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK
                         | X509_V_FLAG_CRL_CHECK_ALL);
    return SL_OK;
}

/* --- sessions ------------------------------------------------------------ */

/*
 * The session id context: a hash of the certificates and of the client
 * CAs, so that a session is resumed only where it was made.
 */
static sl_int_t
sl_ssl_session_id_context(sl_conf_t *cf, sl_ssl_t *ssl)
{
    STACK_OF(X509_NAME)  *list;
    EVP_MD_CTX           *md;
    unsigned int          len;
    u_char                buf[EVP_MAX_MD_SIZE], *der;
    X509                 *cert;
    int                   n, i, rc;

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1) {
        goto failed;
    }

    rc = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_FIRST);

    while (rc == 1) {
        cert = SSL_CTX_get0_certificate(ssl->ctx);
        if (cert != NULL) {
            der = NULL;
            n = i2d_X509(cert, &der);
            if (n <= 0) {
                goto failed;
            }
            rc = EVP_DigestUpdate(md, der, (size_t) n);
            OPENSSL_free(der);
            if (rc != 1) {
                goto failed;
            }
        }
        rc = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_NEXT);
    }

    list = SSL_CTX_get_client_CA_list(ssl->ctx);

    for (i = 0; list != NULL && i < sk_X509_NAME_num(list); i++) {
        der = NULL;
        n = i2d_X509_NAME(sk_X509_NAME_value(list, i), &der);
        if (n <= 0) {
            goto failed;
        }
        rc = EVP_DigestUpdate(md, der, (size_t) n);
        OPENSSL_free(der);
        if (rc != 1) {
            goto failed;
        }
    }

    if (EVP_DigestFinal_ex(md, buf, &len) != 1
        || SSL_CTX_set_session_id_context(ssl->ctx, buf, len) != 1)
    {
        goto failed;
    }

    EVP_MD_CTX_free(md);
    return SL_OK;

failed:

    EVP_MD_CTX_free(md);
    sl_ssl_conf_error(cf, "the session id context failed");
    return SL_ERROR;
}

sl_int_t
sl_ssl_session_cache(sl_conf_t *cf, sl_ssl_t *ssl, ssize_t builtin,
    sl_shm_zone_t *shm_zone, time_t timeout)
{
    long  mode;

    if (ssl->client) {
        return SL_OK;
    }

    SSL_CTX_set_timeout(ssl->ctx, (long) timeout);

    if (sl_ssl_session_id_context(cf, ssl) != SL_OK) {
        return SL_ERROR;
    }

    if (builtin == SL_SSL_NO_SCACHE) {
        /* as nginx: tickets are ssl_session_tickets' business */
        SSL_CTX_set_session_cache_mode(ssl->ctx, SSL_SESS_CACHE_OFF);
        return SL_OK;
    }

    if (builtin == SL_SSL_NONE_SCACHE) {
        /*
         * Session ids are handed out, so that clients that insist on
         * them are content, but nothing is kept.
         */
        SSL_CTX_set_session_cache_mode(ssl->ctx, SSL_SESS_CACHE_SERVER
                                       | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_cache_size(ssl->ctx, 1);
        return SL_OK;
    }

    mode = SSL_SESS_CACHE_SERVER;

    if (builtin == SL_SSL_NO_BUILTIN_SCACHE) {
        /* shared only (or neither): OpenSSL's own cache stays empty */
        mode |= SSL_SESS_CACHE_NO_INTERNAL;

    } else if (builtin != SL_SSL_DFLT_BUILTIN_SCACHE) {
        SSL_CTX_sess_set_cache_size(ssl->ctx, builtin > 0 ? builtin : 1);
    }

    SSL_CTX_set_session_cache_mode(ssl->ctx, mode);

    if (shm_zone != NULL
        && sl_ssl_session_cache_attach(ssl->ctx, shm_zone) != SL_OK)
    {
        sl_ssl_conf_error(cf, "SSL_CTX_set_ex_data() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * Tickets with our own keys: the first file's key encrypts, every key
 * decrypts, and a ticket made with an older one is renewed.
 */
static int
sl_ssl_ticket_key_callback(SSL *s, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    sl_ssl_ticket_keys_t  *tk;
    sl_ssl_ticket_key_t   *keys;
    const EVP_CIPHER      *cipher;
    OSSL_PARAM             params[2];
    sl_uint_t              i, n;

    tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), sl_ssl_ticket_keys_index);
    if (tk == NULL) {
        return -1;
    }

    keys = tk->keys;
    n = tk->n;

    if (enc == 1) {
        i = 0;
        cipher = keys[i].size == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();

        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1) {
            return -1;
        }

        sl_memcpy(name, keys[i].name, 16);

    } else {
        for (i = 0; i < n; i++) {
            if (sl_memcmp(name, keys[i].name, 16) == 0) {
                break;
            }
        }

        if (i == n) {
            return 0;           /* unknown: a full handshake */
        }

        cipher = keys[i].size == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(hctx, params) != 1
        || EVP_MAC_init(hctx, keys[i].hmac_key, keys[i].size, NULL) != 1)
    {
        return -1;
    }

    if (enc == 1) {
        return EVP_EncryptInit_ex(ectx, cipher, NULL, keys[i].aes_key, iv)
               == 1 ? 1 : -1;
    }

    if (EVP_DecryptInit_ex(ectx, cipher, NULL, keys[i].aes_key, iv) != 1) {
        return -1;
    }

    return i == 0 ? 1 : 2;
}

static sl_int_t
sl_ssl_read_ticket_key(sl_conf_t *cf, sl_str_t *file,
    sl_ssl_ticket_key_t *key)
{
    u_char    buf[81];
    sl_str_t  full;
    ssize_t   n;
    int       fd;

    fd = sl_ssl_open_file(cf, file, &full);
    if (fd == -1) {
        return SL_ERROR;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n == -1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "read() \"%s\" failed",
                          full.data);
        return SL_ERROR;
    }

    if (n != 48 && n != 80) {
        OPENSSL_cleanse(buf, sizeof(buf));
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%s\" must be 48 or 80 "
                          "bytes", full.data);
        return SL_ERROR;
    }

    key->size = n == 48 ? 16 : 32;
    sl_memcpy(key->name, buf, 16);
    sl_memcpy(key->hmac_key, buf + 16, key->size);
    sl_memcpy(key->aes_key, buf + 16 + key->size, key->size);

    OPENSSL_cleanse(buf, sizeof(buf));
    return SL_OK;
}

static void
sl_ssl_cleanse_ticket_keys(void *data)
{
    sl_ssl_ticket_keys_t  *tk = data;

    OPENSSL_cleanse(tk->keys, tk->n * sizeof(sl_ssl_ticket_key_t));
}

sl_int_t
sl_ssl_session_tickets(sl_conf_t *cf, sl_ssl_t *ssl, sl_uint_t enable,
    sl_array_t *key_files)
{
    sl_ssl_ticket_keys_t  *tk;
    sl_pool_cleanup_t     *cln;
    sl_str_t              *file;
    sl_uint_t              i;

    if (!enable) {
        SSL_CTX_set_options(ssl->ctx, SSL_OP_NO_TICKET);
        return SL_OK;
    }

    SSL_CTX_clear_options(ssl->ctx, SSL_OP_NO_TICKET);

    if (key_files == NULL || key_files->nelts == 0 || ssl->client) {
        return SL_OK;
    }

    if (SSL_CTX_get_ex_data(ssl->ctx, sl_ssl_ticket_keys_index) != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "session ticket keys are "
                          "already set");
        return SL_ERROR;
    }

    /* in the pool whose cleanup frees the context: they live as long */
    tk = sl_pcalloc(cf->pool, sizeof(sl_ssl_ticket_keys_t)
                    + key_files->nelts * sizeof(sl_ssl_ticket_key_t));
    cln = sl_pool_cleanup_add(cf->pool, 0);
    if (tk == NULL || cln == NULL) {
        return SL_ERROR;
    }

    cln->handler = sl_ssl_cleanse_ticket_keys;
    cln->data = tk;

    file = key_files->elts;

    for (i = 0; i < key_files->nelts; i++) {
        if (sl_ssl_read_ticket_key(cf, &file[i], &tk->keys[i]) != SL_OK) {
            return SL_ERROR;
        }
        tk->n++;
    }

    if (SSL_CTX_set_ex_data(ssl->ctx, sl_ssl_ticket_keys_index, tk) == 0
        || SSL_CTX_set_tlsext_ticket_key_evp_cb(ssl->ctx,
                                                sl_ssl_ticket_key_callback)
           != 1)
    {
        sl_ssl_conf_error(cf, "SSL_CTX_set_tlsext_ticket_key_evp_cb() "
                          "failed");
        return SL_ERROR;
    }

    return SL_OK;
}

/* --- ALPN ---------------------------------------------------------------- */

static int
sl_ssl_alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
    sl_str_t  *wire = arg;

    (void) s;

    /* the server's order: the first of ours the client offers */
    if (SSL_select_next_proto((unsigned char **) out, outlen, wire->data,
                              (unsigned int) wire->len, in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
    {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    return SSL_TLSEXT_ERR_OK;
}

sl_int_t
sl_ssl_alpn(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *protocols)
{
    sl_str_t   *proto, *wire;
    sl_uint_t   i;
    size_t      len = 0;
    u_char     *p;

    if (protocols == NULL || protocols->nelts == 0) {
        return SL_OK;
    }

    proto = protocols->elts;

    for (i = 0; i < protocols->nelts; i++) {
        if (proto[i].len == 0 || proto[i].len > 255) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid ALPN protocol "
                              "\"%V\"", &proto[i]);
            return SL_ERROR;
        }
        len += proto[i].len + 1;
    }

    wire = sl_palloc(cf->pool, sizeof(sl_str_t));
    p = sl_pnalloc(cf->pool, len);
    if (wire == NULL || p == NULL) {
        return SL_ERROR;
    }

    wire->data = p;
    wire->len = len;

    for (i = 0; i < protocols->nelts; i++) {
        *p++ = (u_char) proto[i].len;
        p = sl_cpymem(p, proto[i].data, proto[i].len);
    }

    if (ssl->client) {
        if (SSL_CTX_set_alpn_protos(ssl->ctx, wire->data,
                                    (unsigned int) wire->len) != 0)
        {
            sl_ssl_conf_error(cf, "SSL_CTX_set_alpn_protos() failed");
            return SL_ERROR;
        }
        return SL_OK;
    }

    SSL_CTX_set_alpn_select_cb(ssl->ctx, sl_ssl_alpn_select, wire);
    return SL_OK;
}
