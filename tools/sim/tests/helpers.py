"""helpers.py - shared test helpers: start a simulated world on free ports, drive it with the
real kubectl and with raw HTTP, wait for conditions.

    w = World(["--pod-start-delay", "0.2"])     # subprocess tools/sim/simworld, port 0 each
    w.kubectl("get", "pods")                     # CompletedProcess; .out/.err/.rc
    status, headers, body = w.api("GET", "/api/v1/namespaces/default/pods")
    w.wait_for(lambda: ..., "what we wait for")
    w.stop()                                     # SIGTERM; asserts it exits 0 promptly

InProcessWorld gives the same api()/kubectl() on a store in the test process, for tests that
need thousands of objects quickly or reach into the store.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.dirname(HERE)
SIMWORLD = os.path.join(SIM, "simworld")
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, SIM)

WAIT_S = 30.0


def free_port():
    """A port the OS says is free right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "Result(rc=%d, out=%r, err=%r)" % (self.rc, self.out[-800:], self.err[-800:])


class _Base:
    kube_url = None
    tls_dir = None

    def _init_tmp(self):
        self.tmp = tempfile.mkdtemp(prefix="simtest-")
        os.makedirs(os.path.join(self.tmp, "home"), exist_ok=True)

    # ------------------------------------------------------------------ kubectl
    def kubectl(self, *args, input=None, timeout=60, kubeconfig=None):
        env = dict(os.environ)
        env["HOME"] = os.path.join(self.tmp, "home")
        env["KUBECONFIG"] = "/dev/null"
        env.pop("KUBECACHEDIR", None)
        cmd = ["kubectl"]
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
            cmd += ["--kubeconfig", kubeconfig]
        else:
            cmd += ["--server", self.kube_url]
        cmd += ["--cache-dir", os.path.join(self.tmp, "kc")] + list(args)
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout, text=True)
        return Result(p.returncode, p.stdout, p.stderr)

    def kubectl_ok(self, *args, **kw):
        r = self.kubectl(*args, **kw)
        if r.rc != 0:
            raise AssertionError("kubectl %s failed: %r" % (" ".join(args), r))
        return r

    def kubectl_json(self, *args):
        return json.loads(self.kubectl_ok(*(list(args) + ["-o", "json"])).out)

    # ------------------------------------------------------------------ raw HTTP
    def _conn(self, timeout=30):
        host, port = self.kube_url.split("://")[1].rsplit(":", 1)
        if self.kube_url.startswith("https"):
            ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.crt"))
            return http.client.HTTPSConnection(host, int(port), context=ctx, timeout=timeout)
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def api(self, method, path, body=None, headers=None, ctype=None, raw=None, token=None):
        """One request; returns (status, headers dict, parsed JSON or text)."""
        c = self._conn()
        h = dict(headers or {})
        if token is None and self.tls_dir:
            with open(os.path.join(self.tls_dir, "token")) as f:
                token = f.read().strip()
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", ctype or "application/json")
        elif ctype:
            h["Content-Type"] = ctype
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def watch(self, path, timeout=30):
        """Open a watch; returns (status, iterator of decoded events, connection)."""
        c = self._conn(timeout=timeout)
        h = {}
        if self.tls_dir:
            with open(os.path.join(self.tls_dir, "token")) as f:
                h["Authorization"] = "Bearer " + f.read().strip()
        c.request("GET", path, headers=h)
        r = c.getresponse()

        def events():
            while True:
                line = r.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        return r.status, events(), c

    # ------------------------------------------------------------------ waiting
    @staticmethod
    def wait_for(pred, what, timeout=WAIT_S, interval=0.05):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = pred()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))

    def ctl(self, method, path, body=None):
        """Call the /_sim control API on the Azure DevOps port (faults, state)."""
        host, port = self.azdo_url.split("://")[1].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        if r.status >= 300:
            raise AssertionError("%s %s -> %d %s" % (method, path, r.status, text))
        return json.loads(text) if text else None


class World(_Base):
    """tools/sim/simworld as a subprocess on OS-chosen free ports."""

    def __init__(self, args=(), tls=False, ready_timeout=15):
        self._init_tmp()
        cmd = [sys.executable, SIMWORLD, "--kube-port", "0", "--azdo-port", "0",
               "--log-file", os.path.join(self.tmp, "world.log")] + list(args)
        if tls:
            self.tls_dir = os.path.join(self.tmp, "tls")
            cmd += ["--kube-tls-dir", self.tls_dir]
        self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(
            os.path.join(self.tmp, "world.err"), "w"), text=True)
        line = [None]

        def read():
            line[0] = self.proc.stdout.readline()
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(ready_timeout)
        if not line[0] or not line[0].startswith("simworld ready"):
            self.proc.kill()
            raise AssertionError("simworld did not get ready: %r; stderr: %s"
                                 % (line[0], self.stderr()))
        self.ready_after = time.time() - self.t0
        fields = dict(kv.split("=", 1) for kv in line[0].split()[2:])
        self.kube_url = fields["kube"]
        self.azdo_url = fields["azdo"]

    def stderr(self):
        try:
            with open(os.path.join(self.tmp, "world.err")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit code (the world must exit 0 promptly)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


class InProcessWorld(_Base):
    """Store + kubelet + API server inside the test process (no Azure DevOps half)."""

    def __init__(self, watch_window=1000, start_delay=0.1, grace_scale=0.05,
                 service_ports=None):
        from simlib.faults import Faults
        from simlib.kube_http import KubeServer
        from simlib.kube_store import KubeStore
        from simlib.kubelet import Kubelet
        self._init_tmp()
        self.faults = Faults()
        self.store = KubeStore(self.faults, watch_window=watch_window)
        self.kubelet = Kubelet(self.store, self.faults, start_delay_s=start_delay,
                               grace_scale=grace_scale)
        self.kubelet.start()
        self.server = KubeServer(self.store, self.faults, service_ports=service_ports or {})
        port = self.server.start(0)
        self.kube_url = "http://127.0.0.1:%d" % port

    def stop(self):
        self.kubelet.stop()
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return 0


def make_ca(d, cn="test-ca"):
    from simlib import tls
    os.makedirs(d, exist_ok=True)
    tls.make_ca(d, cn)


def make_cert(d, name, sans):
    from simlib import tls
    tls.make_cert(d, name, sans)


def fixture(name):
    return os.path.join(FIXTURES, name)
