"""frugal-sim authentication and faults, seen by boto3: signature errors in
each service's shape, throttles that botocore's retry logic treats as
throttles, token-bucket rate limits, 5xx, connection resets, malformed and
slow bodies, injected latency, and the call counters."""
import json
import time
import unittest

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.parsers import ResponseParserError

import frugaltest
from simctl import ACCESS_KEY, LAMBDA_NAME, Sim

STANDARD3 = Config(retries={"mode": "standard", "max_attempts": 3})

# one harmless call per service
CALLS = {
    "emr": lambda c: c.list_clusters(),
    "cloudwatch": lambda c: c.put_metric_data(Namespace="T", MetricData=[{"MetricName": "m", "Value": 1}]),
    "ssm": lambda c: c.get_parameters(Names=["/x"]),
    "lambda": lambda c: c.invoke(FunctionName=LAMBDA_NAME, InvocationType="DryRun", Payload=b"{}"),
    "ec2": lambda c: c.describe_availability_zones(),
    "sqs": lambda c: c.list_queues(),
    "sts": lambda c: c.get_caller_identity(),
    "pricing": lambda c: c.describe_services(),
}


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=3)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_wrong_secret_is_signature_does_not_match(self):
        for svc, call in CALLS.items():
            c = self.sim.client(svc, secret="not-the-secret")
            with self.assertRaises(ClientError, msg=svc) as cm:
                call(c)
            e = cm.exception.response
            self.assertEqual(e["Error"]["Code"], "SignatureDoesNotMatch", svc)
            self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 403, svc)

    def test_unknown_key_id(self):
        want = {"emr": "UnrecognizedClientException", "ssm": "UnrecognizedClientException",
                "pricing": "UnrecognizedClientException", "lambda": "UnrecognizedClientException",
                "cloudwatch": "InvalidClientTokenId", "sqs": "InvalidClientTokenId", "sts": "InvalidClientTokenId",
                "ec2": "AuthFailure"}
        for svc, call in CALLS.items():
            c = self.sim.client(svc, key="AKIANOTKNOWN00000000")
            with self.assertRaises(ClientError, msg=svc) as cm:
                call(c)
            self.assertEqual(cm.exception.response["Error"]["Code"], want[svc], svc)

    def test_right_key_works_everywhere(self):
        for svc, call in CALLS.items():
            call(self.sim.client(svc))

    def test_custom_key_pair_and_no_verify(self):
        with Sim(clusters=1, args=["--access-key-id", "AKIACUSTOM0000000001", "--secret-access-key", "s3cret"]) as sim:
            sim.client("emr", key="AKIACUSTOM0000000001", secret="s3cret").list_clusters()
            with self.assertRaises(ClientError):
                sim.client("emr").list_clusters()
        with Sim(clusters=1, args=["--no-verify"]) as sim:
            sim.client("emr", key="AKIAANYTHING", secret="whatever").list_clusters()
            status, body, _ = frugaltest.http_json(sim.addr, "POST", "/", body={},
                                                   headers={"X-Amz-Target": "ElasticMapReduce.ListClusters",
                                                            "Content-Type": "application/x-amz-json-1.1"})
            self.assertEqual(status, 200)
            self.assertIn("Clusters", body)

    def test_missing_and_malformed_authorization(self):
        status, body, hdrs = frugaltest.http_json(self.sim.addr, "POST", "/", body={},
                                                  headers={"X-Amz-Target": "ElasticMapReduce.ListClusters",
                                                           "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "MissingAuthenticationTokenException")
        status, body, _ = frugaltest.http_json(self.sim.addr, "POST", "/", body={},
                                               headers={"X-Amz-Target": "AmazonSSM.GetParameter",
                                                        "Authorization": "AWS4-HMAC-SHA256 garbage",
                                                        "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(body["__type"], "IncompleteSignatureException")

    def test_sts_web_identity_credentials(self):
        sts = self.sim.client("sts")
        r = sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/frugald",
                                              RoleSessionName="s1", WebIdentityToken="eyJ.token.sig",
                                              DurationSeconds=900)
        c = r["Credentials"]
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        self.assertEqual(r["AssumedRoleUser"]["Arn"], "arn:aws:sts::123456789012:assumed-role/frugald/s1")
        ssm = self.sim.client("ssm", key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"])
        ssm.get_parameters(Names=["/x"])
        with self.assertRaises(ClientError) as cm:
            sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/frugald", RoleSessionName="s2",
                                              WebIdentityToken="invalid")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidIdentityToken")


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=3)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.clear_faults()
        self.sim.control("DELETE", "/_sim/calls")

    def test_throttles_are_retried_as_throttles(self):
        """Throttled-then-OK succeeds under standard retries; the retry shows."""
        codes = {"emr": "ThrottlingException", "ssm": "ThrottlingException", "pricing": "ThrottlingException",
                 "cloudwatch": "Throttling", "sts": "Throttling", "lambda": "TooManyRequestsException",
                 "ec2": "RequestLimitExceeded", "sqs": "RequestThrottled"}
        for svc, call in CALLS.items():
            # a bucket of one token refilled in 200 ms: the 1st call passes,
            # the 2nd is throttled, a retry passes once the backoffs add up to
            # 200 ms (botocore's full jitter: all three retries sooner than
            # that has a probability of 0.2^3/48, about 1 in 6000)
            self.sim.faults({"service": svc, "rate_limit": {"rate": 5, "burst": 1}})
            client = self.sim.client(svc, config=STANDARD3)
            call(client)
            r = call(client)
            self.assertGreaterEqual(r["ResponseMetadata"]["RetryAttempts"], 1, svc)
            no_retry = self.sim.client(svc)
            with self.assertRaises(ClientError, msg=svc) as cm:
                call(no_retry)
                call(no_retry)
            self.assertEqual(cm.exception.response["Error"]["Code"], codes[svc], svc)
            # botocore's own classifier agrees it is a throttle
            from botocore.retries.standard import ThrottledRetryableChecker, RetryContext
            ctx = RetryContext(attempt_number=1, parsed_response=cm.exception.response,
                               http_response=type("R", (), {"status_code": cm.exception.response[
                                   "ResponseMetadata"]["HTTPStatusCode"]})())
            self.assertTrue(ThrottledRetryableChecker().is_retryable(ctx), svc)
            self.sim.clear_faults()
        calls = self.sim.calls()
        self.assertGreater(calls["throttled"], 0)
        self.assertGreater(calls["services"]["emr"]["ListClusters"]["throttled"], 0)

    def test_lambda_throttle_shape(self):
        self.sim.faults({"service": "lambda", "throttle_rate": 1})
        with self.assertRaises(ClientError) as cm:
            self.sim.client("lambda").invoke(FunctionName=LAMBDA_NAME, Payload=b"{}")
        e = cm.exception.response
        self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 429)
        self.assertEqual(e["ResponseMetadata"]["HTTPHeaders"]["retry-after"], "1")
        self.assertEqual(e["Reason"], "CallerRateLimitExceeded")

    def test_probability_and_operation_specific_rules(self):
        self.sim.faults({"service": "emr", "throttle_rate": 0.5})
        self.sim.faults({"service": "emr", "operation": "DescribeCluster", "throttle_rate": 0})
        emr = self.sim.client("emr")
        throttled = 0
        for _ in range(200):
            try:
                emr.list_clusters()
            except ClientError:
                throttled += 1
        self.assertTrue(60 < throttled < 140, throttled)
        any_id = self.sim.world()["clusters"][0]["id"]
        for _ in range(30):
            emr.describe_cluster(ClusterId=any_id)  # never throttled: the operation rule wins
        rules = self.sim.control("GET", "/_sim/faults")["rules"]
        self.assertEqual(len(rules), 2)
        self.sim.control("DELETE", "/_sim/faults?service=emr&operation=DescribeCluster")
        self.assertEqual(len(self.sim.control("GET", "/_sim/faults")["rules"]), 1)

    def test_server_errors_are_retried(self):
        self.sim.faults({"service": "ssm", "error_rate": 1})
        with self.assertRaises(ClientError) as cm:
            self.sim.client("ssm").get_parameters(Names=["/x"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InternalServerError")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        with self.assertRaises(ClientError) as cm:
            self.sim.client("ssm", config=STANDARD3).get_parameters(Names=["/x"])
        # max_attempts counts retries: 1 + 3 attempts
        self.assertEqual(cm.exception.response["ResponseMetadata"]["RetryAttempts"], 3)
        self.assertEqual(self.sim.calls()["services"]["ssm"]["GetParameters"]["errors"], 5)

    def test_connection_reset(self):
        self.sim.faults({"service": "emr", "reset_rate": 1})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            self.sim.client("emr").list_clusters()
        self.assertGreaterEqual(self.sim.calls()["services"]["emr"]["ListClusters"]["resets"], 1)
        self.sim.clear_faults()
        self.sim.client("emr").list_clusters()  # the server is fine afterwards

    def test_malformed_body(self):
        self.sim.faults({"service": "emr", "malformed_rate": 1})
        # botocore turns an unparsable JSON success into an empty result
        r = self.sim.client("emr").list_clusters()
        self.assertNotIn("Clusters", r)
        self.sim.faults({"service": "ec2", "malformed_rate": 1})
        with self.assertRaises(ResponseParserError):
            self.sim.client("ec2").describe_availability_zones()

    def test_latency_and_slow_body(self):
        self.sim.faults({"service": "sts", "latency_ms": {"mean": 1000, "jitter": 20}})
        sts = self.sim.client("sts")
        took = {}

        def slow_call():
            t0 = time.time()
            sts.get_caller_identity()
            took["sts"] = time.time() - t0

        import threading
        th = threading.Thread(target=slow_call)
        th.start()
        time.sleep(0.1)
        # the held answer does not hold up the loop: other calls are served meanwhile
        t = time.time()
        self.sim.client("emr").list_clusters()
        fast = time.time() - t
        th.join(10)
        self.assertGreater(took["sts"], 0.95)
        self.assertLess(fast, 0.8)
        self.sim.clear_faults()
        self.sim.faults({"service": "emr", "slow_body_ms": 600})
        t = time.time()
        r = self.sim.client("emr").list_clusters()
        self.assertGreater(time.time() - t, 0.5)
        self.assertTrue(r["Clusters"])
        slow_read = self.sim.client("emr", config=Config(read_timeout=0.1, retries={"max_attempts": 1}))
        self.sim.faults({"service": "emr", "slow_body_ms": 3000})
        with self.assertRaises(ReadTimeoutError):
            slow_read.list_clusters()

    def test_aws_limits_switch(self):
        self.sim.faults({"aws_limits": True})
        ssm = self.sim.client("ssm")
        throttled = 0
        for i in range(8):
            try:
                ssm.put_parameter(Name="/lim/p%d" % i, Value="v", Type="String")
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ThrottlingException")
                throttled += 1
        self.assertGreaterEqual(throttled, 4)  # PutParameter: 3 per second
        self.assertTrue(self.sim.control("GET", "/_sim/faults")["aws_limits"])
        self.sim.clear_faults()
        self.assertFalse(self.sim.control("GET", "/_sim/faults")["aws_limits"])

    def test_bad_rules_rejected(self):
        status, body, _ = frugaltest.http_json(self.sim.addr, "POST", "/_sim/faults",
                                               {"service": "nope", "throttle_rate": 1})
        self.assertEqual(status, 400)
        status, body, _ = frugaltest.http_json(self.sim.addr, "POST", "/_sim/faults",
                                               {"service": "emr", "throttle_rate": 2})
        self.assertEqual(status, 400)

    def test_faults_flag_at_start(self):
        rule = json.dumps([{"service": "emr", "operation": "ListClusters", "throttle_rate": 1}])
        with Sim(clusters=1, args=["--faults", rule]) as sim:
            with self.assertRaises(ClientError) as cm:
                sim.client("emr").list_clusters()
            self.assertEqual(cm.exception.response["Error"]["Code"], "ThrottlingException")


if __name__ == "__main__":
    frugaltest.run_tests()
