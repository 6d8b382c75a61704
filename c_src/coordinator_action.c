/* coordinator_action: turns a planned mesh_action into RPCs on the member
 * (one parallel-connect erl_eval expression, one lists:map batch per MFA, or
 * one call per target for an MFA with arguments), handles their replies
 * (pair backoff, heal count, logs) and keeps the ring of recent actions that
 * status shows. See coordinator_internal.h. */
#include "coordinator_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"
#include "transport.h"

/* One RPC in flight for a planned action; owned by the RPC's callback,
 * which frees it (or by the sender when the RPC could not be sent). */
typedef struct action_ctx {
    coordinator *co;
    char on[NODENAME_MAX + 1];
    mesh_action_kind kind;
    char **targets; /* owned */
    size_t n_targets;
    size_t record; /* index into history */
} action_ctx;

/* ---- action history ---- */

static size_t history_add(coordinator *co, const char *kind, const char *on, char *const *targets,
                          size_t n, const char *reason)
{
    size_t i = co->history_next;
    action_record *r = &co->history[i];
    memset(r, 0, sizeof(*r));
    r->wall_ms = coordinator_wall_ms();
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    snprintf(r->on, sizeof(r->on), "%s", on);
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    size_t off = 0;
    for (size_t k = 0; k < n && off < sizeof(r->targets); k++) {
        int w =
            snprintf(r->targets + off, sizeof(r->targets) - off, "%s%s", k ? "," : "", targets[k]);
        if (w < 0) break;
        off += (size_t)w;
    }
    snprintf(r->result, sizeof(r->result), "pending");
    co->history_next = (i + 1) % ACTION_HISTORY;
    if (co->history_count < ACTION_HISTORY) co->history_count++;
    return i;
}

const action_record *action_history_at(const coordinator *co, size_t k)
{
    size_t i = (co->history_next + ACTION_HISTORY - co->history_count + k) % ACTION_HISTORY;
    return &co->history[i];
}

/* ---- replies ---- */

/* a is in flight from here on (counted against the connect window). */
static void action_ctx_start(action_ctx *a)
{
    if (a->kind == MESH_CONNECT) a->co->connects_in_flight++;
}

static void action_ctx_free(action_ctx *a)
{
    if (a->kind == MESH_CONNECT && a->co->connects_in_flight > 0) a->co->connects_in_flight--;
    if (a->n_targets >= TRIM_TARGETS) a->co->trim_due = true;
    strv_free(a->targets, a->n_targets);
    free(a);
}

/* Results per target of lists:map(fun M:F/1, Targets): true, false, ignored. */
static void action_done(mlink *l, int status, const char *buf, int idx, const char *reason,
                        void *arg)
{
    (void)l;
    action_ctx *a = arg;
    coordinator *co = a->co;
    member *m = member_find(co, a->on);
    action_record *rec = &co->history[a->record];
    uint64_t now = transport_now_ms();
    char summary[256] = "";
    size_t off = 0;
    int arity = -1;
    if (status == 0) {
        int type, size;
        if (ei_get_type(buf, &idx, &type, &size) == 0 && type == ERL_NIL_EXT)
            arity = 0;
        else if (ei_decode_list_header(buf, &idx, &arity) < 0)
            arity = -1;
    }
    for (size_t k = 0; k < a->n_targets; k++) {
        char res[MAXATOMLEN_UTF8] = "error";
        bool ok = false;
        if (status == 0 && arity == (int)a->n_targets && ei_decode_atom(buf, &idx, res) == 0)
            ok = strcmp(res, "true") == 0;
        else if (status != 0)
            snprintf(res, sizeof(res), "%s", reason ? reason : "failed");
        pair_state *p = m ? pair_get(&co->pool, m, a->targets[k], false) : NULL;
        if (p) pair_record_result(p, ok, now, co->cfg);
        if (ok && a->kind == MESH_CONNECT) co->heals++;
        const char *verb = a->kind == MESH_CONNECT ? "connect" : "disconnect";
        /* A failed RPC (timeout, link down) fails every target alike: one
         * line for the action below, not one per target (a connect with
         * thousands of targets logged thousands of lines). */
        if (status == 0 && (!ok || log_enabled(LOG_LEVEL_DEBUG))) {
            const char *why = strcmp(res, "false") == 0 ? "false (unreachable from this node)"
                              : strcmp(res, "ignored") == 0
                                  ? "ignored (distribution not started there)"
                                  : res;
            log_event(ok ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, ok ? "action done" : "action failed",
                      "action", verb, "on", a->on, "target", a->targets[k], "result", why, LOG_END);
        }
        if (off < sizeof(summary)) {
            int w = snprintf(summary + off, sizeof(summary) - off, "%s%s=%s", k ? " " : "",
                             a->targets[k], res);
            if (w > 0) off += (size_t)w;
        }
    }
    if (status != 0) {
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", a->n_targets);
        log_event(LOG_LEVEL_WARN, "action failed", "action",
                  a->kind == MESH_CONNECT ? "connect" : "disconnect", "on", a->on, "targets", cnt,
                  "first", a->n_targets ? a->targets[0] : "", "result", reason ? reason : "failed",
                  LOG_END);
    }
    if (status == 0 && arity != (int)a->n_targets)
        log_event(LOG_LEVEL_WARN, "action: unexpected reply shape", "on", a->on, LOG_END);
    snprintf(rec->result, sizeof(rec->result), "%s", summary);
    action_ctx_free(a);
    if (!co->stopping) coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}

/* erl_eval:eval_str/1 answers {ok, Value} or {error, Text}. */
static void eval_action_done(mlink *l, int status, const char *buf, int idx, const char *reason,
                             void *arg)
{
    if (status == 0) {
        int arity = 0, i2 = idx;
        char atom[MAXATOMLEN_UTF8];
        if (ei_decode_tuple_header(buf, &i2, &arity) == 0 && arity == 2 &&
            ei_decode_atom(buf, &i2, atom) == 0 && strcmp(atom, "ok") == 0) {
            action_done(l, 0, buf, i2, NULL, arg);
            return;
        }
        action_done(l, -1, NULL, 0, "erl_eval refused the connect expression", arg);
        return;
    }
    action_done(l, status, buf, idx, reason, arg);
}

/* Custom-MFA replies are a single value, not a list: re-encode it as a
 * one-element list for action_done. */
static void custom_action_done(mlink *l, int status, const char *buf, int idx, const char *reason,
                               void *arg)
{
    if (status != 0) {
        action_done(l, status, buf, idx, reason, arg);
        return;
    }
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_list_header(&x, 1);
    int type, size;
    char atom[MAXATOMLEN_UTF8];
    int i2 = idx;
    if (ei_get_type(buf, &i2, &type, &size) == 0 && ei_decode_atom(buf, &i2, atom) == 0)
        ei_x_encode_atom(&x, atom);
    else
        ei_x_encode_atom(&x, "error");
    ei_x_encode_empty_list(&x);
    action_done(l, 0, x.buff, 0, NULL, arg);
    ei_x_free(&x);
}

/* ---- sending ---- */

/* Encodes the MFA arguments (args ++ [Node]) for one target. */
static void encode_mfa_args(ei_x_buff *x, const config_mfa *mfa, const char *node)
{
    ei_x_encode_list_header(x, (long)mfa->nargs + 1);
    for (size_t i = 0; i < mfa->nargs; i++) {
        const config_mfa_arg *a = &mfa->args[i];
        if (a->kind == MFA_ARG_INT)
            ei_x_encode_longlong(x, a->i);
        else if (a->kind == MFA_ARG_ATOM)
            ei_x_encode_atom(x, a->text);
        else
            ei_x_encode_binary(x, a->text, (long)strlen(a->text));
    }
    ei_x_encode_atom(x, node);
    ei_x_encode_empty_list(x);
}

/* The topology that desires the pair on<->target (its MFA applies). */
static const config_topology *pair_topology(const coordinator *co, const char *a, const char *b)
{
    if (co->n_topos == 1) return co->topos[0].t; /* the usual case: no look-ups */
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        if (strv_contains_sorted(ts->members, ts->n_members, a) &&
            strv_contains_sorted(ts->members, ts->n_members, b))
            return ts->t;
    }
    return co->n_topos ? co->topos[0].t : NULL;
}

/* Erlang source for erl_eval:eval_str/1 that connects to every target in
 * parallel and returns the results in order. Stock OTP only; names were
 * validated (no quotes or backslashes), so quoting them as atoms is safe. */
static char *parallel_connect_source(char *const *targets, size_t n)
{
    static const char head[] = "Self = self(), Ts = [";
    static const char tail[] =
        "], Rs = [begin R = make_ref(), "
        "spawn(fun() -> Self ! {R, net_kernel:connect_node(T)} end), R end || T <- Ts], "
        "[receive {R, X} -> X end || R <- Rs].\n";
    size_t len = sizeof(head) + sizeof(tail);
    for (size_t k = 0; k < n; k++)
        len += strlen(targets[k]) + 3;
    if (len > 60000) return NULL; /* erl_interface strings stop at 65535 */
    char *src = malloc(len);
    if (!src) return NULL;
    size_t off = (size_t)snprintf(src, len, "%s", head);
    for (size_t k = 0; k < n; k++)
        off += (size_t)snprintf(src + off, len - off, "%s'%s'", k ? "," : "", targets[k]);
    snprintf(src + off, len - off, "%s", tail);
    return src;
}

unsigned action_rpc_timeout_ms(unsigned rpc_timeout_ms, mesh_action_kind kind, size_t n_targets)
{
    if (kind != MESH_CONNECT || n_targets <= 1) return rpc_timeout_ms;
    size_t extra = n_targets - 1;
    if (extra > UINT_MAX - rpc_timeout_ms) return UINT_MAX;
    return rpc_timeout_ms + (unsigned)extra;
}

/* One RPC on `on` for targets (owned from here on) that share mfa. */
static void send_action(coordinator *co, member *on, mesh_action_kind kind, char **targets,
                        size_t n, const config_mfa *mfa, const char *reason)
{
    action_ctx *a = calloc(1, sizeof(*a));
    if (!a) {
        strv_free(targets, n);
        return;
    }
    a->co = co;
    snprintf(a->on, sizeof(a->on), "%s", on->name);
    a->kind = kind;
    a->targets = targets;
    a->n_targets = n;
    action_ctx_start(a);
    const char *kind_s = kind == MESH_CONNECT ? "connect" : "disconnect";
    a->record = history_add(co, kind_s, on->name, targets, n, reason);
    uint64_t now = transport_now_ms();
    for (size_t k = 0; k < n; k++) {
        pair_state *p = pair_get(&co->pool, on, targets[k], true);
        if (p) {
            p->in_flight = true;
            p->not_before_ms = now;
        }
    }
    unsigned tmo = action_rpc_timeout_ms((unsigned)co->cfg->node.rpc_timeout_ms, kind, n);
    ei_x_buff args;
    ei_x_new(&args);
    int rc;
    char *src = NULL;
    if (kind == MESH_CONNECT && strcmp(mfa->module, "net_kernel") == 0 &&
        strcmp(mfa->function, "connect_node") == 0 && (src = parallel_connect_source(targets, n))) {
        /* One RPC whose connects run side by side on the member (each can
         * take up to net_setuptime), results in target order. */
        ei_x_encode_list_header(&args, 1);
        ei_x_encode_string(&args, src);
        ei_x_encode_empty_list(&args);
        rc = link_rpc(on->l, "erl_eval", "eval_str", &args, tmo, eval_action_done, a);
        free(src);
    } else {
        /* One RPC for all targets: lists:map(fun M:F/1, Targets). */
        erlang_fun fun;
        memset(&fun, 0, sizeof(fun));
        fun.type = EI_FUN_EXPORT;
        fun.arity = 1;
        snprintf(fun.module, sizeof(fun.module), "%s", mfa->module);
        fun.u.exprt.func = mfa->function;
        ei_x_encode_list_header(&args, 2);
        ei_x_encode_fun(&args, &fun);
        ei_x_encode_list_header(&args, (long)n);
        for (size_t k = 0; k < n; k++)
            ei_x_encode_atom(&args, targets[k]);
        ei_x_encode_empty_list(&args);
        ei_x_encode_empty_list(&args);
        rc = link_rpc(on->l, "lists", "map", &args, tmo, action_done, a);
    }
    ei_x_free(&args);
    co->actions_sent++;
    if (rc < 0) {
        snprintf(co->history[a->record].result, sizeof(co->history[a->record].result),
                 "not sent: link down");
        for (size_t k = 0; k < n; k++) {
            pair_state *p = pair_get(&co->pool, on, targets[k], false);
            if (p) p->in_flight = false;
        }
        action_ctx_free(a);
    }
}

void action_dispatch(coordinator *co, const mesh_action *act)
{
    member *on = co->members[act->on];
    /* Group targets by the MFA of the topology that wants each pair. */
    for (size_t k = 0; k < act->n_targets; k++) {
        member *t = co->members[act->targets[k]];
        const config_topology *topo = pair_topology(co, on->name, t->name);
        if (!topo) continue;
        const config_mfa *mfa = act->kind == MESH_CONNECT ? &topo->connect : &topo->disconnect;
        if (mfa->nargs == 0) continue; /* batched below */
        char **one = calloc(2, sizeof(char *));
        if (!one) continue;
        one[0] = strdup(t->name);
        action_ctx *a = calloc(1, sizeof(*a));
        if (!a || !one[0]) {
            free(a);
            strv_free(one, 1);
            continue;
        }
        a->co = co;
        snprintf(a->on, sizeof(a->on), "%s", on->name);
        a->kind = act->kind;
        a->targets = one;
        a->n_targets = 1;
        action_ctx_start(a);
        a->record = history_add(co, act->kind == MESH_CONNECT ? "connect" : "disconnect", on->name,
                                one, 1, "custom MFA");
        pair_state *p = pair_get(&co->pool, on, t->name, true);
        if (p) {
            p->in_flight = true;
            p->not_before_ms = transport_now_ms();
        }
        ei_x_buff args;
        ei_x_new(&args);
        encode_mfa_args(&args, mfa, t->name);
        if (link_rpc(on->l, mfa->module, mfa->function, &args, 0, custom_action_done, a) < 0) {
            snprintf(co->history[a->record].result, sizeof(co->history[a->record].result),
                     "not sent: link down");
            if (p) p->in_flight = false;
            action_ctx_free(a);
        }
        ei_x_free(&args);
        co->actions_sent++;
    }
    /* Targets whose topology uses an argument-less MFA: one batched RPC per MFA. */
    char **batch = calloc(act->n_targets + 1, sizeof(char *));
    if (!batch) return;
    size_t nb = 0;
    const config_mfa *batch_mfa = NULL;
    for (size_t k = 0; k < act->n_targets; k++) {
        member *t = co->members[act->targets[k]];
        const config_topology *topo = pair_topology(co, on->name, t->name);
        if (!topo) continue;
        const config_mfa *mfa = act->kind == MESH_CONNECT ? &topo->connect : &topo->disconnect;
        if (mfa->nargs != 0) continue;
        if (batch_mfa && (strcmp(batch_mfa->module, mfa->module) != 0 ||
                          strcmp(batch_mfa->function, mfa->function) != 0)) {
            send_action(co, on, act->kind, batch, nb, batch_mfa,
                        act->kind == MESH_CONNECT ? "missing links" : "members left");
            batch = calloc(act->n_targets + 1, sizeof(char *));
            if (!batch) return;
            nb = 0;
        }
        batch_mfa = mfa;
        batch[nb] = strdup(t->name);
        if (batch[nb]) nb++;
    }
    if (nb > 0)
        send_action(co, on, act->kind, batch, nb, batch_mfa,
                    act->kind == MESH_CONNECT ? "missing links" : "members left");
    else
        free(batch);
}
