# Your file for lab5: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab5_lrucache.ipynb; check your work with ipclab.check("lab5").
# (Course maintainers: this file is generated from solutions/lab5_lrucache.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
"""Lab 5: a shared LRU cache in POSIX shared memory, safe for several processes.

A cache of at most *capacity* entries (a key of 1..key_size bytes -> a value of
0..value_size bytes). When it is full, ``put`` of a new key evicts the **least recently
used** entry: the one nobody has read or written for the longest time. Everything lives in
ONE POSIX shared memory segment, so every process that attaches sees the same cache:

    segment: | header | slot 0 | slot 1 | ... | slot capacity-1 |
    header:  MAGIC (8s) | capacity | key_size | value_size | size | head | tail | hits | misses | evictions
    slot:    | prev i32 | next i32 | key length u16 | value length u16 | key (key_size) | value (value_size) |

The slots in use form a **doubly linked list** by slot index (``NIL`` = -1 ends it):
``head`` is the most recently used entry, ``tail`` the least recently used one. A hit or a
put moves the entry to the head; an eviction takes the tail. Slots are handed out in order
(0, 1, 2...) while ``size < capacity``; after that a new key reuses the evicted tail's
slot. hits / misses count ``get`` calls, evictions count entries pushed out by ``put``.

One lock guards the whole segment: a System V semaphore set of one semaphore (value 1 =
free), taken with ``SEM_UNDO`` so that if a process dies holding it the kernel gives it
back (a dead holder could still leave a half-done change behind: keep the critical
sections short and never raise in the middle of one). Every wait has a timeout.
"""

import contextlib
import mmap
import struct
from collections import namedtuple

import posix_ipc

from ipclab import objects, semset
from ipclab.mechanisms.semset import SEM_UNDO

MAGIC = b"IPCLAB5\0"
HEADER = struct.Struct("<8sIIIIiiQQQ")  # magic, capacity, key_size, value_size, size, head, tail, hits, misses, evictions
FIXED = struct.Struct("<8sIII")         # magic, capacity, key_size, value_size: written once, at creation
STATE = struct.Struct("<IiiQQQ")        # size, head, tail, hits, misses, evictions: rewritten under the lock
# _set() rewrites STATE only: struct.pack_into clears the bytes it is about to write before
# writing them, so rewriting capacity "with the same value" would let an attaching process,
# which reads it without the lock, see 0.
ENTRY = struct.Struct("<iiHH")          # prev, next, key length, value length (then key, value bytes)
NIL = -1                                # "no slot": the end of the list
DEFAULT_TIMEOUT = 5.0                   # seconds; every wait has one
FIELDS = ("magic", "capacity", "key_size", "value_size", "size", "head", "tail", "hits", "misses", "evictions")

Header = namedtuple("Header", FIELDS)
Entry = namedtuple("Entry", "prev next key value")

PROTOCOL = """
(Write your synchronisation protocol here, in your own words; your teacher reads it
with your grade. Replace every line in brackets.)
Shared state: [what lives in shared memory / the file / the queues, and its layout]
Locks: [each semaphore or lock, its initial value, and exactly what it guards]
Order: [if a process ever holds two locks, the order it takes them in, and why no deadlock]
Invariants: [what is true of the shared state whenever no process holds its lock]
Waiting: [every blocking call, and its timeout]
Death: [what happens when a process dies while holding a lock, and who cleans up]
"""


class LRUCache:
    """An LRU cache shared by processes: one POSIX shm segment and one System V semaphore.

    ``LRUCache.create(capacity, key_size, value_size)`` makes the kernel objects (the
    creator owns them and calls ``destroy()``); other processes call
    ``LRUCache.attach(cache.handle)`` and ``close()`` when done.
    """

    def __init__(self, shm, mm, sems, owner):
        self.shm, self.mm = shm, mm   # the posix_ipc.SharedMemory and its mapping
        self.sems = sems              # an ipclab.mechanisms.semset.SemaphoreSet of 1 semaphore: the lock
        self.owner = owner            # True in the creating process
        h = self._header()
        self.capacity, self.key_size, self.value_size = h.capacity, h.key_size, h.value_size

    @property
    def handle(self):
        """What another process needs to attach: (segment name, semaphore set id)."""
        return (self.shm.name, self.sems.id)

    def __repr__(self):
        return f"<LRUCache {self.shm.name} capacity={self.capacity}>"

    # -- the layout (given) -----------------------------------------------------------
    @staticmethod
    def segment_size(capacity, key_size, value_size):
        """Bytes of a segment: header + capacity slots."""
        return HEADER.size + capacity * (ENTRY.size + key_size + value_size)

    def slot_offset(self, i):
        """Byte offset of slot *i* in the segment."""
        return HEADER.size + i * (ENTRY.size + self.key_size + self.value_size)

    def _header(self):
        """The header as a Header namedtuple (read it under the lock)."""
        return Header(*HEADER.unpack_from(self.mm, 0))

    def _set(self, **fields):
        """Change some header fields, e.g. ``self._set(head=i, size=h.size + 1)`` (lock held)."""
        h = self._header()._replace(**fields)
        STATE.pack_into(self.mm, FIXED.size, h.size, h.head, h.tail, h.hits, h.misses, h.evictions)

    def _entry(self, i):
        """Slot *i* as an Entry(prev, next, key, value)."""
        off = self.slot_offset(i)
        prev, nxt, klen, vlen = ENTRY.unpack_from(self.mm, off)
        key = bytes(self.mm[off + ENTRY.size: off + ENTRY.size + klen])
        vstart = off + ENTRY.size + self.key_size
        return Entry(prev, nxt, key, bytes(self.mm[vstart: vstart + vlen]))

    def _write_entry(self, i, prev, nxt, key, value):
        """Write all of slot *i*."""
        off = self.slot_offset(i)
        ENTRY.pack_into(self.mm, off, prev, nxt, len(key), len(value))
        self.mm[off + ENTRY.size: off + ENTRY.size + len(key)] = key
        vstart = off + ENTRY.size + self.key_size
        self.mm[vstart: vstart + len(value)] = value

    def _set_links(self, i, prev=None, nxt=None):
        """Change slot *i*'s prev and/or next (None: keep)."""
        off = self.slot_offset(i)
        p, n, klen, vlen = ENTRY.unpack_from(self.mm, off)
        ENTRY.pack_into(self.mm, off, p if prev is None else prev, n if nxt is None else nxt, klen, vlen)

    def _check(self, key, value=b""):
        """ValueError unless key is 1..key_size bytes and value 0..value_size bytes."""
        if not isinstance(key, bytes) or not 1 <= len(key) <= self.key_size:
            raise ValueError(f"key must be 1..{self.key_size} bytes, got {key!r}")
        if not isinstance(value, bytes) or len(value) > self.value_size:
            raise ValueError(f"value must be 0..{self.value_size} bytes, got {len(value) if isinstance(value, bytes) else value!r}")

    # -- kernel objects -----------------------------------------------------------------
    @classmethod
    def create(cls, capacity, key_size=16, value_size=64):
        """Make the segment (header written: size 0, head = tail = NIL, counters 0) and the lock (value 1).

        ``ValueError`` unless capacity >= 1 and 1 <= key_size, value_size <= 65535. Use
        ``objects.create_posix_shm`` and ``semset.create`` (unique names, 0600, registered);
        if the second fails, remove the first.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.create() (see labs/lab5_lrucache.ipynb)")

    @classmethod
    def attach(cls, handle):
        """Open the segment and the semaphore set named by *handle* in this process."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.attach() (see labs/lab5_lrucache.ipynb)")

    @contextlib.contextmanager
    def locked(self, timeout=DEFAULT_TIMEOUT):
        """Hold the cache's lock for the ``with`` block: P with SEM_UNDO (at most *timeout* s,
        then ``TimeoutError``), V with SEM_UNDO at the end, even on an exception."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.locked() (see labs/lab5_lrucache.ipynb)")

    # -- the list (call these with the lock held) -------------------------------------------
    def _find(self, key):
        """The slot holding *key*, or NIL: walk the list from head."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache._find() (see labs/lab5_lrucache.ipynb)")

    def _unlink(self, i):
        """Take slot *i* out of the list (fix its neighbours, or head/tail if it was at an end)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache._unlink() (see labs/lab5_lrucache.ipynb)")

    def _push_front(self, i):
        """Put slot *i* (not in the list) at the head: it becomes the most recently used."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache._push_front() (see labs/lab5_lrucache.ipynb)")

    # -- the cache ---------------------------------------------------------------------
    def get(self, key, timeout=DEFAULT_TIMEOUT):
        """The value of *key* (and it becomes the most recently used; hits += 1), or None (misses += 1)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.get() (see labs/lab5_lrucache.ipynb)")

    def put(self, key, value, timeout=DEFAULT_TIMEOUT):
        """Store *value* under *key*, most recently used; return the evicted key, or None.

        A key already present gets its new value (nothing evicted). A new key takes the next
        unused slot, or, if the cache is full, the least recently used entry's slot
        (evictions += 1). ``ValueError`` for a bad key or value size.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.put() (see labs/lab5_lrucache.ipynb)")

    def keys(self, timeout=DEFAULT_TIMEOUT):
        """Every key, most recently used first (read under the lock)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.keys() (see labs/lab5_lrucache.ipynb)")

    def stats(self, timeout=DEFAULT_TIMEOUT):
        """``{"size", "capacity", "hits", "misses", "evictions"}`` read from the segment, under the lock."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.stats() (see labs/lab5_lrucache.ipynb)")

    def __len__(self):
        return self.stats()["size"]

    def close(self):
        """This process is done: unmap and close the segment's descriptor (the objects stay)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.close() (see labs/lab5_lrucache.ipynb)")

    def destroy(self):
        """Owner only: close, then remove the segment and the semaphore set from the system."""
        # YOUR CODE HERE
        raise NotImplementedError("lab5: write LRUCache.destroy() (see labs/lab5_lrucache.ipynb)")
