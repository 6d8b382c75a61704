/* cmd_names: `clusterd names [HOST]`: the names registered in EPMD on any
 * host (EPMD's NAMES request, on $ERL_EPMD_PORT or 4369), unlike
 * `epmd -names`, which only asks the local one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "epmd_client.h"

#define NAMES_MAX 4096

static int by_name(const void *a, const void *b)
{
    return strcmp(((const epmd_name *)a)->name, ((const epmd_name *)b)->name);
}

int cmd_names(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    epmd_name *names = NULL;
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (o.nargs > 1) {
        fprintf(stderr, "clusterd names: at most one HOST\n");
        goto out;
    }
    const char *host = o.nargs == 1 ? o.args[0] : "localhost";
    char why[128];
    if (!nodename_host_valid(host, why, sizeof(why))) {
        fprintf(stderr, "clusterd names: '%s' is not a host: %s\n", host, why);
        goto out;
    }
    names = calloc(NAMES_MAX, sizeof(*names));
    if (!names) goto out;
    size_t count = 0;
    epmd_status st = epmd_names(host, (int)cli_timeout(&o, 5000), names, NAMES_MAX, &count);
    if (st != EPMD_OK) {
        fprintf(stderr, "clusterd names: EPMD on %s (port %d): %s\n", host, epmd_port(),
                epmd_status_text(st));
        status = EXIT_FAIL;
        goto out;
    }
    qsort(names, count, sizeof(*names), by_name);
    if (o.json) {
        json_t *j = json_object(), *arr = json_array();
        json_object_set_new(j, "host", json_string(host));
        json_object_set_new(j, "epmd_port", json_integer(epmd_port()));
        for (size_t i = 0; i < count; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "name", json_string(names[i].name));
            json_object_set_new(e, "port", json_integer(names[i].port));
            json_array_append_new(arr, e);
        }
        json_object_set_new(j, "names", arr);
        char *s = json_dumps(j, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        printf("%sepmd on %s:%d%s: %zu name%s\n", cli_color(CLI_BOLD), host, epmd_port(),
               cli_color(CLI_RESET), count, count == 1 ? "" : "s");
        for (size_t i = 0; i < count; i++)
            printf("  %-30s port %d\n", names[i].name, names[i].port);
    }
    status = EXIT_OK;
out:
    free(names);
    free(o.args);
    return status;
}
