"""azdo.py - the simulated Azure DevOps service: entry class used by tools/sim/simworld.

    svc = AzdoService(store=store, kubelet=kubelet, faults=faults, options=args)
    svc.start(port)            # HTTP server on 127.0.0.1:port (0 = any free port) + ticker
    svc.load_scenario(path)    # optional
    ...
    svc.stop()

One port serves both the REST API (/<org>/_apis/...) and the control API (/_sim/...).
The ticker (every 100 ms) starts and stops simulated agents for pods that changed, and moves
jobs along (receive, finish, arrivals from a scenario's script).

Options read from `options` (argparse namespace; every one optional):
  agent_register_delay (s), job_receive_delay (s), agent_version, agent_unregister_on_sigterm
  (bool), azdo_host_alias (list or comma string), azdo_first_pool_id, verbose.
"""

import collections
import itertools
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import scenario as scenario_mod
from .agents import AgentSupervisor
from .azdo_api import AzdoApi, Request, Response, error_response
from .azdo_model import AzdoWorld, DEFAULT_AGENT_VERSION
from .azdo_util import iso
from .control import ControlApi, REDACTED
from .faults import Faults

TICK_S = 0.1
REQUEST_LOG_MAX = 200_000


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-azdo/1"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK stall every keep-alive response by ~40 ms.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # the request log replaces stderr noise
        if getattr(self.server.service, "verbose", False):
            sys.stderr.write("azdo: " + (fmt % args) + "\n")

    def _serve(self):
        svc = self.server.service
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._write(error_response(400, "ArgumentException", "malformed request body"))
            return
        path, _, query = self.path.partition("?")
        req = Request(self.command, path, query, self.headers, body)
        resp = svc.handle(req)
        self._write(resp)

    def _read_body(self):
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > 64 * 1024 * 1024:
            raise ValueError("bad length")
        return self.rfile.read(n) if n else b""

    def _write(self, resp):
        self.send_response(resp.status)
        if resp.status != 204:
            if resp.content_type:
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("X-VSS-E2EID", "sim")
        self.end_headers()
        if resp.status != 204 and self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


def _opt(options, name, default):
    v = getattr(options, name, None) if options is not None else None
    return default if v is None else v


class AzdoService:
    def __init__(self, store=None, kubelet=None, faults=None, options=None):
        self.store = store
        self.kubelet = kubelet
        self.faults = faults if faults is not None else Faults()
        self.options = options
        self.verbose = bool(_opt(options, "verbose", False))
        f = self.faults
        # Options seed the switches; POST /_sim/faults can change them later.
        f.agent_register_delay_s = float(_opt(options, "agent_register_delay",
                                              getattr(f, "agent_register_delay_s", 1.0)))
        f.job_receive_delay_s = float(_opt(options, "job_receive_delay",
                                           getattr(f, "job_receive_delay_s", 0.5)))
        f.agent_unregister_on_sigterm = bool(_opt(options, "agent_unregister_on_sigterm",
                                                  getattr(f, "agent_unregister_on_sigterm", True)))
        for name, default in (("expired_pats", set()), ("azdo_soft_throttle", False),
                              ("azdo_history_latency_ms", 0), ("azdo_busy_delete_status", 0),
                              ("azdo_max_page", 200), ("lost_job_timeout_s", 0.0),
                              ("azdo_disabled_agents_match", True)):
            if not hasattr(f, name):
                setattr(f, name, default)
        aliases = _opt(options, "azdo_host_alias", [])
        if isinstance(aliases, str):
            aliases = [a.strip() for a in aliases.split(",")]
        self.world = AzdoWorld(f, agent_version=str(_opt(options, "agent_version",
                                                         DEFAULT_AGENT_VERSION)),
                               first_pool_id=int(_opt(options, "azdo_first_pool_id", 1)))
        self.api = AzdoApi(self.world, f)
        self.control = ControlApi(self)
        self.supervisor = AgentSupervisor(self.world, store, kubelet, f, port=None,
                                          host_aliases=aliases, log=self._log)
        self._requests = collections.deque(maxlen=REQUEST_LOG_MAX)
        self._req_lock = threading.Lock()
        self._req_seq = itertools.count(1)
        self._last_seq = 0
        self._triggers = []
        self._trigger_ids = itertools.count(1)
        self._log_event = _opt(options, "log_event", None)  # simworld's JSON-lines log
        if not callable(self._log_event):
            self._log_event = None
        self._stop = threading.Event()
        self._server = None
        self._threads = []
        self.port = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, port):
        self._server = _Server(("127.0.0.1", int(port)), _Handler)
        self._server.service = self
        self.port = self._server.server_address[1]
        self.world.base_url = "http://127.0.0.1:%d" % self.port
        self.supervisor.port = self.port
        if self.store is not None:
            self.store.add_listener(self.supervisor.on_store_event)
            self.supervisor.scan_all()
        if self.kubelet is not None and hasattr(self.kubelet, "add_termination_listener"):
            self.kubelet.add_termination_listener(self.supervisor.on_termination)
        t1 = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="azdo-http", daemon=True)
        t2 = threading.Thread(target=self._ticker, name="azdo-tick", daemon=True)
        self._threads = [t1, t2]
        t1.start()
        t2.start()
        return self.port

    def stop(self):
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=2)

    def _ticker(self):
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # keep ticking: one bad pod must not stop the world
                traceback.print_exc()

    def tick(self, now=None):
        now = time.time() if now is None else now
        if self.store is not None:
            self.supervisor.tick(now)
        with self.world.lock:
            self.world.tick(now)
        self.supervisor.run_actions()

    def _log(self, msg):
        if self.verbose:
            sys.stderr.write("azdo: %s\n" % msg)

    # ------------------------------------------------------------------ scenarios
    def load_scenario(self, path):
        path = scenario_mod.scenario_path(path)
        data = scenario_mod.load_file(path)
        return self.load_scenario_data(data, source=path)

    def load_scenario_data(self, data, source="scenario"):
        summary = scenario_mod.apply(self, data, source=source)
        self._log("scenario %s loaded" % source)
        return summary

    def schedule_arrival(self, when, pool, body):
        spec = {"demands": list(body.get("demands") or []),
                "duration": float(body.get("durationSeconds", 10)),
                "result": body.get("result", "succeeded"), "pin": body.get("agent"),
                "add_version": not body.get("exactDemands", False),
                "definition": body.get("definition")}
        count = int(body.get("count", 1))
        with self.world.lock:
            self.world.add_timer(when, lambda now: self._queue_locked(pool, spec, count))

    def schedule_faults(self, when, body):
        """A scenario's timeline: applies a /_sim/faults body at `when`."""
        def fire(now):
            try:
                self.control.apply_faults(body)
            except Exception as e:  # a bad entry must not stop the ticker
                sys.stderr.write("azdo: timeline faults failed: %s\n" % e)
        with self.world.lock:
            self.world.add_timer(when, fire)

    # ------------------------------------------------------------------ jobs
    def _queue_locked(self, pool, spec, count):
        out = []
        for _ in range(count):
            out.append(self.world.queue_job(pool, spec["demands"], spec["duration"],
                                            spec["result"], pin=spec.get("pin"),
                                            add_version_demand=spec.get("add_version", True),
                                            definition=spec.get("definition")))
        return out

    def queue(self, pool, spec, count):
        with self.world.lock:
            return self._queue_locked(pool, spec, count)

    def add_trigger(self, method, path_contains, pool, spec, count):
        with self.world.lock:
            tid = next(self._trigger_ids)
            self._triggers.append((tid, (method or "").upper() or None, path_contains, pool,
                                   spec, count))
            return tid

    def _fire_triggers(self, req):
        if not self._triggers:
            return
        target = req.path + ("?" + req.raw_query if req.raw_query else "")
        with self.world.lock:
            keep = []
            for t in self._triggers:
                tid, method, sub, pool, spec, count = t
                if (method is None or method == req.method) and sub in target:
                    self._queue_locked(pool, spec, count)
                else:
                    keep.append(t)
            self._triggers = keep

    # ------------------------------------------------------------------ kube side
    def crash_pod(self, namespace, name, exit_code=1, reason="Error", message=""):
        if self.kubelet is None:
            raise RuntimeError("no kubelet in this world")
        self.kubelet.crash_container(namespace, name, exit_code=exit_code, reason=reason,
                                     message=message)

    def list_kube(self, resource):
        if self.store is None:
            return []
        try:
            return self.store.list(resource)
        except Exception:
            return []

    # ------------------------------------------------------------------ HTTP entry
    def handle(self, req):
        started = time.time()
        info = {}
        is_control = req.path == "/_sim" or req.path.startswith("/_sim/")
        try:
            if is_control:
                return self.control.handle(req)
            resp = self.api.handle(req, info)
            if resp.status < 400:
                self._fire_triggers(req)
        except Exception as e:
            traceback.print_exc()
            msg = "internal error in the simulated service: %s: %s" % (type(e).__name__, e)
            if is_control:
                return Response(500, json.dumps({"error": msg}).encode())
            resp = error_response(500, "VssServiceException", msg)
        self._record(req, resp, info, started)
        return resp

    def _record(self, req, resp, info, started):
        entry = {
            "method": req.method, "path": req.path, "query": req.raw_query,
            "status": resp.status, "time": iso(started),
            "durationMs": round((time.time() - started) * 1000, 1),
            "org": info.get("org"), "auth": info.get("auth"),
            "credential": info.get("credential"),
        }
        if req.method not in ("GET", "HEAD") and req.body and len(req.body) <= 16384:
            try:
                body = json.loads(req.body.decode("utf-8-sig"))
                text = json.dumps(body)
                with self.world.lock:
                    pats = self.world.all_pats()
                for p in pats:
                    text = text.replace(json.dumps(p), json.dumps(REDACTED))
                entry["body"] = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                entry["body"] = None
        with self._req_lock:
            seq = next(self._req_seq)
            entry["seq"] = seq
            self._last_seq = seq
            self._requests.append(entry)
        if self._log_event is not None:
            try:
                self._log_event(dict(entry, component="azdo"))
            except Exception:
                pass

    def requests_since(self, since):
        with self._req_lock:
            return [e for e in self._requests if e["seq"] > since], self._last_seq

    def clear_requests(self):
        with self._req_lock:
            self._requests.clear()
