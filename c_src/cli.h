/* cli: what every command shares: common options, loading the config and
 * the cookie, and making our own C-node identity for one-shot commands. */
#ifndef CLUSTERD_CLI_H
#define CLUSTERD_CLI_H

#include <stdbool.h>

#include "cnode.h"
#include "config.h"

#define CLUSTERD_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct cli_opts {
    const char *config_path;
    const char *cookie_file;
    const char *name;
    bool longnames;
    bool name_given;
    long long timeout_ms; /* 0 = the command's default */
    bool json;
    bool verbose;
    const char *log_format;
    const char *coordinator;
    bool exit_on_eof; /* run: stop when stdin reaches EOF (under an Erlang port) */
    int nargs;        /* positional arguments */
    char **args;
} cli_opts;

/* Parses argv after the command name. Unknown options are errors (exit 2). */
int cli_parse(int argc, char **argv, cli_opts *o);

/* Applies -v / --log-format. */
int cli_setup_logging(const cli_opts *o);

/* Loads and validates o->config_path, printing every error to stderr. */
config *cli_load_config(const cli_opts *o);

/* Initialises cn for a one-shot command: --name/--sname, else a unique hidden
 * name whose form (long or short) matches the node we will talk to
 * (peer_hint, may be NULL); cookie from the sources in order. Prints errors. */
int cli_make_cnode(const cli_opts *o, const config *cfg, const char *peer_hint, cnode *cn);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* Prints help for one command (or all with NULL); returns 0 if known. */
int cli_help(const char *command);

#endif
