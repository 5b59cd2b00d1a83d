/* servers.h - webhook, health and metrics servers of the running operator (servers.c). */
#ifndef AZDO_OPERATOR_SERVERS_H
#define AZDO_OPERATOR_SERVERS_H

#include "operator/operator.h"

/* Starts what the flags ask for (a port of 0 disables a server). 0, or negative errno. */
int op_servers_start(struct op *op, struct err *err);

/* Stops and frees both servers and the certificate store. Safe when nothing was started. */
void op_servers_stop(struct op *op);

#endif
