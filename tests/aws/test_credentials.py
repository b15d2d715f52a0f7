"""The credential chain, source by source, with local stand-ins for STS,
the container endpoint and IMDS (all on the verifying stub): environment,
web identity, shared files and profiles, assume-role profiles
(source_profile, chains, credential_source; every AssumeRole's SigV4
signature verified by botocore), credential_process, container, IMDSv2
(and its v1 fallback, timeouts and retry), precedence, refresh of
temporary credentials before Expiration, queueing of the calls that wait
for the first credentials, and secrets never reaching the logs."""
import json
import os
import tempfile
import time
import unittest
import urllib.parse

import frugaltest
from awstest import AwsStub, run_probe

CFG = {"retry.initial": "10ms", "retry.max": "50ms"}
ROLE = "arn:aws:iam::123456789012:role/frugal-app"
ROLE2 = "arn:aws:iam::123456789012:role/frugal-hop"

# A credential_process: its behaviour comes from the JSON file named by its
# first argument; it counts its runs and records its argv next to that file.
PROCESS_SCRIPT = r"""
import json, os, subprocess, sys, time
conf_path = sys.argv[1]
with open(conf_path) as f:
    conf = json.load(f)
count_path = conf_path + ".count"
n = int(open(count_path).read()) + 1 if os.path.exists(count_path) else 1
with open(count_path, "w") as f:
    f.write(str(n))
with open(conf_path + ".argv", "w") as f:
    json.dump(sys.argv[1:], f)
mode = conf.get("mode", "ok")
if mode == "ok":
    lifetimes = conf.get("lifetimes", [])
    life = lifetimes[n - 1] if n - 1 < len(lifetimes) else conf.get("lifetime")
    out = {"Version": 1, "AccessKeyId": "%s%04d" % (conf["akid"], n), "SecretAccessKey": "%s-%d" % (conf["secret"], n)}
    if conf.get("token"):
        out["SessionToken"] = "%s-%d" % (conf["token"], n)
    if life is not None:
        out["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + life))
    print(json.dumps(out, indent=2))
elif mode == "fail":
    print(json.dumps({"Version": 1, "AccessKeyId": "AKIDLEAKED000001", "SecretAccessKey": "stdout-secret-never-log"}))
    sys.stdout.flush()
    sys.stderr.write("\nError when retrieving token from sso: Token has expired and refresh failed\nsecond line\n")
    sys.exit(3)
elif mode == "hang":
    # a child in the same process group keeps stdout open: only killing
    # the group ends the wait
    child = subprocess.Popen(["sleep", "120"])
    with open(conf_path + ".child", "w") as f:
        f.write(str(child.pid))
    sys.stdout.write('{"Version": 1, ')
    sys.stdout.flush()
    time.sleep(120)
elif mode == "raw":
    sys.stdout.write(conf["raw"])
elif mode == "big":
    sys.stdout.write('{"Version": 1, "Pad": "' + "x" * (100 * 1024) + '"}')
"""


class Credentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = AwsStub()

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()

    def setUp(self):
        self.stub.imds.update({"role": "frugal-role", "v2": True, "lifetime": 3600, "lifetimes": [], "hang": False,
                               "fail": 0})
        self.stub.container.update({"token": None, "lifetime": 3600, "lifetimes": [], "fail": 0})
        self.stub.web_identity.update({"token": None, "lifetime": 3600, "lifetimes": []})
        self.stub.assume_role.update({"lifetime": 3600, "lifetimes": []})
        with self.stub.lock:
            self.stub.deny.clear()
        self.home = tempfile.mkdtemp(prefix="aws-home-")

    def base_env(self, **extra):
        e = {"AWS_ENDPOINT_URL": self.stub.url, "AWS_REGION": "us-east-1",
             "AWS_EC2_METADATA_DISABLED": "true"}
        e.update(extra)
        return e

    def probe(self, ops, env, config=None, expect_clean=True, **kw):
        c = dict(CFG)
        c.update(config or {})
        res, info = run_probe(ops, env=env, config=c, home=self.home, **kw)
        if expect_clean:
            self.assertEqual(info.get("done", {}).get("loop_close"), 0, info["stderr"])
            self.assertEqual(info["returncode"], 0, info["stderr"])  # sanitizer reports fail here
        return res, info

    def write(self, rel, text):
        path = os.path.join(self.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- 1. environment
    def test_environment(self):
        self.stub.add_key("AKIDENV000000001", "env-secret", "env-token")
        env = self.base_env(AWS_ACCESS_KEY_ID="AKIDENV000000001", AWS_SECRET_ACCESS_KEY="env-secret",
                            AWS_SESSION_TOKEN="env-token")
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], env)
        self.assertEqual(res[0]["source"], "env")
        self.assertEqual(res[0]["masked"], "AKID****0001")
        self.assertTrue(res[0]["has_token"])
        self.assertEqual(res[0]["expiration_ms"], 0)
        self.assertTrue(res[1]["ok"], res[1])
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["headers"]["X-Amz-Security-Token"], "env-token")

    def test_partial_environment_is_an_error(self):
        env = self.base_env(AWS_ACCESS_KEY_ID="AKIDONLY")
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], env)
        self.assertFalse(res[0]["ok"])
        self.assertIn("AWS_SECRET_ACCESS_KEY", res[0]["message"])
        self.assertEqual(res[1]["error"]["kind"], "credentials")
        self.assertEqual(res[1]["err"], "ECRED")
        self.assertIn("partial credentials", res[1]["error"]["message"])

    def test_no_credentials_at_all(self):
        res, _ = self.probe([{"op": "emr.DescribeCluster", "args": {"cluster_id": "j"}}], self.base_env())
        self.assertEqual(res[0]["error"]["kind"], "credentials")
        self.assertIn("AWS_EC2_METADATA_DISABLED", res[0]["error"]["message"])

    # ---- 3. shared files
    def test_profiles(self):
        self.stub.add_key("AKIDDEFAULTPROF1", "def-secret")
        self.stub.add_key("AKIDPRODPROFILE1", "prod-secret", "prod-token")
        self.write(".aws/credentials", "[default]\naws_access_key_id = AKIDDEFAULTPROF1\n"
                                       "aws_secret_access_key = def-secret\n\n[prod]\n"
                                       "aws_access_key_id=AKIDPRODPROFILE1\naws_secret_access_key=prod-secret\n"
                                       "aws_session_token = prod-token\n")
        self.write(".aws/config", "[default]\nregion = eu-west-1\n\n[profile prod]\nregion = ap-south-1\n"
                                  "output = json\ns3 =\n  max_concurrent_requests = 20\n")
        env = self.base_env()
        del env["AWS_REGION"]
        res, info = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], env)
        self.assertEqual(res[0]["source"], "profile:default")
        self.assertEqual(info["ready"]["region"], "eu-west-1")
        self.assertEqual(info["ready"]["region_source"], "profile")
        self.assertTrue(res[1]["ok"], res[1])
        self.assertIn("/eu-west-1/sts/", self.stub.calls("GetCallerIdentity")[-1]["headers"]["Authorization"])
        env["AWS_PROFILE"] = "prod"
        res, info = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], env)
        self.assertEqual(res[0]["source"], "profile:prod")
        self.assertTrue(res[0]["has_token"])
        self.assertEqual(info["ready"]["region"], "ap-south-1")
        self.assertTrue(res[1]["ok"], res[1])
        # AWS_REGION beats the profile's region; aws.region beats both
        env["AWS_REGION"] = "us-west-2"
        _, info = self.probe([], env)
        self.assertEqual(info["ready"]["region"], "us-west-2")
        _, info = self.probe([], env, config={"aws.region": "eu-central-1"})
        self.assertEqual(info["ready"]["region_source"], "aws.region")
        # files named by the environment
        other = tempfile.mkdtemp()
        cpath = os.path.join(other, "creds.ini")
        with open(cpath, "w") as f:
            f.write("[x]\naws_access_key_id = AKIDDEFAULTPROF1\naws_secret_access_key = def-secret\n")
        env = self.base_env(AWS_SHARED_CREDENTIALS_FILE=cpath, AWS_CONFIG_FILE=os.path.join(other, "none"),
                            AWS_PROFILE="x")
        del env["AWS_REGION"]
        _, info = self.probe([], env, expect_clean=False)
        self.assertIn("cannot read", info["new_failed"]["message"])  # an explicitly named file must exist
        with open(os.path.join(other, "config"), "w") as f:
            f.write("[profile x]\nregion = sa-east-1\n")
        env["AWS_CONFIG_FILE"] = os.path.join(other, "config")
        res, info = self.probe([{"op": "creds"}], env)
        self.assertEqual(res[0]["source"], "profile:x")
        self.assertEqual(info["ready"]["region"], "sa-east-1")

    def test_malformed_files_and_missing_profile(self):
        self.write(".aws/config", "[default]\nregion = eu-west-1\nthis is not ini\n")
        _, info = self.probe([], self.base_env(), expect_clean=False)
        self.assertEqual(info["new_failed"]["err"], "EPARSE")
        self.assertIn("config:3: expected 'key = value'", info["new_failed"]["message"])
        self.assertEqual(info["returncode"], 3)
        os.remove(os.path.join(self.home, ".aws/config"))
        _, info = self.probe([], self.base_env(AWS_PROFILE="nope"), expect_clean=False)
        self.assertIn("profile 'nope'", info["new_failed"]["message"])
        _, info = self.probe([], self.base_env(), config={"aws.profile": "nope"}, expect_clean=False)
        self.assertEqual(info["new_failed"]["err"], "ECONFIG")

    def test_explicit_profile_skips_environment(self):
        self.stub.add_key("AKIDPROFWINS0001", "pw")
        self.write(".aws/credentials", "[team]\naws_access_key_id = AKIDPROFWINS0001\naws_secret_access_key = pw\n")
        env = self.base_env(AWS_ACCESS_KEY_ID="AKIDENVLOSES0001", AWS_SECRET_ACCESS_KEY="x")
        res, _ = self.probe([{"op": "creds"}], env)
        self.assertEqual(res[0]["source"], "env")  # environment first by default
        res, _ = self.probe([{"op": "creds"}], env, config={"aws.profile": "team"})
        self.assertEqual(res[0]["source"], "profile:team")

    def test_unsupported_profile_kind(self):
        self.write(".aws/config", "[profile sso]\nsso_session = corp\nregion = eu-west-1\n")
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="sso"))
        self.assertFalse(res[0]["ok"])
        self.assertIn("sso_session", res[0]["message"])
        # the way out: the CLI's own export as a credential_process
        self.assertIn("credential_process = aws configure export-credentials --profile sso --format process",
                      res[0]["message"])
        # a role_arn with nothing to assume it is refused, not ignored for the keys beside it
        self.stub.add_key("AKIDBESIDEROLE01", "beside")
        self.write(".aws/credentials", "[r]\naws_access_key_id = AKIDBESIDEROLE01\naws_secret_access_key = beside\n")
        self.write(".aws/config", "[profile r]\nrole_arn = %s\n" % ROLE)
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], self.base_env(AWS_PROFILE="r"))
        self.assertFalse(res[0]["ok"])
        self.assertIn("has role_arn but no source_profile, credential_source or web_identity_token_file",
                      res[0]["message"])
        self.assertEqual(res[1]["error"]["kind"], "credentials")
        self.assertFalse([c for c in self.stub.calls() if c.get("akid") == "AKIDBESIDEROLE01"])

    # ---- 2. assume role from a profile
    SOURCE = ("AKIDSOURCE000001", "source-secret-value-0001")

    def source_keys(self):
        self.stub.add_key(*self.SOURCE)
        return "[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % self.SOURCE

    def assumed_since(self, n):
        with self.stub.lock:
            return self.stub.assumed[n:]

    def issued_by(self, by):
        with self.stub.lock:
            return [i for i in self.stub.issued if i["by"] == by]

    def test_assume_role_source_profile(self):
        import botocore.serialize
        import botocore.session
        self.write(".aws/credentials", self.source_keys())
        self.write(".aws/config", "[profile app]\nrole_arn = %s\nsource_profile = src\nregion = eu-west-1\n"
                   "role_session_name = frugal-test\n" % ROLE)
        env = self.base_env(AWS_PROFILE="app", PROBE_LOG="debug")
        del env["AWS_REGION"]
        n0 = len(self.stub.assumed)
        before = self.stub.cred_fetches["assume_role"]
        t0 = time.time()
        res, info = self.probe([{"op": "creds"}, {"op": "emr.DescribeCluster", "args": {"cluster_id": "j"}},
                                {"op": "sts.GetCallerIdentity"}], env)
        self.assertEqual(res[0]["source"], "assume-role:app", res[0])
        self.assertTrue(res[0]["has_token"])
        self.assertTrue(res[0]["access_key_id"].startswith("ASIA"))
        self.assertGreater(res[0]["expiration_ms"], (t0 + 3000) * 1000)
        self.assertTrue(res[1]["ok"], res[1])
        self.assertTrue(res[2]["ok"], res[2])
        self.assertEqual(self.stub.cred_fetches["assume_role"], before + 1)  # one AssumeRole serves both calls
        # the AssumeRole: SigV4 with the source key, service sts, the profile's region; the stub
        # re-signed it with botocore and found the same signature (else it would have answered 403)
        call = self.stub.calls("AssumeRole")[-1]
        self.assertIsNone(call["sig_error"])
        self.assertRegex(call["headers"]["Authorization"],
                         r"^AWS4-HMAC-SHA256 Credential=AKIDSOURCE000001/\d{8}/eu-west-1/sts/aws4_request, "
                         r"SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$")
        self.assertNotIn("X-Amz-Security-Token", call["headers"])  # long-term source keys
        self.assertEqual(call["headers"]["Content-Type"], "application/x-www-form-urlencoded; charset=utf-8")
        # the body botocore would send for these parameters, byte for byte
        model = botocore.session.get_session().get_service_model("sts")
        want = botocore.serialize.create_serializer("query").serialize_to_request(
            {"RoleArn": ROLE, "RoleSessionName": "frugal-test"}, model.operation_model("AssumeRole"))
        self.assertEqual(call["body"].decode(), urllib.parse.urlencode(want["body"], doseq=True))
        (a,) = self.assumed_since(n0)
        self.assertEqual(a["signer"], "AKIDSOURCE000001")
        self.assertEqual(a["issued"], res[0]["access_key_id"])
        # the assumed credentials sign the calls
        self.assertEqual(self.stub.calls("DescribeCluster")[-1]["akid"], a["issued"])
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["akid"], a["issued"])
        self.assertIn("/eu-west-1/", self.stub.calls("DescribeCluster")[-1]["headers"]["Authorization"])
        # no secret reaches the log: the source's, the assumed secret and its token
        self.assertIn("aws.credentials", info["stderr"])
        issued = self.issued_by("assume-role")[-1]
        with self.stub.lock:
            secret = self.stub.keys[issued["akid"]]["secret"]
        for s in (self.SOURCE[1], secret, issued["token"]):
            self.assertNotIn(s, info["stderr"])
        # without role_session_name: a generated one
        self.write(".aws/config", "[profile app]\nrole_arn = %s\nsource_profile = src\n" % ROLE)
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="app"))
        self.assertTrue(res[0]["ok"], res[0])
        self.assertRegex(self.assumed_since(n0)[-1]["params"]["RoleSessionName"], r"^frugal-session-\d{10}$")

    def test_assume_role_options_and_self_source(self):
        import botocore.serialize
        import botocore.session
        self.stub.add_key("AKIDSELFSOURCE01", "self-secret")
        self.write(".aws/credentials", "[own]\naws_access_key_id = AKIDSELFSOURCE01\naws_secret_access_key = "
                                       "self-secret\n")
        self.write(".aws/config", "[profile own]\nrole_arn = %s\nsource_profile = own\nexternal_id = ext-4711\n"
                                  "duration_seconds = 1800\nrole_session_name = s1\n" % ROLE)
        n0 = len(self.stub.assumed)
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], self.base_env(AWS_PROFILE="own"))
        self.assertEqual(res[0]["source"], "assume-role:own", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        (a,) = self.assumed_since(n0)
        self.assertEqual(a["signer"], "AKIDSELFSOURCE01")  # its own keys sign its AssumeRole
        self.assertEqual(a["params"]["ExternalId"], "ext-4711")
        self.assertEqual(a["params"]["DurationSeconds"], "1800")
        model = botocore.session.get_session().get_service_model("sts")
        want = botocore.serialize.create_serializer("query").serialize_to_request(
            {"RoleArn": ROLE, "RoleSessionName": "s1", "DurationSeconds": 1800, "ExternalId": "ext-4711"},
            model.operation_model("AssumeRole"))
        self.assertEqual(self.stub.calls("AssumeRole")[-1]["body"].decode(),
                         urllib.parse.urlencode(want["body"], doseq=True))
        # the role's credentials, not the keys beside role_arn, sign the call
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["akid"], a["issued"])

    def test_assume_role_chain(self):
        self.write(".aws/credentials", self.source_keys())
        self.write(".aws/config", "[profile top]\nrole_arn = %s\nsource_profile = mid\nexternal_id = top-ext\n"
                                  "[profile mid]\nrole_arn = %s\nsource_profile = src\n" % (ROLE, ROLE2))
        n0 = len(self.stub.assumed)
        res, _ = self.probe([{"op": "creds"}, {"op": "ssm.GetParameter", "args": {"name": "/p"}}],
                            self.base_env(AWS_PROFILE="top"))
        self.assertEqual(res[0]["source"], "assume-role:top", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        first, second = self.assumed_since(n0)
        # the inner role first, signed with the source keys ...
        self.assertEqual(first["params"]["RoleArn"], ROLE2)
        self.assertEqual(first["signer"], "AKIDSOURCE000001")
        self.assertIsNone(first["token_header"])
        self.assertNotIn("ExternalId", first["params"])
        # ... then the outer one, signed with the inner role's temporary credentials (token included)
        self.assertEqual(second["params"]["RoleArn"], ROLE)
        self.assertEqual(second["params"]["ExternalId"], "top-ext")
        self.assertEqual(second["signer"], first["issued"])
        issued_first = [i for i in self.issued_by("assume-role") if i["akid"] == first["issued"]][0]
        self.assertEqual(second["token_header"], issued_first["token"])
        self.assertEqual(res[0]["access_key_id"], second["issued"])
        self.assertEqual(self.stub.calls("GetParameter")[-1]["akid"], second["issued"])

    def test_assume_role_credential_source(self):
        self.stub.add_key("AKIDENVSOURCE001", "env-source-secret", "env-source-token")
        self.write(".aws/config", "[profile envrole]\nrole_arn = %s\ncredential_source = Environment\n"
                                  "[profile imdsrole]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\n"
                                  "[profile ecsrole]\nrole_arn = %s\ncredential_source = EcsContainer\n"
                   % (ROLE, ROLE, ROLE))
        envkeys = {"AWS_ACCESS_KEY_ID": "AKIDENVSOURCE001", "AWS_SECRET_ACCESS_KEY": "env-source-secret",
                   "AWS_SESSION_TOKEN": "env-source-token"}
        n0 = len(self.stub.assumed)
        # Environment (aws.profile names the profile, so the keys are not used directly)
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], self.base_env(**envkeys),
                            config={"aws.profile": "envrole"})
        self.assertEqual(res[0]["source"], "assume-role:envrole", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        (a,) = self.assumed_since(n0)
        self.assertEqual(a["signer"], "AKIDENVSOURCE001")
        self.assertEqual(a["token_header"], "env-source-token")
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["akid"], a["issued"])
        res, _ = self.probe([{"op": "creds"}], self.base_env(), config={"aws.profile": "envrole"})
        self.assertFalse(res[0]["ok"])
        self.assertIn("credential_source = Environment but AWS_ACCESS_KEY_ID", res[0]["message"])
        # Ec2InstanceMetadata: the role's keys from IMDS sign the AssumeRole
        n1 = len(self.stub.assumed)
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}],
                            self.imds_env(AWS_PROFILE="imdsrole"))
        self.assertEqual(res[0]["source"], "assume-role:imdsrole", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        (a,) = self.assumed_since(n1)
        imds = self.issued_by("imds")[-1]
        self.assertEqual(a["signer"], imds["akid"])
        self.assertEqual(a["token_header"], imds["token"])
        self.assertEqual(res[0]["access_key_id"], a["issued"])
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="imdsrole"))
        self.assertIn("Ec2InstanceMetadata but AWS_EC2_METADATA_DISABLED", res[0]["message"])
        # EcsContainer
        n2 = len(self.stub.assumed)
        res, _ = self.probe([{"op": "creds"}], self.base_env(
            AWS_PROFILE="ecsrole", AWS_CONTAINER_CREDENTIALS_FULL_URI=self.stub.url + "/creds/abc"))
        self.assertEqual(res[0]["source"], "assume-role:ecsrole", res[0])
        (a,) = self.assumed_since(n2)
        self.assertEqual(a["signer"], self.issued_by("container")[-1]["akid"])

    def test_assume_role_errors(self):
        self.write(".aws/credentials", self.source_keys())
        self.write(".aws/config", "[profile a]\nrole_arn = %s\nsource_profile = b\n"
                                  "[profile b]\nrole_arn = %s\nsource_profile = a\n"
                                  "[profile mfa]\nrole_arn = %s\nsource_profile = src\n"
                                  "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
                                  "[profile dur]\nrole_arn = %s\nsource_profile = src\nduration_seconds = 60\n"
                                  "[profile gone]\nrole_arn = %s\nsource_profile = nowhere\n"
                                  "[profile ok]\nrole_arn = %s\nsource_profile = src\n"
                   % (ROLE, ROLE2, ROLE, ROLE, ROLE, ROLE))
        before = self.stub.cred_fetches["assume_role"]
        cases = [("a", "source_profile loop: a -> b -> a"),
                 ("mfa", "mfa_serial needs an interactive prompt; not supported by a daemon"),
                 ("dur", "duration_seconds must be a number of seconds from 900 to 43200"),
                 ("gone", "source_profile 'nowhere' does not exist")]
        for profile, want in cases:
            with self.subTest(profile=profile):
                res, _ = self.probe([{"op": "creds"}, {"op": "ec2.DescribeAvailabilityZones"}],
                                    self.base_env(AWS_PROFILE=profile))
                self.assertFalse(res[0]["ok"])
                self.assertIn(want, res[0]["message"])
                self.assertEqual(res[1]["error"]["kind"], "credentials")
                self.assertIn(want, res[1]["error"]["message"])
        self.assertEqual(self.stub.cred_fetches["assume_role"], before)  # none of them reached STS
        # STS refuses: its code and message, the role and the profile, and no fall-through
        self.stub.deny.add("sts:AssumeRole")
        n = len(self.stub.calls("DescribeAvailabilityZones"))
        tries = len(self.stub.calls("AssumeRole"))
        res, _ = self.probe([{"op": "creds"}, {"op": "ec2.DescribeAvailabilityZones"}],
                            self.base_env(AWS_PROFILE="ok"))
        self.assertFalse(res[0]["ok"])
        msg = res[0]["message"]
        self.assertIn("STS AssumeRole %s (profile 'ok'): AccessDenied: User is not authorized to perform: "
                      "sts:AssumeRole" % ROLE, msg)
        self.assertEqual(res[1]["error"]["kind"], "credentials")
        self.assertEqual(len(self.stub.calls("DescribeAvailabilityZones")), n)  # never sent, as nobody
        # AccessDenied is final: one request (the second op queues for a new fetch: one more)
        self.assertEqual(len(self.stub.calls("AssumeRole")), tries + 2)
        self.assertEqual(self.stub.cred_fetches["assume_role"], before)

    def test_assume_role_refresh(self):
        # static source: the role's credentials (5 min + 4 s) are assumed again 2-4 s later
        self.write(".aws/credentials", self.source_keys())
        self.write(".aws/config", "[profile app]\nrole_arn = %s\nsource_profile = src\n"
                                  "[profile imdsrole]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\n"
                   % (ROLE, ROLE))
        self.stub.assume_role["lifetimes"] = [304]
        n0 = len(self.stub.assumed)
        ops = [{"op": "creds"}, {"op": "sts.GetCallerIdentity"}, {"op": "sleep", "ms": 4500}, {"op": "creds"},
               {"op": "sts.GetCallerIdentity"}]
        res, _ = self.probe(ops, self.base_env(AWS_PROFILE="app"))
        first, c1, second, c2 = res
        self.assertTrue(all(x["ok"] for x in res), res)
        self.assertEqual((first["fetches"], second["fetches"]), (1, 2))
        a1, a2 = self.assumed_since(n0)
        self.assertEqual((a1["signer"], a2["signer"]), ("AKIDSOURCE000001", "AKIDSOURCE000001"))
        self.assertEqual((first["access_key_id"], second["access_key_id"]), (a1["issued"], a2["issued"]))
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["akid"], a2["issued"])
        # an IMDS source already inside its own refresh window (5 min left) when the role is
        # assumed again is fetched again first
        self.stub.imds["lifetimes"] = [300]
        self.stub.assume_role["lifetimes"] = [304]
        imds0 = self.stub.cred_fetches["imds"]
        n1 = len(self.stub.assumed)
        res, _ = self.probe(ops, self.imds_env(AWS_PROFILE="imdsrole"))
        self.assertTrue(all(x["ok"] for x in res), res)
        self.assertEqual(self.stub.cred_fetches["imds"], imds0 + 2)
        a1, a2 = self.assumed_since(n1)
        i1, i2 = self.issued_by("imds")[-2:]
        self.assertEqual((a1["signer"], a2["signer"]), (i1["akid"], i2["akid"]))
        self.assertEqual(res[2]["access_key_id"], a2["issued"])
        # an IMDS source valid for an hour is kept: only the role is assumed again
        self.stub.assume_role["lifetimes"] = [304]
        imds0 = self.stub.cred_fetches["imds"]
        n2 = len(self.stub.assumed)
        res, _ = self.probe(ops, self.imds_env(AWS_PROFILE="imdsrole"))
        self.assertTrue(all(x["ok"] for x in res), res)
        self.assertEqual(self.stub.cred_fetches["imds"], imds0 + 1)
        a1, a2 = self.assumed_since(n2)
        self.assertEqual(a1["signer"], a2["signer"])
        self.assertNotEqual(a1["issued"], a2["issued"])

    # ---- credential_process
    def process_profile(self, name="proc", extra_args="", **conf):
        """A profile whose credential_process is PROCESS_SCRIPT with conf."""
        d = os.path.join(self.home, "dir with space")
        os.makedirs(d, exist_ok=True)
        script = os.path.join(d, "creds.py")
        with open(script, "w") as f:
            f.write(PROCESS_SCRIPT)
        cpath = os.path.join(d, name + ".json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        return cpath, 'python3 "%s" \'%s\'%s' % (script, cpath, extra_args)

    def runs(self, cpath):
        try:
            with open(cpath + ".count") as f:
                return int(f.read())
        except FileNotFoundError:
            return 0

    def test_credential_process(self):
        for n in range(1, 4):
            self.stub.add_key("AKIDPROCESS%04d" % n, "proc-secret-value-%d" % n)
        cpath, cmd = self.process_profile(extra_args=" --flag 'two words' \"q\\\"uote\"",
                                          akid="AKIDPROCESS", secret="proc-secret-value")
        self.write(".aws/config", "[profile proc]\ncredential_process = %s\nregion = eu-west-1\n" % cmd)
        env = self.base_env(AWS_PROFILE="proc", PROBE_LOG="debug")
        res, info = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}, {"op": "creds"}], env)
        self.assertEqual(res[0]["source"], "process:proc", res[0])
        self.assertEqual(res[0]["access_key_id"], "AKIDPROCESS0001")
        self.assertFalse(res[0]["has_token"])
        self.assertEqual(res[0]["expiration_ms"], 0)  # no Expiration: never expires
        self.assertTrue(res[1]["ok"], res[1])
        self.assertEqual(self.stub.calls("GetCallerIdentity")[-1]["akid"], "AKIDPROCESS0001")
        self.assertEqual(res[2]["fetches"], 1)
        self.assertEqual(self.runs(cpath), 1)
        # split like shlex: a path with a space, quotes, an escaped quote; no shell
        with open(cpath + ".argv") as f:
            self.assertEqual(json.load(f), [cpath, "--flag", "two words", 'q"uote'])
        self.assertNotIn("proc-secret-value-1", info["stderr"])

    def test_credential_process_refresh(self):
        for n in range(1, 4):
            self.stub.add_key("ASIAPROCESS%04d" % n, "proc-secret-%d" % n, "proc-token-%d" % n)
        cpath, cmd = self.process_profile(akid="ASIAPROCESS", secret="proc-secret", token="proc-token",
                                          lifetimes=[304, 3600])
        self.write(".aws/config", "[profile proc]\ncredential_process = %s\n" % cmd)
        ops = [{"op": "creds"}, {"op": "sts.GetCallerIdentity"}, {"op": "sleep", "ms": 4500}, {"op": "creds"},
               {"op": "sts.GetCallerIdentity"}]
        res, info = self.probe(ops, self.base_env(AWS_PROFILE="proc", PROBE_LOG="debug"))
        first, c1, second, c2 = res
        self.assertTrue(all(x["ok"] for x in res), res)
        self.assertEqual(first["access_key_id"], "ASIAPROCESS0001")
        self.assertGreater(first["expiration_ms"], 0)
        self.assertEqual(second["access_key_id"], "ASIAPROCESS0002")
        self.assertEqual(second["fetches"], 2)
        self.assertEqual(self.runs(cpath), 2)
        self.assertEqual([c["akid"] for c in self.stub.calls("GetCallerIdentity")[-2:]],
                         ["ASIAPROCESS0001", "ASIAPROCESS0002"])
        for s in ("proc-secret-1", "proc-token-1", "proc-secret-2", "proc-token-2"):
            self.assertNotIn(s, info["stderr"])
        # credentials that are already expired are an error, not a refresh loop
        cpath, cmd = self.process_profile(name="old", akid="ASIAOLD", secret="s", token="t", lifetime=-60)
        self.write(".aws/config", "[profile old]\ncredential_process = %s\n" % cmd)
        res, _ = self.probe([{"op": "creds"}, {"op": "sleep", "ms": 1500}], self.base_env(AWS_PROFILE="old"))
        self.assertFalse(res[0]["ok"])
        self.assertIn("the credentials it returned expire at", res[0]["message"])
        self.assertEqual(self.runs(cpath), 1)

    def test_credential_process_failures(self):
        # non-zero exit: the first line of stderr, never stdout
        cpath, cmd = self.process_profile(mode="fail")
        self.write(".aws/config", "[profile proc]\ncredential_process = %s\n" % cmd)
        res, info = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}],
                               self.base_env(AWS_PROFILE="proc", PROBE_LOG="debug"))
        msg = res[0]["message"]
        self.assertIn("credential_process of profile 'proc': exited with status 3: Error when retrieving token "
                      "from sso: Token has expired and refresh failed", msg)
        self.assertNotIn("second line", msg)
        self.assertEqual(res[1]["error"]["kind"], "credentials")
        self.assertIn("exited with status 3", res[1]["error"]["message"])
        self.assertIn("aws.credentials.failed", info["stderr"])
        for leak in ("stdout-secret-never-log", "AKIDLEAKED"):
            self.assertNotIn(leak, info["stderr"])
            self.assertNotIn(leak, json.dumps(res))
        # malformed output: named, never quoted
        cases = [({"mode": "raw", "raw": "AKIDRAWLEAK01 raw-secret-leak\n"}, "output is not JSON (line 1, column"),
                 ({"mode": "raw", "raw": json.dumps({"Version": 2, "AccessKeyId": "A",
                                                     "SecretAccessKey": "raw-secret-leak"})},
                  "unsupported Version 2"),
                 ({"mode": "raw", "raw": json.dumps({"Version": 1, "SecretAccessKey": "raw-secret-leak"})},
                  "output has no AccessKeyId"),
                 ({"mode": "raw", "raw": json.dumps({"Version": 1, "AccessKeyId": "A",
                                                     "SecretAccessKey": "raw-secret-leak",
                                                     "Expiration": "next tuesday"})},
                  "Expiration is not an ISO 8601 time"),
                 ({"mode": "big"}, "wrote more than 65536 bytes to stdout; killed")]
        for conf, want in cases:
            with self.subTest(want=want):
                cpath, cmd = self.process_profile(**conf)
                self.write(".aws/config", "[profile proc]\ncredential_process = %s\n" % cmd)
                res, info = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="proc", PROBE_LOG="debug"))
                self.assertFalse(res[0]["ok"])
                self.assertIn("credential_process of profile 'proc': " + want, res[0]["message"])
                self.assertNotIn("raw-secret-leak", info["stderr"] + json.dumps(res))
                self.assertNotIn("AKIDRAWLEAK01", info["stderr"] + json.dumps(res))
        # a command that does not exist, and one that cannot be split
        self.write(".aws/config", "[profile proc]\ncredential_process = /nonexistent/creds --x\n"
                                  "[profile bad]\ncredential_process = creds 'unclosed\n")
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="proc"))
        self.assertIn("cannot run '/nonexistent/creds': no such file or directory", res[0]["message"])
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="bad"))
        self.assertIn("profile 'bad': credential_process: no closing quotation", res[0]["message"])

    def test_credential_process_timeout(self):
        # http.timeout bounds the process; its child holding stdout dies with it (group kill)
        cpath, cmd = self.process_profile(mode="hang")
        self.write(".aws/config", "[profile proc]\ncredential_process = %s\n" % cmd)
        t0 = time.time()
        res, _ = self.probe([{"op": "creds"}, {"op": "ssm.GetParameter", "args": {"name": "/p"}}],
                            self.base_env(AWS_PROFILE="proc"), config={"http.timeout": "1500ms"})
        elapsed = time.time() - t0
        self.assertFalse(res[0]["ok"])
        self.assertIn("credential_process of profile 'proc': timed out after 1.5 s; killed", res[0]["message"])
        self.assertEqual(res[1]["error"]["kind"], "credentials")
        self.assertLess(elapsed, 10)  # the second op runs the process again: two timeouts, not 120 s
        self.assertEqual(self.runs(cpath), 2)
        self.assertChildGone(cpath)
        # closing the client while the process runs: killed, its handles closed, the call cancelled
        cpath, cmd = self.process_profile(name="closing", mode="hang")
        self.write(".aws/config", "[profile proc]\ncredential_process = %s\n" % cmd)
        t0 = time.time()
        res, _ = self.probe([{"op": "ssm.GetParameter", "args": {"name": "/p"}}], self.base_env(AWS_PROFILE="proc"),
                            close_after_ms=2500)  # probe() checks loop_close == 0
        self.assertLess(time.time() - t0, 6)  # not the 5 s grace after a kill that failed
        self.assertEqual(res[0]["err"], "ECANCELED", res[0])
        self.assertEqual(self.runs(cpath), 1)
        self.assertChildGone(cpath)

    def assertChildGone(self, cpath):
        with open(cpath + ".child") as f:
            child = int(f.read())
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % child) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                state = "gone"
            if state in ("gone", "Z", "X"):
                break
            time.sleep(0.1)
        self.assertIn(state, ("gone", "Z", "X"), "the process group was not killed")

    def test_credential_process_as_role_source(self):
        for n in range(1, 3):
            self.stub.add_key("ASIAPSOURCE%04d" % n, "psrc-secret-%d" % n, "psrc-token-%d" % n)
        cpath, cmd = self.process_profile(name="psrc", akid="ASIAPSOURCE", secret="psrc-secret", token="psrc-token",
                                          lifetime=3600)
        self.write(".aws/config", "[profile psrc]\ncredential_process = %s\n"
                                  "[profile viaproc]\nrole_arn = %s\nsource_profile = psrc\n" % (cmd, ROLE))
        n0 = len(self.stub.assumed)
        res, _ = self.probe([{"op": "creds"}, {"op": "sts.GetCallerIdentity"}], self.base_env(AWS_PROFILE="viaproc"))
        self.assertEqual(res[0]["source"], "assume-role:viaproc", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        (a,) = self.assumed_since(n0)
        self.assertEqual(a["signer"], "ASIAPSOURCE0001")
        self.assertEqual(a["token_header"], "psrc-token-1")
        self.assertEqual(self.runs(cpath), 1)

    # ---- 2. web identity
    def test_web_identity(self):
        tok = self.write("token", "eyJhbGciOiJSUzI1NiJ9.web-identity-token\n")
        self.stub.web_identity["token"] = "eyJhbGciOiJSUzI1NiJ9.web-identity-token"
        env = self.base_env(AWS_WEB_IDENTITY_TOKEN_FILE=tok, AWS_ROLE_ARN="arn:aws:iam::123456789012:role/frugal",
                            AWS_ROLE_SESSION_NAME="frugal-test")
        before = self.stub.cred_fetches["sts"]
        res, info = self.probe([{"op": "creds"}, {"op": "emr.DescribeCluster", "args": {"cluster_id": "j"}}], env)
        self.assertEqual(res[0]["source"], "web-identity", res[0])
        self.assertTrue(res[0]["has_token"])
        self.assertGreater(res[0]["expiration_ms"], time.time() * 1000)
        self.assertTrue(res[1]["ok"], res[1])
        self.assertEqual(self.stub.cred_fetches["sts"], before + 1)
        call = self.stub.calls("AssumeRoleWithWebIdentity")[-1]
        self.assertNotIn("Authorization", call["headers"])
        self.assertEqual(call["params"]["RoleSessionName"], "frugal-test")
        self.assertEqual(call["params"]["RoleArn"], "arn:aws:iam::123456789012:role/frugal")
        self.assertEqual(self.stub.calls("DescribeCluster")[-1]["akid"], res[0]["access_key_id"])
        # the token never reaches the log
        self.assertNotIn("web-identity-token", info["stderr"])
        # rejected token: a clear error, no fall-through to other sources
        self.stub.web_identity["token"] = "something-else"
        res, _ = self.probe([{"op": "creds"}], env)
        self.assertFalse(res[0]["ok"])
        self.assertIn("InvalidIdentityToken", res[0]["message"])
        # from the profile instead of the environment
        self.stub.web_identity["token"] = None
        self.write(".aws/config", "[profile wi]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = %s\n"
                   % tok)
        res, _ = self.probe([{"op": "creds"}], self.base_env(AWS_PROFILE="wi"))
        self.assertEqual(res[0]["source"], "web-identity")
        # a missing token file
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = tok + ".missing"
        res, _ = self.probe([{"op": "creds"}], env)
        self.assertFalse(res[0]["ok"])
        self.assertIn("token file", res[0]["message"])

    # ---- 4. container
    def test_container(self):
        self.stub.container["token"] = "Bearer container-secret-token"
        env = self.base_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=self.stub.url + "/creds/abc",
                            AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer container-secret-token")
        res, info = self.probe([{"op": "creds"}, {"op": "ssm.GetParameter", "args": {"name": "/p"}}], env)
        self.assertEqual(res[0]["source"], "container", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        self.assertNotIn("container-secret-token", info["stderr"])
        # the token from a file, re-read on every fetch
        tf = self.write("ecs-token", "Bearer container-secret-token\n")
        env2 = self.base_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=self.stub.url + "/creds/abc",
                             AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tf)
        res, _ = self.probe([{"op": "creds"}], env2)
        self.assertEqual(res[0]["source"], "container")
        # wrong token: 403, an error naming the source
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer wrong"
        res, _ = self.probe([{"op": "creds"}], env)
        self.assertFalse(res[0]["ok"])
        self.assertIn("container credentials: HTTP 403", res[0]["message"])
        # plain HTTP to somewhere that is not loopback / ECS is refused
        res, _ = self.probe([{"op": "creds"}],
                            self.base_env(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/creds"))
        self.assertIn("not https", res[0]["message"])
        # one 500 is retried
        self.stub.container["token"] = None
        self.stub.container["fail"] = 1
        res, _ = self.probe([{"op": "creds"}],
                            self.base_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=self.stub.url + "/creds/abc"))
        self.assertEqual(res[0]["source"], "container")

    # ---- 5. IMDS
    def imds_env(self, **extra):
        e = self.base_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.stub.url)
        del e["AWS_EC2_METADATA_DISABLED"]
        e.update(extra)
        return e

    def test_imds(self):
        before_tok = self.stub.cred_fetches["imds_token"]
        res, _ = self.probe([{"op": "creds"}, {"op": "ec2.DescribeAvailabilityZones"}], self.imds_env())
        self.assertEqual(res[0]["source"], "imds:frugal-role", res[0])
        self.assertTrue(res[1]["ok"], res[1])
        self.assertEqual(self.stub.cred_fetches["imds_token"], before_tok + 1)
        # no IMDSv2 here: the token PUT answers 404 and v1 is used
        self.stub.imds["v2"] = False
        res, _ = self.probe([{"op": "creds"}], self.imds_env())
        self.assertEqual(res[0]["source"], "imds:frugal-role")
        res, _ = self.probe([{"op": "creds"}], self.imds_env(AWS_EC2_METADATA_V1_DISABLED="true"))
        self.assertFalse(res[0]["ok"])
        self.assertIn("V1_DISABLED", res[0]["message"])
        self.stub.imds["v2"] = True
        # one failure, one retry
        self.stub.imds["fail"] = 1
        res, _ = self.probe([{"op": "creds"}], self.imds_env())
        self.assertTrue(res[0]["ok"], res[0])
        # a hanging IMDS: short timeouts, one retry, then a clear error
        self.stub.imds["hang"] = True
        t0 = time.time()
        res, _ = self.probe([{"op": "creds"}], self.imds_env(AWS_METADATA_SERVICE_TIMEOUT="0.3"))
        self.assertLess(time.time() - t0, 4)
        self.assertFalse(res[0]["ok"])
        self.assertIn("IMDS token", res[0]["message"])
        self.stub.imds["hang"] = False
        # disabled
        before = self.stub.cred_fetches["imds"]
        res, _ = self.probe([{"op": "creds"}], self.imds_env(AWS_EC2_METADATA_DISABLED="true"))
        self.assertFalse(res[0]["ok"])
        self.assertEqual(self.stub.cred_fetches["imds"], before)

    def test_precedence(self):
        self.stub.add_key("AKIDPRECEDENCE01", "s")
        self.write(".aws/credentials", "[default]\naws_access_key_id = AKIDPRECEDENCE01\naws_secret_access_key = s\n")
        full = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.stub.url + "/creds/abc"}
        tok = self.write("tok", "t")
        wi = {"AWS_WEB_IDENTITY_TOKEN_FILE": tok, "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"}
        envk = {"AWS_ACCESS_KEY_ID": "AKIDPRECEDENCE01", "AWS_SECRET_ACCESS_KEY": "s"}
        cases = [(dict(envk, **wi, **full), "env"), (dict(wi, **full), "web-identity"), (dict(full), "profile:default")]
        for extra, want in cases:
            res, _ = self.probe([{"op": "creds"}], self.imds_env(**extra))
            self.assertEqual(res[0]["source"], want)
        os.remove(os.path.join(self.home, ".aws/credentials"))
        res, _ = self.probe([{"op": "creds"}], self.imds_env(**full))
        self.assertEqual(res[0]["source"], "container")
        res, _ = self.probe([{"op": "creds"}], self.imds_env())
        self.assertEqual(res[0]["source"], "imds:frugal-role")

    # ---- refresh and queueing
    def test_refresh_before_expiration(self):
        # 5 min + 4 s of validity: the refresh starts 2-4 s later, in the background
        for name, env, counter in [("imds", self.imds_env(), "imds"),
                                   ("container", self.base_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=self.stub.url +
                                                               "/creds/abc"), "container")]:
            with self.subTest(source=name):
                self.stub.imds["lifetimes"] = [304]
                self.stub.container["lifetimes"] = [304]
                before = self.stub.cred_fetches[counter]
                ops = [{"op": "creds"}, {"op": "sts.GetCallerIdentity"}, {"op": "sleep", "ms": 1500},
                       {"op": "sts.GetCallerIdentity"}, {"op": "sleep", "ms": 3200}, {"op": "creds"},
                       {"op": "sts.GetCallerIdentity"}]
                res, _ = self.probe(ops, env)
                first, c1, c2, second, c3 = res
                self.assertTrue(all(x["ok"] for x in res), res)
                self.assertEqual(first["fetches"], 1)
                self.assertGreater(first["next_refresh_ms"], 0)
                self.assertEqual(second["fetches"], 2, second)
                self.assertNotEqual(first["access_key_id"], second["access_key_id"])
                self.assertEqual(self.stub.cred_fetches[counter], before + 2)
                calls = self.stub.calls("GetCallerIdentity")[-3:]
                self.assertEqual(calls[0]["akid"], first["access_key_id"])
                self.assertEqual(calls[1]["akid"], first["access_key_id"])
                self.assertEqual(calls[2]["akid"], second["access_key_id"])

    def test_web_identity_refresh(self):
        tok = self.write("token", "t1")
        self.stub.web_identity["lifetimes"] = [303]
        env = self.base_env(AWS_WEB_IDENTITY_TOKEN_FILE=tok, AWS_ROLE_ARN="arn:aws:iam::1:role/r")
        res, _ = self.probe([{"op": "creds"}, {"op": "sleep", "ms": 3500}, {"op": "creds"}], env)
        self.assertEqual(res[0]["fetches"], 1)
        self.assertEqual(res[1]["fetches"], 2)
        self.assertNotEqual(res[0]["access_key_id"], res[1]["access_key_id"])

    def test_calls_queue_for_the_first_fetch(self):
        before = self.stub.cred_fetches["imds"]
        ops = [{"op": "ssm.GetParameter", "args": {"name": "/p%d" % i}} for i in range(25)]
        res, _ = self.probe(ops, self.imds_env(), parallel=True)
        self.assertEqual(len(res), 25)
        self.assertTrue(all(r["ok"] for r in res), res)
        self.assertEqual(self.stub.cred_fetches["imds"], before + 1)
        # in-flight calls survive a refresh: a slow call signed with the old keys completes
        from awstest import Reply
        self.stub.imds["lifetimes"] = [303]
        self.stub.inject("DescribeCluster", Reply(200, '{"Cluster": {}}', {"Content-Type":
                                                                          "application/x-amz-json-1.1"}, delay=3.5))
        res, _ = self.probe([{"op": "emr.DescribeCluster", "args": {"cluster_id": "j-slow"}},
                             {"op": "sleep", "ms": 3600}, {"op": "creds"}], self.imds_env(), parallel=True)
        slow = [r for r in res if r["op"] == "emr.DescribeCluster"][0]
        creds = [r for r in res if r["op"] == "creds"][0]
        self.assertTrue(slow["ok"], slow)
        self.assertEqual(creds["fetches"], 2)

    def test_secrets_not_logged(self):
        self.stub.add_key("AKIDLOGCHECK0001", "very-secret-key-value", "very-secret-session-token")
        env = self.base_env(AWS_ACCESS_KEY_ID="AKIDLOGCHECK0001", AWS_SECRET_ACCESS_KEY="very-secret-key-value",
                            AWS_SESSION_TOKEN="very-secret-session-token", PROBE_LOG="debug")
        res, info = self.probe([{"op": "sts.GetCallerIdentity"}, {"op": "ec2.DescribeAvailabilityZones"}], env)
        self.assertTrue(res[0]["ok"])
        self.assertIn("aws.call", info["stderr"])
        self.assertNotIn("very-secret-key-value", info["stderr"])
        self.assertNotIn("very-secret-session-token", info["stderr"])
        # IMDS: the fetched secret and token too
        res, info = self.probe([{"op": "sts.GetCallerIdentity"}], self.imds_env(PROBE_LOG="debug"))
        self.assertIn("aws.credentials", info["stderr"])
        with self.stub.lock:
            issued = [k for k in self.stub.keys.values() if k["token"]]
        for k in issued[-1:]:
            self.assertNotIn(k["secret"], info["stderr"])
            self.assertNotIn(k["token"], info["stderr"])


if __name__ == "__main__":
    frugaltest.run_tests()
