/*
 * sl_kqueue_shim.c -- kqueue() and kevent() over epoll, for the tests of
 * sl_kqueue_module.c on Linux. Test code, not part of sluice: README.md
 * in this directory says what it emulates and what it does not.
 *
 * A kqueue is an epoll descriptor. Each watched descriptor keeps its two
 * knotes (EVFILT_READ, EVFILT_WRITE) in a table indexed by fd, and has one
 * epoll registration for both: EPOLLIN|EPOLLRDHUP for an enabled read
 * knote, EPOLLOUT for an enabled write knote, EPOLLET when either has
 * EV_CLEAR. EVFILT_SIGNAL is a signalfd that is polled, never read, so
 * that a blocked signal stays pending for its handler.
 *
 * kqueue() returns an int, so the state of each kqueue lives in a list
 * kept by this file: the one mutable global of the test build.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/sockios.h>

#include "sys/event.h"

/* epoll data of the signalfd: above any descriptor number */
#define SHIM_SIGNAL_TAG  ((uint64_t) 1 << 40)
#define SHIM_MAX_BATCH   64

typedef struct {
    unsigned    added:1;
    unsigned    enabled:1;
    unsigned    clear:1;
    unsigned    oneshot:1;
    void       *udata;
} shim_knote_t;

typedef struct {
    shim_knote_t  rd;
    shim_knote_t  wr;
    dev_t         dev;          /* the file the knotes were made for */
    ino_t         ino;
    unsigned      registered:1; /* epoll has the fd */
} shim_fd_t;

typedef struct shim_kq_s  shim_kq_t;

struct shim_kq_s {
    int            ep;
    int            sigfd;       /* -1 until a signal is watched */
    sigset_t       signals;
    void          *sigudata[NSIG];
    shim_fd_t     *fds;
    size_t         nfds;
    struct kevent  stash;       /* an answer that found no room */
    int            nstash;
    shim_kq_t     *next;
};

static shim_kq_t  *shim_kqueues;

static shim_kq_t *
shim_find(int kq)
{
    shim_kq_t  *k;

    for (k = shim_kqueues; k != NULL; k = k->next) {
        if (k->ep == kq) {
            return k;
        }
    }

    return NULL;
}

/* the state of a kqueue whose number was closed and is now reused */
static void
shim_reset(shim_kq_t *k)
{
    if (k->sigfd != -1) {
        (void) close(k->sigfd);
    }

    free(k->fds);
    k->fds = NULL;
    k->nfds = 0;
    k->sigfd = -1;
    k->nstash = 0;
    sigemptyset(&k->signals);
}

int
kqueue(void)
{
    shim_kq_t  *k;
    int         ep;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        return -1;
    }

    k = shim_find(ep);
    if (k != NULL) {
        shim_reset(k);
        return ep;
    }

    k = calloc(1, sizeof(shim_kq_t));
    if (k == NULL) {
        (void) close(ep);
        errno = ENOMEM;
        return -1;
    }

    k->ep = ep;
    k->sigfd = -1;
    sigemptyset(&k->signals);
    k->next = shim_kqueues;
    shim_kqueues = k;
    return ep;
}

/* the knotes of fd, forgotten when fd now names another file */
static shim_fd_t *
shim_fd(shim_kq_t *k, int fd, int *err)
{
    struct stat   st;
    shim_fd_t    *f;
    size_t        n;

    if (fd < 0 || fstat(fd, &st) == -1) {
        *err = EBADF;
        return NULL;
    }

    if ((size_t) fd >= k->nfds) {
        n = (size_t) fd * 2 + 16;
        f = realloc(k->fds, n * sizeof(shim_fd_t));
        if (f == NULL) {
            *err = ENOMEM;
            return NULL;
        }
        memset(f + k->nfds, 0, (n - k->nfds) * sizeof(shim_fd_t));
        k->fds = f;
        k->nfds = n;
    }

    f = &k->fds[fd];

    if (f->dev != st.st_dev || f->ino != st.st_ino) {
        /* closing the old file took it out of the epoll set as well */
        memset(f, 0, sizeof(shim_fd_t));
        f->dev = st.st_dev;
        f->ino = st.st_ino;
    }

    return f;
}

static int
shim_live(const shim_knote_t *kn)
{
    return kn->added && kn->enabled;
}

/* makes epoll's registration of fd match its knotes */
static int
shim_sync(shim_kq_t *k, int fd, shim_fd_t *f)
{
    struct epoll_event  ee;
    int                 op;

    memset(&ee, 0, sizeof(ee));
    ee.data.u64 = (uint64_t) fd;

    if (shim_live(&f->rd)) {
        ee.events |= EPOLLIN | EPOLLRDHUP;
    }

    if (shim_live(&f->wr)) {
        ee.events |= EPOLLOUT;
    }

    if ((shim_live(&f->rd) && f->rd.clear)
        || (shim_live(&f->wr) && f->wr.clear))
    {
        ee.events |= EPOLLET;
    }

    if (ee.events == 0) {
        if (f->registered) {
            (void) epoll_ctl(k->ep, EPOLL_CTL_DEL, fd, &ee);
            f->registered = 0;
        }
        return 0;
    }

    /* a MOD also re-arms: an EV_ADD reports what is ready already */
    op = f->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (epoll_ctl(k->ep, op, fd, &ee) == -1) {
        if (errno != ENOENT && errno != EEXIST) {
            return errno;
        }

        op = (op == EPOLL_CTL_MOD) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(k->ep, op, fd, &ee) == -1) {
            return errno;
        }
    }

    f->registered = 1;
    return 0;
}

static int
shim_change_fd(shim_kq_t *k, const struct kevent *kev)
{
    shim_knote_t   *kn, saved;
    shim_fd_t      *f;
    int             err = 0, fd = (int) kev->ident;

    f = shim_fd(k, fd, &err);
    if (f == NULL) {
        return err;
    }

    kn = (kev->filter == EVFILT_READ) ? &f->rd : &f->wr;
    saved = *kn;

    if (kev->flags & EV_ADD) {
        if (!kn->added) {
            kn->enabled = 1;
        }
        kn->added = 1;
        kn->clear = (kev->flags & EV_CLEAR) ? 1 : 0;
        kn->oneshot = (kev->flags & EV_ONESHOT) ? 1 : 0;
        kn->udata = kev->udata;

    } else if (!kn->added) {
        return ENOENT;
    }

    if (kev->flags & EV_DELETE) {
        memset(kn, 0, sizeof(shim_knote_t));
    }

    if (kev->flags & EV_ENABLE) {
        kn->enabled = 1;
    }

    if (kev->flags & EV_DISABLE) {
        kn->enabled = 0;
    }

    err = shim_sync(k, fd, f);
    if (err != 0) {
        *kn = saved;
    }

    return err;
}

static int
shim_change_signal(shim_kq_t *k, const struct kevent *kev)
{
    struct epoll_event  ee;
    int                 signo = (int) kev->ident, fd;

    if (signo <= 0 || signo >= NSIG) {
        return EINVAL;
    }

    if (kev->flags & EV_ADD) {
        sigaddset(&k->signals, signo);
        k->sigudata[signo] = kev->udata;

    } else if (sigismember(&k->signals, signo) != 1) {
        return ENOENT;
    }

    if (kev->flags & EV_DELETE) {
        sigdelset(&k->signals, signo);
    }

    fd = signalfd(k->sigfd, &k->signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1) {
        return errno;
    }

    if (k->sigfd == -1) {
        memset(&ee, 0, sizeof(ee));
        ee.events = EPOLLIN;
        ee.data.u64 = SHIM_SIGNAL_TAG;

        if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ee) == -1) {
            (void) close(fd);
            return errno;
        }

        k->sigfd = fd;
    }

    return 0;
}

static int
shim_change(shim_kq_t *k, const struct kevent *kev)
{
    switch (kev->filter) {
    case EVFILT_READ:
    case EVFILT_WRITE:
        return shim_change_fd(k, kev);
    case EVFILT_SIGNAL:
        return shim_change_signal(k, kev);
    default:
        return EINVAL;
    }
}

/*
 * The changes, in order. An error (or any answer, with EV_RECEIPT) goes
 * into the event list while it has room; without room the call fails
 * with the error, the later changes not applied. Returns the answers
 * written, or -1.
 */
static int
shim_apply(shim_kq_t *k, const struct kevent *changes, int nchanges,
    struct kevent *events, int nevents)
{
    int  i, err, nout = 0;

    for (i = 0; i < nchanges; i++) {
        err = shim_change(k, &changes[i]);

        if (err == 0 && !(changes[i].flags & EV_RECEIPT)) {
            continue;
        }

        if (nout == nevents) {
            if (err == 0) {
                continue;
            }
            errno = err;
            return -1;
        }

        events[nout] = changes[i];
        events[nout].flags = EV_ERROR;
        events[nout].data = err;
        nout++;
    }

    return nout;
}

/* --- the answers to a wait ---------------------------------------------- */

static int64_t
shim_read_data(int fd)
{
    struct tcp_info  ti;
    socklen_t        len;
    int              n = 0, listening = 0;

    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0
        && listening)
    {
        /* Linux reports a listener's accept queue length in tcpi_unacked */
        len = sizeof(ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0
            && ti.tcpi_unacked > 0)
        {
            return ti.tcpi_unacked;
        }
        return 1;
    }

    if (ioctl(fd, FIONREAD, &n) == -1) {
        return 0;
    }

    return n;
}

static int64_t
shim_write_data(int fd)
{
    socklen_t  len = sizeof(int);
    int        sndbuf = 0, queued = 0;

    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == -1
        || ioctl(fd, SIOCOUTQ, &queued) == -1
        || sndbuf <= queued)
    {
        return 1;
    }

    return sndbuf - queued;
}

static void
shim_answer(struct kevent *out, int fd, short filter, shim_knote_t *kn,
    uint32_t revents, int soerr)
{
    out->ident = (uintptr_t) fd;
    out->filter = filter;
    out->flags = kn->clear ? EV_CLEAR : 0;
    out->fflags = 0;
    out->udata = kn->udata;

    if (filter == EVFILT_READ) {
        out->data = shim_read_data(fd);
        if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            out->flags |= EV_EOF;
            out->fflags = (unsigned int) soerr;
        }
        return;
    }

    out->data = shim_write_data(fd);
    if (revents & (EPOLLHUP | EPOLLERR)) {
        out->flags |= EV_EOF;
        out->fflags = (unsigned int) soerr;
    }
}

/*
 * Into out[*n], or into the stash when out is full; the caller asks epoll
 * for few enough descriptors that the stash is needed for one at most.
 */
static void
shim_emit(shim_kq_t *k, struct kevent *out, int *n, int room, int fd,
    short filter, uint32_t revents, int soerr)
{
    shim_fd_t     *f = &k->fds[fd];
    shim_knote_t  *kn = (filter == EVFILT_READ) ? &f->rd : &f->wr;

    if (*n < room) {
        shim_answer(&out[(*n)++], fd, filter, kn, revents, soerr);
    } else {
        shim_answer(&k->stash, fd, filter, kn, revents, soerr);
        k->nstash = 1;
    }

    if (kn->oneshot) {
        memset(kn, 0, sizeof(shim_knote_t));
        (void) shim_sync(k, fd, f);
    }
}

static void
shim_fd_answers(shim_kq_t *k, struct epoll_event *ee, struct kevent *out,
    int *n, int room)
{
    shim_fd_t  *f;
    socklen_t   len = sizeof(int);
    uint32_t    rev = ee->events;
    int         fd = (int) ee->data.u64, soerr = 0;

    if ((size_t) fd >= k->nfds) {
        return;
    }

    f = &k->fds[fd];

    /* the error of an EV_EOF: reading it clears it (see README.md) */
    if ((rev & EPOLLERR)
        && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
    {
        soerr = errno;
    }

    if ((rev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        && shim_live(&f->rd))
    {
        shim_emit(k, out, n, room, fd, EVFILT_READ, rev, soerr);
    }

    if ((rev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && shim_live(&f->wr)) {
        shim_emit(k, out, n, room, fd, EVFILT_WRITE, rev, soerr);
    }
}

/* one answer per watched signal that is pending, as room allows */
static void
shim_signal_answers(shim_kq_t *k, struct kevent *out, int *n, int room)
{
    sigset_t  pending;
    int       signo;

    if (sigpending(&pending) == -1) {
        return;
    }

    for (signo = 1; signo < NSIG && *n < room; signo++) {
        if (sigismember(&k->signals, signo) == 1
            && sigismember(&pending, signo) == 1)
        {
            memset(&out[*n], 0, sizeof(struct kevent));
            out[*n].ident = (uintptr_t) signo;
            out[*n].filter = EVFILT_SIGNAL;
            out[*n].flags = EV_CLEAR;
            out[*n].data = 1;
            out[*n].udata = k->sigudata[signo];
            (*n)++;
        }
    }
}

/* the stashed answer, unless its knote went away meanwhile */
static int
shim_unstash(shim_kq_t *k, struct kevent *out)
{
    shim_knote_t  *kn;
    int            fd = (int) k->stash.ident;

    if (k->nstash == 0) {
        return 0;
    }

    k->nstash = 0;

    if ((size_t) fd >= k->nfds) {
        return 0;
    }

    kn = (k->stash.filter == EVFILT_READ) ? &k->fds[fd].rd : &k->fds[fd].wr;

    if (!shim_live(kn) || kn->udata != k->stash.udata) {
        return 0;
    }

    *out = k->stash;
    return 1;
}

static int
shim_timeout(const struct timespec *ts)
{
    long long  ms;

    if (ts == NULL) {
        return -1;
    }

    ms = (long long) ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int) ms;
}

static int
shim_wait(shim_kq_t *k, struct kevent *out, int room,
    const struct timespec *timeout)
{
    struct epoll_event  ee[SHIM_MAX_BATCH];
    int                 i, n, got, max, signalled = 0;

    n = shim_unstash(k, out);
    if (n == room) {
        return n;
    }

    /* each descriptor may answer twice: ask for no more than fits */
    max = (room - n) / 2;
    max = max < 1 ? 1 : (max > SHIM_MAX_BATCH ? SHIM_MAX_BATCH : max);

    got = epoll_wait(k->ep, ee, max, n > 0 ? 0 : shim_timeout(timeout));
    if (got == -1) {
        return n > 0 ? n : -1;
    }

    for (i = 0; i < got; i++) {
        if (ee[i].data.u64 == SHIM_SIGNAL_TAG) {
            signalled = 1;
            continue;
        }

        shim_fd_answers(k, &ee[i], out, &n, room);
    }

    if (signalled) {
        shim_signal_answers(k, out, &n, room);
    }

    return n;
}

int
kevent(int kq, const struct kevent *changelist, int nchanges,
    struct kevent *eventlist, int nevents, const struct timespec *timeout)
{
    shim_kq_t  *k;
    int         n;

    k = shim_find(kq);
    if (k == NULL || nchanges < 0 || nevents < 0) {
        errno = (k == NULL) ? EBADF : EINVAL;
        return -1;
    }

    n = shim_apply(k, changelist, nchanges, eventlist, nevents);

    /* as FreeBSD does: answers to the changes are returned at once */
    if (n != 0 || nevents == 0) {
        return n;
    }

    return shim_wait(k, eventlist, nevents, timeout);
}
