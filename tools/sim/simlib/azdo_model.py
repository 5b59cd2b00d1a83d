"""azdo_model.py - the simulated Azure DevOps organisations: pools, agents, job requests.

All state lives in one AzdoWorld guarded by one lock (world.lock). Everything that changes state
(REST handlers, the control API, the agent supervisor, the ticker) holds that lock while it does
so; nothing here calls out to the Kubernetes side, so the lock is never held across I/O.

Scale: 1,000 pools x 10 agents must tick cheaply, so nothing scans all pools. Pools whose queue
might now move are put in `dirty_pools`; timed steps (receive, finish, lost-agent failure,
agent registration) sit in one heap.

Job rules (issue 2, reference §5/§6):
- queued -> assigned (assignTime, reservedAgent; agent.assignedRequest) to an idle, online,
  enabled agent whose capabilities satisfy every demand -> received (receiveTime, lockedUntil)
  after job_receive_delay_s -> finished (finishTime, result) durationSeconds later.
- a job that no registered agent of the pool (online or offline) satisfies fails at once.
- an agent lost mid-job (pod gone, container died, registration deleted) fails its job with the
  real service's "We stopped hearing from agent" message after lost_job_timeout_s.
"""

import heapq
import itertools
import threading
import time

from .azdo_util import (DemandError, demands_satisfied, iso, new_guid, parse_demand)

DEFAULT_AGENT_VERSION = "3.248.0"
DEFAULT_VERSION_DEMAND = "Agent.Version -gtVersion 2.163.1"
HISTORY_LIMIT = 50_000  # finished requests kept per pool; older ones are forgotten


class Agent:
    __slots__ = ("id", "name", "pool", "version", "enabled", "status", "created_on",
                 "status_changed_on", "system_caps", "user_caps", "caps_lower", "assigned",
                 "last_completed", "owner", "exiting", "os_description", "virtual", "secret_caps")

    def __init__(self, agent_id, name, pool, now):
        self.id = agent_id
        self.name = name
        self.pool = pool
        self.version = DEFAULT_AGENT_VERSION
        self.enabled = True
        self.status = "offline"
        self.created_on = now
        self.status_changed_on = now
        self.system_caps = {}
        self.user_caps = {}
        self.caps_lower = {}
        self.assigned = None        # Job while busy
        self.last_completed = None  # Job
        self.owner = None           # agents.Runtime driving it (None: placeholder / virtual)
        self.exiting = False        # its pod got SIGTERM: finishes its job, takes no new one
        self.os_description = "Linux 6.1.0-sim #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux"
        self.virtual = False        # created through the control API / a scenario
        self.secret_caps = set()    # capability names whose values came from a Secret

    def set_caps(self, system=None, user=None):
        if system is not None:
            self.system_caps = dict(system)
        if user is not None:
            self.user_caps = dict(user)
        merged = {}
        for k, v in self.system_caps.items():
            merged[k.lower()] = v
        for k, v in self.user_caps.items():
            merged[k.lower()] = v
        self.caps_lower = merged

    def idle_for_jobs(self):
        return (self.status == "online" and self.enabled and self.assigned is None
                and not self.exiting)

    def ref(self):
        """TaskAgentReference."""
        return {"_links": {"self": {"href": self.pool.org.agent_href(self)},
                           "web": {"href": self.pool.org.agent_web_href(self)}},
                "id": self.id, "name": self.name, "version": self.version,
                "enabled": self.enabled, "status": self.status,
                "osDescription": self.os_description}


class Job:
    __slots__ = ("id", "pool", "demands", "parsed", "queue_time", "assign_time",
                 "receive_time", "finish_time", "result", "duration", "want_result", "agent",
                 "agent_ref", "pin", "plan_id", "job_id", "definition", "owner_ref",
                 "status_message", "locked_until", "gen", "lost")

    def __init__(self, job_id, pool, demands, parsed, duration, want_result, now):
        self.id = job_id
        self.pool = pool
        self.demands = demands
        self.parsed = parsed
        self.queue_time = now
        self.assign_time = None
        self.receive_time = None
        self.finish_time = None
        self.result = None
        self.duration = duration
        self.want_result = want_result
        self.agent = None
        self.agent_ref = None   # TaskAgentReference snapshot (survives the agent's deletion)
        self.pin = None         # agent name this job may only run on (control API)
        self.plan_id = new_guid()
        self.job_id = new_guid()
        self.definition = {"id": 1, "name": "sim-pipeline"}
        self.owner_ref = {"id": job_id, "name": "sim-run-%d" % job_id}
        self.status_message = None
        self.locked_until = None
        self.gen = 0            # bumped to cancel pending timers
        self.lost = False

    def finished(self):
        return self.result is not None

    def state(self):
        if self.result is not None:
            return "finished"
        if self.receive_time is not None:
            return "running"
        if self.assign_time is not None:
            return "assigned"
        return "queued"


class Pool:
    def __init__(self, pool_id, name, org, now):
        self.id = pool_id
        self.name = name
        self.org = org
        self.created_on = now
        self.scope = new_guid()
        self.agents = {}       # id -> Agent (insertion order = id order)
        self.by_name = {}      # lower-cased name -> Agent (names are unique per pool)
        self.jobs = {}         # requestId -> Job, every job still remembered, id order
        self.pending = {}      # requestId -> Job, queued and not yet assigned, id order
        self.unfinished = {}   # requestId -> Job, id order
        self.finished_order = []  # Jobs in the order they finished


class Org:
    def __init__(self, name, world):
        self.name = name
        self.world = world
        self.pats = set()
        self.readonly_pats = set()
        self.pools = {}        # lower-cased name -> Pool
        self.pools_by_id = {}
        self.agents_by_id = {}
        self.jobs_by_id = {}
        self.host_id = new_guid()
        self.user = {"displayName": "Sim Admin", "id": new_guid(),
                     "uniqueName": "admin@%s.example" % name}

    def base_url(self):
        return "%s/%s" % (self.world.base_url, self.name)

    def agent_href(self, agent):
        return "%s/_apis/distributedtask/pools/%d/agents/%d" % (self.base_url(), agent.pool.id,
                                                                 agent.id)

    def agent_web_href(self, agent):
        return "%s/_settings/agentpools?poolId=%d&agentId=%d" % (self.base_url(), agent.pool.id,
                                                                 agent.id)


class AzdoError(Exception):
    """A refusal the REST layer turns into an error body."""

    def __init__(self, status, type_key, message):
        super().__init__(message)
        self.status = status
        self.type_key = type_key
        self.message = message


class AzdoWorld:
    def __init__(self, faults, base_url="http://127.0.0.1", agent_version=DEFAULT_AGENT_VERSION,
                 first_pool_id=1, clock=time.time):
        self.lock = threading.RLock()
        self.faults = faults
        self.base_url = base_url
        self.agent_version = agent_version
        self.clock = clock
        self.orgs = {}         # lower-cased name -> Org
        self._pool_ids = itertools.count(first_pool_id)
        self._agent_ids = itertools.count(1)
        self._job_ids = itertools.count(1)
        self._timer_seq = itertools.count()
        self.timers = []       # heap of (when, seq, kind, obj, gen)
        self.dirty_pools = set()
        self.used_pool_ids = set()
        # Hooks the agent supervisor installs: called under the lock.
        self.on_job_finished = None   # fn(agent, job)

    def set_next_request_id(self, n):
        """Makes the next job request id at least n (scenarios that quote real ids)."""
        nxt = next(self._job_ids)
        self._job_ids = itertools.count(max(n, nxt))

    # ------------------------------------------------------------------ orgs and pools
    def org(self, name):
        return self.orgs.get((name or "").lower())

    def ensure_org(self, name):
        org = self.org(name)
        if org is None:
            org = Org(name, self)
            self.orgs[name.lower()] = org
        return org

    def ensure_pool(self, org, name, pool_id=None):
        pool = org.pools.get(name.lower())
        if pool is not None:
            if pool_id is not None and pool_id != pool.id:
                raise AzdoError(409, "ArgumentException",
                                "pool '%s' already exists with id %d" % (name, pool.id))
            return pool
        if pool_id is None:
            pool_id = next(self._pool_ids)
            while pool_id in self.used_pool_ids:
                pool_id = next(self._pool_ids)
        elif pool_id in self.used_pool_ids:
            raise AzdoError(409, "ArgumentException", "pool id %d is already taken" % pool_id)
        self.used_pool_ids.add(pool_id)
        pool = Pool(pool_id, name, org, self.clock())
        org.pools[name.lower()] = pool
        org.pools_by_id[pool_id] = pool
        return pool

    # ------------------------------------------------------------------ credentials
    def credential_state(self, org, pat):
        """'valid' | 'readonly' | 'revoked' | 'expired' | 'invalid' for a PAT used on org."""
        if pat is None:
            return "invalid"
        if pat in self.faults.expired_pats and (pat in org.pats or pat in org.readonly_pats):
            return "expired"
        if pat in self.faults.revoked_pats:
            return "revoked"
        if pat in org.pats:
            return "valid"
        if pat in org.readonly_pats:
            return "readonly"
        return "invalid"

    def all_pats(self):
        out = set()
        for org in self.orgs.values():
            out |= org.pats
            out |= org.readonly_pats
        return out

    # ------------------------------------------------------------------ agents
    def find_agent(self, pool, name):
        return pool.by_name.get(name.lower())

    def add_agent(self, pool, name, version=None, system_caps=None, user_caps=None,
                  status="offline", enabled=True):
        if name.lower() in pool.by_name:
            raise AzdoError(409, "TaskAgentExistsException",
                            "An agent named %s already exists in the %s pool." % (name, pool.name))
        now = self.clock()
        agent = Agent(next(self._agent_ids), name, pool, now)
        agent.version = version or self.agent_version
        agent.enabled = bool(enabled)
        agent.status = status
        agent.set_caps(system_caps or {}, user_caps or {})
        pool.agents[agent.id] = agent
        pool.by_name[name.lower()] = agent
        pool.org.agents_by_id[agent.id] = agent
        self.dirty_pools.add(pool)
        return agent

    def set_status(self, agent, status):
        if agent.status != status:
            agent.status = status
            agent.status_changed_on = self.clock()
        if status == "online":
            self.dirty_pools.add(agent.pool)
        elif agent.assigned is not None:
            self.agent_lost(agent)

    def set_enabled(self, agent, enabled):
        agent.enabled = bool(enabled)
        if agent.enabled:
            self.dirty_pools.add(agent.pool)

    def delete_agent(self, agent):
        pool = agent.pool
        if agent.assigned is not None:
            self.agent_lost(agent)
        pool.agents.pop(agent.id, None)
        if pool.by_name.get(agent.name.lower()) is agent:
            del pool.by_name[agent.name.lower()]
        pool.org.agents_by_id.pop(agent.id, None)
        agent.status = "offline"
        if agent.owner is not None:
            agent.owner.registration_deleted(agent)
            agent.owner = None

    def agent_lost(self, agent):
        """The agent stopped talking to the service while it had a job."""
        job = agent.assigned
        if job is None or job.lost:
            return
        job.lost = True
        job.gen += 1
        delay = float(getattr(self.faults, "lost_job_timeout_s", 0.0) or 0.0)
        if delay <= 0:
            self._fail_lost(job)
        else:
            self._timer(self.clock() + delay, "lost", job)

    def _fail_lost(self, job):
        name = job.agent_ref["name"] if job.agent_ref else "?"
        msg = ("We stopped hearing from agent %s. Verify the agent machine is running and has a "
               "healthy network connection. Anything that terminates an agent process, starves "
               "it for CPU, or blocks its network access can cause this error." % name)
        self.finish_job(job, "failed", msg)

    # ------------------------------------------------------------------ jobs
    def queue_job(self, pool, demands, duration=10.0, result="succeeded", pin=None,
                  add_version_demand=True, definition=None):
        """Queues one job request; returns the Job (already failed when nothing can run it)."""
        demands = list(demands or [])
        parsed = []
        for d in demands:
            try:
                parsed.append(parse_demand(d))
            except DemandError as e:
                raise AzdoError(400, "ArgumentException", str(e))
        if add_version_demand and not any(p[0].lower() == "agent.version" for p in parsed):
            demands.append(DEFAULT_VERSION_DEMAND)
            parsed.append(parse_demand(DEFAULT_VERSION_DEMAND))
        now = self.clock()
        job = Job(next(self._job_ids), pool, demands, parsed, max(0.0, float(duration)),
                  result or "succeeded", now)
        if pin:
            job.pin = pin
        if definition:
            job.definition = dict(definition)
        pool.jobs[job.id] = job
        pool.org.jobs_by_id[job.id] = job
        if not self.matched_agents(job):
            # The real service refuses to queue such a job (reference §6): it ends at once.
            job.finish_time = now
            job.result = "failed"
            job.status_message = ("No agent found in pool %s which satisfies the specified "
                                  "demands: %s" % (pool.name, ", ".join(demands)))
            pool.finished_order.append(job)
            self._trim_history(pool)
            return job
        pool.pending[job.id] = job
        pool.unfinished[job.id] = job
        self.dirty_pools.add(pool)
        self.schedule_pool(pool)
        return job

    def add_history(self, pool, count, demands=None, result="succeeded", age_s=3600.0,
                    duration=60.0):
        """Adds `count` already finished job requests (a busy pool's past)."""
        demands = list(demands or []) + [DEFAULT_VERSION_DEMAND]
        parsed = [parse_demand(d) for d in demands]
        now = self.clock()
        start = now - age_s
        step = age_s / max(1, count)
        for i in range(int(count)):
            t = start + i * step
            job = Job(next(self._job_ids), pool, demands, parsed, duration, result, t)
            job.assign_time = t + 0.2
            job.receive_time = t + 0.7
            job.finish_time = min(now, t + 0.7 + duration)
            job.result = result
            job.agent_ref = {"id": 0, "name": "retired-agent", "version": self.agent_version,
                             "enabled": True, "status": "offline"}
            pool.jobs[job.id] = job
            pool.org.jobs_by_id[job.id] = job
            pool.finished_order.append(job)
        self._trim_history(pool)

    def matched_agents(self, job):
        pool = job.pool
        out = []
        include_disabled = getattr(self.faults, "azdo_disabled_agents_match", True)
        for agent in pool.agents.values():
            if not include_disabled and not agent.enabled:
                continue
            if demands_satisfied(job.parsed, agent.caps_lower):
                out.append(agent)
        return out

    def schedule_pool(self, pool):
        """Assigns queued jobs of the pool to idle agents, oldest job first."""
        self.dirty_pools.discard(pool)
        if not pool.pending:
            return
        idle = [a for a in pool.agents.values() if a.idle_for_jobs()]
        if not idle:
            return
        for job in list(pool.pending.values()):
            for agent in idle:
                if job.pin and agent.name.lower() != job.pin.lower():
                    continue
                if demands_satisfied(job.parsed, agent.caps_lower):
                    self._assign(job, agent)
                    idle.remove(agent)
                    break
            if not idle:
                return

    def _assign(self, job, agent):
        now = self.clock()
        del job.pool.pending[job.id]
        job.assign_time = now
        job.agent = agent
        job.agent_ref = {"id": agent.id, "name": agent.name, "version": agent.version,
                         "enabled": agent.enabled, "status": agent.status}
        agent.assigned = job
        delay = float(getattr(self.faults, "job_receive_delay_s", 0.5) or 0.0)
        self._timer(now + delay, "receive", job)

    def _receive(self, job):
        now = self.clock()
        job.receive_time = now
        job.locked_until = now + 600.0
        self._timer(now + job.duration, "finish", job)

    def finish_job(self, job, result, message=None):
        if job.result is not None:
            return
        pool = job.pool
        now = self.clock()
        job.gen += 1
        job.result = result
        job.finish_time = now
        if message:
            job.status_message = message
        pool.pending.pop(job.id, None)
        pool.unfinished.pop(job.id, None)
        pool.finished_order.append(job)
        agent = job.agent
        if agent is not None and agent.assigned is job:
            agent.assigned = None
            agent.last_completed = job
            self.dirty_pools.add(pool)
            if self.on_job_finished is not None:
                self.on_job_finished(agent, job)
        self._trim_history(pool)

    def cancel_job(self, job):
        self.finish_job(job, "canceled", "The job was canceled.")

    def _trim_history(self, pool):
        excess = len(pool.finished_order) - HISTORY_LIMIT
        if excess > 0:
            for job in pool.finished_order[:excess]:
                pool.jobs.pop(job.id, None)
                pool.org.jobs_by_id.pop(job.id, None)
            del pool.finished_order[:excess]

    # ------------------------------------------------------------------ time
    def _timer(self, when, kind, obj):
        gen = obj.gen if isinstance(obj, Job) else 0
        heapq.heappush(self.timers, (when, next(self._timer_seq), kind, obj, gen))

    def add_timer(self, when, fn):
        """For other modules: fn(now) runs under the lock once `when` has passed."""
        heapq.heappush(self.timers, (when, next(self._timer_seq), "call", fn, 0))

    def tick(self, now=None):
        """Runs due timers and schedules dirty pools. Call with the lock held."""
        now = self.clock() if now is None else now
        while self.timers and self.timers[0][0] <= now:
            _, _, kind, obj, gen = heapq.heappop(self.timers)
            if kind == "call":
                obj(now)
                continue
            if obj.gen != gen or obj.result is not None:
                continue  # cancelled or already over
            if kind == "receive":
                self._receive(obj)
            elif kind == "finish":
                self.finish_job(obj, obj.want_result)
            elif kind == "lost":
                self._fail_lost(obj)
        self.schedule_dirty()

    def schedule_dirty(self):
        while self.dirty_pools:
            self.schedule_pool(self.dirty_pools.pop())

    # ------------------------------------------------------------------ wire shapes
    def pool_json(self, pool):
        org = pool.org
        return {
            "createdOn": iso(pool.created_on),
            "autoProvision": False,
            "autoUpdate": True,
            "autoSize": True,
            "createdBy": org.user,
            "owner": org.user,
            "id": pool.id,
            "scope": pool.scope,
            "name": pool.name,
            "isHosted": False,
            "poolType": "automation",
            "size": len(pool.agents),
            "isLegacy": False,
            "options": "none",
        }

    def agent_json(self, agent, caps=False, assigned=False, last=False):
        d = {
            "_links": {"self": {"href": agent.pool.org.agent_href(agent)},
                       "web": {"href": agent.pool.org.agent_web_href(agent)}},
            "maxParallelism": 1,
            "createdOn": iso(agent.created_on),
            "statusChangedOn": iso(agent.status_changed_on),
            "authorization": {"clientId": "00000000-0000-0000-0000-%012d" % agent.id},
            "id": agent.id,
            "name": agent.name,
            "version": agent.version,
            "osDescription": agent.os_description,
            "enabled": agent.enabled,
            "status": agent.status,
            "provisioningState": "Provisioned",
            "accessPoint": "CodexAccessMapping",
        }
        if caps:
            d["systemCapabilities"] = dict(agent.system_caps)
            d["userCapabilities"] = dict(agent.user_caps)
        if assigned:
            d["assignedRequest"] = self.job_json(agent.assigned, brief=True) \
                if agent.assigned is not None else None
        if last and agent.last_completed is not None:
            d["lastCompletedRequest"] = self.job_json(agent.last_completed, brief=True)
        return d

    def job_json(self, job, matched=True, brief=False):
        pool = job.pool
        d = {"requestId": job.id, "queueTime": iso(job.queue_time)}
        if job.assign_time is not None:
            d["assignTime"] = iso(job.assign_time)
        if job.receive_time is not None:
            d["receiveTime"] = iso(job.receive_time)
        if job.finish_time is not None:
            d["finishTime"] = iso(job.finish_time)
        if job.result is not None:
            d["result"] = job.result
        if job.locked_until is not None and job.result is None:
            d["lockedUntil"] = iso(job.locked_until)
        d.update({
            "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
            "hostId": pool.org.host_id,
            "scopeId": pool.scope,
            "planType": "Build",
            "planId": job.plan_id,
            "jobId": job.job_id,
            "definition": dict(job.definition),
            "owner": dict(job.owner_ref),
        })
        if brief:
            return d
        d["demands"] = list(job.demands)
        if job.agent_ref is not None:
            ref = dict(job.agent_ref)
            if job.agent is not None and job.agent.pool.agents.get(job.agent.id) is job.agent:
                ref["status"] = job.agent.status
                ref["enabled"] = job.agent.enabled
            d["reservedAgent"] = ref
        if matched and job.result is None:
            agents = self.matched_agents(job)
            d["matchedAgents"] = [{"id": a.id, "name": a.name, "version": a.version,
                                   "enabled": a.enabled, "status": a.status} for a in agents]
            d["matchesAllAgentsInPool"] = len(agents) == len(pool.agents)
        if job.status_message:
            d["statusMessage"] = job.status_message
        d.update({"data": {"ParallelismTag": "Private", "IsScheduledKey": "False"},
                  "poolId": pool.id,
                  "orchestrationId": "%s.job.__default" % job.plan_id,
                  "priority": 0})
        return d

    def state_json(self):
        """The pools part of GET /_sim/state (issue 2's shape, plus a few keys)."""
        orgs = {}
        for org in self.orgs.values():
            pools = {}
            for pool in org.pools.values():
                agents = []
                for a in pool.agents.values():
                    agents.append({
                        "id": a.id, "name": a.name, "status": a.status, "enabled": a.enabled,
                        "capabilities": _redact(dict(a.system_caps, **a.user_caps),
                                                a.secret_caps),
                        "userCapabilities": dict(a.user_caps),
                        "assignedRequestId": a.assigned.id if a.assigned else None,
                        "lastCompletedRequestId": a.last_completed.id if a.last_completed else None,
                        "version": a.version,
                        "pod": a.owner.pod_ref() if a.owner is not None else None,
                        "exiting": a.exiting,
                    })
                jobs = []
                for j in pool.jobs.values():
                    jobs.append({
                        "requestId": j.id, "demands": list(j.demands),
                        "queueTime": iso(j.queue_time), "assignTime": iso(j.assign_time),
                        "receiveTime": iso(j.receive_time), "finishTime": iso(j.finish_time),
                        "result": j.result,
                        "agentName": j.agent_ref["name"] if j.agent_ref else None,
                        "state": j.state(), "durationSeconds": j.duration,
                        "statusMessage": j.status_message,
                    })
                pools[pool.name] = {"id": pool.id, "agents": agents, "jobs": jobs}
            orgs[org.name] = {"pools": pools}
        return orgs


def _redact(caps, secret_names):
    """GET /_sim/state never shows values that came from a Secret (the REST API does, as the
    real service would)."""
    for k in secret_names:
        if k in caps:
            caps[k] = "<redacted>"
    return caps
