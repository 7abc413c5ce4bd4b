/*
 * test_embed_docs.c -- the C of the documentation compiles. Every ```c
 * block of the .md files of docs/ and of README.md is written to a file
 * of its own and built as a user of libsluice builds: against the
 * installed tree (make install DESTDIR=..., which t/run.sh exports as
 * SLUICE_DESTDIR) through pkg-config and nothing else, with cc -std=c11
 * -Wall -Wextra -Werror. A block that defines main() is a program and is
 * linked; any other block is a translation unit and is only compiled
 * (-c).
 *
 * Each block is built twice:
 *
 *   shared  cc ... $(pkg-config --cflags --libs sluice)
 *   static  cc -static ... $(pkg-config --cflags --libs --static sluice)
 *
 * The static build is a fully static executable, not the installed
 * libsluice.a linked into a dynamic one, because that is the stricter
 * test of sluice.pc: nothing comes in through a shared library's own
 * dependencies, so every library the archive needs must be named by its
 * Requires.private and Libs.private. On Debian 12 it links: libc6-dev
 * ships libc.a and libssl-dev libssl.a and libcrypto.a; the linker only
 * warns that getaddrinfo(), getpwnam_r() and dlopen() would need glibc's
 * shared libraries at run time (a linker warning, which -Werror, the
 * compiler's, does not turn into an error). A build with sanitizers
 * (SLUICE_HOST_FLAGS holds -fsanitize=...) cannot link with -static: its
 * static build links the installed archive instead (pkg-config --static's
 * words with -lsluice made -l:libsluice.a) into a dynamic executable.
 *
 * Besides: docs/embedding.md names every function of
 * src/embed/libsluice.sym, each in a heading of its reference too; and at
 * least MIN_BLOCKS blocks are found, so that an extractor that finds
 * nothing cannot pass.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_test.h"
#include "sl_proc.h"
#include "sl_t_host.h"

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BLOCKS   11         /* the ```c blocks of the docs, at least */
#define MAX_BLOCKS   256
#define MAX_FILES    64
#define MAX_NAMES    256
#define MAX_OUTPUT   6000       /* of the compiler's, in a failure */

/* the file whose reference must name every function of libsluice.sym */
#define REFERENCE    "docs/embedding.md"

typedef enum {
    BUILD_SHARED = 0,
    BUILD_STATIC
} build_e;

typedef struct {
    const char  *file;          /* "docs/embedding.md", in the tree */
    int          number;        /* 1, 2... within its file */
    int          line;          /* of the opening fence */
    const char  *text;          /* into the file's text */
    size_t       len;
    int          program;       /* it defines main() */
} block_t;

typedef struct {
    block_t      v[MAX_BLOCKS];
    int          n;
    char         why[512];      /* what went wrong, when n is -1 */
} blocks_t;

/* the files, relative to the tree; the names live as long as the list */
typedef struct {
    char        *v[MAX_FILES];
    int          n;
} files_t;


/* --- finding the blocks -------------------------------------------------- */

/*
 * Every ```c block of text: a fence of three backquotes after at most
 * three spaces, with the info string "c" alone; any other fenced block
 * (```sh, ```nginx, ```) is skipped whole, so that its lines are never
 * taken for fences. The closing fence is backquotes alone. Returns the
 * number of blocks added, or -1 with why set (an unterminated block).
 */
static int
parse_blocks(const char *file, const char *text, blocks_t *b)
{
    const char  *line, *next, *p, *open = NULL, *body = NULL;
    size_t       len;
    int          lineno = 0, open_line = 0, in_c = 0, count = 0;

    for (line = text; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        len = next != NULL ? (size_t) (next - line) : strlen(line);
        next = next != NULL ? next + 1 : line + len;
        lineno++;

        for (p = line; p < line + 3 && p < line + len && *p == ' '; p++) {
            /* void */
        }

        if ((size_t) (line + len - p) < 3 || strncmp(p, "```", 3) != 0) {
            continue;
        }

        /* the info string: what follows the backquotes, trimmed */
        for (p += 3; p < line + len && *p == '`'; p++) {
            /* void */
        }
        while (p < line + len && isspace((unsigned char) *p)) {
            p++;
        }
        len -= (size_t) (p - line);
        while (len > 0 && isspace((unsigned char) p[len - 1])) {
            len--;
        }

        if (open == NULL) {
            open = line;
            open_line = lineno;
            body = next;
            in_c = (len == 1 && p[0] == 'c');
            continue;
        }

        if (len != 0) {
            continue;           /* "```x" inside a block is its text */
        }

        if (in_c) {
            if (b->n == MAX_BLOCKS) {
                snprintf(b->why, sizeof(b->why), "more than %d blocks",
                         MAX_BLOCKS);
                return -1;
            }

            b->v[b->n].file = file;
            b->v[b->n].number = ++count;
            b->v[b->n].line = open_line;
            b->v[b->n].text = body;
            b->v[b->n].len = (size_t) (line - body);
            b->v[b->n].program = 0;
            b->n++;
        }

        open = NULL;
    }

    if (open != NULL) {
        snprintf(b->why, sizeof(b->why), "%s:%d: a block that is never "
                 "closed", file, open_line);
        return -1;
    }

    return count;
}

/* copies text with its comments, strings and characters left out */
static char *
code_only(const char *text, size_t len)
{
    char    *out = malloc(len + 1), *o = out;
    size_t   i = 0;
    char     q;

    if (out == NULL) {
        return NULL;
    }

    while (i < len) {
        if (text[i] == '/' && i + 1 < len && text[i + 1] == '*') {
            for (i += 2; i + 1 < len
                 && !(text[i] == '*' && text[i + 1] == '/'); i++)
            {
                /* void */
            }
            i += 2;
            *o++ = ' ';

        } else if (text[i] == '/' && i + 1 < len && text[i + 1] == '/') {
            while (i < len && text[i] != '\n') {
                i++;
            }

        } else if (text[i] == '"' || text[i] == '\'') {
            q = text[i++];
            while (i < len && text[i] != q) {
                i += (text[i] == '\\') ? 2 : 1;
            }
            i++;
            *o++ = ' ';

        } else {
            *o++ = text[i++];
        }
    }

    *o = '\0';
    return out;
}

/* is name a whole word of text (not part of a longer identifier)? */
static const char *
find_word(const char *text, const char *name)
{
    size_t       len = strlen(name);
    const char  *p;

    for (p = strstr(text, name); p != NULL; p = strstr(p + 1, name)) {
        if ((p == text || !(isalnum((unsigned char) p[-1]) || p[-1] == '_'))
            && !(isalnum((unsigned char) p[len]) || p[len] == '_'))
        {
            return p;
        }
    }

    return NULL;
}

/* does the block define main(): "main" followed by "(", in code */
static int
defines_main(const block_t *blk)
{
    char        *code = code_only(blk->text, blk->len);
    const char  *p;
    int          found = 0;

    if (code == NULL) {
        return 0;
    }

    for (p = find_word(code, "main"); p != NULL && !found;
         p = find_word(p + 4, "main"))
    {
        const char  *q = p + 4;

        while (isspace((unsigned char) *q)) {
            q++;
        }
        found = (*q == '(');
    }

    free(code);
    return found;
}

/* the .md files of docs/, sorted, then README.md */
static int
list_files(const char *src, files_t *f, char *why, size_t whylen)
{
    glob_t   g;
    char     pattern[4096];
    size_t   i, skip = strlen(src) + 1;
    int      rc;

    snprintf(pattern, sizeof(pattern), "%s/docs/*.md", src);
    rc = glob(pattern, 0, NULL, &g);
    if (rc != 0) {
        snprintf(why, whylen, "no %.200s (glob: %d)", pattern, rc);
        return -1;
    }

    f->n = 0;
    for (i = 0; i < g.gl_pathc && f->n < MAX_FILES - 1; i++) {
        f->v[f->n++] = strdup(g.gl_pathv[i] + skip);
    }
    f->v[f->n++] = strdup("README.md");
    globfree(&g);

    for (i = 0; i < (size_t) f->n; i++) {
        if (f->v[i] == NULL) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
    }

    return 0;
}

static void
free_files(files_t *f)
{
    int  i;

    for (i = 0; i < f->n; i++) {
        free(f->v[i]);
    }
    f->n = 0;
}

/* the whole file, malloc()ed and NUL-terminated; NULL when unreadable */
static char *
slurp(const char *path)
{
    FILE    *fp = fopen(path, "rb");
    char    *text = NULL, *bigger;
    size_t   len = 0, size = 0, n;

    if (fp == NULL) {
        return NULL;
    }

    do {
        if (size - len < 4096) {
            size = size * 2 + 8192;
            bigger = realloc(text, size);
            if (bigger == NULL) {
                free(text);
                fclose(fp);
                return NULL;
            }
            text = bigger;
        }
        n = fread(text + len, 1, size - len - 1, fp);
        len += n;
    } while (n > 0);

    fclose(fp);
    text[len] = '\0';
    return text;
}

/*
 * How many blocks there are, counted when the suite is made (the loop
 * tests need the number then): plain C, no Check, nothing kept. 0 when
 * they cannot be counted; test_blocks_found then says why.
 */
static int
count_blocks(void)
{
    const char  *src = getenv("SLUICE_SRC");
    blocks_t    *b;
    files_t      f = { .n = 0 };
    char        *text, path[4096], why[256];
    int          i, n = 0;

    b = calloc(1, sizeof(blocks_t));
    if (src == NULL || b == NULL || list_files(src, &f, why, sizeof(why)) != 0)
    {
        free(b);
        free_files(&f);
        return 0;
    }

    for (i = 0; i < f.n; i++) {
        snprintf(path, sizeof(path), "%s/%s", src, f.v[i]);
        text = slurp(path);
        if (text == NULL || parse_blocks(f.v[i], text, b) < 0) {
            free(text);
            n = 0;
            break;
        }
        free(text);
        n = b->n;
    }

    free_files(&f);
    free(b);
    return n;
}

static int  blocks_at_start;

/* every block, in the test's memory (sl_proc's); fails the test on error */
static blocks_t *
all_blocks(void)
{
    static blocks_t  b;
    files_t          f = { .n = 0 };
    char             why[256], *text;
    int              i;

    memset(&b, 0, sizeof(b));
    ck_assert_msg(list_files(sl_t_src(), &f, why, sizeof(why)) == 0, "%s",
                  why);

    for (i = 0; i < f.n; i++) {
        text = sl_t_read(sl_t_path(sl_t_src(), f.v[i]));
        ck_assert_msg(text != NULL, "cannot read %s",
                      sl_t_path(sl_t_src(), f.v[i]));
        ck_assert_msg(parse_blocks(sl_t_printf("%s", f.v[i]), text, &b) >= 0,
                      "%s", b.why);
    }

    free_files(&f);

    for (i = 0; i < b.n; i++) {
        b.v[i].program = defines_main(&b.v[i]);
    }

    return &b;
}


/* --- building a block ---------------------------------------------------- */

/* the file's name for block blk: docs/embedding.md, 3 -> embedding-3 */
static char *
block_name(const block_t *blk)
{
    const char  *base = strrchr(blk->file, '/');
    char        *name;
    size_t       len;

    base = base != NULL ? base + 1 : blk->file;
    len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".md") == 0) {
        len -= 3;
    }

    name = sl_t_printf("%.*s-%d", (int) len, base, blk->number);
    return name;
}

static void
build(const block_t *blk, build_e how)
{
    const char  *what = how == BUILD_SHARED ? "shared" : "static";
    char        *dir = sl_t_mkdir(), *name = block_name(blk), *src, *out;
    sl_t_out_t   res;
    sl_t_args_t  words = { .n = 0 }, cc = { .n = 0 };
    int          rc, archive;

    src = sl_t_path(dir, sl_t_printf("%s.c", name));
    out = sl_t_path(dir, blk->program ? name : sl_t_printf("%s.o", name));
    sl_t_writef(dir, sl_t_printf("%s.c", name), "%.*s", (int) blk->len,
                blk->text);

    archive = how == BUILD_STATIC && sl_t_host_sanitized();
    sl_t_host_pkg_config(&words, blk->program, how == BUILD_STATIC);
    if (archive && blk->program) {
        sl_t_host_use_archive(&words);
    }

    sl_t_args_add(&cc, "cc");
    if (how == BUILD_STATIC && !archive && blk->program) {
        sl_t_args_add(&cc, "-static");
    }
    sl_t_host_flags(&cc);
    sl_t_args_split(&cc, SL_T_HOST_CFLAGS);
    if (!blk->program) {
        sl_t_args_add(&cc, "-c");
    }
    sl_t_args_add(&cc, src);
    sl_t_args_add(&cc, "-o");
    sl_t_args_add(&cc, out);
    sl_t_args_append(&cc, &words);

    rc = sl_t_run_in(dir, cc.v, &res, SL_T_HOST_BUILD_MS);
    ck_assert_msg(rc == 0, "%s, block %d (the ```c at line %d: its line N "
                  "is the file's line %d+N), %s %s: exit %d\n%s\n%.*s%s",
                  blk->file, blk->number, blk->line, blk->line, what,
                  blk->program ? "link" : "compile", rc, sl_t_args_text(&cc),
                  MAX_OUTPUT, res.err, res.out);
    ck_assert_msg(sl_t_exists(out), "%s, block %d: %s made no %s", blk->file,
                  blk->number, sl_t_args_text(&cc), out);
}

/* block number i of all, with the count the loop was made for */
static const block_t *
block_at(int i)
{
    blocks_t  *b = all_blocks();

    ck_assert_msg(b->n == blocks_at_start, "%d blocks now, %d when the "
                  "suite was made: the docs changed under the run", b->n,
                  blocks_at_start);
    ck_assert_int_lt(i, b->n);
    return &b->v[i];
}

START_TEST(test_block_shared)
{
    build(block_at(_i), BUILD_SHARED);
}
END_TEST

START_TEST(test_block_static)
{
    build(block_at(_i), BUILD_STATIC);
}
END_TEST


/* --- what is there to build ---------------------------------------------- */

START_TEST(test_blocks_found)
{
    blocks_t  *b = all_blocks();
    int        i, programs = 0, reference = 0;

    ck_assert_msg(b->n >= MIN_BLOCKS, "%d ```c blocks in docs/*.md and "
                  "README.md, fewer than %d: is the extractor broken?",
                  b->n, MIN_BLOCKS);
    ck_assert_msg(b->n == blocks_at_start, "%d blocks now, %d when the suite "
                  "was made", b->n, blocks_at_start);

    for (i = 0; i < b->n; i++) {
        ck_assert_msg(b->v[i].len > 0, "%s, block %d (line %d) is empty",
                      b->v[i].file, b->v[i].number, b->v[i].line);
        programs += b->v[i].program;
        reference += strcmp(b->v[i].file, REFERENCE) == 0;
    }

    /* the guide's examples are programs; the reference's blocks are not */
    ck_assert_msg(programs > 0 && programs < b->n, "%d programs of %d "
                  "blocks: is main() detection broken?", programs, b->n);
    ck_assert_msg(reference > 0, "no ```c block in %s", REFERENCE);
}
END_TEST

/* the names of libsluice.sym: every line that is not a comment */
static int
sym_names(const char **names, int max)
{
    const char  *file = sl_t_path(sl_t_src(), "src/embed/libsluice.sym");
    char        *text = sl_t_read(file), *line, *save, *end;
    int          n = 0;

    ck_assert_msg(text != NULL, "cannot read %s", file);

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        while (isspace((unsigned char) *line)) {
            line++;
        }
        for (end = line + strlen(line);
             end > line && isspace((unsigned char) end[-1]); end--)
        {
            /* void */
        }
        if (end > line && line[0] != '#') {
            ck_assert_int_lt(n, max);
            *end = '\0';
            names[n++] = line;
        }
    }

    return n;
}

/* is name a word of a heading line ("#... name") of text? */
static int
in_heading(const char *text, const char *name)
{
    char  *copy = sl_t_printf("%s", text), *line, *save;

    for (line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
    {
        if (line[0] == '#' && find_word(line, name) != NULL) {
            return 1;
        }
    }

    return 0;
}

START_TEST(test_functions_documented)
{
    const char  *names[MAX_NAMES];
    char        *doc, *missing = "", *unheaded = "";
    int          i, n;

    n = sym_names(names, MAX_NAMES);
    ck_assert_msg(n >= 20, "only %d names in libsluice.sym", n);

    doc = sl_t_read(sl_t_path(sl_t_src(), REFERENCE));
    ck_assert_msg(doc != NULL, "cannot read %s", REFERENCE);

    for (i = 0; i < n; i++) {
        if (find_word(doc, names[i]) == NULL) {
            missing = sl_t_printf("%s %s", missing, names[i]);
        } else if (!in_heading(doc, names[i])) {
            unheaded = sl_t_printf("%s %s", unheaded, names[i]);
        }
    }

    ck_assert_msg(missing[0] == '\0' && unheaded[0] == '\0', "%s does not "
                  "mention:%s; has no heading for:%s", REFERENCE,
                  missing[0] ? missing : " -", unheaded[0] ? unheaded : " -");
}
END_TEST

/* the extractor on a text of every kind of fence */
START_TEST(test_extractor)
{
    static const char  text[] =
        "# x\n"
        "```c\n"
        "int main(void) { return 0; }\n"
        "```\n"
        "```sh\n"
        "```c\n"                /* text of the sh block, not a fence */
        "```\n"
        "  ```c\n"
        "/* main( in a comment */ int f(void); const char *s = \"main(\";\n"
        "  ```\n"
        "```cpp\n"
        "int main() {}\n"
        "```\n"
        "```c  \n"
        "int\n"
        "main (int argc, char **argv)\n"
        "```\n";
    blocks_t  *b = calloc(1, sizeof(blocks_t));

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(parse_blocks("t.md", text, b), 3);
    ck_assert_int_eq(b->v[0].line, 2);
    ck_assert_int_eq(b->v[1].line, 8);
    ck_assert_int_eq(b->v[2].line, 14);
    ck_assert_uint_eq(b->v[0].len, strlen("int main(void) { return 0; }\n"));
    ck_assert(defines_main(&b->v[0]));
    ck_assert(!defines_main(&b->v[1]));
    ck_assert(defines_main(&b->v[2]));

    /* a block never closed is an error, not a block */
    b->n = 0;
    ck_assert_int_eq(parse_blocks("t.md", "```c\nint x;\n", b), -1);
    ck_assert_ptr_nonnull(strstr(b->why, "t.md:1"));
    free(b);
}
END_TEST


static Suite *
embed_docs_suite(void)
{
    Suite  *s = suite_create("embed_docs");
    TCase  *tc;

    blocks_at_start = count_blocks();

    tc = tcase_create("docs");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_extractor);
    tcase_add_test(tc, test_blocks_found);
    tcase_add_test(tc, test_functions_documented);
    suite_add_tcase(s, tc);

    /* one compiler run a test: a fully static link takes seconds */
    tc = tcase_create("build");
    sl_t_fixture(tc);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_block_shared, 0, blocks_at_start);
    tcase_add_loop_test(tc, test_block_static, 0, blocks_at_start);
    suite_add_tcase(s, tc);

    return s;
}

SL_TEST_MAIN(embed_docs_suite)
