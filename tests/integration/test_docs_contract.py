"""docs/ is the contract: this test fails when docs/api.md (and the
operations guide) and the code disagree on the REST routes, the audit
events, the feed event types, the metrics, the API error codes, the CLI
commands and the log events operators are told to alert on.

Each check compares two sets both ways and prints what is missing on which
side, with the file:line of every name found in the sources. The sources
(src/**/*.c, frugal-sim's src/sim/ excluded: it has its own docs/sim.md) are
read with a small C scanner that strips comments, follows calls over
several lines and resolves an argument that is a call of a local function
returning string literals (code_of() in src/emr/api.c). An argument it
cannot resolve is a failure, not a silent skip. Where a running daemon can
answer, it is asked too: the route table, the router's answer for every
documented route, and the series /metrics shows."""
import glob
import http.server
import os
import re
import subprocess
import threading
import time
import unittest

import frugaltest as ft

SRC = os.path.join(ft.SOURCE_ROOT, "src")
DOCS = os.path.join(ft.SOURCE_ROOT, "docs")
API_MD = os.path.join(DOCS, "api.md")
OPS_MD = os.path.join(DOCS, "operations.md")

# meson's test environment sets FRUGAL_BUILD_ROOT & co., which frugald
# rejects as unknown configuration variables.
HARNESS_ENV = {k: None for k in os.environ if k.startswith("FRUGAL_") and not k.startswith("FRUGAL_TEST_")}

# Calls whose argument is not a literal on purpose: (function, file) -> why.
DYNAMIC_OK = {
    ("fr_feed_publish", "src/daemon/testhooks.c"): "the test hook publishes whatever type the test asks for",
}


# ---------------------------------------------------------------- C scanner

def strip_comments(text):
    """Comments become spaces (newlines kept, so offsets and lines stay);
    string and character literals are left alone."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


LITERAL_RE = re.compile(r'^(?:"(?:[^"\\\n]|\\.)*"\s*)+$')
STRING_RE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
KEYWORDS = {"return", "else", "do", "case", "goto", "sizeof"}


def literal_value(arg):
    """The value of a C string literal (adjacent literals joined), or None."""
    arg = arg.strip()
    if not LITERAL_RE.match(arg):
        return None
    return "".join(m.group(1) for m in STRING_RE.finditer(arg)).replace('\\"', '"').replace("\\\\", "\\")


def split_args(text, open_paren):
    """Arguments of the call whose '(' is at open_paren: [(text, offset)]."""
    args, depth, i, start = [], 0, open_paren, open_paren + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((text[start:i], start))
                return args
        elif c == "," and depth == 1:
            args.append((text[start:i], start))
            start = i + 1
        i += 1
    raise ValueError("unbalanced call at offset %d" % open_paren)


FUNC_DEF_RE = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*)\)\s*\{", re.M)


class CFile:
    def __init__(self, path, rel=None, text=None):
        self.path = path
        self.rel = rel or os.path.relpath(path, ft.SOURCE_ROOT)
        if text is None:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        self.text = strip_comments(text)
        self._funcs = None

    def line(self, offset):
        return self.text.count("\n", 0, offset) + 1

    def where(self, offset):
        return "%s:%d" % (self.rel, self.line(offset))

    def functions(self):
        """{name: (start, end, [parameter names])} of the definitions."""
        if self._funcs is None:
            self._funcs = {}
            for m in FUNC_DEF_RE.finditer(self.text):
                name = m.group(1)
                if name in KEYWORDS or name in ("if", "for", "while", "switch"):
                    continue
                depth, i = 0, m.end() - 1
                while i < len(self.text):
                    if self.text[i] == "{":
                        depth += 1
                    elif self.text[i] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
                params = [re.findall(r"(\w+)\s*(?:\[[^\]]*\])?\s*$", p.strip()) for p in m.group(2).split(",")]
                self._funcs[name] = (m.start(), i, [p[0] for p in params if p])
        return self._funcs

    def enclosing(self, offset):
        for name, (s, e, params) in self.functions().items():
            if s <= offset <= e:
                return name, params
        return None, []

    def returned_literals(self, func):
        s, e, _ = self.functions()[func]
        return [literal_value(m.group(1)) for m in re.finditer(r"\breturn\s+(\"[^;]*\")\s*;", self.text[s:e])]

    def calls(self, name):
        """Every call of name (definitions, prototypes and macros skipped):
        [(args, offset of the name)]."""
        out = []
        for m in re.finditer(r"\b%s\s*\(" % re.escape(name), self.text):
            bol = self.text.rfind("\n", 0, m.start()) + 1
            before = self.text[bol:m.start()]
            if before.lstrip().startswith("#"):
                continue
            words = before.split()
            if re.fullmatch(r"[\w\s\*]*", before) and words and words[-1].strip("*") not in KEYWORDS:
                continue  # "int name(" / "static void name(": a definition or prototype
            out.append((split_args(self.text, m.end() - 1), m.start()))
        return out


class Found:
    """Names found in the sources, each with where it was found."""

    def __init__(self):
        self.where = {}
        self.unresolved = []

    def add(self, name, where):
        self.where.setdefault(name, []).append(where)

    def names(self):
        return set(self.where)


def source_files():
    files = []
    for p in sorted(glob.glob(os.path.join(SRC, "**", "*.c"), recursive=True)):
        if os.path.relpath(p, SRC).split(os.sep)[0] == "sim":
            continue
        files.append(CFile(p))
    return files


def scan(files, funcs, index):
    """The string argument number index of every call of each function in
    funcs, resolved to its possible values."""
    found = Found()
    for cf in files:
        for fn in funcs:
            for args, off in cf.calls(fn):
                if index >= len(args):
                    found.unresolved.append("%s: %s() has no argument %d" % (cf.where(off), fn, index))
                    continue
                arg, aoff = args[index]
                v = literal_value(arg)
                if v is not None:
                    found.add(v, cf.where(aoff + len(arg) - len(arg.lstrip())))
                    continue
                arg = arg.strip()
                call = re.match(r"^(\w+)\s*\(", arg)
                encl, params = cf.enclosing(off)
                if call and call.group(1) in cf.functions():
                    lits = cf.returned_literals(call.group(1))
                    if lits and None not in lits:
                        for lit in lits:
                            found.add(lit, "%s (%s())" % (cf.where(off), call.group(1)))
                        continue
                if re.fullmatch(r"\w+", arg) and encl in funcs and arg in params:
                    continue  # a wrapper forwarding its own parameter
                if (fn, cf.rel) in DYNAMIC_OK:
                    continue
                found.unresolved.append("%s: %s(... %s ...) is not a string literal" % (cf.where(off), fn, arg))
    return found


# ---------------------------------------------------------------- docs

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(md, heading):
    """The text under a heading (any level) up to the next heading of the
    same or a higher level."""
    m = re.search(r"^(#+) %s[ \t]*$" % re.escape(heading), md, re.M)
    if not m:
        raise AssertionError("no heading %r" % heading)
    level = len(m.group(1))
    nxt = re.compile(r"^#{1,%d} " % level, re.M).search(md, m.end())
    return md[m.end():nxt.start() if nxt else len(md)]


def tables(text):
    """Markdown tables: [(header cells, [row cells])]."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cur is None:
                cur = (cells, [])
                out.append(cur)
            elif not all(re.fullmatch(r":?-+:?", c) for c in cells):
                cur[1].append(cells)
        else:
            cur = None
    return out


def table_with(text, first_header):
    for head, rows in tables(text):
        if head and head[0] == first_header:
            return rows
    raise AssertionError("no table whose first column is %r" % first_header)


def ticked(cell):
    return re.findall(r"`([^`]+)`", cell)


def diff_report(what, code, docs, code_side, docs_side):
    """A message listing both differences, or "" when there are none.
    code and docs are Found-like dicts name -> [where]."""
    lines = []
    only_code = sorted(set(code) - set(docs))
    only_docs = sorted(set(docs) - set(code))
    if only_code:
        lines.append("%s in %s but not in %s:" % (what, code_side, docs_side))
        lines += ["  %-40s %s" % (n, ", ".join(code[n])) for n in only_code]
    if only_docs:
        lines.append("%s in %s but not in %s:" % (what, docs_side, code_side))
        lines += ["  %-40s %s" % (n, ", ".join(docs[n])) for n in only_docs]
    return "\n".join(lines)


def doc_names(names, where):
    out = {}
    for n in names:
        out.setdefault(n, []).append(where)
    return out


class Base(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.files = source_files()
        cls.api = read(API_MD)

    def check(self, what, code, docs, code_side, docs_side):
        msg = diff_report(what, code, docs, code_side, docs_side)
        print("%s: %d in %s, %d in %s%s" % (what, len(code), code_side, len(docs), docs_side,
                                             "" if not msg else "\n" + msg))
        if msg:
            self.fail("\n" + msg)

    def no_unresolved(self, found):
        if found.unresolved:
            self.fail("arguments the scanner cannot check (make them literals or extend the test):\n  " +
                      "\n  ".join(found.unresolved))


# ---------------------------------------------------------------- the scanner itself

class Scanner(unittest.TestCase):
    """The scanner finds what a regex on one line would miss, and says where
    it cannot see."""

    C = ('static const char *code_of(int e)\n{\n    switch (e) {\n    case 1:\n        return "one";\n'
         '    default:\n        return "other";\n    }\n}\n'
         'void fr_x(int a, const char *code)\n{\n    fr_y(a, code);\n}\n'
         '/* fr_y(0, "in_a_comment"); */\n'
         'static void f(void)\n{\n    // fr_y(1, "line_comment");\n'
         '    fr_y(2,\n         "multi"\n         "line");\n'
         '    fr_y(3, code_of(3));\n    fr_y(4, "has, comma (and paren)");\n    fr_y(5, name);\n}\n')

    def test_multiline_comments_helpers_and_unresolved(self):
        cf = CFile("x.c", rel="x.c", text=self.C)
        found = scan([cf], ["fr_y", "fr_x"], 1)
        self.assertEqual(found.names(), {"multiline", "one", "other", "has, comma (and paren)"})
        self.assertEqual(found.where["multiline"], ["x.c:19"])
        self.assertEqual(found.unresolved, ["x.c:23: fr_y(... name ...) is not a string literal"])

    def test_a_difference_is_reported_on_both_sides(self):
        msg = diff_report("things", {"a": ["x.c:1"], "b": ["x.c:2"]}, {"b": ["doc"], "c": ["doc"]}, "code", "docs")
        self.assertIn("in code but not in docs:\n  a", msg)
        self.assertIn("in docs but not in code:\n  c", msg)
        self.assertEqual(diff_report("things", {"a": []}, {"a": []}, "code", "docs"), "")


# ---------------------------------------------------------------- a running daemon

DAEMON = None


def setUpModule():
    global DAEMON
    DAEMON = ft.Frugald(env=dict(HARNESS_ENV, FRUGAL_TEST_ENDPOINTS="1"))


def tearDownModule():
    if DAEMON is not None:
        assert DAEMON.stop() == 0


def probe_route(addr, method, path):
    """What the router says about METHOD on path, without running a handler:
    a method no route uses makes it answer 405 with the methods of the path
    (before authentication), or its own 404 for an unknown path."""
    st, body, hdrs = ft.http_json(addr, "PATCH", path)
    if st == 404 and isinstance(body, dict) and body.get("message") == "no such endpoint":
        return "no such route"
    if st != 405:
        return "unexpected answer %s %r" % (st, body)
    allowed = [m.strip() for m in hdrs.get("allow", "").split(",")]
    return None if method in allowed else "path exists, methods %s" % allowed


def concrete(pattern):
    return re.sub(r"\{[^}]+\}", "x-1", pattern)


# ---------------------------------------------------------------- 1. routes

class Routes(Base):
    def doc_routes(self):
        """(method, path) -> where, from the endpoint list and the test-only table."""
        main = {}
        for row in table_with(section(self.api, "Endpoint list"), "method"):
            main.setdefault("%s %s" % (ticked(row[0])[0], ticked(row[1])[0]), []).append("api.md endpoint list")
        test = {}
        for row in table_with(section(self.api, "Test-only endpoints"), "method, path"):
            test.setdefault(ticked(row[0])[0], []).append("api.md test-only endpoints")
        return main, test

    def code_routes(self):
        found = Found()
        for cf in self.files:
            for args, off in cf.calls("fr_web_route"):
                method, path = literal_value(args[1][0]), literal_value(args[2][0])
                if method is None or path is None:
                    found.unresolved.append("%s: fr_web_route with a computed method or path" % cf.where(off))
                    continue
                found.add("%s %s" % (method, path), cf.where(off))
        return found

    def test_source_routes_are_documented(self):
        found = self.code_routes()
        self.no_unresolved(found)
        main, test = self.doc_routes()
        code_main = {k: v for k, v in found.where.items() if "/api/_test/" not in k}
        code_test = {k: v for k, v in found.where.items() if "/api/_test/" in k}
        # /metrics is served by the HTTP layer itself, not a registered route
        main_routes = {k: v for k, v in main.items() if k != "GET /metrics"}
        self.assertIn("GET /metrics", main)
        msg = "\n".join(filter(None, [
            diff_report("routes", code_main, main_routes, "fr_web_route calls", "the endpoint list"),
            diff_report("test-only routes", code_test, test, "fr_web_route calls", "the test-only table")]))
        print("routes: %d registered in src, %d documented" % (len(found.where), len(main) + len(test)))
        if msg:
            self.fail("\n" + msg)

    def test_daemon_route_table_matches_docs(self):
        st, body, _ = DAEMON.api("GET", "/api/_test/routes")
        self.assertEqual(st, 200, body)
        live = {}
        for r in body["routes"]:
            live.setdefault("%s %s" % (r["method"], r["pattern"]), []).append(
                "GET /api/_test/routes" + (" (public)" if r["public"] else ""))
        main, test = self.doc_routes()
        docs = dict(test)
        docs.update({k: v for k, v in main.items() if k != "GET /metrics"})
        self.check("routes", live, docs, "the running daemon's route table", "docs/api.md")
        # Only the login is public (the docs: "every route except POST /api/session").
        self.assertEqual([r["method"] + " " + r["pattern"] for r in body["routes"] if r["public"]],
                         ["POST /api/session"])

    def test_every_documented_route_is_answered_by_the_router(self):
        main, test = self.doc_routes()
        missing = []
        for key in sorted(set(main) | set(test)):
            method, path = key.split(" ", 1)
            if path == "/metrics":
                st, text, hdrs = DAEMON.api(method, path)
                if st != 200 or not hdrs.get("content-type", "").startswith("text/plain"):
                    missing.append("  %-40s answered %s %s" % (key, st, hdrs.get("content-type")))
                continue
            why = probe_route(DAEMON.addr, method, concrete(path))
            if why:
                missing.append("  %-40s %s" % (key, why))
        print("router probe: %d documented routes" % (len(main) + len(test)))
        if missing:
            self.fail("documented in docs/api.md but the running daemon's router does not know them:\n" +
                      "\n".join(missing))

    def test_the_probe_can_fail(self):
        self.assertEqual(probe_route(DAEMON.addr, "GET", "/api/no-such-thing"), "no such route")
        self.assertIn("path exists", probe_route(DAEMON.addr, "DELETE", "/api/health"))
        self.assertIsNone(probe_route(DAEMON.addr, "GET", "/api/runs/x-1"))
        # a handler's 404 is not the router's
        st, body, _ = DAEMON.api("GET", "/api/runs/r-no-such-run")
        self.assertEqual((st, body["error"]), (404, "not_found"))
        self.assertNotEqual(body["message"], "no such endpoint")

    def test_test_routes_only_with_the_switch(self):
        d = ft.Frugald(env=HARNESS_ENV)
        self.addCleanup(d.stop)
        _, test = self.doc_routes()
        self.assertIn("FRUGAL_TEST_ENDPOINTS=1", section(self.api, "Test-only endpoints"))
        for key in test:
            method, path = key.split(" ", 1)
            self.assertEqual(probe_route(d.addr, method, path), "no such route", key)
        self.assertIsNone(probe_route(d.addr, "GET", "/api/health"))


# ---------------------------------------------------------------- 2. audit events

class AuditEvents(Base):
    def test_audit_events(self):
        found = scan(self.files, ["fr_audit"], 1)
        self.no_unresolved(found)
        rows = table_with(section(self.api, "Audit trail"), "`event`")
        docs = doc_names([ticked(r[0])[0] for r in rows], "api.md audit table")
        self.check("audit events", found.where, docs, "fr_audit calls", "docs/api.md's audit table")


# ---------------------------------------------------------------- 3. feed event types

class FeedEvents(Base):
    def test_feed_event_types(self):
        found = scan(self.files, ["fr_feed_publish"], 1)
        self.no_unresolved(found)
        # the feed's own marker, written as a literal frame
        for cf in self.files:
            for m in re.finditer(r'\\"type\\":\\"([\w.]+)\\"', cf.text):
                found.add(m.group(1), cf.where(m.start()))
        rows = table_with(section(self.api, "Event types"), "type")
        docs = doc_names([ticked(r[0])[0] for r in rows], "api.md event types")
        self.check("feed event types", found.where, docs, "fr_feed_publish calls", "docs/api.md's event types")


# ---------------------------------------------------------------- 4. metrics

METRIC_FUNCS = ["fr_metric_inc", "fr_metric_put", "fr_metric_get"]


class Metrics(Base):
    def doc_metrics(self):
        rows = table_with(section(self.api, "`GET /metrics`"), "metric")
        names = [n for r in rows for n in ticked(r[0])]
        return doc_names(names, "api.md metrics table")

    def test_source_metrics(self):
        found = scan(self.files, METRIC_FUNCS, 0)
        self.no_unresolved(found)
        self.check("metrics", found.where, self.doc_metrics(), "fr_metric_* calls", "docs/api.md's metrics table")

    def test_operations_names_existing_metrics(self):
        found = scan(self.files, METRIC_FUNCS, 0)
        ops = section(read(OPS_MD), "Metrics")
        named = set(re.findall(r"\bfrugal_\w+", ops))
        self.assertTrue(named)
        unknown = sorted(named - found.names())
        if unknown:
            self.fail("docs/operations.md (Metrics) names series no code produces:\n  " + "\n  ".join(unknown))

    def test_live_metrics_are_documented(self):
        # Put a value into the per-call and feed series: one outgoing call
        # through the daemon's HTTP client, one published event.
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        st, body, _ = DAEMON.api("POST", "/api/_test/http", {
            "url": "http://127.0.0.1:%d/" % srv.server_address[1], "service": "docs", "max_retries": 0})
        self.assertEqual(st, 200, body)
        st, body, _ = DAEMON.api("POST", "/api/_test/publish", {"type": "test.docs"})
        self.assertEqual(st, 200, body)
        deadline = time.time() + 10
        while True:  # the housekeeping series appear after the first 1 s tick
            st, text, _ = DAEMON.api("GET", "/metrics")
            self.assertEqual(st, 200)
            if "frugal_uptime_seconds" in text or time.time() > deadline:
                break
            time.sleep(0.2)
        live = {}
        for line in text.splitlines():
            m = re.match(r"^(\w+)(?:\{[^}]*\})? ", line)
            if m:
                live.setdefault(m.group(1), ["GET /metrics"])
        self.assertIn("frugal_http_requests_total", live)
        docs = self.doc_metrics()
        undocumented = sorted(set(live) - set(docs))
        print("metrics: %d series names on a running daemon" % len(live))
        if undocumented:
            self.fail("GET /metrics shows series docs/api.md does not list:\n  " + "\n  ".join(undocumented))


class OkHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *a):
        pass


# ---------------------------------------------------------------- 5. error codes

ERROR_FUNCS = ["fr_web_error", "fr_web_async_error", "error_json"]


class ErrorCodes(Base):
    def code_errors(self):
        found = scan(self.files, ERROR_FUNCS, 2)
        # answers written out as literal JSON
        for cf in self.files:
            for args, off in cf.calls("send_common"):
                v = literal_value(args[3][0]) if len(args) > 3 else None
                for m in re.finditer(r'"error":"(\w+)"', v or ""):
                    found.add(m.group(1), cf.where(off))
        return found

    def test_error_codes(self):
        found = self.code_errors()
        self.no_unresolved(found)
        errors = section(self.api, "Errors")
        docs = {}
        for head, rows in tables(errors):
            col = head.index("`error`")
            for r in rows:
                for code in ticked(r[col]):
                    docs.setdefault(code, []).append("api.md errors table")
        for m in re.finditer(r'"error":\s*"(\w+)"', errors):
            docs.setdefault(m.group(1), []).append("api.md errors section")
        # Codes of the test hooks are documented with them.
        test_section = section(self.api, "Test-only endpoints")
        test_docs = set(re.findall(r"`\d{3} (\w+)`", test_section))
        prod = {n: w for n, w in found.where.items() if any(not x.startswith("src/daemon/testhooks.c") for x in w)}
        test_only = {n: w for n, w in found.where.items() if n not in prod}
        msg = diff_report("error codes", prod, docs, "the sources", "docs/api.md's errors section")
        undocumented_test = sorted(set(test_only) - set(docs) - test_docs)
        if undocumented_test:
            msg += "\nerror codes of the test hooks documented neither in Errors nor in Test-only endpoints:\n" + \
                "\n".join("  %-40s %s" % (n, ", ".join(test_only[n])) for n in undocumented_test)
        stale_test = sorted(test_docs - found.names())
        if stale_test:
            msg += "\nerror codes in Test-only endpoints that no code answers:\n  " + "\n  ".join(stale_test)
        print("error codes: %d in the sources, %d documented" % (len(found.where), len(docs) + len(test_docs)))
        if msg.strip():
            self.fail("\n" + msg.strip())


# ---------------------------------------------------------------- 6. CLI

def help_commands(text):
    """{command: set of --options} and the global options from frugal --help."""
    usage = re.search(r"^usage: frugal (.*)$", text, re.M).group(1)
    glob_opts = set(re.findall(r"--[\w-]+", usage.split("COMMAND")[0]))
    block = text.split("commands:", 1)[1].split("\n\n", 1)[0]
    cmds = {}
    for line in block.splitlines():
        m = re.match(r"^  (\w[\w-]*)(.*)$", line)
        if m:
            cmds[m.group(1)] = set(re.findall(r"--[\w-]+", re.split(r"\s{2,}", m.group(2).strip())[0]))
    return cmds, glob_opts


def doc_commands(md):
    sec = section(md, "What the CLI calls")
    cmds = {}
    for row in table_with(sec, "command"):
        for usage in ticked(row[0]):
            m = re.match(r"^frugal (\w[\w-]*)(.*)$", usage)
            if m:
                cmds.setdefault(m.group(1), set()).update(re.findall(r"--[\w-]+", m.group(2)))
    return cmds, sec


class Cli(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = subprocess.run([ft.binary("frugal"), "--help"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        cls.help = p.stdout

    def test_commands_and_options(self):
        helped, glob_opts = help_commands(self.help)
        documented, sec = doc_commands(self.api)
        self.assertIn("health", helped)
        self.check("CLI commands", {c: ["frugal --help"] for c in helped},
                   {c: ["api.md CLI table"] for c in documented}, "frugal --help", "docs/api.md's CLI table")
        lines = []
        for c in sorted(set(helped) & set(documented)):
            for o in sorted(helped[c] - documented[c]):
                lines.append("  frugal %s %s: in frugal --help, not in the docs' row" % (c, o))
            for o in sorted(documented[c] - helped[c]):
                lines.append("  frugal %s %s: in the docs' row, not in frugal --help" % (c, o))
        for o in sorted(glob_opts):
            if o not in sec:
                lines.append("  global option %s: in frugal --help, not in the docs' CLI section" % o)
        if lines:
            self.fail("CLI options differ:\n" + "\n".join(lines))

    def test_every_dispatched_command_is_documented(self):
        cf = CFile(os.path.join(SRC, "cli", "main.c"))
        names = {}
        for m in re.finditer(r'strcmp\(cmd, "(\w+)"\)', cf.text):
            names.setdefault(m.group(1), []).append(cf.where(m.start()))
        self.assertIn("health", names)
        helped, _ = help_commands(self.help)
        _, sec = doc_commands(self.api)
        hidden = {n: w for n, w in names.items() if n not in helped and "`%s`" % n not in sec}
        if hidden:
            self.fail("commands src/cli/main.c accepts that neither --help nor the docs' CLI section name:\n" +
                      "\n".join("  %-20s %s" % (n, ", ".join(w)) for n, w in sorted(hidden.items())))


# ---------------------------------------------------------------- log events to alert on

class AlertEvents(Base):
    def test_operations_alert_events_exist(self):
        found = scan(self.files, ["fr_log_debug", "fr_log_info", "fr_log_warn", "fr_log_error"], 0)
        for name, where in scan(self.files, ["fr_log", "fr_log_obj", "fr_audit"], 1).where.items():
            for w in where:
                found.add(name, w)
        self.no_unresolved(found)
        rows = table_with(section(read(OPS_MD), "Logs and audit"), "event")
        named = [n for r in rows for n in ticked(r[0]) if re.fullmatch(r"[a-z_]+\.[a-z_*]+", n)]
        self.assertTrue(named)
        missing = []
        for n in named:
            pat = re.compile("^" + re.escape(n).replace(r"\*", r"[\w.]+") + "$")
            if not any(pat.match(x) for x in found.names()):
                missing.append(n)
        print("alert events: %d named in docs/operations.md" % len(named))
        if missing:
            self.fail("docs/operations.md tells operators to alert on log events no code writes:\n  " +
                      "\n  ".join(missing))


if __name__ == "__main__":
    ft.run_tests()
