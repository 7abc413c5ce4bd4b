/*
 * sluice.c -- main(): the command line, the startup log, the first cycle,
 * and then -t / -T, -s, or running (sl_process_cycle.c).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_process.h"
#include "sl_process_cycle.h"

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
static sl_int_t sl_inherit_sockets(sl_cycle_t *init);

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

    } else if (sl_inherit_sockets(&init) != SL_OK) {
        sl_destroy_cycle(cycle);
        status = 1;

    } else {
        status = sl_process_start(cycle, &init, argv);
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

/*
 * "built-in modules: ...": every module of the static list, and those
 * --add-module added; "dynamic modules: ..." those --add-dynamic-module
 * built, with the module ABI they were built for.
 */
static u_char *
sl_show_modules(u_char *p, u_char *last)
{
    sl_uint_t  i;

    p = sl_slprintf(p, last, "built-in modules:");
    for (i = 0; sl_modules[i] != NULL; i++) {
        p = sl_slprintf(p, last, " %s", sl_modules[i]->name);
    }
    for (i = 0; sl_static_handler_modules[i] != NULL; i++) {
        p = sl_slprintf(p, last, " %s", sl_static_handler_modules[i]->name);
    }

    p = sl_slprintf(p, last, "%Nmodule ABI: %d.%d, handler API: %d.%d%N",
                    SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,
                    SL_HANDLER_API_MAJOR, SL_HANDLER_API_MINOR);

    if (sl_dynamic_module_names[0] != NULL) {
        p = sl_slprintf(p, last, "dynamic modules:");
        for (i = 0; sl_dynamic_module_names[i] != NULL; i++) {
            p = sl_slprintf(p, last, " %s", sl_dynamic_module_names[i]);
        }
        p = sl_slprintf(p, last, "%N");
    }

    return p;
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
        p = sl_show_modules(p, last);
    }

    (void) sl_write_fd(STDERR_FILENO, buf, (size_t) (p - buf));
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
    if (sl_conf_dir_name(init->pool, &init->prefix, (const u_char *) prefix,
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
    if (sl_conf_dir_name(init->pool, &init->conf_prefix, name.data,
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
 * Started by an old master's binary upgrade: the listening sockets it
 * passed on, for the first cycle to take over.
 */
static sl_int_t
sl_inherit_sockets(sl_cycle_t *init)
{
    const char  *fds;

    fds = getenv(SL_INHERIT_VAR);
    if (fds == NULL) {
        return SL_OK;
    }

    if (sl_array_init(&init->listening, init->pool, 4, sizeof(sl_listening_t))
        != SL_OK)
    {
        return SL_ERROR;
    }

    return sl_listening_inherit(init, fds);
}
