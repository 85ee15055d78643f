# %% [markdown]
# # Answers: 19.7 C, errno, System V shared memory and memory ordering
#
# One section per "Try it" prompt and per exercise of
# [07_c_and_memory_ordering.ipynb](../07_c_and_memory_ordering.ipynb), in the order they
# appear there. C answers run through `ccell.run_c(SOURCE, OPTIONS)`, which is exactly what a
# cell starting with `%%c OPTIONS` does (written as a call so that this file stays valid
# Python for the linter; paste the C into a `%%c` cell to edit and run it). Where gcc is
# missing they print what they would have done and skip, as in the chapter; their output
# differs between machines, so the notebook check does not compare it (each states its
# expected outcome with `--expect`, which the check does enforce where gcc runs). Objects come from the course (`--env`):
# unique names, mode 0600, removed after the run.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import sysv_ipc

from ipclab import doctor, inventory, objects, procs
from ipclab import debug_workers as dw
from ipclab.mechanisms import ccell

doctor.setup_notebook("gcc")
ccell.load()

# %% [markdown]
# <a id="try-it-1"></a>
# ## Try it 1: `--args 16`, then `--no-sanitize --args 24`
#
# With `--args 16` the program copies exactly the 16 bytes it allocated: no error, exit
# status 0. Without the sanitizers and with 24, the program reads 8 bytes past its block and
# usually notices **nothing**: it prints `copied 24 bytes` and exits 0. The bytes past the
# block belong to the allocator (glibc rounds a 16-byte request up to a 24-byte usable
# chunk on 64-bit systems, malloc_usable_size(3)), and reading them is undefined behaviour
# that happens not to crash. That is exactly why the course compiles with AddressSanitizer.

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    char *src = malloc(16), dst[64];
    if (src == NULL)
        return 1;
    memset(src, 'x', 16);
    memcpy(dst, src, n);
    printf("copied %zu bytes, first '%c'\n", n, dst[0]);
    free(src);
    return 0;
}
""", "--args 16 --expect ok --name tryit1_16")
# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    char *src = malloc(16), dst[64];
    if (src == NULL)
        return 1;
    memset(src, 'x', 16);
    memcpy(dst, src, n);            /* 8 bytes past the block: undefined, and unnoticed */
    printf("copied %zu bytes, first '%c'\n", n, dst[0]);
    free(src);
    return 0;
}
""", "--no-sanitize --args 24 --expect ok --name tryit1_24")
# %% [markdown]
# <a id="try-it-2"></a>
# ## Try it 2: `SA_RESTART` does not restart `semop`
#
# signal(7) lists the calls that are never restarted after a handler, whatever `SA_RESTART`
# says; the System V IPC calls (`semop`, `semtimedop`, `msgrcv`, `msgsnd`) are among them.
# So the blocked `semop` still returns -1 with `EINTR` when the alarm's handler has run, and
# the program goes on to its next line: that is why the cell still ends (had the call been
# restarted, it would have waited for ever on a semaphore nobody posts, until the cell's
# timeout killed it).

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/time.h>

static void on_alarm(int sig) { (void)sig; }

int main(void)
{
    int semid = atoi(getenv("SEM_ID"));                      /* a course set of one semaphore, value 0 */
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval in = {.it_value = {.tv_sec = 0, .tv_usec = 200000}};
    setitimer(ITIMER_REAL, &in, NULL);                       /* SIGALRM in 0.2 s */
    struct sembuf down = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
    int rc = semop(semid, &down, 1);
    printf("semop with an SA_RESTART handler -> %d, errno %s\n", rc, rc == -1 ? strerror(errno) : "-");
    return rc == -1 && errno == EINTR ? 0 : 1;
}
""", "--env SEM=sysv_sem --expect ok")
# %% [markdown]
# <a id="try-it-3"></a>
# ## Try it 3: a second process attached before `IPC_RMID`
#
# The segment lives until the **last** detach: here, until the worker detaches, long after
# `IPC_RMID`. Meanwhile `ipcs -m` shows it with key `0x00000000` (it became `IPC_PRIVATE`:
# no `shmget` finds it), `nattch` 1 and status `dest`. The worker is
# `debug_workers.hold_sysv_shm` (attach, post "ready", wait for "done", detach):

# %%
def row(seg_id):
    r = inventory.sysv_row("shm", seg_id)                   # a line of /proc/sysvipc/shm, what ipcs -m reads
    if r is None:
        return "no such segment (destroyed)"
    return f"key {'IPC_PRIVATE' if r['key'] == 0 else '= ours'}, nattch {r['nattch']}, SHM_DEST: {bool(r['perms'] & 0o1000)}"


seg = objects.create_sysv_shm(4096)
try:
    seg.detach()                                             # this process lets go: only the worker will hold it
    with objects.posix_sem(0, tag="ready") as ready, objects.posix_sem(0, tag="done") as done:
        with procs.start(dw.hold_sysv_shm, [(seg.id, ready.name, done.name, 30)],
                         start_method="spawn", timeout=60) as worker:
            dw.await_posts(ready, 1, worker, timeout=30)
            seg.remove()                                     # C: shmctl(id, IPC_RMID, NULL)
            print("after IPC_RMID, the worker attached:", row(seg.id))
            done.release()
            worker.join()
    print("after the worker detached and exited:  ", row(seg.id))
finally:
    objects.remove_sysv(seg)

# %% [markdown]
# <a id="try-it-4"></a>
# ## Try it 4: only the reader acquires
#
# Acquire only works *with* a release: C11 says an atomic store-release A
# **synchronizes with** an atomic load-acquire B that reads the value A wrote (5.1.2.4,
# 7.17.4); the happens-before edge from `data = 1` to `r1 = data` needs both halves. With a
# relaxed flag store there is no synchronizes-with, so the reader may see `flag = 1` and
# `data = 0`: MP's forbidden outcome becomes allowed. x86-64 hardware would not show it: its
# stores are not reordered with other stores (Intel SDM vol. 3A, 8.2.3.2) and a relaxed
# store compiles to the same `mov` as a release store. Only the compiler could move the two
# relaxed stores; `gcc -S` shows whether it did.
#
# Release/acquire does not help SB because SB needs a *store followed by a load* to stay in
# order. A release store orders the accesses *before* it; an acquire load orders the
# accesses *after* it; neither keeps a later load from being performed before an earlier
# store (the store-buffer reordering). Only `seq_cst` (one total order of all `seq_cst`
# operations) or a `seq_cst` fence between them forbids `r0 = r1 = 0`.
#
# <a id="try-it-5"></a>
# ## Try it 5: no `pthread_mutex_consistent`
#
# The second owner got `EOWNERDEAD`, and unlocked without marking the state consistent: the
# mutex becomes permanently unusable, and every later `pthread_mutex_lock` (the third process
# here) returns `ENOTRECOVERABLE` (pthread_mutex_consistent(3),
# pthread_mutexattr_setrobust(3)). Run in three processes over a shared anonymous mapping:

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
    return e == 0 ? "0 (locked)" : e == EOWNERDEAD ? "EOWNERDEAD" : e == ENOTRECOVERABLE ? "ENOTRECOVERABLE" : strerror(e);
}

int main(void)
{
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);

    if (fork() == 0) { pthread_mutex_lock(m); _exit(0); }   /* 1st: dies holding it */
    wait(NULL);
    int rc = pthread_mutex_lock(m);                          /* 2nd: this process */
    printf("second process: pthread_mutex_lock -> %s; unlocks WITHOUT pthread_mutex_consistent\n", ename(rc));
    fflush(stdout);                                          /* before fork: one copy of the line */
    pthread_mutex_unlock(m);
    pid_t pid = fork();
    if (pid == 0) {                                          /* 3rd */
        int r3 = pthread_mutex_lock(m);
        printf("third process:  pthread_mutex_lock -> %s\n", ename(r3));
        fflush(stdout);                                      /* _exit does not flush stdio */
        _exit(r3 == ENOTRECOVERABLE ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    munmap(m, sizeof *m);
    return rc == EOWNERDEAD && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
""", "--expect ok")
# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: a System V set of 3, `SETALL` and `GETALL`
#
# `--env KEY=sysv_sem:new` only reserves a fresh course key; the program creates the set
# itself with `IPC_CREAT|IPC_EXCL|0600`, and the course removes it after the run.

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>

union semun {                       /* semctl(2): the calling program must define it */
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

int main(void)
{
    key_t key = (key_t)strtol(getenv("KEY"), NULL, 0);
    int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
    if (id == -1) { perror("semget"); return 1; }
    unsigned short set[3] = {1, 0, 5}, got[3] = {0};
    if (semctl(id, 0, SETALL, (union semun){.array = set}) == -1) { perror("semctl(SETALL)"); return 1; }
    if (semctl(id, 0, GETALL, (union semun){.array = got}) == -1) { perror("semctl(GETALL)"); return 1; }
    printf("GETALL: %hu %hu %hu\n", got[0], got[1], got[2]);
    return got[0] == 1 && got[1] == 0 && got[2] == 5 ? 0 : 1;
}
""", "--env KEY=sysv_sem:new --expect ok")
# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: load buffering (LB)
#
# LB: `P0: r0 = x; y = 1;` against `P1: r1 = y; x = 1;`, forbidden under sequential
# consistency `r0 = r1 = 1` (each load would have to see a store that comes after the other
# load). Prediction for x86-64: **never**, with every variant: x86 does not reorder a store
# with an older load ("Stores are not reordered with older loads", Intel SDM vol. 3A,
# 8.2.3.3). C11 allows `1 1` for `relaxed` (and `plain` is a data race); `acq_rel` and
# `seq_cst` forbid it. arm64 allows the reordering in its architecture, but it is rarely
# observed on real cores. A small LB test, two processes over a shared mapping, a spin
# barrier before each of 200,000 iterations, relaxed atomics. Read its counts for `11`;
# how the other three outcomes split depends on which process usually leaves the barrier
# first on this machine (one of them may take nearly every iteration):

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 200000
struct shared { atomic_int x, y, r0, r1; atomic_int arrive[2]; };

static void barrier(struct shared *s, int me, int round)
{
    atomic_store(&s->arrive[me], round);
    while (atomic_load(&s->arrive[1 - me]) < round)
        sched_yield();                                     /* 2 processes, maybe 1 CPU: give it up */
}

int main(void)
{
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    long count[4] = {0};
    pid_t pid = fork();
    int me = pid == 0;
    for (int i = 1; i <= N; i++) {
        if (me == 0) { atomic_store(&s->x, 0); atomic_store(&s->y, 0); }
        barrier(s, me, 2 * i);                             /* x = y = 0 seen by both */
        if (me == 0) {
            int r0 = atomic_load_explicit(&s->x, memory_order_relaxed);
            atomic_store_explicit(&s->y, 1, memory_order_relaxed);
            atomic_store(&s->r0, r0);
        } else {
            int r1 = atomic_load_explicit(&s->y, memory_order_relaxed);
            atomic_store_explicit(&s->x, 1, memory_order_relaxed);
            atomic_store(&s->r1, r1);
        }
        barrier(s, me, 2 * i + 1);                         /* both results written */
        if (me == 0)
            count[2 * atomic_load(&s->r0) + atomic_load(&s->r1)]++;
    }
    if (pid == 0)
        _exit(0);
    wait(NULL);
    printf("LB relaxed, %d iterations: 00 %ld, 01 %ld, 10 %ld, 11 (forbidden under SC) %ld\n",
           N, count[0], count[1], count[2], count[3]);
    return 0;
}
""", "--expect ok --timeout 120")
# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: Dekker's mutual exclusion from SB
#
# Dekker's entry is SB: "I raise my flag, then look at yours". If both loads may see 0 (SB's
# `00`), both processes enter the critical section together and updates are lost. With
# `acq_rel` nothing forbids that (Try it 4), with `seq_cst` it is forbidden. The program
# below runs the same Dekker code with the memory order chosen at run time (C11 allows a
# non-constant `memory_order` argument), two processes adding 1 to a plain shared counter
# 20,000 times each, once per order. `seq_cst` must never lose an update (the program fails if
# it does). With `acq_rel` a loss needs both processes to enter in the same few nanoseconds,
# each with its flag still in its store buffer: whether a given run catches it depends on the
# machine and its load (on one CPU it cannot happen), so read the count this run printed;
# the guarantee is in the C11 rules, not in one run. The exercise's `%%c --copies 2` does the
# same with two copies instead of `fork`.

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 20000
struct shared { atomic_int flag[2], turn; volatile long counter; };

static void lock(struct shared *s, int me, memory_order st, memory_order ld)
{
    atomic_store_explicit(&s->flag[me], 1, st);
    while (atomic_load_explicit(&s->flag[1 - me], ld)) {     /* SB: my store, then your flag */
        if (atomic_load_explicit(&s->turn, ld) != me) {
            atomic_store_explicit(&s->flag[me], 0, st);
            while (atomic_load_explicit(&s->turn, ld) != me)
                sched_yield();
            atomic_store_explicit(&s->flag[me], 1, st);
        }
        sched_yield();                                      /* a busy machine: let the other one run */
    }
}

static void unlock(struct shared *s, int me, memory_order st)
{
    atomic_store_explicit(&s->turn, 1 - me, st);
    atomic_store_explicit(&s->flag[me], 0, st);
}

static long run(struct shared *s, memory_order st, memory_order ld)
{
    s->counter = 0;
    atomic_store(&s->flag[0], 0); atomic_store(&s->flag[1], 0); atomic_store(&s->turn, 0);
    pid_t pid = fork();
    int me = pid == 0;
    for (int i = 0; i < N; i++) {
        lock(s, me, st, ld);
        s->counter = s->counter + 1;                        /* the critical section */
        unlock(s, me, st);
    }
    if (pid == 0)
        _exit(0);
    wait(NULL);
    return s->counter;
}

int main(void)
{
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    long a = run(s, memory_order_release, memory_order_acquire);
    long c = run(s, memory_order_seq_cst, memory_order_seq_cst);
    printf("Dekker, acq_rel: counter %ld of %d (%ld lost)\n", a, 2 * N, 2L * N - a);
    printf("Dekker, seq_cst: counter %ld of %d (%ld lost)\n", c, 2 * N, 2L * N - c);
    return c == 2 * N ? 0 : 1;                              /* seq_cst must be exact */
}
""", "--expect ok --timeout 120")
# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: the seqlock's reader without its acquire fence
#
# The reader reads `seq`, the data, and `seq` again; the fence between the data loads and the
# second `seq` load is what keeps the data loads from being performed after it. Without it:
#
# * **x86-64** hardware does not reorder loads with other loads (Intel SDM vol. 3A,
#   8.2.3.2), so torn reads still do not show there (unless the compiler moves the relaxed
#   loads, which it may).
# * **arm64** may perform the data loads after the second `seq` load: the reader can then
#   see `seq` unchanged around data that belong to two different writes, a torn read that
#   the check accepts.
#
# Either way the program is wrong in C11: relaxed loads carry no ordering, and only a fence
# (7.17.4, "Fences") or acquire loads make the data loads happen before the second `seq` read
# relative to the writer's release; without them the C11 memory model allows the torn
# outcome, whatever the hardware does today (Boehm, MSPC 2012, discusses exactly this).
#
# <a id="exercise-5"></a>
# ## Exercise 5: a checksum instead of the journal
#
# Keep, next to the accounts, a checksum of them (for instance `a ^ b ^ K`, or a CRC), which
# the writer updates **last**, after both accounts, still under the mutex. After
# `EOWNERDEAD`, the next owner recomputes the checksum of `(a, b)`: if it matches the stored
# one, no transfer had started (or one had finished completely); if not, a transfer was
# interrupted. Unlike the journal, the checksum does not say *how much* was moved, so the
# owner can only detect, not finish: it must roll back to a known state (here the invariant
# `a + b == 100` gives `b = 100 - a`, a repair that works only because this invariant
# exists). A journal records the intent and allows both repair directions; a checksum
# (or a version number) only detects damage.

# %% [markdown]
# ## References
#
# * [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) ("Interruption of system
#   calls and library functions by signal handlers": System V IPC calls are never restarted),
#   [malloc_usable_size(3)](https://man7.org/linux/man-pages/man3/malloc_usable_size.3.html),
#   [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html) (`IPC_RMID`, `SHM_DEST`),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`SETALL`, `GETALL`, `union semun`),
#   [pthread_mutex_consistent(3)](https://man7.org/linux/man-pages/man3/pthread_mutex_consistent.3.html).
# * ISO/IEC 9899:2011 (C11), 5.1.2.4 "Multi-threaded executions and data races" and 7.17.4
#   "Fences"; Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 3A, 8.2.3
#   (x86 memory ordering examples); H.-J. Boehm, "Can seqlocks get along with programming
#   language memory models?", MSPC 2012.
