"""Scale: many pools with many agent pods; registration and job assignment must keep up.

SIM_SCALE_POOLS (default 200) x 10 agents; the benchmarks drive 1,000 x 10."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simlib.azdo_testkit import SimFixture  # noqa: E402

PAT = "scale-pat-24680"
POOLS = int(os.environ.get("SIM_SCALE_POOLS", "200"))
AGENTS = 10


class ScaleTest(unittest.TestCase):
    def test_many_pools_of_agents_register_and_take_jobs(self):
        w = SimFixture()
        try:
            names = ["pool-%04d" % i for i in range(POOLS)]
            ids = w.ctl("POST", "/_sim/orgs/big", {"pat": PAT, "pools": names})["pools"]
            self.assertEqual(len(set(ids.values())), POOLS)
            for p in names:
                for j in range(AGENTS):
                    w.create_agent_pod("%s-agent-%d" % (p, j), "big", p, token=PAT)
            world = w.svc.world

            def online():
                with world.lock:
                    return sum(1 for pool in world.orgs["big"].pools.values()
                               for a in pool.agents.values() if a.status == "online")
            w.wait_for(lambda: online() == POOLS * AGENTS, "every agent online", timeout=180)
            rids = {}
            for p in names:
                rids[p] = w.ctl("POST", "/_sim/orgs/big/pools/%s/jobs" % p,
                                {"demands": [], "durationSeconds": 3600})["requestId"]
            # A sample of pools through the REST API: each job is on one of that pool's agents.
            for p in names[:: max(1, POOLS // 20)]:
                jobs = w.api("/big/_apis/distributedtask/pools/%d/jobrequests?"
                             "completedRequestCount=0" % ids[p], PAT)["value"]
                self.assertEqual([j["requestId"] for j in jobs], [rids[p]])
                self.assertTrue(jobs[0]["reservedAgent"]["name"].startswith(p + "-agent-"))
                agents = w.api("/big/_apis/distributedtask/pools/%d/agents" % ids[p], PAT)
                self.assertEqual(agents["count"], AGENTS)
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main()
