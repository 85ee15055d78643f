# %% [markdown]
# # Lab 10: diagnose and fix — a job ledger with four defects
#
# **Goal.** You receive a program that runs: [`lab10_diagnose.py`](lab10_diagnose.py), a
# *job ledger* shared by worker processes through System V shared memory and a System V
# semaphore set. Its users sent four bug reports. Each one is a real defect in the code: a
# **race**, a **deadlock**, a **leak** and a **torn read**. Find each one with a tool of
# [notebook 06](../notebooks/06_debugging_ipc.ipynb), say which tool showed it and what it
# showed, then fix it. You are graded on the **behaviour of the repaired program**: the
# tests make each defect happen on every run and read the kernel's objects themselves.
#
# **Learning goals.**
# - Turn a vague report ("sometimes", "once", "after a crash") into a run that fails every
#   time: widen the window, add processes, pause at the right point.
# - Read the kernel's side of a bug: `ipcs`/`/proc/sysvipc` for what exists, `semctl`
#   (`ipcs -s -i`) for who holds and who waits, `strace` for which calls a process makes.
# - Fix the cause (the protocol), not the symptom (a longer timeout, a retry, a sleep).
#
# **Concepts exercised:** notebook 06 (section 1 `strace`, section 3 leaks and orphans,
# section 4 hangs, section 5 races), notebook 02 (System V semaphore sets, deadlock), notebook
# 01 (*What is atomic, and what is not*), lab 9 (System V shared memory).
#
# **Time:** about 90 minutes. **You edit:** [`lab10_diagnose.py`](lab10_diagnose.py).
# **Grading:** 10 points in the visible tests; a hidden test runs everything at once in
# spawned processes. Your teacher also reads your `PROTOCOL` and its `Diagnosis:`.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## The program
#
# `run(jobs, workers)` hands the jobs (ints) out to `workers` processes; each worker calls
# `finish(job, worker)` for each of its jobs; at the end `run()` returns the ledger's
# `audit()` and removes the ledger. Any process may attach the ledger and call `audit()` or
# `last()` at any time while the workers run: a dashboard does. The ledger is two System V
# objects, mode 0600, on fresh course keys (per user unique, created with `IPC_EXCL`):
#
# | word of the segment | bytes | name | guarded by |
# | ---: | --- | --- | --- |
# | 0 | 0..7 | `done`: jobs finished so far | semaphore `COUNT` (0) |
# | 1 | 8..15 | `job`: the last job finished | semaphore `LAST` (1) |
# | 2 | 16..23 | `worker`: who finished it | semaphore `LAST` (1) |
# | 3 | 24..31 | `stamp`: the value of `done` that job made | semaphore `LAST` (1) |
#
# Both semaphores are 1 when free, 0 when taken. This layout and what guards what is the
# **contract**: the tests attach the segment and the set themselves, as a C program would,
# and take `COUNT` or `LAST` themselves to play another process.
#
# | call | what the tests hold it to |
# | --- | --- |
# | `Ledger.create()`, `.handle`, `Ledger.attach(handle)` | a segment and a set of 2, mode 0600; `handle` is `(shmid, semid)` |
# | `finish(job, worker, timeout)` | `done` + 1 and the record `(job, worker, done)`, returns the new `done`; no update ever lost |
# | `audit(timeout)` | `(done, job, worker, stamp)` as they were at one instant (so `stamp == done`) |
# | `last(timeout)` | `(job, worker, stamp)` exactly as one `finish()` wrote it |
# | `close()`, `destroy()` | `shmdt`; the creator: `shmdt` + `IPC_RMID` of the segment and the set |
# | `run(jobs, workers, crash=None, timeout)` | the final `audit()`; if a worker dies, raises (`ChildError`); **either way the ledger is gone** |
#
# `crash=JOB` is the program's own fault injection: the worker handed that job kills itself
# with `SIGKILL` (no `finally`, no `atexit`), as `kill -9`, the OOM killer or a segfault would.
# Every wait has a timeout (`semtimedop`), so nothing hangs for ever: a deadlock shows as a
# `WaitTimeout` after `timeout` seconds.
#
# **The C call behind each Python call** of the program (what `strace` shows of it):
#
# | Python, in `lab10_diagnose.py` | C, the system call |
# | --- | --- |
# | `objects.create_sysv_shm(32)` | `shmget(key, 32, IPC_CREAT\|IPC_EXCL\|0600)`, then `shmat(shmid, NULL, 0)` |
# | `semset.create(2, values=[1, 1])` | `semget(key, 2, IPC_CREAT\|IPC_EXCL\|0600)`, then `semctl(semid, 0, SETALL, {1, 1})` |
# | `sysv_ipc.attach(shmid)` / `semset.attach(semid)` | `shmat(shmid, NULL, 0)` / none (a set's id is all `semop` needs) |
# | `w[DONE]`, `w[DONE] = done` (`memoryview.cast("Q")`) | one 8-byte load / store at `addr + 8 * index`: no system call, no lock |
# | `sems.acquire(COUNT, timeout=t)` | `semtimedop(semid, {COUNT, -1, 0}, 1, &ts)`: sleeps while the value is 0, at most `t` s |
# | `sems.release(COUNT)` | `semtimedop(semid, {COUNT, +1, 0}, 1, {0, 0})` (a give never waits: in C, `semop(semid, {COUNT, +1, 0}, 1)`) |
# | `shm.detach()` / `objects.remove_sysv(shm)` | `shmdt(addr)` / `shmdt(addr)` + `shmctl(shmid, IPC_RMID, NULL)` |
# | `sems.remove()` | `semctl(semid, 0, IPC_RMID)` |
# | `os.kill(os.getpid(), signal.SIGKILL)` | `kill(getpid(), SIGKILL)` |
#
# ## The bug reports
#
# 1. *"Under load, `done` is sometimes a few jobs short, and two jobs got the same stamp."*
# 2. *"The dashboard (`audit()`) sometimes freezes for ten seconds, then fails with
#    `WaitTimeout`; sometimes a worker does instead."*
# 3. *"After a worker crashed, `ipcs` lists one more segment and one more semaphore set for
#    every crashed run, until `shmget`/`semget` fail with `ENOSPC` (`SHMMNI`, `SEMMNI`)."*
# 4. *"Once the dashboard showed job 8 finished by worker 1 with stamp 1: no `finish()` ever
#    wrote that record."*
#
# ## Your job, for each report
#
# 1. **Reproduce it every time.** A report that says "sometimes" is a race with a narrow
#    window: make the window wide (notebook 06, section 5). The cells below do it for each
#    report; run them on the program as you received it.
# 2. **Find it with a tool of notebook 06,** and note what the tool showed:
#    - what exists: `ipcs -m -s` (it reads `/proc/sysvipc/shm` and `sem`, see
#      [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html)), `ipcs -m -p` (creator
#      pid), `ipclab ls`;
#    - who holds and who waits: `ipcs -s -i SEMID`, i.e. `semctl` `GETVAL`, `GETNCNT` ("the
#      number of processes waiting for the semaphore's value to increase") and `GETPID`
#      ("the PID of the process that last performed an operation on that semaphore"),
#      [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html); `/proc/PID/syscall`
#      (the number of the call a process sleeps in, then its arguments:
#      [proc_pid_syscall(5)](https://man7.org/linux/man-pages/man5/proc_pid_syscall.5.html)),
#      `strace -p PID`, `py-spy dump --pid PID` for a Python stack (not `kill -USR1 PID`:
#      this program's workers never call `faulthandler.register(SIGUSR1)`, and the default
#      action of `SIGUSR1` ends the process, [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html));
#    - which calls a process makes: `strace -f -e trace=semop,semtimedop,shmat,shmdt,shmctl,semctl`
#      ([strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html)). `semop` and
#      `semtimedop` are system calls ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)):
#      every take and give of a System V semaphore shows in the trace, unlike an uncontended
#      POSIX semaphore (a futex in user space: notebook 06, section 1). A code path that makes
#      no `semtimedop` takes no lock.
# 3. **Fix the cause** in `lab10_diagnose.py`, changing as little as you can and keeping the
#    contract above. A longer timeout, a retry or a `sleep` hides a defect; the tests find it.
# 4. **Write it down** in `PROTOCOL` (the string at the top of your file): the protocol of
#    the repaired program (what guards what, the lock order, the invariants, every wait, who
#    cleans up after a death), then a `Diagnosis:` part with, for each of the four defects,
#    the tool that showed it, what it showed, the line at fault and your fix (the template
#    in your file has no line for it: add `Diagnosis:` after `Death:`). Your teacher reads it
#    with your grade.
#
# ## What the tests do (read them: `ipclab/tooling/grading/labtests/lab10.py`)
# - **Race:** the test takes `COUNT` itself, lets your `finish()` wait for it, changes
#   `done` meanwhile (as a process in its critical section may), releases it, and reads
#   `done` from the segment; then more slowed processes than CPUs finish jobs together.
# - **Deadlock:** `finish()` and `audit()` start together in two processes, and each
#   semaphore your code takes is held 0.5 s before your code goes on (a pause injected after
#   every successful `semop` that takes). Both must return; the test watches the set with
#   `semctl` and shows the cycle if it forms.
# - **Leak:** `run()` with a worker killed; then nothing of it may be left in the box's
#   `/proc/sysvipc` (what `ipcs` reads) or `/dev/shm`.
# - **Torn read:** the test takes `COUNT` and `LAST` (a writer), writes half a record into
#   the segment and calls your `last()`: it must wait, then return the whole record.
#
# ## Hints
# - **Kernel objects outlive code that stops early.** A System V segment or set exists
#   until `IPC_RMID` (or a reboot), whoever created it and whatever happened to that process
#   (notebook 06, section 3). For a segment, `IPC_RMID` only marks it: "the segment will
#   actually be destroyed only after the last process detaches it"; for a set, it removes it
#   "immediately", waking its waiters with `EIDRM`
#   ([shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html), [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)).
#   Which statement of `run()` never runs when a worker dies?
# - **A read-modify-write is three steps** (load, add, store), and Python offers no atomic
#   one on shared memory. What must be true of `done` between your load and your store?
# - **Two locks:** draw, for each function that takes both, which one it takes first. What
#   does each of two processes hold, and wait for, in the worst interleaving?
# - **Three words are three stores.** Whatever way you copy them (`tuple()` of a slice loads
#   them one by one), a copy made while a writer is between its first and last store is half
#   old, half new. Who may write them while you do not hold `LAST`?

# %% [markdown]
# ## Reproduce the reports
#
# The program as it runs for its users: 40 jobs, 4 workers. Most runs look fine; that is why
# the reports say "sometimes".

# %%
# NBVAL_IGNORE_OUTPUT
import importlib

import lab10_diagnose as lab
from ipclab.tooling.grading.labtests import lab10 as lab10_tests

importlib.reload(lab)
result, left = lab10_tests.demo(lab, jobs=40, workers=4)
print("run(range(1, 41), workers=4) returned (done, job, worker, stamp):", result)

# %% [markdown]
# **Report 1, the race.** Widen the window (notebook 06, section 5): more processes than
# CPUs, each line of `lab10_diagnose.py` slowed by 4 ms (a trace function sleeps before each
# line, in the workers only). `done` is read back from the segment.

# %%
r = lab10_tests.race_demo(lab)
print(f"{r['expected']} finish() calls; done in the segment: {'all of them' if r['done'] == r['expected'] else 'fewer'}")
print("stamps given to more than one job:", "some" if r["repeated"] else "none")

# %% [markdown]
# **Report 2, the hang.** `finish()` and `audit()` start together in two processes; after
# each semaphore they take, they pause 0.5 s (a pause injected in their `semop`, the
# widened window again). Meanwhile this notebook reads the set as `ipcs -s -i` would
# (`semctl`: value, `GETNCNT`, `GETPID`; notebook 06, section 4).

# %%
r = lab10_tests.deadlock_demo(lab)
print("finish() and audit() both returned:", "yes" if r["finish"][0] == r["audit"][0] == "ok" else "no")
print("seen from the kernel: both semaphores taken, a process waiting on each:", "yes" if r["cycle"] else "no")

# %% [markdown]
# Which of the two gave up first changes from run to run (both waits last 4 s):

# %%
# NBVAL_IGNORE_OUTPUT
for name in ("finish", "audit"):
    print(f"{name}():", "returned" if r[name][0] == "ok" else f"failed: {r[name][0]}: {r[name][1]}")
for row, name in zip(r["cycle"] or [], ("COUNT", "LAST")):
    print(f"  {name}: value {row['value']}, waiting (GETNCNT) {row['ncnt']}, last semop by pid {row['pid']}")

# %% [markdown]
# In a `WaitTimeout`, `[sem1:P1]` is the operation that gave up: on semaphore 1 (`LAST`),
# `P1`, take one unit (`sem_op = -1`). The rows are what `ipcs -s -i` prints: `value`
# (`GETVAL`), `ncount` (`GETNCNT`) and `pid` (`GETPID`: the last process whose `semop` on
# that semaphore succeeded; on Linux a `SETVAL` or `SETALL` sets it too, semctl(2), NOTES,
# so before any `semop` it names the creator).
#
# **Try it in a terminal.** The cycle lasts about 4 s, too short to type commands in. Start
# this loop, then run the Report 2 cell (two cells up) again. Every half second for 10 s it
# prints the rows of each set of two semaphores (`ipcs -s -i`; the set of one is the cell's
# start gate) and, under each row, `/proc/PID/syscall` of the process in its `pid` column:
#
# ```bash
# for i in $(seq 20); do
#   for id in $(ipcs -s | awk '$5 == 2 {print $2}'); do
#     ipcs -s -i "$id" | awk '$1 ~ /^[01]$/ {print; system("cat /proc/" $5 "/syscall")}'
#   done
#   sleep 0.5
# done
# ```
#
# On x86-64, `220` is `semtimedop` (its first argument is the set's id, in hex) and `230`
# is `clock_nanosleep` (the injected pause). `strace -p PID` shows, in addition, which
# semaphore the sleeping `semtimedop` asks for (`sem_num`). **Which process holds what,
# and waits for what?** Answer, then open:
#
# <details><summary>Answer</summary>
#
# Both semaphores are 0 (taken) and each has one waiter. A semaphore's `GETPID` names the
# process that took it last, so the holder: `COUNT` is held by the `finish()` process,
# `LAST` by the `audit()` process. Both sleep in `semtimedop` (220) on the set. The one
# that gave up says what it waited for: `finish()` for `[sem1:P1]` (`LAST`), or `audit()`
# for `[sem0:P1]` (`COUNT`), whichever gave up first in your run. So `finish()` holds
# `COUNT` and waits for `LAST`, `audit()` holds `LAST` and waits for `COUNT`: each holds
# what the other waits for, a cycle that no timeout, shorter or longer, breaks.
#
# </details>
#
# **Report 3, the leak.** A run with a worker killed (`crash=5`); then the objects this
# notebook's run of ipclab owns that were not there before (what `ipclab ls` lists). The
# cell removes them afterwards (`ipcrm` does the same), so that this notebook leaves nothing.

# %%
result, left = lab10_tests.demo(lab, jobs=12, workers=3, crash=5)
print("run(range(1, 13), workers=3, crash=5):", result if isinstance(result, str) else "returned")
print("left behind by that run:", ", ".join(sorted(row["kind"] for row in left)) or "nothing")

# %% [markdown]
# **Report 4, the torn record.** This notebook plays a writer: it takes `COUNT` and `LAST`,
# as `finish()` does, writes `done`, `job` and `worker` of a new record but not yet its
# `stamp`, and calls `last()`.
#
# **Try it in a terminal.** `strace` tells why. From the `labs` folder, one process makes a
# ledger, finishes one job, then reads it back with `last()`:
#
# ```bash
# strace -f -e trace=semtimedop,semop python -c 'import lab10_diagnose as m
# led = m.Ledger.create(); led.finish(7, 0)
# print("-- last():", flush=True); print(led.last()); led.destroy()'
# ```
#
# `finish()` shows four `semtimedop` calls: `sem_op=-1` on `sem_num=0`, then `1` (the
# takes, with the timeout left) and `sem_op=1` on each (the gives, timeout `{0, 0}`). What
# comes after `-- last():`, and what does that say about `LAST` while `last()` copies?

# %%
r = lab10_tests.torn_demo(lab)
print("last() returned while the writer held LAST:", "yes" if r["returned_while_held"] else "no")
print("the record it returned:", r["got"], "| the record the writer wrote:", r["written"])

# %% [markdown]
# Now find the line behind each report, fix it, and run these cells again: each verdict
# should say the opposite (the leak's run still raises `ChildError`: a worker did die; what
# changes is that it leaves nothing). Then check your work.
#
# ## Summary
# - A report that says "sometimes" is a window: make it wide (slow every line, more
#   processes than CPUs, hold a lock yourself, pause after each take) and it fails every run.
# - Ask the kernel, not the program: what exists (`ipcs`, `/proc/sysvipc`), who holds and
#   who waits (`semctl` `GETVAL`/`GETNCNT`/`GETPID` as `ipcs -s -i` shows them,
#   `/proc/PID/syscall`, `strace -p`), and whether a code path takes a lock at all
#   (`strace -e trace=semtimedop`: every System V take and give is a system call).
# - A read-modify-write is atomic only if the read is inside the lock too.
# - Two locks taken in opposite orders can form a cycle; one order everywhere cannot.
# - A System V object lives until `IPC_RMID`, whoever dies: remove it in a `finally`.
# - A record of several words is consistent only if readers hold the lock its writer holds.
#
# ## References
# - [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html) (`ENOSPC`, `SHMMNI`),
#   [shmop(2)](https://man7.org/linux/man-pages/man2/shmop.2.html) (`shmat`, `shmdt`),
#   [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html) (`IPC_RMID`, `shm_nattch`),
#   [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html) (`ENOSPC`, `SEMMNI`),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`SETALL`, `GETVAL`, `GETNCNT`,
#   `GETPID`, `IPC_RMID`), [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)
#   (`semtimedop`), [svipc(7)](https://man7.org/linux/man-pages/man7/svipc.7.html),
#   [kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (`SIGKILL`, `SIGUSR1`).
# - [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`/proc/sysvipc`),
#   [proc_pid_syscall(5)](https://man7.org/linux/man-pages/man5/proc_pid_syscall.5.html) (`/proc/PID/syscall`).
# - [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html),
#   [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html),
#   [strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html).
# - M. Kerrisk, *The Linux Programming Interface*, chapters 45 (System V IPC), 47 (System V
#   semaphores) and 48 (System V shared memory).
# - Notebook 06 of this course: the tools, each on a small example.
#
# ## Check your work
# `ipclab.check("lab10", "last_holds_last")` runs one test only.

# %%
import ipclab

ipclab.check("lab10")
