/* runnerpool_validate.c - the RunnerPool rules (see runnerpool_validate.h).
 *
 * Layout: small typed getters that record a type error and return NULL, then one checker per
 * spec field group, called in CRD order by runner_pool_validate(). Each checker only appends to
 * the error list, so one bad field never hides the next one. JSON null counts as absent, as the
 * API server prunes nulls of non-nullable fields before admission.
 *
 * Invariant: a field that passes here is safe for runner_pool_parse() to read without further
 * type checks, and every name that ends up in a pod or PVC is one the API server accepts. */
#include "pool/runnerpool_validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azdo/url.h"
#include "err.h"
#include "pool/k8s_names.h"
#include "pool/quantity.h"
#include "pool/runnerpool.h"

#define PATH_MAX_LEN 320

static const char AGENT_INFIX[] = "-agent-";

/* ---- small helpers --------------------------------------------------------------------------- */

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* A string member, or NULL (absent or wrong type; the latter recorded). */
static const char *get_string(const json_t *obj, const char *key, const char *path,
                              struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v)) {
        field_errors_add(fe, path, "must be a string, not %s", type_name(v));
        return NULL;
    }
    return json_string_value(v);
}

/* A string that must be present and non-empty. */
static const char *get_required_string(const json_t *obj, const char *key, const char *path,
                                       const char *hint, struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
        field_errors_add(fe, path, "is required: %s", hint);
        return NULL;
    }
    return get_string(obj, key, path, fe);
}

/* 1 when an integer member is present (value in *out), 0 when absent, -1 on a type error. A real
 * with an integral value (10.0) is refused like the API server's schema would. */
static int get_int(const json_t *obj, const char *key, const char *path, json_int_t *out,
                   struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        field_errors_add(fe, path, "must be an integer, not %s", type_name(v));
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

static void check_bool(const json_t *obj, const char *key, const char *path,
                       struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v != NULL && !json_is_boolean(v))
        field_errors_add(fe, path, "must be true or false, not %s", type_name(v));
}

static const json_t *get_object(const json_t *obj, const char *key, const char *path,
                                struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v != NULL && !json_is_object(v)) {
        field_errors_add(fe, path, "must be an object, not %s", type_name(v));
        return NULL;
    }
    return v;
}

static const json_t *get_array(const json_t *obj, const char *key, const char *path,
                               size_t max_items, struct field_errors *fe)
{
    const json_t *v = member(obj, key);
    if (v == NULL)
        return NULL;
    if (!json_is_array(v)) {
        field_errors_add(fe, path, "must be a list, not %s", type_name(v));
        return NULL;
    }
    if (json_array_size(v) > max_items) {
        field_errors_add(fe, path, "must have at most %zu entries", max_items);
        return NULL;
    }
    return v;
}

/* "base.key", "base[i]", "base[key]" into a caller buffer (truncated paths stay readable). */
static const char *path_key(char *buf, const char *base, const char *key)
{
    /* Each part capped at half the buffer, so the whole always fits: a path that long is
     * already unreadable, and its start still says where the error is. */
    snprintf(buf, PATH_MAX_LEN, "%.*s.%.*s", PATH_MAX_LEN / 2 - 1, base, PATH_MAX_LEN / 2 - 1,
             key);
    return buf;
}

static const char *path_index(char *buf, const char *base, size_t i)
{
    snprintf(buf, PATH_MAX_LEN, "%s[%zu]", base, i);
    return buf;
}

static const char *path_map(char *buf, const char *base, const char *key)
{
    snprintf(buf, PATH_MAX_LEN, "%s[%s]", base, key);
    return buf;
}

static bool has_space_or_control(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Edit distance, bounded to short keys: used only for "did you mean" hints. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];

    if (la >= 63 || lb >= 63)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Fields of our own shapes are closed: a typo such as "maxAgent" would otherwise be pruned by
 * the API server and the pool would silently run with the default. */
static void check_known_fields(const json_t *obj, const char *base, const char *const *known,
                               struct field_errors *fe)
{
    const char *key;
    const json_t *value;
    char path[PATH_MAX_LEN];

    json_object_foreach((json_t *)obj, key, value) {
        const char *hint = NULL;
        bool found = false;
        for (const char *const *k = known; *k != NULL; k++) {
            if (strcmp(key, *k) == 0) {
                found = true;
                break;
            }
            if (hint == NULL && (strcasecmp(key, *k) == 0 || edit_distance(key, *k) <= 2))
                hint = *k;
        }
        if (found)
            continue;
        if (hint != NULL)
            field_errors_add(fe, path_key(path, base, key), "unknown field (did you mean %s?)",
                             hint);
        else
            field_errors_add(fe, path_key(path, base, key), "unknown field");
    }
}

/* ---- names and sizes ------------------------------------------------------------------------- */

size_t runner_pool_name_max(size_t longest_pvc_name)
{
    size_t infix = sizeof(AGENT_INFIX) - 1;
    size_t pod_max = K8S_DNS1123_LABEL_MAX - infix - RUNNER_POOL_INDEX_DIGITS;
    size_t pvc_fixed = infix + RUNNER_POOL_INDEX_DIGITS + 1 + longest_pvc_name;

    if (longest_pvc_name == 0)
        return pod_max;
    if (pvc_fixed >= K8S_DNS1123_SUBDOMAIN_MAX)
        return 0;
    size_t pvc_max = K8S_DNS1123_SUBDOMAIN_MAX - pvc_fixed;
    return pvc_max < pod_max ? pvc_max : pod_max;
}

bool runner_pool_env_is_reserved(const char *name)
{
    static const char *const reserved[] = {
        "AZP_URL",    "AZP_POOL",       "AZP_AGENT_NAME", "AZP_WORK",
        "AZP_TOKEN",  "AZP_TOKEN_FILE", "AZP_RUN_ONCE",   "VSO_AGENT_IGNORE",
    };
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcmp(name, reserved[i]) == 0)
            return true;
    }
    return false;
}

bool runner_pool_label_is_reserved(const char *key)
{
    return strcmp(key, "app") == 0 || strcmp(key, "runner-pool") == 0 ||
           strcmp(key, "app.kubernetes.io/managed-by") == 0 ||
           strcmp(key, "app.kubernetes.io/name") == 0 || starts_with(key, RUNNER_POOL_GROUP "/");
}

/* Variables a capability key must not replace: setting PATH=true would break every job. */
static bool env_is_vital(const char *name)
{
    static const char *const vital[] = {"PATH", "HOME", "USER", "SHELL", "HOSTNAME",
                                        "LANG", "PWD",  "TERM", "TMPDIR"};
    for (size_t i = 0; i < sizeof(vital) / sizeof(vital[0]); i++) {
        if (strcmp(name, vital[i]) == 0)
            return true;
    }
    return starts_with(name, "LD_");
}

/* ---- metadata -------------------------------------------------------------------------------- */

static size_t longest_pvc_name(const json_t *spec)
{
    const json_t *pvcs = member(spec, "pvcs");
    const json_t *pvc;
    size_t i, longest = 0;

    if (!json_is_array(pvcs))
        return 0;
    json_array_foreach(pvcs, i, pvc) {
        const json_t *name = member(pvc, "name");
        /* Names that are invalid anyway are reported at the pvc; don't double-count them. */
        if (json_is_string(name) && json_string_length(name) <= RUNNER_POOL_PVC_NAME_MAX &&
            json_string_length(name) > longest)
            longest = json_string_length(name);
    }
    return longest;
}

static void check_metadata(const json_t *obj, const json_t *spec, struct field_errors *fe)
{
    const json_t *meta = get_object(obj, "metadata", "metadata", fe);
    size_t name_max = runner_pool_name_max(longest_pvc_name(spec));
    const char *name = NULL, *generate = NULL;

    if (meta == NULL && member(obj, "metadata") != NULL)
        return; /* wrong type, reported */
    if (meta != NULL) {
        name = get_string(meta, "name", "metadata.name", fe);
        generate = get_string(meta, "generateName", "metadata.generateName", fe);
        if ((member(meta, "name") != NULL && name == NULL) ||
            (member(meta, "generateName") != NULL && generate == NULL))
            return; /* wrong type, reported */
    }

    if (name != NULL && name[0] != '\0') {
        if (!k8s_name_is_dns1123_label(name))
            field_errors_add(fe, "metadata.name",
                             "must be a DNS-1123 label (lowercase letters, digits and '-', "
                             "starting and ending with a letter or digit): it prefixes the "
                             "agent pod names");
        else if (strlen(name) > name_max)
            field_errors_add(fe, "metadata.name",
                             "must be at most %zu characters so that agent pods "
                             "<name>-agent-<index> stay valid 63-character host names and "
                             "PVCs <name>-agent-<index>-<pvc> valid object names",
                             name_max);
    } else if (generate != NULL && generate[0] != '\0') {
        /* The API server appends 5 random characters to generateName. */
        if (strlen(generate) + 5 > name_max)
            field_errors_add(fe, "metadata.generateName",
                             "must be at most %zu characters (5 random characters are appended "
                             "and the name may have at most %zu)",
                             name_max - 5, name_max);
    } else {
        field_errors_add(fe, "metadata.name", "is required");
    }
}

/* ---- spec: connection and image -------------------------------------------------------------- */

static void check_url(const json_t *spec, struct field_errors *fe)
{
    const char *url = get_required_string(
        spec, "azDoUrl", "spec.azDoUrl",
        "the organisation or collection URL, e.g. https://dev.azure.com/my-org", fe);
    struct azdo_org org;
    struct err err = {0};

    if (url == NULL)
        return;
    if (azdo_org_parse(url, &org, &err) < 0) {
        /* azdo_org_parse() words its messages "azDoUrl ..."; the path already says that. */
        const char *msg = err.msg;
        if (starts_with(msg, "azDoUrl "))
            msg += strlen("azDoUrl ");
        field_errors_add(fe, "spec.azDoUrl", "%s", msg);
        return;
    }
    /* A Server URL must name the collection: agent pools live in one. */
    if (org.flavor == AZDO_SERVER) {
        const char *after_scheme = strstr(org.base, "://") + 3;
        if (strchr(after_scheme, '/') == NULL)
            field_errors_add(fe, "spec.azDoUrl",
                             "must name the Azure DevOps Server collection, e.g. "
                             "https://tfs.example.com/tfs/DefaultCollection");
    }
}

static void check_image_ref(const char *image, const char *path, struct field_errors *fe)
{
    if (has_space_or_control(image))
        field_errors_add(fe, path, "must be an image reference without spaces, e.g. "
                                   "registry.example.com/azdo-agent:1.0");
    else if (strlen(image) > 1024)
        field_errors_add(fe, path, "must be at most 1024 characters");
}

static void check_identity(const json_t *spec, struct field_errors *fe)
{
    const char *pool, *secret, *image;

    pool = get_required_string(spec, "pool", "spec.pool",
                               "the name of the Azure DevOps agent pool", fe);
    if (pool != NULL) {
        size_t len = strlen(pool);
        if (len > 256)
            field_errors_add(fe, "spec.pool", "must be at most 256 characters");
        else if (pool[0] == ' ' || pool[len - 1] == ' ')
            field_errors_add(fe, "spec.pool", "must not start or end with a space");
        else
            for (const char *p = pool; *p != '\0'; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                    field_errors_add(fe, "spec.pool", "must not contain control characters");
                    break;
                }
            }
    }

    secret = get_required_string(
        spec, "patSecretName", "spec.patSecretName",
        "the name of the Secret that holds the PAT under the key 'token'", fe);
    if (secret != NULL && !k8s_name_is_dns1123_subdomain(secret))
        field_errors_add(fe, "spec.patSecretName",
                         "must be a Secret name: lowercase letters, digits, '-' and '.', at "
                         "most 253 characters");

    image = get_required_string(spec, "image", "spec.image",
                                "the agent container image, e.g. "
                                "registry.example.com/azdo-agent:1.0",
                                fe);
    if (image != NULL)
        check_image_ref(image, "spec.image", fe);
}

/* ---- spec: scaling --------------------------------------------------------------------------- */

static void check_scaling(const json_t *spec, struct field_errors *fe)
{
    json_int_t max_agents = RUNNER_POOL_DEFAULT_MAX_AGENTS;
    json_int_t min_agents = RUNNER_POOL_DEFAULT_MIN_AGENTS;
    json_int_t v;
    bool max_ok = true, min_ok = true;
    int rc;

    rc = get_int(spec, "maxAgents", "spec.maxAgents", &max_agents, fe);
    if (rc < 0) {
        max_ok = false;
    } else if (max_agents < 0 || max_agents > RUNNER_POOL_MAX_AGENTS_CAP) {
        field_errors_add(fe, "spec.maxAgents", "must be between 0 and %d (the operator's hard cap)",
                         RUNNER_POOL_MAX_AGENTS_CAP);
        max_ok = false;
    }

    rc = get_int(spec, "minAgents", "spec.minAgents", &min_agents, fe);
    if (rc < 0) {
        min_ok = false;
    } else if (min_agents < 0 || min_agents > RUNNER_POOL_MAX_AGENTS_CAP) {
        field_errors_add(fe, "spec.minAgents", "must be between 0 and %d",
                         RUNNER_POOL_MAX_AGENTS_CAP);
        min_ok = false;
    }
    if (max_ok && min_ok && min_agents > max_agents)
        field_errors_add(fe, "spec.minAgents",
                         "must not be greater than spec.maxAgents (%lld > %lld)",
                         (long long)min_agents, (long long)max_agents);

    if (get_int(spec, "ttlIdleSeconds", "spec.ttlIdleSeconds", &v, fe) > 0 &&
        (v < 0 || v > RUNNER_POOL_TTL_MAX_SECONDS))
        field_errors_add(fe, "spec.ttlIdleSeconds",
                         "must be between 0 and %d seconds (0: each agent above minAgents runs "
                         "one job)",
                         RUNNER_POOL_TTL_MAX_SECONDS);

    if (get_int(spec, "pollIntervalSeconds", "spec.pollIntervalSeconds", &v, fe) > 0 &&
        (v < RUNNER_POOL_POLL_MIN_SECONDS || v > RUNNER_POOL_POLL_MAX_SECONDS))
        field_errors_add(fe, "spec.pollIntervalSeconds", "must be between %d and %d seconds",
                         RUNNER_POOL_POLL_MIN_SECONDS, RUNNER_POOL_POLL_MAX_SECONDS);
}

/* ---- spec.extraEnv --------------------------------------------------------------------------- */

static void check_secret_ref(const json_t *ref, const char *base, struct field_errors *fe)
{
    static const char *const known[] = {"name", "key", "optional", NULL};
    char path[PATH_MAX_LEN];
    const char *name, *key;

    check_known_fields(ref, base, known, fe);
    name = get_required_string(ref, "name", path_key(path, base, "name"),
                               "the name of the Secret", fe);
    if (name != NULL && !k8s_name_is_dns1123_subdomain(name))
        field_errors_add(fe, path_key(path, base, "name"),
                         "must be a Secret name: lowercase letters, digits, '-' and '.', at "
                         "most 253 characters");
    key = get_required_string(ref, "key", path_key(path, base, "key"),
                              "the key inside the Secret", fe);
    if (key != NULL && !k8s_name_is_secret_key(key))
        field_errors_add(fe, path_key(path, base, "key"),
                         "must be a Secret key: letters, digits, '-', '_' and '.'");
    check_bool(ref, "optional", path_key(path, base, "optional"), fe);
}

static void check_env_entry(const json_t *entry, size_t i, const json_t *env,
                            struct field_errors *fe)
{
    static const char *const known[] = {"name", "value", "valueFrom", NULL};
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN], from_path[PATH_MAX_LEN];
    const char *name;
    const json_t *from;

    path_index(base, "spec.extraEnv", i);
    if (!json_is_object(entry)) {
        field_errors_add(fe, base, "must be an object with name and value or valueFrom");
        return;
    }
    check_known_fields(entry, base, known, fe);

    name = get_required_string(entry, "name", path_key(path, base, "name"),
                               "the variable's name", fe);
    if (name != NULL) {
        if (!k8s_name_is_env_var(name)) {
            field_errors_add(fe, path, "must be a valid environment variable name (letters, "
                                       "digits, '_', '-' and '.', not starting with a digit)");
        } else if (runner_pool_env_is_reserved(name)) {
            field_errors_add(fe, path, "%s is set by the operator and cannot be overridden",
                             name);
        } else {
            /* Report a duplicate at the later entry, naming the first. */
            for (size_t j = 0; j < i; j++) {
                const json_t *other = member(json_array_get(env, j), "name");
                if (json_is_string(other) && strcmp(json_string_value(other), name) == 0) {
                    field_errors_add(fe, path, "duplicate variable '%s' (also "
                                               "spec.extraEnv[%zu].name)", name, j);
                    break;
                }
            }
        }
    }

    (void)get_string(entry, "value", path_key(path, base, "value"), fe);
    from = get_object(entry, "valueFrom", path_key(from_path, base, "valueFrom"), fe);
    if (from == NULL)
        return;
    if (member(entry, "value") != NULL)
        field_errors_add(fe, base, "must set either value or valueFrom, not both");

    static const char *const from_known[] = {"secretKeyRef", NULL};
    const json_t *ref = member(from, "secretKeyRef");
    if (ref == NULL) {
        field_errors_add(fe, from_path, "only valueFrom.secretKeyRef is supported");
        return;
    }
    check_known_fields(from, from_path, from_known, fe);
    ref = get_object(from, "secretKeyRef", path_key(path, from_path, "secretKeyRef"), fe);
    if (ref != NULL)
        check_secret_ref(ref, path, fe);
}

static void check_extra_env(const json_t *spec, struct field_errors *fe)
{
    const json_t *env = get_array(spec, "extraEnv", "spec.extraEnv", RUNNER_POOL_MAX_ENV, fe);
    const json_t *entry;
    size_t i;

    if (env == NULL)
        return;
    json_array_foreach(env, i, entry)
        check_env_entry(entry, i, env, fe);
}

/* ---- spec.pvcs ------------------------------------------------------------------------------- */

/* Absolute, normalised (no "." or ".." segments, no empty segments) and not "/". */
static const char *mount_path_problem(const char *path)
{
    if (path[0] != '/')
        return "must be an absolute path";
    if (strcmp(path, "/") == 0)
        return "must not be the root directory";
    if (strchr(path, ':') != NULL || has_space_or_control(path))
        return "must not contain ':', spaces or control characters";
    for (const char *seg = path + 1;;) {
        const char *end = strchr(seg, '/');
        size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 && end != NULL)
            return "must not contain empty segments ('//')";
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return "must not contain '.' or '..' segments";
        if (end == NULL)
            break;
        seg = end + 1;
    }
    return NULL;
}

/* True when 'path' is 'dir' or below it. */
static bool path_is_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void check_pvc_storage(const json_t *pvc, const char *base, struct field_errors *fe)
{
    char path[PATH_MAX_LEN];
    const json_t *create = member(pvc, "createPvc");
    bool creates = !json_is_false(create);
    const char *storage;
    struct quantity q;
    struct err err = {0};

    path_key(path, base, "storage");
    if (member(pvc, "storage") == NULL) {
        if (creates)
            field_errors_add(fe, path, "is required when createPvc is true: the size to "
                                       "request, e.g. 10Gi");
        return;
    }
    storage = get_string(pvc, "storage", path, fe);
    if (storage == NULL)
        return;
    if (quantity_parse(storage, &q, &err) < 0)
        field_errors_add(fe, path, "%s", err.msg);
    else if (q.value <= 0)
        field_errors_add(fe, path, "must be greater than zero");
}

static void check_pvc(const json_t *pvc, size_t i, const json_t *pvcs, struct field_errors *fe)
{
    static const char *const known[] = {"name",     "mountPath", "storage",        "storageClass",
                                        "createPvc", "optional", "deleteWithAgent", NULL};
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN];
    const char *name, *mount, *sc;

    path_index(base, "spec.pvcs", i);
    if (!json_is_object(pvc)) {
        field_errors_add(fe, base, "must be an object with name, mountPath and storage");
        return;
    }
    check_known_fields(pvc, base, known, fe);

    name = get_required_string(pvc, "name", path_key(path, base, "name"),
                               "a short name such as workspace", fe);
    if (name != NULL) {
        if (!k8s_name_is_dns1123_label(name) || strlen(name) > RUNNER_POOL_PVC_NAME_MAX) {
            field_errors_add(fe, path, "must be a DNS-1123 label (lowercase letters, digits "
                                       "and '-') of at most %d characters: the pod volume is "
                                       "named pvc-<name>",
                             RUNNER_POOL_PVC_NAME_MAX);
        } else {
            for (size_t j = 0; j < i; j++) {
                const json_t *other = member(json_array_get(pvcs, j), "name");
                if (json_is_string(other) && strcmp(json_string_value(other), name) == 0) {
                    field_errors_add(fe, path, "duplicate name '%s' (also spec.pvcs[%zu].name)",
                                     name, j);
                    break;
                }
            }
        }
    }

    mount = get_required_string(pvc, "mountPath", path_key(path, base, "mountPath"),
                                "where the volume is mounted in the agent, e.g. /azp/_work", fe);
    if (mount != NULL) {
        const char *problem = mount_path_problem(mount);
        if (problem != NULL) {
            field_errors_add(fe, path, "%s", problem);
        } else if (path_is_within(mount, RUNNER_POOL_CERTS_DIR)) {
            field_errors_add(fe, path, "must not be under " RUNNER_POOL_CERTS_DIR
                                       "/, where certTrustStore secrets are mounted");
        } else if (path_is_within(mount, RUNNER_POOL_PAT_MOUNT_DIR) ||
                   path_is_within(RUNNER_POOL_PAT_MOUNT_DIR, mount)) {
            field_errors_add(fe, path, "must not contain or be under " RUNNER_POOL_PAT_MOUNT_DIR
                                       ", where the PAT is mounted");
        } else {
            for (size_t j = 0; j < i; j++) {
                const json_t *other = member(json_array_get(pvcs, j), "mountPath");
                if (json_is_string(other) && strcmp(json_string_value(other), mount) == 0) {
                    field_errors_add(fe, path, "duplicate mount path '%s' (also "
                                               "spec.pvcs[%zu].mountPath)", mount, j);
                    break;
                }
            }
        }
    }

    check_bool(pvc, "createPvc", path_key(path, base, "createPvc"), fe);
    check_bool(pvc, "optional", path_key(path, base, "optional"), fe);
    check_bool(pvc, "deleteWithAgent", path_key(path, base, "deleteWithAgent"), fe);
    check_pvc_storage(pvc, base, fe);

    sc = get_string(pvc, "storageClass", path_key(path, base, "storageClass"), fe);
    if (sc != NULL && sc[0] != '\0' && !k8s_name_is_dns1123_subdomain(sc))
        field_errors_add(fe, path, "must be a StorageClass name (lowercase letters, digits, "
                                   "'-' and '.'), or \"\" to request no class");
}

static void check_pvcs(const json_t *spec, struct field_errors *fe)
{
    const json_t *pvcs = get_array(spec, "pvcs", "spec.pvcs", RUNNER_POOL_MAX_PVCS, fe);
    const json_t *pvc;
    size_t i;

    if (pvcs == NULL)
        return;
    json_array_foreach(pvcs, i, pvc)
        check_pvc(pvc, i, pvcs, fe);
}

/* ---- spec.initContainer, spec.securityContext, spec.certTrustStore ---------------------------- */

static void check_init_container(const json_t *spec, struct field_errors *fe)
{
    static const char *const known[] = {"image", NULL};
    const json_t *ic = get_object(spec, "initContainer", "spec.initContainer", fe);
    const char *image;

    if (ic == NULL)
        return;
    check_known_fields(ic, "spec.initContainer", known, fe);
    if (member(ic, "image") == NULL)
        return; /* defaulted */
    image = get_required_string(ic, "image", "spec.initContainer.image",
                                "an image with sh, stat, chown and chmod, e.g. busybox:latest",
                                fe);
    if (image != NULL)
        check_image_ref(image, "spec.initContainer.image", fe);
}

static void check_security_context(const json_t *spec, struct field_errors *fe)
{
    static const char *const known[] = {"runAsUser", "runAsGroup", "fsGroup", NULL};
    const json_t *sc = get_object(spec, "securityContext", "spec.securityContext", fe);
    json_int_t v;

    if (sc == NULL)
        return;
    check_known_fields(sc, "spec.securityContext", known, fe);
    if (get_int(sc, "runAsUser", "spec.securityContext.runAsUser", &v, fe) > 0) {
        if (v == 0)
            field_errors_add(fe, "spec.securityContext.runAsUser",
                             "must not be 0: the agent container runs as a non-root user");
        else if (v < 0 || v > 2147483647)
            field_errors_add(fe, "spec.securityContext.runAsUser",
                             "must be between 1 and 2147483647");
    }
    if (get_int(sc, "runAsGroup", "spec.securityContext.runAsGroup", &v, fe) > 0 &&
        (v < 0 || v > 2147483647))
        field_errors_add(fe, "spec.securityContext.runAsGroup", "must be between 0 and 2147483647");
    if (get_int(sc, "fsGroup", "spec.securityContext.fsGroup", &v, fe) > 0 &&
        (v < 0 || v > 2147483647))
        field_errors_add(fe, "spec.securityContext.fsGroup", "must be between 0 and 2147483647");
}

static void check_cert_trust_store(const json_t *spec, struct field_errors *fe)
{
    static const char *const known[] = {"secretName", NULL};
    const json_t *list = get_array(spec, "certTrustStore", "spec.certTrustStore",
                                   RUNNER_POOL_MAX_CERTS, fe);
    const json_t *entry;
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN];
    size_t i;

    if (list == NULL)
        return;
    json_array_foreach(list, i, entry) {
        path_index(base, "spec.certTrustStore", i);
        if (!json_is_object(entry)) {
            field_errors_add(fe, base, "must be an object with secretName");
            continue;
        }
        check_known_fields(entry, base, known, fe);
        const char *name = get_required_string(entry, "secretName",
                                               path_key(path, base, "secretName"),
                                               "the Secret holding the CA certificates", fe);
        if (name == NULL)
            continue;
        if (!k8s_name_is_dns1123_subdomain(name)) {
            field_errors_add(fe, path, "must be a Secret name: lowercase letters, digits, '-' "
                                       "and '.', at most 253 characters");
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const json_t *other = member(json_array_get(list, j), "secretName");
            if (json_is_string(other) && strcmp(json_string_value(other), name) == 0) {
                field_errors_add(fe, path, "duplicate secret '%s' (also "
                                           "spec.certTrustStore[%zu].secretName)", name, j);
                break;
            }
        }
    }
}

/* ---- capabilities ---------------------------------------------------------------------------- */

static void check_capability_key(const char *key, const char *path, const json_t *env,
                                 struct field_errors *fe)
{
    char *name = NULL, *value = NULL;
    struct err err = {0};

    if (runner_pool_capability_split(key, &name, &value, &err) < 0) {
        field_errors_add(fe, path, "%s", err.msg);
        return;
    }
    /* The key becomes an environment variable (so the agent advertises it) and a label value. */
    bool letter_first = (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z');
    if (!letter_first || !k8s_name_is_env_var(name) || !k8s_name_is_label_value(name)) {
        field_errors_add(fe, path, "capability name '%s' must start with a letter and contain "
                                   "only letters, digits, '_', '-' and '.' (it becomes an "
                                   "environment variable and a label value)",
                         name);
    } else if (runner_pool_env_is_reserved(name) || env_is_vital(name)) {
        field_errors_add(fe, path, "capability name '%s' would replace the environment "
                                   "variable the agent needs; choose another name",
                         name);
    } else if (!k8s_name_is_label_value(value) ||
               strlen(name) + 1 + strlen(value) > K8S_LABEL_VALUE_MAX) {
        field_errors_add(fe, path, "capability value '%s' must be letters, digits, '_', '-' "
                                   "and '.', and name and value together at most %d characters",
                         value, K8S_LABEL_VALUE_MAX - 1);
    } else {
        const json_t *entry;
        size_t i;
        json_array_foreach(env, i, entry) {
            const json_t *n = member(entry, "name");
            if (json_is_string(n) && strcmp(json_string_value(n), name) == 0) {
                field_errors_add(fe, path, "capability name '%s' is also set by "
                                           "spec.extraEnv[%zu]; remove one of them",
                                 name, i);
                break;
            }
        }
    }
    free(name);
    free(value);
}

static void check_capabilities(const json_t *spec, struct field_errors *fe)
{
    const json_t *aware = member(spec, "capabilityAware");
    const json_t *images = get_object(spec, "capabilityImages", "spec.capabilityImages", fe);
    const json_t *env = member(spec, "extraEnv");
    const char *key;
    const json_t *image;
    char path[PATH_MAX_LEN];

    check_bool(spec, "capabilityAware", "spec.capabilityAware", fe);
    bool images_bad_type = images == NULL && member(spec, "capabilityImages") != NULL;
    if (json_is_true(aware) && !images_bad_type && json_object_size(images) == 0)
        field_errors_add(fe, "spec.capabilityImages",
                         "must map at least one capability to an image when capabilityAware "
                         "is true, e.g. {java: registry.example.com/azdo-agent-java:1.0}");
    if (images == NULL)
        return;
    if (json_object_size(images) > RUNNER_POOL_MAX_CAPABILITIES) {
        field_errors_add(fe, "spec.capabilityImages", "must have at most %d entries",
                         RUNNER_POOL_MAX_CAPABILITIES);
        return;
    }
    json_object_foreach((json_t *)images, key, image) {
        path_map(path, "spec.capabilityImages", key);
        check_capability_key(key, path, json_is_array(env) ? env : NULL, fe);
        if (!json_is_string(image) || json_string_length(image) == 0)
            field_errors_add(fe, path, "must be a non-empty image reference");
        else
            check_image_ref(json_string_value(image), path, fe);
    }
}

/* ---- Kubernetes-shaped fields ---------------------------------------------------------------- */

static void check_pull(const json_t *spec, struct field_errors *fe)
{
    const char *policy = get_string(spec, "imagePullPolicy", "spec.imagePullPolicy", fe);
    const json_t *secrets = get_array(spec, "imagePullSecrets", "spec.imagePullSecrets", 64, fe);
    const json_t *entry;
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN];
    size_t i;

    if (policy != NULL && strcmp(policy, "Always") != 0 && strcmp(policy, "IfNotPresent") != 0 &&
        strcmp(policy, "Never") != 0)
        field_errors_add(fe, "spec.imagePullPolicy", "must be Always, IfNotPresent or Never");
    if (secrets == NULL)
        return;
    json_array_foreach(secrets, i, entry) {
        path_index(base, "spec.imagePullSecrets", i);
        if (!json_is_object(entry)) {
            field_errors_add(fe, base, "must be an object with name");
            continue;
        }
        const char *name = get_required_string(entry, "name", path_key(path, base, "name"),
                                               "the name of a docker-registry Secret", fe);
        if (name != NULL && !k8s_name_is_dns1123_subdomain(name))
            field_errors_add(fe, path, "must be a Secret name: lowercase letters, digits, '-' "
                                       "and '.', at most 253 characters");
    }
}

/* Parses a quantity given as a string or a JSON number; false (error recorded) otherwise. */
static bool quantity_member(const json_t *v, const char *path, struct quantity *q,
                            struct field_errors *fe)
{
    struct err err = {0};
    char text[64];

    if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(text, sizeof(text), "%.17g", json_real_value(v));
        /* %g may write "1e+20": the quantity grammar wants "1e20". */
        char *plus = strstr(text, "e+");
        if (plus != NULL)
            memmove(plus + 1, plus + 2, strlen(plus + 2) + 1);
    } else if (json_is_string(v)) {
        snprintf(text, sizeof(text), "%s", json_string_value(v));
        if (json_string_length(v) >= sizeof(text)) {
            field_errors_add(fe, path, "invalid quantity: too long");
            return false;
        }
    } else {
        field_errors_add(fe, path, "must be a quantity such as 500m or 2Gi, not %s", type_name(v));
        return false;
    }
    if (quantity_parse(text, q, &err) < 0) {
        field_errors_add(fe, path, "%s", err.msg);
        return false;
    }
    if (q->value < 0) {
        field_errors_add(fe, path, "must not be negative");
        return false;
    }
    return true;
}

static void check_resources(const json_t *spec, struct field_errors *fe)
{
    const json_t *res = get_object(spec, "resources", "spec.resources", fe);
    const json_t *limits, *requests, *v;
    const char *key;
    char path[PATH_MAX_LEN];
    struct quantity q, limit;

    if (res == NULL)
        return;
    limits = get_object(res, "limits", "spec.resources.limits", fe);
    requests = get_object(res, "requests", "spec.resources.requests", fe);
    if (limits != NULL) {
        json_object_foreach((json_t *)limits, key, v)
            quantity_member(v, path_map(path, "spec.resources.limits", key), &q, fe);
    }
    if (requests == NULL)
        return;
    json_object_foreach((json_t *)requests, key, v) {
        path_map(path, "spec.resources.requests", key);
        if (!quantity_member(v, path, &q, fe))
            continue;
        /* The API server refuses a pod whose request exceeds its limit; say so now. */
        const json_t *lv = limits != NULL ? member(limits, key) : NULL;
        struct field_errors quiet;
        field_errors_init(&quiet);
        if (lv != NULL && quantity_member(lv, path, &limit, &quiet) &&
            quantity_cmp(&q, &limit) > 0)
            field_errors_add(fe, path, "must not be greater than spec.resources.limits[%s]", key);
        field_errors_free(&quiet);
    }
}

static void check_string_map(const json_t *spec, const char *key, const char *base,
                             bool values_are_label_values, bool refuse_reserved,
                             struct field_errors *fe)
{
    const json_t *map = get_object(spec, key, base, fe);
    const char *k;
    const json_t *v;
    char path[PATH_MAX_LEN];

    if (map == NULL)
        return;
    json_object_foreach((json_t *)map, k, v) {
        path_map(path, base, k);
        if (!k8s_name_is_qualified(k)) {
            field_errors_add(fe, path, "key must be a qualified name ([prefix/]name, at most 63 "
                                       "characters of letters, digits, '-', '_' and '.')");
            continue;
        }
        if (refuse_reserved && runner_pool_label_is_reserved(k)) {
            field_errors_add(fe, path, "is reserved for the operator's own labels");
            continue;
        }
        if (!json_is_string(v))
            field_errors_add(fe, path, "must be a string, not %s", type_name(v));
        else if (values_are_label_values && !k8s_name_is_label_value(json_string_value(v)))
            field_errors_add(fe, path, "must be a label value: at most 63 letters, digits, '-', "
                                       "'_' and '.', starting and ending with a letter or digit");
    }
}

static void check_scheduling(const json_t *spec, struct field_errors *fe)
{
    const json_t *tolerations = get_array(spec, "tolerations", "spec.tolerations", 64, fe);
    const json_t *t;
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN];
    size_t i;

    check_string_map(spec, "nodeSelector", "spec.nodeSelector", true, false, fe);
    (void)get_object(spec, "affinity", "spec.affinity", fe);
    if (tolerations != NULL) {
        json_array_foreach(tolerations, i, t) {
            path_index(base, "spec.tolerations", i);
            if (!json_is_object(t)) {
                field_errors_add(fe, base, "must be an object (a Kubernetes toleration)");
                continue;
            }
            const char *op = get_string(t, "operator", path_key(path, base, "operator"), fe);
            if (op != NULL && strcmp(op, "Exists") != 0 && strcmp(op, "Equal") != 0)
                field_errors_add(fe, path, "must be Exists or Equal");
            const char *effect = get_string(t, "effect", path_key(path, base, "effect"), fe);
            if (effect != NULL && effect[0] != '\0' && strcmp(effect, "NoSchedule") != 0 &&
                strcmp(effect, "PreferNoSchedule") != 0 && strcmp(effect, "NoExecute") != 0)
                field_errors_add(fe, path, "must be NoSchedule, PreferNoSchedule or NoExecute");
        }
    }

    const char *sa = get_string(spec, "serviceAccountName", "spec.serviceAccountName", fe);
    if (sa != NULL && !k8s_name_is_dns1123_subdomain(sa))
        field_errors_add(fe, "spec.serviceAccountName",
                         "must be a ServiceAccount name: lowercase letters, digits, '-' and '.'");

    check_string_map(spec, "labels", "spec.labels", true, true, fe);
    check_string_map(spec, "annotations", "spec.annotations", false, false, fe);
}

/* ---- entry points ---------------------------------------------------------------------------- */

static const char *const SPEC_FIELDS[] = {
    "azDoUrl",        "pool",           "patSecretName",   "image",
    "maxAgents",      "minAgents",      "ttlIdleSeconds",  "pollIntervalSeconds",
    "extraEnv",       "pvcs",           "initContainer",   "securityContext",
    "certTrustStore", "capabilityAware", "capabilityImages", "imagePullPolicy",
    "imagePullSecrets", "resources",    "nodeSelector",    "tolerations",
    "affinity",       "serviceAccountName", "labels",      "annotations",
    NULL,
};

void runner_pool_validate(const json_t *obj, struct field_errors *fe)
{
    const json_t *spec;

    if (!json_is_object(obj)) {
        field_errors_add(fe, "(root)", "must be a RunnerPool object");
        return;
    }
    const char *kind = get_string(obj, "kind", "kind", fe);
    if (kind != NULL && strcmp(kind, RUNNER_POOL_KIND) != 0)
        field_errors_add(fe, "kind", "must be " RUNNER_POOL_KIND);
    const char *api_version = get_string(obj, "apiVersion", "apiVersion", fe);
    if (api_version != NULL && strcmp(api_version, RUNNER_POOL_API_VERSION) != 0)
        field_errors_add(fe, "apiVersion", "must be " RUNNER_POOL_API_VERSION);

    spec = get_object(obj, "spec", "spec", fe);
    check_metadata(obj, spec, fe);
    if (spec == NULL) {
        if (member(obj, "spec") == NULL)
            field_errors_add(fe, "spec", "is required: azDoUrl, pool, patSecretName and image");
        return;
    }
    check_known_fields(spec, "spec", SPEC_FIELDS, fe);
    check_url(spec, fe);
    check_identity(spec, fe);
    check_scaling(spec, fe);
    check_extra_env(spec, fe);
    check_pvcs(spec, fe);
    check_init_container(spec, fe);
    check_security_context(spec, fe);
    check_cert_trust_store(spec, fe);
    check_capabilities(spec, fe);
    check_pull(spec, fe);
    check_resources(spec, fe);
    check_scheduling(spec, fe);
}

/* The organisation identity of a URL, or the URL itself when it does not parse (then the
 * comparison is exact, and the new value's own error is reported by runner_pool_validate). */
static void url_identity(const char *url, char *out, size_t len)
{
    struct azdo_org org;
    struct err err = {0};

    if (url != NULL && azdo_org_parse(url, &org, &err) == 0)
        snprintf(out, len, "%s", org.key);
    else
        snprintf(out, len, "%s", url != NULL ? url : "");
}

void runner_pool_validate_update(const json_t *old_obj, const json_t *new_obj,
                                 struct field_errors *fe)
{
    const json_t *old_spec = member(old_obj, "spec");
    const json_t *new_spec = member(new_obj, "spec");

    if (old_spec != NULL && new_spec != NULL && json_equal(old_spec, new_spec))
        return;
    runner_pool_validate(new_obj, fe);
    if (!json_is_object(old_spec) || !json_is_object(new_spec))
        return;

    const json_t *old_pool = member(old_spec, "pool");
    const json_t *new_pool = member(new_spec, "pool");
    if (json_is_string(old_pool) && json_is_string(new_pool) &&
        strcmp(json_string_value(old_pool), json_string_value(new_pool)) != 0)
        field_errors_add(fe, "spec.pool",
                         "cannot be changed from '%s' to '%s': the agents registered in the old "
                         "pool would be orphaned; delete this RunnerPool (its finalizer retires "
                         "the agents) and create it again with the new pool",
                         json_string_value(old_pool), json_string_value(new_pool));

    const json_t *old_url = member(old_spec, "azDoUrl");
    const json_t *new_url = member(new_spec, "azDoUrl");
    if (json_is_string(old_url) && json_is_string(new_url)) {
        char a[AZDO_URL_MAX], b[AZDO_URL_MAX];
        url_identity(json_string_value(old_url), a, sizeof(a));
        url_identity(json_string_value(new_url), b, sizeof(b));
        if (strcmp(a, b) != 0)
            field_errors_add(fe, "spec.azDoUrl",
                             "cannot be changed to another organisation or collection: the "
                             "agents registered there would be orphaned; delete this "
                             "RunnerPool (its finalizer retires the agents) and create it again "
                             "with the new URL");
    }
}
