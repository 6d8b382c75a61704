/* discovery/dns_common: rounds of DNS look-ups shared by the DNS strategies.
 * One resolver and one timer per topology; the timer either starts the next
 * round or, while a round runs, is its deadline. See dns_common.h. */
#include "discovery/dns_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "log.h"
#include "nodename.h"

#define NODE_TEXT_MAX (NODENAME_MAX + DNS_NAME_TEXT_MAX + 2)
#define REJECTION_LOG_MAX 10 /* rejection lines logged per change */

typedef struct lookup_state {
    struct dns_rounds *s;
    char *name;
    uint16_t type;
    /* this round */
    bool done;
    dns_status status;
    char detail[256];
    discovery_result part; /* members and evidence of this look-up */
    size_t n_added;
    bool has_ttl;
    uint32_t min_ttl;
    /* the members of its last usable answer, kept for its failures */
    char **last;
    size_t n_last;
    bool failing; /* failed inside an ok round last time (logged at warn once) */
} lookup_state;

typedef struct dns_rounds {
    discovery *d;
    dns_resolver *res;
    uv_timer_t timer;
    bool timer_open, resolver_open;
    bool in_round, starting, deadline_hit;
    size_t pending;
    char *basename;
    unsigned long long interval_ms;
    lookup_state lk[DNS_ROUNDS_MAX_LOOKUPS];
    size_t n;
    char *last_rejections; /* what was logged at warn last, so repeats go to debug */
} dns_rounds;

/* ---- answers to members (pure) ---- */

/* Adds the members of one answer; see dns_common.h. */
size_t dns_answer_add_members(const dns_answer *a, const char *basename, discovery_result *r)
{
    char tname[16];
    size_t added = 0;
    for (size_t k = 0; k < a->n_chain; k++)
        discovery_result_add_evidence(r, "  CNAME %s -> %s (TTL %u s)", a->chain[k].owner,
                                      a->chain[k].data, (unsigned)a->chain[k].ttl);
    for (size_t k = 0; k < a->n_records; k++) {
        const dns_record *rec = &a->records[k];
        const char *type = dns_type_name(rec->type, tname, sizeof tname);
        char what[DNS_NAME_TEXT_MAX + 64];
        if (rec->type == DNS_TYPE_SRV)
            snprintf(what, sizeof what, "SRV %u %u %u %s", rec->priority, rec->weight, rec->port,
                     rec->data[0] ? rec->data : ".");
        else
            snprintf(what, sizeof what, "%s %s", type, rec->data);
        if (rec->data[0] == '\0') {
            discovery_result_add_evidence(r,
                                          "  %s (TTL %u s): target \".\" means no service: "
                                          "rejected",
                                          what, (unsigned)rec->ttl);
            continue;
        }
        char node[NODE_TEXT_MAX];
        snprintf(node, sizeof node, "%s@%s", basename, rec->data);
        if (discovery_result_add_member(r, node) == 0) {
            added++;
            discovery_result_add_evidence(r, "  %s (TTL %u s) -> %s", what, (unsigned)rec->ttl,
                                          node);
        } else {
            discovery_result_add_evidence(r, "  %s (TTL %u s): no member (line above)", what,
                                          (unsigned)rec->ttl);
        }
    }
    for (size_t k = 0; k < a->n_rejected; k++)
        discovery_result_add_evidence(r, "  ignored: %s", a->rejected[k]);
    return added;
}

/* ---- option checks ---- */

int dns_check_basename(const char *option, const char *value, char *err, size_t errlen)
{
    size_t n = value != NULL ? strlen(value) : 0;
    if (n == 0 || n > NODENAME_MAX) {
        snprintf(err, errlen, "%s must be 1 to %d characters", option, NODENAME_MAX);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        char c = value[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            snprintf(err, errlen,
                     "%s \"%.200s\" is not the alive part of a node name (letters, digits, _ "
                     "and - only)",
                     option, value);
            return -1;
        }
    }
    return 0;
}

int dns_check_query_name(const char *option, const char *value, char *err, size_t errlen)
{
    size_t n = value != NULL ? strlen(value) : 0;
    if (n > 0 && value[n - 1] == '.') n--; /* a final dot: queried as given */
    if (n == 0 || n > 253) {
        snprintf(err, errlen, "%s must be a DNS name of 1 to 253 characters", option);
        return -1;
    }
    size_t label = 0;
    for (size_t k = 0; k < n; k++) {
        char c = value[k];
        if (c == '.') {
            if (label == 0) goto bad;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            goto bad;
        if (++label > 63) goto bad;
    }
    if (label == 0) goto bad;
    return 0;
bad:
    snprintf(err, errlen,
             "%s \"%.200s\" is not a DNS name (labels of 1-63 letters, digits, _ or -, separated "
             "by single dots)",
             option, value);
    return -1;
}

/* ---- rounds ---- */

static void strv_free_n(char **v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
}

static void rounds_free(dns_rounds *s)
{
    for (size_t k = 0; k < s->n; k++) {
        free(s->lk[k].name);
        discovery_result_free(&s->lk[k].part);
        strv_free_n(s->lk[k].last, s->lk[k].n_last);
    }
    free(s->basename);
    free(s->last_rejections);
    free(s);
}

static void rounds_maybe_closed(dns_rounds *s)
{
    if (s->timer_open || s->resolver_open) return;
    discovery *d = s->d;
    rounds_free(s);
    d->state = NULL;
    discovery_closed(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    dns_rounds *s = h->data;
    s->timer_open = false;
    rounds_maybe_closed(s);
}

static void on_resolver_closed(void *arg)
{
    dns_rounds *s = arg;
    s->resolver_open = false;
    rounds_maybe_closed(s);
}

/* Replaces a look-up's memory with the members it added this round. */
static void remember(lookup_state *lk)
{
    char **copy = lk->part.n_members ? calloc(lk->part.n_members, sizeof *copy) : NULL;
    size_t n = 0;
    if (lk->part.n_members && copy == NULL) return; /* keep the old memory */
    for (size_t k = 0; k < lk->part.n_members; k++) {
        copy[n] = strdup(lk->part.members[k]);
        if (copy[n] == NULL) {
            strv_free_n(copy, n);
            return;
        }
        n++;
    }
    strv_free_n(lk->last, lk->n_last);
    lk->last = copy;
    lk->n_last = n;
}

/* Logs the records this round rejected: at warn when they differ from the
 * last round's, at debug when they repeat. */
static void log_rejections(dns_rounds *s, const discovery_result *r)
{
    size_t total = 0;
    for (size_t k = 0; k < r->n_evidence; k++)
        if (strstr(r->evidence[k], "rejected") || strstr(r->evidence[k], "ignored:"))
            total += strlen(r->evidence[k]) + 1;
    char *joined = calloc(total + 1, 1);
    if (joined == NULL) return;
    for (size_t k = 0; k < r->n_evidence; k++)
        if (strstr(r->evidence[k], "rejected") || strstr(r->evidence[k], "ignored:")) {
            strcat(joined, r->evidence[k]);
            strcat(joined, "\n");
        }
    bool repeat = s->last_rejections != NULL && strcmp(s->last_rejections, joined) == 0;
    log_level level = repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN;
    int logged = 0;
    for (size_t k = 0; k < r->n_evidence && logged < REJECTION_LOG_MAX; k++) {
        const char *line = r->evidence[k];
        if (!strstr(line, "rejected") && !strstr(line, "ignored:")) continue;
        while (*line == ' ')
            line++;
        log_event(level, "DNS record not used", "topology", s->d->topology->name, "detail", line,
                  LOG_END);
        logged++;
    }
    free(s->last_rejections);
    s->last_rejections = joined;
}

static void on_timer(uv_timer_t *t);

/* When the next round starts: the polling interval, or sooner when the
 * smallest TTL among the answers used is shorter (never below the floor). */
static unsigned long long next_delay(const dns_rounds *s)
{
    unsigned long long delay = s->interval_ms;
    for (size_t k = 0; k < s->n; k++) {
        const lookup_state *lk = &s->lk[k];
        if (lk->status != DNS_OK || lk->n_added == 0 || !lk->has_ttl) continue;
        unsigned long long ttl_ms = (unsigned long long)lk->min_ttl * 1000;
        if (ttl_ms < DNS_MIN_REQUERY_MS) ttl_ms = DNS_MIN_REQUERY_MS;
        if (ttl_ms < delay) delay = ttl_ms;
    }
    return delay;
}

static void round_finish(dns_rounds *s)
{
    discovery *d = s->d;
    uv_timer_stop(&s->timer);
    s->in_round = false;
    if (d->stopping) {
        for (size_t k = 0; k < s->n; k++)
            discovery_result_free(&s->lk[k].part);
        return;
    }
    discovery_result r;
    discovery_result_init(&r);
    size_t with_members = 0, failed = 0;
    char reasons[256] = "";
    char tname[16];
    for (size_t k = 0; k < s->n; k++) {
        lookup_state *lk = &s->lk[k];
        const char *type = dns_type_name(lk->type, tname, sizeof tname);
        char ttl[48] = "";
        if (lk->has_ttl) snprintf(ttl, sizeof ttl, ", min TTL %u s", (unsigned)lk->min_ttl);
        discovery_result_add_evidence(&r, "%s %s via %s: %s%s%s; %zu member(s)%s", type, lk->name,
                                      dns_resolver_servers(s->res), dns_status_name(lk->status),
                                      lk->detail[0] ? ": " : "", lk->detail, lk->n_added, ttl);
        for (size_t e = 0; e < lk->part.n_evidence; e++)
            discovery_result_add_evidence(&r, "%s", lk->part.evidence[e]);
        size_t used = strlen(reasons);
        bool failure =
            lk->status != DNS_OK && lk->status != DNS_NODATA && lk->status != DNS_NXDOMAIN;
        snprintf(reasons + used, sizeof reasons - used, "%s%s %s: %s%s%s%s", used ? "; " : "", type,
                 lk->name, dns_status_name(lk->status), failure && lk->detail[0] ? " (" : "",
                 failure ? lk->detail : "", failure && lk->detail[0] ? ")" : "");
        if (lk->status == DNS_OK && lk->n_added > 0) {
            with_members++;
        } else if (lk->status == DNS_OK) {
            size_t u = strlen(reasons);
            snprintf(reasons + u, sizeof reasons - u, " (no usable record)");
        } else if (lk->status != DNS_NODATA && lk->status != DNS_NXDOMAIN) {
            failed++;
        }
    }
    if (with_members == 0) {
        if (failed == 0)
            discovery_result_fail(&r, "empty answer (%s)", reasons);
        else
            discovery_result_fail(&r, "%s", reasons);
    } else {
        for (size_t k = 0; k < s->n; k++) {
            lookup_state *lk = &s->lk[k];
            bool empty =
                lk->status == DNS_OK || lk->status == DNS_NODATA || lk->status == DNS_NXDOMAIN;
            if (lk->status == DNS_OK && lk->n_added > 0) {
                for (size_t m = 0; m < lk->part.n_members; m++)
                    discovery_result_add_member(&r, lk->part.members[m]);
                remember(lk);
            } else if (empty) {
                remember(lk); /* answered: it has none now */
            } else {
                r.n_partial++;
                char what[DNS_NAME_TEXT_MAX + 64];
                snprintf(what, sizeof what, "%s %s: %s%s%s",
                         dns_type_name(lk->type, tname, sizeof tname), lk->name,
                         dns_status_name(lk->status), lk->detail[0] ? ": " : "", lk->detail);
                discovery_result_add_evidence(
                    &r, "%s: keeping its %zu member(s) from its last answer", what, lk->n_last);
                log_event(lk->failing ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                          "DNS look-up failed; keeping its members from the last answer",
                          "topology", d->topology->name, "reason", what, LOG_END);
                lk->failing = true;
                for (size_t m = 0; m < lk->n_last; m++)
                    discovery_result_add_member(&r, lk->last[m]);
                continue;
            }
            lk->failing = false;
        }
    }
    for (size_t k = 0; k < s->n; k++)
        discovery_result_free(&s->lk[k].part);
    log_rejections(s, &r);
    unsigned long long delay = next_delay(s);
    if (!d->once)
        discovery_result_add_evidence(&r, "next look-up in %llu ms (polling_interval %llu ms%s)",
                                      delay, s->interval_ms,
                                      delay < s->interval_ms ? ", sooner for the TTL" : "");
    discovery_result_finish(&r);
    log_event(LOG_LEVEL_DEBUG, "DNS round", "topology", d->topology->name, "verdict",
              r.verdict == DISCOVERY_OK ? "ok" : "failed", "reason", r.reason, LOG_END);
    d->report(d, &r);
    discovery_result_free(&r);
    if (!d->stopping && !d->once) uv_timer_start(&s->timer, on_timer, delay, 0);
}

static void on_lookup_done(void *arg, dns_status status, const char *detail,
                           const dns_answer *answer)
{
    lookup_state *lk = arg;
    dns_rounds *s = lk->s;
    if (!s->in_round || lk->done) return;
    lk->done = true;
    lk->status = status;
    if (status == DNS_CANCELLED && s->deadline_hit)
        snprintf(lk->detail, sizeof lk->detail, "no answer within the round deadline of %d ms",
                 DNS_ROUND_DEADLINE_MS);
    else
        snprintf(lk->detail, sizeof lk->detail, "%s", detail != NULL ? detail : "");
    if (answer != NULL) {
        char rc[16];
        size_t asked = strlen(lk->name);
        if (asked > 0 && lk->name[asked - 1] == '.') asked--;
        if (strlen(answer->qname) != asked || strncasecmp(answer->qname, lk->name, asked) != 0) {
            size_t u = strlen(lk->detail);
            snprintf(lk->detail + u, sizeof lk->detail - u, "%sanswered for %s", u ? ", " : "",
                     answer->qname);
        }
        if (status != DNS_OK && status != DNS_NODATA && status != DNS_NXDOMAIN &&
            lk->detail[0] == '\0')
            snprintf(lk->detail, sizeof lk->detail, "rcode %s",
                     dns_rcode_name(answer->rcode, rc, sizeof rc));
        if (status == DNS_OK) {
            lk->n_added = dns_answer_add_members(answer, lk->s->basename, &lk->part);
            lk->has_ttl = answer->has_ttl;
            lk->min_ttl = answer->min_ttl;
        } else {
            for (size_t k = 0; k < answer->n_rejected; k++)
                discovery_result_add_evidence(&lk->part, "  ignored: %s", answer->rejected[k]);
        }
    }
    if (s->pending > 0) s->pending--;
    if (!s->starting && s->pending == 0) round_finish(s);
}

static void round_start(dns_rounds *s)
{
    s->in_round = true;
    s->starting = true;
    s->deadline_hit = false;
    s->pending = s->n;
    for (size_t k = 0; k < s->n; k++) {
        lookup_state *lk = &s->lk[k];
        lk->done = false;
        lk->status = DNS_ERROR;
        lk->detail[0] = '\0';
        lk->n_added = 0;
        lk->has_ttl = false;
        discovery_result_free(&lk->part);
    }
    uv_timer_start(&s->timer, on_timer, DNS_ROUND_DEADLINE_MS, 0);
    for (size_t k = 0; k < s->n; k++)
        dns_resolve(s->res, s->lk[k].name, s->lk[k].type, on_lookup_done, &s->lk[k]);
    s->starting = false;
    if (s->in_round && s->pending == 0) round_finish(s);
}

static void on_timer(uv_timer_t *t)
{
    dns_rounds *s = t->data;
    if (s->d->stopping) return;
    if (s->in_round) {
        s->deadline_hit = true;
        dns_resolver_cancel(s->res); /* every callback runs: the round finishes */
        return;
    }
    round_start(s);
}

/* Starts rounds; see dns_common.h. */
int dns_rounds_start(discovery *d, const dns_rounds_config *cfg, char *err, size_t errlen)
{
    dns_rounds *s = calloc(1, sizeof *s);
    if (s == NULL) goto nomem;
    s->d = d;
    s->interval_ms = cfg->interval_ms;
    s->n = cfg->n_lookups;
    s->basename = strdup(cfg->basename);
    if (s->basename == NULL) goto nomem;
    for (size_t k = 0; k < s->n; k++) {
        s->lk[k].s = s;
        s->lk[k].type = cfg->types[k];
        discovery_result_init(&s->lk[k].part);
        s->lk[k].name = strdup(cfg->names[k]);
        if (s->lk[k].name == NULL) goto nomem;
    }
    dns_options o = {0};
    if (d->cfg != NULL) {
        o.nameservers = d->cfg->nameservers;
        o.n_nameservers = d->cfg->n_nameservers;
    }
    if (dns_resolver_new(d->loop, &o, &s->res, err, errlen) != 0) {
        rounds_free(s);
        return -1;
    }
    s->resolver_open = true;
    uv_timer_init(d->loop, &s->timer);
    s->timer.data = s;
    s->timer_open = true;
    d->state = s;
    uv_timer_start(&s->timer, on_timer, 0, 0); /* the first round, from the loop */
    return 0;
nomem:
    if (s != NULL) rounds_free(s);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Stops; see dns_common.h. */
void dns_rounds_stop(discovery *d)
{
    dns_rounds *s = d->state;
    if (s == NULL) {
        discovery_closed(d);
        return;
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    dns_resolver_close(s->res, on_resolver_closed, s);
}

int dns_address_validate(const opt_values *ov, const char *name_key, const char *basename_key,
                         char *err, size_t errlen)
{
    if (dns_check_query_name(name_key, opts_str(ov, name_key), err, errlen) != 0) return -1;
    return dns_check_basename(basename_key, opts_str(ov, basename_key), err, errlen);
}

int dns_address_start(discovery *d, const char *name_key, const char *basename_key, char *err,
                      size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    if (dns_address_validate(ov, name_key, basename_key, err, errlen) != 0) return -1;
    const char *name = opts_str(ov, name_key);
    dns_rounds_config c = {
        .basename = opts_str(ov, basename_key),
        .names = {name, name},
        .types = {DNS_TYPE_A, DNS_TYPE_AAAA},
        .n_lookups = 2,
        .interval_ms = (unsigned long long)opts_int(ov, "polling_interval"),
    };
    return dns_rounds_start(d, &c, err, errlen);
}
