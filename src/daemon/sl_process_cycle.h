/*
 * sl_process_cycle.h -- the process model: one process that does
 * everything (master_process off), or a master that holds the listening
 * sockets and answers the signals, and workers that serve.
 *
 * The master never serves: it starts the workers, replaces one that dies,
 * re-reads the configuration on HUP (new workers on the new cycle, the
 * old ones told to finish their sessions and exit), reopens the logs on
 * USR1, starts a new binary on USR2 (the listening sockets passed on in
 * the environment), stops on TERM/INT (fast) or QUIT (graceful).
 *
 * The event loop and the cycle know nothing of it: an embedder drives
 * them without any of this.
 */
#ifndef SL_PROCESS_CYCLE_H
#define SL_PROCESS_CYCLE_H

#include "sl_config.h"
#include "sl_core.h"

/* the environment variable that hands sockets to a new binary */
#define SL_INHERIT_VAR  "SLUICE"

/* a worker's exit code that means "do not start me again" */
#define SL_FATAL_EXIT   2

/*
 * Runs the cycle until it is told to stop; returns the exit status. init
 * is the bootstrap cycle (its listening sockets: the inherited ones, for
 * a new binary); argv the command line, for a binary upgrade. In a worker
 * (and in a daemon's parent) it returns too, with that process's status:
 * the caller frees what it holds and exits.
 */
int sl_process_start(sl_cycle_t *cycle, sl_cycle_t *init,
    char *const *argv);

#endif /* SL_PROCESS_CYCLE_H */
