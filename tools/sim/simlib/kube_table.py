"""kube_table.py - meta.k8s.io/v1 Table responses, as the real server builds them for kubectl.

Custom resources: a Name column, then the CRD version's additionalPrinterColumns evaluated
with a small JSONPath (dotted fields, [n], [*], [?(@.f=="v")], ['dotted.key']); a single Age
column when the CRD defines none. Built-in kinds: the columns kubectl users know (pods: NAME
READY STATUS RESTARTS AGE, wide: IP NODE ...). Dates are rendered as ages (5s, 3m, 2h, 4d)
the way kubectl's HumanDuration does.
"""

import json
import re
import time

from .kube_store import parse_time


def human_duration(seconds):
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return "%dm" % minutes if sec == 0 else "%dm%ds" % (minutes, sec)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age(ts, now=None):
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((now or time.time()) - t)


# ------------------------------------------------------------------ JSONPath
_TOKEN = re.compile(r"""\.\.?([A-Za-z0-9_\-$/]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\*|-?\d+)\s*\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(\S+?))\s*\)\]|\.(\*)""")


def jsonpath(obj, path):
    """Evaluate a simple JSONPath; returns the list of matched values."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    cur = [obj]
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m:
            return []
        pos = m.end()
        field = m.group(1) or m.group(2) or m.group(3)
        nxt = []
        if field is not None:
            for c in cur:
                if isinstance(c, dict) and field in c:
                    nxt.append(c[field])
        elif m.group(4) is not None:
            idx = m.group(4)
            for c in cur:
                if not isinstance(c, list):
                    continue
                if idx == "*":
                    nxt.extend(c)
                else:
                    i = int(idx)
                    if -len(c) <= i < len(c):
                        nxt.append(c[i])
        elif m.group(5) is not None:
            fpath, op = m.group(5), m.group(6)
            want = m.group(7) if m.group(7) is not None else (
                m.group(8) if m.group(8) is not None else m.group(9))
            for c in cur:
                items = c if isinstance(c, list) else []
                for it in items:
                    v = it
                    for seg in fpath.split("."):
                        v = v.get(seg) if isinstance(v, dict) else None
                    sv = v if isinstance(v, str) else json.dumps(v)
                    if (sv == want) == (op == "=="):
                        nxt.append(it)
        elif m.group(10):
            for c in cur:
                if isinstance(c, dict):
                    nxt.extend(c.values())
                elif isinstance(c, list):
                    nxt.extend(c)
        cur = nxt
    return cur


def _cell(values, ctype):
    if not values:
        return None
    v = values[0] if len(values) == 1 else None
    if len(values) > 1:
        return ",".join(x if isinstance(x, str) else json.dumps(x) for x in values)
    if ctype == "date":
        return age(v) if isinstance(v, str) else None
    if ctype == "integer":
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return int(v)
        return v if isinstance(v, str) else None
    if ctype == "number":
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if ctype == "boolean":
        return v if isinstance(v, bool) else None
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


# ------------------------------------------------------------------ built-in printers
def _pod_status(pod):
    """The STATUS column as kubectl's pod printer computes it."""
    st = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = st.get("reason") or st.get("phase") or "Unknown"
    inits = spec.get("initContainers") or []
    initializing = False
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        t = state.get("terminated")
        w = state.get("waiting")
        if t and t.get("exitCode") == 0:
            continue
        if t:
            if t.get("reason"):
                reason = "Init:" + t["reason"]
            elif t.get("signal"):
                reason = "Init:Signal:%d" % t["signal"]
            else:
                reason = "Init:ExitCode:%d" % t.get("exitCode", 0)
        elif w and w.get("reason") and w["reason"] != "PodInitializing":
            reason = "Init:" + w["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(inits))
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(st.get("containerStatuses") or []):
            state = cs.get("state") or {}
            w, t = state.get("waiting"), state.get("terminated")
            if w and w.get("reason"):
                reason = w["reason"]
            elif t and t.get("reason"):
                reason = t["reason"]
            elif t:
                reason = ("Signal:%d" % t["signal"]) if t.get("signal") else \
                    "ExitCode:%d" % t.get("exitCode", 0)
            elif "running" in state and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            reason = "Running" if conds.get("Ready") == "True" else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod):
    st = pod.get("status") or {}
    spec = pod.get("spec") or {}
    total = len(spec.get("containers") or [])
    ready = sum(1 for cs in st.get("containerStatuses") or [] if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in st.get("containerStatuses") or [])
    last = None
    for cs in st.get("containerStatuses") or []:
        t = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if t and (last is None or t > last):
            last = t
    rs = str(restarts) if not (restarts and last) else "%d (%s ago)" % (restarts, age(last))
    gates = spec.get("readinessGates")
    return [pod["metadata"]["name"], "%d/%d" % (ready, total), _pod_status(pod), rs,
            age(pod["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            "%d/%d" % (0, len(gates)) if gates else "<none>"]


def _col(name, ctype="string", priority=0, fmt="", desc=""):
    return {"name": name, "type": ctype, "format": fmt, "description": desc,
            "priority": priority}


_NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
_AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when "
            "this object was created.")


def _data_count(o):
    return len(o.get("data") or {}) + len(o.get("binaryData") or {})


def _svc_ports(s):
    out = []
    for p in (s.get("spec") or {}).get("ports") or []:
        x = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            x = "%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP"))
        out.append(x)
    return ",".join(out) or "<none>"


def _event_object(e):
    io = e.get("involvedObject") or {}
    return "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", ""))


def _event_last(e):
    ts = e.get("lastTimestamp") or e.get("eventTime") or \
        (e.get("metadata") or {}).get("creationTimestamp")
    return age(ts)


BUILTIN_COLUMNS = {
    "pods": ([_NAME, _col("Ready"), _col("Status"), _col("Restarts", "string"), _AGE,
              _col("IP", priority=1), _col("Node", priority=1),
              _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             _pod_row),
    "persistentvolumeclaims": (
        [_NAME, _col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"),
         _col("StorageClass"), _col("VolumeAttributesClass"), _AGE,
         _col("VolumeMode", priority=1)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""),
                   (o.get("spec") or {}).get("volumeName", ""),
                   ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
                   ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX",
                             "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m)
                            for m in (o.get("status") or {}).get("accessModes") or []),
                   (o.get("spec") or {}).get("storageClassName") or "<unset>", "<unset>",
                   age(o["metadata"].get("creationTimestamp")),
                   (o.get("spec") or {}).get("volumeMode", "Filesystem")]),
    "namespaces": ([_NAME, _col("Status"), _AGE],
                   lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""),
                              age(o["metadata"].get("creationTimestamp"))]),
    "secrets": ([_NAME, _col("Type"), _col("Data", "integer"), _AGE],
                lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), _data_count(o),
                           age(o["metadata"].get("creationTimestamp"))]),
    "configmaps": ([_NAME, _col("Data", "integer"), _AGE],
                   lambda o: [o["metadata"]["name"], _data_count(o),
                              age(o["metadata"].get("creationTimestamp"))]),
    "services": ([_NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"),
                  _col("Port(s)"), _AGE, _col("Selector", priority=1)],
                 lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("type", ""),
                            (o.get("spec") or {}).get("clusterIP", "<none>"), "<none>",
                            _svc_ports(o), age(o["metadata"].get("creationTimestamp")),
                            ",".join("%s=%s" % kv for kv in sorted(
                                ((o.get("spec") or {}).get("selector") or {}).items()))
                            or "<none>"]),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
                _col("Message"), _col("Subobject", priority=1), _col("Source", priority=1),
                _col("First Seen", priority=1), _col("Count", "integer", priority=1),
                _col("Name", priority=1)],
               lambda e: [_event_last(e), e.get("type", ""), e.get("reason", ""),
                          _event_object(e), (e.get("message") or "").strip(),
                          (e.get("involvedObject") or {}).get("fieldPath", ""),
                          ", ".join(x for x in ((e.get("source") or {}).get("component"),
                                                (e.get("source") or {}).get("host")) if x),
                          age(e.get("firstTimestamp")) if e.get("firstTimestamp") else
                          "<unknown>", e.get("count", 1), e["metadata"]["name"]]),
    "leases.coordination.k8s.io": (
        [_NAME, _col("Holder"), _AGE],
        lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity", ""),
                   age(o["metadata"].get("creationTimestamp"))]),
    "customresourcedefinitions.apiextensions.k8s.io": (
        [_NAME, _col("Created At", "date")],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]),
    "validatingwebhookconfigurations.admissionregistration.k8s.io": (
        [_NAME, _col("Webhooks", "integer"), _AGE],
        lambda o: [o["metadata"]["name"], len(o.get("webhooks") or []),
                   age(o["metadata"].get("creationTimestamp"))]),
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": (
        [_NAME, _col("Webhooks", "integer"), _AGE],
        lambda o: [o["metadata"]["name"], len(o.get("webhooks") or []),
                   age(o["metadata"].get("creationTimestamp"))]),
    "storageclasses.storage.k8s.io": (
        [_NAME, _col("Provisioner"), _col("ReclaimPolicy"), _col("VolumeBindingMode"),
         _col("AllowVolumeExpansion"), _AGE],
        lambda o: [o["metadata"]["name"] + (" (default)" if (o["metadata"].get(
            "annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
            else ""), o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"),
            o.get("volumeBindingMode", "Immediate"),
            "true" if o.get("allowVolumeExpansion") else "false",
            age(o["metadata"].get("creationTimestamp"))]),
    "deployments.apps": (
        [_NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"),
         _AGE],
        lambda o: [o["metadata"]["name"], "%d/%d" % ((o.get("status") or {}).get(
            "readyReplicas", 0), (o.get("spec") or {}).get("replicas", 1)),
            (o.get("status") or {}).get("updatedReplicas", 0),
            (o.get("status") or {}).get("availableReplicas", 0),
            age(o["metadata"].get("creationTimestamp"))]),
}


def _partial(obj, include):
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def table(info, version, objs, rv, include="Metadata", cont=None, remaining=None):
    """A Table for `objs` (stored objects of one resource)."""
    crd_cols = None
    if info.crd is not None:
        v = info.crd_version(version) or {}
        crd_cols = v.get("additionalPrinterColumns")
        cols = [_NAME]
        if crd_cols:
            for c in crd_cols:
                cols.append(_col(c.get("name", ""), c.get("type", "string"),
                                 int(c.get("priority", 0) or 0), c.get("format", ""),
                                 c.get("description", "")))
        else:
            cols.append(_AGE)

        def row(o):
            cells = [o["metadata"]["name"]]
            if crd_cols:
                for c in crd_cols:
                    cells.append(_cell(jsonpath(o, c.get("jsonPath", "")),
                                       c.get("type", "string")))
            else:
                cells.append(age(o["metadata"].get("creationTimestamp")))
            return cells
    else:
        cols, row = BUILTIN_COLUMNS.get(info.key, ([_NAME, _AGE], lambda o: [
            o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]))
    rows = []
    for o in objs:
        r = {"cells": row(o)}
        p = _partial(o, include)
        if p is not None:
            r["object"] = p
        rows.append(r)
    md = {"resourceVersion": str(rv)}
    if cont:
        md["continue"] = cont
    if remaining:
        md["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
            "columnDefinitions": cols, "rows": rows}
