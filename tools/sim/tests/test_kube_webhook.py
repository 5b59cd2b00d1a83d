"""Admission webhooks called over HTTPS with the configuration's caBundle: denials reach
kubectl with the webhook's message, JSONPatch mutations apply before validation, service
references resolve through --service-port, failurePolicy and timeoutSeconds are honoured."""

import base64
import http.server
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
import unittest

from helpers import World, fixture, make_ca, make_cert


class _Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        self.server.calls.append((self.path.split("?")[0], req["operation"],
                                  req["object"]["metadata"].get("labels", {})))
        resp = {"uid": req["uid"], "allowed": True}
        path = self.path.split("?")[0]
        obj = req["object"]
        if path == "/validate":
            size = obj.get("spec", {}).get("size", 0)
            if size > 10:
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"code": 403, "reason": "Forbidden",
                                   "message": "size %d is over the limit 10" % size}}
            elif self.server.require_label and \
                    obj["metadata"].get("labels", {}).get("mutated") != "yes":
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"message": "not mutated first"}}
            else:
                resp["warnings"] = ["size is fine"]
        elif path == "/mutate":
            ops = [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}] \
                if not obj["metadata"].get("labels") else \
                [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif path == "/slow":
            time.sleep(3)
        elif path == "/baduid":
            resp["uid"] = "not-the-request-uid"
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="simhook-")
        make_ca(cls.pki, "hook-ca")
        make_cert(cls.pki, "hook", ["DNS:hook.default.svc", "IP:127.0.0.1", "DNS:localhost"])
        with open(os.path.join(cls.pki, "ca.crt"), "rb") as f:
            cls.ca_bundle = base64.b64encode(f.read()).decode()
        other = os.path.join(cls.pki, "other")
        make_ca(other, "unrelated-ca")
        with open(os.path.join(other, "ca.crt"), "rb") as f:
            cls.wrong_bundle = base64.b64encode(f.read()).decode()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def setUp(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        srv.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.pki, "hook.crt"),
                            os.path.join(self.pki, "hook.key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.calls = []
        srv.require_label = False
        self.hook = srv
        self.port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.w = World(["--service-port", "default/hook=%d" % self.port])
        self.w.kubectl_ok("apply", "-f", fixture("widgets-crd.yaml"))

    def tearDown(self):
        self.hook.shutdown()
        self.hook.server_close()
        self.assertEqual(self.w.stop(), 0)

    def config(self, kind, name, client, failure="Fail", timeout=None, ca=None):
        hook = {"name": name, "clientConfig": dict(client, caBundle=ca or self.ca_bundle),
                "rules": [{"operations": ["CREATE", "UPDATE"],
                           "apiGroups": ["test.opentools.mf"], "apiVersions": ["v1"],
                           "resources": ["widgets"]}],
                "failurePolicy": failure, "sideEffects": "None",
                "admissionReviewVersions": ["v1"]}
        if timeout:
            hook["timeoutSeconds"] = timeout
        cfg = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
               "metadata": {"name": name}, "webhooks": [hook]}
        self.w.kubectl_ok("apply", "-f", "-", input=json.dumps(cfg))

    def widget(self, name, size):
        return self.w.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "test.opentools.mf/v1", "kind": "Widget",
            "metadata": {"name": name}, "spec": {"pool": "p", "size": size}}))

    def url(self, path):
        return {"url": "https://127.0.0.1:%d%s" % (self.port, path)}

    def test_rejection_reaches_kubectl_with_the_webhook_message(self):
        self.config("ValidatingWebhookConfiguration", "vwidget.test.opentools.mf",
                    self.url("/validate"))
        r = self.widget("big", 50)
        self.assertNotEqual(r.rc, 0)
        self.assertIn('Error from server (Forbidden): error when creating "STDIN": admission '
                      'webhook "vwidget.test.opentools.mf" denied the request: size 50 is '
                      'over the limit 10', r.err)
        self.assertEqual(self.w.api("GET", "/apis/test.opentools.mf/v1/namespaces/default/"
                                    "widgets/big")[0], 404)
        r = self.widget("small", 5)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Warning: size is fine", r.err)
        # Updates are reviewed too.
        r = self.widget("small", 11)
        self.assertIn("size 11 is over the limit 10", r.err)
        self.assertEqual(self.hook.calls[-1][1], "UPDATE")

    def test_service_reference_and_mutation_before_validation(self):
        self.hook.require_label = True
        self.config("ValidatingWebhookConfiguration", "vwidget.test.opentools.mf",
                    {"service": {"namespace": "default", "name": "hook",
                                 "path": "/validate", "port": 443}})
        self.config("MutatingWebhookConfiguration", "mwidget.test.opentools.mf",
                    {"service": {"namespace": "default", "name": "hook", "path": "/mutate"}})
        r = self.widget("m", 1)
        self.assertEqual(r.rc, 0, r)
        o = self.w.kubectl_json("get", "widget", "m")
        self.assertEqual(o["metadata"]["labels"], {"mutated": "yes"})
        self.assertEqual([c[0] for c in self.hook.calls], ["/mutate", "/validate"])

    def test_failure_policy_fail_and_ignore(self):
        dead = {"url": "https://127.0.0.1:1/validate"}
        self.config("ValidatingWebhookConfiguration", "dead.test.opentools.mf", dead,
                    failure="Fail")
        r = self.widget("a", 1)
        self.assertNotEqual(r.rc, 0)
        self.assertIn('failed calling webhook "dead.test.opentools.mf"', r.err)
        self.assertIn("InternalError", r.err)
        self.config("ValidatingWebhookConfiguration", "dead.test.opentools.mf", dead,
                    failure="Ignore")
        r = self.widget("a", 1)
        self.assertEqual(r.rc, 0, r)

    def test_certificate_must_chain_to_the_ca_bundle(self):
        self.config("ValidatingWebhookConfiguration", "vwidget.test.opentools.mf",
                    self.url("/validate"), ca=self.wrong_bundle)
        r = self.widget("a", 1)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("certificate verify failed", r.err)
        self.assertEqual(self.hook.calls, [])

    def test_timeout_seconds_bounds_the_call(self):
        self.config("ValidatingWebhookConfiguration", "slow.test.opentools.mf",
                    self.url("/slow"), timeout=1)
        r = self.widget("a", 1)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("context deadline exceeded", r.err)

    def test_response_uid_must_match(self):
        self.config("ValidatingWebhookConfiguration", "uid.test.opentools.mf",
                    self.url("/baduid"))
        r = self.widget("a", 1)
        self.assertNotEqual(r.rc, 0)
        self.assertIn('expected response.uid=', r.err)

    def test_unmatched_resources_are_not_sent(self):
        self.config("ValidatingWebhookConfiguration", "vwidget.test.opentools.mf",
                    self.url("/validate"))
        self.w.kubectl_ok("create", "configmap", "plain")
        self.assertEqual(self.hook.calls, [])


if __name__ == "__main__":
    unittest.main()
