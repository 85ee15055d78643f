"""Visible tests of lab 2: a deadlock-free dining table on a System V semaphore set (19.2)."""

import os
import signal
import struct
import threading
import time

import posix_ipc

from ipclab.core import errors, inventory, procs
from ipclab.mechanisms import semset
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_raises, student

LAB = "lab2"
TITLE = "semaphore sets: a deadlock-free dining table"
MODULE = "lab2_semsets"
HIDDEN = 2
WORKER_TIMEOUT = 30
SLOT = struct.Struct("<i")
SLOW = 0.05          # seconds added to each line of the student's code in the lockstep round
LOCKSTEP_TIMEOUT = 8.0


def kernel_forks(handle, n):
    """The forks as the kernel holds them: ``semctl(GETALL)`` on the set *handle*, read by the
    test itself (never what the student's code reports); Fail unless it is a set of n."""
    row = inventory.sysv_row("sem", handle) if isinstance(handle, int) else None
    expect(row is not None, "the table's handle must be the id of a System V semaphore set that exists",
           f"BAD  (got) handle {handle!r}, and /proc/sysvipc/sem has no set with that id")
    expect(row["nsems"] == n, f"a table of {n} philosophers is a set of {n} semaphores (one per fork)",
           f"GOOD (expected) nsems = {n}", f"BAD  (got)      nsems = {row['nsems']}")
    return semset.SemaphoreSet.attach(handle).getall()


def lockstep_philosopher(handle, gate, i):
    """Slowed down, start with the others, pick up once: 'deadlock' if the forks never come."""
    table = student().Table.attach(handle)
    try:
        labkit.slow_student(SLOW)
        labkit.Gate.wait(gate)
        try:
            table.pick_up(i, timeout=LOCKSTEP_TIMEOUT)
        except TimeoutError:
            return "deadlock"
        time.sleep(0.05)
        table.put_down(i)
        return "ate"
    finally:
        labkit.close_agents()  # the student's process exits now: its SEM_UNDO adjustments apply


def philosopher(handle, shm_name, i, meals):
    """Eat *meals* times; count the meals during which a neighbour was eating too."""
    try:
        return _philosopher(handle, shm_name, i, meals)
    finally:
        labkit.close_agents()


def _philosopher(handle, shm_name, i, meals):
    import mmap
    table = student().Table.attach(handle)
    shm = posix_ipc.SharedMemory(shm_name)
    mm = mmap.mmap(shm.fd, shm.size)
    shm.close_fd()
    n = table.n
    clashes = 0
    try:
        for _ in range(meals):
            table.pick_up(i, timeout=WORKER_TIMEOUT)
            SLOT.pack_into(mm, 4 * i, 1)
            if SLOT.unpack_from(mm, 4 * ((i - 1) % n))[0] or SLOT.unpack_from(mm, 4 * ((i + 1) % n))[0]:
                clashes += 1
            time.sleep(0.001)
            SLOT.pack_into(mm, 4 * i, 0)
            table.put_down(i)
    finally:
        mm.close()
    return clashes


def die_eating(handle, i):
    """Pick up both forks, then be killed (SIGKILL) before putting them down."""
    student().Table.attach(handle).pick_up(i, timeout=WORKER_TIMEOUT)
    labkit.kill_student()  # the process that holds the forks dies (and is reaped) first
    os.kill(os.getpid(), signal.SIGKILL)


def dinner(lab, rng, n, meals):
    table = lab.Table.create(n)
    try:
        handle = table.handle
        kernel_forks(handle, n)
        with labkit.Gate(n) as gate:  # first, everyone at once, each step of pick_up slowed down
            ate = procs.run(lockstep_philosopher, [(handle, gate.handle, i) for i in range(n)],
                            start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10, relay=False)
        stuck = [i for i, a in enumerate(ate) if a != "ate"]
        expect(not stuck, f"{n} philosophers started together: {len(stuck)} never got their forks "
                          f"within {LOCKSTEP_TIMEOUT:g} s (deadlock)",
               *[f"BAD      philosopher {i}: pick_up timed out" for i in stuck],
               "each holds one fork and waits for the next: take both forks in ONE semop")
        free = kernel_forks(handle, n)
        expect_equal([1] * n, free, "forks (semctl GETALL) after the first meal and the philosophers' exit")
        with labkit.scratch_shm(4 * n, tag="eating") as shm:
            jobs = [(handle, shm.name, i, meals) for i in range(n)]
            clashes = procs.run(philosopher, jobs, start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10,
                                relay=False)
        free = kernel_forks(handle, n)
    finally:
        table.destroy()
    expect(sum(clashes) == 0, f"{sum(clashes)} meal(s) eaten while a neighbour was eating too",
           *[f"BAD      philosopher {i}: {c} meal(s) with a neighbour" for i, c in enumerate(clashes) if c])
    expect_equal([1] * n, free, "forks (semctl GETALL) after dinner and the philosophers' exit")


@labkit.test("one philosopher takes both forks and gives them back", points=1, timeout=20,
             hint="the table is one set of n semaphores, all 1 at creation, semaphore k being fork k; "
                  "pick_up(i) leaves forks i and (i + 1) % n at 0, put_down(i) puts them back to 1.")
def both_forks(lab, rng):
    n = rng.randint(3, 7)
    i = rng.randrange(n)
    table = lab.Table.create(n)
    try:
        handle = table.handle
        expect_equal([1] * n, kernel_forks(handle, n), f"forks (semctl GETALL) of a new table of {n}")
        table.pick_up(i, timeout=2)
        want = [0 if k in (i, (i + 1) % n) else 1 for k in range(n)]
        expect_equal(want, kernel_forks(handle, n), f"forks (semctl GETALL) while philosopher {i} eats")
        expect_equal(want, table.free_forks(), "free_forks() while philosopher {i} eats")
        table.put_down(i)
        expect_equal([1] * n, kernel_forks(handle, n), "forks (semctl GETALL) after put_down")
    finally:
        table.destroy()


@labkit.test("a pick_up() that waits holds no fork, and one that times out takes nothing", points=2,
             timeout=30,
             hint="while a pick_up waits for one fork, the other must still be on the table: what does "
                  "the kernel promise about several operations given to ONE semop call? (man 2 semop)")
def atomic_timeout(lab, rng):
    n = rng.randint(3, 7)
    j = rng.randrange(n)
    left, right = j, (j + 1) % n
    table = lab.Table.create(n)
    try:
        handle = table.handle
        kernel = semset.SemaphoreSet.attach(handle) if isinstance(handle, int) else None
        kernel_forks(handle, n)
        for held, other in ((right, left), (left, right)):
            kernel.op([(held, -1, 0)], timeout=2)  # the test itself holds one of j's forks
            try:
                outcome = {}

                def waiter():
                    try:
                        table.pick_up(j, timeout=1.5)
                        outcome["got"] = "returned"
                    except TimeoutError:
                        outcome["got"] = "TimeoutError"
                    except Exception as e:  # noqa: BLE001 - reported below
                        outcome["got"] = f"{type(e).__name__}: {e}"

                t = threading.Thread(target=waiter)
                t.start()
                deadline = time.monotonic() + 1.2
                while kernel.ncnt(held) == 0 and time.monotonic() < deadline and t.is_alive():
                    time.sleep(0.005)
                waiting = kernel.ncnt(held) > 0
                other_value = kernel.getval(other)
                t.join(10)
                expect(not waiting or other_value == 1,
                       f"while pick_up({j}) waited for fork {held}, it already held fork {other}",
                       f"GOOD (expected) fork {other} = 1 (on the table) during the wait",
                       f"BAD  (got)      fork {other} = {other_value} (semctl GETVAL while semncnt({held}) > 0)")
                expect(outcome.get("got") == "TimeoutError",
                       f"pick_up({j}) while fork {held} is taken must raise TimeoutError after its timeout",
                       f"BAD  (got) {outcome.get('got', 'still waiting')}")
                after = kernel.getall()
                expect_equal([0 if k == held else 1 for k in range(n)], after,
                             f"forks (semctl GETALL) after the timed-out pick_up({j}) (nothing may be taken)")
            finally:
                kernel.op([(held, +1, 0)], timeout=0)
    finally:
        table.destroy()


@labkit.test("n philosophers in n processes: no neighbours eat together, no deadlock", points=3, timeout=90,
             hint="started together, every philosopher that holds one fork and waits for the next waits "
                  "for ever: how can taking two forks be a single step?")
def dinner_party(lab, rng):
    dinner(lab, rng, rng.randint(3, 6), rng.randint(20, 40))


@labkit.test("a philosopher killed while eating: SEM_UNDO puts the forks back", points=2, timeout=40,
             hint="after kill -9 the kernel reverts only the operations that asked it to (man 2 semop); "
                  "what the living philosopher takes and gives back must then cancel out.")
def killed_while_eating(lab, rng):
    n = rng.randint(3, 6)
    i = rng.randrange(n)
    table = lab.Table.create(n)
    try:
        handle = table.handle
        kernel_forks(handle, n)
        try:
            procs.run(die_eating, [(handle, i)], start_method=labkit.start_method(), timeout=WORKER_TIMEOUT,
                      relay=False)
        except errors.ChildError as e:
            expect(e.exitcode == -signal.SIGKILL, f"the philosopher should have been killed, it {e}")
        expect_equal([1] * n, kernel_forks(handle, n),
                     f"forks (semctl GETALL) after philosopher {i} was killed while eating")
        table.pick_up((i + 1) % n, timeout=2)
        table.put_down((i + 1) % n)
    finally:
        table.destroy()


@labkit.test("create() rejects n < 2; destroy() removes the set", points=1, timeout=20,
             hint="semset.SemaphoreSet.remove() does semctl(IPC_RMID).")
def create_and_destroy(lab, rng):
    expect_raises(ValueError, lab.Table.create, "Table.create(1)", 1)
    table = lab.Table.create(rng.randint(2, 5))
    ident = table.handle
    table.destroy()
    row = inventory.sysv_row("sem", ident)
    expect(row is None, "after destroy() the semaphore set still exists", f"BAD  {row}")
