"""The simulated API server's core semantics, through kubectl and raw HTTP: start-up and
shutdown, discovery, optimistic concurrency, AlreadyExists, generation and the status
subresource, selectors, list chunking, Status bodies for bad requests."""

import json
import os
import unittest

from helpers import World

NS = "/api/v1/namespaces/default"
CM = NS + "/configmaps"


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--pod-start-delay", "0.2"])

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0, "simworld exits 0 on SIGTERM")

    def test_starts_fast_and_answers_version_minor_32(self):
        self.assertLess(self.w.ready_after, 5.0)  # generous: machines are shared
        st, _, v = self.w.api("GET", "/version")
        self.assertEqual((st, v["major"], v["minor"]), (200, "1", "32"))
        r = self.w.kubectl_ok("version", "-o", "json")
        self.assertEqual(json.loads(r.out)["serverVersion"]["minor"], "32")

    def test_kubectl_create_twice_gets_already_exists(self):
        self.w.kubectl_ok("create", "configmap", "c1", "--from-literal=a=1")
        r = self.w.kubectl("create", "configmap", "c1", "--from-literal=a=1")
        self.assertNotEqual(r.rc, 0)
        self.assertIn('configmaps "c1" already exists', r.err)
        st, _, body = self.w.api("POST", CM, {"metadata": {"name": "c1"}})
        self.assertEqual((st, body["kind"], body["reason"], body["code"]),
                         (409, "Status", "AlreadyExists", 409))

    def test_stale_update_gets_409_conflict_via_kubectl_replace(self):
        self.w.kubectl_ok("create", "configmap", "c2", "--from-literal=a=1")
        stale = self.w.kubectl_json("get", "configmap", "c2")
        self.w.kubectl_ok("patch", "configmap", "c2", "--type=merge", "-p",
                          '{"data":{"a":"2"}}')
        stale["data"]["a"] = "3"
        r = self.w.kubectl("replace", "-f", "-", input=json.dumps(stale))
        self.assertNotEqual(r.rc, 0)
        self.assertIn("Error from server (Conflict)", r.err)
        self.assertIn('Operation cannot be fulfilled on configmaps "c2": the object has been '
                      'modified; please apply your changes to the latest version and try '
                      'again', r.err)
        self.assertEqual(self.w.kubectl_json("get", "configmap", "c2")["data"]["a"], "2")
        # With the current resourceVersion the same replace succeeds.
        cur = self.w.kubectl_json("get", "configmap", "c2")
        cur["data"]["a"] = "4"
        self.w.kubectl_ok("replace", "-f", "-", input=json.dumps(cur))
        self.assertEqual(self.w.kubectl_json("get", "configmap", "c2")["data"]["a"], "4")

    def test_resource_version_is_one_global_counter(self):
        _, _, a = self.w.api("POST", CM, {"metadata": {"name": "a"}})
        _, _, s = self.w.api("POST", NS + "/secrets", {"metadata": {"name": "s"},
                                                       "stringData": {"k": "v"}})
        _, _, b = self.w.api("POST", CM, {"metadata": {"name": "b"}})
        ra, rs, rb = (int(x["metadata"]["resourceVersion"]) for x in (a, s, b))
        self.assertTrue(ra < rs < rb)
        _, _, lst = self.w.api("GET", CM)
        self.assertGreaterEqual(int(lst["metadata"]["resourceVersion"]), rb)
        self.assertEqual(s["data"]["k"], "dg==")  # stringData folded into base64 data
        self.assertNotIn("stringData", s)

    def test_lease_update_needs_current_resource_version(self):
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        st, _, lease = self.w.api("POST", path, {
            "metadata": {"name": "leader"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})
        self.assertEqual(st, 201)
        won = dict(lease, spec=dict(lease["spec"], holderIdentity="b"))
        st, _, _ = self.w.api("PUT", path + "/leader", won)
        self.assertEqual(st, 200)
        lost = dict(lease, spec=dict(lease["spec"], holderIdentity="c"))
        st, _, body = self.w.api("PUT", path + "/leader", lost)
        self.assertEqual((st, body["reason"]), (409, "Conflict"))
        _, _, now = self.w.api("GET", path + "/leader")
        self.assertEqual(now["spec"]["holderIdentity"], "b")

    def test_label_selectors_equality_and_set_based(self):
        for name, labels in (("p1", "app=web,tier=front"), ("p2", "app=web,tier=back"),
                             ("p3", "app=db")):
            self.w.kubectl_ok("create", "configmap", name)
            self.w.kubectl_ok("label", "configmap", name, *labels.split(","))

        def names(sel):
            out = self.w.kubectl_ok("get", "configmaps", "-l", sel, "-o",
                                    "jsonpath={.items[*].metadata.name}").out
            return sorted(n for n in out.split() if n != "kube-root-ca.crt")
        self.assertEqual(names("app=web"), ["p1", "p2"])
        self.assertEqual(names("app=web,tier!=front"), ["p2"])
        self.assertEqual(names("tier in (front,back)"), ["p1", "p2"])
        self.assertEqual(names("app notin (web)"), ["p3"])
        self.assertEqual(names("!tier"), ["p3"])
        self.assertEqual(names("tier"), ["p1", "p2"])
        st, _, body = self.w.api("GET", CM + "?labelSelector=" + "app%20in%20(")
        self.assertEqual((st, body["kind"], body["reason"]), (400, "Status", "BadRequest"))

    def test_field_selectors(self):
        for n in ("f1", "f2"):
            self.w.kubectl_ok("create", "configmap", n)
        st, _, body = self.w.api("GET", CM + "?fieldSelector=metadata.name%3Df2")
        self.assertEqual([i["metadata"]["name"] for i in body["items"]], ["f2"])
        st, _, body = self.w.api("GET", "/api/v1/configmaps?fieldSelector="
                                 "metadata.namespace%3Ddefault,metadata.name!%3Df2")
        self.assertEqual([i["metadata"]["name"] for i in body["items"]], ["f1"])
        st, _, body = self.w.api("GET", CM + "?fieldSelector=spec.bogus%3D1")
        self.assertEqual(st, 400)
        self.assertIn("field label not supported: spec.bogus", body["message"])

    def test_list_limit_and_continue(self):
        for i in range(7):
            self.w.api("POST", CM, {"metadata": {"name": "cm-%d" % i}})
        names, cont, pages = [], None, 0
        while True:
            q = CM + "?limit=3" + ("&continue=" + cont if cont else "")
            st, _, body = self.w.api("GET", q)
            self.assertEqual(st, 200)
            pages += 1
            names += [i["metadata"]["name"] for i in body["items"]]
            cont = body["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(names, ["cm-%d" % i for i in range(7)])
        # kubectl pages with limit=500 transparently; --chunk-size forces pages too.
        out = self.w.kubectl_ok("get", "configmaps", "--chunk-size=2", "-o", "name").out
        self.assertEqual(len(out.split()), 7)

    def test_generation_moves_on_spec_only_and_status_is_separate(self):
        path = "/apis/apps/v1/namespaces/default/deployments"
        dep = {"metadata": {"name": "d"}, "spec": {"replicas": 1, "template": {}},
               "status": {"replicas": 99}}
        st, _, d = self.w.api("POST", path, dep)
        self.assertEqual((st, d["metadata"]["generation"]), (201, 1))
        st, _, d = self.w.api("PATCH", path + "/d", {"metadata": {"labels": {"x": "y"}}},
                              ctype="application/merge-patch+json")
        self.assertEqual(d["metadata"]["generation"], 1)
        st, _, d = self.w.api("PATCH", path + "/d", {"spec": {"replicas": 3},
                                                     "status": {"replicas": 5}},
                              ctype="application/merge-patch+json")
        self.assertEqual(d["metadata"]["generation"], 2)
        self.assertNotEqual(d.get("status", {}).get("replicas"), 5,
                            "status is ignored on the main resource")
        st, _, d = self.w.api("PATCH", path + "/d/status", {"status": {"replicas": 3},
                                                            "spec": {"replicas": 7}},
                              ctype="application/merge-patch+json")
        self.assertEqual(st, 200)
        self.assertEqual((d["status"]["replicas"], d["spec"]["replicas"],
                          d["metadata"]["generation"]), (3, 3, 2))

    def test_bad_requests_get_status_bodies(self):
        cases = [
            ("GET", "/api/v1/namespaces/default/nothings", None, None, 404),
            ("GET", "/apis/no.such.group/v1/things", None, None, 404),
            ("POST", CM, None, b"{not json", 400),
            ("POST", CM, None, b"", 400),
            ("POST", CM, {"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "x"}}, None, 400),
            ("POST", CM, {"metadata": {"name": "Bad_Name"}}, None, 422),
            ("POST", "/api/v1/namespaces/nowhere/configmaps", {"metadata": {"name": "x"}},
             None, 404),
            ("PUT", CM + "/missing", {"metadata": {"name": "missing"}}, None, 404),
            ("PUT", CM + "/a", {"metadata": {"name": "b"}}, None, 400),
            ("PATCH", CM + "/missing", {"data": {}}, None, 415),  # application/json
            ("DELETE", CM + "/missing", None, None, 404),
            ("GET", CM + "?limit=x", None, None, 400),
            ("GET", CM + "?watch=true&resourceVersion=abc", None, None, 400),
        ]
        for method, path, body, raw, code in cases:
            st, hdrs, resp = self.w.api(method, path, body=body, raw=raw)
            with self.subTest(method=method, path=path):
                self.assertEqual(st, code)
                self.assertEqual(hdrs.get("content-type"), "application/json")
                self.assertEqual(resp["kind"], "Status")
                self.assertEqual(resp["status"], "Failure")
                self.assertEqual(resp["code"], code)
                self.assertTrue(resp["message"])
        st, _, resp = self.w.api("POST", "/api/v1/namespaces/nowhere/configmaps",
                                 {"metadata": {"name": "x"}})
        self.assertEqual(resp["message"], 'namespaces "nowhere" not found')
        st, _, resp = self.w.api("PATCH", CM + "/missing", {"data": {}},
                                 ctype="application/merge-patch+json")
        self.assertEqual((st, resp["message"]), (404, 'configmaps "missing" not found'))
        st, _, resp = self.w.api("PUT", CM + "/a", {"metadata": {"name": "b"}})
        self.assertEqual(resp["message"], "the name of the object (b) does not match the name "
                         "on the URL (a)")

    def test_injected_500s_are_status_objects(self):
        self.w.ctl("POST", "/_sim/faults", {"kube_error_rate": 1.0})
        st, _, body = self.w.api("GET", CM)
        self.assertEqual((st, body["kind"], body["reason"]), (500, "Status", "InternalError"))
        r = self.w.kubectl("get", "configmaps")
        self.assertNotEqual(r.rc, 0)
        self.w.ctl("POST", "/_sim/faults", {"kube_error_rate": 0.0})
        st, _, body = self.w.api("GET", CM)
        self.assertEqual(st, 200)

    def test_namespace_lifecycle(self):
        self.w.kubectl_ok("create", "namespace", "team")
        self.w.kubectl_ok("create", "configmap", "x", "-n", "team")
        r = self.w.kubectl_ok("get", "namespace", "team")
        self.assertRegex(r.out, r"team\s+Active")
        self.w.kubectl_ok("delete", "namespace", "team", "--timeout=30s")
        st, _, body = self.w.api("GET", "/api/v1/namespaces/team/configmaps/x")
        self.assertEqual((st, body["message"]), (404, 'configmaps "x" not found'))
        r = self.w.kubectl("get", "namespace", "team")
        self.assertIn('namespaces "team" not found', r.err)

    def test_events_k8s_io_and_core_events_share_storage(self):
        self.w.kubectl_ok("create", "configmap", "subject")
        cm = self.w.kubectl_json("get", "configmap", "subject")
        st, _, ev = self.w.api("POST", "/apis/events.k8s.io/v1/namespaces/default/events", {
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "subject.1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "subject",
                          "namespace": "default", "uid": cm["metadata"]["uid"]},
            "reason": "Checked", "note": "looked at it", "type": "Normal", "action": "Check",
            "reportingController": "example.com/checker", "reportingInstance": "checker-0"})
        self.assertEqual(st, 201, ev)
        self.assertEqual((ev["apiVersion"], ev["note"]), ("events.k8s.io/v1", "looked at it"))
        st, _, lst = self.w.api("GET", "/api/v1/namespaces/default/events?fieldSelector="
                                "involvedObject.name%3Dsubject")
        self.assertEqual([(e["reason"], e["message"]) for e in lst["items"]],
                         [("Checked", "looked at it")])
        st, _, lst = self.w.api("GET", "/apis/events.k8s.io/v1/namespaces/default/events?"
                                "fieldSelector=regarding.name%3Dsubject")
        self.assertEqual(lst["items"][0]["regarding"]["name"], "subject")
        st, _, bad = self.w.api("POST", "/apis/events.k8s.io/v1/namespaces/default/events", {
            "metadata": {"name": "x"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "regarding": {"kind": "ConfigMap", "name": "subject"}, "type": "Normal"})
        self.assertEqual((st, bad["reason"]), (422, "Invalid"))

    def test_log_file_gets_json_lines(self):
        self.w.api("GET", CM)

        def logged():
            # The line is written just after the response goes out: wait for it.
            with open(os.path.join(self.w.tmp, "world.log")) as f:
                recs = [json.loads(line) for line in f if line.strip()]
            return any(r.get("path") == CM and r.get("status") == 200 for r in recs)
        self.w.wait_for(logged, "the request in the log file")


if __name__ == "__main__":
    unittest.main()
