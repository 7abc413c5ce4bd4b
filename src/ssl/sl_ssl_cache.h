/*
 * sl_ssl_cache.h -- certificates and keys named when a handshake starts
 * (ssl_certificate and proxy_ssl_certificate with variables), and the
 * per-process cache that keeps them loaded (ssl_certificate_cache,
 * proxy_ssl_certificate_cache), as nginx's.
 */
#ifndef SL_SSL_CACHE_H
#define SL_SSL_CACHE_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

typedef struct sl_ssl_cache_s  sl_ssl_cache_t;

/*
 * A cache of at most max certificate chains and keys, each reused for
 * valid seconds (then kept only while its file is the same file, same
 * inode and mtime) and dropped when not used for inactive seconds. Made
 * while the configuration is read, from cf->pool, whose cleanup frees
 * what it holds; each process fills its own. NULL when out of memory.
 */
sl_ssl_cache_t *sl_ssl_cache_create(sl_conf_t *cf, sl_uint_t max,
    time_t valid, time_t inactive);

/*
 * The setter of ssl_certificate_cache and proxy_ssl_certificate_cache
 * ("off" | "max=N [inactive=time] [valid=time]", nginx's defaults and
 * errors): *cache is SL_CONF_UNSET_PTR until set, NULL for off.
 */
char *sl_ssl_cache_conf(sl_conf_t *cf, sl_ssl_cache_t **cache);

/*
 * Gives c's SSL the certificate cert (with the chain after it in the same
 * PEM) and its key: each a file name, relative names taken against
 * prefix (the configuration's directory), or "data:" and the PEM text
 * itself (the full names are made in pool). The key is decrypted with passwords (sl_str_t, tried in order;
 * NULL: none); an encrypted key is never kept in a cache. cache NULL:
 * both are read each time. now is the wall clock (seconds). From the
 * event loop's thread, during a handshake (or before a client's).
 * SL_OK, or SL_ERROR logged at error on c->log with OpenSSL's reason
 * ("cannot load certificate \"...\": ..." and the like, as nginx).
 */
sl_int_t sl_ssl_connection_certificate(sl_connection_t *c, sl_pool_t *pool,
    sl_ssl_cache_t *cache, sl_str_t *prefix, time_t now, sl_str_t *cert,
    sl_str_t *key, sl_array_t *passwords);

#endif /* SL_SSL_CACHE_H */
