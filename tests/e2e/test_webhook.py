"""Admission through the operator's own webhooks: certificates created by the operator, caBundle
injected into the webhook configurations, an invalid RunnerPool refused at `kubectl apply` with
the field and the fix, and a minimal one stored with its defaults."""

import json
import unittest

from harness import World, free_port
from pools import runnerpool, setup_org


def webhook_configs(port):
    def hook(kind, name, path):
        return {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": "azdo-runner-operator"},
            "webhooks": [{
                "name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "failurePolicy": "Fail", "timeoutSeconds": 10,
                "clientConfig": {"url": "https://127.0.0.1:%d%s" % (port, path)},
                "rules": [{"apiGroups": ["devops.opentools.mf"], "apiVersions": ["v1"],
                           "operations": ["CREATE", "UPDATE"], "resources": ["runnerpools"]}],
            }],
        }
    return [json.dumps(hook("MutatingWebhookConfiguration",
                            "mutate.runnerpools.devops.opentools.mf", "/mutate-runnerpool")),
            json.dumps(hook("ValidatingWebhookConfiguration",
                            "validate.runnerpools.devops.opentools.mf", "/validate-runnerpool"))]


class Webhooks(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.w = World(start_operator=False)
        self.addCleanup(self.w.close)
        setup_org(self.w)
        for manifest in webhook_configs(self.port):
            self.w.kubectl("apply", "-f", "-", input=manifest)
        self.w.start_operator(["--webhook-port", str(self.port), "--webhook-san", "127.0.0.1"])

    def bundles_injected(self):
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            obj = self.w.kubectl_json("get", kind, "azdo-runner-operator")
            if not obj["webhooks"][0]["clientConfig"].get("caBundle"):
                return False
        return True

    def test_invalid_pool_refused_with_field_and_fix(self):
        w = self.w
        w.wait_until("caBundle injected by the operator", self.bundles_injected)
        bad = json.loads(runnerpool(w, "bad", "linux", minAgents=5, maxAgents=2,
                                    pvcs=[{"name": "w", "mountPath": "/a", "storage": "1Gi"},
                                          {"name": "c", "mountPath": "/a", "storage": "1Gi"}]))
        p = w.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
        self.assertNotEqual(p.returncode, 0)
        # kubectl prints a 422 with causes as "... is invalid: * field: message", one per line.
        self.assertIn("invalid", p.stderr)
        self.assertIn("spec.minAgents", p.stderr)
        self.assertIn("spec.pvcs[1].mountPath", p.stderr)
        self.assertEqual(w.kubectl("get", "runnerpool", "bad", check=False).returncode, 1)

    def test_minimal_pool_gets_defaults(self):
        w = self.w
        w.wait_until("caBundle injected by the operator", self.bundles_injected)
        minimal = json.loads(runnerpool(w, "mini", "linux"))
        minimal["spec"]["pvcs"] = [{"name": "work", "mountPath": "/azp/_work",
                                    "storage": "1Gi"}]
        w.kubectl("apply", "-f", "-", input=json.dumps(minimal))
        spec = w.kubectl_json("get", "runnerpool", "mini")["spec"]
        self.assertEqual(spec["maxAgents"], 10)
        self.assertEqual(spec["minAgents"], 0)
        self.assertEqual(spec["ttlIdleSeconds"], 0)
        self.assertEqual(spec["initContainer"]["image"], "busybox:latest")
        self.assertEqual(spec["securityContext"], {"runAsUser": 1000, "runAsGroup": 1000,
                                                   "fsGroup": 1000})
        self.assertTrue(spec["pvcs"][0]["createPvc"])
        self.assertFalse(spec["pvcs"][0]["deleteWithAgent"])


if __name__ == "__main__":
    unittest.main()
