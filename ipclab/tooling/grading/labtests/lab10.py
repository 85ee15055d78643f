"""Visible tests of lab 10: diagnose and fix a job ledger shared by worker processes.

The program the student receives runs, and has four defects: a race, a deadlock, a leak and
a torn read. One test per defect grades the *behaviour of the repaired program*, and makes
the defect happen on every run instead of waiting for the scheduler:

* the race: the test takes semaphore COUNT itself (another process in its critical section),
  lets ``finish()`` wait on it, changes ``done`` meanwhile, and reads the word back from the
  segment; then more slowed processes than CPUs finish jobs side by side;
* the deadlock: ``finish()`` and ``audit()`` start together, in two processes, and every
  semaphore the student's code takes is held a while before it goes on
  (:func:`_pause_after_take`, run in the student's process): two opposite lock orders meet
  in a cycle every time; the test watches the set from the kernel (``semctl`` GETVAL,
  GETNCNT, GETPID, as ``ipcs -s -i`` does) and says what it saw;
* the leak: ``run()`` with a worker killed by SIGKILL, then the box's ``/proc/sysvipc``
  (what ``ipcs`` reads) and ``/dev/shm`` must hold nothing new;
* the torn read: the test takes semaphore LAST (a writer), writes half a record into the
  segment and calls ``last()``: it must wait, then return the whole record.

Every blocking call has a timeout, so a deadlocked submission fails with a message, never
hangs the grader.
"""

import contextlib
import os
import threading
import time

import sysv_ipc

from ipclab.core import inventory, procs
from ipclab.mechanisms import semset
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, student

LAB = "lab10"
TITLE = "Diagnose and fix: a job ledger with a race, a deadlock, a leak and a torn read"
MODULE = "lab10_diagnose"
HIDDEN = 1
WORDS = 4                  # done, job, worker, stamp: the brief's layout
DONE, JOB, WORKER, STAMP = 0, 1, 2, 3
COUNT, LAST = 0, 1         # the set's two semaphores
WORKER_TIMEOUT = 30
STUDENT_WAIT = 4.0         # the timeout the tests pass to the student's finish()/audit()/last()
PAUSE = 0.5                # seconds the student's process keeps each semaphore it took before going on
SLOW = 0.004               # seconds added to each line of the student's code (race under load)
ROUNDS = 2                 # finish() against audit(), this many times


def cpus():
    """CPUs this process may run on (the tests start more processes than that)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def ids(handle):
    """``(shmid, semid)`` of the ledger, checked in /proc/sysvipc; Fail if either does not exist."""
    ok = isinstance(handle, tuple) and len(handle) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                for x in handle)
    shm = inventory.sysv_row("shm", handle[0]) if ok else None
    sem = inventory.sysv_row("sem", handle[1]) if ok else None
    expect(shm is not None and sem is not None, "Ledger.handle must be (shmid, semid) of a segment and a set that exist",
           f"BAD      handle {labkit._show(handle, 60)}",
           "GOOD     (shm.id, sems.id): /proc/sysvipc/shm and /proc/sysvipc/sem list both")
    expect(shm["size"] >= 8 * WORDS, f"the segment holds the 4-word ledger ({8 * WORDS} bytes)",
           f"BAD      a segment of {shm['size']} bytes")
    expect(sem["nsems"] == 2, "the set holds the two semaphores COUNT and LAST", f"BAD      nsems {sem['nsems']}")
    return handle


@contextlib.contextmanager
def kernel_words(shmid):
    """The test's own attachment of the segment (``shmat``): its 4 words, as the kernel holds them."""
    seg = sysv_ipc.attach(shmid)
    base = memoryview(seg)
    words = base[:8 * WORDS].cast("Q")
    try:
        yield words
    finally:
        words.release()
        base.release()
        seg.detach()


def wait_for(cond, timeout, step=0.005):
    """Poll *cond* until it is true or *timeout* s passed; its last value."""
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(step)
    return cond()


class Call(threading.Thread):
    """``fn(*args)`` in a thread of the test process: its value or its exception, for a test that
    holds a semaphore meanwhile (the call goes to the student's process and may wait there)."""

    def __init__(self, fn, *args, **kwargs):
        super().__init__(daemon=True)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.value = self.error = None
        self.start()

    def run(self):
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def result(self, what, timeout=WORKER_TIMEOUT):
        self.join(timeout)
        expect(not self.is_alive(), f"{what} never returned (its timeout was {STUDENT_WAIT:g} s)")
        if self.error is not None:
            raise self.error
        return self.value


def _pause_after_take(delay):
    """Runs in the student's process: from now on, each semop that takes a semaphore (a negative
    ``sem_op``) through ``ipclab.mechanisms.semset`` returns *delay* s later.

    A hook for tests only: it changes timing, never behaviour. A process that takes two
    semaphores one after the other then holds the first one *delay* s before it asks for the
    second, so two processes taking them in opposite orders meet in a cycle every time.
    """
    import time as _time
    from ipclab.mechanisms import semset as _semset
    cls = _semset.SemaphoreSet
    op = cls.__dict__.get("_ipclab_unpaused_op", cls.op)

    def paused(self, ops, timeout=_semset.DEFAULT_TIMEOUT):
        op(self, ops, timeout)
        items = [ops] if isinstance(ops, tuple) and ops and isinstance(ops[0], int) else list(ops)
        if any(len(o) >= 2 and o[1] < 0 for o in items):
            _time.sleep(delay)
    cls._ipclab_unpaused_op = op
    cls.op = paused


def pause_student(delay, lab=None):
    """Install :func:`_pause_after_take` in the student's process serving this worker."""
    lab = student() if lab is None else lab
    lab._ipclab_pause_after_take = _pause_after_take   # crosses into the box by name (an ipclab function)
    lab._ipclab_pause_after_take(float(delay))


# -- workers (run in their own processes) ----------------------------------------------

def finish_once(handle, gate, job, worker, pause):
    """Attach, wait at the gate, finish one job; ("ok", stamp) or (error type, message)."""
    led = student().Ledger.attach(handle)
    try:
        pause_student(pause)
        labkit.Gate.wait(gate)
        return ("ok", led.finish(job, worker, timeout=STUDENT_WAIT))
    except Exception as e:  # noqa: BLE001 - the test explains it
        return (getattr(e, "student_type", type(e).__name__), str(e)[:200])
    finally:
        led.close()
        labkit.close_agents()


def audit_once(handle, gate, pause):
    """Attach, wait at the gate, audit once; ("ok", audit) or (error type, message)."""
    led = student().Ledger.attach(handle)
    try:
        pause_student(pause)
        labkit.Gate.wait(gate)
        return ("ok", led.audit(timeout=STUDENT_WAIT))
    except Exception as e:  # noqa: BLE001 - the test explains it
        return (getattr(e, "student_type", type(e).__name__), str(e)[:200])
    finally:
        led.close()
        labkit.close_agents()


def finish_many(handle, gate, jobs, worker, slow):
    """Attach, slow the student's code, wait at the gate, finish each job; [(job, worker, stamp)]."""
    led = student().Ledger.attach(handle)
    try:
        if slow:
            labkit.slow_student(slow)
        labkit.Gate.wait(gate)
        return [(job, worker, led.finish(job, worker, timeout=WORKER_TIMEOUT / 2)) for job in jobs]
    finally:
        led.close()
        labkit.close_agents()


def read_many(handle, gate, rounds, slow):
    """Attach, slow the student's code, wait at the gate; *rounds* times last() and audit()."""
    led = student().Ledger.attach(handle)
    seen = []
    try:
        if slow:
            labkit.slow_student(slow)
        labkit.Gate.wait(gate)
        for _ in range(rounds):
            seen.append(("last", led.last(timeout=WORKER_TIMEOUT / 2)))
            seen.append(("audit", led.audit(timeout=WORKER_TIMEOUT / 2)))
    finally:
        led.close()
        labkit.close_agents()
    return seen


def _call(fn, args):
    """Run fn(*args): one procs target for workers of two kinds."""
    return fn(*args)


# -- shared checks ---------------------------------------------------------------------

def jobs_for(rng, n):
    """*n* distinct random job numbers (so answers cannot be hard-coded)."""
    return rng.sample(range(1000, 10**9), n)


def finish_under_load(lab, rng, finishers, per, readers, start_method, what):
    """*finishers* slowed processes finish *per* jobs each, *readers* read meanwhile: nothing lost, nothing torn."""
    led = lab.Ledger.create()
    try:
        handle = ids(led.handle)
        jobs = jobs_for(rng, finishers * per)
        shares = [jobs[i * per:(i + 1) * per] for i in range(finishers)]
        with labkit.Gate(finishers + readers) as gate:
            work = [(finish_many, (handle, gate.handle, share, i, SLOW)) for i, share in enumerate(shares)]
            work += [(read_many, (handle, gate.handle, 6, SLOW)) for _ in range(readers)]
            results = procs.run(_call, work, start_method=start_method, timeout=WORKER_TIMEOUT + 20, relay=False)
        with kernel_words(handle[0]) as w:
            after = tuple(w)
        sems = semset.SemaphoreSet.attach(handle[1]).getall()
    finally:
        led.destroy()
    made = [r for res in results[:finishers] for r in res]
    n = len(jobs)
    stamps = [s for _, _, s in made]
    expect(after[DONE] == n and sorted(stamps) == list(range(1, n + 1)),
           f"{what}: done is {after[DONE]} after {n} finish() calls (the kernel's word 0)",
           f"GOOD     done == {n}, stamps 1..{n} each once",
           f"BAD      done == {after[DONE]}, {n - len(set(stamps))} stamp(s) given twice: "
           f"{n - after[DONE]} finished job(s) lost",
           "two processes read the same done and both wrote done + 1: read it only once you hold COUNT")
    expect_equal([1, 1], sems, "the semaphores (semctl GETALL) once every process is done: both free")
    records = {(j, wk, s) for j, wk, s in made}
    bad = [r for kind, r in (x for res in results[finishers:] for x in res)
           if (kind == "last" and tuple(r) not in records | {(0, 0, 0)})
           or (kind == "audit" and (r[DONE] != r[STAMP] or (r[DONE] and tuple(r[1:]) not in records)))]
    expect(not bad, f"{what}: {len(bad)} record(s) read that no finish() wrote",
           *[f"BAD      {labkit._show(r, 60)}" for r in bad[:6]],
           "copy job, worker and stamp while you hold LAST (audit(): COUNT too): nobody writes them then")


# -- the tests ---------------------------------------------------------------------------

@labkit.test("the race: finish() reads done only once it holds COUNT (no lost update)", points=3, timeout=60,
             hint="a read-modify-write of shared memory must sit inside the lock, the read included: a value "
                  "read before the lock may be stale by the time you write it back (notebook 06, section 5).")
def finish_holds_count(lab, rng):
    j0, j1 = jobs_for(rng, 2)
    led = lab.Ledger.create()
    try:
        shmid, semid = ids(led.handle)
        sems = semset.SemaphoreSet.attach(semid)
        with kernel_words(shmid) as w:
            expect_equal(1, led.finish(j0, 0, timeout=STUDENT_WAIT), "finish() of a fresh ledger returns stamp 1")
            expect_equal((1, j0, 0, 1), tuple(w), "the kernel's words after one finish(job, 0): done, job, worker, stamp")
            sems.acquire(COUNT, timeout=5)    # C: semop(COUNT, -1): the test is another process, in its critical section
            call = None
            try:
                call = Call(led.finish, j1, 1, timeout=STUDENT_WAIT * 3)
                wait_for(lambda: sems.ncnt(COUNT) >= 1 or not call.is_alive(), 5)
                waited = call.is_alive() and sems.ncnt(COUNT) >= 1
                other = rng.randint(50, 500)
                w[DONE] = w[DONE] + other         # that process finishes jobs meanwhile, as COUNT allows it
            finally:
                sems.release(COUNT)
            got = call.result("finish() called while another process held COUNT")
            after = tuple(w)
        expect(waited, "finish() did not wait for semaphore COUNT while another process held it",
               "GOOD     finish() sleeps in semtimedop on COUNT (semctl GETNCNT(COUNT) = 1) until it is released",
               f"BAD      it returned {labkit._show(got, 40)} at once")
        want = 1 + other + 1
        expect(after[DONE] == want, f"done is {after[DONE]}: the {other} jobs another process finished while it "
                                    "held COUNT are lost",
               f"GOOD     done == 1 + {other} + 1 == {want}: finish() read done once it held COUNT",
               f"BAD      done == {after[DONE]}: finish() read done ({after[DONE] - 1}) before it took COUNT "
               "and wrote back that stale value + 1")
        expect_equal((want, j1, 1, want), after, "the kernel's words after that finish()")
    finally:
        led.destroy()
    per = 4
    finish_under_load(lab, rng, cpus() + 2, per, 0, labkit.start_method(),
                      f"{cpus() + 2} slowed processes on {cpus()} CPUs, {per} finish() each")


@labkit.test("the deadlock: finish() and audit() at the same time always both complete", points=3, timeout=60,
             hint="two processes that take the same two semaphores in opposite orders can each hold one and wait "
                  "for the other for ever: ipcs -s -i shows both at 0 with a waiter each (notebook 06, section 4). "
                  "Take them in one order everywhere.")
def finish_and_audit_together(lab, rng):
    led = lab.Ledger.create()
    try:
        handle = ids(led.handle)
        sems = semset.SemaphoreSet.attach(handle[1])
        jobs = jobs_for(rng, ROUNDS + 1)
        led.finish(jobs[0], 0, timeout=STUDENT_WAIT)
        for k in range(ROUNDS):
            seen, stop = {}, threading.Event()

            def watch():    # the kernel's view of the set, as notebook 06 section 4 reads it
                while not stop.is_set():
                    rows = sems.snapshot()   # C: semctl GETALL, GETNCNT, GETZCNT, GETPID
                    if all(r["value"] == 0 and r["ncnt"] >= 1 for r in rows):
                        seen.setdefault("rows", rows)
                    time.sleep(0.01)
            t = threading.Thread(target=watch, daemon=True)
            t.start()
            try:
                with labkit.Gate(2) as gate:
                    work = [(finish_once, (handle, gate.handle, jobs[k + 1], 1, PAUSE)),
                            (audit_once, (handle, gate.handle, PAUSE))]
                    (fin, aud) = procs.run(_call, work, start_method=labkit.start_method(),
                                           timeout=WORKER_TIMEOUT, relay=False)
            finally:
                stop.set()
                t.join(5)
            lines = [f"{'GOOD' if r[0] == 'ok' else 'BAD ':4s}     {name}: {labkit._show(r[1] if r[0] == 'ok' else r, 90)}"
                     for name, r in (("finish()", fin), ("audit() ", aud))]
            if "rows" in seen:
                lines.append("BAD      the kernel saw the cycle (semctl, as ipcs -s -i): " + "; ".join(
                    f"{name} value {r['value']}, {r['ncnt']} waiting, last semop by pid {r['pid']}"
                    for name, r in zip(("COUNT", "LAST"), seen["rows"])))
                lines.append("         each semaphore taken by one process, awaited by the other")
            expect(fin[0] == "ok" and aud[0] == "ok",
                   f"round {k + 1}: finish() and audit() started together, each holding what it takes "
                   f"{PAUSE:g} s: they did not both complete", *lines,
                   "a process holding one lock waits for the other: take COUNT and LAST in the same order everywhere")
            expect_equal([1, 1], sems.getall(), "the semaphores (semctl GETALL) after both returned: both free")
            done, job, worker, stamp = aud[1]
            expect(done == stamp and (done, job, worker) in {(k + 1, jobs[k], 0 if k == 0 else 1),
                                                             (k + 2, jobs[k + 1], 1)},
                   "audit() returned a state no moment of the ledger had",
                   f"BAD      (done, job, worker, stamp) = {labkit._show(aud[1], 60)}")
    finally:
        led.destroy()


def _objects(in_box):
    """The IPC objects that count as the student's: every one in the box (its own IPC namespace and
    /dev/shm), else this user's course objects."""
    rows = inventory.list_objects(mine_only=not in_box)
    return {(r["kind"], r["id"] if r["id"] is not None else r["name"]): r for r in rows if in_box or r["ours"]}


@labkit.test("the leak: a run whose worker is killed leaves no segment and no semaphore set", points=2, timeout=60,
             hint="a System V object lives until IPC_RMID or reboot, whoever dies: remove the ledger in a finally, "
                  "so that it goes when a worker's death makes run() raise (notebook 06, section 3: ipcs, ipclab ls).")
def crashed_run_leaves_nothing(lab, rng):
    spec = (labkit._grading or {}).get("spec", {})
    in_box = labkit._grading is not None and spec.get("mode", "none") != "none"
    before = _objects(in_box)

    def new():
        return [r for k, r in _objects(in_box).items() if k not in before]

    led = lab.Ledger.create()
    try:
        shmid, semid = ids(led.handle)
        modes = (inventory.sysv_row("shm", shmid)["perms"] & 0o777, inventory.sysv_row("sem", semid)["perms"] & 0o777)
    finally:
        led.destroy()
    expect_equal((0o600, 0o600), modes, "the modes of the ledger's segment and set (/proc/sysvipc)")
    left = new()
    expect(not left, "destroy() left the ledger's objects", inventory.format_rows(left))

    jobs = jobs_for(rng, rng.randint(6, 9))
    lab.run(jobs, workers=2, timeout=WORKER_TIMEOUT)
    left = new()
    expect(not left, f"run() returned and left {len(left)} IPC object(s)", *inventory.format_rows(left).splitlines())

    crash = rng.choice(jobs[2:])
    try:
        lab.run(jobs, workers=3, crash=crash, timeout=WORKER_TIMEOUT)
        raised = None
    except Exception as e:  # noqa: BLE001 - what the student's run() raised
        from ipclab.tooling.grading import remote
        if isinstance(e, (remote.StudentCrashed, remote.StudentExit, remote.CannotSend)):
            raise
        raised = e
    left = new()
    expect(not left, f"after run(crash={crash}) (a worker killed by SIGKILL), {len(left)} IPC object(s) are left: "
                     "as ipcs lists them", *inventory.format_rows(left).splitlines(),
           "nothing removes a System V object when its creator's code stops early: IPC_RMID in a finally")
    expect(raised is not None, f"run(crash={crash}) returned although a worker was killed",
           "GOOD     run() raises the worker's death (procs' ChildError) once everything is removed")


@labkit.test("the torn read: last() never returns a record a writer is still writing", points=2, timeout=40,
             hint="three words are three stores: a copy made while a writer is between its first and last "
                  "store is half old, half new. Hold LAST while you copy (strace -e trace=semtimedop shows "
                  "whether your reader takes it).")
def last_holds_last(lab, rng):
    j0, j1 = jobs_for(rng, 2)
    led = lab.Ledger.create()
    try:
        shmid, semid = ids(led.handle)
        sems = semset.SemaphoreSet.attach(semid)
        with kernel_words(shmid) as w:
            led.finish(j0, 0, timeout=STUDENT_WAIT)
            expect_equal((j0, 0, 1), led.last(timeout=STUDENT_WAIT), "last() after one finish(job, 0)")
            sems.acquire(COUNT, timeout=5)        # the test writes a record as finish() does:
            sems.acquire(LAST, timeout=5)         # COUNT, then LAST, then the words
            call = None
            try:
                w[DONE] = 2
                w[JOB] = j1
                w[WORKER] = 1                     # ... and stops there: stamp is still the old one
                call = Call(led.last, timeout=STUDENT_WAIT * 3)
                wait_for(lambda: sems.ncnt(LAST) >= 1 or not call.is_alive(), 5)
                waited = call.is_alive() and sems.ncnt(LAST) >= 1
                w[STAMP] = 2
            finally:
                sems.release(LAST)
                sems.release(COUNT)
            got = call.result("last() called while a writer held LAST")
        expect(waited, "last() returned while a writer held LAST, half-way through its record",
               f"BAD      last() returned {labkit._show(got, 60)}"
               + ("  (job and worker new, stamp old: torn)" if got == (j1, 1, 1) else ""),
               "GOOD     last() sleeps in semtimedop on LAST (semctl GETNCNT(LAST) = 1) until the writer is done")
        expect_equal((j1, 1, 2), got, "last() once the writer released LAST (the whole new record)")
    finally:
        led.destroy()


def demo(lab, jobs=40, workers=4, crash=None):
    """For the brief: run the program once, as its author would; (result or error name, objects it left).

    The objects left behind are listed (as ``ipclab ls`` would) and then removed, so a
    notebook that runs this leaves nothing (nbval kills its kernels: no atexit runs).
    """
    from ipclab.core import registry
    run_id = registry.current().id
    before = {(r["kind"], r["id"] or r["name"]) for r in inventory.course_objects(run_id)}
    try:
        try:
            result = lab.run(range(1, jobs + 1), workers=workers, crash=crash)
        except Exception as e:  # noqa: BLE001 - shown to the student
            result = type(e).__name__
    finally:
        left = [r for r in inventory.course_objects(run_id) if (r["kind"], r["id"] or r["name"]) not in before]
        inventory.remove_rows(left)
    return result, left


# -- the brief's reproductions: the four bug reports, made to happen (not graded) ----------------------

def race_demo(lab, seed=1, workers=None, per=5, slow=SLOW):
    """*workers* processes (more than CPUs) finish *per* jobs each, the student's code slowed by
    *slow* s a line (a wider window, notebook 06 section 5): ``{"expected", "done", "repeated"}``,
    done read from the segment, repeated = stamps given to more than one job."""
    import random
    labkit.use_student(lab)
    workers = workers or cpus() + 2
    led = lab.Ledger.create()
    try:
        handle = led.handle
        jobs = jobs_for(random.Random(seed), workers * per)
        with labkit.Gate(workers) as gate:
            results = procs.run(_call, [(finish_many, (handle, gate.handle, jobs[i * per:(i + 1) * per], i, slow))
                                        for i in range(workers)], start_method="fork", timeout=WORKER_TIMEOUT,
                                relay=False)
        with kernel_words(handle[0]) as w:
            done = w[DONE]
    finally:
        led.destroy()
    stamps = [s for res in results for _, _, s in res]
    return {"expected": len(jobs), "done": done, "repeated": len(stamps) - len(set(stamps))}


def deadlock_demo(lab, pause=PAUSE):
    """finish() and audit() started together in two processes, each keeping every semaphore it takes
    *pause* s; meanwhile the set as ``ipcs -s -i`` reads it (notebook 06 section 4):
    ``{"finish", "audit", "cycle"}``: each call's ("ok", value) or (error, message), and the
    semctl rows seen when both semaphores were taken and awaited (None if never)."""
    labkit.use_student(lab)
    led = lab.Ledger.create()
    try:
        handle = led.handle
        sems = semset.SemaphoreSet.attach(handle[1])
        led.finish(1, 0, timeout=STUDENT_WAIT)
        seen, stop = {}, threading.Event()

        def watch():
            while not stop.is_set():
                rows = sems.snapshot()        # C: semctl GETALL, GETNCNT, GETZCNT, GETPID
                if all(r["value"] == 0 and r["ncnt"] >= 1 for r in rows):
                    seen.setdefault("rows", rows)
                time.sleep(0.01)
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        try:
            with labkit.Gate(2) as gate:
                fin, aud = procs.run(_call, [(finish_once, (handle, gate.handle, 2, 1, pause)),
                                             (audit_once, (handle, gate.handle, pause))],
                                     start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
        finally:
            stop.set()
            t.join(5)
    finally:
        led.destroy()
    return {"finish": fin, "audit": aud, "cycle": seen.get("rows")}


def torn_demo(lab):
    """The notebook takes COUNT and LAST (a writer), writes job and worker of a new record but not its
    stamp, and calls last(): ``{"returned_while_held", "got", "written"}``."""
    labkit.use_student(lab)
    led = lab.Ledger.create()
    try:
        shmid, semid = led.handle
        sems = semset.SemaphoreSet.attach(semid)
        led.finish(7, 0, timeout=STUDENT_WAIT)
        with kernel_words(shmid) as w:
            sems.acquire(COUNT, timeout=5)
            sems.acquire(LAST, timeout=5)
            try:
                w[DONE], w[JOB], w[WORKER] = 2, 8, 1          # half of finish(8, 1): stamp not yet written
                call = Call(led.last, timeout=STUDENT_WAIT)
                wait_for(lambda: sems.ncnt(LAST) >= 1 or not call.is_alive(), 3)
                early = not call.is_alive()
                w[STAMP] = 2
            finally:
                sems.release(LAST)
                sems.release(COUNT)
            call.join(STUDENT_WAIT * 2)
    finally:
        led.destroy()
    return {"returned_while_held": early, "got": call.value if call.error is None else call.error, "written": (8, 1, 2)}
