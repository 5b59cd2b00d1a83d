/* kube/config.h - where the Kubernetes API server is and how to authenticate to it.
 *
 * Three sources, tried in this order by kube_config_load():
 *   1. --kube-url: a plain http(s) URL (the simulated world, `kubectl proxy`); no credentials.
 *   2. --kubeconfig or $KUBECONFIG (colon-separated list, merged as kubectl does: the first file
 *      that sets a value wins): the current context's cluster and user.
 *   3. in-cluster: $KUBERNETES_SERVICE_HOST/PORT and the service-account files.
 *   (then ~/.kube/config if it exists, like kubectl.)
 *
 * A config holds secrets (token, client key): never log it; kube_config_describe() gives a
 * loggable one-line summary. */
#ifndef AZDO_KUBE_CONFIG_H
#define AZDO_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"

struct kube_config {
    char *server;           /* "https://10.0.0.1:443", no trailing slash */
    char *ns;               /* default namespace (in-cluster or context), or NULL */
    char *token;            /* static bearer token (secret), or NULL */
    char *token_file;       /* bearer token re-read when the file changes, or NULL */
    char *ca_file;          /* alternatives (ca_pem wins), NULL when unset */
    char *ca_pem;
    char *client_cert_file;
    char *client_cert_pem;
    char *client_key_file;
    char *client_key_pem;   /* secret */
    bool insecure_skip_verify;
    char *source;           /* "in-cluster", "kubeconfig <path> context <name>", "url" */
};

/* Service-account locations; tests point them at a temp dir. NULL fields take the defaults. */
struct kube_incluster_paths {
    const char *token_file; /* /var/run/secrets/kubernetes.io/serviceaccount/token */
    const char *ca_file;    /* .../ca.crt */
    const char *ns_file;    /* .../namespace */
};

/* In-cluster config. -ENOENT with "not running in a cluster" when either environment variable
 * is missing; -ENOENT/-EACCES when the token file cannot be read. '*out' is new
 * (kube_config_free). 'paths' may be NULL. */
int kube_config_in_cluster(const struct kube_incluster_paths *paths, struct kube_config **out,
                           struct err *err);

/* From kubeconfig file(s): 'paths' is one path or a colon-separated list; 'context' NULL means
 * current-context. Relative file references resolve against the file that holds them.
 * Refused with -ENOTSUP and a clear message: exec and auth-provider users, username/password,
 * proxy-url, and YAML outside the subset kubectl writes (see kube/yaml.h). */
int kube_config_from_kubeconfig(const char *paths, const char *context, struct kube_config **out,
                                struct err *err);

/* From a plain URL (http or https, no credentials). */
int kube_config_from_url(const char *url, struct kube_config **out, struct err *err);

/* The start-up choice described above. 'kube_url', 'kubeconfig' and 'context' come from flags
 * (NULL when absent); 'paths' as for kube_config_in_cluster. */
int kube_config_load(const char *kube_url, const char *kubeconfig, const char *context,
                     const struct kube_incluster_paths *paths, struct kube_config **out,
                     struct err *err);

/* Fills 'tls' with pointers borrowed from 'cfg' (valid while 'cfg' lives). */
void kube_config_tls(const struct kube_config *cfg, struct http_tls *tls);

/* A loggable summary (source, server, auth kind; never secret values) into 'buf'. */
void kube_config_describe(const struct kube_config *cfg, char *buf, size_t len);

/* Frees 'cfg', zeroing secrets first. Accepts NULL. */
void kube_config_free(struct kube_config *cfg);

#endif
