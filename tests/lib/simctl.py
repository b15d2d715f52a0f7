"""Helpers for tests that use frugal-sim, the simulated AWS account.

    from simctl import Sim
    with Sim(clusters=20) as sim:
        emr = sim.client("emr")
        sim.advance(600)
        sim.control("POST", "/_sim/faults", {"service": "emr", "throttle_rate": 1})

Only the standard library plus boto3/botocore (which every machine has).
"""
import json
import os
import signal
import subprocess
import tempfile

import frugaltest

ACCESS_KEY = "AKIAFRUGALSIMULATED0"
SECRET_KEY = "frugal-sim-secret-key-not-a-real-one"
PARAM_PREFIX = "/application/ecdp-config/prod/EMR-BASE/"
LAMBDA_NAME = "app-job-submit-lambda-prod"


def sim_binary():
    """The built frugal-sim (src/sim/meson.build puts it under src/sim/)."""
    for rel in ("sim/frugal-sim", "frugal-sim"):
        path = frugaltest.binary(rel)
        if os.path.exists(path):
            return path
    return frugaltest.binary("sim/frugal-sim")


def lambda_payload(cluster_name):
    """The cluster-submit Lambda payload of seed 000, exactly."""
    body = json.dumps({"cluster_name": cluster_name, "job_type": "CLUSTER", "request_type": "CREATE",
                       "fifo_key": cluster_name})
    return {"resource": "/executions/clusters", "path": "/executions/clusters", "body": body, "httpMethod": "POST"}


class Sim(frugaltest.Proc):
    """frugal-sim on free ports; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, seed=42, clusters=12, args=(), imds=False, timeout=30, env=None, world=None):
        argv = [sim_binary(), "--listen", "127.0.0.1:0", "--seed", str(seed),
                "--clusters", str(clusters)]
        self._tmp = None
        if world is not None:
            fd, path = tempfile.mkstemp(prefix="sim-world-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(world, f)
            self._tmp = path
            argv += ["--world", path]
        if imds:
            argv += ["--imds-listen", "127.0.0.1:0"]
        argv += list(args)
        super().__init__(argv, env=env, timeout=timeout, name="frugal-sim")
        self.addr = self.ready["listen"]
        self.url = "http://" + self.addr
        self.imds_url = ("http://" + self.ready["imds_listen"]) if imds else None
        self.region = self.ready["region"]

    # ---- context manager ----
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """SIGTERM; returns the exit code. Sanitizer reports and abnormal
        exits are printed (a test can assert on the code)."""
        try:
            rc = self.stop()
            err = self.stderr()
            if rc != 0 or "Sanitizer" in err or "runtime error" in err:
                import sys
                sys.stderr.write("frugal-sim exited %s\n%s\n" % (rc, err[-20000:]))
            return rc
        finally:
            if self._tmp:
                os.unlink(self._tmp)
                self._tmp = None

    # ---- clients ----
    def session(self, key=ACCESS_KEY, secret=SECRET_KEY, token=None):
        import boto3
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                                     region_name=self.region)

    def client(self, service, key=ACCESS_KEY, secret=SECRET_KEY, token=None, config=None, **kw):
        from botocore.config import Config
        # total_max_attempts counts the first try; max_attempts counts only retries
        cfg = config or Config(retries={"mode": "standard", "total_max_attempts": 1})
        return self.session(key, secret, token).client(service, endpoint_url=self.url, config=cfg, **kw)

    def cli_env(self):
        """Environment for the aws CLI (v1) against this sim."""
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region, "AWS_ENDPOINT_URL": self.url,
                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
        env.pop("AWS_PROFILE", None)
        return env

    def cli(self, *args, check=True):
        """Runs `aws ARGS --output json`; returns parsed JSON (or text)."""
        # --endpoint-url too: the CLI's SQS customization ignores AWS_ENDPOINT_URL
        p = subprocess.run(["aws"] + list(args) + ["--output", "json", "--endpoint-url", self.url],
                           env=self.cli_env(), capture_output=True,
                           text=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError("aws %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        if not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else None

    # ---- control API ----
    def control(self, method, path, body=None, expect=200):
        status, data, _ = frugaltest.http_json(self.addr, method, path, body)
        if expect is not None and status != expect:
            raise AssertionError("%s %s -> %s %s" % (method, path, status, data))
        return data

    def world(self):
        return self.control("GET", "/_sim/world")

    def clock(self):
        return self.control("GET", "/_sim/clock")

    def now(self):
        return self.clock()["now_ms"] / 1000.0

    def advance(self, seconds):
        return self.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def faults(self, rule):
        return self.control("POST", "/_sim/faults", rule)

    def clear_faults(self):
        return self.control("DELETE", "/_sim/faults")

    def calls(self):
        return self.control("GET", "/_sim/calls")

    def cluster(self, cluster_id):
        return self.control("GET", "/_sim/clusters/" + cluster_id)

    def invocations(self):
        return self.control("GET", "/_sim/lambda/invocations")["invocations"]

    def metrics(self, instance_id, metric="cpu"):
        return self.control("GET", "/_sim/instances/%s/metrics?metric=%s" % (instance_id, metric))

    def interrupt(self, instance_id, kind="interruption"):
        return self.control("POST", "/_sim/interrupt", {"instance_id": instance_id, "kind": kind})

    def reset(self, **body):
        return self.control("POST", "/_sim/reset", body)
