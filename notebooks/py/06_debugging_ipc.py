# %% [markdown]
# # Appendix: seeing what really happens — system calls, mappings, leaks and hangs
#
# The chapter names debugging as one of the hard parts of IPC: *bugs that are hard to
# reproduce*. Two processes share a segment, one of them hangs, or a crash leaves objects
# behind, and `print` shows nothing useful: the interesting part happens in the kernel.
# This appendix teaches the tools that look there (`strace`, `/proc`, `ipcs`/`ipcrm`,
# `lsof`, Valgrind's Helgrind and DRD) on the course's own demos, and proves the course's
# promise: *the C call behind each Python call*.
#
# **Learning goals.** After this notebook you can
# 1. run a program under `strace -f`, read its log, and say which system calls each Python
#    line made (and which lines made none);
# 2. read `/proc/PID/maps` and `/proc/PID/smaps` of a worker: where the segment is mapped,
#    its size, how much of it is resident, and whether its pages are shared or private;
# 3. find the IPC objects a crashed run left (`ipcs`, `lsipc`, `/dev/shm`), find who holds
#    them (`nattch`, `lsof`, `/proc/*/fd`, `/proc/*/maps`) and remove them safely;
# 4. diagnose a hang from outside: who waits on what (`GETNCNT`, `/proc/PID/wchan`,
#    `/proc/PID/syscall`, the kernel and Python stacks, `strace -p`), then end it;
# 5. make a hidden race show, and say what Helgrind, DRD and ThreadSanitizer can and cannot
#    see.
#
# **Time:** about 40 min of reading and running, measured: reading about 39 min
# (5,800 words of text and code, counted in this notebook's source, at 150 words a
# minute), running at most about 1 min (every cell executed with nbclient: 8 to 43 s in our
# builds, depending on the machine's load; the last cell prints this build's time).
# The Try-it prompts, the break-it step and the
# exercises come on top. **Prerequisites:** 19.1–19.3. Every prompt has
# an answer in [`answers/06_debugging_ipc_answers.ipynb`](answers/06_debugging_ipc_answers.ipynb).
#
# The traced scripts live in [`ipclab/experiments/trace_demos.py`](../ipclab/experiments/trace_demos.py), the
# workers in [`debug_workers.py`](../ipclab/experiments/debug_workers.py) and [`race_window.py`](../ipclab/experiments/race_window.py);
# the strace runner in [`tracing.py`](../ipclab/experiments/tracing.py), its log reader in
# [`strace_log.py`](../ipclab/experiments/strace_log.py), Helgrind and TSan in
# [`race_detectors.py`](../ipclab/experiments/race_detectors.py); the `/proc`
# readers in [`ipclab/core/procinfo.py`](../ipclab/core/procinfo.py). Where `strace` or `valgrind` is
# missing, or ptrace is forbidden (many containers), the cells say how to get them and show
# the logs recorded on the course's machine instead, and each verdict says which log it read.

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

import time

from ipclab import doctor, inventory, objects, procinfo, procs, race_detectors, race_window, registry, semset
from ipclab import debug_workers as dw
from ipclab import strace_log, tracing
from ipclab import trace_demos as td
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show

T0 = time.monotonic()
ccell.load()  # registers %%worker: a cell that becomes an importable module (fork, forkserver, spawn)
doctor.setup_notebook("strace", "valgrind", "gcc", "ipcs")
LIVE_STRACE = tracing.skip_unless_strace()
LIVE_VALGRIND = doctor.skip_unless("valgrind")
TRACES = "live" if LIVE_STRACE else "recorded on the course's machine"
HELGRIND = "live" if LIVE_VALGRIND else "recorded on the course's machine"
print("system-call traces:", TRACES)
print("Helgrind reports:  ", HELGRIND)

# %% [markdown]
# ## 1. The system calls behind each Python line
#
# `strace` runs a program and prints every system call it makes, with its arguments and
# result. Its options that matter here:
#
# | option | what it does |
# | --- | --- |
# | `-f` | follow children (`fork`, threads): each line starts with the pid that made the call |
# | `-tt` | wall-clock time with microseconds, to order events between processes |
# | `-e trace=openat,mmap,futex,semtimedop,...` | only these calls (a Python start-up alone makes thousands) |
# | `-s 64` | show up to 64 bytes of each string or buffer |
# | `-o FILE` | write the log to a file, not to stderr |
# | `-p PID` | attach to a running process (section 4) |
#
# How do we know which Python line made which call? The demo runs under a *line tracer*
# (`sys.settrace`) that, before each line, asks the kernel about a file that cannot
# exist: `access("/ipclab-marker/L94/shm%20%3D%20...", F_OK) = -1 ENOENT`. The marker
# carries the line number and text; everything until the next marker belongs to that line.
# Here is the first demo, the whole of it:

# %%
import inspect as pyinspect
show(td.posix_shm, mark=["posix_ipc.SharedMemory(", "mmap.mmap(", 'm[0:5] = b"hello"', "bytes(m[0:5])", "shm.unlink()"])

# %% [markdown]
# (Lines ending in `# bookkeeping` are ipclab's registry, which removes what a crash would
# leave; they are not marked.) Now run it under strace, a fresh Python in a subprocess with
# a timeout, and look at a few raw lines of the log first:

# %%
# NBVAL_IGNORE_OUTPUT
print("$", " ".join(["strace", "-f", "-tt", "-s", "64", "-e", "trace=access,openat,ftruncate,mmap,...",
                     "-o", "trace.log", "--", "python"] + tracing.demo_command("posix_shm")[1:]))
shm_steps, shm_log, source = tracing.trace_or_recorded("posix_shm", LIVE_STRACE)
raw = shm_log.splitlines()
first = next(i for i, l in enumerate(raw) if "/ipclab-marker/" in l)
print(f"({source} log: {len(raw)} lines)")
print("\n".join(l[:150] for l in raw[first:first + 8]))

# %% [markdown]
# Each line: pid, time, `name(arguments) = result`, and for a failure the `errno` name
# (`-1 ENOENT (No such file or directory)`). Between two markers you also see ipclab's
# registry writing its small JSON record: a raw log mixes what you care about with
# everything else, which is why one always filters. `strace_log.parse` reads these lines (joining the
# `<unfinished ...>` / `<... resumed>` halves that `-f` writes when two processes interleave),
# and `strace_log.group` keeps, under each Python line, the calls that concern IPC: files in
# `/dev/shm` and `/dev/mqueue` followed by their file descriptor and mapping address, futexes,
# and the System V and POSIX IPC calls.

# %%
# NBVAL_IGNORE_OUTPUT
print(strace_log.format_table(shm_steps))

# %%
def made(steps, fragment):
    """'name + name + ...' of the calls the line containing *fragment* made ('none' if none)."""
    return " + ".join(strace_log.calls(steps, fragment)) or "none"

print(f"[{TRACES} strace log] the verdicts below read this log")
paths = strace_log.call_paths(shm_steps, "posix_ipc.SharedMemory(")
print("shm_open became: openat(/dev/shm/...) + ftruncate:",
      "yes" if made(shm_steps, "posix_ipc.SharedMemory(") == "openat + ftruncate"
      and paths[0][1].startswith("/dev/shm/") else "no")
print("mmap.mmap became (fstat, a dup of the fd, then) mmap(MAP_SHARED):",
      "yes" if strace_log.calls(shm_steps, "mmap.mmap(")[-1] == "mmap" else "no")
print("writing to the mapping made a system call:", "no" if made(shm_steps, 'm[0:5] = b"hello"') == "none" else "yes")
print("reading from the mapping made a system call:", "no" if made(shm_steps, "bytes(m[0:5])") == "none" else "yes")
print("shm.unlink() became:", made(shm_steps, "shm.unlink()"), "of", strace_log.call_paths(shm_steps, "shm.unlink()")[0][1][:9] + "...")

# %% [markdown]
# So `shm_open` is not a system call: glibc turns it into `openat` on a file of the
# `/dev/shm` tmpfs (with `O_NOFOLLOW|O_CLOEXEC` added), and `shm_unlink` into `unlink`.
# Once the segment is mapped, **reading and writing it makes no system call at all**: the
# CPU loads and stores into pages the kernel mapped once. That is why shared memory is
# fast, and why `strace` cannot show you who wrote what in it (section 5 comes back to this).
#
# > **Try it.** Python's `mmap.mmap` made an `fcntl(fd, F_DUPFD_CLOEXEC)` before its `mmap`:
# > it keeps its own copy of the descriptor. Which line closes that copy?
# > [answer](answers/06_debugging_ipc_answers.ipynb#try-it-1)
#
# ### A POSIX semaphore: a futex only when someone must sleep
#
# The next demo takes and gives a semaphore with nobody waiting, then forks a child that
# must wait for it, and wakes it.

# %%
show(td.posix_sem, mark=["os.fork()", "procinfo.wait_until_blocked", "sem.release()"])

# %%
# NBVAL_IGNORE_OUTPUT
sem_steps, sem_log, source = tracing.trace_or_recorded("posix_sem", LIVE_STRACE)
print(strace_log.format_table(sem_steps))

# %%
print(f"[{TRACES} strace log] the verdicts below read this log")
created = strace_log.calls(sem_steps, "posix_ipc.Semaphore(")
print("sem_open became a small file in /dev/shm (openat, write, mmap, link):",
      "yes" if all(c in created for c in ("openat", "write", "mmap", "link")) else "no")
before_fork = sem_steps[:next(i for i, s in enumerate(sem_steps) if "os.fork()" in s.text)]
print("uncontended sem.acquire()/sem.release() made a system call:",
      "no" if not any(s.calls for s in before_fork if ".acquire(" in s.text or ".release(" in s.text) else "yes")
wait = [c for s in sem_steps if s.pid != sem_steps[0].pid for c in s.calls if c.name == "futex"]
wake = [c for s in sem_steps if s.pid == sem_steps[0].pid and "sem.release()" in s.text for c in s.calls]
mapped = [c for c in strace_log.syscalls(sum((s.calls for s in sem_steps), [])) if c.name == "mmap"]
print("the child that had to wait slept in: futex", "FUTEX_WAIT" if wait and "FUTEX_WAIT" in wait[0].args else "?")
print("the release that woke it made: futex", "FUTEX_WAKE" if wake and "FUTEX_WAKE" in wake[-1].args else "?")
print("both futex calls name the semaphore's address in the /dev/shm mapping:",
      "yes" if wait and wake and mapped and wait[0].arg(0) == wake[-1].arg(0) == mapped[0].ret else "no")

# %% [markdown]
# A POSIX semaphore is 32 bytes in a file `/dev/shm/sem.NAME`, mapped `MAP_SHARED` in every
# process that opens it (glibc creates it under a temporary name and `link`s it, so nobody
# sees it half-initialised). `sem_wait` and `sem_post` are atomic instructions on that
# memory; only when a process must **sleep** does it ask the kernel: `futex(addr,
# FUTEX_WAIT...)`, and the poster wakes it with `futex(addr, FUTEX_WAKE, 1)`. How do two
# processes, which may map the semaphore at different virtual addresses, meet on one futex?
# For a shared futex the kernel computes a key from the *mapping*, not from the address:
# the file behind it and the offset of the word in that file ("( inode->i_sequence, page
# offset within mapping, offset_within_page )", `get_futex_key` in
# [kernel/futex/core.c](https://github.com/torvalds/linux/blob/master/kernel/futex/core.c));
# a private futex is keyed by (process address space, virtual address). (Futexes marked `_PRIVATE`, which never leave one
# process, are Python's own locks; `strace_log.group` leaves them out.)
#
# ### System V semaphores and queues, POSIX queues
#
# Every System V call *is* a system call, and so are POSIX message queues. One compact table
# for all the course's mechanisms: each Python line, and the calls it made.

# %%
all_steps = {}
for name in ("sysv_sem", "sysv_msg", "sysv_shm", "posix_mq"):
    all_steps[name] = tracing.trace_or_recorded(name, LIVE_STRACE)[0]
for name, steps in all_steps.items():
    print(f"--- {name}")
    for s in sorted(steps, key=lambda s: s.lineno):
        if s.calls:
            print(f"  {s.text[:62]:62s} -> {' + '.join(dict.fromkeys(s.names()))}")

# %%
print(f"[{TRACES} strace log] the verdicts below read these logs")
sv = all_steps["sysv_sem"]
print("sem.acquire() became one semop-family call:", "yes" if made(sv, "sem.acquire()") in ("semop", "semtimedop") else "no")
print("sem.remove() became: semctl(IPC_RMID):",
      "yes" if any("IPC_RMID" in c.args for s in sv if "sem.remove()" in s.text for c in s.calls) else "no")
mq = all_steps["sysv_msg"]
print("q.send / q.receive became: msgsnd / msgrcv:", "yes" if (made(mq, "q.send("), made(mq, "q.receive(")) == ("msgsnd", "msgrcv") else "no")
pm = all_steps["posix_mq"]
print("mq.send(timeout=5) became: mq_timedsend:", "yes" if made(pm, "mq.send(") == "mq_timedsend" else "no")
seg = all_steps["sysv_shm"]
print("sysv_ipc SharedMemory() became: shmget + shmat:", "yes" if made(seg, "sysv_ipc.SharedMemory(").startswith("shmget + shmat") else "no")
print("seg.write() copied with a system call:", "no" if "write" not in made(seg, "seg.write(") else "yes",
      f"(it asked the size first: {made(seg, 'seg.write(')})")

# %% [markdown]
# Things the table teaches that no man page puts side by side:
# - `sem.acquire()` of sysv_ipc is `semop` in C, but on this glibc the kernel sees
#   `semtimedop(id, ops, n, NULL)`: `semop` is a library wrapper. strace shows the truth.
# - `mq_send` is `mq_timedsend` for the kernel, and the queue's name loses its `/`.
# - `sysv_ipc`'s `write()` asks the kernel the segment's size (`shmctl(IPC_STAT)`) each time,
#   then copies with `memcpy`: the copy itself, like any access to shared memory, is silent.
#
# > **Try it.** In a terminal: `strace -f -e trace=%ipc,futex python -m ipclab.experiments.trace_demos demo sysv_msg`
# > (`%ipc` is strace's class of System V calls). Then add `-c`: a count per call instead of a log.
# > [answer](answers/06_debugging_ipc_answers.ipynb#try-it-2)
#
# ## 2. The mapping seen from outside: `/proc/PID/maps` and `smaps`
#
# Two workers map the same 1 MiB POSIX segment (256 pages). Worker A writes one byte in each
# of the first 64 pages, worker B in all 256, and both hold their mapping while we read
# their `/proc/PID/smaps` from here. Each worker runs:

# %%
show(dw.hold_mapping, mark=["mmap.mmap(shm.fd, size)", "m[i * page] = 1", "done.acquire(timeout)"])

# %% [markdown]
# **Predict.** For A and for B: how many kB of the mapping are resident (`Rss`), how many
# count as shared, how many as private, and what is each one's `Pss`? (A page is 4 kB.)

# %%
PAGE = mmap.PAGESIZE
SIZE = 256 * PAGE
# C: fd = shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600); ftruncate(fd, SIZE); sem_open(..., O_CREAT|O_EXCL, 0600, 0) twice
with objects.posix_shm(SIZE, tag="maps") as shm, objects.posix_sem(0, tag="ready") as ready, \
        objects.posix_sem(0, tag="done") as done:
    group = procs.start(dw.hold_mapping, [(shm.name, SIZE, 64, ready.name, done.name, 30),
                                          (shm.name, SIZE, 256, ready.name, done.name, 30)],
                        names=["A", "B"], start_method="spawn", timeout=60)
    try:
        dw.await_posts(ready, 2, group, timeout=30)  # both workers have mapped and touched their pages
        seen = {name: procinfo.find(procinfo.smaps(pid), shm.name)[0] for name, pid in zip("AB", group.pids)}  # C: open/read /proc/PID/smaps
        lines = {name: [l for l in open(f"/proc/{pid}/maps") if shm.name in l] for name, pid in zip("AB", group.pids)}
        held = procinfo.holders(shm.name)
        pids = dict(zip("AB", group.pids))
    finally:
        done.release()
        done.release()
        group.join()

# %% [markdown]
# **Reveal** (click the collapsed outputs): the counters, then the verdicts read from them.

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("the line in /proc/PID/maps of A:\n ", lines["A"][0].strip())
fields = ("Size", "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
print(f"\n{'kB':8s}" + "".join(f"{f:>14s}" for f in fields))
for name, m in seen.items():
    print(f"{name:8s}" + "".join(f"{m.counts[f]:>14d}" for f in fields))
print("\nwho holds it (procinfo.holders):", held)

# %% tags=["reveal"]
kb = PAGE // 1024
A, B = seen["A"], seen["B"]
print("mapped MAP_SHARED ('s' in rw-s):", "yes" if A.shared and B.shared else "no")
print("Size is the whole segment (1024 kB) in both:", "yes" if A.counts["Size"] == B.counts["Size"] == SIZE // 1024 else "no")
print("Rss counts only the pages each one touched (64 and 256 pages):",
      "yes" if (A.counts["Rss"], B.counts["Rss"]) == (64 * kb, 256 * kb) else "no")
print("the 64 pages both touched are 'Shared' in both:",
      "yes" if A.counts["Shared_Dirty"] + A.counts["Shared_Clean"] == B.counts["Shared_Dirty"] + B.counts["Shared_Clean"] == 64 * kb else "no")
print("the 192 pages only B touched are 'Private' in B, although the mapping is MAP_SHARED:",
      "yes" if B.counts["Private_Dirty"] + B.counts["Private_Clean"] == 192 * kb else "no")
print("Pss splits each shared page between its 2 users (A: 64 pages / 2):", "yes" if A.counts["Pss"] == 32 * kb else "no")
print("each worker holds it by its mapping (and Python's mmap keeps a dup'ed fd):",
      "yes" if all((pids[n], "mapped") in held for n in "AB") else "no")

# %% [markdown]
# Reading `smaps` right:
# - **Size** is the virtual length of the mapping; **Rss** (resident set) the pages this
#   process has in its page tables *now*. A page enters on first touch (a page fault, no
#   system call), so Rss grows with use, not with `ftruncate`.
# - **Shared/Private** count how many processes map a page *at this moment*: a page mapped
#   by one process only is "private" **even in a `MAP_SHARED` mapping**. Whether the mapping
#   is shared is the `s` in `rw-s` (`p` = private, copy-on-write) and `sh` in `VmFlags`.
# - **Pss** (proportional set size) divides each page by the number of processes mapping it:
#   summing Pss over all processes counts shared memory once. `smem` and `top`'s "SHR" use these.
# - The mapping's name is the file: `/dev/shm/NAME` for POSIX, `/SYSV<key> (deleted)` for a
#   System V segment (section 3), `/dev/shm/sem.NAME` for a POSIX semaphore.
#
# > **Try it.** Let worker A touch all 256 pages too. Predict Rss, Shared_Dirty, Private_Dirty
# > and Pss of both before you run it. Then try `pmap -X PID` in a terminal on a held worker.
# > [answer](answers/06_debugging_ipc_answers.ipynb#try-it-3)
#
# ## 3. Leaks and orphans: what a crashed run leaves
#
# System V objects (and POSIX ones until `unlink`) belong to the **kernel**, not to the
# process that made them: no file descriptor ties them to a process, so nothing closes them
# when it dies. A crash between create and remove leaves them until someone removes them or
# the machine reboots. Let's crash on purpose: a fresh Python (its own ipclab run) creates a
# POSIX segment, a System V segment and a System V semaphore, then kills itself with SIGKILL
# (no `finally`, no `atexit`: like `kill -9` or a segfault). Its registry lives in a
# directory of its own, so that only this notebook cleans it (at the latest, any later start
# of ipclab sweeps runs whose owner is dead). The crashing program, whole:

# %%
show(td.crash_run, mark=["create_posix_shm", "create_sysv_shm", "create_sysv_sem", "os.kill(os.getpid(), signal.SIGKILL)"])

# %%
import tempfile
crash_state = tempfile.mkdtemp(prefix="ipclab-crash-")  # its own registry dir: no other run's sweep touches it
env = {k: v for k, v in os.environ.items() if k != registry.ENV_RUN}  # a run of its own
env[registry.ENV_STATE] = crash_state
crash = subprocess.run([sys.executable, "-m", "ipclab.experiments.trace_demos", "crash"], env=env,
                       capture_output=True, text=True, timeout=60)
left = json.loads(crash.stdout)
print("the creator died of:", signal.Signals(-crash.returncode).name)
print("its POSIX segment is still in /dev/shm:", os.path.exists("/dev/shm" + left["posix_shm"]))
row = inventory.sysv_row("shm", left["sysv_shm"])
print("its System V segment is still listed (/proc/sysvipc/shm):", row is not None, "| attached:", row and row["nattch"])
print("its semaphore set is still listed:", inventory.sysv_row("sem", left["sysv_sem"]) is not None)

# %% [markdown]
# Finding them with the standard tools (try them in a terminal too). `ipcs` reads
# `/proc/sysvipc/*`; `lsipc` (util-linux) is the newer overview with limits; POSIX objects
# are files:

# %%
# NBVAL_IGNORE_OUTPUT
def sh(*cmd):
    """Run a command (with a timeout) and print the lines about the crashed run's objects."""
    if not shutil.which(cmd[0]):
        return print(f"$ {' '.join(cmd)}\n({cmd[0]} is not installed: apt-get install util-linux)\n")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    keep = [l for l in out.splitlines() if f"{left['sysv_shm_key']:08x}" in l or str(left["sysv_shm"]) in l.split()[:2]
            or left["posix_shm"][1:] in l or l.lower().startswith(("key", "  key", "shmid", "resource", "------"))]
    print("$", " ".join(cmd), "\n" + "\n".join(keep) + "\n")

sh("ipcs", "-m")                 # key, shmid, owner, perms, bytes, nattch, status
sh("ipcs", "-m", "-p")           # cpid (creator) and lpid (last shmat/shmdt)
sh("lsipc", "-m")                # the same, with more columns
sh("ls", "-l", "/dev/shm")

# %% [markdown]
# Before removing anything, ask **who holds it**. A System V segment has an attach count,
# `nattch` (`ipcs -m`), and appears in the maps of each attached process as
# `/SYSV<key> (deleted)`. A POSIX segment is held through an open fd or a mapping of
# `/dev/shm/NAME`: that is what `lsof` and `fuser` look for in `/proc/*/fd` and
# `/proc/*/maps`. Semaphores and message queues have no attach count at all: nothing tells
# you who "uses" them, only who last operated (`GETPID`, `lspid`/`lrpid`).
#
# Here a worker attaches to the orphaned System V segment while we look; the worker:

# %%
show(dw.hold_sysv_shm)

# %%
fragment = procinfo.sysv_shm_fragment(left["sysv_shm_key"])
with objects.posix_sem(0, tag="ready") as ready, objects.posix_sem(0, tag="done") as done:
    with procs.start(dw.hold_sysv_shm, [(left["sysv_shm"], ready.name, done.name, 30)],
                     start_method="spawn", timeout=60) as holder:
        dw.await_posts(ready, 1, holder, timeout=30)
        nattch = inventory.sysv_row("shm", left["sysv_shm"])["nattch"]
        who = procinfo.holders(fragment)
        lsof = subprocess.run(["lsof", "-w", "/dev/shm" + left["posix_shm"]], capture_output=True, text=True,
                              timeout=30).stdout if shutil.which("lsof") else ""
        # ipcrm -m on an attached segment: only *marked* for removal, freed at the last detach
        subprocess.run(["ipcrm", "-m", str(left["sysv_shm"])], check=True, timeout=20)  # C: shmctl(shmid, IPC_RMID, NULL)
        marked = inventory.sysv_row("shm", left["sysv_shm"])
        done.release()
    gone_after_detach = inventory.sysv_row("shm", left["sysv_shm"]) is None
print("nattch while the worker is attached:", nattch)
print("the worker's /proc/PID/maps shows /SYSV<key> (deleted):", "yes" if (holder.pids[0], "mapped") in who else "no")
print("after ipcrm -m, still there while attached:", marked is not None, "| its key became:", f"0x{marked['key'] & 0xFFFFFFFF:08x}")
print("gone once the worker detached:", gone_after_detach)
print("lsof on the crashed run's POSIX segment:", "nobody holds it" if not lsof.strip() else lsof)

# %% [markdown]
# `IPC_RMID` (`ipcrm -m`) on a segment that is still attached does not pull the memory from
# under its users: the key becomes `0x00000000` (`ipcs` shows status `dest`), nobody new can
# find it, and the kernel frees it at the last `shmdt`. Semaphore sets and queues, on the
# other hand, vanish at once, and their waiters wake up with `EIDRM`.
#
# **Removing safely**, in this order: (1) is it yours (`ipcs` owner, our names start with
# `/ipl<uid>-`, our keys with `0x1c`)? (2) is its creator dead (`ipcs -p` cpid, `ps -p`)?
# (3) does anyone hold it (`nattch`, `lsof`)? Then `ipcrm -m/-s/-q ID`, or `rm /dev/shm/NAME`.
# `ipclab clean` does all three checks for the course's objects: it removes what runs whose
# owner process is dead left, and keeps live runs' objects.

# %%
# NBVAL_IGNORE_OUTPUT
from pathlib import Path
try:
    print("$ ipclab clean")
    print(subprocess.run([sys.executable, "-m", "ipclab", "clean"], env=env, capture_output=True, text=True,
                         timeout=60).stdout)
    record_gone = not (Path(crash_state) / left["run"]).exists()
finally:  # whatever happened above, nothing of the crashed run survives this cell
    registry.remove_run(registry.Run(left["run"], Path(crash_state) / left["run"]))
    shutil.rmtree(crash_state, ignore_errors=True)

# %%
print("the crashed run's POSIX segment is gone:", not os.path.exists("/dev/shm" + left["posix_shm"]))
print("its semaphore set is gone:", inventory.sysv_row("sem", left["sysv_sem"]) is None)
print("its record is gone:", record_gone)

# %% [markdown]
# > **Try it.** In a terminal, start `python -m ipclab.experiments.trace_demos crash`, then `ipclab ls`
# > and `ipcs -m -p`: which columns tell you the creator is dead? Then `ipclab clean`.
# > [answer](answers/06_debugging_ipc_answers.ipynb#try-it-4)
#
# ## 4. Hangs: who waits on what?
#
# Two workers take two locks in opposite orders, the classic ABBA deadlock of 19.2. We use a
# System V set of four semaphores (`ipclab.mechanisms.semset`): locks 0 and 1, plus "ready" (2) and
# "go" (3) so that both hold their first lock before either asks for the second. The workers'
# waits have a long timeout; `procs` would kill them at its own deadline. We do not wait for
# that: we diagnose them from outside, then end them.

# %%
show(dw.take_two_sysv, mark=["sems.acquire(first, timeout=timeout)", "sems.acquire(3, timeout=timeout)",
                             "sems.acquire(second, timeout=timeout)"])

# %%
# NBVAL_IGNORE_OUTPUT
with semset.create(4, values=[1, 1, 0, 0], note="abba") as sems:  # C: semget(IPC_CREAT|IPC_EXCL|0600) + semctl(SETALL)
    pair = procs.start(dw.take_two_sysv, [(sems, 0, 1, 60), (sems, 1, 0, 60)], names=["AB", "BA"],
                       start_method="spawn", timeout=90)
    try:
        sems.acquire(2, n=2, timeout=30)   # both hold their first lock
        sems.release(3, n=2)               # go: now each asks for the other's lock
        blocked = [procinfo.wait_until_blocked(pid, timeout=20) for pid in pair.pids]
        table = sems.snapshot()            # C: semctl(id, 0, GETALL, vals); semctl(id, i, GETNCNT / GETZCNT / GETPID)
        ipcs = subprocess.run(["ipcs", "-s", "-i", str(sems.id)], capture_output=True, text=True, timeout=20).stdout
        kernel = [procinfo.snapshot(pid) for pid in pair.pids]
        attached = tracing.attach(pair.pids[0], seconds=1.0) if LIVE_STRACE else []
        py_spy = shutil.which("py-spy")
        py_stack = (subprocess.run([py_spy, "dump", "--pid", str(pair.pids[0])], capture_output=True, text=True,
                                   timeout=30).stdout if py_spy else None)
        os.kill(pair.pids[0], signal.SIGUSR1)  # C: kill(pid, SIGUSR1): faulthandler in the worker prints its Python stack
        import time
        time.sleep(0.5)                    # let it write; pair.kill() relays it below
    finally:
        pair.kill()                        # SIGKILL both, reap, relay what they printed
    print("semaphores (value, processes waiting to decrement = GETNCNT, last pid = GETPID):")
    for r in table:
        print(f"  sem {r['sem']}: value {r['value']}  ncnt {r['ncnt']}  zcnt {r['zcnt']}  pid {r['pid']}")
    print("\n$ ipcs -s -i", sems.id, "\n" + ipcs)
    print(procinfo.format_snapshots(kernel))
    print("\nstrace -p on worker AB:", *(c.short(120) for c in strace_log.syscalls(attached)) or ["(strace not available)"], sep="\n  ")
    print("\npy-spy dump:", py_stack or "py-spy is not installed (pip install py-spy); faulthandler's stack (the [AB] lines) stands in")

# %%
workers = dict(zip(pair.pids, ("AB", "BA")))
print("both workers sleep in:", " and ".join(sorted(set(b or "?" for b in blocked))))
print("lock values:", [r["value"] for r in table[:2]], "| both locks taken:",
      "yes" if [r["value"] for r in table[:2]] == [0, 0] else "no")
print("GETNCNT: one process waits on each lock:", "yes" if [r["ncnt"] for r in table[:2]] == [1, 1] else "no")
print("GETPID names the other worker as last user of each awaited lock:",
      "yes" if {workers.get(table[1]["pid"]), workers.get(table[0]["pid"])} == {"AB", "BA"} else "no")
print("the kernel stack / wchan shows a System V semaphore wait:",
      "yes" if all("sem" in " ".join((k["stack"] or []) + [k["wchan"] or ""]) for k in kernel) else "hidden here")
print("after pair.kill(), both workers are gone:", all(procinfo.state(pid) is None for pid in pair.pids))

# %% [markdown]
# What each tool said, and where it reads it:
# - **`semctl(GETNCNT/GETZCNT)`** (`sems.snapshot()`, `ipcs -s -i ID`): how many processes
#   sleep waiting for a semaphore to grow / to reach zero; **`GETPID`**: who operated last.
#   Each lock is 0 with one waiter, and its last user is the *other* worker: a cycle, so a
#   deadlock. POSIX semaphores offer nothing like it (only the futex word in memory).
# - **`/proc/PID/stat`** state `S` (sleeping, interruptible), **`/proc/PID/syscall`**: the
#   number of the call it sleeps in (`semtimedop`, `futex`, `msgrcv`...) and its arguments;
#   **`/proc/PID/wchan`** and **`/proc/PID/stack`** (root only): the kernel functions.
# - **`strace -p PID`** attaches to a running process and shows the call it sleeps in, with
#   its arguments (here the semaphore id and the operation); Ctrl-C detaches.
# - The **Python stack**: `py-spy dump --pid PID` (pip install py-spy) reads it from outside;
#   without it, `faulthandler.register(SIGUSR1)` in the worker prints it on `kill -USR1 PID`
#   (the `[AB]` lines above, relayed by `procs`).
#
# Then end it: kill one process of the cycle (with `SEM_UNDO` its lock comes back, see 19.2),
# or all, as `pair.kill()` did. In your own code, the fix is a global lock order, or taking
# both locks in one atomic `semop`.
#
# > **Try it.** Change the second pair's arguments to `(sems, 0, 1, 60)`: same order for
# > both. Does it still hang? What do GETNCNT and GETPID show while one waits for the other?
# > [answer](answers/06_debugging_ipc_answers.ipynb#try-it-5)
#
# ## 5. Races: why they hide, how to make them show
#
# A race needs two processes inside the same few instructions at the same time. On an idle
# machine with one job each, the window is a few nanoseconds wide and the scheduler rarely
# cuts a process there: the bug hides for weeks, then shows under load. To make it show:
# **more processes**, a **wider window** (a `sched_yield()` or a sleep between read and
# write), and **pinning** them to one CPU so that the scheduler switches processes right
# inside the window (`sched_yield` on a CPU where the other one waits). Counter experiments,
# no lock, each worker adds 1 to a shared counter `n` times; this is the worker (marked:
# the read, the window, the write):

# %%
show(race_window.unlocked_increments, mark=["value = COUNTER.unpack_from", "os.sched_yield()", "time.sleep(0.001)",
                                   "COUNTER.pack_into(m, 0, value + 1)"])

# %% [markdown]
# **Predict.** Five runs: 2 workers × 20,000 with no window, the same pinned to one CPU,
# 2 × 2,000 with a `sched_yield()` in the window (free, then pinned), and 4 × 200 with a
# 1 ms sleep in the window. Which of them lose updates? Can any count *more* than expected?

# %%
configs = [(2, 20000, "none", False), (2, 20000, "none", True), (2, 2000, "yield", False),
           (2, 2000, "yield", True), (4, 200, "sleep", False)]
results = [race_window.race_experiment(w, n, window, pin, start_method="fork", timeout=60) for w, n, window, pin in configs]
print("ran", len(results), "experiments")

# %% [markdown]
# **Reveal** (click the collapsed outputs): this run's table, then the verdicts that hold in
# every run.

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print(f"{'workers':>7s} {'n':>6s} {'window':>7s} {'pinned':>6s} {'expected':>9s} {'final':>7s} {'lost':>7s}")
for r in results:
    print(f"{r['workers']:7d} {r['n']:6d} {r['window']:>7s} {str(r['pinned']):>6s} {r['expected']:9d} {r['final']:7d} {r['lost']:7d}")

# %% tags=["reveal"]
print("a 1 ms sleep in the window with 4 workers lost updates:", "yes" if results[4]["lost"] > 0 else "no")
print("no run ever counted more than expected (updates are lost, never invented):",
      "yes" if all(0 < r["final"] <= r["expected"] for r in results) else "no")

# %% [markdown]
# Run the experiment cell again: the rows without a sleep change from run to run, sometimes
# from nothing lost to half lost. On two cores, the loss depends on how the two loops happen
# to overlap; pinned to one CPU, a process loses only when it is preempted *inside* the
# window, but then it writes back a stale value over everything the other one did during a
# whole time slice: rare, and huge. That is exactly why races are "hard to reproduce": only
# the widened window loses updates every time. A test that passes proves little; a test that forces the
# interleaving proves a lot (19.1 replays races step by step).
#
# ### Break it yourself: remove the lock
#
# The worker below is written in this cell (`%%worker`: a module that fork, forkserver and
# spawn children can all import). It adds 1 to a shared counter `n` times, each addition
# under a POSIX semaphore used as a lock, with a 0.5 ms window between the read and the write.
# As committed, the lock is on and the counter is exact. Break it: set `LOCKED = False` (or
# delete the `acquire`/`release` lines), predict the count, and run the two cells again.

# %%
# %%worker locked_counter
"""Add 1 to a shared counter n times, under a POSIX semaphore used as a lock."""
import mmap
import struct
import time

import posix_ipc

COUNTER = struct.Struct("q")
LOCKED = True        # Break it: LOCKED = False


def add(shm_name, lock_name, n, timeout):
    shm = posix_ipc.SharedMemory(shm_name)          # C: fd = shm_open(name, O_RDWR, 0)
    m = mmap.mmap(shm.fd, COUNTER.size)             # C: p = mmap(NULL, 8, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm.close_fd()
    lock = posix_ipc.Semaphore(lock_name)           # C: sem_open(name, 0)
    for _ in range(n):
        if LOCKED:
            lock.acquire(timeout)                   # C: sem_timedwait(lock, &ts)
        value = COUNTER.unpack_from(m, 0)[0]        # C: long value = *counter;
        time.sleep(0.0005)                          # C: usleep(500): the window, made wide
        COUNTER.pack_into(m, 0, value + 1)          # C: *counter = value + 1;
        if LOCKED:
            lock.release()                          # C: sem_post(lock)
    m.close()
    lock.close()
    return n

# %%
workers, n = 4, 100
with objects.posix_shm(8, tag="count") as shm, objects.posix_sem(1, tag="lock") as lock:
    procs.run(locked_counter.add, n=workers, args=(shm.name, lock.name, n, 10), start_method="spawn", timeout=60)
    with mmap.mmap(shm.fd, 8) as m:
        final = int.from_bytes(m[:8], "little", signed=True)
print(f"{workers} workers x {n} additions, LOCKED = {locked_counter.LOCKED}: the counter is exact:",
      "yes" if final == workers * n else f"no ({final} of {workers * n}: {workers * n - final} lost)")
#
# ### Helgrind, DRD and ThreadSanitizer (for C)
#
# For C programs, tools watch every memory access and every lock of a program:
# - **Helgrind** and **DRD** (Valgrind tools: `valgrind --tool=helgrind ./prog`) run the
#   program on a simulated CPU and report two accesses to the same address, one a write, not
#   ordered by any lock or happens-before relation (pthread mutexes, condition variables,
#   semaphores, joins). Slow (20-100x) but no recompilation.
# - **ThreadSanitizer** (`gcc -fsanitize=thread -g`): the compiler instruments each access;
#   faster (5-15x), needs a rebuild.
#
# All three see **threads of one process**. Two *processes* racing on a shared segment are
# out of their sight: each process is checked alone, and the other one's writes are
# invisible. For processes, the defences are the course's: a lock in the segment, timeouts,
# and experiments that force the interleaving.
#
# Here is [`ipclab/c/race_helgrind.c`](../ipclab/c/race_helgrind.c): two threads doing
# `counter++` 200 times, first with no lock, then under a mutex, under Helgrind (the C
# worker, printed from the file that is compiled and run):

# %%
_src = (race_detectors.C_DIR / "race_helgrind.c").read_text().splitlines()
_start = next(i for i, l in enumerate(_src) if "worker(" in l)
print("\n".join(f"{'>>' if 'counter++' in l or 'pthread_mutex_' in l else '  '} {i + 1:4d}  {l}"
                for i, l in enumerate(_src[_start:_start + 12], _start)))

# %%
# NBVAL_IGNORE_OUTPUT
if LIVE_VALGRIND:
    racy, locked = race_detectors.helgrind(["race", 200]), race_detectors.helgrind(["lock", 200])
else:
    racy, locked = race_detectors.recorded_helgrind("race"), race_detectors.recorded_helgrind("lock")
start = racy.text.find("Possible data race")
print("\n".join(racy.text[start:].splitlines()[:8]))

# %%
print(f"[{HELGRIND} Helgrind log] the verdicts below read this log")
source = (race_detectors.C_DIR / "race_helgrind.c").read_text().splitlines()
race_line = next(i for i, l in enumerate(source, 1) if "counter++;" in l and "/*" in l)
print("Helgrind reports a possible data race on counter++ (race_helgrind.c line of counter++):",
      "yes" if race_line in racy.race_lines("race_helgrind.c") else "no")
print("kinds of access reported:", sorted({r["access"] for r in racy.races}))
print("with the mutex, Helgrind errors:", locked.errors)

# %%
# NBVAL_IGNORE_OUTPUT
if shutil.which("gcc"):
    try:
        code, report = race_detectors.tsan(["race", 1000])
        course = os.path.dirname(os.path.dirname(race_detectors.__file__)) + os.sep   # paths shown from the course folder
        print("\n".join(l.replace(course, "") for l in report.splitlines()
                        if "ThreadSanitizer" in l or "#0 worker" in l or "size" in l))
    except Exception as e:  # no libtsan here, or an unsupported memory layout
        print("ThreadSanitizer could not run here:", str(e).splitlines()[-1] if str(e) else type(e).__name__)

# %% [markdown]
# ## 6. Field guide
#
# | symptom | likely cause | tool | fix |
# | --- | --- | --- | --- |
# | `shm_open`/`semget` fails with `EEXIST` | a crashed run left the object | `ls /dev/shm`, `ipcs`, `ipclab ls` | remove it (`ipclab clean`, `ipcrm`, `rm`); create with unique names |
# | `/dev/shm` full, `ENOSPC`, or a `SIGBUS` on write | leaked segments, or Docker's 64 MiB | `df /dev/shm`, `ls -l /dev/shm`, `ipcs -m` | clean up; `posix_fallocate` first; `--shm-size` |
# | a process hangs for ever | waits on a semaphore/queue nobody posts; deadlock | `ps -o stat,wchan`, `/proc/PID/syscall`, `strace -p`, `ipcs -s -i` (GETNCNT), `py-spy dump` | timeouts on every wait; one lock order; atomic multi-`semop`; `SEM_UNDO` |
# | a lock is never released after a crash | the holder died holding it | `ipcs -s -i ID` (value, GETPID = dead pid) | `SEM_UNDO`; robust mutexes; restart the set |
# | counts are wrong, rarely, under load | a race: read-modify-write without a lock | more processes, a yield in the window, pinning; Helgrind/DRD/TSan for threads | a lock (semaphore) around the update; atomics |
# | data in the segment looks torn or stale | reader and writer not synchronised | force the interleaving; a checksum per record | lock or sequence counter (seqlock) |
# | memory use looks doubled | Rss counts shared pages in every process | `/proc/PID/smaps` Pss, `smem` | read Pss, not Rss |
# | `ipcrm -m` did not free the memory | still attached (`nattch > 0`), marked `dest` | `ipcs -m`, `/proc/*/maps` for `/SYSV<key>` | find and stop the holders |
# | "Too many open files" on the 10th `mq_open` | `RLIMIT_MSGQUEUE` per user | `ulimit -q`, `ls /dev/mqueue` | close and unlink queues; raise the limit |
# | `msgsnd` blocks | the queue is full (`msgmnb` bytes) | `ipcs -q` (used-bytes, messages) | a consumer; `IPC_NOWAIT`; a bigger queue |
# | a call's behaviour surprises you | the library does something else than you think | `strace -f -e trace=...` | read the trace, then the man page |
#
# ## Summary
# - `strace -f -tt -e trace=...` shows the system calls behind each line: `shm_open` is an
#   `openat` in `/dev/shm`, `sem_wait` is a futex only when it must sleep, `semop` is
#   `semtimedop`, and reading or writing shared memory is no system call at all.
# - `/proc/PID/maps` says where an object is mapped (`rw-s`, `/dev/shm/NAME`,
#   `/SYSV<key> (deleted)`); `smaps` says how much is resident (Rss), and shared or private
#   *now* (counted per page, not by `MAP_SHARED`); Pss divides shared pages fairly.
# - Kernel objects outlive their processes: find them with `ipcs`, `lsipc`, `ls /dev/shm`,
#   their holders with `nattch`, `lsof`, `/proc/*/maps`; remove them when their creator is
#   dead and nobody holds them (`ipcrm`, `ipclab clean`).
# - A hang is diagnosed from outside: GETNCNT/GETPID, `/proc/PID/syscall`, `wchan`, `stack`,
#   `strace -p`, the Python stack; every wait in your code needs a timeout.
# - Races hide; more processes, a wider window and pinning make them show. Helgrind, DRD and
#   TSan find races between threads of a C program, not between processes.
#
# ## Exercises
# 1. Trace `python -m ipclab.experiments.trace_demos demo posix_sem` yourself with `strace -f -e trace=futex`.
#    Remove the `procinfo.wait_until_blocked` line (in a copy): does the futex pair always
#    appear? Why not? [answer](answers/06_debugging_ipc_answers.ipynb#exercise-1)
# 2. In section 2, map the segment a third time in worker B (a second `mmap`). What happens
#    to B's Shared/Private counts, and why does the kernel doc say "even when mapped in the
#    same process multiple times"? [answer](answers/06_debugging_ipc_answers.ipynb#exercise-2)
# 3. Write the POSIX version of the deadlock with `dw.take_two` (four POSIX semaphores). Which
#    of section 4's tools still work, and what replaces GETNCNT? [answer](answers/06_debugging_ipc_answers.ipynb#exercise-3)
# 4. Run `race_helgrind.c` under `valgrind --tool=drd`. Then change `counter++` to
#    `__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)`: what do Helgrind and the count say?
#    [answer](answers/06_debugging_ipc_answers.ipynb#exercise-4)
# 5. Make a process hang in `msgrcv` on an empty System V queue (with a timeout in `procs`).
#    Which number does `/proc/PID/syscall` show, and what does `ipcs -q` say about the queue?
#    [answer](answers/06_debugging_ipc_answers.ipynb#exercise-5)
#
# **Labs:** the debugging skills here are what the labs' graders use: when a lab test times
# out, its message names the waiting worker; run it by hand and diagnose it with these tools.
# Back to the [overview](00_overview.ipynb).
#
# ## References
#
# * Tools: [strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html), [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html),
#   [lsipc(1)](https://man7.org/linux/man-pages/man1/lsipc.1.html), [lsof(8)](https://man7.org/linux/man-pages/man8/lsof.8.html),
#   [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`maps`, `smaps`, `syscall`, `wchan`, `stack`),
#   [Valgrind manual](https://valgrind.org/docs/manual/manual.html) (Helgrind, DRD),
#   [ThreadSanitizer](https://clang.llvm.org/docs/ThreadSanitizer.html).
# * Calls traced: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
#   [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`GETNCNT`, `GETPID`),
#   [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
#   [shmop(2)](https://man7.org/linux/man-pages/man2/shmop.2.html),
#   [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html),
#   [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html),
#   [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html);
#   overviews [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html).
# * POSIX.1-2017, [Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/).
# * M. Kerrisk, *The Linux Programming Interface* (2010), ch. 44-55 (pipes, System V and
#   POSIX IPC, memory mappings, file locks); W. R. Stevens and S. Rago, *Advanced
#   Programming in the UNIX Environment*, 3rd ed., ch. 15 (IPC).
# * Kernel: `get_futex_key` in [kernel/futex/core.c](https://github.com/torvalds/linux/blob/master/kernel/futex/core.c);
#   [The /proc filesystem](https://docs.kernel.org/filesystems/proc.html) (smaps fields, Pss);
#   IPC limits in [Documentation/admin-guide/sysctl/kernel.rst](https://docs.kernel.org/admin-guide/sysctl/kernel.html).
#
# How long this notebook took to run, here and now (the header's running time is this
# number, measured when the notebook was built):

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
