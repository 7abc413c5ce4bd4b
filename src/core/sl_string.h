/*
 * sl_string.h -- counted strings, character helpers, number conversion and
 * the bounded formatted printer.
 */
#ifndef SL_STRING_H
#define SL_STRING_H

#include "sl_config.h"

typedef struct sl_pool_s sl_pool_t;

typedef struct {
    size_t    len;
    u_char   *data;
} sl_str_t;

typedef struct {
    sl_str_t  key;
    sl_str_t  value;
} sl_keyval_t;

#define sl_string(str)      { sizeof(str) - 1, (u_char *) str }
#define sl_null_string      { 0, NULL }
#define sl_str_set(str, text)                                                 \
    do { (str)->len = sizeof(text) - 1; (str)->data = (u_char *) text; }      \
    while (0)
#define sl_str_null(str)                                                      \
    do { (str)->len = 0; (str)->data = NULL; } while (0)

#define sl_tolower(c)  (u_char) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define sl_toupper(c)  (u_char) (((c) >= 'a' && (c) <= 'z') ? ((c) & ~0x20) : (c))

#define sl_strncmp(s1, s2, n)  strncmp((const char *) (s1), (const char *) (s2), n)
#define sl_strcmp(s1, s2)      strcmp((const char *) (s1), (const char *) (s2))
#define sl_strstr(s1, s2)      strstr((const char *) (s1), (const char *) (s2))
#define sl_strlen(s)           strlen((const char *) (s))
#define sl_strchr(s1, c)       strchr((const char *) (s1), (int) (c))
#define sl_memzero(buf, n)     (void) memset(buf, 0, n)
#define sl_memset(buf, c, n)   (void) memset(buf, c, n)
#define sl_memcpy(dst, src, n) (void) memcpy(dst, src, n)
#define sl_cpymem(dst, src, n) (((u_char *) memcpy(dst, src, n)) + (n))
#define sl_memmove(dst, src, n) (void) memmove(dst, src, n)
#define sl_memcmp(s1, s2, n)   memcmp((const char *) (s1), (const char *) (s2), n)

/* true when the counted string equals the C literal */
#define sl_str_eq_lit(s, lit)                                                 \
    ((s)->len == sizeof(lit) - 1 && sl_memcmp((s)->data, lit, (s)->len) == 0)

void sl_strlow(u_char *dst, u_char *src, size_t n);
/* copies at most n - 1 bytes and a NUL; returns the address of the NUL */
u_char *sl_cpystrn(u_char *dst, u_char *src, size_t n);
/* copy of src in the pool, NUL-terminated; the result's len is src->len */
u_char *sl_pstrdup(sl_pool_t *pool, sl_str_t *src);
sl_int_t sl_strcasecmp(u_char *s1, u_char *s2);
/*
 * Orders byte strings of any lengths: memcmp over the shorter, then the
 * shorter first (the order of the keys of a tree that holds bytes).
 */
sl_int_t sl_memn2cmp(const u_char *s1, size_t n1, const u_char *s2,
    size_t n2);
sl_int_t sl_strncasecmp(u_char *s1, u_char *s2, size_t n);
/* finds s2 (length n) in s1 (length len); NULL when absent */
u_char *sl_strnstr(u_char *s1, size_t len, char *s2, size_t n);
sl_int_t sl_str_eq(sl_str_t *a, sl_str_t *b);          /* 1 when equal */
sl_int_t sl_str_caseeq(sl_str_t *a, sl_str_t *b);      /* case-insensitive */

/*
 * Decimal and hexadecimal conversion of exactly n bytes; every one is a
 * digit. They return SL_ERROR for an empty string, a non-digit or an
 * overflow of the result type.
 */
sl_int_t sl_atoi(u_char *line, size_t n);
ssize_t sl_atosz(u_char *line, size_t n);
off_t sl_atoof(u_char *line, size_t n);
time_t sl_atotm(u_char *line, size_t n);
sl_int_t sl_hextoi(u_char *line, size_t n);

/* lower-case hex of len bytes; dst needs 2 * len bytes; returns its end */
u_char *sl_hex_dump(u_char *dst, u_char *src, size_t len);

/*
 * The bounded printer. Nothing is ever written at or past `last`
 * (`buf + max`); the output is not NUL-terminated unless %Z asks for it.
 * The return value is the address after the last byte written.
 *
 * Conversions ([0] pads with zeros, width is a decimal field width,
 * [u] makes it unsigned, [x|X] hexadecimal lower/upper case):
 *
 *   %[0][width][u][x|X]d    int / unsigned int
 *   %[0][width][u][x|X]l    long / unsigned long
 *   %[0][width][u][x|X]i    sl_int_t / sl_uint_t
 *   %[0][width][u][x|X]D    int32_t / uint32_t
 *   %[0][width][u][x|X]L    int64_t / uint64_t
 *   %[0][width][u][x|X]z    ssize_t / size_t
 *   %[0][width][x|X]O       off_t
 *   %[0][width]T            time_t
 *   %[0][width]M            sl_msec_t (printed unsigned, the full range)
 *   %[0][width][.prec]f     double (prec at most 20)
 *   %p                      void *, as 0x-prefixed hex
 *   %V                      sl_str_t *
 *   %s                      NUL-terminated u_char * / char *
 *   %*s                     size_t length, then u_char *
 *   %c                      int, as one byte
 *   %Z                      '\0'
 *   %N                      '\n'
 *   %%                      '%'
 *
 * An unknown conversion is copied through as it stands.
 */
u_char *sl_snprintf(u_char *buf, size_t max, const char *fmt, ...);
u_char *sl_slprintf(u_char *buf, u_char *last, const char *fmt, ...);
u_char *sl_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args);
#define sl_vsnprintf(buf, max, fmt, args)                                     \
    sl_vslprintf(buf, (buf) + (max), fmt, args)

#endif /* SL_STRING_H */
