"""kubelet.py - a simulated node: scheduler, volume provisioner and kubelet in one.

It watches the store (through a listener) and drives pods and PVCs the way the real control
plane and one node do, writing status with KubeStore.mutate and events with record_event:

- PVC: storage class in `storage_classes` (a missing class means "standard", the default
  class) -> Bound; otherwise Pending plus a ProvisioningFailed Warning event
  (`storageclass.storage.k8s.io "X" not found`). Pending PVCs are retried, so adding a class
  to storage_classes later binds them.
- Pod: a pod that mounts a missing or unbound PVC stays Pending, PodScheduled=False
  (Unschedulable) with a FailedScheduling event; otherwise it is bound to node `sim-node`,
  and after start_delay_s init containers run to completion, then the containers run:
  phase Running, conditions and containerStatuses as the real kubelet writes them. An image
  containing `does-not-exist` ends in ErrImagePull then ImagePullBackOff with events. A
  missing Secret/ConfigMap in env or volumes blocks the container (CreateContainerConfigError
  or FailedMount), as in a real cluster.
- crash_container(): the container terminates; it restarts (restartCount+1) after a
  CrashLoopBackOff delay of 10 s doubling to 300 s (times backoff_scale), unless
  restartPolicy says otherwise.
- Deletion: when a pod gets deletionTimestamp the termination listeners run (the SIGTERM
  moment); after terminationGracePeriodSeconds * grace_scale (or finish_termination()) the
  kubelet deletes it with grace 0 and it disappears (finalizers permitting).

Public: Kubelet(store, faults, start_delay_s=1.0, grace_scale=1.0); .storage_classes (set);
.crash_container(ns, pod, exit_code=1, reason="Error", message=""); .finish_termination(ns,
pod); .add_termination_listener(fn); .start(); .stop(); attributes backoff_scale (1.0),
node_name ("sim-node").
"""

import hashlib
import heapq
import itertools
import threading
import time

from . import kube_errors as E
from .kube_store import now_rfc3339

NODE = "sim-node"
HOST_IP = "172.18.0.2"


class _PodState:
    def __init__(self, ns, name, uid):
        self.ns = ns
        self.name = name
        self.uid = uid
        self.stage = "new"         # new -> unschedulable|scheduled -> init -> running
        self.notified_term = False
        self.term_task = None
        self.ip = None
        self.backoff_until = {}    # container name -> unix time of the next restart
        self.pull_failed = set()


class Kubelet:
    def __init__(self, store, faults, start_delay_s=1.0, grace_scale=1.0):
        self.store = store
        self.faults = faults
        self.start_delay_s = float(start_delay_s)
        self.grace_scale = float(grace_scale)
        self.backoff_scale = 1.0
        self.node_name = NODE
        self.storage_classes = {"standard", "fast-ssd", "premium-ssd"}
        self.default_storage_class = "standard"
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._heap = []
        self._seq = itertools.count()
        self._pods = {}            # uid -> _PodState
        self._waiting_pvcs = set()  # (ns, name) of PVCs that could not be provisioned
        self._unscheduled = set()   # pod uids waiting for volumes
        self._term_listeners = []
        self._ip_seq = itertools.count(2)
        self._stop = False
        self._thread = None
        store.add_listener(self._on_event)

    # ---------------------------------------------------------------- public
    def add_termination_listener(self, fn):
        self._term_listeners.append(fn)

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="kubelet", daemon=True)
            self._thread.start()
            self._at(0.0, self._retry_loop)
            # Objects created before start() (scenario files) are picked up here.
            for pvc in self.store.list_refs("persistentvolumeclaims")[0]:
                self._at(0.0, self._provision, pvc["metadata"]["namespace"],
                         pvc["metadata"]["name"])
            for pod in self.store.list_refs("pods")[0]:
                self._track_new(pod)

    def stop(self):
        with self._cv:
            self._stop = True
            self._cv.notify()

    def crash_container(self, namespace, pod_name, exit_code=1, reason="Error", message="",
                        container=None):
        """The pod's main (or named) container exits with exit_code; kubelet restarts it
        with CrashLoopBackOff delays per restartPolicy."""
        self._at(0.0, self._crash, namespace, pod_name, container, int(exit_code), reason,
                 message)

    def finish_termination(self, namespace, pod_name):
        """A terminating pod's containers have exited before the grace period ran out: the
        pod goes now."""
        self._at(0.0, self._remove_terminated, namespace, pod_name, None)

    # ---------------------------------------------------------------- scheduling
    def _at(self, delay, fn, *args):
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._seq),
                                        fn, args))
            self._cv.notify()

    def _loop(self):
        while True:
            with self._cv:
                while not self._stop:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    wait = (self._heap[0][0] - time.monotonic()) if self._heap else 1.0
                    self._cv.wait(max(0.005, min(wait, 1.0)))
                if self._stop:
                    return
                _, _, fn, args = heapq.heappop(self._heap)
            try:
                fn(*args)
            except E.ApiError:
                pass
            except Exception:  # keep the node alive whatever one pod does
                import traceback
                traceback.print_exc()

    def _retry_loop(self):
        for ns, name in list(self._waiting_pvcs):
            self._provision(ns, name)
        for uid in list(self._unscheduled):
            st = self._pods.get(uid)
            if st is not None:
                self._schedule(st)
        self._at(1.0, self._retry_loop)

    # ---------------------------------------------------------------- listener
    def _on_event(self, etype, resource, obj):
        """Runs in the writer's thread: only enqueue work here."""
        md = obj.get("metadata", {})
        if resource == "persistentvolumeclaims":
            if etype == "ADDED":
                self._at(0.0, self._provision, md.get("namespace"), md.get("name"))
            elif etype == "DELETED":
                self._waiting_pvcs.discard((md.get("namespace"), md.get("name")))
            return
        if resource != "pods":
            return
        uid = md.get("uid")
        if etype == "ADDED":
            self._track_new(obj)
        elif etype == "MODIFIED":
            st = self._pods.get(uid)
            if st is not None and md.get("deletionTimestamp") and not st.notified_term:
                st.notified_term = True
                self._at(0.0, self._begin_termination, uid, obj)
        elif etype == "DELETED":
            st = self._pods.pop(uid, None)
            self._unscheduled.discard(uid)
            if st is not None and not st.notified_term and st.stage in ("running", "init"):
                st.notified_term = True
                self._at(0.0, self._notify_term, obj)

    def _track_new(self, pod):
        md = pod["metadata"]
        if md["uid"] in self._pods:
            return
        st = _PodState(md.get("namespace"), md["name"], md["uid"])
        if (pod.get("spec") or {}).get("nodeName"):
            st.stage = "scheduled"
        self._pods[md["uid"]] = st
        if md.get("deletionTimestamp"):
            st.notified_term = True
            self._at(0.0, self._begin_termination, md["uid"], pod)
        elif st.stage == "scheduled":
            self._at(self.start_delay_s, self._start_containers, st)
        else:
            self._at(0.0, self._schedule, st)

    # ---------------------------------------------------------------- PVCs
    def _provision(self, ns, name):
        pvc = self.store.get_ref("persistentvolumeclaims", ns, name)
        if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
            self._waiting_pvcs.discard((ns, name))
            return
        sc = (pvc.get("spec") or {}).get("storageClassName")
        if sc is None:
            sc = self.default_storage_class
        if sc not in self.storage_classes:
            first = (ns, name) not in self._waiting_pvcs
            self._waiting_pvcs.add((ns, name))
            if first:
                self.store.record_event(ns, pvc, "Warning", "ProvisioningFailed",
                                        'storageclass.storage.k8s.io "%s" not found' % sc,
                                        source="persistentvolume-controller")
            return
        self._waiting_pvcs.discard((ns, name))
        req = ((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}
        uid = pvc["metadata"]["uid"]

        def bind(o):
            spec = o.setdefault("spec", {})
            spec["storageClassName"] = sc
            spec["volumeName"] = "pvc-" + uid
            ann = o["metadata"].setdefault("annotations", {})
            ann["pv.kubernetes.io/bind-completed"] = "yes"
            ann["pv.kubernetes.io/bound-by-controller"] = "yes"
            ann["volume.kubernetes.io/storage-provisioner"] = "sim.csi.opentools.mf"
            o["status"] = {"phase": "Bound",
                           "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                           "capacity": {"storage": req.get("storage", "1Gi")}}
        self.store.mutate("persistentvolumeclaims", ns, name, bind)
        self.store.record_event(ns, pvc, "Normal", "ProvisioningSucceeded",
                                "Successfully provisioned volume pvc-%s" % uid,
                                source="sim.csi.opentools.mf")

    # ---------------------------------------------------------------- pods
    def _pod(self, st):
        pod = self.store.get_ref("pods", st.ns, st.name)
        if pod is None or pod["metadata"]["uid"] != st.uid:
            return None
        return pod

    def _schedule(self, st):
        pod = self._pod(st)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            self._unscheduled.discard(st.uid)
            return
        if (pod.get("spec") or {}).get("nodeName"):
            self._unscheduled.discard(st.uid)
            return
        problem = None
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.store.get_ref("persistentvolumeclaims", st.ns, claim)
            if pvc is None:
                problem = ('0/1 nodes are available: persistentvolumeclaim "%s" not found. '
                           'preemption: 0/1 nodes are available: 1 Preemption is not helpful '
                           'for scheduling.' % claim)
                break
            if (pvc.get("status") or {}).get("phase") != "Bound":
                problem = ("0/1 nodes are available: pod has unbound immediate "
                           "PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 "
                           "Preemption is not helpful for scheduling.")
                break
        now = now_rfc3339()
        if problem:
            first = st.uid not in self._unscheduled
            self._unscheduled.add(st.uid)
            if first:
                def unsched(o):
                    o["status"]["phase"] = "Pending"
                    _set_cond(o, "PodScheduled", "False", now, "Unschedulable", problem)
                self.store.mutate("pods", st.ns, st.name, unsched)
                self.store.record_event(st.ns, pod, "Warning", "FailedScheduling", problem,
                                        source="default-scheduler")
            return
        self._unscheduled.discard(st.uid)
        st.stage = "scheduled"
        n = next(self._ip_seq)
        st.ip = "10.244.%d.%d" % ((n // 250) % 250, n % 250 + 2)
        has_init = bool(pod["spec"].get("initContainers"))

        def bind(o):
            o["spec"]["nodeName"] = self.node_name
            s = o["status"]
            s["phase"] = "Pending"
            _set_cond(o, "PodScheduled", "True", now)
            _set_cond(o, "PodReadyToStartContainers", "False", now)
            if has_init:
                names = [c["name"] for c in o["spec"]["initContainers"]]
                _set_cond(o, "Initialized", "False", now, "ContainersNotInitialized",
                          "containers with incomplete status: [%s]" % " ".join(names))
            else:
                _set_cond(o, "Initialized", "True", now)
            names = " ".join(c["name"] for c in o["spec"]["containers"])
            _set_cond(o, "Ready", "False", now, "ContainersNotReady",
                      "containers with unready status: [%s]" % names)
            _set_cond(o, "ContainersReady", "False", now, "ContainersNotReady",
                      "containers with unready status: [%s]" % names)
            s["hostIP"] = HOST_IP
            s["hostIPs"] = [{"ip": HOST_IP}]
            s["startTime"] = now
            if has_init:
                s["initContainerStatuses"] = [
                    _cstatus(c, {"waiting": {"reason": "PodInitializing"}})
                    for c in o["spec"]["initContainers"]]
            s["containerStatuses"] = [
                _cstatus(c, {"waiting": {"reason": "PodInitializing" if has_init
                                         else "ContainerCreating"}})
                for c in o["spec"]["containers"]]
        self.store.mutate("pods", st.ns, st.name, bind)
        self.store.record_event(st.ns, pod, "Normal", "Scheduled",
                                "Successfully assigned %s/%s to %s"
                                % (st.ns, st.name, self.node_name),
                                source="default-scheduler")
        self._at(self.start_delay_s * (0.5 if has_init else 1.0), self._start_containers, st)

    def _missing_refs(self, pod, containers):
        """(event reason, message, waiting reason) for the first Secret/ConfigMap the pod
        needs but the namespace lacks, else None."""
        ns = pod["metadata"]["namespace"]
        for v in (pod.get("spec") or {}).get("volumes") or []:
            for kind, res, field in (("secret", "secrets", "secretName"),
                                     ("configMap", "configmaps", "name")):
                src = v.get(kind)
                if src and not src.get("optional") and src.get(field) and \
                        self.store.get_ref(res, ns, src[field]) is None:
                    what = "secret" if kind == "secret" else "configmap"
                    return ("FailedMount", 'MountVolume.SetUp failed for volume "%s" : %s "%s" '
                            'not found' % (v.get("name"), what, src[field]), "ContainerCreating")
        for c in containers:
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                for kind, res in (("secretKeyRef", "secrets"), ("configMapKeyRef",
                                                                 "configmaps")):
                    ref = vf.get(kind)
                    if not ref or ref.get("optional"):
                        continue
                    o = self.store.get_ref(res, ns, ref.get("name", ""))
                    what = "secret" if res == "secrets" else "configmap"
                    if o is None:
                        return ("Failed", 'Error: %s "%s" not found' % (what, ref.get("name")),
                                "CreateContainerConfigError")
                    if ref.get("key") not in (o.get("data") or {}):
                        return ("Failed", "Error: couldn't find key %s in %s %s/%s"
                                % (ref.get("key"), what.capitalize() if what == "secret"
                                   else "ConfigMap", ns, ref.get("name")),
                                "CreateContainerConfigError")
            for ef in c.get("envFrom") or []:
                for kind, res in (("secretRef", "secrets"), ("configMapRef", "configmaps")):
                    ref = ef.get(kind)
                    if ref and not ref.get("optional") and \
                            self.store.get_ref(res, ns, ref.get("name", "")) is None:
                        what = "secret" if res == "secrets" else "configmap"
                        return ("Failed", 'Error: %s "%s" not found' % (what, ref.get("name")),
                                "CreateContainerConfigError")
        return None

    def _start_containers(self, st):
        pod = self._pod(st)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        spec = pod["spec"]
        inits = spec.get("initContainers") or []
        init_done = all(((cs.get("state") or {}).get("terminated") or {}).get("reason") ==
                        "Completed" for cs in pod["status"].get("initContainerStatuses") or [])
        now = now_rfc3339()
        if inits and not init_done:
            blocked = self._missing_refs(pod, inits)
            if blocked:
                self._block(st, pod, blocked, init=True)
                return
            for c in inits:
                self._pull_events(st, pod, c)
            bad = [c for c in inits if "does-not-exist" in c.get("image", "")]
            if bad:
                self._image_pull_failure(st, pod, bad, init=True)
                return

            def init_ok(o):
                o["status"]["initContainerStatuses"] = [
                    _cstatus(c, {"terminated": {"exitCode": 0, "reason": "Completed",
                                                "startedAt": now, "finishedAt": now}},
                             started=False)
                    for c in inits]
                _set_cond(o, "Initialized", "True", now)
                _set_cond(o, "PodReadyToStartContainers", "True", now)
                o["status"]["podIP"] = st.ip
                o["status"]["podIPs"] = [{"ip": st.ip}]
            self.store.mutate("pods", st.ns, st.name, init_ok)
            st.stage = "init"
            self._at(self.start_delay_s * 0.5, self._start_containers, st)
            return
        blocked = self._missing_refs(pod, spec["containers"])
        if blocked:
            self._block(st, pod, blocked, init=False)
            return
        for c in spec["containers"]:
            self._pull_events(st, pod, c)
        bad = [c for c in spec["containers"] if "does-not-exist" in c.get("image", "")]
        if bad:
            self._image_pull_failure(st, pod, bad, init=False)
        good = [c for c in spec["containers"] if c not in bad]
        for c in good:
            self.store.record_event(st.ns, pod, "Normal", "Created",
                                    "Created container: %s" % c["name"])
            self.store.record_event(st.ns, pod, "Normal", "Started",
                                    "Started container %s" % c["name"])
        st.stage = "running"
        bad_names = {c["name"] for c in bad}

        def run(o):
            s = o["status"]
            statuses = {cs["name"]: cs for cs in s.get("containerStatuses") or []}
            out = []
            for c in o["spec"]["containers"]:
                if c["name"] in bad_names:
                    out.append(statuses.get(c["name"]) or _cstatus(c, {"waiting": {
                        "reason": "ErrImagePull"}}))
                else:
                    out.append(_cstatus(c, {"running": {"startedAt": now}}, ready=True,
                                        started=True, restarts=(statuses.get(c["name"]) or
                                                                {}).get("restartCount", 0)))
            s["containerStatuses"] = out
            s["podIP"] = st.ip
            s["podIPs"] = [{"ip": st.ip}]
            _set_cond(o, "PodReadyToStartContainers", "True", now)
            _set_cond(o, "Initialized", "True", now)
            if not bad_names:
                s["phase"] = "Running"
                _set_cond(o, "ContainersReady", "True", now)
                _set_cond(o, "Ready", "True", now)
        self.store.mutate("pods", st.ns, st.name, run)

    def _pull_events(self, st, pod, c):
        img = c.get("image", "")
        self.store.record_event(st.ns, pod, "Normal", "Pulling",
                                'Pulling image "%s"' % img)
        if "does-not-exist" not in img:
            self.store.record_event(st.ns, pod, "Normal", "Pulled",
                                    'Successfully pulled image "%s" in 1.2s (1.2s including '
                                    'waiting). Image size: 52428800 bytes.' % img)

    def _block(self, st, pod, blocked, init):
        ev_reason, msg, wait_reason = blocked
        self.store.record_event(st.ns, pod, "Warning", ev_reason, msg)
        field = "initContainerStatuses" if init else "containerStatuses"

        def wait(o):
            lst = o["spec"]["initContainers" if init else "containers"]
            o["status"][field] = [
                _cstatus(c, {"waiting": {"reason": wait_reason,
                                         "message": msg.replace("Error: ", "")}})
                for c in lst]
        self.store.mutate("pods", st.ns, st.name, wait)
        self._at(max(2.0, self.start_delay_s), self._start_containers, st)

    def _image_pull_failure(self, st, pod, bad, init):
        """ErrImagePull first, then ImagePullBackOff; retried with back-off, never succeeds
        (the image does not exist)."""
        field = "initContainerStatuses" if init else "containerStatuses"
        names = {c["name"] for c in bad}
        for c in bad:
            img = c["image"]
            if c["name"] not in st.pull_failed:
                msg = ('Failed to pull image "%s": rpc error: code = NotFound desc = failed '
                       'to pull and unpack image "%s": failed to resolve reference "%s": %s: '
                       'not found' % (img, img, img, img))
                self.store.record_event(st.ns, pod, "Warning", "Failed", msg)
                self.store.record_event(st.ns, pod, "Warning", "Failed", "Error: ErrImagePull")
        first = not (names <= st.pull_failed)
        st.pull_failed |= names

        def waiting(o):
            lst = o["spec"]["initContainers" if init else "containers"]
            cur = {cs["name"]: cs for cs in o["status"].get(field) or []}
            out = []
            for c in lst:
                if c["name"] in names:
                    if first:
                        w = {"reason": "ErrImagePull", "message":
                             'rpc error: code = NotFound desc = failed to pull and unpack '
                             'image "%s": not found' % c["image"]}
                    else:
                        w = {"reason": "ImagePullBackOff",
                             "message": 'Back-off pulling image "%s"' % c["image"]}
                    out.append(_cstatus(c, {"waiting": w}))
                else:
                    out.append(cur.get(c["name"]) or _cstatus(c, {"waiting": {
                        "reason": "PodInitializing" if init else "ContainerCreating"}}))
            o["status"][field] = out
            o["status"]["phase"] = "Pending"
        self.store.mutate("pods", st.ns, st.name, waiting)
        if first:
            self._at(max(0.5, self.start_delay_s), self._pull_backoff, st, [c["name"] for c
                                                                            in bad], init)

    def _pull_backoff(self, st, names, init):
        pod = self._pod(st)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        field = "initContainerStatuses" if init else "containerStatuses"
        imgs = {c["name"]: c["image"] for c in pod["spec"]["initContainers" if init
                                                          else "containers"]}
        for n in names:
            self.store.record_event(st.ns, pod, "Normal", "BackOff",
                                    'Back-off pulling image "%s"' % imgs.get(n, ""))
            self.store.record_event(st.ns, pod, "Warning", "Failed", "Error: ImagePullBackOff")

        def backoff(o):
            for cs in o["status"].get(field) or []:
                if cs["name"] in names:
                    cs["state"] = {"waiting": {"reason": "ImagePullBackOff", "message":
                                               'Back-off pulling image "%s"'
                                               % imgs.get(cs["name"], "")}}
        self.store.mutate("pods", st.ns, st.name, backoff)

    # ---------------------------------------------------------------- crashes
    def _crash(self, ns, name, container, exit_code, reason, message):
        pod = self.store.get_ref("pods", ns, name)
        if pod is None:
            return
        st = self._pods.get(pod["metadata"]["uid"])
        if st is None or st.stage != "running":
            return
        cname = container or pod["spec"]["containers"][0]["name"]
        policy = pod["spec"].get("restartPolicy", "Always")
        now = now_rfc3339()
        restart = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        cur = next((cs for cs in pod["status"].get("containerStatuses") or []
                    if cs["name"] == cname), None)
        if cur is None or "running" not in (cur.get("state") or {}):
            return
        restarts = cur.get("restartCount", 0)
        delay = 0.0 if restarts == 0 else min(10.0 * 2 ** (restarts - 1), 300.0)
        delay *= self.backoff_scale
        started = cur["state"]["running"].get("startedAt", now)
        term = {"exitCode": exit_code, "reason": reason if exit_code else "Completed",
                "startedAt": started, "finishedAt": now,
                "containerID": cur.get("containerID", "")}
        if message:
            term["message"] = message

        def crashed(o):
            s = o["status"]
            for cs in s.get("containerStatuses") or []:
                if cs["name"] != cname:
                    continue
                cs["ready"] = False
                cs["started"] = False
                if restart:
                    cs["lastState"] = {"terminated": term}
                    cs["restartCount"] = cs.get("restartCount", 0) + 1
                    if delay > 0:
                        cs["state"] = {"waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": "back-off %s restarting failed container=%s pod=%s_%s(%s)"
                                       % (_dur(delay / max(self.backoff_scale, 1e-9)), cname,
                                          name, ns, o["metadata"]["uid"])}}
                    else:
                        cs["state"] = {"running": {"startedAt": now}}
                        cs["ready"] = True
                        cs["started"] = True
                        cs["containerID"] = _cid(o["metadata"]["uid"], cname,
                                                 cs["restartCount"])
                else:
                    cs["state"] = {"terminated": term}
            all_ready = all(cs.get("ready") for cs in s.get("containerStatuses") or [])
            if not restart and all("terminated" in (cs.get("state") or {})
                                   for cs in s.get("containerStatuses") or []):
                codes = [cs["state"]["terminated"]["exitCode"] for cs in s["containerStatuses"]]
                s["phase"] = "Succeeded" if all(c == 0 for c in codes) else "Failed"
            if all_ready:
                _set_cond(o, "ContainersReady", "True", now)
                _set_cond(o, "Ready", "True", now)
            else:
                unready = " ".join(cs["name"] for cs in s.get("containerStatuses") or []
                                   if not cs.get("ready"))
                _set_cond(o, "ContainersReady", "False", now, "ContainersNotReady",
                          "containers with unready status: [%s]" % unready)
                _set_cond(o, "Ready", "False", now, "ContainersNotReady",
                          "containers with unready status: [%s]" % unready)
        self.store.mutate("pods", ns, name, crashed)
        if restart:
            if delay > 0:
                self.store.record_event(ns, pod, "Warning", "BackOff",
                                        "Back-off restarting failed container %s in pod %s_%s(%s)"
                                        % (cname, name, ns, pod["metadata"]["uid"]))
                self._at(delay, self._restart, ns, name, pod["metadata"]["uid"], cname)
            else:
                self.store.record_event(ns, pod, "Normal", "Pulled",
                                        'Container image "%s" already present on machine'
                                        % next(c["image"] for c in pod["spec"]["containers"]
                                               if c["name"] == cname))
                self.store.record_event(ns, pod, "Normal", "Created",
                                        "Created container: %s" % cname)
                self.store.record_event(ns, pod, "Normal", "Started",
                                        "Started container %s" % cname)

    def _restart(self, ns, name, uid, cname):
        pod = self.store.get_ref("pods", ns, name)
        if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get(
                "deletionTimestamp"):
            return
        now = now_rfc3339()

        def up(o):
            s = o["status"]
            for cs in s.get("containerStatuses") or []:
                if cs["name"] == cname and "waiting" in (cs.get("state") or {}):
                    cs["state"] = {"running": {"startedAt": now}}
                    cs["ready"] = True
                    cs["started"] = True
                    cs["containerID"] = _cid(uid, cname, cs.get("restartCount", 0))
            if all(cs.get("ready") for cs in s.get("containerStatuses") or []):
                s["phase"] = "Running"
                _set_cond(o, "ContainersReady", "True", now)
                _set_cond(o, "Ready", "True", now)
        self.store.mutate("pods", ns, name, up)
        img = next((c["image"] for c in pod["spec"]["containers"] if c["name"] == cname), "")
        self.store.record_event(ns, pod, "Normal", "Pulled",
                                'Container image "%s" already present on machine' % img)
        self.store.record_event(ns, pod, "Normal", "Started", "Started container %s" % cname)

    # ---------------------------------------------------------------- termination
    def _notify_term(self, pod):
        for fn in list(self._term_listeners):
            try:
                fn(pod)
            except Exception:
                import traceback
                traceback.print_exc()

    def _begin_termination(self, uid, pod):
        st = self._pods.get(uid)
        if st is not None and st.stage in ("running", "init", "scheduled"):
            for c in pod["spec"].get("containers") or []:
                self.store.record_event(st.ns, pod, "Normal", "Killing",
                                        "Stopping container %s" % c["name"])
        self._notify_term(pod)
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        self._at(float(grace) * self.grace_scale, self._remove_terminated,
                 pod["metadata"].get("namespace"), pod["metadata"]["name"], uid)

    def _remove_terminated(self, ns, name, uid):
        pod = self.store.get_ref("pods", ns, name)
        if pod is None or (uid is not None and pod["metadata"]["uid"] != uid):
            return
        if not pod["metadata"].get("deletionTimestamp"):
            return
        try:
            self.store.delete_ex("pods", ns, name, grace_period=0)
        except E.ApiError:
            pass


def _set_cond(pod, ctype, status, now, reason=None, message=None):
    conds = pod["status"].setdefault("conditions", [])
    for c in conds:
        if c["type"] == ctype:
            if c["status"] != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            c["lastProbeTime"] = None
            if reason:
                c["reason"] = reason
            else:
                c.pop("reason", None)
            if message:
                c["message"] = message
            else:
                c.pop("message", None)
            return
    c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conds.append(c)
    order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
             "PodScheduled"]
    conds.sort(key=lambda x: order.index(x["type"]) if x["type"] in order else 99)


def _cid(uid, cname, n):
    return "containerd://" + hashlib.sha256(("%s/%s/%d" % (uid, cname, n)).encode()).hexdigest()


def _image_id(image):
    name = image.split("@")[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in name.split("/")[0]:
        name = "docker.io/" + name
    return name + "@sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _cstatus(c, state, ready=False, started=None, restarts=0):
    img = c.get("image", "")
    cs = {"name": c["name"], "image": img, "imageID": "", "ready": ready,
          "restartCount": restarts, "state": state, "lastState": {}}
    if "running" in state or "terminated" in state:
        cs["imageID"] = _image_id(img)
        cs["containerID"] = _cid(c["name"], img, restarts)
    if started is not None:
        cs["started"] = started
    elif "waiting" in state:
        cs["started"] = False
    return cs


def _dur(s):
    s = int(s)
    if s < 60:
        return "%ds" % s
    return "%dm%ds" % (s // 60, s % 60)
