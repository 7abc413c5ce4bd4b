/*
 * sl_syslog.h -- logging to a syslog server: "syslog:server=ADDR[:PORT]
 * [,facility=F][,severity=S][,tag=T][,nohostname]" in error_log and
 * access_log, as nginx takes it.
 *
 * A message is one datagram in the RFC 3164 shape nginx writes:
 * "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MESSAGE", over UDP or a unix
 * datagram socket. Sending never blocks: a message the socket cannot take
 * now is dropped, and a server that cannot be reached costs at most one
 * attempt to reconnect a second.
 */
#ifndef SL_SYSLOG_H
#define SL_SYSLOG_H

#include "sl_config.h"
#include "sl_core.h"

/* the longest header: "<191>Jan 01 00:00:00 " + hostname + " " + tag + ": " */
#define SL_SYSLOG_MAX_HEADER  (sizeof("<191>Jan 01 00:00:00 ") - 1 + 255 + 1 \
                               + 32 + 2)

typedef struct {
    sl_addr_t          server;
    sl_uint_t          facility;     /* 0 kern .. 23 local7 */
    sl_uint_t          severity;     /* access_log's; error_log uses levels */
    sl_str_t           tag;
    sl_str_t          *hostname;     /* the cycle's */
    sl_time_cache_t   *time;         /* the cycle's clock */
    sl_log_t          *log;          /* the cycle's: failures go there, */
    sl_log_t           elog;         /* through this copy with context */
    sl_fd_t            fd;           /* opened on first use, per process */
    time_t             retry;        /* no new socket before this second */
    time_t             logged;       /* the last second a failure was told */
    unsigned           nohostname:1;
    unsigned           busy:1;       /* writing: a failure is not logged */
} sl_syslog_peer_t;

/*
 * Parses value ("syslog:...") into peer, with nginx's error texts, and
 * registers the socket's close with the cycle. SL_CONF_OK or
 * SL_CONF_ERROR.
 */
char *sl_syslog_process_conf(sl_conf_t *cf, sl_syslog_peer_t *peer,
    sl_str_t *value);
/* the header for severity at buf (room: SL_SYSLOG_MAX_HEADER); the end */
u_char *sl_syslog_add_header(sl_syslog_peer_t *peer, u_char *buf,
    sl_uint_t severity);
/* the header's length for this peer */
size_t sl_syslog_header_len(sl_syslog_peer_t *peer);
/*
 * Sends one message (header included), without blocking: the bytes sent,
 * or SL_ERROR when the message was dropped.
 */
ssize_t sl_syslog_send(sl_syslog_peer_t *peer, u_char *buf, size_t len);
/* an error_log "file" that writes to the syslog server of peer */
sl_open_file_t *sl_syslog_open_file(sl_conf_t *cf, sl_str_t *value);

#endif /* SL_SYSLOG_H */
