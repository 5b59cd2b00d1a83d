/* cmd_run.c - `azdo-operator run`: parse flags, then hand over to op_run(). */
#include <stdio.h>

#include "operator/config.h"
#include "operator/operator.h"

int cmd_run(int argc, char **argv)
{
    struct op_config cfg;
    struct err err = {0};
    int rc = op_config_parse(argc, argv, &cfg, &err);

    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "azdo-operator run: %s\n", err.msg);
        return 2;
    }
    return op_run(&cfg);
}
