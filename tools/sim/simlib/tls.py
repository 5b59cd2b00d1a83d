"""tls.py - the API server's CA, serving certificate, bearer token and kubeconfig.

Python's ssl module cannot make certificates, so the `openssl` command does (EC P-256 keys:
fast enough to keep start-up under a second). Files in DIR:
  ca.crt ca.key          the CA (reused if present)
  server.crt server.key  serving certificate, SAN IP:127.0.0.1 + DNS:localhost (reused if
                         present and signed by ca.crt)
  token                  the bearer token the server requires (reused if present; rewrite it
                         to rotate: the server re-reads it when it changes)
  kubeconfig             server URL, CA data and token, for `kubectl --kubeconfig`
"""

import base64
import json
import os
import secrets
import ssl
import subprocess


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(args[:3]),
                                              r.stderr.decode(errors="replace").strip()))


def make_ca(d, cn="simworld-ca"):
    """CA key and self-signed certificate in d (ca.key, ca.crt)."""
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
          "-days", "3650", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    os.chmod(os.path.join(d, "ca.key"), 0o600)


def make_cert(d, name, sans, ca_dir=None, cn=None):
    """Key and certificate `name`.key/.crt in d, signed by ca_dir's CA, with the given SANs
    (e.g. ["IP:127.0.0.1", "DNS:localhost"])."""
    ca_dir = ca_dir or d
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(sans))
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
          "-subj", "/CN=" + (cn or sans[0].split(":", 1)[1])], d)
    _run(["openssl", "x509", "-req", "-in", name + ".csr",
          "-CA", os.path.join(ca_dir, "ca.crt"), "-CAkey", os.path.join(ca_dir, "ca.key"),
          "-CAcreateserial", "-out", name + ".crt", "-days", "365", "-extfile", ext], d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)
    for junk in (name + ".csr", name + ".ext"):
        try:
            os.unlink(os.path.join(d, junk))
        except OSError:
            pass


def _cert_ok(d):
    for f in ("ca.crt", "ca.key", "server.crt", "server.key"):
        if not os.path.exists(os.path.join(d, f)):
            return False
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    except (ssl.SSLError, OSError):
        return False
    r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "ca.crt"),
                        os.path.join(d, "server.crt")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode == 0


def setup(d, port):
    """Create (or reuse) everything in d; returns (server ssl context, token file path)."""
    os.makedirs(d, exist_ok=True)
    if not _cert_ok(d):
        make_ca(d)
        make_cert(d, "server", ["IP:127.0.0.1", "DNS:localhost"], cn="simworld-apiserver")
    tok = os.path.join(d, "token")
    if not os.path.exists(tok) or not open(tok).read().strip():
        with open(tok, "w") as f:
            f.write(secrets.token_hex(24) + "\n")
        os.chmod(tok, 0o600)
    token = open(tok).read().strip()
    with open(os.path.join(d, "ca.crt"), "rb") as f:
        ca_data = base64.b64encode(f.read()).decode()
    kc = {"apiVersion": "v1", "kind": "Config",
          "clusters": [{"name": "simworld", "cluster": {
              "server": "https://127.0.0.1:%d" % port,
              "certificate-authority-data": ca_data}}],
          "users": [{"name": "simworld", "user": {"token": token}}],
          "contexts": [{"name": "simworld", "context": {"cluster": "simworld",
                                                        "user": "simworld",
                                                        "namespace": "default"}}],
          "current-context": "simworld", "preferences": {}}
    kpath = os.path.join(d, "kubeconfig")
    with open(kpath, "w") as f:
        json.dump(kc, f, indent=2)   # JSON is YAML: kubectl reads it
    os.chmod(kpath, 0o600)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    return ctx, tok
