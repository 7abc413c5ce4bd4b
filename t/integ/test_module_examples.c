/*
 * test_module_examples.c -- the third-party module examples of
 * examples/modules/ over real sockets: upper (a handler module), inetd
 * (chargen, discard, daytime: a content handler) and sniff (a preread
 * handler and $sniffed_protocol, routing one port to several upstreams).
 *
 * Every body runs in each of the VARIANTS below, which differ only in how
 * sluice gets the modules:
 *
 *   static     SLUICE_MODULES_BIN, a sluice with the modules built in
 *              (--add-module); SLUICE_MODULES_STATIC lists which (all
 *              three when unset)
 *   dynamic    SLUICE_BIN with "load_module DIR/NAME.so;", DIR being
 *              SLUICE_MODULES_DIR (--add-dynamic-module, make modules)
 *   outoftree  SLUICE_BIN with "load_module" of a .so built here from the
 *              example's sources against the installed tree (pkg-config,
 *              as a third party would: sl_t_host.h)
 *   embed      upper only: an embedded instance (this process) whose
 *              configuration loads SLUICE_MODULES_DIR/upper.so
 *
 * make tests builds what every variant needs (objs/Makefile: examples)
 * and t/run.sh exports where: a variant that misses its binary,
 * directory or installed tree fails, saying which.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_host.h"
#include "sl_t_module.h"
#include "sl_t_backend.h"
#include "sl_t_embed.h"

#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define T_IO        20000       /* ms for one exchange */
#define T_STALL     20000       /* ms for the socket buffers to fill */

#define MIN(a, b)   ((a) < (b) ? (a) : (b))

#define V_STATIC     0
#define V_DYNAMIC    1
#define V_OUTOFTREE  2
#define V_EMBED      3
#define NDAEMON      3          /* the variants that run the daemon */
#define NVARIANTS    4

static const char  *variant_names[] = {
    "static", "dynamic", "outoftree", "embed"
};

/* built in SL_ASAN builds, as sluice then is: RSS says nothing there */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN  1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN  0
#endif


/* --- the variants -------------------------------------------------------- */

static const char *
skip(int v, const char *fmt, ...)
{
    va_list  ap;
    char     why[512];

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ck_abort_msg("the %s variant cannot run: %s (make tests builds what it "
                 "needs; run the suite through t/run.sh)", variant_names[v],
                 why);
    return NULL;
}

static int
has_word(const char *list, const char *word)
{
    size_t       len = strlen(word);
    const char  *p;

    for (p = strstr(list, word); p != NULL; p = strstr(p + 1, word)) {
        if ((p == list || p[-1] == ' ')
            && (p[len] == '\0' || p[len] == ' '))
        {
            return 1;
        }
    }

    return 0;
}

static const char *
variant_static(const char *const *mods)
{
    const char  *bin = getenv("SLUICE_MODULES_BIN");
    const char  *built = getenv("SLUICE_MODULES_STATIC");

    if (bin == NULL || *bin == '\0') {
        return skip(V_STATIC, "SLUICE_MODULES_BIN is not set");
    }

    for ( ; *mods != NULL; mods++) {
        if (built != NULL && !has_word(built, *mods)) {
            return skip(V_STATIC, "%s is not in SLUICE_MODULES_STATIC "
                        "(\"%s\")", *mods, built);
        }
    }

    /* sl_t_sluice_*() run "sluice": that is SLUICE_BIN */
    setenv("SLUICE_BIN", bin, 1);
    return "";
}

static const char *
variant_dynamic(const char *const *mods)
{
    const char  *dir = getenv("SLUICE_MODULES_DIR");
    char        *lines = "", *so;

    if (dir == NULL || *dir == '\0') {
        return skip(V_DYNAMIC, "SLUICE_MODULES_DIR is not set");
    }

    for ( ; *mods != NULL; mods++) {
        so = sl_t_printf("%s/%s.so", dir, *mods);
        if (!sl_t_exists(so)) {
            return skip(V_DYNAMIC, "%s does not exist", so);
        }

        lines = sl_t_printf("%sload_module %s;\n", lines, so);
    }

    return lines;
}

/* the -I of pkg-config's words that holds sluice.h */
static const char *
sdk_incdir(sl_t_args_t *words)
{
    int  i;

    for (i = 0; i < words->n; i++) {
        if (strncmp(words->v[i], "-I", 2) == 0
            && sl_t_exists(sl_t_path(words->v[i] + 2, "sluice.h")))
        {
            return words->v[i] + 2;
        }
    }

    return NULL;
}

static const char *
variant_outoftree(const char *const *mods)
{
    sl_t_args_t   words = { { NULL }, 0 };
    const char   *inc;
    char         *lines = "";

    if (getenv("SLUICE_DESTDIR") == NULL
        || getenv("SLUICE_PKG_CONFIG_PATH") == NULL)
    {
        return skip(V_OUTOFTREE, "no installed tree (SLUICE_DESTDIR)");
    }

    sl_t_host_pkg_config(&words, 0, 0);

    inc = sdk_incdir(&words);
    if (inc == NULL || !sl_t_exists(sl_t_path(inc, "sluice/sl_core.h"))) {
        return skip(V_OUTOFTREE, "the installed tree has no SDK headers "
                    "(sluice/sl_core.h next to sluice.h)");
    }

    for ( ; *mods != NULL; mods++) {
        /* built as its README says, once per run */
        lines = sl_t_printf("%sload_module %s;\n", lines, sl_t_module_build(
                                sl_t_printf("examples/modules/%s", *mods)));
    }

    return lines;
}

/* the main-context lines that give sluice mods, or NULL: skip the test */
static const char *
variant_setup(int v, const char *const *mods)
{
    static char  main_bin[4096];

    /*
     * The static variant points SLUICE_BIN at its own sluice; the others
     * run the build's. Without Check's fork (valgrind) the setting
     * outlives the test that made it.
     */
    if (main_bin[0] == '\0') {
        ck_assert_ptr_nonnull(getenv("SLUICE_BIN"));
        snprintf(main_bin, sizeof(main_bin), "%s", getenv("SLUICE_BIN"));
    }
    setenv("SLUICE_BIN", main_bin, 1);

    switch (v) {
    case V_STATIC:
        return variant_static(mods);
    case V_DYNAMIC:
        return variant_dynamic(mods);
    case V_OUTOFTREE:
        return variant_outoftree(mods);
    default:
        return skip(v, "not a daemon variant");
    }
}

/* the lines a prefix adds before the test's own configuration */
static int
prefix_lines(const char *prefix)
{
    int  n = 0;

    for ( ; *prefix != '\0'; prefix++) {
        n += *prefix == '\n';
    }

    return n;
}

static const char *const  mods_inetd[] = { "inetd", NULL };
static const char *const  mods_sniff[] = { "sniff", NULL };
static const char *const  mods_upper[] = { "upper", NULL };


/* --- sockets ------------------------------------------------------------- */

static void
nonblocking(int fd)
{
    ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

/* what is in fd's receive queue */
static int
rx_queue(int fd)
{
    int  n = 0;

    ck_assert_int_eq(ioctl(fd, SIOCINQ, &n), 0);
    return n;
}

/* exactly len bytes within T_IO */
static void
recv_exact(int fd, void *buf, size_t len)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    long long      end = sl_t_msec() + sl_t_timeout(T_IO);
    size_t         got = 0;
    ssize_t        n;

    while (got < len) {
        ck_assert_msg(poll(&pfd, 1, (int) (end - sl_t_msec())) > 0,
                      "%zu of %zu bytes came", got, len);
        n = recv(fd, (char *) buf + got, len - got, MSG_DONTWAIT);
        if (n == -1 && errno == EAGAIN) {
            continue;
        }
        ck_assert_msg(n > 0, "%zu of %zu bytes, then %s", got, len,
                      n == 0 ? "EOF" : strerror(errno));
        got += (size_t) n;
    }
}

/* reads until the peer's FIN (not a reset), dropping at most max bytes */
static size_t
recv_to_fin(int fd, size_t max)
{
    static char    buf[65536];
    struct pollfd  pfd = { fd, POLLIN, 0 };
    long long      end = sl_t_msec() + sl_t_timeout(T_IO);
    size_t         total = 0;
    ssize_t        n;

    for ( ;; ) {
        ck_assert_msg(poll(&pfd, 1, (int) (end - sl_t_msec())) > 0,
                      "no FIN after %zu bytes", total);
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == -1 && errno == EAGAIN) {
            continue;
        }
        ck_assert_msg(n >= 0, "%s after %zu bytes, not a FIN",
                      strerror(errno), total);
        if (n == 0) {
            return total;
        }
        total += (size_t) n;
        ck_assert_msg(total <= max, "more than %zu bytes before the FIN",
                      max);
    }
}

static char *
access_log_line(const char *path, int n)
{
    return sl_t_wait_lines(path, n, T_IO);
}


/* --- upper --------------------------------------------------------------- */

typedef struct {
    int             embedded;
    sl_t_sluice_t   srv;
    sl_te_t         te;
    int             port;
} upper_srv_t;

#define UPPER_CONF                                                            \
    "stream { server { listen 127.0.0.1:@PORT@; handler upper; } }\n"

static int
upper_start(upper_srv_t *u, int v)
{
    const char  *prefix;

    memset(u, 0, sizeof(*u));

    if (v == V_EMBED) {
        const char  *dir = getenv("SLUICE_MODULES_DIR");

        if (dir == NULL) {
            skip(v, "SLUICE_MODULES_DIR is not set");
        }
        u->embedded = 1;
        sl_te_create(&u->te, sl_t_printf("load_module %s/upper.so;\n%s", dir,
                                         UPPER_CONF), NULL, NULL);
        sl_te_start(&u->te);
        u->port = u->te.port[0];
        return 1;
    }

    prefix = variant_setup(v, mods_upper);
    if (prefix == NULL) {
        return 0;
    }

    sl_t_sluice_start(&u->srv, sl_t_printf("%s%s", prefix, UPPER_CONF));
    u->port = u->srv.port;
    return 1;
}

static void
upper_stop(upper_srv_t *u)
{
    if (u->embedded) {
        sl_te_stop_join(&u->te, SL_STOP_GRACEFUL);
        sl_te_destroy(&u->te);
        return;
    }

    sl_t_sluice_stop(&u->srv);
}

static unsigned char
upper_byte(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char) (c - 'a' + 'A') : c;
}

/* the bytes a client sends: every value, letters often */
static unsigned char
upper_input(size_t off)
{
    uint32_t  x = (uint32_t) off * 2654435761u;

    x ^= x >> 13;
    return (x & 1) ? (unsigned char) ('a' + (x >> 8) % 26)
                   : (unsigned char) (x >> 16);
}

START_TEST(test_upper_text)
{
    static const char  text[] = "Hello, sluice! abc xyz [`{] 0123 \xe9t\xe9\n";
    unsigned char      all[256 + sizeof(text)], back[sizeof(all)];
    upper_srv_t        u;
    size_t             i, len = 0;
    int                fd, reset;

    if (!upper_start(&u, _i)) {
        return;
    }

    memcpy(all, text, sizeof(text) - 1);
    len = sizeof(text) - 1;
    for (i = 0; i < 256; i++) {
        all[len++] = (unsigned char) i;
    }

    fd = sl_t_connect("127.0.0.1", u.port);
    sl_t_send_all(fd, all, len, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, back, sizeof(back), &reset, T_IO),
                      len);
    ck_assert(!reset);
    close(fd);

    ck_assert(memcmp(back, "HELLO, SLUICE! ABC XYZ [`{] 0123 \xe9T\xe9\n",
                     sizeof(text) - 1) == 0);
    for (i = 0; i < len && back[i] == upper_byte(all[i]); i++) {
        /* void */
    }
    ck_assert_msg(i == len, "byte %zu: 0x%02x for 0x%02x", i, back[i],
                  all[i]);

    upper_stop(&u);
}
END_TEST

/*
 * 3 MB (256 KiB under valgrind) through small socket buffers to a client that reads 1 KiB only
 * when it cannot send: the handler meets SL_AGAIN again and again. Then
 * the half-close: everything comes back before the FIN.
 */
START_TEST(test_upper_slow_reader)
{
    static unsigned char  buf[16384];
    upper_srv_t           u;
    struct pollfd         pfd;
    size_t                total, sent = 0, got = 0, i;
    size_t                len;
    ssize_t               n;
    long long             end;
    int                   fd, blocked = 0, shut = 0;

    if (!upper_start(&u, _i)) {
        return;
    }

    /* under valgrind (slow mode) less, through the same small buffers */
    total = (size_t) sl_te_load(3 * 1024 * 1024, 256 * 1024);
    fd = sl_t_connect_buf("127.0.0.1", u.port, 16384);
    nonblocking(fd);
    end = sl_t_msec() + sl_t_timeout(60000);

    while (got < total) {
        ck_assert_msg(sl_t_msec() < end, "%zu sent, %zu back", sent, got);

        if (sent == total && !shut) {
            ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
            shut = 1;
        }

        pfd.fd = fd;
        pfd.events = POLLIN | (sent < total ? POLLOUT : 0);
        ck_assert_int_gt(poll(&pfd, 1, sl_t_timeout(T_IO)), 0);

        if ((pfd.revents & POLLOUT) && sent < total) {
            len = MIN(total - sent, sizeof(buf));
            for (i = 0; i < len; i++) {
                buf[i] = upper_input(sent + i);
            }
            n = send(fd, buf, len, MSG_NOSIGNAL);
            ck_assert_msg(n > 0 || errno == EAGAIN, "send(): %s",
                          strerror(errno));
            sent += n > 0 ? (size_t) n : 0;
            blocked = n < (ssize_t) len;
        }

        /* slowly: a little, and only while sending is stuck or over */
        if ((pfd.revents & (POLLIN | POLLHUP)) && (blocked || shut)) {
            n = recv(fd, buf, shut ? sizeof(buf) : 1024, MSG_DONTWAIT);
            if (n == -1 && errno == EAGAIN) {
                continue;
            }
            ck_assert_msg(n > 0, "%s after %zu bytes back",
                          n == 0 ? "EOF" : strerror(errno), got);
            for (i = 0; i < (size_t) n
                        && buf[i] == upper_byte(upper_input(got + i)); i++)
            {
                /* void */
            }
            ck_assert_msg(i == (size_t) n, "wrong byte at %zu", got + i);
            got += (size_t) n;
        }
    }

    /* and then the FIN */
    ck_assert_uint_eq(recv_to_fin(fd, 0), 0);
    close(fd);
    upper_stop(&u);
}
END_TEST


/* --- inetd: configuration ------------------------------------------------ */

static const char *
inetd_start(sl_t_sluice_t *srv, int v, const char *listen, const char *more)
{
    const char  *prefix = variant_setup(v, mods_inetd);

    if (prefix == NULL) {
        return NULL;
    }

    sl_t_sluice_start(srv, sl_t_printf(
        "%sstream {\n"
        "    log_format t '$status $bytes_received $bytes_sent';\n"
        "    server { listen 127.0.0.1:@PORT@ %s; %s\n"
        "             access_log logs/access.log t; }\n"
        "}\n", prefix, listen, more));
    return prefix;
}

/* "sluice -t" fails with msg at line (of the test's own lines) */
static void
inetd_conf_error(const char *prefix, const char *server, const char *msg,
    int line)
{
    sl_t_out_t   out;
    const char  *where;

    ck_assert_int_eq(sl_t_sluice_test(sl_t_printf(
        "%sstream {\n"
        "    server {\n"
        "        listen 127.0.0.1:1;\n"
        "        %s\n"
        "    }\n"
        "}\n", prefix, server), &out), 1);

    where = sl_t_printf("%s in ", msg);
    ck_assert_msg(strstr(out.err, where) != NULL, "expected \"%s\" in: %s",
                  msg, out.err);
    where = sl_t_printf("/conf/t.conf:%d\n", line + prefix_lines(prefix));
    ck_assert_msg(strstr(out.err, where) != NULL, "expected \"%s\" in: %s",
                  where, out.err);
}

START_TEST(test_inetd_conf_errors)
{
    const char  *p = variant_setup(_i, mods_inetd);

    if (p == NULL) {
        return;
    }

    inetd_conf_error(p, "inetd chargen width=0;",
                     "invalid width \"width=0\", it must be from 1 to 1024",
                     4);
    inetd_conf_error(p, "inetd chargen width=1025;",
                     "invalid width \"width=1025\", it must be from 1 to "
                     "1024", 4);
    inetd_conf_error(p, "inetd chargen width=7x;",
                     "invalid width \"width=7x\", it must be from 1 to 1024",
                     4);
    inetd_conf_error(p, "inetd chargen width=;",
                     "invalid width \"width=\", it must be from 1 to 1024",
                     4);
    inetd_conf_error(p, "inetd chargen width=8 width=9;",
                     "duplicate width \"width=9\"", 4);
    inetd_conf_error(p, "inetd discard width=72;",
                     "\"width=72\": only chargen has a width", 4);
    inetd_conf_error(p, "inetd chargen wide;",
                     "invalid parameter \"wide\"", 4);
    inetd_conf_error(p, "inetd echo;", "unknown inetd service \"echo\"", 4);
    inetd_conf_error(p, "inetd;",
                     "invalid number of arguments in \"inetd\" directive",
                     4);
    inetd_conf_error(p, "inetd daytime;\n        inetd discard;",
                     "\"inetd\" directive is duplicate", 5);
    inetd_conf_error(p, "inetd_timeout soon; inetd discard;",
                     "invalid value \"soon\" in \"inetd_timeout\" directive",
                     4);

    /* and the limits themselves are fine */
    ck_assert_int_eq(sl_t_sluice_test(sl_t_printf(
        "%sstream {\n"
        "    inetd_timeout 5s;\n"
        "    server { listen 127.0.0.1:1; inetd chargen width=1; }\n"
        "    server { listen 127.0.0.1:2; inetd chargen width=1024; }\n"
        "    server { listen 127.0.0.1:3; inetd daytime; }\n"
        "}\n", p), NULL), 0);
}
END_TEST


/* --- inetd chargen ------------------------------------------------------- */

/* the byte at offset off of chargen's stream with lines of width */
static unsigned char
chargen_byte(size_t width, size_t off)
{
    size_t  line = off / (width + 2), col = off % (width + 2);

    if (col == width) {
        return '\r';
    }

    if (col == width + 1) {
        return '\n';
    }

    return (unsigned char) (' ' + (line + col) % 95);
}

/* len bytes of fd must be the stream from off on */
static void
chargen_check(int fd, size_t width, size_t off, size_t len)
{
    static unsigned char  buf[65536];
    size_t                n, i;

    while (len > 0) {
        n = MIN(len, sizeof(buf));
        recv_exact(fd, buf, n);

        /* one assertion per piece: Check records every one it passes */
        for (i = 0; i < n && buf[i] == chargen_byte(width, off + i); i++) {
            /* void */
        }
        ck_assert_msg(i == n, "byte %zu (line %zu) is 0x%02x", off + i,
                      (off + i) / (width + 2), buf[i]);

        off += n;
        len -= n;
    }
}

START_TEST(test_chargen_lines)
{
    sl_t_sluice_t  srv;
    char           line[80];
    int            fd;

    if (inetd_start(&srv, _i, "", "inetd chargen;") == NULL) {
        return;
    }

    /* RFC 864's lines, by hand: the first two and the 96th (a new round) */
    fd = sl_t_connect("127.0.0.1", srv.port);
    recv_exact(fd, line, 74);
    ck_assert(memcmp(line, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLM"
                     "NOPQRSTUVWXYZ[\\]^_`abcdefg\r\n", 74) == 0);
    recv_exact(fd, line, 74);
    ck_assert(memcmp(line, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMN"
                     "OPQRSTUVWXYZ[\\]^_`abcdefgh\r\n", 74) == 0);

    /* and every byte of three rounds of 95 lines */
    chargen_check(fd, 72, 148, 3 * 95 * 74 - 148);
    recv_exact(fd, line, 74);
    ck_assert(memcmp(line, " !\"#$%&'()*", 11) == 0);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

START_TEST(test_chargen_width)
{
    static const size_t  widths[] = { 1, 10, 1024 };
    sl_t_sluice_t        srv;
    size_t               k, w;
    int                  fd;

    for (k = 0; k < sizeof(widths) / sizeof(widths[0]); k++) {
        w = widths[k];
        if (inetd_start(&srv, _i, "", sl_t_printf("inetd chargen width=%zu;",
                                                  w)) == NULL)
        {
            return;
        }

        fd = sl_t_connect("127.0.0.1", srv.port);
        chargen_check(fd, w, 0, 2 * 95 * (w + 2) + 5);
        close(fd);
        sl_t_sluice_stop(&srv);
    }
}
END_TEST

/* the connection is stalled: the client's queue stopped growing */
typedef struct {
    int   fd;
    int   last;
    int   same;
} stall_t;

static int
stalled(void *data)
{
    stall_t  *st = data;
    int       q = rx_queue(st->fd);

    st->same = q > 0 && q == st->last ? st->same + 1 : 0;
    st->last = q;
    return st->same >= 5;
}

typedef struct {
    pid_t   pid;
    long    limit;
} rss_t;

static int
rss_above(void *data)
{
    rss_t  *r = data;

    return sl_t_rss_kb(r->pid) > r->limit;
}

/*
 * A client that stops reading: sluice sends until the socket buffers are
 * full and then waits, its memory flat, while other clients are served;
 * when the client reads again the stream goes on where it stopped.
 */
START_TEST(test_chargen_stalled_client)
{
    sl_t_sluice_t  srv;
    stall_t        st;
    rss_t          r;
    size_t         off;
    long           rss0, rss1;
    int            fd, other, measure;

    if (inetd_start(&srv, _i, "sndbuf=32k", "inetd chargen;") == NULL) {
        return;
    }

    /* valgrind and ASan keep memory of their own: RSS says nothing there */
    measure = getenv("SLUICE_WRAPPER") == NULL && !T_ASAN;

    fd = sl_t_connect_buf("127.0.0.1", srv.port, 16384);
    chargen_check(fd, 72, 0, 740);
    off = 740;

    st.fd = fd;
    st.last = -1;
    st.same = 0;
    ck_assert_msg(sl_t_wait_for(stalled, &st, NULL, T_STALL) == 0,
                  "the receive queue never stopped growing (%d)", st.last);
    rss0 = sl_t_rss_kb(sl_t_pid(srv.proc));

    /* another client meanwhile: the loop is not stuck on this one */
    other = sl_t_connect("127.0.0.1", srv.port);
    chargen_check(other, 72, 0, 95 * 74);
    close(other);

    /* a while of not reading: the memory must not grow */
    r.pid = sl_t_pid(srv.proc);
    r.limit = rss0 + 512;
    if (measure) {
        ck_assert_msg(sl_t_wait_for(rss_above, &r, NULL, 1500) == -1,
                      "sluice grew from %ld kB to %ld kB while the client did "
                      "not read", rss0, sl_t_rss_kb(r.pid));
        rss1 = sl_t_rss_kb(r.pid);
        ck_assert_msg(rss1 <= r.limit, "sluice grew from %ld to %ld kB",
                      rss0, rss1);
    }

    /* reading again: the stream goes on exactly, for 2 MB more */
    chargen_check(fd, 72, off, (size_t) sl_te_load(2 * 1024 * 1024,
                                                   256 * 1024));
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST

/* the client's FIN ends it: sluice closes after what was on its way */
START_TEST(test_chargen_client_fin)
{
    sl_t_sluice_t  srv;
    char          *line;
    int            fd;

    if (inetd_start(&srv, _i, "", "inetd chargen;") == NULL) {
        return;
    }

    fd = sl_t_connect("127.0.0.1", srv.port);
    chargen_check(fd, 72, 0, 74);
    sl_t_send_all(fd, "input is dropped\n", 17, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    recv_to_fin(fd, 64 * 1024 * 1024);
    close(fd);

    line = access_log_line(sl_t_path(srv.dir, "logs/access.log"), 1);
    ck_assert_msg(strncmp(line, "200 17 ", 7) == 0, "access log: %s", line);

    /* a reset ends it too, and the next client is served as ever */
    fd = sl_t_connect("127.0.0.1", srv.port);
    chargen_check(fd, 72, 0, 74);
    sl_te_reset(fd);
    line = access_log_line(sl_t_path(srv.dir, "logs/access.log"), 2);
    ck_assert_ptr_nonnull(strstr(line, "\n200 0 "));

    fd = sl_t_connect("127.0.0.1", srv.port);
    chargen_check(fd, 72, 0, 74 * 3);
    close(fd);

    sl_t_sluice_stop(&srv);
}
END_TEST


/* --- inetd discard and daytime ------------------------------------------- */

START_TEST(test_discard)
{
    static unsigned char  buf[65536];
    sl_t_sluice_t         srv;
    size_t                total, sent;
    char                 *line;
    int                   fd;

    if (inetd_start(&srv, _i, "", "inetd discard;") == NULL) {
        return;
    }

    total = (size_t) sl_te_load(4 * 1024 * 1024, 512 * 1024);
    memset(buf, 'd', sizeof(buf));
    fd = sl_t_connect("127.0.0.1", srv.port);
    for (sent = 0; sent < total; sent += sizeof(buf)) {
        sl_t_send_all(fd, buf, sizeof(buf), T_IO);
    }

    /* nothing came back: the queue is empty, and stays so to the FIN */
    ck_assert_int_eq(rx_queue(fd), 0);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(recv_to_fin(fd, 0), 0);
    close(fd);

    line = access_log_line(sl_t_path(srv.dir, "logs/access.log"), 1);
    ck_assert_str_eq(line, sl_t_printf("200 %zu 0\n", total));

    sl_t_sluice_stop(&srv);
}
END_TEST

static const char *const  days[] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday"
};

static const char *const  months[] = {
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"
};

/* "Saturday, December  5, 2026 07:30:00-UTC\r\n", a day that exists */
static void
daytime_check(const char *text)
{
    struct tm   tm;
    regex_t     re;
    regmatch_t  m[8];
    time_t      t;
    char        day[16], month[16];
    int         i, mon = -1;

    ck_assert_int_eq(regcomp(&re, "^([A-Z][a-z]+day), ([A-Z][a-z]+) "
                             "( [1-9]|[12][0-9]|3[01]), ([0-9]{4}) "
                             "([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
                             "-UTC\r\n$", REG_EXTENDED), 0);
    ck_assert_msg(regexec(&re, text, 8, m, 0) == 0, "not a daytime line: "
                  "\"%s\"", text);
    regfree(&re);

    memset(&tm, 0, sizeof(tm));
    ck_assert_int_eq(sscanf(text, "%15[^,], %15s %d, %d %d:%d:%d", day,
                            month, &tm.tm_mday, &tm.tm_year, &tm.tm_hour,
                            &tm.tm_min, &tm.tm_sec), 7);

    for (i = 0; i < 12; i++) {
        mon = strcmp(month, months[i]) == 0 ? i : mon;
    }
    ck_assert_msg(mon >= 0, "month \"%s\"", month);

    /* the weekday is that of the date */
    tm.tm_mon = mon;
    tm.tm_year -= 1900;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    ck_assert_int_eq(tm.tm_mon, mon);
    ck_assert_str_eq(day, days[tm.tm_wday]);
}

START_TEST(test_daytime)
{
    sl_t_sluice_t  srv;
    char          *text;
    int            fd, reset;

    if (inetd_start(&srv, _i, "", "inetd daytime;") == NULL) {
        return;
    }

    /* one line, then the FIN; the client need not say anything */
    fd = sl_t_connect("127.0.0.1", srv.port);
    text = sl_t_recv_text(fd, &reset, T_IO);
    ck_assert(!reset);
    daytime_check(text);

    /* a client that talks meanwhile gets the line all the same */
    fd = sl_t_connect("127.0.0.1", srv.port);
    sl_t_send_all(fd, "what time is it?\r\n", 18, T_IO);
    text = sl_t_recv_text(fd, &reset, T_IO);
    ck_assert(!reset);
    daytime_check(text);

    ck_assert_ptr_nonnull(access_log_line(sl_t_path(srv.dir,
                                                    "logs/access.log"), 2));
    sl_t_sluice_stop(&srv);
}
END_TEST


/* --- sniff --------------------------------------------------------------- */

static const char  *sniff_names[] = { "tls", "http", "ssh", "proxy",
                                      "unknown" };
#define NSNIFF  5

typedef struct {
    sl_t_sluice_t    srv;
    sl_t_backend_t   b[NSNIFF];
    char            *log;
} sniff_t;

static int
sniff_start(sniff_t *t, int v, const char *more)
{
    const char  *prefix = variant_setup(v, mods_sniff);
    char        *ups = "";
    int          i;

    if (prefix == NULL) {
        return 0;
    }

    for (i = 0; i < NSNIFF; i++) {
        sl_t_backend_start(&t->b[i], sniff_names[i], SL_TB_ECHO, 0);
        ups = sl_t_printf("%s    upstream %s { server 127.0.0.1:%d; }\n", ups,
                          sniff_names[i], t->b[i].port);
    }

    sl_t_sluice_start(&t->srv, sl_t_printf(
        "%sstream {\n"
        "    log_format s '$sniffed_protocol $status $bytes_received';\n"
        "%s"
        "    server {\n"
        "        listen 127.0.0.1:@PORT@;\n"
        "        sniff on;\n"
        "        proxy_pass $sniffed_protocol;\n"
        "        access_log logs/sniff.log s;\n"
        "        %s\n"
        "    }\n"
        "}\n", prefix, ups, more));
    t->log = sl_t_path(t->srv.dir, "logs/sniff.log");
    return 1;
}

typedef struct {
    const char      *want;
    unsigned char    bytes[1024];
    size_t           len;
} sniff_case_t;

/* a ClientHello as OpenSSL writes it, with SNI */
static size_t
client_hello(unsigned char *buf, size_t size)
{
    SSL_CTX  *ctx = SSL_CTX_new(TLS_client_method());
    SSL      *ssl;
    BIO      *rb, *wb;
    int       n;

    ck_assert_ptr_nonnull(ctx);
    ssl = SSL_new(ctx);
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());
    ck_assert(ssl != NULL && rb != NULL && wb != NULL);

    SSL_set_bio(ssl, rb, wb);
    SSL_set_tlsext_host_name(ssl, "sniff.test");
    ck_assert_int_eq(SSL_connect(ssl), -1);     /* it wants the answer */

    n = BIO_read(wb, buf, (int) size);
    ck_assert_int_gt(n, 5);
    ck_assert_int_lt(n, (int) size);
    ck_assert_int_eq(buf[0], 0x16);

    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return (size_t) n;
}

static void
sniff_case(sniff_case_t *c, const char *want, const void *bytes, size_t len)
{
    c->want = want;
    memcpy(c->bytes, bytes, len);
    c->len = len;
}

/* the cases: each protocol, and near misses that are unknown */
static int
sniff_cases(sniff_case_t *c)
{
    static const unsigned char  v2[] = {
        '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n',
        0x21, 0x11, 0x00, 0x0c, 127, 0, 0, 1, 127, 0, 0, 2, 0x1f, 0x90,
        0x00, 0x50, 'h', 'i'
    };
    int  n = 0;

    c[n].want = "tls";
    c[n].len = client_hello(c[n].bytes, sizeof(c[n].bytes));
    n++;

#define S(want, text)  sniff_case(&c[n++], want, text, sizeof(text) - 1)
    S("http", "GET / HTTP/1.1\r\nHost: sniff.test\r\n\r\n");
    S("http", "OPTIONS * HTTP/1.1\r\n\r\n");
    S("http", "PATCH /x HTTP/1.0\r\n\r\n");
    S("ssh", "SSH-2.0-OpenSSH_9.6\r\n");
    S("proxy", "PROXY TCP4 192.0.2.1 192.0.2.2 1111 2222\r\nhello");
    sniff_case(&c[n++], "proxy", v2, sizeof(v2));
    S("unknown", "hello, world\n");
    S("unknown", "GETX / HTTP/1.1\r\n");
    S("unknown", "get / HTTP/1.1\r\n");
    S("unknown", "SSH2\r\n");
    S("unknown", "\x16\x02\x00");
    S("unknown", "\r\n\r\n\0\r\nQUIX\n");
#undef S

    return n;
}

/* the backend's greeting names it; it echoes every byte that was sent */
static void
sniff_expect(int fd, sniff_case_t *c)
{
    unsigned char  back[1024];
    char           id[32];

    sl_t_read_id(fd, id, sizeof(id), T_IO);
    ck_assert_msg(strcmp(id, c->want) == 0, "\"%.*s...\" went to \"%s\", "
                  "not \"%s\"", (int) MIN(c->len, 12), c->bytes, id,
                  c->want);
    recv_exact(fd, back, c->len);
    ck_assert_msg(memcmp(back, c->bytes, c->len) == 0, "the %s backend "
                  "got other bytes", c->want);
}

static void
sniff_run(int v, int bytewise)
{
    sniff_case_t   cases[16];
    sniff_t        t;
    char          *log;
    int            i, j, n, fd, one = 1;

    if (!sniff_start(&t, v, "")) {
        return;
    }

    n = sniff_cases(cases);

    for (i = 0; i < n; i++) {
        fd = sl_t_connect("127.0.0.1", t.srv.port);

        if (bytewise) {
            /* one segment a byte; nothing awaited but each send */
            ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                        sizeof(one)), 0);
            for (j = 0; j < (int) cases[i].len; j++) {
                sl_t_send_all(fd, cases[i].bytes + j, 1, T_IO);
            }

        } else {
            sl_t_send_all(fd, cases[i].bytes, cases[i].len, T_IO);
        }

        sniff_expect(fd, &cases[i]);
        close(fd);

        /* the session is logged: the protocol and every byte */
        log = access_log_line(t.log, i + 1);
        ck_assert_msg(strstr(log, sl_t_printf("%s 200 %zu\n", cases[i].want,
                                              cases[i].len)) != NULL,
                      "case %d: the log is:\n%s", i, log);
    }

    sl_t_sluice_stop(&t.srv);
}

START_TEST(test_sniff_route)
{
    sniff_run(_i, 0);
}
END_TEST

START_TEST(test_sniff_bytewise)
{
    sniff_run(_i, 1);
}
END_TEST

/*
 * Nothing, or too little to decide, within preread_timeout: the session
 * ends there (as any preread does), and says unknown; no backend hears
 * of it.
 */
START_TEST(test_sniff_timeout)
{
    sniff_t   t;
    char     *log;
    int       fd, i, reset;

    if (!sniff_start(&t, _i, "preread_timeout 300ms;")) {
        return;
    }

    fd = sl_t_connect("127.0.0.1", t.srv.port);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");

    fd = sl_t_connect("127.0.0.1", t.srv.port);
    sl_t_send_all(fd, "SSH", 3, T_IO);
    ck_assert_str_eq(sl_t_recv_text(fd, &reset, T_IO), "");

    log = access_log_line(t.log, 2);
    ck_assert_str_eq(log, "unknown 200 0\nunknown 200 3\n");

    /* a decided session afterwards still goes where it should */
    fd = sl_t_connect("127.0.0.1", t.srv.port);
    sl_t_send_all(fd, "SSH-2.0-x\r\n", 11, T_IO);
    {
        sniff_case_t  c;

        sniff_case(&c, "ssh", "SSH-2.0-x\r\n", 11);
        sniff_expect(fd, &c);
    }
    close(fd);

    ck_assert_str_eq(sl_t_backend_wait_record(&t.b[2], 1, T_IO),
                     "ssh 11 fin\n");
    for (i = 0; i < NSNIFF; i++) {
        if (i != 2) {
            ck_assert_msg(!sl_t_exists(t.b[i].record), "backend %s: %s",
                          sniff_names[i], sl_t_read(t.b[i].record));
        }
    }

    sl_t_sluice_stop(&t.srv);
}
END_TEST

START_TEST(test_sniff_conf)
{
    const char  *p = variant_setup(_i, mods_sniff);
    sl_t_out_t   out;

    if (p == NULL) {
        return;
    }

    ck_assert_int_eq(sl_t_sluice_test(sl_t_printf(
        "%sstream {\n"
        "    server { listen 127.0.0.1:1; sniff maybe; return x; }\n"
        "}\n", p), &out), 1);
    ck_assert_msg(strstr(out.err, "invalid value \"maybe\" in \"sniff\" "
                         "directive, it must be \"on\" or \"off\" in ")
                  != NULL, "%s", out.err);
    ck_assert_ptr_nonnull(strstr(out.err, sl_t_printf(
        "/conf/t.conf:%d\n", 2 + prefix_lines(p))));

    ck_assert_int_eq(sl_t_sluice_test(sl_t_printf(
        "%sstream {\n"
        "    sniff on;\n"
        "    server { listen 127.0.0.1:1; return x; }\n"
        "}\n", p), &out), 1);
    ck_assert_msg(strstr(out.err, "\"sniff\" directive is not allowed here")
                  != NULL, "%s", out.err);

    /* the variable is known to every server, sniffing or not */
    ck_assert_int_eq(sl_t_sluice_test(sl_t_printf(
        "%sstream {\n"
        "    server { listen 127.0.0.1:1; sniff off; return $sniffed_protocol; }\n"
        "}\n", p), NULL), 0);
}
END_TEST


static Suite *
module_examples_suite(void)
{
    Suite  *s = suite_create("module_examples");
    TCase  *tc = tcase_create("module_examples");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 60);

    tcase_add_loop_test(tc, test_upper_text, 0, NVARIANTS);
    tcase_add_loop_test(tc, test_upper_slow_reader, 0, NVARIANTS);

    tcase_add_loop_test(tc, test_inetd_conf_errors, 0, NDAEMON);
    tcase_add_loop_test(tc, test_chargen_lines, 0, NDAEMON);
    tcase_add_loop_test(tc, test_chargen_width, 0, NDAEMON);
    tcase_add_loop_test(tc, test_chargen_stalled_client, 0, NDAEMON);
    tcase_add_loop_test(tc, test_chargen_client_fin, 0, NDAEMON);
    tcase_add_loop_test(tc, test_discard, 0, NDAEMON);
    tcase_add_loop_test(tc, test_daytime, 0, NDAEMON);

    tcase_add_loop_test(tc, test_sniff_route, 0, NDAEMON);
    tcase_add_loop_test(tc, test_sniff_bytewise, 0, NDAEMON);
    tcase_add_loop_test(tc, test_sniff_timeout, 0, NDAEMON);
    tcase_add_loop_test(tc, test_sniff_conf, 0, NDAEMON);

    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(module_examples_suite)
