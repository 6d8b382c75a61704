/* dial: one outgoing distribution connection, blocking, with a total
 * deadline over our EPMD lookup and ei's handshake, and a clear reason when
 * it fails (no EPMD, name not registered, cookie rejected, timeout, ...).
 * Used by link workers and by CLI commands; never call it on the loop. */
#ifndef CLUSTERD_DIAL_H
#define CLUSTERD_DIAL_H

#include <stddef.h>

#include "cnode.h"

/* Returns the connected fd (close with ei_close_connection) or -1 with err. */
int dial_node(cnode *cn, const char *node, unsigned timeout_ms, char *err, size_t errlen);

#endif
