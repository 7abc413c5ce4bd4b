/*
 * sl_module.c -- numbering the built-in modules, and each cycle's table of
 * modules: what every walk over "the modules" goes through.
 *
 * It never writes a module structure after sl_preinit_modules(): loaded
 * modules are numbered by sl_module_loader.c, once per opened object.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <pthread.h>

static pthread_once_t  sl_modules_once = PTHREAD_ONCE_INIT;
static sl_uint_t       sl_modules_n;

static void
sl_number_modules(void)
{
    sl_uint_t  i, j;

    for (i = 0; sl_modules[i] != NULL; i++) {
        sl_modules[i]->index = i;
        sl_modules[i]->ctx_index = 0;

        /* the position among the earlier modules of the same type */
        for (j = 0; j < i; j++) {
            if (sl_modules[j]->type == sl_modules[i]->type) {
                sl_modules[i]->ctx_index++;
            }
        }
    }

    sl_modules_n = i;
}

void
sl_preinit_modules(void)
{
    (void) pthread_once(&sl_modules_once, sl_number_modules);
}

sl_uint_t
sl_modules_builtin(void)
{
    sl_preinit_modules();
    return sl_modules_n;
}

sl_uint_t
sl_modules_max(void)
{
    return sl_modules_builtin() + SL_MODULE_SLOTS;
}

sl_int_t
sl_cycle_init_modules(sl_cycle_t *cycle)
{
    sl_uint_t  n = sl_modules_builtin();

    cycle->modules = sl_pcalloc(cycle->pool,
                                (sl_modules_max() + 1) * sizeof(sl_module_t *));
    if (cycle->modules == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(cycle->modules, sl_modules, n * sizeof(sl_module_t *));
    cycle->modules_n = n;

    return SL_OK;
}

sl_uint_t
sl_count_modules(sl_cycle_t *cycle, sl_uint_t type)
{
    sl_uint_t  i, n = 0;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type == type
            && cycle->modules[i]->ctx_index >= n)
        {
            n = cycle->modules[i]->ctx_index + 1;
        }
    }

    return n;
}

sl_module_t *
sl_cycle_find_module(sl_cycle_t *cycle, const char *name)
{
    sl_uint_t  i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (sl_strcmp(cycle->modules[i]->name, name) == 0) {
            return cycle->modules[i];
        }
    }

    return NULL;
}

void
sl_conf_modules_used(sl_conf_t *cf, const char *block)
{
    sl_cycle_t  *cycle = cf->cycle;

    if (cycle->modules_used_block != NULL) {
        return;
    }

    cycle->modules_used_block = block;
    cycle->modules_used_line = cf->conf_file->start_line;
    cycle->modules_used_file = cf->conf_file->name;
}

/*
 * For an unknown directive: the line of a main-context "load_module" later
 * in the file being read, which may have been meant to provide it; 0 when
 * there is none. Only the cold path of an error reads this far ahead.
 */
sl_uint_t
sl_conf_late_load_module(sl_conf_t *cf)
{
    static const char  word[] = "load_module";
    u_char            *p, *bol;
    sl_uint_t          line;

    if (cf->conf_file == NULL || cf->conf_file->pos == NULL) {
        return 0;
    }

    line = cf->conf_file->line;
    bol = NULL;

    for (p = cf->conf_file->pos; p < cf->conf_file->end; p++) {
        if (*p == '\n') {
            line++;
            bol = p + 1;
            continue;
        }

        if (bol == NULL || (*p == ' ' || *p == '\t')) {
            continue;
        }

        if ((size_t) (cf->conf_file->end - p) > sizeof(word) - 1
            && sl_strncmp(p, word, sizeof(word) - 1) == 0
            && (p[sizeof(word) - 1] == ' ' || p[sizeof(word) - 1] == '\t'))
        {
            return line;
        }

        bol = NULL;
    }

    return 0;
}

sl_int_t
sl_modules_init_module(sl_cycle_t *cycle)
{
    sl_uint_t  i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->init_module != NULL
            && cycle->modules[i]->init_module(cycle) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

sl_int_t
sl_modules_init_process(sl_cycle_t *cycle)
{
    sl_uint_t  i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->init_process != NULL
            && cycle->modules[i]->init_process(cycle) != SL_OK)
        {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

void
sl_modules_exit_process(sl_cycle_t *cycle)
{
    sl_uint_t  i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->exit_process != NULL) {
            cycle->modules[i]->exit_process(cycle);
        }
    }
}
