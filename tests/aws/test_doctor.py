"""frugal doctor: credentials, region, endpoints, identity and the
permission table, against the verifying stand-in (which can refuse chosen
IAM actions in each service's own access-denied shape) and against moto
with IAM enforced and a user whose policy lacks most of what frugal needs."""
import json
import os
import subprocess
import tempfile
import unittest

import frugaltest
from awstest import AwsStub, MotoIAM, clean_env

DOCTOR = os.path.join(frugaltest.BUILD_ROOT, "tests", "aws", "frugal-doctor")


def doctor(env, args=("--json",), timeout=60):
    p = subprocess.run([DOCTOR] + list(args), capture_output=True, timeout=timeout, env=clean_env(env))
    out = p.stdout.decode()
    try:
        j = json.loads(out) if "--json" in args else None
    except ValueError:
        j = None
    return p.returncode, j, out, p.stderr.decode()


def by_action(report):
    return {c["action"]: c for c in report["checks"]}


class DoctorStub(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = AwsStub()

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()

    def setUp(self):
        self.stub.deny = set()

    def test_everything_answers(self):
        rc, r, out, err = doctor(self.stub.env(akid="AKIADOCTOROKAY00WXYZ", secret="s"))
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(r["ok"])
        self.assertEqual(r["credentials"]["source"], "env")
        self.assertEqual(r["credentials"]["access_key_id"], "AKIA****WXYZ")
        self.assertEqual(r["credentials"]["expiration"], "never")
        self.assertEqual(r["region"], {"name": "us-east-1", "source": "AWS_REGION"})
        self.assertEqual(r["identity"]["account"], "123456789012")
        self.assertEqual(r["endpoints"]["pricing"]["source"], "AWS_ENDPOINT_URL")
        checks = by_action(r)
        for action in ("sts:GetCallerIdentity", "elasticmapreduce:ListClusters", "elasticmapreduce:DescribeCluster",
                       "elasticmapreduce:ListInstanceFleets", "elasticmapreduce:ListSteps",
                       "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "ssm:GetParameter",
                       "lambda:InvokeFunction", "ec2:DescribeSpotPriceHistory", "ec2:RunInstances",
                       "ec2:TerminateInstances", "ec2:CreateTags", "sqs:GetQueueUrl", "pricing:GetProducts"):
            self.assertEqual(checks[action]["status"], "ok", checks[action])
        self.assertEqual(checks["ssm:PutParameter"]["status"], "unverified")
        self.assertEqual(r["missing_policy"]["Statement"], [])
        # the EC2 checks were dry runs, the Lambda one a DryRun invocation
        run = [c for c in self.stub.calls("RunInstances")][-1]
        self.assertEqual(run["params"]["DryRun"], "true")
        inv = self.stub.calls("Invoke")[-1]
        self.assertEqual(inv["headers"]["X-Amz-Invocation-Type"], "DryRun")
        self.assertIn("/functions/app-job-submit-lambda-prod/", inv["path"])

    def test_missing_permissions(self):
        self.stub.deny = {"ec2:RunInstances", "ec2:CreateTags", "elasticmapreduce:ListClusters",
                          "cloudwatch:GetMetricData", "ssm:GetParameter", "lambda:InvokeFunction"}
        env = self.stub.env(akid="AKIADOCTORMISSING001", secret="s",
                            extra={"PARAM_STORE_PREFIX": "/app/cfg/", "LAMBDA_FUNCTION_NAME": "submit-fn"})
        rc, r, out, err = doctor(env)
        self.assertEqual(rc, 1, out + err)
        self.assertFalse(r["ok"])
        checks = by_action(r)
        for action in self.stub.deny:
            self.assertEqual(checks[action]["status"], "missing", checks[action])
        self.assertEqual(checks["ec2:DescribeInstances"]["status"], "ok")
        self.assertEqual(checks["ec2:RunInstances"]["code"], "UnauthorizedOperation")
        stmts = r["missing_policy"]["Statement"]
        grants = {(a, s["Resource"]) for s in stmts for a in s["Action"]}
        self.assertEqual(grants, {
            ("ec2:RunInstances", "*"), ("ec2:CreateTags", "*"), ("elasticmapreduce:ListClusters", "*"),
            ("cloudwatch:GetMetricData", "*"),
            ("ssm:GetParameter", "arn:aws:ssm:*:123456789012:parameter/app/cfg/*"),
            ("lambda:InvokeFunction", "arn:aws:lambda:*:123456789012:function:submit-fn")})
        # the text form: a table and the statements to add
        rc, _, out, _ = doctor(env, args=())
        self.assertEqual(rc, 1)
        self.assertIn("MISSING    ec2:RunInstances", out)
        self.assertIn("Add to the IAM policy of arn:aws:iam::123456789012:user/AKIADOCTORMISSING001", out)
        self.assertIn('"arn:aws:lambda:*:123456789012:function:submit-fn"', out)

    def test_deploy_policy_covers_every_check(self):
        """deploy/iam-policy.json grants every action doctor checks (and only those)."""
        _, r, _, _ = doctor(self.stub.env(akid="AKIADOCTORPOLICY0001", secret="s"))
        with open(os.path.join(frugaltest.SOURCE_ROOT, "deploy", "iam-policy.json")) as f:
            policy = json.load(f)
        granted = {a for s in policy["Statement"] for a in s["Action"]}
        self.assertEqual(granted, set(by_action(r)))
        resources = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
        self.assertEqual(resources["ssm:PutParameter"],
                         "arn:aws:ssm:*:*:parameter/application/ecdp-config/prod/EMR-BASE/*")
        self.assertEqual(resources["lambda:InvokeFunction"], "arn:aws:lambda:*:*:function:app-job-submit-lambda-prod")

    def test_lambda_function_missing(self):
        env = self.stub.env(akid="AKIADOCTORNOFUNC0001", secret="s",
                            extra={"LAMBDA_FUNCTION_NAME": "submit-missing"})
        rc, r, out, _ = doctor(env)
        self.assertEqual(rc, 1, out)
        self.assertEqual(by_action(r)["lambda:InvokeFunction"]["status"], "not_found")

    def test_no_credentials(self):
        rc, r, out, _ = doctor({"AWS_ENDPOINT_URL": self.stub.url, "AWS_EC2_METADATA_DISABLED": "true"})
        self.assertEqual(rc, 1)
        self.assertFalse(r["credentials"]["ok"])
        self.assertIn("AWS_EC2_METADATA_DISABLED", r["credentials"]["error"])
        rc, _, out, _ = doctor({"AWS_ENDPOINT_URL": self.stub.url, "AWS_EC2_METADATA_DISABLED": "true"}, args=())
        self.assertIn("Credentials  MISSING", out)

    def test_bad_configuration(self):
        rc, _, _, err = doctor({"FRUGAL_AWS_MAX_ATTEMPTS": "many"}, args=())
        self.assertEqual(rc, 2)
        self.assertIn("configuration", err)
        rc, r, _, _ = doctor({"AWS_ENDPOINT_URL": "ftp://nowhere"})
        self.assertEqual(rc, 2)
        self.assertIn("invalid endpoint URL", r["error"])
        rc, _, _, err = doctor({}, args=("--bogus",))
        self.assertEqual(rc, 2)
        cfg = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
        cfg.write("[aws]\nregion = eu-central-1\n")
        cfg.close()
        rc, r, _, _ = doctor(self.stub.env(akid="AKIADOCTORCONFIG0001", secret="s", extra={"AWS_REGION": None}),
                             args=("--json", "--config", cfg.name))
        self.assertEqual(r["region"], {"name": "eu-central-1", "source": "aws.region"})
        self.assertEqual(rc, 0)
        # FRUGAL_CONFIG names the file; the CLI's own variables are not daemon settings
        rc, r, out, err = doctor(self.stub.env(akid="AKIADOCTORCONFIG0001", secret="s", extra={
            "AWS_REGION": None, "FRUGAL_CONFIG": cfg.name, "FRUGAL_URL": "http://127.0.0.1:1",
            "FRUGAL_TOKEN_FILE": "/nonexistent"}))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(r["region"]["name"], "eu-central-1")


class DoctorMoto(unittest.TestCase):
    """A restricted user on moto: describe-only EC2, SSM reads, STS."""

    @classmethod
    def setUpClass(cls):
        cls.moto = MotoIAM()
        iam = cls.moto.client("iam")
        iam.create_user(UserName="readonly")
        key = iam.create_access_key(UserName="readonly")["AccessKey"]
        pol = iam.create_policy(PolicyName="ro", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ec2:Describe*", "ssm:GetParameter", "sqs:GetQueueUrl"],
             "Resource": "*"}]}))
        iam.attach_user_policy(UserName="readonly", PolicyArn=pol["Policy"]["Arn"])
        cls.ro = (key["AccessKeyId"], key["SecretAccessKey"])

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def test_restricted_user(self):
        rc, r, out, err = doctor(self.moto.env(akid=self.ro[0], secret=self.ro[1]))
        self.assertEqual(rc, 1, out + err)
        checks = by_action(r)
        self.assertTrue(r["identity"]["arn"].endswith(":user/readonly"))
        for ok in ("sts:GetCallerIdentity", "ec2:DescribeInstances", "ec2:DescribeSpotPriceHistory",
                   "ec2:DescribeAvailabilityZones", "ssm:GetParameter", "sqs:GetQueueUrl"):
            self.assertEqual(checks[ok]["status"], "ok", checks[ok])
        for missing in ("elasticmapreduce:ListClusters", "cloudwatch:GetMetricData", "lambda:InvokeFunction",
                        "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateTags"):
            self.assertEqual(checks[missing]["status"], "missing", checks[missing])
        actions = {a for s in r["missing_policy"]["Statement"] for a in s["Action"]}
        self.assertIn("ec2:RunInstances", actions)
        self.assertNotIn("ec2:DescribeInstances", actions)
        # and the admin passes what moto implements
        rc, r, out, _ = doctor(self.moto.env())
        checks = by_action(r)
        for ok in ("elasticmapreduce:ListClusters", "cloudwatch:GetMetricData", "ec2:RunInstances",
                   "lambda:InvokeFunction", "ssm:GetParameter"):
            self.assertIn(checks[ok]["status"], ("ok", "not_found"), checks[ok])


if __name__ == "__main__":
    frugaltest.run_tests()
