/* cert_store.c - webhook certificates kept in a Secret and injected into caBundle (see
 * cert_store.h for the rotation order and why it never fails an admission).
 *
 * Driver states (one pass = read everything, decide, do one thing, read again):
 *   IDLE -> READ_SECRET [start_pass] -> READ_CONFIG [on_secret_read] -> READ_CONFIG [on_config_read]
 *        -> plan_and_act: NONE -> IDLE [finish]; INSTALL_TLS -> plan_and_act (local, no read);
 *           WRITE_* -> WRITING -> READ_SECRET [on_written]
 * Invariant: at most one Kubernetes request in flight; 'state' != IDLE exactly while one is. */
#include "webhook/cert_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "webhook/admission.h"

/* A pass that keeps finding something to write is a bug or a fight with another writer: stop
 * and let the next sync try again rather than spin. A full CA roll from scratch needs 5. */
#define CERT_STORE_MAX_STEPS 12

/* ---------------------------------------------------------------- small helpers */

static time_t published_at(const struct cert_store_config *cfg, const X509 *cert)
{
    return certs_not_before(cert) + cfg->backdate_s;
}

static bool valid_now(const X509 *cert, time_t now)
{
    return cert != NULL && certs_not_before(cert) <= now && now < certs_not_after(cert);
}

static void ref_pair(struct cert_pair *dst, const struct cert_pair *src)
{
    dst->cert = src->cert;
    dst->key = src->key;
    if (dst->cert != NULL)
        X509_up_ref(dst->cert);
    if (dst->key != NULL)
        EVP_PKEY_up_ref(dst->key);
}

static X509 *ref_cert(X509 *cert)
{
    if (cert != NULL)
        X509_up_ref(cert);
    return cert;
}

static bool list_has(X509 *const *list, size_t n, const X509 *cert)
{
    for (size_t i = 0; i < n; i++) {
        if (certs_same(list[i], cert))
            return true;
    }
    return false;
}

/* Decodes standard base64 into a new NUL-terminated buffer. NULL when not base64. */
static char *b64_decode(const char *in, size_t *out_len)
{
    size_t len = strlen(in);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *out = malloc(len / 4 * 3 + 4);
    int n1 = 0, n2 = 0;
    bool ok;

    ok = ctx != NULL && out != NULL && len <= INT32_MAX;
    if (ok) {
        EVP_DecodeInit(ctx);
        ok = EVP_DecodeUpdate(ctx, out, &n1, (const unsigned char *)in, (int)len) >= 0 &&
             EVP_DecodeFinal(ctx, out + n1, &n2) == 1;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    out[n1 + n2] = '\0';
    *out_len = (size_t)(n1 + n2);
    return (char *)out;
}

/* Reads data[key] of a Secret as decoded text, or NULL. Wiped and freed by the caller with
 * certs_free_secret (keys pass through here). */
static char *secret_field(const json_t *secret, const char *key, size_t *len)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    return b64 == NULL ? NULL : b64_decode(b64, len);
}

/* ---------------------------------------------------------------- view */

void cert_store_view_read_secret(struct cert_store_view *view, const json_t *secret)
{
    size_t cl = 0, kl = 0;
    char *cert, *key;
    struct cert_pair prev;

    cert_pair_clear(&view->ca);
    cert_pair_clear(&view->serving);
    X509_free(view->ca_prev);
    view->ca_prev = NULL;
    view->secret_found = secret != NULL;
    if (secret == NULL)
        return;

    /* An unreadable member stays empty: the plan then replaces it, which is the repair. */
    cert = secret_field(secret, "ca.crt", &cl);
    key = secret_field(secret, "ca.key", &kl);
    if (cert != NULL && key != NULL)
        certs_pair_from_pem(cert, cl, key, kl, &view->ca, NULL);
    free(cert);
    certs_free_secret(key);

    cert = secret_field(secret, "tls.crt", &cl);
    key = secret_field(secret, "tls.key", &kl);
    if (cert != NULL && key != NULL)
        certs_pair_from_pem(cert, cl, key, kl, &view->serving, NULL);
    free(cert);
    certs_free_secret(key);

    cert = secret_field(secret, "ca-previous.crt", &cl);
    if (cert != NULL && certs_pair_from_pem(cert, cl, NULL, 0, &prev, NULL) == 0)
        view->ca_prev = prev.cert;
    free(cert);
}

static void config_clear(struct cert_store_view *view, enum cert_store_config_kind kind)
{
    certs_free_list(view->configs[kind].common, view->configs[kind].n_common);
    memset(&view->configs[kind], 0, sizeof(view->configs[kind]));
}

void cert_store_view_read_config(struct cert_store_view *view, enum cert_store_config_kind kind,
                                 const json_t *config)
{
    const json_t *hooks = json_object_get(config, "webhooks");
    X509 **first = NULL;
    size_t n_first = 0;

    config_clear(view, kind);
    view->configs[kind].found = config != NULL;
    view->configs[kind].uniform = true;
    view->configs[kind].n_webhooks = json_array_size(hooks);
    for (size_t i = 0; i < json_array_size(hooks); i++) {
        const char *b64 = json_string_value(
            json_object_get(json_object_get(json_array_get(hooks, i), "clientConfig"), "caBundle"));
        size_t len = 0, n = 0;
        char *pem = b64 == NULL ? NULL : b64_decode(b64, &len);
        X509 **list = NULL;

        /* Garbage in a caBundle counts as an empty bundle: it gets rewritten. */
        if (pem != NULL && certs_list_from_pem(pem, len, &list, &n, NULL) < 0) {
            list = NULL;
            n = 0;
        }
        free(pem);
        if (i == 0) {
            first = list;
            n_first = n;
            continue;
        }
        /* Uniform: same set as the first webhook's. */
        bool same = n == n_first;
        for (size_t k = 0; same && k < n; k++)
            same = list_has(first, n_first, list[k]);
        for (size_t k = 0; same && k < n_first; k++)
            same = list_has(list, n, first[k]);
        view->configs[kind].uniform = view->configs[kind].uniform && same;
        /* Intersection: keep in 'first' only what this one has too. */
        size_t kept = 0;
        for (size_t k = 0; k < n_first; k++) {
            if (list_has(list, n, first[k]))
                first[kept++] = first[k];
            else
                X509_free(first[k]);
        }
        n_first = kept;
        certs_free_list(list, n);
    }
    view->configs[kind].common = first;
    view->configs[kind].n_common = n_first;
}

void cert_store_view_clear(struct cert_store_view *view)
{
    if (view == NULL)
        return;
    cert_pair_clear(&view->ca);
    cert_pair_clear(&view->serving);
    X509_free(view->ca_prev);
    view->ca_prev = NULL;
    config_clear(view, CERT_STORE_VALIDATING);
    config_clear(view, CERT_STORE_MUTATING);
    view->secret_found = false;
}

/* ---------------------------------------------------------------- plan */

void cert_store_step_clear(struct cert_store_step *step)
{
    if (step == NULL)
        return;
    cert_pair_clear(&step->ca);
    cert_pair_clear(&step->serving);
    X509_free(step->ca_prev);
    memset(step, 0, sizeof(*step));
}

static int issue_ca(const struct cert_store_config *cfg, time_t now, struct cert_pair *out,
                    struct err *err)
{
    struct certs_issue issue = {now, cfg->ca_lifetime_s, cfg->backdate_s, NULL};
    return certs_make_ca(&issue, out, err);
}

static int issue_serving(const struct cert_store_config *cfg, const struct cert_pair *ca,
                         time_t now, struct cert_pair *out, struct err *err)
{
    struct certs_issue issue = {now, cfg->serving_lifetime_s, cfg->backdate_s, NULL};
    return certs_make_serving(ca, &issue, cfg->sans, cfg->n_sans, out, err);
}

/* Does configuration 'kind' trust 'ca'? A missing configuration, or one without webhooks, is
 * nobody's trust to wait for. */
static bool config_trusts(const struct cert_store_view *v, enum cert_store_config_kind kind,
                          const X509 *ca)
{
    if (!v->configs[kind].found || v->configs[kind].n_webhooks == 0)
        return true;
    return list_has(v->configs[kind].common, v->configs[kind].n_common, ca);
}

static bool config_matches(const struct cert_store_view *v, enum cert_store_config_kind kind)
{
    size_t want = v->ca_prev != NULL ? 2 : 1;

    if (!v->configs[kind].found || v->configs[kind].n_webhooks == 0)
        return true;
    return v->configs[kind].uniform && v->configs[kind].n_common == want &&
           config_trusts(v, kind, v->ca.cert) &&
           (v->ca_prev == NULL || config_trusts(v, kind, v->ca_prev));
}

/* Step 1: the CA itself must be replaced. */
static int plan_new_ca(const struct cert_store_config *cfg, const struct cert_store_view *v,
                       time_t now, unsigned ca_problems, struct cert_store_step *out,
                       struct err *err)
{
    X509 *prev = NULL;
    int rc;

    rc = issue_ca(cfg, now, &out->ca, err);
    if (rc < 0)
        return rc;
    out->issued_ca = true;

    /* Only a CA that is merely due stays trusted during the roll; a broken one cannot help. */
    if (ca_problems == CERTS_DUE)
        prev = v->ca.cert;
    if (prev != NULL &&
        (certs_check_serving(&v->serving, prev, cfg->sans, cfg->n_sans, now) & ~CERTS_DUE) == 0) {
        ref_pair(&out->serving, &v->serving);
    } else {
        rc = issue_serving(cfg, &out->ca, now, &out->serving, err);
        if (rc < 0) {
            cert_store_step_clear(out);
            return rc;
        }
        out->issued_serving = true;
    }
    out->ca_prev = ref_cert(prev);
    out->action = CERT_STORE_WRITE_SECRET;
    out->reason = !v->secret_found ? "no certificate secret yet"
                  : ca_problems == CERTS_DUE ? "ca due for rotation"
                  : ca_problems & CERTS_MISSING ? "ca missing or unreadable"
                                                : "ca invalid";
    return 0;
}

/* A WRITE_SECRET keeping the CA pair and ca-previous ('keep_prev'), with 'serving' (taken). */
static void write_secret(const struct cert_store_view *v, bool keep_prev, struct cert_pair *serving,
                         bool issued, const char *reason, struct cert_store_step *out)
{
    ref_pair(&out->ca, &v->ca);
    out->ca_prev = keep_prev ? ref_cert(v->ca_prev) : NULL;
    out->serving = *serving;
    out->issued_serving = issued;
    out->action = CERT_STORE_WRITE_SECRET;
    out->reason = reason;
}

static time_t earliest(time_t a, time_t b)
{
    return a < b ? a : b;
}

int cert_store_plan(const struct cert_store_config *cfg, const struct cert_store_view *v,
                    time_t now, struct cert_store_step *out, struct err *err)
{
    struct cert_pair fresh = {NULL, NULL}, kept;
    time_t next = certs_not_after(v->ca.cert);
    unsigned ca_p, sv_p;
    bool by_prev = false;
    int rc;

    memset(out, 0, sizeof(*out));
    ca_p = v->secret_found ? certs_check_ca(&v->ca, now) : CERTS_MISSING;
    if (ca_p != 0)
        return plan_new_ca(cfg, v, now, ca_p, out, err);
    next = earliest(next, certs_due_at(v->ca.cert));

    /* Steps 2 and 3: the serving certificate. */
    sv_p = certs_check_serving(&v->serving, v->ca.cert, cfg->sans, cfg->n_sans, now);
    if ((sv_p & CERTS_WRONG_ISSUER) && valid_now(v->ca_prev, now) &&
        certs_signed_by(v->serving.cert, v->ca_prev))
        by_prev = (certs_check_serving(&v->serving, v->ca_prev, cfg->sans, cfg->n_sans, now) &
                   ~CERTS_DUE) == 0;
    if (by_prev) {
        time_t switch_at = published_at(cfg, v->ca.cert) + cfg->propagation_s;
        bool trusted = config_trusts(v, CERT_STORE_VALIDATING, v->ca.cert) &&
                       config_trusts(v, CERT_STORE_MUTATING, v->ca.cert);
        if (trusted && now >= switch_at) {
            rc = issue_serving(cfg, &v->ca, now, &fresh, err);
            if (rc < 0)
                return rc;
            write_secret(v, true, &fresh, true, "moving serving certificate to the new ca", out);
            return 0;
        }
        /* Not yet: the caBundle step below (or time) unblocks it. */
        next = earliest(next, switch_at);
    } else if (sv_p != 0) {
        /* LIMITATION: a serving certificate that is broken for another reason (SANs changed,
         * expired) while a CA roll is between "caBundle [B, A]" and the switch is reissued from
         * B at once, even if a caBundle does not trust B yet; admissions can fail until the next
         * step publishes B (one write). Fix: issue from A while A is still in the Secret, which
         * needs A's key kept as ca-previous.key. Also, with several replicas, each must reload
         * the Secret within propagation_s or it presents a certificate from a retired CA. */
        rc = issue_serving(cfg, &v->ca, now, &fresh, err);
        if (rc < 0)
            return rc;
        write_secret(v, true, &fresh, true,
                     sv_p & CERTS_MISSING        ? "serving certificate missing or unreadable"
                     : sv_p & CERTS_SANS_DIFFER  ? "serving certificate names changed"
                     : sv_p & CERTS_DUE          ? "serving certificate due for rotation"
                     : sv_p & CERTS_WRONG_ISSUER ? "serving certificate not signed by the ca"
                                                 : "serving certificate invalid",
                     out);
        return 0;
    } else {
        time_t due = certs_due_at(v->serving.cert);
        next = earliest(next, due > now ? due : certs_not_after(v->serving.cert));
    }

    /* Step 4: retire ca-previous once nothing presents a certificate it signed. */
    if (v->ca_prev != NULL) {
        time_t retire_at = published_at(cfg, v->serving.cert) + cfg->propagation_s;
        bool unused = !by_prev && certs_same(v->tls_in_use, v->serving.cert);
        if (!valid_now(v->ca_prev, now) || (unused && now >= retire_at)) {
            ref_pair(&kept, &v->serving);
            write_secret(v, false, &kept, false,
                         valid_now(v->ca_prev, now) ? "previous ca no longer used"
                                                    : "previous ca expired",
                         out);
            return 0;
        }
        next = earliest(next, certs_not_after(v->ca_prev));
        if (unused)
            next = earliest(next, retire_at);
    }

    /* Step 5: the server presents what the Secret holds. */
    if (!certs_same(v->tls_in_use, v->serving.cert)) {
        ref_pair(&out->serving, &v->serving);
        out->action = CERT_STORE_INSTALL_TLS;
        out->reason = v->tls_in_use == NULL ? "no serving certificate installed"
                                            : "serving certificate changed";
        return 0;
    }

    /* Step 6: every configuration trusts exactly the Secret's CAs. */
    for (int kind = CERT_STORE_VALIDATING; kind <= CERT_STORE_MUTATING; kind++) {
        if (!config_matches(v, (enum cert_store_config_kind)kind)) {
            out->action = CERT_STORE_WRITE_BUNDLE;
            out->config = (enum cert_store_config_kind)kind;
            out->reason = "caBundle differs from the secret's cas";
            return 0;
        }
    }

    out->action = CERT_STORE_NONE;
    out->reason = "certificates in place";
    out->next_check_at = next > now ? next : now + 1;
    return 0;
}

/* ---------------------------------------------------------------- request bodies */

static const char *secret_name(const struct cert_store_config *cfg)
{
    return cfg->secret_name != NULL ? cfg->secret_name : CERT_STORE_DEFAULT_SECRET;
}

static const char *config_name(const struct cert_store_config *cfg)
{
    return cfg->webhook_config_name != NULL ? cfg->webhook_config_name : CERT_STORE_DEFAULT_CONFIG;
}

/* data[key] = base64(pem); 'pem' wiped when 'secret' is true. */
static int put_pem(json_t *data, const char *key, char *pem, bool secret)
{
    char *b64 = pem == NULL ? NULL : admission_base64(pem, strlen(pem));
    int rc = b64 == NULL ? -ENOMEM : json_object_set_new(data, key, json_string(b64));

    if (b64 != NULL && secret)
        OPENSSL_cleanse(b64, strlen(b64));
    free(b64);
    if (secret)
        certs_free_secret(pem);
    else
        free(pem);
    return rc == 0 ? 0 : -ENOMEM;
}

json_t *cert_store_secret_body(const struct cert_store_config *cfg, const struct cert_store_step *step,
                               const char *rv, struct err *err)
{
    json_t *data = json_object();
    json_t *doc;
    char *pem;
    int rc = data == NULL ? -ENOMEM : 0;

    if (rc == 0 && (rc = certs_cert_to_pem(step->ca.cert, &pem, err)) == 0)
        rc = put_pem(data, "ca.crt", pem, false);
    if (rc == 0 && (rc = certs_key_to_pem(step->ca.key, &pem, err)) == 0)
        rc = put_pem(data, "ca.key", pem, true);
    if (rc == 0 && (rc = certs_cert_to_pem(step->serving.cert, &pem, err)) == 0)
        rc = put_pem(data, "tls.crt", pem, false);
    if (rc == 0 && (rc = certs_key_to_pem(step->serving.key, &pem, err)) == 0)
        rc = put_pem(data, "tls.key", pem, true);
    if (rc == 0 && step->ca_prev != NULL && (rc = certs_cert_to_pem(step->ca_prev, &pem, err)) == 0)
        rc = put_pem(data, "ca-previous.crt", pem, false);
    if (rc < 0) {
        json_decref(data);
        err_set(err, rc, "cannot build certificate secret");
        return NULL;
    }
    doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:o}", "apiVersion", "v1", "kind",
                    "Secret", "metadata", "name", secret_name(cfg), "namespace", cfg->namespace,
                    "labels", "app.kubernetes.io/managed-by", "azdo-runner-operator", "type",
                    "Opaque", "data", data);
    if (doc != NULL && rv != NULL)
        json_object_set_new(json_object_get(doc, "metadata"), "resourceVersion", json_string(rv));
    if (doc == NULL)
        err_set(err, -ENOMEM, "out of memory");
    return doc;
}

json_t *cert_store_config_body(const json_t *config, const char *bundle_pem, struct err *err)
{
    json_t *doc = json_deep_copy(config);
    json_t *hooks = json_object_get(doc, "webhooks");
    char *b64 = admission_base64(bundle_pem, strlen(bundle_pem));

    if (doc == NULL || b64 == NULL) {
        json_decref(doc);
        free(b64);
        err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(hooks); i++) {
        json_t *hook = json_array_get(hooks, i);
        json_t *cc = json_object_get(hook, "clientConfig");
        if (!json_is_object(cc)) {
            cc = json_object();
            json_object_set_new(hook, "clientConfig", cc);
        }
        json_object_set_new(cc, "caBundle", json_string(b64));
    }
    free(b64);
    return doc;
}

int cert_store_bundle_pem(const struct cert_store_view *view, char **out, struct err *err)
{
    char *a = NULL, *b = NULL;
    int rc;

    *out = NULL;
    rc = certs_cert_to_pem(view->ca.cert, &a, err);
    if (rc == 0 && view->ca_prev != NULL)
        rc = certs_cert_to_pem(view->ca_prev, &b, err);
    if (rc == 0 && asprintf(out, "%s%s", a, b != NULL ? b : "") < 0) {
        *out = NULL;
        rc = err_set(err, -ENOMEM, "out of memory");
    }
    free(a);
    free(b);
    return rc;
}

/* ---------------------------------------------------------------- driver */

enum driver_state { DRIVER_IDLE, DRIVER_READ_SECRET, DRIVER_READ_CONFIG, DRIVER_WRITING };

struct cert_store {
    struct cert_store_config cfg;
    struct cert_store_kube kube;
    cert_store_install_cb install;
    void *install_data;
    struct metrics_std *metrics;
    char *secret_path, *secrets_path, *config_path[2];

    enum driver_state state;
    enum cert_store_config_kind reading; /* in DRIVER_READ_CONFIG */
    bool again, closing;
    int steps_left;
    bool pending_ca, pending_serving;    /* what the write in flight issued (metrics) */
    const char *pending_reason;

    json_t *secret, *configs[2];         /* last read; NULL when absent */
    struct cert_store_view view;
    struct cert_pair tls;                /* installed in the server */

    bool ready;
    time_t next_check;
    int last_rc;
    struct err last_err;
};

static time_t now_of(const struct cert_store *cs)
{
    return cs->cfg.clock != NULL ? cs->cfg.clock() : time(NULL);
}

static void destroy(struct cert_store *cs)
{
    json_decref(cs->secret);
    json_decref(cs->configs[0]);
    json_decref(cs->configs[1]);
    cert_store_view_clear(&cs->view);
    cert_pair_clear(&cs->tls);
    free(cs->secret_path);
    free(cs->secrets_path);
    free(cs->config_path[0]);
    free(cs->config_path[1]);
    free(cs);
}

int cert_store_new(const struct cert_store_config *cfg, const struct cert_store_kube *kube,
                   cert_store_install_cb install, void *install_data, struct metrics_std *metrics,
                   struct cert_store **out, struct err *err)
{
    struct cert_store *cs;

    *out = NULL;
    if (cfg->namespace == NULL || cfg->n_sans == 0 || cfg->ca_lifetime_s <= 0 ||
        cfg->serving_lifetime_s <= 0 || cfg->propagation_s < 0 || cfg->backdate_s < 0)
        return err_set(err, -EINVAL, "certificate store needs a namespace, SANs and positive "
                                     "lifetimes");
    if (cfg->propagation_s * 3 >= cfg->ca_lifetime_s)
        return err_set(err, -EINVAL, "ca lifetime %llds is too short for a propagation delay of "
                       "%llds: need more than three times it",
                       (long long)cfg->ca_lifetime_s, (long long)cfg->propagation_s);
    cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    cs->cfg = *cfg;
    cs->kube = *kube;
    cs->install = install;
    cs->install_data = install_data;
    cs->metrics = metrics;
    if (asprintf(&cs->secret_path, "/api/v1/namespaces/%s/secrets/%s", cfg->namespace,
                 secret_name(cfg)) < 0 ||
        asprintf(&cs->secrets_path, "/api/v1/namespaces/%s/secrets", cfg->namespace) < 0 ||
        asprintf(&cs->config_path[0], "/apis/admissionregistration.k8s.io/v1/"
                 "validatingwebhookconfigurations/%s", config_name(cfg)) < 0 ||
        asprintf(&cs->config_path[1], "/apis/admissionregistration.k8s.io/v1/"
                 "mutatingwebhookconfigurations/%s", config_name(cfg)) < 0) {
        destroy(cs);
        return err_set(err, -ENOMEM, "out of memory");
    }
    *out = cs;
    return 0;
}

void cert_store_free(struct cert_store *cs)
{
    if (cs == NULL)
        return;
    if (cs->state != DRIVER_IDLE) {
        cs->closing = true; /* the pending 'done' frees */
        return;
    }
    destroy(cs);
}

static void start_pass(struct cert_store *cs);

static void finish(struct cert_store *cs, int rc)
{
    cs->state = DRIVER_IDLE;
    cs->last_rc = rc;
    if (rc < 0) {
        log_event(LOG_WARN, "webhook_certs", "certificate sync failed, will retry", "{s:s}",
                  "err", cs->last_err.msg);
        if (cs->metrics != NULL)
            metric_inc(cs->metrics->errors, 1, "webhook_certs");
    }
    if (cs->again) {
        cs->again = false;
        cs->steps_left = CERT_STORE_MAX_STEPS;
        start_pass(cs);
    }
}

static void fail(struct cert_store *cs, int rc, const char *what, int http_status)
{
    err_set(&cs->last_err, rc, "%s: http status %d", what, http_status);
    finish(cs, rc);
}

static void update_gauges(struct cert_store *cs)
{
    if (cs->metrics == NULL)
        return;
    if (cs->view.ca.cert != NULL)
        metric_set(cs->metrics->cert_expiry, (double)certs_not_after(cs->view.ca.cert), "ca");
    if (cs->tls.cert != NULL)
        metric_set(cs->metrics->cert_expiry, (double)certs_not_after(cs->tls.cert), "serving");
}

static void on_written(void *data, int http_status, const json_t *body, const struct err *err);

static void plan_and_act(struct cert_store *cs)
{
    struct cert_store_step step;
    json_t *doc = NULL;
    char *pem = NULL;
    int rc;

    for (;;) {
        cs->view.tls_in_use = cs->tls.cert;
        rc = cert_store_plan(&cs->cfg, &cs->view, now_of(cs), &step, &cs->last_err);
        if (rc < 0) {
            finish(cs, rc);
            return;
        }
        if (step.action != CERT_STORE_INSTALL_TLS)
            break;
        /* Local and synchronous: install, then decide again on the same observations. */
        rc = cs->install(cs->install_data, &step.serving, &cs->last_err);
        if (rc == 0) {
            cert_pair_clear(&cs->tls);
            ref_pair(&cs->tls, &step.serving);
            update_gauges(cs);
        }
        cert_store_step_clear(&step);
        if (rc < 0) {
            finish(cs, rc);
            return;
        }
    }

    if (step.action == CERT_STORE_NONE) {
        cs->ready = true;
        cs->next_check = step.next_check_at;
        update_gauges(cs);
        cert_store_step_clear(&step);
        finish(cs, 0);
        return;
    }
    if (--cs->steps_left < 0) {
        cert_store_step_clear(&step);
        err_set(&cs->last_err, -EAGAIN, "certificate sync did not settle after %d writes",
                CERT_STORE_MAX_STEPS);
        finish(cs, -EAGAIN);
        return;
    }

    cs->pending_ca = step.issued_ca;
    cs->pending_serving = step.issued_serving;
    cs->pending_reason = step.reason;
    if (step.action == CERT_STORE_WRITE_SECRET) {
        const char *rv = json_string_value(
            json_object_get(json_object_get(cs->secret, "metadata"), "resourceVersion"));
        doc = cert_store_secret_body(&cs->cfg, &step, cs->secret != NULL ? rv : NULL, &cs->last_err);
    } else {
        rc = cert_store_bundle_pem(&cs->view, &pem, &cs->last_err);
        if (rc == 0)
            doc = cert_store_config_body(cs->configs[step.config], pem, &cs->last_err);
        free(pem);
        cs->pending_reason = step.config == CERT_STORE_VALIDATING
                                 ? "caBundle updated in the validating webhook configuration"
                                 : "caBundle updated in the mutating webhook configuration";
    }
    if (doc == NULL) {
        cert_store_step_clear(&step);
        finish(cs, cs->last_err.code < 0 ? cs->last_err.code : -ENOMEM);
        return;
    }

    cs->state = DRIVER_WRITING;
    if (step.action == CERT_STORE_WRITE_BUNDLE)
        rc = cs->kube.put(cs->kube.kube_data, cs->config_path[step.config], doc, on_written, cs);
    else if (cs->secret != NULL)
        rc = cs->kube.put(cs->kube.kube_data, cs->secret_path, doc, on_written, cs);
    else
        rc = cs->kube.post(cs->kube.kube_data, cs->secrets_path, doc, on_written, cs);
    /* The body holds private keys: wipe the strings before releasing them. */
    json_t *data = json_object_get(doc, "data");
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v) {
        if (json_string_length(v) > 0)
            OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
    }
    json_decref(doc);
    cert_store_step_clear(&step);
    if (rc < 0) {
        err_set(&cs->last_err, rc, "cannot start certificate write");
        finish(cs, rc);
    }
}

static void on_written(void *data, int http_status, const json_t *body, const struct err *err)
{
    struct cert_store *cs = data;

    (void)body;
    if (cs->closing) {
        destroy(cs);
        return;
    }
    if (http_status == 409) {
        /* Someone else wrote first: their content is read and judged by the next pass. */
        start_pass(cs);
        return;
    }
    if (http_status < 200 || http_status > 299) {
        if (err != NULL && http_status == 0)
            cs->last_err = *err;
        fail(cs, -EIO, "cannot write webhook certificates", http_status);
        return;
    }
    log_event(LOG_INFO, "webhook_certs", "webhook certificates updated", "{s:s, s:b, s:b}",
              "reason", cs->pending_reason, "new_ca", cs->pending_ca, "new_serving",
              cs->pending_serving);
    if (cs->metrics != NULL && cs->pending_ca)
        metric_inc(cs->metrics->cert_rotations, 1, "ca");
    if (cs->metrics != NULL && cs->pending_serving)
        metric_inc(cs->metrics->cert_rotations, 1, "serving");
    start_pass(cs);
}

static void on_config_read(void *data, int http_status, const json_t *body, const struct err *err)
{
    struct cert_store *cs = data;
    enum cert_store_config_kind kind = cs->reading;
    int rc;

    (void)err;
    if (cs->closing) {
        destroy(cs);
        return;
    }
    if (http_status != 200 && http_status != 404) {
        fail(cs, -EIO, "cannot read webhook configuration", http_status);
        return;
    }
    json_decref(cs->configs[kind]);
    cs->configs[kind] = http_status == 200 && body != NULL ? json_deep_copy(body) : NULL;
    cert_store_view_read_config(&cs->view, kind, cs->configs[kind]);
    if (kind == CERT_STORE_VALIDATING) {
        cs->reading = CERT_STORE_MUTATING;
        rc = cs->kube.get(cs->kube.kube_data, cs->config_path[CERT_STORE_MUTATING],
                          on_config_read, cs);
        if (rc < 0) {
            err_set(&cs->last_err, rc, "cannot start webhook configuration read");
            finish(cs, rc);
        }
        return;
    }
    plan_and_act(cs);
}

static void on_secret_read(void *data, int http_status, const json_t *body, const struct err *err)
{
    struct cert_store *cs = data;
    int rc;

    (void)err;
    if (cs->closing) {
        destroy(cs);
        return;
    }
    if (http_status != 200 && http_status != 404) {
        fail(cs, -EIO, "cannot read webhook certificate secret", http_status);
        return;
    }
    json_decref(cs->secret);
    cs->secret = http_status == 200 && body != NULL ? json_deep_copy(body) : NULL;
    cert_store_view_read_secret(&cs->view, cs->secret);
    cs->state = DRIVER_READ_CONFIG;
    cs->reading = CERT_STORE_VALIDATING;
    rc = cs->kube.get(cs->kube.kube_data, cs->config_path[CERT_STORE_VALIDATING], on_config_read,
                      cs);
    if (rc < 0) {
        err_set(&cs->last_err, rc, "cannot start webhook configuration read");
        finish(cs, rc);
    }
}

static void start_pass(struct cert_store *cs)
{
    int rc;

    cs->state = DRIVER_READ_SECRET;
    rc = cs->kube.get(cs->kube.kube_data, cs->secret_path, on_secret_read, cs);
    if (rc < 0) {
        err_set(&cs->last_err, rc, "cannot start certificate secret read");
        finish(cs, rc);
    }
}

void cert_store_sync(struct cert_store *cs)
{
    if (cs->state != DRIVER_IDLE) {
        cs->again = true;
        return;
    }
    err_clear(&cs->last_err);
    cs->steps_left = CERT_STORE_MAX_STEPS;
    start_pass(cs);
}

bool cert_store_ready(const struct cert_store *cs)
{
    return cs->ready;
}

time_t cert_store_next_check(const struct cert_store *cs)
{
    return cs->next_check;
}

bool cert_store_busy(const struct cert_store *cs)
{
    return cs->state != DRIVER_IDLE;
}

int cert_store_last_error(const struct cert_store *cs, struct err *err)
{
    if (err != NULL)
        *err = cs->last_err;
    return cs->last_rc;
}
