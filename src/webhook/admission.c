/* admission.c - AdmissionReview v1 parsing and response building (see admission.h).
 *
 * Invariants: (1) every input gets an answer, never a crash: the fuzz target feeds this file
 * arbitrary bytes; (2) an answer to an AdmissionReview always echoes request.uid, because the API
 * server treats a mismatch as a webhook failure; (3) a validating answer never carries a patch,
 * and a mutating one carries patch and patchType together or neither (API-server rules). */
#include "webhook/admission.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pool/runnerpool_defaults.h"
#include "pool/runnerpool_validate.h"

#define ADMISSION_API_VERSION "admission.k8s.io/v1"
#define ADMISSION_KIND "AdmissionReview"
#define POOL_GROUP "devops.opentools.mf"
#define POOL_KIND "RunnerPool"

char *admission_base64(const void *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out;

    if (len > (size_t)INT32_MAX / 2)
        return NULL;
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

void admission_reply_clear(struct admission_reply *reply)
{
    if (reply == NULL)
        return;
    free(reply->body);
    memset(reply, 0, sizeof(*reply));
}

/* Serialises 'doc' (stolen) into 'out'. */
static int finish(json_t *doc, int http_status, bool allowed, int status_code,
                  struct admission_reply *out)
{
    char *text = doc == NULL ? NULL : json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    if (text == NULL)
        return -ENOMEM;
    out->http_status = http_status;
    out->body = text;
    out->body_len = strlen(text);
    out->allowed = allowed;
    out->status_code = status_code;
    return 0;
}

/* HTTP 400 with a Kubernetes Status: the body was not an AdmissionReview we can answer. */
static int bad_request(struct admission_reply *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad_request(struct admission_reply *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return finish(json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "apiVersion", "v1", "kind", "Status",
                            "status", "Failure", "reason", "BadRequest", "message", msg, "code", 400),
                  400, false, 400, out);
}

/* Wraps a response object (stolen) into an AdmissionReview. */
static json_t *review(json_t *response)
{
    if (response == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o}", "apiVersion", ADMISSION_API_VERSION, "kind", ADMISSION_KIND,
                     "response", response);
}

/* allowed false with a Status; 'causes' (stolen, may be NULL) becomes status.details.causes. */
static int deny(struct admission_reply *out, const char *uid, int code, const char *reason,
                const char *message, json_t *causes)
{
    json_t *status = json_pack("{s:s, s:i, s:s, s:s}", "status", "Failure", "code", code, "reason",
                               reason, "message", message);

    if (status != NULL && causes != NULL)
        json_object_set_new(status, "details", json_pack("{s:o}", "causes", causes));
    else
        json_decref(causes);
    if (status == NULL)
        return -ENOMEM;
    return finish(review(json_pack("{s:s, s:b, s:o}", "uid", uid, "allowed", 0, "status", status)),
                  200, false, code, out);
}

static int allow(struct admission_reply *out, const char *uid, const char *patch_b64)
{
    json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", 1);

    if (resp != NULL && patch_b64 != NULL) {
        json_object_set_new(resp, "patchType", json_string("JSONPatch"));
        json_object_set_new(resp, "patch", json_string(patch_b64));
    }
    return finish(review(resp), 200, true, 0, out);
}

static const char *str_or(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : fallback;
}

/* The object's name for messages: request.name, else metadata.name, else metadata.generateName. */
static const char *object_name(const json_t *request, const json_t *object)
{
    const json_t *meta = json_object_get(object, "metadata");
    const char *name = str_or(request, "name", "");

    if (name[0] == '\0')
        name = str_or(meta, "name", "");
    if (name[0] == '\0')
        name = str_or(meta, "generateName", "");
    return name;
}

static int mutate(const struct admission_policy *policy, const char *uid, const json_t *object,
                  struct admission_reply *out)
{
    json_t *ops = json_array();
    char *text = NULL, *b64 = NULL;
    struct err err = {0};
    int rc;

    if (ops == NULL)
        return -ENOMEM;
    rc = policy->defaults(object, ops, &err);
    if (rc < 0) {
        json_decref(ops);
        if (rc == -ENOMEM)
            return rc;
        return deny(out, uid, 400, "BadRequest", err.msg[0] != '\0' ? err.msg : "cannot apply defaults",
                    NULL);
    }
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return allow(out, uid, NULL);
    }
    text = json_dumps(ops, JSON_COMPACT);
    json_decref(ops);
    b64 = text == NULL ? NULL : admission_base64(text, strlen(text));
    free(text);
    if (b64 == NULL)
        return -ENOMEM;
    rc = allow(out, uid, b64);
    free(b64);
    return rc;
}

static int validate(const struct admission_policy *policy, const char *uid, const json_t *request,
                    const json_t *object, const json_t *old_object, struct admission_reply *out)
{
    struct field_errors fe;
    json_t *causes = NULL;
    struct err err = {0};
    char *joined = NULL, *message = NULL;
    int rc;

    field_errors_init(&fe);
    rc = policy->validate(object, old_object, &fe, &err);
    if (rc < 0) {
        field_errors_free(&fe);
        if (rc == -ENOMEM)
            return rc;
        return deny(out, uid, 400, "BadRequest", err.msg[0] != '\0' ? err.msg : "cannot validate",
                    NULL);
    }
    if (!field_errors_any(&fe)) {
        field_errors_free(&fe);
        return allow(out, uid, NULL);
    }

    /* One message for kubectl's output, one cause per error for tools that read details. */
    causes = json_array();
    for (size_t i = 0; causes != NULL && i < fe.count; i++)
        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid",
                                                "field", fe.items[i].path, "message",
                                                fe.items[i].message));
    joined = field_errors_join(&fe, "; ");
    if (joined != NULL &&
        asprintf(&message, "RunnerPool \"%s\" is invalid: %s%s", object_name(request, object),
                 joined, fe.out_of_memory ? " (list incomplete: out of memory)" : "") < 0)
        message = NULL;
    field_errors_free(&fe);
    free(joined);
    if (message == NULL) {
        json_decref(causes);
        return -ENOMEM;
    }
    rc = deny(out, uid, 422, "Invalid", message, causes);
    free(message);
    return rc;
}

int admission_handle(enum admission_hook hook, const struct admission_policy *policy,
                     const char *body, size_t len, struct admission_reply *out)
{
    json_t *root = NULL;
    const json_t *request, *object, *old_object, *kind;
    const char *uid, *api_version, *op;
    json_error_t jerr;
    int rc;

    memset(out, 0, sizeof(*out));
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL) {
        rc = bad_request(out, "request body is not JSON: %s (line %d, column %d)", jerr.text,
                         jerr.line, jerr.column);
        goto out;
    }

    /* The envelope: only what the API server guarantees. */
    api_version = str_or(root, "apiVersion", NULL);
    if (!json_is_object(root) || api_version == NULL ||
        strcmp(str_or(root, "kind", ""), ADMISSION_KIND) != 0) {
        rc = bad_request(out, "request body is not an AdmissionReview: want apiVersion '%s' and "
                              "kind '%s'", ADMISSION_API_VERSION, ADMISSION_KIND);
        goto out;
    }
    if (strcmp(api_version, ADMISSION_API_VERSION) != 0) {
        rc = bad_request(out, "unsupported AdmissionReview apiVersion '%.64s': want '%s' (set "
                              "admissionReviewVersions: [v1])", api_version, ADMISSION_API_VERSION);
        goto out;
    }
    request = json_object_get(root, "request");
    uid = str_or(request, "uid", "");
    if (!json_is_object(request) || uid[0] == '\0') {
        rc = bad_request(out, "AdmissionReview has no request.uid");
        goto out;
    }

    /* From here on every answer is an AdmissionReview echoing 'uid'. */
    op = str_or(request, "operation", "");
    object = json_object_get(request, "object");
    old_object = json_object_get(request, "oldObject");
    kind = json_object_get(request, "kind");
    if (kind != NULL && (strcmp(str_or(kind, "group", ""), POOL_GROUP) != 0 ||
                         strcmp(str_or(kind, "kind", ""), POOL_KIND) != 0)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "this webhook only admits %s.%s, got '%.64s.%.64s': check the "
                 "webhook configuration rules", POOL_KIND, POOL_GROUP, str_or(kind, "kind", ""),
                 str_or(kind, "group", ""));
        rc = deny(out, uid, 400, "BadRequest", msg, NULL);
        goto out;
    }
    if (strcmp(op, "CREATE") != 0 && strcmp(op, "UPDATE") != 0) {
        /* DELETE and CONNECT carry nothing to default or check. */
        rc = allow(out, uid, NULL);
        goto out;
    }
    if (!json_is_object(object)) {
        rc = deny(out, uid, 400, "BadRequest", "request.object must be a RunnerPool object", NULL);
        goto out;
    }
    if (strcmp(op, "UPDATE") == 0 && !json_is_object(old_object)) {
        rc = deny(out, uid, 400, "BadRequest", "request.oldObject must be set on UPDATE", NULL);
        goto out;
    }
    if (strcmp(op, "CREATE") == 0)
        old_object = NULL;

    if (hook == ADMISSION_MUTATE)
        rc = mutate(policy, uid, object, out);
    else
        rc = validate(policy, uid, request, object, old_object, out);
out:
    json_decref(root);
    if (rc < 0)
        admission_reply_clear(out);
    return rc;
}

/* ---------------------------------------------------------------- RunnerPool binding */

/* The two adapters are the only place this file knows src/pool/. runner_pool_validate_update()
 * refuses changes of spec.pool and spec.azDoUrl (see its header for why that was chosen over
 * migrating agents) and runs the full validation when spec changed. */
static int pool_defaults(const json_t *object, json_t *ops, struct err *err)
{
    json_t *patch = runner_pool_default_patch(object);

    if (patch == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    json_array_extend(ops, patch);
    json_decref(patch);
    return 0;
}

static int pool_validate(const json_t *object, const json_t *old_object,
                         struct field_errors *errors, struct err *err)
{
    (void)err;
    if (old_object != NULL)
        runner_pool_validate_update(old_object, object, errors);
    else
        runner_pool_validate(object, errors);
    return 0;
}

const struct admission_policy *admission_runnerpool_policy(void)
{
    static const struct admission_policy policy = {pool_defaults, pool_validate};
    return &policy;
}
