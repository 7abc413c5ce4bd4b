/*
 * sl_t_host.h -- building host programs against the installed tree, as a
 * user would: the tree of `make install DESTDIR=...` (t/run.sh exports it
 * as SLUICE_DESTDIR, and the directory of its sluice.pc as
 * SLUICE_PKG_CONFIG_PATH), reached through pkg-config and nothing else.
 *
 * What it owns:
 *
 *   - argument vectors (sl_t_args_t): a compiler's or pkg-config's
 *     command line, built word by word and run with sl_t_run();
 *   - the environment of the installed tree, which must be set;
 *   - pkg-config's words for sluice from the installed sluice.pc alone
 *     (PKG_CONFIG_SYSROOT_DIR=$SLUICE_DESTDIR), checked to point into the
 *     tree, and the archive variant of pkg-config --static's words;
 *   - the options every host program is compiled with.
 *
 * How a suite builds (which link, SLUICE_HOST_FLAGS or not, the command
 * line's order, what a failure says) stays the suite's own.
 *
 * Memory is sl_proc's (sl_proc.h): it lives until sl_t_cleanup(). A
 * failure fails the test at the caller's line.
 */
#ifndef SL_T_HOST_H
#define SL_T_HOST_H

#include <check.h>

#define SL_T_ARGS_MAX       96
/* ms for one compiler or pkg-config run */
#define SL_T_HOST_BUILD_MS  60000
/* what every host program is compiled with */
#define SL_T_HOST_CFLAGS    "-std=c11 -Wall -Wextra -Werror"


/* --- argument vectors ---------------------------------------------------- */

typedef struct {
    char   *v[SL_T_ARGS_MAX + 1];      /* NULL-terminated: an argv */
    int     n;
} sl_t_args_t;

/* one word; more than SL_T_ARGS_MAX fails the test */
#define sl_t_args_add(a, word)                                                \
    sl_t_args_add_at(__FILE__, __LINE__, a, word)
/* every blank-separated word of text (copied) */
#define sl_t_args_split(a, text)                                              \
    sl_t_args_split_at(__FILE__, __LINE__, a, text)
/* every word of b, after those of a */
#define sl_t_args_append(a, b)                                                \
    sl_t_args_append_at(__FILE__, __LINE__, a, b)

/* the words joined by blanks, for a message */
char *sl_t_args_text(const sl_t_args_t *a);


/* --- the installed tree, through pkg-config ------------------------------ */

/* the variable, which must be set and not empty */
#define sl_t_host_env(name)  sl_t_host_env_at(__FILE__, __LINE__, name)

/*
 * Adds pkg-config's words for sluice to words: --cflags, with --libs when
 * libs and --static when static_libs, from the installed sluice.pc only.
 * PKG_CONFIG_SYSROOT_DIR puts DESTDIR before its -I and -L (and before
 * OpenSSL's too, which then name directories that do not exist there:
 * harmless, the compiler's own paths still find OpenSSL). Fails the test
 * unless pkg-config succeeds and its -I (and, with libs, its -L) point
 * into DESTDIR.
 */
#define sl_t_host_pkg_config(words, libs, static_libs)                        \
    sl_t_host_pkg_config_at(__FILE__, __LINE__, words, libs, static_libs)

/*
 * -lsluice becomes -l:libsluice.a: the installed archive, in pkg-config's
 * -L, linked into a dynamic executable. Fails the test when words (those
 * of pkg-config --static) have no -lsluice.
 */
#define sl_t_host_use_archive(words)                                          \
    sl_t_host_use_archive_at(__FILE__, __LINE__, words)


/* --- what the macros call ------------------------------------------------ */

void sl_t_args_add_at(const char *file, int line, sl_t_args_t *a,
    const char *word);
void sl_t_args_split_at(const char *file, int line, sl_t_args_t *a,
    const char *text);
void sl_t_args_append_at(const char *file, int line, sl_t_args_t *a,
    const sl_t_args_t *b);
const char *sl_t_host_env_at(const char *file, int line, const char *name);
void sl_t_host_pkg_config_at(const char *file, int line, sl_t_args_t *words,
    int libs, int static_libs);
void sl_t_host_use_archive_at(const char *file, int line,
    sl_t_args_t *words);

/*
 * Does this build's library need sanitizer options to link a host
 * (SLUICE_HOST_FLAGS holds -fsanitize=...)? Such a host cannot be linked
 * with -static: the installed libsluice.a goes in a dynamic one instead.
 */
int sl_t_host_sanitized(void);
/* appends SLUICE_HOST_FLAGS, the options this build's hosts need */
void sl_t_host_flags(sl_t_args_t *cc);

#endif /* SL_T_HOST_H */
