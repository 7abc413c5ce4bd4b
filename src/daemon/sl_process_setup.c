/*
 * sl_process_setup.c -- what a process sets about itself before it serves:
 * a worker's environment ("env", TZ), priority, open-file limit, user and
 * group, CPU affinity and working directory; the single process's limit;
 * the environment of a new binary.
 *
 * Only the process that calls it is changed, once, before its loop runs:
 * it must never fork, signal or wait for another process, and never touch
 * a listening socket or the loop.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_process_master.h"

#include <grp.h>
#include <sched.h>

extern char  **environ;

/* worker_rlimit_nofile, where set: in a worker, or the single process */
void
sl_set_rlimit_nofile(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    struct rlimit  rlmt;

    if (ccf->rlimit_nofile == SL_CONF_UNSET) {
        return;
    }

    rlmt.rlim_cur = (rlim_t) ccf->rlimit_nofile;
    rlmt.rlim_max = (rlim_t) ccf->rlimit_nofile;

    if (setrlimit(RLIMIT_NOFILE, &rlmt) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "setrlimit(RLIMIT_NOFILE, %i) failed",
                     ccf->rlimit_nofile);
    }
}

static sl_int_t
sl_worker_user(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    if (geteuid() != 0 || ccf->username.data == NULL) {
        return SL_OK;
    }

    if (setgid(ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setgid(%d) failed",
                     (int) ccf->group);
        return SL_ERROR;
    }

    if (initgroups((char *) ccf->username.data, ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "initgroups(%V, %d) "
                     "failed", &ccf->username, (int) ccf->group);
        return SL_ERROR;
    }

    if (setuid(ccf->user) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setuid(%d) failed",
                     (int) ccf->user);
        return SL_ERROR;
    }

    return SL_OK;
}

static void
sl_worker_affinity(sl_cycle_t *cycle, sl_core_conf_t *ccf, sl_uint_t n)
{
#if defined(__linux__)
    cpu_set_t  set;
    uint64_t   mask;
    int        i;

    mask = sl_get_cpu_affinity(ccf, n);
    if (mask == 0) {
        return;
    }

    CPU_ZERO(&set);

    for (i = 0; i < SL_MAX_CPU_AFFINITY; i++) {
        if (mask & ((uint64_t) 1 << i)) {
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0,
                         "sched_setaffinity(): using cpu #%d", i);
            CPU_SET(i, &set);
        }
    }

    if (sched_setaffinity(0, sizeof(cpu_set_t), &set) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "sched_setaffinity() failed");
    }
#else
    sl_unused(cycle);
    sl_unused(ccf);
    sl_unused(n);
#endif
}

sl_int_t
sl_worker_init(sl_master_t *m, sl_uint_t n)
{
    sl_cycle_t      *cycle = m->cycle;
    sl_core_conf_t  *ccf = sl_ccf(cycle);
    char           **env;

    env = sl_environment(cycle->pool, ccf, m->environ, NULL);
    if (env == NULL) {
        return SL_ERROR;
    }
    environ = env;

    if (ccf->priority != 0
        && setpriority(PRIO_PROCESS, 0, (int) ccf->priority) == -1)
    {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "setpriority(%i) failed", ccf->priority);
    }

    sl_set_rlimit_nofile(cycle, ccf);

    if (sl_worker_user(cycle, ccf) != SL_OK) {
        return SL_ERROR;
    }

    sl_worker_affinity(cycle, ccf, n);

    if (ccf->working_directory.len > 0
        && chdir((char *) ccf->working_directory.data) == -1)
    {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "chdir(\"%V\") failed",
                     &ccf->working_directory);
        return SL_ERROR;
    }

    return SL_OK;
}

/* "NAME=..." of from, or NULL */
static char *
sl_getenv(char **from, const u_char *name, size_t len)
{
    for ( ; *from != NULL; from++) {
        if (strncmp(*from, (const char *) name, len) == 0
            && (*from)[len] == '=')
        {
            return *from;
        }
    }

    return NULL;
}

/*
 * The environment of a worker (and of a new binary, with extra): TZ and
 * what "env" lists, NAME taken from from, NAME=value as it is.
 */
char **
sl_environment(sl_pool_t *pool, sl_core_conf_t *ccf, char **from,
    char *extra)
{
    sl_str_t   *var = ccf->env.elts;
    sl_uint_t   i, n = 0;
    u_char     *eq, *p;
    char      **env, *tz;

    env = sl_palloc(pool, (ccf->env.nelts + 3) * sizeof(char *));
    if (env == NULL) {
        return NULL;
    }

    tz = sl_getenv(from, (u_char *) "TZ", 2);
    if (tz != NULL) {
        env[n++] = tz;
    }

    for (i = 0; i < ccf->env.nelts; i++) {
        eq = memchr(var[i].data, '=', var[i].len);

        if (eq == NULL) {
            if (var[i].len == 2 && sl_strncmp(var[i].data, "TZ", 2) == 0) {
                continue;
            }

            env[n] = sl_getenv(from, var[i].data, var[i].len);
            if (env[n] != NULL) {
                n++;
            }
            continue;
        }

        p = sl_pnalloc(pool, var[i].len + 1);
        if (p == NULL) {
            return NULL;
        }
        sl_memcpy(p, var[i].data, var[i].len);
        p[var[i].len] = '\0';
        env[n++] = (char *) p;
    }

    if (extra != NULL) {
        env[n++] = extra;
    }

    env[n] = NULL;
    return env;
}
