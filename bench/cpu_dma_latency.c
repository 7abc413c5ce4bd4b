/*
 * cpu_dma_latency -- ask the kernel for 0 us C-state exit latency (no
 * deep idle states) while benchmarks run.
 *
 *   cpu_dma_latency               hold it until SIGINT, SIGTERM or SIGHUP
 *   cpu_dma_latency CMD [ARG...]  hold it while CMD runs; exit as CMD did
 *
 * The kernel keeps the request only while /dev/cpu_dma_latency is open.
 * On success it says "cpu_dma_latency: held at 0 us" on stderr. When the
 * file cannot be opened or written (not root, no such device) it says so;
 * alone it then exits 1, with a command it runs the command all the same.
 * Signals that stop it are passed on to the command.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DMA_PATH  "/dev/cpu_dma_latency"


static int
dma_hold(void)
{
    int32_t  zero = 0;
    int      fd;

    fd = open(DMA_PATH, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "cpu_dma_latency: cannot open %s: %s; C-states"
                " are not held\n", DMA_PATH, strerror(errno));
        return -1;
    }
    if (write(fd, &zero, sizeof(zero)) != (ssize_t) sizeof(zero)) {
        fprintf(stderr, "cpu_dma_latency: cannot write %s: %s; C-states"
                " are not held\n", DMA_PATH, strerror(errno));
        close(fd);
        return -1;
    }
    fprintf(stderr, "cpu_dma_latency: held at 0 us\n");
    return fd;
}


static int
dma_status(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}


static int
dma_run(char **argv, const sigset_t *set, const sigset_t *old)
{
    pid_t  pid;
    int    sig, status;

    pid = fork();
    if (pid < 0) {
        perror("cpu_dma_latency: fork");
        return 1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, old, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "cpu_dma_latency: %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    for (;;) {
        sig = sigwaitinfo(set, NULL);
        if (sig > 0 && sig != SIGCHLD) {
            kill(pid, sig);
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return dma_status(status);
        }
    }
}


int
main(int argc, char **argv)
{
    sigset_t  set, old;
    int       fd, sig;

    argv++;
    argc--;
    if (argc > 0 && strcmp(argv[0], "--") == 0) {
        argv++;
        argc--;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    fd = dma_hold();
    if (argc > 0) {
        return dma_run(argv, &set, &old);
    }
    if (fd < 0) {
        return 1;
    }
    do {
        sig = sigwaitinfo(&set, NULL);
    } while (sig == SIGCHLD || (sig < 0 && errno == EINTR));
    close(fd);
    return 0;
}
