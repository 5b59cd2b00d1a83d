"""agents.py - the Azure Pipelines agent simulated inside every Running agent pod.

A pod is an agent pod when one of its containers has an AZP_URL environment variable that
points at this world (127.0.0.1/localhost with the Azure DevOps port, or a configured host
alias such as dev.azure.com). For each new run of that container (new pod uid or restart) the
simulated agent does what Microsoft's documented start.sh + config.sh + run.sh do (reference
§12):

  - needs AZP_TOKEN, or AZP_TOKEN_FILE (read from the secret volume mounted at that path);
  - AZP_POOL defaults to "Default", AZP_AGENT_NAME to the pod's hostname (its name);
  - after agent_register_delay_s it calls the service: an unknown organisation, pool or a bad,
    revoked, expired or read-only token makes the container exit 1 (the kubelet then restarts
    it: the pod crash-loops) and it never registers;
  - otherwise it registers like `config.sh --replace` (an existing record of the same name is
    taken over, same id, user capabilities kept) and goes online with capabilities = its
    environment minus the names in VSO_AGENT_IGNORE, plus Agent.* system capabilities;
  - `--once` in the container's args/command (or AZP_RUN_ONCE=true) makes it exit 0 after one
    job;
  - `--configure-only` in args/command, or AZP_CONFIGURE_ONLY=true (a convention of this world:
    a real image would run config.sh alone), registers or updates the record, leaves it
    offline and exits 0: how an operator can make an offline template registration from a pod;
  - SIGTERM (pod deletion): with agent_unregister_on_sigterm the wrapper's trap deletes the
    registration (after the running job, if any, as `config.sh remove` keeps failing until
    then); without it the registration stays behind offline, as after a hard kill.
  - when the container stops or the pod disappears the agent goes offline; a job it was
    running is lost.

Cheap at scale: the store listener only records which pods changed; a tick looks at those.
"""

import base64
import posixpath
import re
import threading
import urllib.parse

SYSTEM_HOME = "/azp"
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class Runtime:
    """One agent pod as the supervisor sees it."""

    def __init__(self, namespace, name, uid):
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.instance = None     # (restartCount, startedAt) of the container run we act for
        self.agent = None        # azdo_model.Agent while this run owns a registration
        self.terminating = False
        self.once = False
        self.crashed_reason = None
        self.container = None    # name of the agent container

    def pod_ref(self):
        return {"namespace": self.namespace, "name": self.name}

    def registration_deleted(self, agent):
        """Called by the world when the registration is deleted through the REST API."""
        if self.agent is agent:
            self.agent = None


class AgentLaunch:
    """What a container run would do, worked out from the pod spec and the store."""

    def __init__(self):
        self.error = None        # (exit code, message) when start.sh would exit before config
        self.url = None
        self.org = None
        self.pool = None
        self.name = None
        self.token = None
        self.caps = {}
        self.once = False
        self.configure_only = False
        self.version = None
        self.secret_caps = set()


def pod_key(namespace, name):
    return "%s/%s" % (namespace, name)


def _container_state(pod, cname):
    """(running, instance) for container cname of the pod."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False, None
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == cname:
            running = (cs.get("state") or {}).get("running")
            if running is None:
                return False, None
            return True, (cs.get("restartCount", 0), running.get("startedAt"))
    return False, None


def agent_container(pod):
    """The first container whose env declares AZP_URL (directly), or None."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == "AZP_URL":
                return c
    return None


class AgentSupervisor:
    def __init__(self, world, store, kubelet, faults, port, host_aliases=(), log=None):
        self.world = world
        self.store = store
        self.kubelet = kubelet
        self.faults = faults
        self.port = port
        self.host_aliases = {h.lower() for h in host_aliases if h}
        self.log = log or (lambda msg: None)
        self.runtimes = {}            # pod key -> Runtime
        self._dirty = set()
        self._dirty_lock = threading.Lock()
        self._actions = []            # side effects to run outside the world lock
        self._ignored_urls = set()
        world.on_job_finished = self._job_finished

    # ------------------------------------------------------------------ store hooks
    def on_store_event(self, event_type, resource, obj):
        if resource != "pods":
            return
        md = obj.get("metadata") or {}
        with self._dirty_lock:
            self._dirty.add((md.get("namespace"), md.get("name")))

    def on_termination(self, pod):
        md = pod.get("metadata") or {}
        with self._dirty_lock:
            self._dirty.add((md.get("namespace"), md.get("name")))

    def scan_all(self):
        """Marks every existing pod for a look (at start)."""
        for pod in self.store.list("pods"):
            self.on_store_event("ADDED", "pods", pod)

    # ------------------------------------------------------------------ tick
    def tick(self, now):
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if dirty:
            with self.world.lock:
                for ns, name in dirty:
                    self._look(ns, name, now)
        self.run_actions()

    def run_actions(self):
        with self.world.lock:
            actions, self._actions = self._actions, []
        for act in actions:
            try:
                act()
            except Exception as e:  # a pod deleted meanwhile, for example
                self.log("agent action failed: %s" % e)

    # ------------------------------------------------------------------ per pod
    def _look(self, ns, name, now):
        key = pod_key(ns, name)
        pod = self.store.get_ref("pods", ns, name) if hasattr(self.store, "get_ref") \
            else self.store.get("pods", ns, name)
        rt = self.runtimes.get(key)
        if pod is None:
            if rt is not None:
                self._stop(rt, "pod deleted")
                del self.runtimes[key]
            return
        md = pod.get("metadata") or {}
        uid = md.get("uid")
        if rt is not None and rt.uid != uid:
            self._stop(rt, "pod replaced")
            del self.runtimes[key]
            rt = None
        container = agent_container(pod)
        if container is None:
            return
        running, instance = _container_state(pod, container.get("name"))
        terminating = bool(md.get("deletionTimestamp"))
        if rt is None:
            if not running:
                return
            rt = Runtime(ns, name, uid)
            self.runtimes[key] = rt
        rt.container = container.get("name")
        if terminating and not rt.terminating:
            rt.terminating = True
            self._sigterm(rt)
        if not running:
            if rt.instance is not None:
                rt.instance = None
                self._stop(rt, "container stopped")
            return
        if instance == rt.instance or terminating:
            return
        # A new run of the agent container.
        if rt.agent is not None:
            self._stop(rt, "container restarted")
        rt.instance = instance
        launch = self._launch(pod, container)
        if launch is None:
            return  # AZP_URL points elsewhere: not an agent of this world
        rt.once = launch.once
        if launch.error is not None:
            self._crash(rt, *launch.error)
            return
        delay = float(getattr(self.faults, "agent_register_delay_s", 1.0) or 0.0)
        self.world.add_timer(now + delay, lambda t, rt=rt, inst=instance, la=launch:
                             self._register(rt, inst, la))

    def _register(self, rt, instance, launch):
        """config.sh --replace, then run.sh: under the world lock."""
        if self.runtimes.get(pod_key(rt.namespace, rt.name)) is not rt or rt.instance != instance \
                or rt.terminating:
            return
        world = self.world
        org = world.org(launch.org)
        url = launch.url
        if org is None:
            self._crash(rt, 1, "VS30063: You are not authorized to access %s." % url)
            return
        cred = world.credential_state(org, launch.token)
        if cred == "expired":
            self._crash(rt, 1, "VS30063: You are not authorized to access %s. The Personal "
                        "Access Token used has expired." % url)
            return
        if cred in ("invalid", "revoked"):
            self._crash(rt, 1, "VS30063: You are not authorized to access %s." % url)
            return
        pool = org.pools.get(launch.pool.lower())
        if pool is None:
            self._crash(rt, 1, "Agent pool not found: '%s'" % launch.pool)
            return
        if cred == "readonly":
            self._crash(rt, 1, "Access denied. %s needs Manage permissions for pool %s to "
                        "perform the action. For more information, contact the Azure DevOps "
                        "Server administrator." % (org.user["displayName"], pool.name))
            return
        agent = world.find_agent(pool, launch.name)
        system = dict(launch.caps)
        system.update({
            "Agent.Name": launch.name,
            "Agent.Version": launch.version or world.agent_version,
            "Agent.ComputerName": rt.name,
            "Agent.HomeDirectory": SYSTEM_HOME,
            "Agent.OS": "Linux",
            "Agent.OSArchitecture": "X64",
        })
        if agent is not None and agent.status == "online" and \
                (agent.owner is None or agent.owner is not rt):
            # Another live listener holds this agent's session: ours cannot start one.
            self._crash(rt, 1, "Error: A session for this agent already exists.")
            return
        if agent is None:
            agent = world.add_agent(pool, launch.name, version=launch.version, status="offline")
            agent.set_caps(system, {})
        else:
            if agent.owner is not None and agent.owner is not rt:
                agent.owner.agent = None
            agent.version = launch.version or world.agent_version
            agent.set_caps(system, None)   # --replace keeps user capabilities
            agent.exiting = False
        agent.secret_caps = set(launch.secret_caps)
        if launch.configure_only:
            # config.sh only: the record exists (offline, no listener) and the process ends.
            agent.owner = None
            world.set_status(agent, "offline")
            self.log("agent %s configured in %s/%s (id %d), not started" % (
                agent.name, org.name, pool.name, agent.id))
            self._crash(rt, 0, "")
            return
        agent.owner = rt
        rt.agent = agent
        world.set_status(agent, "online")
        self.log("agent %s registered in %s/%s (id %d)" % (agent.name, org.name, pool.name,
                                                          agent.id))

    def _launch(self, pod, container):
        la = AgentLaunch()
        env, missing, from_secret = resolve_env(self.store, pod, container)
        url = env.get("AZP_URL", "")
        org = self._org_from_url(url)
        if org is None:
            if url not in self._ignored_urls:
                self._ignored_urls.add(url)
                self.log("ignoring agent pod %s/%s: AZP_URL is not this world" % (
                    pod["metadata"].get("namespace"), pod["metadata"].get("name")))
            return None
        la.url = url.rstrip("/")
        la.org = org
        la.pool = env.get("AZP_POOL") or "Default"
        spec = pod.get("spec") or {}
        la.name = env.get("AZP_AGENT_NAME") or spec.get("hostname") or pod["metadata"]["name"]
        ann = pod["metadata"].get("annotations") or {}
        la.version = ann.get("sim.opentools.mf/agent-version")
        words = list(container.get("command") or []) + list(container.get("args") or [])
        la.once = "--once" in words or str(env.get("AZP_RUN_ONCE", "")).lower() in (
            "1", "true", "yes")
        la.configure_only = "--configure-only" in words or \
            str(env.get("AZP_CONFIGURE_ONLY", "")).lower() in ("1", "true", "yes")
        token_file = env.get("AZP_TOKEN_FILE")
        if token_file:
            content = read_mounted_file(self.store, pod, container, token_file)
            if content is None:
                la.error = (1, "cat: %s: No such file or directory" % token_file)
                return la
            la.token = content.rstrip("\n")
        else:
            token = env.get("AZP_TOKEN")
            if not token:
                la.error = (1, "error: missing AZP_TOKEN environment variable")
                return la
            la.token = token
        ignore = {n.strip().lower() for n in (env.get("VSO_AGENT_IGNORE") or "").split(",")
                  if n.strip()}
        la.caps = {k: v for k, v in env.items() if k.lower() not in ignore}
        la.secret_caps = {k for k in from_secret if k in la.caps}
        return la

    def _org_from_url(self, url):
        try:
            u = urllib.parse.urlsplit(url)
        except ValueError:
            return None
        host = (u.hostname or "").lower()
        try:
            port = u.port
        except ValueError:
            return None
        ours = (host in ("127.0.0.1", "localhost", "::1") and port == self.port) or \
            (host in self.host_aliases)
        if not ours:
            return None
        segs = [s for s in u.path.split("/") if s]
        return urllib.parse.unquote(segs[0]) if segs else ""

    # ------------------------------------------------------------------ transitions
    def _crash(self, rt, code, message):
        rt.crashed_reason = message
        self.log("agent pod %s/%s exits %d: %s" % (rt.namespace, rt.name, code, message))
        ns, name, cname = rt.namespace, rt.name, rt.container
        reason = "Completed" if code == 0 else "Error"
        self._actions.append(lambda: self.kubelet.crash_container(
            ns, name, exit_code=code, reason=reason, message=message, container=cname))

    def _stop(self, rt, why):
        """The listener process is gone: its registration (if it still owns one) goes offline."""
        agent = rt.agent
        rt.agent = None
        if agent is None or agent.owner is not rt:
            return
        agent.owner = None
        if agent.pool.agents.get(agent.id) is agent:
            self.world.set_status(agent, "offline")

    def _sigterm(self, rt):
        agent = rt.agent
        if agent is None or agent.owner is not rt:
            return
        if agent.assigned is not None:
            # The trap's `config.sh remove` fails while the job runs; the listener finishes the
            # job unless the kubelet kills it first (then the job is lost, in _stop).
            agent.exiting = True
            return
        self._leave(rt, agent)

    def _leave(self, rt, agent):
        """The agent process ends cleanly (trap cleanup or --once): unregister or go offline."""
        rt.agent = None
        agent.owner = None
        agent.exiting = False
        trapped = getattr(self.faults, "agent_unregister_on_sigterm", True)
        if agent.pool.agents.get(agent.id) is agent:
            if trapped:
                self.world.delete_agent(agent)
            else:
                self.world.set_status(agent, "offline")
        if rt.terminating and trapped and hasattr(self.kubelet, "finish_termination"):
            # The trap ran and the container exited: the pod need not wait out its grace.
            ns, name = rt.namespace, rt.name
            self._actions.append(lambda: self.kubelet.finish_termination(ns, name))

    def _job_finished(self, agent, job):
        rt = agent.owner
        if rt is None:
            return
        if agent.exiting:
            self._leave(rt, agent)
        elif rt.once:
            # run.sh --once returns after one job; the container's process ends with 0. The
            # instance stays recorded so the still-running status is not taken for a new run.
            self._leave(rt, agent)
            self._crash(rt, 0, "")


# ---------------------------------------------------------------------------------------------
# Pod spec resolution (what the kubelet hands the container)

def _secret_data(store, namespace, name):
    s = store.get_ref("secrets", namespace, name) if hasattr(store, "get_ref") \
        else store.get("secrets", namespace, name)
    if s is None:
        return None
    out = {}
    for k, v in (s.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v).decode("utf-8", "replace")
        except (ValueError, TypeError):
            out[k] = ""
    for k, v in (s.get("stringData") or {}).items():  # tolerated if the store kept it
        out.setdefault(k, v)
    return out


def _configmap_data(store, namespace, name):
    try:
        cm = store.get("configmaps", namespace, name)
    except Exception:
        return None
    if cm is None:
        return None
    return dict(cm.get("data") or {})


def _field_ref(pod, path):
    md = pod.get("metadata") or {}
    m = re.match(r"^metadata\.(labels|annotations)\['(.+)'\]$", path)
    if m:
        return (md.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"), "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.podIP": (pod.get("status") or {}).get("podIP"),
        "status.hostIP": (pod.get("status") or {}).get("hostIP"),
    }
    v = simple.get(path)
    return "" if v is None else str(v)


def resolve_env(store, pod, container):
    """The container's environment as the kubelet builds it:
    (dict name -> value, [missing], {names whose value came from a Secret}).

    envFrom first, then env in order with $(VAR) expansion; a missing non-optional Secret or
    ConfigMap key leaves the variable out (a real kubelet would not start the container).
    """
    ns = (pod.get("metadata") or {}).get("namespace")
    env = {}
    missing = []
    from_secret = set()
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        if "secretRef" in src:
            data = _secret_data(store, ns, src["secretRef"].get("name"))
        elif "configMapRef" in src:
            data = _configmap_data(store, ns, src["configMapRef"].get("name"))
        else:
            continue
        if data is None:
            missing.append(str(src))
            continue
        for k, v in data.items():
            env[prefix + k] = v
            if "secretRef" in src:
                from_secret.add(prefix + k)
    for e in container.get("env") or []:
        name = e.get("name")
        if not name:
            continue
        if "value" in e or "valueFrom" not in e:
            raw = e.get("value") or ""
            env[name] = _VAR_REF.sub(
                lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), raw)
            continue
        vf = e.get("valueFrom") or {}
        value = None
        if "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            data = _secret_data(store, ns, ref.get("name"))
            value = None if data is None else data.get(ref.get("key"))
            from_secret.add(name)
        elif "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            data = _configmap_data(store, ns, ref.get("name"))
            value = None if data is None else data.get(ref.get("key"))
        elif "fieldRef" in vf:
            value = _field_ref(pod, (vf["fieldRef"] or {}).get("fieldPath", ""))
        elif "resourceFieldRef" in vf:
            value = "0"
        if value is None:
            missing.append(name)
            continue
        env[name] = value
    return env, missing, from_secret


def read_mounted_file(store, pod, container, path):
    """Contents of `path` inside the container when it lies in a Secret (or projected Secret)
    volume mount; None otherwise."""
    path = posixpath.normpath(path)
    vols = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    ns = (pod.get("metadata") or {}).get("namespace")
    best = None
    for m in container.get("volumeMounts") or []:
        mp = posixpath.normpath(m.get("mountPath") or "/")
        if m.get("subPath"):
            if path == mp:
                best = (m, m["subPath"])
            continue
        if path.startswith(mp.rstrip("/") + "/"):
            rel = path[len(mp.rstrip("/")) + 1:]
            if best is None or len(mp) > len(best[0].get("mountPath") or ""):
                best = (m, rel)
    if best is None:
        return None
    mount, rel = best
    vol = vols.get(mount.get("name"))
    if vol is None:
        return None
    sources = []
    if "secret" in vol:
        sources.append(vol["secret"])
    elif "projected" in vol:
        for s in (vol["projected"] or {}).get("sources") or []:
            if "secret" in s:
                sources.append(s["secret"])
    for src in sources:
        data = _secret_data(store, ns, src.get("secretName") or src.get("name"))
        if data is None:
            continue
        items = src.get("items")
        if items:
            for it in items:
                if posixpath.normpath(it.get("path", "")) == rel and it.get("key") in data:
                    return data[it["key"]]
        elif rel in data:
            return data[rel]
    return None

