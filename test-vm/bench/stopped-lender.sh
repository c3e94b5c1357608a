#!/usr/bin/env bash
# What a lender stopped with SIGSTOP does to a borrower's local I/O. One lender (node 1, --no-swap
# --lend) and one borrower (node 0, --target 1, --no-swapon) on this machine; the borrower's swap
# file is put on --devices loop devices (direct I/O, one stripe each, as `up` does for swap). The
# first half of every stripe is written and sent to the lender (local_target_bytes 0), the second
# half is written and kept local (pers_remotify_enable 0). Then, for --seconds each, with the
# lender running and with it stopped: on every device one stream of 4 KiB reads and one of 4 KiB
# writes on the local half, and --remote-streams streams of 4 KiB reads on the remote halves (each
# read waits for the lender while it is stopped; remote_timeout_ms is raised so that none fails).
# One line per stream and phase: ops, p50, p99, max; then the borrower's resident memory.
#
#   sudo flock /tmp/ramswap-swaptest.lock test-vm/bench/stopped-lender.sh [--seconds S] [--devices N] [--remote-streams K]
#
# Creates only uniquely named objects and removes them on any exit, the stopped lender continued
# first: mounts /run/ramswap-stopped-<pid>-{lender,borrower}, cluster stopped-<pid>, two ports from
# 28000-28999 with nothing on them, the loop devices it attached, a temp dir (kept, with both
# daemons' logs, with KEEP_TMP=1).
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
seconds=20
devices=4
remote_streams=8
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --devices) devices="$2"; shift 2 ;;
    --remote-streams) remote_streams="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "stopped-lender: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "stopped-lender: needs root" >&2; exit 4; }
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] && [ "$seconds" -le 50 ] || { echo "stopped-lender: --seconds takes 1..50 (a read waits 60 s at most)" >&2; exit 2; }
[[ "$devices" =~ ^[0-9]+$ ]] && [ "$devices" -ge 1 ] && [ "$devices" -le 8 ] || { echo "stopped-lender: --devices takes 1..8" >&2; exit 2; }
[[ "$remote_streams" =~ ^[0-9]+$ ]] && [ "$remote_streams" -le 64 ] || { echo "stopped-lender: --remote-streams takes 0..64" >&2; exit 2; }
command -v gcc >/dev/null || { echo "stopped-lender: needs gcc" >&2; exit 4; }

# shellcheck source=ports.sh
source "$root/test-vm/bench/ports.sh"
ramswap="$root/ramswap"
tag="stopped-$$"
lender_mount="/run/ramswap-$tag-lender"
borrower_mount="/run/ramswap-$tag-borrower"
tmp="$(mktemp -d /tmp/ramswap-stopped.XXXXXX)"
loops=()
lender_pid=""

cleanup() {
  if [ -n "$lender_pid" ]; then kill -CONT "$lender_pid" 2>/dev/null || true; fi
  local d
  for d in "${loops[@]}"; do timeout 30 losetup -d "$d" 2>/dev/null || true; done
  for m in "$borrower_mount" "$lender_mount"; do
    if grep -q " $m " /proc/self/mountinfo; then
      timeout 120 "$ramswap" down --mount "$m" >/dev/null 2>&1 \
        || timeout 60 "$ramswap" down --abort --mount "$m" >/dev/null 2>&1 || true
    fi
    rmdir "$m" 2>/dev/null || true
  done
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

say() { echo "[$(date +%T)] $*" >&2; }
counter() { cat "$borrower_mount/stats/$1"; }
# waits up to $1 seconds for the command after it to succeed
await() {
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$until" ] || { say "gave up waiting for: $*"; return 1; }
    sleep 0.5
  done
}

gcc -O2 -pthread -o "$tmp/load" "$root/proto/fuse-async/c/load.c"
lender_port=$(free_port)
say "lender: node 1, --lend 1G, port $lender_port"
timeout 180 "$ramswap" up --no-swap --lend 1G --node 1 --mount "$lender_mount" --cluster-name "$tag" \
  --port "$lender_port" --log "$tmp/lender.log" >/dev/null
lender_pid=$(awk '$1 == "pid:" {print $2}' "$lender_mount/status")
borrower_port=$(free_port)
size_mib=$((devices * 128))
say "borrower: node 0, --size ${size_mib}M --target 1 --no-swapon, port $borrower_port"
timeout 180 "$ramswap" up --size "${size_mib}M" --node 0 --target 1 --no-swapon --mount "$borrower_mount" \
  --cluster-name "$tag" --port "$borrower_port" --join "127.0.0.1:$lender_port" --log "$tmp/borrower.log" >/dev/null
borrower_pid=$(awk '$1 == "pid:" {print $2}' "$borrower_mount/status")
"$ramswap" set --mount "$borrower_mount" remote_timeout_ms 60000 >/dev/null
"$ramswap" set --mount "$borrower_mount" local_target_bytes 0 >/dev/null
"$ramswap" set --mount "$borrower_mount" pers_remotify_enable 1 >/dev/null

stripe=$((128 << 20))
for i in $(seq 0 $((devices - 1))); do
  loops+=("$(losetup --direct-io=on --offset $((i * stripe)) --sizelimit "$stripe" -f --show "$borrower_mount/swapfile")")
done
say "loop devices: ${loops[*]}"

half_mib=64
# one MiB at a time, again while the pool refuses it (ENOSPC while its reserve refills: a swap
# write the kernel would retry)
fill() { # $1 = device, $2 = first MiB, $3 = MiB
  local i tries
  for i in $(seq "$2" $(($2 + $3 - 1))); do
    tries=0
    until dd if=/dev/urandom of="$1" bs=1M count=1 seek="$i" oflag=direct status=none 2>/dev/null; do
      tries=$((tries + 1))
      [ "$tries" -lt 200 ] || { say "the pool refused MiB $i of $1 200 times"; return 1; }
      sleep 0.05
    done
  done
}
say "writing the first half of every stripe, to be sent to the lender"
for d in "${loops[@]}"; do
  fill "$d" 0 "$half_mib"
done
want=$((devices * half_mib * 256))
remote_enough() { [ "$(counter remote_pers_pages)" -ge "$want" ] && [ "$(counter pers_zbytes)" -lt $((1 << 20)) ]; }
await 300 remote_enough
"$ramswap" set --mount "$borrower_mount" pers_remotify_enable 0 >/dev/null
say "writing the second half of every stripe, kept local"
for d in "${loops[@]}"; do
  fill "$d" "$half_mib" "$half_mib"
done
say "$(counter remote_pers_pages) pages remote, $(counter pers_zpages) local"

streams=()
for d in "${loops[@]}"; do
  streams+=("$d:r:4096:0.5:1" "$d:w:4096:0.5:1")
done
for k in $(seq 0 $((remote_streams - 1))); do
  streams+=("${loops[$((k % devices))]}:r:4096:0:0.5")
done

phase() { # $1 = name; the load's lines, prefixed with the phase and the kind of stream
  awk -v phase="$1" '$1 == "stream" {
      split($2, f, ":"); kind = (f[5] == "0.5" ? "remote read" : (f[2] == "r" ? "local read" : "local write"))
      printf "%-8s %-12s %-14s %8s %9s %9s %10s %6s\n", phase, kind, f[1], $4, $8, $11, $14, $17 }'
}
printf '%-8s %-12s %-14s %8s %9s %9s %10s %6s\n' phase kind device ops p50_us p99_us max_us errors
say "lender running: $seconds s of load"
"$tmp/load" "$seconds" "${streams[@]}" | phase running
say "lender stopped (SIGSTOP): $seconds s of load"
kill -STOP "$lender_pid"
"$tmp/load" "$seconds" "${streams[@]}" > "$tmp/stopped.out" &
load_pid=$!
sleep "$seconds"
kill -CONT "$lender_pid"
wait "$load_pid" || true
phase stopped < "$tmp/stopped.out"
echo
echo "borrower: $(awk '/^VmRSS/ {printf "%.1f MiB resident", $2 / 1024}' "/proc/$borrower_pid/status"), $(ls "/proc/$borrower_pid/task" | wc -l) threads;" \
  "remote reads that failed: $(counter remote_pers_pages_unsucc_get)"
echo "A remote read that started while the lender was stopped ends after SIGCONT: its latency is up to $seconds s."
