/*
 * sl_core.h -- the core: return codes, forward types, and every core header.
 */
#ifndef SL_CORE_H
#define SL_CORE_H

#include "sl_config.h"

typedef struct sl_module_s      sl_module_t;
typedef struct sl_conf_s        sl_conf_t;
typedef struct sl_cycle_s       sl_cycle_t;
typedef struct sl_pool_s        sl_pool_t;
typedef struct sl_chain_s       sl_chain_t;
typedef struct sl_log_s         sl_log_t;
typedef struct sl_open_file_s   sl_open_file_t;
typedef struct sl_command_s     sl_command_t;
typedef struct sl_file_s        sl_file_t;
typedef struct sl_event_s       sl_event_t;
typedef struct sl_connection_s  sl_connection_t;

#define SL_OK          0
#define SL_ERROR      -1
#define SL_AGAIN      -2
#define SL_BUSY       -3
#define SL_DONE       -4
#define SL_DECLINED   -5
#define SL_ABORT      -6

#include "sl_errno.h"
#include "sl_alloc.h"
#include "sl_queue.h"
#include "sl_string.h"
#include "sl_parse.h"
#include "sl_palloc.h"
#include "sl_buf.h"
#include "sl_bufcache.h"
#include "sl_array.h"
#include "sl_list.h"
#include "sl_rbtree.h"
#include "sl_hash.h"
#include "sl_regex.h"
#include "sl_crc32.h"
#include "sl_murmurhash.h"
#include "sl_times.h"
#include "sl_files.h"
#include "sl_log.h"
#include "sl_conf_file.h"
#include "sl_module.h"
#include "sl_inet.h"
#include "sl_cidr.h"
#include "sl_radix_tree.h"
#include "sl_listening.h"
#include "sl_os.h"
#include "sl_cycle.h"
#include "sl_shmem.h"
#include "sl_slab.h"
#include "sl_shm_zone.h"
#include "sl_syslog.h"

#endif /* SL_CORE_H */
