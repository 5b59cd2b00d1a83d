/* agent_pvc.c - the agent PVC builder (see agent_pvc.h for naming and ownership rules). */
#include "pool/agent_pvc.h"

#include <errno.h>

#include "pool/agent_meta.h"

int agent_pvc_build(const struct runner_pool *rp, unsigned index, size_t pvc_index, json_t **out,
                    struct err *err)
{
    const struct runner_pool_pvc *p;
    char name[512];
    json_t *labels = NULL, *pvc = NULL, *meta, *spec;
    int rc;

    if (pvc_index >= rp->pvc_count)
        return err_set(err, -ERANGE, "pvc index %zu outside the %zu pvcs of '%s/%s'", pvc_index,
                       rp->pvc_count, rp->namespace, rp->name);
    p = &rp->pvcs[pvc_index];
    rc = agent_pvc_name(rp->name, index, p->name, name, sizeof(name), err);
    if (rc < 0)
        return rc;
    if (!p->create_pvc || p->storage == NULL)
        return err_set(err, -EINVAL, "pvc '%s' has createPvc false: the operator does not "
                                     "create claim '%s'", p->name, name);
    if (p->delete_with_agent && rp->uid == NULL)
        return err_set(err, -EINVAL, "RunnerPool '%s/%s' has no uid for the owner reference",
                       rp->namespace, rp->name);

    labels = agent_meta_labels(rp, index);
    if (labels == NULL || json_object_set_new(labels, AGENT_LABEL_PVC, json_string(p->name)) != 0)
        goto oom;
    meta = json_pack("{s:s, s:s, s:O}", "name", name, "namespace", rp->namespace, "labels", labels);
    if (meta == NULL)
        goto oom;
    /* Kept claims carry no owner: see agent_pvc.h. */
    if (p->delete_with_agent &&
        json_object_set_new(meta, "ownerReferences", agent_meta_owner_references(rp)) != 0) {
        json_decref(meta);
        goto oom;
    }
    spec = json_pack("{s:[s], s:{s:{s:s}}}", "accessModes", AGENT_PVC_ACCESS_MODE, "resources",
                     "requests", "storage", p->storage);
    if (spec != NULL && p->storage_class != NULL &&
        json_object_set_new(spec, "storageClassName", json_string(p->storage_class)) != 0) {
        json_decref(spec);
        spec = NULL;
    }
    pvc = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                    "metadata", meta, "spec", spec);
    if (pvc == NULL)
        goto oom;
    json_decref(labels);
    *out = pvc;
    return 0;

oom:
    json_decref(labels);
    return err_set(err, -ENOMEM, "out of memory building claim '%s'", name);
}
