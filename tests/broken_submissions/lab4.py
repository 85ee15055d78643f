"""Deliberately broken lab 4 submissions, as edits of the reference solution (see lab1.py)."""

from . import apply

SOLUTION = "lab4_recordstore.py"

BROKEN = {
    # update() without the lock: concurrent increments are lost
    "update_without_lock": ([("        with self.lock(i, timeout):\n            off = self.offset(i)\n"
                              "            new = tuple(change(self.record.unpack_from(self.mm, off)))\n"
                              "            self.record.pack_into(self.mm, off, *new)\n",
                              "        off = self.offset(i)\n"
                              "        new = tuple(change(self.record.unpack_from(self.mm, off)))\n"
                              "        self.record.pack_into(self.mm, off, *new)\n")],
                            "no_lost_updates", "failed"),
    # one lock for the whole file (length 0 = to EOF): other records wait
    "whole_file_lock": ([("start, length = self.offset(i), self.record.size",
                          "start, length = 0, 0")],
                        "per_record_locks", "failed"),
    # MAP_PRIVATE: writes never reach the file
    "map_private": ([("flags=mmap.MAP_SHARED", "flags=mmap.MAP_PRIVATE")],
                    "reaches_the_file", "failed"),
    # no index check: read(-1) reads the header
    "no_index_check": ([("        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < self.count:\n"
                         "            raise IndexError(f\"record index must be an int in 0..{self.count - 1}, got {i!r}\")\n",
                         "")],
                       "bad_input", "failed"),
    # read() with no lock at all (as records.RecordStore's default read): it can see half a write
    "read_unlocked": ([("        with self.lock(i, timeout, shared=True):\n"
                        "            return self.record.unpack_from(self.mm, self.offset(i))\n",
                        "        return self.record.unpack_from(self.mm, self.offset(i))\n")],
                      "readers_share", "failed"),
    # read() under an exclusive lock: readers wait for each other
    "read_exclusive": ([("with self.lock(i, timeout, shared=True):", "with self.lock(i, timeout):")],
                       "readers_share", "failed"),
    # its own layout (a 64-byte header, as records.RecordStore): the file is not the brief's
    "own_layout": ([('HEADER = struct.Struct("<8sII16s")', 'HEADER = struct.Struct("<8sII48s")'),
                    ("if len(fmt.encode()) > 16", "if len(fmt.encode()) > 48")],
                   "reaches_the_file", "failed"),
}


def make(kind, solution_text):
    """The broken module's text."""
    return apply(BROKEN, kind, solution_text)