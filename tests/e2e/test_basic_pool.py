"""A basic pool scales up for queued jobs, shows it in its status, and shrinks back."""

import unittest
import urllib.request

from harness import World
from pools import apply, azdo_pool, jobs_by_id, queue_jobs, runnerpool, setup_org


class BasicPool(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w)

    def live_pods(self, pool):
        return [p for p in self.w.pods(pool) if not p["metadata"].get("deletionTimestamp")]

    def test_three_jobs_three_agents_then_back_to_min(self):
        w = self.w
        apply(w, runnerpool(w, "basic", "linux", maxAgents=3, minAgents=0, ttlIdleSeconds=2))
        w.wait_until("pool connected", lambda: w.pool_status("basic").get("state") == "Connected")
        # The planner registers an offline placeholder so that jobs queue instead of failing.
        w.wait_until("placeholder registered",
                     lambda: any(a["status"] == "offline" for a in azdo_pool(w, "linux")["agents"]))
        ids = queue_jobs(w, "linux", 3, duration_s=4)

        peak = {"pods": 0}

        def three_agents():
            pods = self.live_pods("basic")
            peak["pods"] = max(peak["pods"], len(pods))
            st = w.pool_status("basic")
            return len(pods) == 3 and st.get("agentsDisplay") == "3/3"
        w.wait_until("three agents and 3/3 in status", three_agents)

        def all_finished():
            jobs = jobs_by_id(w, "linux")
            peak["pods"] = max(peak["pods"], len(self.live_pods("basic")))
            return all(jobs[i]["result"] is not None for i in ids)
        w.wait_until("all three jobs finished", all_finished)
        for i in ids:
            self.assertEqual(jobs_by_id(w, "linux")[i]["result"], "succeeded")

        w.wait_until("pool back at minAgents (0)", lambda: len(w.pods("basic")) == 0)
        self.assertLessEqual(peak["pods"], 3, "never more pods than maxAgents")
        names = [p["name"] for p in azdo_pool(w, "linux")["agents"]]
        self.assertFalse([n for n in names if "-agent-" in n],
                         "retired agents' registrations are gone: %s" % names)
        st = w.pool_status("basic")
        self.assertEqual(st.get("state"), "Connected")
        self.assertEqual(st.get("agentsDisplay"), "0/3")
        # Every decision is in the database with a reason a human can read.
        rows = w.sql("SELECT action, reason FROM decisions WHERE action = 'create_pod'")
        self.assertEqual(len(rows), 3)

    def test_kubectl_get_shows_printer_columns(self):
        w = self.w
        apply(w, runnerpool(w, "basic", "linux", maxAgents=3))
        w.wait_until("pool connected", lambda: w.pool_status("basic").get("state") == "Connected")
        out = w.kubectl("get", "runnerpools").stdout
        header = out.splitlines()[0].split()
        self.assertEqual(header, ["NAME", "STATUS", "POOL", "ORGANIZATION", "QUEUED", "AGENTS",
                                  "RUNNING", "AGE"])
        row = out.splitlines()[1].split()
        self.assertEqual(row[:4], ["basic", "Connected", "linux", "e2e-org"])
        self.assertEqual(row[5], "0/3")

    def test_health_readiness_and_metrics(self):
        w = self.w
        apply(w, runnerpool(w, "basic", "linux", maxAgents=3))
        w.wait_until("pool connected", lambda: w.pool_status("basic").get("state") == "Connected")
        base = "http://127.0.0.1:%d" % w.metrics_port

        def get(path):
            with urllib.request.urlopen(base + path, timeout=10) as r:
                return r.status, r.read().decode()
        self.assertEqual(get("/healthz")[0], 200)
        w.wait_until("ready", lambda: get("/readyz")[0] == 200)
        w.wait_until("pool counted in /metrics", lambda: 'azdo_operator_pools{state="connected"} 1'
                     in get("/metrics")[1])
        text = get("/metrics")[1]
        self.assertIn("azdo_operator_kube_requests_total{", text)
        self.assertIn("azdo_operator_azdo_requests_total{", text)
        self.assertIn('azdo_operator_decisions_total{action="add_finalizer"}', text)


if __name__ == "__main__":
    unittest.main()
