# %% [markdown]
# # 19.8 Pipes, FIFOs, signals and sockets: the chapter's missing pieces, runnable
#
# The chapter lists pipes, named pipes (FIFOs), signals and sockets beside shared memory,
# semaphores and message queues, and says what each is for ("pipes anonymes : parent-enfant",
# "named pipes (FIFO) : processus non liés", "TCP/UDP pour réseau, socket local pour IPC"),
# but runs none of them. This notebook runs each one on real processes and shows the rules
# the kernel enforces: when an `open()` blocks, which end of a pipe does what, what a signal
# handler may clean up, and whether a socket keeps your message boundaries.
#
# **Learning goals.** After this notebook you can
# 1. make a FIFO with `mkfifo`, say when its `open()` blocks (and when a nonblocking one fails
#    with `ENXIO`), and why a FIFO or a pipe carries data one way only;
# 2. predict what a pipe does when a process uses the wrong end (`EBADF`), writes with no reader
#    left (`SIGPIPE`, `EPIPE`) or shares it with other writers (`PIPE_BUF` atomicity);
# 3. stop a server with `SIGTERM` and a handler that removes its IPC objects, and say what
#    `SIGKILL` leaves behind;
# 4. reap children with `SIGCHLD` so that no zombie stays, and signal a whole process group
#    with `kill(-pgid, sig)`;
# 5. tell sockets that keep message boundaries (UDP, `SOCK_DGRAM`, `SOCK_SEQPACKET`) from byte
#    streams (TCP, `SOCK_STREAM`), and handle `errno` in C: `perror`, `EINTR`, `SA_RESTART`.
#
# **Time:** 45 min teaching, 30 min exercises; running every cell takes under half a minute
# (measured at the end of the notebook). **Prerequisites:** notebook 00 (processes, `fork`),
# notebook 07 for the `%%c` cell; C file descriptors.
#
# **Safety.** Every blocking call below has a timeout. FIFOs and socket files live in a private
# directory (mode 0700, named after your uid) that is removed afterwards, and removed by the
# next run if this kernel is killed first. Shared memory and queues get unique course names,
# mode 0600, and are registered, so they are removed even if their process is killed.
# The workers: [`ipclab/experiments/classic_ipc.py`](../ipclab/experiments/classic_ipc.py).

# %%
# NBVAL_IGNORE_OUTPUT
import os
import signal
import stat
import time

from ipclab import doctor
from ipclab.experiments import classic_ipc
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show

T0 = time.monotonic()
doctor.setup_notebook("gcc")
ccell.load()  # %%c, for the C section at the end

# %% [markdown]
# ## 1. A FIFO between unrelated processes
#
# A pipe has no name: only a process that inherits its file descriptors (a child after
# `fork`) can use it. A **FIFO** is a pipe with a name in the file system, made by
# `mkfifo(path, mode)` (mkfifo(3)); any process allowed by its mode can `open()` it by path.
# No data ever goes to the disk: the file is only a meeting point, and the bytes pass through
# a pipe buffer in the kernel (fifo(7)).

# %%
with classic_ipc.private_dir() as d:
    print("private directory mode:", oct(stat.S_IMODE(os.stat(d).st_mode)))
print("removed afterwards:", not os.path.exists(d))

# %%
workdir_cm = classic_ipc.private_dir()
workdir = workdir_cm.__enter__()            # left at the end of the notebook (the last cell)
fifo = classic_ipc.make_fifo(workdir)       # C: mkfifo(path, 0600)
print(fifo, stat.filemode(os.stat(fifo).st_mode), "(p: a FIFO, as `ls -l` shows it)")

# %% [markdown]
# The reader is a worker process started by `procs` (forkserver: it inherits nothing from
# this kernel, it knows only the path). It calls `open(path, O_RDONLY)` under a deadline:
# a `SIGALRM` handler that raises, so that a FIFO nobody opens cannot hang the cell.

# %%
show(classic_ipc.fifo_reader, mark=["os.open(path, os.O_RDONLY)", "with deadline(timeout)"])

# %% [markdown]
# The writer is another program altogether, `sh`, running `printf ... > fifo`: the shell
# opens the FIFO for writing by its path. It starts half a second after the reader has
# blocked.
#
# > **Predict.** When does the reader's `open()` return: at once (there is nothing to read
# > yet, but the file exists), or only when the shell opens the other end? And what is the
# > reader doing meanwhile, according to `/proc`?

# %% tags=["reveal"]
r = classic_ipc.fifo_rendezvous(fifo, delay=0.5)
print("the reader sleeps in the kernel function:", r["reader_blocked_in"] or "(hidden by /proc)")
state = r["reader_state_before_writer"]
print("its state in /proc/PID/stat before the writer came:", state,
      f"({state}: {({'S': 'sleeping', 'D': 'uninterruptible sleep', 'R': 'running'}).get(state, 'see proc_pid_stat(5)')})")
print("its open() returned after the writer started:", r["t_reader_open_returned"] >= r["t_writer_started"])
print("it waited at least the 0.5 s delay:", r["t_reader_open_returned"] - r["t_reader_called_open"] >= 0.5)
print("it read:", r["data"])

# %%
# NBVAL_IGNORE_OUTPUT
print(f"measured: the reader's open() blocked for {r['t_reader_open_returned'] - r['t_reader_called_open']:.3f} s")

# %% [markdown]
# So `open()` itself is the rendezvous: a reader's open blocks until a writer opens, and a
# writer's until a reader does (fifo(7): "the FIFO must be opened on both ends (reading and
# writing) before data can be passed"). The kernel function it slept in, `wait_for_partner`, is
# in `fs/pipe.c`. If nobody comes, the open blocks for ever; our deadline ends it:

# %%
t0, t1, data = classic_ipc.fifo_reader(fifo, 0.3)
print("no writer within 0.3 s -> open() gave up:", t1 is None)

# %% [markdown]
# With `O_NONBLOCK`, nothing waits: opening for reading succeeds at once, opening for writing
# fails with `ENXIO` while no reader has the FIFO open (fifo(7), open(2)).

# %%
print("open(fifo, O_WRONLY | O_NONBLOCK) without a reader:", classic_ipc.open_nonblocking(fifo, os.O_WRONLY))
print("open(fifo, O_RDONLY | O_NONBLOCK) without a writer:", classic_ipc.open_nonblocking(fifo, os.O_RDONLY))

# %% [markdown]
# **One way only.** A FIFO is *one* byte channel. Linux even lets one process open it for
# reading and writing (`O_RDWR`; POSIX leaves that undefined, fifo(7)): what it writes, it
# reads back itself. Two processes talking both ways on one FIFO would read their own words:
# a dialogue needs two FIFOs, one per direction (the classic client-server design, TLPI 44.8).

# %%
print("wrote b'question?' on the FIFO, read back:", classic_ipc.fifo_echo_on_rdwr(fifo, b"question?"))
classic_ipc.remove_path(fifo)               # C: unlink(path)
print("FIFO removed:", not os.path.exists(fifo))

# %% [markdown]
# > **Try it.** Open the FIFO with `O_RDONLY | O_NONBLOCK` when no writer exists, then
# > `os.read` it. Does the read block? What does it return, and why is that not an error?
#
# ## 2. Pipes are one-way
#
# `pipe(p)` returns two descriptors: `p[0]` can only be read, `p[1]` only written (pipe(2)). The
# kernel checks the mode of each descriptor on every call.
#
# > **Predict.** What does `write(p[0], "x", 1)` return? And `read(p[1], buf, 1)`?

# %% tags=["reveal"]
print(classic_ipc.wrong_ends())

# %% [markdown]
# `EBADF`: "fd is not a valid file descriptor or is not open for writing" (write(2)). For
# two-way traffic between parent and child you make **two** pipes (or a socket pair, §4).
#
# ### A writer with no reader: SIGPIPE and EPIPE
#
# When every read end is closed, a `write()` has nobody to write to. The kernel then sends the
# writer `SIGPIPE`, whose default action ends the process; if the signal is ignored or handled,
# `write()` fails with `EPIPE` instead (pipe(7)). That is how `yes | head -1` ends `yes`.
# Python starts with `SIGPIPE` ignored, so it raises `BrokenPipeError` (the Python `signal`
# documentation); the worker below restores the C default first for the first run.

# %%
show(classic_ipc.write_to_closed_pipe, mark=["os.close(r)", "os.write(w, b\"anyone there?\")"])

# %% [markdown]
# > **Predict.** How does each worker end: with SIGPIPE at its default, and with SIGPIPE ignored?

# %% tags=["reveal"]
for disposition, outcome in classic_ipc.sigpipe_outcomes().items():
    print(f"SIGPIPE {disposition}: {outcome}")

# %% [markdown]
# ### Several writers on one pipe: PIPE_BUF
#
# POSIX promises that a `write()` of at most `PIPE_BUF` bytes to a pipe or FIFO is **atomic**:
# its bytes land together, never mixed with another writer's. Larger writes "may have data
# interleaved, on arbitrary boundaries, with writes by other processes" (write(2) in POSIX;
# pipe(7)). `PIPE_BUF` is 4096 on Linux; a pipe holds 64 KiB by default:

# %%
print("PIPE_BUF =", classic_ipc.PIPE_BUF, "bytes; capacity of a new pipe =", classic_ipc.pipe_capacity(), "bytes")

# %% [markdown]
# The experiment: four forked writers (an anonymous pipe is shared by inheritance) each write
# 16 records with one `write()` per record, every byte of a record being the writer's letter.
# The parent reads everything and cuts the stream into records: a record holding two letters
# is **torn**.

# %%
show(classic_ipc.pipe_writer, mark=["os.write(fd, view)"])

# %% [markdown]
# > **Predict.** With 4096-byte records (= `PIPE_BUF`), how many of the 64 records are torn?
# > With 256 KiB records, four times the pipe's capacity?

# %% tags=["reveal"]
small = classic_ipc.interleaving(classic_ipc.PIPE_BUF, writers=4, count=16)
print(f"{small['size']}-byte records: {small['records'] - small['torn']} of {small['records']} intact; "
      f"{small['read_bytes']} of {small['expected_bytes']} bytes read")
big = classic_ipc.interleaving(256 * 1024, writers=4, count=16)
print(f"{big['size']}-byte records: every byte arrived: {big['read_bytes'] == big['expected_bytes']}")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"measured now: {big['torn']} of {big['records']} records of {big['size']} bytes torn")

# %% [markdown]
# The small records are intact, every time: that is the guarantee. A 256 KiB `write()` cannot
# fit in a 64 KiB pipe, so the writer sleeps half-way; while it sleeps, the others write, and
# the records tear (the count above: most of them in the runs made while writing this notebook, on
# two CPUs and on one). Beyond
# `PIPE_BUF` nothing is promised either way; a 4097-byte record may tear or not. Loggers that
# share a pipe (or a FIFO) therefore keep each line below `PIPE_BUF` and write it in **one**
# call.
#
# > **Try it.** Run `classic_ipc.interleaving(4097)` a few times, then `interleaving(65536)`.
# > Are they torn? Does that contradict POSIX?
#
# ## 3. Signals
#
# A signal is a number delivered to a process (signal(7)). For most signals the process
# chooses what happens: the default action (often: die), ignore it, or run a **handler**
# installed with `sigaction(2)`. `SIGKILL` and `SIGSTOP` cannot be caught or ignored.
#
# ### SIGTERM: a graceful stop that removes the server's objects
#
# `kill pid` (and `systemctl stop`, and `docker stop`) sends `SIGTERM`: *please stop*. A server
# that owns IPC objects catches it and removes them; otherwise they outlive it (shared memory
# and System V queues persist until removed). This server owns a POSIX shared memory object
# and a System V queue:

# %%
show(classic_ipc.sigterm_server, mark=["def on_term", "objects.remove_posix_shm(shm)",
                                       "objects.remove_sysv(q)", "signal.signal(signal.SIGTERM, on_term)"])

# %% [markdown]
# A Python handler runs in the main thread between two bytecodes, after the signal arrived,
# so it may call anything. A **C** handler runs at any instruction, maybe in the middle of
# `malloc`; it may only call async-signal-safe functions (signal-safety(7)), and `shm_unlink`,
# `msgctl` and `printf` are not among them. The C version (§5) therefore sets a flag and
# cleans up in `main`.
#
# > **Predict.** We send `SIGTERM`, then look at the kernel's listings (`/dev/shm`,
# > `/proc/sysvipc/msg`): are the objects still there? And after `SIGKILL`?

# %% tags=["reveal"]
term = classic_ipc.stop_server(signal.SIGTERM)
print("SIGTERM  listed before:", term["before"])
print("         listed once the process is gone:", term["after_death"])
print("         the worker:", term["outcome"][0], "- its handler ran for", term["outcome"][1]["signal"],
      "and removed", len(term["outcome"][1]["removed"]), "objects; exit status", term["exitcode"])
kill = classic_ipc.stop_server(signal.SIGKILL)
print("SIGKILL  listed once the process is gone:", kill["after_death"],
      "<- left behind" if any(kill["after_death"].values()) else "<- nothing left")
print("         after ipclab's registry cleaned up:", kill["after_cleanup"], "| the worker:", kill["outcome"])

# %% [markdown]
# With `SIGTERM` the handler removed both objects before the process ended. `SIGKILL` runs no
# handler: both objects stayed in the kernel's lists after the process was dead, until the
# course's registry removed what the killed worker had created. A real server has no such
# registry: that is why `kill -9` is the last resort, and why `ipcs` on a long-lived machine
# often shows orphans.
#
# ### SIGCHLD: reaping children, no zombies
#
# A child that ends stays in the process table as a **zombie** (state `Z`) until its parent
# collects its exit status with `wait`/`waitpid`; the kernel sends the parent `SIGCHLD` when
# that happens (wait(2), signal(7)). A server that forks one child per client must reap them,
# or its zombies pile up. The usual way: a `SIGCHLD` handler that calls
# `waitpid(-1, &status, WNOHANG)` in a loop (one `SIGCHLD` can stand for several children,
# since a pending signal is not queued twice).

# %%
show(classic_ipc.zombies_then_reaped, mark=["os._exit(0)", "os.waitpid(-1, os.WNOHANG)",
                                            "signal.signal(signal.SIGCHLD, on_child)"])

# %% [markdown]
# > **Predict.** Three children exit at once and nobody waits: what state does `/proc` show
# > for them? After the handler is installed and three more children exit, how many does it reap?

# %% tags=["reveal"]
z = classic_ipc.reaping("handler", n=3)
print("first three children, before any wait:", z["before"])
print("all six after the SIGCHLD handler:     ", z["after"], "- reaped by the handler:", z["reaped"])

# %% [markdown]
# The handler reaped the three new children *and* the three old zombies: `waitpid(-1, ...)`
# collects any child that has ended, whichever `SIGCHLD` woke it.
#
# > **Try it.** `classic_ipc.reaping("ignore")` sets `SIGCHLD` to `SIG_IGN` instead. What
# > happens to new children, and to the zombies that existed before? (wait(2), NOTES.)
#
# ### kill(-pgid, sig): one signal to a whole process group
#
# Every process belongs to a **process group**; a child inherits its parent's. `kill(-pgid,
# sig)` (or `killpg`) sends the signal to every member: that is how a shell's Ctrl-C reaches
# every process of a pipeline, and how a supervisor stops all its workers at once (kill(2)).
# The leader below forks three members and one **outsider** that moves to a group of its own
# with `setpgid`; the leader calls `setpgid` for it too, so the move is done whichever process
# runs first (TLPI 34.2). Our kernel is in another group, so it is not hit.

# %%
show(classic_ipc.group_leader, mark=["os.setpgid(0, 0)", "os.setpgid(outsider, outsider)"])

# %% [markdown]
# > **Predict.** We send one `SIGTERM` to the leader's group. Which of the five processes
# > (leader, three members, outsider) receive it?

# %% tags=["reveal"]
b = classic_ipc.broadcast(n=3)
print("in the leader's group (from /proc/PID/stat): members",
      [g == b["pgid"] for g in b["groups_seen"]["members"]], "outsider", b["groups_seen"]["outsider"] == b["pgid"],
      "| this kernel:", b["our_pgid"] == b["pgid"])
print("after kill(-pgid, SIGTERM): the leader's handler got", b["leader_got"])
print("members:", b["members"])
print("the outsider was still running:", b["outsider_still_running"])

# %% [markdown]
# ## 4. Sockets: UDP next to TCP and UNIX-domain sockets
#
# The chapter lists sockets for "communication réseau ou locale": TCP and UDP across machines,
# UNIX-domain sockets (a path in the file system, or a `socketpair`) on one machine. Beyond
# speed, they differ in what a `recv()` returns. A **byte stream** (TCP, `SOCK_STREAM`) keeps
# the order of the bytes and nothing else: three `send()`s may arrive in one `recv()`, or one
# in two (tcp(7), socket(7)). A **datagram** socket (UDP, `SOCK_DGRAM`) delivers each message
# whole, one per `recv()` (udp(7)); UDP may lose or reorder datagrams across a network, a UNIX
# datagram socket on one machine does not lose them. `SOCK_SEQPACKET` (unix(7)) is both:
# connected, reliable, in order, *and* with boundaries.
#
# The sender is a worker process that connects and makes one `send()` per message; the
# receiver (this kernel) reads only after all three were sent, with `recv(65536)`:

# %%
show(classic_ipc.send_messages, mark=["s.connect(address)", "s.sendall(m)"])

# %% [markdown]
# > **Predict.** For each kind, how many `recv()` calls does it take to get `b"one"`,
# > `b"two"`, `b"three"`, and what does each return?

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
messages = [b"one", b"two", b"three"]
got = {}
for kind, (family, type_, keeps) in classic_ipc.SOCKET_KINDS.items():
    got[kind] = classic_ipc.count_recvs(kind, messages, directory=workdir)
    print(f"{kind:15s} {len(got[kind])} recv() call(s): {got[kind]}")

# %% [markdown]
# What holds on every run (the cell above is measured; TCP *may* split or merge differently):

# %%
for kind, (family, type_, keeps) in classic_ipc.SOCKET_KINDS.items():
    if keeps:
        print(f"{kind:15s} boundaries kept: one recv() per message, each whole: {got[kind] == messages}")
    else:
        print(f"{kind:15s} a byte stream: every byte, in order: {b''.join(got[kind]) == b''.join(messages)}")
print("socket files left in the private directory:", os.listdir(workdir))

# %% [markdown]
# So a protocol over TCP or a UNIX stream socket must **frame** its messages itself (a length
# prefix, or a delimiter such as the newline of HTTP/1 headers), exactly as notebook 03 framed
# large messages for a System V queue. With UDP or `SOCK_SEQPACKET` the kernel keeps the frames,
# and a `recv()` buffer shorter than the message silently drops the rest of it (recv(2): "excess
# bytes may be discarded depending on the type of socket"; the answers notebook shows it).
#
# Speed: notebook 00 ranks every mechanism live on this machine (a producer and a consumer,
# each message checked), and `ipclab bench` measures it at several sizes; we do not repeat it.
#
# > **Try it.** Send the three messages on a `unix_dgram` socket, and read them with
# > `recv(4)`. What do you get for `b"three"`? Then do the same on a `unix_stream` socket.
#
# ## 5. In C: errno, EINTR and SA_RESTART, and the SIGTERM cleanup
#
# Every call above fails the C way underneath: it returns -1 and sets `errno`; `perror(s)`
# prints `s: ` and the text of `errno`. One code deserves a program of its own: **`EINTR`**.
# A call blocked on a "slow" device (a pipe, a socket, a terminal) is interrupted when a
# handler runs; if the handler was installed **with** `SA_RESTART` the kernel restarts the call,
# otherwise it fails with `EINTR` (signal(7), "Interruption of system calls"; sigaction(2)).
# Python hides this: since PEP 475 it retries interrupted calls itself unless the handler
# raised (our `deadline()` raises on purpose).
#
# The program: a child sends `SIGUSR1` (handled with `SA_RESTART`) to its parent blocked in
# `read()` on a pipe, then writes; later another child sends `SIGTERM` (handled *without*
# `SA_RESTART`). The `SIGTERM` handler only sets a flag, as signal-safety(7) demands; `main`
# sees `EINTR`, checks the flag, and removes the shared memory object it created (the name
# comes from the course: `--env SHM=posix_shm:new`). C cells skip without gcc.

# %% tags=["nbval-ignore-output"]
# %%c --env SHM=posix_shm:new --expect ok
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop, usr1;                 /* all a handler may touch safely */

static void on_term(int sig) { (void)sig; stop = 1; }   /* shm_unlink is not async-signal-safe: */
static void on_usr1(int sig) { (void)sig; usr1++; }     /* the handler sets a flag, main cleans up */

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) == -1 && errno == EINTR)    /* nanosleep says how much is left */
        ;
}

static void on(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags;                                 /* 0, or SA_RESTART */
    if (sigaction(sig, &sa, NULL) == -1) {
        perror("sigaction");
        exit(1);
    }
}

/* A child that signals its parent after 200 ms, then (if text) writes text 200 ms later. */
static pid_t poke(int fd, int sig, const char *text)
{
    pid_t pid = fork();
    if (pid == -1) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        sleep_ms(200);
        kill(getppid(), sig);
        if (text) {
            sleep_ms(200);
            if (write(fd, text, strlen(text)) == -1)
                perror("write");
        }
        _exit(0);
    }
    return pid;
}

int main(void)
{
    const char *name = getenv("SHM");                    /* a course name, reserved by %%c */
    int shm = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (shm == -1 || ftruncate(shm, 4096) == -1) {
        perror("shm_open/ftruncate");
        return 1;
    }
    close(shm);
    printf("created %s (mode 0600)\n", name);
    alarm(5);                                            /* a backstop: SIGALRM's default kills us */

    int p[2];
    char buf[64];
    if (pipe(p) == -1) {
        perror("pipe");
        return 1;
    }
    /* 1. SA_RESTART: a handled SIGUSR1 does not disturb the blocking read(). */
    on(SIGUSR1, on_usr1, SA_RESTART);
    pid_t c1 = poke(p[1], SIGUSR1, "late data");
    ssize_t n = read(p[0], buf, sizeof buf - 1);         /* blocks; SIGUSR1 arrives at 200 ms */
    printf("with SA_RESTART: read() returned %zd bytes \"%.*s\" after %d SIGUSR1 handled\n",
           n, (int)(n > 0 ? n : 0), buf, (int)usr1);

    /* 2. No SA_RESTART: SIGTERM interrupts the same kind of read() with EINTR. */
    on(SIGTERM, on_term, 0);
    pid_t c2 = poke(p[1], SIGTERM, NULL);
    n = read(p[0], buf, sizeof buf);                     /* nobody will write: only a signal ends it */
    if (n == -1) {
        int e = errno;                                   /* save it: the next call may change errno */
        perror("without SA_RESTART, read");              /* "read: Interrupted system call" */
        printf("errno == EINTR: %s; the stop flag is %d\n", e == EINTR ? "yes" : "no", (int)stop);
    }
    if (stop) {                                          /* the graceful stop, outside the handler */
        if (shm_unlink(name) == -1)
            perror("shm_unlink");
        else
            printf("SIGTERM: cleaned up, %s unlinked\n", name);
        if (shm_open(name, O_RDONLY, 0) == -1)
            perror("shm_open after the cleanup");       /* "No such file or directory": ENOENT */
    }
    waitpid(c1, NULL, 0);                                /* reap both children: no zombie left */
    waitpid(c2, NULL, 0);
    return stop ? 0 : 1;
}

# %% [markdown]
# What the run shows, if gcc is here (the output above: `read` restarted after the handled
# `SIGUSR1` and returned the late data; then `Interrupted system call` from `perror`, the flag
# set, the object unlinked, and `shm_open` failing with `ENOENT` because it is gone):

# %%
# NBVAL_IGNORE_OUTPUT
run = ccell.last_run()
if run.skipped:
    print("skipped:", run.skipped)
else:
    err = "".join(c.stderr for c in run.copies)
    print("read restarted after the handled SIGUSR1:", "after 1 SIGUSR1 handled" in run.stdout)
    print("read failed with EINTR after SIGTERM:", "errno == EINTR: yes" in run.stdout
          and "Interrupted system call" in err)
    print("the object is gone afterwards:", "No such file or directory" in err)

# %% [markdown]
# > **Try it.** Install the `SIGTERM` handler with `SA_RESTART` (`on(SIGTERM, on_term,
# > SA_RESTART)`). What does the second `read()` do now, and what ends the program? (Hint: the
# > `alarm(5)` backstop, and `--expect`.)
#
# ## The C call behind each Python call
#
# | Python (this notebook) | C | manual |
# | --- | --- | --- |
# | `os.mkfifo(path, 0o600)` | `mkfifo(path, 0600)` | mkfifo(3), fifo(7) |
# | `os.open(path, os.O_RDONLY)` / `os.O_WRONLY \| os.O_NONBLOCK` | `open(path, O_RDONLY)` / `O_WRONLY \| O_NONBLOCK` (`ENXIO`) | open(2), fifo(7) |
# | `os.pipe()` | `pipe(p)` | pipe(2), pipe(7) |
# | `os.read(fd, n)`, `os.write(fd, b)` | `read(fd, buf, n)`, `write(fd, buf, n)` (`EBADF`, `EPIPE`, `EINTR`) | read(2), write(2) |
# | `signal.signal(sig, handler)` | `sigaction(sig, &sa, NULL)` (`sa_flags`: `SA_RESTART`) | sigaction(2), signal(7) |
# | `signal.setitimer(signal.ITIMER_REAL, s)` | `setitimer(ITIMER_REAL, ...)`, `alarm(s)` | setitimer(2) |
# | `os.kill(pid, sig)`, `os.killpg(pgid, sig)` | `kill(pid, sig)`, `kill(-pgid, sig)` | kill(2) |
# | `os.setpgid(pid, pgid)`, `os.getpgrp()` | `setpgid(pid, pgid)`, `getpgrp()` | setpgid(2) |
# | `os.fork()`, `os._exit(0)` | `fork()`, `_exit(0)` | fork(2), _exit(2) |
# | `os.waitpid(-1, os.WNOHANG)` | `waitpid(-1, &status, WNOHANG)` | wait(2) |
# | `socket.socket(AF_INET, SOCK_DGRAM)` | `socket(AF_INET, SOCK_DGRAM, 0)` | socket(2), udp(7), tcp(7), unix(7) |
# | `s.bind`, `s.listen`, `s.accept`, `s.connect` | `bind`, `listen`, `accept`, `connect` | bind(2), listen(2), accept(2), connect(2) |
# | `s.sendall(m)`, `s.recv(n)` | `send(s, m, len, 0)` in a loop, `recv(s, buf, n, 0)` | send(2), recv(2) |
# | `objects.remove_posix_shm(shm)`, `objects.remove_sysv(q)` | `shm_unlink(name)`, `msgctl(id, IPC_RMID, NULL)` | shm_unlink(3), msgctl(2) |
#
# ## Summary
#
# * A **FIFO** (`mkfifo`) is a named pipe: unrelated processes meet by path. `open()` blocks until
#   the other end is opened (measured above: the reader's open waited for the writer); with
#   `O_NONBLOCK` a writer without reader gets `ENXIO`. One FIFO is one channel: two directions
#   need two FIFOs.
# * A **pipe** has a read end and a write end: the wrong end gives `EBADF`. With no reader left,
#   a writer gets `SIGPIPE` (and dies by default) or `EPIPE`. Writes of at most `PIPE_BUF`
#   (4096) bytes are never interleaved with other writers'; larger ones may be (the count
#   printed in section 2 says how many were torn in this run).
# * **Signals:** `SIGTERM` asks a process to stop; its handler (in C: a flag, then `main`)
#   removes its IPC objects, which `SIGKILL` leaves behind. `SIGCHLD` plus
#   `waitpid(-1, WNOHANG)` in a loop reaps every child: no zombie. `kill(-pgid, sig)` reaches
#   every member of a process group and no one else.
# * **Sockets:** UDP, `SOCK_DGRAM` and `SOCK_SEQPACKET` keep message boundaries (one message per
#   `recv()`); TCP and `SOCK_STREAM` deliver a stream of bytes, so protocols frame their messages.
# * In C, a blocked `read()` interrupted by a handler fails with `EINTR` unless the handler was
#   installed with `SA_RESTART`; check `errno`, print it with `perror`.
#
# ## References
#
# * Overview pages: [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html), [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (capacity, `PIPE_BUF`, `SIGPIPE`),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) ("Interruption of system calls and library functions by signal handlers"),
#   [signal-safety(7)](https://man7.org/linux/man-pages/man7/signal-safety.7.html), [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html), [udp(7)](https://man7.org/linux/man-pages/man7/udp.7.html), [tcp(7)](https://man7.org/linux/man-pages/man7/tcp.7.html),
#   [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (`SOCK_SEQPACKET`: "a connection-oriented socket that preserves message
#   boundaries and delivers messages in the order that they were sent"); and the chapter's
#   four: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html) and [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html) (the server's segment and queue,
#   section 3), [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html), [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html).
# * Calls used here: [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html), [open(2)](https://man7.org/linux/man-pages/man2/open.2.html) (`ENXIO`), [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html),
#   [read(2)](https://man7.org/linux/man-pages/man2/read.2.html), [write(2)](https://man7.org/linux/man-pages/man2/write.2.html) (`EBADF`, `EPIPE`), [close(2)](https://man7.org/linux/man-pages/man2/close.2.html),
#   [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html), [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_GETPIPE_SZ`), [select(2)](https://man7.org/linux/man-pages/man2/select.2.html),
#   [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html), [setitimer(2)](https://man7.org/linux/man-pages/man2/setitimer.2.html), [alarm(2)](https://man7.org/linux/man-pages/man2/alarm.2.html),
#   [kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html), [killpg(3)](https://man7.org/linux/man-pages/man3/killpg.3.html), [setpgid(2), getpgrp(2)](https://man7.org/linux/man-pages/man2/setpgid.2.html),
#   [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html), [_exit(2)](https://man7.org/linux/man-pages/man2/_exit.2.html), [wait(2), waitpid(2)](https://man7.org/linux/man-pages/man2/wait.2.html) (NOTES:
#   `SIGCHLD` set to `SIG_IGN`), [nanosleep(2)](https://man7.org/linux/man-pages/man2/nanosleep.2.html),
#   [socket(2)](https://man7.org/linux/man-pages/man2/socket.2.html), [bind(2)](https://man7.org/linux/man-pages/man2/bind.2.html), [listen(2)](https://man7.org/linux/man-pages/man2/listen.2.html), [accept(2)](https://man7.org/linux/man-pages/man2/accept.2.html),
#   [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html), [send(2)](https://man7.org/linux/man-pages/man2/send.2.html), [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html),
#   [shm_open(3), shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html), [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html), [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html) (`IPC_RMID`), [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html), [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html).
# * POSIX.1-2017 ([Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/)),
#   [`write()`](https://pubs.opengroup.org/onlinepubs/9699919799/functions/write.html): "Write requests of {PIPE_BUF} bytes or less shall not be interleaved
#   with data from other processes doing writes on the same pipe."
# * Linux source: `fs/pipe.c` (`fifo_open`, `wait_for_partner`).
# * M. Kerrisk, *The Linux Programming Interface* (2010): ch. 20-22 (signals; 21.5 interrupted
#   system calls and `SA_RESTART`), ch. 26 (`SIGCHLD`, zombies), ch. 34 (process groups; 34.2
#   and Listing 34-1, `setpgid` in parent and child), ch. 44 (pipes and FIFOs; 44.8 a client-server
#   design with FIFOs), ch. 45-54 (System V and POSIX IPC), ch. 56-61 (sockets; 57 UNIX domain).
# * W. R. Stevens and S. Rago, *Advanced Programming in the UNIX Environment*, 3rd ed., ch. 15
#   (interprocess communication: pipes, FIFOs, then System V IPC) and ch. 10 (signals).
# * The kernel's limits: [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) ("/proc files":
#   `/proc/sys/fs/pipe-max-size`, `pipe-user-pages-soft`, `pipe-user-pages-hard`) and
#   [Documentation for /proc/sys/fs](https://docs.kernel.org/admin-guide/sysctl/fs.html)
#   (`pipe-user-pages-*`, `mqueue/`); [/proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html)
#   (`msgmax`, `msgmnb`, `msgmni`: the server's System V queue).
# * Python: the `signal` module documentation (SIGPIPE ignored at startup; handlers run in the
#   main thread), PEP 475 (retry system calls failing with EINTR).

# %%
workdir_cm.__exit__(None, None, None)       # the private directory and anything left in it
print("private directory removed:", not os.path.exists(workdir))

# %%
# NBVAL_IGNORE_OUTPUT
print(f"this notebook ran in {time.monotonic() - T0:.1f} s")
