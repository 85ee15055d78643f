# %% [markdown]
# # 19.7 C beside Python, and memory ordering
#
# The chapter comes from a C course: its programs call `shm_open`, `semget` and `msgsnd`
# and check `errno` after each call. This notebook writes that C **in the cells**, compiles it
# with `gcc`, and runs it as real processes on the same kind of named objects the Python side
# uses. Then it asks the hardest question of shared memory: when one process stores and another
# loads, *in which order* does the second see the first's stores? We measure it on this
# machine with litmus tests, and we derive what locks, semaphores and seqlocks really promise.
#
# **Learning goals.** After this notebook you can
# 1. write, compile and run a C cell (`%%c`) on course objects, and read gcc's diagnostics,
#    a sanitizer report and an exit status;
# 2. handle `errno` in System V calls (`perror`, `EINTR`, `EIDRM`, `EAGAIN`, `ENOMSG`,
#    `ETIMEDOUT`), define `union semun`, and use `IPC_NOWAIT` and `MSG_NOERROR`;
# 3. drive System V shared memory as an API (`shmget`, `shmat` with an address and with
#    `SHM_RDONLY`, `shmdt`, `shmctl(IPC_STAT/IPC_RMID)`, `shm_nattch`) from C and from `sysv_ipc`;
# 4. run the store-buffering and message-passing litmus tests, explain their outcomes with the
#    store buffer and the C11 orderings, and say why a lock or a semaphore publishes data;
# 5. protect shared data with a seqlock and with a robust process-shared mutex, and say what
#    `SEM_UNDO` does and does not restore after a `SIGKILL`.
#
# **Time:** 60 min teaching, 40 min exercises. **Prerequisites:** notebooks 01 (POSIX shared
# memory) and 02 (System V semaphores); C pointers and `errno`.
#
# **Without gcc.** Most laptops have no C compiler. Every C cell then says what it would have
# shown and skips; the litmus section shows a run recorded on an x86-64 machine, labelled as such.
# The building blocks: [`ipclab/mechanisms/ccell.py`](../ipclab/mechanisms/ccell.py) (the
# magics), [`ipclab/core/cbuild.py`](../ipclab/core/cbuild.py) (the one gcc runner),
# [`ipclab/experiments/litmus.py`](../ipclab/experiments/litmus.py) and the C sources in
# [`ipclab/c/`](../ipclab/c/).

# %%
# NBVAL_IGNORE_OUTPUT
import platform

import sysv_ipc

from ipclab import doctor, inventory, objects, procs
from ipclab.core import cbuild
from ipclab.experiments import litmus, pshared_demos
from ipclab.mechanisms import ccell
from ipclab.presentation.plots import litmus as litmus_plots
from ipclab.presentation.plots import style

doctor.setup_notebook("gcc")
ccell.load()  # registers %%c and %%worker (or: %load_ext ipclab.mechanisms.ccell)
print("sanitizers (ASan + UBSan) usable here:", cbuild.sanitizers_available())

# %% [markdown]
# ## 1. The C cell
#
# A cell that starts with `%%c` is a C program. The magic compiles it with
# `gcc -std=gnu11 -Wall -Wextra -Werror -O2` (every warning is an error: the warnings gcc gives
# are usually bugs), adds AddressSanitizer and UndefinedBehaviorSanitizer when this gcc can
# run them, caches the binary by the hash of its source, and runs it as a real process:
# in its own process group, killed at `--timeout` (10 s by default) or when you press stop,
# killed too if the kernel dies. Its output appears in the cell, then its exit status.
#
# Objects come from the course, not from the C code: `--env SHM=posix_shm:4096` creates a
# POSIX shared memory object through `ipclab.core.objects` (unique name, mode 0600,
# registered), passes its name in the environment variable `SHM`, and removes it after the
# run, even if the program crashes. `--expect ok` states the outcome the text predicts; if the
# program ends otherwise, the cell fails. C cells are tagged `nbval-ignore-output`: their
# output differs between machines with and without gcc.

# %% tags=["nbval-ignore-output"]
# %%c --env SHM=posix_shm:4096 --copies 2 --expect ok
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    const char *name = getenv("SHM");               /* a course name, made by Python */
    int fd = shm_open(name, O_RDWR, 0);             /* open, do not create */
    if (fd == -1) {
        perror("shm_open");                         /* "shm_open: No such file or directory" */
        return 1;
    }
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);                                      /* the mapping stays */
    int copy = atoi(getenv("IPCLAB_COPY"));         /* %%c --copies 2: copy 0 and copy 1 */
    snprintf(p + 64 * copy, 64, "hello from copy %d, pid %d", copy, (int)getpid());
    printf("%s wrote: %s\n", name, p + 64 * copy);
    munmap(p, 4096);
    return 0;
}

# %% [markdown]
# Two copies ran at once, each a process of its own (`--copies 2`; each reads its index in
# `IPCLAB_COPY`). Every line a copy prints is prefixed with its name.
#
# ### When it goes wrong
#
# gcc's messages point at **the cell's own line numbers**, counting the `%%c` line as line 1,
# as Jupyter numbers lines (turn on line numbers: View, Show line numbers):

# %% tags=["nbval-ignore-output"]
# %%c --expect compile-error
#include <stdio.h>

int main(void)
{
    int unused;                    /* line 5: -Wunused-variable */
    printf("%s\n", 42);            /* line 6: -Wformat, %s wants a char *, not an int */
    return 0;
}

# %% [markdown]
# A program that runs off the end of a heap block. Without sanitizers it may even print a
# plausible result; with AddressSanitizer it stops at the first bad byte and says where the
# block was allocated. The magic summarises the report in one line after the exit status.

# %% tags=["nbval-ignore-output"]
# %%c --args 24 --expect sanitizer
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;   /* %%c --args 24 */
    char *src = malloc(16), dst[64];
    if (src == NULL)
        return 1;
    memset(src, 'x', 16);
    memcpy(dst, src, n);            /* reads n bytes of a 16-byte block */
    printf("copied %zu bytes, first '%c'\n", n, dst[0]);
    free(src);
    return 0;
}

# %% [markdown]
# A crash without sanitizers is a signal: the kernel ends the process with `SIGSEGV`, and the
# exit status says so. And a program that never ends is killed at its timeout, with its whole
# process group (here, the child it forked too).

# %% tags=["nbval-ignore-output"]
# %%c --no-sanitize --expect signal=SIGSEGV
int main(void)
{
    volatile int *p = 0;           /* volatile: the compiler must really load it */
    return *p;
}

# %% tags=["nbval-ignore-output"]
# %%c --timeout 1 --expect timeout
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    if (fork() == 0)
        for (;;)
            pause();               /* the child waits for ever */
    printf("parent and child are waiting for a signal nobody sends\n");
    fflush(stdout);
    for (;;)
        pause();
}

# %% [markdown]
# > **Try it.** In the sanitizer cell, change `--args 24` to `--args 16`: what is the exit
# > status now? Then add `--no-sanitize` and `--args 24`: does the program notice anything?
# > [answer](answers/07_c_and_memory_ordering_answers.ipynb#try-it-1)
#
# ### Workers written in a cell
#
# `procs.run` starts Python workers under fork, forkserver or spawn. Under spawn and
# forkserver the child *imports* the worker by module name, so a function defined in the
# notebook (module `__main__`) cannot run there. `%%worker NAME` writes the cell to `NAME.py`
# in a private per-kernel folder on `sys.path` (removed when the kernel exits, registered so a
# killed kernel's folder is removed later), imports it and binds `NAME`:

# %%
# %%worker squares
import os


def square(x):
    """Runs in a worker process; returns its input squared and whether it ran elsewhere."""
    return x * x, os.getpid() != int(os.environ.get("NOTEBOOK_PID", "0"))

# %%
import os

os.environ["NOTEBOOK_PID"] = str(os.getpid())
for method in ("fork", "forkserver", "spawn"):
    results = procs.run(squares.square, [(2,), (3,)], start_method=method, timeout=60)
    print(f"{method:10s}: {[r[0] for r in results]}, in other processes: {all(r[1] for r in results)}")

# %% [markdown]
# Edit the cell, run it again, and the next `procs.run` runs the new code in every start method.
#
# ## 2. errno: how a System V call tells you what went wrong
#
# A system call that fails returns -1 and leaves the reason in `errno`; `perror("semop")`
# prints `semop: ` and its text. The codes a System V program meets most (semop(2), msgrcv(2),
# signal(7)):
#
# | errno | when | what to do |
# | --- | --- | --- |
# | `EAGAIN` | `semop` with `IPC_NOWAIT` would block; `semtimedop`'s timeout expired; `msgsnd` with `IPC_NOWAIT` on a full queue | retry later, or report the timeout |
# | `ENOMSG` | `msgrcv` with `IPC_NOWAIT` and no message of that type | nothing to read now |
# | `E2BIG` | the message is longer than `msgsz` and `MSG_NOERROR` is not set (it stays queued) | a larger buffer, or `MSG_NOERROR` to truncate |
# | `EINTR` | a signal handler ran while the call was blocked; System V IPC calls are **never** restarted, even with `SA_RESTART` (signal(7)) | usually: call again |
# | `EIDRM` | the set or queue was removed (`IPC_RMID`) while the call was blocked | stop: the object is gone |
# | `ETIMEDOUT` | `sem_timedwait`, `mq_timedreceive`, `pthread_cond_timedwait` (which *returns* it) reached the deadline | report the timeout |
#
# `semctl` takes a fourth argument of type `union semun`, which **your program must define**
# (semctl(2): glibc does not). The cell below meets each code on purpose, on a semaphore and a
# queue created by the course (`--env SEM=sysv_sem` passes the key in `SEM` and the id in `SEM_ID`).

# %% tags=["nbval-ignore-output"]
# %%c --env SEM=sysv_sem --env Q=sysv_msg --expect ok
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {                       /* semctl(2): "the calling program must define this union" */
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static const char *name(int e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case ENOMSG: return "ENOMSG";
    case E2BIG: return "E2BIG";
    case EINTR: return "EINTR";
    case EIDRM: return "EIDRM";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "another errno";
    }
}

static void show(const char *call, int rc)
{
    if (rc == -1)
        printf("%-44s -> -1, errno %s: %s\n", call, name(errno), strerror(errno));
    else
        printf("%-44s -> %d\n", call, rc);
}

static void on_alarm(int sig) { (void)sig; }

int main(void)
{
    int semid = atoi(getenv("SEM_ID")), msqid = atoi(getenv("Q_ID"));
    union semun arg = {.val = 0};
    show("semctl(SETVAL, 0)", semctl(semid, 0, SETVAL, arg));
    show("semctl(GETVAL)", semctl(semid, 0, GETVAL));

    struct sembuf down = {.sem_num = 0, .sem_op = -1, .sem_flg = IPC_NOWAIT};
    show("semop(-1, IPC_NOWAIT) on 0", semop(semid, &down, 1));
    down.sem_flg = 0;
    struct timespec rel = {.tv_sec = 0, .tv_nsec = 200000000};
    show("semtimedop(-1, 0.2 s) on 0", semtimedop(semid, &down, 1, &rel));

    struct sigaction sa = {.sa_handler = on_alarm};       /* sa_flags = 0: no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval in = {.it_value = {.tv_sec = 0, .tv_usec = 200000}};
    setitimer(ITIMER_REAL, &in, NULL);                    /* SIGALRM in 0.2 s */
    show("semop(-1) blocked, then SIGALRM", semop(semid, &down, 1));

    struct { long mtype; char mtext[32]; } msg = {.mtype = 1};
    memset(msg.mtext, 'm', sizeof msg.mtext);             /* 32 bytes of text, no '\0' needed */
    show("msgsnd(32 bytes)", msgsnd(msqid, &msg, sizeof msg.mtext, 0));
    struct { long mtype; char mtext[8]; } small;
    show("msgrcv(buffer of 8)", (int)msgrcv(msqid, &small, sizeof small.mtext, 0, 0));
    show("msgrcv(buffer of 8, MSG_NOERROR)", (int)msgrcv(msqid, &small, sizeof small.mtext, 0, MSG_NOERROR));
    printf("%-44s    \"%.8s\" (the rest is lost)\n", "", small.mtext);
    show("msgrcv(IPC_NOWAIT) on an empty queue", (int)msgrcv(msqid, &small, sizeof small.mtext, 0, IPC_NOWAIT));

    sem_t local;                                          /* a POSIX semaphore, value 0 */
    sem_init(&local, 0, 0);
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);                  /* sem_timedwait: an absolute deadline */
    abs.tv_nsec += 200000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    show("sem_timedwait(deadline in 0.2 s)", sem_timedwait(&local, &abs));

    pid_t pid = fork();
    if (pid == 0) {                                       /* the child removes the set... */
        usleep(200000);
        semctl(semid, 0, IPC_RMID);
        _exit(0);
    }
    show("semop(-1) blocked, set removed meanwhile", semop(semid, &down, 1));   /* ...while we wait */
    waitpid(pid, NULL, 0);
    return 0;
}

# %% [markdown]
# Python wraps the same errors in exceptions. `sysv_ipc` raises `BusyError` for `EAGAIN` and
# `ENOMSG` (the call would block), `ExistentialError` for an object that is gone, and Python
# itself retries a call interrupted by a signal whose handler did not raise (PEP 475), so you
# rarely see `InterruptedError` (`EINTR`). Note that `acquire(timeout=0)` is *not* `IPC_NOWAIT`
# in this build of sysv_ipc (it has no `semtimedop`, see notebook 02): set `block = False`.

# %%
with objects.sysv_sem(0) as sem, objects.sysv_msg() as q:   # C: semget/msgget(key, IPC_CREAT|IPC_EXCL|0600)
    sem.block = False
    for what, call in [("semop(-1, IPC_NOWAIT) on 0", sem.acquire),               # C: semop(id, {0,-1,IPC_NOWAIT}, 1)
                       ("msgrcv(IPC_NOWAIT) on an empty queue", lambda: q.receive(block=False))]:
        try:
            call()
        except sysv_ipc.BusyError as e:
            print(f"{what:38s} -> sysv_ipc.BusyError: {e}")
    q.send(b"x" * 32, type=1)
    print(f"{'msgsnd(32 bytes), then msgrcv':38s} -> {len(q.receive()[0])} bytes")  # C: msgsnd + msgrcv
    removed = sysv_ipc.MessageQueue(q.key)                  # a second handle on the same queue
    objects.remove_sysv(q)                                  # C: msgctl(id, IPC_RMID, NULL)
    try:
        removed.receive(block=False)
    except sysv_ipc.ExistentialError as e:
        print(f"{'msgrcv on a removed queue':38s} -> sysv_ipc.ExistentialError: {e}")

# %% [markdown]
# > **Try it.** Give the `on_alarm` handler `SA_RESTART` (`.sa_flags = SA_RESTART`). Does
# > `semop` restart now? (signal(7): System V IPC calls never do.) What does the program do then,
# > and why does the cell still end? [answer](answers/07_c_and_memory_ordering_answers.ipynb#try-it-2)
#
# ## 3. System V shared memory, as an API
#
# Notebook 01 used POSIX shared memory (`shm_open` + `mmap`). The System V API is older and
# still in use: PostgreSQL kept its shared buffers in it until 9.3, and still creates a small
# System V segment because `shm_nattch` tells it how many processes are attached, which an
# `mmap`'d region cannot (its `src/backend/port/sysv_shmem.c`). `ipcs -m` lists them. The calls:
#
# ```c
# int   shmget(key_t key, size_t size, int flags);     /* create or find: an id            */
# void *shmat(int id, const void *addr, int flags);    /* attach: an address in this process */
# int   shmdt(const void *addr);                       /* detach                            */
# int   shmctl(int id, int cmd, struct shmid_ds *buf); /* IPC_STAT, IPC_SET, IPC_RMID        */
# ```
#
# Three things differ from POSIX. `shmat` may take an *address* (`NULL`: the kernel chooses;
# otherwise it must be a multiple of `SHMLBA`, or `SHM_RND` rounds it down) and the flag
# `SHM_RDONLY` (writing through that attachment faults). The segment counts its attachments in
# `shm_nattch`. And `IPC_RMID` only *marks* the segment: it is destroyed at the last detach;
# meanwhile its key becomes `IPC_PRIVATE` (no `shmget` finds it) and its mode shows `SHM_DEST`
# (shmctl(2), shmat(2); TLPI ch. 48).

# %% tags=["nbval-ignore-output"]
# %%c --env KEY=sysv_shm:new --expect ok
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static void stat_line(int id, const char *when)
{
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) == -1) {
        printf("%-30s shmctl(IPC_STAT): %s\n", when, strerror(errno));
        return;
    }
    printf("%-30s key %s, shm_nattch %lu, mode %04o%s\n", when,
           ds.shm_perm.__key == IPC_PRIVATE ? "IPC_PRIVATE" : "= ours",
           (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777,
           ds.shm_perm.mode & SHM_DEST ? " + SHM_DEST" : "");
}

int main(void)
{
    key_t key = (key_t)strtol(getenv("KEY"), NULL, 0);      /* a fresh course key */
    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    if (id == -1) {
        perror("shmget");
        return 1;
    }
    stat_line(id, "after shmget:");
    char *rw = shmat(id, NULL, 0);                          /* NULL: the kernel picks */
    if (rw == (void *)-1) {
        perror("shmat");
        return 1;
    }
    strcpy(rw, "hello, System V");
    stat_line(id, "after shmat:");
    char *ro = shmat(id, NULL, SHM_RDONLY);
    if (ro == (void *)-1) {
        perror("shmat(SHM_RDONLY)");
        return 1;
    }
    stat_line(id, "after shmat(SHM_RDONLY):");
    printf("read through the read-only attachment: \"%s\"\n", ro);
    pid_t pid = fork();
    if (pid == 0) {                                         /* inherits both attachments */
        signal(SIGSEGV, SIG_DFL);                           /* let the fault kill us, sanitizer or not */
        ro[0] = 'H';                                        /* write through SHM_RDONLY */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("a child writing through SHM_RDONLY: %s\n",
           WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "was not stopped?!");
    shmdt(ro);
    void *where = rw;
    shmdt(rw);
    char *again = shmat(id, where, 0);                      /* ask for the same address */
    printf("attached again at the address asked for: %s; still holds \"%s\"\n",
           again == where ? "yes" : "no", again);
    shmctl(id, IPC_RMID, NULL);                             /* mark for destruction */
    stat_line(id, "after IPC_RMID (attached):");
    printf("shmget(key) after IPC_RMID: %s\n", shmget(key, 0, 0) == -1 ? strerror(errno) : "found?!");
    strcpy(again, "still usable");
    printf("the attached process still reads and writes: \"%s\"\n", again);
    shmdt(again);                                           /* the last detach destroys it */
    stat_line(id, "after the last shmdt:");
    return 0;
}

# %% [markdown]
# The same life through `sysv_ipc`: `objects.create_sysv_shm` calls `shmget` (and attaches, as
# `sysv_ipc.SharedMemory` does), `sysv_ipc.attach(id, flags=SHM_RDONLY)` calls `shmat`,
# `.detach()` is `shmdt`, `.number_attached` reads `shm_nattch` from `IPC_STAT`, `.remove()` is
# `IPC_RMID`. `/proc/sysvipc/shm` (what `ipcs -m` reads) shows the key and mode the kernel keeps;
# its `perms` include `SHM_DEST` (01000).

# %%
def row(seg_id):
    r = inventory.sysv_row("shm", seg_id)                   # a line of /proc/sysvipc/shm
    if r is None:
        return "no such segment (destroyed)"
    key = "IPC_PRIVATE" if r["key"] == 0 else "= ours"
    return f"key {key}, nattch {r['nattch']}, perms {r['perms']:04o}"


seg = objects.create_sysv_shm(4096)     # C: id = shmget(key, 4096, IPC_CREAT|IPC_EXCL|0600); shmat(id, NULL, 0)
try:
    seg.write(b"hello, System V")                           # C: memcpy(addr, "hello...", 15)
    print("after shmget + shmat:     ", row(seg.id))
    ro = sysv_ipc.attach(seg.id, flags=sysv_ipc.SHM_RDONLY)  # C: shmat(id, NULL, SHM_RDONLY)
    print("after shmat(SHM_RDONLY):  ", row(seg.id), "| number_attached:", seg.number_attached)
    print("read-only attachment reads:", ro.read(15).decode())
    try:
        ro.write(b"H")
    except OSError as e:                                     # sysv_ipc checks before writing
        print("write through it:         ", e)
    seg.remove()                                             # C: shmctl(id, IPC_RMID, NULL)
    print("after IPC_RMID (attached):", row(seg.id))
    print("still readable:           ", ro.read(15).decode())
    ro.detach()                                              # C: shmdt(addr)
    seg.detach()                                             # the last detach
    print("after the last shmdt:     ", row(seg.id))
finally:
    objects.remove_sysv(seg)

# %% [markdown]
# > **Try it.** Attach the segment in a second Python process (`procs.run` a worker that
# > attaches and sleeps) before `IPC_RMID`: how long does the segment live now? What does
# > `ipcs -m` show meanwhile in a terminal? [answer](answers/07_c_and_memory_ordering_answers.ipynb#try-it-3)
#
# ## 4. Memory ordering, measured
#
# Two processes share two integers, `x = y = 0`:
#
# ```
#  store buffering (SB)                 message passing (MP)
#  P0: x = 1;   r0 = y;                 P0: data = 1;   flag = 1;
#  P1: y = 1;   r1 = x;                 P1: r0 = flag;  r1 = data;
# ```
#
# If the two processes took turns, one instruction at a time in some interleaving
# (*sequential consistency*), SB could never end with `r0 = r1 = 0` (whoever loads second
# must see the other's store), and MP could never end with `flag = 1, data = 0`. Real
# machines are not sequentially consistent. We run each test up to two million times (for at
# most 12 seconds per variant: on a busy machine the barrier below waits for a partner that is
# not running, and the table then says how many iterations ran), two
# processes over one POSIX shared memory object, meeting at a spin barrier in shared memory
# before every iteration so that both run the test at the same moment (the method of the
# `litmus7` tool, and of Preshing's "Memory reordering caught in the act"). Each test is
# compiled five ways:
#
# | variant | the accesses | C11 allows SB's 00? | MP's 10? |
# | --- | --- | --- | --- |
# | `plain` | `volatile int`: the compiler must keep each load and store, **nothing more**: `volatile` is not atomic and orders nothing in the hardware (a racing plain access is undefined behaviour in C11, 5.1.2.4) | yes | yes |
# | `relaxed` | `atomic_store_explicit(p, 1, memory_order_relaxed)`: atomic, unordered | yes | yes |
# | `acq_rel` | stores `memory_order_release`, loads `memory_order_acquire` | yes | **no** |
# | `seq_cst` | `memory_order_seq_cst` everywhere | **no** | **no** |
# | `fence` | relaxed, with `atomic_thread_fence(memory_order_seq_cst)` between the two accesses | **no** | **no** |
#
# The harness and the tests: [`ipclab/c/litmus/`](../ipclab/c/litmus/). This is SB's code:

# %%
sb = (cbuild.C_DIR / "litmus" / "sb.c").read_text()
print(sb[sb.index("__attribute__"):sb.index("int main")].strip())

# %% [markdown]
# What does each variant become on this machine? `gcc -S` shows the instructions of `body`
# (on x86-64: `mov` is a load or a store; `xchg` and `lock or` are full barriers; on arm64 you
# would see `stlr`/`ldar` for release/acquire and `dmb ish` for the fence):

# %%
# NBVAL_IGNORE_OUTPUT
if ccell.c_available("the instructions gcc emits for each variant"):
    print(platform.machine())
    for variant in litmus.VARIANTS:
        body = litmus.assembly("SB", variant)
        print(f"{variant:8s}", " ; ".join(i for i in body if not i.startswith(("movq", "salq", "addq", "testl", "je", "ret", "xorl"))))

# %% [markdown]
# Now the runs. **Predict first**, and write it down: which variants will show SB's `00` here,
# and which MP's `10`? The counts are in the collapsed output below; open it once you have
# committed to an answer.

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
results = litmus.run_or_recorded(iterations=2_000_000, seconds=12)  # C: litmus/sb.c, litmus/mp.c
print("source:", results[0].source, "on", results[0].machine)
print(f"{'test':4s} {'variant':8s} {'iterations':>10s} {'00':>9s} {'01':>9s} {'10':>9s} {'11':>9s}   forbidden seen")
for r in results:
    print(f"{r.test:4s} {r.variant:8s} {r.iterations:10,d} " + " ".join(f"{r.counts[k]:9,d}" for k in ("00", "01", "10", "11"))
          + f"   {r.forbidden}: {r.forbidden_count:,}")

# %% [markdown]
# What holds on every machine, live or recorded, x86-64 or arm64: no outcome that C11 forbids.
# (Each run's four counts add up to its iterations: `litmus.run` checks that and stops with an
# error otherwise, so it is not printed as a finding.)

# %% tags=["reveal"]
for test in litmus.TESTS:
    rows = [r for r in results if r.test == test]
    for r in rows:
        if not litmus.c11_allows(test, r.variant):
            print(f"{test} {r.variant:8s}: C11 forbids {r.label(r.forbidden)}; occurrences: {r.forbidden_count}")

# %%
# NBVAL_IGNORE_OUTPUT
style.show(litmus_plots.outcomes(results))   # the figure, then its alt text

# %% [markdown]
# ### Why x86-64 shows SB: the store buffer
#
# A core does not write a store straight into the cache: it puts it in its **store buffer**
# and goes on. Its own later loads see it (they look in the buffer first), other cores do not
# until the buffer drains. So `x = 1; r0 = y` can load `y` from the cache while `x = 1` still
# waits in P0's buffer, and P1 does the same: both load 0. This is the only reordering x86-64
# performs on ordinary memory: "loads may be reordered with older stores to different
# locations" (Intel SDM vol. 3A, §8.2.3.4), and the x86-TSO model (Sewell et al., CACM 2010)
# is exactly "sequential consistency plus a FIFO store buffer per core". Stores are not
# reordered with stores, nor loads with loads (§8.2.3.2): so **MP never fails on x86-64**,
# whatever the variant, as the zeros above show.
#
# With a single CPU (some Binder and CI machines) you will see no `00` at all: both processes
# then run on the same core, one after the other, and a core's loads always see that core's own
# earlier stores (measured when this notebook was written: 0 in 100,000 iterations under
# `taskset -c 0`). Reordering needs
# two cores running at once.
#
# `release` and `acquire` compile to plain `mov` on x86-64 (it is that strong already), so they
# do nothing against SB, and C11 does not ask them to. A `seq_cst` store compiles to `xchg`
# and the fence to `lock or` (or `mfence`): a locked instruction drains the store buffer
# before the next load, and SB's `00` is gone.
#
# ### What arm64 adds: MP can fail
#
# arm64 (and POWER, RISC-V) may also reorder two stores, or two loads, to different locations.
# MP's `flag = 1, data = 0` is then observable with `plain` and `relaxed` accesses: the reader
# sees the flag and reads stale data (see the Arm learning path "Memory consistency models" run
# with `litmus7`, and the Linux kernel's `MP+pooncerelease+poacquireonce` litmus test, whose
# result with a release store and an acquire load is "Never"). A release store (`stlr`) and an
# acquire load (`ldar`) restore the order, which is what C11 promises: run this notebook on an
# arm64 machine (a Raspberry Pi 4, an Apple M-series Linux VM, a Graviton server) and the MP
# `plain`/`relaxed` bars may show a forbidden count that x86-64 never shows.
#
# ### Why a semaphore or a mutex publishes what you wrote before it
#
# C11 defines **happens-before**: if a release operation (a store-release, or an unlock) is
# read by an acquire operation (a load-acquire, or a lock) in another thread, everything
# written before the release is visible after the acquire (C11 5.1.2.4). Locks and
# semaphores are built from exactly these: glibc's `sem_post` adds its token "with release MO
# to make sure that a thread acquiring this token synchronizes with us" (nptl/sem_post.c), and
# POSIX lists `sem_post`, `sem_wait`, `pthread_mutex_lock`, `pthread_mutex_unlock` among the
# functions that "synchronize memory with respect to other threads" (XBD 4.12, Memory
# Synchronization). Across processes it is the same: the semaphore or mutex lives in shared
# memory, or in the kernel (`semop` is a system call, and Linux makes sure user space can
# treat it as a memory barrier: ipc/sem.c). So the ring buffer of notebook 01 is correct:
# the producer writes the slot, then `sem_post(full)`; the consumer's `sem_wait(full)` sees
# the slot's bytes.
#
# ### What Python gives across processes: nothing
#
# A Python store to shared memory (`mmap` slice, `struct.pack_into`, a ctypes field, a numpy
# element) is one or more plain stores, with no order promised to another process:
# `struct.pack_into` always clears its bytes first, then writes them (CPython's
# `s_pack_internal` begins with a `memset`; notebook 01 shows a reader catching the 0). Python has no `memory_order`, no atomic read-modify-write on shared memory, and its
# GIL orders the threads of *one* interpreter, never two processes. On x86-64 the hardware
# keeps most orders anyway, which hides the bug; on arm64 an unsynchronised "flag then data"
# handshake between Python processes can read stale data. Hence the course's rule: between
# processes, publish through a lock, a semaphore or a queue.
#
# > **Try it.** In `ipclab/c/litmus/mp.c`, make only the *reader* acquire (keep the writer
# > relaxed). Which C11 rule is broken? Would x86-64 show it? Then read the SB table and
# > explain why `acq_rel` does not help SB. [answer](answers/07_c_and_memory_ordering_answers.ipynb#try-it-4)
#
# ## 5. The seqlock: readers that never write
#
# A reader-writer lock makes readers *write* (they count themselves in the lock), which costs
# a cache-line transfer per read. A **seqlock** lets readers only read: the writer makes a
# sequence number odd while it writes and even when done; a reader reads the number, the data,
# and the number again, and retries if a write overlapped. In C11 the data must be atomics
# (relaxed is enough) and two fences carry the order (Boehm, "Can seqlocks get along with
# programming language memory models?", MSPC 2012):

# %%
src = (cbuild.C_DIR / "demos" / "seqlock.c").read_text()
print(src[src.index("static void write_pair"):src.index("int main")].strip())

# %% [markdown]
# The writer keeps the pair `(a, b)` equal, writing `k` into both for `k = 1, 2, 3...` as fast
# as it can; the reader reads the pair two million times and counts the *torn* reads, where
# `a != b` (half of one write and half of the next).
#
# **Break it yourself, then predict.** The first run below is the seqlock with its protocol
# removed (`none`: the same writer and reader, no sequence number, no fences), the second the
# seqlock itself. Predict, for each, whether any of two million reads is torn, then open the
# collapsed output.

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
if ccell.c_available("how many of two million unsynchronised reads were torn, then none with the seqlock"):
    for mode in ("none", "seqlock"):
        r = pshared_demos.seqlock(mode, count=2_000_000)
        print(f"{mode:8s}: {r.reads:,} reads, {r.torn:,} torn, {r.retries:,} retries")
        assert mode == "none" or r.torn == 0

# %% [markdown]
# With the seqlock no read is torn: the cell's `assert` would have stopped it otherwise. Its
# price is the retries, paid by the readers only, and only when a write overlapped a read: the
# count above says how many this run needed. The
# Linux kernel uses the same idea (`seqcount_t`) for the time of day, read millions of times
# a second and written at each clock tick.
#
# > **Lab 9** ([`labs/lab9_seqlock.ipynb`](../labs/lab9_seqlock.ipynb)) asks you to build this
# protocol yourself, in Python, over a System V segment (`shmget`/`shmat`), and grades it
# with readers and writers slowed at the points where it must hold.
#
# ## 6. A mutex and a condition variable *in* shared memory, and what survives a SIGKILL
#
# A `pthread_mutex_t` is a few bytes; placed in shared memory and initialised with the
# attribute `PTHREAD_PROCESS_SHARED`, it locks between processes (glibc implements it on a
# futex, so the uncontended path makes no system call). A `pthread_cond_t` likewise, with
# `pthread_condattr_setpshared`. The demo ([`ipclab/c/demos/robust.c`](../ipclab/c/demos/robust.c))
# keeps a tiny bank in one page: two accounts with `a + b == 100`, a mutex, a condition variable.
#
# The question of notebook 02, asked again: the lock holder moves 10 from `a` to `b` in two
# steps and is **killed** (`SIGKILL`: no handler, no cleanup) after `a -= 10`, before `b += 10`.
#
# * With a **robust** mutex (`pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST)`), the next
#   `pthread_mutex_lock` returns `EOWNERDEAD`: you hold the lock, and its last owner died holding
#   it. You repair the data (here from a one-line journal, `pending`) and call
#   `pthread_mutex_consistent`; otherwise the mutex becomes unusable (`ENOTRECOVERABLE`) at the
#   next unlock (pthread_mutexattr_setrobust(3), pthread_mutex_consistent(3)). The kernel makes
#   this work through the robust-futex list each thread registers with the kernel
#   (`Documentation/locking/robust-futexes.rst`).
# * With a System V semaphore taken with **`SEM_UNDO`**, the kernel undoes the dead process's
#   `-1`: the next `semop` simply succeeds, and nothing tells it that the data are half updated.

# %%
# NBVAL_IGNORE_OUTPUT
if ccell.c_available("EOWNERDEAD and the repaired balance after the robust mutex's owner was killed, "
                     "and the silent half transfer under SEM_UNDO"):
    bank = pshared_demos.robust_vs_undo()
    print("robust mutex:\n  " + bank.mutex_output.strip().replace("\n", "\n  "))
    print("SEM_UNDO semaphore:\n  " + bank.sem_output.strip().replace("\n", "\n  "))
    assert bank.mutex_eownerdead and bank.mutex_after == (90, 10) and bank.sem_found == (90, 0)

# %% [markdown]
# So both locks are *released* when their holder dies; only the robust mutex *tells* the next
# owner, so that it can restore the invariant. `SEM_UNDO` restores a semaphore count, never the
# data it protects: after a crash, check the data (a journal, a checksum, a version number) before
# trusting it. And the condition variable: one process waits (`pthread_cond_timedwait` with a
# 5-second deadline on `CLOCK_MONOTONIC`, re-checking its condition in a loop because wake-ups may
# be spurious), another sets the message under the mutex and broadcasts:

# %%
# NBVAL_IGNORE_OUTPUT
if ccell.c_available("the waiter woken by a process-shared condition variable"):
    print(pshared_demos.condvar())

# %% [markdown]
# > **Try it.** In `robust.c`, comment out the call to `pthread_mutex_consistent` and run the
# > demo through `%%c`, or read pthread_mutex_consistent(3): what does the *third* process to
# > lock the mutex get? [answer](answers/07_c_and_memory_ordering_answers.ipynb#try-it-5)
#
# ## Summary
#
# * `%%c` compiles a cell with `-Wall -Wextra -Werror -O2` and the sanitizers, runs copies as real
#   processes under a timeout in their own process groups, and passes course objects by name or
#   key (`--env`); `%%worker` makes a cell an importable module for every start method.
# * A failing System V call returns -1 and sets `errno`: `EAGAIN`/`ENOMSG` (would block),
#   `EINTR` (a handler ran; never restarted), `EIDRM` (removed), `E2BIG` (use `MSG_NOERROR` to
#   truncate), `ETIMEDOUT` (POSIX timed waits). `union semun` is yours to define.
# * System V shared memory: `shmget`, `shmat` (an address, `SHM_RDONLY`), `shmdt`, `shmctl`;
#   `IPC_RMID` marks, the last detach destroys; meanwhile the key is `IPC_PRIVATE`.
# * Measured here: store buffering shows `r0 = r1 = 0` with plain, relaxed and release/acquire
#   accesses, never with seq_cst or a seq_cst fence; x86-64 never breaks message passing,
#   arm64 can unless release/acquire. Locks and semaphores carry happens-before; Python offers
#   no ordering of its own across processes.
# * A seqlock gives readers consistent snapshots without writing; a robust mutex reports a dead
#   owner (`EOWNERDEAD`), `SEM_UNDO` only releases the semaphore.
#
# ## Exercises
#
# 1. Write a `%%c` cell that creates a System V semaphore *set* of 3 with `semget`, sets all
#    three with `semctl(SETALL)` through `union semun`'s `array`, and reads them back with
#    `GETALL`. Pass the key with `--env KEY=sysv_sem:new`. [answer](answers/07_c_and_memory_ordering_answers.ipynb#exercise-1)
# 2. Add a third litmus test, *load buffering* (LB: `r0 = x; y = 1` against `r1 = y; x = 1`,
#    forbidden `r0 = r1 = 1`). Predict which variants x86-64 shows it with, then run it.
#    [answer](answers/07_c_and_memory_ordering_answers.ipynb#exercise-2)
# 3. Turn the SB litmus test into Dekker's mutual exclusion for two processes. Show with
#    `%c --copies 2` that it loses updates with `acq_rel` and not with `seq_cst`.
#    [answer](answers/07_c_and_memory_ordering_answers.ipynb#exercise-3)
# 4. Make the seqlock's reader skip the acquire fence. Does x86-64 show torn reads? Would arm64?
#    Which line of the C11 standard makes the program wrong either way?
#    [answer](answers/07_c_and_memory_ordering_answers.ipynb#exercise-4)
# 5. Replace the journal in `robust.c` by a checksum of the accounts: after `EOWNERDEAD`, how
#    does the next owner know whether the transfer had started?
#    [answer](answers/07_c_and_memory_ordering_answers.ipynb#exercise-5)
#
# **Next:** the labs apply these in C; notebook 06 shows how to trace these calls (`strace`)
# and find a leaked segment.
#
# ## References
#
# * Overview pages: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (`EINTR`; System V IPC calls are never restarted).
# * Calls used here: [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [mmap(2), munmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [close(2)](https://man7.org/linux/man-pages/man2/close.2.html), [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
#   [waitpid(2)](https://man7.org/linux/man-pages/man2/wait.2.html), [pause(2)](https://man7.org/linux/man-pages/man2/pause.2.html),
#   [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html), [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`union semun`),
#   [semop(2), semtimedop(2)](https://man7.org/linux/man-pages/man2/semop.2.html),
#   [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html), [msgsnd(2), msgrcv(2)](https://man7.org/linux/man-pages/man2/msgop.2.html) (`MSG_NOERROR`),
#   [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
#   [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html), [shmat(2), shmdt(2)](https://man7.org/linux/man-pages/man2/shmop.2.html),
#   [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html) (`IPC_STAT`, `IPC_RMID`, `SHM_DEST`),
#   [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html), [setitimer(2)](https://man7.org/linux/man-pages/man2/setitimer.2.html),
#   [sem_init(3)](https://man7.org/linux/man-pages/man3/sem_init.3.html), [sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html),
#   [clock_gettime(2)](https://man7.org/linux/man-pages/man2/clock_gettime.2.html),
#   [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html), [strerror(3)](https://man7.org/linux/man-pages/man3/strerror.3.html), [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html),
#   [pthread_mutexattr_setpshared(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setpshared.3.html),
#   [pthread_mutexattr_setrobust(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setrobust.3.html),
#   [pthread_mutex_consistent(3)](https://man7.org/linux/man-pages/man3/pthread_mutex_consistent.3.html),
#   [pthread_mutex_lock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_lock.3p.html),
#   [pthread_condattr_setpshared(3p)](https://man7.org/linux/man-pages/man3/pthread_condattr_getpshared.3p.html),
#   [pthread_condattr_setclock(3p)](https://man7.org/linux/man-pages/man3/pthread_condattr_setclock.3p.html),
#   [pthread_cond_timedwait(3p)](https://man7.org/linux/man-pages/man3/pthread_cond_timedwait.3p.html),
#   [pthread_cond_broadcast(3p)](https://man7.org/linux/man-pages/man3/pthread_cond_broadcast.3p.html),
#   [sched_yield(2)](https://man7.org/linux/man-pages/man2/sched_yield.2.html); the kernel's
#   [robust futexes](https://docs.kernel.org/locking/robust-futexes.html)
#   (`Documentation/locking/robust-futexes.rst`).
# * M. Kerrisk, *The Linux Programming Interface* (TLPI, 2010), chapters 44-55, here ch. 45-48
#   (System V IPC, message queues, semaphores, shared memory) and ch. 53 (POSIX semaphores),
#   with ch. 20-21 (signals, `EINTR`); W. R. Stevens and S. Rago, *Advanced Programming in
#   the UNIX Environment*, 3rd ed., ch. 15 (interprocess communication).
# * The kernel's limits: [/proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html)
#   (`msgmax`, `msgmnb`, `msgmni`, `sem`, `shmall`, `shmmax`, `shmmni`), and
#   [tmpfs](https://docs.kernel.org/filesystems/tmpfs.html) for `/dev/shm`.
# * ISO/IEC 9899:2011 (C11), 5.1.2.4 "Multi-threaded executions and data races" and 7.17
#   `<stdatomic.h>`; cppreference, "std::memory_order" / "memory_order" (C).
# * POSIX.1-2017 ([Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/)),
#   XBD 4.12 "Memory Synchronization"
#   ([General Concepts](https://pubs.opengroup.org/onlinepubs/9699919799/basedefs/V1_chap04.html)).
# * Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 3A, §8.2 "Memory Ordering"
#   (§8.2.3.2, §8.2.3.4).
# * P. Sewell, S. Sarkar, S. Owens, F. Zappa Nardelli, M. Myreen, "x86-TSO: A Rigorous and Usable
#   Programmer's Model for x86 Multiprocessors", CACM 53(7), 2010.
# * J. Alglave, L. Maranget et al., herdtools7 (`litmus7`); Arm, "Memory consistency models"
#   learning path (litmus7 on Arm Neoverse); Linux `tools/memory-model/litmus-tests/`.
# * J. Preshing, "Memory Reordering Caught in the Act" (2012).
# * PostgreSQL, `src/backend/port/sysv_shmem.c` (why it still attaches a System V segment).
# * H.-J. Boehm, "Can Seqlocks Get Along With Programming Language Memory Models?", MSPC 2012.
