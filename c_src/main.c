/* main: command dispatch, --version and --help. Each command lives in its
 * own cmd_*.c file; they share cli.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <curl/curlver.h>
#include <microhttpd.h>
#include <yaml.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run,
     "run -c FILE [--name N | --sname N] [--exit-on-eof] [-v] [--log-format logfmt|json]",
     "the coordinator: discovers members, meshes them and heals the mesh until SIGTERM/SIGINT; "
     "SIGHUP reloads the config. --name/--sname override node.name (e.g. clusterd@$POD_IP). "
     "With http.listen it serves /metrics, /healthz and /readyz. --exit-on-eof stops it when "
     "stdin closes (when started from an Erlang port). "
     "Exit 0 on a clean stop, 2 on a bad config or start-up error."},
    {"check", cmd_check, "check -c FILE",
     "validates the config and prints 'configuration OK' (exit 0), or every error as "
     "file:line:col: message (exit 2)."},
    {"status", cmd_status,
     "status [--coordinator NODE] [-c FILE] [--cookie-file F] [--timeout MS] [--json]",
     "asks a running coordinator for its view: topologies, members, links, missing links, "
     "recent actions and discovery errors. Exit 0, or 1 if it cannot be reached."},
};

static void print_version(void)
{
    printf("clusterd %s\n", CLUSTERD_VERSION);
    printf("  %s (ei)\n", EI_VERSION_STR);
    printf("  libyaml %s\n", yaml_get_version_string());
    printf("  libmicrohttpd %s\n", MHD_get_version());
    printf("  libcurl %s (not used yet)\n", LIBCURL_VERSION);
    printf("  c-ares %s (not used yet)\n", ARES_VERSION_STR);
}

int cli_help(const char *name)
{
    if (name) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(commands[i].name, name) == 0) {
                printf("usage: clusterd %s\n\n%s\n", commands[i].usage, commands[i].summary);
                printf("\nCommon options:\n"
                       "  -c, --config FILE   the YAML configuration\n"
                       "  --cookie-file F     the cookie (else node.cookie_file, node.cookie_env,\n"
                       "                      $RELEASE_COOKIE, ~/.erlang.cookie; never on argv)\n"
                       "  --name N | --sname N  our own node name (default: a unique hidden name)\n"
                       "  --timeout MS        deadline for each network step\n"
                       "  --json              machine-readable output\n"
                       "  -v, --verbose       debug logs\n");
                return 0;
            }
        }
        fprintf(stderr, "clusterd: no such command '%s'\n", name);
        return -1;
    }
    printf("clusterd %s: forms and heals Erlang/Elixir clusters from outside, as a C-node.\n\n",
           CLUSTERD_VERSION);
    printf("usage: clusterd COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %-8s %s\n", commands[i].name, commands[i].summary);
    printf("\n  help COMMAND   options of one command\n  --version      versions\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_help(NULL);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        print_version();
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return cli_help(NULL) == 0 ? 0 : 2;
    if (!strcmp(cmd, "help")) return cli_help(argc > 2 ? argv[2] : NULL) == 0 ? 0 : 2;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, cmd) == 0) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "clusterd: unknown command '%s' (see clusterd --help)\n", cmd);
    return EXIT_USAGE;
}
