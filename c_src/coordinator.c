/* coordinator: desired graph (discovered members, full mesh per topology)
 * against observed graph (each member's nodes()), acting only on the
 * difference. Idempotent: a restarted or second coordinator only ever asks
 * members to connect links that are missing. See coordinator.h. */
#include "coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery.h"
#include "links.h"
#include "log.h"
#include "mesh.h"
#include "transport.h"

#define HISTORY 32
#define RECONCILE_DELAY_MS 2 /* batch a burst of node events into one plan */
#define SETTLE_MS 250        /* after a connect succeeds, wait for both nodeup events */

typedef struct pair_state {
    char *peer;
    uint64_t not_before_ms; /* no new action for this pair before then */
    unsigned delay_ms;      /* next backoff after a failure */
    bool in_flight;
} pair_state;

typedef struct member {
    char *name;
    mlink *l;
    bool gone;         /* left on positive evidence; waiting until nobody sees it */
    bool has_snapshot; /* we know its nodes() */
    char **seen;       /* its nodes(), sorted */
    size_t n_seen;
    pair_state *pairs; /* actions this member ran or runs, per peer */
    size_t n_pairs;
    size_t idx; /* position during a reconcile */
} member;

struct generation;

typedef struct topo_state {
    coordinator *co;
    struct generation *gen;
    const config_topology *t;
    discovery d;
    bool started;
    char **members; /* last good set, sorted */
    size_t n_members;
    bool answered;
    bool answered_before; /* a report was handled before this one */
    bool last_ok;
    char last_error[256];
    uint64_t errors;
    uint64_t last_answer_ms;
} topo_state;

typedef struct action_record {
    uint64_t wall_ms;
    char kind[12];
    char on[NODENAME_MAX + 1];
    char targets[512];
    char result[256];
    char reason[64];
} action_record;

/* One loaded configuration and the discoveries that run from it. A reload
 * makes a new generation; the old one lives on until each of its
 * discoveries has closed, since they point into its config. */
typedef struct generation {
    config *cfg; /* owned */
    topo_state *topos;
    size_t n_topos;
    size_t open; /* discoveries started and not yet closed */
    bool retiring;
    struct generation *next; /* retiring generations */
} generation;

/* One RPC in flight for a planned action. */
typedef struct action_ctx {
    coordinator *co;
    char on[NODENAME_MAX + 1];
    mesh_action_kind kind;
    char **targets;
    size_t n_targets;
    size_t record; /* index into history */
} action_ctx;

struct coordinator {
    uv_loop_t *loop;
    char *config_path; /* for SIGHUP reloads */
    generation *gen;   /* the current configuration */
    generation *retiring;
    const config *cfg; /* gen->cfg */
    cnode *cn;
    coordinator_mode mode;
    links *ls;
    topo_state *topos; /* gen->topos */
    size_t n_topos;
    member **members; /* sorted by name */
    size_t n_members;
    uv_timer_t reconcile_timer;
    uv_timer_t poll_timer;
    uv_signal_t sig_term, sig_int, sig_hup;
    bool stopping;
    bool full_mesh;
    size_t last_missing;
    uint64_t reconciles;
    uint64_t last_reconcile_us; /* wall time of the last planning pass */
    uint64_t max_reconcile_us;
    uint64_t heals;
    uint64_t actions_sent;
    action_record history[HISTORY];
    size_t history_next;
    size_t history_count;
};

static void schedule_reconcile(coordinator *co, uint64_t delay_ms);
static void poll_cb(uv_timer_t *t);

/* ---- small helpers ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool sorted_contains(char *const *v, size_t n, const char *s)
{
    if (n == 0) return false;
    return bsearch(&s, v, n, sizeof(char *), cmp_str) != NULL;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char **dup_strv(char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            free_strv(out, i);
            return NULL;
        }
    }
    return out;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp((*(member *const *)a)->name, (*(member *const *)b)->name);
}

static member *member_find(const coordinator *co, const char *name)
{
    if (co->n_members == 0) return NULL;
    member key = {.name = (char *)name};
    member *kp = &key;
    member **m = bsearch(&kp, co->members, co->n_members, sizeof(member *), cmp_member);
    return m ? *m : NULL;
}

static ssize_t member_index(const coordinator *co, const char *name)
{
    if (co->n_members == 0) return -1;
    member key = {.name = (char *)name};
    member *kp = &key;
    member **m = bsearch(&kp, co->members, co->n_members, sizeof(member *), cmp_member);
    return m ? (ssize_t)(m - co->members) : -1;
}

static bool member_desired(const coordinator *co, const char *name)
{
    for (size_t t = 0; t < co->n_topos; t++)
        if (sorted_contains(co->topos[t].members, co->topos[t].n_members, name)) return true;
    return false;
}

static pair_state *pair_get(member *m, const char *peer, bool create)
{
    for (size_t i = 0; i < m->n_pairs; i++)
        if (strcmp(m->pairs[i].peer, peer) == 0) return &m->pairs[i];
    if (!create) return NULL;
    pair_state *np = realloc(m->pairs, (m->n_pairs + 1) * sizeof(*np));
    if (!np) return NULL;
    m->pairs = np;
    pair_state *p = &m->pairs[m->n_pairs];
    memset(p, 0, sizeof(*p));
    p->peer = strdup(peer);
    if (!p->peer) return NULL;
    m->n_pairs++;
    return p;
}

static void pair_forget(member *m, const char *peer)
{
    for (size_t i = 0; i < m->n_pairs; i++) {
        if (strcmp(m->pairs[i].peer, peer) == 0) {
            free(m->pairs[i].peer);
            m->pairs[i] = m->pairs[--m->n_pairs];
            return;
        }
    }
}

static void member_set_seen(member *m, char *const *nodes, size_t n)
{
    char **v = dup_strv(nodes, n);
    if (!v) return;
    qsort(v, n, sizeof(char *), cmp_str);
    free_strv(m->seen, m->n_seen);
    m->seen = v;
    m->n_seen = n;
    m->has_snapshot = true;
}

static void member_seen_update(member *m, const char *peer, bool up)
{
    bool present = sorted_contains(m->seen, m->n_seen, peer);
    if (up == present) return;
    if (up) {
        char **v = realloc(m->seen, (m->n_seen + 2) * sizeof(char *));
        if (!v) return;
        m->seen = v;
        m->seen[m->n_seen] = strdup(peer);
        if (!m->seen[m->n_seen]) return;
        m->n_seen++;
        qsort(m->seen, m->n_seen, sizeof(char *), cmp_str);
    } else {
        for (size_t i = 0; i < m->n_seen; i++) {
            if (strcmp(m->seen[i], peer) == 0) {
                free(m->seen[i]);
                memmove(&m->seen[i], &m->seen[i + 1], (m->n_seen - i - 1) * sizeof(char *));
                m->n_seen--;
                break;
            }
        }
    }
}

static void member_free(member *m)
{
    if (!m) return;
    free(m->name);
    free_strv(m->seen, m->n_seen);
    for (size_t i = 0; i < m->n_pairs; i++)
        free(m->pairs[i].peer);
    free(m->pairs);
    free(m);
}

static member *member_add(coordinator *co, const char *name)
{
    member *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->name = strdup(name);
    member **nv = realloc(co->members, (co->n_members + 1) * sizeof(member *));
    if (!m->name || !nv) {
        if (nv) co->members = nv;
        member_free(m);
        return NULL;
    }
    co->members = nv;
    co->members[co->n_members++] = m;
    qsort(co->members, co->n_members, sizeof(member *), cmp_member);
    m->l = links_add(co->ls, name);
    if (m->l) link_set_user(m->l, m);
    return m;
}

static void member_delete(coordinator *co, member *m)
{
    ssize_t i = member_index(co, m->name);
    if (i < 0) return;
    memmove(&co->members[i], &co->members[i + 1],
            (co->n_members - (size_t)i - 1) * sizeof(member *));
    co->n_members--;
    if (m->l) links_remove(co->ls, m->l);
    for (size_t k = 0; k < co->n_members; k++)
        pair_forget(co->members[k], m->name);
    member_free(m);
}

/* ---- action history ---- */

static size_t history_add(coordinator *co, const char *kind, const char *on, char *const *targets,
                          size_t n, const char *reason)
{
    size_t i = co->history_next;
    action_record *r = &co->history[i];
    memset(r, 0, sizeof(*r));
    r->wall_ms = wall_ms();
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
    co->history_next = (i + 1) % HISTORY;
    if (co->history_count < HISTORY) co->history_count++;
    return i;
}

/* ---- actions ---- */

static void action_ctx_free(action_ctx *a)
{
    free_strv(a->targets, a->n_targets);
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
        pair_state *p = m ? pair_get(m, a->targets[k], false) : NULL;
        if (p) {
            p->in_flight = false;
            if (ok) {
                p->delay_ms = 0;
                p->not_before_ms = now + SETTLE_MS;
            } else {
                unsigned min = (unsigned)co->cfg->backoff_min_ms;
                unsigned max = (unsigned)co->cfg->backoff_max_ms;
                p->delay_ms = p->delay_ms ? (p->delay_ms * 2 > max ? max : p->delay_ms * 2) : min;
                p->not_before_ms = now + p->delay_ms;
            }
        }
        if (ok && a->kind == MESH_CONNECT) co->heals++;
        const char *verb = a->kind == MESH_CONNECT ? "connect" : "disconnect";
        if (!ok || log_enabled(LOG_LEVEL_DEBUG)) {
            const char *why = status != 0                 ? res
                              : strcmp(res, "false") == 0 ? "false (unreachable from this node)"
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
    if (status == 0 && arity != (int)a->n_targets)
        log_event(LOG_LEVEL_WARN, "action: unexpected reply shape", "on", a->on, LOG_END);
    snprintf(rec->result, sizeof(rec->result), "%s", summary);
    action_ctx_free(a);
    if (!co->stopping) schedule_reconcile(co, RECONCILE_DELAY_MS);
}

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
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        if (sorted_contains(ts->members, ts->n_members, a) &&
            sorted_contains(ts->members, ts->n_members, b))
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

static void send_action(coordinator *co, member *on, mesh_action_kind kind, char **targets,
                        size_t n, const config_mfa *mfa, const char *reason)
{
    action_ctx *a = calloc(1, sizeof(*a));
    if (!a) {
        free_strv(targets, n);
        return;
    }
    a->co = co;
    snprintf(a->on, sizeof(a->on), "%s", on->name);
    a->kind = kind;
    a->targets = targets;
    a->n_targets = n;
    const char *kind_s = kind == MESH_CONNECT ? "connect" : "disconnect";
    a->record = history_add(co, kind_s, on->name, targets, n, reason);
    uint64_t now = transport_now_ms();
    for (size_t k = 0; k < n; k++) {
        pair_state *p = pair_get(on, targets[k], true);
        if (p) {
            p->in_flight = true;
            p->not_before_ms = now;
        }
    }
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
        rc = link_rpc(on->l, "erl_eval", "eval_str", &args, 0, eval_action_done, a);
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
        rc = link_rpc(on->l, "lists", "map", &args, 0, action_done, a);
    }
    ei_x_free(&args);
    co->actions_sent++;
    if (rc < 0) {
        snprintf(co->history[a->record].result, sizeof(co->history[a->record].result),
                 "not sent: link down");
        for (size_t k = 0; k < n; k++) {
            pair_state *p = pair_get(on, targets[k], false);
            if (p) p->in_flight = false;
        }
        action_ctx_free(a);
    }
}

/* Custom-MFA replies are a single value, not a list: adapt. */
static void custom_action_done(mlink *l, int status, const char *buf, int idx, const char *reason,
                               void *arg);

static void dispatch_action(coordinator *co, const mesh_action *act)
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
            free_strv(one, 1);
            continue;
        }
        a->co = co;
        snprintf(a->on, sizeof(a->on), "%s", on->name);
        a->kind = act->kind;
        a->targets = one;
        a->n_targets = 1;
        a->record = history_add(co, act->kind == MESH_CONNECT ? "connect" : "disconnect", on->name,
                                one, 1, "custom MFA");
        pair_state *p = pair_get(on, t->name, true);
        if (p) p->in_flight = true;
        ei_x_buff args;
        ei_x_new(&args);
        encode_mfa_args(&args, mfa, t->name);
        if (link_rpc(on->l, mfa->module, mfa->function, &args, 0, custom_action_done, a) < 0) {
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

static void custom_action_done(mlink *l, int status, const char *buf, int idx, const char *reason,
                               void *arg)
{
    /* Re-encode the single result as a one-element list for action_done. */
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

/* ---- reconcile ---- */

static void reconcile(coordinator *co)
{
    uint64_t t0 = uv_hrtime();
    size_t n = co->n_members;
    for (size_t i = 0; i < n; i++)
        co->members[i]->idx = i;
    mesh_graph desired = {0}, observed = {0}, suppressed = {0};
    bool *reachable = calloc(n + 1, sizeof(bool));
    bool *gone = calloc(n + 1, sizeof(bool));
    mesh_plan plan = {0};
    if (!reachable || !gone || mesh_graph_init(&desired, n) < 0 ||
        mesh_graph_init(&observed, n) < 0 || mesh_graph_init(&suppressed, n) < 0)
        goto out;

    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        for (size_t a = 0; a < ts->n_members; a++) {
            ssize_t ia = member_index(co, ts->members[a]);
            if (ia < 0) continue;
            for (size_t b = a + 1; b < ts->n_members; b++) {
                ssize_t ib = member_index(co, ts->members[b]);
                if (ib >= 0) mesh_graph_set_pair(&desired, (size_t)ia, (size_t)ib, true);
            }
        }
    }
    uint64_t now = transport_now_ms();
    for (size_t i = 0; i < n; i++) {
        member *m = co->members[i];
        gone[i] = m->gone;
        reachable[i] = !m->gone && m->l && link_get_state(m->l) == LINK_UP && m->has_snapshot;
        for (size_t k = 0; k < m->n_seen; k++) {
            ssize_t j = member_index(co, m->seen[k]);
            if (j >= 0) mesh_graph_set(&observed, i, (size_t)j, true);
        }
        for (size_t k = 0; k < m->n_pairs; k++) {
            pair_state *p = &m->pairs[k];
            if (!p->in_flight && p->not_before_ms <= now) continue;
            ssize_t j = member_index(co, p->peer);
            if (j >= 0) mesh_graph_set_pair(&suppressed, i, (size_t)j, true);
        }
    }
    mesh_input in = {.n = n,
                     .reachable = reachable,
                     .desired = &desired,
                     .observed = &observed,
                     .gone = gone,
                     .suppressed = &suppressed};
    if (mesh_plan_actions(&in, &plan) < 0) {
        log_errorf("reconcile: out of memory");
        goto out;
    }
    co->reconciles++;
    bool all_reachable = true;
    for (size_t i = 0; i < n; i++)
        if (!gone[i] && !reachable[i] && member_desired(co, co->members[i]->name))
            all_reachable = false;
    bool was_full = co->full_mesh;
    co->full_mesh = plan.n_missing == 0 && all_reachable && n > 0;
    if (co->full_mesh && !was_full) {
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", n);
        log_event(LOG_LEVEL_INFO, "full mesh", "members", cnt, LOG_END);
    }
    co->last_missing = plan.n_missing;
    for (size_t k = 0; k < plan.n_actions; k++)
        dispatch_action(co, &plan.actions[k]);

    /* Forget gone members nobody sees any more. */
    for (size_t i = n; i-- > 0;) {
        member *m = co->members[i];
        if (!m->gone) continue;
        bool seen = false;
        for (size_t j = 0; j < co->n_members && !seen; j++)
            if (co->members[j] != m && !co->members[j]->gone &&
                sorted_contains(co->members[j]->seen, co->members[j]->n_seen, m->name))
                seen = true;
        if (!seen) {
            log_event(LOG_LEVEL_INFO, "member forgotten", "node", m->name, LOG_END);
            member_delete(co, m);
        }
    }
    /* Come back when the earliest backoff or settle period ends. */
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < co->n_members; i++)
        for (size_t k = 0; k < co->members[i]->n_pairs; k++) {
            pair_state *p = &co->members[i]->pairs[k];
            if (!p->in_flight && p->not_before_ms > now && p->not_before_ms < next)
                next = p->not_before_ms;
        }
    if (next != UINT64_MAX && plan.n_missing > 0) schedule_reconcile(co, next - now + 1);
    if (co->mode == COORD_FORM && co->full_mesh) coordinator_stop(co);
out:
    co->last_reconcile_us = (uv_hrtime() - t0) / 1000u;
    if (co->last_reconcile_us > co->max_reconcile_us) co->max_reconcile_us = co->last_reconcile_us;
    mesh_plan_free(&plan);
    mesh_graph_free(&desired);
    mesh_graph_free(&observed);
    mesh_graph_free(&suppressed);
    free(reachable);
    free(gone);
}

static void reconcile_cb(uv_timer_t *t)
{
    coordinator *co = t->data;
    if (!co->stopping) reconcile(co);
}

static void schedule_reconcile(coordinator *co, uint64_t delay_ms)
{
    if (co->stopping) return;
    /* Keep an earlier pending run rather than pushing it back. */
    if (uv_is_active((uv_handle_t *)&co->reconcile_timer)) {
        uint64_t due = uv_timer_get_due_in(&co->reconcile_timer);
        if (due <= delay_ms) return;
    }
    uv_timer_start(&co->reconcile_timer, reconcile_cb, delay_ms, 0);
}

/* ---- link events ---- */

static void on_link_up(mlink *l, void *arg)
{
    (void)l;
    (void)arg;
}

static void on_link_down(mlink *l, const char *reason, void *arg)
{
    (void)reason;
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (m) {
        m->has_snapshot = false;
        for (size_t k = 0; k < m->n_pairs; k++)
            m->pairs[k].in_flight = false;
    }
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void on_snapshot(mlink *l, char *const *nodes, size_t n, void *arg)
{
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (!m) return;
    if (!m->has_snapshot && log_enabled(LOG_LEVEL_DEBUG)) {
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", n);
        log_event(LOG_LEVEL_DEBUG, "observation", "node", m->name, "sees", cnt, LOG_END);
    }
    member_set_seen(m, nodes, n);
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void on_event(mlink *l, bool up, const char *peer, const char *reason, void *arg)
{
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (!m) return;
    member_seen_update(m, peer, up);
    if (up) {
        /* A member just reached this node: if our own link to it is
         * waiting out a backoff, it is evidently back, so retry now. */
        member *other = member_find(co, peer);
        if (other && other->l && link_get_state(other->l) == LINK_BACKOFF)
            links_retry_now(other->l);
    }
    log_event(LOG_LEVEL_DEBUG, up ? "nodeup" : "nodedown", "observer", m->name, "node", peer,
              "reason", reason, LOG_END);
    if (!up) {
        /* A link went down: allow an immediate repair of that pair. */
        pair_state *p = pair_get(m, peer, false);
        if (p && !p->in_flight) p->not_before_ms = 0;
        member *other = member_find(co, peer);
        if (other) {
            p = pair_get(other, m->name, false);
            if (p && !p->in_flight) p->not_before_ms = 0;
        }
    }
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

/* status calls: {'$gen_call', {Pid, Tag}, status} -> {Tag, {ok, Json}} */
static void on_request(conn *c, const dist_msg *m, void *arg)
{
    coordinator *co = arg;
    const char *buf = m->payload;
    int idx = 0, arity;
    char atom[MAXATOMLEN_UTF8];
    erlang_pid from;
    if (ei_decode_version(buf, &idx, NULL) < 0 || ei_decode_tuple_header(buf, &idx, &arity) < 0 ||
        arity != 3 || ei_decode_atom(buf, &idx, atom) < 0 || strcmp(atom, "$gen_call") != 0 ||
        ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &idx, &from) < 0) {
        log_event(LOG_LEVEL_DEBUG, "ignored a message to clusterd", "node", c->peer, LOG_END);
        return;
    }
    int tag_start = idx;
    if (ei_skip_term(buf, &idx) < 0) return;
    int tag_end = idx;
    char req[MAXATOMLEN_UTF8] = "";
    (void)ei_decode_atom(buf, &idx, req);
    ei_x_buff reply;
    ei_x_new_with_version(&reply);
    ei_x_encode_tuple_header(&reply, 2);
    ei_x_append_buf(&reply, buf + tag_start, tag_end - tag_start);
    if (strcmp(req, "status") == 0) {
        json_t *j = coordinator_status_json(co);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        ei_x_encode_tuple_header(&reply, 2);
        ei_x_encode_atom(&reply, "ok");
        ei_x_encode_binary(&reply, text ? text : "{}", text ? (long)strlen(text) : 2);
        free(text);
    } else {
        ei_x_encode_tuple_header(&reply, 2);
        ei_x_encode_atom(&reply, "error");
        ei_x_encode_atom(&reply, "unknown_request");
    }
    (void)conn_reply(c, &from, &reply);
    ei_x_free(&reply);
}

/* ---- discovery ---- */

static void on_discovery(discovery *d, const discovery_result *r)
{
    topo_state *ts = d->owner;
    coordinator *co = ts->co;
    ts->answered = true;
    ts->last_answer_ms = wall_ms();
    if (r->verdict != DISCOVERY_OK) {
        /* Warn when a source starts failing or fails differently; repeats
         * of the same failure go to debug, so a long outage is one line. */
        bool repeat = ts->answered_before && !ts->last_ok && strcmp(ts->last_error, r->reason) == 0;
        ts->last_ok = false;
        ts->errors++;
        snprintf(ts->last_error, sizeof(ts->last_error), "%s", r->reason);
        log_event(repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                  "discovery failed; keeping the last good members", "topology", ts->t->name,
                  "reason", r->reason, LOG_END);
        ts->answered_before = true;
        return;
    }
    if (ts->answered_before && !ts->last_ok)
        log_event(LOG_LEVEL_INFO, "discovery answers again", "topology", ts->t->name, LOG_END);
    ts->answered_before = true;
    ts->last_ok = true;
    ts->last_error[0] = '\0';
    /* New set: the answer, plus (without prune) every member we had. */
    size_t cap = r->n_members + (ts->t->prune ? 0 : ts->n_members);
    char **next = calloc(cap + 1, sizeof(char *));
    if (!next) return;
    size_t nn = 0;
    for (size_t i = 0; i < r->n_members; i++)
        next[nn++] = strdup(r->members[i]);
    if (!ts->t->prune)
        for (size_t i = 0; i < ts->n_members; i++)
            if (!sorted_contains(r->members, r->n_members, ts->members[i]))
                next[nn++] = strdup(ts->members[i]);
    qsort(next, nn, sizeof(char *), cmp_str);
    char **old = ts->members;
    size_t n_old = ts->n_members;
    ts->members = next;
    ts->n_members = nn;

    for (size_t i = 0; i < nn; i++) {
        if (sorted_contains(old, n_old, next[i])) continue;
        if (strcmp(next[i], co->cn->name) == 0) continue;
        member *m = member_find(co, next[i]);
        log_event(LOG_LEVEL_INFO, "member joined", "topology", ts->t->name, "node", next[i],
                  LOG_END);
        if (!m) {
            member_add(co, next[i]);
        } else if (m->gone) {
            m->gone = false;
            if (!m->l) {
                m->l = links_add(co->ls, m->name);
                if (m->l) link_set_user(m->l, m);
            }
        }
    }
    for (size_t i = 0; i < n_old; i++) {
        if (sorted_contains(next, nn, old[i])) continue;
        if (member_desired(co, old[i])) continue;
        member *m = member_find(co, old[i]);
        if (!m) continue;
        log_event(LOG_LEVEL_INFO, "member left (absent from a successful answer)", "topology",
                  ts->t->name, "node", old[i], LOG_END);
        m->gone = true;
        m->has_snapshot = false;
        if (m->l) {
            links_remove(co->ls, m->l);
            m->l = NULL;
        }
    }
    free_strv(old, n_old);
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void generation_free(generation *g)
{
    if (!g) return;
    for (size_t t = 0; t < g->n_topos; t++)
        free_strv(g->topos[t].members, g->topos[t].n_members);
    free(g->topos);
    config_free(g->cfg);
    free(g);
}

static void on_discovery_closed(discovery *d)
{
    topo_state *ts = d->owner;
    generation *g = ts->gen;
    coordinator *co = ts->co;
    if (g->open > 0) g->open--;
    if (!g->retiring || g->open > 0) return;
    for (generation **pp = &co->retiring; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    generation_free(g);
}

/* A generation for cfg (owned from here on, also on failure). */
static generation *generation_new(coordinator *co, config *cfg)
{
    generation *g = calloc(1, sizeof(*g));
    topo_state *topos = calloc(cfg->n_topologies + 1, sizeof(topo_state));
    if (!g || !topos) {
        free(g);
        free(topos);
        config_free(cfg);
        return NULL;
    }
    g->cfg = cfg;
    g->topos = topos;
    g->n_topos = cfg->n_topologies;
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *ts = &g->topos[t];
        ts->co = co;
        ts->gen = g;
        ts->t = &cfg->topologies[t];
        ts->d.loop = co->loop;
        ts->d.topology = ts->t;
        ts->d.cfg = cfg;
        ts->d.report = on_discovery;
        ts->d.closed = on_discovery_closed;
        ts->d.owner = ts;
        ts->d.once = co->mode == COORD_FORM;
    }
    return g;
}

static int generation_start(generation *g, char *err, size_t errlen)
{
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *ts = &g->topos[t];
        if (discovery_start(&ts->d, err, errlen) < 0) return -1;
        ts->started = true;
        g->open++;
    }
    return 0;
}

/* Stops g's discoveries; g is freed once they have all closed. */
static void generation_retire(coordinator *co, generation *g)
{
    g->retiring = true;
    g->next = co->retiring;
    co->retiring = g;
    size_t to_stop = 0;
    for (size_t t = 0; t < g->n_topos; t++)
        if (g->topos[t].started) to_stop++;
    if (to_stop == 0) {
        co->retiring = g->next;
        generation_free(g);
        return;
    }
    for (size_t t = 0; t < g->n_topos; t++) {
        if (!g->topos[t].started) continue;
        g->topos[t].started = false;
        discovery_stop(&g->topos[t].d); /* may free g on its last close */
    }
}

static void links_settings_from(const config *cfg, links_settings *s)
{
    s->connect_timeout_ms = (unsigned)cfg->node.connect_timeout_ms;
    s->rpc_timeout_ms = (unsigned)cfg->node.rpc_timeout_ms;
    s->net_ticktime_s = (unsigned)cfg->node.net_ticktime_s;
    s->backoff_min_ms = (unsigned)cfg->backoff_min_ms;
    s->backoff_max_ms = (unsigned)cfg->backoff_max_ms;
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* SIGHUP: load the file again. A bad file is rejected whole and the running
 * configuration kept. Otherwise topologies are swapped: a topology that keeps
 * its name keeps its last good members until its new discovery answers, so
 * links that stay desired are never dropped; members no topology wants any
 * more are forgotten (our link closed; nothing is disconnected on the
 * members, as removal needs positive evidence from discovery). */
static void coordinator_reload(coordinator *co)
{
    config *cfg = NULL;
    config_diag diag = {0};
    int rc = config_load_file(co->config_path, &cfg, &diag);
    for (size_t i = 0; i < diag.n_errors; i++)
        log_event(LOG_LEVEL_ERROR, "reload rejected: configuration error", "error", diag.errors[i],
                  LOG_END);
    for (size_t i = 0; i < diag.n_warnings; i++)
        log_event(LOG_LEVEL_WARN, "configuration warning", "warning", diag.warnings[i], LOG_END);
    config_diag_free(&diag);
    if (rc < 0) {
        log_event(LOG_LEVEL_WARN, "reload rejected; the running configuration stays", "config",
                  co->config_path, LOG_END);
        return;
    }
    if (cfg->node.visible) {
        log_event(LOG_LEVEL_ERROR,
                  "reload rejected: visibility: visible is not supported by this build", "config",
                  co->config_path, LOG_END);
        config_free(cfg);
        return;
    }
    const config_node *a = &co->cfg->node, *b = &cfg->node;
    if (str_differs(a->name, b->name) || a->longnames != b->longnames ||
        str_differs(a->cookie_file, b->cookie_file) || str_differs(a->cookie_env, b->cookie_env))
        log_event(LOG_LEVEL_WARN,
                  "node name and cookie settings change only with a restart; keeping the "
                  "running ones",
                  LOG_END);
    generation *g = generation_new(co, cfg);
    if (!g) {
        log_errorf("reload failed: out of memory");
        return;
    }
    /* Carry over each kept topology's last good members and state. */
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *nt = &g->topos[t];
        for (size_t k = 0; k < co->n_topos; k++) {
            topo_state *ot = &co->topos[k];
            if (strcmp(ot->t->name, nt->t->name) != 0) continue;
            nt->members = dup_strv(ot->members, ot->n_members);
            nt->n_members = nt->members ? ot->n_members : 0;
            nt->answered = ot->answered;
            nt->answered_before = ot->answered_before;
            nt->last_ok = ot->last_ok;
            nt->errors = ot->errors;
            snprintf(nt->last_error, sizeof(nt->last_error), "%s", ot->last_error);
        }
    }
    generation *old = co->gen;
    co->gen = g;
    co->cfg = g->cfg;
    co->topos = g->topos;
    co->n_topos = g->n_topos;
    generation_retire(co, old);

    links_settings s;
    links_settings_from(co->cfg, &s);
    links_update_settings(co->ls, &s);
    uint64_t pi = (uint64_t)co->cfg->poll_interval_ms;
    uv_timer_start(&co->poll_timer, poll_cb, pi, pi);

    for (size_t i = co->n_members; i-- > 0;) {
        member *m = co->members[i];
        if (!member_desired(co, m->name) && !m->gone) {
            log_event(LOG_LEVEL_INFO, "member no longer in any topology; forgotten", "node",
                      m->name, LOG_END);
            member_delete(co, m);
        }
    }
    char err[512];
    if (generation_start(g, err, sizeof(err)) < 0)
        log_event(LOG_LEVEL_ERROR, "reload: a discovery did not start", "reason", err, LOG_END);
    char count[24];
    snprintf(count, sizeof(count), "%zu", g->n_topos);
    log_event(LOG_LEVEL_INFO, "configuration reloaded", "config", co->config_path, "topologies",
              count, LOG_END);
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

/* ---- lifecycle ---- */

static void poll_cb(uv_timer_t *t)
{
    coordinator *co = t->data;
    links_resync_all(co->ls);
    schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    coordinator *co = s->data;
    if (signum == SIGHUP) {
        log_event(LOG_LEVEL_INFO, "SIGHUP: reloading the configuration", "config", co->config_path,
                  LOG_END);
        if (!co->stopping) coordinator_reload(co);
        return;
    }
    log_event(LOG_LEVEL_INFO, "stopping", "signal", signum == SIGTERM ? "TERM" : "INT", LOG_END);
    coordinator_stop(co);
}

coordinator *coordinator_new(uv_loop_t *loop, config *cfg, const char *config_path, cnode *cn,
                             coordinator_mode mode)
{
    coordinator *co = calloc(1, sizeof(*co));
    if (!co) {
        config_free(cfg);
        return NULL;
    }
    co->loop = loop;
    co->cn = cn;
    co->mode = mode;
    co->config_path = config_path ? strdup(config_path) : NULL;
    co->gen = generation_new(co, cfg);
    if (!co->gen) {
        coordinator_free(co);
        return NULL;
    }
    co->cfg = co->gen->cfg;
    co->topos = co->gen->topos;
    co->n_topos = co->gen->n_topos;
    links_settings s;
    links_settings_from(co->cfg, &s);
    links_handlers h = {.on_up = on_link_up,
                        .on_down = on_link_down,
                        .on_snapshot = on_snapshot,
                        .on_event = on_event,
                        .on_request = on_request};
    co->ls = links_new(loop, cn, &s, &h, co);
    if (!co->ls) {
        coordinator_free(co);
        return NULL;
    }
    uv_timer_init(loop, &co->reconcile_timer);
    co->reconcile_timer.data = co;
    uv_timer_init(loop, &co->poll_timer);
    co->poll_timer.data = co;
    return co;
}

int coordinator_start(coordinator *co, char *err, size_t errlen)
{
    if (co->cn->listen_fd >= 0 && links_accept_start(co->ls) < 0) {
        snprintf(err, errlen, "cannot accept connections");
        return -1;
    }
    uv_signal_init(co->loop, &co->sig_term);
    uv_signal_init(co->loop, &co->sig_int);
    uv_signal_init(co->loop, &co->sig_hup);
    co->sig_term.data = co->sig_int.data = co->sig_hup.data = co;
    uv_signal_start(&co->sig_term, signal_cb, SIGTERM);
    uv_signal_start(&co->sig_int, signal_cb, SIGINT);
    if (co->config_path) uv_signal_start(&co->sig_hup, signal_cb, SIGHUP);
    uint64_t pi = (uint64_t)co->cfg->poll_interval_ms;
    uv_timer_start(&co->poll_timer, poll_cb, pi, pi);
    return generation_start(co->gen, err, errlen);
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

void coordinator_stop(coordinator *co)
{
    if (co->stopping) return;
    co->stopping = true;
    for (size_t t = 0; t < co->n_topos; t++)
        if (co->topos[t].started) {
            co->topos[t].started = false;
            discovery_stop(&co->topos[t].d);
        }
    links_shutdown(co->ls);
    for (size_t i = 0; i < co->n_members; i++)
        co->members[i]->l = NULL;
    close_handle((uv_handle_t *)&co->reconcile_timer);
    close_handle((uv_handle_t *)&co->poll_timer);
    close_handle((uv_handle_t *)&co->sig_term);
    close_handle((uv_handle_t *)&co->sig_int);
    close_handle((uv_handle_t *)&co->sig_hup);
}

void coordinator_free(coordinator *co)
{
    if (!co) return;
    for (size_t i = 0; i < co->n_members; i++)
        member_free(co->members[i]);
    free(co->members);
    generation_free(co->gen);
    while (co->retiring) {
        generation *g = co->retiring;
        co->retiring = g->next;
        generation_free(g);
    }
    links_free(co->ls);
    free(co->config_path);
    free(co);
}

bool coordinator_full_mesh(const coordinator *co)
{
    return co->full_mesh;
}

/* ---- status ---- */

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static const char *link_state_name(const member *m)
{
    if (m->gone) return "gone";
    if (!m->l) return "none";
    switch (link_get_state(m->l)) {
    case LINK_UP:
        return m->has_snapshot ? "up" : "starting";
    case LINK_CONNECTING:
        return "connecting";
    case LINK_BACKOFF:
        return "backoff";
    default:
        return "stopped";
    }
}

json_t *coordinator_status_json(const coordinator *co)
{
    json_t *root = json_object();
    json_object_set_new(root, "node", json_string(co->cn->name));
    /* this incarnation: pids of an earlier one (another creation) are refused */
    json_object_set_new(root, "creation", json_integer((json_int_t)co->cn->creation));
    json_t *topos = json_object();
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        json_t *o = json_object();
        json_object_set_new(o, "strategy", json_string(ts->t->strategy->module));
        json_object_set_new(o, "members", strv_json(ts->members, ts->n_members));
        json_object_set_new(o, "answered", json_boolean(ts->answered));
        json_object_set_new(
            o, "error", ts->answered && !ts->last_ok ? json_string(ts->last_error) : json_null());
        json_object_set_new(o, "errors_total", json_integer((json_int_t)ts->errors));
        json_object_set_new(o, "prune", json_boolean(ts->t->prune));
        json_object_set_new(topos, ts->t->name, o);
    }
    json_object_set_new(root, "topologies", topos);
    json_t *members = json_array();
    json_t *link_states = json_object();
    json_t *missing = json_array();
    json_t *unreachable = json_array();
    for (size_t i = 0; i < co->n_members; i++) {
        const member *m = co->members[i];
        json_array_append_new(members, json_string(m->name));
        json_t *o = json_object();
        json_object_set_new(o, "state", json_string(link_state_name(m)));
        json_object_set_new(o, "sees", strv_json(m->seen, m->n_seen));
        const char *e = m->l ? link_last_error(m->l) : "";
        json_object_set_new(o, "error", e && *e ? json_string(e) : json_null());
        json_object_set_new(link_states, m->name, o);
        if (!m->gone && !(m->l && link_get_state(m->l) == LINK_UP && m->has_snapshot))
            json_array_append_new(unreachable, json_string(m->name));
        if (!m->has_snapshot || m->gone) continue;
        for (size_t j = i + 1; j < co->n_members; j++) {
            const member *o2 = co->members[j];
            if (o2->gone || !o2->has_snapshot) continue;
            bool want = false;
            for (size_t t = 0; t < co->n_topos && !want; t++)
                want = sorted_contains(co->topos[t].members, co->topos[t].n_members, m->name) &&
                       sorted_contains(co->topos[t].members, co->topos[t].n_members, o2->name);
            if (!want) continue;
            if (!sorted_contains(m->seen, m->n_seen, o2->name) ||
                !sorted_contains(o2->seen, o2->n_seen, m->name)) {
                json_t *p = json_array();
                json_array_append_new(p, json_string(m->name));
                json_array_append_new(p, json_string(o2->name));
                json_array_append_new(missing, p);
            }
        }
    }
    json_object_set_new(root, "members", members);
    json_object_set_new(root, "links", link_states);
    json_object_set_new(root, "missing", missing);
    json_object_set_new(root, "unreachable", unreachable);
    json_object_set_new(root, "full_mesh", json_boolean(co->full_mesh));
    json_t *hist = json_array();
    for (size_t k = 0; k < co->history_count; k++) {
        size_t i = (co->history_next + HISTORY - co->history_count + k) % HISTORY;
        const action_record *r = &co->history[i];
        json_t *o = json_object();
        json_object_set_new(o, "time_ms", json_integer((json_int_t)r->wall_ms));
        json_object_set_new(o, "action", json_string(r->kind));
        json_object_set_new(o, "on", json_string(r->on));
        json_object_set_new(o, "targets", json_string(r->targets));
        json_object_set_new(o, "reason", json_string(r->reason));
        json_object_set_new(o, "result", json_string(r->result));
        json_array_append_new(hist, o);
    }
    json_object_set_new(root, "last_actions", hist);
    const links_stats *st = links_get_stats(co->ls);
    json_t *stats = json_object();
    json_object_set_new(stats, "reconciles", json_integer((json_int_t)co->reconciles));
    json_object_set_new(stats, "last_reconcile_us",
                        json_integer((json_int_t)co->last_reconcile_us));
    json_object_set_new(stats, "max_reconcile_us", json_integer((json_int_t)co->max_reconcile_us));
    json_object_set_new(stats, "actions_sent", json_integer((json_int_t)co->actions_sent));
    json_object_set_new(stats, "heals", json_integer((json_int_t)co->heals));
    json_object_set_new(stats, "rpcs_ok", json_integer((json_int_t)st->rpcs_ok));
    json_object_set_new(stats, "rpcs_failed", json_integer((json_int_t)st->rpcs_failed));
    json_object_set_new(stats, "rpcs_timeout", json_integer((json_int_t)st->rpcs_timeout));
    json_object_set_new(stats, "connects_ok", json_integer((json_int_t)st->connects_ok));
    json_object_set_new(stats, "connects_failed", json_integer((json_int_t)st->connects_failed));
    json_object_set_new(stats, "node_events", json_integer((json_int_t)st->events));
    json_object_set_new(stats, "dropped_messages", json_integer((json_int_t)st->dropped_messages));
    json_object_set_new(root, "stats", stats);
    return root;
}
