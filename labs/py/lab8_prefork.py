# %% [markdown]
# # Lab 8 (project): a pre-forked server — the Apache prefork model
#
# **Goal.** Build the pre-forked architecture of chapter 19's web-server example: a master
# opens one listening socket and forks N workers; the workers take turns at `accept()` under
# a blocking *accept lock*, serve their client, and count what they served in *shared
# memory*; the master reads the statistics and stops everybody gracefully. A worker killed
# in the middle — even one holding the accept lock — must not stop the service.
#
# **Which server is this?** The chapter calls it Nginx; the blocking, `SEM_UNDO`-protected
# accept lock is in fact the **Apache prefork** model, whose children serialise `accept()`
# with a cross-process mutex ([Apache 2.2 `AcceptMutex`](https://httpd.apache.org/docs/2.2/mod/mpm_common.html#acceptmutex),
# "the method that Apache uses to serialize multiple children accepting requests on network
# sockets", System V semaphores among the methods; the
# [`Mutex` directive](https://httpd.apache.org/docs/2.4/mod/core.html#mutex) in 2.4). Nginx
# differs on both counts: its `accept_mutex` is **off** by default since 1.11.3
# ([ngx_core_module](https://nginx.org/en/docs/ngx_core_module.html#accept_mutex)), and when
# on, a worker only *tries* it, a compare-and-swap on a word in shared memory that never
# blocks ([src/core/ngx_shmtx.c](https://github.com/nginx/nginx/blob/master/src/core/ngx_shmtx.c));
# and its master passes reload and stop orders to each worker over a socket pair, not with
# a signal to the group ([src/os/unix/ngx_process_cycle.c](https://github.com/nginx/nginx/blob/master/src/os/unix/ngx_process_cycle.c)).
#
# **Why a lock at all, when Linux gives each connection to one process?** A process
# *blocked in* `accept()` waits on the listening socket exclusively: a new connection wakes
# **one** of them ("True wake-one mechanism for incoming connections: only one process gets
# woken up, not the 'whole herd'", `inet_csk_wait_for_connect` in
# [net/ipv4/inet_connection_sock.c](https://github.com/torvalds/linux/blob/master/net/ipv4/inet_connection_sock.c)).
# But this lab's workers use `sock.settimeout(POLL)`, and Python implements a socket timeout
# by making the socket non-blocking and calling `poll()` before `accept()`
# (`internal_select` in CPython's [Modules/socketmodule.c](https://github.com/python/cpython/blob/main/Modules/socketmodule.c)).
# `poll` and `epoll` waiters are woken **all together** (that is what `EPOLLEXCLUSIVE`
# exists to avoid; [epoll_ctl(2)](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)):
# every worker wakes, all but one find nothing to accept. That is the thundering herd, and
# the accept lock prevents it by letting only its holder poll.
#
# **Concepts exercised** (notebooks 01, 02 and 05): inheriting file descriptors across
# `fork`; a System V semaphore set as an accept lock and a statistics lock; `SEM_UNDO`;
# counters in a POSIX shared memory segment updated under a lock; a stop flag in shared
# memory; timeouts on every socket operation and every wait.
#
# **Time:** about 90 minutes. **You edit:** [`lab8_prefork.py`](lab8_prefork.py).
# **Grading:** 10 points in the visible tests; hidden tests add load and concurrent readers.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## Why fork (and not spawn)
#
# `socket()` + `bind()` + `listen()` in the master make *one* kernel object with *one*
# queue of pending connections. `fork()` copies the master's descriptor table, so every
# worker holds a descriptor for that same object: whichever calls `accept()` gets the next
# connection, and the kernel gives each connection to exactly one of them. A `spawn`ed
# worker starts from a fresh interpreter with no inherited descriptors; it would need the
# socket sent to it over a UNIX socket (`SCM_RIGHTS`). That is why `Server.create` uses
# `start_method="fork"`, and why everything else (the semaphores, the segment) is opened
# by id or name, so it would work under any start method.
#
# ## The shared state (decided for you)
#
# ```
# semaphore set  ACCEPT = 0 (starts at 1)   only its holder calls accept(); released BEFORE serving
#                STATS  = 1 (starts at 1)   guards the counters
#                both always with SEM_UNDO: the kernel releases the locks of a process that dies
# segment        | stop u32 | n_workers u32 | total u64 | served[0] u64 | served[1] u64 | ... |
# ```
#
# A request is one line `"word ms\n"` on its own connection; `serve_connection(conn, i)`
# (given) reads it, works for *ms* milliseconds, replies `"WORD i\n"`. `HEADER`, `COUNTER`,
# `stopping()`, `request_stop()`, `close()` and `destroy()` are given.
#
# ## The API to implement
#
# | function / method | what it does |
# | --- | --- |
# | `Shared.create(n)` / `Shared.attach(handle)` | `semset.create(2, values=[1, 1])` + `Segment.create(...)`, header written / attach both |
# | `acquire_accept(timeout)` / `release_accept()` | P and V on ACCEPT, with SEM_UNDO |
# | `count(i)` / `stats()` | `total += 1; served[i] += 1` under STATS / `(total, served)` read under STATS |
# | `worker(sock, handle, i, lifetime)` | until the stop flag: lock, accept (timeout `POLL`), unlock, serve, count; return how many it served |
# | `Server.create(n, lifetime)` | listen on `127.0.0.1` port 0, create `Shared`, fork the workers with `procs.start` |
# | `Server.stop()` | set the flag, join the workers (a dead one is `None`, not an error), close the socket, destroy `Shared` |
#
# ## Hints
# - `sock.settimeout(POLL)` makes `accept()` give up after `POLL` s (`TimeoutError`): the
#   worker then looks at the stop flag again. Release the lock in a `finally`.
# - Release the accept lock *before* serving: otherwise one slow client stops every worker.
# - Update `total` and `served[i]` in the same critical section, so that any reader sees
#   `total == sum(served)`.
# - A worker killed while it holds a lock cannot release it; with `undo=True` the kernel
#   does it when the process dies.

# %% [markdown]
# ## Try your server
# Three workers, this process as a client.

# %%
import importlib

import lab8_prefork as lab

from ipclab.tooling.grading.labtests import lab8 as tests

importlib.reload(lab)
try:
    srv = lab.Server.create(3, lifetime=30)
    try:
        print([tests.ask(srv.address, w) for w in ("tea", "post", "fire")])
        print("stats (total, served):", srv.stats())
    finally:
        print("stop() returned:", srv.stop())
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Who served whom
# Five client processes send 8 requests each (5-20 ms of work). The bars are the counters
# your workers kept in shared memory; they must add up to 40.

# %%
import matplotlib.pyplot as plt

try:
    total, served = tests.demo(lab, seed=8)
    print("total == sum(served) == 40:", total == sum(served) == 40)
    fig, ax = plt.subplots(figsize=(6, 2.2))
    ax.bar([f"worker {i}" for i in range(len(served))], served)
    ax.set_ylabel("requests served")
    plt.show()
except NotImplementedError as e:
    print("not written yet:", e)
except Exception as e:  # a worker failed: the message says which and why
    print(f"{type(e).__name__}: {e}"[:600])

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; `ipclab.check("lab8", "killed")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab8")
