#!/usr/bin/env bash
# What a borrower's way into the cluster costs: threads, resident memory and CPU of an idle
# borrower daemon that joined two lenders, as a Hazelcast client (the default for --lend 0 with
# --join) and as a lite member (--member), measured in one run and printed side by side.
#
#   sudo flock /tmp/ramswap-swaptest.lock test-vm/bench/borrower-cost.sh [--idle SECONDS]
#
# Everything runs on 127.0.0.1 under a cluster name and mounts of this run's own
# (/run/ramswap-bcost-<pid>-*), ports from a free block in 28000-28999; no swap area is made
# (--no-swapon). Every daemon started here is stopped at the end, even on failure.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
idle=20
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) idle="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "borrower-cost: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "borrower-cost: needs root (ramswap up)" >&2; exit 4; }
[[ "$idle" =~ ^[0-9]+$ ]] && [ "$idle" -ge 5 ] && [ "$idle" -le 600 ] || { echo "borrower-cost: --idle takes 5..600 seconds" >&2; exit 2; }

tag="bcost-$$"
mounts=()
cleanup() {
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do
    timeout 180 "$root/ramswap" down --mount "${mounts[$i]}" >/dev/null 2>&1 \
      || timeout 60 "$root/ramswap" down --abort --mount "${mounts[$i]}" >/dev/null 2>&1 || true
  done
  rm -f /run/ramswap-"$tag"-*.log
}
trap cleanup EXIT

port=""
for (( tries=0; tries<50; tries++ )); do
  p=$(( 28000 + (RANDOM % 50) * 20 ))
  if ! ss -Htan | awk '{print $4" "$5}' | grep -Eq ":($p|$((p+1))|$((p+2))|$((p+3))|$((p+4))|$((p+5)))\b"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "borrower-cost: no free block of ports in 28000-28999" >&2; exit 1; }

up() { # mount, args...
  local m="$1"; shift
  mounts+=("$m")
  timeout 900 "$root/ramswap" up --mount "$m" --cluster-name "$tag" "$@" >/dev/null
}
field() { sed -n "s/^$2: //p" "$1/status"; }
pidof_mount() { field "$1" pid; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

l1=/run/ramswap-$tag-l1
l2=/run/ramswap-$tag-l2
up "$l1" --node 1 --no-swap --lend 64M --port "$port"
join="$(field "$l1" member_address)"
up "$l2" --node 2 --no-swap --lend 64M --port "$port" --join "$join"

hz=$(getconf CLK_TCK)
rows=()
for mode in client member; do
  b=/run/ramswap-$tag-b-$mode
  extra=()
  [ "$mode" = member ] && extra=(--member)
  up "$b" --node 0 --size 256M --no-swapon --target 1,2 --port "$((port + 3))" --join "$join" "${extra[@]}"
  pid=$(pidof_mount "$b")
  sleep 5
  t0=$(ticks "$pid"); s0=$(date +%s.%N)
  sleep "$idle"
  t1=$(ticks "$pid"); s1=$(date +%s.%N)
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$hz" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / (e - s)}')
  rows+=("$(printf '%-30s %8s %10.1f %14s' "$mode ($(field "$b" cluster | grep -q '(client)' && echo client || echo member))" "$threads" "$(awk -v k="$rss" 'BEGIN {print k/1024}')" "$cpu")")
  timeout 180 "$root/ramswap" down --mount "$b" >/dev/null
  unset 'mounts[${#mounts[@]}-1]'
done

printf '%-30s %8s %10s %14s\n' "borrower (its status says)" "threads" "RSS (MiB)" "CPU idle (%)"
printf '%s\n' "${rows[@]}"
echo "(idle ${idle} s after 5 s, two lenders of 64 MiB on 127.0.0.1, swap 256 MiB not in use; RSS includes the locked heap)"
