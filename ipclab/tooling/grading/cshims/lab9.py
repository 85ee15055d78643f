"""Lab 9's C library (``labs/c/lab9_seqlock.h``) as the Python track's ``SeqRecord``.

Each method is one call into the student's C; errno becomes the Python track's exception
(ETIMEDOUT -> TimeoutError, ENOSYS -> NotImplementedError, else OSError). The key is drawn here
(a course key, as ``objects.create_sysv_shm`` draws it), another one on EEXIST, and the segment
is registered as soon as it exists. ``write``'s ValueError for x or y outside 0..2**64-1 is raised
here: the C function takes uint64_t, which holds exactly those values.
"""

import ctypes
import errno

from ipclab.core import inventory, names, registry
from ipclab.tooling.grading import cshims

__all__ = ["load", "slow", "SeqRecord", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 5.0
MASK = 2**64 - 1
KEY_TRIES = 20
Out = ctypes.c_uint64 * 4
_lib = None


def load(path):
    """Load the student's compiled library (once per process) and declare its functions."""
    global _lib
    if _lib is None:
        vp, u64 = ctypes.c_void_p, ctypes.c_uint64
        _lib = cshims.open_library(path, (
            ("sr_create", vp, [ctypes.c_int]),
            ("sr_attach", vp, [ctypes.c_int]),
            ("sr_id", ctypes.c_int, [vp]),
            ("sr_write", ctypes.c_int, [vp, u64, u64]),
            ("sr_read", ctypes.c_int, [vp, Out, ctypes.c_double]),
            ("sr_close", ctypes.c_int, [vp]),
            ("sr_destroy", ctypes.c_int, [vp]),
        ))
    return _lib


def slow(delay):
    """Slow every memory access of the student's C code (cshims.set_slow)."""
    cshims.set_slow(_lib, delay)


def _fail(call):
    """The Python track's exception for the errno the student's *call* left."""
    return cshims.errno_exception(call, {errno.ETIMEDOUT: TimeoutError})

class SeqRecord:
    """The student's ``sr_t *`` behind the Python lab API."""

    def __init__(self, ptr, handle, owner):
        self._ptr, self.handle, self.owner = ptr, handle, owner

    @classmethod
    def create(cls):
        for _ in range(KEY_TRIES):
            key = names.sysv_key()
            ctypes.set_errno(0)
            ptr = _lib.sr_create(key)
            if ptr:
                break
            if ctypes.get_errno() != errno.EEXIST:
                raise _fail(f"sr_create(0x{key:08x})")
        else:
            raise _fail(f"sr_create: {KEY_TRIES} keys taken in a row")
        shmid = _lib.sr_id(ptr)
        if shmid < 0:
            raise _fail("sr_id")
        registry.register("sysv_shm", id=shmid, key=key, note="C track")
        return cls(ptr, shmid, True)

    @classmethod
    def attach(cls, handle):
        if not isinstance(handle, int) or isinstance(handle, bool):
            raise TypeError(f"handle is a shmid (int), got {handle!r}")
        ptr = _lib.sr_attach(handle)
        if not ptr:
            raise _fail(f"sr_attach({handle})")
        return cls(ptr, handle, False)

    def write(self, x, y):
        for v in (x, y):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MASK:
                raise ValueError(f"x and y are ints in 0..2**64-1 (uint64_t), got {v!r}")
        if _lib.sr_write(self._live(), x, y) != 0:
            raise _fail("sr_write")

    def read(self, timeout=DEFAULT_TIMEOUT):
        out = Out()
        if _lib.sr_read(self._live(), out, float(timeout)) != 0:
            raise _fail("sr_read")
        return tuple(int(v) for v in out)

    def close(self):
        ptr, self._ptr = self._live(), None
        if _lib.sr_close(ptr) != 0:
            raise _fail("sr_close")

    def destroy(self):
        ptr, self._ptr = self._live(), None
        rc = _lib.sr_destroy(ptr)
        exc = _fail("sr_destroy") if rc != 0 else None
        if inventory.sysv_row("shm", self.handle) is None:   # gone: off the registry; else the cleanup removes it
            registry.unregister("sysv_shm", id=self.handle)
        if exc:
            raise exc

    def _live(self):
        if self._ptr is None:
            raise ValueError("this record was closed or destroyed (sr_close / sr_destroy freed it)")
        return self._ptr

    def __repr__(self):
        return f"<C SeqRecord shmid={self.handle}>"
