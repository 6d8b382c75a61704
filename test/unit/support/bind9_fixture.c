/* Test support: a real bind9 on loopback. See bind9_fixture.h. */
#include "bind9_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A port free for both UDP and TCP on 127.0.0.1 a moment ago. */
static int free_port(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int t = socket(AF_INET, SOCK_STREAM, 0);
        if (t < 0) return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (bind(t, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(t, (struct sockaddr *)&a, &len) != 0) {
            close(t);
            return -1;
        }
        int u = socket(AF_INET, SOCK_DGRAM, 0);
        int ok = u >= 0 && bind(u, (struct sockaddr *)&a, sizeof a) == 0;
        if (u >= 0) close(u);
        close(t);
        if (ok) return ntohs(a.sin_port);
    }
    return -1;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *grown = realloc(buf, cap * 2 + 1);
        if (grown == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    if (buf != NULL) buf[n] = '\0';
    return buf;
}

/* Writes the zone file (serial f->serial) with an mtime that moves forward
 * one second per serial, so that named sees it changed even within one
 * second. */
static int write_zone(bind9_fixture *f, const char *records)
{
    char path[320], head[512];
    snprintf(path, sizeof path, "%s/zone.db", f->dir);
    snprintf(head, sizeof head,
             "$TTL 5\n@ 5 IN SOA ns.dns.%s. hostmaster.%s. %u 7200 1800 86400 5\n"
             "@ 5 IN NS ns.dns.%s.\nns.dns 5 IN A 127.0.0.1\n",
             f->zone, f->zone, f->serial, f->zone);
    size_t len = strlen(head) + strlen(records) + 1;
    char *text = malloc(len);
    if (text == NULL) return -1;
    snprintf(text, len, "%s%s", head, records);
    int rc = write_text(path, text);
    free(text);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec += f->serial;
    tv[1] = tv[0];
    if (rc == 0) rc = utimes(path, tv);
    return rc;
}

/* Waits until the log says the zone's current serial is loaded. */
static int wait_loaded(const bind9_fixture *f, int timeout_ms)
{
    char needle[96];
    snprintf(needle, sizeof needle, "zone %s/IN: loaded serial %u", f->zone, f->serial);
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (bind9_log_count(f, needle, NULL) > 0) return 0;
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid) return -1;
        sleep_ms(50);
    }
    return -1;
}

static int start_once(bind9_fixture *f, const char *records)
{
    char path[320], conf[2048];
    f->port = free_port();
    if (f->port < 0) return -1;
    snprintf(f->server, sizeof f->server, "127.0.0.1:%d", f->port);
    snprintf(conf, sizeof conf,
             "options {\n"
             "  directory \"%s\";\n"
             "  listen-on port %d { 127.0.0.1; };\n"
             "  listen-on-v6 { none; };\n"
             "  recursion no;\n"
             "  dnssec-validation no;\n"
             "  notify no;\n"
             "  querylog yes;\n"
             "  check-names primary ignore;\n"
             "  pid-file \"%s/named.pid\";\n"
             "  session-keyfile \"%s/session.key\";\n"
             "  managed-keys-directory \"%s\";\n"
             "};\n"
             "controls { };\n"
             "zone \"%s\" { type primary; file \"%s/zone.db\"; };\n",
             f->dir, f->port, f->dir, f->dir, f->dir, f->zone, f->dir);
    snprintf(path, sizeof path, "%s/named.conf", f->dir);
    if (write_text(path, conf) != 0 || write_zone(f, records) != 0) return -1;
    char log[320];
    snprintf(log, sizeof log, "%s/named.log", f->dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* named dies with the test, even when the test aborts (a sanitizer
         * report) before its teardown could stop it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("named", "named", "-g", "-4", "-c", path, (char *)NULL);
        /* /usr/sbin is not on every user's PATH. */
        execl("/usr/sbin/named", "named", "-g", "-4", "-c", path, (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    if (wait_loaded(f, 15000) == 0) {
        /* Listeners are up before the zones load; "all zones loaded" last. */
        for (int waited = 0; waited < 10000; waited += 50) {
            if (bind9_log_count(f, "all zones loaded", NULL) > 0) return 0;
            sleep_ms(50);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    f->pid = -1;
    return -1;
}

int bind9_start(bind9_fixture *f, const char *zone, const char *records)
{
    memset(f, 0, sizeof *f);
    f->pid = -1;
    f->serial = 1;
    snprintf(f->zone, sizeof f->zone, "%s", zone);
    snprintf(f->dir, sizeof f->dir, "/tmp/clusterd-test-bind9-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    for (int attempt = 0; attempt < 3; attempt++)
        if (start_once(f, records) == 0) return 0;
    char path[320];
    snprintf(path, sizeof path, "%s/named.log", f->dir);
    char *log = read_text(path);
    fprintf(stderr, "bind9 fixture: named did not start; its log (%s):\n%s\n", path,
            log ? log : "(none)");
    free(log);
    return -1;
}

int bind9_set_records(bind9_fixture *f, const char *records)
{
    if (f->pid <= 0) return -1;
    f->serial++;
    if (write_zone(f, records) != 0) return -1;
    kill(f->pid, SIGHUP);
    return wait_loaded(f, 15000);
}

int bind9_log_count(const bind9_fixture *f, const char *needle, const char *needle2)
{
    char path[320];
    snprintf(path, sizeof path, "%s/named.log", f->dir);
    char *text = read_text(path);
    if (text == NULL) return 0;
    int count = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, needle) != NULL && (needle2 == NULL || strstr(line, needle2) != NULL))
            count++;
    free(text);
    return count;
}

void bind9_stop(bind9_fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        for (int waited = 0; waited < 5000; waited += 50) {
            if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
                f->pid = -1;
                break;
            }
            sleep_ms(50);
        }
        if (f->pid > 0) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, NULL, 0);
            f->pid = -1;
        }
    }
    if (f->dir[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0) fprintf(stderr, "bind9 fixture: could not remove %s\n", f->dir);
        f->dir[0] = '\0';
    }
}

void bind9_kill(const bind9_fixture *f)
{
    if (f->pid > 0) kill(f->pid, SIGKILL);
}
