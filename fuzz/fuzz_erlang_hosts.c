/* fuzz_erlang_hosts: OTP's .hosts.erlang ('host'. per line, comments, quoted
 * atoms) as the ErlangHosts strategy reads it. A refusal names the file;
 * every host accepted is a non-empty valid host name; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "nodename.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **hosts = NULL;
    size_t n = 0;
    char err[300];
    err[0] = '\0';
    if (erlang_hosts_parse((const char *)data, size, "hosts.erlang", &hosts, &n, err, sizeof err) !=
        0) {
        if (strstr(err, "hosts.erlang") == NULL || hosts != NULL || n != 0) abort();
        return 0;
    }
    char why[128];
    for (size_t k = 0; k < n; k++) {
        if (hosts[k] == NULL || hosts[k][0] == '\0') abort();
        if (!nodename_host_valid(hosts[k], why, sizeof why)) abort();
        free(hosts[k]);
    }
    free(hosts);
    return 0;
}
