/* parse.h - Azure DevOps response bodies (jansson) into plain structs.
 *
 * Shapes follow the reference (sections 3-5, 11): lists come wrapped as {"count":N,"value":[...]};
 * unset fields are usually omitted and sometimes null, and both read as "absent"; unknown fields
 * are ignored; a leading UTF-8 BOM is skipped. A body that is not the expected shape fails with
 * -EINVAL and a message naming the place, e.g. "agents: value[3].id: expected an integer".
 * Times are Unix milliseconds, 0 meaning absent (.NET's DateTime.MinValue, year 1, reads as
 * absent too). All strings in the structs are owned by the struct. */
#ifndef AZDO_AZDO_PARSE_H
#define AZDO_AZDO_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "azdo/demand.h"
#include "err.h"

/* Parses 'body' as JSON after skipping a UTF-8 BOM. New reference, or NULL with -EINVAL in
 * 'err' naming 'what' (e.g. "agents"). */
json_t *azdo_json_load(const char *body, size_t len, const char *what, struct err *err);

/* ---- pools ---- */

/* Finds the pool called 'pool_name' (case-insensitive) in a pools list answer. 0 with the id;
 * -ENOENT when the list has none (HTTP 200 with an empty list is how the service says "no such
 * pool"); -ENOTUNIQ when several match; -EINVAL for a malformed body. */
int azdo_parse_pool_id(const char *body, size_t len, const char *pool_name, int64_t *pool_id,
                       struct err *err);

/* ---- agents ---- */

enum azdo_agent_status {
    AZDO_AGENT_STATUS_UNKNOWN = 0, /* absent or a value this code does not know */
    AZDO_AGENT_ONLINE,
    AZDO_AGENT_OFFLINE,
};

struct azdo_agent {
    int64_t id;
    char *name;
    char *version; /* NULL when absent */
    bool enabled;  /* absent reads as true, the service's default */
    enum azdo_agent_status status;
    int64_t created_ms;
    int64_t status_changed_ms;   /* last online/offline flip */
    bool has_caps;               /* capabilities were in the answer (includeCapabilities=true) */
    struct azdo_caps caps;       /* system then user capabilities; user ones win on a clash */
    int64_t assigned_request_id; /* non-zero: busy. Only meaningful when the request asked for
                                  * includeAssignedRequest=true */
    int64_t last_request_id;     /* lastCompletedRequest.requestId, 0 when absent */
    int64_t last_finish_ms;      /* lastCompletedRequest.finishTime: the start of idle time */
};

struct azdo_agent_list {
    struct azdo_agent *items; /* owned */
    size_t len;
};

/* Parses an agents list answer into '*out' (new: azdo_agent_list_free()). Required per agent:
 * integer "id" and string "name"; everything else is optional. On failure '*out' is empty. */
int azdo_parse_agents(const char *body, size_t len, struct azdo_agent_list *out, struct err *err);

/* Parses a single agent object (GET/PATCH/POST of one agent) into '*out' (new:
 * azdo_agent_clear()). */
int azdo_parse_agent(const char *body, size_t len, struct azdo_agent *out, struct err *err);

/* Reads one agent from an already-parsed object; 'path' prefixes error messages. */
int azdo_agent_from_json(const json_t *obj, const char *path, struct azdo_agent *out,
                         struct err *err);

void azdo_agent_clear(struct azdo_agent *a);          /* frees members; accepts NULL */
void azdo_agent_list_free(struct azdo_agent_list *l); /* frees items, empties; accepts NULL */

/* ---- job requests ---- */

enum azdo_job_result {
    AZDO_RESULT_NONE = 0, /* unfinished (no "result") */
    AZDO_RESULT_SUCCEEDED,
    AZDO_RESULT_SUCCEEDED_WITH_ISSUES,
    AZDO_RESULT_FAILED,
    AZDO_RESULT_CANCELED,
    AZDO_RESULT_SKIPPED,
    AZDO_RESULT_ABANDONED,
    AZDO_RESULT_OTHER, /* a result string this code does not know: still finished */
};

/* Derived as the reference's "Deriving state" table says. */
enum azdo_job_state {
    AZDO_JOB_QUEUED,   /* no result, no assignTime, no reservedAgent: waiting for an agent */
    AZDO_JOB_ASSIGNED, /* reserved for an agent that has not picked it up yet */
    AZDO_JOB_RUNNING,  /* receiveTime set, unfinished */
    AZDO_JOB_FINISHED, /* result set */
};

struct azdo_job {
    int64_t request_id;
    char **demands; /* owned strings, as sent ("java", "Agent.OS -equals Linux") */
    size_t demand_count;
    int64_t queue_ms, assign_ms, receive_ms, finish_ms, locked_until_ms;
    enum azdo_job_result result;
    int64_t reserved_agent_id; /* 0 when none */
    char *reserved_agent_name; /* NULL when none */
    int matched_agents;        /* length of matchedAgents, -1 when absent */
    bool matches_all_agents;   /* matchesAllAgentsInPool */
    char *definition_name;     /* the pipeline ("definition.name"), NULL when absent */
    char *owner_name;          /* the run ("owner.name", e.g. a build number), or NULL */
};

struct azdo_job_list {
    struct azdo_job *items; /* owned */
    size_t len;
};

/* Parses a jobrequests answer into '*out' (new: azdo_job_list_free()). Required per request:
 * integer "requestId"; "demands", when present, must be an array of strings. */
int azdo_parse_jobs(const char *body, size_t len, struct azdo_job_list *out, struct err *err);

enum azdo_job_state azdo_job_state(const struct azdo_job *job);

/* "succeeded", "failed", ... or "" for AZDO_RESULT_NONE. Static string. */
const char *azdo_job_result_name(enum azdo_job_result r);

void azdo_job_list_free(struct azdo_job_list *l); /* frees items, empties; accepts NULL */

/* ---- error bodies (section 11) ---- */

/* Copies "typeKey" and "message" of a JSON error body into the buffers (either may be NULL);
 * each is "" when absent. Any other shape leaves both "". Never fails. */
void azdo_parse_error_body(const char *body, size_t len, char *type_key, size_t type_key_size,
                           char *message, size_t message_size);

#endif
