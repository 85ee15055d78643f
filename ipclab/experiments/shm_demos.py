"""What notebook 01 runs on POSIX shared memory: the ring's workers, and small probes.

Why a module of its own: :mod:`ipclab.mechanisms.shm` is the mechanism (a segment, a ring
buffer); these are the experiments built on it, shown to the student with
:func:`ipclab.presentation.glass.show` and run in real processes:

* the ring's workers: :func:`produce`, :func:`consume`, :func:`put_then_die`, and
  :func:`check_delivery`, the verdict on what the consumers received;
* probes of the object's life: :func:`ls` (its ``/dev/shm`` entry), :func:`create_and_exit`
  (an object outlives its creator), :func:`try_access` (run as another user),
  :func:`mp_attach_only` / :func:`run_attach_only` (multiprocessing's resource tracker);
* :func:`build_c`: the C twin ``shm_peek``, built with :mod:`ipclab.core.cbuild`.

Workers live here, in an importable module, so they run under fork, forkserver and spawn.
"""

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import posix_ipc

from ipclab.core.errors import IpclabError
from ipclab.mechanisms.shm import RingBuffer, Segment

# --------------------------------------------------------------------------- workers
#: a record the producer sends to tell one consumer there is nothing more.
EOF = b""
ITEM = struct.Struct("=q")


def produce(spec, n_items, n_consumers=1, timeout=10.0):
    """Worker: put the integers 0..n_items-1 (8 bytes each), then one EOF per consumer."""
    with RingBuffer.attach(spec) as ring:
        for i in range(n_items):
            ring.put(ITEM.pack(i), timeout=timeout)
        for _ in range(n_consumers):
            ring.put(EOF, timeout=timeout)
    return n_items


def put_then_die(spec, n_items, hold_mutex=False):
    """Worker for the "Try it" of 19.1: put *n_items*, then die by SIGKILL (optionally holding the mutex)."""
    ring = RingBuffer.attach(spec)
    for i in range(n_items):
        ring.put(ITEM.pack(i), timeout=10)
    if hold_mutex:
        posix_ipc.Semaphore(spec.mutex).acquire(10)  # C: sem_timedwait(mutex): then die holding it
    os.kill(os.getpid(), signal.SIGKILL)


def consume(spec, timeout=10.0):
    """Worker: get records until EOF; return the integers received, in the order received."""
    got = []
    with RingBuffer.attach(spec) as ring:
        while True:
            data = ring.get(timeout=timeout)
            if data == EOF:
                return got
            got.append(ITEM.unpack(data)[0])


def check_delivery(n_items, received):
    """Verdicts on what consumers received: every item exactly once, each consumer in order.

    *received* is one list per consumer. Returns a dict of booleans and counts.
    """
    flat = [x for lst in received for x in lst]
    seen = set(flat)
    return {"items": n_items, "received": len(flat),
            "missing": len(set(range(n_items)) - seen),
            "duplicated": len(flat) - len(seen),
            "in_order": all(a < b for lst in received for a, b in zip(lst, lst[1:])),
            "exactly_once": len(flat) == n_items and seen == set(range(n_items))}


# --------------------------------------------------------------------------- helpers for the notebook
def ls(name):
    """One line about the object at ``/dev/shm/NAME``: mode, owner uid, size, or that it is gone."""
    path = "/dev/shm" + name
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path}: no such object"
    return f"{path}: mode {st.st_mode & 0o777:04o}, owner uid {st.st_uid}, size {st.st_size} bytes"


def build_c(program, tmpdir=None):
    """Compile ``ipclab/c/PROGRAM.c`` with :mod:`ipclab.core.cbuild` (cached); return the binary's path.

    With *tmpdir*, the binary is copied there (callers that clean a folder keep doing so).
    Without gcc: :class:`~ipclab.core.errors.NotSupported`; on a compile error:
    :class:`~ipclab.core.cbuild.CompileError`.
    """
    from ipclab.core import cbuild
    exe = cbuild.build_file(f"{program}.c")
    if tmpdir is None:
        return str(exe)
    out = Path(tmpdir) / program
    shutil.copy2(exe, out)
    return str(out)


def mp_attach_only(name, unregister):
    """Run in a *fresh* interpreter: attach with multiprocessing.shared_memory, close, exit.

    With ``unregister=False`` the resource tracker of that interpreter believes it owns the
    segment and unlinks it when the interpreter exits: attaching registers the name with the
    tracker in every CPython version, 3.13 included, unless ``track=False`` is passed (3.13+;
    gh-82300, the ``track`` parameter of :class:`multiprocessing.shared_memory.SharedMemory`).
    """
    from multiprocessing import resource_tracker, shared_memory
    shm = shared_memory.SharedMemory(name=name.lstrip("/"))  # C: shm_open(name, O_RDWR) + mmap
    if unregister:
        # the workaround for every version (3.13+ can instead attach with track=False)
        resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001 - the documented workaround
    shm.close()  # munmap only; no unlink here


def run_attach_only(name, unregister, timeout=30.0):
    """Run :func:`mp_attach_only` in a new interpreter; return (still exists?, its stderr's last line)."""
    code = f"import ipclab.experiments.shm_demos as s; s.mp_attach_only({name!r}, {bool(unregister)})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise IpclabError(f"the attaching interpreter failed:\n{done.stderr}")
    path = "/dev/shm" + name
    deadline = time.monotonic() + 5.0  # the tracker unlinks just after its interpreter exits
    while os.path.exists(path) and time.monotonic() < deadline and not unregister:
        time.sleep(0.05)
    warn = [ln.split("UserWarning: ", 1)[1].strip() for ln in done.stderr.splitlines() if "UserWarning: " in ln]
    return os.path.exists(path), (warn[0] if warn else "")


def try_access(name):
    """Worker, run as another user (:func:`ipclab.core.asuser.run_as_other`): what may it do to *name*?

    Returns ``"read+write"``, ``"read only"`` or ``"denied"``.
    """
    can = []
    try:
        posix_ipc.SharedMemory(name, read_only=True).close_fd()  # C: shm_open(name, O_RDONLY, 0)
        can.append("read")
        posix_ipc.SharedMemory(name).close_fd()                  # C: shm_open(name, O_RDWR, 0)
        can.append("write")
    except posix_ipc.PermissionsError:
        pass
    return {("read", "write"): "read+write", ("read",): "read only"}.get(tuple(can), "denied")


def create_and_exit(text, tag="orphan"):
    """Worker: create a segment, write *text* in it, unmap it and exit *without* unlinking it.

    Returns the object's name: the object outlives its creator (the caller must unlink it).
    """
    seg = Segment.create(4096, tag=tag)
    seg.buf[:len(text.encode())] = text.encode()
    seg.close()  # munmap only: no shm_unlink
    return seg.name


__all__ = ["EOF", "ITEM", "produce", "put_then_die", "consume", "check_delivery", "ls", "build_c",
           "mp_attach_only", "run_attach_only", "try_access", "create_and_exit"]
