"""Lab 1 (19.1): a bounded multi-producer / multi-consumer stream in POSIX shared memory.

The buffer is one POSIX shared memory segment and three POSIX semaphores:

    segment:  | head u32 | tail u32 | capacity u32 | item_size u32 | ended u32 | slot 0 | slot 1 | ... |
              head = next slot get() reads, tail = next slot put() writes (both wrap at capacity)
              ended = 1 once end() was called
    slot:     | length u32 | item_size bytes |      a length of 0 is the end-of-stream marker
    empty     counts free slots   (starts at capacity)   put() waits on it, get() posts it
    full      counts used slots   (starts at 0)          get() waits on it, put() posts it
    mutex     guards head, tail, ended and the slots (starts at 1)

Any number of processes put and get at once; a record is delivered exactly once, and the
records of one producer come out in the order it put them. ``end()`` closes the stream:
the records already in come out first, then every consumer (those already waiting too)
gets ``None``, and a later ``put()`` raises ``BrokenPipeError``. Every wait has a timeout.
"""

import mmap
import struct

import posix_ipc

from ipclab import objects

### BEGIN SOLUTION
PROTOCOL = """
Shared state: the segment holds head, tail, capacity, item_size, ended, then capacity
slots of (length, bytes); capacity and item_size are written once, at creation.
Locks: empty (starts at capacity) counts free slots; full (starts at 0) counts slots
holding a record or the end marker; mutex (starts at 1) guards head, tail, ended and the
slot between them that is being copied.
Order: empty or full first, then mutex; never wait on empty or full while holding mutex,
so no cycle of waits. A mutex timeout gives back the empty/full unit already taken.
Invariants (mutex free): records in the ring = (tail - head) mod capacity, or capacity
when the ring is full; empty + full + (1 if a marker is in) = capacity, except for units
in flight; slots head..tail-1 hold records in put order; ended = 1 iff the marker is in
the ring, and it is then the last slot written.
Waiting: every sem wait is sem_timedwait with the caller's timeout.
End: end() writes a length-0 marker like a record (taking empty), sets ended, posts full.
A get() that finds the marker leaves it and posts full again, so the next waiting consumer
wakes too (a baton): every consumer, however many, returns None. put() after end() gives
its empty unit back and raises BrokenPipeError.
Death: a process killed while holding mutex leaves it at 0 (POSIX semaphores have no
undo): the others time out; the creator's destroy() removes everything.
"""
### END SOLUTION

HEADER = struct.Struct("<IIIII")  # head, tail, capacity, item_size, ended
INDEX = struct.Struct("<II")     # head, tail: the only header fields put() and get() rewrite
# Why not rewrite the whole HEADER? struct.pack_into clears the bytes it is about to write
# before writing them: another process reading capacity at that instant (attach() does, without
# the mutex) would see 0. Fields that never change are written once, at creation.
ENDED = struct.Struct("<I")      # the ended flag, at offset ENDED_AT
ENDED_AT = 16
LENGTH = struct.Struct("<I")     # length of the record in a slot (0: the end-of-stream marker)
DEFAULT_TIMEOUT = 10.0           # seconds; every wait has one


class RingBuffer:
    """A bounded FIFO of byte records (1..item_size bytes each) shared by processes.

    ``RingBuffer.create(capacity, item_size)`` makes the kernel objects (the creator owns
    them and calls ``destroy()``); other processes call ``RingBuffer.attach(rb.handle)``
    and ``close()`` when done.
    """

    def __init__(self, shm, mm, empty, full, mutex, owner):
        self.shm, self.mm = shm, mm                          # the segment and its mapping
        self.empty, self.full, self.mutex = empty, full, mutex
        self.owner = owner                                   # True in the creating process
        self.capacity, self.item_size = HEADER.unpack_from(mm, 0)[2:4]

    @property
    def handle(self):
        """What another process needs to attach: the four POSIX names (picklable)."""
        return (self.shm.name, self.empty.name, self.full.name, self.mutex.name)

    def slot_offset(self, index):
        """Byte offset of slot *index* in the segment."""
        return HEADER.size + index * (LENGTH.size + self.item_size)

    @classmethod
    def create(cls, capacity, item_size):
        """Create the segment (header + capacity slots) and the three semaphores; return the owner's buffer.

        Use ``ipclab.core.objects`` (unique 0600 names, registered for cleanup). Raise
        ``ValueError`` if capacity or item_size is not a positive int.
        """
        ### BEGIN SOLUTION
        for what, v in (("capacity", capacity), ("item_size", item_size)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{what} must be a positive int, got {v!r}")
        size = HEADER.size + capacity * (LENGTH.size + item_size)
        shm = objects.create_posix_shm(size, tag="ring")  # C: shm_open(O_CREAT|O_EXCL) + ftruncate
        mm = mmap.mmap(shm.fd, size)                       # C: mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
        HEADER.pack_into(mm, 0, 0, 0, capacity, item_size, 0)
        empty = objects.create_posix_sem(capacity, tag="empty")  # C: sem_open(name, O_CREAT|O_EXCL, 0600, capacity)
        full = objects.create_posix_sem(0, tag="full")
        mutex = objects.create_posix_sem(1, tag="mutex")
        return cls(shm, mm, empty, full, mutex, owner=True)
        ### END SOLUTION

    @classmethod
    def attach(cls, handle):
        """Open the objects named by *handle* (from ``rb.handle``) in this process."""
        ### BEGIN SOLUTION
        shm_name, empty, full, mutex = handle
        shm = posix_ipc.SharedMemory(shm_name)              # C: shm_open(name, O_RDWR)
        mm = mmap.mmap(shm.fd, shm.size)
        sems = [posix_ipc.Semaphore(n) for n in (empty, full, mutex)]  # C: sem_open(name, 0)
        return cls(shm, mm, *sems, owner=False)
        ### END SOLUTION

    def put(self, data, timeout=DEFAULT_TIMEOUT):
        """Append the record *data* (bytes, 1..item_size long); wait while full.

        Raise ``TimeoutError`` if no slot frees up within *timeout* seconds, ``ValueError``
        for a record that is empty or longer than item_size, ``BrokenPipeError`` once the
        stream has ended (taking nothing).
        """
        ### BEGIN SOLUTION
        if not isinstance(data, (bytes, bytearray)) or not 1 <= len(data) <= self.item_size:
            raise ValueError(f"a record is 1..{self.item_size} bytes, got {len(data)}")
        _wait(self.empty, timeout, "put: the buffer stayed full")   # C: sem_timedwait(empty)
        try:
            _wait(self.mutex, timeout, "put: the mutex stayed taken")
        except TimeoutError:
            self.empty.release()
            raise
        try:
            if ENDED.unpack_from(self.mm, ENDED_AT)[0]:
                self.empty.release()                           # the slot was not used
                raise BrokenPipeError("put: the stream has ended")
            head, tail = INDEX.unpack_from(self.mm, 0)
            off = self.slot_offset(tail)
            LENGTH.pack_into(self.mm, off, len(data))
            self.mm[off + LENGTH.size: off + LENGTH.size + len(data)] = data
            INDEX.pack_into(self.mm, 0, head, (tail + 1) % self.capacity)
        finally:
            self.mutex.release()                               # C: sem_post(mutex)
        self.full.release()
        ### END SOLUTION

    def get(self, timeout=DEFAULT_TIMEOUT):
        """Remove and return the oldest record (bytes); wait while empty.

        Once the stream has ended and its records are gone, return ``None`` (at once, and
        to every consumer, those already waiting included). Raise ``TimeoutError`` if
        nothing arrives within *timeout* seconds.
        """
        ### BEGIN SOLUTION
        _wait(self.full, timeout, "get: the buffer stayed empty")
        try:
            _wait(self.mutex, timeout, "get: the mutex stayed taken")
        except TimeoutError:
            self.full.release()
            raise
        try:
            head, tail = INDEX.unpack_from(self.mm, 0)
            off = self.slot_offset(head)
            (n,) = LENGTH.unpack_from(self.mm, off)
            if n:
                data = bytes(self.mm[off + LENGTH.size: off + LENGTH.size + n])
                INDEX.pack_into(self.mm, 0, (head + 1) % self.capacity, tail)
        finally:
            self.mutex.release()
        if not n:                # the end marker: leave it, and pass the wake-up on
            self.full.release()
            return None
        self.empty.release()
        return data
        ### END SOLUTION

    def end(self, timeout=DEFAULT_TIMEOUT):
        """End the stream: records already in still come out, then every get() returns None.

        Calling it again does nothing. Raise ``TimeoutError`` if the buffer stays full (no
        slot for the end marker) for *timeout* seconds.
        """
        ### BEGIN SOLUTION
        _wait(self.empty, timeout, "end: the buffer stayed full")
        try:
            _wait(self.mutex, timeout, "end: the mutex stayed taken")
        except TimeoutError:
            self.empty.release()
            raise
        try:
            if ENDED.unpack_from(self.mm, ENDED_AT)[0]:
                self.empty.release()
                return
            head, tail = INDEX.unpack_from(self.mm, 0)
            LENGTH.pack_into(self.mm, self.slot_offset(tail), 0)   # the marker: a 0-length record
            INDEX.pack_into(self.mm, 0, head, (tail + 1) % self.capacity)
            ENDED.pack_into(self.mm, ENDED_AT, 1)
        finally:
            self.mutex.release()
        self.full.release()      # wakes one consumer; each one that sees the marker wakes the next
        ### END SOLUTION

    def close(self):
        """Unmap and close this process's handles (the objects stay for the others)."""
        ### BEGIN SOLUTION
        self.mm.close()                                        # C: munmap
        self.shm.close_fd()                                    # C: close(fd)
        for s in (self.empty, self.full, self.mutex):
            s.close()                                          # C: sem_close
        ### END SOLUTION

    def destroy(self):
        """Owner only: close, then remove the segment and the semaphores from the system."""
        ### BEGIN SOLUTION
        self.mm.close()
        objects.remove_posix_shm(self.shm)                      # C: shm_unlink + close
        for s in (self.empty, self.full, self.mutex):
            objects.remove_posix_sem(s)                         # C: sem_unlink + sem_close
        ### END SOLUTION


def _wait(sem, timeout, what):
    """``sem_timedwait``: take *sem* or raise TimeoutError saying *what* happened."""
    try:
        sem.acquire(timeout)
    except posix_ipc.BusyError:
        raise TimeoutError(f"{what} for {timeout} s") from None
