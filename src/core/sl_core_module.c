/*
 * sl_core_module.c -- the main-context directives of the process:
 * daemon, master_process, pid, worker_processes, user, worker_rlimit_nofile,
 * worker_priority, worker_cpu_affinity, worker_shutdown_timeout,
 * working_directory, env.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <pwd.h>
#include <grp.h>

/*
 * Without "user", a master running as root gives its workers to nobody
 * and the group nogroup (Debian has no group "nobody"); where nogroup
 * does not exist either, to nobody's own group.
 */
#define SL_DEFAULT_USER   "nobody"
#define SL_DEFAULT_GROUP  "nogroup"

static void *sl_core_create_conf(sl_cycle_t *cycle);
static char *sl_core_init_conf(sl_cycle_t *cycle, void *conf);
static char *sl_set_worker_processes(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_set_user(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *sl_set_priority(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *sl_set_cpu_affinity(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
static char *sl_set_env(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_conf_num_bounds_t  sl_core_rlimit_bounds = {
    sl_conf_check_num_bounds, 1, -1
};

static sl_command_t  sl_core_commands[] = {

    { sl_string("daemon"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG | SL_CONF_PROCESS,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_core_conf_t, daemon),
      NULL },

    { sl_string("master_process"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG | SL_CONF_PROCESS,
      sl_conf_set_flag_slot,
      0,
      offsetof(sl_core_conf_t, master),
      NULL },

    { sl_string("pid"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_conf_set_path_slot,
      0,
      offsetof(sl_core_conf_t, pid),
      NULL },

    { sl_string("worker_processes"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_set_worker_processes,
      0,
      0,
      NULL },

    { sl_string("user"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE12 | SL_CONF_PROCESS,
      sl_set_user,
      0,
      0,
      NULL },

    { sl_string("worker_rlimit_nofile"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_conf_set_num_slot,
      0,
      offsetof(sl_core_conf_t, rlimit_nofile),
      &sl_core_rlimit_bounds },

    { sl_string("worker_priority"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_set_priority,
      0,
      0,
      NULL },

    { sl_string("worker_cpu_affinity"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_1MORE | SL_CONF_PROCESS,
      sl_set_cpu_affinity,
      0,
      0,
      NULL },

    { sl_string("worker_shutdown_timeout"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot,
      0,
      offsetof(sl_core_conf_t, shutdown_timeout),
      NULL },

    { sl_string("working_directory"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_conf_set_path_slot,
      0,
      offsetof(sl_core_conf_t, working_directory),
      NULL },

    { sl_string("env"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1 | SL_CONF_PROCESS,
      sl_set_env,
      0,
      0,
      NULL },

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
    ccf->priority = SL_CONF_UNSET;
    ccf->shutdown_timeout = SL_CONF_UNSET_MSEC;
    ccf->user = (uid_t) SL_CONF_UNSET_UINT;
    ccf->group = (gid_t) SL_CONF_UNSET_UINT;

    if (sl_array_init(&ccf->env, cycle->pool, 1, sizeof(sl_str_t)) != SL_OK) {
        return NULL;
    }

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
    if (grp == NULL && strcmp(group, SL_DEFAULT_GROUP) == 0
        && ccf->username.data != NULL
        && sl_strcmp(ccf->username.data, SL_DEFAULT_USER) == 0)
    {
        return SL_OK;              /* the default: nobody's own group */
    }

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
    sl_conf_init_value(ccf->priority, 0);
    sl_conf_init_msec_value(ccf->shutdown_timeout, 0);

    if (ccf->pid.data == NULL) {
        sl_str_set(&ccf->pid, SL_PID_PATH);
        if (sl_conf_full_name(cycle, &ccf->pid, 0) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

    /* the pid file of the old master during a binary upgrade */
    ccf->oldpid.len = ccf->pid.len + sizeof(".oldbin") - 1;
    ccf->oldpid.data = sl_pnalloc(cycle->pool, ccf->oldpid.len + 1);
    if (ccf->oldpid.data == NULL) {
        return SL_CONF_ERROR;
    }
    sl_memcpy(ccf->oldpid.data, ccf->pid.data, ccf->pid.len);
    sl_memcpy(ccf->oldpid.data + ccf->pid.len, ".oldbin", sizeof(".oldbin"));

    /* an embedded instance runs as its host does: no user to switch to */
    if (ccf->username.data == NULL && geteuid() == 0 && !cycle->embedded) {
        sl_str_set(&ccf->username, SL_DEFAULT_USER);
        if (sl_core_lookup_user(cycle->log, ccf, SL_DEFAULT_GROUP) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }

#if !defined(__linux__)
    if (ccf->cpu_affinity_n > 0 || ccf->cpu_affinity_auto) {
        sl_log_error(SL_LOG_WARN, cycle->log, 0, "\"worker_cpu_affinity\" "
                     "is not supported on this platform, ignored");
        ccf->cpu_affinity_n = 0;
        ccf->cpu_affinity_auto = 0;
    }
#endif

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

static char *
sl_set_priority(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t  *ccf = conf;
    sl_str_t        *value = cf->args->elts;
    sl_uint_t        minus = 0, skip = 0;

    sl_unused(cmd);

    if (ccf->priority != SL_CONF_UNSET) {
        return "is duplicate";
    }

    if (value[1].len > 0 && value[1].data[0] == '-') {
        minus = 1;
        skip = 1;
    } else if (value[1].len > 0 && value[1].data[0] == '+') {
        skip = 1;
    }

    ccf->priority = sl_atoi(value[1].data + skip, value[1].len - skip);
    if (ccf->priority == SL_ERROR || ccf->priority > 20) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number \"%V\"",
                          &value[1]);
        return SL_CONF_ERROR;
    }

    if (minus) {
        ccf->priority = -ccf->priority;
    }

    return SL_CONF_OK;
}

/* a mask of '0' and '1', the rightmost for CPU 0 */
static sl_int_t
sl_parse_cpu_mask(sl_str_t *s, uint64_t *mask)
{
    size_t  i;

    if (s->len == 0 || s->len > SL_MAX_CPU_AFFINITY) {
        return SL_ERROR;
    }

    *mask = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] != '0' && s->data[i] != '1') {
            return SL_ERROR;
        }
        *mask = (*mask << 1) | (uint64_t) (s->data[i] - '0');
    }

    return SL_OK;
}

/* worker_cpu_affinity auto [mask] | mask ... */
static char *
sl_set_cpu_affinity(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t  *ccf = conf;
    sl_str_t        *value = cf->args->elts;
    sl_uint_t        i, n, first = 1;

    sl_unused(cmd);

    if (ccf->cpu_affinity_n > 0 || ccf->cpu_affinity_auto) {
        return "is duplicate";
    }

    n = cf->args->nelts - 1;

    if (sl_str_eq_lit(&value[1], "auto")) {
        if (n > 2) {
            return "has too many parameters";
        }
        ccf->cpu_affinity_auto = 1;
        first = 2;
        n--;
    }

    ccf->cpu_affinity = sl_pcalloc(cf->pool, sl_max(n, 1) * sizeof(uint64_t));
    if (ccf->cpu_affinity == NULL) {
        return SL_CONF_ERROR;
    }

    if (ccf->cpu_affinity_auto && n == 0) {
        ccf->cpu_affinity[0] = UINT64_MAX;      /* auto: any CPU */
        ccf->cpu_affinity_n = 1;
        return SL_CONF_OK;
    }

    for (i = 0; i < n; i++) {
        if (sl_parse_cpu_mask(&value[first + i], &ccf->cpu_affinity[i])
            != SL_OK)
        {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid character \"%V\""
                              " in \"worker_cpu_affinity\"",
                              &value[first + i]);
            return SL_CONF_ERROR;
        }
    }

    ccf->cpu_affinity_n = n;
    return SL_CONF_OK;
}

static char *
sl_set_env(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t  *ccf = conf;
    sl_str_t        *value = cf->args->elts, *var;

    sl_unused(cmd);

    if (value[1].len == 0 || value[1].data[0] == '=') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable \"%V\" in "
                          "\"env\" directive", &value[1]);
        return SL_CONF_ERROR;
    }

    var = sl_array_push(&ccf->env);
    if (var == NULL) {
        return SL_CONF_ERROR;
    }

    *var = value[1];
    return SL_CONF_OK;
}

/* the mask of CPUs worker n runs on; 0: leave it */
uint64_t
sl_get_cpu_affinity(sl_core_conf_t *ccf, sl_uint_t n)
{
    uint64_t   mask;
    sl_uint_t  i, j;
    long       ncpu;

    if (ccf->cpu_affinity_n == 0) {
        return 0;
    }

    if (!ccf->cpu_affinity_auto) {
        return ccf->cpu_affinity[sl_min(n, ccf->cpu_affinity_n - 1)];
    }

    /* auto: the n-th CPU of the mask, round robin */
    mask = ccf->cpu_affinity[0];

    if (mask == UINT64_MAX) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu > 0 && ncpu < SL_MAX_CPU_AFFINITY) {
            mask = ((uint64_t) 1 << ncpu) - 1;
        }
    }
    if (mask == 0) {
        return 0;
    }

    for (j = 0; ; /* void */) {
        for (i = 0; i < SL_MAX_CPU_AFFINITY; i++) {
            if ((mask & ((uint64_t) 1 << i)) && j++ == n) {
                return (uint64_t) 1 << i;
            }
        }
        n %= j;
        j = 0;
    }
}
