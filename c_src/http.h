/* http: the /metrics, /healthz and /readyz endpoint (libmicrohttpd on its
 * own thread). The HTTP thread never touches the event loop's state: the
 * loop publishes a snapshot (the metrics text, readiness and a heartbeat)
 * under a mutex, and requests are answered from the latest snapshot. A
 * publish only swaps a pointer under the lock, so the loop never waits for
 * a slow client. Connections are bounded in number and in time. */
#ifndef CLUSTERD_HTTP_H
#define CLUSTERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* /healthz answers 503 once the loop has not published for this long. */
#define HTTP_STALE_MS 15000u

typedef struct http_server http_server;

/* Binds cfg->addr:cfg->port and starts serving (before the first publish,
 * /metrics is empty and /readyz says not ready). NULL with err on failure
 * (e.g. the address is in use). Free with http_stop(). */
http_server *http_start(const config_http *cfg, char *err, size_t errlen);
/* The bound port (the chosen one when cfg->port was 0). */
int http_port(const http_server *s);
/* Replaces the snapshot. Takes ownership of metrics (malloc'd text of len
 * bytes; NULL keeps the previous text). not_ready says why /readyz is 503
 * (copied; ignored when ready). Also counts as the loop's heartbeat. */
void http_publish(http_server *s, char *metrics, size_t len, bool ready, const char *not_ready);
/* Stops the server (closing every connection; joins its thread) and frees
 * it. Accepts NULL. */
void http_stop(http_server *s);

#endif
