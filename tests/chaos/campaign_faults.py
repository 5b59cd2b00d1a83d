"""campaign_faults.py - the simulated world misbehaves; the end state must not change.

Two RunnerPools (fa: minAgents 1, maxAgents 3, ttlIdleSeconds 3, a kept volume; fb: minAgents 0,
maxAgents 3, ttlIdleSeconds 2, capability-aware with a java image). Phase by phase one fault
set is switched on through POST /_sim/faults, jobs arrive, the fault is switched off, and the
phase must end as the fault-free baseline does: every job succeeded, pools at minAgents, no
registration left without its pod, no open intent.

Across the whole campaign: no decision to delete, disable or unregister was taken in a tick
whose pool was not connected (auth failed, unreachable, throttled: stale information), no pod
or registration was deleted while the PAT was revoked, and no busy agent was deleted.
"""

import signal
import time

import chaos_lib as L

POOLS = {
    "fa": ("qa", dict(minAgents=1, maxAgents=3, ttlIdleSeconds=3,
                      pvcs=[{"name": "ws", "mountPath": "/azp/_work", "storage": "1Gi",
                             "deleteWithAgent": False}])),
    "fb": ("qb", dict(minAgents=0, maxAgents=3, ttlIdleSeconds=2, capabilityAware=True,
                      capabilityImages={"java": "registry.example.com/azdo-agent-java:1.0"})),
}
MINS = {rp: spec["minAgents"] for rp, (_, spec) in POOLS.items()}
DESTRUCTIVE = ("delete_pod", "delete_registration", "disable_agent", "delete_pvc",
               "delete_placeholder")
CLEAR = {"kube_error_rate": 0, "kube_latency_ms": 0, "kube_timeout_rate": 0,
         "force_watch_expiry": False, "azdo_throttle": False, "azdo_throttle_count": 0,
         "azdo_error_rate": 0, "azdo_latency_ms": 0, "azdo_soft_throttle": False}


def phases(long):
    k = 2.0 if long else 0.6
    return [
        # name, faults on, extra per-second faults, seconds under fault
        ("baseline (no fault)", {}, None, 10 * k),
        ("Kubernetes 500s (30% of requests)", {"kube_error_rate": 0.3}, None, 20 * k),
        ("Kubernetes timeouts (5%) and 300 ms latency",
         {"kube_timeout_rate": 0.05, "kube_latency_ms": 300}, None, 20 * k),
        ("dropped watches and 410 Gone", {}, {"drop_watches": 10, "force_watch_expiry": True},
         20 * k),
        ("Azure DevOps 429 with Retry-After 3 s",
         {"azdo_throttle": True, "azdo_retry_after_s": 3}, None, 12 * k),
        ("Azure DevOps 500s (30% of calls)", {"azdo_error_rate": 0.3}, None, 20 * k),
        ("slow answers (Azure DevOps 1.5 s, Kubernetes 300 ms)",
         {"azdo_latency_ms": 1500, "kube_latency_ms": 300}, None, 20 * k),
    ]


def settled(w):
    st = L.safe_state(w)
    if st is None or any(j["result"] is None for j in L.all_jobs(st)):
        return False
    pods = [p for p in st["pods"] if (p["metadata"].get("labels") or {}).get("runner-pool")]
    for rp, m in MINS.items():
        if sum(1 for p in pods if p["metadata"]["labels"]["runner-pool"] == rp) != m:
            return False
    if L.leftover_registrations(st, {p["metadata"]["name"] for p in pods}):
        return False
    try:
        return L.open_intents(w.db) == 0
    except Exception:  # noqa: BLE001 - busy database: ask again
        return False


def placeholders(w):
    pools = L.safe_state(w, pods=False)["orgs"][L.ORG]["pools"]
    return all(pools[azp]["agents"] for azp, _ in POOLS.values()) and any(
        "java" in {k.lower() for k in a["capabilities"]} for a in pools["qb"]["agents"])


def end_state(w):
    st = L.safe_state(w)
    pods = [p for p in st["pods"] if (p["metadata"].get("labels") or {}).get("runner-pool")]
    counts = {rp: sum(1 for p in pods if p["metadata"]["labels"]["runner-pool"] == rp)
              for rp in MINS}
    bad_jobs = ["%s/%s %s %s" % (j["pool"], j["requestId"], j["result"], j["statusMessage"])
                for j in L.all_jobs(st) if j["result"] != "succeeded"]
    left = L.leftover_registrations(st, {p["metadata"]["name"] for p in pods})
    return {"pods": counts, "bad_jobs": bad_jobs[:5], "leftover": left,
            "open_intents": L.open_intents(w.db)}


def queue_some(w, rnd, n):
    for _ in range(n):
        rp = rnd.choice(sorted(POOLS))
        demands = ["java"] if rp == "fb" and rnd.random() < 0.5 else []
        L.queue_job(w, POOLS[rp][0], rnd.randint(1, 3), demands)


def run(args, checks):
    seed, rnd = L.seeded(args.seed)
    L.log("fault campaign: seed %d (replay: tests/chaos/run faults --seed %d%s)" % (
        seed, seed, " --long" if args.long else ""))
    w = L.start_world([azp for azp, _ in POOLS.values()])
    obs = L.Observer(w, ("ws",))
    figures = {"seed": seed}
    try:
        obs.start()
        w.start_operator()
        for name, (azp, spec) in POOLS.items():
            L.runnerpool(w, name, azp, **spec)
        w.wait_until("placeholders registered (java included)", lambda: placeholders(w),
                     limit_s=90)
        baseline = None
        for name, faults, pulse, secs in phases(args.long):
            L.log("phase: %s" % name)
            t0 = time.monotonic()
            if faults:
                w.sim("POST", "/_sim/faults", faults)
            queue_some(w, rnd, 6)
            secs = int(secs)
            for k in range(secs):
                if pulse:
                    w.sim("POST", "/_sim/faults", pulse)
                if k == secs // 2:
                    queue_some(w, rnd, 4)
                time.sleep(1)
            w.sim("POST", "/_sim/faults", CLEAR)
            alive = w.operator.poll() is None
            try:
                w.wait_until("phase settled", lambda: settled(w), limit_s=180)
                ok = True
            except AssertionError as e:
                ok = False
                L.log(str(e)[-1500:])
            es = end_state(w)
            if baseline is None:
                baseline = es
                checks.check("baseline: every job succeeded", not es["bad_jobs"],
                             "%s" % es["bad_jobs"])
            checks.check("%s: operator alive, same end state as without faults" % name,
                         ok and alive and es == baseline,
                         "alive %s, end state %s (baseline %s), %.0f s" % (
                             alive, es, baseline, time.monotonic() - t0))
            if not alive:
                w.start_operator()
        revoke_phase(w, rnd, checks, baseline, figures)
        global_checks(w, obs, checks, figures)
    finally:
        obs.stop()
        if w.operator is not None:
            w.stop_operator(signal.SIGKILL)
        w.close()
    L.log("figures: %s" % figures)
    return figures


def revoke_phase(w, rnd, checks, baseline, figures):
    """Busy agents finish their jobs while the PAT is revoked: their idle time runs past
    ttlIdleSeconds, yet nobody can prove them idle, so nothing may be deleted or disabled,
    not even by an operator restarted (kill -9) in the middle of it."""
    name = "revoked PAT"
    L.log("phase: %s" % name)
    for _ in range(3):
        L.queue_job(w, "qa", 2)
    w.wait_until("three busy agents in fa", lambda: sum(
        1 for a in L.safe_state(w, pods=False)["orgs"][L.ORG]["pools"]["qa"]["agents"]
        if a.get("assignedRequestId")) >= 3, limit_s=90)
    before = {p["metadata"]["name"] for p in L.safe_state(w)["pods"]}
    # Revoked while the operator is down: its database still holds a good poll, younger than
    # the 5 minutes that count as connected, showing the agents busy. Meanwhile their jobs
    # end and they idle past ttlIdleSeconds; the restarted operator must not act on that.
    L.kill9(w)
    t_revoke = time.time()
    w.sim("POST", "/_sim/faults", {"revoke": L.ORG})
    time.sleep(6)
    w.start_operator()
    try:
        w.wait_until("pool fa reports AuthFailed",
                     lambda: w.pool_status("fa").get("state") == "AuthFailed", limit_s=60)
        reported = True
    except AssertionError:
        reported = False
    time.sleep(4)
    L.kill9(w)        # and once more in the middle of the outage
    w.start_operator()
    time.sleep(8)
    after = {p["metadata"]["name"] for p in L.safe_state(w)["pods"]}
    t_restore = time.time()
    w.sim("POST", "/_sim/faults", {"restore": L.ORG})
    pod_del, _ = L.read_kube_deletes(w.reqlog)
    in_window = [n for n, t0, _ in pod_del if t_revoke < t0 < t_restore]
    reg_del = [n for n, t0, _ in (L.read_azdo_deletes(w, {}) or [])
               if t_revoke < t0 < t_restore]
    decided = L.sql_ro(w.db, """
        SELECT d.action, d.target, t.pool_state FROM decisions d JOIN ticks t USING (tick_id)
        WHERE t.at_ms BETWEEN ? AND ? AND d.action IN (%s)""" % ",".join(
        "'%s'" % a for a in DESTRUCTIVE), (int(t_revoke * 1000), int(t_restore * 1000)))
    checks.check("revoked PAT: pool reports AuthFailed", reported)
    checks.check("revoked PAT: no destructive decision recorded while revoked", not decided,
                 "%s" % decided[:5])
    checks.check("revoked PAT: no pod or registration deleted while revoked",
                 not in_window and not reg_del and before <= after,
                 "pods deleted %s, registrations %s, pods before %s after %s" % (
                     in_window, reg_del, sorted(before), sorted(after)))
    try:
        w.wait_until("settled after restore", lambda: settled(w), limit_s=180)
        ok = True
    except AssertionError:
        ok = False
    es = end_state(w)
    checks.check("revoked PAT: after restore, same end state as without faults",
                 ok and es == baseline, "end state %s (baseline %s)" % (es, baseline))


def global_checks(w, obs, checks, figures):
    stale = L.sql_ro(w.db, """
        SELECT t.pool_state, d.action, d.target, d.reason FROM decisions d JOIN ticks t
        USING (tick_id) WHERE t.pool_state NOT IN ('connected', 'degraded', 'deleting')
        AND d.action IN (%s)""" % ",".join("'%s'" % a for a in DESTRUCTIVE))
    states = L.sql_ro(w.db, "SELECT pool_state, count(*) FROM ticks GROUP BY pool_state")
    figures["tick_states"] = dict(states)
    checks.check("no destructive decision in a tick without fresh Azure DevOps information "
                 "(tick states %s)" % dict(states), not stale, "%s" % stale[:5])
    st = L.safe_state(w)
    all_jobs = L.all_jobs(st)
    pod_del, pvc_del = L.read_kube_deletes(w.reqlog, obs.deletion_seen)
    reg_del = L.read_azdo_deletes(w, obs.agent_names) or []
    bad = (L.lost_jobs(all_jobs) + obs.violations["busy_terminating"] +
           ["pod " + b for b in L.busy_deletes(pod_del, all_jobs)] +
           ["registration " + b for b in L.busy_deletes(reg_del, all_jobs)])
    checks.check("no busy agent deleted (%d jobs, %d pod deletes)" % (len(all_jobs),
                                                                     len(pod_del)),
                 not bad, "; ".join(bad[:8]))
    dbl = obs.violations["double_index"] + obs.violations["bad_name"]
    checks.check("no index ever had two pods", not dbl, "; ".join(dbl[:5]))
    kept_gone = sorted({n for n, _, _ in pvc_del if n in obs.kept_pvcs})
    checks.check("kept PVCs never deleted (%d seen)" % len(obs.kept_pvcs), not kept_gone,
                 "%s" % kept_gone)
    w.stop_operator(signal.SIGTERM)
    ic = L.integrity(w.db)
    rrc, out = L.replay(w.db)
    figures["replay"] = out.splitlines()[-1] if out else ""
    checks.check("integrity_check ok and replay reports no differing decision",
                 ic == ["ok"] and rrc == 0, "%s; %s" % (ic[:3], out[-800:]))
    L.sanitizer_check(checks, w)
