"""The chat-completions test double: Azure OpenAI and OpenAI paths, keys,
rules matched on the last user message or tool result, tool calls, errors
with Retry-After, and SSE streaming (content and tool-call fragments,
[DONE], usage). A protocol double, not a model."""
import json
import os
import tempfile
import time
import unittest

import frugaltest
from simctl import Sim

SCRIPT = {
    "rules": [
        {"name": "greet", "match": {"user": "hello"}, "reply": {"content": "Hello from the test double."}},
        {"name": "analyze", "match": {"user_regex": "^[Oo]ptimi[sz]e ([A-Z-]+)$"},
         "reply": {"tool_calls": [{"name": "analyze_cluster", "arguments": {"cluster_name": "STRESS-TEMPLATE-S"}}]}},
        {"name": "after-tool", "match": {"tool_name": "analyze_cluster", "tool": "HEAVILY_OVERSIZED"},
         "reply": {"content": "CORE nodes are heavily oversized; recommend r7g.2xlarge."}},
        {"name": "busy", "match": {"user": "busy"}, "times": 1,
         "reply": {"error": {"status": 429, "retry_after": 2, "retry_after_ms": 1500}}},
        {"name": "boom", "match": {"user": "boom"}, "reply": {"error": {"status": 500}}},
        {"name": "slow-stream", "match": {"user": "paced"}, "reply": {"content": "one two three four five six",
                                                                    "chunk_delay_ms": 40}},
    ],
    "default": {"content": "default answer"},
}


def post(sim, path, body, headers):
    h = {"Content-Type": "application/json"}
    h.update(headers)
    return frugaltest.http_json(sim.addr, "POST", path, body, headers=h, raw=True)


def sse_events(raw):
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block[6:]
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


class ChatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fd, cls.script = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(SCRIPT, f)
        cls.sim = Sim(clusters=1, args=["--chat-script", cls.script])
        cls.azure = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        cls.key = {"api-key": "k"}

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()
        os.unlink(cls.script)

    def chat(self, messages, stream=False, path=None, headers=None, **extra):
        body = {"messages": messages, "stream": stream}
        body.update(extra)
        return post(self.sim, path or self.azure, body, self.key if headers is None else headers)

    def test_text_reply_and_usage(self):
        status, raw, hdrs = self.chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
        self.assertEqual(status, 200)
        r = json.loads(raw)
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(r["choices"][0]["message"], {"role": "assistant", "content": "Hello from the test double."})
        self.assertEqual(r["choices"][0]["finish_reason"], "stop")
        u = r["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertEqual(hdrs["x-frugal-sim-rule"], "greet")

    def test_tool_call_then_tool_result(self):
        msgs = [{"role": "user", "content": "Optimize STRESS-TEMPLATE-S"}]
        r = json.loads(self.chat(msgs, tools=[{"type": "function", "function": {"name": "analyze_cluster"}}])[1])
        msg = r["choices"][0]["message"]
        self.assertIsNone(msg["content"])
        self.assertEqual(r["choices"][0]["finish_reason"], "tool_calls")
        tc = msg["tool_calls"][0]
        self.assertEqual(tc["type"], "function")
        self.assertEqual(tc["function"]["name"], "analyze_cluster")
        self.assertEqual(json.loads(tc["function"]["arguments"]), {"cluster_name": "STRESS-TEMPLATE-S"})
        msgs += [msg, {"role": "tool", "tool_call_id": tc["id"], "content": "{\"status\": \"HEAVILY_OVERSIZED\"}"}]
        r = json.loads(self.chat(msgs)[1])
        self.assertIn("heavily oversized", r["choices"][0]["message"]["content"])
        # a tool result that matches nothing falls to the default
        msgs[-1]["content"] = "{\"status\": \"RIGHT_SIZED\"}"
        self.assertEqual(json.loads(self.chat(msgs)[1])["choices"][0]["message"]["content"], "default answer")

    def test_errors(self):
        status, raw, hdrs = self.chat([{"role": "user", "content": "busy now?"}])
        self.assertEqual(status, 429)
        self.assertEqual(hdrs["retry-after"], "2")
        self.assertEqual(hdrs["retry-after-ms"], "1500")
        self.assertEqual(json.loads(raw)["error"]["code"], "429")
        # "times": 1 -- the next one goes through
        self.assertEqual(self.chat([{"role": "user", "content": "busy now?"}])[0], 200)
        status, raw, _ = self.chat([{"role": "user", "content": "boom"}])
        self.assertEqual(status, 500)
        self.assertEqual(json.loads(raw)["error"]["type"], "server_error")

    def test_auth_and_paths(self):
        self.assertEqual(self.chat([{"role": "user", "content": "hello"}], headers={})[0], 401)
        st, _, _ = post(self.sim, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hello"}]}, {})
        self.assertEqual(st, 401)
        st, raw, _ = post(self.sim, "/v1/chat/completions", {"model": "gpt-4o-mini",
                                                            "messages": [{"role": "user", "content": "hello"}]},
                          {"Authorization": "Bearer sk-test"})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(raw)["model"], "gpt-4o-mini")
        st, _, _ = post(self.sim, "/openai/deployments/gpt-4o/chat/completions", {"messages": []}, self.key)
        self.assertEqual(st, 404)  # no api-version
        self.assertEqual(self.chat([])[0], 400)

    def test_streaming_content(self):
        status, raw, hdrs = self.chat([{"role": "user", "content": "hello"}], stream=True,
                                      stream_options={"include_usage": True})
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        ev = sse_events(raw)
        self.assertEqual(ev[-1], "[DONE]")
        chunks = ev[:-1]
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        self.assertEqual(text, "Hello from the test double.")
        finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        self.assertEqual(finals[0]["choices"][0]["finish_reason"], "stop")
        self.assertIn("usage", chunks[-1])
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))

    def test_streaming_tool_call_fragments(self):
        status, raw, _ = self.chat([{"role": "user", "content": "optimise STRESS-TEMPLATE-S"}], stream=True)
        ev = sse_events(raw)[:-1]
        frags = [tc for c in ev for tc in (c["choices"][0]["delta"].get("tool_calls") or [])]
        self.assertEqual(frags[0]["function"]["name"], "analyze_cluster")
        self.assertTrue(frags[0]["id"].startswith("call_"))
        args = "".join(f["function"].get("arguments", "") for f in frags)
        self.assertEqual(json.loads(args), {"cluster_name": "STRESS-TEMPLATE-S"})
        self.assertGreater(len(frags), 2)
        self.assertEqual(ev[-1]["choices"][0]["finish_reason"], "tool_calls")

    def test_paced_stream(self):
        t = time.time()
        status, raw, _ = self.chat([{"role": "user", "content": "paced please"}], stream=True)
        self.assertGreater(time.time() - t, 0.15)
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_events(raw)[:-1])
        self.assertEqual(text, "one two three four five six")

    def test_script_via_control_api_and_request_log(self):
        self.sim.control("POST", "/_sim/chat/script", {"rules": [{"match": {"user": "ping"}, "reply": {"content": "pong"}}]})
        try:
            r = json.loads(self.chat([{"role": "user", "content": "ping"}])[1])
            self.assertEqual(r["choices"][0]["message"]["content"], "pong")
            log = self.sim.control("GET", "/_sim/chat/requests")["requests"]
            self.assertEqual(log[-1]["messages"][-1]["content"], "ping")
            st, _, _ = frugaltest.http_json(self.sim.addr, "POST", "/_sim/chat/script",
                                            {"rules": [{"match": {"user_regex": "("}, "reply": {"content": "x"}}]})
            self.assertEqual(st, 400)
        finally:
            self.sim.control("POST", "/_sim/chat/script", SCRIPT)

    def test_openai_python_style_client(self):
        """The shapes an OpenAI SDK reads, through the fault injector too."""
        self.sim.faults({"service": "chat", "throttle_rate": 1})
        try:
            status, raw, hdrs = self.chat([{"role": "user", "content": "hello"}])
            self.assertEqual(status, 429)
            self.assertIn("retry-after", hdrs)
        finally:
            self.sim.clear_faults()


if __name__ == "__main__":
    frugaltest.run_tests()
