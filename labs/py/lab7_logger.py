# %% [markdown]
# # Lab 7 (project): a centralised logging service
#
# **Goal.** Many processes log; one *logger* process writes the file. Write the sources'
# side (numbered records sent at their level's priority), the logger (receive until told
# to stop, highest priority first, one line per record) and the master's stop protocol
# (flush everything still queued, then stop). Every record from every source arrives
# exactly once, each source's records of one level stay in order, errors overtake a
# backlog of debug chatter, a source killed mid-stream changes nothing for the others,
# and `stop()` loses nothing.
#
# **Concepts exercised** (notebooks 03 and 04): POSIX message queue priorities
# (`mq_send(..., prio)`, `mq_receive` returns the oldest message of the highest priority);
# one reader, many writers; sequence numbers to check exactly-once and order; a stop
# message ordered *after* the data; buffered files and why closing flushes; `mq_close` vs
# `mq_unlink`.
#
# **Time:** about 75 minutes. **You edit:** [`lab7_logger.py`](lab7_logger.py).
# **Grading:** 10 points in the visible tests; hidden tests add load and a spawn logger.

# %%
from ipclab import doctor

doctor.setup_notebook("posix_mq")

# %% [markdown]
# ## The protocol (the contract)
#
# | priority | message | sent by |
# | --- | --- | --- |
# | 4, 3, 2, 1 | a record `{"src": "web", "seq": 7, "level": "ERROR", "text": "disk full"}` at `LEVELS[level]` | a `Source` |
# | 0 (`STOP_PRIORITY`) | `STOP = {"stop": true}` | the master, in `Logger.stop()` |
#
# The logger writes `format_line(record)` (given): `ERROR web 7 disk full`. `seq` counts one
# source's records from 0. System V queues would do the same with types and
# `msgrcv(type=-N)` (lab 3); here the kernel sorts by POSIX priority.
#
# ## The API to implement
#
# | function / method | what it does |
# | --- | --- |
# | `serve(handle, path, lifetime)` | the logger process: open the queue by name, append a line per record until STOP, close the file and the queue; return `{src: count}` |
# | `Source.attach(handle, name)` | open the queue to log as *name* |
# | `Source.log(level, text, timeout)` | send one record at its level's priority; return its seq; `ValueError` for an unknown level |
# | `Logger.create(path, capacity)` | make the queue (`objects.create_posix_mq`) |
# | `Logger.start(start_method, lifetime)` | start the logger process with `procs.start(serve, ...)` |
# | `Logger.stop(timeout)` | STOP at priority 0, join the logger (exit 0), remove the queue; return the logger's counts |
#
# ## Hints
# - STOP must be the *lowest* priority: sent with a higher one, it overtakes the records
#   still queued and they are lost.
# - The file object buffers: a process that ends without closing it loses the buffer
#   (`procs` workers end with `os._exit`). Use `with open(...)`.
# - The logger cannot know when sources are done, and must not guess: a quiet spell or a
#   dead source is not a reason to stop. Only STOP is.
# - A record is one message: a source killed between two `mq_send` leaves whole records only.

# %% [markdown]
# ## Your protocol, in words
# At the top of [`lab7_logger.py`](lab7_logger.py), fill in `PROTOCOL = """..."""`: what the queue carries and who owns it, why the file needs no lock, what the priorities guarantee and what they do not, the invariants a reader of the file can check (`seq`), how every wait ends, and what a source or the logger dying changes.
# The grade report shows it to your teacher as you wrote it (the grader reads it as text,
# it never runs it); the tests do not score it, your teacher may.

# %% [markdown]
# ## Try your service
# This process is the only source; the logger is a real process writing a real file.

# %%
import importlib

import lab7_logger as lab

from ipclab import objects

importlib.reload(lab)
try:
    with objects.course_file(tag="log") as path:
        logger = lab.Logger.create(path, capacity=8)
        try:
            logger.start(start_method="fork", lifetime=30)
            src = lab.Source.attach(logger.handle, "notebook")
            for level, text in [("INFO", "starting"), ("DEBUG", "x = 42"), ("ERROR", "disk full")]:
                src.log(level, text, timeout=5)
            src.close()
        finally:
            print("stop() returned:", logger.stop(timeout=10))
        print(open(path).read())
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Priorities under a backlog
# Two source processes queue 10 records of random levels *before* the logger starts; then
# the logger drains them. With priorities the file starts with every ERROR and ends with
# the DEBUG lines; each source's records of one level keep their order.

# %%
import matplotlib.pyplot as plt

from ipclab.tooling.grading.labtests import lab7 as tests

try:
    lines = tests.demo(lab, seed=7)
    ranks = [tests.RANK[level] for level, *_ in lines]
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.step(range(len(ranks)), ranks, where="mid")
    ax.set_yticks(range(1, 5), tests.NAMES)
    ax.set_xlabel("line of the log file")
    ax.set_title("level of each line, in the order written")
    plt.show()
    print("higher levels first:", ranks == sorted(ranks, reverse=True))
except NotImplementedError as e:
    print("not written yet:", e)
except Exception as e:  # a worker failed: the message says which and why
    print(f"{type(e).__name__}: {e}"[:600])

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; `ipclab.check("lab7", "killed")`
# runs one test only.

# %%
import ipclab

ipclab.check("lab7")
