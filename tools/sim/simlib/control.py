"""control.py - the world's control API under /_sim/ on the Azure DevOps port (issue 2 item 4).

Tests and demos use it to create organisations and pools, queue jobs, flip fault switches and
read the whole world back. It is not authenticated (loopback only) and never echoes a PAT:
GET /_sim/state replaces every known PAT value with "<redacted>".

Errors are {"error": "<message>"} with 400 (bad input), 404 (unknown org/pool/job/route) or
405 (wrong method).
"""

import json
import time
import urllib.parse

from .azdo_api import Response, json_response
from .azdo_model import AzdoError
from .azdo_util import iso, truthy

RESULTS = ("succeeded", "succeededWithIssues", "failed", "canceled", "skipped", "abandoned")
REDACTED = "<redacted>"

# POST /_sim/faults keys that are not Faults attributes.
FAULT_ALIASES = {"unregister_on_sigterm": "agent_unregister_on_sigterm"}


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _err(status, message):
    return json_response(status, {"error": message})


class ControlApi:
    def __init__(self, service):
        self.svc = service

    # ------------------------------------------------------------------ entry
    def handle(self, req):
        segs = [urllib.parse.unquote(s) for s in req.path.split("/") if s][1:]  # drop "_sim"
        try:
            return self._route(req, segs)
        except ControlError as e:
            return _err(e.status, e.message)
        except AzdoError as e:
            return _err(e.status if e.status != 405 else 400, e.message)

    def _route(self, req, segs):
        m = req.method
        if segs == ["healthz"]:
            return self._method(m, "GET") or self._healthz()
        if segs == ["state"]:
            return self._method(m, "GET") or self._state(req)
        if segs == ["faults"]:
            if m == "GET":
                return json_response(200, self.svc.faults.to_json())
            return self._method(m, "POST") or json_response(
                200, self.apply_faults(self._body(req)))
        if segs == ["requests"]:
            if m == "DELETE":
                self.svc.clear_requests()
                return json_response(200, {"cleared": True})
            return self._method(m, "GET") or self._requests(req)
        if segs == ["scenario"]:
            return self._method(m, "POST") or self._scenario(req)
        if len(segs) >= 2 and segs[0] == "orgs":
            return self._orgs(req, segs[1], segs[2:])
        raise ControlError(404, "unknown control route %s %s; see tools/sim/README.md" % (
            m, req.path))

    @staticmethod
    def _method(method, *allowed):
        if method not in allowed:
            return _err(405, "method %s not allowed here (use %s)" % (method, "/".join(allowed)))
        return None

    @staticmethod
    def _body(req):
        if not req.body:
            return {}
        try:
            body = json.loads(req.body.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise ControlError(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            raise ControlError(400, "request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ simple reads
    def _healthz(self):
        w = self.svc.world
        with w.lock:
            orgs = len(w.orgs)
            pools = sum(len(o.pools) for o in w.orgs.values())
            agents = sum(len(o.agents_by_id) for o in w.orgs.values())
        return json_response(200, {"ok": True, "orgs": orgs, "pools": pools, "agents": agents,
                                   "time": iso(time.time())})

    def _state(self, req):
        q = req.query
        svc = self.svc
        with svc.world.lock:
            orgs = svc.world.state_json()
            pats = svc.world.all_pats() | set(svc.faults.revoked_pats) | \
                set(svc.faults.expired_pats)
        if q.get("finished", "true").lower() == "false":
            for org in orgs.values():
                for pool in org["pools"].values():
                    pool["jobs"] = [j for j in pool["jobs"] if j["result"] is None]
        state = {"orgs": orgs}
        if q.get("pods", "true").lower() != "false":
            state["pods"] = [_typed(p, "Pod") for p in svc.list_kube("pods")]
            state["pvcs"] = [_typed(p, "PersistentVolumeClaim")
                             for p in svc.list_kube("persistentvolumeclaims")]
        state["faults"] = svc.faults.to_json()
        state["time"] = iso(time.time())
        text = json.dumps(state)
        for pat in pats:
            if pat:
                text = text.replace(json.dumps(pat), json.dumps(REDACTED))
        return Response(200, text.encode())

    def _requests(self, req):
        q = req.query
        try:
            since = int(q.get("since", "0") or 0)
            limit = int(q.get("limit", "0") or 0)
        except ValueError:
            raise ControlError(400, "since and limit must be integers")
        entries, last = self.svc.requests_since(since)
        if q.get("method"):
            entries = [e for e in entries if e["method"] == q["method"].upper()]
        if q.get("path"):
            entries = [e for e in entries if q["path"] in e["path"]]
        if q.get("org"):
            entries = [e for e in entries if (e.get("org") or "").lower() == q["org"].lower()]
        if q.get("status"):
            entries = [e for e in entries if str(e["status"]) == q["status"]]
        if limit > 0:
            entries = entries[-limit:]
        return json_response(200, {"count": len(entries), "value": entries, "last": last})

    def _scenario(self, req):
        from .scenario import ScenarioError  # scenario.py imports this module
        body = self._body(req)
        try:
            if "path" in body and len(body) == 1:
                summary = self.svc.load_scenario(body["path"])
            else:
                summary = self.svc.load_scenario_data(body, source="POST /_sim/scenario")
        except ScenarioError as e:
            raise ControlError(400, str(e))
        return json_response(200, summary)

    # ------------------------------------------------------------------ faults
    def check_fault_keys(self, body):
        f = self.svc.faults
        for key in body:
            if key in ("revoke", "restore", "expire", "crash"):
                continue
            attr = FAULT_ALIASES.get(key, key)
            if attr == "lock" or not hasattr(f, attr):
                raise ControlError(400, "unknown fault %r" % key)

    def apply_faults(self, body):
        """Applies a /_sim/faults body (also used for a scenario's "faults"); returns the
        resulting switches."""
        svc = self.svc
        f = svc.faults
        for key, value in body.items():
            if key in ("revoke", "restore", "expire"):
                names = value if isinstance(value, list) else [value]
                for item in names:
                    org_name = item.get("org") if isinstance(item, dict) else item
                    with svc.world.lock:
                        org = svc.world.org(org_name or "")
                        if org is None:
                            raise ControlError(404, "unknown organisation %r" % (org_name,))
                        pats = set(org.pats) | set(org.readonly_pats)
                    with f.lock:
                        if key == "revoke":
                            f.revoked_pats |= pats
                        elif key == "expire":
                            f.expired_pats |= pats
                        else:
                            f.revoked_pats -= pats
                            f.expired_pats -= pats
                continue
            if key == "crash":
                items = value if isinstance(value, list) else [value]
                for c in items:
                    if not isinstance(c, dict) or not c.get("pod"):
                        raise ControlError(400, "crash needs {\"namespace\", \"pod\"}")
                    svc.crash_pod(c.get("namespace") or "default", c["pod"],
                                  int(c.get("exitCode", 1)), c.get("reason") or "Error",
                                  c.get("message") or "")
                continue
            attr = FAULT_ALIASES.get(key, key)
            if attr == "lock" or not hasattr(f, attr):
                valid = sorted(k for k in vars(f) if k != "lock") + sorted(FAULT_ALIASES) + \
                    ["revoke", "restore", "expire", "crash"]
                raise ControlError(400, "unknown fault %r; valid: %s" % (key, ", ".join(valid)))
            cur = getattr(f, attr)
            try:
                if isinstance(cur, bool):
                    new = truthy(value)
                elif isinstance(cur, set):
                    new = set(value or [])
                elif isinstance(cur, int):
                    new = int(value)
                elif isinstance(cur, float):
                    new = float(value)
                else:
                    new = value
            except (TypeError, ValueError):
                raise ControlError(400, "bad value %r for fault %s" % (value, key))
            with f.lock:
                setattr(f, attr, new)
        return f.to_json()

    # ------------------------------------------------------------------ orgs
    def _orgs(self, req, org_name, rest):
        m = req.method
        svc = self.svc
        w = svc.world
        if not rest:
            return self._method(m, "POST") or json_response(
                200, self.create_org(org_name, self._body(req)))
        with w.lock:
            org = w.org(org_name)
        if org is None:
            raise ControlError(404, "unknown organisation %r (create it with POST /_sim/orgs/%s)"
                               % (org_name, org_name))
        if rest == ["pat"]:
            if self._method(m, "POST"):
                return self._method(m, "POST")
            body = self._body(req)
            pat = body.get("pat")
            if not isinstance(pat, str) or not pat:
                raise ControlError(400, "body needs {\"pat\": \"<new token>\"}")
            with w.lock:
                if not truthy(body.get("keepOld")):
                    org.pats = set()
                org.pats.add(pat)
            return json_response(200, {"org": org.name, "pats": len(org.pats)})
        if len(rest) == 2 and rest[0] == "jobs":
            if self._method(m, "POST"):
                return self._method(m, "POST")
            return self._job_action(org, rest[1], self._body(req))
        if len(rest) >= 3 and rest[0] == "pools":
            with w.lock:
                pool = org.pools.get(rest[1].lower())
            if pool is None:
                raise ControlError(404, "unknown pool %r in organisation %s" % (rest[1], org.name))
            if rest[2:] == ["jobs"]:
                return self._method(m, "POST") or json_response(
                    200, self.queue_jobs(pool, self._body(req)))
            if rest[2:] == ["agents"]:
                return self._method(m, "POST") or json_response(
                    200, self.add_agent(pool, self._body(req)))
            if len(rest) == 4 and rest[2] == "agents":
                return self._method(m, "POST") or json_response(
                    200, self.change_agent(pool, rest[3], self._body(req)))
        raise ControlError(404, "unknown control route %s %s" % (m, req.path))

    def create_org(self, name, body):
        w = self.svc.world
        pats = []
        if "pat" in body:
            pats.append(body["pat"])
        pats += list(body.get("pats") or [])
        ro = list(body.get("readOnlyPats") or [])
        for p in pats + ro:
            if not isinstance(p, str) or not p:
                raise ControlError(400, "PATs must be non-empty strings")
        pools = body.get("pools") or []
        if not isinstance(pools, list):
            raise ControlError(400, "pools must be a list of names or {\"name\", \"id\"}")
        if not name or "/" in name:
            raise ControlError(400, "bad organisation name %r" % name)
        with w.lock:
            org = w.org(name)
            if org is None and not pats:
                raise ControlError(400, "a new organisation needs a \"pat\"")
            org = w.ensure_org(name)
            if pats:
                org.pats = set(pats)
            if "readOnlyPats" in body:
                org.readonly_pats = set(ro)
            for p in pools:
                if isinstance(p, str):
                    w.ensure_pool(org, p)
                elif isinstance(p, dict) and isinstance(p.get("name"), str):
                    pid = p.get("id")
                    w.ensure_pool(org, p["name"], int(pid) if pid is not None else None)
                else:
                    raise ControlError(400, "bad pool entry %r" % (p,))
            return {"org": org.name,
                    "pools": {pl.name: pl.id for pl in sorted(org.pools.values(),
                                                                key=lambda x: x.id)}}

    def queue_jobs(self, pool, body):
        demands = body.get("demands", [])
        if not isinstance(demands, list) or not all(isinstance(d, str) for d in demands):
            raise ControlError(400, "demands must be a list of strings")
        try:
            duration = float(body.get("durationSeconds", 10))
            count = int(body.get("count", 1))
        except (TypeError, ValueError):
            raise ControlError(400, "durationSeconds and count must be numbers")
        result = body.get("result", "succeeded")
        if result not in RESULTS:
            raise ControlError(400, "result must be one of %s" % ", ".join(RESULTS))
        if count < 1 or count > 100000:
            raise ControlError(400, "count must be between 1 and 100000")
        spec = {"demands": demands, "duration": duration, "result": result,
                "pin": body.get("agent"), "add_version": not truthy(body.get("exactDemands")),
                "definition": body.get("definition")}
        trigger = body.get("queueOn")
        if trigger is not None:
            if not isinstance(trigger, dict) or not trigger.get("pathContains"):
                raise ControlError(400, "queueOn needs {\"pathContains\": \"...\"} "
                                        "(and optionally \"method\")")
            tid = self.svc.add_trigger(trigger.get("method"), trigger["pathContains"], pool,
                                       spec, count)
            return {"requestId": None, "deferred": tid}
        jobs = self.svc.queue(pool, spec, count)
        first = jobs[0]
        out = {"requestId": first.id, "requestIds": [j.id for j in jobs]}
        if first.result is not None:
            out["result"] = first.result
            out["statusMessage"] = first.status_message
        return out

    def add_agent(self, pool, body):
        w = self.svc.world
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ControlError(400, "an agent needs a \"name\"")
        status = body.get("status", "offline")
        if status not in ("online", "offline"):
            raise ControlError(400, "status must be online or offline")
        caps = body.get("capabilities") or {}
        user = body.get("userCapabilities") or {}
        with w.lock:
            version = str(body.get("version") or w.agent_version)
            system = {str(k): str(v) for k, v in caps.items()}
            system.setdefault("Agent.Name", name)
            system.setdefault("Agent.Version", version)
            system.setdefault("Agent.OS", "Linux")
            agent = w.add_agent(pool, name, version=version, system_caps=system,
                                user_caps={str(k): str(v) for k, v in user.items()},
                                status="offline", enabled=body.get("enabled", True) is not False)
            agent.virtual = True
            if status == "online":
                w.set_status(agent, "online")
            age = float(body.get("statusAgeSeconds", 0) or 0)
            if age > 0:  # e.g. "offline for 9 days"
                agent.status_changed_on -= age
                agent.created_on -= age
            w.schedule_dirty()
            return {"id": agent.id, "name": agent.name, "poolId": pool.id}

    def change_agent(self, pool, name, body):
        w = self.svc.world
        with w.lock:
            agent = w.find_agent(pool, name)
            if agent is None:
                raise ControlError(404, "no agent %r in pool %s" % (name, pool.name))
            if truthy(body.get("delete")):
                w.delete_agent(agent)
                return {"deleted": True}
            if "status" in body:
                if body["status"] not in ("online", "offline"):
                    raise ControlError(400, "status must be online or offline")
                w.set_status(agent, body["status"])
            if "enabled" in body:
                w.set_enabled(agent, truthy(body["enabled"]))
            if isinstance(body.get("capabilities"), dict):
                caps = dict(agent.system_caps)
                caps.update({str(k): str(v) for k, v in body["capabilities"].items()})
                agent.set_caps(caps, None)
                w.dirty_pools.add(pool)
            w.schedule_dirty()
            return {"id": agent.id, "name": agent.name, "status": agent.status,
                    "enabled": agent.enabled}

    def _job_action(self, org, text, body):
        w = self.svc.world
        try:
            rid = int(text)
        except ValueError:
            raise ControlError(400, "request id must be an integer")
        action = body.get("action", "finish")
        with w.lock:
            job = org.jobs_by_id.get(rid)
            if job is None:
                raise ControlError(404, "no job request %d in organisation %s" % (rid, org.name))
            if action == "cancel":
                w.cancel_job(job)
            elif action == "finish":
                result = body.get("result", "succeeded")
                if result not in RESULTS:
                    raise ControlError(400, "result must be one of %s" % ", ".join(RESULTS))
                w.finish_job(job, result)
            else:
                raise ControlError(400, "action must be finish or cancel")
            w.schedule_dirty()
            return json_response(200, {"requestId": job.id, "result": job.result})


def _typed(obj, kind):
    if "kind" in obj and "apiVersion" in obj:
        return obj
    out = {"kind": kind, "apiVersion": "v1"}
    out.update(obj)
    return out
