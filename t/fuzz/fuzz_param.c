/*
 * fuzz_param.c -- libFuzzer target: the input is the -g string.
 *
 * The main configuration file is empty; the input becomes cycle->conf_param,
 * which sl_conf_param() scans before the file. Inputs holding a '/' are
 * skipped, as in fuzz_conf.c. See t/fuzz/README.md.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '/', size) != NULL) {
        return -1;
    }

    fz_setup();
    fz_run(data, size);
    return 0;
}
