# %% [markdown]
# # Answers to 19.2 (System V semaphores)
#
# One section per "Try it" prompt and per exercise of
# [19.2 System V semaphores](../02_sysv_semaphores.ipynb), in the order they appear there.
# Where the answer is code, it runs here on real processes and kernel objects, removed
# afterwards, and the notebook check (nbval) compares its output. Try each one yourself first.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import os
import tempfile

from ipclab import doctor, procs, semset
from ipclab import sysv_demos as demo
from ipclab.core.errors import LimitReached
from ipclab.mechanisms import ccell
from ipclab.mechanisms.semset import IPC_NOWAIT, SEM_UNDO

doctor.setup_notebook("ipcs")
ccell.load()  # %%worker

# %% [markdown]
# <a id="try-1"></a>
# ## Try it 1: an opener that does not wait for `sem_otime`
#
# *In `create_or_open`, the openers wait for `otime != 0`. What could an opener see if it
# did not wait?*
#
# Between the creator's `semget` and its `SETVAL`, the set exists with values the standard
# leaves undefined (Linux: 0). An opener that does not wait can read 0, and worse, do a P
# on it and block (or, with `IPC_NOWAIT`, fail) although the semaphore is meant to start
# at 3; or do a V that the creator's `SETVAL` then overwrites. `sem_otime` is 0 until the
# first `semop` ([semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html),
# `IPC_STAT`), so it tells "created" from "created and initialised". Here is what the
# opener would see, frozen right after `semget`:

# %%
with semset.create(1, note="uninitialised") as s:     # C: semget(key, 1, IPC_CREAT|IPC_EXCL|0600), no SETVAL yet
    opener = semset.open_key(s.key)                    # C: semget(key, 0, 0) in another process
    print("value seen before initialisation:", opener.getall(), "| sem_otime:", opener.stat().otime)
    s.setval(0, 4)
    s.acquire(0, timeout=1)                            # the creator's first semop: otime becomes non-zero
    print("after SETVAL and one semop:", opener.getall(), "| sem_otime set:", opener.stat().otime != 0)

# %% [markdown]
# <a id="try-2"></a>
# ## Try it 2: `slots=1`, then `slots=6`
#
# *How long does the whole run take in each case, and why?*
#
# With one unit the six workers go one after another: at least 6 × 0.3 s = 1.8 s. With six
# units all six enter at once: about 0.3 s plus the start-up of the processes. The counting
# semaphore is the number of workers allowed to overlap.

# %%
runs = {slots: demo.counting_timeline(workers=6, slots=slots, work=0.3, start_method="fork", timeout=60)
        for slots in (1, 6)}
span = {slots: max(r["left"] for r in t["rows"]) - min(r["asked"] for r in t["rows"]) for slots, t in runs.items()}
print("slots=1: at most one inside at once:", runs[1]["max_inside"] == 1)
print("slots=1: the run took at least 6 x 0.3 s:", span[1] >= 1.8)
print("slots=6: faster than slots=1:", span[6] < span[1])

# %%
# NBVAL_IGNORE_OUTPUT
for slots, t in runs.items():
    print(f"slots={slots}: {span[slots]:.2f} s, at most {t['max_inside']} inside at once")

# %% [markdown]
# <a id="try-3"></a>
# ## Try it 3: one fork at a time, without the barrier
#
# *Does it still deadlock?*
#
# Rarely, and not on demand. Without the barrier a philosopher usually gets both forks
# before its neighbour reaches for the shared one: the deadlock needs all five to hold a
# left fork at the same moment, which the barrier forced and the scheduler seldom does.
# Five runs (the counts vary from run to run and machine to machine, which is the point):

# %%
# NBVAL_IGNORE_OUTPUT
outcomes = [demo.dining(n=5, meals=3, atomic=False, barrier=False, wait=1.0, start_method="fork", timeout=60)
            for _ in range(5)]
print("runs that deadlocked:", sum(r["deadlock"] for r in outcomes), "of", len(outcomes))
print("meals eaten per run (15 = everyone ate):", [r["meals"] for r in outcomes])

# %% [markdown]
# <a id="try-4"></a>
# ## Try it 4: why exactly 1 after the kill, with `SEM_UNDO`
#
# *Why is the value after the kill exactly 1 with `SEM_UNDO`, even though two waiters took
# and released the mutex afterwards?*
#
# The holder's P with `SEM_UNDO` set its `semadj` to +1; at its death the kernel added it
# back: 0 → 1. Each waiter then did P (value 1 → 0, its `semadj` +1) and V (0 → 1, its
# `semadj` back to 0): a P/V pair leaves the value and the adjustment where they were. So
# after everyone, the value is its initial 1, and no waiter's exit changes it (their
# adjustments are 0). Without `SEM_UNDO` on the *waiters* the answer would be the same;
# without it on the *holder*, 0 for ever.
#
# <a id="exercise-1"></a>
# ## Exercise 1: a readers-writer lock in one set
#
# Semaphore 0 counts readers, semaphore 1 is the writer flag. Each lock is one `semop`:
#
# * `read_lock`: `{1, 0}` (Z: wait until no writer) and `{0, +1}` (one more reader);
# * `write_lock`: `{1, 0}` and `{0, 0}` (no writer, no reader) and `{1, +1}` (I write);
# * unlocks: `{0, -1}` and `{1, -1}`. All with `SEM_UNDO`, so a dead reader or writer
#   does not lock the others out (the zero-waits take no flag that matters).
#
# Each lock must be a single `semop` because the check and the change must be one step.
# In two calls a reader could see "no writer", then a writer could see "no reader" and
# take the flag, then the reader would add itself: both inside. The kernel applies one
# `semop` atomically (all operations or none, [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)).
# Here every operation carries `IPC_NOWAIT`, so the cell shows who *would* wait instead of
# waiting:

# %%
def read_lock(s, flags=0):
    s.op([(1, 0, flags), (0, +1, SEM_UNDO | flags)], timeout=1)           # C: one semop, 2 ops


def write_lock(s, flags=0):
    s.op([(1, 0, flags), (0, 0, flags), (1, +1, SEM_UNDO | flags)], timeout=1)  # C: one semop, 3 ops


def tries(lock, s):
    try:
        lock(s, IPC_NOWAIT)
        return "granted"
    except semset.WouldBlock:
        return "would wait"


with semset.create(2, values=[0, 0], note="rwlock") as s:
    print("reader 1:", tries(read_lock, s), "| reader 2:", tries(read_lock, s))
    print("writer while 2 readers are in:", tries(write_lock, s))
    s.op([(0, -1, SEM_UNDO)]), s.op([(0, -1, SEM_UNDO)])                 # both read_unlock
    print("writer once they left:", tries(write_lock, s))
    print("reader while the writer is in:", tries(read_lock, s), "| values [readers, writer]:", s.getall())
    s.op([(1, -1, SEM_UNDO)])                                             # write_unlock

# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: resource hierarchy
#
# Every philosopher takes the lower-numbered of its two forks first. Philosopher 4 (forks
# 4 and 0) now starts with fork 0, like philosopher 0: one of them waits with empty hands,
# so at most four hold a first fork and one of them can always get its second: the circle
# of waits cannot close (Dijkstra's ordering). The barrier stays, but can no longer fill:
# whoever waits for its *first* fork never sits down, so the others give up waiting at it
# after 0.5 s and go on.

# %%
# %%worker phil_ordered
"""One fork at a time, lower-numbered fork first."""
import time

from ipclab.core.errors import WaitTimeout
from ipclab.mechanisms.semset import SEM_UNDO


def philosopher(forks, i, n, meals, eat=0.05, wait=2.0, t0=0.0, barrier=True):
    first, second = sorted((i, (i + 1) % n))      # the hierarchy: lower number first
    events = []
    for meal in range(meals):
        events.append((time.monotonic() - t0, "hungry"))
        try:
            forks.op([(first, -1, SEM_UNDO)], timeout=wait)
            events.append((time.monotonic() - t0, "left"))
            if barrier and meal == 0:
                forks.op([(n, -1, 0)], timeout=wait)
                try:
                    forks.op([(n, 0, 0)], timeout=0.5)   # the barrier cannot fill any more: go on
                except WaitTimeout:
                    pass
            forks.op([(second, -1, SEM_UNDO)], timeout=wait)
        except WaitTimeout:
            events.append((time.monotonic() - t0, "timeout"))
            return {"meals": meal, "events": events, "outcome": f"stuck waiting {wait:g} s"}
        events.append((time.monotonic() - t0, "eat"))
        time.sleep(eat)
        forks.op([(first, +1, SEM_UNDO), (second, +1, SEM_UNDO)], timeout=0)
        events.append((time.monotonic() - t0, "think"))
        time.sleep(eat / 2)
    return {"meals": meals, "outcome": f"ate {meals} meals", "events": events}

# %%
ordered = demo.dining(n=5, meals=3, atomic=False, barrier=True, wait=2.0, start_method="fork", timeout=60,
                      worker=phil_ordered.philosopher)
print("deadlock:", "yes" if ordered["deadlock"] else "no", "| meals eaten:", ordered["meals"], "of 15")
print("the kernel ever saw all five forks taken with a waiter each:", "yes" if ordered["stuck_view"] else "no")

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: undo accounting
#
# *A process does `V(+2)` with `SEM_UNDO` and exits. What is the value after its death?*
#
# Its `semadj` is −2, applied at exit: the value goes back to what it was before the V
# (clamped at 0 if others took units meanwhile; `exit_sem` in
# [ipc/sem.c](https://github.com/torvalds/linux/blob/master/ipc/sem.c)). A V with
# `SEM_UNDO` is a loan, which is why event-counting semaphores should not use it.

# %%
# %%worker give_two
"""V(+2) with SEM_UNDO, report the value, wait for the parent's go (semaphore 1), exit."""
from ipclab.mechanisms.semset import SEM_UNDO


def give(sem):
    sem.op([(0, +2, SEM_UNDO)])      # C: semop(id, &(struct sembuf){0, +2, SEM_UNDO}, 1): semadj = -2
    seen = sem.getval(0)
    sem.op([(1, -1, 0)], timeout=30)  # wait for "go"
    return seen

# %%
with semset.create(2, values=[1, 1], note="undo-v") as s:     # semaphore 1 = "go", already given
    seen_by_child = procs.run(give_two.give, [(s,)], start_method="fork", timeout=30)[0]
    print("value while the child lived:", seen_by_child, "| after it exited:", s.getval(0))

# %% [markdown]
# The clamp: the child gives 2 with `SEM_UNDO`, the parent takes both, then the child exits.
# Its undo of −2 would take the value to −2; Linux stops it at 0.

# %%
with semset.create(2, values=[0, 0], note="undo-clamp") as s:
    with procs.start(give_two.give, [(s,)], start_method="fork", timeout=30) as child:
        s.op([(0, -2, 0)], timeout=10)        # the parent takes the 2 units the child gave
        s.release(1)                          # go: the child exits, its semadj (-2) is applied
        child.join()
    print("after the child's exit, the undo of -2 on 0 left:", s.getval(0))

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: limits
#
# `/proc/sys/kernel/sem` is SEMMSL, SEMMNS, SEMOPM, SEMMNI. A set of 40,000 semaphores is
# stopped by **SEMMSL** (semaphores per set; `semget` fails with `EINVAL`); a `semop` of 600
# operations by **SEMOPM** (operations per call; `E2BIG`)
# ([semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
# [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)). `semset` turns both
# into `LimitReached` naming the limit:

# %%
lim = semset.limits()
print("SEMMSL, SEMOPM on this machine:", lim.semmsl, lim.semopm)
try:
    semset.create(lim.semmsl + 8000)
except LimitReached as e:
    print("create(SEMMSL + 8000):", type(e).__name__, "naming SEMMSL:", "SEMMSL" in str(e))
with semset.create(1, values=[lim.semopm + 100], note="ops") as s:
    try:
        s.op([(0, -1, IPC_NOWAIT)] * (lim.semopm + 100))
    except LimitReached as e:
        print("a semop of SEMOPM + 100 operations:", type(e).__name__, "naming SEMOPM:", "SEMOPM" in str(e))

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: `ftok` collisions
#
# glibc's key is `(proj_id & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff)`
# ([ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html), NOTES). Two files with the
# same `proj_id` get the same key when the low 8 bits of their devices are equal (always, on
# one filesystem) and their inode numbers are equal modulo 65536: inodes 5 and 65541 on one
# filesystem collide. The formula, checked against `ftok` on two real files:

# %%
def glibc_key(path, proj_id):
    st = os.stat(path)
    return ((proj_id & 0xFF) << 24) | ((st.st_dev & 0xFF) << 16) | (st.st_ino & 0xFFFF)


with tempfile.TemporaryDirectory() as d:
    paths = [os.path.join(d, name) for name in ("a", "b")]
    for p in paths:
        open(p, "w").close()
    print("ftok == the formula for both files:", all(semset.ftok(p, 7) == glibc_key(p, 7) for p in paths))
    ino = [os.stat(p).st_ino for p in paths]
    same = (ino[0] - ino[1]) % 65536 == 0
    print("these two collide:", semset.ftok(paths[0], 7) == semset.ftok(paths[1], 7),
          "| predicted from their inodes:", same)
