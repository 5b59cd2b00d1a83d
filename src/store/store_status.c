/* store_status.c - the printer-column summary of a pool (see store_status.h). */
#include "store/store_status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_obs.h"

static const char *azdo_reason(const char *conn)
{
    static const char *const map[][2] = {{"ok", "Connected"},
                                         {"auth-failed", "AuthFailed"},
                                         {"pool-not-found", "PoolNotFound"},
                                         {"unreachable", "Unreachable"},
                                         {"throttled", "Throttled"}};
    for (size_t i = 0; conn != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(conn, map[i][0]) == 0)
            return map[i][1];
    }
    return "Pending";
}

int store_pool_status(struct store *s, const struct pool_key *key, struct pool_status *out,
                      struct err *err)
{
    static const char sql[] =
        "SELECT p.state, p.azdo_connection, p.azdo_detail, p.azdo_ok_ms, p.generation,"
        " (SELECT count(*) FROM jobs j WHERE j.pool_id = p.pool_id AND j.gone_ms IS NULL"
        "   AND j.result IS NULL AND j.reserved_agent_id IS NULL AND j.assign_ms IS NULL),"
        " (SELECT count(*) FROM slots s WHERE s.pool_id = p.pool_id"
        "   AND s.state IN ('creating', 'starting', 'idle', 'busy', 'draining')),"
        " COALESCE((SELECT json_extract(spec_json, '$.maxAgents') FROM pool_specs ps"
        "   WHERE ps.pool_id = p.pool_id ORDER BY generation DESC LIMIT 1), 10),"
        " (SELECT count(*) FROM slots s WHERE s.pool_id = p.pool_id AND s.state = 'busy'),"
        " (SELECT count(*) FROM slots s WHERE s.pool_id = p.pool_id AND s.state = 'failed'),"
        " (SELECT count(*) FROM agents a WHERE a.pool_id = p.pool_id AND a.gone_ms IS NULL"
        "   AND (a.name = p.name || '-template' OR a.name GLOB p.name || '-template-*')),"
        " (SELECT count(*) FROM decisions d WHERE d.tick_id = (SELECT max(tick_id) FROM ticks t"
        "   WHERE t.pool_id = p.pool_id) AND d.action = 'emit_event'"
        "   AND d.target = 'UnsatisfiableDemands'),"
        " (SELECT cause FROM pool_transitions t WHERE t.pool_id = p.pool_id"
        "   ORDER BY transition_id DESC LIMIT 1),"
        " p.azdo_reason"
        " FROM pools p WHERE p.namespace = ?1 AND p.name = ?2";
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, key->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? err_set(err, -ENOENT, "pool '%s/%s' was never observed",
                                         key->ns, key->name)
                               : store_sqlite_err(store_db(s), err, "cannot read pool status");
        sqlite3_reset(st);
        return rc;
    }
    const char *state = (const char *)sqlite3_column_text(st, 0);
    const char *conn = (const char *)sqlite3_column_text(st, 1);
    const char *detail = (const char *)sqlite3_column_text(st, 2);
    const char *cause = (const char *)sqlite3_column_text(st, 12);
    snprintf(out->state, sizeof(out->state), "%s", state != NULL ? state : "pending");
    out->azdo_connected = conn != NULL && strcmp(conn, "ok") == 0;
    const char *reason = (const char *)sqlite3_column_text(st, 13);
    /* For an authentication failure the answer's own reason (TokenExpired, SignInPage,
     * Forbidden) tells the user what to fix; other failures keep their class name, which is
     * also the pool's state (Throttled, Unreachable, PoolNotFound). */
    bool auth = conn != NULL && strcmp(conn, "auth-failed") == 0;
    snprintf(out->azdo_reason, sizeof(out->azdo_reason), "%s",
             reason != NULL && auth ? reason : azdo_reason(conn));
    snprintf(out->azdo_message, sizeof(out->azdo_message), "%s", detail != NULL ? detail : "");
    out->last_polled_ms = sqlite3_column_int64(st, 3);
    out->generation = sqlite3_column_int64(st, 4);
    out->queued = sqlite3_column_int(st, 5);
    out->agents = sqlite3_column_int(st, 6);
    out->max_agents = sqlite3_column_int(st, 7);
    out->running = sqlite3_column_int(st, 8);
    out->failed = sqlite3_column_int(st, 9);
    out->placeholders = sqlite3_column_int(st, 10);
    out->unmatched = sqlite3_column_int(st, 11);
    out->degraded = strcmp(out->state, "degraded") == 0;
    if (out->degraded)
        snprintf(out->degraded_reason, sizeof(out->degraded_reason), "%s",
                 cause != NULL ? cause : "");
    sqlite3_reset(st);
    return 0;
}
