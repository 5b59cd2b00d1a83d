"""kube_http.py - the simulated Kubernetes API server's HTTP(S) front end.

Routes the real URL layout (/api/v1/..., /apis/{g}/{v}/..., cluster and namespaced, the
status subresource, the deprecated /watch/ prefix) onto KubeStore; serves legacy discovery,
a minimal OpenAPI v3 (so `kubectl apply` validates with fieldValidation=Strict), Tables for
kubectl get, list chunking, chunked watch streams with bookmarks, the four patch types, and
Status bodies for every error. See kube_store for semantics, kube_admission for webhooks.

Server-side apply (application/apply-patch+yaml) is treated as create-or-merge-patch.
LIMITATION: no managedFields, field ownership, conflict detection or removal of fields a
manifest stopped setting; the body must be JSON (what kubectl sends). A fix needs a YAML
parser and the structured-merge-diff algorithm.
"""

import base64
import hashlib
import http.server
import json
import os
import random
import socket
import socketserver
import threading
import time
import urllib.parse

from . import kube_errors as E
from . import kube_builtin
from . import kube_patch
from . import kube_proto
from . import kube_selectors as S
from . import kube_table
from .kube_admission import Admission
from .kube_store import now_rfc3339

GIT_VERSION = "v1.32.4-sim"
BOOKMARK_INTERVAL = 5.0
WATCH_POLL = 0.5
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
EVENTS_V1 = "events.events.k8s.io"
PUBLIC_PATHS = {"/version", "/version/", "/healthz", "/livez", "/readyz"}
RETURNS_OBJECT_ON_DELETE = {"pods", "namespaces", "services", "persistentvolumeclaims"}


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class KubeServer:
    """The API server. tls_context: an ssl.SSLContext (server side) or None for plain HTTP;
    token_file: require `Authorization: Bearer <contents>` when set."""

    def __init__(self, store, faults, service_ports=None, tls_context=None, token_file=None,
                 log=None):
        self.store = store
        self.faults = faults
        self.service_ports = service_ports or {}
        self.tls_context = tls_context
        self.token_file = token_file
        self._token = None
        self._token_mtime = None
        self.log = log
        self.httpd = None
        self.watch_threads = set()

    def start(self, port):
        handler = type("KubeHandler", (_Handler,), {"kube": self})
        self.httpd = _Server(("127.0.0.1", port), handler)
        if self.tls_context is not None:
            self.httpd.socket = self.tls_context.wrap_socket(self.httpd.socket,
                                                             server_side=True,
                                                             do_handshake_on_connect=False)
        t = threading.Thread(target=self.httpd.serve_forever, name="kube-http", daemon=True)
        t.start()
        return self.httpd.server_address[1]

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def token(self):
        if not self.token_file:
            return None
        try:
            st = os.stat(self.token_file)
            if st.st_mtime != self._token_mtime:
                with open(self.token_file) as f:
                    self._token = f.read().strip()
                self._token_mtime = st.st_mtime
        except OSError:
            pass
        return self._token

    def apply_watch_faults(self):
        f = self.faults
        n = 0
        with f.lock:
            if f.drop_watches:
                n = int(f.drop_watches)
                f.drop_watches = 0
        if n:
            self.store.drop_watches(n)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "simworld-kube"
    sys_version = ""
    kube = None  # set by KubeServer.start

    def log_message(self, fmt, *args):  # keep stderr quiet; requests go to the log file
        pass

    def setup(self):
        super().setup()
        self.connection.settimeout(None)
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ------------------------------------------------------------------ plumbing
    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, OSError):
            self.close_connection = True

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("GET")

    def _dispatch(self, method):
        t0 = time.time()
        self.method = method
        self.status_sent = None
        self.warnings = []
        self._body_cache = None
        try:
            u = urllib.parse.urlsplit(self.path)
            self.url_path = u.path
            self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query,
                                                                 keep_blank_values=True).items()}
            if u.path not in PUBLIC_PATHS:   # system:public-info-viewer, as in clusters
                self._check_auth()
            is_watch = self.q.get("watch") in ("true", "1") or "/watch/" in u.path
            self._faults(is_watch)
            self._route(method, u.path)
        except E.ApiError as e:
            self._send_status(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # never a traceback on the wire: a 500 Status instead
            import traceback
            traceback.print_exc()
            try:
                self._send_status(E.internal("%s: %s" % (type(e).__name__, e)))
            except OSError:
                self.close_connection = True
        finally:
            if self.kube.log is not None:
                self.kube.log({"ts": now_rfc3339(), "component": "kube", "method": method,
                               "path": self.path, "status": self.status_sent,
                               "ms": int((time.time() - t0) * 1000)})

    def _faults(self, is_watch):
        f = self.kube.faults
        self.kube.apply_watch_faults()
        if f.kube_latency_ms:
            time.sleep(f.kube_latency_ms / 1000.0)
        if f.kube_timeout_rate and random.random() < f.kube_timeout_rate:
            # Hang until the client gives up, then drop the connection.
            self.connection.settimeout(1.0)
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
                time.sleep(0.5)
            self.close_connection = True
            raise ConnectionResetError()
        if not is_watch and f.kube_error_rate and random.random() < f.kube_error_rate:
            raise E.internal("simulated failure (kube_error_rate)")

    def _check_auth(self):
        tok = self.kube.token()
        if tok is None:
            return
        h = self.headers.get("Authorization", "")
        if h != "Bearer " + tok:
            self._read_body()
            raise E.ApiError(401, "Unauthorized", "Unauthorized")

    def _read_body(self):
        if self._body_cache is not None:
            return self._body_cache
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n > 0 else b""
        self._body_cache = data
        return data

    def _json_body(self, required=True):
        data = self._read_body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return kube_proto.decode(data)
            except kube_proto.ProtoError as e:
                raise E.unsupported_media(
                    "the simulated API server decodes protobuf bodies only for Namespace, "
                    "ConfigMap, Secret and ServiceAccount (got %s); use `kubectl apply -f` "
                    "with YAML/JSON instead" % e)
        if not data.strip():
            if required:
                raise E.bad_request("the body of the request is empty; expected a JSON "
                                    "object")
            return None
        try:
            return json.loads(data)
        except ValueError as e:
            raise E.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def _send(self, code, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "sim-%d" % random.getrandbits(48))
        self.send_header("Cache-Control", "no-cache, private")
        for w in self.warnings:
            self.send_header("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace(
                '"', '\\"').replace("\n", " "))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.method != "HEAD" and self.command != "HEAD":
            self.wfile.write(data)
        self.status_sent = code

    def _send_status(self, err):
        self._read_body_safely()
        self._send(err.status, err.to_status(), extra=err.headers)

    def _read_body_safely(self):
        try:
            self._read_body()
        except OSError:
            pass

    # ------------------------------------------------------------------ routing
    def _route(self, method, path):
        parts = [p for p in path.split("/") if p]
        if method == "GET":
            if path == "/version" or path == "/version/":
                return self._send(200, _version())
            if path in ("/healthz", "/livez", "/readyz"):
                return self._send(200, "ok", "text/plain; charset=utf-8")
            if path == "/api":
                return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{
                                            "clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "127.0.0.1:%d"
                                            % self.server.server_address[1]}]})
            if path == "/apis":
                return self._send(200, self._group_list())
            if parts[:2] == ["openapi", "v3"]:
                return self._openapi(parts[2:])
            if parts[:2] == ["openapi", "v2"] or path == "/swagger.json":
                raise E.not_found_path()
        if parts[:1] == ["api"]:
            if len(parts) < 2 or parts[1] != "v1":
                raise E.not_found_path()
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 2:
            group = parts[1]
            if len(parts) == 2:
                if method != "GET":
                    raise E.method_not_allowed()
                g = self._group(group)
                if g is None:
                    raise E.not_found_path()
                return self._send(200, dict(g, kind="APIGroup", apiVersion="v1"))
            version, rest = parts[2], parts[3:]
        else:
            raise E.not_found_path()
        if not rest:
            if method != "GET":
                raise E.method_not_allowed()
            return self._send(200, self._resource_list(group, version))
        if rest[0] == "watch":
            rest = rest[1:]
            self.q["watch"] = "true"
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (
                len(rest) == 3 and group == "" and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = "/".join(rest[2:]) if len(rest) > 2 else None
        info = self.kube.store.registry.find(group, version, plural)
        if info is None:
            raise E.not_found_path()
        if ns is not None and not info.namespaced:
            raise E.not_found_path()
        self.info = info
        self.version = version
        if sub == "finalize" and info.key == "namespaces":
            sub = None
        if sub is not None and not (sub == "status" and info.has_status):
            if sub == "log" and info.key == "pods" and method == "GET":
                return self._pod_log(ns, name)
            raise E.not_found_path()
        if name is None:
            if method == "GET":
                if self.q.get("watch") in ("true", "1"):
                    return self._watch(info, ns)
                return self._list(info, ns)
            if method == "POST":
                if ns is None and info.namespaced:
                    raise E.method_not_allowed()
                return self._create(info, ns)
            if method == "DELETE":
                return self._delete_collection(info, ns)
            raise E.method_not_allowed()
        if info.namespaced and ns is None:
            raise E.not_found_path()
        if method == "GET":
            if self.q.get("watch") in ("true", "1"):
                self.q["fieldSelector"] = "metadata.name=" + name
                return self._watch(info, ns)
            return self._get(info, ns, name)
        if method == "PUT":
            return self._update(info, ns, name, sub)
        if method == "PATCH":
            return self._patch(info, ns, name, sub)
        if method == "DELETE":
            if sub:
                raise E.method_not_allowed()
            return self._delete(info, ns, name)
        raise E.method_not_allowed()

    # ------------------------------------------------------------------ discovery
    def _group(self, group):
        vs = self.kube.store.registry.groups().get(group)
        if not vs:
            return None
        return {"name": group,
                "versions": [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in vs],
                "preferredVersion": {"groupVersion": "%s/%s" % (group, vs[0]),
                                     "version": vs[0]}}

    def _group_list(self):
        groups = []
        for g in self.kube.store.registry.groups():
            groups.append(self._group(g))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group, version):
        res = []
        for info in sorted(self.kube.store.registry.all(), key=lambda i: i.plural):
            if info.group != group or version not in info.versions:
                continue
            r = {"name": info.plural, "singularName": info.singular,
                 "namespaced": info.namespaced, "kind": info.kind, "verbs": info.verbs,
                 "storageVersionHash": base64.b64encode(hashlib.sha256(
                     info.key.encode()).digest()[:8]).decode()}
            if info.short_names:
                r["shortNames"] = info.short_names
            if info.categories:
                r["categories"] = info.categories
            res.append(r)
            if info.has_status:
                res.append({"name": info.plural + "/status", "singularName": "",
                            "namespaced": info.namespaced, "kind": info.kind,
                            "verbs": ["get", "patch", "update"]})
            if info.key == "pods":
                res.append({"name": "pods/log", "singularName": "", "namespaced": True,
                            "kind": "Pod", "verbs": ["get"]})
        if not res:
            raise E.not_found_path()
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": version if not group else "%s/%s" % (group, version),
                "resources": res}

    def _openapi(self, rest):
        reg = self.kube.store.registry
        gvs = {"api/v1": ("", "v1")}
        for info in reg.all():
            if info.group:
                for v in info.versions:
                    gvs["apis/%s/%s" % (info.group, v)] = (info.group, v)
        if not rest:
            paths = {}
            for p, (g, v) in sorted(gvs.items()):
                doc = self._openapi_doc(g, v)
                h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
                paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, h[:64])}
            return self._send(200, {"paths": paths})
        key = "/".join(rest)
        if key not in gvs:
            raise E.not_found_path()
        return self._send(200, self._openapi_doc(*gvs[key]))

    def _openapi_doc(self, group, version):
        """Paths with the GVK and fieldValidation markers kubectl looks for; schemas only
        for custom resources (from the CRD), so kubectl explain works for them."""
        paths = {}
        schemas = {}
        for info in self.kube.store.registry.all():
            if info.group != group or version not in info.versions:
                continue
            base = "/api/v1" if not group else "/apis/%s/%s" % (group, version)
            gvk = {"group": group, "version": version, "kind": info.kind}
            params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                      {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                      {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]
            ref = None
            if info.crd is not None:
                cv = info.crd_version(version) or {}
                sch = (cv.get("schema") or {}).get("openAPIV3Schema")
                if sch:
                    sname = "%s.%s.%s" % (".".join(reversed(group.split("."))), version,
                                          info.kind)
                    s = json.loads(json.dumps(sch))
                    s["x-kubernetes-group-version-kind"] = [gvk]
                    s.setdefault("properties", {})
                    s["properties"].setdefault("apiVersion", {"type": "string"})
                    s["properties"].setdefault("kind", {"type": "string"})
                    s["properties"]["metadata"] = {"type": "object"}
                    schemas[sname] = s
                    ref = {"$ref": "#/components/schemas/" + sname}
            body = {"content": {"application/json": {"schema": ref or {"type": "object"}}}}
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": params,
                  "responses": {"200": {"description": "OK", "content": {
                      "application/json": {"schema": ref or {"type": "object"}}}}}}
            if info.namespaced:
                obj_path = base + "/namespaces/{namespace}/%s/{name}" % info.plural
                coll = base + "/namespaces/{namespace}/%s" % info.plural
            else:
                obj_path = base + "/%s/{name}" % info.plural
                coll = base + "/" + info.plural
            patch_types = [MERGE, JSONPATCH, APPLY] + ([SMP] if info.crd is None else [])
            paths[obj_path] = {
                "get": dict(op, **{"x-kubernetes-action": "get"}),
                "put": dict(op, requestBody=body, **{"x-kubernetes-action": "put"}),
                "patch": dict(op, requestBody={"content": {t: {"schema": {"type": "object"}}
                                                          for t in patch_types}},
                              **{"x-kubernetes-action": "patch"}),
                "delete": dict(op, **{"x-kubernetes-action": "delete"})}
            paths[coll] = {"get": dict(op, **{"x-kubernetes-action": "list"}),
                           "post": dict(op, requestBody=body,
                                        **{"x-kubernetes-action": "post"})}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION},
                "paths": paths, "components": {"schemas": schemas}}

    # ------------------------------------------------------------------ helpers
    def _want_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _want_partial(self):
        return "as=PartialObjectMetadata" in (self.headers.get("Accept") or "")

    def _out(self, obj):
        """Stored object as served at the request's version."""
        if self.info.key == EVENTS_V1:
            return kube_builtin.event_core_to_v1(obj)
        if obj.get("apiVersion") != self.info.api_version(self.version):
            obj = dict(obj)
            obj["apiVersion"] = self.info.api_version(self.version)
        return obj

    def _dry_run(self):
        d = self.q.get("dryRun")
        if d is None:
            return False
        if d != "All":
            raise E.bad_request('Invalid dryRun value "%s": valid values are "All"' % d)
        return True

    def _field_validation(self):
        fv = self.q.get("fieldValidation")
        if fv in (None, ""):
            return "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise E.bad_request('fieldValidation parameter "%s" is invalid: must be one of '
                                'Strict, Warn, Ignore' % fv)
        return fv

    def _admission(self, sub=None):
        return Admission(self.kube.store, self.kube.service_ports, self.warnings,
                         subresource=sub or "")

    def _check_type(self, info, obj):
        if not isinstance(obj, dict):
            raise E.bad_request("Object 'Kind' is missing in request body")
        if info.key == "events" and self.info.key == EVENTS_V1:
            return
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != info.kind:
            raise E.bad_request("the API version in the data (%s) does not match the expected "
                                "API version (%s)" % (av, info.api_version(self.version))
                                if av and av != info.api_version(self.version) else
                                'the kind in the data (%s) does not match the expected kind '
                                '(%s)' % (kind, info.kind))
        if av and av != info.api_version(self.version):
            raise E.bad_request("the API version in the data (%s) does not match the expected "
                                "API version (%s)" % (av, info.api_version(self.version)))
        if "metadata" in obj and not isinstance(obj["metadata"], dict):
            raise E.bad_request('json: cannot unmarshal %s into Go struct field '
                                '.metadata of type v1.ObjectMeta'
                                % type(obj["metadata"]).__name__)

    # ------------------------------------------------------------------ reads
    def _get(self, info, ns, name):
        obj = self.kube.store.get_ref(info.key, ns, name)
        if obj is None:
            raise E.not_found(info, name)
        if self._want_table():
            return self._send(200, kube_table.table(info, self.version, [obj],
                                                    obj["metadata"]["resourceVersion"],
                                                    self.q.get("includeObject", "Metadata")))
        if self._want_partial():
            return self._send(200, {"kind": "PartialObjectMetadata",
                                    "apiVersion": "meta.k8s.io/v1",
                                    "metadata": obj["metadata"]})
        self._send(200, self._out(obj))

    def _selectors(self, info):
        try:
            lreq = S.parse_label_selector(self.q.get("labelSelector"))
            fs = self.q.get("fieldSelector")
            if info.key == EVENTS_V1 and fs:
                fs = fs.replace("regarding.", "involvedObject.").replace(
                    "reportingController", "reportingComponent")
            freq = S.parse_field_selector(fs, "events" if info.key == EVENTS_V1 else info.key,
                                          info.kind)
        except ValueError as e:
            raise E.bad_request(str(e))
        return lreq, freq

    def _list(self, info, ns):
        lreq, freq = self._selectors(info)
        items, rv = self.kube.store.list_refs(info.key, ns, lreq, freq)
        limit = self.q.get("limit")
        cont = self.q.get("continue")
        start = 0
        list_rv = rv
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                after, list_rv = tok["start"], int(tok["rv"])
            except (ValueError, KeyError, TypeError):
                raise E.bad_request("continue key is not valid: invalid continue token")
            if list_rv < self.kube.store.log_floor:
                raise E.gone("The provided continue parameter is too old to display a "
                             "consistent list result. You can start a new list without the "
                             "continue parameter.")
            keys = [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items]
            start = next((i for i, k in enumerate(keys) if list(k) > after), len(items))
        new_cont = None
        remaining = None
        end = len(items)
        if limit:
            try:
                n = int(limit)
            except ValueError:
                raise E.bad_request("limit must be an integer")
            if n > 0 and start + n < len(items):
                end = start + n
                last = items[end - 1]["metadata"]
                new_cont = base64.urlsafe_b64encode(json.dumps(
                    {"start": [last.get("namespace", ""), last["name"]], "rv": list_rv},
                    separators=(",", ":")).encode()).decode().rstrip("=")
                remaining = len(items) - end
        page = items[start:end]
        if self._want_table():
            return self._send(200, kube_table.table(info, self.version, page, list_rv,
                                                    self.q.get("includeObject", "Metadata"),
                                                    new_cont, remaining))
        md = {"resourceVersion": str(list_rv)}
        if new_cont:
            md["continue"] = new_cont
            md["remainingItemCount"] = remaining
        if self._want_partial():
            return self._send(200, {"kind": "PartialObjectMetadataList",
                                    "apiVersion": "meta.k8s.io/v1", "metadata": md,
                                    "items": [{"kind": "PartialObjectMetadata",
                                               "apiVersion": "meta.k8s.io/v1",
                                               "metadata": o["metadata"]} for o in page]})
        if info.crd is not None:
            out_items = [self._out(o) for o in page]
        else:
            # Built-in typed lists carry no per-item kind/apiVersion, as the real server.
            conv = self._out if info.key == EVENTS_V1 else (lambda o: o)
            out_items = [{k: v for k, v in conv(o).items() if k not in ("kind", "apiVersion")}
                         for o in page]
        self._send(200, {"kind": info.list_kind, "apiVersion": info.api_version(self.version),
                         "metadata": md, "items": out_items})

    def _pod_log(self, ns, name):
        pod = self.kube.store.get_ref("pods", ns, name)
        info = self.kube.store.registry.get("pods")
        if pod is None:
            raise E.not_found(info, name)
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Pending":
            c = (pod["spec"].get("containers") or [{}])[0].get("name", "")
            raise E.bad_request('container "%s" in pod "%s" is waiting to start: '
                                'ContainerCreating' % (c, name))
        self._send(200, "simulated container: no log output\n", "text/plain")

    # ------------------------------------------------------------------ watch
    def _watch(self, info, ns):
        store = self.kube.store
        lreq, freq = self._selectors(info)
        rv = self.q.get("resourceVersion")
        try:
            timeout = float(self.q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise E.bad_request("timeoutSeconds must be a number")
        bookmarks = self.q.get("allowWatchBookmarks") in ("true", "1")
        send_initial = self.q.get("sendInitialEvents") in ("true", "1")
        table = self._want_table()
        expired = None
        f = self.kube.faults
        if rv not in (None, "", "0") and f.force_watch_expiry:
            with f.lock:
                if f.force_watch_expiry:
                    f.force_watch_expiry = False
                    expired = E.gone("too old resource version: %s (%d)"
                                     % (rv, store.current_rv()))
        w = None
        if expired is None:
            try:
                w = store.watch(info.key, ns, None if send_initial else rv, lreq, freq)
            except E.ApiError as e:
                if e.status != 410:
                    raise
                expired = e
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.status_sent = 200
        self.close_connection = True
        if expired is not None:
            self._chunk({"type": "ERROR", "object": expired.to_status()})
            self._end_chunks()
            return
        initial_end = send_initial
        if send_initial:
            w.queue.put(("INITIAL_END", None, None))
        deadline = time.time() + timeout
        last_bm = time.time()
        cols_sent = False
        try:
            while True:
                now = time.time()
                if now >= deadline:
                    break
                self.kube.apply_watch_faults()
                try:
                    item = w.queue.get(timeout=min(WATCH_POLL, deadline - now))
                except Exception:
                    item = "idle"
                if w.dropped:
                    # Cut the stream without the terminating chunk, like a dying proxy.
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if w.expired:
                    self._chunk({"type": "ERROR", "object": E.gone(
                        "too old resource version: %s (%d)" % (rv, store.current_rv())
                    ).to_status()})
                    break
                if item is None:
                    break
                if item == "idle":
                    if bookmarks and time.time() - last_bm >= BOOKMARK_INTERVAL:
                        self._bookmark(info, store.current_rv())
                        last_bm = time.time()
                    continue
                etype, obj, old = item
                if etype == "INITIAL_END":
                    if bookmarks or initial_end:
                        self._bookmark(info, w.start_rv, initial_end=True)
                        last_bm = time.time()
                    continue
                ev = w.translate(etype, obj, old)
                if ev is None:
                    continue
                et, o = ev
                o = self._out(o)
                if table:
                    t = kube_table.table(info, self.version, [o],
                                         o["metadata"]["resourceVersion"],
                                         self.q.get("includeObject", "Metadata"))
                    if cols_sent:
                        t["columnDefinitions"] = []
                    cols_sent = True
                    o = t
                self._chunk({"type": et, "object": o})
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
        finally:
            store.stop_watch(w)
        try:
            self._end_chunks()
        except OSError:
            pass

    def _bookmark(self, info, rv, initial_end=False):
        md = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        self._chunk({"type": "BOOKMARK", "object": {
            "kind": info.kind, "apiVersion": info.api_version(self.version), "metadata": md}})

    def _chunk(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------------ writes
    def _create(self, info, ns):
        body = self._json_body()
        if info.key == EVENTS_V1:
            body = kube_builtin.event_v1_to_core(body)
            info = self.kube.store.registry.get("events")
        self._check_type(info, body)
        dry = self._dry_run()
        obj = self.kube.store.create(info.key, ns, body, strict_namespace=True, dry_run=dry,
                                     field_validation=self._field_validation(),
                                     warnings=self._warn_list(), version=self.version,
                                     admission=self._admission())
        self._send(201, self._out(obj))

    def _warn_list(self):
        return self.warnings if self._field_validation() == "Warn" else None

    def _update(self, info, ns, name, sub):
        body = self._json_body()
        if info.key == EVENTS_V1:
            body = kube_builtin.event_v1_to_core(body)
            info = self.kube.store.registry.get("events")
        self._check_type(info, body)
        obj = self.kube.store.update(info.key, ns, name, body, subresource=sub,
                                     dry_run=self._dry_run(),
                                     field_validation=self._field_validation(),
                                     warnings=self._warn_list(), version=self.version,
                                     admission=self._admission(sub))
        self._send(200, self._out(obj))

    def _patch(self, info, ns, name, sub):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        store = self.kube.store
        if ctype not in (MERGE, JSONPATCH, SMP, APPLY):
            raise E.unsupported_media(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml" + (", " + SMP if info.crd is None else ""))
        if ctype == SMP and info.crd is not None:
            raise E.unsupported_media(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml")
        raw = self._read_body()
        try:
            patch = json.loads(raw) if raw.strip() else None
        except ValueError as e:
            if ctype == APPLY:
                raise E.bad_request("error decoding YAML: this simulated server accepts "
                                    "server-side apply bodies in JSON only: %s" % e)
            raise E.bad_request("error decoding patch: %s" % e)
        if patch is None:
            raise E.bad_request("the body of the request is empty")
        dry = self._dry_run()
        fv = self._field_validation()
        if ctype == APPLY:
            if not self.q.get("fieldManager"):
                raise E.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                                 'fieldManager: Required value: is required for apply patch')
            self._check_type(info, patch)
            if store.get_ref(info.key, ns, name) is None:
                if sub:
                    raise E.not_found(info, name)
                md = patch.setdefault("metadata", {})
                if md.get("name") and md["name"] != name:
                    raise E.bad_request("the name of the object (%s) does not match the name "
                                        "on the URL (%s)" % (md["name"], name))
                md["name"] = name
                try:
                    obj = store.create(info.key, ns, patch, strict_namespace=True,
                                       dry_run=dry, field_validation=fv,
                                       warnings=self._warn_list(), version=self.version,
                                       admission=self._admission())
                    return self._send(201, self._out(obj))
                except E.ApiError as e:
                    if e.reason != "AlreadyExists":
                        raise
        user_rv = None
        if isinstance(patch, dict):
            user_rv = (patch.get("metadata") or {}).get("resourceVersion") \
                if isinstance(patch.get("metadata"), dict) else None
        elif ctype == JSONPATCH:
            for op in patch:
                if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" and \
                        op.get("op") in ("add", "replace"):
                    user_rv = op.get("value")
        for _ in range(10):
            cur = store.get_ref(info.key, ns, name)
            if cur is None:
                raise E.not_found(info, name)
            if user_rv is not None and str(user_rv) != cur["metadata"]["resourceVersion"]:
                raise E.conflict(info, name)
            try:
                if ctype == JSONPATCH:
                    new = kube_patch.json_patch(cur, patch)
                elif ctype == SMP:
                    new = kube_patch.strategic_merge_patch(cur, patch)
                else:
                    if not isinstance(patch, dict):
                        raise kube_patch.PatchError("merge patch must be a JSON object", 400)
                    new = kube_patch.merge_patch(cur, patch)
            except kube_patch.PatchError as e:
                if e.code == 422:
                    raise E.ApiError(422, "Invalid", "the server rejected our request due to "
                                     "an error in our request: %s" % e)
                if e.code == 413:
                    raise E.ApiError(413, "RequestEntityTooLarge", str(e))
                raise E.bad_request(str(e))
            if not isinstance(new, dict):
                raise E.bad_request("the patch did not produce an object")
            md = new.get("metadata")
            if not isinstance(md, dict):
                raise E.bad_request("metadata must be an object")
            if md.get("name") != name:
                raise E.bad_request("the name of the object (%s) does not match the name on "
                                    "the URL (%s)" % (md.get("name"), name))
            md["resourceVersion"] = cur["metadata"]["resourceVersion"]
            try:
                obj = store.update(info.key, ns, name, new, subresource=sub, dry_run=dry,
                                   field_validation=fv, warnings=self._warn_list(),
                                   require_rv=False, version=self.version,
                                   admission=self._admission(sub))
            except E.ApiError as e:
                if e.reason == "Conflict" and user_rv is None:
                    continue  # a concurrent writer: re-apply the patch on the new state
                raise
            return self._send(200, self._out(obj))
        raise E.conflict(info, name)

    def _delete_opts(self):
        opts = {}
        raw = self._read_body()
        if raw.strip():
            try:
                opts = json.loads(raw)
            except ValueError as e:
                raise E.bad_request("couldn't decode DeleteOptions: %s" % e)
            if not isinstance(opts, dict):
                raise E.bad_request("DeleteOptions must be an object")
        grace = self.q.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                grace = int(grace)
            except (TypeError, ValueError):
                raise E.bad_request("gracePeriodSeconds must be an integer")
        prop = self.q.get("propagationPolicy", opts.get("propagationPolicy"))
        orphan = self.q.get("orphanDependents", opts.get("orphanDependents"))
        if prop is None and orphan is not None:
            prop = "Orphan" if str(orphan).lower() == "true" else "Background"
        if prop not in (None, "Background", "Foreground", "Orphan"):
            raise E.bad_request('propagationPolicy "%s" is not supported: supported values are '
                                '"Orphan", "Background", "Foreground"' % prop)
        dry = self._dry_run() or opts.get("dryRun") == ["All"]
        return grace, prop, opts.get("preconditions"), dry

    def _delete(self, info, ns, name):
        grace, prop, pre, dry = self._delete_opts()
        store = self.kube.store
        cur = store.get_ref(info.key, ns, name)
        if cur is None:
            raise E.not_found(info, name)
        adm = self._admission()
        adm.validate("DELETE", info, ns, None, cur, dry)
        obj, removed = store.delete_ex(info.key, ns, name, grace_period=grace,
                                       propagation=prop, preconditions=pre, dry_run=dry)
        if removed and info.key not in RETURNS_OBJECT_ON_DELETE:
            det = {"name": name, "kind": info.plural, "uid": obj["metadata"].get("uid")}
            if info.group:
                det["group"] = info.group
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "details": det})
        self._send(200, self._out(obj))

    def _delete_collection(self, info, ns):
        grace, prop, _, dry = self._delete_opts()
        lreq, freq = self._selectors(info)
        items, _ = self.kube.store.list_refs(info.key, ns, lreq, freq)
        out = []
        for o in items:
            try:
                obj, _ = self.kube.store.delete_ex(info.key, o["metadata"].get("namespace"),
                                                   o["metadata"]["name"], grace_period=grace,
                                                   propagation=prop, dry_run=dry)
                out.append(self._out(obj))
            except E.ApiError as e:
                if e.status != 404:
                    raise
        self._send(200, {"kind": info.list_kind, "apiVersion": info.api_version(self.version),
                         "metadata": {"resourceVersion": str(self.kube.store.current_rv())},
                         "items": out})


def _version():
    return {"major": "1", "minor": "32", "gitVersion": GIT_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.6", "compiler": "gc",
            "platform": "linux/amd64"}
