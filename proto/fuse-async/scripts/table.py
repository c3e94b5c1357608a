#!/usr/bin/env python3
"""Markdown tables from the outputs of scripts/all.sh: table.py DIR [DIR...] (one column per DIR and mode)."""
import re
import sys
from collections import defaultdict

MODES = ["hl1", "hlmt", "ll", "llp", "lla", "ll3"]
LOCAL = ["r4k-1", "w4k-1", "r128k-1", "w128k-1", "r4k-8", "w4k-8", "r128k-8", "w128k-8", "rw4k-8", "r4k-8on1", "w4k-8on1"]
SLOW = ["slow0-r1", "slow0-w1", "slow0-r0", "slow0-r8", "slow0w-w1", "slow0w-r1"]

def parse(path):
    res, cur = {}, None
    for line in open(path):
        m = re.match(r"== \S+ (\S+)", line)
        if m:
            cur = m.group(1)
            res[cur] = {"streams": []}
            continue
        m = re.match(r"stream (\S+)\s+ops\s+(\d+)\s+([\d.]+) MiB/s\s+p50\s+(\d+) us\s+p99\s+(\d+) us\s+max\s+(\d+) us", line)
        if m and cur:
            res[cur]["streams"].append((m.group(1), int(m.group(2)), float(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6))))
        m = re.match(r"total (\d+) ops\s+(\d+) ops/s\s+([\d.]+) MiB/s", line)
        if m and cur:
            res[cur]["ops_s"] = int(m.group(2))
            res[cur]["mib_s"] = float(m.group(3))
            res[cur]["ops"] = int(m.group(1))
        m = re.match(r"\s+daemon cpu (\d+) ms", line)
        if m and cur:
            res[cur]["cpu_ms"] = int(m.group(1))
    return res

def us(v):
    return f"{v}" if v < 10000 else f"{round(v / 1000)} ms"

runs = defaultdict(list)  # mode -> [parsed]
for d in sys.argv[1:]:
    for mode in MODES:
        try:
            runs[mode].append(parse(f"{d}/{mode}.txt"))
        except FileNotFoundError:
            pass
modes = [m for m in MODES if runs[m]]

print("Local requests, total ops/s of the scenario (one figure per run):\n")
print("| scenario | " + " | ".join(modes) + " |")
print("|---|" + "---|" * len(modes))
for sc in LOCAL:
    cells = []
    for m in modes:
        vals = [f"{r[sc]['ops_s'] / 1000:.1f}k" for r in runs[m] if sc in r and "ops_s" in r[sc]]
        cells.append(", ".join(vals) or "-")
    print(f"| {sc} | " + " | ".join(cells) + " |")

print("\nDaemon CPU per request (µs), per run:\n")
print("| scenario | " + " | ".join(modes) + " |")
print("|---|" + "---|" * len(modes))
for sc in ["r4k-1", "w4k-1", "r4k-8", "w4k-8", "r128k-8", "w128k-8"]:
    cells = []
    for m in modes:
        vals = [f"{r[sc]['cpu_ms'] * 1000 / r[sc]['ops']:.0f}" for r in runs[m] if sc in r and r[sc].get("ops")]
        cells.append(", ".join(vals) or "-")
    print(f"| {sc} | " + " | ".join(cells) + " |")

print("\nA delayed stream beside local ones: the local streams' p50 / p99 latency (µs), worst local stream, per run:\n")
print("| scenario | " + " | ".join(modes) + " |")
print("|---|" + "---|" * len(modes))
for sc in SLOW:
    cells = []
    for m in modes:
        vals = []
        for r in runs[m]:
            if sc not in r:
                continue
            local = r[sc]["streams"][1:]  # the first stream is the delayed one
            if not local:
                continue
            p50 = max(s[3] for s in local)
            p99 = max(s[4] for s in local)
            vals.append(f"{us(p50)} / {us(p99)}")
        cells.append(", ".join(vals) or "-")
    print(f"| {sc} | " + " | ".join(cells) + " |")
