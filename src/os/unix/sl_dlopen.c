/*
 * sl_dlopen.c -- dlopen(3) of a module file, once per file rather than
 * once per path.
 *
 * The dynamic linker returns the object already loaded under the same
 * path, even when the file at that path was replaced since: a reload
 * would keep running the old code. So the object is loaded through
 * /proc/self/fd/N, N a descriptor of the file held open for as long as the
 * object is loaded: no two live objects can share that name, and a new
 * file is a new object. Where /proc is not mounted, the path itself is
 * used (and a replaced file is picked up once the old one is unloaded).
 *
 * This file knows nothing of modules; it must never call into one.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_dlopen.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>

sl_int_t
sl_dl_open_file(sl_dl_t *dl, const char *path)
{
    struct stat  st;

    dl->handle = NULL;
    dl->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (dl->fd == -1) {
        return SL_ERROR;
    }

    if (fstat(dl->fd, &st) == -1) {
        sl_dl_close(dl);
        return SL_ERROR;
    }

    dl->dev = st.st_dev;
    dl->ino = st.st_ino;
    return SL_OK;
}

/*
 * dlerror() names the file as it was given to dlopen(): put the module's
 * path back in place of /proc/self/fd/N.
 */
static void
sl_dl_error(const char *name, const char *path, char *err, size_t errlen)
{
    const char  *msg = dlerror();
    size_t       len = sl_strlen(name);

    if (msg == NULL) {
        msg = "unknown error";
    }

    if (sl_strncmp(msg, name, len) == 0 && msg[len] == ':') {
        snprintf(err, errlen, "%s%s", path, msg + len);
    } else {
        snprintf(err, errlen, "%s", msg);
    }
}

sl_int_t
sl_dl_load(sl_dl_t *dl, const char *path, char *err, size_t errlen)
{
    const char  *file = path;
    char         name[64];

    snprintf(name, sizeof(name), "/proc/self/fd/%d", dl->fd);
    if (access(name, R_OK) == 0) {
        file = name;
    }

    dl->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (dl->handle == NULL) {
        sl_dl_error(file, path, err, errlen);
        return SL_ERROR;
    }

    return SL_OK;
}

void *
sl_dl_sym(sl_dl_t *dl, const char *name)
{
    return dlsym(dl->handle, name);
}

void
sl_dl_close(sl_dl_t *dl)
{
    if (dl->handle != NULL) {
        (void) dlclose(dl->handle);
        dl->handle = NULL;
    }

    if (dl->fd != -1) {
        (void) close(dl->fd);
        dl->fd = -1;
    }
}
