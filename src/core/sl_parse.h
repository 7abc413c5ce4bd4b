/*
 * sl_parse.h -- sizes, offsets and time intervals as the config writes them.
 */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include "sl_config.h"
#include "sl_string.h"

/* "512", "16k", "16K", "1m", "1M", "1g", "1G"; SL_ERROR on junk or overflow */
ssize_t sl_parse_size(sl_str_t *line);
off_t sl_parse_offset(sl_str_t *line);

/*
 * "500ms", "30s", "10m", "1h30m", "1d 12h"; units y M w d h m s ms, in
 * descending order, each at most once; a bare number is seconds.
 * With is_sec the result is in seconds ("ms" is then invalid), otherwise
 * in milliseconds. SL_ERROR on junk or overflow.
 */
sl_int_t sl_parse_time(sl_str_t *line, sl_uint_t is_sec);

#endif /* SL_PARSE_H */
