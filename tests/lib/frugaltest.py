"""Helpers shared by frugal's Python integration and e2e tests.

Processes are started with port 0 and report the address they bound in
their JSON "ready" log line, so tests run in parallel without port clashes.
Only the standard library (plus boto3/moto where a test needs them) is used.
"""
import base64
import http.client
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

SOURCE_ROOT = os.environ.get("FRUGAL_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("FRUGAL_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
SHARED_DATA = os.environ.get("FRUGAL_SHARED_DATA") or os.path.abspath(
    os.path.join(SOURCE_ROOT, "..", "shared", "data"))


BINARIES = {"frugald": "src/frugald", "frugal": "src/cli/frugal", "frugal-sim": "src/sim/frugal-sim"}


def binary(name):
    """Path of a built program (frugald, frugal, frugal-sim)."""
    return os.path.join(BUILD_ROOT, BINARIES.get(name, "src/" + name))


class Proc:
    """A child process whose stdout is JSON lines; waits for "ready"."""

    def __init__(self, argv, env=None, ready_event="ready", timeout=20, cwd=None, name=None):
        self.argv = list(argv)
        self.name = name or os.path.basename(argv[0])
        full_env = dict(os.environ)
        # meson's test environment names our paths with FRUGAL_* variables;
        # frugald rejects unknown FRUGAL_* names (typos must not pass), so
        # children do not inherit them.
        for k in ("FRUGAL_BUILD_ROOT", "FRUGAL_SOURCE_ROOT", "FRUGAL_SHARED_DATA"):
            full_env.pop(k, None)
        if env:
            full_env.update({k: v for k, v in env.items() if v is not None})
            for k, v in env.items():
                if v is None:
                    full_env.pop(k, None)
        self.lines = []
        self.events = queue.Queue()
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
                                  cwd=cwd, start_new_session=True)
        self._stderr = []
        self._pumps = [threading.Thread(target=self._pump, args=(self.p.stdout, self.lines, True), daemon=True),
                       threading.Thread(target=self._pump, args=(self.p.stderr, self._stderr, False), daemon=True)]
        for t in self._pumps:
            t.start()
        self.ready = self.wait_event(ready_event, timeout) if ready_event else None

    def _pump(self, stream, sink, parse):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if parse:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    self.events.put(obj)
        stream.close()

    def _drain(self):
        """Once the process has exited, waits until its output is all read
        (the pipes are read by threads that may lag behind the exit)."""
        if self.p.poll() is not None:
            for t in self._pumps:
                t.join(5)

    def wait_event(self, event, timeout=20, pred=None):
        """Waits for a log line with this "event" (and pred(obj) true)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                self._drain()
            if self.p.poll() is not None and self.events.empty():
                raise RuntimeError("%s exited with %s before %r\nstdout:\n%s\nstderr:\n%s" % (
                    self.name, self.p.returncode, event, "\n".join(self.lines[-40:]), "\n".join(self._stderr[-40:])))
            try:
                obj = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if obj.get("event") == event and (pred is None or pred(obj)):
                return obj
        raise TimeoutError("%s: no %r within %ss\nstdout:\n%s\nstderr:\n%s" % (
            self.name, event, timeout, "\n".join(self.lines[-40:]), "\n".join(self._stderr[-40:])))

    def log_events(self, event=None):
        self._drain()
        out = []
        for line in list(self.lines):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if event is None or obj.get("event") == event:
                out.append(obj)
        return out

    def stderr(self):
        self._drain()
        return "\n".join(self._stderr)

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill(self):
        """SIGKILL, no chance to clean up."""
        if self.p.poll() is None:
            self.p.kill()
        return self.p.wait(10)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
                raise
        return self.p.returncode


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Frugald(Proc):
    """frugald with a private state directory and a known API token."""

    TOKEN = "test-token-0123456789abcdef0123456789"

    def __init__(self, state_dir=None, args=(), env=None, token=TOKEN, timeout=20):
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="frugald-")
        e = {"FRUGAL_API_TOKEN": token} if token else {}
        e.update(env or {})
        super().__init__([binary("frugald"), "--listen", "127.0.0.1:0", "--state-dir", self.state_dir] + list(args),
                         env=e, timeout=timeout, name="frugald")
        self.addr = self.ready["listen"]
        self.base = "http://" + self.addr
        self.token = token or open(os.path.join(self.state_dir, "api-token")).read().strip()

    def api(self, method, path, body=None, token=True, headers=None, raw=False, timeout=30):
        return http_json(self.addr, method, path, body, self.token if token is True else token, headers, raw,
                         timeout=timeout)


def http_json(addr, method, path, body=None, token=None, headers=None, raw=False, timeout=30):
    """One HTTP request; returns (status, parsed JSON or text, headers)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    h = {"Accept": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    if raw:
        return r.status, payload, hdrs
    text = payload.decode("utf-8", "replace")
    try:
        return r.status, json.loads(text), hdrs
    except ValueError:
        return r.status, text, hdrs


class WSClient:
    """A minimal RFC 6455 client (text frames, client masking, ping/close)."""

    def __init__(self, addr, path, headers=None, timeout=10, connect=True):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s" % addr, "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode()
        self.status = int(status_line.split()[1])
        self.closed = False

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=10):
        """Next text message (str); None when the server closed."""
        self.sock.settimeout(timeout)
        while True:
            try:
                b1, b2 = self._recv_exact(2)
            except ConnectionError:
                self.closed = True
                return None
            op = b1 & 0x0F
            ln = b2 & 0x7F
            if ln == 126:
                ln = struct.unpack("!H", self._recv_exact(2))[0]
            elif ln == 127:
                ln = struct.unpack("!Q", self._recv_exact(8))[0]
            payload = self._recv_exact(ln)
            if op == 0x8:
                self.closed = True
                return None
            if op == 0x9:
                self._send(0xA, payload)
                continue
            if op in (0x1, 0x2):
                return payload.decode("utf-8")

    def recv_json(self, timeout=10):
        m = self.recv(timeout)
        return None if m is None else json.loads(m)

    def _send(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | op, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send_text(self, s):
        self._send(0x1, s.encode())

    def close(self):
        try:
            self._send(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Moto:
    """python3 -m moto.server on a free port, optionally with IAM auth."""

    def __init__(self, iam=False, timeout=30):
        self.port = free_port()
        env = dict(os.environ)
        if iam:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        self.p = subprocess.Popen(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                  start_new_session=True)
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("moto did not start")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()


def run_tests():
    """unittest main with a closing line CI can read."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    passed = r.testsRun - failed - len(r.skipped)
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(r.skipped)))
    raise SystemExit(0 if failed == 0 else 1)
