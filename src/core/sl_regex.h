/*
 * sl_regex.h -- regular expressions, over PCRE2: compiled while the
 * configuration is read, matched at run time into a match block made
 * once, so that a match allocates nothing of its own.
 *
 * Owns the only calls into PCRE2, and the "pcre_jit" directive. It must
 * never be given a pattern at run time (compiling allocates), and never
 * keeps state outside what a caller or a cycle hands it: several
 * instances may run in several threads.
 */
#ifndef SL_REGEX_H
#define SL_REGEX_H

#include "sl_config.h"
#include "sl_core.h"

#define SL_REGEX_CASELESS     0x01      /* "~*" */

/* room for a compile error: pattern and PCRE2's message */
#define SL_REGEX_ERR_LEN      (SL_CONF_MAX_TOKEN + 256)

typedef struct sl_regex_s        sl_regex_t;
typedef struct sl_regex_match_s  sl_regex_match_t;

/* a named group: "(?<name>...)" */
typedef struct {
    sl_str_t      name;                 /* NUL-terminated */
    sl_uint_t     group;                /* its number, from 1 */
} sl_regex_name_t;

/*
 * Compiles pattern (flags: SL_REGEX_*) into pool, which frees it. NULL
 * on failure, with the message in err, whose data has room for err->len
 * bytes (SL_REGEX_ERR_LEN): nginx's words, e.g. "pcre2_compile() failed:
 * missing closing parenthesis in "(a"".
 */
sl_regex_t *sl_regex_compile(sl_pool_t *pool, sl_str_t *pattern,
    sl_uint_t flags, sl_str_t *err);
/*
 * The same while a configuration is read: into cf->pool, and offered to
 * "pcre_jit", which JIT-compiles the cycle's regexes once the whole
 * configuration is read (init_module), when it is on.
 */
sl_regex_t *sl_regex_compile_conf(sl_conf_t *cf, sl_str_t *pattern,
    sl_uint_t flags, sl_str_t *err);
/*
 * JIT-compiles re: SL_OK, or PCRE2's negative error code when it cannot
 * (a build without JIT, no executable memory); re matches either way.
 */
sl_int_t sl_regex_jit(sl_regex_t *re);
/* 1 when re runs as JIT code */
sl_uint_t sl_regex_jitted(sl_regex_t *re);
/* the pattern as compiled, for messages */
sl_str_t *sl_regex_pattern(sl_regex_t *re);
/* the number of groups in the pattern, named or not */
sl_uint_t sl_regex_groups(sl_regex_t *re);
/* the named groups; returns how many, *names the array (NULL when 0) */
sl_uint_t sl_regex_names(sl_regex_t *re, sl_regex_name_t **names);

/*
 * A match block for regexes of at most groups groups, freed with pool.
 * Made once (e.g. at the end of the configuration) and reused by every
 * match of the thread that owns it.
 */
sl_regex_match_t *sl_regex_match_create(sl_pool_t *pool, sl_uint_t groups);

/*
 * Matches data against re into m. Returns the number of offset pairs set
 * in m (1 for the whole match, plus the groups up to the last that
 * matched), 0 when it does not match, or a negative PCRE2 error code
 * (sl_regex_strerror()).
 */
sl_int_t sl_regex_exec(sl_regex_t *re, const u_char *data, size_t len,
    sl_regex_match_t *m);
/*
 * The offsets of the last match: group n starts at ov[2n] and ends at
 * ov[2n + 1]; a group that did not take part has SL_REGEX_UNSET at both.
 */
const size_t *sl_regex_offsets(sl_regex_match_t *m);
#define SL_REGEX_UNSET        (~(size_t) 0)

/* PCRE2's text for an error code of sl_regex_exec(), into buf */
u_char *sl_regex_strerror(sl_int_t code, u_char *buf, size_t len);

extern sl_module_t  sl_regex_module;

#endif /* SL_REGEX_H */
