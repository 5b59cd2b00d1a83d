#!/usr/bin/env python3
"""tools/chart/manifests.py - checks one rendering of the chart (used by tools/chart/test).

    manifests.py RENDERED.json [--yaml RENDERED.yaml] [--src DIR]

RENDERED.json is `tools/chart/render --json` output. With --yaml, the YAML text of the same
rendering is parsed with PyYAML too (when this Python has it) and must give the same objects,
so the text Helm would send parses with a second, independent parser.

Checks every document: apiVersion, kind and metadata.name; the namespace rules of its kind; the
standard app.kubernetes.io/* labels; the fields each kind requires; and that the documents agree
with each other and with the operator (every Deployment flag exists in src/operator/config.c,
the webhook/metrics ports and Service names the flags give are the ones rendered, the webhook
configurations point at the rendered Service and the operator's paths, the claim exists).
Prints one line per problem; exit status 1 if there is any.
"""

import json
import os
import re
import sys

CLUSTER_KINDS = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                 "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
          "app.kubernetes.io/managed-by", "helm.sh/chart"]
WEBHOOK_PATHS = {"MutatingWebhookConfiguration": "/mutate-runnerpool",
                 "ValidatingWebhookConfiguration": "/validate-runnerpool"}


def get(obj, path, default=None):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj


def operator_flags(src_root):
    """Long option names of `azdo-operator run`, from config.c's long_options table."""
    with open(os.path.join(src_root, "src", "operator", "config.c"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("long_options[]"):]
    table = table[:table.index("};")]
    return {m.group(1): m.group(2) for m in
            re.finditer(r'\{"([a-z-]+)",\s*(no_argument|required_argument)', table)}


def check(objects, flags):
    problems = []

    def bad(obj, msg):
        problems.append("%s %s: %s" % (obj.get("kind"), get(obj, "metadata.name"), msg))

    deps = [o for o in objects if o.get("kind") == "Deployment"]
    if len(deps) != 1:
        problems.append("want exactly one Deployment, found %d" % len(deps))
        return problems
    dep = deps[0]
    release_ns = get(dep, "metadata.namespace")
    by_kind = {}
    for o in objects:
        for field in ("apiVersion", "kind", "metadata.name"):
            if not get(o, field):
                bad(o, "no " + field)
        by_kind.setdefault(o.get("kind"), []).append(o)
        kind = o.get("kind")
        ns = get(o, "metadata.namespace")
        if kind in CLUSTER_KINDS and ns:
            bad(o, "cluster-scoped but has namespace %s" % ns)
        if kind not in CLUSTER_KINDS and not ns:
            bad(o, "namespaced but has no metadata.namespace (kubectl -n would move it)")
        if kind not in ("Role", "RoleBinding") and kind not in CLUSTER_KINDS and ns != release_ns:
            bad(o, "namespace %s is not the release namespace %s" % (ns, release_ns))
        if kind != "CustomResourceDefinition":
            labels = get(o, "metadata.labels", {}) or {}
            for label in LABELS:
                if not labels.get(label):
                    bad(o, "label %s missing" % label)
    # Names must be unique per kind and namespace.
    seen = set()
    for o in objects:
        key = (o.get("kind"), get(o, "metadata.namespace"), get(o, "metadata.name"))
        if key in seen:
            bad(o, "rendered twice")
        seen.add(key)

    # ---- Deployment ----
    spec = dep.get("spec", {})
    pod = get(spec, "template.spec", {})
    sel = get(spec, "selector.matchLabels", {}) or {}
    pod_labels = get(spec, "template.metadata.labels", {}) or {}
    if not sel or any(pod_labels.get(k) != v for k, v in sel.items()):
        bad(dep, "selector %s does not match the pod labels %s" % (sel, pod_labels))
    if get(spec, "strategy.type") != "Recreate":
        bad(dep, "strategy is not Recreate (the state volume is ReadWriteOnce)")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        bad(dep, "want one container")
        return problems
    c = containers[0]
    for field in ("name", "image"):
        if not c.get(field):
            bad(dep, "container has no " + field)
    psc, csc = pod.get("securityContext", {}) or {}, c.get("securityContext", {}) or {}
    if psc.get("runAsNonRoot") is not True and csc.get("runAsNonRoot") is not True:
        bad(dep, "not runAsNonRoot")
    if csc.get("readOnlyRootFilesystem") is not True:
        bad(dep, "root filesystem not read-only")
    if csc.get("allowPrivilegeEscalation") is not False:
        bad(dep, "allowPrivilegeEscalation not false")
    if "ALL" not in (get(csc, "capabilities.drop", []) or []):
        bad(dep, "capabilities not dropped")
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
    if mounts.get("/var/lib/azdo-operator") not in volumes:
        bad(dep, "no volume mounted at /var/lib/azdo-operator")
    if "emptyDir" not in volumes.get(mounts.get("/tmp"), {}):
        bad(dep, "no writable emptyDir at /tmp")
    env = {e.get("name"): get(e, "valueFrom.fieldRef.fieldPath") for e in c.get("env") or []}
    if env.get("POD_NAMESPACE") != "metadata.namespace" or env.get("POD_NAME") != "metadata.name":
        bad(dep, "POD_NAMESPACE/POD_NAME do not come from the downward API")
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if get(c, probe + ".httpGet.path") != path or get(c, probe + ".httpGet.port") != "metrics":
            bad(dep, "%s is not GET %s on the metrics port" % (probe, path))
    if "metrics" not in ports:
        bad(dep, "no container port named metrics")

    args = c.get("args") or []
    if not args or args[0] != "run":
        bad(dep, "args do not start with the run subcommand")
    given = {}
    i = 1
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            bad(dep, "stray argument %r" % a)
            i += 1
            continue
        name, eq, value = a[2:].partition("=")
        if name not in flags:
            bad(dep, "flag --%s is not an option of azdo-operator run (src/operator/config.c)"
                % name)
        elif flags[name] == "required_argument" and not eq:
            if i + 1 >= len(args):
                bad(dep, "--%s needs a value" % name)
            else:
                value = args[i + 1]
                i += 1
        elif flags[name] == "no_argument" and eq:
            bad(dep, "--%s takes no value" % name)
        given[name] = value
        i += 1
    for name in ("db", "poll-interval", "retention", "log-level", "webhook-port", "metrics-port",
                 "webhook-config-name", "webhook-secret-name", "webhook-service",
                 "webhook-namespace", "identity"):
        if name not in given:
            bad(dep, "flag --%s missing" % name)
    if given.get("db") != "/var/lib/azdo-operator/state.db":
        bad(dep, "--db is not on the state volume")
    if given.get("identity") != "$(POD_NAME)":
        bad(dep, "--identity is not $(POD_NAME)")
    if given.get("webhook-namespace") != release_ns:
        bad(dep, "--webhook-namespace is not the release namespace")
    if "leader-elect" in given and "leader-election-namespace" not in given:
        bad(dep, "--leader-elect without --leader-election-namespace")
    if str(ports.get("metrics")) != given.get("metrics-port"):
        bad(dep, "--metrics-port %s but the metrics container port is %s" %
            (given.get("metrics-port"), ports.get("metrics")))
    webhook_on = given.get("webhook-port") != "0"
    if webhook_on and str(ports.get("webhook")) != given.get("webhook-port"):
        bad(dep, "--webhook-port %s but the webhook container port is %s" %
            (given.get("webhook-port"), ports.get("webhook")))

    # ---- PVC ----
    claim = get(volumes.get(mounts.get("/var/lib/azdo-operator"), {}),
                "persistentVolumeClaim.claimName")
    pvcs = by_kind.get("PersistentVolumeClaim", [])
    for p in pvcs:
        if not get(p, "spec.accessModes") or not get(p, "spec.resources.requests.storage"):
            bad(p, "no accessModes or storage request")
    if pvcs and claim not in [get(p, "metadata.name") for p in pvcs]:
        bad(dep, "mounts claim %s, but the chart renders %s" %
            (claim, [get(p, "metadata.name") for p in pvcs]))

    # ---- Services ----
    services = {get(s, "metadata.name"): s for s in by_kind.get("Service", [])}
    for s in services.values():
        ssel = get(s, "spec.selector", {}) or {}
        if not ssel or any(pod_labels.get(k) != v for k, v in ssel.items()):
            bad(s, "selector %s does not select the operator pods" % ssel)
        for p in get(s, "spec.ports", []) or []:
            if not p.get("port") or p.get("targetPort") not in ports:
                bad(s, "port %s targets %r, not a named container port" %
                    (p.get("port"), p.get("targetPort")))
    if webhook_on and given.get("webhook-service") not in services:
        bad(dep, "--webhook-service %s is not a rendered Service" % given.get("webhook-service"))

    # ---- webhook configurations ----
    hooks = by_kind.get("MutatingWebhookConfiguration", []) + \
        by_kind.get("ValidatingWebhookConfiguration", [])
    if webhook_on != bool(hooks) or (hooks and len(hooks) != 2):
        bad(dep, "webhook port %s but %d webhook configurations" %
            (given.get("webhook-port"), len(hooks)))
    for h in hooks:
        if get(h, "metadata.name") != given.get("webhook-config-name"):
            bad(h, "name differs from --webhook-config-name %s" % given.get("webhook-config-name"))
        for w in h.get("webhooks") or []:
            if not w.get("name") or w.get("admissionReviewVersions") != ["v1"] or \
                    w.get("sideEffects") != "None" or \
                    w.get("failurePolicy") not in ("Fail", "Ignore"):
                bad(h, "webhook %s lacks name/admissionReviewVersions [v1]/sideEffects None/"
                    "failurePolicy" % w.get("name"))
            svc = get(w, "clientConfig.service", {}) or {}
            if "caBundle" in (w.get("clientConfig") or {}):
                bad(h, "sets caBundle (the operator injects it; an upgrade would wipe it)")
            if svc.get("path") != WEBHOOK_PATHS[h["kind"]]:
                bad(h, "path %s, the operator serves %s" % (svc.get("path"),
                                                          WEBHOOK_PATHS[h["kind"]]))
            target = services.get(svc.get("name"))
            if target is None or svc.get("namespace") != release_ns:
                bad(h, "service %s/%s is not rendered" % (svc.get("namespace"), svc.get("name")))
            elif svc.get("port", 443) not in [p.get("port") for p in get(target, "spec.ports")]:
                bad(h, "service port %s is not a port of %s" % (svc.get("port"), svc.get("name")))
            rules = w.get("rules") or []
            if not any(r.get("apiGroups") == ["devops.opentools.mf"] and
                       r.get("apiVersions") == ["v1"] and r.get("resources") == ["runnerpools"] and
                       sorted(r.get("operations") or []) == ["CREATE", "UPDATE"] for r in rules):
                bad(h, "rules are not runnerpools v1 CREATE/UPDATE")

    # ---- RBAC ----
    for r in by_kind.get("ClusterRole", []) + by_kind.get("Role", []):
        for rule in r.get("rules") or []:
            if not (isinstance(rule.get("apiGroups"), list) and rule.get("resources") and
                    rule.get("verbs")):
                bad(r, "rule without apiGroups/resources/verbs: %s" % rule)
    for b in by_kind.get("ClusterRoleBinding", []) + by_kind.get("RoleBinding", []):
        ref = b.get("roleRef") or {}
        if ref.get("apiGroup") != "rbac.authorization.k8s.io" or not ref.get("name") or \
                not b.get("subjects"):
            bad(b, "roleRef or subjects missing")
        for s in b.get("subjects") or []:
            if s.get("kind") == "ServiceAccount" and (s.get("name") != pod.get(
                    "serviceAccountName") or s.get("namespace") != release_ns):
                bad(b, "binds %s/%s, not the operator's account" % (s.get("namespace"),
                                                                    s.get("name")))
    sa = [s for s in by_kind.get("ServiceAccount", [])]
    if sa and get(sa[0], "metadata.name") != pod.get("serviceAccountName"):
        bad(dep, "serviceAccountName %s is not the rendered ServiceAccount" %
            pod.get("serviceAccountName"))

    # ---- ServiceMonitor ----
    for m in by_kind.get("ServiceMonitor", []):
        msel = get(m, "spec.selector.matchLabels", {}) or {}
        matched = [s for s in services.values()
                   if all((get(s, "metadata.labels", {}) or {}).get(k) == v
                          for k, v in msel.items())]
        if len(matched) != 1:
            bad(m, "selects %d Services, want the metrics Service" % len(matched))
        for e in get(m, "spec.endpoints", []) or []:
            if matched and e.get("port") not in [p.get("name") for p in
                                                 get(matched[0], "spec.ports", [])]:
                bad(m, "endpoint port %s is not a port of the selected Service" % e.get("port"))
    for crd in by_kind.get("CustomResourceDefinition", []):
        if not (get(crd, "spec.group") and get(crd, "spec.names.plural") and
                get(crd, "spec.versions")):
            bad(crd, "group/names/versions missing")
    return problems


def main(argv):
    src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    yaml_file = None
    if "--src" in argv:
        i = argv.index("--src")
        src = argv[i + 1]
        del argv[i:i + 2]
    if "--yaml" in argv:
        i = argv.index("--yaml")
        yaml_file = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        objects = [d["object"] for d in json.load(f)]
    problems = check(objects, operator_flags(src))
    if yaml_file is not None:
        try:
            import yaml  # Debian's python3-yaml; only for this cross-check
        except ImportError:
            yaml = None
        if yaml is not None:
            with open(yaml_file, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            if json.loads(json.dumps(docs, default=str)) != objects:
                problems.append("the YAML text parses (PyYAML) to other objects than the JSON")
    for p in problems:
        print("manifests: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
