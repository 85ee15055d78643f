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
# ## The API to implement
#
# | method | what it does | C call |
# | --- | --- | --- |
# | `Table.create(n)` | a set of n semaphores, all 1 (`ipclab.mechanisms.semset.create(n, values=[1]*n)`); `ValueError` for n < 2 | `semget(IPC_CREAT\|IPC_EXCL)`, `semctl(SETALL)` |
# | `Table.attach(handle)` | open the set by id in another process (`semset.SemaphoreSet.attach`) | — |
# | `pick_up(i, timeout)` | take forks i and (i+1)%n in **one** `op([...], timeout=)` with `SEM_UNDO`; `TimeoutError` (semset's `WaitTimeout` is one) having taken nothing | `semtimedop` |
# | `put_down(i)` | give both back, with `SEM_UNDO` too | `semop` |
# | `free_forks()` | every value, e.g. `[1, 0, 0, 1]` | `semctl(GETALL)` |
# | `destroy()` | remove the set | `semctl(IPC_RMID)` |
#
# Why `ipclab.mechanisms.semset` and not `sysv_ipc`: sysv_ipc only makes sets of one semaphore and,
# on this platform, its timed `acquire` never times out.
#
# ## Hints
# - Left fork, then right fork, in two calls: it works with one philosopher and deadlocks
#   with five. One call with two operations cannot.
# - `SEM_UNDO` on the take *and* on the give: the kernel keeps a per-process adjustment,
#   and the two cancel out when the philosopher puts the forks down.

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

# %%
import ipclab

ipclab.check("lab2")
