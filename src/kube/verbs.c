/* kube/verbs.c - typed verbs (get, list, create, update, patch, delete) over kube_request:
 * they build paths, query strings and bodies, nothing more. */
#include "kube/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"

#define VERB_PATH_MAX 2048

static int path_or_fail(const struct kube_resource *res, const char *ns, const char *name,
                        const char *sub, char *out, struct err *err)
{
    if (res->namespaced && ns == NULL && name != NULL)
        return err_set(err, -EINVAL, "%s '%s' needs a namespace", res->kind, name);
    if (kube_path(res, ns, name, sub, out, VERB_PATH_MAX) != 0)
        return err_set(err, -ENAMETOOLONG, "path too long for %s '%s'", res->kind,
                       name != NULL ? name : "");
    return 0;
}

/* Serialises 'obj' compactly into a new string. */
static char *dump(const json_t *obj)
{
    return json_dumps(obj, JSON_COMPACT);
}

int kube_get(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
             kube_done_cb cb, void *cb_data, struct kube_call **out, struct err *err)
{
    char path[VERB_PATH_MAX];
    int rc = path_or_fail(res, ns, name, NULL, path, err);

    if (rc != 0)
        return rc;
    return kube_request(k, "GET", path, NULL, NULL, 0, cb, cb_data, out, err);
}

/* Appends "&key=escaped(value)" (or "?key=...") to 'path'. */
static int add_query(char *path, size_t cap, const char *key, const char *value)
{
    char esc[1024];
    size_t len = strlen(path);
    int n;

    if (kube_url_escape(value, esc, sizeof(esc)) != 0)
        return -ENAMETOOLONG;
    n = snprintf(path + len, cap - len, "%s%s=%s", strchr(path, '?') != NULL ? "&" : "?", key,
                 esc);
    return n >= 0 && (size_t)n < cap - len ? 0 : -ENAMETOOLONG;
}

int kube_list(struct kube *k, const struct kube_resource *res, const char *ns,
              const struct kube_list_opts *opts, kube_done_cb cb, void *cb_data,
              struct kube_call **out, struct err *err)
{
    char path[VERB_PATH_MAX], limit[16];
    int rc = path_or_fail(res, ns, NULL, NULL, path, err);

    if (rc != 0)
        return rc;
    snprintf(limit, sizeof(limit), "%u", opts != NULL && opts->limit != 0 ? opts->limit : 500u);
    rc = add_query(path, sizeof(path), "limit", limit);
    if (rc == 0 && opts != NULL && opts->label_selector != NULL)
        rc = add_query(path, sizeof(path), "labelSelector", opts->label_selector);
    if (rc == 0 && opts != NULL && opts->field_selector != NULL)
        rc = add_query(path, sizeof(path), "fieldSelector", opts->field_selector);
    if (rc != 0)
        return err_set(err, rc, "list query too long for %s", res->plural);
    return kube_request_list(k, path, cb, cb_data, out, err);
}

int kube_create(struct kube *k, const struct kube_resource *res, const char *ns,
                const json_t *obj, kube_done_cb cb, void *cb_data, struct kube_call **out,
                struct err *err)
{
    char path[VERB_PATH_MAX];
    char *body;
    int rc = path_or_fail(res, ns, NULL, NULL, path, err);

    if (rc != 0)
        return rc;
    body = dump(obj);
    if (body == NULL)
        return err_set(err, -EINVAL, "cannot serialise %s", res->kind);
    rc = kube_request(k, "POST", path, "application/json", body, 0, cb, cb_data, out, err);
    free(body);
    return rc;
}

int kube_update(struct kube *k, const struct kube_resource *res, const char *ns,
                const json_t *obj, const char *subresource, kube_done_cb cb, void *cb_data,
                struct kube_call **out, struct err *err)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    char path[VERB_PATH_MAX];
    char *body;
    int rc;

    /* Without a resourceVersion a PUT would overwrite someone else's change unseen. */
    if (name == NULL || rv == NULL || rv[0] == '\0')
        return err_set(err, -EINVAL, "%s update needs metadata.name and metadata.resourceVersion",
                       res->kind);
    rc = path_or_fail(res, ns, name, subresource, path, err);
    if (rc != 0)
        return rc;
    body = dump(obj);
    if (body == NULL)
        return err_set(err, -EINVAL, "cannot serialise %s '%s'", res->kind, name);
    rc = kube_request(k, "PUT", path, "application/json", body, 0, cb, cb_data, out, err);
    free(body);
    return rc;
}

int kube_patch(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
               enum kube_patch_type type, const json_t *patch, const char *subresource,
               kube_done_cb cb, void *cb_data, struct kube_call **out, struct err *err)
{
    static const char *const types[] = {"application/merge-patch+json",
                                        "application/json-patch+json",
                                        "application/strategic-merge-patch+json"};
    char path[VERB_PATH_MAX];
    char *body;
    int rc;

    if ((unsigned)type >= sizeof(types) / sizeof(types[0]))
        return err_set(err, -EINVAL, "unknown patch type %d", (int)type);
    if (type == KUBE_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch))
        return err_set(err, -EINVAL, "%s patch for %s '%s' has the wrong json shape",
                       type == KUBE_PATCH_JSON ? "json" : "merge", res->kind, name);
    rc = path_or_fail(res, ns, name, subresource, path, err);
    if (rc != 0)
        return rc;
    body = dump(patch);
    if (body == NULL)
        return err_set(err, -EINVAL, "cannot serialise patch for %s '%s'", res->kind, name);
    rc = kube_request(k, "PATCH", path, types[type], body, 0, cb, cb_data, out, err);
    free(body);
    return rc;
}

int kube_delete(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
                const struct kube_delete_opts *opts, kube_done_cb cb, void *cb_data,
                struct kube_call **out, struct err *err)
{
    char path[VERB_PATH_MAX];
    json_t *body_obj;
    char *body;
    int rc = path_or_fail(res, ns, name, NULL, path, err);

    if (rc != 0)
        return rc;
    body_obj = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (opts != NULL && opts->propagation_policy != NULL)
        json_object_set_new(body_obj, "propagationPolicy", json_string(opts->propagation_policy));
    if (opts != NULL && opts->has_grace_period)
        json_object_set_new(body_obj, "gracePeriodSeconds", json_integer(opts->grace_period_s));
    if (opts != NULL && (opts->precondition_uid != NULL || opts->precondition_rv != NULL)) {
        json_t *pre = json_object();

        if (opts->precondition_uid != NULL)
            json_object_set_new(pre, "uid", json_string(opts->precondition_uid));
        if (opts->precondition_rv != NULL)
            json_object_set_new(pre, "resourceVersion", json_string(opts->precondition_rv));
        json_object_set_new(body_obj, "preconditions", pre);
    }
    body = dump(body_obj);
    json_decref(body_obj);
    if (body == NULL)
        return err_set(err, -ENOMEM, "cannot serialise delete options");
    rc = kube_request(k, "DELETE", path, "application/json", body, 0, cb, cb_data, out, err);
    free(body);
    return rc;
}
