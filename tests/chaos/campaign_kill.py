"""campaign_kill.py - SIGKILL the operator at random moments through a stream of jobs.

Three RunnerPools on three Azure DevOps pools:
  ka  minAgents 1, maxAgents 4, ttlIdleSeconds 4, a kept volume (deleteWithAgent false)
  kb  minAgents 0, maxAgents 3, ttlIdleSeconds 0 (run-once agents), a volume deleted with the agent
  kc  capability-aware (java image), minAgents 0, maxAgents 4, ttlIdleSeconds 3, one volume of
      each kind; half its jobs demand java
Jobs arrive at random (exponential gaps); the operator is killed with SIGKILL at random moments
during the arrivals and the drain afterwards and restarted at once (after a random pause of up
to 1.5 s) on the same database; every other kill is aimed: it waits until an intent is open
(an action decided and not finished). The world answers with 60 ms (Kubernetes) and 30 ms
(Azure DevOps) latency so that actions last long enough to be interrupted. An Observer samples
the world throughout.
"""

import signal
import time

import chaos_lib as L

POOLS = {
    # RunnerPool: (Azure DevOps pool, spec, minAgents)
    "ka": ("pa", dict(minAgents=1, maxAgents=4, ttlIdleSeconds=4,
                      pvcs=[{"name": "ws", "mountPath": "/azp/_work", "storage": "1Gi",
                             "deleteWithAgent": False}])),
    "kb": ("pb", dict(minAgents=0, maxAgents=3, ttlIdleSeconds=0,
                      pvcs=[{"name": "scratch", "mountPath": "/scratch", "storage": "1Gi",
                             "deleteWithAgent": True}])),
    "kc": ("pc", dict(minAgents=0, maxAgents=4, ttlIdleSeconds=3, capabilityAware=True,
                      capabilityImages={"java": "registry.example.com/azdo-agent-java:1.0"},
                      pvcs=[{"name": "ws", "mountPath": "/azp/_work", "storage": "1Gi",
                             "deleteWithAgent": False},
                            {"name": "tmp", "mountPath": "/tmp/x", "storage": "1Gi",
                             "deleteWithAgent": True}])),
}
KEEP_TEMPLATES = ("ws",)


def apply_pools(w):
    for name, (azp, spec) in POOLS.items():
        L.runnerpool(w, name, azp, **spec)


def wait_ready(w, limit_s=120):
    """Pools connected and placeholders registered (a job queued before that fails at once)."""
    def ready():
        st = L.safe_state(w, pods=False)
        if st is None:
            return False
        pools = st["orgs"][L.ORG]["pools"]
        if any(not pools[azp]["agents"] for azp, _ in POOLS.values()):
            return False
        return any("java" in {k.lower() for k in a["capabilities"]}
                   for a in pools["pc"]["agents"])
    w.wait_until("pools connected and placeholders registered", ready, limit_s=limit_s)


def aim(w, limit_s=10.0):
    """Waits (bounded) until an intent is open, i.e. a decision is recorded and its action not
    finished, so the kill that follows lands mid-action. Every other kill is aimed so."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if L.open_intents(w.db) > 0:
                return True
        except Exception:  # noqa: BLE001 - busy database: look again
            pass
        time.sleep(0.01)
    return False


def settled(w, mins):
    """Every job done, pools at minAgents, no leftover registration, no open intent."""
    st = L.safe_state(w)
    if st is None:
        return False
    if any(j["result"] is None for j in L.all_jobs(st)):
        return False
    pods = [p for p in st["pods"] if (p["metadata"].get("labels") or {}).get("runner-pool")]
    for rp, m in mins.items():
        n = sum(1 for p in pods if p["metadata"]["labels"]["runner-pool"] == rp)
        if n != m:
            return False
    if L.leftover_registrations(st, {p["metadata"]["name"] for p in pods}):
        return False
    try:
        return L.open_intents(w.db) == 0
    except Exception:  # noqa: BLE001 - the database may be busy; try again
        return False


def run(args, checks):
    seed, rnd = L.seeded(args.seed)
    n_jobs = args.jobs or (240 if args.long else 40)
    n_kills = args.kills or (25 if args.long else 5)
    mean_gap = 1.5 if args.long else 1.0
    L.log("kill campaign: seed %d, %d jobs, %d kills (replay: tests/chaos/run kill --seed %d%s)"
          % (seed, n_jobs, n_kills, seed, " --long" if args.long else ""))
    w = L.start_world([azp for azp, _ in POOLS.values()])
    obs = L.Observer(w, KEEP_TEMPLATES)
    figures = {"seed": seed, "jobs": n_jobs, "kills": 0, "kills_with_open_intents": 0}
    try:
        obs.start()
        # Some latency makes actions last long enough for a kill to land in the middle.
        # Agents killed with their pod leave their registration behind, offline, as real
        # agents stopped hard do: removing registrations is then the operator's job alone.
        w.sim("POST", "/_sim/faults", {"kube_latency_ms": 60, "azdo_latency_ms": 30,
                                       "agent_unregister_on_sigterm": False})
        w.start_operator()
        apply_pools(w)
        wait_ready(w)
        # The schedule: job arrival times, then kill times spread over arrivals + drain.
        t = 0.0
        arrivals = []
        for _ in range(n_jobs):
            t += rnd.expovariate(1.0 / mean_gap)
            rp = rnd.choice(sorted(POOLS))
            demands = ["java"] if rp == "kc" and rnd.random() < 0.5 else []
            arrivals.append((t, rp, rnd.randint(1, 4), demands))
        span = t + 15.0
        kills = sorted(rnd.uniform(2.0, span) for _ in range(n_kills))
        pauses = [rnd.uniform(0.0, 1.5) for _ in range(n_kills)]
        L.log("arrivals over %.0f s, kills at %s" % (t, ", ".join("%.1f" % k for k in kills)))
        t0 = time.monotonic()
        ids = []
        ai = ki = 0
        deadline = t0 + span + 120
        while (ai < len(arrivals) or ki < len(kills)) and time.monotonic() < deadline:
            now = time.monotonic() - t0
            if ai < len(arrivals) and arrivals[ai][0] <= now:
                _, rp, dur, demands = arrivals[ai]
                rid, r = L.queue_job(w, POOLS[rp][0], dur, demands)
                ids.append((POOLS[rp][0], rid, r.get("result")))
                ai += 1
                continue
            if ki < len(kills) and kills[ki] <= now:
                if w.operator is None or w.operator.poll() is not None:
                    checks.check("operator alive before kill %d" % (ki + 1), False,
                                 "it exited on its own with %s\n%s" % (
                                     w.operator and w.operator.returncode, w.log_tail()))
                    w.start_operator()
                if ki % 2 == 1:
                    aim(w)
                L.kill9(w)
                try:   # how often a kill lands while an action is in flight
                    if L.open_intents(w.db) > 0:
                        figures["kills_with_open_intents"] += 1
                except Exception:  # noqa: BLE001 - a figure only
                    pass
                time.sleep(pauses[ki])
                w.start_operator()
                figures["kills"] += 1
                ki += 1
                continue
            nxt = min(arrivals[ai][0] if ai < len(arrivals) else 1e9,
                      kills[ki] if ki < len(kills) else 1e9)
            time.sleep(max(0.01, min(0.2, nxt - now)))
        L.log("all %d jobs queued, %d kills done; waiting for the pools to settle" %
              (len(ids), figures["kills"]))
        mins = {rp: spec["minAgents"] for rp, (_, spec) in POOLS.items()}
        try:
            w.wait_until("jobs done and pools settled", lambda: settled(w, mins),
                         limit_s=600 if args.long else 240)
            settled_ok = True
        except AssertionError as e:
            settled_ok = False
            L.log(str(e)[:2000])
        figures["run_s"] = round(time.monotonic() - t0)
        final_audit(w, obs, checks, ids, settled_ok, figures, mins)
    finally:
        obs.stop()
        if w.operator is not None:
            w.stop_operator(signal.SIGKILL)
        w.close()
    return figures


def final_audit(w, obs, checks, ids, settled_ok, figures, mins):
    # A quiet period with the operator still running, then a clean stop for the file checks.
    time.sleep(3)
    st = L.safe_state(w)
    jobs = {(j["pool"], j["requestId"]): j for j in L.all_jobs(st)}
    not_ok = ["%s/%s: %s %s" % (p, i, jobs.get((p, i), {}).get("result"),
                                jobs.get((p, i), {}).get("statusMessage"))
              for p, i, _ in ids if jobs.get((p, i), {}).get("result") != "succeeded"]
    checks.check("every job finished and succeeded (%d jobs)" % len(ids), not not_ok,
                 "; ".join(not_ok[:10]))

    pods = [p for p in st["pods"] if (p["metadata"].get("labels") or {}).get("runner-pool")]
    counts = {rp: sum(1 for p in pods if p["metadata"]["labels"]["runner-pool"] == rp)
              for rp in mins}
    checks.check("pools back at minAgents", settled_ok and counts == mins,
                 "pods %s, want %s" % (counts, mins))

    dbl = obs.violations["double_index"] + obs.violations["bad_name"]
    checks.check("no index ever had two pods (%d samples, %d kubectl, %d watch events)" % (
        obs.samples, obs.kubectl_samples, obs.watch_events), not dbl, "; ".join(dbl[:5]))

    all_jobs = L.all_jobs(st)
    pod_del, pvc_del = L.read_kube_deletes(w.reqlog, obs.deletion_seen)
    reg_del = L.read_azdo_deletes(w, obs.agent_names) or []
    bad = (L.lost_jobs(all_jobs) + obs.violations["busy_terminating"] +
           ["pod " + b for b in L.busy_deletes(pod_del, all_jobs)] +
           ["registration " + b for b in L.busy_deletes(reg_del, all_jobs)])
    figures.update(pod_deletes=len(pod_del), registration_deletes=len(reg_del),
                   pods_created=len(obs.pods_seen))
    checks.check("no busy agent deleted (%d pod and %d registration deletes audited)" % (
        len(pod_del), len(reg_del)), not bad, "; ".join(bad[:8]))

    pvcs = {c["metadata"]["name"] for c in st["pvcs"]}
    missing = sorted(obs.kept_pvcs - pvcs)
    deleted_kept = sorted({n for n, _, _ in pvc_del if n in obs.kept_pvcs})
    checks.check("every deleteWithAgent=false PVC still exists (%d seen)" % len(obs.kept_pvcs),
                 obs.kept_pvcs and not missing and not deleted_kept,
                 "missing %s, deleted %s" % (missing, deleted_kept))

    left = L.leftover_registrations(st, {p["metadata"]["name"] for p in pods})
    checks.check("every registration of a retired agent is gone", not left, "; ".join(left))

    n_open = L.open_intents(w.db)
    checks.check("every recorded intent has an outcome", n_open == 0, "%d open" % n_open)

    rc = w.stop_operator(signal.SIGTERM)
    figures["last_stop_rc"] = rc
    figures["intents"] = L.sql_ro(w.db, "SELECT count(*) FROM intents")[0][0]
    figures["decisions"] = L.sql_ro(w.db, "SELECT count(*) FROM decisions")[0][0]
    with open(w.operator_log, errors="replace") as f:
        figures["restarts_resolving_intents"] = sum(
            1 for ln in f if "resolving intents left open by a restart" in ln)
    ic = L.integrity(w.db)
    checks.check("PRAGMA integrity_check is ok", ic == ["ok"], "; ".join(ic[:5]))
    rrc, out = L.replay(w.db)
    figures["replay"] = out.splitlines()[-1] if out else ""
    checks.check("replay reports no differing decision", rrc == 0, out[-1500:])
    L.sanitizer_check(checks, w)
    L.log("figures: %s" % figures)
