"""The experiments and worker processes of notebook 05 (19.5, memory-mapped files).

Why a module: workers must be importable so that fork, forkserver and spawn children can
run them, and each experiment returns plain results (dicts, lists) that the notebook prints
as verdicts and :mod:`ipclab.presentation.plots.mapping` draws. Every file comes from
:func:`ipclab.core.objects.course_file` (registered, removed even on a crash) and every child
from :func:`ipclab.core.procs.run` with an explicit start method and timeout.
"""

import contextlib
import ctypes
import faulthandler
import mmap
import os
import random
import signal
import struct
import time

from ipclab.core import objects, procs, waiting
from ipclab.core.errors import BadArgument, ChildError, WaitTimeout
from ipclab.mechanisms import mapping, page_stats
from ipclab.mechanisms import records as record_files
from ipclab.mechanisms.mapping import PAGE

MARK = b"CHILD WAS HERE"


def _quiet():
    """In a child that is about to die of a signal: no faulthandler traceback on stderr."""
    faulthandler.disable()


def _fill(path, data):
    with open(path, "r+b") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # clean pages: what is dirty later was dirtied by the demo


def _file_has(path, data, offset=0):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(len(data)) == data


# -- who sees whose writes -------------------------------------------------------------

def map_and_write(path, access, data, offset=0):
    """Worker: map *path* with *access*, write *data* at *offset*, return what this process sees there."""
    with mapping.mapped(path, access=access) as mm:
        mm[offset:offset + len(data)] = data
        return bytes(mm[offset:offset + len(data)])


def sharing(start_method="spawn", timeout=30):
    """Who sees a child's write? One row per (writer mapping, reader mapping) pair.

    The parent maps the file first (``reader``: shared; private and only read; private and
    already written by the parent itself), then a child maps the same file (``writer``) and
    writes :data:`MARK` at offset 0. After the child exits the parent looks at its own
    mapping and at the file through ``read()``.
    """
    rows = []
    for writer in ("shared", "private"):
        for reader in ("shared", "private", "private, written"):
            with objects.course_file(2 * PAGE, tag="share") as path:
                _fill(path, b"o" * len(MARK))
                with mapping.mapped(path, access=reader.split(",")[0]) as mm:
                    first = bytes(mm[:len(MARK)])  # the reader has touched the page
                    if reader == "private, written":
                        mm[len(MARK)] = ord("p")  # parent's own write: its copy of the page
                    child_sees, = procs.run(map_and_write, [(path, writer, MARK)],
                                            start_method=start_method, timeout=timeout)
                    rows.append({"writer": writer, "reader": reader, "before": first,
                                 "child_sees_own_write": child_sees == MARK,
                                 "reader_sees": bytes(mm[:len(MARK)]) == MARK,
                                 "file_has": _file_has(path, MARK)})
    return rows


# -- copy-on-write and dirty pages, in this process --------------------------------------

def copy_on_write(npages=16, written=3):
    """Write *written* pages of a MAP_PRIVATE mapping; smaps before/after and what reached the file."""
    with objects.course_file(npages * PAGE, tag="cow") as path:
        _fill(path, b"f" * (npages * PAGE))
        with mapping.mapped(path, access="private") as mm:
            page_stats.touch(mm, npages)             # read every page: all still the file's
            before = page_stats.smaps(path)
            page_stats.touch(mm, written, write=True)  # the first writes copy the pages
            after = page_stats.smaps(path)
            sees_own = mm[0] != ord("f")
        return {"pages": npages, "written": written, "before": before, "after": after,
                "sees_own_write": sees_own, "file_changed": not _file_has(path, b"f" * PAGE)}


def dirty_then_flush(npages=8):
    """Write *npages* pages of a MAP_SHARED mapping: dirty KiB in smaps before and after ``flush()``."""
    with objects.course_file(npages * PAGE, tag="dirty") as path:
        with mapping.mapped(path, access="shared") as mm:
            page_stats.touch(mm, npages, write=True)
            s = page_stats.smaps(path)
            before = s["Private_Dirty"] + s["Shared_Dirty"]
            mm.flush()  # C: msync(p, length, MS_SYNC)
            s = page_stats.smaps(path)
            after = s["Private_Dirty"] + s["Shared_Dirty"]
        return {"pages": npages, "dirty_kib_before": before, "dirty_kib_after": after}


# -- durability: what survives a killed process ----------------------------------------

def write_then_die(shared_path, private_path, buffered_path, data):
    """Worker: write *data* three ways -- MAP_SHARED, MAP_PRIVATE, buffered write() -- then SIGKILL itself."""
    _quiet()
    maps = []
    for path, access in ((shared_path, mmap.ACCESS_WRITE), (private_path, mmap.ACCESS_COPY)):
        with open(path, "r+b") as f:
            maps.append(mmap.mmap(f.fileno(), 0, access=access))
    shared, private = maps
    shared[:len(data)] = data    # no flush()
    private[:len(data)] = data
    f = open(buffered_path, "r+b")  # a Python file: an 8 KiB buffer in *this* process
    f.write(data)                    # no flush(): the bytes are still in the buffer
    os.kill(os.getpid(), signal.SIGKILL)


def survives_kill(start_method="spawn", timeout=30):
    """What a SIGKILLed child left in its files, written by MAP_SHARED, MAP_PRIVATE and buffered write()."""
    data = b"written before SIGKILL"
    with contextlib.ExitStack() as stack:
        paths = [stack.enter_context(objects.course_file(PAGE, tag=t)) for t in ("shared", "private", "buffered")]
        try:
            procs.run(write_then_die, [(*paths, data)], start_method=start_method, timeout=timeout)
            killed_by = None
        except ChildError as e:
            killed_by = -e.exitcode if e.exitcode and e.exitcode < 0 else None
        return {"killed_by": signal.Signals(killed_by).name if killed_by else None,
                **{k: _file_has(p, data) for k, p in zip(("MAP_SHARED", "MAP_PRIVATE", "buffered write()"), paths)}}


# -- lazy loading -----------------------------------------------------------------------

def make_data_file(path, size, seed=0):
    """Fill *path* with *size* pseudo-random bytes (seeded), fsynced, so page contents differ."""
    rng = random.Random(seed)
    chunk = rng.randbytes(1 << 20)
    with open(path, "r+b") as f:
        for off in range(0, size, len(chunk)):
            f.write(chunk[:size - off])
        f.flush()
        os.fsync(f.fileno())  # C: fsync(fd): dirty pages cannot be dropped from the cache
    return path


def fault_profile(path, page_counts, advice=None, cold=True, access="read"):
    """Touch more and more pages of a fresh mapping; one row per count: faults and resident KiB.

    For each *n* in *page_counts*: drop the file from the page cache (if *cold*), map it
    anew, apply *advice*, read one byte in each of the first *n* pages, and record the page
    faults that cost (``getrusage`` before/after) and the mapping's ``Rss`` from smaps.
    Run it in a fresh process (see :func:`lazy_loading`): faults are
    counted per process.
    """
    size = os.path.getsize(path)
    if max(page_counts, default=0) > mapping.pages(size):
        raise BadArgument(f"{path} has only {mapping.pages(size)} pages; touch at most that many")
    rows = []
    for n in page_counts:
        cached = page_stats.drop_cache(path) if cold else page_stats.cached_pages(path)[0]
        with mapping.mapped(path, access=access) as mm:
            mapping.advise(mm, advice)
            before = page_stats.faults()
            page_stats.touch(mm, n)
            after = page_stats.faults()
            rss = page_stats.smaps(path)["Rss"]
        rows.append({"pages": n, "minor": after.minor - before.minor,
                     "major": after.major - before.major, "rss_kib": rss,
                     "cached_before": cached, "advice": advice or "none", "cold": cold})
    return rows


def lazy_loading(path, page_counts, advice=None, cold=True, start_method="spawn", timeout=60):
    """:func:`fault_profile` in a fresh child process: faults are counted per process."""
    rows, = procs.run(fault_profile, [(path, list(page_counts), advice, cold)],
                      start_method=start_method, timeout=timeout)
    return rows


# -- anonymous shared mappings between parent and children ------------------------------

def put_slot(mm, index, value):
    """Worker: write *value* (8 bytes) into slot *index* of an inherited anonymous mapping."""
    struct.pack_into("<q", mm, 8 * index, value)
    return struct.unpack_from("<q", mm, 8 * index)[0]


def anonymous(flags="shared", nchildren=3, start_method="fork", timeout=30):
    """Children write slot i = 100+i of an anonymous mapping made by the parent; what the parent reads.

    Only *fork* children inherit the mapping: spawn and forkserver start a new program, and
    an ``mmap`` object cannot be pickled. Returns ``{"parent_sees", "children_saw", "error"}``.
    """
    flag = {"shared": mmap.MAP_SHARED, "private": mmap.MAP_PRIVATE}[flags]
    mm = mmap.mmap(-1, PAGE, flags=flag | mmap.MAP_ANONYMOUS)  # C: mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)
    try:
        try:
            saw = procs.run(put_slot, [(mm, i, 100 + i) for i in range(nchildren)],
                            start_method=start_method, timeout=timeout, relay=False)
            error = None
        except Exception as e:  # spawn/forkserver: the mapping cannot travel
            saw, error = None, f"{type(e).__name__}: {e}"
        return {"parent_sees": [struct.unpack_from("<q", mm, 8 * i)[0] for i in range(nchildren)],
                "children_saw": saw, "error": error}
    finally:
        mm.close()


# -- read() versus mmap ------------------------------------------------------------------

def _sum_read(path, chunk=1 << 20):
    import numpy as np
    total, buf = 0, bytearray(chunk)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):  # C: read(fd, buf, chunk)
            total += int(np.frombuffer(buf, np.uint8, n).sum(dtype=np.uint64))
    return total


def _sum_mmap(path):
    import numpy as np
    with mapping.mapped(path, access="read") as mm:
        view = np.frombuffer(mm, np.uint8)
        try:
            return int(view.sum(dtype=np.uint64))
        finally:
            del view


def _random_read(path, offsets, size):
    fd = os.open(path, os.O_RDONLY)
    try:
        return sum(os.pread(fd, size, off)[0] for off in offsets)  # C: pread(fd, buf, size, off)
    finally:
        os.close(fd)


def _random_mmap(path, offsets, size):
    with mapping.mapped(path, access="read") as mm:
        return sum(mm[off:off + size][0] for off in offsets)


def read_vs_mmap(path, repeats=3, nrandom=4000, record=64, seed=1):
    """Time read() and mmap on *path*: sequential whole-file sum and *nrandom* random *record*-byte reads.

    Each case runs cold (file dropped from the page cache) and warm, *repeats* times; rows
    carry the best time, MiB/s, and a checksum so both methods are seen to read the same bytes.
    """
    size = os.path.getsize(path)
    rng = random.Random(seed)
    offsets = [rng.randrange(0, size - record) for _ in range(nrandom)]
    cases = [("sequential", "read()", lambda: _sum_read(path), size),
             ("sequential", "mmap", lambda: _sum_mmap(path), size),
             ("random", "pread()", lambda: _random_read(path, offsets, record), nrandom * record),
             ("random", "mmap", lambda: _random_mmap(path, offsets, record), nrandom * record)]
    rows = []
    for cache in ("cold", "warm"):
        for pattern, method, fn, nbytes in cases:
            best, check = float("inf"), None
            for _ in range(repeats):
                if cache == "cold":
                    page_stats.drop_cache(path)
                else:
                    fn()  # warm up
                t0 = time.perf_counter()
                check = fn()
                best = min(best, time.perf_counter() - t0)
            rows.append({"pattern": pattern, "method": method, "cache": cache, "seconds": best,
                         "mib_s": nbytes / best / 2**20, "checksum": check})
    return rows


# -- applications ------------------------------------------------------------------------

def bump(path, index, times, locked, barrier_path, nworkers, window=0.0005, timeout=20):
    """Worker: add 1 to the counter of record *index*, *times* times, after all *nworkers* are ready."""
    with record_files.RecordStore.open(barrier_path) as barrier:  # a start line: everyone runs at once
        barrier.update(0, lambda r: (r[0] + 1,), timeout=timeout)
        waiting.wait_until(lambda: barrier.read(0)[0] >= nworkers, timeout, "the other workers to start")
    with record_files.RecordStore.open(path) as store:
        for _ in range(times):
            store.update(index, lambda r: (r[0] + 1, *r[1:]), timeout=timeout, locked=locked, window=window)
    return times


def concurrent_updates(nworkers=4, times=50, records=2, locked=True, start_method="spawn", timeout=60):
    """*nworkers* processes bump records of one store in place (worker w bumps record w % records).

    Returns the final counters and what they should be: with ``locked=False`` updates get lost.
    """
    with objects.course_file(tag="records") as path, objects.course_file(tag="barrier") as bpath:
        record_files.RecordStore.create(bpath, "<q", 1).close()
        with record_files.RecordStore.create(path, "<q12s", records) as store:
            for i in range(records):
                store.write(i, (0, f"record {i}".encode()))
            procs.run(bump, [(path, w % records, times, locked, bpath, nworkers) for w in range(nworkers)],
                      start_method=start_method, timeout=timeout)
            final = [store.read(i)[0] for i in range(records)]
        expected = [times * sum(1 for w in range(nworkers) if w % records == i) for i in range(records)]
        return {"final": final, "expected": expected, "lost": sum(expected) - sum(final)}


def make_image(path, height, width):
    """Write a height x width uint8 test image (diagonal gradient) to *path*; returns it as an array."""
    import numpy as np
    y, x = np.mgrid[0:height, 0:width]
    image = ((x + y) * 255 // (height + width - 2)).astype(np.uint8)
    mapping.grow(path, image.nbytes)
    mm = np.memmap(path, dtype=np.uint8, mode="r+", shape=(height, width))  # C: mmap(MAP_SHARED)
    mm[:] = image
    mm.flush()
    del mm
    return image


def invert_rows(path, shape, start, stop):
    """Worker: invert rows [start, stop) of the image in place, through its own numpy.memmap."""
    import numpy as np
    img = np.memmap(path, dtype=np.uint8, mode="r+", shape=tuple(shape))
    img[start:stop] = 255 - img[start:stop]
    img.flush()  # C: msync
    del img
    return stop - start


def process_image(height=512, width=512, nworkers=4, start_method="spawn", timeout=60):
    """*nworkers* processes invert horizontal bands of one image file in place; compare with numpy."""
    import numpy as np
    with objects.course_file(tag="image") as path:
        original = make_image(path, height, width)
        bands = np.linspace(0, height, nworkers + 1, dtype=int)
        done = procs.run(invert_rows, [(path, (height, width), int(a), int(b)) for a, b in zip(bands, bands[1:])],
                         start_method=start_method, timeout=timeout)
        result = np.fromfile(path, dtype=np.uint8).reshape(height, width)
        return {"original": original, "result": result, "rows_done": done,
                "matches": bool(np.array_equal(result, 255 - original))}


MAILBOX = struct.Struct("<QQI")  # sequence number, acknowledged sequence, payload length
MAILBOX_SIZE = PAGE


def mailbox_send(path, messages, timeout=20):
    """Worker: post each message into the mapped mailbox file, waiting for the reader's ack each time."""
    with mapping.mapped(path, access="shared") as mm:
        fd = os.open(path, os.O_RDWR)
        try:
            for seq, text in enumerate(messages, 1):
                data = text.encode()
                with record_files.file_lock(fd, 0, MAILBOX_SIZE, timeout=timeout):
                    mm[MAILBOX.size:MAILBOX.size + len(data)] = data
                    MAILBOX.pack_into(mm, 0, seq, seq - 1, len(data))
                waiting.wait_until(lambda: _mailbox(mm, fd, timeout)[1] >= seq, timeout,
                                   f"the reader to acknowledge message {seq}")
        finally:
            os.close(fd)
    return len(messages)


def _mailbox(mm, fd, timeout):
    with record_files.file_lock(fd, 0, MAILBOX_SIZE, timeout=timeout):
        return MAILBOX.unpack_from(mm, 0)


def mailbox_receive(path, count, timeout=20):
    """Worker: read *count* messages from the mailbox file, acknowledging each; returns them."""
    got = []
    with mapping.mapped(path, access="shared") as mm:
        fd = os.open(path, os.O_RDWR)
        try:
            for seq in range(1, count + 1):
                waiting.wait_until(lambda: _mailbox(mm, fd, timeout)[0] >= seq, timeout,
                                   f"message {seq} from the writer")
                with record_files.file_lock(fd, 0, MAILBOX_SIZE, timeout=timeout):
                    _, _, n = MAILBOX.unpack_from(mm, 0)
                    got.append(bytes(mm[MAILBOX.size:MAILBOX.size + n]).decode())
                    MAILBOX.pack_into(mm, 0, seq, seq, n)
        finally:
            os.close(fd)
    return got


def file_as_ipc(messages, start_method="spawn", timeout=30):
    """A writer and a reader that share nothing but a path exchange *messages* through a mapped file."""
    with objects.course_file(MAILBOX_SIZE, tag="mailbox") as path:
        writer = procs.start(mailbox_send, [(path, list(messages), timeout)], start_method=start_method,
                             timeout=timeout, names=["writer"])
        try:
            reader = procs.start(mailbox_receive, [(path, len(messages), timeout)],
                                 start_method=start_method, timeout=timeout, names=["reader"])
            received, = reader.join()
            writer.join()
        except BaseException:
            writer.kill()
            raise
        return received


# -- pitfalls -----------------------------------------------------------------------------

def read_after_shrink(path):
    """Worker: map 4 pages, shrink the file to 1 page, read page 2 -> SIGBUS kills this process."""
    _quiet()
    mapping.grow(path, 4 * PAGE)
    with mapping.mapped(path, access="shared") as mm:
        before = mm[2 * PAGE]  # fine: the file still has that page
        os.truncate(path, PAGE)  # someone shrinks the file under our mapping
        after = mm[2 * PAGE]    # no page of the file backs this address any more
        return before, after     # never reached


def c_mmap_past_eof(path, probe):
    """Worker: C mmap of 2 pages of a 100-byte file, then read byte *probe* (raw ctypes, no Python checks)."""
    _quiet()
    libc = page_stats._libc()
    fd = os.open(path, os.O_RDONLY)
    addr = libc.mmap(None, 2 * PAGE, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)  # accepted by the kernel
    os.close(fd)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    value = ctypes.string_at(addr + probe, 1)[0]  # page 0: fine (zeros past EOF); page 1: SIGBUS
    libc.munmap(addr, 2 * PAGE)
    return value


def child_signal(target, args, start_method="spawn", timeout=30):
    """Run *target* in a child; ``("returned", value)`` or ``("killed", "SIGBUS")``-style outcome."""
    try:
        value, = procs.run(target, [args], start_method=start_method, timeout=timeout, relay=False)
        return ("returned", value)
    except ChildError as e:
        if e.exitcode is not None and e.exitcode < 0:
            return ("killed", signal.Signals(-e.exitcode).name)
        raise


def hold_record(path, index, seconds, timeout=10):
    """Worker: lock record *index* of a store for *seconds*, so others meet a held lock."""
    with record_files.RecordStore.open(path) as store, store.lock(index, timeout=timeout):
        time.sleep(seconds)
    return index


def lock_is_held(path, index):
    """True if another process holds the lock on record *index* (we test with a non-blocking lock)."""
    with record_files.RecordStore.open(path) as store:
        try:
            with store.lock(index, timeout=0.001):
                return False
        except WaitTimeout:
            return True


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["MARK", "map_and_write", "sharing", "copy_on_write", "dirty_then_flush", "write_then_die",
           "survives_kill", "make_data_file", "lazy_loading", "put_slot", "anonymous", "read_vs_mmap",
           "bump", "concurrent_updates", "make_image", "invert_rows", "process_image", "MAILBOX",
           "MAILBOX_SIZE", "mailbox_send", "mailbox_receive", "file_as_ipc", "read_after_shrink",
           "c_mmap_past_eof", "child_signal", "hold_record", "lock_is_held"]
