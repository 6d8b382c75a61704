/* cookie: finds the distribution cookie. Sources, first found wins:
 * --cookie-file, the config's node.cookie_file, the config's node.cookie_env
 * variable, RELEASE_COOKIE, ~/.erlang.cookie. Never accepted on the command
 * line. A cookie file readable or writable by group or others is refused, as
 * erl refuses it. Error messages name the source, never the cookie. */
#ifndef CLUSTERD_COOKIE_H
#define CLUSTERD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#define COOKIE_MAX 255

/* cli_file and cfg_file / cfg_env may be NULL. On success out holds the
 * cookie (NUL-terminated) and source names where it came from (a file path
 * or an environment variable name, never the value). */
int cookie_load(const char *cli_file, const char *cfg_file, const char *cfg_env, char *out,
                size_t outlen, char *source, size_t sourcelen, char *err, size_t errlen);

/* Marks var (node.cookie_env) as a variable that may hold the cookie, as
 * RELEASE_COOKIE always is; called when a config is loaded, so that commands
 * that never load the cookie (discover) know it too. Up to 8 names. */
void cookie_env_register(const char *var);

/* True if entry ("NAME=VALUE" or "NAME") names a variable that may hold the
 * cookie: children clusterd starts (exec credential plugins) never get one. */
bool cookie_env_secret(const char *entry);

#endif
