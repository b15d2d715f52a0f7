"""The frugal CLI against a server that answers badly, and with bad token
files: every case ends with exit status 1 and one clear line on stderr, never
a crash, never a silent success. A small in-process HTTP/WebSocket server
stands in for frugald (no frugal-sim)."""
import base64
import hashlib
import http.server
import json
import os
import stat
import subprocess
import tempfile
import threading
import unittest

import frugaltest as ft

TOKEN = "cli-malformed-token-0123456789"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers = {}  # path (without query) -> (status, content type, body bytes) or ("ws", frame bytes)

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.answer()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.answer()

    def answer(self):
        path = self.path.split("?", 1)[0]
        a = self.answers.get(path)
        if a and a[0] == "ws":
            return self.websocket(a[1])
        if a is None:
            a = (404, "application/json", b'{"error":"not_found","message":"no such path"}')
        st, ctype, body = a
        self.send_response(st)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self, payload):
        key = self.headers.get("Sec-WebSocket-Key", "")
        acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        n = len(payload)
        head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126, n >> 8, n & 0xFF])
        self.wfile.write(head + payload)
        self.wfile.flush()
        self.close_connection = True
        try:
            self.rfile.read(1)  # until the client goes
        except OSError:
            pass


class CliMalformed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.srv.daemon_threads = True
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = "http://127.0.0.1:%d" % cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        Handler.answers = {}
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def cli(self, *args, token=TOKEN, token_file=None, timeout=60):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRUGAL_")}
        env["FRUGAL_URL"] = self.url
        if token:
            env["FRUGAL_API_TOKEN"] = token
        if token_file:
            env["FRUGAL_TOKEN_FILE"] = token_file
        p = subprocess.run([ft.binary("frugal")] + list(args), capture_output=True, timeout=timeout, env=env)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def assertFails(self, rc, err, *want):
        self.assertEqual(rc, 1, "exit %d, stderr %r" % (rc, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "not one line: %r" % err[:2000])
        self.assertTrue(lines[0].startswith("frugal: "), lines[0])
        self.assertLess(len(lines[0]), 600, lines[0][:200])
        for w in want:
            self.assertIn(w, lines[0])

    def serve(self, path, status, body, ctype="application/json"):
        Handler.answers[path] = (status, ctype, body if isinstance(body, bytes) else body.encode())

    def test_health_answers(self):
        html = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\n<h1>502</h1>\n</body></html>\n"
        cases = [
            (200, b"this is not json", "not JSON"),
            (200, b'{"status": "ok", "version": "1.', "not JSON"),
            (200, b"", "empty answer"),
            (200, b"[1, 2, 3]", "not a JSON object"),
            (200, b'"ok"', "not JSON"),
            (200, html, "not JSON"),
            (200, b'{"status": 1, "version": "x"}', '"status" is of another type'),
            (200, b'{"version": "x"}', '"status" is missing'),
            (200, b"\xff\xfe\x00garbage", "not JSON"),
            (200, b'{"status": "' + b"x" * 3000000 + b'"', "not JSON"),
            (502, html, "HTTP 502: <html> <head><title>502 Bad Gateway"),
            (500, b"", "HTTP 500: (no body)"),
            (503, b'{"error": "x", "message": "line one\\nline two"}', "HTTP 503: line one line two"),
        ]
        for st, body, want in cases:
            with self.subTest(status=st, body=body[:60]):
                self.serve("/api/health", st, body)
                rc, out, err = self.cli("health")
                self.assertFails(rc, err, "/api/health", want)
                self.assertEqual(out, "")

    def test_wrong_typed_fields_per_command(self):
        cases = [
            ("/api/clusters", ["clusters"], b'{"clusters": {"a": 1}, "window_hours": 24}', '"clusters"'),
            ("/api/runs", ["runs"], b'{"runs": "none"}', '"runs"'),
            ("/api/runs/r-1", ["run", "r-1"], b'{"id": "r-1", "state": 7}', '"state"'),
            ("/api/audit", ["audit"], b'{"audit": null}', '"audit"'),
            ("/api/events", ["events"], b'{"events": 5, "last_seq": 1}', '"events"'),
            ("/api/agent/chat", ["chat", "hello"], b'{"reply": ["x"]}', '"reply"'),
            ("/api/agent/chat", ["optimize", "X"], b'{"reply": "ok", "run_id": 42}', '"run_id"'),
            ("/api/clusters/X/analysis", ["analyze", "X"], b'{"cluster": "X"}', '"node_types"'),
        ]
        for path, args, body, want in cases:
            with self.subTest(args=args):
                self.serve(path, 200, body)
                rc, out, err = self.cli(*args)
                self.assertFails(rc, err, want)
                rc, out, err = self.cli("--json", *args)
                self.assertFails(rc, err, want)
        # the same commands with well-formed answers succeed (the server is not the problem)
        self.serve("/api/runs", 200, b'{"runs": []}')
        rc, out, err = self.cli("runs")
        self.assertEqual(rc, 0, err)

    def test_feed_frame_that_is_not_json(self):
        for frame in (b"not json at all", b'{"seq": 1, "type": "run.st', b"[1,2]", b'{"seq": 2}'):
            with self.subTest(frame=frame):
                Handler.answers["/api/feed"] = ("ws", frame)
                rc, out, err = self.cli("events", "--follow", timeout=30)
                self.assertFails(rc, err, "lost the feed", "not a JSON event")
        # a well-formed event is printed (the test server is sound)
        Handler.answers["/api/feed"] = ("ws", b'{"seq": 3, "ts": "t", "type": "x.y", "data": {}}')
        p = subprocess.Popen([ft.binary("frugal"), "events", "--follow"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             env={"FRUGAL_URL": self.url, "FRUGAL_API_TOKEN": TOKEN, "PATH": os.environ["PATH"]})
        def stop():
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(stop)
        line = p.stdout.readline()
        self.assertEqual(json.loads(line)["type"], "x.y")

    def token_file(self, content, mode=0o600):
        path = os.path.join(self.tmp.name, "api-token")
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def test_token_files(self):
        self.serve("/api/health", 200, b'{"status": "ok", "version": "t", "uptime_s": 1, "aws": {}}')
        # a trailing newline (as frugald writes it) and surrounding blanks work
        for content in (TOKEN.encode() + b"\n", TOKEN.encode(), b"  " + TOKEN.encode() + b"\r\n\n"):
            rc, out, err = self.cli("health", token=None, token_file=self.token_file(content))
            self.assertEqual(rc, 0, err)
            self.assertIn("ok", out)
        cases = [
            (b"", "is empty"),
            (b" \n\t\r\n", "is empty"),
            (b"tok en\n", "more than one token"),
            (TOKEN.encode() + b"\nsecond-line\n", "more than one token"),
            (b"tok\x00en\n", "NUL"),
            (b"\xff\xfetoken\n", "more than one token"),
            (b"x" * 5000, "larger than 4096 bytes"),
            (b"x" * (4 << 20), "larger than 4096 bytes"),
        ]
        for content, want in cases:
            with self.subTest(content=content[:30]):
                rc, out, err = self.cli("health", token=None, token_file=self.token_file(content))
                self.assertFails(rc, err, "token file", want)
                self.assertNotIn("tok", err.replace("token", ""), "the token leaked into the message")
        missing = os.path.join(self.tmp.name, "nope")
        rc, out, err = self.cli("health", token=None, token_file=missing)
        self.assertFails(rc, err, "cannot read the token file", "No such file")
        rc, out, err = self.cli("health", token=None, token_file=self.tmp.name)  # a directory
        self.assertFails(rc, err, "token file")
        if os.geteuid() != 0:  # root reads any file
            path = self.token_file(TOKEN.encode() + b"\n", mode=0)
            rc, out, err = self.cli("health", token=None, token_file=path)
            self.assertFails(rc, err, "cannot read the token file", "Permission denied")


if __name__ == "__main__":
    ft.run_tests()
