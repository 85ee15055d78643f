# %% [markdown]
# # Lab 2 (19.2): semaphore sets — a deadlock-free dining table
#
# **Goal.** n philosophers share n forks round a table; philosopher i eats with forks i and
# (i + 1) % n. Write the table so that any number of philosopher *processes* eat for ever
# without deadlock, two neighbours never eat at once, and a philosopher killed while
# eating does not take the forks to the grave.
#
# **Concepts exercised** (notebook 02): a System V semaphore *set* (`semget` with n
# semaphores); `semop` applies several operations **atomically** (all or none);
# `semtimedop` for a wait with a timeout; `SEM_UNDO` (the kernel reverts a dead process's
# operations); `semctl(GETALL)`, `semctl(IPC_RMID)`.
#
# **Time:** about 60 minutes. **You edit:** [`lab2_semsets.py`](lab2_semsets.py).
# **Grading:** 9 points in the visible tests; hidden tests try n = 2 and a big table.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## The contract
#
# | method | what the tests hold it to |
# | --- | --- |
# | `Table.create(n)` | a table of n ≥ 2 philosophers: **one** System V semaphore set of n semaphores, semaphore k being fork k (1 = on the table); `ValueError` for n < 2 |
# | `Table.attach(handle)` | the same table in another process; `table.handle` is the set's id |
# | `pick_up(i, timeout)` | philosopher i holds forks i and (i+1) % n on return; `TimeoutError` after *timeout* |
# | `put_down(i)` | both forks back on the table, without blocking |
# | `free_forks()` | the forks' values, e.g. `[1, 0, 0, 1]` |
# | `destroy()` | the set is gone from the system |
#
# The tests read the set from the kernel (`semctl(GETALL)`, `GETNCNT`, `/proc/sysvipc/sem`),
# never only what your code reports.
#
# ## The invariants your design must keep
#
# 1. Two neighbours never eat at the same time.
# 2. No deadlock, however many philosopher processes start at the same instant and however
#    the scheduler interleaves them (the tests start them together and slow your code down
#    line by line, so every window between two of your steps is wide open).
# 3. A philosopher **waiting** for its forks holds none of them; one whose wait times out
#    has taken nothing.
# 4. A philosopher killed (SIGKILL) while eating does not take its forks to the grave, and
#    philosophers that exit normally leave every fork at exactly 1.
# 5. Every wait has a timeout.
#
# How you get there is yours to design: which System V operations, with which flags, in
# which calls. `ipclab.mechanisms.semset` gives you the kernel's calls on a set
# (`create`, `SemaphoreSet.attach`, `op`, `getall`, `remove`; read its docstrings);
# sysv_ipc cannot help here: it only makes sets of one semaphore and, on this platform,
# its timed `acquire` never times out.
#
# ## Hints
# - Try the obvious design first on paper: five philosophers, each takes the left fork,
#   then the right one. Which invariant breaks, and when?
# - What does the kernel promise about *several* operations given to one `semop` call?
#   (`man 2 semop`; notebook 02.)
# - After `kill -9`, which of a process's semaphore operations does the kernel revert, and
#   what must the living philosopher's operations look like so that the adjustments cancel
#   out? (`man 2 semop`, `SEM_UNDO`.)
#
# ## Your protocol
# Fill the `PROTOCOL = """..."""` string at the top of your file: what is shared, what each
# semaphore guards, the order of waits (and why no deadlock), the invariants, every
# blocking call and its timeout, and what happens when a philosopher dies. Your teacher
# reads it with your grade.

# %% [markdown]
# ## Try your table

# %%
import importlib

import lab2_semsets as lab

importlib.reload(lab)
try:
    table = lab.Table.create(5)
    try:
        table.pick_up(0, timeout=1)
        print("while 0 eats:", table.free_forks())
        table.put_down(0)
        print("after:       ", table.free_forks())
    finally:
        table.destroy()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Check your work
# `ipclab.check("lab2", "killed")` runs one test only.
#
# **In C?** If your teacher chose the C track for this lab, you write
# [`c/lab2_semsets.c`](c/lab2_semsets.c) against the header [`c/lab2_semsets.h`](c/lab2_semsets.h) (the contract;
# [`c/README.md`](c/README.md) maps this API to it), and `ipclab.check("lab2", track="c")`
# compiles it as the grader does and runs the same tests on it.

# %%
import ipclab

ipclab.check("lab2")
