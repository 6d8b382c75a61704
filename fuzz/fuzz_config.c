/* fuzz_config: config_load_string on arbitrary text, both with and without
 * a result, and the diagnostics it returns: every message is a string that
 * starts with the label, and everything is freed (leaks are failures). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define LABEL "fuzz.yaml"

static void check_diag(const config_diag *d)
{
    for (size_t k = 0; k < d->n_errors; k++)
        if (!d->errors[k] || strncmp(d->errors[k], LABEL ":", sizeof(LABEL)) != 0) {
            fprintf(stderr, "error without the file label: %s\n", d->errors[k]);
            abort();
        }
    for (size_t k = 0; k < d->n_warnings; k++)
        if (!d->warnings[k]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    config *cfg = NULL;
    config_diag diag;
    int rc = config_load_string(text, size, LABEL, &cfg, &diag);
    if ((rc == 0) != (cfg != NULL)) abort();
    if (rc < 0 && diag.n_errors == 0) abort(); /* a failure says why */
    if (rc == 0 && diag.n_errors != 0) abort();
    check_diag(&diag);
    config_free(cfg);
    config_diag_free(&diag);

    /* Validation only, and with the messages dropped. */
    if (config_load_string(text, size, LABEL, NULL, NULL) != rc) abort();
    return 0;
}
