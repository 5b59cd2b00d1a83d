"""azdo_api.py - the Azure DevOps REST surface: /<org>/_apis/... (reference §2-§11).

handle(req) is transport-free: it takes a Request and returns a Response, so tests can call it
in-process and azdo.py can serve it over HTTP. Order of checks, as the real service appears to
do them: organisation, authentication, throttling, injected faults, api-version, route.
"""

import base64
import hashlib
import json
import random
import time
import urllib.parse

from . import azdo_util as U
from .azdo_model import AzdoError, DEFAULT_AGENT_VERSION


class Request:
    def __init__(self, method, path, raw_query="", headers=None, body=b""):
        self.method = method.upper()
        self.path = path
        self.raw_query = raw_query or ""
        self.headers = headers if headers is not None else {}
        self.body = body or b""
        q = urllib.parse.parse_qs(self.raw_query, keep_blank_values=True)
        # ASP.NET matches query parameter names case-insensitively.
        self.query = {k.lower(): v[-1] for k, v in q.items()}

    def header(self, name):
        h = self.headers
        v = h.get(name)
        if v is None and isinstance(h, dict):
            for k, val in h.items():
                if k.lower() == name.lower():
                    return val
        return v

    def json(self):
        if not self.body:
            return None
        try:
            text = self.body.decode("utf-8-sig")
            return json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise AzdoError(400, "ArgumentException",
                            "The request body is not valid JSON.")


class Response:
    def __init__(self, status, body=b"", content_type="application/json; charset=utf-8",
                 headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers or [])


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj).encode(), headers=headers)


def error_response(status, type_key, message, headers=None, bom=False):
    return Response(status, U.error_body(type_key, message, bom=bom), headers=headers)


def list_response(items, headers=None):
    return json_response(200, {"count": len(items), "value": items}, headers=headers)


def pat_fingerprint(pat):
    """What the request log shows instead of a PAT: 12 hex digits of its SHA-256."""
    if pat is None:
        return None
    return hashlib.sha256(pat.encode()).hexdigest()[:12]


def parse_basic(header):
    """The PAT from 'Basic base64(user:pat)'; None when absent or not Basic."""
    if not header:
        return None
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    return decoded.split(":", 1)[1]


def _bool(v):
    return v is not None and v.strip().lower() == "true"


def _int(v, what):
    try:
        return int(v)
    except (TypeError, ValueError):
        raise AzdoError(400, "VssPropertyValidationException",
                        "The value '%s' is not valid for %s." % (v, what))


class AzdoApi:
    def __init__(self, world, faults, rng=None):
        self.world = world
        self.faults = faults
        self.rng = rng or random.Random()

    # ------------------------------------------------------------------ entry
    def handle(self, req, info):
        """Returns a Response; fills info (dict) with org, credential and fingerprint for the
        request log."""
        segs = [urllib.parse.unquote(s) for s in req.path.split("/") if s]
        if len(segs) < 2 or segs[1] != "_apis":
            return error_response(404, "VssResourceNotFoundException",
                                  "The requested resource %s was not found. Azure DevOps REST "
                                  "paths look like /{organization}/_apis/..." % req.path)
        world = self.world
        with world.lock:
            org = world.org(segs[0])
        info["org"] = segs[0]
        if org is None:
            return error_response(404, "OrganizationNotFoundException",
                                  "VS800075: The organization '%s' does not exist. (Simulated "
                                  "world: create it with POST /_sim/orgs/%s.)" % (segs[0], segs[0]))
        faults = self.faults
        latency = float(getattr(faults, "azdo_latency_ms", 0) or 0)
        if latency > 0:
            time.sleep(latency / 1000.0)

        # --- authentication (§8)
        auth = req.header("Authorization")
        pat = parse_basic(auth)
        info["credential"] = pat_fingerprint(pat)
        realm = [("WWW-Authenticate", 'Basic realm="%s"' % world.base_url)]
        if not auth:
            info["auth"] = "missing"
            return error_response(401, "UnauthorizedRequestException",
                                  "TF400813: The user '' is not authorized to access this "
                                  "resource.", headers=realm, bom=True)
        with world.lock:
            cred = world.credential_state(org, pat)
        info["auth"] = cred
        if cred == "expired":
            text = "The Personal Access Token used has expired."
            hdrs = realm + [("X-TFS-ServiceError", urllib.parse.quote(text))]
            return error_response(401, "AccessCheckException", text, headers=hdrs, bom=True)
        if cred in ("invalid", "revoked"):
            if (req.header("X-TFS-FedAuthRedirect") or "").strip().lower() == "suppress":
                return error_response(401, "UnauthorizedRequestException",
                                      "TF400813: The user '' is not authorized to access this "
                                      "resource.", headers=realm, bom=True)
            return Response(203, U.SIGN_IN_PAGE, content_type="text/html; charset=utf-8")

        # --- throttling (§9) and injected failures
        if self._take_throttle():
            retry = int(getattr(faults, "azdo_retry_after_s", 2) or 0)
            hdrs = [("Retry-After", str(retry))] + self._ratelimit_headers(retry)
            return error_response(429, "RequestBlockedException",
                                  "TF400733: The request has been blocked due to exceeding "
                                  "usage of resource 'Core' in namespace 'User'.", headers=hdrs)
        rate = float(getattr(faults, "azdo_error_rate", 0.0) or 0.0)
        if rate > 0 and self.rng.random() < rate:
            return error_response(500, "VssServiceException",
                                  "An unexpected error occurred on the server (simulated fault).")

        version_problem = U.check_api_version(U.api_version_from(req.query, req.headers),
                                              req.method)
        if version_problem:
            return error_response(*version_problem)
        if cred == "readonly" and req.method != "GET":
            return error_response(403, "AccessCheckException",
                                  "Access denied. %s needs Manage permissions to perform this "
                                  "action. For more information, contact the organization "
                                  "owner." % org.user["displayName"])
        try:
            resp = self._route(req, org, segs[2:])
        except AzdoError as e:
            resp = error_response(e.status, e.type_key, e.message)
        if getattr(faults, "azdo_soft_throttle", False):
            retry = int(getattr(faults, "azdo_retry_after_s", 2) or 0)
            resp.headers += [("Retry-After", str(retry)), ("X-RateLimit-Delay", "2.500")] + \
                self._ratelimit_headers(retry)
        return resp

    def _take_throttle(self):
        f = self.faults
        if getattr(f, "azdo_throttle", False):
            return True
        with f.lock:
            if getattr(f, "azdo_throttle_count", 0) > 0:
                f.azdo_throttle_count -= 1
                return True
        return False

    @staticmethod
    def _ratelimit_headers(retry):
        return [("X-RateLimit-Resource", "Core"), ("X-RateLimit-Limit", "200"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(int(time.time()) + max(1, retry)))]

    # ------------------------------------------------------------------ routes
    def _route(self, req, org, rest):
        m = req.method
        if rest == ["connectionData"] and m == "GET":
            return self._connection_data(org)
        if len(rest) < 2 or rest[0] != "distributedtask":
            raise AzdoError(404, "VssResourceNotFoundException",
                            "API resource location for /%s/_apis/%s is not registered on this "
                            "server." % (org.name, "/".join(rest)))
        area = rest[1:]
        if area == ["packages", "agent"] and m == "GET":
            return self._packages(org)
        if area[0] != "pools":
            raise AzdoError(404, "VssResourceNotFoundException",
                            "API resource location for /%s/_apis/%s is not registered on this "
                            "server." % (org.name, "/".join(rest)))
        if len(area) == 1:
            self._allow(m, "GET")
            return self._pools(req, org)
        pool = self._pool(org, area[1])
        if len(area) == 2:
            self._allow(m, "GET")
            with self.world.lock:
                return json_response(200, self.world.pool_json(pool))
        if area[2] == "agents":
            if len(area) == 3:
                self._allow(m, "GET", "POST")
                if m == "GET":
                    return self._agents(req, pool)
                return self._register(req, pool)
            if len(area) == 4:
                self._allow(m, "GET", "PATCH", "PUT", "DELETE")
                return self._agent(req, pool, area[3])
        if area[2] == "jobrequests":
            if len(area) == 3:
                self._allow(m, "GET")
                return self._jobrequests(req, pool)
            if len(area) == 4:
                self._allow(m, "GET")
                return self._jobrequest(req, pool, area[3])
        raise AzdoError(404, "VssResourceNotFoundException",
                        "API resource location for /%s/_apis/%s is not registered on this "
                        "server." % (org.name, "/".join(rest)))

    @staticmethod
    def _allow(method, *allowed):
        if method not in allowed:
            raise AzdoError(405, "VssResourceNotFoundException",
                            "The requested resource does not support http method '%s'." % method)

    def _pool(self, org, text):
        try:
            pid = int(text)
        except ValueError:
            raise AzdoError(404, "TaskAgentPoolNotFoundException",
                            "No agent pool found with identifier %s." % text)
        pool = org.pools_by_id.get(pid)
        if pool is None:
            raise AzdoError(404, "TaskAgentPoolNotFoundException",
                            "No agent pool found with identifier %d." % pid)
        return pool

    def _connection_data(self, org):
        user = dict(org.user)
        return json_response(200, {"authenticatedUser": user, "authorizedUser": user,
                                   "instanceId": org.host_id, "deploymentType": "hosted",
                                   "locationServiceData": {"serviceOwner":
                                                           "00025394-6065-48ca-87d9-7f5672854ef7",
                                                           "defaultAccessMappingMoniker":
                                                           "PublicAccessMapping"}})

    def _packages(self, org):
        ver = self.world.agent_version or DEFAULT_AGENT_VERSION
        parts = [int(p) for p in ver.split(".")[:3]] + [0, 0, 0]
        name = "vsts-agent-linux-x64-%s.tar.gz" % ver
        return list_response([{
            "type": "agent", "platform": "linux-x64", "createdOn": U.iso(time.time() - 86400),
            "version": {"major": parts[0], "minor": parts[1], "patch": parts[2]},
            "downloadUrl": "%s/_sim/agent-package/%s" % (self.world.base_url, name),
            "infoUrl": "%s/_sim/agent-package" % self.world.base_url,
            "filename": name}])

    def _pools(self, req, org):
        q = req.query
        with self.world.lock:
            pools = sorted(org.pools.values(), key=lambda p: p.id)
            name = q.get("poolname")
            if name is not None:
                pools = [p for p in pools if p.name.lower() == name.lower()]
            ptype = q.get("pooltype")
            if ptype is not None and ptype.lower() not in ("automation", ""):
                pools = []  # the simulated world has no deployment pools
            ids = q.get("poolids")
            if ids:
                want = {_int(x, "poolIds") for x in ids.split(",") if x.strip()}
                pools = [p for p in pools if p.id in want]
            return list_response([self.world.pool_json(p) for p in pools])

    def _agents(self, req, pool):
        q = req.query
        caps = _bool(q.get("includecapabilities"))
        assigned = _bool(q.get("includeassignedrequest"))
        last = _bool(q.get("includelastcompletedrequest"))
        name = q.get("agentname")
        demands = q.get("demands")
        parsed = []
        if demands:
            try:
                parsed = [U.parse_demand(d) for d in demands.split(",") if d.strip()]
            except U.DemandError as e:
                raise AzdoError(400, "ArgumentException", str(e))
        with self.world.lock:
            out = []
            for a in pool.agents.values():
                if name is not None and a.name.lower() != name.lower():
                    continue
                if parsed and not U.demands_satisfied(parsed, a.caps_lower):
                    continue
                out.append(self.world.agent_json(a, caps, assigned, last))
            return list_response(out)

    def _register(self, req, pool):
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or \
                not body["name"].strip():
            raise AzdoError(400, "ArgumentException",
                            "Value cannot be null.\r\nParameter name: agent.Name")
        name = body["name"].strip()
        system = body.get("systemCapabilities") or {}
        user = body.get("userCapabilities") or {}
        if not isinstance(system, dict) or not isinstance(user, dict):
            raise AzdoError(400, "ArgumentException",
                            "systemCapabilities and userCapabilities must be objects.")
        system = {str(k): str(v) for k, v in system.items()}
        user = {str(k): str(v) for k, v in user.items()}
        with self.world.lock:
            version = str(body.get("version") or self.world.agent_version)
            # LIMITATION: whether the real service derives the Agent.Version capability from
            # the agent's version for API-registered agents is unverified; the world does, so
            # a placeholder without it still matches the Agent.Version demand every job has.
            system.setdefault("Agent.Version", version)
            system.setdefault("Agent.Name", name)
            enabled = body.get("enabled", True)
            agent = self.world.add_agent(pool, name, version=version, system_caps=system,
                                         user_caps=user, status="offline",
                                         enabled=bool(enabled))
            agent.virtual = True
            return json_response(200, self.world.agent_json(agent, True, True, False))

    def _agent(self, req, pool, text):
        world = self.world
        try:
            aid = int(text)
        except ValueError:
            aid = None
        with world.lock:
            agent = pool.agents.get(aid) if aid is not None else None
            if agent is None:
                raise AzdoError(404, "TaskAgentNotFoundException",
                                "No agent found in pool %s with identifier %s." % (pool.name,
                                                                                   text))
            m = req.method
            q = req.query
            if m == "GET":
                return json_response(200, world.agent_json(
                    agent, _bool(q.get("includecapabilities")),
                    _bool(q.get("includeassignedrequest")),
                    _bool(q.get("includelastcompletedrequest"))))
            if m == "DELETE":
                status = int(getattr(self.faults, "azdo_busy_delete_status", 0) or 0)
                if agent.assigned is not None and status:
                    raise AzdoError(status, "TaskAgentBusyException",
                                    "Agent \"%s\" is running a job for pool \"%s\"." % (
                                        agent.name, pool.name))
                world.delete_agent(agent)
                return Response(204, b"", content_type=None)
        body = req.json()
        if not isinstance(body, dict):
            raise AzdoError(400, "ArgumentException", "The request body must be a TaskAgent object.")
        with world.lock:
            if pool.agents.get(agent.id) is not agent:
                raise AzdoError(404, "TaskAgentNotFoundException",
                                "No agent found in pool %s with identifier %s." % (pool.name,
                                                                                   text))
            if "enabled" in body:
                if not isinstance(body["enabled"], bool):
                    raise AzdoError(400, "ArgumentException", "enabled must be true or false.")
                world.set_enabled(agent, body["enabled"])
            if isinstance(body.get("userCapabilities"), dict):
                agent.set_caps(None, {str(k): str(v) for k, v in body["userCapabilities"].items()})
                world.dirty_pools.add(pool)
            if m == "PUT":
                if isinstance(body.get("systemCapabilities"), dict):
                    agent.set_caps({str(k): str(v) for k, v in
                                    body["systemCapabilities"].items()}, None)
                    world.dirty_pools.add(pool)
                if body.get("version"):
                    agent.version = str(body["version"])
            world.schedule_dirty()
            return json_response(200, world.agent_json(agent, True, True, False))

    def _jobrequests(self, req, pool):
        q = req.query
        completed = q.get("completedrequestcount")
        top = q.get("$top")
        if top is None:
            top = q.get("top")
        completed_n = _int(completed, "completedRequestCount") if completed is not None else None
        top_n = _int(top, "$top") if top is not None else None
        agent_ids = None
        if q.get("agentid"):
            agent_ids = {_int(q["agentid"], "agentId")}
        elif q.get("agentids"):
            agent_ids = {_int(x, "agentIds") for x in q["agentids"].split(",") if x.strip()}
        cont = q.get("continuationtoken")
        start_id = _int(cont, "continuationToken") if cont else None
        if completed_n != 0:
            extra = float(getattr(self.faults, "azdo_history_latency_ms", 0) or 0)
            if extra > 0:
                time.sleep(extra / 1000.0)
        cap = int(getattr(self.faults, "azdo_max_page", 200) or 200)
        limit = cap if top_n is None else max(0, min(cap, top_n))
        world = self.world

        def keep(j):
            if start_id is not None and j.id < start_id:
                return False
            if agent_ids is not None and (j.agent_ref is None or j.agent_ref["id"] not in agent_ids):
                return False
            if q.get("planid") and j.plan_id != q["planid"]:
                return False
            return True

        with world.lock:
            if completed_n is None:
                source = pool.jobs.values()
            else:
                fin = [j for j in pool.finished_order if keep(j)]
                fin = fin[-completed_n:] if completed_n > 0 else []
                source = sorted(list(pool.unfinished.values()) + fin, key=lambda j: j.id)
            out = []
            more = None
            for j in source:
                if not keep(j):
                    continue
                if len(out) >= limit:
                    more = j.id
                    break
                out.append(world.job_json(j, matched=top_n is None))
        headers = []
        if more is not None and top_n is not None:
            headers.append(("X-MS-ContinuationToken", str(more)))
        return list_response(out, headers=headers)

    def _jobrequest(self, req, pool, text):
        try:
            rid = int(text)
        except ValueError:
            rid = None
        with self.world.lock:
            job = pool.jobs.get(rid) if rid is not None else None
            if job is None:
                raise AzdoError(404, "TaskAgentJobNotFoundException",
                                "No job request found with identifier %s." % text)
            return json_response(200, self.world.job_json(job))
