/* test_obs_map.c - what the operator reads from pods, PVCs and RunnerPools it observes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "operator/obs_map.h"

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    if (v == NULL)
        fail_msg("fixture: %s", jerr.text);
    return v;
}

static void test_k8s_time_parses_fraction_and_offset(void **state)
{
    (void)state;
    assert_int_equal(op_parse_k8s_time("1970-01-01T00:00:01Z"), 1000);
    assert_int_equal(op_parse_k8s_time("1970-01-01T00:00:01.25Z"), 1250);
    assert_int_equal(op_parse_k8s_time("1970-01-01T01:00:00+01:00"), 0);
    assert_int_equal(op_parse_k8s_time("yesterday"), 0);
    assert_int_equal(op_parse_k8s_time(NULL), 0);
}

static void test_pod_with_image_pull_failure_reports_reason(void **state)
{
    (void)state;
    json_t *pod = load(
        "{\"metadata\":{\"name\":\"p-agent-2\",\"namespace\":\"ci\",\"uid\":\"u1\","
        "\"creationTimestamp\":\"1970-01-01T00:00:10Z\",\"annotations\":{"
        "\"devops.opentools.mf/capability-key\":\"java\"},\"labels\":{"
        "\"devops.opentools.mf/pool\":\"p\",\"devops.opentools.mf/ordinal\":\"2\","
        "\"devops.opentools.mf/capability\":\"java\"}},"
        "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
        "\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"agent\",\"restartCount\":0,"
        "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}}");
    struct pool_key key;
    struct obs_pod out;

    assert_int_equal(op_map_pod(pod, &key, &out), 0);
    assert_string_equal(key.ns, "ci");
    assert_string_equal(key.name, "p");
    assert_int_equal(out.idx, 2);
    assert_string_equal(out.cap_key, "java");
    assert_string_equal(out.phase, "Pending");
    assert_string_equal(out.waiting_reason, "ImagePullBackOff");
    assert_false(out.ready);
    assert_int_equal(out.created_ms, 10000);
    json_decref(pod);
}

static void test_running_ready_pod_counts_restarts(void **state)
{
    (void)state;
    json_t *pod = load(
        "{\"metadata\":{\"name\":\"p-agent-0\",\"namespace\":\"ci\",\"uid\":\"u2\","
        "\"deletionTimestamp\":\"1970-01-01T00:00:10Z\",\"labels\":{"
        "\"devops.opentools.mf/pool\":\"p\",\"devops.opentools.mf/ordinal\":\"0\"}},"
        "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
        "\"status\":\"True\"}],\"initContainerStatuses\":[{\"state\":{\"terminated\":"
        "{\"reason\":\"Completed\"}}}],\"containerStatuses\":[{\"restartCount\":3,"
        "\"state\":{\"running\":{}}}]}}");
    struct pool_key key;
    struct obs_pod out;

    assert_int_equal(op_map_pod(pod, &key, &out), 0);
    assert_true(out.ready);
    assert_int_equal(out.restarts, 3);
    assert_null(out.waiting_reason);
    assert_null(out.cap_key);
    assert_true(out.deletion_requested);
    assert_int_equal(out.deletion_ms, 10000);
    json_decref(pod);
}

/* Found by tests/fuzz (kube_watch): the sum of restartCounts overflowed an int (undefined
 * behaviour; in practice a negative count) instead of saturating. */
static void test_restart_count_sum_saturates(void **state)
{
    (void)state;
    json_t *pod = load(
        "{\"metadata\":{\"name\":\"p-agent-1\",\"namespace\":\"ci\",\"uid\":\"u3\",\"labels\":{"
        "\"devops.opentools.mf/pool\":\"p\",\"devops.opentools.mf/ordinal\":\"1\"}},"
        "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"restartCount\":2147483647},"
        "{\"restartCount\":2147483647},{\"restartCount\":-7},{\"restartCount\":9000000000}]}}");
    struct pool_key key;
    struct obs_pod out;

    assert_int_equal(op_map_pod(pod, &key, &out), 0);
    assert_int_equal(out.restarts, 2147483647);
    json_decref(pod);
}

static void test_unschedulable_pod_is_failing(void **state)
{
    (void)state;
    json_t *pod = load(
        "{\"metadata\":{\"name\":\"p-agent-1\",\"namespace\":\"ci\",\"uid\":\"u3\",\"labels\":{"
        "\"devops.opentools.mf/pool\":\"p\",\"devops.opentools.mf/ordinal\":\"1\"}},"
        "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
        "\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}");
    struct pool_key key;
    struct obs_pod out;

    assert_int_equal(op_map_pod(pod, &key, &out), 0);
    assert_string_equal(out.waiting_reason, "Unschedulable");
    json_decref(pod);
}

static void test_foreign_pod_is_ignored(void **state)
{
    (void)state;
    json_t *pod = load("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ci\",\"uid\":\"u4\","
                       "\"labels\":{\"app\":\"web\"}}}");
    struct pool_key key;
    struct obs_pod out;

    assert_int_equal(op_map_pod(pod, &key, &out), -ENOENT);
    json_decref(pod);
}

static void test_pvc_maps_template_and_index(void **state)
{
    (void)state;
    json_t *pvc = load(
        "{\"metadata\":{\"name\":\"p-agent-1-work\",\"namespace\":\"ci\",\"uid\":\"v1\","
        "\"labels\":{\"devops.opentools.mf/pool\":\"p\",\"devops.opentools.mf/ordinal\":\"1\","
        "\"devops.opentools.mf/pvc\":\"work\"}},\"status\":{\"phase\":\"Bound\"}}");
    struct pool_key key;
    struct obs_pvc out;

    assert_int_equal(op_map_pvc(pvc, &key, &out), 0);
    assert_string_equal(out.template, "work");
    assert_int_equal(out.idx, 1);
    assert_string_equal(out.phase, "Bound");
    json_decref(pvc);
}

static void test_pool_spec_and_finalizer(void **state)
{
    (void)state;
    json_t *obj = load("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ci\",\"uid\":\"w\","
                       "\"generation\":4,\"finalizers\":[\"devops.opentools.mf/finalizer\"]},"
                       "\"spec\":{\"pool\":\"x\",\"maxAgents\":3}}");
    struct pool_key key;
    struct obs_pool out;
    char *spec = NULL;

    assert_int_equal(op_map_pool(obj, &key, &out, &spec), 0);
    assert_int_equal(out.generation, 4);
    assert_true(out.finalizer_present);
    assert_false(out.deletion_requested);
    assert_string_equal(out.spec_json, "{\"maxAgents\":3,\"pool\":\"x\"}");
    free(spec);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k8s_time_parses_fraction_and_offset),
        cmocka_unit_test(test_pod_with_image_pull_failure_reports_reason),
        cmocka_unit_test(test_running_ready_pod_counts_restarts),
        cmocka_unit_test(test_restart_count_sum_saturates),
        cmocka_unit_test(test_unschedulable_pod_is_failing),
        cmocka_unit_test(test_foreign_pod_is_ignored),
        cmocka_unit_test(test_pvc_maps_template_and_index),
        cmocka_unit_test(test_pool_spec_and_finalizer),
    };
    return cmocka_run_group_tests_name("obs_map", tests, NULL, NULL);
}
