"""Memory-mapped files: ``mmap`` of a file, with the checks that spare you a SIGBUS.

Why a module: Python's :mod:`mmap` hides what the kernel does. Each helper here is a thin,
named layer over one system call (``open``/``ftruncate``/``mmap``/``munmap``/``madvise``):

* :func:`mapped` (open + mmap, refusing what would raise SIGBUS or EINVAL),
  :func:`mapped_range` (any byte offset, page-aligned for you), :func:`grow`, :func:`advise`;
* :func:`pages` and :func:`align_down`, the page arithmetic mmap imposes.

What the kernel says about a mapping's pages (faults, ``smaps``, the page cache) is in
:mod:`ipclab.mechanisms.page_stats`; a file of records updated in place under ``fcntl``
locks is :mod:`ipclab.mechanisms.records`; notebook 05's experiments are in
:mod:`ipclab.experiments.mmap_demos`.

Defined in :mod:`ipclab.mechanisms.mapping`; taught in notebook 05 (19.5, memory-mapped files).
"""

import contextlib
import mmap
import os

from ipclab.core.errors import BadArgument

PAGE = mmap.PAGESIZE                       #: bytes in a page (4096 on x86-64)
GRANULARITY = mmap.ALLOCATIONGRANULARITY   #: what an mmap offset must be a multiple of
ACCESS = {"shared": mmap.ACCESS_WRITE,     # MAP_SHARED,  PROT_READ|PROT_WRITE
          "private": mmap.ACCESS_COPY,     # MAP_PRIVATE, PROT_READ|PROT_WRITE (copy-on-write)
          "read": mmap.ACCESS_READ}        # MAP_SHARED,  PROT_READ
ADVICE = {None: None, "normal": "MADV_NORMAL", "random": "MADV_RANDOM",
          "sequential": "MADV_SEQUENTIAL", "willneed": "MADV_WILLNEED"}

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


def advise(mm, advice):
    """``madvise`` the whole mapping: ``"normal"``, ``"random"``, ``"sequential"``, ``"willneed"`` or None."""
    if advice not in ADVICE:
        raise BadArgument(f"advice must be one of {list(ADVICE)}, got {advice!r}")
    if advice is not None:
        mm.madvise(getattr(mmap, ADVICE[advice]))  # C: madvise(p, length, MADV_...)


__all__ = ["PAGE", "GRANULARITY", "ACCESS", "ADVICE", "pages", "align_down", "grow", "mapped",
           "mapped_range", "advise"]
