"""frugal-sim throughput (suite 'bench'): requests/s for DescribeCluster and
for GetMetricData with 500 queries, latency injection off, driven by a C
client (libcurl multi, keep-alive, every request signed with fr_sigv4).
Prints the figures and the sim's own CPU time per request (client and
server share the machine's cores). A world of 300 clusters, up to 15 nodes
per node type."""
import datetime
import json
import os
import subprocess
import tempfile
import unittest

import frugaltest
from simctl import Sim

SECONDS = float(os.environ.get("SIM_BENCH_SECONDS", "5"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


class SimBench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(clusters=300, seed=99)
        cls.client = os.path.join(frugaltest.BUILD_ROOT, "tests", "sim", "bench-sim-client")
        cls.tmp = tempfile.mkdtemp(prefix="sim-bench-")

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def run_client(self, target, body, conc):
        path = os.path.join(self.tmp, "body.json")
        with open(path, "w") as f:
            json.dump(body, f)
        c0 = cpu_seconds(self.sim.p.pid)
        p = subprocess.run([self.client, self.sim.url, target, path, str(SECONDS), str(conc)], capture_output=True,
                           text=True, timeout=SECONDS * 4 + 60)
        c1 = cpu_seconds(self.sim.p.pid)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        r = json.loads(p.stdout)
        r["sim_cpu_us_per_request"] = round((c1 - c0) / max(r["requests"], 1) * 1e6, 1)
        r["sim_cpu_share"] = round((c1 - c0) / r["seconds"], 2)
        print("BENCH", json.dumps(r), flush=True)
        return r

    def test_describe_cluster(self):
        cid = self.sim.world()["clusters"][0]["id"]
        best = None
        for conc in (8, 32):
            r = self.run_client("ElasticMapReduce.DescribeCluster", {"ClusterId": cid}, conc)
            self.assertEqual(r["errors"], 0)
            best = max(best or 0, r["rps"])
        # the brief: thousands of requests/s on 2 cores, client included
        self.assertGreater(best, 2000)

    def test_get_metric_data_500_queries(self):
        emr = self.sim.client("emr")
        world = self.sim.world()
        ids = []
        for wc in world["clusters"]:
            if wc["outcome"] != "TERMINATED":
                continue
            ids += [i["Ec2InstanceId"] for i in emr.list_instances(ClusterId=wc["id"])["Instances"]]
            if len(ids) >= 250:
                break
        end = datetime.datetime.fromtimestamp(self.sim.now() // 60 * 60, datetime.timezone.utc)
        start = end - datetime.timedelta(hours=3)
        qs = []
        for k in range(500):
            iid = ids[k % len(ids)]
            cpu = k % 2 == 0
            qs.append({"Id": "q%d" % k, "MetricStat": {"Metric": {
                "Namespace": "AWS/EC2" if cpu else "CWAgent", "MetricName": "CPUUtilization" if cpu else "mem_used_percent",
                "Dimensions": [{"Name": "InstanceId", "Value": iid}]}, "Period": 60, "Stat": "Average"}})
        # a window where every instance lived: the world's longest runs
        body = {"MetricDataQueries": qs, "StartTime": start.timestamp(), "EndTime": end.timestamp()}
        cw = self.sim.client("cloudwatch")
        whole = cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end)
        points = sum(len(x["Values"]) for x in whole["MetricDataResults"])
        print("BENCH gmd points per response:", points, flush=True)
        # the same over a window covering 24 h of many instances' lives
        body24 = dict(body, StartTime=(end - datetime.timedelta(hours=24)).timestamp())
        for b, label in ((body, "3h"), (body24, "24h")):
            r = self.run_client("GraniteServiceVersion20100801.GetMetricData", b, 4)
            self.assertEqual(r["errors"], 0)
            print("BENCH gmd window", label, "rps", r["rps"], "bytes", r["bytes_per_response"], flush=True)
            self.assertGreater(r["rps"], 20)


if __name__ == "__main__":
    frugaltest.run_tests()
