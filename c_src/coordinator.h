/* coordinator: wires discovery -> planner -> links. Owns the member table,
 * the last good member set per topology (fail static), per-pair backoff,
 * the recent-actions history and the state snapshot that `status` serves.
 * Runs entirely on one libuv loop. */
#ifndef CLUSTERD_COORDINATOR_H
#define CLUSTERD_COORDINATOR_H

#include <stdbool.h>
#include <uv.h>

#include <jansson.h>

#include "cnode.h"
#include "config.h"

typedef struct coordinator coordinator;

/* Creates the coordinator on loop. It owns cfg from here on (also when it
 * fails); config_path (copied; NULL = no SIGHUP reloads) is re-read on
 * SIGHUP. cn is an initialised cnode (borrowed). */
coordinator *coordinator_new(uv_loop_t *loop, config *cfg, const char *config_path, cnode *cn);
/* Starts discovery and links. 0 or -1 with err. */
int coordinator_start(coordinator *co, char *err, size_t errlen);
/* Stops everything; the loop then drains and uv_run returns. */
void coordinator_stop(coordinator *co);
void coordinator_free(coordinator *co);

/* One-shot use (`clusterd form`): fn(co, arg) runs after each reconcile that
 * finds every desired member reachable and every link observed, once every
 * topology has answered. fn must not free co; it may schedule a stop. */
typedef void (*coordinator_full_mesh_fn)(coordinator *co, void *arg);
void coordinator_on_full_mesh(coordinator *co, coordinator_full_mesh_fn fn, void *arg);

/* The state snapshot (status reply, `status --json`). Caller decrefs. */
json_t *coordinator_status_json(const coordinator *co);

#endif
