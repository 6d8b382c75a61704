/* kubeconfig: kubeconfig files and in-cluster service accounts -> kube_access.
 * See kubeconfig.h. The YAML is loaded as a libyaml document (files are small:
 * capped at 4 MiB) and navigated by key. */
#include "kubeconfig.h"

#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define KUBECONFIG_MAX_BYTES (4u << 20)

static void exec_free(kube_exec *e)
{
    if (e == NULL) return;
    free(e->api_version);
    free(e->command);
    for (size_t k = 0; k < e->n_args; k++)
        free(e->args[k]);
    free(e->args);
    for (size_t k = 0; k < e->n_env; k++) /* the values may be credentials */
        secret_free(e->env[k]);
    free(e->env);
    free(e);
}

void kube_access_free(kube_access *a)
{
    if (a == NULL) return;
    free(a->server);
    free(a->ca_file);
    free(a->ca_data);
    free(a->tls_server_name);
    secret_free(a->token);
    free(a->token_file);
    free(a->cert_file);
    free(a->key_file);
    free(a->cert_data);
    secret_free_n(a->key_data, a->key_data_len);
    free(a->namespace_);
    exec_free(a->exec);
    memset(a, 0, sizeof *a);
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int kube_base64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    char *buf = malloc(len / 4 * 3 + 4);
    if (buf == NULL) return -1;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    bool pad = false;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)in[k];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            secret_free_n(buf, n); /* perhaps part of a client key */
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6) { /* a lone trailing character is not base64 */
        secret_free_n(buf, n);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- YAML document navigation ---- */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* A scalar's text, or NULL (not a scalar, or contains NUL). */
static const char *scalar(yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE) return NULL;
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) return NULL;
    return (const char *)n->data.scalar.value;
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    return scalar(map_get(doc, map, key));
}

/* The `key` entry of the named item in a list such as clusters: [{name, cluster}]. */
static yaml_node_t *named_item(yaml_document_t *doc, yaml_node_t *root, const char *list,
                               const char *name, const char *key)
{
    yaml_node_t *seq = map_get(doc, root, list);
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE) return NULL;
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        yaml_node_t *item = yaml_document_get_node(doc, *i);
        const char *n = map_str(doc, item, "name");
        if (n != NULL && strcmp(n, name) == 0) return map_get(doc, item, key);
    }
    return NULL;
}

static bool yaml_true(const char *s)
{
    return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
                         strcmp(s, "TRUE") == 0 || strcmp(s, "yes") == 0);
}

/* A path from the file, resolved against dir when relative. */
static char *resolve_path(const char *dir, const char *p)
{
    if (p == NULL) return NULL;
    char *out = NULL;
    if (p[0] == '/' || dir == NULL || dir[0] == '\0') {
        out = strdup(p);
    } else {
        size_t n = strlen(dir) + strlen(p) + 2;
        out = malloc(n);
        if (out != NULL) snprintf(out, n, "%s/%s", dir, p);
    }
    return out;
}

static int dup_opt(const char *s, char **dst)
{
    if (s == NULL) return 0;
    *dst = strdup(s);
    return *dst == NULL ? -1 : 0;
}

static int decode_field(const char *b64, const char *what, char **dst, size_t *dlen, char *err,
                        size_t errlen)
{
    if (b64 == NULL) return 0;
    if (kube_base64_decode(b64, strlen(b64), dst, dlen) != 0) {
        snprintf(err, errlen, "%s is not valid base64", what);
        return -1;
    }
    return 0;
}

static int str_list(yaml_document_t *doc, yaml_node_t *seq, char ***out, size_t *n,
                    const char *what, char *err, size_t errlen)
{
    if (seq == NULL) return 0;
    if (seq->type != YAML_SEQUENCE_NODE) {
        snprintf(err, errlen, "%s must be a list", what);
        return -1;
    }
    size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    *out = calloc(cnt + 1, sizeof **out);
    if (*out == NULL) return -1;
    for (size_t k = 0; k < cnt; k++) {
        const char *s = scalar(yaml_document_get_node(doc, seq->data.sequence.items.start[k]));
        if (s == NULL) {
            snprintf(err, errlen, "%s[%zu] must be a string", what, k);
            return -1;
        }
        (*out)[k] = strdup(s);
        if ((*out)[k] == NULL) return -1;
        (*n)++;
    }
    return 0;
}

static int parse_exec(yaml_document_t *doc, yaml_node_t *ex, const char *dir, kube_access *out,
                      char *err, size_t errlen)
{
    kube_exec *e = calloc(1, sizeof *e);
    if (e == NULL) return -1;
    out->exec = e;
    const char *api = map_str(doc, ex, "apiVersion");
    const char *cmd = map_str(doc, ex, "command");
    if (api == NULL || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
                        strcmp(api, "client.authentication.k8s.io/v1beta1") != 0)) {
        snprintf(err, errlen,
                 "exec: apiVersion must be client.authentication.k8s.io/v1 or "
                 "v1beta1");
        return -1;
    }
    if (cmd == NULL || cmd[0] == '\0') {
        snprintf(err, errlen, "exec: command is missing");
        return -1;
    }
    if (strcmp(api, "client.authentication.k8s.io/v1") == 0 &&
        map_get(doc, ex, "interactiveMode") == NULL) {
        snprintf(err, errlen,
                 "exec: interactiveMode is required for client.authentication.k8s.io/v1");
        return -1;
    }
    const char *mode = map_str(doc, ex, "interactiveMode");
    if (mode != NULL && strcmp(mode, "Always") == 0) {
        snprintf(err, errlen, "exec: interactiveMode Always cannot work without a terminal");
        return -1;
    }
    e->api_version = strdup(api);
    e->command = strchr(cmd, '/') != NULL ? resolve_path(dir, cmd) : strdup(cmd);
    if (e->api_version == NULL || e->command == NULL) return -1;
    if (str_list(doc, map_get(doc, ex, "args"), &e->args, &e->n_args, "exec.args", err, errlen))
        return -1;
    yaml_node_t *env = map_get(doc, ex, "env");
    if (env != NULL) {
        if (env->type != YAML_SEQUENCE_NODE) {
            snprintf(err, errlen, "exec.env must be a list of {name, value}");
            return -1;
        }
        size_t cnt = (size_t)(env->data.sequence.items.top - env->data.sequence.items.start);
        e->env = calloc(cnt + 1, sizeof *e->env);
        if (e->env == NULL) return -1;
        for (size_t k = 0; k < cnt; k++) {
            yaml_node_t *item = yaml_document_get_node(doc, env->data.sequence.items.start[k]);
            const char *n = map_str(doc, item, "name"), *v = map_str(doc, item, "value");
            if (n == NULL || v == NULL || n[0] == '\0' || strchr(n, '=') != NULL) {
                snprintf(err, errlen, "exec.env[%zu] needs a name and a value", k);
                return -1;
            }
            size_t len = strlen(n) + strlen(v) + 2;
            e->env[k] = malloc(len);
            if (e->env[k] == NULL) return -1;
            snprintf(e->env[k], len, "%s=%s", n, v);
            e->n_env++;
        }
    }
    return 0;
}

/* Parses kubeconfig text; see kubeconfig.h. */
int kubeconfig_parse(const char *text, size_t len, const char *dir, const char *context,
                     kube_access *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    bool have_doc = false;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%zu:%zu: %s", parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "not a kubeconfig (no mapping at the top)");
        goto out;
    }
    const char *ctx_name = context != NULL ? context : map_str(&doc, root, "current-context");
    if (ctx_name == NULL || ctx_name[0] == '\0') {
        snprintf(err, errlen, "no context given and no current-context");
        goto out;
    }
    yaml_node_t *ctx = named_item(&doc, root, "contexts", ctx_name, "context");
    if (ctx == NULL) {
        snprintf(err, errlen, "context \"%.100s\" not found", ctx_name);
        goto out;
    }
    const char *cluster_name = map_str(&doc, ctx, "cluster");
    const char *user_name = map_str(&doc, ctx, "user");
    yaml_node_t *cl =
        cluster_name ? named_item(&doc, root, "clusters", cluster_name, "cluster") : NULL;
    if (cl == NULL) {
        snprintf(err, errlen, "context \"%.100s\": cluster \"%.100s\" not found", ctx_name,
                 cluster_name ? cluster_name : "");
        goto out;
    }
    yaml_node_t *user = user_name ? named_item(&doc, root, "users", user_name, "user") : NULL;
    if (user_name != NULL && user == NULL) {
        snprintf(err, errlen, "context \"%.100s\": user \"%.100s\" not found", ctx_name, user_name);
        goto out;
    }
    snprintf(out->source, sizeof out->source, "context %.100s", ctx_name);
    const char *server = map_str(&doc, cl, "server");
    if (server == NULL || strncmp(server, "https://", 8) != 0) {
        snprintf(err, errlen,
                 "cluster \"%.100s\": server must be an https:// URL (credentials "
                 "are only sent over TLS)",
                 cluster_name);
        goto out;
    }
    if (dup_opt(server, &out->server) != 0) goto nomem;
    size_t sl = strlen(out->server);
    while (sl > 8 && out->server[sl - 1] == '/')
        out->server[--sl] = '\0';
    out->ca_file = resolve_path(dir, map_str(&doc, cl, "certificate-authority"));
    if (decode_field(map_str(&doc, cl, "certificate-authority-data"), "certificate-authority-data",
                     &out->ca_data, &out->ca_data_len, err, errlen) != 0)
        goto out;
    out->insecure = yaml_true(map_str(&doc, cl, "insecure-skip-tls-verify"));
    if (dup_opt(map_str(&doc, cl, "tls-server-name"), &out->tls_server_name) != 0) goto nomem;
    if (dup_opt(map_str(&doc, ctx, "namespace"), &out->namespace_) != 0) goto nomem;
    if (user != NULL) {
        if (dup_opt(map_str(&doc, user, "token"), &out->token) != 0) goto nomem;
        out->token_file = resolve_path(dir, map_str(&doc, user, "tokenFile"));
        out->cert_file = resolve_path(dir, map_str(&doc, user, "client-certificate"));
        out->key_file = resolve_path(dir, map_str(&doc, user, "client-key"));
        if (decode_field(map_str(&doc, user, "client-certificate-data"), "client-certificate-data",
                         &out->cert_data, &out->cert_data_len, err, errlen) != 0 ||
            decode_field(map_str(&doc, user, "client-key-data"), "client-key-data", &out->key_data,
                         &out->key_data_len, err, errlen) != 0)
            goto out;
        bool has_cert = out->cert_file || out->cert_data, has_key = out->key_file || out->key_data;
        if (has_cert != has_key) {
            snprintf(err, errlen,
                     "user \"%.100s\": a client certificate needs its key and the "
                     "other way round",
                     user_name);
            goto out;
        }
        yaml_node_t *ex = map_get(&doc, user, "exec");
        if (ex != NULL && parse_exec(&doc, ex, dir, out, err, errlen) != 0) {
            if (err[0] == '\0') snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (map_get(&doc, user, "auth-provider") != NULL && !out->token && !out->token_file &&
            !out->exec && !out->cert_file && !out->cert_data) {
            snprintf(err, errlen,
                     "user \"%.100s\": auth-provider is not supported (removed from "
                     "client-go in 1.26); use an exec plugin",
                     user_name);
            goto out;
        }
    }
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0) kube_access_free(out);
    return rc;
}

/* Reads a whole small file into a NUL-terminated buffer (the caller wipes
 * it: a kubeconfig holds tokens and keys). Unbuffered, so that no stdio
 * buffer keeps a copy. */
static int read_small_file(const char *path, size_t cap, char **out, size_t *outlen, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IONBF, 0);
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, cap + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > cap) {
        secret_free_n(buf, cap + 1);
        snprintf(err, errlen, "%.200s: %s", path, bad ? "read error" : "file too large");
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

int kubeconfig_load(const char *paths, const char *context, kube_access *out, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    const char *p = paths;
    bool found = false;
    while (!found && p != NULL && *p != '\0') {
        size_t k = strcspn(p, ":");
        if (k > 0 && k < sizeof path - 256) {
            if (p[0] == '~' && p[1] == '/') {
                const char *home = getenv("HOME");
                snprintf(path, sizeof path, "%s%.*s", home ? home : "", (int)k - 1, p + 1);
            } else {
                snprintf(path, sizeof path, "%.*s", (int)k, p);
            }
            struct stat st;
            if (stat(path, &st) == 0) found = true;
        }
        p += k;
        if (*p == ':') p++;
    }
    if (!found) {
        snprintf(err, errlen, "no kubeconfig file found in \"%.200s\"", paths);
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    if (read_small_file(path, KUBECONFIG_MAX_BYTES, &text, &len, err, errlen) != 0) return -1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char perr[300];
    int rc = kubeconfig_parse(text, len, dir, context, out, perr, sizeof perr);
    secret_free_n(text, len);
    if (rc != 0) {
        snprintf(err, errlen, "%.200s: %s", path, perr);
        return -1;
    }
    char src[sizeof out->source];
    snprintf(src, sizeof src, "kubeconfig %.120s, %.100s", path, out->source);
    memcpy(out->source, src, sizeof src);
    return 0;
}

int kube_access_in_cluster(const char *sa_path, const char *server, kube_access *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    char buf[512];
    if (server != NULL) {
        snprintf(buf, sizeof buf, "%s", server);
    } else {
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (host == NULL || port == NULL || host[0] == '\0' || port[0] == '\0') return 1;
        bool v6 = strchr(host, ':') != NULL;
        snprintf(buf, sizeof buf, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
    }
    out->server = strdup(buf);
    snprintf(buf, sizeof buf, "%s/token", sa_path);
    out->token_file = strdup(buf);
    snprintf(buf, sizeof buf, "%s/ca.crt", sa_path);
    out->ca_file = strdup(buf);
    if (out->server == NULL || out->token_file == NULL || out->ca_file == NULL) {
        kube_access_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct stat st;
    if (stat(out->ca_file, &st) != 0) {
        snprintf(err, errlen, "in-cluster: %.200s: %s (TLS is never used unverified)", out->ca_file,
                 strerror(errno));
        kube_access_free(out);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s/namespace", sa_path);
    char *ns = NULL;
    size_t len = 0;
    char ignore[64];
    if (read_small_file(buf, 253, &ns, &len, ignore, sizeof ignore) == 0) {
        while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == ' ' || ns[len - 1] == '\r'))
            ns[--len] = '\0';
        if (len > 0)
            out->namespace_ = ns;
        else
            free(ns);
    }
    snprintf(out->source, sizeof out->source, "in-cluster (%.200s)", sa_path);
    return 0;
}
