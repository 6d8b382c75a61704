/* cmd_run: `clusterd run -c FILE`: the coordinator until SIGTERM/SIGINT. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "cookie.h"
#include "secret.h"
#include "coordinator.h"
#include "log.h"

/* One fd per member link: raise the soft limit before ei_init, which sizes
 * ei's socket registry from it. Our socket callbacks wait with poll(), never
 * select(), so fds above FD_SETSIZE are safe. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
}

/* --exit-on-eof: under an Erlang port, stdin is a pipe from the VM that
 * closes when the port's owner or the VM goes away; then stop as on SIGTERM,
 * so that clusterd never outlives the release that started it. Whatever is
 * written to stdin is read and ignored. */
typedef struct stdin_watch {
    uv_poll_t poll;
    coordinator *co;
    bool active;
} stdin_watch;

static void stdin_cb(uv_poll_t *p, int status, int events)
{
    stdin_watch *w = p->data;
    char buf[256];
    ssize_t n = status < 0 ? 0 : read(STDIN_FILENO, buf, sizeof buf);
    (void)events;
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
    log_event(LOG_LEVEL_INFO, "stopping", "reason", "standard input closed (--exit-on-eof)",
              LOG_END);
    uv_poll_stop(p);
    coordinator_stop(w->co);
}

static int stdin_watch_start(uv_loop_t *loop, stdin_watch *w, coordinator *co)
{
    w->co = co;
    if (uv_poll_init(loop, &w->poll, STDIN_FILENO) != 0) return -1;
    w->active = true;
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll); /* the coordinator's handles decide when the loop ends */
    return uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, stdin_cb) == 0 ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    cnode cn;
    cnode_clear(&cn);
    coordinator *co = NULL;
    uv_loop_t loop;
    bool loop_ok = false;
    stdin_watch sw = {0};

    if (cli_parse(argc, argv, &o) < 0 || cli_setup_logging(&o) < 0) goto out;
    if (!o.config_path) {
        fprintf(stderr, "clusterd run: -c FILE is required\n");
        goto out;
    }
    cfg = cli_load_config(&o);
    if (!cfg) goto out;

    /* A dead peer must cost an error, not the process (main() keeps the
     * cookie out of core dumps). */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    setenv("UV_THREADPOOL_SIZE", "16", 0); /* connects in flight at once */
    /* One malloc arena: the workers only run handshakes, and an arena of
     * their own each (glibc makes up to 8 per core) kept 100-200 KiB apiece
     * of half-used pages at thousands of members. */
    (void)mallopt(M_ARENA_MAX, 1);
    /* A fixed mmap threshold: blocks of 128 KiB and more (planning
     * matrices, the source of a large connect action, a burst's send
     * buffer) are mapped and unmapped on free. glibc's default raises the
     * threshold to the largest block freed so far, after which they were
     * carved from the heap and left it fragmented: at 5,000 members VmRSS
     * went from 40 to 24 MiB with this alone. */
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    char cookie[COOKIE_MAX + 1], source[512], err[512];
    if (cookie_load(o.cookie_file, cfg->node.cookie_file, cfg->node.cookie_env, cookie,
                    sizeof(cookie), source, sizeof(source), err, sizeof(err)) < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "reason", err, LOG_END);
        goto out;
    }
    /* --name/--sname override node.name: in Kubernetes the host part is the
     * pod's IP, known only at start (`--name clusterd@$(POD_IP)`). */
    const char *node_name = o.name_given ? o.name : cfg->node.name;
    bool longnames = o.name_given ? o.longnames : cfg->node.longnames;
    int rc = cnode_init_tls(&cn, node_name, longnames, cookie, cfg->node.tls, err, sizeof(err));
    secret_wipe(cookie, sizeof(cookie));
    if (rc < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "reason", err, LOG_END);
        goto out;
    }
    /* Before the first handshake (accepts included); fixed for this run. */
    cnode_set_visible(&cn, cfg->node.visible);
    if (cnode_listen_publish(&cn, 5000, err, sizeof(err)) < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "reason", err, LOG_END);
        goto out;
    }
    if (uv_loop_init(&loop) != 0) goto out;
    loop_ok = true;
    char topo_count[16], port[16];
    snprintf(topo_count, sizeof(topo_count), "%zu", cfg->n_topologies);
    snprintf(port, sizeof(port), "%d", cn.port);
    bool visible = cfg->node.visible;
    co = coordinator_new(&loop, cfg, o.config_path, &cn);
    cfg = NULL; /* the coordinator owns it now */
    if (!co) goto out;
    if (coordinator_http_start(co, err, sizeof(err)) < 0 ||
        coordinator_start(co, err, sizeof(err)) < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "reason", err, LOG_END);
        coordinator_stop(co);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (o.exit_on_eof && stdin_watch_start(&loop, &sw, co) < 0) {
        log_event(LOG_LEVEL_ERROR, "cannot start", "reason",
                  "--exit-on-eof: standard input is not a pipe, socket or terminal", LOG_END);
        coordinator_stop(co);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    log_event(LOG_LEVEL_INFO, "clusterd started", "node", cn.name, "visibility",
              visible ? "visible" : "hidden", "transport", cn.tls ? "tls" : "tcp", "port", port,
              "topologies", topo_count, "cookie_source", source, "version", CLUSTERD_VERSION,
              LOG_END);
    uv_run(&loop, UV_RUN_DEFAULT);
    log_event(LOG_LEVEL_INFO, "clusterd stopped", LOG_END);
    status = EXIT_OK;
out:
    coordinator_free(co);
    if (loop_ok) {
        if (sw.active) uv_close((uv_handle_t *)&sw.poll, NULL);
        /* close anything left (e.g. after a failed start) and drain */
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}
