"""frugal-sim EC2 (query/XML wire), SQS (JSON wire, long polling) and IMDS:
instances of the spot optimizer, spot prices (model and replay), launches
with capacity errors and DryRun, interruptions with the two-minute notice
seen through SQS events and IMDS."""
import datetime
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.request

from botocore.config import Config
from botocore.exceptions import ClientError

import frugaltest
from simctl import Sim


class Ec2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=6, seed=9, imds=True)
        cls.ec2 = cls.sim.client("ec2")
        cls.sqs = cls.sim.client("sqs")
        cls.world = cls.sim.world()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def managed(self):
        r = self.ec2.describe_instances(Filters=[{"Name": "tag:frugal:managed", "Values": ["true"]},
                                                 {"Name": "instance-state-name", "Values": ["running"]}])
        return [i for res in r["Reservations"] for i in res["Instances"]]

    def test_describe_instances(self):
        insts = self.managed()
        want = [e for e in self.world["ec2_instances"] if e["tags"].get("frugal:managed") == "true"]
        self.assertEqual(sorted(i["InstanceId"] for i in insts), sorted(e["id"] for e in want))
        for i in insts:
            self.assertEqual(i["State"]["Name"], "running")
            self.assertEqual(i["State"]["Code"], 16)
            self.assertIsInstance(i["LaunchTime"], datetime.datetime)
            self.assertTrue(i["Placement"]["AvailabilityZone"].startswith("us-east-1"))
            self.assertIn(i["Architecture"], ("x86_64", "arm64"))
            tags = {t["Key"]: t["Value"] for t in i["Tags"]}
            self.assertEqual(tags["frugal:managed"], "true")
            if i.get("InstanceLifecycle") == "spot":
                self.assertTrue(i["SpotInstanceRequestId"].startswith("sir-"))
        one = self.ec2.describe_instances(InstanceIds=[insts[0]["InstanceId"]])["Reservations"]
        self.assertEqual(one[0]["Instances"][0]["InstanceId"], insts[0]["InstanceId"])
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidInstanceID.NotFound")
        # EMR nodes are EC2 instances too
        emr_nodes = self.ec2.describe_instances(Filters=[{"Name": "tag-key",
                                                          "Values": ["aws:elasticmapreduce:job-flow-id"]}])
        self.assertIsInstance(emr_nodes["Reservations"], list)
        # paging
        pages = list(self.ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
        ids = [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreater(len(pages), 1)

    def test_describe_instance_types_and_azs(self):
        r = self.ec2.describe_instance_types(InstanceTypes=["r7g.4xlarge", "m5.xlarge"])["InstanceTypes"]
        by = {t["InstanceType"]: t for t in r}
        self.assertEqual(by["r7g.4xlarge"]["VCpuInfo"]["DefaultVCpus"], 16)
        self.assertEqual(by["r7g.4xlarge"]["MemoryInfo"]["SizeInMiB"], 131072)
        self.assertEqual(by["r7g.4xlarge"]["ProcessorInfo"]["SupportedArchitectures"], ["arm64"])
        self.assertEqual(by["m5.xlarge"]["ProcessorInfo"]["SupportedArchitectures"], ["x86_64"])
        self.assertIn("spot", by["m5.xlarge"]["SupportedUsageClasses"])
        graviton = [t for p in self.ec2.get_paginator("describe_instance_types").paginate(
            Filters=[{"Name": "processor-info.supported-architecture", "Values": ["arm64"]},
                     {"Name": "instance-type", "Values": ["c7g.*"]}]) for t in p["InstanceTypes"]]
        self.assertTrue(graviton)
        self.assertTrue(all(t["InstanceType"].startswith("c7g.") for t in graviton))
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_instance_types(InstanceTypes=["m5.mega"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidInstanceType")
        azs = self.ec2.describe_availability_zones()["AvailabilityZones"]
        self.assertEqual([a["ZoneName"] for a in azs], ["us-east-1" + c for c in "abcdef"])
        self.assertTrue(all(a["State"] == "available" and a["ZoneId"].startswith("use1-az") for a in azs))

    def test_spot_price_history_model(self):
        now = datetime.datetime.fromtimestamp(self.sim.now(), datetime.timezone.utc)
        r = self.ec2.describe_spot_price_history(InstanceTypes=["m5.xlarge"], ProductDescriptions=["Linux/UNIX"],
                                                 StartTime=now - datetime.timedelta(days=1), EndTime=now)
        h = r["SpotPriceHistory"]
        self.assertTrue(h)
        self.assertEqual({x["AvailabilityZone"] for x in h}, {"us-east-1" + c for c in "abcdef"})
        ts = [x["Timestamp"] for x in h]
        self.assertEqual(ts, sorted(ts, reverse=True))
        for x in h:
            self.assertEqual(x["InstanceType"], "m5.xlarge")
            self.assertLess(float(x["SpotPrice"]), 0.192 + 1e-9)
            self.assertGreater(float(x["SpotPrice"]), 0)
        # the same question gives the same answer (a deterministic model)
        again = self.ec2.describe_spot_price_history(InstanceTypes=["m5.xlarge"], ProductDescriptions=["Linux/UNIX"],
                                                     StartTime=now - datetime.timedelta(days=1), EndTime=now)
        self.assertEqual([(x["AvailabilityZone"], x["SpotPrice"]) for x in again["SpotPriceHistory"]],
                         [(x["AvailabilityZone"], x["SpotPrice"]) for x in h])
        only_a = self.ec2.describe_spot_price_history(InstanceTypes=["m5.xlarge"], AvailabilityZone="us-east-1a",
                                                      ProductDescriptions=["Linux/UNIX"])["SpotPriceHistory"]
        self.assertEqual(len(only_a), 1)  # no time range: the price in effect now
        pages = list(self.ec2.get_paginator("describe_spot_price_history").paginate(
            Filters=[{"Name": "instance-type", "Values": ["c5.*", "m5.*"]}],
            StartTime=now - datetime.timedelta(hours=6), EndTime=now, PaginationConfig={"PageSize": 100}))
        self.assertGreater(len(pages), 1)

    def test_run_terminate_tags_dryrun_capacity(self):
        ec2 = self.ec2
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(ImageId="ami-1", InstanceType="m5.large", MinCount=1, MaxCount=1, DryRun=True)
        self.assertEqual(cm.exception.response["Error"]["Code"], "DryRunOperation")
        r = ec2.run_instances(ImageId="ami-1", InstanceType="m5.large", MinCount=1, MaxCount=1,
                              InstanceMarketOptions={"MarketType": "spot",
                                                     "SpotOptions": {"SpotInstanceType": "one-time"}},
                              Placement={"AvailabilityZone": "us-east-1c"},
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": "Name", "Value": "sim-test"}]}])
        inst = r["Instances"][0]
        iid = inst["InstanceId"]
        self.assertEqual(inst["State"]["Name"], "pending")
        self.assertEqual(inst["InstanceLifecycle"], "spot")
        self.assertEqual(inst["Placement"]["AvailabilityZone"], "us-east-1c")
        self.sim.advance(30)
        ec2.create_tags(Resources=[iid], Tags=[{"Key": "frugal:managed", "Value": "true"}])
        d = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(d["State"]["Name"], "running")
        self.assertEqual({t["Key"] for t in d["Tags"]}, {"Name", "frugal:managed"})
        sirs = ec2.describe_spot_instance_requests(Filters=[{"Name": "instance-id", "Values": [iid]}])
        sir = sirs["SpotInstanceRequests"][0]
        self.assertEqual(sir["State"], "active")
        self.assertEqual(sir["Status"]["Code"], "fulfilled")
        t = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
        self.assertEqual(t["CurrentState"]["Name"], "shutting-down")
        self.assertEqual(t["PreviousState"]["Name"], "running")
        self.sim.advance(60)
        d = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(d["State"]["Name"], "terminated")
        # capacity holes, set through the control API
        self.sim.control("POST", "/_sim/ec2/capacity", {"instance_type": "c5.xlarge", "az": "us-east-1b",
                                                       "available": False})
        with self.assertRaises(ClientError) as cm:
            ec2.run_instances(ImageId="ami-1", InstanceType="c5.xlarge", MinCount=1, MaxCount=1,
                              Placement={"AvailabilityZone": "us-east-1b"})
        self.assertEqual(cm.exception.response["Error"]["Code"], "InsufficientInstanceCapacity")
        ok = ec2.run_instances(ImageId="ami-1", InstanceType="c5.xlarge", MinCount=1, MaxCount=1)
        self.assertNotEqual(ok["Instances"][0]["Placement"]["AvailabilityZone"], "us-east-1b")
        # and through a fault rule
        self.sim.faults({"service": "ec2", "operation": "RunInstances", "error_rate": 1,
                         "error_code": "InsufficientInstanceCapacity", "error_status": 500})
        try:
            with self.assertRaises(ClientError) as cm:
                ec2.run_instances(ImageId="ami-1", InstanceType="m5.large", MinCount=1, MaxCount=1)
            self.assertEqual(cm.exception.response["Error"]["Code"], "InsufficientInstanceCapacity")
        finally:
            self.sim.clear_faults()

    def test_interruption_events_and_imds(self):
        victim = next(i for i in self.managed() if i.get("InstanceLifecycle") == "spot")
        iid = victim["InstanceId"]
        self.sim.control("POST", "/_sim/imds", {"instance_id": iid})
        # IMDSv2: token first
        tok = self._imds("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self._imds("GET", "/latest/meta-data/instance-id")
        self.assertEqual(cm.exception.code, 401)
        h = {"X-aws-ec2-metadata-token": tok}
        self.assertEqual(self._imds("GET", "/latest/meta-data/instance-id", h), iid)
        self.assertEqual(self._imds("GET", "/latest/meta-data/placement/availability-zone", h),
                         victim["Placement"]["AvailabilityZone"])
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self._imds("GET", "/latest/meta-data/spot/instance-action", h)
        self.assertEqual(cm.exception.code, 404)
        qurl = self.sqs.get_queue_url(QueueName="frugal-interruptions")["QueueUrl"]
        self.sqs.purge_queue(QueueUrl=qurl)
        self.sim.interrupt(iid, "rebalance")
        self.sim.interrupt(iid, "interruption")
        action = json.loads(self._imds("GET", "/latest/meta-data/spot/instance-action", h))
        self.assertEqual(action["action"], "terminate")
        reb = json.loads(self._imds("GET", "/latest/meta-data/events/recommendations/rebalance", h))
        self.assertIn("noticeTime", reb)
        at = datetime.datetime.fromisoformat(action["time"].replace("Z", "+00:00"))
        self.assertAlmostEqual((at.timestamp() - self.sim.now()), 120, delta=3)
        events = self._drain(qurl, 2)
        kinds = [e["detail-type"] for e in events]
        self.assertEqual(kinds, ["EC2 Instance Rebalance Recommendation", "EC2 Spot Instance Interruption Warning"])
        for e in events:
            self.assertEqual(e["source"], "aws.ec2")
            self.assertEqual(e["detail"]["instance-id"], iid)
            self.assertTrue(e["resources"][0].endswith("instance/" + iid))
        self.assertEqual(events[1]["detail"]["instance-action"], "terminate")
        self.sim.advance(125)
        self.sim.advance(40)
        events = self._drain(qurl, 2)
        self.assertEqual([(e["detail-type"], e["detail"]["state"]) for e in events],
                         [("EC2 Instance State-change Notification", "shutting-down"),
                          ("EC2 Instance State-change Notification", "terminated")])
        d = self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(d["State"]["Name"], "terminated")
        self.assertEqual(d["StateReason"]["Code"], "Server.SpotInstanceTermination")
        sir = self.ec2.describe_spot_instance_requests(Filters=[{"Name": "instance-id", "Values": [iid]}])
        self.assertEqual(sir["SpotInstanceRequests"][0]["Status"]["Code"], "instance-terminated-no-capacity")

    def test_imds_credentials_are_accepted(self):
        tok = self._imds("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
        h = {"X-aws-ec2-metadata-token": tok}
        role = self._imds("GET", "/latest/meta-data/iam/security-credentials/", h).strip()
        creds = json.loads(self._imds("GET", "/latest/meta-data/iam/security-credentials/" + role, h))
        self.assertEqual(creds["Code"], "Success")
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        exp = datetime.datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
        left = exp.timestamp() - time.time()
        self.assertTrue(600 < left <= 1800, left)
        emr = self.sim.client("emr", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["Token"])
        self.assertIsInstance(emr.list_clusters()["Clusters"], list)
        ident = self.sim.client("sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                                token=creds["Token"]).get_caller_identity()
        self.assertIn(":assumed-role/" + role + "/", ident["Arn"])
        # without the session token the key is refused
        bad = self.sim.client("emr", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
        with self.assertRaises(ClientError) as cm:
            bad.list_clusters()
        self.assertEqual(cm.exception.response["Error"]["Code"], "UnrecognizedClientException")

    def test_botocore_imds_provider(self):
        from botocore.utils import InstanceMetadataFetcher
        f = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=self.sim.imds_url)
        creds = f.retrieve_iam_role_credentials()
        self.assertTrue(creds["access_key"].startswith("ASIA"))
        self.assertTrue(creds["token"])

    def _imds(self, method, path, headers=None):
        req = urllib.request.Request(self.sim.imds_url + path, method=method, headers=headers or {})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode()

    def _drain(self, qurl, n):
        out = []
        deadline = time.time() + 10
        while len(out) < n and time.time() < deadline:
            r = self.sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
        return out


class SqsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=2, seed=2)
        cls.sqs = cls.sim.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_send_receive_delete_visibility(self):
        sqs = self.sqs
        url = sqs.create_queue(QueueName="sim-test-q", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        self.assertIn("/123456789012/sim-test-q", url)
        self.assertIn(url, sqs.list_queues()["QueueUrls"])
        s = sqs.send_message(QueueUrl=url, MessageBody="hello",
                             MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        self.assertEqual(s["MD5OfMessageBody"], "5d41402abc4b2a76b9719d911017c592")
        self.assertIn("MD5OfMessageAttributes", s)
        r = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
        self.assertEqual(r[0]["Body"], "hello")
        self.assertEqual(r[0]["MessageAttributes"]["k"]["StringValue"], "v")
        self.assertEqual(r[0]["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertNotIn("Messages", sqs.receive_message(QueueUrl=url))  # in flight
        time.sleep(2.2)
        r2 = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
        self.assertEqual(r2[0]["Attributes"]["ApproximateReceiveCount"], "2")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=r2[0]["ReceiptHandle"])
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["ApproximateNumberOfMessages"], "0")
        with self.assertRaises(ClientError) as cm:
            sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ReceiptHandleIsInvalid")
        with self.assertRaises(sqs.exceptions.QueueDoesNotExist) as cm:
            sqs.get_queue_url(QueueName="nope")
        self.assertEqual(cm.exception.response["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue")

    def test_long_poll_waits_without_blocking(self):
        url = self.sqs.get_queue_url(QueueName="frugal-interruptions")["QueueUrl"]
        self.sqs.purge_queue(QueueUrl=url)
        # an empty long poll waits its full time
        t0 = time.time()
        r = self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        self.assertNotIn("Messages", r)
        self.assertGreater(time.time() - t0, 0.9)
        # while one client waits, others are served, and a message wakes it
        got = {}

        def waiter():
            c = self.sim.client("sqs", config=Config(read_timeout=30, retries={"max_attempts": 1}))
            t = time.time()
            got["r"] = c.receive_message(QueueUrl=url, WaitTimeSeconds=10)
            got["t"] = time.time() - t

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.3)
        t1 = time.time()
        self.sim.client("emr").list_clusters()
        self.assertLess(time.time() - t1, 2)
        self.sqs.send_message(QueueUrl=url, MessageBody="wake up")
        th.join(15)
        self.assertEqual(got["r"]["Messages"][0]["Body"], "wake up")
        self.assertLess(got["t"], 5)


class SpotReplayTest(unittest.TestCase):
    def test_replay_files(self):
        data = os.path.join(frugaltest.SHARED_DATA, "spot_history")
        if not os.path.isdir(data):
            self.skipTest("no shared data")
        cases = [("us-east-1_c5a.2xlarge_5az_2023-11-11_to_2023-12-09.csv", "c5a.2xlarge", 5),
                 ("eu-west-3a_16types_2020-02-29_to_2020-05-31.csv", "c5.2xlarge", 1),
                 ("DescribeSpotPriceHistory_m5.large_us-east-1_2021-01.json", "m5.large", 5),
                 ("allregions_2022-05-31_6h.tsv", "m5.large", 6)]
        for fname, itype, nazs in cases:
            with Sim(clusters=1, args=["--prices", os.path.join(data, fname)]) as sim:
                ec2 = sim.client("ec2")
                now = datetime.datetime.fromtimestamp(sim.now(), datetime.timezone.utc)
                h = [x for p in ec2.get_paginator("describe_spot_price_history").paginate(
                    InstanceTypes=[itype], ProductDescriptions=["Linux/UNIX"],
                    StartTime=now - datetime.timedelta(days=2), EndTime=now) for x in p["SpotPriceHistory"]]
                self.assertTrue(h, fname)
                azs = {x["AvailabilityZone"] for x in h}
                self.assertLessEqual(len(azs), 6)
                self.assertGreaterEqual(len(azs), min(nazs, 1))
                self.assertTrue(all(x["Timestamp"] <= now + datetime.timedelta(seconds=1) for x in h))
                self.assertEqual(sim.ready["prices"], os.path.join(data, fname))


if __name__ == "__main__":
    frugaltest.run_tests()
