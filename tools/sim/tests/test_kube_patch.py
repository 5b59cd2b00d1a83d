"""PATCH: strategic merge for built-ins (lists merged by name), JSON patch with test ops,
merge patch null deletion, 415 for strategic merge on custom resources; plus the patch
functions themselves."""

import json
import os
import sys
import unittest

from helpers import World, fixture

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from simlib import kube_patch  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"


class PatchFunctionsTest(unittest.TestCase):
    def test_strategic_merge_lists_by_key(self):
        doc = {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"},
                                                  {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}],
            "volumes": [{"name": "v1"}, {"name": "v2"}]},
            "metadata": {"finalizers": ["f1"]}}
        patch = {"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}],
            "volumes": [{"name": "v1", "$patch": "delete"}]},
            "metadata": {"finalizers": ["f2"]}}
        out = kube_patch.strategic_merge_patch(doc, patch)
        a = out["spec"]["containers"][0]
        self.assertEqual(a["image"], "a:1")
        self.assertEqual(a["env"], [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"},
                                    {"name": "Z", "value": "4"}])
        self.assertEqual(out["spec"]["containers"][1]["name"], "b")
        self.assertEqual(out["spec"]["volumes"], [{"name": "v2"}])
        self.assertEqual(out["metadata"]["finalizers"], ["f1", "f2"])
        out = kube_patch.strategic_merge_patch(out, {"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["f1"]}})
        self.assertEqual(out["metadata"]["finalizers"], ["f2"])
        self.assertEqual(doc["spec"]["volumes"], [{"name": "v1"}, {"name": "v2"}],
                         "input untouched")

    def test_merge_patch_replaces_lists_and_null_deletes(self):
        out = kube_patch.merge_patch({"a": {"b": 1, "c": [1, 2]}, "d": 1},
                                     {"a": {"c": [3], "b": None}, "d": None})
        self.assertEqual(out, {"a": {"c": [3]}})

    def test_json_patch_ops(self):
        doc = {"a": [1, 2], "b": {"c": 1}}
        out = kube_patch.json_patch(doc, [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "test", "path": "/b/c", "value": 1},
            {"op": "move", "from": "/b/c", "path": "/b/d"},
            {"op": "copy", "from": "/a", "path": "/e"},
            {"op": "replace", "path": "/a/0", "value": 9},
            {"op": "remove", "path": "/a/1"}])
        self.assertEqual(out, {"a": [9, 3], "b": {"d": 1}, "e": [1, 2, 3]})
        with self.assertRaises(kube_patch.PatchError) as cm:
            kube_patch.json_patch(doc, [{"op": "test", "path": "/b/c", "value": 2}])
        self.assertEqual(cm.exception.code, 422)
        with self.assertRaises(kube_patch.PatchError):
            kube_patch.json_patch(doc, [{"op": "remove", "path": "/nope"}])


class PatchHttpTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--pod-start-delay", "0.1", "--grace-scale", "0.01"])

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def pod(self, image="busybox:1.36"):
        return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [
                               {"name": "main", "image": image,
                                "env": [{"name": "A", "value": "1"}]},
                               {"name": "side", "image": "busybox:1.36"}]}})

    def test_kubectl_apply_of_a_pod_uses_strategic_merge(self):
        self.w.kubectl_ok("apply", "-f", "-", input=self.pod())
        self.w.kubectl_ok("apply", "-f", "-", input=self.pod("busybox:1.37"))
        p = self.w.kubectl_json("get", "pod", "p")
        self.assertEqual([c["image"] for c in p["spec"]["containers"]],
                         ["busybox:1.37", "busybox:1.36"])
        self.assertEqual(p["spec"]["containers"][0]["env"], [{"name": "A", "value": "1"}])
        # kubectl patch defaults to strategic: adding a toleration by merge keeps the rest.
        self.w.kubectl_ok("patch", "pod", "p", "-p",
                          '{"metadata":{"labels":{"x":"1"}},"spec":{"containers":'
                          '[{"name":"side","image":"busybox:1.38"}]}}')
        p = self.w.kubectl_json("get", "pod", "p")
        self.assertEqual([c["image"] for c in p["spec"]["containers"]],
                         ["busybox:1.37", "busybox:1.38"])
        self.assertEqual(p["metadata"]["labels"], {"x": "1"})

    def test_json_patch_test_failure_is_422(self):
        self.w.kubectl_ok("create", "configmap", "c", "--from-literal=a=1")
        r = self.w.kubectl("patch", "configmap", "c", "--type=json", "-p",
                           '[{"op":"test","path":"/data/a","value":"2"},'
                           '{"op":"replace","path":"/data/a","value":"3"}]')
        self.assertNotEqual(r.rc, 0)
        self.assertIn("testing value /data/a failed", r.err)
        self.w.kubectl_ok("patch", "configmap", "c", "--type=json", "-p",
                          '[{"op":"test","path":"/data/a","value":"1"},'
                          '{"op":"replace","path":"/data/a","value":"3"}]')
        self.assertEqual(self.w.kubectl_json("get", "configmap", "c")["data"], {"a": "3"})

    def test_patch_with_stale_resource_version_conflicts(self):
        self.w.kubectl_ok("create", "configmap", "c", "--from-literal=a=1")
        rv = self.w.kubectl_json("get", "configmap", "c")["metadata"]["resourceVersion"]
        self.w.kubectl_ok("patch", "configmap", "c", "--type=merge", "-p", '{"data":{"a":"2"}}')
        st, _, body = self.w.api("PATCH", "/api/v1/namespaces/default/configmaps/c",
                                 {"metadata": {"resourceVersion": rv}, "data": {"a": "9"}},
                                 ctype="application/merge-patch+json")
        self.assertEqual((st, body["reason"]), (409, "Conflict"))

    def test_strategic_merge_on_custom_resource_is_415(self):
        self.w.kubectl_ok("apply", "-f", fixture("widgets-crd.yaml"))
        self.w.kubectl_ok("apply", "-f", fixture("widget-a.yaml"))
        st, _, body = self.w.api("PATCH", "/apis/test.opentools.mf/v1/namespaces/default/"
                                 "widgets/wid-a", {"spec": {"size": 4}},
                                 ctype="application/strategic-merge-patch+json")
        self.assertEqual((st, body["reason"]), (415, "UnsupportedMediaType"))
        self.assertIn("application/merge-patch+json", body["message"])
        r = self.w.kubectl_ok("patch", "widget", "wid-a", "--type=merge", "-p",
                              '{"spec":{"size":4}}')
        self.assertIn("patched", r.out)


if __name__ == "__main__":
    unittest.main()
