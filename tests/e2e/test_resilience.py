"""The operator keeps pools right through pods deleted behind its back, a kill -9 in the middle
of a scale-up, forced watch expiry and Azure DevOps throttling."""

import signal
import subprocess
import unittest

from harness import OPERATOR, World
from pools import apply, azdo_pool, jobs_by_id, queue_jobs, runnerpool, setup_org


def agent_pods(w, pool):
    return [p for p in w.pods(pool) if not p["metadata"].get("deletionTimestamp")]


class Resilience(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.addCleanup(self.w.close)
        setup_org(self.w)

    def test_pod_deleted_behind_our_back_is_replaced_and_its_registration_removed(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", minAgents=1, maxAgents=2, ttlIdleSeconds=300))
        w.wait_until("one agent online", lambda: any(
            a["status"] == "online" for a in azdo_pool(w, "linux")["agents"]))
        [pod] = agent_pods(w, "p")
        name = pod["metadata"]["name"]
        # A hard kill leaves the registration behind, offline, as real agents do.
        w.sim("POST", "/_sim/faults", {"unregister_on_sigterm": False})
        w.kubectl("delete", "pod", name, "--wait=false")
        w.wait_until("replacement pod at the same index", lambda: any(
            p["metadata"]["name"] == name and p["metadata"]["uid"] != pod["metadata"]["uid"]
            for p in agent_pods(w, "p")))
        w.wait_until("a single registration for that name, online again", lambda: [
            a["status"] for a in azdo_pool(w, "linux")["agents"] if a["name"] == name]
            == ["online"])

    def test_second_operator_on_the_same_database_is_refused(self):
        w = self.w
        w.wait_until("first operator running", lambda: w.pool_status is not None)
        p = subprocess.Popen([OPERATOR, "run", "--kube-url", w.kube_url, "--db", w.db,
                              "--webhook-port", "0", "--metrics-port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            line = ""
            for _ in range(50):  # bounded: the refusal is the first thing it logs after start
                line = p.stdout.readline()
                if "in use by another operator process" in line or not line:
                    break
            self.assertIn("in use by another operator process", line)
        finally:
            p.kill()
            p.wait()
        self.assertIsNone(w.operator.poll(), "the first operator keeps running")

    def test_kill_9_mid_scale_up_then_restart(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", minAgents=0, maxAgents=4, ttlIdleSeconds=30))
        w.wait_until("pool connected", lambda: w.pool_status("p").get("state") == "Connected")
        w.wait_until("placeholder registered", lambda: azdo_pool(w, "linux")["agents"])
        ids = queue_jobs(w, "linux", 4, duration_s=3)
        w.wait_until("scale-up started", lambda: len(w.pods("p")) >= 1, limit_s=60)
        w.stop_operator(signal.SIGKILL)
        w.start_operator()
        seen = {}

        def all_done():
            for p in w.pods("p"):
                n = p["metadata"]["name"]
                seen.setdefault(n, set()).add(p["metadata"]["uid"])
            names = [p["metadata"]["name"] for p in w.pods("p")]
            self.assertEqual(len(names), len(set(names)), "two pods for one index")
            self.assertLessEqual(len(names), 4)
            jobs = jobs_by_id(w, "linux")
            return all(jobs[i]["result"] is not None for i in ids)
        w.wait_until("all jobs finished after the restart", all_done)
        for i in ids:
            self.assertEqual(jobs_by_id(w, "linux")[i]["result"], "succeeded")
        w.wait_until("no intent left open", lambda: w.sql(
            "SELECT count(*) AS n FROM intents WHERE state IN ('pending', 'started')")[0]["n"]
            == 0)

    def test_watch_expiry_and_throttling_are_survived(self):
        w = self.w
        apply(w, runnerpool(w, "p", "linux", minAgents=0, maxAgents=3, ttlIdleSeconds=1))
        w.wait_until("pool connected", lambda: w.pool_status("p").get("state") == "Connected")
        w.wait_until("placeholder registered", lambda: azdo_pool(w, "linux")["agents"])
        w.sim("POST", "/_sim/faults", {"force_watch_expiry": True, "drop_watches": 5,
                                       "azdo_throttle_count": 4, "azdo_retry_after_s": 1})
        ids = queue_jobs(w, "linux", 3, duration_s=2)
        w.wait_until("all jobs finished", lambda: all(
            jobs_by_id(w, "linux")[i]["result"] is not None for i in ids))
        w.wait_until("back to zero agents", lambda: w.pods("p") == [])
        self.assertFalse([a for a in azdo_pool(w, "linux")["agents"] if "-agent-" in a["name"]])
        throttled = w.sql("SELECT sum(throttled) AS n FROM api_hourly WHERE kind = 'azdo'")
        self.assertGreaterEqual(throttled[0]["n"] or 0, 1, "the 429s were seen and counted")


if __name__ == "__main__":
    unittest.main()
