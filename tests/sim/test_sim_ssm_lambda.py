"""frugal-sim Parameter Store and the cluster-submit Lambda, with boto3:
versions and tiers, the errors botocore maps, the Lambda reading the
parameter when it runs (at Invoke, or later with a delay) and creating a
cluster whose fleets match it."""
import json
import unittest

from botocore.exceptions import ClientError

import frugaltest
from simctl import LAMBDA_NAME, PARAM_PREFIX, Sim, lambda_payload


def instances_of(value):
    cfg = json.loads(value)
    inst = cfg["Instances"]
    return cfg, (json.loads(inst) if isinstance(inst, str) else inst)


def core_task_types(inst):
    out = {}
    for f in inst.get("InstanceFleets", []):
        if f["InstanceFleetType"] in ("CORE", "TASK"):
            out[f["InstanceFleetType"]] = sorted(c["InstanceType"] for c in f["InstanceTypeConfigs"])
    for g in inst.get("InstanceGroups", []):
        if g["InstanceRole"] in ("CORE", "TASK"):
            out[g["InstanceRole"]] = [g["InstanceType"]]
    return out


def rewrite_types(value, mapping):
    """Changes CORE/TASK instance types (the agent edits bytes in place; a
    test may re-serialise)."""
    cfg, inst = instances_of(value)
    for f in inst.get("InstanceFleets", []):
        if f["InstanceFleetType"] in ("CORE", "TASK"):
            for c in f["InstanceTypeConfigs"]:
                c["InstanceType"] = mapping.get(c["InstanceType"], c["InstanceType"])
    for g in inst.get("InstanceGroups", []):
        if g["InstanceRole"] in ("CORE", "TASK"):
            g["InstanceType"] = mapping.get(g["InstanceType"], g["InstanceType"])
    cfg["Instances"] = json.dumps(inst) if isinstance(json.loads(value)["Instances"], str) else inst
    return json.dumps(cfg)


class SsmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=10, seed=3)
        cls.ssm = cls.sim.client("ssm")

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_every_world_cluster_has_its_parameter(self):
        world = self.sim.world()
        for wc in world["clusters"]:
            p = self.ssm.get_parameter(Name=PARAM_PREFIX + wc["name"])["Parameter"]
            self.assertEqual(p["Type"], "String")
            self.assertGreaterEqual(p["Version"], 1)
            self.assertTrue(p["ARN"].startswith("arn:aws:ssm:us-east-1:123456789012:parameter/application/"))
            cfg, inst = instances_of(p["Value"])
            self.assertEqual(cfg["Name"], wc["name"])
            self.assertTrue("InstanceFleets" in inst or "InstanceGroups" in inst)
        listed = [x for page in self.ssm.get_paginator("get_parameters_by_path").paginate(
            Path=PARAM_PREFIX.rstrip("/"), Recursive=True) for x in page["Parameters"]]
        self.assertEqual(len(listed), len(world["parameters"]))

    def test_put_versions_and_history(self):
        name = "/frugal/test/versions"
        r = self.ssm.put_parameter(Name=name, Value="v1", Type="String")
        self.assertEqual(r, {**r, "Version": 1, "Tier": "Standard"})
        with self.assertRaises(self.ssm.exceptions.ParameterAlreadyExists):
            self.ssm.put_parameter(Name=name, Value="v2", Type="String")
        self.assertEqual(self.ssm.put_parameter(Name=name, Value="v2", Overwrite=True)["Version"], 2)
        for i in range(3, 60):
            self.ssm.put_parameter(Name=name, Value="v%d" % i, Overwrite=True)
        self.assertEqual(self.ssm.get_parameter(Name=name)["Parameter"]["Value"], "v59")
        self.assertEqual(self.ssm.get_parameter(Name=name + ":2")["Parameter"]["Value"], "v2")
        with self.assertRaises(self.ssm.exceptions.ParameterVersionNotFound):
            self.ssm.get_parameter(Name=name + ":999")
        hist = [h for p in self.ssm.get_paginator("get_parameter_history").paginate(Name=name) for h in p["Parameters"]]
        self.assertEqual([h["Version"] for h in hist], list(range(1, 60)))
        self.assertEqual(hist[0]["Value"], "v1")

    def test_oldest_version_goes_after_100(self):
        name = "/frugal/test/hundred"
        for i in range(1, 103):
            self.ssm.put_parameter(Name=name, Value="x%d" % i, Type="String", Overwrite=True)
        hist = [h for p in self.ssm.get_paginator("get_parameter_history").paginate(Name=name) for h in p["Parameters"]]
        self.assertEqual(len(hist), 100)
        self.assertEqual(hist[0]["Version"], 3)
        self.assertEqual(hist[-1]["Version"], 102)

    def test_tiers_and_limits(self):
        with self.assertRaises(ClientError) as cm:
            self.ssm.put_parameter(Name="/frugal/test/big", Value="x" * 4097, Type="String")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        r = self.ssm.put_parameter(Name="/frugal/test/big", Value="x" * 4097, Type="String", Tier="Advanced")
        self.assertEqual(r["Tier"], "Advanced")
        # overwriting without a Tier keeps Advanced
        self.assertEqual(self.ssm.put_parameter(Name="/frugal/test/big", Value="y", Overwrite=True)["Tier"], "Advanced")
        with self.assertRaises(ClientError) as cm:
            self.ssm.put_parameter(Name="/frugal/test/big", Value="y", Overwrite=True, Tier="Standard")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(ClientError) as cm:
            self.ssm.put_parameter(Name="/frugal/test/huge", Value="x" * 8193, Type="String", Tier="Advanced")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        r = self.ssm.put_parameter(Name="/frugal/test/auto", Value="x" * 5000, Type="String",
                                   Tier="Intelligent-Tiering")
        self.assertEqual(r["Tier"], "Advanced")

    def test_not_found_and_errors(self):
        with self.assertRaises(self.ssm.exceptions.ParameterNotFound) as cm:
            self.ssm.get_parameter(Name="/nope/nothing")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        with self.assertRaises(ClientError) as cm:
            self.ssm.put_parameter(Name="/frugal/test/notype", Value="x")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        r = self.ssm.get_parameters(Names=["/nope/a", PARAM_PREFIX + self.sim.world()["clusters"][0]["name"]])
        self.assertEqual(r["InvalidParameters"], ["/nope/a"])
        self.assertEqual(len(r["Parameters"]), 1)
        self.ssm.put_parameter(Name="/frugal/test/del", Value="x", Type="String")
        self.ssm.delete_parameter(Name="/frugal/test/del")
        with self.assertRaises(self.ssm.exceptions.ParameterNotFound):
            self.ssm.delete_parameter(Name="/frugal/test/del")


class LambdaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=14, seed=21)
        cls.lam = cls.sim.client("lambda")
        cls.ssm = cls.sim.client("ssm")
        cls.emr = cls.sim.client("emr")
        cls.names = sorted({c["name"] for c in cls.sim.world()["clusters"]})

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def invoke(self, name, **kw):
        return self.lam.invoke(FunctionName=LAMBDA_NAME, Payload=json.dumps(lambda_payload(name)), **kw)

    def cluster_types(self, cid):
        d = self.emr.describe_cluster(ClusterId=cid)["Cluster"]
        out = {}
        if d["InstanceCollectionType"] == "INSTANCE_FLEET":
            for f in self.emr.list_instance_fleets(ClusterId=cid)["InstanceFleets"]:
                if f["InstanceFleetType"] in ("CORE", "TASK"):
                    out[f["InstanceFleetType"]] = sorted(s["InstanceType"] for s in f["InstanceTypeSpecifications"])
        else:
            for g in self.emr.list_instance_groups(ClusterId=cid)["InstanceGroups"]:
                if g["InstanceGroupType"] in ("CORE", "TASK"):
                    out[g["InstanceGroupType"]] = [g["InstanceType"]]
        return d, out

    def test_creates_cluster_matching_the_parameter_at_invocation(self):
        name = self.names[0]
        pname = PARAM_PREFIX + name
        orig = self.ssm.get_parameter(Name=pname)["Parameter"]
        cfg, inst = instances_of(orig["Value"])
        old = core_task_types(inst)
        # the agent's move: rewrite CORE/TASK types, invoke, revert
        arch_arm = cfg.get("GravitonAmi") in (True, "true", "True")
        target = "r6g.2xlarge" if arch_arm else "r6i.2xlarge"
        mapping = {t: target for ts in old.values() for t in ts}
        self.ssm.put_parameter(Name=pname, Value=rewrite_types(orig["Value"], mapping), Overwrite=True)
        before = self.sim.now()
        out = self.invoke(name, LogType="Tail")
        self.assertEqual(out["StatusCode"], 200)
        self.assertNotIn("FunctionError", out)
        self.assertEqual(out["ExecutedVersion"], "$LATEST")
        self.assertIn("LogResult", out)
        answer = json.loads(out["Payload"].read())
        self.assertEqual(answer["statusCode"], 200)
        body = json.loads(answer["body"])
        self.ssm.put_parameter(Name=pname, Value=orig["Value"], Overwrite=True)  # revert
        cid = body["cluster_id"]
        d, types = self.cluster_types(cid)
        self.assertEqual(d["Name"], name)
        self.assertEqual(types, {k: [target] * len(v) for k, v in old.items()})
        # found the way a client must: by name and creation time
        found = [c for c in self.emr.list_clusters(CreatedAfter=before - 1)["Clusters"] if c["Name"] == name]
        self.assertEqual([c["Id"] for c in found], [cid])
        inv = self.sim.invocations()[-1]
        self.assertEqual(inv["cluster_id"], cid)
        self.assertEqual(inv["status"], "succeeded")
        self.assertEqual(inv["param_version"], orig["Version"] + 1)
        # tags and auto-termination come from the config
        if "Tags" in cfg:
            self.assertEqual({t["Key"] for t in d["Tags"]}, {t["Key"] for t in cfg["Tags"]})
        if "AutoTerminationPolicy" in cfg:
            atp = self.emr.get_auto_termination_policy(ClusterId=cid)["AutoTerminationPolicy"]
            self.assertEqual(atp["IdleTimeout"], cfg["AutoTerminationPolicy"]["IdleTimeout"])
        # the cluster comes up (WAITING) on the clock
        self.sim.advance(900)
        st = self.emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"]
        self.assertIn(st, ("WAITING", "RUNNING"))

    def test_wrong_graviton_flag_fails_the_cluster(self):
        name = self.names[1]
        pname = PARAM_PREFIX + name
        orig = self.ssm.get_parameter(Name=pname)["Parameter"]["Value"]
        cfg, inst = instances_of(orig)
        arm = cfg.get("GravitonAmi") in (True, "true", "True")
        other = "m6i.2xlarge" if arm else "m7g.2xlarge"  # the other architecture, flag unchanged
        mapping = {t: other for ts in core_task_types(inst).values() for t in ts}
        self.ssm.put_parameter(Name=pname, Value=rewrite_types(orig, mapping), Overwrite=True)
        body = json.loads(json.loads(self.invoke(name)["Payload"].read())["body"])
        self.ssm.put_parameter(Name=pname, Value=orig, Overwrite=True)
        self.sim.advance(120)
        d = self.emr.describe_cluster(ClusterId=body["cluster_id"])["Cluster"]
        self.assertEqual(d["Status"]["State"], "TERMINATED_WITH_ERRORS")
        self.assertEqual(d["Status"]["StateChangeReason"]["Code"], "VALIDATION_ERROR")

    def test_delay_reads_the_parameter_later(self):
        name = self.names[2]
        pname = PARAM_PREFIX + name
        orig = self.ssm.get_parameter(Name=pname)["Parameter"]
        _, inst = instances_of(orig["Value"])
        old = core_task_types(inst)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 60})
        try:
            out = self.invoke(name)
            answer = json.loads(out["Payload"].read())
            self.assertEqual(answer["statusCode"], 202)
            self.assertEqual(json.loads(answer["body"])["fifo_key"], name)
            inv = self.sim.invocations()[-1]
            self.assertEqual(inv["status"], "queued")
            self.assertNotIn("cluster_id", inv)
            # the caller reverts too early: the queued request reads the original
            self.sim.advance(30)
            self.assertEqual(self.sim.invocations()[-1]["status"], "queued")
            self.sim.advance(40)
            inv = self.sim.invocations()[-1]
            self.assertEqual(inv["status"], "succeeded")
            self.assertEqual(inv["param_version"], orig["Version"])
            _, types = self.cluster_types(inv["cluster_id"])
            self.assertEqual({k: sorted(set(v)) for k, v in types.items()}, {k: sorted(set(v)) for k, v in old.items()})
        finally:
            self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 0})

    def test_unknown_cluster_is_a_function_error(self):
        out = self.invoke("NO-SUCH-CLUSTER")
        self.assertEqual(out["StatusCode"], 200)
        self.assertEqual(out["FunctionError"], "Unhandled")
        err = json.loads(out["Payload"].read())
        self.assertEqual(err["errorType"], "ParameterNotFound")
        self.assertIn("/application/ecdp-config/prod/EMR-BASE/NO-SUCH-CLUSTER", err["errorMessage"])
        self.assertEqual(self.sim.invocations()[-1]["status"], "failed")

    def test_function_name_forms_and_errors(self):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:" + LAMBDA_NAME
        for fn in (LAMBDA_NAME, arn, "123456789012:function:" + LAMBDA_NAME, arn + ":$LATEST"):
            out = self.lam.invoke(FunctionName=fn, InvocationType="DryRun", Payload=b"{}")
            self.assertEqual(out["StatusCode"], 204)
        with self.assertRaises(self.lam.exceptions.ResourceNotFoundException) as cm:
            self.lam.invoke(FunctionName="no-such-function", Payload=b"{}")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        with self.assertRaises(ClientError) as cm:
            self.lam.invoke(FunctionName=LAMBDA_NAME, Payload=b"{not json")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidRequestContentException")
        out = self.lam.invoke(FunctionName=LAMBDA_NAME, InvocationType="Event",
                              Payload=json.dumps(lambda_payload(self.names[3])))
        self.assertEqual(out["StatusCode"], 202)
        self.assertEqual(self.sim.invocations()[-1]["invocation_type"], "Event")
        f = self.lam.get_function(FunctionName=LAMBDA_NAME)["Configuration"]
        self.assertEqual(f["FunctionName"], LAMBDA_NAME)
        self.assertEqual([x["FunctionName"] for x in self.lam.list_functions()["Functions"]], [LAMBDA_NAME])

    def test_bad_config_is_a_function_error(self):
        self.ssm.put_parameter(Name=PARAM_PREFIX + "BROKEN-CONFIG", Value="{not json", Type="String")
        err = json.loads(self.invoke("BROKEN-CONFIG")["Payload"].read())
        self.assertEqual(err["errorType"], "JSONDecodeError")
        self.ssm.put_parameter(Name=PARAM_PREFIX + "BAD-TYPE", Type="String", Value=json.dumps({
            "Name": "BAD-TYPE", "Instances": json.dumps({"InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "zz9.huge", "InstanceCount": 2}]})}))
        out = self.invoke("BAD-TYPE")
        self.assertEqual(out["FunctionError"], "Unhandled")
        err = json.loads(out["Payload"].read())
        self.assertEqual(err["errorType"], "ClientError")
        self.assertIn("ValidationException", err["errorMessage"])


if __name__ == "__main__":
    frugaltest.run_tests()
