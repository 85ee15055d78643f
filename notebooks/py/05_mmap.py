# %% [markdown]
# # 19.5 Memory-mapped files: mappings, sharing, lazy loading, performance
#
# `read()` copies a file into your buffer. `mmap()` does something else: it asks the kernel
# to make the file *appear* in your address space, so that `p[i]` **is** byte `i` of the
# file. No copy, no system call per access; the kernel brings pages in when you first touch
# them and writes them back when they change. Several processes mapping the same file share
# the same physical pages: a mapped file is shared memory with a name on disk.
#
# **Learning goals.** After this notebook you can
# 1. map a file (offsets, page alignment, length; grow it first), say what `mmap()`,
#    `munmap()` and `msync()` do, and avoid the pitfalls (`SIGBUS` after a file shrinks or
#    past its end, resizing);
# 2. predict, for two real processes, who sees whose writes under `MAP_SHARED` and
#    `MAP_PRIVATE`, show copy-on-write in `/proc/self/smaps`, and say why an anonymous
#    shared mapping reaches `fork` children but not `spawn` ones;
# 3. measure lazy loading: minor and major page faults and resident memory as pages are
#    touched, and the effect of `madvise` hints;
# 4. say what survives a killed process and what needs `msync`/`fsync`;
# 5. compare `read()` and `mmap` for sequential and random access, and build the chapter's
#    applications (a record file updated in place under `fcntl` locks, an image through
#    `numpy.memmap`, a file as IPC).
#
# **Time:** about 39 min of reading and running, measured: reading about 38 min
# (5,700 words of text and code, counted in this notebook's source, at 150 words a
# minute), running at most about 1 min (every cell executed with nbclient: 11 to 64 s in our
# builds, depending on the machine's load; the last cell prints this build's time).
# The Try-it prompts, the break-it step and the
# exercises come on top. **Prerequisites:** 19.1 (POSIX shared memory:
# `shm_open` + `mmap`), file descriptors, `fork()`. Every prompt has an answer in
# [`answers/05_mmap_answers.ipynb`](answers/05_mmap_answers.ipynb).
#
# **How to read the code.** Each Python call that makes a system call says which one in a
# `# C:` comment, the first time it appears. Helpers live in
# [`ipclab/mechanisms/mapping.py`](../ipclab/mechanisms/mapping.py) (mapping a file),
# [`page_stats.py`](../ipclab/mechanisms/page_stats.py) (faults, `smaps`, the page cache) and
# [`records.py`](../ipclab/mechanisms/records.py) (a record file under `fcntl` locks), the experiments and worker processes in
# [`ipclab/experiments/mmap_demos.py`](../ipclab/experiments/mmap_demos.py): child processes started with *spawn*
# must be able to import them. Every file is a course file (`objects.course_file`): unique
# name, mode 0600, removed at the end of its cell even if the cell fails.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import mmap
import os

import numpy as np

from ipclab import doctor, mapping, objects, procs
from ipclab.core import waiting
from ipclab.mechanisms import page_stats, records
from ipclab import mmap_demos as demo
from ipclab.core.errors import BadArgument, NotSupported, WaitTimeout
from ipclab.mechanisms.mapping import PAGE
from ipclab.experiments import random_reads
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show
from ipclab.presentation.plots import mapping as plots, style
import time

T0 = time.monotonic()
doctor.setup_notebook("platform", "start_methods")
ccell.load()  # registers %%worker: a cell that becomes an importable module (fork, forkserver, spawn)
print("page size:", PAGE, "bytes; mmap offsets must be multiples of", mapping.GRANULARITY)

# %% [markdown]
# ## 1. Mapping a file
#
# In C the whole story is four calls:
#
# ```c
# int fd = open("data.bin", O_RDWR);
# ftruncate(fd, 3 * 4096);                       // the file must be long enough
# char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
# close(fd);                                     // the mapping keeps the file open
# p[10] = 'X';                                   // a store instruction, not a write()
# msync(p, 3 * 4096, MS_SYNC);                   // optional: write dirty pages back now
# munmap(p, 3 * 4096);                           // the range is no longer valid
# ```
#
# Python's `mmap.mmap(fd, length, access=..., offset=...)` is that `mmap()` call; `close()`
# is `munmap()` and `flush()` is `msync()`. `ipclab.mechanisms.mapping.mapped` wraps open + mmap +
# munmap in a `with` block and checks what the kernel would otherwise punish later.
#
# A new file is empty, and an empty file has nothing to map:

# %%
with objects.course_file(0, tag="first") as path:  # C: open(path, O_CREAT|O_EXCL|O_RDWR, 0600)
    try:
        with mapping.mapped(path):
            pass
    except BadArgument as e:
        print("mapping an empty file:", str(e).split(":")[0].replace(path, "<file>"))
    mapping.grow(path, 3 * PAGE)  # C: ftruncate(fd, 3 * 4096): three pages of zeros, no disk used yet
    with mapping.mapped(path, access="shared") as mm:  # C: mmap(NULL, 0 -> whole file, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
        mm[10:15] = b"hello"          # a memory store: no write() system call
        print("mapping length:", len(mm), "bytes =", len(mm) // PAGE, "pages")
    with open(path, "rb") as f:       # read the file the ordinary way
        f.seek(10)
        print("the file now holds:", f.read(5))

# %% [markdown]
# Two rules come from the hardware: a mapping is made of whole **pages**, so the **offset**
# into the file must be a multiple of the page size (else `EINVAL`), and the **length**
# should not go past the end of the file (section 8 shows what happens if it does). To see
# bytes 5000..5099 you map from offset 4096 and skip 904 bytes; `mapped_range` does that
# arithmetic for you.

# %%
with objects.course_file(4 * PAGE, tag="offsets") as path:
    with open(path, "r+b") as f:
        f.seek(5000)
        f.write(b"bytes at 5000")
    try:
        with mapping.mapped(path, length=100, offset=5000):
            pass
    except BadArgument as e:
        print("offset 5000:", str(e).split(" (")[0])
    print("nearest legal offset below 5000:", mapping.align_down(5000))
    with mapping.mapped_range(path, 5000, 13) as view:  # mmap(..., offset=4096) + a view 904 bytes in
        print("mapped_range(5000, 13):", bytes(view))
    with mapping.mapped(path, access="read") as mm:
        print("seen in /proc/self/maps:", page_stats.smaps(path)["mappings"], "mapping of this file,",
              page_stats.smaps(path)["Size"], "KiB")

# %% [markdown]
# > **Try it.** In a terminal, `cat /proc/PID/maps` of this kernel (`os.getpid()`) while a
# > `with mapping.mapped(...)` block sleeps: the file's path appears next to an address
# > range of exactly `len(mm)` rounded up to pages.
# > [answer](answers/05_mmap_answers.ipynb#try-it-1)
#
# ## 2. `MAP_SHARED` versus `MAP_PRIVATE`, across two processes
#
# | Python | C flags | a write goes to |
# | --- | --- | --- |
# | `access=mmap.ACCESS_WRITE` (`"shared"`) | `MAP_SHARED` | the page cache: the file and every other mapping of it |
# | `access=mmap.ACCESS_COPY` (`"private"`) | `MAP_PRIVATE` | a private copy of the page, made at the first write (**copy-on-write**) |
# | `access=mmap.ACCESS_READ` (`"read"`) | `MAP_SHARED`, `PROT_READ` | nowhere: writing raises `TypeError` |
#
# The experiment: the parent maps a file and reads its first page; a **child process**
# (spawn: a fresh interpreter that knows only the path) maps the same file and writes
# `CHILD WAS HERE` at offset 0. Then the parent looks at its own mapping and at the file.
# The parent's mapping is shared, private, or private *and already written by the
# parent* (its page is then a private copy).
#
# The child runs this worker (the marked lines: the mapping and the store):

# %%
show(demo.map_and_write, mark=["mapping.mapped(path, access=access)", "mm[offset:offset + len(data)] = data"])

# %% [markdown]
# and the parent this loop, once per pair of mappings (marked: the parent maps first and
# touches its page, starts the child, then looks at its own mapping and at the file):

# %%
show(demo.sharing, mark=["with mapping.mapped(path, access=reader", "mm[len(MARK)] = ord(\"p\")",
                         "procs.run(map_and_write", "\"reader_sees\":", "\"file_has\":"])

# %% [markdown]
# **Predict.** Six runs: the child maps `MAP_SHARED` or `MAP_PRIVATE`; the parent maps
# shared, private (only read), or private and already written. For each of the six, does
# the parent see `CHILD WAS HERE` in its own mapping, and does it reach the file? Write
# down your table of yes/no first.

# %%
rows = demo.sharing(start_method="spawn", timeout=60)
print("ran", len(rows), "child processes, one per pair of mappings")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
print(f"{'child maps':<10} {'parent maps':<18} {'parent sees it':<15} {'reached the file'}")
for r in rows:
    print(f"{r['writer']:<10} {r['reader']:<18} {'yes' if r['reader_sees'] else 'no':<15} "
          f"{'yes' if r['file_has'] else 'no'}")
print("the child always saw its own write:", "yes" if all(r["child_sees_own_write"] for r in rows) else "no")
print("MAP_PRIVATE write reached the file:", "yes" if any(r["file_has"] for r in rows if r["writer"] == "private") else "no")

# %% [markdown]
# Read the table row by row:
#
# * a `MAP_SHARED` write lands in the page cache, which *is* the file: every shared mapping
#   and every later `read()` sees it;
# * a `MAP_PRIVATE` write never leaves the writer. Not the file, not anyone else;
# * the surprise: a `MAP_PRIVATE` mapping that has **only read** a page still sees other
#   processes' changes, because until you write it, your "private" page is the page
#   cache's page. POSIX leaves this unspecified; Linux does it. Once you write the page you
#   get your own copy and stop seeing the file.
#
# ### Copy-on-write made visible
#
# `/proc/self/smaps` has a block per mapping with counters in KiB. For a `MAP_PRIVATE`
# mapping, `Anonymous` counts the pages that were copied because we wrote them: they no
# longer belong to the file.

# %%
cow = demo.copy_on_write(npages=16, written=3)
for when in ("before", "after"):
    s = cow[when]
    print(f"{when:>6} writing {cow['written']} pages: Rss {s['Rss']} KiB, "
          f"Anonymous {s['Anonymous']} KiB, Private_Dirty {s['Private_Dirty']} KiB")
copied = cow["after"]["Anonymous"] * 1024 // PAGE
print(f"copied pages: {copied}; one per page written ({cow['written']}):", "yes" if copied == cow["written"] else "no")
print("the writer sees its write:", "yes" if cow["sees_own_write"] else "no",
      "| the file changed:", "yes" if cow["file_changed"] else "no")

# %% [markdown]
# This is the same mechanism that makes `fork()` cheap: parent and child share every page
# until one of them writes, then only that page is copied.
#
# > **Try it.** Change `written=3` to `written=16`. How many KiB are `Anonymous` now, and
# > what happened to `Private_Clean`? [answer](answers/05_mmap_answers.ipynb#try-it-2)
#
# ## 3. Lazy loading, measured
#
# `mmap()` reads nothing. The kernel records "addresses X..Y are this file" and returns.
# The first access to a page traps into the kernel (a **page fault**), which finds the page
# and installs it:
#
# * a **minor** fault: the page was already in memory (the page cache), only the page
#   table entry was missing;
# * a **major** fault: the page had to be read from the disk, and the process waited.
#
# The counters are per process: `resource.getrusage(RUSAGE_SELF)` (`ru_minflt`,
# `ru_majflt`; fields 10 and 12 of `/proc/self/stat`). Resident memory is the mapping's
# `Rss` in smaps. To see major faults the file must *not* be in the page cache: we `fsync`
# it and ask the kernel to drop it with `posix_fadvise(POSIX_FADV_DONTNEED)`, and check
# with `mincore()` (what the `fincore` tool uses). On tmpfs (`/dev/shm`, some `/tmp`) the
# page cache *is* the file: nothing can be dropped and major faults stay at zero.
#
# Each profile runs in a fresh child process, so the faults it counts are its own.

# %%
# NBVAL_IGNORE_OUTPUT
SIZE = 32 << 20  # 32 MiB = 8192 pages
COUNTS = [0, 256, 1024, 2048, 4096, 6144, 8192]
with objects.course_file(SIZE, tag="lazy") as path:
    demo.make_data_file(path, SIZE)
    print("pages in the page cache after writing:  %d of %d" % page_stats.cached_pages(path))
    print("after fsync + POSIX_FADV_DONTNEED:      %d" % page_stats.drop_cache(path))
    print("read-ahead window of this file's disk (read_ahead_kb):", random_reads.read_ahead_kb(path), "KiB")
    try:
        print("file system:", page_stats.require_real_disk(path))
    except NotSupported as e:
        print("NOTE:", e)
    profiles = {
        "cold, no advice": demo.lazy_loading(path, COUNTS, advice=None, cold=True, start_method="spawn"),
        "cold, MADV_RANDOM": demo.lazy_loading(path, COUNTS, advice="random", cold=True, start_method="spawn"),
        "cold, MADV_WILLNEED": demo.lazy_loading(path, COUNTS, advice="willneed", cold=True, start_method="spawn"),
        "warm (all cached)": demo.lazy_loading(path, COUNTS, advice=None, cold=False, start_method="spawn"),
    }
for label, rows in profiles.items():
    print(f"\n{label}:  pages touched -> minor / major faults, Rss")
    for r in rows:
        print(f"  {r['pages']:5d} -> {r['minor']:5d} / {r['major']:5d}, {r['rss_kib']:6d} KiB"
              f"   (pages cached before: {r['cached_before']})")
fig = plots.faults(profiles)
style.show(fig)
last = {label: rows[-1] for label, rows in profiles.items()}
print(f"touching all {last['cold, no advice']['pages']} pages, major faults: "
      + ", ".join(f"{label} {r['major']}" for label, r in last.items()))
none, willneed = last["cold, no advice"]["major"], last["cold, MADV_WILLNEED"]["major"]
print(f"cold, no advice: major faults for {none / last['cold, no advice']['pages']:.2%} of the pages touched")
print("MADV_WILLNEED against no advice:", "fewer major faults" if willneed < none else
      "as many major faults" if willneed == none else "more major faults")
print("pages per minor fault: " + ", ".join(f"{label} {r['pages'] / r['minor']:.1f}"
                                            for label, r in last.items() if r["minor"]))

# %% [markdown]
# What the numbers say (the lines under the figure count the major faults of this run;
# yours may differ in the counts, not in the shape):
#
# * **No advice, cold**: few major faults for many pages (the second line gives the
#   share), the rest minor. A major fault on a
#   file mapping does not read just the missing page: the kernel reads a window *around*
#   it (**read-around**, `do_sync_mmap_readahead` in
#   [mm/filemap.c](https://github.com/torvalds/linux/blob/master/mm/filemap.c): "mmap
#   read-around", a window of `read_ahead_kb`, printed above), and touching a page marked in
#   that window starts the next window in the background (asynchronous read-ahead). Those
#   pages are then in the page cache, and the faults that map them are minor.
# * There are many times fewer minor faults than pages (the last line: 16 pages per fault
#   if every fault mapped a full 64 KiB): on a fault the kernel also maps
#   the neighbouring pages that are already cached (**fault-around**, `fault_around_bytes` =
#   64 KiB by default in [mm/memory.c](https://github.com/torvalds/linux/blob/master/mm/memory.c)),
#   which is also why `Rss` grows in 64 KiB steps.
# * **`MADV_RANDOM`**, cold: read-around is off (`VM_RAND_READ`), so *every* page touched is
#   a disk read: one major fault per page. Right for a hash index, terrible for a scan.
# * **`MADV_WILLNEED`**: "Expect access in the near future. (Hence, it might be a good idea
#   to read some pages ahead.)" ([madvise(2)](https://man7.org/linux/man-pages/man2/madvise.2.html)).
#   Pages already cached when they are touched cost minor faults; a major fault means a
#   page touched before the read-ahead had brought it in. Read-around already keeps the
#   no-advice run's major faults few, so the advice has little to remove: the third line
#   compares the two runs.
# * **Warm**: no major faults at all. If your cold run also shows zero major faults, the
#   file was still cached (tmpfs, or the drop did not take: see "pages cached before").
#   Cold-no-advice, `WILLNEED` and warm need about the same number of minor faults: once
#   the pages are cached, mapping them costs the same.
#
# The bars use a symmetric-log axis (linear from 0 to 1, logarithmic above) because the
# counts span 0 to 8192; each bar is labelled with its exact count.
#
# The facts that never change: touching more pages never costs fewer faults, and every
# page touched is resident afterwards.

# %%
for label, rows in profiles.items():
    total = [r["minor"] + r["major"] for r in rows]
    grows = all(a <= b for a, b in zip(total, total[1:]))
    resident = all(r["rss_kib"] >= r["pages"] * PAGE // 1024 for r in rows)
    print(f"{label:<20} faults never decrease: {'yes' if grows else 'no'}; "
          f"touched pages resident: {'yes' if resident else 'no'}; "
          f"Rss with 0 pages touched: {rows[0]['rss_kib']} KiB")

# %% [markdown]
# > **Try it.** Add a profile with `advice="sequential"` (`MADV_SEQUENTIAL`: aggressive
# > read-ahead, pages dropped soon after use). Then run `demo.lazy_loading` with
# > `COUNTS` in steps of 16 pages around 0..128 and watch the 64 KiB fault-around steps.
# > [answer](answers/05_mmap_answers.ipynb#try-it-3)
#
# ## 4. Durability: `flush()`, `msync`, and a killed process
#
# After `mm[i] = x` the page is **dirty**: changed in memory, not yet on disk. The kernel
# writes dirty pages back on its own schedule (about 30 s); `mm.flush()` (C:
# `msync(p, len, MS_SYNC)`) writes them back *now* and waits.

# %%
d = demo.dirty_then_flush(npages=8)
print("dirty pages before flush():", "yes" if d["dirty_kib_before"] else "no")
print("dirty KiB after flush():", d["dirty_kib_after"])

# %% [markdown]
# What if the process dies before anything is flushed? A child writes the same bytes three
# ways, without flushing anything, then kills itself with `SIGKILL` (no cleanup, no
# `atexit`): into a `MAP_SHARED` mapping, into a `MAP_PRIVATE` mapping, and with Python's
# buffered `file.write()`. This is the child, whole:

# %%
show(demo.write_then_die, mark=["mmap.ACCESS_WRITE", "shared[:len(data)] = data", "private[:len(data)] = data",
                                "f.write(data)", "os.kill(os.getpid(), signal.SIGKILL)"])

# %% [markdown]
# **Predict.** After the `SIGKILL`, which of the three files holds `written before
# SIGKILL`? Nobody called `flush()`, `msync()` or `fsync()`.

# %%
k = demo.survives_kill(start_method="spawn", timeout=60)
print("child killed by:", k["killed_by"])

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
for way in ("MAP_SHARED", "MAP_PRIVATE", "buffered write()"):
    print(f"  {way:<17} survived the kill: {'yes' if k[way] else 'no'}")

# %% [markdown]
# * `MAP_SHARED`: the bytes were in the **kernel's** page cache the moment they were
#   stored. Killing the process does not touch the page cache: they survive, and will
#   reach the disk.
# * `MAP_PRIVATE`: the copy belonged to the process and died with it.
# * buffered `write()`: the bytes were still in a buffer inside the process (Python's, or
#   `stdio`'s in C), never handed to the kernel.
#
# Surviving a **killed process** is not surviving a **power cut or kernel crash**: dirty
# pages still in memory are lost then. For that you need `msync(MS_SYNC)` (`flush()`) for
# the mapped data, `fsync(fd)` for the file's size and metadata (after `ftruncate`), and an
# `fsync` of the directory after creating or renaming the file.
#
# **`msync` is about durability, not visibility.** Another process never needs it to see
# the data: a `MAP_SHARED` store is in the page cache at once, and every other mapping and
# every `read()` of the file sees it (section 2 showed it: the child never flushed). What
# `msync(2)` does is write the dirty pages back to the file's storage ("flushes changes made
# to the in-core copy of a file ... back to the filesystem"); `mmap(2)` says the same: a
# `MAP_SHARED` update is visible to the other processes that map the region, and "to
# precisely control when updates are carried through to the underlying file requires the
# use of msync(2)". `tests/test_truth_03_06.py` checks both halves: another process reads a
# mapped write while its pages are still dirty.
#
# How real databases use this, from their sources:
# * **LMDB** maps its file read-only by default and writes with `pwrite`/`pwritev`
#   (`mdb_page_flush` in [libraries/liblmdb/mdb.c](https://github.com/LMDB/lmdb/blob/mdb.master/libraries/liblmdb/mdb.c))
#   then calls `fdatasync` at commit (`mdb_env_sync`). Only with the `MDB_WRITEMAP` flag does it
#   write through the mapping and call `msync` instead; its documentation warns that
#   `MDB_WRITEMAP` "loses protection from application bugs like wild pointer writes"
#   ([lmdb.h](https://github.com/LMDB/lmdb/blob/mdb.master/libraries/liblmdb/lmdb.h)).
# * **Redis** (the chapter says Redis uses `mmap` for its RDB snapshots; in fact its
#   `rdbSave` writes the snapshot with buffered `fwrite` into a temporary file, `fsync`s and
#   `rename`s it, from a `fork`ed child that sees a copy-on-write snapshot of the data:
#   `rdbSaveBackground` in [src/rdb.c](https://github.com/redis/redis/blob/unstable/src/rdb.c)).
#   The copy-on-write of section 2 is what makes the snapshot cheap, not a mapping of the file.
#
# The chapter also lists "persistence automatique" among mmap's advantages. In fact a
# `MAP_SHARED` mapping gives you persistence only on the kernel's schedule; durability at a
# point you choose needs `msync` (and `fsync` for metadata), as above.
#
# ### Break it yourself: the writer in your hands
#
# Here is the same killed writer, written in this cell (`%%worker` makes the cell a module
# that a spawned child can import). As committed it maps `MAP_SHARED`, stores, **never
# calls `msync`**, and is killed. Break it in one of these ways, predict, run the next cell,
# then put it back:
#
# * change `ACCESS` to `mmap.ACCESS_COPY` (`MAP_PRIVATE` instead of `MAP_SHARED`);
# * add `mm.flush()` (`msync`) before the kill: does it change what survives a *killed
#   process*? (What would it change for a power cut?)
# * replace the store by a buffered write: `open(path, "r+b").write(data)` (no flush).

# %%
# %%worker mm_killed
"""A writer that stores into a mapping of *path* and is killed before any msync."""
import faulthandler
import mmap
import os
import signal

ACCESS = mmap.ACCESS_WRITE   # MAP_SHARED. Break it: mmap.ACCESS_COPY (MAP_PRIVATE)


def write_and_die(path, data):
    faulthandler.disable()                        # no traceback on stderr when the signal comes
    with open(path, "r+b") as f:                  # C: fd = open(path, O_RDWR)
        mm = mmap.mmap(f.fileno(), 0, access=ACCESS)  # C: p = mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    mm[:len(data)] = data                         # C: memcpy(p, data, len): a store, no write(), no msync()
    os.kill(os.getpid(), signal.SIGKILL)          # C: kill(getpid(), SIGKILL): no cleanup at all

# %%
from ipclab.core.errors import ChildError
with objects.course_file(PAGE, tag="killed") as path:   # C: open(path, O_CREAT|O_EXCL|O_RDWR, 0600) + ftruncate
    try:
        procs.run(mm_killed.write_and_die, [(path, b"still here?")], start_method="spawn", timeout=60)
        print("the writer ended normally (did you remove the kill?)")
    except ChildError as e:
        print("the writer was killed:", "yes" if e.exitcode == -9 else f"no ({e.exitcode})")
    with open(path, "rb") as f:                            # C: read(): what the kernel has for this file
        print("the file holds the writer's bytes after its death:", "yes" if f.read(11) == b"still here?" else "no")
#
# ## 5. Anonymous shared mappings between a parent and its children
#
# `mmap(NULL, n, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)` maps memory with
# no file behind it (Python: `mmap.mmap(-1, n, flags=mmap.MAP_SHARED|mmap.MAP_ANONYMOUS)`).
# It has no name, so the only way another process can reach it is to **inherit** it:
# `fork()` copies the address space, and a `MAP_SHARED` area stays shared in the child.
# Three children each write 100+i into slot i; each child runs:

# %%
show(demo.put_slot, mark=["struct.pack_into"])

# %%
for flags in ("shared", "private"):
    r = demo.anonymous(flags, nchildren=3, start_method="fork", timeout=30)
    print(f"MAP_{flags.upper()}|MAP_ANONYMOUS, fork: children wrote {r['children_saw']}, "
          f"parent reads {r['parent_sees']}")
r = demo.anonymous("shared", nchildren=3, start_method="spawn", timeout=30)
print("same with spawn:", r["error"])

# %% [markdown]
# Under *spawn* the child is a **new program**: `exec` replaced its address space. Under
# *forkserver* (Python 3.14's Linux default) the child *is* forked, but from the fork
# server, a fresh process started (with `exec`) before the mapping existed, not from this
# notebook; so it has no mapping either. In both cases the arguments travel pickled through
# a pipe, and a mapping is an address range, not a value: it cannot be pickled. To share memory
# with spawn children, give it a name (`shm_open`, 19.1, or a file as here) or pass a file
# descriptor (`memfd_create` + `SCM_RIGHTS`) and map it on the other side.
#
# ## 6. Performance: `read()` versus `mmap`
#
# Both read the same 32 MiB file, on a disk (not tmpfs), in a fresh child process so that
# the fault and I/O counters are the run's own:
#
# * **sequentially**: sum every byte (`read()` 1 MiB at a time into a reused buffer, or
#   numpy over a mapping);
# * **randomly**: 4000 reads of 64 bytes at random offsets, by `os.pread`, by slicing a
#   mapping made **fresh** for the run (map, read, unmap, as a program that maps per request
#   does), and by slicing a mapping **reused** (mapped and faulted in once, before any
#   timing, as a long-lived mapping is). Cold, a third mapping gets `MADV_RANDOM`: the
#   control that shows *why* the mapping wins cold.
#
# Each case runs with a cold page cache (dropped first) and warm; the fastest of three runs
# is kept (the slower ones met other load on this shared machine). Next to each time: the
# minor and major faults of that run and the bytes it made the kernel read from the disk
# (`read_bytes` in `/proc/self/io`).

# %%
# NBVAL_IGNORE_OUTPUT
with objects.course_file(SIZE, tag="bench") as path:
    demo.make_data_file(path, SIZE)
    rnd = random_reads.random_reads_in_child(path, nrandom=4000, record=64, repeats=3, start_method="spawn")
    seq = random_reads.sequential(path, repeats=3)
print(f"{rnd['nrandom']} random reads touch {rnd['distinct_pages']} distinct pages of {rnd['file_pages']}; "
      f"read_ahead_kb = {rnd['read_ahead_kb']}")
for r in seq + rnd["rows"]:
    io = "?" if r["read_bytes"] is None else f"{r['read_bytes'] / 2**20:5.1f}"
    print(f"{r['cache']:<4} {r['method']:<30} {r['seconds'] * 1e3:8.2f} ms  faults {r['minor']:5d} minor "
          f"{r['major']:5d} major  {io} MiB from disk")
t = {(r["cache"], r["method"]): r for r in rnd["rows"]}
ratio = lambda a, b: t[a]["seconds"] / t[b]["seconds"]  # noqa: E731
print(f"warm: fresh mapping / pread = {ratio(('warm', 'mmap, fresh mapping per run'), ('warm', 'pread()')):.2f}, "
      f"reused mapping / pread = {ratio(('warm', 'mmap, mapping reused'), ('warm', 'pread()')):.2f}")
print(f"cold: mapping (read-around) / pread = {ratio(('cold', 'mmap, read-around (default)'), ('cold', 'pread()')):.2f}, "
      f"mapping + MADV_RANDOM / pread = {ratio(('cold', 'mmap + MADV_RANDOM'), ('cold', 'pread()')):.2f}")
fig = plots.read_vs_mmap(seq, rnd["rows"])
style.show(fig)

# %% [markdown]
# Verdicts that do not depend on the timings (what the kernel counted):

# %%
both = seq + rnd["rows"]
print("every method read the same bytes:",
      "yes" if all(len({r["checksum"] for r in rows}) == 1 for rows in (seq, rnd["rows"])) else "no")
print("warm, the reused mapping made no page fault and the fresh one faulted on every run:",
      "yes" if t[("warm", "mmap, mapping reused")]["minor"] == 0 < t[("warm", "mmap, fresh mapping per run")]["minor"]
      else "no")
if all(r["read_bytes"] is not None for r in rnd["rows"]) and t[("cold", "pread()")]["read_bytes"] > 0:
    around, rand = t[("cold", "mmap, read-around (default)")], t[("cold", "mmap + MADV_RANDOM")]
    print("cold, with read-around far fewer major faults than pages touched:",
          "yes" if around["major"] * 10 < rnd["distinct_pages"] else "no")
    print("cold, with MADV_RANDOM at least one major fault per page touched:",
          "yes" if rand["major"] >= rnd["distinct_pages"] else "no")
else:
    print("cold, with read-around far fewer major faults than pages touched: not measurable here (tmpfs or no /proc/self/io)")
    print("cold, with MADV_RANDOM at least one major fault per page touched: not measurable here (tmpfs or no /proc/self/io)")

# %% [markdown]
# How to read it (ratios and counts, never absolute times: this machine is shared):
#
# * **Warm, random small reads.** `pread` pays a system call and a copy per 64 bytes. A
#   mapping made fresh for the run pays `mmap` + `munmap` and a minor fault per 64 KiB
#   (fault-around) before its loads cost nothing; a **reused** mapping pays only the loads:
#   it is the clear winner here, and the reason long-lived mappings exist. Whether the fresh
#   mapping beats `pread` depends on how many reads share each 64 KiB window: with fewer
#   reads per file it loses (the old version of this notebook timed only the fresh mapping
#   and found a tie).
# * **Cold, random small reads.** The mapping wins, but not because loads are cheaper than
#   system calls: the disk dominates. A major fault on a mapping reads a whole window around
#   the missing page (read-around, then asynchronous read-ahead from the window's marker), so
#   a few major faults bring in the whole file in large requests, and the remaining accesses
#   are minor faults. A random `pread` of 64 bytes is, for the kernel, a "standalone, small
#   random read", read "as is" without read-ahead (`page_cache_sync_ra` in
#   [mm/readahead.c](https://github.com/torvalds/linux/blob/master/mm/readahead.c)): one small
#   read of the disk per page missed, thousands of waits. The control proves it: the same
#   mapping with `MADV_RANDOM` (read-around off) takes one major fault per page and is as
#   slow as `pread`, or slower. On a file much larger than RAM, read-around reads data that
#   is never used and evicts data that is: then `MADV_RANDOM` (or `pread`) is the right call.
# * **Sequential scans** are close. `read()` into a reused buffer is already efficient
#   (read-ahead serves both); `mmap` saves the copy into the buffer but pays a minor fault
#   every 16 pages plus setting up and tearing down the page tables. Either can win, by a
#   modest factor.
# * `mmap` does *not* help when the file is read once, when the file is on a network file
#   system, when the file can change size under you (section 8), or when errors must be
#   handled: a disk error on a mapping is a `SIGBUS`, on `read()` it is `-1` and `errno`.
# * It helps when the mapping is **kept and reused**, when access is random over a file that
#   fits in memory, when the data is shared between processes, or when it is bigger than you
#   want to copy (the page cache holds one copy for everybody).
#
# > **Try it.** Run the random case with `nrandom=400`: the fresh mapping still faults once
# > per 64 KiB window it touches, now for ten times fewer reads. Compare it with `pread`
# > again. [answer](answers/05_mmap_answers.ipynb#try-it-4)
#
# ## 7. Applications
#
# ### A file of fixed-size records, updated in place by several processes
#
# A database stores fixed-size records at known offsets: record *i* lives at
# `header + i * size`. `records.RecordStore` maps such a file `MAP_SHARED`; `update(i, f)`
# is a read-modify-write of one record, like `counter++` in 19.1. To update it from several
# processes safely, the store can take a **record lock**: `fcntl(fd, F_SETLK)` on the byte
# range of that record only (Python: `fcntl.lockf`), so processes updating different
# records never wait for each other. `file_lock` polls the non-blocking form until a
# deadline: no call waits for ever.
#
# Four processes (spawn), two per record, each add 1 thirty times. They start together
# (a barrier, itself a one-record store), and without the lock we widen the race window
# by sleeping 0.5 ms between read and write. Each worker runs `demo.bump`:

# %%
show(demo.bump, mark=["store.update(index"])

# %% [markdown]
# and every `update` is this read-modify-write of one record, under the lock on its bytes
# only when `locked` is true (`self.lock(i, ...)` is `fcntl(fd, F_SETLK)` on that record's
# range, polled until a deadline):

# %%
show(records.RecordStore.update, mark=["self.lock(i, timeout) if locked", "self.record.unpack_from",
                                       "time.sleep(window)", "self.record.pack_into"])

# %% [markdown]
# **Predict.** Without the lock and with the lock, will any of the 120 additions be lost?
# Two workers share each record.

# %%
runs = {locked: demo.concurrent_updates(nworkers=4, times=30, records=2, locked=locked,
                                        start_method="spawn", timeout=90) for locked in (False, True)}
print("ran 4 workers twice: without and with the record lock")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
for locked, r in runs.items():
    print(f"with the record lock: {'yes' if locked else 'no '} -> lost updates: "
          f"{'yes' if r['lost'] else 'no'}" + (f" (counters {r['final']}, expected {r['expected']})" if locked else ""))

# %% [markdown]
# Without the lock, two workers on the same record both read the old value inside the
# 0.5 ms window and both write old + 1: one of the two additions is lost. With the lock on the
# record's bytes, the second worker waits until the first has written.
#
# A held lock and a timeout: a child holds the lock on record 1 for 2 s. We cannot get it
# within 0.2 s (and get told why), but record 0 is free.

# %%
with objects.course_file(tag="records") as path:
    records.RecordStore.create(path, "<q16s", 3).close()
    with procs.start(demo.hold_record, [(path, 1, 2.0)], start_method="spawn", timeout=30) as holder:
        waiting.wait_until(lambda: demo.lock_is_held(path, 1), 20, "the child to take the lock")
        with records.RecordStore.open(path) as store:
            try:
                store.write(1, (1, b"mine"), timeout=0.2)
            except WaitTimeout as e:
                print("record 1:", type(e).__name__, "-", str(e).split(";")[0].replace(path, "<file>"))
            store.write(0, (7, b"free"), timeout=1)
            value, label = store.read(0, locked=True)
            print("record 0: written and read back under its lock:", value, label.rstrip(b"\0").decode())

# %% [markdown]
# Two things to remember about `fcntl` locks: they belong to the **process** (two threads
# of one process do not exclude each other), and closing *any* descriptor of the file
# drops *all* the process's locks on it. The lab builds a full record store on this.
#
# ### An image processed through a mapping (`numpy.memmap`)
#
# `numpy.memmap(path, dtype, mode="r+", shape=...)` is an array whose memory is a
# `MAP_SHARED` mapping of the file. Four processes each invert a horizontal band of one
# 512 x 512 grey image, in place; nobody reads or writes the file with `read()`/`write()`.
# Each process runs:

# %%
show(demo.invert_rows, mark=["np.memmap(path", "img[start:stop] = 255 - img[start:stop]"])

# %%
img = demo.process_image(512, 512, nworkers=4, start_method="spawn", timeout=60)
print("rows inverted by each process:", img["rows_done"])
print("the file equals 255 - original:", "yes" if img["matches"] else "no")

# %%
# NBVAL_IGNORE_OUTPUT
fig = plots.images(img["original"], img["result"], bands=img["rows_done"])
style.show(fig)

# %% [markdown]
# ### A file as IPC between unrelated processes
#
# Two processes that share nothing but a **path**: a writer posts messages into a mapped
# mailbox file (a sequence number, an acknowledgement, a length, the text) and waits for
# each to be acknowledged; a reader polls for new sequence numbers. Both use the lock on
# the mailbox's bytes, so a half-written message is never read. The two processes run:

# %%
show(demo.mailbox_send, mark=["record_files.file_lock(fd, 0, MAILBOX_SIZE", "MAILBOX.pack_into", "waiting.wait_until"])

# %%
show(demo.mailbox_receive, mark=["waiting.wait_until", "MAILBOX.pack_into(mm, 0, seq, seq, n)"])

# %%
received = demo.file_as_ipc(["hello", "through a mapped file", "bye"], start_method="spawn", timeout=30)
print("the reader received:", received)

# %% [markdown]
# > **Try it.** Polling wastes CPU and adds latency. Which mechanism from 19.1-19.3 would
# > you add to wake the reader instead? [answer](answers/05_mmap_answers.ipynb#try-it-5)
#
# ### The same record file from C
#
# A record file is bytes laid out as a C struct, so a C program can map it as well. The
# program below ([`ipclab/c/demos/record_update.c`](../ipclab/c/demos/record_update.c)) opens
# the path Python chose, maps the whole file `MAP_SHARED`, checks the store's header, takes the
# same `fcntl` lock on the record's bytes as `RecordStore.update` (when another process holds
# it, `F_SETLK` fails with `EACCES` or `EAGAIN`, fcntl(2), and the program retries for up to
# 5 s), adds to the value, sets the label and unmaps. It never calls `msync`. Each call that
# fails prints `perror`'s "call: reason" and the program exits with status 1. Its code, from
# the two structs on:

# %%
from ipclab.core import cbuild
src = (cbuild.C_DIR / "demos" / "record_update.c").read_text()  # the C text: edit src to change the program
print(src[src.index("struct header {"):].strip())

# %% [markdown]
# **Predict.** Python writes record 1 as `(41, "from Python")`; the C process adds 100 and
# writes the label `from-C`. What does Python read in record 1 afterwards, given that nobody
# calls `msync`? `ccell.run_c(src, ...)` compiles `src` as a `%%c` cell would
# (`-Wall -Wextra -Werror`, the sanitizers) and runs it as a process with a 10 s timeout.

# %%
import io

if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with objects.course_file(tag="crecords") as path:   # C: open(path, O_CREAT|O_EXCL|O_RDWR, 0600)
        with records.RecordStore.create(path, "<q16s", 3) as store:  # the header, then 3 records of 24 bytes
            store.write(1, (41, b"from Python"))
            run = ccell.run_c(src, f"--name record_update --args '{path} 1 100 from-C' --timeout 10 --expect ok",
                              out=io.StringIO())        # gcc's command line and the exit status: not printed
            print(run.stdout.strip())
            value, label = store.read(1, locked=True)
            label = label.rstrip(b"\0").decode()
            print(f"Python reads record 1: value {value}, label {label!r}")
            print("Python sees C's write, and nobody called msync:", "yes" if (value, label) == (141, "from-C") else "no")

# %% [markdown]
# The two processes share one copy of the page, the page cache's: C's stores were in it as
# soon as they were made, and Python's next read saw them (section 4: `msync` is about
# durability, not visibility; mmap(2): "Updates to the mapping are visible to other processes
# mapping the same region"). The record lock is one kernel object too: a POSIX record lock
# belongs to a process and a file, whatever language took it.
#
# > **Try it.** Run the C program with `MAP_PRIVATE`: add ` private` at the end of `--args`
# > (or change `src`). What does C print, and what does Python read?
# > [answer](answers/05_mmap_answers.ipynb#try-it-6)
#
# ## 8. Pitfalls
#
# ### The file shrinks under a mapping: `SIGBUS`
#
# A mapping does not follow the file's size. If someone truncates the file, the pages past
# the new end have nothing behind them, and touching one is a `SIGBUS`: the process is
# killed (Python cannot catch it as an exception). We do it in a child, safely; the child:

# %%
show(demo.read_after_shrink, mark=["os.truncate(path, PAGE)", "after = mm[2 * PAGE]"])

# %%
with objects.course_file(tag="shrink") as path:
    outcome = demo.child_signal(demo.read_after_shrink, (path,), start_method="spawn", timeout=30)
    print("child that read page 2 after the file shrank to 1 page:", *outcome)

# %% [markdown]
# ### Mapping beyond the end of the file
#
# Python refuses a mapping longer than the file (`ValueError`); C does not. `mmap` of two
# pages of a 100-byte file succeeds; bytes 100..4095 of the first page read as zeros (the
# rest of the last page), and the second page is entirely past the end: `SIGBUS`. The
# child below calls `mmap()` directly through `ctypes`, as a C program would.

# %%
with objects.course_file(100, tag="eof") as path:
    with open(path, "r+b") as f:
        f.write(b"x" * 100)
    for probe in (50, 200, PAGE + 10):
        print(f"byte {probe:5d} of a 2-page mapping of a 100-byte file:",
              *demo.child_signal(demo.c_mmap_past_eof, (path, probe), start_method="fork", timeout=30))

# %% [markdown]
# ### Resizing
#
# Grow the file *first* (`ftruncate`), then map or remap. Python's `mm.resize(n)` does both
# for a file mapping (C: `ftruncate` then `mremap`); the mapping may **move** to a new
# address, which is why it refuses while anything (a `memoryview`, a numpy array) still
# points into it.

# %%
with objects.course_file(PAGE, tag="resize") as path:
    with mapping.mapped(path) as mm:
        mm.resize(3 * PAGE)  # C: ftruncate(fd, 3*4096); p = mremap(p, 4096, 3*4096, MREMAP_MAYMOVE)
        print("after resize: mapping", len(mm), "bytes, file", os.path.getsize(path), "bytes")
        view = np.frombuffer(mm, dtype=np.uint8)
        try:
            mm.resize(4 * PAGE)
        except BufferError as e:
            print("resize with a live numpy view:", e)
        del view  # release every view before resize() or close()

# %% [markdown]
# ## Summary
#
# - `mmap()` makes a file part of your address space: `mmap.mmap(fd, length,
#   access=..., offset=...)`; `close()` is `munmap`, `flush()` is `msync`. Offsets are
#   multiples of the page size; grow the file (`ftruncate`) before mapping it.
# - `MAP_SHARED` writes go to the page cache: the file and every other mapping see them.
#   `MAP_PRIVATE` writes copy the page (copy-on-write, `Anonymous` in smaps) and never reach
#   the file; untouched private pages still show the file's changes on Linux.
# - Mapping is lazy: pages arrive on first touch as minor faults (page cache) or major
#   faults (disk); read-ahead and fault-around batch them; `madvise` tunes it (`RANDOM`
#   turns read-ahead off, `WILLNEED` starts it early).
# - `MAP_SHARED` data survives a killed process (it is in the kernel), not a power cut:
#   use `msync`/`flush()` and `fsync`. `msync` is for durability; other processes see the
#   data without it.
# - Anonymous shared mappings reach children only through `fork`; spawned processes need a
#   name or a file descriptor.
# - A **reused** mapping wins warm random reads (no system call, no fault); a mapping made
#   per request pays `mmap`, `munmap` and a fault per 64 KiB. Cold, a mapping wins random
#   reads because a major fault reads around the page, while small random `pread`s get no
#   read-ahead (`MADV_RANDOM` removes the difference). For one sequential pass, `read()` is
#   as good. Lock records with `fcntl` byte ranges, with a timeout.
# - A file that shrinks under a mapping, or a mapping past the end, gives `SIGBUS`.
#
# ## Exercises
#
# 1. In section 2, the parent maps the file *private* and only reads it. Make the child
#    write twice with a `time.sleep` in between, and have the parent write a byte of the
#    page between the two child writes. Which of the child's writes does the parent see?
#    Explain with copy-on-write. [answer](answers/05_mmap_answers.ipynb#exercise-1)
# 2. Run the lazy-loading profile with `advice="sequential"` and with `cold=False` after
#    `MADV_RANDOM`. Predict the major faults first, then measure.
#    [answer](answers/05_mmap_answers.ipynb#exercise-2)
# 3. Run the sequential benchmark with `random_reads.sequential(path, chunk=4096)` (4 KiB
#    chunks instead of 1 MiB).
#    How does the ratio to `mmap` change, and why (count the system calls)?
#    [answer](answers/05_mmap_answers.ipynb#exercise-3)
# 4. A `RecordStore` update takes the record's lock. Write a `transfer(store, i, j, amount)`
#    that moves value between two records without ever deadlocking against a concurrent
#    `transfer(store, j, i, ...)`. (Hint: lock order.) [answer](answers/05_mmap_answers.ipynb#exercise-4)
# 5. Why must `RecordStore.create` grow the file *before* mapping it? What would happen to
#    a second process that mapped the file while it was still empty?
#    [answer](answers/05_mmap_answers.ipynb#exercise-5)
#
# **Lab 4:** [`labs/lab4_recordstore.ipynb`](../labs/lab4_recordstore.ipynb): write your own
# record store (what `records.RecordStore` does): `MAP_SHARED`, per-record `fcntl` locks with
# a timeout, locked updates from several processes, `msync`.
#
# **Next:** [Appendix: debugging IPC](06_debugging_ipc.ipynb) (strace behind each call,
# `/proc/PID/maps`, leaks, hangs) · back to the [overview](00_overview.ipynb).
#
# ## References
#
# * Linux man pages: [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [munmap(2)](https://man7.org/linux/man-pages/man2/munmap.2.html),
#   [msync(2)](https://man7.org/linux/man-pages/man2/msync.2.html),
#   [madvise(2)](https://man7.org/linux/man-pages/man2/madvise.2.html),
#   [mincore(2)](https://man7.org/linux/man-pages/man2/mincore.2.html),
#   [mremap(2)](https://man7.org/linux/man-pages/man2/mremap.2.html),
#   [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [fsync(2)](https://man7.org/linux/man-pages/man2/fsync.2.html),
#   [pread(2)](https://man7.org/linux/man-pages/man2/pread.2.html),
#   [posix_fadvise(2)](https://man7.org/linux/man-pages/man2/posix_fadvise.2.html),
#   [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (record locks),
#   [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
#   [fstat(2)](https://man7.org/linux/man-pages/man2/fstat.2.html),
#   [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html),
#   [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html) (the C demo),
#   [getrusage(2)](https://man7.org/linux/man-pages/man2/getrusage.2.html),
#   [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`/proc/PID/smaps`, `/proc/PID/io`);
#   overviews [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html).
# * POSIX.1-2017 (The Open Group Base Specifications, Issue 7):
#   [mmap](https://pubs.opengroup.org/onlinepubs/9699919799/functions/mmap.html),
#   [msync](https://pubs.opengroup.org/onlinepubs/9699919799/functions/msync.html).
# * M. Kerrisk, *The Linux Programming Interface* (2010), ch. 48-50 (shared memory, memory
#   mappings, virtual memory operations) within the IPC chapters 43-57 (44-55 for pipes,
#   System V and POSIX IPC); W. R. Stevens and S. Rago, *Advanced Programming in the UNIX
#   Environment*, 3rd ed., ch. 14.8 (memory-mapped I/O) and ch. 15 (IPC).
# * The break-it writer: [kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html)
#   (`SIGKILL` "cannot be caught, blocked, or ignored", [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)).
# * Kernel sources and documentation: `do_sync_mmap_readahead` (read-around) in
#   [mm/filemap.c](https://github.com/torvalds/linux/blob/master/mm/filemap.c),
#   `page_cache_sync_ra` in [mm/readahead.c](https://github.com/torvalds/linux/blob/master/mm/readahead.c),
#   `fault_around_bytes` in [mm/memory.c](https://github.com/torvalds/linux/blob/master/mm/memory.c);
#   [The /proc filesystem](https://docs.kernel.org/filesystems/proc.html) (smaps fields);
#   `read_ahead_kb` in [sysfs-block](https://docs.kernel.org/admin-guide/abi-stable.html).
# * LMDB: [mdb.c](https://github.com/LMDB/lmdb/blob/mdb.master/libraries/liblmdb/mdb.c)
#   (`mdb_page_flush`, `mdb_env_sync`), [lmdb.h](https://github.com/LMDB/lmdb/blob/mdb.master/libraries/liblmdb/lmdb.h)
#   (`MDB_WRITEMAP`); Redis: [src/rdb.c](https://github.com/redis/redis/blob/unstable/src/rdb.c)
#   (`rdbSave`, `rdbSaveBackground`).
#
# How long this notebook took to run, here and now (the header's running time is this
# number, measured when the notebook was built):

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
