/*
 * sl_proc.c -- running real processes from tests; see sl_proc.h.
 *
 * One loop drives every wait (sl_t_poll_round): it polls the output pipes
 * of the processes the test owns, a signalfd for SIGCHLD, and an inotify
 * descriptor while the wait is about a file; it collects output and reaps
 * what has exited, and the caller checks its condition again. A short
 * tick is used only where the kernel gives no event: for a process that
 * is not our child, without signalfd or inotify, or for a condition the
 * caller computes.
 *
 * SIGCHLD is blocked while we wait, so it is never delivered: it cannot
 * interrupt the test's own system calls. (Not pidfds: valgrind 3.19 does
 * not know pidfd_open(). SIGCHLD covers daemons too: we are a subreaper.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sl_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#define SL_T_LINUX  1
#else
#define SL_T_LINUX  0
#endif


#define SL_T_TICK      10       /* ms, only where there is no event */
#define SL_T_KILL_MS   10000    /* for a SIGKILLed non-child to go */
#define SL_T_TAIL      400      /* bytes of stderr shown per process */
#define SL_T_MSG       3000     /* what sl_t_fail() says at most */
#define SL_T_MAX_MSG   65536    /* Check aborts the run above (4 kB) */
#define SL_T_READ      8192


typedef struct sl_t_mem_s  sl_t_mem_t;
typedef struct sl_t_dir_s  sl_t_dir_t;

struct sl_t_mem_s {
    sl_t_mem_t    *next;
    max_align_t    data[];
};

struct sl_t_dir_s {
    sl_t_dir_t    *next;
    char          *path;
};

/* a growing string; also the buffer of a pipe */
typedef struct {
    char          *data;
    size_t         len;
    size_t         size;
} sl_t_str_t;

typedef struct {
    int            fd;          /* -1: closed */
    sl_t_str_t     buf;
} sl_t_stream_t;

struct sl_t_proc_s {
    sl_t_proc_t   *next;
    const char    *name;
    pid_t          pid;
    int            status;      /* -1: unknown (not our child) */
    unsigned       child:1;     /* ours to waitpid() */
    unsigned       exited:1;
    unsigned       background:1;
    sl_t_stream_t  out[2];      /* stdout, stderr */
};

typedef struct {
    const char    *path;
    const char    *needle;
    pid_t          pid;
} sl_t_file_cond_t;

/* what one pollfd of a round stands for */
typedef struct {
    sl_t_proc_t   *proc;
    int            what;        /* 0, 1: its stream; 2: a wake-up */
} sl_t_source_t;


/* the state of the process that owns it; a forked child starts afresh */
static struct {
    pid_t          owner;
    sl_t_mem_t    *mem;
    sl_t_proc_t   *procs;
    sl_t_dir_t    *dirs;
    int            sigchld;     /* a signalfd, or -1 */
} sl_t;


static void sl_t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static void sl_t_str_cat(sl_t_str_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sl_t_child(pid_t parent, const char *dir, int out, int err,
    char **args, void (*fn)(void *), void *data) __attribute__((noreturn));


/* --- state, memory, strings ---------------------------------------------- */

static void
sl_t_init(void)
{
    static int  registered;

    if (sl_t.owner == getpid()) {
        return;
    }

    /* inherited from the process that forked us: not ours to free */
    memset(&sl_t, 0, sizeof(sl_t));
    sl_t.owner = getpid();
    sl_t.sigchld = -1;

#if SL_T_LINUX
    /* daemons that our children leave behind become our children */
    (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif

    if (!registered) {
        registered = 1;
        (void) atexit(sl_t_kill_all);
    }
}


static void
sl_t_oom(void)
{
    ck_abort_msg("sl_proc: out of memory");
}


static void *
sl_t_alloc(size_t n)
{
    sl_t_mem_t  *m;

    sl_t_init();

    m = calloc(1, sizeof(sl_t_mem_t) + n);
    if (m == NULL) {
        sl_t_oom();
    }

    m->next = sl_t.mem;
    sl_t.mem = m;
    return m->data;
}


static char *
sl_t_strndup(const char *s, size_t n)
{
    char  *p = sl_t_alloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}


static void
sl_t_str_reserve(sl_t_str_t *s, size_t more)
{
    size_t  size;
    char   *p;

    if (s->size - s->len > more) {
        return;
    }

    size = s->size ? s->size : 256;
    while (size - s->len <= more) {
        size *= 2;
    }

    p = realloc(s->data, size);
    if (p == NULL) {
        sl_t_oom();
    }

    s->data = p;
    s->size = size;
}


static void
sl_t_str_vcat(sl_t_str_t *s, const char *fmt, va_list args)
{
    va_list  copy;
    int      n;

    va_copy(copy, args);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);

    if (n < 0) {
        return;
    }

    sl_t_str_reserve(s, (size_t) n);
    (void) vsnprintf(s->data + s->len, s->size - s->len, fmt, args);
    s->len += (size_t) n;
}


static void
sl_t_str_cat(sl_t_str_t *s, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    sl_t_str_vcat(s, fmt, args);
    va_end(args);
}


/* the string in the arena; s is freed */
static char *
sl_t_str_keep(sl_t_str_t *s)
{
    char  *p = sl_t_strndup(s->data ? s->data : "", s->len);

    free(s->data);
    memset(s, 0, sizeof(*s));
    return p;
}


char *
sl_t_printf(const char *fmt, ...)
{
    sl_t_str_t  s = { NULL, 0, 0 };
    va_list     args;

    va_start(args, fmt);
    sl_t_str_vcat(&s, fmt, args);
    va_end(args);

    return sl_t_str_keep(&s);
}


char *
sl_t_path(const char *dir, const char *name)
{
    return sl_t_printf("%s/%s", dir, name);
}


int
sl_t_timeout(int ms)
{
    const char  *env = getenv("CK_TIMEOUT_MULTIPLIER");
    double       k;

    k = env != NULL ? strtod(env, NULL) : 1.0;
    if (k < 1.0) {
        k = 1.0;
    }

    return k * ms > INT32_MAX ? INT32_MAX : (int) (k * ms);
}


static int64_t
sl_t_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* --- failing with the whole story ---------------------------------------- */

const char *
sl_t_status_text(int status)
{
    if (status == -1) {
        return "exited";
    }

    if (WIFSIGNALED(status)) {
        return sl_t_printf("killed by signal %d (%s)", WTERMSIG(status),
                           strsignal(WTERMSIG(status)));
    }

    return sl_t_printf("exited with %d", WEXITSTATUS(status));
}


static const char *
sl_t_state_text(sl_t_proc_t *p)
{
    return p->exited ? sl_t_status_text(p->status) : "running";
}


static void
sl_t_report(sl_t_str_t *s)
{
    sl_t_stream_t  *err;
    sl_t_proc_t    *p;
    size_t          from;

    for (p = sl_t.procs; p != NULL; p = p->next) {
        if (p->exited && !p->background) {
            continue;
        }

        err = &p->out[1];
        from = err->buf.len > SL_T_TAIL ? err->buf.len - SL_T_TAIL : 0;

        sl_t_str_cat(s, "\n-- process %d (%s), %s; stderr%s:\n%.*s",
                     (int) p->pid, p->name, sl_t_state_text(p),
                     from ? " (the end)" : "", (int) (err->buf.len - from),
                     err->buf.data ? err->buf.data + from : "");
    }
}


static void
sl_t_fail(const char *file, int line, const char *fmt, ...)
{
    sl_t_str_t  s = { NULL, 0, 0 };
    va_list     args;
    char       *msg;

    sl_t_init();

    va_start(args, fmt);
    sl_t_str_vcat(&s, fmt, args);
    va_end(args);

    if (s.len > SL_T_MSG / 2) {
        s.len = SL_T_MSG / 2;
        sl_t_str_cat(&s, "...");
    }

    sl_t_report(&s);

    if (s.len > SL_T_MSG) {
        s.len = SL_T_MSG;
        sl_t_str_cat(&s, "...");
    }

    msg = sl_t_str_keep(&s);

    /* a forked Check child ends without its teardown: clean up now */
    sl_t_kill_all();

    _ck_assert_failed(file, line, "Failed", "%s", msg);
}


/* --- the environment and files ------------------------------------------- */

static const char *
sl_t_env(const char *file, int line, const char *name)
{
    const char  *value = getenv(name);

    if (value == NULL || *value == '\0') {
        sl_t_fail(file, line, "%s is not set: run the suites through "
                  "t/run.sh (make test)", name);
    }

    return value;
}


const char *
sl_t_bin_at(const char *file, int line)
{
    const char  *bin = sl_t_env(file, line, "SLUICE_BIN");

    if (access(bin, X_OK) == -1) {
        sl_t_fail(file, line, "SLUICE_BIN \"%s\": %s", bin, strerror(errno));
    }

    return bin;
}


const char *
sl_t_src_at(const char *file, int line)
{
    return sl_t_env(file, line, "SLUICE_SRC");
}


int
sl_t_exists(const char *path)
{
    struct stat  st;

    return lstat(path, &st) == 0;
}


static void
sl_t_mkdir_one(const char *file, int line, const char *path)
{
    if (mkdir(path, 0755) == -1 && errno != EEXIST) {
        sl_t_fail(file, line, "mkdir(\"%s\"): %s", path, strerror(errno));
    }
}


char *
sl_t_mkdir_at(const char *file, int line)
{
    const char  *base = getenv("SLUICE_TMP");
    sl_t_dir_t  *d;
    char        *dir;

    if (base != NULL && *base != '\0') {
        sl_t_mkdir_one(file, line, base);
        dir = sl_t_printf("%s/t.XXXXXX", base);
    } else {
        dir = sl_t_printf("/tmp/sluice-t.XXXXXX");
    }

    if (mkdtemp(dir) == NULL) {
        sl_t_fail(file, line, "mkdtemp(\"%s\"): %s", dir, strerror(errno));
    }

    d = sl_t_alloc(sizeof(sl_t_dir_t));
    d->path = dir;
    d->next = sl_t.dirs;
    sl_t.dirs = d;

    sl_t_mkdir_one(file, line, sl_t_path(dir, "conf"));
    sl_t_mkdir_one(file, line, sl_t_path(dir, "logs"));
    return dir;
}


/* the directories of name below dir */
static void
sl_t_mkdir_parents(const char *file, int line, const char *dir,
    const char *name)
{
    const char  *slash;

    for (slash = strchr(name, '/'); slash != NULL;
         slash = strchr(slash + 1, '/'))
    {
        sl_t_mkdir_one(file, line, sl_t_printf("%s/%.*s", dir,
                                               (int) (slash - name), name));
    }
}


static int
sl_t_write_all(int fd, const char *p, size_t n)
{
    ssize_t  w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w == -1 && errno == EINTR) {
            continue;
        }
        if (w == -1) {
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }

    return 0;
}


void
sl_t_writef_at(const char *file, int line, const char *dir,
    const char *name, const char *fmt, ...)
{
    sl_t_str_t   s = { NULL, 0, 0 };
    va_list      args;
    char        *path, *content;
    int          fd;

    va_start(args, fmt);
    sl_t_str_vcat(&s, fmt, args);
    va_end(args);
    content = sl_t_str_keep(&s);

    sl_t_mkdir_parents(file, line, dir, name);
    path = sl_t_path(dir, name);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        sl_t_fail(file, line, "open(\"%s\"): %s", path, strerror(errno));
    }

    if (sl_t_write_all(fd, content, strlen(content)) == -1) {
        sl_t_fail(file, line, "write(\"%s\"): %s", path, strerror(errno));
    }

    if (close(fd) == -1) {
        sl_t_fail(file, line, "close(\"%s\"): %s", path, strerror(errno));
    }
}


/* the file in s (malloc'ed); -1 and errno on failure */
static int
sl_t_slurp(const char *path, sl_t_str_t *s)
{
    ssize_t  n;
    int      fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    for ( ;; ) {
        sl_t_str_reserve(s, SL_T_READ);
        n = read(fd, s->data + s->len, s->size - s->len - 1);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        s->len += (size_t) n;
    }

    err = errno;
    s->data[s->len] = '\0';
    (void) close(fd);

    errno = err;
    return n == -1 ? -1 : 0;
}


char *
sl_t_read_at(const char *file, int line, const char *path)
{
    sl_t_str_t  s = { NULL, 0, 0 };
    int         err;

    if (sl_t_slurp(path, &s) == -1) {
        err = errno;
        free(s.data);
        if (err == ENOENT) {
            return NULL;
        }
        sl_t_fail(file, line, "read \"%s\": %s", path, strerror(err));
    }

    return sl_t_str_keep(&s);
}


/* --- processes ----------------------------------------------------------- */

/* SIGCHLD blocked, so that it stays pending and its signalfd wakes us */
static void
sl_t_catch_sigchld(void)
{
#if SL_T_LINUX
    sigset_t  set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    (void) sigprocmask(SIG_BLOCK, &set, NULL);

    if (sl_t.sigchld == -1) {
        sl_t.sigchld = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    }
#endif
}


static void
sl_t_exited(sl_t_proc_t *p, int status)
{
    p->exited = 1;
    p->status = status;
}


/* notes an exit without blocking */
static void
sl_t_update(sl_t_proc_t *p)
{
    pid_t  r;
    int    status;

    if (p->exited) {
        return;
    }

    if (p->child) {
        r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            sl_t_exited(p, status);
            return;
        }
        if (r == 0 || errno != ECHILD) {
            return;
        }
        p->child = 0;
    }

    /* not ours: gone when the pid is (a zombie still counts) */
    if (kill(p->pid, 0) == -1 && errno == ESRCH) {
        sl_t_exited(p, -1);
    }
}


static sl_t_proc_t *
sl_t_proc_new(pid_t pid, const char *name)
{
    sl_t_proc_t  *p = sl_t_alloc(sizeof(sl_t_proc_t));

    p->pid = pid;
    p->name = name;
    p->child = 1;
    p->status = -1;
    p->out[0].fd = -1;
    p->out[1].fd = -1;

    p->next = sl_t.procs;
    sl_t.procs = p;
    return p;
}


/* argv with "sluice" made SLUICE_BIN behind the words of SLUICE_WRAPPER */
static char **
sl_t_argv(const char *file, int line, char *const argv[])
{
    const char   *wrapper = getenv("SLUICE_WRAPPER");
    char        **args, *words, *word, *save;
    size_t        n, w;

    if (argv == NULL || argv[0] == NULL) {
        sl_t_fail(file, line, "an empty argv");
    }

    for (n = 0; argv[n] != NULL; n++) {
        /* void */
    }

    if (strcmp(argv[0], "sluice") != 0) {
        args = sl_t_alloc((n + 1) * sizeof(char *));
        memcpy(args, argv, n * sizeof(char *));
        return args;
    }

    words = sl_t_printf("%s", wrapper != NULL ? wrapper : "");
    args = sl_t_alloc((n + strlen(words) / 2 + 2) * sizeof(char *));
    w = 0;

    for (word = strtok_r(words, " \t\n", &save); word != NULL;
         word = strtok_r(NULL, " \t\n", &save))
    {
        args[w++] = word;
    }

    args[w++] = (char *) sl_t_bin_at(file, line);
    memcpy(&args[w], &argv[1], (n - 1) * sizeof(char *));
    return args;
}


static char *
sl_t_cmdline(char *const argv[])
{
    sl_t_str_t  s = { NULL, 0, 0 };
    size_t      i;

    for (i = 0; argv[i] != NULL; i++) {
        sl_t_str_cat(&s, i ? " %s" : "%s", argv[i]);
    }

    return sl_t_str_keep(&s);
}


static void
sl_t_child_msg(const char *what, const char *arg)
{
    sl_t_str_t  s = { NULL, 0, 0 };

    sl_t_str_cat(&s, "sl_proc: %s(\"%s\"): %s\n", what, arg, strerror(errno));
    (void) sl_t_write_all(STDERR_FILENO, s.data, s.len);
}


/* in the child: the standard descriptors, clean signals, then run */
static void
sl_t_child(pid_t parent, const char *dir, int out, int err, char **args,
    void (*fn)(void *), void *data)
{
    static const int  sigs[] = {
        SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2,
        SIGCHLD, SIGALRM
    };
    sigset_t          none;
    size_t            i;
    int               null;

#if SL_T_LINUX
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent) {
        _exit(126);
    }
#else
    (void) parent;
#endif

    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        (void) signal(sigs[i], SIG_DFL);
    }
    sigemptyset(&none);
    (void) sigprocmask(SIG_SETMASK, &none, NULL);

    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null == -1 || dup2(null, STDIN_FILENO) == -1
        || dup2(out, STDOUT_FILENO) == -1 || dup2(err, STDERR_FILENO) == -1)
    {
        _exit(126);
    }

    if (dir != NULL && chdir(dir) == -1) {
        sl_t_child_msg("chdir", dir);
        _exit(126);
    }

    if (fn != NULL) {
        fn(data);
        _exit(0);
    }

    execvp(args[0], args);
    sl_t_child_msg("execvp", args[0]);
    _exit(127);
}


static void
sl_t_pipe(const char *file, int line, int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) == -1) {
        sl_t_fail(file, line, "pipe2(): %s", strerror(errno));
    }

    /* our end never blocks */
    (void) fcntl(fds[0], F_SETFL, O_NONBLOCK);
}


static sl_t_proc_t *
sl_t_start(const char *file, int line, const char *dir, char *const argv[],
    void (*fn)(void *), void *data)
{
    sl_t_proc_t  *p;
    char        **args = NULL;
    pid_t         parent, pid;
    int           out[2], err[2];

    sl_t_init();

    if (argv != NULL) {
        args = sl_t_argv(file, line, argv);
    }

    sl_t_pipe(file, line, out);
    sl_t_pipe(file, line, err);

    parent = getpid();
    (void) fflush(NULL);        /* nothing buffered is written twice */

    pid = fork();
    if (pid == -1) {
        sl_t_fail(file, line, "fork(): %s", strerror(errno));
    }

    if (pid == 0) {
        sl_t_child(parent, dir, out[1], err[1], args, fn, data);
    }

    (void) close(out[1]);
    (void) close(err[1]);

    p = sl_t_proc_new(pid, args != NULL ? args[0] : "sl_t_fork()");
    p->out[0].fd = out[0];
    p->out[1].fd = err[0];
    return p;
}


sl_t_proc_t *
sl_t_spawn_at(const char *file, int line, const char *dir,
    char *const argv[])
{
    sl_t_proc_t  *p = sl_t_start(file, line, dir, argv, NULL, NULL);

    p->background = 1;
    return p;
}


sl_t_proc_t *
sl_t_fork_at(const char *file, int line, void (*fn)(void *), void *data)
{
    sl_t_proc_t  *p = sl_t_start(file, line, NULL, NULL, fn, data);

    p->background = 1;
    return p;
}


sl_t_proc_t *
sl_t_adopt_at(const char *file, int line, pid_t pid)
{
    sl_t_proc_t  *p;

    sl_t_init();

    if (pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH)) {
        sl_t_fail(file, line, "there is no process %d to adopt", (int) pid);
    }

    p = sl_t_proc_new(pid, sl_t_printf("pid %d", (int) pid));
    p->background = 1;
    sl_t_update(p);
    return p;
}


pid_t
sl_t_pid(sl_t_proc_t *p)
{
    return p->pid;
}


const char *
sl_t_stdout(sl_t_proc_t *p)
{
    return p->out[0].buf.data ? p->out[0].buf.data : "";
}


const char *
sl_t_stderr(sl_t_proc_t *p)
{
    return p->out[1].buf.data ? p->out[1].buf.data : "";
}


int
sl_t_running(sl_t_proc_t *p)
{
    sl_t_update(p);
    return !p->exited;
}


void
sl_t_signal_at(const char *file, int line, sl_t_proc_t *p, int signo)
{
    sl_t_update(p);

    if (p->exited) {
        sl_t_fail(file, line, "signal %d: process %d (%s) has %s", signo,
                  (int) p->pid, p->name, sl_t_state_text(p));
    }

    if (kill(p->pid, signo) == -1) {
        sl_t_fail(file, line, "signal %d to process %d (%s): %s", signo,
                  (int) p->pid, p->name, strerror(errno));
    }
}


/* the process is stopped (state T in /proc/PID/stat) */
static int
sl_t_is_stopped(void *data)
{
    char  *stat, *st;

    stat = sl_t_read(sl_t_printf("/proc/%d/stat", (int) *(pid_t *) data));
    st = stat != NULL ? strrchr(stat, ')') : NULL;
    return st != NULL && st[1] == ' ' && (st[2] == 'T' || st[2] == 't');
}

void
sl_t_freeze_at(const char *file, int line, sl_t_proc_t *p)
{
    sl_t_signal_at(file, line, p, SIGSTOP);

    if (sl_t_wait_for(sl_t_is_stopped, &p->pid, NULL, sl_t_timeout(20000))
        != 0)
    {
        sl_t_fail(file, line, "process %d (%s) did not stop", (int) p->pid,
                  p->name);
    }
}


/* --- the event loop ------------------------------------------------------ */

/* reads what is there; closes the stream at the end of file */
static void
sl_t_stream_read(sl_t_stream_t *s)
{
    ssize_t  n;

    while (s->fd != -1) {
        sl_t_str_reserve(&s->buf, SL_T_READ);
        n = read(s->fd, s->buf.data + s->buf.len,
                 s->buf.size - s->buf.len - 1);

        if (n > 0) {
            s->buf.len += (size_t) n;
            s->buf.data[s->buf.len] = '\0';
            continue;
        }

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1 && errno == EAGAIN) {
            return;
        }

        (void) close(s->fd);
        s->fd = -1;
    }
}


/* an inotify or a signalfd event only means "look again" */
static void
sl_t_drain(int fd)
{
    char  buf[4096];

    while (read(fd, buf, sizeof(buf)) > 0) {
        /* void */
    }
}


static size_t
sl_t_sources(struct pollfd *pfd, sl_t_source_t *src, int ino, int *tick)
{
    sl_t_proc_t  *p;
    size_t        n = 0;
    int           i;

    for (p = sl_t.procs; p != NULL; p = p->next) {
        for (i = 0; i < 2; i++) {
            if (p->out[i].fd != -1) {
                pfd[n] = (struct pollfd) { p->out[i].fd, POLLIN, 0 };
                src[n++] = (sl_t_source_t) { p, i };
            }
        }

        if (!p->exited && (!p->child || sl_t.sigchld == -1)) {
            *tick = 1;          /* no event for its exit */
        }
    }

    if (sl_t.sigchld != -1) {
        pfd[n] = (struct pollfd) { sl_t.sigchld, POLLIN, 0 };
        src[n++] = (sl_t_source_t) { NULL, 2 };
    }

    if (ino != -1) {
        pfd[n] = (struct pollfd) { ino, POLLIN, 0 };
        src[n++] = (sl_t_source_t) { NULL, 2 };
    }

    return n;
}


/* waits up to ms for anything to happen, then takes it in */
static void
sl_t_poll_round(int ino, int ms)
{
    struct pollfd  *pfd;
    sl_t_source_t  *src;
    sl_t_proc_t    *p;
    size_t          n, i;
    int             tick = 0;

    for (n = 2, p = sl_t.procs; p != NULL; p = p->next) {
        n += 2;
    }

    pfd = calloc(n, sizeof(struct pollfd));
    src = calloc(n, sizeof(sl_t_source_t));
    if (pfd == NULL || src == NULL) {
        sl_t_oom();
    }

    n = sl_t_sources(pfd, src, ino, &tick);

    if (tick && ms > SL_T_TICK) {
        ms = SL_T_TICK;
    }

    if (poll(pfd, n, ms) > 0) {
        for (i = 0; i < n; i++) {
            if (pfd[i].revents == 0) {
                continue;
            }

            if (src[i].what < 2) {
                sl_t_stream_read(&src[i].proc->out[src[i].what]);
            } else {
                sl_t_drain(pfd[i].fd);
            }
        }
    }

    /* cheap, and the only way to notice a non-child's exit */
    for (p = sl_t.procs; p != NULL; p = p->next) {
        sl_t_update(p);
    }

    free(pfd);
    free(src);
}


/* an inotify descriptor on the directory of path, or -1 */
static int
sl_t_watch(const char *path)
{
#if SL_T_LINUX
    const char  *slash = strrchr(path, '/');
    char        *dir;
    int          fd;

    if (slash == NULL) {
        dir = ".";
    } else if (slash == path) {
        dir = "/";
    } else {
        dir = sl_t_strndup(path, (size_t) (slash - path));
    }

    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    if (inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MODIFY
                          | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO
                          | IN_ATTRIB) == -1)
    {
        (void) close(fd);
        return -1;
    }

    return fd;
#else
    (void) path;
    return -1;
#endif
}


static int
sl_t_wait(sl_t_cond_pt cond, void *data, const char *path, int tick,
    int timeout_ms)
{
    int64_t  deadline, left;
    int      ino = -1, rc;

    sl_t_init();
    sl_t_catch_sigchld();       /* before the first look at the processes */

    deadline = sl_t_now() + sl_t_timeout(timeout_ms);

    if (path != NULL) {
        ino = sl_t_watch(path);
        if (ino == -1) {
            tick = SL_T_TICK;
        }
    }

    for ( ;; ) {
        if (cond(data)) {
            rc = 0;
            break;
        }

        left = deadline - sl_t_now();
        if (left <= 0) {
            rc = -1;
            break;
        }

        if (tick > 0 && left > tick) {
            left = tick;
        }

        sl_t_poll_round(ino, (int) left);
    }

    if (ino != -1) {
        (void) close(ino);
    }

    return rc;
}


int
sl_t_wait_for(sl_t_cond_pt cond, void *data, const char *path,
    int timeout_ms)
{
    return sl_t_wait(cond, data, path, path != NULL ? 0 : SL_T_TICK,
                     timeout_ms);
}


/* --- waiting for files --------------------------------------------------- */

static int
sl_t_cond_file(void *data)
{
    sl_t_file_cond_t  *c = data;
    sl_t_str_t         s = { NULL, 0, 0 };
    int                yes;

    if (c->needle == NULL) {
        return sl_t_exists(c->path);
    }

    yes = sl_t_slurp(c->path, &s) == 0 && strstr(s.data, c->needle) != NULL;
    free(s.data);
    return yes;
}


typedef struct {
    const char    *path;
    int            lines;       /* at least */
} sl_t_lines_cond_t;

static int
sl_t_cond_lines(void *data)
{
    sl_t_lines_cond_t  *c = data;
    sl_t_str_t          s = { NULL, 0, 0 };
    size_t              i;
    int                 n = 0;

    if (sl_t_slurp(c->path, &s) == 0) {
        for (i = 0; i < s.len; i++) {
            n += s.data[i] == '\n';
        }
    }

    free(s.data);
    return n >= c->lines;
}


static int
sl_t_cond_gone(void *data)
{
    sl_t_file_cond_t  *c = data;

    return !sl_t_exists(c->path);
}


/* a whole line of digits: a pid file that is written out */
static int
sl_t_cond_pid(void *data)
{
    sl_t_file_cond_t  *c = data;
    sl_t_str_t         s = { NULL, 0, 0 };
    char              *end;
    long               pid = 0;

    if (sl_t_slurp(c->path, &s) == 0 && s.len > 1
        && s.data[s.len - 1] == '\n')
    {
        errno = 0;
        pid = strtol(s.data, &end, 10);
        if (errno != 0 || end != s.data + s.len - 1 || pid <= 0) {
            pid = 0;
        }
    }

    free(s.data);
    c->pid = (pid_t) pid;
    return pid > 0;
}


static const char *
sl_t_file_text(const char *path)
{
    sl_t_str_t  s = { NULL, 0, 0 };
    int         err;

    if (sl_t_slurp(path, &s) == -1) {
        err = errno;
        free(s.data);
        return sl_t_printf("(%s)", strerror(err));
    }

    return sl_t_str_keep(&s);
}


void
sl_t_wait_file_at(const char *file, int line, const char *path,
    const char *needle, int timeout_ms)
{
    sl_t_file_cond_t  c = { path, needle, 0 };

    if (sl_t_wait(sl_t_cond_file, &c, path, 0, timeout_ms) == 0) {
        return;
    }

    if (needle == NULL) {
        sl_t_fail(file, line, "no \"%s\" after %d ms", path,
                  sl_t_timeout(timeout_ms));
    }

    sl_t_fail(file, line, "no \"%s\" in \"%s\" after %d ms; it holds:\n%s",
              needle, path, sl_t_timeout(timeout_ms), sl_t_file_text(path));
}


char *
sl_t_wait_lines_at(const char *file, int line, const char *path, int n,
    int timeout_ms)
{
    sl_t_lines_cond_t  c = { path, n };

    if (sl_t_wait(sl_t_cond_lines, &c, path, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "\"%s\" did not get %d lines after %d ms; it "
                  "holds:\n%s", path, n, sl_t_timeout(timeout_ms),
                  sl_t_file_text(path));
    }

    return sl_t_read_at(file, line, path);
}


void
sl_t_wait_gone_at(const char *file, int line, const char *path,
    int timeout_ms)
{
    sl_t_file_cond_t  c = { path, NULL, 0 };

    if (sl_t_wait(sl_t_cond_gone, &c, path, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "\"%s\" still exists after %d ms", path,
                  sl_t_timeout(timeout_ms));
    }
}


pid_t
sl_t_wait_pid_file_at(const char *file, int line, const char *path,
    int timeout_ms)
{
    sl_t_file_cond_t  c = { path, NULL, 0 };

    if (sl_t_wait(sl_t_cond_pid, &c, path, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "no pid in \"%s\" after %d ms; it holds:\n%s",
                  path, sl_t_timeout(timeout_ms), sl_t_file_text(path));
    }

    return c.pid;
}


/* --- waiting for processes ----------------------------------------------- */

typedef struct {
    sl_t_proc_t   *proc;
    const char    *needle;
} sl_t_output_cond_t;


static int
sl_t_cond_output(void *data)
{
    sl_t_output_cond_t  *c = data;

    return strstr(sl_t_stdout(c->proc), c->needle) != NULL
           || strstr(sl_t_stderr(c->proc), c->needle) != NULL;
}


static int
sl_t_cond_exited(void *data)
{
    sl_t_proc_t  *p = data;

    sl_t_update(p);
    return p->exited;
}


void
sl_t_wait_output_at(const char *file, int line, sl_t_proc_t *p,
    const char *needle, int timeout_ms)
{
    sl_t_output_cond_t  c = { p, needle };

    if (sl_t_wait(sl_t_cond_output, &c, NULL, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "process %d (%s) did not write \"%s\" in %d ms;"
                  " stdout:\n%s", (int) p->pid, p->name, needle,
                  sl_t_timeout(timeout_ms), sl_t_stdout(p));
    }
}


int
sl_t_wait_exit_at(const char *file, int line, sl_t_proc_t *p,
    int timeout_ms)
{
    if (sl_t_wait(sl_t_cond_exited, p, NULL, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "process %d (%s) still runs after %d ms",
                  (int) p->pid, p->name, sl_t_timeout(timeout_ms));
    }

    return p->status;
}


/* --- running to completion ----------------------------------------------- */

static char *
sl_t_stream_copy(sl_t_stream_t *s, size_t *len)
{
    *len = s->buf.len;
    return sl_t_strndup(s->buf.data ? s->buf.data : "", s->buf.len);
}


int
sl_t_run_at(const char *file, int line, const char *dir,
    char *const argv[], sl_t_out_t *out, int timeout_ms)
{
    sl_t_out_t    tmp;
    sl_t_proc_t  *p;

    p = sl_t_start(file, line, dir, argv, NULL, NULL);

    if (sl_t_wait(sl_t_cond_exited, p, NULL, 0, timeout_ms) != 0) {
        sl_t_fail(file, line, "\"%s\" still runs after %d ms",
                  sl_t_cmdline(argv), sl_t_timeout(timeout_ms));
    }

    /* what it wrote is in the pipes now; a descendant may write on */
    sl_t_stream_read(&p->out[0]);
    sl_t_stream_read(&p->out[1]);

    if (out == NULL) {
        out = &tmp;
    }

    out->pid = p->pid;
    out->out = sl_t_stream_copy(&p->out[0], &out->out_len);
    out->err = sl_t_stream_copy(&p->out[1], &out->err_len);
    out->status = p->status;
    out->held_open = p->out[0].fd != -1 || p->out[1].fd != -1;
    out->code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
    out->signo = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;

    return out->code != -1 ? out->code : 128 + out->signo;
}


/* --- error logs ---------------------------------------------------------- */

#define SL_T_LOG_LINE                                                         \
    "^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} "                \
    "\\[([a-z]+)\\] [0-9]+#[0-9]+: "

static int
sl_t_log_line_is(regex_t *re, const char *line, size_t len,
    const char *level, const char *msg)
{
    regmatch_t   m[2];
    char        *copy;
    int          yes;

    copy = strndup(line, len);
    if (copy == NULL) {
        sl_t_oom();
    }

    yes = regexec(re, copy, 2, m, 0) == 0
          && (size_t) (m[1].rm_eo - m[1].rm_so) == strlen(level)
          && strncmp(copy + m[1].rm_so, level, strlen(level)) == 0
          && strcmp(copy + m[0].rm_eo, msg) == 0;

    free(copy);
    return yes;
}


const char *
sl_t_log_find(const char *text, const char *level, const char *msg)
{
    const char  *line, *end, *found = NULL;
    regex_t      re;

    if (text == NULL) {
        return NULL;
    }

    if (regcomp(&re, SL_T_LOG_LINE, REG_EXTENDED) != 0) {
        ck_abort_msg("sl_proc: regcomp() failed");
    }

    for (line = text; *line != '\0' && found == NULL; line = end) {
        end = strchr(line, '\n');
        end = end != NULL ? end + 1 : line + strlen(line);

        if (sl_t_log_line_is(&re, line, (size_t) (end - line)
                             - (end[-1] == '\n'), level, msg))
        {
            found = line;
        }
    }

    regfree(&re);
    return found;
}


/* --- teardown ------------------------------------------------------------ */

#if SL_T_LINUX

/* the parent pid in /proc/PID/stat: "pid (comm) state ppid ..." */
static pid_t
sl_t_ppid_of(const char *pid)
{
    sl_t_str_t   s = { NULL, 0, 0 };
    const char  *p;
    char         path[sizeof("/proc//stat") + NAME_MAX];
    long         ppid = -1;

    (void) snprintf(path, sizeof(path), "/proc/%s/stat", pid);

    if (sl_t_slurp(path, &s) == 0 && (p = strrchr(s.data, ')')) != NULL) {
        if (sscanf(p + 1, " %*c %ld", &ppid) != 1) {
            ppid = -1;
        }
    }

    free(s.data);
    return (pid_t) ppid;
}

#endif


/* SIGKILLs and reaps every child, known or an orphaned daemon */
static void
sl_t_kill_children(void)
{
#if SL_T_LINUX
    struct dirent  *e;
    DIR            *d;
    pid_t           pid;

    d = opendir("/proc");
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9'
            || sl_t_ppid_of(e->d_name) != getpid())
        {
            continue;
        }

        pid = (pid_t) atol(e->d_name);
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) == -1 && errno == EINTR) {
            /* void */
        }
    }

    (void) closedir(d);
#endif
}


void
sl_t_kill_all(void)
{
    sl_t_proc_t  *p;

    if (sl_t.owner != getpid()) {
        return;                 /* not ours: a forked child's copy */
    }

    for (p = sl_t.procs; p != NULL; p = p->next) {
        sl_t_update(p);
        if (!p->exited) {
            (void) kill(p->pid, SIGKILL);
        }
    }

    for (p = sl_t.procs; p != NULL; p = p->next) {
        if (!p->exited && p->child) {
            while (waitpid(p->pid, &p->status, 0) == -1 && errno == EINTR) {
                /* void */
            }
            sl_t_exited(p, p->status);
        }
    }

    sl_t_kill_children();

    for (p = sl_t.procs; p != NULL; p = p->next) {
        if (!p->exited) {
            (void) sl_t_wait(sl_t_cond_exited, p, NULL, 0, SL_T_KILL_MS);
        }
    }
}


static int
sl_t_remove(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;

    (void) remove(path);
    return 0;
}


void
sl_t_cleanup(void)
{
    sl_t_proc_t  *p;
    sl_t_dir_t   *d;
    sl_t_mem_t   *m;
    int           i;

    sl_t_init();
    sl_t_kill_all();

    for (p = sl_t.procs; p != NULL; p = p->next) {
        for (i = 0; i < 2; i++) {
            if (p->out[i].fd != -1) {
                (void) close(p->out[i].fd);
            }
            free(p->out[i].buf.data);
        }
    }

    for (d = sl_t.dirs; d != NULL; d = d->next) {
        (void) nftw(d->path, sl_t_remove, 16, FTW_DEPTH | FTW_PHYS);
    }

    while (sl_t.mem != NULL) {
        m = sl_t.mem;
        sl_t.mem = m->next;
        free(m);
    }

    sl_t.procs = NULL;
    sl_t.dirs = NULL;
}


static void
sl_t_guard(void)
{
    /* the runner: the daemons of a Check child that died land here */
    sl_t_init();
}


void
sl_t_fixture(TCase *tc)
{
    /* an assertion on a long output must fail the test, not the runner */
    check_set_max_msg_size(SL_T_MAX_MSG);

    tcase_add_unchecked_fixture(tc, sl_t_guard, sl_t_cleanup);
    tcase_add_checked_fixture(tc, NULL, sl_t_cleanup);
}
