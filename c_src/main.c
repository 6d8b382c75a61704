/* main: command dispatch, --version and --help. Each command lives in its
 * own cmd_*.c file; they share cli.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <curl/curlver.h>
#include <microhttpd.h>
#include <uv.h>
#include <yaml.h>

#include "cli.h"
#include "secret.h"
#include "tls_transport.h"

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
    {"discover", cmd_discover, "discover -c FILE [--json]",
     "runs each topology's discovery once and prints its members and the strategy's evidence "
     "(what the source answered, why each node is in or out). Connects to nothing. Exit 0 when "
     "every source answered, 1 when some failed, 2 on a bad config."},
    {"mesh", cmd_mesh, "mesh (-c FILE | --nodes N1,N2,...) [--timeout MS] [--json]",
     "observes without changing anything: asks every node at once for nodes(visible), "
     "nodes(hidden), its OTP release and net_ticktime; prints who sees whom as a matrix, then "
     "the verdict: full mesh, or partitions, missing links, unreachable nodes (cookie rejected, "
     "no EPMD, ...) and OTP/net_ticktime mismatches. Exit 0 full mesh, 1 not, 2 error."},
    {"ping", cmd_ping, "ping NODE... [-c FILE] [--timeout MS] [--json]",
     "EPMD lookup, distribution handshake and an RPC round-trip to each node, with timings, or "
     "why it failed: no_epmd, not_registered, port_closed, cookie_rejected, refused, timeout, "
     "tls (node.tls of -c FILE makes it speak TLS distribution). "
     "Exit 0 when all answered, 1 otherwise."},
    {"names", cmd_names, "names [HOST] [--timeout MS] [--json]",
     "the names and ports registered in EPMD on HOST (default: this host), on $ERL_EPMD_PORT "
     "or 4369. Exit 0, or 1 if EPMD cannot be reached."},
    {"connect", cmd_connect, "connect NODE_A NODE_B [--timeout MS] [--json]",
     "asks A to connect to B (net_kernel:connect_node/1 over RPC). Exit 0 done, 1 refused "
     "(A could not reach B), 2 error (A unreachable)."},
    {"disconnect", cmd_disconnect, "disconnect NODE_A NODE_B [--timeout MS] [--json]",
     "asks A to disconnect from B (erlang:disconnect_node/1 over RPC). Exit 0 done, 1 refused, "
     "2 error."},
    {"form", cmd_form, "form (-c FILE | --nodes N1,N2,...) [--timeout MS] [--json]",
     "one-shot for CI: runs the coordinator until every member is up and the full mesh holds "
     "(exit 0), or until --timeout (default 30000 ms; exit 1, printing what is missing); then "
     "stops, leaving nothing running on the members. Exit 2 on errors."},
};

static void print_version(void)
{
    printf("clusterd %s\n", CLUSTERD_VERSION);
    printf("  %s (ei)\n", EI_VERSION_STR);
    printf("  libyaml %s\n", yaml_get_version_string());
    printf("  %s (TLS distribution)\n", tls_library_version());
    printf("  libmicrohttpd %s\n", MHD_get_version());
    printf("  libcurl %s (Kubernetes API)\n", LIBCURL_VERSION);
    printf("  c-ares %s\n", ARES_VERSION_STR);
}

/* Prints text wrapped at 78 columns; the first line starts at column
 * first_col (>= indent), the others are indented by indent. */
static void print_wrapped(const char *text, size_t len, int first_col, int indent)
{
    int col = first_col;
    const char *p = text, *end = text + len;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *w = p;
        while (p < end && *p != ' ')
            p++;
        int wl = (int)(p - w);
        if (wl == 0) break;
        if (col > indent && col + 1 + wl > 78) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            putchar(' ');
            col++;
        }
        printf("%.*s", wl, w);
        col += wl;
    }
    putchar('\n');
}

/* The first sentence of a summary (up to ". "), for the command list. */
static size_t first_sentence(const char *s)
{
    const char *dot = strstr(s, ". ");
    return dot ? (size_t)(dot - s) : strlen(s);
}

int cli_help(const char *name)
{
    if (name) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(commands[i].name, name) == 0) {
                printf("usage: clusterd %s\n\n", commands[i].usage);
                print_wrapped(commands[i].summary, strlen(commands[i].summary), 0, 0);
                printf("\nCommon options:\n"
                       "  -c, --config FILE   the YAML configuration\n"
                       "  --cookie-file F     the cookie (else node.cookie_file, node.cookie_env,\n"
                       "                      $RELEASE_COOKIE, ~/.erlang.cookie; never on argv)\n"
                       "  --name N | --sname N  our own node name (default: a unique hidden name)\n"
                       "  --timeout MS        deadline for each network step (form: in total)\n"
                       "  --nodes N1,N2,...   the nodes, instead of -c (mesh, form)\n"
                       "  --json              machine-readable output\n"
                       "  --no-color          no colours (also NO_COLOR=1; only on a terminal)\n"
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
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        printf("  %-10s ", commands[i].name);
        print_wrapped(commands[i].summary, first_sentence(commands[i].summary), 13, 13);
    }
    printf("\n  help COMMAND   options of one command\n  --version      versions\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_help(NULL);
        return EXIT_USAGE;
    }
    /* Every command may come to hold the cookie, a token or a key: no core
     * dumps, no same-user ptrace (secret.h; CLUSTERD_DUMPABLE=1 opts out). */
    (void)secret_protect_process();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        print_version();
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return cli_help(NULL) == 0 ? 0 : 2;
    if (!strcmp(cmd, "help")) return cli_help(argc > 2 ? argv[2] : NULL) == 0 ? 0 : 2;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, cmd) != 0) continue;
        int rc = commands[i].run(argc - 2, argv + 2);
        /* Join libuv's thread pool now, while OpenSSL is still initialised:
         * its per-thread state (error queue, random generators) of the
         * connect workers is freed as they exit. Left to exit time, libuv's
         * destructor joins them after OpenSSL's atexit clean-up, and that
         * state leaks (valgrind: "definitely lost" in CRYPTO_zalloc). */
        uv_library_shutdown();
        return rc;
    }
    fprintf(stderr, "clusterd: unknown command '%s' (see clusterd --help)\n", cmd);
    return EXIT_USAGE;
}
