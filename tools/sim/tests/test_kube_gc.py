"""Garbage collection through ownerReferences, as kube-controller-manager does it:
background, foreground and orphan propagation, and dependents of a vanished owner."""

import unittest

from helpers import World, fixture

WD = "/apis/test.opentools.mf/v1/namespaces/default/widgets"
PODS = "/api/v1/namespaces/default/pods"


class GcTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--pod-start-delay", "0.1", "--grace-scale", "0.02"])
        self.w.kubectl_ok("apply", "-f", fixture("widgets-crd.yaml"))

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def owner(self, name):
        st, _, o = self.w.api("POST", WD, {"metadata": {"name": name},
                                           "spec": {"pool": "p"}})
        self.assertEqual(st, 201)
        return o

    def pod(self, name, owner, block=False):
        ref = {"apiVersion": "test.opentools.mf/v1", "kind": "Widget",
               "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
               "controller": True}
        if block:
            ref["blockOwnerDeletion"] = True
        st, _, p = self.w.api("POST", PODS, {
            "metadata": {"name": name, "labels": {"owner": owner["metadata"]["name"]},
                         "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        self.assertEqual(st, 201, p)
        return p

    def pod_names(self, sel):
        return self.w.kubectl_ok("get", "pods", "-l", sel, "-o", "name").out.split()

    def test_background_delete_removes_owned_pods(self):
        o = self.owner("bg")
        for i in range(3):
            self.pod("bg-%d" % i, o)
        other = self.owner("keep")
        self.pod("keep-0", other)
        self.w.wait_for(lambda: "Running" in self.w.kubectl_ok("get", "pod", "bg-0").out,
                        "pod running")
        self.w.kubectl_ok("delete", "widget", "bg")
        self.w.wait_for(lambda: self.pod_names("owner=bg") == [], "owned pods gone")
        self.assertEqual(self.pod_names("owner=keep"), ["pod/keep-0"])

    def test_foreground_delete_waits_for_blocking_dependents(self):
        o = self.owner("fg")
        self.pod("fg-0", o, block=True)
        r = self.w.kubectl_ok("delete", "widget", "fg", "--cascade=foreground",
                              "--timeout=30s")
        self.assertIn("deleted", r.out)
        # kubectl waited until the owner was gone, which needs the dependent gone first.
        self.assertEqual(self.pod_names("owner=fg"), [])
        st, _, _ = self.w.api("GET", WD + "/fg")
        self.assertEqual(st, 404)

    def test_foreground_owner_is_visible_with_finalizer_while_dependents_go(self):
        o = self.owner("fg2")
        self.pod("fg2-0", o, block=True)
        # A finalizer on the pod keeps it, so the owner must stay in foreground deletion.
        self.w.api("PATCH", PODS + "/fg2-0", {"metadata": {"finalizers": ["test/hold"]}},
                   ctype="application/merge-patch+json")
        st, _, body = self.w.api("DELETE", WD + "/fg2", {"propagationPolicy": "Foreground"})
        self.assertEqual(st, 200)
        owner = self.w.wait_for(lambda: self.w.api("GET", WD + "/fg2")[2], "owner")
        self.assertIn("foregroundDeletion", owner["metadata"]["finalizers"])
        self.assertTrue(owner["metadata"]["deletionTimestamp"])
        self.w.wait_for(lambda: self.w.api("GET", PODS + "/fg2-0")[2].get("metadata", {})
                        .get("deletionTimestamp"), "dependent being deleted")
        self.assertEqual(self.w.api("GET", WD + "/fg2")[0], 200)
        self.w.api("PATCH", PODS + "/fg2-0", [{"op": "remove", "path": "/metadata/finalizers"}],
                   ctype="application/json-patch+json")
        self.w.wait_for(lambda: self.w.api("GET", WD + "/fg2")[0] == 404, "owner gone")

    def test_orphan_delete_keeps_dependents_without_the_reference(self):
        o = self.owner("orph")
        self.pod("orph-0", o)
        self.w.kubectl_ok("delete", "widget", "orph", "--cascade=orphan", "--timeout=30s")
        self.w.wait_for(lambda: self.w.api("GET", WD + "/orph")[0] == 404, "owner gone")
        p = self.w.kubectl_json("get", "pod", "orph-0")
        self.assertNotIn("ownerReferences", p["metadata"])
        self.assertNotIn("deletionTimestamp", p["metadata"])

    def test_dependent_of_missing_owner_is_collected(self):
        ghost = {"metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}
        self.pod("stray", ghost)
        self.w.wait_for(lambda: self.w.api("GET", PODS + "/stray")[0] == 404,
                        "pod with a missing owner collected")

    def test_owner_in_two_refs_keeps_dependent_until_last_owner_goes(self):
        a, b = self.owner("own-a"), self.owner("own-b")
        p = self.pod("shared", a)
        refs = p["metadata"]["ownerReferences"] + [{
            "apiVersion": "test.opentools.mf/v1", "kind": "Widget", "name": "own-b",
            "uid": b["metadata"]["uid"]}]
        self.w.api("PATCH", PODS + "/shared", {"metadata": {"ownerReferences": refs}},
                   ctype="application/merge-patch+json")
        self.w.kubectl_ok("delete", "widget", "own-a")
        self.w.wait_for(lambda: len(self.w.kubectl_json("get", "pod", "shared")["metadata"]
                                    ["ownerReferences"]) == 1, "dangling reference dropped")
        self.w.kubectl_ok("delete", "widget", "own-b")
        self.w.wait_for(lambda: self.w.api("GET", PODS + "/shared")[0] == 404,
                        "pod collected with its last owner")


if __name__ == "__main__":
    unittest.main()
