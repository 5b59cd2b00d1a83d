/* runnerpool.c - RunnerPool JSON to struct runner_pool (see runnerpool.h).
 *
 * Parsing runs only on objects runner_pool_validate() accepted, so the readers below may assume
 * the types the validator checked; they still tolerate surprises (a NULL member reads as
 * "absent") rather than trusting the validator blindly. Defaults come from the RUNNER_POOL_DEFAULT_*
 * constants that the JSON Patch builder uses too. */
#include "pool/runnerpool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/runnerpool_validate.h"

/* ---- capability keys ------------------------------------------------------------------------- */

int runner_pool_capability_split(const char *key, char **name, char **value, struct err *err)
{
    const char *space = strchr(key, ' ');
    static const char op[] = " -equals ";

    *name = NULL;
    *value = NULL;
    if (key[0] == '\0')
        return err_set(err, -EINVAL, "capability key must not be empty");
    if (space == NULL) {
        *name = strdup(key);
        *value = strdup("true");
    } else {
        /* Exactly "NAME -equals VALUE": one space each side, VALUE without spaces. */
        const char *v = space + strlen(op);
        if (strncasecmp(space, op, strlen(op)) != 0 || *v == '\0' || strchr(v, ' ') != NULL)
            return err_set(err, -EINVAL,
                           "capability key '%s' must be a capability name such as java, or "
                           "'name -equals value'",
                           key);
        *name = strndup(key, (size_t)(space - key));
        *value = strdup(v);
    }
    if (*name == NULL || *value == NULL) {
        free(*name);
        free(*value);
        *name = NULL;
        *value = NULL;
        return err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

const struct runner_pool_capability *runner_pool_capability_find(const struct runner_pool *rp,
                                                                 const char *key)
{
    for (size_t i = 0; i < rp->capability_count; i++) {
        if (strcmp(rp->capabilities[i].key, key) == 0)
            return &rp->capabilities[i];
    }
    return NULL;
}

/* ---- readers --------------------------------------------------------------------------------- */

/* Reading state: the first allocation failure sticks, so readers can be chained without a check
 * after each one and the caller tests 'oom' once. */
struct reader {
    bool oom;
};

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static char *dup_or_null(struct reader *r, const char *s)
{
    char *copy;

    if (s == NULL)
        return NULL;
    copy = strdup(s);
    if (copy == NULL)
        r->oom = true;
    return copy;
}

static char *read_string(struct reader *r, const json_t *obj, const char *key, const char *dflt)
{
    const json_t *v = member(obj, key);
    return dup_or_null(r, json_is_string(v) ? json_string_value(v) : dflt);
}

static int64_t read_int(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = member(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static bool read_bool(const json_t *obj, const char *key, bool dflt)
{
    const json_t *v = member(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static json_t *read_json(struct reader *r, const json_t *obj, const char *key)
{
    const json_t *v = member(obj, key);
    json_t *copy;

    if (v == NULL)
        return NULL;
    copy = json_deep_copy(v);
    if (copy == NULL)
        r->oom = true;
    return copy;
}

static void *alloc_array(struct reader *r, size_t count, size_t size)
{
    void *p;

    if (count == 0)
        return NULL;
    p = calloc(count, size);
    if (p == NULL)
        r->oom = true;
    return p;
}

/* ---- spec sections --------------------------------------------------------------------------- */

static void read_env(struct reader *r, const json_t *spec, struct runner_pool *rp)
{
    const json_t *list = member(spec, "extraEnv");
    const json_t *entry;
    size_t i;

    rp->env = alloc_array(r, json_array_size(list), sizeof(*rp->env));
    if (rp->env == NULL)
        return;
    json_array_foreach(list, i, entry) {
        struct runner_pool_env *e = &rp->env[rp->env_count++];
        const json_t *ref = member(member(entry, "valueFrom"), "secretKeyRef");

        e->name = read_string(r, entry, "name", NULL);
        if (ref != NULL) {
            e->secret_name = read_string(r, ref, "name", NULL);
            e->secret_key = read_string(r, ref, "key", NULL);
            e->secret_optional = read_bool(ref, "optional", false);
        } else {
            e->value = read_string(r, entry, "value", "");
        }
    }
}

static void read_pvcs(struct reader *r, const json_t *spec, struct runner_pool *rp)
{
    const json_t *list = member(spec, "pvcs");
    const json_t *entry;
    size_t i;

    rp->pvcs = alloc_array(r, json_array_size(list), sizeof(*rp->pvcs));
    if (rp->pvcs == NULL)
        return;
    json_array_foreach(list, i, entry) {
        struct runner_pool_pvc *p = &rp->pvcs[rp->pvc_count++];
        p->name = read_string(r, entry, "name", NULL);
        p->mount_path = read_string(r, entry, "mountPath", NULL);
        p->storage = read_string(r, entry, "storage", NULL);
        p->storage_class = read_string(r, entry, "storageClass", NULL);
        p->create_pvc = read_bool(entry, "createPvc", RUNNER_POOL_DEFAULT_CREATE_PVC);
        p->optional = read_bool(entry, "optional", RUNNER_POOL_DEFAULT_OPTIONAL);
        p->delete_with_agent =
            read_bool(entry, "deleteWithAgent", RUNNER_POOL_DEFAULT_DELETE_WITH_AGENT);
    }
}

static void read_certs(struct reader *r, const json_t *spec, struct runner_pool *rp)
{
    const json_t *list = member(spec, "certTrustStore");
    const json_t *entry;
    size_t i;

    rp->cert_secrets = alloc_array(r, json_array_size(list), sizeof(*rp->cert_secrets));
    if (rp->cert_secrets == NULL)
        return;
    json_array_foreach(list, i, entry)
        rp->cert_secrets[rp->cert_secret_count++] = read_string(r, entry, "secretName", NULL);
}

static int capability_cmp(const void *a, const void *b)
{
    const struct runner_pool_capability *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static void read_capabilities(struct reader *r, const json_t *spec, struct runner_pool *rp)
{
    const json_t *images = member(spec, "capabilityImages");
    const char *key;
    const json_t *image;

    rp->capability_aware = read_bool(spec, "capabilityAware", false);
    rp->capabilities = alloc_array(r, json_object_size(images), sizeof(*rp->capabilities));
    if (rp->capabilities == NULL)
        return;
    json_object_foreach((json_t *)images, key, image) {
        struct runner_pool_capability *c = &rp->capabilities[rp->capability_count++];
        struct err err = {0};
        size_t label_len;

        c->key = dup_or_null(r, key);
        c->image = dup_or_null(r, json_string_value(image));
        if (runner_pool_capability_split(key, &c->env_name, &c->env_value, &err) < 0) {
            r->oom = true; /* validated keys only fail for lack of memory */
            continue;
        }
        /* "java" stays "java"; "jdk -equals 17" becomes "jdk_17" (validated to fit 63). */
        if (strcmp(c->env_value, "true") == 0 && strchr(key, ' ') == NULL) {
            c->label = dup_or_null(r, c->env_name);
        } else {
            label_len = strlen(c->env_name) + 1 + strlen(c->env_value) + 1;
            c->label = malloc(label_len);
            if (c->label == NULL)
                r->oom = true;
            else
                snprintf(c->label, label_len, "%s_%s", c->env_name, c->env_value);
        }
    }
    /* jansson's object order is its hash order; sort so pods and tests are deterministic. */
    if (rp->capability_count > 1 && !r->oom)
        qsort(rp->capabilities, rp->capability_count, sizeof(*rp->capabilities), capability_cmp);
}

static void read_spec(struct reader *r, const json_t *spec, struct runner_pool *rp)
{
    const json_t *sc = member(spec, "securityContext");

    rp->az_do_url = read_string(r, spec, "azDoUrl", NULL);
    rp->pool = read_string(r, spec, "pool", NULL);
    rp->pat_secret_name = read_string(r, spec, "patSecretName", NULL);
    rp->image = read_string(r, spec, "image", NULL);

    rp->max_agents = (int)read_int(spec, "maxAgents", RUNNER_POOL_DEFAULT_MAX_AGENTS);
    rp->min_agents = (int)read_int(spec, "minAgents", RUNNER_POOL_DEFAULT_MIN_AGENTS);
    rp->ttl_idle_seconds = read_int(spec, "ttlIdleSeconds", RUNNER_POOL_DEFAULT_TTL_IDLE_SECONDS);
    rp->poll_interval_seconds =
        (int)read_int(spec, "pollIntervalSeconds", RUNNER_POOL_DEFAULT_POLL_INTERVAL_SECONDS);

    read_env(r, spec, rp);
    read_pvcs(r, spec, rp);

    /* The agent always runs as a non-root user, so the identity defaults apply whether or not
     * the pool has PVCs; the webhook writes them into the object only where PVCs make them
     * matter (the init container chowns to them). */
    rp->init_image = read_string(r, member(spec, "initContainer"), "image",
                                 RUNNER_POOL_DEFAULT_INIT_IMAGE);
    rp->run_as_user = read_int(sc, "runAsUser", RUNNER_POOL_DEFAULT_RUN_AS_USER);
    rp->run_as_group = read_int(sc, "runAsGroup", RUNNER_POOL_DEFAULT_RUN_AS_GROUP);
    rp->fs_group = read_int(sc, "fsGroup", RUNNER_POOL_DEFAULT_FS_GROUP);

    read_certs(r, spec, rp);
    read_capabilities(r, spec, rp);

    rp->image_pull_policy = read_string(r, spec, "imagePullPolicy", NULL);
    rp->service_account_name = read_string(r, spec, "serviceAccountName", NULL);
    rp->image_pull_secrets = read_json(r, spec, "imagePullSecrets");
    rp->resources = read_json(r, spec, "resources");
    rp->node_selector = read_json(r, spec, "nodeSelector");
    rp->tolerations = read_json(r, spec, "tolerations");
    rp->affinity = read_json(r, spec, "affinity");
    rp->labels = read_json(r, spec, "labels");
    rp->annotations = read_json(r, spec, "annotations");
}

/* ---- entry points ---------------------------------------------------------------------------- */

int runner_pool_parse(const json_t *obj, struct runner_pool **out, struct field_errors *errors,
                      struct err *err)
{
    struct field_errors fe;
    struct reader r = {.oom = false};
    struct runner_pool *rp = NULL;
    const json_t *meta;
    int rc = 0;

    field_errors_init(&fe);
    runner_pool_validate(obj, &fe);
    if (field_errors_any(&fe)) {
        char *joined = field_errors_join(&fe, "; ");
        rc = err_set(err, -EINVAL, "invalid RunnerPool: %s",
                     joined != NULL ? joined : "(out of memory)");
        free(joined);
        if (errors != NULL) {
            for (size_t i = 0; i < fe.count; i++)
                field_errors_add(errors, fe.items[i].path, "%s", fe.items[i].message);
            if (fe.out_of_memory)
                errors->out_of_memory = true;
        }
        goto out;
    }

    rp = calloc(1, sizeof(*rp));
    if (rp == NULL) {
        rc = err_set(err, -ENOMEM, "out of memory parsing a RunnerPool");
        goto out;
    }
    meta = member(obj, "metadata");
    rp->namespace = read_string(&r, meta, "namespace", "default");
    rp->name = read_string(&r, meta, "name", NULL);
    rp->uid = read_string(&r, meta, "uid", NULL);
    rp->generation = read_int(meta, "generation", 0);
    rp->deleting = member(meta, "deletionTimestamp") != NULL;
    read_spec(&r, member(obj, "spec"), rp);
    if (r.oom) {
        rc = err_set(err, -ENOMEM, "out of memory parsing a RunnerPool");
        goto out;
    }
    *out = rp;
    rp = NULL;

out:
    runner_pool_free(rp);
    field_errors_free(&fe);
    return rc;
}

void runner_pool_free(struct runner_pool *rp)
{
    if (rp == NULL)
        return;
    free(rp->namespace);
    free(rp->name);
    free(rp->uid);
    free(rp->az_do_url);
    free(rp->pool);
    free(rp->pat_secret_name);
    free(rp->image);
    for (size_t i = 0; i < rp->env_count; i++) {
        free(rp->env[i].name);
        free(rp->env[i].value);
        free(rp->env[i].secret_name);
        free(rp->env[i].secret_key);
    }
    free(rp->env);
    for (size_t i = 0; i < rp->pvc_count; i++) {
        free(rp->pvcs[i].name);
        free(rp->pvcs[i].mount_path);
        free(rp->pvcs[i].storage);
        free(rp->pvcs[i].storage_class);
    }
    free(rp->pvcs);
    free(rp->init_image);
    for (size_t i = 0; i < rp->cert_secret_count; i++)
        free(rp->cert_secrets[i]);
    free(rp->cert_secrets);
    for (size_t i = 0; i < rp->capability_count; i++) {
        free(rp->capabilities[i].key);
        free(rp->capabilities[i].image);
        free(rp->capabilities[i].env_name);
        free(rp->capabilities[i].env_value);
        free(rp->capabilities[i].label);
    }
    free(rp->capabilities);
    free(rp->image_pull_policy);
    free(rp->service_account_name);
    json_decref(rp->image_pull_secrets);
    json_decref(rp->resources);
    json_decref(rp->node_selector);
    json_decref(rp->tolerations);
    json_decref(rp->affinity);
    json_decref(rp->labels);
    json_decref(rp->annotations);
    free(rp);
}
