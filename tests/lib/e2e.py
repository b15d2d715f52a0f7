"""Helpers for end-to-end tests: frugal-sim + frugald wired together."""
import json
import tempfile
import time

import frugaltest as ft
import simctl

TERMINAL = ("DONE", "FAILED", "CANCELLED", "CONFLICT")


def aws_env(sim):
    return {
        "AWS_ACCESS_KEY_ID": simctl.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": simctl.SECRET_KEY,
        "AWS_REGION": sim.region,
        "AWS_ENDPOINT_URL": sim.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": None,
        "AWS_CONFIG_FILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": None,
        "HOME": tempfile.mkdtemp(prefix="frugal-home-"),  # no ~/.aws of the machine
    }


FAST_EMR = ["--set", "emr.poll_initial=200ms", "--set", "emr.poll_max=1s", "--set", "retry.initial=50ms",
            "--set", "retry.max=1s"]


def frugald(sim, args=(), env=None, state_dir=None, timeout=20):
    e = aws_env(sim)
    e.update(env or {})
    return ft.Frugald(state_dir=state_dir, args=list(FAST_EMR) + list(args), env=e, timeout=timeout)


def newest_runs(world):
    """The newest run of each name (what an analysis of that name picks)."""
    out = {}
    for c in world["clusters"]:
        if c["outcome"] != "TERMINATED":
            continue
        cur = out.get(c["name"])
        if cur is None or c["start_offset_s"] > cur["start_offset_s"]:
            out[c["name"]] = c
    return out


def pick_cluster(sim, prefer="heavily_oversized", max_instances=20):
    """A cluster name whose newest terminated run has a CORE of class prefer
    (and a test cluster small enough for the instance guardrail)."""
    world = sim.world()
    runs = newest_runs(world)
    ranked = []
    for name, c in sorted(runs.items()):
        prof = c.get("profiles", {})
        core = prof.get("CORE", {}).get("class")
        total = sum(int(v) for v in c.get("capacity", {}).values()) if isinstance(c.get("capacity"), dict) else 0
        score = (0 if core == prefer else 1, total)
        ranked.append((score, name))
    ranked.sort()
    return ranked[0][1]


def ssm_value(sim, name):
    r = sim.client("ssm").get_parameter(Name=simctl.PARAM_PREFIX + name)
    return r["Parameter"]["Value"], r["Parameter"]["Version"]


def wait_run(d, run_id, timeout=240, until=TERMINAL):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        st, run, _ = d.api("GET", "/api/runs/" + run_id)
        if st == 200:
            last = run
            if run["state"] in until:
                return run
        time.sleep(0.2)
    raise TimeoutError("run %s stuck in %s" % (run_id, last and last.get("state")))


def propose(d, name):
    st, r, _ = d.api("POST", "/api/agent/chat", {"message": "optimize " + name})
    assert st == 200, r
    assert r.get("run_id"), "no proposal: %s" % json.dumps(r)[:500]
    return r


def clusters_named(sim, name, after_s=0):
    emr = sim.client("emr")
    out = []
    for page in emr.get_paginator("list_clusters").paginate():
        for c in page["Clusters"]:
            if c["Name"] == name and c["Status"]["Timeline"]["CreationDateTime"].timestamp() >= after_s:
                out.append(c)
    return out
