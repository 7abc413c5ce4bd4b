/*
 * sl_stream_variables.h -- session variables ($remote_addr, $status, ...).
 *
 * Modules register variables by name, with a get handler, while the
 * configuration is read (normally in their preconfiguration hook). A
 * directive that uses a variable asks for its index at configuration
 * time; a session keeps one value slot per index and computes a value
 * the first time it is asked for (every time for a NOCACHEABLE one).
 * Names are case-insensitive. The registry lives in the stream core main
 * conf; nothing here is global.
 */
#ifndef SL_STREAM_VARIABLES_H
#define SL_STREAM_VARIABLES_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    unsigned       len:28;
    unsigned       valid:1;         /* computed for this session */
    unsigned       no_cacheable:1;  /* computed again when flushed */
    unsigned       not_found:1;     /* the handler found nothing */
    unsigned       escape:1;
    u_char        *data;
} sl_stream_variable_value_t;

typedef struct sl_stream_variable_s  sl_stream_variable_t;

/* fill v (len, data, valid) and return SL_OK; SL_ERROR for "not found" */
typedef sl_int_t (*sl_stream_get_variable_pt)(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);
typedef void (*sl_stream_set_variable_pt)(sl_stream_session_t *s,
    sl_stream_variable_value_t *v, uintptr_t data);

/* flags of sl_stream_add_variable() */
#define SL_STREAM_VAR_CHANGEABLE   0x01   /* may be registered again */
#define SL_STREAM_VAR_NOCACHEABLE  0x02   /* changes during a session */
#define SL_STREAM_VAR_INDEXED      0x04   /* set once something uses it */
#define SL_STREAM_VAR_NOHASH       0x08   /* not found by name at run time */
/*
 * The name is a prefix: every used variable that starts with it and has
 * no handler of its own gets this one, with data pointing at the full
 * name (an sl_str_t, lower case) -- as $proxy_protocol_tlv_NAME.
 */
#define SL_STREAM_VAR_PREFIX       0x10

struct sl_stream_variable_s {
    sl_str_t                    name;       /* lower case */
    sl_stream_set_variable_pt   set_handler;
    sl_stream_get_variable_pt   get_handler;
    uintptr_t                   data;
    sl_uint_t                   flags;
    sl_uint_t                   index;
};

/*
 * Registers a variable (or finds a CHANGEABLE one) and returns it for the
 * caller to set its handlers. A second registration of a variable that is
 * not changeable is the error "the duplicate "NAME" variable".
 */
sl_stream_variable_t *sl_stream_add_variable(sl_conf_t *cf, sl_str_t *name,
    sl_uint_t flags);
/*
 * The index of a variable for the sessions' value slots, or SL_ERROR.
 * The name need not be registered yet: an unknown one is reported when
 * the stream{} block ends ("unknown "NAME" variable").
 */
sl_int_t sl_stream_get_variable_index(sl_conf_t *cf, sl_str_t *name);

/* the value, computed at most once per session; NULL when not found */
sl_stream_variable_value_t *sl_stream_get_indexed_variable(
    sl_stream_session_t *s, sl_uint_t index);
/* the same, but a NOCACHEABLE value is computed again */
sl_stream_variable_value_t *sl_stream_get_flushed_variable(
    sl_stream_session_t *s, sl_uint_t index);
/* by name at run time: name is lower case, key its sl_hash_key() */
sl_stream_variable_value_t *sl_stream_get_variable(sl_stream_session_t *s,
    sl_str_t *name, sl_uint_t key);

/* the core variables; the stream core module's preconfiguration */
sl_int_t sl_stream_variables_add_core_vars(sl_conf_t *cf);
/* binds the indexed variables to their handlers: the end of stream{} */
sl_int_t sl_stream_variables_init_vars(sl_conf_t *cf);

#endif /* SL_STREAM_VARIABLES_H */
