/*
 * test_module_loader.c -- load_module, held to what it promises: modules
 * built out of tree as a user builds them (cc -shared -fPIC with
 * pkg-config's flags against the installed tree), loaded by the daemon,
 * by a master across reloads and by embedded instances.
 *
 *   refused  one small object per reason load_module says no: not an
 *            ELF object, no ABI record, a wrong magic or kind, another
 *            major (full and handler), a newer full minor, other sizes
 *            (pointers, off_t, time_t), another OpenSSL, a module name
 *            taken (by another file, by the same file under one name or
 *            two, by a built-in module), more modules than a
 *            configuration may load, a symbol the object needs and
 *            nobody has, a file that is nowhere, an empty name, a
 *            load_module after events{} or stream{} or inside one. Each
 *            is run as -t and as a real start (one process in the
 *            foreground, and a daemonized master): the exact message
 *            "sluice: [emerg] MSG in FILE:LINE" alone on the standard
 *            error and in the error log, exit status 1, and nothing
 *            started (no pid file, the port not bound).
 *   loads    the test module t/modules/hello serves $hello and takes its
 *            directive; -T shows the load_module line; a relative path is
 *            looked for under <prefix>modules/ first, then under the
 *            prefix; a handler module (SL_HANDLER_MODULE) serves
 *            "handler NAME;" with no handler data, one of a newer handler
 *            API minor is accepted, and without its load_module the
 *            handler is unknown; a hand-written record of the current ABI
 *            is accepted (the control of the refusals).
 *   reload   a master: a HUP after the object was replaced (renamed over,
 *            as an install does) serves the new build and the master
 *            unloads the old; a HUP whose configuration drops load_module
 *            while $hello is used fails, and the old configuration serves
 *            on; a configuration without the module unloads it. One
 *            process without a master: the cycle a HUP reads (and does
 *            not apply) takes its object with it.
 *   embed    instances in the test process load modules (from a
 *            conf_string), two of them in two threads at once, two others
 *            two builds of one module; an object stays mapped while an
 *            instance holds it and is unloaded with the last; an
 *            in-process reload picks up a replaced object and unloads the
 *            old one, more times over than there are module slots; a
 *            configuration of as many modules as one may load is reloaded
 *            with its object replaced; a refused object leaves nothing
 *            behind.
 *   version  -V names the built-in modules and the two ABI versions.
 *
 * The objects are compiled once per test process (an unchecked fixture,
 * in parallel) into a directory of their own, from t/modules/hello and
 * from sources this file writes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_config.h"
#include "sl_core.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_host.h"
#include "sl_t_module.h"
#include "sl_t_net.h"
#include "sl_t_master.h"
#include "sl_t_embed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define T_RUN        10000      /* ms for one run of sluice */
#define T_WAIT       10000      /* ms for a running sluice to react */
#define T_IO         20000      /* ms for one exchange */

#define FOREGROUND   "daemon off; master_process off;"
#define DAEMON       "daemon on; master_process on;"

/* what every refusal ends with */
#define REBUILD      ": rebuild it against this sluice's SDK (pkg-config "   \
                     "sluice = " SL_VERSION ")"


/* --- the fixtures: objects built once per process ------------------------ */

/*
 * A handler module (the stable tier: sluice.h only) that echoes in upper
 * case, and closes a session that has handler data. UPPER_MAJOR or UPPER_MINOR: its record written by hand with that
 * version instead of SL_HANDLER_MODULE's.
 */
static const char  upper_c[] =
    "#include <sluice.h>\n"
    "#include <ctype.h>\n"
    "\n"
    "static long\n"
    "upper_data(sl_session_t *s, const char *p, size_t n)\n"
    "{\n"
    "    char    buf[512];\n"
    "    size_t  i, k = n < sizeof(buf) ? n : sizeof(buf);\n"
    "\n"
    "    for (i = 0; i < k; i++) {\n"
    "        buf[i] = (char) toupper((unsigned char) p[i]);\n"
    "    }\n"
    "\n"
    "    return sl_session_write(s, buf, k) == SL_ERROR ? SL_ERROR\n"
    "                                                   : (long) k;\n"
    "}\n"
    "\n"
    "/* no program registered it: it has no data */\n"
    "static int\n"
    "upper_open(sl_session_t *s)\n"
    "{\n"
    "    return sl_session_handler_data(s) == NULL ? SL_OK : SL_ERROR;\n"
    "}\n"
    "\n"
    "static const sl_stream_handler_t  upper_handler = {\n"
    "    sizeof(sl_stream_handler_t), upper_open, upper_data, NULL, NULL,\n"
    "    NULL\n"
    "};\n"
    "\n"
    "#if defined(UPPER_MAJOR) || defined(UPPER_MINOR)\n"
    "#ifndef UPPER_MAJOR\n"
    "#define UPPER_MAJOR  SL_HANDLER_API_MAJOR\n"
    "#endif\n"
    "#ifndef UPPER_MINOR\n"
    "#define UPPER_MINOR  SL_HANDLER_API_MINOR\n"
    "#endif\n"
    "static const sl_module_abi_t  upper_record = {\n"
    "    SL_MODULE_ABI_MAGIC, UPPER_MAJOR, UPPER_MINOR,\n"
    "    SL_MODULE_KIND_HANDLER, sizeof(void *), 0, 0, 0, SLUICE_VERSION,\n"
    "    \"upper\", &upper_handler, 0\n"
    "};\n"
    "extern const sl_module_abi_t *const  sl_module_abi;\n"
    "const sl_module_abi_t *const  sl_module_abi = &upper_record;\n"
    "#else\n"
    "SL_HANDLER_MODULE(upper, &upper_handler);\n"
    "#endif\n";

/*
 * A full module (a core one that does nothing) whose record is written
 * by hand: every field as SL_MODULE() would set it, unless a REC_* macro
 * says otherwise. REC_ODD_PTR (OFF, TIME): a size this sluice does not
 * have; REC_ODD_SSL: another OpenSSL major.
 */
static const char  rec_c[] =
    "#include <sl_config.h>\n"
    "#include <sl_core.h>\n"
    "#include <openssl/opensslv.h>\n"
    "\n"
    "#define REC_ODD(n)  ((n) == 4 ? 8 : 4)\n"
    "#ifndef REC_MAGIC\n"
    "#define REC_MAGIC  SL_MODULE_ABI_MAGIC\n"
    "#endif\n"
    "#ifndef REC_MAJOR\n"
    "#define REC_MAJOR  SL_MODULE_ABI_MAJOR\n"
    "#endif\n"
    "#ifndef REC_MINOR\n"
    "#define REC_MINOR  SL_MODULE_ABI_MINOR\n"
    "#endif\n"
    "#ifndef REC_KIND\n"
    "#define REC_KIND  SL_MODULE_KIND_FULL\n"
    "#endif\n"
    "#ifdef REC_ODD_PTR\n"
    "#define REC_PTR  REC_ODD(sizeof(void *))\n"
    "#else\n"
    "#define REC_PTR  sizeof(void *)\n"
    "#endif\n"
    "#ifdef REC_ODD_OFF\n"
    "#define REC_OFF  REC_ODD(sizeof(off_t))\n"
    "#else\n"
    "#define REC_OFF  sizeof(off_t)\n"
    "#endif\n"
    "#ifdef REC_ODD_TIME\n"
    "#define REC_TIME  REC_ODD(sizeof(time_t))\n"
    "#else\n"
    "#define REC_TIME  sizeof(time_t)\n"
    "#endif\n"
    "#ifdef REC_ODD_SSL\n"
    "#define REC_SSL  (OPENSSL_VERSION_MAJOR == 1 ? 3 : 1)\n"
    "#else\n"
    "#define REC_SSL  OPENSSL_VERSION_MAJOR\n"
    "#endif\n"
    "#ifndef REC_MODULE\n"
    "#define REC_MODULE  \"sl_rec_module\"\n"
    "#endif\n"
    "\n"
    "static sl_core_module_t  rec_ctx = { sl_string(\"rec\"), NULL, NULL };\n"
    "\n"
    "static sl_module_t  rec_module = {\n"
    "    .name = REC_MODULE, .ctx = &rec_ctx, .type = SL_CORE_MODULE\n"
    "};\n"
    "\n"
    "static sl_module_t *const  rec_modules[] = { &rec_module, NULL };\n"
    "\n"
    "static const sl_module_abi_t  rec_record = {\n"
    "    REC_MAGIC, REC_MAJOR, REC_MINOR, REC_KIND, REC_PTR, REC_OFF,\n"
    "    REC_TIME, REC_SSL, SL_VERSION, \"rec\", rec_modules, 0\n"
    "};\n"
    "\n"
    "extern const sl_module_abi_t *const  sl_module_abi;\n"
    "const sl_module_abi_t *const  sl_module_abi = &rec_record;\n";

/* a shared object, and no record */
static const char  noabi_c[] =
    "int noabi(void);\n"
    "int noabi(void) { return 1; }\n";

/* a module that needs a function nobody defines */
static const char  undef_c[] =
    "#include <sl_config.h>\n"
    "#include <sl_core.h>\n"
    "\n"
    "void sl_no_such_function(void);\n"
    "\n"
    "static sl_int_t\n"
    "undef_init(sl_cycle_t *cycle)\n"
    "{\n"
    "    (void) cycle;\n"
    "    sl_no_such_function();\n"
    "    return SL_OK;\n"
    "}\n"
    "\n"
    "static sl_core_module_t  undef_ctx = { sl_string(\"undef\"), NULL, NULL };"
    "\n"
    "\n"
    "static sl_module_t  sl_undef_module = {\n"
    "    .name = \"sl_undef_module\", .ctx = &undef_ctx,\n"
    "    .type = SL_CORE_MODULE, .init_module = undef_init\n"
    "};\n"
    "\n"
    "SL_MODULE(undef, &sl_undef_module);\n";

/*
 * An object of SL_MAX_DYNAMIC_MODULES core modules that do nothing, one
 * more with MANY_PLUS_ONE: its text, made to measure.
 */
static char *
many_c(void)
{
    char  *c, *list = "";
    int    i;

    c = sl_t_printf("#include <sl_config.h>\n#include <sl_core.h>\n\n"
                    "static sl_core_module_t  many_ctx = "
                    "{ sl_string(\"many\"), NULL, NULL };\n\n");

    for (i = 0; i <= SL_MAX_DYNAMIC_MODULES; i++) {
        c = sl_t_printf("%s%sstatic sl_module_t  m%d = { .name = "
                        "\"sl_many%d_module\", .ctx = &many_ctx, "
                        ".type = SL_CORE_MODULE };\n%s", c,
                        i == SL_MAX_DYNAMIC_MODULES ? "#ifdef MANY_PLUS_ONE\n"
                                                    : "", i, i,
                        i == SL_MAX_DYNAMIC_MODULES ? "#endif\n" : "");
        if (i < SL_MAX_DYNAMIC_MODULES) {
            list = sl_t_printf("%s%s&m%d", list, i > 0 ? ", " : "", i);
        }
    }

    return sl_t_printf("%s\n#ifdef MANY_PLUS_ONE\n#define MANY_LAST  , &m%d\n"
                       "#else\n#define MANY_LAST\n#endif\n\n"
                       "SL_MODULE(many, %s MANY_LAST);\n", c,
                       SL_MAX_DYNAMIC_MODULES, list);
}

typedef struct {
    const char  *object;        /* in the fixtures' directory */
    const char  *source;        /* written there; NULL: hello's */
    const char  *define;        /* -D...; NULL: none */
} fixture_t;

static const fixture_t  fixtures[] = {
    { "hello.so",        NULL,       NULL },
    { "hello2.so",       NULL,       "-DHELLO_TEXT=\"two\"" },
    { "upper.so",        "upper.c",  NULL },
    { "upper-minor.so",  "upper.c",  "-DUPPER_MINOR=9" },
    { "upper-major.so",  "upper.c",  "-DUPPER_MAJOR=2" },
    { "rec.so",          "rec.c",    NULL },
    { "magic.so",        "rec.c",    "-DREC_MAGIC=0x12345678u" },
    { "kind.so",         "rec.c",    "-DREC_KIND=7" },
    /* another major than this sluice's, whatever that is */
    { "major.so",        "rec.c",    "-DREC_MAJOR=SL_MODULE_ABI_MAJOR+1" },
    { "minor.so",        "rec.c",    "-DREC_MINOR=9" },
    { "ptr.so",          "rec.c",    "-DREC_ODD_PTR" },
    { "off.so",          "rec.c",    "-DREC_ODD_OFF" },
    { "time.so",         "rec.c",    "-DREC_ODD_TIME" },
    { "ssl.so",          "rec.c",    "-DREC_ODD_SSL" },
    { "echo.so",         "rec.c",    "-DREC_MODULE=\"sl_stream_echo_module\"" },
    { "noabi.so",        "noabi.c",  NULL },
    { "undef.so",        "undef.c",  NULL },
    { "many.so",         "many.c",   NULL },
    { "many-plus.so",    "many.c",   "-DMANY_PLUS_ONE" },
};

#define NFIXTURES  ((int) (sizeof(fixtures) / sizeof(fixtures[0])))

/* the directory of the objects: the process's own, not sl_proc's */
static char   fix_dir[PATH_MAX];
static pid_t  fix_owner;
static int    fix_built;


static int
fix_remove(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;

    (void) remove(path);
    return 0;
}


static void
fixtures_remove(void)
{
    if (fix_dir[0] != '\0' && getpid() == fix_owner) {
        (void) nftw(fix_dir, fix_remove, 16, FTW_DEPTH | FTW_PHYS);
    }
}


/* an object of the fixtures */
static char *
fix(const char *object)
{
    return sl_t_path(fix_dir, object);
}


/* cc -shared -fPIC ... -D... -o OBJECT SOURCE: hello's, or one written */
static sl_t_proc_t *
fixture_cc(const sl_t_args_t *words, const fixture_t *f)
{
    sl_t_args_t  srcs = { .n = 0 };

    if (f->source != NULL) {
        sl_t_args_add(&srcs, sl_t_path(fix_dir, f->source));
    } else {
        sl_t_module_srcs(sl_t_path(sl_t_src(), "t/modules/hello"), &srcs);
    }

    return sl_t_module_cc(words, &srcs, f->define, fix(f->object));
}


/*
 * The unchecked fixture: every object, compiled in parallel, once per
 * process (the runner, or the only process with CK_FORK=no). Nothing of
 * it is kept in sl_proc's memory, which each test's teardown frees.
 */
static void
fixtures_build(void)
{
    sl_t_proc_t  *cc[NFIXTURES];
    sl_t_args_t   words = { .n = 0 };
    const char   *tmp = getenv("SLUICE_TMP");
    int           i, status;

    if (fix_dir[0] != '\0') {
        ck_assert_msg(fix_built, "the module fixtures did not build: see "
                      "the first test case's failure");
        return;
    }

    snprintf(fix_dir, sizeof(fix_dir), "%s/loader-fixtures.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(fix_dir) != NULL, "mkdtemp(%s): %s", fix_dir,
                  strerror(errno));
    fix_owner = getpid();
    (void) atexit(fixtures_remove);

    sl_t_write(fix_dir, "upper.c", upper_c);
    sl_t_write(fix_dir, "rec.c", rec_c);
    sl_t_write(fix_dir, "noabi.c", noabi_c);
    sl_t_write(fix_dir, "undef.c", undef_c);
    sl_t_write(fix_dir, "many.c", many_c());
    sl_t_write(fix_dir, "notelf.so", "this is a text file with a name "
               "ending in .so: no ELF header anywhere in it\n");

    /* the SDK headers must be in what pkg-config gives */
    sl_t_host_pkg_config(&words, 0, 0);
    for (i = 0; i < words.n; i++) {
        if (strncmp(words.v[i], "-I", 2) == 0
            && sl_t_exists(sl_t_path(words.v[i] + 2, "sl_core.h")))
        {
            break;
        }
    }
    ck_assert_msg(i < words.n, "no -I with the SDK (sl_core.h) in "
                  "pkg-config --cflags sluice: %s", sl_t_args_text(&words));

    for (i = 0; i < NFIXTURES; i++) {
        cc[i] = fixture_cc(&words, &fixtures[i]);
    }

    for (i = 0; i < NFIXTURES; i++) {
        status = sl_t_wait_exit(cc[i], SL_T_HOST_BUILD_MS);
        if (status != 0) {
            ck_abort_msg("building %s %s:\n%s", fixtures[i].object,
                         sl_t_status_text(status), sl_t_stderr(cc[i]));
        }
    }

    /*
     * What sl_proc holds now is the runner's: a forked test would inherit
     * it and drop it, a leak to LeakSanitizer. Nothing of it is needed.
     */
    sl_t_cleanup();
    fix_built = 1;
}


/* --- files --------------------------------------------------------------- */

static void
copy_file(const char *from, const char *to)
{
    char     buf[65536];
    ssize_t  n;
    int      in, out;

    in = open(from, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(in != -1, "open(%s): %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    ck_assert_msg(out != -1, "open(%s): %s", to, strerror(errno));

    while ((n = read(in, buf, sizeof(buf))) > 0) {
        ck_assert_msg(write(out, buf, (size_t) n) == n, "write(%s): %s", to,
                      strerror(errno));
    }

    ck_assert_msg(n == 0, "read(%s): %s", from, strerror(errno));
    (void) close(in);
    ck_assert_int_eq(close(out), 0);
}


/* to gets from's content as an install does: a new file renamed over */
static void
replace_file(const char *from, const char *to)
{
    char  *tmp = sl_t_printf("%s.new", to);

    copy_file(from, tmp);
    ck_assert_msg(rename(tmp, to) == 0, "rename(%s, %s): %s", tmp, to,
                  strerror(errno));
}


/* the lines of /proc/PID/maps that map path; with " (deleted)" or not */
static int
maps_of(pid_t pid, const char *path, int deleted)
{
    char        *maps, *line, *save, *at;
    const char  *end;
    size_t       len = strlen(path);
    int          n = 0;

    maps = sl_t_read(pid == 0 ? "/proc/self/maps"
                              : sl_t_printf("/proc/%d/maps", (int) pid));
    ck_assert_ptr_nonnull(maps);

    for (line = strtok_r(maps, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        at = strstr(line, path);
        if (at == NULL || (at > line && at[-1] != ' ')) {
            continue;
        }
        end = at + len;
        n += deleted ? strcmp(end, " (deleted)") == 0 : *end == '\0';
    }

    return n;
}


/* the same in the test process itself */
static int
mapped(const char *path, int deleted)
{
    return maps_of(0, path, deleted);
}


/* --- running sluice ------------------------------------------------------ */

/* a prefix as -p takes it: with its slash */
static char *
prefix_of(const char *dir)
{
    return sl_t_printf("%s/", dir);
}


static char *
conf_of(const char *dir)
{
    return sl_t_path(dir, "x.conf");
}


/* sluice -p DIR/ -c DIR/x.conf, then args; its exit code */
static int
sluice_in(const char *dir, sl_t_out_t *out, const char *a1, const char *a2)
{
    return sl_t_run(((char *[]) { "sluice", "-p", prefix_of(dir), "-c",
                                  conf_of(dir), (char *) a1, (char *) a2,
                                  NULL }), out, T_RUN);
}


typedef struct {
    sl_t_proc_t  *proc;
    char         *log;
} started_t;

static int
started_or_gone(void *data)
{
    started_t  *st = data;
    char       *log;

    if (!sl_t_running(st->proc)) {
        return 1;
    }

    log = sl_t_read(st->log);
    return log != NULL && strstr(log, " started") != NULL;
}


/* sluice on dir's x.conf in the foreground, once it has started */
static sl_t_proc_t *
start_in(const char *dir)
{
    started_t  st;

    st.log = sl_t_path(dir, "logs/error.log");
    st.proc = sl_t_spawn(((char *[]) { "sluice", "-p", prefix_of(dir), "-c",
                                       conf_of(dir), "-g", FOREGROUND,
                                       NULL }));

    ck_assert_msg(sl_t_wait_for(started_or_gone, &st, st.log,
                                sl_t_timeout(T_WAIT)) == 0,
                  "sluice did not start: %s", sl_t_stderr(st.proc));
    ck_assert_msg(sl_t_running(st.proc), "sluice exited at start: %s%s",
                  sl_t_stderr(st.proc),
                  sl_t_exists(st.log) ? sl_t_read(st.log) : "");
    return st.proc;
}


/* TERM: it exits 0 (under valgrind: with no error) */
static void
stop(sl_t_proc_t *p)
{
    int  status;

    sl_t_signal(p, SIGTERM);
    status = sl_t_wait_exit(p, T_WAIT);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "sluice %s: %s", sl_t_status_text(status), sl_t_stderr(p));
}


/* what the server on port answers to text, once we closed our side */
static char *
exchange(int port, const char *text)
{
    int  fd = sl_t_connect("127.0.0.1", port);

    sl_t_send_all(fd, text, strlen(text), T_IO);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    return sl_t_recv_text(fd, NULL, T_IO);
}


/* the head of every configuration that runs: its logs, its pid file */
#define HEAD  "error_log logs/error.log info;\npid logs/x.pid;\n"

/* a server on port answering $hello */
static char *
hello_server(int port)
{
    return sl_t_printf("stream {\n"
                       "    server { listen 127.0.0.1:%d; return $hello; }\n"
                       "}\n", port);
}


/* --- refused ------------------------------------------------------------- */

/*
 * dir's x.conf (which has a server on port and the pid file logs/x.pid)
 * is refused with "msg in x.conf:line" by -t, by a start in the
 * foreground and by a daemon's: exit status 1, that line alone on the
 * standard error and in the error log, and nothing running.
 */
static void
expect_refused_in(const char *dir, int port, const char *msg, int line)
{
    static const char *const  starts[] = { FOREGROUND, DAEMON };
    sl_t_out_t                o;
    const char               *conf = conf_of(dir), *log;
    char                     *emerg;
    size_t                    i;

    emerg = sl_t_printf("%s in %s:%d", msg, conf, line);

    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] %s\nsluice: "
                                        "configuration file %s test failed\n",
                                        emerg, conf));
    ck_assert_str_eq(o.out, "");

    for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        (void) unlink(sl_t_path(dir, "logs/error.log"));

        ck_assert_msg(sluice_in(dir, &o, "-g", starts[i]) == 1,
                      "-g '%s': exit %d: %s", starts[i], o.code, o.err);
        ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] %s\n", emerg));
        ck_assert_str_eq(o.out, "");

        log = sl_t_read(sl_t_path(dir, "logs/error.log"));
        ck_assert_msg(log != NULL && sl_t_log_find(log, "emerg", emerg),
                      "-g '%s': no \"[emerg] %s\" in the error log:\n%s",
                      starts[i], emerg, log ? log : "(none)");
        ck_assert_msg(strstr(log, " started") == NULL, "-g '%s': %s",
                      starts[i], log);

        /* nothing was left behind, the daemon's children neither */
        ck_assert(!sl_t_exists(sl_t_path(dir, "logs/x.pid")));
        ck_assert_int_eq(sl_t_listeners(port), 0);
    }
}


/*
 * A prefix whose x.conf loads path (as written) on line 2, after the pid
 * file, before a server on a port: refused with msg at line 2.
 */
static void
expect_refused(const char *path, const char *msg)
{
    char  *dir = sl_t_mkdir();
    int    port = sl_t_loopback_port();

    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nload_module %s;\n%s", path,
                hello_server(port));
    expect_refused_in(dir, port, msg, 2);
}


/* "P: built for module ABI ... this sluice has ...: rebuild ..." */
static char *
abi_refusal(const char *path, const char *what, unsigned major,
    unsigned minor, const char *version, const char *theirs,
    const char *ours, unsigned our_major, unsigned our_minor)
{
    return sl_t_printf("%s: built for %s %u.%u (sluice %s)%s, this sluice "
                       "has %u.%u (" SL_VERSION ")%s" REBUILD, path, what,
                       major, minor, version, theirs, our_major, our_minor,
                       ours);
}

#define FULL_REFUSAL(path, major, minor, version, theirs, ours)               \
    abi_refusal(path, "module ABI", major, minor, version, theirs, ours,      \
                SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR)

static unsigned
odd(size_t n)
{
    return n == 4 ? 8 : 4;
}


START_TEST(test_refused_not_elf)
{
    const char  *p = fix("notelf.so");

    expect_refused(p, sl_t_printf("dlopen() \"%s\" failed (%s: invalid ELF "
                                  "header)", p, p));
}
END_TEST


START_TEST(test_refused_no_record)
{
    const char  *p = fix("noabi.so");

    expect_refused(p, sl_t_printf("\"%s\" is not a sluice module: it exports "
                                  "no \"sl_module_abi\" record (declare the "
                                  "module with SL_MODULE() or "
                                  "SL_HANDLER_MODULE(): see docs/modules.md)",
                                  p));
}
END_TEST


START_TEST(test_refused_magic)
{
    const char  *p = fix("magic.so");

    expect_refused(p, sl_t_printf("\"%s\" is not a sluice module: its record "
                                  "has magic 0x12345678 and kind %u, not "
                                  "0x%08x and 1 or 2" REBUILD, p,
                                  SL_MODULE_KIND_FULL, SL_MODULE_ABI_MAGIC));
}
END_TEST


START_TEST(test_refused_kind)
{
    const char  *p = fix("kind.so");

    expect_refused(p, sl_t_printf("\"%s\" is not a sluice module: its record "
                                  "has magic 0x%08x and kind 7, not 0x%08x "
                                  "and 1 or 2" REBUILD, p, SL_MODULE_ABI_MAGIC,
                                  SL_MODULE_ABI_MAGIC));
}
END_TEST


START_TEST(test_refused_major)
{
    const char  *p = fix("major.so");

    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR + 1,
                                   SL_MODULE_ABI_MINOR, SL_VERSION, "", ""));
}
END_TEST


START_TEST(test_refused_handler_major)
{
    const char  *p = fix("upper-major.so");

    expect_refused(p, abi_refusal(p, "handler API", 2, SL_HANDLER_API_MINOR,
                                  SL_VERSION, "", "", SL_HANDLER_API_MAJOR,
                                  SL_HANDLER_API_MINOR));
}
END_TEST


START_TEST(test_refused_minor)
{
    const char  *p = fix("minor.so");

    /* a full module of a newer minor may use what this sluice lacks */
    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR, 9, SL_VERSION,
                                   "", ""));
}
END_TEST


START_TEST(test_refused_ptr_size)
{
    const char  *p = fix("ptr.so");

    /* the record's version pointer is not trusted: "?" */
    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,
        "?", sl_t_printf(", %u-byte pointers", odd(sizeof(void *))),
        sl_t_printf(", %u-byte pointers", (unsigned) sizeof(void *))));
}
END_TEST


START_TEST(test_refused_off_size)
{
    const char  *p = fix("off.so");

    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,
        SL_VERSION, sl_t_printf(", %u-byte off_t", odd(sizeof(off_t))),
        sl_t_printf(", %u-byte off_t", (unsigned) sizeof(off_t))));
}
END_TEST


START_TEST(test_refused_time_size)
{
    const char  *p = fix("time.so");

    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,
        SL_VERSION, sl_t_printf(", %u-byte time_t", odd(sizeof(time_t))),
        sl_t_printf(", %u-byte time_t", (unsigned) sizeof(time_t))));
}
END_TEST


START_TEST(test_refused_openssl)
{
    const char  *p = fix("ssl.so");

    expect_refused(p, FULL_REFUSAL(p, SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,
        SL_VERSION,
        sl_t_printf(", OpenSSL %d", OPENSSL_VERSION_MAJOR == 1 ? 3 : 1),
        sl_t_printf(", OpenSSL %d", OPENSSL_VERSION_MAJOR)));
}
END_TEST


START_TEST(test_refused_undefined_symbol)
{
    const char  *p = fix("undef.so");

    expect_refused(p, sl_t_printf("dlopen() \"%s\" failed (%s: undefined "
                                  "symbol: sl_no_such_function)", p, p));
}
END_TEST


START_TEST(test_refused_builtin_name)
{
    const char  *p = fix("echo.so");

    expect_refused(p, sl_t_printf("module \"sl_stream_echo_module\" of \"%s\" "
                                  "is already in this sluice (built in, or "
                                  "loaded by an earlier load_module)", p));
}
END_TEST


START_TEST(test_refused_too_many)
{
    const char  *p = fix("many-plus.so");

    expect_refused(p, sl_t_printf("\"%s\" declares %d modules, more than "
                                  "the %d a configuration may load", p,
                                  SL_MAX_DYNAMIC_MODULES + 1,
                                  SL_MAX_DYNAMIC_MODULES));
}
END_TEST


/* two load_module lines, the second refused */
static void
expect_second_refused(const char *dir, const char *first, const char *second,
    const char *msg)
{
    int  port = sl_t_loopback_port();

    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nload_module %s;\n"
                "load_module %s;\n%s", first, second, hello_server(port));
    expect_refused_in(dir, port, msg, 3);
}


START_TEST(test_refused_duplicate_name)
{
    char  *dir = sl_t_mkdir();
    char  *a = sl_t_path(dir, "a.so"), *b = sl_t_path(dir, "b.so");

    /* two builds, two files, one module name */
    copy_file(fix("hello.so"), a);
    copy_file(fix("hello2.so"), b);
    expect_second_refused(dir, a, b, sl_t_printf("module \"hello\" of \"%s\" "
                                                 "is already loaded from "
                                                 "\"%s\"", b, a));
}
END_TEST


START_TEST(test_refused_same_file)
{
    char  *dir = sl_t_mkdir();
    char  *a = sl_t_path(dir, "a.so"), *b = sl_t_path(dir, "b.so");
    char  *msg = sl_t_printf("module \"hello\" is already loaded from \"%s\"",
                             a);

    copy_file(fix("hello.so"), a);
    expect_second_refused(dir, a, a, msg);

    /* the same file under another name is the same object */
    ck_assert_int_eq(link(a, b), 0);
    expect_second_refused(dir, a, b, msg);
}
END_TEST


START_TEST(test_refused_table_full)
{
    char  *dir = sl_t_mkdir();

    /* a full table, then one more module */
    expect_second_refused(dir, fix("many.so"), fix("hello.so"),
                          sl_t_printf("\"%s\": more than %d modules would "
                                      "be loaded by this configuration",
                                      fix("hello.so"),
                                      SL_MAX_DYNAMIC_MODULES));
}
END_TEST


START_TEST(test_refused_after_events)
{
    char  *dir = sl_t_mkdir();
    char  *conf = conf_of(dir);
    int    port = sl_t_loopback_port();

    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nevents {\n}\n"
                "load_module %s;\n%s", fix("hello.so"), hello_server(port));
    expect_refused_in(dir, port, sl_t_printf("\"load_module\" directive is "
                                             "specified too late: it must "
                                             "come before the \"events\" "
                                             "block at %s:2", conf), 4);
}
END_TEST


START_TEST(test_refused_after_stream)
{
    char  *dir = sl_t_mkdir();
    char  *conf = conf_of(dir);
    int    port = sl_t_loopback_port();

    /* (a server that does not need the module: it is not loaded yet) */
    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nstream {\n"
                "    server { listen 127.0.0.1:%d; return ok; }\n}\n"
                "load_module %s;\n", port, fix("hello.so"));
    expect_refused_in(dir, port, sl_t_printf("\"load_module\" directive is "
                                             "specified too late: it must "
                                             "come before the \"stream\" "
                                             "block at %s:2", conf), 5);
}
END_TEST


START_TEST(test_refused_inside_block)
{
    char  *dir = sl_t_mkdir();
    int    port = sl_t_loopback_port();

    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nstream {\n"
                "    load_module %s;\n"
                "    server { listen 127.0.0.1:%d; return $hello; }\n}\n",
                fix("hello.so"), port);
    expect_refused_in(dir, port, "\"load_module\" directive is not allowed "
                      "here", 3);
}
END_TEST


START_TEST(test_refused_missing)
{
    char  *dir = sl_t_mkdir();
    int    port = sl_t_loopback_port();
    char  *none = sl_t_path(dir, "none.so");

    /* relative: both places it was looked for */
    sl_t_writef(dir, "x.conf", "pid logs/x.pid;\nload_module none.so;\n%s",
                hello_server(port));
    expect_refused_in(dir, port, sl_t_printf("module \"none.so\" is found "
                                             "neither as \"%s/modules/none.so\""
                                             " nor as \"%s/none.so\"", dir,
                                             dir), 2);

    /* absolute: that file only */
    expect_refused(none, sl_t_printf("open() \"%s\" failed (%d: %s)", none,
                                     ENOENT, strerror(ENOENT)));
}
END_TEST


START_TEST(test_refused_empty_name)
{
    expect_refused("\"\"", "\"load_module\" directive has an empty file name");
}
END_TEST


/* --- loads --------------------------------------------------------------- */

START_TEST(test_hello_serves)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = sl_t_mkdir(), *conf;
    int           port = sl_t_loopback_port();

    conf = sl_t_printf(HEAD "load_module %s;\n%s", fix("hello.so"),
                       hello_server(port));
    sl_t_write(dir, "x.conf", conf);

    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 0);

    /* -T dumps the configuration, load_module and all */
    ck_assert_int_eq(sluice_in(dir, &o, "-T", NULL), 0);
    ck_assert_str_eq(o.out, sl_t_printf("# configuration file %s:\n%s\n",
                                        conf_of(dir), conf));
    ck_assert(strstr(o.out, sl_t_printf("\nload_module %s;\n",
                                        fix("hello.so"))) != NULL);

    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");
    stop(p);
}
END_TEST


START_TEST(test_hello_directive)
{
    sl_t_proc_t  *p;
    char         *dir = sl_t_mkdir();
    int           port = sl_t_loopback_port(), port2;

    do {
        port2 = sl_t_loopback_port();
    } while (port2 == port);

    /* the module's own directive, at both levels it takes */
    sl_t_writef(dir, "x.conf", HEAD "load_module %s;\n"
                "stream {\n"
                "    hello main;\n"
                "    server { listen 127.0.0.1:%d; return $hello; }\n"
                "    server { listen 127.0.0.1:%d; hello srv; "
                "return $hello; }\n"
                "}\n", fix("hello.so"), port, port2);

    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "main");
    ck_assert_str_eq(sl_t_ask(port2, T_IO), "srv");
    stop(p);
}
END_TEST


START_TEST(test_relative_modules_first)
{
    sl_t_proc_t  *p;
    char         *dir = sl_t_mkdir();
    int           port = sl_t_loopback_port();

    sl_t_write(dir, "modules/.keep", "");
    copy_file(fix("hello.so"), sl_t_path(dir, "modules/m.so"));
    copy_file(fix("hello2.so"), sl_t_path(dir, "m.so"));
    sl_t_writef(dir, "x.conf", HEAD "load_module m.so;\n%s",
                hello_server(port));

    /* both exist: <prefix>modules/ wins */
    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");
    stop(p);

    /* only the prefix's: that one */
    ck_assert_int_eq(unlink(sl_t_path(dir, "modules/m.so")), 0);
    (void) unlink(sl_t_path(dir, "logs/error.log"));
    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "two");
    stop(p);
}
END_TEST


START_TEST(test_handler_module)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = sl_t_mkdir();
    int           port = sl_t_loopback_port();

    sl_t_writef(dir, "x.conf", HEAD "load_module %s;\n"
                "stream { server { listen 127.0.0.1:%d; handler upper; } }\n",
                fix("upper.so"), port);

    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 0);
    p = start_in(dir);
    ck_assert_str_eq(exchange(port, "Hello, handler module!\n"),
                     "HELLO, HANDLER MODULE!\n");
    stop(p);
}
END_TEST


START_TEST(test_handler_newer_minor)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = sl_t_mkdir();
    int           port = sl_t_loopback_port();

    /* the handler API keeps its minors compatible: accepted, and serves */
    sl_t_writef(dir, "x.conf", HEAD "load_module %s;\n"
                "stream { server { listen 127.0.0.1:%d; handler upper; } }\n",
                fix("upper-minor.so"), port);

    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 0);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: the configuration file %s "
                                        "syntax is ok\nsluice: configuration "
                                        "file %s test is successful\n",
                                        conf_of(dir), conf_of(dir)));
    p = start_in(dir);
    ck_assert_str_eq(exchange(port, "minor\n"), "MINOR\n");
    stop(p);
}
END_TEST


START_TEST(test_handler_unknown)
{
    sl_t_out_t  o;
    char       *dir = sl_t_mkdir();

    /* without its load_module, the handler is nobody's */
    sl_t_writef(dir, "x.conf", HEAD "stream {\n    server { listen "
                "127.0.0.1:%d; handler upper; }\n}\n", sl_t_loopback_port());
    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 1);
    ck_assert_str_eq(o.err, sl_t_printf("sluice: [emerg] no handler \"upper\" "
                                        "is registered in %s:4\nsluice: "
                                        "configuration file %s test failed\n",
                                        conf_of(dir), conf_of(dir)));
}
END_TEST


START_TEST(test_record_control)
{
    sl_t_proc_t  *p;
    sl_t_out_t    o;
    char         *dir = sl_t_mkdir();
    int           port = sl_t_loopback_port();

    /* the refusals' source with no odd field: a module like any other */
    sl_t_writef(dir, "x.conf", HEAD "load_module %s;\nload_module %s;\n%s",
                fix("rec.so"), fix("hello.so"), hello_server(port));
    ck_assert_int_eq(sluice_in(dir, &o, "-t", NULL), 0);
    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");
    stop(p);
}
END_TEST


/* --- reload with the master ---------------------------------------------- */

static char *
master_conf(const char *module)
{
    return sl_t_printf("%s"
                       "events { worker_connections 64; }\n"
                       "stream {\n"
                       "    server { listen 127.0.0.1:@PORT@; "
                       "return $hello; }\n"
                       "}\n",
                       module != NULL ? sl_t_printf("load_module %s;\n",
                                                    module) : "");
}


START_TEST(test_reload_replaced)
{
    sl_t_master_t  m;
    sl_t_pids_t    w, now;
    char          *mods = sl_t_mkdir(), *so, *msg;

    so = sl_t_path(mods, "hello.so");
    copy_file(fix("hello.so"), so);

    sl_t_master_start(&m, 1, 0, master_conf(so));
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "hello");

    /* a new build renamed over the old: nothing changes until a HUP */
    replace_file(fix("hello2.so"), so);
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "hello");

    sl_t_master_reload(&m, &now, T_WAIT);
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "two");
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "two");

    /* the master let the replaced object go with its old cycle */
    ck_assert_int_eq(maps_of(m.master, so, 1), 0);
    ck_assert_int_gt(maps_of(m.master, so, 0), 0);

    /* $hello without its module: refused, and the old one serves on */
    sl_t_workers(&m, &w);
    sl_t_master_conf(&m, master_conf(NULL));
    sl_t_signal(m.proc, SIGHUP);

    msg = "unknown \"hello\" variable";
    sl_t_wait_log(m.log, "emerg", msg, 1, T_WAIT);
    sl_t_wait_log(m.log, NULL, "the new configuration was not loaded", 1,
                  T_WAIT);

    sl_t_workers(&m, &now);
    ck_assert_int_eq(now.n, 1);
    ck_assert(sl_t_pids_has(&now, w.pid[0]));
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "two");
    ck_assert(sl_t_alive(m.master));

    /* and a good configuration is taken again */
    sl_t_master_conf(&m, master_conf(so));
    sl_t_master_reload(&m, &now, T_WAIT);
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "two");

    /* a configuration without the module: the master unloads it */
    sl_t_master_conf(&m, "events { worker_connections 64; }\n"
                     "stream { server { listen 127.0.0.1:@PORT@; "
                     "return none; } }\n");
    sl_t_master_reload(&m, &now, T_WAIT);
    ck_assert_str_eq(sl_t_ask(m.port, T_IO), "none");
    ck_assert_int_eq(maps_of(m.master, so, 0), 0);
    ck_assert_int_eq(maps_of(now.pid[0], so, 0), 0);

    sl_t_signal(m.proc, SIGQUIT);
    sl_t_master_expect_exit(&m, &now, T_WAIT);
}
END_TEST


typedef struct {
    pid_t        pid;
    const char  *path;
} unmapped_t;

/* path, as it is now on disk, is not mapped by pid */
static int
unmapped_in(void *data)
{
    unmapped_t  *u = data;

    return maps_of(u->pid, u->path, 0) == 0;
}


START_TEST(test_reload_single_process)
{
    sl_t_proc_t  *p;
    unmapped_t    u;
    char         *dir = sl_t_mkdir(), *so, *log;
    int           port = sl_t_loopback_port();

    /*
     * One process, no master: a HUP reads the configuration, loading the
     * replaced object into a cycle that is not applied. That object goes
     * with it; the old one serves on.
     */
    so = sl_t_path(dir, "modules/hello.so");
    sl_t_write(dir, "modules/.keep", "");
    copy_file(fix("hello.so"), so);
    sl_t_writef(dir, "x.conf", HEAD "load_module hello.so;\n%s",
                hello_server(port));

    p = start_in(dir);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");

    replace_file(fix("hello2.so"), so);
    sl_t_signal(p, SIGHUP);

    log = sl_t_path(dir, "logs/error.log");
    sl_t_wait_file(log, "takes effect when sluice is restarted", T_WAIT);
    ck_assert_msg(sl_t_log_find(sl_t_read(log), "warn", "the new "
                                "configuration is valid; with "
                                "\"master_process off\" it takes effect "
                                "when sluice is restarted"), "%s",
                  sl_t_read(log));

    u.pid = sl_t_pid(p);
    u.path = so;
    ck_assert_msg(sl_t_wait_for(unmapped_in, &u, NULL,
                                sl_t_timeout(T_WAIT)) == 0,
                  "the object of the cycle not applied is still mapped:\n%s",
                  sl_t_read(sl_t_printf("/proc/%d/maps", (int) u.pid)));
    ck_assert_int_gt(maps_of(u.pid, so, 1), 0);
    ck_assert_str_eq(sl_t_ask(port, T_IO), "hello");
    stop(p);
}
END_TEST


/* --- embedded ------------------------------------------------------------ */

static int
always(void *data)
{
    (void) data;
    return 1;
}


/*
 * The descriptors of the process, once the harness has those it keeps
 * (its first wait opens one).
 */
static int
fd_baseline(void)
{
    (void) sl_t_wait_for(always, NULL, NULL, 0);
    return sl_te_nfds();
}


#define EMBED_HELLO(path)                                                     \
    sl_t_printf("load_module %s;\n"                                           \
                "stream { server { listen 127.0.0.1:@PORT@; "                 \
                "return $hello; } }\n", path)


START_TEST(test_embed_serves)
{
    sl_te_t   t;
    char     *so = sl_t_path(sl_t_mkdir(), "hello.so");
    int       fds = fd_baseline();

    copy_file(fix("hello.so"), so);
    ck_assert_int_eq(mapped(so, 0), 0);

    sl_te_create(&t, EMBED_HELLO(so), NULL, NULL);
    ck_assert_int_gt(mapped(so, 0), 0);

    sl_te_start(&t);
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "hello");
    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    sl_te_destroy(&t);

    /* unloaded with the instance, its descriptor closed */
    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


START_TEST(test_embed_handler_module)
{
    sl_te_t   t;
    char     *so = sl_t_path(sl_t_mkdir(), "upper.so");
    int       fds = fd_baseline();

    copy_file(fix("upper.so"), so);
    sl_te_create(&t, sl_t_printf("load_module %s;\n"
                                 "stream { server { listen 127.0.0.1:@PORT@; "
                                 "handler upper; } }\n", so), NULL, NULL);
    sl_te_start(&t);
    ck_assert_str_eq(exchange(t.port[0], "in process\n"), "IN PROCESS\n");
    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    sl_te_destroy(&t);

    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


START_TEST(test_embed_refused)
{
    sl_instance_conf_t  c;
    sl_instance_t      *in = (sl_instance_t *) &c;
    char                err[1024];
    const char         *p = fix("noabi.so");
    int                 fds = fd_baseline();

    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.conf_string = sl_t_printf("\nload_module %s;\n", p);

    ck_assert_int_eq(sl_instance_create(&c, &in, err, sizeof(err)), SL_ERROR);
    ck_assert_ptr_null(in);
    ck_assert_str_eq(err, sl_t_printf("\"%s\" is not a sluice module: it "
                                      "exports no \"sl_module_abi\" record "
                                      "(declare the module with SL_MODULE() "
                                      "or SL_HANDLER_MODULE(): see "
                                      "docs/modules.md) in STRING:2", p));
    ck_assert_int_eq(mapped(p, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


static long
host_data(sl_session_t *s, const char *p, size_t n)
{
    (void) s;
    (void) p;
    return (long) n;
}

/* a name the program registers and a loaded handler module has too */
START_TEST(test_embed_handler_both)
{
    static const sl_stream_handler_t  h = {
        sizeof(sl_stream_handler_t), NULL, host_data, NULL, NULL, NULL
    };
    sl_handler_reg_t    regs[] = { { "upper", &h, NULL }, { NULL, NULL, NULL } };
    sl_instance_conf_t  c;
    sl_instance_t      *in = (sl_instance_t *) &c;
    char                err[1024];

    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.handlers = regs;
    c.conf_string = sl_t_printf("load_module %s;\nstream { server {\n"
                                "listen 127.0.0.1:%d; handler upper; } }\n",
                                fix("upper.so"), sl_t_loopback_port());

    ck_assert_int_eq(sl_instance_create(&c, &in, err, sizeof(err)), SL_ERROR);
    ck_assert_ptr_null(in);
    ck_assert_str_eq(err, "handler \"upper\" is both registered by the "
                     "program and a handler module in STRING:3");
}
END_TEST


/* an instance of its own thread: created and run there */
typedef struct {
    sl_instance_conf_t   conf;
    pthread_barrier_t   *barrier;
    sl_instance_t       *in;
    int                  created;       /* sl_instance_create()'s */
    int                  ran;           /* sl_instance_run()'s */
    char                 err[1024];
} runner_t;

static void *
runner(void *arg)
{
    runner_t  *r = arg;

    /* both threads load at once */
    (void) pthread_barrier_wait(r->barrier);
    r->created = sl_instance_create(&r->conf, &r->in, r->err, sizeof(r->err));
    (void) pthread_barrier_wait(r->barrier);

    if (r->created == SL_OK) {
        r->ran = sl_instance_run(r->in);
    }

    return NULL;
}


START_TEST(test_embed_two_threads)
{
    pthread_barrier_t  barrier;
    sl_te_log_t        log;
    pthread_t          tid[2];
    runner_t           r[2];
    char              *so = sl_t_path(sl_t_mkdir(), "hello.so");
    int                i, port[2], fds = fd_baseline();

    copy_file(fix("hello.so"), so);
    sl_te_log_init(&log);
    ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, 3), 0);

    port[0] = sl_t_loopback_port();
    do {
        port[1] = sl_t_loopback_port();
    } while (port[1] == port[0]);

    for (i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].conf.size = sizeof(r[i].conf);
        r[i].conf.conf_string = sl_t_printf("load_module %s;\n%s", so,
                                            hello_server(port[i]));
        r[i].conf.log = sl_te_log_sink;
        r[i].conf.log_data = &log;
        r[i].conf.log_level = SL_LOG_INFO;
        r[i].barrier = &barrier;
        r[i].ran = -100;
        ck_assert_int_eq(pthread_create(&tid[i], NULL, runner, &r[i]), 0);
    }

    (void) pthread_barrier_wait(&barrier);         /* go */
    (void) pthread_barrier_wait(&barrier);         /* both created */

    for (i = 0; i < 2; i++) {
        if (r[i].created != SL_OK) {
            for (i = 0; i < 2; i++) {
                sl_instance_stop(r[i].in, SL_STOP_FAST);
                (void) pthread_join(tid[i], NULL);
            }
            ck_abort_msg("sl_instance_create(): %s / %s", r[0].err, r[1].err);
        }
    }

    /* one object for both */
    ck_assert_int_gt(mapped(so, 0), 0);

    for (i = 0; i < 2; i++) {
        ck_assert_str_eq(sl_t_ask(port[i], T_IO), "hello");
    }

    for (i = 0; i < 2; i++) {
        sl_instance_stop(r[i].in, SL_STOP_GRACEFUL);
        ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
        ck_assert_int_eq(r[i].ran, SL_DONE);
    }

    /* the first destroyed: the second still holds the object */
    ck_assert_int_eq(sl_instance_destroy(r[0].in), SL_OK);
    ck_assert_int_gt(mapped(so, 0), 0);

    ck_assert_int_eq(sl_instance_destroy(r[1].in), SL_OK);
    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);

    ck_assert_int_eq(sl_te_log_count(&log, "[emerg]"), 0);
    ck_assert_int_eq(sl_te_log_count(&log, "[alert]"), 0);
    (void) pthread_barrier_destroy(&barrier);
    sl_te_log_free(&log);
}
END_TEST


static int
old_unloaded(void *data)
{
    return mapped(data, 1) == 0;
}


START_TEST(test_embed_reload_replaced)
{
    sl_instance_conf_t  c;
    sl_te_t             t;
    char                err[1024];
    char               *so = sl_t_path(sl_t_mkdir(), "hello.so");
    int                 fds = fd_baseline();

    copy_file(fix("hello.so"), so);
    sl_te_create(&t, EMBED_HELLO(so), NULL, NULL);
    sl_te_start(&t);
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "hello");

    /* replaced on disk: the running configuration keeps the old code */
    replace_file(fix("hello2.so"), so);
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "hello");
    ck_assert_int_gt(mapped(so, 1), 0);

    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.conf_string = sl_te_text(&t, EMBED_HELLO(so));
    ck_assert_msg(sl_instance_reload(t.in, &c, err, sizeof(err)) == SL_OK,
                  "reload: %s", err);
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "two");

    /* the old object goes with the old configuration's last session */
    ck_assert_msg(sl_t_wait_for(old_unloaded, so, NULL,
                                sl_t_timeout(T_WAIT)) == 0,
                  "the replaced object is still mapped:\n%s",
                  sl_t_read("/proc/self/maps"));
    ck_assert_int_gt(mapped(so, 0), 0);

    /* $hello without its module: refused, and the new one serves on */
    c.conf_string = sl_te_text(&t, "stream { server { listen "
                               "127.0.0.1:@PORT@; return $hello; } }\n");
    ck_assert_int_eq(sl_instance_reload(t.in, &c, err, sizeof(err)),
                     SL_ERROR);
    ck_assert_str_eq(err, "unknown \"hello\" variable");
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "two");

    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    sl_te_destroy(&t);
    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


START_TEST(test_embed_two_builds)
{
    sl_te_t   a, b;
    char     *dir = sl_t_mkdir();
    char     *one = sl_t_path(dir, "one.so"), *two = sl_t_path(dir, "two.so");
    int       fds = fd_baseline();

    /* one module name, two builds, two instances: each its own */
    copy_file(fix("hello.so"), one);
    copy_file(fix("hello2.so"), two);

    sl_te_create(&a, EMBED_HELLO(one), NULL, NULL);
    sl_te_create(&b, EMBED_HELLO(two), NULL, NULL);
    sl_te_start(&a);
    sl_te_start(&b);

    ck_assert_str_eq(sl_t_ask(a.port[0], T_IO), "hello");
    ck_assert_str_eq(sl_t_ask(b.port[0], T_IO), "two");
    ck_assert_str_eq(sl_t_ask(a.port[0], T_IO), "hello");

    sl_te_stop_join(&a, SL_STOP_GRACEFUL);
    sl_te_destroy(&a);
    ck_assert_int_eq(mapped(one, 0), 0);
    ck_assert_int_gt(mapped(two, 0), 0);
    ck_assert_str_eq(sl_t_ask(b.port[0], T_IO), "two");

    sl_te_stop_join(&b, SL_STOP_GRACEFUL);
    sl_te_destroy(&b);
    ck_assert_int_eq(mapped(two, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


/* more reloads with a new object than a process has module slots */
#define RELOADS  (SL_MAX_DYNAMIC_MODULES + 6)

START_TEST(test_embed_reload_many)
{
    sl_instance_conf_t  c;
    sl_te_t             t;
    char                err[1024];
    char               *so = sl_t_path(sl_t_mkdir(), "hello.so");
    int                 i, fds = fd_baseline();

    copy_file(fix("hello.so"), so);
    sl_te_create(&t, EMBED_HELLO(so), NULL, NULL);
    sl_te_start(&t);

    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.conf_string = sl_te_text(&t, EMBED_HELLO(so));

    for (i = 1; i <= RELOADS; i++) {
        replace_file(fix(i % 2 ? "hello2.so" : "hello.so"), so);
        ck_assert_msg(sl_instance_reload(t.in, &c, err, sizeof(err)) == SL_OK,
                      "reload %d: %s", i, err);
        if (i % 16 == 0 || i == RELOADS) {
            ck_assert_str_eq(sl_t_ask(t.port[0], T_IO),
                             i % 2 ? "two" : "hello");
        }
    }

    /* one object left: the last */
    ck_assert_msg(sl_t_wait_for(old_unloaded, so, NULL,
                                sl_t_timeout(T_WAIT)) == 0,
                  "replaced objects are still mapped:\n%s",
                  sl_t_read("/proc/self/maps"));

    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    sl_te_destroy(&t);
    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);
}
END_TEST


START_TEST(test_embed_full_table)
{
    sl_instance_conf_t  c;
    sl_te_t             t;
    char                err[1024];
    char               *dir = sl_t_mkdir();
    char               *so = sl_t_path(dir, "many.so"), *conf;
    int                 rc, fds = fd_baseline();

    /*
     * As many modules as a configuration may load: it loads, and a reload
     * after the object was replaced (the documented way to upgrade a
     * module) loads the new object for the new configuration. The old
     * configuration still holds the old object while the new one is read.
     */
    copy_file(fix("many.so"), so);
    conf = sl_t_printf("load_module %s;\n"
                       "stream { server { listen 127.0.0.1:@PORT@; "
                       "return ok; } }\n", so);
    sl_te_create(&t, conf, NULL, NULL);
    sl_te_start(&t);
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "ok");

    replace_file(fix("many.so"), so);

    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.conf_string = sl_te_text(&t, conf);
    rc = sl_instance_reload(t.in, &c, err, sizeof(err));
    ck_assert_str_eq(sl_t_ask(t.port[0], T_IO), "ok");

    /* (the instance goes before the verdict: nothing left for valgrind) */
    sl_te_stop_join(&t, SL_STOP_GRACEFUL);
    sl_te_destroy(&t);
    ck_assert_int_eq(mapped(so, 0), 0);
    ck_assert_int_eq(sl_te_nfds(), fds);

    ck_assert_msg(rc == SL_OK, "a reload of a replaced object of %d "
                  "modules: %s", SL_MAX_DYNAMIC_MODULES, err);
}
END_TEST


/* --- -V ------------------------------------------------------------------ */

START_TEST(test_version)
{
    sl_t_out_t   o;
    const char  *line;

    ck_assert_int_eq(sl_t_run(((char *[]) { "sluice", "-V", NULL }), &o,
                              T_RUN), 0);

    line = strstr(o.err, "\nbuilt-in modules: ");
    ck_assert_msg(line != NULL, "%s", o.err);
    ck_assert_msg(strstr(line, " sl_module_loader_module ") != NULL, "%s",
                  o.err);
    ck_assert_msg(strstr(o.err, "hello") == NULL, "%s", o.err);

    ck_assert_msg(strstr(o.err, sl_t_printf("\nmodule ABI: %d.%d, handler "
                                            "API: %d.%d\n",
                                            SL_MODULE_ABI_MAJOR,
                                            SL_MODULE_ABI_MINOR,
                                            SL_HANDLER_API_MAJOR,
                                            SL_HANDLER_API_MINOR)) != NULL,
                  "%s", o.err);
    /* what the modules of this release are built for */
    ck_assert(strstr(o.err, "\nmodule ABI: 2.1, handler API: 1.0\n") != NULL);
}
END_TEST


/* --- the suite ----------------------------------------------------------- */

static Suite *
module_loader_suite(void)
{
    Suite  *s = suite_create("module_loader");
    TCase  *tc;

    tc = tcase_create("refused");
    sl_t_fixture(tc);
    tcase_add_unchecked_fixture(tc, fixtures_build, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_refused_not_elf);
    tcase_add_test(tc, test_refused_no_record);
    tcase_add_test(tc, test_refused_magic);
    tcase_add_test(tc, test_refused_kind);
    tcase_add_test(tc, test_refused_major);
    tcase_add_test(tc, test_refused_handler_major);
    tcase_add_test(tc, test_refused_minor);
    tcase_add_test(tc, test_refused_ptr_size);
    tcase_add_test(tc, test_refused_off_size);
    tcase_add_test(tc, test_refused_time_size);
    tcase_add_test(tc, test_refused_openssl);
    tcase_add_test(tc, test_refused_undefined_symbol);
    tcase_add_test(tc, test_refused_builtin_name);
    tcase_add_test(tc, test_refused_too_many);
    tcase_add_test(tc, test_refused_table_full);
    tcase_add_test(tc, test_refused_duplicate_name);
    tcase_add_test(tc, test_refused_same_file);
    tcase_add_test(tc, test_refused_after_events);
    tcase_add_test(tc, test_refused_after_stream);
    tcase_add_test(tc, test_refused_inside_block);
    tcase_add_test(tc, test_refused_missing);
    tcase_add_test(tc, test_refused_empty_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("loads");
    sl_t_fixture(tc);
    tcase_add_unchecked_fixture(tc, fixtures_build, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hello_serves);
    tcase_add_test(tc, test_hello_directive);
    tcase_add_test(tc, test_relative_modules_first);
    tcase_add_test(tc, test_handler_module);
    tcase_add_test(tc, test_handler_newer_minor);
    tcase_add_test(tc, test_handler_unknown);
    tcase_add_test(tc, test_record_control);
    suite_add_tcase(s, tc);

    tc = sl_t_master_tcase(s, "reload", 60);
    tcase_add_unchecked_fixture(tc, fixtures_build, NULL);
    tcase_add_test(tc, test_reload_replaced);
    tcase_add_test(tc, test_reload_single_process);

    tc = sl_te_tcase(s, "embed", 60);
    tcase_add_unchecked_fixture(tc, fixtures_build, NULL);
    tcase_add_test(tc, test_embed_serves);
    tcase_add_test(tc, test_embed_handler_module);
    tcase_add_test(tc, test_embed_refused);
    tcase_add_test(tc, test_embed_two_threads);
    tcase_add_test(tc, test_embed_reload_replaced);
    tcase_add_test(tc, test_embed_two_builds);
    tcase_add_test(tc, test_embed_reload_many);
    tcase_add_test(tc, test_embed_full_table);
    tcase_add_test(tc, test_embed_handler_both);

    tc = tcase_create("version");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);

    return s;
}


SL_TEST_MAIN(module_loader_suite)
