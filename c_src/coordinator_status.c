/* coordinator_status: the state snapshot as JSON (the reply to a status
 * call and `status --json`): topologies, members and their links, missing
 * pairs, recent actions, counters. Reads the coordinator, never changes it.
 * See coordinator_internal.h. */
#include "coordinator_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"
#include "transport.h"

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
    json_object_set_new(root, "visibility", json_string(co->cn->visible ? "visible" : "hidden"));
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
        /* sources that failed inside the last good round (e.g. one host of
         * an ErlangHosts file, or AAAA while A answered): kept members */
        json_object_set_new(o, "failed_sources", json_integer((json_int_t)ts->failed_sources));
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
        const char **sees = malloc((m->n_seen + 1) * sizeof(*sees));
        if (sees) {
            member_seen_names(&co->pool, m, sees);
            json_object_set_new(o, "sees", strv_json((char *const *)sees, m->n_seen));
            free(sees);
        } else {
            json_object_set_new(o, "sees", json_array());
        }
        const char *e = m->l ? link_last_error(m->l) : "";
        json_object_set_new(o, "error", e && *e ? json_string(e) : json_null());
        /* failed connects in a row, and how long the link has been up */
        json_object_set_new(o, "connect_failures",
                            json_integer(m->l ? (json_int_t)link_failures(m->l) : 0));
        bool up = m->l && link_get_state(m->l) == LINK_UP;
        json_object_set_new(
            o, "up_ms",
            up ? json_integer((json_int_t)(transport_now_ms() - link_up_since_ms(m->l)))
               : json_null());
        json_object_set_new(link_states, m->name, o);
        if (!m->gone && !member_reachable(m))
            json_array_append_new(unreachable, json_string(m->name));
        if (!m->has_snapshot || m->gone) continue;
        for (size_t j = i + 1; j < co->n_members; j++) {
            const member *o2 = co->members[j];
            if (o2->gone || !o2->has_snapshot) continue;
            if (!members_share_topology(co, m->name, o2->name)) continue;
            if (!member_sees(&co->pool, m, o2->name) || !member_sees(&co->pool, o2, m->name)) {
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
        const action_record *r = action_history_at(co, k);
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
    json_object_set_new(stats, "actions_deferred", json_integer((json_int_t)co->actions_deferred));
    json_object_set_new(stats, "heals", json_integer((json_int_t)co->heals));
    json_object_set_new(stats, "rpcs_ok", json_integer((json_int_t)st->rpcs_ok));
    json_object_set_new(stats, "rpcs_failed", json_integer((json_int_t)st->rpcs_failed));
    json_object_set_new(stats, "rpcs_timeout", json_integer((json_int_t)st->rpcs_timeout));
    json_object_set_new(stats, "connects_ok", json_integer((json_int_t)st->connects_ok));
    json_object_set_new(stats, "connects_failed", json_integer((json_int_t)st->connects_failed));
    json_object_set_new(stats, "node_events", json_integer((json_int_t)st->events));
    json_object_set_new(stats, "resyncs_unchanged",
                        json_integer((json_int_t)st->resyncs_unchanged));
    json_object_set_new(stats, "dropped_messages", json_integer((json_int_t)st->dropped_messages));
    json_object_set_new(stats, "peer_answers", json_integer((json_int_t)st->peer_answers));
    json_object_set_new(root, "stats", stats);
    return root;
}

/* status calls: {'$gen_call', {Pid, Tag}, status} -> {Tag, {ok, Json}} */
void status_answer_request(conn *c, const dist_msg *m, void *arg)
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
