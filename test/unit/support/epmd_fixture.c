/* A private epmd and a real BEAM node for unit tests; see epmd_fixture.h. */
#include "epmd_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
        /* dies with the test, even when the test aborts before teardown */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
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

void child_stop(pid_t *pid)
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

/* A TCP connection to addr:port (IPv4), blocking, CLOEXEC, with send and
 * receive time-outs of timeout_ms; -1 if it cannot be made. */
static int connect_tcp(const char *addr, int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* ---- more epmds ---- */

/* NAMES_REQ to the epmd at addr:port, on the wire (independent of the code
 * under test and of ERL_EPMD_PORT): true when it answers with its port and no
 * names at all. */
static bool epmd_answers_empty(const char *addr, int port)
{
    int fd = connect_tcp(addr, port, 500);
    if (fd < 0) return false;
    static const unsigned char names_req[] = {0, 1, 110};
    unsigned char reply[64];
    size_t got = 0;
    if (send_all(fd, names_req, sizeof names_req)) {
        for (;;) {
            ssize_t r = recv(fd, reply + got, sizeof reply - got, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
            if (got == sizeof reply) break;
        }
    }
    close(fd);
    uint32_t answered = 0;
    if (got == 4) memcpy(&answered, reply, 4);
    return got == 4 && ntohl(answered) == (uint32_t)port;
}

/* Waits up to ~5 s for the epmd child *pid on port to be up and ours: still
 * alive (it exits when another process holds the port) and answering NAMES
 * on 127.0.0.1 (where epmd always listens) with no names. */
static bool epmd_is_ours(pid_t *pid, int port)
{
    for (int k = 0; k < 100; k++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = -1;
            return false;
        }
        if (epmd_answers_empty("127.0.0.1", port)) return true;
        sleep_ms(50);
    }
    return false;
}

pid_t epmd_spawn(const char *addresses, int *port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = listen_on("127.0.0.1", 0, port);
        if (fd < 0) return -1;
        close(fd);
        char port_text[8];
        snprintf(port_text, sizeof port_text, "%d", *port);
        char *const argv[] = {"epmd", "-port", port_text, "-address", (char *)addresses, NULL};
        pid_t pid = spawn(argv, NULL);
        if (pid > 0 && epmd_is_ours(&pid, *port)) return pid;
        fprintf(stderr, "attempt %d: no epmd of ours on port %d\n", attempt, *port);
        child_stop(&pid);
    }
    return -1;
}

int epmd_register(const char *addr, int port, const char *name, int dist_port)
{
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > 255) return -1;
    /* ALIVE2_REQ: tag 120, port, node type 77 (normal), protocol 0 (TCP/IP),
     * highest version 6, lowest 5, name length and name, extra length 0;
     * behind a 2-byte length like every EPMD request. */
    unsigned char req[2 + 13 + 255];
    size_t body = 13 + name_len;
    req[0] = (unsigned char)(body >> 8);
    req[1] = (unsigned char)body;
    req[2] = 120;
    req[3] = (unsigned char)(dist_port >> 8);
    req[4] = (unsigned char)dist_port;
    req[5] = 77;
    req[6] = 0;
    req[7] = 0;
    req[8] = 6;
    req[9] = 0;
    req[10] = 5;
    req[11] = (unsigned char)(name_len >> 8);
    req[12] = (unsigned char)name_len;
    memcpy(req + 13, name, name_len);
    req[13 + name_len] = 0;
    req[14 + name_len] = 0;
    int fd = connect_tcp(addr, port, 5000);
    if (fd < 0) return -1;
    /* The answer: ALIVE2_X_RESP (118, 4-byte creation; OTP 23 and later) or
     * ALIVE2_RESP (121, 2-byte creation), then result 0 for success. */
    unsigned char resp[2];
    size_t got = 0;
    if (send_all(fd, req, 2 + body)) {
        while (got < sizeof resp) {
            ssize_t r = recv(fd, resp + got, sizeof resp - got, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
    }
    if (got == sizeof resp && (resp[0] == 118 || resp[0] == 121) && resp[1] == 0) return fd;
    close(fd);
    return -1;
}

/* ---- a TCP relay ---- */

/* Copies bytes both ways between a and b, passing on each half-close, until
 * both directions are closed, an error, 5 s, or the stop pipe is readable. */
static void relay_pump(int a, int b, int stop)
{
    const int fds[2] = {a, b};
    bool open_in[2] = {true, true};
    unsigned char buf[4096];
    long long end = ms_now() + 5000;
    while (open_in[0] || open_in[1]) {
        struct pollfd p[3] = {{.fd = open_in[0] ? a : -1, .events = POLLIN},
                              {.fd = open_in[1] ? b : -1, .events = POLLIN},
                              {.fd = stop, .events = POLLIN}};
        long long left = end - ms_now();
        if (left <= 0) return;
        int rc = poll(p, 3, (int)left);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 || p[2].revents != 0) return;
        for (int k = 0; k < 2; k++) {
            if (!open_in[k] || p[k].revents == 0) continue;
            ssize_t got = recv(fds[k], buf, sizeof buf, 0);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return;
            if (got == 0) {
                open_in[k] = false;
                shutdown(fds[1 - k], SHUT_WR);
            } else if (!send_all(fds[1 - k], buf, (size_t)got)) {
                return;
            }
        }
    }
}

static void *relay_main(void *arg)
{
    tcp_relay *r = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = r->lfd, .events = POLLIN},
                              {.fd = r->wake[0], .events = POLLIN}};
        int rc = poll(p, 2, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 || p[1].revents != 0) break;
        if ((p[0].revents & POLLIN) == 0) continue;
        int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        int u = connect_tcp(r->to_addr, r->to_port, 5000);
        if (u >= 0) {
            relay_pump(c, u, r->wake[0]);
            close(u);
        }
        close(c);
    }
    return NULL;
}

int tcp_relay_start(tcp_relay *r, const char *addr, int port, const char *to_addr, int to_port)
{
    r->running = false;
    snprintf(r->to_addr, sizeof r->to_addr, "%s", to_addr);
    r->to_port = to_port;
    r->lfd = listen_on(addr, port, NULL);
    if (r->lfd < 0) return -1;
    if (pipe2(r->wake, O_CLOEXEC) != 0) {
        close(r->lfd);
        return -1;
    }
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        close(r->lfd);
        close(r->wake[0]);
        close(r->wake[1]);
        return -1;
    }
    r->running = true;
    return 0;
}

void tcp_relay_stop(tcp_relay *r)
{
    if (!r->running) return;
    ssize_t w = write(r->wake[1], "x", 1);
    (void)w;
    pthread_join(r->thread, NULL);
    close(r->lfd);
    close(r->wake[0]);
    close(r->wake[1]);
    r->running = false;
}

/* ---- the fixture ---- */

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
        f->epmd_pid = epmd_spawn(addresses, &f->port);
        if (f->epmd_pid < 0) return -1;
        snprintf(f->port_text, sizeof f->port_text, "%d", f->port);
        setenv("ERL_EPMD_PORT", f->port_text, 1);
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
    child_stop(&f->beam_pid);
    child_stop(&f->epmd_pid);
}

void epmd_fixture_stop_epmd(epmd_fixture *f)
{
    child_stop(&f->epmd_pid);
}

void epmd_fixture_kill(const epmd_fixture *f)
{
    if (f->beam_pid > 0) kill(f->beam_pid, SIGKILL);
    if (f->epmd_pid > 0) kill(f->epmd_pid, SIGKILL);
}
