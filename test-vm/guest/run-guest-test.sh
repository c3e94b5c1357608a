#!/usr/bin/env bash
# Guest pressure test: a QEMU guest (software emulation) whose whole RAM is small, with ramswap as
# its only swap and the daemon and a page workload inside, so that memory is short for the daemon
# too. Prints a table of figures; exit 0 only when every page verified, nothing hung and the daemon
# survived. Usage: test-vm/guest/run-guest-test.sh --help
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RAMSWAP_VM_CACHE:-/var/cache/ramswap-test-vm}

ram=512            # guest RAM, MiB
swap=              # ramswap --size, MiB (default 2 x RAM)
mib=               # workload, MiB (default 1.5 x RAM)
procs=2
passes=3
seed=1
mix=50:50:0
smp=2
# One host thread emulates every guest CPU. With QEMU's multi-threaded TCG, a JIT that patches
# code on one vCPU while another runs it (HotSpot making a method not entrant) was seen to fault
# the JVM (SIGSEGV at a freshly patched jump); single-threaded TCG orders that correctly.
tcg_thread=single
timeout_s=         # hard limit on the guest, boot to power-off (default: the sum of the limits below)
# The guest's time limits, each from the slowest figure measured in a passing run of this test
# (512 MiB guest, 640 MiB workload, 3 passes, 2 CPUs, TCG) on this machine kind, times a factor
# (docs/memory-pressure.md, "The guest's time limits"). A limit hit is named in the verdict.
boot_measured_s=16       # QEMU start to the test script (the guest's uptime then: 3 s)
up_measured_s=178        # ramswap up (79-178 s seen; 116.9 and 177.5 s on 2026-12-05)
rate_measured=2510       # pages the workload touches per second, (fill + each pass) / its time:
                         # 655,360 in 260.6 s (174.9-260.6 s seen)
after_measured_s=66      # status + stats (14-29 s) and down (17-37 s) after the workload
limit_factor=3/2         # each limit is the measured figure times this
rate=$rate_measured
no_protections=0
# Headroom for the swap-out path in the guest (guest-test.sh says why); "kernel" keeps the defaults
min_free_kib=16384 # vm.min_free_kbytes
watermark_scale=500 # vm.watermark_scale_factor, in 1/10000 of RAM
keep=0
link=
tap=               # a tap device on a bridge shared with lenders on the host
addr=              # the guest's address on it, A.B.C.D/N
cluster=           # the cluster the guest's ramswap joins (default guest-0, its own)
up_args=           # more options for the guest's ramswap up
sets=()            # knob=value pairs the guest sets after up
jar=$repo/cli/target/ramswap.jar

usage() {
    cat <<EOF
usage: $0 [options]
  --ram MIB          guest RAM (default $ram)
  --swap MIB         ramswap --size in the guest (default 2 x RAM)
  --mib MIB          memory the workload maps (default 1.5 x RAM)
  --procs N          workload processes (default $procs)
  --passes N         verification passes over every page (default $passes)
  --seed S           workload seed (default $seed)
  --mix Z:T:R        percent zero/text/random pages (default $mix)
  --smp N            guest CPUs (default $smp)
  --tcg-thread single|multi
                     QEMU TCG threading (default $tcg_thread; multi is faster but was seen to
                     crash the guest's JVM while it patched compiled code)
  --timeout SEC      hard limit on the guest, boot to power-off (default: the sum of the boot,
                     up, workload and after limits, each a measured figure x $limit_factor; with
                     --timeout the workload gets what is left)
  --rate PAGES_S     the workload's expected speed, pages touched per second (default
                     $rate_measured, measured in the 512 MiB guest); its limit is the pages to
                     touch / this x $limit_factor
  --no-protections   pass --no-protections to ramswap up (a test-only switch)
  --min-free-kib N   the guest's vm.min_free_kbytes (default $min_free_kib; "kernel" keeps the
                     kernel's own, about 2.8 MiB at 512 MiB)
  --watermark-scale N
                     the guest's vm.watermark_scale_factor (default $watermark_scale; "kernel": 10)
  --link listen:PORT|connect:PORT
                     give the guest a private virtio-net link over a QEMU socket on 127.0.0.1
                     (address 10.77.0.1/24); the seam for tests with several guests
  --tap IFNAME       give the guest a virtio-net link on this tap device (made beforehand, e.g.
                     on a bridge with lenders in network namespaces); needs --addr
  --addr A.B.C.D/N   the guest's address on --tap
  --cluster-name N   the cluster the guest's ramswap joins (default: guest-0, a cluster of its own)
  --up-args "..."    more options for the guest's ramswap up, e.g. "--node 0 --bind A.B.C.D
                     --join L:5701 --target 1,2"
  --set KNOB=VALUE   a knob the guest sets right after up (repeatable), e.g. local_target_bytes=0
  --jar PATH         the ramswap jar (default cli/target/ramswap.jar)
  --keep             keep the run directory (console, daemon log, raw outputs)
Needs root. Installs qemu-system-x86 and cpio with apt-get when missing; fetches Debian's kernel
and busybox-static into $cache (RAMSWAP_VM_CACHE) without installing them.
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --ram) ram=$2; shift 2 ;;
        --swap) swap=$2; shift 2 ;;
        --mib) mib=$2; shift 2 ;;
        --procs) procs=$2; shift 2 ;;
        --passes) passes=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --mix) mix=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --tcg-thread) tcg_thread=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --no-protections) no_protections=1; shift ;;
        --min-free-kib) min_free_kib=$2; shift 2 ;;
        --watermark-scale) watermark_scale=$2; shift 2 ;;
        --link) link=$2; shift 2 ;;
        --tap) tap=$2; shift 2 ;;
        --addr) addr=$2; shift 2 ;;
        --cluster-name) cluster=$2; shift 2 ;;
        --up-args) up_args=$2; shift 2 ;;
        --set) sets+=("$2"); shift 2 ;;
        --jar) jar=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
    esac
done
for v in ram procs passes smp rate; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "--${v%_s} must be a number, got '${!v}'" >&2; exit 64; }
done
[ -z "$timeout_s" ] || [[ $timeout_s =~ ^[0-9]+$ ]] || { echo "--timeout must be a number, got '$timeout_s'" >&2; exit 64; }
[ "$rate" -gt 0 ] || { echo "--rate must be above 0" >&2; exit 64; }
for v in min_free_kib watermark_scale; do
    [[ ${!v} =~ ^([0-9]+|kernel)$ ]] || { echo "--${v//_/-} must be a number or 'kernel', got '${!v}'" >&2; exit 64; }
done
[[ $tcg_thread =~ ^(single|multi)$ ]] || { echo "--tcg-thread must be single or multi" >&2; exit 64; }
[ -z "$link" ] || [[ $link =~ ^(listen|connect):[0-9]+$ ]] || { echo "--link must be listen:PORT or connect:PORT" >&2; exit 64; }
[ -z "$link" ] || [ -z "$tap" ] || { echo "--link and --tap exclude each other" >&2; exit 64; }
[ -z "$tap" ] || [[ $addr =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || { echo "--tap needs --addr A.B.C.D/N, got '$addr'" >&2; exit 64; }
[ -z "$tap" ] || [ -e "/sys/class/net/$tap" ] || { echo "no network device '$tap' for --tap" >&2; exit 64; }
for kv in "${sets[@]}"; do
    [[ $kv =~ ^[a-z_]+=[^[:space:]]+$ ]] || { echo "--set must be KNOB=VALUE, got '$kv'" >&2; exit 64; }
done
swap=${swap:-$((ram * 2))}
mib=${mib:-$((ram * 3 / 2))}

# The limits (seconds): the workload's from the pages it touches (the fill, then each pass) at the
# measured rate. With --timeout the hard limit is given and the workload gets what is left of it.
limit() { echo $(( ($1 * ${limit_factor%/*} + ${limit_factor#*/} - 1) / ${limit_factor#*/} )); }
work_pages=$((mib * 256 * (1 + passes)))
boot_limit_s=$(limit "$boot_measured_s")
up_limit_s=$(limit "$up_measured_s")
after_limit_s=$(limit "$after_measured_s")
work_limit_s=$(limit $(( (work_pages + rate - 1) / rate )))
if [ -z "$timeout_s" ]; then
    timeout_s=$((boot_limit_s + up_limit_s + work_limit_s + after_limit_s))
    work_limit_how="$work_pages pages at $rate pages/s x $limit_factor"
else
    work_limit_s=0 # what is left of --timeout when the workload starts
    work_limit_how="what was left of --timeout $timeout_s s"
fi

say() { echo "guest-test: $*"; }
die() { echo "guest-test: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root (QEMU's 9p share of / and apt-get)"
[ -f "$jar" ] || die "no jar at $jar; build it first: cd $repo && mvn -B -q install -DskipTests"

# ------------------------------------------------------------------ what the host needs

apt_updated=0
apt_update_once() {
    [ "$apt_updated" = 1 ] && return
    say "apt-get update"
    timeout 300 apt-get update -q >/dev/null || die "apt-get update failed"
    apt_updated=1
}

apt_install() {
    apt_update_once
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || die "apt-get install $* failed"
}

# Fetches a package into the cache and unpacks it there: the guest's kernel must not become the
# host's (no /boot, no boot loader), and busybox-static would replace a dynamic busybox.
apt_unpack() { # package dir
    local pkg=$1 dest=$2 tmp
    apt_update_once
    tmp=$(mktemp -d "$cache/dl.XXXXXX")
    chmod 755 "$tmp" # apt's download sandbox user must be able to write here
    chown _apt "$tmp" 2>/dev/null || true
    say "fetching $pkg"
    (cd "$tmp" && timeout 600 apt-get download -q "$pkg" >/dev/null 2>&1) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    mkdir -p "$tmp/x"
    dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "cannot unpack $pkg"; }
    rm -rf "$dest"
    mv "$tmp/x" "$dest"
    rm -rf "$tmp"
}

command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
command -v cpio >/dev/null || apt_install cpio
command -v gcc >/dev/null || apt_install gcc libc6-dev
# the guest runs the host's own programs: ramswap needs libfuse 3 there
libs=$(ldconfig -p 2>/dev/null || true)
[[ $libs == *libfuse3.so.3* ]] || apt_install libfuse3-3
command -v java >/dev/null || die "Java 17 is missing (the guest runs the host's java): apt-get install openjdk-17-jre-headless"
mkdir -p "$cache"
exec 9> "$cache/lock"
flock -w 900 9 || die "another run holds $cache/lock"

# Debian's generic kernel: the cloud flavour has no 9p, and the guest's root is the host's over 9p.
kdir=$(ls -d "$cache"/kernel/linux-image-* 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$kdir" ]; then
    apt_update_once
    kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | tail -n 1)
    [ -n "$kpkg" ] || die "cannot tell which kernel linux-image-amd64 stands for"
    mkdir -p "$cache/kernel"
    apt_unpack "$kpkg" "$cache/kernel/$kpkg"
    kdir=$cache/kernel/$kpkg
fi
kver=$(basename "$(ls -d "$kdir"/lib/modules/* | head -n 1)")
vmlinuz=$kdir/boot/vmlinuz-$kver
moddir=$kdir/lib/modules/$kver
[ -f "$vmlinuz" ] || die "no kernel image in $kdir"

busybox=/bin/busybox
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then # missing or not static
    [ -x "$cache/busybox/bin/busybox" ] || apt_unpack busybox-static "$cache/busybox"
    busybox=$cache/busybox/bin/busybox
fi
flock -u 9

# ------------------------------------------------------------------ one run's directory

run=$(mktemp -d /tmp/ramswap-guest.XXXXXX)
declare -a qemu_pids=() stream_pids=()
cleanup() {
    local rc=$?
    for p in "${qemu_pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
            kill -9 "$p" 2>/dev/null || true
        fi
    done
    for p in "${stream_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "$keep" = 1 ]; then
        echo "guest-test: run directory kept: $run"
    else
        rm -rf "$run"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Modules the guest loads, dependencies first; what is built in is skipped.
declare -A seen=()
modules=()
add_module() {
    local m=$1 f deps d
    [ -n "${seen[$m]:-}" ] && return
    seen[$m]=1
    grep -q "/${m}\.ko\$" "$moddir/modules.builtin" 2>/dev/null && return
    f=$(find "$moddir/kernel" \( -name "$m.ko" -o -name "${m//_/-}.ko" \) -print -quit)
    [ -n "$f" ] || die "module $m not found under $moddir"
    deps=$(tr '\0' '\n' < "$f" | awk -F= '$1 == "depends" && !d { gsub(",", " ", $2); print $2; d = 1 }')
    for d in $deps; do add_module "$d"; done
    modules+=("$m")
    cp "$f" "$initdir/modules/$m.ko"
}

initdir=$run/initramfs
mkdir -p "$initdir"/{bin,dev,proc,sys,modules}
cp "$busybox" "$initdir/bin/busybox"
cp "$here/init.sh" "$initdir/init"
chmod 755 "$initdir/init" "$initdir/bin/busybox"
mknod -m 600 "$initdir/dev/console" c 5 1
for m in virtio_pci 9pnet_virtio 9p fuse loop virtio_net; do add_module "$m"; done
printf '%s\n' "${modules[@]}" > "$initdir/modules.list"
(cd "$initdir" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$run/initrd.gz"
rm -rf "$initdir"

# Private copies: a build on the host must not change the jar under a running guest.
payload() { # dir
    mkdir -p "$1/payload"
    cp "$jar" "$1/payload/ramswap.jar"
    cp "$repo/ramswap" "$here/guest-test.sh" "$1/payload/"
    cp "$run/pagetest" "$1/payload/pagetest"
}
gcc -std=c11 -O2 -Wall -Wextra -o "$run/pagetest" "$repo/test-vm/src/main/c/pagetest.c"

# Starts guest N in DIR with RAM MiB; LINK (optional) is listen:PORT or connect:PORT, a private
# virtio-net link between guests over a QEMU socket on 127.0.0.1 (guest N gets 10.77.0.N+1/24);
# UP_ARGS (optional) are added to the guest's ramswap up (--bind, --node, --join).
start_guest() { # n ram dir [link] [up_args]
    local n=$1 mem=$2 dir=$3 link=${4:-} up_args=${5:-} net=() qpid
    mkdir -p "$dir"
    payload "$dir"
    {
        printf 'GUEST=%s\nSWAP_MIB=%s\nWORK_MIB=%s\nPROCS=%s\nPASSES=%s\nSEED=%s\nMIX=%s\n' \
            "$n" "$swap" "$mib" "$procs" "$passes" "$seed" "$mix"
        printf 'MIN_FREE_KIB=%s\nWATERMARK_SCALE=%s\n' "$min_free_kib" "$watermark_scale"
        printf 'NO_PROTECTIONS=%s\nDEADLINE_S=%s\nUP_ARGS=%q\n' "$no_protections" "$((timeout_s - 30))" "$up_args"
        printf 'UP_LIMIT_S=%s\nWORK_LIMIT_S=%s\nAFTER_LIMIT_S=%s\n' "$up_limit_s" "$work_limit_s" "$after_limit_s"
        printf 'CLUSTER=%q\nSETS=%q\n' "${cluster:-guest-$n}" "${sets[*]}"
        [ -n "$link" ] && printf 'LINK_ADDR=10.77.0.%s/24\n' "$((n + 1))"
        [ -n "$tap" ] && printf 'LINK_ADDR=%s\n' "$addr"
    } > "$dir/env"
    if [ -n "$link" ]; then
        net=(-netdev "socket,id=link0,${link%%:*}=127.0.0.1:${link#*:}"
             -device "virtio-net-pci,netdev=link0,mac=52:54:00:72:73:$(printf %02x "$n")")
    elif [ -n "$tap" ]; then
        net=(-netdev "tap,id=link0,ifname=$tap,script=no,downscript=no"
             -device "virtio-net-pci,netdev=link0,mac=52:54:00:72:74:$(printf %02x "$n")")
    fi
    qemu-system-x86_64 -name "ramswap-guest$n" -nodefaults -no-user-config \
        -machine pc -accel "tcg,thread=$tcg_thread,tb-size=512" -cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt \
        -smp "$smp" -m "${mem}M" \
        -kernel "$vmlinuz" -initrd "$run/initrd.gz" \
        -append "console=ttyS0 loglevel=4 panic=-1 hung_task_panic=1 panic_print=3 mitigations=off sysrq_always_enabled rdinit=/init" \
        -display none -monitor "unix:$dir/monitor.sock,server=on,wait=off" -serial "file:$dir/console.log" -no-reboot \
        -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
        -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot" \
        -fsdev "local,id=results,path=$dir,security_model=none,multidevs=remap" \
        -device "virtio-9p-pci,fsdev=results,mount_tag=results" \
        "${net[@]}" > "$dir/qemu.log" 2>&1 &
    qpid=$!
    qemu_pids[n]=$qpid
    # the console, live, until QEMU exits
    touch "$dir/console.log"
    tail -n +1 -F --pid="$qpid" "$dir/console.log" 2>/dev/null | sed -u "s/^/[guest$n] /" &
    stream_pids[n]=$!
}

# Presses Alt-SysRq-KEY on guest N's keyboard through QEMU's monitor (bounded: 5 s).
sysrq() { # n key
    timeout 5 python3 - "$run/g$1/monitor.sock" "$2" <<'PY' || say "guest$1: SysRq $2 could not be sent"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(("sendkey alt-sysrq-%s\n" % sys.argv[2]).encode())
time.sleep(0.5)
s.close()
PY
}

# Waits for guest N until the deadline (epoch seconds); kills it when the deadline passes.
wait_guest() { # n deadline
    local n=$1 deadline=$2 p=${qemu_pids[$1]}
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
    if kill -0 "$p" 2>/dev/null; then
        # a guest that froze says nothing on its own (a task waiting killably is no hung task):
        # ask its kernel for the stacks of the blocked tasks, then of every task, before the kill
        say "guest$n still running after ${timeout_s} s: its stacks (SysRq w, then t) on its console"
        # the stacks are printed at KERN_INFO, below the console's loglevel=4: raise it first (SysRq 8)
        sysrq "$n" 8
        sleep 2
        sysrq "$n" w
        sleep 10
        sysrq "$n" t
        sleep 30
        say "guest$n: killing QEMU (pid $p)"
        kill "$p" 2>/dev/null || true
        sleep 2
        kill -9 "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    wait "${stream_pids[$n]}" 2>/dev/null || true
}

say "kernel $kver, modules: ${modules[*]}"
# what the daemon locks (heap, pool reserve) is the daemon's to say: its log's "starting:" line
say "guest0: RAM $ram MiB, ramswap $swap MiB, workload $mib MiB, protections $([ "$no_protections" = 1 ] && echo off || echo on)"

t0=$(date +%s.%N)
start_guest 0 "$ram" "$run/g0" "$link" "$up_args"
wait_guest 0 "$(( $(date +%s) + timeout_s ))"
t1=$(date +%s.%N)

# ------------------------------------------------------------------ figures

g=$run/g0
declare -A r=() w=() st=()
[ -f "$g/result.txt" ] && while read -r k v; do r[$k]=$v; done < "$g/result.txt"
[ -f "$g/pagetest.txt" ] && while read -r k v; do w[$k]=$v; done < "$g/pagetest.txt"
[ -f "$g/stats.txt" ] && while read -r k v; do [[ $v =~ ^[0-9]+$ ]] && st[$k]=$v; done < "$g/stats.txt"
log=$g/dmesg.txt
[ -s "$log" ] || log=$g/console.log
trouble='blocked for more than|hung_task: |soft lockup|hard LOCKUP|detected stalls'
hung=$(grep -c -E "$trouble" "$log" || true)
oom=$(grep -c -E 'Killed process' "$log" || true)
victims=$(sed -n 's/.*Killed process [0-9]* (\([^)]*\)).*/\1/p' "$log" | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
pid=${r[daemon_pid]:-}
daemon_killed=no
if [ -n "$pid" ] && grep -q -E "Killed process $pid " "$log"; then
    daemon_killed=yes
elif [ "${r[daemon_alive]:-}" = 0 ]; then
    daemon_killed="no, but it died"
fi

mibk() { [ -n "${1:-}" ] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo "-"; }
col() { [ -f "$g/samples.txt" ] || return 0; awk -v c="$1" 'BEGIN { m = -1 } $c ~ /^[0-9]+$/ { if (m < 0 || (c == 2 ? $c < m : $c > m)) m = $c } END { if (m >= 0) print m }' "$g/samples.txt" 2>/dev/null; }
row() { printf '| %-46s | %-44s |\n' "$1" "$2"; }
stored_peak=$(col 6 || true)
pool_peak=$(col 7 || true)
# compression (original / compressed bytes of pooled pages) when the most pages were stored
ratio=$(awk '$6 ~ /^[0-9]+$/ && $6 + 0 >= m && $9 + 0 > 0 { m = $6 + 0; r = $8 * 4096 / $9 } END { if (r) printf "%.2f", r }' \
    "$g/samples.txt" 2>/dev/null || true)
# column C of the sample with the most stored pages
peak_col() { awk -v c="$1" '$6 ~ /^[0-9]+$/ && $6 + 0 >= m { m = $6 + 0; v = $c } END { print (v == "" ? "-" : v) }' "$g/samples.txt" 2>/dev/null || echo -; }
if [ -f "$g/exit" ]; then
    ended=$(cat "$g/exit")
    case "$ended" in [0-9]*) ended="test script, exit $ended" ;; esac
elif grep -q 'Kernel panic - not syncing' "$g/console.log"; then
    ended="kernel panic: $(tr -d '\r' < "$g/console.log" | sed -n 's/.*Kernel panic - not syncing: //p' | tail -n 1)"
else
    ended="killed by the host after $timeout_s s"
fi
total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')

echo
row "ramswap guest pressure test" "guest0, kernel $kver, TCG, $smp CPUs"
row "----------------------------------------------" "--------------------------------------------"
row "guest RAM (MemTotal)" "$ram MiB ($(mibk "${r[mem_total_kib]:-}"))"
row "ramswap --size / protections" "$swap MiB / $([ "$no_protections" = 1 ] && echo off || echo on)"
row "workload" "$mib MiB, $procs procs, $passes passes, mix $mix"
row "swap areas before / with ramswap / after" "${r[swaps_before]:--} / ${r[swap_areas]:--} / ${r[swaps_after]:--}"
row "boot to test script" "${r[boot_s]:--} s"
row "boot limit / hard limit" "$boot_limit_s s / $timeout_s s"
row "ramswap up" "${r[up_s]:--} s (exit ${r[up_rc]:--}, limit ${r[up_limit_s]:--} s)"
row "workload (fill + verify)" "${r[work_s]:--} s (exit ${r[work_rc]:--}, limit ${r[work_timeout_s]:--} s)"
row "workload limit from" "$work_limit_how"
row "ramswap status + stats" "${r[status_stats_s]:--} s"
row "ramswap down" "${r[down_s]:--} s (exit ${r[down_rc]:--})"
row "end to end (QEMU start to exit)" "$total s"
row "guest ended by" "$ended"
row "pages verified" "${w[pages]:--}"
row "mismatches" "${w[mismatches]:--}"
row "killed / timed-out workload processes" "${w[killed_children]:--} / ${w[timed_out]:-0}"
row "pages swapped out (pswpout)" "${r[pswpout]:--}"
row "pages swapped in (pswpin)" "${r[pswpin]:--}"
row "workload major faults" "${w[majflt]:--}"
row "ramswap stored pages, peak (sampled)" "${stored_peak:--}"
row "ramswap pages written / read" "${st[pages_written]:--} / ${st[pages_read]:--}"
row "same-filled pages at the peak / corrupt reads" "$(peak_col 10) / ${st[corrupt_reads]:--}"
row "pool mapped, peak (sampled)" "$( [ -n "$pool_peak" ] && mibk "$((pool_peak / 1024))" || echo -)"
row "compression ratio at the peak" "${ratio:--}"
row "daemon RSS after up" "$(mibk "${r[daemon_rss_after_up_kib]:-}")"
row "daemon peak RSS (VmHWM)" "$(mibk "${r[daemon_vmhwm_kib]:-}")"
row "daemon RSS at end: anon / file" "$(mibk "${r[daemon_rssanon_kib]:-}") / $(mibk "${r[daemon_rssfile_kib]:-}")"
row "daemon locked (VmLck, end)" "$(mibk "${r[daemon_vmlck_kib]:-}")"
row "daemon swapped out (VmSwap peak sampled)" "$(mibk "$(col 4)")"
row "guest MemAvailable, lowest sampled" "$(mibk "$(col 2)")"
if [ -n "$tap" ]; then
    remote_peak=$(col 11 || true)
    row "remote pages, peak (sampled)" "${remote_peak:--}"
    row "remote pages written / read back" "${st[remote_pages_flushed]:--} / ${st[remote_pers_pages_succ_get]:--}"
    row "remote reads failed / from a second copy" "${st[remote_pers_pages_unsucc_get]:--} / ${st[remote_reads_second_copy]:--}"
    row "remote partitions lost / pages re-copied" "${st[remote_partitions_lost]:--} / ${st[remote_pages_replaced]:--}"
    row "pages with one copy / to re-copy (end)" "${st[remote_pages_one_copy]:--} / ${st[remote_pages_to_replace]:--}"
fi
row "hung-task / soft-lockup lines" "$hung"
row "OOM kills" "$oom${victims:+ ($victims)}"
row "daemon OOM-killed" "$daemon_killed"

# the step the guest was in when its time ran out: the last one that started and has no end figure
step_at_end() {
    if [ -z "${r[up_s]:-}" ]; then echo "during ramswap up"
    elif [ -z "${r[work_s]:-}" ]; then echo "during the workload"
    elif [ -z "${r[down_s]:-}" ]; then echo "during status, stats or down"
    else echo "after down"; fi
}
fails=()
if [ "${r[up_rc]:-}" = 124 ]; then
    fails+=("ramswap up hit its limit of ${r[up_limit_s]} s (the slowest measured, $up_measured_s s, x $limit_factor)")
elif [ "${r[up_rc]:-}" != 0 ]; then
    fails+=("ramswap up failed (exit ${r[up_rc]:-none})")
else
    if [ "${r[work_rc]:-}" = 3 ]; then
        fails+=("the workload hit its limit of ${r[work_timeout_s]:-?} s ($work_limit_how)")
    elif [ "${r[work_rc]:-}" != 0 ]; then
        fails+=("workload exit ${r[work_rc]:-none}")
    fi
    [ "${w[mismatches]:-}" = 0 ] || fails+=("mismatches ${w[mismatches]:-unknown}")
    [ "${w[pages]:-0}" = "$((mib * 256))" ] || fails+=("pages verified ${w[pages]:-0} of $((mib * 256))")
    [ "${r[pswpout]:-0}" -gt 0 ] || fails+=("nothing was swapped out")
    [ "$daemon_killed" = no ] || fails+=("daemon OOM-killed: $daemon_killed")
    [ "${r[down_rc]:-}" = 0 ] || fails+=("ramswap down exit ${r[down_rc]:-none}")
    [ -z "${r[set_rc]:-}" ] || fails+=("ramswap set failed (exit ${r[set_rc]})")
    if [ -n "$tap" ]; then
        [ "${remote_peak:-0}" -gt 0 ] || fails+=("no page went to the lenders")
        [ "${st[remote_pers_pages_unsucc_get]:-x}" = 0 ] || fails+=("remote reads failed: ${st[remote_pers_pages_unsucc_get]:-unknown}")
    fi
fi
[ "$hung" = 0 ] || fails+=("$hung hung-task lines")
if [[ $ended == watchdog-deadline ]]; then
    fails+=("the guest hit its deadline of $((timeout_s - 30)) s (the hard limit less 30 s) $(step_at_end)")
elif [[ $ended == "killed by the host"* ]]; then
    fails+=("the guest hit the hard limit of $timeout_s s $(step_at_end)")
elif [[ $ended != "test script, exit 0" && ${r[up_rc]:-} == 0 ]]; then
    fails+=("guest ended by $ended")
fi

if [ ${#fails[@]} = 0 ]; then
    row "result" "PASS"
    echo
    say "PASS"
    exit 0
fi
row "result" "FAIL"
echo
for f in "$g/up.txt" "$g/daemon.log" "$g/pagetest.err" "$g/down.txt"; do
    [ -s "$f" ] && { echo "--- last lines of $(basename "$f")"; tail -n 30 "$f"; }
done
if [ "$hung" != 0 ] || [ "$oom" != 0 ]; then
    echo "--- kernel log: hung tasks, lockups, OOM (first lines; all in dmesg.txt with --keep)"
    grep -E -A 25 "$trouble|invoked oom-killer" "$log" | head -n 60 || true
    echo "--- tasks in D state at the panic (all tasks are in console.log with --keep)"
    awk '/ task:/ { d = ($0 ~ / state:D /) } d' "$g/console.log" | head -n 300 || true
    grep -E 'Killed process' "$log" | head -n 10 || true
fi
if grep -q 'sysrq: Show Blocked State' "$g/console.log" 2>/dev/null; then
    echo "--- the frozen guest's blocked tasks (SysRq w) and the daemon's threads (SysRq t; all in console.log with --keep)"
    tr -d '\r' < "$g/console.log" | awk '/sysrq: Show Blocked State/ { w = 1 } /sysrq: Show State/ { w = 0 } w' | head -n 400 || true
    tr -d '\r' < "$g/console.log" | awk '/sysrq: Show State/ { t = 1 } t && / task:/ { d = ($0 ~ /task:(java|ramswap|jnr|hz\.)/) } t && d' | head -n 600 || true
fi
say "FAIL: $(IFS=';'; echo "${fails[*]}")"
exit 1
