/*
 * sl_cycle.c -- building and tearing down a cycle.
 */
#include "sl_config.h"
#include "sl_core.h"

static sl_int_t sl_cycle_copy_paths(sl_cycle_t *cycle, sl_cycle_t *old);
static sl_int_t sl_cycle_create_confs(sl_cycle_t *cycle);
static sl_int_t sl_cycle_init_confs(sl_cycle_t *cycle);
static sl_int_t sl_cycle_open_files(sl_cycle_t *cycle);
static void sl_close_open_files(void *data);

/* the configuration file, or the text an embedding host gave instead */
static char *
sl_cycle_parse(sl_conf_t *cf, sl_cycle_t *cycle)
{
    static const sl_str_t  name = sl_string("STRING");

    if (cycle->conf_string.data != NULL) {
        return sl_conf_parse_string(cf, &name, &cycle->conf_string);
    }

    return sl_conf_parse(cf, &cycle->conf_file);
}

sl_cycle_t *
sl_init_cycle(sl_cycle_t *old)
{
    sl_pool_t   *pool;
    sl_cycle_t  *cycle;
    sl_conf_t    conf;
    char         hostname[256];

    sl_preinit_modules();

    pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, old->log);
    if (pool == NULL) {
        return NULL;
    }

    cycle = sl_pcalloc(pool, sizeof(sl_cycle_t));
    if (cycle == NULL) {
        sl_destroy_pool(pool);
        return NULL;
    }

    cycle->pool = pool;
    cycle->log = old->log;      /* config errors go to the log in force */
    cycle->old_cycle = old->replaces != NULL ? old->replaces : old;
    cycle->time = old->time;
    cycle->test_config = old->test_config;
    cycle->test_dump = old->test_dump;
    cycle->quiet = old->quiet;
    cycle->embedded = old->embedded;
    cycle->embed = old->embed;
    cycle->log_sink = old->log_sink;
    cycle->log_sink_level = old->log_sink_level;
    sl_time_update(&cycle->time);

    if (sl_cycle_copy_paths(cycle, old) != SL_OK
        || sl_list_init(&cycle->open_files, pool, 8, sizeof(sl_open_file_t))
           != SL_OK
        || sl_array_init(&cycle->config_dump, pool, 4, sizeof(sl_conf_dump_t))
           != SL_OK
        || sl_array_init(&cycle->listening, pool, 4, sizeof(sl_listening_t))
           != SL_OK)
    {
        goto failed;
    }

    if (gethostname(hostname, sizeof(hostname)) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "gethostname() failed");
        goto failed;
    }
    hostname[sizeof(hostname) - 1] = '\0';
    cycle->hostname.len = sl_strlen(hostname);
    cycle->hostname.data = sl_pnalloc(pool, cycle->hostname.len);
    if (cycle->hostname.data == NULL) {
        goto failed;
    }
    sl_strlow(cycle->hostname.data, (u_char *) hostname, cycle->hostname.len);

    if (sl_cycle_init_modules(cycle) != SL_OK
        || sl_cycle_create_confs(cycle) != SL_OK)
    {
        goto failed;
    }

    sl_memzero(&conf, sizeof(sl_conf_t));
    conf.args = sl_array_create(pool, 10, sizeof(sl_str_t));
    conf.temp_pool = sl_create_pool(SL_DEFAULT_POOL_SIZE, cycle->log);
    if (conf.args == NULL || conf.temp_pool == NULL) {
        goto failed;
    }
    conf.ctx = cycle->conf_ctx;
    conf.cycle = cycle;
    conf.pool = pool;
    conf.log = cycle->log;
    conf.module_type = SL_CORE_MODULE;
    conf.cmd_type = SL_MAIN_CONF;

    if (sl_conf_param(&conf, &cycle->conf_param) != SL_CONF_OK
        || sl_cycle_parse(&conf, cycle) != SL_CONF_OK)
    {
        sl_destroy_pool(conf.temp_pool);
        goto failed;
    }

    sl_destroy_pool(conf.temp_pool);

    if (cycle->test_config && !cycle->quiet) {
        sl_log_stderr(0, "the configuration file %V syntax is ok",
                      &cycle->conf_file);
    }

    if (sl_cycle_init_confs(cycle) != SL_OK
        || sl_cycle_open_files(cycle) != SL_OK
        || sl_shm_zones_init(cycle) != SL_OK
        || sl_modules_init_module(cycle) != SL_OK)
    {
        goto failed;
    }

    cycle->new_log.time = &cycle->time;
    return cycle;

failed:

    sl_destroy_pool(pool);
    return NULL;
}

void
sl_destroy_cycle(sl_cycle_t *cycle)
{
    sl_destroy_pool(cycle->pool);
}

/* a NULL string stays NULL: conf_string tells "none" from "empty" by it */
static sl_int_t
sl_cycle_dup(sl_pool_t *pool, sl_str_t *dst, sl_str_t *src)
{
    if (src->data == NULL) {
        sl_str_null(dst);
        return SL_OK;
    }

    dst->len = src->len;
    dst->data = sl_pstrdup(pool, src);
    return (dst->data == NULL && src->data != NULL) ? SL_ERROR : SL_OK;
}

static sl_int_t
sl_cycle_copy_paths(sl_cycle_t *cycle, sl_cycle_t *old)
{
    if (sl_cycle_dup(cycle->pool, &cycle->conf_file, &old->conf_file) != SL_OK
        || sl_cycle_dup(cycle->pool, &cycle->conf_param, &old->conf_param)
           != SL_OK
        || sl_cycle_dup(cycle->pool, &cycle->conf_string, &old->conf_string)
           != SL_OK
        || sl_cycle_dup(cycle->pool, &cycle->conf_prefix, &old->conf_prefix)
           != SL_OK
        || sl_cycle_dup(cycle->pool, &cycle->prefix, &old->prefix) != SL_OK
        || sl_cycle_dup(cycle->pool, &cycle->error_log, &old->error_log)
           != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

static sl_int_t
sl_cycle_create_confs(sl_cycle_t *cycle)
{
    sl_core_module_t  *cm;
    sl_uint_t          i;

    cycle->conf_ctx = sl_pcalloc(cycle->pool,
                                 sl_modules_max() * sizeof(void *));
    if (cycle->conf_ctx == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_CORE_MODULE) {
            continue;
        }

        cm = cycle->modules[i]->ctx;
        if (cm->create_conf == NULL) {
            continue;
        }

        cycle->conf_ctx[cycle->modules[i]->index] = cm->create_conf(cycle);
        if (cycle->conf_ctx[cycle->modules[i]->index] == NULL) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static sl_int_t
sl_cycle_init_confs(sl_cycle_t *cycle)
{
    sl_core_module_t  *cm;
    sl_uint_t          i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type != SL_CORE_MODULE) {
            continue;
        }

        cm = cycle->modules[i]->ctx;
        if (cm->init_conf == NULL) {
            continue;
        }

        if (cm->init_conf(cycle, cycle->conf_ctx[cycle->modules[i]->index]) == SL_CONF_ERROR) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

sl_open_file_t *
sl_conf_open_file(sl_cycle_t *cycle, sl_str_t *name)
{
    sl_list_part_t  *part;
    sl_open_file_t  *file;
    sl_str_t         full;
    sl_uint_t        i;

    full = *name;

    if (!sl_str_eq_lit(name, "stderr")
        && sl_conf_full_name(cycle, &full, 0) != SL_OK)
    {
        return NULL;
    }

    for (part = &cycle->open_files.part; part != NULL; part = part->next) {
        file = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if (sl_str_eq(&file[i].name, &full)) {
                return &file[i];
            }
        }
    }

    file = sl_list_push(&cycle->open_files);
    if (file == NULL) {
        return NULL;
    }

    file->fd = SL_INVALID_FILE;
    file->name = full;
    file->flush = NULL;
    file->sink = NULL;
    file->sink_data = NULL;
    file->writer = NULL;
    file->wdata = NULL;
    file->data = NULL;
    return file;
}

static sl_int_t
sl_cycle_open_files(sl_cycle_t *cycle)
{
    sl_pool_cleanup_t  *cln;
    sl_list_part_t     *part;
    sl_open_file_t     *file;
    sl_uint_t           i;

    /* registered first, so that a failure half-way closes what opened */
    cln = sl_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return SL_ERROR;
    }
    cln->handler = sl_close_open_files;
    cln->data = &cycle->open_files;

    for (part = &cycle->open_files.part; part != NULL; part = part->next) {
        file = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if (sl_str_eq_lit(&file[i].name, "stderr")) {
                file[i].fd = STDERR_FILENO;
                continue;
            }

            file[i].fd = sl_open_append(file[i].name.data);
            if (file[i].fd == SL_INVALID_FILE) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                             "open() \"%V\" failed", &file[i].name);
                return SL_ERROR;
            }
        }
    }

    return SL_OK;
}

static void
sl_close_open_files(void *data)
{
    sl_list_t       *files = data;
    sl_list_part_t  *part;
    sl_open_file_t  *file;
    sl_uint_t        i;

    for (part = &files->part; part != NULL; part = part->next) {
        file = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if (file[i].fd > STDERR_FILENO) {
                close(file[i].fd);
            }
            file[i].fd = SL_INVALID_FILE;
        }
    }
}

void
sl_reopen_files(sl_cycle_t *cycle)
{
    sl_reopen_files_for(cycle, (uid_t) -1);
}

/*
 * A master running as root reopens the logs of workers that do not: the
 * new file is theirs, readable and writable by its owner only.
 */
static void
sl_reopen_file_owner(sl_cycle_t *cycle, sl_open_file_t *file, uid_t user)
{
    struct stat  st;

    if (user == (uid_t) -1 || fstat(file->fd, &st) == -1) {
        return;
    }

    if (st.st_uid != user && fchown(file->fd, user, (gid_t) -1) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                     "chown(\"%V\", %d) failed", &file->name, (int) user);
    }

    if ((st.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR)
        && fchmod(file->fd, st.st_mode | S_IRUSR | S_IWUSR) == -1)
    {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                     "chmod() \"%V\" failed", &file->name);
    }
}

void
sl_reopen_files_for(sl_cycle_t *cycle, uid_t user)
{
    sl_list_part_t  *part;
    sl_open_file_t  *file;
    sl_uint_t        i;
    sl_fd_t          fd;

    for (part = &cycle->open_files.part; part != NULL; part = part->next) {
        file = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if (file[i].fd <= STDERR_FILENO) {
                continue;
            }

            /* buffered lines belong to the file they were written for */
            if (file[i].flush != NULL) {
                file[i].flush(&file[i], cycle->log);
            }

            fd = sl_open_append(file[i].name.data);
            if (fd == SL_INVALID_FILE) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno,
                             "reopen() \"%V\" failed", &file[i].name);
                continue;
            }

            close(file[i].fd);
            file[i].fd = fd;
            sl_reopen_file_owner(cycle, &file[i], user);
        }
    }
}
