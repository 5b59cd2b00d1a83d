/* cmd_replay.c - placeholder until the planner lands. */
#include "cmds.h"

#include <stdio.h>

int cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "azdo-operator replay: not implemented yet\n");
    return 1;
}
