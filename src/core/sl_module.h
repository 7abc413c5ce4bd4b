/*
 * sl_module.h -- modules: a name, a type, a context of hooks for its type,
 * a directive table and life-cycle hooks.
 *
 * The built-in list is static (configure writes it into objs/sl_modules.c)
 * and numbered once per process. Each cycle has its own table: the
 * built-in modules, then those its load_module lines brought in
 * (sl_module_loader.c). Code that walks "the modules" walks the cycle's
 * table, never the static list.
 *
 * A module's index (in conf_ctx) and ctx_index (among its type) are
 * written once: the built-in ones by sl_preinit_modules(), a loaded one by
 * the loader when its object is first opened, before any cycle sees it.
 * Nothing writes them afterwards, so cycles in several threads may share
 * a module.
 */
#ifndef SL_MODULE_H
#define SL_MODULE_H

#include "sl_config.h"
#include "sl_core.h"
#include "sl_module_abi.h"

#include <openssl/opensslv.h>

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

/*
 * The ABI of full modules (the SDK tier): a module built for major M and
 * minor N loads into a sluice of major M and minor N or later. The minor
 * grows when the SDK gains something; the major when anything a module
 * may use changes its layout or meaning.
 */
#define SL_MODULE_ABI_MAJOR   2
#define SL_MODULE_ABI_MINOR   1

/* the modules one configuration may load, at most */
#define SL_MAX_DYNAMIC_MODULES  64
/*
 * The numbers loaded modules can have in one process: those of older
 * configurations (still serving their sessions) and of other embedded
 * instances count too. A number comes back when its object is unloaded.
 */
#define SL_MODULE_SLOTS         256

/*
 * Declares a full module: its name (that of its object, NAME.so) and
 * its sl_module_t structures, e.g.
 *
 *     SL_MODULE(inetd, &sl_stream_inetd_module);
 *
 * once per object, after the structures it names.
 */
#define SL_MODULE(name, ...)                                                  \
    static sl_module_t *const  sl_module_list_##name[] = {                    \
        __VA_ARGS__, NULL                                                     \
    };                                                                        \
    extern const sl_module_abi_t  sl_module_abi_##name;                       \
    const sl_module_abi_t  sl_module_abi_##name = {                           \
        SL_MODULE_ABI_MAGIC, SL_MODULE_ABI_MAJOR, SL_MODULE_ABI_MINOR,        \
        SL_MODULE_KIND_FULL, sizeof(void *), sizeof(off_t), sizeof(time_t),   \
        OPENSSL_VERSION_MAJOR, SL_VERSION, #name, sl_module_list_##name,      \
        SL_MODULE_ORDER                                                       \
    };                                                                        \
    SL_MODULE_ABI_EXPORT(name)

extern sl_module_t *const  sl_modules[];
/* for -V: the modules --add-dynamic-module built beside sluice */
extern const char *const   sl_dynamic_module_names[];
/* the records of the handler modules built in (--add-module) */
extern const sl_module_abi_t *const  sl_static_handler_modules[];

/*
 * Numbers the built-in modules (index, ctx_index) once per process,
 * whatever the number of threads that call it; after it they are
 * read-only.
 */
void sl_preinit_modules(void);
/* the built-in modules */
sl_uint_t sl_modules_builtin(void);
/* the size of a cycle's conf_ctx: every index a module can have */
sl_uint_t sl_modules_max(void);

/* the cycle's table, made of the built-in modules */
sl_int_t sl_cycle_init_modules(sl_cycle_t *cycle);
/* one more than the highest ctx_index of type among cycle's modules */
sl_uint_t sl_count_modules(sl_cycle_t *cycle, sl_uint_t type);
/* the module called name in cycle's table, or NULL */
sl_module_t *sl_cycle_find_module(sl_cycle_t *cycle, const char *name);
/*
 * sl_module_loader.c: the handler (a const sl_stream_handler_t *) of the
 * handler module called name that cycle loaded, or NULL
 */
const void *sl_cycle_find_handler_module(sl_cycle_t *cycle, sl_str_t *name);

/*
 * A block whose modules a later load_module could no longer reach has
 * begun (events, stream): load_module after it is an error naming it.
 */
void sl_conf_modules_used(sl_conf_t *cf, const char *block);
/*
 * The line of a "load_module" at the start of a line later in the file
 * being read, or 0: a hint for the error of a directive nothing knows.
 */
sl_uint_t sl_conf_late_load_module(sl_conf_t *cf);

/* every module's init_module hook, once a configuration is read */
sl_int_t sl_modules_init_module(sl_cycle_t *cycle);
/* every module's init_process hook for cycle, in order; SL_ERROR at once */
sl_int_t sl_modules_init_process(sl_cycle_t *cycle);
/* every module's exit_process hook */
void sl_modules_exit_process(sl_cycle_t *cycle);

#define sl_get_conf(conf_ctx, module)  (conf_ctx)[module.index]

#endif /* SL_MODULE_H */
