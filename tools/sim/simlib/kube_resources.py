"""kube_resources.py - the resource types the simulated API server knows.

A resource is addressed inside the world by a key: the plural for the core group ("pods") and
"<plural>.<group>" for every other group ("leases.coordination.k8s.io",
"runnerpools.devops.opentools.mf"). Built-in kinds are listed here; custom resources are added
and removed at run time when CRDs are written (see kube_store.KubeStore._sync_crd).
"""

import threading


class ResourceInfo:
    """What discovery, routing, storage and printing need to know about one resource type."""

    def __init__(self, group, version, plural, kind, namespaced=True, singular=None,
                 short_names=(), categories=(), has_status=False, versions=None,
                 crd=None, generation=False, verbs=None, list_only=False):
        self.group = group                  # "" for core
        self.version = version              # storage (preferred) version
        self.versions = list(versions or [version])   # every served version, preferred first
        self.plural = plural
        self.kind = kind
        self.list_kind = kind + "List"
        self.namespaced = namespaced
        self.singular = singular or kind.lower()
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.has_status = has_status        # status subresource: spec and status written apart
        self.crd = crd                      # the CRD object for custom resources, else None
        self.generation = generation        # does metadata.generation track spec changes?
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch",
                               "update", "watch"]
        self.key = plural if not group else plural + "." + group

    def api_version(self, version=None):
        v = version or self.version
        return v if not self.group else self.group + "/" + v

    def qualified(self):
        """How the real server names the resource in messages: `pods`, `leases.coordination.k8s.io`."""
        return self.key

    def crd_version(self, version):
        """The CRD's `spec.versions[]` entry for `version`, or None."""
        if not self.crd:
            return None
        for v in self.crd.get("spec", {}).get("versions", []) or []:
            if v.get("name") == version:
                return v
        return None


def _core(plural, kind, namespaced=True, short=(), status=False, singular=None, cats=()):
    return ResourceInfo("", "v1", plural, kind, namespaced, singular=singular,
                        short_names=short, has_status=status, categories=cats)


BUILTINS = [
    _core("pods", "Pod", short=["po"], status=True, cats=["all"]),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True),
    _core("persistentvolumes", "PersistentVolume", namespaced=False, short=["pv"], status=True),
    _core("secrets", "Secret"),
    _core("configmaps", "ConfigMap", short=["cm"]),
    _core("events", "Event", short=["ev"]),
    _core("namespaces", "Namespace", namespaced=False, short=["ns"], status=True),
    _core("services", "Service", short=["svc"], status=True, cats=["all"]),
    _core("serviceaccounts", "ServiceAccount", short=["sa"]),
    _core("endpoints", "Endpoints", short=["ep"]),
    _core("nodes", "Node", namespaced=False, short=["no"], status=True),
    ResourceInfo("coordination.k8s.io", "v1", "leases", "Lease"),
    ResourceInfo("events.k8s.io", "v1", "events", "Event", short_names=["ev"]),
    ResourceInfo("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                 "CustomResourceDefinition", namespaced=False, short_names=["crd", "crds"],
                 has_status=True, generation=True),
    ResourceInfo("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "ValidatingWebhookConfiguration", namespaced=False, generation=True),
    ResourceInfo("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                 "MutatingWebhookConfiguration", namespaced=False, generation=True),
    ResourceInfo("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False,
                 short_names=["sc"]),
    # Stored but not acted upon (no controllers): enough for `kubectl apply` of a Helm chart.
    ResourceInfo("apps", "v1", "deployments", "Deployment", short_names=["deploy"],
                 has_status=True, generation=True, categories=["all"]),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
                 namespaced=False),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                 "ClusterRoleBinding", namespaced=False),
    ResourceInfo("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
                 short_names=["pdb"], has_status=True, generation=True),
    ResourceInfo("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
                 short_names=["netpol"], generation=True),
]

# Kinds whose objects the real server stores in the same table under two groups.
ALIASES = {"events.events.k8s.io": "events"}


class Registry:
    """Resource types by key and by (group, version, plural); thread-safe, changes with CRDs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_key = {}
        for info in BUILTINS:
            self.by_key[info.key] = info

    def get(self, key):
        with self.lock:
            return self.by_key.get(key)

    def find(self, group, version, plural):
        """ResourceInfo for a URL's group/version/plural, or None if not served."""
        key = plural if not group else plural + "." + group
        with self.lock:
            info = self.by_key.get(key)
        if info is None or version not in info.versions:
            return None
        return info

    def all(self):
        with self.lock:
            return list(self.by_key.values())

    def add(self, info):
        with self.lock:
            self.by_key[info.key] = info

    def remove(self, key):
        with self.lock:
            self.by_key.pop(key, None)

    def groups(self):
        """{group: [versions, preferred first]} for every served non-core group, sorted."""
        out = {}
        for info in self.all():
            if not info.group:
                continue
            vs = out.setdefault(info.group, [])
            for v in info.versions:
                if v not in vs:
                    vs.append(v)
        return dict(sorted(out.items()))


def storage_key(key):
    """Events under events.k8s.io share storage with core events, as in the real server."""
    return ALIASES.get(key, key)


def info_from_crd(crd):
    """A ResourceInfo for a CRD object, or None if it serves no version."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    served = [v for v in spec.get("versions", []) or [] if v.get("served", True)]
    if not served or not names.get("plural") or not names.get("kind") or not spec.get("group"):
        return None
    storage = next((v for v in served if v.get("storage")), served[0])
    order = [storage["name"]] + [v["name"] for v in served if v is not storage]
    has_status = "status" in (storage.get("subresources") or {})
    info = ResourceInfo(spec["group"], storage["name"], names["plural"], names["kind"],
                        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                        singular=names.get("singular") or names["kind"].lower(),
                        short_names=names.get("shortNames") or [],
                        categories=names.get("categories") or [],
                        has_status=has_status, versions=order, crd=crd, generation=True)
    if names.get("listKind"):
        info.list_kind = names["listKind"]
    return info
