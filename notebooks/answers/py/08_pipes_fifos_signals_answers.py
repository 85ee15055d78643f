# %% [markdown]
# # Answers: 19.8 Pipes, FIFOs, signals and sockets
#
# The *Try it* prompts of [`08_pipes_fifos_signals`](../08_pipes_fifos_signals.ipynb), answered
# by running them. Try each one yourself first.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import socket

from ipclab import doctor
from ipclab.experiments import classic_ipc
from ipclab.mechanisms import ccell

doctor.setup_notebook("gcc")
ccell.load()

# %% [markdown]
# ## §1. A nonblocking reader on a FIFO nobody writes to
#
# The open succeeds at once (fifo(7)). The `read()` does not block either: with no writer,
# a pipe or FIFO is at **end of file**, and `read()` returns 0 bytes (pipe(7): "If all file
# descriptors referring to the write end of a pipe have been closed, then an attempt to read(2)
# from the pipe will see end-of-file"). That is not an error: it is how a reader learns that
# the writers are gone. (A *blocking* reader never gets that far: its `open()` waits for a writer.)

# %%
with classic_ipc.private_dir() as d:
    fifo = classic_ipc.make_fifo(d)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)     # C: open(path, O_RDONLY | O_NONBLOCK)
    print("read() without any writer returned:", os.read(fd, 100))
    os.close(fd)

# %% [markdown]
# ## §2. Records just above PIPE_BUF
#
# Beyond `PIPE_BUF` POSIX *allows* interleaving; it does not *require* it. Whether a 4097-byte
# or a 64 KiB record tears depends on timing: a 64 KiB write into an empty 64 KiB pipe usually
# fits at once, and a 4097-byte one fits unless the pipe is nearly full. So you may see 0 torn,
# or a few, from one run to the next; neither contradicts POSIX. Only `<= PIPE_BUF` is a promise.

# %%
# NBVAL_IGNORE_OUTPUT
for size in (4097, 4097, 4097, 65536, 65536):
    out = classic_ipc.interleaving(size, writers=4, count=16)
    print(f"{size:6d}-byte records: {out['torn']:2d} of {out['records']} torn")

# %% [markdown]
# ## §3. SIGCHLD set to SIG_IGN
#
# New children never become zombies: the kernel discards their status at once, and a later
# `wait()` would fail with `ECHILD` (wait(2), NOTES; POSIX.1-2001). The zombies that already
# existed stay, as the run shows on Linux: setting the disposition changes how *future* deaths
# are handled. (The first three must still be reaped by `waitpid`, which the worker does.)

# %%
z = classic_ipc.reaping("ignore", n=3)
print("old children, before SIG_IGN:       ", z["before"])
print("new children, after SIG_IGN:        ", z["new_children"])
print("old zombies, after SIG_IGN was set: ", z["old_zombies_after"])

# %% [markdown]
# ## §4. A receive buffer shorter than the message
#
# On a datagram socket `recv(4)` returns the first 4 bytes of the next message and **discards
# the rest** of it (recv(2): "excess bytes may be discarded depending on the type of socket";
# `recvmsg` would set `MSG_TRUNC` in `msg_flags` to tell you). On a stream
# socket nothing is lost: the next `recv()` goes on where the last stopped. (A socket pair in
# this one process is enough to see it: the kernel's rules are the same.)

# %%
for type_, label in ((socket.SOCK_DGRAM, "unix_dgram"), (socket.SOCK_STREAM, "unix_stream")):
    a, b = socket.socketpair(socket.AF_UNIX, type_)   # C: socketpair(AF_UNIX, type, 0, sv)
    with a, b:
        b.settimeout(2)                             # no recv() below waits more than 2 s
        for m in (b"one", b"two", b"three"):
            a.send(m)                               # C: send(sv[0], m, len, 0)
        a.close()                                   # a stream reader then sees end of file
        pieces = []
        for _ in range(3 if type_ == socket.SOCK_DGRAM else 10):
            piece = b.recv(4)                       # C: recv(sv[1], buf, 4, 0)
            if not piece:
                break
            pieces.append(piece)
        b.setblocking(False)
        try:
            left = b.recv(100)
        except BlockingIOError:
            left = b""
    print(f"{label:12s} recv(4) returned: {pieces}; anything left after that: {left!r}")

# %% [markdown]
# `b"three"` became `b"thre"` on the datagram socket: the `e` is gone. On the stream socket the
# 11 bytes came back in pieces of at most 4, all of them.
#
# ## §5. The SIGTERM handler with SA_RESTART
#
# The second `read()` is now restarted after the handler runs, and nobody will ever write to
# the pipe: it blocks again. The flag is set, but `main` never gets control back to look at it.
# The `alarm(5)` backstop fires: `SIGALRM` has no handler, so its default action ends the
# process. No cleanup ran in the program (the course's `%%c` removes the reserved object
# afterwards). With `--expect ok` the cell fails; the outcome is `signal=SIGALRM`. Its `printf`
# lines are lost as well: a C program's stdout into a pipe is fully buffered, and a process
# killed by a signal never flushes that buffer (`fflush(stdout)` before blocking, or
# `setvbuf(stdout, NULL, _IOLBF, 0)`, would have kept them; `perror` writes to stderr, which
# is unbuffered). This is why
# servers that must notice a stop request install that handler *without* `SA_RESTART` (or use
# `signalfd`, `ppoll` with a signal mask, or the self-pipe trick).

# %% tags=["nbval-ignore-output"]
# %%c --env SHM=posix_shm:new --expect signal=SIGALRM --timeout 15
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
    on(SIGTERM, on_term, SA_RESTART);              /* the change */
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
# Back to the notebook: [`08_pipes_fifos_signals`](../08_pipes_fifos_signals.ipynb).
