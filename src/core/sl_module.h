/*
 * sl_module.h -- modules: a name, a type, a context of hooks for its type,
 * a directive table and life-cycle hooks. The list is static and is
 * written by configure into objs/sl_modules.c.
 */
#ifndef SL_MODULE_H
#define SL_MODULE_H

#include "sl_config.h"
#include "sl_core.h"

#define SL_CORE_MODULE    0x45524f43   /* "CORE" */
#define SL_CONF_MODULE    0x464e4f43   /* "CONF" */
#define SL_EVENT_MODULE   0x544e5645   /* "EVNT" */

struct sl_module_s {
    sl_uint_t        ctx_index;     /* among the modules of its type */
    sl_uint_t        index;         /* in sl_modules[] */
    const char      *name;
    void            *ctx;           /* hooks of its type, e.g. sl_core_module_t */
    sl_command_t    *commands;
    sl_uint_t        type;

    sl_int_t       (*init_module)(sl_cycle_t *cycle);
    sl_int_t       (*init_process)(sl_cycle_t *cycle);
    void           (*exit_process)(sl_cycle_t *cycle);
};

/* the context of a core module: its main-level configuration */
typedef struct {
    sl_str_t         name;
    void          *(*create_conf)(sl_cycle_t *cycle);
    char          *(*init_conf)(sl_cycle_t *cycle, void *conf);
} sl_core_module_t;

extern sl_module_t *const  sl_modules[];

/*
 * Numbers the modules (index, ctx_index) once per process, whatever the
 * number of threads that call it; after it they are read-only.
 */
void sl_preinit_modules(void);
sl_uint_t sl_count_modules(sl_uint_t type);
sl_uint_t sl_modules_total(void);

/* every module's init_process hook for cycle, in order; SL_ERROR at once */
sl_int_t sl_modules_init_process(sl_cycle_t *cycle);
/* every module's exit_process hook */
void sl_modules_exit_process(sl_cycle_t *cycle);

#define sl_get_conf(conf_ctx, module)  (conf_ctx)[module.index]

#endif /* SL_MODULE_H */
