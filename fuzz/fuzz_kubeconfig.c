/* fuzz_kubeconfig: kubeconfig_parse on arbitrary text, for the current
 * context and for a named one: it either fails with a message or fills a
 * kube_access with an https:// server, and everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubeconfig.h"

static void check(const char *text, size_t size, const char *context)
{
    kube_access a;
    char err[300];
    err[0] = '\0';
    int rc = kubeconfig_parse(text, size, "/fuzz", context, &a, err, sizeof err);
    if (rc != 0) {
        if (err[0] == '\0') abort();
        return;
    }
    if (a.server == NULL || strncmp(a.server, "https://", 8) != 0) abort();
    if ((a.cert_file || a.cert_data) != (a.key_file || a.key_data)) abort();
    if (a.exec != NULL && a.exec->command == NULL) abort();
    kube_access_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check(text, size, NULL);
    check(text, size, "test");
    char *out = NULL;
    size_t n = 0;
    if (kube_base64_decode(text, size, &out, &n) == 0) {
        if (n > size) abort();
        free(out);
    }
    return 0;
}
