/* replay.c - re-plan recorded ticks and compare (see replay.h). */
#include "plan/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "plan/snapshot.h"

#define LINE_MAX_LEN 640

/* One decision as a comparable line. */
static void action_line(char *buf, size_t len, const char *action, const char *target, int slot,
                        const char *cap, long long agent_id, const char *reason)
{
    snprintf(buf, len, "%s %s slot=%d cap=%s agent=%lld reason=%s", action, target, slot, cap,
             agent_id, reason);
}

/* Loads the recorded decision lines of a tick; *lines is new (free each and the array). */
static int recorded_lines(struct store *s, long long tick_id, char ***lines, size_t *n,
                          struct err *err)
{
    static const char sql[] =
        "SELECT action, target, COALESCE(slot_idx, -1), cap_key, COALESCE(agent_id, 0), reason"
        " FROM decisions WHERE tick_id = ?1 ORDER BY seq";
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    *lines = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, tick_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nl = realloc(*lines, (*n + 1) * sizeof(*nl));
        char *line = malloc(LINE_MAX_LEN);
        if (nl == NULL || line == NULL) {
            free(line);
            if (nl != NULL)
                *lines = nl;
            sqlite3_reset(st);
            return err_set(err, -ENOMEM, "out of memory");
        }
        *lines = nl;
        action_line(line, LINE_MAX_LEN, (const char *)sqlite3_column_text(st, 0),
                    (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
                    (const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 4),
                    (const char *)sqlite3_column_text(st, 5));
        (*lines)[(*n)++] = line;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(store_db(s), err, "cannot read recorded decisions");
    return 0;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Re-plans one tick from its inputs; returns 1 when it differs, 0 when equal, <0 on error. */
static int replay_tick(struct store *s, long long tick_id, long long at_ms, const char *ns,
                       const char *name, const char *digest, const char *inputs, FILE *out,
                       struct err *err)
{
    struct store *scratch = NULL;
    struct pool_key key = {ns, name};
    struct plan_result r = {0};
    char **rec = NULL;
    size_t n_rec = 0;
    int differ = 0;
    int rc;

    rc = store_open(":memory:", STORE_NO_CHECK, &scratch, err);
    if (rc == 0)
        rc = plan_snapshot_load(scratch, inputs, err);
    if (rc == 0)
        rc = plan(scratch, &key, at_ms, &r, err);
    if (rc == 0)
        rc = recorded_lines(s, tick_id, &rec, &n_rec, err);
    if (rc < 0) {
        err_wrap(err, "tick %lld", tick_id);
        goto out;
    }
    if (strcmp(r.digest, digest) != 0) {
        differ = 1;
        if (out != NULL)
            fprintf(out, "tick %lld %s/%s: inputs digest %s, recorded %s\n", tick_id, ns, name,
                    r.digest, digest);
    }
    size_t n = r.n_actions > n_rec ? r.n_actions : n_rec;
    for (size_t i = 0; i < n; i++) {
        char now[LINE_MAX_LEN];
        now[0] = '\0';
        if (i < r.n_actions)
            action_line(now, sizeof(now), plan_kind_name(r.actions[i].kind), r.actions[i].target,
                        r.actions[i].slot, r.actions[i].cap_key, (long long)r.actions[i].agent_id,
                        r.actions[i].reason);
        const char *was = i < n_rec ? rec[i] : "";
        if (strcmp(now, was) != 0) {
            differ = 1;
            if (out != NULL)
                fprintf(out, "tick %lld %s/%s decision %zu: recorded '%s', replayed '%s'\n",
                        tick_id, ns, name, i, was[0] ? was : "(none)", now[0] ? now : "(none)");
        }
    }
    rc = differ;
out:
    free_lines(rec, n_rec);
    plan_result_free(&r);
    store_close(scratch);
    return rc;
}

int plan_replay(struct store *s, const struct pool_key *key, FILE *out, bool verbose,
                struct replay_report *rep, struct err *err)
{
    static const char sql[] =
        "SELECT t.tick_id, t.at_ms, p.namespace, p.name, t.inputs_digest, i.inputs_json"
        " FROM ticks t JOIN pools p USING (pool_id)"
        " LEFT JOIN plan_inputs i ON i.digest = t.inputs_digest"
        " WHERE (?1 IS NULL OR (p.namespace = ?1 AND p.name = ?2)) ORDER BY t.tick_id";
    sqlite3_stmt *st = NULL;
    int rc;

    memset(rep, 0, sizeof(*rep));
    /* Not the statement cache: replay_tick uses it while this cursor is open. */
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_err(store_db(s), err, "cannot list ticks");
    if (key != NULL) {
        sqlite3_bind_text(st, 1, key->ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long tick_id = sqlite3_column_int64(st, 0);
        const char *inputs = (const char *)sqlite3_column_text(st, 5);
        if (inputs == NULL) {
            rep->skipped++;
            continue;
        }
        int d = replay_tick(s, tick_id, sqlite3_column_int64(st, 1),
                            (const char *)sqlite3_column_text(st, 2),
                            (const char *)sqlite3_column_text(st, 3),
                            (const char *)sqlite3_column_text(st, 4), inputs, out, err);
        if (d < 0) {
            sqlite3_finalize(st);
            return d;
        }
        rep->ticks++;
        rep->differ += d;
        if (verbose && out != NULL)
            fprintf(out, "tick %lld: %s\n", tick_id, d ? "differs" : "same");
    }
    if (rc != SQLITE_DONE)
        rc = store_sqlite_err(store_db(s), err, "cannot list ticks");
    else
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}
