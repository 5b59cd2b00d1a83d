"""Field reports #4, #5 and #6 (../shared/cases/field-reports.md) end to end: template agents
for scale from zero, registration hygiene, and idle removal racing a job assignment.

Indices start at 0 (<pool>-agent-0). Times are scaled down; "when" checks use recorded times.
"""

import time
import unittest

from test_fr_lib import FRWorld, iso_s

DESTRUCTIVE = ("disable_agent", "delete_registration", "delete_pod", "delete_placeholder")


class FR04ScaleFromZero(unittest.TestCase):
    """#4: one offline template per image variant, kept through idling and cleanup, recreated
    when an admin deletes it."""

    @classmethod
    def setUpClass(cls):
        cls.f = f = FRWorld("fr04", drop=("jobs",))
        try:
            f.apply_pool(capabilityAware=True, minAgents=0, maxAgents=3, ttlIdleSeconds=2,
                         capabilityImages={"gpu": "registry.example.com/azdo-agent-gpu:1.0"})
            # (a) the pool is created.
            f.w.wait_until("two templates", lambda: {"my-pool-template", "my-pool-template-gpu"}
                           <= set(f.agents()))
            f.w.wait_until("status after the templates", lambda: f.sql(
                "SELECT count(*) AS n FROM agents WHERE name LIKE 'my-pool-template%'")[0]["n"]
                == 2)
            cls.after_a = f.agents()
            # (b) the pool works, then idles down to 0 pods; (c) cleanup runs meanwhile.
            [cls.work] = f.queue(durationSeconds=1)
            f.w.wait_until("work job done", lambda: f.jobs()[cls.work]["result"])
            f.w.wait_until("idle down to 0 pods", lambda: f.pods(live=False) == [])
            time.sleep(3)  # a few more polls and cleanup passes at zero pods
            cls.after_c = f.agents()
            cls.pods_c = f.pods(live=False)
            # (d) a gpu job.
            cls.creates_before_d = len(f.decisions("create_pod"))
            [cls.gpu_job] = f.queue(demands=["gpu"], durationSeconds=5)
            cls.gpu_job_at_queue = f.jobs()[cls.gpu_job]
            f.w.wait_until("gpu job running", lambda: f.jobs()[cls.gpu_job]["state"] == "running")
            # (e) a cuda job: the service refuses it at queue time.
            cls.creates_before_e = len(f.decisions("create_pod"))
            [cls.cuda_job] = f.queue(demands=["cuda"], durationSeconds=5)
            time.sleep(3)
            cls.creates_after_e = len(f.decisions("create_pod"))
            # (f) an admin deletes the gpu template.
            f.w.sim("POST", "/_sim/orgs/my-org/pools/my-pool/agents/my-pool-template-gpu",
                    {"delete": True})
            f.w.wait_until("gpu template back", lambda: "my-pool-template-gpu" in f.agents())
            f.w.wait_until("recreation event", lambda: f.events("PlaceholderRecreated"))
        except Exception:
            f.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def test_a_two_templates_offline_enabled(self):
        templates = {n: a for n, a in self.after_a.items() if n.startswith("my-pool-template")}
        self.assertEqual(set(templates), {"my-pool-template", "my-pool-template-gpu"})
        for a in templates.values():
            self.assertEqual((a["status"], a["enabled"]), ("offline", True))
        self.assertIn("gpu", templates["my-pool-template-gpu"]["capabilities"])
        # The operator registers templates through the REST API, not with one-shot pods; in
        # either case no registration pod stays behind.
        self.assertFalse([p for p in self.f.kc_json("get", "pods")["items"]
                          if "template" in p["metadata"]["name"]])

    def test_a_status_template_agents(self):
        # The status follows the next poll after the recreated template registered.
        self.f.w.wait_until("templateAgents 2 in status",
                            lambda: self.f.status().get("templateAgents") == 2)

    def test_bc_templates_survive_idling_and_cleanup(self):
        offline = [n for n, a in self.after_c.items() if a["status"] == "offline"]
        self.assertEqual(sorted(offline), ["my-pool-template", "my-pool-template-gpu"])
        self.assertEqual(self.pods_c, [])
        for d in self.f.decisions():
            if d["action"] in DESTRUCTIVE:
                self.assertNotIn("template", d["target"], d)
        # Templates never count as capacity: at zero pods nothing is idle or busy.
        zero = [t for t in self.f.ticks() if t["waiting"] == 0 and t["starting"] == 0
                and t["busy"] == 0]
        self.assertTrue(zero)
        self.assertFalse([t for t in zero if t["idle"] > 0 and t["tick_id"] >
                          zero[-1]["tick_id"] - 3])

    def test_d_gpu_job_queues_and_gets_one_gpu_pod(self):
        self.assertIsNone(self.gpu_job_at_queue["result"], "queued, not failed")
        creates = self.f.decisions("create_pod")[self.creates_before_d:self.creates_before_e]
        self.assertEqual([d["cap_key"] for d in creates], ["gpu"])
        [d] = creates
        self.assertEqual(self.f.jobs()[self.gpu_job]["agentName"], d["target"])

    def test_e_cuda_job_rejected_nothing_created(self):
        j = self.f.jobs()[self.cuda_job]
        self.assertEqual(j["result"], "failed")
        self.assertEqual(self.creates_after_e, self.creates_before_e)

    def test_f_template_recreated_with_event(self):
        f = self.f
        self.assertEqual(f.agents()["my-pool-template-gpu"]["status"], "offline")
        recreated = [d for d in f.decisions("register_placeholder")
                     if d["target"] == "my-pool-template-gpu"]
        self.assertEqual(len(recreated), 2, "registered once, recreated once")
        self.assertEqual(f.event_count("PlaceholderRecreated"), 1)


class FR05RegistrationHygiene(unittest.TestCase):
    """#5: orphaned offline registrations removed, live foreign/online ones untouched, names
    never collide with a registration that is still online."""

    @classmethod
    def setUpClass(cls):
        cls.f = f = FRWorld("fr05", faults={"agent_unregister_on_sigterm": False})
        try:
            cls.ids = {n: a["id"] for n, a in f.agents().items()}
            f.apply_pool(minAgents=3, maxAgents=5, ttlIdleSeconds=300)
            f.w.wait_until("agent-7 removed", lambda: "my-pool-agent-7" not in f.agents())
            f.w.wait_until("3 agents online", lambda: sum(
                a["status"] == "online" and a["pod"] is not None
                for a in f.agents().values()) == 3)
            cls.names_1 = f.pod_names()
            cls.agents_1 = f.agents()
            # The operator has seen every agent online (the OOM kill hits a known agent).
            f.w.wait_until("agents seen online", lambda: {r["name"] for r in f.sql(
                "SELECT name FROM agents WHERE status = 'online' AND gone_ms IS NULL")}
                >= set(cls.names_1))
            # The OOM kill: an agent container dies, its registration stays behind offline.
            victim = cls.victim = cls.names_1[0]
            cls.victim_uid = f.pods()[0]["metadata"]["uid"]
            cls.victim_id = cls.agents_1[victim]["id"]
            f.faults(crash={"namespace": "ci-agents", "pod": victim, "exitCode": 137,
                            "reason": "OOMKilled"})
            f.w.wait_until("victim replaced", lambda: [
                p for p in f.pods() if p["metadata"]["name"] == victim and
                p["metadata"]["uid"] != cls.victim_uid and p["status"].get("phase") == "Running"])
            f.w.wait_until("victim registration online again", lambda: f.agents().get(victim, {})
                           .get("status") == "online")
            # agent-3's old listener finally dies: its registration goes offline.
            f.w.sim("POST", "/_sim/orgs/my-org/pools/my-pool/agents/my-pool-agent-3",
                    {"status": "offline"})
            f.w.wait_until("agent-3 registration removed",
                           lambda: "my-pool-agent-3" not in f.agents())
        except Exception:
            f.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def test_orphan_agent_7_removed_with_event(self):
        f = self.f
        dels = f.requests(method="DELETE")
        self.assertIn("/agents/%d" % self.ids["my-pool-agent-7"],
                      " ".join(r["path"] for r in dels))
        evs = [e for e in f.events("AgentRegistrationRemoved") if "my-pool-agent-7" in e["message"]]
        self.assertEqual(len(evs), 1)
        [d] = [d for d in f.decisions("delete_registration") if d["target"] == "my-pool-agent-7"]
        self.assertEqual(d["reason"], "orphans.offline_leftover")

    def test_foreign_and_template_untouched(self):
        f = self.f
        for name in ("legacy-vm-agent", "my-pool-template"):
            self.assertIn(name, f.agents())
            self.assertEqual(f.agents()[name]["id"], self.ids[name])
            for r in f.requests():
                if r["method"] != "GET":
                    self.assertFalse(r["path"].endswith("/agents/%d" % self.ids[name]), r)

    def test_online_name_not_reused_and_min_agents_reached(self):
        self.assertEqual(len(self.names_1), 3)
        self.assertNotIn("my-pool-agent-3", self.names_1, "online registration's name reused")
        self.assertNotIn("my-pool-agent-2", self.names_1,
                         "an offline registration of 2 minutes is not yet given up")
        self.assertIn("my-pool-agent-2", self.f.agents(),
                      "offline for less than 10 min and never ours: not an orphan yet")
        self.assertEqual(self.agents_1["my-pool-agent-3"]["id"], self.ids["my-pool-agent-3"])
        self.assertEqual(self.agents_1["my-pool-agent-3"]["status"], "online")
        # Never a pod for ordinal 3 while its registration was online.
        self.assertFalse([d for d in self.f.decisions("create_pod")
                          if d["target"] == "my-pool-agent-3"])
        # The 30-days-old offline registration is capacity for nobody.
        first = [t for t in self.f.ticks() if t["created"] > 0][0]
        self.assertEqual((first["idle"], first["busy"], first["created"]), (0, 0, 3), first)

    def test_failed_pod_replaced_after_its_registration_is_deleted(self):
        f = self.f
        acts = [d for d in f.decisions() if d["target"] == self.victim and
                d["decision_id"] > 0]
        dreg = [d for d in acts if d["action"] == "delete_registration"]
        self.assertTrue(dreg, "the leftover registration was deleted")
        recreate = [d for d in acts if d["action"] == "create_pod"][-1]
        self.assertEqual(dreg[-1]["outcome"], "succeeded")
        self.assertLessEqual(dreg[-1]["ended_ms"], recreate["created_ms"],
                             "new pod only after the DELETE returned")
        dels = [r for r in f.requests(method="DELETE")
                if r["path"].endswith("/agents/%d" % self.victim_id)]
        self.assertTrue(dels and all(r["status"] in (204, 404) for r in dels))
        same = [a for a in f.azdo()["agents"] if a["name"] == self.victim]
        self.assertEqual(len(same), 1, "exactly one registration of that name")

    def test_registration_ids_kept_in_database(self):
        rows = self.f.sql("SELECT agent_id FROM agents WHERE name = 'my-pool-agent-3'")
        self.assertEqual([r["agent_id"] for r in rows], [self.ids["my-pool-agent-3"]])
        rows = self.f.sql("SELECT idx, uid FROM pods WHERE name = '%s' ORDER BY first_seen_ms"
                          % self.victim)
        self.assertEqual(rows[0]["uid"], self.victim_uid)
        self.assertGreaterEqual(len(rows), 2)


class FR06DrainRace(unittest.TestCase):
    """#6: disable, re-observe, then delete; a job that lands between the idle check and the
    disable aborts the scale-down and the agent stays."""

    TTL = 8

    def setUp(self):
        self.f = FRWorld("fr06")
        self.addCleanup(self.f.close)

    def agent_last_finish(self, name):
        fin = [iso_s(j["finishTime"]) for j in self.f.jobs().values()
               if j["agentName"] == name and j["finishTime"]]
        return max(fin) if fin else None

    def test_drain_race_then_no_race(self):
        f = self.f
        # Polls every 5 s, so the poll whose answer starts the TTL drain is predictable.
        f.apply_pool(minAgents=1, maxAgents=3, ttlIdleSeconds=self.TTL, pollIntervalSeconds=5)
        f.wait_connected()
        [j200] = f.queue(agent="my-pool-agent-0", durationSeconds=120)
        f.queue(agent="my-pool-agent-1", durationSeconds=1)
        f.queue(agent="my-pool-agent-2", durationSeconds=1)
        f.w.wait_until("agents 1 and 2 idle after a job", lambda: all(
            self.agent_last_finish(n) for n in ("my-pool-agent-1", "my-pool-agent-2")),
            limit_s=60)
        # Job 201 keeps agent-1 busy (it is not eligible); agent-2 idles toward its TTL.
        f.queue(agent="my-pool-agent-1", durationSeconds=120)
        a2 = f.agents()["my-pool-agent-2"]
        ttl_at = self.agent_last_finish("my-pool-agent-2") + self.TTL
        # Arm the race on the last agents GET before the TTL: the job is queued and assigned
        # right after the answer that shows agent-2 idle, before the operator's disable.
        armed = None
        while armed is None:
            polls = f.requests(method="GET", path="/pools/42/agents")
            g = iso_s(polls[-1]["time"]) if polls else 0
            if g + 4.0 > ttl_at and time.time() < ttl_at - 0.3:
                f.queue(agent="my-pool-agent-2", durationSeconds=8,
                        queueOn={"method": "GET", "pathContains": "/pools/42/agents"})
                armed = time.time()
            self.assertLess(time.time(), ttl_at + 2, "could not arm the race in time")
            time.sleep(0.05)
        f.w.wait_until("scale-down aborted", lambda: f.events("ScaleDownAborted"))
        # No-race variant: after 202, agent-2 idles again and is removed properly.
        f.w.wait_until("agent-2 removed", lambda: "my-pool-agent-2" not in f.pod_names(),
                       limit_s=60)
        jobs = f.jobs()
        j202 = [j for j in jobs.values() if j["requestId"] > j200 + 2 and
                j["agentName"] == "my-pool-agent-2"]
        self.assertEqual(len(j202), 1, "job 202 ran on agent-2")
        self.assertEqual(j202[0]["result"], "succeeded")

        # Drain order for agent-2: PATCH disable, GET showing the job, PATCH enable; later,
        # PATCH disable, GET, DELETE.
        log = [r for r in f.requests() if r["path"].endswith("/agents/%d" % a2["id"]) or
               (r["method"] == "GET" and r["path"].endswith("/pools/42/agents"))]
        steps = []
        for r in log:
            if r["method"] == "PATCH":
                steps.append("enable" if r["body"].get("enabled") else "disable")
            elif r["method"] == "DELETE":
                steps.append("delete")
            elif steps and steps[-1] != "get":
                steps.append("get")
        self.assertEqual([s for s in steps if s != "get"], ["disable", "enable", "disable",
                                                             "delete"], steps)
        i = steps.index("disable")
        self.assertEqual(steps[i:i + 3], ["disable", "get", "enable"])
        j = len(steps) - 1 - steps[::-1].index("disable")
        self.assertEqual(steps[j:j + 3], ["disable", "get", "delete"])
        [ev] = f.events("ScaleDownAborted")
        self.assertIn("my-pool-agent-2", ev["message"])
        [abort] = [d for d in f.decisions("enable_agent") if d["target"] == "my-pool-agent-2"]
        self.assertEqual(abort["reason"], "drain.job_assigned")
        # The pod was deleted only after its registration, and only once.
        order = [d["action"] for d in f.decisions() if d["target"] == "my-pool-agent-2" and
                 d["action"] in ("delete_registration", "delete_pod")]
        self.assertEqual(order, ["delete_registration", "delete_pod"])
        # Idle time counts from the last job's finish (the clock reset after 202).
        for d in f.decisions("disable_agent"):
            fin = max(iso_s(x["finishTime"]) for x in jobs.values()
                      if x["agentName"] == d["target"] and x["finishTime"]
                      and iso_s(x["finishTime"]) <= d["at_ms"] / 1000.0 + 0.5)
            self.assertGreaterEqual(d["at_ms"] / 1000.0 - fin, self.TTL - 0.01, d)
        # Agents 0 and 1 (busy) were never candidates; 2 pods remain (minAgents 1 holds).
        for d in f.decisions():
            if d["action"] in DESTRUCTIVE:
                self.assertEqual(d["target"], "my-pool-agent-2", d)
        self.assertEqual(f.pod_names(), ["my-pool-agent-0", "my-pool-agent-1"])
        # No job ended with a lost agent.
        self.assertFalse([j for j in f.jobs().values() if j["result"] not in (None, "succeeded")])


if __name__ == "__main__":
    unittest.main()
