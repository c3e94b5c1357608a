#!/bin/busybox sh
# PID 1 of the test guest, packed into its initramfs with a static busybox and the kernel modules
# it needs. It mounts the host's root read-only (9p) and a per-run results share (9p, read-write),
# gives the guest its own /proc, /sys, /dev, /run, /tmp, /var/tmp, runs the test script chrooted
# into the host root, and powers off. It stays PID 1 throughout, so orphans (the detached daemon)
# are reaped; the guest ends with a power-off, or with a kernel panic when a task hangs.

/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "guest-init: $*"; }
fail() { say "FAILED: $*"; sleep 1; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Built as modules in Debian's kernel: loaded in dependency order, listed by the host.
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/modules/$m.ko" || fail "insmod $m"
done < /modules.list
rm -rf /modules # RAM is what this guest is short of

ip link set lo up # the cluster member binds 127.0.0.1

opts9p="trans=virtio,version=9p2000.L,msize=65536"
mkdir -p /results /newroot
mount -t 9p -o "$opts9p,rw,cache=none" results /results || fail "mount of the results share"
[ -f /results/env ] || fail "no /results/env from the host"
. /results/env

# The host's root, read-only; its files do not change during a run, so the guest may cache them.
mount -t 9p -o "$opts9p,ro,cache=loose" hostroot /newroot || fail "mount of the host root"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
ln -s /proc/self/fd /newroot/dev/fd # bash's process substitution needs it; udev is not here to make it
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777,size=16m tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=1777 tmpfs /newroot/var/tmp
mkdir -p /newroot/run/ramswap-results
mount --move /results /newroot/run/ramswap-results
results=/newroot/run/ramswap-results

# Optional private link to other guests (virtio-net over a QEMU socket netdev).
if [ -n "${LINK_ADDR:-}" ]; then
    dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
    if [ -n "$dev" ]; then
        ip addr add "$LINK_ADDR" dev "$dev" && ip link set "$dev" up && say "link $dev $LINK_ADDR"
    else
        say "no network device for the link"
    fi
fi

hostname "guest${GUEST:-0}"

# Watchdog, from RAM (initramfs): at the deadline it saves the kernel log with the blocked tasks
# to the share and powers off, so that a slow guest still reports before the host kills it.
# (A hung task panics the kernel first: hung_task_panic=1 on the command line.)
(
    while sleep 10; do
        up=$(cut -d. -f1 /proc/uptime)
        [ "$up" -ge "${DEADLINE_S:-600}" ] || continue
        say "watchdog: deadline at $up s; blocked tasks go to the kernel log; powering off"
        echo "watchdog deadline $up" >> "$results/result.txt"
        echo w > /proc/sysrq-trigger
        sleep 3
        dmesg > "$results/dmesg.txt"
        echo "watchdog-deadline" > "$results/exit"
        sync
        poweroff -f
    done
) &
say "up $(cut -d' ' -f1 /proc/uptime) s after boot; running the test"
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp LANG=C.UTF-8 TERM=dumb /bin/bash /run/ramswap-results/payload/guest-test.sh
rc=$?
say "test script exited $rc at $(cut -d' ' -f1 /proc/uptime) s"
dmesg > "$results/dmesg.txt" 2>/dev/null
echo "$rc" > "$results/exit"
sync
umount "$results" 2>/dev/null
poweroff -f
