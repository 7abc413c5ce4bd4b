/*
 * sl_stream_ssl_module.c -- TLS termination for "listen ... ssl": the
 * ssl_* directives of nginx's stream ssl module, one TLS context per
 * server that has certificates (or rejects handshakes), the handshake in
 * the ssl phase, the SNI choice of the server among those that share an
 * address, and the $ssl_* variables.
 *
 * Contexts are built when a server's configuration is merged. A session
 * starts on the context of its address's default server; the client hello
 * callback then moves it to the server its SNI names (srv_conf and
 * SSL_CTX both) before OpenSSL decides anything, so that server's
 * protocols, ciphers and certificate answer. A server whose certificates
 * have variables gets them in a certificate callback instead, per
 * handshake (loaded, or found in ssl_certificate_cache, by the ssl
 * layer's sl_ssl_cache.c).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_ssl.h"
#include "sl_ssl_session_cache.h"
#include "sl_ssl_cache.h"

#define SL_STREAM_SSL_DEFAULT_CIPHERS  "HIGH:!aNULL:!MD5"
#define SL_STREAM_SSL_DEFAULT_ECDH     "auto"

/* where a directive was, for the errors found when contexts are built */
typedef struct {
    sl_str_t     file;
    sl_uint_t    line;
    sl_uint_t    is_param;
} sl_stream_ssl_loc_t;

/* the directives whose errors only OpenSSL finds, when merging */
enum {
    SL_SSL_LOC_CERTIFICATE = 0,
    SL_SSL_LOC_PASSWORD,
    SL_SSL_LOC_CIPHERS,
    SL_SSL_LOC_ECDH,
    SL_SSL_LOC_DHPARAM,
    SL_SSL_LOC_CONF_COMMAND,
    SL_SSL_LOC_CLIENT_CERT,
    SL_SSL_LOC_TRUSTED,
    SL_SSL_LOC_CRL,
    SL_SSL_LOC_TICKET_KEY,
    SL_SSL_LOC_ALPN,
    SL_SSL_LOC_SESSION_CACHE,
    SL_SSL_LOC_N
};

typedef struct {
    sl_ssl_t              ssl;          /* ssl.ctx NULL: no TLS here */

    sl_msec_t             handshake_timeout;
    sl_flag_t             prefer_server_ciphers;
    sl_flag_t             reject_handshake;
    sl_flag_t             session_tickets;
    sl_flag_t             renegotiation;

    sl_uint_t             protocols;
    sl_uint_t             verify;
    sl_uint_t             verify_depth;

    ssize_t               builtin_session_cache;
    sl_shm_zone_t        *shm_zone;             /* shared:NAME:SIZE */
    time_t                session_timeout;

    sl_array_t           *certificates;         /* sl_str_t */
    sl_array_t           *certificate_keys;
    /* with variables: cert, key, cert, key... (sl_stream_complex_value_t) */
    sl_array_t           *certificate_values;
    sl_ssl_cache_t       *certificate_cache;
    sl_array_t           *passwords;
    sl_array_t           *conf_commands;        /* sl_str_t[2] */
    sl_array_t           *session_ticket_keys;
    sl_array_t           *alpn;                 /* sl_str_t */

    sl_str_t              dhparam;
    sl_str_t              ecdh_curve;
    sl_str_t              client_certificate;
    sl_str_t              trusted_certificate;
    sl_str_t              crl;
    sl_str_t              ciphers;

    sl_stream_ssl_loc_t   loc[SL_SSL_LOC_N];
} sl_stream_ssl_srv_conf_t;

static sl_int_t sl_stream_ssl_preconfiguration(sl_conf_t *cf);
static sl_int_t sl_stream_ssl_postconfiguration(sl_conf_t *cf);
static void *sl_stream_ssl_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_ssl_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static char *sl_stream_ssl_located(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_ssl_password_file(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_ssl_session_cache(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_ssl_conf_command(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_ssl_alpn(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_stream_ssl_certificate_cache(sl_conf_t *cf,
    sl_command_t *cmd, void *conf);

static sl_conf_enum_t  sl_stream_ssl_verify[] = {
    { sl_string("off"), SL_SSL_VERIFY_OFF },
    { sl_string("on"), SL_SSL_VERIFY_ON },
    { sl_string("optional"), SL_SSL_VERIFY_OPTIONAL },
    { sl_string("optional_no_ca"), SL_SSL_VERIFY_OPTIONAL_NO_CA },
    { sl_null_string, 0 }
};

#define SL_SSL_SRV  (SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF)
#define SL_SSL_OFF(field)  offsetof(sl_stream_ssl_srv_conf_t, field)

/*
 * The directives handled by sl_stream_ssl_located() must stay in the
 * order of the SL_SSL_LOC_* values: the index of the command is the
 * index of its location.
 */
static sl_command_t  sl_stream_ssl_commands[] = {

    { sl_string("ssl_certificate"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(certificates), NULL },

    { sl_string("ssl_password_file"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_password_file, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("ssl_ciphers"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(ciphers), NULL },

    { sl_string("ssl_ecdh_curve"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(ecdh_curve), NULL },

    { sl_string("ssl_dhparam"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(dhparam), NULL },

    { sl_string("ssl_conf_command"), SL_SSL_SRV | SL_CONF_TAKE2,
      sl_stream_ssl_conf_command, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("ssl_client_certificate"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(client_certificate), NULL },

    { sl_string("ssl_trusted_certificate"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(trusted_certificate), NULL },

    { sl_string("ssl_crl"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(crl), NULL },

    { sl_string("ssl_session_ticket_key"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_stream_ssl_located, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(session_ticket_keys), NULL },

    { sl_string("ssl_alpn"), SL_SSL_SRV | SL_CONF_1MORE,
      sl_stream_ssl_alpn, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("ssl_session_cache"), SL_SSL_SRV | SL_CONF_TAKE12,
      sl_stream_ssl_session_cache, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    { sl_string("ssl_certificate_cache"), SL_SSL_SRV | SL_CONF_1MORE,
      sl_stream_ssl_certificate_cache, SL_STREAM_SRV_CONF_OFFSET, 0, NULL },

    /* the rest: errors the generic setters find while reading */

    { sl_string("ssl_certificate_key"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_conf_set_str_array_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(certificate_keys), NULL },

    { sl_string("ssl_handshake_timeout"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_conf_set_msec_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(handshake_timeout), NULL },

    { sl_string("ssl_protocols"), SL_SSL_SRV | SL_CONF_1MORE,
      sl_conf_set_bitmask_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(protocols), &sl_ssl_protocol_names },

    { sl_string("ssl_prefer_server_ciphers"), SL_SSL_SRV | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(prefer_server_ciphers), NULL },

    { sl_string("ssl_verify_client"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_conf_set_enum_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(verify), &sl_stream_ssl_verify },

    { sl_string("ssl_verify_depth"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_conf_set_num_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(verify_depth), NULL },

    { sl_string("ssl_session_tickets"), SL_SSL_SRV | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(session_tickets), NULL },

    { sl_string("ssl_session_timeout"), SL_SSL_SRV | SL_CONF_TAKE1,
      sl_conf_set_sec_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(session_timeout), NULL },

    { sl_string("ssl_reject_handshake"), SL_SSL_SRV | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(reject_handshake), NULL },

    { sl_string("ssl_renegotiation"), SL_SSL_SRV | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_STREAM_SRV_CONF_OFFSET,
      SL_SSL_OFF(renegotiation), NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_ssl_module_ctx = {
    sl_stream_ssl_preconfiguration,
    sl_stream_ssl_postconfiguration,
    NULL,
    NULL,
    sl_stream_ssl_create_srv_conf,
    sl_stream_ssl_merge_srv_conf
};

sl_module_t  sl_stream_ssl_module = {
    .name = "sl_stream_ssl_module",
    .ctx = &sl_stream_ssl_module_ctx,
    .commands = sl_stream_ssl_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the variables ------------------------------------------------------- */

static sl_int_t sl_stream_ssl_variable(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);

typedef struct {
    sl_str_t             name;
    sl_ssl_variable_pt   get;
} sl_stream_ssl_var_t;

static sl_stream_ssl_var_t  sl_stream_ssl_vars[] = {
    { sl_string("ssl_protocol"), sl_ssl_get_protocol },
    { sl_string("ssl_cipher"), sl_ssl_get_cipher_name },
    { sl_string("ssl_session_id"), sl_ssl_get_session_id },
    { sl_string("ssl_session_reused"), sl_ssl_get_session_reused },
    { sl_string("ssl_server_name"), sl_ssl_get_server_name },
    { sl_string("ssl_alpn_protocol"), sl_ssl_get_alpn_protocol },
    { sl_string("ssl_client_verify"), sl_ssl_get_client_verify },
    { sl_string("ssl_client_s_dn"), sl_ssl_get_subject_dn },
    { sl_string("ssl_client_i_dn"), sl_ssl_get_issuer_dn },
    { sl_string("ssl_client_cert"), sl_ssl_get_certificate },
    { sl_string("ssl_client_fingerprint"), sl_ssl_get_fingerprint },
};

static sl_int_t
sl_stream_ssl_preconfiguration(sl_conf_t *cf)
{
    sl_stream_variable_t  *v;
    sl_str_t               name;
    sl_uint_t              i;

    for (i = 0; i < sl_nelems(sl_stream_ssl_vars); i++) {
        name = sl_stream_ssl_vars[i].name;

        v = sl_stream_add_variable(cf, &name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = sl_stream_ssl_variable;
        v->data = (uintptr_t) &sl_stream_ssl_vars[i];
    }

    return SL_OK;
}

/* empty on a connection without TLS, as nginx gives them */
static sl_int_t
sl_stream_ssl_variable(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    uintptr_t data)
{
    sl_stream_ssl_var_t  *var = (sl_stream_ssl_var_t *) data;
    sl_connection_t      *c = s->connection;
    sl_str_t              str;

    sl_str_null(&str);

    if (c->ssl != NULL && var->get(c, c->pool, &str) != SL_OK) {
        return SL_ERROR;
    }

    v->len = (unsigned) str.len;
    v->data = str.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

/* --- the handshake ------------------------------------------------------- */

/*
 * ssl_verify_client: the handshake let any certificate (or none) through;
 * the verdict is given here, and a refused session is not kept for
 * resumption.
 */
static sl_int_t
sl_stream_ssl_check_client(sl_stream_session_t *s)
{
    sl_stream_ssl_srv_conf_t  *sscf;
    sl_connection_t           *c = s->connection;

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_module);

    if (sl_ssl_verify_result(c, sscf->verify) == SL_OK) {
        return SL_OK;
    }

    if (c->ssl->session_ctx != NULL) {
        SSL_CTX_remove_session(c->ssl->session_ctx,
                               SSL_get0_session(c->ssl->connection));
    }

    return SL_ERROR;
}

static void
sl_stream_ssl_handshake_handler(sl_connection_t *c)
{
    sl_stream_session_t  *s = c->data;

    if (c->read->timedout || c->write->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, SL_ETIMEDOUT, "client timed out");
    }

    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }

    if (!c->ssl->handshaked) {
        sl_stream_finalize_session(s, SL_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    c->read->handler = sl_stream_session_handler;
    c->write->handler = sl_stream_empty_handler;

    /* the ssl phase handler runs again and sees the handshake done */
    sl_stream_core_run_phases(s);
}

static sl_int_t
sl_stream_ssl_init_connection(sl_stream_session_t *s)
{
    sl_stream_ssl_srv_conf_t  *sscf;
    sl_connection_t           *c = s->connection;
    sl_int_t                   rc;

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_module);

    if (sscf->ssl.ctx == NULL) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "no \"ssl_certificate\" is "
                     "defined for the server");
        return SL_ERROR;
    }

    if (sl_ssl_create_connection(&sscf->ssl, c, NULL, 0) != SL_OK) {
        return SL_ERROR;
    }

    /*
     * A connection passed on after preread: its hello is in s->preread,
     * for the handshake, which $bytes_received does not count.
     */
    if (s->preread != NULL) {
        if (sl_ssl_preread(c, s->preread) != SL_OK) {
            return SL_ERROR;
        }

        s->received -= s->preread->last - s->preread->pos;
        s->preread = NULL;
    }

    c->log->action = "SSL handshaking";

    rc = sl_ssl_handshake(c);

    if (rc == SL_ERROR) {
        return SL_ERROR;
    }

    if (rc == SL_AGAIN) {
        /* the SNI callback may have moved the session to another server */
        sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_module);
        sl_add_timer(c->read, sscf->handshake_timeout);
        c->ssl->handler = sl_stream_ssl_handshake_handler;
        return SL_AGAIN;
    }

    return sl_stream_ssl_check_client(s);
}

static sl_int_t
sl_stream_ssl_handler(sl_stream_session_t *s)
{
    sl_connection_t  *c = s->connection;

    if (!s->addr_conf->ssl) {
        return SL_DECLINED;
    }

    if (c->ssl == NULL) {
        return sl_stream_ssl_init_connection(s);
    }

    if (!c->ssl->handshaked) {
        return SL_ERROR;
    }

    c->log->action = NULL;
    return sl_stream_ssl_check_client(s);
}

/* --- SNI ----------------------------------------------------------------- */

/* the session moves to cscf: its confs, its log, and its context */
static sl_int_t
sl_stream_ssl_switch_server(sl_stream_session_t *s,
    sl_stream_core_srv_conf_t *cscf)
{
    sl_stream_ssl_srv_conf_t  *sscf;
    sl_connection_t           *c = s->connection;

    sl_stream_set_virtual_server(s, cscf);

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_module);

    if (sscf->ssl.ctx == NULL) {
        /* no TLS of its own: the handshake stays where it began */
        return SL_OK;
    }

    return sl_ssl_switch_ctx(c, sscf->ssl.ctx);
}

/* the server the ClientHello's name selects, if any; SL_ERROR: *ad */
static sl_int_t
sl_stream_ssl_select(sl_stream_session_t *s, SSL *ssl, int *ad)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_str_t                    name;
    sl_int_t                    rc;

    if (sl_ssl_client_hello_server_name(ssl, &name, ad) != SL_OK) {
        return SL_ERROR;
    }

    rc = sl_stream_find_virtual_server(s, name.data, name.len, &cscf);

    if (rc == SL_DECLINED) {
        return SL_OK;
    }

    if (rc == SL_ERROR || sl_stream_ssl_switch_server(s, cscf) != SL_OK) {
        *ad = SSL_AD_INTERNAL_ERROR;
        return SL_ERROR;
    }

    return SL_OK;
}

/*
 * The server is chosen here, on the ClientHello, so that its protocols
 * and ciphers (not only its certificate) decide the handshake.
 */
static int
sl_stream_ssl_client_hello(SSL *ssl, int *ad, void *arg)
{
    sl_stream_ssl_srv_conf_t  *sscf;
    sl_stream_session_t       *s;
    sl_connection_t           *c;

    sl_unused(arg);

    c = SSL_get_ex_data(ssl, sl_ssl_indexes()->connection_index);
    if (c == NULL || c->ssl == NULL) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    /*
     * A renegotiation (allowed by ssl_renegotiation on) keeps the server
     * of the first handshake; so does the second ClientHello after a
     * HelloRetryRequest.
     */
    if (c->ssl->handshaked || c->ssl->sni_accepted) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    s = c->data;

    if (sl_stream_ssl_select(s, ssl, ad) != SL_OK) {
        return SSL_CLIENT_HELLO_ERROR;
    }

    sscf = sl_stream_get_module_srv_conf(s, sl_stream_ssl_module);

    if (sscf->reject_handshake) {
        c->ssl->handshake_rejected = 1;
        *ad = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_CLIENT_HELLO_ERROR;
    }

    c->ssl->sni_accepted = 1;
    return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * The name is acknowledged (and kept in the session, for $ssl_server_name
 * after a resumption): the server was chosen on the ClientHello already.
 */
static int
sl_stream_ssl_servername(SSL *ssl, int *ad, void *arg)
{
    sl_unused(ssl);
    sl_unused(ad);
    sl_unused(arg);

    return SSL_TLSEXT_ERR_OK;
}

/* --- certificates given by variables ----------------------------------- */

/*
 * The certificates of the server the ClientHello chose, evaluated for
 * this session and loaded (or found in ssl_certificate_cache): OpenSSL
 * calls this before it picks a certificate, so every pair is there to
 * choose from, as with files loaded at start.
 */
static int
sl_stream_ssl_certificate(SSL *ssl, void *arg)
{
    sl_stream_ssl_srv_conf_t    *sscf = arg;
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_complex_value_t   *cv;
    sl_stream_session_t         *s;
    sl_connection_t             *c;
    sl_str_t                     cert, key;
    sl_uint_t                    i;

    c = SSL_get_ex_data(ssl, sl_ssl_indexes()->connection_index);
    if (c == NULL || c->ssl == NULL || c->ssl->handshaked) {
        return 0;       /* a renegotiation keeps what it has */
    }

    s = c->data;
    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    cv = sscf->certificate_values->elts;

    for (i = 0; i < sscf->certificate_values->nelts; i += 2) {
        if (sl_stream_complex_value(s, &cv[i], &cert) != SL_OK
            || sl_stream_complex_value(s, &cv[i + 1], &key) != SL_OK
            || sl_ssl_connection_certificate(c, c->pool,
                                             sscf->certificate_cache,
                                             &cmcf->cycle->conf_prefix,
                                             s->time->sec, &cert, &key,
                                             sscf->passwords) != SL_OK)
        {
            return 0;
        }
    }

    return 1;
}

/* certificate_values, when a certificate or a key has a variable */
static sl_int_t
sl_stream_ssl_certificate_values(sl_conf_t *cf,
    sl_stream_ssl_srv_conf_t *conf)
{
    sl_stream_complex_value_t  *cv;
    sl_str_t                   *cert, *key;
    sl_array_t                 *values;
    sl_uint_t                   i, vars = 0;

    cert = conf->certificates->elts;
    key = conf->certificate_keys->elts;

    values = sl_array_create(cf->pool, 2 * conf->certificates->nelts,
                             sizeof(sl_stream_complex_value_t));
    if (values == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < conf->certificates->nelts; i++) {
        cv = sl_array_push_n(values, 2);
        if (cv == NULL
            || sl_stream_compile_complex_value(cf, &cert[i], &cv[0]) != SL_OK
            || sl_stream_compile_complex_value(cf, &key[i], &cv[1]) != SL_OK)
        {
            return SL_ERROR;
        }

        vars |= cv[0].parts != NULL || cv[1].parts != NULL;
    }

    if (!vars) {
        conf->certificate_values = NULL;
        return SL_OK;
    }

    conf->certificate_values = values;

    if (conf->passwords != NULL) {
        conf->passwords = sl_ssl_preserve_passwords(cf, conf->passwords);
        if (conf->passwords == NULL) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static char *
sl_stream_ssl_certificate_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;

    sl_unused(cmd);

    return sl_ssl_cache_conf(cf, &sscf->certificate_cache);
}

/* --- configuration ------------------------------------------------------- */

static void *
sl_stream_ssl_create_srv_conf(sl_conf_t *cf)
{
    sl_stream_ssl_srv_conf_t  *sscf;

    sscf = sl_pcalloc(cf->pool, sizeof(sl_stream_ssl_srv_conf_t));
    if (sscf == NULL) {
        return NULL;
    }

    /* protocols, the strings and the locations: zero until set */
    sscf->handshake_timeout = SL_CONF_UNSET_MSEC;
    sscf->prefer_server_ciphers = SL_CONF_UNSET;
    sscf->reject_handshake = SL_CONF_UNSET;
    sscf->session_tickets = SL_CONF_UNSET;
    sscf->renegotiation = SL_CONF_UNSET;
    sscf->verify = SL_CONF_UNSET_UINT;
    sscf->verify_depth = SL_CONF_UNSET_UINT;
    sscf->builtin_session_cache = SL_CONF_UNSET;
    sscf->shm_zone = SL_CONF_UNSET_PTR;
    sscf->session_timeout = SL_CONF_UNSET;
    sscf->certificates = SL_CONF_UNSET_PTR;
    sscf->certificate_keys = SL_CONF_UNSET_PTR;
    sscf->certificate_cache = SL_CONF_UNSET_PTR;
    sscf->passwords = SL_CONF_UNSET_PTR;
    sscf->conf_commands = SL_CONF_UNSET_PTR;
    sscf->session_ticket_keys = SL_CONF_UNSET_PTR;
    sscf->alpn = SL_CONF_UNSET_PTR;
    return sscf;
}

static void
sl_stream_ssl_set_loc(sl_conf_t *cf, sl_stream_ssl_loc_t *loc)
{
    if (cf->conf_file == NULL) {
        return;
    }

    loc->file = cf->conf_file->name;
    loc->line = cf->conf_file->start_line;
    loc->is_param = cf->conf_file->is_param;
}

/* a generic setter, and where it was for errors found later */
static char *
sl_stream_ssl_located(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;
    sl_uint_t                  i = (sl_uint_t) (cmd - sl_stream_ssl_commands);
    char                      *rv;

    if (cmd->offset == SL_SSL_OFF(certificates)
        || cmd->offset == SL_SSL_OFF(session_ticket_keys))
    {
        rv = sl_conf_set_str_array_slot(cf, cmd, conf);
    } else {
        rv = sl_conf_set_str_slot(cf, cmd, conf);
    }

    /* the first ssl_certificate is where a bad pair is reported */
    if (rv == SL_CONF_OK && sscf->loc[i].line == 0) {
        sl_stream_ssl_set_loc(cf, &sscf->loc[i]);
    }

    return rv;
}

/* the file is read now, as nginx does: a FIFO is read once */
static char *
sl_stream_ssl_password_file(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;
    sl_str_t                  *value = cf->args->elts;

    sl_unused(cmd);

    if (sscf->passwords != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    sl_stream_ssl_set_loc(cf, &sscf->loc[SL_SSL_LOC_PASSWORD]);

    sscf->passwords = sl_ssl_read_password_file(cf, &value[1]);
    if (sscf->passwords == NULL) {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static char *
sl_stream_ssl_conf_command(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;

    sl_unused(cmd);

    if (sscf->conf_commands == SL_CONF_UNSET_PTR) {
        /* errors in the commands are reported at the first of them */
        sl_stream_ssl_set_loc(cf, &sscf->loc[SL_SSL_LOC_CONF_COMMAND]);
    }

    return sl_ssl_conf_command_add(cf, &sscf->conf_commands) == SL_OK
           ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *
sl_stream_ssl_alpn(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;
    sl_str_t                  *value = cf->args->elts, *p;
    sl_uint_t                  i;

    sl_unused(cmd);

    if (sscf->alpn != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    sscf->alpn = sl_array_create(cf->pool, cf->args->nelts,
                                 sizeof(sl_str_t));
    if (sscf->alpn == NULL) {
        return SL_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || value[i].len > 255) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "ssl_alpn protocol too "
                              "long or empty: \"%V\"", &value[i]);
            return SL_CONF_ERROR;
        }

        p = sl_array_push(sscf->alpn);
        if (p == NULL) {
            return SL_CONF_ERROR;
        }

        *p = value[i];
    }

    sl_stream_ssl_set_loc(cf, &sscf->loc[SL_SSL_LOC_ALPN]);
    return SL_CONF_OK;
}

/*
 * "shared:NAME:SIZE": the zone, declared (or found again, when another
 * server names it with the same size); NULL after an error is logged.
 */
static sl_shm_zone_t *
sl_stream_ssl_shared_cache(sl_conf_t *cf, sl_str_t *value)
{
    sl_shm_zone_t  *zone;
    sl_str_t        name, size;
    u_char         *colon;
    ssize_t         n;

    name.data = value->data + sizeof("shared:") - 1;
    name.len = value->len - (sizeof("shared:") - 1);

    colon = memchr(name.data, ':', name.len);

    if (colon == NULL || colon == name.data) {
        goto invalid;
    }

    size.data = colon + 1;
    size.len = (size_t) (value->data + value->len - size.data);
    name.len = (size_t) (colon - name.data);

    n = sl_parse_size(&size);

    if (n == SL_ERROR) {
        goto invalid;
    }

    if (n < (ssize_t) SL_SSL_SESSION_CACHE_MIN_SIZE) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "session cache \"%V\" is "
                          "too small", value);
        return NULL;
    }

    zone = sl_shared_memory_add(cf, &name, (size_t) n,
                                (void *) &sl_ssl_session_cache_tag);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = sl_ssl_session_cache_init_zone;
    return zone;

invalid:

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid session cache \"%V\"",
                      value);
    return NULL;
}

/* off | none | [builtin[:size]] [shared:NAME:size] */
static char *
sl_stream_ssl_session_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_ssl_srv_conf_t  *sscf = conf;
    sl_str_t                  *value = cf->args->elts;
    sl_int_t                   n;
    sl_uint_t                  i;

    sl_unused(cmd);

    if (sscf->builtin_session_cache != SL_CONF_UNSET) {
        return "is duplicate";
    }

    sl_stream_ssl_set_loc(cf, &sscf->loc[SL_SSL_LOC_SESSION_CACHE]);

    for (i = 1; i < cf->args->nelts; i++) {

        if (sl_str_eq_lit(&value[i], "off")) {
            sscf->builtin_session_cache = SL_SSL_NO_SCACHE;
            continue;
        }

        if (sl_str_eq_lit(&value[i], "none")) {
            sscf->builtin_session_cache = SL_SSL_NONE_SCACHE;
            continue;
        }

        if (sl_str_eq_lit(&value[i], "builtin")) {
            sscf->builtin_session_cache = SL_SSL_DFLT_BUILTIN_SCACHE;
            continue;
        }

        if (value[i].len > sizeof("builtin:") - 1
            && sl_strncmp(value[i].data, "builtin:", 8) == 0)
        {
            n = sl_atoi(value[i].data + 8, value[i].len - 8);
            if (n == SL_ERROR || n == 0) {
                goto invalid;
            }

            sscf->builtin_session_cache = (ssize_t) n;
            continue;
        }

        if (value[i].len > sizeof("shared:") - 1
            && sl_strncmp(value[i].data, "shared:", 7) == 0)
        {
            sscf->shm_zone = sl_stream_ssl_shared_cache(cf, &value[i]);
            if (sscf->shm_zone == NULL) {
                return SL_CONF_ERROR;
            }

            continue;
        }

        goto invalid;
    }

    if (sscf->shm_zone != SL_CONF_UNSET_PTR
        && sscf->builtin_session_cache == SL_CONF_UNSET)
    {
        /* shared alone: OpenSSL's own cache is not used */
        sscf->builtin_session_cache = SL_SSL_NO_BUILTIN_SCACHE;
    }

    return SL_CONF_OK;

invalid:

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid session cache \"%V\"",
                      &value[i]);
    return SL_CONF_ERROR;
}

static void
sl_stream_ssl_merge_loc(sl_stream_ssl_srv_conf_t *conf,
    sl_stream_ssl_srv_conf_t *prev)
{
    sl_uint_t  i;

    for (i = 0; i < SL_SSL_LOC_N; i++) {
        if (conf->loc[i].line == 0) {
            conf->loc[i] = prev->loc[i];
        }
    }
}

static void
sl_stream_ssl_merge_values(sl_stream_ssl_srv_conf_t *conf,
    sl_stream_ssl_srv_conf_t *prev)
{
    sl_conf_merge_msec_value(conf->handshake_timeout,
                             prev->handshake_timeout, 60000);
    sl_conf_merge_value(conf->prefer_server_ciphers,
                        prev->prefer_server_ciphers, 0);
    sl_conf_merge_value(conf->reject_handshake, prev->reject_handshake, 0);
    sl_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    sl_conf_merge_value(conf->renegotiation, prev->renegotiation, 0);
    sl_conf_merge_bitmask_value(conf->protocols, prev->protocols,
                                SL_SSL_DEFAULT_PROTOCOLS);
    sl_conf_merge_uint_value(conf->verify, prev->verify, SL_SSL_VERIFY_OFF);
    sl_conf_merge_uint_value(conf->verify_depth, prev->verify_depth, 1);
    sl_conf_merge_value(conf->builtin_session_cache,
                        prev->builtin_session_cache, SL_SSL_NONE_SCACHE);
    sl_conf_merge_ptr_value(conf->shm_zone, prev->shm_zone, NULL);
    sl_conf_merge_value(conf->session_timeout, prev->session_timeout, 300);

    sl_conf_merge_ptr_value(conf->certificates, prev->certificates, NULL);
    sl_conf_merge_ptr_value(conf->certificate_keys, prev->certificate_keys,
                            NULL);
    sl_conf_merge_ptr_value(conf->passwords, prev->passwords, NULL);
    sl_conf_merge_ptr_value(conf->conf_commands, prev->conf_commands, NULL);
    sl_conf_merge_ptr_value(conf->session_ticket_keys,
                            prev->session_ticket_keys, NULL);
    sl_conf_merge_ptr_value(conf->alpn, prev->alpn, NULL);
    sl_conf_merge_ptr_value(conf->certificate_cache, prev->certificate_cache,
                            NULL);

    sl_conf_merge_str_value(conf->dhparam, prev->dhparam, "");
    sl_conf_merge_str_value(conf->ecdh_curve, prev->ecdh_curve,
                            SL_STREAM_SSL_DEFAULT_ECDH);
    sl_conf_merge_str_value(conf->client_certificate,
                            prev->client_certificate, "");
    sl_conf_merge_str_value(conf->trusted_certificate,
                            prev->trusted_certificate, "");
    sl_conf_merge_str_value(conf->crl, prev->crl, "");
    sl_conf_merge_str_value(conf->ciphers, prev->ciphers,
                            SL_STREAM_SSL_DEFAULT_CIPHERS);

    sl_stream_ssl_merge_loc(conf, prev);
}

/*
 * Runs an OpenSSL step with the directive's place as the parser's, so
 * that what it reports ("... in FILE:LINE") points at the directive.
 */
static sl_conf_file_t *
sl_stream_ssl_enter(sl_conf_t *cf, sl_conf_file_t *tmp,
    sl_stream_ssl_loc_t *loc)
{
    sl_conf_file_t  *saved = cf->conf_file;

    if (saved == NULL || loc->line == 0) {
        return saved;
    }

    *tmp = *saved;
    tmp->name = loc->file;
    tmp->line = loc->line;
    tmp->start_line = loc->line;
    tmp->is_param = loc->is_param;
    cf->conf_file = tmp;
    return saved;
}

static sl_int_t
sl_stream_ssl_check_pairs(sl_conf_t *cf, sl_stream_ssl_srv_conf_t *conf,
    sl_stream_core_srv_conf_t *cscf)
{
    sl_str_t  *cert;

    if (conf->certificate_keys == NULL
        || conf->certificate_keys->nelts < conf->certificates->nelts)
    {
        cert = conf->certificates->elts;
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no \"ssl_certificate_key\" "
                     "is defined for certificate \"%V\" in %V:%ui",
                     &cert[conf->certificate_keys
                           ? conf->certificate_keys->nelts : 0],
                     &cscf->file_name, cscf->line);
        return SL_ERROR;
    }

    if (conf->certificate_keys->nelts > conf->certificates->nelts) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no \"ssl_certificate\" is "
                     "defined for a \"ssl_certificate_key\" in %V:%ui",
                     &cscf->file_name, cscf->line);
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_ssl_verify_conf(sl_conf_t *cf, sl_stream_ssl_srv_conf_t *conf,
    sl_stream_core_srv_conf_t *cscf)
{
    if (conf->verify == SL_SSL_VERIFY_OFF) {
        return SL_OK;
    }

    if (conf->verify != SL_SSL_VERIFY_OPTIONAL_NO_CA
        && conf->client_certificate.len == 0
        && conf->trusted_certificate.len == 0)
    {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no ssl_client_certificate or "
                     "ssl_trusted_certificate for ssl_verify_client in "
                     "%V:%ui", &cscf->file_name, cscf->line);
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t sl_stream_ssl_run_step(sl_conf_t *cf,
    sl_stream_ssl_srv_conf_t *conf, sl_uint_t which);

static sl_int_t
sl_stream_ssl_build(sl_conf_t *cf, sl_stream_ssl_srv_conf_t *conf,
    sl_stream_core_srv_conf_t *cscf)
{
    static const sl_uint_t  steps[] = {
        SL_SSL_LOC_CERTIFICATE, SL_SSL_LOC_CIPHERS, SL_SSL_LOC_CLIENT_CERT,
        SL_SSL_LOC_TRUSTED, SL_SSL_LOC_CRL, SL_SSL_LOC_DHPARAM,
        SL_SSL_LOC_ECDH, SL_SSL_LOC_SESSION_CACHE, SL_SSL_LOC_TICKET_KEY,
        SL_SSL_LOC_ALPN, SL_SSL_LOC_CONF_COMMAND
    };
    sl_uint_t  i;

    if (sl_ssl_create(cf, &conf->ssl, conf->protocols, 0, cscf) != SL_OK) {
        return SL_ERROR;
    }

    conf->ssl.renegotiation = conf->renegotiation ? 1 : 0;

    SSL_CTX_set_client_hello_cb(conf->ssl.ctx, sl_stream_ssl_client_hello,
                                NULL);
    SSL_CTX_set_tlsext_servername_callback(conf->ssl.ctx,
                                           sl_stream_ssl_servername);

    for (i = 0; i < sl_nelems(steps); i++) {
        if (sl_stream_ssl_run_step(cf, conf, steps[i]) != SL_OK) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static sl_int_t
sl_stream_ssl_call(sl_conf_t *cf, sl_stream_ssl_srv_conf_t *conf,
    sl_uint_t which)
{
    sl_ssl_t  *ssl = &conf->ssl;

    switch (which) {

    case SL_SSL_LOC_CERTIFICATE:
        if (conf->certificates == NULL) {
            return SL_OK;
        }
        if (sl_stream_ssl_certificate_values(cf, conf) != SL_OK) {
            return SL_ERROR;
        }
        if (conf->certificate_values != NULL) {
            SSL_CTX_set_cert_cb(ssl->ctx, sl_stream_ssl_certificate, conf);
            return SL_OK;
        }
        return sl_ssl_certificates(cf, ssl, conf->certificates,
                                   conf->certificate_keys, conf->passwords);

    case SL_SSL_LOC_CIPHERS:
        return sl_ssl_ciphers(cf, ssl, &conf->ciphers,
                              (sl_uint_t) conf->prefer_server_ciphers);

    case SL_SSL_LOC_CLIENT_CERT:
        if (conf->verify == SL_SSL_VERIFY_OFF) {
            return SL_OK;
        }
        return sl_ssl_client_certificate(cf, ssl, &conf->client_certificate,
                                         (sl_int_t) conf->verify_depth);

    case SL_SSL_LOC_TRUSTED:
        if (conf->trusted_certificate.len == 0) {
            return SL_OK;
        }
        return sl_ssl_trusted_certificate(cf, ssl, &conf->trusted_certificate,
                                          (sl_int_t) conf->verify_depth);

    case SL_SSL_LOC_CRL:
        return conf->crl.len ? sl_ssl_crl(cf, ssl, &conf->crl) : SL_OK;

    case SL_SSL_LOC_DHPARAM:
        return conf->dhparam.len ? sl_ssl_dhparam(cf, ssl, &conf->dhparam)
                                 : SL_OK;

    case SL_SSL_LOC_ECDH:
        return sl_ssl_ecdh_curve(cf, ssl, &conf->ecdh_curve);

    case SL_SSL_LOC_SESSION_CACHE:
        return sl_ssl_session_cache(cf, ssl, conf->builtin_session_cache,
                                    conf->shm_zone, conf->session_timeout);

    case SL_SSL_LOC_TICKET_KEY:
        return sl_ssl_session_tickets(cf, ssl,
                                      (sl_uint_t) conf->session_tickets,
                                      conf->session_ticket_keys);

    case SL_SSL_LOC_ALPN:
        return conf->alpn ? sl_ssl_alpn(cf, ssl, conf->alpn) : SL_OK;

    case SL_SSL_LOC_CONF_COMMAND:
        return conf->conf_commands
               ? sl_ssl_conf_commands(cf, ssl, conf->conf_commands) : SL_OK;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_ssl_run_step(sl_conf_t *cf, sl_stream_ssl_srv_conf_t *conf,
    sl_uint_t which)
{
    sl_conf_file_t  tmp, *saved;
    sl_int_t        rc;

    saved = sl_stream_ssl_enter(cf, &tmp, &conf->loc[which]);
    rc = sl_stream_ssl_call(cf, conf, which);
    cf->conf_file = saved;
    return rc;
}

static char *
sl_stream_ssl_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_ssl_srv_conf_t   *prev = parent;
    sl_stream_ssl_srv_conf_t   *conf = child;
    sl_stream_core_srv_conf_t  *cscf;

    sl_stream_ssl_merge_values(conf, prev);

    cscf = sl_stream_conf_get_module_srv_conf(cf, sl_stream_core_module);

    if (conf->certificates == NULL && !conf->reject_handshake) {
        return SL_CONF_OK;
    }

    if (conf->certificates != NULL
        && sl_stream_ssl_check_pairs(cf, conf, cscf) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    if (sl_stream_ssl_verify_conf(cf, conf, cscf) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (sl_ssl_init(cf->log) != SL_OK
        || sl_stream_ssl_build(cf, conf, cscf) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* --- after the block ----------------------------------------------------- */

/*
 * Every "listen ... ssl" address needs a default server that can answer
 * a handshake: one with certificates or one that rejects them.
 */
static sl_int_t
sl_stream_ssl_check_listen(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_stream_ssl_srv_conf_t   *sscf;
    sl_stream_core_srv_conf_t  *cscf;
    sl_stream_listen_t         *ls = cmcf->listen.elts;
    sl_uint_t                   i;

    for (i = 0; i < cmcf->listen.nelts; i++) {
        if (!ls[i].ssl) {
            continue;
        }

        cscf = ls[i].server;
        sscf = cscf->ctx->srv_conf[sl_stream_ssl_module.ctx_index];

        if (sscf->certificates != NULL || sscf->reject_handshake) {
            continue;
        }

        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no \"ssl_certificate\" is "
                     "defined for the \"listen ... ssl\" directive in "
                     "%V:%ui", &cscf->file_name, cscf->line);
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_stream_ssl_postconfiguration(sl_conf_t *cf)
{
    sl_stream_core_main_conf_t  *cmcf;

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    if (sl_stream_ssl_check_listen(cf, cmcf) != SL_OK) {
        return SL_ERROR;
    }

    return sl_stream_add_phase_handler(cf, SL_STREAM_SSL_PHASE,
                                       sl_stream_ssl_handler);
}
