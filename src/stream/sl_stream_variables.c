/*
 * sl_stream_variables.c -- the variable registry and the core variables,
 * formatted as nginx's stream module formats them.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

static sl_int_t sl_stream_variable_binary_remote_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_remote_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_remote_port(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_server_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_server_port(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_bytes(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_session_time(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_status(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_connection(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_hostname(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_pid(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_msec(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_time(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_protocol(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_version(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
static sl_int_t sl_stream_variable_server_name(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);

/* which counter $bytes_* and which string the $time_* variables show */
#define SL_STREAM_BYTES_SENT      0
#define SL_STREAM_BYTES_RECEIVED  1
#define SL_STREAM_TIME_LOCAL      0
#define SL_STREAM_TIME_ISO8601    1

typedef struct {
    sl_str_t                    name;
    sl_stream_get_variable_pt   get;
    uintptr_t                   data;
    sl_uint_t                   flags;
} sl_stream_core_variable_t;

static const sl_stream_core_variable_t  sl_stream_core_variables[] = {

    { sl_string("binary_remote_addr"),
      sl_stream_variable_binary_remote_addr, 0, 0 },

    { sl_string("remote_addr"), sl_stream_variable_remote_addr, 0, 0 },

    { sl_string("remote_port"), sl_stream_variable_remote_port, 0, 0 },

    { sl_string("server_addr"), sl_stream_variable_server_addr, 0, 0 },

    { sl_string("server_port"), sl_stream_variable_server_port, 0, 0 },

    { sl_string("server_name"), sl_stream_variable_server_name, 0, 0 },

    { sl_string("bytes_sent"), sl_stream_variable_bytes,
      SL_STREAM_BYTES_SENT, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("bytes_received"), sl_stream_variable_bytes,
      SL_STREAM_BYTES_RECEIVED, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("session_time"), sl_stream_variable_session_time,
      0, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("status"), sl_stream_variable_status,
      0, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("connection"), sl_stream_variable_connection, 0, 0 },

    { sl_string("sluice_version"), sl_stream_variable_version, 0, 0 },

    { sl_string("hostname"), sl_stream_variable_hostname, 0, 0 },

    { sl_string("pid"), sl_stream_variable_pid, 0, 0 },

    { sl_string("msec"), sl_stream_variable_msec,
      0, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("time_iso8601"), sl_stream_variable_time,
      SL_STREAM_TIME_ISO8601, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("time_local"), sl_stream_variable_time,
      SL_STREAM_TIME_LOCAL, SL_STREAM_VAR_NOCACHEABLE },

    { sl_string("protocol"), sl_stream_variable_protocol, 0, 0 },
};

/* --- the registry -------------------------------------------------------- */

static sl_stream_variable_t *
sl_stream_find_key(sl_stream_core_main_conf_t *cmcf, sl_str_t *name)
{
    sl_stream_variable_t  **key = cmcf->variables_keys.elts;
    sl_uint_t               i;

    for (i = 0; i < cmcf->variables_keys.nelts; i++) {
        if (sl_str_caseeq(&key[i]->name, name)) {
            return key[i];
        }
    }

    return NULL;
}

static sl_int_t
sl_stream_copy_name(sl_conf_t *cf, sl_str_t *dst, sl_str_t *name)
{
    dst->data = sl_pnalloc(cf->pool, name->len);
    if (dst->data == NULL) {
        return SL_ERROR;
    }

    sl_strlow(dst->data, name->data, name->len);
    dst->len = name->len;
    return SL_OK;
}

sl_stream_variable_t *
sl_stream_add_variable(sl_conf_t *cf, sl_str_t *name, sl_uint_t flags)
{
    sl_stream_core_main_conf_t   *cmcf;
    sl_stream_variable_t         *v, **key;

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    v = sl_stream_find_key(cmcf, name);
    if (v != NULL) {
        if (!(v->flags & SL_STREAM_VAR_CHANGEABLE)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the duplicate \"%V\" "
                              "variable", name);
            return NULL;
        }

        if (!(flags & SL_STREAM_VAR_CHANGEABLE)) {
            v->flags &= ~SL_STREAM_VAR_CHANGEABLE;
        }

        return v;
    }

    v = sl_pcalloc(cf->pool, sizeof(sl_stream_variable_t));
    key = sl_array_push(&cmcf->variables_keys);
    if (v == NULL || key == NULL
        || sl_stream_copy_name(cf, &v->name, name) != SL_OK)
    {
        return NULL;
    }

    v->flags = flags;
    *key = v;
    return v;
}

sl_int_t
sl_stream_get_variable_index(sl_conf_t *cf, sl_str_t *name)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_variable_t        *v;
    sl_uint_t                    i;

    if (name->len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name");
        return SL_ERROR;
    }

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);

    v = cmcf->variables.elts;
    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (sl_str_caseeq(&v[i].name, name)) {
            return (sl_int_t) i;
        }
    }

    /* bound to its handler when the block ends: see init_vars */
    v = sl_array_push(&cmcf->variables);
    if (v == NULL) {
        return SL_ERROR;
    }

    sl_memzero(v, sizeof(sl_stream_variable_t));
    if (sl_stream_copy_name(cf, &v->name, name) != SL_OK) {
        return SL_ERROR;
    }

    v->index = cmcf->variables.nelts - 1;
    return (sl_int_t) v->index;
}

/* --- values -------------------------------------------------------------- */

sl_stream_variable_value_t *
sl_stream_get_indexed_variable(sl_stream_session_t *s, sl_uint_t index)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_variable_value_t  *value = &s->variables[index];
    sl_stream_variable_t        *v;

    if (value->not_found || value->valid) {
        return value->not_found ? NULL : value;
    }

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    v = cmcf->variables.elts;

    if (v[index].get_handler(s, value, v[index].data) != SL_OK) {
        value->valid = 0;
        value->not_found = 1;
        return NULL;
    }

    value->no_cacheable = (v[index].flags & SL_STREAM_VAR_NOCACHEABLE) != 0;
    return value;
}

sl_stream_variable_value_t *
sl_stream_get_flushed_variable(sl_stream_session_t *s, sl_uint_t index)
{
    sl_stream_variable_value_t  *value = &s->variables[index];

    if (value->no_cacheable) {
        value->valid = 0;
        value->not_found = 0;
    }

    return sl_stream_get_indexed_variable(s, index);
}

sl_stream_variable_value_t *
sl_stream_get_variable(sl_stream_session_t *s, sl_str_t *name,
    sl_uint_t key)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_variable_value_t  *value;
    sl_stream_variable_t        *v;

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);

    v = sl_hash_find(&cmcf->variables_hash, key, name->data, name->len);
    if (v == NULL) {
        return NULL;
    }

    if (v->flags & SL_STREAM_VAR_INDEXED) {
        return sl_stream_get_flushed_variable(s, v->index);
    }

    value = sl_pcalloc(s->connection->pool,
                       sizeof(sl_stream_variable_value_t));
    if (value == NULL || v->get_handler(s, value, v->data) != SL_OK) {
        return NULL;
    }

    return value;
}

/* --- the end of the block ------------------------------------------------ */

static sl_int_t
sl_stream_variables_hash(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf)
{
    sl_stream_variable_t  **key = cmcf->variables_keys.elts;
    sl_hash_key_t          *names;
    sl_uint_t               i, n = 0;

    names = sl_palloc(cf->temp_pool, (cmcf->variables_keys.nelts + 1)
                                     * sizeof(sl_hash_key_t));
    if (names == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < cmcf->variables_keys.nelts; i++) {
        if (key[i]->flags & SL_STREAM_VAR_NOHASH) {
            continue;
        }

        names[n].key = key[i]->name;
        names[n].key_hash = sl_hash_key(key[i]->name.data, key[i]->name.len);
        names[n].value = key[i];
        n++;
    }

    if (n > 0
        && sl_hash_check_key_sizes(names, n, cf->log, "variables_hash",
                                   cmcf->variables_hash_max_size,
                                   cmcf->variables_hash_bucket_size)
           != SL_OK)
    {
        return SL_ERROR;
    }

    return sl_hash_init(&cmcf->variables_hash, names, n, cf->pool);
}

/* the prefix variable whose name begins name; NULL when none does */
static sl_stream_variable_t *
sl_stream_find_prefix(sl_stream_core_main_conf_t *cmcf, sl_str_t *name)
{
    sl_stream_variable_t  **key = cmcf->variables_keys.elts;
    sl_uint_t               i;

    for (i = 0; i < cmcf->variables_keys.nelts; i++) {
        if ((key[i]->flags & SL_STREAM_VAR_PREFIX)
            && name->len > key[i]->name.len
            && sl_strncasecmp(name->data, key[i]->name.data,
                              key[i]->name.len) == 0)
        {
            return key[i];
        }
    }

    return NULL;
}

/* a used variable named by a prefix: its handler gets the full name */
static sl_stream_variable_t *
sl_stream_bind_prefix(sl_conf_t *cf, sl_stream_core_main_conf_t *cmcf,
    sl_stream_variable_t *v)
{
    sl_stream_variable_t  *prefix;
    sl_str_t              *name;

    prefix = sl_stream_find_prefix(cmcf, &v->name);
    if (prefix == NULL) {
        return NULL;
    }

    name = sl_palloc(cf->pool, sizeof(sl_str_t));
    if (name == NULL) {
        return NULL;
    }

    *name = v->name;
    v->get_handler = prefix->get_handler;
    v->set_handler = prefix->set_handler;
    v->data = (uintptr_t) name;
    v->flags = prefix->flags & ~SL_STREAM_VAR_PREFIX;
    return v;
}

sl_int_t
sl_stream_variables_init_vars(sl_conf_t *cf)
{
    sl_stream_core_main_conf_t  *cmcf;
    sl_stream_variable_t        *v, *key;
    sl_uint_t                    i;

    cmcf = sl_stream_conf_get_module_main_conf(cf, sl_stream_core_module);
    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        key = sl_stream_find_key(cmcf, &v[i].name);

        if ((key == NULL || key->get_handler == NULL)
            && sl_stream_bind_prefix(cf, cmcf, &v[i]) != NULL)
        {
            continue;
        }

        if (key == NULL || key->get_handler == NULL) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "unknown \"%V\" variable",
                         &v[i].name);
            return SL_ERROR;
        }

        key->flags |= SL_STREAM_VAR_INDEXED;
        key->index = i;
        v[i].get_handler = key->get_handler;
        v[i].set_handler = key->set_handler;
        v[i].data = key->data;
        v[i].flags = key->flags;
    }

    return sl_stream_variables_hash(cf, cmcf);
}

sl_int_t
sl_stream_variables_add_core_vars(sl_conf_t *cf)
{
    const sl_stream_core_variable_t  *cv;
    sl_stream_variable_t             *v;
    sl_str_t                          name;
    sl_uint_t                         i;

    for (i = 0; i < sl_nelems(sl_stream_core_variables); i++) {
        cv = &sl_stream_core_variables[i];
        name = cv->name;

        v = sl_stream_add_variable(cf, &name, cv->flags);
        if (v == NULL) {
            return SL_ERROR;
        }

        v->get_handler = cv->get;
        v->data = cv->data;
    }

    return SL_OK;
}

/* --- the core variables -------------------------------------------------- */

static void
sl_stream_set_value(sl_stream_variable_value_t *v, u_char *data, size_t len)
{
    v->len = (unsigned) len;
    v->data = data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}

/* room for a formatted number in the connection's pool */
static u_char *
sl_stream_value_buf(sl_stream_session_t *s, size_t size)
{
    return sl_pnalloc(s->connection->pool, size);
}

static sl_int_t
sl_stream_variable_binary_remote_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    struct sockaddr  *sa = s->connection->sockaddr;

    sl_unused(data);

    switch (sa->sa_family) {

    case AF_INET:
        sl_stream_set_value(v,
            (u_char *) &((struct sockaddr_in *) sa)->sin_addr, 4);
        return SL_OK;

    case AF_INET6:
        sl_stream_set_value(v,
            (u_char *) &((struct sockaddr_in6 *) sa)->sin6_addr, 16);
        return SL_OK;

    default:
        /* a unix peer has no binary address: its text, as nginx does */
        sl_stream_set_value(v, s->connection->addr_text.data,
                            s->connection->addr_text.len);
        return SL_OK;
    }
}

static sl_int_t
sl_stream_variable_remote_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);

    sl_stream_set_value(v, s->connection->addr_text.data,
                        s->connection->addr_text.len);
    return SL_OK;
}

/* a port as text, empty for a unix socket */
static sl_int_t
sl_stream_port_value(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    struct sockaddr *sa)
{
    in_port_t  port = sl_inet_get_port(sa);
    u_char    *p;

    p = sl_stream_value_buf(s, sizeof("65535") - 1);
    if (p == NULL) {
        return SL_ERROR;
    }

    sl_stream_set_value(v, p, 0);

    if (port > 0) {
        v->len = (unsigned) (sl_snprintf(p, sizeof("65535") - 1, "%d",
                                         (int) port) - p);
    }

    return SL_OK;
}

static sl_int_t
sl_stream_variable_remote_port(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);
    return sl_stream_port_value(s, v, s->connection->sockaddr);
}

static sl_int_t
sl_stream_variable_server_addr(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    u_char    addr[SL_SOCKADDR_STRLEN];
    sl_str_t  str;

    sl_unused(data);

    str.len = sizeof(addr);
    str.data = addr;

    if (sl_connection_local_sockaddr(s->connection, &str, 0) != SL_OK) {
        return SL_ERROR;
    }

    str.data = sl_stream_value_buf(s, str.len);
    if (str.data == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(str.data, addr, str.len);
    sl_stream_set_value(v, str.data, str.len);
    return SL_OK;
}

static sl_int_t
sl_stream_variable_server_port(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);

    if (sl_connection_local_sockaddr(s->connection, NULL, 0) != SL_OK) {
        return SL_ERROR;
    }

    return sl_stream_port_value(s, v, s->connection->local_sockaddr);
}

/* a number of at most SL_OFF_T_LEN digits */
static sl_int_t
sl_stream_number_value(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    p = sl_stream_value_buf(s, SL_OFF_T_LEN);
    if (p == NULL) {
        return SL_ERROR;
    }

    va_start(args, fmt);
    sl_stream_set_value(v, p, (size_t) (sl_vsnprintf(p, SL_OFF_T_LEN, fmt,
                                                     args) - p));
    va_end(args);
    return SL_OK;
}

static sl_int_t
sl_stream_variable_bytes(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    off_t  n = data == SL_STREAM_BYTES_SENT ? s->connection->sent
                                            : s->received;

    return sl_stream_number_value(s, v, "%O", n);
}

/* seconds with milliseconds: "0.005" */
static sl_int_t
sl_stream_variable_session_time(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_msec_int_t  ms;

    sl_unused(data);

    ms = (sl_msec_int_t) ((s->time->sec - s->start_sec) * 1000
                          + ((sl_msec_int_t) s->time->msec
                             - (sl_msec_int_t) s->start_msec));
    ms = sl_max(ms, 0);

    return sl_stream_number_value(s, v, "%T.%03M", (time_t) (ms / 1000),
                                  (sl_msec_t) (ms % 1000));
}

static sl_int_t
sl_stream_variable_status(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);
    return sl_stream_number_value(s, v, "%03ui", s->status);
}

static sl_int_t
sl_stream_variable_connection(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);
    return sl_stream_number_value(s, v, "%ui", s->connection->number);
}

static sl_int_t
sl_stream_variable_pid(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);
    return sl_stream_number_value(s, v, "%i", (sl_int_t) getpid());
}

/* "1700000000.123": the cached clock, as every other time of the loop */
static sl_int_t
sl_stream_variable_msec(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);
    return sl_stream_number_value(s, v, "%T.%03M", s->time->sec,
                                  (sl_msec_t) s->time->msec);
}

static sl_int_t
sl_stream_variable_time(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    u_char  *src, *p;
    size_t   len;

    if (data == SL_STREAM_TIME_ISO8601) {
        src = s->time->iso8601;
        len = SL_ISO8601_TIME_LEN;
    } else {
        src = s->time->log_time;
        len = SL_LOG_TIME_LEN;
    }

    /* a copy: the cache is rewritten when the second changes */
    p = sl_stream_value_buf(s, len);
    if (p == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(p, src, len);
    sl_stream_set_value(v, p, len);
    return SL_OK;
}

static sl_int_t
sl_stream_variable_hostname(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_core_main_conf_t  *cmcf;

    sl_unused(data);

    cmcf = sl_stream_get_module_main_conf(s, sl_stream_core_module);
    sl_stream_set_value(v, cmcf->cycle->hostname.data,
                        cmcf->cycle->hostname.len);
    return SL_OK;
}

/*
 * The first server_name of the session's server, as nginx gives it: a
 * regular expression with its "~" (its pattern follows the "~" of the
 * argument, see sl_stream_server_name_t), ".example.com" without its dot,
 * "" for a server without names.
 */
static sl_int_t
sl_stream_variable_server_name(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_stream_core_srv_conf_t  *cscf;
    sl_stream_server_name_t    *sn;
    sl_str_t                    name = sl_string("");

    sl_unused(data);

    cscf = sl_stream_get_module_srv_conf(s, sl_stream_core_module);

    if (cscf->server_names.nelts > 0) {
        sn = cscf->server_names.elts;
        name = sn[0].name;

        if (sn[0].regex != NULL) {
            name.data--;
            name.len++;

        } else if (name.len > 0 && name.data[0] == '.') {
            name.data++;
            name.len--;
        }
    }

    sl_stream_set_value(v, name.data, name.len);
    return SL_OK;
}

static sl_int_t
sl_stream_variable_protocol(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(data);

    if (s->connection->type == SOCK_DGRAM) {
        sl_stream_set_value(v, (u_char *) "UDP", 3);
    } else {
        sl_stream_set_value(v, (u_char *) "TCP", 3);
    }

    return SL_OK;
}

static sl_int_t
sl_stream_variable_version(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data)
{
    sl_unused(s);
    sl_unused(data);

    sl_stream_set_value(v, (u_char *) SL_VERSION, sizeof(SL_VERSION) - 1);
    return SL_OK;
}
