"""The experiments of notebook 02 (System V semaphores), on real processes and real sets.

Each experiment creates its own kernel objects (registered, 0600, removed in ``finally``),
starts importable workers through :mod:`ipclab.core.procs`, and returns plain results (dicts and
lists) that :mod:`ipclab.presentation.plots.semaphores` draws and the notebook turns into verdicts:

* :func:`counter_race`        a shared counter, without and with a semaphore as a mutex;
* :func:`counting_timeline`   a counting semaphore lets at most *slots* workers in at once;
* :func:`dining`              dining philosophers, one fork at a time (deadlock, caught by a
  timeout) or both forks in one atomic ``semop`` (everyone eats);
* :func:`undo_experiment`     a process holding the semaphore is SIGKILLed, with or without
  ``SEM_UNDO``;
* :func:`zero_barrier`        processes waiting for zero (``GETZCNT``) released at once;
* :func:`init_race`           many processes create-or-open the same key; one initialises.

Times are ``time.monotonic()`` (one clock for every process of the machine) relative to a
start taken in the parent. Defined in :mod:`ipclab.experiments.sysv_demos`; taught in notebook 02.
"""

import os
import struct
import time

import sysv_ipc

from ipclab.core import objects, procs
from ipclab.mechanisms import semset
from ipclab.core.errors import ObjectGone, WaitTimeout
from ipclab.mechanisms.semset import SEM_UNDO

DEFAULT_START_METHOD = "fork"


def _wait_until(predicate, timeout, what):
    """Poll *predicate* every 10 ms; WaitTimeout naming *what* at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"waited {timeout:g} s for {what}")
        time.sleep(0.01)


# -- 1. a semaphore as a mutex: the shared counter of 19.1 ------------------------------------
def increment(shm_id, sem, n, lock):
    """Add 1 to the 8-byte counter in System V segment *shm_id*, *n* times.

    Read, yield the CPU (widening the race window), write back: without the lock two
    processes read the same value and one update is lost. With it, P and V (``SEM_UNDO``:
    a crash cannot leave it taken) make the read-modify-write a critical section.
    """
    shm = sysv_ipc.attach(shm_id)
    try:
        for _ in range(n):
            if lock:
                sem.acquire(0, undo=True, timeout=30)          # P: semop(id, {0, -1, SEM_UNDO})
            value = struct.unpack("q", shm.read(8, 0))[0]     # read
            os.sched_yield()                                  # ...another process may run here...
            shm.write(struct.pack("q", value + 1), 0)        # write
            if lock:
                sem.release(0, undo=True)                     # V: semop(id, {0, +1, SEM_UNDO})
    finally:
        shm.detach()


def counter_race(workers=4, increments=3000, lock=False, start_method=DEFAULT_START_METHOD, timeout=120):
    """Run *workers* processes incrementing one shared counter; ``{expected, got, lost, seconds}``."""
    with objects.sysv_shm(8, note="counter") as shm, semset.create(1, values=[1], note="mutex") as sem:
        shm.write(struct.pack("q", 0), 0)  # sysv_ipc fills a new segment with spaces
        t0 = time.monotonic()
        procs.run(increment, n=workers, args=(shm.id, sem, increments, lock),
                  start_method=start_method, timeout=timeout)
        got = struct.unpack("q", shm.read(8, 0))[0]
    expected = workers * increments
    return {"expected": expected, "got": got, "lost": expected - got,
            "seconds": time.monotonic() - t0, "lock": lock}


# -- 2. a counting semaphore: at most N inside --------------------------------------------------
def slot_worker(sem, t0, work):
    """Ask for a slot (P), work *work* seconds, give it back (V); ``(asked, entered, left)`` since *t0*."""
    asked = time.monotonic() - t0
    sem.acquire(0, undo=True, timeout=60)
    try:
        entered = time.monotonic() - t0
        time.sleep(work)
        left = time.monotonic() - t0
    finally:
        sem.release(0, undo=True)
    return asked, entered, left


def max_overlap(rows):
    """The largest number of ``[entered, left)`` intervals open at the same instant."""
    events = sorted([(r["entered"], 1) for r in rows] + [(r["left"], -1) for r in rows])
    inside = best = 0
    for _, step in events:  # at equal times a leave (-1) sorts before an entry (+1)
        inside += step
        best = max(best, inside)
    return best


def counting_timeline(workers=6, slots=2, work=0.3, start_method=DEFAULT_START_METHOD, timeout=60):
    """*workers* processes share a counting semaphore of *slots* units; rows of who waited and worked when."""
    with semset.create(1, values=[slots], note="slots") as sem:
        t0 = time.monotonic()
        results = procs.run(slot_worker, n=workers, args=(sem, t0, work),
                            start_method=start_method, timeout=timeout)
    rows = [{"worker": i, "asked": a, "entered": e, "left": l} for i, (a, e, l) in enumerate(results)]
    return {"slots": slots, "workers": workers, "rows": rows, "max_inside": max_overlap(rows)}


# -- 3. dining philosophers -----------------------------------------------------------------------
def philosopher(forks, i, n, meals, atomic, eat, wait, t0, barrier=True):
    """Philosopher *i* of *n*: fork i is on the left, fork (i+1) % n on the right; semaphore n is a barrier.

    *atomic*: take both forks in one semop (all or nothing). Otherwise take the left, then
    the right: if every philosopher holds a left fork, nobody gets a right one (deadlock),
    which the *wait*-second timeout detects. *barrier* makes everyone pick up the left fork
    before anyone reaches for the right, so the fatal interleaving happens every time.
    Returns ``{"meals", "outcome", "events"}``; events are ``(seconds since t0, what)``.
    """
    left, right = i, (i + 1) % n
    events = []
    log = lambda what: events.append((time.monotonic() - t0, what))  # noqa: E731
    eaten = 0
    for meal in range(meals):
        log("hungry")
        try:
            if atomic:
                forks.op([(left, -1, SEM_UNDO), (right, -1, SEM_UNDO)], timeout=wait)  # both or none
            else:
                forks.op([(left, -1, SEM_UNDO)], timeout=wait)
                log("left")
                if barrier and meal == 0:
                    forks.op([(n, -1, 0)], timeout=wait)   # sit down...
                    forks.op([(n, 0, 0)], timeout=wait)    # ...and wait until all have (Z)
                forks.op([(right, -1, SEM_UNDO)], timeout=wait)
        except WaitTimeout:
            log("timeout")
            return {"meals": eaten, "outcome": f"stuck: holding fork {left}, waited {wait:g} s for fork {right}"
                    if not atomic else f"waited {wait:g} s for forks {left}+{right}", "events": events}
        log("eat")
        time.sleep(eat)
        forks.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)
        log("think")
        eaten += 1
        time.sleep(eat / 2)
    return {"meals": eaten, "outcome": f"ate {eaten} meals", "events": events}


def dining(n=5, meals=3, atomic=False, eat=0.05, wait=2.0, barrier=True,
           start_method=DEFAULT_START_METHOD, timeout=60, worker=None):
    """Run *n* philosophers; returns their results, whether a deadlock was detected, and the
    kernel's view of the forks (``snapshot()``) at the moment every philosopher waited.

    *worker*: a philosopher written elsewhere (a ``%%worker`` cell of notebook 02), called as
    ``worker(forks, i, n, meals, eat=, wait=, t0=, barrier=)`` and returning what
    :func:`philosopher` returns; *atomic* then only says which kind it is (the figure's title,
    and whether to look for the all-waiting deadlock). Default: :func:`philosopher`.
    """
    with semset.create(n + 1, values=[1] * n + [n], note="forks") as forks:
        t0 = time.monotonic()
        if worker is None:
            target, args, kwargs = philosopher, [(forks, i, n, meals, atomic, eat, wait, t0, barrier) for i in range(n)], None
        else:
            target, args = worker, [(forks, i, n, meals) for i in range(n)]
            kwargs = {"eat": eat, "wait": wait, "t0": t0, "barrier": barrier}
        with procs.start(target, args, start_method=start_method, timeout=timeout, kwargs=kwargs) as g:
            stuck_view = None
            if not atomic and barrier:  # everyone holds a left fork and waits for a right one
                try:
                    _wait_until(lambda: all(forks.ncnt(i) == 1 for i in range(n)), wait, "a full deadlock")
                    stuck_view = forks.snapshot()[:n]
                except (WaitTimeout, ObjectGone):
                    stuck_view = None
            results = g.join()
    return {"n": n, "atomic": atomic, "wait": wait, "results": results, "stuck_view": stuck_view,
            "deadlock": any(r["outcome"].startswith(("stuck", "waited")) for r in results),
            "meals": sum(r["meals"] for r in results)}


# -- 4. SEM_UNDO: killed while holding ----------------------------------------------------------
def holder(sem, undo, hold=60):
    """Take semaphore 0 (with SEM_UNDO if *undo*), post semaphore 1 ("I hold it"), sleep until killed."""
    sem.acquire(0, undo=undo, timeout=30)
    sem.release(1)
    time.sleep(hold)


def waiter(sem, index, wait, t0):
    """Try to take semaphore *index* within *wait* s (then give it back); ``(outcome, seconds since t0)``."""
    try:
        sem.acquire(index, undo=True, timeout=wait)
    except WaitTimeout:
        return "timed out", time.monotonic() - t0
    sem.release(index, undo=True)
    return "got it", time.monotonic() - t0


def undo_experiment(undo, waiters=2, wait=2.0, start_method=DEFAULT_START_METHOD, timeout=60, worker=None):
    """Kill (SIGKILL) a process that holds a mutex while *waiters* wait for it; sample its value.

    *worker*: a holder written elsewhere (a ``%%worker`` cell of notebook 02), called as
    ``worker(sem)``: it must take semaphore 0, then V semaphore 1 ("I hold it"), then sleep;
    *undo* then only labels the run. Default: :func:`holder` with *undo*.

    Returns ``{undo, value_held, value_after, outcomes, samples, killed_at}``; samples are
    ``(seconds, value)`` of semaphore 0 read by the parent every 20 ms.
    """
    with semset.create(2, values=[1, 0], note="undo") as sem:
        t0 = time.monotonic()
        samples = []
        sample = lambda: samples.append((time.monotonic() - t0, sem.getval(0)))  # noqa: E731
        target, args = (holder, (sem, undo)) if worker is None else (worker, (sem,))
        victim = procs.start(target, [args], start_method=start_method, timeout=timeout, names=["victim"])
        try:
            sem.acquire(1, timeout=30)                        # the victim holds it now
            sample()
            value_held = sem.getval(0)
            with procs.start(waiter, [(sem, 0, wait, t0)] * waiters, start_method=start_method,
                             timeout=timeout) as g:
                _wait_until(lambda: (sample(), sem.ncnt(0) == waiters)[1], 30, "the waiters to block")
                killed_at = time.monotonic() - t0
                victim.kill()                                 # SIGKILL: no finally runs in the victim
                sample()
                until = killed_at + wait * 1.15  # same window in both runs, to compare them
                while any(c.process.is_alive() for c in g.children) or time.monotonic() - t0 < until:
                    sample()
                    time.sleep(0.02)
                outcomes = g.join()
            sample()
            value_after = sem.getval(0)
        finally:
            victim.kill()
        exitcode = victim.children[0].process.exitcode
    return {"undo": undo, "value_held": value_held, "value_after": value_after,
            "victim_exitcode": exitcode, "outcomes": [o for o, _ in outcomes],
            "done_at": [t for _, t in outcomes], "samples": samples, "killed_at": killed_at, "wait": wait}


# -- 5. waiting for zero ----------------------------------------------------------------------------
def zero_waiter(sem, index, wait, t0):
    """Wait until semaphore *index* is 0 (op 0: Z); seconds since *t0* when released."""
    sem.wait_zero(index, timeout=wait)
    return time.monotonic() - t0


def zero_barrier(waiters=3, wait=10.0, start_method=DEFAULT_START_METHOD, timeout=60):
    """*waiters* wait for zero on a semaphore at 1; the parent sees GETZCNT, then takes it to 0."""
    with semset.create(1, values=[1], note="gate") as gate:
        t0 = time.monotonic()
        with procs.start(zero_waiter, n=waiters, args=(gate, 0, wait, t0),
                         start_method=start_method, timeout=timeout) as g:
            _wait_until(lambda: gate.zcnt(0) == waiters, wait, "the waiters to block")
            before = gate.snapshot()[0]
            opened_at = time.monotonic() - t0
            gate.acquire(0, timeout=1)  # 1 -> 0: every zero-waiter wakes at once
            released = g.join()
        after = gate.snapshot()[0]
    return {"before": before, "after": after, "opened_at": opened_at, "released_at": released}


# -- 6. create or open: the initialisation race --------------------------------------------------
def create_or_open(key, value, wait):
    """Create the set with IPC_CREAT|IPC_EXCL and initialise it, or open it and wait until initialised.

    The creator initialises with SETVAL and then does one semop (so ``sem_otime`` becomes
    non-zero); openers wait for ``otime != 0`` (Stevens' fix for the race between semget
    and initialisation). Returns ``(role, value seen)``.
    """
    try:
        s = semset.create(1, key=key, note="shared key")  # C: semget(key, 1, IPC_CREAT|IPC_EXCL|0600)
        s.setval(0, value + 1)
        s.acquire(0, timeout=1)                           # sets otime: "initialised"
        return "created", s.getval(0)
    except FileExistsError:
        pass
    s = semset.open_key(key)                              # C: semget(key, 0, 0)
    _wait_until(lambda: s.stat().otime != 0, wait, f"key 0x{key:08x} to be initialised")
    return "opened", s.getval(0)


def init_race(processes=4, value=3, wait=10.0, start_method=DEFAULT_START_METHOD, timeout=60):
    """*processes* call :func:`create_or_open` on one fresh key; ``{roles, values}``."""
    from ipclab.core import names
    key = names.sysv_key()
    try:
        results = procs.run(create_or_open, n=processes, args=(key, value, wait),
                            start_method=start_method, timeout=timeout)
    finally:
        try:
            semset.open_key(key).remove()
        except FileNotFoundError:
            pass
    return {"key": key, "roles": [r for r, _ in results], "values": [v for _, v in results]}


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["DEFAULT_START_METHOD", "increment", "counter_race", "slot_worker", "max_overlap",
           "counting_timeline", "philosopher", "dining", "holder", "waiter", "undo_experiment",
           "zero_waiter", "zero_barrier", "create_or_open", "init_race"]
