/*
 * sl_t_tls.h -- TLS for tests: certificates made in the test process with
 * the OpenSSL API (no openssl command), and a small TLS peer over an fd.
 *
 * Certificates. sl_tt_pki() makes, once per process, a directory with a
 * test PKI (removed at exit, with any file a test left in it, by the
 * process that made it, not by Check's forked children):
 *
 *     ca.crt ca.key            "sluice test CA", self-signed, RSA-2048
 *     rsa.crt rsa.key          server, RSA-2048, CN=localhost,
 *                              SAN DNS:localhost, DNS:*.test,
 *                              DNS:*.sluice.test, IP:127.0.0.1 (OpenSSL's
 *                              host check does not match *.test: a
 *                              wildcard needs two labels after it)
 *     ecdsa.crt ecdsa.key      the same names, ECDSA P-256
 *     rsa-enc.crt rsa-enc.key  like rsa, another key, encrypted
 *                              (AES-256-CBC) with SL_TT_PASSWORD
 *     client.crt client.key    client (extendedKeyUsage clientAuth),
 *                              ECDSA P-256, CN=client, O=sluice tests
 *     other-ca.crt ...key      a second CA that nothing else trusts
 *     other-client.crt ...key  a client signed by other-ca
 *     bundle.crt               rsa.crt then ca.crt (a chain file)
 *     big.crt big.key          server, RSA-2048, CN=localhost, 300 more
 *                              DNS names: about 8 KiB, more than a
 *                              small socket buffer takes at once
 *
 * All issued by ca but where said. sl_tt_cert() makes more (e.g. one per
 * SNI name) in any directory.
 *
 * The peer. sl_tt_peer_init() wraps an fd (blocking or not) in an SSL of
 * its own context; the I/O calls poll the fd themselves and take a time
 * limit in ms (scaled by sl_t_timeout()), so they work against a loop
 * under test only when that loop runs elsewhere (another process, or
 * between the peer's non-blocking steps: use sl_tt_peer_step()).
 */
#ifndef SL_T_TLS_H
#define SL_T_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define SL_TT_PASSWORD  "sluice-test"

/* sl_tt_cert() key types and flags */
#define SL_TT_RSA       0x01
#define SL_TT_ECDSA     0x02
#define SL_TT_CA        0x10      /* a CA (basicConstraints CA:TRUE) */
#define SL_TT_CLIENT    0x20      /* extendedKeyUsage clientAuth */

/* the test PKI's directory (made on first call); NULL on failure */
const char *sl_tt_pki(void);
/* dir/name in a static buffer (one of 8 rotating ones) */
const char *sl_tt_path(const char *dir, const char *name);
/* sl_tt_path(sl_tt_pki(), name) */
#define sl_tt_file(name)  sl_tt_path(sl_tt_pki(), name)

/*
 * Writes dir/name.crt and dir/name.key: a key of type (SL_TT_RSA 2048
 * bits, SL_TT_ECDSA P-256) and a certificate for subject "CN=cn" (with
 * "O=sluice tests" for clients), with san ("DNS:a.test,IP:127.0.0.1";
 * NULL: none), valid from an hour ago for ten years, signed by
 * dir/issuer.crt + .key (NULL: self-signed). A password encrypts the key.
 * 0, or -1 with OpenSSL's errors printed to stderr.
 */
int sl_tt_cert(const char *dir, const char *name, int type, const char *cn,
    const char *san, const char *issuer, const char *password);

/* --- the peer ------------------------------------------------------------ */

typedef struct {
    const char   *cert;          /* PEM files; NULL: none */
    const char   *key;
    const char   *ca;            /* verify the other side; NULL: do not */
    const char   *server_name;   /* client: SNI */
    const char   *alpn;          /* "a,b": offered (client) / accepted */
    const char   *ciphers;       /* TLS 1.2 cipher list */
    const char   *ciphersuites;  /* TLS 1.3 */
    const char   *sigalgs;       /* e.g. "ECDSA+SHA256" to get that cert */
    int           min_version;   /* TLS1_2_VERSION...; 0: OpenSSL's */
    int           max_version;
    SSL_SESSION  *session;       /* client: resume it */
    int           no_tickets;
    long          options;       /* more SSL_OP_* */
} sl_tt_opts_t;

typedef struct {
    SSL_CTX      *ctx;
    SSL          *ssl;
    int           fd;
    int           server;
    /* client: the last session the server gave (a reference), or NULL */
    SSL_SESSION  *session;
    int           sessions;      /* how many it gave */
    int           handshakes;    /* SSL_CB_HANDSHAKE_START seen */
    unsigned long err;           /* the first OpenSSL error of a failure */
} sl_tt_peer_t;

/* 0, or -1 (OpenSSL's errors printed); opts may be NULL */
int sl_tt_peer_init(sl_tt_peer_t *p, int fd, int server,
    const sl_tt_opts_t *opts);
/* frees the SSL and context, not the fd; no close_notify */
void sl_tt_peer_free(sl_tt_peer_t *p);

/*
 * One non-blocking attempt of an operation: 1 done, 0 would block
 * (*want: SSL_ERROR_WANT_READ/WRITE), -1 failed.
 */
int sl_tt_peer_step(sl_tt_peer_t *p, int *want);

/* the handshake within ms: 1 done, 0 failed or timed out */
int sl_tt_handshake(sl_tt_peer_t *p, int ms);
/* writes all of buf within ms: 1, or 0 */
int sl_tt_write(sl_tt_peer_t *p, const void *buf, size_t len, int ms);
/*
 * Reads what comes, at most len, waiting at most ms for the first byte:
 * bytes > 0, 0 on close_notify, -1 on an error, a truncation or timeout.
 */
ssize_t sl_tt_read(sl_tt_peer_t *p, void *buf, size_t len, int ms);
/* reads exactly len within ms: 1, or 0 */
int sl_tt_read_full(sl_tt_peer_t *p, void *buf, size_t len, int ms);
/* sends close_notify (and waits for the other's within ms when wait): 1/0 */
int sl_tt_shutdown(sl_tt_peer_t *p, int wait, int ms);

/* the negotiated ALPN protocol ("" when none), in a static buffer */
const char *sl_tt_alpn(sl_tt_peer_t *p);
/* the subject CN of the other side's certificate, in a static buffer */
const char *sl_tt_peer_cn(sl_tt_peer_t *p);
/* the other side's certificate's public key type: EVP_PKEY_RSA/_EC, or 0 */
int sl_tt_peer_key_type(sl_tt_peer_t *p);

#endif /* SL_T_TLS_H */
