"""POSIX shared memory building blocks: a mapped segment and a ring buffer with semaphores.

Why: notebook 01 (19.1) teaches ``shm_open``/``ftruncate``/``mmap``/``munmap``/``shm_unlink``
and the producer-consumer pattern. These two small types keep the real calls visible
while making the lifetimes explicit:

* :class:`Segment` - one POSIX shared memory object mapped here. ``close()`` unmaps it
  (``munmap``: *this* process stops using it), ``unlink()`` removes its name
  (``shm_unlink``: nobody new can open it). The two are separate, as in C.
* :class:`RingBuffer` - a bounded FIFO of byte records in one segment, synchronised with
  three POSIX named semaphores (``empty``, ``full``, ``mutex``). Any number of producers
  and consumers, in any processes; every wait has a timeout.

Both are created through :mod:`ipclab.core.objects` (unique name, mode 0600, registered), and
both pass to worker processes as a small picklable *spec* (``seg.name``, ``ring.spec``).

Defined in :mod:`ipclab.mechanisms.shm`; taught in ``notebooks/01_posix_shared_memory.ipynb``.
"""

import contextlib
import mmap
import os
import struct
from dataclasses import dataclass

import posix_ipc

from ipclab.core import objects, registry
from ipclab.core.errors import BadArgument, IpclabError, ObjectGone, WaitTimeout


# --------------------------------------------------------------------------- segment
class _CreatorUnlinks:
    """``with``: every process closes its handle; only the creating process also unlinks the names."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        finally:
            if self._creator == os.getpid():
                self.unlink()
        return False


class Segment(_CreatorUnlinks):
    """A POSIX shared memory object mapped into this process.

    ``Segment.create(4096)`` makes a new one (``shm_open(O_CREAT|O_EXCL)`` + ``ftruncate`` +
    ``mmap``); ``Segment.attach(name)`` maps an existing one. ``seg.buf`` is the mapping
    (an ``mmap.mmap``: slice it, ``struct.pack_into`` it, wrap it in ctypes or numpy).
    ``with`` closes it on exit, and unlinks it too if this process created it.

    The segment keeps its descriptor so that :meth:`check` can ``fstat`` it: another
    process may ``ftruncate`` the object smaller, and touching a mapped page past the new
    end kills this process with SIGBUS (mmap(2)). The helpers here check before they touch.
    """

    def __init__(self, name, mapping, size, created, fd=None):
        self.name = name          # the POSIX name, '/ipl...'
        self.buf = mapping        # mmap.mmap over the whole object (MAP_SHARED)
        self.size = size          # bytes
        self._fd = fd             # kept for fstat (check); closed with the mapping
        self._creator = os.getpid() if created else None

    @classmethod
    def create(cls, size, tag="seg", mode=objects.DEFAULT_MODE):
        """New object of *size* bytes, mapped; registered for cleanup."""
        shm = objects.create_posix_shm(size, tag=tag, mode=mode)  # shm_open + ftruncate
        try:
            mapping = mmap.mmap(shm.fd, size)  # C: mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
        except BaseException:
            objects.remove_posix_shm(shm)
            raise
        # the mapping would stay valid after close(fd); we keep fd to fstat it (check)
        return cls(shm.name, mapping, size, created=True, fd=shm.fd)

    @classmethod
    def attach(cls, name):
        """Map the existing object *name* (read-write)."""
        try:
            shm = posix_ipc.SharedMemory(name)  # C: fd = shm_open(name, O_RDWR, 0)
        except posix_ipc.ExistentialError as e:
            raise ObjectGone(f"no POSIX shared memory called {name!r}: it was unlinked "
                             "(or never created); create it first") from e
        size = shm.size  # C: fstat(fd, &st); st.st_size
        if size == 0:
            shm.close_fd()
            raise ObjectGone(f"POSIX shared memory {name!r} has size 0: its creator has not "
                             "called ftruncate yet, or another process shrank it; nothing to map")
        try:
            mapping = mmap.mmap(shm.fd, size)
        except BaseException:
            shm.close_fd()
            raise
        return cls(name, mapping, size, created=False, fd=shm.fd)

    def check(self, upto=None):
        """``fstat`` the object: raise ObjectGone if it is now shorter than *upto* (default: the mapping).

        Touching a mapped page that lies wholly past the end of the object raises SIGBUS, which
        kills the process (here: the notebook's kernel). A check narrows that window, it does
        not close it: processes that may shrink a segment must agree on it (a lock, a protocol).
        """
        if self._fd is None or self.buf.closed:
            return
        now = os.fstat(self._fd).st_size  # C: fstat(fd, &st)
        need = self.size if upto is None else upto
        if now < need:
            raise ObjectGone(
                f"{self.name} was shrunk to {now} bytes by another process (ftruncate) while "
                f"{self.size} bytes are mapped here: touching the mapping past byte {now} would "
                "kill this process with SIGBUS. Close this segment; recreate it at the size you need.")

    @property
    def closed(self):
        return self.buf.closed

    @property
    def path(self):
        """Where Linux shows the object: ``/dev/shm/NAME``."""
        return "/dev/shm" + self.name

    def close(self):
        """``munmap``: this process stops using the segment; the object itself survives."""
        if self.buf.closed:
            return
        try:
            self.buf.close()
            if self._fd is not None:
                os.close(self._fd)  # C: close(fd)
                self._fd = None
        except BufferError as e:
            raise IpclabError(f"cannot unmap {self.name}: a memoryview, ctypes object or numpy "
                              "array still points into it. Delete those views first "
                              "(del arr), then close().") from e

    def unlink(self):
        """``shm_unlink``: remove the name; mappings that exist stay usable until closed."""
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory(self.name)
        registry.unregister("posix_shm", name=self.name)


    def __reduce__(self):  # a segment passed to a spawn/forkserver worker is re-attached there
        return (Segment.attach, (self.name,))

    def __repr__(self):
        state = "closed" if self.buf.closed else "mapped"
        return f"<Segment {self.name} size={self.size} {state}>"


# --------------------------------------------------------------------------- ring buffer
#: header of the ring: capacity, slot size, head (next slot to write), tail (next to read),
#: items put so far, items got so far - six native unsigned 64-bit words.
RING_HEADER = struct.Struct("=6Q")
#: the four words put/get rewrite (head, tail, put, got), at offset 16. Capacity and slot size
#: are written once at creation and never again: struct.pack_into clears the bytes it is
#: about to write before writing them, so rewriting a field "with the same value" lets
#: another process, reading it without the mutex (as attach() does), see 0 for an instant.
RING_COUNTERS = struct.Struct("=4Q")
COUNTERS_AT = 16
#: each slot starts with the length of the record it holds.
SLOT_LEN = struct.Struct("=I")


@dataclass(frozen=True)
class RingSpec:
    """What a process needs to attach a ring: the names of its segment and semaphores."""
    segment: str
    empty: str
    full: str
    mutex: str


class RingBuffer(_CreatorUnlinks):
    """A bounded FIFO of byte records in POSIX shared memory.

    The classic three-semaphore protocol (C: ``sem_timedwait``/``sem_post``)::

        put:  wait(empty); wait(mutex); write slot[head]; head++; post(mutex); post(full)
        get:  wait(full);  wait(mutex); read  slot[tail]; tail++; post(mutex); post(empty)

    ``empty`` counts free slots (starts at *capacity*), ``full`` counts filled slots (starts
    at 0), ``mutex`` (starts at 1) makes the update of head/tail one critical section, so
    several producers and several consumers are safe. Every wait has a timeout and raises
    :class:`~ipclab.core.errors.WaitTimeout` saying what it waited for.

    Create it with ``RingBuffer.create(capacity, slot_size)`` (in a ``with``), hand
    ``ring.spec`` to workers, and attach there with ``RingBuffer.attach(spec)``.
    """

    def __init__(self, spec, segment, empty, full, mutex, created):
        self.spec = spec
        self.segment = segment
        self._sems = {"empty": empty, "full": full, "mutex": mutex}
        cap, slot, *_ = RING_HEADER.unpack_from(segment.buf, 0)
        self.capacity = cap        # number of slots
        self.slot_size = slot      # largest record, in bytes
        self._creator = os.getpid() if created else None

    # -- life cycle ------------------------------------------------------------
    @classmethod
    def create(cls, capacity=8, slot_size=64, tag="ring"):
        """A new empty ring of *capacity* records of at most *slot_size* bytes each."""
        if not isinstance(capacity, int) or not 1 <= capacity <= posix_ipc.SEMAPHORE_VALUE_MAX:
            raise BadArgument(f"capacity must be a number of slots >= 1, got {capacity!r}")
        if not isinstance(slot_size, int) or slot_size < 1:
            raise BadArgument(f"slot_size must be a positive number of bytes, got {slot_size!r}")
        size = RING_HEADER.size + capacity * (SLOT_LEN.size + slot_size)
        made = []
        try:
            seg = Segment.create(size, tag=tag)
            made.append(seg)
            RING_HEADER.pack_into(seg.buf, 0, capacity, slot_size, 0, 0, 0, 0)
            for sem_tag, value in (("empty", capacity), ("full", 0), ("mutex", 1)):
                # C: sem_open(name, O_CREAT|O_EXCL, 0600, value)
                made.append(objects.create_posix_sem(value, tag=f"{tag[:6]}_{sem_tag}"))
        except BaseException:
            for obj in reversed(made):
                cls._remove(obj)
            raise
        seg_, empty, full, mutex = made
        spec = RingSpec(seg_.name, empty.name, full.name, mutex.name)
        return cls(spec, seg_, empty, full, mutex, created=True)

    @classmethod
    def attach(cls, spec):
        """Open an existing ring from its :class:`RingSpec` (in a worker, say)."""
        seg = Segment.attach(spec.segment)
        try:
            sems = [posix_ipc.Semaphore(n) for n in (spec.empty, spec.full, spec.mutex)]  # C: sem_open(name, 0)
        except posix_ipc.ExistentialError as e:
            seg.close()
            raise ObjectGone(f"a semaphore of ring {spec.segment} is gone: the ring was removed") from e
        return cls(spec, seg, *sems, created=False)

    @staticmethod
    def _remove(obj):
        if isinstance(obj, Segment):
            obj.close()
            obj.unlink()
        else:
            objects.remove_posix_sem(obj)

    def close(self):
        """Unmap the segment and close the semaphores (``munmap`` + ``sem_close``)."""
        self.segment.close()
        for sem in self._sems.values():
            with contextlib.suppress(posix_ipc.ExistentialError):
                sem.close()

    def unlink(self):
        """Remove the segment's and the semaphores' names (``shm_unlink`` + ``sem_unlink``)."""
        self.segment.unlink()
        for sem in self._sems.values():
            with contextlib.suppress(posix_ipc.ExistentialError):
                posix_ipc.unlink_semaphore(sem.name)
            registry.unregister("posix_sem", name=sem.name)


    def __reduce__(self):
        return (RingBuffer.attach, (self.spec,))

    def __repr__(self):
        if self.segment.closed:
            return f"<RingBuffer {self.spec.segment} closed>"
        return (f"<RingBuffer {self.spec.segment} capacity={self.capacity} "
                f"slot_size={self.slot_size} used={len(self)}>")

    # -- the protocol ----------------------------------------------------------
    def _wait(self, which, timeout, doing):
        try:
            self._sems[which].acquire(timeout)  # C: sem_timedwait(sem, &abs_timeout)
        except posix_ipc.BusyError:
            hint = {"empty": "the ring stayed full: are the consumers alive?",
                    "full": "the ring stayed empty: is the producer alive, and did it put all it promised?",
                    "mutex": "another process held the mutex that long: did it die inside the critical section?"}
            raise WaitTimeout(f"{doing} waited {timeout:g} s on semaphore '{which}' of ring "
                              f"{self.spec.segment}; {hint[which]}") from None

    def _header(self):
        self.segment.check()
        return list(RING_HEADER.unpack_from(self.segment.buf, 0))

    def put(self, data, timeout=10.0):
        """Append the bytes *data* (at most ``slot_size``); wait at most *timeout* s for a free slot."""
        data = bytes(data)
        if len(data) > self.slot_size:
            raise BadArgument(f"record of {len(data)} bytes does not fit a {self.slot_size}-byte slot")
        self._wait("empty", timeout, "put")
        try:
            self._wait("mutex", timeout, "put")
        except WaitTimeout:
            self._sems["empty"].release()  # give the free slot back
            raise
        try:
            self.segment.check()  # fstat: a segment shrunk under us would SIGBUS below
            head, tail, put, got = RING_COUNTERS.unpack_from(self.segment.buf, COUNTERS_AT)
            off = self._slot_offset(head)
            SLOT_LEN.pack_into(self.segment.buf, off, len(data))
            self.segment.buf[off + SLOT_LEN.size: off + SLOT_LEN.size + len(data)] = data
            RING_COUNTERS.pack_into(self.segment.buf, COUNTERS_AT, (head + 1) % self.capacity, tail, put + 1, got)
        finally:
            self._sems["mutex"].release()  # C: sem_post(mutex)
        self._sems["full"].release()       # C: sem_post(full)

    def get(self, timeout=10.0):
        """Remove and return the oldest record; wait at most *timeout* s for one."""
        self._wait("full", timeout, "get")
        try:
            self._wait("mutex", timeout, "get")
        except WaitTimeout:
            self._sems["full"].release()
            raise
        try:
            self.segment.check()
            head, tail, put, got = RING_COUNTERS.unpack_from(self.segment.buf, COUNTERS_AT)
            off = self._slot_offset(tail)
            (n,) = SLOT_LEN.unpack_from(self.segment.buf, off)
            data = bytes(self.segment.buf[off + SLOT_LEN.size: off + SLOT_LEN.size + n])
            RING_COUNTERS.pack_into(self.segment.buf, COUNTERS_AT, head, (tail + 1) % self.capacity, put, got + 1)
        finally:
            self._sems["mutex"].release()
        self._sems["empty"].release()
        return data

    def _slot_offset(self, index):
        return RING_HEADER.size + index * (SLOT_LEN.size + self.slot_size)

    def __len__(self):
        """Records in the ring now (a snapshot: it may change as soon as it is read)."""
        return self._sems["full"].value

    def counts(self):
        """``(put, got)``: records put and got so far, from the header."""
        h = self._header()
        return h[4], h[5]


# The workers and probes notebook 01 runs on these types are in ipclab.experiments.shm_demos.
__all__ = ["Segment", "RING_HEADER", "RING_COUNTERS", "COUNTERS_AT", "SLOT_LEN", "RingSpec", "RingBuffer"]
