/* kube_members: who is a member, from Kubernetes objects. Pure: given the
 * current EndpointSlices, Endpoints or Pods (decoded JSON, as listed or as
 * the last watch event left them) it fills a discovery_result with members,
 * leaving (terminating) nodes and one evidence line per address saying why
 * it is in or out. Rules (kubernetes/endpointslice): finished pods and pods
 * without an IP are out; a terminating pod (deletionTimestamp, or slice
 * condition terminating) is "leaving": never newly connected and never
 * disconnected by clusterd; a not-ready one is out unless require_ready is
 * off; EndpointSlices are joined and de-duplicated by address. */
#ifndef CLUSTERD_KUBE_MEMBERS_H
#define CLUSTERD_KUBE_MEMBERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "discovery.h"

typedef enum { KUBE_LOOKUP_ENDPOINTSLICES, KUBE_LOOKUP_ENDPOINTS, KUBE_LOOKUP_PODS } kube_lookup;
typedef enum { KUBE_NAME_IP, KUBE_NAME_DNS, KUBE_NAME_HOSTNAME } kube_name_mode;

/* How node names are built (libcluster's `mode`). Strings are borrowed. */
typedef struct kube_naming {
    kube_name_mode mode;
    const char *basename;       /* kubernetes_node_basename */
    const char *namespace_;     /* used when an object carries none */
    const char *service_name;   /* kubernetes_service_name (hostname mode) */
    const char *cluster_domain; /* CLUSTER_DOMAIN or <cluster_name>.local, no trailing dot */
    bool require_ready;
} kube_naming;

/* The node name for one address: ip → base@ip; dns → base@<ip with . and :
 * as ->.<ns>.pod.<domain>; hostname → base@<hostname>.<svc>.<ns>.svc.<domain>.
 * Returns 0, or -1 with why (no hostname, no service name, too long). */
int kube_node_name(const kube_naming *nm, const char *ip, const char *hostname, const char *ns,
                   char *out, size_t outlen, char *why, size_t whylen);

/* Fills r from objects[0..n) of the lookup's kind (see above). */
void kube_members_compute(kube_lookup lookup, const kube_naming *nm, json_t *const *objects,
                          size_t n, discovery_result *r);

#endif
