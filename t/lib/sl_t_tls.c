/*
 * sl_t_tls.c -- test certificates made with the OpenSSL API, and a small
 * TLS peer over an fd.
 */
#include "sl_config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sl_proc.h"
#include "sl_t_tls.h"

static char   sl_tt_dir[PATH_MAX];
static pid_t  sl_tt_owner;

const char *
sl_tt_path(const char *dir, const char *name)
{
    static char  bufs[8][PATH_MAX];
    static int   next;
    char        *b;

    b = bufs[next++ % 8];
    if (snprintf(b, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
        b[0] = '\0';
    }
    return b;
}

static int
sl_tt_fail(const char *what)
{
    fprintf(stderr, "sl_t_tls: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    return -1;
}

static EVP_PKEY *
sl_tt_key(int type)
{
    if (type & SL_TT_ECDSA) {
        return EVP_EC_gen("P-256");
    }

    return EVP_RSA_gen(2048);
}

static int
sl_tt_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX       ctx;
    X509_EXTENSION  *ext;
    int              rc;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return -1;
    }

    rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

static X509 *
sl_tt_read_cert(const char *file)
{
    X509  *x;
    FILE  *f;

    f = fopen(file, "r");
    if (f == NULL) {
        return NULL;
    }

    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *
sl_tt_read_key(const char *file)
{
    EVP_PKEY  *k;
    FILE      *f;

    f = fopen(file, "r");
    if (f == NULL) {
        return NULL;
    }

    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static int
sl_tt_write_pem(const char *file, X509 *x, EVP_PKEY *k, const char *password)
{
    const EVP_CIPHER  *cipher = NULL;
    FILE              *f;
    int                ok;

    f = fopen(file, "w");
    if (f == NULL) {
        fprintf(stderr, "sl_t_tls: fopen(%s): %s\n", file, strerror(errno));
        return -1;
    }

    if (x != NULL) {
        ok = PEM_write_X509(f, x);

    } else {
        if (password != NULL) {
            cipher = EVP_aes_256_cbc();
        }
        ok = PEM_write_PrivateKey(f, k, cipher, (unsigned char *) password,
                                  password ? (int) strlen(password) : 0,
                                  NULL, NULL);
    }

    if (fclose(f) != 0 || ok != 1) {
        return sl_tt_fail(file);
    }

    return 0;
}

static int
sl_tt_fill(X509 *x, X509 *ix, EVP_PKEY *key, int type, const char *cn,
    const char *san)
{
    static long   serial = 1;
    X509_NAME    *name;

    if (X509_set_version(x, 2) != 1
        || ASN1_INTEGER_set(X509_get_serialNumber(x),
                            (long) (time(NULL) & 0xfffffff) * 64
                            + serial++) != 1
        || X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL
        || X509_set_pubkey(x, key) != 1)
    {
        return -1;
    }

    name = X509_get_subject_name(x);

    if (type & SL_TT_CLIENT) {
        if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                       (const unsigned char *) "sluice tests",
                                       -1, -1, 0) != 1)
        {
            return -1;
        }
    }

    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *) cn, -1, -1, 0) != 1)
    {
        return -1;
    }

    if (sl_tt_ext(x, ix, NID_subject_key_identifier, "hash") != 0) {
        return -1;
    }

    if (type & SL_TT_CA) {
        return sl_tt_ext(x, ix, NID_basic_constraints, "critical,CA:TRUE")
               || sl_tt_ext(x, ix, NID_key_usage,
                            "critical,keyCertSign,cRLSign");
    }

    if (sl_tt_ext(x, ix, NID_basic_constraints, "CA:FALSE") != 0
        || sl_tt_ext(x, ix, NID_ext_key_usage,
                     (type & SL_TT_CLIENT) ? "clientAuth" : "serverAuth")
           != 0)
    {
        return -1;
    }

    if (san != NULL && sl_tt_ext(x, ix, NID_subject_alt_name, san) != 0) {
        return -1;
    }

    return 0;
}

int
sl_tt_cert(const char *dir, const char *name, int type, const char *cn,
    const char *san, const char *issuer, const char *password)
{
    EVP_PKEY  *key = NULL, *ikey = NULL;
    X509      *x = NULL, *ix = NULL;
    char       file[PATH_MAX];
    int        rc = -1;

    key = sl_tt_key(type);
    x = X509_new();
    if (key == NULL || x == NULL) {
        sl_tt_fail("key generation");
        goto done;
    }

    if (issuer != NULL) {
        snprintf(file, sizeof(file), "%s/%s.crt", dir, issuer);
        ix = sl_tt_read_cert(file);
        snprintf(file, sizeof(file), "%s/%s.key", dir, issuer);
        ikey = sl_tt_read_key(file);
        if (ix == NULL || ikey == NULL) {
            sl_tt_fail("reading the issuer");
            goto done;
        }
    }

    if (sl_tt_fill(x, ix ? ix : x, key, type, cn, san) != 0) {
        sl_tt_fail("making the certificate");
        goto done;
    }

    if (ix != NULL) {
        if (X509_set_issuer_name(x, X509_get_subject_name(ix)) != 1
            || sl_tt_ext(x, ix, NID_authority_key_identifier, "keyid:always")
               != 0)
        {
            sl_tt_fail("the issuer name");
            goto done;
        }

    } else if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
        sl_tt_fail("the issuer name");
        goto done;
    }

    if (X509_sign(x, ikey ? ikey : key, EVP_sha256()) == 0) {
        sl_tt_fail("signing");
        goto done;
    }

    snprintf(file, sizeof(file), "%s/%s.crt", dir, name);
    if (sl_tt_write_pem(file, x, NULL, NULL) != 0) {
        goto done;
    }

    snprintf(file, sizeof(file), "%s/%s.key", dir, name);
    rc = sl_tt_write_pem(file, NULL, key, password);

done:

    EVP_PKEY_free(key);
    EVP_PKEY_free(ikey);
    X509_free(x);
    X509_free(ix);
    return rc;
}

static int
sl_tt_concat(const char *dir, const char *out, const char *a, const char *b)
{
    const char  *in[2];
    char         buf[4096];
    size_t       n;
    FILE        *f, *g;
    int          i;

    in[0] = a;
    in[1] = b;

    f = fopen(sl_tt_path(dir, out), "w");
    if (f == NULL) {
        return -1;
    }

    for (i = 0; i < 2; i++) {
        g = fopen(sl_tt_path(dir, in[i]), "r");
        if (g == NULL) {
            fclose(f);
            return -1;
        }

        while ((n = fread(buf, 1, sizeof(buf), g)) > 0) {
            fwrite(buf, 1, n, f);
        }

        fclose(g);
    }

    return fclose(f) == 0 ? 0 : -1;
}

/* the PKI and whatever tests put next to it (a flat directory) */
static void
sl_tt_cleanup(void)
{
    struct dirent  *e;
    DIR            *d;

    if (sl_tt_dir[0] == '\0' || getpid() != sl_tt_owner) {
        return;
    }

    d = opendir(sl_tt_dir);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                (void) unlink(sl_tt_path(sl_tt_dir, e->d_name));
            }
        }
        closedir(d);
    }

    (void) rmdir(sl_tt_dir);
}

/* a subjectAltName of 300 names: a certificate of about 8 KiB */
static int
sl_tt_make_big(const char *d)
{
    char  *san, *p;
    int    i, rc;

    san = malloc(300 * 32 + 64);
    if (san == NULL) {
        return -1;
    }

    p = san + sprintf(san, "DNS:localhost,IP:127.0.0.1");
    for (i = 0; i < 300; i++) {
        p += sprintf(p, ",DNS:name-%03d.big.test", i);
    }

    rc = sl_tt_cert(d, "big", SL_TT_RSA, "localhost", san, "ca", NULL);
    free(san);
    return rc;
}

static int
sl_tt_make_pki(const char *d)
{
    static const char  *san = "DNS:localhost,DNS:*.test,DNS:*.sluice.test,"
                               "IP:127.0.0.1";

    if (sl_tt_cert(d, "ca", SL_TT_RSA | SL_TT_CA, "sluice test CA", NULL,
                   NULL, NULL) != 0
        || sl_tt_cert(d, "rsa", SL_TT_RSA, "localhost", san, "ca", NULL) != 0
        || sl_tt_cert(d, "ecdsa", SL_TT_ECDSA, "localhost", san, "ca", NULL)
           != 0
        || sl_tt_cert(d, "rsa-enc", SL_TT_RSA, "localhost", san, "ca",
                      SL_TT_PASSWORD) != 0
        || sl_tt_cert(d, "client", SL_TT_ECDSA | SL_TT_CLIENT, "client", NULL,
                      "ca", NULL) != 0
        || sl_tt_cert(d, "other-ca", SL_TT_ECDSA | SL_TT_CA, "other test CA",
                      NULL, NULL, NULL) != 0
        || sl_tt_cert(d, "other-client", SL_TT_ECDSA | SL_TT_CLIENT,
                      "stranger", NULL, "other-ca", NULL) != 0
        || sl_tt_make_big(d) != 0
        || sl_tt_concat(d, "bundle.crt", "rsa.crt", "ca.crt") != 0)
    {
        return -1;
    }

    return 0;
}

const char *
sl_tt_pki(void)
{
    const char  *tmp;

    if (sl_tt_dir[0] != '\0') {
        return sl_tt_dir;
    }

    tmp = getenv("SLUICE_TMP");
    if (tmp == NULL) {
        tmp = getenv("TMPDIR");
    }
    snprintf(sl_tt_dir, sizeof(sl_tt_dir), "%s/sl-tls-XXXXXX",
             tmp ? tmp : "/tmp");

    if (mkdtemp(sl_tt_dir) == NULL) {
        fprintf(stderr, "sl_t_tls: mkdtemp(%s): %s\n", sl_tt_dir,
                strerror(errno));
        sl_tt_dir[0] = '\0';
        return NULL;
    }

    sl_tt_owner = getpid();
    atexit(sl_tt_cleanup);

    if (sl_tt_make_pki(sl_tt_dir) != 0) {
        sl_tt_cleanup();
        sl_tt_dir[0] = '\0';
        return NULL;
    }

    return sl_tt_dir;
}

/* --- the peer ------------------------------------------------------------ */

static int  sl_tt_peer_index = -1;

static sl_tt_peer_t *
sl_tt_peer_of(const SSL *ssl)
{
    return SSL_get_ex_data(ssl, sl_tt_peer_index);
}

static int
sl_tt_new_session(SSL *ssl, SSL_SESSION *sess)
{
    sl_tt_peer_t  *p = sl_tt_peer_of(ssl);

    if (p == NULL) {
        return 0;
    }

    if (p->session != NULL) {
        SSL_SESSION_free(p->session);
    }

    p->session = sess;      /* returning 1 keeps the reference */
    p->sessions++;
    return 1;
}

static void
sl_tt_info(const SSL *ssl, int where, int ret)
{
    sl_tt_peer_t  *p = sl_tt_peer_of(ssl);

    (void) ret;

    if (p != NULL && (where & SSL_CB_HANDSHAKE_START)) {
        p->handshakes++;
    }
}

static int
sl_tt_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned char  *wire = arg;

    (void) ssl;

    if (SSL_select_next_proto((unsigned char **) out, outlen, wire + 1,
                              wire[0], in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
    {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    return SSL_TLSEXT_ERR_OK;
}

/* "a,b" as ALPN's wire format; wire[0] holds the total length */
static unsigned char *
sl_tt_alpn_wire(const char *list)
{
    unsigned char  *w, *p, *len;
    size_t          n;

    n = strlen(list);
    w = malloc(n + 3);
    if (w == NULL) {
        return NULL;
    }

    p = w + 1;
    len = p++;
    *len = 0;

    for ( ; *list; list++) {
        if (*list == ',') {
            len = p++;
            *len = 0;
            continue;
        }
        *p++ = (unsigned char) *list;
        (*len)++;
    }

    w[0] = (unsigned char) (p - w - 1);
    return w;
}

static int
sl_tt_setup_ctx(sl_tt_peer_t *p, const sl_tt_opts_t *o)
{
    SSL_CTX        *ctx = p->ctx;
    unsigned char  *wire;

    if (o->min_version && !SSL_CTX_set_min_proto_version(ctx, o->min_version))
    {
        return -1;
    }

    if (o->max_version && !SSL_CTX_set_max_proto_version(ctx, o->max_version))
    {
        return -1;
    }

    if (o->cert != NULL
        && (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1
            || SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1))
    {
        return -1;
    }

    if (o->ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
            return -1;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER
                           | (p->server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
    }

    if ((o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1)
        || (o->ciphersuites
            && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1)
        || (o->sigalgs && SSL_CTX_set1_sigalgs_list(ctx, o->sigalgs) != 1))
    {
        return -1;
    }

    SSL_CTX_set_options(ctx, (uint64_t) o->options
                        | (o->no_tickets ? SSL_OP_NO_TICKET : 0));

    if (o->alpn != NULL) {
        wire = sl_tt_alpn_wire(o->alpn);
        if (wire == NULL) {
            return -1;
        }

        if (p->server) {
            /* the context keeps wire for its callback: freed with it */
            SSL_CTX_set_alpn_select_cb(ctx, sl_tt_alpn_select, wire);
            SSL_CTX_set_app_data(ctx, wire);

        } else {
            if (SSL_CTX_set_alpn_protos(ctx, wire + 1, wire[0]) != 0) {
                free(wire);
                return -1;
            }
            free(wire);
        }
    }

    if (!p->server) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                       | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, sl_tt_new_session);
    }

    SSL_CTX_set_info_callback(ctx, sl_tt_info);
    return 0;
}

int
sl_tt_peer_init(sl_tt_peer_t *p, int fd, int server, const sl_tt_opts_t *opts)
{
    static const sl_tt_opts_t  none;
    const sl_tt_opts_t        *o = opts ? opts : &none;

    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->server = server;

    if (sl_tt_peer_index == -1) {
        sl_tt_peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }

    p->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (p->ctx == NULL || sl_tt_setup_ctx(p, o) != 0) {
        goto failed;
    }

    p->ssl = SSL_new(p->ctx);
    if (p->ssl == NULL || SSL_set_fd(p->ssl, fd) != 1) {
        goto failed;
    }

    SSL_set_ex_data(p->ssl, sl_tt_peer_index, p);

    if (server) {
        SSL_set_accept_state(p->ssl);
        return 0;
    }

    SSL_set_connect_state(p->ssl);

    if (o->server_name != NULL
        && SSL_set_tlsext_host_name(p->ssl, o->server_name) != 1)
    {
        goto failed;
    }

    if (o->session != NULL && SSL_set_session(p->ssl, o->session) != 1) {
        goto failed;
    }

    return 0;

failed:

    sl_tt_fail("sl_tt_peer_init()");
    sl_tt_peer_free(p);
    return -1;
}

void
sl_tt_peer_free(sl_tt_peer_t *p)
{
    void  *wire;

    if (p->ssl != NULL) {
        SSL_free(p->ssl);
    }

    if (p->ctx != NULL) {
        wire = SSL_CTX_get_app_data(p->ctx);
        SSL_CTX_free(p->ctx);
        free(wire);
    }

    if (p->session != NULL) {
        SSL_SESSION_free(p->session);
    }

    p->ssl = NULL;
    p->ctx = NULL;
    p->session = NULL;
}

/* 1 done; 0 would block (*want); -1 failed */
static int
sl_tt_result(sl_tt_peer_t *p, int n, int *want)
{
    int  err;

    if (n > 0) {
        return 1;
    }

    err = SSL_get_error(p->ssl, n);

    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        *want = err;
        return 0;
    }

    *want = err;
    if (p->err == 0) {
        p->err = ERR_peek_error();
    }
    return -1;
}

int
sl_tt_peer_step(sl_tt_peer_t *p, int *want)
{
    ERR_clear_error();
    return sl_tt_result(p, SSL_do_handshake(p->ssl), want);
}

/* waits for what want asks until deadline (ms, monotonic): 1, or 0 */
static int
sl_tt_wait(sl_tt_peer_t *p, int want, struct timespec *deadline)
{
    struct timespec  now;
    struct pollfd    pfd;
    long             left;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left = (deadline->tv_sec - now.tv_sec) * 1000
           + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    if (left <= 0) {
        return 0;
    }

    pfd.fd = p->fd;
    pfd.events = want == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    pfd.revents = 0;

    return poll(&pfd, 1, (int) left) > 0;
}

static void
sl_tt_deadline(struct timespec *ts, int ms)
{
    long  t = sl_t_timeout(ms);

    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += t / 1000;
    ts->tv_nsec += (t % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int
sl_tt_handshake(sl_tt_peer_t *p, int ms)
{
    struct timespec  deadline;
    int              rc, want;

    sl_tt_deadline(&deadline, ms);

    for ( ;; ) {
        rc = sl_tt_peer_step(p, &want);
        if (rc != 0) {
            return rc == 1;
        }

        if (!sl_tt_wait(p, want, &deadline)) {
            return 0;
        }
    }
}

int
sl_tt_write(sl_tt_peer_t *p, const void *buf, size_t len, int ms)
{
    struct timespec  deadline;
    size_t           done = 0, n;
    int              rc, want;

    sl_tt_deadline(&deadline, ms);

    while (done < len) {
        ERR_clear_error();
        rc = SSL_write_ex(p->ssl, (const char *) buf + done, len - done, &n);
        rc = sl_tt_result(p, rc, &want);

        if (rc == 1) {
            done += n;
            continue;
        }

        if (rc < 0 || !sl_tt_wait(p, want, &deadline)) {
            return 0;
        }
    }

    return 1;
}

ssize_t
sl_tt_read(sl_tt_peer_t *p, void *buf, size_t len, int ms)
{
    struct timespec  deadline;
    size_t           n;
    int              rc, want;

    sl_tt_deadline(&deadline, ms);

    for ( ;; ) {
        ERR_clear_error();
        rc = SSL_read_ex(p->ssl, buf, len, &n);
        rc = sl_tt_result(p, rc, &want);

        if (rc == 1) {
            return (ssize_t) n;
        }

        if (rc < 0) {
            return want == SSL_ERROR_ZERO_RETURN ? 0 : -1;
        }

        if (!sl_tt_wait(p, want, &deadline)) {
            return -1;
        }
    }
}

int
sl_tt_read_full(sl_tt_peer_t *p, void *buf, size_t len, int ms)
{
    size_t   got = 0;
    ssize_t  n;

    while (got < len) {
        n = sl_tt_read(p, (char *) buf + got, len - got, ms);
        if (n <= 0) {
            return 0;
        }
        got += (size_t) n;
    }

    return 1;
}

int
sl_tt_shutdown(sl_tt_peer_t *p, int wait, int ms)
{
    struct timespec  deadline;
    char             buf[256];
    int              rc, want = 0;

    sl_tt_deadline(&deadline, ms);

    for ( ;; ) {
        ERR_clear_error();
        rc = SSL_shutdown(p->ssl);

        if (rc == 1 || (rc == 0 && !wait)) {
            return 1;
        }

        if (rc == 0) {
            /* ours went; the other's comes through SSL_read */
            for ( ;; ) {
                ERR_clear_error();
                rc = SSL_read(p->ssl, buf, sizeof(buf));
                if (rc > 0) {
                    continue;
                }
                rc = sl_tt_result(p, rc, &want);
                if (rc < 0) {
                    return want == SSL_ERROR_ZERO_RETURN;
                }
                if (!sl_tt_wait(p, want, &deadline)) {
                    return 0;
                }
            }
        }

        if (sl_tt_result(p, rc, &want) < 0
            || !sl_tt_wait(p, want, &deadline))
        {
            return 0;
        }
    }
}

const char *
sl_tt_alpn(sl_tt_peer_t *p)
{
    static char           buf[256];
    const unsigned char  *data;
    unsigned int          len;

    SSL_get0_alpn_selected(p->ssl, &data, &len);
    memcpy(buf, data ? (const char *) data : "", len);
    buf[len] = '\0';
    return buf;
}

const char *
sl_tt_peer_cn(sl_tt_peer_t *p)
{
    static char   buf[256];
    X509         *x;

    buf[0] = '\0';
    x = SSL_get1_peer_certificate(p->ssl);
    if (x != NULL) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
                                  buf, sizeof(buf));
        X509_free(x);
    }

    return buf;
}

int
sl_tt_peer_key_type(sl_tt_peer_t *p)
{
    EVP_PKEY  *k;
    X509      *x;
    int        type = 0;

    x = SSL_get1_peer_certificate(p->ssl);
    if (x != NULL) {
        k = X509_get0_pubkey(x);
        if (k != NULL) {
            type = EVP_PKEY_get_base_id(k);
        }
        X509_free(x);
    }

    return type;
}
