/*
 * test_layers.c -- the layers only call downwards: core (with os/unix) <-
 * event (with its back ends) <- ssl <- stream <- embed. A source file may
 * include our headers from its own layer and the layers below it, never
 * from one above. The public header, sluice.h, includes none of ours.
 *
 * The exceptions are named here with their reason, so that a new one is
 * a decision and not an accident.
 */
#include "sl_test.h"
#include "sl_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define LT_MAX_FILES  512

typedef struct {
    const char  *dir;        /* under src/ */
    int          rank;
} lt_layer_t;

static const lt_layer_t  lt_layers[] = {
    { "core", 0 },
    { "os/unix", 0 },
    { "event", 1 },
    { "event/modules", 1 },
    { "ssl", 2 },
    { "stream", 3 },
    { "embed", 4 },
};

#define LT_NLAYERS  (sizeof(lt_layers) / sizeof(lt_layers[0]))

/*
 * A connection's events and the socket I/O that clears their `ready`
 * flags live in core and os/unix, as nginx keeps ngx_connection.c and
 * ngx_recv.c beside the event types they use; main() and the process
 * cycle drive the loop. Those files may include sl_event.h.
 */
static const char  *lt_event_users[] = {
    "core/sl_connection.c",
    "core/sluice.c",
    "os/unix/sl_recv.c",
    "os/unix/sl_send.c",
    "os/unix/sl_process_cycle.c",
};

typedef struct {
    char  path[512];          /* relative to src/ */
    char  name[256];          /* the file name */
    int   rank;
} lt_file_t;

static lt_file_t  lt_files[LT_MAX_FILES];
static int        lt_nfiles;

static void
lt_scan_dir(const char *src, const lt_layer_t *layer)
{
    char            dir[512];
    DIR            *d;
    struct dirent  *e;
    size_t          len;
    lt_file_t      *f;

    snprintf(dir, sizeof(dir), "%s/src/%s", src, layer->dir);
    d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);

    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len < 3 || (strcmp(e->d_name + len - 2, ".c") != 0
                        && strcmp(e->d_name + len - 2, ".h") != 0))
        {
            continue;
        }

        ck_assert_int_lt(lt_nfiles, LT_MAX_FILES);
        f = &lt_files[lt_nfiles++];
        snprintf(f->path, sizeof(f->path), "%s/%s", layer->dir, e->d_name);
        snprintf(f->name, sizeof(f->name), "%s", e->d_name);
        f->rank = layer->rank;
    }

    closedir(d);
}

static void
lt_scan(void)
{
    size_t  i;

    lt_nfiles = 0;
    for (i = 0; i < LT_NLAYERS; i++) {
        lt_scan_dir(sl_t_src(), &lt_layers[i]);
    }
}

/* the rank of our header name, or -1 for one that is not ours */
static int
lt_header_rank(const char *name)
{
    int  i;

    for (i = 0; i < lt_nfiles; i++) {
        if (strcmp(lt_files[i].name, name) == 0) {
            return lt_files[i].rank;
        }
    }

    return -1;
}

static int
lt_may_use_event(const char *path)
{
    size_t  i;

    for (i = 0; i < sizeof(lt_event_users) / sizeof(lt_event_users[0]); i++) {
        if (strcmp(lt_event_users[i], path) == 0) {
            return 1;
        }
    }

    return 0;
}

/* the included name of an #include "..." line, or NULL */
static const char *
lt_included(char *line)
{
    char  *p = line, *q;

    while (*p == ' ' || *p == '\t') {
        p++;
    }

    if (strncmp(p, "#include", 8) != 0) {
        return NULL;
    }

    p = strchr(p + 8, '"');
    if (p == NULL) {
        return NULL;
    }

    q = strchr(++p, '"');
    if (q == NULL) {
        return NULL;
    }

    *q = '\0';
    return p;
}

/* the violations of the file at abs (src/rel, of rank), appended to out */
static void
lt_check_path(const char *abs, const char *rel, int rank, char *out,
    size_t size)
{
    char         line[1024];
    const char  *inc;
    FILE        *fp;
    int          r;

    fp = fopen(abs, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", abs);

    while (fgets(line, sizeof(line), fp) != NULL) {
        inc = lt_included(line);
        if (inc == NULL) {
            continue;
        }

        r = lt_header_rank(inc);
        if (r <= rank
            || (r == 1 && strcmp(inc, "sl_event.h") == 0
                && lt_may_use_event(rel)))
        {
            continue;
        }

        snprintf(out + strlen(out), size - strlen(out),
                 "\n  src/%s includes %s (a layer above it)", rel, inc);
    }

    fclose(fp);
}

static void
lt_check_file(const lt_file_t *f, char *out, size_t size)
{
    char  path[1024];

    snprintf(path, sizeof(path), "%s/src/%s", sl_t_src(), f->path);
    lt_check_path(path, f->path, f->rank, out, size);
}

START_TEST(test_only_downwards)
{
    static char  out[16384];
    int          i, checked = 0;

    lt_scan();
    out[0] = '\0';

    for (i = 0; i < lt_nfiles; i++) {
        lt_check_file(&lt_files[i], out, sizeof(out));
        checked++;
    }

    /* the scan found the tree: an empty one would pass vacuously */
    ck_assert_int_gt(checked, 100);
    ck_assert_int_ge(lt_header_rank("sluice.h"), 4);
    ck_assert_msg(out[0] == '\0', "layers called upwards:%s", out);
}
END_TEST

/* sluice.h: the host's only header, with no path into ours */
START_TEST(test_public_header_alone)
{
    char         path[512], line[1024];
    const char  *inc;
    FILE        *fp;

    lt_scan();
    snprintf(path, sizeof(path), "%s/src/embed/sluice.h", sl_t_src());
    fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);

    while (fgets(line, sizeof(line), fp) != NULL) {
        inc = lt_included(line);
        ck_assert_msg(inc == NULL, "sluice.h includes \"%s\"", inc);
    }

    fclose(fp);
}
END_TEST

/* the rule bites: a core file that reaches for the stream layer */
START_TEST(test_rule_bites)
{
    char   out[512] = "";
    char  *dir, *name;

    /* the strings are the test library's: they go with the test */
    lt_scan();
    dir = sl_t_mkdir();
    sl_t_writef(dir, "fake.c", "#include \"sl_core.h\"\n"
                "#include \"sl_stream.h\"\n#include \"sl_event.h\"\n");
    name = sl_t_path(dir, "fake.c");

    lt_check_path(name, "core/fake.c", 0, out, sizeof(out));
    ck_assert_str_eq(out, "\n  src/core/fake.c includes sl_stream.h (a layer "
                     "above it)\n  src/core/fake.c includes sl_event.h (a "
                     "layer above it)");
}
END_TEST

static Suite *
layers_suite(void)
{
    Suite  *s = suite_create("layers");
    TCase  *tc = tcase_create("layers");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_only_downwards);
    tcase_add_test(tc, test_public_header_alone);
    tcase_add_test(tc, test_rule_bites);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(layers_suite)
