/* fuzz_peer_proto: a message to one of the names peer_proto serves, as
 * link_conn_msg hands it over. The first byte picks the registered name;
 * the rest is the message term (without its version byte), validated with
 * term_validate as dist_decode does before anyone sees a payload. Whatever
 * peer_proto answers must be one complete packet that dist_decode accepts,
 * a SEND to a pid on the peer or a REG_SEND to global_name_server; any other
 * result leaves the output buffer untouched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "dist.h"
#include "peer_proto.h"
#include "term.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define PEER "n1@127.0.0.1"

static const char *const names[] = {"global_name_server", "net_kernel", "pg", "rex",
                                    "global_group",       "clusterd"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    char *payload = malloc(size); /* version byte + term, its own allocation */
    CHECK(payload != NULL);
    payload[0] = (char)131;
    memcpy(payload + 1, data + 1, size - 1);
    size_t used = 0;
    char err[128];
    if (term_validate(payload + 1, size - 1, &used, err, sizeof(err)) < 0) {
        free(payload);
        return 0;
    }
    dist_msg m;
    memset(&m, 0, sizeof(m));
    m.type = DIST_REG_SEND;
    m.has_toname = true;
    snprintf(m.toname, sizeof(m.toname), "%s", names[data[0] % (sizeof(names) / sizeof(names[0]))]);
    m.payload = payload;
    m.payload_len = used + 1;

    erlang_pid self_pid;
    memset(&self_pid, 0, sizeof(self_pid));
    snprintf(self_pid.node, sizeof(self_pid.node), "clusterd@127.0.0.1");
    self_pid.num = 7;
    self_pid.creation = 1234;
    peer_proto_ctx ctx = {.self = "clusterd@127.0.0.1", .self_pid = &self_pid, .peer = PEER};

    ei_x_buff out;
    CHECK(ei_x_new(&out) == 0);
    const char *what = NULL;
    peer_proto_result r = peer_proto_handle(&ctx, &m, &out, &what);
    CHECK(what != NULL);
    if (r == PEER_PROTO_ANSWERED) {
        const char *pkt;
        size_t plen, consumed;
        dist_msg back;
        CHECK(dist_frame(out.buff, (size_t)out.index, &pkt, &plen, &consumed) == 1);
        CHECK(consumed == (size_t)out.index);
        CHECK(dist_decode(pkt, plen, &back, err, sizeof(err)) == 0);
        CHECK(back.payload != NULL);
        if (back.type == DIST_SEND)
            CHECK(back.has_to_pid && strcmp(back.to.node, PEER) == 0);
        else
            CHECK(back.type == DIST_REG_SEND && strcmp(back.toname, "global_name_server") == 0);
    } else {
        CHECK(out.index == 0);
        if (strcmp(m.toname, "clusterd") == 0) CHECK(r == PEER_PROTO_NOT_OURS);
    }
    ei_x_free(&out);
    free(payload);
    return 0;
}
