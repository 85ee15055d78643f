"""Worker functions for tests/test_shm.py and tests/test_race.py (importable under every start method)."""

import os
import signal

import posix_ipc

from ipclab import shm


def put_then_die(spec, n_items, hold_mutex=False):
    """Put *n_items* then die by SIGKILL, optionally while holding the ring's mutex."""
    ring = shm.RingBuffer.attach(spec)
    for i in range(n_items):
        ring.put(shm.ITEM.pack(i), timeout=10)
    if hold_mutex:
        posix_ipc.Semaphore(spec.mutex).acquire(10)
    os.kill(os.getpid(), signal.SIGKILL)


def segment_roundtrip(segment):
    """Receive a Segment (re-attached by pickling under spawn/forkserver), read and write it."""
    with segment as seg:
        first = seg.buf[0]
        seg.buf[1] = first + 1
        return first, seg.size
