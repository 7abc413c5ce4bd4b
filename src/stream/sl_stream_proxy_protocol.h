/*
 * sl_stream_proxy_protocol.h -- the stream module of the PROXY protocol
 * (sl_stream_proxy_protocol_module.c): the reader of a client's header,
 * run before the phases on a "proxy_protocol" address, and the header of
 * a connection's own addresses. The wire format is core's
 * (sl_proxy_protocol.h).
 */
#ifndef SL_STREAM_PROXY_PROTOCOL_H
#define SL_STREAM_PROXY_PROTOCOL_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_proxy_protocol.h"

/*
 * sl_proxy_protocol_write_addrs() for a client connection: its peer as
 * the source and its local address as the destination, as nginx's
 * "proxy_protocol on" sends them. NULL on error (logged) or when it does
 * not fit.
 */
u_char *sl_proxy_protocol_write(sl_connection_t *c, u_char *buf,
    u_char *last, sl_uint_t version);

extern sl_module_t  sl_stream_proxy_protocol_module;

struct sl_stream_session_s;

/*
 * A session on a "proxy_protocol" address begins here instead of in the
 * phases: the header is read (within proxy_protocol_timeout) and the
 * phases run after it. A malformed header ends the session with 400.
 */
void sl_stream_proxy_protocol_start(struct sl_stream_session_s *s);

#endif /* SL_STREAM_PROXY_PROTOCOL_H */
