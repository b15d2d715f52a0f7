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

    def test_lambda_invoke_is_retried_after_a_timeout(self):
        """An Invoke whose answer is slower than http.timeout is retried by
        the AWS layer: the Lambda runs several times, several test clusters."""
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
        print("state", run["state"], "invocations", len(inv), "alive after the run", alive, run.get("error"))
        print([(c["Id"], c["Status"]["State"]) for c in e2e.clusters_named(self.sim, name, after_s=t0)])
        print([l["message"] for l in run["log"]])
        self.assertEqual(len(inv), 1, "the Lambda ran %d times" % len(inv))
        self.assertEqual(alive, [], "test clusters left running")

    def test_cancel_while_copy_steps_in_flight_never_terminates(self):
        """A cancel while ListSteps (COPY_STEPS) is in flight queues TERMINATE,
        but the late STEPS_COPIED result is ignored and nothing pumps the
        queue: the run sticks in TERMINATE, the test cluster keeps running."""
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
        try:
            run = e2e.wait_run(self.d, run_id, timeout=30)
        except TimeoutError as e:
            st, run, _ = self.d.api("GET", "/api/runs/" + run_id)
            test_id = run.get("test_cluster_id")
            print("stuck:", e, "test cluster", test_id, state_of(self.sim, test_id))
            # and the parameter is blocked for new runs
            prop2 = e2e.propose(self.d, name)["run_id"]
            st2, r2, _ = self.d.api("POST", "/api/agent/approve", {"run_id": prop2})
            print("second approval:", st2, r2.get("message"))
            self.fail("run never finished after a cancel during COPY_STEPS: %s" % run["state"])

    def test_mismatch_cluster_is_terminated(self):
        """A cluster of the same name with the old types (the scheduler's own
        run) is found first: MISMATCH says 'not terminated: maybe not ours',
        yet TERMINATE falls back to r->test_id and terminates it."""
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
        print("state", run["state"], "error", run.get("error"))
        print("log", [l["message"] for l in run["log"]])
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

    def test_terminate_search_ignores_types(self):
        """The Lambda answers with a definite error (nothing created): the run
        still 'terminates by search' and kills every alive cluster of that
        name created since invoke - 60 s, without the type check the docs
        promise - here the scheduler's production run."""
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
        print("state", run["state"], "error", run.get("error"))
        print("log", [l["message"] for l in run["log"]])
        self.assertFalse(terminated_by_request(self.sim, prod), "frugal terminated the production cluster %s" % prod)
        st, audit, _ = self.d.api("GET", "/api/audit?run=" + run_id)
        self.assertNotIn(prod, [a.get("cluster_id") for a in audit["audit"] if a["event"] == "cluster.terminate"])

    def test_slow_put_leaves_frugals_value_as_conflict(self):
        """PutParameter answers slower than http.timeout: the AWS layer
        retries the (successful) write, each attempt lands, MODIFY_FAILED
        with an unknown Version -> the revert sees frugal's value at
        Version v0+N != v0+1 -> CONFLICT: nothing restored."""
        self.d = e2e.frugald(self.sim, args=["--set", "http.timeout=2s"])
        name = "ETL-DAILY-LOAD"
        before, v0 = e2e.ssm_value(self.sim, name)
        run_id = e2e.propose(self.d, name)["run_id"]
        self.sim.faults({"service": "ssm", "operation": "PutParameter", "latency_ms": 3000})
        self.d.api("POST", "/api/agent/approve", {"run_id": run_id})
        run = e2e.wait_run(self.d, run_id, timeout=120)
        self.sim.clear_faults()
        after, v = e2e.ssm_value(self.sim, name)
        print("state", run["state"], "error", run.get("error"), "version", v0, "->", v)
        self.assertEqual(after, before, "run ended %s with frugal's value left in the parameter" % run["state"])

    def test_sigterm_in_wait_leaves_value_while_down(self):
        """systemctl stop while the run waits for the test cluster: drain
        refuses every AWS action (REVERT included) and exits; the parameter
        keeps frugal's value for as long as frugald is down."""
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
