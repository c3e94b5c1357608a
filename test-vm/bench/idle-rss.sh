#!/usr/bin/env bash
# What an idle daemon keeps resident, on the Java runtime cut down by jlink (the launcher's
# default) and on the whole JDK (RAMSWAP_FULL_JDK=1), in one run: a node alone that lends nothing
# (`up --size 1G --no-swapon`) and a lender (`up --no-swap --lend 128M`, or --lend SIZE). For each: VmRSS after
# --idle seconds, the part of it that is the runtime's class image (lib/modules, from smaps), the
# Java heap's, the rest, and the thread count.
#
#   sudo flock /tmp/ramswap-swaptest.lock test-vm/bench/idle-rss.sh [--idle SECONDS] [--runs N] [--lend SIZE] [--detail]
#
# --detail runs each daemon under Native Memory Tracking (JAVA_TOOL_OPTIONS, which costs a few MiB
# of its own) and prints, after its row, where every resident byte is (rss-breakdown.py).
#
# Every daemon has its own cluster name, mount (/run/ramswap-idlerss-<pid>-<n>) and a port from
# 28000-28999 with nothing on it; no swap area is made. Every daemon started here is stopped at the
# end, even on failure.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
idle=10
runs=1
detail=""
lend=128M
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) idle="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --detail) detail=1; shift ;;
    --lend) lend="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "idle-rss: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "idle-rss: needs root (ramswap up)" >&2; exit 4; }
if [ -n "$detail" ]; then
  command -v jcmd >/dev/null || { echo "idle-rss: --detail needs jcmd (sudo apt-get install -y openjdk-17-jdk-headless)" >&2; exit 4; }
  export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }-XX:NativeMemoryTracking=detail"
fi
[[ "$idle" =~ ^[0-9]+$ ]] && [ "$idle" -le 600 ] || { echo "idle-rss: --idle takes 0..600" >&2; exit 2; }
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 10 ] || { echo "idle-rss: --runs takes 1..10" >&2; exit 2; }

tag="idlerss-$$"
mounts=()
cleanup() {
  local m
  for m in "${mounts[@]}"; do
    if grep -q " $m " /proc/self/mountinfo; then
      timeout 120 "$root/ramswap" down --mount "$m" >/dev/null 2>&1 \
        || timeout 60 "$root/ramswap" down --abort --mount "$m" >/dev/null 2>&1 || true
    fi
    rm -f "$m.log"
    rmdir "$m" 2>/dev/null || true
  done
}
trap cleanup EXIT

# shellcheck source=ports.sh
source "$root/test-vm/bench/ports.sh"

kib() { awk -v k="$1" '$1 == k ":" {print $2}' "/proc/$2/status"; }
# Rss of the mappings of $2 whose path ends with $1, in KiB
smaps_rss() { awk -v want="$1" '$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ {m = NF >= 6 && $6 ~ want"$"; next} m && $1 == "Rss:" {s += $2} END {print s + 0}' "/proc/$2/smaps"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

printf '%-4s %-9s %-7s %8s %10s %9s %9s %8s\n' run runtime role rss_mib modules_mib heap_mib rest_mib threads
n=0
for run in $(seq 1 "$runs"); do
  for runtime in cut whole; do
    for role in alone lender; do
      n=$((n + 1))
      m="/run/ramswap-$tag-$n"
      mounts+=("$m")
      port=$(free_port) || exit 1
      args=(up --mount "$m" --cluster-name "$tag-$n" --port "$port" --log "$m.log")
      if [ "$role" = alone ]; then args+=(--size 1G --no-swapon); else args+=(--no-swap --lend "$lend"); fi
      if [ "$runtime" = whole ]; then export RAMSWAP_FULL_JDK=1; else unset RAMSWAP_FULL_JDK; fi
      timeout 180 "$root/ramswap" "${args[@]}" >/dev/null 2> >(grep -v '^Picked up JAVA_TOOL_OPTIONS' >&2)
      pid=$(awk '$1 == "pid:" {print $2}' "$m/status")
      sleep "$idle"
      rss=$(kib VmRSS "$pid")
      modules=$(smaps_rss "/lib/modules" "$pid")
      heap_mb=$(tr '\0' '\n' < "/proc/$pid/cmdline" | sed -n 's/^-Xmx\([0-9]*\)m$/\1/p')
      heap=$((heap_mb * 1024))
      threads=$(ls "/proc/$pid/task" | wc -l)
      printf '%-4s %-9s %-7s %8s %10s %9s %9s %8s\n' "$run" "$runtime" "$role" "$(mib "$rss")" "$(mib "$modules")" \
        "$(mib "$heap")" "$(mib $((rss - modules - heap)))" "$threads"
      if [ -n "$detail" ]; then
        "$root/test-vm/bench/rss-breakdown.py" "$pid" | sed 's/^/     /'
      fi
      timeout 120 "$root/ramswap" down --mount "$m" >/dev/null 2> >(grep -v '^Picked up JAVA_TOOL_OPTIONS' >&2)
      rm -f "$m.log"
    done
  done
done
unset RAMSWAP_FULL_JDK
echo
echo "runtime: cut = the launcher's jlink runtime (cli/runtime-modules), whole = RAMSWAP_FULL_JDK=1."
echo "heap_mib is -Xmx (pre-touched and locked); modules_mib the resident part of the class image."
