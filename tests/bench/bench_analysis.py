"""Benchmark (prints figures): frugald analyses 200 transient EMR clusters of
15 nodes each against frugal-sim with 40 ms latency and AWS-like
per-operation rate limits. Reports the wall time, the lower bound the rate
limits imply (for each limited operation: (calls - burst) / rate, the
largest), their ratio (target <= 1.2), API calls per cluster, and frugald's
peak RSS (target < 64 MB)."""
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import e2e  # noqa: E402
import frugaltest as ft  # noqa: E402
import simctl  # noqa: E402

N = int(os.environ.get("BENCH_CLUSTERS", "200"))
LATENCY_MS = 40


def make_world():
    sim = simctl.Sim(clusters=N, seed=1234)
    w = sim.world()
    sim.close()
    prefix = w["param_prefix"]
    params = {p["name"]: p for p in w["parameters"]}
    new_params = []
    for i, c in enumerate(w["clusters"]):
        old = c["name"]
        name = "BENCH-%03d" % i
        c["name"] = name
        c["outcome"] = "TERMINATED"
        c["expected_runtime_s"] = 3600 + (i % 4) * 1800
        c["start_offset_s"] = -(3600 * 20) + i * 120
        c["nodes"] = {"MASTER": {"type": c["nodes"]["MASTER"]["type"], "count": 1},
                      "CORE": {"type": c["nodes"]["CORE"]["type"], "count": 10},
                      "TASK": {"type": (c["nodes"].get("TASK") or c["nodes"]["CORE"])["type"], "count": 4}}
        if "TASK" not in c["profiles"]:
            c["profiles"]["TASK"] = dict(c["profiles"]["CORE"])
        cfg = json.loads(c["config"])
        cfg["Name"] = name
        c["config"] = json.dumps(cfg)
        p = dict(params[prefix + old])
        p["name"] = prefix + name
        v = json.loads(p["value"])
        v["Name"] = name
        p["value"] = json.dumps(v)
        p["history"] = []
        p["tier"] = "Advanced"  # re-serialised values may pass 4 KB
        new_params.append(p)
    w["parameters"] = new_params
    return w


def rss_peak_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    world = make_world()
    sim = simctl.Sim(world=world, args=["--aws-limits", "--clock-speed", "1"])
    limits = sim.control("GET", "/_sim/faults")["aws_limit_rules"]
    for svc in ("emr", "cloudwatch", "ssm", "ec2"):
        sim.faults({"service": svc, "latency_ms": {"mean": LATENCY_MS, "jitter": 0}})
    # frugald's own limits match what the account allows
    d = e2e.frugald(sim, args=["--set", "aws.emr_rate=15", "--set", "aws.emr_burst=60",
                               "--set", "aws.emr_concurrency=32", "--set", "aws.cloudwatch_concurrency=8",
                               "--set", "aws.ssm_rate=40", "--set", "aws.ssm_burst=40",
                               "--set", "aws.ssm_concurrency=16", "--set", "emr.cache_ttl=1h",
                               # reshaped to 15 nodes, some of the generated workloads run
                               # past the default 6 h: keep every cluster transient
                               "--set", "emr.max_runtime=12h"])
    try:
        sim.control("DELETE", "/_sim/calls")
        t0 = time.time()
        st, cl, _ = d.api("GET", "/api/clusters", timeout=300)
        assert st == 200, cl
        t_disc = time.time() - t0
        ids = [(c["name"], c["id"]) for c in cl["clusters"] if c["analyzable"]]
        assert len(ids) == N, "expected %d analyzable clusters, got %d" % (N, len(ids))
        results = {}
        errors = []

        def one(name, cid):
            st, an, _ = d.api("GET", "/api/clusters/%s/analysis?cluster_id=%s" % (name, cid), timeout=600)
            if st != 200:
                errors.append((name, st, an))
            else:
                results[cid] = an

        threads = [threading.Thread(target=one, args=x) for x in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t0
        calls = sim.calls()
        rss = rss_peak_kb(d.p.pid)
        # lower bound from the limits: every limited operation drains its bucket in parallel
        lb = 0.0
        worst = None
        for r in limits:
            svc, op = r["service"], r.get("operation") or ""
            ops = calls["services"].get(svc, {})
            for name, c in ops.items():
                if op and name != op:
                    continue
                if not op and any(x.get("operation") == name and x["service"] == svc for x in limits):
                    continue
                need = max(0.0, c["count"] - c.get("throttled", 0) - r["rate_limit"]["burst"]) / r["rate_limit"]["rate"]
                if need > lb:
                    lb, worst = need, "%s.%s" % (svc, name)
        total = sum(c["count"] for s in calls["services"].values() for c in s.values())
        throttled = calls.get("throttled", 0)
        n = len(ids)
        print("analysis bench: %d clusters x 15 nodes, %d ms latency, AWS-like per-operation limits" % (n, LATENCY_MS))
        print("  analyses ok      %d / %d (errors: %d)" % (len(results), n, len(errors)))
        print("  wall time        %.1f s (discovery %.1f s)" % (wall, t_disc))
        print("  lower bound      %.1f s (%s: (calls - burst) / rate)" % (lb, worst))
        print("  ratio            %.2f (target <= 1.2)" % (wall / lb if lb else float("nan")))
        print("  API calls        %d total, %.2f per cluster, %d throttled by the account" % (total, total / n, throttled))
        for svc, ops in sorted(calls["services"].items()):
            print("    %-10s %s" % (svc, ", ".join("%s=%d" % (k, v["count"]) for k, v in sorted(ops.items()))))
        print("  frugald peak RSS %.1f MB (target < 64 MB)" % (rss / 1024.0))
        if errors:
            print("  first error: %s" % (errors[0],))
        return 0 if not errors else 1
    finally:
        d.stop()
        sim.close()


if __name__ == "__main__":
    sys.exit(main())
