/*
 * sl_event.h -- the events{} block and the event modules' interface.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include "sl_config.h"
#include "sl_core.h"

#define SL_DEFAULT_CONNECTIONS  512

typedef struct {
    sl_uint_t      connections;     /* worker_connections */
    sl_str_t       use;             /* the back end's name; empty: best */
    sl_flag_t      multi_accept;
} sl_event_conf_t;

typedef struct {
    sl_str_t       name;
    void        *(*create_conf)(sl_cycle_t *cycle);
    char        *(*init_conf)(sl_cycle_t *cycle, void *conf);
} sl_event_module_t;

extern sl_module_t  sl_events_module;
extern sl_module_t  sl_event_core_module;

/* the conf of an event module in the cycle's events{} context */
#define sl_event_get_conf(conf_ctx, module)                                   \
    (*((void ***) (conf_ctx)[sl_events_module.index]))[(module).ctx_index]

/* the back ends configure found on this system, best first */
extern const sl_str_t  sl_event_backends[];

#endif /* SL_EVENT_H */
