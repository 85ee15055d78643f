"""Lab 10: diagnose and fix a job ledger shared by worker processes.

``run(jobs, workers)`` hands the *jobs* (ints) out to *workers* processes; each worker
marks each of its jobs finished in a **ledger** that all of them share; at the end run()
returns the ledger's audit and removes the ledger. Any process may attach the ledger and
call ``audit()`` or ``last()`` at any time while the workers run (a dashboard does).

The ledger is two System V objects, mode 0600, on fresh course keys:

* a shared memory segment (``shmget``) holding four native unsigned 64-bit words::

      word 0 (bytes 0..7)    done     jobs finished so far            guarded by semaphore COUNT (0)
      word 1 (bytes 8..15)   job      the last job finished           \\
      word 2 (bytes 16..23)  worker   the worker that finished it      } guarded by semaphore LAST (1)
      word 3 (bytes 24..31)  stamp    the value of done that job made /

* a set of two semaphores (``semget``), each 1 when free, 0 when taken: COUNT (0) guards
  ``done``, LAST (1) guards the record ``(job, worker, stamp)``.

Every wait has a timeout. The creator removes both objects (``IPC_RMID``); afterwards
``ipcs`` shows neither.
"""

import os
import signal

import sysv_ipc

from ipclab import objects, procs
from ipclab.mechanisms import semset

### BEGIN SOLUTION
PROTOCOL = """
Shared state: one System V segment (0600, a course key) of four native u64 words: done,
then the last record job, worker, stamp; each process maps it (shmat) and loads and stores
whole words through memoryview.cast("Q"). One System V set of two semaphores, both 1.
Locks: COUNT (sem 0, initial 1) guards done: finish() takes it BEFORE it reads done and
keeps it until the new value is stored. LAST (sem 1, initial 1) guards job, worker, stamp:
every reader of the record (last(), audit()) holds it while it copies the three words.
Order: a process that holds both always takes COUNT, then LAST (finish() and audit()); no
process takes COUNT while it holds LAST, so no cycle of waits can form.
Invariants: with no lock held, done is the number of finish() calls that returned and
stamp == done (the record is the one the last finish() wrote); stamps are 1..done, each once.
Waiting: every semtimedop has the caller's timeout (WaitTimeout otherwise); procs.run has
the run's timeout and kills every worker at it.
Death: a worker killed outside finish() holds nothing; run() sees it die (ChildError), its
finally removes the segment (shmdt + IPC_RMID) and the set (IPC_RMID) and the error goes on.
Diagnosis (the four defects of the program as shipped):
- race: finish() read done before taking COUNT (lost updates). Shown by widening the
  window (notebook 06 section 5): a test holding COUNT while another process's finish()
  waits; 4 slowed workers lose jobs. Fix: take COUNT first, read under it.
- deadlock: audit() took LAST then COUNT, finish() COUNT then LAST (ABBA). Shown by
  ipcs -s -i / semctl GETVAL+GETNCNT (both 0, one waiter each, GETPID the other process),
  strace -p (both in semtimedop). Fix: one order, COUNT then LAST.
- leak: run() removed the ledger only when every worker succeeded. Shown by ipcs -m -s /
  ipclab ls after run(crash=...): a segment and a set per crashed run (the segment's nattch
  is 1 while the process that called run() lives, as it is still attached; 0 once it
  exits, and the segment stays). Fix: try/finally around the workers.
- torn read: last() copied the three words without LAST (tuple() of a slice loads them one
  by one; even one memcpy of 24 bytes is not one atomic load). Shown by strace -f -e
  trace=semop,semtimedop (the reader makes no semaphore call) and by holding LAST with half
  a record written. Fix: hold LAST while copying.
"""
### END SOLUTION

SIZE = 32                            # bytes: four words (the kernel rounds the segment up to a page)
DONE, JOB, WORKER, STAMP = 0, 1, 2, 3  # word indices (byte offset = 8 * index)
COUNT, LAST = 0, 1                   # the two semaphores of the set
DEFAULT_TIMEOUT = 10.0               # seconds any one wait may last


class Ledger:
    """The shared ledger as one process sees it.

    ``Ledger.create()`` makes it (its creator calls ``destroy()`` at the end); another
    process calls ``Ledger.attach(ledger.handle)`` and ``close()`` when done.
    """

    def __init__(self, shm, sems, owner):
        """Wrap *shm* (a ``sysv_ipc.SharedMemory`` attached here) and *sems* (a ``semset.SemaphoreSet``)."""
        self.shm = shm                          # the segment, attached (shmat) in this process
        self.sems = sems                        # the two semaphores COUNT and LAST
        self.owner = owner                      # True in the creating process
        self.words = memoryview(shm).cast("Q")  # the four words over the attachment

    @property
    def handle(self):
        """What another process needs to attach: ``(shmid, semid)``."""
        return (self.shm.id, self.sems.id)

    @classmethod
    def create(cls):
        """A fresh ledger: the segment (all zero) and the set (both semaphores 1), mode 0600."""
        shm = objects.create_sysv_shm(SIZE, note="lab10 ledger")  # C: shmget(key, 32, IPC_CREAT|IPC_EXCL|0600); shmat
        try:
            shm.write(bytes(SIZE))              # sysv_ipc fills a new segment with spaces
            sems = semset.create(2, values=[1, 1], note="lab10 locks")  # C: semget(key, 2, ...|0600); semctl(SETALL)
        except BaseException:
            objects.remove_sysv(shm)
            raise
        return cls(shm, sems, owner=True)

    @classmethod
    def attach(cls, handle):
        """The ledger whose handle is *handle*, in this process (``shmat``)."""
        shmid, semid = handle
        return cls(sysv_ipc.attach(shmid), semset.attach(semid), owner=False)

    def finish(self, job, worker, timeout=DEFAULT_TIMEOUT):
        """Count one more finished job and make ``(job, worker, stamp)`` the last record.

        *stamp* is the new value of ``done``; returns it.
        """
        w = self.words
        ### BEGIN SOLUTION
        self.sems.acquire(COUNT, timeout=timeout)           # C: semtimedop(id, {COUNT, -1, 0}, 1, &ts)
        done = w[DONE] + 1
        ### BROKEN race
        # done = w[DONE] + 1
        # self.sems.acquire(COUNT, timeout=timeout)           # C: semtimedop(id, {COUNT, -1, 0}, 1, &ts)
        ### END SOLUTION
        try:
            w[DONE] = done
            self.sems.acquire(LAST, timeout=timeout)
            try:
                w[JOB] = job
                w[WORKER] = worker
                w[STAMP] = done
            finally:
                self.sems.release(LAST)                     # C: semop(id, {LAST, +1, 0}, 1)
        finally:
            self.sems.release(COUNT)
        return done

    def audit(self, timeout=DEFAULT_TIMEOUT):
        """``(done, job, worker, stamp)``, all four as they were at one instant."""
        w = self.words
        ### BEGIN SOLUTION
        self.sems.acquire(COUNT, timeout=timeout)
        try:
            self.sems.acquire(LAST, timeout=timeout)
            try:
                return (w[DONE], w[JOB], w[WORKER], w[STAMP])
            finally:
                self.sems.release(LAST)
        finally:
            self.sems.release(COUNT)
        ### BROKEN deadlock
        # self.sems.acquire(LAST, timeout=timeout)
        # try:
        #     self.sems.acquire(COUNT, timeout=timeout)
        #     try:
        #         return (w[DONE], w[JOB], w[WORKER], w[STAMP])
        #     finally:
        #         self.sems.release(COUNT)
        # finally:
        #     self.sems.release(LAST)
        ### END SOLUTION

    def last(self, timeout=DEFAULT_TIMEOUT):
        """The last record ``(job, worker, stamp)``, exactly as one finish() wrote it."""
        ### BEGIN SOLUTION
        self.sems.acquire(LAST, timeout=timeout)
        try:
            return tuple(self.words[JOB:STAMP + 1])
        finally:
            self.sems.release(LAST)
        ### BROKEN torn
        # return tuple(self.words[JOB:STAMP + 1])   # one slice: the three words in one copy
        ### END SOLUTION

    def close(self):
        """Detach this process's attachment (``shmdt``); the ledger is unusable here afterwards."""
        self._drop_views()
        self.shm.detach()                       # C: shmdt(addr)

    def destroy(self):
        """The creator: detach and remove the segment, remove the set (``IPC_RMID`` both)."""
        self._drop_views()
        try:
            objects.remove_sysv(self.shm)       # C: shmdt(addr); shmctl(shmid, IPC_RMID, NULL)
        finally:
            self.sems.remove()                  # C: semctl(semid, 0, IPC_RMID)

    def _drop_views(self):
        """Release the memoryview before shmdt (a view on a detached segment would touch unmapped memory)."""
        words, self.words = getattr(self, "words", None), None
        if words is not None:
            words.release()


def work(handle, jobs, worker, crash=None, timeout=DEFAULT_TIMEOUT):
    """A worker process: finish each job of *jobs* as worker number *worker*; returns how many.

    *crash* is the program's fault injection: the worker that is handed that job dies of
    SIGKILL before finishing it, as a process killed by ``kill -9``, the OOM killer or a
    segfault would (no ``finally``, no ``atexit``).
    """
    led = Ledger.attach(handle)
    try:
        for job in jobs:
            if job == crash:
                os.kill(os.getpid(), signal.SIGKILL)   # C: kill(getpid(), SIGKILL)
            led.finish(job, worker, timeout=timeout)
    finally:
        led.close()
    return len(jobs)


def run(jobs, workers=3, crash=None, timeout=30.0, start_method="fork"):
    """Finish every job of *jobs* in *workers* processes; return the final ``audit()``.

    If a worker dies (see *crash* in :func:`work`), run() raises the error ``procs`` reports
    (``ChildError``), the other workers having been killed. Either way, the ledger is gone
    when run() returns or raises.
    """
    jobs = list(jobs)
    led = Ledger.create()
    ### BEGIN SOLUTION
    try:
        shares = [(led.handle, jobs[i::workers], i, crash) for i in range(workers)]
        procs.run(work, shares, start_method=start_method, timeout=timeout, relay=False)
        return led.audit(timeout=timeout)
    finally:
        led.destroy()
    ### BROKEN leak
    # shares = [(led.handle, jobs[i::workers], i, crash) for i in range(workers)]
    # procs.run(work, shares, start_method=start_method, timeout=timeout, relay=False)
    # result = led.audit(timeout=timeout)
    # led.destroy()
    # return result
    ### END SOLUTION
