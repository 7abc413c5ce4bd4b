/*
 * sl_stream_access_module.c -- "allow" and "deny": the client's address
 * against a list of rules, in the access phase, as nginx's stream access
 * module does it. The rules are tried in the order written; the first
 * that matches decides; a deny ends the session with status 403.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

#include <arpa/inet.h>

typedef enum {
    SL_STREAM_ACCESS_INET = 0,
    SL_STREAM_ACCESS_INET6,
    SL_STREAM_ACCESS_UNIX,
    SL_STREAM_ACCESS_ALL
} sl_stream_access_family_e;

/* one rule: an address and mask of its family ("all" matches any) */
typedef struct {
    sl_uint_t        family;        /* sl_stream_access_family_e */
    u_char           addr[16];      /* network order, masked */
    u_char           mask[16];
    sl_uint_t        deny;
} sl_stream_access_rule_t;

typedef struct {
    sl_array_t      *rules;         /* sl_stream_access_rule_t; NULL: none */
} sl_stream_access_srv_conf_t;

static sl_int_t sl_stream_access_handler(sl_stream_session_t *s);
static char *sl_stream_access_rule(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static void *sl_stream_access_create_srv_conf(sl_conf_t *cf);
static char *sl_stream_access_merge_srv_conf(sl_conf_t *cf, void *parent,
    void *child);
static sl_int_t sl_stream_access_init(sl_conf_t *cf);

static sl_command_t  sl_stream_access_commands[] = {

    { sl_string("allow"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_access_rule,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { sl_string("deny"),
      SL_STREAM_MAIN_CONF | SL_STREAM_SRV_CONF | SL_CONF_TAKE1,
      sl_stream_access_rule,
      SL_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_access_module_ctx = {
    NULL,
    sl_stream_access_init,
    NULL,
    NULL,
    sl_stream_access_create_srv_conf,
    sl_stream_access_merge_srv_conf
};

sl_module_t  sl_stream_access_module = {
    .name = "sl_stream_access_module",
    .ctx = &sl_stream_access_module_ctx,
    .commands = sl_stream_access_commands,
    .type = SL_STREAM_MODULE,
};

/* --- the access phase ---------------------------------------------------- */

static sl_uint_t
sl_stream_access_match(sl_stream_access_rule_t *rule, struct sockaddr *sa)
{
    const u_char  *a;
    sl_uint_t      i, n;

    switch (rule->family) {

    case SL_STREAM_ACCESS_ALL:
        return 1;

    case SL_STREAM_ACCESS_UNIX:
        return sa->sa_family == AF_UNIX;

    case SL_STREAM_ACCESS_INET:
        if (sa->sa_family != AF_INET) {
            return 0;
        }
        a = (const u_char *) &((struct sockaddr_in *) sa)->sin_addr;
        n = 4;
        break;

    default:
        if (sa->sa_family != AF_INET6) {
            return 0;
        }
        a = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        n = 16;
        break;
    }

    for (i = 0; i < n; i++) {
        if ((a[i] & rule->mask[i]) != rule->addr[i]) {
            return 0;
        }
    }

    return 1;
}

/*
 * An IPv4 client seen on an IPv6 socket as ::ffff:a.b.c.d is matched by
 * the IPv4 rules, as nginx does.
 */
static struct sockaddr *
sl_stream_access_unmap(struct sockaddr *sa, struct sockaddr_in *sin)
{
    struct sockaddr_in6  *sin6;

    if (sa->sa_family != AF_INET6) {
        return sa;
    }

    sin6 = (struct sockaddr_in6 *) sa;
    if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        return sa;
    }

    sl_memzero(sin, sizeof(struct sockaddr_in));
    sin->sin_family = AF_INET;
    sl_memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
    return (struct sockaddr *) sin;
}

static sl_int_t
sl_stream_access_handler(sl_stream_session_t *s)
{
    sl_stream_access_srv_conf_t  *ascf;
    sl_stream_access_rule_t      *rule;
    struct sockaddr_in            sin;
    struct sockaddr              *sa;
    sl_uint_t                     i;

    ascf = sl_stream_get_module_srv_conf(s, sl_stream_access_module);
    if (ascf->rules == NULL) {
        return SL_DECLINED;
    }

    sa = sl_stream_access_unmap(s->connection->sockaddr, &sin);
    rule = ascf->rules->elts;

    for (i = 0; i < ascf->rules->nelts; i++) {
        if (!sl_stream_access_match(&rule[i], sa)) {
            continue;
        }

        if (!rule[i].deny) {
            return SL_OK;
        }

        sl_log_error(SL_LOG_ERR, s->connection->log, 0,
                     "access forbidden by rule");
        return SL_STREAM_FORBIDDEN;
    }

    return SL_DECLINED;
}

/* --- configuration ------------------------------------------------------- */

/* "ADDR" or "ADDR/BITS" of one family into rule */
static sl_int_t
sl_stream_access_parse(sl_conf_t *cf, sl_str_t *value,
    sl_stream_access_rule_t *rule)
{
    u_char     text[SL_INET6_ADDRSTRLEN + 1];
    u_char    *slash;
    sl_int_t   bits;
    sl_uint_t  i, n, meaningless = 0;
    size_t     len;

    slash = memchr(value->data, '/', value->len);
    len = slash != NULL ? (size_t) (slash - value->data) : value->len;

    if (len == 0 || len > SL_INET6_ADDRSTRLEN) {
        return SL_ERROR;
    }

    sl_memcpy(text, value->data, len);
    text[len] = '\0';

    if (inet_pton(AF_INET, (char *) text, rule->addr) == 1) {
        rule->family = SL_STREAM_ACCESS_INET;
        n = 4;
    } else if (inet_pton(AF_INET6, (char *) text, rule->addr) == 1) {
        rule->family = SL_STREAM_ACCESS_INET6;
        n = 16;
    } else {
        return SL_ERROR;
    }

    bits = (sl_int_t) (n * 8);
    if (slash != NULL) {
        bits = sl_atoi(slash + 1, value->len - len - 1);
        if (bits == SL_ERROR || bits > (sl_int_t) (n * 8)) {
            return SL_ERROR;
        }
    }

    for (i = 0; i < n; i++) {
        if (bits >= 8) {
            rule->mask[i] = 0xff;
            bits -= 8;
        } else {
            rule->mask[i] = (u_char) (0xff00 >> bits);
            bits = 0;
        }

        if (rule->addr[i] & ~rule->mask[i]) {
            meaningless = 1;
            rule->addr[i] &= rule->mask[i];
        }
    }

    if (meaningless) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %V are "
                          "meaningless", value);
    }

    return SL_OK;
}

static char *
sl_stream_access_rule(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_access_srv_conf_t  *ascf = conf;
    sl_stream_access_rule_t      *rule;
    sl_str_t                     *value = cf->args->elts;

    if (ascf->rules == NULL) {
        ascf->rules = sl_array_create(cf->pool, 4,
                                      sizeof(sl_stream_access_rule_t));
        if (ascf->rules == NULL) {
            return SL_CONF_ERROR;
        }
    }

    rule = sl_array_push(ascf->rules);
    if (rule == NULL) {
        return SL_CONF_ERROR;
    }

    sl_memzero(rule, sizeof(sl_stream_access_rule_t));
    rule->deny = cmd->name.data[0] == 'd';

    if (sl_str_eq_lit(&value[1], "all")) {
        rule->family = SL_STREAM_ACCESS_ALL;
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(&value[1], "unix:")) {
        rule->family = SL_STREAM_ACCESS_UNIX;
        return SL_CONF_OK;
    }

    if (sl_stream_access_parse(cf, &value[1], rule) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static void *
sl_stream_access_create_srv_conf(sl_conf_t *cf)
{
    /* rules = NULL: inherited */
    return sl_pcalloc(cf->pool, sizeof(sl_stream_access_srv_conf_t));
}

/* a server with no rule of its own takes all of the stream{} level's */
static char *
sl_stream_access_merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_stream_access_srv_conf_t  *prev = parent;
    sl_stream_access_srv_conf_t  *conf = child;

    sl_unused(cf);

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
    }

    return SL_CONF_OK;
}

static sl_int_t
sl_stream_access_init(sl_conf_t *cf)
{
    return sl_stream_add_phase_handler(cf, SL_STREAM_ACCESS_PHASE, sl_stream_access_handler);
}
