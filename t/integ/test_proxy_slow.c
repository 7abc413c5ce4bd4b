/*
 * test_proxy_slow.c -- 1 GiB through the proxy to an echo backend, every
 * byte checked by sha256, on every event back end. Minutes on a shared
 * machine, so it runs only with SL_SLOW=1 (sh t/run.sh objs with
 * SL_SLOW=1 SL_TESTS=test_proxy_slow); otherwise its one test says it
 * skipped. The 64 MiB transfer of test_proxy.c runs always.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_auto_config.h"
#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_net.h"
#include "sl_t_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SL_HAVE_stream_proxy_MODULE
#define SL_HAVE_stream_proxy_MODULE  0
#endif

static int
slow(void)
{
    const char  *v = getenv("SL_SLOW");

    return v != NULL && strcmp(v, "1") == 0;
}

START_TEST(test_gib)
{
    sl_t_sluice_t   srv;
    sl_t_backend_t  e;

    if (!slow() || !SL_HAVE_stream_proxy_MODULE) {
        printf("test_proxy_slow: skipped (set SL_SLOW=1 to run it)\n");
        return;
    }

    sl_t_backend_start(&e, "E", SL_TB_ECHO, 0);
    sl_t_sluice_start(&srv, sl_t_printf(
        "events { use %s; }\n"
        "stream { server { listen 127.0.0.1:@PORT@; proxy_pass 127.0.0.1:%d;"
        " } }\n", sl_t_backend(_i), e.port));

    sl_t_echo_transfer(srv.port, (size_t) 1024 * 1024 * 1024);

    sl_t_sluice_stop(&srv);
}
END_TEST

static Suite *
proxy_slow_suite(void)
{
    Suite  *s = suite_create("proxy_slow");
    TCase  *tc = tcase_create("gib");

    sl_t_fixture(tc);
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_gib, 0, slow() ? sl_t_nbackends() : 1);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(proxy_slow_suite)
