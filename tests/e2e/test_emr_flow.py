"""The EMR agent end to end against frugal-sim: discovery, analysis against
the world's intended sizing classes, the approved run with a byte-exact
revert, conflict, cancel, and analysis under throttling."""
import json
import time
import unittest

import e2e
import frugaltest as ft
import simctl


def changed_spans(a, b):
    """Byte ranges where b differs from a (same-position diff with resync)."""
    import difflib
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [(tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


class EmrFlow(unittest.TestCase):
    def setUp(self):
        self.sim = simctl.Sim(clusters=10, seed=7, args=["--clock-speed", "300"])
        self.d = e2e.frugald(self.sim)

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0, "frugald did not stop cleanly")
        stopped = [e for e in self.d.log_events("stopped")]
        self.assertTrue(stopped and stopped[-1]["loop_close"] == 0)
        self.sim.close()

    def test_discovery_and_analysis_match_the_world(self):
        st, body, _ = self.d.api("GET", "/api/clusters")
        self.assertEqual(st, 200)
        listed = {c["id"]: c for c in body["clusters"]}
        world = self.sim.world()
        for c in world["clusters"]:
            if c["outcome"] in ("TERMINATED", "TERMINATED_WITH_ERRORS") and c["expected_runtime_s"] < 6 * 3600:
                self.assertIn(c["id"], listed, c["name"])
                self.assertEqual(listed[c["id"]]["failed"], c["outcome"] == "TERMINATED_WITH_ERRORS")
        checked = 0
        for name, c in e2e.newest_runs(world).items():
            st, an, _ = self.d.api("GET", "/api/clusters/%s/analysis" % name)
            self.assertEqual(st, 200, an)
            self.assertEqual(an["cluster"]["id"], c["id"])
            for node in ("CORE", "TASK"):
                want = c["profiles"].get(node, {}).get("expected_status")
                card = an["node_types"].get(node)
                if want and card:
                    self.assertEqual(card["status"], want, "%s %s: %s" % (name, node, card["reason"]))
                    checked += 1
        self.assertGreater(checked, 3)
        st, an, _ = self.d.api("GET", "/api/clusters/NO-SUCH-CLUSTER/analysis")
        self.assertEqual(st, 404)
        st, an, _ = self.d.api("GET", "/api/clusters/bad%20name/analysis")
        self.assertEqual(st, 400)

    def test_approved_run_reverts_exact_bytes_and_cleans_up(self):
        name = e2e.pick_cluster(self.sim)
        before, v0 = e2e.ssm_value(self.sim, name)
        t0 = self.sim.now()
        prop = e2e.propose(self.d, name)
        run_id = prop["run_id"]
        self.assertEqual(prop["run"]["state"], "AWAIT_APPROVAL")
        # nothing changed before the approval
        self.assertEqual(e2e.ssm_value(self.sim, name), (before, v0))
        self.assertEqual(self.sim.invocations(), [])
        st, r, _ = self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        self.assertEqual(st, 200, r)
        st, r2, _ = self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        self.assertEqual(st, 409, "a second approval must be refused")
        run = e2e.wait_run(self.d, run_id)
        self.assertEqual(run["state"], "DONE", json.dumps(run.get("log"))[:2000])
        # the parameter holds the original bytes again (two writes: ours and the revert)
        after, v2 = e2e.ssm_value(self.sim, name)
        self.assertEqual(after, before)
        self.assertEqual(v2, v0 + 2)
        # the Lambda ran once, with the seed's payload exactly
        inv = self.sim.invocations()
        self.assertEqual(len(inv), 1)
        self.assertEqual(json.loads(inv[0]["payload"]) if isinstance(inv[0]["payload"], str) else inv[0]["payload"],
                         simctl.lambda_payload(name))
        # the test cluster ran the recommended types and is terminated
        test_id = run["test_cluster_id"]
        cl = self.sim.cluster(test_id)
        rec = run["recommendation"]
        types = json.dumps(cl)
        for node in ("CORE", "TASK"):
            if node in rec and rec[node]["from"] != rec[node]["to"]:
                self.assertIn(rec[node]["to"], types)
        state = self.sim.client("emr").describe_cluster(ClusterId=test_id)["Cluster"]["Status"]["State"]
        self.assertIn(state, ("TERMINATING", "TERMINATED"))
        # only InstanceType / GravitonAmi bytes changed in what frugal wrote (version v0+1)
        hist = self.sim.client("ssm").get_parameter_history(Name=simctl.PARAM_PREFIX + name)["Parameters"]
        written = [h["Value"] for h in hist if h["Version"] == v0 + 1][0]
        self.assertNotEqual(written, before)
        for tag, old, new in changed_spans(before, written):
            self.assertRegex(old + "|" + new, r"^[a-z0-9.\-]*\|[a-z0-9.\-]*$|^(true|false|True|False)?\|(true|false|True|False)?$",
                             "unexpected change %r -> %r" % (old, new))
        # Phase 2 report
        self.assertTrue(run["report"]["steps"])
        self.assertIn("verdict", run["report"])
        # the audit trail of the seed
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        events = [a["event"] for a in audit["audit"]]
        for ev in ("run.approved", "param.read", "param.modify", "lambda.invoke", "cluster.status", "param.revert",
                   "cluster.terminate", "run.end"):
            self.assertIn(ev, events)
        self.assertTrue(all(a["correlation_id"] == run_id for a in audit["audit"]))
        mod = [a for a in audit["audit"] if a["event"] == "param.modify"][0]
        self.assertTrue(mod["changes"])
        # the feed carried every step
        st, evs, _ = self.d.api("GET", "/api/events?type=run.step&limit=5000")
        msgs = [e["data"]["message"] for e in evs["events"] if e["data"]["run_id"] == run_id]
        self.assertIn("Done.", msgs)
        self.assertTrue(any(m.startswith("Reverted parameter store") for m in msgs))

    def test_conflict_is_not_clobbered(self):
        # The other writer's config keeps the original types, so the late
        # Lambda builds a cluster that is not the test cluster: the wait ends
        # at emr.wait_timeout (frugald's clock is real time, the sim's 300x).
        self.d.stop()
        self.d = e2e.frugald(self.sim, args=["--set", "emr.wait_timeout=15s"])
        name = e2e.pick_cluster(self.sim)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 900})  # the Lambda reads late: a long WAIT
        before, v0 = e2e.ssm_value(self.sim, name)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(self.d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=60)
        other = before + " "  # someone else's edit (a trailing space is still valid JSON)
        self.sim.client("ssm").put_parameter(Name=simctl.PARAM_PREFIX + name, Value=other, Type="String",
                                            Overwrite=True)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 0})
        self.sim.advance(1200)
        run = e2e.wait_run(self.d, run_id)
        self.assertEqual(run["state"], "CONFLICT", json.dumps(run.get("log"))[:2000])
        value, _ = e2e.ssm_value(self.sim, name)
        self.assertEqual(value, other, "the other writer's value was clobbered")
        self.assertEqual(run["conflict"]["original_value"], before)
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        rev = [a for a in audit["audit"] if a["event"] == "param.revert"]
        self.assertTrue(rev and rev[-1]["conflict"] is True)
        self.assertLessEqual(len(self.sim.invocations()), 1)
        # each step says how it went: the revert met the conflict, the termination worked
        steps = {s["name"]: s["state"] for s in run["steps"]}
        self.assertEqual(steps.get("REVERT"), "failed", run["steps"])
        self.assertEqual(steps.get("TERMINATE"), "done", run["steps"])

    def test_cancel_after_approval_reverts(self):
        name = e2e.pick_cluster(self.sim)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 600})
        before, _ = e2e.ssm_value(self.sim, name)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(self.d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=60)
        st, r, _ = self.d.api("POST", "/api/agent/cancel", {"run_id": run_id})
        self.assertEqual(st, 200, r)
        self.sim.advance(900)
        run = e2e.wait_run(self.d, run_id)
        self.assertEqual(run["state"], "CANCELLED", json.dumps(run.get("log"))[:2000])
        self.assertEqual(e2e.ssm_value(self.sim, name)[0], before)
        steps = {s["name"]: s["state"] for s in run["steps"]}
        self.assertEqual(steps.get("REVERT"), "done", run["steps"])
        self.assertEqual(steps.get("TERMINATE"), "done", run["steps"])
        for c in e2e.clusters_named(self.sim, name):
            if c["Id"] == run.get("test_cluster_id"):
                self.assertIn(c["Status"]["State"], ("TERMINATING", "TERMINATED"))

    def test_config_endpoint_and_error_codes(self):
        name = e2e.pick_cluster(self.sim)
        st, cfg, _ = self.d.api("GET", "/api/clusters/%s/config" % name)
        self.assertEqual(st, 200, cfg)
        self.assertEqual(cfg["param_path"], simctl.PARAM_PREFIX + name)
        self.assertTrue(cfg["instances"])
        # no parameter: the client asked for something that does not exist
        st, r, _ = self.d.api("GET", "/api/clusters/NO-SUCH-CLUSTER/config")
        self.assertEqual((st, r["error"]), (404, "not_found"), r)
        self.assertIn("NO-SUCH-CLUSTER", r["message"])
        # a value that is not a cluster config: AWS data frugal cannot use
        self.sim.client("ssm").put_parameter(Name=simctl.PARAM_PREFIX + "BROKEN", Value="{not json",
                                            Type="String")
        st, r, _ = self.d.api("GET", "/api/clusters/BROKEN/config")
        self.assertEqual((st, r["error"]), (502, "bad_aws_data"), r)
        # runs: one vocabulary for every endpoint
        st, r, _ = self.d.api("POST", "/api/agent/approve", {"run_id": "r-20260101T000000-abcdef"})
        self.assertEqual((st, r["error"]), (404, "not_found"), r)
        st, r, _ = self.d.api("GET", "/api/runs/r-20260101T000000-abcdef")
        self.assertEqual((st, r["error"]), (404, "not_found"), r)
        st, r, _ = self.d.api("GET", "/api/clusters/NO-SUCH-CLUSTER/analysis")
        self.assertEqual((st, r["error"]), (404, "not_found"), r)

    def test_proposals_expire(self):
        name = e2e.pick_cluster(self.sim)
        before, _ = e2e.ssm_value(self.sim, name)
        # a proposal made before a restart expires after it, by the new setting
        kept = e2e.propose(self.d, name)["run_id"]
        self.assertEqual(self.d.stop(), 0)
        self.d = e2e.frugald(self.sim, state_dir=self.d.state_dir, args=["--set", "emr.proposal_ttl=2s"])
        run = e2e.wait_run(self.d, kept, timeout=30)
        self.assertEqual(run["state"], "CANCELLED")
        self.assertIn("expiry", run["error"] if run.get("error") else json.dumps(run["log"]))
        # one that is not approved in time cannot be approved any more
        late = e2e.propose(self.d, name)["run_id"]
        st, cur, _ = self.d.api("GET", "/api/agent/status")
        self.assertEqual(cur["run"]["id"] if "run" in cur else cur.get("id"), late)
        time.sleep(2.5)
        st, r, _ = self.d.api("POST", "/api/agent/approve", {"run_id": late})
        self.assertEqual(st, 409, r)
        self.assertEqual(e2e.wait_run(self.d, late, timeout=10)["state"], "CANCELLED")
        self.assertEqual(e2e.ssm_value(self.sim, name)[0], before)
        self.assertEqual(self.sim.invocations(), [])
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + late)
        self.assertIn("run.expired", [a["event"] for a in audit["audit"]])

    def test_analysis_is_the_same_under_throttling(self):
        names = sorted(e2e.newest_runs(self.sim.world()))[:3]
        clean = {}
        for n in names:
            st, an, _ = self.d.api("GET", "/api/clusters/%s/analysis?refresh=1" % n)
            self.assertEqual(st, 200)
            clean[n] = an
        for svc in ("emr", "cloudwatch"):
            self.sim.faults({"service": svc, "throttle_rate": 0.3})
        for n in names:
            st, an, _ = self.d.api("GET", "/api/clusters/%s/analysis?refresh=1" % n)
            self.assertEqual(st, 200, an)
            for node, card in clean[n]["node_types"].items():
                got = an["node_types"][node]
                self.assertEqual(got["status"], card["status"])
                self.assertEqual(got["recommended_type"], card["recommended_type"])
                self.assertAlmostEqual(got["cpu"]["avg"], card["cpu"]["avg"], places=6)
                self.assertAlmostEqual(got["cpu"]["p95"], card["cpu"]["p95"], places=6)
        calls = self.sim.calls()
        throttled = json.dumps(calls)
        self.assertIn("throttled", throttled)


if __name__ == "__main__":
    ft.run_tests()
