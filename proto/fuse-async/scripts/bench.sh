#!/bin/bash
# One prototype mount, 8 loop devices over its file (direct I/O, 16 MiB stripes as ramswap's),
# the named scenarios of c/load.c against them, then everything taken down again.
#   bench.sh MODE DELAY_MS SECONDS SCENARIO...
# MODE: hl1 | hlmt | ll | llp | lla | llpa (see java/ProtoFs.java). Reads in the first quarter of
# loop 0's stripe and writes in its second quarter are answered DELAY_MS late; local streams on
# loop 0 keep to its upper half.
# Run it under the shared lock: flock /tmp/ramswap-swaptest.lock scripts/bench.sh ...
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=$1 delay=$2 secs=$3
shift 3
stripe_mib=16 loops=8
mnt=/tmp/proto-fuse-$$
log=/tmp/proto-fuse-$$.log
devs=()
jpid=

cleanup() {
    for d in "${devs[@]}"; do timeout 10 losetup -d "$d" || echo "could not detach $d"; done
    if mountpoint -q "$mnt"; then timeout 10 fusermount -u "$mnt" || timeout 10 umount -l "$mnt"; fi
    if [ -n "$jpid" ]; then
        timeout 15 tail --pid="$jpid" -f /dev/null || kill "$jpid"
        wait "$jpid" 2>/dev/null
    fi
    rmdir "$mnt" 2>/dev/null
    sed 's/^/  daemon: /' "$log"; rm -f "$log"
}
trap cleanup EXIT

mkdir -p "$mnt"
java -Xms256m -Xmx256m -cp "$here/build/classes:$(cat "$here/build/classpath")" ProtoFs \
    "$mode" "$mnt" $((stripe_mib * loops)) "$delay" 0 $((stripe_mib << 18)) $((stripe_mib << 18)) $((stripe_mib << 19)) >"$log" 2>&1 &
jpid=$!
if ! timeout 20 bash -c "until [ -f '$mnt/swapfile' ]; do sleep 0.1; done"; then echo "mount not ready"; exit 1; fi
for ((i = 0; i < loops; i++)); do
    d=$(timeout 10 losetup --direct-io=on --offset $((i * stripe_mib << 20)) --sizelimit $((stripe_mib << 20)) -f --show "$mnt/swapfile") || exit 1
    devs+=("$d")
done
echo "mode=$mode delay=${delay}ms loops=${devs[*]} dio=$(for d in "${devs[@]}"; do cat /sys/block/${d#/dev/}/loop/dio; done | tr -d '\n')"

cpu() { awk '{print $14 + $15}' /proc/$jpid/stat; }
L() { echo "${devs[$1]}"; }
# a local stream on loop N: loop 0 only in its upper half, away from the delayed quarters
S() { if [ "$1" = 0 ]; then echo "$(L 0):$2:0.5:1"; else echo "$(L $1):$2"; fi; }
for sc in "$@"; do
    case $sc in
        r4k-1) s=("$(L 1):r:4096") ;;
        w4k-1) s=("$(L 1):w:4096") ;;
        r128k-1) s=("$(L 1):r:131072") ;;
        w128k-1) s=("$(L 1):w:131072") ;;
        r4k-8) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(S $i r:4096)"); done ;;
        w4k-8) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(S $i w:4096)"); done ;;
        r128k-8) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(S $i r:131072)"); done ;;
        w128k-8) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(S $i w:131072)"); done ;;
        r4k-8on1) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(L 1):r:4096"); done ;;
        w4k-8on1) s=(); for i in 0 1 2 3 4 5 6 7; do s+=("$(L 1):w:4096"); done ;;
        rw4k-8) s=(); for i in 0 1 2 3; do s+=("$(S $i r:4096)" "$(L $((i + 4))):w:4096"); done ;;
        # a delayed stream (a quarter of loop 0) beside measured local ones
        slow0-r1) s=("$(L 0):r:4096:0:0.25" "$(L 1):r:4096") ;;
        slow0-w1) s=("$(L 0):r:4096:0:0.25" "$(L 1):w:4096") ;;
        slow0-r0) s=("$(L 0):r:4096:0:0.25" "$(L 0):r:4096:0.5:1") ;;
        slow0-r8) s=("$(L 0):r:4096:0:0.25"); for i in 1 2 3 4 5 6 7; do s+=("$(L $i):r:4096"); done ;;
        slow0w-w1) s=("$(L 0):w:4096:0.25:0.5" "$(L 1):w:4096") ;;
        slow0w-r1) s=("$(L 0):w:4096:0.25:0.5" "$(L 1):r:4096") ;;
        *) echo "unknown scenario $sc"; exit 2 ;;
    esac
    c0=$(cpu)
    echo "== $mode $sc"
    timeout $((secs + 30)) "$here/build/load" "$secs" "${s[@]}"
    c1=$(cpu)
    echo "   daemon cpu $(( (c1 - c0) * 10 )) ms, threads $(ls /proc/$jpid/task | wc -l)"
done
