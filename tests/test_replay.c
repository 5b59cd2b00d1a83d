/* test_replay.c - replay and the read-only commands: replaying recorded ticks on an unchanged
 * binary reports no difference; an altered recorded decision is reported; `sql` refuses writes;
 * `migrate` and `replay` exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "plan/replay.h"
#include "plan_fixture.h"
#include "store/store.h"

static const char *const SCENARIOS[] = {
    "report01_count_jobs_once.json", "report05_registration_hygiene.json",
    "report06_drain_race.json",      "report09_image_pull_backoff.json",
    "rule_pool_deletion.json",       "rule_pvcs.json",
    "report04_placeholders.json",    "rule_create_ends_when_seen.json",
};

struct env {
    char path[64];
};

/* Records several scenarios (one pool each, distinct namespaces) into one database file. */
static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct store *s = NULL;
    struct err err = {0};
    char why[512];

    snprintf(e->path, sizeof(e->path), "/tmp/test_replay_XXXXXX");
    int fd = mkstemp(e->path);
    close(fd);
    unlink(e->path);
    assert_int_equal(store_open(e->path, 0, &s, &err), 0);
    for (size_t i = 0; i < sizeof(SCENARIOS) / sizeof(SCENARIOS[0]); i++) {
        json_t *f = fixture_load(SCENARIOS[i]);
        char ns[32];
        assert_non_null(f);
        snprintf(ns, sizeof(ns), "ns-%zu", i);
        json_object_set_new(json_object_get(f, "pool"), "ns", json_string(ns));
        if (fixture_run(s, f, why, sizeof(why)) < 0)
            fail_msg("%s: %s", SCENARIOS[i], why);
        json_decref(f);
    }
    store_close(s);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    char aux[128];
    unlink(e->path);
    snprintf(aux, sizeof(aux), "%s-wal", e->path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", e->path);
    unlink(aux);
    free(e);
    return 0;
}

static void test_replay_of_unchanged_binary_reports_no_difference(void **state)
{
    struct env *e = *state;
    struct store *s = NULL;
    struct err err = {0};
    struct replay_report rep;

    assert_int_equal(store_open(e->path, STORE_READONLY, &s, &err), 0);
    assert_int_equal(plan_replay(s, NULL, stderr, false, &rep, &err), 0);
    assert_true(rep.ticks >= 20);
    assert_int_equal(rep.differ, 0);
    assert_int_equal(rep.skipped, 0);
    store_close(s);

    char *argv[] = {"replay", "--db", e->path, NULL};
    assert_int_equal(cmd_replay(3, argv), 0);
}

static void test_replay_reports_an_altered_decision(void **state)
{
    struct env *e = *state;
    struct store *s = NULL;
    struct err err = {0};
    struct replay_report rep;

    assert_int_equal(store_open(e->path, 0, &s, &err), 0);
    assert_int_equal(store_exec(s, "UPDATE decisions SET target = 'my-pool-agent-99'"
                                   " WHERE decision_id = (SELECT min(decision_id) FROM decisions"
                                   " WHERE action = 'create_pod')", &err), 0);
    assert_int_equal(plan_replay(s, NULL, NULL, false, &rep, &err), 0);
    assert_int_equal(rep.differ, 1);
    /* A removed decision is a difference too. */
    assert_int_equal(store_exec(s, "DELETE FROM decisions WHERE decision_id = (SELECT"
                                   " max(decision_id) FROM decisions WHERE action ="
                                   " 'disable_agent')", &err), 0);
    assert_int_equal(plan_replay(s, NULL, NULL, false, &rep, &err), 0);
    assert_int_equal(rep.differ, 2);
    store_close(s);

    char *argv[] = {"replay", "--db", e->path, NULL};
    assert_int_equal(cmd_replay(3, argv), 1);
}

static void test_replay_can_be_limited_to_one_pool(void **state)
{
    struct env *e = *state;
    struct store *s = NULL;
    struct err err = {0};
    struct replay_report all, one;
    struct pool_key key = {"ns-0", "my-pool"};

    assert_int_equal(store_open(e->path, STORE_READONLY, &s, &err), 0);
    assert_int_equal(plan_replay(s, NULL, NULL, false, &all, &err), 0);
    assert_int_equal(plan_replay(s, &key, NULL, false, &one, &err), 0);
    assert_true(one.ticks > 0 && one.ticks < all.ticks);
    store_close(s);
}

static void test_sql_refuses_writes_and_reads_views(void **state)
{
    struct env *e = *state;
    char *write[] = {"sql", "--db", e->path, "DELETE FROM pools", NULL};
    char *write2[] = {"sql", "--db", e->path, "SELECT 1; DROP VIEW v_decision_log", NULL};
    char *read[] = {"sql", "--db", e->path, "--csv", "SELECT count(*) FROM v_decision_log", NULL};
    char *json[] = {"sql", "--db", e->path, "--json", "SELECT * FROM v_scaling_history", NULL};
    struct store *s = NULL;
    struct err err = {0};

    assert_int_equal(cmd_sql(4, write), 1);
    assert_int_equal(cmd_sql(4, write2), 1);
    assert_int_equal(cmd_sql(5, read), 0);
    assert_int_equal(cmd_sql(5, json), 0);
    /* Nothing was written. */
    assert_int_equal(store_open(e->path, STORE_READONLY, &s, &err), 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT count(*) FROM pools", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), (int)(sizeof(SCENARIOS) / sizeof(SCENARIOS[0])));
    sqlite3_finalize(st);
    store_close(s);
}

static void test_sql_and_replay_usage_errors(void **state)
{
    (void)state;
    char *no_query[] = {"sql", "--db", "/nonexistent/x.db", NULL};
    char *bad_pool[] = {"replay", "--pool", "nopool", NULL};
    char *missing_db[] = {"replay", "--db", "/nonexistent/x.db", NULL};
    assert_int_equal(cmd_sql(3, no_query), 2);
    assert_int_equal(cmd_replay(3, bad_pool), 2);
    assert_int_equal(cmd_replay(3, missing_db), 1);
}

static void test_migrate_creates_and_reports_version(void **state)
{
    (void)state;
    char path[] = "/tmp/test_migrate_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    char *argv[] = {"migrate", "--db", path, NULL};
    assert_int_equal(cmd_migrate(3, argv), 0);
    assert_int_equal(cmd_migrate(3, argv), 0);
    struct store *s = NULL;
    struct err err = {0};
    assert_int_equal(store_open(path, STORE_READONLY, &s, &err), 0);
    assert_int_equal(store_schema_version(s), store_latest_version());
    store_close(s);
    char aux[64];
    unlink(path);
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_of_unchanged_binary_reports_no_difference,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_reports_an_altered_decision, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replay_can_be_limited_to_one_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_refuses_writes_and_reads_views, setup,
                                        teardown),
        cmocka_unit_test(test_sql_and_replay_usage_errors),
        cmocka_unit_test(test_migrate_creates_and_reports_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
