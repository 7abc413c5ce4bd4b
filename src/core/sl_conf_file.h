/*
 * sl_conf_file.h -- the configuration language: tokenizer, directive
 * dispatch, generic setters and merge helpers.
 *
 * A directive is data (sl_command_t): its name, where it may appear and
 * how many arguments it takes (`type`), the setter that stores it, which
 * configuration struct it goes into (`conf`) and where (`offset`).
 */
#ifndef SL_CONF_FILE_H
#define SL_CONF_FILE_H

#include "sl_config.h"
#include "sl_core.h"

/* argument shapes */
#define SL_CONF_NOARGS      0x00000001
#define SL_CONF_TAKE1       0x00000002
#define SL_CONF_TAKE2       0x00000004
#define SL_CONF_TAKE3       0x00000008
#define SL_CONF_TAKE4       0x00000010
#define SL_CONF_TAKE5       0x00000020
#define SL_CONF_TAKE6       0x00000040
#define SL_CONF_TAKE7       0x00000080
#define SL_CONF_MAX_ARGS    8

#define SL_CONF_TAKE12      (SL_CONF_TAKE1 | SL_CONF_TAKE2)
#define SL_CONF_TAKE13      (SL_CONF_TAKE1 | SL_CONF_TAKE3)
#define SL_CONF_TAKE23      (SL_CONF_TAKE2 | SL_CONF_TAKE3)
#define SL_CONF_TAKE123     (SL_CONF_TAKE1 | SL_CONF_TAKE2 | SL_CONF_TAKE3)
#define SL_CONF_TAKE1234    (SL_CONF_TAKE123 | SL_CONF_TAKE4)

#define SL_CONF_ARGS_NUMBER 0x000000ff
#define SL_CONF_BLOCK       0x00000100
#define SL_CONF_FLAG        0x00000200   /* exactly one: on | off */
#define SL_CONF_ANY         0x00000400
#define SL_CONF_1MORE       0x00000800
#define SL_CONF_2MORE       0x00001000

/* where the conf struct is found: the module's own slot in the cycle */
#define SL_DIRECT_CONF      0x00010000
/*
 * The directive acts on the whole process (user, pid...): an error in an
 * embedded instance, but for a flag set to "off".
 */
#define SL_CONF_PROCESS     0x00020000

/* contexts */
#define SL_MAIN_CONF        0x01000000
#define SL_EVENT_CONF       0x02000000
#define SL_ANY_CONF         0xFF000000

#define SL_CONF_UNSET       -1
#define SL_CONF_UNSET_UINT  (sl_uint_t) -1
#define SL_CONF_UNSET_PTR   (void *) -1
#define SL_CONF_UNSET_SIZE  (size_t) -1
#define SL_CONF_UNSET_MSEC  (sl_msec_t) -1

#define SL_CONF_OK          NULL
#define SL_CONF_ERROR       (void *) -1

#define SL_CONF_BLOCK_START 1
#define SL_CONF_BLOCK_DONE  2
#define SL_CONF_FILE_DONE   3

#define SL_CONF_MAX_TOKEN   4096             /* longest argument */
#define SL_CONF_MAX_FILE    (16 * 1024 * 1024)
#define SL_CONF_MAX_INCLUDE_DEPTH  32

typedef char *(*sl_conf_set_pt)(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);

struct sl_command_s {
    sl_str_t          name;
    sl_uint_t         type;
    sl_conf_set_pt    set;
    sl_uint_t         conf;     /* offset of the conf array in the ctx */
    sl_uint_t         offset;   /* offset of the field in the conf */
    void             *post;     /* a bound, an enum table, a post handler */
};

#define sl_null_command  { sl_null_string, 0, NULL, 0, 0, NULL }

typedef struct sl_conf_file_s  sl_conf_file_t;

struct sl_conf_file_s {
    sl_str_t          name;     /* the file, or "command line" for -g */
    u_char           *pos;      /* the scanner's position */
    u_char           *end;
    sl_uint_t         line;     /* the scanner's line */
    sl_uint_t         start_line;   /* the line the directive began on */
    sl_uint_t         is_param;     /* -g directives, not a file */
    dev_t             dev;          /* the file's identity, for loops */
    ino_t             ino;
    sl_conf_file_t   *parent;   /* the file that included this one */
};

typedef struct {
    sl_str_t          name;
    sl_str_t          content;
} sl_conf_dump_t;

typedef char *(*sl_conf_handler_pt)(sl_conf_t *cf, sl_command_t *dummy,
    void *conf);

struct sl_conf_s {
    const char          *name;      /* the block directive being read */
    sl_array_t          *args;      /* of sl_str_t: the directive's words */

    sl_cycle_t          *cycle;
    sl_pool_t           *pool;
    sl_pool_t           *temp_pool;
    sl_conf_file_t      *conf_file;
    sl_log_t            *log;

    void                *ctx;       /* the context being filled */
    sl_uint_t            module_type;
    sl_uint_t            cmd_type;  /* the context's SL_*_CONF bit */

    sl_conf_handler_pt   handler;   /* a block that reads its own syntax */
    void                *handler_conf;
};

typedef char *(*sl_conf_post_handler_pt)(sl_conf_t *cf, void *data,
    void *conf);

typedef struct {
    sl_conf_post_handler_pt  post_handler;
} sl_conf_post_t;

/* post for the number, size and time setters: an inclusive range */
typedef struct {
    sl_conf_post_handler_pt  post_handler;
    sl_int_t                 low;
    sl_int_t                 high;
} sl_conf_num_bounds_t;

typedef struct {
    sl_str_t                 name;
    sl_uint_t                value;
} sl_conf_enum_t;

typedef struct {
    sl_str_t                 name;
    sl_uint_t                mask;
} sl_conf_bitmask_t;

char *sl_conf_check_num_bounds(sl_conf_t *cf, void *post, void *data);

/* reads a file (filename), the -g string (cf->conf_file->is_param) or a block */
char *sl_conf_parse(sl_conf_t *cf, sl_str_t *filename);
/* parses a whole configuration given as text, named name in messages */
char *sl_conf_parse_string(sl_conf_t *cf, const sl_str_t *name,
    sl_str_t *content);
/* parses the directives of a -g string */
char *sl_conf_param(sl_conf_t *cf, sl_str_t *param);
/* the "include" directive, usable in any context */
char *sl_conf_include(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* dir: a copy of s (len bytes) in pool, ending with '/' */
sl_int_t sl_conf_dir_name(sl_pool_t *pool, sl_str_t *dir, const u_char *s,
    size_t len);
/* name made absolute against the prefix (or the conf prefix) */
sl_int_t sl_conf_full_name(sl_cycle_t *cycle, sl_str_t *name,
    sl_uint_t conf_prefix);

void sl_conf_log_error(sl_uint_t level, sl_conf_t *cf, sl_err_t err,
    const char *fmt, ...);

char *sl_conf_set_flag_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_str_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_str_array_slot(sl_conf_t *cf, sl_command_t *cmd,
    void *conf);
char *sl_conf_set_num_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_off_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_msec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_sec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_enum_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_bitmask_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_path_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* values left unset take the enclosing block's, then the default */
#define sl_conf_init_value(conf, default)                                     \
    if (conf == SL_CONF_UNSET) { conf = default; }
#define sl_conf_init_ptr_value(conf, default)                                 \
    if (conf == SL_CONF_UNSET_PTR) { conf = default; }
#define sl_conf_init_uint_value(conf, default)                                \
    if (conf == SL_CONF_UNSET_UINT) { conf = default; }
#define sl_conf_init_size_value(conf, default)                                \
    if (conf == SL_CONF_UNSET_SIZE) { conf = default; }
#define sl_conf_init_msec_value(conf, default)                                \
    if (conf == SL_CONF_UNSET_MSEC) { conf = default; }

#define sl_conf_merge_value(conf, prev, default)                              \
    if (conf == SL_CONF_UNSET) {                                              \
        conf = (prev == SL_CONF_UNSET) ? default : prev;                      \
    }
#define sl_conf_merge_ptr_value(conf, prev, default)                          \
    if (conf == SL_CONF_UNSET_PTR) {                                          \
        conf = (prev == SL_CONF_UNSET_PTR) ? default : prev;                  \
    }
#define sl_conf_merge_uint_value(conf, prev, default)                         \
    if (conf == SL_CONF_UNSET_UINT) {                                         \
        conf = (prev == SL_CONF_UNSET_UINT) ? default : prev;                 \
    }
#define sl_conf_merge_msec_value(conf, prev, default)                         \
    if (conf == SL_CONF_UNSET_MSEC) {                                         \
        conf = (prev == SL_CONF_UNSET_MSEC) ? default : prev;                 \
    }
#define sl_conf_merge_sec_value(conf, prev, default)                          \
    sl_conf_merge_value(conf, prev, default)
#define sl_conf_merge_size_value(conf, prev, default)                         \
    if (conf == SL_CONF_UNSET_SIZE) {                                         \
        conf = (prev == SL_CONF_UNSET_SIZE) ? default : prev;                 \
    }
#define sl_conf_merge_off_value(conf, prev, default)                          \
    sl_conf_merge_value(conf, prev, default)
#define sl_conf_merge_str_value(conf, prev, default)                          \
    if (conf.data == NULL) {                                                  \
        if (prev.data) {                                                      \
            conf = prev;                                                      \
        } else {                                                              \
            conf.len = sizeof(default) - 1;                                   \
            conf.data = (u_char *) default;                                   \
        }                                                                     \
    }
#define sl_conf_merge_bitmask_value(conf, prev, default)                      \
    if (conf == 0) {                                                          \
        conf = (prev == 0) ? default : prev;                                  \
    }

#endif /* SL_CONF_FILE_H */
