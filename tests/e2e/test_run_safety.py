"""The run's safety under adverse timing, against frugal-sim: writes that must
not be resent, a cancel while a call is in flight, clusters of the same name
that are not frugal's, a revert that keeps failing, a shutdown mid-run."""
import json
import time
import unittest

import e2e
import frugaltest as ft
import simctl

ALIVE = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")


def state_of(sim, cid):
    return sim.client("emr").describe_cluster(ClusterId=cid)["Cluster"]["Status"]["State"]


def terminated_by_request(sim, cid):
    """Ended by a TerminateJobFlows call (not by finishing or idling)."""
    st = sim.client("emr").describe_cluster(ClusterId=cid)["Cluster"]["Status"]
    return st["State"] in ("TERMINATING", "TERMINATED") and st.get("StateChangeReason", {}).get("Code") == "USER_REQUEST"


class RunSafety(unittest.TestCase):
    def setUp(self):
        self.sim = simctl.Sim(clusters=10, seed=7, args=["--clock-speed", "300"])
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
        self.sim.close()

    def test_a_slow_invoke_is_not_resent(self):
        """An Invoke whose answer is slower than http.timeout is not resent
        (each resend would create a cluster): one invocation, and no test
        cluster left running."""
        self.d = e2e.frugald(self.sim, args=["--set", "http.timeout=2s"])
        name = "ETL-DAILY-LOAD"  # KeepJobFlowAliveWhenNoSteps: true
        t0 = self.sim.now()
        self.sim.faults({"service": "lambda", "operation": "Invoke", "latency_ms": 3000})
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(self.d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=120)
        self.sim.clear_faults()
        run = e2e.wait_run(self.d, run_id)
        inv = self.sim.invocations()
        alive = [c["Id"] for c in e2e.clusters_named(self.sim, name, after_s=t0) if c["Status"]["State"] in ALIVE]
        self.assertEqual(len(inv), 1, "the Lambda ran %d times" % len(inv))
        self.assertEqual(alive, [], "test clusters left running")

    def test_cancel_while_a_call_is_in_flight_still_terminates(self):
        """A cancel while ListSteps (COPY_STEPS) is in flight: the late
        result is ignored and the termination the cancel queued still runs;
        the run ends and the parameter is free for new runs."""
        self.d = e2e.frugald(self.sim)
        name = "ETL-DAILY-LOAD"  # KeepJobFlowAliveWhenNoSteps: true
        self.sim.faults({"service": "emr", "operation": "ListSteps", "latency_ms": 3000})
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        run = e2e.wait_run(self.d, run_id, until=("COPY_STEPS",) + e2e.TERMINAL, timeout=120)
        self.assertEqual(run["state"], "COPY_STEPS")
        st, r, _ = self.d.api("POST", "/api/agent/cancel", {"run_id": run_id})
        self.assertEqual(st, 200, r)
        self.sim.clear_faults()
        run = e2e.wait_run(self.d, run_id, timeout=60)
        self.assertEqual(run["state"], "CANCELLED")
        test_id = run.get("test_cluster_id")
        if test_id:
            self.assertIn(state_of(self.sim, test_id), ("TERMINATING", "TERMINATED"))
        # the parameter is free for a new run
        prop2 = e2e.propose(self.d, name)["run_id"]
        st2, r2, _ = self.d.api("POST", "/api/agent/approve", {"run_id": prop2})
        self.assertEqual(st2, 200, r2)
        self.d.api("POST", "/api/agent/cancel", {"run_id": prop2})

    def test_a_cluster_with_other_types_is_left_alone(self):
        """A cluster of the same name with the old types (the scheduler's own
        run) is found first: it is left alone, the wait goes on for frugal's
        own (late) cluster, and only that one is terminated."""
        name = "ETL-DAILY-LOAD"  # KeepJobFlowAliveWhenNoSteps: true
        lam = self.sim.client("lambda")
        # the scheduler's production cluster of that name, with the current config
        out = lam.invoke(FunctionName=simctl.LAMBDA_NAME, Payload=json.dumps(simctl.lambda_payload(name)))
        body = json.loads(json.loads(out["Payload"].read())["body"])
        inv = self.sim.invocations()
        prod = inv[-1]["cluster_id"]
        self.assertTrue(prod, (body, inv))
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 3000})  # frugal's own invocation is late
        self.d = e2e.frugald(self.sim)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        run = e2e.wait_run(self.d, run_id, timeout=120)
        self.assertFalse(terminated_by_request(self.sim, prod), "frugal terminated the production cluster %s" % prod)
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        self.assertNotIn(prod, [a.get("cluster_id") for a in audit["audit"] if a["event"] == "cluster.terminate"])

    def test_a_failing_revert_is_never_given_up(self):
        """SSM refuses PutParameter while the revert is due: the run keeps
        trying (flagged needs_attention after 5 attempts) and restores the
        parameter once SSM works again."""
        self.d = e2e.frugald(self.sim)
        name = "ETL-DAILY-LOAD"  # KeepJobFlowAliveWhenNoSteps: true
        before, v0 = e2e.ssm_value(self.sim, name)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 600})
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(self.d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=60)
        self.sim.faults({"service": "ssm", "operation": "PutParameter", "error_rate": 1, "error_status": 500,
                         "error_code": "InternalServerError"})
        self.sim.advance(900)
        deadline = time.time() + 60
        run = None
        while time.time() < deadline:
            st, run, _ = self.d.api("GET", "/api/runs/" + run_id)
            if run.get("needs_attention"):
                break
            time.sleep(0.3)
        self.assertTrue(run.get("needs_attention"), run.get("state"))
        self.assertEqual(run["state"], "REVERT")
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        self.assertIn("param.revert_stuck", [a["event"] for a in audit["audit"]])
        self.sim.clear_faults()
        run = e2e.wait_run(self.d, run_id, timeout=120)
        after, v = e2e.ssm_value(self.sim, name)
        self.assertEqual(after, before, "the parameter still holds frugal's value after the run ended %s" % run["state"])
        self.assertNotIn("needs_attention", run)

    def test_a_failed_invoke_terminates_nothing(self):
        """The Lambda answers with a definite error (nothing created): the
        run reverts and terminates nothing - in particular not the
        scheduler's production run of that name."""
        name = "ETL-DAILY-LOAD"
        lam = self.sim.client("lambda")
        lam.invoke(FunctionName=simctl.LAMBDA_NAME, Payload=json.dumps(simctl.lambda_payload(name)))
        prod = self.sim.invocations()[-1]["cluster_id"]
        self.assertTrue(prod)
        self.d = e2e.frugald(self.sim)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.sim.faults({"service": "lambda", "operation": "Invoke", "error_rate": 1, "error_status": 400,
                         "error_code": "InvalidParameterValueException"})
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        run = e2e.wait_run(self.d, run_id, timeout=120)
        self.assertFalse(terminated_by_request(self.sim, prod), "frugal terminated the production cluster %s" % prod)
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        self.assertNotIn(prod, [a.get("cluster_id") for a in audit["audit"] if a["event"] == "cluster.terminate"])

    def test_a_slow_put_is_not_resent_and_is_reverted(self):
        """PutParameter answers slower than http.timeout: the write is not
        resent, so at most one lands (Version original + 1) and the revert
        recognises and restores it."""
        self.d = e2e.frugald(self.sim, args=["--set", "http.timeout=2s"])
        name = "ETL-DAILY-LOAD"
        before, v0 = e2e.ssm_value(self.sim, name)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.sim.faults({"service": "ssm", "operation": "PutParameter", "latency_ms": 3000})
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        run = e2e.wait_run(self.d, run_id, timeout=120)
        self.sim.clear_faults()
        after, v = e2e.ssm_value(self.sim, name)
        self.assertEqual(after, before, "run ended %s with frugal's value left in the parameter" % run["state"])

    def test_a_malformed_lambda_answer_is_an_unknown_outcome(self):
        """The Lambda runs and creates its cluster but answers outside the
        contract (garbage, a cluster id that is no EMR id). Its outcome is
        unknown: the run fails with a clear error, yet it waits for the
        cluster, restores the parameter byte for byte and terminates the
        cluster the Lambda made. (Before: a malformed id was taken as the
        test cluster, so the real one was never found nor terminated.)"""
        self.d = e2e.frugald(self.sim, args=["--set", "emr.wait_timeout=20m"])
        name = "ETL-DAILY-LOAD"
        before, v0 = e2e.ssm_value(self.sim, name)
        answers = [
            ("<html><body>502 Bad Gateway</body></html>", "not JSON"),
            ('{"statusCode": 200, "body": "{\\"cluster_id\\": \\"j-abc; rm -rf\\"}"}', "not an EMR cluster id"),
        ]
        for raw, why in answers:
            with self.subTest(answer=raw):
                self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 0, "answer": raw})
                n0 = len(self.sim.invocations())
                run_id = e2e.propose(self.d, name)["run_id"]
                self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
                run = e2e.wait_run(self.d, run_id, timeout=180)
                inv = self.sim.invocations()[n0:]
                self.assertEqual(len(inv), 1, "the Lambda ran %d times" % len(inv))
                made = inv[0].get("cluster_id")
                self.assertTrue(made, "the sim's Lambda created no cluster: %s" % inv[0])
                self.assertEqual(run["state"], "FAILED", run)
                self.assertIn("Lambda", run.get("error", ""), run)
                self.assertIn(why, run.get("error", ""), run)
                after, v = e2e.ssm_value(self.sim, name)
                self.assertEqual(after, before, "the parameter still holds frugal's value (v%d)" % v)
                self.assertTrue(terminated_by_request(self.sim, made),
                                "the cluster %s the Lambda made was left %s" % (made, state_of(self.sim, made)))
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 0, "answer": None})

    def test_sigterm_while_waiting_restores_the_parameter(self):
        """systemctl stop while the run waits for the test cluster: the
        drain restores the parameter before frugald exits."""
        self.d = e2e.frugald(self.sim)
        name = "ETL-DAILY-LOAD"
        before, v0 = e2e.ssm_value(self.sim, name)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 600})
        run_id = e2e.propose(self.d, name)["run_id"]
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(self.d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=60)
        self.sim.advance(900)  # the cluster comes up while frugald stops
        self.assertEqual(self.d.stop(), 0)
        self.d = None
        time.sleep(3)
        after, v = e2e.ssm_value(self.sim, name)
        self.assertEqual(after, before, "frugald stopped with its value in the parameter (v%d)" % v)


if __name__ == "__main__":
    ft.run_tests()
