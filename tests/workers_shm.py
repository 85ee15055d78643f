"""Worker functions for tests/test_shm.py and tests/test_race.py (importable under every start method)."""

from ipclab import shm_demos

put_then_die = shm_demos.put_then_die  # in ipclab.experiments.shm_demos, where students can reach it


def segment_roundtrip(segment):
    """Receive a Segment (re-attached by pickling under spawn/forkserver), read and write it."""
    with segment as seg:
        first = seg.buf[0]
        seg.buf[1] = first + 1
        return first, seg.size
