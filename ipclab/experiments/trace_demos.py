"""The scripts notebook 06 runs under strace, and the workers of its other demos.

**Traced demos.** Each function decorated with :func:`demo` is a few plain lines of
posix_ipc / sysv_ipc. :func:`run_demo` runs one with a *line tracer* (``sys.settrace``)
that, before each line, makes one harmless, recognisable system call::

    access("/ipclab-marker/L57/shm%20%3D%20posix_ipc.SharedMemory(...)", F_OK) = -1 ENOENT

so the strace log says which Python line (number and text) made the calls that follow it.
:mod:`ipclab.experiments.tracing` runs ``python -m ipclab.experiments.trace_demos demo NAME`` under ``strace -f``
and groups the log by these markers. Lines ending in ``# bookkeeping`` (ipclab's registry,
which removes what a crash leaves) are not marked.

**Workers** (hold a mapping, deadlock, race) live here too, importable by every start method.

Defined in :mod:`ipclab.experiments.trace_demos`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import faulthandler
import json
import linecache
import mmap
import os
import signal
import struct
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


# -- workers for the /proc demos ------------------------------------------------------------

def hold_mapping(name, size, touch_pages, ready_name, done_name, timeout):
    """Map POSIX shm *name*, write one byte in each of its first *touch_pages* pages, post
    *ready_name*, then hold the mapping until *done_name* is posted (or *timeout*)."""
    shm = posix_ipc.SharedMemory(name)  # C: fd = shm_open(name, O_RDWR, 0)
    m = mmap.mmap(shm.fd, size)  # C: p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm.close_fd()  # the mapping stays valid without the fd
    page = mmap.PAGESIZE
    for i in range(touch_pages):
        m[i * page] = 1  # first touch of a page: a page fault maps it (no system call)
    ready, done = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(done_name)
    ready.release()
    try:
        done.acquire(timeout)
    finally:
        ready.close()
        done.close()
        m.close()  # C: munmap(p, size)
    return touch_pages


def hold_sysv_shm(shmid, ready_name, done_name, timeout):
    """Attach System V segment *shmid* (nattch + 1), post *ready_name*, hold until *done_name*."""
    seg = sysv_ipc.attach(shmid)  # C: p = shmat(shmid, NULL, 0)
    ready, done = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(done_name)
    ready.release()
    try:
        done.acquire(timeout)
    finally:
        ready.close()
        done.close()
        seg.detach()  # C: shmdt(p)


def take_two(first_name, second_name, ready_name, go_name, timeout):
    """Lock *first*, say so, wait for the go, then lock *second*: two of these in opposite
    order are the classic ABBA deadlock. ``kill -USR1 PID`` prints this worker's Python stack."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a Python stack on demand
    first, second = posix_ipc.Semaphore(first_name), posix_ipc.Semaphore(second_name)
    ready, go = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(go_name)
    first.acquire(timeout)  # C: sem_timedwait(first, &deadline)
    ready.release()
    go.acquire(timeout)
    second.acquire(timeout)  # blocks for ever if the other worker holds it and waits for ours
    second.release()
    first.release()
    return "got both"


def take_two_sysv(sems, first, second, timeout):
    """The same ABBA pair on a System V set *sems* of 4: locks 0 and 1, 'ready' 2, 'go' 3.

    Takes lock *first*, adds 1 to 'ready', waits for 'go', then takes lock *second*.
    Blocked in ``semtimedop``, it is visible to ``semctl(GETNCNT)`` and ``ipcs -s -i``.
    """
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sems.acquire(first, timeout=timeout)  # C: semtimedop(id, {first, -1, 0}, 1, &ts)
    sems.release(2)
    sems.acquire(3, timeout=timeout)
    sems.acquire(second, timeout=timeout)  # the deadlock: the other worker holds it
    sems.release(second)
    sems.release(first)
    return "got both"


def await_posts(sem, count, group, timeout):
    """Take *count* posts of POSIX semaphore *sem*, giving up early if a worker of *group* died.

    Without this, a worker that fails before posting makes the parent wait its full timeout.
    """
    from ipclab.core.errors import WaitTimeout
    deadline = time.monotonic() + timeout
    for i in range(count):
        while True:
            try:
                sem.acquire(0.2)  # C: sem_timedwait(sem, now + 0.2 s)
                break
            except posix_ipc.BusyError:
                dead = [c.name for c in group.children if c.process.exitcode is not None]
                if dead or time.monotonic() > deadline:
                    group.join()  # raises the dead worker's error, or kills them all
                    raise WaitTimeout(f"{count - i} post(s) of {sem.name} never came "
                                      f"(workers ended: {dead or 'none'}, waited {timeout:g} s)")


# -- race workers ---------------------------------------------------------------------------

COUNTER = struct.Struct("q")


def unlocked_increments(name, n, window, start_name, cpu, timeout):
    """Add 1 to the counter at offset 0 of shm *name*, *n* times, with no lock.

    *window* widens the gap between read and write: ``"none"``, ``"yield"``
    (``os.sched_yield()``: let another process run right there) or ``"sleep"`` (1 ms).
    *cpu* pins this process to one CPU (``None``: any). All workers start together on
    semaphore *start_name*. Returns how many increments this worker did.
    """
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # C: sched_setaffinity(0, sizeof set, &set)
    shm = posix_ipc.SharedMemory(name)
    m = mmap.mmap(shm.fd, COUNTER.size)
    shm.close_fd()
    start = posix_ipc.Semaphore(start_name)
    start.acquire(timeout)  # everybody starts at once
    start.close()
    for _ in range(n):
        value = COUNTER.unpack_from(m, 0)[0]  # read ...
        if window == "yield":
            os.sched_yield()
        elif window == "sleep":
            time.sleep(0.001)
        COUNTER.pack_into(m, 0, value + 1)  # ... write: another process may have written between
    m.close()
    return n


def race_experiment(workers, n, window="none", pin=False, start_method="fork", timeout=60):
    """Run *workers* processes of :func:`unlocked_increments` on one counter; return the result.

    A plain result: ``{"workers", "n", "window", "pinned", "expected", "final", "lost"}``.
    """
    from ipclab.core import objects, procs
    cpu = min(os.sched_getaffinity(0)) if pin else None
    with objects.posix_shm(COUNTER.size, tag="race") as shm, objects.posix_sem(0, tag="start") as start:
        group = procs.start(unlocked_increments, n=workers, args=(shm.name, n, window, start.name, cpu, timeout),
                            start_method=start_method, timeout=timeout)
        with group:
            for _ in range(workers):
                start.release()  # C: sem_post(start): the starting gun, once per worker
        with mmap.mmap(shm.fd, COUNTER.size) as m:
            final = COUNTER.unpack_from(m, 0)[0]
    expected = workers * n
    return {"workers": workers, "n": n, "window": window, "pinned": pin,
            "expected": expected, "final": final, "lost": expected - final}


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
           "sysv_msg", "sysv_shm", "posix_mq", "crash_run", "hold_mapping", "hold_sysv_shm", "take_two",
           "take_two_sysv", "await_posts", "COUNTER", "unlocked_increments", "race_experiment", "main"]
