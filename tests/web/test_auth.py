"""Authentication of a real frugald: the bearer token on every /api/ route,
the feed and /metrics; the generated token file; the dashboard session
(cookie + CSRF + Origin checks)."""
import os
import re
import stat
import tempfile
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from frugaltest import Frugald, WSClient, http_json, run_tests  # noqa: E402

# meson's test environment sets FRUGAL_BUILD_ROOT & co., which frugald
# rightly rejects as unknown configuration variables.
HARNESS_ENV = {k: None for k in os.environ if k.startswith("FRUGAL_") and not k.startswith("FRUGAL_TEST_")}
ENV = dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1")


def read(path):
    with open(path) as f:
        return f.read()


def concrete(pattern):
    return re.sub(r"\{[^}]+\}", "x", pattern)


class GeneratedToken(unittest.TestCase):
    """No token configured: one is generated into the state directory."""

    @classmethod
    def setUpClass(cls):
        cls.d = Frugald(token=None, env=ENV)

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def test_token_file_is_private(self):
        path = os.path.join(self.d.state_dir, "api-token")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.d.state_dir).st_mode) & 0o077, 0)
        token = read(path).strip()
        self.assertGreaterEqual(len(token), 32)
        self.assertEqual(self.d.api("GET", "/api/health")[0], 200)
        # Never printed to a non-terminal, never logged.
        self.assertNotIn(token, "\n".join(self.d.lines))
        self.assertNotIn(token, self.d.stderr())
        self.assertTrue(any(o.get("event") == "api_token.generated" for o in self.d.log_events()))

    def test_token_file_kept_across_restarts(self):
        path = os.path.join(self.d.state_dir, "api-token")
        before = read(path)
        other = Frugald(state_dir=self.d.state_dir, token=None, env=ENV)
        try:
            self.assertEqual(read(path), before)
            self.assertFalse(any(o.get("event") == "api_token.generated" for o in other.log_events()))
        finally:
            self.assertEqual(other.stop(), 0)


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Frugald(env=ENV)
        st, body, _ = cls.d.api("GET", "/api/_test/routes")
        assert st == 200, body
        cls.routes = body["routes"]

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def req(self, method, path, body=None, token=None, headers=None):
        return http_json(self.d.addr, method, path, body, token, headers)

    def test_every_api_route_needs_the_token(self):
        protected = [r for r in self.routes if not r["public"]]
        public = [r["method"] + " " + r["pattern"] for r in self.routes if r["public"]]
        print("%d protected routes; public: %s" % (len(protected), ", ".join(public)))
        self.assertEqual(public, ["POST /api/session"])
        for want in ("/api/health", "/api/feed", "/api/events", "/api/config", "/api/audit", "/api/session"):
            self.assertIn(want, [r["pattern"] for r in protected])
        bad = ["Bearer wrong-token-0123456789abcdef", "Bearer " + self.d.token[:-1],
               "Bearer " + self.d.token + "x", "Basic " + self.d.token, self.d.token, "Bearer"]
        for r in protected:
            path = concrete(r["pattern"])
            body = {} if r["method"] in ("POST", "PUT", "PATCH") else None
            st, resp, hdrs = self.req(r["method"], path, body)
            self.assertEqual(st, 401, "%s %s without a token: %s" % (r["method"], path, resp))
            self.assertEqual(resp["error"], "unauthorized")
            self.assertIn("bearer", hdrs.get("www-authenticate", "").lower())
            for b in bad:
                st, resp, _ = self.req(r["method"], path, body, headers={"Authorization": b})
                self.assertEqual(st, 401, "%s %s with %r: %s" % (r["method"], path, b, resp))
        st, _, _ = self.req("GET", "/api/health", token=self.d.token)
        self.assertEqual(st, 200)

    def test_metrics_needs_the_token(self):
        self.assertEqual(self.req("GET", "/metrics")[0], 401)
        self.assertEqual(self.req("GET", "/metrics", token="wrong-token-0123456789abcdef")[0], 401)
        st, text, hdrs = self.req("GET", "/metrics", token=self.d.token)
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"))
        self.assertIn("# TYPE", text)

    def test_feed_needs_the_token(self):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"}):
            c = WSClient(self.d.addr, "/api/feed", headers=headers)
            self.assertEqual(c.status, 401)
            c.sock.close()
        c = WSClient(self.d.addr, "/api/feed", headers={"Authorization": "Bearer " + self.d.token})
        self.assertEqual(c.status, 101)
        c.close()

    def test_dashboard_is_public(self):
        st, _, hdrs = self.req("GET", "/")
        self.assertIn(st, (200, 404))  # 404 only when no dashboard files exist

    def login(self, headers=None):
        st, body, hdrs = self.req("POST", "/api/session", {"token": self.d.token}, headers=headers)
        self.assertEqual(st, 200, body)
        cookie = hdrs["set-cookie"]
        value = re.match(r"frugal_session=([^;]+)", cookie).group(1)
        return value, body, cookie

    def test_session_login_flow(self):
        # Wrong or missing token.
        st, body, hdrs = self.req("POST", "/api/session", {"token": "wrong-token-0123456789abcdef"})
        self.assertEqual(st, 401)
        self.assertNotIn("set-cookie", hdrs)
        self.assertEqual(self.req("POST", "/api/session", {"tok": 1})[0], 400)
        self.assertEqual(self.req("POST", "/api/session", "not json")[0], 400)
        # A login from another site is refused.
        st, body, hdrs = self.req("POST", "/api/session", {"token": self.d.token},
                                  headers={"Origin": "http://evil.example"})
        self.assertEqual(st, 403)
        self.assertNotIn("set-cookie", hdrs)

        value, body, cookie = self.login(headers={"Origin": "http://" + self.d.addr})
        attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        self.assertIn("path=/", attrs)
        self.assertIn("max-age=43200", attrs)  # server.session_ttl default 12h
        self.assertRegex(body["csrf"], r"^[0-9a-f]{32}$")
        self.assertRegex(body["expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(body["principal"].startswith("session:"))
        self.assertNotIn(self.d.token, value)
        csrf = body["csrf"]
        jar = {"Cookie": "frugal_session=" + value}

        # Reads work with the cookie alone.
        st, who, _ = self.req("GET", "/api/session", headers=jar)
        self.assertEqual(st, 200)
        self.assertEqual(who["principal"], body["principal"])
        self.assertEqual(who["csrf"], csrf)
        self.assertEqual(who["expires"], body["expires"])
        self.assertEqual(self.req("GET", "/api/health", headers=jar)[0], 200)
        self.assertEqual(self.req("GET", "/metrics", headers=jar)[0], 200)
        st, who, _ = self.req("GET", "/api/session", token=self.d.token)
        self.assertEqual(who, {"principal": "api-token"})

        # Unsafe methods need the CSRF header...
        pub = {"type": "test.csrf", "count": 1}
        st, resp, _ = self.req("POST", "/api/_test/publish", pub, headers=jar)
        self.assertEqual(st, 403)
        self.assertEqual(resp["error"], "csrf")
        st, resp, _ = self.req("POST", "/api/_test/publish", pub, headers=dict(jar, **{"X-CSRF-Token": "0" * 32}))
        self.assertEqual(st, 403)
        st, resp, _ = self.req("POST", "/api/_test/publish", pub, headers=dict(jar, **{"X-CSRF-Token": csrf}))
        self.assertEqual(st, 200, resp)
        # ...and a same-origin Origin when one is sent.
        st, resp, _ = self.req("POST", "/api/_test/publish", pub,
                               headers=dict(jar, **{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}))
        self.assertEqual(st, 403)
        self.assertEqual(resp["error"], "cross_origin")
        st, resp, _ = self.req("POST", "/api/_test/publish", pub,
                               headers=dict(jar, **{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}))
        self.assertEqual(st, 403)
        st, resp, _ = self.req("POST", "/api/_test/publish", pub,
                               headers=dict(jar, **{"X-CSRF-Token": csrf, "Origin": "http://" + self.d.addr}))
        self.assertEqual(st, 200)
        # Cross-origin reads with the cookie are refused as well.
        self.assertEqual(self.req("GET", "/api/health", headers=dict(jar, Origin="http://evil.example"))[0], 403)

        # WebSocket: cookie + foreign Origin is refused (cross-site WebSocket hijacking).
        c = WSClient(self.d.addr, "/api/feed", headers=dict(jar, Origin="http://evil.example"))
        self.assertEqual(c.status, 403)
        c.sock.close()
        c = WSClient(self.d.addr, "/api/feed", headers=dict(jar, Origin="http://" + self.d.addr))
        self.assertEqual(c.status, 101)
        c.close()

        # A tampered or foreign cookie is no session; an explicit bad bearer wins over a good cookie.
        tampered = value[:-1] + ("0" if value[-1] != "0" else "1")
        self.assertEqual(self.req("GET", "/api/health", headers={"Cookie": "frugal_session=" + tampered})[0], 401)
        self.assertEqual(self.req("GET", "/api/health", headers=dict(jar, Authorization="Bearer nope"))[0], 401)

        # Logout clears the cookie and revokes the session: a copy of the
        # cookie is refused afterwards; another session is not affected.
        other, _, _ = self.login()
        st, resp, hdrs = self.req("DELETE", "/api/session", headers=jar)
        self.assertEqual(st, 403)  # needs CSRF like any unsafe method
        st, resp, hdrs = self.req("DELETE", "/api/session", headers=dict(jar, **{"X-CSRF-Token": csrf}))
        self.assertEqual(st, 200)
        self.assertRegex(hdrs["set-cookie"], r"^frugal_session=;.*Max-Age=0")
        self.assertEqual(self.req("GET", "/api/health", headers=jar)[0], 401)
        self.assertEqual(self.req("GET", "/api/session", headers=jar)[0], 401)
        self.assertEqual(self.req("GET", "/api/health", headers={"Cookie": "frugal_session=" + other})[0], 200)

        # Neither the token nor the cookie appear in any log line.
        logs = "\n".join(self.d.lines) + self.d.stderr()
        self.assertNotIn(self.d.token, logs)
        self.assertNotIn(value, logs)


class LogoutSurvivesRestart(unittest.TestCase):
    def test_revoked_session_stays_revoked(self):
        state = tempfile.mkdtemp(prefix="frugald-")
        d = Frugald(state_dir=state, env=ENV)
        self.addCleanup(lambda: d.stop())
        st, body, hdrs = http_json(d.addr, "POST", "/api/session", {"token": d.token})
        self.assertEqual(st, 200, body)
        jar = {"Cookie": re.match(r"(frugal_session=[^;]+)", hdrs["set-cookie"]).group(1)}
        st, body2, hdrs2 = http_json(d.addr, "POST", "/api/session", {"token": d.token})
        kept = {"Cookie": re.match(r"(frugal_session=[^;]+)", hdrs2["set-cookie"]).group(1)}
        st, _, _ = http_json(d.addr, "DELETE", "/api/session", headers=dict(jar, **{"X-CSRF-Token": body["csrf"]}))
        self.assertEqual(st, 200)
        self.assertEqual(d.stop(), 0)
        d = Frugald(state_dir=state, env=ENV)
        self.assertEqual(http_json(d.addr, "GET", "/api/health", headers=jar)[0], 401)
        self.assertEqual(http_json(d.addr, "GET", "/api/health", headers=kept)[0], 200)


if __name__ == "__main__":
    run_tests()
