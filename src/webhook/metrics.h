/* metrics.h - a small Prometheus registry: counters, gauges and histograms with labels, rendered
 * in the text exposition format (version 0.0.4) for GET /metrics.
 *
 * Single-threaded like the rest of the operator: every call happens on the loop thread. A family
 * is registered once at start; its handle (struct metric *) is borrowed from the registry and
 * valid until metrics_free(). Label values are passed after the value, exactly as many as the
 * family has label names, as const char * (copied on first use of a series):
 *
 *     metric_inc(std->kube_requests, 1, "GET", "200");
 *     metric_observe(std->kube_latency, 0.012, "GET");
 *
 * A call with the wrong kind (metric_set on a counter, a negative counter increment) is ignored:
 * a metrics bug must not stop the operator. A NULL label value is rendered as "". */
#ifndef AZDO_WEBHOOK_METRICS_H
#define AZDO_WEBHOOK_METRICS_H

#include <stddef.h>

#include "err.h"

#define METRIC_MAX_LABELS 4
#define METRIC_MAX_BUCKETS 16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics; /* opaque: the registry */
struct metric;  /* opaque: one family */

/* New empty registry (free with metrics_free). Returns 0 or -ENOMEM. */
int metrics_new(struct metrics **out, struct err *err);
void metrics_free(struct metrics *m); /* accepts NULL */

/* Registers a family. 'label_names' is NULL or a NULL-terminated list of at most
 * METRIC_MAX_LABELS names; 'buckets' (histograms only) are ascending upper bounds, at most
 * METRIC_MAX_BUCKETS, +Inf implied; NULL for histograms means METRICS_LATENCY_BUCKETS. All are
 * copied. '*out' is borrowed from 'm'. -EINVAL for an invalid or duplicate name. */
int metrics_register(struct metrics *m, enum metric_type type, const char *name, const char *help,
                     const char *const *label_names, const double *buckets, size_t n_buckets,
                     struct metric **out, struct err *err);

/* Counter or gauge: adds 'v' (counters: v >= 0). */
void metric_inc(struct metric *f, double v, ...);
/* Gauge: sets the series to 'v'. */
void metric_set(struct metric *f, double v, ...);
/* Histogram: records one observation. */
void metric_observe(struct metric *f, double v, ...);
/* Drops every series of the family: for gauges rebuilt from a snapshot (pools by state), so a
 * state that disappeared stops being reported instead of keeping its last value. */
void metric_clear(struct metric *f);
/* The current value of a counter or gauge series, 0 when it does not exist (tests, /readyz). */
double metric_value(struct metric *f, ...);

/* Renders every family in registration order, series in first-use order. '*out' is new
 * (free()), '*len' its length without the NUL. Returns 0 or -ENOMEM. */
int metrics_render(const struct metrics *m, char **out, size_t *len);

/* Latency buckets in seconds, for request durations. */
extern const double METRICS_LATENCY_BUCKETS[11];

/* The operator's standard families, all named azdo_operator_*. Handles borrowed from the
 * registry they were registered in. */
struct metrics_std {
    struct metric *pools;            /* gauge  pools{state} */
    struct metric *agents;           /* gauge  agents{pool,state} */
    struct metric *queued_jobs;      /* gauge  queued_jobs{pool} */
    struct metric *decisions;        /* counter decisions_total{action} */
    struct metric *azdo_requests;    /* counter azdo_requests_total{operation,code} */
    struct metric *azdo_latency;     /* histogram azdo_request_duration_seconds{operation} */
    struct metric *kube_requests;    /* counter kube_requests_total{verb,code} */
    struct metric *kube_latency;     /* histogram kube_request_duration_seconds{verb} */
    struct metric *errors;           /* counter errors_total{kind} */
    struct metric *cert_expiry;      /* gauge  certificate_expiry_timestamp_seconds{cert} */
    struct metric *cert_rotations;   /* counter certificate_rotations_total{cert} */
    struct metric *admission;        /* counter admission_requests_total{webhook,result} */
};

/* Registers the standard families in 'm' and fills 'out'. Returns 0 or a negative errno. */
int metrics_std_register(struct metrics *m, struct metrics_std *out, struct err *err);

#endif
