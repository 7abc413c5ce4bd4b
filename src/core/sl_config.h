/*
 * sl_config.h -- the first header every sluice source includes.
 *
 * It pulls in what configure found (objs/sl_auto_config.h), the system
 * headers the whole tree uses, and the handful of basic types.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef intptr_t   sl_int_t;
typedef uintptr_t  sl_uint_t;
typedef intptr_t   sl_flag_t;
typedef sl_uint_t  sl_msec_t;       /* milliseconds, monotonic or period */
typedef sl_int_t   sl_msec_int_t;
typedef int        sl_fd_t;
typedef int        sl_err_t;

#define SL_INVALID_FILE     -1
#define SL_FILE_ERROR       -1

#define SL_INT_T_LEN        (sizeof("-9223372036854775808") - 1)
#define SL_MAX_INT_T_VALUE  INTPTR_MAX
#define SL_MAX_UINT_T_VALUE UINTPTR_MAX
#define SL_MAX_SIZE_T_VALUE SIZE_MAX
#define SL_MAX_OFF_T_VALUE  INT64_MAX
#define SL_MAX_TIME_T_VALUE INT64_MAX
#define SL_OFF_T_LEN        (sizeof("-9223372036854775808") - 1)
#define SL_TIME_T_LEN       (sizeof("-9223372036854775808") - 1)
#define SL_SIZE_T_LEN       (sizeof("18446744073709551615") - 1)

#define SL_ALIGNMENT        sizeof(unsigned long)
#define sl_align(d, a)      (((d) + ((a) - 1)) & ~((a) - 1))
#define sl_align_ptr(p, a)                                                    \
    (u_char *) (((uintptr_t) (p) + ((uintptr_t) (a) - 1))                     \
                & ~((uintptr_t) (a) - 1))

#define sl_nelems(a)        (sizeof(a) / sizeof((a)[0]))
#define sl_min(a, b)        ((a) < (b) ? (a) : (b))
#define sl_max(a, b)        ((a) > (b) ? (a) : (b))

#if defined(__GNUC__) || defined(__clang__)
#define sl_likely(x)        __builtin_expect(!!(x), 1)
#define sl_unlikely(x)      __builtin_expect(!!(x), 0)
#define SL_PRINTF_LIKE(f, a)
#define SL_UNUSED           __attribute__((unused))
#else
#define sl_likely(x)        (x)
#define sl_unlikely(x)      (x)
#define SL_UNUSED
#endif

#define sl_unused(x)        ((void) (x))

#define SL_LINEFEED         "\n"
#define LF                  ((u_char) '\n')
#define CR                  ((u_char) '\r')
#define CRLF                "\r\n"

#ifndef SL_PREFIX
#define SL_PREFIX           "/usr/local/sluice/"
#endif
#ifndef SL_CONF_PATH
#define SL_CONF_PATH        "conf/sluice.conf"
#endif
#ifndef SL_ERROR_LOG_PATH
#define SL_ERROR_LOG_PATH   "logs/error.log"
#endif
#ifndef SL_PID_PATH
#define SL_PID_PATH         "logs/sluice.pid"
#endif

#endif /* SL_CONFIG_H */
