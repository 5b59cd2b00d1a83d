/* agent_pod.h - the agent Pod of one slot of a RunnerPool, built as JSON without any I/O.
 *
 * The pod <pool>-agent-<index> (labels and owner reference: agent_meta.h) runs one Azure DevOps
 * agent container, "agent", from spec.image or, for a capability slot, capabilityImages[key]:
 *   - env: AZP_URL, AZP_POOL, AZP_AGENT_NAME (= the pod name), AZP_WORK (/azp/_work: mount a PVC
 *     there to keep the work folder), AZP_TOKEN_FILE (the PAT Secret's "token" key, mounted
 *     read-only from patSecretName: the operator never reads or copies the value),
 *     VSO_AGENT_IGNORE (AZP_TOKEN, AZP_TOKEN_FILE and every extraEnv variable taken from a Secret,
 *     so the agent does not publish them as capabilities), AZP_RUN_ONCE=true for a run-once slot,
 *     then extraEnv as given, then for a capability slot the capability variable (java=true, or
 *     jdk=17 for "jdk -equals 17") so the registered agent advertises it;
 *   - args ["--once"] for a run-once slot: Microsoft's start.sh passes its arguments to run.sh;
 *   - non-root: runAsNonRoot, runAsUser/runAsGroup, pod fsGroup, no privilege escalation, all
 *     capabilities dropped, RuntimeDefault seccomp;
 *   - certTrustStore secrets read-only at /etc/ssl/certs/<secretName>; PVC mounts;
 *   - with PVCs, an init container "fix-permissions" (root, only CHOWN, FOWNER and DAC_OVERRIDE)
 *     that gives every PVC mount path to runAsUser:runAsGroup and mode 2770.
 *
 * restartPolicy is Never. A run-once agent exits 0 after its job; with Always or OnFailure the
 * kubelet would restart it and it would register for a second job, and the operator could not
 * tell "finished" (phase Succeeded) from "running". A long-running agent that crashes ends in
 * phase Failed, which the planner sees and replaces with a fresh pod (with a clean registration),
 * instead of the kubelet restarting it in place behind the planner's back.
 *
 * No service-account token is mounted unless spec.serviceAccountName is set: pipeline jobs run
 * arbitrary code and have no business with the Kubernetes API by default. */
#ifndef AZDO_POOL_AGENT_POD_H
#define AZDO_POOL_AGENT_POD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "pool/runnerpool.h"

#define AGENT_CONTAINER_NAME "agent"
#define AGENT_INIT_CONTAINER_NAME "fix-permissions"
#define AGENT_WORK_DIR "/azp/_work"
#define AGENT_PAT_VOLUME "azdo-pat"
#define AGENT_PAT_KEY "token" /* the key in patSecretName */

struct agent_pod_opts {
    unsigned index;         /* 0..RUNNER_POOL_INDEX_MAX */
    const char *capability; /* a capabilityImages key, or NULL for the default image */
    bool run_once;          /* the agent takes one job, then exits 0 */
    uint32_t skip_pvcs;     /* bit i set: leave spec.pvcs[i] out (an optional PVC found missing) */
};

/* Builds the pod for 'opts' in 'rp' (borrowed). '*out' is new (json_decref). Errors: -ERANGE (bad
 * index), -ENOENT (capability not in capabilityImages), -EINVAL (rp has no uid, or a skipped PVC
 * is not optional), -ENOMEM. '*out' is set only on success. */
int agent_pod_build(const struct runner_pool *rp, const struct agent_pod_opts *opts, json_t **out,
                    struct err *err);

#endif
