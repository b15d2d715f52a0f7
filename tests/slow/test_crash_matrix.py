"""frugald killed with SIGKILL at every journal point of a run (and right
after each side effect, before its result is journaled), then restarted:
the parameter must equal the original bytes, no test cluster may be left
running, the Lambda is invoked at most once, and the run ends in a clear
state - without a human."""
import os
import signal
import time
import unittest

import e2e
import frugaltest as ft
import simctl

POINTS = [
    "MODIFY.intent", "MODIFY.effect", "MODIFY.done",
    "CREATE.intent", "CREATE.effect", "CREATE.done",
    "WAIT.note",
    "REVERT.intent", "REVERT.effect", "REVERT.done",
    "SUBMIT_STEPS.intent", "SUBMIT_STEPS.effect", "SUBMIT_STEPS.done",
    "REPORT.done",
    "TERMINATE.intent", "TERMINATE.effect", "TERMINATE.done",
    "END.done",
]
ALIVE = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
ARGS = ["--set", "emr.wait_timeout=60s", "--set", "emr.steps_timeout=120s"]


class CrashMatrix(unittest.TestCase):
    def one(self, point, lambda_delay=0):
        sim = simctl.Sim(clusters=8, seed=11, args=["--clock-speed", "300"])
        try:
            if lambda_delay:
                sim.control("POST", "/_sim/lambda/delay", {"seconds": lambda_delay})
            name = e2e.pick_cluster(sim)
            before, v0 = e2e.ssm_value(sim, name)
            t0 = sim.now() - 5
            d = e2e.frugald(sim, args=ARGS, env={"FRUGAL_CRASH_AT": point})
            state_dir = d.state_dir
            run_id = e2e.propose(d, name)["run_id"]
            st, body, _ = d.api("POST", "/api/agent/approve", {"run_id": run_id})
            self.assertEqual(st, 200, body)
            try:
                code = d.p.wait(90)
            except Exception:
                d.kill()
                self.fail("%s: frugald was not killed at the crash point" % point)
            self.assertEqual(code, -signal.SIGKILL, "%s: exit %s" % (point, code))
            # start again, no hook: it must finish the run by itself
            d2 = e2e.frugald(sim, args=ARGS, state_dir=state_dir)
            try:
                run = e2e.wait_run(d2, run_id, timeout=180)
                self.assertIn(run["state"], e2e.TERMINAL)
                self.assertTrue(run["state"] == "DONE" or run.get("error"), "%s: no reason given" % point)
                after, v = e2e.ssm_value(sim, name)
                self.assertEqual(after, before, "%s: the parameter was not restored" % point)
                invocations = sim.invocations()
                self.assertLessEqual(len(invocations), 1, "%s: the Lambda ran twice" % point)
                alive = [c for c in e2e.clusters_named(sim, name, after_s=t0) if c["Status"]["State"] in ALIVE]
                self.assertEqual(alive, [], "%s: test cluster left running: %s" % (point, [c["Id"] for c in alive]))
                st, audit, _ = d2.api("GET", "/api/audit?run=" + run_id)
                events = [a["event"] for a in audit["audit"]]
                if point not in ("REPORT.done", "END.done", "TERMINATE.done", "TERMINATE.effect"):
                    self.assertIn("recovery.resume", events, point)
                return run["state"]
            finally:
                self.assertEqual(d2.stop(), 0)
        finally:
            sim.close()

    def test_every_point(self):
        outcomes = {}
        for point in POINTS:
            with self.subTest(point=point):
                outcomes[point] = self.one(point)
        print("outcomes:", outcomes)

    def test_late_lambda(self):
        # the Lambda reads the parameter 2 simulated minutes after Invoke
        # returned: a crash right after the invoke must still wait for it
        # before reverting, then terminate what it created
        for point in ("CREATE.done", "CREATE.effect"):
            with self.subTest(point=point):
                self.one(point, lambda_delay=120)


if __name__ == "__main__":
    ft.run_tests()
