/* fuzz_runnerpool.c - libFuzzer target for the RunnerPool validator and parser
 * (src/pool/runnerpool.h: runner_pool_parse), the defaults patch (runnerpool_defaults.h) and
 * what the operator builds from a parsed pool (agent_pod.h, agent_pvc.h, obs_map.h).
 *
 * Input: any bytes; those that are JSON are the RunnerPool object.
 *
 * Promises checked:
 *   - a refused object has -EINVAL, a message and at least one field error; passing 'errors' or
 *     not gives the same verdict;
 *   - a parsed pool holds what runnerpool.h promises the planner and pod builder: names and
 *     required strings set, 0 <= minAgents <= maxAgents <= the cap, poll interval and TTL in
 *     range, a non-root user, capability entries sorted and found by their key;
 *   - the defaults patch is a list of "add" operations that applies cleanly to the object (the
 *     API server rejects the whole request otherwise), has nothing left to add afterwards, and
 *     changes neither the verdict nor any parsed value (runnerpool_defaults.h: "both read the
 *     constants below, so the two can never disagree");
 *   - with a uid, every slot's pod and every created PVC builds, and the pod maps back through
 *     op_map_pod to the same pool and ordinal. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "operator/obs_map.h"
#include "pool/agent_pod.h"
#include "pool/agent_pvc.h"
#include "pool/runnerpool.h"
#include "pool/runnerpool_defaults.h"
#include "pool/runnerpool_validate.h"

/* Applies one RFC 6902 "add" to 'doc'; false when the path does not lead to a place. */
static bool apply_add(json_t *doc, const char *path, json_t *value)
{
    char buf[512];
    char *tok, *next;
    json_t *parent = doc;

    if (path[0] != '/' || strlen(path) >= sizeof(buf))
        return false;
    strcpy(buf, path + 1);
    tok = buf;
    for (;;) {
        next = strchr(tok, '/');
        if (next == NULL)
            break;
        *next = '\0';
        if (json_is_object(parent))
            parent = json_object_get(parent, tok);
        else if (json_is_array(parent))
            parent = json_array_get(parent, strtoul(tok, NULL, 10));
        else
            return false;
        if (parent == NULL)
            return false;
        tok = next + 1;
    }
    if (json_is_object(parent))
        return json_object_set(parent, tok, value) == 0;
    if (json_is_array(parent)) {
        if (strcmp(tok, "-") == 0)
            return json_array_append(parent, value) == 0;
        return json_array_insert(parent, strtoul(tok, NULL, 10), value) == 0;
    }
    return false;
}

static json_t *patched_copy(const json_t *obj, const json_t *patch)
{
    json_t *copy = json_deep_copy(obj);
    const json_t *op;
    size_t i;

    FUZZ_CHECK(copy != NULL);
    json_array_foreach(patch, i, op) {
        const char *kind = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");

        FUZZ_CHECK(kind != NULL && strcmp(kind, "add") == 0);
        FUZZ_CHECK(path != NULL && value != NULL);
        FUZZ_CHECK(apply_add(copy, path, value));
    }
    return copy;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_pool(const struct runner_pool *rp)
{
    FUZZ_CHECK(rp->namespace != NULL && rp->name != NULL);
    FUZZ_CHECK(rp->az_do_url != NULL && rp->pool != NULL && rp->pat_secret_name != NULL &&
               rp->image != NULL && rp->init_image != NULL);
    FUZZ_CHECK(rp->min_agents >= 0 && rp->min_agents <= rp->max_agents &&
               rp->max_agents <= RUNNER_POOL_MAX_AGENTS_CAP);
    FUZZ_CHECK(rp->poll_interval_seconds >= RUNNER_POOL_POLL_MIN_SECONDS &&
               rp->poll_interval_seconds <= RUNNER_POOL_POLL_MAX_SECONDS);
    FUZZ_CHECK(rp->ttl_idle_seconds >= 0 && rp->ttl_idle_seconds <= RUNNER_POOL_TTL_MAX_SECONDS);
    FUZZ_CHECK(rp->run_as_user != 0);
    FUZZ_CHECK(rp->env_count <= RUNNER_POOL_MAX_ENV && rp->pvc_count <= RUNNER_POOL_MAX_PVCS &&
               rp->cert_secret_count <= RUNNER_POOL_MAX_CERTS &&
               rp->capability_count <= RUNNER_POOL_MAX_CAPABILITIES);
    for (size_t i = 0; i < rp->env_count; i++) {
        FUZZ_CHECK(rp->env[i].name != NULL);
        FUZZ_CHECK((rp->env[i].value == NULL) ==
                   (rp->env[i].secret_name != NULL && rp->env[i].secret_key != NULL));
    }
    for (size_t i = 0; i < rp->pvc_count; i++) {
        FUZZ_CHECK(rp->pvcs[i].name != NULL && rp->pvcs[i].mount_path != NULL);
        FUZZ_CHECK(rp->pvcs[i].storage != NULL || !rp->pvcs[i].create_pvc);
    }
    for (size_t i = 0; i < rp->cert_secret_count; i++)
        FUZZ_CHECK(rp->cert_secrets[i] != NULL);
    for (size_t i = 0; i < rp->capability_count; i++) {
        const struct runner_pool_capability *c = &rp->capabilities[i];

        FUZZ_CHECK(c->key != NULL && c->image != NULL && c->env_name != NULL &&
                   c->env_value != NULL && c->label != NULL);
        FUZZ_CHECK(i == 0 || strcmp(rp->capabilities[i - 1].key, c->key) < 0);
        FUZZ_CHECK(runner_pool_capability_find(rp, c->key) == c);
    }
}

/* The defaults patch must not change what the operator reads. */
static void check_same_pool(const struct runner_pool *a, const struct runner_pool *b)
{
    FUZZ_CHECK(a->max_agents == b->max_agents && a->min_agents == b->min_agents);
    FUZZ_CHECK(a->ttl_idle_seconds == b->ttl_idle_seconds);
    FUZZ_CHECK(a->poll_interval_seconds == b->poll_interval_seconds);
    FUZZ_CHECK(same_str(a->init_image, b->init_image));
    FUZZ_CHECK(a->run_as_user == b->run_as_user && a->run_as_group == b->run_as_group &&
               a->fs_group == b->fs_group);
    FUZZ_CHECK(a->pvc_count == b->pvc_count);
    for (size_t i = 0; i < a->pvc_count; i++)
        FUZZ_CHECK(a->pvcs[i].create_pvc == b->pvcs[i].create_pvc &&
                   a->pvcs[i].optional == b->pvcs[i].optional &&
                   a->pvcs[i].delete_with_agent == b->pvcs[i].delete_with_agent);
}

/* Builds what the operator builds for a few slots and reads the pod back as the watch does. */
static void check_builders(const struct runner_pool *rp)
{
    static const unsigned slots[] = {0, 1, 9, 10, 99, 100, RUNNER_POOL_INDEX_MAX};

    for (size_t s = 0; s < sizeof(slots) / sizeof(slots[0]); s++) {
        struct agent_pod_opts opts = {.index = slots[s], .run_once = s % 2 == 0};
        struct err err = {0};
        json_t *pod = NULL;
        int rc;

        if (rp->capability_count > 0)
            opts.capability = rp->capabilities[s % rp->capability_count].key;
        rc = agent_pod_build(rp, &opts, &pod, &err);
        if (rc != 0)
            fprintf(stderr, "agent_pod_build(%u): %s\n", slots[s], err.msg);
        FUZZ_CHECK(rc == 0);
        {
            struct pool_key key;
            struct obs_pod obs;
            json_t *meta = json_object_get(pod, "metadata");

            json_object_set_new(meta, "uid", json_string("pod-uid"));
            if (json_object_get(meta, "namespace") == NULL)
                json_object_set_new(meta, "namespace", json_string(rp->namespace));
            FUZZ_CHECK(op_map_pod(pod, &key, &obs) == 0);
            FUZZ_CHECK(strcmp(key.name, rp->name) == 0 && obs.idx == (int)slots[s]);
        }
        json_decref(pod);
        for (size_t i = 0; i < rp->pvc_count; i++) {
            json_t *pvc = NULL;

            rc = agent_pvc_build(rp, slots[s], i, &pvc, &err);
            FUZZ_CHECK(rc == 0 || (rc == -EINVAL && !rp->pvcs[i].create_pvc));
            json_decref(pvc);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *obj = json_loadb((const char *)data, size, 0, NULL);
    json_t *patch, *patched, *again;
    struct runner_pool *rp = NULL, *rp2 = NULL, *rp_patched = NULL;
    struct field_errors errors = {0};
    struct err err = {0};
    int rc, rc2, rc_patched;

    if (obj == NULL)
        return 0;
    rc = runner_pool_parse(obj, &rp, &errors, &err);
    rc2 = runner_pool_parse(obj, &rp2, NULL, NULL);
    FUZZ_CHECK(rc == rc2 && (rc == 0 || rc == -EINVAL));
    FUZZ_CHECK(fuzz_terminated(err.msg, sizeof(err.msg)));
    if (rc != 0) {
        FUZZ_CHECK(rp == NULL && rp2 == NULL);
        FUZZ_CHECK(err.msg[0] != '\0' && errors.count > 0);
    } else {
        FUZZ_CHECK(errors.count == 0);
        check_pool(rp);
        if (rp->uid != NULL)
            check_builders(rp);
    }

    patch = runner_pool_default_patch(obj);
    FUZZ_CHECK(json_is_array(patch));
    patched = patched_copy(obj, patch);
    again = runner_pool_default_patch(patched);
    FUZZ_CHECK(json_is_array(again) && json_array_size(again) == 0);
    rc_patched = runner_pool_parse(patched, &rp_patched, NULL, NULL);
    FUZZ_CHECK(rc_patched == rc);
    if (rc == 0)
        check_same_pool(rp, rp_patched);

    /* An update from the defaulted object to the original, as the validating webhook sees it. */
    {
        struct field_errors fe = {0};

        runner_pool_validate_update(patched, obj, &fe);
        field_errors_free(&fe);
    }

    runner_pool_free(rp);
    runner_pool_free(rp2);
    runner_pool_free(rp_patched);
    field_errors_free(&errors);
    json_decref(patch);
    json_decref(patched);
    json_decref(again);
    json_decref(obj);
    return 0;
}
