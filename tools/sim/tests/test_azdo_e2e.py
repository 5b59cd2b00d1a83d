"""End to end through tools/sim/simworld: kubectl creates agent pods, the simulated agents
register with the Azure DevOps side, jobs run on them; everything over HTTP."""

import base64
import json
import os
import sys
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from helpers import World  # noqa: E402

DEMO = os.path.join(HERE, "..", "scenarios", "demo.json")

POD = """apiVersion: v1
kind: Pod
metadata: {name: %(name)s, namespace: default}
spec:
  containers:
  - name: agent
    image: registry.example.com/azdo-agent:1.0
    env:
    - {name: AZP_URL, value: "%(url)s/demo-org"}
    - {name: AZP_POOL, value: linux-advanced}
    - name: AZP_TOKEN
      valueFrom: {secretKeyRef: {name: %(secret)s, key: token}}
    - {name: VSO_AGENT_IGNORE, value: "AZP_TOKEN,AZP_TOKEN_FILE"}
    - {name: java, value: "17"}
"""


class AzdoEndToEndTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--pod-start-delay", "0.05", "--scenario", DEMO])

    def tearDown(self):
        self.w.stop()

    def rest(self, path, token):
        req = urllib.request.Request(self.w.azdo_url + path)
        req.add_header("Authorization", "Basic " + base64.b64encode(
            (":" + token).encode()).decode())
        req.add_header("X-TFS-FedAuthRedirect", "Suppress")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read().decode("utf-8-sig"))
        except urllib.error.HTTPError as e:
            return e.code, None

    def token(self):
        s = self.w.kubectl_json("get", "secret", "azdo-pat")
        return base64.b64decode(s["data"]["token"]).decode()

    def pool(self, name="linux-advanced"):
        return self.w.ctl("GET", "/_sim/state?pods=false")["orgs"]["demo-org"]["pools"][name]

    def agent(self, name):
        return next((a for a in self.pool()["agents"] if a["name"] == name), None)

    def test_agent_pod_registers_runs_a_java_job_and_unregisters(self):
        token = self.token()
        pid = self.pool()["id"]
        status, out = self.rest("/demo-org/_apis/distributedtask/pools?poolName=linux-advanced",
                                token)
        self.assertEqual(status, 200)
        self.assertEqual(out["value"][0]["id"], pid)
        # A java job with no java agent registered at all fails at once.
        early = self.w.ctl("POST", "/_sim/orgs/demo-org/pools/linux-advanced/jobs",
                           {"demands": ["java"], "durationSeconds": 0.2})
        self.assertEqual(early.get("result"), "failed")
        self.w.kubectl_ok("apply", "-f", "-", input=POD % {
            "name": "agent-java-1", "url": self.w.azdo_url, "secret": "azdo-pat"})
        self.w.wait_for(lambda: (self.agent("agent-java-1") or {}).get("status") == "online",
                        "agent online")
        rid = self.w.ctl("POST", "/_sim/orgs/demo-org/pools/linux-advanced/jobs",
                         {"demands": ["java"], "durationSeconds": 0.2})["requestId"]

        def finished():
            st, out = self.rest("/demo-org/_apis/distributedtask/pools/%d/jobrequests" % pid,
                                token)
            return next((j for j in out["value"] if j["requestId"] == rid and "result" in j),
                        None)
        job = self.w.wait_for(finished, "the java job finishes")
        self.assertEqual(job["result"], "succeeded")
        self.assertEqual(job["reservedAgent"]["name"], "agent-java-1")
        status, agents = self.rest("/demo-org/_apis/distributedtask/pools/%d/agents?"
                                   "includeLastCompletedRequest=true&includeCapabilities=true"
                                   % pid, token)
        a = agents["value"][0]
        self.assertEqual(a["lastCompletedRequest"]["requestId"], rid)
        self.assertEqual(a["systemCapabilities"]["java"], "17")
        self.assertNotIn("AZP_TOKEN", a["systemCapabilities"])
        self.w.kubectl_ok("delete", "pod", "agent-java-1", "--wait=false")
        self.w.wait_for(lambda: self.agent("agent-java-1") is None, "registration removed")

    def test_wrong_pat_pod_crash_loops_and_never_registers(self):
        self.w.kubectl_ok("create", "secret", "generic", "wrong-pat",
                          "--from-literal=token=definitely-not-the-pat")
        self.w.kubectl_ok("apply", "-f", "-", input=POD % {
            "name": "agent-bad", "url": self.w.azdo_url, "secret": "wrong-pat"})

        def restarted():
            p = self.w.kubectl_json("get", "pod", "agent-bad")
            cs = (p.get("status", {}).get("containerStatuses") or [{}])[0]
            return cs if cs.get("restartCount", 0) >= 2 else None
        cs = self.w.wait_for(restarted, "two restarts")
        self.assertIn("not authorized", cs["lastState"]["terminated"]["message"])
        self.assertIsNone(self.agent("agent-bad"))
        status, out = self.rest("/demo-org/_apis/distributedtask/pools", "definitely-not-the-pat")
        self.assertEqual(status, 401)


if __name__ == "__main__":
    unittest.main()
