"""Determinism and clean shutdown: the same seed gives the same world JSON
and the same GetMetricData values in two runs started at different times;
SIGTERM and SIGINT end the process with exit 0 and a closed loop, also
with requests parked (long polls, injected latency, slow bodies)."""
import datetime
import signal
import socket
import threading
import time
import unittest

from botocore.config import Config

import frugaltest
from simctl import Sim


def values_by_instance(sim, limit=40):
    """CPU and memory series of the first instances of every terminated
    cluster, keyed by instance id, with timestamps relative to the world
    anchor (runs start at different real times)."""
    emr, cw = sim.client("emr"), sim.client("cloudwatch")
    anchor = sim.clock()["world_anchor_ms"] / 1000.0
    out = {}
    queries = []
    for c in emr.list_clusters(ClusterStates=["TERMINATED"])["Clusters"]:
        for i in emr.list_instances(ClusterId=c["Id"])["Instances"][:3]:
            queries.append(i["Ec2InstanceId"])
    queries = queries[:limit]
    end = datetime.datetime.fromtimestamp(sim.now(), datetime.timezone.utc)
    start = end - datetime.timedelta(hours=24)
    mdq = []
    for k, iid in enumerate(queries):
        for metric, ns in (("CPUUtilization", "AWS/EC2"), ("mem_used_percent", "CWAgent")):
            mdq.append({"Id": "q%d_%s" % (k, ns[:3].lower()), "MetricStat": {"Metric": {
                "Namespace": ns, "MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
                "Period": 60, "Stat": "Average"}})
    for page in cw.get_paginator("get_metric_data").paginate(MetricDataQueries=mdq, StartTime=start, EndTime=end,
                                                             ScanBy="TimestampAscending"):
        for r in page["MetricDataResults"]:
            k = int(r["Id"][1:].split("_")[0])
            key = (queries[k], r["Id"].split("_")[1])
            rel = [ts.timestamp() - anchor for ts in r["Timestamps"]]
            out.setdefault(key, ([], []))
            out[key][0].extend(rel)
            out[key][1].extend(r["Values"])
    return out


class DeterminismTest(unittest.TestCase):
    def test_same_seed_same_world_and_metrics(self):
        with Sim(seed=1234, clusters=15) as a:
            wa = a.world()
            va = values_by_instance(a)
        # a minute later and then some: the anchor moves, nothing else does
        time.sleep(1.1)
        with Sim(seed=1234, clusters=15, args=["--start-time",
                                                str(int(time.time()) + 86400 * 3 + 17)]) as b:
            wb = b.world()
            vb = values_by_instance(b)
        self.assertEqual(wa, wb)
        self.assertEqual(sorted(va), sorted(vb))
        self.assertGreater(len(va), 10)
        npoints = 0
        for k in va:
            self.assertEqual(va[k][0], vb[k][0], k)
            self.assertEqual(va[k][1], vb[k][1], k)
            npoints += len(va[k][1])
        self.assertGreater(npoints, 1000)
        with Sim(seed=1235, clusters=15) as c:
            self.assertNotEqual(c.world(), wa)


class ShutdownTest(unittest.TestCase):
    def assert_clean(self, sim, sig):
        sim.signal(sig)
        rc = sim.p.wait(20)
        self.assertEqual(rc, 0, sim.stderr())
        stopped = sim.wait_event("stopped", 5)
        self.assertEqual(stopped["loop_close"], 0)
        self.assertTrue(stopped["clean"])
        self.assertTrue(sim.log_events("shutdown"))

    def test_sigterm_idle(self):
        sim = Sim(clusters=3)
        sim.client("emr").list_clusters()
        self.assert_clean(sim, signal.SIGTERM)

    def test_sigint_with_requests_in_flight(self):
        sim = Sim(clusters=3, imds=True)
        sqs = sim.client("sqs", config=Config(read_timeout=30, retries={"total_max_attempts": 1}))
        url = sqs.get_queue_url(QueueName="frugal-interruptions")["QueueUrl"]
        sim.faults({"service": "sts", "latency_ms": 5000})
        sim.faults({"service": "emr", "slow_body_ms": 5000})
        results = {}

        def call(name, fn):
            try:
                results[name] = fn()
            except Exception as e:  # the server may close instead of answering
                results[name] = e

        threads = [threading.Thread(target=call, args=("sqs", lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))),
                   threading.Thread(target=call, args=("sts", lambda: sim.client("sts").get_caller_identity())),
                   threading.Thread(target=call, args=("emr", lambda: sim.client("emr").list_clusters()))]
        for t in threads:
            t.start()
        # idle keep-alive connections and a half-sent request too
        idle = socket.create_connection(("127.0.0.1", int(sim.addr.split(":")[1])))
        half = socket.create_connection(("127.0.0.1", int(sim.addr.split(":")[1])))
        half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.5)
        t0 = time.time()
        self.assert_clean(sim, signal.SIGINT)
        self.assertLess(time.time() - t0, 5)
        for t in threads:
            t.join(10)
        self.assertEqual(len(results), 3)
        idle.close()
        half.close()


if __name__ == "__main__":
    frugaltest.run_tests()
