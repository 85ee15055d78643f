# %% [markdown]
# # 19.1b The bounded buffer, derived through its broken versions
#
# Notebook 01 handed you a ring buffer that works: producers put records, consumers get
# them, three POSIX semaphores keep order. Here you build it yourself, the way OSTEP does in
# chapter 31 ("Semaphores", section "The Producer/Consumer (Bounded Buffer) Problem"):
# start with no synchronisation at all, run it, see what breaks, add one semaphore, run
# again, and so on until nothing breaks. Each version is code **in a cell** (`%%worker`),
# run by **real processes** that share a POSIX shared memory segment, and each run is judged
# by counting what the consumers actually received.
#
# At every step: read the code, **predict** (write your answer down), run, then click the
# collapsed output under "Reveal" to compare.
#
# **Learning goals.** After this notebook you can
# 1. say what each of the three semaphores of the bounded buffer (`empty`, `full`, `mutex`)
#    counts or protects, and show what goes wrong without each;
# 2. predict from the code whether a version loses, duplicates or garbles items, and check
#    the prediction by counting what the consumers received;
# 3. make a race show up reliably by widening its window;
# 4. explain why taking the mutex before `empty` (or `full`) deadlocks, and detect that
#    deadlock with timed waits instead of hanging;
# 5. name the C call behind each line (`shm_open`, `mmap`, `sem_open`, `sem_timedwait`,
#    `sem_post`, `sem_unlink`, `shm_unlink`).
#
# **Time:** about 45 min. Running every cell took 11 to 27 s when this notebook was built on
# a busy 2-core machine (the last cell prints the time of your run). Reading, from the
# measured word counts: 2,300 words of text at 200 words a minute (about 12 min) and 1,100
# words of code at 100 a minute (about 11 min); predicting, the Try-it prompts and the
# break-it step, about 20 min more. **Prerequisites:** notebook 01, sections 1 and 4 (a
# segment, the ring buffer).
#
# The plumbing (create the objects, start the processes, count, clean up) is in
# [`ipclab/experiments/bounded_buffer.py`](../ipclab/experiments/bounded_buffer.py); the
# code that matters is in the cells below.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811  (each %%worker cell below is its own module; the linter sees one file)
import time

import numpy as np

from ipclab import doctor, procs
from ipclab.experiments import bounded_buffer as bb
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show
from ipclab.presentation.plots import style

T0 = time.monotonic()
doctor.setup_notebook("posix_shm", "sem_timedwait")
ccell.load()  # registers %%worker (and %%c)

# %% [markdown]
# ## 0. The ring, and what a worker sees
#
# The ring lives in one POSIX shared memory segment: two indices, `fill` (the next slot a
# producer writes) and `use` (the next slot a consumer reads), then `capacity` slots of one
# 64-bit integer each. A fresh segment is all zeros, so a slot never written reads 0.
# Producer `p` puts the items `1000·(p+1)`, `1000·(p+1)+1`, ...: producer 0 puts 1000, 1001, ...,
# producer 1 puts 2000, 2001, ... Each consumer takes its share of the items and hands each
# one to `ring.consume(item)`, which records it. After the run the course counts, from what
# the consumers received:
#
# * **lost**: an item put by a producer and never received;
# * **duplicated**: an extra copy (an item received twice counts 1);
# * **garbled**: a value no producer put (here: a 0, read from a slot never written, or from
#   a slot being written: Python's `struct.pack_into`, which stores each value, first clears
#   its 8 bytes and then writes them, so a reader that comes in between sees 0; notebook 01,
#   "A store can be torn").
#
# A version is a module with two functions, `producer(ring, items)` and
# `consumer(ring, count)`. Each runs in its own process and sees the ring through this
# object (every line is one C statement or call):
#
# | in the worker (Python) | C equivalent |
# | --- | --- |
# | `ring.fill`, `ring.use` (read or assign) | `ring->fill`: a `long` in the segment, mapped by `shm_open` + `mmap` |
# | `ring.slot[i]`, `ring.slot[i] = item` | `ring->buffer[i]`, `ring->buffer[i] = item;` |
# | `ring.capacity` | `MAX`, the number of slots |
# | `ring.empty.wait()` (also `full`, `mutex`) | `sem_timedwait(empty, &deadline)`; on `ETIMEDOUT` the worker stops, reported as *stuck* |
# | `ring.empty.post()` | `sem_post(empty)` (never blocks) |
# | `ring.window()` | `usleep(window)`: a race window made wide on purpose (0 unless an experiment sets it) |
# | `ring.consume(item)` | the consumer's work: here, record the item (and sleep `consumer_delay`) |
#
# Around your code, `bb.run(...)` makes the calls you would make in C: `shm_open(name,
# O_CREAT|O_EXCL|O_RDWR, 0600)` + `ftruncate` + `mmap` for the segment, `sem_open(name,
# O_CREAT|O_EXCL, 0600, value)` for `empty` (= capacity), `full` (= 0) and `mutex` (= 1),
# then `fork` (or spawn) of the workers, which open the same names (two more semaphores,
# `ready` and `go`, only make all workers start at the same moment); at the end
# `sem_unlink` and `shm_unlink`, even if a worker crashed or you interrupted the cell. The
# names are unique to you and to this run (another student's ring cannot collide with yours).
#
# Every wait has a timeout. This is the wait every `ring.X.wait()` runs (the marked line is
# the C `sem_timedwait`):

# %%
show(bb.Sem.wait, mark=["self._sem.acquire(t)", "raise Stuck"])

# %% [markdown]
# ## 1. No synchronisation
#
# OSTEP's `put` and `get`, written for our ring. The producer writes the slot at `fill` and
# moves `fill` on; the consumer reads the slot at `use` and moves `use` on. Nothing makes
# either of them wait.

# %%
# %%worker bb1_nosync
"""Version 1: no synchronisation at all."""


def put(ring, item):
    i = ring.fill                        # C: int i = ring->fill;
    ring.window()                        # C: usleep(window);   (0 here)
    ring.slot[i] = item                  # C: ring->buffer[i] = item;
    ring.fill = (i + 1) % ring.capacity  # C: ring->fill = (i + 1) % MAX;


def get(ring):
    i = ring.use                         # C: int i = ring->use;
    item = ring.slot[i]                  # C: long item = ring->buffer[i];
    ring.use = (i + 1) % ring.capacity   # C: ring->use = (i + 1) % MAX;
    return item


def producer(ring, items):
    for item in items:
        put(ring, item)


def consumer(ring, count):
    for _ in range(count):
        ring.consume(get(ring))

# %% [markdown]
# **Predict.** One producer puts 40 items into a ring of 4 slots; one consumer gets 40
# values. The two processes start at the same moment. We run it twice:
#
# * (a) a **slow producer**: `window=0.001`, so each `put` takes 1 ms more;
# * (b) a **slow consumer**: `consumer_delay=0.001`, so each item takes the consumer 1 ms.
#
# In each case, how many of the 40 items will the consumer receive exactly once? Which kinds
# of damage do you expect, lost, duplicated, garbled, and what order of events produces each?

# %%
ATTEMPTS = 3  # a race may not show in one run: up to 3 runs, until it does
r1a, runs1a = bb.run_until("bb1_nosync", lambda r: r.damaged, attempts=ATTEMPTS, items=40, capacity=4,
                           window=0.001)
r1b, runs1b = bb.run_until("bb1_nosync", lambda r: r.damaged, attempts=ATTEMPTS, items=40, capacity=4,
                           consumer_delay=0.001)
print("ran (a) and (b): each 1 producer and 1 consumer as processes")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
for label, r in (("(a) slow producer", r1a), ("(b) slow consumer", r1b)):
    print(label)
    print("  " + "\n  ".join(r.verdicts()))

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
for r, n in ((r1a, runs1a), (r1b, runs1b)):
    print("\n".join(r.counts()), f"\n  runs made: {n}")
    print("  the first values the consumer received:", r.first_received())

# %% [markdown]
# The counts (second cell) vary from run to run; the verdicts (first cell) did not in our
# builds. Read the first values received. When the consumer runs ahead of the producer (a),
# it reads slots nobody has written yet: 0, garbled, and the items written later are never
# read: lost. When the producer runs ahead (b), it writes over slots the consumer has not
# read (lost items), and the consumer then reads what is left in the 4 slots again and
# again (duplicates). Two rules are missing: the consumer must not read a slot before it is
# full, and the producer must not write a slot before it is empty.
#
# ## 2. One semaphore: `full`
#
# A semaphore `full`, starting at 0, counts the filled slots: the producer posts it after
# each put, the consumer waits on it before each get. The consumer can no longer run ahead.

# %%
# %%worker bb2_full
"""Version 2: one semaphore, full (counts the filled slots)."""


def put(ring, item):
    i = ring.fill
    ring.window()
    ring.slot[i] = item
    ring.fill = (i + 1) % ring.capacity


def get(ring):
    i = ring.use
    item = ring.slot[i]
    ring.use = (i + 1) % ring.capacity
    return item


def producer(ring, items):
    for item in items:
        put(ring, item)
        ring.full.post()                 # C: sem_post(full);  one more filled slot


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()                 # C: sem_timedwait(full, &deadline);  wait for a filled slot
        ring.consume(get(ring))

# %% [markdown]
# **Predict.** Same 40 items, 4 slots, and the consumer takes 1 ms per item, as in (b) (a slow
# consumer, `consumer_delay=0.001`). Which kinds of damage are still possible, and which one
# has become impossible?

# %%
r2, runs2 = bb.run_until("bb2_full", lambda r: r.damaged, attempts=ATTEMPTS, items=40, capacity=4,
                         consumer_delay=0.001)
print("ran 1 producer and 1 consumer as processes")

# %% tags=["reveal"]
print("\n".join(r2.verdicts()))

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("\n".join(r2.counts()), f"\n  runs made: {runs2}")
print("  the first values the consumer received:", r2.first_received())

# %% [markdown]
# The consumer now reads a slot only after a post of `full`, so it never reads a slot that
# was never written (garbled 0s are gone). But nothing stops the producer: it writes over
# slots the consumer has not read yet. Items are lost, and since `full` was posted once per
# put, the consumer reads as many values as were put: the newest ones, several times over.
# The producer must wait for an **empty** slot.
#
# ## 3. `empty` and `full`, no mutex, two producers
#
# Add `empty`, starting at `capacity`: the producer waits on it before a put, the consumer
# posts it after a get. This is OSTEP's "first attempt", and with one producer and one
# consumer it is correct (Try it 1 checks that). Now run **two producers**. To make the
# race reliable on any machine, even on one CPU, `window=0.002` makes each producer sleep
# 2 ms between reading `fill` and writing the slot; three processes share this machine's
# CPUs.

# %%
# %%worker bb3_nomutex
"""Version 3: empty and full, no mutex."""


def put(ring, item):
    i = ring.fill                        # both producers may read the same fill...
    ring.window()                        # ...the window: 2 ms in this experiment
    ring.slot[i] = item                  # ...and write the same slot
    ring.fill = (i + 1) % ring.capacity


def get(ring):
    i = ring.use
    item = ring.slot[i]
    ring.use = (i + 1) % ring.capacity
    return item


def producer(ring, items):
    for item in items:
        ring.empty.wait()                # C: sem_timedwait(empty, &deadline);  wait for a free slot
        put(ring, item)
        ring.full.post()                 # C: sem_post(full);


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()                 # C: sem_timedwait(full, &deadline);
        item = get(ring)
        ring.empty.post()                # C: sem_post(empty);  one more free slot
        ring.consume(item)

# %% [markdown]
# **Predict.** Producers 0 and 1 put 20 items each (1000..1019 and 2000..2019); one consumer
# gets 40 values. `empty` lets both producers in as long as 2 slots are free. Walk through
# what happens when both read `fill` = 3 before either writes: which items are lost, what
# does the consumer read at the next slot?

# %%
r3, runs3 = bb.run_until("bb3_nomutex", lambda r: r.damaged, attempts=ATTEMPTS, producers=2, items=20,
                         capacity=4, window=0.002)
print("ran 2 producers and 1 consumer as processes")

# %% tags=["reveal"]
print("\n".join(r3.verdicts()))

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("\n".join(r3.counts()), f"\n  runs made: {runs3}")
print("  the first values the consumer received:", r3.first_received())

# %% [markdown]
# Two producers read the same `fill`, both write slot `fill` (the second overwrites the
# first: one item lost) and both set `fill` to the same next index, so it moves by one
# instead of two. Both post `full`, so the consumer reads two slots: the one written twice,
# and the next one, which nobody wrote this time round: a stale item (a duplicate) or a 0
# (garbled). `put` is a **critical section**: read `fill`, write the slot, update `fill`
# must happen as one step. That needs a lock: a third semaphore, `mutex`, starting at 1.
#
# ## 4. Adding the mutex, in the wrong order
#
# A natural first try: take the mutex first, around everything, as OSTEP's "adding mutual
# exclusion (incorrectly)" does.

# %%
# %%worker bb4_wrong_order
"""Version 4: mutex taken BEFORE empty/full."""


def put(ring, item):
    i = ring.fill
    ring.window()
    ring.slot[i] = item
    ring.fill = (i + 1) % ring.capacity


def get(ring):
    i = ring.use
    item = ring.slot[i]
    ring.use = (i + 1) % ring.capacity
    return item


def producer(ring, items):
    for item in items:
        ring.mutex.wait()                # C: sem_timedwait(mutex, &deadline);  lock...
        ring.empty.wait()                # ...then wait for a free slot, holding the lock
        put(ring, item)
        ring.mutex.post()                # C: sem_post(mutex);
        ring.full.post()


def consumer(ring, count):
    for _ in range(count):
        ring.mutex.wait()                # lock...
        ring.full.wait()                 # ...then wait for a filled slot, holding the lock
        item = get(ring)
        ring.mutex.post()
        ring.empty.post()
        ring.consume(item)

# %% [markdown]
# **Predict.** One producer, one consumer, 20 items, a ring of **2** slots, and a slow
# consumer (10 ms per item). What happens when the consumer takes the mutex while the ring
# is empty? When the producer takes it while the ring is full? Every wait here gives up
# after 2 s (`wait_timeout=2`); what will the run report?

# %%
r4, runs4 = bb.run_until("bb4_wrong_order", lambda r: r.deadlock, attempts=ATTEMPTS, items=20, capacity=2,
                         consumer_delay=0.01, wait_timeout=2.0)
print("ran 1 producer and 1 consumer as processes")

# %% tags=["reveal"]
print("\n".join(r4.verdicts()))
print("detected by the 2 s timeouts, before the run's deadline of "
      f"{r4.config.deadline:g} s: {'yes' if r4.seconds < r4.config.deadline else 'no'}")
print("workers reported stuck:", sum(1 for w in r4.workers if w["outcome"] == "stuck"), "of", len(r4.workers))

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("\n".join(r4.counts()), f"\n  runs made: {runs4}")

# %% [markdown]
# A **deadlock**: each process holds what the other needs. Either the consumer took the
# mutex with the ring empty and sleeps on `full`, so the producer, which would post `full`,
# sleeps on the mutex; or the producer took the mutex with the ring full and sleeps on
# `empty`, so the consumer, which would post `empty`, sleeps on the mutex. The stuck messages
# (second cell) say which of the two this run hit. With `sem_wait` both would sleep for ever
# and the cell would never end; with `sem_timedwait` each wait returned -1 with `errno`
# `ETIMEDOUT` after 2 s ([sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_timedwait.3.html)),
# the worker reported it, and the run removed the segment and the five semaphores
# ("left behind: nothing" above is checked on `/dev/shm` after the run).
#
# ## 5. The correct version
#
# Wait on `empty`/`full` **first**, then take the mutex only around the critical section.
# A process then never sleeps on a counting semaphore while holding the lock. The posts at
# the end never block, so their order does not matter for deadlock (Try it 4).

# %%
# %%worker bb5_correct
"""Version 5: the bounded buffer (OSTEP's working solution)."""


def put(ring, item):
    i = ring.fill
    ring.window()
    ring.slot[i] = item
    ring.fill = (i + 1) % ring.capacity


def get(ring):
    i = ring.use
    item = ring.slot[i]
    ring.use = (i + 1) % ring.capacity
    return item


def producer(ring, items):
    for item in items:
        ring.empty.wait()                # C: sem_timedwait(empty, &deadline);  a free slot
        ring.mutex.wait()                # C: sem_timedwait(mutex, &deadline);  the critical section
        put(ring, item)
        ring.mutex.post()                # C: sem_post(mutex);
        ring.full.post()                 # C: sem_post(full);


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()                 # a filled slot
        ring.mutex.wait()
        item = get(ring)
        ring.mutex.post()
        ring.empty.post()
        ring.consume(item)

# %% [markdown]
# **Predict.** Two producers (30 items each), **two** consumers, a ring of 4 slots, and the
# same 2 ms window inside `put` that broke version 3. Will anything be lost? Will it run
# slower than version 3, and why?

# %%
r5 = bb.run("bb5_correct", producers=2, consumers=2, items=30, capacity=4, window=0.002)
print("ran 2 producers and 2 consumers as processes")

# %% tags=["reveal"]
print("\n".join(r5.verdicts()))

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("\n".join(r5.counts()))

# %% [markdown]
# The same code under the three ways Python starts a process: `fork` (a copy of the
# notebook's process), `forkserver` and `spawn` (a fresh interpreter that imports
# `bb5_correct` by name from the cell's module file):

# %%
for method in procs.START_METHODS:
    r = bb.run("bb5_correct", start_method=method, producers=2, consumers=2, items=30, window=0.001)
    print(f"{method:10s}: {r.verdicts()[0]}; {r.verdicts()[2]}")

# %% [markdown]
# ## 6. The five versions side by side
#
# The figure is drawn from the six runs above (its numbers change from run to run; the
# version 5 bars are zero in every run we made).

# %%
# NBVAL_IGNORE_OUTPUT
runs = {"1a no sync,\nslow producer": r1a, "1b no sync,\nslow consumer": r1b, "2 full only": r2, "3 no mutex,\n2 producers": r3,
        "4 mutex first": r4, "5 correct": r5}
kinds = [("lost", "lost (never received)"), ("duplicated", "duplicated (extra copies)"),
         ("garbled", "garbled (never put)")]
fig, ax = style.subplots(figsize=(9, 4))
x = np.arange(len(runs))
for k, (attr, label) in enumerate(kinds):
    pct = [100 * getattr(r, attr) / len(r.produced) for r in runs.values()]
    ax.bar(x + (k - 1) * 0.27, pct, 0.27, label=label, **style.bar(k))
for i, r in enumerate(runs.values()):
    if r.deadlock:
        ax.annotate("deadlock:\nwaits timed out", (i, 100 * r.lost / len(r.produced) + 2), ha="center",
                    va="bottom", fontsize=8)
    elif not r.damaged:
        ax.annotate("nothing lost,\nduplicated\nor garbled", (i, 2), ha="center", va="bottom", fontsize=8)
ax.set_xticks(x, list(runs))
ax.set_ylim(0, 140)
summary = "; ".join(f"version {name.split()[0]}: {r.lost} lost, {r.duplicated} duplicated, {r.garbled} garbled"
                    f" of {len(r.produced)}" + (" (deadlock)" if r.deadlock else "") for name, r in runs.items())
style.finish(fig, ax, title="What the consumers received, per version of the bounded buffer",
             xlabel="version", ylabel="% of the items produced", legend=True, loc="upper center", ncol=3,
             alt=f"Grouped bar chart of items lost, duplicated and garbled as a percentage of the items "
                 f"produced, for the runs of the five versions above: {summary}.")
style.show(fig)

# %% [markdown]
# What holds in every run (these lines are checked each time the notebook is built):

# %%
for name, r in runs.items():
    label = name.replace("\n", " ")
    print(f"{label:30s} each item once: {'yes' if not r.damaged else 'no':3s}  deadlock: {'yes' if r.deadlock else 'no'}")

# %% [markdown]
# ## 7. Break it yourself
#
# Below is a copy of the correct version under the name `bb_mine`. Break it in one of
# these ways, predict what the run will report, run the two cells, and compare; then put it
# back.
#
# * delete the consumer's `ring.mutex.post()`;
# * in the producer, swap `ring.empty.wait()` and `ring.mutex.wait()` (only there);
# * drop `% ring.capacity` in `put` (what does the worker report?);
# * post `ring.empty` twice in the consumer (one slot counted free twice).
#
# As committed, the cell holds the correct code, so the run below reports no damage.

# %%
# %%worker bb_mine
"""Your version: start from the correct one and break it."""


def put(ring, item):
    i = ring.fill
    ring.window()
    ring.slot[i] = item
    ring.fill = (i + 1) % ring.capacity


def get(ring):
    i = ring.use
    item = ring.slot[i]
    ring.use = (i + 1) % ring.capacity
    return item


def producer(ring, items):
    for item in items:
        ring.empty.wait()
        ring.mutex.wait()
        put(ring, item)
        ring.mutex.post()
        ring.full.post()


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()
        ring.mutex.wait()
        item = get(ring)
        ring.mutex.post()
        ring.empty.post()
        ring.consume(item)

# %%
mine = bb.run("bb_mine", producers=2, consumers=2, items=30, capacity=4, window=0.001, wait_timeout=2.0)
print("\n".join(mine.verdicts()))

# %% [markdown]
# ## Try it
#
# Each has a worked, runnable answer in
# [`answers/01b_bounded_buffer_answers.ipynb`](answers/01b_bounded_buffer_answers.ipynb).
#
# 1. Run version 3 (`bb3_nomutex`) with **one** producer and the same 2 ms window. Is
#    anything lost? Why is `empty`/`full` enough then?
#    [answer](answers/01b_bounded_buffer_answers.ipynb#try-1)
# 2. Use your one semaphore as a **lock** instead of a counter: `ring.mutex` around `put`
#    and around `get`, no `empty`, no `full`. Which damage remains?
#    [answer](answers/01b_bounded_buffer_answers.ipynb#try-2)
# 3. In version 4, fix only the **consumer** (`full` before `mutex`) and keep the producer's
#    wrong order. Still a deadlock? [answer](answers/01b_bounded_buffer_answers.ipynb#try-3)
# 4. In the correct version, post `full` **before** releasing the mutex in the producer.
#    Deadlock, damage, or fine? [answer](answers/01b_bounded_buffer_answers.ipynb#try-4)
#
# ## Summary
#
# * Without synchronisation a shared ring loses, duplicates and garbles items, counted here
#   from what the consumers received.
# * `full` (starts at 0) stops consumers from reading slots not yet written; `empty` (starts at
#   the capacity) stops producers from overwriting slots not yet read. With one producer and
#   one consumer, those two are enough.
# * With several producers (or consumers), `put` (`get`) is a critical section: a `mutex`
#   (starts at 1) around it. A race window made wide (2 ms) turns a rare race into one that
#   shows in every run we made, even on one CPU.
# * Taking the mutex *before* waiting on `empty`/`full` deadlocks: one process sleeps on a
#   counting semaphore while holding the lock the other needs. Timed waits
#   (`sem_timedwait`) turn the hang into a report, and the run still removes every object.
# * The correct order: `wait(empty); wait(mutex); put; post(mutex); post(full)`, and the
#   mirror image for `get`.
#
# | Python here | C |
# | --- | --- |
# | `bb.run(...)`: the segment | `shm_open(name, O_CREAT\|O_EXCL\|O_RDWR, 0600)`, `ftruncate`, `mmap(..., MAP_SHARED, ...)` |
# | `bb.run(...)`: the semaphores | `sem_open(name, O_CREAT\|O_EXCL, 0600, value)` |
# | in a worker: attach | `shm_open(name, O_RDWR, 0)` + `mmap`; `sem_open(name, 0)` |
# | `ring.X.wait()` | `sem_timedwait(X, &deadline)` (`-1`, `errno == ETIMEDOUT` at the deadline) |
# | `ring.X.post()` | `sem_post(X)` |
# | `ring.fill`, `ring.slot[i]` | loads and stores in the mapping (in C one store each; Python's `struct.pack_into` clears the 8 bytes, then stores them) |
# | end of `bb.run` | `sem_close`, `sem_unlink`, `munmap`, `shm_unlink` |
#
# **Next:** lab 1 asks you to write this ring buffer yourself (records of bytes, any number
# of producers and consumers); notebook 02 gives System V semaphores, where one `semop` can
# wait on two semaphores at once.
#
# ## References
#
# * R. H. Arpaci-Dusseau and A. C. Arpaci-Dusseau, *Operating Systems: Three Easy Pieces*,
#   ch. 31 "Semaphores", section 31.4 "The Producer/Consumer (Bounded Buffer) Problem"
#   (<https://pages.cs.wisc.edu/~remzi/OSTEP/threads-sema.pdf>), and ch. 30 "Condition
#   Variables" for the same derivation with condition variables
#   (<https://pages.cs.wisc.edu/~remzi/OSTEP/threads-cv.pdf>).
# * Overview pages: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html)
#   and [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html) (the two
#   used here), [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html) (System V semaphores,
#   notebook 02).
# * Calls used here: [shm_open(3), shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [mmap(2), munmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [sem_wait(3), sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html) (the
#   deadline is absolute, on `CLOCK_REALTIME`; `ETIMEDOUT`),
#   [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
#   [sem_close(3)](https://man7.org/linux/man-pages/man3/sem_close.3.html),
#   [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html),
#   [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
#   [usleep(3)](https://man7.org/linux/man-pages/man3/usleep.3.html) (the race window).
# * POSIX.1-2017 ([Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/)),
#   [`sem_timedwait`](https://pubs.opengroup.org/onlinepubs/9699919799/functions/sem_timedwait.html):
#   "Under no circumstance shall the function fail with a timeout if the semaphore can be
#   locked immediately."
# * M. Kerrisk, *The Linux Programming Interface* (2010), chapters 44-55, here above all ch. 53
#   "POSIX Semaphores" and ch. 54 "POSIX Shared Memory"; W. R. Stevens and S. Rago,
#   *Advanced Programming in the UNIX Environment*, 3rd ed., ch. 15 (interprocess communication).
# * The kernel's limits: the segment and, on Linux, the named semaphores (`sem.NAME`,
#   sem_overview(7)) are files of the tmpfs mounted on `/dev/shm`, whose size is the mount's
#   `size=` ([tmpfs](https://docs.kernel.org/filesystems/tmpfs.html));
#   System V ones in [/proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html).
# * CPython: [`Modules/_struct.c`](https://github.com/python/cpython/blob/main/Modules/_struct.c)
#   (`s_pack_internal` begins with a `memset` of the bytes it packs).
# * E. W. Dijkstra, "Cooperating sequential processes" (EWD 123, 1965): semaphores and the
#   bounded buffer.
#
# How long running this notebook took, here and now (the header quotes this number as
# measured when the notebook was built):

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
