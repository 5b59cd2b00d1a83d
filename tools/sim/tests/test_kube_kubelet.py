"""The simulated node: pods go Running with real-looking status, bad images back off,
PVCs bind or stay Pending with events, pods on unbound PVCs stay unschedulable, deletion
honours the grace period, crashed containers restart with CrashLoopBackOff."""

import json
import threading
import unittest

from helpers import InProcessWorld, World

PODS = "/api/v1/namespaces/default/pods"


def pod_yaml(name, image="busybox:1.36", init=False, pvc=None, grace=None):
    spec = {"containers": [{"name": "main", "image": image}]}
    if init:
        spec["initContainers"] = [{"name": "prep", "image": "busybox:1.36"}]
    if pvc:
        spec["volumes"] = [{"name": "work", "persistentVolumeClaim": {"claimName": pvc}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "work", "mountPath": "/w"}]
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": spec})


def pvc_yaml(name, sc):
    return json.dumps({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": name},
                       "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                                "resources": {"requests": {"storage": "1Gi"}}}})


class KubeletTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--pod-start-delay", "0.3", "--grace-scale", "0.2"])

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def status_col(self, name):
        out = self.w.kubectl_ok("get", "pod", name, "--no-headers").out.split()
        return out[2] if len(out) > 2 else None

    def test_pod_runs_with_kubelet_status(self):
        self.w.kubectl_ok("apply", "-f", "-", input=pod_yaml("web", init=True))
        self.w.wait_for(lambda: self.status_col("web") == "Running", "pod Running")
        p = self.w.kubectl_json("get", "pod", "web")
        st = p["status"]
        self.assertEqual(st["phase"], "Running")
        self.assertEqual({c["type"]: c["status"] for c in st["conditions"]},
                         {"PodReadyToStartContainers": "True", "Initialized": "True",
                          "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"})
        self.assertTrue(st["podIP"].startswith("10.244."))
        self.assertTrue(st["startTime"])
        self.assertEqual(p["spec"]["nodeName"], "sim-node")
        init = st["initContainerStatuses"][0]
        self.assertEqual((init["state"]["terminated"]["reason"],
                          init["state"]["terminated"]["exitCode"]), ("Completed", 0))
        cs = st["containerStatuses"][0]
        self.assertTrue(cs["ready"])
        self.assertIn("running", cs["state"])
        self.assertEqual(cs["restartCount"], 0)
        self.assertTrue(cs["containerID"].startswith("containerd://"))
        out = self.w.kubectl_ok("get", "pods").out.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertEqual(out[1].split()[:4], ["web", "1/1", "Running", "0"])

    def test_missing_image_goes_err_image_pull_then_backoff(self):
        self.w.kubectl_ok("run", "bad", "--image=registry.example/does-not-exist:1")
        self.w.wait_for(lambda: self.status_col("bad") == "ImagePullBackOff",
                        "ImagePullBackOff")
        p = self.w.kubectl_json("get", "pod", "bad")
        self.assertEqual(p["status"]["phase"], "Pending")
        out = self.w.kubectl_ok("describe", "pod", "bad").out
        self.assertIn("Error: ErrImagePull", out)
        self.assertRegex(out, r"Warning\s+Failed\s+.*Failed to pull image "
                              r"\"registry.example/does-not-exist:1\"")
        self.assertRegex(out, r"Normal\s+BackOff\s+.*Back-off pulling image")

    def test_unknown_storage_class_keeps_pvc_and_pod_pending(self):
        self.w.kubectl_ok("apply", "-f", "-", input=pvc_yaml("fast", "fast-ssd"))
        self.w.kubectl_ok("apply", "-f", "-", input=pvc_yaml("gold", "gold"))
        self.w.wait_for(lambda: "Bound" in self.w.kubectl_ok("get", "pvc", "fast").out,
                        "PVC with a known class bound")
        self.w.kubectl_ok("apply", "-f", "-", input=pod_yaml("needs-gold", pvc="gold"))
        self.w.kubectl_ok("apply", "-f", "-", input=pod_yaml("has-fast", pvc="fast"))
        self.w.wait_for(lambda: self.status_col("has-fast") == "Running", "pod on bound PVC")
        ev = self.w.wait_for(lambda: [e for e in self.w.kubectl_json(
            "get", "events", "--field-selector", "involvedObject.name=gold")["items"]
            if e["reason"] == "ProvisioningFailed"], "ProvisioningFailed event")
        self.assertEqual(ev[0]["message"], 'storageclass.storage.k8s.io "gold" not found')
        self.assertEqual(ev[0]["type"], "Warning")
        self.assertRegex(self.w.kubectl_ok("get", "pvc", "gold").out, r"gold\s+Pending")
        sched = self.w.wait_for(lambda: [c for c in self.w.kubectl_json(
            "get", "pod", "needs-gold")["status"].get("conditions", [])
            if c["type"] == "PodScheduled"], "PodScheduled condition")
        self.assertEqual((sched[0]["status"], sched[0]["reason"]), ("False", "Unschedulable"))
        self.assertIn("unbound immediate PersistentVolumeClaims", sched[0]["message"])
        self.assertEqual(self.status_col("needs-gold"), "Pending")
        out = self.w.kubectl_ok("describe", "pod", "needs-gold").out
        self.assertRegex(out, r"Warning\s+FailedScheduling")

    def test_delete_honours_grace_period_and_waits(self):
        self.w.kubectl_ok("apply", "-f", "-", input=pod_yaml("slow", grace=5))
        self.w.wait_for(lambda: self.status_col("slow") == "Running", "Running")
        r = self.w.kubectl_ok("delete", "pod", "slow", "--wait=false")
        self.assertIn('pod "slow" deleted', r.out)
        p = self.w.kubectl_json("get", "pod", "slow")    # still there, terminating
        self.assertEqual(p["metadata"]["deletionGracePeriodSeconds"], 5)
        self.assertEqual(self.status_col("slow"), "Terminating")
        self.w.kubectl_ok("wait", "--for=delete", "pod/slow", "--timeout=30s")
        self.assertEqual(self.w.api("GET", PODS + "/slow")[0], 404)

    def test_missing_secret_blocks_the_container(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sec"},
               "spec": {"containers": [{"name": "main", "image": "busybox", "env": [
                   {"name": "T", "valueFrom": {"secretKeyRef": {"name": "pat",
                                                                "key": "token"}}}]}]}}
        self.w.kubectl_ok("apply", "-f", "-", input=json.dumps(pod))
        self.w.wait_for(lambda: self.status_col("sec") == "CreateContainerConfigError",
                        "CreateContainerConfigError")
        self.w.kubectl_ok("create", "secret", "generic", "pat", "--from-literal=token=x")
        self.w.wait_for(lambda: self.status_col("sec") == "Running", "Running once it exists")


class CrashTest(unittest.TestCase):
    """Needs the kubelet object: runs the world in-process."""

    def setUp(self):
        self.w = InProcessWorld(start_delay=0.05, grace_scale=0.01)
        self.w.kubelet.backoff_scale = 0.05

    def tearDown(self):
        self.w.stop()

    def test_crash_restarts_with_crash_loop_backoff(self):
        self.w.store.create("pods", "default", {"metadata": {"name": "c"}, "spec": {
            "containers": [{"name": "main", "image": "busybox"}]}})

        def cs():
            p = self.w.store.get("pods", "default", "c")
            return (p["status"].get("containerStatuses") or [{}])[0]
        self.w.wait_for(lambda: "running" in cs().get("state", {}), "running")
        self.w.kubelet.crash_container("default", "c", exit_code=3, message="boom")
        self.w.wait_for(lambda: cs().get("restartCount") == 1 and
                        "running" in cs()["state"], "first restart (immediate)")
        self.assertEqual(cs()["lastState"]["terminated"]["exitCode"], 3)
        self.assertEqual(cs()["lastState"]["terminated"]["message"], "boom")
        seen = []
        self.w.store.add_listener(lambda t, r, o: seen.append(
            ((o.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {})
            .get("waiting", {}).get("reason")) if r == "pods" else None)
        self.w.kubelet.crash_container("default", "c", exit_code=1)
        self.w.wait_for(lambda: cs().get("restartCount") == 2 and "running" in cs()["state"],
                        "second restart after back-off")
        self.assertIn("CrashLoopBackOff", seen)
        out = self.w.kubectl_ok("get", "pod", "c", "--no-headers").out.split()
        self.assertEqual(out[3], "2")

    def test_termination_listener_sees_sigterm_moment(self):
        got = []
        self.w.kubelet.add_termination_listener(lambda p: got.append(p["metadata"]["name"]))
        self.w.store.create("pods", "default", {"metadata": {"name": "t"}, "spec": {
            "containers": [{"name": "main", "image": "busybox"}]}})
        self.w.wait_for(lambda: self.w.store.get("pods", "default", "t")["status"]
                        ["phase"] == "Running", "running")
        done = threading.Event()
        self.w.store.add_listener(lambda t, r, o: done.set() if t == "DELETED" and
                                  r == "pods" else None)
        self.w.store.delete("pods", "default", "t")
        self.assertTrue(done.wait(20))
        self.assertEqual(got, ["t"])
        self.assertIsNone(self.w.store.get("pods", "default", "t"))


if __name__ == "__main__":
    unittest.main()
