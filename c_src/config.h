/* config: YAML file -> validated settings. Every error is reported as
 * "file:line:col: message" (1-based), all of them in one run. Unknown keys are
 * errors. Ownership: config_load* returns a config the caller frees with
 * config_free(); config_diag lists are freed with config_diag_free(). */
#ifndef CLUSTERD_CONFIG_H
#define CLUSTERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "opts.h"

struct strategy_ops;
struct config_tls;

/* One argument of a connect/disconnect MFA, as written in YAML. */
typedef enum { MFA_ARG_INT, MFA_ARG_ATOM, MFA_ARG_BINARY } mfa_arg_kind;
typedef struct config_mfa_arg {
    mfa_arg_kind kind;
    long long i; /* MFA_ARG_INT */
    char *text;  /* atom name or binary contents (owned) */
} config_mfa_arg;

/* libcluster's {Module, Function, Args}; the node name is appended to Args.
 * YAML: `connect: [net_kernel, connect_node, []]` (an Elixir module such as
 * MyApp.Cluster becomes 'Elixir.MyApp.Cluster'; ":name" is the atom name). */
typedef struct config_mfa {
    char *module;   /* atom text, owned; NULL = the default */
    char *function; /* atom text, owned */
    config_mfa_arg *args;
    size_t nargs;
} config_mfa;

typedef struct config_topology {
    char *name;                          /* owned */
    const struct strategy_ops *strategy; /* from the strategy table */
    bool prune;                          /* clusterd's own; default true */
    config_mfa connect;                  /* default net_kernel:connect_node */
    config_mfa disconnect;               /* default erlang:disconnect_node */
    opt_values options;                  /* the strategy's `config:` map */
    int line, col;                       /* position of the topology's key */
} config_topology;

typedef struct config_node {
    char *name;                   /* node name as written (owned); NULL = default */
    bool longnames;               /* `name:` (true) or `sname:` (false) */
    char *cookie_file;            /* owned or NULL */
    char *cookie_env;             /* owned or NULL */
    bool visible;                 /* visibility: visible */
    long long connect_timeout_ms; /* total deadline for EPMD lookup + handshake */
    long long rpc_timeout_ms;     /* deadline for every RPC */
    long long net_ticktime_s;     /* members' net_ticktime; links silent for this long are dead */
    struct config_tls *tls;       /* node.tls: distribution over TLS (owned); NULL = plain TCP */
} config_node;

/* http: the /metrics, /healthz and /readyz endpoint; off when listen is NULL. */
typedef struct config_http {
    char *listen;                   /* "addr:port" as written (owned); NULL = no endpoint */
    char *addr;                     /* the IP literal, without brackets (owned) */
    int port;                       /* 0..65535; 0 = any free port (logged at start) */
    long long max_connections;      /* connections served at once; more are refused */
    long long connection_timeout_s; /* an idle or slow connection is closed after this */
} config_http;

typedef struct config {
    char *path; /* as given (owned) */
    config_node node;
    config_http http;
    char **nameservers; /* resolver.nameservers, "host:port" (owned) */
    size_t n_nameservers;
    long long poll_interval_ms;  /* reconcile.poll_interval: safety-net observation poll */
    long long backoff_min_ms;    /* reconcile.backoff_min: first retry delay */
    long long backoff_max_ms;    /* reconcile.backoff_max: retry delay cap */
    long long max_actions_per_s; /* reconcile.max_actions_per_second: action rate limit */
    config_topology *topologies; /* owned, n_topologies entries, in file order */
    size_t n_topologies;
} config;

/* Errors and warnings, each already formatted as "file:line:col: message". */
typedef struct config_diag {
    char **errors;
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
} config_diag;

/* Parses and validates. Returns 0 and *out on success (warnings may still be
 * added to diag), -1 with every error in diag otherwise. diag is reset first
 * (it need not be initialised); diag NULL drops the messages; out NULL only
 * validates. */
int config_load_file(const char *path, config **out, config_diag *diag);
/* Same from memory; `label` stands in for the file name in messages. */
int config_load_string(const char *text, size_t len, const char *label, config **out,
                       config_diag *diag);

void config_free(config *cfg);
void config_diag_free(config_diag *diag);

/* The table of the `node:` section and the top-level `reconcile:` section, for help output. */
extern const opt_spec config_node_options[];
extern const size_t config_node_options_count;
extern const opt_spec config_reconcile_options[];
extern const size_t config_reconcile_options_count;
extern const opt_spec config_http_options[];
extern const size_t config_http_options_count;

#endif
