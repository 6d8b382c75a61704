/* dial: one outgoing distribution connection, blocking, with a total
 * deadline over our EPMD lookup and ei's handshake, and a clear reason when
 * it fails (no EPMD, name not registered, cookie rejected, timeout, ...).
 * Used by link workers and by CLI commands; never call it on the loop. */
#ifndef CLUSTERD_DIAL_H
#define CLUSTERD_DIAL_H

#include <stddef.h>

#include "cnode.h"

/* Why a dial failed, for commands that explain it (`ping`, `mesh`). */
typedef enum {
    DIAL_OK = 0,
    DIAL_BAD_NAME,       /* not a node name */
    DIAL_NO_EPMD,        /* nothing answers on the host's EPMD port */
    DIAL_NOT_REGISTERED, /* EPMD answered: no such name */
    DIAL_EPMD_ERROR,     /* EPMD: resolve failure, bad answer, I/O error */
    DIAL_PORT_CLOSED,    /* the registered distribution port refused the connection */
    DIAL_COOKIE,         /* the peer closed after our challenge reply: cookie mismatch */
    DIAL_REFUSED,        /* the peer refused with a status (not_allowed, alive, ...) */
    DIAL_TIMEOUT,        /* the total deadline passed */
    DIAL_TLS,            /* TLS failed (certificate, alert), or TLS on one side only */
    DIAL_FAILED,         /* anything else */
} dial_failure;

/* A short stable word for each failure ("no_epmd", "cookie_rejected", ...). */
const char *dial_failure_word(dial_failure f);

/* What one dial saw: the failure kind, the distribution port EPMD gave, and
 * how long the EPMD lookup and the handshake took. */
typedef struct dial_info {
    dial_failure why;
    int port;              /* 0 when the lookup failed */
    unsigned epmd_us;      /* EPMD lookup */
    unsigned handshake_us; /* TCP connect + distribution handshake */
} dial_info;

/* Returns the connected fd (close with ei_close_connection) or -1 with err.
 * info may be NULL. */
int dial_node_info(cnode *cn, const char *node, unsigned timeout_ms, dial_info *info, char *err,
                   size_t errlen);
int dial_node(cnode *cn, const char *node, unsigned timeout_ms, char *err, size_t errlen);

#endif
