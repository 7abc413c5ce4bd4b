/*
 * sl_process_upgrade.c -- a binary upgrade (USR2): the pid file renamed
 * NAME.oldbin, the binary sluice was started from (resolved at start)
 * forked and executed again with the same arguments and its environment,
 * the listening sockets handed on in SL_INHERIT_VAR ("SLUICE=fd;fd;...");
 * and, should the new binary die, the pid file given back.
 *
 * It never touches the workers, nor closes or reopens a listening socket:
 * the new binary takes them over (sl_listening_inherit()), and the old
 * master keeps serving until it is told to stop.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_process_master.h"

/*
 * USR2: the pid file becomes NAME.oldbin, and the binary sluice was
 * started from runs again with the same arguments and the listening
 * sockets in SLUICE="fd;fd;...". Should it die, the pid file comes back.
 */
void
sl_exec_new_binary(sl_master_t *m)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);
    sl_cycle_t      *cycle = m->cycle;
    sl_pool_t       *pool;
    sigset_t         empty;
    char           **env, *var;
    pid_t            pid;

    if (m->new_binary || (m->inherited && getppid() == m->parent)) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "the changing binary "
                     "signal is ignored: you should shutdown or terminate "
                     "before either old or new binary's process");
        return;
    }

    if (m->binary == NULL) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "the binary sluice was "
                     "started from is not known: \"%s\"", m->argv[0]);
        return;
    }

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "changing binary");

    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, cycle->log);
    if (pool == NULL) {
        return;
    }

    var = sl_listening_env(cycle, SL_INHERIT_VAR);
    env = var ? sl_environment(pool, ccf, m->environ, var) : NULL;
    if (env == NULL) {
        sl_destroy_pool(pool);
        return;
    }

    if (rename((char *) ccf->pid.data, (char *) ccf->oldpid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "rename() %V to %V "
                     "failed before executing new binary process \"%s\"",
                     &ccf->pid, &ccf->oldpid, m->binary);
        sl_destroy_pool(pool);
        return;
    }

    pid = fork();

    switch (pid) {

    case -1:
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "fork() failed while "
                     "executing new binary process \"%s\"", m->binary);
        if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
            sl_log_error(SL_LOG_ALERT, cycle->log, errno, "rename() %V back "
                         "to %V failed", &ccf->oldpid, &ccf->pid);
        }
        break;

    case 0:
        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);

        if (sl_listening_keep_on_exec(cycle) == SL_OK) {
            (void) execve(m->binary, m->argv, env);
        }

        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "execve() failed while "
                     "executing new binary process \"%s\"", m->binary);
        _exit(1);

    default:
        sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "start new binary process "
                     "%i", (sl_int_t) pid);
        m->new_binary = pid;
        break;
    }

    /* the memory of the variable is the cycle's: a few bytes a USR2 */
    sl_destroy_pool(pool);
}

/* the new binary is gone: this master is the master again */
void
sl_new_binary_exited(sl_master_t *m, int status)
{
    sl_core_conf_t  *ccf = sl_ccf(m->cycle);

    sl_log_exit_status(m, "new binary process", m->new_binary, status, 0);
    m->new_binary = 0;

    if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, m->cycle->log, errno, "rename() %V back "
                     "to %V failed after the new binary process \"%s\" "
                     "exited", &ccf->oldpid, &ccf->pid, m->binary);
    }

    if (m->noaccepting) {
        m->noaccepting = 0;
        m->restart = 1;
    }
}

/* argv[0] as an absolute path: by itself, or found in PATH */
char *
sl_resolve_binary(const char *argv0)
{
    const char  *path, *end;
    char         buf[PATH_MAX];
    int          len;

    if (strchr(argv0, '/') != NULL) {
        return realpath(argv0, NULL);
    }

    path = getenv("PATH");

    for ( ; path != NULL && *path != '\0'; path = *end ? end + 1 : end) {
        end = strchr(path, ':');
        if (end == NULL) {
            end = path + strlen(path);
        }

        len = snprintf(buf, sizeof(buf), "%.*s/%s", (int) (end - path),
                       path, argv0);
        if (len > 0 && (size_t) len < sizeof(buf) && access(buf, X_OK) == 0) {
            return realpath(buf, NULL);
        }
    }

    return realpath("/proc/self/exe", NULL);
}
