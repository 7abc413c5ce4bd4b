/*
 * test_stream_phases.c -- the phase engine of a session, on every back
 * end: what each verdict of a phase handler does (on to the next handler,
 * the next phase, wait, finalize with a status), the preread phase
 * reading until its handler has seen enough, its full buffer, its timeout
 * and the client's close, and the log phase run by finalizing.
 *
 * The sessions are made by hand over socket pairs, with phase engines
 * written out as the stream{} block would build them.
 */
#include "sl_config.h"
#include "sl_core.h"
#include "sl_event.h"
#include "sl_stream.h"

#include "sl_t_event.h"
#include "sl_test.h"

SL_TE_BACKENDS;

/* what the handlers saw */
typedef struct {
    char        trail[64];      /* a letter per handler call, in order */
    size_t      n;
    sl_int_t    rc_a;           /* what handler a returns */
    sl_uint_t   again_once;     /* a returns SL_AGAIN the first time */
    size_t      want;           /* preread: bytes before SL_OK */
    char        seen[64];       /* preread: what content found */
    sl_uint_t   status;         /* $status when logged */
    sl_uint_t   closed;
} trail_t;

static trail_t                      T;
static sl_stream_core_main_conf_t   cmcf;
static sl_stream_core_srv_conf_t    cscf;
static int                          peer = -1;

static void
mark(char c)
{
    ck_assert_uint_lt(T.n, sizeof(T.trail) - 1);
    T.trail[T.n++] = c;
}

static sl_int_t
h_a(sl_stream_session_t *s)
{
    sl_unused(s);
    mark('a');

    if (T.again_once) {
        T.again_once = 0;
        return SL_AGAIN;
    }

    return T.rc_a;
}

static sl_int_t
h_b(sl_stream_session_t *s)
{
    sl_unused(s);
    mark('b');
    return SL_OK;
}

static sl_int_t
h_c(sl_stream_session_t *s)
{
    sl_unused(s);
    mark('c');
    return SL_OK;
}

static sl_int_t
h_d(sl_stream_session_t *s)
{
    sl_unused(s);
    mark('d');
    return SL_DECLINED;
}

/* preread: enough once T.want bytes are in */
static sl_int_t
h_p(sl_stream_session_t *s)
{
    mark('p');

    if (s->preread == NULL
        || (size_t) (s->preread->last - s->preread->pos) < T.want)
    {
        return SL_AGAIN;
    }

    return SL_OK;
}

static void
content(sl_stream_session_t *s)
{
    mark('C');

    if (s->preread != NULL) {
        snprintf(T.seen, sizeof(T.seen), "%.*s",
                 (int) (s->preread->last - s->preread->pos),
                 (char *) s->preread->pos);
    }

    sl_stream_finalize_session(s, SL_STREAM_OK);
}

static sl_int_t
log_phase(sl_stream_session_t *s)
{
    mark('L');
    T.status = s->status;
    T.closed = 1;
    return SL_OK;
}

static sl_stream_handler_pt  log_handlers[] = { log_phase };

/* a session over a fresh socket pair, its phases those of engine */
static sl_stream_session_t *
session(sl_stream_phase_handler_t *engine)
{
    sl_stream_session_t  *s;
    sl_connection_t      *c;
    sl_uint_t             n = sl_modules_max();
    sl_log_t             *log;
    int                   fds[2];

    sl_memzero(&T, sizeof(T));
    sl_te_socketpair(fds);
    peer = fds[1];

    c = sl_te_conn(fds[0], NULL, NULL, NULL);
    c->pool = sl_create_pool(1024, &sl_te.log);     /* finalizing frees it */
    log = sl_palloc(c->pool, sizeof(sl_log_t));
    ck_assert_ptr_nonnull(log);
    *log = sl_te.log;
    c->log = log;
    c->read->log = log;
    c->write->log = log;

    sl_memzero(&cmcf, sizeof(cmcf));
    cmcf.phase_engine = engine;
    cmcf.nmodules = n;
    cmcf.phases[SL_STREAM_LOG_PHASE].handlers.elts = log_handlers;
    cmcf.phases[SL_STREAM_LOG_PHASE].handlers.nelts = 1;

    sl_memzero(&cscf, sizeof(cscf));
    cscf.handler = content;
    cscf.tcp_nodelay = 0;               /* a unix socket pair */
    cscf.preread_buffer_size = 16;
    cscf.preread_timeout = 200;

    s = sl_pcalloc(c->pool, sizeof(sl_stream_session_t));
    ck_assert_ptr_nonnull(s);
    s->connection = c;
    c->data = s;
    s->ctx = sl_pcalloc(c->pool, n * sizeof(void *));
    s->nctx = (unsigned) n;
    s->main_conf = sl_pcalloc(c->pool, n * sizeof(void *));
    s->srv_conf = sl_pcalloc(c->pool, n * sizeof(void *));
    ck_assert(s->ctx && s->main_conf && s->srv_conf);
    s->main_conf[sl_stream_core_module.ctx_index] = &cmcf;
    s->srv_conf[sl_stream_core_module.ctx_index] = &cscf;
    s->time = &sl_te.time;

    c->read->handler = sl_stream_session_handler;
    c->write->handler = sl_stream_empty_handler;
    sl_te_watch(c);
    return s;
}

static void
done(void)
{
    if (peer != -1) {
        close(peer);
        peer = -1;
    }
    sl_te_close();
}

static void
setup(void)
{
    sl_preinit_modules();
}

static void
teardown(void)
{
    if (peer != -1) {
        close(peer);
        peer = -1;
    }
    sl_te_teardown();
}

#define GENERIC(h, next)                                                      \
    { sl_stream_core_generic_phase, h, next }
#define PREREAD(h, next)                                                      \
    { sl_stream_core_preread_phase, h, next }
#define CONTENT                                                               \
    { sl_stream_core_content_phase, NULL, 0 }
#define END                                                                   \
    { NULL, NULL, 0 }

/* two phases: {a, b, c} then {d}, then content */
static sl_stream_phase_handler_t  two_phases[] = {
    GENERIC(h_a, 3), GENERIC(h_b, 3), GENERIC(h_c, 3),
    GENERIC(h_d, 4),
    CONTENT, END
};

/* --- the generic checker ---------------------------------------------------- */

START_TEST(test_declined_and_ok)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    /* DECLINED: the next handler; OK: the next phase, c is skipped */
    s = session(two_phases);
    T.rc_a = SL_DECLINED;
    sl_stream_session_handler(s->connection->read);
    ck_assert_str_eq(T.trail, "abdCL");
    ck_assert_uint_eq(T.status, SL_STREAM_OK);
    done();
}
END_TEST

START_TEST(test_ok_skips_phase)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    s = session(two_phases);
    T.rc_a = SL_OK;
    sl_stream_core_run_phases(s);
    ck_assert_str_eq(T.trail, "adCL");
    done();
}
END_TEST

START_TEST(test_again_resumes)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    s = session(two_phases);
    T.rc_a = SL_DECLINED;
    T.again_once = 1;

    /* SL_AGAIN: the handler will resume the session itself */
    sl_stream_core_run_phases(s);
    ck_assert_str_eq(T.trail, "a");
    ck_assert(!T.closed);

    sl_stream_core_run_phases(s);
    ck_assert_str_eq(T.trail, "aabdCL");
    done();
}
END_TEST

START_TEST(test_status_finalizes)
{
    static const sl_int_t   rc[] = { SL_STREAM_FORBIDDEN, SL_ERROR,
                                     SL_STREAM_SERVICE_UNAVAILABLE };
    static const sl_uint_t  status[] = { 403, 500, 503 };
    sl_stream_session_t    *s;
    sl_uint_t               i;

    sl_te_open(_i, 8);

    for (i = 0; i < sl_nelems(rc); i++) {
        s = session(two_phases);
        T.rc_a = rc[i];
        sl_stream_core_run_phases(s);
        ck_assert_str_eq(T.trail, "aL");
        ck_assert_uint_eq(T.status, status[i]);
        close(peer);
        peer = -1;
    }

    /* SL_DONE: someone else finishes it */
    s = session(two_phases);
    T.rc_a = SL_DONE;
    sl_stream_core_run_phases(s);
    ck_assert_str_eq(T.trail, "a");
    sl_stream_finalize_session(s, SL_STREAM_BAD_GATEWAY);
    ck_assert_uint_eq(T.status, 502);
    done();
}
END_TEST

/* --- the preread checker ---------------------------------------------------- */

static sl_stream_phase_handler_t  preread[] = {
    PREREAD(h_p, 1), CONTENT, END
};

START_TEST(test_preread)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    s = session(preread);
    T.want = 5;
    sl_stream_session_handler(s->connection->read);
    ck_assert(!T.closed);

    sl_te_peer_write(peer, "hel", 3);
    sl_te_run_until(T.n >= 2, 2000);
    ck_assert(!T.closed);

    sl_te_peer_write(peer, "lo, world", 9);
    sl_te_run_until(T.closed, 2000);

    /* content sees everything preread read, as it was read */
    ck_assert_str_eq(T.seen, "hello, world");
    ck_assert_uint_eq(T.trail[T.n - 2], 'C');
    ck_assert_uint_eq(T.status, SL_STREAM_OK);
    done();
}
END_TEST

START_TEST(test_preread_full)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    s = session(preread);
    T.want = 100;                       /* more than the 16-byte buffer */
    sl_stream_session_handler(s->connection->read);

    sl_te_peer_write(peer, "0123456789abcdefXYZ", 19);
    sl_te_run_until(T.closed, 2000);

    ck_assert_uint_eq(T.status, SL_STREAM_BAD_REQUEST);
    ck_assert(strchr(T.trail, 'C') == NULL);
    ck_assert(sl_te_logged("[error]"));
    ck_assert(sl_te_logged("preread buffer full"));
    done();
}
END_TEST

START_TEST(test_preread_timeout)
{
    sl_stream_session_t  *s;
    sl_msec_t             start;

    sl_te_open(_i, 8);

    s = session(preread);
    T.want = 5;
    start = sl_te_now();
    sl_stream_session_handler(s->connection->read);
    sl_te_run_until(T.closed, 5000);

    /* as nginx: the session ends, quietly */
    ck_assert_uint_eq(T.status, SL_STREAM_OK);
    ck_assert(strchr(T.trail, 'C') == NULL);
    ck_assert_uint_ge(sl_te_now() - start, 150);
    done();
}
END_TEST

START_TEST(test_preread_client_closes)
{
    sl_stream_session_t  *s;

    sl_te_open(_i, 8);

    s = session(preread);
    T.want = 5;
    sl_stream_session_handler(s->connection->read);

    sl_te_peer_write(peer, "hi", 2);
    close(peer);
    peer = -1;
    sl_te_run_until(T.closed, 2000);

    ck_assert_uint_eq(T.status, SL_STREAM_OK);
    ck_assert(strchr(T.trail, 'C') == NULL);
    done();
}
END_TEST

/* --- the per-module contexts ------------------------------------------------ */

/*
 * A session starts with the ctx array its server has learnt (here none):
 * setting a context grows it to that module's index, from the pool, and
 * teaches the server; an index past its end reads NULL.
 */
START_TEST(test_ctx_grows)
{
    sl_stream_session_t  *s;
    sl_module_t           low, high, far;
    int                   a, b;

    sl_te_open(0, 8);
    s = session(two_phases);
    s->ctx = NULL;
    s->nctx = 0;
    cscf.nctx = 0;

    sl_memzero(&low, sizeof(low));
    sl_memzero(&high, sizeof(high));
    sl_memzero(&far, sizeof(far));
    low.ctx_index = 1;
    high.ctx_index = 5;
    far.ctx_index = 40;

    ck_assert_ptr_null(sl_stream_get_module_ctx(s, high));
    /* clearing what was never set takes nothing */
    ck_assert_int_eq(sl_stream_set_ctx(s, NULL, far), SL_OK);
    ck_assert_uint_eq(s->nctx, 0);

    ck_assert_int_eq(sl_stream_set_ctx(s, &a, high), SL_OK);
    ck_assert_uint_eq(s->nctx, 6);
    ck_assert_uint_eq(cscf.nctx, 6);
    ck_assert_ptr_eq(sl_stream_get_module_ctx(s, high), &a);
    ck_assert_ptr_null(sl_stream_get_module_ctx(s, low));
    ck_assert_ptr_null(sl_stream_get_module_ctx(s, far));

    /* within the array: no growth, the other context kept */
    ck_assert_int_eq(sl_stream_set_ctx(s, &b, low), SL_OK);
    ck_assert_uint_eq(s->nctx, 6);
    ck_assert_ptr_eq(sl_stream_get_module_ctx(s, low), &b);
    ck_assert_ptr_eq(sl_stream_get_module_ctx(s, high), &a);

    sl_stream_finalize_session(s, SL_STREAM_OK);
    ck_assert_int_eq(T.closed, 1);
    done();
}
END_TEST

/*
 * A module joins a phase with sl_stream_add_phase_handler(): handlers of
 * a phase keep the order they were added in; the content phase, which is
 * one handler per server, and a phase past the last are refused.
 */
START_TEST(test_add_phase_handler)
{
    sl_conf_t              cf;
    sl_stream_conf_ctx_t   ctx;
    sl_stream_handler_pt  *h;
    void                  *main_conf[64];
    sl_uint_t              i;

    sl_te_open(0, 8);
    ck_assert_uint_lt(sl_stream_core_module.ctx_index, 64);

    sl_memzero(&cf, sizeof(cf));
    sl_memzero(&ctx, sizeof(ctx));
    sl_memzero(&cmcf, sizeof(cmcf));
    cf.pool = sl_create_pool(1024, &sl_te.log);
    ck_assert_ptr_nonnull(cf.pool);
    cf.log = &sl_te.log;
    cf.ctx = &ctx;
    ctx.main_conf = main_conf;
    main_conf[sl_stream_core_module.ctx_index] = &cmcf;

    for (i = 0; i <= SL_STREAM_LOG_PHASE; i++) {
        ck_assert_int_eq(sl_array_init(&cmcf.phases[i].handlers, cf.pool, 1,
                                       sizeof(sl_stream_handler_pt)), SL_OK);
    }

    ck_assert_int_eq(sl_stream_add_phase_handler(&cf, SL_STREAM_ACCESS_PHASE,
                                                 h_a), SL_OK);
    ck_assert_int_eq(sl_stream_add_phase_handler(&cf, SL_STREAM_ACCESS_PHASE,
                                                 h_b), SL_OK);
    ck_assert_int_eq(sl_stream_add_phase_handler(&cf, SL_STREAM_LOG_PHASE,
                                                 h_c), SL_OK);

    h = cmcf.phases[SL_STREAM_ACCESS_PHASE].handlers.elts;
    ck_assert_uint_eq(cmcf.phases[SL_STREAM_ACCESS_PHASE].handlers.nelts, 2);
    ck_assert(h[0] == h_a && h[1] == h_b);
    h = cmcf.phases[SL_STREAM_LOG_PHASE].handlers.elts;
    ck_assert_uint_eq(cmcf.phases[SL_STREAM_LOG_PHASE].handlers.nelts, 1);
    ck_assert(h[0] == h_c);

    ck_assert_int_eq(sl_stream_add_phase_handler(&cf, SL_STREAM_CONTENT_PHASE,
                                                 h_d), SL_ERROR);
    ck_assert_int_eq(sl_stream_add_phase_handler(&cf, SL_STREAM_LOG_PHASE + 1,
                                                 h_d), SL_ERROR);
    ck_assert_uint_eq(cmcf.phases[SL_STREAM_CONTENT_PHASE].handlers.nelts, 0);

    sl_destroy_pool(cf.pool);
    done();
}
END_TEST

static Suite *
stream_phases_suite(void)
{
    Suite  *s = suite_create("stream_phases");
    TCase  *tc = tcase_create("phases");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_declined_and_ok, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_ok_skips_phase, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_again_resumes, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_status_finalizes, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_preread, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_preread_full, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_preread_timeout, 0, SL_TE_NBACKENDS);
    tcase_add_loop_test(tc, test_preread_client_closes, 0, SL_TE_NBACKENDS);
    tcase_add_test(tc, test_ctx_grows);
    tcase_add_test(tc, test_add_phase_handler);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(stream_phases_suite)
