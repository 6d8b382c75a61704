/* cnode: our identity as a C-node: name, cookie, a fresh creation per start,
 * the listening socket and the EPMD registration (kept open while we live). */
#ifndef CLUSTERD_CNODE_H
#define CLUSTERD_CNODE_H

#include <stdbool.h>
#include <stddef.h>

#include <ei.h>

#include "nodename.h"

struct config_tls;
struct tls_context;

typedef struct cnode {
    ei_cnode ec;
    char name[NODENAME_MAX + 1];
    char alive[NODENAME_MAX + 1];
    char host[NODENAME_MAX + 1];
    unsigned creation;
    int listen_fd; /* -1 until cnode_listen */
    int port;
    int epmd_fd;             /* the EPMD registration; -1 when not published */
    struct tls_context *tls; /* distribution over TLS (owned); NULL = plain TCP */
    bool visible;            /* DFLAG_PUBLISHED in our handshakes (cnode_set_visible) */
} cnode;

/* Puts cn in the empty state cnode_close accepts (no sockets), so that a
 * command can clean up whether or not cnode_init ran. */
void cnode_clear(cnode *cn);

/* Calls ei_init() once per process; safe to call again. */
int cnode_global_init(void);

/* Sets up identity. name may be NULL (a unique name on this host is made),
 * "alive" (the host part is added: short hostname, or 127.0.0.1 for long
 * names when the host name has no dot) or "alive@host". The cookie is copied
 * into ei's structure only; the caller should wipe its own copy. */
int cnode_init(cnode *cn, const char *name, bool longnames, const char *cookie, char *err,
               size_t errlen);

/* cnode_init, with distribution over TLS when tls is not NULL (node.tls:):
 * every connection made or accepted by cn then runs TLS first. Fails with a
 * reason naming the file when a certificate or key cannot be loaded. */
int cnode_init_tls(cnode *cn, const char *name, bool longnames, const char *cookie,
                   const struct config_tls *tls, char *err, size_t errlen);

/* Visible (a published node: in the members' nodes()) or hidden, the
 * default, for every connection made or accepted afterwards. Process-wide
 * (it lives in the transport); call before the first connect. Changing it
 * later would leave existing connections as they were, so `run` sets it
 * once and a reload only warns. */
void cnode_set_visible(cnode *cn, bool visible);

/* Listens on an ephemeral port and registers the name in EPMD (timeout_ms).
 * Fails when the name is already registered. */
int cnode_listen_publish(cnode *cn, int timeout_ms, char *err, size_t errlen);

/* Unregisters and closes. Accepts a zeroed or half-initialised cnode. */
void cnode_close(cnode *cn);

/* A unique hidden name for a CLI invocation: "clusterd-cli-<pid>-<rand>". */
void cnode_unique_alive(char *out, size_t outlen, const char *prefix);

#endif
