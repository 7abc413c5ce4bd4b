/*
 * sl_stream_proxy_module.c -- "proxy_pass": a TCP proxy to an upstream.
 *
 * A session asks its group's balancer for a server, connects to it
 * without blocking (proxy_connect_timeout), and on a refusal or a timeout
 * tries the next one (proxy_next_upstream, _tries, _timeout) until none is
 * left: status 502. Once connected it relays both ways through two
 * buffers of proxy_buffer_size, each taken from the loop's cache when
 * data arrives and given back when it drained, so an idle session holds
 * none. A full buffer stops reading from its source until its destination
 * takes data again (backpressure): a session never holds more than the
 * two buffers. The client's or the server's end (FIN) closes the session
 * once what it sent is delivered, or, with proxy_half_close, is passed on
 * as a FIN of our own while the other direction goes on. A reset (or any
 * read error) on one side resets the other. proxy_timeout closes a session
 * on which nothing moved; proxy_upload_rate and proxy_download_rate hold a
 * direction to bytes per second as nginx counts them.
 *
 * With proxy_protocol a PROXY protocol header (v1, or v2 with
 * proxy_protocol_version) goes to each attempt's connection before any
 * client byte. With proxy_ssl the connection is TLS: the client handshake
 * runs after the connect within proxy_connect_timeout (again), the
 * certificate is checked (proxy_ssl_verify), and a failure of either is a
 * failed attempt; the relay is the same, through the connection's I/O
 * vector. proxy_ssl_session_reuse: the sessions are the balancer's, kept
 * with the peer chosen (peer.set_session before the handshake,
 * peer.save_session from OpenSSL's new-session callback); this file keeps
 * none of its own. proxy_splice (Linux) moves plain TCP through a pipe per
 * direction with splice(2) once the direction carries bulk data (a read
 * filled its buffer) and no rate, header or buffered byte stands in the
 * way; the counters are the same either way. splice() itself is the OS
 * layer's (sl_splice_recv/_send answer as recv/send do): this module
 * only decides when to splice, and a splice() that the kernel refuses
 * (SL_DECLINED) turns it off for the session, which goes on through the
 * buffers. TCP urgent data (MSG_OOB) goes on inline, as an ordinary byte
 * in its place (SO_OOBINLINE): a read stops at its mark, where an
 * edge-triggered back end says no more, and the relay asks the kernel.
 * A turn moves at most SL_STREAM_TURN_BUFFERS buffers of input, both ways
 * together: a bulk session does not hold the worker while others wait.
 * The rest goes on from a posted event at the next iteration (no edge
 * would come for it).
 *
 * Every attempt leaves a record for $upstream_addr, $upstream_bytes_sent,
 * $upstream_bytes_received, $upstream_connect_time,
 * $upstream_first_byte_time and $upstream_session_time, written as nginx
 * writes them: one entry per attempt, joined by ", ".
 *
 * Names: a relay direction (sl_stream_proxy_dir_t, ctx->up and ctx->down,
 * `d` in a function) is what one side sent, waiting for the other; a
 * "pipe" is only ever the kernel pipe splice() moves bytes through. `c`
 * is the client's connection, `pc` always the upstream's connection, and
 * `peer` the balancer's peer connection that made it.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_upstream.h"
#include "sl_stream_proxy_protocol.h"
#include "sl_ssl.h"
#include "sl_ssl_cache.h"

#include <arpa/inet.h>
#include <sys/ioctl.h>

/*
 * What a process said once already: a worker's own copy of the
 * configuration (an embedded instance's, a new generation's), so once
 * per worker and per configuration.
 */
typedef struct {
    sl_uint_t                        pipe_warned;    /* pipe2() failed */
    sl_uint_t                        splice_warned;  /* splice() refused */
} sl_stream_proxy_main_conf_t;

/* proxy_bind: an address, or a value with variables made one per session */
typedef struct {
    struct sockaddr                 *sockaddr;
    socklen_t                        socklen;
    sl_stream_complex_value_t       *value;     /* NULL: sockaddr */
    unsigned                         transparent:1;
} sl_stream_proxy_local_t;

typedef struct {
    sl_msec_t                        connect_timeout;
    sl_msec_t                        timeout;
    sl_msec_t                        next_upstream_timeout;
    size_t                           buffer_size;
    size_t                           upload_rate;
    size_t                           download_rate;
    sl_uint_t                        next_upstream_tries;
    sl_flag_t                        next_upstream;
    sl_flag_t                        half_close;
    sl_flag_t                        socket_keepalive;
    sl_flag_t                        proxy_protocol;
    sl_flag_t                        splice;
    sl_uint_t                        proxy_protocol_version;
    sl_stream_proxy_local_t         *local;     /* NULL: proxy_bind off */

    /* TLS to the servers */
    sl_flag_t                        ssl_enable;
    sl_flag_t                        ssl_session_reuse;
    sl_flag_t                        ssl_server_name;
    sl_flag_t                        ssl_verify;
    sl_uint_t                        ssl_protocols;
    sl_uint_t                        ssl_verify_depth;
    sl_str_t                         ssl_ciphers;
    sl_str_t                         ssl_certificate;
    sl_str_t                         ssl_certificate_key;
    /* with variables: evaluated per upstream connection; else NULL */
    sl_stream_complex_value_t       *ssl_certificate_values;  /* [2] */
    sl_ssl_cache_t                  *ssl_certificate_cache;
    sl_str_t                         ssl_trusted_certificate;
    sl_array_t                      *ssl_passwords;
    sl_array_t                      *ssl_conf_commands;     /* sl_str_t[2] */
    sl_stream_complex_value_t       *ssl_name;
    sl_array_t                      *ssl_alpn;  /* complex values */
    sl_flag_t                        ssl_alpn_variables;  /* per session */
    sl_ssl_t                        *ssl;       /* NULL: proxy_ssl off */

    sl_stream_upstream_srv_conf_t   *upstream;
    sl_stream_complex_value_t       *upstream_value;
} sl_stream_proxy_srv_conf_t;

/* one attempt, for the $upstream_* variables */
typedef struct {
    sl_str_t                        *peer;
    sl_msec_t                        connect_time;      /* -1: none */
    sl_msec_t                        first_byte_time;
    sl_msec_t                        response_time;
    off_t                            bytes_sent;
    off_t                            bytes_received;
} sl_stream_proxy_state_t;

/* one direction: what src sent, waiting for dst */
typedef struct {
    sl_buf_t                         buf;       /* start NULL: none held */
    off_t                            received;  /* from src */
    sl_splice_pipe_t                 pipe;      /* proxy_splice's */
    unsigned                         preread:1; /* buf is s->preread */
    unsigned                         shut:1;    /* dst got our FIN */
    unsigned                         bulk:1;    /* a read filled buf */
} sl_stream_proxy_dir_t;

typedef struct {
    sl_peer_connection_t             peer;
    sl_array_t                       states;    /* of ..._state_t */
    sl_stream_proxy_state_t         *state;
    sl_msec_t                        start_time;    /* of the attempt */
    time_t                           start_sec;     /* for the rates */

    sl_stream_proxy_dir_t            up;        /* client -> upstream */
    sl_stream_proxy_dir_t            down;      /* upstream -> client */
    sl_bufcache_t                   *cache;

    /* proxy_protocol: the header, sent to each attempt before any data */
    u_char                          *header;
    size_t                           header_len;
    size_t                           header_sent;

    sl_str_t                         upstream_host;  /* proxy_pass's */
    sl_str_t                         ssl_name;      /* checked, sent */

    unsigned                         connected:1;
    unsigned                         reset:1;   /* close with a reset */
    unsigned                         splice:1;  /* splice(2) may be used */
    unsigned                         spliced:1; /* it was: logged once */
} sl_stream_proxy_ctx_t;

static sl_int_t sl_stream_proxy_add_variables(sl_conf_t *cf);
static void *sl_stream_proxy_create_main_conf(sl_conf_t *cf);
static void *sl_stream_proxy_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_proxy_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_proxy_pass(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static sl_int_t sl_stream_proxy_parse_local(sl_pool_t *pool, sl_str_t *v,
    sl_stream_proxy_local_t *local);
static char *sl_stream_proxy_bind(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static char *sl_stream_proxy_ssl_certificate_cache(sl_conf_t *cf,
    sl_command_t *cmd, void *conf);
static sl_int_t sl_stream_proxy_ssl_certificate_values(sl_conf_t *cf,
    sl_stream_proxy_srv_conf_t *pscf);
static char *sl_stream_proxy_ssl_password_file(sl_conf_t *cf,
    sl_command_t *cmd, void *conf);
static char *sl_stream_proxy_ssl_conf_command(sl_conf_t *cf,
    sl_command_t *cmd, void *conf);
static char *sl_stream_proxy_ssl_name(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_proxy_ssl_alpn(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static void sl_stream_proxy_connect(sl_stream_session_t *s);
static void sl_stream_proxy_process(sl_stream_session_t *s);
static void sl_stream_proxy_finalize(sl_stream_session_t *s, sl_uint_t rc);

static sl_conf_num_bounds_t  sl_stream_proxy_buffer_bounds = {
    sl_conf_check_num_bounds, 1, -1
};

static sl_conf_num_bounds_t  sl_stream_proxy_version_bounds = {
    sl_conf_check_num_bounds, 1, 2
};

#define SL_PROXY_CONF  (SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF)
#define SL_PROXY_OFF(f)  offsetof(sl_stream_proxy_srv_conf_t, f)

static sl_command_t  sl_stream_proxy_commands[] = {

    { sl_string("proxy_pass"),
      SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_proxy_pass,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("proxy_bind"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE12,
      sl_stream_proxy_bind,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("proxy_socket_keepalive"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, socket_keepalive),
      NULL },

    { sl_string("proxy_connect_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, connect_timeout),
      NULL },

    { sl_string("proxy_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, timeout),
      NULL },

    { sl_string("proxy_buffer_size"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, buffer_size),
      &sl_stream_proxy_buffer_bounds },

    { sl_string("proxy_upload_rate"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, upload_rate),
      NULL },

    { sl_string("proxy_download_rate"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, download_rate),
      NULL },

    { sl_string("proxy_next_upstream"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, next_upstream),
      NULL },

    { sl_string("proxy_next_upstream_tries"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, next_upstream_tries),
      NULL },

    { sl_string("proxy_next_upstream_timeout"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, next_upstream_timeout),
      NULL },

    { sl_string("proxy_protocol"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, proxy_protocol),
      NULL },

    { sl_string("proxy_protocol_version"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, proxy_protocol_version),
      &sl_stream_proxy_version_bounds },

    { sl_string("proxy_splice"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, splice),
      NULL },

    { sl_string("proxy_half_close"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      SL_STREAM_SRV_CONF_OFFSET,
      offsetof(sl_stream_proxy_srv_conf_t, half_close),
      NULL },

    { sl_string("proxy_ssl"), SL_PROXY_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_enable), NULL },

    { sl_string("proxy_ssl_protocols"), SL_PROXY_CONF | SL_CONF_1MORE,
      sl_conf_set_bitmask_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_protocols), &sl_ssl_protocol_names },

    { sl_string("proxy_ssl_ciphers"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_conf_set_str_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_ciphers), NULL },

    { sl_string("proxy_ssl_name"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_stream_proxy_ssl_name, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("proxy_ssl_alpn"), SL_PROXY_CONF | SL_CONF_1MORE,
      sl_stream_proxy_ssl_alpn, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("proxy_ssl_server_name"), SL_PROXY_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_server_name), NULL },

    { sl_string("proxy_ssl_verify"), SL_PROXY_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_verify), NULL },

    { sl_string("proxy_ssl_verify_depth"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_verify_depth), NULL },

    { sl_string("proxy_ssl_trusted_certificate"),
      SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_conf_set_str_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_trusted_certificate), NULL },

    { sl_string("proxy_ssl_certificate"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_conf_set_str_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_certificate), NULL },

    { sl_string("proxy_ssl_certificate_key"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_conf_set_str_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_certificate_key), NULL },

    { sl_string("proxy_ssl_certificate_cache"), SL_PROXY_CONF | SL_CONF_1MORE,
      sl_stream_proxy_ssl_certificate_cache, SL_STREAM_SRV_CONF_OFFSET, 0,
      NULL },

    { sl_string("proxy_ssl_password_file"), SL_PROXY_CONF | SL_CONF_TAKE1,
      sl_stream_proxy_ssl_password_file, SL_STREAM_SRV_CONF_OFFSET, 0,
      NULL },

    { sl_string("proxy_ssl_session_reuse"), SL_PROXY_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_PROXY_OFF(ssl_session_reuse), NULL },

    { sl_string("proxy_ssl_conf_command"), SL_PROXY_CONF | SL_CONF_TAKE2,
      sl_stream_proxy_ssl_conf_command, SL_STREAM_SRV_CONF_OFFSET, 0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_proxy_module_ctx = {
    sl_stream_proxy_add_variables,
    NULL,
    sl_stream_proxy_create_main_conf,
    NULL,
    sl_stream_proxy_create_srv_conf,
    sl_stream_proxy_merge_srv_conf
};

sl_module_t  sl_stream_proxy_module = {
    .name = "sl_stream_proxy_module",
    .ctx = &sl_stream_proxy_module_ctx,
    .commands = sl_stream_proxy_commands,
    .type = SL_STREAM_MODULE,
};

/* --- buffers ------------------------------------------------------------- */

static sl_int_t
sl_stream_proxy_take_buffer(sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d, sl_log_t *log)
{
    d->buf.start = sl_bufcache_get(ctx->cache, log);
    if (d->buf.start == NULL) {
        return SL_ERROR;
    }

    d->buf.pos = d->buf.start;
    d->buf.last = d->buf.start;
    d->buf.end = d->buf.start + ctx->cache->size;
    return SL_OK;
}

static void
sl_stream_proxy_release_buffer(sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d)
{
    if (d->buf.start != NULL && !d->preread) {
        sl_bufcache_put(ctx->cache, d->buf.start);
    }

    d->preread = 0;
    sl_memzero(&d->buf, sizeof(sl_buf_t));
}

/*
 * Ends TLS on the upstream connection before its socket closes: a
 * close_notify when notify and it goes at once, nothing else (nginx waits
 * for none either).
 */
static void
sl_stream_proxy_ssl_close(sl_connection_t *pc, sl_uint_t notify)
{
    if (pc->ssl == NULL) {
        return;
    }

    pc->ssl->no_wait_shutdown = 1;
    if (!notify) {
        pc->ssl->no_send_shutdown = 1;
    }

    if (sl_ssl_shutdown(pc) == SL_AGAIN) {
        /* it would block: give it up rather than keep the socket */
        if (pc->ssl != NULL) {
            pc->ssl->no_send_shutdown = 1;
            (void) sl_ssl_shutdown(pc);
        }
    }
}

static void
sl_stream_proxy_close_pipe(sl_stream_proxy_dir_t *d)
{
    sl_splice_pipe_close(&d->pipe);
}

/* nothing of this direction is waiting for its destination */
static sl_uint_t
sl_stream_proxy_drained(sl_stream_proxy_dir_t *d)
{
    return d->buf.pos == d->buf.last && d->pipe.len == 0;
}

/* the session's pool goes: so do the buffers and the upstream socket */
static void
sl_stream_proxy_cleanup(void *data)
{
    sl_stream_proxy_ctx_t  *ctx = data;

    sl_stream_proxy_release_buffer(ctx, &ctx->up);
    sl_stream_proxy_release_buffer(ctx, &ctx->down);
    sl_stream_proxy_close_pipe(&ctx->up);
    sl_stream_proxy_close_pipe(&ctx->down);

    if (ctx->peer.connection != NULL) {
        sl_stream_proxy_ssl_close(ctx->peer.connection, 0);
        sl_close_connection(ctx->peer.connection);
        ctx->peer.connection = NULL;
    }
}

/* --- the log ------------------------------------------------------------- */

static u_char *
sl_stream_proxy_log_error(sl_log_t *log, u_char *buf, size_t len)
{
    sl_stream_session_t    *s = log->data;
    sl_stream_proxy_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);

    if (ctx == NULL || ctx->peer.name == NULL) {
        return buf;
    }

    return sl_snprintf(buf, len, ", upstream: \"%V\"", ctx->peer.name);
}

/* --- connecting ---------------------------------------------------------- */

/* proxy_pass with variables: an upstream{} by name, or an address */
static sl_stream_upstream_srv_conf_t *
sl_stream_proxy_eval(sl_stream_session_t *s, sl_stream_proxy_srv_conf_t *pscf)
{
    sl_stream_upstream_main_conf_t  *umcf;
    sl_stream_upstream_srv_conf_t   *uscf;
    sl_connection_t                 *c = s->connection;
    sl_str_t                         value;
    sl_url_t                         u;

    if (sl_stream_complex_value(s, pscf->upstream_value, &value) != SL_OK) {
        return NULL;
    }

    umcf = sl_stream_get_module_main_conf(s, sl_stream_upstream_module);
    uscf = sl_stream_upstream_find(umcf, &value);
    if (uscf != NULL) {
        return uscf;
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = value;
    u.no_resolve = 1;

    if (sl_parse_url(c->pool, &u) != SL_OK) {
        /* a name with a port: nginx would resolve it now */
        if (u.err != NULL && !u.no_port && strcmp(u.err, "invalid host") == 0)
        {
            sl_log_error(SL_LOG_ERR, c->log, 0, "no resolver defined to "
                         "resolve %V", &u.host);
        } else {
            sl_log_error(SL_LOG_ERR, c->log, 0, "%s in upstream \"%V\"",
                         u.err ? u.err : "error", &u.url);
        }
        return NULL;
    }

    return sl_stream_upstream_create_round_robin(s, &u);
}

static sl_stream_proxy_state_t *
sl_stream_proxy_new_state(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx)
{
    sl_stream_proxy_state_t  *st;

    st = sl_array_push(&ctx->states);
    if (st == NULL) {
        return NULL;
    }

    sl_memzero(st, sizeof(sl_stream_proxy_state_t));
    st->connect_time = (sl_msec_t) -1;
    st->first_byte_time = (sl_msec_t) -1;
    st->response_time = (sl_msec_t) -1;

    ctx->state = st;
    ctx->start_time = sl_current_msec(s->connection->loop);
    return st;
}

/* the attempt is over: its time and bytes go into its record */
static void
sl_stream_proxy_close_state(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx)
{
    sl_stream_proxy_state_t  *st = ctx->state;

    if (st == NULL) {
        return;
    }

    if (st->response_time == (sl_msec_t) -1) {
        st->response_time = sl_current_msec(s->connection->loop)
                            - ctx->start_time;
    }

    if (ctx->peer.connection != NULL) {
        st->bytes_received = ctx->down.received;
        st->bytes_sent = ctx->peer.connection->sent;
    }
}

static void
sl_stream_proxy_next_upstream(sl_stream_session_t *s)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_peer_connection_t        *peer;
    sl_msec_t                    timeout;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
    peer = &ctx->peer;

    sl_stream_proxy_close_state(s, ctx);

    if (peer->sockaddr != NULL) {
        peer->free(peer, peer->data, SL_PEER_FAILED);
        peer->sockaddr = NULL;
    }

    timeout = pscf->next_upstream_timeout;

    if (peer->tries == 0 || !pscf->next_upstream
        || (timeout && sl_current_msec(s->connection->loop) - peer->start_time
                       >= timeout))
    {
        sl_stream_proxy_finalize(s, SL_STREAM_BAD_GATEWAY);
        return;
    }

    if (peer->connection != NULL) {
        sl_stream_proxy_ssl_close(peer->connection, 0);
        sl_close_connection(peer->connection);
        peer->connection = NULL;
    }

    sl_stream_proxy_connect(s);
}

static void sl_stream_proxy_handler_event(sl_event_t *ev);
static void sl_stream_proxy_ssl_init_connection(sl_stream_session_t *s);

/*
 * proxy_protocol with proxy_ssl: the header goes in the clear before the
 * ClientHello, as nginx sends it and as a server that reads both expects.
 * A fresh socket takes it at once; if not, the attempt failed.
 */
static sl_int_t
sl_stream_proxy_send_plain_header(sl_stream_session_t *s,
    sl_stream_proxy_ctx_t *ctx, sl_connection_t *pc)
{
    ssize_t  n;

    n = pc->send(pc, ctx->header, ctx->header_len);

    if (n != (ssize_t) ctx->header_len) {
        if (n != SL_ERROR) {
            sl_log_error(SL_LOG_ERR, s->connection->log, 0,
                         "could not send PROXY protocol header at once");
        }
        return SL_ERROR;
    }

    ctx->header_sent = ctx->header_len;
    return SL_OK;
}

/* --- TCP urgent data ----------------------------------------------------- */

/*
 * An urgent byte (send(MSG_OOB)) is relayed inline, as an ordinary byte in
 * its place in the stream: a stream proxy has no out-of-band channel to
 * pass it on, and leaving it out would change what the peers said to each
 * other. Without SO_OOBINLINE, recv() would skip it; with it, the byte
 * comes in order. Its urgency is not passed on.
 */
static void
sl_stream_proxy_oob_inline(sl_connection_t *c)
{
    int  on = 1;

    if (setsockopt(c->fd, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(int)) == -1) {
        /* not fatal: the byte is skipped, but nothing stalls or is lost */
        sl_log_error(SL_LOG_ALERT, c->log, sl_socket_errno,
                     "setsockopt(SO_OOBINLINE) failed");
    }
}

/*
 * Is c's next byte an urgent one? A read stops short at that mark
 * (recv(), and sl_splice_recv(), which steps over it at its next call),
 * and FIONREAD (kqueue's count) stops there too: c looks drained while
 * the urgent byte and what follows wait, and no new event will come for
 * them. At the mark c is readable, and its count is unknown.
 */
static sl_uint_t
sl_stream_proxy_at_mark(sl_connection_t *c)
{
    int  mark = 0;  /* valgrind: the kernel writes it, but memcheck cannot tell */

    if (ioctl(c->fd, SIOCATMARK, &mark) == -1 || !mark) {
        return 0;
    }

    c->read->ready = 1;
    c->read->available = -1;
    return 1;
}

/*
 * After a read that brought bytes (recv() into the buffer, or splice()
 * into the pipe): did it stop at the urgent mark where
 * it seemed to drain src? Level-triggered back ends report src readable
 * again anyway; edge-triggered ones have said all they will: a read that
 * cleared ready, or kqueue's EV_EOF with its count used up (the next read
 * would be taken for the end without a recv()). TLS reads step over the
 * mark themselves: the library reads on until it has a record.
 */
static void
sl_stream_proxy_check_mark(sl_connection_t *src)
{
    sl_event_t  *rev = src->read;

    if (src->ssl != NULL || !(src->loop->flags & SL_USE_CLEAR_EVENT)) {
        return;
    }

    if (rev->ready
        && !((src->loop->flags & SL_USE_KQUEUE_EVENT) && rev->pending_eof
             && rev->available == 0))
    {
        return;
    }

    (void) sl_stream_proxy_at_mark(src);
}

static void
sl_stream_proxy_init_upstream(sl_stream_session_t *s)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_core_srv_conf_t   *cscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_connection_t             *pc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
    pc = ctx->peer.connection;

    if (cscf->tcp_nodelay && ctx->peer.sockaddr->sa_family != AF_UNIX) {
        pc->sockaddr = ctx->peer.sockaddr;
        pc->socklen = ctx->peer.socklen;
        if (sl_tcp_nodelay(pc) != SL_OK) {
            sl_stream_proxy_next_upstream(s);
            return;
        }
    }

    if (pc->ssl == NULL) {
        /* once per try: before a byte, and not again after a handshake */
        sl_stream_proxy_oob_inline(pc);
    }

    if (pscf->ssl != NULL && (pc->ssl == NULL || !pc->ssl->handshaked)) {
        if (pc->ssl == NULL && ctx->header_sent < ctx->header_len
            && sl_stream_proxy_send_plain_header(s, ctx, pc) != SL_OK)
        {
            sl_stream_proxy_next_upstream(s);
            return;
        }

        /* the handshake first, within proxy_connect_timeout again */
        sl_stream_proxy_ssl_init_connection(s);
        return;
    }

    if (pc->write->timer_set) {
        sl_del_timer(pc->write);
    }

    pc->read->handler = sl_stream_proxy_handler_event;
    pc->write->handler = sl_stream_proxy_handler_event;

#if (SL_HAVE_SPLICE)
    /* plain TCP both ways: the kernel may move the bytes (proxy_splice) */
    ctx->splice = pscf->splice && s->connection->ssl == NULL
                  && pc->ssl == NULL;
#endif

    ctx->state->connect_time = sl_current_msec(s->connection->loop)
                               - ctx->start_time;

    if (ctx->peer.notify != NULL) {
        /* a server on trial after fail_timeout is live again from here */
        ctx->peer.notify(&ctx->peer, ctx->peer.data,
                         SL_STREAM_UPSTREAM_NOTIFY_CONNECT);
    }

    ctx->connected = 1;
    ctx->start_sec = s->time->sec;

    s->connection->log->action = "proxying connection";

    sl_stream_proxy_process(s);
}

/* --- TLS to the server ---------------------------------------------------- */

/*
 * OpenSSL's new-session callback of the client context: a session the
 * server gave (with TLS 1.3, after the handshake, perhaps several) goes to
 * the balancer, which keeps it with the peer it chose for this attempt
 * (peer.save_session takes a reference of its own). 0: we kept none of the
 * callback's. No hook (a group made for this session alone): not kept.
 */
static int
sl_stream_proxy_ssl_new_session(SSL *ssl_conn, SSL_SESSION *session)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_stream_session_t         *s;
    sl_connection_t             *pc;

    (void) session;

    pc = SSL_get_ex_data(ssl_conn, sl_ssl_indexes()->connection_index);
    if (pc == NULL || pc->data == NULL) {
        return 0;
    }

    s = pc->data;
    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);

    /* the attempt's own connection, while its peer is still chosen */
    if (ctx == NULL || ctx->peer.connection != pc
        || ctx->peer.sockaddr == NULL || ctx->peer.save_session == NULL
        || !pscf->ssl_session_reuse)
    {
        return 0;
    }

    ctx->peer.save_session(&ctx->peer, ctx->peer.data);
    return 0;
}

/*
 * The name the certificate must match and SNI sends: proxy_ssl_name, or
 * proxy_pass's host; a port is cut off, as nginx does. SNI is not sent
 * for an address (RFC 6066).
 */
static sl_int_t
sl_stream_proxy_ssl_set_name(sl_stream_session_t *s,
    sl_stream_proxy_srv_conf_t *pscf, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *pc)
{
    struct in6_addr   a6;
    struct in_addr    a4;
    sl_str_t          name;
    u_char           *p, *host;

    if (pscf->ssl_name != NULL) {
        if (sl_stream_complex_value(s, pscf->ssl_name, &name) != SL_OK) {
            return SL_ERROR;
        }

    } else {
        name = ctx->upstream_host;
    }

    if (name.len && name.data[0] == '[') {
        p = memchr(name.data, ']', name.len);
        if (p != NULL) {
            name.data++;
            name.len = (size_t) (p - name.data);
        }

    } else {
        p = memchr(name.data, ':', name.len);
        if (p != NULL) {
            name.len = (size_t) (p - name.data);
        }
    }

    ctx->ssl_name = name;

    if (!pscf->ssl_server_name || name.len == 0) {
        return SL_OK;
    }

    host = sl_pnalloc(s->connection->pool, name.len + 1);
    if (host == NULL) {
        return SL_ERROR;
    }

    sl_cpystrn(host, name.data, name.len + 1);

    if (inet_pton(AF_INET, (char *) host, &a4) == 1
        || inet_pton(AF_INET6, (char *) host, &a6) == 1)
    {
        return SL_OK;
    }

    if (SSL_set_tlsext_host_name(pc->ssl->connection, (char *) host) != 1) {
        sl_ssl_error(SL_LOG_ERR, s->connection->log, 0,
                     "SSL_set_tlsext_host_name(\"%s\") failed", host);
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * proxy_ssl_alpn with variables: the list of this session (a constant one
 * is in the context already).
 */
static sl_int_t
sl_stream_proxy_ssl_set_alpn(sl_stream_session_t *s,
    sl_stream_proxy_srv_conf_t *pscf, sl_connection_t *pc)
{
    sl_stream_complex_value_t  *cv;
    sl_str_t                   *protos;
    sl_uint_t                   i, n;

    if (pscf->ssl_alpn == NULL || !pscf->ssl_alpn_variables) {
        return SL_OK;
    }

    cv = pscf->ssl_alpn->elts;
    n = pscf->ssl_alpn->nelts;

    protos = sl_palloc(s->connection->pool, n * sizeof(sl_str_t));
    if (protos == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (sl_stream_complex_value(s, &cv[i], &protos[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    return sl_ssl_set_alpn(pc, protos, n);
}

static void
sl_stream_proxy_ssl_handshaked(sl_connection_t *pc)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_stream_session_t         *s = pc->data;
    long                         rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);

    if (!pc->ssl->handshaked) {
        if (pc->write->timedout || pc->read->timedout) {
            sl_log_error(SL_LOG_ERR, s->connection->log, SL_ETIMEDOUT,
                         "upstream timed out");
        }
        sl_stream_proxy_next_upstream(s);
        return;
    }

    if (pscf->ssl_verify) {
        rc = SSL_get_verify_result(pc->ssl->connection);

        if (rc != X509_V_OK) {
            sl_log_error(SL_LOG_ERR, s->connection->log, 0,
                         "upstream SSL certificate verify error: (%l:%s)",
                         rc, X509_verify_cert_error_string(rc));
            sl_stream_proxy_next_upstream(s);
            return;
        }

        if (sl_ssl_check_host(pc, &ctx->ssl_name) != SL_OK) {
            sl_log_error(SL_LOG_ERR, s->connection->log, 0,
                         "upstream SSL certificate does not match \"%V\"",
                         &ctx->ssl_name);
            sl_stream_proxy_next_upstream(s);
            return;
        }
    }

    pc->write->timedout = 0;
    pc->read->timedout = 0;

    sl_stream_proxy_init_upstream(s);
}

/* proxy_ssl_certificate with variables: this connection's pair */
static sl_int_t
sl_stream_proxy_ssl_certificate(sl_stream_session_t *s,
    sl_stream_proxy_srv_conf_t *pscf, sl_connection_t *pc)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_complex_value_t   *cv = pscf->ssl_certificate_values;
    sl_str_t                     cert, key;

    if (cv == NULL) {
        return SL_OK;
    }

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);

    if (sl_stream_complex_value(s, &cv[0], &cert) != SL_OK
        || sl_stream_complex_value(s, &cv[1], &key) != SL_OK)
    {
        return SL_ERROR;
    }

    return sl_ssl_connection_certificate(pc, s->connection->pool,
                                         pscf->ssl_certificate_cache,
                                         &cmcf->cycle->conf_prefix,
                                         s->time->sec, &cert, &key,
                                         pscf->ssl_passwords);
}

static void
sl_stream_proxy_ssl_init_connection(sl_stream_session_t *s)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_connection_t             *pc;
    sl_int_t                     rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
    pc = ctx->peer.connection;

    if (sl_ssl_create_connection(pscf->ssl, pc, s->connection->pool,
                                 SL_SSL_CLIENT) != SL_OK
        || sl_stream_proxy_ssl_certificate(s, pscf, pc) != SL_OK
        || sl_stream_proxy_ssl_set_name(s, pscf, ctx, pc) != SL_OK
        || sl_stream_proxy_ssl_set_alpn(s, pscf, pc) != SL_OK)
    {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the chosen peer's last session, if its balancer keeps them */
    if (pscf->ssl_session_reuse && ctx->peer.set_session != NULL
        && ctx->peer.set_session(&ctx->peer, ctx->peer.data) != SL_OK)
    {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    s->connection->log->action = "SSL handshaking to upstream";

    rc = sl_ssl_handshake(pc);

    if (rc == SL_AGAIN) {
        if (!pc->write->timer_set) {
            sl_add_timer(pc->write, pscf->connect_timeout);
        }

        pc->ssl->handler = sl_stream_proxy_ssl_handshaked;
        return;
    }

    if (rc == SL_ERROR) {
        sl_stream_proxy_next_upstream(s);
        return;
    }

    sl_stream_proxy_ssl_handshaked(pc);
}

static void
sl_stream_proxy_connect_handler(sl_event_t *ev)
{
    sl_connection_t        *c = ev->data;
    sl_stream_session_t    *s = c->data;
    sl_stream_proxy_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);

    if (sl_event_connect_result(&ctx->peer) != SL_OK) {
        sl_stream_proxy_next_upstream(s);
        return;
    }

    sl_stream_proxy_init_upstream(s);
}

static void
sl_stream_proxy_connect(sl_stream_session_t *s)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_stream_proxy_ctx_t       *ctx;
    sl_connection_t             *c = s->connection, *pc;
    sl_int_t                     rc;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);

    c->log->action = "connecting to upstream";

    if (sl_stream_proxy_new_state(s, ctx) == NULL) {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a new attempt gets the whole header again, before any data */
    ctx->header_sent = 0;

    rc = sl_event_connect_peer(c->loop, &ctx->peer);

    ctx->state->peer = ctx->peer.name;

    if (rc == SL_BUSY) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "no live upstreams");
        sl_stream_proxy_finalize(s, SL_STREAM_BAD_GATEWAY);
        return;
    }

    if (rc == SL_ERROR) {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == SL_DECLINED) {
        sl_stream_proxy_next_upstream(s);
        return;
    }

    pc = ctx->peer.connection;
    pc->data = s;
    pc->log = c->log;
    pc->read->log = c->log;
    pc->write->log = c->log;

    if (rc == SL_AGAIN) {
        pc->read->handler = sl_stream_proxy_connect_handler;
        pc->write->handler = sl_stream_proxy_connect_handler;
        sl_add_timer(pc->write, pscf->connect_timeout);
        return;
    }

    sl_stream_proxy_init_upstream(s);
}

/* --- relaying ------------------------------------------------------------ */

/* sends what p holds to dst: 1 when bytes went, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_proxy_send(sl_connection_t *dst, sl_stream_proxy_dir_t *d)
{
    sl_buf_t  *b = &d->buf;
    ssize_t    n;

    if (dst == NULL || b->pos == b->last || !dst->write->ready) {
        return 0;
    }

    n = dst->send(dst, b->pos, (size_t) (b->last - b->pos));

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n <= 0) {
        return 0;
    }

    b->pos += n;

    if (b->pos == b->last) {
        b->pos = b->start;
        b->last = b->start;
    }

    return 1;
}

/*
 * How much a rate allows now: nginx's count, rate * (seconds since the
 * start + 1) - what came so far. Nothing: the read waits on a timer.
 */
static size_t
sl_stream_proxy_limit(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *src, sl_stream_proxy_dir_t *d, size_t rate,
    size_t size)
{
    off_t  limit;

    if (rate == 0) {
        return size;
    }

    limit = (off_t) rate * (s->time->sec - ctx->start_sec + 1) - d->received;

    if (limit <= 0) {
        src->read->delayed = 1;
        sl_add_timer(src->read, (sl_msec_t) (-limit * 1000 / (off_t) rate
                                             + 1));
        return 0;
    }

    return (off_t) size > limit ? (size_t) limit : size;
}

/*
 * n bytes came from src into p, buffered or spliced: the counters
 * ($bytes_received, $upstream_bytes_received) and the first byte's time.
 */
static void
sl_stream_proxy_count_in(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *src, sl_stream_proxy_dir_t *d, ssize_t n)
{
    if (d == &ctx->down) {
        if (ctx->state->first_byte_time == (sl_msec_t) -1) {
            ctx->state->first_byte_time = sl_current_msec(src->loop)
                                          - ctx->start_time;
        }

    } else {
        s->received += n;
    }

    d->received += n;
}

#if (SL_HAVE_SPLICE)

/*
 * After splice() failed: what the pipe still holds goes first, read into
 * the buffer as room allows; the pipe is closed once empty. 1 when bytes
 * came, 0 when there was no room, SL_ERROR.
 */
static sl_int_t
sl_stream_proxy_unpipe(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d)
{
    sl_buf_t  *b = &d->buf;
    ssize_t    n;
    size_t     size;

    if (b->start == NULL
        && sl_stream_proxy_take_buffer(ctx, d, s->connection->log) != SL_OK)
    {
        return SL_ERROR;
    }

    size = (size_t) (b->end - b->last);
    if (size == 0) {
        return 0;
    }

    n = sl_splice_pipe_read(&d->pipe, b->last, size);

    if (n == SL_ERROR) {
        /* pipe.len bytes are in it: nothing but a bug gets here */
        sl_log_error(SL_LOG_ALERT, s->connection->log, errno,
                     "read() from the splice pipe failed");
        return SL_ERROR;
    }

    b->last += n;

    if (d->pipe.len == 0) {
        sl_stream_proxy_close_pipe(d);
    }

    return 1;
}

/*
 * Before a buffered read: bytes a refused splice() left in the pipe go
 * first (unpipe's answer); an empty pipe of a session that no longer
 * splices is closed. SL_DECLINED: nothing in the pipe, read on.
 */
static sl_int_t
sl_stream_proxy_leave_pipe(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d)
{
    if (d->pipe.len > 0) {
        return sl_stream_proxy_unpipe(s, ctx, d);
    }

    if (!ctx->splice && d->pipe.fd[0] != -1) {
        /* splice is off for the session, and this pipe is empty */
        sl_stream_proxy_close_pipe(d);
    }

    return SL_DECLINED;
}

#endif

/* reads from src into p: 1 when bytes came, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_proxy_recv(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *src, sl_stream_proxy_dir_t *d, size_t rate)
{
    sl_buf_t  *b = &d->buf;
    ssize_t    n;
    size_t     size;
    sl_msec_t  delay;

#if (SL_HAVE_SPLICE)
    /* splice() was refused: what it left in the pipe goes first */
    n = sl_stream_proxy_leave_pipe(s, ctx, d);
    if (n != SL_DECLINED) {
        return n;
    }
#endif

    if (src->read->eof || !src->read->ready || src->read->delayed) {
        return 0;
    }

    if (b->start == NULL
        && sl_stream_proxy_take_buffer(ctx, d, s->connection->log) != SL_OK)
    {
        return SL_ERROR;
    }

    size = sl_stream_proxy_limit(s, ctx, src, d, rate,
                                 (size_t) (b->end - b->last));
    if (size == 0) {
        return 0;               /* full, or held back by the rate */
    }

    n = src->recv(src, b->last, size);

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n == 0 || n == SL_AGAIN) {
        return 0;
    }

    sl_stream_proxy_check_mark(src);

    if (rate) {
        delay = (sl_msec_t) ((off_t) n * 1000 / (off_t) rate);
        if (delay > 0) {
            src->read->delayed = 1;
            sl_add_timer(src->read, delay);
        }
    }

    sl_stream_proxy_count_in(s, ctx, src, d, n);
    b->last += n;

    if (b->last == b->end) {
        d->bulk = 1;
    }

    return 1;
}

/*
 * proxy_protocol: the rest of the header to the upstream. SL_OK when it
 * all went, SL_AGAIN when some is left, SL_ERROR.
 */
static sl_int_t
sl_stream_proxy_send_header(sl_stream_proxy_ctx_t *ctx, sl_connection_t *pc)
{
    ssize_t  n;

    while (ctx->header_sent < ctx->header_len) {
        if (!pc->write->ready) {
            return SL_AGAIN;
        }

        n = pc->send(pc, ctx->header + ctx->header_sent,
                     ctx->header_len - ctx->header_sent);

        if (n == SL_ERROR) {
            return SL_ERROR;
        }

        if (n <= 0) {
            return SL_AGAIN;
        }

        ctx->header_sent += (size_t) n;
    }

    return SL_OK;
}

#if (SL_HAVE_SPLICE)

/*
 * proxy_splice: a direction goes through a pipe with splice(2) while
 * nothing else stands in the way: no rate on it, no PROXY protocol header
 * still to go before it, and nothing in its user-space buffer (what a
 * preread phase read, or what came while connecting, goes first).
 */
static sl_uint_t
sl_stream_proxy_can_splice(sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d, size_t rate)
{
    if (!ctx->splice) {
        return 0;               /* what a pipe holds is read out of it */
    }

    if (d->pipe.len > 0) {
        return 1;               /* what the pipe holds goes out its way */
    }

    /*
     * A direction starts on the buffers, and takes a pipe once a read has
     * filled proxy_buffer_size: small exchanges never pay for two pipes,
     * their fcntl() and four close() calls, nor for splice()'s extra
     * calls per message.
     */
    return d->bulk && rate == 0 && d->buf.pos == d->buf.last
           && (d != &ctx->up || ctx->header_sent == ctx->header_len);
}

/*
 * The session goes on without splice: the system is out of pipes
 * (pipe2() failed: the per-user pipe limits, EMFILE, ENFILE), or its
 * kernel refused to splice (SL_DECLINED: EINVAL, ENOSYS, ENOMEM...).
 * It costs the session nothing but the copy: splice is off for it from
 * here on, what the pipes hold is read out of them into the buffers (it
 * was counted when it came), and the buffered path goes on.
 *
 * The first such session of a worker, for each of the two reasons, logs
 * it at warn with the system's errno: not the peer's doing, so not info,
 * and nothing is lost, so not an error, but an operator who asked for
 * splice should learn that this system will not give it. The sessions
 * after it log the same line at info, the level of "proxying with
 * splice()": a system out of pipes is one fact, and thousands of
 * sessions repeating it at warn would bury everything else (as nginx
 * logs a repeat of a refusal one level lower, limit_req_log_level);
 * each session can still be told spliced or not at info.
 */
static void
sl_stream_proxy_no_splice(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_uint_t *warned, sl_err_t err, const char *call)
{
    sl_log_error(*warned ? SL_LOG_INFO : SL_LOG_WARN, s->connection->log,
                 err, "%s failed, proxying without splice()", call);
    *warned = 1;
    ctx->splice = 0;
}

/* the pipe, made at the first use; SL_DECLINED: splice it is not */
static sl_int_t
sl_stream_proxy_open_pipe(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_stream_proxy_dir_t *d)
{
    sl_stream_proxy_main_conf_t  *pmcf;

    if (d->pipe.fd[0] != -1) {
        return SL_OK;
    }

    /* at most proxy_buffer_size: the session's memory stays as promised */
    if (sl_splice_pipe_open(&d->pipe, ctx->cache->size) != SL_OK) {
        pmcf = sl_stream_get_module_main_conf(s, sl_stream_proxy_module);
        sl_stream_proxy_no_splice(s, ctx, &pmcf->pipe_warned, errno,
                                  "pipe2()");
        return SL_DECLINED;
    }

    return SL_OK;
}

/* the kernel refused to splice (errno says why): 0, the buffers go on */
static sl_int_t
sl_stream_proxy_splice_refused(sl_stream_session_t *s,
    sl_stream_proxy_ctx_t *ctx)
{
    sl_stream_proxy_main_conf_t  *pmcf;

    pmcf = sl_stream_get_module_main_conf(s, sl_stream_proxy_module);
    sl_stream_proxy_no_splice(s, ctx, &pmcf->splice_warned, errno,
                              "splice()");
    return 0;
}

/* the pipe to dst: 1 when bytes went, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_proxy_splice_out(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *dst, sl_stream_proxy_dir_t *d)
{
    ssize_t  n;

    if (dst == NULL || d->pipe.len == 0 || !dst->write->ready) {
        return 0;
    }

    n = sl_splice_send(dst, &d->pipe, d->pipe.len);

    if (n == SL_DECLINED) {
        return sl_stream_proxy_splice_refused(s, ctx);
    }

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    return n > 0;
}

/* src into the pipe: 1 when bytes came, 0 when none, SL_ERROR */
static sl_int_t
sl_stream_proxy_splice_in(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *src, sl_stream_proxy_dir_t *d)
{
    ssize_t  n;

    if (!ctx->splice || src->read->eof || !src->read->ready
        || src->read->delayed)
    {
        return 0;
    }

    /* a full pipe, an urgent mark: the primitive's (src stays ready) */
    n = sl_splice_recv(src, &d->pipe, d->pipe.size - d->pipe.len);

    if (n == SL_DECLINED) {
        return sl_stream_proxy_splice_refused(s, ctx);
    }

    if (n == SL_ERROR) {
        return SL_ERROR;
    }

    if (n == 0 || n == SL_AGAIN) {
        return 0;
    }

    sl_stream_proxy_check_mark(src);

    if (!ctx->spliced) {
        ctx->spliced = 1;
        sl_log_error(SL_LOG_INFO, s->connection->log, 0,
                     "proxying with splice()");
    }

    sl_stream_proxy_count_in(s, ctx, src, d, n);
    return 1;
}

#endif

/*
 * One direction, src to dst through p: what p holds goes out, then more
 * comes in. Progress in *moved; SL_ERROR with *bad the side that failed.
 */
static sl_int_t
sl_stream_proxy_direction(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_connection_t *src, sl_connection_t *dst, sl_stream_proxy_dir_t *d,
    size_t rate, sl_uint_t *moved, sl_connection_t **bad)
{
    sl_int_t  a, b;

#if (SL_HAVE_SPLICE)
    if (dst != NULL && sl_stream_proxy_can_splice(ctx, d, rate)
        && sl_stream_proxy_open_pipe(s, ctx, d) == SL_OK)
    {
        a = sl_stream_proxy_splice_out(s, ctx, dst, d);
        if (a == SL_ERROR) {
            *bad = dst;
            return SL_ERROR;
        }

        b = sl_stream_proxy_splice_in(s, ctx, src, d);
        if (b == SL_ERROR) {
            *bad = src;
            return SL_ERROR;
        }

        *moved |= (sl_uint_t) (a | b);

        if (ctx->splice) {
            return SL_OK;
        }

        /* splice() was refused: the buffered path takes over at once */
    }
#endif

    a = sl_stream_proxy_send(dst, d);
    if (a == SL_ERROR) {
        *bad = dst;
        return SL_ERROR;
    }

#if (SL_HAVE_SPLICE)
    if (a == 1 && sl_stream_proxy_can_splice(ctx, d, rate)) {
        /* bulk, and the buffer is out: the next round takes the pipe */
        *moved = 1;
        return SL_OK;
    }
#endif

    b = sl_stream_proxy_recv(s, ctx, src, d, rate);
    if (b == SL_ERROR) {
        *bad = src;
        return SL_ERROR;
    }

    *moved |= (sl_uint_t) (a | b);
    return SL_OK;
}

/*
 * Moves bytes both ways until neither can, or the turn's budget of input
 * is spent: then the client's read event is posted for the next iteration
 * (its handler moves both ways; no event of its own in an idle session).
 * SL_ERROR with *bad the side that failed (a reset, a broken pipe: logged
 * at info by the I/O layer).
 */
static sl_int_t
sl_stream_proxy_move(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_uint_t *moved, sl_connection_t **bad)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_connection_t             *c = s->connection, *pc;
    sl_uint_t                    progress;
    sl_int_t                     a, b;
    off_t                        budget;

    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
    pc = ctx->connected ? ctx->peer.connection : NULL;

    if (pc != NULL && ctx->header_sent < ctx->header_len) {
        a = sl_stream_proxy_send_header(ctx, pc);
        if (a == SL_ERROR) {
            *bad = pc;
            return SL_ERROR;
        }

        if (a == SL_AGAIN) {
            /* no client data may pass the header: only reading goes on */
            b = sl_stream_proxy_recv(s, ctx, c, &ctx->up, pscf->upload_rate);
            if (b == SL_ERROR) {
                *bad = c;
                return SL_ERROR;
            }

            *moved |= (sl_uint_t) b;
            return SL_OK;
        }

        *moved = 1;
    }

    budget = ctx->up.received + ctx->down.received
             + (off_t) (SL_STREAM_TURN_BUFFERS * ctx->cache->size);

    do {
        progress = 0;

        if (sl_stream_proxy_direction(s, ctx, c, pc, &ctx->up,
                                      pscf->upload_rate, &progress, bad)
            != SL_OK)
        {
            return SL_ERROR;
        }

        if (pc != NULL
            && sl_stream_proxy_direction(s, ctx, pc, c, &ctx->down,
                                         pscf->download_rate, &progress, bad)
               != SL_OK)
        {
            return SL_ERROR;
        }

        *moved |= progress;

        if (progress && ctx->up.received + ctx->down.received >= budget) {
            /* on at the next iteration, after the other sessions */
            sl_post_event(c->read, &c->loop->posted_next_events);
            break;
        }

    } while (progress);

    return SL_OK;
}

/*
 * proxy_half_close: a drained direction whose source ended gets our FIN;
 * on a TLS side our close_notify first, or the peer sees a truncation.
 */
static sl_int_t
sl_stream_proxy_half_close(sl_stream_proxy_dir_t *d, sl_connection_t *src,
    sl_connection_t *dst)
{
    sl_int_t  rc;

    if (d->shut || !src->read->eof || !sl_stream_proxy_drained(d)) {
        return SL_OK;
    }

    if (dst->ssl != NULL) {
        rc = sl_ssl_close_notify(dst);
        if (rc != SL_OK) {
            /* SL_AGAIN: again when dst is writable */
            return rc == SL_AGAIN ? SL_OK : SL_ERROR;
        }
    }

    if (shutdown(dst->fd, SHUT_WR) == -1) {
        sl_connection_error(dst, errno, "shutdown() failed");
        return SL_ERROR;
    }

    d->shut = 1;
    return SL_OK;
}

static void
sl_stream_proxy_disconnected(sl_stream_session_t *s,
    sl_stream_proxy_ctx_t *ctx, const char *who)
{
    sl_connection_t  *c = s->connection;

    sl_log_error(SL_LOG_INFO, c->log, 0, "%s disconnected, bytes from/to "
                 "client:%O/%O, bytes from/to upstream:%O/%O", who,
                 s->received, c->sent, ctx->down.received,
                 ctx->peer.connection ? ctx->peer.connection->sent : 0);

    sl_stream_proxy_finalize(s, SL_STREAM_OK);
}

/* SL_OK when the session ended here */
static sl_int_t
sl_stream_proxy_test_finalize(sl_stream_session_t *s,
    sl_stream_proxy_ctx_t *ctx)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_connection_t             *c = s->connection, *pc;
    sl_uint_t                    client_done, upstream_done;

    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
    pc = ctx->connected ? ctx->peer.connection : NULL;

    client_done = c->read->eof && sl_stream_proxy_drained(&ctx->up)
                  && (pc != NULL || !pscf->half_close);
    upstream_done = pc != NULL && pc->read->eof
                    && sl_stream_proxy_drained(&ctx->down);

    if (ctx->header_sent < ctx->header_len) {
        /* nothing ends, nor is shut, before the header is out */
        client_done = 0;
        if (pscf->half_close) {
            return SL_DECLINED;
        }
    }

    if (pscf->half_close && pc != NULL) {
        if (sl_stream_proxy_half_close(&ctx->up, c, pc) != SL_OK
            || sl_stream_proxy_half_close(&ctx->down, pc, c) != SL_OK)
        {
            sl_stream_proxy_finalize(s, SL_STREAM_OK);
            return SL_OK;
        }

        if (client_done && upstream_done) {
            sl_stream_proxy_disconnected(s, ctx, "upstream");
            return SL_OK;
        }

        return SL_DECLINED;
    }

    if (client_done) {
        sl_stream_proxy_disconnected(s, ctx, "client");
        return SL_OK;
    }

    if (upstream_done) {
        sl_stream_proxy_disconnected(s, ctx, "upstream");
        return SL_OK;
    }

    return SL_DECLINED;
}

/* tells the back end what we wait for; the idle timer on c->write */
static sl_int_t
sl_stream_proxy_wait(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx,
    sl_uint_t moved)
{
    sl_stream_proxy_srv_conf_t  *pscf;
    sl_connection_t             *c = s->connection, *pc;

    pc = ctx->connected ? ctx->peer.connection : NULL;

    if (sl_handle_read_event(c->read, c->read->eof ? SL_CLOSE_EVENT : 0)
        != SL_OK
        || sl_handle_write_event(c->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    if (pc == NULL) {
        return SL_OK;
    }

    if (sl_handle_read_event(pc->read, pc->read->eof ? SL_CLOSE_EVENT : 0)
        != SL_OK
        || sl_handle_write_event(pc->write, 0) != SL_OK)
    {
        return SL_ERROR;
    }

    if (c->read->delayed || pc->read->delayed) {
        /* a rate holds a side back: that is not idleness */
        if (c->write->timer_set) {
            sl_del_timer(c->write);
        }
        return SL_OK;
    }

    if (moved || !c->write->timer_set) {
        pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);
        sl_add_timer(c->write, pscf->timeout);
    }

    return SL_OK;
}

/*
 * Nothing in flight either way: connected, the header out, both sides
 * open and unthrottled, every buffer and pipe empty, nothing inside TLS.
 * Such a session waits on both peers, and a graceful shutdown may close
 * it (shutdown_idle).
 */
static sl_uint_t
sl_stream_proxy_idle(sl_stream_session_t *s, sl_stream_proxy_ctx_t *ctx)
{
    sl_connection_t  *c = s->connection, *pc;

    if (!ctx->connected || ctx->header_sent < ctx->header_len) {
        return 0;
    }

    pc = ctx->peer.connection;

    return !c->read->posted
           && sl_stream_proxy_drained(&ctx->up)
           && sl_stream_proxy_drained(&ctx->down)
           && !c->read->eof && !pc->read->eof
           && !c->read->delayed && !pc->read->delayed
           && sl_stream_io_quiet(pc);
}

static void
sl_stream_proxy_process(sl_stream_session_t *s)
{
    sl_stream_proxy_ctx_t  *ctx;
    sl_connection_t        *bad = NULL;
    sl_uint_t               moved = 0;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);

    if (sl_stream_proxy_move(s, ctx, &moved, &bad) != SL_OK) {
        /* one side failed: the other learns it by a reset */
        ctx->reset = 1;
        if (bad == s->connection) {
            sl_stream_proxy_disconnected(s, ctx, "client");
        } else {
            sl_stream_proxy_disconnected(s, ctx, "upstream");
        }
        return;
    }

    if (sl_stream_proxy_test_finalize(s, ctx) == SL_OK) {
        return;
    }

    if (ctx->up.buf.start != NULL && ctx->up.buf.pos == ctx->up.buf.last) {
        sl_stream_proxy_release_buffer(ctx, &ctx->up);
    }

    if (ctx->down.buf.start != NULL
        && ctx->down.buf.pos == ctx->down.buf.last)
    {
        sl_stream_proxy_release_buffer(ctx, &ctx->down);
    }

    if (sl_stream_proxy_wait(s, ctx, moved) != SL_OK) {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (sl_stream_set_idle(s, sl_stream_proxy_idle(s, ctx),
                           ctx->connected ? ctx->peer.connection : NULL))
    {
        sl_stream_proxy_finalize(s, SL_STREAM_OK);
    }
}

/* every event of both connections once connected (and the client's before) */
static void
sl_stream_proxy_handler_event(sl_event_t *ev)
{
    sl_connection_t        *c = ev->data;
    sl_stream_session_t    *s = c->data;

    /* a graceful shutdown: closed below unless input came meanwhile */
    s->connection->close = 0;

    if (ev->timedout) {
        ev->timedout = 0;

        if (ev->delayed) {
            ev->delayed = 0;    /* the rate allows more now */

        } else {
            sl_connection_error(s->connection, SL_ETIMEDOUT,
                                "connection timed out");
            sl_stream_proxy_finalize(s, SL_STREAM_OK);
            return;
        }
    }

    sl_stream_proxy_process(s);
}

/* --- the end ------------------------------------------------------------- */

static void
sl_stream_proxy_finalize(sl_stream_session_t *s, sl_uint_t rc)
{
    sl_stream_proxy_ctx_t  *ctx;
    sl_peer_connection_t   *peer;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    peer = &ctx->peer;

    sl_stream_proxy_close_state(s, ctx);

    /* a turn it still had posted (c->read) goes with sl_close_connection() */

    if (peer->free != NULL && peer->sockaddr != NULL) {
        peer->free(peer, peer->data, 0);
        peer->sockaddr = NULL;
    }

    if (peer->connection != NULL) {
        sl_stream_proxy_ssl_close(peer->connection, !ctx->reset);
        if (ctx->reset) {
            sl_connection_reset(peer->connection);
        }
        sl_close_connection(peer->connection);
        peer->connection = NULL;
    }

    if (ctx->reset) {
        sl_connection_reset(s->connection);

        if (s->connection->ssl != NULL) {
            /* a reset says no goodbye, nor waits to say one */
            s->connection->ssl->no_send_shutdown = 1;
            s->connection->ssl->no_wait_shutdown = 1;
        }
    }

    sl_stream_proxy_release_buffer(ctx, &ctx->up);
    sl_stream_proxy_release_buffer(ctx, &ctx->down);
    sl_stream_proxy_close_pipe(&ctx->up);
    sl_stream_proxy_close_pipe(&ctx->down);

    sl_stream_finalize_session(s, rc);
}

/* --- the content handler ------------------------------------------------- */

static sl_int_t
sl_stream_proxy_init_ctx(sl_stream_session_t *s,
    sl_stream_proxy_srv_conf_t *pscf, sl_stream_proxy_ctx_t **ctxp)
{
    sl_stream_proxy_ctx_t  *ctx;
    sl_pool_cleanup_t      *cln;
    sl_connection_t        *c = s->connection;
    u_char                 *p;

    ctx = sl_pcalloc(c->pool, sizeof(sl_stream_proxy_ctx_t));
    cln = sl_pool_cleanup_add(c->pool, 0);
    if (ctx == NULL || cln == NULL
        || sl_array_init(&ctx->states, c->pool, 1,
                         sizeof(sl_stream_proxy_state_t)) != SL_OK)
    {
        return SL_ERROR;
    }

    ctx->cache = sl_event_loop_bufcache(c->loop, pscf->buffer_size);
    if (ctx->cache == NULL) {
        return SL_ERROR;
    }

    sl_splice_pipe_init(&ctx->up.pipe);
    sl_splice_pipe_init(&ctx->down.pipe);

    cln->handler = sl_stream_proxy_cleanup;
    cln->data = ctx;

    if (pscf->proxy_protocol) {
        ctx->header = sl_pnalloc(c->pool, SL_PROXY_PROTOCOL_MAX_WRITE);
        if (ctx->header == NULL) {
            return SL_ERROR;
        }

        p = sl_proxy_protocol_write(c, ctx->header,
                                    ctx->header + SL_PROXY_PROTOCOL_MAX_WRITE,
                                    pscf->proxy_protocol_version);
        if (p == NULL) {
            return SL_ERROR;
        }

        ctx->header_len = (size_t) (p - ctx->header);
    }

    /* what a preread phase read goes to the upstream first */
    if (s->preread != NULL && s->preread->pos < s->preread->last) {
        ctx->up.buf = *s->preread;
        ctx->up.preread = 1;
        s->preread = NULL;
    }

    if (sl_stream_set_ctx(s, ctx, sl_stream_proxy_module) != SL_OK) {
        return SL_ERROR;
    }

    *ctxp = ctx;
    return SL_OK;
}

/*
 * The session's local address. As in nginx, a value that comes out empty
 * binds nothing, and one that is not an address is logged and ignored.
 */
static sl_int_t
sl_stream_proxy_set_local(sl_stream_session_t *s,
    sl_stream_proxy_local_t *local, sl_peer_connection_t *peer)
{
    sl_stream_proxy_local_t  addr;
    sl_str_t                 value;

    peer->transparent = local->transparent;

    if (local->value == NULL) {
        peer->local = local->sockaddr;
        peer->local_socklen = local->socklen;
        return SL_OK;
    }

    if (sl_stream_complex_value(s, local->value, &value) != SL_OK) {
        return SL_ERROR;
    }

    if (value.len == 0) {
        return SL_OK;
    }

    if (sl_stream_proxy_parse_local(s->connection->pool, &value, &addr)
        != SL_OK)
    {
        sl_log_error(SL_LOG_ERR, s->connection->log, 0,
                     "invalid local address \"%V\"", &value);
        return SL_OK;
    }

    peer->local = addr.sockaddr;
    peer->local_socklen = addr.socklen;
    return SL_OK;
}

/* proxies the session to uscf, or to what proxy_pass names when NULL */
static void
sl_stream_proxy_run(sl_stream_session_t *s,
    sl_stream_upstream_srv_conf_t *uscf)
{
    sl_stream_proxy_srv_conf_t     *pscf;
    sl_stream_proxy_ctx_t          *ctx;
    sl_peer_connection_t           *peer;
    sl_connection_t                *c = s->connection;

    pscf = sl_stream_get_module_srv_conf(s, sl_stream_proxy_module);

    if (sl_stream_proxy_init_ctx(s, pscf, &ctx) != SL_OK) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    s->log_handler = sl_stream_proxy_log_error;
    c->log->action = "connecting to upstream";

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    c->read->handler = sl_stream_proxy_handler_event;
    c->write->handler = sl_stream_proxy_handler_event;

    sl_stream_proxy_oob_inline(c);

    peer = &ctx->peer;
    peer->log = c->log;
    peer->log_error = SL_ERROR_ERR;
    peer->type = SOCK_STREAM;
    peer->start_time = sl_current_msec(c->loop);
    peer->so_keepalive = pscf->socket_keepalive ? 1 : 0;

    if (pscf->local != NULL
        && sl_stream_proxy_set_local(s, pscf->local, peer) != SL_OK)
    {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (uscf == NULL) {
        uscf = pscf->upstream;
    }

    if (uscf == NULL && pscf->upstream_value != NULL) {
        uscf = sl_stream_proxy_eval(s, pscf);
        if (uscf == NULL) {
            sl_stream_proxy_finalize(s, SL_STREAM_BAD_GATEWAY);
            return;
        }
    }

    ctx->upstream_host = uscf->host;

    if (uscf->peer.init(s, uscf, peer) != SL_OK) {
        sl_stream_proxy_finalize(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (pscf->next_upstream_tries && peer->tries > pscf->next_upstream_tries) {
        peer->tries = pscf->next_upstream_tries;
    }

    sl_stream_proxy_connect(s);
}

static void
sl_stream_proxy_handler(sl_stream_session_t *s)
{
    sl_stream_proxy_run(s, NULL);
}

sl_int_t
sl_stream_proxy_to_upstream(sl_stream_session_t *s, sl_str_t *name)
{
    sl_stream_upstream_main_conf_t  *umcf;
    sl_stream_upstream_srv_conf_t   *uscf;

    umcf = sl_stream_get_module_main_conf(s, sl_stream_upstream_module);
    uscf = umcf != NULL ? sl_stream_upstream_find(umcf, name) : NULL;

    if (uscf == NULL || uscf->peer.init == NULL) {
        return SL_DECLINED;
    }

    sl_stream_proxy_run(s, uscf);
    return SL_OK;
}

/* --- variables ----------------------------------------------------------- */

/* the records, or NULL when there are none (the variable is not found) */
static sl_stream_proxy_state_t *
sl_stream_proxy_states(sl_stream_session_t *s, sl_uint_t *n)
{
    sl_stream_proxy_ctx_t  *ctx;

    ctx = sl_stream_get_module_ctx(s, sl_stream_proxy_module);
    if (ctx == NULL || ctx->states.nelts == 0) {
        return NULL;
    }

    *n = ctx->states.nelts;
    return ctx->states.elts;
}

static sl_int_t
sl_stream_proxy_not_found(sl_stream_variable_value_t *v)
{
    v->not_found = 1;
    return SL_OK;
}

/* the value written from v->data up to end */
static sl_int_t
sl_stream_proxy_found(sl_stream_variable_value_t *v, u_char *end)
{
    v->len = (unsigned) (end - v->data);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t
sl_stream_proxy_addr_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_proxy_state_t  *st;
    sl_uint_t                 i, n = 0;
    size_t                    len = 0;
    u_char                   *p;

    sl_unused(data);

    st = sl_stream_proxy_states(s, &n);
    if (st == NULL) {
        return sl_stream_proxy_not_found(v);
    }

    for (i = 0; i < n; i++) {
        len += (st[i].peer ? st[i].peer->len : 0) + 2;
    }

    p = sl_pnalloc(s->connection->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }

    v->data = p;

    for (i = 0; i < n; i++) {
        if (st[i].peer != NULL) {
            p = sl_cpymem(p, st[i].peer->data, st[i].peer->len);
        }
        if (i + 1 < n) {
            *p++ = ',';
            *p++ = ' ';
        }
    }

    return sl_stream_proxy_found(v, p);
}

/* data: 0 bytes sent, 1 bytes received */
static sl_int_t
sl_stream_proxy_bytes_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_proxy_state_t  *st;
    sl_uint_t                 i, n = 0;
    u_char                   *p, *last;

    st = sl_stream_proxy_states(s, &n);
    if (st == NULL) {
        return sl_stream_proxy_not_found(v);
    }

    p = sl_pnalloc(s->connection->pool, n * (SL_OFF_T_LEN + 2));
    if (p == NULL) {
        return SL_ERROR;
    }

    v->data = p;
    last = p + n * (SL_OFF_T_LEN + 2);

    for (i = 0; i < n; i++) {
        p = sl_slprintf(p, last, "%O%s", data ? st[i].bytes_received
                                              : st[i].bytes_sent,
                        i + 1 < n ? ", " : "");
    }

    return sl_stream_proxy_found(v, p);
}

/* data: 0 session, 1 first byte, 2 connect; "-" when it did not happen */
static sl_int_t
sl_stream_proxy_time_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_proxy_state_t  *st;
    sl_uint_t                 i, n = 0;
    sl_msec_t                 ms;
    u_char                   *p, *last;
    size_t                    len;

    st = sl_stream_proxy_states(s, &n);
    if (st == NULL) {
        return sl_stream_proxy_not_found(v);
    }

    len = n * (SL_TIME_T_LEN + 4 + 2);
    p = sl_pnalloc(s->connection->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }

    v->data = p;
    last = p + len;

    for (i = 0; i < n; i++) {
        ms = data == 1 ? st[i].first_byte_time
             : data == 2 ? st[i].connect_time : st[i].response_time;

        if (ms == (sl_msec_t) -1) {
            p = sl_slprintf(p, last, "-");
        } else {
            p = sl_slprintf(p, last, "%T.%03M", (time_t) (ms / 1000),
                            ms % 1000);
        }

        if (i + 1 < n) {
            p = sl_slprintf(p, last, ", ");
        }
    }

    return sl_stream_proxy_found(v, p);
}

typedef struct {
    sl_str_t                    name;
    sl_stream_get_variable_pt   get;
    uintptr_t                   data;
} sl_stream_proxy_var_t;

static sl_stream_proxy_var_t  sl_stream_proxy_vars[] = {
    { sl_string("upstream_addr"), sl_stream_proxy_addr_variable, 0 },
    { sl_string("upstream_bytes_sent"), sl_stream_proxy_bytes_variable, 0 },
    { sl_string("upstream_bytes_received"),
      sl_stream_proxy_bytes_variable, 1 },
    { sl_string("upstream_connect_time"), sl_stream_proxy_time_variable, 2 },
    { sl_string("upstream_first_byte_time"),
      sl_stream_proxy_time_variable, 1 },
    { sl_string("upstream_session_time"), sl_stream_proxy_time_variable, 0 },
    { sl_null_string, NULL, 0 }
};

static sl_int_t
sl_stream_proxy_add_variables(sl_conf_t *cf)
{
    sl_stream_proxy_var_t  *pv;
    sl_stream_variable_t   *var;

    for (pv = sl_stream_proxy_vars; pv->name.len; pv++) {
        var = sl_stream_add_variable(cf, &pv->name,
                                     SL_STREAM_VAR_NOCACHEABLE);
        if (var == NULL) {
            return SL_ERROR;
        }

        var->get_handler = pv->get;
        var->data = pv->data;
    }

    return SL_OK;
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_proxy_create_main_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_stream_proxy_main_conf_t));
}

static void *
sl_stream_proxy_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_proxy_srv_conf_t  *conf;

    conf = sl_pcalloc(cf->pool, sizeof(sl_stream_proxy_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->connect_timeout = SL_CONF_UNSET_MSEC;
    conf->timeout = SL_CONF_UNSET_MSEC;
    conf->next_upstream_timeout = SL_CONF_UNSET_MSEC;
    conf->buffer_size = SL_CONF_UNSET_SIZE;
    conf->upload_rate = SL_CONF_UNSET_SIZE;
    conf->download_rate = SL_CONF_UNSET_SIZE;
    conf->next_upstream_tries = SL_CONF_UNSET_UINT;
    conf->next_upstream = SL_CONF_UNSET;
    conf->half_close = SL_CONF_UNSET;
    conf->socket_keepalive = SL_CONF_UNSET;
    conf->proxy_protocol = SL_CONF_UNSET;
    conf->splice = SL_CONF_UNSET;
    conf->proxy_protocol_version = SL_CONF_UNSET_UINT;
    conf->local = SL_CONF_UNSET_PTR;

    conf->ssl_enable = SL_CONF_UNSET;
    conf->ssl_session_reuse = SL_CONF_UNSET;
    conf->ssl_server_name = SL_CONF_UNSET;
    conf->ssl_verify = SL_CONF_UNSET;
    conf->ssl_verify_depth = SL_CONF_UNSET_UINT;
    conf->ssl_passwords = SL_CONF_UNSET_PTR;
    conf->ssl_certificate_cache = SL_CONF_UNSET_PTR;
    conf->ssl_conf_commands = SL_CONF_UNSET_PTR;
    conf->ssl_name = SL_CONF_UNSET_PTR;
    conf->ssl_alpn = SL_CONF_UNSET_PTR;
    return conf;
}

/* proxy_ssl_alpn without variables: offered by the context itself */
static sl_int_t
sl_stream_proxy_ssl_alpn_ctx(sl_conf_t *cf, sl_stream_proxy_srv_conf_t *pscf)
{
    sl_stream_complex_value_t  *cv;
    sl_array_t                 *protos;
    sl_str_t                   *p;
    sl_uint_t                   i;

    if (pscf->ssl_alpn == NULL || pscf->ssl_alpn_variables) {
        return SL_OK;
    }

    protos = sl_array_create(cf->pool, pscf->ssl_alpn->nelts,
                             sizeof(sl_str_t));
    if (protos == NULL) {
        return SL_ERROR;
    }

    cv = pscf->ssl_alpn->elts;

    for (i = 0; i < pscf->ssl_alpn->nelts; i++) {
        /* an empty protocol is left out, as one a variable makes empty */
        if (cv[i].value.len == 0) {
            continue;
        }

        p = sl_array_push(protos);
        if (p == NULL) {
            return SL_ERROR;
        }

        *p = cv[i].value;
    }

    return sl_ssl_alpn(cf, pscf->ssl, protos);
}

/* the client context of a server with proxy_ssl on and a proxy_pass */
static sl_int_t
sl_stream_proxy_set_ssl(sl_conf_t *cf, sl_stream_proxy_srv_conf_t *pscf)
{
    sl_array_t  *certs, *keys;
    sl_str_t    *v;

    pscf->ssl = sl_pcalloc(cf->pool, sizeof(sl_ssl_t));
    if (pscf->ssl == NULL
        || sl_ssl_create(cf, pscf->ssl, pscf->ssl_protocols, SL_SSL_CLIENT,
                         pscf) != SL_OK
        || sl_ssl_ciphers(cf, pscf->ssl, &pscf->ssl_ciphers, 0) != SL_OK
        || sl_stream_proxy_ssl_alpn_ctx(cf, pscf) != SL_OK)
    {
        return SL_ERROR;
    }

    if (pscf->ssl_certificate.len) {
        if (pscf->ssl_certificate_key.len == 0) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "no \"proxy_ssl_"
                         "certificate_key\" is defined for certificate "
                         "\"%V\"", &pscf->ssl_certificate);
            return SL_ERROR;
        }

        if (sl_stream_proxy_ssl_certificate_values(cf, pscf) != SL_OK) {
            return SL_ERROR;
        }
    }

    if (pscf->ssl_certificate.len && pscf->ssl_certificate_values == NULL) {
        certs = sl_array_create(cf->pool, 1, sizeof(sl_str_t));
        keys = sl_array_create(cf->pool, 1, sizeof(sl_str_t));
        if (certs == NULL || keys == NULL) {
            return SL_ERROR;
        }

        v = sl_array_push(certs);
        *v = pscf->ssl_certificate;
        v = sl_array_push(keys);
        *v = pscf->ssl_certificate_key;

        if (sl_ssl_certificates(cf, pscf->ssl, certs, keys,
                                pscf->ssl_passwords) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    if (pscf->ssl_verify) {
        if (pscf->ssl_trusted_certificate.len == 0) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "no proxy_ssl_trusted_"
                         "certificate for proxy_ssl_verify");
            return SL_ERROR;
        }

        if (sl_ssl_trusted_certificate(cf, pscf->ssl,
                                       &pscf->ssl_trusted_certificate,
                                       (sl_int_t) pscf->ssl_verify_depth)
            != SL_OK)
        {
            return SL_ERROR;
        }
    }

    if (pscf->ssl_conf_commands != NULL
        && sl_ssl_conf_commands(cf, pscf->ssl, pscf->ssl_conf_commands)
           != SL_OK)
    {
        return SL_ERROR;
    }

    if (!pscf->ssl_session_reuse) {
        SSL_CTX_set_session_cache_mode(pscf->ssl->ctx, SSL_SESS_CACHE_OFF);
        return SL_OK;
    }

    /* the sessions are kept by the balancer's peers, not by OpenSSL */
    SSL_CTX_set_session_cache_mode(pscf->ssl->ctx, SSL_SESS_CACHE_CLIENT
                                   | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(pscf->ssl->ctx, sl_stream_proxy_ssl_new_session);
    return SL_OK;
}

static char *
sl_stream_proxy_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_proxy_srv_conf_t  *prev = parent;
    sl_stream_proxy_srv_conf_t  *conf = child;

    sl_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout,
                             60000);
    sl_conf_merge_msec_value(conf->timeout, prev->timeout, 600000);
    sl_conf_merge_msec_value(conf->next_upstream_timeout,
                             prev->next_upstream_timeout, 0);
    sl_conf_merge_size_value(conf->buffer_size, prev->buffer_size, 16384);
    sl_conf_merge_size_value(conf->upload_rate, prev->upload_rate, 0);
    sl_conf_merge_size_value(conf->download_rate, prev->download_rate, 0);
    sl_conf_merge_uint_value(conf->next_upstream_tries,
                             prev->next_upstream_tries, 0);
    sl_conf_merge_value(conf->next_upstream, prev->next_upstream, 1);
    sl_conf_merge_value(conf->half_close, prev->half_close, 0);
    sl_conf_merge_value(conf->socket_keepalive, prev->socket_keepalive, 0);
    sl_conf_merge_value(conf->proxy_protocol, prev->proxy_protocol, 0);
    sl_conf_merge_value(conf->splice, prev->splice, 1);
    sl_conf_merge_uint_value(conf->proxy_protocol_version,
                             prev->proxy_protocol_version, 1);
    sl_conf_merge_ptr_value(conf->local, prev->local, NULL);

    sl_conf_merge_value(conf->ssl_enable, prev->ssl_enable, 0);
    sl_conf_merge_value(conf->ssl_session_reuse, prev->ssl_session_reuse, 1);
    sl_conf_merge_value(conf->ssl_server_name, prev->ssl_server_name, 0);
    sl_conf_merge_value(conf->ssl_verify, prev->ssl_verify, 0);
    sl_conf_merge_bitmask_value(conf->ssl_protocols, prev->ssl_protocols,
                                SL_SSL_DEFAULT_PROTOCOLS);
    sl_conf_merge_uint_value(conf->ssl_verify_depth, prev->ssl_verify_depth,
                             1);
    sl_conf_merge_str_value(conf->ssl_ciphers, prev->ssl_ciphers, "DEFAULT");
    sl_conf_merge_str_value(conf->ssl_certificate, prev->ssl_certificate,
                            "");
    sl_conf_merge_str_value(conf->ssl_certificate_key,
                            prev->ssl_certificate_key, "");
    sl_conf_merge_str_value(conf->ssl_trusted_certificate,
                            prev->ssl_trusted_certificate, "");
    sl_conf_merge_ptr_value(conf->ssl_passwords, prev->ssl_passwords, NULL);
    sl_conf_merge_ptr_value(conf->ssl_certificate_cache,
                            prev->ssl_certificate_cache, NULL);
    sl_conf_merge_ptr_value(conf->ssl_conf_commands, prev->ssl_conf_commands,
                            NULL);
    sl_conf_merge_ptr_value(conf->ssl_name, prev->ssl_name, NULL);

    if (conf->ssl_alpn == SL_CONF_UNSET_PTR) {
        conf->ssl_alpn = prev->ssl_alpn == SL_CONF_UNSET_PTR
                         ? NULL : prev->ssl_alpn;
        conf->ssl_alpn_variables = prev->ssl_alpn_variables;
    }

    if (conf->ssl_enable && (conf->upstream || conf->upstream_value)
        && sl_stream_proxy_set_ssl(cf, conf) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/*
 * The certificate and key as values, when either has a variable: then
 * they are loaded per connection, and the passwords must outlive the
 * reading of the configuration.
 */
static sl_int_t
sl_stream_proxy_ssl_certificate_values(sl_conf_t *cf,
    sl_stream_proxy_srv_conf_t *pscf)
{
    sl_stream_complex_value_t  *cv;

    cv = sl_palloc(cf->pool, 2 * sizeof(sl_stream_complex_value_t));
    if (cv == NULL
        || sl_stream_compile_complex_value(cf, &pscf->ssl_certificate, &cv[0])
           != SL_OK
        || sl_stream_compile_complex_value(cf, &pscf->ssl_certificate_key,
                                           &cv[1]) != SL_OK)
    {
        return SL_ERROR;
    }

    if (cv[0].parts == NULL && cv[1].parts == NULL) {
        return SL_OK;
    }

    pscf->ssl_certificate_values = cv;

    if (pscf->ssl_passwords != NULL) {
        pscf->ssl_passwords = sl_ssl_preserve_passwords(cf,
                                                        pscf->ssl_passwords);
        if (pscf->ssl_passwords == NULL) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static char *
sl_stream_proxy_ssl_certificate_cache(sl_conf_t *cf, sl_command_t *cmd,
    void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;

    sl_unused(cmd);

    return sl_ssl_cache_conf(cf, &pscf->ssl_certificate_cache);
}

static char *
sl_stream_proxy_ssl_password_file(sl_conf_t *cf, sl_command_t *cmd,
    void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;
    sl_str_t                    *value = cf->args->elts;

    sl_unused(cmd);

    if (pscf->ssl_passwords != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    pscf->ssl_passwords = sl_ssl_read_password_file(cf, &value[1]);
    if (pscf->ssl_passwords == NULL) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static char *
sl_stream_proxy_ssl_conf_command(sl_conf_t *cf, sl_command_t *cmd,
    void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;

    sl_unused(cmd);

    return sl_ssl_conf_command_add(cf, &pscf->ssl_conf_commands) == SL_OK
           ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *
sl_stream_proxy_ssl_name(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;
    sl_str_t                    *value = cf->args->elts;

    sl_unused(cmd);

    if (pscf->ssl_name != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    pscf->ssl_name = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
    if (pscf->ssl_name == NULL
        || sl_stream_compile_complex_value(cf, &value[1], pscf->ssl_name)
           != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* proxy_ssl_alpn protocol ...: each may have variables */
static char *
sl_stream_proxy_ssl_alpn(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;
    sl_stream_complex_value_t   *cv;
    sl_str_t                    *value = cf->args->elts;
    sl_uint_t                    i;

    sl_unused(cmd);

    if (pscf->ssl_alpn != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    pscf->ssl_alpn = sl_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(sl_stream_complex_value_t));
    if (pscf->ssl_alpn == NULL) {
        return SL_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        cv = sl_array_push(pscf->ssl_alpn);
        if (cv == NULL
            || sl_stream_compile_complex_value(cf, &value[i], cv) != SL_OK)
        {
            return SL_CONF_ERROR;
        }

        if (cv->parts != NULL) {
            pscf->ssl_alpn_variables = 1;

        } else if (value[i].len > 255) {
            /* one a variable makes too long is left out instead */
            return "protocol too long";
        }
    }

    return SL_CONF_OK;
}

static char *
sl_stream_proxy_pass(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;
    sl_stream_core_srv_conf_t   *cscf;
    sl_str_t                    *value = cf->args->elts, *url = &value[1];
    sl_url_t                     u;

    sl_unused(cmd);

    if (pscf->upstream != NULL || pscf->upstream_value != NULL) {
        return "is duplicate";
    }

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);
    cscf->handler = sl_stream_proxy_handler;

    if (memchr(url->data, '$', url->len) != NULL) {
        pscf->upstream_value = sl_palloc(cf->pool,
                                         sizeof(sl_stream_complex_value_t));
        if (pscf->upstream_value == NULL
            || sl_stream_compile_complex_value(cf, url, pscf->upstream_value)
               != SL_OK)
        {
            return SL_CONF_ERROR;
        }

        return SL_CONF_OK;
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = *url;

    if (!(url->len >= 5 && sl_strncasecmp(url->data, (u_char *) "unix:", 5)
                           == 0)
        && memchr(url->data, ':', url->len) == NULL)
    {
        /* a name without a port: an upstream{}, before or after */
        u.host = *url;
        u.no_port = 1;

    } else if (sl_parse_url(cf->pool, &u) != SL_OK) {
        if (u.err != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in \"%V\"", u.err,
                              &u.url);
        }
        return SL_CONF_ERROR;
    }

    pscf->upstream = sl_stream_upstream_add(cf, &u, 0);
    if (pscf->upstream == NULL) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* "[::1]", "127.0.0.1", with a port or not */
static sl_int_t
sl_stream_proxy_parse_local(sl_pool_t *pool, sl_str_t *v,
    sl_stream_proxy_local_t *local)
{
    sl_sockaddr_t  *sa;
    sl_url_t        u;
    char            text[SL_INET6_ADDRSTRLEN + 3];

    sa = sl_pcalloc(pool, sizeof(sl_sockaddr_t));
    if (sa == NULL || v->len >= sizeof(text)) {
        return SL_ERROR;
    }

    sl_memcpy(text, v->data, v->len);
    text[v->len] = '\0';

    if (inet_pton(AF_INET, text, &sa->sockaddr_in.sin_addr) == 1) {
        sa->sockaddr_in.sin_family = AF_INET;
        local->sockaddr = &sa->sockaddr;
        local->socklen = sizeof(struct sockaddr_in);
        return SL_OK;
    }

    if (v->len > 2 && text[0] == '[' && text[v->len - 1] == ']') {
        text[v->len - 1] = '\0';
        if (inet_pton(AF_INET6, text + 1, &sa->sockaddr_in6.sin6_addr) == 1) {
            sa->sockaddr_in6.sin6_family = AF_INET6;
            local->sockaddr = &sa->sockaddr;
            local->socklen = sizeof(struct sockaddr_in6);
            return SL_OK;
        }
    }

    sl_memzero(&u, sizeof(sl_url_t));
    u.url = *v;
    u.no_resolve = 1;

    if (sl_parse_url(pool, &u) != SL_OK || u.naddrs == 0) {
        return SL_ERROR;
    }

    local->sockaddr = u.addrs[0].sockaddr;
    local->socklen = u.addrs[0].socklen;
    return SL_OK;
}

static char *
sl_stream_proxy_bind(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_proxy_srv_conf_t  *pscf = conf;
    sl_stream_proxy_local_t     *local;
    sl_str_t                    *value = cf->args->elts;

    sl_unused(cmd);

    if (pscf->local != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (cf->args->nelts == 2 && value[1].len == 3
        && sl_strncmp(value[1].data, "off", 3) == 0)
    {
        pscf->local = NULL;
        return SL_CONF_OK;
    }

    local = sl_pcalloc(cf->pool, sizeof(sl_stream_proxy_local_t));
    if (local == NULL) {
        return SL_CONF_ERROR;
    }

    if (memchr(value[1].data, '$', value[1].len) != NULL) {
        local->value = sl_palloc(cf->pool, sizeof(sl_stream_complex_value_t));
        if (local->value == NULL
            || sl_stream_compile_complex_value(cf, &value[1], local->value)
               != SL_OK)
        {
            return SL_CONF_ERROR;
        }

    } else if (sl_stream_proxy_parse_local(cf->pool, &value[1], local)
               != SL_OK)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid address \"%V\"",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (value[2].len != 11
            || sl_strncmp(value[2].data, "transparent", 11) != 0)
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter "
                              "\"%V\"", &value[2]);
            return SL_CONF_ERROR;
        }

#if defined(IP_TRANSPARENT)
        local->transparent = 1;
#else
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "transparent proxying is not "
                          "supported on this platform, ignored");
        return SL_CONF_ERROR;
#endif
    }

    pscf->local = local;
    return SL_CONF_OK;
}
