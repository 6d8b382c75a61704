/* discovery/erlang_hosts: Cluster.Strategy.ErlangHosts, OTP's .hosts.erlang
 * plus NAMES on the EPMD of every host listed (net_adm:world/0 without the
 * pings). The file is found as net_adm:host_file/0 finds it (cwd, $HOME, the
 * OTP root) unless `hosts_file` names it, and is re-read every round so that
 * edits are picked up. A host that does not answer is a partial failure: the
 * names last seen there are kept. The round runs on the thread pool. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "epmd_client.h"
#include "nodename.h"

#ifndef ERLANG_ROOT_DIR
#define ERLANG_ROOT_DIR "/usr/lib/erlang" /* code:root_dir() of Debian's OTP */
#endif
#define HOSTS_FILE_NAME ".hosts.erlang"
#define HOSTS_FILE_MAX (64 * 1024)
#define HOST_TIMEOUT_MS 2000
#define N_SEARCH 3

static const opt_spec erlang_hosts_options[] = {
    {.name = "hosts_file",
     .type = OPT_STRING,
     .help = "path of the hosts file; default: .hosts.erlang in the working directory, $HOME, "
             "then the OTP root, as net_adm:host_file/0"},
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between rounds"},
    {.name = "timeout",
     .type = OPT_INT,
     .def_int = 0,
     .min = 100,
     .max = 86400000,
     .help = "libcluster's name for polling_interval (set one of the two)"},
};

/* ---- the .hosts.erlang parser ---- */

typedef struct hosts_parser {
    const char *p, *end;
    const char *label;
    int line;
    char *err;
    size_t errlen;
} hosts_parser;

static int parser_error(hosts_parser *ps, int line, const char *msg, const char *detail)
{
    if (detail != NULL)
        snprintf(ps->err, ps->errlen, "%s:%d: %s%s", ps->label, line, msg, detail);
    else
        snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->label, line, msg);
    return -1;
}

/* Skips whitespace and %-comments, counting lines. */
static void parser_skip_blank(hosts_parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            ps->p++;
        } else if (c == '%') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else {
            break;
        }
    }
}

/* Reads one atom (quoted, or unquoted [a-z][A-Za-z0-9_@]*) into out. */
static int parser_read_atom(hosts_parser *ps, char *out, size_t outlen)
{
    int line = ps->line;
    size_t n = 0;
    if (*ps->p == '\'') {
        ps->p++;
        for (;;) {
            if (ps->p >= ps->end) return parser_error(ps, line, "unterminated quoted atom", NULL);
            char c = *ps->p++;
            if (c == '\'') break;
            if (c == '\\')
                return parser_error(ps, ps->line, "escape sequences are not allowed in host names",
                                    NULL);
            if (c == '\n' || (unsigned char)c < 0x20 || (unsigned char)c == 0x7f)
                return parser_error(ps, ps->line, "control character or newline in quoted atom",
                                    NULL);
            if (n + 1 >= outlen)
                return parser_error(ps, line, "atom longer than 255 characters", NULL);
            out[n++] = c;
        }
        if (n == 0) return parser_error(ps, line, "empty atom ''", NULL);
    } else if (*ps->p >= 'a' && *ps->p <= 'z') {
        while (ps->p < ps->end &&
               (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '@')) {
            if (n + 1 >= outlen)
                return parser_error(ps, line, "atom longer than 255 characters", NULL);
            out[n++] = *ps->p++;
        }
    } else {
        return parser_error(ps, line, "expected a host name as a quoted atom, e.g. ",
                            "'host.example.com'.");
    }
    out[n] = '\0';
    return 0;
}

static void free_hosts(char **hosts, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(hosts[k]);
    free(hosts);
}

/* Parses a .hosts.erlang text; see discovery.h. */
int erlang_hosts_parse(const char *text, size_t len, const char *label, char ***hosts, size_t *n,
                       char *err, size_t errlen)
{
    hosts_parser ps = {
        .p = text, .end = text + len, .label = label, .line = 1, .err = err, .errlen = errlen};
    char **list = NULL;
    size_t count = 0;
    *hosts = NULL;
    *n = 0;
    if (memchr(text, '\0', len) != NULL) {
        const char *nul = memchr(text, '\0', len);
        int line = 1;
        for (const char *c = text; c < nul; c++)
            line += *c == '\n';
        parser_error(&ps, line, "NUL byte in file", NULL);
        return -1;
    }
    for (;;) {
        parser_skip_blank(&ps);
        if (ps.p >= ps.end) break;
        int line = ps.line;
        char atom[NODENAME_MAX + 1];
        if (parser_read_atom(&ps, atom, sizeof atom) != 0) goto fail;
        parser_skip_blank(&ps);
        if (ps.p >= ps.end || *ps.p != '.') {
            parser_error(&ps, ps.line, "expected '.' after the host name", NULL);
            goto fail;
        }
        ps.p++;
        /* An Erlang term ends with '.' followed by white space, a comment or
         * the end of the file. */
        if (ps.p < ps.end && !isspace((unsigned char)*ps.p) && *ps.p != '%') {
            parser_error(&ps, ps.line, "expected white space or end of file after '.'", NULL);
            goto fail;
        }
        char why[128];
        if (!nodename_host_valid(atom, why, sizeof why)) {
            parser_error(&ps, line, "not a host name: ", why);
            goto fail;
        }
        char **grown = realloc(list, (count + 1) * sizeof *grown);
        if (grown == NULL) goto nomem;
        list = grown;
        list[count] = strdup(atom);
        if (list[count] == NULL) goto nomem;
        count++;
    }
    *hosts = list;
    *n = count;
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", label);
fail:
    free_hosts(list, count);
    return -1;
}

/* ---- the strategy ---- */

typedef struct host_memory {
    char *host;
    char **names; /* alive names last seen on host */
    size_t n_names;
} host_memory;

typedef struct erlang_hosts_state {
    char *paths[N_SEARCH]; /* the configured file, or the search path (NULL-padded) */
    bool configured;       /* paths[0] is hosts_file: no search */
    char *self;            /* our own full node name, never a member (NULL if unknown) */
    host_memory *memory;   /* per host, from the last answer of that host */
    size_t n_memory;
} erlang_hosts_state;

static void host_memory_clear(host_memory *m)
{
    free_hosts(m->names, m->n_names);
    m->names = NULL;
    m->n_names = 0;
}

static void erlang_hosts_state_free(void *ctx)
{
    erlang_hosts_state *s = ctx;
    if (s == NULL) return;
    for (size_t k = 0; k < N_SEARCH; k++)
        free(s->paths[k]);
    for (size_t k = 0; k < s->n_memory; k++) {
        host_memory_clear(&s->memory[k]);
        free(s->memory[k].host);
    }
    free(s->memory);
    free(s->self);
    free(s);
}

static char *join_path(const char *dir, const char *file)
{
    size_t len = strlen(dir) + 1 + strlen(file) + 1;
    char *p = malloc(len);
    if (p != NULL) snprintf(p, len, "%s/%s", dir, file);
    return p;
}

/* Reads a whole regular file of at most HOSTS_FILE_MAX bytes. Returns 0, or
 * -1 with errno-like *eno (ENOENT lets the search go on) and a message. */
static int read_hosts_file(const char *path, char **text, size_t *len, int *eno, char *err,
                           size_t errlen)
{
    *text = NULL;
    *eno = 0;
    /* O_NONBLOCK: a FIFO planted at the path must not hang the worker. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *eno = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *eno = EINVAL;
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    char *buf = malloc(HOSTS_FILE_MAX + 1);
    if (buf == NULL) {
        *eno = ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    size_t have = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, HOSTS_FILE_MAX + 1 - have);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            *eno = errno;
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0) break;
        have += (size_t)got;
        if (have > HOSTS_FILE_MAX) {
            *eno = EFBIG;
            snprintf(err, errlen, "%s: larger than %d bytes", path, HOSTS_FILE_MAX);
            goto fail;
        }
    }
    close(fd);
    *text = buf;
    *len = have;
    return 0;
fail:
    free(buf);
    close(fd);
    return -1;
}

/* Finds, reads and parses the hosts file: the first path that exists wins
 * (a missing file lets the search go on, any other error fails the round). */
static int load_hosts(const erlang_hosts_state *s, discovery_result *r, char ***hosts, size_t *n,
                      const char **used)
{
    char err[512];
    char searched[1024] = "";
    size_t slen = 0;
    for (size_t k = 0; k < N_SEARCH && s->paths[k] != NULL; k++) {
        char *text = NULL;
        size_t len = 0;
        int eno = 0;
        if (read_hosts_file(s->paths[k], &text, &len, &eno, err, sizeof err) != 0) {
            if (eno != ENOENT || s->configured) {
                discovery_result_fail(r, "%s", err);
                return -1;
            }
            int w = snprintf(searched + slen, sizeof searched - slen, "%s%s", slen ? ", " : "",
                             s->paths[k]);
            if (w > 0 && (size_t)w < sizeof searched - slen) slen += (size_t)w;
            continue;
        }
        int rc = erlang_hosts_parse(text, len, s->paths[k], hosts, n, err, sizeof err);
        free(text);
        if (rc != 0) {
            discovery_result_fail(r, "%s", err);
            return -1;
        }
        *used = s->paths[k];
        return 0;
    }
    discovery_result_fail(r, "no " HOSTS_FILE_NAME " found in %s", searched);
    return -1;
}

/* Replaces the memory of host with the names it just answered. */
static void remember_host(erlang_hosts_state *s, const char *host, const epmd_names_query *q)
{
    host_memory *m = NULL;
    for (size_t k = 0; k < s->n_memory && m == NULL; k++)
        if (strcmp(s->memory[k].host, host) == 0) m = &s->memory[k];
    if (m == NULL) {
        host_memory *grown = realloc(s->memory, (s->n_memory + 1) * sizeof *grown);
        if (grown == NULL) return;
        s->memory = grown;
        m = &s->memory[s->n_memory];
        memset(m, 0, sizeof *m);
        m->host = strdup(host);
        if (m->host == NULL) return;
        s->n_memory++;
    }
    host_memory_clear(m);
    if (q->count == 0) return;
    m->names = calloc(q->count, sizeof *m->names);
    if (m->names == NULL) return;
    for (size_t k = 0; k < q->count; k++) {
        m->names[m->n_names] = strdup(q->names[k].name);
        if (m->names[m->n_names] != NULL) m->n_names++;
    }
}

static const host_memory *recall_host(const erlang_hosts_state *s, const char *host)
{
    for (size_t k = 0; k < s->n_memory; k++)
        if (strcmp(s->memory[k].host, host) == 0) return &s->memory[k];
    return NULL;
}

/* Drops the memory of hosts no longer in the file. */
static void forget_other_hosts(erlang_hosts_state *s, char **hosts, size_t n)
{
    size_t out = 0;
    for (size_t k = 0; k < s->n_memory; k++) {
        bool listed = false;
        for (size_t j = 0; j < n && !listed; j++)
            listed = strcmp(hosts[j], s->memory[k].host) == 0;
        if (listed) {
            s->memory[out++] = s->memory[k];
        } else {
            host_memory_clear(&s->memory[k]);
            free(s->memory[k].host);
        }
    }
    s->n_memory = out;
}

static void add_node(const erlang_hosts_state *s, discovery_result *r, const char *alive,
                     const char *host)
{
    char node[2 * NODENAME_MAX + 2];
    snprintf(node, sizeof node, "%s@%s", alive, host);
    if (s->self != NULL && strcmp(node, s->self) == 0) return;
    discovery_result_add_member(r, node);
}

static void erlang_hosts_round(const discovery *d, void *ctx, discovery_result *r)
{
    (void)d;
    erlang_hosts_state *s = ctx;
    char **hosts = NULL;
    size_t n = 0;
    const char *used = NULL;
    if (load_hosts(s, r, &hosts, &n, &used) != 0) return;
    /* Duplicates would cost a query each and count twice. */
    size_t uniq = 0;
    for (size_t k = 0; k < n; k++) {
        bool dup = false;
        for (size_t j = 0; j < uniq && !dup; j++)
            dup = strcmp(hosts[j], hosts[k]) == 0;
        if (dup) {
            free(hosts[k]);
        } else {
            hosts[uniq++] = hosts[k];
        }
    }
    n = uniq;
    forget_other_hosts(s, hosts, n);
    if (n == 0) {
        discovery_result_fail(r, "%s lists no hosts", used);
        free_hosts(hosts, n);
        return;
    }
    epmd_names_query *q = calloc(n, sizeof *q);
    if (q == NULL) {
        discovery_result_fail(r, "out of memory");
        free_hosts(hosts, n);
        return;
    }
    for (size_t k = 0; k < n; k++)
        q[k].host = hosts[k];
    epmd_names_many(q, n, HOST_TIMEOUT_MS);
    discovery_result_add_evidence(r, "%s: %zu host(s)", used, n);
    size_t answered = 0;
    for (size_t k = 0; k < n; k++) {
        if (q[k].status == EPMD_OK) {
            answered++;
            remember_host(s, hosts[k], &q[k]);
            discovery_result_add_evidence(r, "%s: EPMD listed %zu name(s)", hosts[k], q[k].count);
            for (size_t j = 0; j < q[k].count; j++) {
                discovery_result_add_evidence(r, "%s: name %s at port %d", hosts[k],
                                              q[k].names[j].name, q[k].names[j].port);
                add_node(s, r, q[k].names[j].name, hosts[k]);
            }
            continue;
        }
        r->n_partial++;
        const host_memory *m = recall_host(s, hosts[k]);
        discovery_result_add_evidence(r, "%s: %s; keeping the %zu name(s) seen before", hosts[k],
                                      epmd_status_text(q[k].status), m ? m->n_names : 0);
        for (size_t j = 0; m != NULL && j < m->n_names; j++)
            add_node(s, r, m->names[j], hosts[k]);
    }
    if (answered == 0) discovery_result_fail(r, "none of the %zu host(s) in %s answered", n, used);
    for (size_t k = 0; k < n; k++)
        free(q[k].names);
    free(q);
    free_hosts(hosts, n);
}

/* The interval: polling_interval, or libcluster's `timeout` when only that is set. */
static int erlang_hosts_interval(const opt_values *ov, long long *ms, char *err, size_t errlen)
{
    bool poll_set = opts_is_set(ov, "polling_interval");
    bool timeout_set = opts_is_set(ov, "timeout");
    if (poll_set && timeout_set) {
        snprintf(err, errlen, "set polling_interval or timeout (its libcluster name), not both");
        return -1;
    }
    *ms = timeout_set ? opts_int(ov, "timeout") : opts_int(ov, "polling_interval");
    return 0;
}

static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    if (strncmp(path, "~/", 2) == 0 && home != NULL && home[0] != '\0')
        return join_path(home, path + 2);
    return strdup(path);
}

static int erlang_hosts_start(discovery *d, char *err, size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    long long every = 0;
    if (erlang_hosts_interval(ov, &every, err, errlen) != 0) return -1;
    erlang_hosts_state *s = calloc(1, sizeof *s);
    if (s == NULL) goto nomem;
    const char *file = opts_is_set(ov, "hosts_file") ? opts_str(ov, "hosts_file") : NULL;
    if (file != NULL) {
        s->configured = true;
        s->paths[0] = expand_home(file);
        if (s->paths[0] == NULL) goto nomem;
    } else {
        /* net_adm:host_file/0: ".", then $HOME, then code:root_dir(). */
        size_t k = 0;
        char cwd[4096];
        const char *home = getenv("HOME");
        if (getcwd(cwd, sizeof cwd) != NULL) {
            if ((s->paths[k++] = join_path(cwd, HOSTS_FILE_NAME)) == NULL) goto nomem;
        }
        if (home != NULL && home[0] != '\0') {
            if ((s->paths[k++] = join_path(home, HOSTS_FILE_NAME)) == NULL) goto nomem;
        }
        if ((s->paths[k++] = join_path(ERLANG_ROOT_DIR, HOSTS_FILE_NAME)) == NULL) goto nomem;
    }
    if (d->cfg != NULL && d->cfg->node.name != NULL && strchr(d->cfg->node.name, '@') != NULL) {
        s->self = strdup(d->cfg->node.name);
        if (s->self == NULL) goto nomem;
    }
    return discovery_poller_start(d, (unsigned long long)every, true, erlang_hosts_round, s,
                                  erlang_hosts_state_free, err, errlen);
nomem:
    erlang_hosts_state_free(s);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void erlang_hosts_stop(discovery *d)
{
    discovery_poller_stop(d);
}

static int erlang_hosts_validate(const opt_values *ov, char *err, size_t errlen)
{
    long long ms = 0;
    return erlang_hosts_interval(ov, &ms, err, errlen);
}

/* Cluster.Strategy.ErlangHosts. */
const strategy_ops strategy_erlang_hosts = {
    .module = "Cluster.Strategy.ErlangHosts",
    .alias = "erlang_hosts",
    .options = erlang_hosts_options,
    .n_options = sizeof erlang_hosts_options / sizeof erlang_hosts_options[0],
    .start = erlang_hosts_start,
    .stop = erlang_hosts_stop,
    .validate = erlang_hosts_validate,
};
