/* store_retention.c - pruning raw rows, keeping roll-ups (see store_retention.h). */
#include "store/store_retention.h"

#include <errno.h>
#include <stdio.h>

#define DAY_MS (24LL * 3600 * 1000)

int store_prune(struct store *s, int64_t now_ms, int retention_days, long *deleted,
                struct err *err)
{
    /* ?1 = raw cutoff, ?2 = roll-up cutoff, ?3 = quiet-inputs cutoff. Order matters: ticks
     * before plan_inputs (inputs are kept while a tick refers to them). Open intents are never
     * pruned with their tick: a crashed action must stay visible until resolved. */
    static const char *const sqls[] = {
        "DELETE FROM queue_samples WHERE sampled_ms < ?1",
        "DELETE FROM agents WHERE gone_ms < ?1",
        "DELETE FROM pods WHERE gone_ms < ?1",
        "DELETE FROM pvcs WHERE gone_ms < ?1",
        "DELETE FROM jobs WHERE gone_ms < ?1",
        "DELETE FROM slot_transitions WHERE at_ms < ?1",
        "DELETE FROM pool_transitions WHERE at_ms < ?1",
        "DELETE FROM azdo_connection_changes WHERE at_ms < ?1",
        "DELETE FROM ticks WHERE at_ms < ?1 AND NOT EXISTS (SELECT 1 FROM decisions d"
        " JOIN intents i USING (decision_id) WHERE d.tick_id = ticks.tick_id"
        " AND i.state IN ('pending', 'started'))",
        "DELETE FROM plan_inputs WHERE digest NOT IN (SELECT t.inputs_digest FROM ticks t"
        " WHERE t.at_ms >= ?3 OR EXISTS (SELECT 1 FROM decisions d WHERE d.tick_id = t.tick_id))",
        "DELETE FROM queue_hourly WHERE hour_ms < ?2",
        "DELETE FROM api_hourly WHERE hour_ms < ?2",
        "DELETE FROM pool_specs WHERE observed_ms < ?1 AND generation < (SELECT max(generation)"
        " FROM pool_specs p2 WHERE p2.pool_id = pool_specs.pool_id)",
        "DELETE FROM pools WHERE gone_ms < ?1 AND NOT EXISTS (SELECT 1 FROM ticks t"
        " WHERE t.pool_id = pools.pool_id)",
    };
    long total = 0;
    int rc;

    if (deleted != NULL)
        *deleted = 0;
    if (retention_days < 1)
        return err_set(err, -EINVAL, "retention must be at least 1 day, not %d", retention_days);
    rc = store_begin(s, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
        sqlite3_stmt *st;
        rc = store_stmt(s, sqls[i], &st, err);
        if (rc < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, now_ms - (int64_t)retention_days * DAY_MS);
        sqlite3_bind_int64(st, 2, now_ms - (int64_t)STORE_ROLLUP_KEEP_DAYS * DAY_MS);
        sqlite3_bind_int64(st, 3, now_ms - STORE_QUIET_INPUTS_KEEP_MS);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = store_sqlite_err(store_db(s), err, "cannot prune");
            sqlite3_reset(st);
            goto fail;
        }
        sqlite3_reset(st);
        total += sqlite3_changes(store_db(s));
    }
    rc = store_commit(s, err);
    if (rc < 0)
        goto fail;
    if (deleted != NULL)
        *deleted = total;
    return 0;
fail:
    store_rollback(s);
    return rc;
}
