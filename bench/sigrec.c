/* bench/sigrec.c: the `cmd` of the helper in bench.py's rotation part. On each SIGUSR1 it
 * appends the time of arrival (CLOCK_REALTIME, ns since the epoch) and a newline to FILE,
 * from the handler itself: clock_gettime and write are async-signal-safe, and the digits are
 * formatted by hand. It waits in pause() until a signal with its default action (SIGTERM)
 * ends it. Usage: sigrec FILE */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int out = -1;

static void on_usr1(int sig) {
    struct timespec t;
    char buf[32];
    int i = sizeof buf;
    (void)sig;
    clock_gettime(CLOCK_REALTIME, &t);
    unsigned long long ns = (unsigned long long)t.tv_sec * 1000000000ULL + t.tv_nsec;
    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + ns % 10);
        ns /= 10;
    } while (ns);
    (void)!write(out, buf + i, sizeof buf - i);
}

int main(int argc, char **argv) {
    struct sigaction sa;
    if (argc != 2) return 2;
    out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0) return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, 0) != 0) return 1;
    for (;;) pause();
}
