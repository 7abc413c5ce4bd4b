/*
 * sl_core_module.c -- the main-context directives of the process:
 * daemon, master_process, pid, worker_processes, user, worker_rlimit_nofile.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <pwd.h>
#include <grp.h>

#define SL_DEFAULT_USER  "nobody"

static void *sl_core_create_conf(sl_cycle_t *cycle);
static char *sl_core_init_conf(sl_cycle_t *cycle, void *conf);
static char *sl_set_worker_processes(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_set_user(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_conf_num_bounds_t  sl_core_rlimit_bounds = {
    sl_conf_check_num_bounds, 1, -1
};

static sl_command_t  sl_core_commands[] = {

    { sl_string("daemon"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_core_conf_t, daemon),
      NULL },

    { sl_string("master_process"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_core_conf_t, master),
      NULL },

    { sl_string("pid"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_conf_set_path_slot,
      0,
      offsetof(sl_core_conf_t, pid),
      NULL },

    { sl_string("worker_processes"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_set_worker_processes,
      0,
      0,
      NULL },

    { sl_string("user"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE12,
      sl_set_user,
      0,
      0,
      NULL },

    { sl_string("worker_rlimit_nofile"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot,
      0,
      offsetof(sl_core_conf_t, rlimit_nofile),
      &sl_core_rlimit_bounds },

      sl_null_command
};

static sl_core_module_t  sl_core_module_ctx = {
    sl_string("core"),
    sl_core_create_conf,
    sl_core_init_conf
};

sl_module_t  sl_core_module = {
    .name = "sl_core_module",
    .ctx = &sl_core_module_ctx,
    .commands = sl_core_commands,
    .type = SL_CORE_MODULE,
};

static void *
sl_core_create_conf(sl_cycle_t *cycle)
{
    sl_core_conf_t  *ccf;

    ccf = sl_pcalloc(cycle->pool, sizeof(sl_core_conf_t));
    if (ccf == NULL) {
        return NULL;
    }

    /* pid and username: zeroed, i.e. not set */
    ccf->daemon = SL_CONF_UNSET;
    ccf->master = SL_CONF_UNSET;
    ccf->worker_processes = SL_CONF_UNSET;
    ccf->rlimit_nofile = SL_CONF_UNSET;
    ccf->user = (uid_t) SL_CONF_UNSET_UINT;
    ccf->group = (gid_t) SL_CONF_UNSET_UINT;

    return ccf;
}

/* the uid and gid of name (and of group, when given) */
static sl_int_t
sl_core_lookup_user(sl_log_t *log, sl_core_conf_t *ccf, const char *group)
{
    struct passwd   pw, *pwp = NULL;
    struct group    gr, *grp = NULL;
    char            buf[4096];
    int             rc;

    rc = getpwnam_r((char *) ccf->username.data, &pw, buf, sizeof(buf), &pwp);
    if (pwp == NULL) {
        sl_log_error(SL_LOG_EMERG, log, rc, "getpwnam(\"%V\") failed",
                     &ccf->username);
        return SL_ERROR;
    }

    ccf->user = pw.pw_uid;
    ccf->group = pw.pw_gid;        /* the user's own group by default */

    if (group == NULL) {
        return SL_OK;
    }

    rc = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
    if (grp == NULL) {
        sl_log_error(SL_LOG_EMERG, log, rc, "getgrnam(\"%s\") failed", group);
        return SL_ERROR;
    }

    ccf->group = gr.gr_gid;
    return SL_OK;
}

static char *
sl_core_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_core_conf_t  *ccf = conf;

    sl_conf_init_value(ccf->daemon, 1);
    sl_conf_init_value(ccf->master, 1);
    sl_conf_init_value(ccf->worker_processes, 1);

    if (ccf->pid.data == NULL) {
        sl_str_set(&ccf->pid, SL_PID_PATH);
        if (sl_conf_full_name(cycle, &ccf->pid, 0) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    if (ccf->username.data == NULL && geteuid() == 0) {
        sl_str_set(&ccf->username, SL_DEFAULT_USER);
        if (sl_core_lookup_user(cycle->log, ccf, NULL) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    return SL_CONF_OK;
}

static char *
sl_set_worker_processes(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t  *ccf = conf;
    sl_str_t        *value = cf->args->elts;
    long             ncpu;

    sl_unused(cmd);

    if (ccf->worker_processes != SL_CONF_UNSET) {
        return "is duplicate";
    }

    if (sl_str_eq_lit(&value[1], "auto")) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        ccf->worker_processes = ncpu > 0 ? (sl_int_t) ncpu : 1;
        return SL_CONF_OK;
    }

    ccf->worker_processes = sl_atoi(value[1].data, value[1].len);
    if (ccf->worker_processes == SL_ERROR || ccf->worker_processes == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%V\" in "
                          "\"worker_processes\" directive", &value[1]);
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

static char *
sl_set_user(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t  *ccf = conf;
    sl_str_t        *value = cf->args->elts;

    sl_unused(cmd);

    if (ccf->username.data != NULL) {
        return "is duplicate";
    }

    if (geteuid() != 0) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "the \"user\" directive makes "
                          "sense only if the master process runs with "
                          "super-user privileges, ignored");
        return SL_CONF_OK;
    }

    ccf->username = value[1];

    if (sl_core_lookup_user(cf->log, ccf, cf->args->nelts == 3
                            ? (const char *) value[2].data : NULL) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}
