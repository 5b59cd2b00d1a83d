/* agent_pvc.h - the PersistentVolumeClaims of one agent slot, built as JSON without any I/O.
 *
 * spec.pvcs[i] of pool P gives slot <index> the claim P-agent-<index>-<name>: ReadWriteOnce, the
 * requested storage, storageClassName when given ("" asks for no class; absent lets the cluster's
 * default class apply). Labels: the pod's operator labels (agent_meta_labels, no capability: the
 * claim belongs to the index, whichever image the next agent uses) plus
 * devops.opentools.mf/pvc=<name>.
 *
 * Ownership decides what garbage collection does:
 *   - deleteWithAgent true: an ownerReference to the RunnerPool, so deleting the pool also
 *     deletes the claim (the operator deletes it with its agent before that);
 *   - deleteWithAgent false (kept): NO ownerReference. Deleting the RunnerPool leaves the claim
 *     and its data alone, and a RunnerPool created again under the same name finds it by name and
 *     reattaches it to the same index. */
#ifndef AZDO_POOL_AGENT_PVC_H
#define AZDO_POOL_AGENT_PVC_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "pool/runnerpool.h"

#define AGENT_PVC_ACCESS_MODE "ReadWriteOnce"

/* Builds the claim for spec.pvcs[pvc_index] of slot 'index' of 'rp' (borrowed). '*out' is new
 * (json_decref). Errors: -ERANGE (bad index or pvc_index), -EINVAL (createPvc is false: the user
 * provides that claim, so there is nothing to build; or rp has no uid where an owner reference
 * is needed), -ENOMEM. */
int agent_pvc_build(const struct runner_pool *rp, unsigned index, size_t pvc_index, json_t **out,
                    struct err *err);

#endif
