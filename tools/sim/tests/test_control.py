"""The world's control API (/_sim/...) and scenario files."""

import base64
import glob
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from simlib.azdo_testkit import SimFixture  # noqa: E402

SCENARIOS = os.path.join(HERE, "..", "scenarios")
PAT = "control-pat-13572468"


class ControlTest(unittest.TestCase):
    def setUp(self):
        self.w = SimFixture()

    def tearDown(self):
        self.w.close()

    def test_healthz(self):
        out = self.w.ctl("GET", "/_sim/healthz")
        self.assertTrue(out["ok"])

    def test_org_creation_is_idempotent_with_stable_distinct_pool_ids(self):
        a = self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["x", "y"]})
        b = self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["x", "y", "z"]})
        self.assertEqual(a["pools"]["x"], b["pools"]["x"])
        self.assertEqual(a["pools"]["y"], b["pools"]["y"])
        self.assertEqual(len(set(b["pools"].values())), 3)
        c = self.w.ctl("POST", "/_sim/orgs/other", {"pat": "other-pat", "pools": [
            {"name": "x", "id": 42}]})
        self.assertEqual(c["pools"]["x"], 42)
        self.assertNotIn(42, b["pools"].values())
        status, _, body = self.w.call("POST", "/_sim/orgs/third", {"pools": ["q"]})
        self.assertEqual(status, 400)                      # a new org needs a PAT
        self.assertIn("pat", json.loads(body)["error"])

    def test_state_has_the_issue_shape_and_no_pat(self):
        self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["p"]})
        self.w.create_secret("azdo-pat", {"token": PAT})
        self.w.create_secret("npm-auth", {"token": "npm-secret-value-42"})
        pod = self.w.agent_pod_manifest("a1", "o", "p", token_secret=("azdo-pat", "token"),
                                        env={"java": "1"})
        pod["spec"]["containers"][0]["env"].append(
            {"name": "NPM_TOKEN", "valueFrom": {"secretKeyRef": {"name": "npm-auth",
                                                                 "key": "token"}}})
        self.w.store.create("pods", "default", pod)
        self.w.wait_for(lambda: self.w.agent("o", "p", "a1"), "a1 registers")
        rid = self.w.ctl("POST", "/_sim/orgs/o/pools/p/jobs",
                         {"demands": ["java"], "durationSeconds": 3600})["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", rid)["agentName"], "assignment")
        status, _, raw = self.w.call("GET", "/_sim/state")
        self.assertEqual(status, 200)
        self.assertNotIn(PAT.encode(), raw)
        self.assertNotIn(base64.b64encode(PAT.encode()), raw)
        self.assertNotIn(b"npm-secret-value-42", raw)     # a capability from a Secret
        st = json.loads(raw)
        self.assertTrue({"orgs", "pods", "pvcs"} <= set(st))
        pool = st["orgs"]["o"]["pools"]["p"]
        self.assertIsInstance(pool["id"], int)
        agent = pool["agents"][0]
        for k in ("id", "name", "status", "enabled", "capabilities", "assignedRequestId"):
            self.assertIn(k, agent)
        self.assertEqual(agent["status"], "online")
        self.assertEqual(agent["capabilities"]["java"], "1")
        self.assertEqual(agent["capabilities"]["NPM_TOKEN"], "<redacted>")
        self.assertEqual(agent["assignedRequestId"], rid)
        job = pool["jobs"][0]
        for k in ("requestId", "demands", "queueTime", "assignTime", "finishTime", "result",
                  "agentName"):
            self.assertIn(k, job)
        self.assertEqual(job["agentName"], "a1")
        self.assertIsNone(job["result"])
        self.assertEqual([p["metadata"]["name"] for p in st["pods"]], ["a1"])
        self.assertEqual(st["pods"][0]["kind"], "Pod")
        self.assertEqual(st["pvcs"], [])

    def test_job_requests_are_validated(self):
        self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["p"]})
        for body in ({"demands": "java"}, {"demands": ["java -bogus 1"]},
                     {"demands": [], "result": "great"}, {"demands": [], "count": 0}):
            status, _, out = self.w.call("POST", "/_sim/orgs/o/pools/p/jobs", body)
            self.assertEqual(status, 400, body)
            self.assertIn("error", json.loads(out))
        self.assertEqual(self.w.call("POST", "/_sim/orgs/o/pools/nope/jobs", {})[0], 404)
        self.assertEqual(self.w.call("POST", "/_sim/orgs/nope/pools/p/jobs", {})[0], 404)
        self.assertEqual(self.w.call("GET", "/_sim/orgs/o/pools/p/jobs")[0], 405)

    def test_unknown_fault_is_rejected_and_known_ones_are_typed(self):
        status, _, body = self.w.call("POST", "/_sim/faults", {"no_such_switch": 1})
        self.assertEqual(status, 400)
        self.assertIn("azdo_throttle", json.loads(body)["error"])
        out = self.w.ctl("POST", "/_sim/faults", {"azdo_latency_ms": "5",
                                                  "unregister_on_sigterm": "false"})
        self.assertEqual(out["azdo_latency_ms"], 5)
        self.assertFalse(out["agent_unregister_on_sigterm"])

    def test_queue_on_trigger_assigns_right_after_the_matching_call(self):
        self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["p"]})
        self.w.ctl("POST", "/_sim/orgs/o/pools/p/agents", {"name": "a3", "status": "online"})
        out = self.w.ctl("POST", "/_sim/orgs/o/pools/p/jobs", {
            "demands": [], "agent": "a3", "durationSeconds": 300,
            "queueOn": {"method": "GET", "pathContains": "/agents"}})
        self.assertIsNone(out["requestId"])
        self.assertEqual(self.w.pool_state("o", "p")["jobs"], [])
        pid = self.w.pool_state("o", "p")["id"]
        url = "/o/_apis/distributedtask/pools/%d/agents?includeAssignedRequest=true" % pid
        first = self.w.api(url, PAT)["value"][0]
        self.assertIsNone(first["assignedRequest"])        # answered before the job came
        second = self.w.api(url, PAT)["value"][0]          # no tick needed in between
        self.assertIsNotNone(second["assignedRequest"])
        self.assertEqual(len(self.w.pool_state("o", "p")["jobs"]), 1)

    def test_scenario_post_with_timeline_history_and_request_ids(self):
        out = self.w.ctl("POST", "/_sim/scenario", {
            "orgs": [{"name": "s", "pat": PAT, "pools": [{"name": "p", "id": 42}]}],
            "secrets": [{"namespace": "ci", "name": "azdo-pat", "stringData": {"token": PAT}}],
            "agents": [{"org": "s", "pool": "p", "name": "tmpl", "capabilities": {"java": "1"}}],
            "history": [{"org": "s", "pool": "p", "count": 5}],
            "nextRequestId": 101,
            "timeline": [{"at": 0, "faults": {"azdo_retry_after_s": 9}}],
            "jobs": [{"at": 0, "org": "s", "pool": "p", "demands": ["java"], "count": 2}]})
        self.assertEqual(out["orgs"]["s"], {"p": 42})
        self.assertEqual(out["jobsScheduled"], 2)
        secret = self.w.store.get("secrets", "ci", "azdo-pat")
        self.assertEqual(base64.b64decode(secret["data"]["token"]).decode(), PAT)
        jobs = self.w.wait_for(lambda: [j for j in self.w.pool_state("s", "p")["jobs"]
                                        if j["result"] is None], "arrivals")
        self.assertEqual(sorted(j["requestId"] for j in jobs)[0], 101)
        self.w.wait_for(lambda: self.w.ctl("GET", "/_sim/faults")["azdo_retry_after_s"] == 9,
                        "timeline fault applied")
        status, _, body = self.w.call("POST", "/_sim/scenario", {"orgz": []})
        self.assertEqual(status, 400)
        self.assertIn("orgz", json.loads(body)["error"])

    def test_every_shipped_scenario_loads(self):
        files = sorted(glob.glob(os.path.join(SCENARIOS, "*.json")))
        self.assertIn("demo.json", [os.path.basename(f) for f in files])
        for path in files:
            w = SimFixture()
            try:
                summary = w.svc.load_scenario(path)
                self.assertTrue(summary["orgs"], path)
                data = json.load(open(path))
                for s in data.get("secrets", []):
                    self.assertIsNotNone(w.store.get("secrets", s["namespace"], s["name"]), path)
                st = w.state()
                for org in data.get("orgs", []):
                    self.assertIn(org["name"], st["orgs"])
                    self.assertNotIn(org["pat"], json.dumps(st))
            finally:
                w.close()

    def test_demo_scenario_has_the_three_example_pools_and_java_jobs(self):
        data = json.load(open(os.path.join(SCENARIOS, "demo.json")))
        self.w.svc.load_scenario(os.path.join(SCENARIOS, "demo.json"))
        pools = self.w.state()["orgs"]["demo-org"]["pools"]
        self.assertEqual(sorted(pools), ["linux-advanced", "linux-basic", "linux-corporate"])
        self.assertTrue(any("java" in j.get("demands", []) for j in data["jobs"]))
        secret = self.w.store.get("secrets", "default", "azdo-pat")
        token = base64.b64decode(secret["data"]["token"]).decode()
        pid = pools["linux-basic"]["id"]
        out = self.w.api("/demo-org/_apis/distributedtask/pools/%d" % pid, token)
        self.assertEqual(out["name"], "linux-basic")


if __name__ == "__main__":
    unittest.main()
