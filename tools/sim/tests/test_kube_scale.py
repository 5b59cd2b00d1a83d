"""Scale: 1,000 custom resources and 10,000 pods must not make the API server fall over;
kubectl lists them in chunks and a watch from "0" replays them all."""

import unittest

from helpers import InProcessWorld, fixture


class ScaleTest(unittest.TestCase):
    def setUp(self):
        # Pods stay Pending-but-scheduled for the test's lifetime: the node is slow to start
        # containers, which keeps the test about the API server.
        self.w = InProcessWorld(start_delay=3600, watch_window=50000)

    def tearDown(self):
        self.w.stop()

    def test_thousand_crs_and_ten_thousand_pods(self):
        self.w.kubectl_ok("apply", "-f", fixture("widgets-crd.yaml"))
        s = self.w.store
        for i in range(1000):
            s.create("widgets.test.opentools.mf", "ns-%d" % (i % 10),
                     {"metadata": {"name": "w-%04d" % i}, "spec": {"pool": "p%d" % i}})
        for i in range(10000):
            s.create("pods", "ns-%d" % (i % 10), {
                "metadata": {"name": "pod-%05d" % i, "labels": {"pool": "p%d" % (i % 1000)}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        out = self.w.kubectl_ok("get", "pods", "-A", "--no-headers", timeout=300).out
        self.assertEqual(len(out.splitlines()), 10000)
        out = self.w.kubectl_ok("get", "widgets", "-A", "--no-headers").out
        self.assertEqual(len(out.splitlines()), 1000)
        out = self.w.kubectl_ok("get", "pods", "-n", "ns-3", "-l", "pool=p3", "-o",
                                "name").out.split()
        self.assertEqual(out, ["pod/pod-%05d" % i for i in range(3, 10000, 1000)])
        st, events, conn = self.w.watch("/apis/test.opentools.mf/v1/widgets?watch=true&"
                                        "resourceVersion=0&timeoutSeconds=5")
        n = sum(1 for e in events if e["type"] == "ADDED")
        conn.close()
        self.assertEqual(n, 1000)
        st, _, body = self.w.api("GET", "/api/v1/pods?limit=1")
        self.assertEqual(body["metadata"]["remainingItemCount"], 9999)
        self.assertEqual(body["kind"], "PodList")


if __name__ == "__main__":
    unittest.main()
