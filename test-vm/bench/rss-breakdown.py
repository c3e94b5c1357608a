#!/usr/bin/env python3
"""Where a running daemon's resident memory is, byte for byte.

    test-vm/bench/rss-breakdown.py PID

The daemon must run with -XX:NativeMemoryTracking=detail (idle-rss.sh --detail starts it so,
through JAVA_TOOL_OPTIONS). Each mapping of /proc/PID/smaps is put in one category: the JVM's own
regions by what Native Memory Tracking says it reserved them for (jcmd PID VM.native_memory
detail), files by name, and the anonymous rest by shape: glibc's malloc arenas are 64 MiB-aligned
heaps of up to 64 MiB (and [heap], the main arena), everything else is ramswap's own mmap (the
local pool's slabs, the FUSE buffers). The sum is VmRSS. Tracking in detail costs memory itself (malloc headers and the call sites
of every allocation, in the arenas): an idle node alone measured about 7 MiB more than without it
(215.7 MiB against 208.5-209.5, docs/memory.md). NMT's malloc total (memory the JVM
malloced and still uses) is printed beside the arenas, which also hold what libraries malloced
and what was freed and kept: the daemon keeps freed memory (MALLOC_TRIM_THRESHOLD_) and, locked,
cannot give it back.
"""
import os
import re
import subprocess
import sys

ARENA = 64 << 20


def jcmd(pid, *args):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}  # jcmd is a JVM too
    return subprocess.run(["jcmd", str(pid), *args], capture_output=True, text=True, timeout=60, check=True,
                          env=env).stdout


def nmt_regions(pid):
    out = jcmd(pid, "VM.native_memory", "detail")
    regions = []
    for m in re.finditer(r"^\[0x([0-9a-f]+) - 0x([0-9a-f]+)\] reserved(?: and committed)? \d+KB for (.+?) from",
                         out, re.M):
        regions.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    malloc = {}
    summary = jcmd(pid, "VM.native_memory", "summary")
    cat = None
    for line in summary.splitlines():
        m = re.match(r"^-\s+(.+?) \(reserved", line)
        if m:
            cat = m.group(1)
            continue
        m = re.search(r"\(malloc=(\d+)KB", line)
        if m and cat:
            malloc[cat] = malloc.get(cat, 0) + int(m.group(1))
        m = re.search(r"\(arena=(\d+)KB", line)
        if m and cat:
            malloc[cat] = malloc.get(cat, 0) + int(m.group(1))
    return sorted(regions), malloc


def category(start, end, name, regions, arena_starts):
    for lo, hi, what in regions:
        if start < hi and end > lo:
            if what == "Thread Stack":
                return "thread stacks"
            if what in ("Class", "Metaspace"):
                return "class metadata (metaspace)"
            if what == "Code":
                return "JIT code memory"
            if what == "Java Heap":
                return "Java heap"
            return "JVM other (" + what + ")"
    if name.endswith("/lib/modules"):
        return "runtime class image (lib/modules)"
    if name.endswith("libjvm.so"):
        return "libjvm.so"
    if name.startswith("/"):
        return "other files (libraries, locale)"
    if name == "[heap]":
        return "malloc arenas"
    if name == "[stack]":
        return "thread stacks"
    if name.startswith("["):
        return "kernel ([vdso], [vvar])"
    base = start - start % ARENA
    if end - base <= ARENA and (start % ARENA == 0 or base in arena_starts):
        return "malloc arenas"
    return "ramswap's own mmap (pool, FUSE buffers)"


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: rss-breakdown.py PID")
    pid = int(sys.argv[1])
    regions, malloc = nmt_regions(pid)
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip(), 0]
                maps.append(cur)
            elif line.startswith("Rss:"):
                cur[3] = int(line.split()[1])
    # the first mapping of each arena's heap: 64 MiB-aligned, anonymous, and no region of the JVM's
    arena_starts = {start for start, end, name, _ in maps
                    if not name and start % ARENA == 0 and not any(start < hi and end > lo for lo, hi, _ in regions)}
    sums = {}
    for start, end, name, rss in maps:
        c = category(start, end, name, regions, arena_starts)
        sums[c] = sums.get(c, 0) + rss
    with open(f"/proc/{pid}/status") as f:
        vmrss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
    nmt_self = malloc.pop("Native Memory Tracking", 0)
    print(f"{'category':44s} {'MiB':>8s}")
    for c, kib in sorted(sums.items(), key=lambda kv: -kv[1]):
        print(f"{c:44s} {kib / 1024:8.1f}")
    print(f"{'sum (VmRSS ' + format(vmrss / 1024, '.1f') + ')':44s} {sum(sums.values()) / 1024:8.1f}")
    print()
    print("inside the malloc arenas, what the JVM malloced and uses (NMT), MiB:")
    for c, kib in sorted(malloc.items(), key=lambda kv: -kv[1]):
        if kib >= 256:
            print(f"  {c:42s} {kib / 1024:8.1f}")
    print(f"  {'(all JVM malloc)':42s} {sum(malloc.values()) / 1024:8.1f}")
    print(f"  {'Native Memory Tracking itself':42s} {nmt_self / 1024:8.1f}")


main()
