/* agent_meta.c - names, labels and owner references of agent objects (see agent_meta.h). */
#include "pool/agent_meta.h"

#include <errno.h>
#include <stdio.h>

static int check_index(unsigned index, struct err *err)
{
    if (index > RUNNER_POOL_INDEX_MAX)
        return err_set(err, -ERANGE, "agent index %u outside 0..%d", index,
                       RUNNER_POOL_INDEX_MAX);
    return 0;
}

static int fits(int n, size_t len, struct err *err)
{
    if (n < 0 || (size_t)n >= len)
        return err_set(err, -ENAMETOOLONG, "name does not fit in %zu bytes", len);
    return 0;
}

int agent_pod_name(const char *pool_name, unsigned index, char *buf, size_t len, struct err *err)
{
    int rc = check_index(index, err);
    if (rc < 0)
        return rc;
    return fits(snprintf(buf, len, "%s-agent-%u", pool_name, index), len, err);
}

int agent_pvc_name(const char *pool_name, unsigned index, const char *pvc_name, char *buf,
                   size_t len, struct err *err)
{
    int rc = check_index(index, err);
    if (rc < 0)
        return rc;
    return fits(snprintf(buf, len, "%s-agent-%u-%s", pool_name, index, pvc_name), len, err);
}

int agent_pool_selector(const char *pool_name, char *buf, size_t len, struct err *err)
{
    return fits(snprintf(buf, len, "%s,%s=%s", AGENT_SELECTOR_MANAGED, AGENT_LABEL_POOL,
                         pool_name),
                len, err);
}

json_t *agent_meta_labels(const struct runner_pool *rp, unsigned index)
{
    char ordinal[16];

    snprintf(ordinal, sizeof(ordinal), "%u", index);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", AGENT_LABEL_APP, AGENT_LABEL_APP_VALUE,
                     AGENT_LABEL_RUNNER_POOL, rp->name, AGENT_LABEL_MANAGED_BY,
                     AGENT_LABEL_MANAGED_BY_VALUE, AGENT_LABEL_NAME, AGENT_LABEL_NAME_VALUE,
                     AGENT_LABEL_POOL, rp->name, AGENT_LABEL_ORDINAL, ordinal);
}

json_t *agent_meta_owner_references(const struct runner_pool *rp)
{
    if (rp->uid == NULL)
        return NULL;
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", RUNNER_POOL_API_VERSION,
                     "kind", RUNNER_POOL_KIND, "name", rp->name, "uid", rp->uid, "controller", 1,
                     "blockOwnerDeletion", 1);
}
