/*
 * test_cli.c -- the command line of the real binary: -t -T -q -V -v -h -?
 * -g -p -c -e -s and bad options; running in the foreground and as a
 * daemon, with HUP, USR1, TERM and QUIT, as one process and as a master
 * with workers; workers sharing a socket (EPOLLEXCLUSIVE, the accept
 * mutex); the shipped configuration; and ./configure itself. (The process
 * model under traffic: test_process*.c.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_master.h"

#include <openssl/opensslv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define T_RUN        10000      /* ms for one run of sluice */
#define T_WAIT       10000      /* ms for a running sluice to react */
#define T_CONFIGURE  120000     /* ms for ./configure */

#define CONF         "conf/t.conf"

/* the configuration of the tests that run sluice */
#define RUN_CONF     "error_log logs/e.log notice;\npid logs/a.pid;\n"

#define FOREGROUND   "daemon off; master_process off;"
#define MASTER       "daemon off; master_process on;"


/* runs sluice with the arguments given; returns the exit code */
#define sluice(out, ...)                                                      \
    sl_t_run(((char *[]) { "sluice", __VA_ARGS__, NULL }), out, T_RUN)

/* the same, with prefix dir and the test's configuration */
#define sluice_conf(out, dir, ...)                                            \
    sluice(out, "-p", dir, "-c", CONF, __VA_ARGS__)


/* a fresh prefix with conf/t.conf holding conf */
static char *
prefix_with(const char *conf)
{
    char  *dir = sl_t_mkdir();

    sl_t_write(dir, CONF, conf);
    return dir;
}


/* the stderr of a successful -t */
static char *
test_ok(const char *conf)
{
    return sl_t_printf("sluice: the configuration file %s syntax is ok\n"
                       "sluice: configuration file %s test is successful\n",
                       conf, conf);
}


static char *
test_failed(const char *conf)
{
    return sl_t_printf("sluice: configuration file %s test failed\n", conf);
}


/* the text after "#define name" and its blanks, up to the end of line */
static char *
define_value(const char *text, const char *name)
{
    const char  *p, *end;
    char        *key = sl_t_printf("#define %s ", name);

    for (p = text; (p = strstr(p, key)) != NULL; p++) {
        if (p == text || p[-1] == '\n') {
            break;
        }
    }

    if (p == NULL) {
        return NULL;
    }

    p += strlen(key);
    p += strspn(p, " \t");
    end = strchr(p, '\n');

    return sl_t_printf("%.*s", end ? (int) (end - p) : (int) strlen(p), p);
}


/* --- -t, -q, -T and the shipped configuration ---------------------------- */

START_TEST(test_t_ok)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("worker_processes 1;\n");
    char        *conf = sl_t_path(dir, CONF);

    ck_assert_int_eq(sluice_conf(&o, dir, "-t"), 0);
    ck_assert_str_eq(o.err, test_ok(conf));
    ck_assert_str_eq(o.out, "");
}
END_TEST


START_TEST(test_t_quiet)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("worker_processes 1;\n");

    ck_assert_int_eq(sluice_conf(&o, dir, "-q", "-t"), 0);
    ck_assert_str_eq(o.err, "");
    ck_assert_str_eq(o.out, "");
}
END_TEST


START_TEST(test_t_error)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("worker_processes 1;\n\nfoo bar;\n");
    char        *conf = sl_t_path(dir, CONF), *log, *msg;

    msg = sl_t_printf("unknown directive \"foo\" in %s:3", conf);

    ck_assert_int_eq(sluice_conf(&o, dir, "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] %s\n%s", msg,
                                        test_failed(conf)));
    ck_assert_str_eq(o.out, "");

    /* and in the startup log, logs/error.log of the prefix */
    log = sl_t_read(sl_t_path(dir, "logs/error.log"));
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(sl_t_log_find(log, "emerg", msg) != NULL,
                  "no \"[emerg] %s\" line in error.log:\n%s", msg, log);
}
END_TEST


START_TEST(test_t_error_quiet)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("foo;\n");
    char        *conf = sl_t_path(dir, CONF);

    /* -q silences the success, never the errors */
    ck_assert_int_eq(sluice_conf(&o, dir, "-q", "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] unknown directive "
                                        "\"foo\" in %s:1\n%s", conf,
                                        test_failed(conf)));
}
END_TEST


/* "# configuration file NAME:", the text, a line feed if it has none */
static char *
dumped(const char *name, const char *text)
{
    size_t  n = strlen(text);

    return sl_t_printf("# configuration file %s:\n%s%s\n", name, text,
                       n > 0 && text[n - 1] != '\n' ? "\n" : "");
}


START_TEST(test_T_dump)
{
    static const char  main_conf[] = "worker_processes 1;\n"
                                     "include conf.d/*.conf;\n"
                                     "include extra.inc;\n";
    static const char  a[] = "error_log logs/e.log;\ninclude nested.inc;\n";
    static const char  b[] = "daemon off;";          /* no line feed */
    static const char  nested[] = "master_process off;\n";
    static const char  extra[] = "pid logs/x.pid;\n";
    sl_t_out_t         o;
    char              *dir = prefix_with(main_conf), *c, *expect;

    sl_t_write(dir, "conf/conf.d/b.conf", b);
    sl_t_write(dir, "conf/conf.d/a.conf", a);
    sl_t_write(dir, "conf/conf.d/not-matched.inc", "bogus;\n");
    sl_t_write(dir, "conf/nested.inc", nested);
    sl_t_write(dir, "conf/extra.inc", extra);

    c = sl_t_path(dir, "conf");
    expect = sl_t_printf("%s%s%s%s%s",
                         dumped(sl_t_path(dir, CONF), main_conf),
                         dumped(sl_t_path(c, "conf.d/a.conf"), a),
                         dumped(sl_t_path(c, "nested.inc"), nested),
                         dumped(sl_t_path(c, "conf.d/b.conf"), b),
                         dumped(sl_t_path(c, "extra.inc"), extra));

    ck_assert_int_eq(sluice_conf(&o, dir, "-T"), 0);
    ck_assert_str_eq(o.out, expect);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));

    /* -q keeps the dump and drops the chatter */
    ck_assert_int_eq(sluice_conf(&o, dir, "-q", "-T"), 0);
    ck_assert_str_eq(o.out, expect);
    ck_assert_str_eq(o.err, "");
}
END_TEST


START_TEST(test_shipped_conf)
{
    sl_t_out_t   o;
    char        *dir = sl_t_mkdir(), *text, *conf;

    text = sl_t_read(sl_t_path(sl_t_src(), "conf/sluice.conf"));
    ck_assert_ptr_nonnull(text);
    sl_t_write(dir, "conf/sluice.conf", text);
    conf = sl_t_path(dir, "conf/sluice.conf");

    ck_assert_int_eq(sluice(&o, "-p", dir, "-c", "conf/sluice.conf", "-t"),
                     0);
    ck_assert_str_eq(o.err, test_ok(conf));
    ck_assert(sl_t_exists(sl_t_path(dir, "logs/error.log")));

    ck_assert_int_eq(sluice(&o, "-p", dir, "-c", "conf/sluice.conf", "-T"),
                     0);
    ck_assert_str_eq(o.out, dumped(conf, text));

    /* without -c: the compiled-in path, relative to the prefix */
    if (SL_CONF_PATH[0] != '/') {
        sl_t_write(dir, SL_CONF_PATH, text);
        ck_assert_int_eq(sluice(&o, "-p", dir, "-t"), 0);
        ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, SL_CONF_PATH)));
    }
}
END_TEST


/* --- -V, -v, -h, -? ------------------------------------------------------ */

#define VERSION_LINE  "sluice version: " SL_VER "\n"

/* "built-in modules: ..." as the build's static list has them */
static char *
builtin_modules_line(void)
{
    char       *line = sl_t_printf("built-in modules:");
    sl_uint_t   i;

    for (i = 0; sl_modules[i] != NULL; i++) {
        line = sl_t_printf("%s %s", line, sl_modules[i]->name);
    }

    return sl_t_printf("%s\n", line);
}

START_TEST(test_V)
{
    sl_t_out_t  o;
    char       *want;

    want = sl_t_printf(VERSION_LINE
                       "built by " SL_COMPILER "\n"
                       "built with " OPENSSL_VERSION_TEXT "\n"
                       "TLS SNI support enabled\n"
                       "configure arguments: " SL_CONFIGURE "\n"
                       "%s"
                       "module ABI: %d.%d, handler API: %d.%d\n",
                       builtin_modules_line(), SL_MODULE_ABI_MAJOR,
                       SL_MODULE_ABI_MINOR, SL_HANDLER_API_MAJOR,
                       SL_HANDLER_API_MINOR);

    ck_assert_int_eq(sluice(&o, "-V"), 0);
    ck_assert_str_eq(o.err, want);
    ck_assert_str_eq(o.out, "");
}
END_TEST


START_TEST(test_v)
{
    sl_t_out_t  o;

    ck_assert_int_eq(sluice(&o, "-v"), 0);
    ck_assert_str_eq(o.err, VERSION_LINE);
    ck_assert_str_eq(o.out, "");
}
END_TEST


START_TEST(test_help)
{
    static const char  *const options[] = {
        "-?,-h", "-v", "-V", "-t", "-T", "-q", "-s signal", "-p prefix",
        "-e filename", "-c filename", "-g directives"
    };
    sl_t_out_t          o, q;
    size_t              i;

    ck_assert_int_eq(sluice(&o, "-h"), 0);
    ck_assert_str_eq(o.out, "");
    ck_assert_msg(strncmp(o.err, VERSION_LINE "Usage: sluice ",
                          sizeof(VERSION_LINE "Usage: sluice ") - 1) == 0,
                  "the help starts:\n%s", o.err);

    for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        ck_assert_msg(strstr(o.err, sl_t_printf("\n  %s ", options[i])),
                      "the help lacks \"%s\":\n%s", options[i], o.err);
    }

    ck_assert_int_eq(sluice(&q, "-?"), 0);
    ck_assert_str_eq(q.err, o.err);
}
END_TEST


/* --- bad options, combined flags ----------------------------------------- */

START_TEST(test_bad_options)
{
    sl_t_out_t  o;

    ck_assert_int_eq(sluice(&o, "-x"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"x\"\n");
    ck_assert_str_eq(o.out, "");

    ck_assert_int_eq(sluice(&o, "-tx"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"x\"\n");

    ck_assert_int_eq(sluice(&o, "arg"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"arg\"\n");

    ck_assert_int_eq(sluice(&o, "-"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"-\"\n");

    ck_assert_int_eq(sluice(&o, "-s", "foo"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"-s foo\"\n");

    ck_assert_int_eq(sluice(&o, "-sfoo"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"-s foo\"\n");

    /* "-s" with a name that is a signal but no word for it */
    ck_assert_int_eq(sluice(&o, "-s", "SIGINT"), 1);
    ck_assert_str_eq(o.err, "sluice: invalid option: \"-s SIGINT\"\n");
}
END_TEST


START_TEST(test_missing_arguments)
{
    static const char  *const cases[][2] = {
        { "-c", "file name" },
        { "-p", "directory name" },
        { "-e", "file name" },
        { "-g", "parameter" },
        { "-s", "parameter" },
    };
    sl_t_out_t          o;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(sluice(&o, "-t", (char *) cases[i][0]), 1);
        ck_assert_str_eq(o.err, sl_t_printf("sluice: option \"%s\" requires "
                                            "%s\n", cases[i][0],
                                            cases[i][1]));
        ck_assert_str_eq(o.out, "");
    }
}
END_TEST


START_TEST(test_combined_flags)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("worker_processes 1;\n");

    ck_assert_int_eq(sluice_conf(&o, dir, "-tq"), 0);
    ck_assert_str_eq(o.err, "");

    ck_assert_int_eq(sluice_conf(&o, dir, "-qt"), 0);
    ck_assert_str_eq(o.err, "");

    /* an option's argument glued to it, or in the next word */
    ck_assert_int_eq(sluice(&o, "-tqp", dir, "-c" CONF), 0);
    ck_assert_str_eq(o.err, "");
    ck_assert_str_eq(o.out, "");

    ck_assert_int_eq(sluice(&o, sl_t_printf("-p%s", dir), "-tc", CONF), 0);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));
}
END_TEST


/* --- -g ------------------------------------------------------------------ */

START_TEST(test_g_ok)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("error_log logs/e.log;\n");

    ck_assert_int_eq(sluice_conf(&o, dir, "-g", "worker_processes 2;",
                                 "-t"), 0);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));

    ck_assert_int_eq(sluice_conf(&o, dir, "-g", FOREGROUND " pid x.pid;",
                                 "-t"), 0);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));
}
END_TEST


START_TEST(test_g_errors)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("error_log logs/e.log;\n"
                                   "worker_processes 1;\n");
    char        *conf = sl_t_path(dir, CONF);

    ck_assert_int_eq(sluice_conf(&o, dir, "-g", "bogus;", "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] unknown directive "
                                        "\"bogus\" in command line\n%s",
                                        test_failed(conf)));

    /* the command line is read first: the file's copy is the duplicate */
    ck_assert_int_eq(sluice_conf(&o, dir, "-g", "worker_processes 2;",
                                 "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] \"worker_processes\""
                                        " directive is duplicate in %s:2\n%s",
                                        conf, test_failed(conf)));

    ck_assert_int_eq(sluice_conf(&o, dir, "-g", "daemon off", "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] unexpected end of "
                                        "file, expecting \";\" or \"}\" in "
                                        "command line\n%s",
                                        test_failed(conf)));
}
END_TEST


/* --- -p, -c, include, -e ------------------------------------------------- */

START_TEST(test_p_prefix)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("pid logs/x.pid;\n"
                                   "error_log logs/e.log;\n");
    char        *cwd = sl_t_mkdir();

    ck_assert_int_eq(sl_t_run_in(cwd, ((char *[]) {
                         "sluice", "-p", dir, "-c", CONF, "-t", NULL }),
                         &o, T_RUN), 0);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));

    ck_assert(sl_t_exists(sl_t_path(dir, "logs/e.log")));
    ck_assert(!sl_t_exists(sl_t_path(cwd, "logs/e.log")));
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/x.pid")));   /* only -t */

    /* a prefix that ends with '/' does not double it */
    ck_assert_int_eq(sluice(&o, "-p", sl_t_printf("%s/", dir), "-c", CONF,
                            "-t"), 0);
    ck_assert_str_eq(o.err, test_ok(sl_t_path(dir, CONF)));
}
END_TEST


START_TEST(test_c_paths)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("error_log logs/e.log;\n");
    char        *other = sl_t_mkdir(), *conf = sl_t_path(dir, CONF);

    /* relative to the prefix, not to the working directory */
    ck_assert_int_eq(sl_t_run_in(other, ((char *[]) {
                         "sluice", "-p", dir, "-c", CONF, "-t", NULL }),
                         &o, T_RUN), 0);
    ck_assert_str_eq(o.err, test_ok(conf));

    /* absolute: taken as it is; its paths still follow the prefix */
    ck_assert_int_eq(sluice(&o, "-p", other, "-c", conf, "-t"), 0);
    ck_assert_str_eq(o.err, test_ok(conf));
    ck_assert(sl_t_exists(sl_t_path(other, "logs/e.log")));

    ck_assert_int_eq(sluice(&o, "-p", dir, "-c", "conf/none.conf", "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] open() \"%s\" failed"
                                        " (2: No such file or directory)\n%s",
                                        sl_t_path(dir, "conf/none.conf"),
                                        test_failed(sl_t_path(dir,
                                            "conf/none.conf"))));
}
END_TEST


START_TEST(test_include_relative)
{
    sl_t_out_t   o;
    char        *dir = sl_t_mkdir(), *conf;

    sl_t_write(dir, "etc/main.conf", "include inc/extra.conf;\n"
                                     "include inc/*.glob;\n");
    sl_t_write(dir, "etc/inc/extra.conf", "worker_processes 1;\n");
    sl_t_write(dir, "etc/inc/one.glob", "daemon off;\n");
    /* decoys where a prefix-relative include would look */
    sl_t_write(dir, "inc/extra.conf", "wrong_file;\n");
    sl_t_write(dir, "inc/one.glob", "wrong_glob;\n");
    conf = sl_t_path(dir, "etc/main.conf");

    ck_assert_int_eq(sluice(&o, "-p", dir, "-c", "etc/main.conf", "-T"), 0);
    ck_assert_str_eq(o.err, test_ok(conf));
    ck_assert_str_eq(o.out, sl_t_printf("%s%s%s",
        dumped(conf, "include inc/extra.conf;\ninclude inc/*.glob;\n"),
        dumped(sl_t_path(dir, "etc/inc/extra.conf"), "worker_processes 1;\n"),
        dumped(sl_t_path(dir, "etc/inc/one.glob"), "daemon off;\n")));

    /* an error in an included file names that file and its line */
    sl_t_write(dir, "etc/inc/extra.conf", "\nworker_processes 1 2;\n");
    ck_assert_int_eq(sluice(&o, "-p", dir, "-c", "etc/main.conf", "-t"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] invalid number of "
                                        "arguments in \"worker_processes\" "
                                        "directive in %s:2\n%s",
                                        sl_t_path(dir, "etc/inc/extra.conf"),
                                        test_failed(conf)));
}
END_TEST


START_TEST(test_e_file)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("foo;\n");
    char        *conf = sl_t_path(dir, CONF), *log, *msg;

    msg = sl_t_printf("unknown directive \"foo\" in %s:1", conf);

    ck_assert_int_eq(sluice_conf(&o, dir, "-e", "logs/startup.log", "-t"),
                     1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] %s\n%s", msg,
                                        test_failed(conf)));

    log = sl_t_read(sl_t_path(dir, "logs/startup.log"));
    ck_assert_msg(sl_t_log_find(log, "emerg", msg) != NULL,
                  "no \"%s\" in logs/startup.log:\n%s", msg, log);
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/error.log")));
}
END_TEST


START_TEST(test_e_stderr)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("foo;\n");
    char        *conf = sl_t_path(dir, CONF), *msg, *nl;

    msg = sl_t_printf("unknown directive \"foo\" in %s:1", conf);

    ck_assert_int_eq(sluice_conf(&o, dir, "-e", "stderr", "-t"), 1);

    /* the log line itself, once, and no "sluice: [emerg]" echo of it */
    ck_assert_msg(sl_t_log_find(o.err, "emerg", msg) == o.err,
                  "stderr does not start with the log line:\n%s", o.err);
    nl = strchr(o.err, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_str_eq(nl + 1, test_failed(conf));
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/error.log")));
}
END_TEST


START_TEST(test_e_unopenable)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("worker_processes 1;\n");

    ck_assert_int_eq(sluice_conf(&o, dir, "-e", "nodir/e.log", "-t"), 0);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [alert] could not open "
                                        "error log file: open() \"%s\" "
                                        "failed (2: No such file or "
                                        "directory)\n%s",
                                        sl_t_path(dir, "nodir/e.log"),
                                        test_ok(sl_t_path(dir, CONF))));
}
END_TEST


/* --- -s ------------------------------------------------------------------ */

/* in a child: tells "ready", then exits with the first signal it gets */
static void
catch_signal(void *data)
{
    sigset_t  set;
    int       signo;

    (void) data;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGINT);

    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1
        || write(STDOUT_FILENO, "ready\n", 6) != 6
        || sigwait(&set, &signo) != 0)
    {
        _exit(100);
    }

    _exit(signo);
}


static void
exit_at_once(void *data)
{
    (void) data;
}


START_TEST(test_s_signals)
{
    static const struct {
        const char  *word;
        int          signo;
    } cases[] = {
        { "stop", SIGTERM },
        { "quit", SIGQUIT },
        { "reopen", SIGUSR1 },
        { "reload", SIGHUP },
    };
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    size_t        i;
    char         *dir = prefix_with("pid logs/t.pid;\n");
    int           status;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = sl_t_fork(catch_signal, NULL);
        sl_t_wait_output(p, "ready", T_WAIT);
        sl_t_writef(dir, "logs/t.pid", "%d\n", (int) sl_t_pid(p));

        ck_assert_int_eq(sluice_conf(&o, dir, "-s", (char *) cases[i].word),
                         0);
        ck_assert_str_eq(o.err, "");

        status = sl_t_wait_exit(p, T_WAIT);
        ck_assert_msg(WIFEXITED(status)
                      && WEXITSTATUS(status) == cases[i].signo,
                      "-s %s: the process got %d, not %d", cases[i].word,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                      cases[i].signo);
    }
}
END_TEST


START_TEST(test_s_no_pid_file)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("pid logs/t.pid;\n");

    ck_assert_int_eq(sluice_conf(&o, dir, "-s", "stop"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [error] open() \"%s\" failed"
                                        " (2: No such file or directory)\n",
                                        sl_t_path(dir, "logs/t.pid")));
}
END_TEST


START_TEST(test_s_bad_pid)
{
    sl_t_out_t   o;
    char        *dir = prefix_with("pid logs/t.pid;\n");
    char        *pid = sl_t_path(dir, "logs/t.pid");

    sl_t_write(dir, "logs/t.pid", "garbage\n");
    ck_assert_int_eq(sluice_conf(&o, dir, "-s", "reload"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [error] invalid PID number "
                                        "\"garbage\" in \"%s\"\n", pid));

    sl_t_write(dir, "logs/t.pid", "");
    ck_assert_int_eq(sluice_conf(&o, dir, "-s", "reload"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [error] invalid PID number "
                                        "\"\" in \"%s\"\n", pid));
}
END_TEST


START_TEST(test_s_stale_pid)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = prefix_with("pid logs/t.pid;\n");

    /* the pid of a process that is gone */
    p = sl_t_fork(exit_at_once, NULL);
    ck_assert_int_eq(sl_t_wait_exit(p, T_WAIT), 0);
    sl_t_writef(dir, "logs/t.pid", "%d\n", (int) sl_t_pid(p));

    ck_assert_int_eq(sluice_conf(&o, dir, "-s", "stop"), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [error] kill(%d, %d) failed"
                                        " (3: No such process)\n",
                                        (int) sl_t_pid(p), SIGTERM));
}
END_TEST


/* --- running ------------------------------------------------------------- */

/* sluice in the foreground on prefix dir, up and logging */
static sl_t_proc_t *
start_foreground(const char *dir)
{
    sl_t_proc_t  *p;
    pid_t         pid;
    char         *log;

    p = sl_t_spawn(((char *[]) { "sluice", "-p", (char *) dir, "-c", CONF,
                                 "-g", FOREGROUND, NULL }));

    pid = sl_t_wait_pid_file(sl_t_path(dir, "logs/a.pid"), T_WAIT);
    ck_assert_int_eq(pid, sl_t_pid(p));

    log = sl_t_path(dir, "logs/e.log");
    sl_t_wait_file(log, SL_VER " started", T_WAIT);
    ck_assert_msg(sl_t_log_find(sl_t_read(log), "notice", SL_VER " started"),
                  "no \"[notice] " SL_VER " started\" line in:\n%s",
                  sl_t_read(log));
    ck_assert(strstr(sl_t_read(log), sl_t_printf("] %d#", (int) pid)));

    return p;
}


/* SIGTERM: exit 0, "exiting", the pid file removed */
static void
stop(sl_t_proc_t *p, const char *dir, const char *pid_file)
{
    char  *log;
    int    status;

    sl_t_signal(p, SIGTERM);
    status = sl_t_wait_exit(p, T_WAIT);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "sluice %s; stderr:\n%s", sl_t_status_text(status),
                  sl_t_stderr(p));

    ck_assert(!sl_t_exists(sl_t_path(dir, pid_file)));
    log = sl_t_read(sl_t_path(dir, "logs/e.log"));
    ck_assert_msg(sl_t_log_find(log, "notice", "exiting"),
                  "no \"exiting\" in:\n%s", log);
}


START_TEST(test_run_foreground)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF);

    p = start_foreground(dir);
    ck_assert_str_eq(sl_t_stderr(p), "");
    stop(p, dir, "logs/a.pid");
}
END_TEST


START_TEST(test_run_reload_bad)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log, *msg;

    p = start_foreground(dir);

    sl_t_write(dir, CONF, RUN_CONF "bogus on;\n");
    sl_t_signal(p, SIGHUP);

    log = sl_t_path(dir, "logs/e.log");
    sl_t_wait_file(log, "the new configuration was not loaded", T_WAIT);

    msg = sl_t_printf("unknown directive \"bogus\" in %s:3",
                      sl_t_path(dir, CONF));
    ck_assert_msg(sl_t_log_find(sl_t_read(log), "emerg", msg),
                  "no \"%s\" in:\n%s", msg, sl_t_read(log));
    ck_assert(sl_t_log_find(sl_t_read(log), "error", "the new configuration "
                            "was not loaded, the old one stays in force"));
    ck_assert(sl_t_running(p));

    /* the old configuration is the one in force */
    stop(p, dir, "logs/a.pid");
}
END_TEST


START_TEST(test_run_reload_pid)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF);

    p = start_foreground(dir);

    sl_t_write(dir, CONF, "error_log logs/e.log notice;\npid logs/b.pid;\n");
    sl_t_signal(p, SIGHUP);

    ck_assert_int_eq(sl_t_wait_pid_file(sl_t_path(dir, "logs/b.pid"),
                                        T_WAIT), sl_t_pid(p));
    sl_t_wait_gone(sl_t_path(dir, "logs/a.pid"), T_WAIT);
    ck_assert(sl_t_log_find(sl_t_read(sl_t_path(dir, "logs/e.log")),
                            "notice", "reconfiguring"));
    ck_assert(sl_t_running(p));

    stop(p, dir, "logs/b.pid");
}
END_TEST


START_TEST(test_run_reopen)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log, *old;

    p = start_foreground(dir);

    log = sl_t_path(dir, "logs/e.log");
    old = sl_t_path(dir, "logs/e.log.1");
    ck_assert_int_eq(rename(log, old), 0);

    sl_t_signal(p, SIGUSR1);
    sl_t_wait_file(old, "reopening logs", T_WAIT);
    sl_t_wait_file(log, NULL, T_WAIT);

    /* "exiting" goes to the new file only */
    stop(p, dir, "logs/a.pid");
    ck_assert(!sl_t_log_find(sl_t_read(old), "notice", "exiting"));
    ck_assert(!sl_t_log_find(sl_t_read(log), "notice", SL_VER " started"));
}
END_TEST


/* a line of the log from that position on, or NULL */
static const char *
log_find_from(const char *log, size_t from, const char *level,
    const char *msg)
{
    const char  *text = sl_t_read(log);

    if (text == NULL || strlen(text) < from) {
        return NULL;
    }

    return sl_t_log_find(text + from, level, msg);
}


/* the pid of the first "start worker process PID" from position from */
static pid_t
worker_started(const char *log, size_t from)
{
    static const char  key[] = "[notice] ";
    static const char  what[] = ": start worker process ";
    const char        *text = sl_t_read(log), *p;

    if (text == NULL || strlen(text) < from) {
        return 0;
    }

    for (p = text + from; (p = strstr(p, what)) != NULL; p++) {
        if (p[sizeof(what) - 1] >= '0' && p[sizeof(what) - 1] <= '9') {
            break;
        }
    }

    /* a notice line of its own */
    if (p == NULL || strstr(text + from, key) == NULL) {
        return 0;
    }

    return (pid_t) atoi(p + sizeof(what) - 1);
}


/*
 * A master in the foreground (daemon off): it is the process started and
 * the pid in the pid file; it starts one worker.
 */
static sl_t_proc_t *
start_master(const char *dir, pid_t *worker)
{
    sl_t_proc_t  *p;
    char         *log;

    p = sl_t_spawn(((char *[]) { "sluice", "-p", (char *) dir, "-c", CONF,
                                 "-g", MASTER, NULL }));

    ck_assert_int_eq(sl_t_wait_pid_file(sl_t_path(dir, "logs/a.pid"),
                                        T_WAIT), sl_t_pid(p));

    log = sl_t_path(dir, "logs/e.log");
    sl_t_wait_file(log, "start worker process ", T_WAIT);
    ck_assert(sl_t_log_find(sl_t_read(log), "notice",
                            "start worker processes"));

    *worker = worker_started(log, 0);
    ck_assert_int_gt(*worker, 0);
    ck_assert_int_ne(*worker, sl_t_pid(p));
    ck_assert_int_eq(kill(*worker, 0), 0);
    return p;
}


START_TEST(test_run_master)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log;
    pid_t         worker;
    int           status;

    p = start_master(dir, &worker);
    log = sl_t_path(dir, "logs/e.log");

    /* TERM: the worker goes, then the master, and the pid file with it */
    sl_t_signal(p, SIGTERM);
    status = sl_t_wait_exit(p, T_WAIT);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "sluice %s; stderr:\n%s", sl_t_status_text(status),
                  sl_t_stderr(p));
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/a.pid")));
    ck_assert_msg(sl_t_log_find(sl_t_read(log), "notice", "exit"),
                  "no \"exit\" in:\n%s", sl_t_read(log));
    ck_assert(sl_t_log_find(sl_t_read(log), "notice", "exiting"));
}
END_TEST


/*
 * HUP to a master: the new configuration is in force at once -- a new
 * worker on it, the old one told to go (it had nothing to finish) -- and
 * here the pid file moves.
 */
START_TEST(test_run_master_reload)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log, *old_exit;
    size_t        mark;
    pid_t         worker, fresh;

    p = start_master(dir, &worker);
    log = sl_t_path(dir, "logs/e.log");
    mark = strlen(sl_t_read(log));

    sl_t_write(dir, CONF, "error_log logs/e.log notice;\npid logs/b.pid;\n");
    sl_t_signal(p, SIGHUP);

    ck_assert_int_eq(sl_t_wait_pid_file(sl_t_path(dir, "logs/b.pid"),
                                        T_WAIT), sl_t_pid(p));
    sl_t_wait_gone(sl_t_path(dir, "logs/a.pid"), T_WAIT);

    old_exit = sl_t_printf("worker process %d exited with code 0",
                           (int) worker);
    sl_t_wait_file(log, old_exit, T_WAIT);

    ck_assert(log_find_from(log, mark, "notice", "reconfiguring"));
    fresh = worker_started(log, mark);
    ck_assert_int_gt(fresh, 0);
    ck_assert_int_ne(fresh, worker);
    ck_assert_int_eq(kill(fresh, 0), 0);
    ck_assert(sl_t_running(p));

    sl_t_signal(p, SIGQUIT);
    ck_assert_int_eq(sl_t_wait_exit(p, T_WAIT), 0);
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/b.pid")));
}
END_TEST


/* a broken configuration: logged with file:line, nothing else changes */
START_TEST(test_run_master_reload_bad)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log, *msg;
    size_t        mark;
    pid_t         worker;

    p = start_master(dir, &worker);
    log = sl_t_path(dir, "logs/e.log");
    mark = strlen(sl_t_read(log));

    sl_t_write(dir, CONF, RUN_CONF "bogus on;\n");
    sl_t_signal(p, SIGHUP);
    sl_t_wait_file(log, "the new configuration was not loaded", T_WAIT);

    msg = sl_t_printf("unknown directive \"bogus\" in %s:3",
                      sl_t_path(dir, CONF));
    ck_assert_msg(log_find_from(log, mark, "emerg", msg),
                  "no \"%s\" in:\n%s", msg, sl_t_read(log));
    ck_assert(log_find_from(log, mark, "error", "the new configuration "
                            "was not loaded, the old one stays in force"));

    /* the same worker serves on; no other was started */
    ck_assert_int_eq(kill(worker, 0), 0);
    ck_assert_int_eq(worker_started(log, mark), 0);
    ck_assert_int_eq(sl_t_wait_pid_file(sl_t_path(dir, "logs/a.pid"),
                                        T_WAIT), sl_t_pid(p));

    sl_t_signal(p, SIGQUIT);
    ck_assert_int_eq(sl_t_wait_exit(p, T_WAIT), 0);
    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/a.pid")));
}
END_TEST


typedef struct {
    const char  *log;
    size_t       from;
} started_cond_t;

/* a worker was started after the mark */
static int
started_since(void *data)
{
    started_cond_t  *c = data;

    return worker_started(c->log, c->from) > 0;
}

/* a worker that dies is replaced, and the death is an alert */
START_TEST(test_run_master_respawn)
{
    sl_t_proc_t  *p;
    char         *dir = prefix_with(RUN_CONF), *log, *msg;
    size_t          mark;
    pid_t           worker, fresh;
    started_cond_t  c;

    p = start_master(dir, &worker);
    log = sl_t_path(dir, "logs/e.log");
    mark = strlen(sl_t_read(log));

    ck_assert_int_eq(kill(worker, SIGKILL), 0);

    msg = sl_t_printf("worker process %d exited on signal %d", (int) worker,
                      SIGKILL);
    sl_t_wait_file(log, msg, T_WAIT);
    ck_assert(log_find_from(log, mark, "alert", msg));

    /* the first worker's line is before the mark: wait for a new one */
    c.log = log;
    c.from = mark;
    ck_assert_int_eq(sl_t_wait_for(started_since, &c, log, T_WAIT), 0);
    fresh = worker_started(log, mark);
    ck_assert_int_gt(fresh, 0);
    ck_assert_int_ne(fresh, worker);

    sl_t_signal(p, SIGTERM);
    ck_assert_int_eq(sl_t_wait_exit(p, T_WAIT), 0);
}
END_TEST


/* sluice as a daemon: the pid of the process that runs on */
static pid_t
start_daemon(const char *dir, sl_t_out_t *o)
{
    pid_t  pid;

    ck_assert_msg(sluice(o, "-p", (char *) dir, "-c", CONF) == 0,
                  "sluice exited with %d; stderr:\n%s", o->code, o->err);
    ck_assert_str_eq(o->err, "");

    pid = sl_t_wait_pid_file(sl_t_path(dir, "logs/a.pid"), T_WAIT);
    ck_assert_int_ne(pid, o->pid);
    return pid;
}


START_TEST(test_run_daemon)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = prefix_with(RUN_CONF), *log;
    pid_t         pid;
    int           status;

    pid = start_daemon(dir, &o);
    p = sl_t_adopt(pid);
    ck_assert(sl_t_running(p));

    log = sl_t_path(dir, "logs/e.log");
    sl_t_wait_file(log, SL_VER " started", T_WAIT);
    ck_assert(strstr(sl_t_read(log), sl_t_printf("[notice] %d#", (int) pid)));

    sl_t_signal(p, SIGQUIT);
    status = sl_t_wait_exit(p, T_WAIT);

    /* a subreaper (Linux) gets the status of the orphaned daemon */
    if (status != -1) {
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "the daemon %s", sl_t_status_text(status));
    }

    ck_assert(!sl_t_exists(sl_t_path(dir, "logs/a.pid")));
    ck_assert(sl_t_log_find(sl_t_read(log), "notice", "exiting"));
}
END_TEST


START_TEST(test_run_daemon_detaches)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = prefix_with(RUN_CONF);

    p = sl_t_adopt(start_daemon(dir, &o));
    sl_t_signal(p, SIGQUIT);
    (void) sl_t_wait_exit(p, T_WAIT);

    /*
     * Like `sluice 2>&1 | cat` or ssh: the caller waits for EOF. Under
     * valgrind the daemon is valgrind too, which keeps a copy of stderr
     * for its own reports: there is nothing of sluice's to check.
     */
    if (getenv("SLUICE_WRAPPER") == NULL) {
        ck_assert_msg(!o.held_open, "the daemon keeps the stderr of the "
                      "process that started it open");
    }
}
END_TEST


/* --- sharing listening sockets between workers --------------------------- */

#define ECHO_SERVER  "stream { server { listen 127.0.0.1:@PORT@; echo; } }\n"

/*
 * Two workers on one socket, with echo traffic from four clients and a
 * reload in the middle: every session completes. events is the events{}
 * block: poll without EPOLLEXCLUSIVE takes the accept mutex by default
 * (only its holder watches the socket), or every worker is woken.
 */
static void
shared_socket_traffic(const char *events)
{
    sl_t_master_t    m;
    sl_t_traffic_t  *t;
    sl_t_counts_t    c;

    sl_t_master_start(&m, 2, 0, sl_t_printf("%s\n%s", events, ECHO_SERVER));

    t = sl_t_traffic_start(m.port, SL_T_ECHO, 4);
    sl_t_traffic_wait(t, 100, T_WAIT);
    sl_t_master_reload(&m, NULL, T_WAIT);
    sl_t_traffic_wait(t, 100, T_WAIT);
    sl_t_traffic_stop(t, &c);

    ck_assert_msg(c.failed == 0 && c.refused == 0, "%s",
                  sl_t_counts_text(&c));
    ck_assert_int_eq(sl_t_bad_exits(m.log), 0);

    sl_t_signal(m.proc, SIGQUIT);
    ck_assert_int_eq(sl_t_wait_exit(m.proc, T_WAIT), 0);
}


START_TEST(test_accept_mutex_poll)
{
    shared_socket_traffic("events { use poll; }");
}
END_TEST


START_TEST(test_accept_mutex_select_on)
{
    shared_socket_traffic("events { use select; accept_mutex on; "
                          "accept_mutex_delay 50ms; }");
}
END_TEST


START_TEST(test_accept_mutex_poll_off)
{
    shared_socket_traffic("events { use poll; accept_mutex off; }");
}
END_TEST


START_TEST(test_accept_epoll_exclusive)
{
    shared_socket_traffic("");
}
END_TEST


/* --- configure ----------------------------------------------------------- */

#define configure(out, ...)                                                   \
    sl_t_run_in(sl_t_src(), ((char *[]) { "sh", "configure", __VA_ARGS__,     \
                                          NULL }), out, T_CONFIGURE)

START_TEST(test_configure_help)
{
    static const char  *const options[] = {
        "--prefix=", "--sbin-path=", "--conf-path=", "--error-log-path=",
        "--pid-path=", "--with-cc=", "--with-cc-opt=", "--with-ld-opt=",
        "--with-debug "
    };
    sl_t_out_t          o;
    size_t              i;

    ck_assert_int_eq(configure(&o, "--help"), 0);

    for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        ck_assert_msg(strstr(o.out, sl_t_printf("  %s", options[i])),
                      "configure --help lacks %s:\n%s", options[i], o.out);
    }
}
END_TEST


START_TEST(test_configure_unknown)
{
    sl_t_out_t  o;

    ck_assert_int_eq(configure(&o, "--bogus-option"), 1);
    ck_assert_str_eq(o.err, "configure: error: invalid option "
                     "\"--bogus-option\"\n");

    ck_assert_int_eq(configure(&o, "--with-bogus_module"), 1);
    ck_assert_str_eq(o.err, "configure: error: invalid option "
                     "\"--with-bogus_module\": there is no module "
                     "\"bogus\"\n");
}
END_TEST


START_TEST(test_configure_arguments)
{
    sl_t_out_t   o;
    char        *objs = sl_t_path(sl_t_mkdir(), "objs"), *h, *v;

    ck_assert_msg(configure(&o, sl_t_printf("--builddir=%s", objs),
                            "--with-cc-opt=-O2 -g", "--prefix=/opt/x") == 0,
                  "configure failed:\n%s%s", o.out, o.err);

    h = sl_t_read(sl_t_path(objs, "sl_auto_config.h"));
    ck_assert_ptr_nonnull(h);

    v = define_value(h, "SL_CONFIGURE");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, sl_t_printf("\"--builddir=%s --with-cc-opt='-O2 -g'"
                                    " --prefix=/opt/x\"", objs));

    v = define_value(h, "SL_PREFIX");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "\"/opt/x/\"");
}
END_TEST


/*
 * make install into a DESTDIR, from the build these tests run: the binary,
 * every shipped config (kept when an operator has edited it), the man page.
 */
START_TEST(test_make_install)
{
    sl_t_out_t   o;
    char        *objs, *dest, *prefix, *sbin, *h, *conf, *shipped;
    const char  *bin = sl_t_bin();

    objs = sl_t_printf("%.*s", (int) (strrchr(bin, '/') - bin), bin);
    dest = sl_t_path(sl_t_mkdir(), "dest");
    h = sl_t_read(sl_t_path(objs, "sl_auto_config.h"));
    ck_assert_ptr_nonnull(h);

    /* the values are C strings: drop their quotes */
    prefix = define_value(h, "SL_PREFIX");
    sbin = define_value(h, "SL_SBIN_PATH");
    ck_assert(prefix != NULL && sbin != NULL);
    prefix = sl_t_printf("%s%.*s", dest, (int) strlen(prefix) - 2, prefix + 1);
    sbin = sl_t_printf("%s%.*s", dest, (int) strlen(sbin) - 2, sbin + 1);

    char *const argv[] = { "make", "-s", "-f",
                           sl_t_path(objs, "Makefile"), "install",
                           sl_t_printf("DESTDIR=%s", dest), NULL };

    ck_assert_msg(sl_t_run_in(sl_t_src(), argv, &o, 120000) == 0,
                  "make install failed:\n%s%s", o.out, o.err);

    ck_assert_int_eq(access(sbin, X_OK), 0);
    ck_assert(sl_t_exists(sl_t_printf("%slogs", prefix)));
    ck_assert(sl_t_exists(sl_t_printf("%sshare/man/man8/sluice.8", prefix)));
    ck_assert(sl_t_exists(sl_t_printf("%sconf/echo.conf", prefix)));

    conf = sl_t_printf("%sconf/sluice.conf", prefix);
    shipped = sl_t_read(sl_t_path(sl_t_src(), "conf/sluice.conf"));
    ck_assert_str_eq(sl_t_read(conf), shipped);
    ck_assert_str_eq(sl_t_read(sl_t_printf("%s.default", conf)), shipped);

    /* an operator's edits survive the next install */
    sl_t_writef(prefix, "conf/sluice.conf", "# mine\n");
    ck_assert_msg(sl_t_run_in(sl_t_src(), argv, &o, 120000) == 0,
                  "make install failed:\n%s%s", o.out, o.err);
    ck_assert_str_eq(sl_t_read(conf), "# mine\n");
    ck_assert_str_eq(sl_t_read(sl_t_printf("%s.default", conf)), shipped);
}
END_TEST


/* --- the suite ----------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name, double timeout)
{
    TCase  *tc = tcase_create(name);

    sl_t_fixture(tc);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}


static Suite *
cli_suite(void)
{
    Suite  *s = suite_create("cli");
    TCase  *tc;

    tc = tcase(s, "test", 30);
    tcase_add_test(tc, test_t_ok);
    tcase_add_test(tc, test_t_quiet);
    tcase_add_test(tc, test_t_error);
    tcase_add_test(tc, test_t_error_quiet);
    tcase_add_test(tc, test_T_dump);
    tcase_add_test(tc, test_shipped_conf);

    tc = tcase(s, "version", 30);
    tcase_add_test(tc, test_V);
    tcase_add_test(tc, test_v);
    tcase_add_test(tc, test_help);

    tc = tcase(s, "options", 30);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_missing_arguments);
    tcase_add_test(tc, test_combined_flags);
    tcase_add_test(tc, test_g_ok);
    tcase_add_test(tc, test_g_errors);

    tc = tcase(s, "paths", 30);
    tcase_add_test(tc, test_p_prefix);
    tcase_add_test(tc, test_c_paths);
    tcase_add_test(tc, test_include_relative);
    tcase_add_test(tc, test_e_file);
    tcase_add_test(tc, test_e_stderr);
    tcase_add_test(tc, test_e_unopenable);

    tc = tcase(s, "signal", 30);
    tcase_add_test(tc, test_s_signals);
    tcase_add_test(tc, test_s_no_pid_file);
    tcase_add_test(tc, test_s_bad_pid);
    tcase_add_test(tc, test_s_stale_pid);

    tc = tcase(s, "run", 30);
    tcase_add_test(tc, test_run_foreground);
    tcase_add_test(tc, test_run_reload_bad);
    tcase_add_test(tc, test_run_reload_pid);
    tcase_add_test(tc, test_run_reopen);
    tcase_add_test(tc, test_run_daemon);
    tcase_add_test(tc, test_run_daemon_detaches);
    tcase_add_test(tc, test_run_master);
    tcase_add_test(tc, test_run_master_reload);
    tcase_add_test(tc, test_run_master_reload_bad);
    tcase_add_test(tc, test_run_master_respawn);

    tc = tcase_create("accept");
    sl_t_master_fixture(tc);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_accept_mutex_poll);
    tcase_add_test(tc, test_accept_mutex_select_on);
    tcase_add_test(tc, test_accept_mutex_poll_off);
    tcase_add_test(tc, test_accept_epoll_exclusive);

    tc = tcase(s, "configure", 150);
    tcase_add_test(tc, test_configure_help);
    tcase_add_test(tc, test_configure_unknown);
    tcase_add_test(tc, test_configure_arguments);
    tcase_add_test(tc, test_make_install);

    return s;
}


SL_TEST_MAIN(cli_suite)
