/*
 * sys/event.h -- a kqueue/kevent stand-in over epoll, for the tests of
 * sl_kqueue_module.c on Linux. Not part of sluice; see README.md here for
 * what it emulates and what it does not. The layout and the constants are
 * FreeBSD's, so that code built against it is built as it would be there.
 */
#ifndef SL_KQUEUE_SHIM_EVENT_H
#define SL_KQUEUE_SHIM_EVENT_H

#include <stdint.h>
#include <time.h>

#define EVFILT_READ     (-1)
#define EVFILT_WRITE    (-2)
#define EVFILT_SIGNAL   (-6)

#define EV_ADD          0x0001
#define EV_DELETE       0x0002
#define EV_ENABLE       0x0004
#define EV_DISABLE      0x0008
#define EV_ONESHOT      0x0010
#define EV_CLEAR        0x0020
#define EV_RECEIPT      0x0040
#define EV_ERROR        0x4000
#define EV_EOF          0x8000

struct kevent {
    uintptr_t       ident;
    short           filter;
    unsigned short  flags;
    unsigned int    fflags;
    int64_t         data;
    void           *udata;
};

#define EV_SET(kevp, a, b, c, d, e, f)                                        \
    do {                                                                      \
        struct kevent  *kev__ = (kevp);                                       \
        kev__->ident = (a);                                                   \
        kev__->filter = (b);                                                  \
        kev__->flags = (c);                                                   \
        kev__->fflags = (d);                                                  \
        kev__->data = (e);                                                    \
        kev__->udata = (f);                                                   \
    } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
    struct kevent *eventlist, int nevents, const struct timespec *timeout);

#endif /* SL_KQUEUE_SHIM_EVENT_H */
