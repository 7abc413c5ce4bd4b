/*
 * sl_kqueue_module.c -- the kqueue back end (the BSDs, macOS).
 *
 * Connections are registered with EV_CLEAR (edge-triggered) for both
 * filters; listening sockets without it. Registrations are not made one
 * syscall each: they go into a change list, submitted with the next wait
 * (or at once when the list is full or SL_FLUSH_EVENT asks for it).
 *
 * udata is the event itself with its `instance` bit in the lowest bit, so
 * that an event of a connection closed and reused within one batch is
 * dropped. kev.data becomes ev->available (bytes to read, room to write,
 * or a listening socket's backlog); EV_EOF sets pending_eof and saves the
 * socket's error (fflags) in kq_errno.
 *
 * A registration must not outlive its descriptor: a change still in the
 * list for an fd that is being closed would, once submitted, hit whatever
 * the number names by then. del with SL_CLOSE_EVENT drops them.
 *
 * Signals: kqueue has no pselect-like wait. When loop->sigmask is set, the
 * signals it unblocks (blocked now, not in the mask) are watched with
 * EVFILT_SIGNAL, which reports a signal even while it is blocked. When
 * one is reported, the mask is opened for a moment so that its handler
 * runs; a signal that came before the registration is found pending and
 * delivered the same way. Either way process_events returns at once, as a
 * pselect would have. The set is taken once, at the first wait.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <pthread.h>
#include <sys/event.h>

/* NetBSD before 10 has an intptr_t udata */
#if defined(__NetBSD__) && defined(__NetBSD_Version__)                       \
    && __NetBSD_Version__ < 999001500
#define SL_KQ_UDATA(p)   ((intptr_t) (p))
#else
#define SL_KQ_UDATA(p)   ((void *) (p))
#endif

typedef struct {
    int              kq;
    struct kevent   *changes;
    int              nchanges;
    struct kevent   *receipts;    /* the answers to a flush */
    struct kevent   *events;      /* the answers to a wait */
    int              nevents;     /* the size of each list */
    sigset_t         signals;     /* watched with EVFILT_SIGNAL */
    unsigned         signals_set:1;
} sl_kqueue_t;

static sl_int_t sl_kqueue_init(sl_event_loop_t *loop, sl_uint_t nevents);
static void sl_kqueue_done(sl_event_loop_t *loop);
static sl_int_t sl_kqueue_add_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_kqueue_del_event(sl_event_t *ev, sl_uint_t event,
    sl_uint_t flags);
static sl_int_t sl_kqueue_add_connection(sl_connection_t *c);
static sl_int_t sl_kqueue_del_connection(sl_connection_t *c,
    sl_uint_t flags);
static sl_int_t sl_kqueue_process_events(sl_event_loop_t *loop,
    sl_msec_t timer, sl_uint_t flags);

const sl_event_actions_t  sl_kqueue_actions = {
    sl_string("kqueue"),
    SL_USE_CLEAR_EVENT | SL_USE_KQUEUE_EVENT,
    sl_kqueue_init,
    sl_kqueue_done,
    sl_kqueue_add_event,
    sl_kqueue_del_event,
    sl_kqueue_add_connection,
    sl_kqueue_del_connection,
    sl_kqueue_process_events
};

static sl_event_module_t  sl_kqueue_module_ctx = {
    sl_string("kqueue"),
    NULL,
    NULL,
    &sl_kqueue_actions
};

sl_module_t  sl_kqueue_module = {
    .name = "sl_kqueue_module",
    .ctx = &sl_kqueue_module_ctx,
    .type = SL_EVENT_MODULE,
};

static void
sl_kqueue_free(sl_kqueue_t *kq)
{
    sl_free(kq->changes);
    sl_free(kq->receipts);
    sl_free(kq->events);
    sl_free(kq);
}

/*
 * The change list is no longer than the event list, so that the errors of
 * the changes submitted with a wait always find room in its answer.
 */
static sl_int_t
sl_kqueue_init(sl_event_loop_t *loop, sl_uint_t nevents)
{
    sl_kqueue_t  *kq;
    size_t        size;

    kq = sl_calloc(sizeof(sl_kqueue_t), loop->log);
    if (kq == NULL) {
        return SL_ERROR;
    }

    kq->nevents = (int) sl_min(sl_max(nevents, 2), (sl_uint_t) INT_MAX / 4);
    size = sizeof(struct kevent) * (size_t) kq->nevents;

    kq->changes = sl_alloc(size, loop->log);
    kq->receipts = sl_alloc(size, loop->log);
    kq->events = sl_alloc(size, loop->log);

    if (kq->changes == NULL || kq->receipts == NULL || kq->events == NULL) {
        sl_kqueue_free(kq);
        return SL_ERROR;
    }

    kq->kq = kqueue();
    if (kq->kq == -1) {
        sl_log_error(SL_LOG_EMERG, loop->log, errno, "kqueue() failed");
        sl_kqueue_free(kq);
        return SL_ERROR;
    }

    sigemptyset(&kq->signals);
    loop->backend = kq;
    loop->backend_fd = kq->kq;
    return SL_OK;
}

static void
sl_kqueue_done(sl_event_loop_t *loop)
{
    sl_kqueue_t  *kq = loop->backend;

    if (kq == NULL) {
        return;
    }

    if (close(kq->kq) == -1) {
        sl_log_error(SL_LOG_ALERT, loop->log, errno, "kqueue close() failed");
    }

    sl_kqueue_free(kq);
    loop->backend = NULL;
}

static void
sl_kqueue_log_receipt(sl_event_loop_t *loop, struct kevent *kev)
{
    sl_log_error(SL_LOG_ALERT, loop->log, (sl_err_t) kev->data,
                 "kevent() error on %d filter:%d flags:%04Xd",
                 (int) kev->ident, (int) kev->filter, (int) kev->flags);
}

/*
 * Submits the change list now, without waiting. EV_RECEIPT makes every
 * change answer in the receipt list, so that one failing change does not
 * stop the others from being applied.
 */
static sl_int_t
sl_kqueue_flush(sl_event_loop_t *loop, sl_kqueue_t *kq)
{
    struct timespec  ts = { 0, 0 };
    int              i, n;

    if (kq->nchanges == 0) {
        return SL_OK;
    }

    for (i = 0; i < kq->nchanges; i++) {
        kq->changes[i].flags |= EV_RECEIPT;
    }

    n = kevent(kq->kq, kq->changes, kq->nchanges, kq->receipts, kq->nchanges,
               &ts);
    kq->nchanges = 0;

    if (n == -1) {
        sl_log_error(SL_LOG_ALERT, loop->log, errno, "kevent() failed");
        return SL_ERROR;
    }

    for (i = 0; i < n; i++) {
        if ((kq->receipts[i].flags & EV_ERROR) && kq->receipts[i].data != 0) {
            sl_kqueue_log_receipt(loop, &kq->receipts[i]);
        }
    }

    return SL_OK;
}

static sl_int_t
sl_kqueue_set(sl_event_t *ev, short filter, unsigned short kflags,
    sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    sl_kqueue_t      *kq = ev->loop->backend;

    if (kq->nchanges == kq->nevents
        && sl_kqueue_flush(ev->loop, kq) != SL_OK)
    {
        return SL_ERROR;
    }

    EV_SET(&kq->changes[kq->nchanges], (uintptr_t) c->fd, filter, kflags, 0,
           0, SL_KQ_UDATA((uintptr_t) ev | ev->instance));
    kq->nchanges++;

    if (flags & SL_FLUSH_EVENT) {
        return sl_kqueue_flush(ev->loop, kq);
    }

    return SL_OK;
}

static short
sl_kqueue_filter(sl_uint_t event)
{
    return (event == SL_READ_EVENT) ? EVFILT_READ : EVFILT_WRITE;
}

static sl_int_t
sl_kqueue_add_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    unsigned short  kflags = EV_ADD | EV_ENABLE;

    if (flags & SL_CLEAR_EVENT) {
        kflags |= EV_CLEAR;
    }

    if (sl_kqueue_set(ev, sl_kqueue_filter(event), kflags, flags) != SL_OK) {
        return SL_ERROR;
    }

    ev->active = 1;
    ev->disabled = 0;
    return SL_OK;
}

/* drops the changes not yet submitted for fd, keeping the others' order */
static void
sl_kqueue_drop_changes(sl_kqueue_t *kq, sl_fd_t fd)
{
    int  i, kept = 0;

    for (i = 0; i < kq->nchanges; i++) {
        if (kq->changes[i].ident == (uintptr_t) fd
            && (kq->changes[i].filter == EVFILT_READ
                || kq->changes[i].filter == EVFILT_WRITE))
        {
            continue;
        }

        kq->changes[kept++] = kq->changes[i];
    }

    kq->nchanges = kept;
}

static sl_int_t
sl_kqueue_del_event(sl_event_t *ev, sl_uint_t event, sl_uint_t flags)
{
    sl_connection_t  *c = ev->data;
    unsigned short    kflags;

    if (flags & SL_CLOSE_EVENT) {
        /* closing the fd deletes its registrations in the kernel */
        sl_kqueue_drop_changes(ev->loop->backend, c->fd);
        ev->active = 0;
        ev->disabled = 0;
        return SL_OK;
    }

    if (!ev->active && !ev->disabled) {
        return SL_OK;
    }

    kflags = (flags & SL_DISABLE_EVENT) ? EV_DISABLE : EV_DELETE;

    if (sl_kqueue_set(ev, sl_kqueue_filter(event), kflags, flags) != SL_OK) {
        return SL_ERROR;
    }

    ev->active = 0;
    ev->disabled = (flags & SL_DISABLE_EVENT) ? 1 : 0;
    return SL_OK;
}

static sl_int_t
sl_kqueue_add_connection(sl_connection_t *c)
{
    if (sl_kqueue_add_event(c->read, SL_READ_EVENT, SL_CLEAR_EVENT) != SL_OK
        || sl_kqueue_add_event(c->write, SL_WRITE_EVENT, SL_CLEAR_EVENT)
           != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_kqueue_del_connection(sl_connection_t *c, sl_uint_t flags)
{
    if (sl_kqueue_del_event(c->read, SL_READ_EVENT, flags) != SL_OK
        || sl_kqueue_del_event(c->write, SL_WRITE_EVENT, flags) != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

/* --- signals ------------------------------------------------------------ */

/* opens the mask for a moment: the pending signals' handlers run */
static void
sl_kqueue_deliver_signals(sl_event_loop_t *loop)
{
    sigset_t  saved;

    (void) pthread_sigmask(SIG_SETMASK, loop->sigmask, &saved);
    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/* 1 when one of the watched signals is pending */
static sl_uint_t
sl_kqueue_signal_pending(sl_kqueue_t *kq)
{
    sigset_t  pending;
    int       signo;

    if (sigpending(&pending) == -1) {
        return 0;
    }

    for (signo = 1; signo < NSIG; signo++) {
        if (sigismember(&kq->signals, signo) == 1
            && sigismember(&pending, signo) == 1)
        {
            return 1;
        }
    }

    return 0;
}

/*
 * Registers EVFILT_SIGNAL for the signals the wait should let in.
 * Returns 1 when one of them already came (the caller must not wait).
 */
static sl_int_t
sl_kqueue_watch_signals(sl_event_loop_t *loop, sl_kqueue_t *kq)
{
    sigset_t        blocked;
    struct kevent  *kev;
    int             signo;

    kq->signals_set = 1;

    if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0) {
        sl_log_error(SL_LOG_ALERT, loop->log, errno,
                     "pthread_sigmask() failed");
        return SL_ERROR;
    }

    for (signo = 1; signo < NSIG; signo++) {
        if (signo == SIGKILL || signo == SIGSTOP
            || sigismember(&blocked, signo) != 1
            || sigismember(loop->sigmask, signo) != 0)
        {
            continue;
        }

        if (kq->nchanges == kq->nevents
            && sl_kqueue_flush(loop, kq) != SL_OK)
        {
            return SL_ERROR;
        }

        kev = &kq->changes[kq->nchanges++];
        EV_SET(kev, (uintptr_t) signo, EVFILT_SIGNAL, EV_ADD, 0, 0,
               SL_KQ_UDATA(NULL));
        (void) sigaddset(&kq->signals, signo);
    }

    if (sl_kqueue_flush(loop, kq) != SL_OK) {
        return SL_ERROR;
    }

    if (sl_kqueue_signal_pending(kq)) {
        sl_kqueue_deliver_signals(loop);
        return 1;
    }

    return SL_OK;
}

/* --- waiting ------------------------------------------------------------ */

/* a posted event runs from its queue only, as for epoll */
/* one answer of the wait: an error receipt, a signal or an event */
static void
sl_kqueue_process_one(sl_event_loop_t *loop, struct kevent *kev,
    sl_uint_t flags, sl_uint_t *signalled)
{
    sl_event_t  *ev;
    uintptr_t    instance;

    if (kev->flags & EV_ERROR) {
        sl_kqueue_log_receipt(loop, kev);
        return;
    }

    if (kev->filter == EVFILT_SIGNAL) {
        *signalled = 1;
        return;
    }

    if (kev->filter != EVFILT_READ && kev->filter != EVFILT_WRITE) {
        sl_log_error(SL_LOG_ALERT, loop->log, 0, "unexpected kevent() "
                     "filter %d", (int) kev->filter);
        return;
    }

    instance = (uintptr_t) kev->udata & 1;
    ev = (sl_event_t *) ((uintptr_t) kev->udata & ~(uintptr_t) 1);

    if (ev->closed || ev->instance != instance) {
        sl_log_debug(loop->log, "kevent: stale event %p", ev);
        return;
    }

    ev->available = (int) sl_min(kev->data, (intptr_t) INT_MAX);
    ev->ready = 1;

    if (kev->flags & EV_EOF) {
        ev->pending_eof = 1;
        ev->kq_errno = (unsigned) kev->fflags & 0x7fff;
    }

    sl_event_dispatch(loop, ev, flags);
}

static sl_int_t
sl_kqueue_process_events(sl_event_loop_t *loop, sl_msec_t timer,
    sl_uint_t flags)
{
    sl_kqueue_t      *kq = loop->backend;
    struct timespec   ts, *tsp = NULL;
    sl_uint_t         signalled = 0;
    sl_int_t          rc;
    sl_err_t          err;
    int               i, n, nchanges;

    if (loop->sigmask != NULL && !kq->signals_set) {
        rc = sl_kqueue_watch_signals(loop, kq);
        if (rc != SL_OK) {
            /* a signal was delivered: return as from an interrupted wait */
            if (flags & SL_UPDATE_TIME) {
                sl_time_update(loop->time);
            }
            return rc == 1 ? SL_OK : SL_ERROR;
        }
    }

    if (timer != SL_TIMER_INFINITE) {
        ts.tv_sec = (time_t) (timer / 1000);
        ts.tv_nsec = (long) (timer % 1000) * 1000000;
        tsp = &ts;
    }

    nchanges = kq->nchanges;
    kq->nchanges = 0;

    n = kevent(kq->kq, kq->changes, nchanges, kq->events, kq->nevents, tsp);
    err = (n == -1) ? errno : 0;

    rc = sl_event_wait_result(loop, n, err, timer, flags, "kevent()");
    if (rc != SL_OK) {
        return rc == SL_DONE ? SL_OK : rc;
    }

    for (i = 0; i < n; i++) {
        sl_kqueue_process_one(loop, &kq->events[i], flags, &signalled);
    }

    if (signalled) {
        sl_kqueue_deliver_signals(loop);
    }

    return SL_OK;
}
