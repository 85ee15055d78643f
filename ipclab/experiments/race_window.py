"""Notebook 06's race: lost updates of an unlocked shared counter as the read-write window widens.

Why a module: the worker (:func:`unlocked_increments`) runs in children started by
:mod:`ipclab.core.procs`, so it must be importable by every start method; the notebook shows
its source and runs :func:`race_experiment`, which starts them on one counter and returns a
plain result. What changes the count: the window between read and write (none, a
``sched_yield``, a sleep) and whether the processes share one CPU.

Defined in :mod:`ipclab.experiments.race_window`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import mmap
import os
import struct
import time

import posix_ipc


COUNTER = struct.Struct("q")


def unlocked_increments(name, n, window, start_name, cpu, timeout):
    """Add 1 to the counter at offset 0 of shm *name*, *n* times, with no lock.

    *window* widens the gap between read and write: ``"none"``, ``"yield"``
    (``os.sched_yield()``: let another process run right there) or ``"sleep"`` (1 ms).
    *cpu* pins this process to one CPU (``None``: any). All workers start together on
    semaphore *start_name*. Returns how many increments this worker did.
    """
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # C: sched_setaffinity(0, sizeof set, &set)
    shm = posix_ipc.SharedMemory(name)
    m = mmap.mmap(shm.fd, COUNTER.size)
    shm.close_fd()
    start = posix_ipc.Semaphore(start_name)
    start.acquire(timeout)  # everybody starts at once
    start.close()
    for _ in range(n):
        value = COUNTER.unpack_from(m, 0)[0]  # read ...
        if window == "yield":
            os.sched_yield()
        elif window == "sleep":
            time.sleep(0.001)
        COUNTER.pack_into(m, 0, value + 1)  # ... write: another process may have written between
    m.close()
    return n


def race_experiment(workers, n, window="none", pin=False, start_method="fork", timeout=60):
    """Run *workers* processes of :func:`unlocked_increments` on one counter; return the result.

    A plain result: ``{"workers", "n", "window", "pinned", "expected", "final", "lost"}``.
    """
    from ipclab.core import objects, procs
    cpu = min(os.sched_getaffinity(0)) if pin else None
    with objects.posix_shm(COUNTER.size, tag="race") as shm, objects.posix_sem(0, tag="start") as start:
        group = procs.start(unlocked_increments, n=workers, args=(shm.name, n, window, start.name, cpu, timeout),
                            start_method=start_method, timeout=timeout)
        with group:
            for _ in range(workers):
                start.release()  # C: sem_post(start): the starting gun, once per worker
        with mmap.mmap(shm.fd, COUNTER.size) as m:
            final = COUNTER.unpack_from(m, 0)[0]
    expected = workers * n
    return {"workers": workers, "n": n, "window": window, "pinned": pin,
            "expected": expected, "final": final, "lost": expected - final}


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["COUNTER", "unlocked_increments", "race_experiment"]
