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

### BEGIN SOLUTION
PROTOCOL = """
Shared state: one System V segment (shmget IPC_CREAT|IPC_EXCL, 0600, a course key) of
four native u64 words: seq, x, y, total; each process maps it with shmat and reads and
writes whole aligned words through memoryview.cast("Q") (one 8-byte load or store each,
never struct.pack_into, which clears the bytes before writing them).
Locks: none. The sequence number guards x, y and total: one writer only (the contract),
so seq needs no lock; the writer is the only process that stores into the segment.
Order: the writer stores seq+1 (odd), then x, y, total, then seq+2 (even); a reader loads
seq (s1), retries while it is odd, loads x, y, total, loads seq again (s2) and keeps the
snapshot only if s2 == s1. Python gives no fences: this relies on x86-64 keeping stores in
program order and loads in program order (TSO); on arm64 a C reader would need the acquire
fences of the kernel's read_seqcount_begin/retry.
Invariants: seq is even iff no write is in progress; while seq is even and unchanged,
x, y, total are those of write seq/2 and total == (x + y) mod 2**64; seq only grows.
Waiting: read() retries (yielding the CPU between tries) until its timeout, then raises
TimeoutError; write() never waits.
Death: a dead reader changes nothing (readers never write). A writer killed mid-write
leaves seq odd for ever: readers time out instead of returning half a record. The kernel
detaches a dead process's segment (nattch drops); the creator's destroy() does shmdt +
IPC_RMID, in a finally, so the segment goes even when a child crashed.
"""
### END SOLUTION

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
        ### BEGIN SOLUTION
        self.words = memoryview(shm).cast("Q")   # 4 aligned 8-byte words over the attachment
        ### END SOLUTION

    @property
    def handle(self):
        """What another process needs to attach: the segment's id (``shmid``)."""
        return self.shm.id

    @classmethod
    def create(cls):
        """Create a fresh segment of SIZE bytes (all zero: seq 0), mode 0600, attached; the owner's record."""
        ### BEGIN SOLUTION
        shm = objects.create_sysv_shm(SIZE, note="lab9 record")  # C: shmget(key, 32, IPC_CREAT|IPC_EXCL|0600); shmat
        shm.write(bytes(SIZE))     # sysv_ipc fills a new segment with spaces (init_character=' '): seq 0
        return cls(shm, owner=True)
        ### END SOLUTION

    @classmethod
    def attach(cls, handle):
        """Attach the segment whose id is *handle* in this process."""
        ### BEGIN SOLUTION
        return cls(sysv_ipc.attach(handle), owner=False)   # C: shmat(id, NULL, 0)
        ### END SOLUTION

    def write(self, x, y):
        """Publish the record (x, y, (x + y) mod 2**64); only one process writes at a time.

        x and y are ints in 0..2**64 - 1 (``ValueError`` otherwise). Never blocks.
        """
        ### BEGIN SOLUTION
        for v in (x, y):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MASK:
                raise ValueError(f"x and y are ints in 0..2**64-1, got {v!r}")
        w = self.words
        seq = w[SEQ]
        w[SEQ] = (seq + 1) & MASK          # odd: a write is in progress
        w[X] = x
        w[Y] = y
        w[TOTAL] = (x + y) & MASK
        w[SEQ] = (seq + 2) & MASK          # even again: the record is stable
        ### END SOLUTION

    def read(self, timeout=DEFAULT_TIMEOUT):
        """A consistent snapshot ``(seq, x, y, total)``, seq even: never half of one write.

        Retry while a write is in progress or overlapped the read; raise ``TimeoutError``
        if no consistent snapshot was seen within *timeout* seconds. Never writes.
        """
        ### BEGIN SOLUTION
        deadline = time.monotonic() + timeout
        w = self.words
        tries = 0
        while True:
            s1 = w[SEQ]
            if s1 % 2 == 0:
                x, y, total = w[X], w[Y], w[TOTAL]
                s2 = w[SEQ]
                if s1 == s2:
                    return (s1, x, y, total)
            tries += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"read: no stable record within {timeout} s (seq stayed {s1}: "
                                   "a writer died in the middle of a write?)")
            time.sleep(0 if tries < 50 else 0.0005)   # let the writer finish its write
        ### END SOLUTION

    def close(self):
        """Detach this process's attachment (``shmdt``); the record is unusable afterwards."""
        ### BEGIN SOLUTION
        self._drop_views()
        self.shm.detach()                  # C: shmdt(addr)
        ### END SOLUTION

    def destroy(self):
        """Owner only: detach and remove the segment (``shmdt`` + ``shmctl(IPC_RMID)``)."""
        ### BEGIN SOLUTION
        self._drop_views()
        objects.remove_sysv(self.shm)      # C: shmdt(addr); shmctl(id, IPC_RMID, NULL)
        ### END SOLUTION

    def _drop_views(self):
        """Release the memoryview before shmdt: sysv_ipc lets you detach under a live view,
        and a later access through it would touch unmapped memory (SIGSEGV)."""
        words, self.words = getattr(self, "words", None), None
        if words is not None:
            words.release()
