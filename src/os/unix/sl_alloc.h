/*
 * sl_alloc.h -- the heap, with failures logged where they happen.
 */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include "sl_config.h"

typedef struct sl_log_s sl_log_t;

/* log may be NULL; a failure is logged at emerg with the size */
void *sl_alloc(size_t size, sl_log_t *log);
void *sl_calloc(size_t size, sl_log_t *log);
void *sl_memalign(size_t alignment, size_t size, sl_log_t *log);
#define sl_free  free

#endif /* SL_ALLOC_H */
