"""test_fr_lib.py - staging shared by the field-report tests (test_field_reports.py, test_fr_*.py);
no tests of its own (named test_fr_* only so it sits with the files it serves).

Each field report of ../shared/cases/field-reports.md runs in its own simulated world loaded
from tools/sim/scenarios/frNN-*.json (namespace ci-agents, org my-org, pool my-pool id 42,
Secret azdo-pat key token). Figures are read back from the operator's database (ticks,
decisions, intents), the world's REST request log (GET /_sim/requests) and kubectl, never from
wall-clock timing.
"""

import calendar
import datetime
import glob
import hashlib
import json
import os
import urllib.parse

from harness import TOP, World

NS = "ci-agents"
ORG = "my-org"
CRD = os.path.join(TOP, "crds", "runnerpools.devops.opentools.mf.yaml")
SCENARIOS = os.path.join(TOP, "tools", "sim", "scenarios")
MUTATING = ("create_pod", "delete_pod", "disable_agent", "enable_agent",
            "delete_registration")


def scenario(prefix, drop=()):
    """The scenario document tools/sim/scenarios/<prefix>*.json, minus the keys in 'drop'."""
    [path] = glob.glob(os.path.join(SCENARIOS, prefix + "*.json"))
    with open(path) as f:
        doc = json.load(f)
    for k in drop:
        doc.pop(k, None)
    return doc


def credential(pat):
    """How the world's request log names a PAT: first 12 hex digits of its SHA-256."""
    return hashlib.sha256(pat.encode()).hexdigest()[:12]


def iso_s(text):
    """Seconds since the epoch of an ISO-8601 UTC time with 0-7 fraction digits."""
    if text is None:
        return None
    main, _, frac = text.rstrip("Z").partition(".")
    t = calendar.timegm(datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").timetuple())
    return t + (float("0." + frac) if frac else 0.0)


class FRWorld:
    """A world staged for one field report: scenario loaded, CRD applied, operator running."""

    def __init__(self, prefix, drop=(), faults=None, world_args=()):
        self.w = World(start_operator=False, world_args=world_args)
        try:
            self.doc = scenario(prefix, drop)
            self.w.sim("POST", "/_sim/scenario", self.doc)
            if faults:
                self.w.sim("POST", "/_sim/faults", faults)
            self.w.kubectl("apply", "-f", CRD)
            self.w.start_operator()
        except Exception:
            self.w.close()
            raise
        self.pat = self.doc["orgs"][0]["pat"]

    def close(self):
        self.w.close()

    # --- Kubernetes ---------------------------------------------------------------------------
    def kc(self, *args, **kw):
        return self.w.kubectl("-n", NS, *args, **kw)

    def kc_json(self, *args):
        return json.loads(self.kc(*args, "-o", "json").stdout)

    def apply_pool(self, name="my-pool", pool="my-pool", **spec):
        body = {"apiVersion": "devops.opentools.mf/v1", "kind": "RunnerPool",
                "metadata": {"name": name, "namespace": NS},
                "spec": dict({"azDoUrl": "%s/%s" % (self.w.azdo_url, ORG), "pool": pool,
                              "patSecretName": "azdo-pat",
                              "image": "registry.example.com/azdo-agent:1.0"}, **spec)}
        self.kc("apply", "-f", "-", input=json.dumps(body))

    def pods(self, pool="my-pool", live=True):
        items = self.kc_json("get", "pods", "-l", "runner-pool=" + pool)["items"]
        if live:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return items

    def pod_names(self, pool="my-pool"):
        return sorted(p["metadata"]["name"] for p in self.pods(pool))

    def status(self, name="my-pool"):
        return self.kc_json("get", "runnerpool", name).get("status", {})

    def condition(self, ctype, name="my-pool"):
        for c in self.status(name).get("conditions", []):
            if c["type"] == ctype:
                return c
        return {}

    def events(self, reason=None, pool=None):
        items = self.kc_json("get", "events")["items"]
        return [e for e in items
                if (reason is None or e.get("reason") == reason)
                and (pool is None or e.get("involvedObject", {}).get("name") == pool)]

    def event_count(self, reason, pool=None):
        return sum(e.get("count") or 1 for e in self.events(reason, pool))

    def wait_connected(self, name="my-pool"):
        self.w.wait_until("pool %s connected" % name,
                          lambda: self.condition("Connected", name).get("status") == "True")

    # --- Azure DevOps -------------------------------------------------------------------------
    def azdo(self, pool="my-pool"):
        return self.w.state()["orgs"][ORG]["pools"][pool]

    def agents(self, pool="my-pool"):
        return {a["name"]: a for a in self.azdo(pool)["agents"]}

    def jobs(self, pool="my-pool"):
        return {j["requestId"]: j for j in self.azdo(pool)["jobs"]}

    def queue(self, pool="my-pool", **body):
        body.setdefault("demands", [])
        r = self.w.sim("POST", "/_sim/orgs/%s/pools/%s/jobs" % (ORG, pool), body)
        return r.get("requestIds") or [r.get("requestId")]

    def faults(self, **body):
        return self.w.sim("POST", "/_sim/faults", body)

    def requests(self, **filters):
        q = urllib.parse.urlencode(dict(filters, limit=100000))
        return self.w.sim("GET", "/_sim/requests?" + q)["value"]

    # --- the operator's database --------------------------------------------------------------
    def sql(self, query):
        return self.w.sql(query)

    def ticks(self, pool="my-pool"):
        return self.sql("SELECT t.tick_id, t.at_ms, t.waiting, t.idle, t.busy, t.starting,"
                        " t.created, t.deleted, t.pool_state, t.conditions FROM ticks t"
                        " JOIN pools p USING (pool_id) WHERE p.name = '%s' ORDER BY t.tick_id"
                        % pool)

    def decisions(self, action=None, pool="my-pool"):
        where = " AND d.action = '%s'" % action if action else ""
        return self.sql("SELECT d.decision_id, t.tick_id, t.at_ms, d.action, d.target,"
                        " d.slot_idx, d.cap_key, d.reason, d.sentence, i.state AS outcome,"
                        " i.created_ms, i.ended_ms FROM decisions d JOIN ticks t USING (tick_id)"
                        " JOIN pools p ON p.pool_id = d.pool_id LEFT JOIN intents i"
                        " USING (decision_id) WHERE p.name = '%s'%s ORDER BY d.decision_id"
                        % (pool, where))

    def secret_leaks(self, secrets):
        """Places where any of 'secrets' appears: operator log, database files, events, status."""
        found = []
        blobs = {"operator.log": open(self.w.operator_log, "rb").read()}
        for path in glob.glob(self.w.db + "*"):
            blobs[os.path.basename(path)] = open(path, "rb").read()
        blobs["events"] = self.kc("get", "events", "-o", "json").stdout.encode()
        blobs["runnerpools"] = self.kc("get", "runnerpools", "-o", "json").stdout.encode()
        for where, data in blobs.items():
            for s in secrets:
                if s.encode() in data:
                    found.append((where, s))
        return found
