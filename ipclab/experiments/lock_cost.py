"""What a POSIX semaphore around ``counter++`` costs, and where the time goes.

Why: it is tempting to say "the lock costs two system calls per increment". On Linux a
POSIX semaphore is a futex: ``sem_wait`` on a free semaphore and ``sem_post`` with nobody
waiting are atomic instructions in user space, and the kernel is entered only when a
process must sleep or must be woken (futex(7): "Futex operation occurs entirely in user
space for the noncontended case. The kernel is involved only to arbitrate the contended
case."). This module measures it instead of asserting it, two ways:

* the **voluntary context switches** of each worker during its timed loop
  (``voluntary_ctxt_switches`` in ``/proc/self/status``, proc_pid_status(5)): a process
  that sleeps in ``futex(FUTEX_WAIT)`` gives up the CPU, and that counts one;
* the **futex system calls** of the whole run, counted by ``strace -f -c -e trace=futex``
  when strace exists and may trace (:func:`futex_calls`; ``None`` otherwise).

The loop is 19.1's counter with no designed window (``window=0``), the same shared word
and start line as :func:`ipclab.experiments.race.count`, and records the switches inside
the timed loop only.

Defined in :mod:`ipclab.experiments.lock_cost`; taught in ``notebooks/01_posix_shared_memory.ipynb``.
"""

import contextlib
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import posix_ipc

from ipclab.core import objects, procs
from ipclab.core.errors import BadArgument
from ipclab.experiments.race import _acquire, _wait_ready
from ipclab.mechanisms.shm import Segment

__all__ = ["LockRun", "switches", "uncontended", "uncontended_in_child", "run", "sweep", "futex_calls"]


def switches():
    """``(voluntary, nonvoluntary)`` context switches of this process so far (proc_pid_status(5))."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


def uncontended(ops=100_000, timeout=10.0):
    """One process, one free semaphore: *ops* acquire+release pairs, nobody else around.

    Returns ``(seconds_per_pair, voluntary_switches, nonvoluntary_switches)`` over the loop.
    A voluntary switch would mean a sleep in the kernel; with nobody else using the
    semaphore there is nothing to sleep for.
    """
    with objects.posix_sem(1, tag="free") as sem:
        v0, n0 = switches()
        t0 = time.perf_counter()
        for _ in range(ops):
            sem.acquire(timeout)     # C: sem_timedwait(sem, &deadline) - free: an atomic decrement
            sem.release()            # C: sem_post(sem) - nobody waits: an atomic increment
        t1 = time.perf_counter()
        v1, n1 = switches()
    return (t1 - t0) / ops, v1 - v0, n1 - n0


def uncontended_in_child(ops=100_000, start_method="fork", timeout=60.0):
    """:func:`uncontended` in a fresh single-threaded child process.

    Why a child: a Jupyter kernel has other threads; ``posix_ipc`` releases the GIL around
    ``sem_timedwait``, and reacquiring it while another thread holds it can block in the
    kernel, a switch that has nothing to do with the semaphore.
    """
    return procs.run(uncontended, [(ops,)], start_method=start_method, timeout=timeout)[0]


def counter_worker(seg_name, m, lock_name, ready_name, go_name, timeout):
    """Worker: ``counter++`` *m* times (load, add, store), under the lock if *lock_name*.

    Returns ``(t_start_ns, t_end_ns, voluntary, nonvoluntary)``: switches during the loop only.
    """
    seg = Segment.attach(seg_name)
    lock = posix_ipc.Semaphore(lock_name) if lock_name else None
    ready, go = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(go_name)
    word = ctypes.c_uint64.from_buffer(seg.buf)
    try:
        ready.release()
        _acquire(go, timeout, "the start signal")
        v0, n0 = switches()
        t0 = time.monotonic_ns()
        for _ in range(m):
            if lock:
                _acquire(lock, timeout, "the counter's lock")
            word.value = word.value + 1
            if lock:
                lock.release()
        t1 = time.monotonic_ns()
        v1, n1 = switches()
    finally:
        del word
        seg.close()
        for sem in (lock, ready, go):
            if sem is not None:
                sem.close()
    return t0, t1, v1 - v0, n1 - n0


@dataclass
class LockRun:
    """One :func:`run`: the count, the time, and the context switches of all workers."""
    n_procs: int
    m: int
    lock: bool
    expected: int
    final: int
    elapsed: float          # seconds, first worker's start to last worker's end
    voluntary: int          # voluntary context switches, all workers, during their loops
    nonvoluntary: int

    @property
    def lost(self):
        return self.expected - self.final

    @property
    def us_per_increment(self):
        return 1e6 * self.elapsed / self.expected

    @property
    def switches_per_increment(self):
        return self.voluntary / self.expected


def run(n_procs=2, m=20_000, lock=False, start_method="fork", timeout=60.0):
    """*n_procs* processes each do ``counter++`` *m* times, with or without the semaphore."""
    if not isinstance(n_procs, int) or not 1 <= n_procs <= 64:
        raise BadArgument(f"n_procs must be 1..64 processes, got {n_procs!r}")
    if not isinstance(m, int) or not 1 <= m <= 10_000_000:
        raise BadArgument(f"m must be 1..10000000 increments per process, got {m!r}")
    with contextlib.ExitStack() as stack:
        seg = stack.enter_context(Segment.create(8, tag="counter"))
        lock_sem = stack.enter_context(objects.posix_sem(1, tag="lock")) if lock else None
        ready = stack.enter_context(objects.posix_sem(0, tag="ready"))
        go = stack.enter_context(objects.posix_sem(0, tag="go"))
        args = [(seg.name, m, lock_sem.name if lock else None, ready.name, go.name, timeout)] * n_procs
        with procs.start(counter_worker, args, start_method=start_method, timeout=timeout) as group:
            for _ in range(n_procs):
                _wait_ready(ready, group, timeout)
            for _ in range(n_procs):
                go.release()
            results = group.join()
        word = ctypes.c_uint64.from_buffer(seg.buf)
        final = word.value
        del word
    t0s, t1s, vol, invol = zip(*results)
    return LockRun(n_procs, m, lock, n_procs * m, final, (max(t1s) - min(t0s)) / 1e9, sum(vol), sum(invol))


def sweep(n_values=(1, 2, 4), m=20_000, start_method="fork", timeout=60.0):
    """``[(unlocked, locked)]`` :class:`LockRun` pairs, one per n."""
    return [(run(n, m, False, start_method, timeout), run(n, m, True, start_method, timeout))
            for n in n_values]


def futex_calls(n_procs=1, m=20_000, lock=True, timeout=120.0):
    """Futex system calls made by a whole run (all processes), counted by ``strace -f -c``.

    Runs a fresh ``python -c "...lock_cost.run(N, M, LOCK)"`` under strace, so the count
    includes the interpreter's own start-up and exit (compare with ``lock=False``).
    Returns ``None`` if strace is missing or may not trace here (ptrace denied in some
    containers), never a made-up number.
    """
    strace = shutil.which("strace")
    if strace is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "strace.txt")
        code = ("from ipclab.experiments.lock_cost import run; "
                f"r = run({int(n_procs)}, {int(m)}, {bool(lock)}, start_method='fork'); "
                "assert r.lost == 0 or not r.lock")
        cmd = [strace, "-f", "-qq", "-c", "-e", "trace=futex", "-o", out, sys.executable, "-c", code]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            return None
        with open(out) as f:
            text = f.read()
    row = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+futex\s*$", text, re.M)
    return int(row.group(1)) if row else 0

