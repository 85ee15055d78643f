# %% [markdown]
# # Lab 5 (project): a shared LRU cache in shared memory, safe for several processes
#
# **Goal.** The chapter's suggested project: a cache that several processes use at once
# (think of the web workers of one server sharing the profiles they looked up). It holds
# at most *capacity* entries; when a new key arrives in a full cache, the **least recently
# used** entry goes. Everything lives in one POSIX shared memory segment, including the
# hit/miss statistics, and one lock keeps the processes from corrupting it, even when a
# process dies holding the lock.
#
# **Concepts exercised** (notebooks 01 and 02): a data structure *inside* a segment, with
# slot indices instead of pointers (every process maps the segment at a different
# address); a doubly linked list for recency; one lock around every operation; a System V
# semaphore with `SEM_UNDO` and `semtimedop`; `shm_unlink` and `semctl(IPC_RMID)`.
#
# **Time:** about 2 hours. **You edit:** [`lab5_lrucache.py`](lab5_lrucache.py).
# **Grading:** 10 points in the visible tests; hidden tests try capacity 1, binary values
# and six processes started with `spawn`.

# %%
from ipclab import doctor

doctor.setup_notebook("posix_shm")

# %% [markdown]
# ## The layout (already decided for you)
#
# ```
# segment: | header | slot 0 | slot 1 | ... | slot capacity-1 |
# header:  MAGIC | capacity | key_size | value_size | size | head | tail | hits | misses | evictions
# slot:    | prev i32 | next i32 | key length u16 | value length u16 | key (key_size) | value (value_size) |
# lock:    a System V semaphore set of 1 semaphore, value 1 = free
# ```
#
# `head` is the most recently used slot, `tail` the least; `NIL = -1` ends the list. Slots
# are used in order while `size < capacity`; then a new key takes the evicted tail's slot.
# The accessors `_header()`, `_set(**fields)`, `_entry(i)`, `_write_entry(...)`,
# `_set_links(i, prev, nxt)` and `_check(key, value)` are given: you write the logic.
#
# ## The API to implement
#
# | method | what it does | C calls behind it |
# | --- | --- | --- |
# | `LRUCache.create(capacity, key_size, value_size)` | the segment (header: size 0, head = tail = NIL) and the lock; `ValueError` for bad sizes | `shm_open(O_CREAT\|O_EXCL)`, `ftruncate`, `mmap`, `semget`, `semctl(SETALL)` |
# | `LRUCache.attach(handle)` | open both in another process | `shm_open`, `mmap` |
# | `locked(timeout)` | context manager: P with `SEM_UNDO` (`TimeoutError` after *timeout*), V with `SEM_UNDO` | `semtimedop`, `semop` |
# | `_find(key)`, `_unlink(i)`, `_push_front(i)` | the list: walk from head; take a slot out; put it at the head | — |
# | `get(key)` | the value (the key becomes most recent, `hits += 1`) or `None` (`misses += 1`) | — |
# | `put(key, value)` | store, most recent; returns the evicted key or `None` | — |
# | `keys()`, `stats()` | keys most recent first; `{size, capacity, hits, misses, evictions}` | — |
# | `close()` / `destroy()` | this process is done / remove everything | `munmap`, `shm_unlink`, `semctl(IPC_RMID)` |
#
# ## Hints
# - The reference model is `collections.OrderedDict`: `move_to_end(key)` on every get and
#   put, `popitem(last=False)` to evict. A cache whose `get()` does not move the key is FIFO.
# - **One** `with self.locked():` around the whole of `get` or `put`. Two processes
#   relinking the list at the same moment make a cycle or lose slots; a counter `+= 1`
#   outside the lock loses counts.
# - Store slot *indices*, never addresses: the segment is mapped at a different address in
#   each process.
# - `SEM_UNDO` on both the P and the V: the kernel records your adjustment and undoes it if
#   you die holding the lock. It cannot undo a half-done change to the list: keep the code
#   inside the lock short and never raise in the middle of it (`_check` runs before).

# %% [markdown]
# ## Your protocol, in words
# At the top of [`lab5_lrucache.py`](lab5_lrucache.py), fill in `PROTOCOL = """..."""`: which semaphore guards which part of the segment, the invariants of the linked list (what holds whenever the semaphore is 1), how every wait ends, and what a process killed inside a critical section leaves behind.
# The grade report shows it to your teacher as you wrote it (the grader reads it as text,
# it never runs it); the tests do not score it, your teacher may.

# %% [markdown]
# ## Try your cache
# One process first. The cell reloads your module, so run it again after each edit.

# %%
import importlib

import lab5_lrucache as lab

importlib.reload(lab)
try:
    cache = lab.LRUCache.create(capacity=3, key_size=8, value_size=16)
    try:
        for user in (b"ada", b"bob", b"cyd"):
            cache.put(user, b"profile of " + user)
        cache.get(b"ada")                         # ada becomes the most recent
        print("evicted:", cache.put(b"dan", b"profile of dan"))
        print("keys, most recent first:", cache.keys())
        print("stats:", cache.stats())
    finally:
        cache.destroy()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Hit rate against cache size
# An application reads 600 user profiles through your cache; a few users are asked for
# very often (a Zipf-like law), most rarely. On a miss it puts the profile in the cache.
# How big must the cache be for most reads to hit?

# %%
import matplotlib.pyplot as plt

from ipclab.tooling.grading.labtests import lab5 as tests

try:
    rows = tests.hit_rates(lab, capacities=(1, 2, 4, 8, 16, 32, 64), n_keys=64, n_ops=600, seed=7)
    for r in rows:
        print(f"capacity {r['capacity']:3d}: hit rate {r['hit_rate']:.0%}, evictions {r['evictions']}")
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot([r["capacity"] for r in rows], [r["hit_rate"] for r in rows], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("cache capacity (entries), 64 distinct keys")
    ax.set_ylabel("hit rate")
    ax.set_ylim(0, 1)
    plt.show()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# > **Try it.** With 64 keys and capacity 64, why is the hit rate not 100%? (Count the
# > first reads.) What would the curve look like if every key were equally likely?
#
# ## Check your work
# Each test runs in its own process with a timeout; a failure says what was expected
# (GOOD), what happened (BAD / MISSING) and gives a hint. `ipclab.check("lab5", "eviction")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab5")
