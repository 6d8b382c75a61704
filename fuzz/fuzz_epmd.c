/* fuzz_epmd: EPMD's answers as epmd_client.c reads them. The input is taken
 * as a PORT2_RESP (every prefix too, as the reader checks each time bytes
 * arrive whether the answer is complete) and as a NAMES answer. A PORT2
 * answer accepted has a non-zero port; NAMES entries have a name and a port
 * in range; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epmd_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    epmd_node_info info;
    for (size_t k = 0; k <= size && k <= 300; k++) {
        epmd_status st = epmd_port2_parse(data, k, &info);
        if (st == EPMD_OK && (info.port < 1 || info.port > 65535)) abort();
        if (st != EPMD_OK && st != EPMD_ERR_NOT_FOUND && st != EPMD_ERR_PROTOCOL) abort();
    }
    if (size > 300) {
        epmd_status st = epmd_port2_parse(data, size, &info);
        if (st == EPMD_OK && (info.port < 1 || info.port > 65535)) abort();
    }
    epmd_name *names = NULL;
    size_t n = 0;
    epmd_status st = epmd_parse_names(data, size, &names, &n);
    if (st == EPMD_OK) {
        for (size_t k = 0; k < n; k++) {
            size_t len = strnlen(names[k].name, sizeof names[k].name);
            if (len == 0 || len == sizeof names[k].name) abort();
            if (names[k].port < 1 || names[k].port > 65535) abort();
        }
        if ((n == 0) != (names == NULL)) abort();
    } else if (st != EPMD_ERR_PROTOCOL || names != NULL || n != 0) {
        abort();
    }
    free(names);
    return 0;
}
