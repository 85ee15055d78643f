# Your file for lab4: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab4_recordstore.ipynb; check your work with ipclab.check("lab4").
# (Course maintainers: this file is generated from solutions/lab4_recordstore.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
"""Lab 4 (19.5): a file of fixed-size records, mapped MAP_SHARED, updated in place by several processes.

The whole file is mapped with ``MAP_SHARED``: a write into the mapping *is* a write into
the page cache, seen at once by every process that maps the file and by ``read()``;
``msync`` (``flush()``) writes it to the disk. Record *i* lives at a fixed offset, so
nothing is ever moved:

    file:    | header (32 bytes) | record 0 | record 1 | ... | record count-1 |
    header:  magic b"IPCLAB4\\0" (8s) | record size u32 | count u32 | struct format (16s, NUL-padded)
    record i starts at  HEADER.size + i * record_size   and is record_size bytes long

The layout is a contract: a C program (or the grader) reading the file finds the records
where it expects them, so ``MAGIC`` and ``HEADER`` are exactly these.

A record is packed with :mod:`struct` from its format, e.g. ``"<q12s"`` (an int64 counter
and a 12-byte label). Each record has **its own readers-writer lock**: an ``fcntl``
byte-range lock on exactly the record's bytes, ``[offset(i), offset(i) + record_size)``,
*shared* (``F_RDLCK``) to read, *exclusive* (``F_WRLCK``) to write or update. Readers of
one record never wait for each other, a writer waits for every reader and excludes them,
two processes working on different records never wait for each other, and the kernel
drops a process's locks when it dies. Every lock wait has a timeout: poll the non-blocking form
(``fcntl.lockf(fd, LOCK_EX | LOCK_NB, length, start)``, C: ``fcntl(fd, F_SETLK, &fl)``)
until it succeeds or the deadline passes, then raise ``TimeoutError``.

Two facts about fcntl locks to keep in mind: they belong to the *process* (locking a
record you already hold succeeds at once), and closing *any* descriptor of the file drops
all of the process's locks on it (so keep one descriptor open for the store's lifetime).
"""

import contextlib
import fcntl
import mmap
import os
import struct
import time

MAGIC = b"IPCLAB4\0"
HEADER = struct.Struct("<8sII16s")  # magic, record size, count, format (NUL-padded)
DEFAULT_TIMEOUT = 5.0               # seconds; every lock wait has one
POLL = 0.001                        # seconds between two tries of a non-blocking lock

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


class Store:
    """*count* fixed-size records in a file, mapped MAP_SHARED, each with its own lock.

    ``Store.create(path, fmt, count)`` writes a fresh store into an existing file;
    ``Store.open(path)`` maps an existing store (in any process: the header says
    everything). ``close()`` unmaps and closes; the file itself stays.
    """

    def __init__(self, path, fd, mm, fmt, count):
        self.path = path                  # the file
        self.fd = fd                      # one descriptor, open for the store's lifetime (locks live on it)
        self.mm = mm                      # the MAP_SHARED mapping of the whole file
        self.format = fmt                 # the struct format of a record, e.g. "<q12s"
        self.record = struct.Struct(fmt)  # record.size bytes per record
        self.count = count                # number of records

    def __repr__(self):
        return f"<Store {self.path} {self.count} x {self.format!r}{' closed' if self.mm is None else ''}>"

    def __len__(self):
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @classmethod
    def create(cls, path, fmt, count):
        """Write a fresh store of *count* zeroed records into the existing file *path*; return it open.

        ``ValueError`` if *count* is not an int >= 1 or *fmt* is not a struct format that fits
        in the header (at most 16 bytes). Size the file (``os.truncate``, C: ``ftruncate``)
        **before** mapping it, write the header, then :meth:`open` it.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.create() (see labs/lab4_recordstore.ipynb)")

    @classmethod
    def open(cls, path):
        """Map the store in *path*: read and check the header, then mmap the whole file MAP_SHARED.

        ``ValueError`` if the file does not start with ``MAGIC`` or is shorter than its header
        says. C: ``fd = open(path, O_RDWR); mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)``.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.open() (see labs/lab4_recordstore.ipynb)")

    def offset(self, i):
        """Byte offset of record *i* in the file; ``IndexError`` naming the valid range if *i* is not 0..count-1."""
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.offset() (see labs/lab4_recordstore.ipynb)")

    @contextlib.contextmanager
    def lock(self, i, timeout=DEFAULT_TIMEOUT, shared=False):
        """Hold an fcntl lock on record *i*'s bytes only, for the ``with`` block.

        Exclusive (a write lock, ``LOCK_EX``) by default; with ``shared=True`` a read lock
        (``LOCK_SH``) that other readers may hold at the same time but no writer. Poll
        ``fcntl.lockf(self.fd, LOCK_EX | LOCK_NB, size, offset)`` (it raises
        ``BlockingIOError`` or ``PermissionError`` while another process holds a conflicting
        lock) every ``POLL`` s; after *timeout* seconds raise ``TimeoutError`` saying which
        record. Unlock (``LOCK_UN``, same range) when the block ends, even on an exception.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.lock() (see labs/lab4_recordstore.ipynb)")

    def read(self, i, timeout=DEFAULT_TIMEOUT):
        """Record *i* as a tuple, read under a *shared* lock on it (never half-written).

        Several processes may read record *i* at once; none of them while another process
        writes or updates it (its exclusive lock). ``TimeoutError`` after *timeout*.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.read() (see labs/lab4_recordstore.ipynb)")

    def write(self, i, values, timeout=DEFAULT_TIMEOUT):
        """Replace record *i* with the tuple *values*, under its exclusive lock."""
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.write() (see labs/lab4_recordstore.ipynb)")

    def update(self, i, change, timeout=DEFAULT_TIMEOUT):
        """Read-modify-write record *i* under ONE hold of its exclusive lock: store ``change(old)`` and return it.

        *change* takes the old tuple and returns the new one; it may take its time, and no
        other process may touch record *i* in the meantime (else updates are lost).
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.update() (see labs/lab4_recordstore.ipynb)")

    def flush(self):
        """Write the dirty pages back to the file now (``msync(MS_SYNC)``: ``mmap.flush()``)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.flush() (see labs/lab4_recordstore.ipynb)")

    def close(self):
        """Unmap and close the descriptor (this drops the process's locks). Safe to call twice."""
        # YOUR CODE HERE
        raise NotImplementedError("lab4: write Store.close() (see labs/lab4_recordstore.ipynb)")
