/* test_azdo_parse.c - pools, agents and job-request answers into structs; ISO-8601 times. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/isotime.h"
#include "azdo/parse.h"

/* test_azdo_fixture.c: new buffer with the fixture file, NUL-terminated. */
char *fixture(const char *name, size_t *len);

#define LIT(s) s, strlen(s)

static int64_t t(const char *text)
{
    int64_t ms = -1;
    assert_int_equal(azdo_isotime_parse(text, &ms), 0);
    return ms;
}

static void test_isotime_fractions_and_offsets(void **state)
{
    int64_t ms;
    (void)state;

    assert_int_equal(t("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(t("2025-03-02T09:15:04Z"), 1740906904000);
    assert_int_equal(t("2025-03-02T09:15:04.21Z"), 1740906904210);
    assert_int_equal(t("2025-03-02T09:15:04.2Z"), 1740906904200);
    assert_int_equal(t("2025-03-02T09:15:40.8166667Z"), 1740906940816); /* 7 digits truncated */
    assert_int_equal(t("2025-03-02T10:15:04+01:00"), 1740906904000);
    assert_int_equal(t("2025-03-02T04:45:04-0430"), 1740906904000);
    assert_int_equal(t("2025-03-02T09:15:04"), 1740906904000);  /* no zone: UTC */
    assert_int_equal(t("2024-02-29T00:00:00Z"), 1709164800000); /* leap day */
    assert_int_equal(t("2000-03-01T00:00:00.999z"), 951868800999);

    const char *bad[] = {"",
                         "2025-03-02",
                         "2025-03-02T09:15",
                         "2025-13-02T09:15:04Z",
                         "2025-02-29T00:00:00Z",
                         "2025-03-02T24:00:00Z",
                         "2025-03-02T09:15:04.Z",
                         "2025-03-02T09:15:04Zjunk",
                         "2025-03-02T09:15:04+1",
                         "yesterday",
                         "2025/03/02T09:15:04Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (azdo_isotime_parse(bad[i], &ms) != -EINVAL)
            fail_msg("'%s' should be refused", bad[i]);
    }
}

static void test_pool_id_by_name(void **state)
{
    size_t len;
    char *body;
    int64_t id = -1;
    struct err err = {0};
    (void)state;

    body = fixture("pools_one.json", &len);
    assert_int_equal(azdo_parse_pool_id(body, len, "my-pool", &id, &err), 0);
    assert_int_equal(id, 42);
    free(body);

    /* A prefix match from the server is not our pool; case is ignored. */
    body = fixture("pools_prefix.json", &len);
    assert_int_equal(azdo_parse_pool_id(body, len, "my-pool", &id, &err), 0);
    assert_int_equal(id, 42);
    free(body);

    body = fixture("pools_empty.json", &len);
    assert_int_equal(azdo_parse_pool_id(body, len, "my-pool", &id, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "'my-pool' not found"));
    free(body);

    body = fixture("pools_ambiguous.json", &len);
    assert_int_equal(azdo_parse_pool_id(body, len, "my-pool", &id, &err), -ENOTUNIQ);
    assert_non_null(strstr(err.msg, "ambiguous"));
    free(body);

    assert_int_equal(azdo_parse_pool_id(LIT("{\"count\":1}"), "p", &id, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'value'"));
    assert_int_equal(azdo_parse_pool_id(LIT("<html>"), "p", &id, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not JSON"));
}

static void test_agents_full_shape(void **state)
{
    struct azdo_agent_list l;
    struct err err = {0};
    size_t len;
    char *body = fixture("agents.json", &len);
    (void)state;

    if (azdo_parse_agents(body, len, &l, &err) != 0)
        fail_msg("%s", err.msg);
    free(body);
    assert_int_equal(l.len, 4);

    struct azdo_agent *a = &l.items[0];
    assert_int_equal(a->id, 11735);
    assert_string_equal(a->name, "my-pool-agent-1");
    assert_string_equal(a->version, "3.248.0");
    assert_true(a->enabled);
    assert_int_equal(a->status, AZDO_AGENT_ONLINE);
    assert_int_equal(a->created_ms, t("2025-01-10T08:00:00.5Z"));
    assert_int_equal(a->status_changed_ms, t("2025-01-10T08:00:07Z"));
    assert_true(a->has_caps);
    assert_string_equal(azdo_caps_get(&a->caps, "java"), "/usr/lib/jvm/17");
    assert_string_equal(azdo_caps_get(&a->caps, "agent.os"), "Linux");
    assert_string_equal(azdo_caps_get(&a->caps, "gpu"), "true"); /* user beats system */
    assert_int_equal(a->assigned_request_id, 5102);
    assert_int_equal(a->last_request_id, 5090);
    assert_int_equal(a->last_finish_ms, t("2025-01-10T07:59:00Z"));

    a = &l.items[1];
    assert_false(a->enabled);
    assert_int_equal(a->status, AZDO_AGENT_OFFLINE);
    assert_int_equal(a->assigned_request_id, 0); /* "assignedRequest": null */
    assert_false(a->has_caps);
    assert_int_equal(a->status_changed_ms, t("2025-03-02T09:15:40.816Z"));
    assert_int_equal(a->last_finish_ms, t("2025-03-02T08:10:00.21Z"));

    a = &l.items[2];
    assert_true(a->has_caps);
    assert_null(a->version);
    assert_string_equal(azdo_caps_get(&a->caps, "empty"), ""); /* null value still advertised */

    a = &l.items[3];
    assert_int_equal(a->status, AZDO_AGENT_STATUS_UNKNOWN);
    assert_true(a->enabled); /* absent: the service's default */
    assert_int_equal(a->last_finish_ms, 0);
    azdo_agent_list_free(&l);
    assert_int_equal(l.len, 0);
}

static void test_agents_shape_errors_name_the_place(void **state)
{
    struct azdo_agent_list l;
    struct err err = {0};
    size_t len;
    char *body;
    (void)state;

    body = fixture("agents_bad_id.json", &len);
    assert_int_equal(azdo_parse_agents(body, len, &l, &err), -EINVAL);
    assert_string_equal(err.msg, "agents: value[1].id: expected an integer");
    assert_int_equal(l.len, 0);
    free(body);

    body = fixture("agents_bad_time.json", &len);
    assert_int_equal(azdo_parse_agents(body, len, &l, &err), -EINVAL);
    assert_string_equal(err.msg, "agents: value[0].statusChangedOn: expected an ISO-8601 time");
    free(body);

    body = fixture("agents_bare_array.json", &len);
    assert_int_equal(azdo_parse_agents(body, len, &l, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "expected an object with a 'value' list"));
    free(body);

    assert_int_equal(azdo_parse_agents(LIT("{\"value\":[{\"id\":1}]}"), &l, &err), -EINVAL);
    assert_string_equal(err.msg, "agents: value[0].name: missing");
}

static void test_single_agent(void **state)
{
    struct azdo_agent a;
    size_t len;
    char *body = fixture("agent_one.json", &len);
    (void)state;

    assert_int_equal(azdo_parse_agent(body, len, &a, NULL), 0);
    assert_int_equal(a.id, 31);
    assert_false(a.enabled);
    assert_int_equal(a.assigned_request_id, 202);
    azdo_agent_clear(&a);
    free(body);
}

static void test_jobs_states_and_fields(void **state)
{
    struct azdo_job_list l;
    struct err err = {0};
    size_t len;
    char *body = fixture("jobrequests.json", &len);
    (void)state;

    if (azdo_parse_jobs(body, len, &l, &err) != 0)
        fail_msg("%s", err.msg);
    free(body);
    assert_int_equal(l.len, 5);

    struct azdo_job *j = &l.items[0];
    assert_int_equal(j->request_id, 5110);
    assert_int_equal(j->demand_count, 3);
    assert_string_equal(j->demands[1], "Agent.OS -equals Linux");
    assert_int_equal(j->queue_ms, t("2025-03-02T09:15:04.21Z"));
    assert_int_equal(j->matched_agents, 1);
    assert_string_equal(j->definition_name, "app-ci");
    assert_string_equal(j->owner_name, "20250302.1");
    assert_int_equal(azdo_job_state(j), AZDO_JOB_QUEUED);

    j = &l.items[1];
    assert_int_equal(azdo_job_state(j), AZDO_JOB_RUNNING);
    assert_int_equal(j->reserved_agent_id, 31);
    assert_string_equal(j->reserved_agent_name, "my-pool-agent-3");
    assert_int_equal(j->locked_until_ms, t("2025-03-02T09:20:00.52Z"));
    assert_int_equal(j->matched_agents, -1);

    j = &l.items[2];
    assert_int_equal(azdo_job_state(j), AZDO_JOB_ASSIGNED); /* nulls read as absent */
    assert_int_equal(j->demand_count, 0);
    assert_int_equal(j->result, AZDO_RESULT_NONE);

    j = &l.items[3];
    assert_int_equal(azdo_job_state(j), AZDO_JOB_FINISHED);
    assert_int_equal(j->result, AZDO_RESULT_SUCCEEDED);
    assert_string_equal(azdo_job_result_name(j->result), "succeeded");

    j = &l.items[4];
    assert_int_equal(j->request_id, 4000000000LL); /* 64-bit ids */
    assert_int_equal(j->queue_ms, 0);              /* DateTime.MinValue = absent */
    assert_int_equal(j->result, AZDO_RESULT_OTHER);
    assert_int_equal(azdo_job_state(j), AZDO_JOB_FINISHED);
    assert_int_equal(j->matched_agents, 0);
    azdo_job_list_free(&l);
}

static void test_jobs_shape_errors(void **state)
{
    struct azdo_job_list l;
    struct err err = {0};
    size_t len;
    char *body = fixture("jobrequests_bad_demands.json", &len);
    (void)state;

    assert_int_equal(azdo_parse_jobs(body, len, &l, &err), -EINVAL);
    assert_string_equal(err.msg, "jobrequests: value[0].demands[0]: expected a string");
    free(body);
    assert_int_equal(azdo_parse_jobs(LIT("{\"value\":[{\"demands\":[]}]}"), &l, &err), -EINVAL);
    assert_string_equal(err.msg, "jobrequests: value[0].requestId: missing");
    assert_int_equal(
        azdo_parse_jobs(LIT("{\"value\":[{\"requestId\":1,\"result\":true}]}"), &l, &err), -EINVAL);
    assert_string_equal(err.msg, "jobrequests: value[0].result: expected a string");
}

static void test_error_body_with_bom(void **state)
{
    char key[64], msg[256];
    size_t len;
    char *body = fixture("error_401_bom.json", &len);
    (void)state;

    azdo_parse_error_body(body, len, key, sizeof(key), msg, sizeof(msg));
    assert_string_equal(key, "AccessCheckException");
    assert_non_null(strstr(msg, "has expired"));
    free(body);
    azdo_parse_error_body(LIT("<html/>"), key, sizeof(key), msg, sizeof(msg));
    assert_string_equal(key, "");
    assert_string_equal(msg, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isotime_fractions_and_offsets),
        cmocka_unit_test(test_pool_id_by_name),
        cmocka_unit_test(test_agents_full_shape),
        cmocka_unit_test(test_agents_shape_errors_name_the_place),
        cmocka_unit_test(test_single_agent),
        cmocka_unit_test(test_jobs_states_and_fields),
        cmocka_unit_test(test_jobs_shape_errors),
        cmocka_unit_test(test_error_body_with_bom),
    };
    return cmocka_run_group_tests_name("azdo_parse", tests, NULL, NULL);
}
