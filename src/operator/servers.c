/* servers.c - the admission webhooks (HTTPS), /healthz, /readyz and /metrics, and the webhook
 * certificates kept in a Secret and in the webhook configurations' caBundle.
 *
 * Both servers run on the operator's own loop (src/webhook/server.c). The certificate store
 * (src/webhook/cert_store.c) decides what to read and write; this file gives it the Kubernetes
 * client through its function table and installs each new serving certificate in the server.
 * /readyz answers ready once the store is open, every watch has listed, and (with the webhook
 * on) a serving certificate is installed. */
#include "operator/servers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "webhook/certs.h"

/* How often the certificate store re-reads the Secret and the webhook configurations: a
 * configuration created or re-applied (helm upgrade) without caBundle gets it within this. */
#define CERT_CHECK_MS 15000

struct kube_req {
    cert_store_kube_done done;
    void *done_data;
};

static void on_kube_req_done(const struct kube_result *res, void *cb_data)
{
    struct kube_req *r = cb_data;

    r->done(r->done_data, (int)res->http_status, res->obj != NULL ? res->obj : NULL, &res->err);
    free(r);
}

static int kube_send(struct op *op, const char *method, const char *path, const json_t *body,
                     cert_store_kube_done done, void *done_data)
{
    struct kube_req *r = calloc(1, sizeof(*r));
    char *text = NULL;
    struct err err = {0};
    int rc;

    if (r == NULL)
        return -ENOMEM;
    r->done = done;
    r->done_data = done_data;
    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT);
    rc = kube_request(op->kube, method, path, body != NULL ? "application/json" : NULL, text, 0,
                      on_kube_req_done, r, NULL, &err);
    free(text);
    if (rc != 0)
        free(r);
    return rc;
}

static int cs_get(void *kube_data, const char *path, cert_store_kube_done done, void *done_data)
{
    return kube_send(kube_data, "GET", path, NULL, done, done_data);
}

static int cs_put(void *kube_data, const char *path, const json_t *body,
                  cert_store_kube_done done, void *done_data)
{
    return kube_send(kube_data, "PUT", path, body, done, done_data);
}

static int cs_post(void *kube_data, const char *path, const json_t *body,
                   cert_store_kube_done done, void *done_data)
{
    return kube_send(kube_data, "POST", path, body, done, done_data);
}

static int install_serving(void *cb_data, const struct cert_pair *serving, struct err *err)
{
    struct op *op = cb_data;

    return webhook_server_set_tls(op->server, serving, err);
}

static bool is_ready(void *cb_data, char *why, size_t why_size)
{
    struct op *op = cb_data;

    if (op->store_failing) {
        snprintf(why, why_size, "the database cannot be opened or written: no action is taken "
                 "until it can (see the log)");
        return false;
    }
    if (!op->leading) {
        snprintf(why, why_size, "standby: another replica holds the lease");
        return op->cfg->leader_elect; /* a standby is healthy and ready to take over */
    }
    if (!op->synced) {
        snprintf(why, why_size, "waiting for the first list of RunnerPools, pods and PVCs");
        return false;
    }
    if (op->certs != NULL && !cert_store_ready(op->certs)) {
        snprintf(why, why_size, "webhook certificates not in place yet");
        return false;
    }
    return true;
}

static void on_cert_timer(struct loop_timer *t, void *cb_data)
{
    struct op *op = cb_data;

    cert_store_sync(op->certs);
    loop_timer_start(op->loop, t, CERT_CHECK_MS);
}

static int start_cert_store(struct op *op, struct err *err)
{
    const struct op_config *cfg = op->cfg;
    struct cert_store_config cc = {0};
    struct cert_store_kube table = {cs_get, cs_put, cs_post, op};
    int n, rc;

    op->webhook_ns = cfg->webhook_namespace != NULL ? cfg->webhook_namespace
                     : kube_default_namespace(op->kube) != NULL ? kube_default_namespace(op->kube)
                                                                : "default";
    if (cfg->n_webhook_sans > 0) {
        for (n = 0; n < cfg->n_webhook_sans; n++)
            op->sans[n] = strdup(cfg->webhook_sans[n]);
        op->n_sans = (size_t)cfg->n_webhook_sans;
    } else {
        n = certs_default_sans(cfg->webhook_service, op->webhook_ns, op->sans, err);
        if (n < 0)
            return n;
        op->n_sans = (size_t)n;
    }
    cc.namespace = op->webhook_ns;
    cc.secret_name = cfg->webhook_secret_name;
    cc.webhook_config_name = cfg->webhook_config_name;
    cc.sans = (const char *const *)op->sans;
    cc.n_sans = op->n_sans;
    cc.ca_lifetime_s = cfg->ca_lifetime_s;
    cc.serving_lifetime_s = cfg->cert_lifetime_s;
    cc.backdate_s = 300 < cfg->cert_lifetime_s / 10 ? 300 : cfg->cert_lifetime_s / 10;
    cc.propagation_s = cfg->ca_lifetime_s / 10 < 120 ? cfg->ca_lifetime_s / 10 : 120;
    rc = cert_store_new(&cc, &table, install_serving, op, &op->mstd, &op->certs, err);
    if (rc != 0)
        return rc;
    loop_timer_init(&op->cert_timer, on_cert_timer, op);
    loop_timer_start(op->loop, &op->cert_timer, 0);
    return 0;
}

int op_servers_start(struct op *op, struct err *err)
{
    const struct op_config *cfg = op->cfg;
    struct webhook_server_config sc = {0};
    int rc;

    if (cfg->webhook_port == 0 && cfg->metrics_port == 0)
        return 0;
    rc = metrics_new(&op->metrics, err);
    if (rc == 0)
        rc = metrics_std_register(op->metrics, &op->mstd, err);
    if (rc != 0)
        return rc;
    sc.webhook_addr = cfg->listen_address;
    sc.webhook_port = cfg->webhook_port == 0 ? -1 : cfg->webhook_port;
    sc.metrics_addr = cfg->listen_address;
    sc.metrics_port = cfg->metrics_port == 0 ? -1 : cfg->metrics_port;
    sc.metrics = op->metrics;
    sc.admission_counter = op->mstd.admission;
    sc.ready = is_ready;
    sc.ready_data = op;
    rc = webhook_server_start(loop_h2o(op->loop), &sc, &op->server, err);
    if (rc != 0)
        return err_wrap(err, "cannot start the webhook/metrics servers");
    if (cfg->webhook_port != 0)
        rc = start_cert_store(op, err);
    return rc;
}

void op_servers_stop(struct op *op)
{
    if (op->loop != NULL && op->cert_timer.cb != NULL)
        loop_timer_stop(op->loop, &op->cert_timer);
    cert_store_free(op->certs);
    op->certs = NULL;
    if (op->server != NULL) {
        uint64_t deadline = loop_now_ms(op->loop) + 2000;
        webhook_server_stop(op->server);
        while (webhook_server_connections(op->server) > 0 && loop_now_ms(op->loop) < deadline)
            loop_run_once(op->loop, 50);
        webhook_server_free(op->server);
        op->server = NULL;
    }
    for (size_t i = 0; i < op->n_sans; i++)
        free(op->sans[i]);
    op->n_sans = 0;
    metrics_free(op->metrics);
    op->metrics = NULL;
}
