/*
 * sl_module_loader.c -- "load_module": modules in shared objects.
 *
 * It owns the process's registry of loaded objects. An object is opened
 * once per file (sl_dlopen.c): a second load_module of the same file, in
 * this cycle or another, takes a reference to the same object; a file
 * replaced since is a new object. Each cycle that loaded an object holds
 * one reference, given back when the cycle's pool goes, and the object is
 * unloaded with its last reference: nothing is unloaded while a
 * configuration uses it.
 *
 * Before a line of a module runs, its ABI record is checked; a refusal
 * names every field that differs and the fix. The modules of an accepted
 * object are numbered once, under the registry's lock, before any cycle
 * sees them (their slots come back when the object is unloaded); no
 * module structure is written afterwards, so instances in several
 * threads may load modules at once. The cycle then lists the modules in
 * its own table.
 *
 * It must never call a loaded module's code itself, except the core
 * modules' create_conf, as the cycle would have for a built-in one.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_dlopen.h"

#include <pthread.h>

#define SL_LOADER_ERRLEN  1024

typedef struct sl_module_object_s  sl_module_object_t;

struct sl_module_object_s {
    sl_module_object_t     *next;
    sl_uint_t               refs;       /* the cycles that loaded it */
    sl_dl_t                 dl;
    const sl_module_abi_t  *abi;
    char                   *path;       /* malloc'd: as first loaded */
    sl_uint_t               nmodules;   /* its sl_module_t, if full */
};

/* an object as one cycle loaded it: cycle->loaded's elements */
typedef struct {
    sl_module_object_t     *obj;
    char                   *path;       /* the cycle's: as its line said */
} sl_module_use_t;

/* what one load_module asks: the file, and where to say why not */
typedef struct {
    const char             *path;
    char                    err[SL_LOADER_ERRLEN];
} sl_loader_req_t;

static char *sl_load_module(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static pthread_mutex_t      sl_loader_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_module_object_t  *sl_loader_objects;
/* the numbers of loaded modules taken: 1 in slot N is index builtin + N */
static u_char               sl_loader_taken[SL_MODULE_SLOTS];

static sl_command_t  sl_module_loader_commands[] = {

    { sl_string("load_module"),
      SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_load_module,
      0,
      0,
      NULL },

      sl_null_command
};

static sl_core_module_t  sl_module_loader_module_ctx = {
    sl_string("module_loader"),
    NULL,
    NULL
};

sl_module_t  sl_module_loader_module = {
    .name = "sl_module_loader_module",
    .ctx = &sl_module_loader_module_ctx,
    .commands = sl_module_loader_commands,
    .type = SL_CORE_MODULE,
};

/* --- the ABI record -------------------------------------------------------- */

/* ", 4-byte off_t" for each size, and OpenSSL, that differs from ours */
static void
sl_loader_abi_extras(const sl_module_abi_t *abi, const sl_module_abi_t *our,
    char *buf, size_t len)
{
    char  *p = buf, *end = buf + len;

    *p = '\0';

#define sl_loader_extra(field, fmt)                                           \
    if (abi->field != our->field && p < end) {                                \
        p += snprintf(p, (size_t) (end - p), fmt, (unsigned) our->field);     \
    }

    sl_loader_extra(ptr_size, ", %u-byte pointers")
    sl_loader_extra(off_size, ", %u-byte off_t")
    sl_loader_extra(time_size, ", %u-byte time_t")
    sl_loader_extra(openssl_major, ", OpenSSL %u")

#undef sl_loader_extra
}

/* what this sluice gives a module of the kind the record declares */
static void
sl_loader_our_abi(const sl_module_abi_t *abi, sl_module_abi_t *our)
{
    sl_memzero(our, sizeof(sl_module_abi_t));
    our->kind = abi->kind;
    our->ptr_size = sizeof(void *);

    if (abi->kind == SL_MODULE_KIND_HANDLER) {
        our->abi_major = SL_HANDLER_API_MAJOR;
        our->abi_minor = SL_HANDLER_API_MINOR;
        our->off_size = abi->off_size;      /* not part of the handler API */
        our->time_size = abi->time_size;
        our->openssl_major = abi->openssl_major;
        return;
    }

    our->abi_major = SL_MODULE_ABI_MAJOR;
    our->abi_minor = SL_MODULE_ABI_MINOR;
    our->off_size = sizeof(off_t);
    our->time_size = sizeof(time_t);
    our->openssl_major = OPENSSL_VERSION_MAJOR;
}

static sl_int_t
sl_loader_abi_fits(const sl_module_abi_t *abi, const sl_module_abi_t *our)
{
    if (abi->kind == SL_MODULE_KIND_FULL && abi->abi_minor > our->abi_minor) {
        return 0;
    }

    return abi->abi_major == our->abi_major
           && abi->ptr_size == our->ptr_size
           && abi->off_size == our->off_size
           && abi->time_size == our->time_size
           && abi->openssl_major == our->openssl_major;
}

static sl_int_t
sl_loader_check_abi(sl_loader_req_t *rq, const sl_module_abi_t *abi)
{
    sl_module_abi_t  our;
    const char      *what;
    char             theirs[128], ours[128];

    if (abi->magic != SL_MODULE_ABI_MAGIC
        || (abi->kind != SL_MODULE_KIND_FULL
            && abi->kind != SL_MODULE_KIND_HANDLER))
    {
        snprintf(rq->err, sizeof(rq->err), "\"%s\" is not a sluice module: "
                 "its record has magic 0x%08x and kind %u, not 0x%08x and "
                 "1 or 2: rebuild it against this sluice's SDK (pkg-config "
                 "sluice = %s)", rq->path, abi->magic, (unsigned) abi->kind,
                 SL_MODULE_ABI_MAGIC, SL_VERSION);
        return SL_ERROR;
    }

    sl_loader_our_abi(abi, &our);
    if (sl_loader_abi_fits(abi, &our)) {
        return SL_OK;
    }

    what = abi->kind == SL_MODULE_KIND_FULL ? "module ABI" : "handler API";
    sl_loader_abi_extras(&our, abi, theirs, sizeof(theirs));
    sl_loader_abi_extras(abi, &our, ours, sizeof(ours));

    snprintf(rq->err, sizeof(rq->err), "%s: built for %s %u.%u (sluice %s)%s, "
             "this sluice has %u.%u (%s)%s: rebuild it against this sluice's "
             "SDK (pkg-config sluice = %s)", rq->path, what,
             (unsigned) abi->abi_major, (unsigned) abi->abi_minor,
             abi->ptr_size == sizeof(void *) && abi->version != NULL
             ? abi->version : "?", theirs,
             (unsigned) our.abi_major, (unsigned) our.abi_minor, SL_VERSION,
             ours, SL_VERSION);
    return SL_ERROR;
}

/* the modules a full record lists: at least one, each with a name */
static sl_int_t
sl_loader_check_body(sl_loader_req_t *rq, sl_module_object_t *obj)
{
    const sl_module_abi_t  *abi = obj->abi;
    sl_module_t *const     *m;
    sl_uint_t               n = 0;

    if (abi->name == NULL || abi->name[0] == '\0' || abi->body == NULL) {
        snprintf(rq->err, sizeof(rq->err), "\"%s\" has a module record "
                 "without a name or a body", rq->path);
        return SL_ERROR;
    }

    if (abi->kind == SL_MODULE_KIND_HANDLER) {
        return SL_OK;
    }

    for (m = abi->body; *m != NULL; m++) {
        if ((*m)->name == NULL) {
            snprintf(rq->err, sizeof(rq->err), "\"%s\": module %lu of \"%s\" "
                     "has no name", rq->path, (unsigned long) n, abi->name);
            return SL_ERROR;
        }
        n++;
    }

    if (n == 0) {
        snprintf(rq->err, sizeof(rq->err), "\"%s\": \"%s\" declares no "
                 "module", rq->path, abi->name);
        return SL_ERROR;
    }

    obj->nmodules = n;

    return SL_OK;
}

/* --- the registry (under sl_loader_lock) --------------------------------- */

static sl_uint_t
sl_loader_builtin_of_type(sl_uint_t type)
{
    sl_uint_t  i, n = 0;

    for (i = 0; sl_modules[i] != NULL; i++) {
        n += sl_modules[i]->type == type;
    }

    return n;
}

/* each module of a new object gets a free slot: its index and ctx_index */
static sl_int_t
sl_loader_number(sl_loader_req_t *rq, sl_module_object_t *obj)
{
    sl_module_t *const  *m;
    sl_uint_t            slot = 0;

    if (obj->abi->kind != SL_MODULE_KIND_FULL) {
        return SL_OK;
    }

    if (obj->nmodules > SL_MAX_DYNAMIC_MODULES) {
        snprintf(rq->err, sizeof(rq->err), "\"%s\" declares %lu modules, "
                 "more than the %d a configuration may load", rq->path,
                 (unsigned long) obj->nmodules, SL_MAX_DYNAMIC_MODULES);
        return SL_ERROR;
    }

    for (m = obj->abi->body; *m != NULL; m++) {
        while (slot < SL_MODULE_SLOTS && sl_loader_taken[slot]) {
            slot++;
        }

        if (slot == SL_MODULE_SLOTS) {
            snprintf(rq->err, sizeof(rq->err), "\"%s\": more than %d "
                     "modules are loaded in this process (those of the "
                     "configurations still serving count)", rq->path,
                     SL_MODULE_SLOTS);
            return SL_ERROR;
        }

        sl_loader_taken[slot] = 1;
        (*m)->index = sl_modules_builtin() + slot;
        (*m)->ctx_index = sl_loader_builtin_of_type((*m)->type) + slot;
    }

    return SL_OK;
}

/* the numbers of the modules of obj come back (under the lock) */
static void
sl_loader_unnumber(sl_module_object_t *obj)
{
    sl_module_t *const  *m;
    sl_uint_t            n = 0;

    if (obj->abi == NULL || obj->abi->kind != SL_MODULE_KIND_FULL) {
        return;
    }

    /* only those numbered: a failed sl_loader_number() stops half-way */
    for (m = obj->abi->body; *m != NULL && n < obj->nmodules; m++, n++) {
        if ((*m)->index >= sl_modules_builtin()
            && (*m)->index < sl_modules_max())
        {
            sl_loader_taken[(*m)->index - sl_modules_builtin()] = 0;
        }
    }
}

static sl_int_t
sl_loader_open(sl_loader_req_t *rq, sl_module_object_t *obj)
{
    const sl_module_abi_t *const  *rec;

    char                           why[SL_LOADER_ERRLEN / 2];

    if (sl_dl_load(&obj->dl, rq->path, why, sizeof(why)) != SL_OK) {
        snprintf(rq->err, sizeof(rq->err), "dlopen() \"%.256s\" failed (%s)",
                 rq->path, why);
        return SL_ERROR;
    }

    rec = sl_dl_sym(&obj->dl, "sl_module_abi");
    if (rec == NULL || *rec == NULL) {
        snprintf(rq->err, sizeof(rq->err), "\"%s\" is not a sluice module: "
                 "it exports no \"sl_module_abi\" record (declare the module "
                 "with SL_MODULE() or SL_HANDLER_MODULE(): see "
                 "docs/modules.md)", rq->path);
        return SL_ERROR;
    }

    obj->abi = *rec;

    if (sl_loader_check_abi(rq, obj->abi) != SL_OK
        || sl_loader_check_body(rq, obj) != SL_OK)
    {
        return SL_ERROR;
    }

    obj->path = strdup(rq->path);
    if (obj->path == NULL) {
        snprintf(rq->err, sizeof(rq->err), "\"%s\": out of memory", rq->path);
        return SL_ERROR;
    }

    return sl_loader_number(rq, obj);
}

static void
sl_loader_free(sl_module_object_t *obj)
{
    sl_dl_close(&obj->dl);
    free(obj->path);
    free(obj);
}

/* the object of the file at rq->path, loaded and checked; one more ref */
static sl_module_object_t *
sl_loader_get(sl_loader_req_t *rq)
{
    sl_module_object_t  *obj;
    sl_dl_t              dl;

    if (sl_dl_open_file(&dl, rq->path) != SL_OK) {
        snprintf(rq->err, sizeof(rq->err), "open() \"%s\" failed (%d: %s)",
                 rq->path, errno, strerror(errno));
        return NULL;
    }

    pthread_mutex_lock(&sl_loader_lock);

    for (obj = sl_loader_objects; obj != NULL; obj = obj->next) {
        if (obj->dl.dev == dl.dev && obj->dl.ino == dl.ino) {
            obj->refs++;
            pthread_mutex_unlock(&sl_loader_lock);
            sl_dl_close(&dl);
            return obj;
        }
    }

    obj = calloc(1, sizeof(sl_module_object_t));
    if (obj == NULL) {
        pthread_mutex_unlock(&sl_loader_lock);
        sl_dl_close(&dl);
        snprintf(rq->err, sizeof(rq->err), "\"%s\": out of memory", rq->path);
        return NULL;
    }

    obj->dl = dl;

    if (sl_loader_open(rq, obj) != SL_OK) {
        sl_loader_unnumber(obj);
        pthread_mutex_unlock(&sl_loader_lock);
        sl_loader_free(obj);
        return NULL;
    }

    obj->refs = 1;
    obj->next = sl_loader_objects;
    sl_loader_objects = obj;

    pthread_mutex_unlock(&sl_loader_lock);
    return obj;
}

static void
sl_loader_put(sl_module_object_t *obj)
{
    sl_module_object_t  **pp;

    pthread_mutex_lock(&sl_loader_lock);

    if (--obj->refs > 0) {
        pthread_mutex_unlock(&sl_loader_lock);
        return;
    }

    for (pp = &sl_loader_objects; *pp != obj; pp = &(*pp)->next) {
        /* void */
    }
    *pp = obj->next;
    sl_loader_unnumber(obj);

    pthread_mutex_unlock(&sl_loader_lock);

    sl_loader_free(obj);
}

/* --- the cycle's table --------------------------------------------------- */

static void
sl_loader_cycle_cleanup(void *data)
{
    sl_cycle_t       *cycle = data;
    sl_module_use_t  *use = cycle->loaded.elts;
    sl_uint_t         i;

    for (i = 0; i < cycle->loaded.nelts; i++) {
        sl_loader_put(use[i].obj);
    }

    cycle->loaded.nelts = 0;
}

static sl_uint_t sl_loader_is_handler(const sl_module_abi_t *abi,
    sl_str_t *name);

/* a handler module whose name a handler built in has already */
static sl_int_t
sl_loader_check_handler(sl_conf_t *cf, sl_module_object_t *obj, char *path)
{
    sl_str_t   name;
    sl_uint_t  i;

    name.data = (u_char *) obj->abi->name;
    name.len = sl_strlen(obj->abi->name);

    for (i = 0; sl_static_handler_modules[i] != NULL; i++) {
        if (sl_loader_is_handler(sl_static_handler_modules[i], &name)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "handler module \"%V\" "
                              "of \"%s\" is built into this sluice", &name,
                              path);
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/*
 * What the cycle cannot take: the same object twice, a module name it
 * has already (from another object, or built in), more modules than a
 * configuration may load.
 */
static sl_int_t
sl_loader_check_names(sl_conf_t *cf, sl_module_object_t *obj, char *path)
{
    sl_module_use_t     *use = cf->cycle->loaded.elts;
    sl_module_t *const  *m;
    sl_uint_t            i;

    for (i = 0; i < cf->cycle->loaded.nelts; i++) {
        if (use[i].obj == obj) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "module \"%s\" is already "
                              "loaded from \"%s\"", obj->abi->name,
                              use[i].path);
            return SL_ERROR;
        }

        if (sl_strcmp(use[i].obj->abi->name, obj->abi->name) == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "module \"%s\" of \"%s\" "
                              "is already loaded from \"%s\"", obj->abi->name,
                              path, use[i].path);
            return SL_ERROR;
        }
    }

    if (obj->abi->kind != SL_MODULE_KIND_FULL) {
        return sl_loader_check_handler(cf, obj, path);
    }

    if (cf->cycle->modules_n - sl_modules_builtin() + obj->nmodules
        > SL_MAX_DYNAMIC_MODULES)
    {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%s\": more than %d "
                          "modules would be loaded by this configuration",
                          path, SL_MAX_DYNAMIC_MODULES);
        return SL_ERROR;
    }

    for (m = obj->abi->body; *m != NULL; m++) {
        if (sl_cycle_find_module(cf->cycle, (*m)->name) != NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "module \"%s\" of \"%s\" "
                              "is already in this sluice (built in, or "
                              "loaded by an earlier load_module)",
                              (*m)->name, path);
            return SL_ERROR;
        }
    }

    return SL_OK;
}

/* m goes before the module order names, if the cycle has it; else last */
static void
sl_loader_insert(sl_cycle_t *cycle, sl_module_t *m, const char *order)
{
    sl_uint_t  i, at = cycle->modules_n;

    for (i = 0; order != NULL && i < cycle->modules_n; i++) {
        if (sl_strcmp(cycle->modules[i]->name, order) == 0) {
            at = i;
            break;
        }
    }

    sl_memmove(&cycle->modules[at + 1], &cycle->modules[at],
               (cycle->modules_n - at) * sizeof(sl_module_t *));
    cycle->modules[at] = m;
    cycle->modules[++cycle->modules_n] = NULL;
}

/* the object's modules join the cycle; core ones get their conf now */
static sl_int_t
sl_loader_add(sl_conf_t *cf, sl_module_object_t *obj)
{
    sl_module_t *const  *m;
    sl_core_module_t    *cm;

    if (obj->abi->kind != SL_MODULE_KIND_FULL) {
        return SL_OK;
    }

    for (m = obj->abi->body; *m != NULL; m++) {
        sl_loader_insert(cf->cycle, *m, obj->abi->order);

        if ((*m)->type != SL_CORE_MODULE) {
            continue;
        }

        cm = (*m)->ctx;
        if (cm != NULL && cm->create_conf != NULL) {
            cf->cycle->conf_ctx[(*m)->index] = cm->create_conf(cf->cycle);
            if (cf->cycle->conf_ctx[(*m)->index] == NULL) {
                return SL_ERROR;
            }
        }
    }

    return SL_OK;
}

/* the cycle holds a reference to obj from now on, whatever comes next */
static sl_int_t
sl_loader_keep(sl_conf_t *cf, sl_module_object_t *obj, char *path)
{
    sl_pool_cleanup_t  *cln;
    sl_module_use_t    *use;

    if (cf->cycle->loaded.elts == NULL) {
        cln = sl_pool_cleanup_add(cf->cycle->pool, 0);
        if (cln == NULL
            || sl_array_init(&cf->cycle->loaded, cf->cycle->pool, 2,
                             sizeof(sl_module_use_t)) != SL_OK)
        {
            sl_loader_put(obj);
            return SL_ERROR;
        }
        cln->handler = sl_loader_cycle_cleanup;
        cln->data = cf->cycle;
    }

    use = sl_array_push(&cf->cycle->loaded);
    if (use == NULL) {
        sl_loader_put(obj);
        return SL_ERROR;
    }

    use->obj = obj;
    use->path = path;
    return SL_OK;
}

/* --- the directive ------------------------------------------------------- */

/*
 * The file: an absolute path as it is; else under the modules path, then
 * under the prefix. NULL when neither is there (said in cf's log).
 */
static char *
sl_loader_resolve(sl_conf_t *cf, sl_str_t *name)
{
    sl_str_t  *prefix = &cf->cycle->prefix;
    char      *under_modules, *under_prefix;
    size_t     len;

    len = prefix->len + sizeof(SL_MODULES_PATH) + 1 + name->len + 1;
    under_modules = sl_pnalloc(cf->pool, len);
    under_prefix = sl_pnalloc(cf->pool, len);
    if (under_modules == NULL || under_prefix == NULL) {
        return NULL;
    }

    if (name->data[0] == '/') {
        snprintf(under_prefix, len, "%.*s", (int) name->len, name->data);
        return under_prefix;
    }

    snprintf(under_modules, len, "%.*s%s/%.*s",
             SL_MODULES_PATH[0] == '/' ? 0 : (int) prefix->len, prefix->data,
             SL_MODULES_PATH, (int) name->len, name->data);
    snprintf(under_prefix, len, "%.*s%.*s", (int) prefix->len, prefix->data,
             (int) name->len, name->data);

    if (access(under_modules, F_OK) == 0) {
        return under_modules;
    }

    if (access(under_prefix, F_OK) == 0) {
        return under_prefix;
    }

    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "module \"%V\" is found neither "
                      "as \"%s\" nor as \"%s\"", name, under_modules,
                      under_prefix);
    return NULL;
}

static char *
sl_load_module(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t            *value = cf->args->elts;
    sl_module_object_t  *obj;
    sl_loader_req_t      rq;

    sl_unused(cmd);
    sl_unused(conf);

    if (cf->cycle->modules_used_block != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"load_module\" directive "
                          "is specified too late: it must come before the "
                          "\"%s\" block at %V:%ui",
                          cf->cycle->modules_used_block,
                          &cf->cycle->modules_used_file,
                          cf->cycle->modules_used_line);
        return SL_CONF_ERROR;
    }

    if (value[1].len == 0) {
        return "has an empty file name";
    }

    rq.path = sl_loader_resolve(cf, &value[1]);
    if (rq.path == NULL) {
        return SL_CONF_ERROR;
    }

    obj = sl_loader_get(&rq);
    if (obj == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s", rq.err);
        return SL_CONF_ERROR;
    }

    if (sl_loader_check_names(cf, obj, (char *) rq.path) != SL_OK) {
        sl_loader_put(obj);
        return SL_CONF_ERROR;
    }

    if (sl_loader_keep(cf, obj, (char *) rq.path) != SL_OK
        || sl_loader_add(cf, obj) != SL_OK)
    {
        return SL_CONF_ERROR;
    }

    return SL_CONF_OK;
}

/* --- what other layers ask ----------------------------------------------- */

static sl_uint_t
sl_loader_is_handler(const sl_module_abi_t *abi, sl_str_t *name)
{
    return abi->kind == SL_MODULE_KIND_HANDLER
           && sl_strlen(abi->name) == name->len
           && sl_strncmp(abi->name, name->data, name->len) == 0;
}

const void *
sl_cycle_find_handler_module(sl_cycle_t *cycle, sl_str_t *name)
{
    sl_module_use_t  *use = cycle->loaded.elts;
    sl_uint_t         i;

    for (i = 0; sl_static_handler_modules[i] != NULL; i++) {
        if (sl_loader_is_handler(sl_static_handler_modules[i], name)) {
            return sl_static_handler_modules[i]->body;
        }
    }

    for (i = 0; i < cycle->loaded.nelts; i++) {
        if (sl_loader_is_handler(use[i].obj->abi, name)) {
            return use[i].obj->abi->body;
        }
    }

    return NULL;
}
