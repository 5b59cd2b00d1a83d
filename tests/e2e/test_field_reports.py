"""Field reports #1-#3 (../shared/cases/field-reports.md) as end-to-end tests: the operator binary
against the simulated world, figures asserted from the operator's database and the world.

Agent indices start at 0 here (<pool>-agent-0 first), so the report's agent-1..3 are agent-0..2.
Times in the reports are scaled down (ttlIdleSeconds of seconds, not minutes); every check is
kept, and checks about "when" are made on recorded times (decision tick vs. last job finish),
not on elapsed wall-clock time.
"""

import unittest

from test_fr_lib import FRWorld, iso_s


def first(rows, pred):
    for r in rows:
        if pred(r):
            return r
    return None


class FR01CountEachJobOnce(unittest.TestCase):
    """#1: busy 3 + waiting 2 -> exactly 2 new pods; a starting pod covers a waiting job; busy
    agents are never scale-down candidates; finished history never counts."""

    TTL = 8

    def setUp(self):
        self.f = FRWorld("fr01")
        self.addCleanup(self.f.close)
        self.f.apply_pool(minAgents=0, maxAgents=6, ttlIdleSeconds=self.TTL)
        self.f.wait_connected()

    def three_busy(self, duration):
        f = self.f
        ids = f.queue(count=3, durationSeconds=duration)
        self.assertEqual(ids, [101, 102, 103], "90 finished jobs of history come first")
        f.w.wait_until("jobs 101-103 running on three agents", lambda: all(
            f.jobs()[i]["state"] == "running" for i in ids))
        return ids

    def test_in_flight_jobs_counted_once(self):
        f = self.f
        self.three_busy(duration=20)
        f.w.wait_until("no create still starting", lambda: f.ticks()[-1]["starting"] == 0)
        later = f.queue(count=2, durationSeconds=45)
        self.assertEqual(later, [104, 105])
        f.w.wait_until("104 and 105 running", lambda: all(
            f.jobs()[i]["state"] == "running" for i in later))
        busy_agents = {f.jobs()[i]["agentName"] for i in later}
        f.w.wait_until("101-103 finished", lambda: all(
            f.jobs()[i]["result"] for i in (101, 102, 103)))
        retired = {"my-pool-agent-0", "my-pool-agent-1", "my-pool-agent-2"}
        f.w.wait_until("agents 0-2 retired after their TTL",
                       lambda: set(f.pod_names()) == busy_agents, limit_s=60)
        ticks = f.ticks()

        # Poll 1: busy 3, waiting 2, nothing idle or starting -> exactly 2 pods.
        poll1 = first(ticks, lambda t: t["busy"] == 3 and t["waiting"] == 2)
        self.assertIsNotNone(poll1, "a tick saw busy 3, waiting 2")
        self.assertEqual((poll1["idle"], poll1["starting"], poll1["created"]), (0, 0, 2), poll1)
        # Poll 2: a starting pod covers the one job still waiting.
        for t in ticks:
            if t["waiting"] <= t["idle"] + t["starting"]:
                self.assertEqual(t["created"], 0, "pods created for covered jobs: %r" % t)
        # Poll 3: busy 2, idle 3, waiting 0 -> nothing created, nothing deleted.
        poll3 = first(ticks, lambda t: t["busy"] == 2 and t["idle"] == 3 and t["waiting"] == 0)
        self.assertIsNotNone(poll3, "a tick saw busy 2, idle 3")
        self.assertEqual((poll3["created"], poll3["deleted"]), (0, 0))
        # 3 + 2 pods in all: no duplicate for a received job, and the 90 finished jobs never
        # counted as waiting.
        self.assertEqual(sum(t["created"] for t in ticks), 5)
        self.assertLessEqual(max(t["waiting"] for t in ticks), 3)

        # Agents 0-2 go through the drain protocol, each only once idle for the TTL.
        last_finish = {}
        for j in f.jobs().values():
            if j["agentName"] and j["finishTime"]:
                last_finish[j["agentName"]] = max(last_finish.get(j["agentName"], 0),
                                                  iso_s(j["finishTime"]))
        disables = f.decisions("disable_agent")
        self.assertEqual({d["target"] for d in disables}, retired)
        for d in disables:
            idle_s = d["at_ms"] / 1000.0 - last_finish[d["target"]]
            self.assertGreaterEqual(idle_s, self.TTL - 0.01, "%s drained early" % d["target"])
        for name in retired:
            order = [d["action"] for d in f.decisions() if d["target"] == name and
                     d["action"] in ("disable_agent", "delete_registration", "delete_pod")]
            self.assertEqual(order, ["disable_agent", "delete_registration", "delete_pod"], name)
        self.assertFalse(set(f.agents()) & retired, "retired registrations removed")
        # The agents running 104/105 were never touched.
        for d in f.decisions():
            if d["action"] in ("disable_agent", "delete_registration", "delete_pod"):
                self.assertNotIn(d["target"], busy_agents)
        for i in later:
            self.assertIsNone(f.jobs()[i]["result"], "104/105 still running on their agents")
        # One tick row per planning pass with every count.
        self.assertTrue(all(set(t) >= {"busy", "idle", "starting", "waiting", "created",
                                       "deleted"} for t in ticks))

    def test_max_agents_cap(self):
        f = self.f
        self.three_busy(duration=60)
        f.w.wait_until("no create still starting", lambda: f.ticks()[-1]["starting"] == 0)
        # New agents take a while to come online, so the queue stays at 10 long enough to see.
        f.faults(agent_register_delay_s=6)
        f.queue(count=10, durationSeconds=60)
        f.w.wait_until("status.queuedJobs 10", lambda: f.status().get("queuedJobs") == 10)
        f.w.wait_until("MaxAgentsReached event", lambda: f.events("MaxAgentsReached"))
        [ev] = f.events("MaxAgentsReached")
        self.assertIn("7 job(s)", ev["message"])
        self.assertEqual(ev.get("count") or 1, 1)
        f.w.wait_until("6 pods", lambda: len(f.pods()) == 6)
        ticks = f.ticks()
        poll1 = first(ticks, lambda t: t["busy"] == 3 and t["waiting"] == 10)
        self.assertEqual((poll1["starting"], poll1["created"]), (0, 3), poll1)
        self.assertEqual(sum(t["created"] for t in ticks), 6, "never above maxAgents 6")
        self.assertEqual(len(f.pods(live=False)), 6)


class FR02LargeHistory(unittest.TestCase):
    """#2: only unfinished jobs are ever listed; a failed poll is unknown, never zero demand."""

    def setUp(self):
        # The scenario's 10 jobs are queued by the test instead, once 4 agents are busy.
        self.f = FRWorld("fr02", drop=("jobs",))
        self.addCleanup(self.f.close)

    def stage(self):
        """Five agents: four busy with long jobs, one idle; then the report's manifest."""
        f = self.f
        f.apply_pool(minAgents=5, maxAgents=5, ttlIdleSeconds=120)
        f.wait_connected()
        f.w.wait_until("5 agents online", lambda: sum(
            a["status"] == "online" and "-agent-" in n for n, a in f.agents().items()) == 5)
        running = f.queue(count=4, durationSeconds=600)
        f.w.wait_until("4 busy", lambda: all(f.jobs()[i]["state"] == "running"
                                             for i in running))
        self.idle = [n for n, a in f.agents().items()
                     if "-agent-" in n and a["assignedRequestId"] is None]
        self.assertEqual(len(self.idle), 1)
        self.idle_uid = [p["metadata"]["uid"] for p in f.pods()
                         if p["metadata"]["name"] == self.idle[0]][0]
        f.apply_pool(minAgents=1, maxAgents=10, ttlIdleSeconds=120)

    def test_variant_a_only_unfinished_jobs_listed(self):
        f = self.f
        self.stage()
        mark = f.ticks()[-1]["tick_id"]
        f.queue(count=6, durationSeconds=600)
        f.w.wait_until("10 pods", lambda: len(f.pods()) == 10)
        f.w.wait_until("all 10 jobs running", lambda: sum(
            j["state"] == "running" for j in f.jobs().values()) == 10)
        ticks = [t for t in f.ticks() if t["tick_id"] > mark]
        # busy 4 + idle 1 + waiting 6, or busy 5 + waiting 5 when the service had already given
        # one job to the idle agent: either way min(10 - 5, 6 - 1) = 5 pods.
        self.assertEqual(sum(t["created"] for t in ticks), 5)
        decided = first(ticks, lambda t: t["created"] > 0)
        self.assertEqual(decided["created"], 5, decided)
        self.assertEqual(decided["waiting"] - decided["idle"] - decided["starting"], 5)
        self.assertLessEqual(max(t["waiting"] for t in f.ticks()), 6,
                             "the 4,990 finished jobs never count")
        # Only filtered job lists: the history is never downloaded.
        calls = f.requests(path="/jobrequests")
        self.assertTrue(calls)
        for c in calls:
            self.assertIn("completedRequestCount=0", c["query"] or "", c)
        # The idle agent was never retired, and nothing was deleted.
        self.assertIn(self.idle_uid, [p["metadata"]["uid"] for p in f.pods()])
        self.assertFalse([d for d in f.decisions() if d["action"] in
                          ("disable_agent", "delete_pod", "delete_registration")])

    def test_variant_b_failed_polls_are_unknown(self):
        f = self.f
        self.stage()
        f.w.wait_until("idle agent seen", lambda: f.ticks()[-1]["idle"] == 1)
        mark = f.ticks()[-1]["tick_id"]
        last_ok = f.sql("SELECT azdo_ok_ms FROM pools WHERE name = 'my-pool'")[0]["azdo_ok_ms"]
        seq = f.w.sim("GET", "/_sim/requests?limit=1")["last"]
        f.faults(azdo_error_rate=1.0)
        f.queue(count=6, durationSeconds=600)
        f.w.wait_until("three failed polls", lambda: len(
            f.requests(since=seq, path="/jobrequests", status=500)) >= 3)
        st = f.status()
        cond = [c for c in st["conditions"] if c["type"] == "Connected"][0]
        self.assertEqual(cond["status"], "False")
        self.assertNotEqual(cond["reason"], "Connected")
        self.assertIn("500", cond["message"], "the last error is in the status")
        self.assertEqual(f.sql("SELECT azdo_ok_ms FROM pools WHERE name = 'my-pool'")[0]
                         ["azdo_ok_ms"], last_ok)
        failed = [t for t in f.ticks() if t["tick_id"] > mark]
        self.assertTrue(failed)
        for t in failed:
            self.assertEqual((t["created"], t["deleted"]), (0, 0), t)
        self.assertFalse([d for d in f.decisions() if d["tick_id"] > mark and
                          d["action"] in ("create_pod", "delete_pod", "disable_agent",
                                          "delete_registration")])
        self.assertEqual(f.event_count(cond["reason"]), 1, "one event, not one per poll")
        # Recovery: the condition clears on the first good poll and the arithmetic applies.
        f.faults(azdo_error_rate=0.0)
        f.w.wait_until("connected again", lambda: f.condition("Connected")
                       .get("status") == "True", limit_s=80)
        f.w.wait_until("10 pods", lambda: len(f.pods()) == 10)
        self.assertEqual(sum(t["created"] for t in f.ticks() if t["tick_id"] > mark), 5)


    def test_variant_b_status_last_polled_and_last_error(self):
        f = self.f
        f.apply_pool(minAgents=1, maxAgents=10, ttlIdleSeconds=120)
        f.wait_connected()
        f.w.wait_until("lastPolled set", lambda: f.status().get("lastPolled"), limit_s=15)
        before = f.status()["lastPolled"]
        f.faults(azdo_error_rate=1.0)
        f.w.wait_until("failure seen", lambda: f.condition("Connected").get("status") == "False")
        st = f.status()
        self.assertEqual(st["lastPolled"], before, "lastPolled stays at the last success")
        self.assertIn("500", st.get("lastError", ""))


class FR03DemandTable(unittest.TestCase):
    """#3: the eight jobs a-h route to default x3, gpu x3, java17 x1, and f to nothing."""

    @classmethod
    def setUpClass(cls):
        cls.f = FRWorld("fr03")
        try:
            cls.f.apply_pool(capabilityAware=True, minAgents=0, maxAgents=10,
                             ttlIdleSeconds=120,
                             capabilityImages={"gpu": "registry.example.com/azdo-agent-gpu:1.0",
                                               "java17":
                                               "registry.example.com/azdo-agent-java17:1.0"})
            f = cls.f
            f.w.wait_until("7 pods", lambda: len(f.pods()) >= 7)
            f.w.wait_until("the gpu jobs running", lambda: sum(
                j["state"] == "running" and "gpu" in " ".join(j["demands"]) and
                "java17" not in " ".join(j["demands"]) for j in f.jobs().values()) == 3)
            f.w.wait_until("UnsatisfiableDemands event", lambda: f.events("UnsatisfiableDemands"))
            cls.jobs = {chr(ord("a") + k): j for k, j in
                        enumerate(sorted(f.jobs().values(), key=lambda j: j["requestId"]))}
        except Exception:
            cls.f.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def test_one_poll_creates_seven_pods_by_variant(self):
        f = self.f
        ticks = f.ticks()
        decided = first(ticks, lambda t: t["created"] > 0)
        self.assertEqual((decided["waiting"], decided["created"]), (8, 7), decided)
        # Later ticks may add pods when the service hands a demand-less job to a gpu or java17
        # agent (it picks the lowest agent id), but never beyond maxAgents.
        self.assertLessEqual(sum(t["created"] for t in ticks), 10)
        creates = [d for d in f.decisions("create_pod") if d["tick_id"] == decided["tick_id"]]
        by_cap = {}
        for d in creates:
            by_cap[d["cap_key"]] = by_cap.get(d["cap_key"], 0) + 1
        self.assertEqual(by_cap, {"": 3, "gpu": 3, "java17": 1})
        names = {d["target"] for d in creates}
        images = sorted(p["spec"]["containers"][0]["image"] for p in f.pods()
                        if p["metadata"]["name"] in names)
        self.assertEqual(images, ["registry.example.com/azdo-agent-gpu:1.0"] * 3 +
                         ["registry.example.com/azdo-agent-java17:1.0"] +
                         ["registry.example.com/azdo-agent:1.0"] * 3)

    def test_gpu_jobs_land_on_gpu_agents(self):
        f = self.f
        pods = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in f.pods()}
        for k in "cdg":
            j = f.jobs()[self.jobs[k]["requestId"]]
            self.assertIn("gpu", pods[j["agentName"]], "job %s on %s" % (k, j["agentName"]))

    def test_unsatisfiable_job_f_event(self):
        f = self.f
        [ev] = f.events("UnsatisfiableDemands")
        self.assertEqual(ev["type"], "Warning")
        self.assertIn(str(self.jobs["f"]["requestId"]), ev["message"])
        self.assertIn("gpu", ev["message"])
        self.assertIn("java17", ev["message"])
        self.assertEqual(ev.get("count") or 1, 1)
        self.assertIsNone(f.jobs()[self.jobs["f"]["requestId"]]["agentName"])

    def test_status_unmatched_jobs(self):
        self.assertEqual(self.f.status().get("unmatchedJobs"), 1)


if __name__ == "__main__":
    unittest.main()
