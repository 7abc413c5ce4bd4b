/*
 * sl_t_conf.c -- a scratch prefix and a cycle loaded from it.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <ftw.h>

#include "sl_test.h"
#include "sl_t_conf.h"

sl_tc_t  sl_tc;

static int
sl_tc_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void
sl_tc_mkdir(const char *name)
{
    char  path[PATH_MAX * 2];

    snprintf(path, sizeof(path), "%s/%s", sl_tc.dir, name);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

void
sl_tc_setup(void)
{
    const char  *base = getenv("SLUICE_TMP");

    sl_memzero(&sl_tc, sizeof(sl_tc));
    sl_tc.file.fd = SL_INVALID_FILE;

    snprintf(sl_tc.dir, sizeof(sl_tc.dir), "%s/conf.XXXXXX",
             base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(sl_tc.dir));
    sl_tc_mkdir("conf");
    sl_tc_mkdir("logs");
    snprintf(sl_tc.log_path, sizeof(sl_tc.log_path), "%s/startup.log",
             sl_tc.dir);
}

void
sl_tc_unload(void)
{
    if (sl_tc.cycle != NULL) {
        sl_destroy_cycle(sl_tc.cycle);
        sl_tc.cycle = NULL;
    }

    if (sl_tc.init.pool != NULL) {
        sl_destroy_pool(sl_tc.init.pool);
        sl_tc.init.pool = NULL;
    }

    if (sl_tc.file.fd > STDERR_FILENO) {
        close(sl_tc.file.fd);
        sl_tc.file.fd = SL_INVALID_FILE;
    }
}

void
sl_tc_teardown(void)
{
    sl_tc_unload();
    nftw(sl_tc.dir, sl_tc_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void
sl_tc_write(const char *name, const char *content, size_t len)
{
    char   path[PATH_MAX * 2];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", sl_tc.dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    fclose(f);
}

void
sl_tc_write_str(const char *name, const char *content)
{
    sl_tc_write(name, content, strlen(content));
}

/* the prefix-made path in the bootstrap pool */
static sl_str_t
sl_tc_str(const char *fmt, const char *arg)
{
    sl_str_t  s;
    char      buf[PATH_MAX * 2];

    snprintf(buf, sizeof(buf), fmt, arg);
    s.len = strlen(buf);
    s.data = sl_pnalloc(sl_tc.init.pool, s.len + 1);
    ck_assert_ptr_nonnull(s.data);
    memcpy(s.data, buf, s.len + 1);
    return s;
}

sl_cycle_t *
sl_tc_load(const char *param)
{
    ssize_t  n;
    int      fd;

    sl_tc_unload();

    sl_tc.file.fd = sl_open_append((u_char *) sl_tc.log_path);
    ck_assert_int_ge(sl_tc.file.fd, 0);
    sl_str_set(&sl_tc.file.name, "startup.log");

    sl_memzero(&sl_tc.log, sizeof(sl_log_t));
    sl_tc.log.file = &sl_tc.file;
    sl_tc.log.log_level = SL_LOG_DEBUG;

    sl_memzero(&sl_tc.init, sizeof(sl_cycle_t));
    sl_tc.init.log = &sl_tc.log;
    sl_time_update(&sl_tc.init.time);

    sl_tc.init.pool = sl_create_pool(1024, &sl_tc.log);
    ck_assert_ptr_nonnull(sl_tc.init.pool);
    sl_tc.init.prefix = sl_tc_str("%s/", sl_tc.dir);
    sl_tc.init.conf_prefix = sl_tc_str("%s/conf/", sl_tc.dir);
    sl_tc.init.conf_file = sl_tc_str("%s/conf/sluice.conf", sl_tc.dir);
    if (param != NULL) {
        sl_tc.init.conf_param = sl_tc_str("%s", param);
    }

    sl_tc.cycle = sl_init_cycle(&sl_tc.init);

    fd = open(sl_tc.log_path, O_RDONLY);
    n = fd < 0 ? 0 : read(fd, sl_tc.errors, sizeof(sl_tc.errors) - 1);
    sl_tc.errors[n > 0 ? n : 0] = '\0';
    if (fd >= 0) {
        close(fd);
    }

    return sl_tc.cycle;
}
