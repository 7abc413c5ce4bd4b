/*
 * sl_files.c -- files, paths and globs.
 */
#include "sl_config.h"
#include "sl_core.h"

ssize_t
sl_write_fd(sl_fd_t fd, const void *buf, size_t n)
{
    const u_char  *p = buf;
    size_t         left = n;

    while (left > 0) {
        ssize_t  w = write(fd, p, left);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return SL_ERROR;
        }

        p += w;
        left -= (size_t) w;
    }

    return (ssize_t) n;
}

sl_fd_t
sl_open_append(u_char *name)
{
    return open((char *) name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                0644);
}

sl_int_t
sl_get_full_name(sl_pool_t *pool, sl_str_t *prefix, sl_str_t *name)
{
    u_char  *p;
    size_t   len;

    if (name->len > 0 && name->data[0] == '/') {
        return SL_OK;
    }

    len = prefix->len + name->len;
    p = sl_pnalloc(pool, len + 1);
    if (p == NULL) {
        return SL_ERROR;
    }

    p = sl_cpymem(p, prefix->data, prefix->len);
    p = sl_cpymem(p, name->data, name->len);
    *p = '\0';

    name->data = p - len;
    name->len = len;
    return SL_OK;
}

sl_uint_t
sl_is_glob(u_char *pattern)
{
    return strpbrk((char *) pattern, "*?[") != NULL;
}
