"""Property test: frugal's SigV4 signatures equal botocore's for a few
hundred random requests (methods, paths with odd characters, encoded query
strings, headers with odd spacing and duplicates, bodies, session tokens)."""
import datetime
import json
import os
import random
import string
import subprocess
import unittest
from unittest import mock
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import frugaltest

HELPER = os.path.join(frugaltest.BUILD_ROOT, "tests", "aws", "sigv4-sign")
N = int(os.environ.get("SIGV4_PROPERTY_N", "400"))

# botocore never signs these; keep them out of the random headers.
BLACKLIST = {"connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
             "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "authorization", "host",
             "x-amz-date", "x-amz-security-token", "date"}
ODD = "!$&'()*+,;=:@ %~-._^`{}|[]\"<>\\é☃"


def rand_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def rand_segment(rng):
    seg = rand_text(rng, string.ascii_letters + string.digits + ODD, 1, 12)
    return seg.replace("/", "")


def rand_path(rng):
    segs = []
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.08:
            segs.append(".")
        elif r < 0.15:
            segs.append("..")
        elif r < 0.22:
            segs.append("")  # a double slash
        else:
            segs.append(rand_segment(rng))
    # botocore and RFC 3986 disagree on a trailing "." or ".." segment
    # ("/a/.." is "/a" for botocore, "/a/" for RFC 3986 and frugal).
    while segs and segs[-1] in (".", ".."):
        segs.pop()
    raw = "/" + "/".join(segs)
    if rng.random() < 0.3 and not raw.endswith("/"):
        raw += "/"
    return quote(raw, safe="/~")


def enc(s):
    return quote(s, safe="-_.~")


def rand_query(rng):
    if rng.random() < 0.3:
        return ""
    parts = []
    for _ in range(rng.randint(1, 5)):
        k = enc(rand_text(rng, string.ascii_letters + ODD, 1, 8))
        if rng.random() < 0.15:
            parts.append(k)  # no '=' at all
        else:
            v = enc(rand_text(rng, string.ascii_letters + string.digits + ODD, 0, 10))
            parts.append("%s=%s" % (k, v))
            if rng.random() < 0.2:
                parts.append("%s=%s" % (k, enc(rand_text(rng, string.ascii_letters, 0, 4))))
    return "&".join(parts)


def rand_header_value(rng):
    words = [rand_text(rng, string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/;=,\"", 1, 8)
             for _ in range(rng.randint(1, 4))]
    out = ""
    for w in words:
        out += rng.choice([" ", "  ", "\t", " \t "]) + w
    return rng.choice(["", " ", "   ", "\t"]) + out.strip() + rng.choice(["", " ", "  "])


def rand_headers(rng):
    hs = []
    for _ in range(rng.randint(0, 6)):
        name = "X-" + rand_text(rng, string.ascii_letters + string.digits + "-", 1, 10)
        if name.lower() in BLACKLIST:
            continue
        hs.append((name, rand_header_value(rng)))
        if rng.random() < 0.15:  # a duplicate with other case
            hs.append((name.upper(), rand_header_value(rng)))
    if rng.random() < 0.5:
        hs.append(("Content-Type", rng.choice(["application/x-amz-json-1.1", "application/x-www-form-urlencoded; "
                                                "charset=utf-8", "application/json"])))
    return hs


def botocore_sign(spec):
    url = "https://%s%s" % (spec["host"], spec["path"])
    if spec["query"]:
        url += "?" + spec["query"]
    req = AWSRequest(method=spec["method"], url=url, data=spec["body"].encode("utf-8"))
    for k, v in spec["headers"]:
        req.headers[k] = v  # HTTPHeaders appends: duplicates stay
    creds = Credentials(spec["akid"], spec["secret"], spec["token"])
    when = datetime.datetime.fromtimestamp(spec["time_ms"] / 1000, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(creds, spec["service"], spec["region"]).add_auth(req)
    return req.headers["Authorization"], req.headers["X-Amz-Date"]


class SigV4Property(unittest.TestCase):
    def test_random_requests_match_botocore(self):
        seed = int(os.environ.get("SIGV4_PROPERTY_SEED", "20261122"))
        rng = random.Random(seed)
        specs = []
        for i in range(N):
            # (frugal's Host never carries the scheme's default port; botocore strips it)
            host = rng.choice(["ec2.us-east-1.amazonaws.com", "127.0.0.1:5000", "monitoring.eu-west-1.amazonaws.com",
                               "[::1]:8443", "lambda.ap-south-1.amazonaws.com"])
            specs.append({
                "method": rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
                "host": host,
                "path": rand_path(rng),
                "query": rand_query(rng),
                "headers": rand_headers(rng),
                "body": rand_text(rng, string.printable + "é€", 0, 200) if rng.random() < 0.7 else "",
                "region": rng.choice(["us-east-1", "eu-central-1", "ap-south-1"]),
                "service": rng.choice(["ec2", "elasticmapreduce", "monitoring", "lambda", "sts", "ssm"]),
                "akid": "AKID" + rand_text(rng, string.ascii_uppercase + string.digits, 16, 16),
                "secret": rand_text(rng, string.ascii_letters + string.digits + "+/", 40, 40),
                "token": rand_text(rng, string.ascii_letters + string.digits + "+/=", 20, 300)
                if rng.random() < 0.4 else None,
                "time_ms": rng.randint(1262304000, 1893456000) * 1000,
            })
        text = "".join(json.dumps(s) + "\n" for s in specs)
        out = subprocess.run([HELPER], input=text.encode(), capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.decode().splitlines()
        self.assertEqual(len(lines), len(specs))
        mismatches = []
        for spec, line in zip(specs, lines):
            got = json.loads(line)
            want_auth, want_date = botocore_sign(spec)
            if got.get("authorization") != want_auth or got.get("amz_date") != want_date:
                mismatches.append((spec, got, want_auth))
        for spec, got, want in mismatches[:3]:
            print("MISMATCH", json.dumps(spec), "\n frugal ", got, "\n botocore", want)
        self.assertEqual(len(mismatches), 0, "%d of %d signatures differ" % (len(mismatches), len(specs)))
        print("%d random requests signed identically" % len(specs))


if __name__ == "__main__":
    frugaltest.run_tests()
