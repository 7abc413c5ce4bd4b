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

sl_int_t sl_init_signals(sl_log_t *log);
/* the signal for a -s word, or 0 */
int sl_signal_by_name(const char *name);
/* sends the -s signal to the pid in the cycle's pid file */
sl_int_t sl_signal_process(sl_cycle_t *cycle, const char *name);

sl_int_t sl_create_pidfile(sl_str_t *name, sl_log_t *log);
void sl_delete_pidfile(sl_str_t *name, sl_log_t *log);
/* SL_OK in the detached child, SL_DONE in the parent, or SL_ERROR */
sl_int_t sl_daemonize(sl_log_t *log);
/*
 * A daemon's stderr goes to its error log (or /dev/null), so that it
 * holds no terminal or pipe of whoever started it.
 */
void sl_log_redirect_stderr(sl_log_t *log);

#endif /* SL_PROCESS_H */
