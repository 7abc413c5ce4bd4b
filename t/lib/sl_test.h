/*
 * sl_test.h -- what every Check suite of sluice shares.
 *
 * A test file builds one Suite and ends with SL_TEST_MAIN(its_suite).
 * The runner honours Check's own environment (CK_FORK, CK_RUN_CASE,
 * CK_TIMEOUT_MULTIPLIER, CK_VERBOSITY).
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <check.h>

/*
 * SL_T_ASAN: 1 in a build with AddressSanitizer. The suites are compiled
 * with sluice's own flags (configure's --with-cc-opt), so the test's
 * compiler says what sluice was built with.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SL_T_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SL_T_ASAN  1
#endif
#endif
#ifndef SL_T_ASAN
#define SL_T_ASAN  0
#endif

#define SL_TEST_MAIN(make_suite)                                              \
    int main(void)                                                            \
    {                                                                         \
        SRunner *sr = srunner_create(make_suite());                           \
        srunner_run_all(sr, CK_ENV);                                          \
        int failed = srunner_ntests_failed(sr);                               \
        srunner_free(sr);                                                     \
        return failed == 0 ? 0 : 1;                                           \
    }

#endif /* SL_TEST_H */
