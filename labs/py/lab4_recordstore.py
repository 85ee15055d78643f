# %% [markdown]
# # Lab 4 (19.5): a fixed-record file store, updated in place by several processes
#
# **Goal.** Write a small database file: *count* records of a fixed size at fixed offsets,
# the whole file mapped `MAP_SHARED`, so any number of processes read and update records
# in place. Each record has its own **readers-writer lock**: any number of processes may
# read a record at once, a writer excludes them all. Two processes updating the **same**
# record must not lose an update; two processes working on **different** records must never
# wait for each other; a process that dies holding a lock must not block anybody; and after
# `flush()` the data is on the disk.
#
# **Concepts exercised** (notebook 05, section 7): `ftruncate` before `mmap`; `MAP_SHARED`
# vs `MAP_PRIVATE`; fixed-size records with `struct`; `fcntl` byte-range locks
# (`F_SETLK` on one record's bytes, polled until a deadline), shared (`F_RDLCK`) and
# exclusive (`F_WRLCK`); locked read-modify-write;
# `msync` (durability, not visibility); why the kernel releases a dead process's record locks.
#
# **Time:** about 75 minutes. **You edit:** [`lab4_recordstore.py`](lab4_recordstore.py).
# **Grading:** 12 points in the visible tests; hidden tests check your locks against a
# C-style `fcntl` lock and run more processes started with `spawn`. Your teacher also reads
# your `PROTOCOL` (below) and may give points for it.
#
# Notebook 05's `ipclab.mechanisms.records.RecordStore` is a cousin, not the answer: it has
# another file layout (a 64-byte header, another magic), one kind of lock only, and its
# plain `read()` takes no lock at all. The tests check the bytes of your file against the
# layout below and the kind of lock `read()` takes.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## The layout (a contract: a C program reads the same file)
#
# ```
# file:    | header (32 bytes) | record 0 | record 1 | ... | record count-1 |
# header:  MAGIC b"IPCLAB4\0" (8s) | record size u32 | count u32 | struct format (16s, NUL-padded)
# record i: bytes [HEADER.size + i*size, HEADER.size + (i+1)*size), packed with struct(format)
# lock of record i: an fcntl lock on exactly those bytes, shared (F_RDLCK) to read,
#                   exclusive (F_WRLCK) to write or update
# ```
#
# ## The API to implement
#
# | method | what it does | C calls behind it |
# | --- | --- | --- |
# | `Store.create(path, fmt, count)` | size the file, write the header, then `open()` it; `ValueError` for a bad count or format | `ftruncate`, `pwrite` |
# | `Store.open(path)` | check the header, map the whole file `MAP_SHARED`; `ValueError` if it is not a store | `open`, `pread`, `mmap(MAP_SHARED)` |
# | `offset(i)` | byte offset of record *i*; `IndexError` naming the range `0..count-1` | — |
# | `lock(i, timeout, shared=False)` | context manager: a lock on record *i*'s bytes only, exclusive or shared; `TimeoutError` after *timeout* | `fcntl(F_SETLK)` polled, then `F_UNLCK` |
# | `read(i)` | one record as a tuple, under a **shared** lock: other readers go on, a writer waits | — |
# | `write(i, values)` | replace one record, under an exclusive lock | — |
# | `update(i, change)` | read, `change(old)`, write, all under **one** hold of the lock; returns the new tuple | — |
# | `flush()` | write the dirty pages back to the disk and wait (durability across a crash or power cut; other processes and `read()` see your writes without it) | `msync(MS_SYNC)` |
# | `close()` | unmap, close the descriptor (drops this process's locks) | `munmap`, `close` |
#
# ## Hints
# - `fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)` raises
#   `BlockingIOError` (or `PermissionError`) while another process holds an overlapping
#   lock: try, sleep `POLL`, try again until the deadline. **`length=0` means "to the end of
#   the file"**: that locks every later record too.
# - fcntl locks belong to the *process*: a second `lock(i)` in the same process succeeds at
#   once, so the tests use other processes. Closing *any* descriptor of the file drops all
#   your locks on it: keep `self.fd` open, and do not `open()`/`close()` the file in `read()`.
# - `fcntl.LOCK_SH` is a read lock (`F_RDLCK`): it conflicts only with a write lock. To
#   read, `lockf` needs a descriptor opened for reading; to write-lock, one opened for
#   writing (`O_RDWR` does both).
# - `mmap.mmap(fd, size)` is `MAP_SHARED` by default; `access=mmap.ACCESS_COPY` is
#   `MAP_PRIVATE`, whose writes never reach the file.
# - Grow the file **before** mapping it: touching a mapped page past the end of the file
#   is a `SIGBUS`.

# %% [markdown]
# ## Your protocol, in words
# At the top of `lab4_recordstore.py`, fill in `PROTOCOL = """..."""`: what is shared,
# which lock guards what (and whether it is shared or exclusive), the invariants that hold
# whenever no process holds a record's lock, how every wait ends, and what a process that
# dies holding a lock leaves behind. The grade report shows it to your teacher as you wrote
# it (the grader reads it as text: it never runs it); the tests do not score it.
#
# ## Try your store
# One process first. The cell reloads your module, so run it again after each edit.
#
# The plain `read()` below would see record 2 even without `flush()`: a `MAP_SHARED` store
# lands in the page cache, which *is* the file for every reader (notebook 05, sections 2
# and 4). `flush()` (`msync(MS_SYNC)`) is about the disk: it returns once the dirty pages
# are written back, so the record survives a power cut or a kernel crash, not only the death
# of your process.

# %%
import importlib

import lab4_recordstore as lab

from ipclab import objects

importlib.reload(lab)
try:
    with objects.course_file(tag="lab4-try") as path:  # a fresh 0600 file, removed at the end of the cell
        store = lab.Store.create(path, "<q12s", 4)      # a counter and a 12-byte label per record
        try:
            store.write(2, (41, b"answer"))
            print("updated:", store.update(2, lambda rec: (rec[0] + 1, rec[1])))
            store.flush()
            with open(path, "rb") as f:                 # plain read(): what is in the file now?
                data = f.read()
            print("file bytes of record 2:", data[store.offset(2):store.offset(2) + store.record.size])
        finally:
            store.close()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Watch it with real processes
# Four processes (`fork`) each add 1 forty times to a record chosen at random among three.
# Each process counts what it added; the bars compare the sum of those counts with the
# counters in the file. With a correct `update()` the two bars of each record are equal.

# %%
import matplotlib.pyplot as plt

from ipclab.tooling.grading.labtests import lab4 as tests

try:
    done, got = tests.demo(lab, seed=7)
    want = [sum(d[i] for d in done) for i in range(len(got))]
    print("expected:", want, " in the file:", got, " lost updates:", "yes" if want != got else "no")
    fig, ax = plt.subplots(figsize=(6, 2.5))
    xs = range(len(got))
    ax.bar([x - 0.2 for x in xs], want, width=0.4, label="increments done")
    ax.bar([x + 0.2 for x in xs], got, width=0.4, label="counter in the file")
    ax.set_xticks(list(xs), [f"record {x}" for x in xs])
    ax.legend(loc="lower right")
    plt.show()
except NotImplementedError as e:
    print("not written yet:", e)
except Exception as e:  # a worker failed: the message says which and why
    print(f"{type(e).__name__}: {e}"[:600])

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; a failure says what was expected
# (GOOD), what happened (BAD / MISSING) and gives a hint. `ipclab.check("lab4", "killed")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab4")
