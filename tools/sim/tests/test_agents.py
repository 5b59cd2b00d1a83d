"""Simulated agents inside agent pods: registration, capabilities, jobs, termination."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simlib.azdo_testkit import SimFixture  # noqa: E402

PAT = "agent-pat-9f8e7d6c5b4a"
POOLS = "/o/_apis/distributedtask/pools"


class AgentTest(unittest.TestCase):
    unregister = True

    def setUp(self):
        self.w = SimFixture(unregister_on_sigterm=self.unregister)
        out = self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["p"]})
        self.pid = out["pools"]["p"]

    def tearDown(self):
        self.w.close()

    def online(self, name):
        a = self.w.agent("o", "p", name)
        return a if a and a["status"] == "online" else None

    def wait_online(self, name):
        return self.w.wait_for(lambda: self.online(name), "agent %s online" % name)

    def queue(self, demands, duration=3600, **kw):
        body = {"demands": demands, "durationSeconds": duration}
        body.update(kw)
        return self.w.ctl("POST", "/_sim/orgs/o/pools/p/jobs", body)

    # ------------------------------------------------------------------ registration
    def test_wrong_pat_never_registers_and_pod_crash_loops(self):
        self.w.create_agent_pod("bad", "o", "p", token="wrong-pat")
        cs = self.w.wait_for(
            lambda: (lambda c: c if c and c.get("restartCount", 0) >= 2 else None)(
                self.w.container_status("bad")), "the container restarts twice")
        term = cs["lastState"]["terminated"]
        self.assertEqual(term["exitCode"], 1)
        self.assertIn("not authorized", term["message"])
        self.assertNotIn("wrong-pat", term["message"])
        self.assertEqual(self.w.pool_state("o", "p")["agents"], [])
        listed = self.w.api("%s/%d/agents" % (POOLS, self.pid), PAT)
        self.assertEqual(listed["count"], 0)

    def test_unknown_pool_crashes_with_the_pool_name(self):
        self.w.create_agent_pod("lost", "o", "no-such-pool", token=PAT)
        cs = self.w.wait_for(
            lambda: (lambda c: c if c and c.get("lastState", {}).get("terminated") else None)(
                self.w.container_status("lost")), "the container exits")
        self.assertIn("no-such-pool", cs["lastState"]["terminated"]["message"])

    def test_token_from_secret_key_ref_and_from_mounted_file(self):
        self.w.create_secret("azdo-pat", {"token": PAT})
        self.w.create_agent_pod("env-ref", "o", "p", token_secret=("azdo-pat", "token"))
        self.w.create_agent_pod("file-ref", "o", "p", token_file=("azdo-pat", "token"))
        self.wait_online("env-ref")
        self.wait_online("file-ref")

    def test_token_file_missing_from_the_mounted_secret_crashes(self):
        self.w.create_secret("other", {"not-token": PAT})
        self.w.create_agent_pod("nofile", "o", "p", token_file=("other", "token"))
        cs = self.w.wait_for(
            lambda: (lambda c: c if c and c.get("lastState", {}).get("terminated") else None)(
                self.w.container_status("nofile")), "the container exits")
        self.assertIn("/azp-secret/token: No such file", cs["lastState"]["terminated"]["message"])
        self.assertIsNone(self.w.agent("o", "p", "nofile"))

    def test_capabilities_are_env_minus_ignored_plus_system(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT, env={"java": "/usr/lib/jvm/17"})
        self.wait_online("a1")
        a = self.w.api("%s/%d/agents?includeCapabilities=true&agentName=a1" % (
            POOLS, self.pid), PAT)["value"][0]
        caps = a["systemCapabilities"]
        self.assertEqual(caps["java"], "/usr/lib/jvm/17")
        self.assertEqual(caps["Agent.Name"], "a1")
        self.assertEqual(caps["Agent.OS"], "Linux")
        self.assertIn("Agent.Version", caps)
        self.assertEqual(caps["AZP_POOL"], "p")
        self.assertNotIn("AZP_TOKEN", caps)   # listed in VSO_AGENT_IGNORE
        self.assertEqual(a["status"], "online")
        self.assertTrue(a["enabled"])

    def test_token_leaks_into_capabilities_without_vso_agent_ignore_but_not_into_state(self):
        pod = self.w.agent_pod_manifest("leaky", "o", "p", token=PAT)
        env = pod["spec"]["containers"][0]["env"]
        env[:] = [e for e in env if e["name"] != "VSO_AGENT_IGNORE"]
        self.w.store.create("pods", "default", pod)
        self.wait_online("leaky")
        caps = self.w.api("%s/%d/agents?includeCapabilities=true" % (POOLS, self.pid),
                          PAT)["value"][0]["systemCapabilities"]
        self.assertEqual(caps["AZP_TOKEN"], PAT)  # what a real agent would advertise
        status, _, body = self.w.call("GET", "/_sim/state")
        self.assertEqual(status, 200)
        self.assertNotIn(PAT.encode(), body)

    # ------------------------------------------------------------------ jobs
    def test_java_job_waits_for_a_java_agent_then_runs(self):
        self.w.api("%s/%d/agents?api-version=7.1" % (POOLS, self.pid), PAT, "POST",
                   {"name": "tmpl-java", "systemCapabilities": {"java": "1"}})
        self.w.create_agent_pod("plain", "o", "p", token=PAT)
        self.wait_online("plain")
        rid = self.queue(["java"], duration=0.3)["requestId"]
        job = self.w.job("o", "p", rid)
        self.assertIsNone(job["result"])
        self.assertIsNone(job["assignTime"])   # plain has no java capability
        self.w.create_agent_pod("javaagent", "o", "p", token=PAT, env={"java": "17"})
        done = self.w.wait_for(lambda: (lambda j: j if j["result"] else None)(
            self.w.job("o", "p", rid)), "the java job finishes")
        self.assertEqual(done["result"], "succeeded")
        self.assertEqual(done["agentName"], "javaagent")
        for k in ("assignTime", "receiveTime", "finishTime"):
            self.assertIsNotNone(done[k], k)
        self.assertLessEqual(done["queueTime"], done["assignTime"])
        self.assertLessEqual(done["assignTime"], done["receiveTime"])
        self.assertLessEqual(done["receiveTime"], done["finishTime"])
        a = self.w.api("%s/%d/agents?includeLastCompletedRequest=true&includeAssignedRequest=true"
                       "&agentName=javaagent" % (POOLS, self.pid), PAT)["value"][0]
        self.assertEqual(a["lastCompletedRequest"]["requestId"], rid)
        self.assertIsNone(a["assignedRequest"])

    def test_job_script_can_fail(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        self.wait_online("a1")
        rid = self.queue([], duration=0.1, result="failed")["requestId"]
        done = self.w.wait_for(lambda: self.w.job("o", "p", rid)["result"], "job ends")
        self.assertEqual(done, "failed")

    def test_crashed_container_loses_its_job_and_comes_back(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        first = self.wait_online("a1")
        rid = self.queue([])["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", rid)["agentName"], "job assigned")
        self.w.ctl("POST", "/_sim/faults", {"crash": {"namespace": "default", "pod": "a1",
                                                      "exitCode": 137, "reason": "OOMKilled"}})
        job = self.w.wait_for(lambda: (lambda j: j if j["result"] else None)(
            self.w.job("o", "p", rid)), "the job is lost")
        self.assertEqual(job["result"], "failed")
        self.assertIn("We stopped hearing from agent a1", job["statusMessage"])
        again = self.w.wait_for(
            lambda: (lambda a: a if a and a["status"] == "online" and
                     self.w.container_status("a1")["restartCount"] >= 1 else None)(
                self.w.agent("o", "p", "a1")), "a1 online after its restart")
        self.assertEqual(again["id"], first["id"])   # config.sh --replace keeps the id

    def test_run_once_agent_exits_after_one_job(self):
        self.w.create_agent_pod("once", "o", "p", token=PAT, args=["--once"],
                                restart_policy="Never")
        self.wait_online("once")
        rid = self.queue([], duration=0.1)["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", rid)["result"], "job finishes")
        pod = self.w.wait_for(lambda: (lambda p: p if p["status"].get("phase") == "Succeeded"
                                       else None)(self.w.pod("once")), "pod Succeeded")
        self.assertEqual(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
                         0)
        self.w.wait_for(lambda: self.w.agent("o", "p", "once") is None, "unregistered")
        rid2 = self.queue([], duration=0.1)
        self.assertEqual(rid2.get("result"), "failed")  # nothing registered any more

    def test_configure_only_pod_leaves_an_offline_template(self):
        self.w.create_agent_pod("tmpl-gpu", "o", "p", token=PAT, env={"gpu": "true"},
                                args=["--configure-only"], restart_policy="Never")
        self.w.wait_for(lambda: self.w.pod("tmpl-gpu")["status"].get("phase") == "Succeeded",
                        "the one-shot pod succeeds")
        a = self.w.agent("o", "p", "tmpl-gpu")
        self.assertEqual(a["status"], "offline")
        self.assertEqual(a["capabilities"]["gpu"], "true")
        out = self.queue(["gpu"])
        self.assertNotIn("result", out)             # queued thanks to the template
        self.w.store.delete("pods", "default", "tmpl-gpu")
        self.w.wait_for(lambda: self.w.pod("tmpl-gpu") is None, "pod deleted")
        self.assertIsNotNone(self.w.agent("o", "p", "tmpl-gpu"))  # the template stays

    # ------------------------------------------------------------------ termination
    def test_sigterm_unregisters_when_switch_on(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        self.wait_online("a1")
        self.w.store.delete("pods", "default", "a1")
        self.w.wait_for(lambda: self.w.agent("o", "p", "a1") is None, "registration deleted")
        self.w.wait_for(lambda: self.w.pod("a1") is None, "pod gone")

    def test_sigterm_leaves_offline_registration_when_switch_off(self):
        self.w.ctl("POST", "/_sim/faults", {"unregister_on_sigterm": False})
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        first = self.wait_online("a1")
        self.w.store.delete("pods", "default", "a1")
        self.w.wait_for(lambda: self.w.pod("a1") is None, "pod gone")
        a = self.w.agent("o", "p", "a1")
        self.assertIsNotNone(a)
        self.assertEqual(a["status"], "offline")
        # A new pod of the same name takes the record over, same id.
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        self.assertEqual(self.wait_online("a1")["id"], first["id"])

    def test_busy_agent_finishes_its_job_before_unregistering(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT, grace=3600)
        self.wait_online("a1")
        rid = self.queue([], duration=3600)["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", rid)["agentName"], "job assigned")
        self.w.store.delete("pods", "default", "a1")
        self.w.wait_for(lambda: (self.w.agent("o", "p", "a1") or {}).get("exiting"),
                        "agent sees SIGTERM")
        self.assertIsNotNone(self.w.agent("o", "p", "a1"))   # job still running
        self.w.ctl("POST", "/_sim/orgs/o/jobs/%d" % rid, {"action": "finish"})
        self.w.wait_for(lambda: self.w.agent("o", "p", "a1") is None, "unregistered after job")
        self.assertEqual(self.w.job("o", "p", rid)["result"], "succeeded")
        self.w.wait_for(lambda: self.w.pod("a1") is None, "pod gone without its grace period")

    def test_second_pod_with_a_live_agent_name_cannot_start_a_session(self):
        self.w.ctl("POST", "/_sim/orgs/o/pools/p/agents", {"name": "dup", "status": "online"})
        self.w.create_agent_pod("dup", "o", "p", token=PAT)
        cs = self.w.wait_for(
            lambda: (lambda c: c if c and c.get("lastState", {}).get("terminated") else None)(
                self.w.container_status("dup")), "the container exits")
        self.assertIn("session", cs["lastState"]["terminated"]["message"])

    def test_revoked_pat_keeps_running_agents_but_blocks_new_ones(self):
        self.w.create_agent_pod("a1", "o", "p", token=PAT)
        self.wait_online("a1")
        self.w.ctl("POST", "/_sim/faults", {"revoke": "o"})
        self.w.create_agent_pod("a2", "o", "p", token=PAT)
        self.w.wait_for(
            lambda: (lambda c: c if c and c.get("lastState", {}).get("terminated") else None)(
                self.w.container_status("a2")), "a2 exits")
        self.assertIsNone(self.w.agent("o", "p", "a2"))
        rid = self.queue([], duration=0.1)["requestId"]
        self.assertEqual(self.w.wait_for(lambda: self.w.job("o", "p", rid)["result"],
                                         "job runs on a1"), "succeeded")


class AgentUrlTest(unittest.TestCase):
    def test_host_alias_makes_a_cloud_url_this_world_and_other_urls_are_ignored(self):
        w = SimFixture(host_aliases=["dev.azure.com"])
        try:
            w.ctl("POST", "/_sim/orgs/o", {"pat": PAT, "pools": ["p"]})
            w.create_agent_pod("cloud", "o", "p", token=PAT, url="https://dev.azure.com/o")
            w.create_agent_pod("elsewhere", "o", "p", token=PAT,
                               url="https://example.invalid/o")
            w.wait_for(lambda: (w.agent("o", "p", "cloud") or {}).get("status") == "online",
                       "cloud agent online")
            self.assertIsNone(w.agent("o", "p", "elsewhere"))
            cs = w.container_status("elsewhere")
            self.assertEqual(cs.get("restartCount", 0), 0)   # not this world's agent: untouched
        finally:
            w.close()


class AgentNoTrapTest(AgentTest):
    """The same behaviour with agents started without the SIGTERM trap by option."""
    unregister = False

    def test_sigterm_unregisters_when_switch_on(self):
        self.w.ctl("POST", "/_sim/faults", {"unregister_on_sigterm": True})
        super().test_sigterm_unregisters_when_switch_on()

    def test_busy_agent_finishes_its_job_before_unregistering(self):
        self.w.ctl("POST", "/_sim/faults", {"unregister_on_sigterm": True})
        super().test_busy_agent_finishes_its_job_before_unregistering()

    def test_run_once_agent_exits_after_one_job(self):
        # Without the wrapper's trap, run.sh --once leaves the registration behind, offline.
        self.w.create_agent_pod("once", "o", "p", token=PAT, args=["--once"],
                                restart_policy="Never")
        self.wait_online("once")
        rid = self.queue([], duration=0.1)["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", rid)["result"], "job finishes")
        a = self.w.wait_for(lambda: (lambda a: a if a and a["status"] == "offline" else None)(
            self.w.agent("o", "p", "once")), "offline registration left behind")
        self.assertIsNone(a["assignedRequestId"])
        self.w.wait_for(lambda: self.w.pod("once")["status"].get("phase") == "Succeeded",
                        "pod Succeeded")


if __name__ == "__main__":
    unittest.main()
