/*
 * sl_t_embed.h -- tests of libsluice's embedding API (sluice.h) run
 * instances inside the test process: this is what they share.
 *
 *   - instances: created from a config text whose "@PORT@", "@PORT2@",
 *     "@CERTS@" and "@DIR@" become free loopback ports, the directory of
 *     sl_te_certs() and a scratch directory; created again with
 *     other ports when a port was taken in between; their log captured
 *     by a sink that other threads can wait on;
 *   - what a test compares before and after: open descriptors, threads,
 *     allocated heap;
 *   - what the suites assert alike: an echo that works, a connect that
 *     is refused (the test's own thread);
 *   - clients that any thread may run (they never call Check: they say
 *     what went wrong in a text, and the test's own thread asserts),
 *     plain and TLS, with every byte checked against a seeded pattern,
 *     and a pool of client threads that runs one of them many times.
 *
 * "Slow mode" is a run under valgrind (t/run.sh sets SLUICE_WRAPPER):
 * loads are scaled down there, never the assertions.
 */
#ifndef SL_T_EMBED_H
#define SL_T_EMBED_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>

#include "sluice.h"

#define SL_TE_PORTS  2
#define SL_TE_T_IO   20000      /* ms for one exchange */

/* a configuration: an echo server on @PORT@ */
#define SL_TE_ECHO_CONF                                                       \
    "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n"

/* the words of a server block for the certificate of sl_te_certs() */
#define SL_TE_TLS_CERT                                                        \
    "ssl_certificate @CERTS@/ecdsa.crt; ssl_certificate_key @CERTS@/ecdsa.key;"

/* a TCase of s with sl_t_fixture() and that timeout (seconds) */
TCase *sl_te_tcase(Suite *s, const char *name, int timeout);

/* --- the log sink -------------------------------------------------------- */

typedef struct {
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    char             *text;         /* "[level] msg\n" lines */
    size_t            len;
    size_t            size;
    unsigned          lines;
} sl_te_log_t;

void sl_te_log_init(sl_te_log_t *log);
void sl_te_log_free(sl_te_log_t *log);
/* an sl_log_pt: log_data is an sl_te_log_t */
void sl_te_log_sink(void *log_data, int level, const char *msg, size_t len);
/* how many lines contain needle (now) */
int sl_te_log_count(sl_te_log_t *log, const char *needle);
/* waits until a line contains needle: 1, or 0 at the deadline (ms) */
int sl_te_log_wait(sl_te_log_t *log, const char *needle, int ms);
/* a copy of the whole text (sl_proc's memory: the test's thread only) */
char *sl_te_log_text(sl_te_log_t *log);

/* --- instances ----------------------------------------------------------- */

typedef struct {
    sl_instance_t    *in;
    int               port[SL_TE_PORTS];   /* @PORT@, @PORT2@ */
    char             *dir;                 /* @DIR@ (sl_proc's memory) */
    sl_te_log_t       log;
    char              err[1024];
} sl_te_t;

/*
 * Creates t->in from conf (the placeholders replaced) with handlers,
 * data, and t->log as the sink at SL_LOG_INFO; fails the test when it
 * cannot. The test's own thread.
 */
#define sl_te_create(t, conf, handlers, data)                                 \
    sl_te_create_at(__FILE__, __LINE__, t, conf, handlers, data)
/* the text conf becomes for t (sl_proc's memory) */
char *sl_te_text(sl_te_t *t, const char *conf);
/* destroy must return SL_OK; the log is freed */
#define sl_te_destroy(t)  sl_te_destroy_at(__FILE__, __LINE__, t)
/* sl_instance_start() must return SL_OK */
#define sl_te_start(t)  sl_te_start_at(__FILE__, __LINE__, t)
/* stop with how, then join must return SL_DONE */
#define sl_te_stop_join(t, how)                                               \
    sl_te_stop_join_at(__FILE__, __LINE__, t, how)

void sl_te_create_at(const char *file, int line, sl_te_t *t,
    const char *conf, const sl_handler_reg_t *handlers, void *data);
void sl_te_destroy_at(const char *file, int line, sl_te_t *t);
void sl_te_start_at(const char *file, int line, sl_te_t *t);
void sl_te_stop_join_at(const char *file, int line, sl_te_t *t, int how);

/*
 * A directory with ecdsa.crt and ecdsa.key: a self-signed ECDSA P-256
 * server certificate for CN=localhost, IP:127.0.0.1 (cheap to make even
 * under valgrind, unlike the RSA keys of sl_tt_pki()). Made once per
 * process (call it in the runner, before Check forks), removed at exit by
 * the process that made it. NULL on failure.
 */
const char *sl_te_certs(void);

/* --- what the suites assert (the test's own thread) --------------------- */

/* an echo of len bytes of seed's stream on port must work (SL_TE_T_IO) */
#define sl_te_echo_ok(port, seed, len)                                        \
    sl_te_echo_ok_at(__FILE__, __LINE__, port, seed, len)
/* a connect to port must be refused */
#define sl_te_refused(port)  sl_te_refused_at(__FILE__, __LINE__, port)

void sl_te_echo_ok_at(const char *file, int line, int port, uint32_t seed,
    size_t len);
void sl_te_refused_at(const char *file, int line, int port);

/* --- the process --------------------------------------------------------- */

/* under valgrind: scale loads down */
int sl_te_slow(void);
/* n, or slow when in slow mode */
int sl_te_load(int n, int slow);
/* entries of /proc/self/fd (the one reading it not counted) */
int sl_te_nfds(void);
/* entries of /proc/self/task */
int sl_te_nthreads(void);
/*
 * The thread count to compare with later: taken after a thread was made
 * and joined (and is gone from /proc), since some runtimes start helper
 * threads of their own with the first one (ThreadSanitizer does).
 */
int sl_te_thread_baseline(void);
/*
 * The thread count once it is want (a joined thread may linger in /proc
 * for a moment after pthread_join()), or what it is at the deadline.
 */
int sl_te_threads_settle(int want, int ms);
/* the heap in use (mallinfo2), 0 when the allocator does not say */
size_t sl_te_heap(void);
/* a deadline ms (scaled by CK_TIMEOUT_MULTIPLIER) from now */
long long sl_te_deadline(int ms);
/* the CLOCK_REALTIME time ms (not scaled) from now: a timedwait's tick */
struct timespec sl_te_after(int ms);

/* --- clients (any thread; no Check) -------------------------------------- */

/* the byte at offset off of the stream of seed */
unsigned char sl_te_byte(uint32_t seed, size_t off);
void sl_te_fill(unsigned char *buf, uint32_t seed, size_t off, size_t len);
/* the first offset where buf differs from the stream, or len */
size_t sl_te_check(const unsigned char *buf, uint32_t seed, size_t off,
    size_t len);

/*
 * A blocking socket connected to 127.0.0.1:port (with SO_RCVBUF and
 * SO_SNDBUF of bufsize when not 0); -errno on failure.
 */
int sl_te_connect(int port, int bufsize);
/* all of len within the deadline: 0, or -errno (-ETIMEDOUT) */
int sl_te_send(int fd, const void *buf, size_t len, long long deadline);
/*
 * Exactly len unless the peer ends first: the count read; *err gets 0,
 * or the errno of the end (ECONNRESET, ETIMEDOUT, 0 for a FIN).
 */
size_t sl_te_recv(int fd, void *buf, size_t len, long long deadline,
    int *err);
/* what ends the stream now: 0 FIN, ECONNRESET, ETIMEDOUT, or -1: data */
int sl_te_recv_end(int fd, long long deadline);
/* SO_LINGER 0 and close: the peer gets a reset */
void sl_te_reset(int fd);

/*
 * One echo session on port: len bytes of seed's stream sent (while the
 * echo is read, so that any size works), all of them read back and
 * compared, then closed. 0, or -1 with why.
 */
int sl_te_echo(int port, uint32_t seed, size_t len, int ms, char *why,
    size_t whylen);

/* how an echo session ended */
#define SL_TE_OK        0       /* every byte came back */
#define SL_TE_REFUSED   1       /* connect() was refused */
#define SL_TE_CUT       2       /* a FIN or a reset came first (to the
                                   connect, too); what came before it
                                   was right (*got bytes) */
#define SL_TE_BAD      -1       /* a wrong byte, a timeout, anything else */

int sl_te_echo_outcome(int port, uint32_t seed, size_t len, int ms,
    size_t *got, char *why, size_t whylen);
/* the same through TLS with ctx (sl_te_tls_ctx()) */
int sl_te_tls_echo(SSL_CTX *ctx, int port, uint32_t seed, size_t len, int ms,
    char *why, size_t whylen);
/* a client context: TLS 1.2 or later, no verification */
SSL_CTX *sl_te_tls_ctx(void);

/* --- a pool of client threads -------------------------------------------- */

/* one job: 0, or -1 with why; i counts the jobs of this worker */
typedef int (*sl_te_job_pt)(void *data, int worker, int i, char *why,
    size_t whylen);

typedef struct {
    pthread_t         *threads;
    int                nthreads;
    int                per_thread;     /* -1: until sl_te_pool_stop() */
    sl_te_job_pt       job;
    void              *data;
    pthread_mutex_t    lock;
    pthread_cond_t     cond;           /* done changed */
    int                stop;
    long               done;           /* jobs that succeeded */
    long               failed;
    char               why[512];       /* the first failure */
} sl_te_pool_t;

/* threads workers, each running job per_thread times (or until stopped) */
void sl_te_pool_start(sl_te_pool_t *p, int threads, int per_thread,
    sl_te_job_pt job, void *data);
/* jobs that succeeded so far */
long sl_te_pool_done(sl_te_pool_t *p);
/* waits until n jobs succeeded: 1, or 0 (a failure, or the deadline) */
int sl_te_pool_wait(sl_te_pool_t *p, long n, int ms);
void sl_te_pool_stop(sl_te_pool_t *p);
/* joins every worker; returns the failures (why: the first) */
long sl_te_pool_join(sl_te_pool_t *p);

#endif /* SL_T_EMBED_H */
