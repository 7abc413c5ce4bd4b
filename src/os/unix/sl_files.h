/*
 * sl_files.h -- files, paths and globs.
 */
#ifndef SL_FILES_H
#define SL_FILES_H

#include "sl_config.h"
#include "sl_string.h"

typedef struct sl_file_s  sl_file_t;
typedef struct sl_log_s   sl_log_t;
typedef struct sl_pool_s  sl_pool_t;

struct sl_file_s {
    sl_fd_t      fd;
    sl_str_t     name;      /* NUL-terminated */
    struct stat  info;
    sl_log_t    *log;
};

#define sl_close_file(fd)   close(fd)
#define sl_path_separator(c)  ((c) == '/')

/* write all of buf unless an error other than EINTR occurs */
ssize_t sl_write_fd(sl_fd_t fd, const void *buf, size_t n);
/* opens for appending, creating it 0644; SL_INVALID_FILE on failure */
sl_fd_t sl_open_append(u_char *name);

/*
 * Makes name absolute: a relative one is taken against prefix. The result
 * is NUL-terminated and allocated in the pool unless name was absolute.
 */
sl_int_t sl_get_full_name(sl_pool_t *pool, sl_str_t *prefix, sl_str_t *name);

/* true when the pattern has glob characters */
sl_uint_t sl_is_glob(u_char *pattern);

#endif /* SL_FILES_H */
