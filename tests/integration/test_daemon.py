"""frugald as a process: health, signals (SIGTERM drain, SIGHUP reload),
configuration errors, --print-config, secrets kept out of logs, /metrics."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from frugaltest import SOURCE_ROOT, Frugald, binary, http_json, run_tests  # noqa: E402

# meson's test environment sets FRUGAL_BUILD_ROOT & co., which frugald
# rightly rejects as unknown configuration variables.
HARNESS_ENV = {k: None for k in os.environ if k.startswith("FRUGAL_") and not k.startswith("FRUGAL_TEST_")}
TOKEN = Frugald.TOKEN


def run_frugald(args, env=None, timeout=15):
    e = {k: v for k, v in os.environ.items() if k not in HARNESS_ENV}
    e.update(env or {})
    return subprocess.run([binary("frugald")] + args, capture_output=True, text=True, timeout=timeout, env=e)


class BadRequests(unittest.TestCase):
    """Every REST body and query parser answers malformed input with a 400
    (413 when too large) in the error JSON shape, and changes nothing."""

    @classmethod
    def setUpClass(cls):
        cls.d = Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"))

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.stderr()

    def state(self):
        runs = self.d.api("GET", "/api/runs")[1]
        audit = self.d.api("GET", "/api/audit")[1]
        last = self.d.api("GET", "/api/events?limit=1&since=18446744073709551614")[1]["last_seq"]
        return runs, audit, last

    def assertError(self, st, body, status=400, code=None, ctx=""):
        self.assertEqual(st, status, "%s: %r" % (ctx, body))
        self.assertIsInstance(body, dict, ctx)
        self.assertEqual(sorted(body), ["error", "message"], ctx)
        self.assertTrue(body["message"], ctx)
        if code:
            self.assertEqual(body["error"], code, ctx)

    def test_malformed_bodies(self):
        before = self.state()
        generic = [
            ("", "body_required"),
            ("not json", "malformed_json"),
            ('{"run_id": "r-1"', "malformed_json"),           # truncated
            ("[1, 2]", "malformed_json"),                      # not an object
            ('"r-1"', "malformed_json"),
            ('{"run_id": "a", "run_id": "b"}', "malformed_json"),
            (b'{"run_id": "\xff\xfe"}', "malformed_json"),   # invalid UTF-8
            ('{"run_id": "a\\u0000b"}', "malformed_json"),   # NUL
            (b'{"run_id": "a\x00b"}', "malformed_json"),
        ]
        specific = {
            "/api/agent/approve": [('{}', "bad_run_id"), ('{"run_id": 5}', "bad_run_id"),
                                   ('{"run_id": "' + "r" * 300 + '"}', "bad_run_id"),
                                   ('{"run_id": "../x"}', "bad_run_id"),
                                   ('{"run_id": "r-1", "steps": "all"}', "bad_steps")],
            "/api/agent/cancel": [('{}', "bad_run_id"), ('{"run_id": null}', "bad_run_id"),
                                  ('{"run_id": ["r-1"]}', "bad_run_id")],
            "/api/agent/chat": [('{}', "bad_message"), ('{"message": 3}', "bad_message"),
                                ('{"message": ""}', "bad_message"),
                                ('{"message": "' + "x" * 4001 + '"}', "bad_message"),
                                ('{"message": "hi", "conversation_id": "../etc"}', "bad_conversation")],
            "/api/session": [('{}', "token_required"), ('{"token": 1}', "token_required")],
            "/api/_test/publish": [('{"type": 1}', "bad_request")],
            "/api/_test/http": [('{"url": 5}', "bad_request")],
        }
        for path, extra in specific.items():
            for body, code in generic + extra:
                st, r, _ = self.d.api("POST", path, body)
                self.assertError(st, r, 400, code, "%s %r" % (path, body[:60]))
            # the JSON parser only runs for JSON
            st, r, _ = self.d.api("POST", path, "run_id=r-1", headers={"Content-Type": "text/plain"})
            self.assertError(st, r, 415, "unsupported_media_type", path)
        self.assertEqual(self.state(), before, "a refused request changed nothing")
        self.assertEqual(self.d.api("GET", "/api/health")[0], 200)

    def test_malformed_queries(self):
        before = self.state()
        cases = ["/api/runs?limit=abc", "/api/runs?limit=0", "/api/runs?limit=1001",
                 "/api/runs?limit=99999999999999999999999", "/api/runs?limit=-1",
                 "/api/audit?limit=x", "/api/audit?limit=0", "/api/audit?run=",
                 "/api/audit?run=" + "r" * 201,
                 "/api/events?since=abc", "/api/events?limit=0",
                 # broken %-escapes and %00 were dropped silently: the handler used its default
                 "/api/runs?limit=%zz", "/api/runs?limit=5%", "/api/runs?limit=5%00",
                 "/api/events?since=1%00&limit=1", "/api/audit?run=a%00limit%001",
                 "/api/clusters/x/analysis?cluster_id=j-1%00x",
                 "/api/clusters/x/analysis?cluster_id=" + "j" * 31,
                 "/api/clusters/x%20y/analysis", "/api/clusters/" + "n" * 300 + "/config"]
        for q in cases:
            st, r, _ = self.d.api("GET", q)
            self.assertError(st, r, 400, None, q)
        # an empty pair is not an error
        self.assertEqual(self.d.api("GET", "/api/runs?limit=2&&")[0], 200)
        self.assertEqual(self.state(), before)

    def test_oversized_body_is_413_and_the_daemon_goes_on(self):
        host, port = self.d.addr.rsplit(":", 1)
        n = 2 << 20  # http.max_body is 1 MiB
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(("POST /api/agent/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (TOKEN, n)).encode())
            try:
                s.sendall(b'{"message": "' + b"x" * (n - 15) + b'"}')
            except OSError:
                pass  # the server answers and closes before reading it all
            head = s.recv(200)
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head)
        st, r, _ = self.d.api("GET", "/api/health")
        self.assertEqual(st, 200)


class Health(unittest.TestCase):
    def test_health_and_clean_stop(self):
        d = Frugald(env=HARNESS_ENV)
        try:
            st, body, hdrs = d.api("GET", "/api/health")
            self.assertEqual(st, 200)
            self.assertEqual(body["status"], "ok")
            for k in ("version", "uptime_s", "store", "aws", "feed", "http_client", "listen"):
                self.assertIn(k, body)
            self.assertEqual(body["store"]["status"], "ok")
            self.assertEqual(body["listen"], d.addr)
            self.assertEqual(hdrs["cache-control"], "no-store")
            st, body, _ = d.api("GET", "/api/health", token=None)
            self.assertEqual(st, 401)
            st, body, _ = d.api("GET", "/api/health", token="wrong-token-0123456789abcdef")
            self.assertEqual(st, 401)
            self.assertEqual(d.api("GET", "/api/nope")[0], 404)
            self.assertEqual(d.api("POST", "/api/health", {})[0], 405)
        finally:
            code = d.stop()
        self.assertEqual(code, 0, d.stderr())
        stopped = d.log_events("stopped")
        self.assertEqual(len(stopped), 1)
        self.assertEqual(stopped[0]["loop_close"], 0)
        self.assertEqual(d.log_events("shutdown")[0]["reason"], "SIGTERM")

    def test_sigint_and_port_in_use(self):
        d = Frugald(env=HARNESS_ENV)
        # A second daemon on the same address fails to start, cleanly.
        r = run_frugald(["--listen", d.addr, "--state-dir", tempfile.mkdtemp(prefix="frugald-")],
                        env={"FRUGAL_API_TOKEN": TOKEN})
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot listen on", r.stderr)
        d.signal(signal.SIGINT)
        self.assertEqual(d.p.wait(15), 0)
        self.assertEqual(d.log_events("stopped")[0]["loop_close"], 0)

    def test_drain_with_a_call_in_flight(self):
        # A server that accepts and never answers keeps a call in flight;
        # SIGTERM waits for the drain timeout, then closes everything.
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        d = Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"), args=["--set", "server.drain_timeout=1s"])
        result = {}

        def call():
            result["r"] = d.api("POST", "/api/_test/http",
                                {"url": "http://127.0.0.1:%d/x" % port, "service": "hung", "max_retries": 0})

        t = threading.Thread(target=call, daemon=True)
        t.start()
        conn, _ = hung.accept()
        t0 = time.time()
        code = d.stop()
        took = time.time() - t0
        t.join(5)
        conn.close()
        hung.close()
        self.assertEqual(code, 0, d.stderr())
        self.assertGreaterEqual(took, 0.9)
        self.assertEqual(result["r"][0], 503)  # answered, not dropped
        self.assertEqual(d.log_events("stopped")[0]["loop_close"], 0)
        self.assertTrue(d.log_events("shutdown.drain_timeout"))


class Schema(unittest.TestCase):
    @unittest.skipUnless(shutil.which("mdb_load"), "mdb_load (lmdb-utils) not installed")
    def test_store_schema_mismatch_is_a_clear_error(self):
        d = Frugald(env=HARNESS_ENV)
        self.assertEqual(d.stop(), 0)
        db = os.path.join(d.state_dir, "db")
        r = subprocess.run(["mdb_load", "-T", "-s", "meta", db], input="schema_version\n999\n", text=True,
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_frugald(["--listen", "127.0.0.1:0", "--state-dir", d.state_dir], env={"FRUGAL_API_TOKEN": TOKEN})
        self.assertEqual(r.returncode, 1)
        self.assertIn('schema version "999"', r.stderr)
        self.assertIn(db, r.stderr)
        start_failed = [json.loads(line) for line in r.stdout.splitlines() if "start.failed" in line]
        self.assertEqual(start_failed[0]["code"], "ESCHEMA")


class Reload(unittest.TestCase):
    def test_sighup_reloads_log_level(self):
        cfg = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
        cfg.write("[log]\nlevel = info\n")
        cfg.close()
        d = Frugald(env=HARNESS_ENV, args=["--config", cfg.name])
        try:
            d.api("GET", "/api/health")
            self.assertFalse(d.log_events("http.request"))
            with open(cfg.name, "w") as f:
                f.write("[log]\nlevel = debug\n[server]\nsession_ttl = 1h\n")
            d.signal(signal.SIGHUP)
            ev = d.wait_event("reload", timeout=10)
            self.assertIn("log.level", ev["changed"])
            d.api("GET", "/api/health")
            d.wait_event("http.request", timeout=10)
            # new sessions get the reloaded lifetime
            st, _, hdrs = d.api("POST", "/api/session", {"token": d.token}, token=None)
            self.assertEqual(st, 200)
            self.assertIn("Max-Age=3600", hdrs["set-cookie"])
            # A broken file is reported and changes nothing.
            with open(cfg.name, "w") as f:
                f.write("[log]\nlevel = loud\n")
            d.signal(signal.SIGHUP)
            ev = d.wait_event("reload.failed", timeout=10)
            self.assertIn("log.level", ev["error"])
            self.assertEqual(d.api("GET", "/api/health")[0], 200)
            st, conf, _ = d.api("GET", "/api/config")
            self.assertEqual(conf["log"]["level"], "debug")
        finally:
            self.assertEqual(d.stop(), 0)
            os.unlink(cfg.name)


class BadConfig(unittest.TestCase):
    def check(self, args, env, *needles):
        r = run_frugald(args + ["--state-dir", tempfile.mkdtemp(prefix="frugald-")], env=env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertIn("configuration error", r.stderr)
        return r

    def test_unknown_key_in_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[server]\nlisten = 127.0.0.1:0\n\n[http]\ntimeuot = 5s\n")
        try:
            self.check(["--config", f.name], {}, f.name + ":5", "timeuot", "[http]")
        finally:
            os.unlink(f.name)

    def test_bad_values(self):
        self.check(["--set", "http.timeout=soon"], {}, "http.timeout", "soon")
        self.check(["--set", "http.max_per_host=0"], {}, "http.max_per_host")
        self.check(["--set", "log.level=loud"], {}, "log.level", "debug|info|warn|error")
        self.check(["--set", "nosuch.key=1"], {}, "nosuch.key")
        self.check(["--set", "retry.initial=10s", "--set", "retry.max=1s"], {}, "retry.max")
        self.check([], {"FRUGAL_HTTP_TIMEOUT": "forever"}, "FRUGAL_HTTP_TIMEOUT", "http.timeout")

    def test_unknown_environment_variable(self):
        self.check([], {"FRUGAL_HTTP_TIMEOT": "5s"}, "FRUGAL_HTTP_TIMEOT")

    def test_missing_config_file(self):
        self.check(["--config", "/nonexistent/frugal.ini"], {}, "/nonexistent/frugal.ini")

    def test_check_and_print_config_redact_the_token(self):
        secret = "super-secret-token-value-0123456789"
        r = run_frugald(["--check-config"], env={"FRUGAL_API_TOKEN": secret})
        self.assertEqual(r.returncode, 0)
        r = run_frugald(["--print-config", "--set", "llm.api_key=sk-another-secret-value"],
                        env={"FRUGAL_API_TOKEN": secret})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(secret, r.stdout + r.stderr)
        self.assertNotIn("sk-another-secret-value", r.stdout + r.stderr)
        conf = json.loads(r.stdout)
        self.assertEqual(conf["server"]["api_token"], "[REDACTED]")
        self.assertEqual(conf["llm"]["api_key"], "[REDACTED]")
        # A short token is refused at start without echoing it.
        r = run_frugald(["--listen", "127.0.0.1:0", "--state-dir", tempfile.mkdtemp(prefix="frugald-")],
                        env={"FRUGAL_API_TOKEN": "short-secret"})
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("short-secret", r.stdout + r.stderr)


class Secrets(unittest.TestCase):
    def test_token_never_logged_even_at_debug(self):
        d = Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"), args=["--log-level", "debug"])
        try:
            t = d.token
            d.api("GET", "/api/health")
            d.api("GET", "/api/health?token=" + t)
            d.api("GET", "/api/" + t)
            d.api("GET", "/api/health", token=t + "x")
            d.api("GET", "/api/health", headers={"X-Api-Key": t})
            d.api("POST", "/api/session", {"token": t}, token=None)
            d.api("POST", "/api/session", {"token": t[:-2]}, token=None)
            d.api("POST", "/api/_test/publish", {"type": "echo", "data": {"note": "token " + t, "api_token": t}})
            d.api("POST", "/api/_test/http", {"url": "http://%s/api/health?k=%s" % (d.addr, t), "service": "self",
                                              "max_retries": 0})
            d.wait_event("http.request", timeout=5)
        finally:
            self.assertEqual(d.stop(), 0)
        out = "\n".join(d.lines) + "\n" + d.stderr()
        self.assertGreater(len(d.log_events("http.request")), 3)  # debug lines were written
        self.assertNotIn(t, out)
        self.assertIn("[REDACTED]", out)


class Metrics(unittest.TestCase):
    def test_prometheus_families(self):
        d = Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"))
        try:
            # One outgoing call so the client's per-service series exist
            # (our own health endpoint without a token: a 401, not retried).
            st, res, _ = d.api("POST", "/api/_test/http",
                               {"url": "http://%s/api/health" % d.addr, "service": "probe", "max_retries": 2})
            self.assertEqual(st, 200)
            self.assertEqual(res["status"], 401)
            self.assertEqual(res["err"], "EHTTP")
            self.assertEqual(res["attempts"], 1)
            deadline = time.time() + 10
            text = ""
            while time.time() < deadline:
                st, text, _ = d.api("GET", "/metrics")
                if "frugal_loop_lag_ms" in text:
                    break
                time.sleep(0.2)
            # read-only: another method is refused, with the allowed ones
            st, body, hdrs = d.api("POST", "/metrics", {})
            self.assertEqual(st, 405)
            self.assertEqual(hdrs.get("allow"), "GET, HEAD")
        finally:
            self.assertEqual(d.stop(), 0)
        families = {}
        for line in text.splitlines():
            m = re.match(r"# TYPE (\S+) (counter|gauge)$", line)
            if m:
                families[m.group(1)] = m.group(2)
                continue
            if line.startswith("#") or not line:
                continue
            m = re.match(r"([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN)$", line)
            self.assertIsNotNone(m, "not Prometheus text: %r" % line)
            self.assertIn(m.group(1), families, "sample before its # TYPE: %r" % line)
        for fam in ("frugal_loop_lag_ms", "frugal_http_requests_total", "frugal_http_in_flight",
                    "frugal_http_errors_total", "frugal_http_client_sockets", "frugal_http_client_queued",
                    "frugal_feed_clients", "frugal_store_map_bytes", "frugal_store_used_bytes",
                    "frugal_http_server_connections", "frugal_uptime_seconds"):
            self.assertIn(fam, families, fam)
        self.assertIn('frugal_http_requests_total{service="probe"} 1', text)
        self.assertIn('frugal_http_in_flight{service="probe"} 0', text)
        self.assertEqual(families["frugal_http_requests_total"], "counter")
        self.assertEqual(families["frugal_loop_lag_ms"], "gauge")


class Deploy(unittest.TestCase):
    """What deploy/ installs: the systemd unit passes systemd-analyze verify
    (with the paths pointing at this build), and the example configuration
    passes frugald --check-config."""

    def render_unit(self, d, sbindir):
        with open(os.path.join(SOURCE_ROOT, "deploy", "frugald.service.in")) as f:
            text = f.read().replace("@SBINDIR@", sbindir).replace("@DOCDIR@", os.path.join(SOURCE_ROOT, "docs"))
        self.assertNotRegex(text, r"@[A-Z]+@")
        path = os.path.join(d, "frugald.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    def verify(self, path):
        return subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed (deploy/setup.sh installs it)")
    def test_unit_verifies(self):
        with tempfile.TemporaryDirectory() as d:
            unit = self.render_unit(d, os.path.dirname(binary("frugald")))
            p = self.verify(unit)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn("frugald.service", p.stderr, p.stderr)  # no warning about our unit
            # the check is real: a unit naming a missing binary fails
            bad = self.render_unit(d, "/nonexistent")
            p = self.verify(bad)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("not executable", p.stderr)

    def test_example_config_checks(self):
        with tempfile.TemporaryDirectory() as d:
            p = run_frugald(["--check-config", "--state-dir", d],
                            env={"FRUGAL_CONFIG": os.path.join(SOURCE_ROOT, "deploy", "frugal.ini.example")})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("configuration OK", p.stdout + p.stderr)


if __name__ == "__main__":
    run_tests()
