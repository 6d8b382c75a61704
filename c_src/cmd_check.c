/* cmd_check: `clusterd check -c FILE`: every error, or "configuration OK". */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_check(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    if (cli_parse(argc, argv, &o) < 0) goto out;
    if (!o.config_path) {
        fprintf(stderr, "clusterd check: -c FILE is required\n");
        goto out;
    }
    config *cfg = cli_load_config(&o);
    if (cfg) {
        printf("configuration OK\n");
        config_free(cfg);
        status = EXIT_OK;
    }
out:
    free(o.args);
    return status;
}
