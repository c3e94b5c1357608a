#!/usr/bin/env bash
# Where the time of a lone node's `ramswap up` goes: a node alone that lends nothing (--lend 0, no
# --join), started and stopped --runs times, one row per start: up's wall time, then the daemon's
# own steps from its log (JVM start to "starting", the cluster member, the warm-up through the swap
# file, swapon), the CPU time the daemon and its repairer thread had used when up returned, and the
# lines Hazelcast logged meanwhile. CPU time says more than wall time on a machine that is busy.
#
#   sudo flock /tmp/ramswap-swaptest.lock test-vm/bench/lone-up.sh [--runs N] [--size SIZE] [--jar JAR]
#
# --jar runs another build (RAMSWAP_JAR), e.g. a copy of an older cli/target/ramswap.jar to compare.
# Each start has its own cluster name and mount (/run/ramswap-loneup-<pid>-<run>) and a port from
# 28000-28999 with nothing on it; its swap area has priority 0, below any other test's, and is
# taken down before the next start. Every daemon started here is stopped at the end, even on failure.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
runs=3
size=1G
jar="$root/cli/target/ramswap.jar"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --jar) jar="$(readlink -f "$2")"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "lone-up: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "lone-up: needs root (ramswap up)" >&2; exit 4; }
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 20 ] || { echo "lone-up: --runs takes 1..20" >&2; exit 2; }
[ -f "$jar" ] || { echo "lone-up: no jar at $jar (build: mvn -B -q -DskipTests -pl cli -am package)" >&2; exit 2; }
export RAMSWAP_JAR="$jar"

tag="loneup-$$"
mount=""
cleanup() {
  if [ -n "$mount" ] && grep -q " $mount " /proc/self/mountinfo; then
    timeout 180 "$root/ramswap" down --mount "$mount" >/dev/null 2>&1 \
      || timeout 60 "$root/ramswap" down --abort --mount "$mount" >/dev/null 2>&1 || true
  fi
  rm -f /run/ramswap-"$tag"-*.log
  rmdir /run/ramswap-"$tag"-* 2>/dev/null || true
}
trap cleanup EXIT

# shellcheck source=ports.sh
source "$root/test-vm/bench/ports.sh"
# seconds from the first log line matching $2 to the first matching $3 in log $1 (ISO timestamps)
between() {
  awk -v a="$2" -v b="$3" '
    function secs(ts,  d, t) { split(ts, d, "T"); split(d[2], t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
    $0 ~ a && !ta { ta = secs($1) } $0 ~ b && !tb { tb = secs($1) }
    END { if (ta && tb) printf "%.1f", tb - ta; else printf "-" }' "$1"
}

hz=$(getconf CLK_TCK)
cpu() { awk -v hz="$hz" '{ s = substr($0, index($0, ") ") + 2); split(s, f, " "); printf "%.2f", (f[12] + f[13]) / hz }' "$1"; }
printf '%-4s %8s %8s %9s %9s %9s %8s %12s %9s\n' run up_s jvm_s member_s warmup_s swapon_s cpu_s repairer_cpu_s hz_lines
for (( r=1; r<=runs; r++ )); do
  mount=/run/ramswap-$tag-$r
  log=$mount.log
  port=$(free_port) || exit 1
  t0=$(date +%s.%N)
  timeout 900 "$root/ramswap" up --size "$size" --priority 0 --mount "$mount" --cluster-name "$tag-$r" --port "$port" >/dev/null
  t1=$(date +%s.%N)
  pid=$(sed -n 's/^pid: //p' "$mount/status")
  total=$(cpu "/proc/$pid/stat")
  repairer=-
  for t in /proc/"$pid"/task/*; do # a thread's comm keeps 15 characters of its name
    if [ "$(cat "$t/comm" 2>/dev/null)" = ramswap-repaire ]; then repairer=$(cpu "$t/stat"); fi
  done
  sleep 2 # what the node logs right after it is live counts too
  started=$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%S.%NZ)
  jvm=$(awk -v s="$started" -v t0="$t0" 'index($0, "ramswap: starting:") {
          split($1, d, "T"); split(d[2], t, ":"); split(s, e, "T"); split(e[2], u, ":");
          printf "%.1f", (t[1] * 3600 + t[2] * 60 + t[3]) - (u[1] * 3600 + u[2] * 60 + u[3]); exit }' "$log")
  member=$(between "$log" "ramswap: starting:" "ramswap: cluster:")
  warmup=$(between "$log" "ramswap: cluster:" "ramswap: warmed up")
  swapon=$(between "$log" "ramswap: warmed up" "ramswap: live:")
  hz_lines=$(grep -c '^[A-Z]*: \[' "$log" || true)
  printf '%-4s %8.1f %8s %9s %9s %9s %8s %12s %9s\n' "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$jvm" "$member" \
    "$warmup" "$swapon" "$total" "$repairer" "$hz_lines"
  grep -m1 '^[A-Z]*: \[' "$log" | sed 's/^/     first Hazelcast line: /' || true
  timeout 180 "$root/ramswap" down --mount "$mount" >/dev/null
  rm -f "$log"
done
echo "(up_s: up's wall time; jvm_s: up's start to the daemon's 'starting' line; member_s: to 'cluster:'; warmup_s: to 'warmed up';"
echo " swapon_s: to 'live'; cpu_s, repairer_cpu_s: CPU time of the daemon and of its repairer thread when up returned;"
echo " hz_lines: Hazelcast's WARNING/SEVERE lines in the daemon's log until 2 s after up returned)"
