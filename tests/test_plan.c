/* test_plan.c - the planner, rule by rule, from table-driven scenarios (database state in,
 * actions out: tests/fixtures/plan/NAME.json, one per field report or rule), plus restart and
 * purity tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan/plan.h"
#include "plan_fixture.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_obs.h"
#include "store/store_status.h"

static void run_fixture(void **state)
{
    const char *name = *state;
    struct store *s = NULL;
    struct err err = {0};
    char why[1024];
    json_t *f = fixture_load(name);

    assert_non_null(f);
    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    if (fixture_run(s, f, why, sizeof(why)) < 0)
        fail_msg("%s: %s", name, why);
    json_decref(f);
    store_close(s);
}

#define SCENARIO(file) cmocka_unit_test_prestate(run_fixture, (void *)(file))

/* Two plans of the same database at the same clock give the same actions and the same inputs
 * digest: the planner reads nothing but the database and 'now'. */
static void test_plan_is_a_pure_function_of_database_and_clock(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct pool_key key = {"ci-agents", "my-pool"};
    struct plan_result a, b;
    json_t *f = fixture_load("report01_count_jobs_once.json");

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(fixture_observe(s, f, json_array_get(json_object_get(f, "steps"), 0),
                                     FIXTURE_T0_MS), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS, &a, &err), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS, &b, &err), 0);
    assert_string_equal(a.digest, b.digest);
    assert_int_equal(a.n_actions, b.n_actions);
    for (size_t i = 0; i < a.n_actions; i++) {
        assert_int_equal(a.actions[i].kind, b.actions[i].kind);
        assert_string_equal(a.actions[i].target, b.actions[i].target);
    }
    plan_result_free(&a);
    plan_result_free(&b);
    json_decref(f);
    store_close(s);
}

static char *temp_db(void)
{
    char *path = strdup("/tmp/test_plan_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    return path;
}

static void remove_db(char *path)
{
    char aux[4200];
    unlink(path);
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
    free(path);
}

/* Plan, record, stop before executing; reopen and plan again: the same actions come out, and
 * the unfinished intents are visible for the loop to resolve first. */
static void test_restart_before_executing_plans_the_same_actions(void **state)
{
    (void)state;
    char *path = temp_db();
    struct store *s = NULL;
    struct err err = {0};
    struct pool_key key = {"ci-agents", "my-pool"};
    struct plan_result a, b;
    struct plan_action *open = NULL;
    size_t n_open = 0;
    json_t *f = fixture_load("report01_count_jobs_once.json");

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(fixture_observe(s, f, json_array_get(json_object_get(f, "steps"), 0),
                                     FIXTURE_T0_MS), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS, &a, &err), 0);
    assert_int_equal(store_record_tick(s, &a, NULL, &err), 0);
    store_close(s); /* crash: nothing executed */

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(store_open_intents(s, &open, &n_open, &err), 0);
    assert_int_equal(n_open, a.n_actions);
    /* The loop abandons (or re-executes) the open intents first; abandoning frees the slots. */
    for (size_t i = 0; i < n_open; i++)
        assert_int_equal(store_intent_finish(s, open[i].intent_id, INTENT_ABANDONED, "restart",
                                             FIXTURE_T0_MS + 1000, &err), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS + 1000, &b, &err), 0);
    assert_int_equal(a.n_actions, 2);
    assert_int_equal(b.n_actions, a.n_actions);
    for (size_t i = 0; i < a.n_actions; i++) {
        assert_int_equal(a.actions[i].kind, b.actions[i].kind);
        assert_string_equal(a.actions[i].target, b.actions[i].target);
        assert_string_equal(open[i].target, a.actions[i].target);
    }
    free(open);
    plan_result_free(&a);
    plan_result_free(&b);
    json_decref(f);
    store_close(s);
    remove_db(path);
}

/* Creates that succeeded but whose pods the watch has not delivered yet still count as
 * starting: re-planning right after executing does not create duplicates. */
static void test_executed_creates_count_before_the_watch_shows_them(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct pool_key key = {"ci-agents", "my-pool"};
    struct plan_result a, b;
    json_t *f = fixture_load("report01_count_jobs_once.json");

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(fixture_observe(s, f, json_array_get(json_object_get(f, "steps"), 0),
                                     FIXTURE_T0_MS), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS, &a, &err), 0);
    assert_int_equal(store_record_tick(s, &a, NULL, &err), 0);
    assert_int_equal(fixture_execute(s, &a, "succeed", FIXTURE_T0_MS), 0);
    assert_int_equal(plan(s, &key, FIXTURE_T0_MS + 2000, &b, &err), 0);
    assert_int_equal(b.counts.created, 0);
    assert_int_equal(b.counts.starting, 2);
    plan_result_free(&a);
    plan_result_free(&b);
    json_decref(f);
    store_close(s);
}

/* The printer columns: STATUS, QUEUED, AGENTS x/max, RUNNING. */
static void test_pool_status_summarises_the_latest_tick(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct pool_key key = {"ci-agents", "my-pool"};
    struct pool_status st;
    char why[512];
    json_t *f = fixture_load("report01_count_jobs_once.json");
    json_t *steps = json_object_get(f, "steps");

    while (json_array_size(steps) > 1)
        json_array_remove(steps, 1);
    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(fixture_run(s, f, why, sizeof(why)), 0);
    assert_int_equal(store_pool_status(s, &key, &st, &err), 0);
    assert_string_equal(st.state, "connected");
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.agents, 5); /* 3 busy + 2 creating */
    assert_int_equal(st.max_agents, 6);
    assert_int_equal(st.running, 3);
    assert_true(st.azdo_connected);
    assert_int_equal(st.placeholders, 1);
    json_decref(f);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO("report01_count_jobs_once.json"),
        SCENARIO("report01_cap.json"),
        SCENARIO("report02_unknown_is_not_zero.json"),
        SCENARIO("report03_demand_routing.json"),
        SCENARIO("report03_not_capability_aware.json"),
        SCENARIO("report04_placeholders.json"),
        SCENARIO("report04_placeholder_deleted_early.json"),
        SCENARIO("report05_registration_hygiene.json"),
        SCENARIO("report05_registrations_without_pods.json"),
        SCENARIO("report06_drain_race.json"),
        SCENARIO("report06_drain_no_race.json"),
        SCENARIO("report09_image_pull_backoff.json"),
        SCENARIO("report13_auth_failed.json"),
        SCENARIO("report15_throttled.json"),
        SCENARIO("rule_run_once.json"),
        SCENARIO("rule_run_once_keeps_min_agents.json"),
        SCENARIO("rule_min_agents_and_finalizer.json"),
        SCENARIO("rule_pvcs.json"),
        SCENARIO("rule_pvc_required_missing.json"),
        SCENARIO("rule_pvc_delete_blocks_index.json"),
        SCENARIO("rule_pod_waits_for_its_claims.json"),
        SCENARIO("rule_replace_offline_and_crash_loop.json"),
        SCENARIO("rule_placeholder_gc.json"),
        SCENARIO("rule_pool_deletion.json"),
        SCENARIO("rule_pool_deletion_without_azdo.json"),
        SCENARIO("rule_index_zero.json"),
        SCENARIO("rule_create_ends_when_seen.json"),
        SCENARIO("rule_pod_deleted_behind_our_back.json"),
        SCENARIO("rule_reused_index_new_incarnation.json"),
        SCENARIO("rule_replacement_created_same_second.json"),
        cmocka_unit_test(test_plan_is_a_pure_function_of_database_and_clock),
        cmocka_unit_test(test_restart_before_executing_plans_the_same_actions),
        cmocka_unit_test(test_executed_creates_count_before_the_watch_shows_them),
        cmocka_unit_test(test_pool_status_summarises_the_latest_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
