"""kube_store.py - the simulated API server's storage: objects, resourceVersions, watches, GC.

IN-PROCESS CONTRACT (used by the kubelet and by the Azure DevOps half: agents, control API):

    ApiError(Exception): .status (int), .reason (str), .message (str), .to_status() -> dict
    KubeStore(faults, watch_window=1000)
        resource: "pods", "persistentvolumeclaims", "secrets", "events", "namespaces",
        "configmaps", "services", or "<plural>.<group>" ("leases.coordination.k8s.io",
        "runnerpools.devops.opentools.mf"); namespace is None/"" for cluster-scoped kinds.
      get(resource, namespace, name) -> dict | None              deep copy
      list(resource, namespace=None, label_selector=None) -> [dict]   deep copies; selector is
                                                                  a string ("a=b,c in (d)")
      create(resource, namespace, obj) -> dict       no admission; defaults, schema; ApiError
                                                     (a missing namespace is created on the fly)
      mutate(resource, namespace, name, fn) -> dict | None
            internal write: fn(obj) edits a copy in place, under the store lock, so it must be
            quick and must not call the store. Return False from fn to abandon the write. An
            unchanged object is not written. Bumps resourceVersion (generation if the spec
            changed), emits MODIFIED; removes the object if it is terminating and fn emptied
            its finalizers. No resourceVersion check, no admission. None if absent.
      delete(resource, namespace, name) -> None      as the API: finalizers, pod grace, GC
      add_listener(fn)     fn(event_type "ADDED"|"MODIFIED"|"DELETED", resource, obj) after the
                           commit, outside the lock, in commit order (obj is a shared copy: do
                           not modify it)
      record_event(namespace, involved_obj, type_, reason, message, source="kubelet")
    The HTTP layer (kube_http) uses the richer methods below (update, delete_ex, watch, ...).

Stored objects are never modified in place: every write stores a fresh dict. That is what lets
readers (the HTTP layer) serialise stored objects without copying the world on each request.
"""

import collections
import copy
import datetime
import queue
import threading
import time
import uuid

from . import kube_builtin
from . import kube_errors as E
from . import kube_schema
from . import kube_selectors as S
from .kube_errors import ApiError  # noqa: F401  (re-exported: part of the contract)
from .kube_resources import Registry, info_from_crd, storage_key

_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"


def now_rfc3339(t=None):
    return datetime.datetime.fromtimestamp(t if t is not None else time.time(),
                                           datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro(t=None):
    return datetime.datetime.fromtimestamp(t if t is not None else time.time(),
                                           datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s):
    """RFC 3339 timestamp -> unix seconds (None if unparsable)."""
    if not s:
        return None
    try:
        s2 = s.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(s2).timestamp()
    except ValueError:
        return None


def _random_suffix(n=5):
    import random
    return "".join(random.choice(_GEN_CHARS) for _ in range(n))


class Watcher:
    """One open watch: the store pushes (type, obj, old_obj) tuples into its queue."""

    def __init__(self, key, namespace, label_reqs, field_reqs):
        self.key = key
        self.namespace = namespace
        self.label_reqs = label_reqs
        self.field_reqs = field_reqs
        self.queue = queue.SimpleQueue()
        self.closed = False
        self.dropped = False      # fault injection: cut the stream abruptly
        self.expired = False      # fault injection or overflow: send 410 then close
        self.opened = time.time()

    def matches(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata", {})
        return S.labels_match(self.label_reqs, md.get("labels")) and \
            S.fields_match(self.field_reqs, obj)

    def translate(self, etype, obj, old):
        """Selector-aware event type: an object that starts matching is ADDED, one that stops
        matching is DELETED, as the real watch cache does. None if not visible."""
        if etype == "DELETED":
            return ("DELETED", obj) if self.matches(obj) else None
        now_m = self.matches(obj)
        was_m = old is not None and self.matches(old)
        if etype == "ADDED":
            return ("ADDED", obj) if now_m else None
        if now_m and was_m:
            return ("MODIFIED", obj)
        if now_m:
            return ("ADDED", obj)
        if was_m:
            return ("DELETED", obj)
        return None

    def close(self):
        self.closed = True
        self.queue.put(None)


class KubeStore:
    def __init__(self, faults, watch_window=1000):
        self.faults = faults
        self.registry = Registry()
        self.watch_window = max(1, int(watch_window))
        self.lock = threading.RLock()
        self.objects = {}          # storage key -> {namespace: {name: obj}}
        self.by_uid = {}           # uid -> (storage key, namespace, name)
        self.dependents = {}       # owner uid -> set of dependent uids
        self.rv = 0
        self.log = collections.deque()   # (rv, type, key, ns, obj, old)
        self.log_floor = 0         # highest rv no longer in the log
        self.watchers = set()
        self.listeners = []
        self._pending = collections.deque()
        self._notify_lock = threading.RLock()
        self._event_index = {}     # aggregation key -> event name
        self._gc_queue = queue.SimpleQueue()
        self._terminating = set()  # (key, ns, name) waiting on a GC-handled finalizer
        self.started = time.time()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create("namespaces", None, {"metadata": {"name": ns}})
        threading.Thread(target=self._gc_loop, name="kube-gc", daemon=True).start()

    # ------------------------------------------------------------------ helpers
    def info(self, resource):
        info = self.registry.get(resource)
        if info is None:
            raise E.not_found_path()
        return info

    def _bucket(self, key, ns, create=False):
        per = self.objects.get(key)
        if per is None:
            if not create:
                return None
            per = self.objects[key] = {}
        b = per.get(ns or "")
        if b is None and create:
            b = per[ns or ""] = {}
        return b

    def _ns(self, info, namespace):
        return (namespace or "") if info.namespaced else ""

    def current_rv(self):
        with self.lock:
            return self.rv

    # ------------------------------------------------------------------ commit
    def _commit(self, info, ns, name, etype, new, old):
        """Store `new` (or remove for DELETED), stamp the rv, log and fan out. Lock held."""
        key = storage_key(info.key)
        self.rv += 1
        rv = str(self.rv)
        if etype == "DELETED":
            obj = dict(old)
            obj["metadata"] = dict(old["metadata"])
            obj["metadata"]["resourceVersion"] = rv
            b = self._bucket(key, ns)
            if b is not None:
                b.pop(name, None)
                if not b:
                    self.objects[key].pop(ns, None)
            uid = old["metadata"].get("uid")
            self.by_uid.pop(uid, None)
            self._unindex_owners(old)
        else:
            obj = new
            obj["metadata"]["resourceVersion"] = rv
            self._bucket(key, ns, create=True)[name] = obj
            self.by_uid[obj["metadata"]["uid"]] = (key, ns, name)
            if old is not None:
                self._unindex_owners(old)
            self._index_owners(obj)
        self.log.append((self.rv, etype, key, ns, obj, old))
        while len(self.log) > self.watch_window:
            self.log_floor = self.log.popleft()[0]
        for w in self.watchers:
            if w.key == key and (w.namespace is None or w.namespace == ns):
                w.queue.put((etype, obj, old))
        self._pending.append((etype, info.key, obj))
        if etype == "DELETED":
            self._gc_queue.put(("gone", obj["metadata"].get("uid")))
            if key == CRD_KEY:
                self._pending.append(("CRD", None, obj))
        elif key == CRD_KEY:
            self._pending.append(("CRD", None, obj))
        return obj

    def _index_owners(self, obj):
        uid = obj["metadata"]["uid"]
        for ref in obj["metadata"].get("ownerReferences") or []:
            ou = ref.get("uid")
            if ou:
                self.dependents.setdefault(ou, set()).add(uid)
                if ou not in self.by_uid:
                    self._gc_queue.put(("check", uid))

    def _unindex_owners(self, obj):
        uid = obj["metadata"].get("uid")
        for ref in obj["metadata"].get("ownerReferences") or []:
            s = self.dependents.get(ref.get("uid"))
            if s is not None:
                s.discard(uid)
                if not s:
                    self.dependents.pop(ref.get("uid"), None)

    def _flush(self):
        """Deliver pending notifications in commit order, outside the store lock."""
        with self._notify_lock:
            while True:
                try:
                    etype, key, obj = self._pending.popleft()
                except IndexError:
                    return
                if etype == "CRD":
                    self._sync_crd(obj)
                    continue
                for fn in list(self.listeners):
                    try:
                        fn(etype, key, obj)
                    except Exception:  # a listener's bug must not break the writer
                        import traceback
                        traceback.print_exc()

    def add_listener(self, fn):
        self.listeners.append(fn)

    # ------------------------------------------------------------------ reads
    def get(self, resource, namespace, name):
        obj = self.get_ref(resource, namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def get_ref(self, resource, namespace, name):
        """The stored object itself (shared, never modify it), or None."""
        info = self.info(resource)
        with self.lock:
            b = self._bucket(storage_key(info.key), self._ns(info, namespace))
            return b.get(name) if b else None

    def get_by_uid(self, uid):
        with self.lock:
            loc = self.by_uid.get(uid)
            if loc is None:
                return None
            key, ns, name = loc
            return (self.objects.get(key) or {}).get(ns, {}).get(name)

    def list(self, resource, namespace=None, label_selector=None):
        items, _ = self.list_refs(resource, namespace, label_selector)
        return copy.deepcopy(items)

    def list_refs(self, resource, namespace=None, label_selector=None, field_selector=None):
        """(stored objects sorted by namespace/name, current rv); selectors are strings or
        parsed requirement lists. Shared objects: never modify them."""
        info = self.info(resource)
        lreq = S.parse_label_selector(label_selector) if isinstance(label_selector, str) or \
            label_selector is None else label_selector
        freq = S.parse_field_selector(field_selector, info.key, info.kind) \
            if isinstance(field_selector, str) or field_selector is None else field_selector
        key = storage_key(info.key)
        with self.lock:
            per = self.objects.get(key) or {}
            if info.namespaced and namespace:
                buckets = [(namespace, per.get(namespace) or {})]
            else:
                buckets = sorted(per.items())
            out = []
            for _, b in buckets:
                for name in sorted(b):
                    o = b[name]
                    if lreq and not S.labels_match(lreq, o["metadata"].get("labels")):
                        continue
                    if freq and not S.fields_match(freq, o):
                        continue
                    out.append(o)
            return out, self.rv

    def count(self, resource, namespace=None):
        info = self.info(resource)
        with self.lock:
            per = self.objects.get(storage_key(info.key)) or {}
            if namespace:
                return len(per.get(namespace) or {})
            return sum(len(b) for b in per.values())

    # ------------------------------------------------------------------ create
    def create(self, resource, namespace, obj, strict_namespace=False, dry_run=False,
               field_validation=None, warnings=None, version=None, admission=None):
        """Create like POST. In-process callers get a missing namespace created for them;
        the HTTP layer passes strict_namespace=True (404 as the real server)."""
        info = self.info(resource)
        if not isinstance(obj, dict):
            raise E.bad_request("Object 'Kind' is missing in request body")
        obj = copy.deepcopy(obj)
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise E.bad_request("metadata must be an object")
        ns = self._ns(info, namespace or md.get("namespace"))
        if info.namespaced and not ns:
            raise E.bad_request("the namespace of the object is required")
        if info.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise E.bad_request("the namespace of the provided object does not match "
                                    "the namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        obj["apiVersion"] = info.api_version(version)
        obj["kind"] = info.kind
        if info.namespaced:
            nso = self.get_ref("namespaces", None, ns)
            if nso is None:
                if strict_namespace:
                    raise E.namespace_not_found(ns)
                if not dry_run:
                    self.create("namespaces", None, {"metadata": {"name": ns}})
            elif nso["metadata"].get("deletionTimestamp"):
                raise E.forbidden('%s "%s" is forbidden: unable to create new content in '
                                  'namespace %s because it is being terminated'
                                  % (info.key, md.get("name") or md.get("generateName", ""),
                                     ns), info, md.get("name"))
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + _random_suffix()
            else:
                raise E.invalid(info, "", [("metadata.name", "FieldValueRequired",
                                            "Required value: name or generateName is "
                                            "required")])
        name = md["name"]
        if not isinstance(name, str):
            raise E.bad_request("metadata.name must be a string")
        causes = kube_builtin.name_errors(info.key, name)
        if causes:
            raise E.invalid(info, name, causes)
        for k in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink", "managedFields"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        if info.generation:
            md["generation"] = 1
        else:
            md.pop("generation", None)
        if info.crd is not None:
            if info.has_status:
                obj.pop("status", None)
            kube_schema.prune_and_default(info, version or info.version, obj,
                                          strict=(field_validation == "Strict"),
                                          warnings=warnings)
        else:
            kube_builtin.prepare_create(info, obj)
        obj = self._admit(admission, "CREATE", info, ns, obj, None, version, dry_run)
        if info.key == CRD_KEY:
            self._prepare_crd(obj, None)
        self._check_owner_refs(info, obj)
        with self.lock:
            b = self._bucket(storage_key(info.key), ns)
            if b and name in b:
                raise E.already_exists(info, name)
            if dry_run:
                return obj
            stored = self._commit(info, ns, name, "ADDED", obj, None)
        self._flush()
        return copy.deepcopy(stored)

    def _admit(self, admission, op, info, ns, obj, old, version, dry_run):
        """Mutating admission, then schema validation, then validating admission: the order
        of the real API server. admission is kube_admission.Admission or None."""
        if admission is not None:
            obj = admission.mutate(op, info, ns, obj, old, dry_run)
            if info.crd is not None:
                kube_schema.prune_and_default(info, version or info.version, obj)
        if info.crd is not None:
            kube_schema.validate(info, version or info.version, obj)
        if admission is not None:
            admission.validate(op, info, ns, obj, old, dry_run)
        return obj

    def _check_owner_refs(self, info, obj):
        causes = []
        refs = obj["metadata"].get("ownerReferences") or []
        if not isinstance(refs, list):
            raise E.bad_request("metadata.ownerReferences must be a list")
        ctl = 0
        for i, r in enumerate(refs):
            for f in ("apiVersion", "kind", "name", "uid"):
                if not isinstance(r, dict) or not r.get(f):
                    causes.append(("metadata.ownerReferences[%d].%s" % (i, f),
                                   "FieldValueRequired", "Required value"))
            if isinstance(r, dict) and r.get("controller"):
                ctl += 1
        if ctl > 1:
            causes.append(("metadata.ownerReferences", "FieldValueInvalid",
                           "Invalid value: Only one reference can have Controller set to "
                           "true"))
        if causes:
            raise E.invalid(info, obj["metadata"].get("name"), causes)

    # ------------------------------------------------------------------ update
    def update(self, resource, namespace, name, obj, subresource=None, dry_run=False,
               field_validation=None, warnings=None, require_rv=None, version=None,
               admission=None):
        """Replace like PUT (or PUT .../status). The body's resourceVersion, when present,
        must match (409 Conflict otherwise). Returns the stored object (a copy)."""
        info = self.info(resource)
        ns = self._ns(info, namespace)
        if not isinstance(obj, dict):
            raise E.bad_request("Object 'Kind' is missing in request body")
        md = obj.get("metadata")
        if not isinstance(md, dict):
            md = {}
        if md.get("name") and md["name"] != name:
            raise E.bad_request("the name of the object (%s) does not match the name on the "
                                "URL (%s)" % (md["name"], name))
        if info.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise E.bad_request("the namespace of the provided object does not match the "
                                "namespace sent on the request")
        want_rv = md.get("resourceVersion")
        if require_rv is None:
            require_rv = info.crd is not None and subresource is None
        if require_rv and not want_rv:
            raise E.invalid(info, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                          "Invalid value: 0x0: must be specified for an "
                                          "update")])
        for _ in range(20):
            old = self.get_ref(info.key, ns, name)
            if old is None:
                raise E.not_found(info, name)
            if want_rv and str(want_rv) != old["metadata"]["resourceVersion"]:
                raise E.conflict(info, name)
            new = self._build_update(info, ns, old, copy.deepcopy(obj), subresource,
                                     field_validation, warnings, version, admission, dry_run)
            with self.lock:
                cur = self.get_ref(info.key, ns, name)
                if cur is None:
                    raise E.not_found(info, name)
                if cur is not old:
                    if want_rv:
                        raise E.conflict(info, name)
                    continue  # unconditional update raced another writer: rebuild
                result = self._write(info, ns, name, cur, new, dry_run)
            self._flush()
            return copy.deepcopy(result)
        raise E.conflict(info, name)

    def _build_update(self, info, ns, old, new, subresource, field_validation, warnings,
                      version, admission=None, dry_run=False):
        """The object a PUT would store: immutable metadata kept, spec/status split honoured,
        generation bumped when anything but metadata/status changed. Raises ApiError."""
        omd = old["metadata"]
        md = new.get("metadata")
        if not isinstance(md, dict):
            md = new["metadata"] = {}
        if subresource == "status":
            st = new.get("status")
            new = copy.deepcopy(old)
            if st is None:
                new.pop("status", None)
            else:
                new["status"] = st
            md = new["metadata"]
        else:
            if info.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        for k in ("uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "namespace", "name"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        md.pop("resourceVersion", None)
        md.pop("managedFields", None)
        if info.generation:
            md["generation"] = omd.get("generation", 1)
        else:
            md.pop("generation", None)
        new["apiVersion"] = old.get("apiVersion", info.api_version(version))
        new["kind"] = info.kind
        if omd.get("deletionTimestamp"):
            added = [f for f in md.get("finalizers") or [] if f not in
                     (omd.get("finalizers") or [])]
            if added:
                raise E.invalid(info, omd["name"], [(
                    "metadata.finalizers", "FieldValueForbidden",
                    "Forbidden: no new finalizers can be added if the object is being "
                    "deleted, found new finalizers %s" % _golist(added))])
        if info.crd is not None:
            kube_schema.prune_and_default(info, version or info.version, new,
                                          strict=(field_validation == "Strict" and
                                                  subresource is None),
                                          warnings=warnings)
        elif subresource is None:
            kube_builtin.prepare_update(info, new, old)
        new = self._admit(admission, "UPDATE", info, ns, new, old, version, dry_run)
        if info.key == CRD_KEY:
            self._prepare_crd(new, old)
        self._check_owner_refs(info, new)
        if info.generation and _spec_changed(info, old, new):
            md["generation"] = omd.get("generation", 1) + 1
        return new

    def _write(self, info, ns, name, cur, new, dry_run):
        """Commit an update (lock held): no-op if unchanged; deletes the object if it is
        terminating and no finalizers remain."""
        if _same(cur, new):
            return cur
        if dry_run:
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            return new
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._commit(info, ns, name, "DELETED", None, cur)
            new["metadata"]["resourceVersion"] = str(self.rv)
            return new
        self._note_terminating(info, ns, name, new)
        return self._commit(info, ns, name, "MODIFIED", new, cur)

    def mutate(self, resource, namespace, name, fn):
        info = self.info(resource)
        ns = self._ns(info, namespace)
        with self.lock:
            cur = self.get_ref(info.key, ns, name)
            if cur is None:
                return None
            new = copy.deepcopy(cur)
            if fn(new) is False:
                return copy.deepcopy(cur)
            md = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "namespace", "name"):
                if k in cur["metadata"]:
                    md[k] = cur["metadata"][k]
            md["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if _same(cur, new):
                return copy.deepcopy(cur)
            if info.generation and _spec_changed(info, cur, new):
                md["generation"] = cur["metadata"].get("generation", 1) + 1
            result = self._write(info, ns, name, cur, new, False)
        self._flush()
        return copy.deepcopy(result)

    # ------------------------------------------------------------------ delete
    def delete(self, resource, namespace, name):
        self.delete_ex(resource, namespace, name)

    def delete_ex(self, resource, namespace, name, grace_period=None, propagation=None,
                  preconditions=None, dry_run=False):
        """DELETE semantics. Returns (object, removed): removed is True when the object is
        gone now, False when it stays terminating (finalizers or pod grace period)."""
        info = self.info(resource)
        ns = self._ns(info, namespace)
        with self.lock:
            cur = self.get_ref(info.key, ns, name)
            if cur is None:
                raise E.not_found(info, name)
            cmd = cur["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != cmd.get("uid"):
                raise E.conflict(info, name, "Precondition failed: UID in precondition: %s, "
                                 "UID in object meta: %s" % (pre["uid"], cmd.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != cmd["resourceVersion"]:
                raise E.conflict(info, name, "Precondition failed: ResourceVersion in "
                                 "precondition: %s, ResourceVersion in object meta: %s"
                                 % (pre["resourceVersion"], cmd["resourceVersion"]))
            new = copy.deepcopy(cur)
            md = new["metadata"]
            fins = list(md.get("finalizers") or [])
            if info.key == "namespaces":
                # The namespace controller empties it first, then drops spec.finalizers.
                if (new.get("spec") or {}).get("finalizers"):
                    new.setdefault("status", {})["phase"] = "Terminating"
            if info.key == CRD_KEY and not md.get("deletionTimestamp"):
                if CRD_CLEANUP not in fins:
                    fins.append(CRD_CLEANUP)
            if propagation == "Foreground" and FOREGROUND not in fins and \
                    not md.get("deletionTimestamp"):
                fins.append(FOREGROUND)
            elif propagation == "Orphan" and ORPHAN not in fins and \
                    not md.get("deletionTimestamp"):
                fins.append(ORPHAN)
            if fins:
                md["finalizers"] = fins
            grace = self._grace(info, cur, grace_period)
            pending_ns = info.key == "namespaces" and (new.get("spec") or {}).get("finalizers")
            if grace > 0 or fins or pending_ns:
                if dry_run:
                    return new, False
                if not md.get("deletionTimestamp") or \
                        grace < (md.get("deletionGracePeriodSeconds") or 0):
                    # A shorter grace period may replace a longer one (kubectl --force).
                    md["deletionTimestamp"] = now_rfc3339(time.time() + grace)
                    md["deletionGracePeriodSeconds"] = grace
                stored = cur
                if not _same(cur, new):
                    self._note_terminating(info, ns, name, new)
                    stored = self._commit(info, ns, name, "MODIFIED", new, cur)
                result = (copy.deepcopy(stored), False)
            else:
                if dry_run:
                    return copy.deepcopy(cur), True
                self._commit(info, ns, name, "DELETED", None, cur)
                result = (copy.deepcopy(cur), True)
        self._flush()
        return result

    def _grace(self, info, obj, requested):
        """Pods get a grace period (spec default, 0 when never scheduled or finished)."""
        if info.key != "pods":
            return 0
        spec = obj.get("spec") or {}
        g = requested if requested is not None else spec.get("terminationGracePeriodSeconds", 30)
        try:
            g = int(g)
        except (TypeError, ValueError):
            g = 30
        if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in (
                "Succeeded", "Failed"):
            return 0
        md = obj["metadata"]
        if md.get("deletionTimestamp") and requested is None:
            return int(md.get("deletionGracePeriodSeconds") or 0)
        return max(0, g)

    def _note_terminating(self, info, ns, name, obj):
        md = obj["metadata"]
        if md.get("deletionTimestamp") and (
                set(md.get("finalizers") or []) & {FOREGROUND, ORPHAN, CRD_CLEANUP} or
                info.key == "namespaces"):
            self._terminating.add((info.key, ns, name))

    # ------------------------------------------------------------------ watch
    def watch(self, resource, namespace=None, resource_version=None, label_selector=None,
              field_selector=None):
        """Open a watch. rv None/""/"0": synthetic ADDED for current objects first; rv N:
        changes after N, or ApiError 410 if N is older than the kept window."""
        info = self.info(resource)
        lreq = S.parse_label_selector(label_selector) if isinstance(label_selector, str) or \
            label_selector is None else label_selector
        freq = S.parse_field_selector(field_selector, info.key, info.kind) \
            if isinstance(field_selector, str) or field_selector is None else field_selector
        key = storage_key(info.key)
        ns = namespace if info.namespaced and namespace else None
        w = Watcher(key, ns, lreq, freq)
        with self.lock:
            if resource_version in (None, "", "0"):
                per = self.objects.get(key) or {}
                buckets = [per.get(ns) or {}] if ns else [per[k] for k in sorted(per)]
                for b in buckets:
                    for n in sorted(b):
                        if w.matches(b[n]):
                            w.queue.put(("ADDED", b[n], None))
            else:
                try:
                    want = int(resource_version)
                except ValueError:
                    raise E.bad_request('invalid resource version "%s"' % resource_version)
                if want < self.log_floor:
                    raise E.gone("too old resource version: %d (%d)" % (want,
                                                                        self.log_floor + 1))
                for rv, etype, k, ons, obj, old in self.log:
                    if rv > want and k == key and (ns is None or ons == ns):
                        w.queue.put((etype, obj, old))
            w.start_rv = self.rv
            self.watchers.add(w)
        return w

    def stop_watch(self, w):
        with self.lock:
            self.watchers.discard(w)
        w.closed = True

    def drop_watches(self, n):
        """Fault injection: mark the n oldest open watches to be cut abruptly."""
        with self.lock:
            ws = sorted(self.watchers, key=lambda w: w.opened)[:n]
        for w in ws:
            w.dropped = True
            w.queue.put(None)
        return len(ws)

    def expire_watches(self):
        """Fault injection: every open watch gets a 410 ERROR event and closes."""
        with self.lock:
            ws = list(self.watchers)
        for w in ws:
            w.expired = True
            w.queue.put(None)
        return len(ws)

    # ------------------------------------------------------------------ events
    def record_event(self, namespace, involved_obj, type_, reason, message, source="kubelet"):
        """Write a core/v1 Event about involved_obj, aggregating repeats (count, lastTimestamp)
        as client-go's recorder does."""
        md = involved_obj.get("metadata", {})
        ns = namespace or md.get("namespace") or "default"
        agg = (ns, md.get("uid"), type_, reason, message)
        now = now_rfc3339()
        with self.lock:
            name = self._event_index.get(agg)
        if name is not None:
            def bump(ev):
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now
            if self.mutate("events", ns, name, bump) is not None:
                return
        name = "%s.%x" % (md.get("name", "unknown"), time.time_ns())
        ev = {"metadata": {"name": name, "namespace": ns},
              "involvedObject": {"apiVersion": involved_obj.get("apiVersion", "v1"),
                                 "kind": involved_obj.get("kind", ""),
                                 "name": md.get("name", ""),
                                 "namespace": md.get("namespace", ns) or "",
                                 "uid": md.get("uid", ""),
                                 "resourceVersion": md.get("resourceVersion", "")},
              "type": type_, "reason": reason, "message": message,
              "source": {"component": source},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1,
              "eventTime": None, "reportingComponent": source, "reportingInstance": ""}
        if involved_obj.get("kind") == "Pod":
            ev["source"]["host"] = "sim-node"
        try:
            self.create("events", ns, ev)
        except E.ApiError:
            return
        with self.lock:
            self._event_index[agg] = name
            if len(self._event_index) > 50000:
                self._event_index.clear()

    # ------------------------------------------------------------------ CRDs
    def _prepare_crd(self, obj, old):
        """Accept a CRD: check name, fill status (Established, acceptedNames)."""
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        info = self.registry.get(CRD_KEY)
        name = obj["metadata"]["name"]
        causes = []
        if not spec.get("group"):
            causes.append(("spec.group", "FieldValueRequired", "Required value"))
        if not names.get("plural"):
            causes.append(("spec.names.plural", "FieldValueRequired", "Required value"))
        if not names.get("kind"):
            causes.append(("spec.names.kind", "FieldValueRequired", "Required value"))
        if not spec.get("versions"):
            causes.append(("spec.versions", "FieldValueRequired", "Required value"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(("spec.scope", "FieldValueNotSupported",
                           'Unsupported value: "%s": supported values: "Cluster", '
                           '"Namespaced"' % spec.get("scope", "")))
        if not causes and name != "%s.%s" % (names["plural"], spec["group"]):
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": must be spec.names.plural+"."+spec.group'
                           % name))
        versions = spec.get("versions") or []
        if versions and sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(("spec.versions", "FieldValueInvalid",
                           "Invalid value: []apiextensions.CustomResourceDefinitionVersion"
                           "{...}: must have exactly one version marked as storage version"))
        for i, v in enumerate(versions):
            sch = (v.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(sch, dict):
                causes.append(("spec.versions[%d].schema.openAPIV3Schema" % i,
                               "FieldValueRequired", "Required value: schemas are required"))
            elif sch.get("type") != "object":
                causes.append(("spec.validation.openAPIV3Schema.type", "FieldValueRequired",
                               "Required value: must not be empty at the root"))
        if causes:
            raise E.invalid(info, name, causes)
        if not old:
            fins = obj["metadata"].setdefault("finalizers", [])
            if CRD_CLEANUP not in fins:
                fins.append(CRD_CLEANUP)
        accepted = dict(names)
        accepted.setdefault("singular", names["kind"].lower())
        accepted.setdefault("listKind", names["kind"] + "List")
        t = now_rfc3339()
        obj["status"] = {
            "acceptedNames": accepted,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": t}],
            "storedVersions": [v["name"] for v in versions if v.get("storage")]}
        if old and old.get("status"):
            # Keep transition times stable across updates.
            obj["status"]["conditions"] = old["status"].get("conditions",
                                                            obj["status"]["conditions"])

    def _sync_crd(self, crd):
        """Register or drop the custom resource a CRD serves (called outside the lock)."""
        name = crd["metadata"]["name"]
        live = self.get_ref(CRD_KEY, None, name)
        if live is None:
            info = info_from_crd(crd)
            if info is not None:
                cur = self.registry.get(info.key)
                if cur is not None and cur.crd is not None:
                    self.registry.remove(info.key)
            return
        info = info_from_crd(live)
        if info is not None:
            self.registry.add(info)

    # ------------------------------------------------------------------ GC
    def _gc_loop(self):
        while True:
            try:
                item = self._gc_queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._gc_item(item)
                self._gc_terminating()
            except Exception:  # the GC must survive anything a test throws at it
                import traceback
                traceback.print_exc()

    def _owners_state(self, obj):
        """(live owner refs, absent owner refs) of obj; an owner is live if its uid exists."""
        live, absent = [], []
        for ref in obj["metadata"].get("ownerReferences") or []:
            o = self.by_uid.get(ref.get("uid"))
            (live if o is not None else absent).append(ref)
        return live, absent

    def _gc_item(self, item):
        what, uid = item
        if what == "gone":
            with self.lock:
                deps = list(self.dependents.get(uid, ()))
            for d in deps:
                self._gc_dependent(d)
        elif what == "check":
            self._gc_dependent(uid)

    def _gc_dependent(self, uid):
        """Delete a dependent whose owners are all gone; drop dangling refs otherwise."""
        with self.lock:
            loc = self.by_uid.get(uid)
            if loc is None:
                return
            key, ns, name = loc
            obj = self.objects[key][ns][name]
            live, absent = self._owners_state(obj)
            info = self.registry.get(key)
        if info is None or not absent:
            return
        if live:
            gone_uids = {r.get("uid") for r in absent}

            def drop(o):
                o["metadata"]["ownerReferences"] = [
                    r for r in o["metadata"].get("ownerReferences") or []
                    if r.get("uid") not in gone_uids]
            self.mutate(key, ns, name, drop)
            return
        if obj["metadata"].get("deletionTimestamp") and info.key != "pods":
            return
        try:
            self.delete_ex(key, ns, name, propagation="Background")
        except E.ApiError:
            pass

    def _gc_terminating(self):
        with self.lock:
            items = list(self._terminating)
        for key, ns, name in items:
            obj = self.get_ref(key, ns, name)
            if obj is None:
                with self.lock:
                    self._terminating.discard((key, ns, name))
                continue
            fins = obj["metadata"].get("finalizers") or []
            uid = obj["metadata"]["uid"]
            if key == "namespaces":
                self._finish_namespace(name, obj)
            elif ORPHAN in fins:
                with self.lock:
                    deps = list(self.dependents.get(uid, ()))
                for d in deps:
                    loc = self.by_uid.get(d)
                    if loc is None:
                        continue

                    def unown(o):
                        o["metadata"]["ownerReferences"] = [
                            r for r in o["metadata"].get("ownerReferences") or []
                            if r.get("uid") != uid]
                        if not o["metadata"]["ownerReferences"]:
                            del o["metadata"]["ownerReferences"]
                    self.mutate(loc[0], loc[1], loc[2], unown)
                self._drop_finalizer(key, ns, name, ORPHAN)
            elif FOREGROUND in fins:
                with self.lock:
                    deps = [(d, self.by_uid.get(d)) for d in self.dependents.get(uid, ())]
                blocking = 0
                for d, loc in deps:
                    if loc is None:
                        continue
                    dep = self.get_ref(loc[0], loc[1], loc[2])
                    if dep is None:
                        continue
                    ref = next((r for r in dep["metadata"].get("ownerReferences") or []
                                if r.get("uid") == uid), {})
                    if ref.get("blockOwnerDeletion"):
                        blocking += 1
                    if not dep["metadata"].get("deletionTimestamp"):
                        try:
                            self.delete_ex(loc[0], loc[1], loc[2], propagation="Foreground")
                        except E.ApiError:
                            pass
                if blocking == 0:
                    self._drop_finalizer(key, ns, name, FOREGROUND)
            elif CRD_CLEANUP in fins and key == CRD_KEY:
                info = info_from_crd(obj)
                remaining = 0
                if info is not None and self.registry.get(info.key) is not None:
                    items2, _ = self.list_refs(info.key)
                    remaining = len(items2)
                    for o in items2:
                        if not o["metadata"].get("deletionTimestamp"):
                            try:
                                self.delete_ex(info.key, o["metadata"].get("namespace"),
                                               o["metadata"]["name"])
                            except E.ApiError:
                                pass
                if remaining == 0:
                    self._drop_finalizer(key, ns, name, CRD_CLEANUP)
            else:
                with self.lock:
                    self._terminating.discard((key, ns, name))

    def _drop_finalizer(self, key, ns, name, fin):
        def drop(o):
            fs = [f for f in o["metadata"].get("finalizers") or [] if f != fin]
            if fs:
                o["metadata"]["finalizers"] = fs
            else:
                o["metadata"].pop("finalizers", None)
        self.mutate(key, ns, name, drop)

    def _finish_namespace(self, name, obj):
        """Namespace controller: delete everything in it, then let the namespace go."""
        remaining = 0
        for info in self.registry.all():
            if not info.namespaced or info.key == "events.events.k8s.io":
                continue
            items, _ = self.list_refs(info.key, name)
            remaining += len(items)
            for o in items:
                if not o["metadata"].get("deletionTimestamp"):
                    try:
                        self.delete_ex(info.key, name, o["metadata"]["name"])
                    except E.ApiError:
                        pass
        if remaining == 0:
            def fin(o):
                o["spec"] = {}
            self.mutate("namespaces", None, name, fin)
            if not obj["metadata"].get("finalizers"):
                with self.lock:
                    cur = self.get_ref("namespaces", None, name)
                    if cur is not None and not cur["metadata"].get("finalizers"):
                        self._commit(self.registry.get("namespaces"), "", name, "DELETED",
                                     None, cur)
                    self._terminating.discard(("namespaces", "", name))
                self._flush()


def _golist(xs):
    return "[" + " ".join(xs) + "]"


def _strip_meta(o, keep_status):
    d = {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
    if not keep_status:
        d.pop("status", None)
    return d


def _spec_changed(info, old, new):
    """Generation moves when anything outside metadata changes (outside status, too, when the
    status subresource is enabled)."""
    return _strip_meta(old, not info.has_status) != _strip_meta(new, not info.has_status)


def _same(a, b):
    """Equal apart from resourceVersion."""
    if a.keys() != b.keys():
        return False
    for k in a:
        if k == "metadata":
            ma = {x: y for x, y in a[k].items() if x != "resourceVersion"}
            mb = {x: y for x, y in b[k].items() if x != "resourceVersion"}
            if ma != mb:
                return False
        elif a[k] != b[k]:
            return False
    return True
