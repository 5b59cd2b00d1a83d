/* cmd_migrate.c - `azdo-operator migrate`: apply pending migrations and exit. */
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"

int cmd_migrate(int argc, char **argv)
{
    const char *db = STORE_DEFAULT_PATH;
    struct store *s = NULL;
    struct err err = {0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            db = argv[i] + 5;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: azdo-operator migrate [--db FILE]\n"
                   "Applies pending schema migrations (default --db %s).\n", STORE_DEFAULT_PATH);
            return 0;
        } else {
            fprintf(stderr, "azdo-operator migrate: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (store_open(db, 0, &s, &err) < 0) {
        fprintf(stderr, "azdo-operator migrate: %s\n", err.msg);
        return 1;
    }
    printf("%s: schema version %d\n", db, store_schema_version(s));
    store_close(s);
    return 0;
}
