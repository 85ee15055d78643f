"""read()/pread() against mmap on one file, timed so that each cost is seen on its own.

Why a module, and why this shape: notebook 05 used to map the file anew inside every timed
random-read run, so its "mmap" time mixed three costs (``mmap``/``munmap``, one minor fault
per 64 KiB fault-around window, then the loads) and its warm result was a tie. Here:

* **warm** (file in the page cache): ``pread()`` per record; a **fresh mapping** per run
  (map, read, unmap: what a program that maps per request pays); a **reused mapping**
  (mapped and faulted in once, before timing: what a long-lived mapping pays);
* **cold** (file dropped from the page cache first): ``pread()``; a mapping with the
  default read-around; the same mapping with ``MADV_RANDOM``, which turns read-around off.
  The last one is the control: it shows *why* the mapping wins cold. A major fault on a
  file mapping reads a window around the missing page (``do_sync_mmap_readahead`` in
  mm/filemap.c: "mmap read-around", ``ra_pages`` = read_ahead_kb), and later hits on the
  window's marker extend it asynchronously; a small random ``pread`` is read "as is", one
  page per miss, without read-ahead (``page_cache_sync_ra`` in mm/readahead.c).

Each row carries what the kernel counted for that run in this process: minor and major
faults (``getrusage``) and the bytes fetched from storage (``read_bytes`` of
``/proc/self/io``, None where the kernel does not provide it). Everything runs in a fresh
child process so that the counters are the run's own.
"""

import mmap
import os
import random
import resource
import time

from ipclab.core import procs
from ipclab.mechanisms import mapping, page_stats
from ipclab.mechanisms.mapping import PAGE

__all__ = ["offsets", "io_read_bytes", "measure", "random_reads", "random_reads_in_child",
           "reuse_structure", "sequential", "read_ahead_kb"]


def offsets(size, n, record=64, seed=1):
    """*n* random offsets where a *record*-byte read fits in a *size*-byte file (seeded)."""
    rng = random.Random(seed)
    return [rng.randrange(0, size - record) for _ in range(n)]


def io_read_bytes():
    """Bytes this process caused to be fetched from storage (``/proc/self/io``), or None."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(fn):
    """Run *fn* once: ``{"seconds", "minor", "major", "read_bytes", "checksum"}`` for that run."""
    r0, b0 = resource.getrusage(resource.RUSAGE_SELF), io_read_bytes()
    t0 = time.perf_counter()
    check = fn()
    seconds = time.perf_counter() - t0
    r1, b1 = resource.getrusage(resource.RUSAGE_SELF), io_read_bytes()
    return {"seconds": seconds, "minor": r1.ru_minflt - r0.ru_minflt, "major": r1.ru_majflt - r0.ru_majflt,
            "read_bytes": None if b0 is None or b1 is None else b1 - b0, "checksum": check}


def _pread_pass(fd, offs, record):
    return sum(os.pread(fd, record, off)[0] for off in offs)  # C: pread(fd, buf, record, off) per record


def _map_pass(mm, offs, record):
    return sum(mm[off:off + record][0] for off in offs)       # loads from the mapping: no system call


def _fresh_map_pass(fd, offs, record, advice=None):
    mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)          # C: mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)
    try:
        if advice is not None:
            mm.madvise(advice)                                # C: madvise(p, size, MADV_RANDOM)
        return _map_pass(mm, offs, record)
    finally:
        mm.close()                                            # C: munmap(p, size)


def _best(fn, repeats, before=None):
    """The fastest of *repeats* runs (the slower ones met other load on the machine)."""
    runs = []
    for _ in range(repeats):
        if before:
            before()
        runs.append(measure(fn))
    return min(runs, key=lambda r: r["seconds"])


def random_reads(path, nrandom=4000, record=64, repeats=3, seed=1):
    """Random *record*-byte reads at *nrandom* offsets, cold and warm, each method timed alone.

    Returns ``{"rows": [...], "distinct_pages": n, "file_pages": m, "read_ahead_kb": k}``; a
    row is ``{"cache", "method", "seconds", "minor", "major", "read_bytes", "checksum"}``.
    """
    size = os.path.getsize(path)
    offs = offsets(size, nrandom, record, seed)
    drop = lambda: page_stats.drop_cache(path)  # noqa: E731 -- fsync + POSIX_FADV_DONTNEED, checked by mincore
    rows = []
    fd = os.open(path, os.O_RDONLY)
    try:
        cold = [("pread()", lambda: _pread_pass(fd, offs, record)),
                ("mmap, read-around (default)", lambda: _fresh_map_pass(fd, offs, record)),
                ("mmap + MADV_RANDOM", lambda: _fresh_map_pass(fd, offs, record, mmap.MADV_RANDOM))]
        for method, fn in cold:
            rows.append({"cache": "cold", "method": method, **_best(fn, repeats, before=drop)})
        kept = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        try:
            _map_pass(kept, offs, record)  # fault the pages in once, before any timing
            warm = [("pread()", lambda: _pread_pass(fd, offs, record)),
                    ("mmap, fresh mapping per run", lambda: _fresh_map_pass(fd, offs, record)),
                    ("mmap, mapping reused", lambda: _map_pass(kept, offs, record))]
            for method, fn in warm:
                fn()  # warm-up run, not timed
                rows.append({"cache": "warm", "method": method, **_best(fn, repeats)})
        finally:
            kept.close()
    finally:
        os.close(fd)
    return {"rows": rows, "distinct_pages": len({o // PAGE for o in offs}),
            "file_pages": mapping.pages(size), "nrandom": nrandom, "record": record,
            "read_ahead_kb": read_ahead_kb(path)}


def random_reads_in_child(path, nrandom=4000, record=64, repeats=3, seed=1, start_method="spawn", timeout=120):
    """:func:`random_reads` in a fresh child: the fault and I/O counters are that run's own."""
    result, = procs.run(random_reads, [(path, nrandom, record, repeats, seed)],
                        start_method=start_method, timeout=timeout)
    return result


def reuse_structure(path, nrandom=2000, record=64, seed=1):
    """What a reused mapping saves, as counts (no timing): faults and resident KiB per pass.

    A fresh mapping starts with nothing resident (``Rss`` 0) and faults its pages in on every
    run; a reused mapping already has them in its page tables, so a second pass over the same
    offsets finds every page resident. Returns ``{"fresh": {...}, "reused": {...}}`` with the
    mapping's Rss before and after the pass and the minor faults of the pass.
    """
    size = os.path.getsize(path)
    offs = offsets(size, nrandom, record, seed)
    out = {}
    with open(path, "rb") as f:
        for label in ("fresh", "reused"):
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                if label == "reused":
                    _map_pass(mm, offs, record)  # the earlier pass a long-lived mapping has already made
                before = page_stats.smaps(path)["Rss"]
                run = measure(lambda: _map_pass(mm, offs, record))
                after = page_stats.smaps(path)["Rss"]
            finally:
                mm.close()
            out[label] = {"rss_before_kib": before, "rss_after_kib": after, "minor": run["minor"],
                          "major": run["major"], "checksum": run["checksum"]}
    out["distinct_pages"] = len({o // PAGE for o in offs})
    return out


def sequential(path, repeats=3, chunk=1 << 20):
    """Sum every byte: ``read()`` into a reused 1 MiB buffer vs numpy over a mapping; cold and warm."""
    import numpy as np

    def by_read():
        total, buf = 0, bytearray(chunk)
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):  # C: read(fd, buf, chunk)
                total += int(np.frombuffer(buf, np.uint8, n).sum(dtype=np.uint64))
        return total

    def by_mmap():
        with mapping.mapped(path, access="read") as mm:
            view = np.frombuffer(mm, np.uint8)
            try:
                return int(view.sum(dtype=np.uint64))
            finally:
                del view

    rows = []
    for cache in ("cold", "warm"):
        for method, fn in (("read()", by_read), ("mmap", by_mmap)):
            if cache == "warm":
                fn()
            best = _best(fn, repeats, before=(lambda: page_stats.drop_cache(path)) if cache == "cold" else None)
            rows.append({"cache": cache, "method": method, **best})
    return rows


def read_ahead_kb(path):
    """The read-ahead window of the device holding *path* (``/sys/dev/block/M:m/queue/read_ahead_kb``), or None."""
    dev = os.stat(path).st_dev
    for cand in (f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/queue/read_ahead_kb",
                 f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/../queue/read_ahead_kb",
                 f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb"):
        try:
            with open(cand) as f:
                return int(f.read())
        except (OSError, ValueError):
            continue
    return None
