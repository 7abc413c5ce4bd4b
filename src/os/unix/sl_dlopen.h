/*
 * sl_dlopen.h -- opening a shared object as a new object each time its
 * file is new, whatever its path.
 */
#ifndef SL_DLOPEN_H
#define SL_DLOPEN_H

#include "sl_config.h"
#include "sl_core.h"

typedef struct {
    void      *handle;
    int        fd;          /* held while loaded: see sl_dlopen.c */
    dev_t      dev;         /* the file's identity */
    ino_t      ino;
} sl_dl_t;

/*
 * Opens path and reads its identity (dev, ino), without loading it.
 * SL_ERROR with errno set.
 */
sl_int_t sl_dl_open_file(sl_dl_t *dl, const char *path);

/*
 * Loads the file sl_dl_open_file() opened, resolving every symbol now.
 * SL_ERROR: err (errlen bytes, NUL-terminated) says why, naming path.
 */
sl_int_t sl_dl_load(sl_dl_t *dl, const char *path, char *err, size_t errlen);

/* the address of an exported symbol of the object, or NULL */
void *sl_dl_sym(sl_dl_t *dl, const char *name);

/* unloads what was loaded and closes the file; either may be absent */
void sl_dl_close(sl_dl_t *dl);

#endif /* SL_DLOPEN_H */
