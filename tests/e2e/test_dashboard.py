"""The dashboard end to end: frugal-sim + frugald + headless Chromium."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import frugaltest as ft
import simctl


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium"), "node and chromium are required")
class Dashboard(unittest.TestCase):
    def test_browser_flow(self):
        sim = simctl.start_sim(clusters=8, clock_speed=300)
        try:
            target = simctl.pick_cluster(sim, prefer_class="HEAVILY_OVERSIZED")
            d = ft.Frugald(env=simctl.aws_env(sim), args=simctl.fast_emr_args())
            try:
                shots = os.path.join(ft.BUILD_ROOT, "e2e-screenshots")
                env = dict(os.environ, FRUGAL_E2E_URL=d.base, FRUGAL_E2E_TOKEN=d.token, FRUGAL_E2E_CLUSTER=target,
                           FRUGAL_E2E_SHOTS=shots)
                r = subprocess.run(["node", os.path.join(ft.SOURCE_ROOT, "tests", "e2e", "dashboard.mjs")],
                                   cwd=os.path.join(ft.SOURCE_ROOT, "tests", "e2e"), env=env,
                                   capture_output=True, text=True, timeout=600)
                print(r.stdout[-4000:])
                print(r.stderr[-4000:])
                self.assertEqual(r.returncode, 0, "browser test failed")
                self.assertTrue(os.path.exists(os.path.join(shots, "05-report.png")))
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            sim.stop()


if __name__ == "__main__":
    ft.run_tests()
