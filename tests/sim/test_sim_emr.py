"""frugal-sim EMR conformance with boto3: every operation the agent uses,
fleets and groups, lifecycle on the simulated clock, steps that run slower
on smaller clusters, Marker paging, errors as botocore sees them."""
import datetime
import json
import unittest

from botocore.exceptions import ClientError

import frugaltest
from simctl import Sim

ARM64_AMI = "ami-0a64f2ee1c0de4a64"


def fleet_request(name, core_type="m5.xlarge", core_n=3, task_type=None, task_n=0, keep_alive=True, steps=None,
                  idle=None, protected=False):
    fleets = [
        {"Name": "Master", "InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
         "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]},
        {"Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": 1, "TargetSpotCapacity": core_n - 1,
         "InstanceTypeConfigs": [{"InstanceType": core_type, "WeightedCapacity": 1,
                                  "BidPriceAsPercentageOfOnDemandPrice": 100.0}]},
    ]
    if task_type:
        fleets.append({"Name": "Task", "InstanceFleetType": "TASK", "TargetSpotCapacity": task_n,
                       "InstanceTypeConfigs": [{"InstanceType": task_type}]})
    req = {"Name": name, "ReleaseLabel": "emr-6.15.0", "Applications": [{"Name": "Spark"}],
           "Instances": {"InstanceFleets": fleets, "Ec2SubnetIds": ["subnet-0abc", "subnet-0def"],
                         "KeepJobFlowAliveWhenNoSteps": keep_alive, "TerminationProtected": protected},
           "Tags": [{"Key": "team", "Value": "sim-tests"}], "ServiceRole": "EMR_DefaultRole",
           "JobFlowRole": "EMR_EC2_DefaultRole", "VisibleToAllUsers": True}
    if steps:
        req["Steps"] = steps
    if idle:
        req["AutoTerminationPolicy"] = {"IdleTimeout": idle}
    return req


def step(name, work, par=1000, extra=()):
    return {"Name": name, "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar",
                              "Args": ["spark-submit", "--class", "x.Y", "s3://b/j.jar",
                                       "--sim-work-vcpu-seconds=%d" % work, "--sim-parallelism=%d" % par,
                                       "--sim-overhead-seconds=30"] + list(extra)}}


class EmrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=24)
        cls.emr = cls.sim.client("emr")
        cls.world = cls.sim.world()
        # before any test moves the clock
        cls.initial = cls.emr.list_clusters()["Clusters"]

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def test_list_clusters_shapes_and_filters(self):
        r = self.emr.list_clusters()
        world_ids = {c["id"] for c in self.world["clusters"]}
        r["Clusters"] = [c for c in r["Clusters"] if c["Id"] in world_ids]
        self.assertEqual(len(r["Clusters"]), 24)
        self.assertNotIn("Marker", r)
        states = set()
        for c in r["Clusters"]:
            self.assertRegex(c["Id"], r"^j-[A-Z0-9]{13}$")
            self.assertTrue(c["ClusterArn"].startswith("arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/"))
            self.assertIsInstance(c["Status"]["Timeline"]["CreationDateTime"], datetime.datetime)
            self.assertIsInstance(c["NormalizedInstanceHours"], int)
            states.add(c["Status"]["State"])
        self.assertIn("TERMINATED", states)
        # newest first
        created = [c["Status"]["Timeline"]["CreationDateTime"] for c in r["Clusters"]]
        self.assertEqual(created, sorted(created, reverse=True))
        term = self.emr.list_clusters(ClusterStates=["TERMINATED", "TERMINATED_WITH_ERRORS"])["Clusters"]
        self.assertTrue(all(c["Status"]["State"].startswith("TERMINATED") for c in term))
        for c in term:
            tl = c["Status"]["Timeline"]
            self.assertIn("EndDateTime", tl)
        mid = created[len(created) // 2]
        after = self.emr.list_clusters(CreatedAfter=mid)["Clusters"]
        self.assertTrue(all(c["Status"]["Timeline"]["CreationDateTime"] >= mid for c in after))
        self.assertLess(len([c for c in after if c["Id"] in world_ids]), 24)
        with self.assertRaises(ClientError) as cm:
            self.emr.list_clusters(Marker="not-a-marker")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidRequestException")

    def test_world_matches_api(self):
        by_id = {c["id"]: c for c in self.world["clusters"]}
        self.assertEqual(len(self.initial), len(by_id))
        for c in self.initial:
            w = by_id[c["Id"]]
            self.assertEqual(c["Name"], w["name"])
            if w["outcome"] in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
                self.assertEqual(c["Status"]["State"], w["outcome"], c["Id"])
            else:
                self.assertIn(c["Status"]["State"], ("RUNNING", "WAITING"))

    def test_describe_fleets_groups_instances(self):
        saw_fleet = saw_group = False
        for wc in self.world["clusters"][:12]:
            cid = wc["id"]
            d = self.emr.describe_cluster(ClusterId=cid)["Cluster"]
            self.assertEqual(d["Id"], cid)
            self.assertEqual(d["Name"], wc["name"])
            for k in ("Ec2InstanceAttributes", "ReleaseLabel", "Applications", "Tags", "ServiceRole",
                      "NormalizedInstanceHours", "ClusterArn", "StepConcurrencyLevel", "AutoTerminate",
                      "VisibleToAllUsers", "Configurations"):
                self.assertIn(k, d)
            self.assertTrue(d["Ec2InstanceAttributes"]["Ec2AvailabilityZone"].startswith("us-east-1"))
            insts = self.emr.list_instances(ClusterId=cid)["Instances"]
            nodes = wc["nodes"]
            expect = sum(n["count"] for n in nodes.values())
            if d["InstanceCollectionType"] == "INSTANCE_FLEET":
                saw_fleet = True
                fleets = self.emr.list_instance_fleets(ClusterId=cid)["InstanceFleets"]
                types = {f["InstanceFleetType"] for f in fleets}
                self.assertIn("MASTER", types)
                self.assertIn("CORE", types)
                for f in fleets:
                    self.assertRegex(f["Id"], r"^if-[A-Z0-9]{13}$")
                    self.assertTrue(f["InstanceTypeSpecifications"])
                    for spec in f["InstanceTypeSpecifications"]:
                        self.assertIsInstance(spec["WeightedCapacity"], int)
                core = [i for i in insts if any(f["Id"] == i["InstanceFleetId"] and f["InstanceFleetType"] == "CORE"
                                                for f in fleets)]
                self.assertTrue(core)
                core_only = self.emr.list_instances(ClusterId=cid, InstanceFleetType="CORE")["Instances"]
                self.assertEqual(sorted(i["Id"] for i in core_only), sorted(i["Id"] for i in core))
                with self.assertRaises(ClientError):
                    self.emr.list_instance_groups(ClusterId=cid)
            else:
                saw_group = True
                groups = self.emr.list_instance_groups(ClusterId=cid)["InstanceGroups"]
                self.assertTrue(any(g["InstanceGroupType"] == "CORE" for g in groups))
                for g in groups:
                    self.assertRegex(g["Id"], r"^ig-[A-Z0-9]{13}$")
                    self.assertIn(g["Market"], ("ON_DEMAND", "SPOT"))
                core_only = self.emr.list_instances(ClusterId=cid, InstanceGroupTypes=["CORE"])["Instances"]
                self.assertEqual(len(core_only), nodes["CORE"]["count"])
            for i in insts:
                self.assertRegex(i["Ec2InstanceId"], r"^i-0[0-9a-f]{16}$")
                self.assertRegex(i["PrivateIpAddress"], r"^10\.\d+\.\d+\.\d+$")
                self.assertIn(i["Market"], ("ON_DEMAND", "SPOT"))
            # weighted fleets provision at least the target capacity
            self.assertGreaterEqual(len(insts), 1 + nodes["CORE"]["count"] if "TASK" not in nodes or
                                    d["InstanceCollectionType"] == "INSTANCE_GROUP" else 2)
            if d["InstanceCollectionType"] == "INSTANCE_GROUP":
                self.assertEqual(len(insts), expect)
        self.assertTrue(saw_fleet and saw_group, "the world has both fleets and groups")

    def test_unknown_cluster(self):
        with self.assertRaises(ClientError) as cm:
            self.emr.describe_cluster(ClusterId="j-DOESNOTEXIST1")
        e = cm.exception.response
        self.assertEqual(e["Error"]["Code"], "InvalidRequestException")
        self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 400)
        with self.assertRaises(self.emr.exceptions.InvalidRequestException):
            self.emr.list_steps(ClusterId="j-DOESNOTEXIST1")

    def test_steps_of_world_cluster(self):
        wc = next(c for c in self.world["clusters"] if c["outcome"] == "TERMINATED")
        steps = self.emr.list_steps(ClusterId=wc["id"])["Steps"]
        self.assertEqual(len(steps), len(wc["steps"]))
        for s in steps:
            self.assertRegex(s["Id"], r"^s-[A-Z0-9]{13}$")
            self.assertEqual(s["Status"]["State"], "COMPLETED")
            tl = s["Status"]["Timeline"]
            self.assertLessEqual(tl["StartDateTime"], tl["EndDateTime"])
        # newest first
        self.assertEqual([s["Name"] for s in steps][::-1], [s["name"] for s in wc["steps"]])
        only = self.emr.list_steps(ClusterId=wc["id"], StepIds=[steps[0]["Id"]])["Steps"]
        self.assertEqual([s["Id"] for s in only], [steps[0]["Id"]])

    def test_failed_cluster_has_error_details(self):
        failed = [c for c in self.world["clusters"] if c["outcome"] == "TERMINATED_WITH_ERRORS"]
        if not failed:
            self.skipTest("no failed cluster with this seed")
        d = self.emr.describe_cluster(ClusterId=failed[0]["id"])["Cluster"]
        self.assertEqual(d["Status"]["State"], "TERMINATED_WITH_ERRORS")
        self.assertIn(d["Status"]["StateChangeReason"]["Code"], ("STEP_FAILURE", "BOOTSTRAP_FAILURE"))

    def test_lifecycle_on_the_clock(self):
        emr = self.emr
        cid = emr.run_job_flow(**fleet_request("LIFECYCLE-T", steps=[step("one", 3600 * 2)]))["JobFlowId"]
        d = emr.describe_cluster(ClusterId=cid)["Cluster"]
        self.assertEqual(d["Status"]["State"], "STARTING")
        self.assertNotIn("ReadyDateTime", d["Status"]["Timeline"])
        seen = [d["Status"]["State"]]
        for _ in range(40):
            self.sim.advance(30)
            st = emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"]
            if st != seen[-1]:
                seen.append(st)
            if st == "WAITING":
                break
        self.assertEqual(seen[:4], ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])
        tl = emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["Timeline"]
        self.assertIn("ReadyDateTime", tl)
        s = emr.list_steps(ClusterId=cid)["Steps"][0]
        self.assertEqual(s["Status"]["State"], "COMPLETED")
        emr.terminate_job_flows(JobFlowIds=[cid])
        self.assertEqual(emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"], "TERMINATING")
        self.sim.advance(300)
        d = emr.describe_cluster(ClusterId=cid)["Cluster"]
        self.assertEqual(d["Status"]["State"], "TERMINATED")
        self.assertEqual(d["Status"]["StateChangeReason"]["Code"], "USER_REQUEST")
        self.assertIn("EndDateTime", d["Status"]["Timeline"])
        insts = emr.list_instances(ClusterId=cid)["Instances"]
        self.assertTrue(all(i["Status"]["State"] == "TERMINATED" for i in insts))

    def test_smaller_cluster_runs_cpu_bound_step_slower(self):
        emr = self.emr
        work = 16 * 3600  # vCPU-seconds
        durations = {}
        for ctype in ("m5.4xlarge", "m5.xlarge"):
            cid = emr.run_job_flow(**fleet_request("SCALE-" + ctype, core_type=ctype, core_n=2))["JobFlowId"]
            self.sim.advance(900)
            sid = emr.add_job_flow_steps(JobFlowId=cid, Steps=[step("cpu", work)])["StepIds"][0]
            self.assertRegex(sid, r"^s-")
            self.sim.advance(6 * 3600)
            s = emr.describe_step(ClusterId=cid, StepId=sid)["Step"]
            self.assertEqual(s["Status"]["State"], "COMPLETED")
            tl = s["Status"]["Timeline"]
            durations[ctype] = (tl["EndDateTime"] - tl["StartDateTime"]).total_seconds()
            emr.terminate_job_flows(JobFlowIds=[cid])
        # 2 x 16 vCPU vs 2 x 4 vCPU: 30 + 1800 s vs 30 + 7200 s
        self.assertAlmostEqual(durations["m5.4xlarge"], 30 + work / 32, delta=2)
        self.assertAlmostEqual(durations["m5.xlarge"], 30 + work / 8, delta=2)

    def test_replayed_world_step_has_the_same_work(self):
        wc = next(c for c in self.world["clusters"] if c["outcome"] == "TERMINATED" and c["steps"])
        orig = self.sim.cluster(wc["id"])
        ws = wc["steps"][0]
        cid = self.emr.run_job_flow(**fleet_request("REPLAY-T", core_type="r5.2xlarge", core_n=2))["JobFlowId"]
        self.sim.advance(900)
        sid = self.emr.add_job_flow_steps(JobFlowId=cid, Steps=[{
            "Name": "replay", "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": ws["jar"], "Args": ws["args"]}}])["StepIds"][0]
        detail = self.sim.cluster(cid)
        st = next(s for s in detail["steps"] if s["id"] == sid)
        self.assertEqual(st["work_vcpu_s"], ws["work_vcpu_s"])
        self.assertEqual(st["parallelism"], ws["parallelism"])
        self.assertTrue(orig["steps"])
        self.emr.terminate_job_flows(JobFlowIds=[cid])

    def test_idle_timeout_and_keep_alive(self):
        cid = self.emr.run_job_flow(**fleet_request("IDLE-T", idle=600))["JobFlowId"]
        self.assertEqual(self.emr.get_auto_termination_policy(ClusterId=cid)["AutoTerminationPolicy"]["IdleTimeout"], 600)
        self.sim.advance(600)
        self.assertEqual(self.emr.describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"], "WAITING")
        self.sim.advance(900)
        d = self.emr.describe_cluster(ClusterId=cid)["Cluster"]
        self.assertIn(d["Status"]["State"], ("TERMINATING", "TERMINATED"))
        self.assertEqual(d["Status"]["StateChangeReason"]["Code"], "ALL_STEPS_COMPLETED")
        # a policy put later starts its idle clock then
        cid3 = self.emr.run_job_flow(**fleet_request("PUTIDLE-T"))["JobFlowId"]
        self.sim.advance(3000)
        self.emr.put_auto_termination_policy(ClusterId=cid3, AutoTerminationPolicy={"IdleTimeout": 900})
        self.sim.advance(600)
        self.assertEqual(self.emr.describe_cluster(ClusterId=cid3)["Cluster"]["Status"]["State"], "WAITING")
        self.sim.advance(400)
        self.assertIn(self.emr.describe_cluster(ClusterId=cid3)["Cluster"]["Status"]["State"], ("TERMINATING", "TERMINATED"))
        with self.assertRaises(ClientError):
            self.emr.put_auto_termination_policy(ClusterId=cid3, AutoTerminationPolicy={"IdleTimeout": 10})
        cid2 = self.emr.run_job_flow(**fleet_request("NOKEEP-T", keep_alive=False, steps=[step("s", 600)]))["JobFlowId"]
        self.sim.advance(3600)
        self.assertEqual(self.emr.describe_cluster(ClusterId=cid2)["Cluster"]["Status"]["State"], "TERMINATED")

    def test_validation_errors(self):
        bad = fleet_request("BAD-T", core_type="m5.nonexistent")
        with self.assertRaises(ClientError) as cm:
            self.emr.run_job_flow(**bad)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        prot = self.emr.run_job_flow(**fleet_request("PROT-T", protected=True))["JobFlowId"]
        with self.assertRaises(ClientError) as cm:
            self.emr.terminate_job_flows(JobFlowIds=[prot])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        self.emr.set_termination_protection(JobFlowIds=[prot], TerminationProtected=False)
        self.emr.terminate_job_flows(JobFlowIds=[prot])

    def test_architecture_mismatch_fails_validation(self):
        req = fleet_request("ARCH-T", core_type="m5.xlarge")
        req["Instances"]["InstanceFleets"][1]["InstanceTypeConfigs"][0]["CustomAmiId"] = ARM64_AMI
        cid = self.emr.run_job_flow(**req)["JobFlowId"]
        self.sim.advance(120)
        d = self.emr.describe_cluster(ClusterId=cid)["Cluster"]
        self.assertEqual(d["Status"]["State"], "TERMINATED_WITH_ERRORS")
        self.assertEqual(d["Status"]["StateChangeReason"]["Code"], "VALIDATION_ERROR")

    def test_groups_run_job_flow(self):
        req = {"Name": "GROUPS-T", "ReleaseLabel": "emr-7.1.0",
               "Instances": {"InstanceGroups": [
                   {"Name": "m", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                   {"Name": "c", "InstanceRole": "CORE", "InstanceType": "r6g.2xlarge", "InstanceCount": 4,
                    "Market": "SPOT", "BidPrice": "0.5"}], "KeepJobFlowAliveWhenNoSteps": True}}
        cid = self.emr.run_job_flow(**req)["JobFlowId"]
        self.sim.advance(900)
        groups = self.emr.list_instance_groups(ClusterId=cid)["InstanceGroups"]
        core = next(g for g in groups if g["InstanceGroupType"] == "CORE")
        self.assertEqual(core["RequestedInstanceCount"], 4)
        self.assertEqual(core["RunningInstanceCount"], 4)
        self.assertEqual(core["Market"], "SPOT")
        running = self.emr.list_instances(ClusterId=cid, InstanceStates=["RUNNING"])["Instances"]
        self.assertEqual(len(running), 5)
        self.emr.terminate_job_flows(JobFlowIds=[cid])


class EmrPagingTest(unittest.TestCase):
    def test_marker_paging_over_many_clusters(self):
        with Sim(clusters=130, seed=7) as sim:
            emr = sim.client("emr")
            first = emr.list_clusters()
            self.assertEqual(len(first["Clusters"]), 50)
            self.assertIn("Marker", first)
            pages = list(emr.get_paginator("list_clusters").paginate())
            self.assertEqual([len(p["Clusters"]) for p in pages], [50, 50, 30])
            ids = [c["Id"] for p in pages for c in p["Clusters"]]
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(len(ids), 130)
            # instances and steps page too (a big fleet)
            wc = max(sim.world()["clusters"], key=lambda c: sum(n["count"] for n in c["nodes"].values()))
            insts = [i for p in emr.get_paginator("list_instances").paginate(ClusterId=wc["id"]) for i in p["Instances"]]
            self.assertEqual(len(insts), len({i["Id"] for i in insts}))


if __name__ == "__main__":
    frugaltest.run_tests()
