# %% [markdown]
# # 19.0 Shared memory and advanced IPC: the overview
#
# Until now every program ran alone. Real systems are teams of processes: a web server
# coordinates workers, a database shares its cache between clients, a logger collects from
# every service. **IPC** (inter-process communication) is the set of kernel mechanisms that
# let separate processes exchange data and synchronise.
#
# This notebook is the map of the chapter. Everything in it runs: real processes, real
# kernel objects, cleaned up behind you.
#
# **Learning goals.** After this notebook you can
# 1. show, with two processes, why they cannot share a variable (isolation);
# 2. name the four families of IPC (messages, shared memory, synchronisation, signals) and
#    run the smallest example of each;
# 3. tell System V from POSIX IPC by naming, persistence and inspection, and use `ipcs`,
#    `ls /dev/shm` and `/proc/sys/kernel/*`;
# 4. recognise the four design patterns and the architectures of PostgreSQL, Nginx and Redis;
# 5. list the dangers (races, deadlocks, leaks, corruption, permissions) and where the
#    course deals with each.
#
# **Time, measured:** about 34 min to read and run. Running every cell took 26 s (nbclient,
# on the course's 2-core machine, 2 December 2026); reading is counted from this notebook's
# words: 4 014 of prose at 200 words per minute (20 min) and 1 377 of code (the cells', and
# the workers shown) at 100 per minute (14 min). The exercises come on top; their answers
# notebook is about 9 min more to read. **Prerequisites:** `fork()`, file
# descriptors, system calls; threads and race conditions (chapter 18).
#
# **How to read the code.** Each Python call that makes a system call says which one, in a
# `# C:` comment, the first time it appears. Right before each demo, `show(...)` displays the
# worker the child process runs: its real source from
# [`ipclab/experiments/overview_demos.py`](../ipclab/experiments/overview_demos.py), lines
# that matter marked `>>`. Workers live in a module, not in ordinary cells, because children
# started with *spawn* or *forkserver* must import them; a cell that starts with
# `%%worker NAME` becomes such a module, and you will edit one below. Where a cell asks you
# to **predict**, the answer is in the next cell, collapsed: commit to a prediction, then open
# it. Every "Try it" and exercise has a worked answer in
# [the answers notebook](answers/00_overview_answers.ipynb).

# %%
# NBVAL_IGNORE_OUTPUT
import os
import signal
import socket
import subprocess
import time

import posix_ipc
import sysv_ipc

from ipclab import doctor, inventory, objects, procs, registry
from ipclab import overview_demos as demo
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show

doctor.setup_notebook("posix_shm", "posix_mq", "ipcs")
ccell.load()  # registers %%worker: a cell becomes a module every child can import
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)

# %% [markdown]
# ## 1. The problem: every process has its own memory
#
# ```
# ┌─────────────────┐         ┌─────────────────┐
# │   Process A     │         │   Process B     │
# │  long x = 42;   │    X    │  long x = ?;    │
# │  own address    │         │  own address    │
# │  space          │         │  space          │
# └─────────────────┘         └─────────────────┘
# ```
#
# `fork()` copies the parent's address space. Watch: the child overwrites a C `long`
# (a `ctypes.c_long` in `ipclab.experiments.overview_demos`, holding 42) and reports its
# address and value; the parent then reads the *same address* in its own memory. The child runs:

# %%
show(demo.change_counter, mark=["COUNTER.value = value"])

# %% [markdown]
# **Predict** before you open the output: the child writes 100. Is the child's variable at
# the same virtual address as the parent's, and what does the parent read there afterwards?

# %% tags=["reveal"]
child_address, child_value = procs.run(
    demo.change_counter, [(100,)], start_method="fork", timeout=10)[0]  # C: pid = fork(); ... waitpid(pid)
import ctypes
parent_address, parent_value = ctypes.addressof(demo.COUNTER), demo.COUNTER.value
print("same virtual address in both processes:", child_address == parent_address)
print(f"the child wrote {child_value}; the parent still reads {parent_value}")
print("isolated:", child_value != parent_value)

# %% [markdown]
# Same virtual address, different values: each process has its own page tables, and after
# `fork()` the kernel gives the writer a private copy of the page (copy-on-write). The
# child cannot reach the parent's variable, and that protection is exactly why we need the
# kernel's help to communicate.
#
# > **Try it.** Change `start_method="fork"` to `"spawn"`. The address may differ now: a
# > spawned child is a fresh Python that imported the module again. Is it still isolated?
# > ([answer](answers/00_overview_answers.ipynb#try-1))
#
# ### A word on `fork()` from a notebook
#
# The course often starts children with *fork*, from the Jupyter kernel. That kernel is a
# **multi-threaded** process (ipykernel runs threads beside your code, for the heartbeat and
# for sending output), as the cell below counts. `fork()` copies the whole address space but
# only **the calling thread**: "the child process is created with a single thread—the one
# that called fork()", and until it calls `execve` it "can safely call only
# async-signal-safe functions" ([fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html)).
# The reason: a lock that another thread held at the moment of the fork (inside `malloc`,
# a logging handler, a buffered stream) is copied *locked*, and the thread that would have
# released it does not exist in the child. CPython 3.12 therefore emits a `DeprecationWarning`
# when `os.fork()` runs in a process it knows has several threads, and Python 3.14 changed
# the default start method on Linux from *fork* to *forkserver*
# ([multiprocessing: contexts and start methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods)).
# A *forkserver* child is itself made by `fork()`, but by a small single-threaded server
# process started early, not by the kernel with its threads; a *spawn* child is a fresh
# interpreter (`fork` + `exec`).
#
# The course uses *fork* where the lesson **is** inheritance (a pipe's file descriptor, the
# copy-on-write page above) and where it keeps a demo fast. Its children start in
# `procs._child_main`, which replaces the inherited output streams with fresh ones on
# pipes before running a short worker function and ends with `os._exit`, so a child does
# not wait on a lock of the kernel's threads in the common case; it is still the risk
# fork(2) describes, which is why every demo also runs with *forkserver* and *spawn*
# (`procs` checks that the worker lives in an importable module).

# %%
# NBVAL_IGNORE_OUTPUT
import threading
print("Python threads in this kernel:", threading.active_count(),
      "| kernel threads (/proc/self/task):", len(os.listdir("/proc/self/task")))

# %% [markdown]
# ## 2. The map of mechanisms
#
# | family | mechanisms | moves data? | where in the course |
# | --- | --- | --- | --- |
# | messages | pipes, FIFOs, message queues (System V, POSIX), sockets | copies it into the kernel and out again (a system call each way) | 19.3, 19.4 |
# | shared memory | POSIX `shm_open`+`mmap`, System V `shmget`+`shmat`, file `mmap` | no kernel round trip: both map the same physical pages; the writer's stores are the copy in, the reader usually copies out | 19.1, 19.5 |
# | synchronisation | semaphores (System V sets, POSIX), mutexes, atomics | no, it orders | 19.1, 19.2 |
# | signals | `kill`, `sigaction`, `sigtimedwait` | a number, no payload | below |
#
# Here is the smallest live example of each, with a real child process. Read the `# C:`
# comments: that is the chapter's C code.
#
# ### Messages: a pipe
# A pipe is a kernel buffer with two file descriptors. The child inherits the write end
# through `fork()` (which is why this demo must use the *fork* start method). The child:

# %%
show(demo.write_to_fd, mark=["os.write(fd, data)"])

# %%
r, w = os.pipe()  # C: int fds[2]; pipe(fds);
procs.run(demo.write_to_fd, [(w, b"hello through a pipe")], start_method="fork", timeout=10)
os.close(w)
print(os.read(r, 100))  # C: read(fds[0], buf, 100)
os.close(r)

# %% [markdown]
# ### Messages: a UNIX domain socket pair
# Bidirectional, and (with `AF_UNIX` sockets bound to a path) usable between unrelated
# processes too. The child:

# %%
show(demo.send_on_socket, mark=["sock.sendall(data)"])

# %%
parent_end, child_end = socket.socketpair()  # C: socketpair(AF_UNIX, SOCK_STREAM, 0, sv)
parent_end.settimeout(10)
procs.run(demo.send_on_socket, [(child_end, b"hello through a socket")], start_method="fork", timeout=10)
child_end.close()
print(parent_end.recv(100))  # C: recv(sv[0], buf, 100, 0)
parent_end.close()

# %% [markdown]
# ### Messages: a System V message queue
# The queue lives in the kernel and is found by a numeric **key**. The child knows nothing
# but the key, so this demo uses *spawn*: a fresh process, no inherited memory. The child:

# %%
show(demo.send_sysv_message, mark=["sysv_ipc.MessageQueue(key)", "q.send("])

# %%
with objects.sysv_msg() as q:  # C: msqid = msgget(key, IPC_CREAT | IPC_EXCL | 0600)
    procs.run(demo.send_sysv_message, [(q.key, b"hello through a message queue", 7)],
              start_method="spawn", timeout=20)
    message, mtype = q.receive(block=False)  # C: msgrcv(msqid, &msg, size, 0, IPC_NOWAIT)
    print(message, "type", mtype)
# leaving the block: msgctl(msqid, IPC_RMID, NULL)

# %% [markdown]
# ### Shared memory: POSIX `shm_open` + `mmap`
# No trip through the kernel per message: both processes map the same physical pages, so
# the child's stores *are* the data the parent then copies out with `bytes(m[:27])`. The
# child opens the object by its **name** only. The child:

# %%
show(demo.write_shared_memory, mark=["posix_ipc.SharedMemory(name)", "mmap.mmap(", "m[: len(text)] = text"])

# %%
with objects.posix_shm(4096, tag="hello") as shm:  # C: fd = shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600); ftruncate(fd, 4096)
    procs.run(demo.write_shared_memory, [(shm.name, b"hello through shared memory")],
              start_method="spawn", timeout=20)
    import mmap
    with mmap.mmap(shm.fd, 4096) as m:  # C: p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
        print(bytes(m[:27]))
# leaving the block: close(fd); shm_unlink(name)

# %% [markdown]
# ### Synchronisation: a semaphore
# The parent waits (P) on a semaphore of value 0 until the child posts it (V). Every wait
# in this course has a timeout, so a mistake gives an error, never a frozen notebook. The child:

# %%
show(demo.post_semaphore, mark=["sem.release()"])

# %%
with objects.posix_sem(0, tag="hello") as sem:  # C: sem = sem_open(name, O_CREAT|O_EXCL, 0600, 0)
    procs.run(demo.post_semaphore, [(sem.name,)], start_method="spawn", timeout=20)
    sem.acquire(timeout=10)  # C: sem_timedwait(sem, &deadline)
    print("the child posted, the parent passed: value now", sem.value)

# %% [markdown]
# ### Signals: a notification without data
# The child blocks `SIGUSR1`, tells the parent it is ready (a semaphore again), and waits
# for the signal; the parent sends it with `kill()`. The child:

# %%
show(demo.wait_for_signal, mark=["pthread_sigmask", "post_semaphore(ready_name)", "sigtimedwait("])

# %%
with objects.posix_sem(0, tag="ready") as ready:
    with procs.start(demo.wait_for_signal, [(ready.name, 10)], start_method="spawn", timeout=20) as group:
        ready.acquire(timeout=15)
        os.kill(group.pids[0], signal.SIGUSR1)  # C: kill(pid, SIGUSR1)
        print(group.join()[0])

# %% [markdown]
# Signals tell *that* something happened (stop, reload, a child ended), not *what*: there
# is no payload beyond the signal number (`sigqueue` can attach one integer). They are the
# chapter's fourth family. A process can signal a whole process group at once with
# `kill(-pgid, sig)` ([kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html)).
#
# > **The chapter says**, of Nginx, only "**Signaux** : Contrôle et rechargement graceful"
# > (signals: control and graceful reload). The signal to a whole group, "**Signaux** :
# > `kill(-pid_group, SIGUSR1)`", is in its generic *Broadcast* pattern ("Envoyer un message
# > à tous les processus": send a message to every process), not in its Nginx section; do
# > not read the two together. **In fact** the signals go to the Nginx **master** ("The
# > master process supports the following signals": `QUIT` graceful shutdown, `HUP` new
# > configuration, `USR1` reopen the logs...), which, on a reload, "sends messages to old
# > worker processes requesting them to shut down gracefully"
# > ([Controlling nginx](https://nginx.org/en/docs/control.html)). Those messages travel on
# > **each worker's own channel**, a `socketpair(AF_UNIX, SOCK_STREAM, 0, ...)` that
# > `ngx_spawn_process` makes before the `fork`
# > ([src/os/unix/ngx_process.c](https://github.com/nginx/nginx/blob/master/src/os/unix/ngx_process.c)):
# > `ngx_signal_worker_processes` loops over the workers and writes `NGX_CMD_QUIT` (for
# > `SIGQUIT`), `NGX_CMD_TERMINATE` (`SIGTERM`) or `NGX_CMD_REOPEN` (`SIGUSR1`) to each with
# > `ngx_write_channel`; it calls `kill(pid, signo)`, one worker's pid at a time, only for a
# > signal that has no command or when that write fails. There is no `kill(-pgid, ...)`
# > ([src/os/unix/ngx_process_cycle.c](https://github.com/nginx/nginx/blob/master/src/os/unix/ngx_process_cycle.c)).
#
# ### Break it yourself: forget to block the signal
#
# The cell below is `wait_for_signal` copied into a `%%worker` cell (it becomes the module
# `unblocked`, which a spawned child can import), with its first line, the
# `pthread_sigmask` that blocks `SIGUSR1`, deleted. **Predict** before you open the output
# of the next cell: what happens to the child when the parent sends `SIGUSR1`, and how does
# `procs` report it? (Hint: [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html),
# the default action of each signal.)

# %%
# %%worker unblocked
import signal

from ipclab.experiments.overview_demos import post_semaphore


def wait_for_signal(ready_name, timeout):
    """overview_demos.wait_for_signal with its first line deleted: SIGUSR1 is NOT blocked."""
    post_semaphore(ready_name)                                 # "I am ready"
    info = signal.sigtimedwait({signal.SIGUSR1}, timeout)      # C: sigtimedwait(&set, &info, &ts)
    return "no signal before the timeout" if info is None else "got SIGUSR1"

# %% tags=["reveal"]
from ipclab.core.errors import ChildError

with objects.posix_sem(0, tag="ready") as ready:
    group = procs.start(unblocked.wait_for_signal, [(ready.name, 10)], start_method="spawn", timeout=20)
    try:
        ready.acquire(timeout=15)
        os.kill(group.pids[0], signal.SIGUSR1)  # C: kill(pid, SIGUSR1)
        print("the child returned:", group.join()[0])
    except ChildError as e:
        died = signal.Signals(-e.exitcode).name if e.exitcode and e.exitcode < 0 else f"exit {e.exitcode}"
        print("procs raised ChildError: the worker was killed by", died)
    finally:
        group.kill()  # reaps it (kills nothing if it has ended)

# %% [markdown]
# The default action of `SIGUSR1` is to terminate the process
# ([signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)). The manual of
# `sigtimedwait` says why the worker blocks it first: in normal use a program blocks the
# signals of *set* beforehand, so that their default disposition does not act while they
# are pending outside the call ([sigwaitinfo(2)](https://man7.org/linux/man-pages/man2/sigwaitinfo.2.html), NOTES).
# `procs` sees the child's exit status (killed by a signal) and raises `ChildError` naming it.
# Now put the `pthread_sigmask` line back into the `unblocked` cell, run it and this one again.
#
# > **Try it.** Block `SIGUSR1` but wait for `SIGUSR2` in the worker, and send `SIGUSR1`:
# > what does the child return now, and after how long? ([answer](answers/00_overview_answers.ipynb#try-2))
#
# ## 3. Two standards: System V and POSIX
#
# | aspect | System V (1980s) | POSIX (1990s-2000s) |
# | --- | --- | --- |
# | naming | numeric key (`ftok()`), opaque id (`semid`, `shmid`, `msqid`) | a name `"/resource"` |
# | API | `semget`/`semop`/`semctl`, `shmget`/`shmat`, `msgget`/`msgsnd`/`msgrcv` | `sem_open`/`sem_wait`, `shm_open`/`mmap`, `mq_open`/`mq_send` |
# | lifetime | until `IPC_RMID` (and, for a segment, the last detach) or reboot | until `*_unlink` (and last close or unmap) or reboot |
# | inspection | `ipcs`, `ipcrm` | `ls /dev/shm`, `ls /dev/mqueue`, `rm` |
# | strengths | semaphore **sets** with atomic multi-operations, `SEM_UNDO`, typed messages | simple, file-like, timed waits, `mq_notify` |
#
# The chapter uses both: System V is everywhere in existing code, POSIX is recommended for
# new code. Notebook 04 compares them job by job and measures them.
#
# ### Both outlive their creator
# A child creates one object of each family and exits **without removing them**. They
# are still there afterwards: kernel objects belong to the system, not to a process.
#
# > **The chapter says** POSIX objects "disappear automatically (depending on the type) or
# > through `unlink()`". **In fact** named POSIX shared memory, semaphores and message queues
# > have *kernel persistence*: a shared memory object "will exist until the system is shut
# > down, or until all processes have unmapped the object and it has been deleted with
# > shm_unlink" ([shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html);
# > the same holds in [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html)
# > and [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)). Only an
# > *unnamed* semaphore (`sem_init`) goes away with the memory that holds it. The cell below
# > shows the POSIX object still in `/dev/shm` after its creator exited.
#
# The child:

# %%
show(demo.create_and_leave, mark=["create_posix_shm(", "create_sysv_msg(", "shm.close_fd()"])

# %%
child = procs.start(demo.create_and_leave, [("orphan",)], start_method="spawn", timeout=20)
name, key, msqid = child.join()[0]
try:
    print("POSIX object still in /dev/shm:", os.path.exists("/dev/shm" + name))
    print("System V queue still listed in /proc/sysvipc/msg:", inventory.sysv_row("msg", msqid) is not None)
    print("their creator is gone:", not os.path.exists(f"/proc/{child.pids[0]}"))
finally:
    removed = registry.remove_created_by(child.pids)  # C: shm_unlink(name); msgctl(msqid, IPC_RMID, NULL)
print("removed by us:", sorted(e["kind"] for e in removed))

# %% [markdown]
# This is the chapter's warning about **leaks**: a crashed program leaves System V objects
# behind until someone runs `ipcrm`. ipclab records everything the course creates, so
# `ipclab clean` (or the next start of a kernel) removes what a crash left, and only that.
#
# ### Inspecting live: `ipcs`, `/dev/shm`, `/proc/sys/kernel`
# The same objects, as the standard tools show them. The course's System V keys start with
# `0x1c`, its POSIX names with `/ipl<your uid>-`.

# %%
# NBVAL_IGNORE_OUTPUT
with objects.sysv_sem(1) as s, objects.posix_shm(8192, tag="inspect") as shm:
    print(subprocess.run(["ipcs", "-s"], capture_output=True, text=True, timeout=10).stdout)  # reads /proc/sysvipc/sem
    print(subprocess.run(["ls", "-l", "/dev/shm"], capture_output=True, text=True, timeout=10).stdout)
    print(inventory.format_rows(inventory.course_objects(registry.current().id)))

# %% [markdown]
# `ipclab ls` (in a terminal) prints the last table; `ipclab ls --all` shows every user's
# objects. The kernel's limits are plain files under `/proc/sys`:

# %%
# NBVAL_IGNORE_OUTPUT
for path in ["kernel/sem", "kernel/shmmax", "kernel/shmmni", "kernel/msgmax", "kernel/msgmnb",
             "kernel/msgmni", "fs/mqueue/msg_max", "fs/mqueue/msgsize_max"]:
    with open("/proc/sys/" + path) as f:
        print(f"/proc/sys/{path:22s} {f.read().strip()}")

# %% [markdown]
# `kernel/sem` holds four numbers: SEMMSL (semaphores per set), SEMMNS (system-wide),
# SEMOPM (operations per `semop` call) and SEMMNI (number of sets). `ipclab doctor` reads
# all of these and says which demos your machine cannot run, and why.
#
# ## 4. Four design patterns
#
# | pattern | problem | typical mechanisms | in the course |
# | --- | --- | --- | --- |
# | producer-consumer | one side makes data, another uses it | ring buffer in shared memory + semaphores; message queue | 19.1 ring buffer, lab 1 |
# | client-server | many clients ask one server | sockets; message queue with replies typed by client pid; shared cache | 19.3, labs 3 and 5 |
# | worker pool | spread tasks over N workers | task queue; counting semaphore for the number active; shared state | 19.3, lab 6 |
# | broadcast | tell every process | a flag or generation counter in shared memory; `kill(-pgid, sig)`; one message per listener | 19.3, lab 8 |
#
# ```
# producer ──► [ buffer / queue ] ──► consumer        Client 1 ─┐
#                    │                                 Client 2 ─┼─► [ server ] ◄─► shared cache
#              synchronisation                         Client 3 ─┘
# ```
#
# ## 5. Real architectures
#
# **PostgreSQL.** One process per client connection (a *backend*), all attached to one
# big shared memory area: the *shared buffer pool* caching table pages, plus lock tables.
# By default that area is an anonymous `mmap` shared with the children, next to a very
# small System V segment; semaphores put backends to sleep while they wait, POSIX unnamed
# ones on Linux and FreeBSD, System V ones elsewhere
# ([PostgreSQL: Managing Kernel Resources](https://www.postgresql.org/docs/current/kernel-resources.html)).
# A crashed backend may have left shared memory inconsistent, so the postmaster restarts
# them all: the *corruption* warning of this chapter, handled at architecture level.
#
# > **The chapter says** PostgreSQL uses message queues for its background workers. **In
# > fact** it uses neither System V nor POSIX message queues: background workers attach to
# > PostgreSQL's shared memory ([Background Worker Processes](https://www.postgresql.org/docs/current/bgworker.html)),
# > and when a backend and its workers exchange messages (parallel query) they use `shm_mq`,
# > "a single-reader, single-writer shared memory message queue" built by PostgreSQL itself
# > in dynamic shared memory, woken through the processes' latches
# > ([src/backend/storage/ipc/shm_mq.c](https://github.com/postgres/postgres/blob/master/src/backend/storage/ipc/shm_mq.c)).
#
# **Nginx.** A master process reads the configuration and forks workers that all accept
# on the same listening socket. Shared memory zones hold counters and caches common to the
# workers. The master is controlled with signals (`SIGHUP` reloads, `SIGQUIT` stops
# gracefully) and passes the order on to each worker through its channel (section 2).
#
# > **The chapter says** Nginx serialises `accept()` with a semaphore. **In fact**
# > `accept_mutex` is **off** by default since nginx 1.11.3 (every worker is told of new
# > connections; with `EPOLLEXCLUSIVE` or `reuseport` it is not needed;
# > [ngx_core_module: accept_mutex](https://nginx.org/en/docs/ngx_core_module.html#accept_mutex)),
# > and when it is on it is not a blocking semaphore: each worker *tries* it without waiting,
# > `*mtx->lock == 0 && ngx_atomic_cmp_set(mtx->lock, 0, ngx_pid)`, a compare-and-swap on a
# > word in shared memory, and a worker that fails simply does not listen for a while
# > (`accept_mutex_delay`; [src/core/ngx_shmtx.c](https://github.com/nginx/nginx/blob/master/src/core/ngx_shmtx.c),
# > [src/event/ngx_event_accept.c](https://github.com/nginx/nginx/blob/master/src/event/ngx_event_accept.c)).
# > The *blocking* accept lock of lab 8 is the Apache **prefork** model: children take a
# > cross-process mutex around `accept()`
# > ([Apache 2.2: `AcceptMutex`](https://httpd.apache.org/docs/2.2/mod/mpm_common.html#acceptmutex),
# > "the method that Apache uses to serialize multiple children accepting requests on
# > network sockets"; in 2.4 the [`Mutex` directive](https://httpd.apache.org/docs/2.4/mod/core.html#mutex)).
#
# **Redis.** Single-threaded for commands, so no locking of data at all; persistence
# forks a child that writes a snapshot (RDB) of the parent's memory, relying on
# copy-on-write (section 1 above) to see a frozen image while the parent goes on. Nodes of a
# cluster talk over TCP sockets.
#
# > **The chapter says** Redis uses memory-mapped files for persistence and `mmap` for RDB
# > snapshots. **In fact** the forked child writes the snapshot with ordinary buffered file
# > I/O: `rdbSaveInternal` opens a temporary file with `fopen`, writes through Redis's `rio`
# > layer over that `FILE *`, then `fflush`, `fsync` and `rename` it into place
# > ([src/rdb.c](https://github.com/redis/redis/blob/unstable/src/rdb.c)). The shared
# > memory in Redis's persistence is the copy-on-write sharing between parent and child.
#
# **Game engines** (the chapter's Unity example) share world state between an engine and
# tools or scripts through shared memory, synchronised frame by frame.
#
# ## 6. Performance: which mechanism?
#
# The chapter ranks the mechanisms by throughput, "indicative" numbers that depend on the
# hardware and the message size:
#
# | rank | mechanism | indicative throughput | use case |
# | --- | --- | --- | --- |
# | 1 | shared memory | ~10 GB/s | large volumes, high frequency |
# | 2 | mmap (file) | ~8 GB/s | files, persistence |
# | 3 | UNIX domain sockets | ~5 GB/s | flexibility and speed |
# | 4 | message queues | ~2 GB/s | structured messages |
# | 5 | pipes | ~1 GB/s | simple streaming |
# | 6 | TCP sockets | ~1 GB/s | network, remote |
#
# Notebook 04 measures every one of them between two real processes on your machine, with
# the bytes checked on arrival, and shows where this ranking holds and where it does not
# (small messages, handshakes per message, ring depth).
#
# Here is the live ranking, measured now on this machine by `ipclab.bench.runner`: a producer
# and a consumer process per mechanism, three message sizes, the bytes checked on arrival.
# Each point is 0.15 s: a short warm-up, then **three timed phases**. The runs are short so
# the cell stays quick, and one short run cannot order mechanisms that are close, so the
# ranking below claims only what the measurement separates: a mechanism gets a rank of its
# own only if its fastest phase was slower than the slowest phase of every mechanism above
# it; otherwise it shares their rank ("3-5"). Run `ipclab bench` in a terminal for longer
# phases. The producer and consumer processes run `producer` and `consumer` of
# [`ipclab/bench/transports.py`](../ipclab/bench/transports.py) (the shared memory rings
# `_ring_producer` and `_ring_consumer`): each message carries its sequence number at both
# ends, which the consumer checks. Notebook 04 shows the ring producer and measures them all.

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.bench import runner as bench
from ipclab.experiments import ranking
from ipclab.presentation.plots import overview as overview_plots, style

SIZES = [64, 8192, 1 << 20]
live = bench.run(sizes=SIZES, max_seconds=0.15, repeats=3, latency_mechanisms=[],
                 start_method="fork", progress=False)
for size in SIZES:
    rows = ranking.separated(live, size)
    print(f"{bench.human(size)} messages: {max(r['group'] for r in rows)} separated ranks among {len(rows)} mechanisms")
    for r in rows:
        print(f"  {ranking.rank_label(r):>5}  {r['mechanism']:<10} median {r['gbps']:8.3f} GB/s  "
              f"phases {r['gbps_min']:.3f}-{r['gbps_max']:.3f}")
# rings against streams and queues, per size: the slowest ring phase over the fastest other phase
for size in SIZES:
    at = [r for r in live if r["kind"] == "throughput" and not r["skipped"] and r["size"] == size]
    ring_lo = min((r for r in at if r["batch"]), key=lambda r: r["gbps_min"])
    other_hi = max((r for r in at if not r["batch"]), key=lambda r: r["gbps_max"])
    print(f"{bench.human(size)}: slowest ring phase ({ring_lo['mechanism']}) / fastest stream or queue phase "
          f"({other_hi['mechanism']}): {ring_lo['gbps_min'] / other_hi['gbps_max']:.1f}x; "
          f"the rings: {ring_lo['slots']} slots, a semaphore handshake every {ring_lo['batch']} message(s)")
fig = overview_plots.ranking(live, SIZES, title="Measured now: 3 phases of ~0.04 s per point")
style.show(fig)

# *Figure:* one panel per message size; each row is a mechanism, fastest at the top, with a
# dot at the median of its three timed phases and a line from its slowest to its fastest
# phase; the number on the left is its rank, shared where the lines overlap. The sentence
# printed under the figure says the same with this run's numbers.

# %%
measured = [r for r in live if r["kind"] == "throughput" and not r["skipped"]]
print("every measured transfer arrived intact (every message's sequence numbers; payloads compared "
      "byte for byte through rings, CRC-32 of one in 16 through streams and queues):",
      all(r["integrity"] == "ok" and r["crc_checked"] > 0 for r in measured))
print("sizes skipped because of a kernel limit:",
      sorted({(r["mechanism"], bench.human(r["size"])) for r in live if r.get("skipped")}))

# %% [markdown]
# What to notice. The three lines after the ranking divide, for each size, the slowest phase
# of any shared-memory ring by the fastest phase of any stream or queue: above 1, the rings
# beat every stream and queue in every phase of this run; at or below 1, this short run did
# not separate them (a busy machine, or phases of 0.04 s, are enough for that). Where the
# rings lead at 64 bytes, it is not because a small message costs nothing through shared
# memory: the ring hands over a **batch** of messages per semaphore handshake (the line says
# how many; one copy in and one comparison per batch), while a pipe, a socket or a queue
# makes a `write` and a `read` system call for every message. Per message, the handshake is
# what costs: notebook 04 (section 10) runs the textbook ring, 4 slots and one handshake per
# message, next to a pipe. At 1 MiB the ring makes a handshake per message (the line says
# so), one per megabyte: what is left is moving the bytes, copied once into the ring, where a
# pipe or a socket copies them into the kernel and out again. Message queues skip the 1 MiB
# size because a message may not exceed their limit (`msgmax` and `fs/mqueue/msgsize_max`,
# 8192 bytes by default). Notebook 04 takes this apart with longer runs.
#
# ## 7. Security and permissions
#
# IPC objects have owners and permission bits like files. The chapter's examples use
# `0666`: anyone on the machine may then read and write your segment, post your semaphore
# or inject messages in your queue. The course creates everything `0600`. Here is the
# difference, shown by a child that becomes another user (uid 65534, *nobody*) and tries
# to open and write our objects. This needs root (to change user); otherwise it explains.

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.core import asuser
from ipclab.core.errors import NotSupported

try:
    other = asuser.other_user()  # root: a child becomes nobody; a student: one of your subordinate uids
    print("the other user here:", other)
except NotSupported as why:
    other = None
    print("This demo needs a second user, and this machine offers none:", why)
    print("Elsewhere it shows: 0600: the other user was denied; 0666: the other user could write.")

# %% [markdown]
# What the other user's process tries:

# %%
show(demo.try_open, mark=["posix_ipc.SharedMemory(ident)", "sysv_ipc.MessageQueue(ident)", "was denied"])

# %%
# IPCLAB_NEEDS_OTHER_USER (the test suite skips this cell, saying why, where there is none)
for mode in (0o600, 0o666) if other else ():
    with objects.posix_shm(4096, tag="perm", mode=mode) as shm, objects.sysv_msg(mode=mode) as q:
        os.fchmod(shm.fd, mode)  # POSIX modes are cut by the umask at creation: set them exactly
        shm_result = asuser.run_as_other(demo.try_open, ("posix_shm", shm.name), timeout=10)
        msg_result = asuser.run_as_other(demo.try_open, ("sysv_msg", q.key), timeout=10)
        print(f"{mode:04o}: our POSIX segment: the other user {shm_result}; "
              f"our System V queue: the other user {msg_result}")

# %% [markdown]
# Good practice from the chapter, which the course follows: restrictive modes (`0600`, or
# `0660` with a dedicated group), validate what you read from shared memory (another
# process may have written anything), never store secrets unencrypted in a segment, and
# remove objects when done so their contents do not outlive you. On a shared machine
# also beware of **names**: `ftok()` gives every user the same key for the same file, and
# anyone may create `/my_sem` before you do. Our names carry your uid and a random part.
#
# ## 8. The dangers, and where we meet them
#
# | danger | what happens | shown in |
# | --- | --- | --- |
# | race conditions | two unsynchronised read-modify-writes lose updates (`counter++` is three steps) | 19.1: lost updates counted and plotted, you schedule the steps yourself |
# | deadlocks | circular waits freeze processes | 19.2: dining philosophers caught by a timeout, fixed by an atomic `semop` |
# | a holder dies | a killed process keeps its lock for ever | 19.2: `SEM_UNDO` gives the lock back (not the consistency of the data it guarded) |
# | leaks | System V objects survive their processes (above) | here, `ipclab clean`, appendix 06 |
# | corruption | concurrent writes interleave in shared data | 19.1, 19.5 (records under a lock) |
#
# ```c
# // Process A                  // Process B
# int val = counter;            int val = counter;   // both read 10
# val++;                        val++;               // both compute 11
# counter = val;                counter = val;       // 11 instead of 12!
# ```
#
# Commands to know (try them in a terminal while a demo runs):
#
# ```bash
# ipcs; ipcs -s; ipcs -m; ipcs -q       # System V objects
# ipcrm -s SEMID; ipcrm -m SHMID; ipcrm -q MSQID
# ls -la /dev/shm/ /dev/mqueue/         # POSIX objects
# cat /proc/sys/kernel/sem /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax
# ipclab doctor; ipclab ls; ipclab clean
# ```
#
# ## Summary
# - Processes are isolated: the same virtual address holds different values in parent and
#   child. Communication needs a kernel object.
# - Four families: messages (copied into the kernel and out), shared memory (no kernel
#   round trip, needs synchronisation), synchronisation (orders, moves nothing), signals
#   (notifications).
# - `fork()` from a multi-threaded process copies one thread; Python 3.14 starts children
#   with *forkserver* by default on Linux.
# - System V names objects by numeric keys and inspects them with `ipcs`; POSIX by
#   `"/name"`, visible in `/dev/shm` and `/dev/mqueue`. Both outlive their creators until
#   removed (the chapter's "disappear automatically" is wrong for named POSIX objects).
# - Patterns: producer-consumer, client-server, worker pool, broadcast; PostgreSQL, Nginx
#   and Redis combine them.
# - Permissions `0600`, unique names, timeouts on every wait, and cleanup in `finally`.
#
# ## Exercises
# 1. In the pipe demo, make the child write 100 000 bytes and the parent read only after
#    `procs.run` returns. What happens and why? (Hint: the pipe's capacity, `F_GETPIPE_SZ`.) ([answer](answers/00_overview_answers.ipynb#exercise-1))
# 2. Send three messages of types 3, 1, 2 to the System V queue, then receive with
#    `type=-3` three times. In which order do they come? (19.3 explains.) ([answer](answers/00_overview_answers.ipynb#exercise-2))
# 3. Run `ipclab doctor` in a terminal. Which limit would stop a 100 MiB segment in a
#    default Docker container? ([answer](answers/00_overview_answers.ipynb#exercise-3))
# 4. With the permission demo, try mode `0660`: what decides whether *nobody* gets in? ([answer](answers/00_overview_answers.ipynb#exercise-4))
#
# **Next:** [19.1 POSIX shared memory](01_posix_shared_memory.ipynb) ·
# [19.2 System V semaphores](02_sysv_semaphores.ipynb) ·
# [19.3 System V message queues](03_sysv_message_queues.ipynb) ·
# [19.4 POSIX vs System V](04_posix_vs_sysv.ipynb) ·
# [19.5 mmap](05_mmap.ipynb) · [Appendix: debugging IPC](06_debugging_ipc.ipynb).
# Labs: [`labs/`](../labs/) — start with lab 1 after 19.1.
#
# ## References
# - Overview pages: [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
#   [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html),
#   [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html).
# - Calls used here: [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
#   [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html),
#   [socketpair(2)](https://man7.org/linux/man-pages/man2/socketpair.2.html),
#   [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
#   [msgsnd(2)/msgrcv(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
#   [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
#   [shm_open(3)/shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
#   [sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html),
#   [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
#   [kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html),
#   [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html),
#   [sigtimedwait(2)](https://man7.org/linux/man-pages/man2/sigtimedwait.2.html),
#   [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html),
#   [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html).
# - M. Kerrisk, *The Linux Programming Interface* (No Starch, 2010), chapters 44 (pipes and
#   FIFOs) to 55 (file locking): 45-48 System V IPC, 49-50 memory mappings, 51-54 POSIX IPC.
# - W. R. Stevens, S. Rago, *Advanced Programming in the UNIX Environment*, 3rd ed.,
#   chapter 15 (interprocess communication).
# - POSIX.1-2017 (The Open Group Base Specifications Issue 7, 2018 edition):
#   <https://pubs.opengroup.org/onlinepubs/9699919799/>.
# - The kernel's limits: [Documentation for /proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html)
#   (`msgmax`, `msgmnb`, `msgmni`, `sem`, `shmall`, `shmmax`, `shmmni`) and
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html) (`/proc/sys/fs/mqueue`).
# - Systems cited: nginx [ngx_core_module](https://nginx.org/en/docs/ngx_core_module.html),
#   [ngx_process_cycle.c](https://github.com/nginx/nginx/blob/master/src/os/unix/ngx_process_cycle.c),
#   [ngx_shmtx.c](https://github.com/nginx/nginx/blob/master/src/core/ngx_shmtx.c);
#   Apache [AcceptMutex](https://httpd.apache.org/docs/2.2/mod/mpm_common.html#acceptmutex);
#   PostgreSQL [kernel resources](https://www.postgresql.org/docs/current/kernel-resources.html),
#   [background workers](https://www.postgresql.org/docs/current/bgworker.html),
#   [shm_mq.c](https://github.com/postgres/postgres/blob/master/src/backend/storage/ipc/shm_mq.c);
#   Redis [rdb.c](https://github.com/redis/redis/blob/unstable/src/rdb.c); Python
#   [multiprocessing start methods](https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods).
