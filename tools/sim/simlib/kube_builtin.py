"""kube_builtin.py - defaulting and validation of built-in kinds, as the real API server does
on create/update (a subset: what operators and kubectl users notice).
"""

import base64
import itertools
import re

from . import kube_errors as E

_DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ip_counter = itertools.count(1)

# Kinds whose names must be DNS-1123 labels (<= 63) rather than subdomains.
_LABEL_NAMED = {"namespaces", "services"}


def name_errors(key, name):
    """Causes for an invalid object name ([] if fine)."""
    if key in _LABEL_NAMED:
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return [("metadata.name", "FieldValueInvalid",
                     "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of lower "
                     "case alphanumeric characters or '-', and must start and end with an "
                     "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')" % name)]
        return []
    if key in ("roles", "clusterroles", "rolebindings", "clusterrolebindings") or \
            key.startswith("roles.") or key.startswith("clusterrole") or \
            key.startswith("rolebindings."):
        return [] if name and "/" not in name and "%" not in name else \
            [("metadata.name", "FieldValueInvalid", "Invalid value: \"%s\"" % name)]
    if len(name) > 253 or not _DNS1123_SUB.match(name):
        return [("metadata.name", "FieldValueInvalid",
                 "Invalid value: \"%s\": a lowercase RFC 1123 subdomain must consist of lower "
                 "case alphanumeric characters, '-' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" % name)]
    return []


def _default_container(c):
    c.setdefault("imagePullPolicy",
                 "Always" if (":" not in c.get("image", "").rsplit("/", 1)[-1] or
                              c.get("image", "").endswith(":latest")) else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")


def prepare_create(info, obj):
    """Apply defaults of a built-in kind to a new object and reset its status. Raises ApiError."""
    key = info.key
    spec = obj.get("spec")
    if key == "pods":
        if not isinstance(spec, dict):
            raise E.invalid(info, obj["metadata"].get("name"),
                            [("spec.containers", "FieldValueRequired", "Required value")])
        containers = spec.get("containers")
        if not containers or not isinstance(containers, list):
            raise E.invalid(info, obj["metadata"].get("name"),
                            [("spec.containers", "FieldValueRequired", "Required value")])
        causes = []
        for kind, lst in (("containers", containers), ("initContainers",
                                                        spec.get("initContainers") or [])):
            seen = set()
            for i, c in enumerate(lst):
                if not isinstance(c, dict):
                    causes.append(("spec.%s[%d]" % (kind, i), "FieldValueInvalid",
                                   "Invalid value: must be an object"))
                    continue
                if not c.get("name"):
                    causes.append(("spec.%s[%d].name" % (kind, i), "FieldValueRequired",
                                   "Required value"))
                elif c["name"] in seen:
                    causes.append(("spec.%s[%d].name" % (kind, i), "FieldValueDuplicate",
                                   'Duplicate value: "%s"' % c["name"]))
                seen.add(c.get("name"))
                if not c.get("image"):
                    causes.append(("spec.%s[%d].image" % (kind, i), "FieldValueRequired",
                                   "Required value"))
                _default_container(c)
        if causes:
            raise E.invalid(info, obj["metadata"].get("name"), causes)
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("securityContext", {})
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300}])
        qos = "BestEffort"
        for c in containers:
            r = c.get("resources") or {}
            if r.get("requests") or r.get("limits"):
                qos = "Burstable"
        obj["status"] = {"phase": "Pending", "qosClass": qos}
    elif key == "persistentvolumeclaims":
        if not isinstance(spec, dict):
            obj["spec"] = spec = {}
        causes = []
        if not spec.get("accessModes"):
            causes.append(("spec.accessModes", "FieldValueRequired", "Required value: at "
                           "least 1 access mode is required"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            causes.append(("spec.resources[storage]", "FieldValueRequired", "Required value"))
        if causes:
            raise E.invalid(info, obj["metadata"].get("name"), causes)
        spec.setdefault("volumeMode", "Filesystem")
        obj["status"] = {"phase": "Pending"}
    elif key == "secrets":
        obj.setdefault("type", "Opaque")
        _fold_string_data(obj)
    elif key == "namespaces":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"]["name"]
    elif key == "services":
        if not isinstance(spec, dict):
            obj["spec"] = spec = {}
        spec.setdefault("type", "ClusterIP")
        n = next(_ip_counter)
        spec.setdefault("clusterIP", "10.96.%d.%d" % ((n // 250) % 250, n % 250 + 1))
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        obj["status"] = {"loadBalancer": {}}
    elif key == "events":
        _check_event(info, obj)
    elif key == "serviceaccounts":
        pass


def prepare_update(info, new, old):
    """Built-in rules on update: immutable fields, folding stringData."""
    if info.key == "secrets":
        _fold_string_data(new)
        if old.get("immutable") and (new.get("data") != old.get("data")):
            raise E.invalid(info, old["metadata"]["name"], [
                ("data", "FieldValueForbidden", "Forbidden: field is immutable when "
                 "`immutable` is set")])
    elif info.key == "namespaces":
        new["spec"] = old.get("spec", {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            old["metadata"]["name"]
    elif info.key == "pods":
        _pod_immutable(info, new, old)


def _pod_immutable(info, new, old):
    """Only image, activeDeadlineSeconds, tolerations additions may change in a pod spec."""
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}

    def strip(spec):
        s = dict(spec)
        s["containers"] = [dict(c, image=None) for c in s.get("containers") or []]
        s["initContainers"] = [dict(c, image=None) for c in s.get("initContainers") or []]
        for k in ("activeDeadlineSeconds", "tolerations", "nodeName",
                  "terminationGracePeriodSeconds"):
            s.pop(k, None)
        return s
    if strip(ns) != strip(os_):
        raise E.invalid(info, old["metadata"]["name"], [
            ("spec", "FieldValueForbidden",
             "Forbidden: pod updates may not change fields other than `spec.containers[*]."
             "image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec."
             "tolerations` (only additions to existing tolerations),`spec."
             "terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
             "negative)")])


def _fold_string_data(obj):
    sd = obj.pop("stringData", None)
    if sd:
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _check_event(info, obj):
    io = obj.get("involvedObject")
    if obj.get("eventTime"):
        causes = []
        for f in ("reportingController", "reportingInstance", "action", "reason"):
            src = obj.get(f) if f != "reportingController" else \
                (obj.get("reportingController") or obj.get("reportingComponent"))
            if not src:
                causes.append((f, "FieldValueRequired", "Required value"))
        if causes:
            raise E.invalid(info, obj["metadata"].get("name"), causes)
    elif isinstance(io, dict) and io.get("namespace") and \
            io.get("namespace") != obj["metadata"].get("namespace"):
        raise E.invalid(info, obj["metadata"].get("name"), [
            ("involvedObject.namespace", "FieldValueInvalid",
             'Invalid value: "%s": does not match event.namespace' % io.get("namespace"))])


# events.k8s.io/v1 <-> core/v1 Event: one storage, two shapes (as the real server converts).
_EV_MAP = [("regarding", "involvedObject"), ("note", "message"),
           ("reportingController", "reportingComponent"), ("deprecatedSource", "source"),
           ("deprecatedFirstTimestamp", "firstTimestamp"),
           ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count")]


def event_v1_to_core(obj):
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for new, old in _EV_MAP:
        if new in out:
            out[old] = out.pop(new)
    if out.get("apiVersion") == "events.k8s.io/v1":
        out["apiVersion"] = "v1"
    return out


def event_core_to_v1(obj):
    out = dict(obj)
    for new, old in _EV_MAP:
        if old in out:
            out[new] = out.pop(old)
    out["apiVersion"] = "events.k8s.io/v1"
    out["kind"] = "Event"
    return out
