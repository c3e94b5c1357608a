#!/usr/bin/env bash
# Runs the same memory workload (pagetest) once with zram (lz4) as swap and
# once with ramswap as swap, each inside a memory cgroup v1 whose limit forces
# the pages out, and prints one table comparing the two.
#
# Needs root, cgroup v1 memory controller, zram-control, gcc.
# Creates only uniquely named objects and removes them on any exit:
#   cgroups   /sys/fs/cgroup/memory/ramswap-bench-<pid>-{zram,ramswap}
#   zram      one device from /sys/class/zram-control/hot_add
#   ramswap   /run/ramswap-bench-<pid>, cluster bench-<pid> (torn down by `ramswap down`)
#   temp dir  /tmp/ramswap-bench.XXXXXX
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
PAGETEST_SRC="$REPO_ROOT/test-vm/src/main/c/pagetest.c"
COMMAND_LINE="$(printf '%q ' "$0" "$@")"
COMMAND_LINE="${COMMAND_LINE% }"

# ------------------------------------------------------------- options ---
RAM_MIB=256
MAP_MIB=1024
PROCS=16
PASSES=2
SEED=1
MIX=34:33:33
WORK_TIMEOUT_S=1800
BACKENDS=zram,ramswap
RAMSWAP_CLI="$REPO_ROOT/ramswap"
SAMPLE_INTERVAL_S=0.5

usage() {
    cat <<EOF
usage: $0 [--quick] [--ram MIB] [--mib MIB] [--procs N] [--passes P] [--seed S]
          [--mix Z:T:R] [--timeout SEC] [--backends zram,ramswap] [--ramswap-cli PATH]
  --ram MIB        memory limit of the workload's cgroup (default $RAM_MIB)
  --mib MIB        total anonymous memory mapped by the workload (default $MAP_MIB)
  --procs N        workload processes (default $PROCS)
  --passes P       verification passes over all pages (default $PASSES)
  --seed S         workload seed (default $SEED)
  --mix Z:T:R      percent zero / text / random pages (default $MIX)
  --quick          --ram 64 --mib 256 --procs 4
  --timeout SEC    limit per workload run (default $WORK_TIMEOUT_S)
  --backends LIST  which sides to run, comma separated (default $BACKENDS)
  --ramswap-cli P  ramswap command (default: <repo>/ramswap)
Exit: 0 every workload that ran verified all pages; 1 otherwise; 64 usage.
EOF
}

need_arg() { [[ $# -ge 2 && -n "$2" ]] || { echo "missing value for $1" >&2; usage >&2; exit 64; }; }
need_uint() { [[ "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || { echo "$1 wants a positive integer, got '$2'" >&2; exit 64; }; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) RAM_MIB=64; MAP_MIB=256; PROCS=4; shift ;;
        --ram) need_arg "$@"; need_uint "$1" "$2"; RAM_MIB=$2; shift 2 ;;
        --mib) need_arg "$@"; need_uint "$1" "$2"; MAP_MIB=$2; shift 2 ;;
        --procs) need_arg "$@"; need_uint "$1" "$2"; PROCS=$2; shift 2 ;;
        --passes) need_arg "$@"; need_uint "$1" "$2"; PASSES=$2; shift 2 ;;
        --seed) need_arg "$@"; [[ "$2" =~ ^[0-9]+$ ]] || { echo "bad --seed" >&2; exit 64; }; SEED=$2; shift 2 ;;
        --mix) need_arg "$@"; MIX=$2; shift 2 ;;
        --timeout) need_arg "$@"; need_uint "$1" "$2"; WORK_TIMEOUT_S=$2; shift 2 ;;
        --backends) need_arg "$@"; BACKENDS=$2; shift 2 ;;
        --ramswap-cli) need_arg "$@"; RAMSWAP_CLI=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
    esac
done

RUN_ZRAM=0; RUN_RAMSWAP=0
IFS=',' read -r -a _backends <<<"$BACKENDS"
for b in "${_backends[@]}"; do
    case "$b" in
        zram) RUN_ZRAM=1 ;;
        ramswap) RUN_RAMSWAP=1 ;;
        *) echo "unknown backend: $b" >&2; exit 64 ;;
    esac
done

SWAP_MIB=$((2 * MAP_MIB))
CG_ROOT=/sys/fs/cgroup/memory
TAG="ramswap-bench-$$"
MOUNT_DIR="/run/$TAG"
CLUSTER_NAME="bench-$$"
PAGE=4096

[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
[[ -w "$CG_ROOT/cgroup.procs" ]] || { echo "no cgroup v1 memory controller at $CG_ROOT" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc not found" >&2; exit 1; }
if [[ $RUN_ZRAM -eq 1 && ! -w /sys/class/zram-control/hot_add ]]; then
    echo "no /sys/class/zram-control (zram module)" >&2; exit 1
fi

# ------------------------------------------------------------ teardown ---
TMP_DIR=""
CGROUPS=()          # cgroup dirs created here
ZRAM_DEV=""         # device number from hot_add
ZRAM_SWAPON=0
RAMSWAP_UP=0
MOUNT_CREATED=0
SAMPLER_PID=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_sampler() {
    if [[ -n "$SAMPLER_PID" ]]; then
        [[ -n "$TMP_DIR" ]] && touch "$TMP_DIR/stop" 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$SAMPLER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}

# Kills what is still inside a cgroup created here, then removes the cgroup.
remove_cgroup() {
    local cg=$1 i pid
    [[ -d "$cg" ]] || return 0
    for ((i = 0; i < 100; i++)); do
        local procs
        procs=$(cat "$cg/cgroup.procs" 2>/dev/null || true)
        [[ -z "$procs" ]] && break
        for pid in $procs; do kill -KILL "$pid" 2>/dev/null || true; done
        sleep 0.1
    done
    for ((i = 0; i < 50; i++)); do
        rmdir "$cg" 2>/dev/null && return 0
        sleep 0.1
    done
    log "warning: could not remove cgroup $cg"
}

zram_teardown() {
    [[ -n "$ZRAM_DEV" ]] || return 0
    local dev="/dev/zram$ZRAM_DEV" sys="/sys/block/zram$ZRAM_DEV"
    if [[ $ZRAM_SWAPON -eq 1 ]] || grep -q "^$dev[[:space:]]" /proc/swaps; then
        timeout 600 swapoff "$dev" || log "warning: swapoff $dev failed"
        ZRAM_SWAPON=0
    fi
    if ! grep -q "^$dev[[:space:]]" /proc/swaps; then
        [[ -e "$sys/reset" ]] && { echo 1 >"$sys/reset" || log "warning: reset $dev failed"; }
        echo "$ZRAM_DEV" >/sys/class/zram-control/hot_remove || log "warning: hot_remove zram$ZRAM_DEV failed"
    else
        log "warning: $dev still in /proc/swaps, left in place"
    fi
    ZRAM_DEV=""
}

ramswap_teardown() {
    if [[ $RAMSWAP_UP -eq 1 ]]; then
        (cd "$REPO_ROOT" && timeout 900 "$RAMSWAP_CLI" down --mount "$MOUNT_DIR") >&2 ||
            log "warning: ramswap down --mount $MOUNT_DIR failed (its log: $MOUNT_DIR.log)"
        RAMSWAP_UP=0
        # the daemon's log is ours too; keep it only when down failed
        mountpoint -q "$MOUNT_DIR" 2>/dev/null || rm -f "$MOUNT_DIR.log"
    fi
    if [[ $MOUNT_CREATED -eq 1 ]]; then
        if [[ ! -d "$MOUNT_DIR" ]]; then
            :
        elif ! mountpoint -q "$MOUNT_DIR" 2>/dev/null; then
            rmdir "$MOUNT_DIR" 2>/dev/null || log "warning: could not remove $MOUNT_DIR"
        else
            log "warning: $MOUNT_DIR is still mounted"
        fi
        MOUNT_CREATED=0
    fi
}

cleanup() {
    local rc=$?
    set +e
    stop_sampler
    local cg
    for cg in "${CGROUPS[@]}"; do remove_cgroup "$cg"; done
    CGROUPS=()
    zram_teardown
    ramswap_teardown
    [[ -n "$TMP_DIR" && -d "$TMP_DIR" ]] && rm -rf "$TMP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- helpers ---
TMP_DIR=$(mktemp -d /tmp/ramswap-bench.XXXXXX)
PAGETEST="$TMP_DIR/pagetest"
gcc -std=c11 -O2 -Wall -Wextra -o "$PAGETEST" "$PAGETEST_SRC"

if [[ -r /sys/module/zswap/parameters/enabled && $(cat /sys/module/zswap/parameters/enabled) == Y ]]; then
    log "note: zswap is enabled; it catches pages before either swap device and skews the comparison"
fi
other_swaps=$(awk 'NR > 1 {print $1}' /proc/swaps | tr '\n' ' ')
[[ -n "$other_swaps" ]] && log "note: other swap areas are active ($other_swaps); ours get priority 32767"

# Swap traffic counters: pswpout pswpin swpout_zero swpin_zero (the last two exist
# on kernels that keep zero-filled pages out of the swap device, 6.12 and later).
vm_snap() {
    awk '{v[$1] = $2} END {printf "%d %d %d %d\n", v["pswpout"], v["pswpin"], v["swpout_zero"], v["swpin_zero"]}' /proc/vmstat
}
# Describes the traffic between two vm_snap outputs.
swap_traffic() {
    local a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    printf 'kernel swap-out %s MiB, swap-in %s MiB (pswpout/pswpin); zero pages kept out of the device: out %s MiB, in %s MiB (swpout_zero/swpin_zero)' \
        "$(mib $(((b[0] - a[0]) * PAGE)))" "$(mib $(((b[1] - a[1]) * PAGE)))" \
        "$(mib $(((b[2] - a[2]) * PAGE)))" "$(mib $(((b[3] - a[3]) * PAGE)))"
}
kv_get() { awk -v k="$2" '$1 == k {print $2; exit}' "$1" 2>/dev/null || true; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
fmt() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }

# Creates cgroup $TAG-$1 and sets CG_NEW to its path.
CG_NEW=""
make_cgroup() {
    local cg="$CG_ROOT/$TAG-$1"
    mkdir "$cg"
    CGROUPS+=("$cg")
    CG_NEW=$cg
    echo $((RAM_MIB * 1024 * 1024)) >"$cg/memory.limit_in_bytes"
    if [[ -w "$cg/memory.swappiness" ]]; then
        echo 100 >"$cg/memory.swappiness" 2>/dev/null || log "note: memory.swappiness not writable"
    fi
}

# Runs pagetest inside cgroup $1; stdout to $2. Returns pagetest's exit code.
run_workload() {
    local cg=$1 out=$2 rc=0 wp
    # In the background so that INT/TERM reach the trap at once (bash defers traps
    # while a foreground command runs); the trap then empties the cgroup.
    # shellcheck disable=SC2016
    timeout --kill-after=30 $((WORK_TIMEOUT_S + 60)) \
        sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
        "$PAGETEST" --procs "$PROCS" --mib "$MAP_MIB" --passes "$PASSES" --seed "$SEED" \
        --mix "$MIX" --timeout "$WORK_TIMEOUT_S" >"$out" &
    wp=$!
    wait "$wp" || rc=$?
    return "$rc"
}

# CPU seconds (utime + stime) of a process.
proc_cpu_s() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo ""; return; }
    rest=${stat##*) }
    # after "comm) " the first word is field 3 (state), so utime (14) and stime (15) are $12 and $13
    awk -v tck="$CLK_TCK" '{printf "%.2f", ($12 + $13) / tck}' <<<"$rest"
}
CLK_TCK=$(getconf CLK_TCK)

# ------------------------------------------------------------- results ---
# Per backend: R_<field>[backend]
declare -A R_STATUS R_ELAPSED R_CPU R_RSS_MIB R_COMPR_MIB R_SWAPPED_MIB R_MISM R_DETAIL
FAILED=0

# -------------------------------------------------------------- zram -----
zram_sampler() {
    local stat=$1 out=$2 max_iter=$3 i
    local o=0 c=0 u=0 s=0
    for ((i = 0; i < max_iter; i++)); do
        [[ -e "$TMP_DIR/stop" ]] && break
        read -r a b t _ _ sp _ <"$stat" || break
        ((a > o)) && o=$a
        ((b > c)) && c=$b
        ((t > u)) && u=$t
        ((sp > s)) && s=$sp
        printf 'orig %s\ncompr %s\nused %s\nsame %s\n' "$o" "$c" "$u" "$s" >"$out.tmp" && mv "$out.tmp" "$out"
        sleep "$SAMPLE_INTERVAL_S"
    done
}

run_zram() {
    log "zram: setting up"
    ZRAM_DEV=$(cat /sys/class/zram-control/hot_add)
    local dev="/dev/zram$ZRAM_DEV" sys="/sys/block/zram$ZRAM_DEV" i
    for ((i = 0; i < 50; i++)); do
        [[ -b "$dev" ]] && break
        sleep 0.1
    done
    [[ -b "$dev" ]] || { log "zram: $dev did not appear"; return 1; }
    echo lz4 >"$sys/comp_algorithm"
    echo "${SWAP_MIB}M" >"$sys/disksize"
    mkswap "$dev" >/dev/null
    swapon -p 32767 "$dev"
    ZRAM_SWAPON=1
    log "zram: zram$ZRAM_DEV lz4 ${SWAP_MIB} MiB, swap priority 32767"

    local cg out="$TMP_DIR/zram.out" rc=0
    make_cgroup zram; cg=$CG_NEW
    rm -f "$TMP_DIR/stop"
    zram_sampler "$sys/mm_stat" "$TMP_DIR/zram.max" $((WORK_TIMEOUT_S * 2 + 200)) &
    SAMPLER_PID=$!
    local vm0 vm1
    vm0=$(vm_snap)
    log "zram: workload in $cg (limit ${RAM_MIB} MiB)"
    run_workload "$cg" "$out" || rc=$?
    vm1=$(vm_snap)
    local mm
    read -r -a mm <"$sys/mm_stat"
    stop_sampler
    remove_cgroup "$cg"; CGROUPS=("${CGROUPS[@]/$cg/}")

    local o c u s used_max
    o=$(kv_get "$TMP_DIR/zram.max" orig); c=$(kv_get "$TMP_DIR/zram.max" compr)
    u=$(kv_get "$TMP_DIR/zram.max" used); s=$(kv_get "$TMP_DIR/zram.max" same)
    o=${o:-0}; c=${c:-0}; u=${u:-0}; s=${s:-0}
    ((mm[0] > o)) && o=${mm[0]}
    ((mm[1] > c)) && c=${mm[1]}
    used_max=${mm[4]}
    R_ELAPSED[zram]=$(kv_get "$out" elapsed_s)
    R_MISM[zram]=$(kv_get "$out" mismatches)
    R_CPU[zram]="n/a"
    R_RSS_MIB[zram]=$(mib "$used_max")
    R_COMPR_MIB[zram]=$(mib "$c")
    R_SWAPPED_MIB[zram]=$(mib "$o")
    R_STATUS[zram]="exit $rc"
    R_DETAIL[zram]="zram$ZRAM_DEV: peak orig_data_size $(mib "$o") MiB, compr_data_size $(mib "$c") MiB, mem_used_max $(mib "$used_max") MiB, same_pages max $s; $(swap_traffic "$vm0" "$vm1"); workload majflt $(kv_get "$out" majflt), user $(kv_get "$out" user_s) s, sys $(kv_get "$out" sys_s) s, fill $(kv_get "$out" fill_s) s, verify $(kv_get "$out" verify_s) s; killed_children $(kv_get "$out" killed_children)"
    [[ $rc -eq 0 ]] || FAILED=1
    log "zram: workload exit $rc, tearing down"
    zram_teardown
}

# ----------------------------------------------------------- ramswap -----
RAMSWAP_STATS_DIR=""

# Prints "name value" lines of the daemon's counters.
ramswap_stats() {
    if [[ -n "$RAMSWAP_STATS_DIR" ]]; then
        local n
        for n in pers_zpages pers_zbytes zero_filled_pages remote_pers_pages; do
            [[ -r "$RAMSWAP_STATS_DIR/$n" ]] && printf '%s %s\n' "$n" "$(cat "$RAMSWAP_STATS_DIR/$n")"
        done
    else
        (cd "$REPO_ROOT" && timeout 20 "$RAMSWAP_CLI" stats --mount "$MOUNT_DIR") 2>/dev/null
    fi
}

ramswap_sampler() {
    local out=$1 max_iter=$2 i
    local zp=0 zb=0 st=0
    for ((i = 0; i < max_iter; i++)); do
        [[ -e "$TMP_DIR/stop" ]] && break
        local s a b z r
        s=$(ramswap_stats || true)
        a=$(awk '$1 == "pers_zpages" {print $2+0}' <<<"$s"); a=${a:-0}
        b=$(awk '$1 == "pers_zbytes" {print $2+0}' <<<"$s"); b=${b:-0}
        z=$(awk '$1 == "zero_filled_pages" {print $2+0}' <<<"$s"); z=${z:-0}
        r=$(awk '$1 == "remote_pers_pages" {print $2+0}' <<<"$s"); r=${r:-0}
        ((a > zp)) && zp=$a
        ((b > zb)) && zb=$b
        ((a + z + r > st)) && st=$((a + z + r))
        printf 'zpages %s\nzbytes %s\nstored %s\n' "$zp" "$zb" "$st" >"$out.tmp" && mv "$out.tmp" "$out"
        sleep "$SAMPLE_INTERVAL_S"
    done
}

run_ramswap() {
    if [[ ! -x "$RAMSWAP_CLI" ]]; then
        log "ramswap: $RAMSWAP_CLI not available"
        R_STATUS[ramswap]="not available"
        return 0
    fi
    log "ramswap: up (${SWAP_MIB} MiB, mount $MOUNT_DIR)"
    if [[ ! -e "$MOUNT_DIR" ]]; then
        mkdir -p "$MOUNT_DIR"
        MOUNT_CREATED=1
    fi
    RAMSWAP_UP=1
    if ! (cd "$REPO_ROOT" && timeout 300 "$RAMSWAP_CLI" up --size "${SWAP_MIB}M" --mount "$MOUNT_DIR" \
            --priority 32767 --cluster-name "$CLUSTER_NAME") >&2; then
        R_STATUS[ramswap]="up failed"
        FAILED=1
        ramswap_teardown
        return 0
    fi
    local pid
    # the mount's status file has "pid: N" (what `ramswap status` summarises)
    pid=$(timeout 10 awk -F': *' '$1 == "pid" {print $2; exit}' "$MOUNT_DIR/status") || true
    if [[ ! "$pid" =~ ^[0-9]+$ ]] || [[ ! -d "/proc/$pid" ]]; then
        log "ramswap: no daemon pid in $MOUNT_DIR/status (got '${pid:-}')"
        pid=""
    fi
    # Counters may also be plain files in the mount; reading them avoids a CLI start per sample.
    local f
    f=$(timeout 10 find "$MOUNT_DIR" -maxdepth 3 -name pers_zpages -type f 2>/dev/null | head -n 1) || true
    [[ -n "$f" ]] && RAMSWAP_STATS_DIR=$(dirname "$f")

    local cg out="$TMP_DIR/ramswap.out" rc=0 cpu0="" cpu1="" hwm_kb=""
    make_cgroup ramswap; cg=$CG_NEW
    rm -f "$TMP_DIR/stop"
    ramswap_sampler "$TMP_DIR/ramswap.max" $((WORK_TIMEOUT_S * 2 + 200)) &
    SAMPLER_PID=$!
    [[ -n "$pid" ]] && cpu0=$(proc_cpu_s "$pid")
    local vm0 vm1
    vm0=$(vm_snap)
    log "ramswap: workload in $cg (limit ${RAM_MIB} MiB), daemon pid ${pid:-?}"
    run_workload "$cg" "$out" || rc=$?
    vm1=$(vm_snap)
    if [[ -n "$pid" ]]; then
        cpu1=$(proc_cpu_s "$pid")
        hwm_kb=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    fi
    # One last sample after the workload, before the pages are discarded.
    local last
    last=$(ramswap_stats || true)
    stop_sampler
    remove_cgroup "$cg"; CGROUPS=("${CGROUPS[@]/$cg/}")

    local zp zb st
    zp=$(kv_get "$TMP_DIR/ramswap.max" zpages); zp=${zp:-0}
    zb=$(kv_get "$TMP_DIR/ramswap.max" zbytes); zb=${zb:-0}
    st=$(kv_get "$TMP_DIR/ramswap.max" stored); st=${st:-0}
    local la lb lz
    la=$(awk '$1 == "pers_zpages" {print $2+0}' <<<"$last"); la=${la:-0}
    lb=$(awk '$1 == "pers_zbytes" {print $2+0}' <<<"$last"); lb=${lb:-0}
    lz=$(awk '$1 == "zero_filled_pages" {print $2+0}' <<<"$last"); lz=${lz:-0}
    ((la > zp)) && zp=$la
    ((lb > zb)) && zb=$lb
    ((la + lz > st)) && st=$((la + lz))

    R_ELAPSED[ramswap]=$(kv_get "$out" elapsed_s)
    R_MISM[ramswap]=$(kv_get "$out" mismatches)
    if [[ -n "$cpu0" && -n "$cpu1" ]]; then
        R_CPU[ramswap]=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')
    else
        R_CPU[ramswap]="?"
    fi
    if [[ -n "$hwm_kb" ]]; then R_RSS_MIB[ramswap]=$(awk -v k="$hwm_kb" 'BEGIN {printf "%.1f", k / 1024}'); else R_RSS_MIB[ramswap]="?"; fi
    R_COMPR_MIB[ramswap]=$(mib "$zb")
    R_SWAPPED_MIB[ramswap]=$(mib $((st * PAGE)))
    R_STATUS[ramswap]="exit $rc"
    local via=${RAMSWAP_STATS_DIR:-"ramswap stats"}
    R_DETAIL[ramswap]="ramswap pid ${pid:-?}: peak pers_zpages $zp, pers_zbytes $(mib "$zb") MiB, stored pages (compressed + zero-filled + remote) $st; counters via $via; $(swap_traffic "$vm0" "$vm1"); workload majflt $(kv_get "$out" majflt), user $(kv_get "$out" user_s) s, sys $(kv_get "$out" sys_s) s, fill $(kv_get "$out" fill_s) s, verify $(kv_get "$out" verify_s) s; killed_children $(kv_get "$out" killed_children)"
    [[ $rc -eq 0 ]] || FAILED=1
    log "ramswap: workload exit $rc, down"
    ramswap_teardown
}

# ---------------------------------------------------------------- main ---
log "workload: $PROCS procs, $MAP_MIB MiB mapped, $PASSES passes, seed $SEED, mix $MIX; cgroup limit $RAM_MIB MiB; swap $SWAP_MIB MiB"
# Plain if, not &&: errexit must stay in force inside the functions.
if [[ $RUN_ZRAM -eq 1 ]]; then run_zram; fi
if [[ $RUN_RAMSWAP -eq 1 ]]; then run_ramswap; fi

# --------------------------------------------------------------- table ---
echo
echo "command: $COMMAND_LINE"
echo "workload: pagetest --procs $PROCS --mib $MAP_MIB --passes $PASSES --seed $SEED --mix $MIX in a cgroup limited to $RAM_MIB MiB; swap size $SWAP_MIB MiB"
echo
fmt_row='%-8s %9s %9s %13s %16s %14s %11s %10s  %s\n'
# shellcheck disable=SC2059
printf "$fmt_row" backend "elapsed_s" "vs_zram" "daemon_cpu_s" "daemon_rss_mib" "compr_mib" "swapped_mib" mismatches status
zram_el=${R_ELAPSED[zram]:-}
for b in zram ramswap; do
    if [[ $b == zram && $RUN_ZRAM -eq 0 ]] || [[ $b == ramswap && $RUN_RAMSWAP -eq 0 ]]; then continue; fi
    st=${R_STATUS[$b]:-"not run"}
    el=${R_ELAPSED[$b]:-}
    if [[ -z "$el" ]]; then
        # shellcheck disable=SC2059
        printf "$fmt_row" "$b" - - - - - - - "$b: $st"
        continue
    fi
    ratio="-"
    [[ -n "$zram_el" ]] && ratio=$(awk -v a="$el" -v z="$zram_el" 'BEGIN {if (z > 0) printf "%.2fx", a / z; else print "-"}')
    rss_label=${R_RSS_MIB[$b]}
    # shellcheck disable=SC2059
    printf "$fmt_row" "$b" "$(fmt "$el")" "$ratio" "${R_CPU[$b]}" "$rss_label" \
        "${R_COMPR_MIB[$b]}" "${R_SWAPPED_MIB[$b]}" "${R_MISM[$b]:-?}" "$st"
done
[[ $RUN_ZRAM -eq 1 ]] && echo "(zram: daemon_cpu_s n/a, compression runs in the kernel and shows in the workload's sys time; daemon_rss_mib is mem_used_max)"
echo
for b in zram ramswap; do
    if [[ -n "${R_DETAIL[$b]:-}" ]]; then echo "$b: ${R_DETAIL[$b]}"; fi
done
echo

# -------------------------------------------------------------- targets ---
echo "target: ramswap elapsed <= 1.5x zram; daemon RSS < 1.2 x compressed + 250 MiB"
rs_el=${R_ELAPSED[ramswap]:-}
if [[ -n "$rs_el" && -n "$zram_el" ]]; then
    verdict=$(awk -v a="$rs_el" -v z="$zram_el" 'BEGIN {print (a <= 1.5 * z) ? "PASS" : "MISS"}')
    echo "  elapsed: ramswap $(fmt "$rs_el") s vs limit $(awk -v z="$zram_el" 'BEGIN {printf "%.2f", 1.5 * z}') s (1.5 x zram $(fmt "$zram_el") s): $verdict"
else
    echo "  elapsed: n/a (needs both sides)"
fi
rs_rss=${R_RSS_MIB[ramswap]:-}
if [[ -n "$rs_el" && "$rs_rss" =~ ^[0-9.]+$ ]]; then
    limit=$(awk -v c="${R_COMPR_MIB[ramswap]}" 'BEGIN {printf "%.1f", 1.2 * c + 250}')
    verdict=$(awk -v r="$rs_rss" -v l="$limit" 'BEGIN {print (r < l) ? "PASS" : "MISS"}')
    echo "  rss: ramswap peak RSS $rs_rss MiB vs limit $limit MiB (1.2 x ${R_COMPR_MIB[ramswap]} + 250): $verdict"
else
    echo "  rss: n/a (ramswap did not run)"
fi

exit "$FAILED"
