/*
 * sl_t_backend.h -- TCP servers that stand behind the proxy in tests.
 *
 * A backend listens on 127.0.0.1 (a free port, bound before it returns,
 * so a client may connect at once) and serves every connection the same
 * way, in one child process with a poll() loop (made by sl_t_fork(): the
 * test's cleanup kills it). Each connection is greeted with the backend's
 * id and a newline, so a client learns which backend the proxy chose from
 * the first line it reads. When a connection ends, the backend appends a
 * line to its record file: "ID BYTES fin" or "ID BYTES rst" (the bytes it
 * received, and how the peer ended), which tests read with
 * sl_t_backend_wait_record().
 */
#ifndef SL_T_BACKEND_H
#define SL_T_BACKEND_H

#include <stddef.h>
#include <sys/types.h>

#include "sl_proc.h"

typedef enum {
    SL_TB_ECHO = 0,     /* greets, echoes; FIN after the client's FIN */
    SL_TB_SINK,         /* greets, reads to the FIN, then "BYTES\n", FIN */
    SL_TB_FIN,          /* greets and sends its FIN at once; reads on */
    SL_TB_RESET,        /* greets, resets at the first byte it gets */
    SL_TB_SILENT,       /* greets, then never reads again */
    SL_TB_SEND,         /* greets, sends `size` bytes of pattern, FIN */
    SL_TB_NOACCEPT      /* listens with a backlog of 0, never accepts */
} sl_t_backend_mode_e;

typedef struct {
    char           id[16];
    int            port;
    int            fd;          /* the listening socket, in the test */
    int            fill[4];     /* sl_t_backend_fill_backlog()'s sockets */
    char          *record;      /* the record file's path */
    sl_t_proc_t   *proc;        /* NULL for SL_TB_NOACCEPT */
    size_t         size;        /* SL_TB_SEND: how much */
} sl_t_backend_t;

#define sl_t_backend_start(b, id, mode, size)                                 \
    sl_t_backend_start_at(__FILE__, __LINE__, b, id, mode, size)
/* the record file's text once it has n lines (waiting at most ms) */
#define sl_t_backend_wait_record(b, n, ms)                                    \
    sl_t_backend_wait_record_at(__FILE__, __LINE__, b, n, ms)

/* the byte at offset off of SL_TB_SEND's stream and of test streams */
unsigned char sl_t_pattern(size_t off);

/* reads the greeting line of fd: the id ("" on EOF), waiting at most ms */
#define sl_t_read_id(fd, id, size, ms)                                        \
    sl_t_read_id_at(__FILE__, __LINE__, fd, id, size, ms)

/*
 * Through an SL_TB_ECHO backend behind port: sends len bytes of
 * sl_t_pattern() while reading the echo (after the greeting), and checks
 * that the sha256 of what came back is that of what went.
 */
#define sl_t_echo_transfer(port, len)                                         \
    sl_t_echo_transfer_at(__FILE__, __LINE__, port, len)
void sl_t_echo_transfer_at(const char *file, int line, int port,
    size_t len);
/*
 * The same through a TLS client (no certificate check; the TLS backend
 * greets with its id too): for a listener with "ssl" in front of a plain
 * or a TLS backend.
 */
#define sl_t_tls_echo_transfer(port, len)                                     \
    sl_t_tls_echo_transfer_at(__FILE__, __LINE__, port, len)
void sl_t_tls_echo_transfer_at(const char *file, int line, int port,
    size_t len);

/* fills the listen queue of a SL_TB_NOACCEPT backend; fds in the test */
void sl_t_backend_fill_backlog(sl_t_backend_t *b);
/* closes what a SL_TB_NOACCEPT backend holds in the test */
void sl_t_backend_close(sl_t_backend_t *b);

/*
 * A TLS echo backend: one connection at a time, each greeted with the id
 * (over TLS) and echoed; at its end the record line is "ID BYTES HOW
 * resumed=0|1 sni=NAME|- cn=CLIENT-CN|-" (HOW: close_notify or eof), or
 * "ID 0 handshake-failed". cert and key are the server's PEM files; with
 * ca, a client certificate issued by it is required.
 */
#define sl_t_tls_backend_start(b, id, cert, key, ca)                          \
    sl_t_tls_backend_start_at(__FILE__, __LINE__, b, id, cert, key, ca)
void sl_t_tls_backend_start_at(const char *file, int line, sl_t_backend_t *b,
    const char *id, const char *cert, const char *key, const char *ca);

void sl_t_backend_start_at(const char *file, int line, sl_t_backend_t *b,
    const char *id, sl_t_backend_mode_e mode, size_t size);
char *sl_t_backend_wait_record_at(const char *file, int line,
    sl_t_backend_t *b, int n, int ms);
void sl_t_read_id_at(const char *file, int line, int fd, char *id,
    size_t size, int ms);

#endif /* SL_T_BACKEND_H */
