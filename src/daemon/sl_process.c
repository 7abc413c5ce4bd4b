/*
 * sl_process.c -- signals, the pid file, daemonizing and "-s signal".
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_process.h"

volatile sig_atomic_t  sl_sig_reconfigure;
volatile sig_atomic_t  sl_sig_terminate;
volatile sig_atomic_t  sl_sig_quit;
volatile sig_atomic_t  sl_sig_reopen;
volatile sig_atomic_t  sl_sig_reap;
volatile sig_atomic_t  sl_sig_change_binary;
volatile sig_atomic_t  sl_sig_noaccept;
volatile sig_atomic_t  sl_sig_alarm;
volatile sig_atomic_t  sl_sig_sender[SL_SIG_SENDERS];

const sl_signal_t  sl_signals[] = {
    { SIGHUP,  "SIGHUP",  "reload" },
    { SIGUSR1, "SIGUSR1", "reopen" },
    { SIGTERM, "SIGTERM", "stop" },
    { SIGQUIT, "SIGQUIT", "quit" },
    { SIGINT,  "SIGINT",  NULL },
    { SIGWINCH, "SIGWINCH", NULL },
    { SIGUSR2, "SIGUSR2", NULL },
    { SIGCHLD, "SIGCHLD", NULL },
    { SIGALRM, "SIGALRM", NULL },
    { 0, NULL, NULL }
};

static void
sl_signal_handler(int signo, siginfo_t *si, void *unused)
{
    int  saved = errno;

    (void) unused;

    if (signo < SL_SIG_SENDERS) {
        sl_sig_sender[signo] = si != NULL ? (sig_atomic_t) si->si_pid : 0;
    }

    switch (signo) {
    case SIGHUP:
        sl_sig_reconfigure = 1;
        break;
    case SIGUSR1:
        sl_sig_reopen = 1;
        break;
    case SIGQUIT:
        sl_sig_quit = 1;
        break;
    case SIGCHLD:
        sl_sig_reap = 1;
        break;
    case SIGUSR2:
        sl_sig_change_binary = 1;
        break;
    case SIGWINCH:
        sl_sig_noaccept = 1;
        break;
    case SIGALRM:
        sl_sig_alarm = 1;
        break;
    default:
        sl_sig_terminate = signo;       /* TERM or INT: which, for the log */
        break;
    }

    errno = saved;
}

sl_int_t
sl_init_signals(sl_log_t *log)
{
    const sl_signal_t  *sig;
    struct sigaction    sa;

    sl_memzero(&sa, sizeof(sa));
    sa.sa_sigaction = sl_signal_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);

    for (sig = sl_signals; sig->signo != 0; sig++) {
        if (sigaction(sig->signo, &sa, NULL) == -1) {
            sl_log_error(SL_LOG_EMERG, log, errno, "sigaction(%s) failed",
                         sig->signame);
            return SL_ERROR;
        }
    }

    /* a write to a closed socket is an error to handle, not a death */
    sa.sa_flags = 0;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "sigaction(SIGPIPE) failed");
        return SL_ERROR;
    }

    return SL_OK;
}

const char *
sl_signal_name(int signo)
{
    const sl_signal_t  *sig;

    for (sig = sl_signals; sig->signo != 0; sig++) {
        if (sig->signo == signo) {
            return sig->signame;
        }
    }

    return "?";
}

void
sl_log_signal(sl_log_t *log, int signo, const char *action)
{
    sl_int_t  pid = 0;

    if (signo < SL_SIG_SENDERS) {
        pid = (sl_int_t) sl_sig_sender[signo];
    }

    sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (%s) received from %i%s",
                 signo, sl_signal_name(signo), pid, action);
}

int
sl_signal_by_name(const char *name)
{
    const sl_signal_t  *sig;

    for (sig = sl_signals; sig->signo != 0; sig++) {
        if (sig->name != NULL && strcmp(sig->name, name) == 0) {
            return sig->signo;
        }
    }

    return 0;
}

sl_int_t
sl_signal_process(sl_cycle_t *cycle, const char *name)
{
    sl_core_conf_t  *ccf;
    u_char           buf[SL_INT_T_LEN + 2];
    ssize_t          n;
    sl_int_t         pid;
    sl_fd_t          fd;

    ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    fd = open((char *) ccf->pid.data, O_RDONLY | O_CLOEXEC);
    if (fd == SL_INVALID_FILE) {
        sl_log_error(SL_LOG_ERR, cycle->log, errno, "open() \"%V\" failed",
                     &ccf->pid);
        return SL_ERROR;
    }

    n = read(fd, buf, sizeof(buf));
    if (n == -1) {
        sl_log_error(SL_LOG_ERR, cycle->log, errno, "read() \"%V\" failed",
                     &ccf->pid);
    }
    close(fd);

    if (n == -1) {
        return SL_ERROR;
    }

    while (n > 0 && (buf[n - 1] == CR || buf[n - 1] == LF)) {
        n--;
    }

    pid = sl_atoi(buf, (size_t) n);
    if (pid == SL_ERROR || pid == 0) {
        sl_log_error(SL_LOG_ERR, cycle->log, 0,
                     "invalid PID number \"%*s\" in \"%V\"", (size_t) n, buf,
                     &ccf->pid);
        return SL_ERROR;
    }

    if (kill((pid_t) pid, sl_signal_by_name(name)) == -1) {
        sl_log_error(SL_LOG_ERR, cycle->log, errno, "kill(%i, %d) failed", pid,
                     sl_signal_by_name(name));
        return SL_ERROR;
    }

    return SL_OK;
}

sl_int_t
sl_create_pidfile(sl_str_t *name, sl_log_t *log)
{
    u_char   buf[SL_INT_T_LEN + 2], *p;
    sl_fd_t  fd;

    fd = open((char *) name->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
              0644);
    if (fd == SL_INVALID_FILE) {
        sl_log_error(SL_LOG_EMERG, log, errno, "open() \"%V\" failed", name);
        return SL_ERROR;
    }

    p = sl_snprintf(buf, sizeof(buf), "%i%N", (sl_int_t) getpid());

    if (sl_write_fd(fd, buf, (size_t) (p - buf)) == SL_ERROR) {
        sl_log_error(SL_LOG_EMERG, log, errno, "write() \"%V\" failed", name);
        close(fd);
        return SL_ERROR;
    }

    close(fd);
    return SL_OK;
}

void
sl_delete_pidfile(sl_str_t *name, sl_log_t *log)
{
    if (unlink((char *) name->data) == -1 && errno != ENOENT) {
        sl_log_error(SL_LOG_ALERT, log, errno, "unlink() \"%V\" failed",
                     name);
    }
}

sl_int_t
sl_daemonize(sl_log_t *log, sl_fd_t *ready)
{
    sl_fd_t  fd, p[2];
    ssize_t  n;
    u_char   c;

    if (pipe2(p, O_CLOEXEC) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "pipe2() failed");
        return SL_ERROR;
    }

    switch (fork()) {
    case -1:
        sl_log_error(SL_LOG_EMERG, log, errno, "fork() failed");
        close(p[0]);
        close(p[1]);
        return SL_ERROR;
    case 0:
        close(p[0]);
        *ready = p[1];
        break;
    default:
        /* the parent: it waits for the daemon to be up, or to fail */
        close(p[1]);
        do {
            n = read(p[0], &c, 1);
        } while (n == -1 && errno == EINTR);
        close(p[0]);
        return n == 1 ? SL_DONE : SL_ABORT;
    }

    if (setsid() == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "setsid() failed");
        return SL_ERROR;
    }

    umask(0);

    fd = open("/dev/null", O_RDWR);
    if (fd == SL_INVALID_FILE) {
        sl_log_error(SL_LOG_EMERG, log, errno, "open(\"/dev/null\") failed");
        return SL_ERROR;
    }

    if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "dup2() failed");
        close(fd);
        return SL_ERROR;
    }

    if (fd > STDERR_FILENO) {
        close(fd);
    }

    return SL_OK;
}

void
sl_daemon_ready(sl_fd_t *ready)
{
    if (*ready == SL_INVALID_FILE) {
        return;
    }

    (void) sl_write_fd(*ready, "1", 1);
    close(*ready);
    *ready = SL_INVALID_FILE;
}

void
sl_log_redirect_stderr(sl_log_t *log)
{
    sl_fd_t  fd = SL_INVALID_FILE;

    /* the first log that has a file of its own; else /dev/null */
    for ( ; log != NULL; log = log->next) {
        if (log->file != NULL && log->file->fd > STDERR_FILENO) {
            fd = log->file->fd;
            break;
        }
    }

    if (fd == SL_INVALID_FILE) {
        fd = open("/dev/null", O_WRONLY);
        if (fd == SL_INVALID_FILE) {
            return;
        }
        (void) dup2(fd, STDERR_FILENO);
        close(fd);
        return;
    }

    if (dup2(fd, STDERR_FILENO) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "dup2(STDERR) failed");
    }
}
