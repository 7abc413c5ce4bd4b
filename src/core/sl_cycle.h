/*
 * sl_cycle.h -- the cycle: everything one running configuration owns.
 *
 * A cycle is built from its predecessor (sl_init_cycle): the config is read
 * into fresh module configurations and the files it names are opened; if
 * anything fails the new cycle is thrown away and the old one goes on.
 *
 * A cycle never acts on the process itself (signals, user, pid file...):
 * that is the daemon's (src/daemon/), so that an embedded
 * instance (src/embed) builds its cycles with this same code.
 */
#ifndef SL_CYCLE_H
#define SL_CYCLE_H

#include "sl_config.h"
#include "sl_core.h"

struct sl_cycle_s {
    void             **conf_ctx;    /* by module index */
    sl_pool_t         *pool;

    /* this configuration's modules, NULL-terminated: see sl_module.h */
    sl_module_t      **modules;
    sl_uint_t          modules_n;
    sl_array_t         loaded;      /* sl_module_object_t *: load_module */
    /* the first block that used the modules, for load_module's error */
    const char        *modules_used_block;
    sl_str_t           modules_used_file;
    sl_uint_t          modules_used_line;

    sl_log_t          *log;         /* the log in force */
    sl_log_t           new_log;     /* the error_log chain of this config */

    sl_time_cache_t    time;
    sl_list_t          open_files;  /* sl_open_file_t: reopened on USR1 */
    sl_array_t         config_dump; /* sl_conf_dump_t, for -T */
    sl_array_t         listening;   /* sl_listening_t */
    struct sl_event_loop_s  *loop;  /* this process's event loop */

    sl_str_t           conf_file;   /* absolute */
    sl_str_t           conf_string; /* the config as text, or empty */
    sl_str_t           conf_param;  /* -g */
    sl_str_t           conf_prefix; /* the config file's directory, '/' */
    sl_str_t           prefix;      /* -p, ends with '/' */
    sl_str_t           error_log;   /* -e: the startup log */
    sl_str_t           hostname;

    /* while it is built: the cycle it replaces, whose zones it keeps */
    sl_cycle_t        *old_cycle;
    /*
     * Set only in a bootstrap cycle that stands in for the cycle in force
     * (an embedded instance's reload: the bootstrap has the new paths and
     * the log that captures errors, the cycle in force has the zones):
     * the cycle that the one built from this bootstrap replaces.
     */
    sl_cycle_t        *replaces;

    /*
     * The sessions accepted on this cycle's sockets and still open: a
     * configuration replaced in-process is freed when it comes to 0.
     */
    sl_uint_t          connections;
    /* the embedding instance (sluice.h); NULL in the daemon */
    void              *embed;
    /* an embedding host's log: it replaces the main error_log */
    sl_open_file_t    *log_sink;
    sl_uint_t          log_sink_level;

    unsigned           test_config:1;   /* -t */
    unsigned           test_dump:1;     /* -T */
    unsigned           quiet:1;         /* -q */
    /* in a host's process: directives acting on the process are refused */
    unsigned           embedded:1;

    /* sl_shm_zone_t: the zones the configuration declared */
    sl_list_t          shared_memory;
};

#define SL_MAX_CPU_AFFINITY  64        /* the CPUs a mask can name */

typedef struct {
    sl_flag_t          daemon;
    sl_flag_t          master;
    sl_int_t           worker_processes;
    sl_int_t           rlimit_nofile;
    sl_int_t           priority;        /* worker_priority */
    sl_msec_t          shutdown_timeout;    /* 0: none */
    sl_uint_t          cpu_affinity_auto;
    sl_uint_t          cpu_affinity_n;
    uint64_t          *cpu_affinity;    /* masks, or the auto mask */
    sl_str_t           pid;
    sl_str_t           oldpid;          /* pid ".oldbin" */
    sl_str_t           username;        /* empty: no privilege drop */
    uid_t              user;
    gid_t              group;
    sl_str_t           working_directory;
    sl_array_t         env;             /* sl_str_t: NAME or NAME=value */
} sl_core_conf_t;

extern sl_module_t  sl_core_module;

/* the CPUs (a bit each) worker n is bound to by worker_cpu_affinity; 0 */
uint64_t sl_get_cpu_affinity(sl_core_conf_t *ccf, sl_uint_t n);
extern sl_module_t  sl_conf_module;

/*
 * Builds the next cycle from old (its paths, log and flags), keeping the
 * zones of old, or of old->replaces when set; NULL on error.
 */
sl_cycle_t *sl_init_cycle(sl_cycle_t *old);
void sl_destroy_cycle(sl_cycle_t *cycle);
/* the open file for name, shared by every user of the same path */
sl_open_file_t *sl_conf_open_file(sl_cycle_t *cycle, sl_str_t *name);
/* reopens every file of the cycle; logs and keeps the old on failure */
void sl_reopen_files(sl_cycle_t *cycle);
/* the same, and a file reopened is given to user (when not -1) */
void sl_reopen_files_for(sl_cycle_t *cycle, uid_t user);

#endif /* SL_CYCLE_H */
