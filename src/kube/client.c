/* kube/client.c - Kubernetes API verbs on src/http (see client.h).
 *
 * A kube_call wraps one http call at a time: a list follows 'continue' tokens with successive
 * requests, and a 401 re-reads the token and repeats the request once. The callback runs exactly
 * once per call unless it is cancelled; the call leaves the client's list before the callback,
 * so a callback may start new calls or free unrelated ones.
 *
 * Logging: one debug line per finished request with method, path, status and duration; the
 * token and bodies never appear. */
#include "kube/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"
#include "kube/token.h"
#include "log.h"

const struct kube_resource KUBE_PODS = {"", "v1", "pods", "Pod", true};
const struct kube_resource KUBE_PVCS = {"", "v1", "persistentvolumeclaims",
                                        "PersistentVolumeClaim", true};
const struct kube_resource KUBE_SECRETS = {"", "v1", "secrets", "Secret", true};
const struct kube_resource KUBE_EVENTS = {"", "v1", "events", "Event", true};
const struct kube_resource KUBE_LEASES = {"coordination.k8s.io", "v1", "leases", "Lease", true};
const struct kube_resource KUBE_RUNNERPOOLS = {"devops.opentools.mf", "v1", "runnerpools",
                                               "RunnerPool", true};

#define KUBE_PATH_MAX 2048
#define KUBE_DEFAULT_PAGE 500

struct kube {
    struct loop *loop;
    struct http *http;
    struct kube_config *cfg;
    struct kube_token *token;
    struct http_tls tls; /* borrows from cfg */
    struct http_stats stats;
    struct kube_call *calls;
};

struct kube_call {
    struct kube *k;
    struct kube_call *prev, *next;
    struct http_call *http;
    kube_done_cb cb;
    kube_line_cb on_line;
    void *cb_data;
    char method[8];
    char *path;         /* current request path and query */
    char *content_type;
    char *body;
    uint32_t timeout_ms;
    bool retried_401;
    /* list pagination */
    bool is_list;
    char *list_base;    /* path and query without 'continue' */
    json_t *list;       /* merged list so far */
};

/* ---- small helpers ---------------------------------------------------------------------------- */

int kube_url_escape(const char *in, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';

        if (n + (plain ? 1 : 3) >= out_len)
            return -ENAMETOOLONG;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    if (n >= out_len)
        return -ENAMETOOLONG;
    out[n] = '\0';
    return 0;
}

int kube_path(const struct kube_resource *res, const char *ns, const char *name,
              const char *subresource, char *out, size_t out_len)
{
    char ens[256], ename[512];
    int n;

    if ((ns != NULL && kube_url_escape(ns, ens, sizeof(ens)) != 0) ||
        (name != NULL && kube_url_escape(name, ename, sizeof(ename)) != 0))
        return -ENAMETOOLONG;
    if (res->group[0] == '\0')
        n = snprintf(out, out_len, "/api/%s", res->version);
    else
        n = snprintf(out, out_len, "/apis/%s/%s", res->group, res->version);
    if (res->namespaced && ns != NULL)
        n += snprintf(out + n, n < (int)out_len ? out_len - (size_t)n : 0, "/namespaces/%s", ens);
    n += snprintf(out + n, n < (int)out_len ? out_len - (size_t)n : 0, "/%s", res->plural);
    if (name != NULL)
        n += snprintf(out + n, n < (int)out_len ? out_len - (size_t)n : 0, "/%s", ename);
    if (name != NULL && subresource != NULL)
        n += snprintf(out + n, n < (int)out_len ? out_len - (size_t)n : 0, "/%s", subresource);
    return n < (int)out_len ? 0 : -ENAMETOOLONG;
}

const char *kube_outcome_name(enum kube_outcome o)
{
    static const char *const names[] = {"ok", "not_found", "already_exists", "conflict",
                                        "gone", "invalid", "unauthorized", "forbidden",
                                        "throttled", "server_error", "transport", "other"};

    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}

enum kube_outcome kube_outcome_of(long http_status, const char *reason)
{
    if (http_status == 0)
        return KUBE_TRANSPORT;
    if (http_status >= 200 && http_status < 300)
        return KUBE_OK;
    switch (http_status) {
    case 404: return KUBE_NOT_FOUND;
    case 409:
        return reason != NULL && strcmp(reason, "AlreadyExists") == 0 ? KUBE_ALREADY_EXISTS
                                                                       : KUBE_CONFLICT;
    case 410: return KUBE_GONE;
    case 400:
    case 422: return KUBE_INVALID;
    case 401: return KUBE_UNAUTHORIZED;
    case 403: return KUBE_FORBIDDEN;
    case 429: return KUBE_THROTTLED;
    default: return http_status >= 500 ? KUBE_SERVER_ERROR : KUBE_OTHER;
    }
}

static int outcome_errno(enum kube_outcome o)
{
    switch (o) {
    case KUBE_OK: return 0;
    case KUBE_NOT_FOUND: return -ENOENT;
    case KUBE_ALREADY_EXISTS: return -EEXIST;
    case KUBE_CONFLICT: return -EAGAIN; /* re-read and try again */
    case KUBE_GONE: return -ESTALE;
    case KUBE_INVALID: return -EINVAL;
    case KUBE_UNAUTHORIZED: return -EACCES;
    case KUBE_FORBIDDEN: return -EPERM;
    case KUBE_THROTTLED: return -EBUSY;
    case KUBE_SERVER_ERROR: return -EIO;
    default: return -EPROTO;
    }
}

void kube_status_parse(const json_t *obj, long http_status, struct kube_status *st)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *reason = NULL, *message = NULL;
    json_int_t code = 0;

    memset(st, 0, sizeof(*st));
    if (kind != NULL && strcmp(kind, "Status") == 0) {
        reason = json_string_value(json_object_get(obj, "reason"));
        message = json_string_value(json_object_get(obj, "message"));
        code = json_integer_value(json_object_get(obj, "code"));
    }
    /* A Status code is an HTTP status: anything outside 100..599 is noise, not a truncated
     * 410 or 409 that would trigger a relist or a conflict path. */
    if (code < 100 || code > 599)
        code = 0;
    st->code = code != 0 ? (int)code : (int)http_status;
    snprintf(st->reason, sizeof(st->reason), "%s", reason != NULL ? reason : "");
    snprintf(st->message, sizeof(st->message), "%s", message != NULL ? message : "");
}

/* ---- client lifetime -------------------------------------------------------------------------- */

int kube_new_take(struct loop *loop, struct http *http, struct kube_config *cfg,
                  struct kube **out, struct err *err)
{
    struct kube *k = calloc(1, sizeof(*k));
    int rc;

    if (k == NULL) {
        kube_config_free(cfg);
        return err_set(err, -ENOMEM, "cannot allocate kube client");
    }
    k->loop = loop;
    k->http = http;
    k->cfg = cfg;
    rc = kube_token_new(cfg->token, cfg->token_file, &k->token, err);
    if (rc != 0) {
        kube_config_free(cfg);
        free(k);
        return rc;
    }
    kube_config_tls(cfg, &k->tls);
    *out = k;
    return 0;
}

static void call_unlink(struct kube_call *c)
{
    struct kube *k = c->k;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (k->calls == c)
        k->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void call_free(struct kube_call *c)
{
    free(c->path);
    free(c->content_type);
    free(c->body);
    free(c->list_base);
    json_decref(c->list);
    free(c);
}

void kube_call_cancel(struct kube_call *c)
{
    if (c == NULL)
        return;
    http_cancel(c->http);
    call_unlink(c);
    call_free(c);
}

void kube_free(struct kube *k)
{
    if (k == NULL)
        return;
    while (k->calls != NULL)
        kube_call_cancel(k->calls);
    kube_token_free(k->token);
    kube_config_free(k->cfg);
    free(k);
}

const char *kube_default_namespace(const struct kube *k)
{
    return k->cfg->ns;
}

const char *kube_server(const struct kube *k)
{
    return k->cfg->server;
}

const struct http_stats *kube_stats(const struct kube *k)
{
    return &k->stats;
}

/* ---- sending ---------------------------------------------------------------------------------- */

static void on_http_done(const struct http_response *res, void *cb_data);

static void on_http_line(const char *line, size_t len, void *cb_data)
{
    struct kube_call *c = cb_data;

    c->on_line(line, len, c->cb_data);
}

static int send_current(struct kube_call *c, struct err *err)
{
    struct kube *k = c->k;
    char url[KUBE_PATH_MAX + 512];
    char ct[128];
    const char *headers[4];
    struct http_request req;
    int nh = 0, n;

    n = snprintf(url, sizeof(url), "%s%s", k->cfg->server, c->path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return err_set(err, -ENAMETOOLONG, "request url too long for '%s'", c->path);
    headers[nh++] = "Accept: application/json";
    headers[nh++] = "User-Agent: azdo-runner-operator/" PACKAGE_VERSION;
    if (c->content_type != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", c->content_type);
        headers[nh++] = ct;
    }
    headers[nh] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = c->method;
    req.url = url;
    req.headers = headers;
    req.body = c->body;
    req.body_len = c->body != NULL ? strlen(c->body) : 0;
    req.timeout_ms = c->timeout_ms;
    req.tls = &k->tls;
    req.bearer_token = kube_token_get(k->token, loop_now_ms(k->loop));
    req.on_line = c->on_line != NULL ? on_http_line : NULL;
    req.stats = &k->stats;
    return http_start(k->http, &req, on_http_done, c, &c->http, err);
}

static int call_start(struct kube *k, const char *method, const char *path,
                      const char *content_type, const char *body, uint32_t timeout_ms,
                      kube_line_cb on_line, kube_done_cb cb, void *cb_data, bool is_list,
                      struct kube_call **out, struct err *err)
{
    struct kube_call *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return err_set(err, -ENOMEM, "cannot allocate kube call");
    c->k = k;
    c->cb = cb;
    c->on_line = on_line;
    c->cb_data = cb_data;
    snprintf(c->method, sizeof(c->method), "%s", method);
    c->path = strdup(path);
    c->content_type = content_type != NULL ? strdup(content_type) : NULL;
    c->body = body != NULL ? strdup(body) : NULL;
    c->timeout_ms = timeout_ms;
    c->is_list = is_list;
    if (is_list)
        c->list_base = strdup(path);
    if (c->path == NULL || (content_type != NULL && c->content_type == NULL) ||
        (body != NULL && c->body == NULL) || (is_list && c->list_base == NULL)) {
        call_free(c);
        return err_set(err, -ENOMEM, "cannot allocate kube call");
    }
    rc = send_current(c, err);
    if (rc != 0) {
        call_free(c);
        return rc;
    }
    c->next = k->calls;
    if (k->calls != NULL)
        k->calls->prev = c;
    k->calls = c;
    if (out != NULL)
        *out = c;
    return 0;
}

int kube_request(struct kube *k, const char *method, const char *path_and_query,
                 const char *content_type, const char *body, uint32_t timeout_ms, kube_done_cb cb,
                 void *cb_data, struct kube_call **out, struct err *err)
{
    return call_start(k, method, path_and_query, content_type, body,
                      timeout_ms != 0 ? timeout_ms : KUBE_DEFAULT_TIMEOUT_MS, NULL, cb, cb_data,
                      false, out, err);
}

int kube_request_stream(struct kube *k, const char *path_and_query, uint32_t timeout_ms,
                        kube_line_cb on_line, kube_done_cb cb, void *cb_data,
                        struct kube_call **out, struct err *err)
{
    return call_start(k, "GET", path_and_query, NULL, NULL, timeout_ms, on_line, cb, cb_data,
                      false, out, err);
}

/* ---- completion ------------------------------------------------------------------------------- */

static void finish(struct kube_call *c, struct kube_result *r)
{
    call_unlink(c);
    log_event(LOG_DEBUG, "kube", "api call done", "{s:s, s:s, s:i, s:s, s:I}", "method",
              c->method, "path", c->path, "http_status", (int)r->http_status, "outcome",
              kube_outcome_name(r->outcome), "duration_ms", (json_int_t)r->total_ms);
    c->cb(r, c->cb_data);
    json_decref(r->obj);
    call_free(c);
}

/* A page of a list arrived: merge it, and ask for the next one if there is a continue token.
 * Returns true when another request is in flight. */
static bool list_page(struct kube_call *c, json_t *page, struct kube_result *r)
{
    json_t *items = json_object_get(page, "items");
    const char *cont = json_string_value(json_object_get(json_object_get(page, "metadata"),
                                                         "continue"));
    char *next_path;
    size_t len;

    if (c->list == NULL) {
        c->list = json_incref(page);
        if (!json_is_array(items))
            json_object_set_new(c->list, "items", json_array());
    } else if (json_is_array(items)) {
        json_array_extend(json_object_get(c->list, "items"), items);
    }
    if (cont == NULL || cont[0] == '\0') {
        json_t *meta = json_object_get(c->list, "metadata");

        if (json_is_object(meta)) {
            json_object_del(meta, "continue");
            json_object_del(meta, "remainingItemCount");
        }
        r->obj = json_incref(c->list);
        return false;
    }

    len = strlen(c->list_base) + strlen(cont) * 3 + 16;
    next_path = malloc(len);
    if (next_path != NULL) {
        int n = snprintf(next_path, len, "%s%scontinue=", c->list_base,
                         strchr(c->list_base, '?') != NULL ? "&" : "?");

        if (kube_url_escape(cont, next_path + n, len - (size_t)n) == 0) {
            free(c->path);
            c->path = next_path;
            if (send_current(c, &r->err) == 0)
                return true;
        } else {
            free(next_path);
        }
    }
    r->outcome = KUBE_OTHER;
    if (r->err.code == 0)
        err_set(&r->err, -ENOMEM, "cannot request next list page");
    return false;
}

static void on_http_done(const struct http_response *res, void *cb_data)
{
    struct kube_call *c = cb_data;
    struct kube *k = c->k;
    struct kube_result r;
    json_t *body = NULL;

    c->http = NULL;
    memset(&r, 0, sizeof(r));
    r.http_status = res->status;
    r.retry_after_s = res->retry_after_s;
    r.total_ms = res->total_ms;

    /* Projected tokens rotate: re-read and repeat once before reporting 401. */
    if (res->status == 401 && !c->retried_401 && kube_token_reload(k->token, NULL) == 1) {
        c->retried_401 = true;
        if (send_current(c, NULL) == 0)
            return;
    }

    if (res->err.code != 0) {
        r.outcome = KUBE_TRANSPORT;
        r.err = res->err;
        snprintf(r.status.message, sizeof(r.status.message), "%s", res->err.msg);
        if (res->status != 0) /* a stream that dropped after its header */
            r.status.code = (int)res->status;
        finish(c, &r);
        return;
    }
    if (res->body_len > 0)
        body = json_loadb(res->body, res->body_len, 0, NULL);

    if (res->status >= 200 && res->status < 300) {
        r.outcome = KUBE_OK;
        if (c->on_line == NULL && !json_is_object(body)) {
            r.outcome = KUBE_OTHER;
            err_set(&r.err, -EPROTO, "%s %s: response is not a json object", c->method, c->path);
        } else if (c->is_list) {
            if (list_page(c, body, &r)) {
                json_decref(body);
                return;
            }
        } else {
            r.obj = json_incref(body);
        }
    } else {
        kube_status_parse(body, res->status, &r.status);
        r.outcome = kube_outcome_of(res->status, r.status.reason);
        err_set(&r.err, outcome_errno(r.outcome), "%s %s: %ld %s: %s", c->method, c->path,
                res->status, r.status.reason[0] != '\0' ? r.status.reason
                                                        : kube_outcome_name(r.outcome),
                r.status.message);
    }
    json_decref(body);
    finish(c, &r);
}

int kube_request_list(struct kube *k, const char *path_and_query, kube_done_cb cb, void *cb_data,
                      struct kube_call **out, struct err *err)
{
    return call_start(k, "GET", path_and_query, NULL, NULL, KUBE_DEFAULT_TIMEOUT_MS, NULL, cb,
                      cb_data, true, out, err);
}

struct loop *kube_loop(const struct kube *k)
{
    return k->loop;
}
