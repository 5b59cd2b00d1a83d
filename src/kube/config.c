/* kube/config.c - in-cluster and plain-URL connection configs, the start-up choice between
 * sources, and the config's lifetime. Kubeconfig files are read in kube/kubeconfig.c. */
#include "kube/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static void free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void kube_config_free(struct kube_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->server);
    free(cfg->ns);
    free_secret(cfg->token);
    free(cfg->token_file);
    free(cfg->ca_file);
    free(cfg->ca_pem);
    free(cfg->client_cert_file);
    free(cfg->client_cert_pem);
    free(cfg->client_key_file);
    free_secret(cfg->client_key_pem);
    free(cfg->source);
    free(cfg);
}

/* Reads a small text file, trimming trailing whitespace. 0, -errno. '*out' is new. */
static int read_small_file(const char *path, char **out)
{
    char buf[4096];
    size_t n;
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return -errno;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]) != NULL)
        buf[--n] = '\0';
    *out = strdup(buf);
    return *out != NULL ? 0 : -ENOMEM;
}

int kube_config_in_cluster(const struct kube_incluster_paths *paths, struct kube_config **out,
                           struct err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *token_file = SA_DIR "/token", *ca_file = SA_DIR "/ca.crt";
    const char *ns_file = SA_DIR "/namespace";
    struct kube_config *cfg;
    char url[512];
    int rc;

    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
        return err_set(err, -ENOENT, "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                                     "KUBERNETES_SERVICE_PORT must both be set");
    if (paths != NULL && paths->token_file != NULL)
        token_file = paths->token_file;
    if (paths != NULL && paths->ca_file != NULL)
        ca_file = paths->ca_file;
    if (paths != NULL && paths->ns_file != NULL)
        ns_file = paths->ns_file;

    /* IPv6 service addresses need brackets in a URL. */
    if (strchr(host, ':') != NULL)
        rc = snprintf(url, sizeof(url), "https://[%s]:%s", host, port);
    else
        rc = snprintf(url, sizeof(url), "https://%s:%s", host, port);
    if (rc < 0 || (size_t)rc >= sizeof(url))
        return err_set(err, -ENAMETOOLONG, "in-cluster api server address too long");

    /* Fail early and clearly when the token is unreadable; the client re-reads it later. */
    if (access(token_file, R_OK) != 0)
        return err_set(err, -errno, "cannot read service account token '%s': %s", token_file,
                       strerror(errno));

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return err_set(err, -ENOMEM, "cannot allocate kube config");
    cfg->server = strdup(url);
    cfg->token_file = strdup(token_file);
    cfg->source = strdup("in-cluster");
    if (access(ca_file, R_OK) == 0)
        cfg->ca_file = strdup(ca_file);
    rc = read_small_file(ns_file, &cfg->ns);
    if (rc != 0 && rc != -ENOENT) {
        kube_config_free(cfg);
        return err_set(err, rc, "cannot read namespace file '%s'", ns_file);
    }
    if (cfg->server == NULL || cfg->token_file == NULL || cfg->source == NULL) {
        kube_config_free(cfg);
        return err_set(err, -ENOMEM, "cannot allocate kube config");
    }
    *out = cfg;
    return 0;
}

int kube_config_from_url(const char *url, struct kube_config **out, struct err *err)
{
    struct kube_config *cfg;
    size_t len;

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return err_set(err, -EINVAL, "kube url '%s' must start with http:// or https://", url);
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return err_set(err, -ENOMEM, "cannot allocate kube config");
    cfg->server = strdup(url);
    cfg->source = strdup("url");
    if (cfg->server == NULL || cfg->source == NULL) {
        kube_config_free(cfg);
        return err_set(err, -ENOMEM, "cannot allocate kube config");
    }
    len = strlen(cfg->server);
    while (len > 0 && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    *out = cfg;
    return 0;
}

int kube_config_load(const char *kube_url, const char *kubeconfig, const char *context,
                     const struct kube_incluster_paths *paths, struct kube_config **out,
                     struct err *err)
{
    const char *env = getenv("KUBECONFIG");
    const char *home = getenv("HOME");
    char fallback[1024];
    struct err in_cluster_err = {0};

    if (kube_url != NULL)
        return kube_config_from_url(kube_url, out, err);
    if (kubeconfig != NULL)
        return kube_config_from_kubeconfig(kubeconfig, context, out, err);
    if (env != NULL && env[0] != '\0')
        return kube_config_from_kubeconfig(env, context, out, err);
    if (kube_config_in_cluster(paths, out, &in_cluster_err) == 0)
        return 0;
    if (home != NULL && snprintf(fallback, sizeof(fallback), "%s/.kube/config", home) > 0 &&
        access(fallback, R_OK) == 0)
        return kube_config_from_kubeconfig(fallback, context, out, err);
    return err_set(err, in_cluster_err.code != 0 ? in_cluster_err.code : -ENOENT,
                   "no kubernetes connection: pass --kube-url or --kubeconfig, set KUBECONFIG, "
                   "or run in a cluster (%s)", in_cluster_err.msg);
}

void kube_config_tls(const struct kube_config *cfg, struct http_tls *tls)
{
    memset(tls, 0, sizeof(*tls));
    tls->ca_file = cfg->ca_file;
    tls->ca_pem = cfg->ca_pem;
    tls->client_cert_file = cfg->client_cert_file;
    tls->client_cert_pem = cfg->client_cert_pem;
    tls->client_key_file = cfg->client_key_file;
    tls->client_key_pem = cfg->client_key_pem;
    tls->insecure_skip_verify = cfg->insecure_skip_verify;
}

void kube_config_describe(const struct kube_config *cfg, char *buf, size_t len)
{
    const char *auth = "none";

    if (cfg->token_file != NULL)
        auth = "token-file";
    else if (cfg->token != NULL)
        auth = "token";
    else if (cfg->client_cert_file != NULL || cfg->client_cert_pem != NULL)
        auth = "client-certificate";
    snprintf(buf, len, "%s server=%s auth=%s ca=%s%s", cfg->source, cfg->server, auth,
             cfg->ca_pem != NULL ? "data" : cfg->ca_file != NULL ? cfg->ca_file : "system",
             cfg->insecure_skip_verify ? " insecure-skip-tls-verify" : "");
}
