# Your file for lab1: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab1_ringbuffer.ipynb; check your work with ipclab.check("lab1").
# (Course maintainers: this file is generated from solutions/lab1_ringbuffer.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
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
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.create() (see labs/lab1_ringbuffer.ipynb)")

    @classmethod
    def attach(cls, handle):
        """Open the objects named by *handle* (from ``rb.handle``) in this process."""
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.attach() (see labs/lab1_ringbuffer.ipynb)")

    def put(self, data, timeout=DEFAULT_TIMEOUT):
        """Append the record *data* (bytes, 1..item_size long); wait while full.

        Raise ``TimeoutError`` if no slot frees up within *timeout* seconds, ``ValueError``
        for a record that is empty or longer than item_size, ``BrokenPipeError`` once the
        stream has ended (taking nothing).
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.put() (see labs/lab1_ringbuffer.ipynb)")

    def get(self, timeout=DEFAULT_TIMEOUT):
        """Remove and return the oldest record (bytes); wait while empty.

        Once the stream has ended and its records are gone, return ``None`` (at once, and
        to every consumer, those already waiting included). Raise ``TimeoutError`` if
        nothing arrives within *timeout* seconds.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.get() (see labs/lab1_ringbuffer.ipynb)")

    def end(self, timeout=DEFAULT_TIMEOUT):
        """End the stream: records already in still come out, then every get() returns None.

        Calling it again does nothing. Raise ``TimeoutError`` if the buffer stays full (no
        slot for the end marker) for *timeout* seconds.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.end() (see labs/lab1_ringbuffer.ipynb)")

    def close(self):
        """Unmap and close this process's handles (the objects stay for the others)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.close() (see labs/lab1_ringbuffer.ipynb)")

    def destroy(self):
        """Owner only: close, then remove the segment and the semaphores from the system."""
        # YOUR CODE HERE
        raise NotImplementedError("lab1: write RingBuffer.destroy() (see labs/lab1_ringbuffer.ipynb)")


def _wait(sem, timeout, what):
    """``sem_timedwait``: take *sem* or raise TimeoutError saying *what* happened."""
    try:
        sem.acquire(timeout)
    except posix_ipc.BusyError:
        raise TimeoutError(f"{what} for {timeout} s") from None
