/* fuzz_forwarder_msg: the forwarder's messages to the registered name
 * clusterd ({clusterd_nodes, ...}, {clusterd_event, ...}) as links.c reads
 * them: any term term_validate accepts, wrong types included. Whatever is
 * decoded is consistent: node lists hold valid node names other than our
 * own, an event's peer is a valid node name, the printed reason is a string;
 * everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarder_msg.h"
#include "nodename.h"
#include "term.h"

#define SELF "clusterd@127.0.0.1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0;
    if (term_validate((const char *)data, size, &used, NULL, 0) < 0) return 0;
    char *payload = malloc(used + 1); /* version byte + the term, exactly */
    if (payload == NULL) return 0;
    payload[0] = (char)131;
    memcpy(payload + 1, data, used);
    forwarder_msg f;
    forwarder_kind k = forwarder_msg_decode(payload, SELF, &f);
    if (k == FWD_NODES) {
        for (size_t i = 0; i < f.n_nodes; i++)
            if (!nodename_valid(f.nodes[i], NULL, 0) || strcmp(f.nodes[i], SELF) == 0) abort();
    } else if (f.nodes != NULL || f.n_nodes != 0) {
        abort();
    }
    if (k == FWD_EVENT) {
        if (!nodename_valid(f.peer, NULL, 0)) abort();
        if (memchr(f.reason, '\0', sizeof f.reason) == NULL) abort();
    }
    forwarder_msg_free(&f);
    free(payload);
    return 0;
}
