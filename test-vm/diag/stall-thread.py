#!/usr/bin/env python3
"""Stops one thread (by TID) for N seconds with ptrace, then lets it go: a scheduling stall of one thread."""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
tid, secs = int(sys.argv[1]), float(sys.argv[2])
if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0: sys.exit("seize: %s" % os.strerror(ctypes.get_errno()))
libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
os.waitpid(tid, 0x40000000)  # __WALL
print("stopped %d" % tid, flush=True)
time.sleep(secs)
libc.ptrace(PTRACE_DETACH, tid, None, None)
print("released %d" % tid, flush=True)
