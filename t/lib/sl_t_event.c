/*
 * sl_t_event.c -- the event suites' loop, log, sockets and connections.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <netinet/tcp.h>
#include <poll.h>

#include "sl_t_event.h"

sl_te_env_t  sl_te;

static void
sl_te_guard_handler(sl_event_t *ev)
{
    sl_unused(ev);
    sl_te.guard_fired = 1;
}

static void
sl_te_noop(sl_event_t *ev)
{
    sl_unused(ev);
}

void
sl_te_open_backend(const sl_te_backend_t *be, sl_uint_t n)
{
    sl_memzero(&sl_te, sizeof(sl_te));
    sl_te.be = be;

    sl_te.logf = tmpfile();
    ck_assert_ptr_nonnull(sl_te.logf);

    sl_log_init_stderr(&sl_te.log, &sl_te.file);
    sl_te.file.fd = fileno(sl_te.logf);
    sl_te.log.log_level = SL_LOG_INFO;
    sl_te.log.time = &sl_te.time;

    sl_time_update(&sl_te.time);

    sl_te.pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, &sl_te.log);
    ck_assert_ptr_nonnull(sl_te.pool);

    sl_te.loop = sl_event_loop_new(sl_te.pool, &sl_te.log, &sl_te.time,
                                   be->actions, n);
    ck_assert_msg(sl_te.loop != NULL, "%s: no loop: %s", be->name,
                  sl_te_log());

    sl_te.guard.handler = sl_te_guard_handler;
    sl_te.guard.loop = sl_te.loop;
    sl_te.guard.log = &sl_te.log;
}

void
sl_te_close(void)
{
    if (sl_te.guard.timer_set) {
        sl_del_timer(&sl_te.guard);
    }

    sl_event_loop_destroy(sl_te.loop);
    sl_destroy_pool(sl_te.pool);
    fclose(sl_te.logf);
    free(sl_te.logtext);
    sl_memzero(&sl_te, sizeof(sl_te));
}

void
sl_te_teardown(void)
{
    if (sl_te.loop != NULL) {
        sl_te_close();
    }
}

const char *
sl_te_log(void)
{
    struct stat  st;
    ssize_t      n;

    ck_assert_int_eq(fstat(sl_te.file.fd, &st), 0);

    free(sl_te.logtext);
    sl_te.logtext = malloc((size_t) st.st_size + 1);
    ck_assert_ptr_nonnull(sl_te.logtext);

    n = pread(sl_te.file.fd, sl_te.logtext, (size_t) st.st_size, 0);
    ck_assert_int_ge(n, 0);
    sl_te.logtext[n] = '\0';

    return sl_te.logtext;
}

void
sl_te_guard_arm(int ms)
{
    sl_time_update(&sl_te.time);

    if (sl_te.guard.timer_set) {
        sl_del_timer(&sl_te.guard);
    }

    sl_te.guard_fired = 0;
    sl_add_timer(&sl_te.guard, (sl_msec_t) ms);
}

void
sl_te_guard_disarm(void)
{
    if (sl_te.guard.timer_set) {
        sl_del_timer(&sl_te.guard);
    }
}

void
sl_te_run_once(int max_ms)
{
    sl_te_guard_arm(max_ms);
    sl_process_events_and_timers(sl_te.loop);
    sl_te_guard_disarm();
}

sl_uint_t
sl_te_run_for(int ms)
{
    sl_uint_t  n = 0;

    sl_te_guard_arm(ms);

    while (!sl_te.guard_fired) {
        sl_process_events_and_timers(sl_te.loop);
        n++;
    }

    return n;
}

sl_msec_t
sl_te_now(void)
{
    return sl_monotonic_msec();
}

void
sl_te_socketpair(int fds[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
                                | SOCK_CLOEXEC, 0, fds), 0);
}

int
sl_te_listener(struct sockaddr_in *sin)
{
    socklen_t  len = sizeof(*sin);
    int        s;

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);

    sl_memzero(sin, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ck_assert_int_eq(bind(s, (struct sockaddr *) sin, sizeof(*sin)), 0);
    ck_assert_int_eq(listen(s, 16), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *) sin, &len), 0);

    return s;
}

void
sl_te_tcp_pair(int fds[2])
{
    struct sockaddr_in  sin;
    struct pollfd       pfd;
    int                 ls, on = 1;

    ls = sl_te_listener(&sin);

    fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fds[1], 0);
    ck_assert_int_eq(connect(fds[1], (struct sockaddr *) &sin, sizeof(sin)),
                     0);

    pfd.fd = ls;
    pfd.events = POLLIN;
    ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(5000)), 1);

    fds[0] = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ck_assert_int_ge(fds[0], 0);
    close(ls);

    ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    (void) setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    (void) setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

sl_connection_t *
sl_te_conn(int fd, sl_event_handler_pt rh, sl_event_handler_pt wh,
    void *data)
{
    sl_connection_t  *c;

    c = sl_get_connection(sl_te.loop, fd, &sl_te.log);
    ck_assert_ptr_nonnull(c);

    c->recv = sl_os_io.recv;
    c->send = sl_os_io.send;
    c->recv_chain = sl_os_io.recv_chain;
    c->send_chain = sl_os_io.send_chain;
    c->type = SOCK_STREAM;
    c->data = data;             /* c->pool stays NULL: it owns no pool */

    c->read->handler = rh != NULL ? rh : sl_te_noop;
    c->write->handler = wh != NULL ? wh : sl_te_noop;

    return c;
}

void
sl_te_watch(sl_connection_t *c)
{
    if (sl_te.loop->actions->add_conn != NULL) {
        ck_assert_int_eq(sl_te.loop->actions->add_conn(c), SL_OK);
        return;
    }

    ck_assert_int_eq(sl_handle_read_event(c->read, 0), SL_OK);
}

void
sl_te_peer_write(int fd, const void *buf, size_t len)
{
    const u_char   *p = buf;
    struct pollfd   pfd;
    ssize_t         n;

    while (len > 0) {
        n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }

        ck_assert_msg(n == -1 && errno == EAGAIN, "peer send(): %s",
                      strerror(errno));

        pfd.fd = fd;
        pfd.events = POLLOUT;
        ck_assert_int_eq(poll(&pfd, 1, sl_t_timeout(5000)), 1);
    }
}

size_t
sl_te_peer_read(int fd, void *buf, size_t len, int ms)
{
    struct pollfd  pfd;
    sl_msec_t      deadline;
    size_t         got = 0;
    ssize_t        n;
    int            left;

    deadline = sl_te_now() + (sl_msec_t) sl_t_timeout(ms);

    while (got < len) {
        n = recv(fd, (u_char *) buf + got, len - got, 0);

        if (n > 0) {
            got += (size_t) n;
            continue;
        }

        if (n == 0 || errno != EAGAIN) {
            break;
        }

        left = (int) (sl_msec_int_t) (deadline - sl_te_now());
        if (left <= 0) {
            break;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;
        (void) poll(&pfd, 1, left);
    }

    return got;
}
