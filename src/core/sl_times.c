/*
 * sl_times.c -- the cached clock and its preformatted strings.
 */
#include "sl_config.h"
#include "sl_core.h"


static const char  sl_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};


sl_msec_t
sl_monotonic_msec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (sl_msec_t) ts.tv_sec * 1000 + (sl_msec_t) ts.tv_nsec / 1000000;
}


void
sl_time_update(sl_time_cache_t *tc)
{
    struct timespec  ts;

    tc->current_msec = sl_monotonic_msec();

    (void) clock_gettime(CLOCK_REALTIME, &ts);

    sl_time_set(tc, ts.tv_sec, (sl_uint_t) ts.tv_nsec / 1000000);
}


/* the strings for tm; off is the offset from UTC in minutes */
static void
sl_time_format(sl_time_cache_t *tc, struct tm *tm, sl_int_t off)
{
    u_char  *p;
    int      year, mon;
    char     sign;

    year = tm->tm_year + 1900;
    mon = tm->tm_mon;
    sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;

    p = sl_snprintf(tc->err_log_time, SL_ERR_LOG_TIME_LEN,
                    "%4d/%02d/%02d %02d:%02d:%02d",
                    year, mon + 1, tm->tm_mday,
                    tm->tm_hour, tm->tm_min, tm->tm_sec);
    *p = '\0';

    p = sl_snprintf(tc->log_time, SL_LOG_TIME_LEN,
                    "%02d/%s/%d:%02d:%02d:%02d %c%02i%02i",
                    tm->tm_mday, sl_months[mon], year,
                    tm->tm_hour, tm->tm_min, tm->tm_sec,
                    sign, off / 60, off % 60);
    *p = '\0';

    p = sl_snprintf(tc->iso8601, SL_ISO8601_TIME_LEN,
                    "%4d-%02d-%02dT%02d:%02d:%02d%c%02i:%02i",
                    year, mon + 1, tm->tm_mday,
                    tm->tm_hour, tm->tm_min, tm->tm_sec,
                    sign, off / 60, off % 60);
    *p = '\0';

    /* RFC 3164: the day of the month padded with a space, not a zero */
    p = sl_snprintf(tc->syslog_time, SL_SYSLOG_TIME_LEN,
                    "%s %2d %02d:%02d:%02d",
                    sl_months[mon], tm->tm_mday,
                    tm->tm_hour, tm->tm_min, tm->tm_sec);
    *p = '\0';
}


void
sl_time_set(sl_time_cache_t *tc, time_t sec, sl_uint_t msec)
{
    struct tm  tm;

    tc->sec = sec;
    tc->msec = msec;

    /* a zeroed cache has empty strings: format it even for second 0 */
    if (sec == tc->formatted_sec && tc->err_log_time[0] != '\0') {
        return;
    }

    sl_localtime(sec, &tm);

    tc->gmtoff = (sl_int_t) (tm.tm_gmtoff / 60);
    sl_time_format(tc, &tm, tc->gmtoff);
    tc->formatted_sec = sec;
}


void
sl_localtime(time_t t, struct tm *tm)
{
    if (localtime_r(&t, tm) == NULL) {
        sl_memzero(tm, sizeof(struct tm));    /* out of range: the epoch */
        tm->tm_mday = 1;
        tm->tm_year = 70;
    }
}


void
sl_gmtime(time_t t, struct tm *tm)
{
    if (gmtime_r(&t, tm) == NULL) {
        sl_memzero(tm, sizeof(struct tm));
        tm->tm_mday = 1;
        tm->tm_year = 70;
    }
}
