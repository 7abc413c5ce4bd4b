/*
 * sl_instance.c -- an embedded instance is made and unmade here: the
 * host's sl_instance_conf_t checked and read, the bootstrap cycle (paths,
 * and a log that hands the first error back to the caller as text), the
 * first configuration built, bound and given a loop; and all of it freed.
 *
 * The one structure shared by all instances is the registry of live ones,
 * so that a call with a destroyed handle is refused instead of reading
 * freed memory. It is written only by create and destroy, and read
 * without a lock (its slots are reused, never freed).
 * Nothing here may act on the process (see sl_embed.h).
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_embed.h"

typedef struct sl_embed_live_s  sl_embed_live_t;

/*
 * A slot of the registry. Slots are never freed, only emptied and taken
 * again, so that the list can be read without a lock -- by
 * sl_instance_stop() in a signal handler too -- while others change it.
 */
struct sl_embed_live_s {
    sl_embed_live_t                *next;     /* set before it is linked */
    _Atomic(sl_instance_t *)        in;       /* NULL: a free slot */
};

static _Atomic(sl_embed_live_t *)  sl_embed_live;

static void sl_embed_free(sl_instance_t *in);
static sl_int_t sl_embed_start(sl_instance_t *in,
    const sl_instance_conf_t *conf);

/* --- the registry -------------------------------------------------------- */

sl_uint_t
sl_embed_in_daemon(void)
{
    return atomic_load(&sl_embed_live) == NULL;
}

static sl_int_t
sl_embed_register(sl_instance_t *in)
{
    sl_embed_live_t  *l;
    sl_instance_t    *none;

    for (l = atomic_load(&sl_embed_live); l != NULL; l = l->next) {
        none = NULL;
        if (atomic_compare_exchange_strong(&l->in, &none, in)) {
            return SL_OK;
        }
    }

    l = malloc(sizeof(sl_embed_live_t));
    if (l == NULL) {
        return SL_ERROR;
    }

    atomic_init(&l->in, in);
    l->next = atomic_load(&sl_embed_live);

    while (!atomic_compare_exchange_weak(&sl_embed_live, &l->next, l)) {
        /* another slot was linked first: l->next now holds it */
    }

    return SL_OK;
}

static void
sl_embed_unregister(sl_instance_t *in)
{
    sl_embed_live_t  *l;

    for (l = atomic_load(&sl_embed_live); l != NULL; l = l->next) {
        if (atomic_load(&l->in) == in) {
            atomic_store(&l->in, NULL);
            return;
        }
    }
}

/* no lock, no allocation: async-signal-safe */
sl_uint_t
sl_embed_valid(sl_instance_t *in)
{
    sl_embed_live_t  *l;

    if (in == NULL) {
        return 0;
    }

    for (l = atomic_load(&sl_embed_live); l != NULL; l = l->next) {
        if (atomic_load(&l->in) == in) {
            return 1;
        }
    }

    return 0;
}

/* --- the logs ------------------------------------------------------------ */

static void
sl_embed_set_err(char *err, size_t errlen, const char *msg, size_t len)
{
    if (err == NULL || errlen == 0) {
        return;
    }

    len = sl_min(len, errlen - 1);
    sl_memcpy(err, msg, len);
    err[len] = '\0';
}

/* the host's log, for the configurations' error_log */
static void
sl_embed_host_sink(sl_open_file_t *file, sl_uint_t level, u_char *msg,
    size_t len)
{
    sl_instance_t  *in = file->sink_data;

    in->host_log(in->host_log_data, (int) level, (const char *) msg, len);
}

/*
 * The bootstrap log: what goes wrong while a configuration is read and
 * bound. The first error becomes err's text; everything goes to the
 * host's log, if there is one.
 */
static void
sl_embed_boot_sink(sl_open_file_t *file, sl_uint_t level, u_char *msg,
    size_t len)
{
    sl_instance_t  *in = file->sink_data;

    if (in->err != NULL && level <= SL_LOG_ERR) {
        sl_embed_set_err(in->err, in->errlen, (const char *) msg, len);
        in->err = NULL;
    }

    if (in->host_log != NULL && level <= in->host_log_level) {
        in->host_log(in->host_log_data, (int) level, (const char *) msg, len);
    }
}

void
sl_embed_capture_begin(sl_instance_t *in, char *err, size_t errlen)
{
    in->err = err;
    in->errlen = errlen;
    sl_embed_set_err(err, errlen, "", 0);
}

void
sl_embed_capture_end(sl_instance_t *in)
{
    in->err = NULL;
}

/* --- the configuration --------------------------------------------------- */

/*
 * Trailing bytes of a newer, larger struct are accepted only when they
 * are zero: whatever they would ask for, this library cannot do.
 */
sl_int_t
sl_embed_check_size(size_t size, size_t ours, const void *p)
{
    const u_char  *b = p;
    size_t         i;

    if (size < ours) {
        return SL_ERROR;
    }

    for (i = ours; i < size; i++) {
        if (b[i] != 0) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

static sl_int_t
sl_embed_check_handlers(const sl_handler_reg_t *h, char *err, size_t errlen)
{
    char  text[256];
    int   n;

    for ( /* void */ ; h != NULL && h->name != NULL; h++) {
        if (h->handler == NULL || h->handler->data == NULL
            || sl_embed_check_size(h->handler->size,
                                   sizeof(sl_stream_handler_t), h->handler)
               != SL_OK)
        {
            n = snprintf(text, sizeof(text), "invalid handler \"%s\": no "
                         "data callback or a wrong size", h->name);
            sl_embed_set_err(err, errlen, text, (size_t) sl_max(n, 0));
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/*
 * conf as sluice.h wants it. A reload uses only the configuration's
 * source and paths (all): its log fields and handlers are not looked at.
 */
sl_int_t
sl_embed_check_conf(const sl_instance_conf_t *conf, sl_uint_t all,
    char *err, size_t errlen)
{
    const char  *why = NULL;

    if (conf == NULL) {
        why = "no configuration";

    } else if (sl_embed_check_size(conf->size, sizeof(sl_instance_conf_t),
                                   conf) != SL_OK)
    {
        why = "sl_instance_conf_t has a wrong size";

    } else if ((conf->conf_file == NULL) == (conf->conf_string == NULL)) {
        why = "exactly one of conf_file and conf_string must be set";

    } else if (!all) {
        return SL_OK;

    } else if (conf->log_level < 0 || conf->log_level > SL_LOG_DEBUG) {
        why = "log_level is not a log level";

    } else {
        return sl_embed_check_handlers(conf->handlers, err, errlen);
    }

    sl_embed_set_err(err, errlen, why, strlen(why));
    return SL_ERROR;
}

static sl_int_t
sl_embed_copy_handlers(sl_instance_t *in, const sl_handler_reg_t *h)
{
    sl_uint_t  n = 0, i;

    while (h != NULL && h[n].name != NULL) {
        n++;
    }

    in->handlers = calloc(n + 1, sizeof(sl_handler_reg_t));
    if (in->handlers == NULL) {
        return SL_ERROR;
    }

    for (i = 0; i < n; i++) {
        in->handlers[i] = h[i];
        in->handlers[i].name = strdup(h[i].name);
        if (in->handlers[i].name == NULL) {
            return SL_ERROR;
        }
    }

    return SL_OK;
}

const sl_handler_reg_t *
sl_embed_find_handler(sl_instance_t *in, sl_str_t *name)
{
    sl_handler_reg_t  *h;

    for (h = in->handlers; h->name != NULL; h++) {
        if (strlen(h->name) == name->len
            && sl_strncmp(h->name, name->data, name->len) == 0)
        {
            return h;
        }
    }

    return NULL;
}

static sl_int_t
sl_embed_set_prefix(sl_instance_t *in, const char *prefix)
{
    char  cwd[PATH_MAX];

    if (prefix == NULL) {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            sl_log_error(SL_LOG_EMERG, &in->boot_log, errno,
                         "getcwd() failed");
            return SL_ERROR;
        }
        prefix = cwd;
    }

    return sl_conf_dir_name(in->init.pool, &in->init.prefix,
                            (const u_char *) prefix, strlen(prefix));
}

/* the paths of conf into the bootstrap cycle, in its (fresh) pool */
static sl_int_t
sl_embed_set_paths(sl_instance_t *in, const sl_instance_conf_t *conf)
{
    sl_cycle_t  *init = &in->init;
    const char  *slash;
    sl_str_t     name;

    sl_str_null(&init->conf_file);
    sl_str_null(&init->conf_string);
    sl_str_null(&init->conf_param);

    if (sl_embed_set_prefix(in, conf->prefix) != SL_OK) {
        return SL_ERROR;
    }

    init->conf_prefix = init->prefix;

    if (conf->directives != NULL) {
        init->conf_param.data = (u_char *) conf->directives;
        init->conf_param.len = strlen(conf->directives);
    }

    if (conf->conf_string != NULL) {
        init->conf_string.data = (u_char *) conf->conf_string;
        init->conf_string.len = strlen(conf->conf_string);
        return SL_OK;
    }

    name.data = (u_char *) conf->conf_file;
    name.len = strlen(conf->conf_file);
    if (sl_conf_full_name(init, &name, 0) != SL_OK) {
        return SL_ERROR;
    }

    init->conf_file = name;
    slash = strrchr((char *) name.data, '/');
    return sl_conf_dir_name(init->pool, &init->conf_prefix, name.data,
                            (size_t) (slash - (char *) name.data));
}

/*
 * The paths and the log come from the bootstrap cycle; the zones from the
 * cycle in force, which the new one replaces (none at create): a zone
 * kept is shared with it, a noreuse one carries its state over (see
 * sl_shm_zone.h). The cycle in force stays as it is meanwhile: only a
 * reload swaps it, and reloads hold reload_lock; destroy is refused while
 * one is under way.
 */
sl_cycle_t *
sl_embed_build_cycle(sl_instance_t *in, const sl_instance_conf_t *conf)
{
    sl_cycle_t  *cycle = NULL;

    in->init.pool = sl_create_pool(1024, &in->boot_log);
    if (in->init.pool == NULL) {
        return NULL;
    }

    sl_time_update(&in->init.time);

    if (sl_embed_set_paths(in, conf) == SL_OK) {
        in->init.replaces = in->cycle;
        cycle = sl_init_cycle(&in->init);
        in->init.replaces = NULL;
    }

    /* the new cycle has copies of what it needs */
    sl_destroy_pool(in->init.pool);
    in->init.pool = NULL;
    return cycle;
}

/* --- create and destroy -------------------------------------------------- */

static void
sl_embed_init_logs(sl_instance_t *in, const sl_instance_conf_t *conf)
{
    in->host_log = conf->log;
    in->host_log_data = conf->log_data;
    in->host_log_level = conf->log_level ? (sl_uint_t) conf->log_level
                                         : SL_LOG_NOTICE;

    in->boot_file.fd = SL_INVALID_FILE;
    sl_str_set(&in->boot_file.name, "sluice.h");
    in->boot_file.sink = sl_embed_boot_sink;
    in->boot_file.sink_data = in;
    in->boot_log.file = &in->boot_file;
    in->boot_log.log_level = SL_LOG_DEBUG;
    in->boot_log.time = &in->init.time;

    if (in->host_log != NULL) {
        in->host_file.fd = SL_INVALID_FILE;
        sl_str_set(&in->host_file.name, "sluice.h");
        in->host_file.sink = sl_embed_host_sink;
        in->host_file.sink_data = in;
        in->init.log_sink = &in->host_file;
        in->init.log_sink_level = in->host_log_level;
    }

    in->init.log = &in->boot_log;
    in->init.embedded = 1;
    in->init.embed = in;
}

static sl_instance_t *
sl_embed_alloc(const sl_instance_conf_t *conf)
{
    sl_instance_t  *in;

    in = calloc(1, sizeof(sl_instance_t));
    if (in == NULL) {
        return NULL;
    }

    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        free(in);
        return NULL;
    }

    (void) pthread_mutex_init(&in->reload_lock, NULL);
    (void) pthread_cond_init(&in->cond, NULL);

    in->data = conf->data;
    in->posts_tail = &in->posts;
    in->wake_fd[0] = SL_INVALID_FILE;
    in->wake_fd[1] = SL_INVALID_FILE;
    atomic_init(&in->stop, 0);
    atomic_init(&in->loop_thread, 0);
    atomic_init(&in->woken, 0);

    sl_embed_init_logs(in, conf);
    return in;
}

int
sl_instance_create(const sl_instance_conf_t *conf, sl_instance_t **out,
    char *err, size_t errlen)
{
    sl_instance_t  *in;

    sl_embed_set_err(err, errlen, "", 0);

    if (out == NULL) {
        sl_embed_set_err(err, errlen, "out is NULL", 11);
        return SL_ERROR;
    }

    *out = NULL;

    if (sl_embed_check_conf(conf, 1, err, errlen) != SL_OK) {
        return SL_ERROR;
    }

    in = sl_embed_alloc(conf);
    if (in == NULL) {
        sl_embed_set_err(err, errlen, "out of memory", 13);
        return SL_ERROR;
    }

    sl_embed_capture_begin(in, err, errlen);

    if (sl_embed_copy_handlers(in, conf->handlers) != SL_OK
        || sl_embed_start(in, conf) != SL_OK
        || sl_embed_register(in) != SL_OK)
    {
        if (err != NULL && errlen > 0 && err[0] == '\0') {
            sl_embed_set_err(err, errlen, "out of memory", 13);
        }
        sl_embed_free(in);
        return SL_ERROR;
    }

    sl_embed_capture_end(in);
    *out = in;
    return SL_OK;
}

/* the first cycle: built, bound, with a loop and its wake-up descriptor */
static sl_int_t
sl_embed_start(sl_instance_t *in, const sl_instance_conf_t *conf)
{
    sl_cycle_t  *cycle;

    cycle = sl_embed_build_cycle(in, conf);
    if (cycle == NULL) {
        return SL_ERROR;
    }

    in->cycle = cycle;

    if (sl_open_listening_sockets(cycle) != SL_OK) {
        return SL_ERROR;
    }

    cycle->log = &cycle->new_log;
    cycle->pool->log = cycle->log;
    cycle->old_cycle = NULL;
    in->wake_log = cycle->new_log;
    in->wake_log.next = NULL;

    in->loop = sl_event_loop_create(cycle);
    if (in->loop != NULL) {
        /* the first cycle may go before the loop does */
        in->loop->pool->log = &in->wake_log;
        in->loop->time_updated = sl_embed_time_updated;
        in->loop->time_data = in;
    }

    if (in->loop == NULL || sl_embed_wake_open(in) != SL_OK
        || sl_modules_init_process(cycle) != SL_OK)
    {
        return SL_ERROR;
    }

    return SL_OK;
}

/* everything the instance holds; fine on one half-built too */
static void
sl_embed_free(sl_instance_t *in)
{
    sl_handler_reg_t  *h;

    if (in->loop != NULL) {
        sl_embed_close_sessions(in);
    }

    sl_embed_run_posts(in, 1);
    sl_embed_free_retired(in);

    if (in->cycle != NULL && in->state != SL_EMBED_DONE && in->loop != NULL) {
        sl_modules_exit_process(in->cycle);
    }

    sl_embed_wake_close(in);

    if (in->loop != NULL) {
        sl_event_loop_destroy(in->loop);
    }

    if (in->cycle != NULL) {
        sl_close_listening_sockets(in->cycle);
        sl_destroy_cycle(in->cycle);
    }

    for (h = in->handlers; h != NULL && h->name != NULL; h++) {
        free((char *) h->name);
    }
    free(in->handlers);

    (void) pthread_cond_destroy(&in->cond);
    (void) pthread_mutex_destroy(&in->reload_lock);
    (void) pthread_mutex_destroy(&in->lock);
    free(in);
}

int
sl_instance_destroy(sl_instance_t *in)
{
    sl_uint_t  busy;

    if (!sl_embed_valid(in)) {
        return SL_ERROR;
    }

    (void) pthread_mutex_lock(&in->lock);
    busy = in->inside || in->started || in->reloading || in->reloads;
    (void) pthread_mutex_unlock(&in->lock);

    if (busy) {
        return SL_BUSY;
    }

    sl_embed_unregister(in);
    sl_embed_free(in);
    return SL_OK;
}

void *
sl_instance_data(sl_instance_t *in)
{
    return sl_embed_valid(in) ? in->data : NULL;
}
