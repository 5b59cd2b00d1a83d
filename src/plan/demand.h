/* demand.h - reading Azure DevOps job demands ("name" or "name -opcode value").
 *
 * NOTE: src/azdo/demand.c (the Azure DevOps client) has its own parser for the wire format; this
 * one exists so the store and planner do not depend on the client. Both follow the server's
 * grammar: NAME has no whitespace; an opcode starts with '-' and is followed by whitespace and a
 * value. Only the name matters for routing. */
#ifndef AZDO_PLAN_DEMAND_H
#define AZDO_PLAN_DEMAND_H

#include <stddef.h>

#include "err.h"

/* Extracts the capability name a demand asks for, lowercased, into key[key_len].
 * Returns 1 with a key, 0 when the demand is ignored for routing (Agent.Version, which the
 * service adds to every job), or -EINVAL when the text is not a demand. */
int plan_demand_key(const char *demand, char *key, size_t key_len);

/* From a JSON array of demand strings, makes a JSON array of the routing keys: sorted, without
 * duplicates, Agent.Version dropped. Malformed elements are skipped. *out is new (free()).
 * NULL or "" input means no demands ("[]"). Returns 0, -EINVAL if the text is not a JSON array,
 * -ENOMEM. */
int plan_demand_keys_json(const char *demands_json, char **out, struct err *err);

#endif
