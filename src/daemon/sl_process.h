/*
 * sl_process.h -- signals, the pid file, daemonizing and "-s signal".
 */
#ifndef SL_PROCESS_H
#define SL_PROCESS_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    int           signo;
    const char   *signame;      /* "SIGHUP" */
    const char   *name;         /* the -s word: "reload", or NULL */
} sl_signal_t;

extern const sl_signal_t  sl_signals[];

/* what the signal handler saw; the only mutable globals of sluice */
extern volatile sig_atomic_t  sl_sig_reconfigure;   /* HUP */
extern volatile sig_atomic_t  sl_sig_terminate;     /* TERM, INT */
extern volatile sig_atomic_t  sl_sig_quit;          /* QUIT */
extern volatile sig_atomic_t  sl_sig_reopen;        /* USR1 */
extern volatile sig_atomic_t  sl_sig_reap;          /* CHLD */
extern volatile sig_atomic_t  sl_sig_change_binary; /* USR2 */
extern volatile sig_atomic_t  sl_sig_noaccept;      /* WINCH */
extern volatile sig_atomic_t  sl_sig_alarm;         /* ALRM: fast stop's */

/* the pid that sent each signal last (by number), for the log */
#define SL_SIG_SENDERS  32
extern volatile sig_atomic_t  sl_sig_sender[SL_SIG_SENDERS];

sl_int_t sl_init_signals(sl_log_t *log);
/* "SIGHUP" for SIGHUP, "?" for a signal not in the table */
const char *sl_signal_name(int signo);
/* "signal 1 (SIGHUP) received from PID" and the action, at notice */
void sl_log_signal(sl_log_t *log, int signo, const char *action);
/* the signal for a -s word, or 0 */
int sl_signal_by_name(const char *name);
/* sends the -s signal to the pid in the cycle's pid file */
sl_int_t sl_signal_process(sl_cycle_t *cycle, const char *name);

sl_int_t sl_create_pidfile(sl_str_t *name, sl_log_t *log);
void sl_delete_pidfile(sl_str_t *name, sl_log_t *log);
/*
 * SL_OK in the detached child, which calls sl_daemon_ready(ready) once it
 * is up (its stderr let go of, its pid file written); in the parent, which
 * waits for that, SL_DONE when it came and SL_ABORT when the daemon died
 * first. SL_ERROR: no daemon.
 */
sl_int_t sl_daemonize(sl_log_t *log, sl_fd_t *ready);
void sl_daemon_ready(sl_fd_t *ready);
/*
 * A daemon's stderr goes to its error log (or /dev/null), so that it
 * holds no terminal or pipe of whoever started it.
 */
void sl_log_redirect_stderr(sl_log_t *log);

#endif /* SL_PROCESS_H */
