# %% [markdown]
# # Lab 8 (project): Apache prefork accept serialisation
#
# **Goal.** Build the pre-forked server of Apache's `prefork` MPM, accept serialisation
# included ([mpm_prefork](https://httpd.apache.org/docs/2.4/mod/prefork.html)): a master
# opens one listening socket and forks N workers; the workers take turns at `accept()` under
# a blocking *accept lock*, serve their client, and count what they served in *shared
# memory*; the master reads the statistics and stops everybody gracefully. A worker killed
# in the middle — even one holding the accept lock — must not stop the service.
#
# **Which server is this?** Chapter 19's web-server example calls it Nginx; the blocking,
# `SEM_UNDO`-protected accept lock is in fact **Apache prefork**, whose children serialise
# `accept()` with a cross-process mutex ([Apache 2.2 `AcceptMutex`](https://httpd.apache.org/docs/2.2/mod/mpm_common.html#acceptmutex),
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
# Your teacher also reads your `PROTOCOL` (below). An optional last part, not graded, shows
# the modern way: `SO_REUSEPORT`, and why the lock then disappears.

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
# ## The shared state (the contract)
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
# ## Your protocol, in words
# At the top of [`lab8_prefork.py`](lab8_prefork.py), fill in `PROTOCOL = """..."""`: which semaphore guards what (the accept lock, the statistics), why a worker never holds both, the invariant a reader of the statistics sees, which field is read without a lock and why that is safe, how every wait ends, and what `SEM_UNDO` does when a worker dies holding a lock.
# The grade report shows it to your teacher as you wrote it (the grader reads it as text,
# it never runs it); the tests do not score it, your teacher may.

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
# ## Optional: the modern way, and why the lock disappears (not graded)
#
# Your server has **one** listening socket, so **one** accept queue that every worker
# watches: that shared queue is what the accept lock serialises. Linux 3.9 added
# `SO_REUSEPORT` ([socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html)): each
# worker opens **its own** socket, sets the option before `bind()`, and binds the *same*
# address and port (every socket of the group must set it, under the same effective uid).
# The kernel then chooses one socket per incoming connection, by a hash of the connection's
# addresses and ports, and queues the connection there
# ([the soreuseport series, Linux commit c617f398](https://github.com/torvalds/linux/commit/c617f398edd4db2b8567a28e899a88f8f574798d)).
# A worker waiting on its own queue competes with nobody: there is no herd to avoid and
# nothing to serialise, so the lock goes, and since nothing is inherited the workers may
# even be started with `spawn`. The other modern answer keeps one shared socket and wakes
# one waiter only: `EPOLLEXCLUSIVE` (Linux 4.5,
# [epoll_ctl(2)](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)).
#
# The price of `SO_REUSEPORT`: the hash decides, not who is idle. A connection hashed to a
# busy worker waits while another worker sleeps, and the connections queued on a worker's
# socket are lost with it when it dies, where your single shared queue lets any survivor
# take them.
#
# **Predict** before running: three workers started with `spawn`, sixty connections from
# this process. How many listening sockets will the kernel list on the port
# (`/proc/net/tcp`, state `0A`)? Will every worker get some connections, and how many
# semaphores does this server use?
#
# The code is [`ipclab/experiments/reuseport.py`](../ipclab/experiments/reuseport.py).

# %% tags=["reveal"]
from ipclab.experiments import reuseport

out = reuseport.run(n_workers=3, n_connections=60, start_method="spawn")
print("LISTEN sockets on the port, from /proc/net/tcp:", out["listening"], "(one per worker; your server has 1)")
print("connections answered:", out["replies"], "of", out["connections"])
print("every worker served at least one:", all(n > 0 for n in out["by_worker"]))
print("what clients saw == what each worker counted:", out["by_worker"] == out["served"])
print("semaphores, locks, shared memory used: none")
from ipclab.presentation.plots import style

fig, ax = style.subplots(figsize=(6, 2.4))
ax.bar([f"worker {i}" for i in range(len(out["by_worker"]))], out["by_worker"], **style.bar(0))
style.finish(fig, ax, title="SO_REUSEPORT: the kernel's hash spreads the connections", xlabel="worker process",
             ylabel="connections served", legend=False,
             alt=f"Bar chart of the connections each of the {len(out['by_worker'])} workers served, with no lock; "
                 f"{'all' if out['replies'] == out['connections'] else 'not all'} {out['connections']} "
                 "were served, split among the workers by the kernel's hash.")
style.show(fig)

# %% [markdown]
# **Try it.** Run the cell again: the split changes (the client's port changes the hash),
# the total does not. *Answer:* each connection's 4-tuple (addresses and ports) is hashed
# anew; the clients' ephemeral ports differ from run to run, so the shares move around one
# third each.
#
# ## References
# - Apache HTTP Server, [`prefork` MPM](https://httpd.apache.org/docs/2.4/mod/prefork.html);
#   [`AcceptMutex`](https://httpd.apache.org/docs/2.2/mod/mpm_common.html#acceptmutex) (2.2:
#   "the method that Apache uses to serialize multiple children accepting requests on network
#   sockets"), the [`Mutex`](https://httpd.apache.org/docs/2.4/mod/core.html#mutex) directive (2.4).
# - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html): `SO_REUSEPORT` (since Linux 3.9).
# - [epoll_ctl(2)](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html): `EPOLLEXCLUSIVE` (since Linux 4.5).
# - Linux, [soreuseport: TCP/IPv4 implementation](https://github.com/torvalds/linux/commit/da5e36308d9f7151845018369148201a5d28b46d):
#   the motivation (a web server's workers each with their own listener, instead of one
#   shared `accept()` whose load "tends to be uneven").

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; `ipclab.check("lab8", "killed")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab8")
