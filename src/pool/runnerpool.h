/* runnerpool.h - the RunnerPool custom resource (devops.opentools.mf/v1) as a C struct.
 *
 * runner_pool_parse() turns the JSON the API server returns into a struct runner_pool with every
 * documented default filled in. It validates first (runnerpool_validate.h), so a struct that
 * exists is one the planner and the pod builder can trust: names fit, quantities parse, the URL
 * is acceptable. The same defaults are offered to the mutating webhook as a JSON Patch
 * (runnerpool_defaults.h); both read the constants below, so the two can never disagree.
 *
 * Ownership: every char * and json_t * inside a struct runner_pool is owned by it (strings are
 * copies, json_t members are deep copies holding one reference) and released by
 * runner_pool_free(). Nothing borrows from the input object, which may be freed right after
 * parsing. */
#ifndef AZDO_POOL_RUNNERPOOL_H
#define AZDO_POOL_RUNNERPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pool/field_errors.h"

#define RUNNER_POOL_GROUP "devops.opentools.mf"
#define RUNNER_POOL_API_VERSION "devops.opentools.mf/v1"
#define RUNNER_POOL_KIND "RunnerPool"

/* Hard cap on maxAgents. A pool is one Azure DevOps pool polled by one operator; above a few
 * hundred agents the per-poll agent list and the API budget (TSTUs) become the bottleneck, and a
 * typo such as 2000 would otherwise start thousands of pods. */
#define RUNNER_POOL_MAX_AGENTS_CAP 200

/* Agent indices are 0..RUNNER_POOL_INDEX_MAX (pods <pool>-agent-0, -1, ...). An index can exceed maxAgents for a while (an index
 * whose old registration is still online is not reused, field report #5), so the bound leaves
 * room above the cap; name lengths are computed for RUNNER_POOL_INDEX_DIGITS digits. */
#define RUNNER_POOL_INDEX_MAX 999
#define RUNNER_POOL_INDEX_DIGITS 3

/* List sizes, also the CRD's maxItems/maxProperties: they bound the pod's size and CEL cost. */
#define RUNNER_POOL_MAX_ENV 100
#define RUNNER_POOL_MAX_PVCS 16
#define RUNNER_POOL_MAX_CERTS 16
#define RUNNER_POOL_MAX_CAPABILITIES 32

/* ttlIdleSeconds above 30 days is refused: it is almost always milliseconds typed as seconds. */
#define RUNNER_POOL_TTL_MAX_SECONDS 2592000
#define RUNNER_POOL_POLL_MIN_SECONDS 1
#define RUNNER_POOL_POLL_MAX_SECONDS 3600

/* The documented defaults (CRD schema, mutating webhook and runner_pool_parse agree). */
#define RUNNER_POOL_DEFAULT_MAX_AGENTS 10
#define RUNNER_POOL_DEFAULT_MIN_AGENTS 0
#define RUNNER_POOL_DEFAULT_TTL_IDLE_SECONDS 0
#define RUNNER_POOL_DEFAULT_POLL_INTERVAL_SECONDS 10
#define RUNNER_POOL_DEFAULT_INIT_IMAGE "busybox:latest"
#define RUNNER_POOL_DEFAULT_RUN_AS_USER 1000
#define RUNNER_POOL_DEFAULT_RUN_AS_GROUP 1000
#define RUNNER_POOL_DEFAULT_FS_GROUP 1000
#define RUNNER_POOL_DEFAULT_CREATE_PVC true
#define RUNNER_POOL_DEFAULT_OPTIONAL false
#define RUNNER_POOL_DEFAULT_DELETE_WITH_AGENT false

/* spec.extraEnv[]: a literal value, or a reference to a Secret key (never copied). */
struct runner_pool_env {
    char *name;
    char *value;       /* literal value ("" when neither value nor valueFrom); NULL for a Secret */
    char *secret_name; /* valueFrom.secretKeyRef.name, NULL for a literal */
    char *secret_key;  /* valueFrom.secretKeyRef.key, NULL for a literal */
    bool secret_optional; /* valueFrom.secretKeyRef.optional */
};

/* spec.pvcs[]: one PersistentVolumeClaim per agent index, <pool>-agent-<index>-<name>. */
struct runner_pool_pvc {
    char *name;
    char *mount_path;
    char *storage;       /* a quantity ("10Gi"); NULL only when create_pvc is false */
    char *storage_class; /* NULL: the cluster's default class; "": no class (static binding) */
    bool create_pvc;     /* the operator creates it (else it must exist, or be optional) */
    bool optional;       /* a missing PVC is left out of the pod instead of blocking it */
    bool delete_with_agent; /* deleted with its agent; otherwise kept and reattached */
};

/* spec.capabilityImages entry. The key is a capability the planner routes on: "java" (any agent
 * advertising java) or "jdk -equals 17". */
struct runner_pool_capability {
    char *key;       /* as written in the map */
    char *image;
    char *env_name;  /* the variable the agent advertises: "java", "jdk" */
    char *env_value; /* "true" for a bare name, else the -equals value: "17" */
    char *label;     /* label-value form of the key: "java", "jdk_17" */
};

struct runner_pool {
    /* metadata */
    char *namespace;
    char *name;
    char *uid;          /* NULL when the object has none yet (an admission dry run) */
    int64_t generation; /* 0 when absent */
    bool deleting;      /* metadata.deletionTimestamp is set */

    /* required spec */
    char *az_do_url;
    char *pool;            /* the Azure DevOps agent pool name */
    char *pat_secret_name; /* Secret holding the PAT under key "token" */
    char *image;

    /* scaling */
    int max_agents;
    int min_agents;
    int64_t ttl_idle_seconds; /* 0: agents above minAgents run one job each (run-once) */
    int poll_interval_seconds;

    struct runner_pool_env *env;
    size_t env_count;

    struct runner_pool_pvc *pvcs;
    size_t pvc_count;

    char *init_image;      /* image of the permission-fixing init container */
    int64_t run_as_user;   /* never 0: the agent runs as non-root */
    int64_t run_as_group;
    int64_t fs_group;

    char **cert_secrets; /* certTrustStore[].secretName */
    size_t cert_secret_count;

    bool capability_aware;
    struct runner_pool_capability *capabilities; /* sorted by key (byte order) */
    size_t capability_count;

    /* Kubernetes-shaped pass-through fields: deep copies or NULL when absent. */
    char *image_pull_policy;    /* Always | IfNotPresent | Never, NULL: Kubernetes decides */
    char *service_account_name; /* NULL: the namespace default, with its token not mounted */
    json_t *image_pull_secrets; /* [{"name":...}] */
    json_t *resources;          /* ResourceRequirements of the agent container */
    json_t *node_selector;      /* {"key":"value"} */
    json_t *tolerations;        /* [Toleration] */
    json_t *affinity;           /* Affinity */
    json_t *labels;             /* extra agent pod labels (never the operator's own keys) */
    json_t *annotations;        /* extra agent pod annotations */
};

/* Validates 'obj' (a whole RunnerPool object) and, when it is valid, builds '*out' (new, free
 * with runner_pool_free()) with the defaults applied. On an invalid object returns -EINVAL with
 * the first errors in 'err' and, when 'errors' is not NULL, all of them appended to 'errors'
 * (caller frees with field_errors_free()). -ENOMEM when out of memory. '*out' is set only on
 * success. */
int runner_pool_parse(const json_t *obj, struct runner_pool **out, struct field_errors *errors,
                      struct err *err);

/* Frees 'rp' and everything it owns. Accepts NULL. */
void runner_pool_free(struct runner_pool *rp);

/* The capability entry for 'key' (exact match, as it appears in capabilityImages), or NULL.
 * Borrowed from 'rp'. */
const struct runner_pool_capability *runner_pool_capability_find(const struct runner_pool *rp,
                                                                 const char *key);

/* Splits a capabilityImages key: "java" -> ("java", "true"), "jdk -equals 17" -> ("jdk", "17")
 * (the opcode in any case, single spaces as in demand strings). On success '*name' and '*value'
 * are new strings (free()). -EINVAL with a reason when the key has another shape, -ENOMEM. */
int runner_pool_capability_split(const char *key, char **name, char **value, struct err *err);

#endif
