#!/bin/bash
# Runs inside the test guest, chrooted into the host's root (read-only) with the guest's own
# /proc, /sys, /dev, /run and /tmp: ramswap up as the guest's only swap, the page workload,
# status/stats, ramswap down. Writes "key value" lines to results/result.txt and the raw outputs
# beside it; the host judges them. Every step is bounded in time.
set -uo pipefail

R=/run/ramswap-results
P=$R/payload
# shellcheck source=/dev/null
. "$R/env"
MOUNT=/run/ramswap-guest
export RAMSWAP_JAR=$P/ramswap.jar

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "[guest$GUEST $(uptime_s)] $*"; }
put() { echo "$1 $2" >> "$R/result.txt"; }
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ramswap() { timeout "$1" "$P/ramswap" "${@:2}"; }

: > "$R/result.txt"
put boot_s "$(uptime_s)"
put mem_total_kib "$(meminfo MemTotal)"
put swaps_before "$(($(wc -l < /proc/swaps) - 1))"
out0=$(vmstat pswpout)
in0=$(vmstat pswpin)

# Headroom for the swap-out path itself: the loop worker and FUSE allocate a little kernel memory
# for every write, with the same watermark as the workload's faults. With the kernel's defaults
# on a small machine (min_free_kbytes about 2.8 MiB, watermark gap 0.1%), the workload can take
# the last free page and the write that would free memory waits in reclaim for ever.
[ "${MIN_FREE_KIB:-kernel}" = kernel ] || echo "$MIN_FREE_KIB" > /proc/sys/vm/min_free_kbytes
[ "${WATERMARK_SCALE:-kernel}" = kernel ] || echo "$WATERMARK_SCALE" > /proc/sys/vm/watermark_scale_factor
put min_free_kib "$(cat /proc/sys/vm/min_free_kbytes)"
put watermark_scale "$(cat /proc/sys/vm/watermark_scale_factor)"

# From boot until the workload's sampler takes over, every 5 s: uptime, MemAvailable, MemFree,
# the load, and the newest JVM's (the daemon's, once it runs) pid, VmRSS, VmLck (KiB) and threads,
# to the host's share: what a guest that stops answering was doing.
(
    for _ in $(seq 1 240); do
        [ -e "$R/sampling" ] && break
        d=$(pgrep -n -f 'ramswap.jar')
        m=$([ -n "$d" ] && awk '$1 == "VmRSS:" { r = $2 } $1 == "VmLck:" { l = $2 } $1 == "Threads:" { t = $2 }
                               END { print r + 0, l + 0, t + 0 }' "/proc/$d/status" 2>/dev/null)
        echo "$(uptime_s) $(meminfo MemAvailable) $(meminfo MemFree) $(cut -d' ' -f1-3 /proc/loadavg) ${d:--} ${m:--}" >> "$R/early.txt"
        sleep 5
    done
) &

flags=()
[ "${NO_PROTECTIONS:-0}" = 1 ] && flags+=(--no-protections)
read -r -a more <<< "${UP_ARGS:-}" # e.g. --bind/--node/--join of a multi-guest test
flags+=("${more[@]}")
say "ramswap up --size ${SWAP_MIB}M ${flags[*]}"
t=$(uptime_s)
# the daemon logs to the host's share, so that its log survives a guest that hangs
# the daemon's collections go to the host's share (JAVA_TOOL_OPTIONS reaches the daemon's JVM)
put up_limit_s "${UP_LIMIT_S:-660}"
JAVA_TOOL_OPTIONS="-Xlog:gc:file=$R/gc-%p.log:uptime" ramswap "${UP_LIMIT_S:-660}" up --size "${SWAP_MIB}M" --mount "$MOUNT" --cluster-name "${CLUSTER:-guest-$GUEST}" --priority 32767 \
    --log "$R/daemon.log" "${flags[@]}" > "$R/up.txt" 2>&1
up_rc=$?
put up_rc "$up_rc"
put up_s "$(elapsed "$t" "$(uptime_s)")"
cat "$R/up.txt"
if [ "$up_rc" != 0 ]; then
    say "ramswap up failed ($up_rc)"
    cp /tmp/hs_err_pid*.log "$R/" 2>/dev/null
    exit 1
fi
read -r -a knobs <<< "${SETS:-}" # knob=value, e.g. local_target_bytes=0 to send every page to the lenders
for kv in "${knobs[@]}"; do
    say "ramswap set ${kv%%=*} ${kv#*=}"
    ramswap 120 set "${kv%%=*}" "${kv#*=}" --mount "$MOUNT" >> "$R/up.txt" 2>&1 || { put set_rc "$?"; say "set $kv failed"; }
done
cat /proc/swaps > "$R/swaps.txt"
put swap_areas "$(($(wc -l < /proc/swaps) - 1))"
pid=$(sed -n 's/^pid: //p' "$MOUNT/status")
put daemon_pid "$pid"
put daemon_rss_after_up_kib "$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")"
cp "/proc/$pid/smaps" "$R/daemon-smaps-up.txt" 2>/dev/null # where the daemon's memory goes

touch "$R/sampling"
# Sampler, every 5 s: uptime, MemAvailable, the daemon's VmRSS VmSwap VmLck (KiB), and the store's
# stored_pages pool_bytes pers_zpages pers_zbytes zero_filled_pages remote_pers_pages;
# written to the host's share, not to guest RAM.
(
    for _ in $(seq 1 400); do
        [ -e "$R/sampling" ] || break
        m=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "VmSwap:" { s = $2 } $1 == "VmLck:" { l = $2 }
                 END { print r + 0, s + 0, l + 0 }' "/proc/$pid/status" 2>/dev/null)
        c=$(cd "$MOUNT/stats" 2>/dev/null && cat stored_pages pool_bytes pers_zpages pers_zbytes zero_filled_pages remote_pers_pages 2>/dev/null | tr '\n' ' ')
        echo "$(uptime_s) $(meminfo MemAvailable) ${m:-- - -} ${c:-- - - - -}" >> "$R/samples.txt"
        sleep 5
    done
) &
sampler=$!

# The workload's limit comes from the host (its measured rate); without one (--timeout given), or
# when less is left, it gets what is left of the deadline, less a reserve for status, stats and down.
left=$(awk -v d="$DEADLINE_S" -v u="$(uptime_s)" -v a="${AFTER_LIMIT_S:-150}" 'BEGIN { printf "%d", d - u - a }')
[ "$left" -lt 60 ] && left=60
[ "${WORK_LIMIT_S:-0}" -gt 0 ] && [ "$WORK_LIMIT_S" -lt "$left" ] && left=$WORK_LIMIT_S
put work_timeout_s "$left"
say "pagetest --procs $PROCS --mib $WORK_MIB --passes $PASSES --mix $MIX --timeout $left"
t=$(uptime_s)
"$P/pagetest" --procs "$PROCS" --mib "$WORK_MIB" --passes "$PASSES" --seed "$SEED" --mix "$MIX" \
    --timeout "$left" > "$R/pagetest.txt" 2> >(tee "$R/pagetest.err" >&2)
put work_rc "$?"
put work_s "$(elapsed "$t" "$(uptime_s)")"
put pswpout "$(($(vmstat pswpout) - out0))"
put pswpin "$(($(vmstat pswpin) - in0))"
rm -f "$R/sampling"

if kill -0 "$pid" 2>/dev/null; then
    put daemon_alive 1
    status=/proc/$pid/status
    cp "/proc/$pid/smaps" "$R/daemon-smaps-end.txt" 2>/dev/null
    for k in VmHWM VmRSS RssAnon RssFile VmSwap VmLck; do
        put "daemon_$(echo "$k" | tr 'A-Z' 'a-z')_kib" "$(awk -v k="$k:" '$1 == k { print $2 }' "$status")"
    done
else
    put daemon_alive 0
fi
say "status, stats"
t=$(uptime_s)
ramswap 120 status --mount "$MOUNT" > "$R/status.txt" 2>&1
put status_rc "$?"
ramswap 120 stats --mount "$MOUNT" > "$R/stats.txt" 2>&1
put stats_rc "$?"
put status_stats_s "$(elapsed "$t" "$(uptime_s)")"
cat "$R/status.txt"

say "ramswap down"
t=$(uptime_s)
ramswap 300 down --mount "$MOUNT" > "$R/down.txt" 2>&1
put down_rc "$?"
put down_s "$(elapsed "$t" "$(uptime_s)")"
cat "$R/down.txt"
put swaps_after "$(($(wc -l < /proc/swaps) - 1))"
cp /tmp/hs_err_pid*.log "$R/" 2>/dev/null # a JVM that crashed says why here
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
put end_s "$(uptime_s)"
dmesg > "$R/dmesg.txt" 2>/dev/null
say "done"
exit 0
