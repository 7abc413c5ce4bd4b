/*
 * fuzz_common.h -- the harness shared by the libFuzzer targets: a private
 * prefix made once per process, a log that goes to /dev/null, and one cycle
 * built from it per input, then torn down.
 *
 * Layout of the prefix (a mkdtemp() directory, removed at exit):
 *
 *     DIR/                 the prefix (-p): error_log files land here and are
 *                          removed after every input
 *     DIR/conf/            the conf prefix: "include" resolves here
 *     DIR/conf/fuzz.in     the main configuration file
 *     DIR/conf/a.conf      small fixed files for "include *.conf" and friends
 *     DIR/conf/b.conf
 *
 * Inputs that contain the byte '/' are skipped: with no '/' a path in the
 * input can only name DIR/<word> or DIR/conf/<word>, so nothing is written
 * outside DIR (".." reaches the parent directory itself, which is never a
 * regular file, so an open() of it fails).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"

#include <dirent.h>
#include <ftw.h>

static char             fz_dir[256];
static char             fz_conf_path[512];
static int              fz_ready;
static sl_open_file_t   fz_file;
static sl_log_t         fz_log;

static int
fz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void
fz_cleanup(void)
{
    if (fz_dir[0] != '\0') {
        nftw(fz_dir, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void
fz_write(const char *path, const uint8_t *data, size_t size)
{
    int  fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        perror(path);
        abort();
    }

    while (size > 0) {
        ssize_t  n = write(fd, data, size);

        if (n <= 0) {
            perror("write");
            abort();
        }
        data += n;
        size -= (size_t) n;
    }

    close(fd);
}

static void
fz_write_str(const char *name, const char *text)
{
    char  path[600];

    snprintf(path, sizeof(path), "%s/conf/%s", fz_dir, name);
    fz_write(path, (const uint8_t *) text, strlen(text));
}

static void
fz_setup(void)
{
    const char  *base = getenv("TMPDIR");
    char         sub[512];

    if (fz_ready) {
        return;
    }

    snprintf(fz_dir, sizeof(fz_dir), "%s/sluice-fuzz.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(fz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fz_cleanup);

    snprintf(sub, sizeof(sub), "%s/conf", fz_dir);
    if (mkdir(sub, 0755) == -1) {
        perror("mkdir");
        abort();
    }

    snprintf(fz_conf_path, sizeof(fz_conf_path), "%s/conf/fuzz.in", fz_dir);
    fz_write(fz_conf_path, (const uint8_t *) "", 0);
    fz_write_str("a.conf", "worker_processes 1;\n");
    fz_write_str("b.conf", "events { worker_connections 64; }\n");

    /* one descriptor for the whole run: the log writes go nowhere */
    fz_file.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fz_file.fd == -1) {
        perror("/dev/null");
        abort();
    }
    sl_str_set(&fz_file.name, "/dev/null");

    fz_ready = 1;
}

/* removes what error_log created in the prefix: everything but conf/ */
static void
fz_sweep(void)
{
    DIR            *d;
    struct dirent  *e;
    char            path[600];

    d = opendir(fz_dir);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
            || strcmp(e->d_name, "conf") == 0)
        {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", fz_dir, e->d_name);
        if (unlink(path) == -1) {
            nftw(path, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
        }
    }

    closedir(d);
}

static sl_str_t
fz_str(sl_pool_t *pool, const char *s)
{
    sl_str_t  r;

    r.len = strlen(s);
    r.data = sl_pnalloc(pool, r.len + 1);
    if (r.data == NULL) {
        abort();
    }
    memcpy(r.data, s, r.len + 1);
    return r;
}

/* builds a cycle from conf/fuzz.in and the -g string, then destroys it */
static void
fz_run(const uint8_t *param, size_t param_len)
{
    sl_cycle_t   init, *cycle;
    char         buf[600];

    sl_memzero(&init, sizeof(sl_cycle_t));
    sl_memzero(&fz_log, sizeof(sl_log_t));
    fz_log.file = &fz_file;
    fz_log.log_level = SL_LOG_DEBUG;
    init.log = &fz_log;
    sl_time_update(&init.time);

    init.pool = sl_create_pool(1024, &fz_log);
    if (init.pool == NULL) {
        abort();
    }

    snprintf(buf, sizeof(buf), "%s/", fz_dir);
    init.prefix = fz_str(init.pool, buf);
    snprintf(buf, sizeof(buf), "%s/conf/", fz_dir);
    init.conf_prefix = fz_str(init.pool, buf);
    init.conf_file = fz_str(init.pool, fz_conf_path);

    if (param_len > 0) {
        init.conf_param.len = param_len;
        init.conf_param.data = sl_pnalloc(init.pool, param_len + 1);
        if (init.conf_param.data == NULL) {
            abort();
        }
        memcpy(init.conf_param.data, param, param_len);
        init.conf_param.data[param_len] = '\0';
    }

    cycle = sl_init_cycle(&init);
    if (cycle != NULL) {
        sl_destroy_cycle(cycle);
    }

    sl_destroy_pool(init.pool);
    fz_sweep();
}
