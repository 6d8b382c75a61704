/* probe: one-shot observation for CLI commands. Connects to a set of nodes
 * at once through links (observe-only: no forwarder is started), runs the
 * same list of RPCs on each node that answers, all in parallel, and returns
 * per node how the connect went (dial failure kind, timings) and each RPC's
 * reply or failure with its round-trip time. Every step is bounded by the
 * connect and RPC deadlines, so one dead node costs only its own deadline.
 * Runs its own libuv loop to completion; call it from a command, never from
 * inside another loop. */
#ifndef CLUSTERD_PROBE_H
#define CLUSTERD_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include <ei.h>

#include "cnode.h"
#include "dial.h"

/* One RPC: Mod:Fun(Args), args an encoded list without version byte. */
typedef struct probe_call {
    const char *mod;
    const char *fun;
    const ei_x_buff *args;
} probe_call;

typedef struct probe_reply {
    bool ok;
    char reason[256]; /* when !ok: timeout, link down, badrpc text */
    char *term;       /* when ok: the reply term (no version byte), malloc'd */
    size_t len;
    unsigned rtt_us; /* request sent -> reply received */
} probe_reply;

typedef struct probe_target {
    const char *node;     /* in (borrowed) */
    bool reached;         /* out: the connection came up */
    dial_info dial;       /* out: the connect attempt */
    char error[256];      /* out: why it was not reached */
    probe_reply *replies; /* out: one per call (owned; probe_targets_free) */
} probe_target;

/* Probes the n targets with the n_calls calls (n_calls may be 0: connect
 * only). Returns 0 (each target's fields tell what happened) or -1 with err
 * when the probe itself could not run. */
int probe_run(cnode *cn, probe_target *t, size_t n, const probe_call *calls, size_t n_calls,
              unsigned connect_timeout_ms, unsigned rpc_timeout_ms, char *err, size_t errlen);

/* Decoders for a successful reply. probe_reply_atoms: a list of atoms that
 * are node names (others skipped) as a sorted strv (caller frees with
 * strv_free); -1 when the reply is not such a list. probe_reply_text: any
 * term printed as Erlang text (a string as its characters, without quotes). */
int probe_reply_atoms(const probe_reply *rep, char ***out, size_t *n);
void probe_reply_text(const probe_reply *rep, char *out, size_t outlen);

/* Frees what probe_run put in the targets (not the array). */
void probe_targets_free(probe_target *t, size_t n, size_t n_calls);

#endif
