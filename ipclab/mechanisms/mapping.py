"""Memory-mapped files made observable: mapping helpers, fault/RSS measurement, a record store.

Why a module: Python's :mod:`mmap` hides what the kernel does. Here each helper is a thin,
named layer over one system call (``mmap``/``munmap``/``msync``/``madvise``/``mincore``/
``fcntl``) and the measuring functions read the kernel's own counters
(``getrusage``, ``/proc/self/smaps``), so a notebook can *show* lazy loading, copy-on-write
and dirty pages instead of describing them.

Three groups:

* **mapping** -- :func:`mapped` (open + mmap, with the checks that spare you a SIGBUS),
  :func:`mapped_range` (any byte offset, page-aligned for you), :func:`grow`;
* **measuring** -- :func:`faults`, :func:`smaps`, :func:`rss_kib`, :func:`cached_pages`,
  :func:`drop_cache`, :func:`touch`, :func:`fault_profile`;
* **record files** -- :func:`file_lock` (``fcntl`` record locks with a timeout),
  :func:`wait_until` and :class:`RecordStore`, a file of fixed-size records updated in
  place by several processes.

Defined in :mod:`ipclab.mechanisms.mapping`; taught in notebook 05 (19.5, memory-mapped files).
"""

import contextlib
import ctypes
import fcntl
import mmap
import os
import resource
import struct
import time
from collections import namedtuple

from ipclab.core.errors import BadArgument, IpclabError, NotSupported, ObjectGone, WaitTimeout

PAGE = mmap.PAGESIZE                       #: bytes in a page (4096 on x86-64)
GRANULARITY = mmap.ALLOCATIONGRANULARITY   #: what an mmap offset must be a multiple of
ACCESS = {"shared": mmap.ACCESS_WRITE,     # MAP_SHARED,  PROT_READ|PROT_WRITE
          "private": mmap.ACCESS_COPY,     # MAP_PRIVATE, PROT_READ|PROT_WRITE (copy-on-write)
          "read": mmap.ACCESS_READ}        # MAP_SHARED,  PROT_READ
ADVICE = {None: None, "normal": "MADV_NORMAL", "random": "MADV_RANDOM",
          "sequential": "MADV_SEQUENTIAL", "willneed": "MADV_WILLNEED"}

Faults = namedtuple("Faults", "minor major")


# -- mapping ---------------------------------------------------------------

def pages(nbytes):
    """How many pages *nbytes* occupy (rounded up)."""
    return -(-nbytes // PAGE)


def align_down(offset, to=GRANULARITY):
    """The largest multiple of *to* not above *offset* (a legal mmap offset)."""
    return offset - offset % to


def grow(path, size):
    """Make the file at least *size* bytes (``ftruncate``; the new bytes read as zeros); returns its size."""
    current = os.path.getsize(path)
    if size > current:
        os.truncate(path, size)  # C: ftruncate(fd, size)
    return max(size, current)


def _access(access):
    if access not in ACCESS:
        raise BadArgument(f"access must be one of {sorted(ACCESS)} "
                          f"(shared = MAP_SHARED, private = MAP_PRIVATE), got {access!r}")
    return ACCESS[access]


@contextlib.contextmanager
def mapped(path, length=0, offset=0, access="shared", grow_file=False):
    """Map *length* bytes of the file at *offset* (0 = to the end); unmapped on exit.

    ``access`` is ``"shared"`` (MAP_SHARED: writes reach the file and every other mapping),
    ``"private"`` (MAP_PRIVATE: writes stay in this process, copy-on-write) or ``"read"``.
    ``grow_file=True`` extends the file first so the whole mapping is backed by it.
    C: ``fd = open(path, O_RDWR); p = mmap(NULL, length, PROT_READ|PROT_WRITE, flags, fd, offset);
    close(fd)`` ... ``munmap(p, length)``.
    """
    acc = _access(access)
    if offset < 0 or offset % GRANULARITY:
        raise BadArgument(f"mmap offset {offset} is not a multiple of the page size {GRANULARITY} "
                          f"(the kernel answers EINVAL): map from {align_down(offset)} "
                          "and skip the difference, or use mapped_range()")
    if grow_file and length:
        grow(path, offset + length)
    size = os.path.getsize(path)
    if size == 0:
        raise BadArgument(f"{path} is empty: there is nothing to map. Grow it first "
                          "(mapping.grow(path, n), C: ftruncate) or pass grow_file=True")
    if offset + length > size or (not length and offset >= size):
        raise BadArgument(f"mapping {length or 'all'} bytes at offset {offset} goes past the end of "
                          f"{path} ({size} bytes); in C, touching a page wholly past the end "
                          "raises SIGBUS. Grow the file first or pass grow_file=True")
    fd = os.open(path, os.O_RDONLY if access == "read" else os.O_RDWR)
    try:
        mm = mmap.mmap(fd, length, access=acc, offset=offset)
    finally:
        os.close(fd)  # the mapping keeps the file open by itself
    try:
        yield mm
    finally:
        mm.close()  # C: munmap


@contextlib.contextmanager
def mapped_range(path, start, length, access="shared"):
    """A memoryview of bytes ``[start, start+length)`` of the file, whatever *start* is.

    mmap needs a page-aligned offset, so this maps from ``align_down(start)`` and hands you
    the view that begins *start* bytes into the file. The view is released on exit.
    """
    base = align_down(start)
    with mapped(path, start - base + length, base, access) as mm:
        view = memoryview(mm)[start - base:start - base + length]
        try:
            yield view
        finally:
            view.release()


# -- measuring -------------------------------------------------------------

def faults():
    """This process's page faults so far: ``Faults(minor, major)`` (C: ``getrusage(RUSAGE_SELF)``).

    A *minor* fault maps a page already in memory (page cache, zero page); a *major* fault
    had to wait for the disk. The same numbers are fields 10 and 12 of ``/proc/self/stat``.
    """
    r = resource.getrusage(resource.RUSAGE_SELF)
    return Faults(r.ru_minflt, r.ru_majflt)


def rss_kib(pid="self"):
    """Resident memory of a process in KiB (``VmRSS`` in ``/proc/PID/status``)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


SMAPS_FIELDS = ("Size", "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean",
                "Private_Dirty", "Anonymous")


def smaps(path, pid="self"):
    """The ``/proc/PID/smaps`` counters (KiB) of every mapping of *path*, summed.

    ``Rss``: pages of the mapping in memory now; ``Private_Dirty``/``Shared_Dirty``: pages
    written and not yet written back; ``Anonymous``: pages that no longer belong to the file
    (copy-on-write copies of a MAP_PRIVATE mapping). ``mappings`` counts the areas found.
    """
    real = os.path.realpath(path)
    total = dict.fromkeys(SMAPS_FIELDS, 0)
    total["mappings"] = 0
    inside = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head, _, rest = line.partition(" ")
            if "-" in head and not head.endswith(":"):  # a new area: "start-end perms offset dev inode path"
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else ""
                inside = name in (real, real + " (deleted)")
                total["mappings"] += inside
            elif inside and head[:-1] in total:
                total[head[:-1]] += int(rest.split()[0])
    return total


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    return libc


def cached_pages(path):
    """``(in page cache, total)`` pages of the file, like the ``fincore`` tool.

    C: ``p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0); mincore(p, size, vec); munmap``.
    Mapping alone reads nothing; ``mincore`` asks the kernel which pages are in memory.
    """
    size = os.path.getsize(path)
    total = pages(size)
    if not size:
        return 0, 0
    libc = _libc()
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    finally:
        os.close(fd)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), f"mmap of {path} for mincore failed")
    try:
        vec = ctypes.create_string_buffer(total)
        if libc.mincore(addr, size, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        return sum(b & 1 for b in vec.raw), total
    finally:
        libc.munmap(addr, size)


def drop_cache(path):
    """Evict the file's pages from the page cache so the next access must read the disk.

    ``fsync`` first (dirty pages cannot be dropped), then
    ``posix_fadvise(POSIX_FADV_DONTNEED)``. Pages still mapped by some process stay, and a
    file on tmpfs (``/dev/shm``, sometimes ``/tmp``) has no disk behind it: its pages never
    leave. Returns how many pages are still cached (0 means the next run is truly cold).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # C: fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # C: posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return cached_pages(path)[0]


def advise(mm, advice):
    """``madvise`` the whole mapping: ``"normal"``, ``"random"``, ``"sequential"``, ``"willneed"`` or None."""
    if advice not in ADVICE:
        raise BadArgument(f"advice must be one of {list(ADVICE)}, got {advice!r}")
    if advice is not None:
        mm.madvise(getattr(mmap, ADVICE[advice]))  # C: madvise(p, length, MADV_...)


def touch(mm, npages, write=False, first=0, stride=1):
    """Read (or write) one byte in each of *npages* pages, from page *first*, every *stride* pages.

    Returns the sum of the bytes read, so the reads cannot be skipped.
    """
    total = 0
    stop = (first + npages * stride) * PAGE
    for off in range(first * PAGE, stop, stride * PAGE):
        if write:
            mm[off] = (mm[off] + 1) & 0xFF
        else:
            total += mm[off]
    return total


def fault_profile(path, page_counts, advice=None, cold=True, access="read"):
    """Touch more and more pages of a fresh mapping; one row per count: faults and resident KiB.

    For each *n* in *page_counts*: drop the file from the page cache (if *cold*), map it
    anew, apply *advice*, read one byte in each of the first *n* pages, and record the page
    faults that cost (``getrusage`` before/after) and the mapping's ``Rss`` from smaps.
    Run it in a fresh process (see :func:`ipclab.experiments.mmap_demos.lazy_loading`): faults are
    counted per process.
    """
    size = os.path.getsize(path)
    if max(page_counts, default=0) > pages(size):
        raise BadArgument(f"{path} has only {pages(size)} pages; touch at most that many")
    rows = []
    for n in page_counts:
        cached = drop_cache(path) if cold else cached_pages(path)[0]
        with mapped(path, access=access) as mm:
            advise(mm, advice)
            before = faults()
            touch(mm, n)
            after = faults()
            rss = smaps(path)["Rss"]
        rows.append({"pages": n, "minor": after.minor - before.minor,
                     "major": after.major - before.major, "rss_kib": rss,
                     "cached_before": cached, "advice": advice or "none", "cold": cold})
    return rows


# -- locks and record files --------------------------------------------------

from ipclab.core.waiting import wait_until  # noqa: E402  (the one polling wait; mapping.wait_until for 05)


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


def require_real_disk(path):
    """Raise :class:`NotSupported` if *path* lives on tmpfs, where the page cache *is* the file."""
    with open("/proc/mounts") as f:
        mounts = [line.split()[1:3] for line in f]
    real = os.path.realpath(path)
    best = max((m for m in mounts if real == m[0] or real.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)
    if best and best[1] in ("tmpfs", "ramfs"):
        raise NotSupported(f"{path} is on {best[1]} ({best[0]}): its pages cannot leave memory, so "
                           "there are no major faults to see. Set TMPDIR to a disk directory.")
    return best[1] if best else None


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["PAGE", "GRANULARITY", "ACCESS", "ADVICE", "pages", "align_down", "grow", "mapped",
           "mapped_range", "faults", "rss_kib", "SMAPS_FIELDS", "smaps", "cached_pages", "drop_cache",
           "advise", "touch", "fault_profile", "wait_until", "file_lock", "RecordStore", "require_real_disk"]
