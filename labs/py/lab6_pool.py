# %% [markdown]
# # Lab 6 (project): a worker pool fed by a task queue
#
# **Goal.** Write the pool every server and build system has inside: a *master* process
# puts tasks on one queue, N *worker* processes take them, run them and hand results back
# on a second queue; the master matches each result to its task by id, a task that raises
# comes back as an error instead of killing a worker, many more tasks than the queues hold
# go through without deadlock, and shutdown stops every worker cleanly and removes the queues.
#
# **Concepts exercised** (notebooks 03 and 04): POSIX message queues (`mq_open`,
# `mq_timedsend`, `mq_timedreceive`, `mq_unlink`); one queue, many readers, each message
# delivered once; bounded queues and *backpressure*; the deadlock of two full queues;
# poison pills; joining worker processes and removing what you created.
#
# **Time:** about 90 minutes. **You edit:** [`lab6_pool.py`](lab6_pool.py).
# **Grading:** 10 points in the visible tests; hidden tests add spawn workers and unknown ops.

# %%
from ipclab import doctor

doctor.setup_notebook("posix_mq")

# %% [markdown]
# ## The protocol (the contract)
#
# ```
# tasks    master --> workers   {"id": 3, "op": "square", "arg": 7}      or STOP = {"stop": true}
# results  workers --> master   {"id": 3, "result": 49}    or   {"id": 3, "error": "ValueError: ..."}
# ```
#
# Both queues are POSIX message queues of `capacity` messages of at most `MSG_SIZE` bytes.
# `put(mq, obj, timeout)` and `get(mq, timeout)` are given: they send/receive one JSON
# message and raise `TimeoutError` (`timeout=0` means "do not wait at all"). Handlers are a
# dict `{"square": square, ...}` of functions defined in a module, so every start method
# can send them to a worker.
#
# ## The API to implement
#
# | function / method | what it does |
# | --- | --- |
# | `worker(handle, handlers, timeout)` | in a worker process: open both queues by name, run tasks until STOP, send a result or an error for each; return the list of ids it ran |
# | `Pool.create(handlers, n_workers, capacity, start_method)` | make both queues with `objects.create_posix_mq`, start the workers with `procs.start(worker, ...)` |
# | `submit(op, arg, timeout)` | queue one task; return its id (0, 1, 2...) |
# | `next_result(timeout)` | `(id, value)`, or `(id, TaskError(message))` for a failed task |
# | `map(op, args, timeout)` | run every task; the outcomes **in the order of args**, however many tasks there are |
# | `shutdown(timeout)` | one STOP per worker, join them (each exits 0), remove both queues; return what each worker ran |
#
# ## Hints
# - One queue, many readers: the kernel gives each message to exactly one `mq_receive`.
#   Nothing else is needed to share the work.
# - Results come back in the order the tasks *finish*. Keep them by id.
# - Submit 50 tasks through queues of 3 and nothing reads results: the tasks queue fills,
#   the workers fill the results queue and then wait for room, and the master waits for
#   room in the tasks queue. Everybody waits. In `map()`, when `submit(..., timeout=0)`
#   fails, read a result instead.
# - A STOP sent after the tasks is received after them (same priority: FIFO), so queued
#   tasks are done first.
# - Under `spawn` a worker inherits nothing: it opens the queues by name (`pool.handle`).

# %% [markdown]
# ## Your protocol, in words
# At the top of [`lab6_pool.py`](lab6_pool.py), fill in `PROTOCOL = """..."""`: what the two queues carry and who creates and removes them, why no lock of yours is needed (what the kernel guarantees instead), the invariants (every task id comes back exactly once), why `map()` cannot deadlock on full queues, how every wait ends, and what a worker that dies takes with it.
# The grade report shows it to your teacher as you wrote it (the grader reads it as text,
# it never runs it); the tests do not score it, your teacher may.

# %% [markdown]
# ## Try your pool
# Three workers square five numbers. The cell reloads your module: run it after each edit.

# %%
import importlib

import lab6_pool as lab

from ipclab.tooling.grading.labtests import lab6 as tests

importlib.reload(lab)
try:
    pool = lab.Pool.create(tests.HANDLERS, n_workers=3, capacity=4)
    try:
        print("map:", pool.map("square", [1, 2, 3, 4, 5], timeout=10))
    finally:
        print("each worker ran:", pool.shutdown(timeout=10))
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Who did what
# 18 slow tasks (10-60 ms each) through queues of 4, then a batch where one task fails.
# With a correct pool every worker gets a share, every task runs once, and the failure
# is an outcome, not a crash.

# %%
import matplotlib.pyplot as plt

try:
    ran, outcomes = tests.demo(lab, seed=6)
    print("outcomes of checked_sqrt([16, -4, 81]):", outcomes)
    fig, ax = plt.subplots(figsize=(8, 2.2))
    for w, ids in enumerate(ran):
        ax.scatter(ids, [w] * len(ids), marker="s")
    ax.set_yticks(range(len(ran)), [f"worker {w}" for w in range(len(ran))])
    ax.set_xlabel("task id")
    ax.set_title("which worker ran each task")
    plt.show()
except NotImplementedError as e:
    print("not written yet:", e)
except Exception as e:  # a worker failed: the message says which and why
    print(f"{type(e).__name__}: {e}"[:600])

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; `ipclab.check("lab6", "deadlock")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab6")
