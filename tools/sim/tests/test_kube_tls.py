"""--kube-tls-dir: HTTPS with a generated CA, a bearer token the server requires, and a
kubeconfig that kubectl uses as it would for a real cluster."""

import os
import ssl
import unittest
import urllib.error
import urllib.request

from helpers import World


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.w = World(tls=True)

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def test_kubectl_with_the_generated_kubeconfig(self):
        self.assertTrue(self.w.kube_url.startswith("https://127.0.0.1:"))
        kc = os.path.join(self.w.tls_dir, "kubeconfig")
        self.w.kubectl_ok("create", "namespace", "ci", kubeconfig=kc)
        r = self.w.kubectl_ok("get", "namespaces", kubeconfig=kc)
        self.assertRegex(r.out, r"ci\s+Active")

    def test_requests_without_the_token_get_401_status(self):
        st, _, body = self.w.api("GET", "/api/v1/namespaces", token="wrong")
        self.assertEqual((st, body["kind"], body["reason"], body["code"]),
                         (401, "Status", "Unauthorized", 401))
        r = self.w.kubectl("get", "pods", "--server", self.w.kube_url,
                           "--certificate-authority",
                           os.path.join(self.w.tls_dir, "ca.crt"), "--token", "wrong")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("You must be logged in to the server", r.err)

    def test_certificate_verifies_for_127_0_0_1_and_localhost(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.w.tls_dir, "ca.crt"))
        port = self.w.kube_url.rsplit(":", 1)[1]
        for host in ("127.0.0.1", "localhost"):
            with urllib.request.urlopen("https://%s:%s/version" % (host, port),
                                        context=ctx, timeout=10) as r:
                self.assertEqual(r.status, 200)
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen("https://127.0.0.1:%s/version" % port,
                                   context=ssl.create_default_context(), timeout=10)

    def test_rewritten_token_file_rotates_the_token(self):
        tok = os.path.join(self.w.tls_dir, "token")
        old = open(tok).read().strip()
        with open(tok, "w") as f:
            f.write("rotated-token-0123456789\n")
        os.utime(tok, (1, 1))  # a different mtime even within the same second
        st, _, _ = self.w.api("GET", "/api/v1/namespaces", token=old)
        self.assertEqual(st, 401)
        st, _, _ = self.w.api("GET", "/api/v1/namespaces", token="rotated-token-0123456789")
        self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main()
