/*
 * sl_module_abi.h -- the record every loadable module carries: what it
 * was built against, so that load_module can refuse an object that does
 * not fit before running a line of its code.
 *
 * This header is plain C and includes nothing: src/embed/sluice.h (which
 * handler modules see, and which may include nothing of ours) holds the
 * same definition under the same guard, and t/unit/test_module_abi.c
 * checks that the two agree field by field. A change here is a change of
 * both tiers' ABI: the layout below only ever grows at its end.
 */
#ifndef SL_MODULE_ABI_T_DEFINED
#define SL_MODULE_ABI_T_DEFINED

#define SL_MODULE_ABI_MAGIC     0x534c4d31u     /* "SLM1" */
#define SL_MODULE_KIND_FULL     1               /* sl_module_t: the SDK */
#define SL_MODULE_KIND_HANDLER  2               /* sl_stream_handler_t */

/* the handler tier's API: a handler module needs the same major */
#define SL_HANDLER_API_MAJOR    1
#define SL_HANDLER_API_MINOR    0

typedef struct {
    unsigned int          magic;          /* SL_MODULE_ABI_MAGIC */
    unsigned short        abi_major;      /* of the module's tier */
    unsigned short        abi_minor;
    unsigned short        kind;           /* SL_MODULE_KIND_* */
    unsigned char         ptr_size;       /* sizeof(void *) */
    unsigned char         off_size;       /* sizeof(off_t), 0: unused */
    unsigned char         time_size;      /* sizeof(time_t), 0: unused */
    unsigned char         openssl_major;  /* 0: does not use OpenSSL */
    const char           *version;        /* the sluice it was built for */
    const char           *name;           /* the module's name */
    const void           *body;           /* by kind: see below */
    const char           *order;          /* goes before this module; NULL */
} sl_module_abi_t;

/*
 * body: for SL_MODULE_KIND_FULL a NULL-terminated array of sl_module_t *;
 * for SL_MODULE_KIND_HANDLER a const sl_stream_handler_t *.
 *
 * A shared object exports its record as sl_module_abi, a pointer to it;
 * a static build (--add-module) compiles the module with
 * SL_STATIC_MODULE defined, and the record keeps its own name only.
 */
#ifdef SL_STATIC_MODULE
#define SL_MODULE_ABI_EXPORT(name)
#else
#define SL_MODULE_ABI_EXPORT(name)                                            \
    extern const sl_module_abi_t *const sl_module_abi;                        \
    const sl_module_abi_t *const sl_module_abi = &sl_module_abi_##name;
#endif

#ifndef SL_MODULE_ORDER
#define SL_MODULE_ORDER  0              /* configure: module_order */
#endif

#endif /* SL_MODULE_ABI_T_DEFINED */
