/* kubeconfig: how to reach a Kubernetes API server. kube_access holds the
 * server address, how to verify it and how to authenticate, from a
 * kubeconfig file (libyaml; the debugging-CLI subset of clientcmd: contexts,
 * server, certificate-authority(-data), insecure-skip-tls-verify,
 * tls-server-name, token, tokenFile, client-certificate(-data),
 * client-key(-data), exec plugins v1/v1beta1) or from a pod's service account
 * (in-cluster). Ownership: every string in kube_access is owned by it;
 * kube_access_free releases them (accepts NULL). */
#ifndef CLUSTERD_KUBECONFIG_H
#define CLUSTERD_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* An exec credential plugin (client.authentication.k8s.io). */
typedef struct kube_exec {
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;     /* resolved against the kubeconfig's directory if it has a '/' */
    char **args;
    size_t n_args;
    char **env; /* "NAME=VALUE" */
    size_t n_env;
} kube_exec;

typedef struct kube_access {
    char *server; /* https://host:port (no trailing slash) */
    char *ca_file;
    char *ca_data; /* PEM, decoded from base64 */
    size_t ca_data_len;
    bool insecure; /* insecure-skip-tls-verify: true (warned) */
    char *tls_server_name;
    char *token;
    char *token_file;
    char *cert_file, *key_file;
    char *cert_data, *key_data; /* PEM, decoded */
    size_t cert_data_len, key_data_len;
    char *namespace_; /* the context's namespace, or the in-cluster namespace file */
    kube_exec *exec;
    char source[256]; /* for messages: "kubeconfig F, context C" / "in-cluster" */
} kube_access;

void kube_access_free(kube_access *a);

/* Parses kubeconfig text. dir: the file's directory (relative paths resolve
 * against it). context NULL: current-context. Returns 0, or -1 with err. */
int kubeconfig_parse(const char *text, size_t len, const char *dir, const char *context,
                     kube_access *out, char *err, size_t errlen);

/* Reads a kubeconfig file (a leading "~/" is $HOME) and parses it. For a
 * colon-separated $KUBECONFIG list, the first file that exists is read. */
int kubeconfig_load(const char *paths, const char *context, kube_access *out, char *err,
                    size_t errlen);

/* In-cluster access: https://KUBERNETES_SERVICE_HOST:PORT (IPv6 bracketed),
 * or server when not NULL; the token file and ca.crt under sa_path (ca.crt
 * must exist: there is no fall-back to an unverified connection), the
 * namespace file if present. Returns 0, 1 when server is NULL and the
 * environment variables are not both set (not in a pod), or -1 with err. */
int kube_access_in_cluster(const char *sa_path, const char *server, kube_access *out, char *err,
                           size_t errlen);

/* Standard base64 (padding optional, whitespace ignored) into a malloc'd
 * buffer with a terminating NUL. Returns 0, or -1 on bad input. */
int kube_base64_decode(const char *in, size_t len, char **out, size_t *outlen);

#endif
