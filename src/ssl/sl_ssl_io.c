/*
 * sl_ssl_io.c -- a TLS connection: its SSL object, the non-blocking
 * handshake, recv/send and their chains with the return values of plain
 * sockets (DESIGN.md, "I/O return values"), the handler swap, shutdown,
 * and renegotiation control.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_ssl.h"

#include <pthread.h>

static void sl_ssl_handshake_handler(sl_event_t *ev);
static void sl_ssl_read_handler(sl_event_t *rev);
static void sl_ssl_write_handler(sl_event_t *wev);
static void sl_ssl_shutdown_handler(sl_event_t *ev);

static pthread_once_t  sl_ssl_bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD     *sl_ssl_bio_method;

const sl_os_io_t  sl_ssl_io = {
    sl_ssl_recv,
    sl_ssl_recv_chain,
    sl_ssl_write,
    sl_ssl_send_chain
};

static sl_ssl_t *
sl_ssl_of(sl_connection_t *c)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(c->ssl->connection),
                               sl_ssl_indexes()->ssl_index);
}

/* --- errors a peer can cause: logged at info, not crit ------------------- */

static const int  sl_ssl_peer_reasons[] = {
    SSL_R_BAD_CHANGE_CIPHER_SPEC,
    SSL_R_BAD_KEY_SHARE,
    SSL_R_BAD_EXTENSION,
    SSL_R_BAD_LENGTH,
    SSL_R_BAD_PACKET,
    SSL_R_BAD_PACKET_LENGTH,
    SSL_R_BAD_RECORD_TYPE,
    SSL_R_BAD_SIGNATURE,
    SSL_R_BAD_LEGACY_VERSION,
    SSL_R_BLOCK_CIPHER_PAD_IS_WRONG,
    SSL_R_CALLBACK_FAILED,      /* the ClientHello's server_name refused */
    SSL_R_CCS_RECEIVED_EARLY,
    SSL_R_CERTIFICATE_VERIFY_FAILED,
    SSL_R_DECRYPTION_FAILED,
    SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
    SSL_R_DIGEST_CHECK_FAILED,
    SSL_R_ERROR_IN_RECEIVED_CIPHER_LIST,
    SSL_R_EXCESSIVE_MESSAGE_SIZE,
    SSL_R_HTTPS_PROXY_REQUEST,
    SSL_R_HTTP_REQUEST,
    SSL_R_INAPPROPRIATE_FALLBACK,
    SSL_R_INVALID_CCS_MESSAGE,
    SSL_R_LENGTH_MISMATCH,
    SSL_R_LENGTH_TOO_SHORT,
    SSL_R_MISSING_SIGALGS_EXTENSION,
    SSL_R_NO_APPLICATION_PROTOCOL,
    SSL_R_NO_CIPHERS_SPECIFIED,
    SSL_R_NO_COMPRESSION_SPECIFIED,
    SSL_R_NO_PROTOCOLS_AVAILABLE,
    SSL_R_NO_RENEGOTIATION,
    SSL_R_NO_SHARED_CIPHER,
    SSL_R_NO_SHARED_GROUPS,
    SSL_R_NO_SUITABLE_KEY_SHARE,
    SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM,
    SSL_R_PACKET_LENGTH_TOO_LONG,
    SSL_R_PARSE_TLSEXT,
    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE,
    SSL_R_RECORD_LENGTH_MISMATCH,
    SSL_R_RENEGOTIATION_MISMATCH,
    SSL_R_SCSV_RECEIVED_WHEN_RENEGOTIATING,
    SSL_R_TOO_MANY_WARN_ALERTS,
    SSL_R_UNEXPECTED_EOF_WHILE_READING,
    SSL_R_UNEXPECTED_MESSAGE,
    SSL_R_UNEXPECTED_RECORD,
    SSL_R_UNKNOWN_ALERT_TYPE,
    SSL_R_UNKNOWN_PROTOCOL,
    SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED,
    SSL_R_UNSUPPORTED_PROTOCOL,
    SSL_R_VERSION_TOO_LOW,
    SSL_R_WRONG_VERSION_NUMBER,
    0
};

static sl_uint_t
sl_ssl_peer_error(unsigned long e)
{
    int  reason, i;

    if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
        return 0;
    }

    reason = ERR_GET_REASON(e);

    /* an alert the peer sent */
    if (reason >= SSL_AD_REASON_OFFSET) {
        return 1;
    }

    for (i = 0; sl_ssl_peer_reasons[i] != 0; i++) {
        if (reason == sl_ssl_peer_reasons[i]) {
            return 1;
        }
    }

    return 0;
}

static void
sl_ssl_connection_error(sl_connection_t *c, int sslerr, sl_err_t err,
    const char *text)
{
    sl_uint_t  level = SL_LOG_CRIT;

    /* what the peer or the network did: not our fault */
    if ((sslerr == SSL_ERROR_SYSCALL && sl_connection_peer_errno(err))
        || (sslerr == SSL_ERROR_SSL && sl_ssl_peer_error(ERR_peek_error())))
    {
        level = SL_LOG_INFO;
    }

    sl_ssl_error(level, c->log, err, "%s", text);
}

/* --- the socket BIO ------------------------------------------------------ */

/*
 * OpenSSL's socket BIO writes with write(), which raises SIGPIPE when the
 * peer is gone; ours sends with MSG_NOSIGNAL (DESIGN.md: sluice never
 * raises SIGPIPE, so that an embedding program need not ignore it).
 */
static int
sl_ssl_bio_write(BIO *b, const char *data, int len)
{
    ssize_t  n;
    int      fd = (int) (intptr_t) BIO_get_data(b);

    BIO_clear_retry_flags(b);

    do {
#if (SL_HAVE_MSG_NOSIGNAL)
        n = send(fd, data, (size_t) len, MSG_NOSIGNAL);
#else
        n = send(fd, data, (size_t) len, 0);
#endif
    } while (n == -1 && errno == EINTR);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        BIO_set_retry_write(b);
    }

    return (int) n;
}

static int
sl_ssl_bio_read(BIO *b, char *buf, int len)
{
    ssize_t  n;
    int      fd = (int) (intptr_t) BIO_get_data(b);

    BIO_clear_retry_flags(b);

    do {
        n = recv(fd, buf, (size_t) len, 0);
    } while (n == -1 && errno == EINTR);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        BIO_set_retry_read(b);
    }

    return (int) n;
}

static int
sl_ssl_bio_puts(BIO *b, const char *str)
{
    return sl_ssl_bio_write(b, str, (int) strlen(str));
}

static long
sl_ssl_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void) b;
    (void) num;
    (void) ptr;

    /* the socket buffers nothing of its own */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
sl_ssl_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void
sl_ssl_bio_init_once(void)
{
    BIO_METHOD  *m;

    m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
                     | BIO_TYPE_DESCRIPTOR, "sluice socket");
    if (m == NULL
        || !BIO_meth_set_write(m, sl_ssl_bio_write)
        || !BIO_meth_set_read(m, sl_ssl_bio_read)
        || !BIO_meth_set_puts(m, sl_ssl_bio_puts)
        || !BIO_meth_set_ctrl(m, sl_ssl_bio_ctrl)
        || !BIO_meth_set_create(m, sl_ssl_bio_create))
    {
        BIO_meth_free(m);
        return;
    }

    sl_ssl_bio_method = m;
}

static sl_int_t
sl_ssl_set_bio(sl_connection_t *c, SSL *s)
{
    BIO  *b;

    (void) pthread_once(&sl_ssl_bio_once, sl_ssl_bio_init_once);

    b = sl_ssl_bio_method ? BIO_new(sl_ssl_bio_method) : NULL;
    if (b == NULL) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "BIO_new() failed");
        return SL_ERROR;
    }

    BIO_set_data(b, (void *) (intptr_t) c->fd);
    SSL_set_bio(s, b, b);
    return SL_OK;
}

/*
 * The read side of a connection whose first bytes were read before its
 * handshake (sl_ssl_preread()): a BIO of its own, which gives those bytes
 * and then reads the socket as the one above does. Its data is a
 * sl_ssl_preread_bio_t in the connection's pool, which outlives the SSL.
 */
typedef struct {
    sl_buf_t  *buf;
    int        fd;
} sl_ssl_preread_bio_t;

static pthread_once_t  sl_ssl_preread_bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD     *sl_ssl_preread_bio_method;

static int
sl_ssl_preread_bio_read(BIO *b, char *buf, int len)
{
    sl_ssl_preread_bio_t  *pb = BIO_get_data(b);
    sl_buf_t              *pre = pb->buf;
    size_t                 n;
    ssize_t                got;

    BIO_clear_retry_flags(b);

    if (len > 0 && pre->pos < pre->last) {
        n = sl_min((size_t) len, (size_t) (pre->last - pre->pos));
        sl_memcpy(buf, pre->pos, n);
        pre->pos += n;
        return (int) n;
    }

    do {
        got = recv(pb->fd, buf, (size_t) len, 0);
    } while (got == -1 && errno == EINTR);

    if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        BIO_set_retry_read(b);
    }

    return (int) got;
}

static void
sl_ssl_preread_bio_init_once(void)
{
    BIO_METHOD  *m;

    m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                     "sluice socket after preread");
    if (m == NULL
        || !BIO_meth_set_read(m, sl_ssl_preread_bio_read)
        || !BIO_meth_set_ctrl(m, sl_ssl_bio_ctrl)
        || !BIO_meth_set_create(m, sl_ssl_bio_create))
    {
        BIO_meth_free(m);
        return;
    }

    sl_ssl_preread_bio_method = m;
}

sl_int_t
sl_ssl_preread(sl_connection_t *c, sl_buf_t *b)
{
    sl_ssl_preread_bio_t  *pb;
    BIO                   *bio;

    (void) pthread_once(&sl_ssl_preread_bio_once,
                        sl_ssl_preread_bio_init_once);

    pb = sl_palloc(c->pool, sizeof(sl_ssl_preread_bio_t));
    if (pb == NULL) {
        return SL_ERROR;
    }

    bio = sl_ssl_preread_bio_method ? BIO_new(sl_ssl_preread_bio_method)
                                    : NULL;
    if (bio == NULL) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "BIO_new() failed");
        return SL_ERROR;
    }

    pb->buf = b;
    pb->fd = c->fd;
    BIO_set_data(bio, pb);

    /* the socket BIO stays the write side; its read reference goes */
    SSL_set0_rbio(c->ssl->connection, bio);
    return SL_OK;
}

/* --- the connection ------------------------------------------------------ */

static void
sl_ssl_cleanup_connection(void *data)
{
    sl_ssl_connection_t  *sc = data;

    if (sc->connection != NULL) {
        /*
         * A connection freed with its pool, not shut down (a worker cut
         * by worker_shutdown_timeout, a loop torn down), was cut, not
         * judged: with no shutdown state SSL_free() would count its
         * session bad and take it out of every cache, the shared zone
         * too. Sessions OpenSSL finds bad it drops on its own.
         */
        SSL_set_quiet_shutdown(sc->connection, 1);
        SSL_set_shutdown(sc->connection, SSL_SENT_SHUTDOWN
                                         | SSL_RECEIVED_SHUTDOWN);
        SSL_free(sc->connection);
        sc->connection = NULL;
    }
}

sl_int_t
sl_ssl_create_connection(sl_ssl_t *ssl, sl_connection_t *c, sl_pool_t *pool,
    sl_uint_t flags)
{
    sl_ssl_connection_t  *sc;
    sl_pool_cleanup_t    *cln;

    if (c->pool != NULL) {
        pool = c->pool;
    }

    sc = sl_pcalloc(pool, sizeof(sl_ssl_connection_t));
    cln = sl_pool_cleanup_add(pool, 0);
    if (sc == NULL || cln == NULL) {
        return SL_ERROR;
    }

    sc->pool = pool;
    sc->buffer = (flags & SL_SSL_BUFFER) ? 1 : 0;
    sc->client = (flags & SL_SSL_CLIENT) ? 1 : 0;
    sc->buffer_size = ssl->buffer_size ? ssl->buffer_size : SL_SSL_BUFSIZE;
    sc->session_ctx = ssl->ctx;

    ERR_clear_error();

    sc->connection = SSL_new(ssl->ctx);
    if (sc->connection == NULL) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_new() failed");
        return SL_ERROR;
    }

    cln->handler = sl_ssl_cleanup_connection;
    cln->data = sc;

    if (sl_ssl_set_bio(c, sc->connection) != SL_OK) {
        return SL_ERROR;
    }

    if (sc->client) {
        SSL_set_connect_state(sc->connection);

    } else {
        SSL_set_accept_state(sc->connection);
        sl_ssl_allow_renegotiation(sc->connection, ssl->renegotiation);
    }

    if (SSL_set_ex_data(sc->connection, sl_ssl_indexes()->connection_index,
                        c) == 0)
    {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_ex_data() failed");
        return SL_ERROR;
    }

    c->ssl = sc;
    return SL_OK;
}

sl_int_t
sl_ssl_set_session(sl_connection_t *c, SSL_SESSION *session)
{
    if (session == NULL) {
        return SL_OK;
    }

    if (SSL_set_session(c->ssl->connection, session) != 1) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_session() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

SSL_SESSION *
sl_ssl_get_session(sl_connection_t *c)
{
    return SSL_get1_session(c->ssl->connection);
}

sl_int_t
sl_ssl_set_alpn(sl_connection_t *c, sl_str_t *protocols, sl_uint_t n)
{
    sl_uint_t  i;
    size_t     len = 0;
    u_char    *wire, *p;

    for (i = 0; i < n; i++) {
        if (protocols[i].len > 0 && protocols[i].len <= 255) {
            len += 1 + protocols[i].len;
        }
    }

    if (len == 0) {
        return SL_OK;
    }

    wire = sl_pnalloc(c->ssl->pool, len);
    if (wire == NULL) {
        return SL_ERROR;
    }

    p = wire;

    for (i = 0; i < n; i++) {
        if (protocols[i].len > 0 && protocols[i].len <= 255) {
            *p++ = (u_char) protocols[i].len;
            p = sl_cpymem(p, protocols[i].data, protocols[i].len);
        }
    }

    if (SSL_set_alpn_protos(c->ssl->connection, wire, (unsigned int) len)
        != 0)
    {
        sl_ssl_error(SL_LOG_ERR, c->log, 0, "SSL_set_alpn_protos() failed");
        return SL_ERROR;
    }

    return SL_OK;
}

/* --- renegotiation control ----------------------------------------------- */

void
sl_ssl_allow_renegotiation(SSL *ssl, sl_uint_t allow)
{
    if (allow) {
        /* secure renegotiation only (RFC 5746); legacy stays refused */
        SSL_clear_options(ssl, SSL_OP_NO_RENEGOTIATION);
        SSL_set_options(ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);

    } else {
        SSL_clear_options(ssl, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
        SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
    }
}

void
sl_ssl_info_callback(const SSL *s, int where, int ret)
{
    sl_ssl_connection_t  *sc;
    sl_connection_t      *c;
    sl_msec_t             now;

    c = SSL_get_ex_data(s, sl_ssl_indexes()->connection_index);
    if (c == NULL || c->ssl == NULL || c->ssl->client) {
        return;
    }

    sc = c->ssl;

    /*
     * A refused ClientHello is answered with a no_renegotiation alert
     * and no handshake starts: remember it, so that the connection fails.
     */
    if ((where & SSL_CB_WRITE_ALERT)
        && (ret & 0xff) == SSL_AD_NO_RENEGOTIATION)
    {
        sc->renegotiation = 1;
        return;
    }

    if (!(where & SSL_CB_HANDSHAKE_START) || !sc->handshaked
        || SSL_version(s) == TLS1_3_VERSION)
    {
        return;
    }

    /* a handshake on an established connection: a renegotiation */
    sc->renegotiation = 1;

    now = sl_current_msec(c->read->loop);

    if (sc->handshakes == 0
        || (sl_msec_int_t) (now - sc->renegotiation_window)
           >= SL_SSL_RENEGOTIATION_WINDOW)
    {
        sc->renegotiation_window = now;
        sc->handshakes = 0;
    }

    if (++sc->handshakes > SL_SSL_RENEGOTIATIONS) {
        sc->renegotiation_flood = 1;
    }
}

/* SL_OK, or SL_ERROR when a renegotiation must end the connection */
static sl_int_t
sl_ssl_check_renegotiation(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;

    if (!sc->renegotiation) {
        return SL_OK;
    }

    if (!sl_ssl_of(c)->renegotiation) {
        sl_log_error(SL_LOG_NOTICE, c->log, 0, "SSL renegotiation disabled");

    } else if (sc->renegotiation_flood) {
        sl_log_error(SL_LOG_NOTICE, c->log, 0, "SSL renegotiation flood: "
                     "more than %d in %d ms", SL_SSL_RENEGOTIATIONS,
                     SL_SSL_RENEGOTIATION_WINDOW);

    } else {
        sc->renegotiation = 0;
        return SL_OK;
    }

    ERR_clear_error();
    sc->no_wait_shutdown = 1;
    sc->no_send_shutdown = 1;
    return SL_ERROR;
}

/* --- the handshake ------------------------------------------------------- */

static void
sl_ssl_set_io(sl_connection_t *c)
{
    c->recv = sl_ssl_io.recv;
    c->send = sl_ssl_io.send;
    c->recv_chain = sl_ssl_io.recv_chain;
    c->send_chain = sl_ssl_io.send_chain;
}

static sl_int_t
sl_ssl_handshake_again(sl_connection_t *c, int sslerr)
{
    if (sslerr == SSL_ERROR_WANT_READ) {
        c->read->ready = 0;
    } else {
        c->write->ready = 0;
    }

    c->read->handler = sl_ssl_handshake_handler;
    c->write->handler = sl_ssl_handshake_handler;

    /* the direction not waited for leaves a level-triggered back end */
    if (sl_handle_read_event(c->read, 0) != SL_OK
        || sl_handle_write_event(c->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_AGAIN;
}

sl_int_t
sl_ssl_handshake(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;
    unsigned long         e;
    sl_err_t              err;
    int                   n, sslerr;

    sl_ssl_clear_error(c->log);

    n = SSL_do_handshake(sc->connection);

    if (n == 1) {
        sc->handshaked = 1;
        sl_ssl_set_io(c);

        /*
         * The records after the handshake's last one may already be in
         * the socket, and an edge-triggered back end said so already: the
         * caller reads first (at worst it gets SL_AGAIN).
         */
        c->read->ready = 1;
        return SL_OK;
    }

    sslerr = SSL_get_error(sc->connection, n);
    err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;

    if (sslerr == SSL_ERROR_WANT_READ || sslerr == SSL_ERROR_WANT_WRITE) {
        return sl_ssl_handshake_again(c, sslerr);
    }

    sc->no_wait_shutdown = 1;
    sc->no_send_shutdown = 1;
    c->read->eof = 1;

    e = ERR_peek_error();

    if (sslerr == SSL_ERROR_ZERO_RETURN
        || (sslerr == SSL_ERROR_SYSCALL && err == 0 && e == 0)
        || (ERR_GET_LIB(e) == ERR_LIB_SSL
            && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
    {
        ERR_clear_error();
        sl_log_error(SL_LOG_INFO, c->log, err,
                     "peer closed connection in SSL handshake");
        return SL_ERROR;
    }

    c->read->error = 1;

    if (sc->handshake_rejected) {
        /* ssl_reject_handshake: the server's choice, not a failure */
        ERR_clear_error();
        sl_log_error(SL_LOG_INFO, c->log, 0, "handshake rejected");
        return SL_ERROR;
    }

    sl_ssl_connection_error(c, sslerr, err, "SSL_do_handshake() failed");
    return SL_ERROR;
}

static void
sl_ssl_handshake_handler(sl_event_t *ev)
{
    sl_connection_t  *c = ev->data;

    if (ev->timedout) {
        /* the handler sees handshaked 0 and closes */
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        c->ssl->handler(c);
        return;
    }

    if (sl_ssl_handshake(c) == SL_AGAIN) {
        return;
    }

    c->ssl->handler(c);
}

/* --- the handler swap ---------------------------------------------------- */

/*
 * A read stalled on writing: the write event retries the read. A timer
 * on the write event is the protocol's (its handler set it): the timeout
 * goes to that handler, on that event, which takes timedout as always; run
 * as a retry of the read it would be lost, and left set it would be seen
 * later, by a handler of a live connection. The swap stays: the read still
 * waits for the socket.
 */
static void
sl_ssl_write_handler(sl_event_t *wev)
{
    sl_connection_t  *c = wev->data;

    if (wev->timedout) {
        c->ssl->saved_write_handler(wev);
        return;
    }

    c->read->ready = 1;
    c->read->handler(c->read);
}

/* a write stalled on reading: the read event retries the write */
static void
sl_ssl_read_handler(sl_event_t *rev)
{
    sl_connection_t  *c = rev->data;

    if (rev->timedout) {
        /* the protocol's timer, as in sl_ssl_write_handler() */
        c->ssl->saved_read_handler(rev);
        return;
    }

    c->write->ready = 1;
    c->write->handler(c->write);
}

/* the read no longer needs to write: the protocol's write handler back */
static sl_int_t
sl_ssl_restore_write(sl_connection_t *c)
{
    if (c->ssl->saved_write_handler == NULL) {
        return SL_OK;
    }

    c->write->handler = c->ssl->saved_write_handler;
    c->ssl->saved_write_handler = NULL;
    c->write->ready = 1;

    if (sl_handle_write_event(c->write, 0) != SL_OK) {
        return SL_ERROR;
    }

    sl_post_event(c->write, &c->write->loop->posted_events);
    return SL_OK;
}

static sl_int_t
sl_ssl_restore_read(sl_connection_t *c)
{
    if (c->ssl->saved_read_handler == NULL) {
        return SL_OK;
    }

    c->read->handler = c->ssl->saved_read_handler;
    c->ssl->saved_read_handler = NULL;
    c->read->ready = 1;

    if (sl_handle_read_event(c->read, 0) != SL_OK) {
        return SL_ERROR;
    }

    sl_post_event(c->read, &c->read->loop->posted_events);
    return SL_OK;
}

/* --- reading ------------------------------------------------------------- */

/* SL_OK (n > 0), SL_AGAIN, SL_DONE (eof) or SL_ERROR, for SSL_read's n */
static sl_int_t
sl_ssl_handle_recv(sl_connection_t *c, int n)
{
    sl_ssl_connection_t  *sc = c->ssl;
    unsigned long         e;
    sl_err_t              err;
    int                   sslerr;

    if (sl_ssl_check_renegotiation(c) != SL_OK) {
        sc->last = SSL_ERROR_SSL;
        return SL_ERROR;
    }

    if (n > 0) {
        return sl_ssl_restore_write(c) == SL_OK ? SL_OK : SL_ERROR;
    }

    sslerr = SSL_get_error(sc->connection, n);
    err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;
    sc->last = sslerr;

    if (sslerr == SSL_ERROR_WANT_READ) {
        c->read->ready = 0;
        return sl_ssl_restore_write(c) == SL_OK ? SL_AGAIN : SL_ERROR;
    }

    if (sslerr == SSL_ERROR_WANT_WRITE) {
        /*
         * The peer started a handshake (a renegotiation, a KeyUpdate that
         * asks for one back) and our answer does not fit in the socket:
         * the write event finishes it by calling the read handler.
         */
        c->read->ready = 0;
        c->write->ready = 0;

        if (sl_handle_write_event(c->write, 0) != SL_OK) {
            return SL_ERROR;
        }

        if (sc->saved_write_handler == NULL) {
            sc->saved_write_handler = c->write->handler;
            c->write->handler = sl_ssl_write_handler;
        }

        return SL_AGAIN;
    }

    sc->no_wait_shutdown = 1;
    sc->no_send_shutdown = 1;

    if (sslerr == SSL_ERROR_ZERO_RETURN) {
        /* close_notify: the orderly end */
        ERR_clear_error();
        return SL_DONE;
    }

    sc->last = SSL_ERROR_SSL;

    e = ERR_peek_error();

    if ((sslerr == SSL_ERROR_SYSCALL && err == 0 && e == 0)
        || (sslerr == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL
            && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
    {
        /* the socket's EOF without a close_notify: the stream may be cut */
        ERR_clear_error();
        sc->last = SSL_ERROR_ZERO_RETURN;
        sc->truncated = 1;
        sl_log_error(SL_LOG_INFO, c->log, 0, "peer closed connection "
                     "without sending close_notify, the data may be "
                     "truncated");
        return SL_DONE;
    }

    sl_ssl_connection_error(c, sslerr, err, "SSL_read() failed");
    return SL_ERROR;
}

/*
 * Decrypted bytes (or read-ahead records) left inside OpenSSL when the
 * caller's buffer filled: no socket event will tell of them, so the read
 * event is posted for the next iteration.
 */
static void
sl_ssl_post_pending(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;

    sc->read_pending = SSL_pending(sc->connection) > 0
                       || SSL_has_pending(sc->connection);

    if (sc->read_pending && !c->read->posted) {
        sl_post_event(c->read, &c->read->loop->posted_next_events);
    }
}

ssize_t
sl_ssl_recv(sl_connection_t *c, u_char *buf, size_t size)
{
    sl_ssl_connection_t  *sc = c->ssl;
    ssize_t               bytes = 0;
    sl_int_t              rc;
    int                   n;

    if (sc->last == SSL_ERROR_ZERO_RETURN || c->read->eof) {
        c->read->ready = 0;
        c->read->eof = 1;
        return 0;
    }

    if (sc->last == SSL_ERROR_SSL || sc->last == SSL_ERROR_SYSCALL
        || c->read->error)
    {
        c->read->ready = 0;
        c->read->error = 1;
        return SL_ERROR;
    }

    sl_ssl_clear_error(c->log);

    for ( ;; ) {
        n = SSL_read(sc->connection, buf, size > INT_MAX ? INT_MAX
                                                         : (int) size);
        rc = sl_ssl_handle_recv(c, n);

        if (rc == SL_OK) {
            bytes += n;
            size -= (size_t) n;
            buf += n;

            if (size == 0) {
                c->read->ready = 1;
                sl_ssl_post_pending(c);
                return bytes;
            }

            continue;
        }

        if (bytes > 0) {
            if (rc != SL_AGAIN) {
                /* the eof or error is seen at the next call */
                c->read->ready = 1;
            }
            return bytes;
        }

        switch (rc) {

        case SL_DONE:
            c->read->ready = 0;
            c->read->eof = 1;
            return 0;

        case SL_ERROR:
            sc->last = SSL_ERROR_SSL;
            c->read->ready = 0;
            c->read->error = 1;
            return SL_ERROR;

        default: /* SL_AGAIN */
            return SL_AGAIN;
        }
    }
}

ssize_t
sl_ssl_recv_chain(sl_connection_t *c, sl_chain_t *cl, off_t limit)
{
    ssize_t   n, bytes = 0;
    size_t    size;
    sl_buf_t  *b;

    for ( ; cl != NULL; cl = cl->next) {
        b = cl->buf;

        while (b->last < b->end) {
            size = (size_t) (b->end - b->last);

            if (limit > 0) {
                if (bytes >= limit) {
                    return bytes;
                }
                if ((off_t) size > limit - bytes) {
                    size = (size_t) (limit - bytes);
                }
            }

            n = sl_ssl_recv(c, b->last, size);

            if (n > 0) {
                b->last += n;
                bytes += n;

                if (!c->read->ready) {
                    return bytes;
                }
                continue;
            }

            return bytes > 0 ? bytes : n;
        }
    }

    return bytes;
}

/* --- writing ------------------------------------------------------------- */

ssize_t
sl_ssl_write(sl_connection_t *c, u_char *data, size_t size)
{
    sl_ssl_connection_t  *sc = c->ssl;
    sl_err_t              err;
    int                   n, sslerr;

    if (size == 0) {
        return 0;
    }

    if (c->write->error) {
        return SL_ERROR;
    }

    if (sc->pending_write != 0) {
        /*
         * After SL_AGAIN OpenSSL holds a record made of the first
         * pending_write bytes: they must be offered again, and only they
         * go now. Fewer would be a caller's bug that corrupts the stream.
         */
        if (size < sc->pending_write) {
            sl_log_error(SL_LOG_ALERT, c->log, 0, "SSL_write() retried with "
                         "%uz bytes after %uz were refused", size,
                         sc->pending_write);
            c->write->error = 1;
            return SL_ERROR;
        }

        size = sc->pending_write;
    }

    sl_ssl_clear_error(c->log);

    n = SSL_write(sc->connection, data, size > INT_MAX ? INT_MAX : (int) size);

    if (n > 0) {
        sc->pending_write = 0;
        c->sent += n;

        if (sl_ssl_restore_read(c) != SL_OK) {
            return SL_ERROR;
        }

        if (sl_ssl_check_renegotiation(c) != SL_OK) {
            c->write->error = 1;
            return SL_ERROR;
        }

        return n;
    }

    sslerr = SSL_get_error(sc->connection, n);
    err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;

    if (sslerr == SSL_ERROR_WANT_WRITE) {
        /* the same bytes must be offered again: sl_ssl_send_chain() */
        sc->pending_write = size;
        c->write->ready = 0;
        return sl_ssl_restore_read(c) == SL_OK ? SL_AGAIN : SL_ERROR;
    }

    if (sslerr == SSL_ERROR_WANT_READ) {
        /*
         * A handshake the peer started wants its answer before our data
         * goes: the read event retries the write through the write
         * handler.
         */
        sc->pending_write = size;
        c->write->ready = 0;
        c->read->ready = 0;

        if (sl_handle_read_event(c->read, 0) != SL_OK) {
            return SL_ERROR;
        }

        if (sc->saved_read_handler == NULL) {
            sc->saved_read_handler = c->read->handler;
            c->read->handler = sl_ssl_read_handler;
        }

        return SL_AGAIN;
    }

    sc->no_wait_shutdown = 1;
    sc->no_send_shutdown = 1;
    c->write->ready = 0;
    c->write->error = 1;

    sl_ssl_connection_error(c, sslerr, err, "SSL_write() failed");
    return SL_ERROR;
}

/* the first link with data, past empty and special buffers */
static sl_chain_t *
sl_ssl_skip_empty(sl_chain_t *in)
{
    while (in != NULL && in->buf->pos == in->buf->last) {
        in = in->next;
    }

    return in;
}

/* without SL_SSL_BUFFER: one SSL_write per buffer, at most a record each */
static sl_chain_t *
sl_ssl_send_chain_direct(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    sl_ssl_connection_t  *sc = c->ssl;
    off_t                 sent = 0;
    size_t                size;
    ssize_t               n;

    for ( ;; ) {
        in = sl_ssl_skip_empty(in);
        if (in == NULL || (limit > 0 && sent >= limit)) {
            return in;
        }

        size = (size_t) (in->buf->last - in->buf->pos);

        if (sc->pending_write != 0) {
            /* a write after WANT_*: the very same bytes */
            size = sl_min(size, sc->pending_write);

        } else {
            size = sl_min(size, sc->buffer_size);
            if (limit > 0 && (off_t) size > limit - sent) {
                size = (size_t) (limit - sent);
            }
        }

        n = sl_ssl_write(c, in->buf->pos, size);

        if (n == SL_ERROR) {
            return SL_CHAIN_ERROR;
        }

        if (n == SL_AGAIN) {
            return in;
        }

        in->buf->pos += n;
        sent += n;
    }
}

/*
 * Copies the chain's first bytes, up to a record, into the record buffer
 * without consuming them: they are consumed only once SSL_write took
 * them, so the caller never sees as sent what is still ours.
 */
static size_t
sl_ssl_stage(sl_buf_t *b, sl_chain_t *in, size_t max)
{
    size_t  size, staged = 0;

    b->pos = b->start;
    b->last = b->start;

    for ( ; in != NULL && staged < max; in = in->next) {
        size = (size_t) (in->buf->last - in->buf->pos);
        size = sl_min(size, max - staged);

        b->last = sl_cpymem(b->last, in->buf->pos, size);
        staged += size;
    }

    return staged;
}

sl_chain_t *
sl_ssl_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    sl_ssl_connection_t  *sc = c->ssl;
    sl_buf_t             *b;
    off_t                 sent = 0;
    size_t                max;
    ssize_t               n;

    if (!sc->buffer) {
        return sl_ssl_send_chain_direct(c, in, limit);
    }

    if (sc->buf == NULL) {
        sc->buf = sl_create_temp_buf(sc->pool, sc->buffer_size);
        if (sc->buf == NULL) {
            return SL_CHAIN_ERROR;
        }
    }

    b = sc->buf;

    for ( ;; ) {
        in = sl_ssl_skip_empty(in);

        if (b->pos == b->last) {
            if (in == NULL || (limit > 0 && sent >= limit)) {
                return in;
            }

            max = sc->buffer_size;
            if (limit > 0 && (off_t) max > limit - sent) {
                max = (size_t) (limit - sent);
            }

            (void) sl_ssl_stage(b, in, max);
        }

        /*
         * b holds the chain's first bytes: staged now, or before an
         * SL_AGAIN, when the caller handed back the same chain.
         */
        n = sl_ssl_write(c, b->pos, (size_t) (b->last - b->pos));

        if (n == SL_ERROR) {
            return SL_CHAIN_ERROR;
        }

        if (n == SL_AGAIN) {
            return in;
        }

        b->pos = b->start;
        b->last = b->start;

        in = sl_chain_update_sent(in, n);
        sent += n;
    }
}

/* --- shutdown ------------------------------------------------------------ */

static void
sl_ssl_free_connection(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    if (sc->shutdown_without_free) {
        return;
    }

    SSL_free(sc->connection);
    sc->connection = NULL;
    c->ssl = NULL;

    c->recv = sl_os_io.recv;
    c->send = sl_os_io.send;
    c->recv_chain = sl_os_io.recv_chain;
    c->send_chain = sl_os_io.send_chain;
}

sl_int_t
sl_ssl_shutdown(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;
    sl_err_t              err;
    int                   n, sslerr, mode, tries;

    if (sc == NULL || sc->connection == NULL) {
        return SL_OK;
    }

    if (SSL_in_init(sc->connection)) {
        /* a shutdown in the middle of a handshake is an OpenSSL error */
        sl_ssl_free_connection(c);
        return SL_OK;
    }

    if (sc->pending_write != 0
        || (sc->buf != NULL && sc->buf->pos != sc->buf->last))
    {
        /* a record half sent: an alert cannot follow it cleanly */
        sc->no_send_shutdown = 1;
    }

    if (c->timedout || c->error || c->read->error || c->write->error
        || (sc->no_send_shutdown && sc->no_wait_shutdown))
    {
        mode = SSL_RECEIVED_SHUTDOWN | SSL_SENT_SHUTDOWN;
        SSL_set_quiet_shutdown(sc->connection, 1);

    } else {
        mode = SSL_get_shutdown(sc->connection);

        if (sc->no_wait_shutdown) {
            mode |= SSL_RECEIVED_SHUTDOWN;
        }

        if (sc->no_send_shutdown) {
            mode |= SSL_SENT_SHUTDOWN;
        }
    }

    SSL_set_shutdown(sc->connection, mode);

    for (tries = 0; tries < 2; tries++) {
        sl_ssl_clear_error(c->log);

        n = SSL_shutdown(sc->connection);

        if (n == 1) {
            sl_ssl_free_connection(c);
            return SL_OK;
        }

        if (n == 0) {
            /* ours went; the peer's is read by the second call */
            continue;
        }

        break;
    }

    sslerr = SSL_get_error(sc->connection, n);
    err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;

    if (n == 0 || sslerr == SSL_ERROR_WANT_READ
        || sslerr == SSL_ERROR_WANT_WRITE)
    {
        c->read->handler = sl_ssl_shutdown_handler;
        c->write->handler = sl_ssl_shutdown_handler;

        if (sslerr == SSL_ERROR_WANT_WRITE) {
            c->write->ready = 0;
        } else {
            c->read->ready = 0;
        }

        if (sl_handle_read_event(c->read, 0) != SL_OK
            || sl_handle_write_event(c->write, 0) != SL_OK)
        {
            sl_ssl_free_connection(c);
            return SL_ERROR;
        }

        sl_add_timer(c->read, SL_SSL_SHUTDOWN_TIMEOUT);
        return SL_AGAIN;
    }

    if (sslerr == SSL_ERROR_ZERO_RETURN
        || (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    {
        /* the peer is gone (or said goodbye first): nothing to wait for */
        ERR_clear_error();
        sl_ssl_free_connection(c);
        return SL_OK;
    }

    sl_ssl_connection_error(c, sslerr, err, "SSL_shutdown() failed");
    sl_ssl_free_connection(c);
    return SL_ERROR;
}

/*
 * proxy_half_close: our close_notify alone, the SSL object kept, so that
 * what the peer still sends is read as before (TLS lets one side end its
 * writing first). SL_OK: it went (or had), SL_AGAIN: it would block and
 * this is called again once the socket takes data, SL_ERROR (logged).
 */
sl_int_t
sl_ssl_close_notify(sl_connection_t *c)
{
    sl_ssl_connection_t  *sc = c->ssl;
    int                   n, sslerr;
    sl_err_t              err;

    if (sc == NULL || sc->connection == NULL
        || ((SSL_get_shutdown(sc->connection) & SSL_SENT_SHUTDOWN)
            && BIO_wpending(SSL_get_wbio(sc->connection)) == 0))
    {
        return SL_OK;
    }

    sl_ssl_clear_error(c->log);

    n = SSL_shutdown(sc->connection);
    if (n >= 0) {
        return SL_OK;           /* 0: sent, the peer's is still to come */
    }

    sslerr = SSL_get_error(sc->connection, n);

    if (sslerr == SSL_ERROR_WANT_WRITE || sslerr == SSL_ERROR_WANT_READ) {
        c->write->ready = 0;
        return SL_AGAIN;
    }

    err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;
    sl_ssl_connection_error(c, sslerr, err, "SSL_shutdown() failed");
    return SL_ERROR;
}

static void
sl_ssl_shutdown_handler(sl_event_t *ev)
{
    sl_connection_t    *c = ev->data;
    sl_ssl_handler_pt   handler;

    if (c->ssl == NULL) {
        /* done already: the other direction's event came late */
        return;
    }

    handler = c->ssl->handler;

    if (ev->timedout) {
        /* the close_notify did not go in time: give up on it quietly */
        c->ssl->no_send_shutdown = 1;
        c->ssl->no_wait_shutdown = 1;
    }

    if (sl_ssl_shutdown(c) == SL_AGAIN) {
        return;
    }

    if (handler != NULL) {
        handler(c);
    }
}

/* --- checks after the handshake ------------------------------------------ */

sl_int_t
sl_ssl_check_host(sl_connection_t *c, sl_str_t *name)
{
    X509    *cert;
    u_char  *host;
    int      rc;

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return SL_ERROR;
    }

    host = sl_alloc(name->len + 1, c->log);
    if (host == NULL) {
        X509_free(cert);
        return SL_ERROR;
    }

    sl_cpystrn(host, name->data, name->len + 1);

    rc = X509_check_ip_asc(cert, (char *) host, 0);
    if (rc != 1) {
        rc = X509_check_host(cert, (char *) host, name->len, 0, NULL);
    }

    sl_free(host);
    X509_free(cert);

    return rc == 1 ? SL_OK : SL_ERROR;
}

/* the failures optional_no_ca lets through: an unknown issuer */
static sl_uint_t
sl_ssl_verify_error_optional(long rc)
{
    return rc == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
           || rc == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
           || rc == X509_V_ERR_CERT_UNTRUSTED
           || rc == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

sl_int_t
sl_ssl_verify_result(sl_connection_t *c, sl_uint_t verify)
{
    X509  *cert;
    long   rc;

    if (verify == SL_SSL_VERIFY_OFF) {
        return SL_OK;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK
        && (verify != SL_SSL_VERIFY_OPTIONAL_NO_CA
            || !sl_ssl_verify_error_optional(rc)))
    {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client SSL certificate verify "
                     "error: (%l:%s)", rc, X509_verify_cert_error_string(rc));
        return SL_ERROR;
    }

    if (verify == SL_SSL_VERIFY_ON) {
        cert = SSL_get_peer_certificate(c->ssl->connection);
        if (cert == NULL) {
            sl_log_error(SL_LOG_INFO, c->log, 0,
                         "client sent no required SSL certificate");
            return SL_ERROR;
        }
        X509_free(cert);
    }

    return SL_OK;
}
