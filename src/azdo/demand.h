/* demand.h - Azure Pipelines demands, agent capabilities, and matching between them.
 *
 * A job request carries demands as strings (reference section 6):
 *   "maven"                              exists: the capability is present, any value
 *   "Agent.OS -equals Linux"             equals: present and equal, case-insensitively
 *   "Agent.Version -gtVersion 3.220.0"   minimum version: capability value >= the given version
 * NAME has no whitespace; an opcode is '-' + a word followed by whitespace and a value; any
 * other opcode (e.g. "maven -exists", which has no value) is invalid, as on the server.
 *
 * Case rules: demand names and opcodes compare case-insensitively (the service keys capabilities
 * case-insensitively; ASSUMPTION, consistent with its case-insensitive demand dedup), equals
 * values compare case-insensitively (documented), versions numerically per dotted component.
 *
 * The capability set key groups jobs that ask for the same thing: see demand_set_key(). */
#ifndef AZDO_AZDO_DEMAND_H
#define AZDO_AZDO_DEMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* ---- capabilities: a small name/value list (system and user capabilities of one agent) ---- */

struct azdo_cap {
    char *name;  /* owned */
    char *value; /* owned; "" when the agent advertised an empty value */
    bool user;   /* from userCapabilities (set in the UI) rather than systemCapabilities */
};

struct azdo_caps {
    struct azdo_cap *items; /* owned array */
    size_t len;
    size_t cap;
};

/* Appends a copy of 'name' = 'value' (NULL value reads as ""). A later entry with the same name
 * (case-insensitively) replaces the earlier one's value, so user capabilities added after system
 * ones win, as they do on the service. 0 or -ENOMEM. */
int azdo_caps_set(struct azdo_caps *caps, const char *name, const char *value, bool user);

/* Borrowed value of capability 'name' (case-insensitive), or NULL when absent. */
const char *azdo_caps_get(const struct azdo_caps *caps, const char *name);

/* Frees the entries (not 'caps' itself) and empties it. Accepts NULL. */
void azdo_caps_clear(struct azdo_caps *caps);

/* ---- demands ---- */

enum demand_op {
    DEMAND_EXISTS,     /* "name" */
    DEMAND_EQUALS,     /* "name -equals value" */
    DEMAND_GT_VERSION, /* "name -gtVersion 1.2.3" (minimum version, inclusive) */
};

struct demand {
    enum demand_op op;
    char *name;  /* owned, as written */
    char *value; /* owned; NULL for DEMAND_EXISTS */
};

/* Parses one demand string. On success '*out' owns new strings (demand_clear()); on failure
 * -EINVAL with the reason in 'err' and '*out' is left empty. */
int demand_parse(const char *text, struct demand *out, struct err *err);

/* Frees what demand_parse() allocated; accepts NULL and empty demands. */
void demand_clear(struct demand *d);

/* True when 'caps' satisfies 'd'. */
bool demand_satisfied(const struct demand *d, const struct azdo_caps *caps);

/* True when 'caps' satisfies every demand string in 'demands' (an unparsable demand is never
 * satisfied, as the service would never match it either). No demands: true. */
bool demands_satisfied(const char *const *demands, size_t n, const struct azdo_caps *caps);

/* True for "Agent.Version" (any case): the demand the service injects into every job, which
 * routing ignores (field report #3). */
bool demand_is_agent_version(const char *name);

/* Compares dotted versions numerically ("3.248.0" vs "3.220.0"); missing components count as 0.
 * Returns -1, 0 or 1 in '*cmp', or -EINVAL if either is not digits and dots. */
int demand_version_cmp(const char *a, const char *b, int *cmp);

/* The canonical capability set key of a job's demands, as new JSON array text ('*out', free()):
 *   - Agent.Version demands are dropped;
 *   - each remaining demand is written in canonical form: name lowercased, opcode as
 *     "-equals"/"-gtVersion", equals values lowercased (they compare case-insensitively);
 *   - sorted (byte order) and deduplicated.
 * ["Agent.OS -equals Linux","GPU"] and ["gpu","agent.os -EQUALS linux"] give the same key
 * '["agent.os -equals linux","gpu"]'; no demands give '[]'. JSON makes the key unambiguous for
 * any value and lets SQL read it with json_each(). An unparsable demand is kept verbatim (it
 * still distinguishes the job), lowercased. 0 or -ENOMEM. */
int demand_set_key(const char *const *demands, size_t n, char **out, struct err *err);

/* Like demand_set_key() but only the lowercased capability names (sorted, deduplicated, JSON
 * array text): what the planner routes on, since "gpu -equals true" asks for key "gpu". */
int demand_set_names(const char *const *demands, size_t n, char **out, struct err *err);

#endif
