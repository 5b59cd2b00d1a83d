/* store_metrics.c - one read-only pass over pools, slots and jobs for /metrics. */
#include "store/store_metrics.h"

static const char pool_states_sql[] =
    "SELECT state, count(*) FROM pools WHERE gone_ms IS NULL GROUP BY state";

static const char slot_states_sql[] =
    "SELECT p.namespace || '/' || p.name, s.state, count(*) FROM slots s"
    " JOIN pools p USING (pool_id) WHERE p.gone_ms IS NULL GROUP BY 1, 2";

/* Waiting = unfinished and not reserved for an agent: the QUEUED column's meaning. */
static const char queued_sql[] =
    "SELECT p.namespace || '/' || p.name,"
    " (SELECT count(*) FROM jobs j WHERE j.pool_id = p.pool_id AND j.gone_ms IS NULL"
    "  AND j.result IS NULL AND j.reserved_agent_id IS NULL)"
    " FROM pools p WHERE p.gone_ms IS NULL";

static int each_row(struct store *s, const char *sql, int key_col, const char *what,
                    store_metrics_cb cb, void *data, struct err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = store_stmt(s, sql, &st, err);

    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int n = sqlite3_column_count(st);
        const char *pool = key_col == 0 ? NULL : (const char *)sqlite3_column_text(st, 0);
        const char *key = key_col < 0 ? NULL : (const char *)sqlite3_column_text(st, key_col);
        cb(data, what, pool, key, (long)sqlite3_column_int64(st, n - 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(store_db(s), err, what);
    return 0;
}

int store_metrics_snapshot(struct store *s, store_metrics_cb cb, void *data, struct err *err)
{
    int rc = each_row(s, pool_states_sql, 0, "pool_state", cb, data, err);

    if (rc == 0)
        rc = each_row(s, slot_states_sql, 1, "slot_state", cb, data, err);
    if (rc == 0)
        rc = each_row(s, queued_sql, -1, "queued", cb, data, err);
    return rc;
}
