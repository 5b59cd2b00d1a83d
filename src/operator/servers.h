/* servers.h - webhook, health and metrics servers of the running operator (servers.c). */
#ifndef AZDO_OPERATOR_SERVERS_H
#define AZDO_OPERATOR_SERVERS_H

#include "operator/operator.h"

/* Starts what the flags ask for (a port of 0 disables a server). 0, or negative errno. */
int op_servers_start(struct op *op, struct err *err);

/* Stops and frees both servers and the certificate store. Safe when nothing was started. */
void op_servers_stop(struct op *op);

/* Metrics feed (metrics_feed.c): start after op_servers_start; stop before the HTTP client goes.
 * op_metrics_error counts errors_total{kind}; op_metrics_decision decisions_total{action}. Both
 * do nothing when metrics are off. */
void op_metrics_start(struct op *op);
void op_metrics_stop(struct op *op);
void op_metrics_error(struct op *op, const char *kind);
void op_metrics_decision(struct op *op, const char *action);
/* Records how long one tick's plan() and store_record_tick() took, in seconds (the figures the
 * benchmarks read from /metrics). Does nothing when metrics are off. */
void op_metrics_tick(struct op *op, double plan_s, double write_s);

#endif
