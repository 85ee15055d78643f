# %% [markdown]
# # Answers: Appendix, debugging IPC
#
# One section per "Try it" prompt and per exercise of
# [06_debugging_ipc.ipynb](../06_debugging_ipc.ipynb), in the order they appear there.
# Where the answer is code, the cell runs it on real processes and kernel objects (made by
# the course: unique names, mode 0600, removed at the end of the cell even if it fails).
# Where `strace`, `valgrind` or `gcc` is missing, or ptrace is forbidden, the cells say so
# and use the logs recorded on the course's machine, as the appendix does.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import json
import mmap
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ipclab import doctor, inventory, objects, procinfo, procs, race_detectors, registry, semset
from ipclab import debug_workers as dw
from ipclab import strace_log, tracing
from ipclab.mechanisms import ccell

doctor.setup_notebook("strace", "valgrind", "gcc", "ipcs")
ccell.load()
LIVE_STRACE = tracing.skip_unless_strace()
LIVE_VALGRIND = doctor.skip_unless("valgrind")
TRACES = "live" if LIVE_STRACE else "recorded on the course's machine"

# %% [markdown]
# <a id="try-it-1"></a>
# ## Try it 1: which line closes `mmap.mmap`'s copy of the descriptor?
#
# `m.close()`. Python's `mmap` object keeps its own duplicate of the descriptor (the
# `fcntl(fd, F_DUPFD_CLOEXEC)` before the `mmap`) for `size()` and `resize()`; closing the
# object closes that duplicate and calls `munmap`. `shm.close_fd()` closes the *original*
# descriptor. In the trace:

# %%
steps = tracing.trace_or_recorded("posix_shm", LIVE_STRACE)[0]
for fragment in ("mmap.mmap(", "m.close()", "shm.close_fd()"):
    print(f"{fragment:<16} -> {' + '.join(strace_log.calls(steps, fragment)) or 'none'}")

# %%
print(f"[{TRACES} strace log]")
print("m.close() unmaps and closes a descriptor:",
      "yes" if {"munmap", "close"} <= set(strace_log.calls(steps, "m.close()")) else "no")

# %% [markdown]
# <a id="try-it-2"></a>
# ## Try it 2: `strace -f -e trace=%ipc,futex`, then `-c`
#
# `%ipc` is strace's class of System V IPC calls (`msgget`, `msgsnd`, `msgrcv`, `msgctl`,
# `semget`, `semop`, `semtimedop`, `semctl`, `shmget`, `shmat`, `shmdt`, `shmctl`; see
# strace(1), "-e trace=%ipc"). The log shows `msgget(..., IPC_CREAT|IPC_EXCL|0600)`, then
# `msgsnd` and `msgrcv` with the message's type and bytes, then `msgctl(..., IPC_RMID)`;
# `futex` lines come from Python's own threads and locks. With `-c` strace prints, at the
# end, one row per call: its count, errors and time. Here, live where strace can trace:

# %%
# NBVAL_IGNORE_OUTPUT
if LIVE_STRACE:
    r = subprocess.run(["strace", "-f", "-c", "-e", "trace=%ipc,futex", sys.executable, "-m",
                        "ipclab.experiments.trace_demos", "demo", "sysv_msg"],
                       capture_output=True, text=True, timeout=120)
    print("\n".join(l for l in r.stderr.splitlines() if l.strip()))
else:
    print("strace cannot trace here (missing, or ptrace forbidden): run the command in a terminal")

# %% [markdown]
# <a id="try-it-3"></a>
# ## Try it 3: both workers touch all 256 pages
#
# Prediction: every page is now mapped by both, so in both processes `Rss` = 1024 kB (256
# pages), all of it shared (`Shared_Dirty` 1024 kB: written pages), `Private_*` 0, and `Pss`
# = 1024 / 2 = 512 kB each. The run:

# %%
PAGE = mmap.PAGESIZE
SIZE = 256 * PAGE
with objects.posix_shm(SIZE, tag="maps") as shm, objects.posix_sem(0, tag="ready") as ready, \
        objects.posix_sem(0, tag="done") as done:
    group = procs.start(dw.hold_mapping, [(shm.name, SIZE, 256, ready.name, done.name, 30)] * 2,
                        names=["A", "B"], start_method="spawn", timeout=60)
    try:
        dw.await_posts(ready, 2, group, timeout=30)
        seen = {name: procinfo.find(procinfo.smaps(pid), shm.name)[0].counts for name, pid in zip("AB", group.pids)}
    finally:
        done.release()
        done.release()
        group.join()
kb = PAGE // 1024
for name, c in seen.items():
    print(f"{name}: Rss {c['Rss']} kB, Shared_Dirty {c['Shared_Dirty']} kB, "
          f"Private_Dirty {c['Private_Dirty']} kB, Pss {c['Pss']} kB")
print("prediction holds in both:", "yes" if all(
    (c["Rss"], c["Shared_Dirty"] + c["Shared_Clean"], c["Private_Dirty"] + c["Private_Clean"], c["Pss"])
    == (256 * kb, 256 * kb, 0, 128 * kb) for c in seen.values()) else "no")

# %% [markdown]
# `pmap -X PID` prints the same counters as columns, one row per mapping.
#
# <a id="try-it-4"></a>
# ## Try it 4: which columns say the creator is dead?
#
# `ipcs -m -p` shows `cpid` (the creator's pid) and `lpid` (the last `shmat`/`shmdt`); if no
# process has that pid any more (`ps -p CPID` prints nothing), the creator is dead. `nattch`
# 0 says nobody is attached. `ipclab ls` marks the course's objects whose run's owner is
# dead. Then `ipclab clean` removes them. The same, run here:

# %%
crash_state = tempfile.mkdtemp(prefix="ipclab-crash-")
env = {k: v for k, v in os.environ.items() if k != registry.ENV_RUN}
env[registry.ENV_STATE] = crash_state
left = None
try:
    crash = subprocess.run([sys.executable, "-m", "ipclab.experiments.trace_demos", "crash"], env=env,
                           capture_output=True, text=True, timeout=60)
    left = json.loads(crash.stdout)
    row = inventory.sysv_row("shm", left["sysv_shm"])     # /proc/sysvipc/shm: what `ipcs -m -p` prints
    print("creator's pid (cpid) is still a process:", procinfo.state(row["cpid"]) is not None,
          "| nattch:", row["nattch"])
    subprocess.run([sys.executable, "-m", "ipclab", "clean"], env=env, capture_output=True, text=True, timeout=60)
    print("after `ipclab clean`: its System V segment is gone:", inventory.sysv_row("shm", left["sysv_shm"]) is None)
finally:  # whatever happened above, nothing of the crashed run survives this cell
    if left:
        registry.remove_run(registry.Run(left["run"], Path(crash_state) / left["run"]))
    shutil.rmtree(crash_state, ignore_errors=True)

# %% [markdown]
# <a id="try-it-5"></a>
# ## Try it 5: both workers take the locks in the same order
#
# No deadlock. Both ask for lock 0 first: one gets it, the other sleeps on lock 0 **without
# holding anything**, so nothing can form a cycle. While it waits, `GETNCNT` of lock 0 is 1
# (one waiter) and `GETPID` of lock 0 names the worker that holds it; lock 1 has no waiter.
# The second worker never posts "ready" while it waits (it posts after taking lock 0), so
# the parent waits for **one** ready here, looks, then gives "go" to both.

# %%
with semset.create(4, values=[1, 1, 0, 0], note="same") as sems:
    pair = procs.start(dw.take_two_sysv, [(sems, 0, 1, 60), (sems, 0, 1, 60)], names=["W1", "W2"],
                       start_method="spawn", timeout=90)
    try:
        sems.acquire(2, n=1, timeout=30)          # one worker holds lock 0
        waiting = [pid for pid in pair.pids if procinfo.wait_until_blocked(pid, timeout=20) == "semtimedop"]
        table = sems.snapshot()
        holder = table[0]["pid"]
        sems.release(3, n=2)                      # go, for both
        results = pair.join()
    finally:
        pair.kill()
print("lock 0: value", table[0]["value"], "| waiters (GETNCNT):", table[0]["ncnt"],
      "| last user (GETPID) is one of the two workers:", holder in pair.pids)
print("lock 1: waiters (GETNCNT):", table[1]["ncnt"])
print("both workers finished:", results)

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: without `wait_until_blocked`, does the futex pair always appear?
#
# No. `procinfo.wait_until_blocked(pid)` makes the parent wait until the child really sleeps
# in `futex`. Without it, the parent's `sem.release()` can run before the child reaches its
# `sem.acquire()`: the child then finds the value at 1, takes it with an atomic instruction
# in user space and never calls `futex`, and the parent's `sem_post` sees no waiter and makes
# no `FUTEX_WAKE` either. Whether the pair shows depends on who runs first: a race in the
# *observation*. Run `strace -f -e trace=futex` on the copy several times: some runs show
# the pair, some do not (on an idle two-CPU machine the child often loses, since it must
# first be scheduled after the `fork`).
#
# <a id="exercise-2"></a>
# ## Exercise 2: worker B maps the segment twice
#
# B gets a second line in its maps and a second smaps block for the same file. Its pages now
# have two mappings each, even though one process holds both: the kernel counts a page as
# "shared" when it is mapped more than once, "even when mapped in the same process multiple
# times" (Documentation/filesystems/proc.rst, smaps). So pages that only B touched move from
# `Private_*` to `Shared_*` in B's blocks, and `Pss` divides them by the number of mappings.
# Run here: B's two mappings of 64 touched pages, and nobody else:

# %%
# %%worker twice_mapped
"""Map one POSIX segment twice in the same process and report both smaps blocks."""
import mmap

import posix_ipc

from ipclab.core import procinfo


def map_twice(name, size, touch):
    shm = posix_ipc.SharedMemory(name)
    m1, m2 = mmap.mmap(shm.fd, size), mmap.mmap(shm.fd, size)   # two mmap() calls: two mappings
    shm.close_fd()
    for i in range(touch):
        m1[i * mmap.PAGESIZE] = 1
        _ = m2[i * mmap.PAGESIZE]                               # map the same pages in the second one
    blocks = [b.counts for b in procinfo.find(procinfo.smaps("self"), name)]
    m1.close()
    m2.close()
    return blocks

# %%
with objects.posix_shm(SIZE, tag="twice") as shm:
    blocks, = procs.run(twice_mapped.map_twice, [(shm.name, SIZE, 64)], start_method="spawn", timeout=60)
for i, c in enumerate(blocks):
    print(f"mapping {i + 1}: Rss {c['Rss']} kB, Shared {c['Shared_Clean'] + c['Shared_Dirty']} kB, "
          f"Private {c['Private_Clean'] + c['Private_Dirty']} kB, Pss {c['Pss']} kB")
print("one process, two mappings: its pages count as shared:",
      "yes" if len(blocks) == 2 and all(c["Shared_Clean"] + c["Shared_Dirty"] == 64 * kb for c in blocks) else "no")

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: the POSIX deadlock, and what replaces `GETNCNT`
#
# `dw.take_two` is the same ABBA pair with four POSIX named semaphores. What still works:
# `/proc/PID/syscall` and `wchan` (both sleep in `futex`), `/proc/PID/stack` (root), `strace
# -p` (a `futex(addr, FUTEX_WAIT_BITSET...)` that does not return), the Python stack
# (`py-spy`, or `kill -USR1` with faulthandler). What does not: there is no `GETNCNT` or
# `GETPID` for a POSIX semaphore; `sem_getvalue` gives only the value (0 for both locks), not
# who waits or who holds. Nothing in the kernel says which futex word belongs to which
# semaphore: you match the `futex` address in `/proc/PID/syscall` against the address where
# `/dev/shm/sem.NAME` is mapped in `/proc/PID/maps`.

# %%
with objects.posix_sem(1, tag="a") as a, objects.posix_sem(1, tag="b") as b, \
        objects.posix_sem(0, tag="ready") as ready, objects.posix_sem(0, tag="go") as go:
    pair = procs.start(dw.take_two, [(a.name, b.name, ready.name, go.name, 60),
                                     (b.name, a.name, ready.name, go.name, 60)],
                       names=["AB", "BA"], start_method="spawn", timeout=90)
    try:
        dw.await_posts(ready, 2, pair, timeout=30)
        go.release()
        go.release()
        blocked = [procinfo.wait_until_blocked(pid, timeout=20) for pid in pair.pids]
        values = (a.value, b.value)                           # C: sem_getvalue
        sem_maps = [[l.split()[0] for l in open(f"/proc/{pid}/maps") if "sem." in l] for pid in pair.pids]
    finally:
        pair.kill()
print("both workers sleep in:", sorted(set(map(str, blocked))))
print("sem_getvalue of the two locks:", values, "(no count of waiters, no last pid)")
print("each worker maps the four semaphore files (/dev/shm/sem.*):", [len(m) for m in sem_maps])

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: DRD, and an atomic increment
#
# `valgrind --tool=drd ./race race 200` reports the same race as Helgrind ("Conflicting
# store by thread ..." on `counter++`). With `__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)`
# the increment is one indivisible read-modify-write (on x86-64 a `lock add`): the count is
# always exact, where `counter++` may lose updates (or, in a short run where one thread
# finishes before the other starts, happen not to). What the tools say about atomics depends
# on the tool and its version: a Valgrind developer wrote in 2018 that Helgrind does not try
# to observe atomic operations ("I don't believe helgrind makes any attempt to observe atomic
# operations", [valgrind-users, 2018-09-25](https://sourceforge.net/p/valgrind/mailman/message/36423959/)), so it can report races on correct atomic code (C++
# `atomic_flag` in that thread). The cell below builds both versions and runs them under
# both tools where gcc and valgrind are present, and prints each tool's error summary: read
# what this machine's Valgrind says about the atomic version.
#
# %%
# NBVAL_IGNORE_OUTPUT
src = (race_detectors.C_DIR / "race_helgrind.c").read_text()
atomic_src = src.replace("counter++;", "__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);", 1)
if shutil.which("gcc") and LIVE_VALGRIND:
    with tempfile.TemporaryDirectory() as d:
        for label, code in (("counter++", src), ("__atomic_fetch_add", atomic_src)):
            c, exe = Path(d, "race.c"), Path(d, "race")
            c.write_text(code)
            subprocess.run(["gcc", "-g", "-O0", "-pthread", str(c), "-o", str(exe)], check=True, timeout=120)
            plain = subprocess.run([str(exe), "race", "100000"], capture_output=True, text=True, timeout=60).stdout.strip()
            for tool in ("helgrind", "drd"):
                r = subprocess.run(["valgrind", f"--tool={tool}", str(exe), "race", "200"],
                                   capture_output=True, text=True, timeout=300)
                summary = next((l.split("==", 2)[-1].strip() for l in r.stderr.splitlines() if "ERROR SUMMARY" in l), "?")
                print(f"{label:<20} {tool:<8} {summary}")
            print(f"{label:<20} native   {plain}")
else:
    print("gcc and valgrind are needed here (apt-get install gcc valgrind)")

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: a process asleep in `msgrcv`
#
# `/proc/PID/syscall` starts with the number of the call it sleeps in: `msgrcv` is 70 on
# x86-64 (69 is `msgsnd`; arm64 numbers differ: 188). `ipcs -q` shows the queue with 0
# `used-bytes` and 0 `messages`: nothing to receive. The worker's own `alarm` and `procs`'
# timeout make sure it never hangs for ever.

# %%
# %%worker hang
"""Block in msgrcv on an empty System V queue (an alarm ends it after 20 s)."""
import signal

import sysv_ipc


def wait_for_message(key):
    signal.alarm(20)                       # C: alarm(20): the worker's own deadline
    sysv_ipc.MessageQueue(key).receive()   # C: msgrcv(id, &msg, size, 0, 0): sleeps, the queue is empty
    return "received"

# %%
with objects.sysv_msg(note="hang") as q:
    group = procs.start(hang.wait_for_message, [(q.key,)], start_method="spawn", timeout=60)
    try:
        pid = group.pids[0]
        call = procinfo.wait_until_blocked(pid, timeout=20)
        number = open(f"/proc/{pid}/syscall").read().split()[0]
        row = inventory.sysv_row("msg", q.id)
    finally:
        group.kill()
print("the worker sleeps in:", call)
print("/proc/PID/syscall starts with msgrcv's number on this architecture:",
      "yes" if procinfo.SYSCALLS.get(os.uname().machine, {}).get(int(number)) == "msgrcv" else "no")
print("ipcs -q (/proc/sysvipc/msg): messages", row["qnum"], "| used bytes", row["cbytes"])

# %% [markdown]
# ## References
#
# * [strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html) (`-e trace=%ipc`, `-c`),
#   [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`syscall`, `maps`, `smaps`),
#   [Documentation/filesystems/proc.rst](https://docs.kernel.org/filesystems/proc.html)
#   (smaps: shared "even when mapped in the same process multiple times"),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`GETNCNT`, `GETPID`),
#   [sem_getvalue(3)](https://man7.org/linux/man-pages/man3/sem_getvalue.3.html),
#   [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html).
# * [Valgrind manual](https://valgrind.org/docs/manual/manual.html): Helgrind and DRD;
#   [the valgrind-users thread on atomics](https://sourceforge.net/p/valgrind/mailman/message/36423959/).
