"""Deleting a RunnerPool retires its agents, deletes the volumes marked deleteWithAgent, removes
its registrations from Azure DevOps, then releases the finalizer; kept volumes stay, and a pool
re-created under the same name gets them back."""

import unittest

from harness import World
from pools import apply, azdo_pool, runnerpool, setup_org

SPEC = dict(minAgents=1, maxAgents=2, ttlIdleSeconds=300,
            pvcs=[{"name": "work", "mountPath": "/azp/_work", "storage": "1Gi",
                   "deleteWithAgent": False},
                  {"name": "tmp", "mountPath": "/tmp/agent", "storage": "1Gi",
                   "deleteWithAgent": True}])


class Deletion(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w)

    def pvcs(self):
        return sorted(p["metadata"]["name"] for p in self.w.kubectl_json(
            "get", "pvc", "-l", "devops.opentools.mf/pool=p")["items"])

    def test_delete_pool_cleans_up_and_keeps_kept_volumes(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", **SPEC))
        w.wait_until("agent online", lambda: any(
            a["status"] == "online" for a in azdo_pool(w, "linux")["agents"]))
        self.assertEqual(self.pvcs(), ["p-agent-0-tmp", "p-agent-0-work"])
        meta = w.kubectl_json("get", "runnerpool", "p")["metadata"]
        self.assertIn("devops.opentools.mf/finalizer", meta.get("finalizers", []))

        p = w.kubectl("delete", "runnerpool", "p", "--timeout=120s", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(w.kubectl("get", "runnerpool", "p", check=False).returncode, 1)
        w.wait_until("agent pods gone", lambda: w.pods("p") == [])
        self.assertEqual(self.pvcs(), ["p-agent-0-work"], "only the kept volume stays")
        self.assertEqual(azdo_pool(w, "linux")["agents"], [],
                         "agent and placeholder registrations are removed")

        uid = w.kubectl_json("get", "pvc", "p-agent-0-work")["metadata"]["uid"]
        apply(w, runnerpool(w, "p", "linux", **SPEC))
        w.wait_until("agent back", lambda: len(w.pods("p")) == 1)
        self.assertEqual(w.kubectl_json("get", "pvc", "p-agent-0-work")["metadata"]["uid"], uid)


if __name__ == "__main__":
    unittest.main()
