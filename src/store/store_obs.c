/* store_obs.c - observation writes (see store_obs.h).
 *
 * Invariants: (1) a row's gone_ms is NULL while the object is in the latest list or watch state,
 * and set once it left; an object that comes back gets gone_ms NULL again; (2) pods and PVCs
 * are keyed by uid, so a pod recreated under the same name is a new row (agent lifetimes);
 * (3) pods.bad_since_ms / bad_observations count consecutive observations of a failing waiting
 * reason and reset as soon as one observation shows none. */
#include "store/store_obs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/demand.h"

#define HOUR_MS 3600000LL

static int step_done(struct store *s, sqlite3_stmt *st, struct err *err, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, what);
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    return 0;
}

const char *store_azdo_conn_name(enum azdo_conn c)
{
    switch (c) {
    case AZDO_CONN_OK: return "ok";
    case AZDO_CONN_AUTH_FAILED: return "auth-failed";
    case AZDO_CONN_POOL_NOT_FOUND: return "pool-not-found";
    case AZDO_CONN_UNREACHABLE: return "unreachable";
    case AZDO_CONN_THROTTLED: return "throttled";
    }
    return "unreachable";
}

bool store_reason_is_failing(const char *r)
{
    static const char *const failing[] = {"ImagePullBackOff",  "ErrImagePull",
                                          "InvalidImageName",  "CrashLoopBackOff",
                                          "CreateContainerConfigError", "CreateContainerError",
                                          "ErrImageNeverPull", "RunContainerError"};
    if (r == NULL)
        return false;
    for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
        if (strcmp(r, failing[i]) == 0)
            return true;
    }
    return false;
}

/* Finds or creates the pool row. */
static int ensure_pool(struct store *s, const struct pool_key *key, int64_t now_ms, int64_t *id,
                       struct err *err)
{
    static const char sql[] =
        "INSERT INTO pools (namespace, name, first_seen_ms, last_seen_ms, state_since_ms)"
        " VALUES (?1, ?2, ?3, ?3, ?3)"
        " ON CONFLICT (namespace, name) DO UPDATE SET last_seen_ms = max(last_seen_ms, ?3)"
        " RETURNING pool_id";
    sqlite3_stmt *st;
    int rc;

    if (key == NULL || key->ns == NULL || key->name == NULL)
        return err_set(err, -EINVAL, "pool key needs a namespace and a name");
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, key->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    if (sqlite3_step(st) != SQLITE_ROW)
        return store_sqlite_err(store_db(s), err, "cannot record pool");
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store_pool_id(struct store *s, const struct pool_key *key, int64_t *out, struct err *err)
{
    static const char sql[] = "SELECT pool_id FROM pools WHERE namespace = ?1 AND name = ?2";
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, key->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return err_set(err, -ENOENT, "pool '%s/%s' was never observed", key->ns, key->name);
    return store_sqlite_err(store_db(s), err, "cannot look up pool");
}

/* ---- the RunnerPool object ------------------------------------------------------------------ */

int store_observe_pool(struct store *s, const struct pool_key *key, const struct obs_pool *p,
                       int64_t now_ms, struct err *err)
{
    static const char pool_sql[] =
        "UPDATE pools SET uid = ?2, generation = max(generation, ?3),"
        " deletion_requested_ms = CASE WHEN ?4 THEN COALESCE(deletion_requested_ms, ?6) END,"
        " finalizer_present = ?5, gone_ms = NULL WHERE pool_id = ?1";
    static const char spec_sql[] =
        "INSERT INTO pool_specs (pool_id, generation, spec_json, observed_ms)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET spec_json = excluded.spec_json";
    sqlite3_stmt *st;
    int64_t id;
    int rc;

    rc = ensure_pool(s, key, now_ms, &id, err);
    if (rc < 0)
        return rc;
    rc = store_stmt(s, pool_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    store_bind_text_or_null(st, 2, p->uid);
    sqlite3_bind_int64(st, 3, p->generation);
    sqlite3_bind_int(st, 4, p->deletion_requested);
    sqlite3_bind_int(st, 5, p->finalizer_present);
    sqlite3_bind_int64(st, 6, now_ms);
    rc = step_done(s, st, err, "cannot record pool");
    if (rc < 0 || p->spec_json == NULL)
        return rc;
    rc = store_stmt(s, spec_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, p->generation);
    sqlite3_bind_text(st, 3, p->spec_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    return step_done(s, st, err, "cannot record pool spec");
}

int store_observe_pool_gone(struct store *s, const struct pool_key *key, int64_t now_ms,
                            struct err *err)
{
    static const char sql[] =
        "UPDATE pools SET gone_ms = COALESCE(gone_ms, ?2) WHERE pool_id = ?1";
    sqlite3_stmt *st;
    int64_t id;
    int rc = store_pool_id(s, key, &id, err);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return step_done(s, st, err, "cannot record pool removal");
}

/* ---- Azure DevOps connection ---------------------------------------------------------------- */

int store_observe_azdo(struct store *s, const struct pool_key *key, const struct obs_azdo *o,
                       int64_t now_ms, struct err *err)
{
    /* The change row is written only when the connection differs from the last one. */
    static const char change_sql[] =
        "INSERT INTO azdo_connection_changes (pool_id, at_ms, connection, detail)"
        " SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM pools"
        "  WHERE pool_id = ?1 AND azdo_connection IS ?3)";
    static const char pool_sql[] =
        "UPDATE pools SET azdo_connection = ?3, azdo_detail = ?4, azdo_observed_ms = ?2,"
        " azdo_pool_id = COALESCE(?5, azdo_pool_id), azdo_reason = ?6,"
        " azdo_ok_ms = CASE WHEN ?3 = 'ok' THEN ?2 ELSE azdo_ok_ms END WHERE pool_id = ?1";
    const char *sqls[] = {change_sql, pool_sql};
    const char *conn = store_azdo_conn_name(o->conn);
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    for (size_t i = 0; rc == 0 && i < 2; i++) {
        sqlite3_stmt *st;
        rc = store_stmt(s, sqls[i], &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_text(st, 3, conn, -1, SQLITE_STATIC);
        store_bind_text_or_null(st, 4, o->conn == AZDO_CONN_OK ? NULL : o->detail);
        if (i == 1) {
            store_bind_i64_or_null(st, 5, o->azdo_pool_id);
            store_bind_text_or_null(st, 6, o->conn == AZDO_CONN_OK ? NULL : o->reason);
        }
        rc = step_done(s, st, err, "cannot record azure devops connection");
    }
    return rc;
}

/* ---- full lists: mark what is missing as gone ----------------------------------------------- */

/* Sets gone_ms on the pool's rows of 'table' not seen at 'now_ms' (observed_ms < now_ms). */
static int mark_unseen_gone(struct store *s, const char *sql, int64_t id, int64_t now_ms,
                            struct err *err)
{
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return step_done(s, st, err, "cannot mark missing objects gone");
}

/* ---- agents --------------------------------------------------------------------------------- */

int store_observe_agents(struct store *s, const struct pool_key *key, const struct obs_agent *a,
                         size_t n, int64_t now_ms, struct err *err)
{
    static const char sql[] =
        "INSERT INTO agents (pool_id, agent_id, name, status, enabled, capabilities_json,"
        " assigned_request_id, last_finish_ms, status_changed_ms, created_ms, first_seen_ms,"
        " observed_ms) VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, '{}'), ?7, ?8, ?9, ?10, ?11, ?11)"
        " ON CONFLICT (pool_id, agent_id) DO UPDATE SET name = excluded.name,"
        " status = excluded.status, enabled = excluded.enabled,"
        " capabilities_json = excluded.capabilities_json,"
        " assigned_request_id = excluded.assigned_request_id,"
        " last_finish_ms = COALESCE(excluded.last_finish_ms, last_finish_ms),"
        " status_changed_ms = excluded.status_changed_ms, created_ms = excluded.created_ms,"
        " observed_ms = excluded.observed_ms, gone_ms = NULL";
    static const char gone_sql[] =
        "UPDATE agents SET gone_ms = ?2 WHERE pool_id = ?1 AND gone_ms IS NULL"
        " AND observed_ms < ?2";
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st;
        rc = store_stmt(s, sql, &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, a[i].id);
        sqlite3_bind_text(st, 3, a[i].name != NULL ? a[i].name : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a[i].online ? "online" : "offline", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, a[i].enabled);
        store_bind_text_or_null(st, 6, a[i].capabilities_json);
        store_bind_i64_or_null(st, 7, a[i].assigned_request_id);
        store_bind_i64_or_null(st, 8, a[i].last_finish_ms);
        store_bind_i64_or_null(st, 9, a[i].status_changed_ms);
        store_bind_i64_or_null(st, 10, a[i].created_ms);
        sqlite3_bind_int64(st, 11, now_ms);
        rc = step_done(s, st, err, "cannot record agent");
    }
    if (rc == 0)
        rc = mark_unseen_gone(s, gone_sql, id, now_ms, err);
    return rc;
}

/* ---- jobs and queue samples ----------------------------------------------------------------- */

static int record_queue_sample(struct store *s, int64_t id, int64_t now_ms, struct err *err)
{
    static const char sample_sql[] =
        "INSERT OR REPLACE INTO queue_samples (pool_id, sampled_ms, demand_set, queued, running)"
        " SELECT ?1, ?2, demand_keys_json,"
        "  sum(reserved_agent_id IS NULL AND assign_ms IS NULL),"
        "  sum(reserved_agent_id IS NOT NULL OR assign_ms IS NOT NULL)"
        " FROM jobs WHERE pool_id = ?1 AND gone_ms IS NULL AND result IS NULL"
        " GROUP BY demand_keys_json";
    static const char hourly_sql[] =
        "INSERT INTO queue_hourly (pool_id, hour_ms, demand_set, samples, queued_sum, queued_max,"
        " running_sum, running_max)"
        " SELECT pool_id, ?2 - ?2 % 3600000, demand_set, 1, queued, queued, running, running"
        " FROM queue_samples WHERE pool_id = ?1 AND sampled_ms = ?2 AND true"
        " ON CONFLICT (pool_id, hour_ms, demand_set) DO UPDATE SET samples = samples + 1,"
        " queued_sum = queued_sum + excluded.queued_sum,"
        " queued_max = max(queued_max, excluded.queued_max),"
        " running_sum = running_sum + excluded.running_sum,"
        " running_max = max(running_max, excluded.running_max)";
    const char *sqls[] = {sample_sql, hourly_sql};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < 2; i++) {
        sqlite3_stmt *st;
        rc = store_stmt(s, sqls[i], &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_ms);
        rc = step_done(s, st, err, "cannot record queue sample");
    }
    return rc;
}

int store_observe_jobs(struct store *s, const struct pool_key *key, const struct obs_job *j,
                       size_t n, int64_t now_ms, struct err *err)
{
    static const char sql[] =
        "INSERT INTO jobs (pool_id, request_id, demands_json, demand_keys_json, queue_ms,"
        " assign_ms, receive_ms, finish_ms, result, reserved_agent_id, reserved_agent_name,"
        " first_seen_ms, observed_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"
        " ON CONFLICT (pool_id, request_id) DO UPDATE SET demands_json = excluded.demands_json,"
        " demand_keys_json = excluded.demand_keys_json, queue_ms = excluded.queue_ms,"
        " assign_ms = excluded.assign_ms, receive_ms = excluded.receive_ms,"
        " finish_ms = excluded.finish_ms, result = excluded.result,"
        " reserved_agent_id = excluded.reserved_agent_id,"
        " reserved_agent_name = excluded.reserved_agent_name,"
        " observed_ms = excluded.observed_ms, gone_ms = NULL";
    static const char gone_sql[] =
        "UPDATE jobs SET gone_ms = ?2 WHERE pool_id = ?1 AND gone_ms IS NULL AND observed_ms < ?2";
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st;
        char *keys = NULL;
        const char *demands = j[i].demands_json != NULL ? j[i].demands_json : "[]";

        rc = plan_demand_keys_json(demands, &keys, err);
        if (rc < 0) {
            err_wrap(err, "job %lld", (long long)j[i].request_id);
            break;
        }
        rc = store_stmt(s, sql, &st, err);
        if (rc == 0) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, j[i].request_id);
            sqlite3_bind_text(st, 3, demands, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, keys, -1, SQLITE_STATIC);
            store_bind_i64_or_null(st, 5, j[i].queue_ms);
            store_bind_i64_or_null(st, 6, j[i].assign_ms);
            store_bind_i64_or_null(st, 7, j[i].receive_ms);
            store_bind_i64_or_null(st, 8, j[i].finish_ms);
            store_bind_text_or_null(st, 9, j[i].result);
            store_bind_i64_or_null(st, 10, j[i].reserved_agent_id);
            store_bind_text_or_null(st, 11, j[i].reserved_agent_name);
            sqlite3_bind_int64(st, 12, now_ms);
            rc = step_done(s, st, err, "cannot record job");
            sqlite3_reset(st); /* 'keys' is bound SQLITE_STATIC: unbind before freeing it */
        }
        free(keys);
    }
    if (rc == 0)
        rc = mark_unseen_gone(s, gone_sql, id, now_ms, err);
    if (rc == 0)
        rc = record_queue_sample(s, id, now_ms, err);
    return rc;
}

/* ---- pods ----------------------------------------------------------------------------------- */

static int upsert_pod(struct store *s, int64_t id, const struct obs_pod *p, int64_t now_ms,
                      struct err *err)
{
    static const char sql[] =
        "INSERT INTO pods (pool_id, uid, name, role, idx, cap_key, phase, ready, restarts,"
        " waiting_reason, deletion_requested, created_ms, bad_since_ms, bad_observations,"
        " first_seen_ms, observed_ms, deletion_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        "  CASE WHEN ?13 THEN ?14 END, ?13, ?14, ?14, ?15)"
        " ON CONFLICT (pool_id, uid) DO UPDATE SET name = excluded.name, role = excluded.role,"
        " idx = excluded.idx, cap_key = excluded.cap_key, phase = excluded.phase,"
        " ready = excluded.ready, restarts = excluded.restarts,"
        " waiting_reason = excluded.waiting_reason,"
        " deletion_requested = excluded.deletion_requested, created_ms = excluded.created_ms,"
        " deletion_ms = excluded.deletion_ms,"
        " bad_since_ms = CASE WHEN ?13 THEN COALESCE(bad_since_ms, ?14) END,"
        " bad_observations = CASE WHEN ?13 THEN bad_observations + 1 ELSE 0 END,"
        " observed_ms = excluded.observed_ms, gone_ms = NULL";
    static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
    const char *phase = "Unknown";
    sqlite3_stmt *st;
    int rc;

    if (p->uid == NULL || p->name == NULL)
        return err_set(err, -EINVAL, "pod observation needs a uid and a name");
    for (size_t i = 0; p->phase != NULL && i < 5; i++) {
        if (strcmp(p->phase, phases[i]) == 0)
            phase = phases[i];
    }
    bool failing = store_reason_is_failing(p->waiting_reason);
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, p->uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->role == POD_PLACEHOLDER ? "placeholder" : "agent", -1,
                      SQLITE_STATIC);
    if (p->role == POD_PLACEHOLDER || p->idx < 0)
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_int(st, 5, p->idx);
    sqlite3_bind_text(st, 6, p->cap_key != NULL ? p->cap_key : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, phase, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, p->ready);
    sqlite3_bind_int(st, 9, p->restarts > 0 ? p->restarts : 0);
    store_bind_text_or_null(st, 10, p->waiting_reason);
    sqlite3_bind_int(st, 11, p->deletion_requested);
    sqlite3_bind_int64(st, 12, p->created_ms);
    sqlite3_bind_int(st, 13, failing);
    sqlite3_bind_int64(st, 14, now_ms);
    if (p->deletion_requested && p->deletion_ms > 0)
        sqlite3_bind_int64(st, 15, p->deletion_ms);
    else
        sqlite3_bind_null(st, 15);
    return step_done(s, st, err, "cannot record pod");
}

int store_observe_pod(struct store *s, const struct pool_key *key, const struct obs_pod *p,
                      int64_t now_ms, struct err *err)
{
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    return rc < 0 ? rc : upsert_pod(s, id, p, now_ms, err);
}

int store_observe_pods(struct store *s, const struct pool_key *key, const struct obs_pod *p,
                       size_t n, int64_t now_ms, struct err *err)
{
    static const char gone_sql[] =
        "UPDATE pods SET gone_ms = ?2 WHERE pool_id = ?1 AND gone_ms IS NULL AND observed_ms < ?2";
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = upsert_pod(s, id, &p[i], now_ms, err);
    if (rc == 0)
        rc = mark_unseen_gone(s, gone_sql, id, now_ms, err);
    return rc;
}

static int mark_uid_gone(struct store *s, const char *sql, const struct pool_key *key,
                         const char *uid, int64_t now_ms, struct err *err)
{
    sqlite3_stmt *st;
    int64_t id;
    int rc = store_pool_id(s, key, &id, err);

    if (rc == -ENOENT) {
        err_clear(err);
        return 0;
    }
    if (rc == 0)
        rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_text(st, 3, uid, -1, SQLITE_STATIC);
    return step_done(s, st, err, "cannot record deletion");
}

int store_observe_pod_gone(struct store *s, const struct pool_key *key, const char *uid,
                           int64_t now_ms, struct err *err)
{
    static const char sql[] = "UPDATE pods SET gone_ms = COALESCE(gone_ms, ?2)"
                              " WHERE pool_id = ?1 AND uid = ?3";
    return mark_uid_gone(s, sql, key, uid, now_ms, err);
}

/* ---- PVCs ----------------------------------------------------------------------------------- */

static int upsert_pvc(struct store *s, int64_t id, const struct obs_pvc *c, int64_t now_ms,
                      struct err *err)
{
    static const char sql[] =
        "INSERT INTO pvcs (pool_id, uid, name, idx, template, phase, deleting, first_seen_ms,"
        " observed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
        " ON CONFLICT (pool_id, uid) DO UPDATE SET name = excluded.name, idx = excluded.idx,"
        " template = excluded.template, phase = excluded.phase, deleting = excluded.deleting,"
        " observed_ms = excluded.observed_ms, gone_ms = NULL";
    sqlite3_stmt *st;
    const char *phase = "Pending";
    int rc;

    if (c->uid == NULL || c->name == NULL || c->template == NULL)
        return err_set(err, -EINVAL, "pvc observation needs a uid, a name and a template");
    if (c->phase != NULL && (strcmp(c->phase, "Bound") == 0 || strcmp(c->phase, "Lost") == 0))
        phase = c->phase;
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, c->uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
    if (c->idx < 0)
        sqlite3_bind_null(st, 4);
    else
        sqlite3_bind_int(st, 4, c->idx);
    sqlite3_bind_text(st, 5, c->template, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, phase, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, c->deleting);
    sqlite3_bind_int64(st, 8, now_ms);
    return step_done(s, st, err, "cannot record pvc");
}

int store_observe_pvc(struct store *s, const struct pool_key *key, const struct obs_pvc *c,
                      int64_t now_ms, struct err *err)
{
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    return rc < 0 ? rc : upsert_pvc(s, id, c, now_ms, err);
}

int store_observe_pvcs(struct store *s, const struct pool_key *key, const struct obs_pvc *c,
                       size_t n, int64_t now_ms, struct err *err)
{
    static const char gone_sql[] =
        "UPDATE pvcs SET gone_ms = ?2 WHERE pool_id = ?1 AND gone_ms IS NULL AND observed_ms < ?2";
    int64_t id;
    int rc = ensure_pool(s, key, now_ms, &id, err);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = upsert_pvc(s, id, &c[i], now_ms, err);
    if (rc == 0)
        rc = mark_unseen_gone(s, gone_sql, id, now_ms, err);
    return rc;
}

int store_observe_pvc_gone(struct store *s, const struct pool_key *key, const char *uid,
                           int64_t now_ms, struct err *err)
{
    static const char sql[] = "UPDATE pvcs SET gone_ms = COALESCE(gone_ms, ?2)"
                              " WHERE pool_id = ?1 AND uid = ?3";
    return mark_uid_gone(s, sql, key, uid, now_ms, err);
}

/* ---- API counters --------------------------------------------------------------------------- */

int store_count_api(struct store *s, const char *kind, const char *organization, int64_t now_ms,
                    int requests, int errors, int throttled, struct err *err)
{
    static const char sql[] =
        "INSERT INTO api_hourly (hour_ms, kind, organization, requests, errors, throttled)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hour_ms, kind, organization) DO UPDATE"
        " SET requests = requests + ?4, errors = errors + ?5, throttled = throttled + ?6";
    sqlite3_stmt *st;
    int rc;

    if (kind == NULL || (strcmp(kind, "azdo") != 0 && strcmp(kind, "kube") != 0))
        return err_set(err, -EINVAL, "api kind must be 'azdo' or 'kube'");
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms - now_ms % HOUR_MS);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, organization != NULL ? organization : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, requests);
    sqlite3_bind_int(st, 5, errors);
    sqlite3_bind_int(st, 6, throttled);
    return step_done(s, st, err, "cannot count api calls");
}
