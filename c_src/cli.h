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
    const char *nodes; /* --nodes N1,N2,... */
    bool no_color;
    int nargs; /* positional arguments */
    char **args;
} cli_opts;

/* Parses argv after the command name. Unknown options are errors (exit 2). */
int cli_parse(int argc, char **argv, cli_opts *o);

/* Applies -v / --log-format. */
int cli_setup_logging(const cli_opts *o);

/* For commands that report on their own: only errors are logged, unless
 * -v (debug) or --log-format asks for more. */
int cli_setup_quiet_logging(const cli_opts *o);

/* Loads and validates o->config_path, printing every error to stderr. */
config *cli_load_config(const cli_opts *o);

/* Initialises cn for a one-shot command: --name/--sname, else a unique hidden
 * name whose form (long or short) matches the node we will talk to
 * (peer_hint, may be NULL); cookie from the sources in order. Prints errors. */
int cli_make_cnode(const cli_opts *o, const config *cfg, const char *peer_hint, cnode *cn);

/* Splits --nodes' comma list into validated, de-duplicated node names
 * (*out malloc'd, free with strv_free). Prints what is wrong; -1 on error. */
int cli_split_nodes(const char *csv, char ***out, size_t *n);

/* Colours: on when stdout is a terminal, unless NO_COLOR is set or
 * --no-color was given. cli_color_setup decides once per command. */
typedef enum { CLI_RESET, CLI_BOLD, CLI_DIM, CLI_RED, CLI_GREEN, CLI_YELLOW } cli_color_id;
void cli_color_setup(const cli_opts *o);
const char *cli_color(cli_color_id c); /* the escape, or "" when colours are off */

/* The command's network deadline: --timeout, else def_ms. */
unsigned cli_timeout(const cli_opts *o, unsigned def_ms);

/* The members of every topology of cfg, each discovered once (cmd_discover.c).
 * results gets cfg->n_topologies entries (free each with
 * discovery_result_free, then the array). Returns 0, or -1 when the loop
 * could not run (err). */
struct discovery_result;
int cli_discover_once(const config *cfg, struct discovery_result **results, char *err,
                      size_t errlen);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_mesh(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_names(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_disconnect(int argc, char **argv);
int cmd_form(int argc, char **argv);

/* Prints help for one command (or all with NULL); returns 0 if known. */
int cli_help(const char *command);

#endif
