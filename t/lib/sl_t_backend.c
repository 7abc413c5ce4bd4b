/*
 * sl_t_backend.c -- test backends: see sl_t_backend.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_t_backend.h"
#include "sl_t_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define SL_TB_MAX    1100       /* connections a backend serves at once */
#define SL_TB_BUF    65536

#define sl_tb_fail(file, line, ...)                                           \
    ck_abort_msg("%s:%d: %s", file, line, sl_t_printf(__VA_ARGS__))

typedef struct {
    int             fd;
    size_t          got;        /* bytes received */
    size_t          sent;       /* SL_TB_SEND: pattern bytes sent */
    unsigned char  *out;        /* to send, SL_TB_BUF at most */
    size_t          out_pos;
    size_t          out_len;
    int             eof;        /* the peer's FIN came */
    int             shut;       /* our FIN went */
} sl_tb_conn_t;

typedef struct {
    sl_t_backend_t      *b;
    sl_t_backend_mode_e  mode;
    sl_tb_conn_t         conns[SL_TB_MAX];
    int                  n;
} sl_tb_state_t;

unsigned char
sl_t_pattern(size_t off)
{
    uint32_t  x = (uint32_t) off * 2654435761u;

    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return (unsigned char) x;
}

/* --- the child ----------------------------------------------------------- */

static void
sl_tb_record(sl_tb_state_t *st, sl_tb_conn_t *c, const char *how)
{
    char  line[64];
    int   fd, n;

    n = snprintf(line, sizeof(line), "%s %zu %s\n", st->b->id, c->got, how);
    fd = open(st->b->record, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        (void) write(fd, line, (size_t) n);
        close(fd);
    }
}

static void
sl_tb_close(sl_tb_state_t *st, int i, const char *how, int reset)
{
    sl_tb_conn_t   *c = &st->conns[i];
    struct linger   l = { 1, 0 };

    sl_tb_record(st, c, how);

    if (reset) {
        (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }

    close(c->fd);
    free(c->out);
    st->conns[i] = st->conns[--st->n];
}

static void
sl_tb_queue(sl_tb_conn_t *c, const void *data, size_t len)
{
    if (c->out_len + len > SL_TB_BUF) {
        len = SL_TB_BUF - c->out_len;
    }

    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

static void
sl_tb_accept(sl_tb_state_t *st)
{
    sl_tb_conn_t  *c;
    int            fd;

    fd = accept4(st->b->fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
        return;
    }

    if (st->n == SL_TB_MAX) {
        close(fd);
        return;
    }

    c = &st->conns[st->n++];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->out = malloc(SL_TB_BUF);
    if (c->out == NULL) {
        _exit(3);
    }

    sl_tb_queue(c, st->b->id, strlen(st->b->id));
    sl_tb_queue(c, "\n", 1);

    if (st->mode == SL_TB_FIN) {
        (void) send(fd, c->out, c->out_len, MSG_NOSIGNAL);
        c->out_len = 0;
        (void) shutdown(fd, SHUT_WR);
        c->shut = 1;
    }
}

/* fills the out buffer of SL_TB_SEND with the next bytes of the pattern */
static void
sl_tb_fill_send(sl_tb_state_t *st, sl_tb_conn_t *c)
{
    while (c->sent < st->b->size && c->out_len < SL_TB_BUF) {
        c->out[c->out_len++] = sl_t_pattern(c->sent++);
    }
}

/* sends what is queued; 0 when the connection ended */
static int
sl_tb_flush(sl_tb_state_t *st, int i)
{
    sl_tb_conn_t  *c = &st->conns[i];
    ssize_t        n;

    if (st->mode == SL_TB_SEND) {
        sl_tb_fill_send(st, c);
    }

    while (c->out_pos < c->out_len) {
        n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                return 1;
            }
            sl_tb_close(st, i, "rst", 0);
            return 0;
        }

        c->out_pos += (size_t) n;

        if (c->out_pos == c->out_len) {
            c->out_pos = c->out_len = 0;
            if (st->mode == SL_TB_SEND) {
                sl_tb_fill_send(st, c);
            }
        }
    }

    if (!c->shut && (c->eof || (st->mode == SL_TB_SEND
                                && c->sent == st->b->size)))
    {
        (void) shutdown(c->fd, SHUT_WR);
        c->shut = 1;
    }

    if (c->shut && c->eof) {
        sl_tb_close(st, i, "fin", 0);
        return 0;
    }

    return 1;
}

static int
sl_tb_read(sl_tb_state_t *st, int i)
{
    sl_tb_conn_t   *c = &st->conns[i];
    unsigned char   buf[SL_TB_BUF];
    char            line[32];
    ssize_t         n;
    size_t          room;

    for ( ;; ) {
        room = st->mode == SL_TB_ECHO ? SL_TB_BUF - c->out_len : SL_TB_BUF;
        if (room == 0) {
            return 1;           /* backpressure: the peer must read */
        }

        n = recv(c->fd, buf, room, 0);

        if (n < 0) {
            if (errno == EAGAIN) {
                return 1;
            }
            sl_tb_close(st, i, "rst", 0);
            return 0;
        }

        if (n == 0) {
            c->eof = 1;
            if (st->mode == SL_TB_SINK) {
                snprintf(line, sizeof(line), "%zu\n", c->got);
                sl_tb_queue(c, line, strlen(line));
            }
            return 1;
        }

        c->got += (size_t) n;

        if (st->mode == SL_TB_RESET) {
            sl_tb_close(st, i, "reset", 1);
            return 0;
        }

        if (st->mode == SL_TB_ECHO) {
            sl_tb_queue(c, buf, (size_t) n);
        }
    }
}

/* the backend and its mode, as the child gets them */
typedef struct {
    sl_t_backend_t       b;
    sl_t_backend_mode_e  mode;
} sl_tb_arg_t;

static void
sl_tb_main(void *data)
{
    static sl_tb_state_t   st;
    static struct pollfd   pfd[SL_TB_MAX + 1];
    sl_tb_arg_t           *a = data;
    sl_t_backend_t        *b = &a->b;
    sl_tb_conn_t          *c;
    int                    i, n;

    st.b = b;
    st.mode = a->mode;

    for ( ;; ) {
        pfd[0].fd = b->fd;
        pfd[0].events = st.n < SL_TB_MAX ? POLLIN : 0;

        for (i = 0; i < st.n; i++) {
            c = &st.conns[i];
            pfd[i + 1].fd = c->fd;
            pfd[i + 1].events = 0;
            if (!c->eof && st.mode != SL_TB_SILENT
                && (st.mode != SL_TB_ECHO || c->out_len < SL_TB_BUF))
            {
                pfd[i + 1].events |= POLLIN;
            }
            if (c->out_len > c->out_pos
                || (st.mode == SL_TB_SEND && c->sent < b->size))
            {
                pfd[i + 1].events |= POLLOUT;
            }
        }

        n = st.n;
        if (poll(pfd, (nfds_t) n + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            _exit(2);
        }

        /* from the last: closing one moves the last into its slot */
        for (i = n - 1; i >= 0; i--) {
            if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)
                && !sl_tb_read(&st, i))
            {
                continue;
            }
            if (i < st.n) {
                (void) sl_tb_flush(&st, i);
            }
        }

        if (pfd[0].revents & POLLIN) {
            sl_tb_accept(&st);
            if (st.n > 0) {
                (void) sl_tb_flush(&st, st.n - 1);
            }
        }
    }
}

/* --- the test's side ---------------------------------------------------- */

static int
sl_tb_listen(const char *file, int line, int backlog, int *port)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd, on = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sl_tb_fail(file, line, "socket(): %s", strerror(errno));
    }

    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, backlog) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        sl_tb_fail(file, line, "listen: %s", strerror(errno));
    }

    *port = ntohs(sin.sin_port);
    return fd;
}

void
sl_t_backend_start_at(const char *file, int line, sl_t_backend_t *b,
    const char *id, sl_t_backend_mode_e mode, size_t size)
{
    sl_tb_arg_t  *a;
    char         *dir;

    memset(b, 0, sizeof(*b));
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->size = size;

    dir = sl_t_mkdir_at(file, line);
    b->record = sl_t_path(dir, "record");

    b->fd = sl_tb_listen(file, line, mode == SL_TB_NOACCEPT ? 0 : 1024,
                         &b->port);

    if (mode == SL_TB_NOACCEPT) {
        return;
    }

    a = calloc(1, sizeof(sl_tb_arg_t));
    if (a == NULL) {
        sl_tb_fail(file, line, "out of memory");
    }

    a->b = *b;
    a->mode = mode;
    b->proc = sl_t_fork_at(file, line, sl_tb_main, a);

    /* the child has it: the test keeps its copy only to fill backlogs */
    close(b->fd);
    b->fd = -1;
    free(a);
}

typedef struct {
    const char  *path;
    int          n;
} sl_tb_lines_t;

static int
sl_tb_has_lines(void *data)
{
    sl_tb_lines_t  *l = data;
    char           *text, *p;
    int             n = 0;
    FILE           *f;
    char            buf[8192];
    size_t          len;

    f = fopen(l->path, "r");
    if (f == NULL) {
        return 0;
    }

    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    text = buf;

    for (p = text; *p; p++) {
        n += *p == '\n';
    }

    return n >= l->n;
}

char *
sl_t_backend_wait_record_at(const char *file, int line, sl_t_backend_t *b,
    int n, int ms)
{
    sl_tb_lines_t  l = { b->record, n };

    if (sl_t_wait_for(sl_tb_has_lines, &l, b->record, ms) != 0) {
        sl_tb_fail(file, line, "backend %s: fewer than %d records: %s",
                   b->id, n, sl_t_exists(b->record)
                             ? sl_t_read_at(file, line, b->record) : "none");
    }

    return sl_t_read_at(file, line, b->record);
}

void
sl_t_read_id_at(const char *file, int line, int fd, char *id, size_t size,
    int ms)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    size_t         n = 0;
    ssize_t        r;
    long long      end = sl_t_msec() + sl_t_timeout(ms);

    while (n + 1 < size) {
        if (poll(&pfd, 1, (int) (end - sl_t_msec())) <= 0) {
            sl_tb_fail(file, line, "no greeting from a backend");
        }

        r = recv(fd, id + n, 1, 0);
        if (r <= 0) {
            break;
        }

        if (id[n] == '\n') {
            break;
        }

        n++;
    }

    id[n] = '\0';
}

void
sl_t_backend_fill_backlog(sl_t_backend_t *b)
{
    struct sockaddr_in  sin;
    int                 i, fd;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t) b->port);

    /* a backlog of 0 takes one; the SYNs after it go unanswered */
    for (i = 0; i < 4; i++) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            (void) connect(fd, (struct sockaddr *) &sin, sizeof(sin));
        }
        b->fill[i] = fd;
    }
}

void
sl_t_backend_close(sl_t_backend_t *b)
{
    int  i;

    for (i = 0; i < 4; i++) {
        if (b->fill[i] > 0) {
            close(b->fill[i]);
            b->fill[i] = -1;
        }
    }

    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
}

/* sends len bytes of pattern and reads the echo: both sha256 equal */
void
sl_t_echo_transfer_at(const char *file, int line, int port, size_t len)
{
    EVP_MD_CTX     *sent_md, *got_md;
    unsigned char   sent_sum[32], got_sum[32], buf[65536], id[32];
    struct pollfd   pfd;
    size_t          off = 0, got = 0, i, n, idlen = 0;
    ssize_t         r;
    int             fd;

    fd = sl_t_connect_buf_at(file, line, "127.0.0.1", port, 262144);
    ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);

    sent_md = EVP_MD_CTX_new();
    got_md = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestInit_ex(sent_md, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_DigestInit_ex(got_md, EVP_sha256(), NULL), 1);

    while (got < len) {
        pfd.fd = fd;
        pfd.events = POLLIN | (off < len ? POLLOUT : 0);
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(20000)) > 0,
                      "stuck at %zu sent, %zu back", off, got);

        if ((pfd.revents & POLLOUT) && off < len) {
            n = len - off < sizeof(buf) ? len - off : sizeof(buf);
            for (i = 0; i < n; i++) {
                buf[i] = sl_t_pattern(off + i);
            }
            r = send(fd, buf, n, MSG_NOSIGNAL);
            if (r > 0) {
                EVP_DigestUpdate(sent_md, buf, (size_t) r);
                off += (size_t) r;
            }
        }

        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = recv(fd, buf, sizeof(buf), 0);
            ck_assert_msg(r > 0, "the proxy closed at %zu of %zu", got, len);

            /* the greeting first */
            i = 0;
            while (idlen < 2 && i < (size_t) r) {
                id[idlen] = buf[i++];
                if (id[idlen++] == '\n') {
                    idlen = 2;
                }
            }

            EVP_DigestUpdate(got_md, buf + i, (size_t) r - i);
            got += (size_t) r - i;
        }
    }

    ck_assert_uint_eq(got, len);
    EVP_DigestFinal_ex(sent_md, sent_sum, NULL);
    EVP_DigestFinal_ex(got_md, got_sum, NULL);
    EVP_MD_CTX_free(sent_md);
    EVP_MD_CTX_free(got_md);
    ck_assert_int_eq(memcmp(sent_sum, got_sum, 32), 0);
    close(fd);
}

/*
 * The same through a TLS client, without waiting for each chunk to come
 * back before the next goes: the socket is non-blocking and one poll()
 * loop writes and reads as each side allows.
 */
typedef struct {
    SSL            *ssl;
    EVP_MD_CTX     *md;
    size_t          got;
    size_t          idlen;      /* of the greeting, skipped */
    int             want_write; /* the last read asked for the socket */
} sl_tb_tls_client_t;

/* SSL_read() until it would block: 0, or -1 when the session ended */
static int
sl_tb_tls_client_read(sl_tb_tls_client_t *tc, unsigned char *buf,
    size_t size)
{
    size_t  i;
    int     n, err;

    tc->want_write = 0;

    for ( ;; ) {
        n = SSL_read(tc->ssl, buf, (int) size);

        if (n <= 0) {
            err = SSL_get_error(tc->ssl, n);
            if (err == SSL_ERROR_WANT_READ) {
                return 0;
            }
            if (err == SSL_ERROR_WANT_WRITE) {
                tc->want_write = 1;
                return 0;
            }
            return -1;
        }

        for (i = 0; tc->idlen < 2 && i < (size_t) n; i++) {
            if (buf[i] == '\n') {
                tc->idlen = 2;
            } else {
                tc->idlen++;
            }
        }

        EVP_DigestUpdate(tc->md, buf + i, (size_t) n - i);
        tc->got += (size_t) n - i;
    }
}

void
sl_t_tls_echo_transfer_at(const char *file, int line, int port, size_t len)
{
    static unsigned char  out[SL_TB_BUF], in[SL_TB_BUF];
    sl_tb_tls_client_t    tc;
    EVP_MD_CTX           *sent_md;
    SSL_CTX              *ctx;
    struct pollfd         pfd;
    unsigned char         sent_sum[32], got_sum[32];
    size_t                off = 0, pos = 0, end = 0, i;
    int                   fd, n, err;

    memset(&tc, 0, sizeof(tc));
    fd = sl_t_connect_buf_at(file, line, "127.0.0.1", port, 262144);
    ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);

    ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(ctx);
    tc.ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(tc.ssl);
    ck_assert_int_eq(SSL_set_fd(tc.ssl, fd), 1);
    SSL_set_connect_state(tc.ssl);
    (void) SSL_set_mode(tc.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE
                                | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    sent_md = EVP_MD_CTX_new();
    tc.md = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestInit_ex(sent_md, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_DigestInit_ex(tc.md, EVP_sha256(), NULL), 1);

    while ((n = SSL_do_handshake(tc.ssl)) != 1) {
        err = SSL_get_error(tc.ssl, n);
        ck_assert_msg(err == SSL_ERROR_WANT_READ
                      || err == SSL_ERROR_WANT_WRITE,
                      "%s:%d: the TLS handshake failed", file, line);
        pfd.fd = fd;
        pfd.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(20000)) > 0,
                      "%s:%d: the TLS handshake timed out", file, line);
    }

    while (tc.got < len) {
        pfd.fd = fd;
        pfd.events = POLLIN
                     | (off < len || pos < end || tc.want_write ? POLLOUT
                                                                 : 0);
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(20000)) > 0,
                      "%s:%d: stuck at %zu sent, %zu back", file, line,
                      off, tc.got);

        while ((pfd.revents & POLLOUT) && (off < len || pos < end)) {
            if (pos == end) {
                end = len - off < sizeof(out) ? len - off : sizeof(out);
                for (i = 0; i < end; i++) {
                    out[i] = sl_t_pattern(off + i);
                }
                EVP_DigestUpdate(sent_md, out, end);
                off += end;
                pos = 0;
            }

            n = SSL_write(tc.ssl, out + pos, (int) (end - pos));
            if (n <= 0) {
                err = SSL_get_error(tc.ssl, n);
                ck_assert_msg(err == SSL_ERROR_WANT_WRITE
                              || err == SSL_ERROR_WANT_READ,
                              "%s:%d: SSL_write() failed at %zu sent",
                              file, line, off - end + pos);
                break;
            }
            pos += (size_t) n;
        }

        ck_assert_msg(sl_tb_tls_client_read(&tc, in, sizeof(in)) == 0
                      || tc.got == len,
                      "%s:%d: the proxy closed at %zu of %zu", file, line,
                      tc.got, len);
    }

    ck_assert_uint_eq(tc.got, len);
    EVP_DigestFinal_ex(sent_md, sent_sum, NULL);
    EVP_DigestFinal_ex(tc.md, got_sum, NULL);
    EVP_MD_CTX_free(sent_md);
    EVP_MD_CTX_free(tc.md);
    ck_assert_msg(memcmp(sent_sum, got_sum, 32) == 0,
                  "%s:%d: the sha256 of what came back differs", file, line);

    (void) SSL_shutdown(tc.ssl);
    SSL_free(tc.ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

/* --- a TLS echo backend -------------------------------------------------- */

typedef struct {
    sl_t_backend_t   b;
    char             cert[512];
    char             key[512];
    char             ca[512];       /* "": no client certificate asked */
} sl_tb_tls_arg_t;

static void
sl_tb_tls_record(const char *path, const char *line)
{
    int  fd;

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void) write(fd, line, strlen(line));
        close(fd);
    }
}

static int
sl_tb_tls_write(SSL *ssl, const void *buf, size_t len)
{
    size_t  off = 0;
    int     n;

    while (off < len) {
        n = SSL_write(ssl, (const char *) buf + off, (int) (len - off));
        if (n <= 0) {
            return -1;
        }
        off += (size_t) n;
    }

    return 0;
}

/* one connection, start to end, blocking (under socket time limits) */
static void
sl_tb_tls_serve(sl_tb_tls_arg_t *a, SSL_CTX *ctx, int fd)
{
    static unsigned char   buf[SL_TB_BUF];
    struct timeval         tv = { 20, 0 };
    const char            *sni, *how;
    char                   cn[128] = "-", line[512];
    X509                  *peer;
    SSL                   *ssl;
    size_t                 got = 0;
    int                    n;

    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
        snprintf(line, sizeof(line), "%s 0 handshake-failed\n", a->b.id);
        sl_tb_tls_record(a->b.record, line);
        SSL_free(ssl);
        return;
    }

    sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    peer = SSL_get_peer_certificate(ssl);
    if (peer != NULL) {
        (void) X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
                                         NID_commonName, cn, sizeof(cn));
        X509_free(peer);
    }

    snprintf(line, sizeof(line), "%s\n", a->b.id);

    if (sl_tb_tls_write(ssl, line, strlen(line)) == 0) {
        for ( ;; ) {
            n = SSL_read(ssl, buf, sizeof(buf));
            if (n <= 0 || sl_tb_tls_write(ssl, buf, (size_t) n) != 0) {
                break;
            }
            got += (size_t) n;
        }
    }

    how = (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) ? "close_notify"
                                                           : "eof";
    (void) SSL_shutdown(ssl);

    snprintf(line, sizeof(line), "%s %zu %s resumed=%d sni=%s cn=%s\n",
             a->b.id, got, how, SSL_session_reused(ssl) ? 1 : 0,
             sni ? sni : "-", cn);
    sl_tb_tls_record(a->b.record, line);
    SSL_free(ssl);
}

static void
sl_tb_tls_main(void *data)
{
    sl_tb_tls_arg_t  *a = data;
    SSL_CTX          *ctx;
    int               fd;

    /* a peer that went away must not end the backend */
    (void) signal(SIGPIPE, SIG_IGN);

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL
        || SSL_CTX_use_certificate_chain_file(ctx, a->cert) != 1
        || SSL_CTX_use_PrivateKey_file(ctx, a->key, SSL_FILETYPE_PEM) != 1
        || SSL_CTX_set_session_id_context(ctx, (const unsigned char *) "tb",
                                          2) != 1)
    {
        ERR_print_errors_fp(stderr);
        _exit(1);
    }

    if (a->ca[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, a->ca, NULL) != 1) {
            ERR_print_errors_fp(stderr);
            _exit(1);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER
                                | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }

    (void) fcntl(a->b.fd, F_SETFL, fcntl(a->b.fd, F_GETFL) & ~O_NONBLOCK);

    for ( ;; ) {
        fd = accept(a->b.fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }

        sl_tb_tls_serve(a, ctx, fd);
        ERR_clear_error();
        close(fd);
    }
}

void
sl_t_tls_backend_start_at(const char *file, int line, sl_t_backend_t *b,
    const char *id, const char *cert, const char *key, const char *ca)
{
    sl_tb_tls_arg_t  *a;
    char             *dir;

    memset(b, 0, sizeof(*b));
    snprintf(b->id, sizeof(b->id), "%s", id);

    dir = sl_t_mkdir_at(file, line);
    b->record = sl_t_path(dir, "record");
    b->fd = sl_tb_listen(file, line, 1024, &b->port);

    a = calloc(1, sizeof(sl_tb_tls_arg_t));
    if (a == NULL) {
        sl_tb_fail(file, line, "out of memory");
    }

    a->b = *b;
    snprintf(a->cert, sizeof(a->cert), "%s", cert);
    snprintf(a->key, sizeof(a->key), "%s", key);
    snprintf(a->ca, sizeof(a->ca), "%s", ca ? ca : "");
    b->proc = sl_t_fork_at(file, line, sl_tb_tls_main, a);

    close(b->fd);
    b->fd = -1;
    free(a);
}
