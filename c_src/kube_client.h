/* kube_client: HTTPS GETs to one Kubernetes API server on the libuv loop.
 * libcurl's multi interface is driven by uv_poll (its sockets) and a
 * uv_timer (its timeouts), so nothing here blocks the loop. Each request has
 * its own deadline; a streamed request (a watch) hands 200-status body bytes
 * to a callback as they arrive. Requests carry User-Agent clusterd/VERSION,
 * Accept: application/json and the credential: a bearer token (inline, or a
 * token file re-read at most every 60 s and after every 401), a client
 * certificate, or an exec plugin's credential (run as a child process,
 * bounded by a timeout, cached until it expires or a 401 arrives).
 * Ownership: the client owns its kube_access; requests belong to the client
 * and are freed after their done callback returns (or on cancel). */
#ifndef CLUSTERD_KUBE_CLIENT_H
#define CLUSTERD_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "kube_json.h"
#include "kubeconfig.h"

typedef struct kube_client kube_client;
typedef struct kube_request kube_request;

typedef struct kube_response {
    long http_status; /* 0 when no HTTP reply arrived (transport error) */
    char error[256];  /* transport error, or "" */
    const char *body; /* non-streamed 2xx body, or any non-2xx body (capped) */
    size_t body_len;
    long retry_after_s; /* the Retry-After header in seconds, or -1 */
    bool body_truncated;
} kube_response;

/* Streamed bytes of a 200 reply. Return non-zero to abort the request (done
 * then reports the error text the callback wrote via kube_request_abort). */
typedef int (*kube_data_fn)(void *arg, const char *data, size_t len);
typedef void (*kube_done_fn)(void *arg, const kube_response *resp);

typedef struct kube_request_opts {
    bool stream;             /* a watch: body bytes go to on_data */
    long timeout_ms;         /* total deadline of the request */
    long connect_timeout_ms; /* TCP + TLS set-up */
    size_t max_body;         /* cap of a non-streamed body */
} kube_request_opts;

/* Creates a client for access (taken over, also on failure). A warning is
 * logged for insecure-skip-tls-verify. NULL with err on failure. */
kube_client *kube_client_new(uv_loop_t *loop, kube_access *access, char *err, size_t errlen);
/* Cancels every request (no callbacks), closes handles; closed(arg) runs on
 * the loop once everything is released. Accepts NULL (closed is not called). */
void kube_client_close(kube_client *kc, void (*closed)(void *arg), void *arg);

/* Starts GET server+path_query. on_done runs exactly once, on the loop,
 * never from inside this call; NULL on allocation failure. */
kube_request *kube_client_get(kube_client *kc, const char *path_query, const kube_request_opts *o,
                              kube_data_fn on_data, kube_done_fn on_done, void *arg);
/* Cancels a request: its on_done is not called. Safe from inside callbacks. */
void kube_request_cancel(kube_request *rq);

/* Tells the client a request got 401: the token file is re-read (or the exec
 * plugin re-run) before the next request. */
void kube_client_unauthorized(kube_client *kc);

/* The server URL (for messages). */
const char *kube_client_server(const kube_client *kc);

/* Counters, for benchmarks and status. */
typedef struct kube_client_stats {
    unsigned long long requests, token_reads, exec_runs;
} kube_client_stats;
void kube_client_get_stats(const kube_client *kc, kube_client_stats *st);

#endif
