#!/usr/bin/env python3
"""How long ramswap's daemons ran and how long they waited for a CPU.

Samples /proc/PID/task/*/schedstat (time on a CPU, time runnable but waiting on a run queue)
once a second for SECONDS, for every ramswap daemon that runs meanwhile (a java process
running `up`), and prints per daemon the totals over the time it was seen. Start it beside a
benchmark, e.g.

    python3 test-vm/bench/run-queue.py 300 &
    flock /tmp/ramswap-swaptest.lock bash test-vm/bench/compare-zram.sh --backends remote ...

A wait/run of 1.5 means that for each millisecond a daemon's threads ran they waited 1.5 ms for
a CPU: a request or a fetch then takes that much longer than its work.
"""
import glob
import sys
import time


def daemons():
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            args = open(proc + "/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"java") or b"up" not in args:
            continue
        role = "lender" if b"--lend" in args else "borrower" if b"--target" in args else "node"
        yield proc.rsplit("/", 1)[1], role


def schedstat(pid):
    run = wait = 0
    for task in glob.glob("/proc/%s/task/*/schedstat" % pid):
        try:
            fields = open(task).read().split()
        except OSError:
            continue
        run += int(fields[0])
        wait += int(fields[1])
    return run, wait


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300
    end = time.time() + seconds
    last, total, roles = {}, {}, {}
    while time.time() < end:
        for pid, role in daemons():
            now = schedstat(pid)
            if pid in last:
                t = total.setdefault(pid, [0, 0])
                t[0] += now[0] - last[pid][0]
                t[1] += now[1] - last[pid][1]
            last[pid] = now
            roles[pid] = role
        time.sleep(1)
    print("%-8s %-9s %8s %14s %9s" % ("pid", "role", "run_s", "runqueue_s", "wait/run"))
    for pid, (run, wait) in sorted(total.items(), key=lambda kv: -kv[1][0]):
        print("%-8s %-9s %8.1f %14.1f %9.2f" % (pid, roles[pid], run / 1e9, wait / 1e9, wait / max(run, 1)))


if __name__ == "__main__":
    main()
