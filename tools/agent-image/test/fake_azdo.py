#!/usr/bin/env python3
"""fake_azdo.py - serves the agent package query and the package itself on 127.0.0.1 for
tools/agent-image/test/run (tests only).

    fake_azdo.py TOKEN TARBALL REQUEST_LOG

GET /org/_apis/distributedtask/packages/agent?platform=P&top=1 needs Basic auth with TOKEN as
the password and answers {"count":1,"value":[{"downloadUrl": ".../agent.tar.gz"}]};
GET /agent.tar.gz serves TARBALL. Each request is logged as "PATH auth=yes|no". Prints
"ready PORT" when listening (port chosen by the system).
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

TOKEN, TARBALL, LOG = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization")
        with open(LOG, "a") as f:
            f.write("%s auth=%s\n" % (self.path, "yes" if auth else "no"))
        if self.path.startswith("/org/_apis/distributedtask/packages/agent?"):
            want = "Basic " + base64.b64encode(("user:" + TOKEN).encode()).decode()
            if auth != want:
                self.send(401, b'{"message":"unauthorized"}')
                return
            url = "http://127.0.0.1:%d/agent.tar.gz" % self.server.server_port
            self.send(200, json.dumps({"count": 1, "value": [
                {"type": "agent", "platform": "linux-x64", "downloadUrl": url}]}).encode())
        elif self.path == "/agent.tar.gz":
            with open(TARBALL, "rb") as f:
                self.send(200, f.read(), "application/gzip")
        else:
            self.send(404, b"{}")


server = HTTPServer(("127.0.0.1", 0), Handler)
print("ready %d" % server.server_port, flush=True)
server.serve_forever()
