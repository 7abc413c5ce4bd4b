/*
 * sl_errno.c -- errno text without strerror(), which is not thread-safe.
 */
#include "sl_config.h"
#include "sl_core.h"


/* room for any system message; they are all well under it */
#define SL_STRERROR_LEN  128


#if defined(__GLIBC__)                                                        \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))

/* the untranslated text from a read-only table: no locale, no writes */
static const char *
sl_errno_text(sl_err_t err, char *buf, size_t size)
{
    const char  *msg;

    msg = strerrordesc_np(err);
    if (msg != NULL) {
        return msg;
    }

    *sl_snprintf((u_char *) buf, size - 1, "Unknown error %d", err) = '\0';

    return buf;
}

#elif defined(__GLIBC__)

/* GNU strerror_r returns either a static text or one written into buf */
static const char *
sl_errno_text(sl_err_t err, char *buf, size_t size)
{
    return strerror_r(err, buf, size);
}

#else

/* the XSI strerror_r of the BSDs and musl */
static const char *
sl_errno_text(sl_err_t err, char *buf, size_t size)
{
    if (strerror_r(err, buf, size) != 0 || buf[0] == '\0') {
        *sl_snprintf((u_char *) buf, size - 1, "Unknown error %d", err)
            = '\0';
    }

    return buf;
}

#endif


u_char *
sl_strerror(sl_err_t err, u_char *errstr, size_t size)
{
    char         buf[SL_STRERROR_LEN];
    const char  *msg;
    size_t       len;

    if (size == 0) {
        return errstr;
    }

    msg = sl_errno_text(err, buf, sizeof(buf));

    len = sl_min(sl_strlen(msg), size);

    return sl_cpymem(errstr, msg, len);
}
