#!/usr/bin/env bash
# Runs of the shared-cgroup pressure test (HostPressureIT: a 768 MiB cgroup, up --size 4G with
# default options, 16 processes mapping 1536 MiB) by hand, with the daemon watched:
# which of its threads enter the memory cgroup's reclaim, and from which system call (a tracefs
# instance of its own), its safepoints and collections (-Xlog, written by the JVM's asynchronous
# logger so that a pause never waits on a file write), its peak RSS, and on a hang the kernel
# stack of every thread. --strace also attaches strace to the daemon's memory calls: that slows
# them down, which makes the races behind a hang more likely (a stress mode).
#
# Usage: sudo test-vm/diag/shared-cgroup-trace.sh [--strace] [--runs N] [--up "MORE UP OPTIONS"]
#        [--stall-grower SECONDS]   (stops the pool's grower thread that long as the workload starts)
# Needs the built jar (mvn -B -DskipTests package) and test-vm/target/pagetest (any test-vm IT
# run builds it). Creates a memory cgroup, a mount, loop devices and a tracefs instance, each
# with a unique name, and removes them even on failure. Results go to a new /tmp/ramswap-diag.*.
# Exits 1 when a run hung or failed.
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
strace=0; runs=1; extra=(); stall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --strace) strace=1 ;;
    --runs) runs="$2"; shift ;;
    --up) read -ra extra <<< "$2"; shift ;;
    --stall-grower) stall="$2"; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 2; }
[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] || { echo "needs the cgroup v1 memory controller at /sys/fs/cgroup/memory" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs needs a positive number" >&2; exit 2; }
jar="$root/cli/target/ramswap.jar"; pagetest="$root/test-vm/target/pagetest"
[ -f "$jar" ] && [ -x "$pagetest" ] || { echo "build first: $jar and $pagetest are needed" >&2; exit 2; }
[ "$strace" = 0 ] || command -v strace >/dev/null || { echo "--strace needs strace (apt-get install -y strace)" >&2; exit 2; }
export RAMSWAP_JAR="$jar"
base=$(mktemp -d /tmp/ramswap-diag.XXXXXX)
tracefs=/sys/kernel/tracing; fusectl=/sys/fs/fuse/connections
mounted_tracefs=0; mounted_fusectl=0
m=; g=; tr=; out=; pid=; bg=(); hung=0

# Undoes one run, in the order a swap device needs: workload and helpers, FUSE connection if the
# run hung, then down (swapoff, losetup -d, unmount), then what down could not do, then the cgroup.
cleanup() {
  for p in "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [ -n "$tr" ] && [ -d "$tr" ]; then echo 0 > "$tr/events/enable"; rmdir "$tr"; fi
  if [ -n "$g" ] && [ -d "$g" ]; then
    for p in $(cat "$g/cgroup.procs" 2>/dev/null); do [ "$p" = "$pid" ] || kill -9 "$p" 2>/dev/null; done
  fi
  if [ -n "$m" ] && grep -q " $m " /proc/self/mountinfo; then
    if [ "$hung" = 1 ]; then
      dev=$(awk -v m="$m" '$5==m {print $3}' /proc/self/mountinfo | head -1)
      [ -n "$dev" ] && echo 1 > "$fusectl/${dev#*:}/abort" 2>/dev/null
    fi
    timeout 600 "$root/ramswap" down --mount "$m" >> "$base/down.txt" 2>&1
  fi
  if [ -n "$m" ]; then
    for d in /sys/block/loop*; do
      if [ -f "$d/loop/backing_file" ] && grep -q "^$m/" "$d/loop/backing_file"; then
        timeout 600 swapoff "/dev/${d##*/}" 2>/dev/null; timeout 60 losetup -d "/dev/${d##*/}" \
          || echo "warning: /dev/${d##*/} left attached to $m" >&2
      fi
    done
    grep -q " $m " /proc/self/mountinfo && { timeout 30 umount -l "$m" || echo "warning: $m left mounted" >&2; }
    [ -f "$m.log" ] && mv "$m.log" "$out/daemon.log"
    rmdir "$m" 2>/dev/null
  fi
  if [ -n "$g" ] && [ -d "$g" ]; then
    for _ in $(seq 1 50); do
      for p in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      rmdir "$g" 2>/dev/null && break; sleep 0.2
    done
    [ -d "$g" ] && echo "warning: cgroup $g left behind" >&2
  fi
  m=; g=; tr=; pid=; bg=(); hung=0
}
finish() {
  cleanup
  [ $mounted_tracefs = 1 ] && umount $tracefs
  [ $mounted_fusectl = 1 ] && umount $fusectl
}
trap finish EXIT
trap 'exit 130' INT TERM
if [ ! -d $tracefs/instances ]; then mount -t tracefs nodev $tracefs && mounted_tracefs=1; fi
if ! grep -q " $fusectl " /proc/self/mountinfo; then mount -t fusectl none $fusectl && mounted_fusectl=1; fi

procs=16; bad=0
printf '%-4s %-8s %-10s %-10s %-12s %-10s %-10s %-14s %s\n' run outcome elapsed_s young_gcs safepoints peak_rss peak_pool reserve_empty "memcg reclaim entries by daemon thread"
for run in $(seq 1 "$runs"); do
  tag=diag-$$-$run; out=$base/run$run; mkdir -p "$out"
  mkdir "/sys/fs/cgroup/memory/ramswap-pressure-$tag" || { echo "run $run: cannot create its cgroup"; bad=1; continue; }
  g=/sys/fs/cgroup/memory/ramswap-pressure-$tag
  echo $((768 << 20)) > "$g/memory.limit_in_bytes"
  [ -e "/run/ramswap-$tag" ] && { echo "run $run: /run/ramswap-$tag exists, skipped"; cleanup; bad=1; continue; }
  m=/run/ramswap-$tag
  if ! JAVA_TOOL_OPTIONS="-Xlog:async -Xlog:safepoint,gc:file=$out/jvm-%p.log" /bin/sh -c 'echo $$ > "$0" && exec "$@"' "$g/cgroup.procs" \
      "$root/ramswap" up --size 4G --mount "$m" --priority 32000 --cluster-name "$tag" --port 5731 \
      "${extra[@]}" > "$out/up.txt" 2>&1; then
    echo "run $run: up failed, see $out/up.txt"; cleanup; bad=1; continue
  fi
  pid=$(sed -n 's/^pid: //p' "$m/status")
  [[ "$pid" =~ ^[0-9]+$ ]] || { echo "run $run: no daemon pid in $m/status"; cleanup; bad=1; continue; }
  tr=$tracefs/instances/ramswap-$tag; mkdir "$tr"
  ls /proc/"$pid"/task | tr '\n' ' ' > "$tr/set_event_pid"; echo 1 > "$tr/options/event-fork"
  for e in mm_vmscan_memcg_reclaim_begin mm_vmscan_memcg_reclaim_end; do echo 1 > "$tr/events/vmscan/$e/enable"; done
  echo stacktrace > "$tr/events/vmscan/mm_vmscan_memcg_reclaim_begin/trigger"
  if [ "$strace" = 1 ]; then strace -f -tt -e trace=mmap,mprotect,munmap,brk,clone,clone3 -p "$pid" -o "$out/strace.txt" 2>/dev/null & bg+=($!); disown $!; sleep 1; fi
  log=$out/jvm-$pid.log
  gcs_before=$(grep -c "Pause Young" "$log"); sp_before=$(grep -c "Safepoint \"" "$log")
  if [ "$stall" != 0 ]; then
    # a scheduling stall of the pool's grower as the workload starts: does the daemon recover?
    for t in /proc/"$pid"/task/*; do
      if [ "$(cat "$t/comm" 2>/dev/null)" = ramswap-pool-gr ]; then
        python3 "$root/test-vm/diag/stall-thread.py" "${t##*/}" "$stall" > "$out/stall.txt" 2>&1 & bg+=($!)
        for _ in $(seq 1 50); do grep -q stopped "$out/stall.txt" && break; sleep 0.1; done
      fi
    done
  fi
  start=$SECONDS
  /bin/sh -c 'echo $$ > "$0" && exec "$@"' "$g/cgroup.procs" "$pagetest" --procs "$procs" --mib 1536 --passes 3 --seed 5 --mix 50:50:0 --quiet > "$out/workload.txt" 2>&1 &
  wp=$!; bg+=($wp); rc=
  peak_pool=0
  while [ $((SECONDS - start)) -lt 300 ]; do
    if ! kill -0 $wp 2>/dev/null; then wait $wp; rc=$?; break; fi
    p=$(timeout 1 cat "$m/stats/pool_bytes" 2>/dev/null)
    [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -gt "$peak_pool" ] && peak_pool=$p
    sleep 0.5
  done
  elapsed=$((SECONDS - start)); outcome=pass
  # read before a hang's abort, bounded: a stuck daemon does not answer
  pool=$((peak_pool >> 20)); empty=$(timeout 5 cat "$m/stats/pool_reserve_empty" 2>/dev/null || echo "?")
  if [ -z "$rc" ]; then
    outcome=HUNG; hung=1
    for t in /proc/"$pid"/task/*; do
      echo "$(cat "$t/comm" 2>/dev/null) $(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f1): $(awk '{print $2}' "$t/stack" 2>/dev/null | sed 's/+.*//' | tr '\n' '<')"
    done > "$out/hung-stacks.txt"
    dev=$(awk -v m="$m" '$5==m {print $3}' /proc/self/mountinfo | head -1)
    [ -n "$dev" ] && echo 1 > "$fusectl/${dev#*:}/abort"
    kill -9 $wp 2>/dev/null
    for _ in $(seq 1 10); do kill -0 $wp 2>/dev/null || break; sleep 1; done
  elif [ "$rc" != 0 ] || ! grep -q "^mismatches 0" "$out/workload.txt"; then
    outcome=FAIL
  fi
  hwm=$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' /proc/"$pid"/status 2>/dev/null)
  echo 0 > "$tr/tracing_on"; cat "$tr/trace" > "$out/trace.txt"
  echo '!stacktrace' > "$tr/events/vmscan/mm_vmscan_memcg_reclaim_begin/trigger"
  gcs=$(( $(grep -c "Pause Young" "$log") - gcs_before )); sps=$(( $(grep -c "Safepoint \"" "$log") - sp_before ))
  who=$(grep "memcg_reclaim_begin" "$out/trace.txt" | sed -E 's/^ *(.*)-[0-9]+ +\[[0-9]+\].*/\1/' | sort | uniq -c \
        | awk '{n=$1; $1=""; printf "%s %s, ", substr($0, 2), n}')
  printf '%-4s %-8s %-10s %-10s %-12s %-10s %-10s %-14s %s\n' "$run" "$outcome" "$elapsed" "$gcs" "$sps" "$(( ${hwm:-0} >> 10 )) MiB" "$pool" "$empty" "${who%, }"
  if [ "$outcome" = HUNG ]; then
    grep -v ": futex_do_wait<\|: do_epoll\|: ep_poll\|hrtimer_nanosleep" "$out/hung-stacks.txt" | sed 's/^/     stuck: /' | cut -c1-300
  fi
  [ "$outcome" = pass ] || bad=1
  cleanup
done
echo "details: $base"
exit $bad
