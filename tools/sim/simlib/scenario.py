"""scenario.py - loads a scenario file (tools/sim/scenarios/*.json) into a running world.

Format (every key optional; documented in tools/sim/README.md, "Scenario files"):

{
  "description": "free text",
  "storageClasses": ["standard", "fast-ssd"],        # replaces the kubelet's set
  "namespaces": ["ci-agents"],
  "secrets": [{"namespace": "default", "name": "azdo-pat", "stringData": {"token": "..."}}],
  "objects": [<any core/v1 manifest: Pod, ConfigMap, Secret, PersistentVolumeClaim, ...>],
  "orgs": [{"name": "demo-org", "pat": "...", "readOnlyPats": [], "pools":
             ["linux-basic", {"name": "my-pool", "id": 42}]}],
  "agents": [{"org": "demo-org", "pool": "my-pool", "name": "my-pool-template",
              "status": "offline", "enabled": true, "capabilities": {"java": "17"}}],
  "history": [{"org": "demo-org", "pool": "my-pool", "count": 4990, "result": "succeeded"}],
  "faults": {<POST /_sim/faults body>},
  "timeline": [{"at": 30, "faults": {<POST /_sim/faults body>}}],
  "nextRequestId": 101,
  "jobs": [{"at": 5, "org": "demo-org", "pool": "linux-basic", "demands": ["java"],
            "durationSeconds": 30, "count": 3, "result": "succeeded",
            "every": 10, "times": 4},
           {"org": "o", "pool": "p", "demands": [], "agent": "p-agent-3",
            "queueOn": {"method": "GET", "pathContains": "/agents"}}]
}

"at" is seconds after the scenario is loaded; "every"/"times" repeat the arrival. A job with
"queueOn" is queued instead right after the first REST call that matches (see README).
"""

import base64
import json
import os
import time

from .control import ControlError

KIND_RESOURCE = {
    "Pod": "pods", "Secret": "secrets", "ConfigMap": "configmaps", "Namespace": "namespaces",
    "PersistentVolumeClaim": "persistentvolumeclaims", "Service": "services",
    "Event": "events",
}


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the entry."""


def load_file(path):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as e:
        raise ScenarioError("cannot read scenario %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise ScenarioError("scenario %s is not valid JSON: %s" % (path, e))
    if not isinstance(data, dict):
        raise ScenarioError("scenario %s must be a JSON object" % path)
    return data


def apply(svc, data, source="scenario"):
    """Applies a parsed scenario to the service; returns a summary dict."""
    known = {"description", "storageClasses", "namespaces", "secrets", "objects", "orgs",
             "agents", "history", "faults", "jobs", "name", "timeline", "nextRequestId",
             "notes"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError("%s: unknown keys %s (valid: %s)" % (source, ", ".join(unknown),
                                                                 ", ".join(sorted(known))))
    ctl = svc.control
    w = svc.world
    summary = {"source": source, "orgs": {}, "jobsScheduled": 0, "secrets": 0, "objects": 0}
    try:
        if "storageClasses" in data and svc.kubelet is not None:
            classes = getattr(svc.kubelet, "storage_classes", None)
            if isinstance(classes, set):
                classes.clear()
                classes.update(data["storageClasses"])
        for ns in data.get("namespaces") or []:
            _create(svc, "namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": ns}})
        for s in data.get("secrets") or []:
            ns = s.get("namespace") or "default"
            obj = {"apiVersion": "v1", "kind": "Secret", "type": s.get("type", "Opaque"),
                   "metadata": {"name": s["name"], "namespace": ns},
                   "data": {k: base64.b64encode(str(v).encode()).decode()
                            for k, v in (s.get("stringData") or {}).items()}}
            obj["data"].update(s.get("data") or {})
            _create(svc, "secrets", ns, obj)
            summary["secrets"] += 1
        for obj in data.get("objects") or []:
            kind = obj.get("kind")
            res = KIND_RESOURCE.get(kind)
            if res is None:
                raise ScenarioError("%s: objects of kind %r are not supported" % (source, kind))
            ns = None if kind == "Namespace" else \
                (obj.get("metadata") or {}).get("namespace") or "default"
            _create(svc, res, ns, obj)
            summary["objects"] += 1
        for o in data.get("orgs") or []:
            if not isinstance(o, dict) or not o.get("name"):
                raise ScenarioError("%s: every org needs a name" % source)
            body = {k: v for k, v in o.items() if k != "name"}
            summary["orgs"][o["name"]] = ctl.create_org(o["name"], body)["pools"]
        for a in data.get("agents") or []:
            pool = _pool(w, a, source)
            body = {k: v for k, v in a.items() if k not in ("org", "pool")}
            ctl.add_agent(pool, body)
        for h in data.get("history") or []:
            pool = _pool(w, h, source)
            with w.lock:
                w.add_history(pool, int(h.get("count", 1)), h.get("demands"),
                              h.get("result", "succeeded"), float(h.get("ageSeconds", 3600)),
                              float(h.get("durationSeconds", 60)))
        if "nextRequestId" in data:   # after the history, which takes ids of its own
            with w.lock:
                w.set_next_request_id(int(data["nextRequestId"]))
        if data.get("faults"):
            ctl.apply_faults(data["faults"])
        start = time.time()
        for t in data.get("timeline") or []:
            faults = t.get("faults")
            if not isinstance(faults, dict):
                raise ScenarioError("%s: every timeline entry needs \"faults\"" % source)
            ctl.check_fault_keys(faults)
            svc.schedule_faults(start + float(t.get("at", 0)), faults)
        for j in data.get("jobs") or []:
            pool = _pool(w, j, source)
            if "queueOn" in j:
                ctl.queue_jobs(pool, {k: v for k, v in j.items() if k not in ("org", "pool",
                                                                              "at")})
                summary["jobsScheduled"] += int(j.get("count", 1))
                continue
            body = {k: v for k, v in j.items()
                    if k in ("demands", "durationSeconds", "count", "result", "agent",
                             "exactDemands", "definition")}
            at = float(j.get("at", 0))
            every = float(j.get("every", 0) or 0)
            times = int(j.get("times", 1) or 1) if every > 0 else 1
            for i in range(times):
                when = start + at + i * every
                svc.schedule_arrival(when, pool, body)
                summary["jobsScheduled"] += int(body.get("count", 1))
    except ControlError as e:
        raise ScenarioError("%s: %s" % (source, e.message))
    except (KeyError, TypeError, ValueError) as e:
        raise ScenarioError("%s: malformed entry (%s: %s)" % (source, type(e).__name__, e))
    return summary


def _pool(world, entry, source):
    with world.lock:
        org = world.org(entry.get("org") or "")
        if org is None:
            raise ScenarioError("%s: unknown org %r (declare it under \"orgs\" first)" % (
                source, entry.get("org")))
        pool = org.pools.get((entry.get("pool") or "").lower())
    if pool is None:
        raise ScenarioError("%s: unknown pool %r in org %s" % (source, entry.get("pool"),
                                                                org.name))
    return pool


def _create(svc, resource, ns, obj):
    """Creates a Kubernetes object, or replaces the data of an existing one (so loading the
    same scenario twice is harmless)."""
    store = svc.store
    if store is None:
        raise ScenarioError("this scenario needs the Kubernetes store")
    name = obj["metadata"]["name"]
    if store.get(resource, ns, name) is None:
        store.create(resource, ns, obj)
        return

    def upd(cur):
        for k in ("data", "stringData", "spec"):
            if k in obj:
                cur[k] = obj[k]
    store.mutate(resource, ns, name, upd)


def scenario_path(name, base=None):
    """A bare name ("demo") resolves to tools/sim/scenarios/<name>.json."""
    if os.path.exists(name):
        return name
    base = base or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scenarios")
    cand = os.path.join(base, name if name.endswith(".json") else name + ".json")
    return cand if os.path.exists(cand) else name
