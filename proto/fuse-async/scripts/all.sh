#!/bin/bash
# The rows of REPORT.md for the given modes, one mount each (about a minute a mode):
#   flock /tmp/ramswap-swaptest.lock scripts/all.sh OUTDIR MODE...
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
mkdir -p "$out"
for mode in "$@"; do
    timeout 300 "$here/scripts/bench.sh" "$mode" 50 3 \
        r4k-1 w4k-1 r128k-1 w128k-1 r4k-8 w4k-8 r128k-8 w128k-8 rw4k-8 r4k-8on1 w4k-8on1 \
        slow0-r1 slow0-w1 slow0-r0 slow0-r8 slow0w-w1 slow0w-r1 > "$out/$mode.txt" 2>&1
done
