"""The dashboard end to end: frugal-sim + frugald + headless Chromium
(Debian's, driven by playwright-core): the pointer flow, a keyboard-only
pass, accessibility checks (names, landmarks, headings, live regions, WCAG
contrast) and a phone viewport. Screenshots of each stage are written to
BUILD/e2e-screenshots."""
import os
import shutil
import subprocess
import unittest
import urllib.parse

import e2e
import frugaltest as ft
import simctl


def second_cluster(d, target):
    """Another cluster whose analysis is proposable, for the keyboard pass's
    own run ('' when there is none: that pass then cancels instead)."""
    st, body, _ = d.api("GET", "/api/clusters")
    if st != 200:
        return ""
    names = sorted({c["name"] for c in body["clusters"] if c.get("analyzable") and c["name"] != target})
    for name in names:
        st, an, _ = d.api("GET", "/api/clusters/%s/analysis" % urllib.parse.quote(name, safe=""))
        if st == 200 and an.get("proposable"):
            return name
    return ""


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium"), "node and chromium are required")
class Dashboard(unittest.TestCase):
    def test_browser_flow(self):
        sim = simctl.Sim(clusters=8, seed=7, args=["--clock-speed", "120"])
        try:
            target = e2e.pick_cluster(sim)
            d = e2e.frugald(sim)
            try:
                shots = os.path.join(ft.BUILD_ROOT, "e2e-screenshots")
                shutil.rmtree(shots, ignore_errors=True)
                target2 = second_cluster(d, target)
                env = dict(os.environ, FRUGAL_E2E_URL=d.base, FRUGAL_E2E_TOKEN=d.token, FRUGAL_E2E_CLUSTER=target,
                           FRUGAL_E2E_CLUSTER2=target2, FRUGAL_E2E_SHOTS=shots)
                for k in ("FRUGAL_BUILD_ROOT", "FRUGAL_SOURCE_ROOT", "FRUGAL_SHARED_DATA"):
                    env.pop(k, None)
                r = subprocess.run(["node", os.path.join(ft.SOURCE_ROOT, "tests", "e2e", "dashboard.mjs")],
                                   cwd=os.path.join(ft.SOURCE_ROOT, "tests", "e2e"), env=env,
                                   capture_output=True, text=True, timeout=600)
                print(r.stdout[-6000:])
                print(r.stderr[-4000:])
                self.assertEqual(r.returncode, 0, "browser test failed")
                self.assertTrue(target2, "no second proposable cluster: the keyboard pass could not approve")
                for stage in ("login", "clusters", "analysis", "progress", "report", "run-audit", "audit",
                              "keyboard-approved", "phone-agent", "phone-run", "phone-audit", "phone-login"):
                    self.assertTrue(any(stage in f for f in os.listdir(shots)), stage)
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            sim.close()


if __name__ == "__main__":
    ft.run_tests()
