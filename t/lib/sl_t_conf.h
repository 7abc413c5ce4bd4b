/*
 * sl_t_conf.h -- tests of the configuration: a scratch prefix (with conf/
 * and logs/) and a cycle loaded from its conf/sluice.conf, the messages
 * of the load kept in sl_tc.errors.
 *
 *     tcase_add_checked_fixture(tc, sl_tc_setup, sl_tc_teardown);
 *     sl_tc_write_str("conf/sluice.conf", "daemon off;\n");
 *     ck_assert_ptr_nonnull(sl_tc_load(NULL));
 */
#ifndef SL_T_CONF_H
#define SL_T_CONF_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    char             dir[PATH_MAX / 2];   /* the prefix */
    char             log_path[PATH_MAX];  /* the startup log */
    sl_cycle_t       init;                /* the bootstrap cycle */
    sl_log_t         log;
    sl_open_file_t   file;
    sl_cycle_t      *cycle;               /* what sl_tc_load() built */
    char             errors[8192];        /* what it logged */
} sl_tc_t;

extern sl_tc_t  sl_tc;

void sl_tc_setup(void);
/* forgets what sl_tc_load() made; the prefix stays */
void sl_tc_unload(void);
void sl_tc_teardown(void);

/* writes the prefix's file name (e.g. "conf/a.conf") */
void sl_tc_write(const char *name, const char *content, size_t len);
void sl_tc_write_str(const char *name, const char *content);

/*
 * Loads conf/sluice.conf, with param as -g when not NULL, after forgetting
 * the previous load. The cycle, or NULL; the log's text is sl_tc.errors.
 */
sl_cycle_t *sl_tc_load(const char *param);

#endif /* SL_T_CONF_H */
