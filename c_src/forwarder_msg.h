/* forwarder_msg: the messages the forwarder clusterd plants in each member
 * sends back ({clusterd_nodes, Cr, Node, Pid, Nodes}, {clusterd_unchanged,
 * Cr, Node, Pid, Count} and {clusterd_event, Cr, Node, Pid, nodeup|nodedown,
 * Peer, Info}), decoded from a payload
 * term_validate accepted. Outside input (fuzz/fuzz_forwarder_msg.c): every
 * field is type-checked; a wrong type is reported, never trusted. */
#ifndef CLUSTERD_FORWARDER_MSG_H
#define CLUSTERD_FORWARDER_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <ei.h>

typedef enum {
    FWD_NOT_OURS,        /* not a forwarder message: someone else's */
    FWD_MALFORMED,       /* our tag, but Cr, Node or Pid of the wrong type */
    FWD_NODES,           /* clusterd_nodes; nodes/n_nodes set */
    FWD_EVENT,           /* clusterd_event; nodeup, peer and reason set */
    FWD_UNCHANGED,       /* clusterd_unchanged (a resync answer); count set */
    FWD_MALFORMED_NODES, /* clusterd_nodes whose Nodes is not a list of atoms */
    FWD_MALFORMED_EVENT, /* clusterd_event whose event or Peer is wrong */
} forwarder_kind;

typedef struct forwarder_msg {
    unsigned long creation; /* Cr: the incarnation the forwarder was planted for */
    char node[MAXATOMLEN_UTF8];
    erlang_pid pid;
    char **nodes; /* owned: valid node names, `self` left out */
    size_t n_nodes;
    unsigned long count; /* clusterd_unchanged: how many nodes it has reported */
    bool nodeup;
    char peer[MAXATOMLEN_UTF8];
    char reason[256]; /* Info, printed (bounded) */
} forwarder_msg;

/* Decodes payload (version byte first) into *out; `self` (our node name) is
 * left out of Nodes. The header fields are set for every kind but
 * FWD_NOT_OURS and FWD_MALFORMED. Free with forwarder_msg_free. */
forwarder_kind forwarder_msg_decode(const char *payload, const char *self, forwarder_msg *out);

/* Frees out->nodes; safe on any decoded message. */
void forwarder_msg_free(forwarder_msg *m);

#endif
