/* cmd_sql.c - `azdo-operator sql`: read-only queries against the state database.
 *
 * The database is opened with SQLITE_OPEN_READONLY, and each statement is also checked with
 * sqlite3_stmt_readonly() first, so a write is refused with a clear message before SQLite
 * would reject it. Output: an aligned table (NULL printed as empty), --json (an array of
 * objects, typed values) or --csv (RFC 4180 quoting, header row). */
#include "cmds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

enum out_format { OUT_TABLE, OUT_JSON, OUT_CSV };

struct table {
    int ncols;
    char **cells; /* row-major, header first; NULL-safe strings */
    size_t nrows; /* including the header */
    size_t cap;
};

static void print_csv_cell(const char *v)
{
    if (v == NULL)
        return;
    if (strpbrk(v, ",\"\r\n") == NULL) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '"')
            putchar('"');
        putchar(*p);
    }
    putchar('"');
}

static json_t *column_json(sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, c));
    case SQLITE_NULL: return json_null();
    default: return json_string((const char *)sqlite3_column_text(st, c));
    }
}

/* Collects rows as strings for the aligned table; returns 0 or -1 on allocation failure. */
static int collect(struct table *t, sqlite3_stmt *st, int rc_row)
{
    (void)rc_row;
    size_t need = (t->nrows + 1) * (size_t)t->ncols;
    if (need > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : (size_t)t->ncols * 16;
        while (ncap < need)
            ncap *= 2;
        char **nc = realloc(t->cells, ncap * sizeof(*nc));
        if (nc == NULL)
            return -1;
        t->cells = nc;
        t->cap = ncap;
    }
    for (int c = 0; c < t->ncols; c++) {
        const char *v = st != NULL ? (const char *)sqlite3_column_text(st, c) : NULL;
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = strdup(v != NULL ? v : "");
    }
    t->nrows++;
    return 0;
}

static void print_table(const struct table *t)
{
    size_t *w = calloc((size_t)t->ncols, sizeof(*w));
    if (w == NULL)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *v = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t len = v != NULL ? strlen(v) : 0;
            if (len > w[c])
                w[c] = len;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *v = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                printf("%s\n", v != NULL ? v : "");
            else
                printf("%-*s  ", (int)w[c], v != NULL ? v : "");
        }
        if (r == 0) {
            for (int c = 0; c < t->ncols; c++) {
                for (size_t k = 0; k < w[c]; k++)
                    putchar('-');
                fputs(c == t->ncols - 1 ? "\n" : "  ", stdout);
            }
        }
    }
    free(w);
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Runs one prepared statement and prints its rows; returns 0 or 1. */
static int run_statement(sqlite3 *db, sqlite3_stmt *st, enum out_format fmt)
{
    int ncols = sqlite3_column_count(st);
    struct table t = {.ncols = ncols};
    json_t *arr = fmt == OUT_JSON ? json_array() : NULL;
    int rc, status = 0;

    if (fmt == OUT_CSV && ncols > 0) {
        for (int c = 0; c < ncols; c++) {
            if (c > 0)
                putchar(',');
            print_csv_cell(sqlite3_column_name(st, c));
        }
        putchar('\n');
    }
    if (fmt == OUT_TABLE && ncols > 0) {
        collect(&t, NULL, 0);
        for (int c = 0; c < ncols; c++) {
            free(t.cells[c]);
            t.cells[c] = strdup(sqlite3_column_name(st, c));
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fmt == OUT_CSV) {
            for (int c = 0; c < ncols; c++) {
                if (c > 0)
                    putchar(',');
                print_csv_cell((const char *)sqlite3_column_text(st, c));
            }
            putchar('\n');
        } else if (fmt == OUT_JSON) {
            json_t *row = json_object();
            for (int c = 0; c < ncols; c++)
                json_object_set_new(row, sqlite3_column_name(st, c), column_json(st, c));
            json_array_append_new(arr, row);
        } else if (collect(&t, st, rc) < 0) {
            fprintf(stderr, "azdo-operator sql: out of memory\n");
            status = 1;
            break;
        }
    }
    if (status == 0 && rc != SQLITE_DONE) {
        fprintf(stderr, "azdo-operator sql: %s\n", sqlite3_errmsg(db));
        status = 1;
    }
    if (fmt == OUT_TABLE && ncols > 0 && status == 0)
        print_table(&t);
    if (fmt == OUT_JSON && status == 0 && ncols > 0) {
        char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
    }
    json_decref(arr);
    table_free(&t);
    return status;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: azdo-operator sql [--db FILE] [--json | --csv] 'SELECT ...'\n"
                 "Queries the state database read-only (default --db %s).\n"
                 "Views: v_scaling_history, v_decision_log, v_agent_lifetimes, v_queue_wait,\n"
                 "       v_failed_actions, v_pool_connection_history, v_api_calls_hourly,\n"
                 "       v_slot_history, v_pvc_history\n",
            STORE_DEFAULT_PATH);
}

int cmd_sql(int argc, char **argv)
{
    const char *path = STORE_DEFAULT_PATH, *query = NULL;
    enum out_format fmt = OUT_TABLE;
    struct store *s = NULL;
    struct err err = {0};
    int status = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            path = argv[i] + 5;
        } else if (strcmp(argv[i], "--json") == 0) {
            fmt = OUT_JSON;
        } else if (strcmp(argv[i], "--csv") == 0) {
            fmt = OUT_CSV;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "azdo-operator sql: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (query == NULL) {
            query = argv[i];
        } else {
            fprintf(stderr, "azdo-operator sql: give the query as one argument\n");
            return 2;
        }
    }
    if (query == NULL) {
        usage(stderr);
        return 2;
    }
    if (store_open(path, STORE_READONLY, &s, &err) < 0) {
        fprintf(stderr, "azdo-operator sql: %s\n", err.msg);
        return 1;
    }
    sqlite3 *db = store_db(s);
    const char *rest = query;
    while (status == 0 && rest != NULL && *rest != '\0') {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, rest, -1, &st, &tail) != SQLITE_OK) {
            fprintf(stderr, "azdo-operator sql: %s\n", sqlite3_errmsg(db));
            status = 1;
            break;
        }
        rest = tail;
        if (st == NULL) /* whitespace or a comment */
            continue;
        if (!sqlite3_stmt_readonly(st)) {
            fprintf(stderr, "azdo-operator sql: refusing a statement that writes; the database "
                            "is opened read-only\n");
            status = 1;
        } else {
            status = run_statement(db, st, fmt);
        }
        sqlite3_finalize(st);
    }
    store_close(s);
    return status;
}
