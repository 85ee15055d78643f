"""The C track's adapters: a student's C library presented through the Python lab API.

One module per lab (``lab1.py`` ...). It runs inside the grading box, in the process that
serves the test (the agent), where the grader's generated ``MODULE.py`` loads it: the visible
and hidden tests of the Python track then run unchanged against the C code. Nothing here is
trusted: like the student's Python module, it only turns calls into results, and the verdicts
are decided outside the box (see :mod:`ipclab.tooling.grading.ctrack`).
"""

import ctypes
import errno
import os

__all__ = ["open_library", "set_slow", "errno_exception", "SLOW_HOOK"]

SLOW_HOOK = ("ipclab_slow", None, [ctypes.c_long])  # the grader's hook (ipclab/c/ctrack/slow_hooks.c)


def open_library(path, signatures):
    """Load the student's compiled library and declare its functions and the slow hook.

    *signatures*: (name, restype, argtypes) per function of the lab's header. ``use_errno``:
    the errno a failing C function leaves is what :func:`errno_exception` reports.
    """
    lib = ctypes.CDLL(str(path), use_errno=True)
    for fn, res, args in (*signatures, SLOW_HOOK):
        f = getattr(lib, fn)
        f.restype, f.argtypes = res, args
    return lib


def set_slow(lib, delay):
    """From now on every memory access of the student's C code in this process first sleeps
    *delay* seconds (the C twin of labkit.slow_student's line tracer; see slow_hooks.c)."""
    lib.ipclab_slow(int(float(delay) * 1e9))


def errno_exception(call, kinds):
    """The Python track's exception for the errno the student's *call* left (the header's ERRORS):
    ENOSYS is "not implemented yet", *kinds* maps other errnos to exception types, else OSError."""
    e = ctypes.get_errno()
    if e == errno.ENOSYS:
        return NotImplementedError(f"{call} (your C function still sets errno = ENOSYS)")
    text = f"{call} failed: {errno.errorcode.get(e, e)} ({os.strerror(e)})" if e else f"{call} failed with errno 0"
    kind = kinds.get(e)
    return kind(text) if kind else OSError(e, text)
