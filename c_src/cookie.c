/* cookie: cookie sources and erl's file-permission rule. */
#include "cookie.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cookie_wipe(char *buf, size_t len)
{
    volatile char *p = buf;
    while (len--)
        *p++ = 0;
}

/* Length of s[0..n) without trailing whitespace (files usually end with a
 * newline). */
static size_t trimmed_len(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

/* Checks c[0..n) (which may hold NUL bytes) and copies it to out as a
 * string; out is written only on success. */
static int cookie_accept(const char *c, size_t n, const char *source, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "%s: the cookie is empty", source);
        return -1;
    }
    if (n > COOKIE_MAX || n + 1 > outlen) {
        snprintf(err, errlen, "%s: the cookie is longer than %d bytes", source, COOKIE_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c[i];
        if (ch < 0x20 || ch > 0x7e) {
            snprintf(err, errlen, "%s: the cookie contains a control or non-ASCII character",
                     source);
            return -1;
        }
    }
    memcpy(out, c, n);
    out[n] = '\0';
    return 0;
}

/* Symbolic links are followed, as erl follows them (Kubernetes mounts
 * secrets through links); the rule applies to the file finally opened.
 * O_NONBLOCK keeps a FIFO in the path from blocking the open. */
static int read_cookie_file(const char *path, int must_exist, char *out, size_t outlen, char *err,
                            size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (!must_exist && errno == ENOENT) return 1;
        snprintf(err, errlen, "cookie file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cookie file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "cookie file %s must be accessible by its owner only (mode %03o; run chmod 600)",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    /* A cookie, "\r\n", and one byte more to notice longer files. */
    char buf[COOKIE_MAX + 3];
    size_t n = 0;
    while (n < sizeof(buf)) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            cookie_wipe(buf, sizeof(buf));
            snprintf(err, errlen, "cookie file %s: %s", path, strerror(e));
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    char source[4200];
    snprintf(source, sizeof(source), "cookie file %s", path);
    /* A full buffer is more than a cookie and "\r\n": too long. */
    int rc = cookie_accept(buf, n == sizeof(buf) ? n : trimmed_len(buf, n), source, out, outlen,
                           err, errlen);
    cookie_wipe(buf, sizeof(buf));
    return rc;
}

static int from_env(const char *var, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *v = getenv(var);
    if (!v) return 1;
    char src[128];
    snprintf(src, sizeof(src), "environment variable %s", var);
    return cookie_accept(v, trimmed_len(v, strlen(v)), src, out, outlen, err, errlen);
}

static int cookie_load_from(const char *cli_file, const char *cfg_file, const char *cfg_env,
                            char *out, size_t outlen, char *source, size_t sourcelen, char *err,
                            size_t errlen);

/* Loads the cookie (see cookie.h), then drops the variables that may hold it
 * from our environment, so that no child (a kubeconfig exec plugin, say)
 * inherits it. Called at start-up, before any thread runs. */
int cookie_load(const char *cli_file, const char *cfg_file, const char *cfg_env, char *out,
                size_t outlen, char *source, size_t sourcelen, char *err, size_t errlen)
{
    int rc =
        cookie_load_from(cli_file, cfg_file, cfg_env, out, outlen, source, sourcelen, err, errlen);
    if (rc == 0) {
        unsetenv("RELEASE_COOKIE");
        if (cfg_env) unsetenv(cfg_env);
    }
    return rc;
}

static int cookie_load_from(const char *cli_file, const char *cfg_file, const char *cfg_env,
                            char *out, size_t outlen, char *source, size_t sourcelen, char *err,
                            size_t errlen)
{
    int r;
    if (cli_file) {
        snprintf(source, sourcelen, "%s", cli_file);
        return read_cookie_file(cli_file, 1, out, outlen, err, errlen);
    }
    if (cfg_file) {
        snprintf(source, sourcelen, "%s", cfg_file);
        return read_cookie_file(cfg_file, 1, out, outlen, err, errlen);
    }
    if (cfg_env) {
        snprintf(source, sourcelen, "$%s", cfg_env);
        r = from_env(cfg_env, out, outlen, err, errlen);
        if (r == 1) snprintf(err, errlen, "node.cookie_env: $%s is not set", cfg_env);
        return r == 0 ? 0 : -1;
    }
    r = from_env("RELEASE_COOKIE", out, outlen, err, errlen);
    if (r <= 0) {
        snprintf(source, sourcelen, "$RELEASE_COOKIE");
        return r;
    }
    const char *home = getenv("HOME");
    if (home && *home) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/.erlang.cookie", home);
        snprintf(source, sourcelen, "%s", path);
        r = read_cookie_file(path, 0, out, outlen, err, errlen);
        if (r <= 0) return r;
    }
    snprintf(err, errlen,
             "no cookie found: give --cookie-file, node.cookie_file or node.cookie_env in the "
             "config, set RELEASE_COOKIE, or create ~/.erlang.cookie (mode 600)");
    return -1;
}
