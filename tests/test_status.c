/* test_status.c - the RunnerPool status the operator writes: CRD field names, conditions that
 * tell the user what to fix, failed agents that keep their reason while being replaced. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "operator/status.h"

static const json_t *condition(const json_t *st, const char *type)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
            return c;
    }
    return NULL;
}

static struct pool_status connected_summary(void)
{
    struct pool_status s;

    memset(&s, 0, sizeof(s));
    snprintf(s.state, sizeof(s.state), "connected");
    s.queued = 2;
    s.agents = 3;
    s.max_agents = 10;
    s.running = 3;
    s.placeholders = 1;
    s.azdo_connected = true;
    snprintf(s.azdo_reason, sizeof(s.azdo_reason), "Connected");
    s.last_polled_ms = 1000;
    s.generation = 4;
    return s;
}

static void test_fields_have_the_crd_names(void **state)
{
    (void)state;
    struct pool_status s = connected_summary();
    json_t *st = op_status_build(&s, NULL, "my-org", "", NULL, "2026-12-04T00:00:00Z");

    assert_string_equal(json_string_value(json_object_get(st, "state")), "Connected");
    assert_string_equal(json_string_value(json_object_get(st, "agentsDisplay")), "3/10");
    assert_int_equal(json_integer_value(json_object_get(st, "queuedJobs")), 2);
    assert_int_equal(json_integer_value(json_object_get(st, "templateAgents")), 1);
    assert_string_equal(json_string_value(json_object_get(st, "lastPolled")),
                        "1970-01-01T00:00:01Z");
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 4);
    assert_null(json_object_get(st, "lastError"));
    assert_string_equal(json_string_value(json_object_get(condition(st, "Ready"), "status")),
                        "True");
    assert_string_equal(json_string_value(json_object_get(condition(st, "Scaling"), "reason")),
                        "JobsWaiting");
    json_decref(st);
}

static void test_expired_token_names_the_secret_and_the_reason(void **state)
{
    (void)state;
    struct pool_status s = connected_summary();
    json_t *st;
    const json_t *c;

    snprintf(s.state, sizeof(s.state), "auth-failed");
    s.azdo_connected = false;
    snprintf(s.azdo_reason, sizeof(s.azdo_reason), "TokenExpired");
    snprintf(s.azdo_message, sizeof(s.azdo_message), "The Personal Access Token has expired.");
    st = op_status_build(&s, NULL, "my-org", "", NULL, "2026-12-04T00:00:00Z");
    c = condition(st, "Connected");
    assert_string_equal(json_string_value(json_object_get(st, "state")), "AuthFailed");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "TokenExpired");
    assert_non_null(strstr(json_string_value(json_object_get(c, "message")),
                           "spec.patSecretName"));
    assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "has expired"));
    assert_string_equal(json_string_value(json_object_get(st, "lastError")),
                        "The Personal Access Token has expired.");
    json_decref(st);
}

static void test_failed_agent_keeps_its_reason_while_replaced(void **state)
{
    (void)state;
    struct pool_status s = connected_summary();
    struct plan_slot slots[1];
    struct plan_result r;
    json_t *first, *second;

    memset(&r, 0, sizeof(r));
    memset(slots, 0, sizeof(slots));
    snprintf(r.pool, sizeof(r.pool), "p");
    slots[0].idx = 1;
    snprintf(slots[0].state, sizeof(slots[0].state), "failed");
    snprintf(slots[0].cause, sizeof(slots[0].cause), "image_pull");
    r.slots = slots;
    r.n_slots = 1;
    s.degraded = true;
    first = op_status_build(&s, &r, "o", "", NULL, "2026-12-04T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(first, "failedAgents"), 0), "reason")),
                        "ImagePullFailed");

    snprintf(slots[0].cause, sizeof(slots[0].cause), "replacing");
    second = op_status_build(&s, &r, "o", "", first, "2026-12-04T00:00:01Z");
    const json_t *e = json_array_get(json_object_get(second, "failedAgents"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "p-agent-1");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "ImagePullFailed");
    /* The Degraded condition did not flip: its transition time stays. */
    assert_string_equal(
        json_string_value(json_object_get(condition(second, "Degraded"), "lastTransitionTime")),
        "2026-12-04T00:00:00Z");
    json_decref(first);
    json_decref(second);
}

static void test_invalid_spec_is_reported(void **state)
{
    (void)state;
    struct pool_status s = connected_summary();
    json_t *st = op_status_build(&s, NULL, "o", "spec.maxAgents: must be at most 200", NULL,
                                 "2026-12-04T00:00:00Z");
    const json_t *c = condition(st, "Degraded");

    assert_string_equal(json_string_value(json_object_get(st, "state")), "Invalid");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "InvalidSpec");
    assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "spec.maxAgents"));
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_have_the_crd_names),
        cmocka_unit_test(test_expired_token_names_the_secret_and_the_reason),
        cmocka_unit_test(test_failed_agent_keeps_its_reason_while_replaced),
        cmocka_unit_test(test_invalid_spec_is_reported),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
