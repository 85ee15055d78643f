"""Deliberately broken lab 5 submissions, as edits of the reference solution (see lab1.py)."""

from . import apply

SOLUTION = "lab5_lrucache.py"

BROKEN = {
    # get() does not refresh recency: a FIFO cache, not an LRU
    "fifo": ([("            self._unlink(i)\n            self._push_front(i)\n            self._set(hits=h.hits + 1)\n",
               "            self._set(hits=h.hits + 1)\n")],
             "eviction_order", "failed"),
    # no lock at all: processes corrupt the list and the counters
    "no_lock": ([("        self.sems.op([(0, -1, SEM_UNDO)], timeout=timeout)  # C: semtimedop({0, -1, SEM_UNDO})\n",
                  ""),
                 ("            self.sems.op([(0, +1, SEM_UNDO)], timeout=0)    # C: semop({0, +1, SEM_UNDO})\n",
                  "            pass\n")],
                "concurrent", "failed"),
    # the lock without SEM_UNDO: a killed holder wedges the cache
    "no_undo": ([("[(0, -1, SEM_UNDO)]", "[(0, -1, 0)]"), ("[(0, +1, SEM_UNDO)]", "[(0, +1, 0)]")],
                "killed_holder", "failed"),
    # misses are not counted
    "no_miss_count": ([("                self._set(misses=h.misses + 1)\n", "")],
                      "shared_stats", "failed"),
}


def make(kind, solution_text):
    """The broken module's text."""
    return apply(BROKEN, kind, solution_text)