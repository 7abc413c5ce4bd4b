/*
 * fuzz_conf.c -- libFuzzer target: the input is the configuration file.
 *
 * Each input is written to a private prefix (see fuzz_common.h) as the main
 * configuration file, and a cycle is built from it with sl_init_cycle(), as
 * "sluice -t" would, then destroyed. Inputs holding a '/' are skipped, so
 * that error_log/pid/include in the input cannot name a path outside the
 * prefix. See t/fuzz/README.md.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '/', size) != NULL) {
        return -1;          /* not added to the corpus */
    }

    fz_setup();
    fz_write(fz_conf_path, data, size);
    fz_run(NULL, 0);
    return 0;
}
