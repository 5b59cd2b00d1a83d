"""azdo_testkit.py - an in-process world (store + kubelet + Azure DevOps) for the sim's tests.

    w = SimFixture()                  # fast timings, free port
    w.ctl("POST", "/_sim/orgs/o", {"pat": "p4t", "pools": ["p"]})
    w.create_agent_pod("a1", org="o", pool="p", token="p4t", env={"java": "17"})
    w.wait_for(lambda: w.agent("o", "p", "a1"), "agent a1 registers")
    w.close()

Waits poll until a condition holds or a generous deadline passes; they never assert on how
long something took (shared machines are noisy).
"""

import argparse
import base64
import json
import time
import urllib.error
import urllib.request

from .azdo import AzdoService
from .faults import Faults
from .kube_store import KubeStore
from .kubelet import Kubelet

WAIT_S = 30.0


class SimFixture:
    def __init__(self, register_delay=0.0, receive_delay=0.0, kubelet_delay=0.02,
                 unregister_on_sigterm=True, grace_scale=0.02, with_kube=True,
                 host_aliases=()):
        self.faults = Faults()
        self.store = None
        self.kubelet = None
        if with_kube:
            self.store = KubeStore(self.faults)
            self.kubelet = Kubelet(self.store, self.faults, start_delay_s=kubelet_delay,
                                   grace_scale=grace_scale)
            self.kubelet.backoff_scale = 0.01
            self.kubelet.start()
        opts = argparse.Namespace(agent_register_delay=register_delay,
                                  job_receive_delay=receive_delay,
                                  agent_unregister_on_sigterm=unregister_on_sigterm,
                                  azdo_host_alias=list(host_aliases))
        self.svc = AzdoService(store=self.store, kubelet=self.kubelet, faults=self.faults,
                               options=opts)
        self.port = self.svc.start(0)
        self.base = "http://127.0.0.1:%d" % self.port

    def close(self):
        self.svc.stop()
        if self.kubelet is not None:
            self.kubelet.stop()

    # ------------------------------------------------------------------ HTTP
    def call(self, method, path, body=None, pat=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if pat is not None:
            req.add_header("Authorization",
                           "Basic " + base64.b64encode((":" + pat).encode()).decode())
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def ctl(self, method, path, body=None):
        status, _, data = self.call(method, path, body)
        out = json.loads(data) if data else None
        if status != 200:
            raise AssertionError("%s %s -> %d %s" % (method, path, status, out))
        return out

    def api(self, path, pat, method="GET", body=None, expect=200):
        status, _, data = self.call(method, path, body, pat=pat)
        if status != expect:
            raise AssertionError("%s %s -> %d (wanted %d): %r" % (method, path, status, expect,
                                                                  data[:300]))
        return json.loads(data.decode("utf-8-sig")) if data else None

    # ------------------------------------------------------------------ state
    def state(self):
        return self.ctl("GET", "/_sim/state")

    def pool_state(self, org, pool):
        return self.state()["orgs"][org]["pools"][pool]

    def agent(self, org, pool, name):
        for a in self.pool_state(org, pool)["agents"]:
            if a["name"] == name:
                return a
        return None

    def job(self, org, pool, rid):
        for j in self.pool_state(org, pool)["jobs"]:
            if j["requestId"] == rid:
                return j
        return None

    def wait_for(self, pred, what, timeout=WAIT_S):
        deadline = time.time() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.time() > deadline:
                raise AssertionError("timed out waiting for: %s" % what)
            time.sleep(0.03)

    # ------------------------------------------------------------------ kube objects
    def create_secret(self, name, data, namespace="default"):
        self.store.create("secrets", namespace, {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})

    def agent_pod_manifest(self, name, org, pool, token=None, token_secret=None,
                           token_file=None, env=None, args=None, namespace="default",
                           url=None, restart_policy="Always", grace=30):
        envs = [{"name": "AZP_URL", "value": url or "%s/%s" % (self.base, org)},
                {"name": "AZP_POOL", "value": pool},
                {"name": "AZP_AGENT_NAME", "value": name}]
        if token is not None:
            envs.append({"name": "AZP_TOKEN", "value": token})
        if token_secret is not None:
            envs.append({"name": "AZP_TOKEN", "valueFrom": {"secretKeyRef": {
                "name": token_secret[0], "key": token_secret[1]}}})
        volumes, mounts = [], []
        if token_file is not None:
            secret_name, key = token_file
            envs.append({"name": "AZP_TOKEN_FILE", "value": "/azp-secret/%s" % key})
            volumes.append({"name": "pat", "secret": {"secretName": secret_name}})
            mounts.append({"name": "pat", "mountPath": "/azp-secret", "readOnly": True})
        envs.append({"name": "VSO_AGENT_IGNORE", "value": "AZP_TOKEN,AZP_TOKEN_FILE"})
        for k, v in (env or {}).items():
            envs.append({"name": k, "value": v})
        c = {"name": "agent", "image": "registry.example.com/azdo-agent:1.0", "env": envs}
        if args:
            c["args"] = list(args)
        if mounts:
            c["volumeMounts"] = mounts
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": namespace},
               "spec": {"containers": [c], "restartPolicy": restart_policy,
                        "terminationGracePeriodSeconds": grace}}
        if volumes:
            pod["spec"]["volumes"] = volumes
        return pod

    def create_agent_pod(self, name, org, pool, **kw):
        pod = self.agent_pod_manifest(name, org, pool, **kw)
        return self.store.create("pods", pod["metadata"]["namespace"], pod)

    def pod(self, name, namespace="default"):
        return self.store.get("pods", namespace, name)

    def container_status(self, name, namespace="default"):
        pod = self.pod(name, namespace)
        if pod is None:
            return None
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            return cs
        return None
