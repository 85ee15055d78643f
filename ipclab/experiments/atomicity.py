"""What a Python store to shared memory really does: torn reads counted live.

Why: the course used to say that ``mmap``, ``struct``, ``ctypes`` and numpy assignments
are "plain loads and stores". They are not all the same. ``struct.pack_into`` first
clears the bytes it will write (CPython ``Modules/_struct.c``, ``s_pack_internal``:
``memset(buf, '\\0', soself->s_size)``) and then writes each field, so a process that
reads at the wrong moment sees a value nobody wrote: a **torn read**. A ``ctypes``
``c_uint64`` store into an aligned slot is, in CPython on x86-64 and arm64, one 8-byte
store instruction, and an aligned 8-byte load cannot observe half of it.

Two ways to see it:

* :func:`zeroing_proof` - deterministic: a ``pack_into`` that fails on its second field
  leaves the bytes of that field at zero (the memset ran, the store never did).
* :func:`torn_reads` - live: a writer process alternates two non-zero values A and B in
  one aligned 8-byte slot with the chosen access path, a reader process loads the slot
  with one aligned 8-byte load and counts every value that is neither A nor B.

What the counts prove and what they do not: a zero count for ``ctypes`` is what the
hardware guarantees for an aligned 8-byte access (Intel SDM vol. 3A, "Guaranteed Atomic
Operations"; Arm ARM, "single-copy atomicity") *given* that CPython compiles that store to one instruction, which is an
implementation fact, not a promise of the language. In C the same race on a plain
``uint64_t`` is undefined behaviour (C11 5.1.2.4p25); only ``_Atomic`` accesses
(``atomic_load_explicit``/``atomic_store_explicit``) are guaranteed untorn.

Defined in :mod:`ipclab.experiments.atomicity`; taught in ``notebooks/01_posix_shared_memory.ipynb``.
"""

import contextlib
import ctypes
import os
import struct
import time
from dataclasses import dataclass

import posix_ipc

from ipclab.core import objects, procs
from ipclab.core.errors import BadArgument, WaitTimeout
from ipclab.mechanisms.shm import Segment

__all__ = ["METHODS", "A", "B", "TornResult", "zeroing_proof", "torn_reads", "writer", "reader"]

A, B = 0x5555555555555555, 0xAAAAAAAAAAAAAAAA   # both non-zero; 0 is a value nobody wrote
SLOT = 64                                        # the slot's offset: 8-byte aligned
#: access path -> what it does to the 8 bytes (the notebook's table is built from this)
METHODS = {
    "struct.pack_into": "memset(8 bytes, 0), then one store per field (CPython _struct.c s_pack_internal)",
    "ctypes c_uint64": "one 8-byte store (cfield.c Q_set: memcpy of 8 bytes, compiled to one mov)",
    "numpy uint64": "one 8-byte store for an aligned element (a typed assignment)",
    "mmap slice": "memcpy of 8 bytes (glibc's small-copy path: whole 8-byte moves)",
}


def zeroing_proof():
    """Deterministic: ``pack_into("=QQ", buf, 0, B, "x")`` fails on field 2, after zeroing both.

    Returns ``(field1, field2)`` read back: ``(B, 0)`` on CPython, although field 2 held A
    before the call and the call raised. That 0 is the memset's.
    """
    buf = bytearray(16)
    struct.pack_into("=QQ", buf, 0, A, A)
    try:
        struct.pack_into("=QQ", buf, 0, B, "x")   # "x" is not an integer: struct.error
    except struct.error:
        pass
    return struct.unpack_from("=QQ", buf, 0)


def _pin(cpu):
    """Pin this process to *cpu* if the machine lets us (writer and reader on different CPUs)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) >= 2:
            os.sched_setaffinity(0, {allowed[cpu % len(allowed)]})
    except (AttributeError, OSError):
        pass


def _store(method, buf):
    """A function ``store(value)`` that writes the slot with *method*."""
    if method == "struct.pack_into":
        return lambda v: struct.pack_into("=Q", buf, SLOT, v)
    if method == "ctypes c_uint64":
        word = ctypes.c_uint64.from_buffer(buf, SLOT)
        return lambda v: setattr(word, "value", v)
    if method == "numpy uint64":
        import numpy as np
        arr = np.ndarray((1,), dtype=np.uint64, buffer=buf, offset=SLOT)
        return lambda v: arr.__setitem__(0, v)
    if method == "mmap slice":
        return lambda v: buf.__setitem__(slice(SLOT, SLOT + 8), v.to_bytes(8, "little"))
    raise BadArgument(f"method must be one of {list(METHODS)}, got {method!r}")


def writer(seg_name, method, go_name, stop_name, timeout):
    """Worker: alternate A and B in the slot with *method* until the reader posts *stop*."""
    _pin(0)
    seg = Segment.attach(seg_name)
    go, stop = posix_ipc.Semaphore(go_name), posix_ipc.Semaphore(stop_name)
    store, writes = _store(method, seg.buf), 0
    try:
        go.release()                                   # "I am writing"
        deadline = time.monotonic() + timeout
        while stop.value == 0:
            for _ in range(500):
                store(A)
                store(B)
            writes += 1000
            if time.monotonic() > deadline:
                raise WaitTimeout(f"the reader did not say stop within {timeout:g} s")
    finally:
        store = None
        seg.close()
        go.close()
        stop.close()
    return writes


def reader(seg_name, go_name, stop_name, seconds, min_torn, timeout):
    """Worker: one aligned 8-byte load at a time; count values that are neither A nor B.

    Reads for *seconds*, or longer (up to *timeout*) until *min_torn* torn values were seen.
    Returns ``(reads, zeros, other_torn, seconds_read)``.
    """
    _pin(1)
    seg = Segment.attach(seg_name)
    go, stop = posix_ipc.Semaphore(go_name), posix_ipc.Semaphore(stop_name)
    word = ctypes.c_uint64.from_buffer(seg.buf, SLOT)  # C: uint64_t v = *(volatile uint64_t *)p;
    reads = zeros = other = 0
    try:
        go.acquire(timeout)                            # the writer is running
        t0 = time.monotonic()
        while True:
            for _ in range(1000):
                v = word.value
                if v == 0:
                    zeros += 1
                elif v != A and v != B:
                    other += 1
            reads += 1000
            elapsed = time.monotonic() - t0
            if elapsed >= seconds and (zeros + other >= min_torn or elapsed >= timeout):
                break
    finally:
        stop.release()
        del word
        seg.close()
        go.close()
        stop.close()
    return reads, zeros, other, elapsed


@dataclass
class TornResult:
    """One :func:`torn_reads` run: how many loads saw a value that no store wrote."""
    method: str
    reads: int
    writes: int
    zeros: int          # loads that returned 0 (pack_into's memset)
    other: int          # loads that returned any other value that is neither A nor B
    seconds: float

    @property
    def torn(self):
        return self.zeros + self.other

    @property
    def per_million(self):
        return 1e6 * self.torn / self.reads if self.reads else 0.0


def torn_reads(method, seconds=0.5, min_torn=0, start_method="fork", timeout=30.0):
    """Run one writer (with *method*) and one reader for *seconds*; count torn reads.

    With *min_torn* > 0 the reader goes on (up to *timeout*) until it has seen that many,
    so a test can ask "are torn reads seen?" without depending on one short window.
    """
    if method not in METHODS:
        raise BadArgument(f"method must be one of {list(METHODS)}, got {method!r}")
    if not 0 < seconds <= timeout:
        raise BadArgument(f"seconds must be in (0, timeout={timeout:g}], got {seconds!r}")
    with contextlib.ExitStack() as stack:
        seg = stack.enter_context(Segment.create(4096, tag="torn"))
        struct.pack_into("=Q", seg.buf, SLOT, A)
        go = stack.enter_context(objects.posix_sem(0, tag="go"))
        stop = stack.enter_context(objects.posix_sem(0, tag="stop"))
        group = stack.enter_context(procs.start(
            writer, [(seg.name, method, go.name, stop.name, timeout + 10)],
            start_method=start_method, timeout=timeout + 20))
        reads, zeros, other, secs = procs.run(
            reader, [(seg.name, go.name, stop.name, seconds, min_torn, timeout)],
            start_method=start_method, timeout=timeout + 20)[0]
        writes = group.join()[0]
    return TornResult(method, reads, writes, zeros, other, secs)
