#!/usr/bin/env python3
"""Generate data/instance-catalog.csv, the instance catalog shipped with frugal.

Usage: tools/gen-catalog.py [SRC_DIR] [OUT]
  SRC_DIR  folder holding the three source files (default ../shared/data/instance_specs
           beside the checkout)
  OUT      output CSV (default data/instance-catalog.csv)

Python 3, standard library only. The output is deterministic: the same inputs
always give the same bytes (rows sorted by family, then size, then name).

Sources (see ../shared/data/README.md):
  ec2_types_us-east-1_joined.csv          vCPU, memory, architecture, on-demand price,
                                          EMR support, spot savings, interruption bucket
                                          (joined from the AWS Spot Instance Advisor feed,
                                          as embedded in alexei-led/spotinfo, Apache-2.0,
                                          and the price list below)
  ondemand_linux_us-east-1_2026-07-20.csv on-demand Linux $/h in us-east-1
                                          (aws/karpenter-provider-aws, Apache-2.0)
  emr-instance-catalog_2024-07.json       vCPU and memory of EMR-usable types
                                          (NVIDIA/spark-rapids-tools, Apache-2.0)

The joined file is authoritative; the two others are cross-checks: a price that
disagrees with the price list is an error, a vCPU/memory value that disagrees
with the EMR catalog is reported on stderr and counted in the header.
"""
import csv
import json
import os
import re
import sys

# Size ladder: size_rank is the size in 1/32 of an "xlarge" (nano=1 ...
# xlarge=32, 2xlarge=64, 16xlarge=512). It orders sizes inside a family and
# is proportional to the nominal size. "metal" sizes get 0: they are never
# part of a family's ordering (frugal does not recommend bare metal).
NAMED_SIZES = {"nano": 1, "micro": 2, "small": 4, "medium": 8, "large": 16, "xlarge": 32}

# Category from the family's class letters (the part before the generation).
CATEGORIES = [
    ("general", ("m", "t", "a", "mac")),
    ("compute", ("c",)),
    ("memory", ("r", "x", "u", "z", "cr")),
    ("storage", ("i", "d", "h", "im", "is")),
    ("accelerated", ("p", "g", "gr", "inf", "trn", "dl", "f", "vt")),
    ("hpc", ("hpc",)),
]

BUCKETS = {"<5%": 0, "5-10%": 1, "10-15%": 2, "15-20%": 3, ">20%": 4, "": None}


def size_rank(size):
    if size.startswith("metal"):
        return 0
    if size in NAMED_SIZES:
        return NAMED_SIZES[size]
    m = re.fullmatch(r"(\d+)xlarge", size)
    if not m:
        raise ValueError("unknown size %r" % size)
    return int(m.group(1)) * 32


def split_family(family):
    m = re.fullmatch(r"([a-z]+)(\d*)(.*)", family)
    if not m:
        raise ValueError("unparsable family %r" % family)
    cls, gen, attrs = m.group(1), m.group(2), m.group(3)
    return cls, int(gen) if gen else 0, attrs


def category(cls):
    for name, classes in CATEGORIES:
        if cls in classes:
            return name
    raise ValueError("no category for class %r" % cls)


def vendor(arch, attrs):
    if arch == "arm64":
        return "aws"  # Graviton
    return "amd" if attrs.startswith("a") else "intel"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "instance_specs")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "data", "instance-catalog.csv")

    with open(os.path.join(src, "ondemand_linux_us-east-1_2026-07-20.csv"), newline="") as f:
        prices = {r["instance_type"]: r["ondemand_usd_per_hour"] for r in csv.DictReader(f)
                  if r["region"] == "us-east-1"}
    with open(os.path.join(src, "emr-instance-catalog_2024-07.json")) as f:
        emr_specs = json.load(f)

    rows = []
    spec_mismatch = 0
    with open(os.path.join(src, "ec2_types_us-east-1_joined.csv"), newline="") as f:
        for r in csv.DictReader(f):
            itype = r["instance_type"]
            family, size = itype.split(".", 1)
            if family != r["family"]:
                raise ValueError("%s: family column %r" % (itype, r["family"]))
            cls, gen, attrs = split_family(family)
            price = r["ondemand_linux_usd_per_hour"] or prices.get(itype, "")
            if not price:
                raise ValueError("%s: no on-demand price" % itype)
            if itype in prices and float(prices[itype]) != float(price):
                raise ValueError("%s: price %s disagrees with the price list %s" % (itype, price, prices[itype]))
            vcpu = int(r["vcpu"])
            mem = float(r["memory_gib"])
            e = emr_specs.get(itype)
            if e and (e["VCpuCount"] != vcpu or abs(e["MemoryInMB"] / 1024.0 - mem) > 0.01):
                spec_mismatch += 1
                print("note: %s: joined %d vCPU %.2f GiB, EMR catalog %d vCPU %.2f GiB (joined kept)"
                      % (itype, vcpu, mem, e["VCpuCount"], e["MemoryInMB"] / 1024.0), file=sys.stderr)
            arch = r["arch_rule"]
            if arch not in ("arm64", "x86_64"):
                raise ValueError("%s: arch %r" % (itype, arch))
            bucket = BUCKETS[r["spot_interrupt_bucket"]]
            savings = r["spot_savings_pct_vs_od"] if bucket is not None else ""
            rows.append({
                "instance_type": itype,
                "family": family,
                "generation": gen,
                "size": size,
                "size_rank": size_rank(size),
                "vcpu": vcpu,
                "memory_gib": "%g" % mem,
                "arch": arch,
                "vendor": vendor(arch, attrs),
                "category": category(cls),
                "emr_supported": r["emr_supported"],
                "ondemand_usd_per_hour": "%.6f" % float(price),
                "spot_savings_pct": savings,
                "interrupt_bucket": "" if bucket is None else bucket,
            })

    rows.sort(key=lambda x: (x["family"], x["size_rank"], x["instance_type"]))
    cols = list(rows[0].keys())
    n_emr = sum(1 for r in rows if r["emr_supported"] == "true")
    with open(out, "w", newline="") as f:
        f.write("# frugal instance catalog (us-east-1), generated by tools/gen-catalog.py; do not edit by hand.\n")
        f.write("# Sources (../shared/data/instance_specs/):\n")
        f.write("#   ec2_types_us-east-1_joined.csv: AWS Spot Instance Advisor feed as embedded in\n")
        f.write("#     alexei-led/spotinfo (Apache-2.0), joined with the price list below\n")
        f.write("#   ondemand_linux_us-east-1_2026-07-20.csv: aws/karpenter-provider-aws generated\n")
        f.write("#     pricing (Apache-2.0), on-demand Linux $/h, us-east-1, 2026-07-20\n")
        f.write("#   emr-instance-catalog_2024-07.json: NVIDIA/spark-rapids-tools (Apache-2.0), cross-check\n")
        f.write("# Columns: size_rank = size in 1/32 xlarge (xlarge=32, 2xlarge=64; metal=0, never\n")
        f.write("#   recommended); vendor = aws (Graviton) | intel | amd; emr_supported from the Spot\n")
        f.write("#   Advisor's emr flag; spot_savings_pct = typical spot discount vs on-demand;\n")
        f.write("#   interrupt_bucket 0..4 = <5%, 5-10%, 10-15%, 15-20%, >20% (empty: unknown).\n")
        f.write("# Prices are us-east-1 only; other regions use them as an estimate (docs/emr-analysis.md).\n")
        f.write("# %d types, %d EMR-supported, %d vCPU/memory differences with the EMR catalog (joined kept).\n"
                % (len(rows), n_emr, spec_mismatch))
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print("wrote %s: %d types (%d EMR-supported)" % (out, len(rows), n_emr), file=sys.stderr)


if __name__ == "__main__":
    main()
