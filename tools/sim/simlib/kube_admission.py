"""kube_admission.py - calls the admission webhooks that webhook configurations in the store
select, as the real API server does: mutating webhooks first (JSONPatch responses applied in
order), then schema validation (by the caller), then validating webhooks.

- HTTPS only; the server certificate is verified against `clientConfig.caBundle` (base64 PEM
  in the object) and the name the real server would use: the URL's host, or
  `<service>.<namespace>.svc` for a service reference. A service reference is dialled at
  127.0.0.1 on the port given by --service-port NAMESPACE/NAME=PORT.
- `failurePolicy` (default Fail) decides what a failed call does; `timeoutSeconds` (default 10)
  bounds it. A denial becomes the webhook's Status with the message prefixed
  `admission webhook "<name>" denied the request: `.

LIMITATION: matchConditions (CEL), reinvocationPolicy IfNeeded and matchPolicy Equivalent
conversions are not implemented; webhooks are matched on the exact group/version/resource.
"""

import base64
import http.client
import json
import socket
import ssl
import urllib.parse
import uuid

from . import kube_errors as E
from . import kube_patch
from . import kube_selectors as S

SKIP = {"validatingwebhookconfigurations.admissionregistration.k8s.io",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "validatingadmissionpolicies.admissionregistration.k8s.io"}


class _Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port while verifying the certificate for `sni` (the service name)."""

    def __init__(self, port, sni, ctx, timeout, dial_host="127.0.0.1"):
        super().__init__(dial_host, port, context=ctx, timeout=timeout)
        self._sni = sni
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)


class Admission:
    """One request's admission chain. service_ports: {"ns/name": port}."""

    def __init__(self, store, service_ports, warnings=None, user=None, subresource=""):
        self.store = store
        self.service_ports = service_ports or {}
        self.warnings = warnings if warnings is not None else []
        self.user = user or {"username": "kubernetes-admin",
                             "groups": ["system:masters", "system:authenticated"]}
        self.subresource = subresource or ""

    # ---------------------------------------------------------------- matching
    def _configs(self, kind):
        key = kind + ".admissionregistration.k8s.io"
        items, _ = self.store.list_refs(key)
        return items

    def _matches(self, hook, op, info, ns, obj, old):
        res = info.plural + ("/" + self.subresource if self.subresource else "")
        version = (obj or old or {}).get("apiVersion", info.api_version()).split("/")[-1]
        ok = False
        for r in hook.get("rules") or []:
            ops = r.get("operations") or []
            if "*" not in ops and op not in ops:
                continue
            groups = r.get("apiGroups") or []
            if "*" not in groups and info.group not in groups:
                continue
            vers = r.get("apiVersions") or []
            if "*" not in vers and version not in vers:
                continue
            rs = r.get("resources") or []
            hit = False
            for pat in rs:
                if pat == "*/*" or pat == res:
                    hit = True
                elif pat == "*" and not self.subresource:
                    hit = True
                elif pat.endswith("/*") and self.subresource and \
                        pat[:-2] in (info.plural, "*"):
                    hit = True
                elif pat.startswith("*/") and self.subresource == pat[2:]:
                    hit = True
            if not hit:
                continue
            scope = r.get("scope") or "*"
            if scope == "Namespaced" and not info.namespaced:
                continue
            if scope == "Cluster" and info.namespaced:
                continue
            ok = True
            break
        if not ok:
            return False
        nsel = hook.get("namespaceSelector")
        if nsel and (nsel.get("matchLabels") or nsel.get("matchExpressions")):
            try:
                reqs = S.structured_to_reqs(nsel)
            except ValueError:
                return False
            if info.key == "namespaces":
                labels = ((obj or old or {}).get("metadata") or {}).get("labels")
                if not S.labels_match(reqs, labels):
                    return False
            elif info.namespaced:
                nso = self.store.get_ref("namespaces", None, ns)
                labels = (nso or {}).get("metadata", {}).get("labels") or {}
                if not S.labels_match(reqs, labels):
                    return False
        osel = hook.get("objectSelector")
        if osel and (osel.get("matchLabels") or osel.get("matchExpressions")):
            try:
                reqs = S.structured_to_reqs(osel)
            except ValueError:
                return False
            if not any(S.labels_match(reqs, ((o or {}).get("metadata") or {}).get("labels"))
                       for o in (obj, old) if o is not None):
                return False
        return True

    def _hooks(self, kind, op, info, ns, obj, old):
        if info.key in SKIP:
            return []
        out = []
        for cfg in sorted(self._configs(kind), key=lambda c: c["metadata"]["name"]):
            for hook in cfg.get("webhooks") or []:
                if self._matches(hook, op, info, ns, obj, old):
                    out.append(hook)
        return out

    # ---------------------------------------------------------------- calling
    def _review(self, op, info, ns, obj, old, dry_run):
        md = (obj or old or {}).get("metadata") or {}
        version = (obj or old or {}).get("apiVersion", info.api_version()).split("/")[-1]
        gvk = {"group": info.group, "version": version, "kind": info.kind}
        gvr = {"group": info.group, "version": version, "resource": info.plural}
        opts = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions",
                "DELETE": "DeleteOptions"}.get(op, "CreateOptions")
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
                            "subResource": self.subresource, "requestKind": gvk,
                            "requestResource": gvr, "name": md.get("name", ""),
                            "namespace": ns or "", "operation": op, "userInfo": self.user,
                            "object": obj, "oldObject": old, "dryRun": bool(dry_run),
                            "options": {"apiVersion": "meta.k8s.io/v1", "kind": opts}}}

    def _call(self, hook, review):
        """POST the review; returns the response dict or raises _CallFailed."""
        cc = hook.get("clientConfig") or {}
        timeout = hook.get("timeoutSeconds") or 10
        ca = cc.get("caBundle")
        try:
            if ca:
                pem = base64.b64decode(ca).decode()
                ctx = ssl.create_default_context(cadata=pem)
            else:
                ctx = ssl.create_default_context()
        except (ValueError, ssl.SSLError) as e:
            raise _CallFailed("failed to call webhook: invalid caBundle: %s" % e)
        if cc.get("url"):
            u = urllib.parse.urlsplit(cc["url"])
            if u.scheme != "https":
                raise _CallFailed('failed to call webhook: unsupported scheme "%s"' % u.scheme)
            host = u.hostname or ""
            if host not in ("127.0.0.1", "localhost", "::1"):
                # The world stays on loopback: never dial out of the machine.
                raise _CallFailed('failed to call webhook: Post "%s": dial tcp: lookup %s: '
                                  'refusing non-loopback address in the simulated world'
                                  % (cc["url"], host))
            port = u.port or 443
            path = (u.path or "/")
            display = cc["url"]
            conn = _Conn(port, host, ctx, timeout, dial_host="127.0.0.1")
        elif cc.get("service"):
            svc = cc["service"]
            sname, sns = svc.get("name", ""), svc.get("namespace", "")
            path = svc.get("path") or "/"
            sport = svc.get("port") or 443
            display = "https://%s.%s.svc:%s%s" % (sname, sns, sport, path)
            port = self.service_ports.get("%s/%s" % (sns, sname))
            if port is None:
                raise _CallFailed('failed to call webhook: Post "%s?timeout=%ds": service '
                                  '"%s/%s" has no --service-port mapping in the simulated '
                                  'world' % (display, timeout, sns, sname))
            conn = _Conn(int(port), "%s.%s.svc" % (sname, sns), ctx, timeout)
        else:
            raise _CallFailed("failed to call webhook: no clientConfig url or service")
        body = json.dumps(review).encode()
        sep = "&" if "?" in path else "?"
        try:
            conn.request("POST", path + sep + "timeout=%ds" % timeout, body=body,
                         headers={"Content-Type": "application/json",
                                  "Accept": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except socket.timeout:
            raise _CallFailed('failed to call webhook: Post "%s?timeout=%ds": context '
                              'deadline exceeded' % (display, timeout))
        except (OSError, http.client.HTTPException) as e:
            raise _CallFailed('failed to call webhook: Post "%s?timeout=%ds": %s'
                              % (display, timeout, e))
        finally:
            conn.close()
        if resp.status != 200:
            raise _CallFailed("failed to call webhook: the server responded with status %d"
                              % resp.status)
        try:
            out = json.loads(data)
        except ValueError as e:
            raise _CallFailed("failed to call webhook: bad response body: %s" % e)
        if not isinstance(out, dict) or out.get("apiVersion") != "admission.k8s.io/v1" or \
                out.get("kind") != "AdmissionReview":
            raise _CallFailed('expected webhook response of admission.k8s.io/v1, Kind='
                              'AdmissionReview, got %s, Kind=%s'
                              % ((out or {}).get("apiVersion") if isinstance(out, dict)
                                 else "", (out or {}).get("kind") if isinstance(out, dict)
                                 else ""))
        r = out.get("response")
        if not isinstance(r, dict):
            raise _CallFailed("webhook response was absent")
        if r.get("uid") != review["request"]["uid"]:
            raise _CallFailed('expected response.uid="%s", got "%s"'
                              % (review["request"]["uid"], r.get("uid")))
        for w in r.get("warnings") or []:
            self.warnings.append(str(w)[:120])
        return r

    def _run(self, kind, op, info, ns, obj, old, dry_run):
        for hook in self._hooks(kind, op, info, ns, obj, old):
            name = hook.get("name", "")
            if "v1" not in (hook.get("admissionReviewVersions") or ["v1"]):
                err = _CallFailed("webhook does not accept v1 AdmissionReview")
                if self._ignore(hook):
                    continue
                raise E.internal('failed calling webhook "%s": %s' % (name, err))
            review = self._review(op, info, ns, obj, old, dry_run)
            try:
                r = self._call(hook, review)
            except _CallFailed as e:
                if self._ignore(hook):
                    continue
                raise E.internal('failed calling webhook "%s": %s' % (name, e))
            if not r.get("allowed"):
                raise _denied(name, r.get("status"))
            if kind == "mutatingwebhookconfigurations":
                pt, patch = r.get("patchType"), r.get("patch")
                if bool(pt) != bool(patch):
                    err = "webhook returned patch without patchType or patchType without patch"
                    if self._ignore(hook):
                        continue
                    raise E.internal('failed calling webhook "%s": %s' % (name, err))
                if patch:
                    if pt != "JSONPatch":
                        if self._ignore(hook):
                            continue
                        raise E.internal('failed calling webhook "%s": unsupported patch '
                                         'type "%s"' % (name, pt))
                    try:
                        ops = json.loads(base64.b64decode(patch))
                        obj = kube_patch.json_patch(obj, ops)
                    except (ValueError, kube_patch.PatchError) as e:
                        if self._ignore(hook):
                            continue
                        raise E.internal('failed calling webhook "%s": failed to apply '
                                         'patch: %s' % (name, e))
            elif r.get("patch") or r.get("patchType"):
                if self._ignore(hook):
                    continue
                raise E.internal('failed calling webhook "%s": validating webhooks may not '
                                 'return patches' % name)
        return obj

    @staticmethod
    def _ignore(hook):
        return (hook.get("failurePolicy") or "Fail") == "Ignore"

    def mutate(self, op, info, ns, obj, old, dry_run=False):
        return self._run("mutatingwebhookconfigurations", op, info, ns, obj, old, dry_run)

    def validate(self, op, info, ns, obj, old, dry_run=False):
        self._run("validatingwebhookconfigurations", op, info, ns, obj, old, dry_run)


class _CallFailed(Exception):
    pass


def _denied(name, status):
    st = status if isinstance(status, dict) else {}
    code = st.get("code") or 400
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = 400
    if code < 400:
        code = 400
    prefix = 'admission webhook "%s" denied the request' % name
    if st.get("message"):
        msg = "%s: %s" % (prefix, st["message"])
    elif st.get("reason"):
        msg = "%s: %s" % (prefix, st["reason"])
    else:
        msg = prefix + " without explanation"
    return E.ApiError(code, st.get("reason") or "", msg, st.get("details"))
