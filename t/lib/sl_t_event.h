/*
 * sl_t_event.h -- what the event suites share: a loop over one back end
 * with a log the test can read, socket pairs, connections over them, and
 * ways to turn the loop that always end.
 *
 * Every event test runs once per back end: add it with
 *
 *     tcase_add_loop_test(tc, test_x, 0, SL_TE_NBACKENDS);
 *
 * and begin it with sl_te_open(_i, n), end it with sl_te_close(). The
 * table of back ends is made in the test file (SL_TE_BACKENDS), which is
 * compiled with -DSL_TEST_KQUEUE=1 when a kqueue (native or the stand-in
 * of t/lib/kqueue) is linked in.
 */
#ifndef SL_T_EVENT_H
#define SL_T_EVENT_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <stdio.h>

#include "sl_proc.h"

typedef struct {
    const char                *name;
    const sl_event_actions_t  *actions;
} sl_te_backend_t;

#if (SL_HAVE_epoll_MODULE)
#define SL_TE_EPOLL   { "epoll", &sl_epoll_actions },
#else
#define SL_TE_EPOLL
#endif
#if (SL_TEST_KQUEUE)
#define SL_TE_KQUEUE  { "kqueue", &sl_kqueue_actions },
#else
#define SL_TE_KQUEUE
#endif
#if (SL_HAVE_poll_MODULE)
#define SL_TE_POLL    { "poll", &sl_poll_actions },
#else
#define SL_TE_POLL
#endif
#if (SL_HAVE_select_MODULE)
#define SL_TE_SELECT  { "select", &sl_select_actions },
#else
#define SL_TE_SELECT
#endif

/* the table, once in each test file (this library names no back end) */
#define SL_TE_BACKENDS                                                        \
    static const sl_te_backend_t  sl_te_backends[] = {                        \
        SL_TE_EPOLL SL_TE_KQUEUE SL_TE_POLL SL_TE_SELECT                      \
        { NULL, NULL }                                                        \
    }

#define SL_TE_NBACKENDS  ((int) sl_nelems(sl_te_backends) - 1)

/* the loop under test and what goes with it */
typedef struct {
    const sl_te_backend_t  *be;
    sl_pool_t              *pool;
    sl_log_t                log;
    sl_open_file_t          file;
    sl_time_cache_t         time;
    sl_event_loop_t        *loop;
    FILE                   *logf;
    char                   *logtext;
    sl_event_t              guard;     /* a deadline for the loop's waits */
    int                     guard_fired;
} sl_te_env_t;

extern sl_te_env_t  sl_te;

/* a loop over back end i with n connections; the log is kept at info */
#define sl_te_open(i, n)  sl_te_open_backend(&sl_te_backends[i], n)
void sl_te_open_backend(const sl_te_backend_t *be, sl_uint_t n);
void sl_te_close(void);
/*
 * The checked teardown of every event TCase: closes what a failed test
 * left open, so that a run without fork (valgrind) reports no leaks.
 */
void sl_te_teardown(void);
/* everything logged so far, NUL-terminated (valid until the next call) */
const char *sl_te_log(void);
#define sl_te_logged(text)  (strstr(sl_te_log(), text) != NULL)

/* flags of the back end in use */
#define sl_te_edge()   ((sl_te.loop->flags & SL_USE_CLEAR_EVENT) != 0)

/* one iteration, whose wait ends after max_ms at the latest */
void sl_te_run_once(int max_ms);
/* iterations until ms have passed; returns how many ran */
sl_uint_t sl_te_run_for(int ms);

/* iterations until expr holds; fails the test after ms (scaled) */
#define sl_te_run_until(expr, ms)                                             \
    do {                                                                      \
        sl_te_guard_arm(sl_t_timeout(ms));                                    \
        while (!(expr)) {                                                     \
            ck_assert_msg(!sl_te.guard_fired, "%s: timed out waiting for %s", \
                          sl_te.be->name, #expr);                             \
            sl_process_events_and_timers(sl_te.loop);                         \
        }                                                                     \
        sl_te_guard_disarm();                                                 \
    } while (0)

void sl_te_guard_arm(int ms);
void sl_te_guard_disarm(void);

/* milliseconds on the monotonic clock */
sl_msec_t sl_te_now(void);

/* non-blocking, close-on-exec pairs: [0] for the loop, [1] the peer */
void sl_te_socketpair(int fds[2]);
void sl_te_tcp_pair(int fds[2]);
/* a listening TCP socket on 127.0.0.1, non-blocking; its address */
int sl_te_listener(struct sockaddr_in *sin);

/*
 * A connection over fd with the plain I/O vector, its handlers and data;
 * a NULL handler is one that does nothing.
 */
sl_connection_t *sl_te_conn(int fd, sl_event_handler_pt rh,
    sl_event_handler_pt wh, void *data);
/*
 * Registers c as a protocol module would: add_conn where the back end has
 * it (both directions, edge-triggered), else the read event only.
 */
void sl_te_watch(sl_connection_t *c);

/* the peer's side: write it all, or read what comes within ms */
void sl_te_peer_write(int fd, const void *buf, size_t len);
size_t sl_te_peer_read(int fd, void *buf, size_t len, int ms);

#endif /* SL_T_EVENT_H */
