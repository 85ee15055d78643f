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

### BEGIN SOLUTION
PROTOCOL = """
Shared state: ONE POSIX shared memory segment: a header (magic, capacity, key and value
sizes written once at creation; size, head, tail, hits, misses, evictions) and capacity
slots, each with prev/next slot indices (a doubly linked list, NIL = -1 ends it), lengths,
key and value bytes. Nothing about the cache lives in a process.
Locks: one System V semaphore (a set of one, value 1 = free) guards the WHOLE segment
except the fixed fields: the list links, head, tail, size, the slots' contents and the
three counters. Every get/put/keys/stats is one critical section (find, unlink, push
front, evict, count) taken with P and left with V, both with SEM_UNDO.
Order: one lock only, so no lock order; never wait for anything else while holding it.
Invariants (whenever the semaphore is 1): walking next from head visits exactly size
distinct slots and ends at tail; walking prev from tail visits the same slots in reverse;
size <= capacity; keys are distinct; head is the most recently used key, tail the least;
hits + misses = number of get() calls that completed.
Waiting: P is semtimedop with a timeout (TimeoutError); nothing else blocks.
Death: SEM_UNDO gives the semaphore back when a holder dies; the critical sections are
short and never raise halfway, but a holder killed in the middle of one can still leave
the list half-relinked (the semaphore protects against concurrency, not against crashes).
The creator owns both objects and removes them in destroy().
"""
### END SOLUTION


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
        ### BEGIN SOLUTION
        for what, v, top in (("capacity", capacity, None), ("key_size", key_size, 65535),
                             ("value_size", value_size, 65535)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1 or (top and v > top):
                raise ValueError(f"{what} must be an int in 1..{top or 'any'}, got {v!r}")
        size = cls.segment_size(capacity, key_size, value_size)
        shm = objects.create_posix_shm(size, tag="lru")  # C: shm_open(O_CREAT|O_EXCL, 0600) + ftruncate
        try:
            mm = mmap.mmap(shm.fd, size)                  # C: mmap(MAP_SHARED)
            HEADER.pack_into(mm, 0, MAGIC, capacity, key_size, value_size, 0, NIL, NIL, 0, 0, 0)
            sems = semset.create(1, values=[1], note="lab5 lru lock")  # C: semget(IPC_CREAT|IPC_EXCL) + semctl(SETALL)
        except BaseException:
            objects.remove_posix_shm(shm)
            raise
        return cls(shm, mm, sems, owner=True)
        ### END SOLUTION

    @classmethod
    def attach(cls, handle):
        """Open the segment and the semaphore set named by *handle* in this process."""
        ### BEGIN SOLUTION
        name, semid = handle
        shm = posix_ipc.SharedMemory(name)       # C: shm_open(name, O_RDWR)
        mm = mmap.mmap(shm.fd, shm.size)
        return cls(shm, mm, semset.SemaphoreSet.attach(semid), owner=False)
        ### END SOLUTION

    @contextlib.contextmanager
    def locked(self, timeout=DEFAULT_TIMEOUT):
        """Hold the cache's lock for the ``with`` block: P with SEM_UNDO (at most *timeout* s,
        then ``TimeoutError``), V with SEM_UNDO at the end, even on an exception."""
        ### BEGIN SOLUTION
        self.sems.op([(0, -1, SEM_UNDO)], timeout=timeout)  # C: semtimedop({0, -1, SEM_UNDO})
        try:
            yield
        finally:
            self.sems.op([(0, +1, SEM_UNDO)], timeout=0)    # C: semop({0, +1, SEM_UNDO})
        ### END SOLUTION

    # -- the list (call these with the lock held) -------------------------------------------
    def _find(self, key):
        """The slot holding *key*, or NIL: walk the list from head."""
        ### BEGIN SOLUTION
        i = self._header().head
        while i != NIL:
            e = self._entry(i)
            if e.key == key:
                return i
            i = e.next
        return NIL
        ### END SOLUTION

    def _unlink(self, i):
        """Take slot *i* out of the list (fix its neighbours, or head/tail if it was at an end)."""
        ### BEGIN SOLUTION
        e = self._entry(i)
        if e.prev == NIL:
            self._set(head=e.next)
        else:
            self._set_links(e.prev, nxt=e.next)
        if e.next == NIL:
            self._set(tail=e.prev)
        else:
            self._set_links(e.next, prev=e.prev)
        self._set_links(i, prev=NIL, nxt=NIL)
        ### END SOLUTION

    def _push_front(self, i):
        """Put slot *i* (not in the list) at the head: it becomes the most recently used."""
        ### BEGIN SOLUTION
        h = self._header()
        self._set_links(i, prev=NIL, nxt=h.head)
        if h.head == NIL:
            self._set(head=i, tail=i)
        else:
            self._set_links(h.head, prev=i)
            self._set(head=i)
        ### END SOLUTION

    # -- the cache ---------------------------------------------------------------------
    def get(self, key, timeout=DEFAULT_TIMEOUT):
        """The value of *key* (and it becomes the most recently used; hits += 1), or None (misses += 1)."""
        ### BEGIN SOLUTION
        self._check(key)
        with self.locked(timeout):
            i = self._find(key)
            h = self._header()
            if i == NIL:
                self._set(misses=h.misses + 1)
                return None
            self._unlink(i)
            self._push_front(i)
            self._set(hits=h.hits + 1)
            return self._entry(i).value
        ### END SOLUTION

    def put(self, key, value, timeout=DEFAULT_TIMEOUT):
        """Store *value* under *key*, most recently used; return the evicted key, or None.

        A key already present gets its new value (nothing evicted). A new key takes the next
        unused slot, or, if the cache is full, the least recently used entry's slot
        (evictions += 1). ``ValueError`` for a bad key or value size.
        """
        ### BEGIN SOLUTION
        self._check(key, value)
        with self.locked(timeout):
            evicted = None
            i = self._find(key)
            if i != NIL:
                self._unlink(i)
            else:
                h = self._header()
                if h.size < h.capacity:
                    i = h.size
                    self._set(size=h.size + 1)
                else:
                    i = h.tail
                    evicted = self._entry(i).key
                    self._unlink(i)
                    self._set(evictions=h.evictions + 1)
            self._write_entry(i, NIL, NIL, key, value)
            self._push_front(i)
            return evicted
        ### END SOLUTION

    def keys(self, timeout=DEFAULT_TIMEOUT):
        """Every key, most recently used first (read under the lock)."""
        ### BEGIN SOLUTION
        with self.locked(timeout):
            out, i = [], self._header().head
            while i != NIL and len(out) <= self.capacity:
                e = self._entry(i)
                out.append(e.key)
                i = e.next
            return out
        ### END SOLUTION

    def stats(self, timeout=DEFAULT_TIMEOUT):
        """``{"size", "capacity", "hits", "misses", "evictions"}`` read from the segment, under the lock."""
        ### BEGIN SOLUTION
        with self.locked(timeout):
            h = self._header()
        return {"size": h.size, "capacity": h.capacity, "hits": h.hits, "misses": h.misses,
                "evictions": h.evictions}
        ### END SOLUTION

    def __len__(self):
        return self.stats()["size"]

    def close(self):
        """This process is done: unmap and close the segment's descriptor (the objects stay)."""
        ### BEGIN SOLUTION
        self.mm.close()      # C: munmap
        self.shm.close_fd()  # C: close
        ### END SOLUTION

    def destroy(self):
        """Owner only: close, then remove the segment and the semaphore set from the system."""
        ### BEGIN SOLUTION
        self.mm.close()
        objects.remove_posix_shm(self.shm)  # C: shm_unlink + close
        self.sems.remove()                  # C: semctl(IPC_RMID)
        ### END SOLUTION
