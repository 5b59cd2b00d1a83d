/* cmds.h - subcommands implemented by the store/plan modules. Each takes the arguments after
 * the program name (argv[0] is the subcommand's name) and returns the process exit status:
 * 0 success, 1 failure or (replay) differences found, 2 usage error. */
#ifndef AZDO_CMDS_H
#define AZDO_CMDS_H

/* azdo-operator sql [--db FILE] [--json | --csv] 'SELECT ...'
 * Opens the database read-only and prints the result: an aligned table by default. */
int cmd_sql(int argc, char **argv);

/* azdo-operator replay [--db FILE] [--pool NS/NAME] [--verbose]
 * Re-runs the planner over every recorded tick whose inputs are kept and reports decisions that
 * differ. Exit 0 when none differ, 1 otherwise. */
int cmd_replay(int argc, char **argv);

/* azdo-operator migrate [--db FILE]
 * Applies pending migrations and prints the schema version. */
int cmd_migrate(int argc, char **argv);

#endif
