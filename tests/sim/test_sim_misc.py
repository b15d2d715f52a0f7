"""frugal-sim STS and Pricing with boto3, and the control API: clock,
reset (to a seed or a hand-written world), cluster internals, calls,
world, 404s."""
import json
import time
import unittest

from botocore.exceptions import ClientError

import frugaltest
from simctl import Sim


class StsPricingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=2)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_get_caller_identity(self):
        r = self.sim.client("sts").get_caller_identity()
        self.assertEqual(r["Account"], "123456789012")
        self.assertEqual(r["Arn"], "arn:aws:iam::123456789012:user/frugal-sim")
        self.assertTrue(r["ResponseMetadata"]["RequestId"])
        self.assertEqual(r["ResponseMetadata"]["HTTPHeaders"]["content-type"], "text/xml")

    def test_assume_role(self):
        r = self.sim.client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/ops", RoleSessionName="me")
        self.assertTrue(r["Credentials"]["SessionToken"])
        with self.assertRaises(ClientError) as cm:
            self.sim.client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/ops", RoleSessionName="me",
                                               DurationSeconds=10 ** 6)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")

    def test_get_products(self):
        pr = self.sim.client("pricing")
        self.assertEqual(pr.meta.service_model.endpoint_prefix, "api.pricing")
        r = pr.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1", Filters=[
            {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"},
            {"Type": "TERM_MATCH", "Field": "location", "Value": "US East (N. Virginia)"},
            {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"}])
        self.assertEqual(len(r["PriceList"]), 1)
        self.assertIsInstance(r["PriceList"][0], str)
        p = json.loads(r["PriceList"][0])
        self.assertEqual(p["product"]["attributes"]["instanceType"], "m5.large")
        self.assertEqual(p["serviceCode"], "AmazonEC2")
        od = next(iter(p["terms"]["OnDemand"].values()))
        price = float(next(iter(od["priceDimensions"].values()))["pricePerUnit"]["USD"])
        self.assertAlmostEqual(price, 0.096, places=6)
        # the same structure as the real response in the shared data
        pages = list(pr.get_paginator("get_products").paginate(
            ServiceCode="AmazonEC2", Filters=[{"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"}]))
        self.assertGreater(len(pages), 5)
        total = sum(len(pg["PriceList"]) for pg in pages)
        self.assertGreater(total, 800)
        svc = pr.describe_services(ServiceCode="AmazonEC2")["Services"][0]
        self.assertIn("instanceType", svc["AttributeNames"])
        vals = pr.get_attribute_values(ServiceCode="AmazonEC2", AttributeName="operatingSystem")["AttributeValues"]
        self.assertEqual({v["Value"] for v in vals}, {"Linux", "Windows"})
        with self.assertRaises(ClientError) as cm:
            pr.get_products(ServiceCode="AmazonEC2", NextToken="bogus")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidNextTokenException")


class ControlTest(unittest.TestCase):
    def test_clock(self):
        with Sim(clusters=2, args=["--clock-speed", "60"]) as sim:
            c1 = sim.clock()
            self.assertEqual(c1["speed"], 60)
            time.sleep(0.5)
            c2 = sim.clock()
            self.assertGreater(c2["now_ms"] - c1["now_ms"], 25000)
            sim.control("POST", "/_sim/clock/speed", {"speed": 0})
            a = sim.clock()["now_ms"]
            time.sleep(0.2)
            self.assertEqual(sim.clock()["now_ms"], a)
            c3 = sim.advance(3600)
            self.assertEqual(c3["now_ms"], a + 3600000)
            self.assertEqual(c3["advanced_s"], 3600)
            status, _, _ = frugaltest.http_json(sim.addr, "POST", "/_sim/clock/advance", {"seconds": -5})
            self.assertEqual(status, 400)

    def test_start_time_and_anchor(self):
        with Sim(clusters=2, args=["--start-time", "2025-03-04T05:06:07Z", "--clock-speed", "0"]) as sim:
            c = sim.clock()
            self.assertEqual(c["start"], "2025-03-04T05:06:07Z")
            self.assertEqual(c["world_anchor"], "2025-03-04T05:06:00Z")
            self.assertEqual(sim.ready["start"], "2025-03-04T05:06:07Z")

    def test_reset_world_and_details(self):
        with Sim(clusters=4, seed=5) as sim:
            emr = sim.client("emr")
            emr.run_job_flow(Name="EXTRA", Instances={"InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}]})
            self.assertEqual(len(emr.list_clusters()["Clusters"]), 5)
            sim.faults({"service": "emr", "throttle_rate": 0.01})
            r = sim.reset()
            self.assertEqual(r["clusters"], 4)
            self.assertEqual(len(emr.list_clusters()["Clusters"]), 4)
            self.assertEqual(sim.control("GET", "/_sim/faults")["rules"], [])
            r = sim.reset(seed=77, clusters=9)
            self.assertEqual(r["clusters"], 9)
            self.assertEqual(sim.world()["seed"], 77)
            world = {"clusters": [{"name": "tiny", "start_offset_s": -3600, "config": {
                "Name": "tiny", "Instances": {"InstanceGroups": [
                    {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                    {"InstanceRole": "CORE", "InstanceType": "m5.2xlarge", "InstanceCount": 2}],
                    "KeepJobFlowAliveWhenNoSteps": False}},
                "steps": [{"name": "s", "args": ["x"], "work_vcpu_s": 7200, "parallelism": 100, "overhead_s": 10}],
                "profiles": {"CORE": {"shape": "steady", "cpu": 80, "mem": 30}}}]}
            sim.reset(world=world)
            cl = emr.list_clusters()["Clusters"]
            self.assertEqual([c["Name"] for c in cl], ["tiny"])
            d = sim.cluster(cl[0]["Id"])
            self.assertEqual(d["state"], "TERMINATED")
            self.assertEqual(d["capacity"]["vcpu"], 16)
            self.assertEqual(d["steps"][0]["duration_on_this_cluster_ms"], (10 + 7200 / 16) * 1000)
            self.assertEqual(d["measured"]["CORE"]["workload"], "CPU_HEAVY")
            self.assertEqual(d["profiles"]["CORE"]["cpu"], 80)
            self.assertEqual(len(d["instances"]), 3)
            status, body, _ = frugaltest.http_json(sim.addr, "POST", "/_sim/reset",
                                                   {"world": {"clusters": [{"name": "x"}]}})
            self.assertEqual(status, 400)
            self.assertEqual([c["Name"] for c in emr.list_clusters()["Clusters"]], ["tiny"])  # unchanged

    def test_world_file_and_world_out(self):
        import os
        import tempfile
        out = tempfile.mktemp(suffix=".json")
        try:
            with Sim(clusters=3, seed=8, args=["--world-out", out]) as sim:
                served = sim.world()
            with open(out) as f:
                written = json.load(f)
            self.assertEqual(served, written)
            with Sim(world=written) as sim2:
                self.assertEqual([c["id"] for c in sim2.world()["clusters"]], [c["id"] for c in written["clusters"]])
                ids = {c["Id"] for c in sim2.client("emr").list_clusters()["Clusters"]}
                self.assertEqual(ids, {c["id"] for c in written["clusters"]})
        finally:
            if os.path.exists(out):
                os.unlink(out)

    def test_calls_invocations_and_404(self):
        with Sim(clusters=2) as sim:
            sim.client("emr").list_clusters()
            sim.client("emr").list_clusters()
            calls = sim.calls()
            self.assertEqual(calls["services"]["emr"]["ListClusters"]["count"], 2)
            sim.control("DELETE", "/_sim/calls")
            self.assertEqual(sim.calls()["total"], 0)
            self.assertEqual(sim.invocations(), [])
            self.assertEqual(sim.control("GET", "/_sim/lambda/delay")["seconds"], 0)
            status, body, _ = frugaltest.http_json(sim.addr, "GET", "/_sim/nope")
            self.assertEqual(status, 404)
            status, body, _ = frugaltest.http_json(sim.addr, "GET", "/_sim/clusters/j-NOTHERE")
            self.assertEqual(status, 404)
            h = sim.control("GET", "/_sim/health")
            self.assertTrue(h["ok"])
            lst = sim.control("GET", "/_sim/clusters")["clusters"]
            self.assertEqual(len(lst), 2)


if __name__ == "__main__":
    frugaltest.run_tests()
