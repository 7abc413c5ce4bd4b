/*
 * sl_parse.c -- sizes, offsets and time intervals as the config writes them.
 */
#include "sl_config.h"
#include "sl_core.h"


/* the time units in the only order they may appear */
enum {
    SL_TU_YEAR = 0,
    SL_TU_MONTH,
    SL_TU_WEEK,
    SL_TU_DAY,
    SL_TU_HOUR,
    SL_TU_MIN,
    SL_TU_SEC,
    SL_TU_MSEC,
    SL_TU_BAD
};

/* every unit in milliseconds; y is 365 days and M is 30 */
static const int64_t  sl_time_unit_msec[] = {
    INT64_C(365) * 86400 * 1000,
    INT64_C(30) * 86400 * 1000,
    INT64_C(7) * 86400 * 1000,
    INT64_C(86400) * 1000,
    INT64_C(3600) * 1000,
    INT64_C(60) * 1000,
    INT64_C(1000),
    INT64_C(1)
};


/* the multiplier of a k/m/g suffix (either case), 1 for none */
static int64_t
sl_size_scale(sl_str_t *line, size_t *len)
{
    *len = line->len;

    switch (line->data[line->len - 1]) {
    case 'k':
    case 'K':
        (*len)--;
        return 1024;

    case 'm':
    case 'M':
        (*len)--;
        return 1024 * 1024;

    case 'g':
    case 'G':
        (*len)--;
        return 1024 * 1024 * 1024;
    }

    return 1;
}


ssize_t
sl_parse_size(sl_str_t *line)
{
    ssize_t  value;
    int64_t  scale;
    size_t   len;

    if (line->len == 0) {
        return SL_ERROR;
    }

    scale = sl_size_scale(line, &len);

    value = sl_atosz(line->data, len);
    if (value == SL_ERROR || value > SSIZE_MAX / scale) {
        return SL_ERROR;
    }

    return value * (ssize_t) scale;
}


off_t
sl_parse_offset(sl_str_t *line)
{
    off_t    value, max;
    int64_t  scale;
    size_t   len;

    if (line->len == 0) {
        return SL_ERROR;
    }

    scale = sl_size_scale(line, &len);

    value = sl_atoof(line->data, len);
    if (value == SL_ERROR) {
        return SL_ERROR;
    }

    max = (off_t) (((uint64_t) 1 << (sizeof(off_t) * 8 - 1)) - 1);

    if (value > max / scale) {
        return SL_ERROR;
    }

    return value * (off_t) scale;
}


/* reads the unit at *pp; the end of the line means a bare number: seconds */
static sl_uint_t
sl_time_unit(u_char **pp, u_char *end)
{
    u_char  *p;

    p = *pp;

    if (p == end) {
        return SL_TU_SEC;
    }

    *pp = p + 1;

    switch (*p) {
    case 'y':
        return SL_TU_YEAR;
    case 'M':
        return SL_TU_MONTH;
    case 'w':
        return SL_TU_WEEK;
    case 'd':
        return SL_TU_DAY;
    case 'h':
        return SL_TU_HOUR;
    case 's':
        return SL_TU_SEC;
    case 'm':
        if (p + 1 < end && p[1] == 's') {
            *pp = p + 2;
            return SL_TU_MSEC;
        }
        return SL_TU_MIN;
    }

    return SL_TU_BAD;
}


/* reads one or more digits at *pp, at most max; SL_ERROR otherwise */
static int64_t
sl_time_number(u_char **pp, u_char *end, int64_t max)
{
    u_char   *p;
    int64_t   value, d;

    p = *pp;

    if (p == end || *p < '0' || *p > '9') {
        return SL_ERROR;
    }

    for (value = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        d = *p - '0';

        if (value > (max - d) / 10) {
            return SL_ERROR;
        }

        value = value * 10 + d;
    }

    *pp = p;

    return value;
}


sl_int_t
sl_parse_time(sl_str_t *line, sl_uint_t is_sec)
{
    u_char     *p, *end;
    int64_t     total, value, mult, max;
    sl_uint_t   unit, next;

    if (line->len == 0) {
        return SL_ERROR;
    }

    p = line->data;
    end = p + line->len;
    max = SL_MAX_INT_T_VALUE;
    total = 0;
    next = SL_TU_YEAR;     /* the first unit still allowed */

    while (p < end) {
        value = sl_time_number(&p, end, max);
        if (value == SL_ERROR) {
            return SL_ERROR;
        }

        unit = sl_time_unit(&p, end);

        /* descending order also forbids a unit twice */
        if (unit == SL_TU_BAD || unit < next) {
            return SL_ERROR;
        }

        next = unit + 1;

        if (is_sec && unit == SL_TU_MSEC) {
            return SL_ERROR;
        }

        mult = sl_time_unit_msec[unit] / (is_sec ? 1000 : 1);

        if (value > (max - total) / mult) {
            return SL_ERROR;
        }

        total += value * mult;

        /* "1h 30m": blanks may separate parts, but not end the line */
        if (p < end && (*p == ' ' || *p == '\t')) {
            while (p < end && (*p == ' ' || *p == '\t')) {
                p++;
            }

            if (p == end) {
                return SL_ERROR;
            }
        }
    }

    return (sl_int_t) total;
}
