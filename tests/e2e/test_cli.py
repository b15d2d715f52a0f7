"""The frugal CLI against frugald and frugal-sim: every command a user runs,
its exit status, its output, and its errors."""
import json
import os
import select
import subprocess
import time
import unittest

import e2e
import frugaltest as ft
import simctl


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = simctl.Sim(clusters=8, seed=11, args=["--clock-speed", "300"])
        cls.d = e2e.frugald(cls.sim)
        cls.name = e2e.pick_cluster(cls.sim)

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0
        cls.sim.close()

    def env(self, **over):
        e = {k: v for k, v in os.environ.items() if not k.startswith("FRUGAL_")}
        e.update({"FRUGAL_URL": "http://" + self.d.addr, "FRUGAL_API_TOKEN": self.d.token})
        e.update(over)
        return e

    def cli(self, *args, env=None, timeout=120):
        p = subprocess.run([ft.binary("frugal")] + list(args), capture_output=True, text=True, timeout=timeout,
                           env=env or self.env())
        return p.returncode, p.stdout, p.stderr

    def test_health_clusters_analyze(self):
        rc, out, err = self.cli("health")
        self.assertEqual(rc, 0, err)
        self.assertIn("frugald", out)
        rc, out, err = self.cli("clusters")
        self.assertEqual(rc, 0, err)
        self.assertIn(self.name, out)
        self.assertRegex(out, r"\d+ clusters in the last 24 h")
        rc, out, err = self.cli("--json", "clusters")
        self.assertEqual(rc, 0, err)
        names = {c["name"] for c in json.loads(out)["clusters"]}
        self.assertIn(self.name, names)
        rc, out, err = self.cli("analyze", self.name)
        self.assertEqual(rc, 0, err)
        self.assertIn("CORE NODES", out)
        self.assertRegex(out, r"CPU: +[\d.]+% avg \| [\d.]+% peak \(p95\)")
        self.assertIn("Estimated savings:", out)
        rc, out, err = self.cli("analyze", "NO-SUCH-CLUSTER")
        self.assertEqual(rc, 1)
        self.assertIn("NO-SUCH-CLUSTER", err)

    def test_optimize_follows_the_run_to_its_report(self):
        before, _ = e2e.ssm_value(self.sim, self.name)
        rc, out, err = self.cli("optimize", self.name, "--yes", timeout=300)
        self.assertEqual(rc, 0, out + err)
        # the live narrative, then the report
        for line in ("Backed up parameter store config", "Reverted parameter store to original config", "Done."):
            self.assertIn(line, out)
        self.assertIn("report:", out)
        self.assertIn("total runtime", out)
        self.assertIn("verdict:", out)
        self.assertEqual(e2e.ssm_value(self.sim, self.name)[0], before)
        rc, out, err = self.cli("--json", "runs")
        self.assertEqual(rc, 0, err)
        run_id = json.loads(out)["runs"][0]["id"]
        rc, out, err = self.cli("run", run_id)
        self.assertEqual(rc, 0, err)
        self.assertIn("DONE", out)
        self.assertIn("REVERT", out)
        rc, out, err = self.cli("audit", "--run", run_id)
        self.assertEqual(rc, 0, err)
        for ev in ("run.approved", "param.modify", "param.revert"):
            self.assertIn(ev, out)

    def test_a_proposal_can_be_cancelled(self):
        r = e2e.propose(self.d, self.name)
        rc, out, err = self.cli("cancel", r["run_id"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(e2e.wait_run(self.d, r["run_id"], timeout=10)["state"], "CANCELLED")
        rc, out, err = self.cli("approve", r["run_id"])
        self.assertEqual(rc, 1)
        self.assertIn("not awaiting approval", err)

    def test_events_follow_from_now(self):
        p = subprocess.Popen([ft.binary("frugal"), "events", "--follow"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env())
        try:
            # the follower prints what is published once it is connected; it
            # connects in its own time, so keep publishing until it shows
            deadline = time.time() + 20
            seen = ""
            while time.time() < deadline and "chat.reply" not in seen:
                rc, out, err = self.cli("chat", "help")
                self.assertEqual(rc, 0, err)
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                if r:
                    seen += p.stdout.readline()
            self.assertIn("chat.reply", seen)
        finally:
            p.kill()
            p.communicate(timeout=5)
        # listing from the start
        rc, out, err = self.cli("events", "--since", "0")
        self.assertEqual(rc, 0, err)
        self.assertIn("chat.reply", out)

    def test_usage_and_auth_errors(self):
        rc, out, err = self.cli("no-such-command")
        self.assertEqual(rc, 2)
        rc, out, err = self.cli("runs", "--limit", "2000")
        self.assertEqual(rc, 2)
        self.assertIn("1..1000", err)
        rc, out, err = self.cli("runs", "--limit", "1000")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("clusters", env=self.env(FRUGAL_API_TOKEN="wrong-token-0123456789"))
        self.assertEqual(rc, 1)
        self.assertIn("401", err + out)
        rc, out, err = self.cli("health", env=self.env(FRUGAL_URL="http://127.0.0.1:9"))
        self.assertEqual(rc, 1)
        self.assertTrue(err.strip())


if __name__ == "__main__":
    ft.run_tests()
