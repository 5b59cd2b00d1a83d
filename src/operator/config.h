/* config.h - the `azdo-operator run` command line.
 *
 * Every flag has a documented default; a bad value is refused at start with a message naming the
 * flag and what it accepts, so a typo in a Deployment never starts a misconfigured operator. */
#ifndef AZDO_OPERATOR_CONFIG_H
#define AZDO_OPERATOR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

#define OP_MAX_SANS 16

struct op_config {
    /* Kubernetes connection: at most one of kube_url / kubeconfig; neither = in-cluster, unless
     * KUBECONFIG is set. Strings are borrowed from argv / the environment. */
    const char *kube_url;
    const char *kubeconfig;
    const char *namespace; /* watch only this namespace; NULL = all namespaces */

    const char *db_path;          /* --db */
    uint32_t poll_interval_s;     /* --poll-interval: Azure DevOps poll period per pool */
    uint32_t retention_days;      /* --retention */
    enum log_level log_level;     /* --log-level */

    /* Leader election (coordination.k8s.io Lease). */
    bool leader_elect;
    const char *lease_namespace; /* default: the pod's namespace, else "default" */
    const char *lease_name;      /* default "azdo-runner-operator" */
    const char *identity;        /* default: hostname */

    /* Servers. Port 0 disables the server (local runs and tests). */
    const char *listen_address; /* --listen-address for both servers (default 0.0.0.0) */
    int webhook_port;
    int metrics_port;
    const char *webhook_config_name;   /* the Validating/MutatingWebhookConfiguration name */
    const char *webhook_secret_name;   /* Secret holding CA + serving certificate */
    const char *webhook_service;       /* Service name, for default SANs */
    const char *webhook_namespace;     /* where the Secret and Service live */
    const char *webhook_sans[OP_MAX_SANS];
    int n_webhook_sans;
    uint32_t cert_lifetime_s;    /* serving certificate lifetime */
    uint32_t ca_lifetime_s;      /* CA lifetime */

    /* Deletion: how long a pool being deleted waits for busy agents before removing them. */
    uint32_t drain_timeout_s;
};

/* Fills 'cfg' with defaults, then parses argv (argv[0] is "run"). Returns 0; 1 when --help was
 * printed (exit 0); or -EINVAL with a message naming the flag in 'err'. */
int op_config_parse(int argc, char **argv, struct op_config *cfg, struct err *err);

/* Prints the flag reference to stdout. */
void op_config_usage(void);

#endif
