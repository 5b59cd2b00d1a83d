"""chaos_lib.py - shared parts of the crash, fault and storage campaigns.

- Checks: one named test per assertion group, printed PASS / FAIL / XFAIL, summed up as
  "N passed, N failed" (an XFAIL is a known product fault, reported and counted as neither).
- Observer: threads that watch the world for the whole campaign: a sampler of GET /_sim/state
  (pods, PVCs, agents, jobs), a kubectl sampler, and a Kubernetes pod watch. They record
  violations as they see them (two pods at one index, a pod terminating while its agent holds
  a job) and the facts the end checks need (every kept PVC ever seen, agent id -> name).
- Audit: after the run, the world's request logs (Kubernetes log file, Azure DevOps
  /_sim/requests) are read for every DELETE of a pod or a registration, and each is compared
  with the jobs' assign/finish times: a delete inside a job's run is a busy agent deleted.

Every loop here is bounded in count and time; every address is 127.0.0.1.
"""

import datetime
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from harness import OPERATOR, TOP, World  # noqa: E402  (tests/e2e/harness.py)

ORG = "chaos-org"
PAT = "chaos-pat-5678"
NS = "default"
CRD = os.path.join(TOP, "crds", "runnerpools.devops.opentools.mf.yaml")
AGENT_NAME = re.compile(r"^(?P<pool>.+)-agent-(?P<idx>[0-9]+)$")


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_time(text):
    """ISO-8601 (Azure DevOps or RFC 3339) -> epoch seconds; None stays None."""
    if not text:
        return None
    t = text.rstrip("Z")
    if "." in t:
        head, frac = t.split(".", 1)
        frac = (frac + "000000")[:6]
        t = head + "." + frac
        fmt = "%Y-%m-%dT%H:%M:%S.%f"
    else:
        fmt = "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(t, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


# --- checks ----------------------------------------------------------------------------------
class Checks:
    def __init__(self, campaign):
        self.campaign = campaign
        self.passed = 0
        self.failed = 0
        self.xfailed = 0
        self.lines = []

    def check(self, name, ok, detail=""):
        tag = "PASS" if ok else "FAIL"
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self._say(tag, name, detail)
        return ok

    def xfail(self, name, ok, reason, detail=""):
        """A known product fault outside our files: a failure prints XFAIL with the reason and
        counts as neither passed nor failed; if it unexpectedly holds it is a plain PASS."""
        if ok:
            return self.check(name, True, detail)
        self.xfailed += 1
        self._say("XFAIL", name, "%s | %s" % (reason, detail))
        return False

    def _say(self, tag, name, detail):
        line = "%s %s: %s%s" % (tag, self.campaign, name, (" -- " + detail) if detail else "")
        self.lines.append(line)
        print(line, flush=True)


# --- the world -------------------------------------------------------------------------------
def start_world(pools, world_args=()):
    """A World (no operator yet) with org ORG holding the given Azure DevOps pools, the CRD
    and the PAT Secret. The world logs every API request to a file we read in the audit (the
    World's own temp dir only exists once it started, so the log gets its own)."""
    import tempfile
    logdir = tempfile.mkdtemp(prefix="azdo-chaos-log-")
    reqlog = os.path.join(logdir, "requests.jsonl")
    w = World(start_operator=False, world_args=["--log-file", reqlog] + list(world_args))
    w.reqlog = reqlog
    w.logdir = logdir
    close = w.close

    def close_and_clean():
        close()
        if os.environ.get("E2E_KEEP"):
            print("kept", logdir)
        else:
            shutil.rmtree(logdir, ignore_errors=True)
    w.close = close_and_clean
    w.sim("POST", "/_sim/orgs/" + ORG, {"pat": PAT, "pools": list(pools)})
    w.kubectl("apply", "-f", CRD)
    w.kubectl("create", "secret", "generic", "azdo-pat", "--from-literal=token=" + PAT)
    return w


def runnerpool(w, name, azdo_pool, **spec):
    body = {"apiVersion": "devops.opentools.mf/v1", "kind": "RunnerPool",
            "metadata": {"name": name, "namespace": NS},
            "spec": dict({"azDoUrl": "%s/%s" % (w.azdo_url, ORG), "pool": azdo_pool,
                          "patSecretName": "azdo-pat",
                          "image": "registry.example.com/azdo-agent:1.0"}, **spec)}
    w.kubectl("apply", "-f", "-", input=json.dumps(body))


def queue_job(w, azdo_pool, duration_s, demands=()):
    """Queues one job; retries a few times because the control API shares a loaded world."""
    last = None
    for _ in range(5):
        try:
            r = w.sim("POST", "/_sim/orgs/%s/pools/%s/jobs" % (ORG, azdo_pool),
                      {"demands": list(demands), "durationSeconds": duration_s})
            return r["requestId"], r
        except (OSError, urllib.error.URLError) as e:
            last = e
            time.sleep(0.5)
    raise AssertionError("cannot queue a job: %r" % (last,))


def safe_state(w, pods=True):
    for _ in range(5):
        try:
            return w.sim("GET", "/_sim/state" + ("" if pods else "?pods=false"))
        except (OSError, ValueError):
            time.sleep(0.3)
    return None


def sql_ro(db, query, args=()):
    """A read-only query through Python's sqlite3 (the operator may be writing meanwhile)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def kill9(w):
    """SIGKILL the operator; returns its pid."""
    p = w.operator
    if p is None:
        return None
    p.kill()
    p.wait(timeout=30)
    w.operator = None
    return p.pid


def metrics_get(w, path, timeout=5):
    """GET on the operator's metrics port: (status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (w.metrics_port, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)


# --- observer --------------------------------------------------------------------------------
class Observer:
    """Background watchers of the world. start(), then stop() at the end; read the fields."""

    def __init__(self, w, keep_pvc_templates, state_every_s=0.4, kubectl_every_s=3.0):
        self.w = w
        self.keep_templates = set(keep_pvc_templates)
        self.state_every_s = state_every_s
        self.kubectl_every_s = kubectl_every_s
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.violations = {"double_index": [], "busy_terminating": [], "bad_name": []}
        self.kept_pvcs = set()          # every PVC of a deleteWithAgent=false template ever seen
        self.agent_names = {}           # (pool_id, agent_id) -> name
        self.samples = 0
        self.kubectl_samples = 0
        self.watch_events = 0
        self.watch_relists = 0
        self.pods_seen = set()          # uids
        self.deletion_seen = {}         # pod name -> [local time a deletion was first seen]
        self._deleting_uids = set()
        self.threads = []

    def start(self):
        for fn in (self._state_loop, self._kubectl_loop, self._watch_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=70)

    def _violate(self, kind, text):
        with self.lock:
            if len(self.violations[kind]) < 50:
                self.violations[kind].append(text)

    # Pods of one index at once, from any view of the pod list.
    def _check_pods(self, pods, source):
        by_index = {}
        for p in pods:
            md = p["metadata"]
            labels = md.get("labels") or {}
            pool = labels.get("devops.opentools.mf/pool")
            idx = labels.get("devops.opentools.mf/ordinal")
            if pool is None or idx is None:
                continue
            if md["name"] != "%s-agent-%s" % (pool, idx):
                self._violate("bad_name", "%s: pod %s has ordinal %s" % (source, md["name"], idx))
            by_index.setdefault((pool, idx), []).append(md)
        for (pool, idx), mds in by_index.items():
            live = [m for m in mds if not m.get("deletionTimestamp")]
            if len(live) > 1 or len({m["uid"] for m in mds}) > 1:
                self._violate("double_index", "%s: %s index %s has %s" % (
                    source, pool, idx, [(m["name"], m["uid"][:8],
                                         bool(m.get("deletionTimestamp"))) for m in mds]))

    def _state_loop(self):
        deadline = time.monotonic() + 3 * 3600
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            st = safe_state(self.w)
            if st is not None:
                self.observe_state(st)
            self.stop_ev.wait(self.state_every_s)

    def observe_state(self, st):
        self.samples += 1
        pods = st.get("pods") or []
        self._check_pods(pods, "state")
        busy = {}
        for pool in st["orgs"].get(ORG, {}).get("pools", {}).values():
            for a in pool["agents"]:
                with self.lock:
                    self.agent_names[(pool["id"], a["id"])] = a["name"]
                if a.get("assignedRequestId"):
                    busy[a["name"]] = a["assignedRequestId"]
        for p in pods:
            md = p["metadata"]
            if md.get("deletionTimestamp") and md["name"] in busy:
                self._violate("busy_terminating", "pod %s terminating while its agent runs "
                              "request %s" % (md["name"], busy[md["name"]]))
        for c in st.get("pvcs") or []:
            name = c["metadata"]["name"]
            labels = c["metadata"].get("labels") or {}
            pool = labels.get("devops.opentools.mf/pool")
            for t in self.keep_templates:
                if pool and re.match(r"^%s-agent-[0-9]+-%s$" % (re.escape(pool), re.escape(t)),
                                     name):
                    with self.lock:
                        self.kept_pvcs.add(name)

    def _kubectl_loop(self):
        deadline = time.monotonic() + 3 * 3600
        while not self.stop_ev.is_set() and time.monotonic() < deadline:
            try:
                p = self.w.kubectl("get", "pods", "-o", "json", "--request-timeout=10s",
                                   check=False)
                if p.returncode == 0:
                    self._check_pods(json.loads(p.stdout)["items"], "kubectl")
                    self.kubectl_samples += 1
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self.stop_ev.wait(self.kubectl_every_s)

    def _watch_loop(self):
        """A pod watch keeps the exact order of ADDED/DELETED: an index given a second pod
        before the first one's DELETED is a double index even between two samples."""
        base = "%s/api/v1/namespaces/%s/pods" % (self.w.kube_url, NS)
        live = {}
        deadline = time.monotonic() + 3 * 3600
        rounds = 0
        while not self.stop_ev.is_set() and time.monotonic() < deadline and rounds < 100000:
            rounds += 1
            try:
                with urllib.request.urlopen(base, timeout=15) as r:
                    lst = json.loads(r.read())
                self.watch_relists += 1
                live = {}
                for p in lst["items"]:
                    live[p["metadata"]["uid"]] = p
                self._check_pods(list(live.values()), "watch-list")
                rv = lst["metadata"]["resourceVersion"]
                url = "%s?watch=true&allowWatchBookmarks=true&resourceVersion=%s&" \
                      "timeoutSeconds=30" % (base, rv)
                with urllib.request.urlopen(url, timeout=45) as r:
                    for raw in r:
                        if self.stop_ev.is_set():
                            return
                        ev = json.loads(raw)
                        if ev["type"] == "ERROR":
                            break        # 410 Gone and friends: list again
                        if ev["type"] == "BOOKMARK":
                            continue
                        obj = ev["object"]
                        self.watch_events += 1
                        uid = obj["metadata"]["uid"]
                        self.pods_seen.add(uid)
                        if (ev["type"] == "DELETED" or obj["metadata"].get(
                                "deletionTimestamp")) and uid not in self._deleting_uids:
                            self._deleting_uids.add(uid)
                            self.deletion_seen.setdefault(obj["metadata"]["name"], []).append(
                                time.time())
                        if ev["type"] == "DELETED":
                            live.pop(uid, None)
                        else:
                            live[uid] = obj
                            self._check_pods(list(live.values()), "watch")
            except (OSError, ValueError, KeyError):
                self.stop_ev.wait(0.3)


# --- audit of the world's request logs -------------------------------------------------------
def read_kube_deletes(reqlog, deletion_seen=None):
    """Every successful DELETE of a pod / PVC from the world's log file: (name, t0, t1), the
    delete having happened between t0 and t1. The log stamps whole seconds, so t1 is the next
    second, or sooner when the pod watch saw the deletion before that."""
    pods, pvcs = [], []
    try:
        f = open(reqlog)
    except OSError:
        return pods, pvcs
    with f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("component") != "kube" or e.get("method") != "DELETE":
                continue
            if e.get("status") not in (200, 202):
                continue
            path = e.get("path", "").split("?")[0]
            m = re.match(r"^/api/v1/namespaces/[^/]+/(pods|persistentvolumeclaims)/([^/]+)$",
                         path)
            if not m:
                continue
            ts = parse_time(e["ts"])
            t0 = ts - e.get("ms", 0) / 1000.0 - 0.001
            t1 = ts + 1.0
            seen = [t for t in (deletion_seen or {}).get(m.group(2), []) if t >= t0]
            if seen and m.group(1) == "pods":
                t1 = min(t1, min(seen))
            (pods if m.group(1) == "pods" else pvcs).append((m.group(2), t0, t1))
    return pods, pvcs


def read_azdo_deletes(w, agent_names):
    """Every successful DELETE of an agent registration: (name, t0, t1)."""
    out = []
    try:
        r = w.sim("GET", "/_sim/requests?method=DELETE")
    except (OSError, ValueError):
        return None
    for e in r["value"]:
        m = re.search(r"/pools/([0-9]+)/agents/([0-9]+)$", e["path"].split("?")[0])
        if not m or e["status"] not in (200, 204):
            continue
        name = agent_names.get((int(m.group(1)), int(m.group(2))), "id:%s" % m.group(2))
        t1 = parse_time(e["time"])
        t0 = t1 - (e.get("durationMs") or 0) / 1000.0
        out.append((name, t0, t1))
    return out


def busy_deletes(deletes, jobs):
    """Deletes that fell inside a job's run on that agent: assigned before the delete began,
    finished (or not yet) after it ended."""
    runs = {}
    for j in jobs:
        if j.get("agentName") and j.get("assignTime"):
            runs.setdefault(j["agentName"], []).append(
                (parse_time(j["assignTime"]), parse_time(j.get("finishTime")), j["requestId"]))
    bad = []
    for name, t0, t1 in deletes:
        for a, f, rid in runs.get(name, []):
            if a < t0 and (f is None or f > t1):
                bad.append("%s deleted at %.3f while running request %s (%.3f-%s)" % (
                    name, t0, rid, a, "%.3f" % f if f else "open"))
    return bad


def all_jobs(st):
    out = []
    for pname, pool in st["orgs"].get(ORG, {}).get("pools", {}).items():
        for j in pool["jobs"]:
            out.append(dict(j, pool=pname))
    return out


def lost_jobs(jobs):
    return ["%s %s: %s" % (j["pool"], j["requestId"], j.get("statusMessage"))
            for j in jobs if "stopped hearing" in (j.get("statusMessage") or "")]


def leftover_registrations(st, live_pod_names):
    """Registrations named like our agents (<pool>-agent-<n>) with no pod behind them."""
    out = []
    for pname, pool in st["orgs"].get(ORG, {}).get("pools", {}).items():
        for a in pool["agents"]:
            if AGENT_NAME.match(a["name"]) and a["name"] not in live_pod_names:
                out.append("%s/%s (%s)" % (pname, a["name"], a["status"]))
    return out


H2O_QUEUE_LEAK = ("known leak outside tests/chaos: libh2o 2.2.5 h2o_context_dispose() does not "
                  "free the context's multithread queue (88 bytes per listener, once at exit); "
                  "proposed fix in src/webhook/server.c listener_dispose(): before "
                  "h2o_context_dispose() call h2o_multithread_unregister_receiver(l->ctx.queue, "
                  "&l->ctx.receivers.hostinfo_getaddr), after it "
                  "h2o_multithread_destroy_queue(l->ctx.queue)")


def sanitizer_check(checks, w):
    """Sanitizer findings in the operator's log (an ASan/UBSan build: AZDO_OPERATOR_BIN).
    Leak blocks whose stack is the known libh2o queue leak are an XFAIL, anything else FAIL."""
    try:
        with open(w.operator_log, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    blocks = re.split(r"\n(?=(?:Direct|Indirect) leak of )", text)
    other = [ln.strip() for ln in text.splitlines()
             if ("ERROR: AddressSanitizer" in ln or "runtime error:" in ln)][:5]
    leaks = [b for b in blocks[1:] if re.match(r"(?:Direct|Indirect) leak of ", b)]
    unknown = [b.splitlines()[0] for b in leaks if "h2o_multithread_create_queue" not in b]
    name = "no sanitizer report in the operator log"
    if other or unknown:
        return checks.check(name, False, "; ".join(other + unknown))
    if leaks:
        return checks.xfail(name, False, H2O_QUEUE_LEAK, "%d known leak block(s)" % len(leaks))
    return checks.check(name, True)


def integrity(db):
    try:
        rows = sql_ro(db, "PRAGMA integrity_check")
        return [r[0] for r in rows]
    except sqlite3.Error as e:
        return ["error: %s" % e]


def replay(db):
    p = subprocess.run([OPERATOR, "replay", "--db", db], capture_output=True, text=True,
                       timeout=1500)
    return p.returncode, (p.stdout + p.stderr).strip()


def open_intents(db):
    return sql_ro(db, "SELECT count(*) FROM intents WHERE state IN ('pending', 'started')")[0][0]


def seeded(seed):
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    return seed, random.Random(seed)
