"""The credential chain, source by source, with local stand-ins for STS,
the container endpoint and IMDS (all on the verifying stub): environment,
web identity, shared files and profiles, container, IMDSv2 (and its v1
fallback, timeouts and retry), precedence, refresh of temporary
credentials before Expiration, queueing of the calls that wait for the
first credentials, and secrets never reaching the logs."""
import json
import os
import tempfile
import time
import unittest

import frugaltest
from awstest import AwsStub, run_probe

CFG = {"retry.initial": "10ms", "retry.max": "50ms"}


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
