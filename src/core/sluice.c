/*
 * sluice.c -- main(): the command line, the startup log, the first cycle,
 * and then -t / -T, -s, or running.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_process.h"

#include <openssl/opensslv.h>

typedef struct {
    unsigned      help:1;
    unsigned      version:1;
    unsigned      configure:1;
    unsigned      test_config:1;
    unsigned      dump_config:1;
    unsigned      quiet:1;
    const char   *prefix;
    const char   *conf_file;
    const char   *error_log;
    const char   *conf_params;
    const char   *signal;
} sl_options_t;

static sl_int_t sl_get_options(int argc, char *const *argv, sl_options_t *o);
static void sl_show_version(sl_options_t *o);
static sl_int_t sl_startup(sl_options_t *o, sl_cycle_t *init, sl_log_t *log,
    sl_open_file_t *file);
static void sl_dump_config(sl_cycle_t *cycle);
static int sl_run(sl_cycle_t *cycle);

int
main(int argc, char *const *argv)
{
    sl_options_t    o;
    sl_cycle_t      init, *cycle;
    sl_log_t        log;
    sl_open_file_t  file;
    int             status;

    sl_memzero(&o, sizeof(o));

    if (sl_get_options(argc, argv, &o) != SL_OK) {
        return 1;
    }

    if (o.help || o.version) {
        sl_show_version(&o);
        if (!o.test_config) {
            return 0;
        }
    }

    if (sl_startup(&o, &init, &log, &file) != SL_OK) {
        return 1;
    }

    cycle = sl_init_cycle(&init);

    if (cycle == NULL) {
        if (o.test_config) {
            sl_log_stderr(0, "configuration file %V test failed",
                          &init.conf_file);
        }
        status = 1;

    } else if (o.test_config) {
        if (!o.quiet) {
            sl_log_stderr(0, "configuration file %V test is successful",
                          &cycle->conf_file);
        }
        if (o.dump_config) {
            sl_dump_config(cycle);
        }
        sl_destroy_cycle(cycle);
        status = 0;

    } else if (o.signal != NULL) {
        status = sl_signal_process(cycle, o.signal) == SL_OK ? 0 : 1;
        sl_destroy_cycle(cycle);

    } else {
        status = sl_run(cycle);
    }

    if (file.fd > STDERR_FILENO) {
        close(file.fd);
    }

    sl_destroy_pool(init.pool);
    return status;
}

/* the argument of an option: the rest of this word, or the next word */
static const char *
sl_option_arg(int argc, char *const *argv, int *i, const char *p,
    const char *opt, const char *what)
{
    if (*p != '\0') {
        return p;
    }

    if (*i + 1 < argc) {
        return argv[++*i];
    }

    sl_log_stderr(0, "option \"-%s\" requires %s", opt, what);
    return NULL;
}

static sl_int_t
sl_get_options(int argc, char *const *argv, sl_options_t *o)
{
    const char  *p;
    int          i;

    for (i = 1; i < argc; i++) {
        p = argv[i];

        if (*p++ != '-' || *p == '\0') {
            sl_log_stderr(0, "invalid option: \"%s\"", argv[i]);
            return SL_ERROR;
        }

        while (*p) {
            switch (*p++) {

            case '?':
            case 'h':
                o->help = 1;
                o->version = 1;
                break;

            case 'v':
                o->version = 1;
                break;

            case 'V':
                o->version = 1;
                o->configure = 1;
                break;

            case 't':
                o->test_config = 1;
                break;

            case 'T':
                o->test_config = 1;
                o->dump_config = 1;
                break;

            case 'q':
                o->quiet = 1;
                break;

            case 'p':
                o->prefix = sl_option_arg(argc, argv, &i, p, "p",
                                          "directory name");
                if (o->prefix == NULL) {
                    return SL_ERROR;
                }
                goto next;

            case 'c':
                o->conf_file = sl_option_arg(argc, argv, &i, p, "c",
                                             "file name");
                if (o->conf_file == NULL) {
                    return SL_ERROR;
                }
                goto next;

            case 'e':
                o->error_log = sl_option_arg(argc, argv, &i, p, "e",
                                             "file name");
                if (o->error_log == NULL) {
                    return SL_ERROR;
                }
                goto next;

            case 'g':
                o->conf_params = sl_option_arg(argc, argv, &i, p, "g",
                                               "parameter");
                if (o->conf_params == NULL) {
                    return SL_ERROR;
                }
                goto next;

            case 's':
                o->signal = sl_option_arg(argc, argv, &i, p, "s",
                                          "parameter");
                if (o->signal == NULL) {
                    return SL_ERROR;
                }
                if (sl_signal_by_name(o->signal) == 0) {
                    sl_log_stderr(0, "invalid option: \"-s %s\"", o->signal);
                    return SL_ERROR;
                }
                goto next;

            default:
                sl_log_stderr(0, "invalid option: \"%c\"", (int) p[-1]);
                return SL_ERROR;
            }
        }

    next:
        continue;
    }

    return SL_OK;
}

static void
sl_show_version(sl_options_t *o)
{
    u_char   buf[4096], *p, *last;

    last = buf + sizeof(buf);
    p = sl_slprintf(buf, last, "sluice version: " SL_VER "%N");

    if (o->help) {
        p = sl_slprintf(p, last,
            "Usage: sluice [-?hvVtTq] [-s signal] [-p prefix]%N"
            "              [-e filename] [-c filename] [-g directives]%N%N"
            "Options:%N"
            "  -?,-h         : print this help%N"
            "  -v            : print the version and exit%N"
            "  -V            : print the version and the build options, "
            "then exit%N"
            "  -t            : test the configuration and exit%N"
            "  -T            : test the configuration, print it and exit%N"
            "  -q            : with -t, print only errors%N"
            "  -s signal     : send a signal to the master process: "
            "stop, quit, reopen, reload%N"
            "  -p prefix     : set the prefix path (default: %s)%N"
            "  -e filename   : set the startup error log "
            "(default: %s)%N"
            "  -c filename   : set the configuration file "
            "(default: %s)%N"
            "  -g directives : set global directives outside the "
            "configuration file%N%N",
            SL_PREFIX, SL_ERROR_LOG_PATH, SL_CONF_PATH);
    }

    if (o->configure) {
        p = sl_slprintf(p, last,
            "built by " SL_COMPILER "%N"
            "built with " OPENSSL_VERSION_TEXT "%N"
            "TLS SNI support enabled%N"
            "configure arguments: %s%N", SL_CONFIGURE);
    }

    (void) sl_write_fd(STDERR_FILENO, buf, (size_t) (p - buf));
}

/* a copy of s in the pool with a '/' at the end */
static sl_int_t
sl_dir_name(sl_pool_t *pool, sl_str_t *dir, const u_char *s, size_t len)
{
    u_char  *p;

    p = sl_pnalloc(pool, len + 2);
    if (p == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(p, s, len);
    if (len == 0 || p[len - 1] != '/') {
        p[len++] = '/';
    }
    p[len] = '\0';

    dir->data = p;
    dir->len = len;
    return SL_OK;
}

/*
 * The bootstrap cycle: the paths from the command line and the startup
 * log, which every message goes to until the configuration names its own.
 */
static sl_int_t
sl_startup(sl_options_t *o, sl_cycle_t *init, sl_log_t *log,
    sl_open_file_t *file)
{
    const char  *prefix;
    u_char      *slash;
    sl_str_t     name;

    sl_memzero(init, sizeof(sl_cycle_t));
    sl_log_init_stderr(log, file);
    log->echo_stderr = 1;
    init->log = log;
    sl_time_update(&init->time);
    log->time = &init->time;

    init->test_config = o->test_config;
    init->test_dump = o->dump_config;
    init->quiet = o->quiet;

    init->pool = sl_create_pool(1024, log);
    if (init->pool == NULL) {
        return SL_ERROR;
    }

    prefix = o->prefix ? o->prefix : SL_PREFIX;
    if (sl_dir_name(init->pool, &init->prefix, (const u_char *) prefix,
                    strlen(prefix)) != SL_OK)
    {
        return SL_ERROR;
    }

    name.data = (u_char *) (o->conf_file ? o->conf_file : SL_CONF_PATH);
    name.len = sl_strlen(name.data);
    if (sl_conf_full_name(init, &name, 0) != SL_OK) {
        return SL_ERROR;
    }
    init->conf_file = name;

    slash = (u_char *) strrchr((char *) name.data, '/');
    if (sl_dir_name(init->pool, &init->conf_prefix, name.data,
                    (size_t) (slash - name.data)) != SL_OK)
    {
        return SL_ERROR;
    }

    if (o->conf_params != NULL) {
        init->conf_param.data = (u_char *) o->conf_params;
        init->conf_param.len = sl_strlen(o->conf_params);
    }

    name.data = (u_char *) (o->error_log ? o->error_log : SL_ERROR_LOG_PATH);
    name.len = sl_strlen(name.data);

    if (!sl_str_eq_lit(&name, "stderr")) {
        if (sl_conf_full_name(init, &name, 0) != SL_OK) {
            return SL_ERROR;
        }

        file->fd = sl_open_append(name.data);
        if (file->fd == SL_INVALID_FILE) {
            sl_log_stderr(errno, "[alert] could not open error log file: "
                          "open() \"%V\" failed", &name);
            file->fd = STDERR_FILENO;
        } else {
            file->name = name;
        }
    }

    init->error_log = name;
    return SL_OK;
}

static void
sl_dump_config(sl_cycle_t *cycle)
{
    sl_conf_dump_t  *d = cycle->config_dump.elts;
    u_char           head[PATH_MAX + 64], *p;
    sl_uint_t        i;

    for (i = 0; i < cycle->config_dump.nelts; i++) {
        p = sl_snprintf(head, sizeof(head), "# configuration file %V:%N",
                        &d[i].name);
        (void) sl_write_fd(STDOUT_FILENO, head, (size_t) (p - head));
        (void) sl_write_fd(STDOUT_FILENO, d[i].content.data,
                           d[i].content.len);

        if (d[i].content.len > 0
            && d[i].content.data[d[i].content.len - 1] != LF)
        {
            (void) sl_write_fd(STDOUT_FILENO, "\n", 1);
        }
        (void) sl_write_fd(STDOUT_FILENO, "\n", 1);
    }
}

/*
 * A HUP: the new configuration is read and checked. Applying it while
 * connections are open is the process model's work (master_process on
 * starts new workers); a single process applies it only when it serves
 * nothing yet.
 */
static sl_cycle_t *
sl_reconfigure(sl_cycle_t *cycle)
{
    sl_core_conf_t  *old_ccf, *ccf;
    sl_cycle_t      *next;

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "reconfiguring");

    next = sl_init_cycle(cycle);
    if (next == NULL) {
        sl_log_error(SL_LOG_ERR, cycle->log, 0, "the new configuration "
                     "was not loaded, the old one stays in force");
        return cycle;
    }

    if (cycle->listening.nelts > 0 || next->listening.nelts > 0) {
        sl_log_error(SL_LOG_WARN, cycle->log, 0, "the new configuration is "
                     "valid; with \"master_process off\" it takes effect "
                     "when sluice is restarted");
        sl_destroy_cycle(next);
        return cycle;
    }

    old_ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
    ccf = (sl_core_conf_t *) sl_get_conf(next->conf_ctx, sl_core_module);

    if (!sl_str_eq(&old_ccf->pid, &ccf->pid)) {
        if (sl_create_pidfile(&ccf->pid, cycle->log) != SL_OK) {
            sl_destroy_cycle(next);
            return cycle;
        }
        sl_delete_pidfile(&old_ccf->pid, cycle->log);
    }

    next->log = &next->new_log;
    next->old_cycle = NULL;
    next->loop = cycle->loop;
    if (next->loop != NULL) {
        next->loop->cycle = next;
        next->loop->log = next->log;
        next->loop->time = &next->time;
    }
    sl_destroy_cycle(cycle);
    return next;
}

/*
 * Binds, detaches, writes the pid file and builds the loop. *parent is
 * set in the process that started a daemon: it has nothing more to do.
 */
static sl_event_loop_t *
sl_start(sl_cycle_t *cycle, sl_core_conf_t *ccf, sl_uint_t *parent)
{
    sl_event_loop_t  *loop;
    struct rlimit     rlmt;

    if (ccf->rlimit_nofile != SL_CONF_UNSET) {
        rlmt.rlim_cur = (rlim_t) ccf->rlimit_nofile;
        rlmt.rlim_max = (rlim_t) ccf->rlimit_nofile;

        if (setrlimit(RLIMIT_NOFILE, &rlmt) == -1) {
            sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                         "setrlimit(RLIMIT_NOFILE, %i) failed",
                         ccf->rlimit_nofile);
        }
    }

    if (sl_open_listening_sockets(cycle) != SL_OK) {
        return NULL;
    }

    if (ccf->daemon) {
        switch (sl_daemonize(cycle->log)) {
        case SL_OK:
            sl_log_redirect_stderr(&cycle->new_log);
            break;
        case SL_DONE:
            *parent = 1;
            return NULL;
        default:
            return NULL;
        }
    }

    if (sl_create_pidfile(&ccf->pid, cycle->log) != SL_OK) {
        return NULL;
    }

    cycle->log = &cycle->new_log;

    loop = sl_event_loop_create(cycle);
    if (loop == NULL) {
        sl_delete_pidfile(&ccf->pid, cycle->log);
        return NULL;
    }

    return loop;
}

/*
 * One process that owns the configuration, serves, and answers the
 * signals: HUP re-reads the configuration, USR1 reopens the logs,
 * TERM/INT/QUIT stop. Signals stay blocked except inside the loop's wait.
 */
static int
sl_run(sl_cycle_t *cycle)
{
    sl_core_conf_t   *ccf;
    sl_event_loop_t  *loop;
    sl_uint_t         parent = 0;
    sigset_t          set, empty;

    ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigemptyset(&empty);

    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1
        || sl_init_signals(cycle->log) != SL_OK)
    {
        sl_destroy_cycle(cycle);
        return 1;
    }

    loop = sl_start(cycle, ccf, &parent);
    if (loop == NULL) {
        if (!parent) {
            /* the daemon owns the sockets (and a unix socket's file) */
            sl_close_listening_sockets(cycle);
        }
        sl_destroy_cycle(cycle);
        return parent ? 0 : 1;
    }

    loop->sigmask = &empty;
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, SL_VER " started");

    for ( ;; ) {
        sl_process_events_and_timers(loop);

        if (sl_sig_terminate || sl_sig_quit) {
            break;
        }

        if (sl_sig_reconfigure) {
            sl_sig_reconfigure = 0;
            cycle = sl_reconfigure(cycle);
        }

        if (sl_sig_reopen) {
            sl_sig_reopen = 0;
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "reopening logs");
            sl_reopen_files(cycle);
        }
    }

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "exiting");

    sl_event_loop_destroy(loop);
    sl_close_listening_sockets(cycle);
    ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
    sl_delete_pidfile(&ccf->pid, cycle->log);
    sl_destroy_cycle(cycle);
    return 0;
}
