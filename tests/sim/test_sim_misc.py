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


class MalformedInputTest(unittest.TestCase):
    """Every request parser of frugal-sim (awsJson, query/form, EC2 query,
    the control API) and every file it reads at start-up answers malformed
    input with a clear error, and a refused request changes nothing."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=2, args=["--no-verify"])

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def raw(self, path, body, headers):
        return frugaltest.http_json(self.sim.addr, "POST", path, body=body, headers=headers, raw=True)

    def test_aws_protocols(self):
        before = self.sim.world()
        json_bodies = ["not json", '{"ClusterId":', "[1]", '"j-1"', b'{"ClusterId": "\xff"}',
                       '{"ClusterId": "a\\u0000b"}', b'{"ClusterId": "j-1\x00"}']
        for target, ctype in (("ElasticMapReduce.DescribeCluster", "application/x-amz-json-1.1"),
                              ("AmazonSSM.PutParameter", "application/x-amz-json-1.1"),
                              ("GraniteServiceVersion20100801.GetMetricData", "application/x-amz-json-1.0")):
            for body in json_bodies:
                st, b, _ = self.raw("/", body, {"X-Amz-Target": target, "Content-Type": ctype})
                self.assertEqual(st, 400, (target, body))
                self.assertEqual(json.loads(b)["__type"], "SerializationException", (target, body))
        # wrong types and missing required fields
        st, b, _ = self.raw("/", '{"ClusterId": 5}', {"X-Amz-Target": "ElasticMapReduce.DescribeCluster",
                                                       "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual((st, json.loads(b)["__type"]), (400, "ValidationException"))
        st, b, _ = self.raw("/", '{"Name": ["/x"], "Value": 1}', {"X-Amz-Target": "AmazonSSM.PutParameter",
                                                                  "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual((st, json.loads(b)["__type"]), (400, "ValidationException"))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body, code in (("Action=DescribeInstances&Version=2016-11-15&MaxResults=abc", b"InvalidParameterValue"),
                           ("Action=DescribeInstances&Version=2016-11-15&MaxResults=99999999999999999999",
                            b"InvalidParameterValue"),
                           ("Action=DescribeInstances&Version=2016-11-15&InstanceId.1=%zz", b"SerializationException"),
                           ("Action=DescribeSpotPriceHistory&Version=2016-11-15&StartTime=yesterday",
                            b"InvalidParameterValue"),
                           ("Action=RunInstances&Version=2016-11-15&MinCount=-1&MaxCount=x&ImageId=ami-1"
                            "&InstanceType=m5.large", b"InvalidParameterValue"),
                           ("Action=GetMetricStatistics&Version=2010-08-01&Period=x", b"MissingParameter")):
            st, b, _ = self.raw("/", body, form)
            self.assertEqual(st, 400, body)
            self.assertIn(b"<Code>" + code + b"</Code>", b, body)
        self.assertEqual(self.sim.world(), before)
        self.assertEqual(len(self.sim.client("ec2").describe_instances()["Reservations"]),
                         len(self.sim.client("ec2").describe_instances()["Reservations"]))

    def test_control_bodies(self):
        world, faults = self.sim.world(), self.sim.control("GET", "/_sim/faults")
        self.sim.faults({"service": "ssm", "throttle_rate": 0.25})
        faults = self.sim.control("GET", "/_sim/faults")
        clock = self.sim.clock()["advanced_s"]
        paths = ["/_sim/reset", "/_sim/clock/advance", "/_sim/clock/speed", "/_sim/faults", "/_sim/interrupt",
                 "/_sim/ec2/capacity", "/_sim/lambda/delay", "/_sim/chat/script", "/_sim/imds", "/_sim/sqs/send"]
        for path in paths:
            # [1] was read as "no options": /_sim/reset rebuilt the world, /_sim/ec2/capacity answered ok
            bodies = ["not json", '{"x":', b"\xff\xfe", '"x"', "3"] + ([] if path == "/_sim/faults" else ["[1]"])
            for body in bodies:
                st, b, _ = frugaltest.http_json(self.sim.addr, "POST", path, body)
                self.assertEqual(st, 400, (path, body, b))
                self.assertEqual(sorted(b), ["error", "message"], (path, body))
        for rule in ({"service": "*", "servce": "ssm"},  # was: an all-zero '*' rule, replacing the real one
                     {"service": 5}, {"service": "ssm", "throttle_rate": "half"},
                     {"service": "ssm", "latency_ms": "40"}, {"service": "ssm", "error_status": "500"},
                     {"service": "ssm", "rate_limit": 10}, {"service": "ssm", "slow_body_ms": "1"},
                     [{"service": "emr", "throttle_rate": 1}, {"service": "nope"}]):  # all or nothing
            st, b, _ = frugaltest.http_json(self.sim.addr, "POST", "/_sim/faults", rule)
            self.assertEqual(st, 400, rule)
            self.assertEqual(b["error"], "bad_fault", rule)
        self.assertEqual(self.sim.control("GET", "/_sim/faults")["rules"], faults["rules"])
        self.sim.clear_faults()
        self.assertEqual(self.sim.world(), world, "no reset happened")
        self.assertEqual(self.sim.clock()["advanced_s"], clock)

    def start_fails(self, args, *needles):
        import subprocess
        from simctl import sim_binary
        p = subprocess.run([sim_binary(), "--listen", "127.0.0.1:0"] + args, capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0, args)
        out = p.stdout + p.stderr
        self.assertIn("start_failed", out, args)
        for n in needles:
            self.assertIn(n, out, args)

    def test_start_up_files(self):
        import os
        import tempfile
        d = tempfile.mkdtemp(prefix="sim-bad-")
        self.addCleanup(lambda: [os.unlink(os.path.join(d, f)) for f in os.listdir(d)] and os.rmdir(d))

        def f(name, text):
            path = os.path.join(d, name)
            with open(path, "wb") as fh:
                fh.write(text if isinstance(text, bytes) else text.encode())
            return path

        hdr = ("instance_type,family,vcpu,memory_gib,arch_rule,ondemand_linux_usd_per_hour,emr_supported,"
               "spot_savings_pct_vs_od,spot_interrupt_bucket\n")
        cat = f("cat.csv", hdr + "m5.large,m5,2,8,x86_64,0.096,true,60,<5%\nm5.xl,m5,4,16,x86_64,cheap,true,60,<5%\n")
        self.start_fails(["--catalog", cat], cat + ":3")
        empty = f("empty.csv", "")
        self.start_fails(["--catalog", empty], empty, "no instance types")
        chat = f("chat.json", '{"rules": [\n')
        self.start_fails(["--chat-script", chat], chat + ":2")
        chat2 = f("chat2.json", '{"rules": 5}')
        self.start_fails(["--chat-script", chat2], chat2, "rules")
        prices = f("prices.csv", "Timestamp,InstanceType\n2023,c5\n")
        self.start_fails(["--prices", prices], prices, "header")
        prices2 = f("prices2.json", b"\x00\x01\x02")
        self.start_fails(["--prices", prices2], prices2)
        world = f("world.json", '{"clusters": [')
        self.start_fails(["--world", world], world, "line 1")
        world2 = f("world2.json", '{"clusters": [{"name": 5}]}')
        self.start_fails(["--world", world2], world2, "clusters[0]")
        world3 = f("world3.json", b'{"clusters": "\xff"}')
        self.start_fails(["--world", world3], world3)
        self.start_fails(["--faults", '{"service": "emr", "throtle_rate": 1}'], "throtle_rate")
        self.start_fails(["--faults", "[{"], "--faults")

    def test_traces_dir(self):
        """--traces DIR: a directory that is not there, holds no traces, or has
        a trace file that cannot be read or is malformed stops start-up
        naming the file (and line). Files that are not traces are not read."""
        import os
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="sim-traces-")
        self.addCleanup(shutil.rmtree, d)
        nab = os.path.join(d, "nab_cloudwatch")
        bb = os.path.join(d, "bitbrains")

        def f(path, text):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(text if isinstance(text, bytes) else text.encode())
            return path

        self.start_fails(["--traces", os.path.join(d, "missing")], os.path.join(d, "missing"), "cannot open")
        f(os.path.join(d, "README"), "the traces go in nab_cloudwatch/ and bitbrains/\n")
        self.start_fails(["--traces", d], d, "no traces")
        f(os.path.join(d, "plain-file"), "x")
        self.start_fails(["--traces", os.path.join(d, "plain-file")], "plain-file", "cannot open")
        rows = "".join("2014-02-14 14:%02d:00,%d\n" % (i, i) for i in range(12))
        good = f(os.path.join(nab, "ec2_cpu_utilization_good.csv"), "timestamp,value\n" + rows)
        # not traces: the licence, other metrics, a README (and no error for them)
        f(os.path.join(nab, "LICENSE_NAB.txt"), "licence text, not CSV\n")
        f(os.path.join(nab, "ec2_network_in_1.csv"), "timestamp,value\n2014-02-14 14:30:00,5e9\n")
        f(os.path.join(nab, "README.md"), "# notes\n")
        with Sim(clusters=2, args=["--traces", d]) as sim:
            self.assertTrue(sim.world()["traces"])
        cases = [
            ("timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,abc\n", ":3:", "abc"),
            ("", "empty"),
            ("not,a,trace\n1,2,3\n", ":1:", "timestamp,value"),
            (b"\x00\x01\x02\xff", ":1:"),
            ("timestamp,value\n" + rows + "2014-02-14 15:00:00\n", ":14:", "2 fields"),
            ("timestamp,value\n2014-02-14 14:30:00,-5\n", ":2:", "-5"),
            ("timestamp,value\n2014-02-14 14:30:00,1\n", "1 points"),
        ]
        bad = os.path.join(nab, "ec2_cpu_utilization_bad.csv")
        for text, *needles in cases:
            f(bad, text)
            self.start_fails(["--traces", d], bad, *needles)
        os.unlink(bad)
        # a trace file that cannot be read: a directory with a trace's name
        os.makedirs(bad)
        self.start_fails(["--traces", d], bad, "cannot read")
        os.rmdir(bad)
        head = ("vm_id,timestamp_s,cpu_cores,cpu_capacity_mhz,cpu_usage_mhz,cpu_usage_pct,mem_capacity_kb,"
                "mem_usage_kb\n")
        bbf = os.path.join(bb, "rnd_2013-07_8vms.csv")
        for text, *needles in [(head + "vm1,1,1,2600,20,0.8,4194304,100\nvm1,2,1,2600,20,0.8,lots,100\n",
                                ":3:", "mem_capacity_kb"),
                               (head + "vm1,1,1,2600,20,0.8\n", ":2:", "6 fields, want 8"),
                               (head, "no rows")]:
            f(bbf, text)
            self.start_fails(["--traces", d], bbf, *needles)
        os.unlink(good)
        f(bbf, head + "vm1,1,1,2600,20,0.8,4194304,100\n")
        with Sim(clusters=2, args=["--traces", d]) as sim:  # the Bitbrains part alone is enough
            self.assertTrue(sim.world()["traces"])

    def test_command_line(self):
        """A bad command line: exit status 2 and one line on stderr naming the
        flag (not the usage text); --help prints the usage with 0."""
        import subprocess
        from simctl import sim_binary

        def run(*args):
            return subprocess.run([sim_binary()] + list(args), capture_output=True, text=True, timeout=30)

        cases = [
            (["--bogus"], "unknown option --bogus"),
            (["-x"], "unknown option -x"),
            (["--clusters=5"], "unknown option --clusters=5"),
            (["positional"], 'unexpected argument "positional"'),
            (["--clusters"], "--clusters needs a value"),
            (["--listen", "127.0.0.1:0", "--seed"], "--seed needs a value"),
            (["--clusters", "abc"], '--clusters: want an integer from 0 to 5000, got "abc"'),
            (["--clusters", "-1"], '--clusters: want an integer from 0 to 5000, got "-1"'),
            (["--clusters", "5001"], "--clusters: want an integer"),
            (["--clusters", "3.5"], "--clusters: want an integer"),
            (["--ec2-instances", ""], "--ec2-instances: want an integer"),
            (["--clock-speed", "-1"], '--clock-speed: want a number from 0 to 1000000, got "-1"'),
            (["--clock-speed", "fast"], "--clock-speed: want a number"),
            (["--clock-speed", "nan"], "--clock-speed: want a number"),
            (["--lambda-delay", "1e9"], "--lambda-delay: want a number from 0 to 86400"),
            (["--seed", "x"], '--seed: want an integer >= 0, got "x"'),
            (["--seed", "-1"], "--seed: want an integer >= 0"),
            (["--seed", "99999999999999999999999"], "--seed: want an integer >= 0"),
            (["--listen", "nonsense"], '--listen: want ADDR:PORT (an IP address, port 0-65535), got "nonsense"'),
            (["--listen", "127.0.0.1:65536"], "--listen: want ADDR:PORT"),
            (["--listen", "127.0.0.1:-1"], "--listen: want ADDR:PORT"),
            (["--listen", "example.com:80"], "--listen: want ADDR:PORT"),
            (["--imds-listen", "127.0.0.1"], "--imds-listen: want ADDR:PORT"),
            (["--start-time", "yesterday"], "--start-time: want an ISO 8601 time"),
            (["--log-level", "loud"], "--log-level: want debug, info, warn or error"),
            (["--region", "r" * 40], "--region: want 1 to 31 characters"),
            (["--access-key-id", ""], "--access-key-id: want 1 to 127 characters"),
            (["--world", ""], "--world: want a non-empty value"),
        ]
        for args, needle in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(p.stdout, "", args)
            lines = p.stderr.splitlines()
            self.assertEqual(len(lines), 1, (args, p.stderr))
            self.assertTrue(lines[0].startswith("frugal-sim: "), (args, p.stderr))
            self.assertIn(needle, lines[0], args)
        for flag in ("--help", "-h"):
            p = run("--clusters", "3", flag)
            self.assertEqual(p.returncode, 0, flag)
            self.assertTrue(p.stdout.startswith("usage: frugal-sim"), flag)
            self.assertIn("--traces DIR", p.stdout)
            self.assertEqual(p.stderr, "")
        # still accepted: 0 stops the clock, port 0 is any port
        with Sim(clusters=0, args=["--clock-speed", "0", "--imds-listen", "127.0.0.1:0"]) as sim:
            self.assertEqual(sim.clock()["speed"], 0)


if __name__ == "__main__":
    frugaltest.run_tests()
