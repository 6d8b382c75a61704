/* cookie: cookie sources and erl's file-permission rule. */
#include "cookie.h"

#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The file rules are erl's (see secret_read_file). */
static int read_cookie_file(const char *path, int must_exist, char *out, size_t outlen, char *err,
                            size_t errlen)
{
    /* A cookie and its line ending; a longer file is refused (erl refuses
     * a file over 255 bytes). */
    char buf[COOKIE_MAX + 1];
    size_t n;
    int rc = secret_read_file(path, "cookie file", must_exist ? SECRET_MUST_EXIST : 0, buf,
                              COOKIE_MAX, &n, err, errlen);
    if (rc != 0) return rc;
    char source[4200];
    snprintf(source, sizeof(source), "cookie file %s", path);
    rc = cookie_accept(buf, trimmed_len(buf, n), source, out, outlen, err, errlen);
    secret_wipe(buf, sizeof(buf));
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

#define SECRET_VARS_MAX 8
static char secret_vars[SECRET_VARS_MAX][128];
static size_t n_secret_vars;

void cookie_env_register(const char *var)
{
    if (var == NULL || *var == '\0' || strlen(var) >= sizeof(secret_vars[0])) return;
    for (size_t i = 0; i < n_secret_vars; i++)
        if (strcmp(secret_vars[i], var) == 0) return;
    if (n_secret_vars == SECRET_VARS_MAX) return;
    snprintf(secret_vars[n_secret_vars++], sizeof(secret_vars[0]), "%s", var);
}

/* entry names var: "VAR=..." or exactly "VAR". */
static bool entry_names(const char *entry, const char *var)
{
    size_t n = strlen(var);
    return strncmp(entry, var, n) == 0 && (entry[n] == '=' || entry[n] == '\0');
}

bool cookie_env_secret(const char *entry)
{
    if (entry_names(entry, "RELEASE_COOKIE")) return true;
    for (size_t i = 0; i < n_secret_vars; i++)
        if (entry_names(entry, secret_vars[i])) return true;
    return false;
}

/* Removes var from our environment after overwriting its value where it
 * lies: for the variables we were started with that is the block the kernel
 * shows as /proc/<pid>/environ, which unsetenv alone leaves as it was. */
static void drop_env(const char *var)
{
    char *v = getenv(var);
    if (v != NULL) secret_wipe(v, strlen(v));
    unsetenv(var);
}

/* Loads the cookie (see cookie.h), then drops the variables that may hold it
 * from our environment, so that no child (a kubeconfig exec plugin, say)
 * inherits it. Called at start-up, before any thread runs. */
int cookie_load(const char *cli_file, const char *cfg_file, const char *cfg_env, char *out,
                size_t outlen, char *source, size_t sourcelen, char *err, size_t errlen)
{
    int rc =
        cookie_load_from(cli_file, cfg_file, cfg_env, out, outlen, source, sourcelen, err, errlen);
    if (rc == 0) {
        drop_env("RELEASE_COOKIE");
        if (cfg_env) drop_env(cfg_env);
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
