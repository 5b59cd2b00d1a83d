/* runnerpool_validate.h - every rule a RunnerPool must satisfy, as the validating webhook and
 * runner_pool_parse() apply them.
 *
 * Each problem becomes one entry "field path: message" in a struct field_errors, and every
 * problem is reported in one pass (an object with three mistakes gets three entries, in a fixed
 * order: kind, metadata, then spec fields in the order of the CRD). Messages say how to fix the
 * field and never quote a value that could be a secret (extraEnv values are never quoted).
 *
 * Name lengths. An agent pod is <name>-agent-<index> and its PVCs <name>-agent-<index>-<pvc>:
 *   - pods: the pod name becomes the container's host name and the Azure DevOps agent name
 *     (AZP_AGENT_NAME); host names are DNS-1123 labels of at most 63 characters (the kubelet
 *     truncates longer ones, so two agents could share a host name). Limit: 63.
 *   - PVCs: object names are DNS-1123 subdomains. Limit: 253.
 *   - pvc names are at most 59 characters (the pod volume is pvc-<name>, a 63-character label).
 * With indices of up to RUNNER_POOL_INDEX_DIGITS (3) digits:
 *   name <= 63 - len("-agent-") - 3 = 53                      (pods)
 *   name <= 253 - len("-agent-") - 3 - len("-") - longest pvc  (PVCs: 183 with a 59-char pvc)
 * so the pod rule is the one that binds today; runner_pool_name_max() computes both. */
#ifndef AZDO_POOL_RUNNERPOOL_VALIDATE_H
#define AZDO_POOL_RUNNERPOOL_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

#include "pool/field_errors.h"

/* Longest pvc name: "pvc-" + name must stay a 63-character DNS-1123 label (the volume name). */
#define RUNNER_POOL_PVC_NAME_MAX 59

/* Where the PAT Secret is mounted in the agent container (read-only; AZP_TOKEN_FILE points at
 * the "token" file in it). User PVCs may not be mounted here or below. */
#define RUNNER_POOL_PAT_MOUNT_DIR "/var/run/secrets/devops.opentools.mf/pat"

/* certTrustStore secrets are mounted read-only at <dir>/<secretName>. */
#define RUNNER_POOL_CERTS_DIR "/etc/ssl/certs"

/* The longest RunnerPool name whose pods and PVCs stay valid names, given the longest pvc name
 * (0 when the pool has no PVCs). See the header comment for the arithmetic. */
size_t runner_pool_name_max(size_t longest_pvc_name);

/* True for the environment variables the operator sets in every agent container (AZP_URL,
 * AZP_POOL, AZP_AGENT_NAME, AZP_WORK, AZP_TOKEN, AZP_TOKEN_FILE, AZP_RUN_ONCE, VSO_AGENT_IGNORE):
 * extraEnv and capability keys may not set them. */
bool runner_pool_env_is_reserved(const char *name);

/* True for label keys the operator owns on agent pods (app, runner-pool,
 * app.kubernetes.io/managed-by, app.kubernetes.io/name and every devops.opentools.mf/ key). */
bool runner_pool_label_is_reserved(const char *key);

/* Checks a whole RunnerPool object (as in AdmissionReview request.object or a GET) and appends
 * one entry per problem to 'errors'. Defaults are not required to be present: a field left out
 * is valid when it has a default. Nothing is appended for a valid object. */
void runner_pool_validate(const json_t *obj, struct field_errors *errors);

/* The UPDATE rules, given the stored object and the proposed one.
 *
 * Decision: changing spec.pool or spec.azDoUrl is REFUSED, not handled. The agents, their
 * registrations and the offline placeholder registrations of the old pool would otherwise be
 * orphaned: the operator would have to drain and unregister everything in the old pool, possibly
 * with a PAT that only works for the new one, while also scaling the new pool under the same
 * name. Deleting the RunnerPool (its finalizer retires and unregisters the agents) and creating
 * it again does exactly that, visibly. A different spelling of the same organisation
 * (https://dev.azure.com/Org vs https://org.visualstudio.com, a trailing slash) is not a change.
 *
 * An update that leaves spec unchanged (finalizer removal, labels, annotations) is always
 * accepted, even when the stored spec breaks today's rules: otherwise an object created before a
 * rule existed could never finish deletion. Any other update must pass runner_pool_validate(). */
void runner_pool_validate_update(const json_t *old_obj, const json_t *new_obj,
                                 struct field_errors *errors);

#endif
