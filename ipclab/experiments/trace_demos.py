"""The scripts notebook 06 runs in a fresh interpreter: the demos it traces, and a crashed run.

**Traced demos.** Each function decorated with :func:`demo` is a few plain lines of
posix_ipc / sysv_ipc. :func:`run_demo` runs one with a *line tracer* (``sys.settrace``)
that, before each line, makes one harmless, recognisable system call::

    access("/ipclab-marker/L57/shm%20%3D%20posix_ipc.SharedMemory(...)", F_OK) = -1 ENOENT

so the strace log says which Python line (number and text) made the calls that follow it.
:mod:`ipclab.experiments.tracing` runs ``python -m ipclab.experiments.trace_demos demo NAME`` under ``strace -f``
and :mod:`ipclab.experiments.strace_log` groups its log by these markers. Lines ending in
``# bookkeeping`` (ipclab's registry, which removes what a crash leaves) are not marked.

**A crashed run** (:func:`crash_run`): a fresh run that leaves objects and dies by SIGKILL. One
module because both are whole scripts run as ``python -m`` (strace sees one whole process, a crash
kills only itself); the workers notebook 06 starts are in ``debug_workers`` and ``race_window``.

Defined in :mod:`ipclab.experiments.trace_demos`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import json
import linecache
import mmap
import os
import signal
import sys
import time
import urllib.parse

import posix_ipc
import sysv_ipc

from ipclab.core import names, procinfo, registry

MARKER_DIR = "/ipclab-marker"
DEMOS = {}


def demo(func):
    """Register *func* as a traced demo, run by ``python -m ipclab.experiments.trace_demos demo NAME``."""
    DEMOS[func.__name__] = func
    return func


def marker_path(lineno, text):
    """The path a marker ``access()`` asks about: line number and quoted source text."""
    return f"{MARKER_DIR}/L{lineno}/{urllib.parse.quote(text, safe='')}"


def _line_tracer(code):
    """A sys.settrace function that marks each line of *code* (not of the functions it calls)."""
    def local(frame, event, arg):
        if event == "line":
            text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            if text and not text.startswith("#") and not text.endswith("# bookkeeping"):
                os.access(marker_path(frame.f_lineno, text), os.F_OK)  # C: access(path, F_OK)
        elif event == "return":
            os.access(f"{MARKER_DIR}/end", os.F_OK)
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is code else None
    return tracer


def run_demo(name):
    """Run demo *name* with its lines marked; remove whatever it left if it fails."""
    func = DEMOS[name]
    sys.settrace(_line_tracer(func.__code__))
    try:
        return func()
    finally:
        sys.settrace(None)
        registry.remove_created_by([os.getpid()])  # a demo that failed half-way leaves nothing


def _reap(pid, timeout):
    """waitpid with a timeout: poll with WNOHANG, SIGKILL the child at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# -- the traced demos: one statement per line, each line becomes one group of the table --

@demo
def posix_shm():
    name = names.posix_name("trace", registry.current().id)  # bookkeeping
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=4096)
    registry.register("posix_shm", name=name, note="trace")  # bookkeeping
    m = mmap.mmap(shm.fd, 4096)
    m[0:5] = b"hello"
    data = bytes(m[0:5])
    m.close()
    shm.close_fd()
    shm.unlink()
    registry.unregister("posix_shm", name=name)  # bookkeeping
    return data


@demo
def posix_sem():
    name = names.posix_name("trace", registry.current().id)  # bookkeeping
    sem = posix_ipc.Semaphore(name, posix_ipc.O_CREX, mode=0o600, initial_value=1)
    registry.register("posix_sem", name=name, note="trace")  # bookkeeping
    sem.acquire(10)
    sem.release()
    sem.acquire(10)
    pid = os.fork()
    if pid == 0:
        sem.acquire(10)
        os._exit(0)
    procinfo.wait_until_blocked(pid, timeout=10)
    sem.release()
    _reap(pid, timeout=15)
    sem.unlink()
    sem.close()
    registry.unregister("posix_sem", name=name)  # bookkeeping


@demo
def sysv_sem():
    key = names.sysv_key()  # bookkeeping
    sem = sysv_ipc.Semaphore(key, sysv_ipc.IPC_CREX, mode=0o600, initial_value=1)
    registry.register("sysv_sem", id=sem.id, key=sem.key, note="trace")  # bookkeeping
    sem.acquire()
    sem.release()
    value = sem.value
    sem.remove()
    registry.unregister("sysv_sem", id=sem.id)  # bookkeeping
    return value


@demo
def sysv_msg():
    key = names.sysv_key()  # bookkeeping
    q = sysv_ipc.MessageQueue(key, sysv_ipc.IPC_CREX, mode=0o600)
    registry.register("sysv_msg", id=q.id, key=q.key, note="trace")  # bookkeeping
    q.send(b"hello", block=False, type=1)
    message, mtype = q.receive(block=False)
    q.remove()
    registry.unregister("sysv_msg", id=q.id)  # bookkeeping
    return message


@demo
def sysv_shm():
    key = names.sysv_key()  # bookkeeping
    seg = sysv_ipc.SharedMemory(key, sysv_ipc.IPC_CREX, mode=0o600, size=4096)
    registry.register("sysv_shm", id=seg.id, key=seg.key, note="trace")  # bookkeeping
    seg.write(b"hello")
    data = seg.read(5)
    seg.detach()
    seg.remove()
    registry.unregister("sysv_shm", id=seg.id)  # bookkeeping
    return data


@demo
def posix_mq():
    name = names.posix_name("trace", registry.current().id)  # bookkeeping
    mq = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, mode=0o600, max_messages=4, max_message_size=64)
    registry.register("posix_mq", name=name, note="trace")  # bookkeeping
    mq.send(b"hello", timeout=5)
    message, priority = mq.receive(timeout=5)
    mq.close()
    mq.unlink()
    registry.unregister("posix_mq", name=name)  # bookkeeping
    return message


# -- a crashed run: objects left by a process that died without cleaning ------------------

def crash_run():
    """Be a fresh ipclab run, create three objects, print their names as JSON, die by SIGKILL.

    Run as ``python -m ipclab.experiments.trace_demos crash`` *without* IPCLAB_RUN_ID: the registry
    then holds a run whose owner is dead, exactly what a killed notebook kernel leaves.
    """
    from ipclab.core import objects
    shm = objects.create_posix_shm(8192, tag="crashed")
    seg = objects.create_sysv_shm(8192, note="crashed")
    sem = objects.create_sysv_sem(1, note="crashed")
    print(json.dumps({"run": registry.current().id, "pid": os.getpid(), "posix_shm": shm.name,
                      "sysv_shm": seg.id, "sysv_shm_key": seg.key, "sysv_sem": sem.id}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: like kill -9 or a segfault


def main(argv):
    if len(argv) == 2 and argv[0] == "demo" and argv[1] in DEMOS:
        run_demo(argv[1])
        return 0
    if argv == ["crash"]:
        crash_run()
    print(f"usage: python -m ipclab.experiments.trace_demos demo {{{','.join(DEMOS)}}} | crash", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["MARKER_DIR", "DEMOS", "demo", "marker_path", "run_demo", "posix_shm", "posix_sem", "sysv_sem",
           "sysv_msg", "sysv_shm", "posix_mq", "crash_run", "main"]
