#!/usr/bin/env bash
# One run of the shared-cgroup pressure test (HostPressureIT) by hand, with the daemon watched:
# which of its threads enter the memory cgroup's reclaim, and from which system call (a tracefs
# instance of its own), its safepoints and collections (-Xlog), its peak RSS, and on a hang the
# kernel stack of every thread. --strace also attaches strace to the daemon's memory calls: that
# slows them down, which makes the races behind a hang more likely (a stress mode).
#
# Usage: sudo test-vm/diag/shared-cgroup-trace.sh [--strace] [--runs N]
# Needs the built jar (mvn -B -DskipTests package) and test-vm/target/pagetest (any test-vm IT
# run builds it). Creates a memory cgroup, a mount, loop devices and a tracefs instance, each
# with a unique name, and removes them even on failure. Results go to /tmp/ramswap-diag-PID/.
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
strace=0; runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --strace) strace=1 ;;
    --runs) runs="$2"; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 2; }
jar="$root/cli/target/ramswap.jar"; pagetest="$root/test-vm/target/pagetest"
[ -f "$jar" ] && [ -x "$pagetest" ] || { echo "build first: $jar and $pagetest are needed" >&2; exit 2; }
[ "$strace" = 0 ] || command -v strace >/dev/null || { echo "--strace needs strace (apt-get install -y strace)" >&2; exit 2; }
export RAMSWAP_JAR="$jar"
base=/tmp/ramswap-diag-$$; mkdir -p "$base"
tracefs=/sys/kernel/tracing; mounted_tracefs=0
if [ ! -d $tracefs/instances ]; then mount -t tracefs nodev $tracefs && mounted_tracefs=1; fi
fusectl=/sys/fs/fuse/connections; mounted_fusectl=0
if [ -z "$(ls -A $fusectl 2>/dev/null)" ] && ! grep -q " $fusectl " /proc/self/mountinfo; then mount -t fusectl none $fusectl && mounted_fusectl=1; fi

m=; g=; tr=; bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$tr" ] && [ -d "$tr" ] && { echo 0 > "$tr/events/enable"; rmdir "$tr"; }
  if [ -n "$m" ] && grep -q " $m " /proc/self/mountinfo; then timeout 600 "$root/ramswap" down --mount "$m" >> "$base/down.txt" 2>&1; fi
  if [ -n "$g" ] && [ -d "$g" ]; then
    for p in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do rmdir "$g" 2>/dev/null && break; sleep 0.2; done
  fi
  [ -n "$m" ] && { rm -f "$m.log"; rmdir "$m" 2>/dev/null; }
  m=; g=; tr=; bg=()
}
finish() { cleanup; [ $mounted_tracefs = 1 ] && umount $tracefs; [ $mounted_fusectl = 1 ] && umount $fusectl; }
trap finish EXIT

printf '%-4s %-8s %-10s %-10s %-12s %-10s %s\n' run outcome elapsed_s young_gcs safepoints peak_rss "memcg reclaim entries by daemon thread"
for run in $(seq 1 "$runs"); do
  tag=diag-$$-$run; out=$base/run$run; mkdir -p "$out"
  m=/run/ramswap-$tag; g=/sys/fs/cgroup/memory/ramswap-pressure-$tag
  mkdir "$g" && echo $((1024 << 20)) > "$g/memory.limit_in_bytes"
  JAVA_TOOL_OPTIONS="-Xlog:safepoint,gc:file=$out/jvm-%p.log" /bin/sh -c 'echo $$ > "$0" && exec "$@"' "$g/cgroup.procs" \
    "$root/ramswap" up --size 3G --mount "$m" --priority 32000 --cluster-name "$tag" --port 5731 \
    --pool-max 576M --pool-reserve 576M > "$out/up.txt" 2>&1 || { echo "up failed: see $out/up.txt"; cleanup; continue; }
  pid=$(sed -n 's/^pid: //p' "$m/status")
  tr=$tracefs/instances/ramswap-$tag; mkdir "$tr"
  ls /proc/"$pid"/task | tr '\n' ' ' > "$tr/set_event_pid"; echo 1 > "$tr/options/event-fork"
  for e in mm_vmscan_memcg_reclaim_begin mm_vmscan_memcg_reclaim_end; do echo 1 > "$tr/events/vmscan/$e/enable"; done
  echo stacktrace > "$tr/events/vmscan/mm_vmscan_memcg_reclaim_begin/trigger"
  if [ "$strace" = 1 ]; then strace -f -tt -e trace=mmap,mprotect,munmap,brk,clone,clone3 -p "$pid" -o "$out/strace.txt" 2>/dev/null & bg+=($!); sleep 1; fi
  gcs_before=$(grep -c "Pause Young" "$out"/jvm-"$pid".log); sp_before=$(grep -c "Safepoint \"" "$out"/jvm-"$pid".log)
  start=$SECONDS
  /bin/sh -c 'echo $$ > "$0" && exec "$@"' "$g/cgroup.procs" "$pagetest" --procs 16 --mib 2048 --passes 3 --seed 5 --mix 50:50:0 --quiet > "$out/workload.txt" 2>&1 &
  wp=$!; rc=
  for _ in $(seq 1 300); do
    if ! kill -0 $wp 2>/dev/null; then wait $wp; rc=$?; break; fi
    sleep 1
  done
  elapsed=$((SECONDS - start)); outcome=pass
  if [ -z "$rc" ]; then
    outcome=HUNG
    for t in /proc/"$pid"/task/*; do
      echo "$(cat "$t/comm") $(sed 's/.*) //' "$t/stat" | cut -d' ' -f1): $(awk '{print $2}' "$t/stack" | sed 's/+.*//' | tr '\n' '<')"
    done > "$out/hung-stacks.txt"
    dev=$(awk -v m="$m" '$5==m {print $3}' /proc/self/mountinfo | head -1)
    echo 1 > "$fusectl/${dev#*:}/abort"
    kill -9 $wp 2>/dev/null; wait $wp 2>/dev/null
  elif [ "$rc" != 0 ] || ! grep -q "^mismatches 0" "$out/workload.txt"; then
    outcome=FAIL
  fi
  hwm=$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' /proc/"$pid"/status)
  echo 0 > "$tr/tracing_on"; cat "$tr/trace" > "$out/trace.txt"
  echo '!stacktrace' > "$tr/events/vmscan/mm_vmscan_memcg_reclaim_begin/trigger"
  gcs=$(( $(grep -c "Pause Young" "$out"/jvm-"$pid".log) - gcs_before )); sps=$(( $(grep -c "Safepoint \"" "$out"/jvm-"$pid".log) - sp_before ))
  who=$(grep "memcg_reclaim_begin" "$out/trace.txt" | awk '{print $1}' | sed 's/-[0-9]*$//' | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')
  printf '%-4s %-8s %-10s %-10s %-12s %-10s %s\n' "$run" "$outcome" "$elapsed" "$gcs" "$sps" "$((hwm >> 10)) MiB" "${who%, }"
  [ "$outcome" = HUNG ] && grep -v ": futex_do_wait<\|: do_epoll\|: ep_poll\|hrtimer_nanosleep" "$out/hung-stacks.txt" | sed 's/^/     stuck: /' | cut -c1-300
  cleanup
done
echo "details: $base"
