/* fuzz_probe_reply: the decoders the debugging commands apply to RPC replies
 * from nodes (probe_reply_atoms for nodes(), probe_reply_text for releases,
 * net_ticktime and connect results), on any term term_validate accepts, as
 * links.c hands them over. They must never fail to terminate, overrun or
 * return names that are not node names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "nodename.h"
#include "probe.h"
#include "strv.h"
#include "term.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0;
    if (term_validate((const char *)data, size, &used, NULL, 0) < 0) return 0;
    probe_reply r;
    memset(&r, 0, sizeof(r));
    r.ok = true;
    r.term = malloc(used ? used : 1);
    if (!r.term) return 0;
    memcpy(r.term, data, used);
    r.len = used;
    char **v = NULL;
    size_t n = 0;
    if (probe_reply_atoms(&r, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!nodename_valid(v[i], NULL, 0)) abort();
            if (i > 0 && strcmp(v[i - 1], v[i]) > 0) abort();
        }
        strv_free(v, n);
    }
    char text[64];
    probe_reply_text(&r, text, sizeof(text));
    if (memchr(text, '\0', sizeof(text)) == NULL) abort();
    free(r.term);
    return 0;
}
