/* test_runnerpool.c - RunnerPool parsing, defaults (in memory and as a JSON Patch), validation
 * of create and update, and the consistency of the CRD and examples with the C constants. */
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
#include "pool/field_errors.h"
#include "pool/runnerpool.h"
#include "pool/runnerpool_defaults.h"
#include "pool/runnerpool_validate.h"
#include "test_runnerpool_util.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Every error of 'obj' as "path: message" lines; new string. */
static char *errors_of(const json_t *obj)
{
    struct field_errors fe;
    field_errors_init(&fe);
    runner_pool_validate(obj, &fe);
    char *joined = field_errors_join(&fe, "\n");
    field_errors_free(&fe);
    assert_non_null(joined);
    return joined;
}

static struct runner_pool *parse_ok(const json_t *obj)
{
    struct runner_pool *rp = NULL;
    struct err err = {0};
    int rc = runner_pool_parse(obj, &rp, NULL, &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    assert_non_null(rp);
    return rp;
}

static json_t *example(const char *name)
{
    char file[64];
    snprintf(file, sizeof(file), "%s.json", name);
    json_t *obj = rp_fixture(file);
    json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string("ci-agents"));
    return obj;
}

/* ---- the examples ---------------------------------------------------------------------------- */

static void test_basic_example_parses_with_documented_defaults(void **state)
{
    (void)state;
    json_t *obj = example("basic");
    struct runner_pool *rp = parse_ok(obj);

    assert_string_equal(rp->namespace, "ci-agents");
    assert_string_equal(rp->name, "linux-basic");
    assert_string_equal(rp->az_do_url, "https://dev.azure.com/my-org");
    assert_string_equal(rp->pool, "linux-basic");
    assert_string_equal(rp->pat_secret_name, "azdo-pat");
    assert_string_equal(rp->image, "registry.example.com/azdo-agent:1.0");
    assert_int_equal(rp->max_agents, 3);
    assert_int_equal(rp->min_agents, 0);
    assert_int_equal(rp->ttl_idle_seconds, 0);
    assert_int_equal(rp->poll_interval_seconds, 10);
    assert_int_equal(rp->run_as_user, 1000);
    assert_int_equal(rp->run_as_group, 1000);
    assert_int_equal(rp->fs_group, 1000);
    assert_string_equal(rp->init_image, "busybox:latest");
    assert_int_equal(rp->env_count, 0);
    assert_int_equal(rp->pvc_count, 0);
    assert_int_equal(rp->cert_secret_count, 0);
    assert_false(rp->capability_aware);
    assert_int_equal(rp->capability_count, 0);
    assert_null(rp->image_pull_policy);
    assert_null(rp->resources);
    assert_null(rp->uid);
    assert_false(rp->deleting);

    runner_pool_free(rp);
    json_decref(obj);
}

static void test_corporate_example_keeps_secret_refs_as_refs(void **state)
{
    (void)state;
    json_t *obj = example("corporate");
    struct runner_pool *rp = parse_ok(obj);

    assert_int_equal(rp->min_agents, 1);
    assert_int_equal(rp->max_agents, 5);
    assert_int_equal(rp->ttl_idle_seconds, 600);
    assert_int_equal(rp->env_count, 7);
    assert_string_equal(rp->env[0].name, "VSTS_HTTP_PROXY");
    assert_string_equal(rp->env[0].value, "http://proxy.corp.example.com:3128");
    assert_null(rp->env[0].secret_name);
    assert_string_equal(rp->env[2].name, "VSTS_HTTP_PROXY_PASSWORD");
    assert_null(rp->env[2].value);
    assert_string_equal(rp->env[2].secret_name, "corp-proxy");
    assert_string_equal(rp->env[2].secret_key, "password");
    assert_false(rp->env[2].secret_optional);
    assert_int_equal(rp->cert_secret_count, 1);
    assert_string_equal(rp->cert_secrets[0], "corp-root-ca");
    assert_string_equal(rp->image_pull_policy, "IfNotPresent");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(rp->image_pull_secrets, 0), "name")),
                        "corp-registry");
    assert_string_equal(json_string_value(json_object_get(rp->labels, "team")), "platform");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rp->resources, "requests"), "cpu")),
        "500m");

    runner_pool_free(rp);
    json_decref(obj);
}

static void test_advanced_example_fills_pvc_defaults(void **state)
{
    (void)state;
    json_t *obj = example("advanced");
    struct runner_pool *rp = parse_ok(obj);

    assert_int_equal(rp->pvc_count, 2);
    assert_string_equal(rp->pvcs[0].name, "workspace");
    assert_string_equal(rp->pvcs[0].mount_path, "/azp/_work");
    assert_string_equal(rp->pvcs[0].storage, "20Gi");
    assert_null(rp->pvcs[0].storage_class);
    assert_true(rp->pvcs[0].create_pvc);
    assert_false(rp->pvcs[0].optional);
    assert_false(rp->pvcs[0].delete_with_agent);
    assert_string_equal(rp->pvcs[1].name, "cache");
    assert_true(rp->pvcs[1].delete_with_agent);
    assert_string_equal(rp->init_image, "busybox:1.36");
    assert_int_equal(rp->run_as_user, 1001);
    assert_int_equal(rp->run_as_group, 1001);
    assert_int_equal(rp->fs_group, 1001);
    assert_true(rp->capability_aware);
    assert_int_equal(rp->capability_count, 1);
    assert_string_equal(rp->capabilities[0].key, "java");
    assert_string_equal(rp->capabilities[0].image, "registry.example.com/azdo-agent-java:1.0");
    assert_string_equal(rp->capabilities[0].env_name, "java");
    assert_string_equal(rp->capabilities[0].env_value, "true");
    assert_string_equal(rp->capabilities[0].label, "java");
    assert_ptr_equal(runner_pool_capability_find(rp, "java"), &rp->capabilities[0]);
    assert_null(runner_pool_capability_find(rp, "gpu"));

    runner_pool_free(rp);
    json_decref(obj);
}

/* The JSON fixtures the C tests use must be the shipped YAML, and every shipped example (the
 * simulated-world copies included) must pass validation. */
static void test_shipped_yaml_examples_match_fixtures_and_validate(void **state)
{
    (void)state;
    static const char *const names[] = {"basic", "corporate", "advanced"};
    char path[256];

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "crds/examples/%s.yaml", names[i]);
        json_t *yaml = rp_yaml(path, false);
        if (yaml == NULL)
            skip(); /* no Python with yaml: the JSON fixtures still cover the content */
        snprintf(path, sizeof(path), "%s.json", names[i]);
        json_t *fixture = rp_fixture(path);
        if (!json_equal(yaml, fixture))
            fail_msg("crds/examples/%s.yaml differs from tests/fixtures/pool/%s", names[i], path);
        json_decref(fixture);
        json_decref(yaml);

        snprintf(path, sizeof(path), "crds/examples/sim/%s.yaml", names[i]);
        json_t *sim = rp_yaml(path, false);
        char *errors = errors_of(sim);
        if (errors[0] != '\0')
            fail_msg("%s: %s", path, errors);
        assert_string_equal(json_string_value(json_object_get(json_object_get(sim, "spec"),
                                                              "azDoUrl")),
                            "http://127.0.0.1:18081/demo-org");
        assert_string_equal(json_string_value(json_object_get(json_object_get(sim, "spec"),
                                                              "patSecretName")),
                            "azdo-pat");
        free(errors);
        json_decref(sim);
    }
}

/* Every Secret the simulated-world examples reference is in sim/secrets.yaml, except the PAT,
 * which the demo creates. */
static void test_sim_secrets_cover_every_reference_but_the_pat(void **state)
{
    (void)state;
    static const char *const names[] = {"basic", "corporate", "advanced"};
    json_t *secrets = rp_yaml("crds/examples/sim/secrets.yaml", true);
    if (secrets == NULL)
        skip();

    for (size_t i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof(path), "crds/examples/sim/%s.yaml", names[i]);
        json_t *obj = rp_yaml(path, false);
        struct runner_pool *rp = parse_ok(obj);
        const char *wanted[64];
        size_t n = 0;

        for (size_t k = 0; k < rp->env_count; k++) {
            if (rp->env[k].secret_name != NULL)
                wanted[n++] = rp->env[k].secret_name;
        }
        for (size_t k = 0; k < rp->cert_secret_count; k++)
            wanted[n++] = rp->cert_secrets[k];
        for (size_t k = 0; k < json_array_size(rp->image_pull_secrets); k++)
            wanted[n++] = json_string_value(
                json_object_get(json_array_get(rp->image_pull_secrets, k), "name"));
        for (size_t k = 0; k < n; k++) {
            bool found = false;
            for (size_t s = 0; s < json_array_size(secrets); s++) {
                json_t *meta = json_object_get(json_array_get(secrets, s), "metadata");
                found = found ||
                        strcmp(json_string_value(json_object_get(meta, "name")), wanted[k]) == 0;
            }
            if (!found)
                fail_msg("%s references Secret '%s', missing from sim/secrets.yaml", path,
                         wanted[k]);
        }
        for (size_t s = 0; s < json_array_size(secrets); s++) {
            json_t *meta = json_object_get(json_array_get(secrets, s), "metadata");
            assert_string_not_equal(json_string_value(json_object_get(meta, "name")),
                                    rp->pat_secret_name);
        }
        runner_pool_free(rp);
        json_decref(obj);
    }
    json_decref(secrets);
}

/* The CRD's defaults, caps and printer columns are the ones the C code documents. */
static void test_crd_schema_agrees_with_the_code(void **state)
{
    (void)state;
    json_t *crd = rp_yaml("crds/runnerpools.devops.opentools.mf.yaml", false);
    if (crd == NULL)
        skip();
    json_t *version = json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0);
    json_t *spec = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(version, "schema"),
                                                        "openAPIV3Schema"),
                                        "properties"),
                        "spec"),
        "properties");
    json_t *pvc = json_object_get(json_object_get(json_object_get(spec, "pvcs"), "items"),
                                  "properties");
    json_t *sc = json_object_get(json_object_get(spec, "securityContext"), "properties");

#define DEFAULT_OF(obj, key) json_object_get(json_object_get(obj, key), "default")
    assert_int_equal(json_integer_value(DEFAULT_OF(spec, "maxAgents")),
                     RUNNER_POOL_DEFAULT_MAX_AGENTS);
    assert_int_equal(json_integer_value(DEFAULT_OF(spec, "minAgents")),
                     RUNNER_POOL_DEFAULT_MIN_AGENTS);
    assert_int_equal(json_integer_value(DEFAULT_OF(spec, "ttlIdleSeconds")),
                     RUNNER_POOL_DEFAULT_TTL_IDLE_SECONDS);
    /* Absent pollIntervalSeconds means the operator's --poll-interval: no schema default. */
    assert_null(DEFAULT_OF(spec, "pollIntervalSeconds"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "maxAgents"),
                                                        "maximum")),
                     RUNNER_POOL_MAX_AGENTS_CAP);
    assert_int_equal(json_integer_value(DEFAULT_OF(sc, "runAsUser")),
                     RUNNER_POOL_DEFAULT_RUN_AS_USER);
    assert_int_equal(json_integer_value(DEFAULT_OF(sc, "runAsGroup")),
                     RUNNER_POOL_DEFAULT_RUN_AS_GROUP);
    assert_int_equal(json_integer_value(DEFAULT_OF(sc, "fsGroup")),
                     RUNNER_POOL_DEFAULT_FS_GROUP);
    assert_true(json_is_true(DEFAULT_OF(pvc, "createPvc")));
    assert_true(json_is_false(DEFAULT_OF(pvc, "optional")));
    assert_true(json_is_false(DEFAULT_OF(pvc, "deleteWithAgent")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(pvc, "name"),
                                                        "maxLength")),
                     RUNNER_POOL_PVC_NAME_MAX);
    assert_string_equal(json_string_value(DEFAULT_OF(
                            json_object_get(json_object_get(spec, "initContainer"), "properties"),
                            "image")),
                        RUNNER_POOL_DEFAULT_INIT_IMAGE);
#undef DEFAULT_OF

    /* Every spec field the validator knows is in the schema (else the API server prunes it). */
    static const char *const fields[] = {
        "azDoUrl", "pool", "patSecretName", "image", "maxAgents", "minAgents", "ttlIdleSeconds",
        "pollIntervalSeconds", "extraEnv", "pvcs", "initContainer", "securityContext",
        "certTrustStore", "capabilityAware", "capabilityImages", "imagePullPolicy",
        "imagePullSecrets", "resources", "nodeSelector", "tolerations", "affinity",
        "serviceAccountName", "labels", "annotations"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (json_object_get(spec, fields[i]) == NULL)
            fail_msg("spec.%s missing from the CRD schema", fields[i]);
    }
    assert_int_equal(json_object_size(spec), sizeof(fields) / sizeof(fields[0]));

    static const char *const columns[][2] = {
        {"Status", ".status.state"},        {"Pool", ".spec.pool"},
        {"Organization", ".status.organization"}, {"Queued", ".status.queuedJobs"},
        {"Agents", ".status.agentsDisplay"}, {"Running", ".status.runningAgents"},
        {"Age", ".metadata.creationTimestamp"}};
    json_t *cols = json_object_get(version, "additionalPrinterColumns");
    assert_int_equal(json_array_size(cols), 7);
    for (size_t i = 0; i < 7; i++) {
        json_t *c = json_array_get(cols, i);
        assert_string_equal(json_string_value(json_object_get(c, "name")), columns[i][0]);
        assert_string_equal(json_string_value(json_object_get(c, "jsonPath")), columns[i][1]);
    }
    json_decref(crd);
}

/* ---- invalid manifests ----------------------------------------------------------------------- */

struct invalid_case {
    const char *base;   /* example the change applies to */
    const char *change; /* RFC 7386 merge patch */
    const char *errors; /* every expected "path: message", one per line */
};

static const char QUANTITY_HINT[] =
    "(use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent such as e3)";

static const struct invalid_case INVALID[] = {
    /* identity and connection */
    {"basic", "{\"spec\":{\"azDoUrl\":null}}",
     "spec.azDoUrl: is required: the organisation or collection URL, e.g. "
     "https://dev.azure.com/my-org"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"http://dev.azure.com/my-org\"}}",
     "spec.azDoUrl: must use https for host 'dev.azure.com': plain http would send the PAT in "
     "clear text"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"ftp://dev.azure.com/my-org\"}}",
     "spec.azDoUrl: must start with https://"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"https://dev.azure.com\"}}",
     "spec.azDoUrl: 'https://dev.azure.com' lacks the organisation: use "
     "https://dev.azure.com/<org>"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"https://me:secret@dev.azure.com/my-org\"}}",
     "spec.azDoUrl: must not carry credentials: the PAT comes from the Secret named by "
     "patSecretName"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"https://dev.azure.com/my-org?x=1\"}}",
     "spec.azDoUrl: must not have a query or fragment"},
    {"basic", "{\"spec\":{\"azDoUrl\":\"https://tfs.example.com\"}}",
     "spec.azDoUrl: must name the Azure DevOps Server collection, e.g. "
     "https://tfs.example.com/tfs/DefaultCollection"},
    {"basic", "{\"spec\":{\"pool\":null}}",
     "spec.pool: is required: the name of the Azure DevOps agent pool"},
    {"basic", "{\"spec\":{\"pool\":\" linux\"}}", "spec.pool: must not start or end with a space"},
    {"basic", "{\"spec\":{\"patSecretName\":\"Azdo_PAT\"}}",
     "spec.patSecretName: must be a Secret name: lowercase letters, digits, '-' and '.', at most "
     "253 characters"},
    {"basic", "{\"spec\":{\"image\":null}}",
     "spec.image: is required: the agent container image, e.g. "
     "registry.example.com/azdo-agent:1.0"},
    {"basic", "{\"spec\":{\"image\":\"my agent:1\"}}",
     "spec.image: must be an image reference without spaces, e.g. "
     "registry.example.com/azdo-agent:1.0"},
    {"basic", "{\"spec\":null}", "spec: is required: azDoUrl, pool, patSecretName and image"},
    {"basic", "{\"kind\":\"Pod\"}", "kind: must be RunnerPool"},
    {"basic", "{\"metadata\":{\"name\":\"Linux_Basic\"}}",
     "metadata.name: must be a DNS-1123 label (lowercase letters, digits and '-', starting and "
     "ending with a letter or digit): it prefixes the agent pod names"},
    {"basic", "{\"metadata\":{\"name\":\"a23456789012345678901234567890123456789012345678901234\"}}",
     "metadata.name: must be at most 53 characters so that agent pods <name>-agent-<index> stay "
     "valid 63-character host names and PVCs <name>-agent-<index>-<pvc> valid object names"},
    {"basic", "{\"metadata\":{\"name\":null}}", "metadata.name: is required"},
    /* scaling */
    {"basic", "{\"spec\":{\"maxAgents\":-1}}",
     "spec.maxAgents: must be between 0 and 200 (the operator's hard cap)"},
    {"basic", "{\"spec\":{\"maxAgents\":201}}",
     "spec.maxAgents: must be between 0 and 200 (the operator's hard cap)"},
    {"basic", "{\"spec\":{\"maxAgents\":\"10\"}}",
     "spec.maxAgents: must be an integer, not a string"},
    {"basic", "{\"spec\":{\"minAgents\":5}}",
     "spec.minAgents: must not be greater than spec.maxAgents (5 > 3)"},
    {"basic", "{\"spec\":{\"minAgents\":-2}}", "spec.minAgents: must be between 0 and 200"},
    {"basic", "{\"spec\":{\"maxAgents\":null,\"minAgents\":11}}",
     "spec.minAgents: must not be greater than spec.maxAgents (11 > 10)"},
    {"basic", "{\"spec\":{\"ttlIdleSeconds\":-1}}",
     "spec.ttlIdleSeconds: must be between 0 and 2592000 seconds (0: each agent above minAgents "
     "runs one job)"},
    {"basic", "{\"spec\":{\"pollIntervalSeconds\":0}}",
     "spec.pollIntervalSeconds: must be between 1 and 3600 seconds"},
    {"basic", "{\"spec\":{\"maxAgent\":5}}",
     "spec.maxAgent: unknown field (did you mean maxAgents?)"},
    /* extraEnv */
    {"basic", "{\"spec\":{\"extraEnv\":[{\"name\":\"1BAD\",\"value\":\"x\"}]}}",
     "spec.extraEnv[0].name: must be a valid environment variable name (letters, digits, '_', "
     "'-' and '.', not starting with a digit)"},
    {"basic",
     "{\"spec\":{\"extraEnv\":[{\"name\":\"FOO\",\"value\":\"a\"},"
     "{\"name\":\"AZP_URL\",\"value\":\"x\"}]}}",
     "spec.extraEnv[1].name: AZP_URL is set by the operator and cannot be overridden"},
    {"basic", "{\"spec\":{\"extraEnv\":[{\"name\":\"VSO_AGENT_IGNORE\",\"value\":\"\"}]}}",
     "spec.extraEnv[0].name: VSO_AGENT_IGNORE is set by the operator and cannot be overridden"},
    {"basic",
     "{\"spec\":{\"extraEnv\":[{\"name\":\"FOO\",\"value\":\"a\"},"
     "{\"name\":\"FOO\",\"value\":\"b\"}]}}",
     "spec.extraEnv[1].name: duplicate variable 'FOO' (also spec.extraEnv[0].name)"},
    {"basic",
     "{\"spec\":{\"extraEnv\":[{\"name\":\"FOO\",\"value\":\"a\",\"valueFrom\":"
     "{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}}",
     "spec.extraEnv[0]: must set either value or valueFrom, not both"},
    {"basic",
     "{\"spec\":{\"extraEnv\":[{\"name\":\"FOO\",\"valueFrom\":"
     "{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}}]}}",
     "spec.extraEnv[0].valueFrom: only valueFrom.secretKeyRef is supported"},
    {"basic",
     "{\"spec\":{\"extraEnv\":[{\"name\":\"FOO\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
     "\"npm-auth\"}}}]}}",
     "spec.extraEnv[0].valueFrom.secretKeyRef.key: is required: the key inside the Secret"},
    {"basic", "{\"spec\":{\"extraEnv\":{\"FOO\":\"bar\"}}}",
     "spec.extraEnv: must be a list, not an object"},
    /* pvcs */
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"workspace\",\"mountPath\":\"/azp/_work\",\"storage\":"
     "\"1Gi\"},{\"name\":\"cache\",\"mountPath\":\"cache\",\"storage\":\"1Gi\"}]}}",
     "spec.pvcs[1].mountPath: must be an absolute path"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"ca\",\"mountPath\":\"/etc/ssl/certs/extra\",\"storage\":"
     "\"1Gi\"}]}}",
     "spec.pvcs[0].mountPath: must not be under /etc/ssl/certs/, where certTrustStore secrets "
     "are mounted"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"x\",\"mountPath\":\"/var/run/secrets/devops.opentools.mf\","
     "\"storage\":\"1Gi\"}]}}",
     "spec.pvcs[0].mountPath: must not contain or be under "
     "/var/run/secrets/devops.opentools.mf/pat, where the PAT is mounted"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"x\",\"mountPath\":\"/azp/../etc/ssl/certs\",\"storage\":"
     "\"1Gi\"}]}}",
     "spec.pvcs[0].mountPath: must not contain '.' or '..' segments"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"workspace\",\"mountPath\":\"/a\",\"storage\":\"1Gi\"},"
     "{\"name\":\"workspace\",\"mountPath\":\"/b\",\"storage\":\"1Gi\"}]}}",
     "spec.pvcs[1].name: duplicate name 'workspace' (also spec.pvcs[0].name)"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/azp/_work\",\"storage\":\"1Gi\"},"
     "{\"name\":\"b\",\"mountPath\":\"/azp/_work\",\"storage\":\"1Gi\"}]}}",
     "spec.pvcs[1].mountPath: duplicate mount path '/azp/_work' (also spec.pvcs[0].mountPath)"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\",\"storage\":\"10GB\"}]}}",
     NULL /* filled in by the test: quantity reason */},
    {"advanced", "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\"}]}}",
     "spec.pvcs[0].storage: is required when createPvc is true: the size to request, e.g. 10Gi"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\",\"storage\":\"0\"}]}}",
     "spec.pvcs[0].storage: must be greater than zero"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"Work_Space\",\"mountPath\":\"/a\",\"storage\":\"1Gi\"}]}}",
     "spec.pvcs[0].name: must be a DNS-1123 label (lowercase letters, digits and '-') of at most "
     "59 characters: the pod volume is named pvc-<name>"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\",\"storage\":\"1Gi\","
     "\"storageClass\":\"Fast SSD\"}]}}",
     "spec.pvcs[0].storageClass: must be a StorageClass name (lowercase letters, digits, '-' and "
     "'.'), or \"\" to request no class"},
    {"advanced",
     "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\",\"storage\":\"1Gi\","
     "\"deleteWithAgent\":\"yes\"}]}}",
     "spec.pvcs[0].deleteWithAgent: must be true or false, not a string"},
    /* initContainer, securityContext, certTrustStore */
    {"advanced", "{\"spec\":{\"initContainer\":{\"image\":\"\"}}}",
     "spec.initContainer.image: is required: an image with sh, stat, chown and chmod, e.g. "
     "busybox:latest"},
    {"advanced", "{\"spec\":{\"securityContext\":{\"runAsUser\":0}}}",
     "spec.securityContext.runAsUser: must not be 0: the agent container runs as a non-root "
     "user"},
    {"advanced", "{\"spec\":{\"securityContext\":{\"privileged\":true}}}",
     "spec.securityContext.privileged: unknown field"},
    {"advanced", "{\"spec\":{\"certTrustStore\":[{\"secretName\":\"Corp CA\"}]}}",
     "spec.certTrustStore[0].secretName: must be a Secret name: lowercase letters, digits, '-' "
     "and '.', at most 253 characters"},
    {"advanced",
     "{\"spec\":{\"certTrustStore\":[{\"secretName\":\"corp-root-ca\"},"
     "{\"secretName\":\"corp-root-ca\"}]}}",
     "spec.certTrustStore[1].secretName: duplicate secret 'corp-root-ca' (also "
     "spec.certTrustStore[0].secretName)"},
    /* capabilities */
    {"advanced", "{\"spec\":{\"capabilityImages\":null}}",
     "spec.capabilityImages: must map at least one capability to an image when capabilityAware "
     "is true, e.g. {java: registry.example.com/azdo-agent-java:1.0}"},
    {"advanced", "{\"spec\":{\"capabilityImages\":{\"java\":\"\"}}}",
     "spec.capabilityImages[java]: must be a non-empty image reference"},
    {"advanced", "{\"spec\":{\"capabilityImages\":{\"java 17\":\"img:1\"}}}",
     "spec.capabilityImages[java 17]: capability key 'java 17' must be a capability name such as "
     "java, or 'name -equals value'"},
    {"advanced", "{\"spec\":{\"capabilityImages\":{\"PATH\":\"img:1\"}}}",
     "spec.capabilityImages[PATH]: capability name 'PATH' would replace the environment "
     "variable the agent needs; choose another name"},
    {"advanced", "{\"spec\":{\"capabilityImages\":{\"NPM_TOKEN\":\"img:1\"}}}",
     "spec.capabilityImages[NPM_TOKEN]: capability name 'NPM_TOKEN' is also set by "
     "spec.extraEnv[1]; remove one of them"},
    /* Kubernetes-shaped fields */
    {"basic", "{\"spec\":{\"imagePullPolicy\":\"always\"}}",
     "spec.imagePullPolicy: must be Always, IfNotPresent or Never"},
    {"basic", "{\"spec\":{\"labels\":{\"app\":\"mine\"}}}",
     "spec.labels[app]: is reserved for the operator's own labels"},
    {"basic", "{\"spec\":{\"labels\":{\"devops.opentools.mf/pool\":\"other\"}}}",
     "spec.labels[devops.opentools.mf/pool]: is reserved for the operator's own labels"},
    {"basic", "{\"spec\":{\"labels\":{\"team\":\"platform team\"}}}",
     "spec.labels[team]: must be a label value: at most 63 letters, digits, '-', '_' and '.', "
     "starting and ending with a letter or digit"},
    {"basic", "{\"spec\":{\"resources\":{\"requests\":{\"memory\":\"lots\"}}}}",
     "spec.resources.requests[memory]: invalid quantity 'lots': must start with a number"},
    {"basic",
     "{\"spec\":{\"resources\":{\"requests\":{\"cpu\":\"2\"},\"limits\":{\"cpu\":\"1500m\"}}}}",
     "spec.resources.requests[cpu]: must not be greater than spec.resources.limits[cpu]"},
    {"basic", "{\"spec\":{\"tolerations\":{\"key\":\"ci\"}}}",
     "spec.tolerations: must be a list, not an object"},
    {"basic", "{\"spec\":{\"tolerations\":[{\"key\":\"ci\",\"operator\":\"In\"}]}}",
     "spec.tolerations[0].operator: must be Exists or Equal"},
    {"basic", "{\"spec\":{\"serviceAccountName\":\"Builder\"}}",
     "spec.serviceAccountName: must be a ServiceAccount name: lowercase letters, digits, '-' and "
     "'.'"},
    {"basic", "{\"spec\":{\"nodeSelector\":{\"kubernetes.io/os\":1}}}",
     "spec.nodeSelector[kubernetes.io/os]: must be a string, not a number"},
};

static void test_each_invalid_manifest_names_its_field(void **state)
{
    (void)state;
    char quantity_message[512];
    size_t n = sizeof(INVALID) / sizeof(INVALID[0]);

    snprintf(quantity_message, sizeof(quantity_message),
             "spec.pvcs[0].storage: invalid quantity '10GB': unknown suffix 'GB' %s",
             QUANTITY_HINT);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        json_t *obj = example(INVALID[i].base);
        json_t *change = json_loads(INVALID[i].change, 0, NULL);
        if (change == NULL)
            fail_msg("case %zu: bad change JSON", i);
        rp_merge_patch(obj, change);

        char *got = errors_of(obj);
        const char *want = INVALID[i].errors != NULL ? INVALID[i].errors : quantity_message;
        if (strcmp(got, want) != 0)
            fail_msg("case %zu %s\n got: %s\nwant: %s", i, INVALID[i].change, got, want);

        /* The parser refuses the same object with the same first message. */
        struct runner_pool *rp = NULL;
        struct err err = {0};
        assert_int_equal(runner_pool_parse(obj, &rp, NULL, &err), -EINVAL);
        assert_null(rp);
        assert_non_null(strstr(err.msg, want));

        free(got);
        json_decref(change);
        json_decref(obj);
    }
}

static void test_all_errors_are_reported_at_once(void **state)
{
    (void)state;
    json_t *obj = example("advanced");
    json_t *change = json_loads(
        "{\"spec\":{\"patSecretName\":null,\"maxAgents\":500,"
        "\"pvcs\":[{\"name\":\"workspace\",\"mountPath\":\"/azp/_work\",\"storage\":\"1Gi\"},"
        "{\"name\":\"cache\",\"mountPath\":\"relative\",\"storage\":\"1Gi\"}],"
        "\"securityContext\":{\"runAsUser\":0}}}",
        0, NULL);
    rp_merge_patch(obj, change);

    struct field_errors fe;
    field_errors_init(&fe);
    struct runner_pool *rp = NULL;
    struct err err = {0};
    assert_int_equal(runner_pool_parse(obj, &rp, &fe, &err), -EINVAL);
    assert_int_equal(fe.count, 4);
    assert_string_equal(fe.items[0].path, "spec.patSecretName");
    assert_string_equal(fe.items[1].path, "spec.maxAgents");
    assert_string_equal(fe.items[2].path, "spec.pvcs[1].mountPath");
    assert_string_equal(fe.items[2].message, "must be an absolute path");
    assert_string_equal(fe.items[3].path, "spec.securityContext.runAsUser");
    assert_non_null(strstr(err.msg, "spec.patSecretName: is required"));

    field_errors_free(&fe);
    json_decref(change);
    json_decref(obj);
}

static void test_extra_env_values_never_appear_in_messages(void **state)
{
    (void)state;
    json_t *obj = example("basic");
    json_t *change = json_loads(
        "{\"spec\":{\"extraEnv\":[{\"name\":\"AZP_TOKEN\",\"value\":\"s3cr3t-value\"},"
        "{\"name\":\"X\",\"value\":\"s3cr3t-value\",\"valueFrom\":{}}]}}",
        0, NULL);
    rp_merge_patch(obj, change);
    char *got = errors_of(obj);

    assert_non_null(strstr(got, "spec.extraEnv[0].name: AZP_TOKEN is set by the operator"));
    assert_null(strstr(got, "s3cr3t"));
    free(got);
    json_decref(change);
    json_decref(obj);
}

/* ---- valid edge cases ------------------------------------------------------------------------ */

static void test_valid_variants_are_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *base, *change;
    } cases[] = {
        {"basic", "{\"spec\":{\"azDoUrl\":\"https://my-org.visualstudio.com\"}}"},
        {"basic", "{\"spec\":{\"azDoUrl\":\"https://tfs.example.com/tfs/DefaultCollection\"}}"},
        {"basic", "{\"spec\":{\"azDoUrl\":\"http://127.0.0.1:18081/demo-org\"}}"},
        {"basic", "{\"spec\":{\"azDoUrl\":\"http://localhost:8080/demo-org/\"}}"},
        {"basic", "{\"spec\":{\"maxAgents\":0}}"},
        {"basic", "{\"spec\":{\"maxAgents\":200,\"minAgents\":200}}"},
        {"basic", "{\"metadata\":{\"name\":\"a2345678901234567890123456789012345678901234567890123\"}}"},
        {"basic", "{\"metadata\":{\"name\":null,\"generateName\":\"pool-\"}}"},
        {"advanced", "{\"spec\":{\"capabilityImages\":{\"jdk -equals 17\":\"img:17\","
                     "\"Agent.OS -EQUALS Linux\":\"img:linux\"}}}"},
        {"advanced", "{\"spec\":{\"pvcs\":[{\"name\":\"seed\",\"mountPath\":\"/seed\","
                     "\"createPvc\":false,\"optional\":true}]}}"},
        {"advanced", "{\"spec\":{\"pvcs\":[{\"name\":\"a\",\"mountPath\":\"/a\","
                     "\"storage\":\"1Gi\",\"storageClass\":\"\"}]}}"},
        {"basic", "{\"spec\":{\"resources\":{\"requests\":{\"cpu\":1,\"memory\":\"1Gi\"},"
                  "\"limits\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"}}}}"},
        {"basic", "{\"spec\":{\"tolerations\":[{\"key\":\"ci\",\"operator\":\"Exists\","
                  "\"effect\":\"NoSchedule\"}],\"affinity\":{\"nodeAffinity\":{}},"
                  "\"serviceAccountName\":\"builder\",\"annotations\":{\"a/b\":\"any text\"}}}"},
        {"basic", "{\"status\":{\"state\":\"Connected\"},\"spec\":{\"capabilityAware\":false}}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *obj = example(cases[i].base);
        json_t *change = json_loads(cases[i].change, 0, NULL);
        assert_non_null(change);
        rp_merge_patch(obj, change);
        char *got = errors_of(obj);
        if (got[0] != '\0')
            fail_msg("case %zu %s refused: %s", i, cases[i].change, got);
        free(got);
        json_decref(change);
        json_decref(obj);
    }
}

static void test_equals_capability_keys_split_into_env_and_label(void **state)
{
    (void)state;
    json_t *obj = example("advanced");
    json_t *change = json_loads(
        "{\"spec\":{\"capabilityImages\":{\"jdk -equals 17\":\"img:17\",\"java\":\"img:j\"}}}", 0,
        NULL);
    rp_merge_patch(obj, change);
    struct runner_pool *rp = parse_ok(obj);

    assert_int_equal(rp->capability_count, 2);
    /* Sorted by key: "java" < "jdk -equals 17". */
    assert_string_equal(rp->capabilities[0].key, "java");
    assert_string_equal(rp->capabilities[1].key, "jdk -equals 17");
    assert_string_equal(rp->capabilities[1].env_name, "jdk");
    assert_string_equal(rp->capabilities[1].env_value, "17");
    assert_string_equal(rp->capabilities[1].label, "jdk_17");
    assert_string_equal(rp->capabilities[1].image, "img:17");

    runner_pool_free(rp);
    json_decref(change);
    json_decref(obj);
}

static void test_capability_split_shapes(void **state)
{
    (void)state;
    char *name = NULL, *value = NULL;
    struct err err = {0};

    assert_int_equal(runner_pool_capability_split("maven", &name, &value, &err), 0);
    assert_string_equal(name, "maven");
    assert_string_equal(value, "true");
    free(name);
    free(value);
    assert_int_equal(runner_pool_capability_split("Agent.OS -Equals Linux", &name, &value, &err),
                     0);
    assert_string_equal(name, "Agent.OS");
    assert_string_equal(value, "Linux");
    free(name);
    free(value);
    assert_int_equal(runner_pool_capability_split("a -gtVersion 1", &name, &value, &err), -EINVAL);
    assert_null(name);
    assert_int_equal(runner_pool_capability_split("a -equals ", &name, &value, &err), -EINVAL);
    assert_int_equal(runner_pool_capability_split("a -equals b c", &name, &value, &err), -EINVAL);
    assert_int_equal(runner_pool_capability_split("", &name, &value, &err), -EINVAL);
}

static void test_name_limit_follows_index_digits_and_pvc_names(void **state)
{
    (void)state;
    /* 63 - strlen("-agent-") - 3 digits */
    assert_int_equal(runner_pool_name_max(0), 53);
    /* With the longest allowed pvc name the PVC rule (253) still leaves more room than pods. */
    assert_int_equal(runner_pool_name_max(RUNNER_POOL_PVC_NAME_MAX), 53);
    /* The PVC rule binds once the pvc name is long enough: 253 - 7 - 3 - 1 - 200 = 42. */
    assert_int_equal(runner_pool_name_max(200), 42);
    assert_int_equal(runner_pool_name_max(242), 0);
}

/* ---- defaults as a JSON Patch ---------------------------------------------------------------- */

static void test_minimal_pool_patch_adds_scaling_defaults(void **state)
{
    (void)state;
    json_t *obj = json_loads(
        "{\"apiVersion\":\"devops.opentools.mf/v1\",\"kind\":\"RunnerPool\","
        "\"metadata\":{\"name\":\"min\"},\"spec\":{\"azDoUrl\":\"https://dev.azure.com/o\","
        "\"pool\":\"p\",\"patSecretName\":\"azdo-pat\",\"image\":\"img:1\"}}",
        0, NULL);
    json_t *patch = runner_pool_default_patch(obj);
    json_t *want = json_loads("[{\"op\":\"add\",\"path\":\"/spec/maxAgents\",\"value\":10},"
                              "{\"op\":\"add\",\"path\":\"/spec/minAgents\",\"value\":0},"
                              "{\"op\":\"add\",\"path\":\"/spec/ttlIdleSeconds\",\"value\":0}]",
                              0, NULL);
    if (!json_equal(patch, want)) {
        char *text = json_dumps(patch, 0);
        fail_msg("patch: %s", text);
    }

    /* Applied, the object carries the same values the parser fills in. */
    assert_int_equal(rp_apply_add_patch(obj, patch), 0);
    json_t *spec = json_object_get(obj, "spec");
    assert_int_equal(json_integer_value(json_object_get(spec, "maxAgents")), 10);
    struct runner_pool *rp = parse_ok(obj);
    assert_int_equal(rp->max_agents, 10);
    assert_int_equal(rp->poll_interval_seconds, 10);
    runner_pool_free(rp);

    /* A defaulted object needs no further patch. */
    json_t *again = runner_pool_default_patch(obj);
    assert_int_equal(json_array_size(again), 0);

    json_decref(again);
    json_decref(want);
    json_decref(patch);
    json_decref(obj);
}

static void test_pvc_pool_patch_adds_pvc_init_and_identity_defaults(void **state)
{
    (void)state;
    json_t *obj = example("advanced");
    json_t *spec = json_object_get(obj, "spec");
    json_object_del(spec, "initContainer");
    json_object_del(spec, "securityContext");
    json_object_del(json_array_get(json_object_get(spec, "pvcs"), 0), "deleteWithAgent");

    json_t *patch = runner_pool_default_patch(obj);
    json_t *want = json_loads(
        "[{\"op\":\"add\",\"path\":\"/spec/pvcs/0/createPvc\",\"value\":true},"
        "{\"op\":\"add\",\"path\":\"/spec/pvcs/0/optional\",\"value\":false},"
        "{\"op\":\"add\",\"path\":\"/spec/pvcs/0/deleteWithAgent\",\"value\":false},"
        "{\"op\":\"add\",\"path\":\"/spec/pvcs/1/createPvc\",\"value\":true},"
        "{\"op\":\"add\",\"path\":\"/spec/pvcs/1/optional\",\"value\":false},"
        "{\"op\":\"add\",\"path\":\"/spec/initContainer\",\"value\":{\"image\":\"busybox:latest\"}},"
        "{\"op\":\"add\",\"path\":\"/spec/securityContext\",\"value\":{\"runAsUser\":1000,"
        "\"runAsGroup\":1000,\"fsGroup\":1000}}]",
        0, NULL);
    if (!json_equal(patch, want)) {
        char *text = json_dumps(patch, 0);
        fail_msg("patch: %s", text);
    }
    assert_int_equal(rp_apply_add_patch(obj, patch), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(obj, "spec"), "initContainer"),
                            "image")),
                        "busybox:latest");

    json_decref(want);
    json_decref(patch);
    json_decref(obj);
}

static void test_patch_fills_partial_objects_and_leaves_bad_types_alone(void **state)
{
    (void)state;
    json_t *obj = json_loads(
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"maxAgents\":\"ten\",\"minAgents\":null,"
        "\"ttlIdleSeconds\":5,\"pollIntervalSeconds\":3,"
        "\"pvcs\":[{\"name\":\"w\",\"mountPath\":\"/w\",\"storage\":\"1Gi\",\"createPvc\":false,"
        "\"optional\":true,\"deleteWithAgent\":true}],"
        "\"initContainer\":{},\"securityContext\":{\"runAsUser\":2000}}}",
        0, NULL);
    json_t *patch = runner_pool_default_patch(obj);
    json_t *want = json_loads(
        "[{\"op\":\"add\",\"path\":\"/spec/minAgents\",\"value\":0},"
        "{\"op\":\"add\",\"path\":\"/spec/initContainer/image\",\"value\":\"busybox:latest\"},"
        "{\"op\":\"add\",\"path\":\"/spec/securityContext/runAsGroup\",\"value\":1000},"
        "{\"op\":\"add\",\"path\":\"/spec/securityContext/fsGroup\",\"value\":1000}]",
        0, NULL);
    if (!json_equal(patch, want)) {
        char *text = json_dumps(patch, 0);
        fail_msg("patch: %s", text);
    }
    json_decref(want);
    json_decref(patch);

    /* No spec object: nothing to default, the validator explains. */
    json_decref(obj);
    obj = json_loads("{\"metadata\":{\"name\":\"x\"},\"spec\":[]}", 0, NULL);
    patch = runner_pool_default_patch(obj);
    assert_int_equal(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(obj);
}

/* ---- update ---------------------------------------------------------------------------------- */

static char *update_errors(const json_t *old_obj, const json_t *new_obj)
{
    struct field_errors fe;
    field_errors_init(&fe);
    runner_pool_validate_update(old_obj, new_obj, &fe);
    char *joined = field_errors_join(&fe, "\n");
    field_errors_free(&fe);
    return joined;
}

static void test_update_refuses_moving_to_another_pool_or_org(void **state)
{
    (void)state;
    json_t *old_obj = example("basic");
    json_t *new_obj = json_deep_copy(old_obj);
    json_t *spec = json_object_get(new_obj, "spec");
    char *got;

    json_object_set_new(spec, "pool", json_string("linux-other"));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "spec.pool: cannot be changed from 'linux-basic' to 'linux-other': "
                             "the agents registered in the old pool would be orphaned; delete "
                             "this RunnerPool (its finalizer retires the agents) and create it "
                             "again with the new pool");
    free(got);

    json_object_set_new(spec, "pool", json_string("linux-basic"));
    json_object_set_new(spec, "azDoUrl", json_string("https://dev.azure.com/other-org"));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "spec.azDoUrl: cannot be changed to another organisation or "
                             "collection: the agents registered there would be orphaned; delete "
                             "this RunnerPool (its finalizer retires the agents) and create it "
                             "again with the new URL");
    free(got);

    /* Another spelling of the same organisation is not a move. */
    json_object_set_new(spec, "azDoUrl", json_string("https://My-Org.visualstudio.com/"));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "");
    free(got);

    /* Scaling changes are fine; invalid ones are still refused. */
    json_object_set_new(spec, "maxAgents", json_integer(7));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "");
    free(got);
    json_object_set_new(spec, "maxAgents", json_integer(700));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "spec.maxAgents: must be between 0 and 200 (the operator's hard cap)");
    free(got);

    json_decref(new_obj);
    json_decref(old_obj);
}

/* A stored object that breaks today's rules can still have its finalizer removed. */
static void test_update_with_unchanged_spec_is_always_accepted(void **state)
{
    (void)state;
    json_t *old_obj = example("basic");
    json_object_set_new(json_object_get(old_obj, "spec"), "maxAgents", json_integer(5000));
    json_t *new_obj = json_deep_copy(old_obj);
    json_object_set_new(json_object_get(new_obj, "metadata"), "finalizers", json_array());
    json_object_set_new(json_object_get(new_obj, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));

    char *got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "");
    free(got);

    /* Touching the spec brings the rules back. */
    json_object_set_new(json_object_get(new_obj, "spec"), "minAgents", json_integer(1));
    got = update_errors(old_obj, new_obj);
    assert_string_equal(got, "spec.maxAgents: must be between 0 and 200 (the operator's hard cap)");
    free(got);
    json_decref(new_obj);
    json_decref(old_obj);
}

static void test_parse_reads_metadata_identity(void **state)
{
    (void)state;
    json_t *obj = example("basic");
    json_t *meta = json_object_get(obj, "metadata");
    json_object_set_new(meta, "uid", json_string("0b7c3a1e-1111-2222-3333-444455556666"));
    json_object_set_new(meta, "generation", json_integer(4));
    json_object_set_new(meta, "deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
    struct runner_pool *rp = parse_ok(obj);

    assert_string_equal(rp->uid, "0b7c3a1e-1111-2222-3333-444455556666");
    assert_int_equal(rp->generation, 4);
    assert_true(rp->deleting);
    runner_pool_free(rp);
    runner_pool_free(NULL);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_example_parses_with_documented_defaults),
        cmocka_unit_test(test_corporate_example_keeps_secret_refs_as_refs),
        cmocka_unit_test(test_advanced_example_fills_pvc_defaults),
        cmocka_unit_test(test_shipped_yaml_examples_match_fixtures_and_validate),
        cmocka_unit_test(test_sim_secrets_cover_every_reference_but_the_pat),
        cmocka_unit_test(test_crd_schema_agrees_with_the_code),
        cmocka_unit_test(test_each_invalid_manifest_names_its_field),
        cmocka_unit_test(test_all_errors_are_reported_at_once),
        cmocka_unit_test(test_extra_env_values_never_appear_in_messages),
        cmocka_unit_test(test_valid_variants_are_accepted),
        cmocka_unit_test(test_equals_capability_keys_split_into_env_and_label),
        cmocka_unit_test(test_capability_split_shapes),
        cmocka_unit_test(test_name_limit_follows_index_digits_and_pvc_names),
        cmocka_unit_test(test_minimal_pool_patch_adds_scaling_defaults),
        cmocka_unit_test(test_pvc_pool_patch_adds_pvc_init_and_identity_defaults),
        cmocka_unit_test(test_patch_fills_partial_objects_and_leaves_bad_types_alone),
        cmocka_unit_test(test_update_refuses_moving_to_another_pool_or_org),
        cmocka_unit_test(test_update_with_unchanged_spec_is_always_accepted),
        cmocka_unit_test(test_parse_reads_metadata_identity),
    };
    return cmocka_run_group_tests_name("runnerpool", tests, NULL, NULL);
}
