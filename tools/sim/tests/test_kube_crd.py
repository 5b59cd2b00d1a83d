"""Custom resources taught by `kubectl apply` of a CRD: defaults, pruning, strict field
validation, schema validation, printer columns, status subresource, finalizers, CRD deletion,
server-side apply."""

import json
import re
import time
import unittest

from helpers import World, fixture

WD = "/apis/test.opentools.mf/v1/namespaces/default/widgets"


def widget(name, **spec):
    return json.dumps({"apiVersion": "test.opentools.mf/v1", "kind": "Widget",
                       "metadata": {"name": name}, "spec": spec})


class CrdTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.w.kubectl_ok("apply", "-f", fixture("widgets-crd.yaml"))

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def test_apply_crd_then_cr_fills_defaults_and_prunes_unknown_fields(self):
        self.w.kubectl_ok("apply", "-f", fixture("widget-a.yaml"))
        obj = self.w.kubectl_json("get", "widget", "wid-a")
        self.assertEqual(obj["spec"]["size"], 3)              # default
        self.assertEqual(obj["spec"]["color"], "green")       # default
        self.assertEqual(obj["spec"]["options"], {"retries": 2})  # default {} cascades
        self.assertEqual(obj["spec"]["template"], {"anything": [1, 2]})  # preserved
        self.assertEqual(obj["metadata"]["generation"], 1)
        # Without strict validation unknown fields are pruned with a warning.
        r = self.w.kubectl_ok("apply", "--validate=warn", "-f", fixture("widget-unknown.yaml"))
        self.assertIn('unknown field "spec.bogus"', r.err)
        obj = self.w.kubectl_json("get", "widget", "wid-u")
        self.assertNotIn("bogus", obj["spec"])
        st, _, body = self.w.api("POST", WD, {"apiVersion": "test.opentools.mf/v1",
                                              "kind": "Widget", "metadata": {"name": "raw"},
                                              "spec": {"pool": "p", "extra": {"x": 1},
                                                       "options": {"junk": 1}},
                                              "status": {"state": "x"}, "top": 1})
        self.assertEqual(st, 201)
        self.assertNotIn("extra", body["spec"])
        self.assertNotIn("junk", body["spec"]["options"])
        self.assertNotIn("top", body)
        self.assertNotIn("status", body)   # status subresource: dropped on create

    def test_strict_field_validation_names_the_unknown_field(self):
        r = self.w.kubectl("apply", "-f", fixture("widget-unknown.yaml"))
        self.assertNotEqual(r.rc, 0)
        self.assertIn('strict decoding error: unknown field "spec.bogus"', r.err)
        self.assertIn("Error from server (BadRequest)", r.err)
        r = self.w.kubectl("get", "widget", "wid-u")
        self.assertIn('widgets.test.opentools.mf "wid-u" not found', r.err)

    def test_schema_validation_gives_422_with_field_paths(self):
        r = self.w.kubectl("apply", "-f", "-", input=widget("bad", pool="Bad Pool", size=101,
                                                            color="pink"))
        self.assertNotEqual(r.rc, 0)
        self.assertIn('The Widget "bad" is invalid', r.err)
        self.assertIn("spec.size: Invalid value: 101: spec.size in body should be less than or "
                      "equal to 100", r.err)
        self.assertIn('spec.color: Unsupported value: "pink": supported values: "red", '
                      '"green", "blue"', r.err)
        self.assertIn("spec.pool: Invalid value: \"Bad Pool\": spec.pool in body should match "
                      "'^[a-z][a-z0-9-]*$'", r.err)
        st, _, body = self.w.api("POST", WD, {"metadata": {"name": "nopool"}, "spec": {}})
        self.assertEqual((st, body["reason"]), (422, "Invalid"))
        self.assertEqual(body["details"]["causes"][0]["field"], "spec.pool")
        self.assertEqual(body["details"]["causes"][0]["reason"], "FieldValueRequired")
        st, _, body = self.w.api("POST", WD, {"metadata": {"name": "t"},
                                              "spec": {"pool": "p", "size": "big"}})
        self.assertEqual(st, 422)
        self.assertIn('spec.size: Invalid value: "string": spec.size in body must be of type '
                      'integer: "string"', body["message"])

    def test_kubectl_get_prints_printer_columns(self):
        self.w.kubectl_ok("apply", "-f", "-", input=widget("w1", pool="alpha", size=5,
                                                           color="red"))
        self.w.api("PATCH", WD + "/w1/status", {"status": {"state": "Ready"}},
                   ctype="application/merge-patch+json")
        out = self.w.kubectl_ok("get", "widgets").out.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "POOL", "SIZE", "STATE", "AGE"])
        cells = out[1].split()
        self.assertEqual(cells[:4], ["w1", "alpha", "5", "Ready"])
        self.assertRegex(cells[4], r"^\d+s$")
        wide = self.w.kubectl_ok("get", "wd", "-o", "wide").out.splitlines()
        self.assertEqual(wide[0].split()[-1], "COLOR")
        self.assertEqual(wide[1].split()[-1], "red")
        allns = self.w.kubectl_ok("get", "widgets", "-A").out.splitlines()
        self.assertEqual(allns[1].split()[:2], ["default", "w1"])
        one = self.w.kubectl_ok("get", "widget", "w1").out.splitlines()
        self.assertEqual(len(one), 2)
        st, _, table = self.w.api("GET", WD, headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual(table["kind"], "Table")
        self.assertEqual(table["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        self.assertEqual(table["rows"][0]["cells"][2], 5)

    def test_describe_shows_spec_and_events(self):
        self.w.kubectl_ok("apply", "-f", "-", input=widget("w2", pool="beta"))
        obj = self.w.kubectl_json("get", "widget", "w2")
        self.w.api("POST", "/api/v1/namespaces/default/events", {
            "metadata": {"name": "w2.1"},
            "involvedObject": {"apiVersion": "test.opentools.mf/v1", "kind": "Widget",
                               "name": "w2", "namespace": "default",
                               "uid": obj["metadata"]["uid"]},
            "reason": "Scaled", "message": "scaled to 3", "type": "Normal",
            "source": {"component": "widget-operator"}})
        out = self.w.kubectl_ok("describe", "widget", "w2").out
        self.assertRegex(out, r"Pool:\s+beta")
        self.assertRegex(out, r"Normal\s+Scaled\s+\S+\s+widget-operator\s+scaled to 3")

    def test_status_subresource_and_generation(self):
        self.w.kubectl_ok("apply", "-f", "-", input=widget("g", pool="p"))
        st, _, o = self.w.api("PATCH", WD + "/g/status",
                              {"status": {"state": "Busy", "observedGeneration": 1}},
                              ctype="application/merge-patch+json")
        self.assertEqual((o["status"]["state"], o["metadata"]["generation"]), ("Busy", 1))
        self.w.kubectl_ok("apply", "-f", "-", input=widget("g", pool="p", size=9))
        o = self.w.kubectl_json("get", "widget", "g")
        self.assertEqual(o["metadata"]["generation"], 2)
        self.assertEqual(o["status"]["state"], "Busy", "spec writes keep status")
        self.w.kubectl_ok("label", "widget", "g", "x=y")
        self.assertEqual(self.w.kubectl_json("get", "widget", "g")["metadata"]["generation"], 2)
        # PUT on the main resource cannot change status; PUT needs a resourceVersion.
        o["status"]["state"] = "Hacked"
        rv = o["metadata"].pop("resourceVersion")
        st, _, body = self.w.api("PUT", WD + "/g", o)
        self.assertEqual((st, body["reason"]), (422, "Invalid"))
        self.assertIn("must be specified for an update", body["message"])
        o["metadata"]["resourceVersion"] = rv
        st, _, body = self.w.api("PUT", WD + "/g", o)
        self.assertEqual(st, 409)  # the label write moved it on
        o = self.w.kubectl_json("get", "widget", "g")
        o["status"]["state"] = "Hacked"
        st, _, body = self.w.api("PUT", WD + "/g", o)
        self.assertEqual((st, body["status"]["state"]), (200, "Busy"))

    def test_finalizer_keeps_object_until_removed_and_kubectl_delete_waits(self):
        st, _, _ = self.w.api("POST", WD, {"metadata": {"name": "f",
                                                        "finalizers": ["test/cleanup"]},
                                           "spec": {"pool": "p"}})
        self.assertEqual(st, 201)
        r = self.w.kubectl_ok("delete", "widget", "f", "--wait=false")
        self.assertIn('widget.test.opentools.mf "f" deleted', r.out)
        o = self.w.kubectl_json("get", "widget", "f")
        self.assertTrue(o["metadata"]["deletionTimestamp"])
        # Adding a finalizer while terminating is forbidden.
        st, _, body = self.w.api("PATCH", WD + "/f", {"metadata": {"finalizers": [
            "test/cleanup", "test/other"]}}, ctype="application/merge-patch+json")
        self.assertEqual(st, 422)
        self.assertIn("no new finalizers can be added if the object is being deleted",
                      body["message"])
        # kubectl delete (waiting) returns once the finalizer goes: it watches for DELETED.
        import threading

        def release():
            time.sleep(1.5)
            self.w.api("PATCH", WD + "/f", [{"op": "remove", "path": "/metadata/finalizers"}],
                       ctype="application/json-patch+json")
        threading.Thread(target=release, daemon=True).start()
        r = self.w.kubectl("delete", "widget", "f", "--timeout=20s")
        self.assertEqual(r.rc, 0, r)
        st, _, _ = self.w.api("GET", WD + "/f")
        self.assertEqual(st, 404)

    def test_deleting_the_crd_removes_its_objects_and_api(self):
        self.w.kubectl_ok("apply", "-f", fixture("widget-a.yaml"))
        self.w.kubectl_ok("delete", "-f", fixture("widgets-crd.yaml"), "--timeout=20s")
        self.w.wait_for(lambda: self.w.api("GET", WD)[0] == 404, "widgets API to go")
        st, _, body = self.w.api("GET", "/apis/test.opentools.mf/v1")
        self.assertEqual(st, 404)

    def test_server_side_apply_creates_then_merges(self):
        r = self.w.kubectl_ok("apply", "--server-side", "-f", "-",
                              input=widget("ssa", pool="one"))
        self.assertIn("serverside-applied", r.out)
        r = self.w.kubectl_ok("apply", "--server-side", "-f", "-",
                              input=widget("ssa", pool="two", size=7))
        o = self.w.kubectl_json("get", "widget", "ssa")
        self.assertEqual((o["spec"]["pool"], o["spec"]["size"]), ("two", 7))

    def test_crd_with_bad_name_is_rejected(self):
        bad = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "wrong.test.opentools.mf"},
               "spec": {"group": "test.opentools.mf", "scope": "Namespaced",
                        "names": {"plural": "gadgets", "kind": "Gadget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
        r = self.w.kubectl("apply", "-f", "-", input=json.dumps(bad))
        self.assertNotEqual(r.rc, 0)
        self.assertTrue(re.search(r'must be spec.names.plural\+"."\+spec.group', r.err), r)


if __name__ == "__main__":
    unittest.main()
