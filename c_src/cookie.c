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
    while (len--) *p++ = 0;
}

/* Strips trailing whitespace (files usually end with a newline). */
static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int cookie_valid(const char *c, const char *source, char *err, size_t errlen)
{
    if (!*c) {
        snprintf(err, errlen, "%s: the cookie is empty", source);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)c; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            snprintf(err, errlen, "%s: the cookie contains a control or non-ASCII character",
                     source);
            return -1;
        }
    }
    return 0;
}

static int read_cookie_file(const char *path, int must_exist, char *out, size_t outlen, char *err,
                            size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
    char buf[COOKIE_MAX + 2];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cookie file %s: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    trim(buf);
    if (strlen(buf) > COOKIE_MAX || strlen(buf) + 1 > outlen) {
        cookie_wipe(buf, sizeof(buf));
        snprintf(err, errlen, "cookie file %s: the cookie is longer than %d bytes", path,
                 COOKIE_MAX);
        return -1;
    }
    memcpy(out, buf, strlen(buf) + 1);
    cookie_wipe(buf, sizeof(buf));
    return cookie_valid(out, path, err, errlen);
}

static int from_env(const char *var, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *v = getenv(var);
    if (!v) return 1;
    char src[128];
    snprintf(src, sizeof(src), "environment variable %s", var);
    size_t n = strlen(v);
    if (n > COOKIE_MAX || n + 1 > outlen) {
        snprintf(err, errlen, "%s: the cookie is longer than %d bytes", src, COOKIE_MAX);
        return -1;
    }
    memcpy(out, v, n + 1);
    trim(out);
    return cookie_valid(out, src, err, errlen);
}

int cookie_load(const char *cli_file, const char *cfg_file, const char *cfg_env, char *out,
                size_t outlen, char *source, size_t sourcelen, char *err, size_t errlen)
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
