/* operator.c - start-up, the main loop and shutdown of `azdo-operator run` (see operator.h).
 *
 * Start-up order: logging, store (refuses a newer or corrupt database before anything talks to
 * the cluster), loop and HTTP client, Kubernetes client, Azure DevOps client, then either the
 * watches (no leader election) or the lease campaign (the watches start on winning it).
 * Shutdown on SIGTERM/SIGINT: stop taking new work, give actions in flight up to
 * SHUTDOWN_GRACE_MS to finish and record their outcomes, release the lease, close the store. */
#include "operator/operator.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "operator/servers.h"
#include "store/store_retention.h"

#define SHUTDOWN_GRACE_MS 10000
#define HOUSEKEEPING_MS 30000
#define RETENTION_EVERY_MS (60 * 60 * 1000)
#define STORE_RETRY_MS 10000

static void on_reconcile_timer(struct loop_timer *t, void *cb_data)
{
    (void)t;
    op_reconcile_dirty(cb_data);
}

/* Time-based decisions (idle TTLs, offline grace periods) need a plan even when nothing was
 * observed; the Azure DevOps polls usually provide that, this is the floor. */
static void on_housekeeping(struct loop_timer *t, void *cb_data)
{
    struct op *op = cb_data;
    int64_t now = (int64_t)loop_wall_ms();

    for (struct op_pool *p = op->pools; p != NULL; p = p->next)
        op_pool_dirty(p);
    if (op->leading && now - op->last_retention_ms >= RETENTION_EVERY_MS) {
        struct err err = {0};
        long deleted = 0;
        op->last_retention_ms = now;
        if (store_prune(op->store, now, (int)op->cfg->retention_days, &deleted, &err) != 0)
            log_event(LOG_WARN, "operator", "retention failed", "{s:s}", "err", err.msg);
        else if (deleted > 0)
            log_event(LOG_INFO, "operator", "pruned old rows", "{s:I}", "rows",
                      (json_int_t)deleted);
    }
    loop_timer_start(op->loop, t, HOUSEKEEPING_MS);
}

/* One database belongs to one operator process: a second writer would interleave its ticks and
 * intents with ours and corrupt the history replay relies on. An flock on "<db>.lock" (released
 * by the kernel when the process dies, so kill -9 leaves no stale lock) refuses a second
 * `run` at once. Read-only users (`azdo-operator sql`) take no lock. */
static int lock_database(struct op *op, const char *db_path, struct err *err)
{
    char path[4096];
    int fd;

    if (snprintf(path, sizeof(path), "%s.lock", db_path) >= (int)sizeof(path))
        return err_set(err, -ENAMETOOLONG, "database path too long: '%s'", db_path);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(err, -errno, "cannot open lock file '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return err_set(err, -EBUSY, "database '%s' is in use by another operator process "
                           "(run one operator per database; use --leader-elect for a standby)",
                           db_path);
        return err_set(err, -e, "cannot lock '%s': %s", path, strerror(e));
    }
    op->lock_fd = fd;
    return 0;
}

/* The database is opened by the process that leads, when it starts leading: a standby on the
 * same volume waits without touching it (and without its lock), and takes both over from a
 * leader that died. */
static int open_store(struct op *op, struct err *err)
{
    int rc = lock_database(op, op->cfg->db_path, err);

    if (rc == 0)
        rc = store_open(op->cfg->db_path, 0, &op->store, err);
    return rc; /* the messages name the file */
}

static void start_leading(struct op *op)
{
    struct err err = {0};

    if (op->store == NULL && open_store(op, &err) != 0) {
        /* A database that cannot be opened now (read-only volume, full disk, a lock still held
         * by a dying predecessor) may be fine in a moment: keep serving /healthz, report
         * not-ready, take no action, and try again, instead of crash-looping. */
        log_event(LOG_ERROR, "operator", "cannot open the database, retrying", "{s:s, s:i}",
                  "err", err.msg, "retry_in_s", STORE_RETRY_MS / 1000);
        if (op->lock_fd > 0) {
            close(op->lock_fd);
            op->lock_fd = 0;
        }
        op->store_failing = true;
        loop_timer_start(op->loop, &op->store_retry_timer, STORE_RETRY_MS);
        return;
    }
    op->store_failing = false;
    op->leading = true;
    if (op_watches_start(op, &err) != 0) {
        log_event(LOG_ERROR, "operator", "cannot start watches", "{s:s}", "err", err.msg);
        op->fatal = true;
        loop_stop(op->loop);
    }
}

static void on_store_retry(struct loop_timer *t, void *cb_data)
{
    (void)t;
    start_leading(cb_data);
}

static void on_started_leading(void *cb_data)
{
    log_event(LOG_INFO, "operator", "became leader", NULL);
    start_leading(cb_data);
}

/* A leader that lost its lease may already have a successor acting: stop at once rather than
 * act on state another replica now owns (controller-runtime does the same). */
static void on_stopped_leading(void *cb_data)
{
    struct op *op = cb_data;

    log_event(LOG_ERROR, "operator", "lost leadership, exiting", NULL);
    op->leading = false;
    loop_stop(op->loop);
}

static void on_new_leader(const char *identity, void *cb_data)
{
    (void)cb_data;
    log_event(LOG_INFO, "operator", "leader is", "{s:s}", "identity", identity);
}

static bool actions_idle(struct op *op)
{
    for (struct op_pool *p = op->pools; p != NULL; p = p->next) {
        if (p->actions_in_flight > 0)
            return false;
    }
    return true;
}

static int open_clients(struct op *op, struct err *err)
{
    const struct op_config *cfg = op->cfg;
    struct kube_config *kcfg = NULL;
    char desc[512];
    int rc;

    rc = loop_new(&op->loop, err);
    if (rc == 0)
        rc = loop_install_signals(err);
    if (rc == 0)
        rc = http_new(op->loop, &op->http, err);
    if (rc != 0)
        return rc;
    rc = kube_config_load(cfg->kube_url, cfg->kubeconfig, NULL, NULL, &kcfg, err);
    if (rc != 0)
        return err_wrap(err, "cannot configure the Kubernetes connection");
    kube_config_describe(kcfg, desc, sizeof(desc));
    log_event(LOG_INFO, "operator", "kubernetes connection", "{s:s}", "config", desc);
    rc = kube_new_take(op->loop, op->http, kcfg, &op->kube, err);
    if (rc == 0)
        rc = azdo_client_new(op->loop, op->http, NULL, &op->azdo, err);
    if (rc == 0)
        rc = kube_events_new(op->kube, "azdo-runner-operator", cfg->identity, &op->events, err);
    return rc;
}

static int start_lease(struct op *op, struct err *err)
{
    const struct op_config *cfg = op->cfg;
    char host[256] = "azdo-operator";
    struct kube_lease_opts lo = {0};
    struct kube_lease_ops ops = {on_started_leading, on_stopped_leading, on_new_leader};

    if (cfg->identity == NULL)
        gethostname(host, sizeof(host) - 1);
    lo.ns = cfg->lease_namespace != NULL ? cfg->lease_namespace
            : kube_default_namespace(op->kube) != NULL ? kube_default_namespace(op->kube)
                                                       : "default";
    lo.name = cfg->lease_name;
    lo.identity = cfg->identity != NULL ? cfg->identity : host;
    return kube_lease_start(op->kube, &lo, &ops, op, &op->lease, err);
}

static void close_all(struct op *op)
{
    struct op_pool *p = op->pools;

    op_metrics_stop(op);
    op_servers_stop(op);
    op_watches_stop(op);
    while (p != NULL) {
        struct op_pool *next = p->next;
        op_pool_free(p);
        p = next;
    }
    op->pools = NULL;
    if (op->loop != NULL) {
        loop_timer_stop(op->loop, &op->reconcile_timer);
        loop_timer_stop(op->loop, &op->housekeeping_timer);
        if (op->store_retry_timer.cb != NULL)
            loop_timer_stop(op->loop, &op->store_retry_timer);
    }
    kube_lease_free(op->lease);
    kube_events_free(op->events);
    azdo_client_free(op->azdo);
    kube_free(op->kube);
    http_free(op->http);
    loop_free(op->loop);
    json_decref(op->azdo_counted);
    store_close(op->store);
    if (op->lock_fd > 0)
        close(op->lock_fd); /* releases the flock */
}

static void on_lease_released(void *cb_data)
{
    *(bool *)cb_data = true;
}

int op_run(const struct op_config *cfg)
{
    struct op op;
    struct err err = {0};
    int rc;

    memset(&op, 0, sizeof(op));
    op.cfg = cfg;
    log_set_level(cfg->log_level);
    rc = open_clients(&op, &err);
    if (rc != 0) {
        log_event(LOG_ERROR, "operator", "cannot start", "{s:s}", "err", err.msg);
        close_all(&op);
        return 1;
    }
    loop_timer_init(&op.reconcile_timer, on_reconcile_timer, &op);
    loop_timer_init(&op.store_retry_timer, on_store_retry, &op);
    loop_timer_init(&op.housekeeping_timer, on_housekeeping, &op);
    loop_timer_start(op.loop, &op.housekeeping_timer, HOUSEKEEPING_MS);
    op.last_retention_ms = 0;

    rc = op_servers_start(&op, &err);
    if (rc == 0)
        op_metrics_start(&op);
    if (rc == 0 && cfg->leader_elect)
        rc = start_lease(&op, &err);
    else if (rc == 0)
        start_leading(&op);
    if (rc != 0 || op.fatal) {
        if (rc != 0) /* start_leading logs its own failure */
            log_event(LOG_ERROR, "operator", "cannot start", "{s:s}", "err", err.msg);
        close_all(&op);
        return 1;
    }
    log_event(LOG_INFO, "operator", "started", "{s:s, s:s, s:i}", "db", cfg->db_path,
              "namespace", cfg->namespace != NULL ? cfg->namespace : "(all)", "poll_interval_s",
              (int)cfg->poll_interval_s);

    rc = loop_run(op.loop);
    log_event(LOG_INFO, "operator", "stopping", NULL);

    /* Finish the current step: let actions in flight record their outcomes. */
    {
        uint64_t deadline = loop_now_ms(op.loop) + SHUTDOWN_GRACE_MS;
        while (!actions_idle(&op) && loop_now_ms(op.loop) < deadline)
            loop_run_once(op.loop, 100);
    }
    if (op.lease != NULL && kube_lease_is_leader(op.lease)) {
        bool released = false;
        if (kube_lease_release(op.lease, on_lease_released, &released, &err) == 0) {
            uint64_t deadline = loop_now_ms(op.loop) + 3000;
            while (!released && loop_now_ms(op.loop) < deadline)
                loop_run_once(op.loop, 100);
        }
    }
    close_all(&op);
    log_event(LOG_INFO, "operator", "stopped", NULL);
    return rc == 0 && !op.fatal ? 0 : 1;
}
