/* main.c - the azdo-operator command: flags and subcommands.
 *
 *   azdo-operator run      manage RunnerPools (the operator itself)
 *   azdo-operator sql      query the state database read-only
 *   azdo-operator replay   re-run the planner over recorded ticks and report differences
 *   azdo-operator migrate  apply schema migrations and exit
 *   azdo-operator version  print the version
 *
 * Each subcommand lives in its own module; this file only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "operator/operator.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: azdo-operator <run|sql|replay|migrate|version> [options]\n"
                 "       azdo-operator <command> --help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("azdo-operator %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "sql") == 0)
        return cmd_sql(argc - 1, argv + 1);
    if (strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    fprintf(stderr, "azdo-operator: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
