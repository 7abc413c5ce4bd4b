/*
 * sl_stream_regex.h -- regular expressions in the stream layer: a
 * pattern compiled with its named groups made variables, and a match
 * that leaves its groups to the session, for "$1".."$9" and those
 * variables, as nginx's stream modules have them.
 */
#ifndef SL_STREAM_REGEX_H
#define SL_STREAM_REGEX_H

#include "sl_config.h"
#include "sl_core.h"

/* the groups of a session's last match with groups: what "$n" reads */
typedef struct {
    u_char      *subject;       /* the string matched (the session's) */
    sl_uint_t    npairs;        /* offset pairs set: the whole, then groups */
    size_t       offsets[];     /* room for the stream{}'s most groups */
} sl_stream_captures_t;

/* a named group: the variable its text goes to */
typedef struct {
    sl_uint_t    index;
    sl_uint_t    group;
} sl_stream_regex_var_t;

typedef struct {
    sl_regex_t              *regex;
    sl_uint_t                groups;
    sl_stream_regex_var_t   *vars;
    sl_uint_t                nvars;
} sl_stream_regex_t;

/*
 * Compiles pattern (SL_REGEX_CASELESS for "~*") for the stream{} being
 * read; each "(?<name>...)" registers the variable $name. NULL on error,
 * logged with the file and line in nginx's words.
 */
sl_stream_regex_t *sl_stream_regex_compile(sl_conf_t *cf, sl_str_t *pattern,
    sl_uint_t flags);
/*
 * Matches str (which must live as long as the session: the groups point
 * into it). SL_OK: matched, its groups are the session's "$1".."$9" and
 * its named groups' variables are set; SL_DECLINED: no match; SL_ERROR:
 * PCRE2 failed (logged).
 */
sl_int_t sl_stream_regex_exec(sl_stream_session_t *s, sl_stream_regex_t *re,
    sl_str_t *str);
/* "$n" of the session's last match: empty when there is no such group */
void sl_stream_regex_capture(sl_stream_session_t *s, sl_uint_t n,
    sl_str_t *text);

#endif /* SL_STREAM_REGEX_H */
