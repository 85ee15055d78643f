"""Lab 1's C library (``labs/c/lab1_ringbuffer.h``) as the Python track's ``RingBuffer``.

Each method is one call into the student's C; errno becomes the Python track's exception
(EINVAL -> ValueError, ETIMEDOUT -> TimeoutError, EPIPE -> BrokenPipeError, ENOSYS ->
NotImplementedError). The four POSIX names are chosen here (course names: user id, run id,
random suffix) and registered before the C code creates anything, so a crash leaves nothing
the cleanup does not know. ``mutex``, ``empty`` and ``full`` are the test's own handles on the
named semaphores (posix_ipc), as in the Python track, where the tests read their values.
"""

import ctypes
import errno
import mmap
import os
import struct

import posix_ipc

from ipclab.core import names, registry
from ipclab.tooling.grading import cshims

__all__ = ["load", "slow", "RingBuffer", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 10.0
TAGS = ("ring", "empty", "full", "mutex")
KINDS = ("posix_shm", "posix_sem", "posix_sem", "posix_sem")
Names = ctypes.c_char_p * 4
_lib = None


def load(path):
    """Load the student's compiled library (once per process) and declare its functions."""
    global _lib
    if _lib is None:
        vp, d = ctypes.c_void_p, ctypes.c_double
        _lib = cshims.open_library(path, (
            ("rb_create", vp, [Names, ctypes.c_long, ctypes.c_long]),
            ("rb_attach", vp, [Names]),
            ("rb_put", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t, d]),
            ("rb_get", ctypes.c_ssize_t, [vp, ctypes.c_char_p, ctypes.c_size_t, d]),
            ("rb_end", ctypes.c_int, [vp, d]),
            ("rb_close", ctypes.c_int, [vp]),
            ("rb_destroy", ctypes.c_int, [vp]),
        ))
    return _lib


def slow(delay):
    """Slow every memory access of the student's C code (cshims.set_slow)."""
    cshims.set_slow(_lib, delay)


def _fail(call):
    """The Python track's exception for the errno the student's *call* left."""
    return cshims.errno_exception(call, {errno.EINVAL: ValueError, errno.ETIMEDOUT: TimeoutError, errno.EPIPE: BrokenPipeError})

class RingBuffer:
    """The student's ``rb_t *`` behind the Python lab API."""

    def __init__(self, ptr, handle, owner, item_size):
        self._ptr, self.handle, self.owner, self.item_size = ptr, handle, owner, item_size
        self._sems = {}

    def __getattr__(self, what):  # mutex, empty, full: opened on first use, for the tests
        if what in ("empty", "full", "mutex"):
            sem = self._sems.get(what)
            if sem is None:
                sem = self._sems[what] = posix_ipc.Semaphore(self.handle[TAGS.index(what)])
            return sem
        raise AttributeError(what)

    @classmethod
    def create(cls, capacity, item_size):
        if not isinstance(capacity, int) or not isinstance(item_size, int):
            raise ValueError(f"capacity and item_size must be ints, got {capacity!r}, {item_size!r}")
        if not (-2**62 < capacity < 2**62 and -2**62 < item_size < 2**62):
            raise ValueError("capacity or item_size does not fit a C long")
        run = registry.current().id
        handle = tuple(names.posix_name(t, run) for t in TAGS)
        for kind, name in zip(KINDS, handle):   # registered first: a crash leaves nothing unknown
            registry.register(kind, name=name, note="C track")
        ptr = _lib.rb_create(Names(*(n.encode() for n in handle)), capacity, item_size)
        if not ptr:
            exc = _fail(f"rb_create(capacity={capacity}, item_size={item_size})")
            _forget(handle)
            raise exc
        return cls(ptr, handle, True, item_size)

    @classmethod
    def attach(cls, handle):
        handle = tuple(handle)
        ptr = _lib.rb_attach(Names(*(n.encode() for n in handle)))
        if not ptr:
            raise _fail("rb_attach")
        return cls(ptr, handle, False, _item_size(handle[0]))

    def put(self, data, timeout=DEFAULT_TIMEOUT):
        if not isinstance(data, (bytes, bytearray)):
            raise ValueError(f"a record is bytes, got {type(data).__name__}")
        if _lib.rb_put(self._live(), bytes(data), len(data), float(timeout)) != 0:
            raise _fail(f"rb_put({len(data)} bytes)")

    def get(self, timeout=DEFAULT_TIMEOUT):
        size = max(1, min(self.item_size, 1 << 20))
        buf = ctypes.create_string_buffer(size)
        n = _lib.rb_get(self._live(), buf, size, float(timeout))
        if n < 0:
            raise _fail("rb_get")
        if n > size:
            raise OSError(errno.EOVERFLOW, f"rb_get returned {n}, more than the {size}-byte buffer it was given")
        return None if n == 0 else buf.raw[:n]

    def end(self, timeout=DEFAULT_TIMEOUT):
        if _lib.rb_end(self._live(), float(timeout)) != 0:
            raise _fail("rb_end")

    def close(self):
        self._close_sems()
        ptr, self._ptr = self._live(), None
        if _lib.rb_close(ptr) != 0:
            raise _fail("rb_close")

    def destroy(self):
        self._close_sems()
        ptr, self._ptr = self._live(), None
        rc = _lib.rb_destroy(ptr)
        exc = _fail("rb_destroy") if rc != 0 else None
        _forget(self.handle, only_gone=True)
        if exc:
            raise exc

    def _live(self):
        if self._ptr is None:
            raise ValueError("this buffer was closed or destroyed (rb_close / rb_destroy freed it)")
        return self._ptr

    def _close_sems(self):
        for sem in self._sems.values():
            sem.close()
        self._sems.clear()

    def __repr__(self):
        return f"<C RingBuffer {self.handle[0]} item_size={self.item_size}>"


def _forget(handle, only_gone=False):
    """Strike *handle*'s names off the registry: those the student's code removed (or never made);
    with *only_gone*, what still exists stays registered, so the run's cleanup removes it."""
    for kind, name in zip(KINDS, handle):
        path = "/dev/shm" + name if kind == "posix_shm" else "/dev/shm/sem." + name[1:]
        if not (only_gone and os.path.exists(path)):
            registry.unregister(kind, name=name)


def _item_size(shm_name):
    """item_size as the segment's header holds it (for the size of rb_get's buffer)."""
    try:
        shm = posix_ipc.SharedMemory(shm_name)
    except posix_ipc.Error:
        return 1 << 16
    try:
        if shm.size < 20:
            return 1 << 16
        with mmap.mmap(shm.fd, 20, prot=mmap.PROT_READ) as mm:
            return struct.unpack_from("<I", mm, 12)[0] or (1 << 16)
    finally:
        shm.close_fd()
