/*
 * sl_proc.h -- tests that run real processes: sluice itself, configure,
 * helper children; scratch directories and files; waits that wake on
 * kernel events and always end.
 *
 * Install the fixtures in every TCase that uses this library:
 *
 *     tc = tcase_create("run");
 *     sl_t_fixture(tc);
 *     tcase_set_timeout(tc, 30);
 *
 * The checked teardown (sl_t_cleanup) kills every process the test
 * started and every daemon they left behind, waits for them, removes the
 * scratch directories and frees what the library handed out. When an
 * assertion kills a forked Check child before its teardown, its children
 * die with it (PR_SET_PDEATHSIG) and its daemons are reparented to the
 * runner, whose unchecked teardown kills them after the TCase.
 *
 * Memory: every pointer the functions return (paths, file contents,
 * captured output, processes) belongs to the library and lives until
 * sl_t_cleanup(); tests never free anything.
 *
 * Failures of the harness (a fork that fails, a wait that times out) fail
 * the test at the caller's line, with what was waited for and what every
 * process wrote to stderr. Every wait is bounded: timeouts are in
 * milliseconds and are multiplied by CK_TIMEOUT_MULTIPLIER when it is set.
 *
 * Environment (t/run.sh exports it): SLUICE_BIN, the binary; SLUICE_SRC,
 * the source tree; SLUICE_TMP, a scratch directory; SLUICE_WRAPPER, words
 * put before the binary (valgrind) when argv[0] is "sluice".
 *
 * What it does to the test process (Linux): it becomes a child subreaper,
 * so that daemons stay its children; SIGCHLD is kept blocked from the
 * first wait on, so that it never interrupts the test's own system calls
 * (children start with an empty signal mask); sl_t_fixture() raises
 * Check's limit on the length of a failure message. In a child made by
 * sl_t_fork(), call nothing of this library.
 */
#ifndef SL_PROC_H
#define SL_PROC_H

#include <check.h>
#include <sys/types.h>
#include <stddef.h>


typedef struct sl_t_proc_s  sl_t_proc_t;

/* what a process that ran to completion left behind */
typedef struct {
    pid_t    pid;
    char    *out;          /* stdout, NUL-terminated */
    size_t   out_len;
    char    *err;          /* stderr, NUL-terminated */
    size_t   err_len;
    int      status;       /* as waitpid() gives it */
    int      code;         /* the exit code, or -1 when a signal killed it */
    int      signo;        /* the signal that killed it, or 0 */
    int      held_open;    /* a descendant still holds stdout or stderr */
} sl_t_out_t;

/* a condition to wait for: non-zero when it holds */
typedef int (*sl_t_cond_pt)(void *data);


/* --- setup and teardown -------------------------------------------------- */

void sl_t_fixture(TCase *tc);
void sl_t_cleanup(void);
void sl_t_kill_all(void);

/* ms scaled by CK_TIMEOUT_MULTIPLIER */
int sl_t_timeout(int ms);


/* --- the environment, strings and files ---------------------------------- */

#define sl_t_bin()  sl_t_bin_at(__FILE__, __LINE__)
#define sl_t_src()  sl_t_src_at(__FILE__, __LINE__)

/* a fresh directory with conf/ and logs/ under SLUICE_TMP (or /tmp) */
#define sl_t_mkdir()  sl_t_mkdir_at(__FILE__, __LINE__)

/* writes dir/name (name may hold '/'; missing directories are made) */
#define sl_t_write(dir, name, content)                                        \
    sl_t_writef_at(__FILE__, __LINE__, dir, name, "%s", content)
#define sl_t_writef(dir, name, ...)                                           \
    sl_t_writef_at(__FILE__, __LINE__, dir, name, __VA_ARGS__)

/* the whole file, NUL-terminated; NULL when it does not exist */
#define sl_t_read(path)  sl_t_read_at(__FILE__, __LINE__, path)

char *sl_t_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
char *sl_t_path(const char *dir, const char *name);
int sl_t_exists(const char *path);

/*
 * The line of an error log in text that has the standard form
 * "YYYY/MM/DD HH:MM:SS [level] PID#TID: msg", or NULL.
 */
const char *sl_t_log_find(const char *text, const char *level,
    const char *msg);


/* --- running to completion ----------------------------------------------- */

/*
 * Runs argv (found in PATH; "sluice" is SLUICE_BIN behind SLUICE_WRAPPER)
 * with stdin from /dev/null, in the current directory or in dir, and
 * captures its output into out (which may be NULL). A process still
 * running at the timeout is killed and fails the test. Returns the exit
 * code, or 128 + the signal that killed it.
 */
#define sl_t_run(argv, out, ms)                                               \
    sl_t_run_at(__FILE__, __LINE__, NULL, argv, out, ms)
#define sl_t_run_in(dir, argv, out, ms)                                       \
    sl_t_run_at(__FILE__, __LINE__, dir, argv, out, ms)


/* --- processes in the background ----------------------------------------- */

/* starts argv as sl_t_run() does; its output is collected as it comes */
#define sl_t_spawn(argv)  sl_t_spawn_at(__FILE__, __LINE__, NULL, argv)
#define sl_t_spawn_in(dir, argv)  sl_t_spawn_at(__FILE__, __LINE__, dir, argv)

/* runs fn(data) in a child process, which then exits 0 */
#define sl_t_fork(fn, data)  sl_t_fork_at(__FILE__, __LINE__, fn, data)

/* takes charge of a process that someone else started (a daemon) */
#define sl_t_adopt(pid)  sl_t_adopt_at(__FILE__, __LINE__, pid)

pid_t sl_t_pid(sl_t_proc_t *p);
const char *sl_t_stdout(sl_t_proc_t *p);
const char *sl_t_stderr(sl_t_proc_t *p);
int sl_t_running(sl_t_proc_t *p);

#define sl_t_signal(p, signo)  sl_t_signal_at(__FILE__, __LINE__, p, signo)
/*
 * SIGSTOP, and back once the process is stopped: what reaches its sockets
 * meanwhile is all there when sl_t_signal(p, SIGCONT) lets it go on, for
 * one iteration of its loop to find together.
 */
#define sl_t_freeze(p)  sl_t_freeze_at(__FILE__, __LINE__, p)
void sl_t_freeze_at(const char *file, int line, sl_t_proc_t *p);


/* --- waiting ------------------------------------------------------------- */

/*
 * Waits until cond(data) holds and returns 0, or returns -1 at the
 * timeout. The condition is checked again whenever a process writes or
 * exits and, when path is given, whenever an entry of the directory of
 * path changes (inotify). With no path, and where inotify is missing, it
 * is also checked every few milliseconds.
 */
int sl_t_wait_for(sl_t_cond_pt cond, void *data, const char *path,
    int timeout_ms);

/* these fail the test at the timeout */

/* until path exists and, unless needle is NULL, contains needle */
#define sl_t_wait_file(path, needle, ms)                                      \
    sl_t_wait_file_at(__FILE__, __LINE__, path, needle, ms)
#define sl_t_wait_gone(path, ms)                                              \
    sl_t_wait_gone_at(__FILE__, __LINE__, path, ms)
/* until path holds n lines at least (a line is written whole); its text */
#define sl_t_wait_lines(path, n, ms)                                          \
    sl_t_wait_lines_at(__FILE__, __LINE__, path, n, ms)
/* until the file holds a whole line with a pid; returns the pid */
#define sl_t_wait_pid_file(path, ms)                                          \
    sl_t_wait_pid_file_at(__FILE__, __LINE__, path, ms)
/* until stdout or stderr of p contains needle */
#define sl_t_wait_output(p, needle, ms)                                       \
    sl_t_wait_output_at(__FILE__, __LINE__, p, needle, ms)
/* until p exits; returns its waitpid() status (-1: not our child) */
#define sl_t_wait_exit(p, ms)  sl_t_wait_exit_at(__FILE__, __LINE__, p, ms)

/* "exited with 1", "killed by signal 11 (Segmentation fault)" */
const char *sl_t_status_text(int status);


/* --- what the macros call ------------------------------------------------ */

const char *sl_t_bin_at(const char *file, int line);
const char *sl_t_src_at(const char *file, int line);
char *sl_t_mkdir_at(const char *file, int line);
void sl_t_writef_at(const char *file, int line, const char *dir,
    const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
char *sl_t_read_at(const char *file, int line, const char *path);
int sl_t_run_at(const char *file, int line, const char *dir,
    char *const argv[], sl_t_out_t *out, int timeout_ms);
sl_t_proc_t *sl_t_spawn_at(const char *file, int line, const char *dir,
    char *const argv[]);
sl_t_proc_t *sl_t_fork_at(const char *file, int line, void (*fn)(void *),
    void *data);
sl_t_proc_t *sl_t_adopt_at(const char *file, int line, pid_t pid);
void sl_t_signal_at(const char *file, int line, sl_t_proc_t *p, int signo);
void sl_t_wait_file_at(const char *file, int line, const char *path,
    const char *needle, int timeout_ms);
char *sl_t_wait_lines_at(const char *file, int line, const char *path,
    int n, int timeout_ms);
void sl_t_wait_gone_at(const char *file, int line, const char *path,
    int timeout_ms);
pid_t sl_t_wait_pid_file_at(const char *file, int line, const char *path,
    int timeout_ms);
void sl_t_wait_output_at(const char *file, int line, sl_t_proc_t *p,
    const char *needle, int timeout_ms);
int sl_t_wait_exit_at(const char *file, int line, sl_t_proc_t *p,
    int timeout_ms);

#endif /* SL_PROC_H */
