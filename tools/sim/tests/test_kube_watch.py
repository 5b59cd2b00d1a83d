"""List + watch: resourceVersion semantics, 410 Gone past the window then a clean relist,
bookmarks, initial events, selector transitions, timeouts, injected watch faults."""

import socket
import unittest

from helpers import World

CM = "/api/v1/namespaces/default/configmaps"


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.w = World(["--watch-window", "5"])

    def tearDown(self):
        self.assertEqual(self.w.stop(), 0)

    def mk(self, name, labels=None):
        st, _, o = self.w.api("POST", CM, {"metadata": {"name": name,
                                                        "labels": labels or {}}})
        self.assertEqual(st, 201)
        return o

    def test_watch_from_rv_sees_only_later_changes(self):
        self.mk("before")
        _, _, lst = self.w.api("GET", CM)
        rv = lst["metadata"]["resourceVersion"]
        self.mk("after")
        st, events, conn = self.w.watch(CM + "?watch=true&resourceVersion=%s" % rv)
        self.assertEqual(st, 200)
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "after"))
        self.assertEqual(ev["object"]["kind"], "ConfigMap")
        self.w.api("PATCH", CM + "/after", {"data": {"k": "v"}},
                   ctype="application/merge-patch+json")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["data"]), ("MODIFIED", {"k": "v"}))
        self.w.api("DELETE", CM + "/after")
        ev = next(events)
        self.assertEqual(ev["type"], "DELETED")
        conn.close()

    def test_watch_past_the_window_gets_410_then_relist_recovers(self):
        self.mk("first")
        _, _, lst = self.w.api("GET", CM)
        old_rv = lst["metadata"]["resourceVersion"]
        for i in range(8):                       # more events than --watch-window 5
            self.mk("later-%d" % i)
        st, events, conn = self.w.watch(CM + "?watch=true&resourceVersion=%s" % old_rv)
        self.assertEqual(st, 200)
        evs = list(events)                       # the server ends the stream after the error
        conn.close()
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["type"], "ERROR")
        status = evs[0]["object"]
        self.assertEqual((status["kind"], status["code"], status["reason"]),
                         ("Status", 410, "Expired"))
        self.assertIn("too old resource version: %s" % old_rv, status["message"])
        # The client-go recipe: relist, then watch from the list's resourceVersion.
        _, _, lst = self.w.api("GET", CM)
        self.assertEqual(len(lst["items"]), 9)
        st, events, conn = self.w.watch(CM + "?watch=true&resourceVersion=%s"
                                        % lst["metadata"]["resourceVersion"])
        self.mk("fresh")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "fresh"))
        conn.close()

    def test_watch_without_rv_starts_with_synthetic_added(self):
        self.mk("a")
        self.mk("b")
        st, events, conn = self.w.watch(CM + "?watch=true")
        names = [next(events)["object"]["metadata"]["name"] for _ in range(2)]
        self.assertEqual(sorted(names), ["a", "b"])
        conn.close()

    def test_initial_events_end_with_a_bookmark(self):
        self.mk("a")
        st, events, conn = self.w.watch(CM + "?watch=true&sendInitialEvents=true&"
                                        "allowWatchBookmarks=true&resourceVersionMatch="
                                        "NotOlderThan")
        ev = next(events)
        self.assertEqual(ev["type"], "ADDED")
        bm = next(events)
        self.assertEqual(bm["type"], "BOOKMARK")
        self.assertEqual(bm["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        self.assertTrue(int(bm["object"]["metadata"]["resourceVersion"]) >=
                        int(ev["object"]["metadata"]["resourceVersion"]))
        conn.close()

    def test_periodic_bookmarks_carry_the_current_rv(self):
        _, _, lst = self.w.api("GET", CM)
        st, events, conn = self.w.watch(CM + "?watch=true&allowWatchBookmarks=true&"
                                        "resourceVersion=%s" % lst["metadata"]["resourceVersion"])
        self.w.api("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
        ev = next(events)   # the secret is not ours: the next thing is a bookmark
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["kind"], "ConfigMap")
        self.assertGreater(int(ev["object"]["metadata"]["resourceVersion"]),
                           int(lst["metadata"]["resourceVersion"]))
        conn.close()

    def test_selector_transitions_add_and_delete(self):
        self.mk("x", {"team": "a"})
        _, _, lst = self.w.api("GET", CM + "?labelSelector=team%3Da")
        st, events, conn = self.w.watch(CM + "?watch=true&labelSelector=team%%3Da&"
                                        "resourceVersion=%s" % lst["metadata"]["resourceVersion"])
        self.w.api("PATCH", CM + "/x", {"metadata": {"labels": {"team": "b"}}},
                   ctype="application/merge-patch+json")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "x"))
        self.w.api("PATCH", CM + "/x", {"metadata": {"labels": {"team": "a"}}},
                   ctype="application/merge-patch+json")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["labels"]["team"]),
                         ("ADDED", "a"))
        conn.close()

    def test_timeout_seconds_ends_the_stream_cleanly(self):
        st, events, conn = self.w.watch(CM + "?watch=true&timeoutSeconds=1&resourceVersion=1")
        self.assertEqual(list(events), [])      # ends with the terminating chunk, no error
        conn.close()

    def test_drop_watches_fault_cuts_open_streams(self):
        _, _, lst = self.w.api("GET", CM)
        host, port = self.w.kube_url.split("://")[1].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"GET %s?watch=true&resourceVersion=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                  % (CM.encode(), lst["metadata"]["resourceVersion"].encode()))
        data = s.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"))
        self.w.ctl("POST", "/_sim/faults", {"drop_watches": 1})
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertFalse(data.endswith(b"0\r\n\r\n"), "cut without the final chunk")
        # A clean timeout, by contrast, ends with the terminating chunk.
        st, events, conn = self.w.watch(CM + "?watch=true&timeoutSeconds=1&resourceVersion=1")
        self.assertEqual(list(events), [])
        conn.close()

    def test_force_watch_expiry_fault(self):
        _, _, lst = self.w.api("GET", CM)
        self.w.ctl("POST", "/_sim/faults", {"force_watch_expiry": True})
        st, events, conn = self.w.watch(CM + "?watch=true&resourceVersion=%s"
                                        % lst["metadata"]["resourceVersion"])
        evs = list(events)
        self.assertEqual([(e["type"], e["object"]["code"]) for e in evs], [("ERROR", 410)])
        conn.close()
        st, events, conn = self.w.watch(CM + "?watch=true&timeoutSeconds=1&resourceVersion=%s"
                                        % lst["metadata"]["resourceVersion"])
        self.assertEqual(list(events), [], "only the next watch expires")
        conn.close()

    def test_stale_continue_token_gets_http_410(self):
        for i in range(4):
            self.mk("c%d" % i)
        _, _, page = self.w.api("GET", CM + "?limit=2")
        cont = page["metadata"]["continue"]
        for i in range(8):
            self.mk("d%d" % i)
        st, _, body = self.w.api("GET", CM + "?limit=2&continue=" + cont)
        self.assertEqual((st, body["reason"], body["code"]), (410, "Expired", 410))


if __name__ == "__main__":
    unittest.main()
