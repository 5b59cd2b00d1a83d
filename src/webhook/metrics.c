/* metrics.c - the Prometheus registry (see metrics.h).
 *
 * Storage is deliberately plain: families in an array, each family's series in an array searched
 * linearly by label values. The operator has a few dozen series per family (states, pools,
 * verbs), so a hash table would cost more code than it saves time.
 * Invariant: a series has exactly family->n_labels values; a histogram series has n_buckets
 * cumulative-later counts (stored per bucket, summed at render time). */
#include "webhook/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double METRICS_LATENCY_BUCKETS[11] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,    2.5,   5,    10};

struct series {
    char *values[METRIC_MAX_LABELS];
    double value;                       /* counter/gauge */
    uint64_t buckets[METRIC_MAX_BUCKETS]; /* histogram: observations <= bound[i] and > bound[i-1] */
    uint64_t count;                     /* histogram: all observations (+Inf bucket) */
    double sum;
};

struct metric {
    enum metric_type type;
    char *name;
    char *help;
    char *labels[METRIC_MAX_LABELS];
    size_t n_labels;
    double bounds[METRIC_MAX_BUCKETS];
    size_t n_bounds;
    struct series *series;
    size_t n_series, cap_series;
};

struct metrics {
    struct metric **families;
    size_t n, cap;
};

/* ---------------------------------------------------------------- registry */

int metrics_new(struct metrics **out, struct err *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static void series_free(struct series *s, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        free(s->values[i]);
}

static void family_free(struct metric *f)
{
    if (f == NULL)
        return;
    metric_clear(f);
    free(f->series);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->families[i]);
    free(m->families);
    free(m);
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'. */
static bool name_ok(const char *s, bool label)
{
    if (s == NULL || s[0] == '\0' || isdigit((unsigned char)s[0]))
        return false;
    if (label && strncmp(s, "__", 2) == 0)
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '_' || (!label && c == ':')) || c > 127)
            return false;
    }
    return true;
}

int metrics_register(struct metrics *m, enum metric_type type, const char *name, const char *help,
                     const char *const *label_names, const double *buckets, size_t n_buckets,
                     struct metric **out, struct err *err)
{
    struct metric *f;

    *out = NULL;
    if (!name_ok(name, false))
        return err_set(err, -EINVAL, "invalid metric name '%s'", name != NULL ? name : "");
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->families[i]->name, name) == 0)
            return err_set(err, -EINVAL, "metric '%s' registered twice", name);
    }
    if (type == METRIC_HISTOGRAM && buckets == NULL) {
        buckets = METRICS_LATENCY_BUCKETS;
        n_buckets = sizeof(METRICS_LATENCY_BUCKETS) / sizeof(METRICS_LATENCY_BUCKETS[0]);
    }
    if (n_buckets > METRIC_MAX_BUCKETS)
        return err_set(err, -EINVAL, "metric '%s': more than %d buckets", name, METRIC_MAX_BUCKETS);
    for (size_t i = 1; i < n_buckets; i++) {
        if (!(buckets[i] > buckets[i - 1]))
            return err_set(err, -EINVAL, "metric '%s': buckets must ascend", name);
    }

    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    for (size_t i = 0; label_names != NULL && label_names[i] != NULL; i++) {
        if (i == METRIC_MAX_LABELS || !name_ok(label_names[i], true) ||
            (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)) {
            family_free(f);
            return err_set(err, -EINVAL, "metric '%s': invalid or too many labels", name);
        }
        f->labels[f->n_labels++] = strdup(label_names[i]);
        if (f->labels[f->n_labels - 1] == NULL)
            break;
    }
    if (type == METRIC_HISTOGRAM) {
        memcpy(f->bounds, buckets, n_buckets * sizeof(*buckets));
        f->n_bounds = n_buckets;
    }
    if (f->name == NULL || f->help == NULL ||
        (f->n_labels > 0 && f->labels[f->n_labels - 1] == NULL)) {
        family_free(f);
        return err_set(err, -ENOMEM, "out of memory");
    }
    if (m->n == m->cap) {
        size_t cap = m->cap == 0 ? 16 : 2 * m->cap;
        struct metric **grown = realloc(m->families, cap * sizeof(*grown));
        if (grown == NULL) {
            family_free(f);
            return err_set(err, -ENOMEM, "out of memory");
        }
        m->families = grown;
        m->cap = cap;
    }
    m->families[m->n++] = f;
    *out = f;
    return 0;
}

/* ---------------------------------------------------------------- updates */

/* Finds or creates the series for the label values in 'ap'. NULL when out of memory. */
static struct series *series_get(struct metric *f, va_list ap)
{
    const char *values[METRIC_MAX_LABELS];
    struct series *s;

    for (size_t i = 0; i < f->n_labels; i++) {
        values[i] = va_arg(ap, const char *);
        if (values[i] == NULL)
            values[i] = "";
    }
    for (size_t k = 0; k < f->n_series; k++) {
        size_t i = 0;
        s = &f->series[k];
        while (i < f->n_labels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->n_labels)
            return s;
    }
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series == 0 ? 8 : 2 * f->cap_series;
        struct series *grown = realloc(f->series, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        f->series = grown;
        f->cap_series = cap;
    }
    s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < f->n_labels; i++) {
        s->values[i] = strdup(values[i]);
        if (s->values[i] == NULL) {
            series_free(s, i);
            return NULL;
        }
    }
    f->n_series++;
    return s;
}

void metric_inc(struct metric *f, double v, ...)
{
    struct series *s;
    va_list ap;

    if (f == NULL || f->type == METRIC_HISTOGRAM || (f->type == METRIC_COUNTER && !(v >= 0)))
        return;
    va_start(ap, v);
    s = series_get(f, ap);
    va_end(ap);
    if (s != NULL)
        s->value += v;
}

void metric_set(struct metric *f, double v, ...)
{
    struct series *s;
    va_list ap;

    if (f == NULL || f->type != METRIC_GAUGE)
        return;
    va_start(ap, v);
    s = series_get(f, ap);
    va_end(ap);
    if (s != NULL)
        s->value = v;
}

void metric_observe(struct metric *f, double v, ...)
{
    struct series *s;
    va_list ap;

    if (f == NULL || f->type != METRIC_HISTOGRAM || isnan(v))
        return;
    va_start(ap, v);
    s = series_get(f, ap);
    va_end(ap);
    if (s == NULL)
        return;
    for (size_t i = 0; i < f->n_bounds; i++) {
        if (v <= f->bounds[i]) {
            s->buckets[i]++;
            break;
        }
    }
    s->count++;
    s->sum += v;
}

void metric_clear(struct metric *f)
{
    if (f == NULL)
        return;
    for (size_t k = 0; k < f->n_series; k++)
        series_free(&f->series[k], f->n_labels);
    f->n_series = 0;
}

double metric_value(struct metric *f, ...)
{
    const char *values[METRIC_MAX_LABELS];
    va_list ap;

    if (f == NULL)
        return 0;
    va_start(ap, f);
    for (size_t i = 0; i < f->n_labels; i++) {
        values[i] = va_arg(ap, const char *);
        if (values[i] == NULL)
            values[i] = "";
    }
    va_end(ap);
    for (size_t k = 0; k < f->n_series; k++) {
        size_t i = 0;
        while (i < f->n_labels && strcmp(f->series[k].values[i], values[i]) == 0)
            i++;
        if (i == f->n_labels)
            return f->type == METRIC_HISTOGRAM ? (double)f->series[k].count : f->series[k].value;
    }
    return 0;
}

/* ---------------------------------------------------------------- rendering */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len)
            break;
        size_t cap = 2 * b->cap + (size_t)n;
        char *grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    b->len += (size_t)n;
}

/* Escapes for label values (\\, \", \n) or, with 'help', for HELP text (\\, \n). */
static void put_escaped(struct buf *b, const char *s, bool help)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '\n')
            put(b, "\\n");
        else if (*s == '"' && !help)
            put(b, "\\\"");
        else
            put(b, "%c", *s);
    }
}

static void put_number(struct buf *b, double v)
{
    if (isnan(v))
        put(b, "NaN");
    else if (isinf(v))
        put(b, v > 0 ? "+Inf" : "-Inf");
    else
        put(b, "%.15g", v);
}

/* name{a="x",b="y"[,le="..."]} */
static void put_series_name(struct buf *b, const struct metric *f, const struct series *s,
                            const char *suffix, const char *le)
{
    size_t n = 0;

    put(b, "%s%s", f->name, suffix);
    if (f->n_labels == 0 && le == NULL)
        return;
    put(b, "{");
    for (size_t i = 0; i < f->n_labels; i++, n++) {
        put(b, "%s%s=\"", n > 0 ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], false);
        put(b, "\"");
    }
    if (le != NULL)
        put(b, "%sle=\"%s\"", n > 0 ? "," : "", le);
    put(b, "}");
}

static void render_histogram(struct buf *b, const struct metric *f, const struct series *s)
{
    uint64_t cumulative = 0;
    char le[64];

    for (size_t i = 0; i < f->n_bounds; i++) {
        cumulative += s->buckets[i];
        snprintf(le, sizeof(le), "%.15g", f->bounds[i]);
        put_series_name(b, f, s, "_bucket", le);
        put(b, " %llu\n", (unsigned long long)cumulative);
    }
    put_series_name(b, f, s, "_bucket", "+Inf");
    put(b, " %llu\n", (unsigned long long)s->count);
    put_series_name(b, f, s, "_sum", NULL);
    put(b, " ");
    put_number(b, s->sum);
    put(b, "\n");
    put_series_name(b, f, s, "_count", NULL);
    put(b, " %llu\n", (unsigned long long)s->count);
}

int metrics_render(const struct metrics *m, char **out, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct buf b = {malloc(4096), 0, 4096, false};

    *out = NULL;
    *len = 0;
    if (b.p == NULL)
        return -ENOMEM;
    b.p[0] = '\0';
    for (size_t i = 0; i < m->n; i++) {
        const struct metric *f = m->families[i];
        put(&b, "# HELP %s ", f->name);
        put_escaped(&b, f->help, true);
        put(&b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        for (size_t k = 0; k < f->n_series; k++) {
            if (f->type == METRIC_HISTOGRAM) {
                render_histogram(&b, f, &f->series[k]);
                continue;
            }
            put_series_name(&b, f, &f->series[k], "", NULL);
            put(&b, " ");
            put_number(&b, f->series[k].value);
            put(&b, "\n");
        }
    }
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---------------------------------------------------------------- standard families */

int metrics_std_register(struct metrics *m, struct metrics_std *out, struct err *err)
{
    static const char *const state[] = {"state", NULL};
    static const char *const pool_state[] = {"pool", "state", NULL};
    static const char *const pool[] = {"pool", NULL};
    static const char *const action[] = {"action", NULL};
    static const char *const op_code[] = {"operation", "code", NULL};
    static const char *const op[] = {"operation", NULL};
    static const char *const verb_code[] = {"verb", "code", NULL};
    static const char *const verb[] = {"verb", NULL};
    static const char *const kind[] = {"kind", NULL};
    static const char *const cert[] = {"cert", NULL};
    static const char *const hook_result[] = {"webhook", "result", NULL};
    const struct {
        struct metric **slot;
        enum metric_type type;
        const char *name, *help;
        const char *const *labels;
    } defs[] = {
        {&out->pools, METRIC_GAUGE, "azdo_operator_pools", "RunnerPools by state", state},
        {&out->agents, METRIC_GAUGE, "azdo_operator_agents", "Agent slots by pool and state",
         pool_state},
        {&out->queued_jobs, METRIC_GAUGE, "azdo_operator_queued_jobs",
         "Azure DevOps job requests waiting for an agent, by pool", pool},
        {&out->decisions, METRIC_COUNTER, "azdo_operator_decisions_total",
         "Planner decisions by action", action},
        {&out->azdo_requests, METRIC_COUNTER, "azdo_operator_azdo_requests_total",
         "Azure DevOps API requests by operation and HTTP status (0: no response)", op_code},
        {&out->azdo_latency, METRIC_HISTOGRAM, "azdo_operator_azdo_request_duration_seconds",
         "Azure DevOps API request duration", op},
        {&out->kube_requests, METRIC_COUNTER, "azdo_operator_kube_requests_total",
         "Kubernetes API requests by verb and HTTP status (0: no response)", verb_code},
        {&out->kube_latency, METRIC_HISTOGRAM, "azdo_operator_kube_request_duration_seconds",
         "Kubernetes API request duration", verb},
        {&out->errors, METRIC_COUNTER, "azdo_operator_errors_total", "Errors by kind", kind},
        {&out->cert_expiry, METRIC_GAUGE, "azdo_operator_certificate_expiry_timestamp_seconds",
         "notAfter of the webhook certificates as a unix timestamp", cert},
        {&out->cert_rotations, METRIC_COUNTER, "azdo_operator_certificate_rotations_total",
         "Webhook certificates issued, by certificate", cert},
        {&out->admission, METRIC_COUNTER, "azdo_operator_admission_requests_total",
         "Admission requests by webhook and result (allowed, denied, bad_request)", hook_result},
    };

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int rc = metrics_register(m, defs[i].type, defs[i].name, defs[i].help, defs[i].labels,
                                  NULL, 0, defs[i].slot, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
