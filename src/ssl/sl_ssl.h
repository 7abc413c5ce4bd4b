/*
 * sl_ssl.h -- TLS through OpenSSL: contexts built from the configuration,
 * and the non-blocking I/O of a TLS connection.
 *
 * A server (or the proxy's client side) owns one sl_ssl_t: an SSL_CTX and
 * what was configured into it. A connection gets its SSL object with
 * sl_ssl_create_connection(), runs sl_ssl_handshake() until it returns
 * SL_OK, and from then on its I/O vector (recv, send, recv_chain,
 * send_chain) is the TLS one below, so protocol code reads and writes as
 * it does on a plain socket, with the same return values (DESIGN.md, "I/O
 * return values").
 *
 * The handler swap. SSL_read can need to write (the peer started a
 * renegotiation, or a TLS 1.3 KeyUpdate asks for one back while the socket
 * buffer is full) and SSL_write can need to read. When that happens the
 * other direction's event handler is saved in the connection's
 * sl_ssl_connection_t, replaced by the TLS one that retries the stalled
 * call, and its event armed; once the stalled call succeeds, the saved
 * handler is put back and its event posted, so the protocol above sees an
 * ordinary readiness event. A timer the protocol set on a swapped event
 * is still the protocol's: when it fires, the saved handler runs with the
 * event, timedout set, as on a plain connection (the handler clears it),
 * and the swap stays. The saved pointers are part of this header because
 * tests assert them.
 */
#ifndef SL_SSL_H
#define SL_SSL_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* sl_ssl_create() protocols: the bits of ssl_protocols */
#define SL_SSL_SSLv2    0x0002
#define SL_SSL_SSLv3    0x0004
#define SL_SSL_TLSv1    0x0008
#define SL_SSL_TLSv1_1  0x0010
#define SL_SSL_TLSv1_2  0x0020
#define SL_SSL_TLSv1_3  0x0040
#define SL_SSL_DEFAULT_PROTOCOLS  (SL_SSL_TLSv1_2 | SL_SSL_TLSv1_3)

/* the largest plaintext of one record: what send_chain coalesces up to */
#define SL_SSL_BUFSIZE  16384

/* ssl_verify_client */
#define SL_SSL_VERIFY_OFF             0
#define SL_SSL_VERIFY_ON              1
#define SL_SSL_VERIFY_OPTIONAL        2
#define SL_SSL_VERIFY_OPTIONAL_NO_CA  3

/* sl_ssl_create_connection() flags */
#define SL_SSL_CLIENT   0x01   /* the client side (the proxy's upstream) */
#define SL_SSL_BUFFER   0x02   /* coalesce send_chain into 16 KiB records */

/* ssl_session_cache: what sl_ssl_session_cache() is asked for */
#define SL_SSL_NO_SCACHE       -2   /* off: resumption refused */
#define SL_SSL_NONE_SCACHE     -3   /* none: claimed, nothing stored */
#define SL_SSL_NO_BUILTIN_SCACHE  -4
#define SL_SSL_DFLT_BUILTIN_SCACHE  -5  /* builtin without a size */

typedef struct {
    SSL_CTX         *ctx;
    sl_log_t        *log;
    size_t           buffer_size;   /* of the send_chain record buffer */
    /*
     * The ssl_certificate files loaded into ctx, in order: sl_str_t. The
     * session cache's context id is derived from them.
     */
    sl_array_t      *certificates;
    /*
     * ssl_renegotiation on: read by sl_ssl_create_connection(), so it may
     * be set any time before connections are made.
     */
    unsigned         renegotiation:1;
    unsigned         client:1;          /* built for the client side */
} sl_ssl_t;

typedef void (*sl_ssl_handler_pt)(sl_connection_t *c);

struct sl_ssl_connection_s {
    SSL                 *connection;
    SSL_CTX             *session_ctx;   /* where sessions are cached */

    sl_int_t             last;          /* the last SSL_get_error() */
    sl_buf_t            *buf;           /* send_chain's record buffer */
    size_t               buffer_size;

    /*
     * Called when a handshake or a shutdown that returned SL_AGAIN has
     * finished (c->ssl->handshaked tells which way a handshake went).
     */
    sl_ssl_handler_pt    handler;

    /* the handler swap, see above; NULL when nothing is swapped */
    sl_event_handler_pt  saved_read_handler;
    sl_event_handler_pt  saved_write_handler;

    /*
     * A write that failed with WANT_* must be repeated with the same
     * bytes: what it was, so that send_chain offers exactly them again.
     */
    size_t               pending_write;

    sl_uint_t            handshakes;    /* seen by the info callback */
    sl_msec_t            renegotiation_window;  /* flood control */

    unsigned             handshaked:1;
    unsigned             handshake_rejected:1;  /* ssl_reject_handshake */
    unsigned             renegotiation:1;   /* the peer is renegotiating */
    unsigned             buffer:1;          /* SL_SSL_BUFFER */
    unsigned             client:1;          /* SL_SSL_CLIENT */
    unsigned             no_wait_shutdown:1;
    unsigned             no_send_shutdown:1;
    unsigned             shutdown_without_free:1;
    unsigned             read_pending:1;    /* data left inside OpenSSL */

    /* added with the implementation */
    unsigned             truncated:1;   /* the peer's EOF came without
                                           close_notify */
    unsigned             renegotiation_flood:1;  /* too many, too fast */
    unsigned             sni_accepted:1;    /* the server is chosen */
    sl_pool_t           *pool;          /* where buf is allocated */
};

/* ssl_renegotiation on: at most this many renegotiations per window */
#define SL_SSL_RENEGOTIATIONS        3
#define SL_SSL_RENEGOTIATION_WINDOW  10000      /* ms */

/* how long sl_ssl_shutdown() waits for a close_notify to go out */
#define SL_SSL_SHUTDOWN_TIMEOUT      3000       /* ms */

/* --- the library --------------------------------------------------------- */

/* initialises OpenSSL once per process (idempotent, thread-safe) */
sl_int_t sl_ssl_init(sl_log_t *log);

/*
 * Logs at level, after the text of fmt, every error of OpenSSL's queue
 * ("(SSL: error:...)"), and empties the queue.
 */
void sl_ssl_error(sl_uint_t level, sl_log_t *log, sl_err_t err,
    const char *fmt, ...);
/* empties OpenSSL's error queue, logging what it held at debug */
void sl_ssl_clear_error(sl_log_t *log);
/*
 * Appends " (SSL: error:...)" for the queued errors within [p, last),
 * empties the queue; *first (when not NULL) gets the first error's code.
 */
u_char *sl_ssl_error_text(u_char *p, u_char *last, unsigned long *first);

/* --- contexts (called while the configuration is read) ------------------ */

/*
 * An SSL_CTX for protocols (SL_SSL_* bits), freed by a cleanup of
 * cf->pool. data is kept in the context's ex_data for the callbacks (the
 * server's configuration, for SNI). Client contexts: SL_SSL_CLIENT in
 * flags.
 */
sl_int_t sl_ssl_create(sl_conf_t *cf, sl_ssl_t *ssl, sl_uint_t protocols,
    sl_uint_t flags, void *data);
/*
 * Loads every certificate/key pair (arrays of sl_str_t, the same length),
 * keys decrypted with passwords (sl_str_t, tried in order; NULL: none).
 * An RSA and an ECDSA pair live side by side: OpenSSL picks the one the
 * client supports. Errors are config errors with OpenSSL's reason.
 */
sl_int_t sl_ssl_certificates(sl_conf_t *cf, sl_ssl_t *ssl,
    sl_array_t *certs, sl_array_t *keys, sl_array_t *passwords);
/* the passwords of ssl_password_file: one per line; a FIFO works */
sl_array_t *sl_ssl_read_password_file(sl_conf_t *cf, sl_str_t *file);
/*
 * A copy of passwords that lives as long as the configuration (wiped at
 * its end), for keys loaded per handshake. NULL for NULL, or no memory.
 */
sl_array_t *sl_ssl_preserve_passwords(sl_conf_t *cf, sl_array_t *passwords);
sl_int_t sl_ssl_ciphers(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *ciphers,
    sl_uint_t prefer_server_ciphers);
/* ssl_conf_command: an array of sl_keyval_t-like pairs (sl_str_t[2]) */
sl_int_t sl_ssl_conf_commands(sl_conf_t *cf, sl_ssl_t *ssl,
    sl_array_t *commands);
/*
 * For the setters of ssl_conf_command and proxy_ssl_conf_command: the
 * directive's two arguments appended to *commands, made on first use
 * (while it is SL_CONF_UNSET_PTR).
 */
sl_int_t sl_ssl_conf_command_add(sl_conf_t *cf, sl_array_t **commands);
/* the names of ssl_protocols and proxy_ssl_protocols, for their setter */
extern sl_conf_bitmask_t  sl_ssl_protocol_names[];
sl_int_t sl_ssl_ecdh_curve(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *name);
sl_int_t sl_ssl_dhparam(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *file);
/* ssl_client_certificate: CAs sent in the request and trusted */
sl_int_t sl_ssl_client_certificate(sl_conf_t *cf, sl_ssl_t *ssl,
    sl_str_t *cert, sl_int_t depth);
/* ssl_trusted_certificate / proxy_ssl_trusted_certificate: trusted only */
sl_int_t sl_ssl_trusted_certificate(sl_conf_t *cf, sl_ssl_t *ssl,
    sl_str_t *cert, sl_int_t depth);
sl_int_t sl_ssl_crl(sl_conf_t *cf, sl_ssl_t *ssl, sl_str_t *crl);
/*
 * ssl_session_cache (builtin: SL_SSL_* above or a number of sessions;
 * shm_zone: the shared cache's zone, or NULL) and ssl_session_timeout,
 * for a server context.
 */
sl_int_t sl_ssl_session_cache(sl_conf_t *cf, sl_ssl_t *ssl, ssize_t builtin,
    sl_shm_zone_t *shm_zone, time_t timeout);
/* ssl_session_tickets off / ssl_session_ticket_key files (48 or 80 bytes) */
sl_int_t sl_ssl_session_tickets(sl_conf_t *cf, sl_ssl_t *ssl,
    sl_uint_t enable, sl_array_t *key_files);
/* ssl_alpn: the protocols offered (server side: chosen in server order) */
sl_int_t sl_ssl_alpn(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *protocols);

/* --- connections --------------------------------------------------------- */

/* c->ssl for ctx, in c->pool (or pool when c has none) */
sl_int_t sl_ssl_create_connection(sl_ssl_t *ssl, sl_connection_t *c,
    sl_pool_t *pool, sl_uint_t flags);
/*
 * Bytes of the peer already read off the socket (a stream connection
 * passed on after its preread phase): the handshake reads them first,
 * then the socket. Before the first sl_ssl_handshake(); b stays the
 * caller's (in c->pool) and is consumed (b->pos moves).
 */
sl_int_t sl_ssl_preread(sl_connection_t *c, sl_buf_t *b);
/* a server-side SSL: client-initiated renegotiation allowed or refused */
void sl_ssl_allow_renegotiation(SSL *ssl, sl_uint_t allow);

/* --- the server a ClientHello names (sl_ssl_sni.c) ----------------------- */

/*
 * In a client hello callback: the host_name the ClientHello's server_name
 * extension carries, as sent (not NUL-ended; empty when there is none).
 * SL_ERROR when the extension is malformed: *ad is the alert to send.
 */
sl_int_t sl_ssl_client_hello_server_name(SSL *ssl, sl_str_t *name, int *ad);
/*
 * In a client hello callback: the handshake goes on with ctx (the context
 * of the server the name chose), all of it that is still undecided.
 */
sl_int_t sl_ssl_switch_ctx(sl_connection_t *c, SSL_CTX *ctx);

/*
 * A client connection offers these ALPN protocols, in order, instead of
 * its context's; empty ones and those over 255 bytes are left out (none
 * left: none offered). The list is built in the connection's pool.
 */
sl_int_t sl_ssl_set_alpn(sl_connection_t *c, sl_str_t *protocols,
    sl_uint_t n);

/* the client side: resume a session / keep the one just negotiated */
sl_int_t sl_ssl_set_session(sl_connection_t *c, SSL_SESSION *session);
SSL_SESSION *sl_ssl_get_session(sl_connection_t *c);  /* a reference */

/*
 * SL_OK: done, the I/O vector is TLS, and c->read->ready is set (records
 * may have come with the handshake's last one: read first). SL_AGAIN: the
 * connection's read and write handlers are the handshake's;
 * c->ssl->handler runs when it ends either way (handshaked says how).
 * SL_ERROR: failed, logged (at info for what a peer can cause). The
 * caller arms the handshake timeout; a read or write event that fires
 * timed out makes the handler run with handshaked 0.
 */
sl_int_t sl_ssl_handshake(sl_connection_t *c);

ssize_t sl_ssl_recv(sl_connection_t *c, u_char *buf, size_t size);
/*
 * After SL_AGAIN the next call must offer at least the same bytes (the
 * same data, the same or a larger size): OpenSSL has made a record of
 * them. It then writes exactly those (pending_write) and returns.
 */
ssize_t sl_ssl_write(sl_connection_t *c, u_char *data, size_t size);
ssize_t sl_ssl_recv_chain(sl_connection_t *c, sl_chain_t *cl, off_t limit);
sl_chain_t *sl_ssl_send_chain(sl_connection_t *c, sl_chain_t *in,
    off_t limit);
/* the TLS I/O vector the handshake installs */
extern const sl_os_io_t  sl_ssl_io;

/*
 * Sends close_notify when it makes sense (not after an error, a timeout,
 * or when no_send_shutdown), frees the SSL object. SL_OK: done, the
 * caller closes the socket. SL_AGAIN: the close_notify would block;
 * c->ssl->handler runs when it went, or when the timer set here ends.
 * SL_ERROR: SSL_shutdown() failed (logged); freed all the same.
 * Once freed, c->ssl is NULL and c's I/O vector the plain one. Without
 * no_wait_shutdown it also waits (under the same timer) for the peer's
 * close_notify.
 */
sl_int_t sl_ssl_shutdown(sl_connection_t *c);
/*
 * Our close_notify alone, reading goes on (a half-close): SL_OK, SL_AGAIN
 * (call again once writable; write->ready is cleared), SL_ERROR.
 */
sl_int_t sl_ssl_close_notify(sl_connection_t *c);

/* proxy_ssl_verify: the peer's certificate matches name (SAN / CN) */
sl_int_t sl_ssl_check_host(sl_connection_t *c, sl_str_t *name);

/*
 * After a server's handshake, ssl_verify_client's verdict (SL_SSL_VERIFY_*
 * in verify): SL_OK, or SL_ERROR logged at info as nginx does ("client SSL
 * certificate verify error: (N:reason)", "client sent no required SSL
 * certificate"). The chain itself was checked during the handshake
 * against ssl_client_certificate / ssl_trusted_certificate, with every
 * failure let through so that this can judge it.
 */
sl_int_t sl_ssl_verify_result(sl_connection_t *c, sl_uint_t verify);

/* the info callback every context gets (renegotiation control) */
void sl_ssl_info_callback(const SSL *s, int where, int ret);

/*
 * The values of the $ssl_* variables, allocated in pool; an empty string
 * when there is none. Each returns SL_OK or SL_ERROR (no memory).
 */
typedef sl_int_t (*sl_ssl_variable_pt)(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_protocol(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_cipher_name(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_session_id(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_session_reused(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_server_name(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_alpn_protocol(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_client_verify(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_subject_dn(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_issuer_dn(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);
sl_int_t sl_ssl_get_certificate(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);       /* PEM, each line after the first tab-indented */
sl_int_t sl_ssl_get_fingerprint(sl_connection_t *c, sl_pool_t *pool,
    sl_str_t *s);       /* SHA1, lowercase hex */

/* the index of the sl_connection_t in SSL ex_data, of data in SSL_CTX */
typedef struct {
    int   connection_index;
    int   ctx_index;       /* sl_ssl_create()'s data */
    int   ssl_index;       /* the sl_ssl_t of an SSL_CTX */
} sl_ssl_indexes_t;
const sl_ssl_indexes_t *sl_ssl_indexes(void);

#endif /* SL_SSL_H */
