/* cmd_replay.c - `azdo-operator replay`: re-run the planner over recorded ticks.
 * Exit 0 and "N ticks replayed, 0 differ" when every decision matches; 1 when any differs (each
 * difference is printed) or the database cannot be read; 2 on a usage error. */
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include "plan/replay.h"
#include "store/store.h"

int cmd_replay(int argc, char **argv)
{
    const char *path = STORE_DEFAULT_PATH;
    char ns[256] = "", name[256] = "";
    bool verbose = false, have_pool = false;
    struct store *s = NULL;
    struct err err = {0};
    struct replay_report rep;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            path = argv[i] + 5;
        } else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc) {
            const char *v = argv[++i], *slash = strchr(v, '/');
            if (slash == NULL || slash == v || slash[1] == '\0' ||
                (size_t)(slash - v) >= sizeof(ns) || strlen(slash + 1) >= sizeof(name)) {
                fprintf(stderr, "azdo-operator replay: --pool wants NAMESPACE/NAME\n");
                return 2;
            }
            snprintf(ns, sizeof(ns), "%.*s", (int)(slash - v), v);
            snprintf(name, sizeof(name), "%s", slash + 1);
            have_pool = true;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: azdo-operator replay [--db FILE] [--pool NS/NAME] [--verbose]\n"
                   "Re-runs the planner over every recorded tick and reports decisions that"
                   " differ\n(default --db %s).\n", STORE_DEFAULT_PATH);
            return 0;
        } else {
            fprintf(stderr, "azdo-operator replay: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (store_open(path, STORE_READONLY, &s, &err) < 0) {
        fprintf(stderr, "azdo-operator replay: %s\n", err.msg);
        return 1;
    }
    struct pool_key key = {ns, name};
    if (plan_replay(s, have_pool ? &key : NULL, stdout, verbose, &rep, &err) < 0) {
        fprintf(stderr, "azdo-operator replay: %s\n", err.msg);
        store_close(s);
        return 1;
    }
    store_close(s);
    printf("%ld ticks replayed, %ld differ", rep.ticks, rep.differ);
    if (rep.skipped > 0)
        printf(" (%ld ticks without stored inputs skipped)", rep.skipped);
    printf("\n");
    return rep.differ > 0 ? 1 : 0;
}
