/* act.c - carrying out one planned action against Kubernetes or Azure DevOps.
 *
 * Every action is idempotent by construction (operator.h): a create that finds the object
 * (AlreadyExists) and a delete that finds nothing (NotFound) are successes, so re-executing an
 * intent after a crash is always safe. Pods and PVCs are built from the pool's parsed spec by the
 * pure builders in src/pool/. Azure DevOps actions go through azdo_ops.c with the pool's PAT. */
#include "operator/operator.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "operator/azdo_ops.h"
#include "operator/obs_map.h"
#include "plan/plan.h"
#include "pool/agent_pod.h"
#include "pool/agent_pvc.h"

struct act_call {
    struct op_pool *pool;
    struct plan_action *action;
    op_act_done_cb done;
    void *cb_data;
};

static void finish(struct act_call *c, int rc, const char *msg)
{
    c->done(c->pool, c->action, rc, msg, c->cb_data);
    free(c);
}

/* Kubernetes outcomes that mean "already as wanted" count as success. */
static void on_kube_done(const struct kube_result *res, void *cb_data)
{
    struct act_call *c = cb_data;
    char msg[ERR_MSG_MAX];
    enum plan_kind k = c->action->kind;
    bool deleting = k == PLAN_DELETE_POD || k == PLAN_DELETE_PVC;
    bool creating = k == PLAN_CREATE_POD || k == PLAN_CREATE_PVC;

    if (res->outcome == KUBE_OK || (deleting && res->outcome == KUBE_NOT_FOUND) ||
        (creating && res->outcome == KUBE_ALREADY_EXISTS)) {
        finish(c, 0, NULL);
        return;
    }
    snprintf(msg, sizeof(msg), "%.40s: %.400s", kube_outcome_name(res->outcome),
             res->err.code != 0 ? res->err.msg : res->status.message);
    finish(c, -EIO, msg);
}

/* Bits of spec.pvcs to leave out: the planner names missing optional claims in omit_pvcs. */
static uint32_t skip_mask(const struct runner_pool *rp, const char *omit)
{
    uint32_t mask = 0;

    for (size_t i = 0; i < rp->pvc_count && i < 32; i++) {
        const char *name = rp->pvcs[i].name;
        size_t n = strlen(name);
        const char *at = omit;

        while ((at = strstr(at, name)) != NULL) {
            bool starts = at == omit || at[-1] == ',';
            bool ends = at[n] == '\0' || at[n] == ',';
            if (starts && ends) {
                mask |= 1u << i;
                break;
            }
            at += n;
        }
    }
    return mask;
}

static int start_create_pod(struct act_call *c, struct err *err)
{
    const struct runner_pool *rp = c->pool->spec;
    struct plan_action *a = c->action;
    struct agent_pod_opts opts = {0};
    json_t *pod = NULL;
    int rc;

    opts.index = (unsigned)a->slot;
    opts.capability = a->cap_key[0] != '\0' ? a->cap_key : NULL;
    /* ttlIdleSeconds 0: agents above minAgents take one job each; the planner decides which. */
    opts.run_once = a->run_once;
    opts.skip_pvcs = skip_mask(rp, a->omit_pvcs);
    rc = agent_pod_build(rp, &opts, &pod, err);
    if (rc != 0)
        return rc;
    rc = kube_create(c->pool->op->kube, &KUBE_PODS, c->pool->ns, pod, on_kube_done, c, NULL, err);
    json_decref(pod);
    return rc;
}

static int start_create_pvc(struct act_call *c, struct err *err)
{
    const struct runner_pool *rp = c->pool->spec;
    struct plan_action *a = c->action;
    json_t *pvc = NULL;
    size_t i;
    int rc;

    for (i = 0; i < rp->pvc_count; i++) {
        if (strcmp(rp->pvcs[i].name, a->pvc_template) == 0)
            break;
    }
    if (i == rp->pvc_count)
        return err_set(err, -ENOENT, "pvc template '%s' is not in spec.pvcs", a->pvc_template);
    rc = agent_pvc_build(rp, (unsigned)a->slot, i, &pvc, err);
    if (rc != 0)
        return rc;
    rc = kube_create(c->pool->op->kube, &KUBE_PVCS, c->pool->ns, pvc, on_kube_done, c, NULL, err);
    json_decref(pvc);
    return rc;
}

/* Adds or removes our finalizer with a JSON patch. Removal tests the element first, so a list
 * that changed meanwhile (another controller's finalizer added or removed) fails with a 422/409
 * instead of dropping someone else's entry; the next tick reads the new list and tries again. */
static int start_finalizer_patch(struct act_call *c, bool add, struct err *err)
{
    const json_t *list = json_object_get(json_object_get(c->pool->obj, "metadata"), "finalizers");
    json_t *patch = json_array();
    char path[64];
    size_t i;
    const json_t *f;
    int rc;

    if (add && json_array_size(list) == 0) {
        json_array_append_new(patch, json_pack("{s:s, s:s, s:[s]}", "op", "add", "path",
                                               "/metadata/finalizers", "value", OP_FINALIZER));
    } else if (add) {
        json_array_append_new(patch, json_pack("{s:s, s:s, s:s}", "op", "add", "path",
                                               "/metadata/finalizers/-", "value", OP_FINALIZER));
    } else {
        json_array_foreach(list, i, f)
        {
            const char *s = json_string_value(f);
            if (s == NULL || strcmp(s, OP_FINALIZER) != 0)
                continue;
            snprintf(path, sizeof(path), "/metadata/finalizers/%zu", i);
            json_array_append_new(patch, json_pack("{s:s, s:s, s:s}", "op", "test", "path", path,
                                                   "value", OP_FINALIZER));
            json_array_append_new(patch, json_pack("{s:s, s:s}", "op", "remove", "path", path));
            break;
        }
        if (json_array_size(patch) == 0) { /* already released */
            json_decref(patch);
            finish(c, 0, NULL);
            return 0;
        }
    }
    rc = kube_patch(c->pool->op->kube, &KUBE_RUNNERPOOLS, c->pool->ns, c->pool->name,
                    KUBE_PATCH_JSON, patch, NULL, on_kube_done, c, NULL, err);
    json_decref(patch);
    return rc;
}

static int start_event(struct act_call *c, struct err *err)
{
    const json_t *meta = json_object_get(c->pool->obj, "metadata");
    struct kube_event_ref ref = {RUNNER_POOL_API_VERSION, RUNNER_POOL_KIND, c->pool->ns,
                                 c->pool->name,
                                 json_string_value(json_object_get(meta, "uid"))};
    int rc = 0;

    if (c->pool->op->events != NULL)
        rc = kube_event_emit(c->pool->op->events, &ref,
                             plan_event_is_warning(c->action->target) ? "Warning" : "Normal",
                             c->action->target, c->action->sentence, err);
    /* Events are fire-and-forget: their delivery is not part of the pool's correctness. */
    finish(c, rc, rc == 0 ? NULL : err->msg);
    return 0;
}

static void on_azdo_done(int rc, const char *msg, void *cb_data)
{
    finish(cb_data, rc, msg);
}

void op_act_start(struct op_pool *p, struct plan_action *a, op_act_done_cb done, void *cb_data)
{
    struct act_call *c = calloc(1, sizeof(*c));
    struct err err = {0};
    struct kube_delete_opts del = {.propagation_policy = "Background", .grace_period_s = -1};
    int rc;

    if (c == NULL) {
        done(p, a, -ENOMEM, "out of memory", cb_data);
        return;
    }
    *c = (struct act_call){p, a, done, cb_data};
    if (p->spec == NULL && a->kind != PLAN_RELEASE_FINALIZER && a->kind != PLAN_DELETE_POD &&
        a->kind != PLAN_DELETE_PVC && a->kind != PLAN_EMIT_EVENT) {
        finish(c, -EINVAL, "the pool's spec is invalid");
        return;
    }
    switch (a->kind) {
    case PLAN_ADD_FINALIZER: rc = start_finalizer_patch(c, true, &err); break;
    case PLAN_RELEASE_FINALIZER: rc = start_finalizer_patch(c, false, &err); break;
    case PLAN_CREATE_POD: rc = start_create_pod(c, &err); break;
    case PLAN_CREATE_PVC: rc = start_create_pvc(c, &err); break;
    case PLAN_DELETE_POD:
        rc = kube_delete(p->op->kube, &KUBE_PODS, p->ns, a->target, &del, on_kube_done, c, NULL,
                         &err);
        break;
    case PLAN_DELETE_PVC:
        rc = kube_delete(p->op->kube, &KUBE_PVCS, p->ns, a->target, &del, on_kube_done, c, NULL,
                         &err);
        break;
    case PLAN_DISABLE_AGENT:
    case PLAN_ENABLE_AGENT:
        rc = op_azdo_set_enabled(p, a->agent_id, a->kind == PLAN_ENABLE_AGENT, on_azdo_done, c,
                                 &err);
        break;
    case PLAN_DELETE_REGISTRATION:
    case PLAN_DELETE_PLACEHOLDER:
        rc = op_azdo_delete_agent(p, a->agent_id, on_azdo_done, c, &err);
        break;
    case PLAN_REGISTER_PLACEHOLDER:
        rc = op_azdo_register_placeholder(p, a->target, a->cap_key, on_azdo_done, c, &err);
        break;
    case PLAN_EMIT_EVENT: rc = start_event(c, &err); break;
    default: rc = err_set(&err, -EINVAL, "unknown action kind %d", (int)a->kind); break;
    }
    if (rc != 0)
        finish(c, rc, err.msg);
}
