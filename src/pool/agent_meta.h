/* agent_meta.h - names, labels and the owner reference shared by agent pods and their PVCs.
 *
 * Every object the operator creates for a pool carries the labels below, so the run loop can
 * list and watch exactly its own objects (selector: app.kubernetes.io/managed-by=
 * azdo-runner-operator) and one pool's objects (devops.opentools.mf/pool=<pool>), and map a pod or
 * PVC back to its slot (devops.opentools.mf/ordinal=<index>). All functions are pure. */
#ifndef AZDO_POOL_AGENT_META_H
#define AZDO_POOL_AGENT_META_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "pool/runnerpool.h"

#define AGENT_LABEL_APP "app"
#define AGENT_LABEL_APP_VALUE "azdo-runner"
#define AGENT_LABEL_RUNNER_POOL "runner-pool"
#define AGENT_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define AGENT_LABEL_MANAGED_BY_VALUE "azdo-runner-operator"
#define AGENT_LABEL_NAME "app.kubernetes.io/name"
#define AGENT_LABEL_NAME_VALUE "azdo-agent"
#define AGENT_LABEL_POOL "devops.opentools.mf/pool"
#define AGENT_LABEL_ORDINAL "devops.opentools.mf/ordinal"
#define AGENT_LABEL_CAPABILITY "devops.opentools.mf/capability"
#define AGENT_LABEL_PVC "devops.opentools.mf/pvc"

/* Pod annotations the operator sets (user annotations never replace them). */
#define AGENT_ANNOTATION_CAPABILITY_KEY "devops.opentools.mf/capability-key" /* exact key */
#define AGENT_ANNOTATION_RUN_ONCE "devops.opentools.mf/run-once"             /* "true"/"false" */
#define AGENT_ANNOTATION_GENERATION "devops.opentools.mf/pool-generation"    /* spec generation */

/* Selector for everything the operator manages, and for one pool (write into 'buf'). */
#define AGENT_SELECTOR_MANAGED AGENT_LABEL_MANAGED_BY "=" AGENT_LABEL_MANAGED_BY_VALUE

/* Writes "<pool>-agent-<index>" into buf. 0, -ERANGE for an index outside
 * 0..RUNNER_POOL_INDEX_MAX, or -ENAMETOOLONG when 'len' is too small. */
int agent_pod_name(const char *pool_name, unsigned index, char *buf, size_t len, struct err *err);

/* Writes "<pool>-agent-<index>-<pvc>" into buf; same errors. */
int agent_pvc_name(const char *pool_name, unsigned index, const char *pvc_name, char *buf,
                   size_t len, struct err *err);

/* Writes the label selector of one pool's objects: "app.kubernetes.io/managed-by=
 * azdo-runner-operator,devops.opentools.mf/pool=<pool>". 0 or -ENAMETOOLONG. */
int agent_pool_selector(const char *pool_name, char *buf, size_t len, struct err *err);

/* New object with the operator's labels for slot 'index' of 'rp' (app, runner-pool, managed-by,
 * name, pool, ordinal). NULL when out of memory. */
json_t *agent_meta_labels(const struct runner_pool *rp, unsigned index);

/* New one-element ownerReferences array pointing at the RunnerPool (controller and
 * blockOwnerDeletion true). NULL when out of memory or when rp->uid is NULL. */
json_t *agent_meta_owner_references(const struct runner_pool *rp);

#endif
