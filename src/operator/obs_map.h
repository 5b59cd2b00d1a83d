/* obs_map.h - Kubernetes and Azure DevOps answers mapped to the store's observation structs.
 *
 * Pure functions: no I/O, no clock. Every string in an output struct is BORROWED from the input
 * (a json_t or an azdo_* struct) and valid while that input lives, which is exactly the length
 * of the store_observe_* call that consumes it. */
#ifndef AZDO_OPERATOR_OBS_MAP_H
#define AZDO_OPERATOR_OBS_MAP_H

#include <jansson.h>
#include <stdbool.h>

#include "azdo/parse.h"
#include "store/store_obs.h"

/* Labels the pod and PVC builders put on everything the operator creates. */
#define OP_LABEL_POOL "devops.opentools.mf/pool"
#define OP_LABEL_ORDINAL "devops.opentools.mf/ordinal"
#define OP_LABEL_CAPABILITY "devops.opentools.mf/capability"
#define OP_ANNOTATION_CAPABILITY_KEY "devops.opentools.mf/capability-key"
#define OP_LABEL_PVC "devops.opentools.mf/pvc"
#define OP_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define OP_MANAGED_BY "azdo-runner-operator"
#define OP_FINALIZER "devops.opentools.mf/finalizer"

/* Parses an RFC 3339 timestamp ("2026-12-04T15:08:40Z", fraction and offset allowed) into unix
 * ms; 0 when 'text' is NULL or not a timestamp. */
int64_t op_parse_k8s_time(const char *text);

/* A RunnerPool object: fills the pool key and 'out'. 'spec_text' receives a new string (the
 * compact JSON of .spec) that the caller frees. Returns 0, or -EINVAL when metadata.name or
 * metadata.namespace is missing. */
int op_map_pool(const json_t *obj, struct pool_key *key, struct obs_pool *out, char **spec_text);

/* An agent pod. Returns 0 and fills 'key' (pool name from the pool label, namespace from the
 * pod) and 'out'; -ENOENT when the pod is not one of ours (no pool label, bad ordinal). */
int op_map_pod(const json_t *pod, struct pool_key *key, struct obs_pod *out);

/* A per-agent PVC. Same contract as op_map_pod. */
int op_map_pvc(const json_t *pvc, struct pool_key *key, struct obs_pvc *out);

/* Azure DevOps agents and jobs. 'out' arrays hold 'n' entries; the caps JSON strings are new
 * (freed with op_free_agent_caps). */
void op_map_agents(const struct azdo_agent_list *in, struct obs_agent *out, char **caps_json);
void op_free_agent_caps(char **caps_json, size_t n);
/* 'demands_json' receives n new strings the caller frees (op_free_agent_caps works too). */
void op_map_jobs(const struct azdo_job_list *in, struct obs_job *out, char **demands_json);

#endif
