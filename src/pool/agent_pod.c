/* agent_pod.c - the agent Pod builder (see agent_pod.h for what the pod contains and why).
 *
 * Building is a sequence of json_object_set_new calls; a sticky 'oom' flag records the first
 * allocation failure so the code reads as the pod's shape, and the result is dropped once at the
 * end if anything failed. jansson's *_set_new and *_append_new take their value even on failure,
 * so nothing leaks on that path.
 *
 * Invariant: no value from the PAT Secret or from any Secret named in extraEnv is ever read here;
 * the pod only names Secrets (volume, secretKeyRef), and the kubelet resolves them. */
#include "pool/agent_pod.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/agent_meta.h"
#include "pool/runnerpool_validate.h"

/* Mode 0440 for the PAT (owner and fsGroup may read) and 0444 for public CA certificates. */
#define PAT_FILE_MODE 0440
#define CERT_FILE_MODE 0444

struct build {
    bool oom;
};

static void set(struct build *b, json_t *obj, const char *key, json_t *value)
{
    if (value == NULL || obj == NULL) {
        json_decref(value);
        b->oom = true;
        return;
    }
    if (json_object_set_new(obj, key, value) != 0)
        b->oom = true;
}

static void append(struct build *b, json_t *arr, json_t *value)
{
    if (value == NULL || arr == NULL) {
        json_decref(value);
        b->oom = true;
        return;
    }
    if (json_array_append_new(arr, value) != 0)
        b->oom = true;
}

/* A deep copy of an optional pass-through field, set only when present. */
static void set_copy(struct build *b, json_t *obj, const char *key, const json_t *value)
{
    if (value != NULL)
        set(b, obj, key, json_deep_copy(value));
}

static bool pvc_mounted(const struct runner_pool *rp, const struct agent_pod_opts *o, size_t i)
{
    return i >= 32 || (o->skip_pvcs & (UINT32_C(1) << i)) == 0 || !rp->pvcs[i].optional;
}

/* ---- metadata -------------------------------------------------------------------------------- */

static json_t *build_labels(struct build *b, const struct runner_pool *rp,
                            const struct agent_pod_opts *o,
                            const struct runner_pool_capability *cap)
{
    json_t *labels = json_object();
    json_t *ours = agent_meta_labels(rp, o->index);

    /* User labels first, then the operator's: user labels never replace the operator's keys,
     * which the run loop selects on. */
    if (labels != NULL && rp->labels != NULL && json_object_update(labels, rp->labels) != 0)
        b->oom = true;
    if (labels != NULL && ours != NULL && json_object_update(labels, ours) != 0)
        b->oom = true;
    if (ours == NULL)
        b->oom = true;
    json_decref(ours);
    if (cap != NULL)
        set(b, labels, AGENT_LABEL_CAPABILITY, json_string(cap->label));
    return labels;
}

static json_t *build_annotations(struct build *b, const struct runner_pool *rp,
                                 const struct agent_pod_opts *o,
                                 const struct runner_pool_capability *cap)
{
    json_t *ann = json_object();
    char generation[32];

    if (ann != NULL && rp->annotations != NULL && json_object_update(ann, rp->annotations) != 0)
        b->oom = true;
    set(b, ann, AGENT_ANNOTATION_RUN_ONCE, json_string(o->run_once ? "true" : "false"));
    snprintf(generation, sizeof(generation), "%" PRId64, rp->generation);
    set(b, ann, AGENT_ANNOTATION_GENERATION, json_string(generation));
    if (cap != NULL)
        set(b, ann, AGENT_ANNOTATION_CAPABILITY_KEY, json_string(cap->key));
    return ann;
}

/* ---- the agent container --------------------------------------------------------------------- */

static json_t *env_value(const char *name, const char *value)
{
    return json_pack("{s:s, s:s}", "name", name, "value", value);
}

/* "AZP_TOKEN,AZP_TOKEN_FILE" plus each extraEnv variable that comes from a Secret. */
static char *ignore_list(const struct runner_pool *rp)
{
    size_t len = sizeof("AZP_TOKEN,AZP_TOKEN_FILE");
    char *out;

    for (size_t i = 0; i < rp->env_count; i++) {
        if (rp->env[i].secret_name != NULL)
            len += 1 + strlen(rp->env[i].name);
    }
    out = malloc(len);
    if (out == NULL)
        return NULL;
    size_t used = (size_t)snprintf(out, len, "AZP_TOKEN,AZP_TOKEN_FILE");
    for (size_t i = 0; i < rp->env_count; i++) {
        if (rp->env[i].secret_name != NULL)
            used += (size_t)snprintf(out + used, len - used, ",%s", rp->env[i].name);
    }
    return out;
}

static json_t *build_env(struct build *b, const struct runner_pool *rp, const char *pod_name,
                         const struct agent_pod_opts *o, const struct runner_pool_capability *cap)
{
    json_t *env = json_array();
    char *ignore = ignore_list(rp);

    append(b, env, env_value("AZP_URL", rp->az_do_url));
    append(b, env, env_value("AZP_POOL", rp->pool));
    append(b, env, env_value("AZP_AGENT_NAME", pod_name));
    append(b, env, env_value("AZP_WORK", AGENT_WORK_DIR));
    append(b, env, env_value("AZP_TOKEN_FILE", RUNNER_POOL_PAT_MOUNT_DIR "/" AGENT_PAT_KEY));
    append(b, env, ignore != NULL ? env_value("VSO_AGENT_IGNORE", ignore) : NULL);
    free(ignore);
    if (o->run_once)
        append(b, env, env_value("AZP_RUN_ONCE", "true"));

    for (size_t i = 0; i < rp->env_count; i++) {
        const struct runner_pool_env *e = &rp->env[i];
        if (e->secret_name == NULL) {
            append(b, env, env_value(e->name, e->value));
            continue;
        }
        append(b, env,
               json_pack("{s:s, s:{s:{s:s, s:s, s:b}}}", "name", e->name, "valueFrom",
                         "secretKeyRef", "name", e->secret_name, "key", e->secret_key,
                         "optional", e->secret_optional));
    }
    if (cap != NULL)
        append(b, env, env_value(cap->env_name, cap->env_value));
    return env;
}

static json_t *build_agent_mounts(struct build *b, const struct runner_pool *rp,
                                  const struct agent_pod_opts *o)
{
    json_t *mounts = json_array();
    char path[512], volume[64];

    append(b, mounts, json_pack("{s:s, s:s, s:b}", "name", AGENT_PAT_VOLUME, "mountPath",
                                RUNNER_POOL_PAT_MOUNT_DIR, "readOnly", 1));
    for (size_t i = 0; i < rp->cert_secret_count; i++) {
        snprintf(volume, sizeof(volume), "trust-%zu", i);
        snprintf(path, sizeof(path), "%s/%s", RUNNER_POOL_CERTS_DIR, rp->cert_secrets[i]);
        append(b, mounts, json_pack("{s:s, s:s, s:b}", "name", volume, "mountPath", path,
                                    "readOnly", 1));
    }
    for (size_t i = 0; i < rp->pvc_count; i++) {
        if (!pvc_mounted(rp, o, i))
            continue;
        snprintf(volume, sizeof(volume), "pvc-%s", rp->pvcs[i].name);
        append(b, mounts,
               json_pack("{s:s, s:s}", "name", volume, "mountPath", rp->pvcs[i].mount_path));
    }
    return mounts;
}

static json_t *build_agent(struct build *b, const struct runner_pool *rp, const char *pod_name,
                           const struct agent_pod_opts *o, const struct runner_pool_capability *cap)
{
    json_t *c = json_object();

    set(b, c, "name", json_string(AGENT_CONTAINER_NAME));
    set(b, c, "image", json_string(cap != NULL ? cap->image : rp->image));
    if (rp->image_pull_policy != NULL)
        set(b, c, "imagePullPolicy", json_string(rp->image_pull_policy));
    if (o->run_once)
        set(b, c, "args", json_pack("[s]", "--once"));
    set(b, c, "env", build_env(b, rp, pod_name, o, cap));
    set(b, c, "volumeMounts", build_agent_mounts(b, rp, o));
    set_copy(b, c, "resources", rp->resources);
    set(b, c, "securityContext",
        json_pack("{s:b, s:I, s:I, s:b, s:{s:[s]}, s:{s:s}}", "runAsNonRoot", 1, "runAsUser",
                  (json_int_t)rp->run_as_user, "runAsGroup", (json_int_t)rp->run_as_group,
                  "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL", "seccompProfile",
                  "type", "RuntimeDefault"));
    return c;
}

/* ---- the init container ---------------------------------------------------------------------- */

/* The mount paths travel as positional arguments ("$@"), never inside the script text, so a
 * path can hold any character without becoming shell syntax.
 * LIMITATION: the recursive chown runs only when the mount root's owner differs from the wanted
 * one (a new volume, or a changed runAsUser/runAsGroup): it keeps a large kept workspace from
 * being walked at every start, but files below a correctly-owned root that another user created
 * (e.g. an earlier run interrupted mid-chown) keep their owner. Fix: a marker file written after
 * a complete chown, checked instead of the root's owner. */
static json_t *build_init(struct build *b, const struct runner_pool *rp,
                          const struct agent_pod_opts *o)
{
    json_t *c = json_object();
    json_t *command = json_array();
    json_t *mounts = json_array();
    char script[512], volume[64];

    snprintf(script, sizeof(script),
             "set -eu\n"
             "for d in \"$@\"; do\n"
             "  if [ \"$(stat -c %%u:%%g \"$d\")\" != \"%" PRId64 ":%" PRId64 "\" ]; then\n"
             "    chown -R %" PRId64 ":%" PRId64 " \"$d\"\n"
             "  fi\n"
             "  chmod 2770 \"$d\"\n"
             "done\n",
             rp->run_as_user, rp->run_as_group, rp->run_as_user, rp->run_as_group);
    append(b, command, json_string("sh"));
    append(b, command, json_string("-c"));
    append(b, command, json_string(script));
    append(b, command, json_string(AGENT_INIT_CONTAINER_NAME)); /* $0 */
    for (size_t i = 0; i < rp->pvc_count; i++) {
        if (!pvc_mounted(rp, o, i))
            continue;
        snprintf(volume, sizeof(volume), "pvc-%s", rp->pvcs[i].name);
        append(b, command, json_string(rp->pvcs[i].mount_path));
        append(b, mounts,
               json_pack("{s:s, s:s}", "name", volume, "mountPath", rp->pvcs[i].mount_path));
    }

    set(b, c, "name", json_string(AGENT_INIT_CONTAINER_NAME));
    set(b, c, "image", json_string(rp->init_image));
    if (rp->image_pull_policy != NULL)
        set(b, c, "imagePullPolicy", json_string(rp->image_pull_policy));
    set(b, c, "command", command);
    set(b, c, "volumeMounts", mounts);
    /* The agent's own resources: a namespace quota that demands limits on every container is
     * satisfied, and the pod's effective request (the max of init and app containers) does not
     * grow. */
    set_copy(b, c, "resources", rp->resources);
    /* Root only for chown/chmod. CHOWN changes owners, FOWNER allows chmod on files root does
     * not own, DAC_OVERRIDE lets chown -R enter directories a previous runAsUser made private;
     * everything else is dropped. runAsNonRoot false overrides the pod-level true for this
     * container alone. */
    set(b, c, "securityContext",
        json_pack("{s:I, s:I, s:b, s:b, s:{s:[s], s:[s, s, s]}}", "runAsUser", (json_int_t)0,
                  "runAsGroup", (json_int_t)0, "runAsNonRoot", 0, "allowPrivilegeEscalation", 0,
                  "capabilities", "drop", "ALL", "add", "CHOWN", "FOWNER", "DAC_OVERRIDE"));
    return c;
}

/* ---- volumes and the pod spec ---------------------------------------------------------------- */

static json_t *build_volumes(struct build *b, const struct runner_pool *rp,
                             const struct agent_pod_opts *o)
{
    json_t *volumes = json_array();
    char volume[64], claim[512];
    struct err err = {0};

    append(b, volumes,
           json_pack("{s:s, s:{s:s, s:[{s:s, s:s}], s:i}}", "name", AGENT_PAT_VOLUME, "secret",
                     "secretName", rp->pat_secret_name, "items", "key", AGENT_PAT_KEY, "path",
                     AGENT_PAT_KEY, "defaultMode", PAT_FILE_MODE));
    for (size_t i = 0; i < rp->cert_secret_count; i++) {
        snprintf(volume, sizeof(volume), "trust-%zu", i);
        append(b, volumes,
               json_pack("{s:s, s:{s:s, s:i}}", "name", volume, "secret", "secretName",
                         rp->cert_secrets[i], "defaultMode", CERT_FILE_MODE));
    }
    for (size_t i = 0; i < rp->pvc_count; i++) {
        if (!pvc_mounted(rp, o, i))
            continue;
        snprintf(volume, sizeof(volume), "pvc-%s", rp->pvcs[i].name);
        if (agent_pvc_name(rp->name, o->index, rp->pvcs[i].name, claim, sizeof(claim), &err) < 0) {
            b->oom = true; /* validated names always fit */
            continue;
        }
        append(b, volumes, json_pack("{s:s, s:{s:s}}", "name", volume, "persistentVolumeClaim",
                                     "claimName", claim));
    }
    return volumes;
}

static json_t *build_spec(struct build *b, const struct runner_pool *rp, const char *pod_name,
                          const struct agent_pod_opts *o, const struct runner_pool_capability *cap)
{
    json_t *spec = json_object();
    bool any_pvc = false;

    for (size_t i = 0; i < rp->pvc_count; i++)
        any_pvc = any_pvc || pvc_mounted(rp, o, i);

    set(b, spec, "restartPolicy", json_string("Never"));
    if (rp->service_account_name != NULL)
        set(b, spec, "serviceAccountName", json_string(rp->service_account_name));
    else
        set(b, spec, "automountServiceAccountToken", json_false());
    set(b, spec, "securityContext",
        json_pack("{s:b, s:I, s:I, s:I, s:{s:s}}", "runAsNonRoot", 1, "runAsUser",
                  (json_int_t)rp->run_as_user, "runAsGroup", (json_int_t)rp->run_as_group,
                  "fsGroup", (json_int_t)rp->fs_group, "seccompProfile", "type",
                  "RuntimeDefault"));
    set_copy(b, spec, "imagePullSecrets", rp->image_pull_secrets);
    set_copy(b, spec, "nodeSelector", rp->node_selector);
    set_copy(b, spec, "tolerations", rp->tolerations);
    set_copy(b, spec, "affinity", rp->affinity);
    if (any_pvc)
        set(b, spec, "initContainers", json_pack("[o]", build_init(b, rp, o)));
    set(b, spec, "containers", json_pack("[o]", build_agent(b, rp, pod_name, o, cap)));
    set(b, spec, "volumes", build_volumes(b, rp, o));
    return spec;
}

int agent_pod_build(const struct runner_pool *rp, const struct agent_pod_opts *opts, json_t **out,
                    struct err *err)
{
    const struct runner_pool_capability *cap = NULL;
    struct build b = {.oom = false};
    char pod_name[128];
    json_t *pod = NULL, *meta = NULL, *owners = NULL;
    int rc;

    rc = agent_pod_name(rp->name, opts->index, pod_name, sizeof(pod_name), err);
    if (rc < 0)
        return rc;
    if (opts->capability != NULL) {
        cap = runner_pool_capability_find(rp, opts->capability);
        if (cap == NULL)
            return err_set(err, -ENOENT, "capability '%s' is not in capabilityImages of '%s/%s'",
                           opts->capability, rp->namespace, rp->name);
    }
    for (size_t i = 0; i < rp->pvc_count && i < 32; i++) {
        if ((opts->skip_pvcs & (UINT32_C(1) << i)) != 0 && !rp->pvcs[i].optional)
            return err_set(err, -EINVAL, "pvc '%s' of '%s/%s' is not optional and cannot be "
                                         "left out of pod '%s'",
                           rp->pvcs[i].name, rp->namespace, rp->name, pod_name);
    }
    owners = agent_meta_owner_references(rp);
    if (owners == NULL && rp->uid == NULL)
        return err_set(err, -EINVAL, "RunnerPool '%s/%s' has no uid for the owner reference",
                       rp->namespace, rp->name);

    meta = json_object();
    set(&b, meta, "name", json_string(pod_name));
    set(&b, meta, "namespace", json_string(rp->namespace));
    set(&b, meta, "labels", build_labels(&b, rp, opts, cap));
    set(&b, meta, "annotations", build_annotations(&b, rp, opts, cap));
    set(&b, meta, "ownerReferences", owners);

    pod = json_object();
    set(&b, pod, "apiVersion", json_string("v1"));
    set(&b, pod, "kind", json_string("Pod"));
    set(&b, pod, "metadata", meta);
    set(&b, pod, "spec", build_spec(&b, rp, pod_name, opts, cap));
    if (b.oom) {
        json_decref(pod);
        return err_set(err, -ENOMEM, "out of memory building pod '%s'", pod_name);
    }
    *out = pod;
    return 0;
}
