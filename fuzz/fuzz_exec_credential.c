/* fuzz_exec_credential: what a kubeconfig exec credential plugin prints
 * (an ExecCredential JSON object) as kube_client.c reads it, and RFC 3339
 * timestamps (its expirationTimestamp). A refusal says why; an accepted
 * credential has a token or both halves of a client certificate; the
 * timestamp parser only reads a NUL-terminated copy. Leaks fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kube_exec_credential c;
    char err[160];
    err[0] = '\0';
    if (kube_exec_credential_parse((const char *)data, size, &c, err, sizeof err) == 0) {
        if (c.token == NULL && (c.cert == NULL || c.key == NULL)) abort();
        if ((c.cert == NULL) != (c.key == NULL)) abort();
        if (c.expiry < 0) abort();
        kube_exec_credential_free(&c);
        if (c.token != NULL || c.key != NULL) abort();
    } else if (err[0] == '\0') {
        abort();
    }
    char *s = malloc(size + 1);
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)kube_parse_time(s);
    free(s);
    return 0;
}
