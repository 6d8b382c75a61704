/* forwarder_msg: decoding the forwarder's messages (see forwarder_msg.h). */
#include "forwarder_msg.h"

#include <stdlib.h>
#include <string.h>

#include "nodename.h"
#include "term.h"

/* Decodes the list of node atoms at buf[*idx]; validated names only, and
 * not clusterd itself (a visible clusterd is in every member's nodes()). */
static int decode_node_list(const char *buf, int *idx, const char *self, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int type, size;
    if (ei_get_type(buf, idx, &type, &size) < 0) return -1;
    if (type == ERL_NIL_EXT) return ei_skip_term(buf, idx);
    if (type != ERL_LIST_EXT) return -1;
    int arity;
    if (ei_decode_list_header(buf, idx, &arity) < 0 || arity < 0) return -1;
    char **names = calloc((size_t)arity + 1, sizeof(char *));
    if (!names) return -1;
    size_t k = 0;
    for (int i = 0; i < arity; i++) {
        char atom[MAXATOMLEN_UTF8];
        if (ei_decode_atom(buf, idx, atom) < 0) goto fail;
        if (!nodename_valid(atom, NULL, 0) || strcmp(atom, self) == 0) continue;
        names[k] = strdup(atom);
        if (!names[k]) goto fail;
        k++;
    }
    if (ei_skip_term(buf, idx) < 0) goto fail; /* the tail */
    *out = names;
    *n = k;
    return 0;
fail:
    for (size_t i = 0; i < k; i++)
        free(names[i]);
    free(names);
    return -1;
}

forwarder_kind forwarder_msg_decode(const char *buf, const char *self, forwarder_msg *out)
{
    memset(out, 0, sizeof *out);
    int idx = 0, arity = 0;
    char tag[MAXATOMLEN_UTF8];
    if (ei_decode_version(buf, &idx, NULL) < 0 || ei_decode_tuple_header(buf, &idx, &arity) < 0 ||
        arity < 5 || ei_decode_atom(buf, &idx, tag) < 0)
        return FWD_NOT_OURS;
    bool is_nodes = strcmp(tag, "clusterd_nodes") == 0 && arity == 5;
    bool is_event = strcmp(tag, "clusterd_event") == 0 && arity == 7;
    bool is_unchanged = strcmp(tag, "clusterd_unchanged") == 0 && arity == 5;
    if (!is_nodes && !is_event && !is_unchanged) return FWD_NOT_OURS;
    if (ei_decode_ulong(buf, &idx, &out->creation) < 0 ||
        ei_decode_atom(buf, &idx, out->node) < 0 || ei_decode_pid(buf, &idx, &out->pid) < 0)
        return FWD_MALFORMED;
    if (is_unchanged)
        return ei_decode_ulong(buf, &idx, &out->count) < 0 ? FWD_MALFORMED : FWD_UNCHANGED;
    if (is_nodes)
        return decode_node_list(buf, &idx, self, &out->nodes, &out->n_nodes) < 0
                   ? FWD_MALFORMED_NODES
                   : FWD_NODES;
    char ev[MAXATOMLEN_UTF8];
    if (ei_decode_atom(buf, &idx, ev) < 0 || ei_decode_atom(buf, &idx, out->peer) < 0 ||
        !nodename_valid(out->peer, NULL, 0))
        return FWD_MALFORMED_EVENT;
    out->nodeup = strcmp(ev, "nodeup") == 0;
    (void)term_print(buf, &idx, out->reason, sizeof(out->reason));
    return FWD_EVENT;
}

void forwarder_msg_free(forwarder_msg *m)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        free(m->nodes[i]);
    free(m->nodes);
    m->nodes = NULL;
    m->n_nodes = 0;
}
