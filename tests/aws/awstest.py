"""Helpers for the AWS client's integration tests.

- run_probe(): runs build/tests/aws/aws-probe with a scrubbed environment
  (no AWS_* from the machine, a private HOME) and returns its JSON lines.
- MotoIAM: `python3 -m moto.server` with IAM authentication enforced after
  the four calls that create a user, its access key and an admin policy.
- AwsStub: a local AWS stand-in on loopback that verifies every SigV4
  signature with botocore (the same canonicalisation AWS applies, including
  Lambda's double-encoded ARN paths), answers each protocol in its real wire
  shape, injects throttling / 5xx / malformed answers per operation, and
  serves IMDSv2, the container credential endpoint and STS
  AssumeRoleWithWebIdentity and AssumeRole (signed, verified like every
  other call; each issued key is recorded with who signed for it).
"""
import datetime
import email.utils
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import frugaltest

PROBE = os.path.join(frugaltest.BUILD_ROOT, "tests", "aws", "aws-probe")


def clean_env(extra=None, home=None):
    # no AWS_* from the machine, and none of meson's FRUGAL_* path variables
    # (frugal rejects unknown FRUGAL_* names)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("FRUGAL_")}
    env["HOME"] = home or tempfile.mkdtemp(prefix="aws-home-")
    env.pop("PROBE_LOG", None)
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_probe(ops, env=None, config=None, parallel=False, close_after_ms=0, timeout=90, home=None):
    """Runs the probe; returns (results, info) where results are the op
    lines in order and info has "ready", "done", "stderr", "returncode"."""
    script = {"config": config or {}, "ops": ops, "parallel": parallel}
    if close_after_ms:
        script["close_after_ms"] = close_after_ms
    p = subprocess.run([PROBE], input=json.dumps(script).encode(), capture_output=True, timeout=timeout,
                       env=clean_env(env, home))
    lines = []
    info = {"stderr": p.stderr.decode("utf-8", "replace"), "returncode": p.returncode}
    for raw in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        ev = obj.get("event")
        if ev:
            info[ev] = obj
        else:
            lines.append(obj)
    return lines, info


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class MotoIAM:
    """moto.server with IAM auth enforced; .akid/.secret belong to an admin user."""

    def __init__(self, timeout=60):
        self.port = free_port()
        env = dict(os.environ)
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
        self.p = subprocess.Popen(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                  start_new_session=True)
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise TimeoutError("moto did not start")
                time.sleep(0.1)
        # Lambda without Docker (does not count as an authenticated action)
        req = urllib.request.Request(self.url + "/moto-api/config", method="POST",
                                     data=json.dumps({"lambda": {"use_docker": False}}).encode())
        urllib.request.urlopen(req, timeout=10).read()
        import boto3
        kw = dict(endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="bootstrap",
                  aws_secret_access_key="bootstrap")
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="frugal")
        key = iam.create_access_key(UserName="frugal")["AccessKey"]
        pol = iam.create_policy(PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        iam.attach_user_policy(UserName="frugal", PolicyArn=pol["Policy"]["Arn"])
        self.akid = key["AccessKeyId"]
        self.secret = key["SecretAccessKey"]

    def client(self, name, secret=None):
        import boto3
        return boto3.client(name, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.akid,
                            aws_secret_access_key=secret or self.secret)

    def env(self, secret=None, akid=None):
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": akid or self.akid,
                "AWS_SECRET_ACCESS_KEY": secret or self.secret, "AWS_REGION": "us-east-1"}

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


# ---------------------------------------------------------------- the stub

TARGETS = {"ElasticMapReduce": "emr", "GraniteServiceVersion20100801": "cloudwatch", "AmazonSSM": "ssm",
           "AmazonSQS": "sqs", "AWSPriceListService": "pricing"}
IAM_PREFIX = {"emr": "elasticmapreduce", "cloudwatch": "cloudwatch", "ssm": "ssm", "sqs": "sqs", "pricing": "pricing",
              "ec2": "ec2", "sts": "sts", "lambda": "lambda"}
DENIED = {"emr": ("AccessDeniedException", 400), "cloudwatch": ("AccessDenied", 403),
          "ssm": ("AccessDeniedException", 400), "sqs": ("AccessDenied", 403), "pricing": ("AccessDeniedException", 400),
          "ec2": ("UnauthorizedOperation", 403), "sts": ("AccessDenied", 403), "lambda": ("AccessDeniedException", 403)}
SIGNING = {"emr": "elasticmapreduce", "cloudwatch": "monitoring", "ssm": "ssm", "sqs": "sqs", "pricing": "pricing",
           "ec2": "ec2", "sts": "sts", "lambda": "lambda"}


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reply:
    def __init__(self, status=200, body=b"", headers=None, reset=False, delay=0.0, content_length=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = headers or {}
        self.reset = reset
        self.delay = delay
        self.content_length = content_length


def error_reply(service, code, message="injected", status=None):
    """An error in the service's own wire shape."""
    rid = secrets.token_hex(8)
    if service in ("emr", "ssm", "pricing"):
        return Reply(status or 400, json.dumps({"__type": "com.amazonaws.%s#%s" % (service, code),
                                                "message": message}),
                     {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": rid})
    if service in ("cloudwatch", "sqs"):
        return Reply(status or 400, json.dumps({"__type": "com.amazonaws.%s#%s" % (service, code),
                                                "message": message}),
                     {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": rid,
                      "x-amzn-query-error": "%s;Sender" % code})
    if service == "ec2":
        return Reply(status or 400, '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                     '<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>'
                     % (code, message, rid), {"Content-Type": "text/xml;charset=UTF-8"})
    if service == "sts":
        return Reply(status or 400, '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                     '<Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId>'
                     '</ErrorResponse>' % (code, message, rid), {"Content-Type": "text/xml"})
    if service == "lambda":
        return Reply(status or 400, json.dumps({"Type": "User", "message": message}),
                     {"Content-Type": "application/json", "x-amzn-RequestId": rid, "x-amzn-ErrorType": code})
    raise ValueError(service)


THROTTLE = {"emr": ("ThrottlingException", 400), "ssm": ("ThrottlingException", 400),
            "pricing": ("ThrottlingException", 400), "cloudwatch": ("Throttling", 400),
            "sqs": ("RequestThrottled", 400), "ec2": ("RequestLimitExceeded", 503), "sts": ("Throttling", 400),
            "lambda": ("TooManyRequestsException", 429)}


def throttle_reply(service):
    code, status = THROTTLE[service]
    return error_reply(service, code, "Rate exceeded", status)


class AwsStub:
    def __init__(self, region="us-east-1"):
        self.region = region
        self.lock = threading.Lock()
        self.keys = {}
        self.log = []
        self.faults = {}  # op -> list of Reply/strings consumed one per call
        self.deny = set()  # IAM actions ("ec2:RunInstances") refused with the service's access-denied shape
        # "lifetimes": validity of the next credentials issued, one per fetch,
        # then "lifetime"
        self.imds = {"role": "frugal-role", "v2": True, "lifetime": 3600, "lifetimes": [], "hang": False, "fail": 0}
        self.container = {"path": "/creds/abc", "token": None, "lifetime": 3600, "lifetimes": [], "fail": 0}
        self.web_identity = {"token": None, "lifetime": 3600, "lifetimes": []}
        self.assume_role = {"lifetime": 3600, "lifetimes": []}
        self.cred_fetches = {"imds": 0, "container": 0, "sts": 0, "imds_token": 0, "assume_role": 0}
        self.issued = []   # {"by": "imds" | "container" | "web-identity" | "assume-role", "akid", "token"}
        self.assumed = []  # AssumeRole calls: {"params", "signer", "token_header", "issued"}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, r):
                if r.delay:
                    time.sleep(r.delay)
                if r.reset:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.send_response(r.status)
                for k, v in r.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(r.content_length if r.content_length is not None
                                                       else len(r.body)))
                if r.content_length is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(r.body)

            def do_PUT(self):
                self._send(stub.route(self, self._body()))

            def do_GET(self):
                self._send(stub.route(self, b""))

            def do_POST(self):
                self._send(stub.route(self, self._body()))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that gave up (timeouts, cancels) are part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- keys and credentials
    def add_key(self, akid, secret, token=None, expires=None):
        with self.lock:
            self.keys[akid] = {"secret": secret, "token": token, "expires": expires}

    def lifetime(self, conf):
        with self.lock:
            return conf["lifetimes"].pop(0) if conf["lifetimes"] else conf["lifetime"]

    def issue(self, lifetime, prefix="ASIA", by=None):
        akid = prefix + secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(30)
        token = secrets.token_urlsafe(60)
        exp = time.time() + lifetime
        self.add_key(akid, secret, token, exp)
        with self.lock:
            self.issued.append({"by": by, "akid": akid, "token": token})
        return {"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token, "Expiration": iso(exp)}

    def env(self, akid="AKIDSTUB0000000000", secret="stub-secret", extra=None):
        """Environment pointing every service at the stub with static keys."""
        self.add_key(akid, secret)
        e = {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_REGION": self.region}
        e.update(extra or {})
        return e

    def inject(self, op, *replies):
        """The next calls of op get these replies (Reply objects or "throttle")."""
        with self.lock:
            self.faults.setdefault(op, []).extend(replies)

    def calls(self, op=None):
        with self.lock:
            return [c for c in self.log if op is None or c["op"] == op]

    # ---- signature check (botocore's canonicalisation, as AWS does it)
    def verify(self, h, body, service):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        auth = h.headers.get("Authorization")
        if not auth:
            return "MissingAuthenticationToken", None
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
        if not m:
            return "IncompleteSignature", None
        akid, _, region, svc, signed = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
        with self.lock:
            key = self.keys.get(akid)
        if not key:
            return "InvalidClientTokenId", akid
        if key["token"] and h.headers.get("X-Amz-Security-Token") != key["token"]:
            return "InvalidClientTokenId", akid
        if key["expires"] and time.time() > key["expires"]:
            return "ExpiredToken", akid
        if svc != SIGNING[service]:
            return "SignatureDoesNotMatch", akid
        amz = h.headers.get("X-Amz-Date", "")
        when = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ")
        req = AWSRequest(method=h.command, url="http://%s%s" % (h.headers["Host"], h.path), data=body)
        for name in signed.split(";"):
            for v in h.headers.get_all(name) or []:
                req.headers[name] = v
        creds = Credentials(akid, key["secret"], key["token"])
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            SigV4Auth(creds, svc, region).add_auth(req)
        if req.headers["Authorization"] != auth:
            return "SignatureDoesNotMatch", akid
        return None, akid

    # ---- routing
    def route(self, h, body):
        path = h.path
        if path.startswith("/latest/"):
            return self.imds_route(h)
        if path.startswith(self.container["path"]):
            return self.container_route(h)
        target = h.headers.get("X-Amz-Target")
        params = {}
        if target:
            prefix, op = target.split(".", 1)
            service = TARGETS.get(prefix, "unknown")
            proto = "json"
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                return error_reply(service, "SerializationException", "bad JSON")
        elif path.startswith("/2015-03-31/functions/"):
            service, op, proto = "lambda", "Invoke", "rest"
        else:
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
            params = {k: v[0] for k, v in form.items()}
            op = params.get("Action", "")
            service = "ec2" if params.get("Version") == "2016-11-15" else "sts"
            proto = "query"
        entry = {"service": service, "op": op, "path": path, "headers": dict(h.headers.items()),
                 "params": params, "body": body, "time": time.time()}
        if op != "AssumeRoleWithWebIdentity":
            err, akid = self.verify(h, body, service)
            entry["akid"] = akid
            entry["sig_error"] = err
        else:
            err = None
        with self.lock:
            self.log.append(entry)
            queue = self.faults.get(op)
            fault = queue.pop(0) if queue else None
        if err:
            status = 400 if err == "ExpiredToken" else 403
            if service == "ec2" and err == "SignatureDoesNotMatch":
                err = "AuthFailure"
            return error_reply(service, err, "signature check failed: %s" % err, status)
        action = "%s:%s" % (IAM_PREFIX.get(service, service), "InvokeFunction" if op == "Invoke" else op)
        if action in self.deny:
            code, status = DENIED[service]
            return error_reply(service, code, "User is not authorized to perform: %s" % action, status)
        if service == "ec2" and params.get("DryRun") == "true":
            return error_reply("ec2", "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        if fault == "throttle":
            return throttle_reply(service)
        if isinstance(fault, Reply):
            return fault
        handler = getattr(self, "op_%s_%s" % (service, op), None)
        if not handler:
            return error_reply(service, "InvalidAction", "the stub does not know %s" % op)
        return handler(h, params, body)

    # ---- IMDS and the container endpoint
    def imds_route(self, h):
        if self.imds["hang"]:
            return Reply(200, "late", delay=5)
        if self.imds["fail"] > 0:
            self.imds["fail"] -= 1
            return Reply(500, "busy")
        if h.path == "/latest/api/token":
            if h.command != "PUT":
                return Reply(405, "")
            if not self.imds["v2"]:
                return Reply(404, "")
            if not h.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return Reply(400, "missing ttl")
            with self.lock:
                self.cred_fetches["imds_token"] += 1
            return Reply(200, "imds-token-123")
        if self.imds["v2"] and h.headers.get("X-aws-ec2-metadata-token") != "imds-token-123":
            return Reply(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if h.path == base:
            return Reply(200, self.imds["role"] + "\n")
        if h.path == base + self.imds["role"]:
            with self.lock:
                self.cred_fetches["imds"] += 1
            c = self.issue(self.lifetime(self.imds), by="imds")
            c.update({"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC"})
            return Reply(200, json.dumps(c, indent=2))
        return Reply(404, "")

    def container_route(self, h):
        if self.container["fail"] > 0:
            self.container["fail"] -= 1
            return Reply(500, "busy")
        want = self.container["token"]
        if want and h.headers.get("Authorization") != want:
            return Reply(403, json.dumps({"code": "AccessDenied"}))
        with self.lock:
            self.cred_fetches["container"] += 1
        c = self.issue(self.lifetime(self.container), by="container")
        return Reply(200, json.dumps(c))

    # ---- services
    def ok_json(self, obj, v="1.1"):
        return Reply(200, json.dumps(obj), {"Content-Type": "application/x-amz-json-%s" % v,
                                            "x-amzn-RequestId": secrets.token_hex(8)})

    def ok_xml(self, root, inner, ns="http://ec2.amazonaws.com/doc/2016-11-15/"):
        rid = "req-" + secrets.token_hex(6)
        return Reply(200, '<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">\n  <requestId>%s</requestId>\n%s\n'
                     '</%s>' % (root, ns, rid, inner, root), {"Content-Type": "text/xml;charset=UTF-8"})

    def op_emr_ListClusters(self, h, p, body):
        pages = {None: ("m2", ["j-1", "j-2"]), "m2": ("m3", ["j-3"]), "m3": (None, ["j-4"])}
        nxt, ids = pages.get(p.get("Marker"), (None, []))
        out = {"Clusters": [{"Id": i, "Name": "c-" + i, "Status": {"State": "TERMINATED"}} for i in ids]}
        if nxt:
            out["Marker"] = nxt
        return self.ok_json(out)

    def op_emr_DescribeCluster(self, h, p, body):
        if p.get("ClusterId", "").startswith("j-FRUGALDOCTOR"):
            return error_reply("emr", "InvalidRequestException", "Cluster id '%s' is not valid." % p["ClusterId"])
        return self.ok_json({"Cluster": {"Id": p.get("ClusterId"), "Name": "x"}})

    def op_emr_ListInstanceFleets(self, h, p, body):
        if p.get("ClusterId", "").startswith("j-FRUGALDOCTOR"):
            return error_reply("emr", "InvalidRequestException", "Cluster id '%s' is not valid." % p["ClusterId"])
        fleets = {None: ("f2", [("if-1", "MASTER", "m5.xlarge"), ("if-2", "CORE", "r7g.4xlarge")]),
                  "f2": (None, [("if-3", "TASK", "r7g.2xlarge")])}
        nxt, items = fleets.get(p.get("Marker"), (None, []))
        out = {"InstanceFleets": [{"Id": i, "InstanceFleetType": t, "TargetSpotCapacity": 2,
                                   "InstanceTypeSpecifications": [{"InstanceType": it, "WeightedCapacity": 1}]}
                                  for i, t, it in items]}
        if nxt:
            out["Marker"] = nxt
        return self.ok_json(out)

    def emr_cluster_list(self, key):
        def handler(h, p, body):
            if p.get("ClusterId", "").startswith("j-FRUGALDOCTOR"):
                return error_reply("emr", "InvalidRequestException", "Cluster id '%s' is not valid." % p["ClusterId"])
            return self.ok_json({key: []})
        return handler

    def __getattr__(self, name):
        lists = {"op_emr_ListInstanceGroups": "InstanceGroups",
                 "op_emr_ListInstances": "Instances", "op_emr_ListSteps": "Steps"}
        if name in lists:
            return self.emr_cluster_list(lists[name])
        raise AttributeError(name)

    def op_ssm_GetParameter(self, h, p, body):
        if p.get("Name") == "/missing" or p.get("Name", "").endswith("frugal-doctor-probe"):
            return error_reply("ssm", "ParameterNotFound", "Parameter /missing not found.")
        return self.ok_json({"Parameter": {"Name": p.get("Name"), "Value": "v", "Version": 3, "Type": "String"}})

    def op_ssm_PutParameter(self, h, p, body):
        return self.ok_json({"Version": 4, "Tier": p.get("Tier", "Standard")})

    def op_cloudwatch_GetMetricData(self, h, p, body):
        qs = p.get("MetricDataQueries", [])
        tok = p.get("NextToken")
        res = [{"Id": q["Id"], "Label": q["Id"], "Timestamps": [1795345200 + (60 if tok else 0)],
                "Values": [2.0 if tok else 1.0], "StatusCode": "Complete" if tok else "PartialData"} for q in qs]
        out = {"MetricDataResults": res, "Messages": []}
        if not tok:
            out["NextToken"] = "page2-" + qs[0]["Id"]
        return self.ok_json(out, "1.0")

    def op_cloudwatch_GetMetricStatistics(self, h, p, body):
        return self.ok_json({"Label": p.get("MetricName"), "Datapoints": [{"Average": 1.5, "Timestamp": 1795345200}]},
                            "1.0")

    def op_sqs_GetQueueUrl(self, h, p, body):
        if p.get("QueueName") == "frugal-doctor-probe":
            return error_reply("sqs", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
        return self.ok_json({"QueueUrl": "%s/123456789012/%s" % (self.url, p.get("QueueName"))}, "1.0")

    def op_sqs_ReceiveMessage(self, h, p, body):
        return self.ok_json({"Messages": [{"MessageId": "m1", "ReceiptHandle": "rh1", "Body": "{}"}]}, "1.0")

    def op_pricing_GetProducts(self, h, p, body):
        tok = p.get("NextToken")
        doc = {"product": {"sku": "SKU%s" % (2 if tok else 1), "attributes": {"instanceType": "m5.large"}},
               "terms": {"OnDemand": {}}}
        out = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(doc)]}
        if not tok:
            out["NextToken"] = "p2"
        return self.ok_json(out)

    def op_ec2_DescribeAvailabilityZones(self, h, p, body):
        if p.get("DryRun") == "true":
            return error_reply("ec2", "DryRunOperation", "Request would have succeeded, but DryRun flag is set.",
                               412)
        return self.ok_xml("DescribeAvailabilityZonesResponse",
                           "<availabilityZoneInfo><item><zoneName>us-east-1a</zoneName><zoneState>available"
                           "</zoneState></item><item><zoneName>us-east-1b</zoneName><zoneState>available</zoneState>"
                           "</item></availabilityZoneInfo>")

    def op_ec2_DescribeInstances(self, h, p, body):
        tok = p.get("NextToken")
        iid = "i-2" if tok else "i-1"
        inner = ("<reservationSet><item><reservationId>r-%s</reservationId><instancesSet><item><instanceId>%s"
                 "</instanceId><instanceType>m5.large</instanceType></item></instancesSet></item></reservationSet>"
                 % (iid, iid))
        if not tok:
            inner += "<nextToken>tok-2</nextToken>"
        return self.ok_xml("DescribeInstancesResponse", inner)

    def op_ec2_DescribeSpotPriceHistory(self, h, p, body):
        return self.ok_xml("DescribeSpotPriceHistoryResponse",
                           "<spotPriceHistorySet><item><instanceType>m5.large</instanceType><productDescription>"
                           "Linux/UNIX</productDescription><spotPrice>0.034500</spotPrice><timestamp>"
                           "2026-11-22T10:00:00.000Z</timestamp><availabilityZone>us-east-1a</availabilityZone>"
                           "</item></spotPriceHistorySet><nextToken/>")

    def op_sts_GetCallerIdentity(self, h, p, body):
        akid = h.headers.get("Authorization", "").split("Credential=")[1].split("/")[0]
        return Reply(200, '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                     '<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/%s</Arn><UserId>AIDSTUB</UserId>'
                     '<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>'
                     'rid-%s</RequestId></ResponseMetadata></GetCallerIdentityResponse>' % (akid, secrets.token_hex(4)),
                     {"Content-Type": "text/xml"})

    def op_sts_AssumeRoleWithWebIdentity(self, h, p, body):
        if "Authorization" in h.headers:
            return error_reply("sts", "InvalidParameterValue", "AssumeRoleWithWebIdentity must not be signed")
        want = self.web_identity["token"]
        if want and p.get("WebIdentityToken") != want:
            return error_reply("sts", "InvalidIdentityToken", "token rejected")
        with self.lock:
            self.cred_fetches["sts"] += 1
        c = self.issue(self.lifetime(self.web_identity), by="web-identity")
        return Reply(200, '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                     '<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>'
                     '<AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>'
                     '<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>'
                     '%s</SessionToken><Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult>'
                     '<ResponseMetadata><RequestId>rid-wi</RequestId></ResponseMetadata>'
                     '</AssumeRoleWithWebIdentityResponse>'
                     % (p.get("RoleArn"), p.get("RoleSessionName"), p.get("RoleSessionName"), c["AccessKeyId"],
                        c["SecretAccessKey"], c["Token"], c["Expiration"]), {"Content-Type": "text/xml"})

    def op_sts_AssumeRole(self, h, p, body):
        # reached only with a signature botocore accepted (route() checks it)
        dur = p.get("DurationSeconds")
        if dur is not None and not (dur.isdigit() and 900 <= int(dur) <= 43200):
            return error_reply("sts", "ValidationError", "1 validation error detected: Value '%s' at "
                               "'durationSeconds' failed to satisfy constraint" % dur)
        if not p.get("RoleArn") or not p.get("RoleSessionName"):
            return error_reply("sts", "MissingParameter", "RoleArn and RoleSessionName are required")
        with self.lock:
            self.cred_fetches["assume_role"] += 1
        c = self.issue(self.lifetime(self.assume_role), by="assume-role")
        signer = h.headers.get("Authorization", "").split("Credential=")[1].split("/")[0]
        with self.lock:
            self.assumed.append({"params": dict(p), "signer": signer, "issued": c["AccessKeyId"],
                                 "token_header": h.headers.get("X-Amz-Security-Token")})
        sess = p["RoleSessionName"]
        return Reply(200, '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
                     '  <AssumeRoleResult>\n    <SourceIdentity/>\n    <AssumedRoleUser>\n'
                     '      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:%s</AssumedRoleId>\n'
                     '      <Arn>%s</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n'
                     '      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n'
                     '      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n'
                     '    </Credentials>\n    <PackedPolicySize>6</PackedPolicySize>\n  </AssumeRoleResult>\n'
                     '  <ResponseMetadata>\n    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n'
                     '  </ResponseMetadata>\n</AssumeRoleResponse>\n'
                     % (sess, p["RoleArn"].replace(":role/", ":assumed-role/").replace("arn:aws:iam:", "arn:aws:sts:")
                        + "/" + sess, c["AccessKeyId"], c["SecretAccessKey"], c["Token"], c["Expiration"]),
                     {"Content-Type": "text/xml"})

    def op_lambda_Invoke(self, h, p, body):
        name = urllib.parse.unquote(h.path.split("/functions/", 1)[1].split("/invocations")[0])
        itype = h.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        hdr = {"x-amzn-RequestId": secrets.token_hex(8), "X-Amz-Executed-Version": "$LATEST"}
        if name.endswith("missing"):
            return error_reply("lambda", "ResourceNotFoundException", "Function not found: " + name, 404)
        if itype == "DryRun":
            return Reply(204, b"", hdr)
        if itype == "Event":
            return Reply(202, b"", hdr)
        if name.endswith("fails"):
            hdr["X-Amz-Function-Error"] = "Unhandled"
            return Reply(200, json.dumps({"errorType": "KeyError", "errorMessage": "'cluster_name'"}), hdr)
        if h.headers.get("X-Amz-Log-Type") == "Tail":
            hdr["X-Amz-Log-Result"] = "U1RBUlQgUmVxdWVzdElk"
        return Reply(200, json.dumps({"statusCode": 200, "function": name, "echo": json.loads(body or b"null")}), hdr)
