/* probe: parallel connect + RPCs to a set of nodes, for CLI commands.
 * See probe.h. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "links.h"
#include "nodename.h"
#include "strv.h"
#include "term.h"

typedef struct probe_run_ctx probe_run_ctx;

typedef struct call_ctx {
    struct target_ctx *tc;
    size_t k;
    uint64_t sent_ns;
} call_ctx;

typedef struct target_ctx {
    probe_run_ctx *run;
    probe_target *t;
    mlink *l;
    call_ctx *calls;
    size_t pending;
    bool done;
} target_ctx;

struct probe_run_ctx {
    uv_loop_t loop;
    links *ls;
    target_ctx *tcs;
    size_t n;
    const probe_call *calls;
    size_t n_calls;
    size_t remaining;
    uv_timer_t finish;
    uv_timer_t guard;
    bool finishing;
};

static void finish_cb(uv_timer_t *h)
{
    probe_run_ctx *r = h->data;
    links_shutdown(r->ls);
    uv_close((uv_handle_t *)&r->finish, NULL);
    uv_close((uv_handle_t *)&r->guard, NULL);
}

static void finish_soon(probe_run_ctx *r)
{
    if (r->finishing) return;
    r->finishing = true;
    uv_timer_stop(&r->guard);
    /* From a timer, not from inside a links callback. */
    uv_timer_start(&r->finish, finish_cb, 0, 0);
}

static void target_done(target_ctx *tc)
{
    if (tc->done) return;
    tc->done = true;
    if (--tc->run->remaining == 0) finish_soon(tc->run);
}

static void rpc_done(mlink *l, int status, const char *buf, int idx, const char *reason, void *arg)
{
    (void)l;
    call_ctx *cc = arg;
    target_ctx *tc = cc->tc;
    probe_reply *rep = &tc->t->replies[cc->k];
    rep->rtt_us = (unsigned)((uv_hrtime() - cc->sent_ns) / 1000u);
    if (status == 0) {
        int end = idx;
        if (ei_skip_term(buf, &end) == 0 && end > idx &&
            (rep->term = malloc((size_t)(end - idx)))) {
            memcpy(rep->term, buf + idx, (size_t)(end - idx));
            rep->len = (size_t)(end - idx);
            rep->ok = true;
        } else {
            snprintf(rep->reason, sizeof(rep->reason), "could not copy the reply");
        }
    } else {
        snprintf(rep->reason, sizeof(rep->reason), "%s", reason ? reason : "failed");
    }
    if (tc->pending > 0 && --tc->pending == 0) target_done(tc);
}

static void on_up(mlink *l, void *arg)
{
    (void)arg;
    target_ctx *tc = link_get_user(l);
    if (!tc || tc->done) return;
    tc->t->reached = true;
    tc->t->dial = *link_last_dial(l);
    probe_run_ctx *r = tc->run;
    if (r->n_calls == 0) {
        target_done(tc);
        return;
    }
    tc->pending = r->n_calls;
    for (size_t k = 0; k < r->n_calls; k++) {
        call_ctx *cc = &tc->calls[k];
        cc->sent_ns = uv_hrtime();
        if (link_rpc(l, r->calls[k].mod, r->calls[k].fun, r->calls[k].args, 0, rpc_done, cc) < 0)
            rpc_done(l, -1, NULL, 0, "could not send the request (link down)", cc);
    }
}

static void on_down(mlink *l, const char *reason, void *arg)
{
    (void)arg;
    target_ctx *tc = link_get_user(l);
    if (!tc || tc->done) return;
    if (!tc->t->reached) {
        tc->t->dial = *link_last_dial(l);
        snprintf(tc->t->error, sizeof(tc->t->error), "%s", reason ? reason : "unreachable");
        target_done(tc);
    }
    /* Reached: the pending RPCs were failed ("link down") before this. */
}

static void guard_cb(uv_timer_t *h)
{
    probe_run_ctx *r = h->data;
    for (size_t i = 0; i < r->n; i++) {
        target_ctx *tc = &r->tcs[i];
        if (tc->done) continue;
        if (!tc->t->reached) {
            snprintf(tc->t->error, sizeof(tc->t->error), "no answer in time");
            /* the dial never reported: it is a timeout, not "ok" */
            if (tc->t->dial.why == DIAL_OK) tc->t->dial.why = DIAL_TIMEOUT;
        }
        for (size_t k = 0; k < r->n_calls; k++) {
            probe_reply *rep = &tc->t->replies[k];
            if (!rep->ok && !rep->reason[0])
                snprintf(rep->reason, sizeof(rep->reason), "no answer in time");
        }
        tc->done = true;
    }
    r->remaining = 0;
    finish_soon(r);
}

int probe_run(cnode *cn, probe_target *t, size_t n, const probe_call *calls, size_t n_calls,
              unsigned connect_timeout_ms, unsigned rpc_timeout_ms, char *err, size_t errlen)
{
    probe_run_ctx r;
    memset(&r, 0, sizeof(r));
    int rc = -1;
    r.n = n;
    r.calls = calls;
    r.n_calls = n_calls;
    r.remaining = n;
    r.tcs = calloc(n + 1, sizeof(target_ctx));
    if (!r.tcs) goto nomem;
    for (size_t i = 0; i < n; i++) {
        t[i].reached = false;
        t[i].error[0] = '\0';
        memset(&t[i].dial, 0, sizeof(t[i].dial));
        t[i].replies = calloc(n_calls + 1, sizeof(probe_reply));
        r.tcs[i].calls = calloc(n_calls + 1, sizeof(call_ctx));
        if (!t[i].replies || !r.tcs[i].calls) goto nomem;
        r.tcs[i].run = &r;
        r.tcs[i].t = &t[i];
        for (size_t k = 0; k < n_calls; k++) {
            r.tcs[i].calls[k].tc = &r.tcs[i];
            r.tcs[i].calls[k].k = k;
        }
    }
    if (uv_loop_init(&r.loop) != 0) {
        snprintf(err, errlen, "cannot start the event loop");
        goto out;
    }
    /* No retries within one probe: a failed connect is the answer. */
    links_settings s = {.connect_timeout_ms = connect_timeout_ms,
                        .rpc_timeout_ms = rpc_timeout_ms,
                        .net_ticktime_s = 60,
                        .backoff_min_ms = 3600000,
                        .backoff_max_ms = 3600000,
                        .no_forwarder = true};
    links_handlers h = {.on_up = on_up, .on_down = on_down};
    r.ls = links_new(&r.loop, cn, &s, &h, &r);
    uv_timer_init(&r.loop, &r.finish);
    uv_timer_init(&r.loop, &r.guard);
    r.finish.data = r.guard.data = &r;
    if (!r.ls) {
        snprintf(err, errlen, "out of memory");
        uv_close((uv_handle_t *)&r.finish, NULL);
        uv_close((uv_handle_t *)&r.guard, NULL);
        uv_run(&r.loop, UV_RUN_DEFAULT);
        uv_loop_close(&r.loop);
        goto out;
    }
    /* A backstop only: connects and RPCs carry their own deadlines. */
    uv_timer_start(&r.guard, guard_cb, (uint64_t)connect_timeout_ms + rpc_timeout_ms + 2000u, 0);
    for (size_t i = 0; i < n; i++) {
        mlink *l = links_add(r.ls, t[i].node);
        if (!l) {
            snprintf(t[i].error, sizeof(t[i].error), "invalid node name or out of memory");
            target_done(&r.tcs[i]);
            continue;
        }
        r.tcs[i].l = l;
        link_set_user(l, &r.tcs[i]);
    }
    if (n == 0) finish_soon(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    links_free(r.ls);
    uv_loop_close(&r.loop);
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    if (r.tcs)
        for (size_t i = 0; i < n; i++)
            free(r.tcs[i].calls);
    free(r.tcs);
    return rc;
}

void probe_targets_free(probe_target *t, size_t n, size_t n_calls)
{
    if (!t) return;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].replies) continue;
        for (size_t k = 0; k < n_calls; k++)
            free(t[i].replies[k].term);
        free(t[i].replies);
        t[i].replies = NULL;
    }
}

int probe_reply_atoms(const probe_reply *rep, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!rep->ok || !rep->term) return -1;
    const char *buf = rep->term;
    int idx = 0, type, size, arity;
    if (ei_get_type(buf, &idx, &type, &size) < 0) return -1;
    if (type == ERL_NIL_EXT) {
        *out = calloc(1, sizeof(char *));
        return *out ? 0 : -1;
    }
    if (type != ERL_LIST_EXT || ei_decode_list_header(buf, &idx, &arity) < 0 || arity < 0)
        return -1;
    char **v = calloc((size_t)arity + 1, sizeof(char *));
    if (!v) return -1;
    size_t k = 0;
    for (int i = 0; i < arity; i++) {
        char atom[MAXATOMLEN_UTF8];
        if (ei_decode_atom(buf, &idx, atom) < 0) {
            strv_free(v, k);
            return -1;
        }
        if (!nodename_valid(atom, NULL, 0)) continue;
        if (!(v[k] = strdup(atom))) {
            strv_free(v, k);
            return -1;
        }
        k++;
    }
    qsort(v, k, sizeof(char *), strv_cmp);
    *out = v;
    *n = k;
    return 0;
}

void probe_reply_text(const probe_reply *rep, char *out, size_t outlen)
{
    if (outlen == 0) return;
    out[0] = '\0';
    if (!rep->ok || !rep->term) return;
    int idx = 0, type, size;
    if (ei_get_type(rep->term, &idx, &type, &size) == 0 && type == ERL_STRING_EXT &&
        (size_t)size < outlen) {
        if (ei_decode_string(rep->term, &idx, out) == 0) return;
        idx = 0;
    }
    (void)term_print(rep->term, &idx, out, outlen);
}
