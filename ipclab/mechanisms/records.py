"""A file of fixed-size records, mapped MAP_SHARED and updated in place under ``fcntl`` locks.

Why a module: notebook 05's "file as a database" pattern (19.5) needs two things a bare
mapping lacks: a lock per record (:func:`file_lock`, ``fcntl`` byte-range locks with a
timeout) and a layout every process can find (:class:`RecordStore`, a header then the
records). Lab 4 asks for more than this store offers (see its brief).

Defined in :mod:`ipclab.mechanisms.records`; taught in notebook 05 (19.5).
"""

import contextlib
import fcntl
import mmap
import os
import struct
import time

from ipclab.core.errors import BadArgument, IpclabError, ObjectGone
from ipclab.core.waiting import wait_until

@contextlib.contextmanager
def file_lock(fd, start=0, length=0, exclusive=True, timeout=5.0):
    """Hold an ``fcntl`` record lock on bytes ``[start, start+length)`` of *fd* (0 = to the end).

    Polls ``lockf(fd, LOCK_EX|LOCK_NB, ...)`` until it succeeds or *timeout* expires (then
    :class:`WaitTimeout`); never blocks for ever. C: ``fcntl(fd, F_SETLK, &(struct flock){
    .l_type = F_WRLCK, .l_start = start, .l_len = length})``, retried on EAGAIN/EACCES.
    These locks belong to the *process*: two threads of one process do not exclude each
    other, and closing *any* descriptor of the file drops all the process's locks on it.
    """
    cmd = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB

    def try_lock():
        try:
            fcntl.lockf(fd, cmd, length, start)
            return True
        except (BlockingIOError, PermissionError):
            return False

    wait_until(try_lock, timeout, f"the lock on bytes {start}..{start + length if length else 'EOF'} "
                                  "(held by another process)")
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)


class RecordStore:
    """A file of *count* fixed-size records, mapped MAP_SHARED, updated in place by many processes.

    The layout is a 64-byte header (magic, record size, count, the :mod:`struct` format)
    followed by the records, so :meth:`open` needs only the path. Each record *i* has its own
    byte-range lock (:meth:`lock`): processes updating different records never wait for each
    other. ::

        with RecordStore.create(path, "<q16s", 100) as store:   # a counter and a label
            store.update(3, lambda rec: (rec[0] + 1, rec[1]))    # locked read-modify-write
            store.read(3)                                        # -> (1, b'')

    Unlocked :meth:`read` may see a record half-written by another process; use
    ``read(i, locked=True)`` or :meth:`update` when that matters.
    """

    MAGIC = b"IPCLREC1"
    HEADER = struct.Struct("<8sII48s")  # magic, record size, count, format

    def __init__(self, path, mm, fd, fmt, count):
        self.path, self._mm, self._fd = path, mm, fd
        self.format = fmt
        self.record = struct.Struct(fmt)
        self.count = count

    @classmethod
    def create(cls, path, fmt, count):
        """Write a fresh store of *count* zeroed records into the (existing, e.g. course) file *path*."""
        rec = struct.Struct(fmt)  # raises struct.error on a bad format
        if not isinstance(count, int) or count < 1:
            raise BadArgument(f"a record store needs count >= 1 records, got {count!r}")
        if len(fmt.encode()) > 48:
            raise BadArgument(f"record format {fmt!r} is longer than 48 characters")
        os.truncate(path, 0)
        os.truncate(path, cls.HEADER.size + rec.size * count)  # zeroed records
        with open(path, "r+b") as f:
            f.write(cls.HEADER.pack(cls.MAGIC, rec.size, count, fmt.encode()))
        return cls.open(path)

    @classmethod
    def open(cls, path):
        """Map an existing store (made by :meth:`create`, maybe in another process)."""
        fd = os.open(path, os.O_RDWR)
        try:
            head = os.pread(fd, cls.HEADER.size, 0)
            if len(head) < cls.HEADER.size or head[:8] != cls.MAGIC:
                raise BadArgument(f"{path} is not a record store (no {cls.MAGIC!r} header); "
                                  "make one with RecordStore.create(path, fmt, count)")
            _, size, count, fmt = cls.HEADER.unpack(head)
            fmt = fmt.rstrip(b"\0").decode()
            if struct.calcsize(fmt) != size or os.fstat(fd).st_size < cls.HEADER.size + size * count:
                raise IpclabError(f"{path}: header and file size disagree (truncated?); recreate the store")
            mm = mmap.mmap(fd, cls.HEADER.size + size * count, access=mmap.ACCESS_WRITE)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, mm, fd, fmt, count)

    def __repr__(self):
        state = "closed" if self._mm is None else f"{self.count} x {self.record.size} B"
        return f"<RecordStore {self.path} format={self.format!r} {state}>"

    def __len__(self):
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def offset(self, i):
        """Byte offset of record *i* in the file."""
        if not isinstance(i, int) or not 0 <= i < self.count:
            raise BadArgument(f"record index must be 0..{self.count - 1}, got {i!r}")
        off = self.HEADER.size + i * self.record.size
        self._check_size(off + self.record.size)
        return off

    def _check_size(self, end):
        """``fstat`` before touching: a file truncated under the mapping raises SIGBUS past its end."""
        if self._mm is None:
            raise IpclabError(f"record store {self.path} is closed; open it again with RecordStore.open")
        now = os.fstat(self._fd).st_size  # C: fstat(fd, &st)
        if now < end:
            raise ObjectGone(f"{self.path} was truncated to {now} bytes by another process while "
                             f"{end} bytes are needed here: touching the mapping past the end of "
                             "the file would kill this process with SIGBUS. Recreate the store.")

    def lock(self, i, timeout=5.0):
        """Context manager: an exclusive lock on record *i* only (other records stay free)."""
        return file_lock(self._fd, self.offset(i), self.record.size, timeout=timeout)

    def read(self, i, locked=False, timeout=5.0):
        """Record *i* as a tuple; with *locked*, under its lock (never half-written)."""
        if locked:
            with self.lock(i, timeout):
                return self.record.unpack_from(self._mm, self.offset(i))
        return self.record.unpack_from(self._mm, self.offset(i))

    def write(self, i, values, timeout=5.0):
        """Replace record *i* with *values* (a tuple), under its lock."""
        with self.lock(i, timeout):
            self.record.pack_into(self._mm, self.offset(i), *values)

    def update(self, i, change, timeout=5.0, locked=True, window=0.0):
        """Read-modify-write record *i*: store ``change(old_tuple)`` and return it.

        With ``locked=False`` two processes can read the same old value and one update is
        lost; *window* (seconds slept between read and write) widens that race for demos.
        """
        lock = self.lock(i, timeout) if locked else contextlib.nullcontext()
        with lock:
            new = tuple(change(self.record.unpack_from(self._mm, self.offset(i))))
            if window:
                time.sleep(window)
            self.record.pack_into(self._mm, self.offset(i), *new)
        return new

    def read_all(self):
        """Every record, unlocked (a snapshot while nobody writes)."""
        return [self.read(i) for i in range(self.count)]

    def flush(self):
        """``msync(MS_SYNC)``: write the dirty pages back to the file on disk now."""
        self._mm.flush()

    def close(self):
        """Unmap and close (drops this process's locks on the file). Idempotent."""
        if self._mm is not None:
            self._mm.close()
            os.close(self._fd)
            self._mm = None


__all__ = ["file_lock", "RecordStore"]
