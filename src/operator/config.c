/* config.c - parsing of `azdo-operator run` flags (see config.h). */
#include "operator/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_KUBE_URL = 256,
    OPT_KUBECONFIG,
    OPT_NAMESPACE,
    OPT_DB,
    OPT_POLL,
    OPT_RETENTION,
    OPT_LOG_LEVEL,
    OPT_LEADER_ELECT,
    OPT_LEASE_NS,
    OPT_LEASE_NAME,
    OPT_IDENTITY,
    OPT_LISTEN,
    OPT_WEBHOOK_PORT,
    OPT_METRICS_PORT,
    OPT_WEBHOOK_CONFIG,
    OPT_WEBHOOK_SECRET,
    OPT_WEBHOOK_SERVICE,
    OPT_WEBHOOK_NS,
    OPT_WEBHOOK_SAN,
    OPT_CERT_LIFETIME,
    OPT_CA_LIFETIME,
    OPT_DRAIN_TIMEOUT,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"kube-url", required_argument, NULL, OPT_KUBE_URL},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"db", required_argument, NULL, OPT_DB},
    {"poll-interval", required_argument, NULL, OPT_POLL},
    {"retention", required_argument, NULL, OPT_RETENTION},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"leader-elect", no_argument, NULL, OPT_LEADER_ELECT},
    {"leader-election-namespace", required_argument, NULL, OPT_LEASE_NS},
    {"leader-election-id", required_argument, NULL, OPT_LEASE_NAME},
    {"identity", required_argument, NULL, OPT_IDENTITY},
    {"listen-address", required_argument, NULL, OPT_LISTEN},
    {"webhook-port", required_argument, NULL, OPT_WEBHOOK_PORT},
    {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
    {"webhook-config-name", required_argument, NULL, OPT_WEBHOOK_CONFIG},
    {"webhook-secret-name", required_argument, NULL, OPT_WEBHOOK_SECRET},
    {"webhook-service", required_argument, NULL, OPT_WEBHOOK_SERVICE},
    {"webhook-namespace", required_argument, NULL, OPT_WEBHOOK_NS},
    {"webhook-san", required_argument, NULL, OPT_WEBHOOK_SAN},
    {"cert-lifetime", required_argument, NULL, OPT_CERT_LIFETIME},
    {"ca-lifetime", required_argument, NULL, OPT_CA_LIFETIME},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void op_config_usage(void)
{
    fputs("usage: azdo-operator run [options]\n"
          "\n"
          "Kubernetes connection (default: in-cluster service account, or $KUBECONFIG):\n"
          "  --kube-url URL              plain API URL (simulated world, kubectl proxy)\n"
          "  --kubeconfig FILE           use the current context of FILE\n"
          "  --namespace NS              manage RunnerPools in NS only (default: all)\n"
          "State:\n"
          "  --db FILE                   SQLite database (default /var/lib/azdo-operator/state.db)\n"
          "  --retention DAYS            keep raw samples this long (default 30)\n"
          "Azure DevOps:\n"
          "  --poll-interval SECONDS     queue poll period per pool (default 10)\n"
          "Leader election:\n"
          "  --leader-elect              run as leader or standby using a Lease\n"
          "  --leader-election-namespace NS, --leader-election-id NAME, --identity ID\n"
          "Servers (port 0 disables):\n"
          "  --listen-address ADDR       numeric address both servers bind (default 0.0.0.0)\n"
          "  --webhook-port PORT         admission webhooks over HTTPS (default 9443)\n"
          "  --metrics-port PORT         /healthz, /readyz, /metrics (default 8080)\n"
          "  --webhook-config-name NAME  webhook configurations to keep caBundle in\n"
          "                              (default azdo-runner-operator)\n"
          "  --webhook-secret-name NAME  Secret for the CA and serving certificate\n"
          "                              (default azdo-runner-operator-webhook-tls)\n"
          "  --webhook-service NAME      webhook Service name (default azdo-runner-operator-webhook)\n"
          "  --webhook-namespace NS      namespace of that Secret and Service (default: own)\n"
          "  --webhook-san NAME|IP       certificate subject alternative name (repeatable)\n"
          "  --cert-lifetime SECONDS     serving certificate lifetime (default 7776000 = 90 d)\n"
          "  --ca-lifetime SECONDS       CA lifetime (default 157680000 = 5 y)\n"
          "Other:\n"
          "  --drain-timeout SECONDS     on pool deletion, wait this long for busy agents\n"
          "                              (default 3600)\n"
          "  --log-level LEVEL           debug, info, warn or error (default info)\n",
          stdout);
}

/* Parses a decimal in [min, max]; the message names the flag. */
static int parse_u32(const char *flag, const char *text, uint32_t min, uint32_t max,
                     uint32_t *out, struct err *err)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
        return err_set(err, -EINVAL, "--%s: '%s' is not a whole number from %u to %u", flag, text,
                       min, max);
    *out = (uint32_t)v;
    return 0;
}

static int parse_port(const char *flag, const char *text, int *out, struct err *err)
{
    uint32_t v;
    int rc = parse_u32(flag, text, 0, 65535, &v, err);

    if (rc == 0)
        *out = (int)v;
    return rc;
}

static void set_defaults(struct op_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->db_path = "/var/lib/azdo-operator/state.db";
    cfg->poll_interval_s = 10;
    cfg->retention_days = 30;
    cfg->log_level = LOG_INFO;
    cfg->lease_name = "azdo-runner-operator";
    cfg->listen_address = "0.0.0.0";
    cfg->webhook_port = 9443;
    cfg->metrics_port = 8080;
    cfg->webhook_config_name = "azdo-runner-operator";
    cfg->webhook_secret_name = "azdo-runner-operator-webhook-tls";
    cfg->webhook_service = "azdo-runner-operator-webhook";
    cfg->cert_lifetime_s = 90u * 24 * 3600;
    cfg->ca_lifetime_s = 5u * 365 * 24 * 3600;
    cfg->drain_timeout_s = 3600;
}

int op_config_parse(int argc, char **argv, struct op_config *cfg, struct err *err)
{
    int c;
    int rc = 0;

    set_defaults(cfg);
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_KUBE_URL: cfg->kube_url = optarg; break;
        case OPT_KUBECONFIG: cfg->kubeconfig = optarg; break;
        case OPT_NAMESPACE: cfg->namespace = optarg; break;
        case OPT_DB: cfg->db_path = optarg; break;
        case OPT_POLL: rc = parse_u32("poll-interval", optarg, 1, 3600, &cfg->poll_interval_s, err); break;
        case OPT_RETENTION: rc = parse_u32("retention", optarg, 1, 3650, &cfg->retention_days, err); break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(optarg, &cfg->log_level) != 0)
                rc = err_set(err, -EINVAL, "--log-level: '%s' is not debug, info, warn or error", optarg);
            break;
        case OPT_LEADER_ELECT: cfg->leader_elect = true; break;
        case OPT_LEASE_NS: cfg->lease_namespace = optarg; break;
        case OPT_LEASE_NAME: cfg->lease_name = optarg; break;
        case OPT_IDENTITY: cfg->identity = optarg; break;
        case OPT_LISTEN: cfg->listen_address = optarg; break;
        case OPT_WEBHOOK_PORT: rc = parse_port("webhook-port", optarg, &cfg->webhook_port, err); break;
        case OPT_METRICS_PORT: rc = parse_port("metrics-port", optarg, &cfg->metrics_port, err); break;
        case OPT_WEBHOOK_CONFIG: cfg->webhook_config_name = optarg; break;
        case OPT_WEBHOOK_SECRET: cfg->webhook_secret_name = optarg; break;
        case OPT_WEBHOOK_SERVICE: cfg->webhook_service = optarg; break;
        case OPT_WEBHOOK_NS: cfg->webhook_namespace = optarg; break;
        case OPT_WEBHOOK_SAN:
            if (cfg->n_webhook_sans == OP_MAX_SANS)
                rc = err_set(err, -EINVAL, "--webhook-san: at most %d names", OP_MAX_SANS);
            else
                cfg->webhook_sans[cfg->n_webhook_sans++] = optarg;
            break;
        case OPT_CERT_LIFETIME: rc = parse_u32("cert-lifetime", optarg, 60, UINT32_MAX, &cfg->cert_lifetime_s, err); break;
        case OPT_CA_LIFETIME: rc = parse_u32("ca-lifetime", optarg, 120, UINT32_MAX, &cfg->ca_lifetime_s, err); break;
        case OPT_DRAIN_TIMEOUT: rc = parse_u32("drain-timeout", optarg, 0, 7 * 24 * 3600, &cfg->drain_timeout_s, err); break;
        case OPT_HELP: op_config_usage(); return 1;
        case ':': return err_set(err, -EINVAL, "%s: needs a value", argv[optind - 1]);
        default: return err_set(err, -EINVAL, "unknown option '%s' (see azdo-operator run --help)", argv[optind - 1]);
        }
    }
    if (rc != 0)
        return rc;
    if (optind < argc)
        return err_set(err, -EINVAL, "unexpected argument '%s'", argv[optind]);
    if (cfg->kube_url != NULL && cfg->kubeconfig != NULL)
        return err_set(err, -EINVAL, "--kube-url and --kubeconfig: give one, not both");
    if (cfg->ca_lifetime_s <= cfg->cert_lifetime_s)
        return err_set(err, -EINVAL, "--ca-lifetime must be longer than --cert-lifetime");
    return 0;
}
