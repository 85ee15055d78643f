"""What the kernel says about a mapping's pages: faults, resident memory, the page cache.

Why a module: lazy loading, copy-on-write and dirty pages cannot be seen in Python; the
kernel counts them. Each function reads one of its counters:

* :func:`faults` (``getrusage``: minor and major page faults of this process);
* :func:`rss_kib` (``VmRSS`` of ``/proc/PID/status``) and :func:`smaps` (``/proc/PID/smaps``,
  per mapping of a file: ``Rss``, dirty, anonymous);
* :func:`cached_pages` (``mincore``, like ``fincore``) and :func:`drop_cache`
  (``posix_fadvise(POSIX_FADV_DONTNEED)``), the page cache of a file;
* :func:`touch`, which makes the faults happen (one byte per page), and
  :func:`require_real_disk`: on tmpfs there is no disk, hence no major fault to see.

Defined in :mod:`ipclab.mechanisms.page_stats`; taught in notebook 05 (19.5).
"""

import ctypes
import mmap
import os
import resource
from collections import namedtuple

from ipclab.core.errors import NotSupported
from ipclab.mechanisms.mapping import PAGE, pages

Faults = namedtuple("Faults", "minor major")


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


__all__ = ["Faults", "faults", "rss_kib", "SMAPS_FIELDS", "smaps", "cached_pages", "drop_cache",
           "touch", "require_real_disk"]
