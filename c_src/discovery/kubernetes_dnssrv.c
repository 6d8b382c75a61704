/* discovery/kubernetes_dnssrv: Cluster.Strategy.Kubernetes.DNSSRV, the SRV
 * records of a headless service (a StatefulSet's pods with hostnames) as
 * `application_name@<target>` without the final dot. The name asked is
 * libcluster's bare `<service>.<namespace>.svc.<cluster domain>.`, or with
 * `port_name` the `_<port_name>._<protocol>.` form that every DNS server
 * for Kubernetes answers. The cluster domain is `cluster_domain`, else
 * $CLUSTER_DOMAIN (as libcluster reads it), else cluster.local; the name is
 * always absolute (a final dot), so no search domain applies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "discovery/dns_common.h"

#define DEFAULT_CLUSTER_DOMAIN "cluster.local"

static const opt_spec kubernetes_dnssrv_options[] = {
    {.name = "service",
     .type = OPT_STRING,
     .required = true,
     .help = "the headless service's name, e.g. \"myapp-headless\""},
    {.name = "namespace", .type = OPT_STRING, .required = true, .help = "its namespace"},
    {.name = "application_name",
     .type = OPT_STRING,
     .required = true,
     .help = "the alive part of every member: application_name@<SRV target>"},
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between look-ups (sooner when the answers' TTL is shorter, at least 1 s)"},
    {.name = "cluster_domain",
     .type = OPT_STRING,
     .help = "clusterd's own: the cluster's DNS domain; default $CLUSTER_DOMAIN, else "
             "cluster.local"},
    {.name = "port_name",
     .type = OPT_STRING,
     .help = "clusterd's own: ask _<port_name>._<protocol>.<service>... instead of the bare "
             "name, e.g. \"epmd\""},
    {.name = "protocol",
     .type = OPT_STRING,
     .def_str = "tcp",
     .help = "clusterd's own: the protocol label with port_name (default tcp)"},
};

/* Builds the SRV name into buf; -1 with err when it is not a DNS name. */
static int srv_name(const opt_values *ov, char *buf, size_t len, char *err, size_t errlen)
{
    const char *domain = opts_str(ov, "cluster_domain");
    if (domain == NULL) domain = getenv("CLUSTER_DOMAIN");
    if (domain == NULL || domain[0] == '\0') domain = DEFAULT_CLUSTER_DOMAIN;
    size_t dl = strlen(domain);
    if (dl > 0 && domain[dl - 1] == '.') dl--;
    const char *port = opts_str(ov, "port_name");
    const char *proto = opts_str(ov, "protocol");
    int n;
    if (port != NULL)
        n = snprintf(buf, len, "_%s._%s.%s.%s.svc.%.*s.", port, proto ? proto : "tcp",
                     opts_str(ov, "service"), opts_str(ov, "namespace"), (int)dl, domain);
    else
        n = snprintf(buf, len, "%s.%s.svc.%.*s.", opts_str(ov, "service"),
                     opts_str(ov, "namespace"), (int)dl, domain);
    if (n < 0 || (size_t)n >= len) {
        snprintf(err, errlen, "the SRV name is longer than 253 characters");
        return -1;
    }
    return dns_check_query_name("the SRV name", buf, err, errlen);
}

static int kubernetes_dnssrv_validate(const opt_values *ov, char *err, size_t errlen)
{
    char name[300];
    if (dns_check_basename("application_name", opts_str(ov, "application_name"), err, errlen))
        return -1;
    return srv_name(ov, name, sizeof name, err, errlen);
}

static int kubernetes_dnssrv_start(discovery *d, char *err, size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    char name[300];
    if (kubernetes_dnssrv_validate(ov, err, errlen) != 0) return -1;
    srv_name(ov, name, sizeof name, err, errlen);
    dns_rounds_config c = {
        .basename = opts_str(ov, "application_name"),
        .names = {name},
        .types = {DNS_TYPE_SRV},
        .n_lookups = 1,
        .interval_ms = (unsigned long long)opts_int(ov, "polling_interval"),
    };
    return dns_rounds_start(d, &c, err, errlen);
}

/* Cluster.Strategy.Kubernetes.DNSSRV. */
const strategy_ops strategy_kubernetes_dnssrv = {
    .module = "Cluster.Strategy.Kubernetes.DNSSRV",
    .alias = "kubernetes_dnssrv",
    .options = kubernetes_dnssrv_options,
    .n_options = sizeof kubernetes_dnssrv_options / sizeof kubernetes_dnssrv_options[0],
    .start = kubernetes_dnssrv_start,
    .stop = dns_rounds_stop,
    .validate = kubernetes_dnssrv_validate,
};
