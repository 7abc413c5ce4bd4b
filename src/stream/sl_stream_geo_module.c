/*
 * sl_stream_geo_module.c -- "geo [$src] $var { ... }": a variable whose
 * value depends on a client address (the connection's, or the address
 * in $src), as nginx's stream geo module: networks (IPv4 and IPv6 CIDR,
 * longest prefix wins) in radix trees, or with "ranges" IPv4 address
 * ranges in buckets by their top 16 bits; "default", "delete",
 * "include", "volatile".
 *
 * A sluice extension that no nginx stream config uses (nginx's stream
 * geo rejects both words): "proxy NETWORK;" -- when the connection's
 * client address is in NETWORK and the connection came with a PROXY
 * protocol header, the header's source address is looked up instead;
 * "proxy_recursive;" is accepted and changes nothing, a header carrying
 * one address only.
 *
 * It owns the directive, its block's syntax and the variable's handler;
 * it must never change the connection or keep anything per session but
 * the variable's value.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"
#include "sl_stream_proxy_protocol.h"

#include <arpa/inet.h>

/* a range of the low 16 bits within one bucket */
typedef struct {
    uint16_t                       start;
    uint16_t                       end;
    sl_stream_variable_value_t    *value;
} sl_stream_geo_range_t;

/* what a variable looks up: built by the block, read per session */
typedef struct {
    sl_int_t                       index;      /* $src; -1: the client */
    sl_array_t                    *proxies;    /* sl_cidr_t; NULL: none */

    /* CIDR mode */
    sl_radix_tree_t               *tree;
    sl_radix_tree_t               *tree6;

    /* ranges mode: sl_array_t of sl_stream_geo_range_t, by top 16 bits */
    sl_array_t                   **low;
    sl_stream_variable_value_t    *default_value;
    unsigned                       ranges:1;
} sl_stream_geo_t;

/* the block while it is read */
typedef struct {
    sl_stream_geo_t               *geo;
    sl_pool_t                     *pool;       /* the configuration's */
    unsigned                       cidr_seen:1;
    unsigned                       no_cacheable:1;
} sl_stream_geo_conf_ctx_t;

static char *sl_stream_geo_block(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

static sl_command_t  sl_stream_geo_commands[] = {

    { sl_string("geo"),
      SL_STREAM_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE12,
      sl_stream_geo_block,
      SL_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

      sl_null_command
};

static sl_stream_module_t  sl_stream_geo_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL
};

sl_module_t  sl_stream_geo_module = {
    .name = "sl_stream_geo_module",
    .ctx = &sl_stream_geo_module_ctx,
    .commands = sl_stream_geo_commands,
    .type = SL_STREAM_MODULE,
};

static sl_stream_variable_value_t  sl_stream_geo_empty = {
    0, 1, 0, 0, 0, (u_char *) ""
};

/* --- per session --------------------------------------------------------- */

/* text ("1.2.3.4", "::1") into an address; 0 when it is neither */
static int
sl_stream_geo_parse_addr(const u_char *p, size_t len, sl_sockaddr_t *sa)
{
    char  text[SL_INET6_ADDRSTRLEN + 1];

    if (len == 0 || len > SL_INET6_ADDRSTRLEN) {
        return 0;
    }

    sl_memcpy(text, p, len);
    text[len] = '\0';

    if (inet_pton(AF_INET, text, &sa->sockaddr_in.sin_addr) == 1) {
        return sa->sockaddr.sa_family = AF_INET;
    }

    if (inet_pton(AF_INET6, text, &sa->sockaddr_in6.sin6_addr) == 1) {
        return sa->sockaddr.sa_family = AF_INET6;
    }

    return 0;
}

/*
 * The address to look up into *sa: $src's value, the PROXY header's
 * source ("proxy"), or the client's. 0 when there is none (a $src that
 * is not found or not an address).
 */
static int
sl_stream_geo_addr(sl_stream_session_t *s, sl_stream_geo_t *geo,
    sl_sockaddr_t *sa)
{
    sl_stream_variable_value_t  *v;
    sl_connection_t             *c = s->connection;

    sl_memzero(sa, sizeof(sl_sockaddr_t));

    if (geo->index != -1) {
        v = sl_stream_get_flushed_variable(s, (sl_uint_t) geo->index);
        if (v == NULL || v->not_found) {
            return 0;
        }
        return sl_stream_geo_parse_addr(v->data, v->len, sa);
    }

    if (geo->proxies != NULL && c->proxy_protocol != NULL
        && sl_cidr_match(c->sockaddr, geo->proxies) == SL_OK)
    {
        return sl_stream_geo_parse_addr(c->proxy_protocol->src_addr,
                                        c->proxy_protocol->src_addr_len, sa);
    }

    sl_memcpy(sa, c->sockaddr, sl_min((size_t) c->socklen,
                                      sizeof(sl_sockaddr_t)));
    return sa->sockaddr.sa_family;
}

/* an IPv4 address (host order) of sa; 255.255.255.255 for any other */
static uint32_t
sl_stream_geo_inaddr(sl_sockaddr_t *sa, int family)
{
    const u_char  *p;

    if (family == AF_INET) {
        return ntohl(sa->sockaddr_in.sin_addr.s_addr);
    }

    if (family == AF_INET6
        && IN6_IS_ADDR_V4MAPPED(&sa->sockaddr_in6.sin6_addr))
    {
        p = &sa->sockaddr_in6.sin6_addr.s6_addr[12];
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
               | (uint32_t) p[2] << 8 | p[3];
    }

    return 0xffffffff;
}

static sl_stream_variable_value_t *
sl_stream_geo_cidr_find(sl_stream_geo_t *geo, sl_sockaddr_t *sa, int family)
{
    u_char     key[4];
    uint32_t   in;
    uintptr_t  value;

    if (family == AF_INET6
        && !IN6_IS_ADDR_V4MAPPED(&sa->sockaddr_in6.sin6_addr))
    {
        value = sl_radix_tree_find(geo->tree6,
                                   sa->sockaddr_in6.sin6_addr.s6_addr, 16);
        return (sl_stream_variable_value_t *) value;
    }

    /* a unix client, or none: 255.255.255.255, as nginx looks it up */
    in = sl_stream_geo_inaddr(sa, family);
    key[0] = (u_char) (in >> 24);
    key[1] = (u_char) (in >> 16);
    key[2] = (u_char) (in >> 8);
    key[3] = (u_char) in;

    value = sl_radix_tree_find(geo->tree, key, 4);
    return (sl_stream_variable_value_t *) value;
}

static sl_stream_variable_value_t *
sl_stream_geo_range_find(sl_stream_geo_t *geo, sl_sockaddr_t *sa, int family)
{
    sl_stream_geo_range_t  *range;
    sl_array_t             *a;
    uint32_t                in = sl_stream_geo_inaddr(sa, family);
    sl_uint_t               i, n = in & 0xffff;

    a = geo->low != NULL ? geo->low[in >> 16] : NULL;

    if (a != NULL) {
        range = a->elts;
        for (i = 0; i < a->nelts; i++) {
            if (n >= range[i].start && n <= range[i].end) {
                return range[i].value;
            }
        }
    }

    return geo->default_value;
}

static sl_int_t
sl_stream_geo_variable(sl_stream_session_t *s, sl_stream_variable_value_t *v,
    uintptr_t data)
{
    sl_stream_geo_t             *geo = (sl_stream_geo_t *) data;
    sl_stream_variable_value_t  *found;
    sl_sockaddr_t                sa;
    int                          family;

    family = sl_stream_geo_addr(s, geo, &sa);

    found = geo->ranges ? sl_stream_geo_range_find(geo, &sa, family)
                        : sl_stream_geo_cidr_find(geo, &sa, family);

    *v = *found;
    return SL_OK;
}

/* --- the block: values and messages -------------------------------------- */

static sl_stream_variable_value_t *
sl_stream_geo_value(sl_stream_geo_conf_ctx_t *ctx, sl_str_t *text)
{
    sl_stream_variable_value_t  *v;

    v = sl_pcalloc(ctx->pool, sizeof(sl_stream_variable_value_t));
    if (v == NULL) {
        return NULL;
    }

    v->data = sl_pnalloc(ctx->pool, text->len + 1);
    if (v->data == NULL) {
        return NULL;
    }

    sl_memcpy(v->data, text->data, text->len);
    v->data[text->len] = '\0';
    v->len = (unsigned) text->len;
    v->valid = 1;
    return v;
}

/* --- the block: networks ------------------------------------------------- */

static sl_int_t
sl_stream_geo_network(sl_conf_t *cf, sl_str_t *net, sl_cidr_t *cidr)
{
    sl_int_t  rc = sl_ptocidr(net, cidr);

    if (rc == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid network \"%V\"", net);
        return SL_ERROR;
    }

    if (rc == SL_DONE) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %V are "
                          "meaningless", net);
    }

    return SL_OK;
}

/* a network's value; a second value for it replaces the first, warned */
static char *
sl_stream_geo_cidr_add(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_cidr_t *cidr, sl_str_t *value, sl_str_t *net)
{
    sl_stream_variable_value_t  *val, *old;
    sl_radix_tree_t             *tree;
    size_t                       len;
    sl_int_t                     rc;

    val = sl_stream_geo_value(ctx, value);
    if (val == NULL) {
        return SL_CONF_ERROR;
    }

    tree = cidr->family == AF_INET6 ? ctx->geo->tree6 : ctx->geo->tree;
    len = cidr->family == AF_INET6 ? 16 : 4;

    rc = sl_radix_tree_insert(tree, cidr->addr, cidr->mask, len,
                              (uintptr_t) val);
    if (rc != SL_BUSY) {
        return rc == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
    }

    old = (sl_stream_variable_value_t *) sl_radix_tree_find(tree, cidr->addr,
                                                            len);
    sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate network \"%V\", value: "
                      "\"%V\", old value: \"%*s\"", net, value,
                      (size_t) old->len, old->data);

    if (sl_radix_tree_delete(tree, cidr->addr, cidr->mask, len) != SL_OK
        || sl_radix_tree_insert(tree, cidr->addr, cidr->mask, len,
                                (uintptr_t) val) != SL_OK)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid radix tree");
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* "default VALUE": 0.0.0.0/0 and ::/0 */
static char *
sl_stream_geo_cidr_default(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_str_t *value)
{
    sl_cidr_t  cidr;
    char      *rv;

    sl_memzero(&cidr, sizeof(sl_cidr_t));
    cidr.family = AF_INET;

    rv = sl_stream_geo_cidr_add(cf, ctx, &cidr, &value[1], &value[0]);
    if (rv != SL_CONF_OK) {
        return rv;
    }

    cidr.family = AF_INET6;
    return sl_stream_geo_cidr_add(cf, ctx, &cidr, &value[1], &value[0]);
}

static char *
sl_stream_geo_cidr(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_str_t *value)
{
    sl_cidr_t   cidr;
    sl_str_t   *net;
    sl_uint_t   del;

    ctx->cidr_seen = 1;

    if (sl_str_eq_lit(&value[0], "default")) {
        return sl_stream_geo_cidr_default(cf, ctx, value);
    }

    del = sl_str_eq_lit(&value[0], "delete");
    net = del ? &value[1] : &value[0];

    if (sl_stream_geo_network(cf, net, &cidr) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (!del) {
        return sl_stream_geo_cidr_add(cf, ctx, &cidr, &value[1], net);
    }

    if (sl_radix_tree_delete(cidr.family == AF_INET6 ? ctx->geo->tree6
                                                     : ctx->geo->tree,
                             cidr.addr, cidr.mask,
                             cidr.family == AF_INET6 ? 16 : 4) != SL_OK)
    {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "no network \"%V\" to delete",
                          net);
    }

    return SL_CONF_OK;
}

/* --- the block: ranges --------------------------------------------------- */

/* "A.B.C.D-E.F.G.H" into host-order bounds */
static sl_int_t
sl_stream_geo_parse_range(sl_str_t *net, uint32_t *start, uint32_t *end)
{
    sl_sockaddr_t  a, b;
    u_char        *dash;

    dash = memchr(net->data, '-', net->len);
    if (dash == NULL) {
        return SL_ERROR;
    }

    sl_memzero(&a, sizeof(a));
    sl_memzero(&b, sizeof(b));

    if (sl_stream_geo_parse_addr(net->data, (size_t) (dash - net->data), &a)
        != AF_INET
        || sl_stream_geo_parse_addr(dash + 1,
               (size_t) (net->data + net->len - dash - 1), &b) != AF_INET)
    {
        return SL_ERROR;
    }

    *start = ntohl(a.sockaddr_in.sin_addr.s_addr);
    *end = ntohl(b.sockaddr_in.sin_addr.s_addr);

    return *start <= *end ? SL_OK : SL_ERROR;
}

/* the bounds within bucket h of [start, end] */
static void
sl_stream_geo_chunk(uint32_t start, uint32_t end, uint32_t h, sl_uint_t *s,
    sl_uint_t *e)
{
    *s = (start >> 16) == h ? (start & 0xffff) : 0;
    *e = (end >> 16) == h ? (end & 0xffff) : 0xffff;
}

static sl_stream_geo_range_t *
sl_stream_geo_insert(sl_array_t *a, sl_uint_t at)
{
    sl_stream_geo_range_t  *range;

    if (sl_array_push(a) == NULL) {
        return NULL;
    }

    range = a->elts;
    memmove(&range[at + 1], &range[at],
            (a->nelts - 1 - at) * sizeof(sl_stream_geo_range_t));
    return &range[at];
}

/* range i, which holds [s, e], cut into what is before, [s, e], after */
static char *
sl_stream_geo_split(sl_array_t *a, sl_uint_t i, sl_uint_t s, sl_uint_t e,
    sl_stream_variable_value_t *value)
{
    sl_stream_geo_range_t   old = ((sl_stream_geo_range_t *) a->elts)[i];
    sl_stream_geo_range_t   piece[3], *r;
    sl_uint_t               n = 0, k;

    if (s > old.start) {
        piece[n++] = (sl_stream_geo_range_t) { old.start, (uint16_t) (s - 1),
                                               old.value };
    }

    piece[n++] = (sl_stream_geo_range_t) { (uint16_t) s, (uint16_t) e,
                                           value };

    if (e < old.end) {
        piece[n++] = (sl_stream_geo_range_t) { (uint16_t) (e + 1), old.end,
                                               old.value };
    }

    for (k = 1; k < n; k++) {
        if (sl_stream_geo_insert(a, i + k) == NULL) {
            return SL_CONF_ERROR;
        }
    }

    r = a->elts;
    sl_memcpy(&r[i], piece, n * sizeof(sl_stream_geo_range_t));
    return SL_CONF_OK;
}

/*
 * [s, e] with value into the sorted ranges of one bucket. A range may lie
 * between others, be the same as one (a warning; the new value wins) or
 * be inside one (which is split around it); any other overlap is an
 * error.
 */
static char *
sl_stream_geo_bucket_add(sl_conf_t *cf, sl_array_t *a, uint32_t h,
    sl_uint_t s, sl_uint_t e, sl_stream_variable_value_t *value,
    sl_str_t *net)
{
    sl_stream_geo_range_t  *r, *n;
    sl_uint_t               i = a->nelts;

    while (i > 0) {
        r = &((sl_stream_geo_range_t *) a->elts)[--i];

        if (e < r->start) {
            continue;
        }

        if (s > r->end) {
            n = sl_stream_geo_insert(a, i + 1);
            goto fill;
        }

        if (s == r->start && e == r->end) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate range \"%V\", "
                              "value: \"%*s\", old value: \"%*s\"", net,
                              (size_t) value->len, value->data,
                              (size_t) r->value->len, r->value->data);
            r->value = value;
            return SL_CONF_OK;
        }

        if (s >= r->start && e <= r->end) {
            return sl_stream_geo_split(a, i, s, e, value);
        }

        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "range \"%V\" overlaps "
                          "\"%ui.%ui.%ui.%ui-%ui.%ui.%ui.%ui\"", net,
                          (sl_uint_t) h >> 8, (sl_uint_t) h & 0xff,
                          (sl_uint_t) r->start >> 8,
                          (sl_uint_t) r->start & 0xff,
                          (sl_uint_t) h >> 8, (sl_uint_t) h & 0xff,
                          (sl_uint_t) r->end >> 8, (sl_uint_t) r->end & 0xff);
        return SL_CONF_ERROR;
    }

    n = sl_stream_geo_insert(a, 0);

fill:

    if (n == NULL) {
        return SL_CONF_ERROR;
    }

    n->start = (uint16_t) s;
    n->end = (uint16_t) e;
    n->value = value;
    return SL_CONF_OK;
}

static char *
sl_stream_geo_add_range(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    uint32_t start, uint32_t end, sl_stream_variable_value_t *value,
    sl_str_t *net)
{
    sl_array_t  **low = ctx->geo->low;
    sl_uint_t     s, e;
    uint32_t      h;

    for (h = start >> 16; h <= end >> 16; h++) {
        if (low[h] == NULL) {
            low[h] = sl_array_create(ctx->pool, 4,
                                     sizeof(sl_stream_geo_range_t));
            if (low[h] == NULL) {
                return SL_CONF_ERROR;
            }
        }

        sl_stream_geo_chunk(start, end, h, &s, &e);

        if (sl_stream_geo_bucket_add(cf, low[h], h, s, e, value, net)
            != SL_CONF_OK)
        {
            return SL_CONF_ERROR;
        }

        if (h == 0xffff) {
            break;
        }
    }

    return SL_CONF_OK;
}

/* 1 when some part of [start, end] was not a range of its own */
static sl_uint_t
sl_stream_geo_delete_range(sl_stream_geo_conf_ctx_t *ctx, uint32_t start,
    uint32_t end)
{
    sl_stream_geo_range_t  *r;
    sl_array_t             *a;
    sl_uint_t               s, e, i, found, missed = 0;
    uint32_t                h;

    for (h = start >> 16; h <= end >> 16; h++) {
        a = ctx->geo->low[h];
        sl_stream_geo_chunk(start, end, h, &s, &e);
        found = 0;

        for (i = 0; a != NULL && i < a->nelts && !found; i++) {
            r = a->elts;
            if (r[i].start == s && r[i].end == e) {
                memmove(&r[i], &r[i + 1],
                        (a->nelts - 1 - i) * sizeof(sl_stream_geo_range_t));
                a->nelts--;
                found = 1;
            }
        }

        missed |= !found;

        if (h == 0xffff) {
            break;
        }
    }

    return missed;
}

static char *
sl_stream_geo_range(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_str_t *value)
{
    sl_stream_geo_t             *geo = ctx->geo;
    sl_stream_variable_value_t  *val;
    sl_str_t                    *net;
    sl_uint_t                    del;
    uint32_t                     start, end;

    if (sl_str_eq_lit(&value[0], "default")) {
        if (geo->default_value != &sl_stream_geo_empty) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate default geo "
                              "range value: \"%V\", old value: \"%*s\"",
                              &value[1], (size_t) geo->default_value->len,
                              geo->default_value->data);
        }

        geo->default_value = sl_stream_geo_value(ctx, &value[1]);
        return geo->default_value != NULL ? SL_CONF_OK : SL_CONF_ERROR;
    }

    if (geo->low == NULL) {
        geo->low = sl_pcalloc(ctx->pool, 0x10000 * sizeof(sl_array_t *));
        if (geo->low == NULL) {
            return SL_CONF_ERROR;
        }
    }

    del = sl_str_eq_lit(&value[0], "delete");
    net = del ? &value[1] : &value[0];

    if (sl_stream_geo_parse_range(net, &start, &end) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid range \"%V\"", net);
        return SL_CONF_ERROR;
    }

    if (del) {
        if (sl_stream_geo_delete_range(ctx, start, end)) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "no address range \"%V\" "
                              "to delete", net);
        }
        return SL_CONF_OK;
    }

    val = sl_stream_geo_value(ctx, &value[1]);
    if (val == NULL) {
        return SL_CONF_ERROR;
    }

    return sl_stream_geo_add_range(cf, ctx, start, end, val, net);
}

/* --- the block: its lines ------------------------------------------------ */

/* "proxy NETWORK;" (a sluice extension): trusted senders of a header */
static char *
sl_stream_geo_proxy(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_str_t *net)
{
    sl_cidr_t  *cidr;

    if (ctx->geo->proxies == NULL) {
        ctx->geo->proxies = sl_array_create(ctx->pool, 2, sizeof(sl_cidr_t));
        if (ctx->geo->proxies == NULL) {
            return SL_CONF_ERROR;
        }
    }

    cidr = sl_array_push(ctx->geo->proxies);
    if (cidr == NULL) {
        return SL_CONF_ERROR;
    }

    if (sl_str_eq_lit(net, "unix:")) {
        sl_memzero(cidr, sizeof(sl_cidr_t));
        cidr->family = AF_UNIX;
        return SL_CONF_OK;
    }

    return sl_stream_geo_network(cf, net, cidr) == SL_OK ? SL_CONF_OK
                                                         : SL_CONF_ERROR;
}

/* a line of one word: "ranges", "volatile", "proxy_recursive" */
static char *
sl_stream_geo_keyword(sl_conf_t *cf, sl_stream_geo_conf_ctx_t *ctx,
    sl_str_t *word)
{
    if (sl_str_eq_lit(word, "ranges")) {
        if (ctx->cidr_seen) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the \"ranges\" directive "
                              "must be the first directive inside \"geo\" "
                              "block");
            return SL_CONF_ERROR;
        }
        ctx->geo->ranges = 1;
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(word, "volatile")) {
        ctx->no_cacheable = 1;
        return SL_CONF_OK;
    }

    if (sl_str_eq_lit(word, "proxy_recursive")) {
        return SL_CONF_OK;
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of the geo "
                      "parameters");
    return SL_CONF_ERROR;
}

static char *
sl_stream_geo_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    sl_stream_geo_conf_ctx_t  *ctx = cf->ctx;
    sl_str_t                  *value = cf->args->elts;

    if (cf->args->nelts == 1) {
        return sl_stream_geo_keyword(cf, ctx, &value[0]);
    }

    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of the geo "
                          "parameters");
        return SL_CONF_ERROR;
    }

    if (sl_str_eq_lit(&value[0], "include")) {
        return sl_conf_include(cf, dummy, conf);
    }

    if (sl_str_eq_lit(&value[0], "proxy")) {
        return sl_stream_geo_proxy(cf, ctx, &value[1]);
    }

    return ctx->geo->ranges ? sl_stream_geo_range(cf, ctx, value)
                            : sl_stream_geo_cidr(cf, ctx, value);
}

/* --- the block ----------------------------------------------------------- */

/*
 * "$name" into name; the message nginx gives when it is not one. An
 * empty name is left to the caller when it may be ($src: the index
 * lookup says "invalid variable name").
 */
static sl_int_t
sl_stream_geo_var_name(sl_conf_t *cf, sl_str_t *arg, sl_str_t *name,
    sl_uint_t empty_ok)
{
    if (arg->len < 2 - empty_ok || arg->data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%V\"",
                          arg);
        return SL_ERROR;
    }

    name->data = arg->data + 1;
    name->len = arg->len - 1;
    return SL_OK;
}

static sl_int_t
sl_stream_geo_trees(sl_pool_t *pool, sl_stream_geo_t *geo)
{
    geo->tree = sl_radix_tree_create(pool);
    geo->tree6 = sl_radix_tree_create(pool);

    return geo->tree != NULL && geo->tree6 != NULL ? SL_OK : SL_ERROR;
}

/*
 * After the block: the empty value for 0.0.0.0/0 and ::/0 unless
 * "default" gave one (SL_BUSY then, which is fine).
 */
static sl_int_t
sl_stream_geo_default_empty(sl_stream_geo_t *geo)
{
    static const u_char  zero[16];

    if (sl_radix_tree_insert(geo->tree, zero, zero, 4,
                             (uintptr_t) &sl_stream_geo_empty) == SL_ERROR
        || sl_radix_tree_insert(geo->tree6, zero, zero, 16,
                                (uintptr_t) &sl_stream_geo_empty) == SL_ERROR)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

static char *
sl_stream_geo_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_stream_geo_conf_ctx_t   ctx;
    sl_stream_variable_t      *var;
    sl_stream_geo_t           *geo;
    sl_str_t                  *value = cf->args->elts, name;
    sl_conf_t                  save;
    char                      *rv;

    sl_unused(cmd);

    geo = sl_pcalloc(cf->pool, sizeof(sl_stream_geo_t));
    if (geo == NULL
        || sl_stream_geo_var_name(cf, &value[1], &name, cf->args->nelts == 3)
           != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    geo->index = -1;
    geo->default_value = &sl_stream_geo_empty;

    if (cf->args->nelts == 3) {
        geo->index = sl_stream_get_variable_index(cf, &name);
        if (geo->index == SL_ERROR
            || sl_stream_geo_var_name(cf, &value[2], &name, 0) != SL_OK)
        {
            return SL_CONF_ERROR;
        }
    }

    var = sl_stream_add_variable(cf, &name, SL_STREAM_VAR_CHANGEABLE);
    if (var == NULL || sl_stream_geo_trees(cf->pool, geo) != SL_OK) {
        return SL_CONF_ERROR;
    }

    sl_memzero(&ctx, sizeof(ctx));
    ctx.geo = geo;
    ctx.pool = cf->pool;

    save = *cf;
    cf->ctx = &ctx;
    cf->handler = sl_stream_geo_line;
    cf->handler_conf = conf;

    rv = sl_conf_parse(cf, NULL);

    *cf = save;

    if (rv != SL_CONF_OK) {
        return rv;
    }

    if (!geo->ranges && sl_stream_geo_default_empty(geo) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (ctx.no_cacheable) {
        var->flags |= SL_STREAM_VAR_NOCACHEABLE;
    }

    var->get_handler = sl_stream_geo_variable;
    var->data = (uintptr_t) geo;
    return SL_CONF_OK;
}
