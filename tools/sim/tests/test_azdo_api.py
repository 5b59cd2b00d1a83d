"""Azure DevOps REST surface of the simulated world: auth, throttling, paging, errors, jobs."""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simlib.azdo_testkit import SimFixture  # noqa: E402

PAT = "s3cret-pat-0123456789"
POOLS = "/o/_apis/distributedtask/pools"


class AzdoApiTest(unittest.TestCase):
    def setUp(self):
        self.w = SimFixture(with_kube=False)
        out = self.w.ctl("POST", "/_sim/orgs/o", {"pat": PAT,
                                                   "pools": ["p", {"name": "big", "id": 42}]})
        self.pid = out["pools"]["p"]
        self.big = out["pools"]["big"]

    def tearDown(self):
        self.w.close()

    def placeholder(self, pool_id, name, caps, pat=PAT, expect=200):
        return self.w.api("%s/%d/agents?api-version=7.1" % (POOLS, pool_id), pat, "POST",
                          {"name": name, "version": "3.248.0", "systemCapabilities": caps},
                          expect=expect)

    def vm_agent(self, pool, name, caps, status="online", enabled=True):
        return self.w.ctl("POST", "/_sim/orgs/o/pools/%s/agents" % pool,
                          {"name": name, "status": status, "enabled": enabled,
                           "capabilities": caps})

    def queue(self, pool, demands, duration=3600, **kw):
        body = {"demands": demands, "durationSeconds": duration}
        body.update(kw)
        return self.w.ctl("POST", "/_sim/orgs/o/pools/%s/jobs" % pool, body)

    # ------------------------------------------------------------------ pools
    def test_pool_lookup_by_name_uses_count_value_wrapper(self):
        out = self.w.api(POOLS + "?poolName=" + urllib.parse.quote("big"), PAT)
        self.assertEqual(out["count"], 1)
        self.assertEqual(out["value"][0]["id"], 42)
        self.assertEqual(out["value"][0]["name"], "big")
        self.assertEqual(out["value"][0]["poolType"], "automation")
        missing = self.w.api(POOLS + "?poolName=nope", PAT)
        self.assertEqual(missing, {"count": 0, "value": []})
        self.assertNotEqual(self.pid, self.big)

    def test_unknown_pool_and_route_get_json_404(self):
        status, headers, body = self.w.call("GET", POOLS + "/999/agents", pat=PAT)
        self.assertEqual(status, 404)
        err = json.loads(body)
        self.assertEqual(err["typeKey"], "TaskAgentPoolNotFoundException")
        self.assertIn("999", err["message"])
        status, headers, body = self.w.call("GET", "/o/_apis/nothing/here", pat=PAT)
        self.assertEqual(status, 404)
        self.assertIn("typeKey", json.loads(body))
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        status, _, body = self.w.call("GET", "/no-such-org/_apis/distributedtask/pools", pat=PAT)
        self.assertEqual(status, 404)
        self.assertIn("no-such-org", json.loads(body)["message"])

    def test_non_get_without_api_version_is_400(self):
        status, _, body = self.w.call("POST", "%s/%d/agents" % (POOLS, self.pid),
                                      {"name": "x"}, pat=PAT)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["typeKey"], "VssVersionNotSpecifiedException")
        # ... but the Accept header form is accepted.
        status, _, _ = self.w.call("POST", "%s/%d/agents" % (POOLS, self.pid), {"name": "x"},
                                   pat=PAT, headers={"Accept": "application/json;api-version=7.1"})
        self.assertEqual(status, 200)
        status, _, body = self.w.call("GET", POOLS + "?api-version=9.0", pat=PAT)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["typeKey"], "VssVersionOutOfRangeException")

    def test_bad_json_body_is_400_not_a_traceback(self):
        status, _, body = self.w.call("POST", "%s/%d/agents?api-version=7.1" % (POOLS, self.pid),
                                      raw=b"{not json", pat=PAT)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["typeKey"], "ArgumentException")

    # ------------------------------------------------------------------ auth
    def test_wrong_pat_gets_203_sign_in_page_or_401_with_suppress(self):
        status, headers, body = self.w.call("GET", POOLS, pat="not-the-pat")
        self.assertEqual(status, 203)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn(b"Azure DevOps Services | Sign In", body)
        status, headers, body = self.w.call("GET", POOLS, pat="not-the-pat",
                                            headers={"X-TFS-FedAuthRedirect": "Suppress"})
        self.assertEqual(status, 401)
        self.assertTrue(body.startswith(b"\xef\xbb\xbf"))  # BOM, as the real service sends
        self.assertEqual(json.loads(body[3:])["typeKey"], "UnauthorizedRequestException")
        self.assertIn("Basic", headers["WWW-Authenticate"])
        status, _, _ = self.w.call("GET", POOLS)
        self.assertEqual(status, 401)

    def test_revoked_then_restored_pat(self):
        self.w.ctl("POST", "/_sim/faults", {"revoke": "o"})
        status, _, _ = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 203)
        self.w.ctl("POST", "/_sim/faults", {"restore": "o"})
        status, _, _ = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 200)

    def test_expired_pat_gets_401_with_service_error_header(self):
        self.w.ctl("POST", "/_sim/faults", {"expire": {"org": "o"}})
        status, headers, body = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 401)
        self.assertIn("expired", urllib.parse.unquote(headers["X-TFS-ServiceError"]))

    def test_rotated_pat_replaces_the_old_one(self):
        self.w.ctl("POST", "/_sim/orgs/o/pat", {"pat": "new-pat-value"})
        self.assertEqual(self.w.call("GET", POOLS, pat=PAT)[0], 203)
        self.assertEqual(self.w.call("GET", POOLS, pat="new-pat-value")[0], 200)

    def test_read_only_pat_cannot_disable_agents(self):
        self.w.ctl("POST", "/_sim/orgs/o", {"readOnlyPats": ["read-only-pat"]})
        a = self.placeholder(self.pid, "t", {"java": "1"})
        self.assertEqual(self.w.call("GET", POOLS, pat="read-only-pat")[0], 200)
        status, _, body = self.w.call("PATCH", "%s/%d/agents/%d?api-version=7.1" % (
            POOLS, self.pid, a["id"]), {"id": a["id"], "enabled": False}, pat="read-only-pat")
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["typeKey"], "AccessCheckException")

    # ------------------------------------------------------------------ faults
    def test_throttling_gives_429_with_retry_after(self):
        self.w.ctl("POST", "/_sim/faults", {"azdo_throttle": True, "azdo_retry_after_s": 7})
        status, headers, body = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 429)
        self.assertEqual(headers["Retry-After"], "7")
        self.assertEqual(headers["X-RateLimit-Remaining"], "0")
        self.assertIn("X-RateLimit-Resource", headers)
        self.assertIn("X-RateLimit-Reset", headers)
        self.assertIn("TF400733", json.loads(body)["message"])
        self.w.ctl("POST", "/_sim/faults", {"azdo_throttle": False, "azdo_throttle_count": 2})
        codes = [self.w.call("GET", POOLS, pat=PAT)[0] for _ in range(3)]
        self.assertEqual(codes, [429, 429, 200])

    def test_soft_throttle_answers_200_with_retry_after(self):
        self.w.ctl("POST", "/_sim/faults", {"azdo_soft_throttle": True, "azdo_retry_after_s": 10})
        status, headers, _ = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Retry-After"], "10")
        self.assertIn("X-RateLimit-Delay", headers)

    def test_error_rate_gives_500_json(self):
        self.w.ctl("POST", "/_sim/faults", {"azdo_error_rate": 1.0})
        status, _, body = self.w.call("GET", POOLS, pat=PAT)
        self.assertEqual(status, 500)
        self.assertIn("typeKey", json.loads(body))

    # ------------------------------------------------------------------ agents
    def test_register_placeholder_then_patch_and_delete(self):
        a = self.placeholder(self.pid, "tmpl", {"java": "17"})
        self.assertEqual(a["status"], "offline")
        self.assertTrue(a["enabled"])
        dup = self.placeholder(self.pid, "tmpl", {"java": "17"}, expect=409)
        self.assertEqual(dup["typeKey"], "TaskAgentExistsException")
        url = "%s/%d/agents/%d?api-version=7.1" % (POOLS, self.pid, a["id"])
        out = self.w.api(url, PAT, "PATCH", {"id": a["id"], "enabled": False})
        self.assertFalse(out["enabled"])
        listed = self.w.api("%s/%d/agents?agentName=tmpl" % (POOLS, self.pid), PAT)
        self.assertEqual(listed["count"], 1)
        self.assertFalse(listed["value"][0]["enabled"])
        self.assertNotIn("systemCapabilities", listed["value"][0])
        status, _, _ = self.w.call("DELETE", url, pat=PAT)
        self.assertIn(status, (200, 204))
        self.assertEqual(self.w.call("GET", url, pat=PAT)[0], 404)
        self.assertEqual(self.w.api("%s/%d/agents" % (POOLS, self.pid), PAT)["count"], 0)

    def test_include_flags_control_capabilities_and_requests(self):
        self.vm_agent("p", "vm", {"java": "17"})
        self.queue("p", ["java"])
        plain = self.w.api("%s/%d/agents" % (POOLS, self.pid), PAT)["value"][0]
        for k in ("systemCapabilities", "assignedRequest", "lastCompletedRequest"):
            self.assertNotIn(k, plain)
        full = self.w.api("%s/%d/agents?includeCapabilities=true&includeAssignedRequest=true"
                          % (POOLS, self.pid), PAT)["value"][0]
        self.assertEqual(full["systemCapabilities"]["java"], "17")
        self.assertIsNotNone(full["assignedRequest"])
        self.assertIn("assignTime", full["assignedRequest"])

    # ------------------------------------------------------------------ jobs
    def test_job_no_agent_can_satisfy_fails_at_once(self):
        out = self.queue("p", ["gpu"])
        self.assertEqual(out["result"], "failed")
        self.assertIn("No agent found in pool p which satisfies the specified demands",
                      out["statusMessage"])
        jobs = self.w.api("%s/%d/jobrequests" % (POOLS, self.pid), PAT)["value"]
        self.assertEqual(jobs[0]["result"], "failed")

    def test_offline_placeholder_makes_a_job_wait(self):
        self.placeholder(self.pid, "tmpl-gpu", {"gpu": "true"})
        out = self.queue("p", ["gpu -equals TRUE"])
        self.assertNotIn("result", out)
        jobs = self.w.api("%s/%d/jobrequests?completedRequestCount=0" % (POOLS, self.pid),
                          PAT)["value"]
        self.assertEqual(len(jobs), 1)
        j = jobs[0]
        self.assertNotIn("result", j)
        self.assertNotIn("assignTime", j)
        self.assertNotIn("reservedAgent", j)
        self.assertEqual([m["name"] for m in j["matchedAgents"]], ["tmpl-gpu"])
        self.assertIn("Agent.Version -gtVersion 2.163.1", j["demands"])

    def test_disabled_template_lets_jobs_queue_unless_switched_off(self):
        a = self.placeholder(self.pid, "tmpl", {"gpu": "1"})
        self.w.api("%s/%d/agents/%d?api-version=7.1" % (POOLS, self.pid, a["id"]), PAT, "PATCH",
                   {"id": a["id"], "enabled": False})
        self.assertNotIn("result", self.queue("p", ["gpu"]))
        self.w.ctl("POST", "/_sim/faults", {"azdo_disabled_agents_match": False})
        self.assertEqual(self.queue("p", ["gpu"]).get("result"), "failed")

    def test_disabled_agent_takes_no_job(self):
        self.vm_agent("p", "vm", {"java": "1"}, enabled=False)
        rid = self.queue("p", ["java"])["requestId"]
        job = self.w.api("%s/%d/jobrequests/%d" % (POOLS, self.pid, rid), PAT)
        self.assertNotIn("reservedAgent", job)
        agents = self.w.api("%s/%d/agents" % (POOLS, self.pid), PAT)["value"]
        url = "%s/%d/agents/%d?api-version=7.1" % (POOLS, self.pid, agents[0]["id"])
        self.w.api(url, PAT, "PATCH", {"id": agents[0]["id"], "enabled": True})
        job = self.w.wait_for(lambda: self.w.job("o", "p", rid)["agentName"], "assignment")
        self.assertEqual(job, "vm")

    def test_agent_version_demand_is_compared_as_version(self):
        self.vm_agent("p", "old", {"Agent.Version": "2.100.0"})
        out = self.queue("p", ["Agent.Version -gtVersion 2.163.1"])
        self.assertEqual(out.get("result"), "failed")
        self.vm_agent("p", "new", {"Agent.Version": "2.1000.0"})
        rid = self.queue("p", ["Agent.Version -gtVersion 2.163.1"])["requestId"]
        self.assertEqual(self.w.job("o", "p", rid)["agentName"], "new")

    def test_completed_request_count_zero_hides_finished_jobs(self):
        self.vm_agent("p", "vm", {"java": "1"})
        done = self.queue("p", ["java"], duration=0)["requestId"]
        self.w.wait_for(lambda: self.w.job("o", "p", done)["result"], "first job finishes")
        waiting = self.queue("p", ["java"])["requestId"]       # runs on vm
        queued = self.queue("p", ["java"])["requestId"]        # waits: vm is busy
        every = self.w.api("%s/%d/jobrequests" % (POOLS, self.pid), PAT)["value"]
        self.assertEqual([j["requestId"] for j in every], [done, waiting, queued])
        self.assertEqual(every[0]["result"], "succeeded")
        self.assertIn("finishTime", every[0])
        open_only = self.w.api("%s/%d/jobrequests?completedRequestCount=0" % (POOLS, self.pid),
                               PAT)["value"]
        self.assertEqual([j["requestId"] for j in open_only], [waiting, queued])
        self.assertEqual(open_only[0]["reservedAgent"]["name"], "vm")
        self.assertNotIn("reservedAgent", open_only[1])

    def test_at_most_200_job_requests_per_response(self):
        self.vm_agent("big", "vm", {})
        self.w.svc.world.add_history(self.w.svc.world.orgs["o"].pools["big"], 450)
        queued = [self.queue("big", [])["requestId"] for _ in range(3)]
        out = self.w.api("%s/%d/jobrequests" % (POOLS, self.big), PAT)
        self.assertEqual(out["count"], 200)
        self.assertTrue(all("result" in j for j in out["value"]))  # oldest first: history
        unfinished = self.w.api("%s/%d/jobrequests?completedRequestCount=0" % (POOLS, self.big),
                                PAT)["value"]
        self.assertEqual(sorted(j["requestId"] for j in unfinished), queued)
        status, headers, body = self.w.call("GET", "%s/%d/jobrequests?$top=250" % (
            POOLS, self.big), pat=PAT)
        page = json.loads(body)
        self.assertEqual(page["count"], 200)
        self.assertNotIn("matchedAgents", page["value"][0])
        self.assertIsNotNone(headers.get("X-MS-ContinuationToken"))

    def test_deleting_a_busy_agent_loses_its_job_or_is_refused(self):
        self.vm_agent("p", "vm", {"java": "1"})
        rid = self.queue("p", ["java"])["requestId"]
        agent_id = self.w.api("%s/%d/agents" % (POOLS, self.pid), PAT)["value"][0]["id"]
        url = "%s/%d/agents/%d?api-version=7.1" % (POOLS, self.pid, agent_id)
        self.w.ctl("POST", "/_sim/faults", {"azdo_busy_delete_status": 409})
        status, _, body = self.w.call("DELETE", url, pat=PAT)
        self.assertEqual(status, 409)
        self.assertIn("is running a job", json.loads(body)["message"])
        self.w.ctl("POST", "/_sim/faults", {"azdo_busy_delete_status": 0})
        self.assertIn(self.w.call("DELETE", url, pat=PAT)[0], (200, 204))
        job = self.w.job("o", "p", rid)
        self.assertEqual(job["result"], "failed")
        self.assertIn("We stopped hearing from agent vm", job["statusMessage"])

    def test_request_log_never_holds_the_pat(self):
        self.w.call("GET", POOLS, pat=PAT)
        self.w.call("GET", POOLS, pat="wrong-one")
        log = self.w.ctl("GET", "/_sim/requests?path=/distributedtask/pools")
        self.assertEqual([e["status"] for e in log["value"]], [200, 203])
        self.assertEqual(log["value"][0]["method"], "GET")
        self.assertNotEqual(log["value"][0]["credential"], log["value"][1]["credential"])
        text = json.dumps(log)
        self.assertNotIn(PAT, text)
        self.assertNotIn("Authorization", text)


if __name__ == "__main__":
    unittest.main()
