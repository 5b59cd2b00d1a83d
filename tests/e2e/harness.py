"""harness.py - start the simulated world and the operator, drive them with kubectl.

Every end-to-end test uses one World: the simulated Kubernetes API + Azure DevOps on free
loopback ports, the operator binary on its own database, and a kubectl wrapper with a private
HOME and discovery cache (a shared cache would hide CRDs applied by an earlier world).

Waits are bounded polls for a condition ("until the pool shows 3/3"), not timing assertions:
the limit is generous because CI machines are shared and slow.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIMWORLD = os.path.join(TOP, "tools", "sim", "simworld")
OPERATOR = os.environ.get("AZDO_OPERATOR_BIN", os.path.join(TOP, "build", "c-unit", "src",
                                                            "azdo-operator"))
WAIT_LIMIT_S = float(os.environ.get("E2E_WAIT_LIMIT_S", "90"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """A simulated world plus (optionally) a running operator, in a private temp dir."""

    def __init__(self, scenario=None, world_args=(), start_operator=True, operator_args=()):
        self.dir = tempfile.mkdtemp(prefix="azdo-e2e-")
        self.kube_port = free_port()
        self.azdo_port = free_port()
        self.kube_url = "http://127.0.0.1:%d" % self.kube_port
        self.azdo_url = "http://127.0.0.1:%d" % self.azdo_port
        self.db = os.path.join(self.dir, "state.db")
        self.operator = None
        self.operator_log = os.path.join(self.dir, "operator.log")
        self.operator_args = list(operator_args)
        args = [SIMWORLD, "--kube-port", str(self.kube_port), "--azdo-port",
                str(self.azdo_port), "--state-dir", os.path.join(self.dir, "world"),
                "--pod-start-delay", "0.3", "--grace-scale", "0.05"] + list(world_args)
        if scenario:
            args += ["--scenario", scenario]
        self.world_log = open(os.path.join(self.dir, "world.log"), "w")
        self.world = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.world_log,
                                      text=True)
        line = self.world.stdout.readline()
        if "ready" not in line:
            self.close()
            raise RuntimeError("simworld did not start: %r (see %s)" % (line, self.dir))
        if start_operator:
            self.start_operator()

    # --- processes -------------------------------------------------------------------------
    def start_operator(self, extra_args=()):
        self.metrics_port = free_port()
        extra = list(self.operator_args) + list(extra_args)
        args = [OPERATOR, "run", "--kube-url", self.kube_url, "--db", self.db,
                "--listen-address", "127.0.0.1", "--metrics-port", str(self.metrics_port),
                "--poll-interval", "1", "--log-level", "debug"]
        if "--webhook-port" not in extra:
            args += ["--webhook-port", "0"]
        args += extra
        self.operator = subprocess.Popen(args, stdout=open(self.operator_log, "a"),
                                         stderr=subprocess.STDOUT)
        return self.operator

    def stop_operator(self, sig=signal.SIGTERM):
        if self.operator is None:
            return None
        self.operator.send_signal(sig)
        try:
            rc = self.operator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.operator.kill()
            rc = self.operator.wait()
        self.operator = None
        return rc

    def close(self):
        self.stop_operator(signal.SIGKILL)
        if self.world.poll() is None:
            self.world.terminate()
            try:
                self.world.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.world.kill()
        self.world_log.close()
        if os.environ.get("E2E_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- clients ---------------------------------------------------------------------------
    def kubectl(self, *args, check=True, input=None):
        env = dict(os.environ, HOME=self.dir, KUBECONFIG="/dev/null")
        cmd = ["kubectl", "--server", self.kube_url, "--cache-dir",
               os.path.join(self.dir, "kcache")] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input,
                           timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s failed: %s" % (" ".join(args), p.stderr))
        return p

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def sim(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.azdo_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def state(self):
        return self.sim("GET", "/_sim/state")

    def sql(self, query):
        p = subprocess.run([OPERATOR, "sql", "--db", self.db, "--json", query],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("sql failed: %s" % p.stderr)
        return json.loads(p.stdout or "[]")

    # --- waiting ---------------------------------------------------------------------------
    def wait_until(self, what, predicate, limit_s=None):
        """Polls predicate() until it returns a truthy value; fails with 'what' otherwise."""
        deadline = time.monotonic() + (limit_s or WAIT_LIMIT_S)
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except (AssertionError, OSError, ValueError, KeyError) as e:
                last = e
            else:
                if last:
                    return last
            if self.operator is not None and self.operator.poll() is not None:
                raise AssertionError("operator exited with %s while waiting for %s\n%s" %
                                     (self.operator.returncode, what, self.log_tail()))
            time.sleep(0.2)
        raise AssertionError("gave up waiting for %s (last: %r)\n%s" % (what, last,
                                                                        self.log_tail()))

    def log_tail(self, n=40):
        try:
            with open(self.operator_log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # --- conveniences ----------------------------------------------------------------------
    def pods(self, pool):
        return self.kubectl_json("get", "pods", "-l", "runner-pool=" + pool)["items"]

    def pool_status(self, name):
        return self.kubectl_json("get", "runnerpool", name).get("status", {})
