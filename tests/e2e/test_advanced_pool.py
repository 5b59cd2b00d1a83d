"""Advanced pool: per-agent volumes kept or deleted, reattached by index; the pod spec carries
the init container, the security context, the trust store and extraEnv; capability routing."""

import json
import os
import unittest

from harness import TOP, World
from pools import apply, azdo_pool, jobs_by_id, queue_jobs, runnerpool, setup_org

ADVANCED = dict(
    minAgents=0, maxAgents=2, ttlIdleSeconds=1,
    pvcs=[{"name": "workspace", "mountPath": "/azp/_work", "storage": "1Gi",
           "deleteWithAgent": False},
          {"name": "cache", "mountPath": "/home/agent/.cache", "storage": "1Gi",
           "deleteWithAgent": True}],
    securityContext={"runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001},
    certTrustStore=[{"secretName": "corp-root-ca"}],
    extraEnv=[{"name": "HTTP_PROXY", "value": "http://proxy.corp:3128"},
              {"name": "NPM_TOKEN", "valueFrom": {"secretKeyRef": {"name": "npm-auth",
                                                                   "key": "token"}}}],
    capabilityAware=True,
    capabilityImages={"java": "registry.example.com/azdo-agent-java:1.0"},
)


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


class AdvancedPool(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w)
        self.w.kubectl("apply", "-f", os.path.join(TOP, "crds/examples/sim/secrets.yaml"))
        apply(self.w, runnerpool(self.w, "adv", "linux", **ADVANCED))
        self.w.wait_until("pool connected",
                          lambda: self.w.pool_status("adv").get("state") == "Connected")

    def pvc_names(self):
        return sorted(p["metadata"]["name"] for p in
                      self.w.kubectl_json("get", "pvc", "-l", "devops.opentools.mf/pool=adv")
                      ["items"] if not p["metadata"].get("deletionTimestamp"))

    def test_workspace_kept_and_reattached_cache_deleted(self):
        w = self.w
        [job] = queue_jobs(w, "linux", 1, duration_s=2)
        w.wait_until("one agent pod", lambda: len(w.pods("adv")) == 1)
        pod = w.pods("adv")[0]
        name = pod["metadata"]["name"]
        self.assertEqual(self.pvc_names(), [name + "-cache", name + "-workspace"])
        ws_uid = w.kubectl_json("get", "pvc", name + "-workspace")["metadata"]["uid"]

        spec = pod["spec"]
        init = spec["initContainers"][0]
        self.assertEqual(init["securityContext"].get("runAsUser"), 0)
        self.assertIn("1001:1001", " ".join(init.get("command", []) + init.get("args", [])))
        agent = spec["containers"][0]
        sc = agent["securityContext"]
        self.assertEqual(sc["runAsUser"], 1001)
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertEqual(spec["securityContext"]["fsGroup"], 1001)
        mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}
        self.assertTrue(mounts["/etc/ssl/certs/corp-root-ca"]["readOnly"])
        env = env_of(agent)
        self.assertEqual(env["HTTP_PROXY"]["value"], "http://proxy.corp:3128")
        ref = env["NPM_TOKEN"]["valueFrom"]["secretKeyRef"]
        self.assertEqual((ref["name"], ref["key"]), ("npm-auth", "token"))
        self.assertNotIn("e2e-pat-1234", json.dumps(pod), "the PAT is never copied into a pod")

        w.wait_until("job done", lambda: jobs_by_id(w, "linux")[job]["result"] is not None)
        w.wait_until("agent retired", lambda: w.pods("adv") == [])
        w.wait_until("cache deleted, workspace kept",
                     lambda: self.pvc_names() == [name + "-workspace"])

        queue_jobs(w, "linux", 1, duration_s=2)
        w.wait_until("agent back", lambda: len(w.pods("adv")) == 1)
        again = w.pods("adv")[0]
        self.assertEqual(again["metadata"]["name"], name, "the lowest free index comes back")
        claims = [v["persistentVolumeClaim"]["claimName"] for v in again["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]
        self.assertIn(name + "-workspace", claims)
        self.assertEqual(w.kubectl_json("get", "pvc", name + "-workspace")["metadata"]["uid"],
                         ws_uid, "the kept workspace is reattached, not re-created")

    def test_java_job_queues_and_runs_on_a_java_agent(self):
        w = self.w
        w.wait_until("java placeholder registered", lambda: any(
            a["status"] == "offline" and "java" in a.get("capabilities", {})
            for a in azdo_pool(w, "linux")["agents"]))
        [job] = queue_jobs(w, "linux", 1, duration_s=3, demands=["java"])
        self.assertIsNone(jobs_by_id(w, "linux")[job]["result"],
                          "the job queues instead of failing at once")
        w.wait_until("java job ran", lambda: jobs_by_id(w, "linux")[job]["result"] is not None)
        self.assertEqual(jobs_by_id(w, "linux")[job]["result"], "succeeded")
        agent_name = jobs_by_id(w, "linux")[job]["agentName"]
        rows = w.sql("SELECT cap_key FROM decisions WHERE action = 'create_pod' AND target = '%s'"
                     % agent_name)
        self.assertEqual(rows[0]["cap_key"], "java")


if __name__ == "__main__":
    unittest.main()
