/* store.c - opening the database, migrations, transactions and the statement cache.
 *
 * Invariants: (1) every connection runs with foreign_keys=ON and a busy timeout; writable ones
 * in WAL mode; (2) user_version equals the number of the last migration applied, and
 * schema_migrations has one row per applied file; (3) a migration is applied entirely or not at
 * all (BEGIN IMMEDIATE ... COMMIT around the file and the version bump). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_CACHE_MAX 128

struct stmt_slot {
    const char *sql; /* static string: the cache key */
    sqlite3_stmt *stmt;
};

struct store {
    sqlite3 *db;
    bool readonly;
    struct stmt_slot cache[STMT_CACHE_MAX];
    size_t n_cached;
};

int store_sqlite_err(sqlite3 *db, struct err *err, const char *what)
{
    return err_set(err, -EIO, "%s: %s", what, db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

sqlite3 *store_db(struct store *s)
{
    return s->db;
}

int store_exec(struct store *s, const char *sql, struct err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = err_set(err, -EIO, "sqlite: %s", msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int store_bind_text_or_null(sqlite3_stmt *st, int col, const char *text)
{
    if (text == NULL)
        return sqlite3_bind_null(st, col);
    return sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
}

int store_bind_i64_or_null(sqlite3_stmt *st, int col, int64_t v)
{
    if (v == 0)
        return sqlite3_bind_null(st, col);
    return sqlite3_bind_int64(st, col, v);
}

int store_stmt(struct store *s, const char *sql, sqlite3_stmt **out, struct err *err)
{
    for (size_t i = 0; i < s->n_cached; i++) {
        if (s->cache[i].sql == sql) {
            sqlite3_reset(s->cache[i].stmt);
            sqlite3_clear_bindings(s->cache[i].stmt);
            *out = s->cache[i].stmt;
            return 0;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        return store_sqlite_err(s->db, err, "cannot prepare statement");
    /* A full cache means a statement is built at run time, which the static-key rule forbids;
     * fall back to evicting the oldest rather than failing the operator. */
    if (s->n_cached == STMT_CACHE_MAX) {
        sqlite3_finalize(s->cache[0].stmt);
        memmove(&s->cache[0], &s->cache[1], sizeof(s->cache[0]) * (STMT_CACHE_MAX - 1));
        s->n_cached--;
    }
    s->cache[s->n_cached].sql = sql;
    s->cache[s->n_cached].stmt = st;
    s->n_cached++;
    *out = st;
    return 0;
}

static int pragma_int(struct store *s, const char *sql, int *out, struct err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_err(s->db, err, "cannot read pragma");
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = store_sqlite_err(s->db, err, "cannot read pragma");
    sqlite3_finalize(st);
    return rc;
}

int store_schema_version(struct store *s)
{
    int v = -1;
    pragma_int(s, "PRAGMA user_version", &v, NULL);
    return v;
}

int store_latest_version(void)
{
    return store_migrations_count == 0 ? 0 : store_migrations[store_migrations_count - 1].version;
}

/* quick_check is O(pages) without cross-checking indexes, so start-up stays fast on a large
 * database; STORE_FULL_CHECK runs the complete integrity_check. */
static int check_integrity(struct store *s, bool full, struct err *err)
{
    sqlite3_stmt *st = NULL;
    const char *sql = full ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)";
    int rc = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlite_err(s->db, err, "cannot check database integrity");
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(s->db, err, "cannot check database integrity");
    } else {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (res == NULL || strcmp(res, "ok") != 0)
            rc = err_set(err, -EPROTO, "database failed its integrity check: %s",
                         res != NULL ? res : "(no result)");
    }
    sqlite3_finalize(st);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int apply_migration(struct store *s, const struct store_migration *m, struct err *err)
{
    static const char record_sql[] =
        "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)";
    char pragma[64];
    sqlite3_stmt *st = NULL;
    int rc;

    rc = store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return err_wrap(err, "cannot start migration %04d_%s", m->version, m->name);
    rc = store_exec(s, m->sql, err);
    if (rc < 0) {
        err_wrap(err, "migration %04d_%s failed", m->version, m->name);
        goto fail;
    }
    if (sqlite3_prepare_v2(s->db, record_sql, -1, &st, NULL) != SQLITE_OK) {
        rc = store_sqlite_err(s->db, err, "cannot record migration");
        goto fail;
    }
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, wall_ms());
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = store_sqlite_err(s->db, err, "cannot record migration");
        goto fail;
    }
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
    rc = store_exec(s, pragma, err);
    if (rc < 0)
        goto fail;
    rc = store_exec(s, "COMMIT", err);
    if (rc < 0)
        goto fail;
    sqlite3_finalize(st);
    return 0;

fail:
    sqlite3_finalize(st);
    store_exec(s, "ROLLBACK", NULL);
    return rc;
}

int store_migrate(struct store *s, int *applied, struct err *err)
{
    int version = store_schema_version(s);
    int latest = store_latest_version();
    int n = 0;

    if (applied != NULL)
        *applied = 0;
    if (version < 0)
        return store_sqlite_err(s->db, err, "cannot read schema version");
    if (version > latest)
        return err_set(err, -EPROTO,
                       "database schema version %d is newer than this binary's %d: "
                       "run a newer azdo-operator or restore an older database",
                       version, latest);
    for (size_t i = 0; i < store_migrations_count; i++) {
        if (store_migrations[i].version <= version)
            continue;
        int rc = apply_migration(s, &store_migrations[i], err);
        if (rc < 0)
            return rc;
        n++;
    }
    if (applied != NULL)
        *applied = n;
    return 0;
}

int store_open(const char *path, unsigned flags, struct store **out, struct err *err)
{
    struct store *s = NULL;
    int oflags = (flags & STORE_READONLY) ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return err_set(err, -ENOMEM, "cannot open database '%s': out of memory", path);
    s->readonly = (flags & STORE_READONLY) != 0;
    if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = err_set(err, -EIO, "cannot open database '%s': %s", path,
                     s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    rc = store_exec(s, "PRAGMA foreign_keys = ON", err);
    if (rc == 0 && !s->readonly)
        rc = store_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", err);
    if (rc == 0 && !(flags & STORE_NO_CHECK))
        rc = check_integrity(s, (flags & STORE_FULL_CHECK) != 0, err);
    if (rc < 0) {
        err_wrap(err, "cannot open database '%s'", path);
        goto fail;
    }
    if (s->readonly) {
        /* Reading an older schema is allowed (sql on an old file); a newer one is not, since
         * views and columns may mean something this binary does not know. */
        if (store_schema_version(s) > store_latest_version()) {
            rc = err_set(err, -EPROTO,
                         "database '%s' has schema version %d, newer than this binary's %d", path,
                         store_schema_version(s), store_latest_version());
            goto fail;
        }
    } else {
        rc = store_migrate(s, NULL, err);
        if (rc < 0) {
            err_wrap(err, "cannot open database '%s'", path);
            goto fail;
        }
    }
    *out = s;
    return 0;

fail:
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_cached; i++)
        sqlite3_finalize(s->cache[i].stmt);
    sqlite3_close(s->db);
    free(s);
}

int store_begin(struct store *s, struct err *err)
{
    return store_exec(s, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *s, struct err *err)
{
    return store_exec(s, "COMMIT", err);
}

void store_rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        store_exec(s, "ROLLBACK", NULL);
}
