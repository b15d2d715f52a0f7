"""Retries like the SDKs' standard mode, per protocol, against the local
stand-in: throttles in each service's real error shape are retried with
backoff until success; 5xx and connection failures retry; a non-retryable
4xx returns at once; the retry quota stops retrying once spent;
AWS_MAX_ATTEMPTS / aws.max_attempts bound the attempts. Also: malformed,
truncated and oversized answers end as typed parse errors."""
import json
import unittest

import frugaltest
from awstest import AwsStub, Reply, error_reply, run_probe

FAST = {"retry.initial": "20ms", "retry.max": "80ms", "aws.region": "us-east-1"}

# one operation per protocol: (probe op, args, stub op name)
PER_PROTOCOL = [
    ("emr.DescribeCluster", {"cluster_id": "j-1"}, "DescribeCluster", "emr"),              # awsJson1_1
    ("ssm.GetParameter", {"name": "/p"}, "GetParameter", "ssm"),                           # awsJson1_1
    ("pricing.GetProducts", {"service_code": "AmazonEC2"}, "GetProducts", "pricing"),      # awsJson1_1
    ("cw.GetMetricStatistics", {"namespace": "AWS/EC2", "metric": "CPUUtilization", "start_ms": 1795340000000,
                                "end_ms": 1795345200000, "statistics": ["Average"]}, "GetMetricStatistics",
     "cloudwatch"),                                                                        # awsJson1_0
    ("sqs.GetQueueUrl", {"name": "q"}, "GetQueueUrl", "sqs"),                              # awsJson1_0 (query compat)
    ("ec2.DescribeAvailabilityZones", {}, "DescribeAvailabilityZones", "ec2"),             # ec2 query
    ("sts.GetCallerIdentity", {}, "GetCallerIdentity", "sts"),                             # query
    ("lambda.Invoke", {"function": "f", "payload": "{}"}, "Invoke", "lambda"),             # restJson1
]


class Retry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = AwsStub()

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()

    def probe(self, ops, config=None, env=None, **kw):
        c = dict(FAST)
        c.update(config or {})
        e = self.stub.env()
        e.update(env or {})
        res, info = run_probe(ops, env=e, config=c, **kw)
        self.assertEqual(info.get("done", {}).get("loop_close"), 0, info["stderr"])
        self.assertEqual(info["returncode"], 0, info["stderr"])  # sanitizer reports fail here
        return res

    def test_throttled_then_success_every_protocol(self):
        for op, args, name, service in PER_PROTOCOL:
            with self.subTest(op=op):
                before = len(self.stub.calls(name))
                self.stub.inject(name, "throttle", "throttle")
                (r,) = self.probe([{"op": op, "args": args}])
                self.assertTrue(r["ok"], r)
                calls = self.stub.calls(name)[before:]
                # pricing pages twice after the retries
                self.assertGreaterEqual(len(calls), 3)
                self.assertEqual(r["attempts"] if op != "pricing.GetProducts" else 4, len(calls))
                # each attempt re-signed, same invocation id, attempt counter in amz-sdk-request
                ids = {c["headers"]["amz-sdk-invocation-id"] for c in calls[:3]}
                self.assertEqual(len(ids), 1)
                self.assertEqual([c["headers"]["amz-sdk-request"].split(";")[0] for c in calls[:3]],
                                 ["attempt=1", "attempt=2", "attempt=3"])
                self.assertTrue(all(c["sig_error"] is None for c in calls))
                # backoff happened between attempts (full jitter: may be small, never negative)
                self.assertGreaterEqual(calls[2]["time"], calls[0]["time"])

    def test_transient_5xx_and_codes(self):
        self.stub.inject("DescribeCluster", Reply(500, "oops"), error_reply("emr", "InternalFailure", status=500),
                         Reply(503, "<html>Service Unavailable</html>"))
        (r,) = self.probe([{"op": "emr.DescribeCluster", "args": {"cluster_id": "j-9"}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 4)
        self.stub.inject("GetCallerIdentity", error_reply("sts", "RequestTimeout", status=400),
                         Reply(502, ""), Reply(504, ""))
        (r,) = self.probe([{"op": "sts.GetCallerIdentity"}])
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 4)

    def test_non_retryable_4xx_at_once(self):
        cases = [("emr.DescribeCluster", {"cluster_id": "j-x"}, "DescribeCluster", "emr", "InvalidRequestException"),
                 ("ec2.DescribeAvailabilityZones", {}, "DescribeAvailabilityZones", "ec2", "UnauthorizedOperation"),
                 ("sqs.GetQueueUrl", {"name": "nope"}, "GetQueueUrl", "sqs",
                  "AWS.SimpleQueueService.NonExistentQueue"),
                 ("sts.GetCallerIdentity", {}, "GetCallerIdentity", "sts", "AccessDenied"),
                 ("lambda.Invoke", {"function": "f"}, "Invoke", "lambda", "InvalidRequestContentException")]
        for op, args, name, service, code in cases:
            with self.subTest(op=op):
                before = len(self.stub.calls(name))
                self.stub.inject(name, error_reply(service, code, "nope", 403 if "Denied" in code else 400))
                (r,) = self.probe([{"op": op, "args": args}])
                self.assertFalse(r["ok"])
                self.assertEqual(r["attempts"], 1)
                self.assertEqual(len(self.stub.calls(name)) - before, 1)
                self.assertEqual(r["error"]["kind"], "service")
                self.assertEqual(r["error"]["code"], code)
                self.assertEqual(r["err"], "EAWS")
                self.assertTrue(r["error"]["request_id"], r)

    def test_out_of_attempts(self):
        self.stub.inject("GetParameter", *(["throttle"] * 3))
        (r,) = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}], env={"AWS_MAX_ATTEMPTS": "3"})
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 3)
        self.assertEqual(r["error"]["kind"], "throttle")
        self.assertEqual(r["error"]["code"], "ThrottlingException")
        self.assertEqual(r["err"], "ETHROTTLED")
        # aws.max_attempts wins over the environment
        self.stub.inject("GetParameter", *(["throttle"] * 2))
        (r,) = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}], env={"AWS_MAX_ATTEMPTS": "9"},
                          config={"aws.max_attempts": "2"})
        self.assertEqual(r["attempts"], 2)
        self.assertFalse(r["ok"])

    def test_bad_max_attempts_environment_is_an_error(self):
        """A set but unusable AWS_MAX_ATTEMPTS stops the client with a message
        naming it (as the AWS SDKs do) instead of silently using the default."""
        for bad in ("abc", "0", "-1", "101", "3x", "99999999999999999999", " 3"):
            res, info = run_probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}],
                                  env=dict(self.stub.env(), AWS_MAX_ATTEMPTS=bad), config=dict(FAST))
            self.assertEqual(res, [], bad)
            self.assertEqual(info["new_failed"]["err"], "ECONFIG", bad)
            self.assertIn("AWS_MAX_ATTEMPTS", info["new_failed"]["message"])
            self.assertNotIn("done", info, "no call was made")
        # empty means unset
        (r,) = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}], env={"AWS_MAX_ATTEMPTS": ""})
        self.assertTrue(r["ok"], r)

    def test_retry_quota_stops_retries(self):
        # 40 calls that are always throttled, 10 attempts each: without a quota
        # that is 400 requests; the quota (500, 5 per retry) allows 100 retries.
        # (Adaptive pacing is off here: it would slow an always-throttling
        # operation to 0.5/s, which is its own test.)
        n = 40
        self.stub.inject("DescribeAvailabilityZones", *(["throttle"] * 1000))
        before = len(self.stub.calls("DescribeAvailabilityZones"))
        res = self.probe([{"op": "ec2.DescribeAvailabilityZones"} for _ in range(n)], parallel=True,
                         config={"aws.max_attempts": "10", "retry.initial": "1ms", "retry.max": "2ms",
                                 "aws.ec2_rate": "100000", "aws.ec2_burst": "100000",
                                 "aws.adaptive_rate": "false"})
        sent = len(self.stub.calls("DescribeAvailabilityZones")) - before
        with self.stub.lock:
            self.stub.faults["DescribeAvailabilityZones"] = []
        self.assertEqual(len(res), n)
        self.assertTrue(all(not r["ok"] for r in res))
        self.assertEqual(sent, n + 100, "the quota allows exactly 100 retries")
        self.assertTrue(any(r["attempts"] < 10 for r in res))
        self.assertTrue(all(r["error"]["kind"] == "throttle" for r in res))
        # with the quota off every call uses all its attempts
        self.stub.inject("DescribeAvailabilityZones", *(["throttle"] * 1000))
        before = len(self.stub.calls("DescribeAvailabilityZones"))
        res = self.probe([{"op": "ec2.DescribeAvailabilityZones"} for _ in range(10)], parallel=True,
                         config={"aws.max_attempts": "4", "aws.retry_quota": "false", "retry.initial": "1ms",
                                 "retry.max": "2ms", "aws.adaptive_rate": "false"})
        with self.stub.lock:
            self.stub.faults["DescribeAvailabilityZones"] = []
        self.assertEqual(len(self.stub.calls("DescribeAvailabilityZones")) - before, 40)
        self.assertTrue(all(r["attempts"] == 4 for r in res))

    def _throttled_burst(self, adaptive):
        # 10 parallel calls of one operation meet 20 throttles in a row, while
        # 10 calls of another operation run beside them
        self.stub.inject("DescribeAvailabilityZones", *(["throttle"] * 20))
        before = len(self.stub.calls("DescribeAvailabilityZones"))
        ops = [{"op": "ec2.DescribeAvailabilityZones"} for _ in range(10)] + \
              [{"op": "sts.GetCallerIdentity"} for _ in range(10)]
        res = self.probe(ops, parallel=True,
                         config={"aws.max_attempts": "20", "aws.retry_quota": "false", "retry.initial": "1ms",
                                 "retry.max": "2ms", "aws.adaptive_rate": "true" if adaptive else "false"})
        with self.stub.lock:
            self.stub.faults["DescribeAvailabilityZones"] = []
        calls = self.stub.calls("DescribeAvailabilityZones")[before:]
        self.assertTrue(all(r["ok"] for r in res), res)
        self.assertEqual(len(calls), 30)
        return calls[-1]["time"] - calls[0]["time"], [r for r in res if r["op"] == "sts.GetCallerIdentity"]

    def test_adaptive_pacing_per_operation(self):
        plain, _ = self._throttled_burst(False)
        paced, other = self._throttled_burst(True)
        print("  20 throttles, 10 callers: retries spread over %.0f ms unpaced, %.0f ms paced" %
              (plain * 1000, paced * 1000))
        # the throttled operation slows down ...
        self.assertGreater(paced, 0.5)
        self.assertGreater(paced, 2 * plain)
        # ... and only that one: the other operation is not held back (its
        # latency is the stand-in's, which answers one request at a time)
        self.assertEqual(len(other), 10)
        self.assertTrue(all(r["attempts"] == 1 for r in other), other)
        self.assertLess(max(r["ms"] for r in other) / 1000.0, paced / 2)

    def test_connection_errors_retry(self):
        self.stub.inject("GetQueueUrl", Reply(reset=True), Reply(reset=True))
        (r,) = self.probe([{"op": "sqs.GetQueueUrl", "args": {"name": "q"}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 3)
        # nobody listening (port 9, discard): transport errors, retried, then a typed error
        res, info = run_probe([{"op": "sts.GetCallerIdentity"}],
                              env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "AKIDX",
                                   "AWS_SECRET_ACCESS_KEY": "s"},
                              config=dict(FAST, **{"aws.max_attempts": "3"}))
        (r,) = res
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"]["kind"], "transport")
        self.assertEqual(r["err"], "ECONNREFUSED")
        self.assertEqual(r["attempts"], 3)

    def test_timeout_retries(self):
        self.stub.inject("GetParameter", Reply(200, "{}", delay=1.5))
        (r,) = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}], config={"http.timeout": "500ms"})
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 2)

    def test_retry_after_is_honoured(self):
        reply = error_reply("lambda", "TooManyRequestsException", "slow", 429)
        reply.headers["Retry-After"] = "1"
        self.stub.inject("Invoke", reply)
        (r,) = self.probe([{"op": "lambda.Invoke", "args": {"function": "f", "payload": "{}"}}])
        self.assertTrue(r["ok"], r)
        self.assertGreaterEqual(r["ms"], 950)

    def test_malformed_answers_are_parse_errors(self):
        big = "{" + ",".join('"k%d": "%s"' % (i, "x" * 100) for i in range(200)) + "}"
        bigxml = "<DescribeAvailabilityZonesResponse>" + "<item>%s</item>" % ("y" * 30000) + \
                 "</DescribeAvailabilityZonesResponse>"
        cases = [
            ("emr.DescribeCluster", {"cluster_id": "j"}, "DescribeCluster", Reply(200, '{"Cluster": {"Id": "j-'),
             "MalformedResponse"),
            ("ssm.GetParameter", {"name": "/p"}, "GetParameter", Reply(200, "<html>hello</html>"),
             "MalformedResponse"),
            ("sqs.GetQueueUrl", {"name": "q"}, "GetQueueUrl", Reply(200, '["not", "an", "object"]'),
             "MalformedResponse"),
            ("cw.GetMetricStatistics", {"namespace": "n", "metric": "m", "start_ms": 1, "end_ms": 60001,
                                        "statistics": ["Average"]}, "GetMetricStatistics", Reply(200, big),
             "ResponseTooLarge"),
            ("ec2.DescribeAvailabilityZones", {}, "DescribeAvailabilityZones",
             Reply(200, "<DescribeAvailabilityZonesResponse><availabilityZoneInfo><item>"), "MalformedResponse"),
            ("ec2.DescribeAvailabilityZones", {}, "DescribeAvailabilityZones", Reply(200, "garbage <<<"),
             "MalformedResponse"),
            ("ec2.DescribeAvailabilityZones", {}, "DescribeAvailabilityZones", Reply(200, bigxml),
             "MalformedResponse"),
            ("sts.GetCallerIdentity", {}, "GetCallerIdentity",
             Reply(200, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'), "MalformedResponse"),
            ("sts.GetCallerIdentity", {}, "GetCallerIdentity", Reply(200, ""), "MalformedResponse"),
            ("pricing.GetProducts", {"service_code": "AmazonEC2"}, "GetProducts",
             Reply(200, '{"PriceList": ["{not json"]}'), "MalformedResponse"),
        ]
        for op, args, name, reply, code in cases:
            with self.subTest(op=op, code=code):
                self.stub.inject(name, reply)
                (r,) = self.probe([{"op": op, "args": args}], config={"http.max_response": "16k"})
                self.assertFalse(r["ok"], r)
                self.assertEqual(r["error"]["kind"], "parse", r)
                self.assertEqual(r["error"]["code"], code, r)
                self.assertEqual(r["err"], "EPARSE")
                self.assertEqual(r["attempts"], 1)

    def test_truncated_body_is_not_a_crash(self):
        # Content-Length promises more than arrives: a transport error, retried
        self.stub.inject("GetParameter", Reply(200, '{"Parameter": {', content_length=400))
        (r,) = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 2)


if __name__ == "__main__":
    frugaltest.run_tests()
