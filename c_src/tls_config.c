/* tls_config: `node.tls:` -> config_tls, with OTP's option names
 * (ssl_dist_optfile: certfile, keyfile, cacertfile, verify,
 * server_name_indication, versions) plus clusterd's password_file. See
 * tls_config.h. */
#include "tls_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const verify_choices[] = {"verify_peer", "verify_none", NULL};

static const opt_spec tls_options[] = {
    {.name = "certfile", .type = OPT_STRING, .required = true, .help = "PEM certificate (chain)"},
    {.name = "keyfile", .type = OPT_STRING, .help = "PEM private key; default: certfile"},
    {.name = "cacertfile", .type = OPT_STRING, .help = "PEM CA certificates peers must chain to"},
    {.name = "password_file", .type = OPT_STRING, .help = "file holding the key's passphrase"},
    {.name = "verify",
     .type = OPT_ENUM,
     .def_str = "verify_peer",
     .choices = verify_choices,
     .help = "verify_peer (default) or verify_none"},
    {.name = "server_name_indication",
     .type = OPT_STRING,
     .help = "disable, or the name every peer certificate must carry"},
    {.name = "versions", .type = OPT_STRING_LIST, .help = "[tlsv1.3, tlsv1.2] (default both)"},
};

const char *tls_versions_text(unsigned versions)
{
    switch (versions & (TLS_VERSION_12 | TLS_VERSION_13)) {
    case TLS_VERSION_12:
        return "tlsv1.2";
    case TLS_VERSION_13:
        return "tlsv1.3";
    default:
        return "tlsv1.2,tlsv1.3";
    }
}

/* A DNS name as a certificate carries it: labels of letters, digits, '-'
 * (and '_', seen in the wild), dots between, at most 253 bytes. */
static bool server_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.') return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_'))
            return false;
        if (ch == '.' && p[1] == '.') return false;
    }
    return true;
}

static char *steal(opt_values *ov, const char *name)
{
    opt_value *v = (opt_value *)opts_get(ov, name);
    char *s = v->s;
    v->s = NULL;
    return s;
}

/* A file the section names must be readable now (clusterd reads it at start). */
static void check_readable(cfg_ctx *c, const opt_values *ov, const char *name)
{
    const opt_value *v = opts_get(ov, name);
    if (!v->set || !v->s) return;
    if (access(v->s, R_OK) != 0) {
        char q[CFG_QUOTE_MAX];
        cfg_error_pos(c, v->line, v->col, "'%s' %s cannot be read: %s", name,
                      cfg_quote(q, sizeof q, v->s), strerror(errno));
    }
}

void tls_config_read(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val, config_tls **out)
{
    *out = NULL;
    if (cfg_node_is_null(val) || val->type != YAML_MAPPING_NODE) {
        cfg_error(c, cfg_node_is_null(val) ? key : val,
                  "'tls' must be a mapping with at least 'certfile' and 'cacertfile'");
        return;
    }
    cfg_map m = {.where = "in node.tls", .specs = tls_options, .n_specs = COUNT_OF(tls_options)};
    opt_values ov = {0};
    config_tls *t = NULL;
    size_t errors_before = c->n_errors;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;

    t = calloc(1, sizeof(*t));
    if (!t) {
        c->oom = true;
        goto done;
    }
    const opt_value *verify = opts_get(&ov, "verify");
    t->verify_peer = !verify->s || strcmp(verify->s, "verify_peer") == 0;
    if (!t->verify_peer && verify->set)
        cfg_warn_pos(c, verify->line, verify->col,
                     "verify: verify_none accepts any certificate from any peer (no "
                     "authentication of the nodes); use it only for testing");
    const opt_value *ca = opts_get(&ov, "cacertfile");
    if (t->verify_peer && !ca->set)
        cfg_error(c, key,
                  "'cacertfile' is required in node.tls with verify: verify_peer (the CA the "
                  "nodes' certificates chain to)");
    check_readable(c, &ov, "certfile");
    check_readable(c, &ov, "keyfile");
    check_readable(c, &ov, "cacertfile");
    check_readable(c, &ov, "password_file");

    const opt_value *sni = opts_get(&ov, "server_name_indication");
    if (sni->set && sni->s) {
        if (strcmp(sni->s, "disable") == 0) {
            t->sni_disabled = true;
        } else if (!server_name_valid(sni->s)) {
            char q[CFG_QUOTE_MAX];
            cfg_error_pos(c, sni->line, sni->col,
                          "'server_name_indication' must be disable or a host name such as "
                          "node.example.com, not '%s'",
                          cfg_quote(q, sizeof q, sni->s));
        } else {
            t->server_name = steal(&ov, "server_name_indication");
        }
    }

    size_t nver = 0;
    char *const *vers = opts_list(&ov, "versions", &nver);
    const opt_value *vv = opts_get(&ov, "versions");
    if (vv->set && nver == 0)
        cfg_error_pos(c, vv->line, vv->col,
                      "'versions' must list at least one of tlsv1.2, "
                      "tlsv1.3");
    for (size_t k = 0; k < nver; k++) {
        if (strcmp(vers[k], "tlsv1.3") == 0) {
            t->versions |= TLS_VERSION_13;
        } else if (strcmp(vers[k], "tlsv1.2") == 0) {
            t->versions |= TLS_VERSION_12;
        } else {
            char q[CFG_QUOTE_MAX];
            cfg_error_pos(c, vv->line, vv->col,
                          "'versions' entry '%s' is not supported; use tlsv1.2 and/or tlsv1.3",
                          cfg_quote(q, sizeof q, vers[k]));
        }
    }
    if (!t->versions) t->versions = TLS_VERSION_12 | TLS_VERSION_13;

    t->certfile = steal(&ov, "certfile");
    t->keyfile = steal(&ov, "keyfile");
    t->cacertfile = steal(&ov, "cacertfile");
    t->password_file = steal(&ov, "password_file");
    if (!t->keyfile && t->certfile && !(t->keyfile = cfg_strdup(c, t->certfile))) goto done;
    if (c->n_errors == errors_before && !c->oom) {
        *out = t;
        t = NULL;
    }
done:
    tls_config_free(t);
    opts_values_free(&ov);
}

static bool str_differs(const char *a, const char *b)
{
    if (!a || !b) return a != b;
    return strcmp(a, b) != 0;
}

bool tls_config_differs(const config_tls *a, const config_tls *b)
{
    if (!a || !b) return a != b;
    return str_differs(a->certfile, b->certfile) || str_differs(a->keyfile, b->keyfile) ||
           str_differs(a->cacertfile, b->cacertfile) ||
           str_differs(a->password_file, b->password_file) || a->verify_peer != b->verify_peer ||
           a->sni_disabled != b->sni_disabled || str_differs(a->server_name, b->server_name) ||
           a->versions != b->versions;
}

void tls_config_free(config_tls *t)
{
    if (!t) return;
    free(t->certfile);
    free(t->keyfile);
    free(t->cacertfile);
    free(t->password_file);
    free(t->server_name);
    free(t);
}
