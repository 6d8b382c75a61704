/* cli: shared option parsing, config/cookie loading, one-shot identity. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cookie.h"
#include "secret.h"
#include "log.h"
#include "nodename.h"
#include "resolve.h"
#include "strv.h"

static int parse_ms(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 86400000LL) return -1;
    *out = v;
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->args = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->args) return -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(field)                                                                                \
    do {                                                                                           \
        if (!next) {                                                                               \
            fprintf(stderr, "clusterd: %s needs a value\n", a);                                    \
            return -1;                                                                             \
        }                                                                                          \
        o->field = next;                                                                           \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            TAKE(config_path);
        } else if (!strcmp(a, "--cookie-file")) {
            TAKE(cookie_file);
        } else if (!strcmp(a, "--name")) {
            TAKE(name);
            o->longnames = true;
            o->name_given = true;
        } else if (!strcmp(a, "--sname")) {
            TAKE(name);
            o->longnames = false;
            o->name_given = true;
        } else if (!strcmp(a, "--coordinator")) {
            TAKE(coordinator);
        } else if (!strcmp(a, "--nodes")) {
            TAKE(nodes);
        } else if (!strcmp(a, "--no-color")) {
            o->no_color = true;
        } else if (!strcmp(a, "--log-format")) {
            TAKE(log_format);
        } else if (!strcmp(a, "--timeout")) {
            if (!next || parse_ms(next, &o->timeout_ms) < 0) {
                fprintf(stderr, "clusterd: --timeout needs milliseconds (1..86400000)\n");
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--exit-on-eof")) {
            o->exit_on_eof = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = true;
        } else if (!strcmp(a, "--cookie")) {
            fprintf(stderr, "clusterd: the cookie is never taken on the command line (it would "
                            "show in ps); use --cookie-file FILE or RELEASE_COOKIE\n");
            return -1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "clusterd: unknown option %s (see clusterd --help)\n", a);
            return -1;
        } else {
            o->args[o->nargs++] = argv[i];
        }
#undef TAKE
    }
    return 0;
}

int cli_setup_logging(const cli_opts *o)
{
    log_format f = LOG_FORMAT_LOGFMT;
    if (o->log_format) {
        if (!strcmp(o->log_format, "json")) {
            f = LOG_FORMAT_JSON;
        } else if (strcmp(o->log_format, "logfmt") != 0) {
            fprintf(stderr, "clusterd: --log-format takes logfmt or json\n");
            return -1;
        }
    }
    log_init(o->verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, f);
    return 0;
}

int cli_setup_quiet_logging(const cli_opts *o)
{
    if (cli_setup_logging(o) < 0) return -1;
    if (!o->verbose)
        log_init(LOG_LEVEL_ERROR, o->log_format && !strcmp(o->log_format, "json")
                                      ? LOG_FORMAT_JSON
                                      : LOG_FORMAT_LOGFMT);
    return 0;
}

config *cli_load_config(const cli_opts *o)
{
    config *cfg = NULL;
    config_diag diag = {0};
    int rc = config_load_file(o->config_path, &cfg, &diag);
    for (size_t i = 0; i < diag.n_errors; i++)
        fprintf(stderr, "%s\n", diag.errors[i]);
    for (size_t i = 0; i < diag.n_warnings; i++)
        fprintf(stderr, "%s\n", diag.warnings[i]);
    config_diag_free(&diag);
    if (rc != 0) return NULL;
    /* Its cookie variable is kept from children even where the cookie itself
     * is never loaded (discover runs exec credential plugins). */
    cookie_env_register(cfg->node.cookie_env);
    /* Host names of members resolve through the configured servers too. */
    if (resolve_set_servers(cfg->nameservers, cfg->n_nameservers) != 0)
        fprintf(stderr, "clusterd: resolver.nameservers is too long; member host names resolve "
                        "through /etc/resolv.conf\n");
    return cfg;
}

int cli_make_cnode(const cli_opts *o, const config *cfg, const char *peer_hint, cnode *cn)
{
    char cookie[COOKIE_MAX + 1], source[512], err[512];
    if (cookie_load(o->cookie_file, cfg ? cfg->node.cookie_file : NULL,
                    cfg ? cfg->node.cookie_env : NULL, cookie, sizeof(cookie), source,
                    sizeof(source), err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd: %s\n", err);
        return -1;
    }
    const char *name = o->name_given ? o->name : NULL;
    bool longnames = cfg ? cfg->node.longnames : true;
    const char *at = peer_hint ? strchr(peer_hint, '@') : NULL;
    if (at) longnames = nodename_host_is_long(at + 1);
    if (o->name_given) longnames = o->longnames;
    char unique[64];
    if (!name) {
        cnode_unique_alive(unique, sizeof(unique), "clusterd-cli");
        name = unique;
    }
    int rc =
        cnode_init_tls(cn, name, longnames, cookie, cfg ? cfg->node.tls : NULL, err, sizeof(err));
    secret_wipe(cookie, sizeof(cookie));
    if (rc < 0) {
        fprintf(stderr, "clusterd: %s\n", err);
        return -1;
    }
    return 0;
}

int cli_split_nodes(const char *csv, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = csv; *p; p++)
        cap += *p == ',';
    char **v = calloc(cap + 1, sizeof(char *));
    char *copy = strdup(csv);
    if (!v || !copy) goto fail;
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        char why[128];
        if (!nodename_valid(tok, why, sizeof(why))) {
            fprintf(stderr, "clusterd: --nodes: '%s' is not a node name: %s\n", tok, why);
            goto fail;
        }
        bool dup = false;
        for (size_t i = 0; i < k && !dup; i++)
            dup = strcmp(v[i], tok) == 0;
        if (dup) continue;
        if (!(v[k] = strdup(tok))) goto fail;
        k++;
    }
    free(copy);
    if (k == 0) {
        fprintf(stderr, "clusterd: --nodes is empty\n");
        free(v);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
fail:
    free(copy);
    if (v) strv_free(v, cap);
    return -1;
}

static bool color_on;

void cli_color_setup(const cli_opts *o)
{
    const char *nc = getenv("NO_COLOR");
    color_on = !o->no_color && !(nc && *nc) && isatty(STDOUT_FILENO);
}

const char *cli_color(cli_color_id c)
{
    static const char *const codes[] = {"\033[0m",  "\033[1m",  "\033[2m",
                                        "\033[31m", "\033[32m", "\033[33m"};
    if (!color_on || (size_t)c >= sizeof(codes) / sizeof(codes[0])) return "";
    return codes[c];
}

unsigned cli_timeout(const cli_opts *o, unsigned def_ms)
{
    return o->timeout_ms ? (unsigned)o->timeout_ms : def_ms;
}
