/*
 * test_newcomer.c -- a newcomer's path: the commands README.md and the
 * shipped configurations' header comments give work on a fresh clone.
 *
 * The clone is made from the files git tracks (and new ones it does not
 * ignore), with their times kept, and the build directory `objs/` copied
 * beside them with its times too, so that `make` finds everything built:
 * building is what the rest of `make test` already proves. Each command
 * is run as written -- the test first finds it, verbatim, in the README or
 * the config's header, so that a command changed there changes here.
 *
 * The shipped configurations listen on fixed ports (7000, 7443): a test
 * that finds one taken fails saying so, rather than talking to a stranger.
 *
 * It runs with the plain build (`make test`); the sanitizer and valgrind
 * builds live in other directories, and their binaries serve the same
 * commands in the suites that start sluice.
 */
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"

#include <libgen.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NC_T  60000

static char  *nc_clone;     /* the fresh clone, with objs/ */

/* fails unless text (README.md or a config) holds cmd verbatim */
static void
nc_documented(const char *file, const char *cmd)
{
    char  *text = sl_t_read(sl_t_printf("%s/%s", sl_t_src(), file));

    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, cmd) != NULL,
                  "%s no longer says \"%s\": update test_newcomer.c", file,
                  cmd);
}

static int
nc_sh(const char *cmd, sl_t_out_t *out)
{
    return sl_t_run_in(nc_clone, ((char *[]) { "sh", "-c", (char *) cmd,
                                               NULL }), out, NC_T);
}

static void
nc_setup(void)
{
    sl_t_out_t   out;
    char        *bin = sl_t_printf("%s", sl_t_bin());
    const char  *objs = dirname(bin);
    int          rc;

    nc_clone = sl_t_printf("%s/clone", sl_t_mkdir());
    rc = sl_t_run(((char *[]) { "sh", "-c",
        sl_t_printf("mkdir -p '%s' && cd '%s' && "
                    "git ls-files -co --exclude-standard -z "
                    "| xargs -0 tar -cf - --no-recursion "
                    "| tar -xpf - -C '%s' && cp -a '%s' '%s/objs'",
                    nc_clone, sl_t_src(), nc_clone, objs, nc_clone),
        NULL }), &out, NC_T);
    ck_assert_msg(rc == 0, "cloning failed: %s", out.err);
    ck_assert_msg(!sl_t_exists(sl_t_path(nc_clone, "logs/error.log")),
                  "the clone has a log: it is not fresh");
}

static int
nc_builddir_is_objs(void)
{
    char  *bin = sl_t_printf("%s", sl_t_bin());

    return strcmp(basename(dirname(bin)), "objs") == 0;
}

typedef struct {
    sl_t_proc_t  *proc;
    const char   *pid_file;
} nc_start_t;

/* the pid file is written, or sluice already stopped */
static int
nc_start_done(void *data)
{
    nc_start_t  *st = data;

    return !sl_t_running(st->proc) || sl_t_exists(st->pid_file);
}

/* until PREFIX/logs/sluice.pid names a process; a port taken fails */
static pid_t
nc_started(sl_t_proc_t *p)
{
    nc_start_t  st = { p, sl_t_path(nc_clone, "logs/sluice.pid") };

    (void) sl_t_wait_for(nc_start_done, &st, st.pid_file, NC_T);
    ck_assert_msg(sl_t_running(p), "sluice stopped: %s", sl_t_stderr(p));
    return sl_t_wait_pid_file(st.pid_file, NC_T);
}

static void
nc_stop(sl_t_proc_t *p, pid_t pid, int signo)
{
    int  status;

    ck_assert_int_eq(kill(pid, signo), 0);
    status = sl_t_wait_exit(p, NC_T);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "it %s: %s", sl_t_status_text(status), sl_t_stderr(p));
}

/* one line to the echo on port, and it comes back */
static void
nc_echo(int port)
{
    char  buf[16];
    int   fd = sl_t_connect("127.0.0.1", port);

    sl_t_send_all(fd, "newcomer\n", 9, NC_T);
    shutdown(fd, SHUT_WR);
    buf[sl_t_recv_all(fd, buf, sizeof(buf) - 1, NULL, NC_T)] = '\0';
    close(fd);
    ck_assert_str_eq(buf, "newcomer\n");
}

START_TEST(test_make_installs_nothing_and_builds_nothing)
{
    sl_t_out_t  out;

    nc_documented("README.md", "make install      # honours DESTDIR");
    nc_setup();
    ck_assert_int_eq(nc_sh("make", &out), 0);
    ck_assert_msg(strstr(out.out, "apt-get") == NULL
                  && strstr(out.out, " -c ") == NULL,
                  "plain make did work on a built clone:\n%s", out.out);
}
END_TEST

START_TEST(test_make_run)
{
    sl_t_proc_t  *p;
    pid_t         pid;

    nc_documented("README.md", "make run     # installs what is missing");
    nc_documented("README.md", "socat - TCP:127.0.0.1:7000");
    nc_setup();
    p = sl_t_spawn_in(nc_clone, ((char *[]) { "make", "run", NULL }));
    pid = nc_started(p);
    nc_echo(7000);
    /* Ctrl-C: the foreground sluice ends, and make with it, both with 0 */
    nc_stop(p, pid, SIGINT);
}
END_TEST

START_TEST(test_make_certs_then_tls_echo)
{
    static const char  run[] = "objs/sluice -p $PWD/ -c conf/tls-echo.conf";
    static const char  client[] =
        "openssl s_client -connect 127.0.0.1:7443 -servername localhost";
    sl_t_out_t         out;
    sl_t_proc_t       *p, *c;
    pid_t              pid;
    char              *fifo;
    int                fd, status;

    nc_documented("README.md", "`make certs`");
    nc_documented("README.md", run);
    nc_documented("README.md", client);
    nc_documented("conf/tls-echo.conf", "openssl s_client -connect "
                  "127.0.0.1:7443 -servername localhost");
    nc_setup();

    ck_assert_int_eq(nc_sh("make certs", &out), 0);
    ck_assert(sl_t_exists(sl_t_path(nc_clone, "conf/tls-echo.crt")));
    ck_assert(sl_t_exists(sl_t_path(nc_clone, "conf/tls-proxy.key")));

    p = sl_t_spawn_in(nc_clone, ((char *[]) { "sh", "-c", (char *) run,
                                              NULL }));
    pid = nc_started(p);

    /*
     * The client reads a FIFO that the test holds open until the echo is
     * seen, then closes: at that end of its input the client closes too.
     */
    fifo = sl_t_path(nc_clone, "client.in");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    c = sl_t_spawn_in(nc_clone, ((char *[]) { "sh", "-c",
        sl_t_printf("exec %s < client.in", client), NULL }));
    fd = open(fifo, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "newcomer\n", 9), 9);
    sl_t_wait_output(c, "\nnewcomer", NC_T);
    close(fd);
    status = sl_t_wait_exit(c, NC_T);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the client %s: %s", sl_t_status_text(status),
                  sl_t_stderr(c));

    nc_stop(p, pid, SIGQUIT);
}
END_TEST

START_TEST(test_echo_conf)
{
    sl_t_proc_t  *p;
    pid_t         pid;

    nc_documented("conf/echo.conf", "sluice -p PREFIX -c conf/echo.conf");
    nc_documented("conf/echo.conf", "socat - TCP:127.0.0.1:7000");
    nc_setup();
    p = sl_t_spawn_in(nc_clone, ((char *[]) { "sh", "-c",
        "objs/sluice -p \"$PWD/\" -c conf/echo.conf", NULL }));
    pid = nc_started(p);
    nc_echo(7000);
    nc_stop(p, pid, SIGQUIT);
}
END_TEST

static Suite *
newcomer_suite(void)
{
    Suite  *s = suite_create("newcomer");
    TCase  *tc = tcase_create("fresh clone");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    if (!nc_builddir_is_objs()) {
        printf("test_newcomer: runs with the plain build (objs/) only\n");
        return s;
    }

    tcase_add_test(tc, test_make_installs_nothing_and_builds_nothing);
    tcase_add_test(tc, test_make_run);
    tcase_add_test(tc, test_make_certs_then_tls_echo);
    tcase_add_test(tc, test_echo_conf);
    return s;
}


SL_TEST_MAIN(newcomer_suite)
