# %% [markdown]
# # 19.2 System V semaphores: sets, atomic operations, SEM_UNDO, deadlock
#
# In 19.1 two processes incremented a counter in shared memory and lost updates. Shared
# memory moves data; it does not *order* anything. A **semaphore** is a counter kept by the
# kernel that processes decrement (P, "take") and increment (V, "give"); a process that
# would take it below zero sleeps until someone gives.
#
# System V semaphores (1983) are older and stranger than the POSIX ones, and stronger in
# three ways that this notebook makes you see on real processes:
#
# * they come in **sets**, and one `semop` applies several operations to a set
#   **atomically** — all of them or none, which kills a whole class of deadlocks;
# * **`SEM_UNDO`**: the kernel undoes what a process did to a semaphore when it dies, even
#   by `SIGKILL`;
# * a process can wait for a semaphore to become **zero**, and anyone can ask the kernel
#   how many processes wait (`GETNCNT`, `GETZCNT`) and who touched it last (`GETPID`).
#
# **Learning goals.** After this notebook you can
# 1. make a key (`ftok`, `IPC_PRIVATE`, a random key), create a set with
#    `IPC_CREAT | IPC_EXCL`, open it elsewhere, and initialise it without a race;
# 2. use P and V on a semaphore as a mutex and as a counting semaphore;
# 3. explain why taking two resources one at a time can deadlock, show it, detect it with a
#    timeout, and fix it with one atomic `semop` on two semaphores;
# 4. predict what happens to a semaphore when its holder is killed, with and without
#    `SEM_UNDO`;
# 5. wait for zero, read `GETNCNT`, `GETZCNT`, `GETPID`, `sem_otime`, inspect and remove
#    sets (`ipcs -s`, `ipcrm -s`), and say what System V semaphores express that POSIX
#    named semaphores cannot, and back.
#
# **Time:** about 35 min: reading about 33 min (4,970 words of text and code at 150 words a
# minute), running under a minute (every cell executed with nbclient: 21 s and 33 s in two
# builds on a shared 2-CPU machine; the last cell prints the time of this build, or of
# yours); the Try-it prompts, the break-it step and the exercises come on top (not
# measured). **Prerequisites:** 19.0 and 19.1 (shared
# memory, the lost-update race). Every prompt has an answer in
# [`answers/02_sysv_semaphores_answers.ipynb`](answers/02_sysv_semaphores_answers.ipynb).
#
# **The tool.** The Python package `sysv_ipc` only creates sets of *one* semaphore, so it
# cannot show the point of the API. The course's `ipclab.mechanisms.semset` calls the C library
# directly (with `ctypes`): `semget`, `semop`/`semtimedop` and `semctl`, on the kernel's own
# object — `ipcs`, a C program and `sysv_ipc` all see the same set. Each call shows its C
# equivalent in a `# C:` comment the first time. The workers that matter (the
# philosophers, the holder killed by `SIGKILL`) are written in the cells themselves
# (`%%worker`: the cell becomes a module that every process imports, under fork, forkserver
# and spawn); edit one and run it again. The others, and the plumbing, are in
# [`ipclab/experiments/sysv_demos.py`](../ipclab/experiments/sysv_demos.py), shown where
# they run with the lines that matter marked `>>`.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import os
import subprocess
import tempfile
import time

import matplotlib.pyplot as plt
import posix_ipc
import sysv_ipc

from ipclab import doctor, objects, semset
from ipclab import sysv_demos as demo
from ipclab.core.errors import ObjectGone, WaitTimeout
from ipclab.presentation.plots import semaphores as plots, style
from ipclab.mechanisms import ccell
from ipclab.mechanisms.semset import IPC_NOWAIT
from ipclab.presentation.glass import show

T0 = time.monotonic()
doctor.setup_notebook("gcc", "ipcs")
ccell.load()  # registers %%worker: a cell that becomes an importable module (fork, forkserver, spawn)

# %% [markdown]
# ## 1. Keys: how unrelated processes find the same set
#
# A System V object is found by a **key**, a 32-bit number, and then used by its **id**,
# the number `semget` returns. There are three ways to get a key:
#
# | key | how | the catch |
# | --- | --- | --- |
# | `ftok(path, proj_id)` | glibc: the low 8 bits of `proj_id`, then the low 8 bits of the file's device number, then the low 16 bits of its inode number | every user gets the same key for the same file; two files can collide (16 bits of inode, 8 of device); the key follows the *inode*, so a file deleted and recreated usually gets another key, and the old key may still name the old set ([ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html)) |
# | `IPC_PRIVATE` (0) | always makes a *new* set, which nobody can open by key | only processes that learn the id (e.g. children after `fork`) can use it |
# | a number you choose | e.g. `0x1234` in a config file | anyone may already use it |
#
# The course draws random keys in its own range (`ipclab.core.names.sysv_key()`) and creates
# with `IPC_CREAT | IPC_EXCL`, so a collision is an error (`EEXIST`), not a silent sharing.

# %%
with objects.course_file(16, tag="ftok") as path:
    k1 = semset.ftok(path, 1)        # C: key_t k1 = ftok(path, 1);
    k1_again = semset.ftok(path, 1)
    k2 = semset.ftok(path, 2)
    print("same file, same proj_id -> same key:", "yes" if k1 == k1_again else "no")
    print("same file, other proj_id -> other key:", "yes" if k1 != k2 else "no")
    print("the key's top byte is proj_id:", "yes" if (k1 >> 24, k2 >> 24) == (1, 2) else "no")
    print("its low 16 bits are the inode's:", "yes" if k1 & 0xFFFF == os.stat(path).st_ino & 0xFFFF else "no")
    print("bits 16-23 are the device number's low 8 bits:",
          "yes" if (k1 >> 16) & 0xFF == os.stat(path).st_dev & 0xFF else "no")

# %% [markdown]
# **Creating versus opening.** `semget(key, nsems, IPC_CREAT | IPC_EXCL | 0600)` creates a
# set of `nsems` semaphores or fails with `EEXIST`; `semget(key, 0, 0)` opens an existing
# one. With `IPC_CREAT` alone you cannot tell which happened — keep that in mind for the
# next section.

# %%
with semset.create(2, values=[1, 0], note="keys") as s:   # C: id = semget(key, 2, IPC_CREAT|IPC_EXCL|0600); semctl(id, 0, SETALL, vals)
    opened = semset.open_key(s.key)                       # C: id = semget(key, 0, 0);
    print("opened by key -> same id:", "yes" if opened.id == s.id else "no")
    print("values seen through either:", opened.getall())
    try:
        semset.create(2, key=s.key)
    except FileExistsError as e:
        print("IPC_CREAT|IPC_EXCL on a used key:", type(e).__name__, "(EEXIST)")

with semset.create(1, key=semset.IPC_PRIVATE) as a, semset.create(1, key=semset.IPC_PRIVATE) as b:
    print("two IPC_PRIVATE sets: both key 0:", a.stat().key == b.stat().key == 0,
          "| different ids:", a.id != b.id)

# %% [markdown]
# ### The initialisation race
#
# `semget` creates a set with *undefined* values (Linux: zeros); a second call, `semctl(SETVAL)`
# or `SETALL`, initialises it. Between the two, another process may open the set and use
# it. Worse, with `IPC_CREAT` alone, two processes may both believe they created it and
# both initialise it — resetting a semaphore someone already holds.
#
# The fix (W. R. Stevens): create with `IPC_CREAT | IPC_EXCL`; exactly one process succeeds
# and initialises, then does one `semop`, which sets the set's `sem_otime` (time of the
# last `semop`, 0 until then). Everyone who got `EEXIST` opens the set and waits until
# `sem_otime != 0`. Here four processes race for one fresh key:

# %%
show(demo.create_or_open, mark=["semset.create(1, key=key", "s.acquire(0, timeout=1)", "except FileExistsError",
                               "s.stat().otime != 0"])

# %%
race = demo.init_race(processes=4, value=3, start_method="fork", timeout=60)
print("created:", race["roles"].count("created"), "| opened:", race["roles"].count("opened"))
print("everyone saw the initial value 3:", "yes" if race["values"] == [3] * 4 else f"no {race['values']}")

# %% [markdown]
# > **Try it.** In `create_or_open`, the openers wait for `otime != 0`. What could an opener
# > see if it did not wait? (Hint: the values right after `semget`.)
# > ([answer](answers/02_sysv_semaphores_answers.ipynb#try-1))
#
# ## 2. P and V: a mutex and a counting semaphore
#
# `semop(id, ops, n)` takes an array of `struct sembuf {sem_num, sem_op, sem_flg}`:
#
# * `sem_op < 0` — **P**: wait until the value is at least `|sem_op|`, then subtract it;
# * `sem_op > 0` — **V**: add it, and wake the waiters;
# * `sem_op == 0` — **Z**: wait until the value is zero (section 5).
#
# `semset` writes one operation as a tuple `(index, delta, flags)`. `s.acquire(i)` is
# `s.op([(i, -1, 0)])`, `s.release(i)` is `s.op([(i, +1, 0)])`. Every wait has a timeout:
# `semtimedop` instead of `semop`.
#
# ### A semaphore as a mutex fixes the counter race of 19.1
#
# Four processes each add 1 to a counter in System V shared memory (`shmget`/`shmat`, the
# System V cousin of 19.1's `shm_open`; 19.4 compares them) 3000 times: read the
# value, yield the CPU (to widen the race window), write value + 1. With a semaphore
# initialised to 1 around the read-modify-write, only one process is inside at a time.

# %%
show(demo.increment, mark=["sem.acquire(0", "value = struct.unpack", "shm.write(struct.pack", "sem.release(0"])

# %%
racy = demo.counter_race(workers=4, increments=3000, lock=False, start_method="fork", timeout=120)
locked = demo.counter_race(workers=4, increments=3000, lock=True, start_method="fork", timeout=120)
print(f"without the semaphore: {racy['expected']} expected, lost updates:", "yes" if racy["lost"] > 0 else "no")
print(f"with the semaphore as a mutex: {locked['got']} of {locked['expected']}, lost updates:",
      "yes" if locked["lost"] > 0 else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"without: got {racy['got']}, lost {racy['lost']} in {racy['seconds']:.2f} s")
print(f"with:    got {locked['got']}, lost {locked['lost']} in {locked['seconds']:.2f} s")

# %% [markdown]
# Unlike the futex-based POSIX semaphore of 19.1, a System V `semop` is a system call every
# time, free or not ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)): the
# locked run above made two more `semop` calls per increment than the unlocked one
# (`strace -c -f` on it counts them).

# %% [markdown]
# ### Timed waits
#
# A P on a semaphore nobody will ever give blocks for ever. `semtimedop` takes a timeout
# and fails with `EAGAIN` when it runs out; `ipclab.mechanisms.semset` turns that into a `WaitTimeout`
# that says what waited for what. (`sysv_ipc`'s wheel on Linux is built without
# `semtimedop`: its `SEMAPHORE_TIMEOUT_SUPPORTED` is `False` and `acquire(timeout=0.5)`
# blocks for ever — which is why the course never relies on it.) `IPC_NOWAIT` fails at
# once instead of waiting.

# %%
with semset.create(1, values=[0], note="empty") as s:
    t0 = time.monotonic()
    try:
        s.acquire(0, timeout=0.5)  # C: struct sembuf op = {0, -1, 0}; struct timespec ts = {0, 500000000}; semtimedop(id, &op, 1, &ts);
    except WaitTimeout as e:
        waited, message = time.monotonic() - t0, str(e)
        print("timed P on an empty semaphore:", type(e).__name__)
        print("it did not give up before its 0.5 s timeout:", "yes" if waited >= 0.499 else "no")
    try:
        s.op([(0, -1, IPC_NOWAIT)])  # C: struct sembuf op = {0, -1, IPC_NOWAIT}; semop(id, &op, 1);
    except semset.WouldBlock as e:
        print("P with IPC_NOWAIT:", type(e).__name__, "(EAGAIN)")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"waited {waited:.3f} s; message: {message}")
print("sysv_ipc.SEMAPHORE_TIMEOUT_SUPPORTED =", sysv_ipc.SEMAPHORE_TIMEOUT_SUPPORTED)

# %% [markdown]
# ### A counting semaphore: at most N inside
#
# Initialise the semaphore to N instead of 1 and it lets N processes in at once: a pool of
# N connections, N licences, N CPU-heavy jobs. Six workers, two units, 0.3 s of work each:

# %%
# NBVAL_IGNORE_OUTPUT
timeline = demo.counting_timeline(workers=6, slots=2, work=0.3, start_method="fork", timeout=60)
fig = plots.counting_timeline(timeline)
style.show(fig)

# %% [markdown]
# *Figure:* one row per worker, time on the x axis: a grey bar while it waits in P, a
# dotted blue bar while it holds a unit; never more blue bars overlap than there are units.

# %%
print(f"at most {timeline['slots']} workers inside at once:", "yes" if timeline["max_inside"] <= timeline["slots"] else "no")
print("the slots were used fully:", "yes" if timeline["max_inside"] == timeline["slots"] else "no")

# %% [markdown]
# > **Try it.** Run `counting_timeline` with `slots=1`, then `slots=6`. How long does the
# > whole run take in each case, and why? ([answer](answers/02_sysv_semaphores_answers.ipynb#try-2))
#
# ## 3. Sets and atomic multi-operations: the dining philosophers
#
# Five philosophers sit around a table with one fork between each pair; to eat, one needs
# both the fork on the left and the one on the right. Forks are semaphores 0..4 of one
# set, each initialised to 1; semaphore 5 of the same set is a barrier (section 5 explains
# the wait-for-zero it uses).
#
# **One at a time:** take the left fork (P on *i*), then the right one (P on *i+1*): two
# `semop` calls. What if all five take their left fork at the same moment? To make that
# interleaving happen every time (instead of once in a while, which is how concurrency
# bugs hide in real programs), everyone picks up the left fork, then waits at the barrier
# before reaching for the right. Every P has a 2 s timeout, so no wait can hang the
# notebook. Here is that philosopher; the cell is a module (`%%worker`), so every process of
# the table imports it, and you can edit it and run it again. The lines that matter are the
# two `forks.op` calls marked `# C:`; the rest records what happened for the figure.

# %%
# %%worker phil_two_semops
"""A philosopher who takes the left fork, then the right one: two semops."""
import time

from ipclab.core.errors import WaitTimeout
from ipclab.mechanisms.semset import SEM_UNDO


def philosopher(forks, i, n, meals, eat=0.05, wait=2.0, t0=0.0, barrier=True):
    left, right = i, (i + 1) % n                 # fork i on my left, fork i+1 on my right
    events = []                                  # (seconds since t0, what): the figure's bars
    for meal in range(meals):
        events.append((time.monotonic() - t0, "hungry"))
        try:
            forks.op([(left, -1, SEM_UNDO)], timeout=wait)   # C: semtimedop(id, &(struct sembuf){left, -1, SEM_UNDO}, 1, &ts)
            events.append((time.monotonic() - t0, "left"))
            if barrier and meal == 0:            # wait until all n hold their left fork
                forks.op([(n, -1, 0)], timeout=wait)
                forks.op([(n, 0, 0)], timeout=wait)
            forks.op([(right, -1, SEM_UNDO)], timeout=wait)  # C: semtimedop(id, &(struct sembuf){right, -1, SEM_UNDO}, 1, &ts)
        except WaitTimeout:
            events.append((time.monotonic() - t0, "timeout"))
            return {"meals": meal, "events": events,
                    "outcome": f"stuck: holding fork {left}, waited {wait:g} s for fork {right}"}
        events.append((time.monotonic() - t0, "eat"))
        time.sleep(eat)
        forks.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)  # put both back
        events.append((time.monotonic() - t0, "think"))
        time.sleep(eat / 2)
    return {"meals": meals, "outcome": f"ate {meals} meals", "events": events}

# %% [markdown]
# **Atomic:** one `semop` with two operations. The kernel applies both or none
# ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)). The same philosopher,
# with the two P calls replaced by one (and no barrier):

# %%
# %%worker phil_one_semop
"""A philosopher who takes both forks in one atomic semop."""
import time

from ipclab.core.errors import WaitTimeout
from ipclab.mechanisms.semset import SEM_UNDO


def philosopher(forks, i, n, meals, eat=0.05, wait=2.0, t0=0.0, barrier=True):
    left, right = i, (i + 1) % n
    events = []
    for meal in range(meals):
        events.append((time.monotonic() - t0, "hungry"))
        try:
            forks.op([(left, -1, SEM_UNDO), (right, -1, SEM_UNDO)], timeout=wait)  # C: struct sembuf ops[2] = {{left,-1,SEM_UNDO},{right,-1,SEM_UNDO}}; semtimedop(id, ops, 2, &ts);
        except WaitTimeout:
            events.append((time.monotonic() - t0, "timeout"))
            return {"meals": meal, "events": events, "outcome": f"waited {wait:g} s for forks {left}+{right}"}
        events.append((time.monotonic() - t0, "eat"))
        time.sleep(eat)
        forks.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)
        events.append((time.monotonic() - t0, "think"))
        time.sleep(eat / 2)
    return {"meals": meals, "outcome": f"ate {meals} meals", "events": events}

# %% [markdown]
# `demo.dining(worker=...)` creates the set (five forks at 1, the barrier at 5), starts
# five processes running the philosopher you give it, and, while they run, asks the kernel
# about every fork; at the end it removes the set.
#
# **Predict.** Five philosophers, three meals each. With two semops (and the barrier), how
# many meals are eaten, and what does the kernel see on each fork while they wait? With one
# atomic semop? Write your answer down, then run.

# %%
one_at_a_time = demo.dining(n=5, meals=3, atomic=False, wait=2.0, start_method="fork", timeout=60,
                            worker=phil_two_semops.philosopher)
atomic = demo.dining(n=5, meals=3, atomic=True, wait=2.0, start_method="fork", timeout=60,
                     worker=phil_one_semop.philosopher)
print("ran both tables: 2 x 5 philosophers as processes")

# %% [markdown]
# **Reveal** (click the collapsed outputs):

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
fig = plots.dining([one_at_a_time, atomic])
style.show(fig)
for i, r in enumerate(one_at_a_time["results"]):
    print(f"philosopher {i}: {r['outcome']}")
late = plots.late_meals(one_at_a_time)
print("after the first timeout, philosophers who ate (a fork came back through SEM_UNDO):", late or "none")

# %% tags=["reveal"]
if one_at_a_time["deadlock"]:
    print(f"one-at-a-time: deadlock detected after {one_at_a_time['wait']:g} s timeout")
view = one_at_a_time["stuck_view"]
print("kernel's view while stuck: every fork at 0 with one process waiting:",
      "yes" if view and all(row["value"] == 0 and row["ncnt"] == 1 for row in view) else "no")
if not atomic["deadlock"] and atomic["meals"] == 5 * 3:
    print(f"atomic semop: all philosophers ate ({atomic['meals']} meals)")
print("atomic semop: no philosopher ever held a single fork:",
      "yes" if not any(w == "left" for r in atomic["results"] for _, w in r["events"]) else "no")

# %% [markdown]
# *Figure:* two timelines, one row per philosopher: grey while hungry with empty hands,
# orange and hatched while holding one fork, green and cross-hatched while eating, an X where
# a wait timed out. Left, one fork at a time; right, both forks in one atomic `semop`. The
# sentence printed under the figure says what this run did.
#
# With two semops, each philosopher holds its left fork and waits for a right fork that its
# neighbour holds and will not give back: a **deadlock**, a circle of waits. With one
# atomic `semop` a philosopher never holds one fork while waiting for the other (no
# *hold-and-wait*), so the circle cannot form.
#
# The orange bars are philosophers holding one fork: with one-at-a-time operations all
# five hold one, nobody eats, and only the timeout ends it. The timeouts do not all fire at
# the same instant: when the first philosopher gives up and exits, `SEM_UNDO` puts its
# fork back, and a neighbour still waiting may get its second fork and eat before its own
# timeout. The line printed under the figure ("after the first timeout, philosophers who
# ate") says whether that happened in this run. With
# the atomic `semop` no philosopher ever holds a single fork: it is either waiting with
# empty hands (grey) or eating (green).
#
# **Deadlock-free is not starvation-free.** The atomic `semop` removes hold-and-wait, so the
# circle of waits cannot form, but nothing in `semop` promises a waiting philosopher its
# turn ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html) describes when a
# blocked call proceeds, not in what order waiters are served): if its two neighbours eat in
# alternation, one of its forks is always taken, and it can wait for ever while everyone
# else eats. That is **starvation**; here the timeout would report it as an error. The cures
# add an order: a waiter queue or a ticket, or a waiter (a semaphore of n-1 seats) plus a
# fairness rule.
#
# While the philosophers were stuck, the parent asked the kernel about every fork:
# `semctl(id, i, GETVAL)`, `GETNCNT` (how many wait for it to grow) and `GETPID` (who
# operated on it last) — a deadlock is visible from outside:

# %%
# NBVAL_IGNORE_OUTPUT
for row in view or []:
    print(row)

# %% [markdown]
# > **Try it.** Call `demo.dining(atomic=False, barrier=False)` a few times, or untick
# > *barrier* in the explorer below. Does it still deadlock? Now you know why deadlocks are
# > bugs that "never happen in testing". ([answer](answers/02_sysv_semaphores_answers.ipynb#try-3))

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.presentation.widgets import semaphores as sem_widgets

sem_widgets.dining_explorer()

# %% [markdown]
# The explorer's button calls a plain function; here it is without a browser, with its
# defaults (one-at-a-time, barrier on):

# %%
fig, line = sem_widgets.run_dining(n=5, atomic=False, barrier=True, wait=1.0, meals=1)
plt.close(fig)
print(line.split(" (")[0])

# %% [markdown]
# ## 4. SEM_UNDO: when the holder dies
#
# A process takes the mutex and is killed by `SIGKILL` before it gives it back: no
# `finally`, no signal handler runs. Two other processes wait for the mutex with a 2 s
# timeout. This is the holder; `demo.undo_experiment(worker=...)` makes a set of two
# semaphores (0: the mutex at 1; 1: "I hold it", at 0), starts the holder, starts the two
# waiters once it holds the mutex, SIGKILLs it, and reads the mutex every 20 ms.

# %%
# %%worker undo_holder
"""The holder: take the mutex with SEM_UNDO, say so, sleep until killed."""
import time

from ipclab.mechanisms.semset import SEM_UNDO


def holder(sem, hold=60):
    sem.op([(0, -1, SEM_UNDO)], timeout=30)  # C: semtimedop(id, &(struct sembuf){0, -1, SEM_UNDO}, 1, &ts): semadj[0] += 1
    sem.op([(1, +1, 0)])                     # C: semop(id, &(struct sembuf){1, +1, 0}, 1): "I hold it"
    time.sleep(hold)                         # SIGKILL arrives here: no V, no finally

# %% [markdown]
# **Break it yourself.** Copy the holder without `SEM_UNDO`: in the cell below the first
# `sem.op` has flags `0` instead of `SEM_UNDO`, nothing else changed.
#
# **Predict.** For each holder: after the SIGKILL, what is the mutex's value, and do the
# two waiters get it within their 2 s? (Hint: with `SEM_UNDO` the kernel keeps, for each
# process and semaphore, the sum of its changes, `semadj`; look up in semop(2) what it does
# with it.)

# %%
# %%worker undo_holder_broken
"""The same holder, SEM_UNDO dropped."""
import time


def holder(sem, hold=60):
    sem.op([(0, -1, 0)], timeout=30)         # C: semtimedop(id, &(struct sembuf){0, -1, 0}, 1, &ts): no semadj
    sem.op([(1, +1, 0)])
    time.sleep(hold)

# %%
no_undo = demo.undo_experiment(False, waiters=2, wait=2.0, start_method="fork", timeout=60,
                               worker=undo_holder_broken.holder)
with_undo = demo.undo_experiment(True, waiters=2, wait=2.0, start_method="fork", timeout=60,
                                 worker=undo_holder.holder)
print("ran both: each time 1 holder SIGKILLed, 2 waiters")

# %% [markdown]
# **Reveal** (click the collapsed outputs):

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
fig = plots.undo([no_undo, with_undo])
style.show(fig)

# %% tags=["reveal"]
print(f"{'':16} {'holder':22} {'value after':12} waiters")
for r in (no_undo, with_undo):
    how = "with SEM_UNDO" if r["undo"] else "without SEM_UNDO"
    dead = "killed by SIGKILL" if r["victim_exitcode"] == -9 else f"exit {r['victim_exitcode']}"
    print(f"{how:16} {dead:22} {r['value_after']:<12} {', '.join(r['outcomes'])}")

# %% [markdown]
# *Figure:* the mutex's value (0 taken, 1 free) read by the parent every 20 ms, against
# time; a dotted vertical line marks the SIGKILL of the holder; red dashed without
# `SEM_UNDO`, green solid with it.
#
# * **Without `SEM_UNDO`** the value stays 0 for ever: the waiters time out (in a real
#   program, without a timeout, they would hang).
# * **With `SEM_UNDO`** the kernel reverses the dead holder's `semadj` when it exits: the
#   unit comes back and a waiter gets it.

# %% [markdown]
# What `SEM_UNDO` gives back, and what it does not ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)):
#
# * **The lock, not consistent data.** The kernel adds the dead process's `semadj` back to
#   the semaphore; it knows nothing of the shared memory the process was updating under the
#   lock. If it died half-way through an update, the next holder gets the lock *and* the
#   half-written data. A design that must survive that needs a way to detect it (a
#   "dirty" flag or a version number written last, a journal) or a robust mutex, whose next
#   owner is told `EOWNERDEAD` (notebook 07). Lab 8's check `total == sum(served)` depends
#   on it: both counters change under one lock, and its tests kill a process that holds only
#   the *accept* lock (no shared data is written under it) and a worker between requests; a
#   worker killed between `total += 1` and `served[i] += 1` would leave the lock free and
#   the sum wrong.
# * **Clamped, not exact.** When the process exits, each `semadj` is added to the value,
#   and Linux clamps the result to [0, SEMVMX] (SEMVMX = 32767): an undo that would take the
#   value below 0 stops at 0, one that would pass SEMVMX stops there (`exit_sem` in
#   [ipc/sem.c](https://github.com/torvalds/linux/blob/master/ipc/sem.c)). semop(2)'s BUGS
#   section names the choice: an undo that would take a value below zero could block the
#   exiting process until it can be applied ("undesirable since it could force process
#   termination to block for arbitrarily long periods"), or be ignored altogether ("somewhat
#   analogously to failing when IPC_NOWAIT is specified"); "Linux adopts a third approach:
#   decreasing the semaphore value as far as possible (i.e., to zero) and allowing process
#   termination to proceed immediately" ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)).
# * **Per process, not inherited.** "The sem_undo structures of a process aren't inherited
#   by the child produced by fork(2), but they are inherited across an execve(2)" (semop(2),
#   NOTES): a child that releases a lock its parent took with `SEM_UNDO` leaves the parent's
#   `semadj` in place, to be applied when the *parent* exits.
# * **Not free, and erased by `SETVAL`.** The kernel keeps an undo record per process and
#   set, and a `SETVAL`/`SETALL` erases everyone's records for that semaphore.
#
# Use it for semaphores that a process *holds* (mutexes, slots), not for semaphores that
# count events between a producer and a consumer: there, one process's V is meant to
# outlive it.
#
# > **Try it.** In the table above, why is the value after the kill exactly 1 with
# > `SEM_UNDO`, even though two waiters took and released the mutex afterwards?
# > ([answer](answers/02_sysv_semaphores_answers.ipynb#try-4))
#
# ## 5. Waiting for zero; who is waiting, who went last
#
# `sem_op == 0` waits until the value is zero. Set a gate semaphore to 1, let processes wait
# for zero on it, and one P opens the gate for all of them at once: a start signal, or (as
# the philosophers' barrier did) "wait until all N have arrived". `GETZCNT` counts the
# processes waiting for zero.

# %%
gate = demo.zero_barrier(waiters=3, start_method="fork", timeout=60)
b, a = gate["before"], gate["after"]
print(f"before: value {b['value']}, {b['zcnt']} processes waiting for zero (GETZCNT)")
print(f"after one P: value {a['value']}, {a['zcnt']} waiting;",
      "all released after the gate opened:", "yes" if all(t >= gate["opened_at"] for t in gate["released_at"]) else "no")

# %% [markdown]
# `GETPID` gives the last process that did a `semop` on a semaphore (`sempid`), and
# `IPC_STAT` fills a `struct semid_ds`: owner, mode, number of semaphores, `sem_otime` (last
# `semop`) and `sem_ctime` (creation or last change by `semctl`).

# %%
# NBVAL_IGNORE_OUTPUT
with semset.create(2, values=[0, 0], note="stat") as s:
    st = s.stat()                             # C: struct semid_ds ds; semctl(id, 0, IPC_STAT, &ds);
    print(f"before any semop: key=0x{st.key:08x} mode={st.mode:04o} nsems={st.nsems} uid={st.uid} "
          f"otime={st.otime} (never) ctime={time.ctime(st.ctime)}")
    s.release(1)
    print(f"after a V on sem 1 by pid {os.getpid()}: GETPID(1) = {s.pid(1)}, GETPID(0) = {s.pid(0)}, "  # C: semctl(id, 1, GETPID)
          f"otime = {time.ctime(s.stat().otime)}")
    print(s.snapshot())

# %% [markdown]
# ## 6. Inspecting and cleaning up
#
# System V sets outlive their processes until someone removes them (`semctl(IPC_RMID)`,
# `ipcrm -s ID`) or the machine reboots. `ipcs -s` lists them, `ipcs -s -i ID` shows one
# set's values, waiters and last pids; `/proc/sys/kernel/sem` holds the four limits
# SEMMSL (semaphores per set), SEMMNS (in the system), SEMOPM (operations per `semop`)
# and SEMMNI (sets).
#
# The set `ipclab.mechanisms.semset` made is the kernel's: `ipcs`, a C program
# ([`ipclab/c/semset_peek.c`](../ipclab/c/semset_peek.c)) and `sysv_ipc` see the same state.

# %%
# NBVAL_IGNORE_OUTPUT
print(open("/proc/sys/kernel/sem").read().strip(), "->", semset.limits())
with semset.create(3, values=[1, 4, 2], note="inspect") as s:
    print(subprocess.run(["ipcs", "-s", "-i", str(s.id)], capture_output=True, text=True).stdout)

# %% [markdown]
# The C program reads the set with `semctl`, whose fourth argument has the type
# `union semun`, a union that the **calling program must define** (semctl(2)): `buf` for
# `IPC_STAT`, `array` for `GETALL`, `val` for `SETVAL`. A call that fails returns -1 and sets
# `errno`; `perror` prints the call's name and `errno`'s text. A `semtimedop` interrupted by
# a signal handler fails with `EINTR` (signal(7): never restarted), so it is called again.
# Its code from the union on:

# %%
import ipclab

src = os.path.join(os.path.dirname(ipclab.__file__), "c", "semset_peek.c")  # the package's C sources
text = open(src).read()
print(text[text.index("union semun {"):].strip())

# %%
if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with tempfile.TemporaryDirectory() as tmp, semset.create(3, values=[1, 4, 2], note="inspect") as s:
        exe = os.path.join(tmp, "semset_peek")
        subprocess.run(["gcc", "-O2", "-Wall", "-o", exe, src], check=True)
        out = subprocess.run([exe, str(s.id)], capture_output=True, text=True, check=True).stdout
        print("C sees the values Python set:", "yes" if "value=1 " in out and "value=4 " in out and "value=2 " in out else "no")
        subprocess.run([exe, str(s.id), "2", "5"], capture_output=True, check=True)  # C: semop(id, {2, +5, 0})
        print("Python sees C's V(+5) on sem 2:", s.getall())
        sv = sysv_ipc.Semaphore(s.key)
        print("sysv_ipc opens the set of 3 but sees only semaphore 0: value", sv.value)
        ipcs = subprocess.run(["ipcs", "-s", "-i", str(s.id)], capture_output=True, text=True).stdout
        print("ipcs -s -i shows nsems = 3:", "yes" if "nsems = 3" in ipcs else "no")
        subprocess.run(["ipcrm", "-s", str(s.id)], check=True)        # removed from outside
        try:
            s.getall()
        except ObjectGone as e:
            print("after ipcrm -s:", type(e).__name__)

# %% [markdown]
# If a notebook crashed and left sets behind, `ipclab ls` shows the course's objects and
# `ipclab clean` removes them; `ipcrm -s ID` removes one by hand.
#
# ## 7. POSIX named semaphores, side by side
#
# | | System V (`semget`/`semop`) | POSIX named (`sem_open`/`sem_wait`) |
# | --- | --- | --- |
# | name | numeric key (`ftok`, `IPC_PRIVATE`) | `"/name"`, a file in `/dev/shm` |
# | unit | a **set** of N semaphores | one semaphore |
# | one call on several semaphores, atomically | **yes** (`semop` with N ops) | no: take them in a fixed order instead |
# | add or subtract more than 1 at once | yes (`sem_op = -3`) | no (loop, not atomic) |
# | wait for zero | yes (`sem_op = 0`) | no |
# | undo at process death | yes (`SEM_UNDO`) | no: a dead holder keeps it (use a robust mutex) |
# | who waits, who went last | `GETNCNT`, `GETZCNT`, `GETPID` | only the value (`sem_getvalue`) |
# | timed wait | `semtimedop` (Linux; a relative timeout) | `sem_timedwait`: an absolute `CLOCK_REALTIME` deadline, so setting the clock moves it; glibc's `sem_clockwait` takes `CLOCK_MONOTONIC` ([glibc manual](https://www.gnu.org/software/libc/manual/html_node/Waiting-with-Explicit-Clocks.html)); neither on macOS |
# | speed | a system call for every P and V | no system call when uncontended (a futex; measured in 19.1: no voluntary switch, no futex call) |
# | inspection, removal | `ipcs -s`, `ipcrm -s` | `ls /dev/shm/sem.*`, `sem_unlink` |
#
# The same timed P, POSIX style:

# %%
with objects.posix_sem(0, tag="empty") as sem:   # C: sem_t *s = sem_open(name, O_CREAT|O_EXCL, 0600, 0);
    try:
        sem.acquire(0.5)                          # C: sem_timedwait(s, &abs_deadline);
    except posix_ipc.BusyError as e:
        print("sem_timedwait on an empty POSIX semaphore:", type(e).__name__)

# %% [markdown]
# ## Summary
# - A System V semaphore lives in a **set** created by `semget(key, nsems, IPC_CREAT | IPC_EXCL | 0600)`
#   and found by key (`ftok`, `IPC_PRIVATE`, or a chosen number). Creation and
#   initialisation are two calls: use `IPC_EXCL` and the `sem_otime` handshake.
# - `semop` applies an array of operations (P: −n, V: +n, Z: 0) **atomically**; taking
#   several resources in one call removes the hold-and-wait that deadlocks the
#   one-at-a-time philosophers.
# - A semaphore at 1 is a mutex (the counter is exact again); at N it admits N processes.
# - `SEM_UNDO` makes the kernel give back what a dead process held; without it a crash
#   leaves the semaphore taken for ever. It restores the lock, not the data the lock
#   guarded; the adjustment is clamped to [0, SEMVMX] and is not inherited by a forked child.
# - An atomic multi-fork `semop` prevents deadlock, not starvation.
# - Every wait has a timeout (`semtimedop`): a deadlock becomes an error you can report.
# - `GETVAL`, `GETALL`, `GETNCNT`, `GETZCNT`, `GETPID`, `IPC_STAT`; `ipcs -s [-i ID]`,
#   `ipcrm -s`, `/proc/sys/kernel/sem`.
# - POSIX semaphores are simpler and faster; System V ones express sets, atomic
#   multi-operations, wait-for-zero and undo.
#
# ## Exercises
# 1. **Readers–writer lock in one set.** With a set of 2 semaphores (readers count, writer
#    flag), write `read_lock` as one `semop` (`writer` must be 0 — a Z operation — and
#    readers +1) and `write_lock` as one `semop` (writer 0 → 1 and readers must be 0).
#    Why must each be a single `semop`? ([answer](answers/02_sysv_semaphores_answers.ipynb#exercise-1))
# 2. **Resource hierarchy.** Fix the one-at-a-time philosophers *without* an atomic `semop`:
#    every philosopher takes the lower-numbered fork first. Show with `demo.dining`-style
#    code that the barrier no longer deadlocks it. ([answer](answers/02_sysv_semaphores_answers.ipynb#exercise-2))
# 3. **Undo accounting.** A process does `V(+2)` with `SEM_UNDO` and exits. What is the value
#    after its death? Check your prediction with `semset`. ([answer](answers/02_sysv_semaphores_answers.ipynb#exercise-3))
# 4. **Limits.** Which of the four numbers in `/proc/sys/kernel/sem` stops `semset.create(40000)`?
#    And a `semop` with 600 operations? Check the errors `semset` gives. ([answer](answers/02_sysv_semaphores_answers.ipynb#exercise-4))
# 5. **Collisions.** Create two files, call `ftok` on each with the same `proj_id`. Under what
#    condition on their inode numbers do the keys collide? ([answer](answers/02_sysv_semaphores_answers.ipynb#exercise-5))
#
# **Lab 2:** [`labs/lab2_semsets.ipynb`](../labs/lab2_semsets.ipynb): a deadlock-free dining
# table on an `ipclab.mechanisms.semset` set (both forks in one atomic `semop`, `SEM_UNDO` surviving a
# kill). **Lab 8** ([pre-forked server](../labs/lab8_prefork.ipynb)) serialises `accept()` with a
# blocking lock held with `SEM_UNDO`: the Apache *prefork* model (Nginx, by contrast, has its
# accept mutex off by default, and when on it only *tries* an atomic in shared memory; see
# notebook 00). **Next:** [19.3 System V message queues](03_sysv_message_queues.ipynb).
#
# ## References
# - Overview pages: [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html); the chapter's other two,
#   [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html) and
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html).
# - Calls used here: [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html),
#   [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
#   [semop(2), semtimedop(2)](https://man7.org/linux/man-pages/man2/semop.2.html),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`union semun`),
#   [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html),
#   [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (`EINTR`),
#   [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
#   [shmat(2), shmdt(2)](https://man7.org/linux/man-pages/man2/shmop.2.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html),
#   [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html).
# - M. Kerrisk, *The Linux Programming Interface*, chapters 44-55, here above all 45
#   (introduction to System V IPC) and 47 (System V semaphores).
# - W. R. Stevens, S. Rago, *Advanced Programming in the UNIX Environment*, 3rd ed., chapter
#   15 (§15.8 semaphores); the `sem_otime` initialisation handshake is from W. R. Stevens,
#   *UNIX Network Programming*, vol. 2.
# - POSIX.1-2017: [semop](https://pubs.opengroup.org/onlinepubs/9699919799/functions/semop.html),
#   [semget](https://pubs.opengroup.org/onlinepubs/9699919799/functions/semget.html),
#   [semctl](https://pubs.opengroup.org/onlinepubs/9699919799/functions/semctl.html),
#   [ftok](https://pubs.opengroup.org/onlinepubs/9699919799/functions/ftok.html).
# - The kernel's limits: `kernel/sem` (SEMMSL, SEMMNS, SEMOPM, SEMMNI) in
#   [Documentation for /proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html);
#   the undo at exit, `exit_sem` in [ipc/sem.c](https://github.com/torvalds/linux/blob/master/ipc/sem.c).

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
