/*
 * sl_t_net.h -- tests that talk to a running sluice over sockets: start
 * it on a free port, connect to it, send and receive with time limits,
 * and look at its memory.
 *
 * It builds on sl_proc.h (install sl_t_fixture() in the TCase); the
 * memory it hands out is sl_proc's, freed by sl_t_cleanup().
 */
#ifndef SL_T_NET_H
#define SL_T_NET_H

#include <stddef.h>
#include <sys/types.h>

#include "sl_proc.h"

typedef struct {
    sl_t_proc_t  *proc;
    char         *dir;          /* the prefix */
    char         *log;          /* its logs/error.log */
    int           port;         /* what "@PORT@" became */
} sl_t_sluice_t;

/*
 * Starts sluice in a fresh prefix with conf/t.conf made of: "daemon off;
 * master_process off;", "error_log logs/error.log info;", then conf with
 * every "@PORT@" replaced by a free TCP port and every "@DIR@" by the
 * prefix. Returns once it has logged "started"; when the port was taken
 * in the meantime it tries again with another one.
 */
#define sl_t_sluice_start(srv, conf)                                          \
    sl_t_sluice_start_at(__FILE__, __LINE__, srv, NULL, conf)
/*
 * The same with conf, as it is but for @PORT@ and @DIR@, in file (relative
 * to the prefix): it must log "started" to logs/error.log itself.
 */
#define sl_t_sluice_start_file(srv, file, conf)                               \
    sl_t_sluice_start_at(__FILE__, __LINE__, srv, file, conf)
/*
 * "sluice -t" on a fresh prefix whose conf/t.conf is conf with every
 * "@DIR@" replaced by the prefix: its exit status; what it wrote in out
 * (may be NULL).
 */
#define sl_t_sluice_test(conf, out)                                           \
    sl_t_sluice_test_at(__FILE__, __LINE__, conf, out)
/* "sluice -t" on conf (as above) exits with 1, msg in what it wrote */
#define sl_t_conf_error(conf, msg)                                            \
    sl_t_conf_error_at(__FILE__, __LINE__, conf, msg)
/*
 * The same, and msg is told at conf/t.conf:conf_line; conf_line 0: msg
 * names no line of the file (an error found when a block ends).
 */
#define sl_t_conf_error_line(conf, msg, conf_line)                            \
    sl_t_conf_error_line_at(__FILE__, __LINE__, conf, msg, conf_line)
/* TERM, then its exit status must be 0 (valgrind's errors make it 97) */
#define sl_t_sluice_stop(srv)                                                 \
    sl_t_sluice_stop_at(__FILE__, __LINE__, srv)

/*
 * The back ends an integration suite runs sluice on: every one built, and
 * "kqueue" where only the stand-in has it (SLUICE_BIN_KQUEUE, a sluice
 * built with t/lib/kqueue). A config that says "use kqueue;" is started
 * with that binary.
 */
int sl_t_nbackends(void);
const char *sl_t_backend(int i);

/* every occurrence of from in text replaced by to */
char *sl_t_replace(const char *text, const char *from, const char *to);

/* can this host bind [::1]? */
int sl_t_have_ipv6(void);

/* a blocking socket connected to host ("127.0.0.1", "::1") and port */
#define sl_t_connect(host, port)                                              \
    sl_t_connect_at(__FILE__, __LINE__, host, port)
/* the same with SO_RCVBUF and SO_SNDBUF of size */
#define sl_t_connect_buf(host, port, size)                                    \
    sl_t_connect_buf_at(__FILE__, __LINE__, host, port, size)
/* sl_t_connect() from the loopback address src (IPv4) */
#define sl_t_connect_from(src, host, port)                                    \
    sl_t_connect_from_at(__FILE__, __LINE__, src, host, port)
#define sl_t_connect_unix(path)                                               \
    sl_t_connect_unix_at(__FILE__, __LINE__, path)

/* writes all of buf, waiting at most ms for room */
#define sl_t_send_all(fd, buf, len, ms)                                       \
    sl_t_send_all_at(__FILE__, __LINE__, fd, buf, len, ms)

/*
 * Reads until the peer closes, at most size bytes, waiting at most ms in
 * all. Returns the length read; *reset (when not NULL) is set when the
 * end was a reset rather than a FIN.
 */
#define sl_t_recv_all(fd, buf, size, reset, ms)                               \
    sl_t_recv_all_at(__FILE__, __LINE__, fd, buf, size, reset, ms)
/* the same into a string (at most 4 KiB), then fd is closed */
#define sl_t_recv_text(fd, reset, ms)                                         \
    sl_t_recv_text_at(__FILE__, __LINE__, fd, reset, ms)

/* the resident memory of a process, in kB */
long sl_t_rss_kb(pid_t pid);
/* the user + system CPU time a process has used, in ms; the test fails
 * when /proc cannot say */
long sl_t_cpu_ms(pid_t pid);
/* ms since some fixed moment, monotonic */
long long sl_t_msec(void);

void sl_t_sluice_start_at(const char *file, int line, sl_t_sluice_t *srv,
    const char *conf_file, const char *conf);
void sl_t_sluice_stop_at(const char *file, int line, sl_t_sluice_t *srv);
int sl_t_sluice_test_at(const char *file, int line, const char *conf,
    sl_t_out_t *out);
void sl_t_conf_error_at(const char *file, int line, const char *conf,
    const char *msg);
void sl_t_conf_error_line_at(const char *file, int line, const char *conf,
    const char *msg, int conf_line);
int sl_t_connect_at(const char *file, int line, const char *host, int port);
int sl_t_connect_from_at(const char *file, int line, const char *src,
    const char *host, int port);
int sl_t_connect_buf_at(const char *file, int line, const char *host,
    int port, int size);
int sl_t_connect_unix_at(const char *file, int line, const char *path);
void sl_t_send_all_at(const char *file, int line, int fd, const void *buf,
    size_t len, int ms);
size_t sl_t_recv_all_at(const char *file, int line, int fd, void *buf,
    size_t size, int *reset, int ms);
char *sl_t_recv_text_at(const char *file, int line, int fd, int *reset,
    int ms);

/*
 * A TCP port on 127.0.0.1 that nobody had a moment ago (the kernel's
 * choice), for a server the test starts itself: it may be taken before
 * that server binds it, so try again with another when bind fails.
 */
int sl_t_loopback_port(void);

#endif /* SL_T_NET_H */
