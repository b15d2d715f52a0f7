"""The WebSocket feed of a real frugald: order, replay with ?since=, and the
slow-consumer cut-off. Events come from the test-only publish endpoint
(FRUGAL_TEST_ENDPOINTS=1)."""
import base64
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from frugaltest import Frugald, WSClient, run_tests  # noqa: E402

CAP = 65536
# meson's test environment sets FRUGAL_BUILD_ROOT & co., which frugald
# rightly rejects as unknown configuration variables.
HARNESS_ENV = {k: None for k in os.environ if k.startswith("FRUGAL_") and not k.startswith("FRUGAL_TEST_")}


class Feed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"),
                        args=["--set", "server.ws_max_queued=%d" % CAP])

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        assert code == 0, "frugald exited with %s\n%s" % (code, cls.d.stderr())

    def publish(self, type_, count=1, data=None):
        st, body, _ = self.d.api("POST", "/api/_test/publish", {"type": type_, "count": count, "data": data or {}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["count"], count)
        return body["first_seq"], body["last_seq"]

    def ws(self, path="/api/feed"):
        c = WSClient(self.d.addr, path, headers={"Authorization": "Bearer " + self.d.token})
        self.assertEqual(c.status, 101)
        return c

    def recv_n(self, c, n, timeout=20):
        out = []
        deadline = time.time() + timeout
        while len(out) < n:
            left = deadline - time.time()
            self.assertGreater(left, 0, "got %d of %d events" % (len(out), n))
            m = c.recv_json(timeout=left)
            self.assertIsNotNone(m, "feed closed after %d of %d events" % (len(out), n))
            out.append(m)
        return out

    def assert_quiet(self, c, wait=0.3):
        with self.assertRaises(socket.timeout):
            c.recv(timeout=wait)

    def test_two_clients_same_events_in_order(self):
        a, b = self.ws(), self.ws()
        first, last = self.publish("test.order", 60, {"k": "v"})
        self.publish("test.order2", 1)
        ea, eb = self.recv_n(a, 61), self.recv_n(b, 61)
        self.assertEqual(ea, eb)
        self.assertEqual([e["seq"] for e in ea], list(range(first, last + 2)))
        self.assertEqual([e["data"]["i"] for e in ea[:60]], list(range(60)))
        self.assertTrue(all(e["type"] == "test.order" and e["data"]["k"] == "v" for e in ea[:60]))
        self.assertEqual(ea[60]["type"], "test.order2")
        self.assertTrue(ea[0]["ts"].endswith("Z"))
        self.assert_quiet(a)
        a.close()
        b.close()

    def test_reconnect_with_since_gets_exactly_the_missed(self):
        c = self.ws()
        _, seen = self.publish("test.before", 10)
        got = self.recv_n(c, 10)
        self.assertEqual(got[-1]["seq"], seen)
        c.close()
        first, last = self.publish("test.missed", 25)
        self.assertEqual(first, seen + 1)
        c = self.ws("/api/feed?since=%d" % seen)
        missed = self.recv_n(c, 25)
        self.assertEqual([e["seq"] for e in missed], list(range(seen + 1, last + 1)))
        self.assertTrue(all(e["type"] == "test.missed" for e in missed))
        self.assert_quiet(c)  # exactly the missed ones, nothing more
        # Live events follow the replay without a gap.
        self.publish("test.after", 3)
        after = self.recv_n(c, 3)
        self.assertEqual([e["seq"] for e in after], [last + 1, last + 2, last + 3])
        c.close()
        # The same events over plain HTTP.
        st, body, _ = self.d.api("GET", "/api/events?since=%d&limit=25" % seen)
        self.assertEqual(st, 200)
        self.assertEqual(body["events"], missed)
        self.assertGreaterEqual(body["last_seq"], last + 3)
        st, body, _ = self.d.api("GET", "/api/events?since=%d&type=test.after" % seen)
        self.assertEqual([e["seq"] for e in body["events"]], [last + 1, last + 2, last + 3])
        st, body, _ = self.d.api("GET", "/api/events?since=abc")
        self.assertEqual(st, 400)
        st, body, _ = self.d.api("GET", "/api/events?limit=0")
        self.assertEqual(st, 400)
        # the largest sequence number has nothing after it (no wrap-around to 1)
        st, body, _ = self.d.api("GET", "/api/events?since=18446744073709551615")
        self.assertEqual((st, body["events"]), (200, []))
        st, body, _ = self.d.api("GET", "/api/events?since=18446744073709551616")
        self.assertEqual(st, 400)
        st, body, _ = self.d.api("GET", "/api/feed?since=abc")
        self.assertEqual(st, 400)

    def test_long_replay_is_paced_not_cut(self):
        # Far more history than the byte cap: a reconnecting client catches up
        # at the pace its socket drains instead of being cut off as slow.
        pad = "x" * 150
        first, last = self.publish("test.history", 1500, {"pad": pad})
        c = self.ws("/api/feed?since=%d" % (first - 1))
        got = self.recv_n(c, 1500, timeout=60)
        self.assertEqual([e["seq"] for e in got], list(range(first, last + 1)))
        c.close()
        # A client of another store (since beyond anything committed) starts
        # from this store's history instead of waiting forever.
        c = self.ws("/api/feed?since=%d" % (last + 10 ** 9))
        m = c.recv_json(timeout=10)
        self.assertIsNotNone(m)
        self.assertLessEqual(m["seq"], first)
        c.close()

    def health_clients(self):
        st, body, _ = self.d.api("GET", "/api/health")
        self.assertEqual(st, 200)
        return body["feed"]["clients"]

    def test_slow_consumer_is_cut_off_others_keep_receiving(self):
        base = self.health_clients()
        # A client that never reads, with a small receive buffer.
        host, port = self.d.addr.rsplit(":", 1)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        slow.sendall(("GET /api/feed HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
                      % (self.d.addr, key, self.d.token)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += slow.recv(1)
        self.assertIn(b" 101 ", head.split(b"\r\n")[0])

        fast = self.ws()
        self.assertEqual(self.health_clients(), base + 2)
        received = []
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                try:
                    m = fast.recv_json(timeout=0.5)
                except socket.timeout:
                    continue
                if m is None:
                    return
                received.append(m)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        # Bursts well under the cap, so only the client that never reads
        # falls behind; stop once it has been cut off.
        pad = "y" * 1000
        published = []
        cut = False
        for _ in range(1500):
            first, last = self.publish("test.slow", 16, {"pad": pad})
            published.extend(range(first, last + 1))
            deadline = time.time() + 10
            while (not received or received[-1]["seq"] < last) and time.time() < deadline:
                time.sleep(0.002)
            self.assertEqual(received[-1]["seq"], last, "the fast client fell behind")
            if self.health_clients() == base + 1:
                cut = True
                break
        self.assertTrue(cut, "the slow client was never cut off")
        sent_bytes = len(published) * (len(pad) + 100)
        print("slow client cut off after %d events (~%d KB)" % (len(published), sent_bytes // 1024))
        # the reason is logged before the connection closes; the log is read
        # by a thread of the harness that may lag behind
        self.d.wait_event("feed.slow_consumer", timeout=10)
        # The fast client keeps receiving, every event, in order.
        first, last = self.publish("test.after_cut", 5)
        published.extend(range(first, last + 1))
        deadline = time.time() + 10
        while received[-1]["seq"] < last and time.time() < deadline:
            time.sleep(0.01)
        stop.set()
        t.join(5)
        self.assertEqual([e["seq"] for e in received], published)
        # The slow client finds its connection closed once it reads.
        slow.settimeout(10)
        closed = False
        try:
            while slow.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        self.assertTrue(closed)
        slow.close()
        fast.close()
        st, text, _ = self.d.api("GET", "/metrics")
        self.assertIn('frugal_feed_disconnects_total{reason="slow_consumer"} 1', text)


if __name__ == "__main__":
    run_tests()
