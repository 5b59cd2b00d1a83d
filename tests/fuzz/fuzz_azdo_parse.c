/* fuzz_azdo_parse.c - libFuzzer target for Azure DevOps response bodies (src/azdo/parse.h).
 *
 * Every input is offered to each parser the client runs on an answer: the pools list, the agents
 * list, one agent, the job requests list and an error body. Then, as the poller does, parsed
 * agents and jobs go through op_map_agents/op_map_jobs (src/operator/obs_map.h) and the demand
 * matcher, and the mapped demands through the planner's key reader that store_observe_jobs
 * uses. Promises checked beyond the sanitizers' (parse.h): a failed parse leaves its output
 * empty; a parsed agent has a name, a parsed job's demands are strings; error-body fields are
 * always terminated, even in small buffers; the demands text op_map_jobs makes is a JSON array. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/demand.h"
#include "azdo/parse.h"
#include "fuzz.h"
#include "operator/obs_map.h"
#include "plan/demand.h"

static void check_err(const struct err *err, int rc)
{
    FUZZ_CHECK(fuzz_terminated(err->msg, sizeof(err->msg)));
    FUZZ_CHECK(rc == 0 || err->msg[0] != '\0');
}

static void fuzz_agents(const char *body, size_t len)
{
    struct azdo_agent_list list = {0};
    struct err err = {0};
    int rc = azdo_parse_agents(body, len, &list, &err);

    check_err(&err, rc);
    if (rc != 0) {
        FUZZ_CHECK(list.items == NULL && list.len == 0);
        return;
    }
    for (size_t i = 0; i < list.len; i++) {
        FUZZ_CHECK(list.items[i].name != NULL);
        for (size_t c = 0; c < list.items[i].caps.len; c++)
            FUZZ_CHECK(list.items[i].caps.items[c].name != NULL &&
                       list.items[i].caps.items[c].value != NULL);
    }
    if (list.len > 0) {
        struct obs_agent *obs = calloc(list.len, sizeof(*obs));
        char **caps = calloc(list.len, sizeof(*caps));

        FUZZ_CHECK(obs != NULL && caps != NULL);
        op_map_agents(&list, obs, caps);
        for (size_t i = 0; i < list.len; i++) {
            json_t *c = caps[i] != NULL ? json_loads(caps[i], 0, NULL) : NULL;

            FUZZ_CHECK(list.items[i].has_caps == (caps[i] != NULL));
            FUZZ_CHECK(caps[i] == NULL || json_is_object(c));
            json_decref(c);
        }
        op_free_agent_caps(caps, list.len);
        free(caps);
        free(obs);
    }
    azdo_agent_list_free(&list);
    FUZZ_CHECK(list.items == NULL && list.len == 0);
}

static void fuzz_agent(const char *body, size_t len)
{
    struct azdo_agent agent;
    struct err err = {0};
    int rc;

    memset(&agent, 0xA5, sizeof(agent)); /* the parser must not read what it was given */
    rc = azdo_parse_agent(body, len, &agent, &err);
    check_err(&err, rc);
    if (rc == 0)
        FUZZ_CHECK(agent.name != NULL);
    else
        FUZZ_CHECK(agent.name == NULL && agent.version == NULL && agent.caps.items == NULL);
    azdo_agent_clear(&agent);
}

/* The jobs as the poller sees them: mapped for the store, then keyed as the planner does, and
 * matched against the agents of the same body (any shape is fine for the matcher). */
static void fuzz_jobs(const char *body, size_t len)
{
    struct azdo_job_list list = {0};
    struct err err = {0};
    int rc = azdo_parse_jobs(body, len, &list, &err);

    check_err(&err, rc);
    if (rc != 0) {
        FUZZ_CHECK(list.items == NULL && list.len == 0);
        return;
    }
    if (list.len > 0) {
        struct obs_job *obs = calloc(list.len, sizeof(*obs));
        char **demands = calloc(list.len, sizeof(*demands));
        struct azdo_caps caps = {0};

        FUZZ_CHECK(obs != NULL && demands != NULL);
        FUZZ_CHECK(azdo_caps_set(&caps, "Agent.OS", "Linux", false) == 0);
        FUZZ_CHECK(azdo_caps_set(&caps, "java", "", true) == 0);
        op_map_jobs(&list, obs, demands);
        for (size_t i = 0; i < list.len; i++) {
            const struct azdo_job *j = &list.items[i];
            char *keys = NULL;
            struct err kerr = {0};
            enum azdo_job_state st = azdo_job_state(j);

            FUZZ_CHECK(st >= AZDO_JOB_QUEUED && st <= AZDO_JOB_FINISHED);
            FUZZ_CHECK(azdo_job_result_name(j->result) != NULL);
            for (size_t d = 0; d < j->demand_count; d++)
                FUZZ_CHECK(j->demands[d] != NULL);
            FUZZ_CHECK(demands[i] != NULL);
            FUZZ_CHECK(plan_demand_keys_json(demands[i], &keys, &kerr) == 0);
            free(keys);
            (void)demands_satisfied((const char *const *)j->demands, j->demand_count, &caps);
        }
        op_free_agent_caps(demands, list.len);
        free(demands);
        free(obs);
        azdo_caps_clear(&caps);
    }
    azdo_job_list_free(&list);
}

static void fuzz_pool_id(const char *body, size_t len)
{
    static const char *const names[] = {"my-pool", "MY-POOL", ""};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct err err = {0};
        int64_t id = -1;
        int rc = azdo_parse_pool_id(body, len, names[i], &id, &err);

        check_err(&err, rc);
        FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT || rc == -ENOTUNIQ);
        FUZZ_CHECK(rc == 0 || id == 0);
    }
}

static void fuzz_error_body(const char *body, size_t len)
{
    char type_key[8], message[16], big_key[64], big_message[256];

    memset(type_key, 'x', sizeof(type_key));
    memset(message, 'x', sizeof(message));
    azdo_parse_error_body(body, len, type_key, sizeof(type_key), message, sizeof(message));
    FUZZ_CHECK(fuzz_terminated(type_key, sizeof(type_key)));
    FUZZ_CHECK(fuzz_terminated(message, sizeof(message)));
    azdo_parse_error_body(body, len, big_key, sizeof(big_key), big_message, sizeof(big_message));
    /* A small buffer holds a prefix of what a big one holds. */
    FUZZ_CHECK(strncmp(type_key, big_key, strlen(type_key)) == 0);
    FUZZ_CHECK(strncmp(message, big_message, strlen(message)) == 0);
    azdo_parse_error_body(body, len, NULL, 0, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Bodies are not NUL-terminated on the wire: pass an exact-size copy so ASan sees any read
     * past the end. */
    char *body = malloc(size > 0 ? size : 1);

    FUZZ_CHECK(body != NULL);
    if (size > 0)
        memcpy(body, data, size);
    fuzz_pool_id(body, size);
    fuzz_agents(body, size);
    fuzz_agent(body, size);
    fuzz_jobs(body, size);
    fuzz_error_body(body, size);
    free(body);
    return 0;
}
