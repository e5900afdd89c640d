/* bench/spawn.c: runs one contestant and prints "exit wall_ns cpu_us peak_rss_kb".
 * Peak RSS is the contestant's own VmHWM, read from /proc at its exit (ptrace's
 * PTRACE_EVENT_EXIT stop, before its memory is released): ru_maxrss would also count the
 * launcher's memory from before the exec. The only ptrace stops are the exec and the exit.
 * CPU is user + system of the contestant (wait4). Its stdout goes to /dev/null, its stderr is
 * inherited. Usage: spawn PROGRAM [ARGS...] */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

static long vm_hwm(pid_t pid) {
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    struct timespec a, b;
    struct rusage ru;
    int status;
    long hwm = -1;
    if (argc < 2) return 2;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    waitpid(pid, &status, 0); /* the SIGTRAP of the exec */
    if (WIFSTOPPED(status)) {
        ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT);
        ptrace(PTRACE_CONT, pid, 0, 0);
    }
    for (;;) {
        if (wait4(pid, &status, 0, &ru) < 0) return 3;
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
            hwm = vm_hwm(pid);
            ptrace(PTRACE_CONT, pid, 0, 0);
        } else {
            ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(status));
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%d %lld %lld %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec),
           (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL
               + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
           hwm);
    return 0;
}
