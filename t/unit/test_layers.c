/*
 * test_layers.c -- the layers only call downwards: core (with os/unix) <-
 * event (with its back ends) <- ssl <- stream <- embed; and the daemon
 * (main(), the process model) drives the event loop and the cycle, and
 * nothing of its own reaches the layers it does not need. A source file may
 * include our headers from its own layer and from those its layer may use,
 * never from another. The public header, sluice.h, includes none of ours.
 *
 * Files are ranked by their folder; the few ranked apart are named here
 * with their reason, so that a new one is a decision and not an accident.
 */
#include "sl_test.h"
#include "sl_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LT_MAX_FILES  512

enum {
    LT_CORE = 0,
    LT_EVENT,
    LT_SSL,
    LT_STREAM,
    LT_EMBED,
    LT_DAEMON
};

#define LT_BIT(l)  (1u << (l))

/* the layers each layer may include from: itself and those below it */
static const unsigned  lt_may_use[] = {
    [LT_CORE] = LT_BIT(LT_CORE),
    [LT_EVENT] = LT_BIT(LT_CORE) | LT_BIT(LT_EVENT),
    [LT_SSL] = LT_BIT(LT_CORE) | LT_BIT(LT_EVENT) | LT_BIT(LT_SSL),
    [LT_STREAM] = LT_BIT(LT_CORE) | LT_BIT(LT_EVENT) | LT_BIT(LT_SSL)
                  | LT_BIT(LT_STREAM),
    /* an embedded instance never runs the process model (DESIGN.md) */
    [LT_EMBED] = LT_BIT(LT_CORE) | LT_BIT(LT_EVENT) | LT_BIT(LT_SSL)
                 | LT_BIT(LT_STREAM) | LT_BIT(LT_EMBED),
    /*
     * The daemon drives the loop and the cycle; the protocols reach it
     * only as modules, through the cycle's module table.
     */
    [LT_DAEMON] = LT_BIT(LT_CORE) | LT_BIT(LT_EVENT) | LT_BIT(LT_DAEMON),
};

typedef struct {
    const char  *dir;        /* under src/ */
    int          layer;
} lt_layer_t;

static const lt_layer_t  lt_layers[] = {
    { "core", LT_CORE },
    { "os/unix", LT_CORE },
    { "event", LT_EVENT },
    { "event/modules", LT_EVENT },
    { "ssl", LT_SSL },
    { "stream", LT_STREAM },
    { "embed", LT_EMBED },
    { "daemon", LT_DAEMON },
};

#define LT_NLAYERS  (sizeof(lt_layers) / sizeof(lt_layers[0]))

/*
 * os/unix's socket I/O works on a connection and reports what the system
 * call said in its events' ready/eof/error, as the loop expects (nginx
 * keeps ngx_recv.c in os/unix likewise): those files are the event
 * layer's, kept beside the rest of the system's calls.
 */
static const lt_layer_t  lt_files_apart[] = {
    { "os/unix/sl_recv.c", LT_EVENT },
    { "os/unix/sl_send.c", LT_EVENT },
    { "os/unix/sl_splice.c", LT_EVENT },
};

typedef struct {
    char  path[512];          /* relative to src/ */
    char  name[256];          /* the file name */
    int   layer;
} lt_file_t;

static lt_file_t  lt_files[LT_MAX_FILES];
static int        lt_nfiles;

/* the layer of a file: its folder's, unless it is ranked apart */
static int
lt_file_layer(const char *path, int layer)
{
    size_t  i;

    for (i = 0; i < sizeof(lt_files_apart) / sizeof(lt_files_apart[0]); i++) {
        if (strcmp(lt_files_apart[i].dir, path) == 0) {
            return lt_files_apart[i].layer;
        }
    }

    return layer;
}

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
        f->layer = lt_file_layer(f->path, layer->layer);
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

/* the layer of our header name, or -1 for one that is not ours */
static int
lt_header_layer(const char *name)
{
    int  i;

    for (i = 0; i < lt_nfiles; i++) {
        if (strcmp(lt_files[i].name, name) == 0) {
            return lt_files[i].layer;
        }
    }

    return -1;
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

/* the violations of the file at abs (src/rel, of layer), appended to out */
static void
lt_check_path(const char *abs, const char *rel, int layer, char *out,
    size_t size)
{
    char         line[1024];
    const char  *inc;
    FILE        *fp;
    int          l;

    fp = fopen(abs, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", abs);

    while (fgets(line, sizeof(line), fp) != NULL) {
        inc = lt_included(line);
        if (inc == NULL) {
            continue;
        }

        l = lt_header_layer(inc);
        if (l < 0 || (lt_may_use[layer] & LT_BIT(l))) {
            continue;
        }

        snprintf(out + strlen(out), size - strlen(out),
                 "\n  src/%s includes %s (not a layer below it)", rel, inc);
    }

    fclose(fp);
}

static void
lt_check_file(const lt_file_t *f, char *out, size_t size)
{
    char  path[1024];

    snprintf(path, sizeof(path), "%s/src/%s", sl_t_src(), f->path);
    lt_check_path(path, f->path, f->layer, out, size);
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
    ck_assert_int_eq(lt_header_layer("sluice.h"), LT_EMBED);
    ck_assert_int_eq(lt_header_layer("sl_recv.c"), LT_EVENT);
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

/* the violations of a file of layer with the given text, as rel */
static const char *
lt_check_text(const char *rel, int layer, const char *text)
{
    static char   out[1024];
    char         *dir;

    /* the strings are the test library's: they go with the test */
    lt_scan();
    dir = sl_t_mkdir();
    sl_t_writef(dir, "fake.c", "%s", text);
    out[0] = '\0';
    lt_check_path(sl_t_path(dir, "fake.c"), rel, layer, out, sizeof(out));
    return out;
}

/* the rule bites: a core file that reaches for the stream layer */
START_TEST(test_rule_bites)
{
    ck_assert_str_eq(lt_check_text("core/fake.c", LT_CORE,
                                   "#include \"sl_core.h\"\n"
                                   "#include \"sl_stream.h\"\n"
                                   "#include \"sl_event.h\"\n"),
                     "\n  src/core/fake.c includes sl_stream.h (not a "
                     "layer below it)\n  src/core/fake.c includes "
                     "sl_event.h (not a layer below it)");

    /* the connection is the event layer's, the listening socket core's */
    ck_assert_str_eq(lt_check_text("core/fake.c", LT_CORE,
                                   "#include \"sl_listening.h\"\n"
                                   "#include \"sl_connection.h\"\n"),
                     "\n  src/core/fake.c includes sl_connection.h (not a "
                     "layer below it)");

    /* event knows no TLS, TLS no stream */
    ck_assert_str_eq(lt_check_text("event/fake.c", LT_EVENT,
                                   "#include \"sl_ssl.h\"\n"),
                     "\n  src/event/fake.c includes sl_ssl.h (not a layer "
                     "below it)");
    ck_assert_str_eq(lt_check_text("ssl/fake.c", LT_SSL,
                                   "#include \"sl_event.h\"\n"
                                   "#include \"sl_stream_upstream.h\"\n"),
                     "\n  src/ssl/fake.c includes sl_stream_upstream.h "
                     "(not a layer below it)");
}
END_TEST

/* the daemon and the embedding API are two tops that never meet */
START_TEST(test_daemon_apart)
{
    ck_assert_str_eq(lt_check_text("daemon/fake.c", LT_DAEMON,
                                   "#include \"sl_event.h\"\n"
                                   "#include \"sl_process_cycle.h\"\n"
                                   "#include \"sl_stream.h\"\n"),
                     "\n  src/daemon/fake.c includes sl_stream.h (not a "
                     "layer below it)");
    ck_assert_str_eq(lt_check_text("embed/fake.c", LT_EMBED,
                                   "#include \"sl_stream.h\"\n"
                                   "#include \"sl_process.h\"\n"),
                     "\n  src/embed/fake.c includes sl_process.h (not a "
                     "layer below it)");
    ck_assert_str_eq(lt_check_text("event/fake.c", LT_EVENT,
                                   "#include \"sl_process_cycle.h\"\n"),
                     "\n  src/event/fake.c includes sl_process_cycle.h (not "
                     "a layer below it)");
}
END_TEST

/* os/unix is core but for its socket I/O, which is the event layer's */
START_TEST(test_files_apart)
{
    lt_scan();
    ck_assert_int_eq(lt_file_layer("os/unix/sl_recv.c", LT_CORE), LT_EVENT);
    ck_assert_int_eq(lt_file_layer("os/unix/sl_files.c", LT_CORE), LT_CORE);
    ck_assert_int_eq(lt_header_layer("sl_os.h"), LT_CORE);
    ck_assert_int_eq(lt_header_layer("sl_connection.h"), LT_EVENT);
    ck_assert_int_eq(lt_header_layer("sl_listening.h"), LT_CORE);
    ck_assert_int_eq(lt_header_layer("sl_process_cycle.h"), LT_DAEMON);

    ck_assert_str_eq(lt_check_text("os/unix/fake.c", LT_CORE,
                                   "#include \"sl_event.h\"\n"),
                     "\n  src/os/unix/fake.c includes sl_event.h (not a "
                     "layer below it)");
}
END_TEST

/* every folder of src/ that holds C is ranked: none escapes the check */
static void
lt_check_folders(const char *rel, char *out, size_t size)
{
    char            path[1024], sub[512];
    DIR            *d;
    struct dirent  *e;
    struct stat     st;
    size_t          i, len, sources = 0, known = 0;

    snprintf(path, sizeof(path), "%s/src%s%s", sl_t_src(),
             rel[0] ? "/" : "", rel);
    d = opendir(path);
    ck_assert_msg(d != NULL, "cannot open %s", path);

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
                 e->d_name);
        snprintf(path, sizeof(path), "%s/src/%s", sl_t_src(), sub);

        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            lt_check_folders(sub, out, size);
            continue;
        }

        len = strlen(e->d_name);
        if (len > 2 && (strcmp(e->d_name + len - 2, ".c") == 0
                        || strcmp(e->d_name + len - 2, ".h") == 0))
        {
            sources++;
        }
    }

    closedir(d);

    for (i = 0; i < LT_NLAYERS; i++) {
        if (strcmp(lt_layers[i].dir, rel) == 0) {
            known = 1;
        }
    }

    if (sources > 0 && !known) {
        snprintf(out + strlen(out), size - strlen(out),
                 "\n  src/%s has no layer", rel);
    }
}

START_TEST(test_every_folder_ranked)
{
    char  out[2048] = "";

    lt_check_folders("", out, sizeof(out));
    ck_assert_msg(out[0] == '\0', "folders outside the layers:%s", out);
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
    tcase_add_test(tc, test_daemon_apart);
    tcase_add_test(tc, test_files_apart);
    tcase_add_test(tc, test_every_folder_ranked);
    suite_add_tcase(s, tc);
    return s;
}

SL_TEST_MAIN(layers_suite)
