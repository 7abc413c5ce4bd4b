/*
 * test_embed_examples.c -- the host programs of examples/embed/, built as
 * a user would build them: from the installed tree (make install
 * DESTDIR=..., which t/run.sh exports as SLUICE_DESTDIR) through
 * pkg-config and nothing else, then run and talked to over real sockets.
 *
 * Each example is built three ways:
 *
 *   shared   cc ... $(pkg-config --cflags --libs sluice), run with
 *            LD_LIBRARY_PATH at the installed libdir; /proc/PID/maps must
 *            show that very libsluice.so.1 loaded.
 *   static   cc -static ... $(pkg-config --cflags --libs --static sluice):
 *            a fully static executable. On Debian 12 this links (glibc's
 *            libc.a, OpenSSL's libssl.a and libcrypto.a are there); the
 *            linker only warns that getaddrinfo(), getpwnam_r() and
 *            dlopen() would need glibc's shared NSS modules at run time,
 *            which the examples never reach: they use numeric addresses
 *            and an embedded instance switches no user.
 *   archive  the installed libsluice.a linked explicitly into a dynamic
 *            executable: pkg-config --static's words with -lsluice made
 *            -l:libsluice.a, so that the archive and its Requires.private
 *            and Libs.private are used while libc and OpenSSL stay shared.
 *            It is what runs the archive's code under valgrind: memcheck
 *            cannot replace malloc in a fully static executable and then
 *            reports glibc's own start-up as errors, so the static builds
 *            are run without SLUICE_WRAPPER, the others behind it.
 *
 * Then: echo returns what was sent byte for byte; the proxy reaches both
 * backends of its upstream group and relays; kv answers on its plain and
 * its TLS listener; hostloop echoes from inside the host's epoll loop.
 * Every example stops gracefully on a signal (the session in progress is
 * still served, new connections are refused) and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_embed.h"
#include "sl_t_host.h"
#include "sl_t_net.h"
#include "sl_t_tls.h"

#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_START      20000      /* for "ready" */
#define T_IO         20000      /* for one exchange */
#define T_STOP       20000      /* from the signal to the exit */
#define START_TRIES  5          /* ports taken in between */

typedef enum {
    LINK_SHARED = 0,
    LINK_STATIC,
    LINK_ARCHIVE,
    LINK_N
} link_e;

static const char *const  link_names[LINK_N] = {
    "shared", "static", "archive"
};

typedef struct {
    const char   *name;         /* "echo": examples/embed/echo.c */
    link_e        link;
    char         *bin;
    char         *libdir;       /* the installed one, under DESTDIR */
} example_t;


/* --- the installed tree, through pkg-config ------------------------------ */

/* the -L of pkg-config's words that is under DESTDIR */
static char *
installed_libdir(const sl_t_args_t *words)
{
    const char  *destdir = sl_t_host_env("SLUICE_DESTDIR");
    size_t       len = strlen(destdir);
    int          i;

    for (i = 0; i < words->n; i++) {
        if (strncmp(words->v[i], "-L", 2) == 0
            && strncmp(words->v[i] + 2, destdir, len) == 0)
        {
            return words->v[i] + 2;
        }
    }

    ck_abort_msg("no -L%s... in pkg-config's words", destdir);
    return NULL;
}


/* --- building ------------------------------------------------------------ */

static void
build(example_t *ex, const char *name, link_e link)
{
    const char  *src;
    sl_t_out_t   out;
    sl_t_args_t  words = { .n = 0 }, cc = { .n = 0 };
    int          rc;

    ex->name = name;
    ex->link = link;
    ex->bin = sl_t_path(sl_t_mkdir(), name);
    src = sl_t_path(sl_t_src(), sl_t_printf("examples/embed/%s.c", name));

    sl_t_host_pkg_config(&words, 1, link != LINK_SHARED);
    ex->libdir = installed_libdir(&words);

    /* a sanitized build cannot go -static: its "static" is the archive */
    if (link == LINK_ARCHIVE || (link == LINK_STATIC && sl_t_host_sanitized()))
    {
        sl_t_host_use_archive(&words);
    }

    sl_t_args_add(&cc, "cc");
    if (link == LINK_STATIC && !sl_t_host_sanitized()) {
        sl_t_args_add(&cc, "-static");
    }
    sl_t_host_flags(&cc);
    sl_t_args_split(&cc, SL_T_HOST_CFLAGS);
    sl_t_args_add(&cc, src);
    sl_t_args_add(&cc, "-o");
    sl_t_args_add(&cc, ex->bin);
    sl_t_args_append(&cc, &words);

    rc = sl_t_run(cc.v, &out, SL_T_HOST_BUILD_MS);
    ck_assert_msg(rc == 0, "building %s (%s) failed with %d:\n%s\n%.6000s%s",
                  name, link_names[link], rc, sl_t_args_text(&cc), out.err,
                  out.out);
}


/* --- running ------------------------------------------------------------- */

static int
ready_or_gone(void *data)
{
    sl_t_proc_t  *p = data;

    return strstr(sl_t_stdout(p), "ready\n") != NULL || !sl_t_running(p);
}

/*
 * The command line: LD_LIBRARY_PATH for a shared build, SLUICE_WRAPPER
 * but for a fully static one (see the top of the file), the program, and
 * args with "@PORT1@"... replaced by ports.
 */
static void
command(sl_t_args_t *cmd, example_t *ex, const char *const *args,
    const int *ports, int nports)
{
    const char  *wrapper = getenv("SLUICE_WRAPPER");
    char        *arg;
    int          i, j;

    if (ex->link == LINK_SHARED) {
        sl_t_args_add(cmd, "env");
        sl_t_args_add(cmd, sl_t_printf("LD_LIBRARY_PATH=%s", ex->libdir));
    }

    if (wrapper != NULL && ex->link != LINK_STATIC) {
        sl_t_args_split(cmd, wrapper);
    }

    sl_t_args_add(cmd, ex->bin);

    for (i = 0; args[i] != NULL; i++) {
        arg = (char *) args[i];
        for (j = 0; j < nports; j++) {
            arg = sl_t_replace(arg, sl_t_printf("@PORT%d@", j + 1),
                               sl_t_printf("%d", ports[j]));
        }
        sl_t_args_add(cmd, arg);
    }
}

/* runs the example on free ports until it says "ready" */
static sl_t_proc_t *
start(example_t *ex, const char *const *args, int *ports, int nports)
{
    sl_t_proc_t  *p;
    sl_t_args_t   cmd;
    int           try, i;

    for (try = 0; try < START_TRIES; try++) {
        for (i = 0; i < nports; i++) {
            ports[i] = sl_t_loopback_port();
        }

        cmd.n = 0;
        command(&cmd, ex, args, ports, nports);
        p = sl_t_spawn(cmd.v);

        ck_assert_msg(sl_t_wait_for(ready_or_gone, p, NULL, T_START) == 0,
                      "%s did not say ready; stderr:\n%s",
                      sl_t_args_text(&cmd), sl_t_stderr(p));

        if (sl_t_running(p)) {
            return p;
        }

        ck_assert_msg(strstr(sl_t_stderr(p), "Address already in use")
                      != NULL, "%s exited at start; stdout:\n%s\nstderr:\n%s",
                      sl_t_args_text(&cmd), sl_t_stdout(p), sl_t_stderr(p));
    }

    ck_abort_msg("%s: no free ports in %d tries", ex->name, START_TRIES);
    return NULL;
}

/* exit status 0 after a stop (valgrind's errors would make it 97) */
static void
expect_clean_exit(sl_t_proc_t *p)
{
    int  status;

    status = sl_t_wait_exit(p, T_STOP);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s after a stop; stderr:\n%s", sl_t_status_text(status),
                  sl_t_stderr(p));
}

static void
stop(sl_t_proc_t *p, int signo)
{
    sl_t_signal(p, signo);
    expect_clean_exit(p);
}


/* --- what was loaded ----------------------------------------------------- */

/* does the ELF file have a program interpreter (is it dynamic)? */
static int
elf_dynamic(const char *path)
{
    unsigned char  ident[EI_NIDENT];
    Elf64_Ehdr     eh;
    Elf64_Phdr     ph;
    FILE          *f = fopen(path, "rb");
    int            i, dynamic = 0;

    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fread(ident, 1, EI_NIDENT, f), EI_NIDENT);
    ck_assert_msg(memcmp(ident, ELFMAG, SELFMAG) == 0
                  && ident[EI_CLASS] == ELFCLASS64, "%s: not a 64-bit ELF "
                  "file (only those are read here)", path);

    rewind(f);
    ck_assert_uint_eq(fread(&eh, sizeof(eh), 1, f), 1);

    for (i = 0; i < eh.e_phnum; i++) {
        ck_assert_int_eq(fseek(f, (long) (eh.e_phoff + (Elf64_Off) i
                                          * eh.e_phentsize), SEEK_SET), 0);
        ck_assert_uint_eq(fread(&ph, sizeof(ph), 1, f), 1);
        dynamic |= (ph.p_type == PT_INTERP);
    }

    fclose(f);
    return dynamic;
}

/*
 * The shared build has the installed libsluice.so.1 mapped, and no other
 * libsluice; the others have none, and the static one is not dynamic.
 */
static void
check_linkage(example_t *ex, sl_t_proc_t *p)
{
    char  *maps, *line, *save, *want, *real;
    int    found = 0;

    real = realpath(sl_t_path(ex->libdir, "libsluice.so.1"), NULL);
    ck_assert_msg(real != NULL, "no libsluice.so.1 in %s", ex->libdir);
    want = sl_t_printf("%s", real);
    free(real);

    maps = sl_t_read(sl_t_printf("/proc/%d/maps", (int) sl_t_pid(p)));
    ck_assert_ptr_nonnull(maps);

    for (line = strtok_r(maps, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        if (strstr(line, "libsluice") == NULL) {
            continue;
        }
        ck_assert_msg(ex->link == LINK_SHARED, "%s (%s) maps %s", ex->name,
                      link_names[ex->link], line);
        ck_assert_msg(strlen(line) >= strlen(want)
                      && strcmp(line + strlen(line) - strlen(want), want) == 0,
                      "%s maps %s, not %s", ex->name, line, want);
        found = 1;
    }

    ck_assert_msg(found || ex->link != LINK_SHARED, "%s (shared) has no "
                  "libsluice.so.1 mapped", ex->name);
    /* a sanitized build's "static" is the archive in a dynamic program */
    ck_assert_int_eq(elf_dynamic(ex->bin),
                     ex->link != LINK_STATIC || sl_t_host_sanitized());
}


/* --- sockets ------------------------------------------------------------- */

/* len bytes of the stream of seed (sl_te_byte()) */
static unsigned char *
pattern(uint32_t seed, size_t len)
{
    unsigned char  *buf = malloc(len);

    ck_assert_ptr_nonnull(buf);
    sl_te_fill(buf, seed, 0, len);
    return buf;
}

static size_t
first_difference(const unsigned char *a, const unsigned char *b, size_t len)
{
    size_t  i;

    for (i = 0; i < len && a[i] == b[i]; i++) {
        /* void */
    }
    return i;
}

/* exactly len bytes, each within T_IO */
static void
recv_exact(int fd, void *buf, size_t len)
{
    struct pollfd  pfd = { .fd = fd, .events = POLLIN };
    size_t         got = 0;
    ssize_t        n;

    while (got < len) {
        ck_assert_msg(poll(&pfd, 1, sl_t_timeout(T_IO)) == 1,
                      "%zu of %zu bytes after %d ms", got, len,
                      sl_t_timeout(T_IO));
        n = recv(fd, (char *) buf + got, len - got, 0);
        ck_assert_msg(n > 0, "%s after %zu of %zu bytes",
                      n == 0 ? "EOF" : strerror(errno), got, len);
        got += (size_t) n;
    }
}

/* sends text and expects reply, exactly */
static void
talk(int fd, const char *text, const char *reply)
{
    size_t  len = strlen(reply);
    char   *buf = sl_t_printf("%*s", (int) len, "");

    sl_t_send_all(fd, text, strlen(text), T_IO);
    recv_exact(fd, buf, len);
    ck_assert_msg(memcmp(buf, reply, len) == 0, "to \"%s\": \"%s\", not "
                  "\"%s\"", text, buf, reply);
}

/* len bytes out, then a FIN; the same bytes back, then a FIN */
static void
echo_bytes(int port, uint32_t seed, size_t len)
{
    unsigned char  *data = pattern(seed, len), *back = malloc(len + 1);
    size_t          got;
    int             fd, reset;

    ck_assert_ptr_nonnull(back);
    fd = sl_t_connect("127.0.0.1", port);
    sl_t_send_all(fd, data, len, T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);

    got = sl_t_recv_all(fd, back, len + 1, &reset, T_IO);
    ck_assert_msg(!reset, "a reset after %zu bytes", got);
    ck_assert_uint_eq(got, len);
    ck_assert_msg(memcmp(back, data, len) == 0, "a wrong byte at %zu",
                  first_difference(back, data, len));

    close(fd);
    free(data);
    free(back);
}

static int
refused(void *data)
{
    struct sockaddr_in  sin = { .sin_family = AF_INET };
    int                 fd, rc;

    sin.sin_port = htons((in_port_t) *(int *) data);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    rc = connect(fd, (struct sockaddr *) &sin, sizeof(sin));
    close(fd);
    return rc == -1 && errno == ECONNREFUSED;
}

/*
 * A graceful stop: with a session open, the signal closes the listener,
 * the session goes on being served until the client ends it, and then
 * the program exits 0.
 */
static void
graceful_stop(sl_t_proc_t *p, int port, int signo)
{
    char  c;
    int   fd, reset;

    fd = sl_t_connect("127.0.0.1", port);
    talk(fd, "before the stop\n", "before the stop\n");

    sl_t_signal(p, signo);
    ck_assert_msg(sl_t_wait_for(refused, &port, NULL, T_STOP) == 0,
                  "port %d still accepts after signal %d", port, signo);

    talk(fd, "after the stop\n", "after the stop\n");
    ck_assert_msg(sl_t_running(p), "exited with a session in progress");

    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ck_assert_uint_eq(sl_t_recv_all(fd, &c, 1, &reset, T_IO), 0);
    ck_assert(!reset);
    close(fd);

    expect_clean_exit(p);
}


/* --- echo ---------------------------------------------------------------- */

START_TEST(test_echo)
{
    example_t     ex;
    sl_t_proc_t  *p;
    int           port;

    build(&ex, "echo", (link_e) _i);
    p = start(&ex, (const char *[]) { "127.0.0.1:@PORT1@", NULL }, &port, 1);
    check_linkage(&ex, p);

    echo_bytes(port, 1, 64 * 1024);
    echo_bytes(port, 2, 1);

    /* both signals the example handles */
    graceful_stop(p, port, _i == LINK_STATIC ? SIGINT : SIGTERM);
    sl_t_wait_output(p, "gracefully shutting down", T_IO);
}
END_TEST


/* --- proxy --------------------------------------------------------------- */

typedef struct {
    int    fd;
    char   tag[16];
} backend_t;

static int
send_full(int fd, const void *p, size_t n)
{
    ssize_t  w;

    while (n > 0) {
        w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        p = (const char *) p + w;
        n -= (size_t) w;
    }
    return 0;
}

/* in a child: for each connection, its tag line, then an echo to EOF */
static void
backend_main(void *data)
{
    backend_t  *b = data;
    char        buf[16384];
    ssize_t     n;
    int         c;

    for ( ;; ) {
        c = accept(b->fd, NULL, NULL);
        if (c == -1) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            _exit(1);
        }

        if (send_full(c, b->tag, strlen(b->tag)) == 0) {
            while ((n = recv(c, buf, sizeof(buf), 0)) > 0
                   && send_full(c, buf, (size_t) n) == 0)
            {
                /* void */
            }
        }
        close(c);
    }
}

/* a tagged echo server in a child; its port */
static int
start_backend(const char *tag)
{
    struct sockaddr_in  sin = { .sin_family = AF_INET };
    socklen_t           len = sizeof(sin);
    backend_t           b;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    b.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(b.fd, 0);
    ck_assert_int_eq(bind(b.fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(b.fd, 64), 0);
    ck_assert_int_eq(getsockname(b.fd, (struct sockaddr *) &sin, &len), 0);
    snprintf(b.tag, sizeof(b.tag), "%s\n", tag);

    sl_t_fork(backend_main, &b);
    close(b.fd);
    return ntohs(sin.sin_port);
}

/* len bytes through the proxy: which backend answered (1 or 2) */
static int
relay(int port, uint32_t seed, size_t len)
{
    unsigned char  *data = pattern(seed, len), *back = malloc(len);
    char            tag[11];
    int             fd, which;

    ck_assert_ptr_nonnull(back);
    fd = sl_t_connect("127.0.0.1", port);
    sl_t_send_all(fd, data, len, T_IO);

    recv_exact(fd, tag, 10);
    tag[10] = '\0';
    ck_assert_msg(strcmp(tag, "backend 1\n") == 0
                  || strcmp(tag, "backend 2\n") == 0, "a tag \"%s\"", tag);
    which = tag[8] - '0';

    recv_exact(fd, back, len);
    ck_assert_msg(memcmp(back, data, len) == 0, "a wrong byte at %zu",
                  first_difference(back, data, len));

    close(fd);
    free(data);
    free(back);
    return which;
}

START_TEST(test_proxy)
{
    example_t     ex;
    sl_t_proc_t  *p;
    int           port, b1, b2, i, hits[3] = { 0, 0, 0 };

    build(&ex, "proxy", (link_e) _i);
    b1 = start_backend("backend 1");
    b2 = start_backend("backend 2");

    p = start(&ex, (const char *[]) {
                  "127.0.0.1:@PORT1@", sl_t_printf("127.0.0.1:%d", b1),
                  sl_t_printf("127.0.0.1:%d", b2), NULL }, &port, 1);
    check_linkage(&ex, p);

    for (i = 0; i < 4; i++) {
        hits[relay(port, (uint32_t) i + 10, 32 * 1024)]++;
    }

    /* round robin over two equal servers: each gets every other one */
    ck_assert_msg(hits[1] == 2 && hits[2] == 2, "backend 1: %d, backend 2: "
                  "%d of 4 sessions", hits[1], hits[2]);

    stop(p, SIGTERM);
}
END_TEST


/* --- kv ------------------------------------------------------------------ */

static void
kv_plain(sl_t_proc_t *p, int port)
{
    char  c;
    int   fd, reset;

    fd = sl_t_connect("127.0.0.1", port);
    talk(fd, "SET greeting hello, world\n", "OK\n");
    talk(fd, "GET greeting\n", "VALUE hello, world\n");
    talk(fd, "GET nothing\n", "NOT_FOUND\n");
    talk(fd, "FLY me to the moon\n", "ERROR\n");
    talk(fd, "get greeting\n", "ERROR\n");
    /* two commands in one segment, and a CR LF line */
    talk(fd, "SET n 1\r\nGET n\n", "OK\nVALUE 1\n");
    talk(fd, "QUIT\n", "BYE\n");

    /* then a FIN, and the session ends as the handler's close saw it */
    ck_assert_uint_eq(sl_t_recv_all(fd, &c, 1, &reset, T_IO), 0);
    ck_assert(!reset);
    close(fd);
    sl_t_wait_output(p, "kv: 127.0.0.1 closed after 8 commands, status 200",
                     T_IO);
    ck_assert_ptr_nonnull(strstr(sl_t_stderr(p), "connected (plain)"));
}

static void
tls_talk(sl_tt_peer_t *peer, const char *text, const char *reply)
{
    size_t  len = strlen(reply);
    char   *buf = sl_t_printf("%*s", (int) len, "");

    ck_assert(sl_tt_write(peer, text, strlen(text), T_IO));
    ck_assert_msg(sl_tt_read_full(peer, buf, len, T_IO), "no \"%s\" to "
                  "\"%s\"", reply, text);
    ck_assert_msg(memcmp(buf, reply, len) == 0, "to \"%s\": \"%s\", not "
                  "\"%s\"", text, buf, reply);
}

static void
kv_tls(sl_t_proc_t *p, int port)
{
    sl_tt_opts_t  opts = { .ca = sl_tt_file("ca.crt"),
                           .server_name = "localhost" };
    sl_tt_peer_t  peer;
    char          c;
    int           fd;

    fd = sl_t_connect("127.0.0.1", port);
    ck_assert_int_eq(sl_tt_peer_init(&peer, fd, 0, &opts), 0);
    ck_assert_msg(sl_tt_handshake(&peer, T_IO), "no TLS handshake");
    ck_assert_str_eq(sl_tt_peer_cn(&peer), "localhost");

    /* one store for both listeners */
    tls_talk(&peer, "GET greeting\n", "VALUE hello, world\n");
    tls_talk(&peer, "SET over tls\n", "OK\n");
    tls_talk(&peer, "GET over\n", "VALUE tls\n");
    tls_talk(&peer, "SET\n", "ERROR\n");
    tls_talk(&peer, "QUIT\n", "BYE\n");

    /* then close_notify */
    ck_assert_int_eq(sl_tt_read(&peer, &c, 1, T_IO), 0);
    sl_tt_peer_free(&peer);
    close(fd);
    sl_t_wait_output(p, "kv: 127.0.0.1 closed after 5 commands, status 200",
                     T_IO);
    ck_assert_ptr_nonnull(strstr(sl_t_stderr(p), "connected (TLSv1."));
}

/* a line longer than the protocol allows ends the session: 400 */
static void
kv_long_line(sl_t_proc_t *p, int port)
{
    char  line[1000], c;
    int   fd, reset;

    memset(line, 'x', sizeof(line));
    fd = sl_t_connect("127.0.0.1", port);
    sl_t_send_all(fd, line, sizeof(line), T_IO);
    ck_assert_uint_eq(sl_t_recv_all(fd, &c, 1, &reset, T_IO), 0);
    close(fd);
    sl_t_wait_output(p, "closed after 0 commands, status 400", T_IO);
}

START_TEST(test_kv)
{
    example_t     ex;
    sl_t_proc_t  *p;
    int           ports[2];

    build(&ex, "kv", (link_e) _i);
    p = start(&ex, (const char *[]) {
                  "127.0.0.1:@PORT1@", "127.0.0.1:@PORT2@",
                  sl_tt_file("rsa.crt"), sl_tt_file("rsa.key"), NULL },
              ports, 2);
    check_linkage(&ex, p);

    kv_plain(p, ports[0]);
    kv_tls(p, ports[1]);
    kv_long_line(p, ports[0]);

    stop(p, SIGTERM);
    sl_t_wait_output(p, "kv: sluice [notice] exiting", T_IO);
}
END_TEST


/* --- hostloop ------------------------------------------------------------ */

START_TEST(test_hostloop)
{
    example_t     ex;
    sl_t_proc_t  *p;
    int           port;

    build(&ex, "hostloop", (link_e) _i);
    p = start(&ex, (const char *[]) { "127.0.0.1:@PORT1@", NULL }, &port, 1);
    check_linkage(&ex, p);

    echo_bytes(port, 3, 64 * 1024);
    echo_bytes(port, 4, 100);

    graceful_stop(p, port, SIGTERM);
    sl_t_wait_output(p, "stopping on signal 15\n", T_IO);
    sl_t_wait_output(p, "done after ", T_IO);
}
END_TEST

/*
 * While a graceful stop waits for an idle session, the host sleeps:
 * sl_instance_timeout() says 0 only "when work is pending already". The
 * one-second window is a measurement, not a wait for something. Then a
 * second signal (hostloop makes it SL_STOP_FAST) closes the session.
 */
START_TEST(test_hostloop_drain)
{
    struct pollfd  pfd;
    example_t      ex;
    sl_t_proc_t   *p;
    long long      t0, ms;
    long           cpu0, cpu;
    char           c;
    int            port, fd, reset;

    build(&ex, "hostloop", LINK_SHARED);
    p = start(&ex, (const char *[]) { "127.0.0.1:@PORT1@", NULL }, &port, 1);

    fd = sl_t_connect("127.0.0.1", port);
    talk(fd, "ping\n", "ping\n");
    sl_t_signal(p, SIGTERM);
    sl_t_wait_output(p, "stopping on signal 15", T_STOP);
    ck_assert(sl_t_wait_for(refused, &port, NULL, T_STOP) == 0);

    cpu0 = sl_t_cpu_ms(sl_t_pid(p));
    t0 = sl_t_msec();
    pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
    ck_assert_int_eq(poll(&pfd, 1, 1000), 0);
    ms = sl_t_msec() - t0;
    cpu = sl_t_cpu_ms(sl_t_pid(p)) - cpu0;

    ck_assert_msg(cpu * 4 < ms, "hostloop used %ld ms of CPU in %lld ms "
                  "while draining an idle session: sl_instance_timeout() "
                  "said 0 with no work pending", cpu, ms);
    ck_assert(sl_t_running(p));

    /* the fast stop: the session ends without the client doing anything */
    sl_t_signal(p, SIGTERM);
    ck_assert_uint_eq(sl_t_recv_all(fd, &c, 1, &reset, T_IO), 0);
    close(fd);
    expect_clean_exit(p);
    sl_t_wait_output(p, "stopping on signal 15\nstopping on signal 15\n",
                     T_IO);
}
END_TEST


static Suite *
embed_examples_suite(void)
{
    Suite  *s = suite_create("embed_examples");
    TCase  *tc = tcase_create("examples");

    /* the certificates for kv, made once by the runner, not per test */
    if (sl_tt_pki() == NULL) {
        fprintf(stderr, "test_embed_examples: cannot make the test PKI\n");
        exit(1);
    }

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_echo, 0, LINK_N);
    tcase_add_loop_test(tc, test_proxy, 0, LINK_N);
    tcase_add_loop_test(tc, test_kv, 0, LINK_N);
    tcase_add_loop_test(tc, test_hostloop, 0, LINK_N);
    tcase_add_test(tc, test_hostloop_drain);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(embed_examples_suite)
