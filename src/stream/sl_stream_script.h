/*
 * sl_stream_script.h -- complex values: a string with "$name" and
 * "${name}" in it, compiled once while the configuration is read and
 * evaluated per session.
 */
#ifndef SL_STREAM_SCRIPT_H
#define SL_STREAM_SCRIPT_H

#include "sl_config.h"
#include "sl_core.h"

/* a piece of literal text, a variable, or a regex group ("$1".."$9") */
typedef struct {
    sl_str_t      text;         /* the text, or the variable's name */
    sl_int_t      index;        /* the variable's index; -1 for text, */
                                /* SL_STREAM_SCRIPT_CAPTURE for a group */
    sl_uint_t     capture;      /* the group's number */
} sl_stream_script_part_t;

#define SL_STREAM_SCRIPT_CAPTURE  -2

typedef struct {
    sl_str_t                  value;    /* as written; the value when */
                                        /* there is no variable in it */
    sl_stream_script_part_t  *parts;    /* NULL: a constant */
    sl_uint_t                 nparts;
} sl_stream_complex_value_t;

/*
 * Compiles value into cv. "$1".."$9" (one digit: "$10" is "$1" and
 * "0") are the groups of the session's last regex match, empty when it
 * had fewer. Errors are logged with the file and line, in
 * nginx's words: "invalid variable name" and "the closing bracket in
 * "NAME" variable is missing". Variable names are looked up when the
 * stream{} block ends: "unknown "NAME" variable".
 */
sl_int_t sl_stream_compile_complex_value(sl_conf_t *cf, sl_str_t *value,
    sl_stream_complex_value_t *cv);
/*
 * The value for this session: a constant is returned as it is; otherwise
 * the parts are joined into one buffer from the connection's pool. A
 * variable that is not found contributes nothing. SL_ERROR when out of
 * memory, or (logged at alert: "no buffer space in script copy") when a
 * regex run while the value was measured made a group longer.
 */
sl_int_t sl_stream_complex_value(sl_stream_session_t *s,
    sl_stream_complex_value_t *cv, sl_str_t *value);
/* a setter: the field is a sl_stream_complex_value_t *, NULL when unset */
char *sl_stream_set_complex_value_slot(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

#endif /* SL_STREAM_SCRIPT_H */
