/* store_audit.c - ticks, decisions, intents and transitions (see store_audit.h). */
#include "store/store_audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(struct store *s, sqlite3_stmt *st, struct err *err, const char *what)
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

static int insert_tick(struct store *s, const struct plan_result *r, int64_t *tick_id,
                       struct err *err)
{
    static const char inputs_sql[] =
        "INSERT OR IGNORE INTO plan_inputs (digest, inputs_json) VALUES (?1, ?2)";
    static const char tick_sql[] =
        "INSERT INTO ticks (pool_id, at_ms, generation, inputs_digest, pool_state, waiting, idle,"
        " busy, starting, created, deleted, conditions)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, COALESCE(?12, '[]'))"
        " RETURNING tick_id";
    sqlite3_stmt *st;
    int rc = store_stmt(s, inputs_sql, &st, err);

    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, r->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->inputs_json != NULL ? r->inputs_json : "{}", -1, SQLITE_STATIC);
    rc = run(s, st, err, "cannot record planner inputs");
    if (rc < 0)
        return rc;
    rc = store_stmt(s, tick_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, r->pool_id);
    sqlite3_bind_int64(st, 2, r->now_ms);
    sqlite3_bind_int64(st, 3, r->generation);
    sqlite3_bind_text(st, 4, r->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->pool_state, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, r->counts.waiting);
    sqlite3_bind_int(st, 7, r->counts.idle);
    sqlite3_bind_int(st, 8, r->counts.busy);
    sqlite3_bind_int(st, 9, r->counts.starting);
    sqlite3_bind_int(st, 10, r->counts.created);
    sqlite3_bind_int(st, 11, r->counts.deleted);
    store_bind_text_or_null(st, 12, r->conditions[0] != '\0' ? r->conditions : NULL);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, "cannot record tick");
        sqlite3_reset(st);
        return rc;
    }
    *tick_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int insert_decision(struct store *s, const struct plan_result *r, int64_t tick_id,
                           size_t seq, struct plan_action *a, struct err *err)
{
    static const char decision_sql[] =
        "INSERT INTO decisions (tick_id, pool_id, seq, action, slot_idx, cap_key, target,"
        " agent_id, pvc_template, after_prev, reason, sentence, omit_pvcs, run_once)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        " RETURNING decision_id";
    /* attempt = 1 + failures on the same target since its last success. */
    static const char intent_sql[] =
        "INSERT INTO intents (decision_id, pool_id, action, target, state, attempt, created_ms)"
        " VALUES (?1, ?2, ?3, ?4, 'pending', 1 + (SELECT count(*) FROM intents i"
        "   WHERE i.pool_id = ?2 AND i.action = ?3 AND i.target = ?4 AND i.state = 'failed'"
        "   AND i.intent_id > COALESCE((SELECT max(intent_id) FROM intents"
        "     WHERE pool_id = ?2 AND action = ?3 AND target = ?4 AND state = 'succeeded'), 0)),"
        "  ?5) RETURNING intent_id";
    sqlite3_stmt *st;
    int64_t decision_id;
    int rc = store_stmt(s, decision_sql, &st, err);

    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, tick_id);
    sqlite3_bind_int64(st, 2, r->pool_id);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    sqlite3_bind_text(st, 4, plan_kind_name(a->kind), -1, SQLITE_STATIC);
    if (a->slot < 0)
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_int(st, 5, a->slot);
    sqlite3_bind_text(st, 6, a->cap_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->target, -1, SQLITE_STATIC);
    store_bind_i64_or_null(st, 8, a->agent_id);
    store_bind_text_or_null(st, 9, a->pvc_template[0] != '\0' ? a->pvc_template : NULL);
    sqlite3_bind_int(st, 10, a->after_prev);
    sqlite3_bind_text(st, 11, a->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, a->sentence, -1, SQLITE_STATIC);
    store_bind_text_or_null(st, 13, a->omit_pvcs[0] != '\0' ? a->omit_pvcs : NULL);
    sqlite3_bind_int(st, 14, a->run_once);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, "cannot record decision");
        sqlite3_reset(st);
        return rc;
    }
    decision_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);

    rc = store_stmt(s, intent_sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, decision_id);
    sqlite3_bind_int64(st, 2, r->pool_id);
    sqlite3_bind_text(st, 3, plan_kind_name(a->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->now_ms);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, "cannot record intent");
        sqlite3_reset(st);
        return rc;
    }
    a->intent_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* Writes slot states: a transition row for every slot whose state changed (including slots
 * that appeared or disappeared), then replaces the pool's slots rows. */
static int record_slots(struct store *s, const struct plan_result *r, int64_t tick_id,
                        struct err *err)
{
    static const char changed_sql[] =
        "INSERT INTO slot_transitions (pool_id, idx, from_state, to_state, cause, at_ms, tick_id)"
        " SELECT ?1, ?2, COALESCE((SELECT state FROM slots WHERE pool_id = ?1 AND idx = ?2),"
        " 'absent'), ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM slots"
        " WHERE pool_id = ?1 AND idx = ?2 AND state = ?3)";
    static const char vanished_sql[] =
        "INSERT INTO slot_transitions (pool_id, idx, from_state, to_state, cause, at_ms, tick_id)"
        " SELECT pool_id, idx, state, 'absent', 'slot_gone', ?2, ?3 FROM slots"
        " WHERE pool_id = ?1 AND idx NOT IN (SELECT value FROM json_each(?4))";
    static const char clear_sql[] = "DELETE FROM slots WHERE pool_id = ?1"
                                    " AND idx NOT IN (SELECT value FROM json_each(?2))";
    static const char upsert_sql[] =
        "INSERT INTO slots (pool_id, idx, state, cap_key, since_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (pool_id, idx) DO UPDATE SET cap_key = excluded.cap_key,"
        " since_ms = CASE WHEN state = excluded.state THEN since_ms ELSE excluded.since_ms END,"
        " state = excluded.state";
    sqlite3_stmt *st;
    char *present = NULL;
    size_t len = 3 + r->n_slots * 12, off = 0;
    int rc = 0;

    present = malloc(len);
    if (present == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    off += (size_t)snprintf(present + off, len - off, "[");
    for (size_t i = 0; i < r->n_slots; i++)
        off += (size_t)snprintf(present + off, len - off, "%s%d", i ? "," : "", r->slots[i].idx);
    snprintf(present + off, len - off, "]");

    for (size_t i = 0; rc == 0 && i < r->n_slots; i++) {
        const struct plan_slot *sl = &r->slots[i];
        rc = store_stmt(s, changed_sql, &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, r->pool_id);
        sqlite3_bind_int(st, 2, sl->idx);
        sqlite3_bind_text(st, 3, sl->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, sl->cause, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->now_ms);
        sqlite3_bind_int64(st, 6, tick_id);
        rc = run(s, st, err, "cannot record slot transition");
    }
    if (rc == 0)
        rc = store_stmt(s, vanished_sql, &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, r->pool_id);
        sqlite3_bind_int64(st, 2, r->now_ms);
        sqlite3_bind_int64(st, 3, tick_id);
        sqlite3_bind_text(st, 4, present, -1, SQLITE_STATIC);
        rc = run(s, st, err, "cannot record slot transition");
    }
    if (rc == 0)
        rc = store_stmt(s, clear_sql, &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, r->pool_id);
        sqlite3_bind_text(st, 2, present, -1, SQLITE_STATIC);
        rc = run(s, st, err, "cannot record slots");
    }
    for (size_t i = 0; rc == 0 && i < r->n_slots; i++) {
        const struct plan_slot *sl = &r->slots[i];
        rc = store_stmt(s, upsert_sql, &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, r->pool_id);
        sqlite3_bind_int(st, 2, sl->idx);
        sqlite3_bind_text(st, 3, sl->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, sl->cap_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->now_ms);
        rc = run(s, st, err, "cannot record slot");
    }
    free(present);
    return rc;
}

static int record_pool_state(struct store *s, const struct plan_result *r, int64_t tick_id,
                             struct err *err)
{
    static const char transition_sql[] =
        "INSERT INTO pool_transitions (pool_id, from_state, to_state, cause, at_ms, tick_id)"
        " SELECT pool_id, state, ?2, ?3, ?4, ?5 FROM pools WHERE pool_id = ?1 AND state <> ?2";
    static const char state_sql[] =
        "UPDATE pools SET state = ?2, state_since_ms = ?4 WHERE pool_id = ?1 AND state <> ?2";
    const char *sqls[] = {transition_sql, state_sql};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < 2; i++) {
        sqlite3_stmt *st;
        rc = store_stmt(s, sqls[i], &st, err);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, r->pool_id);
        sqlite3_bind_text(st, 2, r->pool_state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->pool_cause, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->now_ms);
        sqlite3_bind_int64(st, 5, tick_id);
        rc = run(s, st, err, "cannot record pool state");
    }
    return rc;
}

int store_record_tick(struct store *s, struct plan_result *r, int64_t *tick_id, struct err *err)
{
    bool own_txn = sqlite3_get_autocommit(store_db(s)) != 0;
    int64_t id = 0;
    int rc = 0;

    if (own_txn) {
        rc = store_begin(s, err);
        if (rc < 0)
            return rc;
    }
    rc = insert_tick(s, r, &id, err);
    for (size_t i = 0; rc == 0 && i < r->n_actions; i++)
        rc = insert_decision(s, r, id, i, &r->actions[i], err);
    if (rc == 0)
        rc = record_slots(s, r, id, err);
    if (rc == 0)
        rc = record_pool_state(s, r, id, err);
    if (own_txn) {
        if (rc == 0)
            rc = store_commit(s, err);
        if (rc < 0)
            store_rollback(s);
    }
    if (rc == 0 && tick_id != NULL)
        *tick_id = id;
    return rc;
}

int store_intent_start(struct store *s, int64_t intent_id, int64_t now_ms, struct err *err)
{
    static const char sql[] = "UPDATE intents SET state = 'started', started_ms = ?2"
                              " WHERE intent_id = ?1 AND state IN ('pending', 'started')";
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, intent_id);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = run(s, st, err, "cannot start intent");
    if (rc == 0 && sqlite3_changes(store_db(s)) == 0)
        return err_set(err, -ENOENT, "intent %lld is not open", (long long)intent_id);
    return rc;
}

int store_intent_finish(struct store *s, int64_t intent_id, enum intent_outcome outcome,
                        const char *error, int64_t now_ms, struct err *err)
{
    static const char sql[] =
        "UPDATE intents SET state = ?2, ended_ms = ?3, error = ?4,"
        " started_ms = COALESCE(started_ms, CASE WHEN ?2 <> 'abandoned' THEN ?3 END)"
        " WHERE intent_id = ?1 AND state IN ('pending', 'started')";
    static const char *const names[] = {"succeeded", "failed", "abandoned"};
    sqlite3_stmt *st;
    int rc;

    if ((unsigned)outcome > INTENT_ABANDONED)
        return err_set(err, -EINVAL, "unknown intent outcome %d", (int)outcome);
    rc = store_stmt(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, intent_id);
    sqlite3_bind_text(st, 2, names[outcome], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    store_bind_text_or_null(st, 4, error);
    rc = run(s, st, err, "cannot finish intent");
    if (rc == 0 && sqlite3_changes(store_db(s)) == 0)
        return err_set(err, -ENOENT, "intent %lld is not open", (long long)intent_id);
    return rc;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

int store_open_intents(struct store *s, struct plan_action **out, size_t *n, struct err *err)
{
    static const char sql[] =
        "SELECT i.intent_id, i.attempt, p.namespace, p.name, d.action, d.slot_idx, d.cap_key,"
        " d.target, d.agent_id, d.pvc_template, d.after_prev, d.reason, d.sentence, d.omit_pvcs,"
        " d.run_once"
        " FROM intents i JOIN decisions d USING (decision_id) JOIN pools p"
        " ON p.pool_id = i.pool_id WHERE i.state IN ('pending', 'started') ORDER BY i.intent_id";
    struct plan_action *v = NULL;
    size_t cap = 0, count = 0;
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct plan_action *nv = realloc(v, ncap * sizeof(*v));
            if (nv == NULL) {
                free(v);
                sqlite3_reset(st);
                return err_set(err, -ENOMEM, "out of memory");
            }
            v = nv;
            cap = ncap;
        }
        struct plan_action *a = &v[count++];
        memset(a, 0, sizeof(*a));
        a->intent_id = sqlite3_column_int64(st, 0);
        a->attempt = sqlite3_column_int(st, 1);
        copy_col(a->ns, sizeof(a->ns), st, 2);
        copy_col(a->pool, sizeof(a->pool), st, 3);
        plan_kind_parse((const char *)sqlite3_column_text(st, 4), &a->kind);
        a->slot = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
        copy_col(a->cap_key, sizeof(a->cap_key), st, 6);
        copy_col(a->target, sizeof(a->target), st, 7);
        a->agent_id = sqlite3_column_int64(st, 8);
        copy_col(a->pvc_template, sizeof(a->pvc_template), st, 9);
        a->after_prev = sqlite3_column_int(st, 10) != 0;
        copy_col(a->reason, sizeof(a->reason), st, 11);
        copy_col(a->sentence, sizeof(a->sentence), st, 12);
        copy_col(a->omit_pvcs, sizeof(a->omit_pvcs), st, 13);
        a->run_once = sqlite3_column_int(st, 14) != 0;
    }
    if (rc != SQLITE_DONE) {
        free(v);
        rc = store_sqlite_err(store_db(s), err, "cannot list open intents");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    *out = v;
    *n = count;
    return 0;
}
