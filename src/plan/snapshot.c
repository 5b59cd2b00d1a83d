/* snapshot.c - canonical JSON of the planner's inputs, and loading it back (see snapshot.h).
 *
 * Canonical form: {"<table>": {"columns": [...], "rows": [[...], ...]}, ...} with tables in
 * snapshot_tables order, columns in schema order, rows in primary-key order, integers as JSON
 * integers, text as strings, NULL as null; printed compact with keys in insertion order. */
#include "plan/snapshot.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/rules.h"

struct snap_table {
    const char *name;
    const char *select; /* ?1 pool_id, ?2 now_ms, ?3 PLAN_HISTORY_MS, ?4 PLAN_CREATE_OBSERVE_MS */
};

/* Parents before children, so loading satisfies the foreign keys. */
static const struct snap_table snapshot_tables[] = {
    {"pools", "SELECT * FROM pools WHERE pool_id = ?1"},
    {"pool_specs", "SELECT * FROM pool_specs WHERE pool_id = ?1"
                   " AND generation = (SELECT generation FROM pools WHERE pool_id = ?1)"},
    {"agents", "SELECT * FROM agents WHERE pool_id = ?1 AND gone_ms IS NULL ORDER BY agent_id"},
    /* Gone pods too when they prove that a create still in its observe window was seen
     * (rule slot_observations, create_seen). The few such creates are collected once
     * (MATERIALIZED): as a correlated subquery the intents of the last day were scanned once
     * per pod row of the pool, which took over a minute per tick on a busy pool's day. */
    {"pods", "WITH rc AS MATERIALIZED (SELECT d.slot_idx, i.created_ms FROM intents i"
             "  JOIN decisions d USING (decision_id)"
             "  WHERE i.pool_id = ?1 AND i.created_ms >= ?2 - ?3 AND i.action = 'create_pod'"
             "  AND (i.state IN ('pending', 'started')"
             "   OR (i.state = 'succeeded' AND i.ended_ms >= ?2 - ?4)))"
             " SELECT * FROM pods p WHERE pool_id = ?1 AND (gone_ms IS NULL OR (role = 'agent'"
             " AND EXISTS (SELECT 1 FROM rc WHERE rc.slot_idx = p.idx"
             "  AND p.first_seen_ms >= rc.created_ms))) ORDER BY uid"},
    {"pvcs", "SELECT * FROM pvcs WHERE pool_id = ?1 AND gone_ms IS NULL ORDER BY uid"},
    {"jobs", "SELECT * FROM jobs WHERE pool_id = ?1 AND gone_ms IS NULL AND result IS NULL"
             " ORDER BY request_id"},
    {"slots", "SELECT * FROM slots WHERE pool_id = ?1 ORDER BY idx"},
    {"ticks", "SELECT * FROM ticks WHERE pool_id = ?1 AND at_ms >= ?2 - ?3 AND (tick_id IN"
              " (SELECT d.tick_id FROM decisions d JOIN intents i USING (decision_id)"
              "  WHERE i.pool_id = ?1 AND i.created_ms >= ?2 - ?3)"
              " OR tick_id = (SELECT max(tick_id) FROM ticks WHERE pool_id = ?1"
              "  AND at_ms >= ?2 - ?3)) ORDER BY tick_id"},
    {"decisions", "SELECT d.* FROM decisions d JOIN intents i USING (decision_id)"
                  " WHERE i.pool_id = ?1 AND i.created_ms >= ?2 - ?3 ORDER BY d.decision_id"},
    {"intents", "SELECT * FROM intents WHERE pool_id = ?1 AND created_ms >= ?2 - ?3"
                " ORDER BY intent_id"},
};
#define N_TABLES (sizeof(snapshot_tables) / sizeof(snapshot_tables[0]))

int plan_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return -EIO;
    for (unsigned i = 0; i < md_len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
    return 0;
}

static json_t *value_json(sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, c));
    case SQLITE_NULL: return json_null();
    default: return json_stringn((const char *)sqlite3_column_text(st, c),
                                 (size_t)sqlite3_column_bytes(st, c));
    }
}

static int dump_table(struct store *s, const struct snap_table *t, int64_t pool_id,
                      int64_t now_ms, json_t *root, struct err *err)
{
    json_t *cols = json_array(), *rows = json_array(), *obj = json_object();
    sqlite3_stmt *st;
    int rc = store_stmt(s, t->select, &st, err);

    if (cols == NULL || rows == NULL || obj == NULL) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(st, 1, pool_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, PLAN_HISTORY_MS);
    if (sqlite3_bind_parameter_count(st) >= 4)
        sqlite3_bind_int64(st, 4, PLAN_CREATE_OBSERVE_MS);
    for (int c = 0; c < sqlite3_column_count(st); c++)
        json_array_append_new(cols, json_string(sqlite3_column_name(st, c)));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_array();
        for (int c = 0; c < sqlite3_column_count(st); c++)
            json_array_append_new(row, value_json(st, c));
        json_array_append_new(rows, row);
    }
    if (rc != SQLITE_DONE) {
        rc = store_sqlite_err(store_db(s), err, "cannot snapshot planner inputs");
        sqlite3_reset(st);
        goto out;
    }
    sqlite3_reset(st);
    rc = 0;
    json_object_set(obj, "columns", cols);
    json_object_set(obj, "rows", rows);
    json_object_set(root, t->name, obj);
out:
    json_decref(cols);
    json_decref(rows);
    json_decref(obj);
    return rc;
}

int plan_snapshot(struct store *s, int64_t pool_id, int64_t now_ms, char **json, char digest[65],
                  struct err *err)
{
    json_t *root = json_object();
    int rc = 0;

    *json = NULL;
    if (root == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < N_TABLES; i++)
        rc = dump_table(s, &snapshot_tables[i], pool_id, now_ms, root, err);
    if (rc == 0) {
        *json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (*json == NULL)
            rc = err_set(err, -ENOMEM, "out of memory");
    }
    if (rc == 0 && plan_sha256_hex(*json, strlen(*json), digest) < 0)
        rc = err_set(err, -EIO, "cannot compute sha-256 of planner inputs");
    if (rc < 0) {
        free(*json);
        *json = NULL;
    }
    json_decref(root);
    return rc;
}

/* Column names come from a file: accept plain identifiers only, since they go into SQL text. */
static bool is_identifier(const char *n)
{
    if (n == NULL || *n == '\0')
        return false;
    for (const char *p = n; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

static int load_table(struct store *s, const char *table, json_t *obj, struct err *err)
{
    json_t *cols = json_object_get(obj, "columns"), *rows = json_object_get(obj, "rows");
    size_t ncols = json_array_size(cols), len = 64 + strlen(table);
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    int rc = 0;

    if (!json_is_array(cols) || !json_is_array(rows) || ncols == 0)
        return err_set(err, -EPROTO, "snapshot table '%s' is malformed", table);
    for (size_t c = 0; c < ncols; c++) {
        const char *n = json_string_value(json_array_get(cols, c));
        if (!is_identifier(n))
            return err_set(err, -EPROTO, "snapshot table '%s' has a bad column name", table);
        len += strlen(n) + 4;
    }
    sql = malloc(len);
    if (sql == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    size_t off = (size_t)snprintf(sql, len, "INSERT INTO %s (", table);
    for (size_t c = 0; c < ncols; c++)
        off += (size_t)snprintf(sql + off, len - off, "%s%s", c ? "," : "",
                                json_string_value(json_array_get(cols, c)));
    off += (size_t)snprintf(sql + off, len - off, ") VALUES (");
    for (size_t c = 0; c < ncols; c++)
        off += (size_t)snprintf(sql + off, len - off, "%s?", c ? "," : "");
    snprintf(sql + off, len - off, ")");
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
        rc = store_sqlite_err(store_db(s), err, "cannot load snapshot");
        rc = -EPROTO;
        goto out;
    }
    size_t r;
    json_t *row;
    json_array_foreach(rows, r, row)
    {
        sqlite3_reset(st);
        for (size_t c = 0; c < ncols; c++) {
            json_t *v = json_array_get(row, c);
            int col = (int)c + 1;
            if (json_is_integer(v))
                sqlite3_bind_int64(st, col, json_integer_value(v));
            else if (json_is_real(v))
                sqlite3_bind_double(st, col, json_real_value(v));
            else if (json_is_string(v))
                sqlite3_bind_text(st, col, json_string_value(v), (int)json_string_length(v),
                                  SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, col);
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = store_sqlite_err(store_db(s), err, "cannot load snapshot row");
            goto out;
        }
    }
out:
    sqlite3_finalize(st);
    free(sql);
    return rc;
}

int plan_snapshot_load(struct store *s, const char *json, struct err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    int rc = 0;

    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(err, -EPROTO, "snapshot is not a JSON object: %s", jerr.text);
    }
    for (size_t i = 0; rc == 0 && i < N_TABLES; i++) {
        json_t *obj = json_object_get(root, snapshot_tables[i].name);
        if (obj != NULL)
            rc = load_table(s, snapshot_tables[i].name, obj, err);
    }
    json_decref(root);
    return rc;
}
