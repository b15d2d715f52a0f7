"""frugald stopped while the EMR agent is busy: an analysis waiting for
CloudWatch longer than server.drain_timeout, and a run waiting for its test
cluster. The daemon exits 0 with a clean loop (under ASan+UBSan in CI: no
use-after-free), and the run's parameter is restored before it exits."""
import threading
import time
import unittest

import e2e
import frugaltest as ft
import simctl


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.sim = simctl.Sim(clusters=10, seed=7, args=["--clock-speed", "300"])

    def tearDown(self):
        self.sim.close()

    def test_sigterm_while_an_analysis_waits_for_metrics(self):
        d = e2e.frugald(self.sim, args=["--set", "server.drain_timeout=1s"])
        self.sim.faults({"service": "cloudwatch", "operation": "GetMetricData", "latency_ms": 8000})
        name = "ETL-DAILY-LOAD"
        t = threading.Thread(target=lambda: d.api("GET", "/api/clusters/%s/analysis?refresh=1" % name, timeout=20),
                             daemon=True)
        t.start()
        deadline = time.time() + 10
        while time.time() < deadline and not self.sim.calls()["services"].get("cloudwatch"):
            time.sleep(0.1)
        self.assertTrue(self.sim.calls()["services"].get("cloudwatch"), "the analysis never asked for metrics")
        rc = d.stop()
        self.assertNotIn("AddressSanitizer", d.stderr())
        self.assertEqual(rc, 0, d.stderr()[-3000:])
        self.assertEqual(d.log_events("stopped")[0]["loop_close"], 0)

    def test_sigterm_while_waiting_for_the_test_cluster_restores_the_parameter(self):
        d = e2e.frugald(self.sim)
        name = "ETL-DAILY-LOAD"
        before, _ = e2e.ssm_value(self.sim, name)
        self.sim.control("POST", "/_sim/lambda/delay", {"seconds": 600})  # the cluster comes late
        run_id = e2e.propose(d, name)["run_id"]
        d.api("POST", "/api/agent/approve", {"run_id": run_id})
        e2e.wait_run(d, run_id, until=("WAIT",) + e2e.TERMINAL, timeout=60)
        self.assertNotEqual(e2e.ssm_value(self.sim, name)[0], before)
        self.assertEqual(d.stop(), 0, d.stderr()[-3000:])
        self.assertEqual(e2e.ssm_value(self.sim, name)[0], before, "frugald stopped with its value in the parameter")
        # the next start finishes the run: the late test cluster is found by
        # the search (it carries the original types now) or none is left
        d2 = e2e.frugald(self.sim, state_dir=d.state_dir)
        try:
            self.sim.advance(1200)
            run = e2e.wait_run(d2, run_id, timeout=120)
            self.assertEqual(run["state"], "FAILED")
            self.assertIn("interrupted", run["error"])
            self.assertEqual(e2e.ssm_value(self.sim, name)[0], before)
            self.assertLessEqual(len(self.sim.invocations()), 1)
        finally:
            self.assertEqual(d2.stop(), 0)


if __name__ == "__main__":
    ft.run_tests()
