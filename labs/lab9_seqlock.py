# Your file for lab9: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab9_seqlock.ipynb; check your work with ipclab.check("lab9").
# (Course maintainers: this file is generated from solutions/lab9_seqlock.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
"""Lab 9 (19.7): a record in System V shared memory, read without a lock through a seqlock.

One writer process updates a small record; any number of reader processes read it at the
same time, never take a lock, never write, and never return a torn record (half of one
write and half of another). The record is four unsigned 64-bit words at the start of one
System V shared memory segment; the layout is part of the contract (the tests read and
write the kernel's bytes themselves, as a C program attached to the same segment would):

    word 0 (bytes 0..7)    seq    even: the record is stable; odd: a write is in progress;
                                  0 at creation, 2k after k writes, it only grows
    word 1 (bytes 8..15)   x
    word 2 (bytes 16..23)  y
    word 3 (bytes 24..31)  total  (x + y) mod 2**64, so a torn record shows

Words are native unsigned 64-bit integers (``memoryview(...).cast("Q")``), each at an
8-byte aligned offset. One process writes at a time (the contract does not ask you to
serialise several writers). Every read has a timeout. The creator detaches (``shmdt``) and
removes (``IPC_RMID``) the segment; every other process detaches; at the end no process is
attached and the segment is gone.
"""

import time

import sysv_ipc

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

SIZE = 32                      # bytes of the record: 4 words (the kernel rounds the segment up to a page)
SEQ, X, Y, TOTAL = 0, 1, 2, 3  # word indices (byte offset = 8 * index)
MASK = 2**64 - 1               # words are unsigned 64-bit
DEFAULT_TIMEOUT = 5.0          # seconds a read() may keep retrying


class SeqRecord:
    """The shared record as one process sees it.

    ``SeqRecord.create()`` makes the segment (its creator calls ``destroy()`` at the end);
    another process calls ``SeqRecord.attach(rec.handle)`` and ``close()`` when done.
    """

    def __init__(self, shm, owner):
        """Wrap *shm*, a ``sysv_ipc.SharedMemory`` attached in this process; *owner*: we created it."""
        self.shm = shm          # the segment, attached (shmat) in this process
        self.owner = owner      # True in the creating process
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.__init__() (see labs/lab9_seqlock.ipynb)")

    @property
    def handle(self):
        """What another process needs to attach: the segment's id (``shmid``)."""
        return self.shm.id

    @classmethod
    def create(cls):
        """Create a fresh segment of SIZE bytes (all zero: seq 0), mode 0600, attached; the owner's record."""
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.create() (see labs/lab9_seqlock.ipynb)")

    @classmethod
    def attach(cls, handle):
        """Attach the segment whose id is *handle* in this process."""
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.attach() (see labs/lab9_seqlock.ipynb)")

    def write(self, x, y):
        """Publish the record (x, y, (x + y) mod 2**64); only one process writes at a time.

        x and y are ints in 0..2**64 - 1 (``ValueError`` otherwise). Never blocks.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.write() (see labs/lab9_seqlock.ipynb)")

    def read(self, timeout=DEFAULT_TIMEOUT):
        """A consistent snapshot ``(seq, x, y, total)``, seq even: never half of one write.

        Retry while a write is in progress or overlapped the read; raise ``TimeoutError``
        if no consistent snapshot was seen within *timeout* seconds. Never writes.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.read() (see labs/lab9_seqlock.ipynb)")

    def close(self):
        """Detach this process's attachment (``shmdt``); the record is unusable afterwards."""
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.close() (see labs/lab9_seqlock.ipynb)")

    def destroy(self):
        """Owner only: detach and remove the segment (``shmdt`` + ``shmctl(IPC_RMID)``)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab9: write SeqRecord.destroy() (see labs/lab9_seqlock.ipynb)")

    def _drop_views(self):
        """Release the memoryview before shmdt: sysv_ipc lets you detach under a live view,
        and a later access through it would touch unmapped memory (SIGSEGV)."""
        words, self.words = getattr(self, "words", None), None
        if words is not None:
            words.release()
