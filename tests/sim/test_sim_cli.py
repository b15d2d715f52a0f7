"""frugal-sim driven by the aws CLI (v1, AWS_ENDPOINT_URL): every operation
frugal uses, through the CLI's own serializers, parsers, paginators and
customizations (emr create-cluster, add-steps, describe-cluster)."""
import datetime
import json
import os
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

import frugaltest
from simctl import LAMBDA_NAME, PARAM_PREFIX, Sim, lambda_payload


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=60, seed=31)
        cls.world = cls.sim.world()
        cls.tmp = tempfile.mkdtemp(prefix="sim-cli-")

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def write(self, name, obj):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(obj, f)
        return "file://" + path

    def test_emr(self):
        cli = self.sim.cli
        # the CLI follows Marker pages itself
        r = cli("emr", "list-clusters")
        self.assertEqual(len(r["Clusters"]), 60)
        r = cli("emr", "list-clusters", "--cluster-states", "TERMINATED", "TERMINATED_WITH_ERRORS")
        self.assertTrue(all(c["Status"]["State"].startswith("TERMINATED") for c in r["Clusters"]))
        wc = self.world["clusters"][0]
        d = cli("emr", "describe-cluster", "--cluster-id", wc["id"])["Cluster"]
        self.assertEqual(d["Name"], wc["name"])
        if d["InstanceCollectionType"] == "INSTANCE_FLEET":
            self.assertTrue(cli("emr", "list-instance-fleets", "--cluster-id", wc["id"])["InstanceFleets"])
        self.assertTrue(d.get("InstanceGroups") or d.get("InstanceFleets"))
        insts = cli("emr", "list-instances", "--cluster-id", wc["id"])["Instances"]
        self.assertEqual(len(insts), sum(n["count"] for n in wc["nodes"].values()) if
                         d["InstanceCollectionType"] == "INSTANCE_GROUP" else len(insts))
        core = cli("emr", "list-instances", "--cluster-id", wc["id"], "--instance-group-types", "CORE")["Instances"]
        self.assertLessEqual(len(core), len(insts))
        steps = cli("emr", "list-steps", "--cluster-id", wc["id"])["Steps"]
        self.assertEqual(len(steps), len(wc["steps"]))
        if steps:
            s = cli("emr", "describe-step", "--cluster-id", wc["id"], "--step-id", steps[0]["Id"])["Step"]
            self.assertEqual(s["Id"], steps[0]["Id"])
        new = cli("emr", "create-cluster", "--name", "cli-made", "--release-label", "emr-7.1.0",
                  "--instance-groups", "InstanceGroupType=MASTER,InstanceCount=1,InstanceType=m5.xlarge",
                  "InstanceGroupType=CORE,InstanceCount=2,InstanceType=r6g.xlarge", "--use-default-roles",
                  "--auto-termination-policy", "IdleTimeout=3600")
        cid = new["ClusterId"]
        atp = cli("emr", "get-auto-termination-policy", "--cluster-id", cid)
        self.assertEqual(atp["AutoTerminationPolicy"]["IdleTimeout"], 3600)
        added = cli("emr", "add-steps", "--cluster-id", cid, "--steps",
                    "Type=CUSTOM_JAR,Name=cli-step,Jar=command-runner.jar,Args=[spark-submit,--class,x.Y,s3://b/j.jar]")
        self.assertTrue(added["StepIds"][0].startswith("s-"))
        cli("emr", "terminate-clusters", "--cluster-ids", cid)
        self.sim.advance(600)
        d = cli("emr", "describe-cluster", "--cluster-id", cid)["Cluster"]
        self.assertEqual(d["Status"]["State"], "TERMINATED")
        p = cli("emr", "describe-cluster", "--cluster-id", "j-NOPE000000000", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("InvalidRequestException", p.stderr)

    def test_cloudwatch(self):
        cli = self.sim.cli
        wc = next(c for c in self.world["clusters"] if c["outcome"] == "TERMINATED")
        iid = cli("emr", "list-instances", "--cluster-id", wc["id"])["Instances"][-1]["Ec2InstanceId"]
        end = datetime.datetime.fromtimestamp(self.sim.now(), datetime.timezone.utc)
        start = end - datetime.timedelta(hours=24)
        qs = [{"Id": "cpu", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                                      "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
                                           "Period": 60, "Stat": "Average"}},
              {"Id": "mem", "MetricStat": {"Metric": {"Namespace": "CWAgent", "MetricName": "mem_used_percent",
                                                      "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
                                           "Period": 300, "Stat": "Maximum"}}]
        r = cli("cloudwatch", "get-metric-data", "--metric-data-queries", self.write("q.json", qs),
                "--start-time", start.isoformat(), "--end-time", end.isoformat())
        res = {x["Id"]: x for x in r["MetricDataResults"]}
        self.assertGreater(len(res["cpu"]["Values"]), 10)
        self.assertGreater(len(res["mem"]["Values"]), 2)
        r = cli("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", "CPUUtilization",
                "--dimensions", "Name=InstanceId,Value=" + iid, "--start-time", start.isoformat(), "--end-time",
                end.isoformat(), "--period", "3600", "--statistics", "Average", "Maximum")
        self.assertTrue(r["Datapoints"])
        cli("cloudwatch", "put-metric-data", "--namespace", "Frugal/Cli", "--metric-name", "x", "--value", "1")

    def test_ssm_and_lambda(self):
        cli = self.sim.cli
        name = self.world["clusters"][0]["name"]
        p = cli("ssm", "get-parameter", "--name", PARAM_PREFIX + name)["Parameter"]
        self.assertEqual(json.loads(p["Value"])["Name"], name)
        r = cli("ssm", "put-parameter", "--name", PARAM_PREFIX + name, "--value", p["Value"], "--overwrite")
        self.assertEqual(r["Version"], p["Version"] + 1)
        h = cli("ssm", "get-parameter-history", "--name", PARAM_PREFIX + name)["Parameters"]
        self.assertEqual(h[-1]["Version"], r["Version"])
        q = cli("ssm", "put-parameter", "--name", "/cli/new", "--value", "v", "--type", "String", check=False)
        self.assertEqual(q.returncode, 0)
        q = cli("ssm", "put-parameter", "--name", "/cli/new", "--value", "v", "--type", "String", check=False)
        self.assertIn("ParameterAlreadyExists", q.stderr)
        out = os.path.join(self.tmp, "lambda-out.json")
        payload = self.write("payload.json", lambda_payload(name))
        r = cli("lambda", "invoke", "--function-name", LAMBDA_NAME,
                "--payload", payload, out)
        self.assertEqual(r["StatusCode"], 200)
        with open(out) as f:
            body = json.loads(json.load(f)["body"])
        self.assertTrue(body["cluster_id"].startswith("j-"))
        r = cli("lambda", "invoke", "--function-name", LAMBDA_NAME,
                "--payload", self.write("bad.json", lambda_payload("NOPE")), out)
        self.assertEqual(r["FunctionError"], "Unhandled")

    def test_ec2_sqs_sts_pricing(self):
        cli = self.sim.cli
        jobs = {
            "azs": ("ec2", "describe-availability-zones"),
            "inst": ("ec2", "describe-instances", "--filters", "Name=tag:frugal:managed,Values=true"),
            "types": ("ec2", "describe-instance-types", "--instance-types", "m5.large", "r7g.xlarge"),
            "spot": ("ec2", "describe-spot-price-history", "--instance-types", "m5.large", "--product-descriptions",
                     "Linux/UNIX", "--start-time",
                     (datetime.datetime.fromtimestamp(self.sim.now(), datetime.timezone.utc) -
                      datetime.timedelta(hours=6)).isoformat()),
            "sirs": ("ec2", "describe-spot-instance-requests"),
            "me": ("sts", "get-caller-identity"),
            "price": ("pricing", "get-products", "--service-code", "AmazonEC2", "--filters",
                      "Type=TERM_MATCH,Field=instanceType,Value=m5.large", "--max-items", "5"),
            "q": ("sqs", "get-queue-url", "--queue-name", "frugal-interruptions"),
        }
        with ThreadPoolExecutor(4) as ex:
            res = dict(zip(jobs, ex.map(lambda a: cli(*a), jobs.values())))
        self.assertEqual(len(res["azs"]["AvailabilityZones"]), 6)
        self.assertTrue(res["inst"]["Reservations"])
        self.assertEqual(len(res["types"]["InstanceTypes"]), 2)
        self.assertTrue(res["spot"]["SpotPriceHistory"])
        self.assertTrue(res["sirs"]["SpotInstanceRequests"])
        self.assertEqual(res["me"]["Account"], "123456789012")
        self.assertTrue(res["price"]["PriceList"])
        url = res["q"]["QueueUrl"]
        run = cli("ec2", "run-instances", "--image-id", "ami-1", "--instance-type", "m5.large", "--count", "1",
                  "--instance-market-options", "MarketType=spot", "--tag-specifications",
                  "ResourceType=instance,Tags=[{Key=Name,Value=cli}]")
        iid = run["Instances"][0]["InstanceId"]
        cli("ec2", "create-tags", "--resources", iid, "--tags", "Key=frugal:managed,Value=true")
        t = cli("ec2", "terminate-instances", "--instance-ids", iid)
        self.assertEqual(t["TerminatingInstances"][0]["CurrentState"]["Name"], "shutting-down")
        dry = cli("ec2", "run-instances", "--image-id", "ami-1", "--instance-type", "m5.large", "--dry-run", check=False)
        self.assertIn("DryRunOperation", dry.stderr)
        cli("sqs", "send-message", "--queue-url", url, "--message-body", "cli says hi")
        m = cli("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10")["Messages"]
        self.assertIn("cli says hi", [x["Body"] for x in m])
        for x in m:
            cli("sqs", "delete-message", "--queue-url", url, "--receipt-handle", x["ReceiptHandle"])
        w = cli("sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::123456789012:role/r",
                "--role-session-name", "cli", "--web-identity-token", "tok.en.x")
        self.assertTrue(w["Credentials"]["AccessKeyId"].startswith("ASIA"))

    def test_wrong_secret_fails(self):
        env = self.sim.cli_env()
        env["AWS_SECRET_ACCESS_KEY"] = "wrong"
        import subprocess
        p = subprocess.run(["aws", "emr", "list-clusters"], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", p.stderr)


if __name__ == "__main__":
    frugaltest.run_tests()
