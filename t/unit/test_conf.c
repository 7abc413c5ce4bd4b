/*
 * test_conf.c -- the configuration language: the scanner, the dispatcher,
 * the generic setters, and a table of malformed inputs, each with its
 * exact message and line.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include "sl_test.h"
#include "sl_t_conf.h"

static sl_core_conf_t *
tc_core(void)
{
    return (sl_core_conf_t *) sl_get_conf(sl_tc.cycle->conf_ctx, sl_core_module);
}

static sl_event_conf_t *
tc_event(void)
{
    return sl_event_get_conf(sl_tc.cycle->conf_ctx, sl_event_core_module);
}

/* --- valid configurations ----------------------------------------------- */

START_TEST(test_defaults)
{
    sl_tc_write_str("conf/sluice.conf", "");
    ck_assert_ptr_nonnull(sl_tc_load(NULL));

    ck_assert_int_eq(tc_core()->daemon, 1);
    ck_assert_int_eq(tc_core()->master, 1);
    ck_assert_int_eq(tc_core()->worker_processes, 1);
    ck_assert_uint_eq(tc_event()->connections, SL_DEFAULT_CONNECTIONS);
    ck_assert_int_eq(tc_event()->multi_accept, 0);
    ck_assert(sl_str_eq_lit(&tc_event()->use, "epoll"));
    ck_assert_uint_eq(sl_tc.cycle->new_log.log_level, SL_LOG_ERR);
    ck_assert_str_eq((char *) sl_tc.cycle->new_log.file->name.data +
                     strlen(sl_tc.dir), "/" SL_ERROR_LOG_PATH);
    ck_assert_str_eq((char *) tc_core()->pid.data + strlen(sl_tc.dir),
                     "/" SL_PID_PATH);
}
END_TEST

START_TEST(test_values)
{
    sl_tc_write_str("conf/sluice.conf",
        "# a comment line\n"
        "daemon off;  master_process   off; # after a directive\n"
        "worker_processes\t3;\n"
        "worker_rlimit_nofile 4096;\n"
        "pid \"logs/my \\\"odd\\\" name.pid\";\n"
        "events {\n"
        "    worker_connections 2048;\n"
        "    use poll;\n"
        "    multi_accept on;\n"
        "}\n");
    ck_assert_ptr_nonnull(sl_tc_load(NULL));

    ck_assert_int_eq(tc_core()->daemon, 0);
    ck_assert_int_eq(tc_core()->master, 0);
    ck_assert_int_eq(tc_core()->worker_processes, 3);
    ck_assert_int_eq(tc_core()->rlimit_nofile, 4096);
    ck_assert_str_eq((char *) tc_core()->pid.data + strlen(sl_tc.dir),
                     "/logs/my \"odd\" name.pid");
    ck_assert_uint_eq(tc_event()->connections, 2048);
    ck_assert(sl_str_eq_lit(&tc_event()->use, "poll"));
    ck_assert_int_eq(tc_event()->multi_accept, 1);
}
END_TEST

START_TEST(test_worker_processes_auto)
{
    sl_tc_write_str("conf/sluice.conf", "worker_processes auto;\n");
    ck_assert_ptr_nonnull(sl_tc_load(NULL));
    ck_assert_int_eq(tc_core()->worker_processes,
                     sysconf(_SC_NPROCESSORS_ONLN));
}
END_TEST

START_TEST(test_error_log_chain)
{
    sl_log_t  *l;

    sl_tc_write_str("conf/sluice.conf",
        "error_log logs/a.log warn;\n"
        "error_log logs/b.log debug;\n"
        "error_log logs/c.log;\n"
        "error_log logs/a.log info;\n");
    ck_assert_ptr_nonnull(sl_tc_load(NULL));

    /* most verbose first; the same file is opened once */
    l = &sl_tc.cycle->new_log;
    ck_assert_uint_eq(l->log_level, SL_LOG_DEBUG);
    ck_assert_uint_eq(l->next->log_level, SL_LOG_INFO);
    ck_assert_uint_eq(l->next->next->log_level, SL_LOG_WARN);
    ck_assert_uint_eq(l->next->next->next->log_level, SL_LOG_ERR);
    ck_assert_ptr_null(l->next->next->next->next);
    ck_assert_ptr_eq(l->next->file, l->next->next->file);
    ck_assert_int_ge(l->next->file->fd, 0);
}
END_TEST

START_TEST(test_include_glob_and_order)
{
    sl_tc_write_str("conf/sluice.conf",
        "include parts/*.conf;\n"
        "include none/*.conf;\n"       /* no match: not an error */
        "events { include ev.inc; }\n");
    char  parts[PATH_MAX * 2];

    snprintf(parts, sizeof(parts), "%s/conf/parts", sl_tc.dir);
    ck_assert_int_eq(mkdir(parts, 0755), 0);
    sl_tc_write_str("conf/parts/10-a.conf", "worker_processes 5;\n");
    sl_tc_write_str("conf/parts/20-b.conf", "daemon off;\n");
    sl_tc_write_str("conf/ev.inc", "worker_connections 77;\n");
    ck_assert_ptr_nonnull(sl_tc_load(NULL));

    ck_assert_int_eq(tc_core()->worker_processes, 5);
    ck_assert_int_eq(tc_core()->daemon, 0);
    ck_assert_uint_eq(tc_event()->connections, 77);
}
END_TEST

START_TEST(test_param)
{
    sl_tc_write_str("conf/sluice.conf", "worker_processes 2;\n");
    ck_assert_ptr_nonnull(sl_tc_load("daemon off; master_process off;"));
    ck_assert_int_eq(tc_core()->daemon, 0);
    ck_assert_int_eq(tc_core()->master, 0);
    ck_assert_int_eq(tc_core()->worker_processes, 2);
}
END_TEST

START_TEST(test_dump_keeps_files)
{
    sl_conf_dump_t  *d;

    sl_tc_write_str("conf/sluice.conf", "include a.conf;\ndaemon off;\n");
    sl_tc_write_str("conf/a.conf", "worker_processes 2;");

    /* without -T nothing is kept; then the same files again with -T */
    ck_assert_ptr_nonnull(sl_tc_load(NULL));
    ck_assert_uint_eq(sl_tc.cycle->config_dump.nelts, 0);
    sl_destroy_cycle(sl_tc.cycle);
    sl_tc.init.test_dump = 1;
    sl_tc.cycle = sl_init_cycle(&sl_tc.init);
    ck_assert_ptr_nonnull(sl_tc.cycle);

    ck_assert_uint_eq(sl_tc.cycle->config_dump.nelts, 2);
    d = sl_tc.cycle->config_dump.elts;
    ck_assert(sl_str_eq_lit(&d[0].content, "include a.conf;\ndaemon off;\n"));
    ck_assert(sl_str_eq_lit(&d[1].content, "worker_processes 2;"));
    ck_assert_ptr_nonnull(strstr((char *) d[1].name.data, "/conf/a.conf"));
}
END_TEST

/* --- malformed input: each error's exact text and line ------------------ */

typedef struct {
    const char  *conf;
    size_t       len;          /* 0: strlen(conf) */
    const char  *message;      /* "%s" stands for the prefix directory */
    int          line;         /* 0: no " in file:line" suffix */
    const char  *file;         /* the file named, default conf/sluice.conf */
} bad_case_t;

#define LONG_WORD_LEN  (SL_CONF_MAX_TOKEN + 100)

static const bad_case_t  bad_cases[] = {
    { "foo;\n", 0, "unknown directive \"foo\"", 1, NULL },
    { "\n\n  foo bar baz;\n", 0, "unknown directive \"foo\"", 3, NULL },
    { "worker_processes;\n", 0,
      "invalid number of arguments in \"worker_processes\" directive", 1,
      NULL },
    { "worker_processes 1 2;\n", 0,
      "invalid number of arguments in \"worker_processes\" directive", 1,
      NULL },
    { "worker_processes\n\n  abc;\n", 0,
      "invalid value \"abc\" in \"worker_processes\" directive", 1, NULL },
    { "worker_processes 0;\n", 0,
      "invalid value \"0\" in \"worker_processes\" directive", 1, NULL },
    { "daemon maybe;\n", 0, "invalid value \"maybe\" in \"daemon\" directive,"
      " it must be \"on\" or \"off\"", 1, NULL },
    { "daemon on;\ndaemon off;\n", 0, "\"daemon\" directive is duplicate", 2,
      NULL },
    { "worker_connections 10;\n", 0,
      "\"worker_connections\" directive is not allowed here", 1, NULL },
    { "events {\n    daemon on;\n}\n", 0,
      "\"daemon\" directive is not allowed here", 2, NULL },
    { "pid \"logs/x.pid;\n\n", 0,
      "unexpected end of file, unterminated quoted string", 1, NULL },
    { "pid 'logs/x.pid;\n", 0,
      "unexpected end of file, unterminated quoted string", 1, NULL },
    { "events {\n    worker_connections 10;\n", 0,
      "unexpected end of file, expecting \"}\"", 3, NULL },
    { "daemon on;\n}\n", 0, "unexpected \"}\"", 2, NULL },
    { "daemon on }\n", 0, "unexpected \"}\"", 1, NULL },
    { "daemon on", 0, "unexpected end of file, expecting \";\" or \"}\"", 1,
      NULL },
    { ";\n", 0, "unexpected \";\"", 1, NULL },
    { "{ }\n", 0, "unexpected \"{\"", 1, NULL },
    { "pid \"a\"b;\n", 0, "unexpected \"b\"", 1, NULL },
    { "events;\n", 0, "directive \"events\" has no opening \"{\"", 1, NULL },
    { "daemon on {\n}\n", 0,
      "directive \"daemon\" is not terminated by \";\"", 1, NULL },
    { "events {}\nevents {}\n", 0, "\"events\" directive is duplicate", 2,
      NULL },
    { "events { use nosuch; }\n", 0, "invalid event type \"nosuch\"", 1,
      NULL },
    { "events {\n worker_connections 0;\n}\n", 0, "\"worker_connections\" "
      "directive value must be between 1 and 16777216", 2, NULL },
    { "events { worker_connections 2305843009213693952; }\n", 0,
      "\"worker_connections\" directive value must be between 1 and "
      "16777216", 1, NULL },
    { "events { worker_connections 12x; }\n", 0,
      "invalid value \"12x\" in \"worker_connections\" directive", 1, NULL },
    { "events { multi_accept yes; }\n", 0, "invalid value \"yes\" in "
      "\"multi_accept\" directive, it must be \"on\" or \"off\"", 1, NULL },
    { "worker_rlimit_nofile -5;\n", 0,
      "invalid value \"-5\" in \"worker_rlimit_nofile\" directive", 1, NULL },
    { "error_log logs/e.log verbose;\n", 0, "invalid log level \"verbose\"",
      1, NULL },
    { "error_log a b c;\n", 0,
      "invalid number of arguments in \"error_log\" directive", 1, NULL },
    { "error_log;\n", 0,
      "invalid number of arguments in \"error_log\" directive", 1, NULL },
    { "daemon on;\ndaemon \0ff;\n", 23, "unexpected binary byte 0x00", 2,
      NULL },
    { "\x01\x02garbage\xff;\n", 0, "unexpected binary byte 0x01", 1, NULL },
    { "daemon o\x1b[n;\n", 0, "unexpected binary byte 0x1b", 1, NULL },
    { "# ok\ninclude missing.conf;\n", 0, "open() \"%s/conf/missing.conf\" "
      "failed (2: No such file or directory)", 2, NULL },
    { "include loop-a.conf;\n", 0, "include loop: \"%s/conf/loop-a.conf\" "
      "is already being read", 1, "conf/loop-b.conf" },
    { "include self.conf;\n", 0, "include loop: \"%s/conf/self.conf\" "
      "is already being read", 2, "conf/self.conf" },
    { "events {\n include closing.inc;\n", 0, "unexpected \"}\"", 2,
      "conf/closing.inc" },
    { NULL, LONG_WORD_LEN, "too long parameter \"aaaaaaaaaaaaaaaa...\" "
      "started", 1, NULL },
};

static void
bad_case_files(void)
{
    sl_tc_write_str("conf/loop-a.conf", "include loop-b.conf;\n");
    sl_tc_write_str("conf/loop-b.conf", "include loop-a.conf;\n");
    sl_tc_write_str("conf/self.conf", "daemon off;\ninclude self.conf;\n");
    sl_tc_write_str("conf/closing.inc", "worker_connections 9;\n}\n}\n");
}

START_TEST(test_bad_config)
{
    const bad_case_t  *bc = &bad_cases[_i];
    char               expect[PATH_MAX * 8], msg[PATH_MAX * 2];
    char               where[PATH_MAX * 2];
    char              *big;

    bad_case_files();

    if (bc->conf == NULL) {
        big = malloc(bc->len + 32);
        memcpy(big, "pid ", 4);
        memset(big + 4, 'a', bc->len);
        memcpy(big + 4 + bc->len, ";\n", 3);
        sl_tc_write_str("conf/sluice.conf", big);
        free(big);
    } else {
        sl_tc_write("conf/sluice.conf", bc->conf,
                 bc->len ? bc->len : strlen(bc->conf));
    }

    ck_assert_msg(sl_tc_load(NULL) == NULL, "case %d loaded: %s", _i, bc->conf);

    snprintf(msg, sizeof(msg), bc->message, sl_tc.dir);
    snprintf(where, sizeof(where), "%s/%s", sl_tc.dir,
             bc->file ? bc->file : "conf/sluice.conf");
    snprintf(expect, sizeof(expect), "[emerg] %d#", (int) getpid());
    ck_assert_msg(strstr(sl_tc.errors, expect) != NULL, "case %d: no [emerg] "
                  "line of this pid in: %s", _i, sl_tc.errors);

    snprintf(expect, sizeof(expect), ": %s in %s:%d\n", msg, where, bc->line);
    ck_assert_msg(strstr(sl_tc.errors, expect) != NULL,
                  "case %d: expected \"%s\" in: %s", _i, expect, sl_tc.errors);
}
END_TEST

START_TEST(test_bad_param)
{
    sl_tc_write_str("conf/sluice.conf", "daemon off;\n");

    ck_assert_ptr_null(sl_tc_load("worker_processes 2; bogus 1;"));
    ck_assert_ptr_nonnull(strstr(sl_tc.errors,
                          ": unknown directive \"bogus\" in command line\n"));
}
END_TEST

START_TEST(test_param_duplicate_in_file)
{
    char  expect[PATH_MAX * 2];

    sl_tc_write_str("conf/sluice.conf", "\ndaemon on;\n");

    /* -g is read first, so the file's directive is the duplicate */
    ck_assert_ptr_null(sl_tc_load("daemon off;"));
    snprintf(expect, sizeof(expect), ": \"daemon\" directive is duplicate "
             "in %s/conf/sluice.conf:2\n", sl_tc.dir);
    ck_assert_ptr_nonnull(strstr(sl_tc.errors, expect));
}
END_TEST

START_TEST(test_missing_main_file)
{
    char  expect[PATH_MAX * 2];

    ck_assert_ptr_null(sl_tc_load(NULL));
    snprintf(expect, sizeof(expect), ": open() \"%s/conf/sluice.conf\" "
             "failed (2: No such file or directory)\n", sl_tc.dir);
    ck_assert_ptr_nonnull(strstr(sl_tc.errors, expect));
}
END_TEST

START_TEST(test_unopenable_error_log)
{
    char  expect[PATH_MAX * 2];

    sl_tc_write_str("conf/sluice.conf", "error_log nodir/e.log;\n");

    ck_assert_ptr_null(sl_tc_load(NULL));
    snprintf(expect, sizeof(expect), ": open() \"%s/nodir/e.log\" "
             "failed (2: No such file or directory)\n", sl_tc.dir);
    ck_assert_ptr_nonnull(strstr(sl_tc.errors, expect));
}
END_TEST

/* --- the generic setters, called directly ------------------------------- */

typedef struct {
    sl_flag_t     flag;
    sl_str_t      str;
    sl_array_t   *strs;
    sl_int_t      num;
    size_t        size;
    off_t         off;
    sl_msec_t     msec;
    time_t        sec;
    sl_uint_t     choice;
    sl_uint_t     mask;
    sl_str_t      path;
} slots_t;

static const sl_conf_enum_t  colors[] = {
    { sl_string("red"), 1 },
    { sl_string("green"), 2 },
    { sl_null_string, 0 }
};

static const sl_conf_bitmask_t  protocols[] = {
    { sl_string("TLSv1.2"), 0x04 },
    { sl_string("TLSv1.3"), 0x08 },
    { sl_null_string, 0 }
};

static sl_conf_num_bounds_t  small = { sl_conf_check_num_bounds, 1, 10 };

static sl_command_t  slot_cmds[] = {
    { sl_string("f"), SL_CONF_FLAG, sl_conf_set_flag_slot, 0,
      offsetof(slots_t, flag), NULL },
    { sl_string("s"), SL_CONF_TAKE1, sl_conf_set_str_slot, 0,
      offsetof(slots_t, str), NULL },
    { sl_string("a"), SL_CONF_TAKE1, sl_conf_set_str_array_slot, 0,
      offsetof(slots_t, strs), NULL },
    { sl_string("n"), SL_CONF_TAKE1, sl_conf_set_num_slot, 0,
      offsetof(slots_t, num), &small },
    { sl_string("z"), SL_CONF_TAKE1, sl_conf_set_size_slot, 0,
      offsetof(slots_t, size), NULL },
    { sl_string("o"), SL_CONF_TAKE1, sl_conf_set_off_slot, 0,
      offsetof(slots_t, off), NULL },
    { sl_string("m"), SL_CONF_TAKE1, sl_conf_set_msec_slot, 0,
      offsetof(slots_t, msec), NULL },
    { sl_string("t"), SL_CONF_TAKE1, sl_conf_set_sec_slot, 0,
      offsetof(slots_t, sec), NULL },
    { sl_string("e"), SL_CONF_TAKE1, sl_conf_set_enum_slot, 0,
      offsetof(slots_t, choice), (void *) colors },
    { sl_string("b"), SL_CONF_1MORE, sl_conf_set_bitmask_slot, 0,
      offsetof(slots_t, mask), (void *) protocols },
    { sl_string("p"), SL_CONF_TAKE1, sl_conf_set_path_slot, 0,
      offsetof(slots_t, path), NULL },
};

static slots_t     slots;
static sl_conf_t   scf;
static sl_cycle_t  scycle;

static void
slots_setup(void)
{
    sl_tc_setup();
    sl_memzero(&slots, sizeof(slots));
    slots.flag = SL_CONF_UNSET;
    slots.strs = SL_CONF_UNSET_PTR;
    slots.num = SL_CONF_UNSET;
    slots.size = SL_CONF_UNSET_SIZE;
    slots.off = SL_CONF_UNSET;
    slots.msec = SL_CONF_UNSET_MSEC;
    slots.sec = SL_CONF_UNSET;
    slots.choice = SL_CONF_UNSET_UINT;

    sl_tc.file.fd = sl_open_append((u_char *) sl_tc.log_path);
    sl_memzero(&sl_tc.log, sizeof(sl_tc.log));
    sl_tc.log.file = &sl_tc.file;
    sl_tc.log.log_level = SL_LOG_DEBUG;

    sl_memzero(&scycle, sizeof(scycle));
    scycle.pool = sl_create_pool(4096, &sl_tc.log);
    scycle.log = &sl_tc.log;
    sl_str_set(&scycle.prefix, "/pfx/");

    sl_memzero(&scf, sizeof(scf));
    scf.cycle = &scycle;
    scf.pool = scycle.pool;
    scf.log = &sl_tc.log;
    scf.args = sl_array_create(scycle.pool, 4, sizeof(sl_str_t));
}

static void
slots_teardown(void)
{
    sl_destroy_pool(scycle.pool);
    sl_tc_teardown();
}

/* runs directive `name` with the given words; returns the setter's result */
static char *
set(const char *name, const char *a1, const char *a2)
{
    sl_command_t  *cmd;
    sl_str_t      *w;
    const char    *words[3] = { name, a1, a2 };
    sl_uint_t      i;

    scf.args->nelts = 0;
    for (i = 0; i < 3 && words[i] != NULL; i++) {
        w = sl_array_push(scf.args);
        w->len = strlen(words[i]);
        w->data = (u_char *) words[i];
    }

    for (cmd = slot_cmds; ; cmd++) {
        if (sl_strcmp(cmd->name.data, name) == 0) {
            return cmd->set(&scf, cmd, &slots);
        }
    }
}

START_TEST(test_setters_store)
{
    sl_str_t  *s;

    ck_assert_ptr_eq(set("f", "on", NULL), SL_CONF_OK);
    ck_assert_int_eq(slots.flag, 1);
    ck_assert_ptr_eq(set("s", "hello", NULL), SL_CONF_OK);
    ck_assert(sl_str_eq_lit(&slots.str, "hello"));
    ck_assert_ptr_eq(set("a", "x", NULL), SL_CONF_OK);
    ck_assert_ptr_eq(set("a", "y", NULL), SL_CONF_OK);
    ck_assert_uint_eq(slots.strs->nelts, 2);
    s = slots.strs->elts;
    ck_assert(sl_str_eq_lit(&s[1], "y"));
    ck_assert_ptr_eq(set("n", "7", NULL), SL_CONF_OK);
    ck_assert_int_eq(slots.num, 7);
    ck_assert_ptr_eq(set("z", "16k", NULL), SL_CONF_OK);
    ck_assert_uint_eq(slots.size, 16384);
    ck_assert_ptr_eq(set("o", "2g", NULL), SL_CONF_OK);
    ck_assert_int_eq(slots.off, 2LL * 1024 * 1024 * 1024);
    ck_assert_ptr_eq(set("m", "1m30s", NULL), SL_CONF_OK);
    ck_assert_uint_eq(slots.msec, 90000);
    ck_assert_ptr_eq(set("t", "1h", NULL), SL_CONF_OK);
    ck_assert_int_eq(slots.sec, 3600);
    ck_assert_ptr_eq(set("e", "GREEN", NULL), SL_CONF_OK);
    ck_assert_uint_eq(slots.choice, 2);
    ck_assert_ptr_eq(set("b", "TLSv1.2", "TLSv1.3"), SL_CONF_OK);
    ck_assert_uint_eq(slots.mask, 0x0c);
    ck_assert_ptr_eq(set("p", "logs/x", NULL), SL_CONF_OK);
    ck_assert(sl_str_eq_lit(&slots.path, "/pfx/logs/x"));
}
END_TEST

START_TEST(test_setters_duplicate)
{
    static const char  *names[] = { "f", "s", "n", "z", "o", "m", "t", "e",
                                    "p" };
    static const char  *values[] = { "off", "v", "3", "1k", "1", "1s", "1s",
                                     "red", "a" };
    sl_uint_t           i;
    char               *rv;

    for (i = 0; i < sl_nelems(names); i++) {
        ck_assert_ptr_eq(set(names[i], values[i], NULL), SL_CONF_OK);
        rv = set(names[i], values[i], NULL);
        ck_assert_msg(rv != SL_CONF_OK && rv != SL_CONF_ERROR
                      && strcmp(rv, "is duplicate") == 0,
                      "\"%s\" twice was not a duplicate", names[i]);
    }
}
END_TEST

START_TEST(test_setters_invalid)
{
    ck_assert_ptr_eq(set("f", "yes", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("n", "x1", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("z", "1q", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("o", "", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("m", "1h1h", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("t", "5ms", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("e", "blue", NULL), SL_CONF_ERROR);
    ck_assert_ptr_eq(set("b", "SSLv3", NULL), SL_CONF_ERROR);
}
END_TEST

START_TEST(test_setter_bounds)
{
    ck_assert_ptr_eq(set("n", "11", NULL), SL_CONF_ERROR);
    slots.num = SL_CONF_UNSET;
    ck_assert_ptr_eq(set("n", "0", NULL), SL_CONF_ERROR);
    slots.num = SL_CONF_UNSET;
    ck_assert_ptr_eq(set("n", "10", NULL), SL_CONF_OK);
}
END_TEST

START_TEST(test_merge_macros)
{
    sl_int_t   v = SL_CONF_UNSET, prev = 5, unset = SL_CONF_UNSET;
    sl_msec_t  m = SL_CONF_UNSET_MSEC, mprev = SL_CONF_UNSET_MSEC;
    sl_str_t   s = sl_null_string, sprev = sl_string("parent");
    sl_str_t   s2 = sl_null_string, sunset = sl_null_string;

    sl_conf_merge_value(v, prev, 9);
    ck_assert_int_eq(v, 5);
    v = SL_CONF_UNSET;
    sl_conf_merge_value(v, unset, 9);
    ck_assert_int_eq(v, 9);
    v = 1;
    sl_conf_merge_value(v, prev, 9);
    ck_assert_int_eq(v, 1);
    sl_conf_merge_msec_value(m, mprev, 60000);
    ck_assert_uint_eq(m, 60000);
    sl_conf_merge_str_value(s, sprev, "default");
    ck_assert(sl_str_eq_lit(&s, "parent"));
    sl_conf_merge_str_value(s2, sunset, "default");
    ck_assert(sl_str_eq_lit(&s2, "default"));
}
END_TEST

static Suite *
conf_suite(void)
{
    Suite  *s = suite_create("conf");
    TCase  *tc_ok, *tc_bad, *tc_set;

    tc_ok = tcase_create("valid");
    tcase_add_checked_fixture(tc_ok, sl_tc_setup, sl_tc_teardown);
    tcase_set_timeout(tc_ok, 10);
    tcase_add_test(tc_ok, test_defaults);
    tcase_add_test(tc_ok, test_values);
    tcase_add_test(tc_ok, test_worker_processes_auto);
    tcase_add_test(tc_ok, test_error_log_chain);
    tcase_add_test(tc_ok, test_include_glob_and_order);
    tcase_add_test(tc_ok, test_param);
    tcase_add_test(tc_ok, test_dump_keeps_files);
    suite_add_tcase(s, tc_ok);

    tc_bad = tcase_create("malformed");
    tcase_add_checked_fixture(tc_bad, sl_tc_setup, sl_tc_teardown);
    tcase_set_timeout(tc_bad, 10);
    tcase_add_loop_test(tc_bad, test_bad_config, 0,
                        (int) sl_nelems(bad_cases));
    tcase_add_test(tc_bad, test_bad_param);
    tcase_add_test(tc_bad, test_param_duplicate_in_file);
    tcase_add_test(tc_bad, test_missing_main_file);
    tcase_add_test(tc_bad, test_unopenable_error_log);
    suite_add_tcase(s, tc_bad);

    tc_set = tcase_create("setters");
    tcase_add_checked_fixture(tc_set, slots_setup, slots_teardown);
    tcase_set_timeout(tc_set, 10);
    tcase_add_test(tc_set, test_setters_store);
    tcase_add_test(tc_set, test_setters_duplicate);
    tcase_add_test(tc_set, test_setters_invalid);
    tcase_add_test(tc_set, test_setter_bounds);
    tcase_add_test(tc_set, test_merge_macros);
    suite_add_tcase(s, tc_set);

    return s;
}

SL_TEST_MAIN(conf_suite)
