"""Lab 2's C library (``labs/c/lab2_semsets.h``) as the Python track's ``Table``.

Each method is one call into the student's C; errno becomes the Python track's exception
(EINVAL -> ValueError, ETIMEDOUT -> TimeoutError, ENOSYS -> NotImplementedError, else OSError).
The key is drawn here (a course key, as ``semset.create`` draws it), another one on EEXIST, and
the set is registered as soon as it exists, so the run's cleanup knows it even if the C code
crashes later. ``n`` is what the student's ``dt_size`` says; the tests read the set's size and
values from the kernel themselves.
"""

import ctypes
import errno

from ipclab.core import inventory, names, registry
from ipclab.tooling.grading import cshims

__all__ = ["load", "slow", "Table", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 10.0
KEY_TRIES = 20
INT_MAX = 2**31 - 1
_lib = None


def load(path):
    """Load the student's compiled library (once per process) and declare its functions."""
    global _lib
    if _lib is None:
        vp, i = ctypes.c_void_p, ctypes.c_int
        _lib = cshims.open_library(path, (
            ("dt_create", vp, [i, i]),
            ("dt_attach", vp, [i]),
            ("dt_id", i, [vp]),
            ("dt_size", i, [vp]),
            ("dt_pick_up", i, [vp, i, ctypes.c_double]),
            ("dt_put_down", i, [vp, i]),
            ("dt_free_forks", i, [vp, ctypes.POINTER(ctypes.c_ushort), ctypes.c_size_t]),
            ("dt_close", i, [vp]),
            ("dt_destroy", i, [vp]),
        ))
    return _lib


def slow(delay):
    """Slow every memory access of the student's C code (cshims.set_slow)."""
    cshims.set_slow(_lib, delay)


def _fail(call):
    """The Python track's exception for the errno the student's *call* left."""
    return cshims.errno_exception(call, {errno.EINVAL: ValueError, errno.ETIMEDOUT: TimeoutError})

def _index(i):
    if not isinstance(i, int) or isinstance(i, bool) or not -INT_MAX <= i <= INT_MAX:
        raise ValueError(f"a philosopher is an int, got {i!r}")
    return i


class Table:
    """The student's ``dt_t *`` behind the Python lab API."""

    def __init__(self, ptr, handle, owner):
        self._ptr, self.handle, self.owner = ptr, handle, owner
        ctypes.set_errno(0)
        self.n = _lib.dt_size(ptr)
        if self.n < 0:
            raise _fail("dt_size")

    def forks_of(self, i):
        """(left, right): the two forks philosopher *i* needs."""
        return i, (i + 1) % self.n

    @classmethod
    def create(cls, n):
        if not isinstance(n, int) or isinstance(n, bool):
            raise ValueError(f"a table needs an int number of philosophers, got {n!r}")
        if not -INT_MAX <= n <= INT_MAX:
            raise ValueError(f"n = {n} does not fit a C int")
        for _ in range(KEY_TRIES):
            key = names.sysv_key()
            ctypes.set_errno(0)
            ptr = _lib.dt_create(key, n)
            if ptr:
                break
            if ctypes.get_errno() != errno.EEXIST:
                raise _fail(f"dt_create(0x{key:08x}, {n})")
        else:
            raise _fail(f"dt_create: {KEY_TRIES} keys taken in a row")
        ctypes.set_errno(0)
        semid = _lib.dt_id(ptr)
        if semid < 0:
            raise _fail("dt_id")
        registry.register("sysv_sem", id=semid, key=key, note="C track")
        return cls(ptr, semid, True)

    @classmethod
    def attach(cls, handle):
        if not isinstance(handle, int) or isinstance(handle, bool) or not 0 <= handle <= INT_MAX:
            raise TypeError(f"handle is a semaphore set id (int >= 0), got {handle!r}")
        ctypes.set_errno(0)
        ptr = _lib.dt_attach(handle)
        if not ptr:
            raise _fail(f"dt_attach({handle})")
        return cls(ptr, handle, False)

    def pick_up(self, i, timeout=DEFAULT_TIMEOUT):
        ctypes.set_errno(0)
        if _lib.dt_pick_up(self._live(), _index(i), float(timeout)) != 0:
            raise _fail(f"dt_pick_up({i}, timeout={timeout:g})")

    def put_down(self, i):
        ctypes.set_errno(0)
        if _lib.dt_put_down(self._live(), _index(i)) != 0:
            raise _fail(f"dt_put_down({i})")

    def free_forks(self):
        size = max(1, min(self.n, 1 << 16))
        out = (ctypes.c_ushort * size)()
        ctypes.set_errno(0)
        got = _lib.dt_free_forks(self._live(), out, size)
        if got < 0:
            raise _fail("dt_free_forks")
        return list(out[:min(got, size)])

    def close(self):
        ptr, self._ptr = self._live(), None
        ctypes.set_errno(0)
        if _lib.dt_close(ptr) != 0:
            raise _fail("dt_close")

    def destroy(self):
        ptr, self._ptr = self._live(), None
        ctypes.set_errno(0)
        rc = _lib.dt_destroy(ptr)
        exc = _fail("dt_destroy") if rc != 0 else None
        if inventory.sysv_row("sem", self.handle) is None:   # gone: off the registry; else the cleanup removes it
            registry.unregister("sysv_sem", id=self.handle)
        if exc:
            raise exc

    def _live(self):
        if self._ptr is None:
            raise ValueError("this table was closed or destroyed (dt_close / dt_destroy freed it)")
        return self._ptr

    def __repr__(self):
        return f"<C Table semid={self.handle} n={self.n}>"
