/* plan_names.c - names of action kinds and of the objects the operator creates.
 * The naming scheme is shared with the pod/PVC builders: change both together. */
#include "plan/plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[PLAN_KIND_COUNT] = {
    [PLAN_ADD_FINALIZER] = "add_finalizer",
    [PLAN_CREATE_PVC] = "create_pvc",
    [PLAN_CREATE_POD] = "create_pod",
    [PLAN_DELETE_POD] = "delete_pod",
    [PLAN_DELETE_PVC] = "delete_pvc",
    [PLAN_DISABLE_AGENT] = "disable_agent",
    [PLAN_ENABLE_AGENT] = "enable_agent",
    [PLAN_DELETE_REGISTRATION] = "delete_registration",
    [PLAN_REGISTER_PLACEHOLDER] = "register_placeholder",
    [PLAN_DELETE_PLACEHOLDER] = "delete_placeholder",
    [PLAN_RELEASE_FINALIZER] = "release_finalizer",
    [PLAN_EMIT_EVENT] = "emit_event",
};

const char *plan_kind_name(enum plan_kind k)
{
    if ((unsigned)k >= PLAN_KIND_COUNT)
        return "unknown";
    return kind_names[k];
}

int plan_kind_parse(const char *name, enum plan_kind *out)
{
    for (int k = 0; name != NULL && k < PLAN_KIND_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (enum plan_kind)k;
            return 0;
        }
    }
    return -EINVAL;
}

bool plan_event_is_warning(const char *reason)
{
    static const char *const normal[] = {"ScaleDownAborted", "PlaceholderRegistered"};
    for (size_t i = 0; reason != NULL && i < sizeof(normal) / sizeof(normal[0]); i++) {
        if (strcmp(reason, normal[i]) == 0)
            return false;
    }
    return true;
}

int plan_agent_name(char *buf, size_t len, const char *pool, int idx)
{
    return snprintf(buf, len, "%s-agent-%d", pool, idx);
}

int plan_placeholder_name(char *buf, size_t len, const char *pool, const char *cap_key)
{
    if (cap_key == NULL || cap_key[0] == '\0')
        return snprintf(buf, len, "%s-template", pool);
    return snprintf(buf, len, "%s-template-%s", pool, cap_key);
}

int plan_pvc_name(char *buf, size_t len, const char *pool, int idx, const char *tmpl)
{
    return snprintf(buf, len, "%s-agent-%d-%s", pool, idx, tmpl);
}
