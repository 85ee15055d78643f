"""Visible tests of lab 2: a deadlock-free dining table on a System V semaphore set (19.2)."""

import os
import signal
import struct
import time

import posix_ipc

from ipclab.core import errors, inventory, objects, procs
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_raises, student

LAB = "lab2"
TITLE = "semaphore sets: a deadlock-free dining table"
MODULE = "lab2_semsets"
HIDDEN = 2
WORKER_TIMEOUT = 30
SLOT = struct.Struct("<i")


def philosopher(handle, shm_name, i, meals):
    """Eat *meals* times; count the meals during which a neighbour was eating too."""
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
        with objects.posix_shm(4 * n, tag="eating") as shm:
            jobs = [(table.handle, shm.name, i, meals) for i in range(n)]
            clashes = procs.run(philosopher, jobs, start_method="fork", timeout=WORKER_TIMEOUT + 10, relay=False)
        free = table.free_forks()
    finally:
        table.destroy()
    expect(sum(clashes) == 0, f"{sum(clashes)} meal(s) eaten while a neighbour was eating too",
           *[f"BAD      philosopher {i}: {c} meal(s) with a neighbour" for i, c in enumerate(clashes) if c])
    expect_equal([1] * n, free, "forks on the table after dinner")


@labkit.test("one philosopher takes both forks and gives them back", points=1, timeout=20,
             hint="one sems.op([...]) call with two operations: (left, -1, SEM_UNDO) and (right, -1, SEM_UNDO).")
def both_forks(lab, rng):
    n = rng.randint(3, 7)
    i = rng.randrange(n)
    table = lab.Table.create(n)
    try:
        expect_equal([1] * n, table.free_forks(), f"forks of a new table of {n}")
        table.pick_up(i, timeout=2)
        want = [0 if k in (i, (i + 1) % n) else 1 for k in range(n)]
        expect_equal(want, table.free_forks(), f"forks while philosopher {i} eats")
        table.put_down(i)
        expect_equal([1] * n, table.free_forks(), "forks after put_down")
    finally:
        table.destroy()


@labkit.test("a neighbour's pick_up() times out and takes nothing", points=2, timeout=20,
             hint="semtimedop applies all operations or none: a timed-out pick_up must leave the free "
                  "fork on the table (no fork taken one at a time).")
def atomic_timeout(lab, rng):
    n = rng.randint(3, 7)
    i = rng.randrange(n)
    left_neighbour = (i - 1) % n  # needs forks i-1 (free) and i (in use): must take neither
    table = lab.Table.create(n)
    try:
        table.pick_up(i, timeout=2)
        before = table.free_forks()
        expect_raises(TimeoutError, table.pick_up, f"pick_up({left_neighbour}) while {i} eats",
                      left_neighbour, timeout=0.2)
        expect_equal(before, table.free_forks(), "forks after the timed-out pick_up (nothing may be taken)")
        table.put_down(i)
    finally:
        table.destroy()


@labkit.test("n philosophers in n processes: no neighbours eat together, no deadlock", points=3, timeout=90,
             hint="taking the left fork, then the right, deadlocks when all hold their left fork: take "
                  "both in one semop.")
def dinner_party(lab, rng):
    dinner(lab, rng, rng.randint(3, 6), rng.randint(20, 40))


@labkit.test("a philosopher killed while eating: SEM_UNDO puts the forks back", points=2, timeout=40,
             hint="add SEM_UNDO to each operation (in pick_up AND put_down, so they cancel out).")
def killed_while_eating(lab, rng):
    n = rng.randint(3, 6)
    i = rng.randrange(n)
    table = lab.Table.create(n)
    try:
        try:
            procs.run(die_eating, [(table.handle, i)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
        except errors.ChildError as e:
            expect(e.exitcode == -signal.SIGKILL, f"the philosopher should have been killed, it {e}")
        expect_equal([1] * n, table.free_forks(), f"forks after philosopher {i} was killed while eating")
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
