/* test_agent_pod.c - the agent Pod and PVC builders, checked field by field on the advanced
 * example (init container, security context, trust-store mounts, extraEnv, PAT by reference,
 * PVC ownership) and against a reviewed golden fixture. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pool/agent_meta.h"
#include "pool/agent_pod.h"
#include "pool/agent_pvc.h"
#include "pool/runnerpool.h"
#include "test_runnerpool_util.h"

#define POOL_UID "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab"

/* ---- helpers --------------------------------------------------------------------------------- */

static struct runner_pool *load_pool(const char *fixture, const char *change)
{
    json_t *obj = rp_fixture(fixture);
    json_t *meta = json_object_get(obj, "metadata");
    struct runner_pool *rp = NULL;
    struct err err = {0};

    json_object_set_new(meta, "namespace", json_string("ci-agents"));
    json_object_set_new(meta, "uid", json_string(POOL_UID));
    json_object_set_new(meta, "generation", json_integer(3));
    if (change != NULL) {
        json_t *patch = json_loads(change, 0, NULL);
        assert_non_null(patch);
        rp_merge_patch(obj, patch);
        json_decref(patch);
    }
    if (runner_pool_parse(obj, &rp, NULL, &err) != 0)
        fail_msg("%s: %s", fixture, err.msg);
    json_decref(obj);
    return rp;
}

static json_t *build(const struct runner_pool *rp, unsigned index, const char *cap, bool once)
{
    struct agent_pod_opts o = {.index = index, .capability = cap, .run_once = once};
    json_t *pod = NULL;
    struct err err = {0};

    if (agent_pod_build(rp, &o, &pod, &err) != 0)
        fail_msg("build: %s", err.msg);
    return pod;
}

/* The element of array 'arr' whose "name" is 'name', or NULL. */
static json_t *named(const json_t *arr, const char *name)
{
    const json_t *item;
    size_t i;

    json_array_foreach(arr, i, item) {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return (json_t *)item;
    }
    return NULL;
}

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *spec_of(const json_t *pod)
{
    return json_object_get(pod, "spec");
}

static json_t *agent_of(const json_t *pod)
{
    return named(json_object_get(spec_of(pod), "containers"), AGENT_CONTAINER_NAME);
}

static const char *env_value(const json_t *pod, const char *name)
{
    return str_at(named(json_object_get(agent_of(pod), "env"), name), "value");
}

/* ---- the advanced pod, field by field -------------------------------------------------------- */

static void test_advanced_pod_identity_labels_and_owner(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pod = build(rp, 2, NULL, false);
    json_t *meta = json_object_get(pod, "metadata");
    json_t *labels = json_object_get(meta, "labels");

    assert_string_equal(str_at(pod, "apiVersion"), "v1");
    assert_string_equal(str_at(pod, "kind"), "Pod");
    assert_string_equal(str_at(meta, "name"), "linux-advanced-agent-2");
    assert_string_equal(str_at(meta, "namespace"), "ci-agents");
    assert_string_equal(str_at(labels, "app"), "azdo-runner");
    assert_string_equal(str_at(labels, "runner-pool"), "linux-advanced");
    assert_string_equal(str_at(labels, "app.kubernetes.io/managed-by"), "azdo-runner-operator");
    assert_string_equal(str_at(labels, "app.kubernetes.io/name"), "azdo-agent");
    assert_string_equal(str_at(labels, "devops.opentools.mf/pool"), "linux-advanced");
    assert_string_equal(str_at(labels, "devops.opentools.mf/ordinal"), "2");
    assert_null(json_object_get(labels, "devops.opentools.mf/capability"));
    assert_int_equal(json_object_size(labels), 6);

    json_t *owners = json_object_get(meta, "ownerReferences");
    assert_int_equal(json_array_size(owners), 1);
    json_t *owner = json_array_get(owners, 0);
    assert_string_equal(str_at(owner, "apiVersion"), "devops.opentools.mf/v1");
    assert_string_equal(str_at(owner, "kind"), "RunnerPool");
    assert_string_equal(str_at(owner, "name"), "linux-advanced");
    assert_string_equal(str_at(owner, "uid"), POOL_UID);
    assert_true(json_is_true(json_object_get(owner, "controller")));
    assert_true(json_is_true(json_object_get(owner, "blockOwnerDeletion")));

    json_t *ann = json_object_get(meta, "annotations");
    assert_string_equal(str_at(ann, "devops.opentools.mf/run-once"), "false");
    assert_string_equal(str_at(ann, "devops.opentools.mf/pool-generation"), "3");

    assert_string_equal(str_at(spec_of(pod), "restartPolicy"), "Never");
    assert_true(json_is_false(json_object_get(spec_of(pod), "automountServiceAccountToken")));
    json_decref(pod);
    runner_pool_free(rp);
}

static void test_advanced_pod_runs_non_root_with_a_minimal_root_init(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pod = build(rp, 2, NULL, false);
    json_t *spec = spec_of(pod);

    /* Pod level: non-root identity, fsGroup, RuntimeDefault seccomp. */
    json_t *psc = json_object_get(spec, "securityContext");
    assert_true(json_is_true(json_object_get(psc, "runAsNonRoot")));
    assert_int_equal(json_integer_value(json_object_get(psc, "runAsUser")), 1001);
    assert_int_equal(json_integer_value(json_object_get(psc, "runAsGroup")), 1001);
    assert_int_equal(json_integer_value(json_object_get(psc, "fsGroup")), 1001);
    assert_string_equal(str_at(json_object_get(psc, "seccompProfile"), "type"), "RuntimeDefault");

    /* The agent container. */
    json_t *agent = agent_of(pod);
    assert_string_equal(str_at(agent, "image"), "registry.example.com/azdo-agent:1.0");
    assert_null(json_object_get(agent, "args"));
    json_t *csc = json_object_get(agent, "securityContext");
    assert_true(json_is_true(json_object_get(csc, "runAsNonRoot")));
    assert_int_equal(json_integer_value(json_object_get(csc, "runAsUser")), 1001);
    assert_int_equal(json_integer_value(json_object_get(csc, "runAsGroup")), 1001);
    assert_true(json_is_false(json_object_get(csc, "allowPrivilegeEscalation")));
    json_t *drop = json_object_get(json_object_get(csc, "capabilities"), "drop");
    assert_int_equal(json_array_size(drop), 1);
    assert_string_equal(json_string_value(json_array_get(drop, 0)), "ALL");
    assert_null(json_object_get(json_object_get(csc, "capabilities"), "add"));
    assert_string_equal(str_at(json_object_get(csc, "seccompProfile"), "type"), "RuntimeDefault");
    assert_string_equal(
        str_at(json_object_get(json_object_get(agent, "resources"), "limits"), "memory"), "6Gi");

    /* The init container: root, only the three capabilities, both mount paths as arguments. */
    json_t *inits = json_object_get(spec, "initContainers");
    assert_int_equal(json_array_size(inits), 1);
    json_t *init = json_array_get(inits, 0);
    assert_string_equal(str_at(init, "name"), "fix-permissions");
    assert_string_equal(str_at(init, "image"), "busybox:1.36");
    json_t *isc = json_object_get(init, "securityContext");
    assert_int_equal(json_integer_value(json_object_get(isc, "runAsUser")), 0);
    assert_true(json_is_false(json_object_get(isc, "runAsNonRoot")));
    assert_true(json_is_false(json_object_get(isc, "allowPrivilegeEscalation")));
    json_t *caps = json_object_get(isc, "capabilities");
    assert_string_equal(json_string_value(json_array_get(json_object_get(caps, "drop"), 0)), "ALL");
    json_t *add = json_object_get(caps, "add");
    assert_int_equal(json_array_size(add), 3);
    assert_string_equal(json_string_value(json_array_get(add, 0)), "CHOWN");
    assert_string_equal(json_string_value(json_array_get(add, 1)), "FOWNER");
    assert_string_equal(json_string_value(json_array_get(add, 2)), "DAC_OVERRIDE");

    json_t *cmd = json_object_get(init, "command");
    assert_int_equal(json_array_size(cmd), 6);
    assert_string_equal(json_string_value(json_array_get(cmd, 0)), "sh");
    assert_string_equal(json_string_value(json_array_get(cmd, 1)), "-c");
    const char *script = json_string_value(json_array_get(cmd, 2));
    assert_non_null(strstr(script, "chown -R 1001:1001 \"$d\""));
    assert_non_null(strstr(script, "!= \"1001:1001\""));
    assert_non_null(strstr(script, "chmod 2770 \"$d\""));
    assert_string_equal(json_string_value(json_array_get(cmd, 4)), "/azp/_work");
    assert_string_equal(json_string_value(json_array_get(cmd, 5)), "/home/agent/.cache");
    json_t *imounts = json_object_get(init, "volumeMounts");
    assert_int_equal(json_array_size(imounts), 2);
    assert_string_equal(str_at(named(imounts, "pvc-workspace"), "mountPath"), "/azp/_work");
    assert_string_equal(str_at(named(imounts, "pvc-cache"), "mountPath"), "/home/agent/.cache");

    json_decref(pod);
    runner_pool_free(rp);
}

static void test_advanced_pod_env_references_secrets_and_never_holds_the_pat(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pod = build(rp, 2, NULL, false);
    json_t *env = json_object_get(agent_of(pod), "env");

    assert_string_equal(env_value(pod, "AZP_URL"), "https://dev.azure.com/my-org");
    assert_string_equal(env_value(pod, "AZP_POOL"), "linux-advanced");
    assert_string_equal(env_value(pod, "AZP_AGENT_NAME"), "linux-advanced-agent-2");
    assert_string_equal(env_value(pod, "AZP_WORK"), "/azp/_work");
    assert_string_equal(env_value(pod, "AZP_TOKEN_FILE"),
                        "/var/run/secrets/devops.opentools.mf/pat/token");
    /* The token variables and the Secret-backed NPM_TOKEN are not published as capabilities. */
    assert_string_equal(env_value(pod, "VSO_AGENT_IGNORE"), "AZP_TOKEN,AZP_TOKEN_FILE,NPM_TOKEN");
    assert_null(named(env, "AZP_TOKEN"));
    assert_null(named(env, "AZP_RUN_ONCE"));

    /* extraEnv: a literal value and a secretKeyRef, as given. */
    assert_string_equal(env_value(pod, "NODE_EXTRA_CA_CERTS"), "/etc/ssl/certs/corp-root-ca/ca.crt");
    json_t *npm = named(env, "NPM_TOKEN");
    assert_null(json_object_get(npm, "value"));
    json_t *ref = json_object_get(json_object_get(npm, "valueFrom"), "secretKeyRef");
    assert_string_equal(str_at(ref, "name"), "npm-auth");
    assert_string_equal(str_at(ref, "key"), "token");
    assert_true(json_is_false(json_object_get(ref, "optional")));

    /* The PAT reaches the agent only as a read-only file from the Secret. */
    json_t *pat = named(json_object_get(spec_of(pod), "volumes"), "azdo-pat");
    json_t *secret = json_object_get(pat, "secret");
    assert_string_equal(str_at(secret, "secretName"), "azdo-pat");
    assert_int_equal(json_array_size(json_object_get(secret, "items")), 1);
    assert_string_equal(str_at(json_array_get(json_object_get(secret, "items"), 0), "key"),
                        "token");
    assert_int_equal(json_integer_value(json_object_get(secret, "defaultMode")), 0440);
    json_t *mount = named(json_object_get(agent_of(pod), "volumeMounts"), "azdo-pat");
    assert_string_equal(str_at(mount, "mountPath"), "/var/run/secrets/devops.opentools.mf/pat");
    assert_true(json_is_true(json_object_get(mount, "readOnly")));

    /* No literal env value anywhere carries a token: every *TOKEN* variable is a reference or
     * the file path. */
    const json_t *e;
    size_t i;
    json_array_foreach(env, i, e) {
        const char *name = str_at(e, "name");
        if (strstr(name, "TOKEN") != NULL && strcmp(name, "AZP_TOKEN_FILE") != 0)
            assert_null(json_object_get(e, "value"));
    }
    json_decref(pod);
    runner_pool_free(rp);
}

static void test_advanced_pod_mounts_trust_stores_and_pvcs(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pod = build(rp, 2, NULL, false);
    json_t *volumes = json_object_get(spec_of(pod), "volumes");
    json_t *mounts = json_object_get(agent_of(pod), "volumeMounts");

    json_t *trust = named(volumes, "trust-0");
    assert_string_equal(str_at(json_object_get(trust, "secret"), "secretName"), "corp-root-ca");
    json_t *tmount = named(mounts, "trust-0");
    assert_string_equal(str_at(tmount, "mountPath"), "/etc/ssl/certs/corp-root-ca");
    assert_true(json_is_true(json_object_get(tmount, "readOnly")));

    assert_string_equal(
        str_at(json_object_get(named(volumes, "pvc-workspace"), "persistentVolumeClaim"),
               "claimName"),
        "linux-advanced-agent-2-workspace");
    assert_string_equal(
        str_at(json_object_get(named(volumes, "pvc-cache"), "persistentVolumeClaim"), "claimName"),
        "linux-advanced-agent-2-cache");
    assert_string_equal(str_at(named(mounts, "pvc-workspace"), "mountPath"), "/azp/_work");
    assert_null(json_object_get(named(mounts, "pvc-workspace"), "readOnly"));
    assert_int_equal(json_array_size(volumes), 4);
    assert_int_equal(json_array_size(mounts), 4);
    json_decref(pod);
    runner_pool_free(rp);
}

/* The whole pod, compared with a reviewed fixture: catches any field added or lost. */
static void test_advanced_pod_matches_the_golden_fixture(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pod = build(rp, 2, NULL, false);
    json_t *want = rp_fixture("advanced-pod-2.json");

    if (!json_equal(pod, want)) {
        /* cmocka truncates long messages: leave the whole pod in a file for the diff. */
        const char *tmp = getenv("TMPDIR");
        char path[512];
        snprintf(path, sizeof(path), "%s/advanced-pod-2.actual.json",
                 tmp != NULL ? tmp : "/tmp");
        json_dump_file(pod, path, JSON_INDENT(2) | JSON_SORT_KEYS);
        fail_msg("pod differs from tests/fixtures/pool/advanced-pod-2.json; built pod in %s",
                 path);
    }
    json_decref(want);
    json_decref(pod);
    runner_pool_free(rp);
}

/* ---- variants -------------------------------------------------------------------------------- */

static void test_capability_pod_uses_its_image_and_advertises_the_capability(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool(
        "advanced.json", "{\"spec\":{\"capabilityImages\":{\"java\":\"reg/java:1\","
                         "\"jdk -equals 17\":\"reg/jdk:17\"}}}");
    json_t *pod = build(rp, 1, "java", false);
    json_t *meta = json_object_get(pod, "metadata");

    assert_string_equal(str_at(agent_of(pod), "image"), "reg/java:1");
    assert_string_equal(env_value(pod, "java"), "true");
    assert_string_equal(str_at(json_object_get(meta, "labels"), "devops.opentools.mf/capability"),
                        "java");
    assert_string_equal(str_at(json_object_get(meta, "annotations"),
                               "devops.opentools.mf/capability-key"),
                        "java");
    json_decref(pod);

    pod = build(rp, 4, "jdk -equals 17", false);
    meta = json_object_get(pod, "metadata");
    assert_string_equal(str_at(agent_of(pod), "image"), "reg/jdk:17");
    assert_string_equal(env_value(pod, "jdk"), "17");
    assert_string_equal(str_at(json_object_get(meta, "labels"), "devops.opentools.mf/capability"),
                        "jdk_17");
    assert_string_equal(str_at(json_object_get(meta, "annotations"),
                               "devops.opentools.mf/capability-key"),
                        "jdk -equals 17");
    /* The capability variable comes last, after extraEnv. */
    json_t *env = json_object_get(agent_of(pod), "env");
    assert_string_equal(str_at(json_array_get(env, json_array_size(env) - 1), "name"), "jdk");
    json_decref(pod);
    runner_pool_free(rp);
}

static void test_run_once_slot_passes_once_to_the_agent(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("basic.json", NULL);
    json_t *pod = build(rp, 3, NULL, true);
    json_t *args = json_object_get(agent_of(pod), "args");

    assert_int_equal(json_array_size(args), 1);
    assert_string_equal(json_string_value(json_array_get(args, 0)), "--once");
    assert_string_equal(env_value(pod, "AZP_RUN_ONCE"), "true");
    assert_string_equal(
        str_at(json_object_get(json_object_get(pod, "metadata"), "annotations"),
               "devops.opentools.mf/run-once"),
        "true");
    /* No PVCs: no init container, no PVC volumes. */
    assert_null(json_object_get(spec_of(pod), "initContainers"));
    assert_int_equal(json_array_size(json_object_get(spec_of(pod), "volumes")), 1);
    assert_string_equal(env_value(pod, "VSO_AGENT_IGNORE"), "AZP_TOKEN,AZP_TOKEN_FILE");
    json_decref(pod);
    runner_pool_free(rp);
}

static void test_pass_through_fields_reach_the_pod(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool(
        "corporate.json",
        "{\"spec\":{\"serviceAccountName\":\"builder\",\"tolerations\":[{\"key\":\"ci\","
        "\"operator\":\"Exists\"}],\"affinity\":{\"nodeAffinity\":{\"x\":1}}}}");
    json_t *pod = build(rp, 1, NULL, false);
    json_t *spec = spec_of(pod);
    json_t *meta = json_object_get(pod, "metadata");

    assert_string_equal(str_at(spec, "serviceAccountName"), "builder");
    assert_null(json_object_get(spec, "automountServiceAccountToken"));
    assert_string_equal(str_at(json_array_get(json_object_get(spec, "imagePullSecrets"), 0),
                               "name"),
                        "corp-registry");
    assert_string_equal(str_at(json_object_get(spec, "nodeSelector"), "kubernetes.io/os"), "linux");
    assert_string_equal(str_at(json_array_get(json_object_get(spec, "tolerations"), 0), "key"),
                        "ci");
    assert_non_null(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"));
    assert_string_equal(str_at(agent_of(pod), "imagePullPolicy"), "IfNotPresent");
    assert_string_equal(str_at(json_object_get(meta, "labels"), "team"), "platform");
    assert_string_equal(str_at(json_object_get(meta, "annotations"), "example.com/owner"),
                        "platform-team");
    assert_string_equal(env_value(pod, "VSO_AGENT_IGNORE"),
                        "AZP_TOKEN,AZP_TOKEN_FILE,VSTS_HTTP_PROXY_PASSWORD");
    json_decref(pod);
    runner_pool_free(rp);
}

/* Even if a reserved key slips past validation (an object stored before the webhook), the
 * operator's labels and annotations win. */
static void test_user_labels_never_override_the_operators(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("basic.json", NULL);
    rp->labels = json_pack("{s:s, s:s, s:s}", "app", "evil", "devops.opentools.mf/ordinal", "9",
                           "team", "ok");
    rp->annotations = json_pack("{s:s}", "devops.opentools.mf/run-once", "true");
    json_t *pod = build(rp, 1, NULL, false);
    json_t *meta = json_object_get(pod, "metadata");

    assert_string_equal(str_at(json_object_get(meta, "labels"), "app"), "azdo-runner");
    assert_string_equal(str_at(json_object_get(meta, "labels"), "devops.opentools.mf/ordinal"),
                        "1");
    assert_string_equal(str_at(json_object_get(meta, "labels"), "team"), "ok");
    assert_string_equal(str_at(json_object_get(meta, "annotations"),
                               "devops.opentools.mf/run-once"),
                        "false");
    json_decref(pod);
    runner_pool_free(rp);
}

static void test_missing_optional_pvc_is_left_out(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool(
        "advanced.json",
        "{\"spec\":{\"pvcs\":[{\"name\":\"workspace\",\"mountPath\":\"/azp/_work\","
        "\"storage\":\"1Gi\"},{\"name\":\"seed\",\"mountPath\":\"/seed\",\"createPvc\":false,"
        "\"optional\":true}]}}");
    struct agent_pod_opts o = {.index = 1, .skip_pvcs = 1u << 1};
    json_t *pod = NULL;
    struct err err = {0};

    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), 0);
    json_t *volumes = json_object_get(spec_of(pod), "volumes");
    assert_non_null(named(volumes, "pvc-workspace"));
    assert_null(named(volumes, "pvc-seed"));
    assert_null(named(json_object_get(agent_of(pod), "volumeMounts"), "pvc-seed"));
    json_t *cmd = json_object_get(json_array_get(json_object_get(spec_of(pod), "initContainers"), 0),
                                  "command");
    assert_int_equal(json_array_size(cmd), 5);
    json_decref(pod);

    /* A present optional PVC is mounted. */
    o.skip_pvcs = 0;
    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), 0);
    assert_non_null(named(json_object_get(spec_of(pod), "volumes"), "pvc-seed"));
    json_decref(pod);

    /* A required PVC cannot be skipped. */
    pod = NULL;
    o.skip_pvcs = 1u << 0;
    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), -EINVAL);
    assert_null(pod);
    assert_string_equal(err.msg, "pvc 'workspace' of 'ci-agents/linux-advanced' is not optional "
                                 "and cannot be left out of pod 'linux-advanced-agent-1'");
    runner_pool_free(rp);
}

static void test_builder_refuses_bad_requests(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    struct agent_pod_opts o = {.index = RUNNER_POOL_INDEX_MAX + 1};
    json_t *pod = NULL;
    struct err err = {0};

    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), -ERANGE);
    o.index = RUNNER_POOL_INDEX_MAX;
    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), 0);
    assert_string_equal(str_at(json_object_get(pod, "metadata"), "name"),
                        "linux-advanced-agent-999");
    json_decref(pod);
    pod = NULL;
    o.index = 1;
    o.capability = "gpu";
    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), -ENOENT);
    assert_string_equal(err.msg, "capability 'gpu' is not in capabilityImages of "
                                 "'ci-agents/linux-advanced'");
    o.capability = NULL;
    free(rp->uid);
    rp->uid = NULL;
    assert_int_equal(agent_pod_build(rp, &o, &pod, &err), -EINVAL);
    assert_null(pod);
    runner_pool_free(rp);
}

/* ---- PVCs ------------------------------------------------------------------------------------ */

static void test_kept_pvc_has_no_owner_and_cache_pvc_is_owned(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool("advanced.json", NULL);
    json_t *pvc = NULL;
    struct err err = {0};

    /* workspace: deleteWithAgent false -> kept across agents and across the pool's deletion. */
    assert_int_equal(agent_pvc_build(rp, 2, 0, &pvc, &err), 0);
    json_t *meta = json_object_get(pvc, "metadata");
    assert_string_equal(str_at(pvc, "kind"), "PersistentVolumeClaim");
    assert_string_equal(str_at(meta, "name"), "linux-advanced-agent-2-workspace");
    assert_string_equal(str_at(meta, "namespace"), "ci-agents");
    assert_null(json_object_get(meta, "ownerReferences"));
    json_t *labels = json_object_get(meta, "labels");
    assert_string_equal(str_at(labels, "devops.opentools.mf/pvc"), "workspace");
    assert_string_equal(str_at(labels, "devops.opentools.mf/ordinal"), "2");
    assert_string_equal(str_at(labels, "devops.opentools.mf/pool"), "linux-advanced");
    assert_string_equal(str_at(labels, "app.kubernetes.io/managed-by"), "azdo-runner-operator");
    assert_null(json_object_get(labels, "devops.opentools.mf/capability"));
    json_t *spec = json_object_get(pvc, "spec");
    assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "accessModes"), 0)),
                        "ReadWriteOnce");
    assert_string_equal(
        str_at(json_object_get(json_object_get(spec, "resources"), "requests"), "storage"),
        "20Gi");
    assert_null(json_object_get(spec, "storageClassName"));
    json_decref(pvc);

    /* cache: deleteWithAgent true -> owned by the RunnerPool. */
    assert_int_equal(agent_pvc_build(rp, 2, 1, &pvc, &err), 0);
    meta = json_object_get(pvc, "metadata");
    assert_string_equal(str_at(meta, "name"), "linux-advanced-agent-2-cache");
    json_t *owners = json_object_get(meta, "ownerReferences");
    assert_int_equal(json_array_size(owners), 1);
    assert_string_equal(str_at(json_array_get(owners, 0), "uid"), POOL_UID);
    assert_string_equal(str_at(json_array_get(owners, 0), "kind"), "RunnerPool");
    json_decref(pvc);
    runner_pool_free(rp);
}

static void test_pvc_storage_class_and_refusals(void **state)
{
    (void)state;
    struct runner_pool *rp = load_pool(
        "advanced.json",
        "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\",\"storage\":\"1Gi\","
        "\"storageClass\":\"fast-ssd\"},{\"name\":\"b\",\"mountPath\":\"/b\",\"storage\":\"2Gi\","
        "\"storageClass\":\"\"},{\"name\":\"c\",\"mountPath\":\"/c\",\"createPvc\":false}]}}");
    json_t *pvc = NULL;
    struct err err = {0};

    assert_int_equal(agent_pvc_build(rp, 1, 0, &pvc, &err), 0);
    assert_string_equal(str_at(json_object_get(pvc, "spec"), "storageClassName"), "fast-ssd");
    json_decref(pvc);
    assert_int_equal(agent_pvc_build(rp, 1, 1, &pvc, &err), 0);
    assert_string_equal(str_at(json_object_get(pvc, "spec"), "storageClassName"), "");
    json_decref(pvc);
    pvc = NULL;
    assert_int_equal(agent_pvc_build(rp, 1, 2, &pvc, &err), -EINVAL);
    assert_string_equal(err.msg, "pvc 'c' has createPvc false: the operator does not create "
                                 "claim 'linux-advanced-agent-1-c'");
    assert_int_equal(agent_pvc_build(rp, 1, 3, &pvc, &err), -ERANGE);
    assert_int_equal(agent_pvc_build(rp, RUNNER_POOL_INDEX_MAX + 1, 0, &pvc, &err), -ERANGE);
    assert_null(pvc);
    runner_pool_free(rp);
}

static void test_names_and_selectors(void **state)
{
    (void)state;
    char buf[128];
    struct err err = {0};

    assert_int_equal(agent_pod_name("my-pool", 7, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "my-pool-agent-7");
    assert_int_equal(agent_pvc_name("my-pool", 12, "cache", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "my-pool-agent-12-cache");
    assert_int_equal(agent_pod_name("my-pool", 7, buf, 10, &err), -ENAMETOOLONG);
    assert_int_equal(agent_pool_selector("my-pool", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "app.kubernetes.io/managed-by=azdo-runner-operator,"
                             "devops.opentools.mf/pool=my-pool");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advanced_pod_identity_labels_and_owner),
        cmocka_unit_test(test_advanced_pod_runs_non_root_with_a_minimal_root_init),
        cmocka_unit_test(test_advanced_pod_env_references_secrets_and_never_holds_the_pat),
        cmocka_unit_test(test_advanced_pod_mounts_trust_stores_and_pvcs),
        cmocka_unit_test(test_advanced_pod_matches_the_golden_fixture),
        cmocka_unit_test(test_capability_pod_uses_its_image_and_advertises_the_capability),
        cmocka_unit_test(test_run_once_slot_passes_once_to_the_agent),
        cmocka_unit_test(test_pass_through_fields_reach_the_pod),
        cmocka_unit_test(test_user_labels_never_override_the_operators),
        cmocka_unit_test(test_missing_optional_pvc_is_left_out),
        cmocka_unit_test(test_builder_refuses_bad_requests),
        cmocka_unit_test(test_kept_pvc_has_no_owner_and_cache_pvc_is_owned),
        cmocka_unit_test(test_pvc_storage_class_and_refusals),
        cmocka_unit_test(test_names_and_selectors),
    };
    return cmocka_run_group_tests_name("agent_pod", tests, NULL, NULL);
}
