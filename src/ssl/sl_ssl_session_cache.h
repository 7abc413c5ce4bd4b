/*
 * sl_ssl_session_cache.h -- the shared TLS session cache of
 * "ssl_session_cache shared:NAME:SIZE": sessions kept in a zone of shared
 * memory (sl_shm_zone.h), so that a session made by one worker resumes on
 * any other, and on the workers a reload starts while the zone is kept.
 *
 * The configuration declares the zone (sl_shared_memory_add() with
 * &sl_ssl_session_cache_tag, and sl_ssl_session_cache_init_zone as its
 * init); sl_ssl_session_cache() (sl_ssl.h) then hangs the zone on the
 * server's SSL_CTX with sl_ssl_session_cache_attach(), which installs
 * OpenSSL's new/get/remove session callbacks.
 *
 * What OpenSSL asks is what is done: a session is stored when OpenSSL
 * says it is new (not a TLS 1.3 session that a stateless ticket carries,
 * not one whose DER is over SL_SSL_MAX_SESSION_SIZE), handed out while it
 * has not expired, and removed when OpenSSL removes it (a fatal alert, a
 * refused client certificate, an eviction from the builtin cache beside
 * it) or when it is found expired. A full zone drops its expired and then
 * its oldest sessions to make room.
 *
 * Thread rules: the callbacks run in the thread of the connection; they
 * take the zone's lock only around the tree and the queue, never around
 * OpenSSL's encoding or decoding.
 */
#ifndef SL_SSL_SESSION_CACHE_H
#define SL_SSL_SESSION_CACHE_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_shm_zone.h"

#include <openssl/ssl.h>

/* the largest session (DER) kept; a bigger one is not cached */
#define SL_SSL_MAX_SESSION_SIZE        4096
/* the smallest zone "shared:NAME:SIZE" may ask for: eight pages */
#define SL_SSL_SESSION_CACHE_MIN_SIZE  (8 * SL_SLAB_PAGE_SIZE)

/* the tag of every session cache zone (its address, not its value) */
extern const u_char  sl_ssl_session_cache_tag;

/*
 * The zone's init (sl_shm_zone_init_pt): the previous cycle's cache when
 * the zone was kept, else an empty one. Logs and returns SL_ERROR when the
 * zone cannot hold its root.
 */
sl_int_t sl_ssl_session_cache_init_zone(sl_shm_zone_t *zone, void *data);

/*
 * Makes ctx store and look up its sessions in zone (mapped later, before
 * any connection): SL_OK, or SL_ERROR with OpenSSL's errors queued for
 * the caller to report.
 */
sl_int_t sl_ssl_session_cache_attach(SSL_CTX *ctx, sl_shm_zone_t *zone);

#endif /* SL_SSL_SESSION_CACHE_H */
