/*
 * upper.c -- "handler upper;": what the client sends comes back with its
 * ASCII letters upper-cased. It keeps nothing between calls: the bytes it
 * says it consumed have been handed to sl_session_write(), and after an
 * SL_AGAIN it takes no more until sluice offers input again (it offers
 * none while the output queue is above its mark). It must never report
 * input as consumed that it has not written.
 */
#include <sluice.h>

static long
upper_data(sl_session_t *s, const char *p, size_t n)
{
    char    out[4096];
    size_t  done, len, i;
    int     rc;

    for (done = 0; done < n; done += len) {
        len = n - done < sizeof(out) ? n - done : sizeof(out);

        for (i = 0; i < len; i++) {
            out[i] = p[done + i];
            out[i] -= (out[i] >= 'a' && out[i] <= 'z') ? 'a' - 'A' : 0;
        }

        rc = sl_session_write(s, out, len);
        if (rc != SL_OK) {
            /* SL_AGAIN: taken, but wait; SL_ERROR: the session ends */
            return rc == SL_AGAIN ? (long) (done + len) : SL_ERROR;
        }
    }

    return (long) n;
}

static const sl_stream_handler_t  upper_handler = {
    sizeof(sl_stream_handler_t), NULL, upper_data, NULL, NULL, NULL };

SL_HANDLER_MODULE(upper, &upper_handler);
