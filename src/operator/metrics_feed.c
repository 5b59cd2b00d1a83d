/* metrics_feed.c - what /metrics reports, fed from the HTTP client and the database.
 *
 * Request counters and latency histograms come from the HTTP client's observer (every completed
 * call, labelled by method and status). Gauges (pools by state, agent slots by pool and state,
 * queued jobs) are rebuilt from the database every METRICS_REFRESH_MS, so they always match what
 * `azdo-operator sql` would show and a pool that disappeared stops being reported. */
#include "operator/servers.h"

#include <stdio.h>

#include "log.h"
#include "store/store_metrics.h"

#define METRICS_REFRESH_MS 5000

static void on_http(void *data, const struct http_stats *stats, const char *method, long status,
                    uint64_t total_ms)
{
    struct op *op = data;
    char code[8];
    bool kube = op->kube != NULL && stats == kube_stats(op->kube);

    snprintf(code, sizeof(code), "%ld", status);
    metric_inc(kube ? op->mstd.kube_requests : op->mstd.azdo_requests, 1, method, code);
    metric_observe(kube ? op->mstd.kube_latency : op->mstd.azdo_latency, (double)total_ms / 1000.0,
                   method);
}

static void on_row(void *data, const char *what, const char *pool, const char *key, long count)
{
    struct op *op = data;

    if (what[0] == 'p')
        metric_set(op->mstd.pools, (double)count, key);
    else if (what[0] == 's')
        metric_set(op->mstd.agents, (double)count, pool, key);
    else
        metric_set(op->mstd.queued_jobs, (double)count, pool);
}

static void on_refresh(struct loop_timer *t, void *cb_data)
{
    struct op *op = cb_data;
    struct err err = {0};

    metric_clear(op->mstd.pools);
    metric_clear(op->mstd.agents);
    metric_clear(op->mstd.queued_jobs);
    /* A standby has no database open: it reports no pool gauges. */
    if (op->store != NULL && store_metrics_snapshot(op->store, on_row, op, &err) != 0)
        log_event(LOG_WARN, "metrics", "cannot read counts", "{s:s}", "err", err.msg);
    loop_timer_start(op->loop, t, METRICS_REFRESH_MS);
}

/* Ticks take well under a millisecond on a small pool; the default request-latency buckets
 * would put every one of them in the first bucket. */
static const double TICK_BUCKETS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025,  0.05,    0.1,    0.25,  0.5,    1.0};

void op_metrics_start(struct op *op)
{
    struct err err = {0};
    size_t nb = sizeof(TICK_BUCKETS) / sizeof(TICK_BUCKETS[0]);

    if (op->metrics == NULL)
        return;
    if (metrics_register(op->metrics, METRIC_HISTOGRAM, "azdo_operator_plan_duration_seconds",
                         "Time the planner took for one tick of one pool (its SQL reads included)",
                         NULL, TICK_BUCKETS, nb, &op->plan_seconds, &err) != 0 ||
        metrics_register(op->metrics, METRIC_HISTOGRAM,
                         "azdo_operator_tick_write_duration_seconds",
                         "Time to record one tick (decisions and intents) in the database", NULL,
                         TICK_BUCKETS, nb, &op->tick_write_seconds, &err) != 0)
        log_event(LOG_WARN, "metrics", "cannot register tick histograms", "{s:s}", "err",
                  err.msg);
    http_set_observer(op->http, on_http, op);
    loop_timer_init(&op->metrics_timer, on_refresh, op);
    loop_timer_start(op->loop, &op->metrics_timer, 0);
}

void op_metrics_stop(struct op *op)
{
    if (op->http != NULL)
        http_set_observer(op->http, NULL, NULL);
    op->plan_seconds = NULL; /* the registry that holds them goes with the servers */
    op->tick_write_seconds = NULL;
    if (op->loop != NULL && op->metrics_timer.cb != NULL)
        loop_timer_stop(op->loop, &op->metrics_timer);
}

void op_metrics_error(struct op *op, const char *kind)
{
    if (op->metrics != NULL)
        metric_inc(op->mstd.errors, 1, kind);
}

void op_metrics_decision(struct op *op, const char *action)
{
    if (op->metrics != NULL)
        metric_inc(op->mstd.decisions, 1, action);
}

void op_metrics_tick(struct op *op, double plan_s, double write_s)
{
    if (op->plan_seconds != NULL)
        metric_observe(op->plan_seconds, plan_s);
    if (op->tick_write_seconds != NULL)
        metric_observe(op->tick_write_seconds, write_s);
}
