/* peer_proto: the answers the stock OTP servers on a member expect from a
 * node connected to them, so that clusterd as a visible (published) node
 * keeps them healthy without running any of their logic. Stateless: each
 * message is validated, classified and answered on its own.
 *
 * - global_name_server (global, protocol vsn 8 as in OTP 25):
 *   {init_connect, ...} -> {in_sync, Us, true}, so that global:sync() on the
 *   member counts us as synced without ever adding us to its `known` nodes
 *   (so global never locks, registers names on, or sends new_nodes to us);
 *   gen_server calls {set_lock, _} / {del_lock, _} -> true, so that
 *   global:trans/set_lock/del_lock over [node() | nodes()] complete;
 *   {register | register_ext | unregister, ...} -> yes / ok, holding nothing.
 *   Other global traffic (it only comes to known nodes) is ignored.
 * - net_kernel: {is_auth, Node} -> yes, so net_adm:ping(clusterd) answers
 *   pong instead of waiting forever (in hidden mode too).
 * - pg ({discover, Pid}), rex ({Pid, features_request}) and global_group:
 *   ignored on purpose. Without an answer pg keeps us out of its scopes and
 *   rpc/erpc to us fail at once with notsup (ei has no DFLAG_SPAWN).
 *
 * Nothing here registers a name or starts work on clusterd: members cannot
 * place processes on a C-node. */
#ifndef CLUSTERD_PEER_PROTO_H
#define CLUSTERD_PEER_PROTO_H

#include <ei.h>

#include "dist.h"

typedef struct peer_proto_ctx {
    const char *self;           /* our node name */
    const erlang_pid *self_pid; /* the sender of the messages we send by name */
    const char *peer;           /* the node at the other end of the connection */
} peer_proto_ctx;

typedef enum {
    PEER_PROTO_NOT_OURS,  /* addressed to a name peer_proto does not serve */
    PEER_PROTO_ANSWERED,  /* out holds one complete packet for the same connection */
    PEER_PROTO_IGNORED,   /* a known message that needs no answer */
    PEER_PROTO_MALFORMED, /* to a served name, in a shape we do not accept: dropped */
} peer_proto_result;

/* Handles one decoded message m (its payload validated by dist_decode).
 * On PEER_PROTO_ANSWERED a packet (as from dist_encode_*) was appended to
 * out; otherwise out is unchanged. *what (may be NULL) names the message for
 * logs ("global init_connect", ...); it points to a static string. */
peer_proto_result peer_proto_handle(const peer_proto_ctx *ctx, const dist_msg *m, ei_x_buff *out,
                                    const char **what);

#endif
