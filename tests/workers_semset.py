"""Worker functions for tests/test_semset.py: importable, so every start method can run them."""

import os
import time

from ipclab import semset


def take_and_hold(s, index, undo, ready_index, hold=60):
    """Take one unit of *index* (with SEM_UNDO if *undo*), post *ready_index*, then hold until killed."""
    s.acquire(index, undo=undo, timeout=10)
    s.release(ready_index)
    time.sleep(hold)


def wait_op(semid, ops, timeout):
    """Attach by id and wait for *ops*; report how it ended."""
    s = semset.attach(semid)
    try:
        s.op(ops, timeout=timeout)
        return "done"
    except semset.ObjectGone:
        return "gone"
    except semset.WaitTimeout:
        return "timeout"


def shuttle(s, rounds):
    """Move a unit from sem 0 to sem 1 and back, *rounds* times, each move one atomic semop."""
    for _ in range(rounds):
        s.op([(0, -1, 0), (1, +1, 0)], timeout=20)
        s.op([(1, -1, 0), (0, +1, 0)], timeout=20)
    return os.getpid()


def v_once(s, index):
    """One V on *index*; returns this worker's pid (to compare with GETPID)."""
    s.release(index)
    return os.getpid()
