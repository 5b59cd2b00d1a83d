/* azdo_ops.h - the Azure DevOps side of a pool: polling, and the agent actions act.c needs.
 *
 * Each call reads the pool's PAT (struct op_pool.pat, memory only) and hands it to the client;
 * a pool whose PAT is not known yet gets -EACCES. Callbacks run once, on a later loop turn, with
 * 0 or a negative errno and a message fit for the database (never a token). */
#ifndef AZDO_OPERATOR_AZDO_OPS_H
#define AZDO_OPERATOR_AZDO_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "operator/operator.h"

typedef void (*op_azdo_done_cb)(int rc, const char *msg, void *cb_data);

int op_azdo_set_enabled(struct op_pool *p, int64_t agent_id, bool enabled, op_azdo_done_cb done,
                        void *cb_data, struct err *err);
int op_azdo_delete_agent(struct op_pool *p, int64_t agent_id, op_azdo_done_cb done,
                         void *cb_data, struct err *err);
/* Registers the offline placeholder 'name' advertising capability 'cap_key' ("" = none). */
int op_azdo_register_placeholder(struct op_pool *p, const char *name, const char *cap_key,
                                 op_azdo_done_cb done, void *cb_data, struct err *err);

#endif
