"""Every operation moto supports, through frugal's client, against
`python3 -m moto.server` with IAM authentication enforced: after the four
calls that create an admin user and its key, moto checks every request's
SigV4 signature. A wrong secret must fail with SignatureDoesNotMatch /
AuthFailure, an unknown key with InvalidClientTokenId.

moto gaps, covered by the verifying stand-in (test_ops.py,
test_credentials.py) instead: Pricing (not in moto); Lambda ARNs in the
path (moto checks the signature of /functions/arn:... without SigV4's
double encoding, so even boto3 fails there); STS AssumeRoleWithWebIdentity
(unsigned by design, and moto's IAM check answers unsigned requests with
500, boto3's included); EMR instance fleets (ListInstanceFleets answers
500).

Assume role from a profile runs against moto too: a user allowed nothing
but sts:AssumeRole is the source_profile; moto verifies the AssumeRole's
signature and the assumed credentials' signatures, and applies the role's
policy to the calls made with them."""
import io
import json
import os
import tempfile
import time
import unittest
import zipfile

import frugaltest
from awstest import MotoIAM, run_probe

CFG = {"retry.initial": "20ms", "retry.max": "100ms", "aws.region": "us-east-1"}
PARAM = "/application/ecdp-config/prod/EMR-BASE/STRESS-TEMPLATE-S"


def lambda_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class Moto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoIAM()
        m = cls.moto
        now = time.time()
        cls.start_ms = int((now - 3600) * 1000)
        cls.end_ms = int((now + 60) * 1000)
        # fixtures, created with boto3 and the admin key (moto checks those signatures too)
        ssm = m.client("ssm")
        ssm.put_parameter(Name=PARAM, Value=json.dumps({"Name": "STRESS-TEMPLATE-S", "Instances": "{}"}),
                          Type="String")
        sqs = m.client("sqs")
        cls.queue_url = sqs.create_queue(QueueName="frugal-interruptions")["QueueUrl"]
        sqs.send_message(QueueUrl=cls.queue_url, MessageBody=json.dumps({"detail-type": "EC2 Spot Instance "
                                                                                        "Interruption Warning"}))
        emr = m.client("emr")
        groups = [{"Name": "Master", "InstanceRole": "MASTER", "Market": "ON_DEMAND", "InstanceType": "m5.xlarge",
                   "InstanceCount": 1},
                  {"Name": "Core", "InstanceRole": "CORE", "Market": "SPOT", "BidPrice": "0.50",
                   "InstanceType": "r5.2xlarge", "InstanceCount": 2},
                  {"Name": "Task", "InstanceRole": "TASK", "Market": "SPOT", "InstanceType": "r5.2xlarge",
                   "InstanceCount": 2}]
        step = {"Name": "etl", "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://b/job.py"]}}
        cls.cluster = emr.run_job_flow(Name="STRESS-TEMPLATE-S", ReleaseLabel="emr-6.15.0",
                                       Instances={"InstanceGroups": groups, "KeepJobFlowAliveWhenNoSteps": True},
                                       Steps=[step], JobFlowRole="EMR_EC2_DefaultRole",
                                       ServiceRole="EMR_DefaultRole")["JobFlowId"]
        cls.old_cluster = emr.run_job_flow(Name="OLD", ReleaseLabel="emr-6.15.0",
                                           Instances={"InstanceGroups": groups[:2],
                                                      "KeepJobFlowAliveWhenNoSteps": True},
                                           JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole")["JobFlowId"]
        emr.terminate_job_flows(JobFlowIds=[cls.old_cluster])
        cw = m.client("cloudwatch")
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": "i-%d" % k}],
             "Timestamp": now - 60 * j, "Value": 10.0 * k + j, "Unit": "Percent"} for k in range(3) for j in range(5)])
        iam = m.client("iam")
        role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service":
                                                                                     "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        m.client("lambda").create_function(FunctionName="app-job-submit-lambda-prod", Runtime="python3.11",
                                           Role=role, Handler="index.handler", Code={"ZipFile": lambda_zip()})
        ec2 = m.client("ec2")
        cls.ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def probe(self, ops, env=None, config=None, **kw):
        c = dict(CFG)
        c.update(config or {})
        res, info = run_probe(ops, env=env or self.moto.env(), config=c, **kw)
        self.assertEqual(info.get("done", {}).get("loop_close"), 0, info["stderr"])
        self.assertEqual(info["returncode"], 0, info["stderr"])  # sanitizer reports fail here
        return {r.get("id", r["op"]): r for r in res}

    def assertOk(self, r):
        self.assertTrue(r.get("ok"), json.dumps(r)[:2000])

    def test_sts(self):
        # (AssumeRoleWithWebIdentity is unsigned by design; moto with IAM auth
        # on answers any unsigned request with a 500, boto3's too, so that
        # call is exercised against the stand-in in test_credentials.py)
        r = self.probe([{"id": "who", "op": "sts.GetCallerIdentity"}])
        self.assertOk(r["who"])
        self.assertEqual(r["who"]["json"]["Arn"], "arn:aws:iam::123456789012:user/frugal")
        self.assertTrue(r["who"]["request_id"])

    def test_assume_role_from_profile(self):
        iam = self.moto.client("iam")
        iam.create_user(UserName="frugal-source")
        key = iam.create_access_key(UserName="frugal-source")["AccessKey"]
        iam.put_user_policy(UserName="frugal-source", PolicyName="assume-only", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Resource": "*"}]}))
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/frugal-source"},
             "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="frugal-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="frugal-reader", PolicyName="read", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
                "ec2:DescribeAvailabilityZones", "sts:GetCallerIdentity"], "Resource": "*"}]}))
        home = tempfile.mkdtemp(prefix="aws-home-")
        os.makedirs(os.path.join(home, ".aws"))
        with open(os.path.join(home, ".aws", "credentials"), "w") as f:
            f.write("[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (key["AccessKeyId"], key["SecretAccessKey"]))
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write("[profile reader]\nrole_arn = %s\nsource_profile = src\nrole_session_name = frugal-moto\n"
                    "duration_seconds = 900\n" % role)
        env = {"AWS_ENDPOINT_URL": self.moto.url, "AWS_REGION": "us-east-1", "AWS_PROFILE": "reader",
               "AWS_EC2_METADATA_DISABLED": "true"}
        ops = [{"id": "creds", "op": "creds"}, {"id": "who", "op": "sts.GetCallerIdentity"},
               {"id": "azs", "op": "ec2.DescribeAvailabilityZones"},
               {"id": "ssm", "op": "ssm.GetParameter", "args": {"name": PARAM}}]
        r = self.probe(ops, env=env, home=home)
        self.assertTrue(r["creds"]["ok"], r["creds"])
        self.assertEqual(r["creds"]["source"], "assume-role:reader")
        self.assertTrue(r["creds"]["access_key_id"].startswith("ASIA"))
        self.assertTrue(r["creds"]["has_token"])
        self.assertLess(r["creds"]["expiration_ms"], (time.time() + 901) * 1000)  # duration_seconds reached STS
        self.assertOk(r["who"])
        self.assertEqual(r["who"]["json"]["Arn"], "arn:aws:sts::123456789012:assumed-role/frugal-reader/frugal-moto")
        # allowed to the role (not to the source user), checked by moto with the assumed credentials
        self.assertOk(r["azs"])
        # the role's policy has no SSM: moto refuses it
        self.assertFalse(r["ssm"]["ok"])
        self.assertIn("AccessDenied", r["ssm"]["error"]["code"])
        # the source user alone can do nothing but assume the role
        r = self.probe([{"id": "azs", "op": "ec2.DescribeAvailabilityZones"}],
                       env=self.moto.env(akid=key["AccessKeyId"], secret=key["SecretAccessKey"]))
        self.assertFalse(r["azs"]["ok"])
        self.assertEqual(r["azs"]["error"]["kind"], "service")

    def test_ssm(self):
        r = self.probe([
            {"id": "get", "op": "ssm.GetParameter", "args": {"name": PARAM}},
            {"id": "put", "op": "ssm.PutParameter", "args": {"name": PARAM, "value": "{\"Name\": \"x\"}",
                                                              "overwrite": True}},
            {"id": "get2", "op": "ssm.GetParameter", "args": {"name": PARAM, "with_decryption": True}},
            {"id": "noover", "op": "ssm.PutParameter", "args": {"name": PARAM, "value": "y"}},
            {"id": "adv", "op": "ssm.PutParameter", "args": {"name": PARAM + "-adv", "value": "z" * 5000,
                                                              "tier": "Advanced"}},
            {"id": "missing", "op": "ssm.GetParameter", "args": {"name": "/frugal/doctor/probe"}},
        ])
        self.assertOk(r["get"])
        self.assertEqual(r["get"]["json"]["Parameter"]["Version"], 1)
        self.assertOk(r["put"])
        self.assertEqual(r["put"]["json"]["Version"], 2)
        self.assertEqual(r["get2"]["json"]["Parameter"]["Value"], "{\"Name\": \"x\"}")
        self.assertEqual(r["noover"]["error"]["code"], "ParameterAlreadyExists")
        self.assertEqual(r["noover"]["error"]["kind"], "service")
        self.assertOk(r["adv"])
        self.assertEqual(r["adv"]["json"]["Tier"], "Advanced")
        self.assertEqual(r["missing"]["error"]["code"], "ParameterNotFound")

    def test_emr_instance_groups(self):
        cid = self.cluster
        r = self.probe([
            {"id": "list", "op": "emr.ListClusters", "args": {}},
            {"id": "term", "op": "emr.ListClusters", "args": {"states": ["TERMINATED"],
                                                              "created_after_ms": self.start_ms}},
            {"id": "desc", "op": "emr.DescribeCluster", "args": {"cluster_id": cid}},
            {"id": "groups", "op": "emr.ListInstanceGroups", "args": {"cluster_id": cid}},
            {"id": "inst", "op": "emr.ListInstances", "args": {"cluster_id": cid, "group_types": ["CORE", "TASK"]}},
            {"id": "core", "op": "emr.ListInstances", "args": {"cluster_id": cid, "group_types": ["CORE"]}},
            {"id": "steps", "op": "emr.ListSteps", "args": {"cluster_id": cid}},
            {"id": "add", "op": "emr.AddJobFlowSteps", "args": {"cluster_id": cid, "steps": [
                {"Name": "replay", "ActionOnFailure": "CONTINUE",
                 "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://b/job.py"]}}]}},
            {"id": "steps2", "op": "emr.ListSteps", "args": {"cluster_id": cid}},
            {"id": "nope", "op": "emr.DescribeCluster", "args": {"cluster_id": "j-DOESNOTEXIST"}},
        ])
        for k in ("list", "term", "desc", "groups", "inst", "core", "steps", "add", "steps2"):
            self.assertOk(r[k])
        self.assertEqual({c["Id"] for c in r["list"]["json"]["Clusters"]}, {cid, self.old_cluster})
        self.assertEqual([c["Id"] for c in r["term"]["json"]["Clusters"]], [self.old_cluster])
        self.assertEqual(r["desc"]["json"]["Cluster"]["Name"], "STRESS-TEMPLATE-S")
        roles = sorted(g["InstanceGroupType"] for g in r["groups"]["json"]["InstanceGroups"])
        self.assertEqual(roles, ["CORE", "MASTER", "TASK"])
        self.assertEqual(len(r["inst"]["json"]["Instances"]), 4)
        self.assertEqual(len(r["core"]["json"]["Instances"]), 2)
        self.assertEqual(len(r["steps"]["json"]["Steps"]), 1)
        self.assertEqual(len(r["add"]["json"]["StepIds"]), 1)
        self.assertEqual(len(r["steps2"]["json"]["Steps"]), 2)
        self.assertEqual(r["nope"]["error"]["kind"], "service")
        # terminate last: other tests use the cluster
        r = self.probe([{"id": "t", "op": "emr.TerminateJobFlows", "args": {"cluster_ids": [self.old_cluster]}}])
        self.assertOk(r["t"])

    def test_cloudwatch(self):
        queries = [{"Id": "cpu%d" % k, "MetricStat": {"Metric": {"Namespace": "AWS/EC2",
                                                                 "MetricName": "CPUUtilization",
                                                                 "Dimensions": [{"Name": "InstanceId",
                                                                                 "Value": "i-%d" % k}]},
                                                      "Period": 60, "Stat": "Average"}} for k in range(3)]
        r = self.probe([
            {"id": "gmd", "op": "cw.GetMetricData", "args": {"queries": queries, "start_ms": self.start_ms,
                                                              "end_ms": self.end_ms}},
            {"id": "gms", "op": "cw.GetMetricStatistics", "args": {
                "namespace": "AWS/EC2", "metric": "CPUUtilization", "dimensions": [{"Name": "InstanceId",
                                                                                    "Value": "i-2"}],
                "start_ms": self.start_ms, "end_ms": self.end_ms, "period": 60, "statistics": ["Average",
                                                                                              "Maximum"]}},
        ])
        self.assertOk(r["gmd"])
        res = r["gmd"]["json"]["MetricDataResults"]
        self.assertEqual([x["Id"] for x in res], ["cpu0", "cpu1", "cpu2"])
        self.assertEqual(len(res[2]["Values"]), 5)
        self.assertEqual(max(res[2]["Values"]), 24.0)
        self.assertOk(r["gms"])
        self.assertEqual(len(r["gms"]["json"]["Datapoints"]), 5)

    def test_sqs(self):
        r = self.probe([
            {"id": "url", "op": "sqs.GetQueueUrl", "args": {"name": "frugal-interruptions"}},
            {"id": "rx", "op": "sqs.ReceiveMessage", "args": {"queue_url": self.queue_url, "max": 10, "wait_s": 1}},
            {"id": "none", "op": "sqs.GetQueueUrl", "args": {"name": "does-not-exist"}},
        ])
        self.assertOk(r["url"])
        self.assertEqual(r["url"]["json"]["QueueUrl"], self.queue_url)
        self.assertOk(r["rx"])
        msgs = r["rx"]["json"]["Messages"]
        self.assertEqual(len(msgs), 1)
        self.assertIn("Interruption", msgs[0]["Body"])
        self.assertEqual(r["none"]["error"]["code"], "AWS.SimpleQueueService.NonExistentQueue")
        r = self.probe([{"id": "del", "op": "sqs.DeleteMessage", "args": {
            "queue_url": self.queue_url, "receipt_handle": msgs[0]["ReceiptHandle"]}},
            {"id": "empty", "op": "sqs.ReceiveMessage", "args": {"queue_url": self.queue_url, "wait_s": 0,
                                                                  "visibility_s": 0}}])
        self.assertOk(r["del"])
        self.assertOk(r["empty"])
        self.assertEqual(r["empty"]["json"].get("Messages", []), [])

    def test_lambda(self):
        payload = json.dumps({"resource": "/executions/clusters", "path": "/executions/clusters",
                              "body": json.dumps({"cluster_name": "STRESS-TEMPLATE-S", "job_type": "CLUSTER",
                                                  "request_type": "CREATE", "fifo_key": "STRESS-TEMPLATE-S"}),
                              "httpMethod": "POST"})
        r = self.probe([
            {"id": "rr", "op": "lambda.Invoke", "args": {"function": "app-job-submit-lambda-prod",
                                                         "payload": payload}},
            {"id": "ev", "op": "lambda.Invoke", "args": {"function": "app-job-submit-lambda-prod",
                                                         "payload": payload, "invocation_type": "Event"}},
        ])
        self.assertOk(r["rr"])
        self.assertEqual(r["rr"]["json"]["StatusCode"], 200)
        self.assertEqual(r["rr"]["json"]["Payload"]["httpMethod"], "POST")
        self.assertOk(r["ev"])
        self.assertEqual(r["ev"]["json"]["StatusCode"], 202)

    def test_ec2(self):
        tags = {"frugal:managed": "true", "Name": "frugal-test"}
        r = self.probe([
            {"id": "azs", "op": "ec2.DescribeAvailabilityZones", "args": {"req": {"Filter": [
                {"Name": "zone-name", "Value": ["us-east-1a", "us-east-1b"]}]}}},
            {"id": "azdry", "op": "ec2.DescribeAvailabilityZones", "args": {"req": {"DryRun": True}}},
            {"id": "types", "op": "ec2.DescribeInstanceTypes", "args": {"req": {"InstanceType": ["m5.large",
                                                                                                "r7g.4xlarge"]}}},
            {"id": "spot", "op": "ec2.DescribeSpotPriceHistory", "args": {"types": ["m5.large"],
                                                                          "product": "Linux/UNIX"}},
            {"id": "od", "op": "ec2.RunInstances", "args": {"image_id": self.ami, "instance_type": "m5.large",
                                                           "count": 1, "tags": tags}},
            {"id": "sp", "op": "ec2.RunInstances", "args": {"image_id": self.ami, "instance_type": "m5.large",
                                                           "count": 2, "spot": True, "max_price": "0.05"}},
            {"id": "rundry", "op": "ec2.RunInstances", "args": {"image_id": self.ami, "instance_type": "m5.large",
                                                               "dry_run": True}},
        ])
        for k in ("azs", "types", "spot", "od", "sp"):
            self.assertOk(r[k])
        self.assertEqual(sorted(z["zoneName"] for z in r["azs"]["json"]["availabilityZoneInfo"]),
                         ["us-east-1a", "us-east-1b"])
        self.assertEqual(r["azdry"]["error"]["code"], "DryRunOperation")
        self.assertEqual(r["rundry"]["error"]["code"], "DryRunOperation")
        self.assertEqual(sorted(t["instanceType"] for t in r["types"]["json"]["instanceTypeSet"]),
                         ["m5.large", "r7g.4xlarge"])
        self.assertTrue(all(p["instanceType"] == "m5.large" for p in r["spot"]["json"]["spotPriceHistorySet"]))
        self.assertGreater(len(r["spot"]["json"]["spotPriceHistorySet"]), 0)
        od = r["od"]["json"]["instancesSet"][0]["instanceId"]
        spot_ids = [i["instanceId"] for i in r["sp"]["json"]["instancesSet"]]
        self.assertEqual(len(spot_ids), 2)
        r = self.probe([
            {"id": "desc", "op": "ec2.DescribeInstances", "args": {"req": {"InstanceId": [od] + spot_ids}}},
            {"id": "bytag", "op": "ec2.DescribeInstances", "args": {"req": {"Filter": [
                {"Name": "tag:frugal:managed", "Value": ["true"]}]}}},
            {"id": "sir", "op": "ec2.DescribeSpotInstanceRequests", "args": {"req": {}}},
            {"id": "tag", "op": "ec2.CreateTags", "args": {"resources": spot_ids, "tags": {"frugal:pool": "a"}}},
            {"id": "tagdry", "op": "ec2.CreateTags", "args": {"resources": spot_ids, "tags": {"x": "y"},
                                                              "dry_run": True}},
            {"id": "termdry", "op": "ec2.TerminateInstances", "args": {"ids": [od], "dry_run": True}},
            {"id": "term", "op": "ec2.TerminateInstances", "args": {"ids": [od] + spot_ids}},
        ])
        for k in ("desc", "bytag", "sir", "tag", "term"):
            self.assertOk(r[k])
        got = sorted(i["instanceId"] for res in r["desc"]["json"]["reservationSet"] for i in res["instancesSet"])
        self.assertEqual(got, sorted([od] + spot_ids))
        tagged = [i for res in r["bytag"]["json"]["reservationSet"] for i in res["instancesSet"]]
        self.assertEqual([i["instanceId"] for i in tagged], [od])
        self.assertEqual({t["key"]: t["value"] for t in tagged[0]["tagSet"]}, tags)
        self.assertIn("spotInstanceRequestSet", r["sir"]["json"])
        self.assertIn("requestId", r["tag"]["json"])  # AWS adds <return>true</return>; moto does not
        self.assertEqual(r["tagdry"]["error"]["code"], "DryRunOperation")
        self.assertEqual(r["termdry"]["error"]["code"], "DryRunOperation")
        self.assertEqual(len(r["term"]["json"]["instancesSet"]), 3)

    def test_wrong_secret_is_refused(self):
        env = self.moto.env(secret="wrong" + self.moto.secret[5:])
        r = self.probe([
            {"id": "sts", "op": "sts.GetCallerIdentity"},
            {"id": "ssm", "op": "ssm.GetParameter", "args": {"name": PARAM}},
            {"id": "emr", "op": "emr.ListClusters"},
            {"id": "ec2", "op": "ec2.DescribeAvailabilityZones"},
            {"id": "sqs", "op": "sqs.GetQueueUrl", "args": {"name": "frugal-interruptions"}},
            {"id": "cw", "op": "cw.GetMetricStatistics", "args": {"namespace": "AWS/EC2", "metric": "CPUUtilization",
                                                                   "start_ms": self.start_ms, "end_ms": self.end_ms,
                                                                   "statistics": ["Average"]}},
            {"id": "lambda", "op": "lambda.Invoke", "args": {"function": "app-job-submit-lambda-prod",
                                                             "payload": "{}"}},
        ], env=env)
        for k, want in [("sts", "SignatureDoesNotMatch"), ("ssm", "SignatureDoesNotMatch"),
                        ("emr", "SignatureDoesNotMatch"), ("ec2", "AuthFailure"), ("sqs", "SignatureDoesNotMatch"),
                        ("cw", "SignatureDoesNotMatch"), ("lambda", "SignatureDoesNotMatch")]:
            with self.subTest(service=k):
                self.assertFalse(r[k]["ok"])
                self.assertEqual(r[k]["error"]["code"], want, r[k])
                self.assertEqual(r[k]["error"]["kind"], "service")
                self.assertEqual(r[k]["attempts"], 1)
        r = self.probe([{"id": "sts", "op": "sts.GetCallerIdentity"}],
                       env=self.moto.env(akid="AKIAUNKNOWNKEY000000"))
        self.assertEqual(r["sts"]["error"]["code"], "InvalidClientTokenId")


if __name__ == "__main__":
    frugaltest.run_tests()
