/* discovery/kubernetes_dns: Cluster.Strategy.Kubernetes.DNS, the A records of
 * a headless service as `application_name@<ip>`. Unlike libcluster (A only,
 * and an error or empty answer disconnects everyone) it also reads AAAA
 * (`application_name@<ipv6>`), follows CNAMEs, and fails static: see
 * dns_common.h. `service` is queried as written: with the search domains of
 * resolv.conf unless it ends with a dot. */
#include <stdio.h>

#include "discovery.h"
#include "discovery/dns_common.h"

static const opt_spec kubernetes_dns_options[] = {
    {.name = "service",
     .type = OPT_STRING,
     .required = true,
     .help = "the headless service's DNS name, e.g. \"myapp-headless.default.svc.cluster.local\" "
             "(a short name goes through resolv.conf's search domains)"},
    {.name = "application_name",
     .type = OPT_STRING,
     .required = true,
     .help = "the alive part of every member: application_name@<ip>"},
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between look-ups (sooner when the answers' TTL is shorter, at least 1 s)"},
};

static int kubernetes_dns_validate(const opt_values *ov, char *err, size_t errlen)
{
    return dns_address_validate(ov, "service", "application_name", err, errlen);
}

static int kubernetes_dns_start(discovery *d, char *err, size_t errlen)
{
    return dns_address_start(d, "service", "application_name", err, errlen);
}

/* Cluster.Strategy.Kubernetes.DNS. */
const strategy_ops strategy_kubernetes_dns = {
    .module = "Cluster.Strategy.Kubernetes.DNS",
    .alias = "kubernetes_dns",
    .options = kubernetes_dns_options,
    .n_options = sizeof kubernetes_dns_options / sizeof kubernetes_dns_options[0],
    .start = kubernetes_dns_start,
    .stop = dns_rounds_stop,
    .validate = kubernetes_dns_validate,
};
