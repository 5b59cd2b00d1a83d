"""pools.py - RunnerPool manifests and org set-up shared by the end-to-end tests."""

import json

CRD = "crds/runnerpools.devops.opentools.mf.yaml"


def runnerpool(world, name, pool, org="e2e-org", **spec):
    """A RunnerPool manifest (JSON text, which kubectl accepts) pointing at the world's AzDO."""
    body = {
        "apiVersion": "devops.opentools.mf/v1",
        "kind": "RunnerPool",
        "metadata": {"name": name, "namespace": "default"},
        "spec": dict({"azDoUrl": "%s/%s" % (world.azdo_url, org), "pool": pool,
                      "patSecretName": "azdo-pat", "image": "registry.example.com/azdo-agent:1.0"},
                     **spec),
    }
    return json.dumps(body)


def setup_org(world, pat="e2e-pat-1234", pools=("linux",), org="e2e-org", secret=True):
    """Creates the organisation in the simulated Azure DevOps, the CRD, and the PAT Secret."""
    import os
    from harness import TOP
    world.sim("POST", "/_sim/orgs/" + org, {"pat": pat, "pools": list(pools)})
    world.kubectl("apply", "-f", os.path.join(TOP, CRD))
    if secret:
        world.kubectl("create", "secret", "generic", "azdo-pat", "--from-literal=token=" + pat)


def apply(world, manifest):
    return world.kubectl("apply", "-f", "-", input=manifest)


def queue_jobs(world, pool, n, duration_s=3, demands=(), org="e2e-org"):
    ids = []
    for _ in range(n):
        r = world.sim("POST", "/_sim/orgs/%s/pools/%s/jobs" % (org, pool),
                      {"demands": list(demands), "durationSeconds": duration_s})
        ids.append(r["requestId"])
    return ids


def azdo_pool(world, pool, org="e2e-org"):
    return world.state()["orgs"][org]["pools"][pool]


def jobs_by_id(world, pool, org="e2e-org"):
    return {j["requestId"]: j for j in azdo_pool(world, pool, org)["jobs"]}
