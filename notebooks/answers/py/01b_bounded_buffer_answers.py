# %% [markdown]
# # Answers to 19.1b (the bounded buffer, derived through its broken versions)
#
# One section per "Try it" prompt of [19.1b The bounded buffer](../01b_bounded_buffer.ipynb),
# in the order they appear there, then what each "break it yourself" change does. Where the
# answer is code, it runs here on real processes and POSIX objects (removed afterwards), and
# the notebook check (nbval) compares its verdict lines; the counts, which change from run to
# run, are in cells whose output is not compared. Try each one yourself first.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811  (each %%worker cell below is its own module; the linter sees one file)
from ipclab import doctor
from ipclab.experiments import bounded_buffer as bb
from ipclab.mechanisms import ccell

doctor.setup_notebook("posix_shm", "sem_timedwait")
ccell.load()  # %%worker


def stuck_where(result):
    """Which wait each stuck worker gave up in, e.g. 'producer 0: empty.wait()'."""
    out = []
    for w in result.workers:
        if w["outcome"] == "stuck":
            where = w["stuck"].split(" in ", 1)[1].split(" ", 1)[0]
            out.append(f"{w['role']} {w['index']}: {where}")
    return ", ".join(out) or "none"

# %% [markdown]
# <a id="try-1"></a>
# ## Try it 1: version 3 with one producer
#
# *Run version 3 (`empty` and `full`, no mutex) with one producer and the same 2 ms window.
# Is anything lost? Why is `empty`/`full` enough then?*
#
# Nothing is lost. With one producer, only one process ever reads or writes `fill`, and with
# one consumer only one process touches `use`: there is no shared index left to race on.
# `full` guarantees the consumer reads slot `i` only after the producer wrote it; `empty`
# guarantees the producer writes slot `i` again only after the consumer read it. The window
# inside `put` only makes the producer slower. This is OSTEP's "first attempt", correct for
# one producer and one consumer; the mutex is needed only when *several* processes share an
# index.

# %%
# %%worker a1_nomutex
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
        put(ring, item)
        ring.full.post()


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()
        item = get(ring)
        ring.empty.post()
        ring.consume(item)

# %%
one = bb.run("a1_nomutex", producers=1, items=40, capacity=4, window=0.002, wait_timeout=10.0)
print("\n".join(one.verdicts()))

# %% [markdown]
# <a id="try-2"></a>
# ## Try it 2: one semaphore as a lock
#
# *Use your one semaphore as a lock: `ring.mutex` around `put` and around `get`, no `empty`,
# no `full`. Which damage remains?*
#
# All of it, except races on the indices. The lock makes each `put` and each `get` one
# step, but nothing makes the consumer wait for a full slot or the producer for an empty
# one. A fast consumer (slow producer) reads slots never written (garbled 0s, and the items
# written later are lost); a fast producer (slow consumer) overwrites unread slots (lost) and
# the consumer reads the last ones again (duplicates). Mutual exclusion is not
# **condition synchronisation**: a lock says "one at a time", a counting semaphore says
# "not until there is something (or room)".

# %%
# %%worker a2_lock_only
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
        ring.mutex.wait()
        put(ring, item)
        ring.mutex.post()


def consumer(ring, count):
    for _ in range(count):
        ring.mutex.wait()
        item = get(ring)
        ring.mutex.post()
        ring.consume(item)

# %%
slow_p, _ = bb.run_until("a2_lock_only", lambda r: r.damaged, items=40, capacity=4, window=0.001)
slow_c, _ = bb.run_until("a2_lock_only", lambda r: r.damaged, items=40, capacity=4, consumer_delay=0.001)
for label, r in (("slow producer", slow_p), ("slow consumer", slow_c)):
    print(f"{label}: {r.verdicts()[0]}; {r.verdicts()[1]}")

# %%
# NBVAL_IGNORE_OUTPUT
for r in (slow_p, slow_c):
    print("\n".join(r.counts()[:2]))

# %% [markdown]
# <a id="try-3"></a>
# ## Try it 3: only the consumer fixed
#
# *In version 4, fix only the consumer (`full` before `mutex`) and keep the producer's wrong
# order (`mutex` before `empty`). Still a deadlock?*
#
# Yes, whenever the producer finds the ring full. It takes the mutex, then sleeps on `empty`
# holding it; the consumer, which would post `empty`, first needs the mutex. With a slow
# consumer (10 ms per item) and 2 slots, the producer fills the ring while the consumer is
# busy, so the run below deadlocks, and the stuck messages say where: the producer in
# `empty.wait()`, the consumer in `mutex.wait()`. The mirror case (producer fixed, consumer
# wrong) deadlocks when the consumer finds the ring empty: run it with a slow producer.
# The rule is for every process: never sleep on a counting semaphore while holding the lock.

# %%
# %%worker a3_producer_wrong
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
        ring.mutex.wait()        # still the wrong order
        ring.empty.wait()
        put(ring, item)
        ring.mutex.post()
        ring.full.post()


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()         # fixed: full first
        ring.mutex.wait()
        item = get(ring)
        ring.mutex.post()
        ring.empty.post()
        ring.consume(item)

# %%
half, _ = bb.run_until("a3_producer_wrong", lambda r: r.deadlock, items=20, capacity=2,
                       consumer_delay=0.01, wait_timeout=2.0)
print("\n".join(half.verdicts()))
print("stuck in:", stuck_where(half))

# %% [markdown]
# <a id="try-4"></a>
# ## Try it 4: `full` posted before the mutex is released
#
# *In the correct version, post `full` before releasing the mutex in the producer. Deadlock,
# damage, or fine?*
#
# Fine. `sem_post` never blocks, so a process holding the mutex while it posts `full` cannot
# be stuck there; a consumer woken by that post waits a moment for the mutex, which the
# producer releases on its next line. OSTEP makes the same point: deadlock comes from
# *waiting* while holding the lock, not from posting. The run below reports no damage and
# no deadlock.

# %%
# %%worker a4_posts_swapped
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
        ring.full.post()         # posted while still holding the mutex
        ring.mutex.post()


def consumer(ring, count):
    for _ in range(count):
        ring.full.wait()
        ring.mutex.wait()
        item = get(ring)
        ring.mutex.post()
        ring.empty.post()
        ring.consume(item)

# %%
swapped = bb.run("a4_posts_swapped", producers=2, consumers=2, items=30, capacity=4, window=0.001,
                 wait_timeout=10.0)
print("\n".join(swapped.verdicts()))

# %% [markdown]
# <a id="break-it"></a>
# ## Break it yourself: what each change does
#
# * **The consumer's `ring.mutex.post()` deleted.** The first consumer to get an item keeps
#   the mutex for ever; every other wait on the mutex times out: a deadlock, reported by the
#   timed waits (run below).
# * **The producer's `empty.wait()` and `mutex.wait()` swapped.** Version 4's deadlock,
#   when a producer finds the ring full (Try it 3).
# * **`% ring.capacity` dropped in `put`.** After `capacity` puts, `fill` points past the
#   last slot: `ring.slot[4] = item` raises `IndexError: slot 4 is outside the ring`, shown
#   with the worker's traceback. In C, `ring->buffer[4] = item` would silently write past
#   the array, over whatever follows it in the segment (or fault past its end).
# * **`ring.empty` posted twice in the consumer.** `empty` now counts more free slots than
#   exist, so producers can run up to twice as far ahead and overwrite unread slots: lost
#   items, and duplicates or garbled values on the consumer's side, when the consumers are
#   slower than the producers.

# %%
# %%worker a5_keeps_mutex
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
        # ring.mutex.post()      <- deleted
        ring.empty.post()
        ring.consume(item)

# %%
kept = bb.run("a5_keeps_mutex", producers=2, consumers=2, items=30, capacity=4, wait_timeout=2.0)
print("\n".join(kept.verdicts()))
