/* discovery: the strategy table (look-up by libcluster module name or alias),
 * start/stop of a topology's strategy, the helpers that build one round's
 * result (members validated, capped, sorted and unique), and the poller that
 * the polling strategies share (a timer plus one uv_queue_work at a time). */
#include "discovery.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodename.h"

extern const strategy_ops strategy_epmd;
extern const strategy_ops strategy_local_epmd;
extern const strategy_ops strategy_erlang_hosts;
extern const strategy_ops strategy_kubernetes_dns;
extern const strategy_ops strategy_kubernetes_dnssrv;
extern const strategy_ops strategy_dns_poll;
extern const strategy_ops strategy_kubernetes;

/* One line per strategy; nothing else in clusterd names a strategy. */
/* clang-format off */
static const strategy_ops *const strategy_table[] = {
    &strategy_epmd,
    &strategy_local_epmd,
    &strategy_erlang_hosts,
    &strategy_kubernetes_dns,
    &strategy_kubernetes_dnssrv,
    &strategy_dns_poll,
    &strategy_kubernetes,
};
/* clang-format on */

#define ELIXIR_PREFIX "Elixir."
#define EVIDENCE_LINE_MAX 1024

/* Looks a strategy up by its libcluster module name (with or without the
 * "Elixir." prefix that Erlang-side configs carry) or by its alias. Exact,
 * case-sensitive matches only; NULL when unknown. */
const strategy_ops *discovery_find_strategy(const char *name)
{
    if (name == NULL) return NULL;
    const char *bare = name;
    if (strncmp(name, ELIXIR_PREFIX, strlen(ELIXIR_PREFIX)) == 0)
        bare = name + strlen(ELIXIR_PREFIX);
    for (size_t k = 0; k < sizeof strategy_table / sizeof strategy_table[0]; k++) {
        const strategy_ops *s = strategy_table[k];
        if (strcmp(bare, s->module) == 0) return s;
        if (bare == name && strcmp(name, s->alias) == 0) return s;
    }
    return NULL;
}

/* The whole table, for help output and README generation. */
const strategy_ops *const *discovery_strategies(size_t *count)
{
    if (count != NULL) *count = sizeof strategy_table / sizeof strategy_table[0];
    return strategy_table;
}

/* Starts the topology's strategy. The first round is reported from the loop,
 * never from inside this call. */
int discovery_start(discovery *d, char *err, size_t errlen)
{
    if (d == NULL || d->loop == NULL || d->topology == NULL || d->topology->strategy == NULL ||
        d->report == NULL) {
        snprintf(err, errlen, "discovery: loop, topology, strategy and report must be set");
        return -1;
    }
    d->stopping = false;
    d->state = NULL;
    return d->topology->strategy->start(d, err, errlen);
}

/* Stops a started strategy; idempotent. d->closed runs once it is safe to
 * free d (possibly later on the loop, after queued work has finished). */
void discovery_stop(discovery *d)
{
    if (d == NULL || d->stopping) return;
    d->stopping = true;
    d->topology->strategy->stop(d);
}

/* Called by a strategy when its stop has completed. */
void discovery_closed(discovery *d)
{
    if (d->closed != NULL) d->closed(d);
}

/* ---- results ---- */

/* Empties r: verdict ok, no members, no evidence. */
void discovery_result_init(discovery_result *r)
{
    memset(r, 0, sizeof *r);
    r->verdict = DISCOVERY_OK;
}

/* Appends one owned line, replacing control characters (from names that
 * came off the network) so that a line stays one printable line. */
static void result_push_evidence(discovery_result *r, const char *line)
{
    if (r->n_evidence >= DISCOVERY_MAX_EVIDENCE) return;
    const char *text = line;
    if (r->n_evidence == DISCOVERY_MAX_EVIDENCE - 1) text = "(further evidence omitted)";
    char **grown = realloc(r->evidence, (r->n_evidence + 1) * sizeof *grown);
    if (grown == NULL) return;
    r->evidence = grown;
    char *copy = strdup(text);
    if (copy == NULL) return;
    for (char *c = copy; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) *c = '?';
    r->evidence[r->n_evidence++] = copy;
}

/* Adds a formatted evidence line (capped in length and in count). */
void discovery_result_add_evidence(discovery_result *r, const char *fmt, ...)
{
    char line[EVIDENCE_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    result_push_evidence(r, line);
}

/* Marks the round failed. The first reason is kept (it is usually the cause);
 * every reason is also added as evidence. */
void discovery_result_fail(discovery_result *r, const char *fmt, ...)
{
    char line[sizeof r->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->verdict != DISCOVERY_FAILED) {
        r->verdict = DISCOVERY_FAILED;
        memcpy(r->reason, line, sizeof r->reason);
        for (char *c = r->reason; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) *c = '?';
    }
    result_push_evidence(r, line);
}

/* Adds a member. Duplicates are removed by discovery_result_finish, so this
 * is O(1); invalid names and members beyond the cap are rejected with an
 * evidence line (beyond the cap the round also fails). */
int discovery_result_add_member(discovery_result *r, const char *node)
{
    char why[128];
    if (node == NULL || !nodename_valid(node, why, sizeof why)) {
        discovery_result_add_evidence(r, "rejected \"%.300s\": %s", node ? node : "(null)",
                                      node ? why : "no name");
        return -1;
    }
    if (r->n_members >= DISCOVERY_MAX_MEMBERS) {
        if (r->verdict != DISCOVERY_FAILED)
            discovery_result_fail(r, "more than %d members", DISCOVERY_MAX_MEMBERS);
        return -1;
    }
    /* Capacity is implied by the count: 8, then doubled at every power of two
     * from 8 on. finish only lowers the count, so the implied capacity stays
     * below the real one. */
    size_t n = r->n_members;
    if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
        char **grown = realloc(r->members, (n == 0 ? 8 : n * 2) * sizeof *grown);
        if (grown == NULL) goto nomem;
        r->members = grown;
    }
    char *copy = strdup(node);
    if (copy == NULL) goto nomem;
    r->members[r->n_members++] = copy;
    return 0;
nomem:
    discovery_result_fail(r, "out of memory");
    return -1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a leaving node; see discovery.h. */
int discovery_result_add_leaving(discovery_result *r, const char *node)
{
    char why[128];
    if (node == NULL || !nodename_valid(node, why, sizeof why)) {
        discovery_result_add_evidence(r, "rejected \"%.300s\": %s", node ? node : "(null)",
                                      node ? why : "no name");
        return -1;
    }
    if (r->n_leaving >= DISCOVERY_MAX_MEMBERS) return -1;
    char **grown = realloc(r->leaving, (r->n_leaving + 1) * sizeof *grown);
    if (grown == NULL) goto nomem;
    r->leaving = grown;
    char *copy = strdup(node);
    if (copy == NULL) goto nomem;
    r->leaving[r->n_leaving++] = copy;
    return 0;
nomem:
    discovery_result_fail(r, "out of memory");
    return -1;
}

bool discovery_result_is_leaving(const discovery_result *r, const char *node)
{
    if (r->n_leaving == 0) return false;
    return bsearch(&node, r->leaving, r->n_leaving, sizeof *r->leaving, compare_names) != NULL;
}

static void sort_unique(char **v, size_t *n)
{
    if (*n < 2) return;
    qsort(v, *n, sizeof *v, compare_names);
    size_t out = 1;
    for (size_t k = 1; k < *n; k++) {
        if (strcmp(v[k], v[out - 1]) == 0) {
            free(v[k]);
        } else {
            v[out++] = v[k];
        }
    }
    *n = out;
}

/* Sorts the members and removes duplicates; call before reporting. A name
 * that is both a member and leaving stays a member only: one source still
 * has it up (a StatefulSet pod recreated under its name while the old
 * incarnation's endpoint terminates, or an address in two slices). */
void discovery_result_finish(discovery_result *r)
{
    sort_unique(r->members, &r->n_members);
    sort_unique(r->leaving, &r->n_leaving);
    size_t m = 0, out = 0;
    for (size_t k = 0; k < r->n_leaving; k++) {
        int c = 1;
        while (m < r->n_members && (c = strcmp(r->members[m], r->leaving[k])) < 0)
            m++;
        if (m < r->n_members && c == 0) {
            discovery_result_add_evidence(r, "%s: a member by another address; not leaving",
                                          r->leaving[k]);
            free(r->leaving[k]);
        } else {
            r->leaving[out++] = r->leaving[k];
        }
    }
    r->n_leaving = out;
}

void discovery_result_copy(discovery_result *dst, const discovery_result *src)
{
    discovery_result_init(dst);
    for (size_t k = 0; k < src->n_members; k++)
        (void)discovery_result_add_member(dst, src->members[k]);
    for (size_t k = 0; k < src->n_leaving; k++)
        (void)discovery_result_add_leaving(dst, src->leaving[k]);
    for (size_t k = 0; k < src->n_evidence; k++)
        discovery_result_add_evidence(dst, "%s", src->evidence[k]);
    dst->verdict = src->verdict;
    memcpy(dst->reason, src->reason, sizeof dst->reason);
    dst->n_partial = src->n_partial;
    discovery_result_finish(dst);
}

/* Frees everything r owns and leaves it empty; accepts NULL. */
void discovery_result_free(discovery_result *r)
{
    if (r == NULL) return;
    for (size_t k = 0; k < r->n_members; k++)
        free(r->members[k]);
    for (size_t k = 0; k < r->n_evidence; k++)
        free(r->evidence[k]);
    for (size_t k = 0; k < r->n_leaving; k++)
        free(r->leaving[k]);
    free(r->leaving);
    free(r->members);
    free(r->evidence);
    discovery_result_init(r);
}

/* ---- the poller ---- */

typedef struct discovery_poller {
    discovery *d;
    uv_timer_t timer;
    uv_work_t work;
    bool timer_closed;
    bool busy; /* a round is queued or running on the thread pool */
    unsigned long long interval_ms;
    bool in_worker;
    discovery_round_fn round;
    void *ctx;
    void (*free_ctx)(void *ctx);
    discovery_result result;
} discovery_poller;

static void poller_maybe_closed(discovery_poller *p)
{
    if (!p->timer_closed || p->busy) return;
    discovery *d = p->d;
    discovery_result_free(&p->result);
    if (p->free_ctx != NULL) p->free_ctx(p->ctx);
    free(p);
    d->state = NULL;
    discovery_closed(d);
}

static void poller_on_timer_closed(uv_handle_t *h)
{
    discovery_poller *p = h->data;
    p->timer_closed = true;
    poller_maybe_closed(p);
}

static void poller_on_timer(uv_timer_t *t);

/* Reports p->result and schedules the next round. */
static void poller_report(discovery_poller *p)
{
    discovery *d = p->d;
    discovery_result_finish(&p->result);
    d->report(d, &p->result);
    /* report may have called discovery_stop: p stays valid until the timer
     * has closed, which happens on a later loop iteration. */
    discovery_result_free(&p->result);
    if (!d->stopping && !d->once && p->interval_ms > 0)
        uv_timer_start(&p->timer, poller_on_timer, p->interval_ms, 0);
}

static void poller_work(uv_work_t *w)
{
    discovery_poller *p = w->data;
    p->round(p->d, p->ctx, &p->result);
}

static void poller_after_work(uv_work_t *w, int status)
{
    discovery_poller *p = w->data;
    p->busy = false;
    if (p->d->stopping) {
        discovery_result_free(&p->result);
        poller_maybe_closed(p);
        return;
    }
    if (status != 0) {
        discovery_result_free(&p->result);
        discovery_result_fail(&p->result, "round did not run: %s", uv_strerror(status));
    }
    poller_report(p);
}

static void poller_on_timer(uv_timer_t *t)
{
    discovery_poller *p = t->data;
    if (p->d->stopping || p->busy) return;
    discovery_result_init(&p->result);
    if (!p->in_worker) {
        p->round(p->d, p->ctx, &p->result);
        poller_report(p);
        return;
    }
    int rc = uv_queue_work(p->d->loop, &p->work, poller_work, poller_after_work);
    if (rc != 0) {
        discovery_result_fail(&p->result, "cannot queue round: %s", uv_strerror(rc));
        poller_report(p);
        return;
    }
    p->busy = true;
}

/* Starts the poller; see discovery.h. */
int discovery_poller_start(discovery *d, unsigned long long interval_ms, bool in_worker,
                           discovery_round_fn round, void *ctx, void (*free_ctx)(void *ctx),
                           char *err, size_t errlen)
{
    discovery_poller *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        if (free_ctx != NULL) free_ctx(ctx);
        return -1;
    }
    p->d = d;
    p->interval_ms = interval_ms;
    p->in_worker = in_worker;
    p->round = round;
    p->ctx = ctx;
    p->free_ctx = free_ctx;
    p->work.data = p;
    discovery_result_init(&p->result);
    int rc = uv_timer_init(d->loop, &p->timer);
    if (rc != 0) {
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        if (free_ctx != NULL) free_ctx(ctx);
        free(p);
        return -1;
    }
    p->timer.data = p;
    d->state = p;
    uv_timer_start(&p->timer, poller_on_timer, 0, 0); /* the first round, from the loop */
    return 0;
}

/* Stops the poller in d->state; see discovery.h. */
void discovery_poller_stop(discovery *d)
{
    discovery_poller *p = d->state;
    if (p == NULL) {
        discovery_closed(d);
        return;
    }
    uv_timer_stop(&p->timer);
    if (p->busy) uv_cancel((uv_req_t *)&p->work); /* fails harmlessly once running */
    uv_close((uv_handle_t *)&p->timer, poller_on_timer_closed);
}
