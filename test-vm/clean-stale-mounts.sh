#!/usr/bin/env bash
# Cleans what ramswap daemons that died left on this machine, before the suite swaps: a fuse.ramswap
# mount whose daemon is gone answers "Transport endpoint is not connected", and a swap area over it
# fails every write. The kernel keeps trying such an area first when its priority is the highest, so
# a run that was killed (its daemons with it) makes every later swap test on the machine hang or fail.
# This is what `ramswap down --mount DIR` does for one stale mount, for all of them, in shell, since
# the suite has not built ramswap yet. Only dead ramswap mounts are touched: a live or hung daemon's
# mount, and every other swap area, are left alone and listed.
#
#   test-vm/clean-stale-mounts.sh      (root)
set -uo pipefail

if [ "$(id -u)" != 0 ]; then
  exit 0
fi

cleaned=0
# /proc/self/mounts escapes spaces and the like as octal (\040); printf %b turns them back
while read -r _ escaped type _; do
  [ "$type" = fuse.ramswap ] || continue
  dir="$(printf '%b' "$escaped")"
  err="$(timeout 10 stat -c %i "$dir" 2>&1 >/dev/null)"
  rc=$?
  if [ $rc = 0 ]; then
    echo "clean-stale-mounts: $dir: a ramswap daemon answers there; left alone"
    continue
  fi
  if [ $rc = 124 ] || [[ "$err" != *"not connected"* ]]; then
    echo "clean-stale-mounts: $dir: no answer (${err:-timed out}); a hung daemon's, left alone" >&2
    continue
  fi
  echo "clean-stale-mounts: $dir: left by a ramswap daemon that died; cleaning it up"
  for bf in /sys/block/loop*/loop/backing_file; do
    [ -r "$bf" ] || continue
    [ "$(cat "$bf" 2>/dev/null)" = "$dir/swapfile" ] || continue
    loop="/dev/$(basename "$(dirname "$(dirname "$bf")")")"
    if awk -v d="$loop" 'NR > 1 && $1 == d { f = 1 } END { exit !f }' /proc/swaps; then
      if timeout 120 swapoff "$loop"; then
        echo "clean-stale-mounts:   swapoff $loop"
      else
        echo "clean-stale-mounts:   swapoff $loop failed" >&2
      fi
    fi
    if timeout 60 losetup --detach "$loop"; then
      echo "clean-stale-mounts:   losetup --detach $loop"
    else
      echo "clean-stale-mounts:   losetup --detach $loop failed" >&2
    fi
  done
  if timeout 60 umount -l "$dir"; then
    echo "clean-stale-mounts:   umount -l $dir"
    rmdir "$dir" 2>/dev/null || true
    cleaned=$((cleaned + 1))
  else
    echo "clean-stale-mounts:   umount -l $dir failed" >&2
  fi
done < <(cat /proc/self/mounts)

if [ $cleaned -gt 0 ]; then
  echo "clean-stale-mounts: cleaned $cleaned stale ramswap mount(s)"
fi
exit 0
