/*
 * sl_conf_file.c -- the configuration language.
 *
 * A file is read whole, then scanned a directive at a time: the scanner
 * collects words into cf->args until ';', '{' or '}', and the dispatcher
 * finds the directive in the modules' tables, checks where it stands and
 * how many arguments it has, and calls its setter. Blocks recurse.
 */
#include "sl_config.h"
#include "sl_core.h"

#define SL_CONF_ERRSTR_LEN  1024

static const sl_uint_t  sl_conf_argument_number[] = {
    SL_CONF_NOARGS,
    SL_CONF_TAKE1,
    SL_CONF_TAKE2,
    SL_CONF_TAKE3,
    SL_CONF_TAKE4,
    SL_CONF_TAKE5,
    SL_CONF_TAKE6,
    SL_CONF_TAKE7,
};

static sl_command_t  sl_conf_commands[] = {

    { sl_string("include"),
      SL_ANY_CONF | SL_CONF_TAKE1,
      sl_conf_include,
      0,
      0,
      NULL },

      sl_null_command
};

/* "include" is valid in every context, so it lives in a module of its own */
sl_module_t  sl_conf_module = {
    .name = "sl_conf_module",
    .commands = sl_conf_commands,
    .type = SL_CONF_MODULE,
};

void
sl_conf_log_error(sl_uint_t level, sl_conf_t *cf, sl_err_t err,
    const char *fmt, ...)
{
    u_char           errstr[SL_CONF_ERRSTR_LEN], *p, *last;
    sl_conf_file_t  *f = cf->conf_file;
    va_list          args;

    last = errstr + SL_CONF_ERRSTR_LEN;

    va_start(args, fmt);
    p = sl_vslprintf(errstr, last, fmt, args);
    va_end(args);

    if (err) {
        p = sl_log_errno(p, last, err);
    }

    if (f == NULL) {
        sl_log_error(level, cf->log, 0, "%*s", (size_t) (p - errstr), errstr);
        return;
    }

    if (f->is_param) {
        sl_log_error(level, cf->log, 0, "%*s in command line",
                     (size_t) (p - errstr), errstr);
        return;
    }

    sl_log_error(level, cf->log, 0, "%*s in %V:%ui",
                 (size_t) (p - errstr), errstr, &f->name, f->start_line);
}

/* an error found by the scanner, at the line it has reached */
#define sl_conf_scan_error(cf, ...)                                           \
    do {                                                                      \
        (cf)->conf_file->start_line = (cf)->conf_file->line;                  \
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, __VA_ARGS__);                  \
    } while (0)

static sl_uint_t
sl_conf_is_space(u_char ch)
{
    return ch == ' ' || ch == '\t' || ch == CR || ch == LF || ch == '\f'
           || ch == '\v';
}

/* a byte that has no business in a text file */
static sl_int_t
sl_conf_check_byte(sl_conf_t *cf, u_char ch)
{
    if ((ch < 0x20 && !sl_conf_is_space(ch)) || ch == 0x7f) {
        sl_conf_scan_error(cf, "unexpected binary byte 0x%02xd", (int) ch);
        return SL_ERROR;
    }

    return SL_OK;
}

/* copies the word into the pool, resolving the escapes \" \' \\ \t \r \n */
static sl_int_t
sl_conf_push_word(sl_conf_t *cf, u_char *start, u_char *end)
{
    sl_str_t  *word;
    u_char    *dst, *src;

    word = sl_array_push(cf->args);
    if (word == NULL) {
        return SL_ERROR;
    }

    word->data = sl_pnalloc(cf->pool, (size_t) (end - start) + 1);
    if (word->data == NULL) {
        return SL_ERROR;
    }

    for (dst = word->data, src = start; src < end; src++) {
        if (*src == '\\' && src + 1 < end) {
            switch (src[1]) {
            case '"':
            case '\'':
            case '\\':
                *dst++ = src[1];
                src++;
                continue;
            case 't':
                *dst++ = '\t';
                src++;
                continue;
            case 'r':
                *dst++ = '\r';
                src++;
                continue;
            case 'n':
                *dst++ = '\n';
                src++;
                continue;
            }
        }
        *dst++ = *src;
    }

    *dst = '\0';
    word->len = (size_t) (dst - word->data);
    return SL_OK;
}

/* what may follow a closing quote */
static sl_uint_t
sl_conf_ends_word(u_char ch)
{
    return sl_conf_is_space(ch) || ch == ';' || ch == '{' || ch == '}';
}

/* scans one word at f->pos: quoted, or up to a space, ';', '{' or '}' */
static sl_int_t
sl_conf_read_word(sl_conf_t *cf)
{
    sl_conf_file_t  *f = cf->conf_file;
    sl_uint_t        in_var = 0, quote_line = f->line;
    u_char          *start, *p, quote = 0;

    if (*f->pos == '"' || *f->pos == '\'') {
        quote = *f->pos++;
    }

    start = f->pos;

    for (p = start; /* void */; p++) {

        if (p - start > SL_CONF_MAX_TOKEN) {
            sl_conf_scan_error(cf, "too long parameter \"%*s...\" started",
                               (size_t) 16, start);
            return SL_ERROR;
        }

        if (p >= f->end) {
            if (quote) {
                f->line = quote_line;
                sl_conf_scan_error(cf, "unexpected end of file, "
                                   "unterminated quoted string");
                return SL_ERROR;
            }
            break;
        }

        if (sl_conf_check_byte(cf, *p) != SL_OK) {
            return SL_ERROR;
        }

        if (*p == '\\' && p + 1 < f->end) {
            p++;
            if (*p == LF) {
                f->line++;
            }
            continue;
        }

        if (quote) {
            if (*p == LF) {
                f->line++;
            }

            if (*p != quote) {
                continue;
            }

            if (p + 1 < f->end && !sl_conf_ends_word(p[1])) {
                sl_conf_scan_error(cf, "unexpected \"%c\"", (int) p[1]);
                return SL_ERROR;
            }

            f->pos = p + 1;
            return sl_conf_push_word(cf, start, p);
        }

        if (*p == '{' && p > start && p[-1] == '$') {
            in_var = 1;          /* "${name}" keeps its braces */
            continue;
        }

        if (*p == '}' && in_var) {
            in_var = 0;
            continue;
        }

        if (sl_conf_ends_word(*p)) {
            break;
        }
    }

    f->pos = p;
    return sl_conf_push_word(cf, start, p);
}

/*
 * Collects the words of one directive. Returns SL_OK at ';',
 * SL_CONF_BLOCK_START at '{', SL_CONF_BLOCK_DONE at '}', SL_CONF_FILE_DONE
 * at the end of the input, or SL_ERROR.
 */
static sl_int_t
sl_conf_read_token(sl_conf_t *cf)
{
    sl_conf_file_t  *f = cf->conf_file;
    u_char           ch;

    cf->args->nelts = 0;

    for ( ;; ) {

        if (f->pos >= f->end) {
            if (cf->args->nelts > 0) {
                sl_conf_scan_error(cf, "unexpected end of file, "
                                   "expecting \";\" or \"}\"");
                return SL_ERROR;
            }
            return SL_CONF_FILE_DONE;
        }

        ch = *f->pos;

        if (ch == LF) {
            f->line++;
            f->pos++;
            continue;
        }

        if (sl_conf_is_space(ch)) {
            f->pos++;
            continue;
        }

        if (ch == '#') {
            while (f->pos < f->end && *f->pos != LF) {
                f->pos++;
            }
            continue;
        }

        if (ch == ';' || ch == '{') {
            f->pos++;
            if (cf->args->nelts == 0) {
                sl_conf_scan_error(cf, "unexpected \"%c\"", (int) ch);
                return SL_ERROR;
            }
            return ch == ';' ? SL_OK : SL_CONF_BLOCK_START;
        }

        if (ch == '}') {
            f->pos++;
            if (cf->args->nelts != 0) {
                sl_conf_scan_error(cf, "unexpected \"}\"");
                return SL_ERROR;
            }
            return SL_CONF_BLOCK_DONE;
        }

        if (sl_conf_check_byte(cf, ch) != SL_OK) {
            return SL_ERROR;
        }

        if (cf->args->nelts == 0) {
            f->start_line = f->line;
        }

        if (sl_conf_read_word(cf) != SL_OK) {
            return SL_ERROR;
        }
    }
}

static sl_uint_t
sl_conf_args_fit(sl_command_t *cmd, sl_uint_t nargs)
{
    if (cmd->type & SL_CONF_ANY) {
        return 1;
    }

    if (cmd->type & SL_CONF_FLAG) {
        return nargs == 1;
    }

    if (cmd->type & SL_CONF_1MORE) {
        return nargs >= 1;
    }

    if (cmd->type & SL_CONF_2MORE) {
        return nargs >= 2;
    }

    return nargs < SL_CONF_MAX_ARGS
           && (cmd->type & sl_conf_argument_number[nargs]);
}

/* the struct a directive of module m writes into */
static void *
sl_conf_target(sl_conf_t *cf, sl_module_t *m, sl_command_t *cmd)
{
    void  **confp;

    if (cmd->type & SL_DIRECT_CONF) {
        return ((void **) cf->ctx)[m->index];
    }

    if (cmd->type & SL_MAIN_CONF) {
        return &((void **) cf->ctx)[m->index];
    }

    if (cf->ctx == NULL) {
        return NULL;
    }

    confp = *(void ***) ((char *) cf->ctx + cmd->conf);
    return confp ? confp[m->ctx_index] : NULL;
}

/*
 * A host's process is not the instance's to change: such a directive is
 * an error there, but for a flag turned off (daemon off, master_process
 * off), which says what an embedded instance is anyway.
 */
static sl_uint_t
sl_conf_allowed_here(sl_conf_t *cf, sl_command_t *cmd)
{
    sl_str_t  *value = cf->args->elts;

    if (!(cmd->type & SL_CONF_PROCESS) || cf->cycle == NULL
        || !cf->cycle->embedded)
    {
        return 1;
    }

    return (cmd->type & SL_CONF_FLAG) && cf->args->nelts == 2
           && sl_str_eq_lit(&value[1], "off");
}

static sl_int_t
sl_conf_run(sl_conf_t *cf, sl_module_t *m, sl_command_t *cmd, sl_int_t last)
{
    sl_str_t  *name = cf->args->elts;
    char      *rv;

    if (!(cmd->type & SL_CONF_BLOCK) && last != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "directive \"%V\" is not terminated by \";\"", name);
        return SL_ERROR;
    }

    if ((cmd->type & SL_CONF_BLOCK) && last != SL_CONF_BLOCK_START) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "directive \"%V\" has no opening \"{\"", name);
        return SL_ERROR;
    }

    if (!sl_conf_args_fit(cmd, cf->args->nelts - 1)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid number of arguments in \"%V\" directive",
                          name);
        return SL_ERROR;
    }

    if (!sl_conf_allowed_here(cf, cmd)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" directive is not "
                          "allowed in an embedded instance", name);
        return SL_ERROR;
    }

    rv = cmd->set(cf, cmd, sl_conf_target(cf, m, cmd));

    if (rv == SL_CONF_OK) {
        return SL_OK;
    }

    if (rv != SL_CONF_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" directive %s", name, rv);
    }

    return SL_ERROR;
}

static sl_int_t
sl_conf_handler(sl_conf_t *cf, sl_int_t last)
{
    sl_str_t      *name = cf->args->elts;
    sl_module_t   *m;
    sl_command_t  *cmd;
    sl_uint_t      i, late, known = 0;

    for (i = 0; i < cf->cycle->modules_n; i++) {
        m = cf->cycle->modules[i];

        for (cmd = m->commands; cmd != NULL && cmd->name.len; cmd++) {
            if (!sl_str_eq(name, &cmd->name)) {
                continue;
            }

            known = 1;

            if ((m->type != SL_CONF_MODULE && m->type != cf->module_type)
                || !(cmd->type & cf->cmd_type))
            {
                continue;
            }

            return sl_conf_run(cf, m, cmd, last);
        }
    }

    if (known) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"%V\" directive is not allowed here", name);
    } else if ((late = sl_conf_late_load_module(cf)) != 0
               && cf->cycle->modules_used_block != NULL)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown directive \"%V\": "
                          "the \"load_module\" at %V:%ui comes too late, it "
                          "must come before the \"%s\" block at %V:%ui", name,
                          &cf->conf_file->name, late,
                          cf->cycle->modules_used_block,
                          &cf->cycle->modules_used_file,
                          cf->cycle->modules_used_line);
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown directive \"%V\"",
                          name);
    }

    return SL_ERROR;
}

/* the directive loop shared by files, blocks and -g strings */
static char *
sl_conf_loop(sl_conf_t *cf, sl_uint_t is_block)
{
    sl_int_t  rc;
    char     *rv;

    for ( ;; ) {
        rc = sl_conf_read_token(cf);

        switch (rc) {

        case SL_ERROR:
            return SL_CONF_ERROR;

        case SL_CONF_BLOCK_DONE:
            if (!is_block) {
                sl_conf_scan_error(cf, "unexpected \"}\"");
                return SL_CONF_ERROR;
            }
            return SL_CONF_OK;

        case SL_CONF_FILE_DONE:
            if (is_block) {
                sl_conf_scan_error(cf, "unexpected end of file, "
                                   "expecting \"}\"");
                return SL_CONF_ERROR;
            }
            return SL_CONF_OK;
        }

        if (cf->handler != NULL) {
            /* a block with a syntax of its own: every line is data */
            if (rc == SL_CONF_BLOCK_START) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unexpected \"{\"");
                return SL_CONF_ERROR;
            }

            rv = cf->handler(cf, NULL, cf->handler_conf);
            if (rv == SL_CONF_OK) {
                continue;
            }
            if (rv != SL_CONF_ERROR) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s", rv);
            }
            return SL_CONF_ERROR;
        }

        if (sl_conf_handler(cf, rc) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
}

/* the chain of files being read must not already hold this one */
static sl_int_t
sl_conf_check_loop(sl_conf_t *cf, sl_str_t *name, struct stat *st)
{
    sl_conf_file_t  *f;
    sl_uint_t        depth = 0;

    for (f = cf->conf_file; f != NULL; f = f->parent) {
        if (!f->is_param && f->dev == st->st_dev && f->ino == st->st_ino) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "include loop: \"%V\" is already being read",
                              name);
            return SL_ERROR;
        }
        depth++;
    }

    if (depth >= SL_CONF_MAX_INCLUDE_DEPTH) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "too many nested includes at \"%V\"", name);
        return SL_ERROR;
    }

    return SL_OK;
}

/* reads the whole file; errors name the including file:line, if any */
static sl_int_t
sl_conf_read_file(sl_conf_t *cf, sl_str_t *name, sl_str_t *content,
    struct stat *st)
{
    sl_pool_t  *pool;
    size_t      got = 0;
    sl_fd_t     fd;

    fd = open((char *) name->data, O_RDONLY | O_CLOEXEC);
    if (fd == SL_INVALID_FILE) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "open() \"%V\" failed",
                          name);
        return SL_ERROR;
    }

    if (fstat(fd, st) == -1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "fstat() \"%V\" failed",
                          name);
        goto failed;
    }

    if (!S_ISREG(st->st_mode) || st->st_size > SL_CONF_MAX_FILE) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" is not a regular file "
                          "of at most %d bytes", name, SL_CONF_MAX_FILE);
        goto failed;
    }

    if (sl_conf_check_loop(cf, name, st) != SL_OK) {
        goto failed;
    }

    /* -T prints the files after parsing, so keep them for the cycle */
    pool = cf->cycle->test_dump ? cf->cycle->pool : cf->temp_pool;

    content->data = sl_pnalloc(pool, (size_t) st->st_size + 1);
    if (content->data == NULL) {
        goto failed;
    }

    while (got < (size_t) st->st_size) {
        ssize_t  n = read(fd, content->data + got, (size_t) st->st_size - got);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            sl_conf_log_error(SL_LOG_EMERG, cf, errno, "read() \"%V\" failed",
                              name);
            goto failed;
        }

        if (n == 0) {
            break;
        }

        got += (size_t) n;
    }

    content->len = got;
    close(fd);
    return SL_OK;

failed:

    close(fd);
    return SL_ERROR;
}

static sl_int_t
sl_conf_remember(sl_conf_t *cf, sl_str_t *name, sl_str_t *content)
{
    sl_conf_dump_t  *d;

    if (!cf->cycle->test_dump) {
        return SL_OK;
    }

    d = sl_array_push(&cf->cycle->config_dump);
    if (d == NULL) {
        return SL_ERROR;
    }

    d->name.data = sl_pstrdup(cf->cycle->pool, name);
    if (d->name.data == NULL) {
        return SL_ERROR;
    }
    d->name.len = name->len;
    d->content = *content;
    return SL_OK;
}

char *
sl_conf_parse(sl_conf_t *cf, sl_str_t *filename)
{
    sl_conf_file_t   file, *prev;
    struct stat      st;
    sl_str_t         content;
    char            *rv;

    if (filename == NULL) {
        /* the rest of a block in the file being read */
        return sl_conf_loop(cf, 1);
    }

    if (sl_conf_read_file(cf, filename, &content, &st) != SL_OK
        || sl_conf_remember(cf, filename, &content) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    sl_memzero(&file, sizeof(file));
    file.name = *filename;
    file.pos = content.data;
    file.end = content.data + content.len;
    file.line = 1;
    file.dev = st.st_dev;
    file.ino = st.st_ino;

    prev = cf->conf_file;
    file.parent = prev;
    cf->conf_file = &file;

    rv = sl_conf_loop(cf, 0);

    cf->conf_file = prev;
    return rv;
}

/* the directives of text in memory, named name (a -g string: is_param) */
static char *
sl_conf_parse_text(sl_conf_t *cf, const sl_str_t *name, sl_str_t *text,
    sl_uint_t is_param)
{
    sl_conf_file_t   file, *prev;
    char            *rv;

    sl_memzero(&file, sizeof(file));
    file.name = *name;
    file.pos = text->data;
    file.end = text->data + text->len;
    file.line = 1;
    file.is_param = is_param;

    prev = cf->conf_file;
    file.parent = prev;
    cf->conf_file = &file;

    rv = sl_conf_loop(cf, 0);

    cf->conf_file = prev;
    return rv;
}

char *
sl_conf_parse_string(sl_conf_t *cf, const sl_str_t *name, sl_str_t *content)
{
    if (sl_conf_remember(cf, (sl_str_t *) name, content) != SL_OK) {
        return SL_CONF_ERROR;
    }

    return sl_conf_parse_text(cf, name, content, 0);
}

char *
sl_conf_param(sl_conf_t *cf, sl_str_t *param)
{
    static const sl_str_t  name = sl_string("command line");

    if (param->len == 0) {
        return SL_CONF_OK;
    }

    return sl_conf_parse_text(cf, &name, param, 1);
}

char *
sl_conf_include(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t  *value = cf->args->elts, file, name;
    glob_t     gl;
    size_t     i;
    int        rc;
    char      *rv = SL_CONF_OK;

    sl_unused(cmd);
    sl_unused(conf);

    file = value[1];

    if (sl_conf_full_name(cf->cycle, &file, 1) != SL_OK) {
        return SL_CONF_ERROR;
    }

    if (!sl_is_glob(file.data)) {
        return sl_conf_parse(cf, &file);
    }

    /* a pattern that matches nothing is not an error, as in a shell loop */
    rc = glob((char *) file.data, 0, NULL, &gl);

    if (rc == GLOB_NOMATCH) {
        return SL_CONF_OK;
    }

    if (rc != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "glob() \"%V\" failed",
                          &file);
        return SL_CONF_ERROR;
    }

    for (i = 0; i < gl.gl_pathc && rv == SL_CONF_OK; i++) {
        name.len = sl_strlen(gl.gl_pathv[i]);
        name.data = sl_pstrdup(cf->pool, &(sl_str_t) {
                                   name.len, (u_char *) gl.gl_pathv[i] });
        if (name.data == NULL) {
            rv = SL_CONF_ERROR;
            break;
        }
        rv = sl_conf_parse(cf, &name);
    }

    globfree(&gl);
    return rv;
}

sl_int_t
sl_conf_dir_name(sl_pool_t *pool, sl_str_t *dir, const u_char *s, size_t len)
{
    u_char  *p;

    p = sl_pnalloc(pool, len + 2);
    if (p == NULL) {
        return SL_ERROR;
    }

    sl_memcpy(p, s, len);
    if (len == 0 || p[len - 1] != '/') {
        p[len++] = '/';
    }
    p[len] = '\0';

    dir->data = p;
    dir->len = len;
    return SL_OK;
}

sl_int_t
sl_conf_full_name(sl_cycle_t *cycle, sl_str_t *name, sl_uint_t conf_prefix)
{
    return sl_get_full_name(cycle->pool,
                            conf_prefix ? &cycle->conf_prefix : &cycle->prefix,
                            name);
}

/* --- generic setters ----------------------------------------------------- */

#define sl_conf_field(conf, cmd, type)                                        \
    ((type *) ((char *) (conf) + (cmd)->offset))

static char *
sl_conf_invalid(sl_conf_t *cf, sl_command_t *cmd, sl_str_t *value)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%V\" in \"%V\" "
                      "directive", value, &cmd->name);
    return SL_CONF_ERROR;
}

static char *
sl_conf_post(sl_conf_t *cf, sl_command_t *cmd, void *field)
{
    sl_conf_post_t  *post = cmd->post;

    if (post == NULL) {
        return SL_CONF_OK;
    }

    return post->post_handler(cf, post, field);
}

char *
sl_conf_set_flag_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_flag_t  *fp = sl_conf_field(conf, cmd, sl_flag_t);
    sl_str_t   *value = cf->args->elts;

    if (*fp != SL_CONF_UNSET) {
        return "is duplicate";
    }

    if (sl_strcasecmp(value[1].data, (u_char *) "on") == 0) {
        *fp = 1;
    } else if (sl_strcasecmp(value[1].data, (u_char *) "off") == 0) {
        *fp = 0;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%V\" in \"%V\" "
                          "directive, it must be \"on\" or \"off\"",
                          &value[1], &cmd->name);
        return SL_CONF_ERROR;
    }

    return sl_conf_post(cf, cmd, fp);
}

char *
sl_conf_set_str_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t  *field = sl_conf_field(conf, cmd, sl_str_t);
    sl_str_t  *value = cf->args->elts;

    if (field->data != NULL) {
        return "is duplicate";
    }

    *field = value[1];
    return sl_conf_post(cf, cmd, field);
}

char *
sl_conf_set_str_array_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t  **a = sl_conf_field(conf, cmd, sl_array_t *);
    sl_str_t     *value = cf->args->elts, *s;

    if (*a == SL_CONF_UNSET_PTR || *a == NULL) {
        *a = sl_array_create(cf->pool, 4, sizeof(sl_str_t));
        if (*a == NULL) {
            return SL_CONF_ERROR;
        }
    }

    s = sl_array_push(*a);
    if (s == NULL) {
        return SL_CONF_ERROR;
    }

    *s = value[1];
    return sl_conf_post(cf, cmd, s);
}

char *
sl_conf_set_num_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_int_t  *np = sl_conf_field(conf, cmd, sl_int_t);
    sl_str_t  *value = cf->args->elts;

    if (*np != SL_CONF_UNSET) {
        return "is duplicate";
    }

    *np = sl_atoi(value[1].data, value[1].len);
    if (*np == SL_ERROR) {
        return sl_conf_invalid(cf, cmd, &value[1]);
    }

    return sl_conf_post(cf, cmd, np);
}

char *
sl_conf_set_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    size_t    *sp = sl_conf_field(conf, cmd, size_t);
    sl_str_t  *value = cf->args->elts;
    ssize_t    n;

    if (*sp != SL_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    n = sl_parse_size(&value[1]);
    if (n == SL_ERROR) {
        return sl_conf_invalid(cf, cmd, &value[1]);
    }

    *sp = (size_t) n;
    return sl_conf_post(cf, cmd, sp);
}

char *
sl_conf_set_off_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    off_t     *op = sl_conf_field(conf, cmd, off_t);
    sl_str_t  *value = cf->args->elts;

    if (*op != SL_CONF_UNSET) {
        return "is duplicate";
    }

    *op = sl_parse_offset(&value[1]);
    if (*op == SL_ERROR) {
        return sl_conf_invalid(cf, cmd, &value[1]);
    }

    return sl_conf_post(cf, cmd, op);
}

char *
sl_conf_set_msec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_msec_t  *mp = sl_conf_field(conf, cmd, sl_msec_t);
    sl_str_t   *value = cf->args->elts;
    sl_int_t    t;

    if (*mp != SL_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    t = sl_parse_time(&value[1], 0);
    if (t == SL_ERROR) {
        return sl_conf_invalid(cf, cmd, &value[1]);
    }

    *mp = (sl_msec_t) t;
    return sl_conf_post(cf, cmd, mp);
}

char *
sl_conf_set_sec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    time_t    *tp = sl_conf_field(conf, cmd, time_t);
    sl_str_t  *value = cf->args->elts;
    sl_int_t   t;

    if (*tp != SL_CONF_UNSET) {
        return "is duplicate";
    }

    t = sl_parse_time(&value[1], 1);
    if (t == SL_ERROR) {
        return sl_conf_invalid(cf, cmd, &value[1]);
    }

    *tp = (time_t) t;
    return sl_conf_post(cf, cmd, tp);
}

char *
sl_conf_set_enum_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_uint_t       *np = sl_conf_field(conf, cmd, sl_uint_t);
    sl_str_t        *value = cf->args->elts;
    sl_conf_enum_t  *e;

    if (*np != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    for (e = cmd->post; e->name.len != 0; e++) {
        if (sl_str_caseeq(&e->name, &value[1])) {
            *np = e->value;
            return SL_CONF_OK;
        }
    }

    return sl_conf_invalid(cf, cmd, &value[1]);
}

char *
sl_conf_set_bitmask_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_uint_t          *np = sl_conf_field(conf, cmd, sl_uint_t);
    sl_str_t           *value = cf->args->elts;
    sl_conf_bitmask_t  *m;
    sl_uint_t           i;

    if (*np != 0) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = cmd->post; m->name.len != 0; m++) {
            if (sl_str_caseeq(&m->name, &value[i])) {
                break;
            }
        }

        if (m->name.len == 0) {
            return sl_conf_invalid(cf, cmd, &value[i]);
        }

        if (*np & m->mask) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate value \"%V\" in "
                              "\"%V\" directive", &value[i], &cmd->name);
        }

        *np |= m->mask;
    }

    return SL_CONF_OK;
}

char *
sl_conf_set_path_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t  *field = sl_conf_field(conf, cmd, sl_str_t);
    sl_str_t  *value = cf->args->elts;

    if (field->data != NULL) {
        return "is duplicate";
    }

    *field = value[1];

    if (sl_conf_full_name(cf->cycle, field, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }

    return sl_conf_post(cf, cmd, field);
}

char *
sl_conf_check_num_bounds(sl_conf_t *cf, void *post, void *data)
{
    sl_conf_num_bounds_t  *bounds = post;
    sl_int_t              *np = data;
    sl_str_t              *name = cf->args->elts;

    if (*np >= bounds->low && (bounds->high == -1 || *np <= bounds->high)) {
        return SL_CONF_OK;
    }

    if (bounds->high == -1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" directive value must "
                          "be equal to or more than %i", name, bounds->low);
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%V\" directive value must "
                          "be between %i and %i", name, bounds->low,
                          bounds->high);
    }

    return SL_CONF_ERROR;
}
