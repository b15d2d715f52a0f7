"""frugal-sim CloudWatch: GetMetricData on the JSON wire (what boto3 1.43
uses) and the query wire (XML, parsed by botocore's own QueryParser),
GetMetricStatistics, PutMetricData; the real limits and NextToken paging."""
import datetime
import json
import unittest
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.parsers
import botocore.session
from botocore.exceptions import ClientError

import frugaltest
from simctl import ACCESS_KEY, SECRET_KEY, Sim


def query(inst, metric="CPUUtilization", ns="AWS/EC2", qid="q", period=60, stat="Average"):
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": ns, "MetricName": metric,
                                                 "Dimensions": [{"Name": "InstanceId", "Value": inst}]},
                                      "Period": period, "Stat": stat}}


class CloudWatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=20, seed=11)
        cls.cw = cls.sim.client("cloudwatch")
        cls.emr = cls.sim.client("emr")
        world = cls.sim.world()
        cls.wc = next(c for c in world["clusters"] if c["outcome"] == "TERMINATED")
        cls.detail = cls.sim.cluster(cls.wc["id"])
        cls.insts = cls.emr.list_instances(ClusterId=cls.wc["id"])["Instances"]
        tl = cls.emr.describe_cluster(ClusterId=cls.wc["id"])["Cluster"]["Status"]["Timeline"]
        cls.start = tl["CreationDateTime"] - datetime.timedelta(minutes=10)
        cls.end = tl["EndDateTime"] + datetime.timedelta(minutes=10)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_service_uses_json_protocol(self):
        self.assertEqual(self.cw.meta.service_model.resolved_protocol, "json")

    def test_cpu_and_memory_within_lifetime(self):
        inst = self.insts[-1]
        r = self.cw.get_metric_data(MetricDataQueries=[query(inst["Ec2InstanceId"], qid="cpu"),
                                                       query(inst["Ec2InstanceId"], "mem_used_percent", "CWAgent", "mem")],
                                    StartTime=self.start, EndTime=self.end, ScanBy="TimestampAscending")
        res = {x["Id"]: x for x in r["MetricDataResults"]}
        for k in ("cpu", "mem"):
            x = res[k]
            self.assertEqual(x["StatusCode"], "Complete")
            self.assertGreater(len(x["Values"]), 10)
            self.assertEqual(len(x["Values"]), len(x["Timestamps"]))
            self.assertTrue(all(0 <= v <= 100 for v in x["Values"]))
            ts = x["Timestamps"]
            self.assertEqual(ts, sorted(ts))
            self.assertTrue(all((b - a).total_seconds() == 60 for a, b in zip(ts, ts[1:])))
            itl = inst["Status"]["Timeline"]
            self.assertGreaterEqual(ts[0], itl["CreationDateTime"])
            self.assertLess(ts[-1], itl["EndDateTime"])
        # the same series as the sim's own view
        own = self.sim.metrics(inst["Ec2InstanceId"])
        self.assertEqual([round(v, 4) for v in res["cpu"]["Values"]], [round(v, 4) for v in own["values"]])
        # default ScanBy is newest first
        r2 = self.cw.get_metric_data(MetricDataQueries=[query(inst["Ec2InstanceId"])], StartTime=self.start,
                                     EndTime=self.end)
        self.assertEqual(r2["MetricDataResults"][0]["Values"], res["cpu"]["Values"][::-1])

    def test_periods_and_stats(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        qs = [query(iid, qid="avg", period=300, stat="Average"), query(iid, qid="mx", period=300, stat="Maximum"),
              query(iid, qid="p95", period=300, stat="p95"), query(iid, qid="n", period=300, stat="SampleCount"),
              query(iid, qid="mn", period=300, stat="Minimum")]
        r = self.cw.get_metric_data(MetricDataQueries=qs, StartTime=self.start, EndTime=self.end,
                                    ScanBy="TimestampAscending")
        res = {x["Id"]: x["Values"] for x in r["MetricDataResults"]}
        self.assertTrue(all(c <= 5 for c in res["n"]))
        for a, m, p, lo in zip(res["avg"], res["mx"], res["p95"], res["mn"]):
            self.assertLessEqual(lo, a + 1e-6)
            self.assertLessEqual(a, m + 1e-6)
            self.assertLessEqual(p, m + 1e-6)

    def test_get_metric_statistics(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        r = self.cw.get_metric_statistics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                          Dimensions=[{"Name": "InstanceId", "Value": iid}], StartTime=self.start,
                                          EndTime=self.end, Period=300, Statistics=["Average", "Maximum"])
        self.assertEqual(r["Label"], "CPUUtilization")
        self.assertTrue(r["Datapoints"])
        for d in r["Datapoints"]:
            self.assertEqual(d["Unit"], "Percent")
            self.assertIsInstance(d["Timestamp"], datetime.datetime)
            self.assertLessEqual(d["Average"], d["Maximum"] + 1e-9)
        r = self.cw.get_metric_statistics(Namespace="CWAgent", MetricName="mem_used_percent",
                                          Dimensions=[{"Name": "InstanceId", "Value": iid}], StartTime=self.start,
                                          EndTime=self.end, Period=600, ExtendedStatistics=["p95", "p99"])
        self.assertIn("p95", r["Datapoints"][0]["ExtendedStatistics"])
        with self.assertRaises(ClientError) as cm:
            self.cw.get_metric_statistics(Namespace="AWS/EC2", MetricName="CPUUtilization", StartTime=self.start,
                                          EndTime=self.start + datetime.timedelta(days=3), Period=60,
                                          Statistics=["Average"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidParameterCombination")

    def test_unknown_metric_and_dimension_give_empty_results(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        q1 = query(iid, "NetworkIn", qid="a")
        q2 = query("i-0000000000000000f", qid="b")
        q3 = query(iid, qid="c")
        q3["MetricStat"]["Metric"]["Dimensions"].append({"Name": "ImageId", "Value": "ami-1"})
        r = self.cw.get_metric_data(MetricDataQueries=[q1, q2, q3], StartTime=self.start, EndTime=self.end)
        for x in r["MetricDataResults"]:
            self.assertEqual(x["Values"], [])
            self.assertEqual(x["StatusCode"], "Complete")

    def test_list_metrics(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        r = self.cw.list_metrics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                 Dimensions=[{"Name": "InstanceId", "Value": iid}])
        self.assertEqual(r["Metrics"], [{"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                         "Dimensions": [{"Name": "InstanceId", "Value": iid}]}])
        allm = [m for p in self.cw.get_paginator("list_metrics").paginate() for m in p["Metrics"]]
        nodes = {i for m in allm for d in m["Dimensions"] if d["Name"] == "InstanceId" for i in [d["Value"]]}
        self.assertIn(iid, nodes)
        self.assertEqual(len(allm), len({json.dumps(m, sort_keys=True) for m in allm}))
        self.assertGreater(len(allm), 500)  # more than one page
        mem = self.cw.list_metrics(Namespace="CWAgent")["Metrics"]
        self.assertTrue(all(m["MetricName"] == "mem_used_percent" for m in mem))
        recent = [m for p in self.cw.get_paginator("list_metrics").paginate(RecentlyActive="PT3H") for m in p["Metrics"]]
        self.assertLess(len(recent), len(allm))

    def test_limits(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        qs = [query(iid, qid="q%d" % i) for i in range(501)]
        with self.assertRaises(ClientError) as cm:
            self.cw.get_metric_data(MetricDataQueries=qs, StartTime=self.start, EndTime=self.end)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(ClientError) as cm:
            self.cw.get_metric_data(MetricDataQueries=[query(iid)], StartTime=self.end, EndTime=self.start)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(ClientError) as cm:
            self.cw.get_metric_data(MetricDataQueries=[query(iid, qid="Bad-Id")], StartTime=self.start, EndTime=self.end)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(ClientError) as cm:
            self.cw.get_metric_data(MetricDataQueries=[query(iid)], StartTime=self.start, EndTime=self.end,
                                    NextToken="garbage")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidNextToken")

    def test_500_queries_and_paging(self):
        insts = [i["Ec2InstanceId"] for i in self.insts]
        qs = []
        for k in range(500):
            qs.append(query(insts[k % len(insts)], "CPUUtilization" if k % 2 == 0 else "mem_used_percent",
                            "AWS/EC2" if k % 2 == 0 else "CWAgent", qid="m%d" % k))
        # one page with everything
        whole = self.cw.get_metric_data(MetricDataQueries=qs, StartTime=self.start, EndTime=self.end)
        self.assertNotIn("NextToken", whole)
        total = sum(len(x["Values"]) for x in whole["MetricDataResults"])
        self.assertEqual(len(whole["MetricDataResults"]), 500)
        # small pages: the paginator terminates and returns the same points
        pages = list(self.cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=qs, StartTime=self.start, EndTime=self.end, MaxDatapoints=5000))
        self.assertGreater(len(pages), 1)
        self.assertTrue(all(sum(len(x["Values"]) for x in p["MetricDataResults"]) <= 5000 for p in pages))
        merged = {}
        for p in pages:
            for x in p["MetricDataResults"]:
                merged.setdefault(x["Id"], []).extend(x["Values"])
        self.assertEqual(sum(len(v) for v in merged.values()), total)
        want = {x["Id"]: x["Values"] for x in whole["MetricDataResults"]}
        self.assertEqual(merged, {k: v for k, v in want.items() if v or k in merged})

    def test_more_than_100800_points_pages(self):
        # 500 queries x 1439 minutes of a long-lived EC2 instance = 719,500 points
        ec2 = self.sim.world()["ec2_instances"]
        old = min(ec2, key=lambda e: e["start_offset_s"])
        end = datetime.datetime.fromtimestamp(self.sim.now() // 60 * 60, datetime.timezone.utc)
        start = end - datetime.timedelta(minutes=1439)
        qs = [query(old["id"], qid="x%d" % k) for k in range(500)]
        r = self.cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end)
        n = sum(len(x["Values"]) for x in r["MetricDataResults"])
        self.assertEqual(n, 100800)
        self.assertIn("NextToken", r)
        self.assertEqual(r["MetricDataResults"][-1]["StatusCode"], "PartialData")
        self.assertEqual(len(r["MetricDataResults"]), 71)
        pages = 0
        total = 0
        for p in self.cw.get_paginator("get_metric_data").paginate(MetricDataQueries=qs, StartTime=start, EndTime=end):
            pages += 1
            total += sum(len(x["Values"]) for x in p["MetricDataResults"])
        self.assertEqual(pages, 8)
        self.assertEqual(total, 500 * 1439)

    def test_put_metric_data_round_trip(self):
        now = datetime.datetime.fromtimestamp(self.sim.now(), datetime.timezone.utc).replace(second=0, microsecond=0)
        dims = [{"Name": "Service", "Value": "frugald"}]
        self.cw.put_metric_data(Namespace="Frugal/Test", MetricData=[
            {"MetricName": "Decisions", "Dimensions": dims, "Timestamp": now - datetime.timedelta(minutes=2), "Value": 3},
            {"MetricName": "Decisions", "Dimensions": dims, "Timestamp": now - datetime.timedelta(minutes=2), "Value": 5},
            {"MetricName": "Decisions", "Dimensions": dims, "Timestamp": now - datetime.timedelta(minutes=1),
             "Values": [1, 2], "Counts": [1, 1]}])
        r = self.cw.get_metric_data(MetricDataQueries=[{
            "Id": "d", "MetricStat": {"Metric": {"Namespace": "Frugal/Test", "MetricName": "Decisions",
                                                 "Dimensions": dims}, "Period": 60, "Stat": "Sum"}}],
            StartTime=now - datetime.timedelta(minutes=10), EndTime=now, ScanBy="TimestampAscending")
        self.assertEqual(r["MetricDataResults"][0]["Values"], [8.0, 3.0])
        with self.assertRaises(ClientError) as cm:
            self.cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "x", "Value": 1}])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidParameterValue")

    def _query_protocol(self, params, op):
        """A signed query-protocol call, parsed by botocore's QueryParser."""
        body = "&".join("%s=%s" % (k, urllib.parse.quote(str(v), safe="")) for k, v in params.items())
        req = botocore.awsrequest.AWSRequest(method="POST", url=self.sim.url + "/", data=body,
                                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "monitoring",
                                "us-east-1").add_auth(req)
        prepared = req.prepare()
        data = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        r = urllib.request.urlopen(urllib.request.Request(prepared.url, data=data,
                                                          headers=dict(prepared.headers), method="POST"))
        raw = r.read()
        model = botocore.session.get_session().get_service_model("cloudwatch")
        op_model = model.operation_model(op)
        parsed = botocore.parsers.QueryParser().parse(
            {"body": raw, "headers": dict(r.headers), "status_code": r.status}, op_model.output_shape)
        return r, raw, parsed

    def test_query_protocol_xml(self):
        iid = self.insts[-1]["Ec2InstanceId"]
        params = {"Action": "GetMetricData", "Version": "2010-08-01",
                  "MetricDataQueries.member.1.Id": "c",
                  "MetricDataQueries.member.1.MetricStat.Metric.Namespace": "AWS/EC2",
                  "MetricDataQueries.member.1.MetricStat.Metric.MetricName": "CPUUtilization",
                  "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name": "InstanceId",
                  "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value": iid,
                  "MetricDataQueries.member.1.MetricStat.Period": "60",
                  "MetricDataQueries.member.1.MetricStat.Stat": "Average",
                  "StartTime": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "EndTime": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"), "ScanBy": "TimestampAscending"}
        r, raw, parsed = self._query_protocol(params, "GetMetricData")
        self.assertTrue(r.headers["Content-Type"].startswith("text/xml"))
        self.assertIn(b'xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"', raw)
        own = self.sim.metrics(iid)
        res = parsed["MetricDataResults"][0]
        self.assertEqual(res["Id"], "c")
        self.assertEqual([round(v, 4) for v in res["Values"]], [round(v, 4) for v in own["values"]])
        self.assertIsInstance(res["Timestamps"][0], datetime.datetime)
        params = {"Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": "AWS/EC2",
                  "MetricName": "CPUUtilization", "Dimensions.member.1.Name": "InstanceId",
                  "Dimensions.member.1.Value": iid, "StartTime": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "EndTime": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"), "Period": "300",
                  "Statistics.member.1": "Average", "ExtendedStatistics.member.1": "p90"}
        _, _, parsed = self._query_protocol(params, "GetMetricStatistics")
        self.assertTrue(parsed["Datapoints"])
        self.assertIn("p90", parsed["Datapoints"][0]["ExtendedStatistics"])

    def test_query_protocol_error_shape(self):
        params = {"Action": "GetMetricData", "Version": "2010-08-01", "StartTime": "2024-01-01T00:00:00Z",
                  "EndTime": "2023-01-01T00:00:00Z", "MetricDataQueries.member.1.Id": "a",
                  "MetricDataQueries.member.1.MetricStat.Metric.Namespace": "AWS/EC2",
                  "MetricDataQueries.member.1.MetricStat.Metric.MetricName": "CPUUtilization",
                  "MetricDataQueries.member.1.MetricStat.Period": "60",
                  "MetricDataQueries.member.1.MetricStat.Stat": "Average"}
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self._query_protocol(params, "GetMetricData")
        body = cm.exception.read()
        self.assertEqual(cm.exception.code, 400)
        self.assertIn(b"<ErrorResponse", body)
        self.assertIn(b"<Code>ValidationError</Code>", body)


if __name__ == "__main__":
    frugaltest.run_tests()
