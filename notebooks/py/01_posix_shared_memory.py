# %% [markdown]
# # 19.1 POSIX shared memory, and race conditions made visible
#
# Shared memory is the fastest IPC: two processes map **the same physical pages**, so a
# byte one of them stores is a byte the other loads, with no copy and no system call.
# That speed has a price: nothing orders their accesses. This notebook builds shared memory
# with the POSIX calls, lays data out in it, passes work through a ring buffer, talks to a C
# program through it, and then *breaks* it on purpose to see races happen, measure them and
# fix them.
#
# **Learning goals.** After this notebook you can
# 1. create, size, map, unmap and unlink a POSIX shared memory object (`shm_open`,
#    `ftruncate`, `mmap`, `munmap`, `shm_unlink`) from Python and say which C call each line makes;
# 2. explain the life of the object in `/dev/shm`: it outlives its creator, and an unlinked
#    object stays usable by those who map it; avoid `multiprocessing.shared_memory`'s
#    resource-tracker pitfall;
# 3. lay out data with `struct`, `ctypes` and numpy over the same bytes, mind alignment, and
#    store offsets rather than pointers;
# 4. write a producer-consumer ring buffer synchronised by three POSIX semaphores;
# 5. produce, count and explain lost updates, fix them with a semaphore, and say what is
#    and is not atomic.
#
# **Time:** 60 min teaching, 40 min exercises. **Prerequisites:** notebook 00, `fork()`,
# file descriptors; threads and races (chapter 18).
#
# The building blocks are in [`ipclab/shm.py`](../ipclab/shm.py) and
# [`ipclab/race.py`](../ipclab/race.py); read them after each section.

# %%
# NBVAL_IGNORE_OUTPUT
import ctypes
import mmap
import os
import pwd
import struct
import subprocess
import tempfile

import numpy as np
import posix_ipc

from ipclab import doctor, objects, procs, race, shm
from ipclab.plots import race as race_plots

doctor.setup_notebook("posix_shm", "sem_timedwait", "gcc")

# %% [markdown]
# ## 1. Create, map, use, unmap, unlink
#
# In C the life of a shared memory object is five calls:
#
# ```c
# int fd = shm_open("/name", O_CREAT | O_EXCL | O_RDWR, 0600);  /* create the object   */
# ftruncate(fd, 4096);                                          /* give it a size      */
# char *p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);  /* map it here */
# close(fd);                                                    /* the mapping stays   */
# /* ... use p[0..4095] ... */
# munmap(p, 4096);                                              /* stop using it here  */
# shm_unlink("/name");                                          /* remove the name     */
# ```
#
# In Python, `posix_ipc.SharedMemory` makes the first two calls and the standard `mmap`
# module the third. `ipclab.objects` picks a unique name (a fixed `/name` would collide with
# another student's) and registers the object so that it is removed even if the cell fails.

# %%
shm_obj = objects.create_posix_shm(4096, tag="first")  # C: fd = shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600); ftruncate(fd, 4096)
try:
    buf = mmap.mmap(shm_obj.fd, 4096)  # C: p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm_obj.close_fd()                 # C: close(fd)
    buf[:13] = b"hello, shared"        # C: memcpy(p, "hello, shared", 13)
    print("name:", shm_obj.name)
    print(shm.ls(shm_obj.name))
    print("first bytes:", bytes(buf[:13]))
    buf.close()                        # C: munmap(p, 4096)
finally:
    objects.remove_posix_shm(shm_obj)  # C: shm_unlink(name)
print(shm.ls(shm_obj.name))

# %% [markdown]
# The object is a file of a tmpfs mounted on `/dev/shm`: it has a mode (0600, read-write for
# you only), an owner and a size, and `ls -l /dev/shm` shows it. The pages live in RAM (and
# swap), never on disk.
#
# From now on we use `ipclab.shm.Segment`, a small type over the same calls:
# `Segment.create(size)` is `shm_open`+`ftruncate`+`mmap`+`close(fd)`, `Segment.attach(name)` maps an
# existing object, `seg.close()` is `munmap` and `seg.unlink()` is `shm_unlink`. Keep
# those two apart: **close** says "*I* am done", **unlink** says "nobody new may open it".
#
# ### The object outlives its creator
#
# A worker process creates an object, writes in it, unmaps it and *exits*. The object stays,
# contents and all, until someone unlinks it; there is no reference count on the name.

# %%
name = procs.run(shm.create_and_exit, [("left by a process that has exited",)],
                 start_method="fork", timeout=30)[0]
try:
    print("after its creator exited:", shm.ls(name).split(": ", 1)[1])
    with shm.Segment.attach(name) as seg:                 # C: shm_open(name, O_RDWR) + mmap
        print("it still holds:", bytes(seg.buf[:34]).decode())
finally:
    posix_ipc.unlink_shared_memory(name)                  # C: shm_unlink(name)
    objects.registry.unregister("posix_shm", name=name)
print("after shm_unlink:", shm.ls(name).split(": ", 1)[1])

# %% [markdown]
# ### An unlinked object stays usable by those who map it
#
# `shm_unlink` removes the *name*, like `unlink` on a file. Processes that already mapped the
# object keep using it; the memory is freed at the last `munmap`. A common pattern: create,
# let every partner attach, then unlink at once so that a crash cannot leave the object behind.

# %%
with shm.Segment.create(4096, tag="unlinked") as a:
    b = shm.Segment.attach(a.name)         # a second mapping (in another process it works the same)
    a.unlink()                             # C: shm_unlink(name)
    print("name still in /dev/shm:", os.path.exists(a.path))
    a.buf[:6] = b"still "
    b.buf[6:11] = b"here!"
    print("a reads:", bytes(a.buf[:11]).decode(), "| b reads:", bytes(b.buf[:11]).decode())
    b.close()
    print(repr(b))

# %% [markdown]
# > **Try it.** In a terminal, run `ls -l /dev/shm` while the first cell's object exists (add
# > an `input()` before the cleanup). Then try `Segment.attach` on a name you just unlinked:
# > what error do you get, and which `errno` is behind it?
#
# ## 2. The standard library's `multiprocessing.shared_memory`, and its pitfall
#
# Python 3.8 added `multiprocessing.shared_memory.SharedMemory`, the same `shm_open`+`mmap`.
# It has a trap that bites everyone once. Before Python 3.13, *attaching* to an existing
# segment registers it with the process's **resource tracker**, a helper process that
# unlinks "leaked" segments when its process exits. So a process that merely attaches and
# exits **destroys a segment it does not own**. The fixes: `SharedMemory(name, track=False)`
# from 3.13; before that, `resource_tracker.unregister(shm._name, "shared_memory")` right
# after attaching. Below, a *fresh* interpreter attaches and exits, first without, then with
# the fix (see `ipclab.shm.mp_attach_only`).

# %%
for unregister in (False, True):
    with shm.Segment.create(4096, tag="mptrack") as seg:
        exists, warning = shm.run_attach_only(seg.name, unregister)
        how = "with unregister()" if unregister else "plain attach      "
        print(f"{how}: segment still exists after the attaching process exited: {'yes' if exists else 'no'}")
        if warning:
            print("   its resource tracker warned:", warning)

# %% [markdown]
# ## 3. Laying out data in shared memory
#
# Shared memory is raw bytes. Both sides must agree on a **layout**: which field is at which
# offset, with which size and byte order. Three views of the same bytes:
#
# * `struct`: pack and unpack at an offset (`"=II4d32s"`: two `uint32`, four `double`, 32 chars);
# * `ctypes.Structure.from_buffer`: a C `struct` laid over the mapping, fields you assign;
# * `numpy.ndarray(buffer=...)`: an array whose elements *are* the shared bytes.
#
# C compilers insert **padding** so that each field is aligned to its size; `ctypes` follows
# the same rules as `gcc` on this machine, `struct` does only with the native prefix `@`.

# %%
class Shared(ctypes.Structure):   # C: struct shared { uint32_t magic; uint32_t count; double values[4]; char text[32]; };
    _fields_ = [("magic", ctypes.c_uint32), ("count", ctypes.c_uint32),
                ("values", ctypes.c_double * 4), ("text", ctypes.c_char * 32)]


class Padded(ctypes.Structure):   # C: struct padded { char tag; double x; };
    _fields_ = [("tag", ctypes.c_char), ("x", ctypes.c_double)]


print("sizeof(struct shared) =", ctypes.sizeof(Shared), "| struct '=II4d32s' =", struct.calcsize("=II4d32s"))
print("sizeof(struct padded) =", ctypes.sizeof(Padded), "| offset of x:", Padded.x.offset,
      "| packed '=cd' would be", struct.calcsize("=cd"), "bytes: 7 bytes of padding")

with shm.Segment.create(ctypes.sizeof(Shared), tag="layout") as seg:
    s = Shared.from_buffer(seg.buf)                              # a struct over the shared bytes
    s.magic, s.count, s.text = 0xC0FFEE, 3, b"written via ctypes"
    values = np.ndarray((4,), dtype=np.float64, buffer=seg.buf, offset=Shared.values.offset)
    values[:] = [1.5, 2.5, 3.5, 4.5]                             # numpy writes into the same bytes
    magic, count, *vals, text = struct.unpack_from("=II4d32s", seg.buf, 0)
    print(f"struct reads: magic=0x{magic:X} count={count} values={vals} text={text.rstrip(bytes(1))}")
    del s, values                                                # views must go before munmap

# %% [markdown]
# **Never store a pointer in a segment.** Each process maps the object at an address of its
# own choosing (ASLR), so an address written by one process means nothing, or something
# else, in another. Store **offsets** from the start of the segment instead (the ring buffer
# below stores indices). The two mappings of one object in one process already differ:

# %%
# NBVAL_IGNORE_OUTPUT
with shm.Segment.create(4096, tag="addr") as a:
    b = shm.Segment.attach(a.name)
    addr_a = ctypes.addressof(ctypes.c_char.from_buffer(a.buf))
    addr_b = ctypes.addressof(ctypes.c_char.from_buffer(b.buf))
    print(f"mapping a at 0x{addr_a:x}, mapping b at 0x{addr_b:x}: same memory, different addresses")
    b.close()

# %% [markdown]
# > **Try it.** Reorder `Padded`'s fields (`x` first): how big is it now? Why do arrays of
# > structs often end with padding too?
#
# ## 4. Interop with C
#
# The object has a name, so any language can open it. `ipclab/c/shm_peek.c` opens the name
# Python chose, maps `struct shared`, prints it, doubles the values and writes a message.
# It is compiled here with `gcc` into a temporary directory.

# %%
if doctor.skip_unless("gcc"):
    with tempfile.TemporaryDirectory() as tmp, shm.Segment.create(ctypes.sizeof(Shared), tag="cinterop") as seg:
        exe = shm.build_c("shm_peek", tmp)           # gcc -std=c11 -o shm_peek shm_peek.c -lrt
        s = Shared.from_buffer(seg.buf)
        s.magic, s.count, s.values[:], s.text = 0xC0FFEE, 41, [1, 2, 3, 4], b"from Python"
        out = subprocess.run([exe, seg.name], capture_output=True, text=True, timeout=30)
        print(out.stdout.strip() or out.stderr)
        print(f"Python sees: count = {s.count}, values = {list(s.values)}, text = {s.text.decode()!r}")
        del s

# %% [markdown]
# Both sides agree because `ctypes` and `gcc` lay `struct shared` out the same way. Change one
# side only (add a field in C) and the other reads garbage: a shared layout is a protocol;
# version it (the `magic` field is there for that).
#
# ## 5. Producer-consumer over a ring buffer
#
# The chapter's pattern: a producer puts items in a bounded buffer, consumers take them out.
# In shared memory the buffer is a **ring** of slots with two indices, *head* (next slot to
# write) and *tail* (next to read), stored as indices, not pointers. Three POSIX named
# semaphores make it safe:
#
# ```
# put:  sem_wait(empty); sem_wait(mutex); slot[head] = item; head = (head+1) % N; sem_post(mutex); sem_post(full)
# get:  sem_wait(full);  sem_wait(mutex); item = slot[tail]; tail = (tail+1) % N; sem_post(mutex); sem_post(empty)
# ```
#
# `empty` counts free slots (starts at N) so a producer blocks when the ring is full;
# `full` counts items (starts at 0) so a consumer blocks when it is empty; `mutex` makes the
# update of the indices one critical section, because several consumers share `tail`. Every
# wait here is `sem_timedwait` (`Semaphore.acquire(timeout)`): a dead partner gives an error, not a hang.
#
# One producer sends the integers 0..1999 then one end-of-stream marker per consumer; three
# consumers take what they can. Did every item arrive exactly once?

# %%
N_ITEMS, N_CONSUMERS = 2000, 3
with shm.RingBuffer.create(capacity=8, slot_size=8) as ring:   # C: shm_open + ftruncate + mmap; 3 x sem_open
    print(ring)
    consumers = procs.start(shm.consume, [(ring.spec,)] * N_CONSUMERS, start_method="fork", timeout=60)
    producer = procs.start(shm.produce, [(ring.spec, N_ITEMS, N_CONSUMERS)], start_method="fork", timeout=60)
    producer.join()
    received = consumers.join()
    put, got = ring.counts()
verdict = shm.check_delivery(N_ITEMS, received)
print(f"put {put} records, got {got} (items + {N_CONSUMERS} end markers)")
print("every item delivered exactly once:", "yes" if verdict["exactly_once"] else "NO")
print("each consumer received its items in order:", "yes" if verdict["in_order"] else "NO")
print("missing:", verdict["missing"], "| duplicated:", verdict["duplicated"])

# %% [markdown]
# How the work was shared between consumers changes from run to run (the scheduler decides):

# %%
# NBVAL_IGNORE_OUTPUT
print("items per consumer:", [len(r) for r in received])

# %% [markdown]
# > **Try it.** Remove the `mutex` from `RingBuffer.get` (copy the class) and run three
# > consumers: which check fails first? Then kill the producer half-way
# > (`shm.put_then_die`): what do the consumers report, and after how long?
#
# ## 6. Permissions: 0600, 0660, 0666
#
# The mode of the object is checked at `shm_open`, like a file's. Two traps: the mode given
# to `shm_open` is cut by the **umask** (0666 becomes 0644 with umask 022), and POSIX names
# are global, so another user can *squat* a name you meant to create (use `O_EXCL`, as
# ipclab does). Below, a worker becomes user `nobody` (`setgid`+`setuid`, only root can) and
# tries to open our object, once as a member of our group and once as a stranger.

# %%
if os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    old_umask = os.umask(0o022)
    try:
        for mode in (0o600, 0o660, 0o666):
            with shm.Segment.create(64, tag="perm", mode=mode) as seg:
                asked = os.stat(seg.path).st_mode & 0o777
                os.chmod(seg.path, mode)                 # C: fchmod(fd, mode): not cut by the umask
                rights = [procs.run(shm.try_access_as, [(seg.name, nobody.pw_uid, gid)],
                                    start_method="fork", timeout=30)[0]
                          for gid in (os.getgid(), nobody.pw_gid)]
                print(f"mode {mode:04o} (umask made it {asked:04o}): same group -> {rights[0]:<10} "
                      f"other user -> {rights[1]}")
    finally:
        os.umask(old_umask)
else:
    print("SKIPPED: becoming another user needs root. Expected: 0600 denies everyone else; "
          "0660 lets your group read and write; 0666 lets every user read and write.")

# %% [markdown]
# With 0666 *any* user of the machine can read your data, overwrite it, or corrupt the ring's
# indices; on a shared server that is a security hole. Use 0600, or 0660 with a dedicated group.
#
# ## 7. Races made visible
#
# `counter++` on shared memory is **three** steps: *load* the value into a register, *add*
# one, *store* it back. If two processes both load 10 before either stores, both store 11:
# one increment is **lost**.
#
# ```c
# // Process A                    // Process B
# int val = *counter;  // 10      int val = *counter;  // 10
# val++;               // 11      val++;               // 11
# *counter = val;      // 11      *counter = val;      // 11, not 12!
# ```
#
# `race.count(n, m)` starts `n` real processes on one 8-byte counter in a POSIX shared memory
# object; they wait at a start line (two semaphores) and each increments `m` times. **The
# window is designed, not hoped for**: each worker sleeps `race.DEFAULT_WINDOW` (0.5 ms)
# between its load and its store. The sleep gives the CPU away, so on one core the other
# process runs right then and loads the same value; on several cores the windows overlap
# anyway. Without it, the race still exists but shows only by luck.

# %%
r = race.count(n_procs=2, m=200, lock=False, start_method="fork")
print(f"expected {r.expected}, found a value below it: {'yes' if r.final < r.expected else 'no'}")
print("lost updates:", "yes" if r.lost > 0 else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(r)
print(f"lost {r.lost} of {r.expected} updates ({100 * r.lost / r.expected:.0f}%)")

# %% [markdown]
# How much is lost depends on how many processes overlap. With the window, almost every
# increment overlaps one of each other process, so about (n-1)/n of them are lost. Without a
# window (`window=0`, the bare race) the loss is rarer and depends on the machine, the load
# and how long the processes run together:

# %%
# NBVAL_IGNORE_OUTPUT
results = race.sweep(n_values=(1, 2, 3, 4), m_values=(100,), start_method="fork")
results += race.sweep(n_values=(1, 2, 3, 4), m_values=(20000,), window=0, start_method="fork")
fig = race_plots.lost_updates(results)

# %% [markdown]
# ### The interleaving timeline: what really happened
#
# With `trace=True` each worker records, for every increment, when it loaded, what it read,
# when it stored and what it wrote. The shared word also carries, in its upper 32 bits, a tag
# naming the update that wrote it, so each load knows *exactly* which store it saw (see the
# docstring of `ipclab.race`). `race.analyse` follows the chain of reads back from the final
# value: updates on the chain counted, all others were overwritten. Each bar below is one
# read-modify-write, from load to store; red with a × means lost.

# %%
traced = race.count(n_procs=3, m=6, trace=True, start_method="fork")
updates = race.analyse(traced)
print("the trace accounts for every lost update:",
      "yes" if race.lost_in_trace(updates) == traced.lost else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"expected {traced.expected}, final {traced.final}, lost {traced.lost}")
by_tag = {u.tag: u for u in updates}                  # each update's tag: which process, which increment
for u in updates[:6]:
    w = by_tag.get(u.overwritten_by)
    fate = f"LOST (overwritten by process {w.proc} #{w.i})" if u.lost else "counted"
    print(f"process {u.proc} #{u.i}: loaded {u.read} at {u.t_load * 1e3:.2f} ms, stored {u.wrote} "
          f"at {u.t_store * 1e3:.2f} ms -> {fate}")
fig = race_plots.timeline(updates, max_updates=18)

# %% [markdown]
# Overlapping bars of different processes that read the same value are the race: only one of
# their stores can survive.
#
# ### The fix: a semaphore around the critical section, and its cost
#
# With `lock=True` each increment runs between `sem_wait(lock)` and `sem_post(lock)` on a POSIX
# semaphore of initial value 1: at most one process is between load and store.

# %%
r_lock = race.count(n_procs=3, m=100, lock=True, start_method="fork")
print(f"expected {r_lock.expected}, found {r_lock.final}")
print("with the lock:", "exact" if r_lock.lost == 0 else "WRONG")

# %% [markdown]
# Exactness costs two system calls' worth of work per increment when there is contention
# (the futex behind `sem_wait` sleeps and wakes), and serialises the processes. Measured
# here without the window, per increment (your numbers will differ; the machine is shared):

# %%
# NBVAL_IGNORE_OUTPUT
pairs = [(race.count(n, 20000, window=0, start_method="fork"),
          race.count(n, 20000, window=0, lock=True, start_method="fork")) for n in (1, 2, 4)]
for a, b in pairs:
    print(f"n={a.n_procs}: no lock {1e6 * a.elapsed / a.expected:.2f} µs/increment ({a.lost} lost), "
          f"lock {1e6 * b.elapsed / b.expected:.2f} µs/increment ({b.lost} lost), "
          f"ratio {b.elapsed / a.elapsed:.1f}x")
fig = race_plots.lock_cost(pairs)

# %% [markdown]
# ### What is atomic, and what is not
#
# * In C, `counter++` on an `int` is **not** atomic: load, add, store. Declaring the counter
#   `volatile` does not help; it only stops the compiler from keeping it in a register.
# * C11 `<stdatomic.h>` gives **atomic read-modify-write**: `atomic_fetch_add(&shared->counter, 1)`
#   compiles to one `lock xadd` on x86-64. It works across processes when the
#   `atomic_int` lives in shared memory and is lock-free (`atomic_is_lock_free`); a lock-based
#   atomic would use a process-private lock and be wrong across processes.
# * An aligned load or store of up to 8 bytes is a single instruction on x86-64 and arm64, so
#   it cannot be *torn* (this notebook's trace relies on that); the sequence load-add-store
#   still is not atomic.
# * **Python offers no atomic read-modify-write on shared memory.** `mmap`, `struct`,
#   `ctypes` and numpy assignments are plain loads and stores (numpy's `a[0] += 1` is a load,
#   an add and a store). The GIL is per *process*: it orders threads of one interpreter, never
#   two processes. `multiprocessing.Value` is not atomic either: `v.value += 1` needs
#   `with v.get_lock():`, which is a semaphore, as here.
# * Across processes from Python, use a semaphore (POSIX here, System V in notebook 02), or
#   call C atomics through a small C library.
#
# ### You are the scheduler
#
# The lost update is easiest to believe when *you* cause it. `race.Explorer` starts real
# processes, each running `counter++` split into its three steps; before each step a process
# waits on its own semaphore, and `step("A")` posts A's. After every step you see the shared
# value and each process's register. The schedule below is the chapter's example:

# %%
with race.Explorer(processes=2, increments=1, start_method="fork") as ex:
    for step in ex.run("A:load B:load A:add B:add A:store B:store"):
        print(step)
    print(f"final value {ex.shared} after 2 increments")
    print("lost updates:", "yes" if ex.shared < 2 else "no")

# %% [markdown]
# Predict before you run: with the schedule `A B A A B B` (names alone take each process's
# next step), what is the final value? And with `random_schedule(2, 2, seed=4)`? The
# `paper_final` function computes what you should have found by hand; the explorer shows what
# really happened.

# %%
schedule = race.random_schedule(processes=2, increments=2, seed=4)
print("schedule:", schedule)
with race.Explorer(processes=2, increments=2, start_method="fork") as ex:
    ex.run(schedule)
    print(f"real final value {ex.shared}, by hand {race.paper_final(schedule, 2, 2)}, expected 4")

# %% [markdown]
# Now click. The buttons let one process take its next step; predict the final value, then
# **Reveal**. **Replay random schedule** plays a seeded schedule so two students can compare.
# The processes are created at your first click and removed at the end of the game (or Reset).

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.widgets import race as race_widgets

explorer_ui = race_widgets.ExplorerUI(processes=2, increments=1)
explorer_ui.widget

# %% [markdown]
# And the counter experiment with controls (processes, increments, lock on/off):

# %%
# NBVAL_IGNORE_OUTPUT
counter_ui = race_widgets.CounterControls()
counter_ui.widget

# %% [markdown]
# The same function headless, with the defaults (2 processes, 200 increments):

# %%
print(race_widgets.verdict(counter_ui.run()).splitlines()[1])
counter_ui.lock.value = True
print(race_widgets.verdict(counter_ui.run()).splitlines()[1])

# %% [markdown]
# ## Summary
#
# * `shm_open` + `ftruncate` + `mmap` create and map an object in `/dev/shm`; `munmap` (close)
#   and `shm_unlink` (unlink) are separate: the object outlives its creator until unlinked, and
#   an unlinked object lives on in the processes that map it.
# * `multiprocessing.shared_memory` before 3.13: an attach-only process destroys the segment
#   at exit unless it unregisters from the resource tracker (`track=False` from 3.13).
# * A segment is raw bytes: agree on a layout (ctypes mirrors C's padding), store offsets,
#   never pointers.
# * Producer-consumer: a ring of slots, `empty`/`full`/`mutex` semaphores, timed waits.
# * `counter++` is load-add-store: without a lock updates are lost, and you can see which;
#   with a semaphore the count is exact, at a measurable cost. Python has no cross-process
#   atomic increment; C11 atomics do.
# * Modes: 0600 by default; the umask cuts `shm_open`'s mode; 0666 opens your data to everyone.
#
# ## Exercises
#
# 1. Compute by hand the final value of `A:load A:add B:load A:store B:add B:store`, then
#    check with `race.Explorer`. Find a schedule of 2 processes x 2 increments whose result is
#    **2**. Can any schedule give 1? (Hint: think of the process that stores last.)
# 2. Run `race.count(2, m, window=0)` for m = 1 000, 10 000, 100 000. Why does the share of
#    lost updates grow with m when there is no designed window?
# 3. Add a `reset()` to the counter protocol: which other process must be stopped before it
#    is safe, and how would you make it so with one more semaphore?
# 4. Write `shm_count.c`: a C program that increments a counter in a segment created by
#    Python with `atomic_fetch_add`, run two of them together, and show the count is exact
#    without any semaphore.
# 5. The ring buffer wastes `slot_size` bytes per record. Design a variable-length ring (a
#    byte ring with length prefixes): what must `empty` count now?
#
# **Lab 1:** [`labs/lab1_ringbuffer.ipynb`](../labs/lab1_ringbuffer.ipynb): write this ring buffer
# yourself, over `shm_open` and three POSIX semaphores, for several producers and consumers,
# and have it graded. **Lab 5** ([shared LRU cache](../labs/lab5_lrucache.ipynb)) keeps a
# whole data structure in one segment. **Next:** [19.2 System V semaphores](02_sysv_semaphores.ipynb).
