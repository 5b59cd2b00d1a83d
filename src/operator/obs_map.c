/* obs_map.c - API answers to observation structs (see obs_map.h). */
#include "operator/obs_map.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t op_parse_k8s_time(const char *text)
{
    struct tm tm;
    const char *rest;
    int64_t ms = 0;

    if (text == NULL)
        return 0;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return 0;
    if (*rest == '.') { /* fraction: keep milliseconds, skip the rest of the digits */
        int digits = 0;
        rest++;
        while (*rest >= '0' && *rest <= '9') {
            if (digits < 3)
                ms = ms * 10 + (*rest - '0');
            digits++;
            rest++;
        }
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int64_t secs = (int64_t)timegm(&tm);
    if (*rest == '+' || *rest == '-') { /* an offset: local time = UTC + offset */
        int sign = *rest == '-' ? -1 : 1;
        int hh = 0, mm = 0;
        if (strlen(rest) >= 6 && rest[3] == ':') {
            hh = (rest[1] - '0') * 10 + (rest[2] - '0');
            mm = (rest[4] - '0') * 10 + (rest[5] - '0');
        }
        secs -= sign * (hh * 3600 + mm * 60);
    }
    return secs * 1000 + ms;
}

static const char *str_at(const json_t *obj, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(obj, k1);

    if (k2 != NULL)
        v = json_object_get(v, k2);
    return json_string_value(v);
}

static bool has_finalizer(const json_t *meta)
{
    size_t i;
    const json_t *f;

    json_array_foreach(json_object_get(meta, "finalizers"), i, f)
    {
        const char *s = json_string_value(f);
        if (s != NULL && strcmp(s, OP_FINALIZER) == 0)
            return true;
    }
    return false;
}

int op_map_pool(const json_t *obj, struct pool_key *key, struct obs_pool *out, char **spec_text)
{
    const json_t *meta = json_object_get(obj, "metadata");

    key->ns = str_at(meta, "namespace", NULL);
    key->name = str_at(meta, "name", NULL);
    if (key->ns == NULL || key->name == NULL)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->uid = str_at(meta, "uid", NULL);
    out->generation = json_integer_value(json_object_get(meta, "generation"));
    out->deletion_requested = json_object_get(meta, "deletionTimestamp") != NULL;
    out->finalizer_present = has_finalizer(meta);
    *spec_text = json_dumps(json_object_get(obj, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
    out->spec_json = *spec_text != NULL ? *spec_text : "{}";
    return 0;
}

/* Reads a non-negative decimal label value; -1 when absent or not a number. */
static int label_index(const json_t *labels, const char *name)
{
    const char *text = json_string_value(json_object_get(labels, name));
    char *end = NULL;
    long v;

    if (text == NULL || *text == '\0')
        return -1;
    v = strtol(text, &end, 10);
    if (*end != '\0' || v < 0 || v > 1000000)
        return -1;
    return (int)v;
}

/* The reason a container cannot run: waiting reason (ErrImagePull, CrashLoopBackOff), or the
 * terminated reason of a container that is not running (OOMKilled, Error). Init containers
 * first, since a failing init container keeps the agent container waiting in PodInitializing. */
static const char *container_trouble(const json_t *status, int *restarts)
{
    static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
    const char *found = NULL;

    for (size_t l = 0; l < 2; l++) {
        size_t i;
        const json_t *cs;
        json_array_foreach(json_object_get(status, lists[l]), i, cs)
        {
            const json_t *state = json_object_get(cs, "state");
            const char *waiting = str_at(state, "waiting", "reason");
            const char *terminated = str_at(state, "terminated", "reason");

            if (l == 1) {
                /* Saturate: a sum of counts (or one hostile value) must not wrap negative. */
                json_int_t n = json_integer_value(json_object_get(cs, "restartCount"));

                if (n > 0)
                    *restarts = n >= INT_MAX - *restarts ? INT_MAX : *restarts + (int)n;
            }
            if (found != NULL)
                continue;
            if (waiting != NULL && strcmp(waiting, "PodInitializing") != 0 &&
                strcmp(waiting, "ContainerCreating") != 0)
                found = waiting;
            else if (terminated != NULL && strcmp(terminated, "Completed") != 0)
                found = terminated;
        }
    }
    return found;
}

static bool condition_true(const json_t *status, const char *type)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *t = str_at(c, "type", NULL);
        const char *s = str_at(c, "status", NULL);
        if (t != NULL && s != NULL && strcmp(t, type) == 0)
            return strcmp(s, "True") == 0;
    }
    return false;
}

int op_map_pod(const json_t *pod, struct pool_key *key, struct obs_pod *out)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *status = json_object_get(pod, "status");

    memset(out, 0, sizeof(*out));
    key->ns = str_at(meta, "namespace", NULL);
    key->name = json_string_value(json_object_get(labels, OP_LABEL_POOL));
    out->idx = label_index(labels, OP_LABEL_ORDINAL);
    if (key->ns == NULL || key->name == NULL || out->idx < 0)
        return -ENOENT;
    out->uid = str_at(meta, "uid", NULL);
    out->name = str_at(meta, "name", NULL);
    if (out->uid == NULL || out->name == NULL)
        return -ENOENT;
    out->role = POD_AGENT;
    /* The label holds a label-safe form ("jdk_17"); the annotation the exact capabilityImages
     * key ("jdk -equals 17") that the planner works with. */
    out->cap_key = json_string_value(
        json_object_get(json_object_get(meta, "annotations"), OP_ANNOTATION_CAPABILITY_KEY));
    out->phase = str_at(status, "phase", NULL);
    if (out->phase == NULL)
        out->phase = "Pending";
    out->ready = condition_true(status, "Ready");
    out->waiting_reason = container_trouble(status, &out->restarts);
    if (out->waiting_reason == NULL && strcmp(out->phase, "Pending") == 0 &&
        !condition_true(status, "PodScheduled")) {
        /* An unschedulable pod (e.g. its PVC's storage class does not exist) never starts. */
        const json_t *c;
        size_t i;
        json_array_foreach(json_object_get(status, "conditions"), i, c)
        {
            const char *r = str_at(c, "reason", NULL);
            if (r != NULL && strcmp(r, "Unschedulable") == 0)
                out->waiting_reason = "Unschedulable";
        }
    }
    out->deletion_requested = json_object_get(meta, "deletionTimestamp") != NULL;
    out->deletion_ms = op_parse_k8s_time(str_at(meta, "deletionTimestamp", NULL));
    out->created_ms = op_parse_k8s_time(str_at(meta, "creationTimestamp", NULL));
    return 0;
}

int op_map_pvc(const json_t *pvc, struct pool_key *key, struct obs_pvc *out)
{
    const json_t *meta = json_object_get(pvc, "metadata");
    const json_t *labels = json_object_get(meta, "labels");

    memset(out, 0, sizeof(*out));
    key->ns = str_at(meta, "namespace", NULL);
    key->name = json_string_value(json_object_get(labels, OP_LABEL_POOL));
    out->template = json_string_value(json_object_get(labels, OP_LABEL_PVC));
    out->idx = label_index(labels, OP_LABEL_ORDINAL);
    out->uid = str_at(meta, "uid", NULL);
    out->name = str_at(meta, "name", NULL);
    if (key->ns == NULL || key->name == NULL || out->template == NULL || out->uid == NULL ||
        out->name == NULL)
        return -ENOENT;
    out->phase = str_at(json_object_get(pvc, "status"), "phase", NULL);
    if (out->phase == NULL)
        out->phase = "Pending";
    out->deleting = json_object_get(meta, "deletionTimestamp") != NULL;
    return 0;
}

static char *caps_to_json(const struct azdo_caps *caps)
{
    json_t *obj = json_object();
    char *text;

    for (size_t i = 0; i < caps->len; i++)
        json_object_set_new(obj, caps->items[i].name, json_string(caps->items[i].value));
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    return text;
}

void op_map_agents(const struct azdo_agent_list *in, struct obs_agent *out, char **caps_json)
{
    for (size_t i = 0; i < in->len; i++) {
        const struct azdo_agent *a = &in->items[i];

        memset(&out[i], 0, sizeof(out[i]));
        caps_json[i] = a->has_caps ? caps_to_json(&a->caps) : NULL;
        out[i].id = a->id;
        out[i].name = a->name;
        out[i].online = a->status == AZDO_AGENT_ONLINE;
        out[i].enabled = a->enabled;
        out[i].capabilities_json = caps_json[i];
        out[i].assigned_request_id = a->assigned_request_id;
        out[i].last_finish_ms = a->last_finish_ms;
        out[i].status_changed_ms = a->status_changed_ms;
        out[i].created_ms = a->created_ms;
    }
}

void op_free_agent_caps(char **caps_json, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(caps_json[i]);
}

static const char *result_name(enum azdo_job_result r)
{
    switch (r) {
    case AZDO_RESULT_NONE: return NULL;
    case AZDO_RESULT_SUCCEEDED: return "succeeded";
    case AZDO_RESULT_SUCCEEDED_WITH_ISSUES: return "succeededWithIssues";
    case AZDO_RESULT_FAILED: return "failed";
    case AZDO_RESULT_CANCELED: return "canceled";
    case AZDO_RESULT_SKIPPED: return "skipped";
    case AZDO_RESULT_ABANDONED: return "abandoned";
    case AZDO_RESULT_OTHER: return "other";
    }
    return "other";
}

void op_map_jobs(const struct azdo_job_list *in, struct obs_job *out, char **demands_json)
{
    for (size_t i = 0; i < in->len; i++) {
        const struct azdo_job *j = &in->items[i];
        json_t *arr = json_array();

        for (size_t d = 0; d < j->demand_count; d++)
            json_array_append_new(arr, json_string(j->demands[d]));
        demands_json[i] = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        memset(&out[i], 0, sizeof(out[i]));
        out[i].request_id = j->request_id;
        out[i].demands_json = demands_json[i];
        out[i].queue_ms = j->queue_ms;
        out[i].assign_ms = j->assign_ms;
        out[i].receive_ms = j->receive_ms;
        out[i].finish_ms = j->finish_ms;
        out[i].result = result_name(j->result);
        out[i].reserved_agent_id = j->reserved_agent_id;
        out[i].reserved_agent_name = j->reserved_agent_name;
    }
}
