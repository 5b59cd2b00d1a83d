"""A wrong PAT is reported and harms nothing; fixing the Secret recovers without a restart."""

import unittest

from harness import World
from pools import apply, azdo_pool, queue_jobs, runnerpool, setup_org


def condition(status, ctype):
    for c in status.get("conditions", []):
        if c["type"] == ctype:
            return c
    return {}


class WrongPat(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w, pat="the-right-pat", secret=False)
        self.w.kubectl("create", "secret", "generic", "azdo-pat", "--from-literal=token=wrong-pat")

    def test_wrong_pat_then_fixed_secret(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", maxAgents=2, minAgents=1))
        w.wait_until("auth failure in status",
                     lambda: condition(w.pool_status("p"), "Connected").get("status") == "False"
                     and w.pool_status("p").get("state") == "AuthFailed")
        cond = condition(w.pool_status("p"), "Connected")
        self.assertIn("PAT", cond["message"])
        self.assertNotIn("wrong-pat", str(w.pool_status("p")))
        self.assertEqual(w.pods("p"), [], "no agent is created while the PAT is refused")

        # Rotate the Secret in place, as an admin would.
        manifest = w.kubectl("create", "secret", "generic", "azdo-pat",
                             "--from-literal=token=the-right-pat", "--dry-run=client",
                             "-o", "json").stdout
        w.kubectl("apply", "-f", "-", input=manifest)
        w.wait_until("connected after the Secret was fixed",
                     lambda: w.pool_status("p").get("state") == "Connected")
        w.wait_until("minAgents agent running", lambda: len(w.pods("p")) == 1)

        # The token never reaches the database or the operator's log.
        dump = w.sql("SELECT group_concat(azdo_detail) AS d FROM pools")
        self.assertNotIn("the-right-pat", str(dump))
        self.assertNotIn("wrong-pat", str(dump))
        with open(w.operator_log) as f:
            log = f.read()
        self.assertNotIn("the-right-pat", log)
        self.assertNotIn("wrong-pat", log)


class BusyAgentNeverDeleted(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w)

    def test_busy_agent_survives_past_its_ttl(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", maxAgents=1, minAgents=0, ttlIdleSeconds=1))
        w.wait_until("pool connected", lambda: w.pool_status("p").get("state") == "Connected")
        w.wait_until("placeholder registered",
                     lambda: len(azdo_pool(w, "linux")["agents"]) >= 1)
        [job] = queue_jobs(w, "linux", 1, duration_s=8)
        w.wait_until("job running on an agent",
                     lambda: any(j["requestId"] == job and j["agentName"]
                                 for j in azdo_pool(w, "linux")["jobs"]))
        pod_uid = w.pods("p")[0]["metadata"]["uid"]

        def finished():
            pods = w.pods("p")
            # While the job runs, its agent's pod is never deleted, TTL or not.
            j = [j for j in azdo_pool(w, "linux")["jobs"] if j["requestId"] == job][0]
            if j["result"] is None:
                self.assertTrue(pods and pods[0]["metadata"]["uid"] == pod_uid
                                and not pods[0]["metadata"].get("deletionTimestamp"),
                                "busy agent's pod was deleted")
            return j["result"] is not None
        w.wait_until("job finished", finished)
        w.wait_until("idle agent retired after its TTL", lambda: w.pods("p") == [])


if __name__ == "__main__":
    unittest.main()
