#!/usr/bin/env bash
# What lending costs the cluster, in one run: two lenders (--no-swap --lend SIZE) and one
# borrower that sends every page away (--target 1,2, local_target_bytes 0), while a workload
# holds its pages swapped out. Prints one table:
#   - a node alone (--size 1G --no-swapon, lending nothing): the base a daemon costs;
#   - each lender idle, nothing lent, against that base;
#   - each lender holding the borrower's pages: its growth against the bytes it holds;
#   - the cluster's RAM per page sent away (the lenders' growth summed and the borrower's pool)
#     against the compressed bytes of the same pages, which is what zram would keep.
#
#   sudo flock /tmp/ramswap-swaptest.lock test-vm/bench/lend-cost.sh [--lend SIZE] [--mib MIB]
#       [--procs N] [--ram MIB] [--idle SECONDS] [--ramswap-cli PATH]
#
# Everything runs on 127.0.0.1 under this run's own names: mounts /run/ramswap-lcost-<pid>-*,
# clusters lcost-<pid>-*, ports from a free block in 28000-28999, the workload's memory cgroup
# (v1) /sys/fs/cgroup/memory/ramswap-lcost-<pid>. Every daemon, the cgroup and the temp dir are
# removed on exit, even on failure (the borrower first: its swapoff reads its pages back).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cli="$root/ramswap"
lend=3G
mib=1024
procs=16
ram=256
idle=10
while [ $# -gt 0 ]; do
  case "$1" in
    --lend) lend=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    --ram) ram=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --ramswap-cli) cli=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lend-cost: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done
for n in "$mib" "$procs" "$ram" "$idle"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "lend-cost: '$n' is not a positive integer" >&2; exit 64; }
done
[ "$(id -u)" = 0 ] || { echo "lend-cost: needs root (mounts, swap, cgroups)" >&2; exit 1; }
[ -x "$cli" ] || { echo "lend-cost: no ramswap command at $cli" >&2; exit 1; }

tag="ramswap-lcost-$$"
cg="/sys/fs/cgroup/memory/$tag"
tmp=$(mktemp -d /tmp/ramswap-lcost.XXXXXX)
hold="$tmp/hold"
mounts=()
wpid=""
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
  set +e
  touch "$hold"
  if [ -n "$wpid" ]; then timeout 300 tail --pid="$wpid" -f /dev/null; fi
  # the borrower first (its swapoff reads its pages back from the lenders), then the lenders
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[$i]}
    if [ -f "$m/status" ]; then timeout 300 "$cli" down --mount "$m" >/dev/null 2>&1 || log "down of $m failed"; fi
    rm -f "$m.log"
  done
  if [ -d "$cg" ]; then rmdir "$cg" 2>/dev/null || log "cgroup $cg not removed"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=ports.sh
source "$root/test-vm/bench/ports.sh"
kib() { awk -v k="$1" '$1 == k ":" {print $2}' "/proc/$2/status"; }
mibk() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
mibb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
cstat() { cat "$1/stats/$2"; }
field() { awk -v k="$2" 'index($0, k ": ") == 1 {print substr($0, length(k) + 3); exit}' "$1/status"; }

up() { # mount cluster port args...
  local m=$1 c=$2 p=$3; shift 3
  mounts+=("$m")
  timeout 180 "$cli" up --mount "$m" --cluster-name "$c" --port "$p" --log "$m.log" "$@" >/dev/null
}

# the base: a node alone that lends nothing, idle
m0="/run/$tag-alone"
up "$m0" "$tag-alone" "$(free_port)" --size 1G --no-swapon
sleep "$idle"
base=$(kib VmRSS "$(field "$m0" pid)")
timeout 120 "$cli" down --mount "$m0" >/dev/null
unset 'mounts[0]'; mounts=("${mounts[@]}"); rm -f "$m0.log"
log "a node alone, idle: $(mibk "$base") MiB"

# two lenders and a borrower in one cluster
cluster="$tag-c"
m1="/run/$tag-l1"; m2="/run/$tag-l2"; mb="/run/$tag-b"
up "$m1" "$cluster" "$(free_port)" --node 1 --no-swap --lend "$lend"
join="127.0.0.1:$(field "$m1" member_address | sed 's/.*://')"
up "$m2" "$cluster" "$(free_port)" --node 2 --no-swap --lend "$lend" --join "$join"
sleep "$idle"
p1=$(field "$m1" pid); p2=$(field "$m2" pid)
idle1=$(kib VmRSS "$p1"); idle2=$(kib VmRSS "$p2")
log "lenders idle: $(mibk "$idle1") and $(mibk "$idle2") MiB"
up "$mb" "$cluster" "$(free_port)" --node 0 --size "$((mib * 2))M" --priority 32767 --target 1,2 --join "$join"
pb=$(field "$mb" pid)
timeout 30 "$cli" set local_target_bytes 0 --mount "$mb" >/dev/null

gcc -O2 -o "$tmp/pagetest" "$root/test-vm/src/main/c/pagetest.c"
mkdir "$cg"
echo $((ram << 20)) > "$cg/memory.limit_in_bytes"
echo 100 > "$cg/memory.swappiness"
(echo "$BASHPID" > "$cg/cgroup.procs" && exec "$tmp/pagetest" --procs "$procs" --mib "$mib" --passes 1 --seed 7 \
  --hold-file "$hold" --quiet) > "$tmp/workload.out" 2>&1 &
wpid=$!
log "workload: $procs processes, $mib MiB, in $cg (limit $ram MiB), holding its pages"

# held: the borrower's remote pages stop changing (20 samples, 0.5 s apart, at most 10 min)
last=-1; steady=0
for _ in $(seq 1 1200); do
  now=$(cstat "$mb" remote_pers_pages)
  if [ "$now" = "$last" ] && [ "$now" -gt 0 ]; then steady=$((steady + 1)); else steady=0; fi
  last=$now
  [ "$steady" -ge 20 ] && break
  kill -0 "$wpid" 2>/dev/null || { log "the workload ended before its pages were held"; exit 1; }
  sleep 0.5
done
[ "$steady" -ge 20 ] || { log "the borrower's remote pages did not settle in 10 min"; exit 1; }
held1=$(kib VmRSS "$p1"); held2=$(kib VmRSS "$p2"); heldb=$(kib VmRSS "$pb")
fb1=$(cstat "$m1" foreign_pers_bytes); fb2=$(cstat "$m2" foreign_pers_bytes)
fp1=$(cstat "$m1" foreign_pers_pages); fp2=$(cstat "$m2" foreign_pers_pages)
remote=$(cstat "$mb" remote_pers_pages); rz=$(cstat "$mb" remote_pers_zbytes)
poolb=$(cstat "$mb" pool_bytes); pz=$(cstat "$mb" pers_zbytes); one=$(cstat "$mb" remote_pages_one_copy)
touch "$hold"
rc=0; wait "$wpid" || rc=$?; wpid=""

echo
echo "lend-cost: two lenders --lend $lend, one borrower sending every page away; workload $procs x $((mib / procs)) MiB, cgroup $ram MiB"
printf '%-34s %10s %12s %12s %10s\n' "daemon" "rss_mib" "over_base" "holds_mib" "limit_mib"
printf '%-34s %10s %12s %12s %10s\n' "node alone, lends nothing (base)" "$(mibk "$base")" "-" "-" "-"
for i in 1 2; do
  idle_k=$(eval echo "\$idle$i")
  printf '%-34s %10s %12s %12s %10s\n' "lender $i idle, nothing lent" "$(mibk "$idle_k")" \
    "$(mibk $((idle_k - base)))" "0" "$(mibk $((base + 16 * 1024)))"
done
for i in 1 2; do
  held_k=$(eval echo "\$held$i"); fb=$(eval echo "\$fb$i"); fp=$(eval echo "\$fp$i")
  printf '%-34s %10s %12s %12s %10s\n' "lender $i holding $fp pages" "$(mibk "$held_k")" \
    "$(mibk $((held_k - base)))" "$(mibb "$fb")" "$(awk -v b="$base" -v h="$fb" 'BEGIN {printf "%.1f", (b * 1024 + 1.10 * h) / 1048576}')"
done
printf '%-34s %10s %12s %12s %10s\n' "borrower, its pages away" "$(mibk "$heldb")" "$(mibk $((heldb - base)))" \
  "$(mibb "$poolb")" "-"
growth=$(( (held1 - idle1 + held2 - idle2) * 1024 ))
echo
echo "pages away $remote ($one with one copy), compressed $(mibb "$rz") MiB; the borrower's pool $(mibb "$poolb") MiB ($(mibb "$pz") MiB compressed kept home)"
awk -v g="$growth" -v p="$poolb" -v z="$rz" -v pz="$pz" 'BEGIN {
  printf "cluster RAM per page sent away: (lenders grew %.1f MiB + pool %.1f MiB) / compressed %.1f MiB = %.2fx (target <= 2.2x with two copies)\n",
    g / 1048576, p / 1048576, (z + pz) / 1048576, (g + p) / (z + pz) }'
echo "workload exit $rc; $(grep -o 'mismatches [0-9]*' "$tmp/workload.out" | tail -1)"
echo "columns: rss_mib = VmRSS; over_base = it minus the node alone's; holds_mib = the slabs a lender's store"
echo "  mapped for the pages it holds (foreign_pers_bytes), for the borrower its pool (pool_bytes);"
echo "  limit_mib = issue 17's most: base + 16 MiB idle, base + 1.10 x what it holds while holding."
