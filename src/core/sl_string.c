/*
 * sl_string.c -- string helpers, number conversion and the bounded printer.
 */
#include "sl_config.h"
#include "sl_core.h"

#include <float.h>


/* the largest value of a signed integer type, whatever its width */
#define sl_signed_max(type)                                                   \
    ((type) (((uint64_t) 1 << (sizeof(type) * 8 - 1)) - 1))

#define SL_FMT_MAX_WIDTH   (1024 * 1024)  /* beyond any real buffer */
#define SL_FMT_MAX_PREC    20
#define SL_FMT_DEF_PREC    6              /* as printf's %f */
#define SL_FMT_INT_LEN     20             /* digits of UINT64_MAX */
#define SL_TWO_POW_64      18446744073709551616.0

/* a parsed conversion: %[0][width][.prec][u][x|X][*]<conv> */
typedef struct {
    size_t      width;
    size_t      prec;
    unsigned    zero:1;       /* pad with zeros instead of spaces */
    unsigned    uns:1;        /* [u]: the unsigned variant */
    unsigned    hex:2;        /* 0 decimal, 1 lower-case, 2 upper-case */
    unsigned    star:1;       /* [*]: a size_t length comes first */
} sl_fmt_spec_t;

static const u_char  sl_hex_lower[] = "0123456789abcdef";
static const u_char  sl_hex_upper[] = "0123456789ABCDEF";


void
sl_strlow(u_char *dst, u_char *src, size_t n)
{
    while (n--) {
        *dst++ = sl_tolower(*src);
        src++;
    }
}


u_char *
sl_cpystrn(u_char *dst, u_char *src, size_t n)
{
    if (n == 0) {
        return dst;
    }

    while (--n) {
        *dst = *src++;

        if (*dst == '\0') {
            return dst;
        }

        dst++;
    }

    *dst = '\0';

    return dst;
}


u_char *
sl_pstrdup(sl_pool_t *pool, sl_str_t *src)
{
    u_char  *dst;

    dst = sl_pnalloc(pool, src->len + 1);
    if (dst == NULL) {
        return NULL;
    }

    if (src->len) {
        sl_memcpy(dst, src->data, src->len);
    }

    dst[src->len] = '\0';

    return dst;
}


sl_int_t
sl_strcasecmp(u_char *s1, u_char *s2)
{
    sl_uint_t  c1, c2;

    for ( ;; ) {
        c1 = sl_tolower(*s1);
        c2 = sl_tolower(*s2);

        if (c1 != c2) {
            return (sl_int_t) c1 - (sl_int_t) c2;
        }

        if (c1 == '\0') {
            return 0;
        }

        s1++;
        s2++;
    }
}


sl_int_t
sl_memn2cmp(const u_char *s1, size_t n1, const u_char *s2, size_t n2)
{
    int  rc = memcmp(s1, s2, n1 < n2 ? n1 : n2);

    if (rc != 0) {
        return rc;
    }

    return n1 == n2 ? 0 : (n1 < n2 ? -1 : 1);
}


sl_int_t
sl_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    sl_uint_t  c1, c2;

    for ( ; n; n--, s1++, s2++) {
        c1 = sl_tolower(*s1);
        c2 = sl_tolower(*s2);

        if (c1 != c2) {
            return (sl_int_t) c1 - (sl_int_t) c2;
        }

        if (c1 == '\0') {
            return 0;
        }
    }

    return 0;
}


u_char *
sl_strnstr(u_char *s1, size_t len, char *s2, size_t n)
{
    u_char  *p, *last;

    if (n == 0) {
        return s1;
    }

    if (n > len) {
        return NULL;
    }

    last = s1 + (len - n);   /* the last place a match can start */

    for (p = s1; p <= last; p++) {
        p = memchr(p, s2[0], (size_t) (last - p) + 1);
        if (p == NULL) {
            return NULL;
        }

        if (sl_memcmp(p + 1, s2 + 1, n - 1) == 0) {
            return p;
        }
    }

    return NULL;
}


sl_int_t
sl_str_eq(sl_str_t *a, sl_str_t *b)
{
    if (a->len != b->len) {
        return 0;
    }

    return a->len == 0 || sl_memcmp(a->data, b->data, a->len) == 0;
}


sl_int_t
sl_str_caseeq(sl_str_t *a, sl_str_t *b)
{
    size_t  i;

    if (a->len != b->len) {
        return 0;
    }

    /* counted strings may hold a NUL, so do not stop at one */
    for (i = 0; i < a->len; i++) {
        if (sl_tolower(a->data[i]) != sl_tolower(b->data[i])) {
            return 0;
        }
    }

    return 1;
}


/* the decimal value of exactly n digits, at most max; SL_ERROR otherwise */
static int64_t
sl_dec_value(u_char *line, size_t n, int64_t max)
{
    int64_t  value, d;

    if (n == 0) {
        return SL_ERROR;
    }

    for (value = 0; n; n--, line++) {
        if (*line < '0' || *line > '9') {
            return SL_ERROR;
        }

        d = *line - '0';

        if (value > (max - d) / 10) {
            return SL_ERROR;
        }

        value = value * 10 + d;
    }

    return value;
}


sl_int_t
sl_atoi(u_char *line, size_t n)
{
    return (sl_int_t) sl_dec_value(line, n, SL_MAX_INT_T_VALUE);
}


ssize_t
sl_atosz(u_char *line, size_t n)
{
    return (ssize_t) sl_dec_value(line, n, sl_signed_max(ssize_t));
}


off_t
sl_atoof(u_char *line, size_t n)
{
    return (off_t) sl_dec_value(line, n, sl_signed_max(off_t));
}


time_t
sl_atotm(u_char *line, size_t n)
{
    return (time_t) sl_dec_value(line, n, sl_signed_max(time_t));
}


sl_int_t
sl_hextoi(u_char *line, size_t n)
{
    sl_int_t  value, d;
    u_char    c;

    if (n == 0) {
        return SL_ERROR;
    }

    for (value = 0; n; n--, line++) {
        c = *line;

        if (c >= '0' && c <= '9') {
            d = c - '0';

        } else {
            c = sl_tolower(c);

            if (c < 'a' || c > 'f') {
                return SL_ERROR;
            }

            d = c - 'a' + 10;
        }

        if (value > (SL_MAX_INT_T_VALUE - d) / 16) {
            return SL_ERROR;
        }

        value = value * 16 + d;
    }

    return value;
}


u_char *
sl_hex_dump(u_char *dst, u_char *src, size_t len)
{
    while (len--) {
        *dst++ = sl_hex_lower[*src >> 4];
        *dst++ = sl_hex_lower[*src++ & 0xf];
    }

    return dst;
}


/*
 * The printer. Every writer below takes the current position and `last`
 * and returns the new position, never going past `last`.
 */

static u_char *
sl_fmt_copy(u_char *buf, u_char *last, const u_char *src, size_t len)
{
    size_t  room;

    room = (size_t) (last - buf);
    if (len > room) {
        len = room;
    }

    if (len) {
        sl_memcpy(buf, src, len);
    }

    return buf + len;
}


static u_char *
sl_fmt_fill(u_char *buf, u_char *last, u_char c, size_t n)
{
    size_t  room;

    room = (size_t) (last - buf);
    if (n > room) {
        n = room;
    }

    sl_memset(buf, c, n);

    return buf + n;
}


/* writes the pad, the sign and the digits of a field of spec->width */
static u_char *
sl_fmt_field(u_char *buf, u_char *last, u_char sign, const u_char *digits,
    size_t len, const sl_fmt_spec_t *spec)
{
    size_t  total, pad;

    total = len + (sign != 0);
    pad = spec->width > total ? spec->width - total : 0;

    if (!spec->zero) {
        buf = sl_fmt_fill(buf, last, ' ', pad);
    }

    if (sign && buf < last) {
        *buf++ = sign;
    }

    if (spec->zero) {
        buf = sl_fmt_fill(buf, last, '0', pad);
    }

    return sl_fmt_copy(buf, last, digits, len);
}


/* writes the digits of v backwards, ending at end; returns the first */
static u_char *
sl_fmt_digits(u_char *end, uint64_t v, unsigned hex)
{
    const u_char  *xdigits;
    uint32_t       v32;

    if (hex) {
        xdigits = hex == 2 ? sl_hex_upper : sl_hex_lower;

        do {
            *--end = xdigits[v & 0xf];
            v >>= 4;
        } while (v);

        return end;
    }

    /* 64-bit division is slow on some machines; most values are small */
    while (v > UINT32_MAX) {
        *--end = (u_char) ('0' + v % 10);
        v /= 10;
    }

    v32 = (uint32_t) v;

    do {
        *--end = (u_char) ('0' + v32 % 10);
        v32 /= 10;
    } while (v32);

    return end;
}


static u_char *
sl_fmt_int(u_char *buf, u_char *last, uint64_t v, sl_uint_t negative,
    const sl_fmt_spec_t *spec)
{
    u_char  tmp[SL_FMT_INT_LEN], *p;

    p = sl_fmt_digits(tmp + sizeof(tmp), v, spec->hex);

    return sl_fmt_field(buf, last, negative ? '-' : 0, p,
                        (size_t) (tmp + sizeof(tmp) - p), spec);
}


/*
 * Rounds the fraction f (0 <= f < 1) to prec digits in d[]; returns 1
 * when the rounding carries into the integer part. Exact halves round
 * to even, as printf does.
 */
static sl_uint_t
sl_fmt_fraction(u_char *d, double f, size_t prec, uint64_t ip)
{
    size_t    i;
    unsigned  odd;

    for (i = 0; i < prec; i++) {
        f *= 10;
        d[i] = (u_char) sl_min(f, 9);    /* f < 10, but be sure */
        f -= d[i];
    }

    odd = prec ? (d[prec - 1] & 1) : (unsigned) (ip & 1);

    if (f < 0.5 || (f == 0.5 && !odd)) {
        return 0;
    }

    for (i = prec; i-- > 0; ) {
        if (d[i] < 9) {
            d[i]++;
            return 0;
        }

        d[i] = 0;
    }

    return 1;
}


/* a value beyond 2^64: its leading digits, zeros, the point, zeros */
static u_char *
sl_fmt_huge(u_char *buf, u_char *last, u_char sign, u_char *digits, size_t n,
    size_t zeros, const sl_fmt_spec_t *spec)
{
    size_t  len, pad;

    len = (sign != 0) + n + zeros + (spec->prec ? 1 + spec->prec : 0);
    pad = spec->width > len ? spec->width - len : 0;

    buf = sl_fmt_fill(buf, last, ' ', spec->zero ? 0 : pad);

    if (sign && buf < last) {
        *buf++ = sign;
    }

    buf = sl_fmt_fill(buf, last, '0', spec->zero ? pad : 0);
    buf = sl_fmt_copy(buf, last, digits, n);
    buf = sl_fmt_fill(buf, last, '0', zeros);

    if (spec->prec == 0) {
        return buf;
    }

    buf = sl_fmt_copy(buf, last, (u_char *) ".", 1);

    return sl_fmt_fill(buf, last, '0', spec->prec);
}


static u_char *
sl_fmt_double(u_char *buf, u_char *last, double f, sl_fmt_spec_t *spec)
{
    u_char    tmp[SL_FMT_INT_LEN + 1 + SL_FMT_MAX_PREC];
    u_char    frac[SL_FMT_MAX_PREC], *p, *end, sign;
    uint64_t  ip;
    size_t    i, zeros;

    sign = 0;

    if (f < 0) {
        sign = '-';
        f = -f;
    }

    if (f != f || f > DBL_MAX) {
        spec->zero = 0;
        p = (u_char *) (f != f ? "nan" : "inf");
        return sl_fmt_field(buf, last, sign, p, 3, spec);
    }

    /* beyond 2^64 only the leading digits mean anything; the rest is 0 */
    for (zeros = 0; f >= SL_TWO_POW_64; zeros++) {
        f /= 10;
    }

    ip = (uint64_t) f;

    if (sl_fmt_fraction(frac, zeros ? 0 : f - (double) ip, spec->prec, ip)) {
        ip++;
    }

    end = tmp + SL_FMT_INT_LEN;
    p = sl_fmt_digits(end, ip, 0);

    if (zeros) {
        return sl_fmt_huge(buf, last, sign, p, (size_t) (end - p), zeros,
                           spec);
    }

    if (spec->prec) {
        *end++ = '.';
    }

    for (i = 0; i < spec->prec; i++) {
        *end++ = (u_char) ('0' + frac[i]);
    }

    return sl_fmt_field(buf, last, sign, p, (size_t) (end - p), spec);
}


/* reads "[0][width][.prec][u][x|X][*]"; returns the conversion character */
static const char *
sl_fmt_parse(const char *fmt, sl_fmt_spec_t *spec)
{
    sl_memzero(spec, sizeof(sl_fmt_spec_t));
    spec->prec = SL_FMT_DEF_PREC;

    if (*fmt == '0') {
        spec->zero = 1;
        fmt++;
    }

    for ( ; *fmt >= '0' && *fmt <= '9'; fmt++) {
        if (spec->width < SL_FMT_MAX_WIDTH) {
            spec->width = spec->width * 10 + (size_t) (*fmt - '0');
        }
    }

    if (*fmt == '.') {
        for (spec->prec = 0, fmt++; *fmt >= '0' && *fmt <= '9'; fmt++) {
            if (spec->prec < SL_FMT_MAX_PREC) {
                spec->prec = spec->prec * 10 + (size_t) (*fmt - '0');
            }
        }

        spec->prec = sl_min(spec->prec, SL_FMT_MAX_PREC);
    }

    for ( ;; fmt++) {
        switch (*fmt) {
        case 'u':
            spec->uns = 1;
            continue;
        case 'x':
            spec->hex = 1;
            continue;
        case 'X':
            spec->hex = 2;
            continue;
        case '*':
            spec->star = 1;
            continue;
        default:
            return fmt;
        }
    }
}


/*
 * Fetches the argument of an integer conversion. Returns 0 when conv is
 * not one. Hexadecimal prints the bits of the argument's own width; so
 * does [u] for the types that have no unsigned twin (off_t, time_t).
 */
static sl_uint_t
sl_fmt_fetch_int(int conv, const sl_fmt_spec_t *spec, va_list *ap,
    uint64_t *value, sl_uint_t *negative)
{
    int64_t    i;
    sl_uint_t  uns;

    uns = spec->uns || spec->hex;
    *negative = 0;

    switch (conv) {
    case 'd':
        if (uns) {
            *value = va_arg(*ap, unsigned int);
            return 1;
        }
        i = va_arg(*ap, int);
        break;

    case 'l':
        if (uns) {
            *value = va_arg(*ap, unsigned long);
            return 1;
        }
        i = va_arg(*ap, long);
        break;

    case 'i':
        if (uns) {
            *value = va_arg(*ap, sl_uint_t);
            return 1;
        }
        i = va_arg(*ap, sl_int_t);
        break;

    case 'D':
        if (uns) {
            *value = va_arg(*ap, uint32_t);
            return 1;
        }
        i = va_arg(*ap, int32_t);
        break;

    case 'L':
        if (uns) {
            *value = va_arg(*ap, uint64_t);
            return 1;
        }
        i = va_arg(*ap, int64_t);
        break;

    case 'z':
        if (uns) {
            *value = va_arg(*ap, size_t);
            return 1;
        }
        i = va_arg(*ap, ssize_t);
        break;

    case 'O':
        i = va_arg(*ap, off_t);
        break;

    case 'T':
        i = va_arg(*ap, time_t);
        break;

    case 'M':
        *value = va_arg(*ap, sl_msec_t);
        return 1;

    default:
        return 0;
    }

    if (i < 0 && !uns) {
        *negative = 1;
        *value = (uint64_t) 0 - (uint64_t) i;   /* right for INT64_MIN */
        return 1;
    }

    *value = (uint64_t) i;

    return 1;
}


/* one conversion; fmt is at the conversion character */
static u_char *
sl_fmt_conv(u_char *buf, u_char *last, const char *fmt,
    sl_fmt_spec_t *spec, va_list *ap)
{
    uint64_t   v;
    sl_uint_t  neg;
    sl_str_t  *s;
    u_char    *p;
    size_t     len;

    if (sl_fmt_fetch_int(*fmt, spec, ap, &v, &neg)) {
        return sl_fmt_int(buf, last, v, neg, spec);
    }

    switch (*fmt) {
    case 'f':
        return sl_fmt_double(buf, last, va_arg(*ap, double), spec);

    case 'p':
        v = (uintptr_t) va_arg(*ap, void *);
        buf = sl_fmt_copy(buf, last, (u_char *) "0x", 2);
        spec->hex = 1;
        return sl_fmt_int(buf, last, v, 0, spec);

    case 'V':
        s = va_arg(*ap, sl_str_t *);
        return sl_fmt_copy(buf, last, s->data, s->len);

    case 's':
        len = spec->star ? va_arg(*ap, size_t) : 0;
        p = va_arg(*ap, u_char *);

        if (p == NULL) {
            return sl_fmt_copy(buf, last, (u_char *) "(null)", 6);
        }

        if (!spec->star) {
            len = sl_strlen(p);
        }

        return sl_fmt_copy(buf, last, p, len);

    case 'c':
        *buf++ = (u_char) va_arg(*ap, int);
        return buf;

    case 'Z':
        *buf++ = '\0';
        return buf;

    case 'N':
        *buf++ = LF;
        return buf;

    case '%':
        *buf++ = '%';
        return buf;
    }

    return NULL;   /* not a conversion we know */
}


u_char *
sl_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    const char     *start, *conv;
    u_char         *p;
    va_list         ap;
    sl_fmt_spec_t   spec;

    /* helpers take the list by address, which needs a real va_list object */
    va_copy(ap, args);

    while (*fmt && buf < last) {
        if (*fmt != '%') {
            for (start = fmt; *fmt && *fmt != '%'; fmt++) { /* void */ }

            buf = sl_fmt_copy(buf, last, (u_char *) start,
                              (size_t) (fmt - start));
            continue;
        }

        start = fmt;
        conv = sl_fmt_parse(fmt + 1, &spec);

        if (*conv == '\0') {
            buf = sl_fmt_copy(buf, last, (u_char *) start,
                              (size_t) (conv - start));
            break;
        }

        fmt = conv + 1;

        p = sl_fmt_conv(buf, last, conv, &spec, &ap);

        /* an unknown conversion is copied through as it stands */
        buf = p ? p : sl_fmt_copy(buf, last, (u_char *) start,
                                  (size_t) (fmt - start));
    }

    va_end(ap);

    return buf;
}


u_char *
sl_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = sl_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char *
sl_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = sl_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}
