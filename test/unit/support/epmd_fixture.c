/* A private epmd and a real BEAM node for unit tests; see epmd_fixture.h. */
#include "epmd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "epmd_client.h"

/* ---- helpers ---- */

long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int listen_on(const char *addr, int port, int *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    if (out != NULL) *out = ntohs(sa.sin_port);
    return fd;
}

/* Forks and execs argv[0] (PATH searched) with stdio on /dev/null and, if
 * epmd_port is not NULL, ERL_EPMD_PORT set to it. */
static pid_t spawn(char *const argv[], const char *epmd_port)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (epmd_port != NULL) setenv("ERL_EPMD_PORT", epmd_port, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Stops a child we started: SIGTERM, then SIGKILL after 5 s; *pid becomes -1. */
static void stop_child(pid_t *pid)
{
    if (*pid <= 0) return;
    kill(*pid, SIGTERM);
    for (int k = 0; k < 100; k++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = -1;
            return;
        }
        sleep_ms(50);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = -1;
}

/* ---- the fixture ---- */

/* Waits up to ~5 s for f's epmd to be up and ours: still alive (it exits when
 * another process holds the port) and answering NAMES with no names. */
static bool epmd_is_ours(epmd_fixture *f)
{
    for (int k = 0; k < 100; k++) {
        if (waitpid(f->epmd_pid, NULL, WNOHANG) == f->epmd_pid) {
            f->epmd_pid = -1;
            return false;
        }
        epmd_name none[1];
        size_t n = 99;
        if (epmd_names("127.0.0.1", 500, none, 1, &n) == EPMD_OK && n == 0) return true;
        sleep_ms(50);
    }
    return false;
}

/* Waits up to ~30 s for t1 to register in f's epmd. */
static bool node_registered(epmd_fixture *f)
{
    for (int k = 0; k < 300; k++) {
        if (waitpid(f->beam_pid, NULL, WNOHANG) == f->beam_pid) {
            f->beam_pid = -1;
            return false;
        }
        epmd_node_info info;
        if (epmd_port_please("127.0.0.1", "t1", 500, &info) == EPMD_OK) return true;
        sleep_ms(100);
    }
    return false;
}

int epmd_fixture_start(epmd_fixture *f, const char *addresses)
{
    f->epmd_pid = -1;
    f->beam_pid = -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = listen_on("127.0.0.1", 0, &f->port);
        if (fd < 0) return -1;
        close(fd);
        snprintf(f->port_text, sizeof f->port_text, "%d", f->port);
        setenv("ERL_EPMD_PORT", f->port_text, 1);
        char *const epmd_argv[] = {"epmd",     "-port",           f->port_text,
                                   "-address", (char *)addresses, NULL};
        f->epmd_pid = spawn(epmd_argv, NULL);
        if (!epmd_is_ours(f)) {
            fprintf(stderr, "attempt %d: no epmd of ours on port %d\n", attempt, f->port);
            stop_child(&f->epmd_pid);
            continue;
        }
        char *const erl_argv[] = {"erl",      "-name",       "t1@127.0.0.1", "-setcookie", "x",
                                  "-noshell", "-start_epmd", "false",        NULL};
        f->beam_pid = spawn(erl_argv, f->port_text);
        if (node_registered(f)) return 0;
        fprintf(stderr, "attempt %d: t1 did not register on port %d\n", attempt, f->port);
        epmd_fixture_stop(f);
    }
    return -1;
}

void epmd_fixture_stop(epmd_fixture *f)
{
    stop_child(&f->beam_pid);
    stop_child(&f->epmd_pid);
}

void epmd_fixture_stop_epmd(epmd_fixture *f)
{
    stop_child(&f->epmd_pid);
}

void epmd_fixture_kill(const epmd_fixture *f)
{
    if (f->beam_pid > 0) kill(f->beam_pid, SIGKILL);
    if (f->epmd_pid > 0) kill(f->epmd_pid, SIGKILL);
}
