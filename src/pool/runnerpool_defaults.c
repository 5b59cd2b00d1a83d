/* runnerpool_defaults.c - the JSON Patch of documented defaults (see runnerpool_defaults.h). */
#include "pool/runnerpool_defaults.h"

#include <stdbool.h>
#include <stdio.h>

#include "pool/runnerpool.h"

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* Appends {"op":"add","path":path,"value":value}; steals 'value'. False when out of memory. */
static bool add_op(json_t *patch, const char *path, json_t *value)
{
    json_t *op;

    if (value == NULL)
        return false;
    op = json_pack("{s:s, s:s, s:o}", "op", "add", "path", path, "value", value);
    return op != NULL && json_array_append_new(patch, op) == 0;
}

/* "add" works for an absent member and, per RFC 6902, replaces a null one. */
static bool default_member(json_t *patch, const json_t *parent, const char *parent_path,
                           const char *key, json_t *value)
{
    char path[256];

    if (member(parent, key) != NULL) {
        json_decref(value);
        return true;
    }
    snprintf(path, sizeof(path), "%s/%s", parent_path, key);
    return add_op(patch, path, value);
}

static bool default_pvcs(json_t *patch, const json_t *pvcs)
{
    const json_t *pvc;
    size_t i;
    char base[64];
    bool ok = true;

    json_array_foreach(pvcs, i, pvc) {
        if (!json_is_object(pvc))
            continue;
        snprintf(base, sizeof(base), "/spec/pvcs/%zu", i);
        ok = ok && default_member(patch, pvc, base, "createPvc",
                                  json_boolean(RUNNER_POOL_DEFAULT_CREATE_PVC));
        ok = ok && default_member(patch, pvc, base, "optional",
                                  json_boolean(RUNNER_POOL_DEFAULT_OPTIONAL));
        ok = ok && default_member(patch, pvc, base, "deleteWithAgent",
                                  json_boolean(RUNNER_POOL_DEFAULT_DELETE_WITH_AGENT));
    }
    return ok;
}

/* initContainer and securityContext: add the whole object when absent, else its missing
 * members; leave an object of the wrong type to the validator. */
static bool default_volume_identity(json_t *patch, const json_t *spec)
{
    const json_t *ic = member(spec, "initContainer");
    const json_t *sc = member(spec, "securityContext");
    bool ok = true;

    if (ic == NULL)
        ok = add_op(patch, "/spec/initContainer",
                    json_pack("{s:s}", "image", RUNNER_POOL_DEFAULT_INIT_IMAGE));
    else if (json_is_object(ic))
        ok = default_member(patch, ic, "/spec/initContainer", "image",
                            json_string(RUNNER_POOL_DEFAULT_INIT_IMAGE));

    if (sc == NULL) {
        ok = ok && add_op(patch, "/spec/securityContext",
                          json_pack("{s:i, s:i, s:i}", "runAsUser",
                                    RUNNER_POOL_DEFAULT_RUN_AS_USER, "runAsGroup",
                                    RUNNER_POOL_DEFAULT_RUN_AS_GROUP, "fsGroup",
                                    RUNNER_POOL_DEFAULT_FS_GROUP));
    } else if (json_is_object(sc)) {
        ok = ok && default_member(patch, sc, "/spec/securityContext", "runAsUser",
                                  json_integer(RUNNER_POOL_DEFAULT_RUN_AS_USER));
        ok = ok && default_member(patch, sc, "/spec/securityContext", "runAsGroup",
                                  json_integer(RUNNER_POOL_DEFAULT_RUN_AS_GROUP));
        ok = ok && default_member(patch, sc, "/spec/securityContext", "fsGroup",
                                  json_integer(RUNNER_POOL_DEFAULT_FS_GROUP));
    }
    return ok;
}

json_t *runner_pool_default_patch(const json_t *obj)
{
    json_t *patch = json_array();
    const json_t *spec = member(obj, "spec");
    const json_t *pvcs = member(spec, "pvcs");
    bool ok;

    if (patch == NULL)
        return NULL;
    if (!json_is_object(spec))
        return patch;

    ok = default_member(patch, spec, "/spec", "maxAgents",
                        json_integer(RUNNER_POOL_DEFAULT_MAX_AGENTS)) &&
         default_member(patch, spec, "/spec", "minAgents",
                        json_integer(RUNNER_POOL_DEFAULT_MIN_AGENTS)) &&
         default_member(patch, spec, "/spec", "ttlIdleSeconds",
                        json_integer(RUNNER_POOL_DEFAULT_TTL_IDLE_SECONDS));
    /* pollIntervalSeconds gets no default in the object: absent means "the operator's
     * --poll-interval", which an administrator can change for every pool at once. */
    if (ok && json_is_array(pvcs) && json_array_size(pvcs) > 0)
        ok = default_pvcs(patch, pvcs) && default_volume_identity(patch, spec);
    if (!ok) {
        json_decref(patch);
        return NULL;
    }
    return patch;
}
