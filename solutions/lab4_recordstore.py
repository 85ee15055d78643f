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

### BEGIN SOLUTION
PROTOCOL = """
Shared state: one file, mapped MAP_SHARED by every process: a 32-byte header written once by
create() (before anybody maps the file) and never changed, then count records of
record_size bytes; record i is bytes [32 + i*size, 32 + (i+1)*size).
Locks: one fcntl byte-range lock per record, on exactly its bytes (never length 0, which
would mean "to the end of the file" and lock every later record). read() holds it shared
(F_RDLCK), write() and update() hold it exclusive (F_WRLCK). The header needs no lock: it
is read-only after create().
Order: a process holds at most one record lock at a time, so no lock order can deadlock.
Invariants: outside an exclusive hold, every record is a complete struct of its format
(no reader sees half a write); update() reads, computes and writes under ONE exclusive
hold, so concurrent increments are never lost.
Waiting: every lock is tried with F_SETLK (non-blocking) and retried every POLL s until a
deadline, then TimeoutError naming the record.
Death: fcntl locks belong to the process; the kernel drops them when it dies. A writer
killed mid-record can leave that one record half-written (no transaction): records are
independent, so the others stay valid. The descriptor stays open for the store's life,
because closing any descriptor of the file drops all of this process's locks on it.
"""
### END SOLUTION


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
        ### BEGIN SOLUTION
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        try:
            rec = struct.Struct(fmt)
        except (struct.error, TypeError) as e:
            raise ValueError(f"bad record format {fmt!r}: {e}") from None
        if len(fmt.encode()) > 16 or rec.size == 0:
            raise ValueError(f"record format {fmt!r} must be 1..16 characters and describe >= 1 byte")
        os.truncate(path, 0)                                # drop an older content
        os.truncate(path, HEADER.size + rec.size * count)   # C: ftruncate; the records read as zeros
        fd = os.open(path, os.O_RDWR)
        try:
            os.pwrite(fd, HEADER.pack(MAGIC, rec.size, count, fmt.encode()), 0)
        finally:
            os.close(fd)
        return cls.open(path)
        ### END SOLUTION

    @classmethod
    def open(cls, path):
        """Map the store in *path*: read and check the header, then mmap the whole file MAP_SHARED.

        ``ValueError`` if the file does not start with ``MAGIC`` or is shorter than its header
        says. C: ``fd = open(path, O_RDWR); mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)``.
        """
        ### BEGIN SOLUTION
        fd = os.open(path, os.O_RDWR)
        try:
            head = os.pread(fd, HEADER.size, 0)
            if len(head) < HEADER.size or head[:8] != MAGIC:
                raise ValueError(f"{path} is not a lab 4 store (no {MAGIC!r} header)")
            _, size, count, fmt = HEADER.unpack(head)
            fmt = fmt.rstrip(b"\0").decode()
            total = HEADER.size + size * count
            if struct.calcsize(fmt) != size or os.fstat(fd).st_size < total:
                raise ValueError(f"{path}: header and file size disagree (truncated?)")
            mm = mmap.mmap(fd, total, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, mm, fmt, count)
        ### END SOLUTION

    def offset(self, i):
        """Byte offset of record *i* in the file; ``IndexError`` naming the valid range if *i* is not 0..count-1."""
        ### BEGIN SOLUTION
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < self.count:
            raise IndexError(f"record index must be an int in 0..{self.count - 1}, got {i!r}")
        return HEADER.size + i * self.record.size
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        start, length = self.offset(i), self.record.size
        kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.lockf(self.fd, kind | fcntl.LOCK_NB, length, start)  # C: fcntl(fd, F_SETLK, {F_RDLCK or F_WRLCK, start, length})
                break
            except (BlockingIOError, PermissionError):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"record {i} (bytes {start}..{start + length}) stayed locked by "
                                       f"another process for {timeout:g} s") from None
                time.sleep(POLL)
        try:
            yield
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, length, start)  # C: fcntl(fd, F_SETLK, {F_UNLCK, ...})
        ### END SOLUTION

    def read(self, i, timeout=DEFAULT_TIMEOUT):
        """Record *i* as a tuple, read under a *shared* lock on it (never half-written).

        Several processes may read record *i* at once; none of them while another process
        writes or updates it (its exclusive lock). ``TimeoutError`` after *timeout*.
        """
        ### BEGIN SOLUTION
        with self.lock(i, timeout, shared=True):
            return self.record.unpack_from(self.mm, self.offset(i))
        ### END SOLUTION

    def write(self, i, values, timeout=DEFAULT_TIMEOUT):
        """Replace record *i* with the tuple *values*, under its exclusive lock."""
        ### BEGIN SOLUTION
        with self.lock(i, timeout):
            self.record.pack_into(self.mm, self.offset(i), *values)
        ### END SOLUTION

    def update(self, i, change, timeout=DEFAULT_TIMEOUT):
        """Read-modify-write record *i* under ONE hold of its exclusive lock: store ``change(old)`` and return it.

        *change* takes the old tuple and returns the new one; it may take its time, and no
        other process may touch record *i* in the meantime (else updates are lost).
        """
        ### BEGIN SOLUTION
        with self.lock(i, timeout):
            off = self.offset(i)
            new = tuple(change(self.record.unpack_from(self.mm, off)))
            self.record.pack_into(self.mm, off, *new)
        return new
        ### END SOLUTION

    def flush(self):
        """Write the dirty pages back to the file now (``msync(MS_SYNC)``: ``mmap.flush()``)."""
        ### BEGIN SOLUTION
        self.mm.flush()  # C: msync(p, length, MS_SYNC)
        ### END SOLUTION

    def close(self):
        """Unmap and close the descriptor (this drops the process's locks). Safe to call twice."""
        ### BEGIN SOLUTION
        if self.mm is not None:
            self.mm.close()  # C: munmap
            os.close(self.fd)
            self.mm = None
        ### END SOLUTION
