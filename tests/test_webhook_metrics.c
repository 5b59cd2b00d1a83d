/* test_webhook_metrics.c - the Prometheus registry renders the text exposition format exactly:
 * HELP/TYPE lines, escaped labels, cumulative histogram buckets, gauges that can be cleared. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "webhook/metrics.h"

static char *render(struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(metrics_render(m, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counter_and_gauge_render_exactly(void **state)
{
    (void)state;
    static const char *const labels[] = {"verb", "code", NULL};
    struct metrics *m;
    struct metric *c, *g;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_COUNTER, "x_requests_total", "Requests", labels,
                                      NULL, 0, &c, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "x_queue", "Queue length", NULL, NULL, 0,
                                      &g, NULL), 0);
    metric_inc(c, 1, "GET", "200");
    metric_inc(c, 2, "GET", "200");
    metric_inc(c, 1, "PUT", "409");
    metric_set(g, 7);
    metric_set(g, 3.5);
    text = render(m);
    assert_string_equal(text, "# HELP x_requests_total Requests\n"
                              "# TYPE x_requests_total counter\n"
                              "x_requests_total{verb=\"GET\",code=\"200\"} 3\n"
                              "x_requests_total{verb=\"PUT\",code=\"409\"} 1\n"
                              "# HELP x_queue Queue length\n"
                              "# TYPE x_queue gauge\n"
                              "x_queue 3.5\n");
    assert_true(metric_value(c, "GET", "200") == 3);
    assert_true(metric_value(c, "GET", "500") == 0);
    free(text);
    metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    static const char *const labels[] = {"op", NULL};
    static const double bounds[] = {0.1, 1};
    struct metrics *m;
    struct metric *h;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_HISTOGRAM, "x_seconds", "Latency", labels, bounds,
                                      2, &h, NULL), 0);
    metric_observe(h, 0.05, "list");
    metric_observe(h, 0.1, "list"); /* le is inclusive */
    metric_observe(h, 0.5, "list");
    metric_observe(h, 4, "list");
    text = render(m);
    assert_string_equal(text, "# HELP x_seconds Latency\n"
                              "# TYPE x_seconds histogram\n"
                              "x_seconds_bucket{op=\"list\",le=\"0.1\"} 2\n"
                              "x_seconds_bucket{op=\"list\",le=\"1\"} 3\n"
                              "x_seconds_bucket{op=\"list\",le=\"+Inf\"} 4\n"
                              "x_seconds_sum{op=\"list\"} 4.65\n"
                              "x_seconds_count{op=\"list\"} 4\n");
    free(text);
    metrics_free(m);
}

static void test_label_values_and_help_are_escaped(void **state)
{
    (void)state;
    static const char *const labels[] = {"kind", NULL};
    struct metrics *m;
    struct metric *c;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_COUNTER, "x_total", "a \\ b\nc \"q\"", labels,
                                      NULL, 0, &c, NULL), 0);
    metric_inc(c, 1, "say \"hi\"\\\n");
    metric_inc(c, 1, NULL);
    text = render(m);
    assert_string_equal(text, "# HELP x_total a \\\\ b\\nc \"q\"\n"
                              "# TYPE x_total counter\n"
                              "x_total{kind=\"say \\\"hi\\\"\\\\\\n\"} 1\n"
                              "x_total{kind=\"\"} 1\n");
    free(text);
    metrics_free(m);
}

static void test_gauge_clear_drops_vanished_states(void **state)
{
    (void)state;
    static const char *const labels[] = {"state", NULL};
    struct metrics *m;
    struct metric *g;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "x_pools", "Pools", labels, NULL, 0, &g,
                                      NULL), 0);
    metric_set(g, 2, "ready");
    metric_set(g, 1, "degraded");
    metric_clear(g);
    metric_set(g, 3, "ready");
    text = render(m);
    assert_null(strstr(text, "degraded"));
    assert_non_null(strstr(text, "x_pools{state=\"ready\"} 3\n"));
    free(text);
    metrics_free(m);
}

static void test_misuse_is_ignored(void **state)
{
    (void)state;
    struct metrics *m;
    struct metric *c, *h;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_COUNTER, "x_total", "X", NULL, NULL, 0, &c, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_HISTOGRAM, "x_seconds", "X", NULL, NULL, 0, &h,
                                      NULL), 0);
    metric_inc(c, -5);   /* counters never go down */
    metric_set(c, 9);    /* not a gauge */
    metric_inc(h, 1);    /* not a counter */
    metric_observe(h, NAN);
    metric_inc(NULL, 1);
    text = render(m);
    assert_null(strstr(text, "\nx_total "));
    assert_null(strstr(text, "x_seconds_count"));
    free(text);
    metrics_free(m);
}

static void test_bad_registrations_refused(void **state)
{
    (void)state;
    static const char *const le[] = {"le", NULL};
    static const char *const dunder[] = {"__x", NULL};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    static const double descending[] = {1, 0.5};
    struct metrics *m;
    struct metric *f;
    struct err err = {0};

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "1bad", "", NULL, NULL, 0, &f, &err), -EINVAL);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "bad-name", "", NULL, NULL, 0, &f, &err), -EINVAL);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "ok", "", NULL, NULL, 0, &f, &err), 0);
    assert_int_equal(metrics_register(m, METRIC_COUNTER, "ok", "", NULL, NULL, 0, &f, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "registered twice"));
    assert_int_equal(metrics_register(m, METRIC_HISTOGRAM, "h", "", le, NULL, 0, &f, &err), -EINVAL);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "g", "", dunder, NULL, 0, &f, &err), -EINVAL);
    assert_int_equal(metrics_register(m, METRIC_GAUGE, "g", "", five, NULL, 0, &f, &err), -EINVAL);
    assert_int_equal(metrics_register(m, METRIC_HISTOGRAM, "h", "", NULL, descending, 2, &f, &err),
                     -EINVAL);
    metrics_free(m);
}

static void test_standard_families_all_prefixed(void **state)
{
    (void)state;
    struct metrics *m;
    struct metrics_std std;
    char *text;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_std_register(m, &std, NULL), 0);
    metric_set(std.pools, 1, "ready");
    metric_set(std.agents, 2, "pool-a", "busy");
    metric_set(std.queued_jobs, 4, "pool-a");
    metric_inc(std.decisions, 1, "scale_up");
    metric_inc(std.kube_requests, 1, "GET", "200");
    metric_observe(std.kube_latency, 0.02, "GET");
    metric_inc(std.azdo_requests, 1, "list_jobs", "200");
    metric_observe(std.azdo_latency, 0.3, "list_jobs");
    metric_inc(std.errors, 1, "kube");
    metric_set(std.cert_expiry, 1750000000, "serving");
    text = render(m);
    assert_non_null(strstr(text, "azdo_operator_agents{pool=\"pool-a\",state=\"busy\"} 2\n"));
    assert_non_null(strstr(text, "azdo_operator_certificate_expiry_timestamp_seconds{cert=\"serving\"} 1750000000\n"));
    assert_non_null(strstr(text, "azdo_operator_kube_request_duration_seconds_bucket{verb=\"GET\",le=\"0.025\"} 1\n"));
    /* Every sample line starts with the prefix. */
    for (char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        if (line[0] != '#')
            assert_memory_equal(line, "azdo_operator_", 14);
    }
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge_render_exactly),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_label_values_and_help_are_escaped),
        cmocka_unit_test(test_gauge_clear_drops_vanished_states),
        cmocka_unit_test(test_misuse_is_ignored),
        cmocka_unit_test(test_bad_registrations_refused),
        cmocka_unit_test(test_standard_families_all_prefixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
