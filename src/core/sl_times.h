/*
 * sl_times.h -- the cached clock. Each cycle owns one sl_time_cache_t and
 * refreshes it once per event-loop iteration, so the hot path never calls
 * clock_gettime() and the log never formats a date twice in a second.
 */
#ifndef SL_TIMES_H
#define SL_TIMES_H

#include "sl_config.h"

#define SL_ERR_LOG_TIME_LEN   (sizeof("1970/09/28 12:00:00") - 1)
#define SL_LOG_TIME_LEN       (sizeof("28/Sep/1970:12:00:00 +0600") - 1)
#define SL_ISO8601_TIME_LEN   (sizeof("1970-09-28T12:00:00+06:00") - 1)
#define SL_SYSLOG_TIME_LEN    (sizeof("Sep 28 12:00:00") - 1)

typedef struct {
    sl_msec_t   current_msec;     /* CLOCK_MONOTONIC, milliseconds */
    time_t      sec;              /* wall clock, seconds */
    sl_uint_t   msec;             /* wall clock, milliseconds part */
    sl_int_t    gmtoff;           /* local offset from UTC, minutes */

    time_t      formatted_sec;    /* the second the strings below show */
    u_char      err_log_time[SL_ERR_LOG_TIME_LEN + 1];  /* local time */
    u_char      log_time[SL_LOG_TIME_LEN + 1];          /* $time_local */
    u_char      iso8601[SL_ISO8601_TIME_LEN + 1];       /* $time_iso8601 */
    u_char      syslog_time[SL_SYSLOG_TIME_LEN + 1];    /* "Sep  8 12:00:00" */
} sl_time_cache_t;

/* reads both clocks; reformats the strings when the second changed */
void sl_time_update(sl_time_cache_t *tc);
/*
 * Sets the wall clock to sec.msec (reformatting when the second changed)
 * and leaves current_msec alone; sl_time_update() ends with it, and tests
 * use it to format a fixed moment.
 */
void sl_time_set(sl_time_cache_t *tc, time_t sec, sl_uint_t msec);
sl_msec_t sl_monotonic_msec(void);
void sl_localtime(time_t t, struct tm *tm);
void sl_gmtime(time_t t, struct tm *tm);

#endif /* SL_TIMES_H */
