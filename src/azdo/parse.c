/* parse.c - response parsers (see parse.h).
 *
 * Every field is read through one of the get_* helpers below, which know the "missing or null
 * means absent" rule and produce messages naming the exact place of a shape error. */
#include "azdo/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azdo/isotime.h"

#define PATH_MAX_LEN 96

json_t *azdo_json_load(const char *body, size_t len, const char *what, struct err *err)
{
    json_error_t jerr;
    json_t *root;

    if (body == NULL)
        body = "";
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL)
        err_set(err, -EINVAL, "%s: body is not JSON: %s at line %d", what, jerr.text, jerr.line);
    return root;
}

/* A member, or NULL when missing or JSON null. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int get_int(const json_t *obj, const char *path, const char *key, bool required,
                   int64_t *out, struct err *err)
{
    json_t *v = member(obj, key);

    *out = 0;
    if (v == NULL) {
        if (required)
            return err_set(err, -EINVAL, "%s.%s: missing", path, key);
        return 0;
    }
    if (!json_is_integer(v))
        return err_set(err, -EINVAL, "%s.%s: expected an integer", path, key);
    *out = json_integer_value(v);
    return 0;
}

/* '*out' is a new copy, or NULL when absent. */
static int get_str(const json_t *obj, const char *path, const char *key, bool required, char **out,
                   struct err *err)
{
    json_t *v = member(obj, key);

    *out = NULL;
    if (v == NULL) {
        if (required)
            return err_set(err, -EINVAL, "%s.%s: missing", path, key);
        return 0;
    }
    if (!json_is_string(v))
        return err_set(err, -EINVAL, "%s.%s: expected a string", path, key);
    *out = strdup(json_string_value(v));
    if (*out == NULL)
        return err_set(err, -ENOMEM, "%s.%s: out of memory", path, key);
    return 0;
}

static int get_bool(const json_t *obj, const char *path, const char *key, bool dflt, bool *out,
                    struct err *err)
{
    json_t *v = member(obj, key);

    *out = dflt;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return err_set(err, -EINVAL, "%s.%s: expected true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int get_time(const json_t *obj, const char *path, const char *key, int64_t *out,
                    struct err *err)
{
    json_t *v = member(obj, key);
    int64_t ms;

    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || azdo_isotime_parse(json_string_value(v), &ms) < 0)
        return err_set(err, -EINVAL, "%s.%s: expected an ISO-8601 time", path, key);
    /* .NET writes an unset DateTime as 0001-01-01T00:00:00: that is "absent", not a date. */
    *out = ms > 0 ? ms : 0;
    return 0;
}

/* An optional nested object: NULL when absent, -EINVAL when present but not an object. */
static int get_obj(const json_t *obj, const char *path, const char *key, json_t **out,
                   struct err *err)
{
    json_t *v = member(obj, key);

    *out = v;
    if (v != NULL && !json_is_object(v))
        return err_set(err, -EINVAL, "%s.%s: expected an object", path, key);
    return 0;
}

/* The "value" array of a {count, value} wrapper. Borrowed. */
static int list_value(const json_t *root, const char *what, json_t **out, struct err *err)
{
    json_t *v;

    if (!json_is_object(root))
        return err_set(err, -EINVAL, "%s: expected an object with a 'value' list", what);
    v = json_object_get(root, "value");
    if (!json_is_array(v))
        return err_set(err, -EINVAL, "%s: 'value' is missing or not a list", what);
    *out = v;
    return 0;
}

/* ---- pools ---- */

int azdo_parse_pool_id(const char *body, size_t len, const char *pool_name, int64_t *pool_id,
                       struct err *err)
{
    json_t *root = azdo_json_load(body, len, "pools", err);
    json_t *value, *item;
    size_t i, found = 0;
    int rc;

    *pool_id = 0;
    if (root == NULL)
        return -EINVAL;
    rc = list_value(root, "pools", &value, err);
    if (rc < 0)
        goto out;
    json_array_foreach(value, i, item)
    {
        char path[PATH_MAX_LEN];
        const char *name;
        int64_t id;

        snprintf(path, sizeof(path), "pools: value[%zu]", i);
        if (!json_is_object(item)) {
            rc = err_set(err, -EINVAL, "%s: expected an object", path);
            goto out;
        }
        rc = get_int(item, path, "id", true, &id, err);
        if (rc < 0)
            goto out;
        name = json_string_value(json_object_get(item, "name"));
        if (name == NULL) {
            rc = err_set(err, -EINVAL, "%s.name: missing or not a string", path);
            goto out;
        }
        /* poolName filtering semantics (case, wildcards) are unverified: check it ourselves. */
        if (strcasecmp(name, pool_name) == 0) {
            found++;
            *pool_id = id;
        }
    }
    if (found == 0)
        rc = err_set(err, -ENOENT, "agent pool '%s' not found", pool_name);
    else if (found > 1)
        rc = err_set(err, -ENOTUNIQ, "agent pool name '%s' is ambiguous: %zu pools match",
                     pool_name, found);
out:
    if (rc < 0)
        *pool_id = 0;
    json_decref(root);
    return rc;
}

/* ---- agents ---- */

static int caps_from(const json_t *obj, const char *path, const char *key, bool user,
                     struct azdo_caps *caps, struct err *err)
{
    json_t *v;
    const char *name;
    json_t *val;
    int rc = get_obj(obj, path, key, &v, err);

    if (rc < 0 || v == NULL)
        return rc;
    json_object_foreach(v, name, val)
    {
        const char *s = json_string_value(val);
        /* A null value is an advertised capability with no value: it still satisfies "exists". */
        if (s == NULL && !json_is_null(val))
            return err_set(err, -EINVAL, "%s.%s.%s: expected a string", path, key, name);
        if (azdo_caps_set(caps, name, s, user) < 0)
            return err_set(err, -ENOMEM, "%s: out of memory", path);
    }
    return 0;
}

static int agent_status(const json_t *obj, const char *path, enum azdo_agent_status *out,
                        struct err *err)
{
    json_t *v = member(obj, "status");
    const char *s;

    *out = AZDO_AGENT_STATUS_UNKNOWN;
    if (v == NULL)
        return 0;
    s = json_string_value(v);
    if (s == NULL)
        return err_set(err, -EINVAL, "%s.status: expected a string", path);
    if (strcasecmp(s, "online") == 0)
        *out = AZDO_AGENT_ONLINE;
    else if (strcasecmp(s, "offline") == 0)
        *out = AZDO_AGENT_OFFLINE;
    return 0;
}

int azdo_agent_from_json(const json_t *obj, const char *path, struct azdo_agent *out,
                         struct err *err)
{
    json_t *assigned, *last;
    char sub[PATH_MAX_LEN + 32];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj))
        return err_set(err, -EINVAL, "%s: expected an object", path);
    rc = get_int(obj, path, "id", true, &out->id, err);
    if (rc == 0)
        rc = get_str(obj, path, "name", true, &out->name, err);
    if (rc == 0)
        rc = get_str(obj, path, "version", false, &out->version, err);
    if (rc == 0)
        rc = get_bool(obj, path, "enabled", true, &out->enabled, err);
    if (rc == 0)
        rc = agent_status(obj, path, &out->status, err);
    if (rc == 0)
        rc = get_time(obj, path, "createdOn", &out->created_ms, err);
    if (rc == 0)
        rc = get_time(obj, path, "statusChangedOn", &out->status_changed_ms, err);

    /* System first, then user: the user's value wins on a clash, as in the service's UI. */
    out->has_caps =
        member(obj, "systemCapabilities") != NULL || member(obj, "userCapabilities") != NULL;
    if (rc == 0)
        rc = caps_from(obj, path, "systemCapabilities", false, &out->caps, err);
    if (rc == 0)
        rc = caps_from(obj, path, "userCapabilities", true, &out->caps, err);

    if (rc == 0)
        rc = get_obj(obj, path, "assignedRequest", &assigned, err);
    if (rc == 0 && assigned != NULL) {
        snprintf(sub, sizeof(sub), "%s.assignedRequest", path);
        rc = get_int(assigned, sub, "requestId", true, &out->assigned_request_id, err);
    }
    if (rc == 0)
        rc = get_obj(obj, path, "lastCompletedRequest", &last, err);
    if (rc == 0 && last != NULL) {
        snprintf(sub, sizeof(sub), "%s.lastCompletedRequest", path);
        rc = get_int(last, sub, "requestId", false, &out->last_request_id, err);
        if (rc == 0)
            rc = get_time(last, sub, "finishTime", &out->last_finish_ms, err);
    }
    if (rc < 0)
        azdo_agent_clear(out);
    return rc;
}

int azdo_parse_agents(const char *body, size_t len, struct azdo_agent_list *out, struct err *err)
{
    json_t *root = azdo_json_load(body, len, "agents", err);
    json_t *value, *item;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return -EINVAL;
    rc = list_value(root, "agents", &value, err);
    if (rc < 0)
        goto out;
    out->items = calloc(json_array_size(value) + 1, sizeof(*out->items));
    if (out->items == NULL) {
        rc = err_set(err, -ENOMEM, "agents: out of memory");
        goto out;
    }
    json_array_foreach(value, i, item)
    {
        char path[PATH_MAX_LEN];

        snprintf(path, sizeof(path), "agents: value[%zu]", i);
        rc = azdo_agent_from_json(item, path, &out->items[i], err);
        if (rc < 0)
            goto out;
        out->len = i + 1;
    }
out:
    if (rc < 0)
        azdo_agent_list_free(out);
    json_decref(root);
    return rc;
}

int azdo_parse_agent(const char *body, size_t len, struct azdo_agent *out, struct err *err)
{
    json_t *root = azdo_json_load(body, len, "agent", err);
    int rc;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return -EINVAL;
    rc = azdo_agent_from_json(root, "agent", out, err);
    json_decref(root);
    return rc;
}

void azdo_agent_clear(struct azdo_agent *a)
{
    if (a == NULL)
        return;
    free(a->name);
    free(a->version);
    azdo_caps_clear(&a->caps);
    memset(a, 0, sizeof(*a));
}

void azdo_agent_list_free(struct azdo_agent_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->len; i++)
        azdo_agent_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

/* ---- job requests ---- */

static const struct {
    const char *name;
    enum azdo_job_result result;
} results[] = {
    {"succeeded", AZDO_RESULT_SUCCEEDED},
    {"succeededWithIssues", AZDO_RESULT_SUCCEEDED_WITH_ISSUES},
    {"failed", AZDO_RESULT_FAILED},
    {"canceled", AZDO_RESULT_CANCELED},
    {"skipped", AZDO_RESULT_SKIPPED},
    {"abandoned", AZDO_RESULT_ABANDONED},
};

const char *azdo_job_result_name(enum azdo_job_result r)
{
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        if (results[i].result == r)
            return results[i].name;
    }
    return r == AZDO_RESULT_NONE ? "" : "other";
}

static int job_result(const json_t *obj, const char *path, enum azdo_job_result *out,
                      struct err *err)
{
    json_t *v = member(obj, "result");
    const char *s;

    *out = AZDO_RESULT_NONE;
    if (v == NULL)
        return 0;
    /* The .NET enum may also arrive as its number (0 = succeeded ... 5 = abandoned). */
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        *out = n >= 0 && n <= 5 ? (enum azdo_job_result)(n + 1) : AZDO_RESULT_OTHER;
        return 0;
    }
    s = json_string_value(v);
    if (s == NULL)
        return err_set(err, -EINVAL, "%s.result: expected a string", path);
    *out = AZDO_RESULT_OTHER;
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        if (strcasecmp(s, results[i].name) == 0)
            *out = results[i].result;
    }
    return 0;
}

static int job_demands(const json_t *obj, const char *path, struct azdo_job *job, struct err *err)
{
    json_t *v = member(obj, "demands");
    json_t *d;
    size_t i;

    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return err_set(err, -EINVAL, "%s.demands: expected a list of strings", path);
    job->demands = calloc(json_array_size(v) + 1, sizeof(*job->demands));
    if (job->demands == NULL)
        return err_set(err, -ENOMEM, "%s.demands: out of memory", path);
    json_array_foreach(v, i, d)
    {
        if (!json_is_string(d))
            return err_set(err, -EINVAL, "%s.demands[%zu]: expected a string", path, i);
        job->demands[i] = strdup(json_string_value(d));
        if (job->demands[i] == NULL)
            return err_set(err, -ENOMEM, "%s.demands: out of memory", path);
        job->demand_count = i + 1;
    }
    return 0;
}

static int job_from_json(const json_t *obj, const char *path, struct azdo_job *job, struct err *err)
{
    json_t *reserved, *matched, *def, *owner;
    char sub[PATH_MAX_LEN + 32];
    int rc;

    memset(job, 0, sizeof(*job));
    job->matched_agents = -1;
    if (!json_is_object(obj))
        return err_set(err, -EINVAL, "%s: expected an object", path);
    rc = get_int(obj, path, "requestId", true, &job->request_id, err);
    if (rc == 0)
        rc = job_demands(obj, path, job, err);
    if (rc == 0)
        rc = get_time(obj, path, "queueTime", &job->queue_ms, err);
    if (rc == 0)
        rc = get_time(obj, path, "assignTime", &job->assign_ms, err);
    if (rc == 0)
        rc = get_time(obj, path, "receiveTime", &job->receive_ms, err);
    if (rc == 0)
        rc = get_time(obj, path, "finishTime", &job->finish_ms, err);
    if (rc == 0)
        rc = get_time(obj, path, "lockedUntil", &job->locked_until_ms, err);
    if (rc == 0)
        rc = job_result(obj, path, &job->result, err);
    if (rc == 0)
        rc = get_bool(obj, path, "matchesAllAgentsInPool", false, &job->matches_all_agents, err);
    if (rc == 0)
        rc = get_obj(obj, path, "reservedAgent", &reserved, err);
    if (rc == 0 && reserved != NULL) {
        snprintf(sub, sizeof(sub), "%s.reservedAgent", path);
        rc = get_int(reserved, sub, "id", true, &job->reserved_agent_id, err);
        if (rc == 0)
            rc = get_str(reserved, sub, "name", false, &job->reserved_agent_name, err);
    }
    if (rc == 0) {
        matched = member(obj, "matchedAgents");
        if (json_is_array(matched))
            job->matched_agents = (int)json_array_size(matched);
        else if (matched != NULL)
            rc = err_set(err, -EINVAL, "%s.matchedAgents: expected a list", path);
    }
    if (rc == 0)
        rc = get_obj(obj, path, "definition", &def, err);
    if (rc == 0 && def != NULL) {
        snprintf(sub, sizeof(sub), "%s.definition", path);
        rc = get_str(def, sub, "name", false, &job->definition_name, err);
    }
    if (rc == 0)
        rc = get_obj(obj, path, "owner", &owner, err);
    if (rc == 0 && owner != NULL) {
        snprintf(sub, sizeof(sub), "%s.owner", path);
        rc = get_str(owner, sub, "name", false, &job->owner_name, err);
    }
    return rc;
}

static void job_clear(struct azdo_job *job)
{
    for (size_t i = 0; i < job->demand_count; i++)
        free(job->demands[i]);
    free(job->demands);
    free(job->reserved_agent_name);
    free(job->definition_name);
    free(job->owner_name);
    memset(job, 0, sizeof(*job));
}

int azdo_parse_jobs(const char *body, size_t len, struct azdo_job_list *out, struct err *err)
{
    json_t *root = azdo_json_load(body, len, "jobrequests", err);
    json_t *value, *item;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return -EINVAL;
    rc = list_value(root, "jobrequests", &value, err);
    if (rc < 0)
        goto out;
    out->items = calloc(json_array_size(value) + 1, sizeof(*out->items));
    if (out->items == NULL) {
        rc = err_set(err, -ENOMEM, "jobrequests: out of memory");
        goto out;
    }
    json_array_foreach(value, i, item)
    {
        char path[PATH_MAX_LEN];

        snprintf(path, sizeof(path), "jobrequests: value[%zu]", i);
        /* Count it before parsing so a half-filled entry is freed on failure. */
        out->len = i + 1;
        rc = job_from_json(item, path, &out->items[i], err);
        if (rc < 0)
            goto out;
    }
out:
    if (rc < 0)
        azdo_job_list_free(out);
    json_decref(root);
    return rc;
}

enum azdo_job_state azdo_job_state(const struct azdo_job *job)
{
    if (job->result != AZDO_RESULT_NONE)
        return AZDO_JOB_FINISHED;
    if (job->receive_ms != 0)
        return AZDO_JOB_RUNNING;
    if (job->assign_ms != 0 || job->reserved_agent_id != 0)
        return AZDO_JOB_ASSIGNED;
    return AZDO_JOB_QUEUED;
}

void azdo_job_list_free(struct azdo_job_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->len; i++)
        job_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

/* ---- error bodies ---- */

void azdo_parse_error_body(const char *body, size_t len, char *type_key, size_t type_key_size,
                           char *message, size_t message_size)
{
    json_t *root;
    const char *s;

    if (type_key != NULL && type_key_size > 0)
        type_key[0] = '\0';
    if (message != NULL && message_size > 0)
        message[0] = '\0';
    if (body == NULL || len == 0)
        return;
    root = azdo_json_load(body, len, "error", NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    s = json_string_value(json_object_get(root, "typeKey"));
    if (s != NULL && type_key != NULL && type_key_size > 0)
        snprintf(type_key, type_key_size, "%s", s);
    s = json_string_value(json_object_get(root, "message"));
    if (s != NULL && message != NULL && message_size > 0)
        snprintf(message, message_size, "%s", s);
    json_decref(root);
}
