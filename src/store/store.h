/* store.h - the operator's SQLite database: open, migrate, transactions, cached statements.
 *
 * One struct store wraps one connection. Opening sets the per-connection pragmas
 * (foreign_keys=ON, journal_mode=WAL, busy_timeout), runs an integrity check, and applies the
 * migrations embedded in the binary (migrations/NNNN_name.sql, generated into
 * migrations_data.c at build time), each in BEGIN IMMEDIATE ... COMMIT with PRAGMA user_version.
 * A database whose user_version is above the newest embedded migration is refused.
 *
 * Observation writes live in store_obs.h, the audit trail (ticks, decisions, intents) in
 * store_audit.h, the printer-column summary in store_status.h, retention in store_retention.h.
 * The connection is single-threaded: use it from the loop thread only. */
#ifndef AZDO_STORE_H
#define AZDO_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_DEFAULT_PATH "/var/lib/azdo-operator/state.db"
#define STORE_BUSY_TIMEOUT_MS 5000

enum store_flags {
    STORE_READONLY = 1 << 0,   /* SQLITE_OPEN_READONLY; no migration; writes fail */
    STORE_FULL_CHECK = 1 << 1, /* PRAGMA integrity_check instead of quick_check */
    STORE_NO_CHECK = 1 << 2,   /* skip the integrity check (scratch in-memory databases) */
};

/* A pool is named by namespace and name; both borrowed for the call. */
struct pool_key {
    const char *ns;
    const char *name;
};

/* One embedded migration (migrations_data.c, generated). */
struct store_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

struct store;

/* Opens (creating if needed, unless STORE_READONLY) the database at 'path' (":memory:" works)
 * and migrates it. On success *out is new: free with store_close. Returns 0, -EPROTO when the
 * database is newer than this binary or fails its integrity check, -EIO on SQLite errors. */
int store_open(const char *path, unsigned flags, struct store **out, struct err *err);

/* Finalizes cached statements and closes; accepts NULL. */
void store_close(struct store *s);

/* The connection, borrowed for the life of 's'. For store/ and plan/ code only. */
sqlite3 *store_db(struct store *s);

/* PRAGMA user_version of the open database; and the newest version embedded in the binary. */
int store_schema_version(struct store *s);
int store_latest_version(void);

/* Applies every embedded migration above user_version. *applied (may be NULL) gets the count.
 * store_open already does this for writable databases. */
int store_migrate(struct store *s, int *applied, struct err *err);

/* One transaction per batch of observations: store_begin (BEGIN IMMEDIATE), writes,
 * store_commit. store_rollback is safe to call when no transaction is open. */
int store_begin(struct store *s, struct err *err);
int store_commit(struct store *s, struct err *err);
void store_rollback(struct store *s);

/* Returns a cached prepared statement for 'sql', reset and with bindings cleared. 'sql' must be
 * a string with static storage (the cache is keyed by its address). *out is borrowed: valid
 * until store_close; do not finalize it. */
int store_stmt(struct store *s, const char *sql, sqlite3_stmt **out, struct err *err);

/* Records the SQLite error of 'db' in 'err' as "<what>: <sqlite message>"; returns -EIO. */
int store_sqlite_err(sqlite3 *db, struct err *err, const char *what);

/* Executes 'sql' (one or more statements, no parameters); returns 0 or -EIO. */
int store_exec(struct store *s, const char *sql, struct err *err);

/* Binds 'text' or NULL when 'text' is NULL; binds 'v' or NULL when 'v' is 0. */
int store_bind_text_or_null(sqlite3_stmt *st, int col, const char *text);
int store_bind_i64_or_null(sqlite3_stmt *st, int col, int64_t v);

#endif
