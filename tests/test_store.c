/* test_store.c - the store: migrations, pragmas, version refusal, observations, intents,
 * retention, read-only access. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan/demand.h"
#include "plan/plan.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_obs.h"
#include "store/store_retention.h"
#include "store/store_status.h"

static const struct pool_key POOL = {"ci-agents", "my-pool"};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* sqlite_master rows as one normalised text: type, name, and SQL with whitespace collapsed
 * (comments are not kept by SQLite for tables; they are stripped for the comparison). */
static char *master_text(sqlite3 *db)
{
    static const char sql[] = "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master"
                              " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";
    sqlite3_stmt *st;
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 4; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            bool space = false, in_comment = false;
            for (const char *p = v; *p != '\0'; p++) {
                if (len + 4 >= cap) {
                    cap *= 2;
                    out = realloc(out, cap);
                    assert_non_null(out);
                }
                if (in_comment) {
                    if (*p == '\n')
                        in_comment = false;
                    else
                        continue;
                }
                if (p[0] == '-' && p[1] == '-') {
                    in_comment = true;
                    continue;
                }
                if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
                    space = true;
                    continue;
                }
                if (space && len > 0)
                    out[len++] = ' ';
                space = false;
                out[len++] = *p;
            }
            out[len++] = '|';
        }
        out[len++] = '\n';
    }
    out[len] = '\0';
    sqlite3_finalize(st);
    return out;
}

static void test_migrations_produce_schema_sql(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    sqlite3 *ref = NULL;
    char path[4096];
    char *schema, *a, *b;

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_schema_version(s), store_latest_version());
    snprintf(path, sizeof(path), "%s/schema/schema.sql", AZDO_SRCDIR);
    schema = read_file(path);
    assert_int_equal(sqlite3_open(":memory:", &ref), SQLITE_OK);
    assert_int_equal(sqlite3_exec(ref, schema, NULL, NULL, NULL), SQLITE_OK);
    a = master_text(store_db(s));
    b = master_text(ref);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(schema);
    sqlite3_close(ref);
    store_close(s);
}

static void test_every_migration_file_is_embedded_in_order(void **state)
{
    (void)state;
    assert_true(store_migrations_count >= 1);
    for (size_t i = 0; i < store_migrations_count; i++)
        assert_int_equal(store_migrations[i].version, (int)i + 1);
    /* The last listed file exists in migrations/ under its number. */
    char path[4096];
    const struct store_migration *m = &store_migrations[store_migrations_count - 1];
    snprintf(path, sizeof(path), "%s/migrations/%04d_%s.sql", AZDO_SRCDIR, m->version, m->name);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof(path), "%s/migrations/%04d_", AZDO_SRCDIR, m->version + 1);
    /* A migration file numbered after the last embedded one means local.mk misses it. */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ls %s*.sql >/dev/null 2>&1", path);
    assert_int_not_equal(system(cmd), 0);
}

static char *temp_db(void)
{
    char *path = strdup("/tmp/test_store_XXXXXX");
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

static void test_open_sets_wal_and_foreign_keys_and_records_migrations(void **state)
{
    (void)state;
    char *path = temp_db();
    struct store *s = NULL;
    struct err err = {0};
    sqlite3_stmt *st;

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode", -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA foreign_keys", -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT count(*) FROM schema_migrations",
                                        -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), (int)store_migrations_count);
    sqlite3_finalize(st);
    store_close(s);

    /* Reopening applies nothing twice. */
    int applied = -1;
    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(store_migrate(s, &applied, &err), 0);
    assert_int_equal(applied, 0);
    store_close(s);
    remove_db(path);
}

static void test_database_from_newer_version_is_refused(void **state)
{
    (void)state;
    char *path = temp_db();
    struct store *s = NULL;
    struct err err = {0};
    char pragma[64];

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", store_latest_version() + 1);
    assert_int_equal(store_exec(s, pragma, &err), 0);
    store_close(s);
    assert_int_equal(store_open(path, 0, &s, &err), -EPROTO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer than this binary"));
    remove_db(path);
}

static void test_readonly_store_refuses_writes(void **state)
{
    (void)state;
    char *path = temp_db();
    struct store *s = NULL;
    struct err err = {0};

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    store_close(s);
    assert_int_equal(store_open(path, STORE_READONLY, &s, &err), 0);
    assert_int_not_equal(store_exec(s, "DELETE FROM pools", &err), 0);
    store_close(s);
    remove_db(path);
}

static void test_demand_keys_ignore_agent_version_and_parse_equals(void **state)
{
    (void)state;
    struct err err = {0};
    char *keys = NULL;
    char key[64];

    assert_int_equal(plan_demand_keys_json("[\"gpu -equals true\",\"Agent.Version -gtVersion"
                                           " 3.0\",\"java17\",\"GPU\"]", &keys, &err), 0);
    assert_string_equal(keys, "[\"gpu\",\"java17\"]");
    free(keys);
    assert_int_equal(plan_demand_key("maven -exists", key, sizeof(key)), -EINVAL);
    assert_int_equal(plan_demand_key("Agent.Version -gtVersion 2.1", key, sizeof(key)), 0);
    assert_int_equal(plan_demand_key("npm", key, sizeof(key)), 1);
    assert_string_equal(key, "npm");
}

static int64_t count(struct store *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_relist_marks_missing_pods_gone_and_same_name_pools_differ(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct pool_key other = {"other-ns", "my-pool"};
    struct obs_pod pods[2] = {
        {.uid = "u1", .name = "my-pool-agent-1", .idx = 1, .phase = "Running", .created_ms = 1},
        {.uid = "u2", .name = "my-pool-agent-2", .idx = 2, .phase = "Pending", .created_ms = 1},
    };

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_begin(s, &err), 0);
    assert_int_equal(store_observe_pods(s, &POOL, pods, 2, 1000, &err), 0);
    assert_int_equal(store_observe_pods(s, &other, pods, 1, 1000, &err), 0);
    assert_int_equal(store_commit(s, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM pools"), 2);
    /* Relist after a 410: only agent-2 remains. */
    assert_int_equal(store_observe_pods(s, &POOL, &pods[1], 1, 2000, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM pods WHERE gone_ms IS NULL"), 2);
    assert_int_equal(count(s, "SELECT count(*) FROM pods WHERE gone_ms = 2000 AND uid = 'u1'"
                              " AND pool_id = (SELECT pool_id FROM pools"
                              " WHERE namespace = 'ci-agents')"), 1);
    /* The other namespace's pod of the same name is untouched. */
    assert_int_equal(count(s, "SELECT count(*) FROM pods p JOIN pools USING (pool_id)"
                              " WHERE namespace = 'other-ns' AND p.gone_ms IS NULL"), 1);
    store_close(s);
}

/* A terminating pod keeps the time it is due to be gone (deletionTimestamp); none otherwise. */
static void test_pod_deletion_deadline_is_kept(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct obs_pod p = {.uid = "u1", .name = "my-pool-agent-0", .idx = 0, .phase = "Running",
                        .created_ms = 1};

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_observe_pod(s, &POOL, &p, 1000, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM pods WHERE deletion_ms IS NULL"), 1);
    p.deletion_requested = true;
    p.deletion_ms = 31000;
    assert_int_equal(store_observe_pod(s, &POOL, &p, 2000, &err), 0);
    assert_int_equal(count(s, "SELECT deletion_ms FROM pods WHERE deletion_requested = 1"), 31000);
    store_close(s);
}

static void test_pull_errors_count_consecutive_observations(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct obs_pod p = {.uid = "u1", .name = "my-pool-agent-1", .idx = 1, .phase = "Pending",
                        .waiting_reason = "ErrImagePull", .created_ms = 1};

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_observe_pod(s, &POOL, &p, 1000, &err), 0);
    p.waiting_reason = "ImagePullBackOff";
    assert_int_equal(store_observe_pod(s, &POOL, &p, 2000, &err), 0);
    assert_int_equal(count(s, "SELECT bad_observations FROM pods"), 2);
    assert_int_equal(count(s, "SELECT bad_since_ms FROM pods"), 1000);
    p.waiting_reason = NULL;
    assert_int_equal(store_observe_pod(s, &POOL, &p, 3000, &err), 0);
    assert_int_equal(count(s, "SELECT bad_observations FROM pods"), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM pods WHERE bad_since_ms IS NULL"), 1);
    store_close(s);
}

static void test_jobs_leaving_the_list_are_gone_and_queue_is_sampled(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct obs_job jobs[3] = {
        {.request_id = 101, .demands_json = "[\"gpu\"]", .queue_ms = 10},
        {.request_id = 102, .demands_json = "[\"gpu\", \"Agent.Version -gtVersion 3\"]",
         .queue_ms = 10},
        {.request_id = 103, .queue_ms = 10, .assign_ms = 20, .reserved_agent_id = 7,
         .reserved_agent_name = "my-pool-agent-1"},
    };

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_observe_jobs(s, &POOL, jobs, 3, 1000, &err), 0);
    assert_int_equal(count(s, "SELECT queued FROM queue_samples WHERE demand_set = '[\"gpu\"]'"),
                     2);
    assert_int_equal(count(s, "SELECT running FROM queue_samples WHERE demand_set = '[]'"), 1);
    assert_int_equal(store_observe_jobs(s, &POOL, jobs, 1, 2000, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM jobs WHERE gone_ms = 2000"), 2);
    assert_int_equal(count(s, "SELECT samples FROM queue_hourly WHERE demand_set = '[\"gpu\"]'"),
                     2);
    store_close(s);
}

static void test_azdo_connection_change_is_recorded_once_per_change(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    struct obs_pool p = {.uid = "uid-1", .generation = 1,
                         .spec_json = "{\"patSecretName\":\"azdo-pat\",\"pool\":\"my-pool\"}",
                         .finalizer_present = true};
    struct obs_azdo a = {.conn = AZDO_CONN_AUTH_FAILED, .detail = "401 token expired"};

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_observe_pool(s, &POOL, &p, 1000, &err), 0);
    assert_int_equal(store_observe_azdo(s, &POOL, &a, 1000, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM azdo_connection_changes"), 1);
    assert_int_equal(store_observe_azdo(s, &POOL, &a, 2000, &err), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM azdo_connection_changes"), 1);
    store_close(s);
}

static void test_open_intents_survive_reopen(void **state)
{
    (void)state;
    char *path = temp_db();
    struct store *s = NULL;
    struct err err = {0};
    struct plan_action acts[2] = {
        {.kind = PLAN_CREATE_POD, .slot = 1, .target = "my-pool-agent-1",
         .reason = "scale_up.waiting_jobs", .sentence = "1 job waits"},
        {.kind = PLAN_DELETE_REGISTRATION, .slot = 7, .target = "my-pool-agent-7", .agent_id = 77,
         .reason = "orphans.offline_leftover", .sentence = "offline 9 days"},
    };
    struct plan_result r = {.ns = "ci-agents", .pool = "my-pool", .now_ms = 5000,
                            .pool_state = "connected", .pool_cause = "azdo_ok",
                            .actions = acts, .n_actions = 2, .digest = "00"};
    struct plan_action *open = NULL;
    size_t n = 0;
    struct obs_pool p = {.uid = "u", .generation = 1, .spec_json = "{}"};

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(store_observe_pool(s, &POOL, &p, 1000, &err), 0);
    assert_int_equal(store_pool_id(s, &POOL, &r.pool_id, &err), 0);
    assert_int_equal(store_record_tick(s, &r, NULL, &err), 0);
    assert_true(acts[0].intent_id > 0 && acts[1].intent_id > 0);
    assert_int_equal(store_intent_start(s, acts[0].intent_id, 5001, &err), 0);
    assert_int_equal(store_intent_finish(s, acts[0].intent_id, INTENT_SUCCEEDED, NULL, 5002,
                                         &err), 0);
    assert_int_equal(store_intent_start(s, acts[1].intent_id, 5003, &err), 0);
    store_close(s); /* crash before the outcome of the second */

    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(store_open_intents(s, &open, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(open[0].kind, PLAN_DELETE_REGISTRATION);
    assert_int_equal(open[0].agent_id, 77);
    assert_string_equal(open[0].ns, "ci-agents");
    assert_string_equal(open[0].target, "my-pool-agent-7");
    assert_int_equal(open[0].attempt, 1);
    /* A finished intent cannot be finished again. */
    assert_int_equal(store_intent_finish(s, acts[0].intent_id, INTENT_FAILED, "x", 6000, &err),
                     -ENOENT);
    free(open);
    store_close(s);
    remove_db(path);
}

static void test_retention_prunes_raw_rows_and_keeps_hourly_rollups(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err err = {0};
    const int64_t day = 24LL * 3600 * 1000, t0 = 1000 * day;
    struct obs_job j = {.request_id = 1, .queue_ms = t0};
    long deleted = 0;

    assert_int_equal(store_open(":memory:", STORE_NO_CHECK, &s, &err), 0);
    assert_int_equal(store_observe_jobs(s, &POOL, &j, 1, t0, &err), 0);
    assert_int_equal(store_observe_jobs(s, &POOL, NULL, 0, t0 + 1000, &err), 0); /* finished */
    assert_int_equal(store_count_api(s, "azdo", "https://dev.azure.com/my-org", t0, 3, 1, 1,
                                     &err), 0);
    assert_int_equal(store_prune(s, t0 + 31 * day, 30, &deleted, &err), 0);
    assert_true(deleted >= 2); /* the job and its queue sample */
    assert_int_equal(count(s, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM queue_samples"), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM queue_hourly"), 1);
    assert_int_equal(count(s, "SELECT requests FROM api_hourly"), 3);
    assert_int_equal(store_prune(s, t0, 0, NULL, &err), -EINVAL);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_produce_schema_sql),
        cmocka_unit_test(test_pod_deletion_deadline_is_kept),
        cmocka_unit_test(test_every_migration_file_is_embedded_in_order),
        cmocka_unit_test(test_open_sets_wal_and_foreign_keys_and_records_migrations),
        cmocka_unit_test(test_database_from_newer_version_is_refused),
        cmocka_unit_test(test_readonly_store_refuses_writes),
        cmocka_unit_test(test_demand_keys_ignore_agent_version_and_parse_equals),
        cmocka_unit_test(test_relist_marks_missing_pods_gone_and_same_name_pools_differ),
        cmocka_unit_test(test_pull_errors_count_consecutive_observations),
        cmocka_unit_test(test_jobs_leaving_the_list_are_gone_and_queue_is_sampled),
        cmocka_unit_test(test_azdo_connection_change_is_recorded_once_per_change),
        cmocka_unit_test(test_open_intents_survive_reopen),
        cmocka_unit_test(test_retention_prunes_raw_rows_and_keeps_hourly_rollups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
