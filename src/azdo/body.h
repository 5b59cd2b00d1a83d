/* body.h - JSON request bodies the client sends (pure builders, unit-tested). */
#ifndef AZDO_AZDO_BODY_H
#define AZDO_AZDO_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "azdo/demand.h"
#include "err.h"

/* PATCH agents/{id}: {"id":<id>,"enabled":<bool>}, a partial TaskAgent as
 * application/json (not JSON-Patch). '*out' is new (free()). 0 or -ENOMEM. */
int azdo_body_agent_enabled(int64_t agent_id, bool enabled, char **out, struct err *err);

/* POST pools/{id}/agents: a TaskAgent the way config.sh creates one, for an offline placeholder:
 *   {"name", "version", "osDescription", "enabled": true, "maxParallelism": 1,
 *    "provisioningState": "Provisioned",
 *    "authorization": {"publicKey": {"exponent": <base64>, "modulus": <base64>}},
 *    "systemCapabilities": {"Agent.Name": name, "Agent.Version": version, "Agent.OS": "Linux",
 *                           ...'caps'}}
 * The service stores the public key to authenticate the agent's future sessions, so a
 * registration carries one (config.sh sends a fresh RSA-2048 key). A placeholder never connects,
 * so one key pair is generated per process, its private half discarded at once, and its public
 * half sent with every placeholder: nobody can ever log in as a placeholder. 'version' is the agent version to advertise (jobs demand
 * "Agent.Version -gtVersion X", so a placeholder with an old version would not match);
 * 'caps' (may be NULL) go in systemCapabilities, after the built-ins, so they can override
 * Agent.OS. ASSUMPTION [U]: the service accepts a registration whose agent never connects; the
 * field set is what config.sh sends. '*out' is new (free()). 0, -ENOMEM, or -EIO if the key
 * could not be generated. */
int azdo_body_register_agent(const char *name, const char *version, const struct azdo_caps *caps,
                             char **out, struct err *err);

#endif
