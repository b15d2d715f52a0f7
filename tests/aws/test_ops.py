"""Operations through the local stand-in (which verifies every signature
with botocore): pagers, CloudWatch batching past 500 queries, Pricing's
PriceList strings, Lambda (ARN paths double-encoded in the signature,
function errors, DryRun, Event), SQS long-poll timeouts, cancellation and
closing the client with calls in flight."""
import json
import time
import unittest

import frugaltest
from awstest import AwsStub, Reply, run_probe

CFG = {"retry.initial": "10ms", "retry.max": "50ms"}


class Ops(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = AwsStub()

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()

    def probe(self, ops, config=None, env=None, **kw):
        c = dict(CFG)
        c.update(config or {})
        e = self.stub.env()
        e.update(env or {})
        res, info = run_probe(ops, env=e, config=c, **kw)
        self.assertEqual(info.get("done", {}).get("loop_close"), 0, info["stderr"])
        self.assertEqual(info["returncode"], 0, info["stderr"])  # sanitizer reports fail here
        return res

    def test_emr_pager(self):
        (r,) = self.probe([{"op": "emr.ListClusters", "args": {"states": ["TERMINATED"],
                                                                "created_after_ms": 1795300000000}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual([c["Id"] for c in r["json"]["Clusters"]], ["j-1", "j-2", "j-3", "j-4"])
        self.assertEqual(r["pages"], 3)
        self.assertEqual(r["pages_seen"], 3)
        calls = self.stub.calls("ListClusters")[-3:]
        self.assertEqual([c["params"].get("Marker") for c in calls], [None, "m2", "m3"])
        self.assertEqual(calls[0]["params"]["ClusterStates"], ["TERMINATED"])
        self.assertEqual(calls[0]["params"]["CreatedAfter"], 1795300000)
        h = calls[0]["headers"]
        self.assertEqual(h["X-Amz-Target"], "ElasticMapReduce.ListClusters")
        self.assertEqual(h["Content-Type"], "application/x-amz-json-1.1")
        self.assertEqual(h["Accept-Encoding"], "identity")
        self.assertNotIn("Accept", h)
        # stopping early from the page callback
        (r,) = self.probe([{"op": "emr.ListClusters", "args": {"stop_after_pages": 1}}])
        self.assertTrue(r["ok"])
        self.assertEqual(len(r["json"]["Clusters"]), 2)

    def test_emr_fleets(self):
        (r,) = self.probe([{"op": "emr.ListInstanceFleets", "args": {"cluster_id": "j-fleets"}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual([(f["InstanceFleetType"], f["InstanceTypeSpecifications"][0]["InstanceType"])
                          for f in r["json"]["InstanceFleets"]],
                         [("MASTER", "m5.xlarge"), ("CORE", "r7g.4xlarge"), ("TASK", "r7g.2xlarge")])
        self.assertEqual(r["pages"], 2)

    def test_sts_web_identity_op(self):
        (r,) = self.probe([{"op": "sts.AssumeRoleWithWebIdentity", "args": {
            "role_arn": "arn:aws:iam::123456789012:role/frugal", "session_name": "frugal-op", "token": "jwt-x",
            "duration_s": 900}}])
        self.assertTrue(r["ok"], r)
        self.assertTrue(r["json"]["Credentials"]["AccessKeyId"].startswith("ASIA"))
        self.assertEqual(r["json"]["AssumedRoleUser"]["Arn"], "arn:aws:iam::123456789012:role/frugal/frugal-op")
        self.assertEqual(r["request_id"], "rid-wi")
        c = self.stub.calls("AssumeRoleWithWebIdentity")[-1]
        self.assertNotIn("Authorization", c["headers"])  # the stub refuses signed ones, too
        self.assertNotIn("X-Amz-Date", c["headers"])
        self.assertEqual(c["params"]["DurationSeconds"], "900")

    def test_ec2_pager_and_xml(self):
        (r,) = self.probe([{"op": "ec2.DescribeInstances", "args": {"req": {"Filter": [
            {"Name": "instance-state-name", "Value": ["running"]}]}}}])
        self.assertTrue(r["ok"], r)
        ids = [i["instanceId"] for res in r["json"]["reservationSet"] for i in res["instancesSet"]]
        self.assertEqual(ids, ["i-1", "i-2"])
        c = self.stub.calls("DescribeInstances")[-1]
        self.assertEqual(c["params"]["NextToken"], "tok-2")
        self.assertEqual(c["params"]["Filter.1.Name"], "instance-state-name")
        self.assertEqual(c["params"]["Filter.1.Value.1"], "running")
        self.assertEqual(c["headers"]["Content-Type"], "application/x-www-form-urlencoded; charset=utf-8")
        (r,) = self.probe([{"op": "ec2.DescribeSpotPriceHistory", "args": {
            "types": ["m5.large", "r7g.4xlarge"], "product": "Linux/UNIX", "start_ms": 1795300000000}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["json"]["spotPriceHistorySet"][0]["spotPrice"], "0.034500")
        p = self.stub.calls("DescribeSpotPriceHistory")[-1]["params"]
        self.assertEqual(p["InstanceType.2"], "r7g.4xlarge")
        self.assertEqual(p["ProductDescription.1"], "Linux/UNIX")
        self.assertEqual(p["StartTime"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1795300000)))
        (r,) = self.probe([{"op": "ec2.DescribeAvailabilityZones", "args": {"req": {"DryRun": True}}}])
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"]["code"], "DryRunOperation")
        self.assertEqual(r["error"]["http_status"], 412)

    def test_cloudwatch_batches_past_500(self):
        n = 1203
        queries = [{"Id": "q%d" % i, "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                                               "Dimensions": [{"Name": "InstanceId",
                                                                               "Value": "i-%d" % i}]},
                                                    "Period": 60, "Stat": "Average"}} for i in range(n)]
        before = len(self.stub.calls("GetMetricData"))
        (r,) = self.probe([{"op": "cw.GetMetricData", "args": {"queries": queries, "start_ms": 1795340000000,
                                                                "end_ms": 1795345200000}}])
        self.assertTrue(r["ok"], r)
        calls = self.stub.calls("GetMetricData")[before:]
        self.assertEqual(len(calls), 6)  # 3 batches x 2 pages
        sizes = sorted(len(c["params"]["MetricDataQueries"]) for c in calls)
        self.assertEqual(sizes, [203, 203, 500, 500, 500, 500])
        self.assertTrue(all(c["headers"]["X-Amz-Target"] == "GraniteServiceVersion20100801.GetMetricData"
                            for c in calls))
        self.assertTrue(all(c["headers"]["Content-Type"] == "application/x-amz-json-1.0" for c in calls))
        self.assertTrue(all(c["headers"]["x-amzn-query-mode"] == "true" for c in calls))
        self.assertEqual(calls[0]["params"]["StartTime"], 1795340000)
        res = r["json"]["MetricDataResults"]
        self.assertEqual([x["Id"] for x in res], ["q%d" % i for i in range(n)])
        self.assertTrue(all(x["Values"] == [1.0, 2.0] and x["StatusCode"] == "Complete" for x in res))
        # invalid ids are refused before anything is sent
        (r,) = self.probe([{"op": "cw.GetMetricData", "args": {"queries": [{"Id": "Bad-Id"}], "start_ms": 1,
                                                                "end_ms": 2}}])
        self.assertFalse(r["ok"])
        self.assertEqual(r["err"], "EINVAL")

    def test_pricing_price_list_parsed(self):
        (r,) = self.probe([{"op": "pricing.GetProducts", "args": {"service_code": "AmazonEC2", "filters": [
            {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"}]}}])
        self.assertTrue(r["ok"], r)
        self.assertEqual([p["product"]["sku"] for p in r["json"]["PriceList"]], ["SKU1", "SKU2"])
        c = self.stub.calls("GetProducts")[-2]
        self.assertEqual(c["headers"]["X-Amz-Target"], "AWSPriceListService.GetProducts")
        self.assertEqual(c["params"]["Filters"][0]["Field"], "instanceType")

    def test_lambda(self):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:app-job-submit-lambda-prod"
        payload = json.dumps({"resource": "/executions/clusters", "path": "/executions/clusters",
                              "body": json.dumps({"cluster_name": "C1", "job_type": "CLUSTER"}),
                              "httpMethod": "POST"})
        res = self.probe([
            {"id": "arn", "op": "lambda.Invoke", "args": {"function": arn, "payload": payload, "log_tail": True}},
            {"id": "fail", "op": "lambda.Invoke", "args": {"function": "x-fails", "payload": "{}"}},
            {"id": "dry", "op": "lambda.Invoke", "args": {"function": "f", "invocation_type": "DryRun"}},
            {"id": "event", "op": "lambda.Invoke", "args": {"function": "f", "payload": "{}",
                                                            "invocation_type": "Event"}},
            {"id": "missing", "op": "lambda.Invoke", "args": {"function": "f-missing", "payload": "{}"}},
            {"id": "qual", "op": "lambda.Invoke", "args": {"function": "f", "qualifier": "live", "payload": "1"}},
        ])
        r = {x["id"]: x for x in res}
        self.assertTrue(r["arn"]["ok"], r["arn"])  # the stub checked the double-encoded signature
        self.assertEqual(r["arn"]["json"]["StatusCode"], 200)
        self.assertEqual(r["arn"]["json"]["Payload"]["function"], arn)
        self.assertEqual(r["arn"]["json"]["LogResult"], "U1RBUlQgUmVxdWVzdElk")
        self.assertEqual(r["arn"]["json"]["ExecutedVersion"], "$LATEST")
        self.assertEqual(json.loads(r["arn"]["payload"])["echo"]["httpMethod"], "POST")
        calls = self.stub.calls("Invoke")
        arn_call = [c for c in calls if "arn%3Aaws%3Alambda" in c["path"]][-1]
        self.assertEqual(arn_call["path"], "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012"
                                           "%3Afunction%3Aapp-job-submit-lambda-prod/invocations")
        self.assertEqual(arn_call["headers"]["X-Amz-Invocation-Type"], "RequestResponse")
        self.assertNotIn("Content-Type", arn_call["headers"])
        f = r["fail"]
        self.assertFalse(f["ok"])
        self.assertEqual(f["error"]["kind"], "function")
        self.assertEqual(f["error"]["code"], "Unhandled")
        self.assertIn("KeyError", f["error"]["message"])
        self.assertEqual(f["json"]["FunctionError"], "Unhandled")
        self.assertEqual(f["json"]["Payload"]["errorType"], "KeyError")
        self.assertEqual(f["attempts"], 1)
        self.assertTrue(r["dry"]["ok"])
        self.assertEqual(r["dry"]["json"]["StatusCode"], 204)
        self.assertEqual(r["event"]["json"]["StatusCode"], 202)
        self.assertEqual(r["missing"]["error"]["code"], "ResourceNotFoundException")
        self.assertEqual(r["missing"]["error"]["kind"], "service")
        self.assertTrue(r["qual"]["ok"])
        self.assertTrue(calls[-1]["path"].endswith("/invocations?Qualifier=live"))

    def test_ssm_sqs_sts(self):
        res = self.probe([
            {"id": "put", "op": "ssm.PutParameter", "args": {"name": "/a", "value": "v", "overwrite": True,
                                                              "tier": "Advanced"}},
            {"id": "get", "op": "ssm.GetParameter", "args": {"name": "/a", "with_decryption": True}},
            {"id": "missing", "op": "ssm.GetParameter", "args": {"name": "/missing"}},
            {"id": "rx", "op": "sqs.ReceiveMessage", "args": {"queue_url": self.stub.url + "/1/q", "max": 10,
                                                               "wait_s": 20}},
            {"id": "who", "op": "sts.GetCallerIdentity"},
        ], config={"http.timeout": "2s"})
        r = {x["id"]: x for x in res}
        self.assertEqual(r["put"]["json"]["Version"], 4)
        p = self.stub.calls("PutParameter")[-1]["params"]
        self.assertEqual(p, {"Name": "/a", "Value": "v", "Type": "String", "Overwrite": True, "Tier": "Advanced"})
        self.assertEqual(r["get"]["json"]["Parameter"]["Version"], 3)
        self.assertEqual(r["missing"]["error"]["code"], "ParameterNotFound")
        self.assertEqual(r["rx"]["json"]["Messages"][0]["ReceiptHandle"], "rh1")
        self.assertEqual(self.stub.calls("ReceiveMessage")[-1]["params"]["WaitTimeSeconds"], 20)
        self.assertEqual(r["who"]["json"]["Account"], "123456789012")
        self.assertTrue(r["who"]["request_id"].startswith("rid-"))

    def test_long_poll_outlasts_http_timeout(self):
        # the answer takes 2.5 s, http.timeout is 1 s: ReceiveMessage must still wait
        self.stub.inject("ReceiveMessage", Reply(200, '{"Messages": []}', {"Content-Type":
                                                                            "application/x-amz-json-1.0"}, delay=2.5))
        (r,) = self.probe([{"op": "sqs.ReceiveMessage", "args": {"queue_url": self.stub.url + "/1/q",
                                                                  "wait_s": 3}}], config={"http.timeout": "1s"})
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 1)

    def test_cancel_and_close(self):
        self.stub.inject("DescribeCluster", Reply(200, "{}", delay=1.0))
        res = self.probe([{"op": "emr.DescribeCluster", "args": {"cluster_id": "j-slow"}, "cancel_after_ms": 100},
                          {"op": "sts.GetCallerIdentity"}])
        self.assertEqual(res[0].get("cancelled"), True)
        self.assertTrue(res[1]["ok"])
        # closing the client with calls in flight ends them with ECANCELED
        self.stub.inject("DescribeCluster", Reply(200, "{}", delay=1.0), Reply(200, "{}", delay=1.0))
        res = self.probe([{"op": "emr.DescribeCluster", "args": {"cluster_id": "j-a"}},
                          {"op": "emr.ListClusters"},
                          {"op": "emr.DescribeCluster", "args": {"cluster_id": "j-b"}}],
                         parallel=True, close_after_ms=200)
        self.assertEqual(len(res), 3)
        slow = [x for x in res if x["op"] == "emr.DescribeCluster"]
        self.assertTrue(all(x["err"] == "ECANCELED" and x["error"]["kind"] == "transport" for x in slow), res)

    def test_generic_call(self):
        res = self.probe([
            {"id": "g", "op": "call", "args": {"service": "emr", "name": "ListClusters", "req": {},
                                               "paginate": True, "no_accumulate": True}},
            {"id": "bad", "op": "call", "args": {"service": "lambda", "name": "GetFunction", "req": {}}},
        ])
        r = {x["id"]: x for x in res}
        self.assertTrue(r["g"]["ok"])
        self.assertEqual([c["Id"] for c in r["g"]["json"]["Clusters"]], ["j-4"])  # the last page only
        self.assertEqual(r["bad"]["err"], "ENOTSUP")


if __name__ == "__main__":
    frugaltest.run_tests()
