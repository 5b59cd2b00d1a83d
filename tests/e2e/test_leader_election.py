"""Two operators with --leader-elect on one database: one leads, the other stands by without
touching the database; when the leader is killed the standby takes over and keeps the pool
right."""

import os
import signal
import subprocess
import unittest

from harness import OPERATOR, World, free_port
from pools import apply, azdo_pool, jobs_by_id, queue_jobs, runnerpool, setup_org


class LeaderElection(unittest.TestCase):
    def setUp(self):
        self.w = World(start_operator=False)
        self.addCleanup(self.w.close)
        setup_org(self.w)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def start(self, identity):
        log = open(os.path.join(self.w.dir, identity + ".log"), "a")
        p = subprocess.Popen([OPERATOR, "run", "--kube-url", self.w.kube_url, "--db", self.w.db,
                              "--leader-elect", "--identity", identity, "--listen-address",
                              "127.0.0.1", "--webhook-port", "0", "--metrics-port",
                              str(free_port()), "--poll-interval", "1"],
                             stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(p)
        return p

    def holder(self):
        lease = self.w.kubectl_json("get", "lease", "azdo-runner-operator")
        return lease["spec"].get("holderIdentity")

    def test_standby_takes_over_when_the_leader_dies(self):
        w = self.w
        first = self.start("op-a")
        w.wait_until("op-a holds the lease", lambda: self.holder() == "op-a")
        second = self.start("op-b")
        apply(w, runnerpool(w, "p", "linux", minAgents=1, maxAgents=3, ttlIdleSeconds=60))
        w.wait_until("one agent", lambda: len(w.pods("p")) == 1)
        self.assertIsNone(second.poll(), "the standby waits, it does not exit")
        self.assertEqual(self.holder(), "op-a")

        first.send_signal(signal.SIGKILL)
        first.wait()
        w.wait_until("op-b holds the lease", lambda: self.holder() == "op-b")
        [job] = queue_jobs(w, "linux", 1, duration_s=2)
        w.wait_until("the job ran under the new leader",
                     lambda: jobs_by_id(w, "linux")[job]["result"] == "succeeded")
        names = [p["metadata"]["name"] for p in w.pods("p")]
        self.assertEqual(len(names), len(set(names)), "no index has two pods")
        self.assertTrue(any(a["status"] == "online" for a in azdo_pool(w, "linux")["agents"]))


if __name__ == "__main__":
    unittest.main()
