#!/usr/bin/env bash
# Runs the same memory workload (pagetest) with zram (lz4) as swap and with
# ramswap as swap in several set-ups, each inside a memory cgroup v1 whose limit
# forces the pages out, and prints one table comparing them. Rows (--backends):
#   zram     zram, lz4
#   ramswap  one ramswap daemon, every page in its local pool (one FUSE thread)
#   remote   all remote, one lender: a lender daemon (node 1, --no-swap --lend),
#            the swapping daemon joins it with --node 0 --target 1;
#            local_target_bytes 0, so every page goes remote once written
#   half     the same with local_target_bytes = half of the ramswap row's peak
#            pers_zbytes (or --local-target), so about half the pages go remote
#   pool     one daemon with --target 1 and no node 1 anywhere: nothing can go
#            remote, but it serves with the serving threads of a borrower
# With --before-cli PATH, each ramswap row also runs with that ramswap command
# (another build, say the previous release) as a row named <row>-b, right after it.
#
# Needs root, cgroup v1 memory controller, zram-control, gcc, ss (iproute2).
# Creates only uniquely named objects and removes them on any exit:
#   cgroups   /sys/fs/cgroup/memory/ramswap-bench-<pid>-<row>
#   zram      one device from /sys/class/zram-control/hot_add
#   ramswap   mounts /run/ramswap-bench-<pid>-<row>[-lender], clusters
#             bench-<pid>-<row>, ports from one free block of 20 in 27000-27999
#             (torn down by `ramswap down`: the swapping daemon first, its
#             swapoff reads pages back from the lender, then the lender)
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
BACKENDS=zram,ramswap,remote,half,pool
RAMSWAP_CLI="$REPO_ROOT/ramswap"
BEFORE_CLI=""
LOOPS=""
CUR_CLI=""
LEND=3G
LOCAL_TARGET=""
SAMPLE_INTERVAL_S=0.5

usage() {
    cat <<EOF
usage: $0 [--quick] [--ram MIB] [--mib MIB] [--procs N] [--passes P] [--seed S]
          [--mix Z:T:R] [--timeout SEC] [--backends LIST] [--ramswap-cli PATH]
          [--lend SIZE] [--local-target BYTES] [--before-cli PATH] [--loops N]
  --ram MIB        memory limit of the workload's cgroup (default $RAM_MIB)
  --mib MIB        total anonymous memory mapped by the workload (default $MAP_MIB)
  --procs N        workload processes (default $PROCS)
  --passes P       verification passes over all pages (default $PASSES)
  --seed S         workload seed (default $SEED)
  --mix Z:T:R      percent zero / text / random pages (default $MIX)
  --quick          --ram 64 --mib 256 --procs 4
  --timeout SEC    limit per workload run (default $WORK_TIMEOUT_S)
  --backends LIST  which rows to run, comma separated, from zram, ramswap,
                   remote, half, pool (default $BACKENDS)
  --ramswap-cli P  ramswap command (default: <repo>/ramswap)
  --lend SIZE      the lender's --lend in the remote and half rows (default $LEND)
  --local-target B local_target_bytes of the half row (default: half of the
                   ramswap row's peak pers_zbytes; needed when that row is not run)
  --loops N        loop devices of the swapping daemons (up --loops; default: up's own)
  --before-cli P   also run each ramswap row with this ramswap command (another
                   build), as rows named <row>-b, for a before/after table
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
        --before-cli) need_arg "$@"; BEFORE_CLI=$2; shift 2 ;;
        --loops) need_arg "$@"; need_uint "$1" "$2"; LOOPS=$2; shift 2 ;;
        --lend) need_arg "$@"; LEND=$2; shift 2 ;;
        --local-target) need_arg "$@"; need_uint "$1" "$2"; LOCAL_TARGET=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
    esac
done

ALL_ROWS=(zram ramswap ramswap-b remote remote-b half half-b pool pool-b)
declare -A RUN
IFS=',' read -r -a _backends <<<"$BACKENDS"
for b in "${_backends[@]}"; do
    case "$b" in
        zram|ramswap|remote|half|pool) RUN[$b]=1; if [[ -n "$BEFORE_CLI" && $b != zram ]]; then RUN[$b-b]=1; fi ;;
        *) echo "unknown backend: $b" >&2; exit 64 ;;
    esac
done
RUN_ZRAM=${RUN[zram]:-0}

SWAP_MIB=$((2 * MAP_MIB))
CG_ROOT=/sys/fs/cgroup/memory
TAG="ramswap-bench-$$"
CLUSTER_NAME="bench-$$"
PAGE=4096

[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
[[ -w "$CG_ROOT/cgroup.procs" ]] || { echo "no cgroup v1 memory controller at $CG_ROOT" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc not found" >&2; exit 1; }
command -v ss >/dev/null || { echo "ss (iproute2) not found" >&2; exit 1; }
if [[ $RUN_ZRAM -eq 1 && ! -w /sys/class/zram-control/hot_add ]]; then
    echo "no /sys/class/zram-control (zram module)" >&2; exit 1
fi

# ------------------------------------------------------------ teardown ---
TMP_DIR=""
CGROUPS=()          # cgroup dirs created here
ZRAM_DEV=""         # device number from hot_add
ZRAM_SWAPON=0
INST_UP=()          # mounts where `ramswap up` was run, in start order
declare -A INST_CLI # the ramswap command that started each of them
INST_CREATED=()     # mount dirs created here
declare -A LOG_NOTE # mount -> what its daemon's log said (warnings, errors)
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

# Summarises a daemon's log: the count of WARN/ERROR/exception lines and the first few.
log_note() {
    local f=$1 n
    [[ -r "$f" ]] || { echo "no log"; return; }
    n=$(grep -Ec 'WARN|ERROR|SEVERE|Exception' "$f" || true)
    if [[ "${n:-0}" -eq 0 ]]; then
        echo "log clean"
    else
        echo "log: $n WARN/ERROR/exception lines, first: $(grep -E 'WARN|ERROR|SEVERE|Exception' "$f" | head -n 3 | cut -c1-240 | tr '\n' '|')"
    fi
}

# `ramswap down` for one mount, then its log (kept only when down failed) and its dir.
ramswap_down() {
    local m=$1 keep=() x
    (cd "$REPO_ROOT" && timeout 900 "${INST_CLI[$m]:-$RAMSWAP_CLI}" down --mount "$m") >&2 ||
        log "warning: ramswap down --mount $m failed (its log: $m.log)"
    LOG_NOTE[$m]=$(log_note "$m.log")
    [[ "${LOG_NOTE[$m]}" == "log clean" ]] || log "$m: ${LOG_NOTE[$m]}"
    mountpoint -q "$m" 2>/dev/null || rm -f "$m.log"
    for x in "${INST_UP[@]}"; do [[ "$x" == "$m" ]] || keep+=("$x"); done
    INST_UP=("${keep[@]}")
    keep=()
    for x in "${INST_CREATED[@]}"; do
        if [[ "$x" == "$m" ]]; then
            if [[ ! -d "$m" ]]; then
                :
            elif ! mountpoint -q "$m" 2>/dev/null; then
                rmdir "$m" 2>/dev/null || log "warning: could not remove $m"
            else
                log "warning: $m is still mounted"
            fi
        else
            keep+=("$x")
        fi
    done
    INST_CREATED=("${keep[@]}")
}

# Downs every daemon still up, the last started first (a borrower before its lender).
ramswap_teardown() {
    local i
    for ((i = ${#INST_UP[@]} - 1; i >= 0; i--)); do ramswap_down "${INST_UP[$i]}"; done
    INST_UP=()
    for i in "${INST_CREATED[@]}"; do
        [[ -d "$i" ]] && ! mountpoint -q "$i" 2>/dev/null && rmdir "$i" 2>/dev/null
    done
    INST_CREATED=()
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
declare -A R_STATUS R_ELAPSED R_CPU R_RSS_MIB R_COMPR_MIB R_SWAPPED_MIB R_MISM R_DETAIL R_ZBYTES R_TARGET
# remote columns
declare -A R_LCPU R_LRSS R_NETPP R_FETCHES R_P50 R_P99 R_PMAX R_SUCC R_REMOTED R_USPP
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
STATS_DIR=""        # the swapping daemon's stats/ of the row being run
LENDER_STATS_DIR="" # the lender's stats/, remote rows only

# Prints "name value" lines of the counters in stats dir $1 (all when no names follow).
stats_of() {
    local d=$1 n
    shift
    [[ -n "$d" && -d "$d" ]] || return 0
    if [[ $# -eq 0 ]]; then
        for n in "$d"/*; do
            if [[ -f "$n" ]]; then printf '%s %s\n' "${n##*/}" "$(timeout 5 cat "$n" 2>/dev/null)"; fi
        done
    else
        for n in "$@"; do
            if [[ -r "$d/$n" ]]; then printf '%s %s\n' "$n" "$(timeout 5 cat "$d/$n" 2>/dev/null)"; fi
        done
    fi
    return 0
}
# Value of counter $2 in "name value" text $1 (0 when absent).
cval() { awk -v k="$2" '$1 == k {v = $2 + 0} END {print v + 0}' <<<"$1"; }

# Keeps the peaks of the counters while the workload runs (the stores empty out when it exits).
ramswap_sampler() {
    local out=$1 max_iter=$2 i
    local zp=0 zb=0 st=0 rp=0 fb=0
    for ((i = 0; i < max_iter; i++)); do
        [[ -e "$TMP_DIR/stop" ]] && break
        local s a b z r f
        s=$(stats_of "$STATS_DIR" pers_zpages pers_zbytes zero_filled_pages remote_pers_pages || true)
        a=$(cval "$s" pers_zpages); b=$(cval "$s" pers_zbytes)
        z=$(cval "$s" zero_filled_pages); r=$(cval "$s" remote_pers_pages)
        f=0
        [[ -n "$LENDER_STATS_DIR" ]] && f=$(cval "$(stats_of "$LENDER_STATS_DIR" foreign_pers_bytes)" foreign_pers_bytes)
        ((a > zp)) && zp=$a
        ((b > zb)) && zb=$b
        ((r > rp)) && rp=$r
        ((f > fb)) && fb=$f
        ((a + z + r > st)) && st=$((a + z + r))
        printf 'zpages %s\nzbytes %s\nstored %s\nremote %s\nforeign_bytes %s\n' "$zp" "$zb" "$st" "$rp" "$fb" >"$out.tmp" && mv "$out.tmp" "$out"
        sleep "$SAMPLE_INTERVAL_S"
    done
}

# A free block of 20 TCP ports in 27000-27999 (nothing listening or connected on them).
PORT_BASE=""
pick_ports() {
    local used k base p ok
    used=$(ss -Htan 2>/dev/null | awk '{print $4; print $5}' | sed -n 's/.*:\([0-9]*\)$/\1/p' | sort -u)
    for ((k = 0; k < 50; k++)); do
        base=$((27000 + ((($$ + k) % 50) * 20)))
        ok=1
        for ((p = base; p < base + 20; p++)); do
            if grep -qx "$p" <<<"$used"; then ok=0; break; fi
        done
        if [[ $ok -eq 1 ]]; then PORT_BASE=$base; return 0; fi
    done
    return 1
}

# Field $2 of the status file of the daemon at mount $1 ("name: value" lines).
status_field() { timeout 10 awk -v k="$2" 'index($0, k ": ") == 1 {print substr($0, length(k) + 3); exit}' "$1/status" 2>/dev/null || true; }

# `ramswap up --mount $1 <rest>`; the mount dir is created here when missing.
ramswap_up() {
    local m=$1
    shift
    if [[ ! -e "$m" ]]; then
        mkdir -p "$m"
        INST_CREATED+=("$m")
    fi
    INST_UP+=("$m")
    INST_CLI[$m]=$CUR_CLI
    (cd "$REPO_ROOT" && timeout 300 "$CUR_CLI" up --mount "$m" "$@") >&2
}

# Bytes the established TCP sockets of process $1 received and had acked: "rx tx".
tcp_bytes() {
    ss -tinpH state established 2>/dev/null | awk -v want="pid=$1," '
        /users:\(/ {mine = index($0, want) > 0; next}
        mine {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^bytes_received:/) {split($i, a, ":"); rx += a[2]}
                if ($i ~ /^bytes_acked:/) {split($i, a, ":"); tx += a[2]}
            }
            mine = 0
        }
        END {printf "%d %d\n", rx, tx}'
}

peak_rss_mib() {
    local kb
    kb=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$1/status" 2>/dev/null || true)
    if [[ -n "$kb" ]]; then awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}'; else echo "?"; fi
}

# Runs one ramswap row: ramswap (local), remote (all remote, one lender), half (half remote),
# pool (local, FUSE thread pool).
run_ramswap_row() {
    local row=$1 kind=${1%-b}
    CUR_CLI=$RAMSWAP_CLI
    if [[ $row == *-b ]]; then CUR_CLI=$BEFORE_CLI; fi
    if [[ ! -x "$CUR_CLI" ]]; then
        log "$row: $CUR_CLI not available"
        R_STATUS[$row]="not available"
        return 0
    fi
    local mount="/run/$TAG-$row" lmount="" cluster="$CLUSTER_NAME-$row" target=""
    local port lport off=0
    case "$kind" in
        ramswap) off=0 ;;
        remote) off=3 ;;
        half) off=9 ;;
        pool) off=15 ;;
    esac
    lport=$((PORT_BASE + off)); port=$((PORT_BASE + off + 3))
    if [[ $kind == half ]]; then
        if [[ -n "$LOCAL_TARGET" ]]; then
            target=$LOCAL_TARGET
        elif [[ "${R_ZBYTES[ramswap]:-0}" -gt 0 ]]; then
            target=$((R_ZBYTES[ramswap] / 2))
        else
            log "half: needs the ramswap row's peak pers_zbytes or --local-target"
            R_STATUS[$row]="skipped: no ramswap row, no --local-target"
            return 0
        fi
        R_TARGET[$row]=$target
    elif [[ $kind == remote ]]; then
        R_TARGET[$row]=0
    fi

    local lpid="" laddr="" lp=""
    local -a up_args=(--size "${SWAP_MIB}M" --priority 32767 --cluster-name "$cluster" --port "$port")
    if [[ -n "$LOOPS" ]]; then up_args+=(--loops "$LOOPS"); fi
    STATS_DIR=""; LENDER_STATS_DIR=""
    if [[ $kind == remote || $kind == half ]]; then
        lmount="/run/$TAG-$row-lender"
        log "$row: lender up (node 1, --lend $LEND, mount $lmount, port $lport)"
        if ! ramswap_up "$lmount" --node 1 --no-swap --lend "$LEND" --cluster-name "$cluster" --port "$lport"; then
            R_STATUS[$row]="lender up failed"
            FAILED=1
            ramswap_teardown
            return 0
        fi
        lpid=$(status_field "$lmount" pid)
        if [[ ! "$lpid" =~ ^[0-9]+$ ]] || [[ ! -d "/proc/$lpid" ]]; then
            log "$row: no lender pid in $lmount/status (got '${lpid:-}')"
            lpid=""
        fi
        laddr=$(status_field "$lmount" member_address)
        lp=${laddr##*:}
        if [[ ! "$lp" =~ ^[0-9]+$ ]]; then
            log "$row: no member_address in $lmount/status (got '$laddr')"
            R_STATUS[$row]="lender has no member address"
            FAILED=1
            ramswap_teardown
            return 0
        fi
        if [[ -d "$lmount/stats" ]]; then LENDER_STATS_DIR="$lmount/stats"; fi
        up_args+=(--node 0 --target 1 --join "127.0.0.1:$lp")
    elif [[ $kind == pool ]]; then
        up_args+=(--target 1)
    fi
    log "$row: up (${SWAP_MIB} MiB, mount $mount, port $port${lp:+, joins 127.0.0.1:$lp})"
    if ! ramswap_up "$mount" "${up_args[@]}"; then
        R_STATUS[$row]="up failed"
        FAILED=1
        ramswap_teardown
        return 0
    fi
    local pid
    pid=$(status_field "$mount" pid)
    if [[ ! "$pid" =~ ^[0-9]+$ ]] || [[ ! -d "/proc/$pid" ]]; then
        log "$row: no daemon pid in $mount/status (got '${pid:-}')"
        pid=""
    fi
    if [[ -d "$mount/stats" ]]; then STATS_DIR="$mount/stats"; fi
    if [[ -n "$target" ]]; then
        log "$row: local_target_bytes $target"
        if ! (cd "$REPO_ROOT" && timeout 30 "$CUR_CLI" set local_target_bytes "$target" --mount "$mount") >&2; then
            R_STATUS[$row]="set local_target_bytes failed"
            FAILED=1
            ramswap_teardown
            return 0
        fi
    fi
    if [[ -n "$lmount" ]]; then log "$row: cluster: $(status_field "$mount" cluster)"; fi

    local cg out="$TMP_DIR/$row.out" rc=0 cpu0="" cpu1="" lcpu0="" lcpu1="" net0="" net1="" s0 s1 ls1=""
    make_cgroup "$row"; cg=$CG_NEW
    rm -f "$TMP_DIR/stop"
    ramswap_sampler "$TMP_DIR/$row.max" $((WORK_TIMEOUT_S * 2 + 200)) &
    SAMPLER_PID=$!
    if [[ -n "$pid" ]]; then cpu0=$(proc_cpu_s "$pid"); fi
    if [[ -n "$lpid" ]]; then lcpu0=$(proc_cpu_s "$lpid"); net0=$(tcp_bytes "$lpid"); fi
    s0=$(stats_of "$STATS_DIR")
    local vm0 vm1
    vm0=$(vm_snap)
    log "$row: workload in $cg (limit ${RAM_MIB} MiB), daemon pid ${pid:-?}${lpid:+, lender pid $lpid}"
    run_workload "$cg" "$out" || rc=$?
    vm1=$(vm_snap)
    if [[ -n "$pid" ]]; then cpu1=$(proc_cpu_s "$pid"); R_RSS_MIB[$row]=$(peak_rss_mib "$pid"); else R_RSS_MIB[$row]="?"; fi
    if [[ -n "$lpid" ]]; then
        lcpu1=$(proc_cpu_s "$lpid"); net1=$(tcp_bytes "$lpid"); R_LRSS[$row]=$(peak_rss_mib "$lpid")
        ls1=$(stats_of "$LENDER_STATS_DIR")
    fi
    # One last sample after the workload, before the daemon is stopped.
    s1=$(stats_of "$STATS_DIR")
    stop_sampler
    remove_cgroup "$cg"; CGROUPS=("${CGROUPS[@]/$cg/}")

    local zp zb st rp fb la lb lz lr
    zp=$(kv_get "$TMP_DIR/$row.max" zpages); zp=${zp:-0}
    zb=$(kv_get "$TMP_DIR/$row.max" zbytes); zb=${zb:-0}
    st=$(kv_get "$TMP_DIR/$row.max" stored); st=${st:-0}
    rp=$(kv_get "$TMP_DIR/$row.max" remote); rp=${rp:-0}
    fb=$(kv_get "$TMP_DIR/$row.max" foreign_bytes); fb=${fb:-0}
    la=$(cval "$s1" pers_zpages); lb=$(cval "$s1" pers_zbytes)
    lz=$(cval "$s1" zero_filled_pages); lr=$(cval "$s1" remote_pers_pages)
    if ((la > zp)); then zp=$la; fi
    if ((lb > zb)); then zb=$lb; fi
    if ((lr > rp)); then rp=$lr; fi
    if ((la + lz + lr > st)); then st=$((la + lz + lr)); fi

    # counter $1 after minus before the workload
    local written read_ discarded remoted_d succ_d
    written=$(($(cval "$s1" pages_written) - $(cval "$s0" pages_written)))
    read_=$(($(cval "$s1" pages_read) - $(cval "$s0" pages_read)))
    discarded=$(($(cval "$s1" pages_discarded) - $(cval "$s0" pages_discarded)))
    remoted_d=$(($(cval "$s1" pers_pages_remoted) - $(cval "$s0" pers_pages_remoted)))
    succ_d=$(($(cval "$s1" remote_pers_pages_succ_get) - $(cval "$s0" remote_pers_pages_succ_get)))
    R_ZBYTES[$row]=$zb
    R_ELAPSED[$row]=$(kv_get "$out" elapsed_s)
    R_MISM[$row]=$(kv_get "$out" mismatches)
    if [[ -n "$cpu0" && -n "$cpu1" ]]; then
        R_CPU[$row]=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')
        R_USPP[$row]=$(awk -v a="$cpu0" -v b="$cpu1" -v p=$((written + read_)) 'BEGIN {if (p > 0) printf "%.1f", (b - a) * 1e6 / p; else print "-"}')
    else
        R_CPU[$row]="?"
    fi
    R_COMPR_MIB[$row]=$(mib "$zb")
    R_SWAPPED_MIB[$row]=$(mib $((st * PAGE)))
    R_STATUS[$row]="exit $rc"
    R_DETAIL[$row]="pid ${pid:-?}: peak pers_zpages $zp, pers_zbytes $(mib "$zb") MiB, remote_pers_pages $rp, stored pages (compressed + zero-filled + remote) $st; counters via ${STATS_DIR:-(no stats dir)}; during the workload pages_written $written, pages_read $read_, pages_discarded $discarded; $(swap_traffic "$vm0" "$vm1"); workload majflt $(kv_get "$out" majflt), user $(kv_get "$out" user_s) s, sys $(kv_get "$out" sys_s) s, fill $(kv_get "$out" fill_s) s, verify $(kv_get "$out" verify_s) s; killed_children $(kv_get "$out" killed_children); agent_errors $(cval "$s1" agent_errors), corrupt_reads $(cval "$s1" corrupt_reads), pool_limit_hit $(cval "$s1" pool_limit_hit), pool_reserve_empty $(cval "$s1" pool_reserve_empty)"
    if [[ $kind != ramswap ]]; then
        R_FETCHES[$row]=$(cval "$s1" remote_fetches)
        R_P50[$row]=$(cval "$s1" remote_fetch_p50_us)
        R_P99[$row]=$(cval "$s1" remote_fetch_p99_us)
        R_PMAX[$row]=$(cval "$s1" remote_fetch_max_us)
        R_SUCC[$row]=$(cval "$s1" remote_pers_pages_succ_get)
        R_REMOTED[$row]=$(cval "$s1" pers_pages_remoted)
        R_DETAIL[$row]+="; remote counters at the end: pers_pages_remoted ${R_REMOTED[$row]}, remote_pers_pages_succ_get ${R_SUCC[$row]}, remote_pers_pages_unsucc_get $(cval "$s1" remote_pers_pages_unsucc_get) (missing $(cval "$s1" remote_get_missing), timeouts $(cval "$s1" remote_get_timeouts), unauthentic $(cval "$s1" remote_get_unauthentic)), remote_fetches ${R_FETCHES[$row]} (p50 ${R_P50[$row]} us, p99 ${R_P99[$row]} us, max ${R_PMAX[$row]} us), pers_pages_remote_failed $(cval "$s1" pers_pages_remote_failed), pers_pages_remote_raced $(cval "$s1" pers_pages_remote_raced), remote_failed_requests $(cval "$s1" remote_failed_requests), pers_pages_local_no_target $(cval "$s1" pers_pages_local_no_target), pers_pages_local_targets_full $(cval "$s1" pers_pages_local_targets_full), remote_pages_flushed $(cval "$s1" remote_pages_flushed), repatriated_pages $(cval "$s1" repatriated_pages)"
    fi
    if [[ -n "$lpid" ]]; then
        local rx0 tx0 rx1 tx1 netb moved
        read -r rx0 tx0 <<<"${net0:-0 0}"
        read -r rx1 tx1 <<<"${net1:-0 0}"
        netb=$(((rx1 - rx0) + (tx1 - tx0)))
        moved=$((remoted_d + succ_d))
        if [[ -n "$lcpu0" && -n "$lcpu1" ]]; then
            R_LCPU[$row]=$(awk -v a="$lcpu0" -v b="$lcpu1" 'BEGIN {printf "%.2f", b - a}')
        else
            R_LCPU[$row]="?"
        fi
        if ((written > 0)); then R_NETPP[$row]=$((netb / written)); else R_NETPP[$row]="-"; fi
        R_DETAIL[$row]+="; lender pid $lpid: TCP bytes received $(mib $((rx1 - rx0))) MiB, sent (acked) $(mib $((tx1 - tx0))) MiB, $(awk -v b="$netb" -v p="$moved" 'BEGIN {if (p > 0) printf "%.0f", b / p; else print "-"}') bytes per page moved ($remoted_d remoted + $succ_d fetched during the workload); peak foreign_pers_bytes $(mib "$fb") MiB, foreign_pers_pages_max $(cval "$ls1" foreign_pers_pages_max), lend_refused_pages $(cval "$ls1" lend_refused_pages), agent_errors $(cval "$ls1" agent_errors)"
    fi
    if [[ $rc -ne 0 ]]; then FAILED=1; fi
    log "$row: workload exit $rc, down (the swapping daemon first)"
    ramswap_down "$mount"
    R_DETAIL[$row]+="; daemon ${LOG_NOTE[$mount]:-}"
    if [[ -n "$lmount" ]]; then
        ramswap_down "$lmount"
        R_DETAIL[$row]+="; lender ${LOG_NOTE[$lmount]:-}"
    fi
    STATS_DIR=""; LENDER_STATS_DIR=""
}

# ---------------------------------------------------------------- main ---
log "workload: $PROCS procs, $MAP_MIB MiB mapped, $PASSES passes, seed $SEED, mix $MIX; cgroup limit $RAM_MIB MiB; swap $SWAP_MIB MiB"
log "/proc/swaps before: $(awk 'NR > 1 {printf "%s ", $1}' /proc/swaps)"
pick_ports || { echo "no free block of 20 ports in 27000-27999" >&2; exit 1; }
log "ports $PORT_BASE-$((PORT_BASE + 19))"
# Plain if, not &&: errexit must stay in force inside the functions.
if [[ $RUN_ZRAM -eq 1 ]]; then run_zram; fi
for r in ramswap ramswap-b remote remote-b half half-b pool pool-b; do
    if [[ ${RUN[$r]:-0} -eq 1 ]]; then run_ramswap_row "$r"; fi
done

# --------------------------------------------------------------- table ---
echo
echo "command: $COMMAND_LINE"
echo "workload: pagetest --procs $PROCS --mib $MAP_MIB --passes $PASSES --seed $SEED --mix $MIX in a cgroup limited to $RAM_MIB MiB; swap size $SWAP_MIB MiB"
echo
fmt_row='%-9s %9s %7s %7s %7s %8s %9s %11s %4s %7s %8s %9s %7s %6s %6s %7s %8s %8s %9s  %s\n'
# shellcheck disable=SC2059
printf "$fmt_row" row elapsed_s vs_zram cpu_s us/page rss_mib compr_mib swapped_mib mism lcpu_s lrss_mib netB/page fetches p50_us p99_us max_us succ_get remoted local_tgt status
zram_el=${R_ELAPSED[zram]:-}
for b in "${ALL_ROWS[@]}"; do
    [[ ${RUN[$b]:-0} -eq 1 ]] || continue
    st=${R_STATUS[$b]:-"not run"}
    el=${R_ELAPSED[$b]:-}
    if [[ -z "$el" ]]; then
        # shellcheck disable=SC2059
        printf "$fmt_row" "$b" - - - - - - - - - - - - - - - - - - "$st"
        continue
    fi
    ratio="-"
    [[ -n "$zram_el" ]] && ratio=$(awk -v a="$el" -v z="$zram_el" 'BEGIN {if (z > 0) printf "%.2fx", a / z; else print "-"}')
    tgt="-"
    [[ -n "${R_TARGET[$b]:-}" ]] && tgt="$(mib "${R_TARGET[$b]}")M"
    # shellcheck disable=SC2059
    printf "$fmt_row" "$b" "$(fmt "$el")" "$ratio" "${R_CPU[$b]}" "${R_USPP[$b]:--}" "${R_RSS_MIB[$b]}" \
        "${R_COMPR_MIB[$b]}" "${R_SWAPPED_MIB[$b]}" "${R_MISM[$b]:-?}" "${R_LCPU[$b]:--}" "${R_LRSS[$b]:--}" \
        "${R_NETPP[$b]:--}" "${R_FETCHES[$b]:--}" "${R_P50[$b]:--}" "${R_P99[$b]:--}" "${R_PMAX[$b]:--}" \
        "${R_SUCC[$b]:--}" "${R_REMOTED[$b]:--}" "$tgt" "$st"
done
cat <<'NOTES'
rows: zram = zram lz4. ramswap = one daemon, pages in its local pool, one FUSE thread.
  remote = all remote, one lender (node 1, --no-swap --lend), local_target_bytes 0.
  half = half remote: the same with local_target_bytes = half the ramswap row's peak pers_zbytes.
  pool = local, FUSE thread pool: --target 1 with no node 1, so nothing can go remote.
columns: cpu_s, rss_mib = the swapping daemon's CPU seconds during the workload and peak RSS
  (VmHWM); us/page = cpu_s per page the kernel swapped through it (pages_written + pages_read
  during the workload), in microseconds; zram: cpu n/a (it compresses in the kernel, in the workload's sys time), rss =
  mem_used_max. compr_mib = peak compressed bytes in the local pool (pers_zbytes; zram
  compr_data_size). swapped_mib = peak pages held (local + zero-filled + remote) x 4 KiB.
  mism = pages that failed verification. lcpu_s, lrss_mib = the lender's CPU seconds during
  the workload and peak RSS (its heap, --lend / 0.6, is pre-touched and locked at start).
  netB/page = TCP payload on the lender's own sockets (ss -tinp, the sockets of the lender's
  pid: bytes_received + bytes_acked, after minus before the workload; the lender is alone in
  its cluster with this row's daemon, so it counts this row's loopback traffic only) divided
  by the pages written to the swapping daemon (pages_written) during the workload.
  fetches, p50_us, p99_us, max_us = remote_fetches and remote_fetch_{p50,p99,max}_us of the
  swapping daemon since its start (one fetch = the remote pages of one request).
  succ_get = remote_pers_pages_succ_get; remoted = pers_pages_remoted; local_tgt =
  local_target_bytes.
  <row>-b = the same row with the --before-cli build.
NOTES
echo
for b in "${ALL_ROWS[@]}"; do
    if [[ -n "${R_DETAIL[$b]:-}" ]]; then echo "$b: ${R_DETAIL[$b]}"; fi
done
echo

# -------------------------------------------------------------- targets ---
echo "targets (reported, not enforced by the exit status):"
for b in ramswap ramswap-b remote remote-b half half-b pool pool-b; do
    [[ ${RUN[$b]:-0} -eq 1 ]] || continue
    el=${R_ELAPSED[$b]:-}
    case "$b" in ramswap*|pool*) f=1.1 ;; *) f=2.0 ;; esac
    note=""
    [[ $b == half* || $b == pool* || $b == *-b ]] && note=" (for reference: the targets are for the ramswap and remote rows)"
    if [[ -n "$el" && -n "$zram_el" ]]; then
        lim=$(awk -v z="$zram_el" -v f="$f" 'BEGIN {printf "%.2f", f * z}')
        v=$(awk -v a="$el" -v l="$lim" 'BEGIN {print (a <= l) ? "PASS" : "MISS"}')
        echo "  $b elapsed <= ${f}x zram: $(fmt "$el") s vs $lim s ($f x zram $(fmt "$zram_el") s): $v$note"
    else
        echo "  $b elapsed <= ${f}x zram: n/a (needs zram and $b)"
    fi
done
if [[ ${RUN[ramswap]:-0} -eq 1 ]]; then
    rs_rss=${R_RSS_MIB[ramswap]:-}
    if [[ -n "${R_ELAPSED[ramswap]:-}" && "$rs_rss" =~ ^[0-9.]+$ ]]; then
        limit=$(awk -v c="${R_COMPR_MIB[ramswap]}" 'BEGIN {printf "%.1f", 1.2 * c + 250}')
        v=$(awk -v r="$rs_rss" -v l="$limit" 'BEGIN {print (r < l) ? "PASS" : "MISS"}')
        echo "  ramswap daemon RSS < 1.2 x compressed + 250 MiB: $rs_rss MiB vs $limit MiB (1.2 x ${R_COMPR_MIB[ramswap]} + 250): $v"
    else
        echo "  ramswap daemon RSS: n/a"
    fi
fi
for b in remote remote-b half half-b; do
    [[ ${RUN[$b]:-0} -eq 1 ]] || continue
    p99=${R_P99[$b]:-}
    if [[ -n "$p99" && "${R_FETCHES[$b]:-0}" -gt 0 ]]; then
        v=$(awk -v a="$p99" 'BEGIN {print (a < 2000) ? "PASS" : "MISS"}')
        note=""
        [[ $b == half* || $b == *-b ]] && note=" (for reference)"
        echo "  $b remote fetch p99 < 2 ms (loopback): $p99 us over ${R_FETCHES[$b]} fetches (p50 ${R_P50[$b]} us, max ${R_PMAX[$b]} us): $v$note"
    else
        echo "  $b remote fetch p99 < 2 ms: n/a (no remote fetch)"
    fi
done

exit "$FAILED"
