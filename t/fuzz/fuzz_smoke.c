/*
 * fuzz_smoke.c -- a main() for the fuzz targets without libFuzzer, so that
 * `make test` runs every target on every build (gcc, the sanitizers,
 * valgrind) and not only where clang's fuzzing runtime is installed.
 *
 *     smoke_TARGET [-m N] DIR...
 *
 * Each regular file of each DIR (the seed corpus, and the crashes ever
 * found, which are kept in it) is given to LLVMFuzzerTestOneInput as it
 * is, then N times mutated (default 32): bits flipped, bytes inserted or
 * deleted, cut short, two inputs spliced. The mutations come from a fixed
 * seed, so that a failing run fails again the same way. It finds little
 * that `make fuzz` would not; what it guards is that every target still
 * builds and that no input that once crashed crashes again.
 *
 * A target reports a broken contract by aborting, as under libFuzzer; a
 * sanitizer does the same. Exit status 0: every input ran.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FZS_MAX_INPUT  65536
#define FZS_MAX_FILES  1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t  *data;
    size_t    size;
} fzs_input_t;

static fzs_input_t  fzs_inputs[FZS_MAX_FILES];
static size_t       fzs_n;
static uint64_t     fzs_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: the same sequence on every machine */
static uint32_t
fzs_rand(void)
{
    fzs_state ^= fzs_state >> 12;
    fzs_state ^= fzs_state << 25;
    fzs_state ^= fzs_state >> 27;
    return (uint32_t) ((fzs_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static int
fzs_load(const char *path)
{
    FILE         *f;
    fzs_input_t  *in;

    if (fzs_n == FZS_MAX_FILES) {
        fprintf(stderr, "fuzz_smoke: more than %d inputs\n", FZS_MAX_FILES);
        return -1;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    in = &fzs_inputs[fzs_n];
    in->data = malloc(FZS_MAX_INPUT);
    if (in->data == NULL) {
        fclose(f);
        return -1;
    }

    in->size = fread(in->data, 1, FZS_MAX_INPUT, f);
    fclose(f);
    fzs_n++;
    return 0;
}

static int
fzs_load_dir(const char *dir)
{
    DIR            *d;
    struct dirent  *e;
    struct stat     st;
    char            path[4096];
    int             rc = 0;

    d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }

    while (rc == 0 && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0
            && S_ISREG(st.st_mode))
        {
            rc = fzs_load(path);
        }
    }

    closedir(d);
    return rc;
}

/* one mutation of `in` into buf; returns its length */
static size_t
fzs_mutate(const fzs_input_t *in, uint8_t *buf)
{
    const fzs_input_t  *other;
    size_t              len = in->size, at, k;

    memcpy(buf, in->data, len);
    at = len ? fzs_rand() % len : 0;

    switch (fzs_rand() % 5) {
    case 0:                                        /* flip a bit */
        if (len) {
            buf[at] ^= (uint8_t) (1u << (fzs_rand() % 8));
        }
        break;
    case 1:                                        /* insert a byte */
        if (len < FZS_MAX_INPUT) {
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t) fzs_rand();
            len++;
        }
        break;
    case 2:                                        /* delete a run */
        k = 1 + fzs_rand() % 8;
        k = k > len - at ? len - at : k;
        memmove(buf + at, buf + at + k, len - at - k);
        len -= k;
        break;
    case 3:                                        /* cut short */
        len = at;
        break;
    default:                                       /* splice another in */
        other = &fzs_inputs[fzs_rand() % fzs_n];
        k = other->size ? fzs_rand() % other->size : 0;
        k = other->size - k > FZS_MAX_INPUT - at ? FZS_MAX_INPUT - at
                                                  : other->size - k;
        memcpy(buf + at, other->data + (other->size - k), k);
        len = at + k;
        break;
    }

    return len;
}

int
main(int argc, char **argv)
{
    static uint8_t  buf[FZS_MAX_INPUT];
    long            mutations = 32, m;
    size_t          i;
    int             a = 1;

    if (argc > 2 && strcmp(argv[1], "-m") == 0) {
        mutations = strtol(argv[2], NULL, 10);
        a = 3;
    }

    if (a >= argc) {
        fprintf(stderr, "usage: %s [-m N] DIR...\n", argv[0]);
        return 2;
    }

    for (; a < argc; a++) {
        if (fzs_load_dir(argv[a]) != 0) {
            return 2;
        }
    }

    for (i = 0; i < fzs_n; i++) {
        (void) LLVMFuzzerTestOneInput(fzs_inputs[i].data, fzs_inputs[i].size);

        for (m = 0; m < mutations; m++) {
            (void) LLVMFuzzerTestOneInput(buf,
                                          fzs_mutate(&fzs_inputs[i], buf));
        }
    }

    printf("fuzz_smoke: %zu inputs, %ld mutations each\n", fzs_n, mutations);

    for (i = 0; i < fzs_n; i++) {
        free(fzs_inputs[i].data);
    }

    return 0;
}
